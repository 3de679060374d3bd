package check

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/portabin/portabin/internal/ctest"
	"github.com/portabin/portabin/internal/elfinfo"
)

// The facts check reports beside its conclusions must be the ones readelf prints: dynamic
// entries (-d), notes (-n), program headers (-l), version needs (-V) and the versions of the
// dynamic symbols (--dyn-syms), on a dynamic program,
// the C library and this static Go test program.
func TestFactsAgreeWithReadelf(t *testing.T) {
	if _, err := exec.LookPath("readelf"); err != nil {
		t.Skip("readelf (binutils) is missing")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	files := []string{"/bin/sh", self}
	for _, lib := range []string{"/lib/x86_64-linux-gnu/libc.so.6", "/lib/aarch64-linux-gnu/libc.so.6"} {
		if _, err := os.Stat(lib); err == nil {
			files = append(files, lib)
		}
	}
	readelf := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("readelf", append([]string{"-W"}, args...)...).Output()
		if err != nil {
			t.Fatalf("readelf %v: %v", args, err)
		}
		return string(out)
	}
	for _, path := range files {
		info, err := elfinfo.Inspect(path)
		if err != nil {
			t.Fatal(err)
		}
		f, release, err := openELF(path)
		if err != nil {
			t.Fatal(err)
		}
		e := elfFacts(f, path, info)
		release()

		// Dynamic entries: readelf names each tag in parentheses, NULL included.
		var tags, want []string
		for _, d := range e.Dynamic {
			tag, value, _ := strings.Cut(d, " ")
			tags = append(tags, strings.TrimPrefix(tag, "DT_"))
			if tag == "DT_NEEDED" || tag == "DT_SONAME" || tag == "DT_RUNPATH" || tag == "DT_RPATH" {
				tags = append(tags, "["+value+"]")
			}
		}
		for _, m := range regexp.MustCompile(`(?m)^[ \t]*0x[0-9a-f]+ \((\w+)\)[ \t]+(?:[^\n]*(\[[^]\n]*\]))?`).FindAllStringSubmatch(readelf("-d", path), -1) {
			if m[1] == "NULL" {
				break
			}
			want = append(want, m[1])
			if m[2] != "" {
				want = append(want, m[2])
			}
		}
		if !slices.Equal(tags, want) {
			t.Errorf("%s: dynamic entries %q, readelf %q", path, tags, want)
		}

		// Program headers: type and flags.
		var segs []string
		for _, m := range regexp.MustCompile(`(?m)^\s+([A-Z_]+|LOOS\+\w+)\s+0x\S+ 0x\S+ 0x\S+ 0x\S+ 0x\S+ (.{3}) (?:0x|\d)`).FindAllStringSubmatch(readelf("-l", path), -1) {
			flags := strings.NewReplacer(" ", "-", "E", "X").Replace(m[2])
			segs = append(segs, m[1]+" "+flags)
		}
		if !slices.Equal(e.Segments, segs) {
			t.Errorf("%s: segments %q, readelf %q", path, e.Segments, segs)
		}

		// Notes: build ID, ABI tag and GNU properties as readelf words them.
		notes := readelf("-n", path)
		for _, n := range e.Notes {
			var line string
			switch n.Type {
			case "NT_GNU_BUILD_ID":
				line = "Build ID: " + n.Description
			case "NT_GNU_PROPERTY_TYPE_0":
				line = "Properties: " + strings.ReplaceAll(n.Description, "; ", "\n\t")
			case "NT_GNU_ABI_TAG":
				os, version, _ := strings.Cut(n.Description, " ")
				line = "OS: " + os + ", ABI: " + version
			case "Go build ID":
				// binutils 2.40 prints its bytes; later versions may print the string.
				line = "description data: " + strings.TrimSpace(fmt.Sprintf("% x", n.Description))
				if strings.Contains(notes, n.Description) {
					continue
				}
			default:
				continue
			}
			if !strings.Contains(notes, line) {
				t.Errorf("%s: note %q not in readelf -n:\n%s", path, line, notes)
			}
		}
		if e.BuildID == "" && strings.Contains(notes, "NT_GNU_BUILD_ID") {
			t.Errorf("%s: readelf finds a build ID, check none", path)
		}

		// Version needs: every library and version readelf lists, in its order.
		var needs, wantNeeds []string
		for _, v := range e.VersionNeeds {
			needs = append(needs, "File: "+v.File)
			for _, name := range v.Versions {
				needs = append(needs, "Name: "+name)
			}
		}
		versions := readelf("-V", path)
		if i := strings.Index(versions, "Version needs section"); i >= 0 {
			for _, m := range regexp.MustCompile(`(File|Name): (\S+)`).FindAllStringSubmatch(versions[i:], -1) {
				wantNeeds = append(wantNeeds, m[1]+": "+m[2])
			}
		}
		if !slices.Equal(needs, wantNeeds) {
			t.Errorf("%s: version needs %q, readelf %q", path, needs, wantNeeds)
		}
		// Symbol versions: readelf --dyn-syms names a versioned symbol name@VERSION when it is
		// imported or a hidden version, name@@VERSION when it is the default, and the symbol
		// that marks a version's definition by its bare name.
		var versioned, wantVersioned []string
		for _, v := range e.SymbolVersions {
			at := "@@"
			if v.File != "" || v.Hidden {
				at = "@"
			}
			for _, name := range v.Symbols {
				if name != v.Version {
					versioned = append(versioned, name+at+v.Version)
				}
			}
		}
		for _, m := range regexp.MustCompile(`(?m)^\s+\d+: .* (\S+@\S+)(?: \(\d+\))?$`).FindAllStringSubmatch(readelf("--dyn-syms", path), -1) {
			wantVersioned = append(wantVersioned, m[1])
		}
		slices.Sort(versioned)
		slices.Sort(wantVersioned)
		if !slices.Equal(versioned, wantVersioned) {
			t.Errorf("%s: %d versioned symbols, readelf %d; first: %q, readelf %q", path, len(versioned), len(wantVersioned), versioned[:min(len(versioned), 5)], wantVersioned[:min(len(wantVersioned), 5)])
		}
		t.Logf("%s: %d dynamic entries, %d segments, %d notes, %d libraries with versions, %d versioned symbols", path, len(e.Dynamic), len(e.Segments), len(e.Notes), len(e.VersionNeeds), len(versioned))
	}
}

// A program marked as needing x86-64-v3 (ld -z x86-64-v3) says so in its GNU property note,
// which glibc's loader enforces: check reports the marking beside what the code needs.
func TestMarkedISALevel(t *testing.T) {
	cc := ctest.GCC(t)
	exe, out, err := ctest.TryBuild(t, cc, "int main(void) { return 0; }\n", "-O2", "-Wl,-z,x86-64-v3")
	if err != nil {
		t.Skipf("the linker cannot mark ISA levels (binutils 2.36 or later): %s", out)
	}
	rep, err := File(exe, Requirements{})
	if err != nil {
		t.Fatal(err)
	}
	if got := markedISA(rep.ELF); got != "x86-64-v3" {
		t.Fatalf("marked level %q, want x86-64-v3 (notes %+v)", got, rep.ELF.Notes)
	}
	if rep.CPU == nil || !slices.ContainsFunc(rep.CPU.Notes, func(n string) bool { return strings.Contains(n, "needs x86-64-v3") }) {
		t.Fatalf("CPU notes do not mention the marking: %+v", rep.CPU)
	}
}
