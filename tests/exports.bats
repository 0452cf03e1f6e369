#!/usr/bin/env bats
# Only the public API leaves the library, under the LIBEPUMP_1 version, in
# libepump.so.1; pkg-config hands out -lepump and nothing private.

load helpers

@test "the SONAME is libepump.so.1" {
	run readelf -d "$LIBSO"
	[ "$status" -eq 0 ]
	[[ "$output" == *"Library soname: [libepump.so.1]"* ]]
}

@test "every exported symbol is public API, versioned LIBEPUMP_1" {
	run nm -D --defined-only "$LIBSO"
	[ "$status" -eq 0 ]
	bad=$(echo "$output" | awk '$2 ~ /^[TDBR]$/ { print $3 }' |
	      grep -Ev '^(dns_query|epcore_|epump_|iodev_|iotimer_|eptcp_|epudp_|epusock_|epfile_|epaddr_)' || true)
	[ -z "$bad" ] || { echo "unexpected exports: $bad"; false; }
	run objdump -T "$LIBSO"
	n_api=$(echo "$output" | grep -c 'LIBEPUMP_1 ' || true)
	[ "$n_api" -gt 30 ]
	plain=$(echo "$output" | awk '/\.text/ && !/LIBEPUMP_1/' || true)
	[ -z "$plain" ] || { echo "unversioned: $plain"; false; }
}

@test "every function declared in epump.h is exported" {
	decls=$(grep -Eo '^EPUMP_API [^(]*\b(ep[a-z_]*|iodev_[a-z_]*|iotimer_[a-z_]*)\(' "$top_srcdir/include/epump.h" |
	        grep -Eo '[a-z_]+\($' | tr -d '(' | sort -u)
	[ -n "$decls" ]
	exported=$(nm -D --defined-only "$LIBSO" | awk '{ print $3 }' | sed 's/@.*//' | sort -u)
	missing=$(comm -23 <(echo "$decls") <(echo "$exported"))
	[ -z "$missing" ] || { echo "declared, not exported: $missing"; false; }
}

@test "pkg-config gives -lepump and no private library" {
	run env PKG_CONFIG_PATH="$top_builddir" pkg-config --libs libepump
	[ "$status" -eq 0 ]
	[[ "$output" == *"-lepump"* ]]
	[[ "$output" != *"-lbsd"* ]]
	run env PKG_CONFIG_PATH="$top_builddir" pkg-config --cflags libepump
	[ "$status" -eq 0 ]
}
