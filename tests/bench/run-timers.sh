#!/bin/sh
# run-timers.sh - run the timer benchmarks side by side and print
# libepump/libev ratios.  Builds nothing: "make bench-timers" builds the
# programs and then runs this script.
#
#   run-timers.sh [-n COUNT] [-s SPREAD_MS] [-f FOREIGN_COUNT] [-r ROUNDS] [-R]
#
#   -n, -s, -f  passed to tests/bench/timers and (-n, -s) to its libev peer
#   -R          passed to the libev peer: its watchers in a random address
#               order, as libepump's slab hands out timers (see README.md)
#   -r ROUNDS   rounds of the pair, alternating libepump and libev so that
#               machine noise hits both alike (default 3, at most 20); the
#               summary takes each phase's median over the rounds
#
# BENCH_BINDIR names the directory that holds timers, timerq and
# peers/timers_libev (default: this script's directory).  The libev peer is
# skipped, with a message, if it was not built.  Figures are printed, never
# checked: a ratio above 1 means libepump took longer than libev.
set -u

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
case $rounds in
''|*[!0-9]*) echo "$0: -r wants 1..20" >&2; exit 2 ;;
esac
if [ "$rounds" -lt 1 ] || [ "$rounds" -gt 20 ]; then
	echo "$0: -r wants 1..20" >&2
	exit 2
fi

args=
[ -n "$count" ] && args="$args -n $count"
[ -n "$spread" ] && args="$args -s $spread"
pargs=$args
[ -n "$scatter" ] && pargs="$pargs -R"
[ -n "$foreign" ] && args="$args -f $foreign"

timers=$bindir/timers
timerq=$bindir/timerq
libev=$bindir/peers/timers_libev
for p in "$timers" "$timerq"; do
	if [ ! -x "$p" ]; then
		echo "$0: $p is not built (make bench-timers builds it)" >&2
		exit 1
	fi
done
have_libev=yes
if [ ! -x "$libev" ]; then
	have_libev=no
	echo "== libev peer not built ($libev): no libepump/libev ratios"
	echo "   (install libev-dev and run make bench-timers again)"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/run-timers.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

# Rows of a table: "phase count wall cpu" -> "phase wall cpu" lines.
rows() {
	awk '$2 ~ /^[0-9]+$/ && $3 ~ /^[0-9.]+$/ && $4 ~ /^[0-9.]+$/ \
	     { print $1, $3, $4 }' "$1"
}

status=0
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
	if [ "$have_libev" = yes ]; then
		echo "== round $r/$rounds: $libev$pargs"
		# shellcheck disable=SC2086
		if "$libev" $pargs > "$tmp/out" 2>&1; then
			cat "$tmp/out"
			rows "$tmp/out" >> "$tmp/libev"
		else
			cat "$tmp/out"
			echo "== $libev failed: going on without it"
			have_libev=no
		fi
	fi
	r=$((r + 1))
done

# The summary: per phase, the median over the rounds of each figure.
if [ "$status" = 0 ]; then
	echo
	echo "== summary: median of $rounds round(s), ns/op; ratio = libepump / libev"
	[ -f "$tmp/libev" ] || : > "$tmp/libev"
	awk '
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
	{
		if (!($1 in seen)) { seen[$1] = 1; order[++np] = $1 }
		w[file, $1] = w[file, $1] " " $2
		c[file, $1] = c[file, $1] " " $3
	}
	END {
		printf "%-14s %10s %10s %10s %10s %9s %9s\n", "phase",
		    "epump wall", "epump cpu", "libev wall", "libev cpu",
		    "ratio wall", "ratio cpu"
		for (i = 1; i <= np; i++) {
			p = order[i]
			ew = median(w[1, p]); ec = median(c[1, p])
			if ((2, p) in w) {
				lw = median(w[2, p]); lc = median(c[2, p])
				printf "%-14s %10.1f %10.1f %10.1f %10.1f %9.2f %9.2f\n",
				    p, ew, ec, lw, lc,
				    (lw > 0 ? ew / lw : 0), (lc > 0 ? ec / lc : 0)
			} else
				printf "%-14s %10.1f %10.1f %10s %10s %9s %9s\n",
				    p, ew, ec, "-", "-", "-", "-"
		}
	}' "$tmp/epump" "$tmp/libev"
	echo "(fire: wall includes sleeping until the last deadline; compare cpu)"
fi

echo
echo "== $timerq (heap vs wheel; its own alternating rounds)"
# shellcheck disable=SC2086
"$timerq" ${count:+-n "$count"} || status=1
exit $status
