# tests/bench/bench.mk - "make bench": every benchmark case, one table.
# Included by Makefile.am.
#
#   make bench                                  every case, then the table
#   make bench BENCH_CASES='http timers'        some cases only
#   make bench BENCH_HTTP_ARGS='-r 5' BENCH_TIMERS_ARGS='-n 100000'
#
# tests/bench/run-bench.sh runs "$(MAKE) bench-CASE" for each case of
# BENCH_CASES (a case without a target in this tree is skipped with a
# message), with BENCH_TSV set so that each case's script appends its rows
# to one file; then it prints one table of all rows and keeps the file
# (BENCH_OUT=FILE to choose it; default ${TMPDIR:-/tmp}/libepump-bench-DATE.tsv).
# As root it first installs missing peers with apt-get; otherwise it prints
# the apt-get command.  Not part of "make check": figures are printed, never
# checked.  Per-case options: BENCH_ECHO_ARGS, BENCH_HTTP_ARGS,
# BENCH_TIMERS_ARGS, BENCH_CHAIN_ARGS, BENCH_MEM_ARGS (each becomes that
# case's BENCH_ARGS).

BENCH_CASES = echo http timers chain mem

EXTRA_DIST += tests/bench/run-bench.sh
EXTRA_DIST += tests/bench/lib.sh

bench:
	MAKE='$(MAKE)' CC='$(CC) $(DEFS) $(DEFAULT_INCLUDES) $(AM_CPPFLAGS) $(CPPFLAGS)' \
	  $(SHELL) $(srcdir)/tests/bench/run-bench.sh -c '$(BENCH_CASES)'
.PHONY: bench
