#!/usr/bin/env bats
# examples/echosrv, the real binary, under valgrind memcheck with threads
# and workers: echo traffic from tests/tools/echoclient (plain, resets
# mid-send, half-close), then SIGTERM.  valgrind must report no error and
# no leak (definite, indirect or possible), and echosrv must exit 0.
# Skipped without valgrind and in sanitizer builds (their runtime and
# valgrind do not mix).  127.0.0.1 only; every client run is bounded in
# count and time.

load helpers

ECHOSRV_BIN=${ECHOSRV_BIN:-$top_builddir/examples/.libs/echosrv}
ECHOCLIENT=${ECHOCLIENT:-$top_builddir/tests/tools/echoclient}

setup() {
	srv_pid=
	command -v valgrind >/dev/null || skip "no valgrind"
	[ -z "${EPUMP_SAN_CFLAGS:-}" ] || skip "sanitizer build ($EPUMP_SAN_CFLAGS)"
	# Without shared libraries libtool leaves the binary in examples/.
	[ -x "$ECHOSRV_BIN" ] || ECHOSRV_BIN=$top_builddir/examples/echosrv
	[ -x "$ECHOCLIENT" ] || { echo "no $ECHOCLIENT (make check builds it)"; false; }
}

teardown() {
	if [ -n "$srv_pid" ] && kill -0 "$srv_pid" 2>/dev/null; then
		kill -KILL "$srv_pid" 2>/dev/null
		wait "$srv_pid" 2>/dev/null || true
	fi
}

alive() {
	local state
	state=$(sed 's/.*) //' "/proc/$srv_pid/stat" 2>/dev/null | cut -d' ' -f1)
	[ -n "$state" ] && [ "$state" != Z ]
}

client() {
	local seed=$RANDOM
	echo "echoclient -p $port --seed $seed $*"
	run timeout 240 "$ECHOCLIENT" -p "$port" --seed "$seed" "$@"
	echo "$output"
	[ "$status" -eq 0 ] || { echo "echoclient failed ($status)"; cat "$vglog"; return 1; }
	[[ "$output" == *"failed=0 "* ]]
}

@test "echosrv under valgrind: echo traffic, SIGTERM, no error, no leak" {
	vglog=$BATS_TEST_TMPDIR/vg.log
	: >"$BATS_TEST_TMPDIR/srv.out"
	LD_LIBRARY_PATH=$top_builddir/lib/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
	EPUMP_BACKEND=epoll valgrind -q --leak-check=full \
		--show-leak-kinds=definite,indirect,possible \
		--errors-for-leak-kinds=definite,indirect,possible \
		--error-exitcode=99 --log-file="$vglog" \
		"$ECHOSRV_BIN" -p 0 -t 2 -w 2 \
		>"$BATS_TEST_TMPDIR/srv.out" 2>"$BATS_TEST_TMPDIR/srv.err" 3>&- &
	srv_pid=$!
	port=
	for _ in $(seq 600); do     # 60 s at most: valgrind starts slowly
		port=$(sed -n 's/^echosrv: listening on .*:\([0-9][0-9]*\) (.*/\1/p' \
			"$BATS_TEST_TMPDIR/srv.out")
		[ -n "$port" ] && break
		alive || break
		sleep 0.1
	done
	[ -n "$port" ] || { echo "no ready line"; cat "$BATS_TEST_TMPDIR/srv.err" "$vglog"; false; }

	client -c 20 -n 3 -s 65536 -T 120
	[[ "$output" == *"conns=20 ok=20 failed=0 "* ]]
	client -c 20 -n 4 -s 65536 --reset -T 120
	client -c 10 -n 3 -s 65536 --half-close -T 120
	alive

	kill -TERM "$srv_pid"
	for _ in $(seq 600); do alive || break; sleep 0.1; done
	alive && { echo "echosrv did not stop within 60 s of SIGTERM"; false; }
	status=0
	wait "$srv_pid" || status=$?
	srv_pid=
	echo "exit status $status; valgrind's log:"
	cat "$vglog"
	[ "$status" -eq 0 ]
	# -q: valgrind writes nothing unless it found something.
	! grep -q '==[0-9]*==' "$vglog"
}
