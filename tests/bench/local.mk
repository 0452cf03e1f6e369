# tests/bench/local.mk - timer benchmarks, included by Makefile.am
# (after its EXTRA_DIST assignment: this file appends to it).
#
#   make bench-timers            build the benchmarks and run them
#   make bench-timers BENCH_ARGS='-n 100000 -r 5'
#
# The programs are EXTRA_PROGRAMS: built by "make bench-timers" (or by
# naming them), never by "make", "make check" or "make install".  The
# peers need their library's headers and -l: libev (ev.h, -lev; Debian:
# libev-dev), libevent (event2/event.h, -levent_core; libevent-dev), libuv
# (uv.h, -luv; libuv1-dev).  A peer whose header is missing is skipped.

EXTRA_PROGRAMS = tests/bench/timers tests/bench/timerq \
	tests/bench/peers/timers_libev tests/bench/peers/timers_libevent \
	tests/bench/peers/timers_libuv

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

tests_bench_peers_timers_libevent_SOURCES = \
	tests/bench/peers/timers_libevent.c tests/bench/bench.h
tests_bench_peers_timers_libevent_CFLAGS = $(AM_CFLAGS)
tests_bench_peers_timers_libevent_LDADD = -levent_core

tests_bench_peers_timers_libuv_SOURCES = tests/bench/peers/timers_libuv.c \
	tests/bench/bench.h
tests_bench_peers_timers_libuv_CFLAGS = $(AM_CFLAGS)
tests_bench_peers_timers_libuv_LDADD = -luv

EXTRA_DIST += tests/bench/run-timers.sh tests/bench/README.md

BENCH_TIMERS = tests/bench/timers$(EXEEXT) tests/bench/timerq$(EXEEXT)
BENCH_TIMER_PEERS = tests/bench/peers/timers_libev$(EXEEXT) \
	tests/bench/peers/timers_libevent$(EXEEXT) \
	tests/bench/peers/timers_libuv$(EXEEXT)

# A peer is tried only if the compiler finds its header; if it still does
# not build (no library to link), the run goes on without it.
bench-timers: $(BENCH_TIMERS)
	@for p in ev.h:libev:libev-dev event2/event.h:libevent:libevent-dev \
	    uv.h:libuv:libuv1-dev; do \
	  h=$${p%%:*}; n=$${p#*:}; pkg=$${n#*:}; n=$${n%%:*}; \
	  prog=tests/bench/peers/timers_$$n$(EXEEXT); \
	  if echo "#include <$$h>" | \
	      $(CC) -E $(DEFS) $(DEFAULT_INCLUDES) $(AM_CPPFLAGS) $(CPPFLAGS) - \
	      >/dev/null 2>&1; then \
	    $(MAKE) $(AM_MAKEFLAGS) $$prog || \
	      echo "bench-timers: the $$n peer did not build; going on without it"; \
	  else \
	    echo "bench-timers: $$h not found (install $$pkg): no $$n peer"; \
	    rm -f $$prog; \
	  fi; \
	done
	BENCH_BINDIR=tests/bench $(SHELL) $(srcdir)/tests/bench/run-timers.sh $(BENCH_ARGS)
.PHONY: bench-timers

# automake does not clean EXTRA_PROGRAMS by itself.  A recipe-less
# clean-local line, so Makefile.am may still have its own clean-local.
clean-local: clean-bench-timers
clean-bench-timers:
	-$(LIBTOOL) $(AM_LIBTOOLFLAGS) $(LIBTOOLFLAGS) --mode=clean \
	  rm -f $(BENCH_TIMERS) $(BENCH_TIMER_PEERS)
.PHONY: clean-bench-timers
