# tests/bench/bench.mk - make bench: every case, one table
# (included by Makefile.am; filled in by its issue)
