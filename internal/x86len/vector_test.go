package x86len

import (
	"testing"

	"golang.org/x/arch/x86/x86asm"
)

// Every form Vector accepts is, for x86asm, one valid instruction of the same length whose
// first operand (the destination) is a vector register or memory, and whose memory operand,
// when it is the destination, is as wide as Store says.
func TestAgreesWithDecoder(t *testing.T) {
	encodings := VectorEncodings()
	if len(encodings) < 10000 {
		t.Fatalf("only %d encodings: the table is not exercised", len(encodings))
	}
	bad := 0
	for _, b := range encodings {
		in, _ := Vector(b)
		want, err := x86asm.Decode(b, 64)
		fail := func(why string) {
			if bad++; bad <= 20 {
				t.Errorf("% x: %s (x86asm: %v len %d, %v; ours len %d store %d)", b[:in.Len], why, want, want.Len, err, in.Len, in.Store)
			}
		}
		switch {
		case err != nil || want.Op == 0:
			fail("not an instruction")
			continue
		case want.Len != in.Len:
			fail("length")
			continue
		}
		switch a := want.Args[0].(type) {
		case x86asm.Reg:
			if !(a >= x86asm.X0 && a <= x86asm.X15 || a >= x86asm.M0 && a <= x86asm.M7) {
				fail("writes a register that is not a vector register")
			}
			if in.Store != 0 {
				fail("a store to a register")
			}
		case x86asm.Mem:
			if int(in.Store) != want.MemBytes {
				fail("store width")
			}
		default:
			fail("no destination")
		}
	}
}

// Forms outside the table are refused: other prefixes, undefined ModRM digits, register forms
// of memory-only instructions, and truncated code.
func TestRefuses(t *testing.T) {
	for _, b := range [][]byte{
		{0x66, 0x0f, 0xd7, 0xc0},             // pmovmskb eax, xmm0: a general register
		{0xf2, 0x0f, 0x7c, 0xc1},             // haddps: SSE3
		{0x66, 0x0f, 0x38, 0x00, 0xc1},       // pshufb: SSSE3
		{0x66, 0x0f, 0x71, 0xc0, 0x01},       // 66 0F 71 /0: undefined
		{0x0f, 0x2b, 0xc1},                   // movntps to a register: undefined
		{0x66, 0xf3, 0x0f, 0x10, 0xc1},       // two prefixes
		{0x64, 0x0f, 0x11, 0x00},             // segment prefix
		{0x0f, 0x11, 0x84, 0x24, 0x10, 0x00}, // truncated displacement
		{0x0f},
		{},
	} {
		if in, ok := Vector(b); ok {
			t.Errorf("% x measured as %+v", b, in)
		}
	}
}
