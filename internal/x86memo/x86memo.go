// Package x86memo remembers x86-64 decodings, so that code which repeats an instruction byte for
// byte pays for golang.org/x/arch's decoder once.
package x86memo

import (
	"encoding/binary"
	"sync"

	"golang.org/x/arch/x86/x86asm"
)

// keyLen is how many leading bytes name an instruction in the memo. An instruction of at most
// keyLen bytes is fully named by them: the decoder does not know its address (branch targets
// come back relative) and reads an instruction's own bytes and no others, except when it gives
// back a lone prefix (Op 0): it read on, found no valid instruction, and reports the prefix
// alone. Such answers depend on the bytes after the key and are never remembered.
const keyLen = 8

// A Memo holds 1<<slotBits decodings (a few MiB), each in the slot its key hashes to, where a
// later one replaces it: a lookup is a multiplication and a comparison, where a map of
// decodings, too large for Go's fast map paths, hashed and copied through its generic ones.
const slotBits = 14

// Memo decodes 64-bit x86 code. It is not safe for concurrent use: give each goroutine its own.
// The zero Memo is ready to use; a nil *Memo remembers nothing.
type Memo struct {
	slots *[1 << slotBits]slot
}

type slot struct {
	key  uint64
	used bool
	inst x86asm.Inst
}

// Programs share many of the instructions that need the decoder, and portabin check decodes
// each program's twice (system calls, then CPU level): Get and Put hand memos from one user
// to the next, so that the second decoding and the next program find them remembered, and
// their tables are not made and cleared for every section. A sync.Pool would drop them at
// every garbage collection.
var spare struct {
	sync.Mutex
	memos []*Memo
}

// maxSpare bounds the memos kept for later users: more than enough for every goroutine that
// decodes at once.
const maxSpare = 64

// Get returns a Memo that an earlier user put back, or a new one.
func Get() *Memo {
	spare.Lock()
	defer spare.Unlock()
	if n := len(spare.memos); n > 0 {
		m := spare.memos[n-1]
		spare.memos = spare.memos[:n-1]
		return m
	}
	return new(Memo)
}

// Put hands m on to a later Get; its user must not use it after.
func Put(m *Memo) {
	spare.Lock()
	defer spare.Unlock()
	if len(spare.memos) < maxSpare {
		spare.memos = append(spare.memos, m)
	}
}

// Decode is x86asm.Decode(code, 64) for code that holds at least keyLen bytes when the
// decoding was seen before.
func (m *Memo) Decode(code []byte) (x86asm.Inst, error) {
	if m == nil || len(code) < keyLen {
		return x86asm.Decode(code, 64)
	}
	key := binary.LittleEndian.Uint64(code)
	s := m.slot(key)
	if s.used && s.key == key {
		return s.inst, nil
	}
	in, err := x86asm.Decode(code, 64)
	if err != nil || in.Op == 0 || in.Len == 0 || in.Len > keyLen {
		return in, err
	}
	*s = slot{key: key, used: true, inst: in}
	return in, nil
}

func (m *Memo) slot(key uint64) *slot {
	if m.slots == nil {
		m.slots = new([1 << slotBits]slot)
	}
	return &m.slots[key*0x9e3779b97f4a7c15>>(64-slotBits)]
}

// remembers reports whether Decode answers code from the memo.
func (m *Memo) remembers(code []byte) bool {
	if m == nil || len(code) < keyLen {
		return false
	}
	key := binary.LittleEndian.Uint64(code)
	s := m.slot(key)
	return s.used && s.key == key
}
