// Package ctest compiles small C programs for the tests of the ELF checks (isa, risk, distro, check).
package ctest

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/portabin/portabin/internal/cache"
)

// Compiler is a C compiler command line up to the flags.
type Compiler struct {
	Name string
	Args []string // the program and its leading arguments
	Env  []string // added to the environment
}

// GCC is the host's gcc; the test is skipped where it is missing or the host is not x86_64 Linux.
func GCC(t testing.TB) Compiler {
	return host(t, "gcc")
}

// MuslGCC is the host's musl-gcc wrapper.
func MuslGCC(t testing.TB) Compiler {
	return host(t, "musl-gcc")
}

func host(t testing.TB, name string) Compiler {
	t.Helper()
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("the C fixtures expect an x86_64 Linux host")
	}
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not found", name)
	}
	return Compiler{Name: name, Args: []string{p}}
}

// ZigPath finds portabin's zig — $PORTABIN_ZIG, else the zig 0.11 that portabin provisioned
// into its cache — and the environment that points its caches at portabin's, which earlier
// builds warmed; ok is false when there is none.
func ZigPath() (zig string, env []string, ok bool) {
	zig = os.Getenv("PORTABIN_ZIG")
	if zig == "" {
		dir, err := cache.Dir()
		if err != nil {
			return "", nil, false
		}
		matches, _ := filepath.Glob(filepath.Join(dir, "toolchains", "zig-0.11.0-*", "zig"))
		if len(matches) == 0 {
			return "", nil, false
		}
		zig = matches[0]
	}
	// zig 0.11 takes any path that merely starts with its cache folder's path as inside it, so
	// the cache must be exactly portabin's folder (see toolchain.zigCacheEnv).
	zigCache, err := cache.Sub("zig-cache")
	if err != nil {
		return "", nil, false
	}
	return zig, []string{"ZIG_GLOBAL_CACHE_DIR=" + zigCache, "ZIG_LOCAL_CACHE_DIR=" + zigCache}, true
}

// Zig is `zig cc -target T` with portabin's zig (ZigPath).
func Zig(t testing.TB, target string) Compiler {
	t.Helper()
	zig, env, ok := ZigPath()
	if !ok {
		t.Skip("no zig 0.11.0 in portabin's cache (portabin build provisions it)")
	}
	return Compiler{Name: "zig-" + target, Args: []string{zig, "cc", "-target", target}, Env: env}
}

// Build writes src to prog.c in a temporary folder, compiles it with flags and returns the
// executable's path.
func Build(t testing.TB, cc Compiler, src string, flags ...string) string {
	t.Helper()
	exe, output, err := TryBuild(t, cc, src, flags...)
	if err != nil {
		t.Fatalf("%v\n%s", err, output)
	}
	return exe
}

// TryBuild is Build for programs that may not compile, such as a probe for a function that
// one C library lacks: it returns the compiler's error and output instead of failing the test.
func TryBuild(t testing.TB, cc Compiler, src string, flags ...string) (exe string, output []byte, err error) {
	t.Helper()
	dir := t.TempDir()
	source := filepath.Join(dir, "prog.c")
	if err := os.WriteFile(source, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "prog")
	args := append(append(append([]string{}, cc.Args[1:]...), flags...), "-o", out, source)
	cmd := exec.Command(cc.Args[0], args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), cc.Env...)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		return "", buf.Bytes(), fmt.Errorf("%s %v: %w", cc.Name, args, err)
	}
	return out, buf.Bytes(), nil
}

// Mangle returns variants of an ELF file for robustness tests: truncations, and copies with a
// few bytes overwritten, mostly in the first 4 KiB where the headers are and a bad value
// changes how everything else is read. The variants are the same on every run.
func Mangle(data []byte) [][]byte {
	var out [][]byte
	for _, n := range []int{0, 16, 52, 64, 100, 200, 1000, len(data) / 4, len(data) / 2, len(data) - 1} {
		if n >= 0 && n <= len(data) {
			out = append(out, data[:n])
		}
	}
	if len(data) == 0 {
		return out
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200; i++ {
		c := bytes.Clone(data)
		for j := 0; j < 1+i%8; j++ {
			pos := rng.IntN(min(len(c), 4096))
			if j%3 == 2 {
				pos = rng.IntN(len(c))
			}
			c[pos] = byte(rng.Uint32())
		}
		out = append(out, c)
	}
	return out
}

// CacheDir is where tests keep slow set-up across runs, outside the checkout, as the scripts do:
// $PORTABIN_TEST_CACHE, else ~/.cache/portabin-test.
func CacheDir() string {
	if d := os.Getenv("PORTABIN_TEST_CACHE"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "portabin-test")
}

// ErrSourcesUnavailable means scripts/fetch-sources.sh cannot get sources on this machine (no
// apt, or its Debian mirror is unreachable).
var ErrSourcesUnavailable = errors.New("the upstream sources are not available here")

// RunFetchSources runs scripts/fetch-sources.sh with args: it fetches the upstream sources of
// Debian source packages into the test cache (-d: only the tarballs) and prints a folder per
// package, which come back in order.
func RunFetchSources(args ...string) ([]string, error) {
	_, file, _, _ := runtime.Caller(0)
	repo := filepath.Join(filepath.Dir(file), "..", "..")
	cmd := exec.Command("bash", append([]string{filepath.Join(repo, "scripts", "fetch-sources.sh")}, args...)...)
	cmd.Dir = repo
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr) && exitErr.ExitCode() == 3:
		return nil, fmt.Errorf("%w:\n%s", ErrSourcesUnavailable, stderr.String())
	case err != nil:
		return nil, fmt.Errorf("fetching the sources: %v\n%s", err, stderr.String())
	}
	return strings.Fields(stdout.String()), nil
}

// FetchSources is RunFetchSources for tests, which are skipped where sources cannot be had.
func FetchSources(t testing.TB, args ...string) []string {
	t.Helper()
	dirs, err := RunFetchSources(args...)
	if errors.Is(err, ErrSourcesUnavailable) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return dirs
}
