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

// Run counts the baseline instructions the sweep found back to back from Code[off] on, up to
// the first other one and without going past Code[limit]: n of them, the last ending at end. It
// is what measuring them one by one with Baseline would find, in a few operations for every 64
// bytes instead of a decoding of each instruction. n is 0 and end off when the sweep did not
// start a baseline instruction at off that ends by limit.
func (s *Sweep) Run(off, limit int) (n, end int) {
	if off < 0 || off >= limit || limit > len(s.Code) || !s.bit(s.Baseline, off) || !s.bit(s.Starts, off) {
		return 0, off
	}
	// The first start after off that is not a baseline one ends the run, if it comes by limit.
	for i := off >> 6; i <= limit>>6 && i < len(s.Starts) && i < len(s.Baseline); i++ {
		other := s.Starts[i] &^ s.Baseline[i]
		if i == off>>6 {
			other &^= 2<<(off&63) - 1
		}
		if other != 0 {
			if at := i<<6 + bits.TrailingZeros64(other); at <= limit {
				return s.count(off, at), at
			}
			break
		}
	}
	// All the way to limit: the last instruction must end there, not beyond.
	if next := s.next(limit); next == limit {
		return s.count(off, limit), limit
	}
	last := s.prev(limit)
	return s.count(off, last), last
}

// Started reports whether the sweep started an instruction at Code[i]; Measured, whether it
// is one that Baseline measures, ending where the next one starts.
func (s *Sweep) Started(i int) bool  { return i >= 0 && s.bit(s.Starts, i) }
func (s *Sweep) Measured(i int) bool { return i >= 0 && s.bit(s.Baseline, i) }

// NextStart is the first start after i, or the end of the code.
func (s *Sweep) NextStart(i int) int { return s.next(i + 1) }

func (s *Sweep) bit(words []uint64, i int) bool {
	return i>>6 < len(words) && words[i>>6]&(1<<(i&63)) != 0
}

// count is the number of starts in [from, to).
func (s *Sweep) count(from, to int) int {
	n := 0
	for i := from >> 6; i<<6 < to; i++ {
		w := s.Starts[i]
		if i == from>>6 {
			w &^= 1<<(from&63) - 1
		}
		if i == to>>6 {
			w &= 1<<(to&63) - 1
		}
		n += bits.OnesCount64(w)
	}
	return n
}

// next is the first start at or after i, or the end of the code, where the last instruction
// ends.
func (s *Sweep) next(i int) int {
	for w := i >> 6; w < len(s.Starts); w++ {
		rest := s.Starts[w]
		if w == i>>6 {
			rest &^= 1<<(i&63) - 1
		}
		if rest != 0 {
			return w<<6 + bits.TrailingZeros64(rest)
		}
	}
	return len(s.Code)
}

// prev is the last start before i; there is one at or after off whenever Run asks.
func (s *Sweep) prev(i int) int {
	for w := (i - 1) >> 6; w >= 0; w-- {
		before := s.Starts[w]
		if w == i>>6 {
			before &= 1<<(i&63) - 1
		}
		if before != 0 {
			return w<<6 + 63 - bits.LeadingZeros64(before)
		}
	}
	return 0
}

// Covers reports whether the sweep measured code at addr: the same bytes, or the first of them.
// Where the two were read apart (bytes.Equal costs nothing when they are one copy) the sweep is
// of no use.
func (s *Sweep) Covers(addr uint64, code []byte) bool {
	return s.Addr == addr && len(code) <= len(s.Code) && bytes.Equal(code, s.Code[:len(code)])
}
