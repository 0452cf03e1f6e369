# tests/tools/stuck.mk - the stuck test server for tests/epstat.bats,
# included by Makefile.am after its `check_PROGRAMS = ...' (automake
# refuses `+=' before the `=').
#
# stuck serves the stats socket and, on SIGUSR1, blocks every epump and
# worker thread in a handler: epstat must still answer and name them.

check_PROGRAMS += tests/tools/stuck
tests_tools_stuck_SOURCES = tests/tools/stuck.c
tests_tools_stuck_LDADD = lib/libepump.la
