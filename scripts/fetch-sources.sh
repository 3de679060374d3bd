#!/usr/bin/env bash
# Fetches the upstream source of Debian bookworm source packages, for the real-world tests,
# into a cache outside the checkout (the tarballs are never committed), and prints the folder
# each one is unpacked in, one line per NAME.
#
# Usage: scripts/fetch-sources.sh [-d] NAME...
#   -d  download only (no unpacking) and print the download folders: the dependency tests hand
#       the tarballs to portabin, which finds them by sha256 (--sources).
#
# Cache: ${PORTABIN_TEST_CACHE:-$HOME/.cache/portabin-test}/sources/NAME/{download,src}.
# Exit codes: 0 ok, 1 failure, 2 usage, 3 the sources cannot be had on this machine (the mirror
# is unreachable, or apt cannot be configured): callers may skip rather than fail.
set -euo pipefail

prog=fetch-sources
die() { echo "$prog: $*" >&2; exit 1; }
unavailable() { echo "$prog: $*" >&2; exit 3; }

downloadOnly=0
if [ "${1:-}" = -d ]; then
  downloadOnly=1
  shift
fi
[ $# -gt 0 ] || { echo "usage: $0 [-d] NAME..." >&2; exit 2; }

cache=${PORTABIN_TEST_CACHE:-$HOME/.cache/portabin-test}/sources

unpacked() {
  if [ $downloadOnly = 1 ]; then
    compgen -G "$cache/$1/download/*.orig.tar.*" >/dev/null
  else
    [ -f "$cache/$1/.unpacked" ] && [ -d "$cache/$1/src" ]
  fi
}
# result NAME prints the folder the caller asked for.
result() {
  if [ $downloadOnly = 1 ]; then echo "$cache/$1/download"; else echo "$cache/$1/src"; fi
}

# Fast path: everything already unpacked, no lock and no apt.
all=1
for name in "$@"; do
  case $name in
    ''|*/*|.*) echo "$prog: bad package name '$name'" >&2; exit 2 ;;
  esac
  unpacked "$name" || all=0
done
if [ $all = 1 ]; then
  for name in "$@"; do result "$name"; done
  exit 0
fi

mkdir -p "$cache"
# One lock for everything: the apt configuration and its lists are shared by all callers.
exec 9>"$cache/.lock"
flock 9

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || unavailable "not root and no sudo: cannot configure apt"
  sudo="sudo -n"
fi

# bookwormSources prints the Debian bookworm Sources index files apt knows, one a line. apt knows
# a source's index files only once it has read the source's Release file (apt-get update).
bookwormSources() {
  apt-get indextargets --format '$(RELEASE) $(FILENAME)' 'Created-By: Sources' 2>/dev/null |
    awk '$1 == "bookworm" { print $2 }' || true
}

ensureSources() {
  local list ready=0
  while read -r list; do
    ready=1
    compgen -G "$list*" >/dev/null || ready=0
  done < <(bookwormSources)
  [ $ready = 0 ] || return 0
  local keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  if ! compgen -G '/etc/apt/sources.list.d/portabin-src.*' >/dev/null && [ -z "$(bookwormSources)" ]; then
    [ -f "$keyring" ] || unavailable "no Debian bookworm deb-src configured and no $keyring (install debian-archive-keyring)"
    echo "$prog: adding Debian bookworm deb-src to apt's sources" >&2
    # Follow the machine's own format: deb822 .sources files where it has them.
    if compgen -G '/etc/apt/sources.list.d/*.sources' >/dev/null; then
      printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\nSigned-By: %s\n' \
        "$keyring" | $sudo tee /etc/apt/sources.list.d/portabin-src.sources >/dev/null ||
        unavailable "cannot write /etc/apt/sources.list.d/portabin-src.sources"
    else
      echo "deb-src [signed-by=$keyring] http://deb.debian.org/debian bookworm main" |
        $sudo tee /etc/apt/sources.list.d/portabin-src.list >/dev/null ||
        unavailable "cannot write /etc/apt/sources.list.d/portabin-src.list"
    fi
  fi
  update
  [ -n "$(bookwormSources)" ] || unavailable "apt knows no Debian bookworm deb-src after apt-get update"
}

updated=0
update() {
  [ $updated = 0 ] || return 0
  echo "$prog: apt-get update" >&2
  $sudo apt-get update -qq >&2 || unavailable "apt-get update failed: the mirror is unreachable?"
  updated=1
}

# download NAME fetches NAME's source package files into $cache/NAME/download.
download() {
  local dir=$cache/$1/download
  if compgen -G "$dir/*.orig.tar.*" >/dev/null; then
    return 0
  fi
  rm -rf "$dir.tmp"
  mkdir -p "$dir.tmp"
  # As root, apt would warn that its sandbox user cannot write here; it downloads anyway.
  local opts=(--download-only -qq)
  [ "$(id -u)" -ne 0 ] || opts+=(-o APT::Sandbox::User=root)
  if ! (cd "$dir.tmp" && apt-get source "${opts[@]}" "$1/bookworm" >&2); then
    # The lists may predate the package's current version: try once more with fresh ones.
    update
    local err
    if ! err=$(cd "$dir.tmp" && apt-get source "${opts[@]}" "$1/bookworm" 2>&1 >/dev/null); then
      echo "$err" >&2
      rm -rf "$dir.tmp"
      rmdir "$cache/$1" 2>/dev/null || true
      case $err in
        *"Unable to find a source package"*) die "Debian bookworm has no source package $1" ;;
      esac
      unavailable "apt-get source $1 failed: the mirror is unreachable?"
    fi
  fi
  rm -rf "$dir"
  mv "$dir.tmp" "$dir"
}

# unpack NAME unpacks the upstream tarball into $cache/NAME/src, without the tarball's top folder.
unpack() {
  local base=$cache/$1 tarball
  tarball=$(find "$base/download" -maxdepth 1 -name '*.orig.tar.*' ! -name '*.asc' ! -name '*.orig-*' | head -n1)
  [ -n "$tarball" ] || die "$1: no upstream tarball (*.orig.tar.*) in $base/download"
  rm -rf "$base/src" "$base/unpack.tmp"
  mkdir -p "$base/unpack.tmp"
  tar -xf "$tarball" -C "$base/unpack.tmp" --no-same-owner || die "$1: unpacking $tarball failed"
  local top=("$base/unpack.tmp"/*)
  if [ ${#top[@]} = 1 ] && [ -d "${top[0]}" ]; then
    mv "${top[0]}" "$base/src"
    rm -rf "$base/unpack.tmp"
  else
    mv "$base/unpack.tmp" "$base/src"
  fi
  basename "$tarball" >"$base/.unpacked"
}

ensured=0
for name in "$@"; do
  if ! unpacked "$name"; then
    if [ $ensured = 0 ]; then
      ensureSources
      ensured=1
    fi
    download "$name"
    [ $downloadOnly = 1 ] || unpack "$name"
  fi
  result "$name"
done
