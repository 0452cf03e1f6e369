#!/bin/bash
# demo.sh - what `make demo` runs: examples/epdemo, then examples/httpsrv
# driven by a small client written with bash's /dev/tcp: a plain GET, two
# pipelined GETs on one connection, and a malformed request; then two
# seconds of load from epbench, and epstat's view of the running server.
# Exits non-zero if anything went wrong.
#
#   demo.sh [BUILDDIR]      (default: the directory above this script)

# make runs us with $(SHELL), which may be sh: /dev/tcp needs bash.
if [ -z "$BASH_VERSION" ]; then
	exec bash "$0" "$@"
fi
set -u

builddir=${1:-$(dirname "$0")/..}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/epump-demo.XXXXXX") || exit 1
srv_pid=
failed=0

cleanup() {
	if [ -n "$srv_pid" ]; then
		kill -TERM "$srv_pid" 2>/dev/null
		wait "$srv_pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
	echo "demo: FAILED: $*" >&2
	failed=1
}

# Show a message with a prefix on each line; CRs are dropped for the eye.
show() { # prefix text
	printf '%s' "$2" | tr -d '\r' | sed "s/^/    $1 /"
	[ -z "$2" ] || [ "${2: -1}" = $'\n' ] || echo
}

# Send a request on a new connection and read until the server closes it
# (every exchange below ends with a close), for at most 5 seconds.
# Sets $reply.
exchange() { # title request
	local fd
	echo
	echo "-- $1"
	show '>' "$2"
	if ! exec {fd}<>"/dev/tcp/127.0.0.1/$port"; then
		fail "$1: cannot connect to port $port"
		reply=
		return
	fi
	printf '%s' "$2" >&"$fd"
	reply=$(timeout 5 cat <&"$fd"; echo x)
	reply=${reply%x}
	exec {fd}>&-
	show '<' "$reply"
}

echo "== examples/epdemo: timers and user events on 2 epump threads and 2 workers"
"$builddir/examples/epdemo" || fail "epdemo exited with status $?"

echo
echo "== examples/httpsrv: keep-alive, pipelining and errors over loopback"
# With its statistics socket on, so that epstat can look inside it.
EPUMP_STATS=1 EPUMP_STATS_SOCKET="$tmp/httpsrv.sock" \
	"$builddir/examples/httpsrv" -a 127.0.0.1 -p 0 >"$tmp/out" 2>"$tmp/err" &
srv_pid=$!
for _ in $(seq 100); do      # its ready line tells the port (5 s at most)
	grep -q 'listening on' "$tmp/out" 2>/dev/null && break
	kill -0 "$srv_pid" 2>/dev/null || break
	sleep 0.05
done
ready=$(grep 'listening on' "$tmp/out")
port=$(sed -n 's/.*listening on .*:\([0-9][0-9]*\) (.*/\1/p' "$tmp/out")
if [ -z "$port" ]; then
	fail "httpsrv did not say it was ready"
	cat "$tmp/err" >&2
	exit 1
fi
echo "$ready"

crlf=$'\r\n'
exchange "a plain GET (the client asks the server to close afterwards)" \
	"GET / HTTP/1.1${crlf}Host: localhost${crlf}Connection: close${crlf}${crlf}"
[[ $reply == "HTTP/1.1 200 OK"*"Content-Length: 20"*"Hello from libepump"* ]] ||
	fail "plain GET: no 200 with the greeting"

exchange "two pipelined GETs on one connection, sent in one write" \
	"GET / HTTP/1.1${crlf}Host: localhost${crlf}${crlf}GET /nope HTTP/1.1${crlf}Host: localhost${crlf}Connection: close${crlf}${crlf}"
[[ $reply == "HTTP/1.1 200 OK"*"Hello from libepump"*"HTTP/1.1 404 Not Found"* ]] ||
	fail "pipelined GETs: not a 200 then a 404"

exchange "a malformed request (the server answers 400 and closes)" \
	"HELLO THERE${crlf}${crlf}"
[[ $reply == "HTTP/1.1 400 Bad Request"*"Connection: close"* ]] ||
	fail "malformed request: no 400"

echo
echo "== epbench: 2 seconds of load on httpsrv (10 connections, keep-alive)"
"$builddir/tools/epbench/epbench" -t 1 -c 10 -d 2s "http://127.0.0.1:$port/" |
	sed 's/^/    /'
[ "${PIPESTATUS[0]}" -eq 0 ] || fail "epbench exited with status ${PIPESTATUS[0]}"

echo
echo "== epstat: a look inside the running httpsrv (one keep-alive connection open)"
exec {keep}<>"/dev/tcp/127.0.0.1/$port"
printf 'GET / HTTP/1.1\r\nHost: localhost\r\n\r\n' >&"$keep"
sleep 0.2
for view in "" threads fds; do
	echo
	echo "-- epstat -s httpsrv.sock $view"
	# shellcheck disable=SC2086
	"$builddir/tools/epstat" -s "$tmp/httpsrv.sock" $view | sed 's/^/    /'
	[ "${PIPESTATUS[0]}" -eq 0 ] || fail "epstat $view exited with status ${PIPESTATUS[0]}"
done
exec {keep}>&-

echo
echo "-- stopping httpsrv with SIGTERM"
kill -TERM "$srv_pid"
wait "$srv_pid"
status=$?
srv_pid=
sed 's/^/    /' "$tmp/err"
echo "httpsrv exited with status $status"
[ "$status" -eq 0 ] || fail "httpsrv exited with status $status"

echo
if [ "$failed" -ne 0 ]; then
	echo "demo: something went wrong (see above)"
	exit 1
fi
echo "demo: all went as expected"
