// Package kernels names the Linux kernels that distributions ship, so that `--kernel rhel6` means 2.6.32.
package kernels

import (
	_ "embed"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/portabin/portabin/internal/syscalls"
)

// Kernel is one kernel a user asked for.
type Kernel struct {
	// Name is how the user said it: "rhel6", "3.10" or "host".
	Name string
	// Version is the kernel's base version.
	Version syscalls.Version
	// Host is true for the running kernel: nothing is emulated.
	Host bool
	// Distribution is who ships it, e.g. "RHEL / CentOS 6"; empty for plain versions.
	Distribution string
}

// Label is the short form used in matrices: "rhel6 (2.6.32)", "3.10" or "host (6.1)".
func (k Kernel) Label() string {
	if k.Name == k.Version.String() {
		return k.Name
	}
	return fmt.Sprintf("%s (%s)", k.Name, k.Version)
}

type entry struct {
	names        []string
	version      syscalls.Version
	distribution string
	source       string
}

//go:embed kernels.tsv
var tableTSV string

var table = parseTable(tableTSV)

func parseTable(data string) []entry {
	var out []entry
	for i, line := range strings.Split(data, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 4 {
			panic(fmt.Sprintf("kernels.tsv:%d: want 4 tab-separated fields, have %d", i+1, len(f)))
		}
		v, err := syscalls.ParseVersion(f[1])
		if err != nil {
			panic(fmt.Sprintf("kernels.tsv:%d: %v", i+1, err))
		}
		out = append(out, entry{strings.Split(f[0], ","), v, f[2], f[3]})
	}
	return out
}

// Parse reads a kernel: a version ("2.6.32"), a distribution name ("rhel6") or "host".
func Parse(s string) (Kernel, error) {
	name := strings.ToLower(strings.TrimSpace(s))
	if name == "host" {
		v, err := HostVersion()
		if err != nil {
			return Kernel{}, err
		}
		return Kernel{Name: "host", Version: v, Host: true}, nil
	}
	for _, e := range table {
		if slices.Contains(e.names, name) {
			return Kernel{Name: name, Version: e.version, Distribution: e.distribution}, nil
		}
	}
	if name == "" || name[0] < '0' || name[0] > '9' {
		return Kernel{}, fmt.Errorf("unknown kernel %q: want a version such as 3.10, host, or one of %s", s, strings.Join(Names(), ", "))
	}
	v, err := syscalls.ParseVersion(name)
	if err != nil {
		return Kernel{}, err
	}
	return Kernel{Name: v.String(), Version: v}, nil
}

// Names lists the distribution names Parse knows, in table order.
func Names() []string {
	var out []string
	for _, e := range table {
		out = append(out, e.names[0])
	}
	return out
}

// HostVersion is the running kernel's version, from uname(2).
func HostVersion() (syscalls.Version, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return syscalls.Version{}, fmt.Errorf("reading the host kernel's version: %w", err)
	}
	return releaseVersion(unix.ByteSliceToString(u.Release[:]))
}

// releaseVersion takes the leading numbers of a release such as "6.1.0-18-amd64".
func releaseVersion(release string) (syscalls.Version, error) {
	end := strings.IndexFunc(release, func(r rune) bool { return r != '.' && (r < '0' || r > '9') })
	if end < 0 {
		end = len(release)
	}
	numbers := strings.Trim(release[:end], ".")
	if parts := strings.Split(numbers, "."); len(parts) > 3 {
		numbers = strings.Join(parts[:3], ".")
	}
	v, err := syscalls.ParseVersion(numbers)
	if err != nil {
		return syscalls.Version{}, fmt.Errorf("host kernel release %q: %w", release, err)
	}
	return v, nil
}
