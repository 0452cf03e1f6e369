#!/usr/bin/env bats
# make demo's script: epdemo, then httpsrv driven over loopback.

load helpers

@test "the demo runs and says all went as expected" {
	run timeout 60 bash "$top_srcdir/examples/demo.sh" "$top_builddir"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[[ "$output" == *"demo: all went as expected"* ]]
	[[ "$output" == *"httpsrv exited with status 0"* ]]
}
