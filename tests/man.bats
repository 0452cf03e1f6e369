#!/usr/bin/env bats
# The manual: every page under man/ is clean for `mandoc -Tlint -Wwarning`
# (no output at all), every function libepump.so exports is named in the
# NAME section of a section 3 page (install makes man3/NAME.3 a link to
# it, so `man 3 NAME` works), nothing documented is missing from the
# library, and an install really creates the links.

load helpers

setup() {
	MANDIR="$top_srcdir/man"
}

# The names a page declares in its NAME section (.Nm lines).
nm_names() {
	awk '/^\.Sh / { in_name = ($2 == "NAME"); next }
	     in_name && /^\.Nm / { print $2 }' "$1"
}

all_pages() {
	find "$MANDIR" -type f -name '*.[1-9]' | sort
}

exported() {
	nm -D --defined-only "$LIBSO" |
	    awk '$2 == "T" { sub(/@.*/, "", $3); print $3 }' | sort -u
}

documented() {
	for p in "$MANDIR"/man3/*.3; do nm_names "$p"; done | sort -u
}

@test "every page is clean for mandoc -Tlint -Wwarning" {
	command -v mandoc >/dev/null || skip "mandoc is not installed"
	run mandoc -Tlint -Wwarning $(all_pages)
	[ -z "$output" ] || { echo "$output"; false; }
	[ "$status" -eq 0 ]
}

@test "every exported function is named by a section 3 page" {
	missing=$(comm -23 <(exported) <(documented))
	[ -z "$missing" ] || { echo "exported, undocumented: $missing"; false; }
}

@test "every function a section 3 page names is exported" {
	extra=$(comm -13 <(exported) <(documented))
	[ -z "$extra" ] || { echo "documented, not exported: $extra"; false; }
}

@test "make install links man3/NAME.3 to its group page" {
	dest=$(mktemp -d)
	run make -C "$top_builddir" install-data DESTDIR="$dest"
	[ "$status" -eq 0 ] || { echo "$output"; rm -rf "$dest"; false; }
	man3=$(find "$dest" -type d -name man3)
	ok=1
	for f in $(exported); do
		[ -e "$man3/$f.3" ] || { echo "no $f.3"; ok=0; }
	done
	[ "$(readlink "$man3/iotimer_start.3")" = iotimer.3 ] || ok=0
	rm -rf "$dest"
	[ "$ok" = 1 ]
}
