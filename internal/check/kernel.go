package check

import (
	"debug/elf"
	"slices"
	"sort"
	"strings"

	"github.com/portabin/portabin/internal/elfimage"
	"github.com/portabin/portabin/internal/syscalls"
	"github.com/portabin/portabin/internal/sysscan"
)

// fallbacks lists, per C library and function, the system calls that function makes only as a
// first try: when the call fails with ENOSYS, as on a kernel older than the call, the function
// still succeeds — it falls back to older calls or does without. Only calls made inside these
// functions are exempt; the same call made elsewhere (through syscall(), or a wrapper without
// fallback) counts. The same name behaves differently in the two libraries (musl's accept4 and
// dup3 fall back, glibc's fail), so the list is per library. TestFallbacksByBehaviour derives it
// by failing each call with strace's fault injection in programs built against musl (zig cc and
// musl-gcc) and glibc (gcc -static), and fails when this list differs.
var fallbacks = map[string]map[string][]string{
	"musl": {
		"accept4":           {"accept4"},    // accept, then fcntl(FD_CLOEXEC)
		"dup3":              {"dup3"},       // dup2 and fcntl
		"__dup3":            {"dup3"},       // the same function, as zig's musl names it
		"faccessat":         {"faccessat2"}, // checks with getuid/geteuid/... and faccessat
		"getrlimit":         {"prlimit64"},  // getrlimit
		"setrlimit":         {"prlimit64"},  // setrlimit on every thread
		"membarrier":        {"membarrier"}, // emulated with signals
		"__membarrier":      {"membarrier"},
		"__membarrier_init": {"membarrier"}, // registration failure is ignored
		"__pthread_create":  {"membarrier"}, // the same, inlined by zig's build
		"pipe2":             {"pipe2"},      // pipe and fcntl
		"signalfd":          {"signalfd4"},  // signalfd and fcntl
		"utimensat":         {"utimensat"},  // futimesat
	},
	"glibc": {
		"__tls_init_tp": {"rseq", "set_robust_list"}, // start-up: failures are ignored
		"start_thread":  {"rseq", "set_robust_list"}, // each thread: ignored too
		"clone3":        {"clone3"},                  // pthread_create, posix_spawn: clone
		"faccessat":     {"faccessat2"},              // faccessat
		"preadv2":       {"preadv2"},                 // preadv, when flags are 0
		"statx":         {"statx"},                   // newfstatat
	},
}

// libraryFallbacks are the same for libraries portabin builds and links (internal/deps,
// --malloc), whatever the C library: calls they make only as a first try. The evidence is
// behaviour too: examples/fetchstore (OpenSSL 3.0) passes its tests under an emulated 2.6.32
// kernel that answers ENOSYS to both its calls (run_fetchstore.txtar pins it: the cells list
// both as refused), and a program with --malloc=mimalloc passes under 3.10 (malloc.txtar).
var libraryFallbacks = map[string][]string{
	"CRYPTO_secure_malloc_init": {"mlock2"},    // OpenSSL crypto/mem_sec.c: mlock on ENOSYS
	"ossl_pool_acquire_entropy": {"getrandom"}, // OpenSSL rand_unix.c: then /dev/urandom
	"mi_random_init_ex":         {"getrandom"}, // mimalloc src/random.c: then /dev/urandom
}

// goFallbacks are the same for the Go runtime and standard library, in the Go programs of any
// C library (cgo programs make these calls themselves too). TestFallbacksByBehaviour derives
// them as it does the C libraries' ones, from a program built with the Go toolchain that runs
// the tests.
var goFallbacks = map[string][]string{
	"internal/syscall/unix.CopyFileRange": {"copy_file_range"},   // os.File.ReadFrom: read and write
	"internal/syscall/unix.GetRandom":     {"getrandom"},         // crypto/rand: /dev/urandom
	"internal/syscall/unix.PidFDOpen":     {"pidfd_open"},        // os: process handles by PID
	"internal/syscall/unix.Waitid":        {"waitid"},            // os.Process.Wait: wait4
	"os.checkClonePidfd":                  {"waitid"},            // the probe of clone's pidfds
	"os.checkPidfd":                       {"pidfd_send_signal"}, // the probe that turns pidfds off
	"os.(*Process).pidfdSendSignal":       {"pidfd_send_signal"}, // reached only after the probe succeeded
	"syscall.faccessat2":                  {"faccessat2"},        // syscall.Faccessat: emulated with fstatat
}

// rustFallbacks are the same for Rust's standard library, which is linked into every Rust
// program and makes its newer calls through the C library's syscall(), by the keys of rustKey
// (std's module paths move between releases, its function names do not).
// TestFallbacksByBehaviour derives them from a program of the Rust toolchain on the machine.
var rustFallbacks = map[string][]string{
	"std copy_regular_files":            {"copy_file_range"}, // fs::copy, io::copy: sendfile, read and write
	"std probe_copy_file_range_support": {"copy_file_range"},
	"std try_statx":                     {"statx"}, // fs::metadata: stat64
}

// rustOnRequest are Rust's calls made only on request: std's Command makes a pidfd only for
// the unstable CommandExt::create_pidfd, whose documentation says that the pidfd may then
// still be missing "due to an older version of Linux being in use".
var rustOnRequest = map[string][]string{
	"std Command::spawn":      {"pidfd_open"},
	"std Command::send_pidfd": {"pidfd_open"},
}

// goOnRequest are calls a Go function makes only when the program asks for a feature that
// itself needs a newer kernel than the call, so a program that does not ask never makes them:
// syscall.forkAndExecInChild1 uses clone3 instead of clone only for SysProcAttr.UseCgroupFD
// (CLONE_INTO_CGROUP, Linux 5.7) or CLONE_NEWTIME (5.6). TestFallbacksByBehaviour checks that
// starting a program without them does not make the call.
var goOnRequest = map[string][]string{
	"syscall.forkAndExecInChild1": {"clone3"},
}

// callerFallbacks are calls that a C library's public function makes for any caller, but that
// some of the library's own callers make as a first try: the call is exempt in a program where
// every caller of the function is one of those. glibc's malloc seeds its tcache key with
// getrandom() and takes random_bits() when that fails (malloc/malloc.c, tcache_key_initialize,
// inlined into ptmalloc_init); a program's own call to getrandom() fails on an old kernel.
// TestCallerFallback checks both by behaviour.
var callerFallbacks = map[string]map[string]map[string][]string{
	"glibc": {"getrandom": {"getrandom": {"ptmalloc_init"}}},
}

// calledOnlyFrom reports whether the function fn (its names) makes call only for callers that
// callerFallbacks lists: it is listed for the call, it has callers, and each of them is a
// listed function. GCC's clones of a caller (ptmalloc_init.part.0) count as the caller.
func calledOnlyFrom(table map[string]map[string][]string, fn []string, call string, callers []uint64, funcs interface{ at(uint64) []string }) bool {
	var allowed []string
	for _, name := range fn {
		allowed = append(allowed, table[name][call]...)
	}
	if len(allowed) == 0 || len(callers) == 0 {
		return false
	}
	for _, c := range callers {
		names := funcs.at(c)
		if c == 0 || !slices.ContainsFunc(names, func(n string) bool {
			base, _, _ := strings.Cut(n, ".")
			return slices.Contains(allowed, base)
		}) {
			return false
		}
	}
	return true
}

// archFloor is the first Linux release that ran each architecture at all.
var archFloor = map[string]string{"aarch64": "3.7", "riscv64": "4.15", "arm": "2.6.16"}

// runtimes is what f holds of the libraries whose first tries check knows.
type runtimes struct {
	libc string // detectLibc's name
	// static says that the C library is linked into f, with its functions that make calls
	// as first tries.
	static bool
	gob    *goBuild // nil for a program without Go's build information
	// gofuncs names a Go program's functions from its .gopclntab; nil for other files and
	// for Go releases before 1.18, whose table check does not read.
	gofuncs *goFuncTable
	rust    bool // Rust's standard library is linked in
}

// kernel derives the oldest kernel from the architecture, the ABI tag, the Go release and the
// system calls of f, as sysscan found them (res is nil when they could not be analysed).
func kernel(f *elf.File, res *sysscan.Result, arch string, rt runtimes) Kernel {
	libc, gob := rt.libc, rt.gob
	var k Kernel
	best, decided := syscalls.Version{}, ""
	raise := func(v syscalls.Version, why string) {
		if best.Less(v) {
			best, decided = v, why
		}
	}
	if floor, ok := archFloor[arch]; ok {
		raise(mustVersion(floor), "architecture")
	}
	if tag, ok := abiTag(f); ok {
		k.ABITag = tag
		raise(mustVersion(tag), "ABI tag")
	}
	if gob != nil {
		release := gob.Version
		if release == "" {
			release = "1.17 or older" // the build information holds no version string before Go 1.18
		}
		raise(mustVersion(gob.kernelFloor()), "Go release "+release)
	}
	if res != nil {
		k.Analysed = true
		k.Unknown = res.Unknown
		var funcs interface{ at(uint64) []string } = functions(f)
		if table := funcs.(funcTable); len(table) == 0 && len(res.Sites) > 0 {
			switch {
			case rt.gofuncs != nil:
				funcs = *rt.gofuncs // a stripped Go program still names its Go functions
			case gob != nil:
				k.Notes = append(k.Notes, "no symbol table and no function table of Go 1.18 or later: the calls Go's standard library makes only as a first try cannot be told apart, so they count and the minimum may be too high")
			}
			if rt.static && len(fallbacks[libc]) > 0 {
				k.Notes = append(k.Notes, "no symbol table: the calls "+libc+" makes only as a first try cannot be told apart, so they count and the minimum may be too high")
			}
			if rt.rust {
				k.Notes = append(k.Notes, "no symbol table: the calls Rust's standard library makes only as a first try (statx, copy_file_range) cannot be told apart, so they count and the minimum may be too high")
			}
		}
		// exempt says whether a function (its names) makes call only as a first try, or only
		// on request, so that the call does not raise the minimum.
		exempt := func(fn []string, call string, callers []uint64) bool {
			if isFallback(fallbacks[libc], fn, call) || isFallback(libraryFallbacks, fn, call) ||
				calledOnlyFrom(callerFallbacks[libc], fn, call, callers, funcs) {
				return true
			}
			if gob != nil && (isFallback(goFallbacks, fn, call) || isFallback(goOnRequest, fn, call)) {
				return true
			}
			rust := rustNames(fn)
			return isFallback(rustFallbacks, rust, call) || isFallback(rustOnRequest, rust, call)
		}
		// A call counts unless every place that makes it is a fallback.
		counted := map[int]bool{}
		seen := map[int]bool{}
		for _, site := range res.Sites {
			seen[site.Number] = true
			sc, _ := syscalls.Lookup(res.Arch, site.Number)
			if !exempt(funcs.at(site.Addr), sc.Name, res.Callers[site.Func]) {
				counted[site.Number] = true
			}
		}
		numbers := make([]int, 0, len(seen))
		for n := range seen {
			numbers = append(numbers, n)
		}
		sort.Ints(numbers)
		for _, n := range numbers {
			sc, ok := syscalls.Lookup(res.Arch, n)
			use := SyscallUse{Name: sc.Name, Number: n, Fallback: !counted[n]}
			if !ok {
				use.Name = "unknown"
			}
			if sc.Known {
				use.Since = sc.Since.String()
				if counted[n] {
					raise(sc.Since, "syscall "+sc.Name)
				}
			}
			k.Syscalls = append(k.Syscalls, use)
		}
	}
	if best != (syscalls.Version{}) {
		k.Minimum, k.DecidedBy = best.String(), decided
	}
	return k
}

// isFallback reports whether any name of the function (its aliases: __dup3 and dup3 are one
// function) makes syscall only as a first try.
func isFallback(table map[string][]string, function []string, syscall string) bool {
	for _, name := range function {
		if slices.Contains(table[name], syscall) {
			return true
		}
	}
	return false
}

func mustVersion(s string) syscalls.Version {
	v, err := syscalls.ParseVersion(s)
	if err != nil {
		panic(err)
	}
	return v
}

// funcTable finds the function that contains an address, from the symbol table.
type funcTable []elf.Symbol

func functions(f *elf.File) funcTable {
	syms, err := elfimage.Symbols(f)
	if err != nil {
		return nil
	}
	var fns funcTable
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) == elf.STT_FUNC && s.Value != 0 {
			fns = append(fns, s)
		}
	}
	sort.Slice(fns, func(i, j int) bool { return fns[i].Value < fns[j].Value })
	return fns
}

// at returns every name of the function that contains addr (a function often has aliases, such
// as glibc's __clone3 and clone3); nil when no function does.
func (t funcTable) at(addr uint64) []string {
	i := sort.Search(len(t), func(i int) bool { return t[i].Value > addr }) - 1
	if i < 0 {
		return nil
	}
	start := t[i].Value
	var names []string
	for ; i >= 0 && t[i].Value == start; i-- {
		if t[i].Size == 0 || addr < t[i].Value+t[i].Size {
			names = append(names, t[i].Name)
		}
	}
	slices.Sort(names)
	return names
}
