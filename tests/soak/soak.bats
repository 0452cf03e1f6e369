#!/usr/bin/env bats
# The soak test (make check-soak; not part of make check): examples/echosrv
# with 2 epump threads and 2 workers holds 9,000 concurrent connections for
# SOAK_SECONDS (default 60) after a 30 s warm-up, while tests/soak/soakclient
# churns them: random burst sizes, slow readers, half-closes, resets
# mid-send, reconnects.  It must give back every byte of every connection
# that was not reset, in order; its RSS at the end of the hold must be
# within 10% of its RSS after the warm-up; once every client has gone its
# open fds must be back to what they were before the first client.
# Figures go to the TAP output as "# ..." lines.  127.0.0.0/8 only; every
# wait is bounded; the server and the client are killed in teardown.
#
# Environment: SOAK_SECONDS (the hold), SOAK_WARMUP (default 30: the
# server's heap takes ~30-45 s of churn to reach its high-water mark),
# SOAK_CONNS (default 9000; fewer only for a local try), SOAK_SEED;
# ECHOSRV and SOAKCLIENT may name other binaries.

load ../helpers

ECHOSRV=${ECHOSRV:-$top_builddir/examples/echosrv}
SOAKCLIENT=${SOAKCLIENT:-$top_builddir/tests/soak/soakclient}
SOAK_SECONDS=${SOAK_SECONDS:-60}
SOAK_WARMUP=${SOAK_WARMUP:-30}
SOAK_CONNS=${SOAK_CONNS:-9000}
# Each process needs one fd per connection, and more while connections
# close and open: ask for about twice that as the fd limit.
NEED_FDS=$(( SOAK_CONNS * 19 / 9 ))
DRAIN=60        # soakclient -T: the connections' ends, at most

setup() {
	srv_pid= cli_pid=
	[ -x "$SOAKCLIENT" ] || { echo "no $SOAKCLIENT (make check-soak builds it)"; false; }
}

teardown() {
	if [ -n "$cli_pid" ]; then
		kill -TERM "$cli_pid" 2>/dev/null
		wait "$cli_pid" 2>/dev/null || true
	fi
	if [ -n "$srv_pid" ] && kill -0 "$srv_pid" 2>/dev/null; then
		kill -KILL "$srv_pid" 2>/dev/null
		wait "$srv_pid" 2>/dev/null || true
	fi
}

figure() { echo "# $*" >&3; echo "$*"; }

alive() {
	local state
	state=$(sed 's/.*) //' "/proc/$srv_pid/stat" 2>/dev/null | cut -d' ' -f1)
	[ -n "$state" ] && [ "$state" != Z ]
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$srv_pid/status"; }
nfds() { ls "/proc/$srv_pid/fd" | wc -l; }

@test "soak: echosrv -t2 -w2 holds $SOAK_CONNS connections for ${SOAK_SECONDS}s of churn; every byte back, RSS flat, no fd leaked" {
	local hard seed=${SOAK_SEED:-$RANDOM} out=$BATS_TEST_TMPDIR/cli.out
	local err=$BATS_TEST_TMPDIR/cli.err port= base rss warm_rss= end_rss=
	local peak_rss=0 peak_fds=0 n status=0 i summary left trace= tick=0

	hard=$(ulimit -Hn)
	[ "$hard" = unlimited ] && hard=$NEED_FDS
	if [ "$hard" -lt "$NEED_FDS" ]; then
		skip "the hard fd limit is $hard; $SOAK_CONNS connections want $NEED_FDS (raise it: ulimit -Hn, /etc/security/limits.conf)"
	fi
	ulimit -n "$hard"

	: >"$BATS_TEST_TMPDIR/srv.out"
	"$ECHOSRV" -p 0 -t 2 -w 2 >"$BATS_TEST_TMPDIR/srv.out" \
		2>"$BATS_TEST_TMPDIR/srv.err" 3>&- &
	srv_pid=$!
	for _ in $(seq 200); do     # 10 s at most
		port=$(sed -n 's/^echosrv: listening on .*:\([0-9][0-9]*\) (.*/\1/p' \
			"$BATS_TEST_TMPDIR/srv.out")
		[ -n "$port" ] && break
		alive || break
		sleep 0.05
	done
	[ -n "$port" ] || { echo "echosrv did not start:"; cat "$BATS_TEST_TMPDIR/srv.err"; false; }
	figure "$(head -1 "$BATS_TEST_TMPDIR/srv.out")"
	[[ "$(head -1 "$BATS_TEST_TMPDIR/srv.out")" == *", 2 epump threads, 2 workers)" ]]
	base=$(nfds)
	figure "echosrv: fd limit $(awk '/^Max open files/ { print $4 }' /proc/$srv_pid/limits), $base fds open before any client, RSS $(rss_kb) kB"

	figure "soakclient -p $port -c $SOAK_CONNS -W $SOAK_WARMUP -d $SOAK_SECONDS -T $DRAIN --seed $seed"
	timeout $(( 60 + SOAK_WARMUP + SOAK_SECONDS + DRAIN + 60 )) \
		"$SOAKCLIENT" -p "$port" -c "$SOAK_CONNS" -W "$SOAK_WARMUP" \
		-d "$SOAK_SECONDS" -T "$DRAIN" --seed "$seed" \
		>"$out" 2>"$err" 3>&- &
	cli_pid=$!
	# Sample the server every second.  RSS after the warm-up: the first
	# sample once the client says the warm-up is done; at the end: the
	# last sample before it says the hold is done.  Both are taken with
	# all connections held and busy.
	while kill -0 "$cli_pid" 2>/dev/null; do
		alive || break
		if [ -z "$warm_rss" ] && grep -q 'warm-up done' "$out"; then
			warm_rss=$(rss_kb)
		fi
		if [ -n "$warm_rss" ] && ! grep -q 'hold done' "$out"; then
			end_rss=$(rss_kb)
			# Every 10th sample of the hold, for the figures.
			[ $((tick++ % 10)) -eq 0 ] && trace="$trace $end_rss"
		fi
		rss=$(rss_kb); n=$(nfds)
		[ "${rss:-0}" -gt "$peak_rss" ] && peak_rss=$rss
		[ "$n" -gt "$peak_fds" ] && peak_fds=$n
		sleep 1
	done
	wait "$cli_pid" || status=$?
	cli_pid=
	cat "$out" "$err"
	grep '^soakclient: progress' "$out" | while read -r line; do figure "$line"; done
	alive || { echo "echosrv died:"; cat "$BATS_TEST_TMPDIR/srv.err"; false; }
	summary=$(grep '^soakclient: held=' "$out" || true)
	[ -n "$summary" ] || { echo "no summary from soakclient (status $status)"; false; }
	figure "$summary"

	# The figures, each from the summary line.
	val() { sed -n "s/.* $1=\([0-9-]*\).*/\1/p" <<<"$summary"; }
	figure "connections held at once: peak $(val held) (wanted $SOAK_CONNS), fewest during the hold $(val min_held); made in all $(val made)"
	figure "bytes sent $(val sent), verified $(val verified); on connections not reset: sent $(val kept_sent), verified $(val kept_verified)"
	figure "injected: resets $(val resets), half-closes $(val half_closes), slow readers $(val slow); errors $(val errors)"
	figure "connects: slowest $(val connect_max_ms) ms, $(val slow_connects) took 1 s or more (a SYN sent again)"
	figure "echosrv RSS: after warm-up ${warm_rss:-?} kB, end of hold ${end_rss:-?} kB, peak $peak_rss kB; fds: $base before, peak $peak_fds"
	figure "echosrv RSS every 10 s of the hold (kB):$trace"

	[ "$status" -eq 0 ] || { echo "soakclient failed (status $status)"; false; }
	[ "$(val errors)" -eq 0 ]
	[ "$(val held)" -eq "$SOAK_CONNS" ]
	[ "$(val kept_sent)" -eq "$(val kept_verified)" ]
	[ "$(val kept_verified)" -gt 0 ]
	[ "$(val made)" -gt "$SOAK_CONNS" ]     # reconnects happened
	[ "$(val resets)" -gt 0 ]
	[ "$(val half_closes)" -gt 0 ]
	[ "$peak_fds" -ge "$SOAK_CONNS" ]      # the server did hold them

	# RSS: the end of the hold within 10% of the value after warm-up.
	[ -n "$warm_rss" ] && [ -n "$end_rss" ]
	if [ $(( end_rss * 100 )) -gt $(( warm_rss * 110 )) ] ||
	   [ $(( end_rss * 100 )) -lt $(( warm_rss * 90 )) ]; then
		echo "echosrv RSS moved more than 10%: $warm_rss kB after warm-up, $end_rss kB at the end"
		false
	fi

	# No fd leaked: back to the baseline once every client is gone (a
	# half-closed connection may linger while the kernel flushes it).
	for i in $(seq 100); do         # 10 s at most
		n=$(nfds)
		[ "$n" -le "$base" ] && break
		sleep 0.1
	done
	left=$(ss -tn state established "( sport = :$port )" 2>/dev/null | tail -n +2 | wc -l)
	figure "echosrv CPU time over the run: $(awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); printf "%.1f s", ($12 + $13) / hz }' "/proc/$srv_pid/stat")"
	figure "echosrv fds: $base before any client, $n after all closed (after $((i / 10)).$((i % 10)) s); RSS then $(rss_kb) kB; established connections left: $left"
	[ "$n" -eq "$base" ] || { echo "echosrv holds $((n - base)) fds more than before the clients"; ls -l "/proc/$srv_pid/fd" | tail -20; false; }

	kill -TERM "$srv_pid"
	for _ in $(seq 100); do alive || break; sleep 0.1; done
	status=0
	wait "$srv_pid" || status=$?
	srv_pid=
	[ "$status" -eq 0 ] || { echo "echosrv exited $status after SIGTERM"; cat "$BATS_TEST_TMPDIR/srv.err"; false; }
}
