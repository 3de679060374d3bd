package sysscan

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The programs in testdata/programs each make one system call that only
// the scanner can reveal: through a libc wrapper or libc's syscall(), with
// no fallback. Numbers for aarch64 come from the kernel's
// include/uapi/asm-generic/unistd.h.
var programs = []struct {
	src           string
	amd64, arm64_ int
	// viaSyscall: the program calls syscall() itself, so even a dynamic
	// executable's own code holds the number.
	viaSyscall bool
}{
	{"getrandom.c", unix.SYS_GETRANDOM, 278, false},
	{"memfd_create.c", unix.SYS_MEMFD_CREATE, 279, false},
	{"copy_file_range.c", unix.SYS_COPY_FILE_RANGE, 285, false},
	{"statx.c", unix.SYS_STATX, 291, true},
	{"io_uring_setup.c", unix.SYS_IO_URING_SETUP, 425, true},
	{"pidfd_open.c", unix.SYS_PIDFD_OPEN, 434, true},
	{"openat2.c", unix.SYS_OPENAT2, 437, true},
	{"close_range.c", unix.SYS_CLOSE_RANGE, 436, true},
}

// toolchain says how to build a program: the commands to run in order,
// with $OUT standing for the executable.
type toolchain struct {
	name   string
	arch   string
	static bool
	// lto: musl is optimised together with the program, so syscall()
	// is inlined and no trampoline is left to find.
	lto      bool
	commands func(src string) [][]string
}

func zigPath() string {
	home, _ := os.UserHomeDir()
	m, _ := filepath.Glob(filepath.Join(home, ".cache/portabin/toolchains/zig-0.11.0-*/zig"))
	if len(m) == 0 {
		return ""
	}
	return m[0]
}

func zigEnv() []string {
	home, _ := os.UserHomeDir()
	// Exactly this directory: zig 0.11 mishandles caches whose path merely
	// starts with it.
	cache := filepath.Join(home, ".cache/portabin/zig-cache")
	return append(os.Environ(), "ZIG_GLOBAL_CACHE_DIR="+cache, "ZIG_LOCAL_CACHE_DIR="+cache)
}

// zigBuild builds in one step, which lets zig optimise the program and
// musl together, or compiles and links separately, as build systems (and
// so portabin) do.
func zigBuild(zig, target string, separate bool) func(src string) [][]string {
	return func(src string) [][]string {
		driver := "cc"
		if strings.HasSuffix(src, ".cpp") {
			driver = "c++"
		}
		if !separate {
			return [][]string{{zig, driver, "-target", target, "-static", "-O2", "-o", "$OUT", src}}
		}
		return [][]string{
			{zig, driver, "-target", target, "-O2", "-c", "-o", "$OUT.o", src},
			{zig, driver, "-target", target, "-static", "-O2", "-o", "$OUT", "$OUT.o"},
		}
	}
}

func toolchains() []toolchain {
	gcc := func(cc string, extra ...string) func(src string) [][]string {
		return func(src string) [][]string {
			return [][]string{append(append([]string{cc, "-O2"}, extra...), "-o", "$OUT", src)}
		}
	}
	var tcs []toolchain
	if zig := zigPath(); zig != "" {
		tcs = append(tcs,
			toolchain{"zig-x86_64", "x86_64", true, true, zigBuild(zig, "x86_64-linux-musl", false)},
			toolchain{"zig-aarch64", "aarch64", true, true, zigBuild(zig, "aarch64-linux-musl", false)},
			toolchain{"zig-x86_64-separate", "x86_64", true, false, zigBuild(zig, "x86_64-linux-musl", true)},
			toolchain{"zig-aarch64-separate", "aarch64", true, false, zigBuild(zig, "aarch64-linux-musl", true)})
	}
	if _, err := exec.LookPath("musl-gcc"); err == nil {
		tcs = append(tcs,
			toolchain{"musl-gcc", "x86_64", true, false, gcc("musl-gcc", "-static")},
			toolchain{"musl-gcc-s", "x86_64", true, false, gcc("musl-gcc", "-static", "-s")})
	}
	if _, err := exec.LookPath("gcc"); err == nil && runtime.GOARCH == "amd64" {
		tcs = append(tcs,
			toolchain{"gcc", "x86_64", true, false, gcc("gcc", "-static")},
			toolchain{"gcc-s", "x86_64", true, false, gcc("gcc", "-static", "-s")},
			toolchain{"gcc-dynamic", "x86_64", false, false, gcc("gcc")})
	}
	return tcs
}

// builder runs compilers, a few at a time: zig links cost seconds each.
type builder struct {
	dir  string
	sem  chan struct{}
	once sync.Map // output path -> *buildResult
}

type buildResult struct {
	once sync.Once
	err  error
}

func newBuilder(t *testing.T) *builder {
	return &builder{dir: t.TempDir(), sem: make(chan struct{}, runtime.NumCPU()+1)}
}

// build runs commands in dir and returns the executable they make.
func (b *builder) build(ctx context.Context, name string, commands [][]string, dir string, env []string) (string, error) {
	out := filepath.Join(b.dir, name)
	r, _ := b.once.LoadOrStore(out, &buildResult{})
	br := r.(*buildResult)
	br.once.Do(func() {
		b.sem <- struct{}{}
		defer func() { <-b.sem }()
		for _, argv := range commands {
			argv = slices.Clone(argv)
			for i, a := range argv {
				argv[i] = strings.ReplaceAll(a, "$OUT", out)
			}
			cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
			cmd.Dir = dir
			cmd.Env = env
			if outb, err := cmd.CombinedOutput(); err != nil {
				br.err = fmt.Errorf("%s: %w\n%s", strings.Join(argv, " "), err, outb)
				return
			}
		}
	})
	return out, br.err
}

func scanFile(t *testing.T, path string, strip bool) *Result {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if strip {
		stripSymbols(f)
	}
	start := time.Now()
	res, err := Scan(f)
	if err != nil {
		t.Fatalf("Scan(%s): %v", path, err)
	}
	t.Logf("%s (stripped %v): %v, %d numbers, %d unknown, trampolines %v", filepath.Base(path), strip, time.Since(start).Round(time.Millisecond), len(res.Numbers), res.Unknown, res.Trampolines)
	return res
}

// stripSymbols hides the symbol table from f, as strip(1) would; the
// dynamic symbols stay, the loader needs them.
func stripSymbols(f *elf.File) {
	f.Sections = slices.DeleteFunc(f.Sections, func(s *elf.Section) bool {
		return s.Type == elf.SHT_SYMTAB
	})
}

var straceLine = regexp.MustCompile(`^\d+\s+\[\s*(\d+)\]`)

// traced runs an x86_64 program under strace and returns the syscall
// numbers it made, execve excepted: the kernel runs that one before the
// program exists.
func traced(t *testing.T, ctx context.Context, path string) []int {
	t.Helper()
	if _, err := exec.LookPath("strace"); err != nil {
		t.Skip("strace not installed")
	}
	dir := t.TempDir()
	log := filepath.Join(dir, "strace.log")
	cmd := exec.CommandContext(ctx, "strace", "-f", "-qq", "-n", "-o", log, path)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + dir}
	out, _ := cmd.CombinedOutput() // the program's own failure (say, io_uring disabled) is fine
	data, err := os.ReadFile(log)
	if err != nil || len(data) == 0 {
		t.Fatalf("strace %s: no trace: %v\n%s", path, err, out)
	}
	seen := map[int]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if m := straceLine.FindStringSubmatch(sc.Text()); m != nil {
			n, _ := strconv.Atoi(m[1])
			seen[n] = true
		}
	}
	delete(seen, unix.SYS_EXECVE)
	var nums []int
	for n := range seen {
		nums = append(nums, n)
	}
	slices.Sort(nums)
	return nums
}

func missing(want, have []int) []int {
	var m []int
	for _, n := range want {
		if !slices.Contains(have, n) {
			m = append(m, n)
		}
	}
	return m
}

func TestPrograms(t *testing.T) {
	tcs := toolchains()
	if len(tcs) == 0 {
		t.Skip("no compilers")
	}
	// Subtests run in parallel after this function returns: cancel at cleanup.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	b := newBuilder(t)
	srcDir, _ := filepath.Abs("testdata/programs")
	// The seed's shape: C++ threads and futures, built by zig. The
	// slowest build, so it starts first.
	if zig := zigPath(); zig != "" {
		t.Run("threads.cpp.zig-x86_64", func(t *testing.T) {
			t.Parallel()
			// Compiled and linked separately, as the seed is by CMake;
			// in one step zig takes four times as long.
			exe, err := b.build(ctx, "threads.zig-x86_64", zigBuild(zig, "x86_64-linux-musl", true)("threads.cpp"), srcDir, zigEnv())
			if err != nil {
				t.Fatal(err)
			}
			checkRecall(t, ctx, exe)
		})
	}
	for _, tc := range tcs {
		for _, p := range programs {
			if !tc.static && !p.viaSyscall {
				continue // the wrapper's syscall is in the shared libc
			}
			name := strings.TrimSuffix(p.src, ".c") + "." + tc.name
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				env := os.Environ()
				if strings.HasPrefix(tc.name, "zig") {
					env = zigEnv()
				}
				exe, err := b.build(ctx, name, tc.commands(p.src), srcDir, env)
				if err != nil {
					t.Fatal(err)
				}
				want := p.amd64
				if tc.arch == "aarch64" {
					want = p.arm64_
				}
				var traceNums []int
				if tc.arch == "x86_64" && tc.static && runtime.GOARCH == "amd64" {
					traceNums = traced(t, ctx, exe)
					t.Logf("%s: strace saw %d syscalls %v", t.Name(), len(traceNums), traceNums)
					if !slices.Contains(traceNums, want) {
						t.Errorf("strace did not see syscall %d: %v", want, traceNums)
					}
				}
				for _, strip := range []bool{false, true} {
					res := scanFile(t, exe, strip)
					if res.Arch != tc.arch {
						t.Errorf("Arch = %q, want %q", res.Arch, tc.arch)
					}
					if !slices.Contains(res.Numbers, want) {
						t.Errorf("stripped %v: Numbers %v lack %d (unknown at %#x)", strip, res.Numbers, want, res.UnknownAddrs)
					}
					if m := missing(traceNums, res.Numbers); len(m) > 0 {
						t.Errorf("stripped %v: recall: strace saw %v, scan missed %v", strip, traceNums, m)
					}
					// Without symbols, the number must still come
					// through syscall(), found by data flow.
					if p.viaSyscall && !tc.lto && !slices.ContainsFunc(res.Sites, func(s Site) bool { return s.Number == want && s.Via != "" }) {
						t.Errorf("stripped %v: no call through a trampoline passes %d: trampolines %v, sites %+v", strip, want, res.Trampolines, res.Sites)
					}
				}
			})
		}
	}
	// A dynamic aarch64 executable reaches syscall() through its PLT.
	if zig := zigPath(); zig != "" {
		t.Run("pidfd_open.zig-aarch64-gnu-dynamic", func(t *testing.T) {
			t.Parallel()
			argv := []string{zig, "cc", "-target", "aarch64-linux-gnu", "-O2", "-o", "$OUT", "pidfd_open.c"}
			exe, err := b.build(ctx, "pidfd_open.zig-aarch64-gnu-dynamic", [][]string{argv}, srcDir, zigEnv())
			if err != nil {
				t.Fatal(err)
			}
			for _, strip := range []bool{false, true} {
				res := scanFile(t, exe, strip)
				if !slices.Equal(res.Numbers, []int{434}) || !slices.Contains(res.Trampolines, "syscall@plt") {
					t.Errorf("stripped %v: Numbers %v, Trampolines %v; want [434] through syscall@plt", strip, res.Numbers, res.Trampolines)
				}
			}
		})
	}
	// A Go program: its runtime makes raw syscalls, the syscall package
	// passes numbers through Syscall6 in a register.
	t.Run("goprog", func(t *testing.T) {
		t.Parallel()
		goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
		for _, goarch := range []string{"amd64", "arm64"} {
			env := append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
			exe, err := b.build(ctx, "goprog."+goarch, [][]string{{goTool, "build", "-o", "$OUT", "."}}, filepath.Join(srcDir, "goprog"), env)
			if err != nil {
				t.Fatal(err)
			}
			if goarch == "amd64" && runtime.GOARCH == "amd64" {
				checkRecall(t, ctx, exe)
				continue
			}
			for _, strip := range []bool{false, true} {
				res := scanFile(t, exe, strip)
				if !slices.Contains(res.Numbers, 172) { // getpid on arm64
					t.Errorf("stripped %v: Numbers %v lack getpid", strip, res.Numbers)
				}
			}
		}
	})
}

func checkRecall(t *testing.T, ctx context.Context, exe string) {
	t.Helper()
	if runtime.GOARCH != "amd64" {
		t.Skip("strace comparison needs an x86_64 host")
	}
	want := traced(t, ctx, exe)
	t.Logf("%s: strace saw %d syscalls %v", t.Name(), len(want), want)
	for _, strip := range []bool{false, true} {
		res := scanFile(t, exe, strip)
		if m := missing(want, res.Numbers); len(m) > 0 {
			t.Errorf("stripped %v: recall: strace saw %v, scan missed %v (unknown at %#x)", strip, want, m, res.UnknownAddrs)
		}
	}
}
