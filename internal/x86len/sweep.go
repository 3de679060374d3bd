package x86len

import (
	"bytes"
	"math/bits"
)

// Baseline measures the instructions that need nothing beyond x86-64's baseline: the plain
// ones and the SSE and SSE2 ones of Vector.
func Baseline(code []byte) (int, bool) {
	if n, ok := Plain(code); ok {
		return n, true
	}
	if in, ok := Vector(code); ok {
		return in.Len, true
	}
	return 0, false
}

// Sweep is what one linear sweep through a section of code found, kept so that a second pass
// over the same bytes (the CPU level after the system calls) need not measure the baseline
// instructions again: nearly all of a program's instructions are such, and measuring them is
// most of the cost of either pass.
type Sweep struct {
	Addr uint64 // where Code is loaded
	Code []byte
	// Starts has bit i%64 of word i/64 set when the sweep started an instruction at Code[i].
	Starts []uint64
	// Baseline has the bit of i set when the instruction the sweep started at Code[i] is one
	// that Baseline measures, and the next instruction starts where it ends (or Code ends
	// there): its length is the distance to the next start.
	Baseline []uint64
}

// Length returns the length of the baseline instruction the sweep started at Code[off]; false
// when it started none there, or another one. It is Baseline(Code[off:]), without decoding.
func (s *Sweep) Length(off int) (int, bool) {
	i := off >> 6
	if off < 0 || i >= len(s.Baseline) || i >= len(s.Starts) || s.Baseline[i]&(1<<(off&63)) == 0 {
		return 0, false
	}
	// The next start lies within maxLength bytes: in this word or the next.
	if rest := s.Starts[i] >> (off & 63) >> 1; rest != 0 {
		return 1 + bits.TrailingZeros64(rest), true
	}
	n := 64 - off&63
	if i+1 < len(s.Starts) && s.Starts[i+1] != 0 {
		n += bits.TrailingZeros64(s.Starts[i+1])
	} else {
		n = len(s.Code) - off
	}
	if n < 1 || n > maxLength || off+n > len(s.Code) {
		return 0, false
	}
	return n, true
}

// Covers reports whether the sweep measured code at addr: the same bytes, or the first of them.
// Where the two were read apart (bytes.Equal costs nothing when they are one copy) the sweep is
// of no use.
func (s *Sweep) Covers(addr uint64, code []byte) bool {
	return s.Addr == addr && len(code) <= len(s.Code) && bytes.Equal(code, s.Code[:len(code)])
}
