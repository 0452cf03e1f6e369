# tools/local.mk - epstat(1), included by Makefile.am.
#
# Include it AFTER man/local.mk: that file sets dist_man_MANS with `=',
# and automake refuses the `+=' below before it.
#
# epstat links nothing of libepump (it speaks the epump-stats(7) wire
# protocol itself, so one epstat reads any libepump version): its LDADD
# is set here so it does not get a global LDADD = lib/libepump.la.
# libbsd gives it humanize_number(3), strtonum(3) and strlcpy(3).

bin_PROGRAMS = tools/epstat
tools_epstat_SOURCES = tools/epstat.c tools/epstat_parse.c tools/epstat_parse.h
tools_epstat_CFLAGS = $(AM_CFLAGS) $(LIBBSD_CFLAGS)
tools_epstat_LDADD = $(LIBBSD_LIBS)

dist_man_MANS += man/man1/epstat.1
