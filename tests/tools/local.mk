# tests/tools/local.mk - helper programs for the integration tests
# (tests/echo.bats), included by Makefile.am after its
# `check_PROGRAMS = ...' (automake refuses `+=' before the `=').
#
# echoclient is self-contained (raw epoll): it checks the example servers
# without libepump, so it must not get the global LDADD = lib/libepump.la.

check_PROGRAMS += tests/tools/echoclient
tests_tools_echoclient_SOURCES = tests/tools/echoclient.c
tests_tools_echoclient_LDADD =
