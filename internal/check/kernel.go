package check

import (
	"debug/elf"
	"sort"

	"github.com/portabin/portabin/internal/syscalls"
	"github.com/portabin/portabin/internal/sysscan"
)

// fallbacks lists, per C library function, the system calls that function makes only as a
// first try: on ENOSYS it falls back to an older call, so an older kernel still works. Only
// calls made inside these functions are exempt; the same call made elsewhere (through
// syscall(), or a wrapper without fallback) counts. Established from the C libraries' sources:
//   - musl: pipe2 → pipe, accept4 → accept, epoll_create1 → epoll_create, inotify_init1 →
//     inotify_init, eventfd2 → eventfd, signalfd4 → signalfd, and fstatat's statx attempt;
//     membarrier emulates the private expedited command with signals; getrlimit and
//     setrlimit try prlimit64, then getrlimit/setrlimit.
//   - glibc: __clone_internal tries clone3 then clone; faccessat tries faccessat2; fchmodat
//     tries fchmodat2; statx and fstatat fall back to the stat family; closefrom falls back
//     from close_range to walking /proc/self/fd; rseq registration failures are ignored.
var fallbacks = map[string][]string{
	"pipe2":                        {"pipe2"},
	"accept4":                      {"accept4"},
	"epoll_create1":                {"epoll_create1"},
	"inotify_init1":                {"inotify_init1"},
	"eventfd":                      {"eventfd2"},
	"signalfd":                     {"signalfd4"},
	"membarrier":                   {"membarrier"},
	"getrlimit":                    {"prlimit64"},
	"setrlimit":                    {"prlimit64"},
	"do_setrlimit":                 {"prlimit64"},
	"fstatat":                      {"statx"},
	"__fstatat":                    {"statx"},
	"fstatat_statx":                {"statx"},
	"__clone_internal":             {"clone3"},
	"__clone3":                     {"clone3"},
	"faccessat":                    {"faccessat2"},
	"__faccessat":                  {"faccessat2"},
	"fchmodat":                     {"fchmodat2"},
	"__fstatat64_time64":           {"statx"},
	"statx_generic":                {"statx"},
	"__closefrom":                  {"close_range"},
	"closefrom":                    {"close_range"},
	"rseq_register_current_thread": {"rseq"},
	"__libc_start_main":            {"rseq"},
	"__libc_setup_tls":             {"rseq"},
}

// archFloor is the first Linux release that ran each architecture at all.
var archFloor = map[string]string{"aarch64": "3.7", "riscv64": "4.15", "arm": "2.6.16"}

// kernel derives the oldest kernel from the ABI tag and the system calls of f.
func kernel(f *elf.File, arch string) Kernel {
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
	if res, err := sysscan.Scan(f); err == nil && res != nil {
		k.Analysed = true
		k.Unknown = res.Unknown
		funcs := functions(f)
		// A call counts unless every place that makes it is a fallback.
		counted := map[int]bool{}
		seen := map[int]bool{}
		for _, site := range res.Sites {
			seen[site.Number] = true
			sc, _ := syscalls.Lookup(res.Arch, site.Number)
			if !isFallback(funcs.at(site.Addr), sc.Name) {
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

func isFallback(function, syscall string) bool {
	for _, s := range fallbacks[function] {
		if s == syscall {
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
	syms, err := f.Symbols()
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

func (t funcTable) at(addr uint64) string {
	i := sort.Search(len(t), func(i int) bool { return t[i].Value > addr }) - 1
	if i < 0 {
		return ""
	}
	s := t[i]
	if s.Size != 0 && addr >= s.Value+s.Size {
		return ""
	}
	return s.Name
}
