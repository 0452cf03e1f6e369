# tests/bench/peers.mk - echo peers on libevent, libuv and libev (callback
# and buffered tiers), included by Makefile.am after tests/bench/echo.mk.
#
# They are EXTRA_PROGRAMS, built by "make bench-echo" (this file adds them
# to its prerequisites) and never by "make", "make check" or "make
# install".  Each is tried only if the compiler finds its library's header
# (Debian: libevent-dev, libuv1-dev, libev-dev); a peer that is missing or
# does not build is left out, and tests/bench/echo-run.sh skips its rows.

EXTRA_PROGRAMS += tests/bench/peers/echo_libevent \
	tests/bench/peers/echo_libuv tests/bench/peers/echo_libev

PEER_SRC = tests/bench/peers/echo_peer.c tests/bench/peers/echo_peer.h

tests_bench_peers_echo_libevent_SOURCES = \
	tests/bench/peers/echo_libevent.c $(PEER_SRC)
tests_bench_peers_echo_libevent_CFLAGS = $(AM_CFLAGS)
tests_bench_peers_echo_libevent_LDADD = -levent

tests_bench_peers_echo_libuv_SOURCES = \
	tests/bench/peers/echo_libuv.c $(PEER_SRC)
tests_bench_peers_echo_libuv_CFLAGS = $(AM_CFLAGS)
tests_bench_peers_echo_libuv_LDADD = -luv

tests_bench_peers_echo_libev_SOURCES = \
	tests/bench/peers/echo_libev.c $(PEER_SRC)
tests_bench_peers_echo_libev_CFLAGS = $(AM_CFLAGS)
tests_bench_peers_echo_libev_LDADD = -lev

# header:program pairs
BENCH_ECHO_PEERS = event2/event.h:tests/bench/peers/echo_libevent$(EXEEXT) \
	uv.h:tests/bench/peers/echo_libuv$(EXEEXT) \
	ev.h:tests/bench/peers/echo_libev$(EXEEXT)

# Before echo.mk's recipe runs: build each peer whose header is found.
bench-echo: bench-echo-peers
bench-echo-peers:
	@for hp in $(BENCH_ECHO_PEERS); do \
	  h=$${hp%%:*}; p=$${hp#*:}; \
	  if echo "#include <$$h>" | \
	      $(CC) -E $(DEFS) $(DEFAULT_INCLUDES) $(AM_CPPFLAGS) $(CPPFLAGS) - \
	      >/dev/null 2>&1; then \
	    $(MAKE) $(AM_MAKEFLAGS) $$p || { rm -f $$p; \
	      echo "bench-echo: $$p did not build; going on without it"; }; \
	  else \
	    echo "bench-echo: $$h not found: no $$p"; rm -f $$p; \
	  fi; \
	done
.PHONY: bench-echo-peers

clean-local: clean-bench-echo-peers
clean-bench-echo-peers:
	-rm -f tests/bench/peers/echo_libevent$(EXEEXT) \
	  tests/bench/peers/echo_libuv$(EXEEXT) \
	  tests/bench/peers/echo_libev$(EXEEXT)
.PHONY: clean-bench-echo-peers
