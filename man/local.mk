# man/local.mk - the manual, included by Makefile.am.
#
# One page per API group carries the text; each function a group page
# names in its NAME section (.Nm) is installed as a symlink to it, so
# `man 3 iotimer_start' works for every exported function.  The links are
# made from the pages themselves: the NAME section is the one list.
# tests/man.bats checks that every exported function is named by a page.
man3_groups = man/man3/epcore.3 man/man3/iodev.3 man/man3/iotimer.3 \
	man/man3/epcore_post.3 man/man3/iodev_send.3 man/man3/eptcp.3 \
	man/man3/epudp.3 man/man3/epusock.3 man/man3/epfile.3 \
	man/man3/epaddr.3 man/man3/epcore_stats_enable.3 man/man3/dns_query.3
dist_man_MANS = $(man3_groups) man/man7/epump.7 man/man7/epump-stats.7

# The .Nm names of a page's NAME section, one per line.
man_names = $(AWK) '/^\.Sh / { in_name = ($$2 == "NAME"); next } \
	in_name && /^\.Nm / { print $$2 }'

install-data-hook: install-man-links
install-man-links:
	@for page in $(man3_groups); do \
	  base=`basename $$page`; \
	  for name in `$(man_names) $(srcdir)/$$page`; do \
	    test "$$name.3" = "$$base" && continue; \
	    echo "  LN       $(man3dir)/$$name.3 -> $$base"; \
	    rm -f "$(DESTDIR)$(man3dir)/$$name.3"; \
	    $(LN_S) "$$base" "$(DESTDIR)$(man3dir)/$$name.3" || exit 1; \
	  done; \
	done

uninstall-hook: uninstall-man-links
uninstall-man-links:
	@for page in $(man3_groups); do \
	  base=`basename $$page`; \
	  for name in `$(man_names) $(srcdir)/$$page`; do \
	    test "$$name.3" = "$$base" || rm -f "$(DESTDIR)$(man3dir)/$$name.3"; \
	  done; \
	done
.PHONY: install-man-links uninstall-man-links
