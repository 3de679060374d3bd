// Package x86len measures x86-64 instructions without a general decoder. golang.org/x/arch's
// decoder spends about half a microsecond on each instruction; most of a program's instructions
// are the baseline integer ones (moves, arithmetic, pushes, calls and branches) and, in
// vector-heavy code, a few dozen SSE and SSE2 ones, whose lengths a table gives. Anything else
// is left to the decoder. Its users check their fast paths against the decoder on real code.
package x86len

// Plain measures the baseline integer instructions, after segment prefixes (compilers write
// fs: for thread-local data, cs: in padding NOPs) and the operand-size prefix 66 (16-bit
// operands, and padding). Anything with another legacy prefix (F2, F3: the SSE encodings; F0,
// 67), a VEX, EVEX or XOP prefix, an x87 or 0F opcode other than a few baseline ones is not
// plain.
//
// Every instruction of a program passes through Plain, twice (CPU level and system calls), and
// the order of instructions is too irregular for a CPU to predict the branches of a decoder
// written as a switch. So one table lookup by opcode and ModRM reg field gives an
// instruction's form, and another by ModRM byte the length of its address.

// form describes an opcode, or an opcode with one ModRM reg field.
type form uint8

const (
	fValid   form = 1 << iota // a plain instruction
	fModRM                    // a ModRM byte follows the opcode
	fMemOnly                  // valid with a memory operand only (lea)
	fNoShort                  // not measured after 66: branches, calls, returns, pushes, pops
	fImm8                     // an 8-bit immediate or displacement
	fImmZ                     // an immediate of operand size: 4 bytes, 2 after 66 without REX.W
	fImmMov                   // mov's immediate: 8 bytes with REX.W, else as fImmZ
)

// oneByte and twoByte (after 0F) are indexed by opcode<<3 | ModRM reg field; an opcode without
// ModRM has the same form in all eight.
var oneByte, twoByte = buildForms()

func buildForms() (one, two [256 * 8]form) {
	set := func(t *[256 * 8]form, f form, ops ...int) {
		for _, op := range ops {
			for reg := range 8 {
				t[op<<3|reg] = f
			}
		}
	}
	setReg := func(t *[256 * 8]form, f form, op int, regs ...int) {
		for _, reg := range regs {
			t[op<<3|reg] = f
		}
	}
	const v, m = fValid, fValid | fModRM
	for base := 0x00; base <= 0x38; base += 8 { // add, or, adc, sbb, and, sub, xor, cmp
		set(&one, m, base, base+1, base+2, base+3)
		set(&one, v|fImm8, base+4)
		set(&one, v|fImmZ, base+5)
	}
	for op := 0x50; op <= 0x5f; op++ { // push, pop
		set(&one, v|fNoShort, op)
	}
	for op := 0x70; op <= 0x7f; op++ { // jcc rel8
		set(&one, v|fImm8|fNoShort, op)
	}
	for op := 0xb0; op <= 0xb7; op++ { // mov r8, imm8
		set(&one, v|fImm8, op)
	}
	for op := 0xb8; op <= 0xbf; op++ {
		set(&one, v|fImmMov, op)
	}
	set(&one, m, 0x63, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b)
	set(&one, m|fImm8, 0x6b, 0x80, 0x83)
	set(&one, m|fImmZ, 0x69, 0x81)
	set(&one, v, 0x90, 0x98, 0x99, 0xcc, 0xf4)
	set(&one, v|fNoShort, 0xc3, 0xc9)
	set(&one, v|fImm8, 0xa8)
	set(&one, v|fImm8|fNoShort, 0x6a, 0xeb)
	set(&one, v|fImmZ, 0xa9)
	set(&one, v|fImmZ|fNoShort, 0x68, 0xe8, 0xe9)
	set(&one, m|fMemOnly, 0x8d)                      // lea
	setReg(&one, m|fImm8, 0xc6, 0)                   // mov r/m8, imm8 (C6 F8 is RTM's xabort)
	setReg(&one, m|fImmZ, 0xc7, 0)                   // mov r/m, imm (C7 F8 is xbegin)
	setReg(&one, m|fImm8, 0xc0, 0, 1, 2, 3, 4, 5, 7) // shifts; /6 is undefined
	setReg(&one, m, 0xd0, 0, 1, 2, 3, 4, 5, 7)
	for _, op := range []int{0xc1, 0xd1, 0xd2, 0xd3} {
		f := m
		if op == 0xc1 {
			f |= fImm8
		}
		setReg(&one, f, op, 0, 1, 2, 3, 4, 5, 7)
	}
	setReg(&one, m|fImm8, 0xf6, 0)          // test r/m8, imm8; /1 is an undocumented alias
	setReg(&one, m, 0xf6, 2, 3, 4, 5, 6, 7) // not, neg, mul, imul, div, idiv
	setReg(&one, m|fImmZ, 0xf7, 0)
	setReg(&one, m, 0xf7, 2, 3, 4, 5, 6, 7)
	setReg(&one, m, 0xfe, 0, 1)             // inc, dec
	setReg(&one, m, 0xff, 0, 1)             // inc, dec
	setReg(&one, m|fNoShort, 0xff, 2, 4, 6) // near call, jmp, push; /3 and /5 are far
	// Two-byte opcodes: syscall, jcc rel32, cmovcc, setcc (/0), imul, movzx, movsx, and the
	// multi-byte nop (/0).
	set(&two, v|fNoShort, 0x05)
	for op := 0x80; op <= 0x8f; op++ {
		set(&two, v|fImmZ|fNoShort, op)
	}
	for op := 0x40; op <= 0x4f; op++ {
		set(&two, m, op)
	}
	for op := 0x90; op <= 0x9f; op++ {
		setReg(&two, m, op, 0)
	}
	set(&two, m, 0xaf, 0xb6, 0xb7, 0xbe, 0xbf)
	setReg(&two, m, 0x1f, 0)
	// Bit scans and tests, double shifts, byte swaps, prefetches and ud2 (which compilers put
	// after every call that does not return, and Rust and Go after every failed check): all
	// baseline, and without them a few percent of the instructions went to the decoder. bsf
	// and bsr are the forms without F3 (tzcnt, lzcnt), and F3 is not plain.
	set(&two, v|fNoShort, 0x0b)
	set(&two, m, 0xa3, 0xab, 0xb3, 0xbb, 0xbc, 0xbd, 0xa5, 0xad)
	set(&two, m|fImm8, 0xa4, 0xac)
	setReg(&two, m|fImm8, 0xba, 4, 5, 6, 7)
	for op := 0xc8; op <= 0xcf; op++ {
		set(&two, v|fNoShort, op) // bswap; with 66 undefined
	}
	setReg(&two, m|fMemOnly, 0x18, 0, 1, 2, 3)
	// Whether a ModRM byte follows is the opcode's, whatever its reg field: plain reads it from
	// the entry of reg 0, which is not an instruction for 0F BA (bt, bts, btr, btc are /4 to /7).
	for _, t := range []*[256 * 8]form{&one, &two} {
		for op := range 256 {
			for reg := range 8 {
				if t[op<<3|reg]&fModRM != 0 {
					t[op<<3] |= fModRM
				}
			}
		}
	}
	return one, two
}

// modrmLength gives, for each ModRM byte, the length of the ModRM byte, SIB byte and
// displacement, before the one case the SIB byte decides (bit 7: a SIB byte without a base
// register after mod 00 takes a 32-bit displacement).
var modrmLength = func() (t [256]uint8) {
	for b := range 256 {
		mod, rm := b>>6, b&7
		n := 1
		switch {
		case mod == 3:
		case rm == 4:
			n++ // SIB
			if mod == 0 {
				n |= 0x80
			}
		case mod == 0 && rm == 5:
			n += 4 // rip-relative
		}
		switch mod {
		case 1:
			n++
		case 2:
			n += 4
		}
		t[b] = uint8(n)
	}
	return t
}()

// ModRMLength is the length of a ModRM byte with its SIB byte and displacement, in 64-bit mode
// without an address-size prefix; false when b is too short.
func ModRMLength(b []byte) (int, bool) {
	if len(b) < 1 {
		return 0, false
	}
	n := int(modrmLength[b[0]])
	if n >= 0x80 {
		if len(b) < 2 {
			return 0, false
		}
		n &= 0x7f
		if b[1]&7 == 5 {
			n += 4
		}
	}
	return n, len(b) >= n
}

// Plain returns the length of a baseline integer instruction, or false when a decoder must look.
// It is small enough to be inlined, so that its callers call plain directly.
func Plain(code []byte) (int, bool) { return plain(code) }

// maxLength is the longest instruction a CPU runs; a longer one faults.
const maxLength = 15

// Prefixes counts the segment and operand-size prefixes that Plain reads at the start of code;
// short says that 66 is among them.
func Prefixes(code []byte) (n int, short bool) {
	for n < len(code) && isPrefix[code[n]] {
		short = short || code[n] == 0x66
		n++
	}
	return n, short
}

var isPrefix = [256]bool{0x26: true, 0x2e: true, 0x36: true, 0x3e: true, 0x64: true, 0x65: true, 0x66: true}

// plain is Plain.
func plain(code []byte) (int, bool) {
	pre, short := 0, false
	if len(code) > 0 && isPrefix[code[0]] {
		pre, short = Prefixes(code)
	}
	p := pre
	rexW := false
	if len(code) > p && code[p]&0xf0 == 0x40 {
		p, rexW = p+1, code[p]&8 != 0
	}
	if len(code) <= p {
		return 0, false
	}
	table := &oneByte
	op := code[p]
	n := p + 1
	if op == 0x0f {
		if len(code) <= n {
			return 0, false
		}
		table, op = &twoByte, code[n]
		n++
	}
	f := table[int(op)<<3]
	if f&fModRM != 0 {
		if len(code) <= n {
			return 0, false
		}
		modrm := code[n]
		f = table[int(op)<<3|int(modrm>>3&7)]
		if f&fMemOnly != 0 && modrm >= 0xc0 {
			return 0, false
		}
		m := int(modrmLength[modrm])
		if m >= 0x80 {
			if len(code) <= n+1 {
				return 0, false
			}
			m &= 0x7f
			if code[n+1]&7 == 5 {
				m += 4
			}
		}
		n += m
	}
	if f&fValid == 0 || short && f&fNoShort != 0 {
		return 0, false
	}
	switch {
	case f&fImm8 != 0:
		n++
	case f&fImmMov != 0 && rexW:
		n += 8
	case f&(fImmZ|fImmMov) != 0:
		if short && !rexW {
			n += 2
		} else {
			n += 4
		}
	}
	if n > maxLength && pre > 0 {
		return 0, false
	}
	return n, len(code) >= n
}
