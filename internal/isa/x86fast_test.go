package isa

import (
	"debug/elf"
	"math/rand/v2"
	"os"
	"testing"

	"golang.org/x/arch/x86/x86asm"

	"github.com/portabin/portabin/internal/ctest"
	"github.com/portabin/portabin/internal/x86len"
)

// TestPlainX86Length checks the fast path against x86asm on real code (this test's own
// executable, a static glibc program built for Haswell, with SSE, AVX and AVX2 code) and on
// random bytes: every instruction it measures must have x86asm's length, and be one in which
// x86asm's classification finds no feature.
func TestPlainX86Length(t *testing.T) {
	var texts [][]byte
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	haswell := ctest.Build(t, ctest.GCC(t), "#include <stdio.h>\n#include <string.h>\nint main(int c, char **v) { char b[64]; strcpy(b, v[0]); printf(\"%s %zu %f\\n\", b, strlen(b), c * 1.5); return 0; }\n",
		"-static", "-O3", "-march=haswell")
	for _, exe := range []string{self, haswell} {
		f, err := elf.Open(exe)
		if err != nil {
			t.Fatal(err)
		}
		data, err := f.Section(".text").Data()
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		texts = append(texts, data)
	}
	random := make([]byte, 1<<20)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range random {
		random[i] = byte(rng.Uint32())
	}

	plain, total := 0, 0
	compare := func(code []byte) {
		n, ok := x86len.Baseline(code)
		if !ok {
			return
		}
		plain++
		inst, err := x86asm.Decode(code, 64)
		if err != nil || inst.Len != n {
			t.Fatalf("% x: fast length %d, x86asm %d (%v)", code[:min(len(code), 16)], n, inst.Len, err)
		}
		classifyLegacy(inst, func(feature string) {
			t.Fatalf("% x (%v): fast path skips feature %s", code[:n], inst, feature)
		})
		if inst.Prefix[0].IsVEX() || inst.Prefix[0].IsEVEX() {
			t.Fatalf("% x (%v): fast path skips a VEX or EVEX instruction", code[:n], inst)
		}
	}
	for _, text := range texts {
		for off := 0; off < len(text); {
			total++
			compare(text[off:])
			inst, err := x86asm.Decode(text[off:], 64)
			if err != nil || inst.Len == 0 {
				off++
				continue
			}
			off += inst.Len
		}
	}
	realPlain := plain
	for off := 0; off+16 < len(random); off += 7 {
		compare(random[off : off+16])
	}
	for _, code := range x86len.VectorEncodings() {
		compare(code)
	}
	t.Logf("fast path measured %d of %d instructions of real code, %d random starts", realPlain, total, plain-realPlain)
	if plain == 0 {
		t.Fatal("the fast path measured nothing")
	}
}
