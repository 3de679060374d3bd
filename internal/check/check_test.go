package check

import (
	"debug/elf"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portabin/portabin/internal/ctest"
	"github.com/portabin/portabin/internal/isa"
	"github.com/portabin/portabin/internal/syscalls"
	"github.com/portabin/portabin/internal/sysscan"
)

// Each program makes one new system call with no fallback; check must report exactly the
// kernel that introduced it (syscalls(2)), on x86_64 and on aarch64.
var newCalls = []struct {
	name, call, want string
}{
	{"getrandom", "char b[8]; return getrandom(b, sizeof b, 0) < 0;", "3.17"},
	{"memfd_create", "return syscall(SYS_memfd_create, \"x\", 0) < 0;", "3.17"},
	{"copy_file_range", "return syscall(SYS_copy_file_range, 0, 0, 1, 0, 0, 0) < 0;", "4.5"},
	{"statx", "char b[256]; return syscall(SYS_statx, AT_FDCWD, \".\", 0, 0x7ff, b) < 0;", "4.11"},
	{"io_uring_setup", "char p[120] = {0}; return syscall(SYS_io_uring_setup, 1, p) < 0;", "5.1"},
	{"pidfd_open", "return syscall(SYS_pidfd_open, getpid(), 0) < 0;", "5.3"},
	{"openat2", "long how[3] = {0}; return syscall(SYS_openat2, AT_FDCWD, \".\", how, sizeof how) < 0;", "5.6"},
	{"close_range", "return syscall(SYS_close_range, 100, 200, 0) < 0;", "5.9"},
}

const program = `#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>
#ifndef SYS_statx
#define SYS_statx %d
#endif
#ifndef SYS_io_uring_setup
#define SYS_io_uring_setup 425
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
int main(void) { %s }
`

func TestKernelMinimum(t *testing.T) {
	for _, arch := range []struct{ zig, name string }{{"x86_64-linux-musl", "x86_64"}, {"aarch64-linux-musl", "aarch64"}} {
		cc := ctest.Zig(t, arch.zig)
		statx, _ := syscalls.ByName(arch.name, "statx")
		for _, tc := range newCalls {
			t.Run(arch.name+"/"+tc.name, func(t *testing.T) {
				exe := ctest.Build(t, cc, fmt.Sprintf(program, statx.Number, tc.call), "-static", "-O2")
				rep, err := File(exe, Requirements{})
				if err != nil {
					t.Fatal(err)
				}
				if rep.Kernel.Minimum != tc.want || rep.Kernel.DecidedBy != "syscall "+tc.name {
					t.Errorf("kernel = %s (%s), want %s (syscall %s)", rep.Kernel.Minimum, rep.Kernel.DecidedBy, tc.want, tc.name)
				}
				if !rep.Portable || rep.Linking != "static" || rep.Libc.Name != "musl" {
					t.Errorf("verdict %q, linking %s, libc %+v", rep.Verdict, rep.Linking, rep.Libc)
				}
			})
		}
	}
}

func TestRequirements(t *testing.T) {
	cc := ctest.Zig(t, "x86_64-linux-musl")
	exe := ctest.Build(t, cc, fmt.Sprintf(program, 332, newCalls[6].call), "-static", "-O2")
	tests := []struct {
		name     string
		req      Requirements
		portable bool
		verdict  string
	}{
		{"no requirement", Requirements{}, true, "portable: x86_64, Linux >= 5.6, x86-64-v1"},
		{"new enough kernel", Requirements{Kernel: mustVersion("5.6")}, true, "portable: x86_64, Linux >= 5.6"},
		{"rhel7 kernel", Requirements{Kernel: mustVersion("3.10")}, false, "not portable: needs Linux >= 5.6 (syscall openat2), required 3.10"},
		{"baseline cpu", Requirements{ISA: "x86-64-v1"}, true, "portable:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := File(exe, tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Portable != tt.portable || !strings.HasPrefix(rep.Verdict, tt.verdict) {
				t.Errorf("verdict %q (portable %v), want %q (%v)", rep.Verdict, rep.Portable, tt.verdict, tt.portable)
			}
		})
	}
}

func TestDynamicAndGlibc(t *testing.T) {
	gcc := ctest.GCC(t)
	dynamic := ctest.Build(t, gcc, "int main(void) { return 0; }")
	rep, err := File(dynamic, Requirements{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Portable || !strings.HasPrefix(rep.Verdict, "not portable: dynamic (needs /lib64/ld-linux-x86-64.so.2, glibc >= 2.") {
		t.Errorf("verdict %q", rep.Verdict)
	}
	if rep.Libc.Name != "glibc" || rep.Glibc == nil || len(rep.Glibc.Distros) == 0 {
		t.Errorf("libc %+v, glibc %+v", rep.Libc, rep.Glibc)
	}
	withRunPath := ctest.Build(t, gcc, "int main(void) { return 0; }", "-Wl,-rpath,/opt/lib", "-Wl,--enable-new-dtags")
	if rep, _ := File(withRunPath, Requirements{}); len(rep.RunPath) != 1 || rep.RunPath[0] != "/opt/lib" {
		t.Errorf("runpath %q, want [/opt/lib]", rep.RunPath)
	}
	if rep, _ := File(dynamic, Requirements{AllowDynamic: true}); !rep.Portable {
		t.Errorf("--allow-dynamic: %q", rep.Verdict)
	}

	// A static glibc program carries glibc's ABI tag: at least Linux 3.2.
	static := ctest.Build(t, gcc, "#include <stdio.h>\nint main(void) { puts(\"hi\"); return 0; }", "-static")
	rep, err = File(static, Requirements{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Kernel.ABITag == "" || mustVersion(rep.Kernel.Minimum).Less(mustVersion("3.2")) {
		t.Errorf("kernel %+v, want at least 3.2 from the ABI tag", rep.Kernel)
	}
	if rep.Libc.Name != "glibc" {
		t.Errorf("libc %+v", rep.Libc)
	}
	// Stripped, it has neither glibc's symbols nor its version string (puts does not print it).
	stripped := ctest.Build(t, gcc, "#include <stdio.h>\nint main(void) { puts(\"hi\"); return 0; }", "-static", "-s")
	if rep, err := File(stripped, Requirements{}); err != nil || rep.Libc.Name != "glibc" {
		t.Errorf("stripped static glibc: libc %+v, %v", rep.Libc, err)
	}
}

// A machine whose system calls and instructions check does not decode gets a verdict that
// says so, and a kernel requirement it cannot prove is a problem, not a pass.
func TestUnanalysedMachine(t *testing.T) {
	data, err := os.ReadFile(ctest.Build(t, ctest.Zig(t, "x86_64-linux-musl"), "int main(void) { return 0; }", "-static"))
	if err != nil {
		t.Fatal(err)
	}
	binary.LittleEndian.PutUint16(data[18:], uint16(elf.EM_S390)) // e_machine
	path := changedFile(t, data)
	rep, err := File(path, Requirements{})
	if err != nil {
		t.Fatal(err)
	}
	if want := "portable: s390, system calls not analysed, instructions not analysed"; rep.Verdict != want {
		t.Errorf("verdict %q, want %q", rep.Verdict, want)
	}
	rep, err = File(path, Requirements{Kernel: mustVersion("3.10")})
	if err != nil {
		t.Fatal(err)
	}
	if want := "not portable: system calls not analysed for s390, so Linux 3.10 cannot be proven"; rep.Portable || rep.Verdict != want {
		t.Errorf("verdict %q, want %q", rep.Verdict, want)
	}
}

func TestMalformedFiles(t *testing.T) {
	cc := ctest.Zig(t, "x86_64-linux-musl")
	exe := ctest.Build(t, cc, "int main(void) { return 0; }", "-static")
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for i, variant := range ctest.Mangle(data) {
		path := filepath.Join(dir, fmt.Sprint(i))
		if err := os.WriteFile(path, variant, 0o644); err != nil {
			t.Fatal(err)
		}
		// Any result or error is fine; a panic or a hang is not.
		File(path, Requirements{})
	}
}

// TestConcurrentFiles checks x86_64 and aarch64 files from several goroutines at once, as
// `portabin check` does: the reports equal those of one file at a time.
func TestConcurrentFiles(t *testing.T) {
	var files []string
	for _, zig := range []string{"x86_64-linux-musl", "aarch64-linux-musl"} {
		cc := ctest.Zig(t, zig)
		for _, tc := range newCalls[:3] {
			files = append(files, ctest.Build(t, cc, fmt.Sprintf(program, 332, tc.call), "-static", "-O2"))
		}
	}
	want := make([]*Report, len(files))
	for i, f := range files {
		rep, err := File(f, Requirements{})
		if err != nil {
			t.Fatal(err)
		}
		want[i] = rep
	}
	got := make([]*Report, len(files)*4)
	var wg sync.WaitGroup
	for i := range got {
		wg.Go(func() {
			rep, err := File(files[i%len(files)], Requirements{})
			if err != nil {
				t.Error(err)
			}
			got[i] = rep
		})
	}
	wg.Wait()
	for i, rep := range got {
		if diff := cmp.Diff(want[i%len(files)], rep); diff != "" {
			t.Errorf("%s checked concurrently differs (-alone +concurrently):\n%s", files[i%len(files)], diff)
		}
	}
}

// A file is mapped into memory while it is analysed; one that shrinks meanwhile faults where
// its pages went, and that must give an error, not end the program: from the analyses'
// goroutine, guarded as File guards it, and from the goroutines that sweep a large section.
func TestShrunkFile(t *testing.T) {
	exe, err := os.Executable() // a Go program: megabytes of code, swept in parallel
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "shrinking")
	if err := os.WriteFile(path, data, 0o755); err != nil {
		t.Fatal(err)
	}
	f, release, err := openELF(path)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if err := os.Truncate(path, 4096); err != nil {
		t.Fatal(err)
	}
	for name, analyse := range map[string]func() error{
		"sysscan": func() error { _, err := sysscan.Scan(f); return err },
		"isa":     func() error { _, err := isa.Analyze(f); return err },
	} {
		done := make(chan error)
		go func() {
			defer func() {
				if r := recover(); r != nil {
					done <- fmt.Errorf("panic: %v", r)
				}
			}()
			debug.SetPanicOnFault(true)
			done <- analyse()
		}()
		if err := <-done; err == nil {
			t.Errorf("%s: no error for a file that lost its code", name)
		} else if strings.HasPrefix(err.Error(), "panic") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// changedFile writes a program whose bytes a test has changed to a file of its own.
func changedFile(t *testing.T, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "changed")
	if err := os.WriteFile(path, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}
