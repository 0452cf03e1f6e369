#!/usr/bin/env bats
# The public header stands alone: strict C99 and C++ compile it cleanly.

load helpers

setup() {
	tmp=$(mktemp -d)
	printf '#include <epump.h>\nint main(void) { return IOE_READ == 4 ? 0 : 1; }\n' > "$tmp/h.c"
	cp "$tmp/h.c" "$tmp/h.cc"
}

teardown() {
	rm -rf "$tmp"
}

@test "epump.h compiles as C99 -pedantic -Werror" {
	run ${CC:-cc} -std=c99 -pedantic -Wall -Wextra -Werror -I "$top_srcdir/include" -c "$tmp/h.c" -o "$tmp/h.o"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
}

@test "epump.h compiles as C11 with every warning" {
	run ${CC:-cc} -std=c11 -pedantic -Wall -Wextra -Wstrict-prototypes -Werror -I "$top_srcdir/include" -c "$tmp/h.c" -o "$tmp/h.o"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
}

@test "epump.h compiles as C++" {
	cxx=${CXX:-c++}
	command -v "$cxx" >/dev/null || skip "no C++ compiler"
	run "$cxx" -std=c++11 -pedantic -Wall -Wextra -Werror -I "$top_srcdir/include" -c "$tmp/h.cc" -o "$tmp/h.o"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
}
