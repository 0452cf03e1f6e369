#!/usr/bin/env bats
# The README's first program compiles against the built library and does
# what the README says.

load helpers

setup() {
	tmp=$(mktemp -d)
}

teardown() {
	rm -rf "$tmp"
}

@test "the README example compiles and ticks three times" {
	awk '/^```c$/ { on = 1; next } /^```$/ { if (on) exit } on' \
		"$top_srcdir/README.md" > "$tmp/tick.c"
	[ -s "$tmp/tick.c" ]
	# A sanitizer build's library needs the program built the same way.
	run ${CC:-cc} -std=c11 -Wall -Werror -pthread $EPUMP_SAN_CFLAGS \
		-I "$top_srcdir/include" \
		"$tmp/tick.c" -o "$tmp/tick" -L "$top_builddir/lib/.libs" -lepump \
		-Wl,-rpath,"$top_builddir/lib/.libs"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	run timeout 10 "$tmp/tick"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[ "$output" = "$(printf 'tick 1 (cmdid 7)\ntick 2 (cmdid 7)\ntick 3 (cmdid 7)')" ]
}
