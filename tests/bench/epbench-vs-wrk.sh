#!/bin/sh
# epbench-vs-wrk.sh - epbench against wrk on one nginx: requests/s and the
# client's CPU time per request (user+system from /proc/PID/stat, read from
# the zombie before it is reaped), in turns, several rounds.
#
#   epbench-vs-wrk.sh [-e EPBENCH] [-r ROUNDS] [-d SECONDS] [-c CONNS]
#
# nginx (Debian's nginx-light): 1 worker, `return 200', access_log off,
# its own temp config and prefix, on a free 127.0.0.1 port, pinned to
# CPU 0; the clients run pinned to CPU 1 with one thread.  Installs
# nginx-light and wrk with apt-get when missing (needs root).
set -eu

EPBENCH=tools/epbench/epbench
ROUNDS=3 DUR=5 CONNS=50
while getopts e:r:d:c: opt; do
	case $opt in
	e) EPBENCH=$OPTARG ;;
	r) ROUNDS=$OPTARG ;;
	d) DUR=$OPTARG ;;
	c) CONNS=$OPTARG ;;
	*) echo "usage: $0 [-e EPBENCH] [-r ROUNDS] [-d SECONDS] [-c CONNS]" >&2
	   exit 64 ;;
	esac
done
[ -x "$EPBENCH" ] || { echo "$0: no $EPBENCH (make it first)" >&2; exit 66; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if [ ! -x "$NGINX" ] || ! command -v wrk >/dev/null; then
	echo "$0: installing nginx-light and wrk" >&2
	apt-get install -y nginx-light wrk >/dev/null
	NGINX=$(command -v nginx || echo /usr/sbin/nginx)
fi
command -v python3 >/dev/null || { echo "$0: needs python3" >&2; exit 69; }
NCPU=$(nproc)
SRVCPU=0 CLICPU=$((NCPU > 1 ? 1 : 0))

T=$(mktemp -d "${TMPDIR:-/tmp}/epbench-vs-wrk.XXXXXX")
NGPID=
cleanup() {
	[ -n "$NGPID" ] && kill "$NGPID" 2>/dev/null && wait "$NGPID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT INT TERM

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$T/logs"
cat >"$T/nginx.conf" <<CONF
worker_processes 1;
daemon off;
master_process off;
pid $T/nginx.pid;
error_log $T/logs/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path $T/body;
	proxy_temp_path $T/proxy;
	fastcgi_temp_path $T/fastcgi;
	uwsgi_temp_path $T/uwsgi;
	scgi_temp_path $T/scgi;
	keepalive_requests 100000000;
	server {
		listen 127.0.0.1:$PORT;
		location / { return 200 "ok\n"; }
	}
}
CONF
taskset -c "$SRVCPU" "$NGINX" -p "$T/" -c "$T/nginx.conf" &
NGPID=$!
for _ in $(seq 100); do
	python3 -c "import socket; socket.create_connection(('127.0.0.1',$PORT),1)" \
		2>/dev/null && break
	sleep 0.05
done
URL=http://127.0.0.1:$PORT/

# run NAME CMD...: run the client pinned, print "NAME REQUESTS CPU_US".
run() {
	name=$1; shift
	python3 - "$name" "$T/$name.out" "$@" <<'PY'
import os, re, sys, json
name, out, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
pid = os.fork()
if pid == 0:
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1); os.dup2(fd, 2)
    os.execvp(argv[0], argv)
os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)   # a zombie: times stay
f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
cpu_us = (int(f[11]) + int(f[12])) * 1e6 / os.sysconf("SC_CLK_TCK")
os.waitpid(pid, 0)
text = open(out).read()
if name == "wrk":
    req = int(re.search(r"(\d+) requests in", text).group(1))
    rps = float(re.search(r"Requests/sec:\s*([\d.]+)", text).group(1))
else:
    d = json.loads(text[text.index("{"):])
    req, rps = d["requests"], d["requests_per_sec"]
print(f"{name} {req} {rps:.1f} {cpu_us:.0f}")
PY
}

printf '%-6s %-8s %10s %12s %12s %10s\n' round client requests req/s cpu_us us/req
: >"$T/results"
r=1
while [ "$r" -le "$ROUNDS" ]; do
	for c in wrk epbench; do
		if [ $c = wrk ]; then
			line=$(run wrk taskset -c "$CLICPU" wrk -t1 -c"$CONNS" -d"${DUR}s" "$URL")
		else
			line=$(run epbench taskset -c "$CLICPU" "$EPBENCH" -q -t1 \
				-c"$CONNS" -d"${DUR}s" --json - "$URL")
		fi
		echo "$r $line" >>"$T/results"
		echo "$r $line" | awk '{ printf "%-6s %-8s %10d %12.1f %12d %10.3f\n",
			$1, $2, $3, $4, $5, $5 / ($3 ? $3 : 1) }'
	done
	r=$((r + 1))
done
awk '{ n[$2]++; rps[$2] += $4; cpu[$2] += $5; req[$2] += $3 }
END {
	we = rps["epbench"] / n["epbench"]; ww = rps["wrk"] / n["wrk"]
	ce = cpu["epbench"] / req["epbench"]; cw = cpu["wrk"] / req["wrk"]
	printf "mean req/s: epbench %.0f, wrk %.0f; ratio epbench/wrk %.3f\n", we, ww, we / ww
	printf "client CPU us/request: epbench %.3f, wrk %.3f; ratio epbench/wrk %.3f\n", ce, cw, ce / cw
}' "$T/results"
