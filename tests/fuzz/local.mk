# tests/fuzz/local.mk - libFuzzer targets (configure CC=clang
# --enable-fuzzing), included by Makefile.am.  See tests/fuzz/README.md.
#
# Each target compiles the parser's own source file with FUZZ_CFLAGS
# (-fsanitize=fuzzer,address,undefined) rather than linking libepump.la,
# whose internal symbols are hidden.  In a fuzzing build `make check'
# also runs every target once over tests/fuzz/corpus/TARGET and
# tests/fuzz/regress/TARGET (tests/fuzz/corpus.test), and `make fuzz'
# fuzzes each for FUZZ_SECONDS, FUZZ_JOBS at a time.

fuzz_targets = stats_cmd epstat_reply http_response http_request url args
fuzz_progs = tests/fuzz/fuzz_stats_cmd tests/fuzz/fuzz_epstat_reply \
	tests/fuzz/fuzz_http_response tests/fuzz/fuzz_http_request \
	tests/fuzz/fuzz_url tests/fuzz/fuzz_args
fuzz_cflags = $(AM_CFLAGS) $(FUZZ_CFLAGS)
fuzz_ldflags = $(AM_LDFLAGS) $(FUZZ_CFLAGS)

if EPUMP_FUZZING
check_PROGRAMS += $(fuzz_progs)
TESTS += tests/fuzz/corpus.test
endif
EXTRA_DIST += tests/fuzz/README.md tests/fuzz/corpus.test \
	tests/fuzz/fuzz.sh tests/fuzz/corpus tests/fuzz/regress tests/fuzz/dict

# 1. the stats socket's command parser (lib/stats_cmd.c)
tests_fuzz_fuzz_stats_cmd_SOURCES = tests/fuzz/fuzz_stats_cmd.c \
	tests/fuzz/fuzz.h lib/stats_cmd.c
tests_fuzz_fuzz_stats_cmd_CPPFLAGS = $(AM_CPPFLAGS) -DEPUMP_BUILDING
tests_fuzz_fuzz_stats_cmd_CFLAGS = $(fuzz_cflags)
tests_fuzz_fuzz_stats_cmd_LDFLAGS = $(fuzz_ldflags)
tests_fuzz_fuzz_stats_cmd_LDADD =

# 2. epstat's reply parser (tools/epstat_parse.c)
tests_fuzz_fuzz_epstat_reply_SOURCES = tests/fuzz/fuzz_epstat_reply.c \
	tests/fuzz/fuzz.h tools/epstat_parse.c
tests_fuzz_fuzz_epstat_reply_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tools
tests_fuzz_fuzz_epstat_reply_CFLAGS = $(fuzz_cflags) $(LIBBSD_CFLAGS)
tests_fuzz_fuzz_epstat_reply_LDFLAGS = $(fuzz_ldflags)
tests_fuzz_fuzz_epstat_reply_LDADD = $(LIBBSD_LIBS)

# 3. epbench's HTTP response parser (tools/epbench/http.c)
tests_fuzz_fuzz_http_response_SOURCES = tests/fuzz/fuzz_http_response.c \
	tests/fuzz/fuzz.h tools/epbench/http.c
tests_fuzz_fuzz_http_response_CPPFLAGS = $(AM_CPPFLAGS) \
	-I$(top_srcdir)/tools/epbench
tests_fuzz_fuzz_http_response_CFLAGS = $(fuzz_cflags)
tests_fuzz_fuzz_http_response_LDFLAGS = $(fuzz_ldflags)
tests_fuzz_fuzz_http_response_LDADD =

# 4. httpsrv's request parser (examples/httpreq.c)
tests_fuzz_fuzz_http_request_SOURCES = tests/fuzz/fuzz_http_request.c \
	tests/fuzz/fuzz.h examples/httpreq.c
tests_fuzz_fuzz_http_request_CPPFLAGS = $(AM_CPPFLAGS) \
	-I$(top_srcdir)/examples
tests_fuzz_fuzz_http_request_CFLAGS = $(fuzz_cflags)
tests_fuzz_fuzz_http_request_LDFLAGS = $(fuzz_ldflags)
tests_fuzz_fuzz_http_request_LDADD =

# 5. epbench's URL parser (tools/epbench/url.c)
tests_fuzz_fuzz_url_SOURCES = tests/fuzz/fuzz_url.c tests/fuzz/fuzz.h \
	tools/epbench/url.c
tests_fuzz_fuzz_url_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tools/epbench
tests_fuzz_fuzz_url_CFLAGS = $(fuzz_cflags)
tests_fuzz_fuzz_url_LDFLAGS = $(fuzz_ldflags)
tests_fuzz_fuzz_url_LDADD =

# 6. option values: epbench's counts, durations, sizes; epstat's seconds
tests_fuzz_fuzz_args_SOURCES = tests/fuzz/fuzz_args.c tests/fuzz/fuzz.h \
	tools/epbench/args.c tools/epstat_parse.c
tests_fuzz_fuzz_args_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tools \
	-I$(top_srcdir)/tools/epbench
tests_fuzz_fuzz_args_CFLAGS = $(fuzz_cflags) $(LIBBSD_CFLAGS)
tests_fuzz_fuzz_args_LDFLAGS = $(fuzz_ldflags)
tests_fuzz_fuzz_args_LDADD = $(LIBBSD_LIBS)

# Not a fuzzing build: the parsers' bad-input regressions as bats tests.
bats_tests += tests/fuzz/parsers.bats

FUZZ_SECONDS = 60
FUZZ_JOBS = 2
if EPUMP_FUZZING
fuzz: $(fuzz_progs)
	@FUZZ_SECONDS='$(FUZZ_SECONDS)' FUZZ_JOBS='$(FUZZ_JOBS)' \
	  $(SHELL) $(srcdir)/tests/fuzz/fuzz.sh '$(abs_top_builddir)' \
	  '$(abs_top_srcdir)' $(fuzz_targets)
else
fuzz:
	@echo "make fuzz: configure with CC=clang --enable-fuzzing first" >&2; \
	exit 1
endif
.PHONY: fuzz

# The work copies of the corpora and the logs of make fuzz.  A recipe-less
# clean-local line, as in tests/bench/local.mk.
clean-local: clean-fuzz
clean-fuzz:
	-rm -rf tests/fuzz/work
.PHONY: clean-fuzz
