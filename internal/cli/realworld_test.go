package cli_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portabin/portabin/internal/ctest"
	"github.com/portabin/portabin/internal/elfinfo"
	"github.com/portabin/portabin/internal/target"
)

// realWorldProject is an upstream project, built from the source Debian ships, and what its
// build must give.
type realWorldProject struct {
	name string
	// pkg is the Debian source package that scripts/fetch-sources.sh fetches.
	pkg string
	// variant, if set, adapts a copy of the source in dir: the build then starts from it.
	variant func(dir string) error
	// exes are executables the build must write to dist/, each fully static.
	exes []string
	// check runs the built programs in the empty folder work; exe gives a program's path.
	check func(work string, exe func(string) string) error
	// bug names a known portabin bug that makes this project fail: while it does, the project is
	// skipped with the failure; once it passes, the test fails until bug is removed.
	bug string
}

var realWorldProjects = []realWorldProject{
	{
		name: "zlib-cmake", pkg: "zlib",
		// Debian's repack of zlib drops win32/, whose zlib1.rc zlib's CMakeLists.txt lists on
		// every platform; the file is ignored outside Windows.
		variant: func(dir string) error {
			if err := os.MkdirAll(filepath.Join(dir, "win32"), 0o755); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, "win32", "zlib1.rc"), nil, 0o644)
		},
		exes: []string{"example", "minigzip", "example64", "minigzip64"},
		check: func(work string, exe func(string) string) error {
			return errors.Join(zlibExample(work, exe), roundTrip(work, exe("minigzip"), nil, []string{"-d"}))
		},
	},
	{
		name: "zlib-configure", pkg: "zlib",
		// Without CMakeLists.txt portabin takes zlib's own configure, a handwritten script.
		variant: func(dir string) error { return os.Remove(filepath.Join(dir, "CMakeLists.txt")) },
		exes:    []string{"example", "minigzip"},
		check: func(work string, exe func(string) string) error {
			return errors.Join(zlibExample(work, exe), roundTrip(work, exe("minigzip"), nil, []string{"-d"}))
		},
	},
	{
		name: "bzip2-make", pkg: "bzip2",
		exes: []string{"bzip2", "bzip2recover"},
		check: func(work string, exe func(string) string) error {
			return roundTrip(work, exe("bzip2"), []string{"-c"}, []string{"-dc"})
		},
	},
	{
		name: "lz4-make", pkg: "lz4",
		exes: []string{"lz4"},
		check: func(work string, exe func(string) string) error {
			return roundTrip(work, exe("lz4"), []string{"-c"}, []string{"-dc"})
		},
	},
	{
		name: "xz-utils-cmake", pkg: "xz-utils",
		exes: []string{"xz", "xzdec"},
		check: func(work string, exe func(string) string) error {
			return errors.Join(roundTrip(work, exe("xz"), []string{"-c"}, []string{"-dc"}),
				roundTrip(work, exe("xz"), []string{"-c"}, nil, exe("xzdec")))
		},
	},
	{
		// autotools with libtool: file links libmagic.la.
		name: "file-autotools", pkg: "file",
		exes: []string{"file"},
		check: func(work string, exe func(string) string) error {
			magic := filepath.Join(work, "magic")
			if err := os.WriteFile(magic, []byte("0\tstring\tPORTABIN\tportabin test data\n"), 0o644); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(work, "sample"), []byte("PORTABIN and more\n"), 0o644); err != nil {
				return err
			}
			if _, err := runIn(work, nil, exe("file"), "-C", "-m", magic); err != nil {
				return err
			}
			return wantOutput(work, nil, "sample: portabin test data\n", exe("file"), "-m", magic+".mgc", "sample")
		},
	},
	{
		name: "serd-meson", pkg: "serd",
		exes: []string{"serdi"},
		check: func(work string, exe func(string) string) error {
			ttl := filepath.Join(work, "in.ttl")
			if err := os.WriteFile(ttl, []byte("@prefix ex: <http://example.org/> .\nex:a ex:b \"c\" , \"d\" .\n"), 0o644); err != nil {
				return err
			}
			return wantOutput(work, nil,
				"<http://example.org/a> <http://example.org/b> \"c\" .\n<http://example.org/a> <http://example.org/b> \"d\" .\n",
				exe("serdi"), "-i", "turtle", "-o", "ntriples", ttl)
		},
	},
	{
		// Lua's Makefile writes ar's operation into AR and exports its symbols with -Wl,-E.
		name: "lua-make", pkg: "lua5.4",
		exes: []string{"lua", "luac"},
		check: func(work string, exe func(string) string) error {
			return wantOutput(work, nil, "ababab\t3.1416\n", exe("lua"), "-e", `print(("ab"):rep(3), string.format("%.4f", math.pi))`)
		},
	},
	{
		// C++, with zig's libc++ linked in.
		name: "ninja-cmake", pkg: "ninja-build",
		exes: []string{"ninja"},
		check: func(work string, exe func(string) string) error {
			files := map[string]string{"build.ninja": "rule copy\n  command = cp $in $out\nbuild out.txt: copy in.txt\n", "in.txt": "copied\n"}
			for name, content := range files {
				if err := os.WriteFile(filepath.Join(work, name), []byte(content), 0o644); err != nil {
					return err
				}
			}
			if _, err := runIn(work, nil, exe("ninja")); err != nil {
				return err
			}
			got, err := os.ReadFile(filepath.Join(work, "out.txt"))
			if err != nil || string(got) != "copied\n" {
				return fmt.Errorf("ninja did not copy in.txt to out.txt: %q, %v", got, err)
			}
			return nil
		},
	},
	{
		name: "fribidi-meson", pkg: "fribidi",
		exes: []string{"fribidi"},
		check: func(work string, exe func(string) string) error {
			return wantOutput(work, []byte("hello WORLD\n"), "DLROW hello\n", exe("fribidi"), "--charset", "CapRTL", "--nopad", "--rtl")
		},
	},
}

// TestRealWorld builds real projects from the sources Debian ships, checks that every expected
// executable is static, runs it, and checks that the source was not written to.
func TestRealWorld(t *testing.T) {
	if testing.Short() {
		t.Skip("builds real projects; skipped with -short")
	}
	host, ok := target.Host()
	if !ok {
		t.Skipf("no default target for a %s host", runtime.GOARCH)
	}
	for _, exe := range []string{"apt-get", "cmake", "meson", "make"} {
		if _, err := exec.LookPath(exe); err != nil {
			t.Skipf("%s is not installed", exe)
		}
	}
	var pkgs []string
	for _, p := range realWorldProjects {
		pkgs = append(pkgs, p.pkg)
	}
	sources := fetchSources(t, pkgs...)
	for _, p := range realWorldProjects {
		t.Run(p.name, func(t *testing.T) {
			err := buildRealWorld(t, p, sources[p.pkg], host)
			switch {
			case p.bug != "" && err != nil:
				t.Skipf("known bug: %s\n%v", p.bug, err)
			case p.bug != "":
				t.Errorf("builds and runs now: remove the known bug %q", p.bug)
			case err != nil:
				t.Error(err)
			}
		})
	}
}

// buildRealWorld builds p from src and checks the result.
func buildRealWorld(t *testing.T, p realWorldProject, src string, host target.Target) error {
	if p.variant != nil {
		dir := filepath.Join(t.TempDir(), p.name)
		if err := copyTree(src, dir); err != nil {
			return err
		}
		if err := p.variant(dir); err != nil {
			return fmt.Errorf("making the variant: %w", err)
		}
		src = dir
	}
	before := treeDigest(t, src)
	out := t.TempDir()
	_, stderr, code, took := runPortabin(t, t.TempDir(), errorEnv(), "build", "--out", out, src)
	t.Logf("portabin build took %s", took.Round(100*time.Millisecond))
	var errs []error
	if diff := cmp.Diff(before, treeDigest(t, src)); diff != "" {
		errs = append(errs, fmt.Errorf("the build changed the source (-before +after):\n%s", diff))
		if p.variant == nil {
			// The next run unpacks the source afresh.
			os.Remove(filepath.Join(filepath.Dir(src), ".unpacked"))
		}
	}
	if code != 0 {
		return errors.Join(append(errs, fmt.Errorf("portabin build: exit code %d\n%s", code, stderr))...)
	}
	exe := func(name string) string { return filepath.Join(out, host.Name, name) }
	static := true
	for _, name := range p.exes {
		info, err := elfinfo.Inspect(exe(name))
		if err != nil {
			errs = append(errs, err)
			static = false
		} else if info.Linking != elfinfo.Static {
			errs = append(errs, fmt.Errorf("%s links %s, want static", name, info.Linking))
			static = false
		}
	}
	if static {
		errs = append(errs, p.check(t.TempDir(), exe))
	}
	return errors.Join(errs...)
}

// fetchSources runs scripts/fetch-sources.sh and returns the unpacked source folder of each
// package. Without apt or its mirror there is nothing to build, and the test is skipped.
func fetchSources(t *testing.T, pkgs ...string) map[string]string {
	t.Helper()
	var unique []string
	seen := map[string]bool{}
	for _, p := range pkgs {
		if !seen[p] {
			seen[p] = true
			unique = append(unique, p)
		}
	}
	dirs := ctest.FetchSources(t, unique...)
	if len(dirs) != len(unique) {
		t.Fatalf("fetch-sources.sh printed %q for %q", dirs, unique)
	}
	sources := map[string]string{}
	for i, p := range unique {
		sources[p] = dirs[i]
	}
	return sources
}

// runIn runs a built program in dir with stdin and returns its standard output; the error
// carries its standard error.
func runIn(dir string, stdin []byte, exe string, args ...string) ([]byte, error) {
	cmd := exec.Command(exe, args...)
	cmd.Dir = dir
	cmd.Env = []string{"LC_ALL=C"}
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s %s: %v\n%s", filepath.Base(exe), strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes(), nil
}

func wantOutput(dir string, stdin []byte, want string, exe string, args ...string) error {
	got, err := runIn(dir, stdin, exe, args...)
	if err != nil {
		return err
	}
	if diff := cmp.Diff(want, string(got)); diff != "" {
		return fmt.Errorf("%s %s (-want +got):\n%s", filepath.Base(exe), strings.Join(args, " "), diff)
	}
	return nil
}

// roundTrip compresses sample data with `compressor compressArgs` and decompresses the result
// with `decompressor decompressArgs` (decompressor defaults to compressor), both as filters,
// and checks that the data came back and was compressed on the way.
func roundTrip(dir, compressor string, compressArgs, decompressArgs []string, decompressor ...string) error {
	data := sampleData()
	packed, err := runIn(dir, data, compressor, compressArgs...)
	if err != nil {
		return err
	}
	if len(packed) == 0 || len(packed) >= len(data)/2 {
		return fmt.Errorf("%s made %d bytes of %d", filepath.Base(compressor), len(packed), len(data))
	}
	unpacker := compressor
	if len(decompressor) > 0 {
		unpacker = decompressor[0]
	}
	unpacked, err := runIn(dir, packed, unpacker, decompressArgs...)
	if err != nil {
		return err
	}
	if !bytes.Equal(unpacked, data) {
		return fmt.Errorf("%s gave back %d bytes that differ from the %d compressed", filepath.Base(unpacker), len(unpacked), len(data))
	}
	return nil
}

// sampleData is a MiB of text that compresses well but not trivially.
func sampleData() []byte {
	var b bytes.Buffer
	x := uint32(1)
	for i := 0; b.Len() < 1<<20; i++ {
		x = x*1664525 + 1013904223
		fmt.Fprintf(&b, "line %d: value %d of the sample\n", i, x>>24)
	}
	return b.Bytes()
}

// zlibExample runs zlib's own test program, which compresses and decompresses through every API.
func zlibExample(work string, exe func(string) string) error {
	out, err := runIn(work, nil, exe("example"))
	if err != nil {
		return err
	}
	for _, want := range []string{"zlib version 1.", "uncompress(): hello, hello!", "inflate(): hello, hello!"} {
		if !bytes.Contains(out, []byte(want)) {
			return fmt.Errorf("example printed no %q:\n%s", want, out)
		}
	}
	return nil
}
