package sysscan

import (
	"golang.org/x/arch/x86/x86asm"
)

// x86-64 registers are numbered as in the instruction encoding:
// rax rcx rdx rbx rsp rbp rsi rdi r8..r15.
var amd64 = &arch{
	name:            "x86_64",
	nregs:           16,
	sp:              4,
	nr:              0,
	callerSaved:     []uint8{0, 1, 2, 6, 7, 8, 9, 10, 11},
	syscallClobbers: []uint8{0, 1, 11},
	retAddr:         8,
	stackArgBase:    8,
	args:            []uint8{7, 6, 2, 1, 8, 9},
	minInst:         1,
	decode:          decodeX86,
	sweep:           sweepX86,
	parallel:        true,
}

// gpr maps an x86asm register to its number and width in bytes; high-byte
// registers (ah..bh) report width 0: they are only ever clobbered.
func gpr(r x86asm.Reg) (uint8, uint8, bool) {
	switch {
	case r >= x86asm.AL && r <= x86asm.BL:
		return uint8(r - x86asm.AL), 1, true
	case r >= x86asm.AH && r <= x86asm.BH:
		return uint8(r - x86asm.AH), 0, true
	case r >= x86asm.SPB && r <= x86asm.R15B:
		return uint8(r-x86asm.SPB) + 4, 1, true
	case r >= x86asm.AX && r <= x86asm.R15W:
		return uint8(r - x86asm.AX), 2, true
	case r >= x86asm.EAX && r <= x86asm.R15L:
		return uint8(r - x86asm.EAX), 4, true
	case r >= x86asm.RAX && r <= x86asm.R15:
		return uint8(r - x86asm.RAX), 8, true
	}
	return 0, 0, false
}

func isJcc(op x86asm.Op) bool {
	switch op {
	case x86asm.JA, x86asm.JAE, x86asm.JB, x86asm.JBE, x86asm.JCXZ, x86asm.JE, x86asm.JECXZ,
		x86asm.JG, x86asm.JGE, x86asm.JL, x86asm.JLE, x86asm.JNE, x86asm.JNO, x86asm.JNP,
		x86asm.JNS, x86asm.JO, x86asm.JP, x86asm.JRCXZ, x86asm.JS,
		x86asm.LOOP, x86asm.LOOPE, x86asm.LOOPNE:
		return true
	}
	return false
}

func isCmov(op x86asm.Op) bool {
	return op >= x86asm.CMOVA && op <= x86asm.CMOVS
}

// x86ReadOnly lists instructions that write no general register and no
// stack memory the analysis follows.
var x86ReadOnly = map[x86asm.Op]bool{
	x86asm.CMP: true, x86asm.TEST: true, x86asm.BT: true, x86asm.NOP: true,
	x86asm.PREFETCHNTA: true, x86asm.PREFETCHT0: true, x86asm.PREFETCHT1: true, x86asm.PREFETCHT2: true,
	x86asm.PREFETCHW: true, x86asm.LFENCE: true, x86asm.MFENCE: true, x86asm.SFENCE: true, x86asm.PAUSE: true,
	x86asm.UCOMISS: true, x86asm.UCOMISD: true, x86asm.COMISS: true, x86asm.COMISD: true,
	x86asm.CLC: true, x86asm.STC: true, x86asm.CLD: true, x86asm.STD: true, x86asm.CMC: true,
	x86asm.PTEST: true, x86asm.VZEROUPPER: true, x86asm.EMMS: true, x86asm.LDMXCSR: true, x86asm.FLDCW: true,
}

// x86Implicit lists registers instructions write without naming them.
var x86Implicit = map[x86asm.Op][]uint8{
	x86asm.CPUID: {0, 1, 2, 3}, x86asm.RDTSC: {0, 2}, x86asm.RDTSCP: {0, 1, 2}, x86asm.XGETBV: {0, 2},
	x86asm.RDPMC: {0, 2}, x86asm.CWD: {2}, x86asm.CDQ: {2}, x86asm.CQO: {2},
	x86asm.CBW: {0}, x86asm.CWDE: {0}, x86asm.CDQE: {0}, x86asm.XLATB: {0}, x86asm.LAHF: {0},
	x86asm.MUL: {0, 2}, x86asm.DIV: {0, 2}, x86asm.IDIV: {0, 2},
	x86asm.CMPXCHG: {0}, x86asm.CMPXCHG8B: {0, 2}, x86asm.CMPXCHG16B: {0, 2},
	x86asm.LODSB: {0, 6, 1}, x86asm.LODSW: {0, 6, 1}, x86asm.LODSD: {0, 6, 1}, x86asm.LODSQ: {0, 6, 1},
	x86asm.STOSB: {7, 1}, x86asm.STOSW: {7, 1}, x86asm.STOSD: {7, 1}, x86asm.STOSQ: {7, 1},
	x86asm.MOVSB: {6, 7, 1}, x86asm.MOVSW: {6, 7, 1}, x86asm.MOVSD: {6, 7, 1}, x86asm.MOVSQ: {6, 7, 1},
	x86asm.SCASB: {7, 1}, x86asm.SCASW: {7, 1}, x86asm.SCASD: {7, 1}, x86asm.SCASQ: {7, 1},
	x86asm.CMPSB: {6, 7, 1}, x86asm.CMPSW: {6, 7, 1}, x86asm.CMPSD: {6, 7, 1}, x86asm.CMPSQ: {6, 7, 1},
	x86asm.LOOP: {1}, x86asm.LOOPE: {1}, x86asm.LOOPNE: {1},
	x86asm.ENTER: {4, 5}, x86asm.POPF: {4}, x86asm.POPFQ: {4}, x86asm.PUSHF: {4}, x86asm.PUSHFQ: {4},
}

var x86Arith = map[x86asm.Op]uint8{
	x86asm.ADD: aAdd, x86asm.SUB: aSub, x86asm.AND: aAnd, x86asm.OR: aOr, x86asm.XOR: aXor,
	x86asm.SHL: aShl, x86asm.SHR: aShr, x86asm.SAR: aSar, x86asm.IMUL: aMul,
}

// decodeX86 translates one instruction; it returns the instruction length.
func decodeX86(d *decoder, addr uint64, b []byte) int {
	if n, ok := fastX86(d, addr, b); ok {
		return n
	}
	if n, ok := quietX86(d, addr, b); ok {
		return n
	}
	if n, ok := vectorX86(d, addr, b); ok {
		return n
	}
	return decodeX86Slow(d, addr, b)
}

func decodeX86Slow(d *decoder, addr uint64, b []byte) int {
	if b[0] == 0xcc {
		// int3 padding, often long runs between Go functions: one trap
		// stands for the run.
		n := 1
		for n < len(b) && b[n] == 0xcc {
			n++
		}
		d.emit(inst{addr: addr, op: opDead})
		return n
	}
	in, err := d.memo.Decode(b)
	if err != nil || in.Len == 0 {
		d.emit(inst{addr: addr, op: opDead})
		return 1
	}
	next := addr + uint64(in.Len)
	emit := func(i inst) {
		i.addr = addr
		d.emit(i)
	}
	reg := func(k int) (uint8, uint8, bool) {
		r, ok := in.Args[k].(x86asm.Reg)
		if !ok {
			return 0, 0, false
		}
		return gpr(r)
	}
	// memory operand k as base+disp; ok is false for anything but a plain
	// register base (rip-relative addresses come back as absolute with
	// base regNone).
	mem := func(k int) (base uint8, disp int64, m x86asm.Mem, ok bool) {
		m, isMem := in.Args[k].(x86asm.Mem)
		if !isMem || (m.Segment != 0 && m.Segment != x86asm.SS && m.Segment != x86asm.DS) {
			return 0, 0, m, false
		}
		if m.Base == x86asm.RIP {
			return regNone, int64(next) + m.Disp, m, m.Index == 0
		}
		r, w, okr := gpr(m.Base)
		if !okr || w != 8 || m.Index != 0 {
			return 0, 0, m, false
		}
		return r, m.Disp, m, true
	}
	// clobberArg0 forgets what operand 0 held: a register, or frame memory.
	clobberArg0 := func() {
		if r, _, ok := reg(0); ok {
			emit(inst{op: opClobber, dst: r})
			return
		}
		if base, disp, _, ok := mem(0); ok && base != regNone {
			w := in.MemBytes
			if w <= 0 || w > 64 {
				w = 64
			}
			emit(inst{op: opStore, base: base, disp: int32(disp), width: uint8(w), src: regNone})
		}
	}
	// setReg writes v-producing instruction i to register operand 0 of width
	// w; partial (8/16-bit) writes merge into the old value.
	write := func(i inst, dst, w uint8) {
		if w == 0 {
			emit(inst{op: opClobber, dst: dst})
			return
		}
		if w < 4 {
			// A partial write keeps the upper bits, so only a constant
			// merged into a constant stays known (musl's __clone does
			// xor %eax,%eax; mov $56,%al).
			if i.op != opConst {
				emit(inst{op: opClobber, dst: dst})
				return
			}
			mask := int64(1)<<(8*w) - 1
			emit(inst{op: opArith, dst: dst, src: dst, aux: aAnd, imm: ^mask, flags: fImm, width: 8})
			emit(inst{op: opArith, dst: dst, src: dst, aux: aOr, imm: i.imm & mask, flags: fImm, width: 8})
			return
		}
		i.dst = dst
		i.width = w
		emit(i)
	}

	op := in.Op
	switch {
	case op == 0 || x86ReadOnly[op]:
		if op == x86asm.NOP {
			emit(inst{op: opPad})
		} else {
			emit(inst{op: opNop})
		}
		return in.Len
	case op == x86asm.SYSCALL:
		emit(inst{op: opSyscall})
		return in.Len
	case op == x86asm.INT:
		if imm, ok := in.Args[0].(x86asm.Imm); ok {
			switch imm {
			case 0x80:
				emit(inst{op: opInt80})
				return in.Len
			}
		}
		emit(inst{op: opClobber, dst: 0}) // the result
		return in.Len
	case op == x86asm.RET || op == x86asm.LRET || op == x86asm.HLT || op == x86asm.UD0 ||
		op == x86asm.UD1 || op == x86asm.UD2 || op == x86asm.IRETQ || op == x86asm.IRETD ||
		op == x86asm.IRET || op == x86asm.SYSRET:
		emit(inst{op: opDead})
		return in.Len
	case op == x86asm.CALL || op == x86asm.JMP:
		o := opCall
		if op == x86asm.JMP {
			o = opJump
		}
		switch a := in.Args[0].(type) {
		case x86asm.Rel:
			t := int64(next) + int64(a)
			emit(inst{op: o, imm: t})
		case x86asm.Mem:
			if base, disp, _, ok := mem(0); ok && base == regNone {
				emit(inst{op: o, imm: disp, flags: fSlot})
			} else if o == opCall {
				emit(inst{op: opCall})
			} else {
				emit(inst{op: opDead})
			}
		default:
			if o == opCall {
				emit(inst{op: opCall})
			} else {
				emit(inst{op: opDead})
			}
		}
		return in.Len
	case isJcc(op):
		if rel, ok := in.Args[0].(x86asm.Rel); ok {
			emit(inst{op: opJump, imm: int64(next) + int64(rel), flags: fCond})
		}
		for _, r := range x86Implicit[op] {
			emit(inst{op: opClobber, dst: r})
		}
		return in.Len
	}

	switch op {
	case x86asm.MOV, x86asm.MOVZX, x86asm.MOVSX, x86asm.MOVSXD:
		signed := op == x86asm.MOVSX || op == x86asm.MOVSXD
		if dst, w, ok := reg(0); ok {
			switch src := in.Args[1].(type) {
			case x86asm.Imm:
				write(inst{op: opConst, imm: truncate(int64(src), w)}, dst, w)
			case x86asm.Reg:
				if s, sw, ok := gpr(src); ok && sw != 0 {
					aux := uint8(0)
					if sw < w {
						aux = sw
					}
					write(inst{op: opMove, src: s, aux: aux, flags: flagIf(signed, fSigned)}, dst, w)
				} else {
					write(inst{op: opClobber}, dst, 0)
				}
			case x86asm.Mem:
				base, disp, _, ok := mem(1)
				mw := uint8(in.MemBytes)
				if ok && base != regNone && mw > 0 && mw <= 8 && w >= 4 {
					emit(inst{op: opLoad, dst: dst, base: base, disp: int32(disp), width: mw, aux: w, flags: flagIf(signed, fSigned)})
				} else {
					write(inst{op: opClobber}, dst, 0)
				}
			default:
				write(inst{op: opClobber}, dst, 0)
			}
			return in.Len
		}
		if _, ok := in.Args[0].(x86asm.Mem); ok {
			base, disp, _, ok := mem(0)
			mw := uint8(in.MemBytes)
			if !ok || base == regNone || mw == 0 || mw > 8 {
				clobberArg0()
				return in.Len
			}
			st := inst{op: opStore, base: base, disp: int32(disp), width: mw, src: regNone}
			switch src := in.Args[1].(type) {
			case x86asm.Imm:
				st.imm, st.flags = int64(src), fImm
			case x86asm.Reg:
				if s, sw, ok := gpr(src); ok && sw != 0 {
					st.src = s
				}
			}
			emit(st)
			return in.Len
		}
		clobberArg0()
		return in.Len
	case x86asm.LEA:
		dst, w, ok := reg(0)
		if !ok {
			return in.Len
		}
		m, isMem := in.Args[1].(x86asm.Mem)
		if !isMem {
			write(inst{op: opClobber}, dst, 0)
			return in.Len
		}
		l := inst{op: opLea, imm: m.Disp, base: regNone, src: regNone}
		if m.Base == x86asm.RIP {
			l.imm = int64(next) + m.Disp
		} else if m.Base != 0 {
			r, rw, ok := gpr(m.Base)
			if !ok || rw == 0 {
				write(inst{op: opClobber}, dst, 0)
				return in.Len
			}
			l.base = r
		}
		if m.Index != 0 {
			r, rw, ok := gpr(m.Index)
			if !ok || rw == 0 {
				write(inst{op: opClobber}, dst, 0)
				return in.Len
			}
			l.src, l.aux = r, m.Scale
		}
		if l.base == regNone && l.src == regNone {
			write(inst{op: opConst, imm: truncate(l.imm, w)}, dst, w)
			return in.Len
		}
		write(l, dst, w)
		return in.Len
	case x86asm.PUSH:
		emit(inst{op: opArith, dst: 4, src: 4, aux: aSub, imm: 8, flags: fImm, width: 8})
		st := inst{op: opStore, base: 4, width: 8, src: regNone}
		switch src := in.Args[0].(type) {
		case x86asm.Imm:
			st.imm, st.flags = int64(src), fImm
		case x86asm.Reg:
			if s, sw, ok := gpr(src); ok && sw == 8 {
				st.src = s
			}
		}
		emit(st)
		return in.Len
	case x86asm.POP:
		if dst, w, ok := reg(0); ok && w == 8 {
			emit(inst{op: opLoad, dst: dst, base: 4, width: 8, aux: 8})
		} else {
			clobberArg0()
		}
		emit(inst{op: opArith, dst: 4, src: 4, aux: aAdd, imm: 8, flags: fImm, width: 8})
		return in.Len
	case x86asm.LEAVE:
		emit(inst{op: opArith, dst: 4, src: 5, aux: aAdd, imm: 0, flags: fImm, width: 8})
		emit(inst{op: opLoad, dst: 5, base: 4, width: 8, aux: 8})
		emit(inst{op: opArith, dst: 4, src: 4, aux: aAdd, imm: 8, flags: fImm, width: 8})
		return in.Len
	case x86asm.XCHG:
		a, aw, okA := reg(0)
		b, bw, okB := reg(1)
		switch {
		case okA && okB && aw == 8 && bw == 8:
			emit(inst{op: opSwap, dst: a, src: b})
		default:
			clobberArg0()
			if okB {
				emit(inst{op: opClobber, dst: b})
			}
		}
		return in.Len
	case x86asm.XADD:
		clobberArg0()
		if r, _, ok := reg(1); ok {
			emit(inst{op: opClobber, dst: r})
		}
		return in.Len
	case x86asm.INC, x86asm.DEC, x86asm.NEG, x86asm.NOT:
		dst, w, ok := reg(0)
		if !ok {
			clobberArg0()
			return in.Len
		}
		switch op {
		case x86asm.INC:
			write(inst{op: opArith, src: dst, aux: aAdd, imm: 1, flags: fImm}, dst, w)
		case x86asm.DEC:
			write(inst{op: opArith, src: dst, aux: aSub, imm: 1, flags: fImm}, dst, w)
		case x86asm.NEG:
			write(inst{op: opArith, src: regZero, src2: dst, aux: aSub}, dst, w)
		case x86asm.NOT:
			write(inst{op: opArith, src: dst, aux: aXor, imm: -1, flags: fImm}, dst, w)
		}
		return in.Len
	}

	if isCmov(op) {
		dst, w, ok := reg(0)
		if !ok {
			return in.Len
		}
		if s, sw, ok := reg(1); ok && sw == w {
			write(inst{op: opSelect, src: dst, src2: s}, dst, w)
		} else {
			write(inst{op: opClobber}, dst, 0)
		}
		return in.Len
	}

	if aop, ok := x86Arith[op]; ok {
		dst, w, ok := reg(0)
		if !ok {
			clobberArg0()
			return in.Len
		}
		if op == x86asm.IMUL && in.Args[2] != nil {
			// imul dst, src, imm
			if s, sw, ok := reg(1); ok && sw == w {
				if imm, ok := in.Args[2].(x86asm.Imm); ok {
					write(inst{op: opArith, src: s, aux: aMul, imm: int64(imm), flags: fImm}, dst, w)
					return in.Len
				}
			}
			write(inst{op: opClobber}, dst, 0)
			return in.Len
		}
		if op == x86asm.IMUL && in.Args[1] == nil {
			// one-operand form writes rdx:rax
			emit(inst{op: opClobber, dst: 0})
			emit(inst{op: opClobber, dst: 2})
			return in.Len
		}
		switch src := in.Args[1].(type) {
		case x86asm.Imm:
			write(inst{op: opArith, src: dst, aux: aop, imm: int64(src), flags: fImm}, dst, w)
		case x86asm.Reg:
			s, sw, ok := gpr(src)
			switch {
			case ok && s == dst && sw == w && (aop == aXor || aop == aSub):
				write(inst{op: opConst}, dst, w)
			case ok && sw == w:
				write(inst{op: opArith, src: dst, src2: s, aux: aop}, dst, w)
			case ok && sw == 1 && (aop == aShl || aop == aShr || aop == aSar):
				write(inst{op: opArith, src: dst, src2: s, aux: aop}, dst, w)
			default:
				write(inst{op: opClobber}, dst, 0)
			}
		default:
			write(inst{op: opClobber}, dst, 0)
		}
		return in.Len
	}

	if regs, ok := x86Implicit[op]; ok {
		for _, r := range regs {
			emit(inst{op: opClobber, dst: r})
		}
		if op == x86asm.MUL || op == x86asm.DIV || op == x86asm.IDIV {
			return in.Len // operand 0 is the source
		}
	}
	// Anything else that names a general register first writes it (the
	// read-only ones were handled above).
	clobberArg0()
	return in.Len
}

func flagIf(b bool, f uint8) uint8 {
	if b {
		return f
	}
	return 0
}
