#!/bin/sh
# test-builder-image.sh makes the container image portabin's integration tests build in: a Debian
# bookworm minbase root with gcc, make, cmake and musl-tools, imported into podman. No registry is
# needed. The root is made once and cached outside the checkout, keyed by this script's content, so
# a changed script makes a new image; later runs only re-import it if podman lost the image.
#
# Prints the image name on stdout; progress goes to stderr.
# Needs root (debootstrap) and network access to the Debian mirror on the first run.
#   PORTABIN_TEST_CACHE  where the root's tarball is kept (default ~/.cache/portabin-test)
#   DEBIAN_MIRROR        the mirror debootstrap downloads from
set -eu

script=$(readlink -f "$0")
key=$(sha256sum "$script" | cut -c1-16)
cache=${PORTABIN_TEST_CACHE:-$HOME/.cache/portabin-test}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
image=localhost/portabin-test-builder:$key
tarball=$cache/builder-$key.tar

say() { echo "test-builder-image: $*" >&2; }

need() { # need COMMAND PACKAGE: install PACKAGE with apt-get when COMMAND is missing
	command -v "$1" >/dev/null 2>&1 && return 0
	say "installing $2"
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$2" >&2
}

if podman image exists "$image" 2>/dev/null; then
	echo "$image"
	exit 0
fi

mkdir -p "$cache"
# Two test runs at once must not debootstrap into the same folder.
exec 9>"$cache/lock"
flock 9

need podman podman
need runc runc

if [ ! -f "$tarball" ]; then
	[ "$(id -u)" = 0 ] || { say "debootstrap needs root"; exit 1; }
	need debootstrap debootstrap
	root=$cache/root-$key
	rm -rf "$root"
	say "debootstrapping bookworm into $root (once; about a minute)"
	log=$cache/debootstrap-$key.log
	if ! debootstrap --variant=minbase --include=gcc,libc6-dev,make,cmake,musl-tools \
		bookworm "$root" "$mirror" >"$log" 2>&1; then
		tail -n 30 "$log" >&2
		say "debootstrap failed; its log is $log"
		exit 1
	fi
	rm -f "$log"
	rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
	tar -C "$root" --numeric-owner -cf "$tarball.tmp" .
	mv "$tarball.tmp" "$tarball"
	rm -rf "$root"
	# Roots made by earlier versions of this script are 400 MB each.
	find "$cache" -maxdepth 1 -name 'builder-*.tar' ! -name "builder-$key.tar" -delete
fi

if ! podman image exists "$image" 2>/dev/null; then
	say "importing $tarball as $image"
	podman import --quiet \
		--change 'ENV=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		--change 'ENV=PORTABIN_CC=musl-gcc' \
		"$tarball" "$image" >/dev/null
	# Images from earlier versions of this script.
	podman images --format '{{.Repository}}:{{.Tag}}' localhost/portabin-test-builder |
		grep -vx "$image" | xargs -r podman rmi >/dev/null 2>&1 || true
fi
echo "$image"
