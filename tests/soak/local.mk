# tests/soak/local.mk - the soak test, make check-soak
# (included by Makefile.am; filled in by its issue)
