#!/bin/sh
# echo-run.sh - the echo benchmark: examples/echosrv (libepump) beside a raw
# epoll echo server (tests/bench/peers/echo_epoll), both driven by the same
# closed-loop client (tests/bench/echoload).  Builds nothing: "make
# bench-echo" builds the programs and then runs this script.
#
#   echo-run.sh [-r ROUNDS] [-d SECONDS] [-n COUNT] [-c "CONNSxSIZE ..."]
#               [-e ECHOSRV] [-S]
#
#   -r ROUNDS  timed rounds per case, alternating the servers (A B C, A B C,
#              ...) so that machine noise hits all alike (default 3, 1..20)
#   -d SECONDS length of one timed run (default 5)
#   -n COUNT   round trips of the strace run of each server (default 20000)
#   -c CASES   connections x message bytes (default "50x64 1000x1024")
#   -e ECHOSRV the echosrv to run (default BENCH_BINDIR/../../examples/echosrv)
#   -S         skip the strace runs (no syscall columns)
#
# Servers: "echosrv -t 1 -w 0" (handlers on the epump thread), "echosrv -t 1
# -w 1" (one worker thread runs them) and echo_epoll.  Each server is pinned
# to CPU 0 with taskset, the client to CPU 1.
#
# Per timed run: the server's CPU time (utime + stime of all its threads,
# /proc/PID/stat, in clock ticks of getconf CLK_TCK) is sampled right before
# and right after the client's timed phase (the client is gated: it
# connects and makes one untimed round trip per connection first, and
# closes its connections only after the second sample), and divided by the
# round trips done: server us/rt.  rt/s is printed but is informational: it
# depends on the client as much as on the server.
#
# Per server and case, a separate run with `strace -c -f -p PID` attached
# during COUNT round trips counts the server's system calls per round trip.
# strace slows the server down a lot: only the counts of that run are used.
#
# BENCH_BINDIR names the directory that holds echoload and
# peers/echo_epoll (default: this script's directory).  Figures are printed,
# never checked; the summary's ratio is server us/rt over echo_epoll's, each
# the median over the rounds: above 1, libepump spends more CPU per round
# trip than the raw loop.  Every run is bounded in time: a client that does
# not finish is killed, a server that does not stop on SIGTERM too.
set -u

bindir=${BENCH_BINDIR:-$(dirname "$0")}
rounds=3
secs=5
scount=20000
cases="50x64 1000x1024"
echosrv=
do_strace=yes

usage() {
	echo "usage: $0 [-r ROUNDS] [-d SECONDS] [-n COUNT] [-c \"CONNSxSIZE ...\"] [-e ECHOSRV] [-S]"
}

posint() { # value name max
	case $1 in
	''|*[!0-9]*) echo "$0: $2 wants 1..$3" >&2; exit 2 ;;
	esac
	if [ "$1" -lt 1 ] || [ "$1" -gt "$3" ]; then
		echo "$0: $2 wants 1..$3" >&2
		exit 2
	fi
}

while [ $# -gt 0 ]; do
	case $1 in
	-r) rounds=${2:?-r wants a number}; shift 2 ;;
	-d) secs=${2:?-d wants seconds}; shift 2 ;;
	-n) scount=${2:?-n wants a count}; shift 2 ;;
	-c) cases=${2:?-c wants cases like 50x64}; shift 2 ;;
	-e) echosrv=${2:?-e wants a path}; shift 2 ;;
	-S) do_strace=no; shift ;;
	-h|--help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
posint "$rounds" -r 20
posint "$secs" -d 600
posint "$scount" -n 100000000
for c in $cases; do
	case $c in
	[1-9]*x[1-9]*) posint "${c%x*}" "-c connections" 100000
		posint "${c#*x}" "-c size" 1048576 ;;
	*) echo "$0: -c wants cases like \"50x64 1000x1024\", not '$c'" >&2; exit 2 ;;
	esac
done

load=$bindir/echoload
peer=$bindir/peers/echo_epoll
[ -n "$echosrv" ] || echosrv=$bindir/../../examples/echosrv
for p in "$load" "$peer" "$echosrv"; do
	if [ ! -x "$p" ]; then
		echo "$0: $p is not built (make bench-echo builds it)" >&2
		exit 1
	fi
done

# ---- tools: taskset (util-linux) and strace, installed if absent ----
need=
command -v taskset >/dev/null 2>&1 || need="$need util-linux"
[ "$do_strace" = yes ] && ! command -v strace >/dev/null 2>&1 && need="$need strace"
command -v timeout >/dev/null 2>&1 || need="$need coreutils"
if [ -n "$need" ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "== installing$need (apt-get)"
		# shellcheck disable=SC2086
		DEBIAN_FRONTEND=noninteractive timeout 300 \
		    apt-get install -y -q $need >/dev/null 2>&1 ||
		{ DEBIAN_FRONTEND=noninteractive timeout 300 apt-get update -q \
		    >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive timeout 300 \
		    apt-get install -y -q $need >/dev/null 2>&1; }
	else
		echo "== missing:$need (not root or no apt-get: install them)"
	fi
fi
if ! command -v timeout >/dev/null 2>&1; then
	echo "$0: timeout(1) is needed to bound the runs" >&2
	exit 1
fi
srvcpu="taskset -c 0"
clicpu="taskset -c 1"
ncpu=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
if ! command -v taskset >/dev/null 2>&1; then
	echo "== no taskset: server and client are not pinned"
	srvcpu=
	clicpu=
elif [ "$ncpu" -lt 2 ]; then
	echo "== one CPU: server and client both on CPU 0"
	clicpu="taskset -c 0"
fi
if [ "$do_strace" = yes ] && ! command -v strace >/dev/null 2>&1; then
	echo "== no strace: no syscall columns"
	do_strace=no
fi
hz=$(getconf CLK_TCK)
posint "$hz" CLK_TCK 1000000
# 1,000 connections need more than the usual 1,024 fds, on both ends
# (dash, bash and busybox sh all have ulimit -n and -H).
# shellcheck disable=SC3045
ulimit -n "$(ulimit -Hn)" 2>/dev/null || :

tmp=$(mktemp -d "${TMPDIR:-/tmp}/echo-run.XXXXXX") || exit 1
spid=
lpid=
stpid=
# shellcheck disable=SC2317
cleanup() {
	for p in $stpid $lpid $spid; do
		kill -KILL "$p" 2>/dev/null
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# wait_for FILE PATTERN TENTHS [PID]: wait (at most TENTHS x 0.1 s) for a
# line of FILE that matches the case PATTERN; it is left in $found.
# Returns 1 on time out, or when PID has died without writing the line.
wait_for() {
	_n=0
	found=
	while :; do
		_dead=no
		[ $# -ge 4 ] && ! kill -0 "$4" 2>/dev/null && _dead=yes
		if [ -f "$1" ]; then
			while IFS= read -r _l; do
				# shellcheck disable=SC2254
				case $_l in $2) found=$_l; return 0 ;; esac
			done < "$1"
		fi
		[ "$_dead" = yes ] && return 1
		[ "$_n" -ge "$3" ] && return 1
		sleep 0.1
		_n=$((_n + 1))
	done
}

# stop PID [SIGNAL]: signal it, wait at most 5 s, then SIGKILL; reap it.
stop() {
	kill "-${2:-TERM}" "$1" 2>/dev/null
	_n=0
	while kill -0 "$1" 2>/dev/null && [ "$_n" -lt 50 ]; do
		sleep 0.1
		_n=$((_n + 1))
	done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

# ticks PID: "utime stime" of the whole process (all threads), in clock
# ticks; shell builtins only, so sampling costs no fork.
ticks() {
	IFS= read -r _s < "/proc/$1/stat" || return 1
	# shellcheck disable=SC2086
	set -- ${_s##*) }     # fields from the 3rd (state) on
	echo "${12} ${13}"
}

# Server configurations: name, then the command (without -p/-a).
config_cmd() {
	case $1 in
	w0) echo "$echosrv -t 1 -w 0" ;;
	w0s) echo "env EPUMP_STATS=1 EPUMP_STATS_SOCKET=$tmp/stats.sock $echosrv -t 1 -w 0" ;;
	w1) echo "$echosrv -t 1 -w 1" ;;
	raw) echo "$peer" ;;
	esac
}
config_name() {
	case $1 in
	w0) echo "echosrv -t1 -w0" ;;
	w0s) echo "echosrv -t1 -w0 +stats" ;;
	w1) echo "echosrv -t1 -w1" ;;
	raw) echo "echo_epoll" ;;
	esac
}
configs="w0 w0s w1 raw"

# start_server CONFIG: runs it pinned; sets spid and port.
start_server() {
	rm -f "$tmp/srv.out"
	# shellcheck disable=SC2046,SC2086
	$srvcpu $(config_cmd "$1") -p 0 -a 127.0.0.1 > "$tmp/srv.out" 2>&1 &
	spid=$!
	if ! wait_for "$tmp/srv.out" "*listening on *" 100 "$spid"; then
		echo "== $(config_name "$1"): no ready line in 10 s:"
		cat "$tmp/srv.out"
		stop "$spid" KILL
		spid=
		return 1
	fi
	port=${found#*listening on }
	port=${port%% *}
	port=${port##*:}
}

# start_client CONNS SIZE ARGS...: a gated echoload on the server's port;
# sets lpid; returns once it has made its untimed round trips.
start_client() {
	_c=$1 _s=$2
	shift 2
	rm -f "$tmp/gate" "$tmp/load.out"
	mkfifo "$tmp/gate" || return 1
	exec 3<>"$tmp/gate"
	# shellcheck disable=SC2086
	$clicpu timeout -s KILL "$((secs + 120))" "$load" -g -p "$port" \
	    -c "$_c" -s "$_s" "$@" < "$tmp/gate" > "$tmp/load.out" 2>&1 &
	lpid=$!
	if ! wait_for "$tmp/load.out" "echoload: connected" 600 "$lpid"; then
		echo "== echoload did not connect:"
		cat "$tmp/load.out"
		return 1
	fi
}

# finish_client: wait for its results (bounded), then let it close.
# Sets rt and rtps.
finish_client() {
	rt=
	rtps=
	if wait_for "$tmp/load.out" "rt_per_s *" "$(($1 * 10))" "$lpid"; then
		rtps=${found#rt_per_s }
		wait_for "$tmp/load.out" "round_trips *" 0
		rt=${found#round_trips }
	fi
}
release_client() {
	echo "done" >&3 2>/dev/null
	exec 3>&-
	_n=0
	while kill -0 "$lpid" 2>/dev/null && [ "$_n" -lt 100 ]; do
		sleep 0.1
		_n=$((_n + 1))
	done
	kill -KILL "$lpid" 2>/dev/null
	wait "$lpid"
	_st=$?
	lpid=
	if [ -z "$rt" ] || [ "$_st" != 0 ]; then
		echo "== echoload failed (exit $_st):"
		cat "$tmp/load.out"
		return 1
	fi
}

# One timed run: appends "case config round rtps us_per_rt" to $tmp/timed.
timed_run() { # case config round
	_conns=${1%x*} _size=${1#*x}
	start_server "$2" || return 1
	if ! start_client "$_conns" "$_size" -d "$secs"; then
		stop "$spid"; spid=; return 1
	fi
	_t0=$(ticks "$spid")
	echo go >&3
	sleep "$secs"
	finish_client 60
	_t1=$(ticks "$spid")
	release_client || { stop "$spid"; spid=; return 1; }
	stop "$spid"
	spid=
	# shellcheck disable=SC2086
	set -- "$@" $_t0 $_t1  # $4 $5: utime stime before, $6 $7: after
	_tu=$(($6 - $4))
	_tt=$((_tu + $7 - $5))
	_us=$(awk -v t="$_tt" -v hz="$hz" -v rt="$rt" \
	    'BEGIN { printf "%.3f", (rt > 0 ? t * 1e6 / hz / rt : 0) }')
	_uu=$(awk -v t="$_tu" -v hz="$hz" -v rt="$rt" \
	    'BEGIN { printf "%.3f", (rt > 0 ? t * 1e6 / hz / rt : 0) }')
	printf '   %-9s %-23s round %d: %9.0f rt/s %8s server us/rt, %s user (%d ticks, %d rt)\n' \
	    "$1" "$(config_name "$2")" "$3" "$rtps" "$_us" "$_uu" "$_tt" "$rt"
	echo "$1 $2 $3 $rtps $_us $_uu" >> "$tmp/timed"
}

# One strace run: appends "case config syscall calls_per_rt" lines
# (syscall "total" included) to $tmp/sys.
strace_run() { # case config
	_conns=${1%x*} _size=${1#*x}
	start_server "$2" || return 1
	if ! start_client "$_conns" "$_size" -n "$scount" -d "$((secs + 60))"; then
		stop "$spid"; spid=; return 1
	fi
	rm -f "$tmp/strace.out" "$tmp/strace.err"
	strace -c -f -o "$tmp/strace.out" -p "$spid" 2> "$tmp/strace.err" &
	stpid=$!
	if ! wait_for "$tmp/strace.err" "*attached*" 100 "$stpid"; then
		echo "== strace did not attach:"
		cat "$tmp/strace.err"
		stop "$stpid" KILL; stpid=
		echo go >&3; finish_client "$((secs + 70))"; release_client
		stop "$spid"; spid=
		return 1
	fi
	sleep 0.5  # every thread attached
	echo go >&3
	finish_client "$((secs + 70))"
	stop "$stpid" INT  # strace prints its table when it detaches
	stpid=
	release_client || { stop "$spid"; spid=; return 1; }
	stop "$spid"
	spid=
	# strace -c rows: "% time  seconds  usecs/call  calls  [errors]  syscall"
	awk -v c="$1" -v k="$2" -v rt="$rt" '
	$NF ~ /^[a-z_0-9]+$/ && $4 ~ /^[0-9]+$/ && $1 ~ /^[0-9.]+$/ {
		printf "%s %s %s %.4f\n", c, k, $NF, $4 / rt
	}' "$tmp/strace.out" >> "$tmp/sys"
	printf '   %-9s %-23s strace: %d rt, %s syscalls/rt\n' "$1" \
	    "$(config_name "$2")" "$rt" "$(awk -v c="$1" -v k="$2" \
	    '$1 == c && $2 == k && $3 == "total" { print $4 }' "$tmp/sys")"
}

echo "== echo benchmark: servers pinned with '${srvcpu:-nothing}', client with '${clicpu:-nothing}'"
echo "   cases: $cases; $rounds round(s) of $secs s; strace runs: $([ "$do_strace" = yes ] && echo "$scount rt" || echo no); CLK_TCK $hz"
status=0
: > "$tmp/timed"
: > "$tmp/sys"
for c in $cases; do
	r=1
	while [ "$r" -le "$rounds" ]; do
		echo "== $c round $r/$rounds"
		for k in $configs; do
			timed_run "$c" "$k" "$r" || status=1
		done
		r=$((r + 1))
	done
	if [ "$do_strace" = yes ]; then
		echo "== $c syscalls (strace -c -f, $scount round trips)"
		for k in $configs; do
			strace_run "$c" "$k" || status=1
		done
	fi
done

echo
echo "== summary: median of $rounds round(s); us/rt = server CPU (user+sys) per round trip,"
echo "   user = its user-space part; ratio = us/rt / echo_epoll's us/rt;"
echo "   sys/rt and the top syscalls: system calls per round trip (strace -c -f)"
awk -v order="$configs" '
function median(list,   n, v, i, j, t) {
	n = split(list, v, " ")
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) {
			t = v[j]; v[j] = v[j - 1]; v[j - 1] = t
		}
	if (n % 2) return v[(n + 1) / 2] + 0
	return (v[n / 2] + v[n / 2 + 1]) / 2
}
FNR == 1 { file++ }
file == 1 {
	if (!($1 in seen)) { seen[$1] = 1; cs[++nc] = $1 }
	rtps[$1, $2] = rtps[$1, $2] " " $4
	us[$1, $2] = us[$1, $2] " " $5
	uu[$1, $2] = uu[$1, $2] " " $6
}
file == 2 {
	if ($3 == "total") { tot[$1, $2] = $4; next }
	ns = ++nsys[$1, $2]; sname[$1, $2, ns] = $3; scnt[$1, $2, ns] = $4
}
END {
	nk = split(order, ks, " ")
	name["w0"] = "echosrv -t1 -w0"; name["w1"] = "echosrv -t1 -w1"
	name["w0s"] = "echosrv -t1 -w0 +stats"
	name["raw"] = "echo_epoll"
	printf "%-9s %-23s %9s %8s %7s %6s %8s  %s\n", "case", "config",
	    "rt/s", "us/rt", "user", "ratio", "sys/rt", "top syscalls per rt"
	for (i = 1; i <= nc; i++) {
		c = cs[i]
		base = ((c, "raw") in us) ? median(us[c, "raw"]) : 0
		for (j = 1; j <= nk; j++) {
			k = ks[j]
			if (!((c, k) in us)) continue
			u = median(us[c, k])
			top = ""
			# strace -c sorts by time; pick the 4 largest counts
			n = nsys[c, k]
			for (a = 1; a <= n; a++) used[a] = 0
			for (t = 1; t <= 4 && t <= n; t++) {
				best = 0
				for (a = 1; a <= n; a++)
					if (!used[a] && (best == 0 || scnt[c, k, a] + 0 > scnt[c, k, best] + 0))
						best = a
				used[best] = 1
				top = top sprintf("%s%s %.3f", t > 1 ? "  " : "",
				    sname[c, k, best], scnt[c, k, best])
			}
			ratio = "-"
			if (base > 0) ratio = sprintf("%.2f", u / base)
			sys = "-"
			if ((c, k) in tot) sys = sprintf("%.3f", tot[c, k])
			printf "%-9s %-23s %9.0f %8.3f %7.3f %6s %8s  %s\n", c,
			    name[k], median(rtps[c, k]), u, median(uu[c, k]), ratio,
			    sys, top
		}
	}
}' "$tmp/timed" "$tmp/sys"
echo "(rt/s is informational: it depends on the client too; read us/rt and ratio."
echo " Ratios within about +-10% of 1 are noise on a shared 2-core machine: rerun with -r 5.)"
exit $status
