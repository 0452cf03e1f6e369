#!/bin/sh
# run-mem.sh - memory per idle connection: examples/echosrv (libepump, -t 1
# -w 0) beside raw epoll (tests/bench/peers/echo_epoll) and minimal echo
# servers on libev, libevent and libuv (tests/bench/peers/idle_*), each
# holding COUNT idle TCP connections over loopback from
# tests/bench/chain_conns.  Builds nothing: "make bench-mem" builds the
# programs and then runs this script.
#
#   run-mem.sh [-c COUNT] [-r ROUNDS] [-e ECHOSRV]
#
#   -c COUNT   idle connections (default 9000; each costs the server one fd
#              and the client one)
#   -r ROUNDS  rounds; each round runs every server once, in turn; the
#              summary takes the median (default 3)
#   -e ECHOSRV the echosrv to run (default BENCH_BINDIR/../../examples/echosrv)
#
# One run: the server starts (port 0) and says where it listens; after
# 0.5 s its memory is read from /proc/PID/smaps_rollup ("before": started,
# 0 connections ever); chain_conns opens COUNT connections and makes one
# 1-byte round trip on each (every connection accepted, registered and
# served once), then holds them; 0.5 s later the memory is read again
# ("after").  bytes per connection = (after - before) / COUNT, for:
#   anon   Anonymous: heap and anonymous maps, what the server allocated
#          (the headline figure);
#   rss    Rss: also the file-backed pages (code, libraries) first touched
#          while serving.
# The kernel's own memory (sockets, epoll items) is not in either; it is
# the same for every server.  Then the client resets its connections and
# the server gets SIGTERM (SIGKILL after 10 s).
#
# With BENCH_TSV=FILE, the summary is also appended to FILE as rows
#   case<TAB>subject<TAB>metric<TAB>value<TAB>peer<TAB>ratio<TAB>target
# ("-" where empty): libepump's ratio is against libev, its target 128
# bytes per idle connection.  Figures are printed, never checked.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

bindir=${BENCH_BINDIR:-$(dirname "$0")}
count=9000
rounds=3
echosrv=

usage() {
	echo "usage: $0 [-c COUNT] [-r ROUNDS] [-e ECHOSRV]"
}

while getopts c:r:e:h o; do
	case $o in
	c) posint "$OPTARG" -c 9500; count=$OPTARG ;;
	r) posint "$OPTARG" -r 20; rounds=$OPTARG ;;
	e) echosrv=$OPTARG ;;
	h) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || { usage >&2; exit 2; }
[ -n "$echosrv" ] || echosrv=$bindir/../../examples/echosrv

need_fds "$count" "$count connections"
client=$bindir/chain_conns
[ -x "$client" ] || { echo "$0: $client not built" >&2; exit 1; }
[ -x "$echosrv" ] || { echo "$0: $echosrv not built" >&2; exit 1; }

# name|command; the ones not built are left out.
servers="libepump|$echosrv -t 1 -w 0 -p 0"
for sp in raw-epoll:echo_epoll libev:idle_libev libevent:idle_libevent \
          libuv:idle_libuv; do
	prog=$bindir/peers/${sp#*:}
	if [ -x "$prog" ]; then
		servers="$servers
${sp%%:*}|$prog -p 0"
	else
		echo "$0: $prog not built: no ${sp%%:*}" >&2
	fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/run-mem.XXXXXX") || exit 1
spid=
cpid=
cleanup() {
	[ -n "$cpid" ] && kill "$cpid" 2>/dev/null
	[ -n "$spid" ] && kill "$spid" 2>/dev/null
	[ -n "$cpid" ] && wait "$cpid" 2>/dev/null
	[ -n "$spid" ] && wait "$spid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# kB of field $2 (Rss, Anonymous) of process $1.
mem_kb() {
	if [ -r "/proc/$1/smaps_rollup" ]; then
		awk -v f="$2:" '$1 == f { print $2; exit }' "/proc/$1/smaps_rollup"
	else # old kernels: VmRSS and RssAnon
		case $2 in Rss) f=VmRSS ;; *) f=RssAnon ;; esac
		awk -v f="$f:" '$1 == f { print $2; exit }' "/proc/$1/status"
	fi
}

# One run of server "$1" (name|command): appends "name rss0 rss1 anon0
# anon1" (kB) to $tmp/runs.
one_run() {
	name=${1%%|*}
	cmd=${1#*|}
	# No stale "listening" or "ready" line of the last run: the shell
	# may read the files before the new processes truncate them.
	rm -f "$tmp/srv.out" "$tmp/cli.out"
	$cmd > "$tmp/srv.out" 2> "$tmp/srv.err" &
	spid=$!
	if ! wait_for "$tmp/srv.out" "*listening on*" 100 "$spid"; then
		echo "$0: $name did not start: $(tail -1 "$tmp/srv.err")" >&2
		stop "$spid" TERM 100; spid=
		return
	fi
	port=$(sed -n 's/.*listening on .*:\([0-9][0-9]*\).*/\1/p' \
	       "$tmp/srv.out" | head -1)
	sleep 0.5
	rss0=$(mem_kb "$spid" Rss)
	anon0=$(mem_kb "$spid" Anonymous)
	"$client" -p "$port" -c "$count" -t 120 > "$tmp/cli.out" \
	    2> "$tmp/cli.err" &
	cpid=$!
	if ! wait_for "$tmp/cli.out" "ready*" 900 "$cpid"; then
		echo "$0: $name: the client did not get ready:" \
		     "$(tail -1 "$tmp/cli.err")" >&2
		stop "$cpid" TERM 100; cpid=
		stop "$spid" TERM 100; spid=
		return
	fi
	sleep 0.5
	rss1=$(mem_kb "$spid" Rss)
	anon1=$(mem_kb "$spid" Anonymous)
	stop "$cpid" TERM 100; cpid=
	stop "$spid" TERM 100; spid=
	echo "$name $rss0 $rss1 $anon0 $anon1" >> "$tmp/runs"
}

r=1
while [ $r -le "$rounds" ]; do
	# A here-document, not a pipe: one_run must run in this shell, so
	# that the cleanup trap sees the pids it starts.
	while IFS= read -r s; do
		[ -n "$s" ] && one_run "$s"
	done <<EOF
$servers
EOF
	r=$((r + 1))
done
[ -s "$tmp/runs" ] || { echo "$0: no run succeeded" >&2; exit 1; }

names=$(echo "$servers" | sed 's/|.*//' | tr '\n' ' ')
awk -v names="$names" -v n="$count" -v tsv="${BENCH_TSV:-}" \
    "$awk_median_keyed$awk_row"'
{
	add($1 SUBSEP "rss0", $2); add($1 SUBSEP "rss1", $3)
	add($1 SUBSEP "anon0", $4); add($1 SUBSEP "anon1", $5)
	add($1 SUBSEP "rssb", ($3 - $2) * 1024 / n)
	add($1 SUBSEP "anonb", ($5 - $4) * 1024 / n)
}
END {
	k = split(names, nm, " ")
	base = median("libev" SUBSEP "anonb")
	printf "%-10s %6s %10s %10s %10s %10s | %9s %9s %8s\n", "server",
	    "conns", "rss0 kB", "rss1 kB", "anon0 kB", "anon1 kB",
	    "anon B/c", "rss B/c", "/libev"
	for (i = 1; i <= k; i++) {
		s = nm[i]
		a = median(s SUBSEP "anonb")
		if (a < 0) continue
		b = median(s SUBSEP "rssb")
		rt = base > 0 ? sprintf("%.2f", a / base) : "-"
		printf "%-10s %6d %10d %10d %10d %10d | %9.1f %9.1f %8s\n", s, n,
		    median(s SUBSEP "rss0"), median(s SUBSEP "rss1"),
		    median(s SUBSEP "anon0"), median(s SUBSEP "anon1"), a, b, rt
		peer = "-"; ratio = "-"
		if (s != "libev" && base > 0) { peer = "libev"; ratio = rt }
		row(sprintf("mem-%d", n), s, "anon_bytes_per_conn",
		    sprintf("%.1f", a), peer, ratio,
		    s == "libepump" ? "<=128" : "-")
		row(sprintf("mem-%d", n), s, "rss_bytes_per_conn",
		    sprintf("%.1f", b), "-", "-", "-")
	}
}' "$tmp/runs"
echo
echo "B/c = bytes per idle connection: (memory with $count connections -" \
     "memory with none) / $count, median of $rounds; anon = Anonymous," \
     "rss = Rss (/proc/PID/smaps_rollup)"
exit 0
