# packaging.mk - the distribution packages, included at the very end of
# Makefile.am.  Both are built from the release tarball, as a distribution
# builds them:
#
#   make deb       make dist; the tarball as libepump_VERSION.orig.tar.gz,
#                  unpacked with debian/ added; the source package
#                  (dpkg-source -b) and the binary packages
#                  (dpkg-buildpackage -us -uc -b -Jauto, make check
#                  inside): libepump1, libepump-dev, epump-tools, in
#                  build-packages/deb/
#   make lint-deb  lintian on them: fails on any error or warning
#   make rpm       make dist; rpmbuild -ta (make check in %check; with
#                  --nodeps where rpm has no package database, as on
#                  Debian): libepump, libepump-devel, epump-tools, in
#                  build-packages/rpm/
#   make lint-rpm  rpmlint on the RPMs, the SRPM and the spec, with
#                  rpm/libepump.rpmlintrc: fails on any error
#
# The version has one source, AC_INIT in configure.ac: configure writes
# rpm/libepump.spec from rpm/libepump.spec.in, and `make deb' refuses a
# debian/changelog whose upstream version is another.  debian/ is not in
# the tarball (a Debian source package adds its own); the spec is, for
# `rpmbuild -ta'.  A tree can also be built in place, as Debian does from
# a git checkout: dpkg-buildpackage -us -uc -b in the source directory.

EXTRA_DIST += COPYING rpm/libepump.spec rpm/libepump.rpmlintrc

PKG_OUTDIR = build-packages
DEB_OUTDIR = $(PKG_OUTDIR)/deb
RPM_OUTDIR = $(PKG_OUTDIR)/rpm
DPKG_BUILDPACKAGE_FLAGS = -us -uc -b -Jauto
LINTIAN_FLAGS = --display-info --fail-on error,warning
RPMBUILD_FLAGS =
RPMLINT_FLAGS =

# What debhelper leaves in debian/ when a tree is built in place: not
# copied into the package built from the tarball.
deb_debris = tmp .debhelper files debhelper-build-stamp autoreconf.before \
	autoreconf.after *.substvars *.debhelper *.debhelper.log \
	libepump1 libepump-dev epump-tools

deb: dist-gzip
	@debver=`dpkg-parsechangelog -l $(srcdir)/debian/changelog -S Version` || exit 1; \
	case "$$debver" in \
	  $(VERSION)-*) echo "deb: $(PACKAGE) $$debver";; \
	  *) echo "deb: debian/changelog is at $$debver, configure.ac at $(VERSION):" \
	       "add a changelog entry for $(VERSION)-1" >&2; exit 1;; \
	esac
	rm -rf $(DEB_OUTDIR)
	$(MKDIR_P) $(DEB_OUTDIR)
	cp $(distdir).tar.gz $(DEB_OUTDIR)/$(PACKAGE)_$(VERSION).orig.tar.gz
	cd $(DEB_OUTDIR) && tar xzf $(PACKAGE)_$(VERSION).orig.tar.gz
	cp -R $(srcdir)/debian $(DEB_OUTDIR)/$(distdir)/debian
	cd $(DEB_OUTDIR)/$(distdir)/debian && rm -rf $(deb_debris)
	cd $(DEB_OUTDIR) && dpkg-source -b $(distdir)
	cd $(DEB_OUTDIR)/$(distdir) && dpkg-buildpackage $(DPKG_BUILDPACKAGE_FLAGS)
	@echo "deb: built in $(DEB_OUTDIR):"; cd $(DEB_OUTDIR) && ls -1 *.dsc *.deb *.changes

lint-deb:
	lintian $(LINTIAN_FLAGS) $(DEB_OUTDIR)/*.dsc $(DEB_OUTDIR)/*.changes

rpm: dist-gzip
	rm -rf $(RPM_OUTDIR)
	$(MKDIR_P) $(RPM_OUTDIR)
	@nodeps=; \
	if ! rpm -q rpm >/dev/null 2>&1; then \
	  nodeps=--nodeps; \
	  echo "rpm: rpm has no package database here: rpmbuild $$nodeps"; \
	fi; \
	echo "rpmbuild -ta $$nodeps $(RPMBUILD_FLAGS) $(distdir).tar.gz"; \
	rpmbuild -ta $$nodeps $(RPMBUILD_FLAGS) \
	  --define "_topdir $(abs_builddir)/$(RPM_OUTDIR)" $(distdir).tar.gz
	@echo "rpm: built in $(RPM_OUTDIR):"; cd $(RPM_OUTDIR) && ls -1 RPMS/*/*.rpm SRPMS/*.rpm

lint-rpm:
	rpmlint $(RPMLINT_FLAGS) -r $(srcdir)/rpm/libepump.rpmlintrc \
	  $(RPM_OUTDIR)/RPMS/*/*.rpm $(RPM_OUTDIR)/SRPMS/*.src.rpm \
	  rpm/libepump.spec

# A recipe-less distclean-local line, as the clean-local lines elsewhere.
distclean-local: distclean-packages
distclean-packages:
	-rm -rf $(PKG_OUTDIR)

.PHONY: deb lint-deb rpm lint-rpm distclean-packages
