package seccomp

import (
	"errors"
	"fmt"
	"slices"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/portabin/portabin/internal/syscalls"
)

// Mode says how blocked calls are answered.
type Mode int

const (
	// Notify sends blocked calls and uname to a Supervisor (SECCOMP_RET_USER_NOTIF), which
	// answers ENOSYS, records them and fakes uname's release. Needs Linux 5.0.
	Notify Mode = iota
	// Errno answers blocked calls with ENOSYS in the filter (SECCOMP_RET_ERRNO); uname is not
	// faked and nothing is recorded. The fallback for kernels without user notification.
	Errno
)

func (m Mode) String() string {
	switch m {
	case Notify:
		return "notify"
	case Errno:
		return "errno"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Filter is a seccomp program that emulates one kernel version for one architecture's calls.
type Filter struct {
	// Arch is the internal/syscalls architecture of the calls filtered, e.g. "x86_64".
	Arch string
	// Kernel is the emulated kernel.
	Kernel syscalls.Version
	Mode   Mode
	// Blocked lists Arch's calls answered ENOSYS, by number.
	Blocked []syscalls.Syscall
	// CompatArch is the architecture of the 32-bit calls the host kernel also runs ("i386" on
	// x86_64, "arm" on aarch64; empty elsewhere), filtered with its own table for the same
	// kernel; CompatBlocked lists its calls answered ENOSYS.
	CompatArch    string
	CompatBlocked []syscalls.Syscall
	// Program is the classic BPF program, ready for seccomp(2).
	Program []bpf.RawInstruction
	// Hostname is the nodename the faked uname reports; empty means the supervisor's own.
	// A sandbox with its own UTS namespace sets it to the sandbox's hostname.
	Hostname string
	// Opens, set by TraceOpens, sends the calls that open or execute a file by name to the
	// supervisor too, which records the files missing in the process's root (Report.Missing)
	// and lets every such call run.
	Opens bool

	abis []abi
}

// abi is one system call convention the filter recognises by seccomp_data.arch.
type abi struct {
	arch  string // internal/syscalls name
	audit uint32 // AUDIT_ARCH_*
	// unames maps the numbers of uname(2) and its older forms to the layout of their struct.
	unames map[uint32]utsLayout
	// openers maps the numbers of the calls that open or execute a file by name to where
	// their arguments are.
	openers map[uint32]opener
}

// opener says where a call that opens or executes a file by name keeps its arguments: indexes
// into seccomp_data.args, -1 for none.
type opener struct {
	name               string
	dirfd, path, flags int
	// how: the flags are the first field of the struct open_how that args[flags] points to.
	how bool
}

// openers are the calls TraceOpens watches. creat is left out: it makes files.
var openers = []opener{
	{name: "open", dirfd: -1, path: 0, flags: 1},
	{name: "openat", dirfd: 0, path: 1, flags: 2},
	{name: "openat2", dirfd: 0, path: 1, flags: 2, how: true},
	{name: "execve", dirfd: -1, path: 0, flags: -1},
	{name: "execveat", dirfd: 0, path: 1, flags: -1},
}

// utsLayout is a struct utsname: fields char arrays of fieldLen bytes each.
type utsLayout struct{ fields, fieldLen int }

// The uname calls and their structs (include/uapi/linux/utsname.h): new_utsname has six
// 65-byte fields, old_utsname five, oldold_utsname five of 9 bytes.
var utsLayouts = map[string]utsLayout{
	"uname":       {6, 65},
	"olduname":    {5, 65},
	"oldolduname": {5, 9},
}

// auditArch is each architecture's AUDIT_ARCH_* value, as seccomp_data.arch carries it.
var auditArch = map[string]uint32{
	"x86_64":  unix.AUDIT_ARCH_X86_64,
	"aarch64": unix.AUDIT_ARCH_AARCH64,
	"riscv64": unix.AUDIT_ARCH_RISCV64,
	"arm":     unix.AUDIT_ARCH_ARM,
	"i386":    unix.AUDIT_ARCH_I386,
}

// compatArch is the 32-bit convention a 64-bit kernel of the architecture also serves.
// (A riscv64 kernel may run rv32 code, but the table has no riscv32 column; such calls are
// killed as unknown.)
var compatArch = map[string]string{"x86_64": "i386", "aarch64": "arm"}

const (
	// x32Bit marks an x32 ABI call on x86_64 (__X32_SYSCALL_BIT).
	x32Bit = 0x40000000
	// ARM's private calls (arch/arm/include/uapi/asm/unistd.h, __ARM_NR_BASE), which
	// x/sys does not list.
	armPrivateFirst = 0x0f0000
	armPrivateEnd   = 0x0f0800
	// maxInstructions is the kernel's BPF_MAXINSNS.
	maxInstructions = 4096
	// maxSkip is the farthest a conditional jump reaches: its offsets are 8 bits.
	maxSkip = 255
)

// Filter return values.
const (
	retAllow  = unix.SECCOMP_RET_ALLOW
	retNotify = unix.SECCOMP_RET_USER_NOTIF
	retENOSYS = unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
	// retKill ends the whole process; kernels older than 4.14 read it as SECCOMP_RET_KILL
	// (the thread).
	retKill = unix.SECCOMP_RET_KILL_PROCESS
)

// ForKernel builds the filter that makes arch's calls see kernel.
func ForKernel(arch string, kernel syscalls.Version, mode Mode) (*Filter, error) {
	if _, ok := auditArch[arch]; !ok {
		return nil, fmt.Errorf("building a seccomp filter: no system call table for architecture %q", arch)
	}
	if kernel == (syscalls.Version{}) {
		return nil, errors.New("building a seccomp filter: no kernel version")
	}
	if mode != Notify && mode != Errno {
		return nil, fmt.Errorf("building a seccomp filter: unknown mode %d", int(mode))
	}
	// A kernel older than the architecture's port would answer ENOSYS to everything.
	if exit, ok := syscalls.ByName(arch, "exit"); ok && blocked(exit, kernel) {
		return nil, fmt.Errorf("building a seccomp filter: Linux %s ran no %s programs (%s)", kernel, arch, exit.Note)
	}
	f := &Filter{Arch: arch, Kernel: kernel, Mode: mode, CompatArch: compatArch[arch]}
	f.abis = append(f.abis, newABI(arch))
	f.Blocked = blockedCalls(arch, kernel)
	if f.CompatArch != "" {
		f.abis = append(f.abis, newABI(f.CompatArch))
		f.CompatBlocked = blockedCalls(f.CompatArch, kernel)
	}
	prog, err := f.program()
	if err != nil {
		return nil, fmt.Errorf("building the seccomp filter for %s, Linux %s: %w", arch, kernel, err)
	}
	f.Program = prog
	return f, nil
}

func newABI(arch string) abi {
	a := abi{arch: arch, audit: auditArch[arch], unames: map[uint32]utsLayout{}, openers: map[uint32]opener{}}
	for name, layout := range utsLayouts {
		if s, ok := syscalls.ByName(arch, name); ok {
			a.unames[uint32(s.Number)] = layout
		}
	}
	for _, op := range openers {
		if s, ok := syscalls.ByName(arch, op.name); ok {
			a.openers[uint32(s.Number)] = op
		}
	}
	return a
}

// TraceOpens makes the filter send the calls that open or execute a file by name (open,
// openat, openat2, execve, execveat) to the supervisor as well, which records the files
// missing in the calling process's root and lets the calls run. Notify mode only; both the
// installed filter and the supervisor's need it.
func (f *Filter) TraceOpens() error {
	if f.Mode != Notify {
		return fmt.Errorf("tracing opens: the filter is in %s mode, which has no supervisor", f.Mode)
	}
	f.Opens = true
	prog, err := f.program()
	if err != nil {
		return fmt.Errorf("rebuilding the seccomp filter to trace opens: %w", err)
	}
	f.Program = prog
	return nil
}

// blockedNumber says whether the filter answers arch's call nr ENOSYS, by the package doc's rule.
func (f *Filter) blockedNumber(arch string, nr uint32) bool {
	s, ok := syscalls.Lookup(arch, int(nr))
	return !ok || blocked(s, f.Kernel)
}

// blocked is the rule of the package doc for a call the table lists.
func blocked(s syscalls.Syscall, kernel syscalls.Version) bool {
	return !s.Known || kernel.Less(s.Since)
}

func blockedCalls(arch string, kernel syscalls.Version) []syscalls.Syscall {
	var out []syscalls.Syscall
	for _, s := range syscalls.All(arch) {
		if blocked(s, kernel) {
			out = append(out, s)
		}
	}
	return out
}

// span is what the filter returns for every call number from start up to the next span's.
type span struct {
	start uint32
	ret   uint32
}

// spans partitions every 32-bit call number of one ABI into runs with the same return value,
// sorted by start; the first starts at 0.
func (f *Filter) spans(a abi) []span {
	deny := uint32(retENOSYS)
	if f.Mode == Notify {
		deny = retNotify
	}
	table := syscalls.All(a.arch)
	highest := uint32(0)
	if len(table) > 0 {
		highest = uint32(table[len(table)-1].Number)
	}
	verdicts := make([]uint32, highest+1)
	for i := range verdicts {
		verdicts[i] = deny // numbers the table does not list
	}
	for _, s := range table {
		if !blocked(s, f.Kernel) {
			verdicts[s.Number] = retAllow
		}
	}
	if f.Mode == Notify {
		for nr := range a.unames {
			verdicts[nr] = retNotify
		}
		if f.Opens {
			for nr := range a.openers {
				verdicts[nr] = retNotify
			}
		}
	}
	var out []span
	add := func(start, ret uint32) {
		if len(out) > 0 && out[len(out)-1].ret == ret {
			return
		}
		out = append(out, span{start, ret})
	}
	for nr, ret := range verdicts {
		add(uint32(nr), ret)
	}
	add(highest+1, deny)
	if a.arch == "arm" {
		add(armPrivateFirst, retAllow)
		add(armPrivateEnd, deny)
	}
	return out
}

// program lays out: check the arch, load the number, find its span by binary search.
func (f *Filter) program() ([]bpf.RawInstruction, error) {
	loadArch := bpf.LoadAbsolute{Off: 4, Size: 4} // seccomp_data.arch
	// Unknown conventions end last, after each known one's test.
	prog := []bpf.Instruction{bpf.RetConstant{Val: retKill}}
	for i := len(f.abis) - 1; i >= 0; i-- {
		a := f.abis[i]
		calls := append([]bpf.Instruction{bpf.LoadAbsolute{Off: 0, Size: 4}}, // seccomp_data.nr
			f.dispatch(a)...)
		prog = ifElse(bpf.JumpIf{Cond: bpf.JumpEqual, Val: a.audit}, calls, prog)
	}
	prog = append([]bpf.Instruction{loadArch}, prog...)
	if len(prog) > maxInstructions {
		return nil, fmt.Errorf("%d instructions, more than the kernel's %d", len(prog), maxInstructions)
	}
	return bpf.Assemble(prog)
}

// dispatch returns the instructions that answer the call number in register A for ABI a.
func (f *Filter) dispatch(a abi) []bpf.Instruction {
	tree := searchTree(f.spans(a))
	if a.arch == "x86_64" {
		return ifElse(bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: x32Bit},
			[]bpf.Instruction{bpf.RetConstant{Val: retENOSYS}}, tree)
	}
	return tree
}

// searchTree compares the number in register A with span starts, halving the spans at each
// step, and returns the span's value: about 2×len(spans) instructions, log2(len(spans))
// comparisons per call.
func searchTree(spans []span) []bpf.Instruction {
	if len(spans) == 1 {
		return []bpf.Instruction{bpf.RetConstant{Val: spans[0].ret}}
	}
	mid := len(spans) / 2
	return ifElse(bpf.JumpIf{Cond: bpf.JumpGreaterOrEqual, Val: spans[mid].start},
		searchTree(spans[mid:]), searchTree(spans[:mid]))
}

// ifElse runs then when cond holds and els otherwise; both must end in a return. A then
// longer than a conditional jump reaches is skipped with an unconditional jump, whose offset
// is 32 bits.
func ifElse(cond bpf.JumpIf, then, els []bpf.Instruction) []bpf.Instruction {
	out := make([]bpf.Instruction, 0, len(then)+len(els)+2)
	if len(then) <= maxSkip {
		cond.SkipTrue, cond.SkipFalse = 0, uint8(len(then))
		out = append(out, cond)
	} else {
		cond.SkipTrue, cond.SkipFalse = 1, 0
		out = append(out, cond, bpf.Jump{Skip: uint32(len(then))})
	}
	return slices.Concat(out, then, els)
}
