# tests/faults/local.mk - fault-injection tests and the bad-input walk of the public header
# (included by Makefile.am; filled in by its issue)
