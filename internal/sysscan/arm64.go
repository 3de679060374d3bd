package sysscan

import (
	"encoding/binary"

	"golang.org/x/arch/arm64/arm64asm"
)

// aarch64 registers: x0..x30 are 0..30, sp is 31.
var arm64 = &arch{
	name:            "aarch64",
	nregs:           32,
	sp:              31,
	nr:              8,
	callerSaved:     []uint8{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 30},
	syscallClobbers: []uint8{0},
	retAddr:         0,
	stackArgBase:    0,
	args:            []uint8{0, 1, 2, 3, 4, 5, 6, 7},
	minInst:         4,
	decode:          decodeARM64,
	// arm64asm.Decode records coverage in a package variable: calls
	// from several goroutines race.
	parallel: false,
}

// xreg maps an operand to a register number and width in bytes.
func xreg(a arm64asm.Arg) (uint8, uint8, bool) {
	switch r := a.(type) {
	case arm64asm.Reg:
		switch {
		case r <= arm64asm.W30:
			return uint8(r - arm64asm.W0), 4, true
		case r == arm64asm.WZR:
			return regZero, 4, true
		case r >= arm64asm.X0 && r <= arm64asm.X30:
			return uint8(r - arm64asm.X0), 8, true
		case r == arm64asm.XZR:
			return regZero, 8, true
		}
	case arm64asm.RegSP:
		switch rr := arm64asm.Reg(r); {
		case rr <= arm64asm.W30:
			return uint8(rr - arm64asm.W0), 4, true
		case rr == arm64asm.WSP:
			return 31, 4, true
		case rr >= arm64asm.X0 && rr <= arm64asm.X30:
			return uint8(rr - arm64asm.X0), 8, true
		case rr == arm64asm.SP:
			return 31, 8, true
		}
	}
	return 0, 0, false
}

// memOffset decodes the immediate offset of a load/store; arm64asm keeps it
// unexported.
func memOffset(enc uint32) (int64, bool) {
	switch {
	case enc&0x3b000000 == 0x39000000: // unsigned, scaled 12-bit offset
		scale := enc >> 30
		if enc&(1<<26) != 0 && scale == 0 && (enc>>23)&1 != 0 {
			scale = 4 // 128-bit SIMD register
		}
		return int64((enc>>10)&0xfff) << scale, true
	case enc&0x3b200000 == 0x38000000: // unscaled 9-bit offset, pre- or post-indexed
		return int64(int32(enc<<11) >> 23), true
	case enc&0x3a000000 == 0x28000000: // pair, scaled 7-bit offset
		opc := enc >> 30
		scale := 2 + opc>>1
		if enc&(1<<26) != 0 {
			scale = 2 + opc
		}
		return int64(int32(enc<<10)>>25) << scale, true
	}
	return 0, false
}

type memAccess struct {
	width  uint8
	signed bool
	store  bool
	pair   bool
}

var arm64Mem = map[arm64asm.Op]memAccess{
	arm64asm.LDR: {}, arm64asm.LDUR: {}, arm64asm.LDTR: {}, arm64asm.LDAR: {}, arm64asm.LDXR: {}, arm64asm.LDAXR: {},
	arm64asm.LDRB: {width: 1}, arm64asm.LDURB: {width: 1}, arm64asm.LDTRB: {width: 1}, arm64asm.LDARB: {width: 1},
	arm64asm.LDXRB: {width: 1}, arm64asm.LDAXRB: {width: 1},
	arm64asm.LDRH: {width: 2}, arm64asm.LDURH: {width: 2}, arm64asm.LDTRH: {width: 2}, arm64asm.LDARH: {width: 2},
	arm64asm.LDXRH: {width: 2}, arm64asm.LDAXRH: {width: 2},
	arm64asm.LDRSB: {width: 1, signed: true}, arm64asm.LDURSB: {width: 1, signed: true}, arm64asm.LDTRSB: {width: 1, signed: true},
	arm64asm.LDRSH: {width: 2, signed: true}, arm64asm.LDURSH: {width: 2, signed: true}, arm64asm.LDTRSH: {width: 2, signed: true},
	arm64asm.LDRSW: {width: 4, signed: true}, arm64asm.LDURSW: {width: 4, signed: true}, arm64asm.LDTRSW: {width: 4, signed: true},
	arm64asm.LDP: {pair: true}, arm64asm.LDNP: {pair: true}, arm64asm.LDXP: {pair: true}, arm64asm.LDAXP: {pair: true},
	arm64asm.LDPSW: {width: 4, signed: true, pair: true},
	arm64asm.STR:   {store: true}, arm64asm.STUR: {store: true}, arm64asm.STTR: {store: true}, arm64asm.STLR: {store: true},
	arm64asm.STRB: {width: 1, store: true}, arm64asm.STURB: {width: 1, store: true}, arm64asm.STTRB: {width: 1, store: true},
	arm64asm.STLRB: {width: 1, store: true},
	arm64asm.STRH:  {width: 2, store: true}, arm64asm.STURH: {width: 2, store: true}, arm64asm.STTRH: {width: 2, store: true},
	arm64asm.STLRH: {width: 2, store: true},
	arm64asm.STP:   {store: true, pair: true}, arm64asm.STNP: {store: true, pair: true},
}

var arm64ReadOnly = map[arm64asm.Op]bool{
	arm64asm.CMP: true, arm64asm.CMN: true, arm64asm.TST: true, arm64asm.CCMP: true, arm64asm.CCMN: true,
	arm64asm.FCMP: true, arm64asm.FCMPE: true, arm64asm.FCCMP: true, arm64asm.FCCMPE: true,
	arm64asm.HINT: true, arm64asm.YIELD: true, arm64asm.WFE: true, arm64asm.WFI: true, arm64asm.SEV: true, arm64asm.SEVL: true,
	arm64asm.DMB: true, arm64asm.DSB: true, arm64asm.ISB: true, arm64asm.CLREX: true, arm64asm.PRFM: true, arm64asm.PRFUM: true,
	arm64asm.MSR: true, arm64asm.SYS: true, arm64asm.HVC: true, arm64asm.SMC: true,
	arm64asm.ST1: true, arm64asm.ST2: true, arm64asm.ST3: true, arm64asm.ST4: true,
}

var arm64Arith = map[arm64asm.Op]uint8{
	arm64asm.ADD: aAdd, arm64asm.ADDS: aAdd, arm64asm.SUB: aSub, arm64asm.SUBS: aSub,
	arm64asm.AND: aAnd, arm64asm.ANDS: aAnd, arm64asm.ORR: aOr, arm64asm.EOR: aXor,
	arm64asm.LSL: aShl, arm64asm.LSR: aShr, arm64asm.ASR: aSar, arm64asm.MUL: aMul,
}

func decodeARM64(d *decoder, addr uint64, b []byte) int {
	if fastARM64(d, addr, binary.LittleEndian.Uint32(b)) {
		return 4
	}
	return decodeARM64Slow(d, addr, b)
}

func decodeARM64Slow(d *decoder, addr uint64, b []byte) int {
	in, err := arm64asm.Decode(b)
	enc := binary.LittleEndian.Uint32(b)
	emit := func(i inst) {
		i.addr = addr
		d.emit(i)
	}
	if err != nil {
		// Not understood (LSE atomics, SVE, data): forget both
		// register fields an instruction usually writes.
		emit(inst{op: opClobber, dst: uint8(enc & 31)})
		emit(inst{op: opClobber, dst: uint8(enc >> 16 & 31)})
		return 4
	}
	clobber := func(k int) {
		if r, _, ok := xreg(in.Args[k]); ok && r != regZero && r != 31 {
			emit(inst{op: opClobber, dst: r})
		}
	}
	pcrel := func(k int) (uint64, bool) {
		r, ok := in.Args[k].(arm64asm.PCRel)
		return addr + uint64(r), ok
	}
	op := in.Op
	if op == arm64asm.NOP {
		emit(inst{op: opPad})
		return 4
	}
	if arm64ReadOnly[op] {
		emit(inst{op: opNop})
		return 4
	}
	switch op {
	case arm64asm.SVC:
		emit(inst{op: opSyscall})
		return 4
	case arm64asm.BRK, arm64asm.HLT, arm64asm.ERET, arm64asm.RET:
		emit(inst{op: opDead})
		return 4
	case arm64asm.BL:
		if t, ok := pcrel(0); ok {
			emit(inst{op: opCall, imm: int64(t)})
		}
		return 4
	case arm64asm.B:
		if t, ok := pcrel(0); ok {
			emit(inst{op: opJump, imm: int64(t)})
		} else if t, ok := pcrel(1); ok {
			emit(inst{op: opJump, imm: int64(t), flags: fCond})
		}
		return 4
	case arm64asm.CBZ, arm64asm.CBNZ:
		if t, ok := pcrel(1); ok {
			emit(inst{op: opJump, imm: int64(t), flags: fCond})
		}
		return 4
	case arm64asm.TBZ, arm64asm.TBNZ:
		if t, ok := pcrel(2); ok {
			emit(inst{op: opJump, imm: int64(t), flags: fCond})
		}
		return 4
	case arm64asm.BR, arm64asm.BLR:
		// A PLT stub or -fno-plt call: adrp xA; ldr xB, [xA, #off]; br xB.
		r, _, _ := xreg(in.Args[0])
		slot, viaSlot := uint64(0), false
		if d.lastLoad.reg == r && d.lastLoad.addr < addr && addr-d.lastLoad.addr <= 8 {
			slot, viaSlot = d.lastLoad.slot, true
		}
		switch {
		case op == arm64asm.BLR && viaSlot:
			emit(inst{op: opCall, imm: int64(slot), flags: fSlot})
		case op == arm64asm.BLR:
			emit(inst{op: opCall})
		case viaSlot:
			emit(inst{op: opJump, imm: int64(slot), flags: fSlot})
		default:
			emit(inst{op: opDead})
		}
		return 4
	case arm64asm.ADRP, arm64asm.ADR:
		dst, _, ok := xreg(in.Args[0])
		if !ok {
			return 4
		}
		imm := int64(int32((enc>>5&0x7ffff)<<13|(enc>>29&3)<<11) >> 11)
		v := int64(addr) + imm
		if op == arm64asm.ADRP {
			v = int64(addr&^0xfff) + imm<<12
			d.lastPage = pageReg{reg: dst, page: uint64(v), addr: addr}
		}
		emit(inst{op: opConst, dst: dst, imm: v, width: 8})
		return 4
	case arm64asm.MOV, arm64asm.MOVZ, arm64asm.MOVN:
		dst, w, ok := xreg(in.Args[0])
		if !ok {
			return 4
		}
		if op != arm64asm.MOV {
			v := int64(enc>>5&0xffff) << (16 * (enc >> 21 & 3))
			if op == arm64asm.MOVN {
				v = ^v
			}
			emit(inst{op: opConst, dst: dst, imm: truncate(v, w), width: w})
			return 4
		}
		switch src := in.Args[1].(type) {
		case arm64asm.Imm:
			emit(inst{op: opConst, dst: dst, imm: truncate(int64(src.Imm), w), width: w})
		case arm64asm.Imm64:
			emit(inst{op: opConst, dst: dst, imm: truncate(int64(src.Imm), w), width: w})
		default:
			if s, _, ok := xreg(src); ok {
				emit(inst{op: opMove, dst: dst, src: s, width: w})
			} else {
				clobber(0)
			}
		}
		return 4
	case arm64asm.MOVK:
		dst, w, ok := xreg(in.Args[0])
		if !ok {
			return 4
		}
		shift := 16 * (enc >> 21 & 3)
		emit(inst{op: opArith, dst: dst, src: dst, aux: aAnd, imm: ^(int64(0xffff) << shift), flags: fImm, width: w})
		emit(inst{op: opArith, dst: dst, src: dst, aux: aOr, imm: int64(enc>>5&0xffff) << shift, flags: fImm, width: w})
		return 4
	case arm64asm.SXTW, arm64asm.SXTH, arm64asm.SXTB, arm64asm.UXTH, arm64asm.UXTB:
		dst, w, ok1 := xreg(in.Args[0])
		src, _, ok2 := xreg(in.Args[1])
		if !ok1 || !ok2 {
			clobber(0)
			return 4
		}
		from, signed := uint8(1), op == arm64asm.SXTB
		switch op {
		case arm64asm.SXTW:
			from, signed = 4, true
		case arm64asm.SXTH:
			from, signed = 2, true
		case arm64asm.UXTH:
			from = 2
		}
		emit(inst{op: opMove, dst: dst, src: src, aux: from, width: w, flags: flagIf(signed, fSigned)})
		return 4
	case arm64asm.CSEL:
		dst, w, ok := xreg(in.Args[0])
		a, _, okA := xreg(in.Args[1])
		b, _, okB := xreg(in.Args[2])
		if ok && okA && okB {
			emit(inst{op: opSelect, dst: dst, src: a, src2: b, width: w})
		} else {
			clobber(0)
		}
		return 4
	}

	if acc, ok := arm64Mem[op]; ok {
		decodeARM64Mem(d, emit, in, enc, acc, addr)
		return 4
	}
	if aop, ok := arm64Arith[op]; ok {
		dst, w, ok := xreg(in.Args[0])
		src, _, okS := xreg(in.Args[1])
		if !ok || !okS {
			clobber(0)
			return 4
		}
		switch a2 := in.Args[2].(type) {
		case arm64asm.ImmShift: // add/sub immediate
			imm := int64(enc >> 10 & 0xfff)
			if enc>>22&1 != 0 {
				imm <<= 12
			}
			emit(inst{op: opArith, dst: dst, src: src, aux: aop, imm: imm, flags: fImm, width: w})
		case arm64asm.Imm64: // logical immediate
			emit(inst{op: opArith, dst: dst, src: src, aux: aop, imm: int64(a2.Imm), flags: fImm, width: w})
		case arm64asm.Imm: // shift by immediate
			emit(inst{op: opArith, dst: dst, src: src, aux: aop, imm: int64(a2.Imm), flags: fImm, width: w})
		case arm64asm.Reg:
			s2, _, _ := xreg(a2)
			emit(inst{op: opArith, dst: dst, src: src, src2: s2, aux: aop, width: w})
		case arm64asm.RegExtshiftAmount:
			// Shifted-register forms without a shift are plain
			// register arithmetic; anything fancier is not followed.
			shifted := enc&0x1f000000 == 0x0b000000 || enc&0x1f000000 == 0x0a000000
			if shifted && enc&0x00200000 == 0 && enc>>10&0x3f == 0 {
				s2 := uint8(enc >> 16 & 31)
				if s2 == 31 {
					s2 = regZero
				}
				emit(inst{op: opArith, dst: dst, src: src, src2: s2, aux: aop, width: w})
			} else {
				clobber(0)
			}
		default:
			clobber(0)
		}
		return 4
	}
	switch op {
	case arm64asm.STXR, arm64asm.STLXR, arm64asm.STXRB, arm64asm.STLXRB, arm64asm.STXRH, arm64asm.STLXRH,
		arm64asm.STXP, arm64asm.STLXP:
		clobber(0)
		return 4
	}
	// Everything else writes its first operand, if that is a register.
	clobber(0)
	return 4
}

func decodeARM64Mem(d *decoder, emit func(inst), in arm64asm.Inst, enc uint32, acc memAccess, addr uint64) {
	memArg := 1
	if acc.pair {
		memArg = 2
	}
	var regs [2]uint8
	var widths [2]uint8
	n := 1
	if acc.pair {
		n = 2
	}
	for k := 0; k < n; k++ {
		r, w, ok := xreg(in.Args[k])
		if !ok {
			r, w = regNone, 16 // a SIMD register: only its size matters
		}
		if acc.width != 0 && ok {
			w = acc.width
		}
		regs[k], widths[k] = r, w
	}
	m, isImm := in.Args[memArg].(arm64asm.MemImmediate)
	off, okOff := memOffset(enc)
	base, _, okBase := xreg(m.Base)
	if !isImm || !okOff || !okBase {
		if !acc.store {
			for k := 0; k < n; k++ {
				if regs[k] < numRegs {
					emit(inst{op: opClobber, dst: regs[k]})
				}
			}
		}
		return
	}
	if m.Mode == arm64asm.AddrPreIndex {
		emit(inst{op: opArith, dst: base, src: base, aux: aAdd, imm: off, flags: fImm, width: 8})
	}
	disp := int32(off)
	if m.Mode != arm64asm.AddrOffset {
		disp = 0
	}
	pos := disp
	for k := 0; k < n; k++ {
		if acc.store {
			emit(inst{op: opStore, base: base, disp: pos, width: widths[k], src: regs[k]})
		} else if regs[k] < numRegs || regs[k] == regZero {
			full := uint8(8)
			if r, w, ok := xreg(in.Args[k]); ok && r != regNone {
				full = w
			}
			emit(inst{op: opLoad, dst: regs[k], base: base, disp: pos, width: widths[k], aux: full, flags: flagIf(acc.signed, fSigned)})
			if n == 1 && base != 31 && d.lastPage.reg == base && d.lastPage.addr < addr && addr-d.lastPage.addr <= 8 {
				d.lastLoad = loadReg{reg: regs[k], slot: d.lastPage.page + uint64(off), addr: addr}
			}
		}
		pos += int32(widths[k])
	}
	if m.Mode == arm64asm.AddrPostIndex {
		emit(inst{op: opArith, dst: base, src: base, aux: aAdd, imm: off, flags: fImm, width: 8})
	}
}
