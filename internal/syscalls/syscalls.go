// Package syscalls is the Linux system call table: number per architecture → name → kernel version that introduced it.
//
// The data comes from two sources, joined by name in table.go (generated, see
// internal/gen): the syscalls(2) manual page says which kernel version
// introduced each call, golang.org/x/sys says each call's number per
// architecture. How this package reads them:
//
//   - syscalls(2) gives the version in which a call appeared on *any*
//     architecture. Where an architecture's port is younger than the call,
//     the port's first version is the answer (archSince); where a call was
//     wired up on an architecture later, and a source says so, that version
//     (archLater). Otherwise Since is a lower bound: a call may have reached
//     one architecture a release or two after another.
//   - A call that exists only on some architectures (arch_prctl on x86,
//     riscv_flush_icache on RISC-V) simply has no number elsewhere.
//   - syscalls(2)'s table stops at Linux 5.14; for newer calls the version
//     comes from the HISTORY section of the call's own page, where there is
//     one (internal/gen/history.tsv). Known is false for the calls neither
//     source dates and for reserved slots that were never implemented.
//   - Names are syscalls(2)'s; ByName also takes x/sys's spelling where the
//     two differ (aliases in table.go).
package syscalls

//go:generate go run ./internal/gen -o table.go

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Version is a Linux kernel version.
type Version struct{ Major, Minor, Patch int }

// ParseVersion parses "4.11" or "2.6.32".
func ParseVersion(s string) (Version, error) {
	parts := strings.Split(s, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return Version{}, fmt.Errorf("parsing kernel version %q: want MAJOR.MINOR or MAJOR.MINOR.PATCH", s)
	}
	var n [3]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 || p == "" || p[0] == '+' {
			return Version{}, fmt.Errorf("parsing kernel version %q: %q is not a number", s, p)
		}
		n[i] = v
	}
	return Version{n[0], n[1], n[2]}, nil
}

// String gives "4.11" or "2.6.32": the patch level only when it is not 0.
func (v Version) String() string {
	if v.Patch == 0 {
		return fmt.Sprintf("%d.%d", v.Major, v.Minor)
	}
	return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
}

// Less reports whether v is older than w.
func (v Version) Less(w Version) bool {
	if v.Major != w.Major {
		return v.Major < w.Major
	}
	if v.Minor != w.Minor {
		return v.Minor < w.Minor
	}
	return v.Patch < w.Patch
}

func maxVersion(v, w Version) Version {
	if v.Less(w) {
		return w
	}
	return v
}

// Syscall is one system call on one architecture.
type Syscall struct {
	Name   string
	Number int
	// Since is the oldest kernel that has the call on this architecture; the
	// zero Version when Known is false.
	Since Version
	// Known is false when the sources give no version: the call is newer than
	// the man page, or its slot was never implemented.
	Known bool
	// Note is the man page's note on the call, and why Since differs from the
	// man page's version when it does.
	Note string
}

// Lookup finds the call with this number on arch (target.Target.Arch: "x86_64",
// "aarch64", "riscv64", "arm", "i386").
func Lookup(arch string, number int) (Syscall, bool) {
	t, ok := tables()[arch]
	if !ok {
		return Syscall{}, false
	}
	i, found := slices.BinarySearchFunc(t.all, number, func(s Syscall, n int) int { return s.Number - n })
	if !found {
		return Syscall{}, false
	}
	return t.all[i], true
}

// ByName finds a call on arch by its syscalls(2) name, or by x/sys's
// spelling where it differs ("arm_fadvise64_64" for "fadvise64_64").
func ByName(arch, name string) (Syscall, bool) {
	t, ok := tables()[arch]
	if !ok {
		return Syscall{}, false
	}
	if alias, ok := aliases[name]; ok {
		name = alias
	}
	s, ok := t.byName[name]
	return s, ok
}

// All lists arch's calls by number; nil for an unknown arch.
func All(arch string) []Syscall {
	t, ok := tables()[arch]
	if !ok {
		return nil
	}
	return slices.Clone(t.all)
}

// Arches lists the architectures the table covers.
func Arches() []string { return slices.Clone(columns[:]) }

// adjustment raises Since on one architecture, saying why.
type adjustment struct {
	since Version
	why   string
}

// archSince is when each architecture's port, with the numbering x/sys
// describes, reached Linux. i386 is Linux's first port; x86_64's is older
// than any kernel worth checking for, so its oldest calls keep the man
// page's versions (read: 1.0) rather than a port date.
var archSince = map[string]adjustment{
	"aarch64": {Version{3, 7, 0}, "the arm64 port was merged in Linux 3.7"},
	"riscv64": {Version{4, 15, 0}, "the RISC-V port was merged in Linux 4.15"},
	// x/sys's arm numbers are EABI's (musl supports no other ARM ABI), and
	// the EABI system call convention arrived in 2.6.16 (CONFIG_AEABI).
	"arm": {Version{2, 6, 16}, "ARM EABI, whose numbers these are, arrived in Linux 2.6.16"},
}

// PortSince is the first kernel that ran arch, and the source of that date; the zero Version for
// architectures as old as any kernel worth testing (x86_64, i386).
func PortSince(arch string) (Version, string) {
	a := archSince[arch]
	return a.since, a.why
}

// archLater lists calls that reached an architecture after the version
// syscalls(2) gives, with the source that says so.
var archLater = map[string]map[string]adjustment{"i386": i386Later()}

func i386Later() map[string]adjustment {
	later := map[string]adjustment{
		"arch_prctl": {Version{4, 12, 0}, "on x86-32 since 4.12 (syscalls(2))"},
	}
	// socketcall(2), NOTES: "starting in Linux 4.3, direct system calls are
	// provided on x86-32 for the sockets API"; before, only socketcall(2).
	sockets := adjustment{Version{4, 3, 0}, "direct socket calls on x86-32 since 4.3, before only through socketcall(2) (socketcall(2))"}
	for _, name := range []string{"socket", "socketpair", "bind", "connect", "listen", "accept4",
		"getsockopt", "setsockopt", "getsockname", "getpeername", "sendto", "sendmsg",
		"recvfrom", "recvmsg", "shutdown"} {
		later[name] = sockets
	}
	// Linux 5.1 gave x86-32 the System V IPC calls other architectures have
	// (kernel commit 0d6040d46817, "arch: add split IPC system calls where
	// needed"); before, only ipc(2) reached them.
	ipc := adjustment{Version{5, 1, 0}, "direct System V IPC calls on x86-32 since 5.1, before only through ipc(2) (kernel commit 0d6040d46817)"}
	for _, name := range []string{"semget", "semctl", "shmget", "shmctl", "shmat", "shmdt",
		"msgget", "msgsnd", "msgrcv", "msgctl"} {
		later[name] = ipc
	}
	return later
}

// rowStatus says whether and how syscalls(2) lists a call.
type rowStatus int

const (
	listed rowStatus = iota
	// unlisted calls are newer than the man page, or x86_64's never
	// implemented epoll_ctl_old and epoll_wait_old.
	unlisted
	// unimplemented calls have a reserved slot that always fails with ENOSYS.
	unimplemented
	// paged calls are newer than syscalls(2)'s table; kernel is the version
	// their own page's HISTORY section gives.
	paged
)

// row is one call in table.go: what syscalls(2) says and its number per
// column (-1: none).
type row struct {
	name    string
	status  rowStatus
	kernel  string // syscalls(2) Kernel column, or a paged call's version
	notes   string // syscalls(2) Notes column
	numbers numbers
}

type numbers [len(columns)]int

type table struct {
	all    []Syscall // by number
	byName map[string]Syscall
}

// tables is built on first use: every portabin process loads this package, few look a call up.
var tables = sync.OnceValue(buildTables)

func buildTables() map[string]table {
	out := map[string]table{}
	for col, arch := range columns {
		t := table{byName: map[string]Syscall{}}
		for _, r := range rows {
			if r.numbers[col] < 0 {
				continue
			}
			s := forArch(r, col)
			t.all = append(t.all, s)
			t.byName[s.Name] = s
		}
		slices.SortFunc(t.all, func(a, b Syscall) int { return a.Number - b.Number })
		out[arch] = t
	}
	return out
}

// forArch applies the rules of the architecture in column col to what
// syscalls(2) says.
func forArch(r row, col int) Syscall {
	arch := columns[col]
	s := Syscall{Name: r.name, Number: r.numbers[col]}
	switch r.status {
	case unlisted:
		s.Note = "not in syscalls(2) of man-pages " + manPagesVersion + ", and its own page gives no version"
		return s
	case unimplemented:
		s.Note = "reserved slot, not implemented in the standard kernel (syscalls(2))"
		return s
	}
	since, err := manPageSince(r)
	if err != nil {
		// The tests check that every row parses; never guess.
		s.Note = err.Error()
		return s
	}
	s.Since, s.Known = since, true
	var notes []string
	if r.notes != "" {
		notes = append(notes, r.notes)
	}
	if later, ok := archLater[arch][r.name]; ok && since.Less(later.since) {
		s.Since = later.since
		notes = append(notes, later.why)
	}
	if port, ok := archSince[arch]; ok && s.Since.Less(port.since) {
		s.Since = port.since
		notes = append(notes, port.why)
	}
	s.Note = strings.Join(notes, "; ")
	return s
}

// addedAs matches the note on calls renamed without a new number:
// `Added as "pread" in 2.2; renamed "pread64" in 2.6`.
var addedAs = regexp.MustCompile(`^Added as "[^"]+" in ([0-9.]+);`)

// manPageSince reads syscalls(2)'s Kernel column:
//   - "2.6.16": that version.
//   - "2.6; 2.4.18" (the call was backported to an older stable series): the
//     later version, from which on every kernel has it.
//   - "": the page says a missing version means 1.0 or earlier, but the two
//     empty rows (pread64, pwrite64) have a note saying when the number
//     first appeared under an older name; that version.
func manPageSince(r row) (Version, error) {
	kernel := r.kernel
	if kernel == "" {
		if m := addedAs.FindStringSubmatch(r.notes); m != nil {
			kernel = m[1]
		} else {
			kernel = "1.0"
		}
	}
	var since Version
	for _, field := range strings.Split(kernel, ";") {
		v, err := ParseVersion(strings.TrimSpace(field))
		if err != nil {
			return Version{}, fmt.Errorf("syscalls(2) row %s: %w", r.name, err)
		}
		since = maxVersion(since, v)
	}
	return since, nil
}
