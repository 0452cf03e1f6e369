#!/usr/bin/env bats
# tools/epbench/epbench against examples/httpsrv and examples/echosrv and
# the stubs tests/tools/epb_udpecho and epb_stub (reset, garbage, unix
# sockets): exact -n, rate within 5%, errors by cause, JSON and merge,
# echo, UDP, unix, bad input.  Loopback only; every run is bounded by
# `timeout'.  EPBENCH, HTTPSRV, ECHOSRV and EPB_TOOLS may name others.

load helpers

EPBENCH=${EPBENCH:-$top_builddir/tools/epbench/epbench}
HTTPSRV=${HTTPSRV:-$top_builddir/examples/httpsrv}
ECHOSRV=${ECHOSRV:-$top_builddir/examples/echosrv}
EPB_TOOLS=${EPB_TOOLS:-$top_builddir/tests/tools}

setup() {
	srv_pid=
	[ -x "$EPBENCH" ] || { echo "no $EPBENCH"; false; }
}

teardown() {
	if [ -n "$srv_pid" ] && kill -0 "$srv_pid" 2>/dev/null; then
		kill -KILL "$srv_pid" 2>/dev/null
		wait "$srv_pid" 2>/dev/null || true
	fi
}

# start PROGRAM ARGS...: run a server in the background, wait for its
# "NAME: listening on ADDR:PORT ..." line (at most 10 s); sets $port.
start() {
	local out="$BATS_TEST_TMPDIR/srv.out"
	: >"$out"
	"$@" >"$out" 2>"$BATS_TEST_TMPDIR/srv.err" 3>&- &
	srv_pid=$!
	port=
	for _ in $(seq 200); do
		grep -q 'listening on' "$out" && break
		kill -0 "$srv_pid" 2>/dev/null || break
		sleep 0.05
	done
	grep -q 'listening on' "$out" || { cat "$out" "$BATS_TEST_TMPDIR/srv.err"; return 1; }
	port=$(sed -n 's/.*listening on .*:\([0-9][0-9]*\)\( .*\)\{0,1\}$/\1/p' "$out" | head -1)
}

# A figure of a JSON file: jget FILE EXPR (python, d is the document).
jget() {
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# eb ARGS...: epbench, bounded in time, quiet.
eb() {
	timeout 30 "$EPBENCH" -q "$@"
}

@test "--help, --version and usage errors" {
	run "$EPBENCH" --version
	[ "$status" -eq 0 ] && [ "$output" = "epbench 1.0.0" ]
	run "$EPBENCH" --help
	[ "$status" -eq 0 ] && [[ "$output" == *--rate* ]]
	run "$EPBENCH" --bogus http://127.0.0.1:1/
	[ "$status" -eq 64 ] && [[ "$output" == epbench:* ]]
	run "$EPBENCH"
	[ "$status" -eq 64 ]
}

@test "bad URLs, host names, zero connections, rate below threads: exit 64" {
	for u in http://example.com/ ftp://x tcp://127.0.0.1 'http://[::1/' \
	    http://127.0.0.1:99999/ 'unix:'; do
		run eb -d 1 "$u"
		echo "$u: $status $output"
		[ "$status" -eq 64 ]
	done
	run eb -d 1 http://example.com/
	[[ "$output" == *"not an IP address"* ]]
	run eb -c 0 http://127.0.0.1:1/
	[ "$status" -eq 64 ]
	run eb -R 1 -t 2 -c 2 http://127.0.0.1:1/
	[ "$status" -eq 64 ] && [[ "$output" == *"below the thread count"* ]]
	run eb -d 1x http://127.0.0.1:1/
	[ "$status" -eq 64 ]
}

@test "-n gives exactly that many requests (http, pipelined, 2 threads)" {
	start "$HTTPSRV" -p 0
	run eb -n 2345 -c 7 -t 2 --json "$BATS_TEST_TMPDIR/r.json" \
		"http://127.0.0.1:$port/"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(jget "$BATS_TEST_TMPDIR/r.json" "d['requests']")" -eq 2345 ]
	[ "$(jget "$BATS_TEST_TMPDIR/r.json" "d['status']['200']")" -eq 2345 ]
	[ "$(jget "$BATS_TEST_TMPDIR/r.json" "d['histogram']['count']")" -eq 2345 ]
	run eb -n 1000 -c 3 -p 8 --json "$BATS_TEST_TMPDIR/p.json" \
		"http://localhost:$port/"
	[ "$status" -eq 0 ]
	[ "$(jget "$BATS_TEST_TMPDIR/p.json" "d['requests']")" -eq 1000 ]
	[ "$(jget "$BATS_TEST_TMPDIR/p.json" "d['errors_total']")" -eq 0 ]
}

@test "non-2xx answers are counted as errors by status" {
	start "$HTTPSRV" -p 0
	run eb -n 50 -c 2 --json "$BATS_TEST_TMPDIR/r.json" \
		-H 'X-Test: 1' "http://127.0.0.1:$port/nothere"
	[ "$status" -eq 0 ]
	[ "$(jget "$BATS_TEST_TMPDIR/r.json" "d['errors']['status_404']")" -eq 50 ]
}

@test "IPv6 literal" {
	[ -n "$(ip -6 addr show lo 2>/dev/null)" ] || skip "no IPv6 on lo"
	start "$HTTPSRV" -p 0 -a ::1
	run eb -n 100 -c 2 "http://[::1]:$port/"
	echo "$output"
	[ "$status" -eq 0 ] && [[ "$output" == *"requests:    100 "* ]]
}

@test "open loop: -R 2000 for 3 s is within 5%" {
	start "$HTTPSRV" -p 0
	run eb -R 2000 -d 3 -c 10 --json "$BATS_TEST_TMPDIR/r.json" \
		"http://127.0.0.1:$port/"
	echo "$output"
	[ "$status" -eq 0 ]
	jget "$BATS_TEST_TMPDIR/r.json" \
		"1 if 1900 <= d['requests_per_sec'] <= 2100 else sys.exit(1)"
}

@test "nothing listening: connect errors by errno, exit 69, no hang" {
	# Find a free port: bind, read it, close.
	p=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	run eb -d 5 -c 4 --json "$BATS_TEST_TMPDIR/r.json" "http://127.0.0.1:$p/"
	echo "$output"
	[ "$status" -eq 69 ]
	[[ "$output" == *connect_ECONNREFUSED* ]]
	[ "$(jget "$BATS_TEST_TMPDIR/r.json" "d['connections_established']")" -eq 0 ]
	run eb -n 10 -c 2 "tcp://127.0.0.1:$p"
	[ "$status" -eq 69 ]
}

@test "a server that resets: read errors counted" {
	start "$EPB_TOOLS/epb_stub" rst
	run eb -d 1 -c 2 --json "$BATS_TEST_TMPDIR/r.json" "http://127.0.0.1:$port/"
	echo "$output"
	[ "$status" -eq 0 ]
	jget "$BATS_TEST_TMPDIR/r.json" \
		"1 if d['errors'].get('read_ECONNRESET', 0) + d['errors'].get('read_eof', 0) > 0 else sys.exit(1)"
	[ "$(jget "$BATS_TEST_TMPDIR/r.json" "d['requests']")" -eq 0 ]
}

@test "a server that answers garbage: protocol errors, reconnects" {
	start "$EPB_TOOLS/epb_stub" garbage
	run eb -n 200 -c 2 --json "$BATS_TEST_TMPDIR/r.json" "http://127.0.0.1:$port/"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(jget "$BATS_TEST_TMPDIR/r.json" "d['errors']['protocol']")" -ge 100 ]
	[ "$(jget "$BATS_TEST_TMPDIR/r.json" "d['requests_failed']")" -eq 200 ]
	[ "$(jget "$BATS_TEST_TMPDIR/r.json" "d['connects']")" -gt 2 ]
}

@test "JSON parses; merge of two runs equals their sums" {
	start "$HTTPSRV" -p 0
	eb -n 700 -c 3 --json "$BATS_TEST_TMPDIR/a.json" "http://127.0.0.1:$port/" >/dev/null
	eb -d 1 -c 2 --json - "http://127.0.0.1:$port/" >"$BATS_TEST_TMPDIR/b.json" 2>/dev/null
	python3 -m json.tool "$BATS_TEST_TMPDIR/a.json" >/dev/null
	python3 -m json.tool "$BATS_TEST_TMPDIR/b.json" >/dev/null
	"$EPBENCH" merge "$BATS_TEST_TMPDIR/a.json" "$BATS_TEST_TMPDIR/b.json" \
		>"$BATS_TEST_TMPDIR/m.json"
	python3 - "$BATS_TEST_TMPDIR" <<'PY'
import json, sys, collections
t = sys.argv[1]
a, b, m = (json.load(open(f"{t}/{x}.json")) for x in "abm")
for k in ("requests", "requests_failed", "bytes", "bytes_sent",
          "errors_total", "connections", "connections_established"):
    assert m[k] == a[k] + b[k], k
h = collections.Counter()
for d in (a, b):
    for v, c in d["histogram"]["buckets"]:
        h[v] += c
assert dict(h) == {v: c for v, c in m["histogram"]["buckets"]}
assert m["histogram"]["count"] == a["histogram"]["count"] + b["histogram"]["count"]
assert m["latency_us"]["max"] == max(a["latency_us"]["max"], b["latency_us"]["max"])
assert m["latency_us"]["p50"] <= m["latency_us"]["p99"] <= m["latency_us"]["max"]
assert m["duration_s"] == max(a["duration_s"], b["duration_s"])
PY
	run "$EPBENCH" merge "$BATS_TEST_TMPDIR/nope.json"
	[ "$status" -eq 66 ]
	echo '{"x": 1}' >"$BATS_TEST_TMPDIR/bad.json"
	run "$EPBENCH" merge "$BATS_TEST_TMPDIR/bad.json"
	[ "$status" -eq 65 ]
}

@test "TCP echo: requests and bytes" {
	start "$ECHOSRV" -p 0
	run eb -n 3000 -c 4 -s 1k --json "$BATS_TEST_TMPDIR/r.json" "tcp://127.0.0.1:$port"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(jget "$BATS_TEST_TMPDIR/r.json" "d['requests']")" -eq 3000 ]
	[ "$(jget "$BATS_TEST_TMPDIR/r.json" "d['bytes']")" -eq $((3000 * 1024)) ]
}

@test "UDP echo" {
	start "$EPB_TOOLS/epb_udpecho"
	run eb -n 2000 -c 4 -s 100 --json "$BATS_TEST_TMPDIR/r.json" "udp://127.0.0.1:$port"
	echo "$output"
	[ "$status" -eq 0 ]
	jget "$BATS_TEST_TMPDIR/r.json" \
		"1 if d['requests'] + d['requests_failed'] == 2000 and d['requests'] >= 1900 else sys.exit(1)"
}

@test "unix socket: echo and HTTP" {
	sock="$BATS_TEST_TMPDIR/e.sock"
	start "$EPB_TOOLS/epb_stub" unix "$sock"
	run eb -n 1500 -c 3 "unix:$sock"
	echo "$output"
	[ "$status" -eq 0 ] && [[ "$output" == *"requests:    1500 "* ]]
	kill "$srv_pid"; wait "$srv_pid" 2>/dev/null || true
	start "$EPB_TOOLS/epb_stub" unixhttp "$sock"
	run eb -n 800 -c 2 -p 4 "unix:$sock:http/x"
	echo "$output"
	[ "$status" -eq 0 ] && [[ "$output" == *"status:      200 800"* ]]
}

@test "no progress line when stdout is not a terminal" {
	start "$HTTPSRV" -p 0
	timeout 30 "$EPBENCH" -d 1.5 -c 2 "http://127.0.0.1:$port/" >"$BATS_TEST_TMPDIR/out"
	! grep -q $'\r' "$BATS_TEST_TMPDIR/out"
	command -v script >/dev/null || skip "no script(1)"
	timeout 30 script -qc "$EPBENCH -d 2.5 -c 2 http://127.0.0.1:$port/" /dev/null \
		>"$BATS_TEST_TMPDIR/tty"
	grep -q 'req/s' "$BATS_TEST_TMPDIR/tty"
}
