package isa

import (
	"bytes"
	"cmp"
	"debug/elf"
	"fmt"
	"slices"
	"strings"

	"github.com/portabin/portabin/internal/addrfilter"
	"github.com/portabin/portabin/internal/elfimage"
	"github.com/portabin/portabin/internal/x86len"
)

// Some libraries pick their CPU variants in plain code rather than through IFUNC: they keep the
// features found at start-up in a variable and test it before calling or jumping to a variant.
// OpenSSL's assembly does so with names that carry no CPU token (ChaCha20_8x is its AVX2 code,
// bn_mulx4x_mont its BMI2 and ADX code, the rsaz_amm52 functions its AVX-512 IFMA code), and a
// static OpenSSL made a TLS client look like it needs AVX-512 or, on aarch64, SME.
//
// capabilityVariables names those variables:
//   - OpenSSL's OPENSSL_ia32cap_P (crypto/x86_64cpuid.pl, set by OPENSSL_cpuid_setup in
//     crypto/cpuid.c) and OPENSSL_armcap_P (crypto/armcap.c);
//   - __cpu_model and __cpu_features2, which GCC's and clang's __builtin_cpu_supports read on
//     x86 (libgcc/config/i386/cpuinfo.c, compiler-rt's cpu_model);
//   - __aarch64_cpu_features, which function multi-versioning reads on aarch64 (compiler-rt's
//     cpu_model/aarch64.c);
//   - Chromium's zlib (bundled by Node.js and Chromium): x86_cpu_enable_ssse3,
//     x86_cpu_enable_simd, x86_cpu_enable_avx512, arm_cpu_enable_crc32 and
//     arm_cpu_enable_pmull (third_party/zlib/cpu_features.c).
//
// A function that reads one is a tester, and so is one that calls a small predicate reading one,
// or that takes the address of a known variant (to install it, or to compare a function pointer
// with it). A function is taken as chosen at run time when code reaches it (calls, jumps to or
// takes its address) only from testers, from functions that are themselves chosen or already
// known as variants, and from functions that nothing reaches, and no data, relocation, export
// or entry point names it. The test itself is not followed: a tester that calls a helper on
// every path makes that helper look chosen. The note names the variables, so that the user
// knows the heuristic was applied.
//
// When no symbol names one of them (a stripped file, or code of its own), the functions that
// ask the CPU themselves stand in (probedCells): what they store is taken as the variables, and
// a function whose address one of them stores is installed, chosen like a variant it tests
// for. Knowing less of the code, the search then takes no function as never running.
var capabilityVariables = map[string]bool{
	"OPENSSL_ia32cap_P": true, "OPENSSL_armcap_P": true,
	"__cpu_model": true, "__cpu_features2": true, "__aarch64_cpu_features": true,
	"x86_cpu_enable_ssse3": true, "x86_cpu_enable_simd": true, "x86_cpu_enable_avx512": true,
	"arm_cpu_enable_crc32": true, "arm_cpu_enable_pmull": true,
}

// maxUnits bounds the functions the capability search considers, so that a hostile symbol table
// cannot make it allocate without bound.
const maxUnits = 1 << 20

// maxPredicate is the largest function taken as a predicate (a test of the variable that
// returns its answer); OpenSSL's are a few dozen bytes.
const maxPredicate = 256

// unit is one function of the capability search.
type unit struct {
	start, end uint64
	known      bool // a variant already: by name, IFUNC or chosen by the caller
	reads      bool // reads a capability variable (or forms its address)
	writes     bool // stores to one, as the code that asks the CPU does
	tester     bool // reads one, calls a predicate that does, or takes a variant's address
	calls      int  // references to other functions
	external   bool // reached in ways the search cannot see
	probes     bool // asks the CPU for its features, in a file without named variables (probedCells)
	installed  bool // its address is stored by a function that probes
	callers    []int32
}

// capabilityDispatch adds to funcs, sorted and sized by reachNext, the functions reached only
// from code testing a capability variable, as described above, and returns a note when it
// added any. syms and dyn are f's symbol tables.
func capabilityDispatch(f *elf.File, syms, dyn []elf.Symbol, secs []section, a *arch, funcs []function) ([]function, string) {
	if a.refs == nil {
		return funcs, ""
	}
	if len(funcs) == 0 || len(funcs) > maxUnits {
		return funcs, ""
	}
	units := capabilityUnits(funcs)
	if len(units) == 0 {
		return funcs, "" // data objects only
	}
	var vars []span
	var names []string
	for _, s := range syms {
		t := elf.ST_TYPE(s.Info)
		if !capabilityVariables[s.Name] || s.Section == elf.SHN_UNDEF || (t != elf.STT_OBJECT && t != elf.STT_NOTYPE) {
			continue
		}
		vars = append(vars, span{s.Value, s.Value + max(s.Size, 1)})
		if !slices.Contains(names, s.Name) {
			names = append(names, s.Name)
		}
	}
	slices.Sort(names)
	var installs []uint64
	if len(vars) == 0 {
		// No variable has a known name (or no symbol table names any): the memory that code
		// asking the CPU stores its answers to stands in for them.
		vars, installs = probedCells(a, secs, units)
	}
	if len(vars) == 0 && len(installs) == 0 {
		return funcs, ""
	}
	isVar := spanSet(vars)

	// The units' starts, in order: unitAt and startOf are asked about every call, every address
	// an instruction may hold and every word of data, most of them outside the code.
	unitStarts := make([]uint64, len(units))
	unitsEnd := uint64(0)
	for i, u := range units {
		unitStarts[i] = u.start
		unitsEnd = max(unitsEnd, u.end)
	}
	// unitAt returns the unit holding addr, or -1.
	unitAt := func(addr uint64) int {
		if addr < unitStarts[0] || addr >= unitsEnd {
			return -1
		}
		i, found := slices.BinarySearch(unitStarts, addr)
		if !found {
			i--
		}
		if i >= 0 && addr < units[i].end {
			return i
		}
		return -1
	}
	// startOf returns the unit that starts at addr.
	startOf := func(addr uint64) (int32, bool) {
		if addr < unitStarts[0] || addr > unitStarts[len(unitStarts)-1] {
			return 0, false
		}
		i, found := slices.BinarySearch(unitStarts, addr)
		return int32(i), found
	}
	// Pointers in data: function tables, init arrays, GOT slots. The functions they name are
	// reached in ways the search cannot see. A slot that holds a capability variable's address
	// makes a load through it a read of the variable, and one that holds a function's address
	// makes a load through it a reference to the function (OpenSSL compares a pointer with
	// aes_v8_ctr32_encrypt_blocks loaded from the GOT).
	slots := map[uint64]bool{}
	funcSlots := map[uint64]int32{}
	slotLo, slotHi := ^uint64(0), uint64(0) // bound both maps' keys, so most lookups need neither
	var slotBits addrfilter.Filter          // and filter them: a .dynsym before the code widens them
	pointer := func(slot, addr uint64) {
		if i, ok := startOf(addr); ok {
			units[i].external = true
			funcSlots[slot] = i
			slotLo, slotHi = min(slotLo, slot), max(slotHi, slot)
			slotBits.Add(slot)
		}
		if isVar(addr) {
			slots[slot] = true
			slotLo, slotHi = min(slotLo, slot), max(slotHi, slot)
			slotBits.Add(slot)
		}
	}
	isSlot := func(addr uint64) (funcSlot int32, isFunc, isVarSlot bool) {
		if addr < slotLo || addr > slotHi || !slotBits.MayHave(addr) {
			return 0, false, false
		}
		funcSlot, isFunc = funcSlots[addr]
		return funcSlot, isFunc, slots[addr]
	}
	if i, ok := startOf(f.Entry); ok {
		units[i].external = true
	}
	for _, addr := range installs {
		if i, ok := startOf(addr); ok {
			units[i].installed = true
		}
	}
	for _, s := range dyn {
		if i, ok := startOf(s.Value); ok && s.Section != elf.SHN_UNDEF && elf.ST_BIND(s.Info) != elf.STB_LOCAL {
			units[i].external = true
		}
	}
	if f.Class == elf.ELFCLASS64 {
		for _, s := range f.Sections {
			if s.Flags&elf.SHF_ALLOC == 0 || s.Flags&elf.SHF_EXECINSTR != 0 || s.Type == elf.SHT_NOBITS {
				continue
			}
			data, err := elfimage.Section(s, maxTable)
			if err != nil {
				continue
			}
			if s.Type == elf.SHT_RELA {
				for off := 0; off+24 <= len(data); off += 24 {
					pointer(f.ByteOrder.Uint64(data[off:]), f.ByteOrder.Uint64(data[off+16:]))
				}
				continue
			}
			for off := int(-s.Addr & 7); off+8 <= len(data); off += 8 {
				pointer(s.Addr+uint64(off), f.ByteOrder.Uint64(data[off:]))
			}
		}
	}

	refs, done := a.refs()
	defer done()
	var walkStart, walkEnd uint64 // the code being walked
	worth := func(addr uint64) bool {
		if _, isFunc, isVarSlot := isSlot(addr); isFunc || isVarSlot || isVar(addr) {
			return true
		}
		if addr >= walkStart && addr < walkEnd {
			return false // most branches: the visit would find the unit walked, and ignore it
		}
		return unitAt(addr) >= 0
	}
	for i := range units {
		u := &units[i]
		code, sw, at := unitCode(secs, units, i)
		walkStart, walkEnd = u.start, u.start+uint64(len(code))
		refs(code, u.start, sw, at, worth, func(target uint64, how refKind) {
			k, isFunc, isVarSlot := isSlot(target)
			if isVarSlot || isVar(target) {
				if u.probes {
					return // asks the CPU and keeps the answer: no test of it
				}
				u.reads = u.reads || how != stored
				u.writes = u.writes || how == stored
				return
			}
			j := unitAt(target)
			if isFunc && how == loaded {
				j, target, how = int(k), units[k].start, formed
			}
			if j < 0 || j == i {
				return
			}
			u.calls++
			if u.probes && how == formed && units[j].installed && target == units[j].start {
				return // the variant it installs after asking the CPU: no call of it
			}
			if how != branched && units[j].known && target == units[j].start {
				u.tester = true // takes a variant's address: installs it, or compares a pointer with it
			}
			callers := units[j].callers
			if n := len(callers); n == 0 || callers[n-1] != int32(i) {
				units[j].callers = append(callers, int32(i))
			}
		})
	}
	// A small function that reads a variable and calls nothing is a predicate (OpenSSL's
	// x25519_fe64_eligible, ossl_rsaz_avx512ifma_eligible): its callers test through it.
	for _, u := range units {
		if !u.reads {
			continue
		}
		if u.calls == 0 && u.end-u.start <= maxPredicate {
			for _, c := range u.callers {
				units[c].tester = true
			}
		}
	}
	for i := range units {
		units[i].tester = units[i].tester || units[i].reads || units[i].writes
	}

	// A function that no code, data or export reaches never runs: its calls do not make a
	// callee required (OpenSSL 3.0 keeps SHA3_absorb_cext, which nothing calls, and its SHA-3
	// instructions reach no one). Without named variables the search knows less of the code
	// (a stripped file's functions come from .eh_frame), so a function it sees no way to is
	// not taken as never running.
	named := len(names) > 0
	qualifies := func(c int32) bool {
		cu := units[c]
		return cu.tester || cu.known || named && len(cu.callers) == 0 && !cu.external
	}
	// The largest set of candidates whose every caller qualifies or is a candidate, then only
	// those that a qualifying caller reaches through candidates (a cycle of candidates alone
	// reaches nothing). Both are worklists over the call edges, linear in their number.
	callees := make([][]int32, len(units))
	for i, u := range units {
		for _, c := range u.callers {
			callees[c] = append(callees[c], int32(i))
		}
	}
	candidate := make([]bool, len(units))
	for i, u := range units {
		// A function that asks the CPU runs on every CPU: it is not a variant.
		candidate[i] = !u.known && !u.external && !u.probes && (len(u.callers) > 0 || u.installed)
	}
	var drop []int32
	for i, u := range units {
		if candidate[i] && slices.ContainsFunc(u.callers, func(c int32) bool { return !qualifies(c) && !candidate[c] }) {
			candidate[i] = false
			drop = append(drop, int32(i))
		}
	}
	for len(drop) > 0 {
		c := drop[len(drop)-1]
		drop = drop[:len(drop)-1]
		if qualifies(c) {
			continue
		}
		for _, j := range callees[c] {
			if candidate[j] {
				candidate[j] = false
				drop = append(drop, j)
			}
		}
	}
	reached := make([]bool, len(units))
	var next []int32
	for i := range units {
		if qualifies(int32(i)) {
			next = append(next, int32(i))
		}
		if units[i].installed && candidate[i] && !reached[i] {
			reached[i] = true
			next = append(next, int32(i))
		}
	}
	for len(next) > 0 {
		c := next[len(next)-1]
		next = next[:len(next)-1]
		for _, j := range callees[c] {
			if candidate[j] && !reached[j] {
				reached[j] = true
				next = append(next, j)
			}
		}
	}
	chosen := 0
	for i, u := range units {
		if reached[i] {
			chosen++
			funcs = append(funcs, function{start: u.start, end: u.end, dispatched: true})
		}
	}
	if chosen == 0 {
		return funcs, ""
	}
	plural := "s"
	if chosen == 1 {
		plural = ""
	}
	if !named {
		return funcs, fmt.Sprintf("%d function%s installed by code that asks the CPU for its features (CPUID), or reached only from code that reads what such code stores or from other code chosen for the CPU, count as chosen at run time (no symbol names a variable that keeps the CPU's features: a reading of the code alone)", chosen, plural)
	}
	return funcs, fmt.Sprintf("%d function%s reached only from code that reads %s, from other code chosen for the CPU or from code that nothing reaches count as chosen at run time", chosen, plural, strings.Join(names, " or "))
}

// unitCode returns the code of units[i], up to the next unit's start (nested symbols would
// otherwise make the walks over them quadratic), with its section's earlier sweep, if any,
// and the code's offset there.
func unitCode(secs []section, units []unit, i int) (code []byte, sw *x86len.Sweep, at int) {
	end := units[i].end
	if i+1 < len(units) {
		end = min(end, units[i+1].start)
	}
	s := sectionOf(secs, units[i].start)
	if s == nil {
		return nil, nil, 0
	}
	return codeAt(secs, units[i].start, end), s.swept, int(units[i].start - s.addr)
}

// capabilityUnits turns the code of funcs, sorted and sized by reachNext, into units, one per
// start address: the largest end, known if any symbol there is.
func capabilityUnits(funcs []function) []unit {
	var units []unit
	for _, fn := range funcs {
		if fn.data {
			continue
		}
		if n := len(units); n > 0 && units[n-1].start == fn.start {
			units[n-1].end = max(units[n-1].end, fn.end)
			units[n-1].known = units[n-1].known || fn.dispatched
			continue
		}
		units = append(units, unit{start: fn.start, end: fn.end, known: fn.dispatched})
	}
	return units
}

// span is a variable's bytes, [start, end).
type span struct{ start, end uint64 }

// spanSet returns a test of whether an address lies in one of spans, which it sorts.
func spanSet(spans []span) func(uint64) bool {
	if len(spans) == 0 {
		return func(uint64) bool { return false }
	}
	slices.SortFunc(spans, func(a, b span) int { return cmp.Compare(a.start, b.start) })
	merged := []span{spans[0]}
	for _, s := range spans[1:] {
		if last := &merged[len(merged)-1]; s.start <= last.end {
			last.end = max(last.end, s.end)
		} else {
			merged = append(merged, s)
		}
	}
	lo, hi := merged[0].start, merged[len(merged)-1].end
	return func(addr uint64) bool {
		if addr < lo || addr >= hi {
			return false // most addresses asked about, in a few instructions
		}
		i, found := slices.BinarySearchFunc(merged, addr, func(s span, a uint64) int { return cmp.Compare(s.start, a) })
		if !found {
			i--
		}
		return i >= 0 && addr < merged[i].end
	}
}

// Bounds of the search for cells without names, so that a hostile file cannot make it slow.
const (
	maxProbing = 64       // functions that ask the CPU
	maxProber  = 64 << 10 // bytes of code of one: init_cpu_features has 4 KiB
	maxCells   = 4096     // cells they store to, and functions they install
	cellBytes  = 8        // taken as stored by one store: a general register's width
)

// probedCells finds, in a file whose symbols name none of the variables above, the functions
// that ask the CPU for its features (arch.follow) and marks them. Those that store a
// function's address install a variant, as GCC's libcpp installs search_line_sse42 and
// coreutils' cksum its PCLMUL code: probedCells returns the functions they install. The
// others keep the answers, as static glibc's init_cpu_features does in its cpu_features and
// libgcc's __cpu_indicator_init in __cpu_model: it returns the memory they store to. The
// functions that ask are not testers themselves: they write and re-read the answers while
// they compute them.
func probedCells(a *arch, secs []section, units []unit) (cells []span, installs []uint64) {
	if a.probeBytes == nil || a.follow == nil {
		return nil, nil
	}
	follow, done := a.follow()
	defer done()
	decode, doneDecoding := a.decoder()
	defer doneDecoding()
	isCode := func(addr uint64) bool { return inCode(secs, addr) }
	probers := 0
	for i := range units {
		code, _, _ := unitCode(secs, units, i)
		// Following values decodes every instruction in full: only where a function asks, and
		// not through stretches too long for one function (code with no .eh_frame entry, as Go's
		// in a program with cgo, makes one unit of everything up to the next).
		if len(code) > maxProber || !bytes.Contains(code, a.probeBytes) || !asks(a, decode, code, units[i].start) {
			continue
		}
		probes, stored, installed := follow(code, units[i].start, isCode)
		if !probes {
			continue
		}
		if probers++; probers > maxProbing {
			break
		}
		units[i].probes = true
		if len(installed) > 0 {
			// Installs a variant: it chooses, and what else it stores (a main that asks
			// inline sets the program's options too) is not taken as the CPU's answers.
			if len(installs)+len(installed) <= maxCells {
				installs = append(installs, installed...)
			}
			continue
		}
		for _, c := range stored {
			if len(cells) < maxCells {
				cells = append(cells, span{c, c + cellBytes})
			}
		}
	}
	return cells, installs
}

// asks reports whether an instruction of code, a function's measured from its start, begins
// with a.probeBytes.
func asks(a *arch, decode decodeFunc, code []byte, pc uint64) bool {
	ignore := func(string) {}
	for off := 0; off < len(code); {
		if bytes.HasPrefix(code[off:], a.probeBytes) {
			return true
		}
		n, ok := 0, false
		if a.baseline != nil {
			n, ok = a.baseline(code[off:])
		}
		if !ok {
			n, _ = decode(code[off:], pc+uint64(off), ignore)
		}
		off += max(n, 1)
	}
	return false
}
