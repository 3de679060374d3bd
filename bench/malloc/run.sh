#!/usr/bin/env bash
# bench/malloc/run.sh measures, in one run on one machine, how fast a multithreaded allocation
# workload (alloc.c beside this script: threads making and freeing many small blocks of varying
# sizes, half of them freed by another thread) runs when built three ways:
#   1. musl:     `portabin build`, musl's own allocator (mallocng);
#   2. mimalloc: `portabin build --malloc=mimalloc`;
#   3. glibc:    the host's `gcc -O2 -pthread`, dynamically linked against glibc.
# The program times its own work (clock_gettime around the threads), so start-up and the build
# are not counted. It prints each time, the medians, the ratios to glibc, and PASS/MISS for the
# target: --malloc within 1.2x of glibc.
#
# Environment:
#   BENCH_RUNS      runs per build (default 3); the median is reported
#   BENCH_ARGS      the program's THREADS ROUNDS BATCH (default "4 50 20000")
#   PORTABIN        portabin executable (default: `make build`, then bin/portabin)
#   PORTABIN_SOURCES  folder with mimalloc's tarball for offline machines (else it is downloaded);
#                   scripts/fetch-sources.sh -d mimalloc prints one
#   PORTABIN_CACHE, XDG_CACHE_HOME  as portabin reads them
# stdout: the setup, the table, the ratios and the PASS/MISS line. Progress: stderr.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
runs=${BENCH_RUNS:-3}
args=${BENCH_ARGS:-4 50 20000}
target=1.2 # mimalloc/glibc

say() { echo "bench/malloc: $*" >&2; }
die() { say "$*"; exit 1; }

case $runs in '' | *[!0-9]* | 0) die "BENCH_RUNS must be a positive number, not '$runs'" ;; esac
command -v gcc >/dev/null || die "gcc is needed for the glibc build"
unset CFLAGS LDFLAGS

if [ -n "${PORTABIN:-}" ]; then
	portabin=$PORTABIN
else
	say "make build"
	make -C "$repo" build >&2
	portabin=$repo/bin/portabin
fi
[ -x "$portabin" ] || die "$portabin is not an executable"

work=$(mktemp -d "${TMPDIR:-/tmp}/portabin-bench-malloc.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src" "$work/times"
cp "$here/alloc.c" "$work/src/alloc.c"

say "building with musl's allocator"
"$portabin" build --out "$work/musl" "$work/src" >/dev/null
say "building with --malloc=mimalloc"
"$portabin" build --malloc=mimalloc --out "$work/mimalloc" "$work/src" >/dev/null
say "building with gcc and glibc"
gcc -O2 -pthread -o "$work/glibc" "$here/alloc.c"

triple=$(cd "$work/musl" && ls)
declare -A exe=([musl]=$work/musl/$triple/alloc [mimalloc]=$work/mimalloc/$triple/alloc [glibc]=$work/glibc)
order=(glibc mimalloc musl)

# Interleaved, so that a slow moment of a shared machine hits every build alike.
for ((i = 1; i <= runs; i++)); do
	for name in "${order[@]}"; do
		# shellcheck disable=SC2086 # BENCH_ARGS is words
		out=$("${exe[$name]}" $args)
		say "run $i $name: $out"
		echo "${out%% *}" >>"$work/times/$name"
		sum=${out#* }
		if [ -n "${want_sum:-}" ] && [ "$sum" != "$want_sum" ]; then
			die "$name computed checksum $sum, the others $want_sum"
		fi
		want_sum=$sum
	done
done

stats() {
	sort -g "$work/times/$1" | awk '{ v[NR] = $1 }
		END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		      printf "%.3f %.3f %.3f\n", m, v[1], v[NR] }'
}
median() { stats "$1" | awk '{ print $1 }'; }
ratio() { awk -v a="$(median "$1")" -v b="$(median "$2")" 'BEGIN { printf "%.2f", a / b }'; }

echo "machine:  $(uname -m), $(nproc) cores, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
echo "kernel:   $(uname -r); glibc $(getconf GNU_LIBC_VERSION | awk '{ print $2 }'); gcc $(gcc -dumpversion)"
echo "workload: alloc $args (threads rounds batch), $runs runs each"
echo
printf '%-40s %8s %8s %8s\n' "wall seconds" "median" "min" "max"
printf '%-40s %8s %8s %8s\n' "glibc (gcc -O2, dynamic)" $(stats glibc)
printf '%-40s %8s %8s %8s\n' "portabin --malloc=mimalloc (static)" $(stats mimalloc)
printf '%-40s %8s %8s %8s\n' "portabin, musl's malloc (static)" $(stats musl)
echo
echo "mimalloc/glibc: $(ratio mimalloc glibc)"
echo "musl/glibc:     $(ratio musl glibc)"
echo "musl/mimalloc:  $(ratio musl mimalloc)"
if awk -v r="$(ratio mimalloc glibc)" -v t="$target" 'BEGIN { exit !(r <= t) }'; then
	echo "PASS --malloc=mimalloc within ${target}x of glibc"
else
	echo "MISS --malloc=mimalloc within ${target}x of glibc"
fi
