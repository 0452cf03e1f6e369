# tests/tools/epb.mk - the stub servers of tests/epbench.bats, included by
# Makefile.am after its `check_PROGRAMS = ...' (automake refuses `+='
# before the `=').  Plain sockets: they link nothing of libepump.
#
# epb_udpecho echoes UDP datagrams; epb_stub resets every connection
# (rst), answers garbage (garbage), or serves a unix socket (unix: echo,
# unixhttp: a fixed 200 per request).

check_PROGRAMS += tests/tools/epb_udpecho tests/tools/epb_stub
tests_tools_epb_udpecho_SOURCES = tests/tools/epb_udpecho.c
tests_tools_epb_udpecho_LDADD =
tests_tools_epb_stub_SOURCES = tests/tools/epb_stub.c
tests_tools_epb_stub_LDADD =
