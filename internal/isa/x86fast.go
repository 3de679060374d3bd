package isa

import "github.com/portabin/portabin/internal/x86len"

// x86asm spends about half a microsecond on each instruction, and most of a program's
// instructions are baseline ones that need no CPU extension. baselineX86Length measures those
// without decoding them, so that the analysis of a large executable is not dominated by
// instructions that cannot raise the level. TestPlainX86Length checks the lengths against x86asm
// on real code, and that x86asm finds no feature in them.

// baselineX86Length returns the length of an instruction that needs no CPU extension: the
// plain ones, and the SSE and SSE2 ones x86len measures; false when x86asm must look.
func baselineX86Length(code []byte) (int, bool) {
	if n, ok := x86len.Plain(code); ok {
		return n, true
	}
	if in, ok := x86len.Vector(code); ok {
		return in.Len, true
	}
	return 0, false
}
