package isa

import (
	"debug/elf"
	"strings"
	"testing"

	"github.com/portabin/portabin/internal/ctest"
)

// capvarC keeps CPU features in a variable named like OpenSSL's and picks an AVX2 function,
// whose name says nothing of AVX2, after testing it, directly or through a predicate. The
// other ways to reach that function are switched on with -D: a direct call from main, and a
// pointer in a table.
const capvarC = `
#include <stdio.h>
#include <stdlib.h>
unsigned int OPENSSL_ia32cap_P[4];

__attribute__((noinline, target("avx2"))) void add8(int *d, const int *s, int n) {
	for (int i = 0; i < n; i++) d[i] += s[i] * 3;
}
__attribute__((noinline)) void add1(int *d, const int *s, int n) {
	for (int i = 0; i < n; i++) d[i] += s[i] * 3;
}
// Like OPENSSL_cpuid_setup, which asks the CPU.
__attribute__((noinline)) void setup(const char *v) { OPENSSL_ia32cap_P[2] = v ? atoi(v) : 0; }
__attribute__((noinline)) int eligible(void) { return OPENSSL_ia32cap_P[2] & (1 << 5); }

__attribute__((noinline)) void add(int *d, const int *s, int n) {
#ifdef PREDICATE
	if (eligible())
#else
	if (OPENSSL_ia32cap_P[2] & (1 << 5))
#endif
		add8(d, s, n);
	else
		add1(d, s, n);
}
#ifdef TABLE
void (*const adders[])(int *, const int *, int) = {add1, add8};
#endif

int main(int argc, char **argv) {
	int d[64] = {0}, s[64];
	for (int i = 0; i < 64; i++) s[i] = i;
	setup(argv[1]);
	add(d, s, 64);
#ifdef DIRECT
	if (argc > 2) add8(d, s, 64);
#endif
#ifdef TABLE
	adders[argc & 1](d, s, 64);
#endif
	printf("%d\n", d[63]);
	return 0;
}
`

// builtinC asks the compiler's run-time library, which keeps its answer in __cpu_model.
const builtinC = `
#include <stdio.h>
__attribute__((noinline, target("avx2"))) void add8(int *d, const int *s, int n) {
	for (int i = 0; i < n; i++) d[i] += s[i] * 3;
}
__attribute__((noinline)) void add1(int *d, const int *s, int n) {
	for (int i = 0; i < n; i++) d[i] += s[i] * 3;
}
int main(void) {
	int d[64] = {0}, s[64];
	for (int i = 0; i < 64; i++) s[i] = i;
	if (__builtin_cpu_supports("avx2")) add8(d, s, 64); else add1(d, s, 64);
	printf("%d\n", d[63]);
	return 0;
}
`

func TestCapabilityVariable(t *testing.T) {
	for _, tt := range []struct {
		name, src, define, level, note string
	}{
		{"tested", capvarC, "-DTESTED", "x86-64-v1", "reads OPENSSL_ia32cap_P"},
		{"predicate", capvarC, "-DPREDICATE", "x86-64-v1", "reads OPENSSL_ia32cap_P"},
		// add1, reached only from add, still counts as chosen.
		{"called directly too", capvarC, "-DDIRECT", "x86-64-v3", "1 function reached only"},
		{"in a table too", capvarC, "-DTABLE", "x86-64-v3", ""},
		{"__builtin_cpu_supports", builtinC, "-static", "x86-64-v1", "__cpu_model"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := analyzeFile(t, ctest.Build(t, ctest.GCC(t), tt.src, "-O3", "-fno-inline", tt.define))
			if r.Level != tt.level || Rank(r.DispatchedLevel) < Rank("x86-64-v3") {
				t.Errorf("level %s, up to %s; want %s, up to x86-64-v3 or more (features %v)", r.Level, r.DispatchedLevel, tt.level, r.Features)
			}
			if notes := strings.Join(r.LevelNotes, "\n"); !strings.Contains(notes, tt.note) {
				t.Errorf("notes %q; want one that says %q", notes, tt.note)
			}
		})
	}
}

// A symbol table whose only symbols in code are data objects gives the search no function to
// look at, and must not make it fail.
func TestCapabilityNoFunctions(t *testing.T) {
	syms := []elf.Symbol{{Name: "OPENSSL_ia32cap_P", Info: elf.ST_INFO(elf.STB_GLOBAL, elf.STT_OBJECT), Section: 20, Value: 0x9000, Size: 16}}
	funcs := []function{{start: 0x1000, end: 0x1040, data: true}}
	got, note := capabilityDispatch(&elf.File{}, syms, nil, nil, x86Arch, funcs)
	if len(got) != 1 || note != "" {
		t.Errorf("capabilityDispatch gave %v, %q; want the data object alone and no note", got, note)
	}
}
