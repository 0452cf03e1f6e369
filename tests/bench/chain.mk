# tests/bench/chain.mk - the chain benchmark and the idle-connection memory benchmark
# (included by Makefile.am; filled in by its issue)
