#!/bin/sh
# echo-run.sh - the echo benchmark: examples/echosrv (libepump) beside the
# same server on raw epoll (tests/bench/peers/echo_epoll) and on libevent,
# libuv and libev (tests/bench/peers/echo_lib*), all driven by the same
# closed-loop client (tests/bench/echoload).  Builds nothing: "make
# bench-echo" builds the programs and then runs this script.
#
#   echo-run.sh [-r ROUNDS] [-d SECONDS] [-n COUNT] [-c "CONNSxSIZE ..."]
#               [-e ECHOSRV] [-k "SUBJECT ..."] [-S] [-I COUNT]
#
#   -r ROUNDS  timed rounds per case, alternating the servers (A B C, A B C,
#              ...) so that machine noise hits all alike (default 3, 1..20)
#   -d SECONDS length of one timed run (default 5)
#   -n COUNT   round trips of the strace run of each server (default 20000)
#   -c CASES   connections x message bytes (default "50x64 1000x1024")
#   -e ECHOSRV the echosrv to run (default BENCH_BINDIR/../../examples/echosrv)
#   -k SUBJECTS only these servers (names as in the table; default: all;
#              raw-epoll is always run, every ratio needs it)
#   -S         skip the strace runs (no syscall columns)
#   -I COUNT   also count the server's user-space instructions per round
#              trip with valgrind's callgrind (see below; off by default)
#
# Servers (subjects), each pinned to CPU 0 with taskset, the client to CPU 1:
#   raw-epoll             peers/echo_epoll, the reference
#   libepump-w0           echosrv -t 1 -w 0 -D (handlers on the epump
#                         thread; echoes written with send(2))
#   libepump-w1           echosrv -t 1 -w 1 -D (one worker runs them)
#   libepump-buffered     echosrv -t 1 -w 0 (echoes through iodev_send)
#   libepump-stats        the same with EPUMP_STATS=1 (its ratio is to
#                         libepump-buffered: stats on over stats off)
#   libevent-event_new    peers/echo_libevent (read callback, write(2))
#   libevent-bufferevent  peers/echo_libevent -B
#   libuv-try_write       peers/echo_libuv (uv_read_start, uv_try_write)
#   libuv-uv_write        peers/echo_libuv -B
#   libev-ev_io           peers/echo_libev
# A peer that is not built is skipped (with a line saying so).
#
# Per timed run: the server's CPU time (user + system, all its threads) is
# sampled right before and right after the client's timed phase (the client is gated: it
# connects and makes one untimed round trip per connection first, and
# closes its connections only after the second sample), and divided by the
# round trips done: server us/rt.  The CPU time is the sum over its threads
# of /proc/PID/task/TID/schedstat's first field (ns), or, where that file
# is missing, utime + stime of /proc/PID/stat (clock ticks: 10 ms each at
# CLK_TCK 100, coarse for short runs); "user", the user-space part, always
# comes from the ticks (a trend only).  rt/s is printed but is informational: it
# depends on the client as much as on the server.
#
# Per server and case, a separate run with `strace -c -f -p PID` attached
# during COUNT round trips counts the server's system calls per round trip.
# strace slows the server down a lot: only the counts of that run are used.
#
# With -I, per server and case, two more runs under `valgrind
# --tool=callgrind` (through ../../libtool --mode=execute from
# BENCH_BINDIR when there is one, for libtool's wrapper scripts), with
# COUNT and 3 x COUNT round trips of an ungated client: the difference of
# their instruction counts over the difference of their round trips is
# the server's user-space instructions per round trip (Ir/rt), setup and
# teardown cancelled out.  It is exact and repeatable, unlike the CPU time
# of a shared machine, but blind to the kernel, which does most of a
# round trip's work.
#
# BENCH_BINDIR names the directory that holds echoload and peers/ (default:
# this script's directory).  If BENCH_TSV names a file, one line per figure
# is appended to it: "case subject metric value peer ratio target",
# tab-separated, "-" for an empty field (metric cpu_us_per_rt, whose target
# bounds the ratio, or syscalls_per_rt, whose target bounds the value).
# Figures are printed, never checked (the "met" column is informational);
# a ratio is the median over the rounds of the ratio within each round
# (the servers of a round run back to back), us/rt the median of the runs.  Every run is bounded in time: a
# client that does not finish is killed, a server that does not stop on
# SIGTERM too.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

bindir=${BENCH_BINDIR:-$(dirname "$0")}
rounds=3
secs=5
scount=20000
cases="50x64 1000x1024"
echosrv=
do_strace=yes
only=
icount=

usage() {
	echo "usage: $0 [-r ROUNDS] [-d SECONDS] [-n COUNT] [-c \"CONNSxSIZE ...\"] [-e ECHOSRV] [-k \"SUBJECT ...\"] [-S] [-I COUNT]"
}

while [ $# -gt 0 ]; do
	case $1 in
	-r) rounds=${2:?-r wants a number}; shift 2 ;;
	-d) secs=${2:?-d wants seconds}; shift 2 ;;
	-n) scount=${2:?-n wants a count}; shift 2 ;;
	-c) cases=${2:?-c wants cases like 50x64}; shift 2 ;;
	-e) echosrv=${2:?-e wants a path}; shift 2 ;;
	-k) only=${2:?-k wants subject names}; shift 2 ;;
	-S) do_strace=no; shift ;;
	-I) icount=${2:?-I wants a count}; shift 2 ;;
	-h|--help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
posint "$rounds" -r 20
posint "$secs" -d 600
posint "$scount" -n 100000000
[ -z "$icount" ] || posint "$icount" -I 10000000
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
need_run_tools
if [ -n "$need" ]; then
	if can_apt; then
		echo "== installing$need (apt-get)"
		# shellcheck disable=SC2086
		apt_install 300 $need
	else
		echo "== missing:$need (not root or no apt-get: install them)"
	fi
fi
if ! command -v timeout >/dev/null 2>&1; then
	echo "$0: timeout(1) is needed to bound the runs" >&2
	exit 1
fi
pin_cpus client
if [ -n "$icount" ] && ! command -v valgrind >/dev/null 2>&1; then
	echo "== no valgrind: no instruction counts"
	icount=
fi
ltexec=
[ -x "$bindir/../../libtool" ] && ltexec="$bindir/../../libtool --mode=execute"
check_strace
hz=$(getconf CLK_TCK)
posint "$hz" CLK_TCK 1000000
# 1,000 connections need more than the usual 1,024 fds, on both ends.
raise_nofile

tmp=$(mktemp -d "${TMPDIR:-/tmp}/echo-run.XXXXXX") || exit 1
spid=
lpid=
stpid=
# shellcheck disable=SC2317
cleanup() {
	# shellcheck disable=SC2086
	kill_all $stpid $lpid $spid
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# Subjects: "subject peer cpu-target syscall-target binary [args]"; the
# command gets -p/-a appended.  Targets are those of the issue: the
# cpu_us_per_rt ratio to the peer, the syscalls per round trip.
subjects() {
	cat <<-EOF
	raw-epoll - - - $peer
	libepump-w0 raw-epoll <=1.03 <=2.05 $echosrv -t 1 -w 0 -D
	libepump-w1 raw-epoll <=1.30 <=2.3 $echosrv -t 1 -w 1 -D
	libepump-buffered raw-epoll <=1.10 - $echosrv -t 1 -w 0
	libepump-stats libepump-buffered <=1.02 - env EPUMP_STATS=1 EPUMP_STATS_SOCKET=$tmp/stats.sock $echosrv -t 1 -w 0
	libevent-event_new raw-epoll - - $bindir/peers/echo_libevent
	libevent-bufferevent raw-epoll - - $bindir/peers/echo_libevent -B
	libuv-try_write raw-epoll - - $bindir/peers/echo_libuv
	libuv-uv_write raw-epoll - - $bindir/peers/echo_libuv -B
	libev-ev_io raw-epoll - - $bindir/peers/echo_libev
	EOF
}
config_cmd() {
	subjects | while read -r _n _p _t1 _t2 _cmd; do
		[ "$_n" = "$1" ] && echo "$_cmd"
	done
}
config_name() { echo "$1"; }

# start_server CONFIG: runs it pinned; sets spid and port.
start_server() {
	# shellcheck disable=SC2046
	start_listener 100 "$(config_name "$1")" $(config_cmd "$1")
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
	_n0=$(cpu_ns "$spid")
	_t0=$(ticks "$spid")
	echo go >&3
	sleep "$secs"
	finish_client 60
	_t1=$(ticks "$spid")
	_n1=$(cpu_ns "$spid")
	release_client || { stop "$spid"; spid=; return 1; }
	stop "$spid"
	spid=
	# shellcheck disable=SC2086
	set -- "$@" $_t0 $_t1  # $4 $5: utime stime before, $6 $7: after
	_tu=$(($6 - $4))
	_tt=$((_tu + $7 - $5))
	if [ "$_n0" != - ] && [ "$_n1" != - ]; then
		_us=$(awk -v ns="$((_n1 - _n0))" -v rt="$rt" \
		    'BEGIN { printf "%.3f", (rt > 0 ? ns / 1e3 / rt : 0) }')
	else
		_us=$(awk -v t="$_tt" -v hz="$hz" -v rt="$rt" \
		    'BEGIN { printf "%.3f", (rt > 0 ? t * 1e6 / hz / rt : 0) }')
	fi
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
	if ! strace_attach "$spid"; then
		echo go >&3; finish_client "$((secs + 70))"; release_client
		stop "$spid"; spid=
		return 1
	fi
	echo go >&3
	finish_client "$((secs + 70))"
	stop "$stpid" INT  # strace prints its table when it detaches
	stpid=
	release_client || { stop "$spid"; spid=; return 1; }
	stop "$spid"
	spid=
	strace_counts "$tmp/strace.out" "$rt" "$1 $2" >> "$tmp/sys"
	printf '   %-9s %-23s strace: %d rt, %s syscalls/rt\n' "$1" \
	    "$(config_name "$2")" "$rt" "$(awk -v c="$1" -v k="$2" \
	    '$1 == c && $2 == k && $3 == "total" { print $4 }' "$tmp/sys")"
}

# One pair of callgrind runs: appends "case config instructions_per_rt"
# to $tmp/ir.
icount_run() { # case config
	_case=$1 _conns=${1%x*} _size=${1#*x} _k=$2 _envs='' _ir='' _rt=''
	# shellcheck disable=SC2046
	set -- $(config_cmd "$_k")
	if [ "$1" = env ]; then
		shift
		while case $1 in *=*) :;; *) false;; esac; do
			_envs="$_envs $1"
			shift
		done
	fi
	for _cnt in "$icount" "$((icount * 3))"; do
		rm -f "$tmp/cg.out" "$tmp/load.out"
		# shellcheck disable=SC2086
		start_listener 600 "$_k under callgrind" env $_envs $ltexec \
		    valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" \
		    "$@" || return 1
		$clicpu timeout -s KILL 900 "$load" -p "$port" -c "$_conns" \
		    -s "$_size" -n "$_cnt" -d 600 > "$tmp/load.out" 2>&1
		_st=$?
		# callgrind writes its file on the way out: up to 60 s
		stop "$spid" TERM 600
		spid=
		wait_for "$tmp/load.out" "round_trips *" 0 || _st=1
		_r=${found#round_trips }
		_i=$(awk '$1 == "totals:" || $1 == "summary:" { print $2; exit }' \
		    "$tmp/cg.out" 2>/dev/null)
		if [ "$_st" != 0 ] || [ -z "$_i" ]; then
			echo "== $_k under callgrind failed (client exit $_st):"
			cat "$tmp/load.out" "$tmp/srv.out"
			return 1
		fi
		_ir="$_ir $_i"
		_rt="$_rt $_r"
	done
	# shellcheck disable=SC2086
	set -- $_ir $_rt
	_v=$(awk -v i1="$1" -v i2="$2" -v r1="$3" -v r2="$4" \
	    'BEGIN { printf "%.0f", (r2 > r1 ? (i2 - i1) / (r2 - r1) : 0) }')
	printf '   %-9s %-23s callgrind: %s user-space instructions/rt\n' \
	    "$_case" "$_k" "$_v"
	echo "$_case $_k $_v" >> "$tmp/ir"
}

# The subjects to run: those picked with -k (and the peers their ratios
# need), whose program is built.
wanted() { # subject
	[ -z "$only" ] && return 0
	for _w in $only raw-epoll; do
		[ "$_w" = "$1" ] && return 0
	done
	# a subject another picked one is measured against
	subjects | while read -r _n _p _rest; do
		for _w in $only; do
			[ "$_w" = "$_n" ] && [ "$_p" = "$1" ] && echo yes
		done
	done | grep -q yes
}
configs=
for k in $(subjects | while read -r n _rest; do echo "$n"; done); do
	wanted "$k" || continue
	# shellcheck disable=SC2046
	set -- $(config_cmd "$k")
	[ "$1" = env ] && while shift && case $1 in *=*) :;; *) false;; esac; do :; done
	if [ ! -x "$1" ]; then
		echo "== $k: $1 is not built (no library headers?): skipped"
		continue
	fi
	configs="$configs $k"
done
for w in $only; do
	case " $configs " in *" $w "*) ;; *)
		subjects | grep -q "^$w " ||
		{ echo "$0: -k: no subject '$w'" >&2; exit 2; } ;;
	esac
done

[ -r /proc/self/schedstat ] && clock="schedstat (ns)" || clock="/proc/PID/stat ticks"
echo "== echo benchmark: servers pinned with '${srvcpu:-nothing}', client with '${clicpu:-nothing}'"
echo "   cases: $cases; $rounds round(s) of $secs s; strace runs: $([ "$do_strace" = yes ] && echo "$scount rt" || echo no); CPU time from $clock"
echo "   subjects:$configs"
status=0
: > "$tmp/timed"
: > "$tmp/sys"
: > "$tmp/ir"
subjects > "$tmp/subjects"
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
	if [ -n "$icount" ]; then
		echo "== $c instructions (callgrind, $icount and $((icount * 3)) round trips)"
		for k in $configs; do
			icount_run "$c" "$k" || status=1
		done
	fi
done

echo
echo "== summary: median of $rounds round(s); us/rt = server CPU (user+sys) per round trip,"
echo "   user = its user-space part; ratio = us/rt / the peer's us/rt (raw-epoll, or for"
echo "   libepump-stats, libepump-buffered: stats on / stats off); sys/rt and the top"
echo "   syscalls: system calls per round trip (strace -c -f); target: the issue's"
echo "   bound on the ratio and on sys/rt; met: whether this run's figures are within it;"
echo "   Ir/rt: user-space instructions per round trip (callgrind, -I), Ir-x: its ratio"
: > "$tmp/tsv"
awk -v order="$configs" -v tsv="$tmp/tsv" "$awk_median$awk_row"'
# "<=1.03" and a figure: "yes", "NO", or "-" (no target or no figure)
function met(target, x) {
	if (target == "-" || x == "-") return "-"
	return (x + 0 <= substr(target, 3) + 0) ? "yes" : "NO"
}
# By name: an empty file (no strace runs with -S) has no first record.
FNR == 1 {
	file = FILENAME ~ /subjects$/ ? 1 : FILENAME ~ /timed$/ ? 2 : \
	    FILENAME ~ /sys$/ ? 3 : 4
}
file == 1 { peer[$1] = $2; tcpu[$1] = $3; tsys[$1] = $4; next }
file == 2 {
	if (!($1 in seen)) { seen[$1] = 1; cs[++nc] = $1 }
	rtps[$1, $2] = rtps[$1, $2] " " $4
	us[$1, $2] = us[$1, $2] " " $5
	uu[$1, $2] = uu[$1, $2] " " $6
	ur[$1, $2, $3] = $5
	if ($3 > nround) nround = $3
	next
}
file == 3 {
	if ($3 == "total") { tot[$1, $2] = $4; next }
	ns = ++nsys[$1, $2]; sname[$1, $2, ns] = $3; scnt[$1, $2, ns] = $4
	next
}
file == 4 { ir[$1, $2] = $3 }
END {
	nk = split(order, ks, " ")
	printf "%-9s %-20s %7s %7s %6s %5s %-16s %7s %-6s %-4s %5s %5s %s\n",
	    "case", "subject", "rt/s", "us/rt", "user", "ratio", "target",
	    "sys/rt", "target", "met", "Ir/rt", "Ir-x", "top syscalls per rt"
	for (i = 1; i <= nc; i++) {
		c = cs[i]
		for (j = 1; j <= nk; j++) {
			k = ks[j]
			if (!((c, k) in us)) continue
			u = median(us[c, k])
			top = ""
			# strace -c sorts by time; pick the 3 largest counts
			n = nsys[c, k]
			for (a = 1; a <= n; a++) used[a] = 0
			for (t = 1; t <= 3 && t <= n; t++) {
				best = 0
				for (a = 1; a <= n; a++)
					if (!used[a] && (best == 0 || scnt[c, k, a] + 0 > scnt[c, k, best] + 0))
						best = a
				used[best] = 1
				top = top sprintf("%s%s %.3f", t > 1 ? " " : "",
				    sname[c, k, best], scnt[c, k, best])
			}
			p = peer[k]
			# The median of the ratios within each round (a round
			# runs every server back to back: a slow spell of the
			# machine that spans rounds cancels out).
			ratio = "-"
			rl = ""
			if (p != "-")
				for (r = 1; r <= nround; r++)
					if ((c, k, r) in ur && (c, p, r) in ur &&
					    ur[c, p, r] > 0)
						rl = rl " " ur[c, k, r] / ur[c, p, r]
			if (rl != "")
				ratio = sprintf("%.3f", median(rl))
			if (rl != "" && tcpu[k] != "-")
				cil[++ncil] = sprintf("%-9s %-20s %.2f (%s)", c, k,
				    ratio, medci(rl, "%.2f"))
			sys = "-"
			if ((c, k) in tot) sys = sprintf("%.3f", tot[c, k])
			m = met(tcpu[k], ratio)
			m2 = met(tsys[k], sys)
			if (m == "NO" || m2 == "NO") m = "NO"
			else if (m == "-") m = m2
			tgt = tcpu[k] == "-" ? "-" : tcpu[k] "x"
			if (p != "-" && p != "raw-epoll") tgt = tgt " " substr(p, 10)
			irv = ((c, k) in ir) ? ir[c, k] : "-"
			irx = "-"
			if (irv != "-" && p != "-" && (c, p) in ir && ir[c, p] > 0)
				irx = sprintf("%.2f", irv / ir[c, p])
			printf "%-9s %-20s %7.0f %7.3f %6.3f %5s %-16s %7s %-6s %-4s %5s %5s %s\n",
			    c, k, median(rtps[c, k]), u, median(uu[c, k]),
			    ratio == "-" ? "-" : sprintf("%.2f", ratio), tgt, sys,
			    tsys[k], m, irv, irx, top
			row("echo-" c, k, "cpu_us_per_rt", sprintf("%.3f", u),
			    ratio == "-" ? "-" : p, ratio, tcpu[k])
			if (sys != "-")
				row("echo-" c, k, "syscalls_per_rt", sys, "-", "-", tsys[k])
			if (irv != "-")
				row("echo-" c, k, "user_instr_per_rt", irv,
				    irx == "-" ? "-" : p, irx == "-" ? "-" : \
				    sprintf("%.3f", irv / ir[c, p]), "-")
		}
	}
	if (ncil > 0) {
		print ""
		print "ratios with a target, each with a 95% confidence interval of its median"
		print "(\"-\": under 6 rounds):"
		for (i = 1; i <= ncil; i++)
			print cil[i]
	}
}' "$tmp/subjects" "$tmp/timed" "$tmp/sys" "$tmp/ir"
echo "(rt/s is informational: it depends on the client too; read us/rt and ratio."
echo " The intervals under the table say how much of a ratio may be the machine's noise: more rounds (-r) narrow them.)"
if [ -n "${BENCH_TSV:-}" ]; then
	if cat "$tmp/tsv" >> "$BENCH_TSV"; then
		echo "== $(wc -l < "$tmp/tsv") rows appended to $BENCH_TSV"
	else
		echo "$0: cannot append to BENCH_TSV=$BENCH_TSV" >&2
		status=1
	fi
fi
exit $status
