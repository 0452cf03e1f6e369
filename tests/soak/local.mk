# tests/soak/local.mk - the soak test, included by Makefile.am (after its
# EXTRA_DIST assignment and tests/bench/local.mk's EXTRA_PROGRAMS).
#
#   make check-soak                    9,000 connections, 60 s (~2.5 min)
#   make check-soak SOAK_SECONDS=10    a shorter hold, for a local try
#
# Not part of make check: it wants an fd limit of ~19,000 and two
# minutes.  soakclient is an EXTRA_PROGRAM (built by check-soak only) and
# self-contained (raw epoll): it must not get the global LDADD.

EXTRA_PROGRAMS += tests/soak/soakclient
tests_soak_soakclient_SOURCES = tests/soak/soakclient.c
tests_soak_soakclient_LDADD =

EXTRA_DIST += tests/soak/soak.bats tests/soak/README.md

check-soak: tests/soak/soakclient$(EXEEXT) examples/echosrv$(EXEEXT)
	@if test -z "$(BATS)"; then \
	  echo "check-soak: bats not found (install bats, rerun configure)"; \
	  exit 1; \
	fi
	top_srcdir='$(abs_top_srcdir)' top_builddir='$(abs_top_builddir)' \
	  $(BATS) --tap $(srcdir)/tests/soak/soak.bats
.PHONY: check-soak

clean-local: clean-soak
clean-soak:
	-rm -f tests/soak/soakclient$(EXEEXT)
.PHONY: clean-soak
