#!/usr/bin/env bats
# examples/httpsrv on every backend, driven over 127.0.0.1 with bash's
# /dev/tcp: GET, pipelining, keep-alive, HTTP/1.0 and Connection: close,
# malformed requests (400), oversized heads (431), unknown paths (404);
# after each, a fresh connection must still be served and SIGTERM must
# stop the server with status 0.  Every read has a 5 s timeout.  HTTPSRV
# may name another binary.

load helpers

HTTPSRV=${HTTPSRV:-$top_builddir/examples/httpsrv}
HELLO=$'Hello from libepump\n'
export LC_ALL=C                 # read -N counts bytes

setup() {
	srv_pid=
}

teardown() {
	if [ -n "$srv_pid" ] && kill -0 "$srv_pid" 2>/dev/null; then
		kill -KILL "$srv_pid" 2>/dev/null
		wait "$srv_pid" 2>/dev/null || true
	fi
}

# ---- the server ----

alive() {
	local state
	state=$(sed 's/.*) //' "/proc/$srv_pid/stat" 2>/dev/null | cut -d' ' -f1)
	[ -n "$state" ] && [ "$state" != Z ]
}

# start_server ARGS...: run httpsrv in the background, wait for its ready
# line, which gives $port.  fd 3 is bats' own: the server must not hold it.
start_server() {
	# Made before the server starts: we read them at once.
	: >"$BATS_TEST_TMPDIR/srv.out"; : >"$BATS_TEST_TMPDIR/srv.err"
	"$HTTPSRV" "$@" >"$BATS_TEST_TMPDIR/srv.out" \
		2>"$BATS_TEST_TMPDIR/srv.err" 3>&- &
	srv_pid=$!
	port=
	for _ in $(seq 200); do     # 10 s at most
		port=$(sed -n 's/^httpsrv: listening on .*:\([0-9][0-9]*\) (.*/\1/p' \
			"$BATS_TEST_TMPDIR/srv.out")
		[ -n "$port" ] && break
		alive || break
		sleep 0.05
	done
	if [ -z "$port" ]; then
		echo "httpsrv $* did not print its ready line; stdout, stderr:"
		cat "$BATS_TEST_TMPDIR/srv.out" "$BATS_TEST_TMPDIR/srv.err"
		return 1
	fi
	ready=$(head -1 "$BATS_TEST_TMPDIR/srv.out")
	echo "$ready"
}

# SIGTERM: it must exit 0 within 10 s.
stop_server() {
	local status=0
	kill -TERM "$srv_pid"
	for _ in $(seq 100); do alive || break; sleep 0.1; done
	if alive; then
		echo "httpsrv did not stop within 10 s of SIGTERM"
		return 1
	fi
	wait "$srv_pid" || status=$?
	srv_pid=
	if [ "$status" -ne 0 ]; then
		echo "httpsrv exited with status $status after SIGTERM; stderr:"
		cat "$BATS_TEST_TMPDIR/srv.err"
		return 1
	fi
}

# ---- a client on /dev/tcp: one connection at a time, in $fd ----

conn_open() {
	alive || { echo "httpsrv is gone"; cat "$BATS_TEST_TMPDIR/srv.err"; return 1; }
	exec {fd}<>"/dev/tcp/127.0.0.1/$port"
}

conn_close() {
	exec {fd}>&-
}

# Append a request for PATH, with extra header lines, to $reqs
# (printf -v: $(...) would strip the final CRLF).
add_get() { # PATH [HEADER...]
	local path=$1 h
	shift
	printf -v h '%s\r\n' "Host: 127.0.0.1" "$@"
	reqs+="GET $path HTTP/1.1"$'\r\n'"$h"$'\r\n'
}

send() {
	printf '%s' "$1" >&"$fd"
	echo "> $(printf '%s' "$1" | tr -d '\r' | head -c 200 | tr '\n' '|')"
}

# Read one response: $code, $headers (one per line, no CR), $body.  The
# body is what Content-Length says; it must be there.
read_response() {
	local line len=0 re_status='^HTTP/1\.1 ([0-9]{3}) ' \
		re_len=$'^content-length:[ \t]*([0-9]+)[ \t]*$'
	code= headers= body=
	if ! IFS= read -r -t 5 line <&"$fd"; then
		echo "no response within 5 s (or end of file); got '$line'"
		return 1
	fi
	line=${line%$'\r'}
	[[ "$line" =~ $re_status ]] || { echo "not a status line: '$line'"; return 1; }
	code=${BASH_REMATCH[1]}
	echo "< $line"
	while :; do
		IFS= read -r -t 5 line <&"$fd" || { echo "head cut short"; return 1; }
		line=${line%$'\r'}
		[ -n "$line" ] || break
		headers+="$line"$'\n'
		[[ "${line,,}" =~ $re_len ]] && len=${BASH_REMATCH[1]}
	done
	if [ "$len" -gt 0 ]; then
		IFS= read -r -t 5 -N "$len" body <&"$fd" || true
		if [ "${#body}" -ne "$len" ]; then
			echo "body: ${#body} of $len bytes"
			return 1
		fi
	fi
}

# The server closes the connection: end of file (not a reset) within 5 s
# and no more bytes.
expect_eof() {
	local rest status=0
	rest=$(timeout 5 cat <&"$fd" 2>&1) || status=$?
	if [ "$status" -ne 0 ] || [ -n "$rest" ]; then
		echo "expected end of file; cat: status $status (124: still open after 5 s), read '$rest'"
		return 1
	fi
}

# The connection stays open: nothing to read, no end of file, for 0.3 s.
expect_open() {
	local x status=0
	IFS= read -r -t 0.3 -N 1 x <&"$fd" || status=$?
	if [ "$status" -le 128 ]; then
		echo "expected the connection to stay open; read status $status, got '$x'"
		return 1
	fi
}

expect_hello() {
	[ "$code" = 200 ] || { echo "want 200, got $code"; return 1; }
	grep -qx 'Content-Length: 20' <<<"$headers" || { echo "no Content-Length: 20"; return 1; }
	[ "$body" = "$HELLO" ] || { echo "body: '$body'"; return 1; }
}

# A fresh connection is served: GET / with Connection: close.
fresh_get() {
	reqs=
	add_get / "Connection: close"
	conn_open
	send "$reqs"
	read_response
	expect_hello
	grep -qix 'Connection: close' <<<"$headers"
	expect_eof
	conn_close
}

# ---- the cases ----

get_root() {
	reqs=
	add_get /
	conn_open
	send "$reqs"
	read_response
	expect_hello
	grep -q '^Content-Type: text/plain' <<<"$headers"
	if grep -qi '^Connection: close' <<<"$headers"; then
		echo "an HTTP/1.1 GET without Connection: close was told close"
		false
	fi
	expect_open
	conn_close
}

# N requests in one write; / and unknown paths mixed, so that the order of
# the answers shows.  Then the connection still serves.
pipelined() { # N
	local n=$1 i codes=(200 404 404 200 200 404 200 404 404 200) got=()
	reqs=
	for ((i = 0; i < n; i++)); do
		if [ "${codes[i]}" = 200 ]; then add_get /; else add_get "/missing/$i"; fi
	done
	conn_open
	send "$reqs"
	for ((i = 0; i < n; i++)); do
		read_response
		got+=("$code")
	done
	echo "want ${codes[*]:0:n}, got ${got[*]}"
	[ "${got[*]}" = "${codes[*]:0:n}" ]
	expect_open
	reqs=
	add_get / "Connection: close"
	send "$reqs"
	read_response
	expect_hello
	expect_eof
	conn_close
}

pipelined_2_and_10() {
	pipelined 2
	pipelined 10
	fresh_get
}

# Two requests in sequence on one connection; the second arrives in two
# pieces 0.2 s apart, cut in the middle of a header.
keep_alive() {
	reqs=
	add_get /
	conn_open
	send "$reqs"
	read_response
	expect_hello
	expect_open
	send $'GET / HTTP/1.1\r\nHo'
	sleep 0.2
	send $'st: 127.0.0.1\r\n\r\n'
	read_response
	expect_hello
	expect_open
	conn_close
	fresh_get
}

# HTTP/1.0 without keep-alive and HTTP/1.1 with Connection: close: the
# response, then end of file.  HTTP/1.0 with keep-alive stays open.
closing() {
	conn_open
	send $'GET / HTTP/1.0\r\n\r\n'
	read_response
	expect_hello
	expect_eof
	conn_close

	reqs=
	add_get / "Connection: close"
	conn_open
	send "$reqs"
	read_response
	expect_hello
	grep -qix 'Connection: close' <<<"$headers"
	expect_eof
	conn_close

	conn_open
	send $'GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n'
	read_response
	expect_hello
	grep -qix 'Connection: keep-alive' <<<"$headers"
	expect_open
	send $'GET / HTTP/1.0\r\n\r\n'
	read_response
	expect_hello
	expect_eof
	conn_close
	fresh_get
}

# A malformed request line: 400, then end of file; also after a good
# request in the same write (200, then 400, then end of file).
malformed() {
	local bad
	for bad in $'HELLO THERE\r\n\r\n' $'GET / HTTP/1.1 junk\r\n\r\n' \
		$'GET /\r\n\r\n' $'GET / HTTP/x.y\r\nHost: a\r\n\r\n'; do
		conn_open
		send "$bad"
		read_response
		[ "$code" = 400 ] || { echo "want 400, got $code"; false; }
		grep -qix 'Connection: close' <<<"$headers"
		expect_eof
		conn_close
	done
	reqs=
	add_get /
	conn_open
	send "$reqs"$'NONSENSE\r\n\r\n'
	read_response
	expect_hello
	read_response
	[ "$code" = 400 ] || { echo "want 400, got $code"; false; }
	expect_eof
	conn_close
	fresh_get
}

# A head over 8 KiB: 431, then end of file (one big header, then many
# small ones).  A 7 KiB head is fine.
too_large() {
	local big i
	printf -v big '%9000s' ''
	reqs=
	add_get / "X-Big: ${big// /a}"
	conn_open
	send "$reqs"
	read_response
	[ "$code" = 431 ] || { echo "want 431, got $code"; false; }
	expect_eof
	conn_close

	reqs=
	add_get / $(for ((i = 0; i < 300; i++)); do printf 'X-Small-%03d:%030d ' "$i" 0; done)
	[ "${#reqs}" -gt 12000 ]
	conn_open
	send "$reqs"
	read_response
	[ "$code" = 431 ] || { echo "want 431, got $code"; false; }
	expect_eof
	conn_close

	printf -v big '%7000s' ''
	reqs=
	add_get / "X-Big: ${big// /a}"
	conn_open
	send "$reqs"
	read_response
	expect_hello
	conn_close
	fresh_get
}

# An unknown path: 404 with its body; the connection goes on.
not_found() {
	reqs=
	add_get /no/such/thing
	conn_open
	send "$reqs"
	read_response
	[ "$code" = 404 ] || { echo "want 404, got $code"; false; }
	grep -qx 'Content-Length: 10' <<<"$headers"
	[ "$body" = $'Not found\n' ]
	expect_open
	reqs=
	add_get /
	send "$reqs"
	read_response
	expect_hello
	conn_close
	fresh_get
}

# More threads, workers and mlisten: the basics still hold.
threads() {
	[[ "$ready" == *", 2 epump threads, 2 workers)" ]]
	get_root
	pipelined 10
	malformed
}

backend_test() { # backend what [httpsrv options]
	local backend=$1 what=$2
	shift 2
	start_server -p 0 -b "$backend" "$@"
	[[ "$ready" == *"(backend $backend, "* ]]
	"$what"
	fresh_get
	stop_server
}

@test "http epoll: GET / gives 200, the body and its Content-Length" { backend_test epoll get_root; }
@test "http poll: GET / gives 200, the body and its Content-Length" { backend_test poll get_root; }
@test "http select: GET / gives 200, the body and its Content-Length" { backend_test select get_root; }

@test "http epoll: 2 and 10 pipelined GETs, answered in order" { backend_test epoll pipelined_2_and_10; }
@test "http poll: 2 and 10 pipelined GETs, answered in order" { backend_test poll pipelined_2_and_10; }
@test "http select: 2 and 10 pipelined GETs, answered in order" { backend_test select pipelined_2_and_10; }

@test "http epoll: keep-alive: two requests in sequence on one connection" { backend_test epoll keep_alive; }
@test "http poll: keep-alive: two requests in sequence on one connection" { backend_test poll keep_alive; }
@test "http select: keep-alive: two requests in sequence on one connection" { backend_test select keep_alive; }

@test "http epoll: HTTP/1.0 and Connection: close get the response, then EOF" { backend_test epoll closing; }
@test "http poll: HTTP/1.0 and Connection: close get the response, then EOF" { backend_test poll closing; }
@test "http select: HTTP/1.0 and Connection: close get the response, then EOF" { backend_test select closing; }

@test "http epoll: a malformed request gets 400, then EOF" { backend_test epoll malformed; }
@test "http poll: a malformed request gets 400, then EOF" { backend_test poll malformed; }
@test "http select: a malformed request gets 400, then EOF" { backend_test select malformed; }

@test "http epoll: a head over 8 KiB gets 431, then EOF" { backend_test epoll too_large; }
@test "http poll: a head over 8 KiB gets 431, then EOF" { backend_test poll too_large; }
@test "http select: a head over 8 KiB gets 431, then EOF" { backend_test select too_large; }

@test "http epoll: an unknown path gets 404" { backend_test epoll not_found; }
@test "http poll: an unknown path gets 404" { backend_test poll not_found; }
@test "http select: an unknown path gets 404" { backend_test select not_found; }

@test "http epoll: -t 2 -w 2 -m: GET, pipelining, 400" { backend_test epoll threads -t 2 -w 2 -m; }
@test "http poll: -t 2 -w 2 -m: GET, pipelining, 400" { backend_test poll threads -t 2 -w 2 -m; }
@test "http select: -t 2 -w 2 -m: GET, pipelining, 400" { backend_test select threads -t 2 -w 2 -m; }
