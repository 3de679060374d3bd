// Package distro knows which distributions' C libraries satisfy the symbol versions a dynamic
// program needs.
package distro

import (
	_ "embed"
	"fmt"
	"strconv"
	"strings"
)

// Version is a dotted version such as 2.17 (glibc), 3.4.30 (GLIBCXX) or 1.2.4 (musl).
type Version struct {
	Major, Minor, Patch int
}

// ParseVersion reads "2", "2.17" or "2.2.5".
func ParseVersion(s string) (Version, error) {
	parts := strings.Split(s, ".")
	if len(parts) > 3 || s == "" {
		return Version{}, fmt.Errorf("version %q: want up to three numbers separated by dots", s)
	}
	var n [3]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 || len(p) > 6 {
			return Version{}, fmt.Errorf("version %q: %q is not a number", s, p)
		}
		n[i] = v
	}
	return Version{n[0], n[1], n[2]}, nil
}

// MustParse is ParseVersion for constants.
func MustParse(s string) Version {
	v, err := ParseVersion(s)
	if err != nil {
		panic(err)
	}
	return v
}

func (v Version) String() string {
	if v.Patch != 0 {
		return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
	}
	return fmt.Sprintf("%d.%d", v.Major, v.Minor)
}

// IsZero reports the zero Version, which stands for "nothing needed".
func (v Version) IsZero() bool { return v == Version{} }

// Compare returns -1, 0 or +1 as v is older than, the same as, or newer than w.
func (v Version) Compare(w Version) int {
	for _, d := range [][2]int{{v.Major, w.Major}, {v.Minor, w.Minor}, {v.Patch, w.Patch}} {
		switch {
		case d[0] < d[1]:
			return -1
		case d[0] > d[1]:
			return 1
		}
	}
	return 0
}

// Distro is one release of a distribution and the C library it ships.
type Distro struct {
	Family  string // "RHEL", "Debian", "Ubuntu", "Amazon Linux", "Alpine"
	Release string // "7", "12", "24.04"
	Name    string // "CentOS 7 / RHEL 7"
	Libc    string // "glibc" or "musl"
	// LibcVersion is the upstream version of the C library the release shipped with.
	LibcVersion Version
	Source      string // where LibcVersion comes from
}

//go:embed distros.tsv
var distrosTSV string

// distros is distros.tsv, in its order: by family, oldest release first.
var distros = mustParseTable(distrosTSV, 6, func(f []string) (Distro, error) {
	v, err := ParseVersion(f[4])
	return Distro{Family: f[0], Release: f[1], Name: f[2], Libc: f[3], LibcVersion: v, Source: f[5]}, err
})

// All returns every release in the table, by family and oldest first.
func All() []Distro {
	return append([]Distro(nil), distros...)
}

// OldestWith returns, for each glibc distribution family, its oldest release whose glibc is
// glibc or newer; families none of whose releases is new enough are left out. A program that
// needs GLIBC_2.36 runs on Debian 12 and Ubuntu 24.04, not on Ubuntu 22.04 (glibc 2.35).
func OldestWith(glibc Version) []Distro {
	var out []Distro
	done := map[string]bool{}
	for _, d := range distros {
		if d.Libc == "glibc" && !done[d.Family] && d.LibcVersion.Compare(glibc) >= 0 {
			done[d.Family] = true
			out = append(out, d)
		}
	}
	return out
}

// mustParseTable reads a tab-separated table with '#' comments; a malformed embedded table is
// a bug that the package's tests catch, hence the panic.
func mustParseTable[T any](tsv string, columns int, parse func([]string) (T, error)) []T {
	var out []T
	for i, line := range strings.Split(tsv, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Split(line, "\t")
		if len(fields) != columns {
			panic(fmt.Sprintf("distro: line %d has %d columns, want %d", i+1, len(fields), columns))
		}
		row, err := parse(fields)
		if err != nil {
			panic(fmt.Sprintf("distro: line %d: %v", i+1, err))
		}
		out = append(out, row)
	}
	return out
}

//go:embed libstdcxx.tsv
var libstdcxxTSV string

type gccRow struct {
	label   string // "GLIBCXX" or "CXXABI"
	version Version
	gcc     Version
}

var gccRows = mustParseTable(libstdcxxTSV, 3, func(f []string) (gccRow, error) {
	v, err := ParseVersion(f[1])
	if err != nil {
		return gccRow{}, err
	}
	g, err := ParseVersion(f[2])
	return gccRow{f[0], v, g}, err
})

// GCCFor returns the first GCC release whose libstdc++ provides the symbol version label_v
// (label "GLIBCXX" or "CXXABI"); ok is false for versions newer than the table knows.
func GCCFor(label string, v Version) (gcc Version, ok bool) {
	for _, r := range gccRows {
		if r.label == label && r.version.Compare(v) >= 0 {
			return r.gcc, true
		}
	}
	return Version{}, false
}
