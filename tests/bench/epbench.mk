# tests/bench/epbench.mk - `make bench-epbench': epbench against wrk on one
# nginx (tests/bench/epbench-vs-wrk.sh), included by Makefile.am after
# tests/bench/local.mk and after EXTRA_DIST's `=' (this file appends).
#
#   make bench-epbench                          3 rounds of 5 s, 50 conns
#   make bench-epbench BENCH_ARGS='-r 5 -d 10'
#
# Needs nginx-light and wrk (the script installs them with apt-get when
# missing, which needs root), python3 and taskset.

EXTRA_DIST += tests/bench/epbench-vs-wrk.sh

bench-epbench: tools/epbench/epbench$(EXEEXT)
	$(SHELL) $(srcdir)/tests/bench/epbench-vs-wrk.sh \
	  -e tools/epbench/epbench$(EXEEXT) $(BENCH_ARGS)
.PHONY: bench-epbench
