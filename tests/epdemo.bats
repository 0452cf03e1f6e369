#!/usr/bin/env bats
# make demo's program: timers, user events and a device, on every backend.

load helpers

run_demo() {
	run env EPUMP_BACKEND="$1" timeout 20 "$top_builddir/examples/epdemo"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[[ "$output" == *"backend $1, 2 epump threads, 2 workers"* ]]
	[ "$(echo "$output" | grep -c 'timer: tick')" -eq 5 ]
	[[ "$output" == *"never fires"* ]]
	[[ "$output" == *"ENOENT, as documented"* ]]
	[[ "$output" != *"should not happen"* ]]
	[[ "$output" == *'read 4 bytes: "ping"'* ]]
	[[ "$output" == *"user event 1 from main"* ]]
	[[ "$output" == *"user event 2 from main"* ]]
	[[ "$output" == *"user event 3 from main"* ]]
	[[ "$output" == *"400 ms are up"* ]]
	[ "$(echo "$output" | tail -1 | awk '{ print $3 }')" = done ]
}

@test "epdemo runs on epoll" { run_demo epoll; }
@test "epdemo runs on poll" { run_demo poll; }
@test "epdemo runs on select" { run_demo select; }
