// Package isa finds the CPU level an executable's instructions require.
//
// It decodes every executable section and sorts the instructions it finds into instruction-set
// extensions. For x86-64 the extensions map onto the micro-architecture levels of the x86-64
// psABI ("x86-64 psABI", section 3.1.1 "Processor Architecture", table "Micro-Architecture
// Levels", https://gitlab.com/x86-psABIs/x86-64-ABI): v2 adds CMPXCHG16B, LAHF/SAHF, POPCNT,
// SSE3, SSE4.1, SSE4.2 and SSSE3; v3 adds AVX, AVX2, BMI1, BMI2, F16C, FMA, LZCNT, MOVBE and
// OSXSAVE; v4 adds AVX512F, AVX512BW, AVX512CD, AVX512DQ and AVX512VL. For aarch64 the level is
// the oldest Armv8 version in which every extension found may exist (Arm Architecture Reference
// Manual for A-profile, chapter A2 "Armv8 architecture extensions").
//
// Libraries often carry code for several CPUs and pick one at run time: glibc through IFUNC
// resolvers, GCC's outline atomics through a flag set at start-up, hand-written code through
// CPUID. Such code would make a static glibc "hello" look like it needs AVX-512, so functions
// that are only reached that way are counted apart (see dispatch.go) and do not raise Level.
package isa

import (
	"debug/elf"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/portabin/portabin/internal/elfimage"
	"github.com/portabin/portabin/internal/x86len"
)

// Report is what an executable's instructions require of the CPU.
type Report struct {
	Arch string
	// Level is the lowest CPU level that runs every instruction outside dispatched code:
	// "x86-64-v1".."x86-64-v4" or "armv8-a", "armv8.1-a", "armv8.2-a"; empty when the
	// architecture is not analysed.
	Level string
	// Features lists the extensions used outside dispatched code, e.g. "avx2", "bmi2", "lse".
	Features []string
	// Counts holds how many instructions use each feature outside dispatched code.
	Counts map[string]int

	// Dispatched is true when code for a higher level than Level exists but only in functions
	// chosen at run time (IFUNC targets, CPU-variant functions such as __memcpy_evex_unaligned).
	Dispatched bool
	// DispatchedLevel is the highest level seen anywhere, dispatched code included.
	DispatchedLevel    string
	DispatchedFeatures []string
	DispatchedCounts   map[string]int

	// Instructions is the number of instructions decoded; Undecoded the bytes that were not.
	Instructions int
	Undecoded    int
	// Notes say what limits the analysis, in words for the user: how much code was read and
	// decoded.
	Notes []string
	// LevelNotes say how dispatched code was told apart, and what that leaves uncertain.
	LevelNotes []string
}

// maxCode caps the executable bytes read from one file, so that a hostile section size cannot
// make Analyze allocate without bound; real programs stay far below it.
const maxCode = 256 << 20

// Analyze decodes the executable sections of f. For machines other than x86-64 and aarch64 it
// returns a Report with only Arch and a note.
//
// chosen marks code that the caller knows is chosen at run time, as whole functions are by
// IFUNC: the Go code of a cgo program, which picks newer instructions after asking the CPU.
func Analyze(f *elf.File, chosen ...Range) (*Report, error) {
	return AnalyzeSwept(f, nil, chosen...)
}

// AnalyzeSwept is Analyze for x86-64 code that another analysis has swept already (sysscan's
// Result.Swept): the baseline instructions that sweep measured are counted without measuring
// them again. The Report is the same.
func AnalyzeSwept(f *elf.File, swept []*x86len.Sweep, chosen ...Range) (report *Report, err error) {
	defer func() {
		if r := recover(); r != nil {
			report, err = nil, fmt.Errorf("analysing instructions: malformed ELF file: %v", r)
		}
	}()
	var a *arch
	switch f.Machine {
	case elf.EM_X86_64:
		a = x86Arch
	case elf.EM_AARCH64:
		a = arm64Arch
	default:
		return &Report{
			Arch:  archName(f),
			Notes: []string{fmt.Sprintf("instructions of %s are not analysed", archName(f))},
		}, nil
	}
	if a.baseline == nil {
		swept = nil // the sweep measured x86-64 instructions
	}
	r, err := analyze(f, a, swept, chosen)
	if err != nil {
		return nil, fmt.Errorf("analysing instructions: %w", err)
	}
	return r, nil
}

// arch is what the analysis needs to know about one instruction set.
type arch struct {
	name   string
	levels []string // index 0 is the baseline
	// level maps a feature to an index into levels; features missing from it do not raise the level.
	level map[string]int
	// decoder returns a decodeFunc for one goroutine's use, and done to call after the last use.
	decoder func() (decode decodeFunc, done func())
	// baseline, when not nil, measures an instruction that needs no extension; false sends it
	// to decoder.
	baseline func(code []byte) (size int, ok bool)
	// references returns the code addresses that a resolver function loads (IFUNC targets).
	references func(code []byte, pc uint64) []uint64
	// refs returns a refsFunc for one goroutine's use (capvar.go), and a function to call when
	// done with it.
	refs func() (refsFunc, func())
	// variant reports whether a function name marks a CPU-specific variant (dispatch.go).
	variant func(name string) bool
	// probe is the feature of the instruction that asks the CPU what it has (CPUID), and
	// probeBytes its encoding, for a quick search.
	probe      string
	probeBytes []byte
	// follow returns a followFunc for one goroutine's use (capvar.go), and a function to call
	// when done with it; nil where the analysis does not follow values.
	follow func() (followFunc, func())
	// quiet features are counted but not listed: they probe the CPU rather than need it.
	quiet map[string]bool
}

func archName(f *elf.File) string {
	switch f.Machine {
	case elf.EM_X86_64:
		return "x86_64"
	case elf.EM_AARCH64:
		return "aarch64"
	case elf.EM_386:
		return "i386"
	case elf.EM_ARM:
		return "arm"
	case elf.EM_RISCV:
		if f.Class == elf.ELFCLASS32 {
			return "riscv32"
		}
		return "riscv64"
	}
	return f.Machine.String()
}

// refKind says how code uses an address.
type refKind uint8

const (
	formed   refKind = iota // computed into a register (LEA, ADR, ADRP+ADD) or an immediate
	loaded                  // read from memory there
	stored                  // written there and only written
	branched                // branched to or called
)

// refsFunc calls visit with the addresses that code at pc forms, loads from, stores to,
// branches to or calls. It may leave out addresses that worth rejects, which saves decoding.
// sw, when not nil, is the sweep of code's section, where code starts at sw.Code[at]: where
// it started an instruction at code's start, its starts give the instructions' lengths.
type refsFunc func(code []byte, pc uint64, sw *x86len.Sweep, at int, worth func(addr uint64) bool, visit func(addr uint64, how refKind))

// decodeFunc classifies the instruction at the start of code, calling use for each feature it
// needs, and returns its length; ok is false for bytes it cannot decode.
// followFunc reads a function that may ask the CPU for its features: whether it does, the
// cells it stores the answers to, and the functions whose addresses it stores.
type followFunc func(code []byte, pc uint64, isCode func(uint64) bool) (probes bool, cells, installs []uint64)

type decodeFunc func(code []byte, pc uint64, use func(feature string)) (size int, ok bool)

// section is an executable section's bytes at its address.
type section struct {
	addr uint64
	code []byte
	// swept, when not nil, measured the baseline instructions of code before.
	swept *x86len.Sweep
}

// Rank orders the levels of one architecture: 1 for the baseline ("x86-64-v1", "armv8-a"),
// higher for later ones, 0 for a string that names no level.
func Rank(level string) int {
	for _, a := range []*arch{x86Arch, arm64Arch} {
		if i := slices.Index(a.levels, level); i >= 0 {
			return i + 1
		}
	}
	return 0
}

// Range is the code from Start up to End.
type Range struct{ Start, End uint64 }

func analyze(f *elf.File, a *arch, swept []*x86len.Sweep, chosen []Range) (*Report, error) {
	r := &Report{Arch: a.name, Counts: map[string]int{}, DispatchedCounts: map[string]int{}}
	secs, truncated, err := codeSections(f)
	if err != nil {
		return nil, err
	}
	for i := range secs {
		for _, sw := range swept {
			if sw.Covers(secs[i].addr, secs[i].code) {
				secs[i].swept = sw
			}
		}
	}
	if truncated {
		r.Notes = append(r.Notes, fmt.Sprintf("only the first %d MiB of code were analysed", maxCode>>20))
	}
	funcs, how, gapsAreData, search := functions(f, secs, a, chosen)
	decode, done := a.decoder()
	defer done()
	measure := func(funcs []function) {
		r.Counts, r.DispatchedCounts, r.Instructions, r.Undecoded = map[string]int{}, map[string]int{}, 0, 0
		var counts map[string]int
		use := func(feature string) { counts[feature]++ }
		plain := walk(secs, funcs, a.baseline, func(code []byte, pc uint64, fn *function) int {
			if fn == nil && gapsAreData || fn != nil && fn.data {
				return len(code) // up to the next function
			}
			counts = r.Counts
			if fn != nil && fn.dispatched {
				counts = r.DispatchedCounts
			}
			size, ok := decode(code, pc, use)
			if ok {
				r.Instructions++
			} else {
				r.Undecoded += size
			}
			return size
		})
		r.Instructions += plain
	}
	measure(funcs)
	// Code chosen at run time after a test of a capability variable matters only where the
	// rest of the code needs something: then the search runs, and the code is measured again.
	if len(sortedKeys(r.Counts, a)) > 0 {
		if more, note := search(); note != "" {
			measure(more)
			how = strings.TrimPrefix(how+"; "+note, "; ")
		}
	}
	if how != "" {
		r.LevelNotes = append(r.LevelNotes, how)
	}

	required := maxLevel(a, r.Counts)
	seen := max(required, maxLevel(a, r.DispatchedCounts))
	r.Level, r.DispatchedLevel = a.levels[required], a.levels[seen]
	r.Features, r.DispatchedFeatures = sortedKeys(r.Counts, a), sortedKeys(r.DispatchedCounts, a)
	r.Dispatched = seen > required
	if r.Dispatched {
		r.LevelNotes = append(r.LevelNotes, fmt.Sprintf("%s code is only in functions chosen at run time for the CPU (IFUNC or CPU-variant functions); it does not raise the level", a.levels[seen]))
	}
	if required > 0 && r.Counts[a.probe] > 0 {
		r.LevelNotes = append(r.LevelNotes, fmt.Sprintf("the code asks the CPU for its features (%s) in %d places outside the functions recognised as dispatched; any %s code behind such a check is counted as required", a.probe, r.Counts[a.probe], a.levels[required]))
	}
	if r.Undecoded > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d bytes of code could not be decoded", r.Undecoded))
	}
	return r, nil
}

// walk sweeps linearly through the code, calling decode for each instruction with the function
// that holds it (nil between functions). An instruction never spans a function start: stopping
// there resynchronises the decoder after data or padding that it misread. Instructions that
// baseline (when not nil) measures need no CPU extension and are only counted; walk returns
// how many there were. Nearly all of a program's instructions are such, so they are measured
// in the tight loop itself, or taken from the section's earlier sweep where it started the
// same instruction (it started at the same place and ends before the function does).
func walk(secs []section, funcs []function, baseline func(code []byte) (int, bool), decode func(code []byte, pc uint64, fn *function) (size int)) (plain int) {
	for _, s := range secs {
		next := sort.Search(len(funcs), func(i int) bool { return funcs[i].start > s.addr })
		for off := 0; off < len(s.code); {
			pc := s.addr + uint64(off)
			for next < len(funcs) && funcs[next].start <= pc {
				next++
			}
			// No function starts before limit.
			limit := len(s.code)
			if next < len(funcs) && funcs[next].start-s.addr < uint64(limit) {
				limit = int(funcs[next].start - s.addr)
			}
			code := s.code[:limit]
			for off < limit {
				if s.swept != nil {
					if n, end := s.swept.Run(off, limit); n > 0 {
						plain += n
						off = end
						continue
					}
				}
				if baseline != nil {
					if size, ok := baseline(code[off:]); ok {
						off += size
						plain++
						continue
					}
				}
				pc := s.addr + uint64(off)
				size := decode(code[off:], pc, containing(funcs, next, pc))
				if size <= 0 || size > limit-off {
					size = 1
				}
				off += size
			}
		}
	}
	return plain
}

// codeSections reads the executable sections, or with no section headers the executable
// segments, up to maxCode bytes in all.
func codeSections(f *elf.File) (secs []section, truncated bool, err error) {
	budget := int64(maxCode)
	read := func(get func(limit int64) ([]byte, error), addr, size uint64, what string) error {
		if budget <= 0 {
			truncated = true
			return nil
		}
		if size > uint64(budget) {
			truncated = true
		}
		code, err := get(budget)
		if err != nil {
			return fmt.Errorf("reading %s: %w", what, err)
		}
		budget -= int64(len(code))
		if len(code) > 0 {
			secs = append(secs, section{addr: addr, code: code})
		}
		return nil
	}
	for _, s := range f.Sections {
		if s.Type != elf.SHT_PROGBITS || s.Flags&elf.SHF_EXECINSTR == 0 || s.Flags&elf.SHF_ALLOC == 0 {
			continue
		}
		get := func(limit int64) ([]byte, error) { return elfimage.Section(s, limit) }
		if err := read(get, s.Addr, s.Size, "section "+s.Name); err != nil {
			return nil, false, err
		}
	}
	if len(f.Sections) == 0 {
		// Without section headers the segment may also hold headers and read-only data,
		// which decode as nonsense: the result is rougher.
		for _, p := range f.Progs {
			if p.Type == elf.PT_LOAD && p.Flags&elf.PF_X != 0 {
				get := func(limit int64) ([]byte, error) { return elfimage.Segment(p, limit) }
				if err := read(get, p.Vaddr, p.Filesz, "executable segment"); err != nil {
					return nil, false, err
				}
			}
		}
	}
	sort.Slice(secs, func(i, j int) bool { return secs[i].addr < secs[j].addr })
	return secs, truncated, nil
}

// containing returns the function that holds pc, given next, the index of the first function
// starting after pc; nil for code between functions.
func containing(funcs []function, next int, pc uint64) *function {
	if next == 0 {
		return nil
	}
	if fn := &funcs[next-1]; pc < fn.end {
		return fn
	}
	return nil
}

func maxLevel(a *arch, counts map[string]int) int {
	level := 0
	for feature := range counts {
		level = max(level, a.level[feature])
	}
	return level
}

// sortedKeys orders features by level, then by name, so that the ones that matter come first.
func sortedKeys(counts map[string]int, a *arch) []string {
	keys := make([]string, 0, len(counts))
	for k := range counts {
		if !a.quiet[k] {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		li, lj := a.level[keys[i]], a.level[keys[j]]
		if li != lj {
			return li > lj
		}
		return keys[i] < keys[j]
	})
	return keys
}
