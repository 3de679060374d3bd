// Package sysscan finds the system calls an executable's machine code can make.
//
// It sweeps every executable section once, keeping only where each
// instruction starts, the calls and jumps, the kernel entries and the
// constants; then it decodes again, into a small register-transfer form,
// just the functions that enter the kernel or call a trampoline, and
// follows constants forward through each of them: into the syscall-number
// register at every syscall instruction, and into the argument register of
// every call to a "syscall trampoline" — a function such as libc's
// syscall() or musl's __syscall_cp_asm whose number arrives as an argument. Trampolines are
// recognised by their symbol names and, in stripped files, by the data flow
// itself: the number register still holds an incoming argument.
package sysscan

import (
	"debug/elf"
	"errors"
	"fmt"
	mathbits "math/bits" // bits is the arm64 decoder's
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/portabin/portabin/internal/addrfilter"
	"github.com/portabin/portabin/internal/elfimage"
	"github.com/portabin/portabin/internal/x86len"
	"github.com/portabin/portabin/internal/x86memo"
)

// ErrUnsupported is returned (wrapped) for ELF files of other machines.
var ErrUnsupported = errors.New("unsupported executable")

// Limits that keep hostile input from exhausting memory.
const (
	maxCodeBytes = 512 << 20 // all executable sections together
	maxRelaBytes = 64 << 20
	// Numbers at or above this are not syscall numbers on any Linux ABI
	// scanned here; such constants are mistakes of the analysis.
	maxSyscallNumber = 4096
)

// Site is one place that makes a system call with a known number.
type Site struct {
	Addr   uint64
	Number int
	// Via is empty for a syscall instruction, else the trampoline the
	// call at Addr goes to (its symbol name, or its address in hex).
	Via string
	// Func is where the function that holds Addr starts.
	Func uint64
}

// Result is what Scan found.
type Result struct {
	Arch    string // "x86_64", "aarch64"
	Numbers []int  // sorted unique syscall numbers, in the table of Arch
	Sites   []Site
	// Unknown counts syscall instructions and trampoline calls whose
	// number could not be recovered; UnknownAddrs lists where they are.
	Unknown      int
	UnknownAddrs []uint64
	// Trampolines names the functions that take the syscall number as an
	// argument (symbol names, "name@plt", or hex addresses).
	Trampolines []string
	// Int80 lists x86 "int 0x80" instructions with a known number; those
	// numbers index the i386 table, not Arch's.
	Int80 []Site
	// Callers maps the Func of every site to the starts of the functions
	// that call or jump to it directly; a 0 among them stands for code that
	// loads the function's address, so that it may be called from anywhere.
	// Calls through pointers stored in data are not seen.
	Callers map[uint64][]uint64
	// Swept holds, for x86-64, where the sweep found the instructions of each code section and
	// which of them need no CPU extension, so that the CPU-level analysis (internal/isa) need
	// not measure them again.
	Swept []*x86len.Sweep
}

// arch describes what the analysis needs to know about an architecture
// and its C calling convention.
type arch struct {
	name            string
	nregs           int // general registers, numbered from 0
	sp, nr          uint8
	callerSaved     []uint8
	syscallClobbers []uint8
	args            []uint8 // integer argument registers, in order
	retAddr         int64   // bytes a call pushes
	stackArgBase    int64   // entry-sp offset of the first stack argument
	minInst         int
	decode          func(d *decoder, addr uint64, b []byte) int
	// sweep measures, when it can, the instruction at addr and adds to s
	// what translating it would add (nothing, for an instruction that makes
	// no call, jump, kernel entry or constant), so that the sweep need not
	// translate it. May be nil. Every instruction it measures is one that x86len.Baseline
	// measures, of the same length, so the summary records them for Result.Swept.
	sweep    func(s *summary, addr uint64, b []byte) (int, bool)
	parallel bool // decode may run on several goroutines at once
}

// argLoc is where argument number i of a C call lives.
func (a *arch) argLoc(i int) loc {
	if i < len(a.args) {
		return loc{reg: a.args[i]}
	}
	return loc{onStack: true, stack: a.stackArgBase + 8*int64(i-len(a.args))}
}

type pageReg struct {
	reg  uint8
	page uint64
	addr uint64
}

type loadReg struct {
	reg  uint8
	slot uint64
	addr uint64
}

type decoder struct {
	out      []inst
	lastPage pageReg       // aarch64: the last adrp, for PLT stubs
	lastLoad loadReg       // aarch64: the last load through it
	memo     *x86memo.Memo // nil remembers nothing
}

func (d *decoder) emit(i inst) { d.out = append(d.out, i) }

type codeSection struct {
	addr uint64
	data []byte
	sum  *summary
}

// summary is what the sweep of a section keeps of its instructions. The
// instructions themselves are decoded again, function by function, only
// where the data flow runs: most code never comes near the kernel, and
// keeping a whole library's decoded instructions takes gigabytes.
type summary struct {
	starts []uint64 // bitmap: bit i is set when an instruction starts at byte i
	// baseline marks the starts of the instructions arch.sweep measured (x86len.Sweep).
	baseline []uint64
	calls    []ref    // calls and jumps to a known address or through a GOT slot
	enters   []uint64 // syscall and int 0x80 instructions
	consts   []ref    // constants inside the code: maybe a trampoline's address, taken
	// lo and hi bound the executable sections, for consts.
	lo, hi uint64
}

// ref is an instruction at addr that names target.
type ref struct {
	addr, target uint64
	op           opcode
	flags        uint8
}

func newSummary(size int, lo, hi uint64, baseline bool) *summary {
	s := &summary{starts: make([]uint64, (size+63)/64), lo: lo, hi: hi}
	if baseline {
		s.baseline = make([]uint64, len(s.starts))
	}
	return s
}

func (s *summary) start(off int) bool { return s.starts[off>>6]&(1<<(off&63)) != 0 }

func (s *summary) note(in *inst) {
	switch in.op {
	case opCall, opJump:
		if in.imm != 0 {
			s.calls = append(s.calls, ref{addr: in.addr, target: uint64(in.imm), op: in.op, flags: in.flags})
		}
	case opSyscall, opInt80:
		s.enters = append(s.enters, in.addr)
	case opConst:
		if t := uint64(in.imm); t >= s.lo && t < s.hi {
			s.consts = append(s.consts, ref{addr: in.addr, target: uint64(in.imm), op: in.op})
		}
	}
}

// branch notes a direct call or jump to target, as note does for its translation.
func (s *summary) branch(addr, target uint64, op opcode, flags uint8) {
	if target != 0 {
		s.calls = append(s.calls, ref{addr: addr, target: target, op: op, flags: flags})
	}
}

// constant notes a constant loaded into a register, as note does for its translation.
func (s *summary) constant(addr, value uint64) {
	if value >= s.lo && value < s.hi {
		s.consts = append(s.consts, ref{addr: addr, target: value, op: opConst})
	}
}

func (c *codeSection) end() uint64 { return c.addr + uint64(len(c.data)) }

// hints name well-known trampolines and which argument carries the number.
// They matter where data flow cannot see the number arrive: imports through
// the PLT, and C functions that shuffle it through memory.
var hints = map[string]int{
	"syscall":                   0,
	"__syscall":                 0,
	"__syscall_cp":              0,
	"__syscall_cp_c":            0,
	"sccp":                      0,
	"__syscall_cp_asm":          1,
	"__syscall_cancel_arch":     1,
	"__syscall_cancel":          6,
	"__internal_syscall_cancel": 6,
}

// Scan finds the system calls f's code can make. It never panics: a
// malformed file yields an error.
func Scan(f *elf.File) (res *Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, malformed(r)
		}
	}()
	return scan(f, true)
}

func malformed(r any) error {
	return fmt.Errorf("scanning executable: malformed input: %v", r)
}

// scan is Scan; tests pass catch=false so a bug panics instead of hiding
// behind an error.
func scan(f *elf.File, catch bool) (*Result, error) {
	a, err := archOf(f)
	if err != nil {
		return nil, err
	}
	secs, err := codeSections(f)
	if err != nil {
		return nil, err
	}
	lo, hi := ^uint64(0), uint64(0)
	for _, s := range secs {
		lo, hi = min(lo, s.addr), max(hi, s.end())
	}
	for _, s := range secs {
		if s.sum, err = sweepSection(a, s.addr, s.data, lo, hi, catch); err != nil {
			return nil, err
		}
	}
	p := newProgram(f, a, secs)
	res := p.analyse()
	if a.sweep != nil {
		for _, s := range secs {
			res.Swept = append(res.Swept, &x86len.Sweep{Addr: s.addr, Code: s.data, Starts: s.sum.starts, Baseline: s.sum.baseline})
		}
	}
	return res, nil
}

func archOf(f *elf.File) (*arch, error) {
	if f.Class != elf.ELFCLASS64 || f.Data != elf.ELFDATA2LSB {
		return nil, fmt.Errorf("%w: %v %v %v", ErrUnsupported, f.Machine, f.Class, f.Data)
	}
	switch f.Machine {
	case elf.EM_X86_64:
		return amd64, nil
	case elf.EM_AARCH64:
		return arm64, nil
	}
	return nil, fmt.Errorf("%w: machine %v", ErrUnsupported, f.Machine)
}

// codeSections reads the executable sections, or the executable segments
// when the section headers are gone.
func codeSections(f *elf.File) ([]*codeSection, error) {
	var secs []*codeSection
	total := uint64(0)
	add := func(name string, addr, size uint64, read func() ([]byte, error)) error {
		total += size
		if size > maxCodeBytes || total > maxCodeBytes {
			return fmt.Errorf("reading %s: executable code larger than %d MiB", name, maxCodeBytes>>20)
		}
		if addr+size < addr {
			return fmt.Errorf("reading %s: address range wraps", name)
		}
		data, err := read()
		if err != nil {
			return fmt.Errorf("reading %s: %w", name, err)
		}
		secs = append(secs, &codeSection{addr: addr, data: data})
		return nil
	}
	for _, s := range f.Sections {
		if s.Type != elf.SHT_PROGBITS || s.Flags&elf.SHF_EXECINSTR == 0 || s.Flags&elf.SHF_ALLOC == 0 || s.Size == 0 {
			continue
		}
		read := func() ([]byte, error) { return elfimage.SectionData(s) }
		if err := add("section "+s.Name, s.Addr, s.Size, read); err != nil {
			return nil, err
		}
	}
	if len(secs) == 0 {
		for i, p := range f.Progs {
			if p.Type != elf.PT_LOAD || p.Flags&elf.PF_X == 0 || p.Filesz == 0 {
				continue
			}
			// ReadAll grows with what the file really holds, whatever
			// Filesz claims.
			read := func() ([]byte, error) { return elfimage.Segment(p, 1<<63-1) }
			if err := add(fmt.Sprintf("segment %d", i), p.Vaddr, p.Filesz, read); err != nil {
				return nil, err
			}
		}
	}
	sort.Slice(secs, func(i, j int) bool { return secs[i].addr < secs[j].addr })
	return secs, nil
}

// sweepSection summarises a section, splitting big ones among CPUs. x86
// chunks overlap their successor a little so that decoding, which
// resynchronises within a few instructions, can be stitched together
// exactly as one linear sweep would have produced it.
func sweepSection(a *arch, addr uint64, data []byte, lo, hi uint64, catch bool) (*summary, error) {
	const chunkMin = 128 << 10
	const overlap = 4 << 10
	workers := runtime.GOMAXPROCS(0)
	if !a.parallel {
		workers = 1
	}
	n := len(data) / chunkMin
	if n > workers {
		n = workers
	}
	if n <= 1 {
		return sweepRange(a, addr, data, 0, len(data), lo, hi), nil
	}
	bounds := make([]int, n+1)
	for i := range bounds {
		bounds[i] = len(data) * i / n &^ 3
	}
	bounds[n] = len(data)
	stops := make([]int, n)
	parts := make([]*summary, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		stops[i] = bounds[i+1]
		if a.minInst == 1 && i+1 < n {
			stops[i] = min(stops[i]+overlap, len(data))
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if catch {
				// The code may be a file mapped into memory (internal/elfimage) that faults
				// where the file shrank: malformed input too.
				debug.SetPanicOnFault(true)
				defer func() {
					if r := recover(); r != nil {
						errs[i] = malformed(r)
					}
				}()
			}
			parts[i] = sweepRange(a, addr, data, bounds[i], stops[i], lo, hi)
		}(i)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	out := newSummary(len(data), lo, hi, a.sweep != nil)
	ncalls, nconsts := 0, 0
	for _, p := range parts {
		ncalls, nconsts = ncalls+len(p.calls), nconsts+len(p.consts)
	}
	out.calls, out.consts = make([]ref, 0, ncalls), make([]ref, 0, nconsts)
	from := 0 // where the previous part handed over
	for i, p := range parts {
		to := len(data)
		if i+1 < n {
			to = syncPoint(p, parts[i+1], bounds[i+1], stops[i])
			if !p.start(to) && out.baseline != nil {
				// No common start: the instructions before to do not end where the
				// next part's begin, so their lengths cannot be read from the starts.
				clearBits(p.baseline, max(to-16, from), to)
			}
		}
		copyBits(out.starts, p.starts, from, to)
		if out.baseline != nil {
			copyBits(out.baseline, p.baseline, from, to)
		}
		first, end := addr+uint64(from), addr+uint64(to)
		in := func(r ref) bool { return r.addr >= first && r.addr < end }
		for _, r := range p.calls {
			if in(r) {
				out.calls = append(out.calls, r)
			}
		}
		for _, r := range p.consts {
			if in(r) {
				out.consts = append(out.consts, r)
			}
		}
		for _, e := range p.enters {
			if e >= first && e < end {
				out.enters = append(out.enters, e)
			}
		}
		from = to
	}
	return out, nil
}

// syncPoint is the first offset at or after boundary, and before stop
// (where prev's sweep ended), where both sweeps start an instruction.
func syncPoint(prev, next *summary, boundary, stop int) int {
	for off := boundary; off < stop; off++ {
		if prev.start(off) && next.start(off) {
			return off
		}
	}
	return boundary
}

// copyBits copies bits [from, to) of src into dst, whose bits there are clear.
func copyBits(dst, src []uint64, from, to int) {
	for off := from; off < to; {
		if off&63 == 0 && off+64 <= to {
			dst[off>>6] = src[off>>6]
			off += 64
			continue
		}
		dst[off>>6] |= src[off>>6] & (1 << (off & 63))
		off++
	}
}

// clearBits clears bits [from, to) of dst.
func clearBits(dst []uint64, from, to int) {
	for off := from; off < to; off++ {
		dst[off>>6] &^= 1 << (off & 63)
	}
}

// sweepRange decodes linearly every instruction that starts in
// data[from:stop] and summarises what it finds.
func sweepRange(a *arch, addr uint64, data []byte, from, stop int, lo, hi uint64) *summary {
	s := newSummary(len(data), lo, hi, a.sweep != nil)
	// Compiled code has a call or jump every 14 to 30 bytes (one in 21.6 over the 2,611
	// programs and libraries of issue 3's set): room for one every 16 saves growing the list in
	// most sections, which copies it.
	s.calls = make([]ref, 0, (stop-from)/16+16)
	d := &decoder{memo: x86memo.Get()}
	defer x86memo.Put(d.memo)
	// The bits of the 64 bytes at word<<6 gather in registers until the sweep leaves them:
	// setting each in memory made the sweep wait on its own stores.
	word, starts, baseline := from>>6, uint64(0), uint64(0)
	for off := from; off < stop; {
		if off>>6 != word {
			s.setBits(word, starts, baseline)
			word, starts, baseline = off>>6, 0, 0
		}
		bit := uint64(1) << (off & 63)
		starts |= bit
		rest := data[off:]
		if len(rest) < a.minInst {
			break
		}
		if a.sweep != nil {
			if n, ok := a.sweep(s, addr+uint64(off), rest); ok {
				baseline |= bit
				off += n
				continue
			}
		}
		d.out = d.out[:0]
		off += a.decode(d, addr+uint64(off), rest)
		for i := range d.out {
			s.note(&d.out[i])
		}
	}
	s.setBits(word, starts, baseline)
	return s
}

// setBits adds the start and baseline bits of the 64 bytes at word<<6.
func (s *summary) setBits(word int, starts, baseline uint64) {
	if starts == 0 {
		return // also past the end, where a sweep of nothing stops
	}
	s.starts[word] |= starts
	if baseline != 0 {
		s.baseline[word] |= baseline
	}
}

// decodeRange decodes linearly every instruction that starts in
// data[from:stop], reusing d's buffer.
func decodeRange(a *arch, d *decoder, addr uint64, data []byte, from, stop int) []inst {
	d.out = d.out[:0]
	d.lastPage, d.lastLoad = pageReg{}, loadReg{}
	for off := from; off < stop; {
		rest := data[off:]
		if len(rest) < a.minInst {
			d.emit(inst{addr: addr + uint64(off), op: opDead})
			break
		}
		n := len(d.out)
		at := addr + uint64(off)
		off += a.decode(d, at, rest)
		if len(d.out) == n {
			// Every instruction gets an entry, even one that changes
			// nothing followed, so that branches and functions
			// starting there are found.
			d.emit(inst{addr: at, op: opNop})
		}
	}
	return d.out
}

// program is a swept executable with what its symbols say.
type program struct {
	arch       *arch
	secs       []*codeSection
	funcStarts []uint64
	names      map[uint64]string // functions, PLT stubs, GOT slots
	nameRank   map[uint64]int
	hinted     map[uint64]loc
	imports    map[uint64]bool // GOT slots: nothing to analyse behind them
	units      []unit
	dec        decoder // for the units, one at a time
}

func newProgram(f *elf.File, a *arch, secs []*codeSection) *program {
	p := &program{
		arch:     a,
		secs:     secs,
		names:    map[uint64]string{},
		nameRank: map[uint64]int{},
		hinted:   map[uint64]loc{},
		imports:  map[uint64]bool{},
	}
	p.funcStarts = append(p.funcStarts, f.Entry)
	section := func(v uint64) int {
		for i, s := range secs {
			if v >= s.addr && v < s.end() {
				return i
			}
		}
		return -1
	}
	inCode := func(v uint64) bool { return section(v) >= 0 }
	syms, _ := elfimage.Symbols(f)
	dsyms, _ := elfimage.DynamicSymbols(f)
	for _, list := range [][]elf.Symbol{syms, dsyms} {
		for _, s := range list {
			t := elf.ST_TYPE(s.Info)
			if (t != elf.STT_FUNC && t != elf.STT_GNU_IFUNC) || s.Section == elf.SHN_UNDEF || !inCode(s.Value) {
				continue
			}
			p.funcStarts = append(p.funcStarts, s.Value)
			p.name(s.Value, s.Name, bindRank(elf.ST_BIND(s.Info)))
			if i, ok := hints[s.Name]; ok {
				p.hinted[s.Value] = a.argLoc(i)
			}
		}
	}
	for slot, name := range gotSlots(f, dsyms) {
		p.name(slot, name+"@got", 0)
		p.imports[slot] = true
		if i, ok := hints[name]; ok {
			p.hinted[slot] = a.argLoc(i)
		}
	}
	// Compiled code calls every few dozen bytes, mostly functions called before: a bitmap of
	// each section collects the targets once each, in order, where sorting every call's target
	// took a twentieth of check's time.
	called := make([][]uint64, len(secs))
	for i, s := range secs {
		called[i] = make([]uint64, (len(s.data)+63)/64)
	}
	for _, s := range secs {
		for _, c := range s.sum.calls {
			if c.op != opCall || c.flags&fSlot != 0 {
				continue
			}
			if i := section(c.target); i >= 0 {
				off := c.target - secs[i].addr
				called[i][off>>6] |= 1 << (off & 63)
			}
		}
	}
	var targets []uint64
	for i, s := range secs {
		for w, set := range called[i] {
			for ; set != 0; set &= set - 1 {
				targets = append(targets, s.addr+uint64(w<<6+mathbits.TrailingZeros64(set)))
			}
		}
	}
	// Each target is marked in the first section that holds it, and sections come in address
	// order, so overlapping ones too give their targets in order; sorting keeps that true of
	// sections in any order.
	if !slices.IsSorted(targets) {
		slices.Sort(targets)
	}
	slices.Sort(p.funcStarts)
	p.funcStarts = slices.Compact(mergeSorted(p.funcStarts, targets))
	// A stub that jumps through a named GOT slot is that import's PLT entry.
	for _, s := range secs {
		for _, c := range s.sum.calls {
			if c.op != opJump || c.flags&fSlot == 0 {
				continue
			}
			name, ok := p.names[c.target]
			if !ok {
				continue
			}
			k := sort.Search(len(p.funcStarts), func(k int) bool { return p.funcStarts[k] > c.addr }) - 1
			if k >= 0 && c.addr-p.funcStarts[k] <= 16 {
				p.name(p.funcStarts[k], strings.TrimSuffix(name, "@got")+"@plt", 0)
			}
		}
	}
	p.splitUnits()
	return p
}

// mergeSorted merges two sorted lists into one.
func mergeSorted(a, b []uint64) []uint64 {
	out := make([]uint64, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if a[0] <= b[0] {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	return append(append(out, a...), b...)
}

func bindRank(b elf.SymBind) int {
	switch b {
	case elf.STB_GLOBAL:
		return 3
	case elf.STB_WEAK:
		return 2
	}
	return 1
}

// name records a name for addr, preferring global over weak over local
// symbols, then the lexically first, so results are stable.
func (p *program) name(addr uint64, name string, rank int) {
	if name == "" {
		return
	}
	old, ok := p.names[addr]
	if ok && (p.nameRank[addr] > rank || p.nameRank[addr] == rank && old <= name) {
		return
	}
	p.names[addr] = name
	p.nameRank[addr] = rank
}

func (p *program) isFuncStart(addr uint64) bool {
	i := sort.Search(len(p.funcStarts), func(i int) bool { return p.funcStarts[i] >= addr })
	return i < len(p.funcStarts) && p.funcStarts[i] == addr
}

func (p *program) label(addr uint64) string {
	if n, ok := p.names[addr]; ok {
		return n
	}
	return fmt.Sprintf("%#x", addr)
}

// gotSlots maps GOT slots to the dynamic symbols relocations bind them to.
func gotSlots(f *elf.File, dsyms []elf.Symbol) map[uint64]string {
	slots := map[uint64]string{}
	if len(dsyms) == 0 {
		return slots
	}
	for _, s := range f.Sections {
		if s.Type != elf.SHT_RELA || int(s.Link) >= len(f.Sections) || f.Sections[s.Link].Type != elf.SHT_DYNSYM {
			continue
		}
		if s.Size > maxRelaBytes {
			continue
		}
		data, err := elfimage.SectionData(s)
		if err != nil {
			continue
		}
		for off := 0; off+24 <= len(data); off += 24 {
			r := f.ByteOrder.Uint64(data[off:])
			info := f.ByteOrder.Uint64(data[off+8:])
			sym := info >> 32
			if sym == 0 || sym > uint64(len(dsyms)) {
				continue
			}
			if name := dsyms[sym-1].Name; name != "" {
				slots[r] = name
			}
		}
	}
	return slots
}

// unit is code analysed on its own: from a function start, or the start
// of a section, to the next. No state crosses from one unit to another, so
// when trampolines are discovered only the units calling them are redone.
type unit struct {
	sec      *codeSection
	from, to uint64 // addresses
}

// splitUnits cuts each section at the function starts where the sweep
// starts an instruction.
func (p *program) splitUnits() {
	for _, s := range p.secs {
		from := s.addr
		i := sort.Search(len(p.funcStarts), func(i int) bool { return p.funcStarts[i] > s.addr })
		for ; i < len(p.funcStarts) && p.funcStarts[i] < s.end(); i++ {
			if f := p.funcStarts[i]; s.sum.start(int(f - s.addr)) {
				p.units = append(p.units, unit{sec: s, from: from, to: f})
				from = f
			}
		}
		p.units = append(p.units, unit{sec: s, from: from, to: s.end()})
	}
}

// callRef is a call or jump to target from unit.
type callRef struct {
	target uint64
	unit   int
}

// indexUnits finds the units that enter the kernel themselves, and the
// unit of every call and jump.
func (p *program) indexUnits() (entering []int, calls []callRef) {
	n := 0
	for _, s := range p.secs {
		n += len(s.sum.calls)
	}
	calls = make([]callRef, 0, n)
	u := 0
	for _, s := range p.secs {
		first := u
		for _, e := range s.sum.enters {
			for p.units[u].to <= e {
				u++
			}
			if len(entering) == 0 || entering[len(entering)-1] != u {
				entering = append(entering, u)
			}
		}
		u = first
		for _, c := range s.sum.calls {
			for p.units[u].to <= c.addr {
				u++
			}
			calls = append(calls, callRef{c.target, u})
		}
		for u < len(p.units) && p.units[u].sec == s {
			u++
		}
	}
	return entering, calls
}

// callersOf lists, in order, the units that call or jump to any of fns.
func callersOf(calls []callRef, fns map[uint64]bool) []int {
	var filter addrfilter.Filter
	for fn, ok := range fns {
		if ok {
			filter.Add(fn)
		}
	}
	var us []int
	for _, c := range calls {
		if filter.MayHave(c.target) && fns[c.target] && (len(us) == 0 || us[len(us)-1] != c.unit) {
			us = append(us, c.unit)
		}
	}
	return us
}

func (p *program) runUnit(z *analyzer, u int) []site {
	un := p.units[u]
	s := un.sec
	code := decodeRange(p.arch, &p.dec, s.addr, s.data, int(un.from-s.addr), int(un.to-s.addr))
	z.sites = nil
	z.run(code, s.end())
	return z.sites
}

func addLoc(t map[uint64][]loc, fn uint64, l loc, changed map[uint64]bool) {
	for _, o := range t[fn] {
		if o == l {
			return
		}
	}
	t[fn] = append(t[fn], l)
	changed[fn] = true
}

// discover adds every function whose number still is an incoming argument.
func (p *program) discover(t map[uint64][]loc, sites []site, changed map[uint64]bool) {
	for _, s := range sites {
		if s.int80 {
			continue
		}
		for _, e := range s.v.e[:s.v.n] {
			switch {
			case e.kind == kArg && uint8(e.x) != p.arch.sp:
				addLoc(t, s.fn, loc{reg: uint8(e.x)}, changed)
			case e.kind == kStackArg:
				addLoc(t, s.fn, loc{onStack: true, stack: e.x}, changed)
			}
		}
	}
}

// confirmHints keeps the name hints data flow cannot already settle: a
// function of that name whose syscalls have a definite number (say,
// specialised by link-time optimisation) is no trampoline.
func (p *program) confirmHints(t map[uint64][]loc, sites []site, changed map[uint64]bool) {
	settled := map[uint64]bool{}
	for _, s := range sites {
		if !s.v.unk && s.v.n > 0 {
			settled[s.fn] = true
		}
	}
	for fn, l := range p.hinted {
		if p.imports[fn] || !settled[fn] {
			addLoc(t, fn, l, changed)
		}
	}
}

// analyse runs the data flow to a fixed point: each round finds the
// trampolines the last one's results reveal and redoes their callers.
func (p *program) analyse() *Result {
	p.dec.memo = x86memo.Get()
	defer func() {
		x86memo.Put(p.dec.memo)
		p.dec.memo = nil
	}()
	tramps := map[uint64][]loc{}
	z := &analyzer{arch: p.arch, funcStarts: p.funcStarts, tramps: tramps, pending: map[uint64]*state{}}
	unitSites := make([][]site, len(p.units))
	// Until trampolines are known, only a syscall instruction makes a
	// site: the first round runs the units that have one.
	entering, calls := p.indexUnits()
	var all []site
	for _, u := range entering {
		unitSites[u] = p.runUnit(z, u)
		all = append(all, unitSites[u]...)
	}
	changed := map[uint64]bool{}
	p.confirmHints(tramps, all, changed)
	p.discover(tramps, all, changed)
	for round := 0; len(changed) > 0 && round < 64; round++ {
		redo := callersOf(calls, changed)
		changed = map[uint64]bool{}
		for _, u := range redo {
			unitSites[u] = p.runUnit(z, u)
			p.discover(tramps, unitSites[u], changed)
		}
	}
	all = all[:0]
	for _, s := range unitSites {
		all = append(all, s...)
	}
	return p.result(tramps, all, calls)
}

func (p *program) result(tramps map[uint64][]loc, sites []site, calls []callRef) *Result {
	res := &Result{Arch: p.arch.name}
	callers := map[uint64]int{}
	for _, s := range sites {
		if s.via != 0 {
			callers[s.via]++
		}
	}
	numbers := map[int]bool{}
	for _, s := range sites {
		unresolved := s.v.unk || s.v.n == 0
		via := ""
		if s.via != 0 {
			via = p.label(s.via)
		}
		for _, e := range s.v.e[:s.v.n] {
			switch e.kind {
			case kConst:
				if e.x < 0 || e.x >= maxSyscallNumber {
					unresolved = true
					continue
				}
				site := Site{Addr: s.addr, Number: int(e.x), Via: via, Func: s.fn}
				if s.int80 {
					res.Int80 = append(res.Int80, site)
					continue
				}
				res.Sites = append(res.Sites, site)
				numbers[int(e.x)] = true
			case kArg, kStackArg:
				// Resolved at the callers of s.fn, if it has any.
				if s.int80 || callers[s.fn] == 0 {
					unresolved = true
				}
			default:
				unresolved = true
			}
		}
		if unresolved {
			res.Unknown++
			res.UnknownAddrs = append(res.UnknownAddrs, s.addr)
		}
	}
	// A trampoline whose address is taken may be called where no call
	// instruction names it.
	for _, sec := range p.secs {
		for _, c := range sec.sum.consts {
			if t := c.target; len(tramps[t]) > 0 && !p.imports[t] && p.isFuncStart(t) {
				res.Unknown++
				res.UnknownAddrs = append(res.UnknownAddrs, c.addr)
			}
		}
	}
	res.Callers = map[uint64][]uint64{}
	for _, s := range res.Sites {
		res.Callers[s.Func] = nil
	}
	// calls come in the order of their units, and consts after them, so a caller already
	// listed for fn is the last one: checking it keeps the lists free of repeats in one pass,
	// however many calls a hostile file makes to one function.
	var sited addrfilter.Filter
	for fn := range res.Callers {
		sited.Add(fn)
	}
	addCaller := func(fn, from uint64) {
		if list, ok := res.Callers[fn]; ok && (len(list) == 0 || list[len(list)-1] != from) {
			res.Callers[fn] = append(list, from)
		}
	}
	for _, c := range calls {
		if sited.MayHave(c.target) {
			addCaller(c.target, p.units[c.unit].from)
		}
	}
	for _, sec := range p.secs {
		for _, c := range sec.sum.consts {
			if sited.MayHave(c.target) {
				addCaller(c.target, 0)
			}
		}
	}
	for n := range numbers {
		res.Numbers = append(res.Numbers, n)
	}
	slices.Sort(res.Numbers)
	for fn := range tramps {
		// Code reached only by jumping back to it also "receives" its
		// number, but only real functions are worth naming.
		_, named := p.names[fn]
		if named || callers[fn] > 0 && p.isFuncStart(fn) {
			res.Trampolines = append(res.Trampolines, p.label(fn))
		}
	}
	slices.Sort(res.Trampolines)
	cmpSite := func(a, b Site) int {
		if a.Addr != b.Addr {
			return cmpUint64(a.Addr, b.Addr)
		}
		if a.Number != b.Number {
			return a.Number - b.Number
		}
		return strings.Compare(a.Via, b.Via)
	}
	slices.SortFunc(res.Sites, cmpSite)
	res.Sites = slices.Compact(res.Sites)
	slices.SortFunc(res.Int80, cmpSite)
	res.Int80 = slices.Compact(res.Int80)
	slices.Sort(res.UnknownAddrs)
	return res
}

func cmpUint64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
