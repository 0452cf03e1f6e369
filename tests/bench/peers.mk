# tests/bench/peers.mk - echo peers on libevent, libuv and libev (callback and buffered tiers)
# (included by Makefile.am; filled in by its issue)
