// Package check proves from an ELF file what it needs to run: how it links, which C library,
// kernel and CPU, and what else may make it behave differently on another system.
package check

import (
	"bytes"
	"debug/elf"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"
	"sync"

	"github.com/portabin/portabin/internal/distro"
	"github.com/portabin/portabin/internal/elfimage"
	"github.com/portabin/portabin/internal/elfinfo"
	"github.com/portabin/portabin/internal/isa"
	"github.com/portabin/portabin/internal/risk"
	"github.com/portabin/portabin/internal/sbom"
	"github.com/portabin/portabin/internal/syscalls"
	"github.com/portabin/portabin/internal/sysscan"
	"github.com/portabin/portabin/internal/target"
	"github.com/portabin/portabin/internal/x86len"
)

// Schema names the version of the JSON report; it changes when a field changes meaning.
const Schema = "portabin.check/v1"

// Requirements are what the user says every file must meet.
type Requirements struct {
	// Kernel is the oldest kernel the files must run on; zero means no requirement.
	Kernel syscalls.Version
	// ISA is the highest CPU level the files may need, e.g. "x86-64-v2"; empty means any.
	ISA string
	// AllowDynamic accepts dynamically linked files.
	AllowDynamic bool
}

// Report is everything check found out about one file.
type Report struct {
	Schema    string   `json:"schema"`
	Path      string   `json:"path"`
	Class     string   `json:"class"`
	ByteOrder string   `json:"byte_order"`
	Machine   string   `json:"machine"`
	Arch      string   `json:"arch,omitempty"`
	Type      string   `json:"type"`
	Entry     uint64   `json:"entry"`
	Linking   string   `json:"linking"`
	Interp    string   `json:"interpreter,omitempty"`
	Needed    []string `json:"needed,omitempty"`
	RPath     []string `json:"rpath,omitempty"`
	RunPath   []string `json:"runpath,omitempty"`
	// ELF holds what the headers, dynamic section, notes and version sections say.
	ELF    *ELFFacts `json:"elf,omitempty"`
	Libc   Libc      `json:"libc"`
	Kernel Kernel    `json:"kernel"`
	CPU    *CPU      `json:"cpu,omitempty"`
	// Glibc is the symbol-version floor of a dynamic file, with the oldest distributions
	// that satisfy it.
	Glibc        *GlibcFloor    `json:"glibc,omitempty"`
	Risks        []risk.Finding `json:"risks"`
	RuntimeFiles []string       `json:"runtime_files,omitempty"`
	// Package is the file's ELF package note: what it was built from and what it links.
	Package  *sbom.Package `json:"package,omitempty"`
	Portable bool          `json:"portable"`
	Problems []string      `json:"problems,omitempty"`
	Verdict  string        `json:"verdict"`
}

// Kernel is the oldest Linux the file can run on, and why.
type Kernel struct {
	// Minimum is the highest of the ABI tag and the system calls without a fallback.
	Minimum string `json:"minimum,omitempty"`
	// DecidedBy names what sets Minimum: "syscall openat2", "ABI tag", "architecture".
	DecidedBy string       `json:"decided_by,omitempty"`
	ABITag    string       `json:"abi_tag,omitempty"`
	Syscalls  []SyscallUse `json:"syscalls,omitempty"`
	// Unknown counts system calls whose number the analysis could not recover.
	Unknown int `json:"unknown_syscalls"`
	// Analysed is false for architectures the syscall analysis does not cover.
	Analysed bool `json:"analysed"`
	// Notes say what limited the analysis, such as a missing symbol table.
	Notes []string `json:"notes,omitempty"`
}

// SyscallUse is one system call the code can make.
type SyscallUse struct {
	Name   string `json:"name"`
	Number int    `json:"number"`
	Since  string `json:"since,omitempty"`
	// Fallback is true when every place that makes the call is in a C library function that
	// handles ENOSYS by other means, so an older kernel still works.
	Fallback bool `json:"fallback,omitempty"`
}

// CPU is the instruction-set level the code needs.
type CPU struct {
	Level      string   `json:"level"`
	Features   []string `json:"features,omitempty"`
	Dispatched string   `json:"dispatched_level,omitempty"`
	Notes      []string `json:"notes,omitempty"`
}

// GlibcFloor is what a dynamic glibc program asks of the system's libraries.
type GlibcFloor struct {
	GLIBC    string   `json:"glibc,omitempty"`
	GLIBCXX  string   `json:"glibcxx,omitempty"`
	CXXABI   string   `json:"cxxabi,omitempty"`
	GCC      string   `json:"gcc,omitempty"`
	Distros  []string `json:"oldest_distributions,omitempty"`
	Examples []string `json:"symbols,omitempty"`
}

// arm64Decoder serialises the checks of arm64 files; files of other machines are checked in
// parallel.
var arm64Decoder sync.Mutex

// File checks one file; files may be checked from several goroutines. It never panics: a malformed file gives an error.
func File(path string, req Requirements) (rep *Report, err error) {
	defer func() {
		if r := recover(); r != nil {
			rep, err = nil, fmt.Errorf("%s: malformed ELF file: %w", path, &panicError{value: r, stack: debug.Stack()})
		}
	}()
	info, err := elfinfo.Inspect(path)
	if err != nil {
		return nil, err
	}
	// The file is mapped (openELF): if it shrinks under the analyses, reading the lost pages
	// faults, which must be the panic recovered above rather than the end of the program.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	f, release, err := openELF(path)
	if err != nil {
		return nil, fmt.Errorf("reading ELF %s: %w", path, err)
	}
	defer release()
	// The analyses below share one parse of each symbol table.
	defer elfimage.Remember(f)()

	rep = &Report{
		Schema: Schema, Path: path, Class: info.Class.String(), ByteOrder: info.Data.String(),
		Machine: info.Machine.String(), Type: info.Type.String(), Entry: info.Entry,
		Linking: string(info.Linking), Interp: info.Interp, Needed: info.Needed,
	}
	if info.Linking == elfinfo.Dynamic {
		// Library search paths baked in at link time: relocating the file breaks them.
		rep.RPath, _ = f.DynString(elf.DT_RPATH)
		rep.RunPath, _ = f.DynString(elf.DT_RUNPATH)
	}
	t, known := target.ForMachine(info.Machine)
	if known {
		rep.Arch = t.Arch
	}
	if info.Machine == elf.EM_AARCH64 {
		// golang.org/x/arch's arm64 decoder writes a package variable: one arm64 file at a time.
		arm64Decoder.Lock()
		defer arm64Decoder.Unlock()
	}
	rep.ELF = elfFacts(f, path, info)
	rep.Package = packageNote(f)
	rodata := readOnlyData(f)
	rep.Libc = detectLibc(f, info.Interp, info.Needed, rodata)
	var (
		gob     *goBuild
		gofuncs *goFuncTable
		goLevel string
		chosen  []isa.Range
	)
	if b, ok := readGoBuild(f); ok {
		gob, goLevel = &b, b.level(info.Machine)
		if t, ok := goFunctions(f); ok {
			gofuncs = &t
			if t.code != (isa.Range{}) && !b.pureGo() {
				chosen = append(chosen, t.code) // a cgo program: its C code is judged as usual
			}
		}
	}
	// The sweep of the code for its system calls also measures, once for both analyses, the
	// instructions that need no CPU extension.
	scan, err := sysscan.Scan(f)
	if err != nil {
		scan = nil
	}
	rep.Kernel = kernel(f, scan, rep.Arch, runtimes{
		libc: rep.Libc.Name, static: info.Linking != elfinfo.Dynamic, gob: gob, gofuncs: gofuncs,
		// The paths of std's sources, in its panic messages.
		rust: bytes.Contains(rodata, []byte("library/std/src/")),
	})
	var swept []*x86len.Sweep
	if scan != nil {
		swept = scan.Swept
	}
	if r, err := isa.AnalyzeSwept(f, swept, chosen...); err == nil && r.Level != "" {
		rep.CPU = &CPU{Level: r.Level, Features: r.Features, Notes: append(r.LevelNotes, r.Notes...)}
		if r.Dispatched {
			rep.CPU.Dispatched = r.DispatchedLevel
		}
		switch {
		case goLevel != "" && gob.pureGo():
			rep.CPU = goCPU(r, goLevel)
		case len(chosen) > 0 && goLevel != "":
			if isa.Rank(goLevel) > isa.Rank(rep.CPU.Level) {
				rep.CPU.Level = goLevel
			}
			rep.CPU.Notes = append(rep.CPU.Notes, "a Go program with cgo: its Go code (built for "+goLevel+") chooses newer instructions at run time after asking the CPU, so only its C code and Go's build setting set the level")
		}
		if marked := markedISA(rep.ELF); levelRank(marked) > levelRank(r.Level) {
			rep.CPU.Notes = append(rep.CPU.Notes, fmt.Sprintf("the file's GNU property note says it needs %s: glibc's loader (2.33 and later) refuses to load it on an older CPU, whatever its code uses", marked))
		}
	}
	if info.Linking == elfinfo.Dynamic {
		if needs, err := distro.Floor(f); err == nil {
			rep.Glibc = glibcFloor(needs)
		}
	}
	if findings, err := risk.Analyze(f, info, path); err == nil {
		for _, fd := range findings {
			if fd.Kind == risk.RuntimeFile {
				rep.RuntimeFiles = append(rep.RuntimeFiles, fd.Detail)
				continue
			}
			rep.Risks = append(rep.Risks, fd)
		}
	}
	judge(rep, req)
	return rep, nil
}

// maxImage is the largest file read into memory whole for its analyses to share
// (internal/elfimage); larger ones, which no program needs to be, are read section by section.
const maxImage = 512 << 20

// openELF opens the file at path; release frees it, after which nothing read from f may be
// used: the bytes its sections give may be the file's, mapped into memory.
func openELF(path string) (f *elf.File, release func(), err error) {
	img, err := elfimage.Read(path, maxImage)
	if err != nil {
		return nil, nil, err
	}
	if img == nil {
		if f, err = elf.Open(path); err != nil {
			return nil, nil, err
		}
		return f, func() { f.Close() }, nil
	}
	if f, err = elf.NewFile(img); err != nil {
		img.Close()
		return nil, nil, err
	}
	return f, func() { img.Close() }, nil
}

// panicError is a panic File recovered from: the file gets a one-line error, and the fuzz test
// can tell it from an ordinary one, because every panic is a bug to fix.
type panicError struct {
	value any
	stack []byte
}

func (e *panicError) Error() string { return fmt.Sprint(e.value) }

// readOnlyData returns the read-only data of f, bounded, for string searches. The sections
// are joined into one copy, made at its final size; a single one is searched where it is.
func readOnlyData(f *elf.File) []byte {
	const limit = 64 << 20
	var parts [][]byte
	size := 0
	for _, name := range []string{".rodata", ".rodata.str1.1", ".data.rel.ro"} {
		if s := f.Section(name); s != nil && s.Type != elf.SHT_NOBITS && s.Size < limit && uint64(size)+s.Size < limit {
			if data, err := elfimage.SectionData(s); err == nil {
				parts = append(parts, data)
				size += len(data)
			}
		}
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return slices.Concat(parts...)
}

func glibcFloor(n distro.Needs) *GlibcFloor {
	if n.Static || n.GLIBC.IsZero() && n.GLIBCXX.IsZero() {
		return nil
	}
	g := &GlibcFloor{Examples: n.GLIBCSymbols}
	set := func(dst *string, v distro.Version) {
		if !v.IsZero() {
			*dst = v.String()
		}
	}
	set(&g.GLIBC, n.GLIBC)
	set(&g.GLIBCXX, n.GLIBCXX)
	set(&g.CXXABI, n.CXXABI)
	set(&g.GCC, n.GCC)
	if !n.GLIBC.IsZero() {
		for _, d := range distro.OldestWith(n.GLIBC) {
			g.Distros = append(g.Distros, d.Name)
		}
	}
	return g
}

// judge checks the requirements and writes the verdict line.
func judge(rep *Report, req Requirements) {
	if rep.Linking == "" {
		rep.Problems = append(rep.Problems, fmt.Sprintf("not a program or library (%s)", rep.Type))
	}
	if rep.Linking == string(elfinfo.Dynamic) && !req.AllowDynamic {
		needs := rep.Interp
		if rep.Glibc != nil && rep.Glibc.GLIBC != "" {
			needs += ", glibc >= " + rep.Glibc.GLIBC
		}
		if needs == "" {
			needs = strings.Join(rep.Needed, ", ")
		}
		rep.Problems = append(rep.Problems, fmt.Sprintf("dynamic (needs %s)", needs))
	}
	// No kernel older than an architecture's port ever ran that architecture: a requirement
	// below it (rhel5 for an aarch64 build) cannot be missed by the file.
	if req.Kernel != (syscalls.Version{}) && rep.Kernel.Minimum != "" && rep.Kernel.DecidedBy != "architecture" {
		if min, err := syscalls.ParseVersion(rep.Kernel.Minimum); err == nil && req.Kernel.Less(min) {
			rep.Problems = append(rep.Problems, fmt.Sprintf("needs Linux >= %s (%s), required %s",
				rep.Kernel.Minimum, rep.Kernel.DecidedBy, req.Kernel))
		}
	}
	// A kernel requirement is proven from the system calls; where they are not analysed (the
	// machines other than x86_64 and aarch64), it cannot be.
	if req.Kernel != (syscalls.Version{}) && !rep.Kernel.Analysed && rep.Linking != "" {
		rep.Problems = append(rep.Problems, fmt.Sprintf("system calls not analysed for %s, so Linux %s cannot be proven", machineName(rep), req.Kernel))
	}
	if req.ISA != "" && rep.CPU != nil && levelRank(rep.CPU.Level) > levelRank(req.ISA) {
		rep.Problems = append(rep.Problems, fmt.Sprintf("needs %s (%s), allowed %s",
			rep.CPU.Level, strings.Join(rep.CPU.Features, ", "), req.ISA))
	}
	rep.Portable = len(rep.Problems) == 0
	if !rep.Portable {
		rep.Verdict = "not portable: " + strings.Join(rep.Problems, "; ")
		return
	}
	parts := []string{machineName(rep)}
	if rep.Kernel.Minimum != "" {
		parts = append(parts, "Linux >= "+rep.Kernel.Minimum)
	}
	if !rep.Kernel.Analysed {
		parts = append(parts, "system calls not analysed")
	}
	if rep.CPU != nil {
		parts = append(parts, rep.CPU.Level)
	} else {
		parts = append(parts, "instructions not analysed")
	}
	rep.Verdict = "portable: " + strings.Join(parts, ", ")
}

// machineName is the file's architecture, or its ELF machine for one portabin does not build.
func machineName(rep *Report) string {
	if rep.Arch != "" {
		return rep.Arch
	}
	return strings.ToLower(strings.TrimPrefix(rep.Machine, "EM_"))
}

// levelRank orders x86-64 levels, the only ones a requirement names; other names rank 0 and
// never exceed a requirement.
func levelRank(level string) int {
	if !strings.HasPrefix(level, "x86-64-") {
		return 0
	}
	return isa.Rank(level)
}

// ValidISA reports whether level is a CPU level check understands.
func ValidISA(level string) bool { return levelRank(level) >= 1 && levelRank(level) <= 4 }
