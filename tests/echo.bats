#!/usr/bin/env bats
# examples/echosrv under load, on every backend, checked by
# tests/tools/echoclient (raw epoll, no libepump): 1,000 concurrent
# connections with random sizes up to 256 KiB, a slow reader, resets
# mid-send, half-close, threads and workers, mlisten, and running out of
# fds.  Everything talks to 127.0.0.1 only; every client run is bounded
# in count and time.  ECHOSRV and ECHOCLIENT may name other binaries.

load helpers

ECHOSRV=${ECHOSRV:-$top_builddir/examples/echosrv}
ECHOCLIENT=${ECHOCLIENT:-$top_builddir/tests/tools/echoclient}

# Up to 256 KiB per message, a few messages per connection.
MAX=262144

setup() {
	srv_pid= cli_pid=
	[ -x "$ECHOCLIENT" ] || { echo "no $ECHOCLIENT (make check builds it)"; false; }
}

teardown() {
	if [ -n "$cli_pid" ]; then       # a client left running by a failure
		kill -TERM "$cli_pid" 2>/dev/null
		wait "$cli_pid" 2>/dev/null || true
	fi
	if [ -n "$srv_pid" ] && kill -0 "$srv_pid" 2>/dev/null; then
		kill -KILL "$srv_pid" 2>/dev/null
		wait "$srv_pid" 2>/dev/null || true
	fi
}

# Is the server running (not gone, not a zombie)?
alive() {
	local state
	state=$(sed 's/.*) //' "/proc/$srv_pid/stat" 2>/dev/null | cut -d' ' -f1)
	[ -n "$state" ] && [ "$state" != Z ]
}

# Its CPU time so far (user + system), in clock ticks.
cpu_ticks() {
	sed 's/.*) //' "/proc/$srv_pid/stat" | awk '{ print $12 + $13 }'
}

# start_server [COMMAND...] -- ECHOSRV's arguments: run it in the
# background (under COMMAND, e.g. prlimit) and wait for its ready line,
# which gives $port.  fd 3 is bats' own: the server must not hold it.
start_server() {
	local pre=()
	while [ "$1" != -- ]; do pre+=("$1"); shift; done
	shift
	# Made before the server starts: we read them at once.
	: >"$BATS_TEST_TMPDIR/srv.out"; : >"$BATS_TEST_TMPDIR/srv.err"
	"${pre[@]}" "$ECHOSRV" "$@" >"$BATS_TEST_TMPDIR/srv.out" \
		2>"$BATS_TEST_TMPDIR/srv.err" 3>&- &
	srv_pid=$!
	port=
	for _ in $(seq 200); do     # 10 s at most
		port=$(sed -n 's/^echosrv: listening on .*:\([0-9][0-9]*\) (.*/\1/p' \
			"$BATS_TEST_TMPDIR/srv.out")
		[ -n "$port" ] && break
		alive || break
		sleep 0.05
	done
	if [ -z "$port" ]; then
		echo "echosrv $* did not print its ready line; stdout, stderr:"
		cat "$BATS_TEST_TMPDIR/srv.out" "$BATS_TEST_TMPDIR/srv.err"
		return 1
	fi
	ready=$(head -1 "$BATS_TEST_TMPDIR/srv.out")
}

# SIGTERM: it must exit 0 within 10 s.
stop_server() {
	local status=0
	kill -TERM "$srv_pid"
	for _ in $(seq 100); do alive || break; sleep 0.1; done
	if alive; then
		echo "echosrv did not stop within 10 s of SIGTERM"
		return 1
	fi
	wait "$srv_pid" || status=$?
	srv_pid=
	if [ "$status" -ne 0 ]; then
		echo "echosrv exited with status $status after SIGTERM; stderr:"
		cat "$BATS_TEST_TMPDIR/srv.err"
		return 1
	fi
}

# client ARGS...: run echoclient against the server (with a random seed,
# shown for a rerun) and expect success; the server must still be alive.
client() {
	local seed=$RANDOM
	echo "echoclient -p $port --seed $seed $*"
	run timeout 300 "$ECHOCLIENT" -p "$port" --seed "$seed" "$@"
	echo "$output"
	if [ "$status" -ne 0 ]; then
		echo "echoclient failed with status $status; echosrv's stderr:"
		cat "$BATS_TEST_TMPDIR/srv.err"
		return 1
	fi
	[[ "$output" == *"echoclient: conns="*" failed=0 "* ]]
	server_alive
}

server_alive() {
	alive && return 0
	echo "echosrv died; its stderr:"
	cat "$BATS_TEST_TMPDIR/srv.err"
	wait "$srv_pid"; echo "exit status $?"
	srv_pid=
	return 1
}

# 1,000 concurrent connections, 3 messages each.  With select, echosrv
# holds about 7 fds of its own, so 1,000 clients stay below FD_SETSIZE.
load_1000() {
	client -c 1000 -n 3 -s "$MAX" -T 120
	[[ "$output" == *"conns=1000 ok=1000 failed=0 "* ]]
}

# The slow reader makes echosrv's send queue fill: it stops reading
# (flow control), so bytes wait in its socket's receive queue.  Seen in
# /proc/net/tcp as rx_queue > 0 on the server side of the connections,
# sampled every 0.1 s while the client runs.  For that each connection
# sends half as much again as the kernel's largest send buffer
# (tcp_wmem, 4 MiB by default) may hold, plus echosrv's own 256 KiB:
# messages average about 68 KiB.
slow_reader() {
	local seed=$RANDOM hexport maxq=0 q status=0 wmem n
	hexport=$(printf '%04X' "$port")
	wmem=$(awk '{ print $3 }' /proc/sys/net/ipv4/tcp_wmem 2>/dev/null)
	n=$(( ${wmem:-4194304} * 3 / 2 / 68000 + 4 ))
	[ "$n" -ge 80 ] || n=80
	echo "echoclient -p $port --seed $seed -c 4 -n $n --slow-reader"
	timeout 120 "$ECHOCLIENT" -p "$port" --seed "$seed" -c 4 -n "$n" -s "$MAX" \
		--slow-reader -T 90 >"$BATS_TEST_TMPDIR/slow.out" 2>&1 3>&- &
	cli_pid=$!
	for _ in $(seq 1200); do
		kill -0 "$cli_pid" 2>/dev/null || break
		for q in $(awk -v p=":$hexport" '$4 == "01" &&
		    substr($2, length($2) - 4) == p { sub(/.*:/, "", $5); print $5 }' \
		    /proc/net/tcp); do
			[ $((16#$q)) -gt "$maxq" ] && maxq=$((16#$q))
		done
		sleep 0.1
	done
	wait "$cli_pid" || status=$?
	cli_pid=
	cat "$BATS_TEST_TMPDIR/slow.out"
	echo "most bytes echosrv left unread on one connection: $maxq"
	[ "$status" -eq 0 ]
	grep -q 'conns=4 ok=4 failed=0 ' "$BATS_TEST_TMPDIR/slow.out"
	[ "$maxq" -gt 0 ] || { echo "echosrv never stopped reading: its send queue never filled"; false; }
	server_alive
}

# A quarter of the connections reset (RST) mid-send, some while echosrv
# has echo queued for them; then a fresh client must be served.
reset_mid_send() {
	client -c 200 -n 4 -s "$MAX" --reset -T 60
	[[ "$output" == *"conns=200 ok=150 failed=0 "*" reset=50"* ]]
	client -c 8 -n 40 -s "$MAX" --slow-reader --reset -T 60
	client -c 10 -n 4 -s "$MAX" -T 30
}

# shutdown(SHUT_WR) after the last message: every byte back, then EOF.
half_close() {
	client -c 200 -n 4 -s "$MAX" --half-close -T 60
	[[ "$output" == *"conns=200 ok=200 failed=0 "* ]]
}

backend_test() { # backend what [echosrv options]
	local backend=$1 what=$2
	shift 2
	start_server -- -p 0 -b "$backend" "$@"
	echo "$ready"
	[[ "$ready" == *"(backend $backend, "* ]]
	"$what"
	stop_server
}

# All of it on more threads: 2 epump threads, 2 workers.
threads_workers() {
	[[ "$ready" == *", 2 epump threads, 2 workers)" ]]
	load_1000
	slow_reader
	reset_mid_send
	half_close
}

# One listening socket per epump thread (SO_REUSEPORT).
mlisten() {
	[[ "$ready" == *", 2 epump threads, "* ]]
	load_1000
	reset_mid_send
	half_close
}

# Out of fds: echosrv may hold 128 (hard limit too, so it cannot raise
# it).  300 connections come at once; the first ~120 are served and kept
# open 3 s (--hold), the rest wait in the backlog while accept() fails
# with EMFILE.  Meanwhile echosrv must not spin: under 1 s of CPU over 2 s
# (an idle server takes ~0; a busy accept loop takes ~2 s).  When held
# connections close it must accept the waiting ones (eptcp_accept(3):
# it retries every 100 ms), so all 300 are served; then a fresh client.
emfile() {
	local backend=$1 seed=$RANDOM status=0 t0 t1 fds=0 n hz
	hz=$(getconf CLK_TCK)
	start_server prlimit --nofile=128:128 -- -p 0 -b "$backend"
	echo "$ready"
	grep -q '^Max open files *128 *128 ' "/proc/$srv_pid/limits"
	echo "echoclient -p $port --seed $seed -c 300 -n 1 -s 64 --hold 3"
	timeout 120 "$ECHOCLIENT" -p "$port" --seed "$seed" -c 300 -n 1 -s 64 \
		--hold 3 -T 60 >"$BATS_TEST_TMPDIR/burst.out" 2>&1 3>&- &
	cli_pid=$!
	sleep 0.5
	t0=$(cpu_ticks)
	for _ in 1 2 3 4; do
		n=$(ls "/proc/$srv_pid/fd" | wc -l)
		[ "$n" -gt "$fds" ] && fds=$n
		sleep 0.5
	done
	t1=$(cpu_ticks)
	echo "echosrv: $fds fds open, $((t1 - t0)) ticks of CPU in 2 s ($hz a second)"
	server_alive
	[ "$fds" -ge 120 ] || { echo "the burst did not fill echosrv's fds"; false; }
	[ $((t1 - t0)) -lt "$hz" ] || { echo "echosrv spins while out of fds"; false; }
	wait "$cli_pid" || status=$?
	cli_pid=
	cat "$BATS_TEST_TMPDIR/burst.out"
	[ "$status" -eq 0 ] || { echo "not every connection of the burst was served"; cat "$BATS_TEST_TMPDIR/srv.err"; false; }
	server_alive
	client -c 5 -n 4 -s "$MAX" -T 30
	stop_server
}

@test "echo epoll: 1000 concurrent connections, sizes up to 256 KiB" { backend_test epoll load_1000; }
@test "echo poll: 1000 concurrent connections, sizes up to 256 KiB" { backend_test poll load_1000; }
@test "echo select: 1000 concurrent connections, sizes up to 256 KiB" { backend_test select load_1000; }

@test "echo epoll: a slow reader makes the server queue, every byte arrives" { backend_test epoll slow_reader; }
@test "echo poll: a slow reader makes the server queue, every byte arrives" { backend_test poll slow_reader; }
@test "echo select: a slow reader makes the server queue, every byte arrives" { backend_test select slow_reader; }

@test "echo epoll: resets mid-send; the server goes on serving" { backend_test epoll reset_mid_send; }
@test "echo poll: resets mid-send; the server goes on serving" { backend_test poll reset_mid_send; }
@test "echo select: resets mid-send; the server goes on serving" { backend_test select reset_mid_send; }

@test "echo epoll: half-close gets every byte, then EOF" { backend_test epoll half_close; }
@test "echo poll: half-close gets every byte, then EOF" { backend_test poll half_close; }
@test "echo select: half-close gets every byte, then EOF" { backend_test select half_close; }

@test "echo epoll: -t 2 -w 2: load, slow reader, resets, half-close" { backend_test epoll threads_workers -t 2 -w 2; }
@test "echo poll: -t 2 -w 2: load, slow reader, resets, half-close" { backend_test poll threads_workers -t 2 -w 2; }
@test "echo select: -t 2 -w 2: load, slow reader, resets, half-close" { backend_test select threads_workers -t 2 -w 2; }

@test "echo epoll: -m -t 2 (mlisten): load, resets, half-close" { backend_test epoll mlisten -m -t 2; }
@test "echo poll: -m -t 2 (mlisten): load, resets, half-close" { backend_test poll mlisten -m -t 2; }
@test "echo select: -m -t 2 (mlisten): load, resets, half-close" { backend_test select mlisten -m -t 2; }

@test "echo epoll: out of fds (EMFILE): no spinning, no crash, recovers" { emfile epoll; }
@test "echo poll: out of fds (EMFILE): no spinning, no crash, recovers" { emfile poll; }
@test "echo select: out of fds (EMFILE): no spinning, no crash, recovers" { emfile select; }
