// Package x86memo remembers x86-64 decodings, so that code which repeats an instruction byte for
// byte pays for golang.org/x/arch's decoder once.
package x86memo

import (
	"encoding/binary"

	"golang.org/x/arch/x86/x86asm"
)

// keyLen is how many leading bytes name an instruction in the memo. An instruction of at most
// keyLen bytes is fully named by them: the decoder does not know its address (branch targets
// come back relative) and reads an instruction's own bytes and no others, except when it gives
// back a lone prefix (Op 0): it read on, found no valid instruction, and reports the prefix
// alone. Such answers depend on the bytes after the key and are never remembered.
const keyLen = 8

// maxEntries bounds the memo; it starts afresh when full (a few MiB).
const maxEntries = 1 << 14

// Memo decodes 64-bit x86 code. It is not safe for concurrent use: give each goroutine its own.
// The zero Memo is ready to use.
type Memo struct {
	insts map[uint64]x86asm.Inst
}

// Decode is x86asm.Decode(code, 64) for code that holds at least keyLen bytes when the
// decoding was seen before.
func (m *Memo) Decode(code []byte) (x86asm.Inst, error) {
	if len(code) < keyLen {
		return x86asm.Decode(code, 64)
	}
	key := binary.LittleEndian.Uint64(code)
	if in, ok := m.insts[key]; ok {
		return in, nil
	}
	in, err := x86asm.Decode(code, 64)
	if err != nil || in.Op == 0 || in.Len == 0 || in.Len > keyLen {
		return in, err
	}
	switch {
	case m.insts == nil:
		m.insts = make(map[uint64]x86asm.Inst, 1024)
	case len(m.insts) >= maxEntries:
		clear(m.insts) // keeps the space it grew
	}
	m.insts[key] = in
	return in, nil
}
