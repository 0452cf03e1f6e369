# tests/bench/http.mk - the HTTP benchmark, included by Makefile.am (after
# tests/bench/local.mk, which sets EXTRA_PROGRAMS with "=").
#
#   make bench-http                          build, then run everything
#   make bench-http BENCH_ARGS='-r 5 -d 5'   more rounds, longer runs
#
# examples/httpsrv (libepump) beside nginx (one worker) and a libevent
# evhttp server (tests/bench/peers/http_evhttp), all driven by wrk; see
# tests/bench/README.md.  http_evhttp is an EXTRA_PROGRAM: built by "make
# bench-http" (or by naming it), never by "make", "make check" or "make
# install", and only if the compiler finds event2/http.h (Debian:
# libevent-dev); without it the run goes on without that peer.

EXTRA_PROGRAMS += tests/bench/peers/http_evhttp

tests_bench_peers_http_evhttp_SOURCES = tests/bench/peers/http_evhttp.c
tests_bench_peers_http_evhttp_CFLAGS = $(AM_CFLAGS)
tests_bench_peers_http_evhttp_LDADD = -levent

EXTRA_DIST += tests/bench/run-http.sh

BENCH_HTTP_PEER = tests/bench/peers/http_evhttp$(EXEEXT)

bench-http: examples/httpsrv$(EXEEXT)
	@if echo '#include <event2/http.h>' | \
	    $(CC) -E $(DEFS) $(DEFAULT_INCLUDES) $(AM_CPPFLAGS) $(CPPFLAGS) - \
	    >/dev/null 2>&1; then \
	  $(MAKE) $(AM_MAKEFLAGS) $(BENCH_HTTP_PEER) || \
	    echo "bench-http: the evhttp peer did not build; going on without it"; \
	else \
	  echo "bench-http: event2/http.h not found (install libevent-dev): no evhttp peer"; \
	  rm -f $(BENCH_HTTP_PEER); \
	fi
	BENCH_BINDIR=tests/bench $(SHELL) $(srcdir)/tests/bench/run-http.sh \
	  -e examples/httpsrv$(EXEEXT) $(BENCH_ARGS)
.PHONY: bench-http

# automake does not clean EXTRA_PROGRAMS by itself.  A recipe-less
# clean-local line, as in local.mk.
clean-local: clean-bench-http
clean-bench-http:
	-rm -f $(BENCH_HTTP_PEER)
.PHONY: clean-bench-http
