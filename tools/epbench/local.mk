# tools/epbench/local.mk - epbench(1), the load generator, included by
# Makefile.am AFTER tools/local.mk (which sets bin_PROGRAMS with `=') and
# man/local.mk (dist_man_MANS).  Links libepump and libbsd (expand_number).

bin_PROGRAMS += tools/epbench/epbench
tools_epbench_epbench_SOURCES = tools/epbench/epbench.h \
	tools/epbench/main.c tools/epbench/args.c tools/epbench/url.c \
	tools/epbench/http.c \
	tools/epbench/hist.c tools/epbench/load.c tools/epbench/report.c \
	tools/epbench/json.c
tools_epbench_epbench_CFLAGS = $(AM_CFLAGS) $(LIBBSD_CFLAGS)
tools_epbench_epbench_LDADD = lib/libepump.la $(LIBBSD_LIBS)

dist_man_MANS += man/man1/epbench.1
