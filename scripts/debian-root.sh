#!/bin/sh
# debian-root.sh makes a real Debian root filesystem for portabin's tests: debootstrap
# --variant=minbase SUITE, packed as a gzip-compressed tarball. It is made once and cached outside
# the checkout, keyed by this script's content, the suite and the extra packages, so a changed
# script makes a new root. About 30 s and 200 MB on disk per suite while it is made.
#
# Usage: scripts/debian-root.sh SUITE [PACKAGE...]   (SUITE: bullseye, bookworm, trixie, ...)
# Prints the tarball's path on stdout; progress goes to stderr.
# Needs root (debootstrap) and network access to the Debian mirror on the first run.
#   PORTABIN_TEST_CACHE  where the tarball is kept (default ~/.cache/portabin-test)
#   DEBIAN_MIRROR        the mirror debootstrap downloads from
set -eu

[ $# -ge 1 ] || { echo "usage: $0 SUITE [PACKAGE...]" >&2; exit 2; }
suite=$1
shift
case $suite in
*[!a-z0-9-]* | "") echo "debian-root: bad suite name: $suite" >&2; exit 2 ;;
esac
packages=$(echo "$*" | tr ' ' ',')

script=$(readlink -f "$0")
key=$( (cat "$script"; echo "$suite $packages") | sha256sum | cut -c1-16)
# name says which root this is, whichever version of the script made it.
name=debian-$suite
[ -z "$packages" ] || name=$name-p$(echo "$packages" | sha256sum | cut -c1-8)
cache=${PORTABIN_TEST_CACHE:-$HOME/.cache/portabin-test}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
tarball=$cache/$name-$key.tar.gz

say() { echo "debian-root: $*" >&2; }

if [ -f "$tarball" ]; then
	echo "$tarball"
	exit 0
fi

mkdir -p "$cache"
# Two test runs at once must not debootstrap into the same folder; one lock per suite so that
# different suites can be made side by side.
exec 9>"$cache/$name.lock"
flock 9

if [ ! -f "$tarball" ]; then
	[ "$(id -u)" = 0 ] || { say "debootstrap needs root"; exit 1; }
	if ! command -v debootstrap >/dev/null 2>&1; then
		say "installing debootstrap"
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends debootstrap >&2
	fi
	root=$cache/$name-$key.root
	log=$cache/$name-$key.log
	rm -rf "$root"
	say "debootstrapping $suite into $root (once; about 30 s)"
	if ! debootstrap --variant=minbase ${packages:+--include="$packages"} \
		"$suite" "$root" "$mirror" >"$log" 2>&1; then
		tail -n 30 "$log" >&2
		say "debootstrap failed; its log is $log"
		exit 1
	fi
	rm -f "$log"
	rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
	# --sort=name makes the tarball's order stable; gzip -1 because speed matters more than size here.
	tar -C "$root" --numeric-owner --sort=name -cf - . | gzip -1 >"$tarball.tmp"
	mv "$tarball.tmp" "$tarball"
	rm -rf "$root"
	# The same root made by earlier versions of this script.
	find "$cache" -maxdepth 1 -name "$name-????????????????.tar.gz" ! -name "$name-$key.tar.gz" -delete
fi
echo "$tarball"
