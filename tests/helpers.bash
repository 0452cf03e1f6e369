# helpers.bash - shared setup for the bats tests.  make check exports
# top_srcdir and top_builddir (absolute); run by hand, they default to the
# current directory.
: "${top_srcdir:=$PWD}"
: "${top_builddir:=$PWD}"
export top_srcdir top_builddir
LIBSO="$top_builddir/lib/.libs/libepump.so"
