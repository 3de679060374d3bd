#!/bin/sh
# history.sh SUITE VERSION SHA256: refresh history.tsv from Debian's
# manpages-dev VERSION in SUITE, then table.go.
#
# syscalls(2) lists no call newer than Linux 5.14 in any man-pages release so
# far, but newer calls' own pages say when they arrived. This downloads the
# package with apt from the machine's configured Debian mirror (a private apt
# state in a temporary folder: the system's sources and lists are untouched),
# checks its checksum, and has the generator read the pages' HISTORY sections.
#
# The committed history.tsv came from:
#   history.sh sid 6.20-2 87d169598ec031180a07995deb5573496556a2f67668aec1dcb689c5b8d1cd34
set -eu
[ $# -eq 3 ] || { echo "usage: $0 SUITE VERSION SHA256" >&2; exit 2; }
suite=$1 version=$2 sum=$3
gen=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null ||
	awk '$1 == "deb" { print $2; exit }' /etc/apt/sources.list)
[ -n "$mirror" ] || { echo "history.sh: no Debian mirror in the apt sources" >&2; exit 1; }
mkdir -p "$tmp/parts" "$tmp/lists/partial" "$tmp/cache/archives/partial"
: >"$tmp/none.list"
: >"$tmp/status"
printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
	"$mirror" "$suite" >"$tmp/parts/manpages.sources"
set -- -o Dir::Etc::SourceList="$tmp/none.list" -o Dir::Etc::SourceParts="$tmp/parts" \
	-o Dir::State::Lists="$tmp/lists" -o Dir::Cache="$tmp/cache" -o Dir::State::status="$tmp/status" \
	-o APT::Sandbox::User=root
apt-get "$@" -qq update
(cd "$tmp" && apt-get "$@" -qq download "manpages-dev=$version")
deb="$tmp/manpages-dev_${version}_all.deb"
echo "$sum  $deb" | sha256sum -c --quiet
dpkg-deb -x "$deb" "$tmp/root"
manpages=$(zcat "$tmp/root/usr/share/man/man2/syscalls.2.gz" | sed -n 's/^\.TH .*"Linux man-pages \([^"]*\)".*/\1/p')

cd "$gen/../.."
go run ./internal/gen -history-pages "$tmp/root/usr/share/man/man2" \
	-history-source "man-pages $manpages (Debian manpages-dev $version)" -o internal/gen/history.tsv
go generate .
