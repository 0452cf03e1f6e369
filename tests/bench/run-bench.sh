#!/bin/sh
# run-bench.sh - "make bench": build and run every benchmark case, then
# print one table of all their figures.  Run by tests/bench/bench.mk from
# the build directory (it needs MAKE, and CC to look for the peers'
# headers); it runs "$MAKE bench-CASE" for each case.
#
#   run-bench.sh [-c "CASE ..."] [-o FILE]
#
#   -c CASES  the cases to run, in order (default "echo http timers chain
#             mem"); a case whose make target bench-CASE does not exist in
#             ./Makefile is skipped with a message
#   -o FILE   where the rows go (default: BENCH_OUT, else
#             ${TMPDIR:-/tmp}/libepump-bench-DATE.tsv); the file is kept
#             and its path printed at the end
#
# Environment: BENCH_ECHO_ARGS, BENCH_HTTP_ARGS, BENCH_TIMERS_ARGS,
# BENCH_CHAIN_ARGS, BENCH_MEM_ARGS are handed to the case's make target as
# its BENCH_ARGS (the outer BENCH_ARGS is not: each case's script takes
# other options).
#
# Every case's script appends rows to the file named by BENCH_TSV, which
# this script sets:
#
#   case<TAB>subject<TAB>metric<TAB>value<TAB>peer<TAB>ratio<TAB>target
#
# with "-" for an empty field.  target is a bound on ratio such as "<=1.0"
# (a bare number means "<="); the table's "met?" column says yes or no when
# both ratio and target are numbers, "-" otherwise.  Lines starting with
# "#" are comments.
#
# Peers: if a peer is missing (libevent-dev libuv1-dev libev-dev
# nginx-light wrk strace) and this runs as root with apt-get, it installs
# them; otherwise it prints the one apt-get command to run and goes on
# (each case skips what it lacks).  Figures are printed, never checked.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

cases="echo http timers chain mem"
out=${BENCH_OUT:-}
MAKE=${MAKE:-make}
CC=${CC:-cc}

usage() {
	echo "usage: $0 [-c \"CASE ...\"] [-o FILE]"
}

while [ $# -gt 0 ]; do
	case $1 in
	-c) cases=${2:?-c wants case names}; shift 2 ;;
	-o) out=${2:?-o wants a file}; shift 2 ;;
	-h|--help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
[ -n "$out" ] ||
    out=${TMPDIR:-/tmp}/libepump-bench-$(date +%Y%m%d-%H%M%S).tsv
if ! : > "$out"; then
	echo "$0: cannot write $out" >&2
	exit 1
fi
{
	echo "# make bench, $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(uname -srm), $(getconf _NPROCESSORS_ONLN 2>/dev/null || echo '?') CPUs"
	printf '# case\tsubject\tmetric\tvalue\tpeer\tratio\ttarget\n'
} >> "$out"

# ---- peers: install what is missing (root + apt-get), else say how ----
has_header() {
	echo "#include <$1>" | $CC -E - >/dev/null 2>&1
}
need=
has_header ev.h || need="$need libev-dev"
has_header event2/event.h || need="$need libevent-dev"
has_header uv.h || need="$need libuv1-dev"
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] ||
    need="$need nginx-light"
command -v wrk >/dev/null 2>&1 || need="$need wrk"
command -v strace >/dev/null 2>&1 || need="$need strace"
if [ -n "$need" ]; then
	if can_apt; then
		echo "== make bench: installing$need (apt-get)"
		# shellcheck disable=SC2086
		apt_install 600 $need ||
		echo "== make bench: apt-get failed; going on without$need"
	else
		echo "== make bench: missing peers; to install them run:"
		echo "   apt-get install -y$need"
		echo "   (going on: each case skips what it lacks)"
	fi
fi

status=0
ran=
for c in $cases; do
	if ! grep -q "^bench-$c:" Makefile 2>/dev/null; then
		echo "== make bench: no target bench-$c in this tree: case $c skipped"
		ran="$ran $c:missing"
		continue
	fi
	case $c in
	echo) args=${BENCH_ECHO_ARGS:-} ;;
	http) args=${BENCH_HTTP_ARGS:-} ;;
	timers) args=${BENCH_TIMERS_ARGS:-} ;;
	chain) args=${BENCH_CHAIN_ARGS:-} ;;
	mem) args=${BENCH_MEM_ARGS:-} ;;
	*) args= ;;
	esac
	echo
	echo "== make bench: $MAKE bench-$c BENCH_ARGS='$args'"
	before=$(grep -vc '^#' "$out")
	if BENCH_TSV=$out $MAKE "bench-$c" "BENCH_ARGS=$args"; then
		st=ok
	else
		st=failed
		status=1
	fi
	after=$(grep -vc '^#' "$out")
	[ "$after" -gt "$before" ] || st="$st,no-rows"
	ran="$ran $c:$st"
done

echo
echo "== make bench: all cases ($(echo "$ran" | sed 's/^ //'))"
awk -F '\t' '
function num(s) { return s ~ /^-?[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?$/ }
function met(ratio, target,   op, t) {
	if (!num(ratio)) return "-"
	op = "<="; t = target
	if (t ~ /^(<=|>=|<|>)/) {
		op = (substr(t, 2, 1) == "=") ? substr(t, 1, 2) : substr(t, 1, 1)
		t = substr(t, length(op) + 1)
	}
	if (!num(t)) return "-"
	if (op == "<=") return (ratio + 0 <= t + 0) ? "yes" : "no"
	if (op == ">=") return (ratio + 0 >= t + 0) ? "yes" : "no"
	if (op == "<") return (ratio + 0 < t + 0) ? "yes" : "no"
	return (ratio + 0 > t + 0) ? "yes" : "no"
}
/^#/ || NF == 0 { next }
{
	n++
	for (i = 1; i <= 7; i++) {
		f[n, i] = (i <= NF && $i != "") ? $i : "-"
	}
	f[n, 8] = met(f[n, 6], f[n, 7])
	if (f[n, 8] == "yes") yes++
	if (f[n, 8] == "no") no++
}
END {
	split("case subject metric value vs-peer ratio target met?", h, " ")
	h[5] = "vs peer"
	for (i = 1; i <= 8; i++) w[i] = length(h[i])
	for (r = 1; r <= n; r++)
		for (i = 1; i <= 8; i++)
			if (length(f[r, i]) > w[i]) w[i] = length(f[r, i])
	for (i = 1; i <= 8; i++) {
		# numbers right-aligned: value, ratio
		fmt[i] = (i == 4 || i == 6) ? "%" w[i] "s" : "%-" w[i] "s"
	}
	fmt[8] = "%s"
	for (i = 1; i <= 8; i++)
		printf fmt[i] (i < 8 ? "  " : "\n"), h[i]
	for (r = 1; r <= n; r++)
		for (i = 1; i <= 8; i++)
			printf fmt[i] (i < 8 ? "  " : "\n"), f[r, i]
	if (n == 0) print "(no rows)"
	else printf "%d rows; targets met: %d, missed: %d\n", n, yes + 0, no + 0
}' "$out"
echo "(rows kept in $out)"
exit $status
