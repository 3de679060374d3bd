package distro

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/portabin/portabin/internal/elfimage"
)

// Needs is the symbol-version floor of a program: the newest version of each runtime library's
// symbols it asks for.
type Needs struct {
	// Static is true when the program loads no shared libraries: it carries its C library and
	// has no floor here (only a kernel one).
	Static bool
	// Libc is "glibc" or "musl" for dynamic programs, from the loader they name.
	Libc string
	// The newest GLIBC_, GLIBCXX_, CXXABI_ and (libgcc_s) GCC_ versions needed; zero when none.
	GLIBC, GLIBCXX, CXXABI, GCC Version
	// GLIBCSymbols are the imported symbols that need GLIBC itself, the reason for the floor.
	GLIBCSymbols []string
	// Versions lists every version named in .gnu.version_r, by library, as the loader checks them.
	Versions map[string][]string
	Notes    []string
}

// glibcABITags are glibc's GLIBC_ABI_* versions, which mark a loader feature rather than symbols,
// and the release that brought each (glibc NEWS).
var glibcABITags = map[string]Version{
	"GLIBC_ABI_DT_RELR": {2, 36, 0}, // DT_RELR packed relocations (-z pack-relative-relocs)
}

// maxSymbols caps GLIBCSymbols; the rest are counted in a note.
const maxSymbols = 20

// Floor reads the versions f needs from its .gnu.version_r section, the way the dynamic loader
// (and auditwheel) does: every version listed there must exist, whichever symbols use it.
func Floor(f *elf.File) (needs Needs, err error) {
	defer func() {
		if r := recover(); r != nil {
			needs, err = Needs{}, fmt.Errorf("reading symbol versions: malformed ELF file: %v", r)
		}
	}()
	interp, err := interpreter(f)
	if err != nil {
		return Needs{}, err
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		return Needs{}, fmt.Errorf("reading the dynamic section: %w", err)
	}
	if interp == "" && len(libs) == 0 {
		return Needs{Static: true}, nil
	}
	needs.Libc = libcOf(interp, libs)
	if f.SectionByType(elf.SHT_GNU_VERNEED) == nil {
		return needs, nil
	}
	deps, err := f.DynamicVersionNeeds()
	if err != nil {
		return Needs{}, fmt.Errorf("reading .gnu.version_r: %w", err)
	}
	needs.Versions = map[string][]string{}
	for _, lib := range deps {
		for _, d := range lib.Needs {
			needs.Versions[lib.Name] = append(needs.Versions[lib.Name], d.Dep)
			needs.add(d.Dep)
		}
	}
	if !needs.GLIBC.IsZero() {
		needs.GLIBCSymbols = symbolsNeeding(f, "GLIBC_"+needs.GLIBC.String())
		if len(needs.GLIBCSymbols) > maxSymbols {
			needs.Notes = append(needs.Notes, fmt.Sprintf("and %d more symbols need GLIBC_%s", len(needs.GLIBCSymbols)-maxSymbols, needs.GLIBC))
			needs.GLIBCSymbols = needs.GLIBCSymbols[:maxSymbols]
		}
	}
	return needs, nil
}

// add raises the floor for one version name such as GLIBC_2.34 or GLIBCXX_3.4.30.
func (n *Needs) add(name string) {
	if v, ok := glibcABITags[name]; ok {
		n.GLIBC = newer(n.GLIBC, v)
		n.Notes = append(n.Notes, fmt.Sprintf("%s needs glibc %s", name, v))
		return
	}
	label, number, ok := strings.Cut(name, "_")
	if !ok {
		return
	}
	v, err := ParseVersion(number)
	if err != nil {
		// GLIBC_PRIVATE ties the program to the exact glibc build, CXXABI_TM_1 and other
		// labels are not part of the floor.
		if name == "GLIBC_PRIVATE" {
			n.Notes = append(n.Notes, "GLIBC_PRIVATE: the program uses glibc internals and runs only with the glibc it was built against")
		}
		return
	}
	switch label {
	case "GLIBC":
		n.GLIBC = newer(n.GLIBC, v)
	case "GLIBCXX":
		n.GLIBCXX = newer(n.GLIBCXX, v)
	case "CXXABI":
		n.CXXABI = newer(n.CXXABI, v)
	case "GCC":
		n.GCC = newer(n.GCC, v)
	}
}

func newer(a, b Version) Version {
	if b.Compare(a) > 0 {
		return b
	}
	return a
}

// MinGCC returns the oldest GCC whose libstdc++ and libgcc_s provide every C++ runtime version
// needed; zero when none is needed, ok false when a version is newer than the table knows.
func (n Needs) MinGCC() (gcc Version, ok bool) {
	ok = true
	for _, need := range []struct {
		label string
		v     Version
	}{{"GLIBCXX", n.GLIBCXX}, {"CXXABI", n.CXXABI}} {
		if need.v.IsZero() {
			continue
		}
		g, known := GCCFor(need.label, need.v)
		ok = ok && known
		gcc = newer(gcc, g)
	}
	// libgcc_s names its versions after the GCC release that added them (GCC_7.0.0 in 7.1).
	return newer(gcc, n.GCC), ok
}

// symbolsNeeding returns the imported symbols bound to version, sorted.
func symbolsNeeding(f *elf.File, version string) []string {
	syms, err := elfimage.DynamicSymbols(f)
	if err != nil {
		return nil
	}
	var out []string
	for _, s := range syms {
		if s.Section == elf.SHN_UNDEF && s.Version == version && !slices.Contains(out, s.Name) {
			out = append(out, s.Name)
		}
	}
	sort.Strings(out)
	return out
}

// maxInterp caps PT_INTERP: a loader path is short.
const maxInterp = 4096

func interpreter(f *elf.File) (string, error) {
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b, err := io.ReadAll(io.LimitReader(p.Open(), maxInterp))
			if err != nil {
				return "", fmt.Errorf("reading PT_INTERP: %w", err)
			}
			return string(bytes.TrimRight(b, "\x00")), nil
		}
	}
	return "", nil
}

func libcOf(interp string, libs []string) string {
	switch {
	case strings.Contains(interp, "ld-musl") || slices.ContainsFunc(libs, func(l string) bool { return strings.HasPrefix(l, "libc.musl") }):
		return "musl"
	case strings.Contains(interp, "ld-linux") || slices.Contains(libs, "libc.so.6"):
		return "glibc"
	}
	return ""
}
