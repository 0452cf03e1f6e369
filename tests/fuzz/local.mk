# tests/fuzz/local.mk - libFuzzer targets (configure --enable-fuzzing), make fuzz
# (included by Makefile.am; filled in by its issue)
