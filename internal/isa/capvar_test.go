package isa

import (
	"debug/elf"
	"os/exec"
	"slices"
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

// installC asks the CPU itself, as GCC's libcpp and coreutils' cksum do, and keeps the variant
// it chose in a function pointer; no variable has a name check knows.
const installC = `
#include <stdio.h>
// __get_cpuid_count of <cpuid.h>, which optimised builds inline, whatever -fno-inline says.
static inline __attribute__((always_inline)) unsigned leaf7_ebx(void) {
	unsigned a = 7, b, c = 0, d;
	__asm__("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
	return b;
}
__attribute__((noinline, target("avx2"))) void add8(int *d, const int *s, int n) {
	for (int i = 0; i < n; i++) d[i] += s[i] * 3;
}
__attribute__((noinline)) void add1(int *d, const int *s, int n) {
	for (int i = 0; i < n; i++) d[i] += s[i] * 3;
}
static void (*add)(int *, const int *, int);
__attribute__((noinline)) void choose(void) {
	add = add1;
	if (leaf7_ebx() & (1 << 5)) // AVX2
		add = add8;
}
int main(int argc, char **argv) {
	int d[64] = {0}, s[64];
	for (int i = 0; i < 64; i++) s[i] = i;
	choose();
	add(d, s, 64);
#ifdef DIRECT
	if (argc > 1) add8(d, s, 64);
#endif
	printf("%d\n", d[63]);
	return 0;
}
`

func TestCapabilityVariable(t *testing.T) {
	const probed = "by code that asks the CPU for its features (CPUID), or reached only from code that reads what such code stores"
	for _, tt := range []struct {
		name, src   string
		flags       []string
		level, note string
	}{
		{"tested", capvarC, []string{"-DTESTED"}, "x86-64-v1", "reads OPENSSL_ia32cap_P"},
		{"predicate", capvarC, []string{"-DPREDICATE"}, "x86-64-v1", "reads OPENSSL_ia32cap_P"},
		// add1, reached only from add, still counts as chosen.
		{"called directly too", capvarC, []string{"-DDIRECT"}, "x86-64-v3", "1 function reached only"},
		{"in a table too", capvarC, []string{"-DTABLE"}, "x86-64-v3", ""},
		{"__builtin_cpu_supports", builtinC, []string{"-static"}, "x86-64-v1", "__cpu_model"},
		// Without names, the memory that code asking the CPU stores to stands for the variables.
		{"__builtin_cpu_supports, stripped", builtinC, []string{"-static", "-s"}, "x86-64-v1", probed},
		{"installed after CPUID", installC, nil, "x86-64-v1", probed},
		{"installed after CPUID, stripped", installC, []string{"-s"}, "x86-64-v1", probed},
		// The variant is also called without a test, or all the code is built for AVX2.
		{"installed and called directly", installC, []string{"-s", "-DDIRECT"}, "x86-64-v3", ""},
		{"installed, all built for AVX2", installC, []string{"-s", "-march=haswell"}, "x86-64-v3", ""},
		// helloC needs nothing of the CPU; static glibc brings its own variants (memcpy's, and
		// the AVX-512 trampolines of its dynamic loader), which a stripped file no longer names.
		{"static glibc, stripped", helloC, []string{"-static", "-s"}, "x86-64-v1", probed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			exe := ctest.Build(t, ctest.GCC(t), tt.src, append([]string{"-O3", "-fno-inline"}, tt.flags...)...)
			r := analyzeFile(t, exe)
			if r.Level != tt.level || Rank(r.DispatchedLevel) < Rank("x86-64-v3") {
				t.Errorf("level %s, up to %s; want %s, up to x86-64-v3 or more (features %v)", r.Level, r.DispatchedLevel, tt.level, r.Features)
			}
			if notes := strings.Join(r.LevelNotes, "\n"); !strings.Contains(notes, tt.note) {
				t.Errorf("notes %q; want one that says %q", notes, tt.note)
			}
			// By behaviour: a program reported x86-64-v1 runs on QEMU's qemu64 CPU, which has
			// no AVX; one that calls its AVX2 code without a test (given two arguments) does not.
			qemu, err := exec.LookPath("qemu-x86_64-static")
			if err != nil {
				return // scripts/install-deps.sh installs qemu-user-static
			}
			run := func(args ...string) error {
				return exec.Command(qemu, append([]string{"-cpu", "qemu64", exe}, args...)...).Run()
			}
			if tt.level == "x86-64-v1" {
				if err := run(); err != nil {
					t.Errorf("reported x86-64-v1, fails on qemu64: %v", err)
				}
			}
			if slices.Contains(tt.flags, "-DDIRECT") && run("0", "direct") == nil {
				t.Errorf("calls AVX2 code without a test, yet runs on qemu64")
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
