# tests/faults/local.mk - fault-injection tests (issue 9), included by
# Makefile.am after `unit_tests', `check_PROGRAMS' and `TESTS' are set.
#
# They are unit tests (TAP, tests/unit/tap.h, every backend) so that
# check-valgrind runs them too; tests/faults/faultutil.h holds what they
# share: an echo server, verifying clients, an echo load, fd counting.
#   t_emfile      out of fds during a connect storm: pause, recover, no leak
#   t_stall       a handler blocked 2 s: others served, epstat names it
#   t_closerace   iodev_close from a foreign thread racing readiness, 10^5
#   t_stopload    epcore_stop/epcore_free under full echo load
#   t_statsabuse  bad stats-socket clients during echo load

fault_tests = tests/faults/t_emfile tests/faults/t_closerace \
	tests/faults/t_stopload tests/faults/t_stall tests/faults/t_statsabuse
unit_tests += $(fault_tests)
noinst_HEADERS += tests/faults/faultutil.h
tests_faults_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests/unit
tests_faults_t_emfile_CPPFLAGS = $(tests_faults_CPPFLAGS)
tests_faults_t_closerace_CPPFLAGS = $(tests_faults_CPPFLAGS)
tests_faults_t_stopload_CPPFLAGS = $(tests_faults_CPPFLAGS)
tests_faults_t_stall_CPPFLAGS = $(tests_faults_CPPFLAGS)
tests_faults_t_statsabuse_CPPFLAGS = $(tests_faults_CPPFLAGS)
