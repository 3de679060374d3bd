package deps_test

import (
	"bytes"
	"context"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/portabin/portabin/internal/build"
	"github.com/portabin/portabin/internal/buildsys"
	"github.com/portabin/portabin/internal/cache"
	"github.com/portabin/portabin/internal/check"
	"github.com/portabin/portabin/internal/ctest"
	"github.com/portabin/portabin/internal/deps"
	"github.com/portabin/portabin/internal/isa"
	"github.com/portabin/portabin/internal/target"
	"github.com/portabin/portabin/internal/toolchain"
)

// The library tests build small programs that use each library for real, with portabin's
// build against the dependency sysroot, and run them. The dependency builds are slow the first
// time (OpenSSL: minutes), so their cache lives in $PORTABIN_TEST_CACHE/deps-cache, keyed by
// content like any portabin cache, and the real upstream tarballs come from Debian's source
// packages (scripts/fetch-sources.sh -d).

// debianSources maps each recipe to its Debian bookworm source package.
var debianSources = map[string]string{
	"zlib": "zlib", "bzip2": "bzip2", "xz": "xz-utils", "zstd": "libzstd", "libpng": "libpng1.6",
	"sqlite3": "sqlite3", "openssl": "openssl", "curl": "curl", "libevent": "libevent",
	"ncurses": "ncurses", "pcre2": "pcre2",
}

// setup points portabin's cache at the test cache (sharing zig with the user's cache) and
// returns the folder of source tarballs, fetched if needed.
func setup(t *testing.T, libs ...string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds libraries from source")
	}
	var shared []string
	for _, name := range []string{"toolchains", "zig-cache", "runtime-stamps"} {
		dir, err := cache.Sub(name)
		if err != nil {
			t.Fatal(err)
		}
		shared = append(shared, dir)
	}
	depsCache := filepath.Join(ctest.CacheDir(), "deps-cache")
	if err := os.MkdirAll(depsCache, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, dir := range shared {
		link := filepath.Join(depsCache, filepath.Base(dir))
		if _, err := os.Lstat(link); err != nil {
			if err := os.Symlink(dir, link); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Setenv("PORTABIN_CACHE", depsCache)
	args := []string{"-d"}
	for _, l := range libs {
		args = append(args, debianSources[l])
	}
	ctest.FetchSources(t, args...)
	return filepath.Join(ctest.CacheDir(), "sources")
}

// buildProject builds a copy of testdata/name against deps and returns the executables by name.
func buildProject(t *testing.T, name string, tg target.Target, deps map[string]string, sources string) map[string]string {
	return buildProjectWith(t, name, tg, build.Options{Deps: deps, Sources: sources})
}

// buildProjectWith builds with the choices in o (Deps, Sources, Sysroot, System). name is a
// folder below testdata, or one file there, which is then a project of its own.
func buildProjectWith(t *testing.T, name string, tg target.Target, o build.Options) map[string]string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "project")
	src := filepath.Join("testdata", name)
	if st, err := os.Stat(src); err == nil && !st.IsDir() {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(dir, 0o755)
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(src)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	} else if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	o.Dir, o.Out, o.Targets, o.Jobs = dir, filepath.Join(t.TempDir(), "dist"), []target.Target{tg}, 2
	if o.Toolchain == nil {
		o.Toolchain = toolchain.NewZig(toolchain.ZigOptions{})
	}
	o.Self = deps.PortabinExe(t)
	results, err := build.Run(context.Background(), o)
	if err != nil {
		t.Fatalf("building %s for %s: %v", name, tg.Name, err)
	}
	exes := map[string]string{}
	for _, r := range results {
		for _, o := range r.Outputs {
			exes[filepath.Base(o.Path)] = o.Path
		}
	}
	return exes
}

// run runs a built executable, under qemu-user for a foreign target.
func run(t *testing.T, tg target.Target, env []string, exe string, args ...string) string {
	t.Helper()
	if !tg.IsHost() {
		qemu, err := exec.LookPath(tg.QEMU)
		if err != nil {
			t.Skipf("%s not installed", tg.QEMU)
		}
		args = append([]string{exe}, args...)
		exe = qemu
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", filepath.Base(exe), err, out)
	}
	return strings.TrimSpace(string(out))
}

func mustTarget(t *testing.T, name string) target.Target {
	tg, err := target.Parse(name)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// TestLibraries proves every recipe on x86_64: one folder of programs, each using one library.
func TestLibraries(t *testing.T) {
	libs := []string{"zlib", "bzip2", "xz", "zstd", "pcre2", "libevent", "ncurses"}
	sources := setup(t, libs...)
	deps := map[string]string{}
	for _, l := range libs {
		deps[l] = ""
	}
	tg := mustTarget(t, "x86_64")
	exes := buildProject(t, "programs", tg, deps, sources)

	terminfo := ""
	for _, dir := range []string{"/usr/share/terminfo", "/lib/terminfo"} {
		if _, err := os.Stat(filepath.Join(dir, "x", "xterm")); err == nil {
			terminfo = dir
		}
	}
	for _, tc := range []struct {
		exe, want string
		env       []string
	}{
		{"zlib_roundtrip", "zlib 1.2.13: 4096 -> ", nil},
		{"bzip2_roundtrip", "bzip2 1.0.8, 13-Jul-2019: 10000 -> ", nil},
		{"xz_roundtrip", "xz 5.4.1: 10000 -> ", nil},
		{"zstd_roundtrip", "zstd 1.5.4: 10000 -> ", nil},
		{"pcre2_match", "pcre2: user=portabin host=example", nil},
		{"libevent_timer", "libevent 2.1.12-stable (epoll): timer fired 3 times", nil},
		{"ncurses_terminfo", "ncurses ncurses 6.4.20221231: xterm clear = ^[ [ H ^[ [ 2 J, 80 columns", []string{"TERMINFO=" + terminfo}},
	} {
		t.Run(tc.exe, func(t *testing.T) {
			if tc.exe == "ncurses_terminfo" && terminfo == "" {
				t.Skip("no xterm entry in /usr/share/terminfo or /lib/terminfo (ncurses-base)")
			}
			exe, ok := exes[tc.exe]
			if !ok {
				t.Fatalf("no executable %s among %v", tc.exe, exes)
			}
			if got := run(t, tg, tc.env, exe); !strings.HasPrefix(got, tc.want) {
				t.Errorf("got %q, want %q...", got, tc.want)
			}
		})
	}
}

// TestMuslGCC builds a dependency and a program with the musl-gcc toolchain, whose GNU ld
// needs the archives in a group.
func TestMuslGCC(t *testing.T) {
	if _, err := exec.LookPath("musl-gcc"); err != nil {
		t.Skip("no musl-gcc")
	}
	sources := setup(t, "bzip2")
	tg, ok := target.Host()
	if !ok || tg.Arch != "x86_64" {
		t.Skip("musl-gcc builds for this machine only; the test expects x86_64")
	}
	exes := buildProjectWith(t, "programs/bzip2_roundtrip.c", tg, build.Options{Deps: map[string]string{"bzip2": "1.0.8"},
		Sources: sources, Toolchain: toolchain.NewMuslGCC()})
	if got := run(t, tg, nil, exes["bzip2_roundtrip"]); !strings.HasPrefix(got, "bzip2 1.0.8, 13-Jul-2019: 10000 -> ") {
		t.Errorf("got %q", got)
	}
}

// TestPkgConfig builds a Makefile that asks pkg-config --static for libpng (which needs zlib)
// and pcre2, and the same program with Meson, which asks pkg-config too; then the Makefile
// against a sysroot of the user's own ([build] sysroot), here a copy of one that portabin
// built, alone and with [deps] beside it.
func TestPkgConfig(t *testing.T) {
	sources := setup(t, "libpng", "zlib", "pcre2")
	tg := mustTarget(t, "x86_64")
	want := map[string]string{"libpng": "1.6", "pcre2": "10"}
	check := func(t *testing.T, exes map[string]string) {
		got := run(t, tg, nil, exes["pngrw"], filepath.Join(t.TempDir(), "out.png"))
		if want := "libpng 1.6.39: 3x2 image written and read back; name ends in .png: yes"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	for _, system := range []buildsys.Kind{buildsys.Make, buildsys.Meson} {
		t.Run(string(system), func(t *testing.T) {
			check(t, buildProjectWith(t, "pkgconfig", tg, build.Options{Deps: want, Sources: sources, System: system}))
		})
	}
	userSysroot := func(t *testing.T, libs map[string]string) string {
		s, err := deps.Build(context.Background(), libs, deps.Options{Target: tg, Toolchain: toolchain.NewZig(toolchain.ZigOptions{}),
			Self: deps.PortabinExe(t), Jobs: 2, Fetcher: &deps.Fetcher{Sources: sources}})
		if err != nil {
			t.Fatal(err)
		}
		// A copy, as a user's folder would be: not the cache's own.
		dir := filepath.Join(t.TempDir(), "prefix")
		if err := os.CopyFS(dir, os.DirFS(s.Dir)); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	t.Run("user sysroot", func(t *testing.T) {
		check(t, buildProjectWith(t, "pkgconfig", tg, build.Options{Sysroot: userSysroot(t, want), System: buildsys.Make}))
	})
	t.Run("user sysroot and deps", func(t *testing.T) {
		prefix := userSysroot(t, map[string]string{"pcre2": "10"})
		check(t, buildProjectWith(t, "pkgconfig", tg, build.Options{Sysroot: prefix, Deps: map[string]string{"libpng": "1.6"},
			Sources: sources, System: buildsys.Make}))
	})
}

// TestFetchStore builds examples/fetchstore (C++: curl with OpenSSL and zlib, SQLite, found by
// CMake's find_package) and fetches an HTTPS page from a local server with a test CA, stores it
// in SQLite and reads it back, on x86_64 and, under qemu-user, aarch64.
func TestFetchStore(t *testing.T) {
	sources := setup(t, "curl", "openssl", "zlib", "sqlite3")
	page := "hello from a TLS server"
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, page)
	}))
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	example := filepath.Join("..", "..", "..", "examples", "fetchstore") // from testdata/
	deps := map[string]string{"curl": "7.88.1", "openssl": "3.0", "sqlite3": "3", "zlib": "1.2"}
	for _, name := range []string{"x86_64", "aarch64"} {
		t.Run(name, func(t *testing.T) {
			tg := mustTarget(t, name)
			exes := buildProject(t, example, tg, deps, sources)
			got := run(t, tg, nil, exes["fetchstore"], "roundtrip", srv.URL+"/page", "--cacert", ca)
			want := fmt.Sprintf("stored %s/page: %d bytes, ", srv.URL, len(page))
			if !strings.HasPrefix(got, want) || !strings.HasSuffix(got, "compressed\n"+page) {
				t.Errorf("got %q, want %q ... %q", got, want, page)
			}
			versions := run(t, tg, nil, exes["fetchstore"], "versions")
			if want, _ := os.ReadFile(filepath.Join("testdata", example, "expected-versions.txt")); versions != strings.TrimSpace(string(want)) {
				t.Errorf("versions: got %q, want %q", versions, want)
			}
			onBaselineCPU(t, name, exes["fetchstore"], "roundtrip", srv.URL+"/page", "--cacert", ca)
		})
	}
}

// onBaselineCPU checks that portabin check finds OpenSSL's newer code chosen at run time (it
// reads OPENSSL_ia32cap_P or OPENSSL_armcap_P first) and the program at the baseline level,
// and proves that by running it on a CPU of that level: QEMU's qemu64 (no SSSE3, SSE4, AVX or
// later) and Cortex-A53 (Armv8.0).
func onBaselineCPU(t *testing.T, arch, exe string, args ...string) {
	t.Helper()
	baseline := map[string]string{"x86_64": "x86-64-v1", "aarch64": "armv8-a"}[arch]
	rep, err := check.File(exe, check.Requirements{})
	if err != nil || rep.CPU == nil {
		t.Fatalf("check: %+v, %v", rep, err)
	}
	if rep.CPU.Level != baseline || isa.Rank(rep.CPU.Dispatched) <= isa.Rank(baseline) {
		t.Errorf("cpu %s, up to %s chosen at run time; want %s, and newer code chosen at run time", rep.CPU.Level, rep.CPU.Dispatched, baseline)
	}
	cpu := map[string]string{"x86_64": "qemu64", "aarch64": "cortex-a53"}[arch]
	qemu, err := exec.LookPath("qemu-" + arch + "-static")
	if err != nil {
		t.Skipf("qemu-%s-static is not installed", arch)
	}
	out, err := exec.Command(qemu, append([]string{"-cpu", cpu, exe}, args...)...).CombinedOutput()
	if err != nil {
		t.Errorf("on %s: %v\n%s", cpu, err, out)
	}
}

// TestTwoProcesses runs two portabin builds that need the same new package at once: one
// builds it, the other waits on its lock and uses the result.
func TestTwoProcesses(t *testing.T) {
	sources := setup(t, "zlib")
	// A cache of its own, so that zlib is not there yet; zig is shared.
	shared := os.Getenv("PORTABIN_CACHE")
	fresh := t.TempDir()
	for _, name := range []string{"toolchains", "zig-cache", "runtime-stamps"} {
		if err := os.Symlink(filepath.Join(shared, name), filepath.Join(fresh, name)); err != nil {
			t.Fatal(err)
		}
	}
	project := filepath.Join(t.TempDir(), "programs")
	if err := os.MkdirAll(project, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join("testdata", "programs", "zlib_roundtrip.c"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(project, "zlib_roundtrip.c"), data, 0o644)

	exe := deps.PortabinExe(t)
	var wg sync.WaitGroup
	stderr := make([]bytes.Buffer, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(exe, "build", "--target", "x86_64", "--dep", "zlib=1.2.13", "--sources", sources,
				"--out", filepath.Join(t.TempDir(), "dist"), project)
			cmd.Env = append(os.Environ(), "PORTABIN_CACHE="+fresh)
			cmd.Stderr = &stderr[i]
			errs[i] = cmd.Run()
		}()
	}
	wg.Wait()
	built := 0
	for i := range 2 {
		if errs[i] != nil {
			t.Fatalf("build %d: %v\n%s", i, errs[i], stderr[i].String())
		}
		if strings.Contains(stderr[i].String(), "building dependency zlib") {
			built++
		}
	}
	if built != 1 {
		t.Errorf("zlib was built %d times by two processes, want once:\n%s\n%s", built, stderr[0].String(), stderr[1].String())
	}

	// The same package built in another cache folder has the same bytes: nothing in it
	// depends on where the cache is.
	again := exec.Command(exe, "build", "--target", "x86_64", "--dep", "zlib=1.2.13", "--sources", sources,
		"--out", filepath.Join(t.TempDir(), "dist"), project)
	again.Env = append(os.Environ(), "PORTABIN_CACHE="+shared)
	if out, err := again.CombinedOutput(); err != nil {
		t.Fatalf("build in the shared cache: %v\n%s", err, out)
	}
	fresh1, err := filepath.Glob(filepath.Join(fresh, "deps", "pkgs", "x86_64-linux-musl", "zlib-1.2.13-*", "lib", "libz.a"))
	if err != nil || len(fresh1) != 1 {
		t.Fatalf("zlib in the fresh cache: %v %v", fresh1, err)
	}
	rel, _ := filepath.Rel(fresh, fresh1[0])
	a, err := os.ReadFile(fresh1[0])
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(shared, rel))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Errorf("libz.a differs between two cache folders: %s, %s", fresh1[0], filepath.Join(shared, rel))
	}
}
