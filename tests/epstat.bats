#!/usr/bin/env bats
# epstat(1) against live libepump processes -- examples/httpsrv run with
# EPUMP_STATS=1 and tests/tools/stuck -- and against fake servers: the
# list, the summary and every view, --json, -o prometheus, --watch, stuck
# threads, the socket's modes and who may connect, what the server does
# with garbage, oversized lines and a 17th client, and the exit codes.
# Raw protocol clients and fake servers use socat, else python3; without
# either those tests are skipped.  Every wait is bounded; servers are
# killed in teardown.  EPSTAT, STUCK and HTTPSRV may name other binaries.

load helpers

EPSTAT=${EPSTAT:-$top_builddir/tools/epstat}
STUCK=${STUCK:-$top_builddir/tests/tools/stuck}
HTTPSRV=${HTTPSRV:-$top_builddir/examples/httpsrv}

setup() {
	bg_pids=()
	fake_pgids=()
	srv_pid=
	tmp_dirs=()
	# A socket directory of our own: the servers make their sockets in
	# it, epstat looks in it, and no other process shows up in the list.
	export XDG_RUNTIME_DIR="$BATS_TEST_TMPDIR/xdg"
	mkdir -m 0700 "$XDG_RUNTIME_DIR"
	unset EPUMP_STATS EPUMP_STATS_SOCKET NO_COLOR
}

teardown() {
	local p
	for p in "${bg_pids[@]}" $srv_pid; do
		kill -TERM "$p" 2>/dev/null || true
	done
	# a server gets 2 s to go (and take its socket with it), then KILL
	for _ in $(seq 20); do
		[ -n "$srv_pid" ] && alive "$srv_pid" || break
		sleep 0.1
	done
	for p in "${bg_pids[@]}" $srv_pid; do
		{ kill -KILL "$p"; wait "$p"; } 2>/dev/null || true
	done
	for p in "${fake_pgids[@]}"; do
		{ kill -KILL -- "-$p"; wait "$p"; } 2>/dev/null || true
	done
	for p in "${tmp_dirs[@]}"; do
		rm -rf "$p"
	done
}

# ---- helpers ----

alive() { # PID
	local state
	state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
	[ -n "$state" ] && [ "$state" != Z ]
}

# epstat ARGS...: run epstat, 10 s at most.
epstat() {
	run timeout 10 "$EPSTAT" "$@"
}

# The stats socket of a pid, once it exists (10 s at most).
wait_socket() { # PID
	local s
	for _ in $(seq 200); do
		for s in "$XDG_RUNTIME_DIR"/epump/*."$1".sock; do
			[ -S "$s" ] && { echo "$s"; return 0; }
		done
		alive "$1" || break
		sleep 0.05
	done
	echo "no stats socket for pid $1 in $XDG_RUNTIME_DIR/epump:" >&2
	ls -la "$XDG_RUNTIME_DIR/epump" >&2 || true
	return 1
}

# httpsrv with the stats socket, 2 epump threads and 2 workers: $srv_pid,
# $port and $sock.  fd 3 is bats' own: the server must not hold it.
start_httpsrv() {
	local out="$BATS_TEST_TMPDIR/httpsrv.out"
	: >"$out"
	EPUMP_STATS=1 "$HTTPSRV" -a 127.0.0.1 -p 0 -t 2 -w 2 "$@" >"$out" \
		2>"$BATS_TEST_TMPDIR/httpsrv.err" 3>&- &
	srv_pid=$!
	port=
	for _ in $(seq 200); do
		port=$(sed -n 's/^httpsrv: listening on .*:\([0-9][0-9]*\) (.*/\1/p' "$out")
		[ -n "$port" ] && break
		alive "$srv_pid" || break
		sleep 0.05
	done
	if [ -z "$port" ]; then
		echo "httpsrv did not start:"; cat "$out" "$BATS_TEST_TMPDIR/httpsrv.err"
		return 1
	fi
	sock=$(wait_socket "$srv_pid")
}

# httpsrv with its socket at PATH (EPUMP_STATS_SOCKET).
start_httpsrv_at() { # PATH
	local out="$BATS_TEST_TMPDIR/httpsrv2.out"
	: >"$out"
	EPUMP_STATS=1 EPUMP_STATS_SOCKET="$1" "$HTTPSRV" -a 127.0.0.1 -p 0 \
		>"$out" 2>"$BATS_TEST_TMPDIR/httpsrv2.err" 3>&- &
	srv_pid=$!
	for _ in $(seq 200); do
		[ -S "$1" ] && return 0
		alive "$srv_pid" || break
		sleep 0.05
	done
	echo "no socket at $1:"; cat "$out" "$BATS_TEST_TMPDIR/httpsrv2.err"
	return 1
}

# A few requests, so that counters move.
http_get() { # N
	local fd line i
	exec {fd}<>"/dev/tcp/127.0.0.1/$port"
	for ((i = 0; i < $1; i++)); do
		printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' >&"$fd"
		while IFS= read -r -t 5 line <&"$fd"; do
			[[ "$line" == "Hello from libepump"* ]] && break
		done
	done
	exec {fd}>&-
}

# tests/tools/stuck with 2 epump threads and 2 workers: $srv_pid, $sock.
start_stuck() {
	local out="$BATS_TEST_TMPDIR/stuck.out"
	: >"$out"
	"$STUCK" -t 2 -w 2 -s 30 "$@" >"$out" 2>"$BATS_TEST_TMPDIR/stuck.err" 3>&- &
	srv_pid=$!
	for _ in $(seq 200); do
		grep -q '^stuck: ready' "$out" && break
		alive "$srv_pid" || break
		sleep 0.05
	done
	grep -q "^stuck: ready $srv_pid\$" "$out" || {
		echo "stuck did not start:"; cat "$out" "$BATS_TEST_TMPDIR/stuck.err"
		return 1
	}
	sock=$(wait_socket "$srv_pid")
}

# SIGTERM: the server must exit 0 within 10 s.
stop_server() {
	local status=0
	kill -TERM "$srv_pid"
	for _ in $(seq 100); do alive "$srv_pid" || break; sleep 0.1; done
	if alive "$srv_pid"; then
		echo "pid $srv_pid did not stop within 10 s of SIGTERM"
		return 1
	fi
	wait "$srv_pid" || status=$?
	srv_pid=
	[ "$status" -eq 0 ] || { echo "exit status $status after SIGTERM"; return 1; }
}

need_raw_client() {
	command -v socat >/dev/null || command -v python3 >/dev/null ||
		skip "needs socat or python3 to talk to a unix socket"
}

# usock SOCK SECS < INPUT: connect, send INPUT, keep our side open and
# print what the server sends until it closes the connection (status 0)
# or SECS pass (status 124).
usock() {
	local sock=$1 secs=$2
	if command -v socat >/dev/null; then
		timeout "$secs" socat -t 0.2 - "UNIX-CONNECT:$sock" \
			< <(exec 3>&-; cat; sleep "$secs")
	else
		python3 -c '
import select, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(sys.stdin.buffer.read())
end = time.time() + float(sys.argv[2])
while True:
    r, _, _ = select.select([s], [], [], max(0, end - time.time()))
    if not r:
        sys.exit(124)
    d = s.recv(65536)
    if not d:
        break
    sys.stdout.buffer.write(d)
    sys.stdout.flush()
' "$sock" "$secs"
	fi
}

# fake_server PATH SCRIPT: a server at PATH that runs the shell SCRIPT
# for each client, its stdin and stdout the connection.  The script goes
# in a file: socat would take its backslashes, colons and commas.
fake_server() {
	local path=$1
	printf '%s\n' "$2" >"$path.sh"
	# its own process group (setsid), so teardown ends its children too
	if command -v socat >/dev/null; then
		setsid socat "UNIX-LISTEN:$path,fork" "SYSTEM:sh $path.sh" \
			3>&- 2>/dev/null &
	else
		setsid python3 -c '
import os, socket, subprocess, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(8)
while True:
    c, _ = s.accept()
    subprocess.Popen(["sh", sys.argv[2]], stdin=c, stdout=c)
    c.close()
' "$path" "$path.sh" 3>&- &
	fi
	fake_pgids+=($!)
	for _ in $(seq 100); do [ -S "$path" ] && return 0; sleep 0.05; done
	echo "the fake server at $path did not start"
	return 1
}

# json_ok: stdin is one valid JSON document (python3, else jq, else skip).
json_ok() {
	if command -v python3 >/dev/null; then
		python3 -m json.tool >/dev/null
	elif command -v jq >/dev/null; then
		jq -e . >/dev/null
	else
		cat >/dev/null
		skip "neither python3 nor jq: the JSON is not checked"
	fi
}

# ---- the command line ----

@test "--version and --help" {
	epstat --version
	[ "$status" -eq 0 ]
	[ "$output" = "epstat 1.0.0" ]
	epstat --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"--watch"* ]]
	[[ "$output" == *"--json"* ]]
}

@test "bad usage exits 64" {
	local args
	for args in "--bogus" "notapid" "1 nosuchview" "-w 0" "-w x" "-n 0" \
	    "-o xml" "--stall-ms -1" "1 threads extra" "threads"; do
		# shellcheck disable=SC2086
		epstat $args
		[ "$status" -eq 64 ] || { echo "epstat $args: status $status: $output"; false; }
		[[ "$output" == *"epstat: "* ]]
	done
}

@test "no such pid: exit 69, naming EPUMP_STATS=1" {
	local pid=$(( $(cat /proc/sys/kernel/pid_max) + 1 ))
	epstat "$pid"
	[ "$status" -eq 69 ] || { echo "$output"; false; }
	[[ "$output" == *"EPUMP_STATS=1"* ]]
}

@test "a process without a stats socket: exit 69, naming EPUMP_STATS=1" {
	sleep 30 3>&- &
	bg_pids+=($!)
	epstat "$!"
	[ "$status" -eq 69 ] || { echo "$output"; false; }
	[[ "$output" == *"EPUMP_STATS=1"* ]]
	epstat -s "$XDG_RUNTIME_DIR/epump/nothing.1.sock"
	[ "$status" -eq 69 ] || { echo "$output"; false; }
}

@test "no process at all: exit 69" {
	epstat
	[ "$status" -eq 69 ] || { echo "$output"; false; }
	[[ "$output" == *"EPUMP_STATS=1"* ]]
}

# ---- a live process ----

@test "the list shows the process and skips a stale socket" {
	start_httpsrv
	# a socket nobody listens on, as a killed process leaves it
	if command -v python3 >/dev/null; then
		python3 -c 'import socket, sys
socket.socket(socket.AF_UNIX).bind(sys.argv[1])' \
			"$XDG_RUNTIME_DIR/epump/gone.999999.sock"
	fi
	epstat
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	echo "$output"
	[[ "${lines[0]}" =~ ^\ *PID\ +PROG\ +SOCKET\ +UPTIME\ +THREADS\ +DEVICES$ ]]
	[ "${#lines[@]}" -eq 2 ]
	[[ "${lines[1]}" =~ ^\ *$srv_pid\ +[a-z-]*httpsrv\ +"$sock"\ +[0-9.]+\ +4\ +[0-9]+$ ]]
}

@test "the summary: the process, each thread's state and queue" {
	start_httpsrv
	http_get 3
	epstat "$srv_pid"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	echo "$output"
	[[ "${lines[0]}" == *"httpsrv pid $srv_pid: libepump "* ]]
	[[ "$output" == *"2 epump + 2 worker threads"* ]]
	[[ "$output" =~ THREAD\ +TID\ +STATE\ +FOR\ +EVENTS\ +QUEUE\ +QMAX ]]
	[[ "$output" =~ epump/0\ +[0-9]+\ +(poll|run|handler) ]]
	[[ "$output" =~ epump/1\ +[0-9]+\ + ]]
	[[ "$output" =~ worker/0\ +[0-9]+\ +(idle|run|handler).*\ [0-9]+\ +[0-9]+ ]]
	[[ "$output" =~ worker/1\ +[0-9]+\ + ]]
	[[ "$output" != *STALLED* ]]
	# -s PATH reads the same process
	epstat -s "$sock"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[[ "${lines[0]}" == *"pid $srv_pid:"* ]]
}

@test "each view: threads, queues, fds, timers, all" {
	start_httpsrv
	http_get 2
	epstat "$srv_pid" threads
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	echo "$output"
	[[ "${lines[0]}" =~ ^THREAD\ +TID\ +STATE\ +FOR\ +EVENTS\ +BUSY\ +WAIT\ +LOOPS\ +DEVICES\ +TIMERS ]]
	[ "${#lines[@]}" -eq 5 ]

	epstat "$srv_pid" queues
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	echo "$output"
	[[ "${lines[0]}" =~ ^WORKER\ +DEPTH\ +MAX\ +EVENTS\ +WAIT50 ]]
	[[ "${lines[1]}" == worker/0* ]]
	[[ "${lines[2]}" == worker/1* ]]

	epstat "$srv_pid" fds
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	echo "$output"
	[[ "${lines[0]}" =~ ID\ +FD\ +TYPE\ +LOCAL\ +REMOTE ]]
	[[ "$output" == *"127.0.0.1:$port"* ]]

	epstat "$srv_pid" timers
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	echo "$output"
	[[ "${lines[0]}" =~ ^THREAD\ +PENDING\ +NEXT$ ]]
	[[ "${lines[1]}" == epump/0* ]]

	epstat "$srv_pid" all
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[[ "$output" == *WORKER*DEPTH* ]]
	[[ "$output" == *PENDING*NEXT* ]]
}

@test "--json: one valid document, numbers as numbers" {
	start_httpsrv
	http_get 2
	local view
	for view in summary threads queues fds timers all; do
		epstat -j "$srv_pid" "$view"
		[ "$status" -eq 0 ] || { echo "$view: $output"; false; }
		echo "$output" | json_ok
		[[ "$output" == *"\"pid\": $srv_pid,"* ]]
	done
	[[ "$output" =~ \"tid\":\ [0-9]+, ]]
	[[ "$output" =~ \"stalled\":\ false ]]
	epstat --json
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	echo "$output" | json_ok
	[[ "$output" == *"\"socket\": \"$sock\""* ]]
}

@test "-o prometheus: text format 0.0.4" {
	start_httpsrv
	http_get 2
	local name='[a-zA-Z_:][a-zA-Z0-9_:]*'
	local lab='[a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*"'
	local num='[-+]?([0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?|\.[0-9]+([eE][-+]?[0-9]+)?|NaN|Inf)'
	local sample="^$name(\{$lab(,$lab)*\})? $num( -?[0-9]+)?\$"
	local line bad=0 typed=" " fam
	epstat -o prometheus "$srv_pid" all
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	for line in "${lines[@]}"; do
		case $line in
		"# HELP "*) ;;
		"# TYPE "*)
			[[ "$line" =~ ^#\ TYPE\ ($name)\ (counter|gauge|summary|histogram|untyped)$ ]] ||
				{ echo "bad TYPE: $line"; bad=1; }
			fam=${BASH_REMATCH[1]}
			[[ "${BASH_REMATCH[2]}" != counter || "$fam" == *_total ]] ||
				{ echo "counter without _total: $line"; bad=1; }
			typed+="$fam " ;;
		"#"*) ;;
		*)
			[[ "$line" =~ $sample ]] || { echo "not a sample: $line"; bad=1; }
			[[ "$line" == epump_* ]] || { echo "no epump_ prefix: $line"; bad=1; }
			[[ "$line" == *"pid=\"$srv_pid\""*"prog=\""* ]] ||
				{ echo "no pid or prog label: $line"; bad=1; }
			[[ "$typed" == *" ${line%%[{ ]*} "* ]] ||
				{ echo "sample before its TYPE: $line"; bad=1; } ;;
		esac
	done
	[ "$bad" -eq 0 ]
	[[ "$output" == *"# TYPE epump_events_total counter"* ]]
	[[ "$output" == *"epump_thread_state{"*"thread=\"worker/1\""*"} 1"* ]]
	[[ "$output" == *"epump_uptime_seconds{"* ]]
}

@test "--watch -n 2: two samples with rates, exit 0" {
	start_httpsrv
	epstat -w 0.3 -n 2 "$srv_pid" threads
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	echo "$output"
	[ "$(grep -c '^epstat .*: sample [0-9]*, every 0.3 s' <<<"$output")" -eq 2 ]
	[ "$(grep -c '^THREAD ' <<<"$output")" -eq 2 ]
	[ "$(grep -c 'EV/S' <<<"$output")" -eq 1 ]
	epstat -j -w 0.2 -n 2 "$srv_pid"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[ "${#lines[@]}" -eq 2 ]
	echo "${lines[0]}" | json_ok
	echo "${lines[1]}" | json_ok
	[[ "${lines[1]}" == *'"events_per_second":'* ]]
}

@test "--watch ends on SIGINT with status 0" {
	start_httpsrv
	"$EPSTAT" -w 0.2 "$srv_pid" >"$BATS_TEST_TMPDIR/watch.out" 2>&1 3>&- &
	local w=$! status=0
	bg_pids+=($w)
	sleep 1
	kill -INT "$w"
	for _ in $(seq 50); do alive "$w" || break; sleep 0.1; done
	wait "$w" || status=$?
	[ "$status" -eq 0 ] || { cat "$BATS_TEST_TMPDIR/watch.out"; false; }
	grep -q "sample 2," "$BATS_TEST_TMPDIR/watch.out"
}

# ---- stuck threads ----

@test "every thread stuck in a handler: epstat answers in 5 s and names them" {
	start_stuck
	kill -USR1 "$srv_pid"
	for _ in $(seq 100); do
		grep -q '^stuck: blocked 4$' "$BATS_TEST_TMPDIR/stuck.out" && break
		sleep 0.1
	done
	grep -q '^stuck: blocked 4$' "$BATS_TEST_TMPDIR/stuck.out" ||
		{ echo "the threads did not all block:"; cat "$BATS_TEST_TMPDIR/stuck.out"; false; }
	sleep 0.5
	run timeout 5 "$EPSTAT" --stall-ms 200 "$srv_pid"
	[ "$status" -eq 0 ] || { echo "status $status (124: no answer in 5 s): $output"; false; }
	echo "$output"
	local t
	for t in epump/0 epump/1 worker/0 worker/1; do
		[[ "$output" =~ thread\ $t\ \(tid\ [0-9]+\)\ stuck\ in\ handler\ user=[0-9]+\ for\ [0-9.]+\ s ]] ||
			{ echo "$t is not named as stuck"; false; }
	done
	[ "$(grep -c 'STALLED' <<<"$output")" -eq 4 ]
	# the default threshold is 1 s
	sleep 1
	run timeout 5 "$EPSTAT" "$srv_pid" threads
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[ "$(grep -c 'handler user=.*STALLED$' <<<"$output")" -eq 4 ]
	run timeout 5 "$EPSTAT" -j "$srv_pid"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	echo "$output" | json_ok
	[ "$(grep -c '"stalled": true' <<<"$output")" -eq 4 ]
	# every view answers too
	for t in queues fds timers all; do
		run timeout 5 "$EPSTAT" "$srv_pid" "$t"
		[ "$status" -eq 0 ] || { echo "$t: $output"; false; }
	done
	# SIGTERM still stops it, and the socket goes with it
	stop_server
	[ ! -e "$sock" ] || { echo "$sock is left behind"; false; }
}

@test "a stuck thread is red on a terminal" {
	command -v script >/dev/null || skip "script(1) is not installed"
	start_stuck -w 0
	kill -USR1 "$srv_pid"
	sleep 0.5
	run timeout 10 script -qec "$EPSTAT --stall-ms 100 $srv_pid" /dev/null
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[[ "$output" == *$'\033[31m'*"STALLED"* ]]
	[[ "$output" == *$'\033[31m'"thread epump/0 (tid "* ]]
}

# ---- the socket: modes and who may connect ----

@test "socket modes: directory 0700, socket 0600, ours" {
	start_httpsrv
	[ "$(stat -c '%a %u' "$XDG_RUNTIME_DIR/epump")" = "700 $(id -u)" ]
	[ "$(stat -c '%a %u' "$sock")" = "600 $(id -u)" ]
	[[ "$sock" == "$XDG_RUNTIME_DIR/epump/"*".$srv_pid.sock" ]]
}

# run_as_nobody CMD...: CMD as user nobody, no groups.
run_as_nobody() {
	if command -v setpriv >/dev/null; then
		run timeout 10 setpriv --reuid="$(id -u nobody)" \
			--regid="$(id -g nobody)" --clear-groups "$@"
	else
		run timeout 10 runuser -u nobody -- "$@"
	fi
}

@test "a client of another uid is refused: exit 77" {
	[ "$(id -u)" -eq 0 ] || skip "needs root, to run epstat as nobody"
	id nobody >/dev/null 2>&1 || skip "no user nobody"
	command -v setpriv >/dev/null || command -v runuser >/dev/null ||
		skip "needs setpriv or runuser"
	local d
	d=$(mktemp -d /tmp/epstat-bats.XXXXXX)
	tmp_dirs+=("$d")
	chmod 0755 "$d"
	cp "$EPSTAT" "$d/epstat"       # the build tree may be closed to nobody
	# the socket as the library makes it: the directory keeps nobody out
	start_httpsrv
	run_as_nobody "$d/epstat" -s "$sock"
	[ "$status" -eq 77 ] || { echo "status $status: $output"; false; }
	stop_server
	# the socket opened to everyone: the server's SO_PEERCRED check
	mkdir -m 0700 "$d/s"
	start_httpsrv_at "$d/s/stats.sock"
	chmod 0711 "$d/s"
	chmod 0666 "$d/s/stats.sock"
	run_as_nobody "$d/epstat" -s "$d/s/stats.sock"
	[ "$status" -eq 77 ] || { echo "status $status: $output"; false; }
	[[ "$output" == *"ERR 403"* ]]
	# and root still is served
	epstat -s "$d/s/stats.sock"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
}

@test "a pid whose socket is elsewhere is found through /proc" {
	local d
	d=$(mktemp -d /tmp/epstat-bats.XXXXXX)
	tmp_dirs+=("$d")
	start_httpsrv_at "$d/elsewhere.sock"
	epstat "$srv_pid"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[[ "${lines[0]}" == *"pid $srv_pid:"* ]]
}

# ---- the server keeps serving bad clients ----

@test "a garbage command gets ERR 400 and a close; the server keeps serving" {
	need_raw_client
	start_httpsrv
	run usock "$sock" 5 < <(printf 'show info\n\001\002\377\376garbage\n')
	[ "$status" -eq 0 ] || { echo "status $status (124: not closed): $output"; false; }
	echo "$output"
	[[ "${lines[0]}" == "EPUMP-STATS/1 pid=$srv_pid "* ]]
	[[ "$output" == *$'epump_pid\tgauge\t-\t'"$srv_pid"* ]]
	[[ "${lines[-1]}" == "ERR 400 "* ]]
	# an unknown command is answered 400 too
	run usock "$sock" 3 < <(printf 'frobnicate\nquit\n')
	[[ "$output" == *"ERR 400 "* ]] || { echo "$output"; false; }
	epstat "$srv_pid"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
}

@test "a 2 KiB command gets ERR 413 and a close; the server keeps serving" {
	need_raw_client
	start_httpsrv
	local big
	big=$(head -c 2048 /dev/zero | tr '\0' 'x')
	run usock "$sock" 5 < <(printf 'show %s\n' "$big")
	[ "$status" -eq 0 ] || { echo "status $status (124: not closed): $output"; false; }
	echo "$output"
	[[ "${lines[-1]}" == "ERR 413 "* ]]
	epstat "$srv_pid" threads
	[ "$status" -eq 0 ] || { echo "$output"; false; }
}

@test "17 clients at once: the 17th gets ERR 503; then all is served again" {
	need_raw_client
	start_httpsrv
	local i ok
	# 16 clients that ask every second (an idle one is dropped after
	# 5 s), each in its own process group (setsid) to end it at once
	export -f usock
	for i in $(seq 16); do
		setsid bash -c 'usock "$1" 12' usock "$sock" \
			< <(exec 3>&-; for _ in $(seq 10); do echo "show info"; sleep 1; done) \
			>"$BATS_TEST_TMPDIR/c$i.out" 2>&1 3>&- &
		fake_pgids+=($!)
	done
	for _ in $(seq 100); do
		ok=$(cat "$BATS_TEST_TMPDIR"/c*.out | grep -c '^EPUMP-STATS/1 ')
		[ "$ok" -eq 16 ] && break
		sleep 0.05
	done
	[ "$ok" -eq 16 ] || { echo "only $ok of 16 clients were greeted"; false; }
	run usock "$sock" 3 </dev/null
	echo "17th: $output"
	[ "$status" -eq 0 ]
	[[ "$output" == "ERR 503 "* ]]
	epstat "$srv_pid"
	[ "$status" -eq 75 ] || { echo "$output"; false; }
	[[ "$output" == *"ERR 503"* ]]
	# the 16 were served all along
	for i in $(seq 16); do
		grep -q $'^epump_pid\tgauge' "$BATS_TEST_TMPDIR/c$i.out" ||
			{ echo "client $i got no reply"; cat "$BATS_TEST_TMPDIR/c$i.out"; false; }
	done
	for i in "${fake_pgids[@]}"; do
		{ kill -KILL -- "-$i"; wait "$i"; } 2>/dev/null || true
	done
	fake_pgids=()
	for i in $(seq 50); do
		epstat "$srv_pid"
		[ "$status" -eq 0 ] && break
		sleep 0.1
	done
	[ "$status" -eq 0 ] || { echo "$output"; false; }
}

# ---- malformed servers ----

@test "a bad greeting: exit 76" {
	need_raw_client
	fake_server "$BATS_TEST_TMPDIR/bad.sock" 'echo garbage'
	epstat -s "$BATS_TEST_TMPDIR/bad.sock"
	[ "$status" -eq 76 ] || { echo "status $status: $output"; false; }
	[[ "$output" == *"bad greeting"* ]]
}

@test "a reply line without 4 fields, or without its empty line: exit 76" {
	need_raw_client
	fake_server "$BATS_TEST_TMPDIR/f3.sock" \
		'echo "EPUMP-STATS/1 pid=1 prog=fake version=9.9.9"; read l; printf "epump_pid\tgauge\t1\n\n"'
	epstat -s "$BATS_TEST_TMPDIR/f3.sock"
	[ "$status" -eq 76 ] || { echo "status $status: $output"; false; }
	[[ "$output" == *"4 tab-separated fields"* ]]
	fake_server "$BATS_TEST_TMPDIR/noend.sock" \
		'echo "EPUMP-STATS/1 pid=1 prog=fake version=9.9.9"; read l; printf "epump_pid\tgauge\t-\t1\n"'
	epstat -s "$BATS_TEST_TMPDIR/noend.sock"
	[ "$status" -eq 76 ] || { echo "status $status: $output"; false; }
	[[ "$output" == *"empty line"* ]]
}

@test "a server that refuses us (ERR 403): exit 77; one that is silent: exit 75" {
	need_raw_client
	fake_server "$BATS_TEST_TMPDIR/403.sock" 'printf "ERR 403 forbidden\n\n"'
	epstat -s "$BATS_TEST_TMPDIR/403.sock"
	[ "$status" -eq 77 ] || { echo "status $status: $output"; false; }
	fake_server "$BATS_TEST_TMPDIR/mute.sock" \
		'echo "EPUMP-STATS/1 pid=1 prog=fake version=9.9.9"; sleep 4'
	local t0=$SECONDS
	epstat -t 1 -s "$BATS_TEST_TMPDIR/mute.sock"
	[ "$status" -eq 75 ] || { echo "status $status: $output"; false; }
	[ $((SECONDS - t0)) -le 3 ]
}

@test "metrics epstat does not know are skipped" {
	need_raw_client
	fake_server "$BATS_TEST_TMPDIR/new.sock" '
echo "EPUMP-STATS/1 pid=4242 prog=future version=9.0.0"
while read -r cmd; do
	case $cmd in
	"show info") printf "epump_pid\tgauge\t-\t4242\nepump_shiny_new\tgauge\t-\t7\nepump_uptime_seconds\tgauge\t-\t12.5\nepump_threads\tgauge\tkind=epump\t1\nepump_threads\tgauge\tkind=gpu\t3\n\n" ;;
	"show threads") printf "epump_thread_tid\tgauge\tthread=epump/0\t4243\nepump_thread_state\tinfo\tthread=epump/0\tpoll\nepump_thread_mood\tinfo\tthread=epump/0\thappy\n\n" ;;
	"show queues") printf "\n" ;;
	quit) exit 0 ;;
	*) printf "ERR 400 unknown\n\n" ;;
	esac
done'
	epstat -s "$BATS_TEST_TMPDIR/new.sock"
	[ "$status" -eq 0 ] || { echo "status $status: $output"; false; }
	echo "$output"
	[[ "$output" == *"future pid 4242:"* ]]
	[[ "$output" =~ epump/0\ +4243\ +poll ]]
	epstat -j -s "$BATS_TEST_TMPDIR/new.sock"
	[ "$status" -eq 0 ]
	echo "$output" | json_ok
	[[ "$output" != *shiny* && "$output" != *happy* && "$output" != *gpu* ]]
	epstat -o prometheus -s "$BATS_TEST_TMPDIR/new.sock"
	[ "$status" -eq 0 ]
	[[ "$output" != *shiny* && "$output" != *mood* ]]
}
