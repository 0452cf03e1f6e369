#!/bin/sh
# run-http.sh - the HTTP benchmark: examples/httpsrv (libepump) beside
# nginx (one worker process) and a libevent evhttp server
# (tests/bench/peers/http_evhttp), each answering "GET /" with a 20-byte
# "Hello from libepump\n", all driven by the same wrk command.  Builds
# nothing: "make bench-http" builds the programs and then runs this script.
#
#   run-http.sh [-r ROUNDS] [-d SECONDS] [-D SECONDS] [-c CONNS] [-e HTTPSRV] [-S]
#
#   -r ROUNDS   timed rounds, alternating the servers (A B C D, A B C D,
#               ...) so that machine noise hits all alike (default 3, 1..20)
#   -d SECONDS  length of one timed run: wrk -d (default 5)
#   -D SECONDS  length of each strace run (default 3)
#   -c CONNS    wrk's connections: wrk -t1 -c CONNS (default 50)
#   -e HTTPSRV  the httpsrv to run (default BENCH_BINDIR/../../examples/httpsrv)
#   -S          skip the strace runs (no syscall columns)
#
# Servers: "httpsrv -t 1 -w 0" (one epump thread runs the handlers),
# "httpsrv -t 1 -w 1" (one worker thread runs them), nginx (nginx-light is
# enough: worker_processes 1, "return 200" in its only location,
# access_log off, daemon off, keepalive_requests unlimited in practice, its
# pid, logs and temp files in a temporary directory, listening on a free
# port of 127.0.0.1, run as the current user) and http_evhttp.  Each server
# is pinned to CPU 0 with taskset, wrk to CPU 1.
#
# Per timed run: the server's CPU time (every thread of httpsrv and
# http_evhttp, nginx's worker processes; from /proc/PID/task/TID/schedstat
# in ns, else from utime + stime of /proc/PID/stat in clock ticks) right
# before wrk starts and right after it ends, divided by the requests wrk
# completed: server us/req.  Its user part is split off by the ratio of
# utime to utime + stime (in ticks: a trend).  req/s is
# printed but is informational: it depends on wrk as much as on the server.
#
# Per server, a separate run with `strace -c -f -p PID` attached (to
# nginx's workers) during a -D second wrk run counts the server's system
# calls per request.  strace slows the server down a lot: only the counts
# are used, never its times.
#
# With BENCH_TSV=FILE in the environment, the summary is also appended to
# FILE as rows "case subject metric value peer ratio target" (tab-separated,
# "-" for empty; see tests/bench/run-bench.sh).
#
# BENCH_BINDIR names the directory that holds peers/http_evhttp (default:
# this script's directory).  A peer that is missing (no nginx, no
# http_evhttp) is skipped with a message.  Figures are printed, never
# checked.  Every run is bounded in time: wrk is killed if it overruns, a
# server that does not stop on SIGTERM is killed.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

bindir=${BENCH_BINDIR:-$(dirname "$0")}
rounds=3
secs=5
ssecs=3
conns=50
httpsrv=
do_strace=yes

usage() {
	echo "usage: $0 [-r ROUNDS] [-d SECONDS] [-D SECONDS] [-c CONNS] [-e HTTPSRV] [-S]"
}

while [ $# -gt 0 ]; do
	case $1 in
	-r) rounds=${2:?-r wants a number}; shift 2 ;;
	-d) secs=${2:?-d wants seconds}; shift 2 ;;
	-D) ssecs=${2:?-D wants seconds}; shift 2 ;;
	-c) conns=${2:?-c wants a count}; shift 2 ;;
	-e) httpsrv=${2:?-e wants a path}; shift 2 ;;
	-S) do_strace=no; shift ;;
	-h|--help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
posint "$rounds" -r 20
posint "$secs" -d 600
posint "$ssecs" -D 600
posint "$conns" -c 10000

evhttp=$bindir/peers/http_evhttp
[ -n "$httpsrv" ] || httpsrv=$bindir/../../examples/httpsrv
if [ ! -x "$httpsrv" ]; then
	echo "$0: $httpsrv is not built (make bench-http builds it)" >&2
	exit 1
fi

# ---- tools: wrk, nginx, taskset, strace; installed if absent and root ----
need=
command -v wrk >/dev/null 2>&1 || need="$need wrk"
nginx=$(command -v nginx 2>/dev/null || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; })
[ -n "$nginx" ] || need="$need nginx-light"
need_run_tools
if [ -n "$need" ]; then
	if can_apt; then
		echo "== installing$need (apt-get)"
		# shellcheck disable=SC2086
		apt_install 300 $need
		nginx=$(command -v nginx 2>/dev/null || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; })
	else
		echo "== missing:$need; install with: apt-get install$need"
	fi
fi
if ! command -v wrk >/dev/null 2>&1 || ! command -v timeout >/dev/null 2>&1; then
	echo "$0: wrk and timeout(1) are needed" >&2
	exit 1
fi
pin_cpus wrk
check_strace
hz=$(getconf CLK_TCK)
posint "$hz" CLK_TCK 1000000
raise_nofile

configs="w0 w1"
if [ -n "$nginx" ]; then
	configs="$configs nginx"
else
	echo "== no nginx: no httpsrv/nginx ratios"
fi
if [ -x "$evhttp" ]; then
	configs="$configs evhttp"
else
	echo "== $evhttp not built (libevent-dev missing?): no httpsrv/evhttp ratios"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/run-http.XXXXXX") || exit 1
spid=
mpids=
wpid=
stpid=
# shellcheck disable=SC2317
cleanup() {
	# shellcheck disable=SC2086
	kill_all $stpid $wpid $spid $mpids  # mpids: nginx's workers
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# children PID: the pids of PID's child processes (nginx's workers).
children() {
	_parent=$1
	for _f in /proc/[0-9]*/stat; do
		{ IFS= read -r _s < "$_f"; } 2>/dev/null || continue
		# shellcheck disable=SC2086
		set -- ${_s##*) }    # fields from the 3rd (state) on: $2 = ppid
		[ "$2" = "$_parent" ] && { _p=${_f#/proc/}; echo "${_p%/stat}"; }
	done
}

# listening PORT: true once some socket listens on 127.0.0.1:PORT.
listening() {
	_hex=$(printf '%04X' "$1")
	awk -v a="0100007F:$_hex" '$2 == a && $4 == "0A" { f = 1 }
	    END { exit !f }' /proc/net/tcp
}

# free_port: a port of 20000..59999 that nothing on this host uses now.
free_port() {
	awk 'BEGIN { srand() }
	FNR > 1 { split($2, a, ":"); used[a[2]] = 1 }
	END {
		for (i = 0; i < 1000; i++) {
			p = 20000 + int(rand() * 40000)
			if (!(sprintf("%04X", p) in used)) { print p; exit }
		}
		exit 1
	}' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# nginx_conf DIR PORT: writes DIR/nginx.conf for one worker answering
# "return 200" on 127.0.0.1:PORT, every path of its own under DIR.
nginx_conf() {
	_tmpdirs="client_body_temp_path $1/body;"
	_v=$("$nginx" -V 2>&1)
	for _m in proxy fastcgi uwsgi scgi; do
		case $_v in
		*--without-http_${_m}_module*) ;;
		*) _tmpdirs="$_tmpdirs
    ${_m}_temp_path $1/$_m;" ;;
		esac
	done
	_user=
	[ "$(id -u)" = 0 ] && _user="user $(id -un) $(id -gn);"
	cat > "$1/nginx.conf" <<EOF
# written by run-http.sh
daemon off;
master_process on;
worker_processes 1;
pid $1/nginx.pid;
error_log $1/error.log warn;
$_user
events {
    worker_connections 4096;
}
http {
    access_log off;
    server_tokens off;
    default_type text/plain;
    keepalive_requests 1000000000;
    keepalive_timeout 75s;
    $_tmpdirs
    server {
        listen 127.0.0.1:$2;
        location / {
            return 200 "Hello from libepump\n";
        }
    }
}
EOF
}

config_name() {
	case $1 in
	w0) echo "httpsrv -t1 -w0" ;;
	w1) echo "httpsrv -t1 -w1" ;;
	nginx) echo "nginx" ;;
	evhttp) echo "evhttp" ;;
	esac
}

# start_server CONFIG: runs it pinned; sets spid (the process to signal),
# mpids (the processes whose CPU time counts) and port.
start_server() {
	rm -f "$tmp/srv.out"
	mpids=
	case $1 in
	w0|w1)
		start_listener 100 "$(config_name "$1")" "$httpsrv" -t 1 \
		    -w "${1#w}" || return 1
		mpids=$spid
		return 0
		;;
	evhttp)
		start_listener 100 "$(config_name "$1")" "$evhttp" || return 1
		mpids=$spid
		return 0
		;;
	esac
	# nginx: a free port, retried if someone takes it first.
	_try=0
	while [ "$_try" -lt 5 ]; do
		_try=$((_try + 1))
		port=$(free_port) || { echo "== no free port"; return 1; }
		rm -rf "$tmp/nginx"
		mkdir -p "$tmp/nginx" || return 1
		nginx_conf "$tmp/nginx" "$port"
		# shellcheck disable=SC2086
		$srvcpu "$nginx" -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" \
		    -e "$tmp/nginx/error.log" > "$tmp/srv.out" 2>&1 &
		spid=$!
		_n=0
		while [ "$_n" -lt 100 ] && kill -0 "$spid" 2>/dev/null; do
			mpids=$(children "$spid")
			[ -n "$mpids" ] && listening "$port" && return 0
			sleep 0.1
			_n=$((_n + 1))
		done
		stop "$spid" KILL
		spid=
		mpids=
		if ! grep -q "in use" "$tmp/nginx/error.log" "$tmp/srv.out" \
		    2>/dev/null; then
			break
		fi
	done
	echo "== nginx did not start:"
	cat "$tmp/srv.out" "$tmp/nginx/error.log" 2>/dev/null
	return 1
}

stop_server() {
	[ -n "$spid" ] && stop "$spid"
	for _p in $mpids; do   # nginx's workers die with the master
		kill -KILL "$_p" 2>/dev/null
	done
	spid=
	mpids=
}

# run_wrk SECONDS: wrk pinned to its CPU, bounded; sets req and rps.
run_wrk() {
	req=
	rps=
	# shellcheck disable=SC2086
	$clicpu timeout -s KILL "$(($1 + 30))" wrk -t1 -c"$conns" -d"$1"s \
	    --timeout 10s "http://127.0.0.1:$port/" > "$tmp/wrk.out" 2>&1 &
	wpid=$!
	wait "$wpid"
	_st=$?
	wpid=
	req=$(awk '$2 == "requests" && $3 == "in" { print $1 }' "$tmp/wrk.out")
	rps=$(awk '$1 == "Requests/sec:" { print $2 }' "$tmp/wrk.out")
	if [ "$_st" != 0 ] || [ -z "$req" ] || [ "$req" = 0 ]; then
		echo "== wrk failed (exit $_st):"
		cat "$tmp/wrk.out"
		return 1
	fi
	if grep -q -e "Non-2xx" -e "Socket errors" "$tmp/wrk.out"; then
		echo "== wrk saw errors:"
		grep -e "Non-2xx" -e "Socket errors" "$tmp/wrk.out"
	fi
}

# One timed run: appends "config round rps us_per_req user_us_per_req".
timed_run() { # config round
	start_server "$1" || return 1
	# shellcheck disable=SC2086
	_t0=$(ticks $mpids)
	# shellcheck disable=SC2086
	_r0=$(cpu_ns $mpids)
	if ! run_wrk "$secs"; then
		stop_server
		return 1
	fi
	# shellcheck disable=SC2086
	_r1=$(cpu_ns $mpids)
	# shellcheck disable=SC2086
	_t1=$(ticks $mpids)
	stop_server
	# shellcheck disable=SC2086
	set -- "$@" $_t0 $_t1  # $3 $4: utime stime before, $5 $6: after
	_tu=$(($5 - $3))
	_tt=$((_tu + $6 - $4))
	if [ "$_r0" != - ] && [ "$_r1" != - ]; then
		_ns=$((_r1 - _r0))
	else
		_ns=$((_tt * 1000000000 / hz))
	fi
	_us=$(awk -v t="$_ns" -v n="$req" 'BEGIN { printf "%.3f", t / 1e3 / n }')
	# The user part: the ticks' user share of the exact total.
	_uu=$(awk -v t="$_ns" -v u="$_tu" -v a="$_tt" -v n="$req" \
	    'BEGIN { printf "%.3f", (a > 0 ? t * u / a : 0) / 1e3 / n }')
	printf '   %-17s round %d: %9.0f req/s %8s server us/req, %s user (%d ms cpu, %d req)\n' \
	    "$(config_name "$1")" "$2" "$rps" "$_us" "$_uu" "$((_ns / 1000000))" "$req"
	echo "$1 $2 $rps $_us $_uu" >> "$tmp/timed"
}

# One strace run: appends "config syscall calls_per_req" lines (syscall
# "total" included) to $tmp/sys.
strace_run() { # config
	start_server "$1" || return 1
	# shellcheck disable=SC2086
	if ! strace_attach $mpids; then
		stop_server
		return 1
	fi
	run_wrk "$ssecs" || { stop "$stpid" KILL; stpid=; stop_server; return 1; }
	stop "$stpid" INT  # strace prints its table when it detaches
	stpid=
	stop_server
	strace_counts "$tmp/strace.out" "$req" "$1" >> "$tmp/sys"
	printf '   %-17s strace: %d req, %s syscalls/req\n' \
	    "$(config_name "$1")" "$req" "$(awk -v k="$1" \
	    '$1 == k && $2 == "total" { print $3 }' "$tmp/sys")"
}

echo "== http benchmark: wrk -t1 -c$conns -d${secs}s; servers pinned with '${srvcpu:-nothing}', wrk with '${clicpu:-nothing}'"
echo "   $rounds round(s); strace runs: $([ "$do_strace" = yes ] && echo "${ssecs} s" || echo no); CLK_TCK $hz"
status=0
: > "$tmp/timed"
: > "$tmp/sys"
r=1
while [ "$r" -le "$rounds" ]; do
	echo "== round $r/$rounds"
	for k in $configs; do
		timed_run "$k" "$r" || status=1
	done
	r=$((r + 1))
done
if [ "$do_strace" = yes ]; then
	echo "== syscalls (strace -c -f, wrk -d${ssecs}s)"
	for k in $configs; do
		strace_run "$k" || status=1
	done
fi

echo
echo "== summary: median of $rounds round(s); us/req = server CPU (user+sys) per request,"
echo "   user = its user-space part; ratio = us/req / nginx's (vs evhttp: / evhttp's);"
echo "   sys/req and the top syscalls: system calls per request (strace -c -f)"
awk -v order="$configs" -v tsv="${BENCH_TSV:-}" -v conns="$conns" \
    "$awk_median$awk_row"'
function ratio(a, b) { return b > 0 ? sprintf("%.2f", a / b) : "-" }
FNR == 1 { file++ }
file == 1 {
	rps[$1] = rps[$1] " " $3; us[$1] = us[$1] " " $4; uu[$1] = uu[$1] " " $5
}
file == 2 {
	if ($2 == "total") { tot[$1] = $3; next }
	ns = ++nsys[$1]; sname[$1, ns] = $2; scnt[$1, ns] = $3
}
END {
	nk = split(order, ks, " ")
	name["w0"] = "httpsrv -t1 -w0"; name["w1"] = "httpsrv -t1 -w1"
	name["nginx"] = "nginx"; name["evhttp"] = "evhttp"
	for (i = 1; i <= nk; i++) {
		k = ks[i]
		if (k in us) {
			mus[k] = median(us[k]); muu[k] = median(uu[k])
			mrps[k] = median(rps[k])
		}
	}
	printf "%-16s %8s %8s %7s %7s %9s %8s  %s\n", "server", "req/s",
	    "us/req", "user", "ratio", "vs evhttp", "sys/req",
	    "top syscalls per req"
	for (i = 1; i <= nk; i++) {
		k = ks[i]
		if (!(k in mus))
			continue
		top = ""
		# strace -c sorts by time; list by count instead.
		for (a = 1; a <= nsys[k]; a++) used[a] = 0
		for (t = 1; t <= 4 && t <= nsys[k]; t++) {
			best = 0
			for (a = 1; a <= nsys[k]; a++)
				if (!used[a] && (best == 0 ||
				    scnt[k, a] + 0 > scnt[k, best] + 0))
					best = a
			used[best] = 1
			top = top sprintf("%s %.3f  ", sname[k, best],
			    scnt[k, best])
		}
		printf "%-16s %8.0f %8.3f %7.3f %7s %9s %8s  %s\n", name[k],
		    mrps[k], mus[k], muu[k],
		    ("nginx" in mus ? ratio(mus[k], mus["nginx"]) : "-"),
		    ("evhttp" in mus ? ratio(mus[k], mus["evhttp"]) : "-"),
		    (k in tot ? sprintf("%.3f", tot[k]) : "-"), top
	}
	metric = "server cpu us/req (wrk -c" conns ")"
	for (i = 1; i <= nk; i++) {
		k = ks[i]
		if (!(k in mus))
			continue
		v = sprintf("%.3f", mus[k])
		if (k == "w0" || k == "w1") {
			tgt = k == "w0" ? "<=1.0" : "-"
			if ("nginx" in mus)
				row("http", name[k], metric, v, "nginx",
				    ratio(mus[k], mus["nginx"]), tgt)
			if ("evhttp" in mus)
				row("http", name[k], metric, v, "evhttp",
				    ratio(mus[k], mus["evhttp"]), tgt)
			if (!("nginx" in mus) && !("evhttp" in mus))
				row("http", name[k], metric, v, "-", "-", "-")
		} else
			row("http", name[k], metric, v, "-", "-", "-")
	}
	for (i = 1; i <= nk; i++) {
		k = ks[i]
		if (k in mrps)
			row("http", name[k], "req/s (info)",
			    sprintf("%.0f", mrps[k]), "-", "-", "-")
	}
	for (i = 1; i <= nk; i++) {
		k = ks[i]
		if (!(k in tot))
			continue
		if ((k == "w0" || k == "w1") && ("nginx" in tot))
			row("http", name[k], "syscalls/req", tot[k], "nginx",
			    ratio(tot[k], tot["nginx"]), "-")
		else
			row("http", name[k], "syscalls/req", tot[k], "-", "-",
			    "-")
	}
}' "$tmp/timed" "$tmp/sys"
[ -n "${BENCH_TSV:-}" ] && echo "(rows appended to $BENCH_TSV)"
exit $status
