#!/bin/sh
# tests/fuzz/fuzz.sh BUILDDIR SRCDIR TARGET... - make fuzz: each libFuzzer
# target for FUZZ_SECONDS (60) on a copy of its seed corpus and regression
# inputs in BUILDDIR/tests/fuzz/work/TARGET/corpus, FUZZ_JOBS (2) targets
# at a time.  Prints the executions of each (libFuzzer's final stats);
# fails if any target crashed, leaked, broke an invariant or timed out,
# naming the input it saved (work/TARGET/crash-*, leak-*, timeout-*...).
set -u
bld=$1/tests/fuzz
src=$2/tests/fuzz
shift 2
secs=${FUZZ_SECONDS:-60}
jobs=${FUZZ_JOBS:-2}

# run TARGET: fuzz it, its status in work/TARGET/status.
run() {
	t=$1
	w=$bld/work/$t
	rm -rf "$w"
	mkdir -p "$w/corpus"
	for f in "$src/corpus/$t"/* "$src/regress/$t"/*; do
		[ -f "$f" ] && cp "$f" "$w/corpus/"
	done
	dict=
	[ -f "$src/dict/$t.dict" ] && dict=-dict=$src/dict/$t.dict
	# -timeout: one input taking 10 s is a hang; -rss_limit_mb: the
	# machine is shared.  The status file is written last.
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
	"$bld/fuzz_$t" -max_total_time="$secs" -print_final_stats=1 \
	    -timeout=10 -rss_limit_mb=1024 -artifact_prefix="$w/" \
	    $dict "$w/corpus" >"$w/log" 2>&1
	echo $? >"$w/status"
}

pids=
running=0
for t in "$@"; do
	run "$t" &
	pids="$pids $!"
	running=$((running + 1))
	if [ "$running" -ge "$jobs" ]; then
		wait
		running=0
	fi
done
wait

fail=0
printf '%-16s %12s %10s %8s  %s\n' target executions exec/s corpus result
for t in "$@"; do
	w=$bld/work/$t
	st=$(cat "$w/status" 2>/dev/null || echo '?')
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$w/log" | tail -1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$w/log" | tail -1)
	files=$(ls "$w/corpus" | wc -l)
	if [ "$st" = 0 ]; then
		res=ok
	else
		res="FAILED (status $st)"
		fail=1
	fi
	printf '%-16s %12s %10s %8s  %s\n' "$t" "${execs:-?}" "${rate:-?}" \
	    "$files" "$res"
	if [ "$st" != 0 ]; then
		grep -E 'ERROR|invariant|SUMMARY|artifact|Test unit written' \
		    "$w/log" | head -20 | sed 's/^/    /'
		echo "    log: $w/log"
	fi
done
if [ $fail -ne 0 ]; then
	echo "make fuzz: a target failed; add its input to" \
	    "tests/fuzz/regress/TARGET once fixed (tests/fuzz/README.md)"
	exit 1
fi
echo "make fuzz: $# targets, $secs s each, no crash"
