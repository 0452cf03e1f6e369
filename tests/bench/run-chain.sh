#!/bin/sh
# run-chain.sh - the chain benchmark (after libevent's test/bench.c and
# libev's benchmark): libepump (tests/bench/chain) beside raw epoll, libev,
# libevent and libuv (tests/bench/peers/chain_*).  Builds nothing: "make
# bench-chain" builds the programs and then runs this script.
#
#   run-chain.sh [-r ROUNDS] [-q SETUP_ROUNDS] [-w WRITES]
#                [-c "PAIRSxACTIVE ..."] [-s STRACE_WRITES] [-S]
#
#   -r ROUNDS  rounds per case; each round runs every implementation once,
#              in turn, so machine noise falls on all alike (default 3)
#   -q SETUP_ROUNDS
#              further rounds per case that time the setup alone (runs of
#              one hop), added to the ROUNDS runs' setup figures: a setup
#              takes 1-15 ms, a run's processing seconds, so setup needs
#              more samples for the same spread (default 20; 0: none)
#   -w WRITES  hops (bytes passed on) per run (default 100000)
#   -c CASES   pairs x active tokens (default "1000x1 1000x100 1000x1000
#              9000x1 9000x100 9000x1000")
#   -s COUNT   hops of the strace run of each case and program (default
#              20000)
#   -S         no strace runs (no system-call columns)
#
# Each run is one process (tests/bench/chain.h says what it measures):
# setup = making and registering the watchers of all PAIRS read ends, cpu
# ns per fd; proc = passing the tokens on, cpu ns per hop (the CPU time of
# the thread running the loop).  The summary holds the medians over the
# rounds, setup's ratio against libev and proc's ratio against raw epoll
# (targets for libepump: setup <= 1.0 x libev, proc <= 1.05 x raw epoll).
# A ratio is the median of the ratios within each round (a round runs the
# programs back to back), not the ratio of the medians.
#
# A separate run under strace -f counts each program's system calls in
# each phase (between the marker calls close(-1001)..close(-1004) the
# programs make): per fd for setup (epoll_ctl and all), per hop for proc.
# strace's times are never used.
#
# With BENCH_TSV=FILE, the summary is also appended to FILE as rows
#   case<TAB>subject<TAB>metric<TAB>value<TAB>peer<TAB>ratio<TAB>target
# ("-" where empty).  Runs are pinned to CPU 0 with taskset when it is
# there.  Every run is bounded in time (timeout; the programs also stop
# themselves after 120 s with SIGALRM).  Figures are printed, never checked.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

bindir=${BENCH_BINDIR:-$(dirname "$0")}
rounds=3
srounds=20
writes=100000
cases="1000x1 1000x100 1000x1000 9000x1 9000x100 9000x1000"
swrites=20000
do_strace=yes

usage() {
	echo "usage: $0 [-r ROUNDS] [-q SETUP_ROUNDS] [-w WRITES] [-c \"PAIRSxACTIVE ...\"] [-s STRACE_WRITES] [-S]"
}

while getopts r:q:w:c:s:Sh o; do
	case $o in
	r) posint "$OPTARG" -r 50; rounds=$OPTARG ;;
	q) case $OPTARG in
	   ''|*[!0-9]*) echo "$0: -q wants 0..200" >&2; exit 2 ;;
	   esac
	   [ "$OPTARG" -le 200 ] || { echo "$0: -q wants 0..200" >&2; exit 2; }
	   srounds=$OPTARG ;;
	w) posint "$OPTARG" -w 100000000; writes=$OPTARG ;;
	c) cases=$OPTARG ;;
	s) posint "$OPTARG" -s 100000000; swrites=$OPTARG ;;
	S) do_strace=no ;;
	h) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || { usage >&2; exit 2; }
for c in $cases; do
	case $c in
	*x*) posint "${c%%x*}" "pairs of $c" 100000
	     posint "${c#*x}" "active of $c" "${c%%x*}" ;;
	*) echo "$0: a case is PAIRSxACTIVE, not '$c'" >&2; exit 2 ;;
	esac
done

# 9000 pairs are 18000 fds: take the hard limit (about 20000 here).
maxpairs=0
for c in $cases; do
	[ "${c%%x*}" -gt "$maxpairs" ] && maxpairs=${c%%x*}
done
need_fds $((maxpairs * 2)) "$maxpairs pairs"

pin=
if command -v taskset >/dev/null 2>&1 && taskset -c 0 true 2>/dev/null; then
	pin="taskset -c 0"
fi
if [ $do_strace = yes ] && ! command -v strace >/dev/null 2>&1; then
	echo "$0: no strace: no system-call columns" >&2
	do_strace=no
fi

# impl name, program; the ones not built are left out.
impls=
for ip in libepump:chain raw-epoll:peers/chain_epoll libev:peers/chain_libev \
          libevent:peers/chain_libevent libuv:peers/chain_libuv; do
	if [ -x "$bindir/${ip#*:}" ]; then
		impls="$impls $ip"
	else
		echo "$0: $bindir/${ip#*:} not built: no ${ip%%:*}" >&2
	fi
done
case $impls in
*libepump:*) ;;
*) echo "$0: $bindir/chain not built" >&2; exit 1 ;;
esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/run-chain.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# Timed runs: "case impl setup_cpu_ns/fd setup_wall_ns/fd proc_cpu_ns/hop
# proc_wall_ns/hop reads/hop round kind" per run in $tmp/runs; kind P for
# the ROUNDS runs, S for the setup-only ones (their proc is one hop).
for c in $cases; do
	n=${c%%x*}
	a=${c#*x}
	r=1
	while [ $r -le $((rounds + srounds)) ]; do
		if [ $r -le "$rounds" ]; then
			w=$writes kind=P
		else
			w=1 kind=S
		fi
		for ip in $impls; do
			out=$(timeout 150 $pin "$bindir/${ip#*:}" -n "$n" -a "$a" \
			      -w "$w" 2>"$tmp/err") || {
				echo "$0: ${ip%%:*} $c failed:" \
				     "$(tail -1 "$tmp/err")" >&2
				continue
			}
			echo "$out" | awk -v c="$c" -v r="$r" -v k="$kind" '
			$1 == "RESULT" {
				printf "%s %s %.1f %.1f %.1f %.1f %.4f %d %s\n", c,
				    $2, $9 / $4, $8 / $4, $11 / $6, $10 / $6,
				    $7 / $6, r, k
			}' >> "$tmp/runs"
		done
		r=$((r + 1))
	done
done

# strace runs: "case impl setup_sys/fd setup_epoll_ctl/fd proc_sys/hop
# proc_epoll_wait+epoll_pwait/hop top-calls-of-proc" in $tmp/sys.
if [ $do_strace = yes ]; then
	for c in $cases; do
		n=${c%%x*}
		a=${c#*x}
		for ip in $impls; do
			rm -f "$tmp/st"
			timeout 300 strace -f -qq -o "$tmp/st" \
			    "$bindir/${ip#*:}" -n "$n" -a "$a" -w "$swrites" \
			    >/dev/null 2>"$tmp/err" || {
				echo "$0: strace ${ip%%:*} $c failed:" \
				     "$(tail -1 "$tmp/err")" >&2
				continue
			}
			awk -v c="$c" -v impl="${ip%%:*}" -v n="$n" -v w="$swrites" '
			/close\(-1001\)/ { ph = 1; next }
			/close\(-1002\)/ { ph = 0; next }
			/close\(-1003\)/ { ph = 2; next }
			/close\(-1004\)/ { ph = 0; next }
			ph == 0 || /resumed>/ || /^[0-9]+ +(\+\+\+|---)/ { next }
			{
				s = $2; sub(/\(.*/, "", s)
				cnt[ph, s]++; tot[ph]++; names[s] = 1
			}
			END {
				top = ""
				for (k = 0; k < 3; k++) {
					best = ""; bv = 0
					for (s in names)
						if (cnt[2, s] > bv && !(s in used)) {
							best = s; bv = cnt[2, s]
						}
					if (best == "") break
					used[best] = 1
					top = top sprintf(" %s %.3f", best, bv / w)
				}
				printf "%s %s %.2f %.2f %.3f %.3f%s\n", c, impl,
				    tot[1] / n, cnt[1, "epoll_ctl"] / n,
				    tot[2] / w,
				    (cnt[2, "epoll_wait"] + cnt[2, "epoll_pwait"]) / w, top
			}' "$tmp/st" >> "$tmp/sys"
		done
	done
fi
touch "$tmp/sys"

# The summary: medians over the rounds, ratios, the system calls.
awk -v impls="$impls" -v cases="$cases" -v tsv="${BENCH_TSV:-}" \
    "$awk_median_keyed$awk_row"'
FILENAME ~ /runs$/ {
	add($1 SUBSEP $2 SUBSEP "scpu", $3); add($1 SUBSEP $2 SUBSEP "swall", $4)
	rset[$1, $2, $8] = $3
	if ($8 > nr[$1]) nr[$1] = $8
	if ($9 == "S") next
	add($1 SUBSEP $2 SUBSEP "pcpu", $5); add($1 SUBSEP $2 SUBSEP "pwall", $6)
	add($1 SUBSEP $2 SUBSEP "reads", $7)
	rproc[$1, $2, $8] = $5
	next
}
{
	k = $1 SUBSEP $2
	sys[k] = 1; sfd[k] = $3; sctl[k] = $4; phop[k] = $5; pwait[k] = $6
	top[k] = ""
	for (i = 7; i <= NF; i++) top[k] = top[k] " " $i
}
# The median over the rounds of the ratio within each round: a round runs
# every program back to back, so a slow spell of the machine that spans
# rounds cancels out.  -1: no round had both.  Sets pci to a
# 95% confidence interval of the median ("-" under 6 rounds).
function pratio(c, impl, peer, which,    r, k, m) {
	k = c SUBSEP impl SUBSEP peer SUBSEP which
	for (r = 1; r <= nr[c]; r++) {
		if (which == "s" && rset[c, impl, r] > 0 && rset[c, peer, r] > 0)
			add(k, rset[c, impl, r] / rset[c, peer, r])
		if (which == "p" && rproc[c, impl, r] > 0 && rproc[c, peer, r] > 0)
			add(k, rproc[c, impl, r] / rproc[c, peer, r])
	}
	m = median(k)
	pci = medci(k)
	return m
}
END {
	ni = split(impls, im, " ")
	nc = split(cases, cs, " ")
	printf "%-11s %-9s %9s %9s %6s %8s %8s | %9s %9s %6s %7s %8s %8s  %s\n",
	    "case", "impl", "setup", "setup", "ratio", "sys/fd", "ctl/fd",
	    "proc", "proc", "ratio", "reads", "sys/hop", "wait/hop",
	    "top calls per hop"
	printf "%-11s %-9s %9s %9s %6s %8s %8s | %9s %9s %6s %7s %8s %8s\n",
	    "", "", "cpu ns/fd", "wall", "/libev", "", "",
	    "cpu ns/hop", "wall", "/epoll", "/hop", "", ""
	for (ci = 1; ci <= nc; ci++) {
		c = cs[ci]
		bs = median(c SUBSEP "libev" SUBSEP "scpu")
		bp = median(c SUBSEP "raw-epoll" SUBSEP "pcpu")
		for (ii = 1; ii <= ni; ii++) {
			split(im[ii], p, ":"); impl = p[1]
			key = c SUBSEP impl
			sc = median(key SUBSEP "scpu")
			if (sc < 0) continue
			sw = median(key SUBSEP "swall")
			pc = median(key SUBSEP "pcpu")
			pw = median(key SUBSEP "pwall")
			rd = median(key SUBSEP "reads")
			q = pratio(c, impl, "libev", "s")
			rs = q > 0 ? sprintf("%.3f", q) : "-"
			cis = pci
			q = pratio(c, impl, "raw-epoll", "p")
			rp = q > 0 ? sprintf("%.3f", q) : "-"
			cip = pci
			# Tokens that meet in a pair are read together: how
			# often depends on the order a loop runs its handlers
			# in (all pairs active: libev runs them in reverse).
			# With another reads/hop the work differs: no ratio.
			rb = median(c SUBSEP "raw-epoll" SUBSEP "reads")
			if (bp > 0 && rb > 0 && (rd > rb * 1.1 || rd < rb / 1.1))
				rp = "n/c"
			if (key in sys) {
				f1 = sprintf("%.2f", sfd[key]); f2 = sprintf("%.2f", sctl[key])
				f3 = sprintf("%.3f", phop[key]); f4 = sprintf("%.3f", pwait[key])
				tp = top[key]
			} else {
				f1 = f2 = f3 = f4 = "-"; tp = ""
			}
			printf "%-11s %-9s %9.1f %9.1f %6s %8s %8s | %9.1f %9.1f %6s %7.3f %8s %8s %s\n",
			    c, impl, sc, sw, rs, f1, f2, pc, pw, rp, rd, f3, f4, tp
			mine = impl == "libepump"
			if (mine) {
				cil[++ncil] = sprintf("%-11s setup %6s (%s)   proc %6s (%s)",
				    c, rs, cis, rp, rp == "n/c" ? "-" : cip)
				if (tsv != "")
					printf "# chain-%s libepump 95%% CI of the median ratio: setup %s, proc %s\n",
					    c, cis, cip >> tsv
			}
			tgt_s = mine ? "<=1.0" : "-"
			tgt_p = mine ? "<=1.05" : "-"
			ps = "-"; rss = "-"; pp = "-"; rpp = "-"
			if (bs > 0 && impl != "libev") { ps = "libev"; rss = rs }
			if (bp > 0 && impl != "raw-epoll") { pp = "raw-epoll"; rpp = rp }
			row("chain-" c, impl, "setup_ns_per_fd", sprintf("%.1f", sc),
			    ps, rss, tgt_s)
			row("chain-" c, impl, "proc_ns_per_hop", sprintf("%.1f", pc),
			    pp, rpp, tgt_p)
			if (key in sys) {
				lk = c SUBSEP "libev"
				pc2 = "-"; rc2 = "-"
				if ((lk in sys) && impl != "libev") {
					pc2 = "libev"
					if (sctl[lk] > 0)
						rc2 = sprintf("%.2f", sctl[key] / sctl[lk])
				}
				row("chain-" c, impl, "epoll_ctl_per_fd", f2, pc2, rc2,
				    tgt_s)
				row("chain-" c, impl, "setup_syscalls_per_fd", f1,
				    "-", "-", "-")
				row("chain-" c, impl, "proc_syscalls_per_hop", f3,
				    "-", "-", "-")
			}
		}
	}
	if (ncil > 0) {
		print ""
		print "libepump\047s ratios, each with a 95% confidence interval of its median:"
		for (i = 1; i <= ncil; i++)
			print cil[i]
	}
}' "$tmp/runs" "$tmp/sys"

echo
echo "setup: cpu ns per fd to make and register the watchers (median of" \
     "$((rounds + srounds)): $rounds runs and $srounds setup-only runs);" \
     "ratio = / libev's, the median of the ratios within each round"
echo "proc: cpu ns per hop ($writes hops per run, median of $rounds);" \
     "ratio = / raw epoll's (n/c: reads per hop differ by over 10%," \
     "the runs did different work)"
[ $do_strace = yes ] && echo "sys/fd, ctl/fd: system calls and epoll_ctl calls" \
     "per fd in setup; sys/hop, wait/hop (epoll_wait or epoll_pwait): per" \
     "hop in proc ($swrites hops, under strace -f)"
exit 0
