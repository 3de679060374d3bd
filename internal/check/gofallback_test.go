package check

import (
	"bytes"
	stdcmp "cmp"
	"debug/elf"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portabin/portabin/internal/isa"
)

// goCases are the Go counterparts of libcCases: standard library calls that make system calls
// newer than 2.6. Each returns nil when it succeeded.
var goCases = []libcCase{
	{"startup", "", "return nil"},
	{"rand", "", "b := make([]byte, 16); _, err := rand.Read(b); return err"},
	{"faccessat", "", "return syscall.Faccessat(-100, \".\", 4, 0x200) // AT_FDCWD, R_OK, AT_EACCESS"},
	{"copy", "", `in, err := os.Open("/proc/self/exe")
	if err != nil {
		return err
	}
	out, err := os.Create("copy")
	if err != nil {
		return err
	}
	_, err = io.CopyN(out, in, 1<<16)
	return err`},
	{"exec", "", "return exec.Command(\"/proc/self/exe\", \"startup\").Run()"},
	{"signal", "", `cmd := exec.Command("/proc/self/exe", "startup")
	if err := cmd.Start(); err != nil {
		return err
	}
	if err := cmd.Process.Signal(syscall.Signal(0)); err != nil && err != os.ErrProcessDone {
		return err
	}
	return cmd.Wait()`},
	{"findprocess", "", `p, err := os.FindProcess(os.Getpid())
	if err != nil {
		return err
	}
	return p.Signal(syscall.Signal(0))`},
	{"pipe", "", "r, w, err := os.Pipe(); if err == nil { r.Close(); w.Close() }; return err"},
	{"tcp", "", `l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go net.Dial("tcp", l.Addr().String())
	c, err := l.Accept()
	if err == nil {
		c.Close()
	}
	return err`},
	{"stat", "", "_, err := os.Lstat(\".\"); return err"},
	{"readdir", "", "_, err := os.ReadDir(\"/proc/self\"); return err"},
	{"rlimit", "", "var r syscall.Rlimit; if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil { return err }; return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r)"},
	{"thread", "", "done := make(chan bool); go func() { runtime.LockOSThread(); done <- true }(); <-done; return nil"},
	{"timer", "", "time.Sleep(time.Millisecond); return nil"},
}

// buildGoCases builds the Go cases into one program with the Go toolchain that runs the tests:
// static without cgo, else linked by the system's linker against glibc; ldflags are passed to
// Go's linker, $GOARCH (default amd64) picks the machine and $GOAMD64 (default v1) the level.
func buildGoCases(t *testing.T, cgo bool, ldflags string) libcProgram {
	t.Helper()
	dir := t.TempDir()
	var src strings.Builder
	src.WriteString("package main\n\nimport (\n\t\"crypto/rand\"\n\t\"fmt\"\n\t\"io\"\n\t\"net\"\n\t\"os\"\n\t\"os/exec\"\n\t\"runtime\"\n\t\"syscall\"\n\t\"time\"\n)\n\n")
	src.WriteString("var _, _, _, _, _, _, _, _ = rand.Read, io.Copy, net.Dial, exec.Command, runtime.Gosched, syscall.Getpid, time.Now, fmt.Print\n\n")
	src.WriteString("var cases = map[string]func() error{\n")
	for _, c := range goCases {
		fmt.Fprintf(&src, "\t%q: func() error {\n\t%s\n\t},\n", c.name, c.code)
	}
	src.WriteString("}\n\nfunc main() {\n\tcase_, ok := cases[os.Args[len(os.Args)-1]]\n\tif len(os.Args) != 2 || !ok {\n\t\tos.Exit(2)\n\t}\n")
	src.WriteString("\tif err := case_(); err != nil {\n\t\tfmt.Fprintln(os.Stderr, err)\n\t\tos.Exit(1)\n\t}\n}\n")
	files := map[string]string{"main.go": src.String(), "go.mod": "module gocases\n"}
	goarch, level := stdcmp.Or(os.Getenv("GOARCH"), "amd64"), stdcmp.Or(os.Getenv("GOAMD64"), "v1")
	env := append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch, "GOAMD64="+level, "GOFLAGS=")
	if cgo {
		// One C function makes it a cgo program, linked by the system's linker, which puts
		// C's start-up code before Go's.
		files["c.go"] = "package main\n\n// int answer(void) { return 42; }\nimport \"C\"\n\nvar _ = C.answer\n"
		env = append(env, "CGO_ENABLED=1")
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	exe := filepath.Join(dir, "gocases")
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-trimpath", "-ldflags="+ldflags, "-o", exe, ".")
	cmd.Dir, cmd.Env = dir, env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s\n%s", err, out, src.String())
	}
	p := scanProgram(t, "Go ("+runtime.Version()+")", exe, goCases)
	p.family = "go"
	return p
}

// A Go program without cgo needs the kernel its Go release supports (3.2 since Go 1.24) and
// the CPU level it was built for, whatever newer calls and instructions its standard library
// holds: check must say so, stripped or not, and the program must indeed run when every
// newer call fails and on a CPU of that level.
func TestGoProgram(t *testing.T) {
	full := buildGoCases(t, false, "")
	stripped := buildGoCases(t, false, "-s -w")
	var reports []*Report
	for _, p := range []libcProgram{full, stripped} {
		rep, err := File(p.path, Requirements{})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Libc.Name != "none" || rep.Kernel.Minimum != "3.2" || !strings.HasPrefix(rep.Kernel.DecidedBy, "Go release go1.") {
			t.Errorf("%s: libc %+v, kernel %s (%s), want none and 3.2 (Go release)", p.path, rep.Libc, rep.Kernel.Minimum, rep.Kernel.DecidedBy)
		}
		if rep.CPU == nil || rep.CPU.Level != "x86-64-v1" {
			t.Errorf("%s: cpu %+v, want x86-64-v1", p.path, rep.CPU)
		}
		reports = append(reports, rep)
	}
	if diff := cmp.Diff(reports[0].Kernel, reports[1].Kernel); diff != "" {
		t.Errorf("stripped, the functions come from .gopclntab and must give the same kernel (-full +stripped):\n%s", diff)
	}
	// Without a function table check can read (as in Go 1.17 and older), the report says that
	// Go's first tries could not be told apart.
	if rep := withoutPclntab(t, stripped.path); !slices.ContainsFunc(rep.Kernel.Notes, func(n string) bool { return strings.Contains(n, "function table of Go 1.18") }) {
		t.Errorf("no function table: kernel %s, notes %q", rep.Kernel.Minimum, rep.Kernel.Notes)
	}
	// With cgo and stripped, Go's code starts after C's: the same calls fall back.
	cgo := buildGoCases(t, true, "-s -w")
	rep, err := File(cgo.path, Requirements{})
	if err != nil {
		t.Fatal(err)
	}
	fellBack := func(k Kernel) (names []string) {
		for _, s := range k.Syscalls {
			if s.Fallback {
				names = append(names, s.Name)
			}
		}
		return names
	}
	if rep.CPU == nil || rep.CPU.Level != "x86-64-v1" || levelRank(rep.CPU.Dispatched) <= levelRank("x86-64-v1") {
		t.Errorf("cgo: cpu %+v, want x86-64-v1 with Go's newer code chosen at run time", rep.CPU)
	}
	if rep.Libc.Name != "glibc" || rep.Kernel.Minimum != "3.2" || !cmp.Equal(fellBack(rep.Kernel), fellBack(reports[0].Kernel)) {
		t.Errorf("cgo: libc %s, kernel %s (%s), fallbacks %v; want glibc, 3.2 and %v", rep.Libc.Name, rep.Kernel.Minimum, rep.Kernel.DecidedBy, fellBack(rep.Kernel), fellBack(reports[0].Kernel))
	}

	// Every call newer than 3.2 fails at once, as on that kernel; every case still succeeds.
	var newer []string
	for _, s := range reports[0].Kernel.Syscalls {
		if s.Since != "" && mustVersion("3.2").Less(mustVersion(s.Since)) {
			newer = append(newer, s.Name)
		}
	}
	if len(newer) == 0 {
		t.Fatal("the Go program makes no call newer than 3.2: the test proves nothing")
	}
	for _, c := range goCases {
		if _, ok := strace(t, full, c.name, strings.Join(newer, ",")); !ok {
			t.Errorf("case %s fails when %v fail with ENOSYS", c.name, newer)
		}
	}
	t.Logf("every case ran with ENOSYS for %v", newer)

	// On a CPU of the base level (QEMU's qemu64 has no SSE4, AVX or later) the program runs;
	// built for v3 it says v3, and Go's runtime refuses that CPU.
	qemu, err := exec.LookPath("qemu-x86_64-static")
	if err != nil {
		t.Skip("qemu-x86_64-static is not installed (scripts/install-deps.sh installs qemu-user-static)")
	}
	for _, c := range []string{"rand", "copy", "tcp", "readdir", "thread"} {
		for _, exe := range []string{full.path, cgo.path} { // the cgo one with the system's glibc
			cmd := exec.Command(qemu, "-cpu", "qemu64", exe, c)
			cmd.Dir = t.TempDir()
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("case %s of %s on qemu64: %v\n%s", c, exe, err, out)
			}
		}
	}
	t.Run("aarch64", func(t *testing.T) {
		qemu, err := exec.LookPath("qemu-aarch64-static")
		if err != nil {
			t.Skip("qemu-aarch64-static is not installed")
		}
		// Go's arm64 code uses LSE atomics (Armv8.1) and more only after asking the CPU:
		// the program is armv8-a, and runs on a Cortex-A53, which has none of them.
		t.Setenv("GOARCH", "arm64")
		p := buildGoCases(t, false, "-s -w")
		rep, err := File(p.path, Requirements{})
		if err != nil || rep.CPU == nil || rep.CPU.Level != "armv8-a" || rep.Kernel.Minimum != "3.7" {
			t.Fatalf("cpu %+v, kernel %+v, %v; want armv8-a and 3.7 (aarch64's first kernel)", rep.CPU, rep.Kernel, err)
		}
		if isa.Rank(rep.CPU.Dispatched) <= isa.Rank("armv8-a") {
			t.Errorf("dispatched %q: the test program has no newer code, so it proves nothing", rep.CPU.Dispatched)
		}
		for _, c := range []string{"rand", "copy", "tcp", "thread"} {
			cmd := exec.Command(qemu, "-cpu", "cortex-a53", p.path, c)
			cmd.Dir = t.TempDir()
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("case %s on cortex-a53: %v\n%s", c, err, out)
			}
		}
	})
	t.Setenv("GOAMD64", "v3")
	v3 := buildGoCases(t, false, "")
	if rep, err := File(v3.path, Requirements{}); err != nil || rep.CPU == nil || rep.CPU.Level != "x86-64-v3" {
		t.Errorf("GOAMD64=v3: cpu %+v, %v; want x86-64-v3", rep.CPU, err)
	}
	out, err := exec.Command(qemu, "-cpu", "qemu64", v3.path, "startup").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "v3 microarchitecture") {
		t.Errorf("GOAMD64=v3 on qemu64: %v\n%s", err, out)
	}
}

// The Go sections check reads itself (.go.buildinfo, .gopclntab and the module data) may hold
// anything in a hostile file: corrupted at random, they must give reports or errors, never
// panics.
func TestHostileGoSections(t *testing.T) {
	p := buildGoCases(t, false, "-s -w")
	data, err := os.ReadFile(p.path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(p.path)
	if err != nil {
		t.Fatal(err)
	}
	var spans [][2]int
	for _, name := range []string{".go.buildinfo", ".gopclntab", ".go.module", ".noptrdata"} {
		if s := f.Section(name); s != nil && s.Type != elf.SHT_NOBITS {
			spans = append(spans, [2]int{int(s.Offset), int(s.Size)})
		}
	}
	// The function table, whose entries point at the functions' records and names.
	if t, ok := goFunctions(f); ok {
		spans = append(spans, [2]int{int(f.Section(".gopclntab").Offset + t.functab), int(t.nfunc+1) * 8})
	}
	f.Close()
	if len(spans) < 4 {
		t.Fatalf("only %d of the Go sections found", len(spans))
	}
	rng := rand.New(rand.NewPCG(3, 4))
	dir := t.TempDir()
	for i := 0; i < 200; i++ {
		c := bytes.Clone(data)
		span := spans[i%len(spans)]
		for j := 0; j < 1+i%6; j++ {
			// Mostly the headers, where counts and offsets are.
			at := span[0] + rng.IntN(min(span[1], 256))
			if j%2 == 1 {
				at = span[0] + rng.IntN(span[1])
			}
			c[at] = byte(rng.Uint32())
		}
		path := filepath.Join(dir, fmt.Sprint(i))
		if err := os.WriteFile(path, c, 0o755); err != nil {
			t.Fatal(err)
		}
		var pe *panicError
		if _, err := File(path, Requirements{}); errors.As(err, &pe) {
			t.Fatalf("variant %d: panic %v\n%s", i, pe.value, pe.stack)
		}
	}
}

// withoutPclntab checks a copy of the Go program at path whose .gopclntab has lost its magic
// number, as a table of a layout check does not read.
func withoutPclntab(t *testing.T, path string) *Report {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	sec := f.Section(".gopclntab")
	f.Close()
	if sec == nil {
		t.Fatal("no .gopclntab")
	}
	copy(data[sec.Offset:], []byte{0, 0, 0, 0})
	rep, err := File(changedFile(t, data), Requirements{})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}
