package check

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portabin/portabin/internal/ctest"
	"github.com/portabin/portabin/internal/syscalls"
	"github.com/portabin/portabin/internal/sysscan"
)

// libcCase calls one C library function (or a few that share a system call) and returns 0 when
// it succeeded. optional names functions some C libraries lack; the case is left out of the
// programs of the libraries that do not link it.
type libcCase struct {
	name, optional, code string
}

var libcCases = []libcCase{
	{"startup", "", "return 0;"},
	{"stat", "", "struct stat st; return stat(\".\", &st) != 0;"},
	{"lstat", "", "struct stat st; return lstat(\".\", &st) != 0;"},
	{"fstat", "", "struct stat st; return fstat(0, &st) != 0;"},
	{"fstatat", "", "struct stat st; return fstatat(AT_FDCWD, \".\", &st, AT_SYMLINK_NOFOLLOW) != 0;"},
	{"statx", "statx", "char stx[256]; return p_statx(AT_FDCWD, \".\", 0, 0x7ff, stx) != 0;"},
	{"pthread_create", "", "pthread_t th; return pthread_create(&th, 0, thread, 0) != 0 || pthread_join(th, 0) != 0;"},
	{"faccessat", "", "return faccessat(AT_FDCWD, \".\", R_OK, AT_EACCESS) != 0;"},
	{"fchmodat", "", "return fchmodat(AT_FDCWD, file(), 0644, AT_SYMLINK_NOFOLLOW) != 0 || fchmodat(AT_FDCWD, file(), 0600, 0) != 0;"},
	{"getrandom", "getrandom", "char b[8]; return getrandom(b, sizeof b, 0) != sizeof b;"},
	{"pipe2", "", "int p[2]; return pipe2(p, O_CLOEXEC) != 0;"},
	{"accept4", "", `int s = socket(AF_UNIX, SOCK_STREAM, 0), c = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX, .sun_path = "sock"};
	unlink("sock");
	if (bind(s, (void *)&a, sizeof a) || listen(s, 1) || connect(c, (void *)&a, sizeof a)) return 1;
	return accept4(s, 0, 0, SOCK_CLOEXEC) < 0;`},
	{"dup3", "", "return dup3(0, 10, O_CLOEXEC) != 10;"},
	{"epoll_create1", "", "return epoll_create1(EPOLL_CLOEXEC) < 0;"},
	{"inotify_init1", "", "return inotify_init1(IN_CLOEXEC) < 0;"},
	{"eventfd", "", "return eventfd(0, EFD_CLOEXEC) < 0;"},
	{"signalfd", "", "sigset_t m; sigemptyset(&m); return signalfd(-1, &m, SFD_CLOEXEC) < 0;"},
	{"close_range", "close_range", "return p_close_range(100, 200, 0) != 0;"},
	{"closefrom", "closefrom", "p_closefrom(100); return 0;"},
	{"copy_file_range", "copy_file_range", "int in = open(\"/proc/self/exe\", O_RDONLY), out = open(file(), O_WRONLY); return p_copy_file_range(in, 0, out, 0, 16, 0) != 16;"},
	{"preadv2", "preadv2", "char b[4]; struct iovec v = {b, 4}; return p_preadv2(open(\"/proc/self/exe\", O_RDONLY), &v, 1, 0, 0) != 4;"},
	{"renameat2", "renameat2", "file(); return p_renameat2(AT_FDCWD, \"f\", AT_FDCWD, \"g\", 0) != 0;"},
	{"membarrier", "membarrier", "return p_membarrier(8 /* MEMBARRIER_CMD_PRIVATE_EXPEDITED */, 0) != 0;"},
	{"getrlimit", "", "struct rlimit r; return getrlimit(RLIMIT_NOFILE, &r) != 0;"},
	{"setrlimit", "", "struct rlimit r; return getrlimit(RLIMIT_NOFILE, &r) != 0 || setrlimit(RLIMIT_NOFILE, &r) != 0;"},
	{"prlimit", "prlimit", "struct rlimit r; return p_prlimit(0, RLIMIT_NOFILE, 0, &r) != 0;"},
	{"utimensat", "", "return utimensat(AT_FDCWD, file(), 0, 0) != 0;"},
	{"futimens", "", "return futimens(open(file(), O_RDONLY), 0) != 0;"},
	{"posix_spawn", "", "pid_t p; char *argv[] = {\"prog\", \"startup\", 0}; int st; return posix_spawn(&p, \"/proc/self/exe\", 0, 0, argv, environ) != 0 || waitpid(p, &st, 0) != p || st != 0;"},
	{"sched_getcpu", "", "return sched_getcpu() < 0;"},
	{"clock_gettime", "", "struct timespec ts; return clock_gettime(CLOCK_REALTIME, &ts) != 0;"},
}

const casesHeader = `#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
extern char **environ;
/* Functions not every C library declares, under names that cannot clash with a declaration. */
int p_statx(int, const char *, int, unsigned, void *) __asm__("statx");
int p_close_range(unsigned, unsigned, int) __asm__("close_range");
void p_closefrom(int) __asm__("closefrom");
long p_copy_file_range(int, long long *, int, long long *, size_t, unsigned) __asm__("copy_file_range");
long p_preadv2(int, const struct iovec *, int, long long, int) __asm__("preadv2");
int p_renameat2(int, const char *, int, const char *, unsigned) __asm__("renameat2");
int p_membarrier(int, unsigned) __asm__("membarrier");
int p_prlimit(pid_t, int, const struct rlimit *, struct rlimit *) __asm__("prlimit");
static void *thread(void *arg) { return arg; }
static const char *file(void) { close(open("f", O_CREAT | O_WRONLY, 0644)); return "f"; }
`

// libcProgram is one C library's program of every case it links.
type libcProgram struct {
	family string // check's name of the C library: musl, glibc
	libc   string // and how the program was built
	path   string
	cases  []libcCase
	// canonical maps each function symbol to the one name the fallback list uses for the
	// function and its aliases.
	canonical map[string]string
	// sites maps a system call name to the functions (canonical names) that make it, as check
	// attributes them.
	sites map[string]map[string]bool
}

// canonicalName picks the name the fallback list uses among a function's aliases: the public
// one (dup3 rather than __dup3), else the shortest.
func canonicalName(aliases []string) string {
	return slices.MinFunc(aliases, func(a, b string) int {
		ua, ub := strings.HasPrefix(a, "_"), strings.HasPrefix(b, "_")
		switch {
		case ua != ub && !ua:
			return -1
		case ua != ub:
			return 1
		case len(a) != len(b):
			return len(a) - len(b)
		}
		return strings.Compare(a, b)
	})
}

// buildCases compiles the cases into one program, leaving out those whose optional function
// the C library does not link (as its linker's "undefined" messages say).
func buildCases(t *testing.T, family, libc string, cc ctest.Compiler, flags ...string) libcProgram {
	t.Helper()
	missing := map[string]bool{}
	undefined := regexp.MustCompile("undefined (?:reference to `|symbol: )([A-Za-z0-9_]+)")
	for attempt := 0; ; attempt++ {
		var src strings.Builder
		src.WriteString(casesHeader)
		var cases []libcCase
		for _, c := range libcCases {
			if !missing[c.optional] {
				cases = append(cases, c)
				fmt.Fprintf(&src, "static int case_%s(void) {\n\t%s\n}\n", c.name, c.code)
			}
		}
		src.WriteString("int main(int argc, char **argv) {\n\tif (argc != 2) return 2;\n")
		for _, c := range cases {
			fmt.Fprintf(&src, "\tif (!strcmp(argv[1], %q)) return case_%s();\n", c.name, c.name)
		}
		src.WriteString("\treturn 2;\n}\n")
		exe, out, err := ctest.TryBuild(t, cc, src.String(), append([]string{"-static", "-O2", "-pthread", "-w"}, flags...)...)
		if err == nil {
			p := scanProgram(t, libc, exe, cases)
			p.family = family
			return p
		}
		found := false
		for _, m := range undefined.FindAllStringSubmatch(string(out), -1) {
			if !missing[m[1]] && slices.ContainsFunc(libcCases, func(c libcCase) bool { return c.optional == m[1] }) {
				missing[m[1]], found = true, true
			}
		}
		if !found || attempt > 2 {
			t.Fatalf("%v\n%s", err, out)
		}
	}
}

func scanProgram(t *testing.T, libc, exe string, cases []libcCase) libcProgram {
	f, err := elf.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := sysscan.Scan(f)
	if err != nil {
		t.Fatal(err)
	}
	p := libcProgram{libc: libc, path: exe, cases: cases, canonical: map[string]string{}, sites: map[string]map[string]bool{}}
	funcs := functions(f)
	for _, fn := range funcs {
		if aliases := funcs.at(fn.Value); len(aliases) > 0 {
			p.canonical[fn.Name] = canonicalName(aliases)
		}
	}
	for _, s := range res.Sites {
		sc, _ := syscalls.Lookup(res.Arch, s.Number)
		if p.sites[sc.Name] == nil {
			p.sites[sc.Name] = map[string]bool{}
		}
		if aliases := funcs.at(s.Addr); len(aliases) > 0 {
			p.sites[sc.Name][canonicalName(aliases)] = true
		}
	}
	return p
}

// traceCall is one system call in a strace -k trace, with its stack's function names.
type traceCall struct {
	name     string
	injected bool
	frames   []string
}

var (
	straceCall  = regexp.MustCompile(`^([a-z0-9_]+)\(`)
	straceFrame = regexp.MustCompile(`^ > [^(]*\((.+)\+0x[0-9a-f]+\) \[`) // Go's names have parentheses
)

// strace runs one case, failing one system call with ENOSYS when inject is set, and returns
// the calls of every thread and whether the case succeeded.
func strace(t *testing.T, p libcProgram, caseName, inject string) ([]traceCall, bool) {
	var (
		dir string
		out []byte
		err error
	)
	// strace -k gives up on the whole run ("cannot initialize libunwind") when a thread ends
	// before it can unwind the thread's stack, as Go's short-lived threads sometimes do; such a
	// run says nothing about the program and is made again.
	for attempt := 0; attempt < 5 && (attempt == 0 || bytes.Contains(out, []byte("cannot initialize libunwind"))); attempt++ {
		dir = t.TempDir()
		args := []string{"-f", "-ff", "-qq", "-k", "-o", filepath.Join(dir, "trace")}
		if inject != "" {
			args = append(args, "-e", "inject="+inject+":error=ENOSYS")
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		cmd := exec.CommandContext(ctx, "strace", append(args, p.path, caseName)...)
		cmd.Dir = dir
		out, err = cmd.CombinedOutput()
		cancel()
	}
	if _, exit := err.(*exec.ExitError); err != nil && !exit {
		t.Fatalf("strace %s %s: %v\n%s", p.path, caseName, err, out)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "trace.*"))
	if len(files) == 0 {
		t.Fatalf("strace %s %s: no trace\n%s", p.path, caseName, out)
	}
	var calls []traceCall
	for _, name := range files {
		fh, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			line := sc.Text()
			if m := straceFrame.FindStringSubmatch(line); m != nil && len(calls) > 0 {
				calls[len(calls)-1].frames = append(calls[len(calls)-1].frames, m[1])
			} else if m := straceCall.FindStringSubmatch(line); m != nil {
				calls = append(calls, traceCall{name: m[1], injected: strings.HasSuffix(line, "(INJECTED)")})
			}
		}
		fh.Close()
	}
	return calls, err == nil
}

// siteFunction is the innermost function on the call's stack that has a site of the call in the
// sysscan result: the function check's fallback list must name. Trampolines such as musl's
// __syscall_cp_asm take the number as an argument and have no site of their own, and strace's
// unwinder often stops at them (Debian's musl has no unwind tables); then the one function of
// the program with a site of the call is the answer, and "" when there are several.
func (p libcProgram) siteFunction(c traceCall) string {
	for _, frame := range c.frames {
		fn := p.canonical[frame]
		if fn == "" {
			fn = rustKeyOf(frame) // strace prints Rust's names demangled
		}
		if p.sites[c.name][fn] {
			return fn
		}
	}
	if len(p.sites[c.name]) == 1 {
		for fn := range p.sites[c.name] {
			return fn
		}
	}
	return ""
}

// newerThan26 is the cut below which a system call is too old to matter: every kernel anyone
// still runs has it.
var newerThan26 = syscalls.Version{Major: 2, Minor: 6}

func worthInjecting(name string) bool {
	sc, ok := syscalls.ByName("x86_64", name)
	return ok && (!sc.Known || newerThan26.Less(sc.Since))
}

// fallbackObservation is what one injected failure showed.
type fallbackObservation struct {
	family, libc, caseName, call, function string
	succeeded                              bool
	instead                                []string // calls the failing run made that the normal run did not
}

// observeFallbacks runs every case of p normally, then once for each system call newer than
// 2.6 it made, failing that call with ENOSYS.
func observeFallbacks(t *testing.T, p libcProgram) []fallbackObservation {
	startup := map[string]int{}
	var (
		mu  sync.Mutex
		obs []fallbackObservation
		wg  sync.WaitGroup
	)
	limit := make(chan struct{}, 4)
	for _, c := range p.cases {
		calls, ok := strace(t, p, c.name, "")
		if !ok {
			t.Fatalf("%s: case %s fails without any injected error", p.libc, c.name)
		}
		normal := map[string]int{}
		makers := map[string][]string{} // call → the functions that made it in this run
		for _, call := range calls {
			normal[call.name]++
			if fn := p.siteFunction(call); fn != "" && !slices.Contains(makers[call.name], fn) {
				makers[call.name] = append(makers[call.name], fn)
			}
		}
		if c.name == "startup" {
			startup = normal
		}
		for call, n := range normal {
			// A call start-up makes as often is start-up's, tried in the start-up case;
			// a call the case makes more often is also the case's own. A call the program
			// does not make itself (a dynamic one's C library does) is not check's to judge.
			if !worthInjecting(call) || (c.name != "startup" && n <= startup[call]) || len(p.sites[call]) == 0 {
				continue
			}
			wg.Add(1)
			limit <- struct{}{}
			go func(caseName, call string) {
				defer func() { <-limit; wg.Done() }()
				injected, ok := strace(t, p, caseName, call)
				seen := map[string]bool{}
				var instead []string
				// The run stands for a kernel without the call, so it judges every function
				// that made the call in the normal run too: one that is no longer reached,
				// because an earlier probe of the call failed, is not reached on that kernel
				// either (Go's os.checkPidfd guards os.(*Process).pidfdSendSignal).
				functions := slices.Clone(makers[call])
				for _, ic := range injected {
					if ic.injected && ic.name == call {
						if fn := p.siteFunction(ic); fn != "" && !slices.Contains(functions, fn) {
							functions = append(functions, fn)
						}
					}
					if normal[ic.name] == 0 && !seen[ic.name] {
						seen[ic.name] = true
						instead = append(instead, ic.name)
					}
				}
				mu.Lock()
				defer mu.Unlock()
				if len(functions) == 0 {
					t.Errorf("%s %s: cannot tell which function makes %s (sites in %v)", p.libc, caseName, call, slices.Sorted(maps.Keys(p.sites[call])))
				}
				for _, fn := range functions {
					obs = append(obs, fallbackObservation{p.family, p.libc, caseName, call, fn, ok, instead})
				}
			}(c.name, call)
		}
	}
	wg.Wait()
	return obs
}

// TestFallbacksByBehaviour establishes check's fallback list from what the C libraries portabin
// builds with do when a newer system call fails with ENOSYS, as it does on an older kernel: a
// function that still succeeds falls back (or does without), one that fails does not. The
// list in kernel.go must be exactly the functions that fell back.
func TestFallbacksByBehaviour(t *testing.T) {
	if _, err := exec.LookPath("strace"); err != nil {
		t.Skip("strace is not installed (scripts/install-deps.sh installs it): fallbacks are established by injecting ENOSYS with strace")
	}
	compilers := []struct {
		family, libc string
		cc           func(testing.TB) ctest.Compiler
	}{
		{"musl", "musl (zig)", func(t testing.TB) ctest.Compiler { return ctest.Zig(t, "x86_64-linux-musl") }},
		{"musl", "musl (musl-gcc)", ctest.MuslGCC},
		{"glibc", "glibc (gcc -static)", ctest.GCC},
	}
	programs := make([]libcProgram, len(compilers)+1)
	var wg sync.WaitGroup
	for i, c := range compilers {
		cc := c.cc(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			programs[i] = buildCases(t, c.family, c.libc, cc)
		}()
	}
	programs[len(compilers)] = buildGoCases(t, false, "")
	if rust, ok := buildRustCases(t); ok {
		programs = append(programs, rust)
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	// A function's call is a fallback when every run that failed it still succeeded, in every
	// build of that C library: glibc's close_range() fails when called directly, so its
	// close_range counts even though closefrom(), which calls it, falls back.
	succeeded := map[string]map[string]map[string]bool{"musl": {}, "glibc": {}, "go": {}, "rust": {}} // family → function → call → no run failed
	var table strings.Builder
	for _, p := range programs {
		for _, o := range observeFallbacks(t, p) {
			verdict := "fails"
			if o.succeeded {
				verdict = "falls back"
				if len(o.instead) > 0 {
					verdict += " to " + strings.Join(o.instead, ", ")
				}
			}
			calls := succeeded[o.family][o.function]
			if calls == nil {
				calls = map[string]bool{}
				succeeded[o.family][o.function] = calls
			}
			if ok, seen := calls[o.call]; !seen || ok {
				calls[o.call] = o.succeeded
			}
			fmt.Fprintf(&table, "%-20s %-16s %-16s %-28s %s\n", o.libc, o.caseName, o.call, o.function, verdict)
		}
	}
	t.Logf("ENOSYS injected (libc, case, call, function, result):\n%s", table.String())
	derived := map[string]map[string][]string{"musl": {}, "glibc": {}, "go": {}, "rust": {}}
	for family, functions := range succeeded {
		for fn, calls := range functions {
			for call, ok := range calls {
				if ok {
					derived[family][fn] = append(derived[family][fn], call)
				}
			}
			slices.Sort(derived[family][fn])
		}
	}
	if diff := cmp.Diff(derived["go"], goFallbacks); diff != "" {
		t.Errorf("kernel.go's goFallbacks are not what Go's standard library does (-observed +committed):\n%s", diff)
	}
	delete(derived, "go")
	if len(programs) > len(compilers)+1 {
		if diff := cmp.Diff(derived["rust"], rustFallbacks); diff != "" {
			t.Errorf("kernel.go's rustFallbacks are not what Rust's standard library does (-observed +committed):\n%s", diff)
		}
	}
	delete(derived, "rust")
	if diff := cmp.Diff(derived, fallbacks); diff != "" {
		t.Errorf("kernel.go's fallbacks are not what the C libraries do (-observed +committed):\n%s", diff)
	}

	// A call Go or Rust makes only on request is in the program, where the table says, and no
	// case makes it: starting programs, the cases that reach the functions, does without.
	checkOnRequest(t, programs[len(compilers)], goOnRequest)
	if len(programs) > len(compilers)+1 {
		checkOnRequest(t, programs[len(compilers)+1], rustOnRequest)
	}
}

func checkOnRequest(t *testing.T, p libcProgram, table map[string][]string) {
	made := map[string][]string{} // call → the cases that make it
	for _, c := range p.cases {
		calls, _ := strace(t, p, c.name, "")
		for _, m := range calls {
			if !slices.Contains(made[m.name], c.name) {
				made[m.name] = append(made[m.name], c.name)
			}
		}
	}
	for fn, calls := range table {
		for _, call := range calls {
			if !p.sites[call][fn] {
				t.Errorf("%s: the program has no %s in %s (sites in %v)", p.libc, call, fn, slices.Sorted(maps.Keys(p.sites[call])))
			}
			if len(made[call]) > 0 {
				t.Errorf("%s: cases %v make %s, which the table says %s makes only on request", p.libc, made[call], call, fn)
			}
		}
	}
}

// TestCallerFallback checks callerFallbacks by behaviour: in a static glibc program whose only
// caller of getrandom() is malloc, the call is exempt, and the program still works when it
// fails; once the program calls getrandom() itself, the call counts, and the program fails
// with it.
func TestCallerFallback(t *testing.T) {
	if _, err := exec.LookPath("strace"); err != nil {
		t.Skip("strace is not installed (scripts/install-deps.sh installs it)")
	}
	gcc := ctest.GCC(t)
	for _, tc := range []struct {
		name, body string
		counted    bool
	}{
		{"malloc only", `char *p = malloc(100); return !p || puts("hi") < 0;`, false},
		{"own call", `char b[8], *p = malloc(100); return !p || getrandom(b, sizeof b, 0) != sizeof b;`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exe := ctest.Build(t, gcc, "#include <stdio.h>\n#include <stdlib.h>\n#include <sys/random.h>\nint main(void) { "+tc.body+" }\n", "-static", "-O2")
			rep, err := File(exe, Requirements{})
			if err != nil {
				t.Fatal(err)
			}
			i := slices.IndexFunc(rep.Kernel.Syscalls, func(s SyscallUse) bool { return s.Name == "getrandom" })
			if i < 0 {
				t.Fatalf("no getrandom among %+v", rep.Kernel.Syscalls)
			}
			if rep.Kernel.Syscalls[i].Fallback == tc.counted || (rep.Kernel.DecidedBy == "syscall getrandom") != tc.counted {
				t.Errorf("getrandom %+v, kernel %s (%s); counted should be %v", rep.Kernel.Syscalls[i], rep.Kernel.Minimum, rep.Kernel.DecidedBy, tc.counted)
			}
			out, err := exec.Command("strace", "-f", "-qq", "-o", "/dev/null", "-e", "inject=getrandom:error=ENOSYS", exe).CombinedOutput()
			if failed := err != nil; failed != tc.counted {
				t.Errorf("with getrandom failing: %v (%s); failure expected: %v", err, out, tc.counted)
			}
		})
	}
}
