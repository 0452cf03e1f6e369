# tests/tools/dns.mk - the DNS responder stub for tests/unit/t_dns,
# included by Makefile.am after its `check_PROGRAMS = ...' (automake
# refuses `+=' before the `=').
#
# dnsstub answers A/AAAA queries on 127.0.0.1 (UDP and TCP) from a table
# given on its command line, and counts the queries it gets: plain
# sockets, no libepump, so it must not get the global LDADD.

check_PROGRAMS += tests/tools/dnsstub
tests_tools_dnsstub_SOURCES = tests/tools/dnsstub.c
tests_tools_dnsstub_LDADD =
