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

// Operand shapes of a one-byte opcode after an optional REX prefix.
const (
	shapeNone   = iota // not plain: let x86asm decide
	shapeOnly          // the opcode alone
	shapeImm8          // opcode, imm8 or rel8
	shapeImm32         // opcode, imm32 or rel32
	shapeMovImm        // B8+r: imm32, imm64 with REX.W
	shapeModRM         // opcode, ModRM (SIB, displacement)
	shapeModRMImm8
	shapeModRMImm32
	shapeGroup3 // F6/F7: test has an immediate, not/neg/mul/div do not
)

var plainShapes = func() (s [256]uint8) {
	set := func(shape uint8, ops ...int) {
		for _, op := range ops {
			s[op] = shape
		}
	}
	for base := 0x00; base <= 0x38; base += 8 { // add, or, adc, sbb, and, sub, xor, cmp
		set(shapeModRM, base, base+1, base+2, base+3)
		set(shapeImm8, base+4)
		set(shapeImm32, base+5)
	}
	for op := 0x50; op <= 0x5f; op++ { // push, pop
		set(shapeOnly, op)
	}
	for op := 0x70; op <= 0x7f; op++ { // jcc rel8
		set(shapeImm8, op)
	}
	for op := 0xb0; op <= 0xb7; op++ { // mov r8, imm8
		set(shapeImm8, op)
	}
	for op := 0xb8; op <= 0xbf; op++ {
		set(shapeMovImm, op)
	}
	set(shapeModRM, 0x63, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0xd0, 0xd1, 0xd2, 0xd3)
	set(shapeModRMImm8, 0x6b, 0x80, 0x83, 0xc0, 0xc1)
	set(shapeModRMImm32, 0x69, 0x81)
	set(shapeOnly, 0x90, 0x98, 0x99, 0xc3, 0xc9, 0xcc, 0xf4)
	set(shapeImm8, 0x6a, 0xa8, 0xeb)
	set(shapeImm32, 0x68, 0xa9, 0xe8, 0xe9)
	set(shapeGroup3, 0xf6, 0xf7)
	// 0x8d (lea), 0xc6/0xc7 (mov r/m, imm), 0xfe/0xff (inc, dec, call, jmp, push) have
	// encodings that are invalid or belong to an extension (xabort, xbegin); plainX86Length
	// checks their ModRM.
	return s
}()

// Plain returns the length of a baseline integer instruction, or false when a decoder must look.
func Plain(code []byte) (int, bool) {
	pre, short := Prefixes(code)
	if pre == 0 {
		return plain(code, false)
	}
	n, ok := plain(code[pre:], short)
	if !ok || pre+n > maxLength {
		return 0, false
	}
	return pre + n, true
}

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

// shortRejects are the opcodes Plain does not measure after 66: branches, calls, returns,
// pushes and pops, whose operand size in 64-bit mode CPUs and decoders treat differently.
var shortRejects = func() (r [256]bool) {
	for _, op := range []int{0x68, 0x6a, 0x9c, 0x9d, 0xc2, 0xc3, 0xc9, 0xca, 0xcb, 0xcf, 0xe8, 0xe9, 0xeb, 0xe3} {
		r[op] = true
	}
	for op := 0x50; op <= 0x5f; op++ {
		r[op] = true
	}
	for op := 0x70; op <= 0x7f; op++ {
		r[op] = true
	}
	return r
}()

// plain measures an instruction after the prefixes Plain reads; short is the 66 prefix.
func plain(code []byte, short bool) (int, bool) {
	p := 0
	if len(code) > 0 && code[0]&0xf0 == 0x40 {
		p = 1 // REX
	}
	if len(code) <= p {
		return 0, false
	}
	op := code[p]
	rexW := p == 1 && code[0]&8 != 0
	n := p + 1
	// 66 makes immediates of operand size two bytes long, unless REX.W asks for 64 bits.
	imm := 4
	if short {
		if shortRejects[op] || op == 0xff && len(code) > n && code[n]>>3&7 >= 2 ||
			op == 0x0f && len(code) > n && (code[n] == 0x05 || code[n]&0xf0 == 0x80) {
			return 0, false
		}
		if !rexW {
			imm = 2
		}
	}
	switch op {
	case 0x0f:
		return plain0F(code, p)
	case 0x8d: // lea: memory operands only
		m, ok := ModRMLength(code[n:])
		if !ok || code[n]>>6 == 3 {
			return 0, false
		}
		return fits(code, n+m)
	case 0xc6, 0xc7: // mov r/m, imm: /0 only (C6 F8 and C7 F8 are RTM's xabort and xbegin)
		if len(code) <= n || code[n]>>3&7 != 0 {
			return 0, false
		}
		m, ok := ModRMLength(code[n:])
		if !ok {
			return 0, false
		}
		if op == 0xc6 {
			return fits(code, n+m+1)
		}
		return fits(code, n+m+imm)
	case 0xfe, 0xff: // inc, dec (FE, FF); near call, jmp, push (FF /2, /4, /6)
		if len(code) <= n {
			return 0, false
		}
		digit := code[n] >> 3 & 7
		if op == 0xfe && digit > 1 || op == 0xff && (digit == 3 || digit == 5 || digit == 7) { // far call, far jmp
			return 0, false
		}
		m, ok := ModRMLength(code[n:])
		if !ok {
			return 0, false
		}
		return fits(code, n+m)
	}
	if (op == 0xc0 || op == 0xc1 || op >= 0xd0 && op <= 0xd3) && (len(code) <= n || code[n]>>3&7 == 6) {
		return 0, false // shift group /6 is undefined
	}
	if (op == 0xf6 || op == 0xf7) && (len(code) <= n || code[n]>>3&7 == 1) {
		return 0, false // test's undocumented /1 alias
	}
	switch plainShapes[op] {
	case shapeOnly:
		return n, true
	case shapeImm8:
		return fits(code, n+1)
	case shapeImm32:
		return fits(code, n+imm)
	case shapeMovImm:
		if rexW {
			return fits(code, n+8)
		}
		return fits(code, n+imm)
	case shapeModRM, shapeModRMImm8, shapeModRMImm32, shapeGroup3:
		m, ok := ModRMLength(code[n:])
		if !ok {
			return 0, false
		}
		n += m
		switch shape := plainShapes[op]; {
		case shape == shapeModRMImm8:
			n++
		case shape == shapeModRMImm32:
			n += imm
		case shape == shapeGroup3 && code[p+1]>>3&7 == 0: // test r/m, imm
			if op == 0xf6 {
				n++
			} else {
				n += imm
			}
		}
		return fits(code, n)
	}
	return 0, false
}

// plain0F measures the baseline two-byte opcodes: jcc rel32, setcc, cmovcc, movzx, movsx,
// imul, the multi-byte nop, and syscall.
func plain0F(code []byte, p int) (int, bool) {
	n := p + 2
	if len(code) < n {
		return 0, false
	}
	op := code[p+1]
	switch {
	case op == 0x05: // syscall
		return n, true
	case op&0xf0 == 0x80: // jcc rel32
		return fits(code, n+4)
	case op&0xf0 == 0x40, op&0xf0 == 0x90 && (len(code) <= n || code[n]>>3&7 == 0),
		op == 0xb6, op == 0xb7, op == 0xbe, op == 0xbf, op == 0xaf, op == 0x1f && (len(code) <= n || code[n]>>3&7 == 0):
		m, ok := ModRMLength(code[n:])
		if !ok {
			return 0, false
		}
		return fits(code, n+m)
	}
	return 0, false
}

func fits(code []byte, n int) (int, bool) {
	return n, len(code) >= n
}
