// Package target names the platforms portabin builds for and what each tool calls them.
package target

import (
	"debug/elf"
	"fmt"
	"runtime"
	"sort"
	"strings"
)

// Target is one CPU architecture with Linux and musl.
type Target struct {
	// Name is portabin's name and the dist/ folder, e.g. "x86_64-linux-musl".
	Name string
	// Arch is the short architecture name, e.g. "aarch64".
	Arch string
	// Zig is the value of zig's -target.
	Zig string
	// GNU is the triple given to configure's --host.
	GNU string
	// CMakeProcessor is CMAKE_SYSTEM_PROCESSOR.
	CMakeProcessor string
	// MesonCPUFamily and MesonCPU fill a Meson cross file's [host_machine].
	MesonCPUFamily, MesonCPU string
	// BigEndian is true for big-endian targets.
	BigEndian bool
	// Machine and Class are what the target's ELF header says.
	Machine elf.Machine
	Class   elf.Class
	// QEMU is the qemu-user program that runs the target on another host.
	QEMU string
	// GoArch is the GOARCH of the same CPU, used to recognise the host.
	GoArch string
	// OCIArch and OCIVariant select the matching platform of an image.
	OCIArch, OCIVariant string
}

var all = []Target{
	{Name: "x86_64-linux-musl", Arch: "x86_64", Zig: "x86_64-linux-musl", GNU: "x86_64-linux-musl",
		CMakeProcessor: "x86_64", MesonCPUFamily: "x86_64", MesonCPU: "x86_64",
		Machine: elf.EM_X86_64, Class: elf.ELFCLASS64, QEMU: "qemu-x86_64-static", GoArch: "amd64", OCIArch: "amd64"},
	{Name: "aarch64-linux-musl", Arch: "aarch64", Zig: "aarch64-linux-musl", GNU: "aarch64-linux-musl",
		CMakeProcessor: "aarch64", MesonCPUFamily: "aarch64", MesonCPU: "aarch64",
		Machine: elf.EM_AARCH64, Class: elf.ELFCLASS64, QEMU: "qemu-aarch64-static", GoArch: "arm64", OCIArch: "arm64", OCIVariant: "v8"},
	{Name: "riscv64-linux-musl", Arch: "riscv64", Zig: "riscv64-linux-musl", GNU: "riscv64-linux-musl",
		CMakeProcessor: "riscv64", MesonCPUFamily: "riscv64", MesonCPU: "riscv64",
		Machine: elf.EM_RISCV, Class: elf.ELFCLASS64, QEMU: "qemu-riscv64-static", GoArch: "riscv64", OCIArch: "riscv64"},
	{Name: "arm-linux-musleabihf", Arch: "arm", Zig: "arm-linux-musleabihf", GNU: "arm-linux-musleabihf",
		CMakeProcessor: "armv7l", MesonCPUFamily: "arm", MesonCPU: "armv7",
		Machine: elf.EM_ARM, Class: elf.ELFCLASS32, QEMU: "qemu-arm-static", GoArch: "arm", OCIArch: "arm", OCIVariant: "v7"},
	// zig 0.11 renamed i386 to x86; the GNU triple keeps i386 for configure.
	{Name: "i386-linux-musl", Arch: "i386", Zig: "x86-linux-musl", GNU: "i386-linux-musl",
		CMakeProcessor: "i686", MesonCPUFamily: "x86", MesonCPU: "i686",
		Machine: elf.EM_386, Class: elf.ELFCLASS32, QEMU: "qemu-i386-static", GoArch: "386", OCIArch: "386"},
}

// aliases maps the other names people use for an architecture to its target.
var aliases = map[string]string{
	"x86_64": "x86_64-linux-musl", "amd64": "x86_64-linux-musl", "x86-64": "x86_64-linux-musl",
	"aarch64": "aarch64-linux-musl", "arm64": "aarch64-linux-musl",
	"riscv64": "riscv64-linux-musl",
	"arm":     "arm-linux-musleabihf", "armv7": "arm-linux-musleabihf", "armhf": "arm-linux-musleabihf",
	"i386": "i386-linux-musl", "i686": "i386-linux-musl", "x86": "i386-linux-musl", "386": "i386-linux-musl",
	"x86-linux-musl": "i386-linux-musl", "i686-linux-musl": "i386-linux-musl",
}

// All returns every supported target.
func All() []Target { return append([]Target(nil), all...) }

// Names returns the names of every supported target, sorted.
func Names() []string {
	names := make([]string, 0, len(all))
	for _, t := range all {
		names = append(names, t.Name)
	}
	sort.Strings(names)
	return names
}

// Parse finds a target by its name or an alias of its architecture.
func Parse(name string) (Target, error) {
	key := strings.ToLower(strings.TrimSpace(name))
	if full, ok := aliases[key]; ok {
		key = full
	}
	for _, t := range all {
		if t.Name == key {
			return t, nil
		}
	}
	return Target{}, fmt.Errorf("unknown target %q (known: %s)", name, strings.Join(Names(), ", "))
}

// Host returns the target that matches the machine portabin runs on.
func Host() (Target, bool) {
	for _, t := range all {
		if t.GoArch == runtime.GOARCH {
			return t, true
		}
	}
	return Target{}, false
}

// ForMachine returns the target whose executables have this ELF machine.
func ForMachine(m elf.Machine) (Target, bool) {
	for _, t := range all {
		if t.Machine == m {
			return t, true
		}
	}
	return Target{}, false
}

// IsHost reports whether executables of t run on this machine without emulation.
func (t Target) IsHost() bool {
	h, ok := Host()
	if !ok {
		return false
	}
	// An x86_64 Linux kernel runs i386 executables natively.
	return t.Name == h.Name || (h.Arch == "x86_64" && t.Arch == "i386")
}
