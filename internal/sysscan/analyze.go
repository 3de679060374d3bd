package sysscan

import "sort"

// opcode is one step of the small instruction set both architectures are
// translated into; only what moves syscall numbers around is modelled.
type opcode uint8

const (
	opNop     opcode = iota
	opPad            // nop: alignment padding, also between functions
	opDead           // control does not fall through: ret, hlt, ud2, int3, indirect jump, undecodable bytes
	opClobber        // dst = unknown
	opConst          // dst = imm
	opMove           // dst = src, extended from aux bytes (fSigned) and narrowed to width
	opArith          // dst = src <aux> (imm if fImm, else src2), width bytes
	opLea            // dst = base + src*aux + imm
	opLoad           // dst = width bytes at [base+disp] (fSigned: sign-extended), into an aux-byte register
	opStore          // [base+disp] = src (imm if fImm, unknown if src is regNone), width bytes
	opSelect         // dst = src or src2
	opSwap           // dst, src = src, dst
	opCall           // call imm (0: unknown target; fSlot: through the GOT slot at imm)
	opJump           // jump to imm (fCond: conditional; fSlot: through the GOT slot at imm)
	opSyscall        // the kernel is entered; number in arch.nr
	opInt80          // x86 int 0x80: the i386 table
)

const (
	fImm uint8 = 1 << iota
	fSigned
	fCond
	fSlot
)

const (
	regNone uint8 = 0xff
	regZero uint8 = 0xfe // reads as 0, writes vanish
)

type inst struct {
	addr                 uint64
	imm                  int64
	disp                 int32
	op                   opcode
	dst, src, src2, base uint8
	width, aux, flags    uint8
}

const (
	numRegs      = 32
	maxSlots     = 16
	maxStackArgs = 32
	maxPending   = 4096
)

type slot struct {
	key   int64
	v     val
	age   uint32 // when stored: the oldest slot makes room
	width uint8
	used  bool
}

// state is what the analysis knows at one point of a function.
type state struct {
	regs  [numRegs]val
	slots [maxSlots]slot
	// dirty marks incoming stack-argument words that have been written.
	dirty uint32
	clock uint32
	fn    uint64
	live  bool
}

// loc is where a trampoline takes the syscall number: a register, or the
// incoming stack word at offset stack from the entry stack pointer.
type loc struct {
	reg     uint8
	onStack bool
	stack   int64
}

// site is one observation: a syscall instruction (via 0) or a call to a
// trampoline, with what the number may be there.
type site struct {
	addr  uint64
	fn    uint64
	via   uint64
	v     val
	int80 bool
}

type analyzer struct {
	arch       *arch
	funcStarts []uint64 // sorted
	tramps     map[uint64][]loc
	pending    map[uint64]*state
	targets    []uint64 // the keys of pending, as a min-heap
	free       []*state
	sites      []site
	cur        state
}

func (s *state) get(r uint8) val {
	if r == regZero {
		return constVal(0)
	}
	if r >= numRegs {
		return unknownVal
	}
	return s.regs[r]
}

func (s *state) set(r uint8, v val) {
	if r < numRegs {
		s.regs[r] = v
	}
}

func (s *state) reset(a *arch, fn uint64) {
	for i := 0; i < a.nregs; i++ {
		s.regs[i] = elemVal(kArg, int64(i))
	}
	s.regs[a.sp] = elemVal(kSP, 0)
	s.slots = [maxSlots]slot{}
	s.dirty = 0
	s.fn = fn
	s.live = true
}

// argWord returns the incoming stack-argument word a frame offset names.
func argWord(a *arch, key int64) (int, bool) {
	off := key - a.stackArgBase
	if off < 0 || off%8 != 0 || off >= 8*maxStackArgs {
		return 0, false
	}
	return int(off / 8), true
}

func overlaps(k1 int64, w1 uint8, k2 int64, w2 uint8) bool {
	return k1 < k2+int64(w2) && k2 < k1+int64(w1)
}

func (s *state) load(a *arch, key int64, width uint8) val {
	for i := range s.slots {
		sl := &s.slots[i]
		if !sl.used || !overlaps(sl.key, sl.width, key, width) {
			continue
		}
		if sl.key == key && width <= sl.width {
			return narrow(sl.v, width)
		}
		return unknownVal
	}
	if w, ok := argWord(a, key); ok && width == 8 && s.dirty&(1<<w) == 0 {
		return elemVal(kStackArg, key)
	}
	return unknownVal
}

func (s *state) store(a *arch, key int64, width uint8, v val) {
	for i := range s.slots {
		if s.slots[i].used && overlaps(s.slots[i].key, s.slots[i].width, key, width) {
			s.slots[i] = slot{}
		}
	}
	for k := key &^ 7; k < key+int64(width); k += 8 {
		if w, ok := argWord(a, k); ok {
			s.dirty |= 1 << w
		}
	}
	victim := 0
	for i := range s.slots {
		if !s.slots[i].used {
			victim = i
			break
		}
		if s.slots[i].age < s.slots[victim].age {
			victim = i
		}
	}
	s.clock++
	s.slots[victim] = slot{key: key, v: v, width: width, used: true, age: s.clock}
}

// frameKey resolves base+disp to a frame offset when base points into the
// current frame.
func (s *state) frameKey(base uint8, disp int64) (int64, bool) {
	e, ok := s.get(base).single()
	if !ok || e.kind != kSP {
		return 0, false
	}
	return e.x + disp, true
}

func (s *state) joinFrom(a *arch, o *state) {
	if s.fn != o.fn {
		// Code reached only by jumping back to it was started afresh as
		// if it were a function; where the real function's flow arrives,
		// the one that starts first (and so encloses the other) wins:
		// mixing frames measured from different entries means nothing.
		if o.fn < s.fn {
			*s = *o
		}
		s.live = true
		return
	}
	for i := 0; i < a.nregs; i++ {
		if s.regs[i] != o.regs[i] {
			s.regs[i] = join(s.regs[i], o.regs[i])
		}
	}
	s.live = true
	if s.slots == o.slots && s.dirty == o.dirty {
		return
	}
	var merged [maxSlots]slot
	n := 0
	put := func(key int64, width uint8, v val) {
		for i := 0; i < n; i++ {
			if merged[i].key == key {
				return
			}
		}
		if n < maxSlots {
			merged[n] = slot{key: key, v: v, width: width, used: true, age: s.clock}
			n++
		}
	}
	for _, sl := range s.slots {
		if sl.used {
			put(sl.key, sl.width, join(sl.v, o.load(a, sl.key, sl.width)))
		}
	}
	for _, sl := range o.slots {
		if sl.used {
			put(sl.key, sl.width, join(s.load(a, sl.key, sl.width), sl.v))
		}
	}
	s.slots = merged
	s.dirty |= o.dirty
}

func (z *analyzer) newState() *state {
	if n := len(z.free); n > 0 {
		st := z.free[n-1]
		z.free = z.free[:n-1]
		return st
	}
	return new(state)
}

func (z *analyzer) isFuncStart(addr uint64) bool {
	i := sort.Search(len(z.funcStarts), func(i int) bool { return z.funcStarts[i] >= addr })
	return i < len(z.funcStarts) && z.funcStarts[i] == addr
}

// run interprets one unit's code linearly: states flow forward along
// fall-through and forward branches; function starts and code reached only
// after an unconditional transfer begin afresh. Loops are not iterated.
func (z *analyzer) run(code []inst, end uint64) {
	a := z.arch
	s := &z.cur
	s.live = false
	z.dropPending()
	if len(code) == 0 {
		return
	}
	fi := sort.Search(len(z.funcStarts), func(i int) bool { return z.funcStarts[i] >= code[0].addr })
	for i := range code {
		in := &code[i]
		if i == 0 || code[i-1].addr != in.addr {
			for fi < len(z.funcStarts) && z.funcStarts[fi] < in.addr {
				fi++
			}
			p := z.takePending(in.addr)
			switch {
			case fi < len(z.funcStarts) && z.funcStarts[fi] == in.addr:
				// Jumps to a function start are tail calls, observed as
				// such, and nothing flows on from one function into
				// another.
				if p != nil {
					z.free = append(z.free, p)
				}
				z.dropPending()
				s.reset(a, in.addr)
			case p != nil:
				if s.live {
					s.joinFrom(a, p)
				} else {
					*s = *p
				}
				z.free = append(z.free, p)
			case !s.live && in.op != opPad && in.op != opDead:
				s.reset(a, in.addr)
			}
		}
		if s.live {
			z.step(in, end)
		}
	}
}

func (z *analyzer) step(in *inst, end uint64) {
	a := z.arch
	s := &z.cur
	switch in.op {
	case opNop, opPad:
	case opDead:
		s.live = false
	case opClobber:
		s.set(in.dst, unknownVal)
	case opConst:
		s.set(in.dst, constVal(in.imm))
	case opMove:
		v := s.get(in.src)
		if in.aux != 0 {
			v = extend(v, in.aux, in.flags&fSigned != 0)
		}
		s.set(in.dst, narrow(v, in.width))
	case opArith:
		b := constVal(in.imm)
		if in.flags&fImm == 0 {
			b = s.get(in.src2)
		}
		s.set(in.dst, arith(in.aux, s.get(in.src), b, in.width))
	case opLea:
		v := constVal(in.imm)
		if in.base != regNone {
			v = arith(aAdd, s.get(in.base), v, 8)
		}
		if in.src != regNone {
			v = arith(aAdd, v, arith(aMul, s.get(in.src), constVal(int64(in.aux)), 8), 8)
		}
		s.set(in.dst, narrow(v, in.width))
	case opLoad:
		v := unknownVal
		if key, ok := s.frameKey(in.base, int64(in.disp)); ok {
			v = s.load(a, key, in.width)
			v = extend(v, in.width, in.flags&fSigned != 0)
		}
		s.set(in.dst, narrow(v, in.aux))
	case opStore:
		key, ok := s.frameKey(in.base, int64(in.disp))
		if !ok {
			return
		}
		v := unknownVal
		switch {
		case in.flags&fImm != 0:
			v = constVal(in.imm)
		case in.src != regNone:
			v = s.get(in.src)
		}
		s.store(a, key, in.width, narrow(v, in.width))
	case opSelect:
		s.set(in.dst, narrow(join(s.get(in.src), s.get(in.src2)), in.width))
	case opSwap:
		x, y := s.get(in.dst), s.get(in.src)
		s.set(in.dst, y)
		s.set(in.src, x)
	case opCall:
		if in.imm != 0 {
			z.observeCall(in.addr, uint64(in.imm), a.retAddr)
		}
		for _, r := range a.callerSaved {
			s.regs[r] = unknownVal
		}
		if sp, ok := s.get(a.sp).single(); ok && sp.kind == kSP {
			for i := range s.slots {
				if s.slots[i].used && s.slots[i].key < sp.x {
					s.slots[i] = slot{}
				}
			}
		}
	case opJump:
		t := uint64(in.imm)
		z.observeCall(in.addr, t, 0)
		if in.flags&fSlot != 0 {
			s.live = false
			return
		}
		if t > in.addr && t < end && !z.isFuncStart(t) {
			z.addPending(t)
		}
		if in.flags&fCond == 0 {
			s.live = false
		}
	case opSyscall:
		z.sites = append(z.sites, site{addr: in.addr, fn: s.fn, v: s.get(a.nr)})
		for _, r := range a.syscallClobbers {
			s.regs[r] = unknownVal
		}
	case opInt80:
		z.sites = append(z.sites, site{addr: in.addr, fn: s.fn, v: narrow(s.get(a.nr), 4), int80: true})
		s.regs[a.nr] = unknownVal
	}
}

func (z *analyzer) dropPending() {
	for _, p := range z.pending {
		z.free = append(z.free, p)
	}
	clear(z.pending)
	z.targets = z.targets[:0]
}

// addPending merges the current state into what reaches branch target t.
func (z *analyzer) addPending(t uint64) {
	if p := z.pending[t]; p != nil {
		p.joinFrom(z.arch, &z.cur)
		return
	}
	if len(z.pending) >= maxPending {
		return
	}
	p := z.newState()
	*p = z.cur
	z.pending[t] = p
	z.pushTarget(t)
}

// takePending returns the state branches bring to addr, dropping those for
// addresses already passed (targets inside an instruction: data, or a
// misdecoding).
func (z *analyzer) takePending(addr uint64) *state {
	for len(z.targets) > 0 && z.targets[0] <= addr {
		t := z.popTarget()
		p := z.pending[t]
		delete(z.pending, t)
		if t == addr {
			return p
		}
		z.free = append(z.free, p)
	}
	return nil
}

// targets is a min-heap of the addresses in pending.
func (z *analyzer) pushTarget(t uint64) {
	h := append(z.targets, t)
	for i := len(h) - 1; i > 0; {
		parent := (i - 1) / 2
		if h[parent] <= h[i] {
			break
		}
		h[parent], h[i] = h[i], h[parent]
		i = parent
	}
	z.targets = h
}

func (z *analyzer) popTarget() uint64 {
	h := z.targets
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h = h[:n]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && h[l] < h[m] {
			m = l
		}
		if r < n && h[r] < h[m] {
			m = r
		}
		if m == i {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	z.targets = h
	return top
}

// observeCall records the number a trampoline receives at a call or tail
// call. retAddr is what the transfer pushes before the callee runs.
func (z *analyzer) observeCall(addr, target uint64, retAddr int64) {
	locs := z.tramps[target]
	if len(locs) == 0 {
		return
	}
	s := &z.cur
	for _, l := range locs {
		v := unknownVal
		if !l.onStack {
			v = s.get(l.reg)
		} else if key, ok := s.frameKey(z.arch.sp, l.stack-retAddr); ok {
			v = s.load(z.arch, key, 8)
		}
		z.sites = append(z.sites, site{addr: addr, fn: s.fn, via: target, v: v})
	}
}
