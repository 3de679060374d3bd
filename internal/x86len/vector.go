package x86len

// The SSE and SSE2 instructions compilers emit most: those of the legacy 0F map that compute in
// vector registers or move between them and memory, write no general-purpose register, and need
// nothing beyond x86-64's baseline. Vector-heavy code (codecs, runtimes, memcpy) is mostly made
// of them.

// Inst is one measured vector instruction.
type Inst struct {
	Len   int  // bytes in all
	ModRM int  // offset of the ModRM byte
	REX   byte // the REX prefix, 0 when there is none
	// Store is how many bytes the instruction writes to its memory operand when that operand
	// is its destination; 0 when it only reads memory or its operands are registers.
	Store uint8
}

// entry describes one opcode under one mandatory prefix.
type entry struct {
	ok      bool
	imm8    bool
	regOnly bool  // ModRM must name a register
	memOnly bool  // ModRM must name memory
	digits  uint8 // when not 0: the ModRM reg values (bits) that are defined
	store   uint8 // bytes written when the destination is memory
}

// Mandatory prefixes, as table indices.
const (
	none = iota
	p66
	pF3
	pF2
)

var table = func() (t [4][256]entry) {
	set := func(p int, e entry, ops ...int) {
		e.ok = true
		for _, op := range ops {
			t[p][op] = e
		}
	}
	span := func(from, to int, skip ...int) []int {
		var ops []int
	next:
		for op := from; op <= to; op++ {
			for _, s := range skip {
				if op == s {
					continue next
				}
			}
			ops = append(ops, op)
		}
		return ops
	}
	// No prefix: SSE on packed singles.
	set(none, entry{}, 0x10, 0x12, 0x14, 0x15, 0x16, 0x28, 0x2a, 0x2e, 0x2f)
	set(none, entry{}, span(0x51, 0x5f)...)
	set(none, entry{store: 16}, 0x11, 0x29)
	set(none, entry{store: 8, memOnly: true}, 0x13, 0x17)
	set(none, entry{store: 16, memOnly: true}, 0x2b)
	set(none, entry{imm8: true}, 0xc2, 0xc6)
	// 66: SSE2 on packed doubles and integers.
	set(p66, entry{}, 0x10, 0x14, 0x15, 0x28, 0x2a, 0x2e, 0x2f, 0x51, 0xe6)
	set(p66, entry{}, span(0x54, 0x5f)...)
	set(p66, entry{}, span(0x60, 0x6f)...)
	set(p66, entry{}, 0x74, 0x75, 0x76)
	set(p66, entry{}, span(0xd1, 0xd5)...)
	set(p66, entry{}, span(0xd8, 0xdf)...)
	set(p66, entry{}, span(0xe0, 0xe5)...)
	set(p66, entry{}, span(0xe8, 0xef)...)
	set(p66, entry{}, span(0xf1, 0xf6)...)
	set(p66, entry{}, span(0xf8, 0xfe)...)
	set(p66, entry{memOnly: true}, 0x12, 0x16)
	set(p66, entry{store: 16}, 0x11, 0x29, 0x7f)
	set(p66, entry{store: 8}, 0xd6)
	set(p66, entry{store: 8, memOnly: true}, 0x13, 0x17)
	set(p66, entry{store: 16, memOnly: true}, 0x2b, 0xe7)
	set(p66, entry{imm8: true}, 0x70, 0xc2, 0xc4, 0xc6)
	set(p66, entry{imm8: true, regOnly: true, digits: 1<<2 | 1<<4 | 1<<6}, 0x71, 0x72)
	set(p66, entry{imm8: true, regOnly: true, digits: 1<<2 | 1<<3 | 1<<6 | 1<<7}, 0x73)
	// F3: scalar singles, unaligned integer moves.
	set(pF3, entry{}, 0x10, 0x2a, 0x51, 0x52, 0x53, 0x6f, 0x7e, 0xe6)
	set(pF3, entry{}, span(0x58, 0x5f)...)
	set(pF3, entry{store: 4}, 0x11)
	set(pF3, entry{store: 16}, 0x7f)
	set(pF3, entry{imm8: true}, 0x70, 0xc2)
	// F2: scalar doubles.
	set(pF2, entry{}, 0x10, 0x2a, 0x51, 0xe6)
	set(pF2, entry{}, span(0x58, 0x5f, 0x5b)...)
	set(pF2, entry{store: 8}, 0x11)
	set(pF2, entry{imm8: true}, 0x70, 0xc2)
	return t
}()

// Vector returns the instruction at the start of code when it is one of the table's: at most
// one of the prefixes 66, F3 and F2, an optional REX prefix, 0F, the opcode, ModRM (with SIB
// and displacement) and an optional imm8. Anything else, or too few bytes, gives false.
func Vector(code []byte) (Inst, bool) {
	p, prefix := 0, none
	if len(code) == 0 {
		return Inst{}, false
	}
	switch code[0] {
	case 0x66:
		p, prefix = 1, p66
	case 0xf3:
		p, prefix = 1, pF3
	case 0xf2:
		p, prefix = 1, pF2
	}
	var rex byte
	if len(code) > p && code[p]&0xf0 == 0x40 {
		rex = code[p]
		p++
	}
	if len(code) < p+3 || code[p] != 0x0f {
		return Inst{}, false
	}
	e := table[prefix][code[p+1]]
	modrm := code[p+2]
	reg := modrm>>6 == 3
	if !e.ok || e.regOnly && !reg || e.memOnly && reg || e.digits != 0 && e.digits&(1<<(modrm>>3&7)) == 0 {
		return Inst{}, false
	}
	m, ok := ModRMLength(code[p+2:])
	if !ok {
		return Inst{}, false
	}
	in := Inst{Len: p + 2 + m, ModRM: p + 2, REX: rex}
	if e.imm8 {
		in.Len++
	}
	if !reg {
		in.Store = e.store
	}
	return in, len(code) >= in.Len
}

// VectorEncodings lists an instance of every form Vector accepts, padded with zeros to 16 bytes:
// each entry of the table with every ModRM byte and a few SIB bytes, and with two REX
// prefixes (W+R, X+B) and two ModRM reg values. The users of this package check with it that
// their fast paths agree with a general decoder.
func VectorEncodings() [][]byte {
	var out [][]byte
	prefixes := [4][]byte{nil, {0x66}, {0xf3}, {0xf2}}
	for p := range table {
		for op, e := range table[p] {
			if !e.ok {
				continue
			}
			for _, rex := range []byte{0, 0x4c, 0x43} {
				for modrm := 0; modrm < 256; modrm++ {
					if rex != 0 && modrm>>3&7 != 1 && modrm>>3&7 != 6 {
						continue
					}
					for _, sib := range []byte{0x24, 0x25, 0x8d} {
						if modrm&7 != 4 && sib != 0x24 || modrm>>6 == 3 && sib != 0x24 {
							continue // SIB only matters with rm=4 and memory
						}
						b := append([]byte{}, prefixes[p]...)
						if rex != 0 {
							b = append(b, rex)
						}
						b = append(b, 0x0f, byte(op), byte(modrm), sib, 0x12, 0x34, 0x56, 0x78, 0x9a)
						for len(b) < 16 {
							b = append(b, 0)
						}
						if _, ok := Vector(b); ok {
							out = append(out, b)
						}
					}
				}
			}
		}
	}
	return out
}
