package toolchain

import (
	"context"
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/portabin/portabin/internal/ccwrap"
	"github.com/portabin/portabin/internal/elfinfo"
	"github.com/portabin/portabin/internal/runner"
	"github.com/portabin/portabin/internal/target"
	"github.com/portabin/portabin/internal/uerr"
)

func TestPrefixMapFlags(t *testing.T) {
	tests := []struct {
		name string
		in   map[string]string
		want []string
	}{
		{"none", nil, []string{}},
		{"one", map[string]string{"/src/app": "/app"}, []string{"-ffile-prefix-map=/src/app=/app"}},
		{"nested after parent", map[string]string{"/w/src/vendor/lib": "/lib", "/w": "/build", "/w/src": "/src"},
			[]string{"-ffile-prefix-map=/w=/build", "-ffile-prefix-map=/w/src=/src", "-ffile-prefix-map=/w/src/vendor/lib=/lib"}},
		{"same length sorted", map[string]string{"/b": "B", "/a": "A"},
			[]string{"-ffile-prefix-map=/a=A", "-ffile-prefix-map=/b=B"}},
		{"empty old ignored", map[string]string{"": "/x", "/y": ""}, []string{"-ffile-prefix-map=/y="}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, PrefixMapFlags(tt.in)); diff != "" {
				t.Errorf("PrefixMapFlags(%v) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

// TestMuslGCCPrefixMapNested checks on the real compiler that the nested folder's mapping wins.
func TestMuslGCCPrefixMapNested(t *testing.T) {
	needMuslGCC(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "outer", "inner", "f.c")
	writeSource(t, src, "const char *where = __FILE__;\n")
	flags := PrefixMapFlags(map[string]string{filepath.Join(dir, "outer"): "/OUTER", filepath.Join(dir, "outer", "inner"): "/INNER"})
	obj := filepath.Join(dir, "f.o")
	out, err := exec.Command("musl-gcc", append(flags, "-c", src, "-o", obj)...).CombinedOutput()
	if err != nil {
		t.Fatalf("musl-gcc: %v\n%s", err, out)
	}
	data, err := os.ReadFile(obj)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "/INNER/f.c") || strings.Contains(string(data), dir) {
		t.Errorf("object records the wrong path for __FILE__; want /INNER/f.c and no %s", dir)
	}
}

func TestMuslGCCPrepareRefuses(t *testing.T) {
	host, _ := target.Host()
	tests := []struct {
		name   string
		target string
		opts   Options
		want   string
	}{
		{"other architecture", "riscv64", Options{}, "--toolchain zig"},
		{"i386", "i386", Options{}, "--toolchain zig"},
		{"pie", host.Name, Options{PIE: true}, "--toolchain zig"},
	}
	if host.Arch == "riscv64" {
		tests[0].target = "aarch64"
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg, err := target.Parse(tt.target)
			if err != nil {
				t.Fatal(err)
			}
			_, err = NewMuslGCC().Prepare(context.Background(), tg, tt.opts)
			if uerr.Code(err) != uerr.ExitUsage {
				t.Fatalf("Prepare(%s) = %v (exit %d), want a usage error", tg.Name, err, uerr.Code(err))
			}
			if !strings.Contains(uerr.HintOf(err), tt.want) {
				t.Errorf("hint %q does not say %q", uerr.HintOf(err), tt.want)
			}
		})
	}
}

func TestMuslGCCMissing(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	host, _ := target.Host()
	_, err := NewMuslGCC().Prepare(context.Background(), host, Options{})
	if uerr.Code(err) != uerr.ExitEnvironment || !strings.Contains(uerr.HintOf(err), "apt-get install musl-tools") {
		t.Errorf("Prepare without musl-gcc = %v (exit %d, hint %q), want exit 3 with the musl-tools hint",
			err, uerr.Code(err), uerr.HintOf(err))
	}
}

func TestMuslGCCConfig(t *testing.T) {
	needMuslGCC(t)
	host, _ := target.Host()
	tc := NewMuslGCC()
	got, err := tc.Prepare(context.Background(), host, Options{Strip: true, PrefixMap: map[string]string{"/s": "/src"}})
	if err != nil {
		t.Fatal(err)
	}
	want := ccwrap.Config{
		Dialect: ccwrap.GCC, CC: []string{"musl-gcc"}, AR: []string{"ar"}, RANLIB: []string{"ranlib"},
		CompileFlags: []string{"-ffile-prefix-map=/s=/src", "-g"}, LinkFlags: []string{"-Wl,--build-id=sha1"},
		HostPathsForeign: true, NoCXX: MuslGCCNoCXX,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Prepare (-want +got):\n%s", diff)
	}
	version, err := exec.Command("musl-gcc", "-dumpversion").Output()
	if err != nil {
		t.Fatal(err)
	}
	if id := tc.ID(); !strings.Contains(id, "musl-gcc "+strings.TrimSpace(string(version))) || !strings.Contains(id, "musl 1.") {
		t.Errorf("ID() = %q, want the gcc and musl versions", id)
	}
	if tc.Name() != "musl-gcc" {
		t.Errorf("Name() = %q", tc.Name())
	}
}

// threadStack needs 1 MiB of stack in a thread: more than musl's default of 128 KiB.
const threadStack = `#include <pthread.h>
#include <stdio.h>
#include <string.h>

static void *work(void *arg) {
	volatile char buf[1 << 20];
	memset((char *)buf, 1, sizeof buf);
	return (void *)(long)buf[12345];
}

int main(void) {
	pthread_t t;
	void *r;
	if (pthread_create(&t, 0, work, 0) != 0)
		return 2;
	pthread_join(t, &r);
	printf("thread ok %ld\n", (long)r);
	return 0;
}
`

func TestMuslGCCBuild(t *testing.T) {
	needMuslGCC(t)
	ctx := context.Background()
	host, _ := target.Host()
	tc := NewMuslGCC()
	cfg, err := tc.Prepare(ctx, host, Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "stack.c")
	writeSource(t, src, threadStack)

	// Compile and link separately, as build systems do.
	obj := filepath.Join(dir, "stack.o")
	exe := filepath.Join(dir, "stack")
	compile := wrapperArgv(t, cfg, ccwrap.CC, "-O2", "-c", src, "-o", obj)
	link := wrapperArgv(t, cfg, ccwrap.CC, "-pthread", obj, "-o", exe)
	for _, argv := range [][]string{compile, link} {
		if err := tc.Runner().Run(ctx, runner.Cmd{Args: argv, Dir: dir}); err != nil {
			t.Fatalf("%v\n%s", err, uerr.DetailOf(err))
		}
	}
	assertStaticExe(t, exe, host)
	out, err := exec.Command(exe).CombinedOutput()
	if err != nil || string(out) != "thread ok 1\n" {
		t.Fatalf("%s: %v, output %q", exe, err, out)
	}

	// The same link without portabin's stack size gives musl's 128 KiB thread stacks: the
	// program crashes, so the run above passed because of the flag.
	var noStack []string
	for _, a := range link {
		if !strings.Contains(a, "stack-size=") {
			noStack = append(noStack, a)
		}
	}
	if len(noStack) != len(link)-1 {
		t.Fatalf("link line %q has no stack-size flag", link)
	}
	small := filepath.Join(dir, "stack-small")
	for i := range noStack[:len(noStack)-1] {
		if noStack[i] == "-o" {
			noStack[i+1] = small
		}
	}
	if err := tc.Runner().Run(ctx, runner.Cmd{Args: noStack, Dir: dir}); err != nil {
		t.Fatal(err)
	}
	err = exec.Command(small).Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || !exit.Sys().(syscall.WaitStatus).Signaled() {
		t.Fatalf("without the stack-size flag the program ended with %v; want it killed by a signal", err)
	}
}

func TestMuslGCCRefusesCXX(t *testing.T) {
	needMuslGCC(t)
	host, _ := target.Host()
	cfg, err := NewMuslGCC().Prepare(context.Background(), host, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"-c", "a.cpp", "-o", "a.o"}, {"--version"}} {
		_, _, err := cfg.Command(ccwrap.CXX, args)
		if err == nil || err.Error() != MuslGCCNoCXX {
			t.Errorf("c++ %q = %v, want %q", args, err, MuslGCCNoCXX)
		}
	}
}

func needMuslGCC(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("musl-gcc"); err != nil {
		t.Skip("musl-gcc not installed (apt-get install musl-tools)")
	}
}

// wrapperArgv returns the command line the portabin cc/c++ wrapper would run for `tool args...`.
func wrapperArgv(t *testing.T, cfg ccwrap.Config, tool ccwrap.Tool, args ...string) []string {
	t.Helper()
	argv, _, err := cfg.Command(tool, args)
	if err != nil {
		t.Fatal(err)
	}
	return argv
}

// assertStaticExe fails unless path is a statically linked executable for tg, with what portabin
// links into every executable.
func assertStaticExe(t *testing.T, path string, tg target.Target) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != tg.Machine || f.Type != elf.ET_EXEC {
		t.Errorf("%s is %v %v, want an %v executable", path, f.Machine, f.Type, tg.Machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("%s has %v: it is not static", path, p.Type)
		}
	}
	info, err := elfinfo.Inspect(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.BuildID == "" || info.StackSize != 8<<20 {
		t.Errorf("%s has build-id %q and thread stack size %d; want a build-id and 8 MiB", path, info.BuildID, info.StackSize)
	}
}

func writeSource(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
