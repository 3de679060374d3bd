package check

import (
	"bytes"
	"debug/elf"
	"regexp"
	"strings"

	"github.com/portabin/portabin/internal/elfimage"
	"github.com/portabin/portabin/internal/elfinfo"
)

// Libc names the C library an executable carries or needs.
type Libc struct {
	// Name is "musl", "glibc", "none" (Go programs make system calls themselves) or "unknown".
	Name string `json:"name"`
	// Version is given where the file reveals it.
	Version string `json:"version,omitempty"`
	// Evidence says what the answer rests on.
	Evidence string `json:"evidence"`
}

var glibcRelease = regexp.MustCompile(`GNU C Library[^\n]*?release version (\d+\.\d+)`)

// detectLibc looks at the loader, the needed libraries, Go's build information and, for static
// files, strings that only one C library contains.
func detectLibc(f *elf.File, interp string, needed []string, rodata []byte) Libc {
	switch {
	case strings.Contains(interp, "ld-musl"):
		return Libc{Name: "musl", Evidence: "loader " + interp}
	case strings.Contains(interp, "ld-linux"):
		return Libc{Name: "glibc", Evidence: "loader " + interp}
	}
	for _, n := range needed {
		if strings.HasPrefix(n, "libc.musl") {
			return Libc{Name: "musl", Evidence: "needs " + n}
		}
		if n == "libc.so.6" {
			return Libc{Name: "glibc", Evidence: "needs " + n}
		}
	}
	if m := glibcRelease.FindSubmatch(rodata); m != nil {
		return Libc{Name: "glibc", Version: string(m[1]), Evidence: "glibc's version string"}
	}
	// The environment variable glibc (2.26 and later) reads its tunables from, at start-up of
	// static programs too; stripped static glibc programs have no other mark of it.
	if bytes.Contains(rodata, []byte("\x00GLIBC_TUNABLES\x00")) {
		return Libc{Name: "glibc", Evidence: "glibc's GLIBC_TUNABLES variable"}
	}
	// musl's strerror(0) text; glibc says "Success".
	if bytes.Contains(rodata, []byte("No error information\x00")) {
		return Libc{Name: "musl", Evidence: `musl's "No error information" message`}
	}
	if syms, err := elfimage.Symbols(f); err == nil {
		for _, s := range syms {
			switch s.Name {
			case "__libc_start_init", "__syscall_cp_asm", "__init_libc":
				return Libc{Name: "musl", Evidence: "musl's symbol " + s.Name}
			case "__libc_start_call_main", "_dl_relocate_static_pie":
				return Libc{Name: "glibc", Evidence: "glibc's symbol " + s.Name}
			}
		}
	}
	// glibc's start-up files carry the ABI tag; musl's and Go's linker do not write one.
	if _, ok := abiTag(f); ok {
		return Libc{Name: "glibc", Evidence: "glibc's ABI tag note"}
	}
	// Last, as a Go program linked statically with cgo holds a C library that the checks
	// above recognise.
	if f.Section(".go.buildinfo") != nil || f.Section(".note.go.buildid") != nil {
		return Libc{Name: "none", Evidence: "a Go program: it makes its system calls itself"}
	}
	return Libc{Name: "unknown", Evidence: "no C library recognised"}
}

// abiTag reads glibc's .note.ABI-tag: the oldest kernel the C library was built for.
func abiTag(f *elf.File) (string, bool) {
	sec := f.Section(".note.ABI-tag")
	if sec == nil || sec.Size > 4096 {
		return "", false
	}
	data, err := elfimage.SectionData(sec)
	if err != nil {
		return "", false
	}
	for _, n := range elfinfo.ParseNotes(data, f.ByteOrder, sec.Addralign) {
		if n.Owner == "GNU" && n.Type == ntGNUABITag {
			if os, version, ok := abiTagVersion(f.ByteOrder, n.Desc); ok && os == 0 { // 0: Linux
				return version, true
			}
		}
	}
	return "", false
}
