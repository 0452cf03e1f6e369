#!/usr/bin/env bats
# The parsers that tests/fuzz fuzzes, through the programs that use them,
# in every build (not only a fuzzing one): inputs the fuzzers found or
# that pin what was factored out (tests/fuzz/README.md).  Loopback and a
# private unix socket only; every client is bounded by `timeout'.

load ../helpers

EPBENCH=${EPBENCH:-$top_builddir/tools/epbench/epbench}
HTTPSRV=${HTTPSRV:-$top_builddir/examples/httpsrv}

setup() {
	srv_pid=
}

teardown() {
	if [ -n "$srv_pid" ] && kill -0 "$srv_pid" 2>/dev/null; then
		kill -TERM "$srv_pid" 2>/dev/null
		wait "$srv_pid" 2>/dev/null || true
	fi
}

# httpsrv on 127.0.0.1, an ephemeral port ($port), its stats socket at
# $sock.
start_httpsrv() {
	local out="$BATS_TEST_TMPDIR/httpsrv.out"
	sock="$BATS_TEST_TMPDIR/s.sock"
	: >"$out"
	EPUMP_STATS=1 EPUMP_STATS_SOCKET="$sock" "$HTTPSRV" -a 127.0.0.1 \
		-p 0 >"$out" 2>"$BATS_TEST_TMPDIR/httpsrv.err" 3>&- &
	srv_pid=$!
	port=
	for _ in $(seq 200); do
		port=$(sed -n 's/^httpsrv: listening on .*:\([0-9][0-9]*\) (.*/\1/p' "$out")
		[ -n "$port" ] && [ -S "$sock" ] && break
		kill -0 "$srv_pid" 2>/dev/null || break
		sleep 0.05
	done
	[ -n "$port" ] && [ -S "$sock" ] ||
		{ cat "$out" "$BATS_TEST_TMPDIR/httpsrv.err"; return 1; }
}

@test "epbench: a NaN duration is refused, not cast (fuzz_args found it)" {
	# (uint64_t)NaN is undefined; it used to give a run of ~2^63 ms.
	for opt in -d --warmup --timeout; do
		for v in nan -nan NaNms; do
			run timeout 10 "$EPBENCH" -q "$opt" "$v" http://127.0.0.1:9/
			[ "$status" -eq 64 ] || { echo "$opt $v: $status $output"; false; }
			[[ "$output" == *"invalid "*"'$v'"* ]] || { echo "$output"; false; }
		done
	done
	run timeout 10 "$EPBENCH" -q -d inf http://127.0.0.1:9/
	[ "$status" -eq 64 ]
}

@test "stats socket: blanks, tabs and CR around a command are ignored" {
	command -v socat >/dev/null || skip "needs socat"
	start_httpsrv
	run timeout 10 socat -t 2 - "UNIX-CONNECT:$sock" \
		< <(printf ' \t show info \t\r\nhelp\r\n  quit  \n')
	[ "$status" -eq 0 ] || { echo "status $status: $output"; false; }
	[[ "${lines[0]}" == "EPUMP-STATS/1 pid=$srv_pid "* ]]
	[[ "$output" == *$'epump_pid\tgauge\t-\t'"$srv_pid"* ]]
	[[ "$output" == *$'help\tinfo\t-\tshow all'* ]]
	[[ "$output" != *"ERR "* ]] || { echo "$output"; false; }
}

@test "httpsrv: pipelined heads, empty lines between, answered in order" {
	start_httpsrv
	run timeout 10 bash -c '
		exec 3<>/dev/tcp/127.0.0.1/'"$port"'
		printf "\r\nGET / HTTP/1.1\r\n\r\n\nHEAD /?x HTTP/1.1\nHost: a\n\nPUT / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\nGET /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/2.0\r\n\r\nGET / HTTP/1.1\r\n\r\n" >&3
		cat <&3'
	[ "$status" -eq 0 ] || { echo "status $status: $output"; false; }
	run grep -o '^HTTP/1.1 [0-9]*' <<<"$output"
	[ "${lines[*]}" = "HTTP/1.1 200 HTTP/1.1 200 HTTP/1.1 405 HTTP/1.1 200 HTTP/1.1 404 HTTP/1.1 505" ] ||
		{ echo "${lines[*]}"; false; }
}
