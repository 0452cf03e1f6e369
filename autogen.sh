#!/bin/sh
# autogen.sh - make ./configure from a clean clone.
#
# Installs the build dependencies that are missing when run as root
# (apt-get on Debian/Ubuntu, dnf on Fedora); otherwise prints the one
# command that installs them.  Then runs autoreconf.
set -e
cd "$(dirname "$0")"

DEB_PKGS="autoconf automake libtool pkg-config make gcc libbsd-dev libc-ares-dev bats mandoc"
RPM_PKGS="autoconf automake libtool pkgconf-pkg-config make gcc libbsd-devel c-ares-devel bats mandoc"

missing=""
for tool in autoreconf automake libtoolize pkg-config make cc; do
	command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
if command -v pkg-config >/dev/null 2>&1; then
	pkg-config --exists libbsd-overlay 2>/dev/null || missing="$missing libbsd"
	pkg-config --exists libcares 2>/dev/null || missing="$missing c-ares"
fi
for tool in bats mandoc; do
	command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done

if [ -n "$missing" ]; then
	if command -v apt-get >/dev/null 2>&1; then
		cmd="apt-get update && apt-get install -y $DEB_PKGS"
	elif command -v dnf >/dev/null 2>&1; then
		cmd="dnf install -y $RPM_PKGS"
	else
		echo "autogen.sh: missing:$missing; install autotools, libtool, pkg-config and libbsd" >&2
		exit 1
	fi
	if [ "$(id -u)" = 0 ]; then
		echo "autogen.sh: installing build dependencies (missing:$missing)"
		DEBIAN_FRONTEND=noninteractive sh -c "$cmd"
	else
		echo "autogen.sh: missing:$missing" >&2
		echo "autogen.sh: run as root:  $cmd" >&2
		exit 1
	fi
fi

mkdir -p m4 build-aux
autoreconf -fi
