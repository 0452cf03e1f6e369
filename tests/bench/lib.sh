# lib.sh - shell functions shared by the benchmark scripts of tests/bench
# (echo-run.sh, run-http.sh, run-chain.sh, run-mem.sh, run-timers.sh,
# run-bench.sh).  POSIX sh; each script sources it with
#
#   . "$(dirname "$0")/lib.sh"
#
# (the scripts are run as "$(SHELL) $(srcdir)/tests/bench/X.sh", so $0
# names the script in the source tree, VPATH builds included).  It only
# defines functions and variables; it runs nothing.  The functions'
# scratch variables start with "_b" so as not to clobber the scripts' own.
#
# Checks and set-up
#   posint VALUE NAME MAX
#       exits 2 with "$0: NAME wants 1..MAX" unless VALUE is a whole
#       number from 1 to MAX.
#   raise_nofile
#       raises the soft fd limit (ulimit -n) to the hard one, quietly.
#   need_fds COUNT WHAT
#       raise_nofile, then exits 1 with "$0: WHAT need COUNT+64 fds;
#       ulimit -n is N" when COUNT fds and 64 more do not fit under it.
#   need_run_tools
#       appends to need the packages of the tools a client/server run
#       wants that are missing: util-linux (taskset), strace (only when
#       do_strace is yes), coreutils (timeout).
#   can_apt
#       true when packages can be installed here: root, with apt-get.
#   apt_install TIMEOUT PACKAGE...
#       apt-get install -y -q the packages (output discarded), bounded by
#       TIMEOUT seconds; if that fails, apt-get update (300 s) and install
#       once more.  Returns the last apt-get's status.
#   pin_cpus CLIENT
#       sets srvcpu="taskset -c 0" and clicpu="taskset -c 1" (prefixes for
#       the server's and the client's command); both empty without taskset,
#       clicpu on CPU 0 too with one CPU, saying so ("server and CLIENT ...").
#   check_strace
#       when do_strace is yes but there is no strace: says so and sets
#       do_strace=no.
#
# Processes
#   wait_for FILE PATTERN TENTHS [PID]
#       waits (at most TENTHS x 0.1 s) for a line of FILE that matches the
#       case PATTERN; sets found to it.  Returns 1 on time out, or when PID
#       has died without writing the line.
#   stop PID [SIGNAL [TENTHS]]
#       sends SIGNAL (default TERM), waits at most TENTHS x 0.1 s (default
#       50), then SIGKILL; reaps it.
#   kill_all PID...
#       SIGKILL to each (for cleanup traps; errors are not reported).
#   start_listener TENTHS NAME COMMAND...
#       runs "$srvcpu COMMAND -p 0 -a 127.0.0.1" in the background, its
#       output in $tmp/srv.out, and waits at most TENTHS x 0.1 s for its
#       "listening on ADDR:PORT" line; sets spid and port.  On failure it
#       prints "== NAME: no ready line in ... s:" and the output, kills it,
#       empties spid and returns 1.  Uses tmp and srvcpu.
#
# CPU time (from /proc; shell builtins only, so sampling costs no fork)
#   ticks PID...
#       prints "utime stime" summed over the processes (all their threads),
#       in clock ticks (getconf CLK_TCK a second).
#   cpu_ns PID...
#       prints the nanoseconds the processes' threads have been on a CPU
#       (first field of /proc/PID/task/TID/schedstat: exact, where ticks
#       count in 10 ms steps); "-" when there is no schedstat.
#
# strace -c
#   strace_attach PID...
#       starts "strace -c -f -o $tmp/strace.out -p PID..." in the
#       background (its messages in $tmp/strace.err), sets stpid; waits at
#       most 10 s for it to attach, then 0.5 s more for every thread.  On
#       failure it prints strace's messages, kills it, empties stpid and
#       returns 1.  Uses tmp.  "stop $stpid INT" makes strace print its
#       table and detach.
#   strace_counts FILE PER PREFIX
#       prints "PREFIX syscall calls/PER" (%.4f) for every row of the
#       table strace -c wrote to FILE, the "total" row included.
#
# awk text, to put in front of a program: awk "$awk_median"'...'
#   awk_median
#       median(list): the median of the numbers of the space-separated
#       string list; medci(list, fmt): a 95% confidence interval of that
#       median as "LO-HI", each printed with fmt (as medci() below).
#   awk_median_keyed
#       add(key, x) keeps x among the values of key (arrays v and nv);
#       median(key): their median, -1 for none; medci(key): "LO-HI", a 95%
#       confidence interval of that median (the values of ranks n/2 - 0.98
#       sqrt(n) and n/2 + 1 + 0.98 sqrt(n), which holds whatever the
#       values' distribution), "-" for fewer than 6 values.
#   awk_row
#       row(case, subject, metric, value, peer, ratio, target): appends one
#       tab-separated row to the file named by the awk variable tsv (nothing
#       when tsv is ""); the format of BENCH_TSV (see run-bench.sh).

# The functions below set globals for their callers and read some of theirs.
# shellcheck disable=SC2034,SC2154

posint() { # VALUE NAME MAX
	case $1 in
	''|*[!0-9]*) echo "$0: $2 wants 1..$3" >&2; exit 2 ;;
	esac
	if [ "$1" -lt 1 ] || [ "$1" -gt "$3" ]; then
		echo "$0: $2 wants 1..$3" >&2
		exit 2
	fi
}

# dash, bash and busybox sh all have ulimit -n and -H.
# shellcheck disable=SC3045
raise_nofile() {
	ulimit -n "$(ulimit -Hn)" 2>/dev/null || :
}

# shellcheck disable=SC3045
need_fds() { # COUNT WHAT
	raise_nofile
	if [ $(($1 + 64)) -gt "$(ulimit -n)" ]; then
		echo "$0: $2 need $(($1 + 64)) fds;" \
		     "ulimit -n is $(ulimit -n)" >&2
		exit 1
	fi
}

need_run_tools() {
	command -v taskset >/dev/null 2>&1 || need="$need util-linux"
	[ "$do_strace" = yes ] && ! command -v strace >/dev/null 2>&1 &&
	    need="$need strace"
	command -v timeout >/dev/null 2>&1 || need="$need coreutils"
}

can_apt() {
	[ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1
}

apt_install() { # TIMEOUT PACKAGE...
	_bt=$1
	shift
	DEBIAN_FRONTEND=noninteractive timeout "$_bt" \
	    apt-get install -y -q "$@" >/dev/null 2>&1 ||
	{ DEBIAN_FRONTEND=noninteractive timeout 300 apt-get update -q \
	    >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive timeout "$_bt" \
	    apt-get install -y -q "$@" >/dev/null 2>&1; }
}

pin_cpus() { # CLIENT
	srvcpu="taskset -c 0"
	clicpu="taskset -c 1"
	_bc=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
	if ! command -v taskset >/dev/null 2>&1; then
		echo "== no taskset: server and $1 are not pinned"
		srvcpu=
		clicpu=
	elif [ "$_bc" -lt 2 ]; then
		echo "== one CPU: server and $1 both on CPU 0"
		clicpu="taskset -c 0"
	fi
}

check_strace() {
	if [ "$do_strace" = yes ] && ! command -v strace >/dev/null 2>&1; then
		echo "== no strace: no syscall columns"
		do_strace=no
	fi
}

wait_for() { # FILE PATTERN TENTHS [PID]
	_bn=0
	found=
	while :; do
		_bdead=no
		[ $# -ge 4 ] && ! kill -0 "$4" 2>/dev/null && _bdead=yes
		if [ -f "$1" ]; then
			while IFS= read -r _bl; do
				# shellcheck disable=SC2254
				case $_bl in $2) found=$_bl; return 0 ;; esac
			done < "$1"
		fi
		[ "$_bdead" = yes ] && return 1
		[ "$_bn" -ge "$3" ] && return 1
		sleep 0.1
		_bn=$((_bn + 1))
	done
}

stop() { # PID [SIGNAL [TENTHS]]
	kill "-${2:-TERM}" "$1" 2>/dev/null
	_bn=0
	while kill -0 "$1" 2>/dev/null && [ "$_bn" -lt "${3:-50}" ]; do
		sleep 0.1
		_bn=$((_bn + 1))
	done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

kill_all() { # PID...
	for _bp in "$@"; do
		kill -KILL "$_bp" 2>/dev/null
	done
}

start_listener() { # TENTHS NAME COMMAND...
	_bt=$1 _bname=$2
	shift 2
	rm -f "$tmp/srv.out"
	# shellcheck disable=SC2086
	$srvcpu "$@" -p 0 -a 127.0.0.1 > "$tmp/srv.out" 2>&1 &
	spid=$!
	if ! wait_for "$tmp/srv.out" "*listening on *" "$_bt" "$spid"; then
		echo "== $_bname: no ready line in $((_bt / 10)) s:"
		cat "$tmp/srv.out"
		stop "$spid" KILL
		spid=
		return 1
	fi
	port=${found#*listening on }
	port=${port%% *}
	port=${port##*:}
}

ticks() { # PID...
	_bu=0 _bsys=0
	for _bp in "$@"; do
		IFS= read -r _bs < "/proc/$_bp/stat" || return 1
		# shellcheck disable=SC2086
		set -- ${_bs##*) }   # fields from the 3rd (state) on
		_bu=$((_bu + ${12})) _bsys=$((_bsys + ${13}))
	done
	echo "$_bu $_bsys"
}

cpu_ns() { # PID...
	_bns=0
	for _bp in "$@"; do
		for _bf in /proc/"$_bp"/task/*/schedstat; do
			{ IFS=' ' read -r _br _brest < "$_bf"; } 2>/dev/null ||
			    { echo -; return 0; }
			_bns=$((_bns + _br))
		done
	done
	echo "$_bns"
}

strace_attach() { # PID...
	_ba=
	for _bp in "$@"; do
		_ba="$_ba -p $_bp"
	done
	rm -f "$tmp/strace.out" "$tmp/strace.err"
	# shellcheck disable=SC2086
	strace -c -f -o "$tmp/strace.out" $_ba 2> "$tmp/strace.err" &
	stpid=$!
	if ! wait_for "$tmp/strace.err" "*attached*" 100 "$stpid"; then
		echo "== strace did not attach:"
		cat "$tmp/strace.err"
		stop "$stpid" KILL
		stpid=
		return 1
	fi
	sleep 0.5  # every thread attached
}

strace_counts() { # FILE PER PREFIX
	# strace -c rows: "% time  seconds  usecs/call  calls  [errors]  syscall"
	awk -v p="$3" -v n="$2" '
	$NF ~ /^[a-z_0-9]+$/ && $4 ~ /^[0-9]+$/ && $1 ~ /^[0-9.]+$/ {
		printf "%s %s %.4f\n", p, $NF, $4 / n
	}' "$1"
}

# The ranks of a 95% confidence interval of the median of n sorted values
# (order statistics: it holds whatever their distribution), in ci_lo and
# ci_hi.  Part of both median texts below.
awk_ci_ranks='
function ci_ranks(n) {
	ci_lo = int(n / 2 - 0.98 * sqrt(n) + 0.5)
	ci_hi = int(n / 2 + 1 + 0.98 * sqrt(n) + 0.5)
	if (ci_lo < 1) ci_lo = 1
	if (ci_hi > n) ci_hi = n
}
'

awk_median='
function median(list,   n, v, i, j, t) {
	n = split(list, v, " ")
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) {
			t = v[j]; v[j] = v[j - 1]; v[j - 1] = t
		}
	if (n % 2) return v[(n + 1) / 2] + 0
	return (v[n / 2] + v[n / 2 + 1]) / 2
}
function medci(list, fmt,   n, v, i, j, t) {
	n = split(list, v, " ")
	if (n < 6) return "-"
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) {
			t = v[j]; v[j] = v[j - 1]; v[j - 1] = t
		}
	ci_ranks(n)
	return sprintf(fmt "-" fmt, v[ci_lo], v[ci_hi])
}
'"$awk_ci_ranks"

awk_median_keyed='
function median(key,    i, j, t, m) {
	m = nv[key]
	for (i = 2; i <= m; i++)
		for (j = i; j > 1 && v[key, j - 1] > v[key, j]; j--) {
			t = v[key, j]; v[key, j] = v[key, j - 1]; v[key, j - 1] = t
		}
	if (m == 0) return -1
	return m % 2 ? v[key, (m + 1) / 2] : (v[key, m / 2] + v[key, m / 2 + 1]) / 2
}
function add(key, x) { v[key, ++nv[key]] = x }
function medci(key) {
	if (nv[key] < 6) return "-"
	median(key) # sorts the values
	ci_ranks(nv[key])
	return sprintf("%.3f-%.3f", v[key, ci_lo], v[key, ci_hi])
}
'"$awk_ci_ranks"

awk_row='
function row(c, subject, metric, value, peer, ratio, target) {
	if (tsv != "")
		printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c, subject, metric,
		    value, peer, ratio, target >> tsv
}
'
