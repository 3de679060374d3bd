package risk

import (
	"bytes"
	"debug/elf"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/portabin/portabin/internal/ctest"
	"github.com/portabin/portabin/internal/elfinfo"
)

const helloC = "#include <stdio.h>\nint main(void) { puts(\"hi\"); return 0; }\n"

const dlopenC = `#include <dlfcn.h>
#include <stdio.h>
int main(int argc, char **argv) {
	void *h = dlopen(argc > 1 ? argv[1] : "libm.so.6", RTLD_NOW);
	printf("%p\n", h);
	return 0;
}
`

const getpwnamC = `#include <pwd.h>
#include <stdio.h>
int main(void) {
	struct passwd *p = getpwnam("root");
	printf("%s\n", p ? p->pw_dir : "?");
	return 0;
}
`

const caBundleC = `#include <stdio.h>
int main(void) {
	FILE *f = fopen("/etc/ssl/certs/ca-certificates.crt", "r");
	printf("%d\n", f != NULL);
	return 0;
}
`

const assertC = `#include <assert.h>
#include <stdio.h>
int main(int argc, char **argv) {
	assert(argc > 0);
	printf("%s\n", __FILE__);
	return 0;
}
`

// textrelC makes code with absolute addresses (-mcmodel=large -fno-pic) that a PIE must relocate.
const textrelC = "int x;\nlong f(void) { return (long)&x; }\nint main(void) { return f() == 0; }\n"

// want is a finding kind that must be there, with a substring of its detail.
type want struct{ kind, detail string }

func TestAnalyzePrograms(t *testing.T) {
	tests := []struct {
		name   string
		cc     func(testing.TB) ctest.Compiler
		src    string
		flags  []string
		want   []want
		absent []string // kinds that must not be found
	}{
		{
			name: "gcc static hello: dlopen linked but not called",
			cc:   ctest.GCC, src: helloC, flags: []string{"-static"},
			want:   []want{{RuntimeFile, "/usr/lib/locale"}},
			absent: []string{Dlopen, NSS, ExecStack, TextRel, Stripped, NoBuildID, AbsPath},
		},
		{
			name: "gcc dynamic dlopen",
			cc:   ctest.GCC, src: dlopenC,
			want: []want{{Dlopen, "imported (found in .dynsym)"}},
		},
		{
			name: "gcc static dlopen",
			cc:   ctest.GCC, src: dlopenC, flags: []string{"-static"},
			want: []want{{Dlopen, "called (found in .symtab): a static glibc"}},
		},
		{
			name: "musl-gcc static dlopen",
			cc:   ctest.MuslGCC, src: dlopenC, flags: []string{"-static"},
			want: []want{{Dlopen, "called (found in .symtab): musl's static dlopen always fails"}},
		},
		{
			name: "musl-gcc static stripped dlopen",
			cc:   ctest.MuslGCC, src: dlopenC, flags: []string{"-static", "-s"},
			want: []want{{Dlopen, "guessed from musl's error string"}, {Stripped, ".symtab"}},
		},
		{
			name: "musl-gcc static hello",
			cc:   ctest.MuslGCC, src: helloC, flags: []string{"-static"},
			absent: []string{Dlopen, NSS, RuntimeFile, ExecStack, Stripped},
		},
		{
			name: "gcc static getpwnam",
			cc:   ctest.GCC, src: getpwnamC, flags: []string{"-static"},
			want: []want{{NSS, "getpwnam"}, {RuntimeFile, "/etc/nsswitch.conf"}},
		},
		{
			name: "gcc static stripped getpwnam",
			cc:   ctest.GCC, src: getpwnamC, flags: []string{"-static", "-s"},
			want: []want{{NSS, "guessed from the string"}},
		},
		{
			name: "gcc dynamic getpwnam uses the system's NSS",
			cc:   ctest.GCC, src: getpwnamC,
			absent: []string{NSS},
		},
		{
			name: "musl-gcc static getpwnam reads /etc/passwd",
			cc:   ctest.MuslGCC, src: getpwnamC, flags: []string{"-static"},
			want:   []want{{RuntimeFile, "/etc/passwd"}},
			absent: []string{NSS},
		},
		{
			name: "execstack",
			cc:   ctest.GCC, src: helloC, flags: []string{"-z", "execstack"},
			want: []want{{ExecStack, "PT_GNU_STACK"}},
		},
		{
			name: "text relocations",
			cc:   ctest.GCC, src: textrelC, flags: []string{"-O2", "-fno-pic", "-mcmodel=large", "-pie"},
			want: []want{{TextRel, "DT_TEXTREL"}},
		},
		{
			name: "CA bundle path",
			cc:   ctest.MuslGCC, src: caBundleC, flags: []string{"-static"},
			want: []want{{RuntimeFile, "/etc/ssl/certs/ca-certificates.crt: CA bundle of Debian"}},
		},
		{
			name: "build path from __FILE__",
			cc:   ctest.MuslGCC, src: assertC, flags: []string{"-static"},
			want: []want{{AbsPath, "/prog.c: a path of the build machine"}},
		},
		{
			name: "build path mapped away",
			cc:   ctest.MuslGCC, src: assertC, flags: []string{"-static", "-ffile-prefix-map=" + os.TempDir() + "=/portabin/src"},
			absent: []string{AbsPath},
		},
		{
			name: "no build-id",
			cc:   ctest.GCC, src: helloC, flags: []string{"-Wl,--build-id=none"},
			want: []want{{NoBuildID, "build-id"}},
		},
		{
			name: "zig static hello",
			cc:   func(t testing.TB) ctest.Compiler { return ctest.Zig(t, "x86_64-linux-musl") }, src: helloC, flags: []string{"-O2"},
			absent: []string{Dlopen, NSS, RuntimeFile, AbsPath, ExecStack, TextRel, Stripped},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := ctest.Build(t, tt.cc(t), tt.src, tt.flags...)
			findings := analyzeFile(t, path)
			for _, w := range tt.want {
				if !slices.ContainsFunc(findings, func(f Finding) bool { return f.Kind == w.kind && strings.Contains(f.Detail, w.detail) }) {
					t.Errorf("no %s finding with %q in %v", w.kind, w.detail, findings)
				}
			}
			for _, kind := range tt.absent {
				if i := slices.IndexFunc(findings, func(f Finding) bool { return f.Kind == kind }); i >= 0 {
					t.Errorf("unexpected finding %+v", findings[i])
				}
			}
		})
	}
}

func analyzeFile(t testing.TB, path string) []Finding {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, err := elfinfo.Inspect(path)
	if err != nil {
		t.Fatal(err)
	}
	findings, err := Analyze(f, info, path)
	if err != nil {
		t.Fatal(err)
	}
	return findings
}

func TestRuntimeFilesIn(t *testing.T) {
	tests := []struct {
		str  string
		want []string
	}{
		{"/etc/ssl/certs/ca-certificates.crt", []string{"/etc/ssl/certs/ca-certificates.crt"}},
		{"/etc/ssl/certs", []string{"/etc/ssl/certs"}},
		{"cannot open /etc/hosts: %s", []string{"/etc/hosts"}},
		{"/etc/hosts.allow", nil},
		{"/opt/etc/hosts", nil},
		{"/usr/share/zoneinfo/UTC", []string{"/usr/share/zoneinfo"}},
		{"/etc/passwd /etc/group", []string{"/etc/passwd", "/etc/group"}},
		{"is /usr/lib/locale/TZ/14901161", nil},                              // Go's time package
		{"/usr/lib/locale/TZ/ /usr/lib/locale", []string{"/usr/lib/locale"}}, // and glibc's locales
	}
	for _, tt := range tests {
		if got := runtimeFilesIn(tt.str); !slices.Equal(got, tt.want) {
			t.Errorf("runtimeFilesIn(%q) = %q, want %q", tt.str, got, tt.want)
		}
	}
}

func TestBuildPathsIn(t *testing.T) {
	tests := []struct {
		str  string
		want []string
	}{
		{"/home/ann/src/app/main.c", []string{"/home/ann/src/app/main.c"}},
		{"assertion failed at /build/foo-1.2/lib/x.c:12", []string{"/build/foo-1.2/lib/x.c"}},
		{"/tmp/x.sock", nil},
		{"/home/ann", nil},
		{"/portabin/src/main.c", nil},
		{"/usr/src/linux/Makefile", []string{"/usr/src/linux/Makefile"}},
		{"/var/tmp/build/a.c", []string{"/var/tmp/build/a.c"}},
	}
	for _, tt := range tests {
		if got := buildPathsIn(tt.str); !slices.Equal(got, tt.want) {
			t.Errorf("buildPathsIn(%q) = %q, want %q", tt.str, got, tt.want)
		}
	}
}

// TestHostileInput feeds truncated and corrupted programs to Analyze: it must return, without a
// panic escaping, for every file that debug/elf accepts.
func TestHostileInput(t *testing.T) {
	dir := t.TempDir()
	for _, path := range []string{
		ctest.Build(t, ctest.MuslGCC(t), dlopenC, "-static"),
		ctest.Build(t, ctest.MuslGCC(t), caBundleC, "-static", "-s"),
		ctest.Build(t, ctest.GCC(t), dlopenC),
	} {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for i, variant := range ctest.Mangle(data) {
			f, err := elf.NewFile(bytes.NewReader(variant))
			if err != nil {
				continue
			}
			p := filepath.Join(dir, "mangled")
			if err := os.WriteFile(p, variant, 0o644); err != nil {
				t.Fatal(err)
			}
			info, err := elfinfo.Inspect(p)
			if err != nil {
				continue
			}
			if _, err := Analyze(f, info, p); err != nil && strings.Contains(err.Error(), "malformed") {
				t.Errorf("variant %d: %v", i, err)
			}
		}
	}
}

func FuzzStrings(f *testing.F) {
	f.Add([]byte("/etc/ssl/certs/ca-certificates.crt\x00/home/a/b/c.c\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var want, got []string
		printableRuns(data, func(s string) {
			if strings.Contains(s, "/") {
				want = append(want, s)
			}
		})
		pathRuns(data, func(s string) {
			runtimeFilesIn(s)
			buildPathsIn(s)
			got = append(got, s)
		})
		if !slices.Equal(want, got) {
			t.Fatalf("pathRuns found %q, want %q", got, want)
		}
	})
}

// pathRuns jumps between slashes; it must see exactly the runs a byte-by-byte walk sees.
func TestPathRuns(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("ab/\x00\t\x7f\x1f~ ")
	for n := range 20000 {
		data := make([]byte, n%64)
		for i := range data {
			data[i] = alphabet[rnd.IntN(len(alphabet))]
		}
		var want, got []string
		printableRuns(data, func(s string) {
			if strings.Contains(s, "/") {
				want = append(want, s)
			}
		})
		pathRuns(data, func(s string) { got = append(got, s) })
		if !slices.Equal(want, got) {
			t.Fatalf("%q: pathRuns found %q, want %q", data, got, want)
		}
	}
}

// printableRuns calls visit with every run of at least four printable ASCII characters: the
// plain definition that pathRuns must agree with.
func printableRuns(data []byte, visit func(string)) {
	start := -1
	for i := 0; i <= len(data); i++ {
		if i < len(data) && (data[i] >= 0x20 && data[i] < 0x7f || data[i] == '\t') {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 && i-start >= 4 {
			visit(string(data[start:i]))
		}
		start = -1
	}
}

// pathsAt looks only where a '/' may start a path, so every prefix it is given must begin with
// one; then it finds what a search for each occurrence finds.
func TestPathsAt(t *testing.T) {
	prefixes := slices.Clone(buildPrefixes)
	for _, rf := range runtimeFiles {
		prefixes = append(prefixes, rf.path)
	}
	for _, p := range prefixes {
		if !strings.HasPrefix(p, "/") {
			t.Fatalf("%q does not begin with '/'", p)
		}
	}
	rnd := rand.New(rand.NewPCG(3, 4))
	pieces := []string{"/", "/home/", "/etc/ssl", "/certs", "a", ".", " ", "x/", "/tmp/", "//"}
	for range 20000 {
		var b strings.Builder
		for range rnd.IntN(8) {
			b.WriteString(pieces[rnd.IntN(len(pieces))])
		}
		str := b.String()
		starts := pathStarts(str)
		for _, p := range prefixes {
			if got, want := pathsAt(str, starts, p), searchPaths(str, p); !slices.Equal(got, want) {
				t.Fatalf("%q, %q: pathsAt %v, a search %v", str, p, got, want)
			}
		}
	}
}

// searchPaths is pathsAt by searching for every occurrence of prefix.
func searchPaths(str, prefix string) []int {
	var out []int
	for from := 0; from < len(str); {
		i := strings.Index(str[from:], prefix)
		if i < 0 {
			break
		}
		i += from
		if i == 0 || !isPathByte(str[i-1]) {
			out = append(out, i)
		}
		from = i + 1
	}
	return out
}
