package sysscan

// arm64asm.Decode tries its instruction formats one after another, about
// half a microsecond each time. The encodings most code consists of are
// translated here straight from their bits; anything else, or anything
// unusual about these, goes to arm64asm. TestFastARM64 checks that both
// paths agree.

func bits(enc uint32, lo, n uint) uint32 { return enc >> lo & (1<<n - 1) }

func sext(v uint32, n uint) int64 { return int64(int32(v<<(32-n)) >> (32 - n)) }

// gprField maps a register field where 31 means the zero register.
func gprField(r uint32) uint8 {
	if r == 31 {
		return regZero
	}
	return uint8(r)
}

func fastARM64(d *decoder, addr uint64, enc uint32) bool {
	emit := func(i inst) {
		i.addr = addr
		d.emit(i)
	}
	rd, rn := bits(enc, 0, 5), bits(enc, 5, 5)
	w := uint8(4)
	if enc>>31 != 0 {
		w = 8
	}
	switch {
	case enc == 0xd503201f: // nop
		emit(inst{op: opPad})
	case enc&0xfffffc1f == 0xd65f0000: // ret
		emit(inst{op: opDead})
	case enc&0xffe0001f == 0xd4000001: // svc
		emit(inst{op: opSyscall})
	case enc&0x7c000000 == 0x14000000: // b, bl
		t := int64(addr) + sext(bits(enc, 0, 26), 26)*4
		if enc>>31 != 0 {
			emit(inst{op: opCall, imm: t})
		} else {
			emit(inst{op: opJump, imm: t})
		}
	case enc&0xff000010 == 0x54000000: // b.cond
		emit(inst{op: opJump, imm: int64(addr) + sext(bits(enc, 5, 19), 19)*4, flags: fCond})
	case enc&0x7e000000 == 0x34000000: // cbz, cbnz
		emit(inst{op: opJump, imm: int64(addr) + sext(bits(enc, 5, 19), 19)*4, flags: fCond})
	case enc&0x7e000000 == 0x36000000: // tbz, tbnz
		emit(inst{op: opJump, imm: int64(addr) + sext(bits(enc, 5, 14), 14)*4, flags: fCond})
	case enc&0x1f000000 == 0x10000000: // adr, adrp
		if rd == 31 {
			return false
		}
		imm := sext(bits(enc, 5, 19)<<2|bits(enc, 29, 2), 21)
		v := int64(addr) + imm
		if enc>>31 != 0 {
			v = int64(addr&^0xfff) + imm<<12
			d.lastPage = pageReg{reg: uint8(rd), page: uint64(v), addr: addr}
		}
		emit(inst{op: opConst, dst: uint8(rd), imm: v, width: 8})
	case enc&0x1f800000 == 0x12800000: // movn, movz, movk
		opc := bits(enc, 29, 2)
		hw := bits(enc, 21, 2)
		if rd == 31 || opc == 1 || w == 4 && hw > 1 {
			return false
		}
		imm16 := int64(bits(enc, 5, 16))
		shift := 16 * hw
		switch opc {
		case 0:
			emit(inst{op: opConst, dst: uint8(rd), imm: truncate(^(imm16 << shift), w), width: w})
		case 2:
			emit(inst{op: opConst, dst: uint8(rd), imm: truncate(imm16<<shift, w), width: w})
		case 3:
			emit(inst{op: opArith, dst: uint8(rd), src: uint8(rd), aux: aAnd, imm: ^(int64(0xffff) << shift), flags: fImm, width: w})
			emit(inst{op: opArith, dst: uint8(rd), src: uint8(rd), aux: aOr, imm: imm16 << shift, flags: fImm, width: w})
		}
	case enc&0x1f800000 == 0x11000000: // add, adds, sub, subs (immediate)
		imm, shifted := int64(bits(enc, 10, 12)), enc>>22&1 != 0
		if shifted {
			imm <<= 12
		}
		sub, setFlags := enc>>30&1 != 0, enc>>29&1 != 0
		switch {
		case setFlags && rd == 31: // cmp, cmn
			emit(inst{op: opNop})
		case !setFlags && !sub && imm == 0 && !shifted && (rd == 31 || rn == 31): // mov to or from sp
			emit(inst{op: opMove, dst: uint8(rd), src: uint8(rn), width: w})
		default:
			aop := aAdd
			if sub {
				aop = aSub
			}
			emit(inst{op: opArith, dst: uint8(rd), src: uint8(rn), aux: aop, imm: imm, flags: fImm, width: w})
		}
	case enc&0x7fe0ffe0 == 0x2a0003e0: // orr rd, zr, rm: mov
		if rd == 31 {
			return false
		}
		emit(inst{op: opMove, dst: uint8(rd), src: gprField(bits(enc, 16, 5)), width: w})
	case enc&0x3f000000 == 0x39000000: // load/store, unsigned offset
		size, opc := enc>>30, bits(enc, 22, 2)
		off := int64(bits(enc, 10, 12)) << size
		return fastMem(d, emit, addr, size, opc, uint8(rn), uint8(rd), regNone, off, 0)
	case enc&0x3f200000 == 0x38000000: // load/store, 9-bit offset, pre- or post-indexed
		size, opc := enc>>30, bits(enc, 22, 2)
		mode := bits(enc, 10, 2)
		var m uint8
		switch mode {
		case 1:
			m = 1 // post
		case 3:
			m = 2 // pre
		}
		return fastMem(d, emit, addr, size, opc, uint8(rn), uint8(rd), regNone, sext(bits(enc, 12, 9), 9), m)
	case enc&0x3e000000 == 0x28000000: // load/store pair
		opc, mode, load := enc>>30, bits(enc, 23, 2), enc>>22&1 != 0
		var size uint32
		switch {
		case opc == 0:
			size = 2
		case opc == 2:
			size = 3
		case opc == 1 && load && mode != 0: // ldpsw
			size = 2
		default:
			return false
		}
		var m uint8
		switch mode {
		case 1:
			m = 1
		case 3:
			m = 2
		}
		memOpc := uint32(0)
		if load {
			memOpc = 1
			if opc == 1 {
				memOpc = 2
			}
		}
		off := sext(bits(enc, 15, 7), 7) << size
		return fastMem(d, emit, addr, size, memOpc, uint8(rn), uint8(rd), uint8(bits(enc, 10, 5)), off, m)
	default:
		return false
	}
	return true
}

// fastMem translates a general-register load or store as decodeARM64Mem
// does. opc: 0 store, 1 load, 2 sign-extending load to 64 bits, 3 to 32
// bits; rt2 is the second register of a pair, or regNone; mode: 0 offset,
// 1 post-index, 2 pre-index.
func fastMem(d *decoder, emit func(inst), addr uint64, size, opc uint32, base, rt, rt2 uint8, off int64, mode uint8) bool {
	if size == 3 && opc >= 2 || size == 2 && opc == 3 {
		return false // prefetches, unallocated
	}
	width := uint8(1) << size
	full := uint8(4) // the register's width
	switch {
	case size == 3 || opc == 2:
		full = 8
	}
	regs := []uint8{gprField(uint32(rt))}
	if rt2 != regNone {
		regs = append(regs, gprField(uint32(rt2)))
	}
	if mode == 2 {
		emit(inst{op: opArith, dst: base, src: base, aux: aAdd, imm: off, flags: fImm, width: 8})
	}
	pos := int32(off)
	if mode != 0 {
		pos = 0
	}
	for _, r := range regs {
		if opc == 0 {
			emit(inst{op: opStore, base: base, disp: pos, width: width, src: r})
		} else {
			emit(inst{op: opLoad, dst: r, base: base, disp: pos, width: width, aux: full, flags: flagIf(opc >= 2, fSigned)})
			if len(regs) == 1 && base != 31 && d.lastPage.reg == base && d.lastPage.addr < addr && addr-d.lastPage.addr <= 8 {
				d.lastLoad = loadReg{reg: r, slot: d.lastPage.page + uint64(off), addr: addr}
			}
		}
		pos += int32(width)
	}
	if mode == 1 {
		emit(inst{op: opArith, dst: base, src: base, aux: aAdd, imm: off, flags: fImm, width: 8})
	}
	return true
}
