package cli_test

import (
	"debug/elf"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/portabin/portabin/internal/cache"
	"github.com/portabin/portabin/internal/ctest"
	"github.com/portabin/portabin/internal/elfinfo"
	"github.com/portabin/portabin/internal/image/imagetest"
)

// The tests run the real portabin executable, built once here, the way users run it.
var (
	portabinDir string // holds the portabin executable
	testCache   string // PORTABIN_CACHE of the tests
	repoRoot    string
)

func TestMain(m *testing.M) {
	code, err := setup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "setting up:", err)
		os.Exit(2)
	}
	code = m.Run()
	os.RemoveAll(portabinDir)
	os.RemoveAll(testCache)
	os.Exit(code)
}

func setup() (int, error) {
	wd, err := os.Getwd()
	if err != nil {
		return 0, err
	}
	repoRoot = filepath.Join(wd, "..", "..")
	if portabinDir, err = os.MkdirTemp("", "portabin-bin-"); err != nil {
		return 0, err
	}
	build := exec.Command("go", "build", "-o", filepath.Join(portabinDir, "portabin"), "./cmd/portabin")
	build.Dir = repoRoot
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("go build: %v\n%s", err, out)
	}
	// Each run gets its own cache for build folders, but shares the slow, content-keyed parts
	// (the provisioned zig, zig's runtime builds) with the user's cache.
	if testCache, err = os.MkdirTemp("", "portabin-cache-"); err != nil {
		return 0, err
	}
	for _, shared := range []string{"toolchains", "zig-cache", "runtime-stamps"} {
		dir, err := cache.Sub(shared)
		if err != nil {
			return 0, err
		}
		if err := os.Symlink(dir, filepath.Join(testCache, shared)); err != nil {
			return 0, err
		}
	}
	// Dependency builds (OpenSSL takes minutes) are shared with internal/deps's tests.
	deps := filepath.Join(ctest.CacheDir(), "deps-cache", "deps")
	if err := os.MkdirAll(deps, 0o755); err != nil {
		return 0, err
	}
	if err := os.Symlink(deps, filepath.Join(testCache, "deps")); err != nil {
		return 0, err
	}
	return 0, nil
}

func TestScripts(t *testing.T) {
	// A real Debian root, as a tarball and served by an in-process registry, for the scripts
	// that test in real roots (test_roots.txtar).
	bookworm := imagetest.DebianRoot(t, "bookworm")
	registry := imagetest.Serve(t, map[string]string{"debian:bookworm": bookworm})
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			env.Setenv("DEBIAN_BOOKWORM_TAR", bookworm)
			env.Setenv("REGISTRY", registry)
			env.Setenv("PATH", portabinDir+string(os.PathListSeparator)+os.Getenv("PATH"))
			env.Setenv("PORTABIN_CACHE", testCache)
			env.Setenv("EXAMPLES", filepath.Join(repoRoot, "examples"))
			env.Setenv("SOURCE_DATE_EPOCH", "1700000000")
			// The examples are copied, so that each script has its own build folders.
			return copyTree(filepath.Join(repoRoot, "examples"), filepath.Join(env.WorkDir, "examples"))
		},
		Condition: func(cond string) (bool, error) {
			switch {
			case strings.HasPrefix(cond, "exe:"):
				_, err := exec.LookPath(strings.TrimPrefix(cond, "exe:"))
				return err == nil, nil
			case cond == "x86_64":
				return runtime.GOARCH == "amd64", nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"elf":          cmdELF,
			"treehash":     cmdTreeHash,
			"debuglink":    cmdDebuglink,
			"builderimage": cmdBuilderImage,
			"depsources":   cmdDepSources,
		},
	})
}

// elf FILE KEY VALUE checks one fact of an ELF file: linking (static, static-pie), machine
// (x86_64, aarch64, ...), debug (yes, no), buildid (yes, no).
func cmdELF(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: elf FILE KEY VALUE")
	}
	info, err := elfinfo.Inspect(ts.MkAbs(args[0]))
	ts.Check(err)
	var got string
	switch args[1] {
	case "linking":
		got = string(info.Linking)
	case "machine":
		got = map[elf.Machine]string{elf.EM_X86_64: "x86_64", elf.EM_AARCH64: "aarch64", elf.EM_RISCV: "riscv64",
			elf.EM_ARM: "arm", elf.EM_386: "i386"}[info.Machine]
	case "debug":
		got = yesNo(info.HasDebug)
	case "buildid":
		got = yesNo(info.BuildID != "")
	default:
		ts.Fatalf("unknown key %q", args[1])
	}
	if (got == args[2]) == neg {
		ts.Fatalf("%s: %s is %q", args[0], args[1], got)
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// debuglink FILE NAME checks that FILE's .gnu_debuglink names NAME.
func cmdDebuglink(ts *testscript.TestScript, neg bool, args []string) {
	f, err := elf.Open(ts.MkAbs(args[0]))
	ts.Check(err)
	defer f.Close()
	sec := f.Section(".gnu_debuglink")
	if sec == nil {
		ts.Fatalf("%s has no .gnu_debuglink", args[0])
	}
	data, err := sec.Data()
	ts.Check(err)
	name, _, _ := strings.Cut(string(data), "\x00")
	if (name == args[1]) == neg {
		ts.Fatalf("debuglink names %q", name)
	}
}

// treehash DIR FILE writes a digest of every file, mode and link below DIR to FILE, so that
// `cmp` can prove the tree did not change.
func cmdTreeHash(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: treehash DIR FILE")
	}
	digest, err := digestTree(ts.MkAbs(args[0]))
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), []byte(digest), 0o644))
}

func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		info, err := d.Info()
		if err != nil {
			return err
		}
		out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, info.Mode().Perm())
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}

var builderImage struct {
	once sync.Once
	name string
	err  error
}

// depsources PACKAGE... fetches Debian's upstream tarballs of the dependency recipes' libraries
// (scripts/fetch-sources.sh -d, cached in the test cache) and sets $SOURCES to their folder.
func cmdDepSources(ts *testscript.TestScript, neg bool, args []string) {
	if _, err := ctest.RunFetchSources(append([]string{"-d"}, args...)...); err != nil {
		ts.Fatalf("%v", err)
	}
	ts.Setenv("SOURCES", filepath.Join(ctest.CacheDir(), "sources"))
}

// builderimage makes (once, cached outside the checkout) the local container image the
// container toolchain is tested with, and sets $IMAGE to its name.
func cmdBuilderImage(ts *testscript.TestScript, neg bool, args []string) {
	builderImage.once.Do(func() {
		cmd := exec.Command("bash", filepath.Join(repoRoot, "scripts", "test-builder-image.sh"))
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			builderImage.err = fmt.Errorf("%v\n%s", err, stderr.String())
			return
		}
		builderImage.name = strings.TrimSpace(string(out))
	})
	ts.Check(builderImage.err)
	ts.Setenv("IMAGE", builderImage.name)
}
