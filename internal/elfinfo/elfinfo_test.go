package elfinfo

import (
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portabin/portabin/internal/ctest"
	"github.com/portabin/portabin/internal/target"
	"github.com/portabin/portabin/internal/uerr"
)

// zig is portabin's provisioned zig; "" skips the cases that need it.
var zig, zigEnv, _ = ctest.ZigPath()

const helloC = "#include <stdio.h>\nint main(void) { puts(\"hi\"); return 0; }\n"

// fixture is one file the tests inspect, and the command that makes it from hello.c, foo.c and libfoo.so.
type fixture struct {
	name string
	cmd  []string
	zig  bool
}

var fixtures = []fixture{
	{name: "gcc-static", cmd: []string{"gcc", "-static", "-o", "OUT", "hello.c"}},
	{name: "gcc-dynamic", cmd: []string{"gcc", "-o", "OUT", "hello.c"}},
	{name: "gcc-static-pie", cmd: []string{"gcc", "-static-pie", "-o", "OUT", "hello.c"}},
	{name: "gcc-shared.so", cmd: []string{"gcc", "-shared", "-fPIC", "-o", "OUT", "foo.c"}},
	{name: "gcc-object.o", cmd: []string{"gcc", "-c", "-o", "OUT", "hello.c"}},
	{name: "gcc-archive.a", cmd: []string{"sh", "-c", "gcc -c -o foo.o foo.c && ar rcs OUT foo.o"}},
	{name: "script.sh", cmd: []string{"sh", "-c", "printf '#!/bin/sh\\necho hi\\n' > OUT && chmod +x OUT"}},
	{name: "gcc-debug-buildid", cmd: []string{"gcc", "-static", "-g", "-Wl,--build-id=0x0123456789abcdef", "-o", "OUT", "hello.c"}},
	{name: "gcc-stack", cmd: []string{"gcc", "-static", "-Wl,-z,stack-size=8388608", "-Wl,--build-id=none", "-o", "OUT", "hello.c"}},
	{name: "zig-static", zig: true, cmd: []string{zig, "cc", "-target", "x86_64-linux-musl", "-static", "-o", "OUT", "hello.c"}},
	{name: "zig-static-pie", zig: true, cmd: []string{zig, "cc", "-target", "x86_64-linux-musl", "-static", "-fPIE", "-pie", "-o", "OUT", "hello.c"}},
	{name: "zig-aarch64", zig: true, cmd: []string{zig, "cc", "-target", "aarch64-linux-musl", "-static", "-o", "OUT", "hello.c"}},
	// zig 0.11 ignores -dynamic for musl; linking a shared library is what makes it dynamic.
	{name: "musl_test_main", zig: true, cmd: []string{"sh", "-c",
		zig + " cc -target x86_64-linux-musl -shared -fPIC -o libfoo.so foo.c && " +
			zig + " cc -target x86_64-linux-musl -o OUT main-foo.c libfoo.so"}},
}

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// build compiles every fixture once for the whole package and returns the path of the named one.
func build(t *testing.T, name string) string {
	t.Helper()
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("the fixtures expect an x86_64 Linux host")
	}
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not found")
	}
	buildOnce.Do(func() { buildDir, buildErr = buildFixtures() })
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	for _, f := range fixtures {
		if f.name == name && f.zig && !haveZig() {
			t.Skipf("%s not found", zig)
		}
	}
	return filepath.Join(buildDir, name)
}

func haveZig() bool {
	_, err := os.Stat(zig)
	return err == nil
}

func buildFixtures() (string, error) {
	dir, err := os.MkdirTemp("", "elfinfo-test-")
	if err != nil {
		return "", err
	}
	sources := map[string]string{
		"hello.c":    helloC,
		"foo.c":      "int foo(void) { return 0; }\n",
		"main-foo.c": "int foo(void);\nint main(void) { return foo(); }\n",
	}
	for name, text := range sources {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			return "", err
		}
	}
	for _, f := range fixtures {
		if f.zig && !haveZig() {
			continue
		}
		args := make([]string, len(f.cmd))
		for i, a := range f.cmd {
			args[i] = strings.ReplaceAll(a, "OUT", f.name)
		}
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env = append(os.Environ(), zigEnv...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", errors.New(f.name + ": " + err.Error() + "\n" + string(out))
		}
	}
	return dir, nil
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// summary is the part of Info that does not depend on the compiler's version.
type summary struct {
	Type    elf.Type
	Machine elf.Machine
	Linking Linking
	PIE     bool
	Interp  string
	Needed  []string
}

func TestInspect(t *testing.T) {
	tests := []struct {
		name string
		want summary
	}{
		{"gcc-static", summary{elf.ET_EXEC, elf.EM_X86_64, Static, false, "", nil}},
		{"gcc-dynamic", summary{elf.ET_DYN, elf.EM_X86_64, Dynamic, true, "/lib64/ld-linux-x86-64.so.2", []string{"libc.so.6"}}},
		{"gcc-static-pie", summary{elf.ET_DYN, elf.EM_X86_64, StaticPIE, true, "", nil}},
		// Nothing in foo.c uses libc, so --as-needed (Debian's default) leaves no DT_NEEDED.
		{"gcc-shared.so", summary{elf.ET_DYN, elf.EM_X86_64, Dynamic, false, "", nil}},
		{"gcc-object.o", summary{elf.ET_REL, elf.EM_X86_64, "", false, "", nil}},
		{"zig-static", summary{elf.ET_EXEC, elf.EM_X86_64, Static, false, "", nil}},
		{"zig-static-pie", summary{elf.ET_DYN, elf.EM_X86_64, StaticPIE, true, "", nil}},
		{"zig-aarch64", summary{elf.ET_EXEC, elf.EM_AARCH64, Static, false, "", nil}},
		{"musl_test_main", summary{elf.ET_EXEC, elf.EM_X86_64, Dynamic, false, "/lib/ld-musl-x86_64.so.1", []string{"libfoo.so", "libc.so"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, err := Inspect(build(t, tt.name))
			if err != nil {
				t.Fatal(err)
			}
			got := summary{info.Type, info.Machine, info.Linking, info.PIE, info.Interp, info.Needed}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Inspect(%s) mismatch (-want +got):\n%s", tt.name, diff)
			}
		})
	}
}

func TestInspectDebugBuildIDStack(t *testing.T) {
	tests := []struct {
		name      string
		hasDebug  bool
		buildID   string
		stackSize uint64
	}{
		{"gcc-debug-buildid", true, "0123456789abcdef", 0},
		{"gcc-stack", false, "", 8388608},
		// zig cc keeps debug info unless optimising, and its linker asks for a 16 MiB stack.
		{"zig-static", true, "", 16 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, err := Inspect(build(t, tt.name))
			if err != nil {
				t.Fatal(err)
			}
			if info.HasDebug != tt.hasDebug || info.BuildID != tt.buildID || info.StackSize != tt.stackSize {
				t.Errorf("Inspect(%s): HasDebug=%v BuildID=%q StackSize=%d, want %v %q %d", tt.name,
					info.HasDebug, info.BuildID, info.StackSize, tt.hasDebug, tt.buildID, tt.stackSize)
			}
		})
	}
}

func TestInspectNotELF(t *testing.T) {
	for _, name := range []string{"script.sh", "gcc-archive.a"} {
		_, err := Inspect(build(t, name))
		if !errors.Is(err, ErrNotELF) {
			t.Errorf("Inspect(%s) = %v, want ErrNotELF", name, err)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "reading ELF ") {
			t.Errorf("Inspect(%s) error %q does not say what it was reading", name, err)
		}
	}
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Inspect(empty); !errors.Is(err, ErrNotELF) {
		t.Errorf("Inspect(empty file) = %v, want ErrNotELF", err)
	}
	if _, err := Inspect(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Inspect(missing) = %v, want ErrNotExist", err)
	}
}

func TestIsExecutable(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"gcc-static", true},
		{"gcc-dynamic", true},
		{"gcc-static-pie", true},
		{"gcc-shared.so", false},
		{"gcc-object.o", false},
		{"gcc-archive.a", false},
		{"script.sh", false},
		{"zig-static", true},
		{"zig-static-pie", true},
		{"zig-aarch64", true},
		{"musl_test_main", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := IsExecutable(build(t, tt.name))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("IsExecutable(%s) = %v, want %v", tt.name, got, tt.want)
			}
		})
	}
}

func TestVerifyStatic(t *testing.T) {
	x86, err := target.Parse("x86_64")
	if err != nil {
		t.Fatal(err)
	}
	arm64, err := target.Parse("aarch64")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		want target.Target
		// msg is the whole message; empty means the file passes.
		msg string
	}{
		{"zig-static", x86, ""},
		{"zig-static-pie", x86, ""},
		{"gcc-static", x86, ""},
		{"gcc-static-pie", x86, ""},
		{"zig-aarch64", arm64, ""},
		{"musl_test_main", x86, "dist would get a dynamic executable: musl_test_main needs /lib/ld-musl-x86_64.so.1 (libfoo.so, libc.so)"},
		{"gcc-dynamic", x86, "dist would get a dynamic executable: gcc-dynamic needs /lib64/ld-linux-x86-64.so.2 (libc.so.6)"},
		{"gcc-shared.so", x86, "dist would get a shared library: gcc-shared.so is not a program"},
		{"gcc-object.o", x86, "gcc-object.o is not a program (ET_REL)"},
		{"zig-aarch64", x86, "zig-aarch64 is for aarch64, not x86_64-linux-musl"},
		{"zig-static", arm64, "zig-static is for x86_64, not aarch64-linux-musl"},
	}
	for _, tt := range tests {
		t.Run(tt.name+"/"+tt.want.Name, func(t *testing.T) {
			info, err := Inspect(build(t, tt.name))
			if err != nil {
				t.Fatal(err)
			}
			err = VerifyStatic(info, tt.want)
			if tt.msg == "" {
				if err != nil {
					t.Errorf("VerifyStatic(%s) = %v, want nil", tt.name, err)
				}
				return
			}
			var ue *uerr.Error
			if !errors.As(err, &ue) {
				t.Fatalf("VerifyStatic(%s) = %v (%T), want a *uerr.Error", tt.name, err, err)
			}
			if ue.Code != uerr.ExitFailed || ue.Hint == "" || ue.Msg != tt.msg {
				t.Errorf("VerifyStatic(%s) = code %d, hint %q, message\n%q\nwant code %d, a hint, message\n%q",
					tt.name, ue.Code, ue.Hint, ue.Msg, uerr.ExitFailed, tt.msg)
			}
		})
	}
}

func TestVerifyStaticWrongClass(t *testing.T) {
	x86, _ := target.Parse("x86_64")
	info := &Info{Path: "/build/x32", Machine: elf.EM_X86_64, Class: elf.ELFCLASS32, Type: elf.ET_EXEC, Linking: Static}
	err := VerifyStatic(info, x86)
	if want := "x32 is for 32-bit x86_64, not x86_64-linux-musl"; err == nil || err.Error() != want {
		t.Errorf("VerifyStatic(x32) = %v, want %q", err, want)
	}
}

// Linkers before binutils 2.26 wrote no DF_1_PIE; a PIE is then told from a library by its loader.
func TestIsExecutableWithoutPIEFlag(t *testing.T) {
	path := withoutPIEFlag(t, build(t, "gcc-dynamic"))
	got, err := IsExecutable(path)
	if err != nil || !got {
		t.Errorf("IsExecutable(PIE without DF_1_PIE) = %v, %v, want true", got, err)
	}
	info, err := Inspect(path)
	if err != nil {
		t.Fatal(err)
	}
	if !info.PIE || info.Linking != Dynamic {
		t.Errorf("Inspect(PIE without DF_1_PIE): PIE=%v Linking=%q, want true, dynamic", info.PIE, info.Linking)
	}
}

// withoutPIEFlag copies a 64-bit little-endian executable with DF_1_PIE cleared.
func withoutPIEFlag(t *testing.T, src string) string {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dyn := f.SectionByType(elf.SHT_DYNAMIC)
	cleared := false
	for off := dyn.Offset; off+16 <= dyn.Offset+dyn.Size; off += 16 {
		if elf.DynTag(f.ByteOrder.Uint64(data[off:])) == elf.DT_FLAGS_1 {
			v := f.ByteOrder.Uint64(data[off+8:]) &^ uint64(elf.DF_1_PIE)
			f.ByteOrder.PutUint64(data[off+8:], v)
			cleared = true
		}
	}
	if !cleared {
		t.Fatalf("%s has no DT_FLAGS_1", src)
	}
	path := filepath.Join(t.TempDir(), "old-pie")
	if err := os.WriteFile(path, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}
