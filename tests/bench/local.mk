# tests/bench/local.mk - timer benchmarks, included by Makefile.am
# (after its EXTRA_DIST assignment: this file appends to it).
#
#   make bench-timers            build the benchmarks and run them
#   make bench-timers BENCH_ARGS='-n 100000 -r 5'
#
# The programs are EXTRA_PROGRAMS: built by "make bench-timers" (or by
# naming them), never by "make", "make check" or "make install".  The libev
# peer needs ev.h and -lev (Debian: libev-dev); without them it is skipped.

EXTRA_PROGRAMS = tests/bench/timers tests/bench/timerq \
	tests/bench/peers/timers_libev

tests_bench_timers_SOURCES = tests/bench/timers.c tests/bench/bench.h
tests_bench_timers_CFLAGS = $(AM_CFLAGS)
tests_bench_timers_LDFLAGS = $(AM_LDFLAGS) $(PTHREAD_CFLAGS)
tests_bench_timers_LDADD = lib/libepump.la

# Self-contained: links nothing of libepump.
tests_bench_timerq_SOURCES = tests/bench/timerq.c tests/bench/bench.h
tests_bench_timerq_CFLAGS = $(AM_CFLAGS)
tests_bench_timerq_LDADD =

tests_bench_peers_timers_libev_SOURCES = tests/bench/peers/timers_libev.c \
	tests/bench/bench.h
tests_bench_peers_timers_libev_CFLAGS = $(AM_CFLAGS)
tests_bench_peers_timers_libev_LDADD = -lev

EXTRA_DIST += tests/bench/run-timers.sh tests/bench/README.md

BENCH_TIMERS = tests/bench/timers$(EXEEXT) tests/bench/timerq$(EXEEXT)
BENCH_LIBEV = tests/bench/peers/timers_libev$(EXEEXT)

# The libev peer is tried only if the compiler finds ev.h; if it still
# does not build (no -lev), the run goes on without it.
bench-timers: $(BENCH_TIMERS)
	@if echo '#include <ev.h>' | \
	    $(CC) -E $(DEFS) $(DEFAULT_INCLUDES) $(AM_CPPFLAGS) $(CPPFLAGS) - \
	    >/dev/null 2>&1; then \
	  $(MAKE) $(AM_MAKEFLAGS) $(BENCH_LIBEV) || \
	    echo "bench-timers: the libev peer did not build; going on without it"; \
	else \
	  echo "bench-timers: ev.h not found (install libev-dev): no libev peer"; \
	  rm -f $(BENCH_LIBEV); \
	fi
	BENCH_BINDIR=tests/bench $(SHELL) $(srcdir)/tests/bench/run-timers.sh $(BENCH_ARGS)
.PHONY: bench-timers

# automake does not clean EXTRA_PROGRAMS by itself.  A recipe-less
# clean-local line, so Makefile.am may still have its own clean-local.
clean-local: clean-bench-timers
clean-bench-timers:
	-$(LIBTOOL) $(AM_LIBTOOLFLAGS) $(LIBTOOLFLAGS) --mode=clean \
	  rm -f $(BENCH_TIMERS) $(BENCH_LIBEV)
.PHONY: clean-bench-timers
