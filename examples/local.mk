# examples/local.mk - the example servers and `make demo`, included by
# Makefile.am after its `noinst_PROGRAMS = examples/epdemo`.
#
# demo.sh is distributed with dist_noinst_SCRIPTS, not EXTRA_DIST +=:
# automake refuses `+=` on a variable before its `=`, and Makefile.am sets
# EXTRA_DIST further down; this way the include may sit anywhere.

noinst_PROGRAMS += examples/echosrv examples/httpsrv
examples_echosrv_SOURCES = examples/echosrv.c
examples_echosrv_LDADD = lib/libepump.la
examples_httpsrv_SOURCES = examples/httpsrv.c examples/httpreq.c examples/httpreq.h
examples_httpsrv_LDADD = lib/libepump.la
dist_noinst_SCRIPTS = examples/demo.sh

# epdemo, then httpsrv driven over loopback by a /dev/tcp client, and
# epstat's view of it.
demo: examples/epdemo$(EXEEXT) examples/echosrv$(EXEEXT) \
	examples/httpsrv$(EXEEXT) tools/epstat$(EXEEXT) \
	tools/epbench/epbench$(EXEEXT)
	$(SHELL) $(srcdir)/examples/demo.sh $(abs_top_builddir)
.PHONY: demo
