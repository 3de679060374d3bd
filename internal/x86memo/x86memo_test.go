package x86memo

import (
	"debug/elf"
	"math/rand/v2"
	"os"
	"reflect"
	"testing"

	"golang.org/x/arch/x86/x86asm"
)

// Every decoding the memo gives back equals the decoder's own, on real code: the linear
// sweep of this machine's C library and of the test binary itself, each instruction decoded
// through the memo and directly.
func TestSameAsDecoder(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	files := []string{exe}
	for _, p := range []string{"/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libstdc++.so.6"} {
		if _, err := os.Stat(p); err == nil {
			files = append(files, p)
		}
	}
	hits := 0
	for _, path := range files {
		f, err := elf.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		text := f.Section(".text")
		if text == nil || f.Machine != elf.EM_X86_64 {
			f.Close()
			continue
		}
		code, err := text.Data()
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		var m Memo
		for off := 0; off < len(code); {
			want, werr := x86asm.Decode(code[off:], 64)
			if m.remembers(code[off:]) {
				hits++
			}
			got, gerr := m.Decode(code[off:])
			if (werr == nil) != (gerr == nil) || !reflect.DeepEqual(want, got) {
				t.Fatalf("%s+%#x % x: memo %v (%v), decoder %v (%v)", path, off, code[off:min(off+15, len(code))], got, gerr, want, werr)
			}
			if werr != nil || want.Len == 0 {
				off++
				continue
			}
			off += want.Len
		}
	}
	if hits == 0 {
		t.Fatal("the memo never answered: the test proves nothing")
	}
	t.Logf("%d decodings answered from the memo", hits)
}

// A run of prefixes is decoded by what follows it: eight LOCK prefixes before a byte invalid in 64-bit mode
// come back as one lone prefix, before PUSH RBX as one 9-byte instruction. The memo must not
// answer the second with the first.
func TestPrefixRun(t *testing.T) {
	var m Memo
	run := []byte{0xf0, 0xf0, 0xf0, 0xf0, 0xf0, 0xf0, 0xf0, 0xf0}
	for _, next := range []byte{0x06, 0x53} {
		code := append(append([]byte{}, run...), next, 0x0b, 0, 0, 0, 0, 0, 0)
		want, werr := x86asm.Decode(code, 64)
		got, gerr := m.Decode(code)
		if (werr == nil) != (gerr == nil) || !reflect.DeepEqual(want, got) {
			t.Errorf("% x: memo %v len %d (%v), decoder %v len %d (%v)", code, got, got.Len, gerr, want, want.Len, werr)
		}
	}
}

// Random bytes decoded at every offset, through one memo and directly, agree: they are full of
// prefixes, invalid opcodes and truncated forms that real code rarely has. So that the memo is
// asked for keys it has seen, the bytes are random snippets drawn again and again from a small
// pool, each snippet made of bytes that are prefixes, escapes, ModRM or opcodes.
func TestRandomBytes(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	alphabet := []byte{0x66, 0xf0, 0xf2, 0xf3, 0x2e, 0x48, 0x0f, 0x38, 0x3a, 0xc4, 0xc5, 0x62, 0x06, 0x90, 0x00, 0xc0, 0x05, 0x44, 0x24, 0xff}
	pool := make([][]byte, 48)
	for i := range pool {
		pool[i] = make([]byte, 1+rng.IntN(6))
		for j := range pool[i] {
			pool[i][j] = alphabet[rng.IntN(len(alphabet))]
		}
	}
	var code []byte
	for len(code) < 1<<18 {
		code = append(code, pool[rng.IntN(len(pool))]...)
	}
	var m Memo
	hits := 0
	for off := 0; off+16 <= len(code); off++ {
		if m.remembers(code[off:]) {
			hits++
		}
		want, werr := x86asm.Decode(code[off:], 64)
		got, gerr := m.Decode(code[off:])
		if (werr == nil) != (gerr == nil) || !reflect.DeepEqual(want, got) {
			t.Fatalf("+%#x % x: memo %v len %d (%v), decoder %v len %d (%v)", off, code[off:off+16], got, got.Len, gerr, want, want.Len, werr)
		}
	}
	if hits == 0 {
		t.Fatal("the memo never answered")
	}
	t.Logf("%d of %d decodings answered from the memo", hits, len(code)-15)
}
