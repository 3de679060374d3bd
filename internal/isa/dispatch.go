package isa

import (
	"debug/elf"
	"slices"
	"sort"
	"strings"

	"github.com/ianlancetaylor/demangle"

	"github.com/portabin/portabin/internal/elfimage"
)

// Telling dispatched code apart is heuristic. Two signs are used:
//
//   - IFUNC: glibc (and anything built with GCC's target_clones) resolves some functions at start-up
//     with a resolver that returns the address of the variant for this CPU. The resolvers are the
//     addends of IRELATIVE relocations and the values of STT_GNU_IFUNC symbols; every function
//     whose address a resolver loads is taken as reached only through it. A variant that other
//     code also calls directly is then missed, which glibc does not do.
//   - Names: a function whose name has a token such as "avx2", "evex", "sse4_2" or "sve" is taken
//     as a CPU variant that its caller picks after checking the CPU, as in glibc's
//     __memmove_avx_unaligned_erms, libm's __sin_fma or GCC's outline atomics __aarch64_cas4_acq.
//     A program that names its only code path "avx2" is misjudged; but a program built for a
//     higher level shows it in all its other functions too (the compiler uses VEX encodings
//     everywhere), so its level still rises.
//
// Code behind a hand-written CPUID check inside one function cannot be told apart: it counts
// as required, and Analyze adds a note when the program's own code executes CPUID.

// function is a stretch of code analysed as one unit.
type function struct {
	start, end uint64
	dispatched bool
	data       bool // a data object in a code section (a table, a literal pool), not instructions
}

// Resolvers are small: resolverScan bytes are read when a resolver's size is unknown, at most
// resolverMax when it is known, and at most maxResolvers of them, so that a hostile file with
// huge symbols or relocation tables cannot make the search quadratic.
const (
	resolverScan = 512
	resolverMax  = 4096
	maxResolvers = 1 << 14
)

// functions returns the code's functions, sorted, without overlaps, dispatched ones and data
// objects marked; note says what limited the search, if anything. gapsAreData says that the
// functions come from a symbol table, which names all code: the bytes outside every function
// and label are padding or data (tables and constants of hand-written assembly), not code.
// search, the capability search (capvar.go), gives the functions again with those it finds
// chosen at run time marked too, and a note; it reads the whole code again, so the caller runs
// it only where it can change the report.
func functions(f *elf.File, secs []section, a *arch, chosen []Range) (funcs []function, note string, gapsAreData bool, search func() ([]function, string)) {
	syms, _ := elfimage.Symbols(f) // a missing or broken table leaves .eh_frame
	var ifuncs []uint64
	var objects []function
	for _, s := range syms {
		t := elf.ST_TYPE(s.Info)
		if s.Section == elf.SHN_UNDEF || !inCode(secs, s.Value) {
			continue
		}
		switch t {
		case elf.STT_FUNC, stt_GNU_IFUNC:
			if t == stt_GNU_IFUNC {
				ifuncs = append(ifuncs, s.Value)
			}
			funcs = append(funcs, function{start: s.Value, end: s.Value + s.Size, dispatched: a.variant(s.Name)})
		case elf.STT_OBJECT:
			if s.Size > 0 && inExecutableSection(f, s) {
				objects = append(objects, function{start: s.Value, end: s.Value + s.Size, data: true})
			}
		}
	}
	if len(funcs) > 0 {
		funcs = append(funcs, labels(f, syms, secs, funcs)...)
		funcs = append(funcs, objects...)
		gapsAreData = true
	} else {
		funcs = ehFrameFunctions(f, secs)
		if len(funcs) == 0 {
			note = "no symbol table and no .eh_frame: code chosen at run time for the CPU cannot be told apart, so the level counts all code"
			if len(chosen) > 0 {
				note = "no symbol table and no .eh_frame: apart from the code known to be chosen at run time, code chosen for the CPU cannot be told apart, so the level counts all the rest"
			}
		} else {
			note = "no symbol table: functions come from .eh_frame and CPU variants are recognised only through IFUNC resolvers"
		}
	}
	for _, c := range chosen {
		if c.End > c.Start {
			funcs = append(funcs, function{start: c.Start, end: c.End, dispatched: true})
		}
	}
	// A shared library's exported IFUNC symbols (libm's sin, exp, pow, ...) are in the dynamic
	// symbol table, which stripping keeps, and are resolved through their own relocations, not
	// IRELATIVE ones.
	dyn, _ := elfimage.DynamicSymbols(f) // none in a static executable
	for _, s := range dyn {
		if elf.ST_TYPE(s.Info) == stt_GNU_IFUNC && s.Section != elf.SHN_UNDEF && inCode(secs, s.Value) {
			ifuncs = append(ifuncs, s.Value)
		}
	}
	resolvers := append(irelativeResolvers(f), ifuncs...)
	isResolver := map[uint64]bool{}
	for _, r := range resolvers {
		isResolver[r] = true
	}
	ends := map[uint64]uint64{} // the largest end of the functions at each start
	for _, fn := range funcs {
		ends[fn.start] = max(ends[fn.start], fn.end)
	}
	targets := map[uint64]bool{}
	scanned := 0
	for r := range isResolver {
		if scanned++; scanned > maxResolvers {
			break
		}
		end := r + resolverScan
		if e := ends[r]; e > r {
			end = min(e, r+resolverMax)
		}
		if code := codeAt(secs, r, end); code != nil {
			for _, t := range a.references(code, r) {
				targets[t] = true
			}
		}
	}
	for i := range funcs {
		if targets[funcs[i].start] && !isResolver[funcs[i].start] && !funcs[i].data {
			funcs[i].dispatched = true
		}
	}
	reachNext(funcs, secs)
	search = func() ([]function, string) {
		more, capNote := capabilityDispatch(f, syms, dyn, secs, a, slices.Clone(funcs))
		return flatten(more), capNote
	}
	return flatten(funcs), note, gapsAreData, search
}

// stt_GNU_IFUNC is STT_GNU_IFUNC, which debug/elf knows only as STT_LOOS.
const stt_GNU_IFUNC = elf.STT_LOOS

// reachNext sorts funcs by start and makes each size-less symbol reach the next start, code or
// data, within its section.
func reachNext(funcs []function, secs []section) {
	sort.Slice(funcs, func(i, j int) bool { return funcs[i].start < funcs[j].start })
	nextStart := uint64(0) // the first start above funcs[i].start; 0 for none
	for i := len(funcs) - 1; i >= 0; i-- {
		if i+1 < len(funcs) && funcs[i+1].start > funcs[i].start {
			nextStart = funcs[i+1].start
		}
		if funcs[i].end <= funcs[i].start {
			funcs[i].end = sectionEnd(secs, funcs[i].start)
			if nextStart != 0 {
				funcs[i].end = min(funcs[i].end, nextStart)
			}
		}
	}
}

// flatten turns possibly overlapping symbols, sized by reachNext, into sorted, disjoint pieces:
// a piece is dispatched when any symbol covering it is (a variant's local helpers are variants
// too), and data when only data objects cover it.
func flatten(funcs []function) []function {
	sort.Slice(funcs, func(i, j int) bool { return funcs[i].start < funcs[j].start })
	type event struct {
		at                     uint64
		active, variants, code int
	}
	events := make([]event, 0, 2*len(funcs))
	for _, fn := range funcs {
		if fn.end <= fn.start {
			continue
		}
		v, c := 0, 1
		if fn.dispatched {
			v = 1
		}
		if fn.data {
			c = 0
		}
		events = append(events, event{fn.start, 1, v, c}, event{fn.end, -1, -v, -c})
	}
	sort.Slice(events, func(i, j int) bool { return events[i].at < events[j].at })
	var out []function
	active, variants, code := 0, 0, 0
	for i := 0; i < len(events); {
		at := events[i].at
		for ; i < len(events) && events[i].at == at; i++ {
			active += events[i].active
			variants += events[i].variants
			code += events[i].code
		}
		if active > 0 && i < len(events) {
			out = append(out, function{start: at, end: events[i].at, dispatched: variants > 0 && code > 0, data: code == 0})
		}
	}
	return out
}

func inCode(secs []section, addr uint64) bool {
	return sectionOf(secs, addr) != nil
}

// sectionOf returns the code section holding addr, nil if none does.
func sectionOf(secs []section, addr uint64) *section {
	for i := range secs {
		if addr >= secs[i].addr && addr-secs[i].addr < uint64(len(secs[i].code)) {
			return &secs[i]
		}
	}
	return nil
}

// sectionEnd returns the end of the code section holding addr, 0 if none does.
func sectionEnd(secs []section, addr uint64) uint64 {
	if s := sectionOf(secs, addr); s != nil {
		return s.addr + uint64(len(s.code))
	}
	return 0
}

// codeAt returns the code bytes in [start, end), clipped to the section holding start.
func codeAt(secs []section, start, end uint64) []byte {
	s := sectionOf(secs, start)
	if s == nil {
		return nil
	}
	off := start - s.addr
	n := uint64(len(s.code)) - off
	if end > start && end-start < n {
		n = end - start
	}
	return s.code[off : off+n]
}

// irelativeResolvers returns the resolver addresses named by IRELATIVE relocations.
func irelativeResolvers(f *elf.File) []uint64 {
	if f.Class != elf.ELFCLASS64 {
		return nil
	}
	var want uint32
	switch f.Machine {
	case elf.EM_X86_64:
		want = uint32(elf.R_X86_64_IRELATIVE)
	case elf.EM_AARCH64:
		want = uint32(elf.R_AARCH64_IRELATIVE)
	default:
		return nil
	}
	var out []uint64
	for _, s := range f.Sections {
		if s.Type != elf.SHT_RELA {
			continue
		}
		data, err := elfimage.Section(s, maxTable)
		if err != nil {
			continue
		}
		for off := 0; off+24 <= len(data) && len(out) < maxResolvers; off += 24 {
			info := f.ByteOrder.Uint64(data[off+8:])
			if uint32(info) == want {
				out = append(out, f.ByteOrder.Uint64(data[off+16:]))
			}
		}
	}
	return out
}

// variantTokens returns a name test that looks for any of tokens between underscores, and in
// C++ names between the parts of the demangled name, where libraries put a namespace per CPU
// (simdutf::haswell, simdjson::icelake, Highway's hwy::N_AVX2).
func variantTokens(tokens ...string) func(string) bool { return tokenTest(tokens, true) }

// plainTokens is variantTokens without the C++ parts, for tokens that C++ libraries use as
// namespaces for other things (V8's v8::).
func plainTokens(tokens ...string) func(string) bool { return tokenTest(tokens, false) }

func tokenTest(tokens []string, cxx bool) func(string) bool {
	set := map[string]bool{}
	for _, t := range tokens {
		set[t] = true
	}
	// Every symbol of a program passes here: the name is lowered once (without a copy when it
	// has no capitals) and cut into tokens without allocating.
	hasToken := func(name string, sep func(byte) bool) bool {
		start := 0
		for i := 0; i <= len(name); i++ {
			if i == len(name) || sep(name[i]) {
				if i > start && set[name[start:i]] {
					return true
				}
				start = i + 1
			}
		}
		return false
	}
	underscore := func(b byte) bool { return b == '_' || b == '.' }
	word := func(b byte) bool { return !('a' <= b && b <= 'z' || '0' <= b && b <= '9') }
	return func(name string) bool {
		if i := strings.IndexByte(name, '@'); i >= 0 {
			name = name[:i]
		}
		lower := strings.ToLower(name)
		if hasToken(lower, underscore) {
			return true
		}
		// Demangle only names that hold a token somewhere, and not hostile ones: a long name
		// could make the demangler recurse deeply or expand back-references without end.
		if !cxx || !strings.HasPrefix(name, "_Z") || len(name) > maxMangled || !slices.ContainsFunc(tokens, func(t string) bool {
			return strings.Contains(lower, t)
		}) {
			return false
		}
		demangled, err := demangle.ToString(name, demangle.NoParams, demangle.NoTemplateParams, demangle.MaxLength(12))
		return err == nil && hasToken(strings.ToLower(demangled), word)
	}
}

// maxMangled is the longest C++ name demangled for its tokens.
const maxMangled = 2048

// maxTable caps relocation and unwind tables read for the dispatch search.
const maxTable = 64 << 20

// labels returns the untyped code symbols outside every function as functions: hand-written
// assembly that lacks a .type directive (OpenSSL's __bn_postx4x_internal, musl's _start). Arm's
// mapping symbols ($x, $d) are not labels.
func labels(f *elf.File, syms []elf.Symbol, secs []section, funcs []function) []function {
	var spans []function
	for _, fn := range funcs {
		if fn.end > fn.start {
			spans = append(spans, fn)
		}
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].start < spans[j].start })
	reach := make([]uint64, len(spans)) // the largest end among spans[:i+1]
	for i, fn := range spans {
		reach[i] = fn.end
		if i > 0 {
			reach[i] = max(reach[i], reach[i-1])
		}
	}
	var out []function
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) != elf.STT_NOTYPE || s.Section == elf.SHN_UNDEF || strings.HasPrefix(s.Name, "$") || !inCode(secs, s.Value) || !inExecutableSection(f, s) {
			continue
		}
		if i := sort.Search(len(spans), func(i int) bool { return spans[i].start > s.Value }) - 1; i >= 0 && reach[i] > s.Value {
			continue
		}
		out = append(out, function{start: s.Value, end: s.Value + s.Size})
	}
	return out
}

// inExecutableSection reports whether a symbol is defined in an executable section: in a
// relocatable object every section starts at 0, so the address alone does not tell.
func inExecutableSection(f *elf.File, s elf.Symbol) bool {
	i := int(s.Section)
	return i > 0 && i < len(f.Sections) && f.Sections[i].Flags&elf.SHF_EXECINSTR != 0
}
