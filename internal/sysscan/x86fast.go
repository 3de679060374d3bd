package sysscan

import (
	"encoding/binary"

	"github.com/portabin/portabin/internal/x86len"
)

// x86asm spends about half a microsecond on every instruction. The few
// encodings that make up most compiled code (mov, lea, push, pop, simple
// arithmetic, calls and branches without prefixes) are translated here
// directly; everything else, and anything unusual about these, falls back
// to x86asm. TestFastX86 checks both paths agree on real executables.

// modrm is a decoded ModRM operand: a register, or memory.
type modrm struct {
	reg     uint8 // the reg field, with REX.R
	rm      uint8 // register operand when direct, with REX.B
	direct  bool
	base    uint8 // regNone: none or rip
	rip     bool
	indexed bool
	disp    int64
	length  int // bytes of ModRM, SIB and displacement
}

func decodeModRM(b []byte, rex byte) (modrm, bool) {
	if len(b) < 1 {
		return modrm{}, false
	}
	m := b[0]
	mod, reg, rm := m>>6, m>>3&7, m&7
	r := modrm{reg: reg | (rex>>2&1)<<3, length: 1, base: regNone}
	if mod == 3 {
		r.direct = true
		r.rm = rm | (rex&1)<<3
		return r, true
	}
	dispSize := 0
	switch mod {
	case 1:
		dispSize = 1
	case 2:
		dispSize = 4
	}
	switch {
	case rm == 4: // SIB
		if len(b) < 2 {
			return modrm{}, false
		}
		sib := b[1]
		r.length++
		index := sib>>3&7 | (rex>>1&1)<<3
		base := sib & 7
		r.indexed = index != 4
		if base == 5 && mod == 0 {
			dispSize = 4
		} else {
			r.base = base | (rex&1)<<3
		}
	case rm == 5 && mod == 0:
		r.rip = true
		dispSize = 4
	default:
		r.base = rm | (rex&1)<<3
	}
	if len(b) < r.length+dispSize {
		return modrm{}, false
	}
	switch dispSize {
	case 1:
		r.disp = int64(int8(b[r.length]))
	case 4:
		r.disp = int64(int32(binary.LittleEndian.Uint32(b[r.length:])))
	}
	r.length += dispSize
	return r, true
}

// plainMem is the frame-trackable form the slow path accepts: a base
// register and displacement, or an absolute rip-relative address.
func (m modrm) plainMem() bool {
	return !m.indexed && (m.rip || m.base != regNone)
}

var fastArith = map[byte]uint8{0x01: aAdd, 0x09: aOr, 0x21: aAnd, 0x29: aSub, 0x31: aXor}

// groupArith maps the /digit of opcodes 0x81 and 0x83; adc and sbb are
// missing on purpose.
var groupArith = [8]uint8{aAdd, aOr, 0, 0, aAnd, aSub, aXor, 0}

func fastX86(d *decoder, addr uint64, b []byte) (int, bool) {
	rex := byte(0)
	p := 0
	if b[0]&0xf0 == 0x40 {
		rex = b[0]
		p = 1
	}
	if len(b) < p+1 {
		return 0, false
	}
	w := uint8(4)
	if rex&8 != 0 {
		w = 8
	}
	op := b[p]
	emit := func(i inst) {
		i.addr = addr
		d.emit(i)
	}
	rel := func(size int) (uint64, int, bool) {
		n := p + 1 + size
		if len(b) < n {
			return 0, 0, false
		}
		var r int64
		if size == 1 {
			r = int64(int8(b[p+1]))
		} else {
			r = int64(int32(binary.LittleEndian.Uint32(b[p+1:])))
		}
		return addr + uint64(n) + uint64(r), n, true
	}
	switch {
	case op >= 0x50 && op <= 0x57 && rex&^1 == 0x40 || op >= 0x50 && op <= 0x57 && rex == 0:
		r := op - 0x50 | (rex&1)<<3
		emit(inst{op: opArith, dst: 4, src: 4, aux: aSub, imm: 8, flags: fImm, width: 8})
		emit(inst{op: opStore, base: 4, width: 8, src: r})
		return p + 1, true
	case op >= 0x58 && op <= 0x5f && rex&^1 == 0x40 || op >= 0x58 && op <= 0x5f && rex == 0:
		r := op - 0x58 | (rex&1)<<3
		emit(inst{op: opLoad, dst: r, base: 4, width: 8, aux: 8})
		emit(inst{op: opArith, dst: 4, src: 4, aux: aAdd, imm: 8, flags: fImm, width: 8})
		return p + 1, true
	case rex != 0 && (op == 0x90 || op == 0xc3 || op == 0xe8 || op == 0xe9 || op == 0xeb || op&0xf0 == 0x70 || op == 0x0f):
		return 0, false
	case op == 0x90:
		emit(inst{op: opPad})
		return 1, true
	case op == 0xc3:
		emit(inst{op: opDead})
		return 1, true
	case op == 0xe8 || op == 0xe9:
		t, n, ok := rel(4)
		if !ok {
			return 0, false
		}
		o := opCall
		if op == 0xe9 {
			o = opJump
		}
		emit(inst{op: o, imm: int64(t)})
		return n, true
	case op == 0xeb:
		t, n, ok := rel(1)
		if !ok {
			return 0, false
		}
		emit(inst{op: opJump, imm: int64(t)})
		return n, true
	case op&0xf0 == 0x70:
		t, n, ok := rel(1)
		if !ok {
			return 0, false
		}
		emit(inst{op: opJump, imm: int64(t), flags: fCond})
		return n, true
	case op == 0x0f:
		if len(b) < 2 {
			return 0, false
		}
		switch op2 := b[1]; {
		case op2 == 0x05:
			emit(inst{op: opSyscall})
			return 2, true
		case op2&0xf0 == 0x80:
			if len(b) < 6 {
				return 0, false
			}
			t := addr + 6 + uint64(int64(int32(binary.LittleEndian.Uint32(b[2:]))))
			emit(inst{op: opJump, imm: int64(t), flags: fCond})
			return 6, true
		}
		return 0, false
	case op >= 0xb8 && op <= 0xbf:
		r := op - 0xb8 | (rex&1)<<3
		if w == 8 {
			if len(b) < p+9 {
				return 0, false
			}
			emit(inst{op: opConst, dst: r, imm: int64(binary.LittleEndian.Uint64(b[p+1:])), width: 8})
			return p + 9, true
		}
		if len(b) < p+5 {
			return 0, false
		}
		emit(inst{op: opConst, dst: r, imm: int64(binary.LittleEndian.Uint32(b[p+1:])), width: 4})
		return p + 5, true
	}

	// Instructions with a ModRM byte.
	switch op {
	case 0x89, 0x8b, 0x8d, 0x39, 0x3b, 0x85, 0x81, 0x83, 0xc7, 0x63,
		0x01, 0x03, 0x09, 0x0b, 0x21, 0x23, 0x29, 0x2b, 0x31, 0x33:
	default:
		return 0, false
	}
	m, ok := decodeModRM(b[p+1:], rex)
	if !ok {
		return 0, false
	}
	n := p + 1 + m.length
	next := addr + uint64(n)
	memBase := func() (uint8, int64) {
		if m.rip {
			return regNone, int64(next) + m.disp
		}
		return m.base, m.disp
	}
	switch op {
	case 0x39, 0x3b, 0x85: // cmp, test
		emit(inst{op: opNop})
		return n, true
	case 0x89, 0x8b: // mov
		switch {
		case m.direct && op == 0x89:
			emit(inst{op: opMove, dst: m.rm, src: m.reg, width: w})
		case m.direct:
			emit(inst{op: opMove, dst: m.reg, src: m.rm, width: w})
		case op == 0x8b:
			if base, disp := memBase(); m.plainMem() && base != regNone {
				emit(inst{op: opLoad, dst: m.reg, base: base, disp: int32(disp), width: w, aux: w})
			} else {
				emit(inst{op: opClobber, dst: m.reg})
			}
		default:
			if base, disp := memBase(); m.plainMem() && base != regNone {
				emit(inst{op: opStore, base: base, disp: int32(disp), width: w, src: m.reg})
			}
		}
		return n, true
	case 0x63: // movsxd
		if w != 8 {
			return 0, false
		}
		switch {
		case m.direct:
			emit(inst{op: opMove, dst: m.reg, src: m.rm, aux: 4, flags: fSigned, width: 8})
		default:
			if base, disp := memBase(); m.plainMem() && base != regNone {
				emit(inst{op: opLoad, dst: m.reg, base: base, disp: int32(disp), width: 4, aux: 8, flags: fSigned})
			} else {
				emit(inst{op: opClobber, dst: m.reg})
			}
		}
		return n, true
	case 0x8d: // lea
		if m.direct {
			return 0, false
		}
		if m.indexed {
			return 0, false // scale and index: leave to x86asm
		}
		if m.rip {
			emit(inst{op: opConst, dst: m.reg, imm: truncate(int64(next)+m.disp, w), width: w})
			return n, true
		}
		if m.base == regNone {
			emit(inst{op: opConst, dst: m.reg, imm: truncate(m.disp, w), width: w})
			return n, true
		}
		emit(inst{op: opLea, dst: m.reg, imm: m.disp, base: m.base, src: regNone, width: w})
		return n, true
	case 0xc7: // mov r/m, imm32
		if m.reg&7 != 0 || len(b) < n+4 {
			return 0, false
		}
		imm := int64(int32(binary.LittleEndian.Uint32(b[n:])))
		n += 4
		if m.direct {
			emit(inst{op: opConst, dst: m.rm, imm: truncate(imm, w), width: w})
			return n, true
		}
		if m.rip {
			return 0, false // the slow path reports this with a later next
		}
		if base, disp := memBase(); m.plainMem() && base != regNone {
			emit(inst{op: opStore, base: base, disp: int32(disp), width: w, src: regNone, imm: imm, flags: fImm})
		} else if !m.plainMem() {
			return 0, false
		}
		return n, true
	case 0x81, 0x83:
		size := 4
		if op == 0x83 {
			size = 1
		}
		if len(b) < n+size {
			return 0, false
		}
		var imm int64
		if size == 1 {
			imm = int64(int8(b[n]))
		} else {
			imm = int64(int32(binary.LittleEndian.Uint32(b[n:])))
		}
		n += size
		digit := m.reg & 7
		if digit == 7 { // cmp
			emit(inst{op: opNop})
			return n, true
		}
		aop := groupArith[digit]
		if !m.direct || aop == 0 {
			return 0, false
		}
		emit(inst{op: opArith, dst: m.rm, src: m.rm, aux: aop, imm: imm, flags: fImm, width: w})
		return n, true
	}
	// Two-operand arithmetic: op r/m, r (0x01...) or op r, r/m (0x03...).
	aop, ok := fastArith[op&^2]
	if !ok || !m.direct {
		return 0, false
	}
	dst, src := m.rm, m.reg
	if op&2 != 0 {
		dst, src = m.reg, m.rm
	}
	if dst == src && (aop == aXor || aop == aSub) {
		emit(inst{op: opConst, dst: dst, width: w})
	} else {
		emit(inst{op: opArith, dst: dst, src: dst, src2: src, aux: aop, width: w})
	}
	return n, true
}

// vectorX86 translates the SSE and SSE2 instructions x86len measures. They write no general
// register, so only a store into the frame is worth recording, as x86asm's path records it:
// an unknown value at base+disp, for a plain base register without index.
func vectorX86(d *decoder, addr uint64, b []byte) (int, bool) {
	in, ok := x86len.Vector(b)
	if !ok {
		return 0, false
	}
	if in.Store > 0 {
		m, ok := decodeModRM(b[in.ModRM:], in.REX)
		if !ok {
			return 0, false
		}
		if !m.rip && !m.indexed && m.base != regNone {
			d.emit(inst{addr: addr, op: opStore, base: m.base, disp: int32(m.disp), width: in.Store, src: regNone})
		}
	}
	return in.Len, true
}

// quietX86 translates padding (the multi-byte NOPs: 0F 1F /0 after the prefixes x86len.Plain
// reads and maybe a REX prefix; and 66 90) and TEST, which writes only flags. Compilers align
// every function and loop with the first and test before most branches with the second. The NOP
// with REX.W (gas's nopq) is padding like the others, although x86asm v0.33.0 does not know it
// and would take it for an undecodable byte, misplacing the instructions after it.
func quietX86(d *decoder, addr uint64, b []byte) (int, bool) {
	p, _ := x86len.Prefixes(b)
	if p < len(b) && b[p]&0xf0 == 0x40 {
		p++
	}
	if len(b) >= p+3 && b[p] == 0x0f && b[p+1] == 0x1f && b[p+2]>>3&7 == 0 {
		m, ok := decodeModRM(b[p+2:], 0)
		if !ok || p+2+m.length > 15 { // longer than any instruction a CPU runs
			return 0, false
		}
		d.emit(inst{addr: addr, op: opPad})
		return p + 2 + m.length, true
	}
	p = 0
	for p < len(b) && p < 6 && b[p] == 0x66 {
		p++
	}
	if p < len(b) && b[p] == 0x2e {
		p++
	}
	if p > 0 && p < len(b) && b[p] == 0x90 && b[p-1] == 0x66 {
		d.emit(inst{addr: addr, op: opPad})
		return p + 1, true
	}
	p = 0
	var rex byte
	if len(b) > 0 && b[0]&0xf0 == 0x40 {
		rex, p = b[0], 1
	}
	if len(b) < p+2 {
		return 0, false
	}
	n := 0
	switch op := b[p]; {
	case op == 0xa8:
		n = p + 2
	case op == 0xa9:
		n = p + 5
	case op == 0x84, (op == 0xf6 || op == 0xf7) && b[p+1]>>3&7 == 0:
		m, ok := decodeModRM(b[p+1:], rex)
		if !ok {
			return 0, false
		}
		n = p + 1 + m.length
		switch op {
		case 0xf6:
			n++
		case 0xf7:
			n += 4
		}
	default:
		return 0, false
	}
	if len(b) < n {
		return 0, false
	}
	d.emit(inst{addr: addr, op: opNop})
	return n, true
}

// sweepX86 is the sweep's fast path: inert instructions (inertX86), and the direct calls,
// jumps and conditional jumps, calls and jumps through rip-relative slots, and moves of an
// immediate into a register that come next in number, summarised exactly as translating them
// and noting the result would.
func sweepX86(s *summary, addr uint64, b []byte) (int, bool) {
	// Most instructions are neither branches nor constants: those are measured first.
	if n, ok := plainInert(b); ok {
		return n, true
	}
	if len(b) >= 6 {
		switch op := b[0]; {
		case op == 0xe8 || op == 0xe9:
			o := opCall
			if op == 0xe9 {
				o = opJump
			}
			s.branch(addr, addr+5+uint64(int64(int32(binary.LittleEndian.Uint32(b[1:])))), o, 0)
			return 5, true
		case op == 0xeb:
			s.branch(addr, addr+2+uint64(int64(int8(b[1]))), opJump, 0)
			return 2, true
		case op&0xf0 == 0x70:
			s.branch(addr, addr+2+uint64(int64(int8(b[1]))), opJump, fCond)
			return 2, true
		case op == 0x0f && b[1]&0xf0 == 0x80:
			s.branch(addr, addr+6+uint64(int64(int32(binary.LittleEndian.Uint32(b[2:])))), opJump, fCond)
			return 6, true
		case op >= 0xb8 && op <= 0xbf:
			s.constant(addr, uint64(binary.LittleEndian.Uint32(b[1:])))
			return 5, true
		case op == 0xff && (b[1] == 0x15 || b[1] == 0x25):
			// call or jmp through a rip-relative slot (the PLT's jumps, -fno-plt calls).
			o := opCall
			if b[1] == 0x25 {
				o = opJump
			}
			s.branch(addr, addr+6+uint64(int64(int32(binary.LittleEndian.Uint32(b[2:])))), o, fSlot)
			return 6, true
		}
	}
	if n, ok := sweepConstX86(s, addr, b); ok {
		return n, true
	}
	return inertX86(b)
}

// sweepConstX86 summarises, with or without a REX prefix, the instructions that fastX86
// translates into a constant or into arithmetic between registers: mov of an immediate, lea of
// a rip-relative address, and sub or xor between registers (of a register with itself, 0).
func sweepConstX86(s *summary, addr uint64, b []byte) (int, bool) {
	p, rex := 0, byte(0)
	if len(b) > 0 && b[0]&0xf0 == 0x40 {
		p, rex = 1, b[0]
	}
	if len(b) < p+10 {
		return 0, false
	}
	op, modrm := b[p], b[p+1]
	wide := rex&8 != 0
	switch {
	case op >= 0xb8 && op <= 0xbf:
		if wide {
			s.constant(addr, binary.LittleEndian.Uint64(b[p+1:]))
			return p + 9, true
		}
		s.constant(addr, uint64(binary.LittleEndian.Uint32(b[p+1:])))
		return p + 5, true
	case op == 0xc7 && modrm>>6 == 3 && modrm>>3&7 == 0:
		imm := int64(int32(binary.LittleEndian.Uint32(b[p+2:])))
		if !wide {
			imm = int64(uint32(imm))
		}
		s.constant(addr, uint64(imm))
		return p + 6, true
	case op == 0x8d && modrm&0xc7 == 0x05:
		n := p + 6
		v := int64(addr) + int64(n) + int64(int32(binary.LittleEndian.Uint32(b[p+2:])))
		if !wide {
			v = int64(uint32(v))
		}
		s.constant(addr, uint64(v))
		return n, true
	case (op == 0x29 || op == 0x2b || op == 0x31 || op == 0x33) && modrm>>6 == 3:
		if modrm>>3&7|(rex>>2&1)<<3 == modrm&7|(rex&1)<<3 {
			s.constant(addr, 0)
		}
		return p + 2, true
	}
	return 0, false
}

// How inertX86 treats an opcode byte after the prefixes.
const (
	inertAlways   = iota // inert when x86len measures it
	inertNever           // calls, jumps, int3 and mov of an immediate into a register
	inertToMemory        // inert with a memory destination only (mov, sub, xor)
	inertLea             // inert unless its address has no register
	inertIndirect        // inert unless a call or jmp through a rip-relative slot
	inertTwoByte         // 0F: decided by the second byte
	inertPrefix          // a prefix: look at what follows
)

var inertRule = func() (r [256]uint8) {
	for _, op := range []int{0xe8, 0xe9, 0xeb, 0xcc} {
		r[op] = inertNever
	}
	for op := 0x70; op <= 0x7f; op++ {
		r[op] = inertNever
	}
	for op := 0xb8; op <= 0xbf; op++ {
		r[op] = inertNever
	}
	for _, op := range []int{0xc7, 0x29, 0x2b, 0x31, 0x33} {
		r[op] = inertToMemory
	}
	r[0x8d], r[0xff], r[0x0f] = inertLea, inertIndirect, inertTwoByte
	for op := range 256 {
		if op&0xf0 == 0x40 || op == 0xf2 || op == 0xf3 || op == 0xf0 || op == 0x67 {
			r[op] = inertPrefix
		}
		if pre, _ := x86len.Prefixes([]byte{byte(op)}); pre > 0 {
			r[op] = inertPrefix
		}
	}
	return r
}()

// plainInert is inertX86's common case, an opcode that needs no closer look after no prefix
// or a REX prefix: what x86len.Plain measures of it. It gives what inertX86 gives, or false.
func plainInert(b []byte) (int, bool) {
	if len(b) == 0 {
		return 0, false
	}
	op := b[0]
	if op&0xf0 == 0x40 {
		if len(b) < 3 {
			return 0, false // as inertX86 refuses it
		}
		op = b[1]
	}
	if inertRule[op] != inertAlways {
		return 0, false
	}
	return x86len.Plain(b)
}

// inertX86 measures the instructions whose translation the sweep would throw away: every plain
// or vector instruction x86len measures except those that may call, jump, enter the kernel or
// load a constant (mov of an immediate into a register, lea of an address without registers,
// xor or sub of a register with itself); and int3, whose runs decodeX86 takes as one
// instruction.
func inertX86(b []byte) (int, bool) {
	if n, ok := plainInert(b); ok {
		return n, true
	}
	pre, _ := x86len.Prefixes(b)
	p := pre
	if p < len(b) && b[p]&0xf0 == 0x40 {
		p++
	}
	if len(b) < p+2 {
		return 0, false
	}
	op, modrm := b[p], b[p+1]
	switch inertRule[op] {
	case inertNever:
		return 0, false
	case inertToMemory:
		// A constant into a register; into memory it is a store, which the sweep drops.
		if modrm>>6 == 3 {
			return 0, false
		}
	case inertLea:
		// lea loads a constant only from an address without registers: rip-relative, or a
		// SIB byte without a base (its index is then the only register, if any).
		if modrm>>6 == 0 && (modrm&7 == 5 || modrm&7 == 4 && (len(b) < p+3 || b[p+2]&7 == 5)) {
			return 0, false
		}
	case inertIndirect:
		// call and jmp through a rip-relative slot are summarised.
		if digit := modrm >> 3 & 7; (digit == 2 || digit == 4) && modrm&0xc7 == 0x05 {
			return 0, false
		}
	case inertTwoByte:
		if modrm == 0x05 || modrm&0xf0 == 0x80 {
			return 0, false // syscall, jcc
		}
	}
	if n, ok := x86len.Plain(b); ok {
		return n, true
	}
	if in, ok := x86len.Vector(b); ok {
		return in.Len, true
	}
	return 0, false
}
