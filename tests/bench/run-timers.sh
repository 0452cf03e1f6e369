#!/bin/sh
# run-timers.sh - run the timer benchmarks side by side and print
# libepump/peer ratios.  Builds nothing: "make bench-timers" builds the
# programs and then runs this script.
#
#   run-timers.sh [-n COUNT] [-s SPREAD_MS] [-f FOREIGN_COUNT] [-r ROUNDS] [-R]
#
#   -n, -s, -f  passed to tests/bench/timers and (-n, -s) to its peers
#   -R          passed to the peers: their watchers in a random address
#               order, as libepump's slab hands out timers (see README.md)
#   -r ROUNDS   rounds, alternating libepump, libev, libevent and libuv so
#               that machine noise hits all alike (default 3, at most 40);
#               the summary takes each phase's median over the rounds, and
#               as its ratio the median of the ratios within each round,
#               with that median's 95% confidence interval from 6 rounds
#
# BENCH_BINDIR names the directory that holds timers, timerq and
# peers/timers_{libev,libevent,libuv} (default: this script's directory).
# A peer that was not built is skipped, with a message.  Figures are
# printed, never checked: a ratio above 1 means libepump took longer.
#
# With BENCH_TSV=FILE in the environment, the summary is also appended to
# FILE as rows "case subject metric value peer ratio target" (tab-separated,
# "-" for empty; see tests/bench/run-bench.sh): per phase, libepump's cpu
# ns/op with its ratio to libev (target <=1.0) and to the other peers, and
# each peer's own figure.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

bindir=${BENCH_BINDIR:-$(dirname "$0")}
rounds=3
count=
spread=
foreign=
scatter=

usage() {
	echo "usage: $0 [-n COUNT] [-s SPREAD_MS] [-f FOREIGN_COUNT] [-r ROUNDS] [-R]"
}

while [ $# -gt 0 ]; do
	case $1 in
	-n) count=${2:?-n wants a count}; shift 2 ;;
	-s) spread=${2:?-s wants milliseconds}; shift 2 ;;
	-f) foreign=${2:?-f wants a count}; shift 2 ;;
	-r) rounds=${2:?-r wants a number}; shift 2 ;;
	-R) scatter=yes; shift ;;
	-h|--help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
posint "$rounds" -r 40

args=
[ -n "$count" ] && args="$args -n $count"
[ -n "$spread" ] && args="$args -s $spread"
pargs=$args
[ -n "$scatter" ] && pargs="$pargs -R"
[ -n "$foreign" ] && args="$args -f $foreign"

timers=$bindir/timers
timerq=$bindir/timerq
for p in "$timers" "$timerq"; do
	if [ ! -x "$p" ]; then
		echo "$0: $p is not built (make bench-timers builds it)" >&2
		exit 1
	fi
done
peers=
for p in libev libevent libuv; do
	if [ -x "$bindir/peers/timers_$p" ]; then
		peers="$peers $p"
	else
		case $p in
		libev) pkg=libev-dev ;; libevent) pkg=libevent-dev ;;
		*) pkg=libuv1-dev ;;
		esac
		echo "== $p peer not built ($bindir/peers/timers_$p): no ratios to it"
		echo "   (install $pkg and run make bench-timers again)"
	fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/run-timers.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP PIPE

# Rows of a table: "phase count wall cpu" -> "phase wall cpu count" lines.
rows() {
	awk '$2 ~ /^[0-9]+$/ && $3 ~ /^[0-9.]+$/ && $4 ~ /^[0-9.]+$/ \
	     { print $1, $3, $4, $2 }' "$1"
}

status=0
: > "$tmp/epump"
r=1
while [ "$r" -le "$rounds" ]; do
	echo "== round $r/$rounds: $timers$args"
	# shellcheck disable=SC2086
	if "$timers" $args > "$tmp/out" 2>&1; then
		cat "$tmp/out"
		rows "$tmp/out" >> "$tmp/epump"
	else
		cat "$tmp/out"
		echo "== $timers failed"
		status=1
		break
	fi
	for p in $peers; do
		echo "== round $r/$rounds: $bindir/peers/timers_$p$pargs"
		# shellcheck disable=SC2086
		if "$bindir/peers/timers_$p" $pargs > "$tmp/out" 2>&1; then
			cat "$tmp/out"
			rows "$tmp/out" >> "$tmp/$p"
		else
			cat "$tmp/out"
			echo "== timers_$p failed: going on without it"
			_left=
			for q in $peers; do
				[ "$q" = "$p" ] || _left="$_left $q"
			done
			peers=$_left
			rm -f "$tmp/$p"
		fi
	done
	r=$((r + 1))
done

# The summary: per phase and subject, the median over the rounds of each
# figure; the ratio libepump / peer is the median of the ratios within each
# round (a process's luck with its memory moves all of its phases alike,
# by up to 40% here, so a median of the figures alone is fragile).
if [ "$status" = 0 ]; then
	echo
	echo "== summary: median of $rounds round(s), ns/op; ratio = libepump / peer," \
	     "the median of the ratios within each round"
	files="$tmp/epump"
	names=libepump
	for p in libev libevent libuv; do
		[ -f "$tmp/$p" ] || : > "$tmp/$p"
		files="$files $tmp/$p"
		names="$names $p"
	done
	# shellcheck disable=SC2086
	awk -v names="$names" -v tsv="${BENCH_TSV:-}" "$awk_median$awk_row"'
	FNR == 1 { file++ }
	{
		if (!($1 in seen)) { seen[$1] = 1; order[++np] = $1 }
		if (file == 1) cnt[$1] = $4
		w[file, $1] = w[file, $1] " " $2
		c[file, $1] = c[file, $1] " " $3
		# The n-th row of a phase in a file is from round n.
		n = ++nr[file, $1]
		rw[file, $1, n] = $2
		rc[file, $1, n] = $3
	}
	# The ratios of file 1 to file k within each round, of figure x
	# ("w" or "c"), as a list for median() and medci().
	function rounds_ratio(k, p, x,    n, list) {
		list = ""
		for (n = 1; n <= nr[1, p] && n <= nr[k, p]; n++)
			if (x == "w" && rw[k, p, n] > 0)
				list = list " " rw[1, p, n] / rw[k, p, n]
			else if (x == "c" && rc[k, p, n] > 0)
				list = list " " rc[1, p, n] / rc[k, p, n]
		return list
	}
	END {
		nn = split(names, name, " ")
		printf "%-14s %-9s %10s %10s %12s %12s  %s\n", "phase", "subject",
		    "wall ns", "cpu ns", "ratio wall", "ratio cpu",
		    "cpu ratio 95% CI"
		for (i = 1; i <= np; i++) {
			p = order[i]
			ew = median(w[1, p]); ec = median(c[1, p])
			printf "%-14s %-9s %10.1f %10.1f %12s %12s\n", p,
			    "libepump", ew, ec, "-", "-"
			for (k = 2; k <= nn; k++) {
				if (!((k, p) in w))
					continue
				lw = median(w[k, p]); lc = median(c[k, p])
				lr = rounds_ratio(k, p, "c")
				rcpu[k, p] = lr == "" ? "-" : sprintf("%.2f", median(lr))
				rwl = rounds_ratio(k, p, "w")
				printf "%-14s %-9s %10.1f %10.1f %12s %12s  %s\n",
				    "", name[k], lw, lc,
				    rwl == "" ? "-" : sprintf("%.2f", median(rwl)),
				    rcpu[k, p], lr == "" ? "-" : medci(lr, "%.2f")
			}
			metric = "cpu ns/" p " (n=" cnt[p] ")"
			peered = 0
			for (k = 2; k <= nn; k++) {
				if (!((k, p) in w))
					continue
				row("timers", "libepump", metric,
				    sprintf("%.1f", ec), name[k], rcpu[k, p],
				    name[k] == "libev" ? "<=1.0" : "-")
				peered = 1
			}
			if (!peered)
				row("timers", "libepump", metric,
				    sprintf("%.1f", ec), "-", "-", "-")
			for (k = 2; k <= nn; k++)
				if ((k, p) in w)
					row("timers", name[k], metric,
					    sprintf("%.1f", median(c[k, p])),
					    "-", "-", "-")
		}
	}' $files
	echo "(fire: wall includes sleeping until the last deadline; compare cpu)"
	echo "(restart: libepump iotimer_restart; libev ev_timer_again, libevent"
	echo " evtimer_add on an added event, libuv uv_timer_start on a running timer)"
	[ -n "${BENCH_TSV:-}" ] && echo "(rows appended to $BENCH_TSV)"
fi

echo
echo "== $timerq (heap vs wheel; its own alternating rounds)"
# shellcheck disable=SC2086
"$timerq" ${count:+-n "$count"} || status=1
exit $status
