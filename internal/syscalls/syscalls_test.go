package syscalls

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/portabin/portabin/internal/target"
)

func v(s string) Version {
	ver, err := ParseVersion(s)
	if err != nil {
		panic(err)
	}
	return ver
}

func TestLookup(t *testing.T) {
	tests := []struct {
		arch   string
		number int
		want   Syscall
	}{
		{"x86_64", 0, Syscall{Name: "read", Number: 0, Since: v("1.0"), Known: true}},
		{"x86_64", 7, Syscall{Name: "poll", Number: 7, Since: v("2.2"), Known: true}},
		{"x86_64", 17, Syscall{Name: "pread64", Number: 17, Since: v("2.2"), Known: true}},
		{"x86_64", 193, Syscall{Name: "fgetxattr", Number: 193, Since: v("2.6"), Known: true}},
		{"x86_64", 291, Syscall{Name: "epoll_create1", Number: 291, Since: v("2.6.27"), Known: true}},
		{"x86_64", 293, Syscall{Name: "pipe2", Number: 293, Since: v("2.6.27"), Known: true}},
		{"x86_64", 318, Syscall{Name: "getrandom", Number: 318, Since: v("3.17"), Known: true}},
		{"x86_64", 319, Syscall{Name: "memfd_create", Number: 319, Since: v("3.17"), Known: true}},
		{"x86_64", 326, Syscall{Name: "copy_file_range", Number: 326, Since: v("4.5"), Known: true}},
		{"x86_64", 332, Syscall{Name: "statx", Number: 332, Since: v("4.11"), Known: true}},
		{"x86_64", 425, Syscall{Name: "io_uring_setup", Number: 425, Since: v("5.1"), Known: true}},
		{"x86_64", 434, Syscall{Name: "pidfd_open", Number: 434, Since: v("5.3"), Known: true}},
		{"x86_64", 435, Syscall{Name: "clone3", Number: 435, Since: v("5.3"), Known: true}},
		{"x86_64", 436, Syscall{Name: "close_range", Number: 436, Since: v("5.9"), Known: true}},
		{"x86_64", 437, Syscall{Name: "openat2", Number: 437, Since: v("5.6"), Known: true}},
		{"x86_64", 439, Syscall{Name: "faccessat2", Number: 439, Since: v("5.8"), Known: true}},
		{"x86_64", 183, Syscall{Name: "afs_syscall", Number: 183}},
		{"x86_64", 449, Syscall{Name: "futex_waitv", Number: 449, Since: v("5.16"), Known: true}},
		{"x86_64", 451, Syscall{Name: "cachestat", Number: 451, Since: v("6.5"), Known: true}},
		{"x86_64", 452, Syscall{Name: "fchmodat2", Number: 452}},

		{"aarch64", 63, Syscall{Name: "read", Number: 63, Since: v("3.7"), Known: true}},
		{"aarch64", 20, Syscall{Name: "epoll_create1", Number: 20, Since: v("3.7"), Known: true}},
		{"aarch64", 59, Syscall{Name: "pipe2", Number: 59, Since: v("3.7"), Known: true}},
		{"aarch64", 79, Syscall{Name: "newfstatat", Number: 79, Since: v("3.7"), Known: true}},
		{"aarch64", 278, Syscall{Name: "getrandom", Number: 278, Since: v("3.17"), Known: true}},
		{"aarch64", 279, Syscall{Name: "memfd_create", Number: 279, Since: v("3.17"), Known: true}},
		{"aarch64", 285, Syscall{Name: "copy_file_range", Number: 285, Since: v("4.5"), Known: true}},
		{"aarch64", 291, Syscall{Name: "statx", Number: 291, Since: v("4.11"), Known: true}},
		{"aarch64", 425, Syscall{Name: "io_uring_setup", Number: 425, Since: v("5.1"), Known: true}},
		{"aarch64", 434, Syscall{Name: "pidfd_open", Number: 434, Since: v("5.3"), Known: true}},
		{"aarch64", 435, Syscall{Name: "clone3", Number: 435, Since: v("5.3"), Known: true}},
		{"aarch64", 436, Syscall{Name: "close_range", Number: 436, Since: v("5.9"), Known: true}},
		{"aarch64", 437, Syscall{Name: "openat2", Number: 437, Since: v("5.6"), Known: true}},
		{"aarch64", 439, Syscall{Name: "faccessat2", Number: 439, Since: v("5.8"), Known: true}},

		{"riscv64", 63, Syscall{Name: "read", Number: 63, Since: v("4.15"), Known: true}},
		{"riscv64", 291, Syscall{Name: "statx", Number: 291, Since: v("4.15"), Known: true}},
		{"riscv64", 259, Syscall{Name: "riscv_flush_icache", Number: 259, Since: v("4.15"), Known: true}},
		{"riscv64", 425, Syscall{Name: "io_uring_setup", Number: 425, Since: v("5.1"), Known: true}},

		{"arm", 3, Syscall{Name: "read", Number: 3, Since: v("2.6.16"), Known: true}},
		{"arm", 270, Syscall{Name: "fadvise64_64", Number: 270, Since: v("2.6.16"), Known: true}},
		{"arm", 384, Syscall{Name: "getrandom", Number: 384, Since: v("3.17"), Known: true}},
		{"arm", 397, Syscall{Name: "statx", Number: 397, Since: v("4.11"), Known: true}},
		{"arm", 403, Syscall{Name: "clock_gettime64", Number: 403}},

		{"i386", 3, Syscall{Name: "read", Number: 3, Since: v("1.0"), Known: true}},
		{"i386", 102, Syscall{Name: "socketcall", Number: 102, Since: v("1.0"), Known: true}},
		{"i386", 140, Syscall{Name: "_llseek", Number: 140, Since: v("1.2"), Known: true}},
		{"i386", 192, Syscall{Name: "mmap2", Number: 192, Since: v("2.4"), Known: true}},
		{"i386", 359, Syscall{Name: "socket", Number: 359, Since: v("4.3"), Known: true}},
		{"i386", 364, Syscall{Name: "accept4", Number: 364, Since: v("4.3"), Known: true}},
		{"i386", 384, Syscall{Name: "arch_prctl", Number: 384, Since: v("4.12"), Known: true}},
		{"i386", 393, Syscall{Name: "semget", Number: 393, Since: v("5.1"), Known: true}},
		{"i386", 17, Syscall{Name: "break", Number: 17}},
	}
	ignoreNote := cmpopts.IgnoreFields(Syscall{}, "Note")
	for _, tt := range tests {
		got, ok := Lookup(tt.arch, tt.number)
		if !ok {
			t.Errorf("Lookup(%q, %d): not found", tt.arch, tt.number)
			continue
		}
		if diff := cmp.Diff(tt.want, got, ignoreNote); diff != "" {
			t.Errorf("Lookup(%q, %d) mismatch (-want +got):\n%s", tt.arch, tt.number, diff)
		}
		byName, ok := ByName(tt.arch, tt.want.Name)
		if !ok {
			t.Errorf("ByName(%q, %q): not found", tt.arch, tt.want.Name)
			continue
		}
		if diff := cmp.Diff(got, byName); diff != "" {
			t.Errorf("ByName(%q, %q) and Lookup(%q, %d) differ (-Lookup +ByName):\n%s", tt.arch, tt.want.Name, tt.arch, tt.number, diff)
		}
	}
}

func TestNotesSayWhy(t *testing.T) {
	tests := []struct {
		arch, name, want string
	}{
		{"aarch64", "read", "arm64 port"},
		{"i386", "socket", "socketcall(2)"},
		{"x86_64", "_sysctl", "Removed in 5.5"},
		{"x86_64", "futex_waitv", "HISTORY of futex_waitv(2), man-pages 6.20"},
		{"x86_64", "fchmodat2", "gives no version"},
		{"x86_64", "tuxcall", "not implemented"},
	}
	for _, tt := range tests {
		s, ok := ByName(tt.arch, tt.name)
		if !ok || !strings.Contains(s.Note, tt.want) {
			t.Errorf("ByName(%q, %q).Note = %q, want it to mention %q", tt.arch, tt.name, s.Note, tt.want)
		}
	}
}

func TestByNameAcceptsXSysSpelling(t *testing.T) {
	got, ok := ByName("arm", "arm_sync_file_range")
	if !ok || got.Name != "sync_file_range2" || got.Number != 341 {
		t.Errorf(`ByName("arm", "arm_sync_file_range") = %+v, %v; want sync_file_range2, 341`, got, ok)
	}
}

func TestNotFound(t *testing.T) {
	if s, ok := Lookup("x86_64", 100000); ok {
		t.Errorf("Lookup(x86_64, 100000) = %+v", s)
	}
	if s, ok := Lookup("sparc", 0); ok {
		t.Errorf("Lookup(sparc, 0) = %+v", s)
	}
	if s, ok := ByName("aarch64", "open"); ok {
		t.Errorf("ByName(aarch64, open) = %+v: arm64 has only openat", s)
	}
	if all := All("sparc"); all != nil {
		t.Errorf("All(sparc) = %d calls", len(all))
	}
}

// Every portabin target needs a table, and every table must agree with itself.
func TestTablesCoverTargets(t *testing.T) {
	for _, tg := range target.All() {
		all := All(tg.Arch)
		if len(all) < 250 {
			t.Errorf("%s: %d system calls, want hundreds", tg.Arch, len(all))
		}
		for i, s := range all {
			if i > 0 && all[i-1].Number >= s.Number {
				t.Errorf("%s: All not sorted by unique number at %d (%s)", tg.Arch, s.Number, s.Name)
			}
			if got, _ := Lookup(tg.Arch, s.Number); got != s {
				t.Errorf("%s: Lookup(%d) = %+v, All has %+v", tg.Arch, s.Number, got, s)
			}
			if got, _ := ByName(tg.Arch, s.Name); got != s {
				t.Errorf("%s: ByName(%s) = %+v, All has %+v", tg.Arch, s.Name, got, s)
			}
		}
	}
	if diff := cmp.Diff(Arches(), []string{"x86_64", "aarch64", "riscv64", "arm", "i386"}); diff != "" {
		t.Errorf("Arches() (-got +want):\n%s", diff)
	}
}

// A Kernel column this package cannot read must fail here, not silently
// become an unknown version.
func TestEveryListedRowParses(t *testing.T) {
	for _, r := range rows {
		if r.status != listed {
			continue
		}
		if _, err := manPageSince(r); err != nil {
			t.Error(err)
		}
	}
}

func TestManPageSince(t *testing.T) {
	tests := []struct {
		kernel, notes string
		want          Version
	}{
		{"4.11", "", v("4.11")},
		{"2.6.16", "See stat(2)", v("2.6.16")},
		{"2.6; 2.4.18", "", v("2.6")},
		{"2.0.36; 2.2", "", v("2.2")},
		{"", `Added as "pread" in 2.2; renamed "pread64" in 2.6`, v("2.2")},
		{"", "", v("1.0")},
	}
	for _, tt := range tests {
		got, err := manPageSince(row{name: "x", kernel: tt.kernel, notes: tt.notes})
		if err != nil || got != tt.want {
			t.Errorf("manPageSince(%q, %q) = %v, %v; want %v", tt.kernel, tt.notes, got, err, tt.want)
		}
	}
	if _, err := manPageSince(row{name: "usr26", kernel: "2.4.8.1"}); err == nil {
		t.Error(`manPageSince("2.4.8.1") succeeded; Version has three parts`)
	}
}

func TestVersion(t *testing.T) {
	tests := []struct {
		in     string
		want   Version
		str    string
		hasErr bool
	}{
		{in: "4.11", want: Version{4, 11, 0}, str: "4.11"},
		{in: "2.6.32", want: Version{2, 6, 32}, str: "2.6.32"},
		{in: "1.0", want: Version{1, 0, 0}, str: "1.0"},
		{in: "2.6.0", want: Version{2, 6, 0}, str: "2.6"},
		{in: "5", hasErr: true},
		{in: "2.4.8.1", hasErr: true},
		{in: "4.x", hasErr: true},
		{in: "4.-1", hasErr: true},
		{in: "4.+1", hasErr: true},
		{in: "", hasErr: true},
	}
	for _, tt := range tests {
		got, err := ParseVersion(tt.in)
		if tt.hasErr {
			if err == nil {
				t.Errorf("ParseVersion(%q) = %v, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want || got.String() != tt.str {
			t.Errorf("ParseVersion(%q) = %v (%q), %v; want %v (%q)", tt.in, got, got, err, tt.want, tt.str)
		}
	}

	order := []Version{{1, 0, 0}, {1, 2, 0}, {2, 4, 18}, {2, 6, 0}, {2, 6, 9}, {2, 6, 32}, {3, 0, 0}, {4, 11, 0}, {5, 1, 0}}
	for i, a := range order {
		for j, b := range order {
			if got, want := a.Less(b), i < j; got != want {
				t.Errorf("%v.Less(%v) = %v, want %v", a, b, got, want)
			}
		}
	}
}
