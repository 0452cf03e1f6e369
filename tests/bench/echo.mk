# tests/bench/echo.mk - the echo benchmark, included by Makefile.am.
#
# Include it AFTER tests/bench/local.mk: that file sets EXTRA_PROGRAMS with
# "=" and this one appends with "+=" (automake refuses "+=" before "="; the
# same holds for EXTRA_DIST, set in Makefile.am before local.mk).
#
#   make bench-echo                              build, then run everything
#   make bench-echo BENCH_ARGS='-r 5 -d 3'       more rounds, shorter runs
#
# echoload and echo_epoll are EXTRA_PROGRAMS: built by "make bench-echo" (or
# by naming them), never by "make", "make check" or "make install".  Both
# are plain epoll programs: they link nothing of libepump.  The server under
# test is examples/echosrv (examples/local.mk).

EXTRA_PROGRAMS += tests/bench/echoload tests/bench/peers/echo_epoll

tests_bench_echoload_SOURCES = tests/bench/echoload.c
tests_bench_echoload_CFLAGS = $(AM_CFLAGS)
tests_bench_echoload_LDADD =

tests_bench_peers_echo_epoll_SOURCES = tests/bench/peers/echo_epoll.c
tests_bench_peers_echo_epoll_CFLAGS = $(AM_CFLAGS)
tests_bench_peers_echo_epoll_LDADD =

EXTRA_DIST += tests/bench/echo-run.sh

BENCH_ECHO = tests/bench/echoload$(EXEEXT) tests/bench/peers/echo_epoll$(EXEEXT)

bench-echo: $(BENCH_ECHO) examples/echosrv$(EXEEXT)
	BENCH_BINDIR=tests/bench $(SHELL) $(srcdir)/tests/bench/echo-run.sh \
	  -e examples/echosrv$(EXEEXT) $(BENCH_ARGS)
.PHONY: bench-echo

# automake does not clean EXTRA_PROGRAMS by itself.  A recipe-less
# clean-local line, as in local.mk.
clean-local: clean-bench-echo
clean-bench-echo:
	-rm -f $(BENCH_ECHO)
.PHONY: clean-bench-echo
