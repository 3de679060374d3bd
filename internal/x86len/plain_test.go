package x86len

import (
	"slices"
	"testing"

	"golang.org/x/arch/x86/x86asm"
)

// Every one- and two-byte opcode, after no REX prefix or one of seven and no legacy prefix or
// one of the segment and operand-size combinations compilers write, with every ModRM byte and
// a few SIB bytes: where Plain gives a length, x86asm decodes one instruction of that length —
// except the multi-byte NOP with REX.W (REX.W 0F 1F /0), which x86asm v0.33.0 does not know and
// CPUs run as a NOP (gas writes it as nopq).
func TestPlainAgreesWithDecoder(t *testing.T) {
	measured, bad := 0, 0
	check := func(code []byte) {
		n, ok := Plain(code)
		if !ok {
			return
		}
		measured++
		pre, _ := Prefixes(code)
		if c := code[pre:]; c[0]&0xf8 == 0x48 && c[1] == 0x0f && c[2] == 0x1f {
			return
		}
		in, err := x86asm.Decode(code, 64)
		if err != nil || in.Op == 0 || in.Len != n {
			if bad++; bad <= 20 {
				t.Errorf("% x: Plain %d, x86asm %v len %d (%v)", code[:max(n, 1)], n, in, in.Len, err)
			}
		}
	}
	prefixes := [][]byte{nil, {0x66}, {0x64}, {0x65}, {0x2e}, {0x3e}, {0x26}, {0x36}, {0x66, 0x2e},
		{0x66, 0x66, 0x2e}, {0x64, 0x66}, {0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x2e}}
	for _, legacy := range prefixes {
		for _, rex := range []byte{0, 0x40, 0x41, 0x42, 0x44, 0x48, 0x4c, 0x4f} {
			for op := 0; op < 256; op++ {
				for _, op2 := range secondBytes(op) {
					for modrm := 0; modrm < 256; modrm++ {
						for _, sib := range []byte{0x24, 0x25} {
							if sib != 0x24 && (modrm&7 != 4 || modrm>>6 == 3) {
								continue
							}
							code := slices.Clone(legacy)
							if rex != 0 {
								code = append(code, rex)
							}
							code = append(code, byte(op))
							if op == 0x0f {
								code = append(code, op2)
							}
							code = append(code, byte(modrm), sib, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb)
							check(code)
						}
					}
				}
			}
		}
	}
	if measured < 100000 {
		t.Fatalf("only %d forms measured: the test proves little", measured)
	}
	t.Logf("%d forms measured", measured)
}

// secondBytes lists the second opcode bytes to try after op: all of them after 0F, none otherwise.
func secondBytes(op int) []byte {
	if op != 0x0f {
		return []byte{0}
	}
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	return all
}

// Plain measures the forms of an opcode whose reg field 0 is no instruction: the bit tests with
// an immediate, 0F BA /4 to /7.
func TestPlainBitTestImmediate(t *testing.T) {
	for _, c := range []struct {
		code []byte
		n    int
		ok   bool
	}{
		{[]byte{0x48, 0x0f, 0xba, 0xe0, 0x20, 0x90}, 5, true},  // bt rax, 32
		{[]byte{0x0f, 0xba, 0x6c, 0x24, 0x08, 0x03}, 6, true},  // bts dword [rsp+8], 3
		{[]byte{0x0f, 0xba, 0xc0, 0x01, 0x90, 0x90}, 0, false}, // /0: undefined
	} {
		if n, ok := Plain(c.code); n != c.n || ok != c.ok {
			t.Errorf("% x: Plain %d %v, want %d %v", c.code, n, ok, c.n, c.ok)
		}
	}
}
