# tests/bench/chain.mk - the chain benchmark and the idle-connection memory
# benchmark (included by Makefile.am, after tests/bench/local.mk, which sets
# EXTRA_PROGRAMS with "=", and after EXTRA_DIST's "=": this file appends).
#
#   make bench-chain                          libepump, raw epoll, libev,
#                                             libevent, libuv; 3 rounds
#   make bench-chain BENCH_ARGS='-r 5 -w 200000'
#   make bench-mem                            echosrv, raw epoll, libev,
#                                             libevent, libuv; 9000 idle conns
#   make bench-mem BENCH_ARGS='-c 5000 -r 3'
#
# Every program is an EXTRA_PROGRAM: built by these targets (or by naming
# it), never by "make", "make check" or "make install".  A peer whose
# header (ev.h, event2/event.h, uv.h) the compiler does not find is not
# built, and the scripts go on without it.  BENCH_TSV=FILE appends the
# summary rows to FILE (see tests/bench/README.md).

EXTRA_PROGRAMS += tests/bench/chain tests/bench/chain_conns \
	tests/bench/peers/chain_epoll tests/bench/peers/chain_libev \
	tests/bench/peers/chain_libevent tests/bench/peers/chain_libuv \
	tests/bench/peers/idle_libev tests/bench/peers/idle_libevent \
	tests/bench/peers/idle_libuv

tests_bench_chain_SOURCES = tests/bench/chain.c tests/bench/chain.h
tests_bench_chain_CFLAGS = $(AM_CFLAGS)
tests_bench_chain_LDFLAGS = $(AM_LDFLAGS) $(PTHREAD_CFLAGS)
tests_bench_chain_LDADD = lib/libepump.la

# The rest link nothing of libepump.
tests_bench_chain_conns_SOURCES = tests/bench/chain_conns.c
tests_bench_chain_conns_CFLAGS = $(AM_CFLAGS)
tests_bench_chain_conns_LDADD =

tests_bench_peers_chain_epoll_SOURCES = tests/bench/peers/chain_epoll.c \
	tests/bench/chain.h
tests_bench_peers_chain_epoll_CFLAGS = $(AM_CFLAGS)
tests_bench_peers_chain_epoll_LDADD =

tests_bench_peers_chain_libev_SOURCES = tests/bench/peers/chain_libev.c \
	tests/bench/chain.h
tests_bench_peers_chain_libev_CFLAGS = $(AM_CFLAGS)
tests_bench_peers_chain_libev_LDADD = -lev

tests_bench_peers_chain_libevent_SOURCES = \
	tests/bench/peers/chain_libevent.c tests/bench/chain.h
tests_bench_peers_chain_libevent_CFLAGS = $(AM_CFLAGS)
tests_bench_peers_chain_libevent_LDADD = -levent_core

tests_bench_peers_chain_libuv_SOURCES = tests/bench/peers/chain_libuv.c \
	tests/bench/chain.h
tests_bench_peers_chain_libuv_CFLAGS = $(AM_CFLAGS)
tests_bench_peers_chain_libuv_LDADD = -luv

tests_bench_peers_idle_libev_SOURCES = tests/bench/peers/idle_libev.c
tests_bench_peers_idle_libev_CFLAGS = $(AM_CFLAGS)
tests_bench_peers_idle_libev_LDADD = -lev

tests_bench_peers_idle_libevent_SOURCES = tests/bench/peers/idle_libevent.c
tests_bench_peers_idle_libevent_CFLAGS = $(AM_CFLAGS)
tests_bench_peers_idle_libevent_LDADD = -levent_core

tests_bench_peers_idle_libuv_SOURCES = tests/bench/peers/idle_libuv.c
tests_bench_peers_idle_libuv_CFLAGS = $(AM_CFLAGS)
tests_bench_peers_idle_libuv_LDADD = -luv

EXTRA_DIST += tests/bench/run-chain.sh tests/bench/run-mem.sh

BENCH_CHAIN = tests/bench/chain$(EXEEXT) tests/bench/peers/chain_epoll$(EXEEXT)
BENCH_CHAIN_PEERS = tests/bench/peers/chain_libev$(EXEEXT) \
	tests/bench/peers/chain_libevent$(EXEEXT) \
	tests/bench/peers/chain_libuv$(EXEEXT)
BENCH_MEM = tests/bench/chain_conns$(EXEEXT) \
	tests/bench/peers/echo_epoll$(EXEEXT) examples/echosrv$(EXEEXT)
BENCH_MEM_PEERS = tests/bench/peers/idle_libev$(EXEEXT) \
	tests/bench/peers/idle_libevent$(EXEEXT) \
	tests/bench/peers/idle_libuv$(EXEEXT)

# Builds each peer (HEADER:PROGRAM) whose header the compiler finds; a
# peer that still does not build (no library to link) is left out too.
# The scripts skip missing programs.
BENCH_TRY_PEERS = \
	for p in $$peers; do \
	  h=$${p%%:*}; \
	  prog=tests/bench/peers/`echo $$p | sed 's/.*://'`$(EXEEXT); \
	  if printf '\043include <%s>\n' "$$h" | \
	      $(CC) -E $(DEFS) $(DEFAULT_INCLUDES) $(AM_CPPFLAGS) $(CPPFLAGS) - \
	      >/dev/null 2>&1; then \
	    $(MAKE) $(AM_MAKEFLAGS) $$prog || \
	      echo "bench: $$prog did not build; going on without it"; \
	  else \
	    echo "bench: $$h not found: no $$prog"; rm -f $$prog; \
	  fi; \
	done

bench-chain-peers:
	@peers="ev.h:chain_libev event2/event.h:chain_libevent uv.h:chain_libuv"; \
	$(BENCH_TRY_PEERS)

bench-mem-peers:
	@peers="ev.h:idle_libev event2/event.h:idle_libevent uv.h:idle_libuv"; \
	$(BENCH_TRY_PEERS)

bench-chain: $(BENCH_CHAIN) bench-chain-peers
	BENCH_BINDIR=tests/bench $(SHELL) $(srcdir)/tests/bench/run-chain.sh \
	  $(BENCH_ARGS)

bench-mem: $(BENCH_MEM) bench-mem-peers
	BENCH_BINDIR=tests/bench $(SHELL) $(srcdir)/tests/bench/run-mem.sh \
	  -e examples/echosrv$(EXEEXT) $(BENCH_ARGS)
.PHONY: bench-chain bench-mem bench-chain-peers bench-mem-peers

# automake does not clean EXTRA_PROGRAMS by itself.  A recipe-less
# clean-local line, as in local.mk.
clean-local: clean-bench-chain
clean-bench-chain:
	-$(LIBTOOL) $(AM_LIBTOOLFLAGS) $(LIBTOOLFLAGS) --mode=clean \
	  rm -f $(BENCH_CHAIN) $(BENCH_CHAIN_PEERS) \
	  tests/bench/chain_conns$(EXEEXT) $(BENCH_MEM_PEERS)
.PHONY: clean-bench-chain
