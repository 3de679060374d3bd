#!/usr/bin/env bash
# bench/check/run.sh compares `portabin check --json` with the tools people use to look at ELF
# files, on the same set in one run on one machine: every ELF file under /usr/bin, /usr/lib and
# /usr/libexec, as issue 3 asks (links resolved, each file once). Each tool gets the whole list
# in one invocation, its output goes to /dev/null, and GNU time measures its wall time and peak
# resident memory. The table gives files per second and portabin's ratio to each tool (a time
# ratio below 1 means portabin is faster).
#
# The tools answer less than check does: `file` names the kind of file and the ABI note,
# `readelf -a` prints the headers, sections, dynamic section, symbols and notes without judging
# them, `scanelf -a` lists a summary of flags (TEXTREL, RPATH, NEEDED, stack...), and `lddtree`
# resolves the libraries a dynamic file loads. None decodes the code, which check does (the
# system calls and CPU extensions), so check is expected to cost more per file than `file`.
# portabin runs twice with a cache folder of its own: first with it empty (every file analysed),
# then again (the reports of the unchanged files reused, docs/check.md "Saved reports").
#
# Environment:
#   PORTABIN     portabin executable (default: bin/portabin, built with `make build` if missing)
#   BENCH_LIMIT  check only the first N files of the set (default: all)
#   BENCH_SET    issue (default: /usr/bin, /usr/lib, /usr/libexec) or small (/usr/bin and
#                /usr/lib/<multiarch>/*.so*, the set of the first runs)
# stdout: the machine, the set, the table. Progress and the tools' complaints: stderr.
set -euo pipefail
cd "$(dirname "$0")/../.."

for tool in file readelf scanelf lddtree; do
	command -v "$tool" >/dev/null || { echo "bench/check: $tool is missing (binutils, file, pax-utils)" >&2; exit 2; }
done
# lddtree is a Python script that needs Debian's python3-pyelftools: run it with Debian's python,
# not whichever python3 comes first on PATH.
lddtree=(/usr/bin/python3 "$(command -v lddtree)")
"${lddtree[@]}" /bin/sh >/dev/null 2>&1 || { echo "bench/check: lddtree does not run: apt-get install python3-pyelftools" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "bench/check: GNU time is missing: apt-get install time" >&2; exit 2; }
portabin=${PORTABIN:-bin/portabin}
if [ -z "${PORTABIN:-}" ] && [ ! -x "$portabin" ]; then
	make build >&2
fi

multiarch=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
list=$(mktemp)
times=$(mktemp)
trap 'rm -f "$list" "$times"' EXIT
echo "bench/check: finding the ELF files" >&2
# Issue 3's set: every ELF file under /usr/bin, /usr/lib and /usr/libexec, each file once
# (symbolic and hard links resolved). BENCH_SET=small is the set of the runs before
# 2026-11-26 09:00 UTC: /usr/bin and /usr/lib/<multiarch>/*.so*.
case "${BENCH_SET:-issue}" in
issue)
	where="/usr/bin, /usr/lib, /usr/libexec"
	roots=(/usr/bin /usr/lib /usr/libexec)
	;;
small)
	where="/usr/bin, /usr/lib/$multiarch/*.so*"
	roots=(/usr/bin/* /usr/lib/"$multiarch"/*.so*)
	;;
*)
	echo "bench/check: BENCH_SET is issue or small, not $BENCH_SET" >&2
	exit 2
	;;
esac
/usr/bin/python3 - "${roots[@]}" >"$list" <<'PY'
import os, stat, sys

seen, found = set(), []
def consider(path):
    try:
        st = os.stat(path)  # through symbolic links
        if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) in seen:
            return
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError:
        return
    if magic == b"\x7fELF":
        seen.add((st.st_dev, st.st_ino))
        found.append(os.path.realpath(path))

for root in sys.argv[1:]:
    if os.path.isdir(root) and not os.path.islink(root):
        for folder, _, names in os.walk(root):
            for name in names:
                consider(os.path.join(folder, name))
    else:
        consider(root)
print("\n".join(sorted(set(found))))
PY
if [ -n "${BENCH_LIMIT:-}" ]; then
	head -n "$BENCH_LIMIT" "$list" >"$list.part" && mv "$list.part" "$list"
fi
mapfile -t files <"$list"
bytes=$(cat "${files[@]}" | wc -c)
# Read every file once so that no tool pays for the first read from disk.
cat "${files[@]}" >/dev/null

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
echo "system:  $(. /etc/os-release && echo "$PRETTY_NAME"), Linux $(uname -r), load $(cut -d' ' -f1 /proc/loadavg)"
echo "set:     ${#files[@]} ELF files, $((bytes / 1048576)) MiB ($where)"
echo "portabin: $("$portabin" --version 2>/dev/null || echo "$portabin")"
echo

# measure NAME COMMAND...: one run under GNU time; appends "NAME seconds maxrss-KiB exit" to $times.
measure() {
	local name=$1
	shift
	echo "bench/check: $name" >&2
	local code=0
	/usr/bin/time -f '%e %M %x' -o "$times.one" "$@" "${files[@]}" >/dev/null 2>"$times.err" || code=$?
	# The tools' own exit codes are reported, not fatal: check exits 1 when a file is not portable.
	# GNU time writes "Command exited with non-zero status N" first when the tool fails.
	read -r secs rss status < <(tail -n 1 "$times.one")
	echo "$name $secs $rss $status" >>"$times"
	rm -f "$times.one" "$times.err"
}

checkcache=$(mktemp -d)
trap 'rm -rf "$list" "$times" "$checkcache"' EXIT
measure "portabin check --json" env PORTABIN_CACHE="$checkcache" "$portabin" check --json
measure "portabin check --json, again" env PORTABIN_CACHE="$checkcache" "$portabin" check --json
measure "file" file
measure "readelf -d -n -V" readelf -d -n -V -W
measure "readelf -a" readelf -a -W
measure "scanelf -a" scanelf -a
# Issue 3 names `scanelf -R`: the folders themselves, recursively, with scanelf's default
# output. It walks every file there, ELF or not (and follows links), so it reads a little more
# than the list; with BENCH_LIMIT or the small set it is left out.
if [ "${BENCH_SET:-issue}" = issue ] && [ -z "${BENCH_LIMIT:-}" ]; then
	listed=("${files[@]}")
	files=()
	measure "scanelf -R (the folders)" scanelf -R "${roots[@]}"
	files=("${listed[@]}")
fi
# The floor for any tool that reads the files' bytes (check reads them all, to decode the
# code): cat, one process, output to /dev/null.
measure "cat (reads every byte)" cat
measure "lddtree" "${lddtree[@]}"

# Issue 3's other target: the analysis of one static executable of about 5 MB under 0.5 s. The
# set's static executables closest to 5 MB are each checked alone.
statics=$(file -N -F $'\t' "${files[@]}" | awk -F'\t' '/statically linked|static-pie linked/ { print $1 }' |
	while read -r f; do echo "$(stat -c %s "$f") $f"; done |
	awk '{ d = $1 - 5242880; if (d < 0) d = -d; print d, $1, $2 }' | sort -n | awk 'NR <= 3')
# (awk, not head: head would stop reading early, and the pipeline would fail with SIGPIPE.)

awk -v n="${#files[@]}" '
	{ name = $1; for (i = 2; i <= NF - 3; i++) name = name " " $i
	  secs[NR] = $(NF-2); rss[NR] = $(NF-1); code[NR] = $NF; names[NR] = name }
	END {
		printf "%-30s %9s %10s %12s %6s %9s %9s\n", "tool", "wall s", "files/s", "peak RSS MiB", "exit", "first ×", "again ×"
		for (i = 1; i <= NR; i++) {
			fps = secs[i] > 0 ? n / secs[i] : 0
			first = i <= 2 ? "-" : (secs[i] > 0 ? sprintf("%.2f", secs[1] / secs[i]) : "inf")
			again = i <= 2 ? "-" : (secs[i] > 0 ? sprintf("%.3f", secs[2] / secs[i]) : "inf")
			printf "%-30s %9.2f %10.0f %12.1f %6s %9s %9s\n", names[i], secs[i], fps, rss[i] / 1024, code[i], first, again
		}
		print ""
		print "first × and again × are portabin check (empty cache, then again) divided by the tool: below 1, portabin is faster."
	}' "$times"
echo
echo "single static executables (target: under 0.5 s for about 5 MB):"
while read -r _ size f; do
	[ -n "$f" ] || continue
	/usr/bin/time -f '%e %M' -o "$times.one" "$portabin" check --no-cache "$f" >/dev/null 2>&1 || true
	read -r secs rss < <(tail -n 1 "$times.one")
	printf '  %-48s %6.1f MB %6.2f s %7.1f MiB RSS\n' "$f" "$(echo "$size / 1048576" | bc -l)" "$secs" "$(echo "$rss / 1024" | bc -l)"
done <<<"$statics"
rm -f "$times.one"
