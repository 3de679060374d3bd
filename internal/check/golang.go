package check

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"strconv"
	"strings"

	"github.com/portabin/portabin/internal/elfimage"
	"github.com/portabin/portabin/internal/isa"
)

// goBuild is what a Go program says about its build in its .go.buildinfo section: the Go
// release that built it and the build settings (GOAMD64, CGO_ENABLED, GOEXPERIMENT, ...).
type goBuild struct {
	// Version is the release, "go1.26.8"; empty for a program of Go 1.17 or older, whose
	// section points at its strings instead of holding them.
	Version  string
	Settings map[string]string
}

// buildInfoMagic starts the section's 32-byte header; flags bit 2 says that the version and
// module strings follow the header (Go 1.18 and later) rather than being pointed to.
var buildInfoMagic = []byte("\xff Go buildinf:")

const (
	buildInfoHeader = 32
	flagsInline     = 0x2
	maxBuildInfo    = 1 << 20
)

// readGoBuild reads f's Go build information; ok is false when f has none (not a Go program,
// or one older than Go 1.13).
func readGoBuild(f *elf.File) (b goBuild, ok bool) {
	sec := f.Section(".go.buildinfo")
	if sec == nil || sec.Type == elf.SHT_NOBITS || sec.Size > maxBuildInfo {
		return goBuild{}, false
	}
	data, err := elfimage.SectionData(sec)
	if err != nil || len(data) < buildInfoHeader || !bytes.HasPrefix(data, buildInfoMagic) {
		return goBuild{}, false
	}
	if data[len(buildInfoMagic)+1]&flagsInline == 0 {
		return goBuild{Settings: map[string]string{}}, true // Go 1.13 to 1.17
	}
	rest := data[buildInfoHeader:]
	version, rest := uvarintString(rest)
	modinfo, _ := uvarintString(rest)
	b = goBuild{Version: version, Settings: map[string]string{}}
	for line := range strings.SplitSeq(modinfo, "\n") {
		if setting, found := strings.CutPrefix(line, "build\t"); found {
			if k, v, found := strings.Cut(setting, "="); found {
				b.Settings[k] = v
			}
		}
	}
	return b, true
}

// uvarintString reads a string prefixed by its length as an unsigned varint; it returns ""
// for a length that overruns data.
func uvarintString(data []byte) (string, []byte) {
	n, size := binary.Uvarint(data)
	if size <= 0 || n > uint64(len(data)-size) {
		return "", nil
	}
	return string(data[size : size+int(n)]), data[size+int(n):]
}

// minor returns N of a release "go1.N" or "go1.N.P" (also inside "devel go1.N-..."); ok is
// false when version names no such release.
func (b goBuild) minor() (int, bool) {
	_, after, found := strings.Cut(b.Version, "go1.")
	if !found {
		return 0, false
	}
	end := strings.IndexFunc(after, func(r rune) bool { return r < '0' || r > '9' })
	if end >= 0 {
		after = after[:end]
	}
	n, err := strconv.Atoi(after)
	return n, err == nil
}

// goKernelFloors are the oldest kernels the Go releases support on Linux, from the Go wiki's
// "Go on Linux" page (go.dev/wiki/Linux, baseline requirements): 2.6.23 up to Go 1.18, 2.6.32
// from Go 1.19 to 1.23, 3.2 from Go 1.24 (also go.dev/doc/go1.24#linux). The runtime and
// standard library rely on the calls of that kernel without asking; newer ones they probe.
var goKernelFloors = []struct {
	fromMinor int
	kernel    string
}{
	{24, "3.2"},
	{19, "2.6.32"},
	{0, "2.6.23"},
}

// kernelFloor is the oldest kernel b's Go release supports; a program whose section has no
// inline version is from Go 1.17 or older.
func (b goBuild) kernelFloor() string {
	n, ok := b.minor()
	if !ok {
		n = 17
	}
	for _, f := range goKernelFloors {
		if n >= f.fromMinor {
			return f.kernel
		}
	}
	return goKernelFloors[len(goKernelFloors)-1].kernel
}

// pureGo reports whether every instruction of the program came from Go's compiler and
// assembler: cgo was off, and no experiment links foreign objects (boringcrypto links a
// prebuilt C library that does not follow GOAMD64, as Go's own TestGoAMD64v1 notes).
func (b goBuild) pureGo() bool {
	return b.Settings["CGO_ENABLED"] == "0" && !strings.Contains(b.Settings["GOEXPERIMENT"], "boringcrypto")
}

// level is the CPU level the program was built for, in isa's names, for machine: GOAMD64 on
// x86-64 (Go 1.18 and later; v1 by default) or GOARM64 on aarch64 (Go 1.23 and later; v8.0 by
// default, such as "v8.2,lse"). The runtime refuses to start on a CPU below GOAMD64; GOARM64
// lets the compiler use that version's instructions unasked. "" for other machines.
func (b goBuild) level(machine elf.Machine) string {
	switch machine {
	case elf.EM_X86_64:
		if v := b.Settings["GOAMD64"]; v != "" {
			return "x86-64-" + v
		}
		return "x86-64-v1"
	case elf.EM_AARCH64:
		version, _, _ := strings.Cut(b.Settings["GOARM64"], ",")
		// isa's aarch64 levels are the versions that add what it recognises: 8.1 (LSE),
		// 8.2 (the optional extensions of 8.2 to 9.1) and 9.2 (SME).
		major, minor, _ := strings.Cut(strings.TrimPrefix(version, "v"), ".")
		n, _ := strconv.Atoi(minor)
		switch {
		case major == "9" && n >= 2:
			return "armv9.2-a"
		case major == "9" || major == "8" && n >= 2:
			return "armv8.2-a"
		case major == "8" && n == 1:
			return "armv8.1-a"
		}
		return "armv8-a"
	}
	return ""
}

// goFuncTable names the functions of a Go program from its .gopclntab, the table the Go
// runtime itself uses for stack traces: stripped Go programs (-ldflags=-s) keep it when they
// lose .symtab. Only the layout of Go 1.18 and later is read; lookups search the table in
// place, so a hostile count or offset costs nothing but a failed lookup.
type goFuncTable struct {
	data      []byte
	order     binary.ByteOrder
	textStart uint64
	nfunc     uint64
	names     uint64    // offset of the function name table
	functab   uint64    // offset of the function table: nfunc+1 pairs of uint32 (entry, _func)
	code      isa.Range // Go's code, runtime.text to runtime.etext; zero when not found
}

// Magic numbers of the pclntab layouts of Go 1.18-1.19 and of Go 1.20 and later, which
// differ only in how they are relocated.
const (
	pclntab118 = 0xfffffff0
	pclntab120 = 0xfffffff1
)

func goFunctions(f *elf.File) (goFuncTable, bool) {
	sec, text := f.Section(".gopclntab"), f.Section(".text")
	if sec == nil {
		sec = f.Section(".data.rel.ro.gopclntab") // position-independent programs
	}
	if sec == nil || text == nil || sec.Type == elf.SHT_NOBITS {
		return goFuncTable{}, false
	}
	data, err := elfimage.SectionData(sec)
	if err != nil || len(data) < 16 {
		return goFuncTable{}, false
	}
	t := goFuncTable{data: data, order: f.ByteOrder, textStart: text.Addr}
	magic := t.order.Uint32(data)
	ptrSize := int(data[7])
	if (magic != pclntab118 && magic != pclntab120) || (ptrSize != 4 && ptrSize != 8) || len(data) < 8+8*ptrSize {
		return goFuncTable{}, false
	}
	word := func(i int) uint64 {
		b := data[8+i*ptrSize:]
		if ptrSize == 4 {
			return uint64(t.order.Uint32(b))
		}
		return t.order.Uint64(b)
	}
	t.nfunc, t.names, t.functab = word(0), word(3), word(7)
	if t.functab > uint64(len(data)) || t.nfunc >= (uint64(len(data))-t.functab)/8 {
		return goFuncTable{}, false
	}
	// Function entries count from runtime.text, where Go's code starts: after C's start-up
	// code when a system linker linked the program (cgo), so not always where .text starts.
	if code, ok := goText(f, sec.Addr, t.names, ptrSize, text); ok {
		t.textStart, t.code = code.Start, code
	}
	return t, true
}

// goText finds Go's code, from runtime.text to runtime.etext, in the module data the runtime
// keeps (runtime.firstmoduledata): its first words point at the pclntab header
// and at the function name table, and its 23rd and 24th are runtime.text and runtime.etext.
// Position-independent programs have these words filled in at load time, so ok is false for
// them. The module data is searched for in .go.module, the section of its own that go1.26.8's
// linker gives it, then in .noptrdata and .data.
func goText(f *elf.File, pclntab, names uint64, ptrSize int, text *elf.Section) (isa.Range, bool) {
	const textWord = 22 // pcHeader, 6 slices of 3 words, findfunctab, minpc, maxpc, then text
	for _, name := range []string{".go.module", ".noptrdata", ".data"} {
		sec := f.Section(name)
		if sec == nil || sec.Type == elf.SHT_NOBITS || sec.Size > maxBuildInfo*64 {
			continue
		}
		data, err := elfimage.SectionData(sec)
		if err != nil {
			continue
		}
		word := func(off int) uint64 {
			if ptrSize == 4 {
				return uint64(f.ByteOrder.Uint32(data[off:]))
			}
			return f.ByteOrder.Uint64(data[off:])
		}
		for off := 0; off+(textWord+2)*ptrSize <= len(data); off += ptrSize {
			if word(off) != pclntab || word(off+ptrSize) != pclntab+names {
				continue
			}
			start, end := word(off+textWord*ptrSize), word(off+(textWord+1)*ptrSize)
			if start >= text.Addr && start < end && end-text.Addr <= text.Size {
				return isa.Range{Start: start, End: end}, true
			}
		}
	}
	return isa.Range{}, false
}

func (t goFuncTable) u32(off uint64) (uint32, bool) {
	if off > uint64(len(t.data)) || uint64(len(t.data))-off < 4 {
		return 0, false
	}
	return t.order.Uint32(t.data[off:]), true
}

// at returns the name of the function that contains addr, as a one-element list like
// funcTable.at; nil when no function does.
func (t goFuncTable) at(addr uint64) []string {
	if addr < t.textStart || addr-t.textStart > 1<<32 {
		return nil
	}
	off := addr - t.textStart
	// The last function whose entry is at or below off; entries are sorted.
	lo, hi := uint64(0), t.nfunc
	for lo < hi {
		mid := lo + (hi-lo)/2
		entry, ok := t.u32(t.functab + mid*8)
		if !ok {
			return nil
		}
		if uint64(entry) <= off {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == 0 {
		return nil
	}
	end, ok := t.u32(t.functab + lo*8) // the next entry, or the table's end address
	if !ok || off >= uint64(end) {
		return nil
	}
	funcOff, ok := t.u32(t.functab + (lo-1)*8 + 4)
	if !ok {
		return nil
	}
	nameOff, ok := t.u32(t.functab + uint64(funcOff) + 4)
	if !ok {
		return nil
	}
	start := t.names + uint64(nameOff)
	if start >= uint64(len(t.data)) {
		return nil
	}
	name := t.data[start:]
	if n := bytes.IndexByte(name, 0); n >= 0 {
		name = name[:n]
	}
	return []string{string(name)}
}

// goCPU is the CPU report of a program that only Go's toolchain made. Its compiler emits no
// instruction above GOAMD64 (GOARM64), and the runtime and standard library pick newer ones
// only after asking the CPU (internal/cpu: LSE atomics on arm64, for one); Go's own
// TestGoAMD64v1 checks this on x86-64 by running a v1 program whose newer instructions are made
// to trap. So the program needs the level it was built for, and everything newer the code
// holds is chosen at run time.
func goCPU(r *isa.Report, level string) *CPU {
	cpu := &CPU{Level: level, Notes: r.Notes}
	seen := r.Level
	if r.Dispatched {
		seen = r.DispatchedLevel
	}
	if isa.Rank(seen) > isa.Rank(level) {
		cpu.Dispatched = seen
		cpu.Notes = append(cpu.Notes, "a Go program built for "+level+" without cgo: Go's compiler emits nothing newer, and its runtime and libraries run the "+seen+" code only after asking the CPU")
	}
	return cpu
}
