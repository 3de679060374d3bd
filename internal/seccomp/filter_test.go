package seccomp

import (
	"encoding/binary"
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/portabin/portabin/internal/syscalls"
)

// kernels spans the table: before the arm64 and RISC-V ports, the RHEL releases, its newest
// version (5.14) and one beyond it.
var kernels = []string{"2.6.16", "2.6.18", "2.6.32", "3.10", "3.17", "4.3", "4.18", "5.4", "5.14", "6.1"}

// vmRun runs prog on a seccomp_data for (audit, nr). x/net/bpf's VM loads words big-endian
// where the kernel loads them in the host's order, so the words are written big-endian: the
// program sees the same numbers either way.
func vmRun(t *testing.T, vm *bpf.VM, audit, nr uint32) uint32 {
	t.Helper()
	data := make([]byte, 64) // sizeof(struct seccomp_data)
	binary.BigEndian.PutUint32(data[0:], nr)
	binary.BigEndian.PutUint32(data[4:], audit)
	ret, err := vm.Run(data)
	if err != nil {
		t.Fatalf("running the filter on arch %#x, nr %d: %v", audit, nr, err)
	}
	return uint32(ret)
}

// loadVM decodes f's assembled program, the bytes the kernel gets, into the VM.
func loadVM(t *testing.T, f *Filter) *bpf.VM {
	t.Helper()
	insns, ok := bpf.Disassemble(f.Program)
	if !ok {
		t.Fatalf("%s %s: the assembled program does not disassemble", f.Arch, f.Kernel)
	}
	vm, err := bpf.NewVM(insns)
	if err != nil {
		t.Fatalf("%s %s: %v", f.Arch, f.Kernel, err)
	}
	return vm
}

// expected is the filter's answer worked out per number from syscalls.Lookup, the package
// doc's rules read literally, without spans or a search tree.
func expected(f *Filter, audit, nr uint32) uint32 {
	var arch string
	for _, a := range []string{f.Arch, f.CompatArch} {
		if a != "" && auditArch[a] == audit {
			arch = a
		}
	}
	if arch == "" {
		return retKill
	}
	deny := uint32(retENOSYS)
	if f.Mode == Notify {
		deny = retNotify
	}
	if arch == "x86_64" && nr&x32Bit != 0 {
		return retENOSYS
	}
	if arch == "arm" && nr >= 0x0f0000 && nr < 0x0f0800 {
		return retAllow
	}
	s, ok := syscalls.Lookup(arch, int(nr))
	switch {
	case !ok:
		return deny
	case f.Mode == Notify && (s.Name == "uname" || s.Name == "olduname" || s.Name == "oldolduname"):
		return retNotify
	case f.Mode == Notify && f.Opens && slices.Contains([]string{"open", "openat", "openat2", "execve", "execveat"}, s.Name):
		return retNotify
	case !s.Known || f.Kernel.Less(s.Since):
		return deny
	}
	return retAllow
}

// TestProgramEveryNumber runs every filter on every call number of its architectures (and
// past the highest, x32 numbers, ARM's private ones, negative ones) and compares with the
// table.
func TestProgramEveryNumber(t *testing.T) {
	for _, arch := range syscalls.Arches() {
		for _, k := range kernels {
			for _, variant := range []struct {
				mode  Mode
				opens bool
			}{{Notify, false}, {Errno, false}, {Notify, true}} {
				mode := variant.mode
				kernel, err := syscalls.ParseVersion(k)
				if err != nil {
					t.Fatal(err)
				}
				f, err := ForKernel(arch, kernel, mode)
				if err != nil {
					if exit, _ := syscalls.ByName(arch, "exit"); kernel.Less(exit.Since) {
						continue // before the port; TestForKernelBadInput
					}
					t.Fatal(err)
				}
				if variant.opens {
					if err := f.TraceOpens(); err != nil {
						t.Fatal(err)
					}
				}
				vm := loadVM(t, f)
				audits := []uint32{unix.AUDIT_ARCH_X86_64, unix.AUDIT_ARCH_I386, unix.AUDIT_ARCH_AARCH64,
					unix.AUDIT_ARCH_ARM, unix.AUDIT_ARCH_RISCV64, unix.AUDIT_ARCH_RISCV32, 0}
				for _, audit := range audits {
					for _, nr := range numbersToTry() {
						got, want := vmRun(t, vm, audit, nr), expected(f, audit, nr)
						if got != want {
							t.Errorf("%s, Linux %s, %s mode, opens %v: arch %#x nr %d (%#x): filter returns %#x, want %#x",
								arch, k, mode, variant.opens, audit, nr, nr, got, want)
						}
					}
				}
			}
		}
	}
}

func numbersToTry() []uint32 {
	var out []uint32
	for nr := uint32(0); nr < 600; nr++ {
		out = append(out, nr, nr|x32Bit)
	}
	for nr := uint32(0x0f0000 - 2); nr < 0x0f0800+2; nr++ {
		out = append(out, nr)
	}
	return append(out, 1000, 4096, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff)
}

// TestProgramFacts pins answers known independently of the table's code path.
func TestProgramFacts(t *testing.T) {
	const allow, enosys = retAllow, retENOSYS
	tests := []struct {
		arch, kernel string
		audit        uint32
		nr           uint32
		want         uint32
	}{
		{"x86_64", "3.10", unix.AUDIT_ARCH_X86_64, 332, enosys},            // statx, 4.11
		{"x86_64", "4.11", unix.AUDIT_ARCH_X86_64, 332, allow},             // statx
		{"x86_64", "3.16", unix.AUDIT_ARCH_X86_64, 318, enosys},            // getrandom, 3.17
		{"x86_64", "3.17", unix.AUDIT_ARCH_X86_64, 318, allow},             // getrandom
		{"x86_64", "2.6.18", unix.AUDIT_ARCH_X86_64, 257, allow},           // openat, 2.6.16
		{"x86_64", "2.6.18", unix.AUDIT_ARCH_X86_64, 0, allow},             // read
		{"x86_64", "5.4", unix.AUDIT_ARCH_X86_64, 436, enosys},             // close_range, 5.9
		{"x86_64", "5.4", unix.AUDIT_ARCH_X86_64, 434, allow},              // pidfd_open, 5.3
		{"x86_64", "6.1", unix.AUDIT_ARCH_X86_64, 0x40000000 | 39, enosys}, // x32 getpid
		{"x86_64", "6.1", unix.AUDIT_ARCH_X86_64, 1000, enosys},            // no such call
		{"x86_64", "5.14", unix.AUDIT_ARCH_X86_64, 451, enosys},            // cachestat, 6.5
		{"x86_64", "3.10", unix.AUDIT_ARCH_X86_64, 63, allow},              // uname: real in errno mode
		{"x86_64", "4.2", unix.AUDIT_ARCH_I386, 359, enosys},               // i386 socket, 4.3
		{"x86_64", "4.3", unix.AUDIT_ARCH_I386, 359, allow},                // i386 socket
		{"x86_64", "4.3", unix.AUDIT_ARCH_I386, 102, allow},                // socketcall
		{"x86_64", "3.10", unix.AUDIT_ARCH_I386, 355, enosys},              // i386 getrandom
		{"x86_64", "6.1", unix.AUDIT_ARCH_AARCH64, 63, retKill},            // impossible on x86_64
		{"aarch64", "3.10", unix.AUDIT_ARCH_AARCH64, 56, allow},            // openat
		{"aarch64", "3.10", unix.AUDIT_ARCH_AARCH64, 278, enosys},          // getrandom
		{"aarch64", "3.10", unix.AUDIT_ARCH_ARM, 0x0f0005, allow},          // compat set_tls
		{"arm", "2.6.32", unix.AUDIT_ARCH_ARM, 0x0f0002, allow},            // cacheflush
		{"arm", "2.6.32", unix.AUDIT_ARCH_ARM, 0x0f0800, enosys},           // past ARM's private calls
		{"arm", "2.6.32", unix.AUDIT_ARCH_X86_64, 0, retKill},
		{"riscv64", "4.15", unix.AUDIT_ARCH_RISCV64, 278, allow}, // getrandom
		{"riscv64", "4.15", unix.AUDIT_ARCH_RISCV32, 278, retKill},
		{"i386", "2.6.32", unix.AUDIT_ARCH_I386, 0x40000000 | 20, enosys}, // no x32 bit on i386: no call
	}
	for _, tt := range tests {
		kernel, _ := syscalls.ParseVersion(tt.kernel)
		f, err := ForKernel(tt.arch, kernel, Errno)
		if err != nil {
			t.Fatal(err)
		}
		if got := vmRun(t, loadVM(t, f), tt.audit, tt.nr); got != tt.want {
			t.Errorf("%s filter for %s: arch %#x nr %#x → %#x, want %#x", tt.arch, tt.kernel, tt.audit, tt.nr, got, tt.want)
		}
	}
}

// TestNotifyModeUname: in Notify mode every uname form goes to the supervisor, on both
// conventions of an x86_64 host.
func TestNotifyModeUname(t *testing.T) {
	f, err := ForKernel("x86_64", syscalls.Version{Major: 3, Minor: 10}, Notify)
	if err != nil {
		t.Fatal(err)
	}
	vm := loadVM(t, f)
	for _, c := range []struct {
		audit, nr uint32
	}{{unix.AUDIT_ARCH_X86_64, 63}, {unix.AUDIT_ARCH_I386, 122}, {unix.AUDIT_ARCH_I386, 109}, {unix.AUDIT_ARCH_I386, 59}} {
		if got := vmRun(t, vm, c.audit, c.nr); got != retNotify {
			t.Errorf("arch %#x nr %d → %#x, want user notification", c.audit, c.nr, got)
		}
	}
}

func TestBlocked(t *testing.T) {
	f, err := ForKernel("x86_64", syscalls.Version{Major: 3, Minor: 10}, Notify)
	if err != nil {
		t.Fatal(err)
	}
	names := func(calls []syscalls.Syscall) []string {
		var out []string
		for _, s := range calls {
			out = append(out, s.Name)
		}
		return out
	}
	blocked, compat := names(f.Blocked), names(f.CompatBlocked)
	for _, name := range []string{"getrandom", "memfd_create", "statx", "pidfd_open", "close_range", "cachestat"} {
		if !slices.Contains(blocked, name) {
			t.Errorf("Blocked lacks %s under 3.10", name)
		}
	}
	for _, name := range []string{"openat", "read", "uname", "dup3", "accept4"} {
		if slices.Contains(blocked, name) {
			t.Errorf("Blocked has %s under 3.10", name)
		}
	}
	if f.CompatArch != "i386" || !slices.Contains(compat, "socket") || !slices.Contains(compat, "getrandom") {
		t.Errorf("compat %s blocked %v: want i386 with socket and getrandom", f.CompatArch, compat)
	}
	if !slices.IsSortedFunc(f.Blocked, func(a, b syscalls.Syscall) int { return a.Number - b.Number }) {
		t.Error("Blocked is not sorted by number")
	}
}

func TestForKernelBadInput(t *testing.T) {
	if _, err := ForKernel("mips", syscalls.Version{Major: 3, Minor: 10}, Notify); err == nil {
		t.Error("no error for an architecture without a table")
	}
	if _, err := ForKernel("x86_64", syscalls.Version{}, Notify); err == nil {
		t.Error("no error for a zero kernel version")
	}
	if _, err := ForKernel("riscv64", syscalls.Version{Major: 3, Minor: 10}, Notify); err == nil {
		t.Error("no error for a kernel older than the RISC-V port")
	}
	if f, err := ForKernel("x86_64", syscalls.Version{Major: 3, Minor: 10}, Errno); err != nil || f.TraceOpens() == nil {
		t.Errorf("TraceOpens in Errno mode: no error (%v)", err)
	}
	if _, err := ForKernel("x86_64", syscalls.Version{Major: 3, Minor: 10}, Mode(7)); err == nil {
		t.Error("no error for an unknown mode")
	}
}

// TestSearchTreeLongJumps feeds the search tree spans enough to need jumps farther than 8
// bits, and checks every number lands in its span.
func TestSearchTreeLongJumps(t *testing.T) {
	var spans []span
	for i := range 1500 {
		ret := uint32(retAllow)
		if i%2 == 1 {
			ret = retENOSYS
		}
		spans = append(spans, span{start: uint32(i * 3), ret: ret})
	}
	prog := searchTree(spans)
	prog = append([]bpf.Instruction{bpf.LoadAbsolute{Off: 0, Size: 4}}, prog...)
	if !slices.ContainsFunc(prog, func(i bpf.Instruction) bool { _, ok := i.(bpf.Jump); return ok }) {
		t.Fatal("the test needs a tree with long jumps")
	}
	if len(prog) > maxInstructions {
		t.Fatalf("%d instructions", len(prog))
	}
	vm, err := bpf.NewVM(prog)
	if err != nil {
		t.Fatal(err)
	}
	for nr := uint32(0); nr < 1500*3+10; nr++ {
		want := spans[min(int(nr/3), len(spans)-1)].ret
		if got := vmRun(t, vm, 0, nr); got != want {
			t.Fatalf("nr %d → %#x, want %#x", nr, got, want)
		}
	}
}

// TestProgramSize keeps the generated programs small: a binary search, not a compare per call.
func TestProgramSize(t *testing.T) {
	for _, arch := range syscalls.Arches() {
		for _, k := range kernels {
			kernel, _ := syscalls.ParseVersion(k)
			f, err := ForKernel(arch, kernel, Notify)
			if err != nil {
				continue // before the port
			}
			calls := len(syscalls.All(arch))
			if len(f.Program) > calls {
				t.Errorf("%s %s: %d instructions for %d calls", arch, k, len(f.Program), calls)
			}
			t.Log(fmt.Sprintf("%s %s: %d instructions", arch, k, len(f.Program)))
		}
	}
}

// TestReportNames: how the report names a dated call, an undated one and a number the table
// lacks, and its order.
func TestReportNames(t *testing.T) {
	f, err := ForKernel("x86_64", syscalls.Version{Major: 3, Minor: 10}, Notify)
	if err != nil {
		t.Fatal(err)
	}
	s := server{filter: f, counts: map[callKey]int{
		{"x86_64", 332}:  2, // statx
		{"x86_64", 183}:  1, // afs_syscall, a reserved slot
		{"x86_64", 1000}: 1,
		{"x86_64", -1}:   1,
		{"i386", 332}:    3, // inotify_init1 on i386: the arch picks the table
	}}
	got := s.report().ENOSYS
	want := []Call{
		{Name: "afs_syscall", Number: 183, Arch: "x86_64", Since: "never implemented", Count: 1},
		{Name: "inotify_init1", Number: 332, Arch: "i386", Since: "2.6.27", Count: 3},
		{Name: "statx", Number: 332, Arch: "x86_64", Since: "4.11", Count: 2},
		{Name: "syscall 1000", Number: 1000, Arch: "x86_64", Since: "not in portabin's table", Count: 1},
		{Name: "syscall 4294967295", Number: -1, Arch: "x86_64", Since: "not in portabin's table", Count: 1},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestSinceLabelUndated: a call the table lists without a version is newer than every
// version it gives (5.14 while syscalls(2) is its only source).
func TestSinceLabelUndated(t *testing.T) {
	var newest syscalls.Version
	for _, arch := range syscalls.Arches() {
		for _, s := range syscalls.All(arch) {
			if s.Known && newest.Less(s.Since) {
				newest = s.Since
			}
		}
	}
	if newest.Less(syscalls.Version{Major: 5, Minor: 14}) {
		t.Errorf("the table's newest version is %s; syscalls(2) alone reaches 5.14", newest)
	}
	undated := syscalls.Syscall{Name: "future_call", Number: 999}
	if got, want := sinceLabel(undated, newestKnown()), "newer than "+newest.String(); got != want {
		t.Errorf("sinceLabel = %q, want %q", got, want)
	}
}
