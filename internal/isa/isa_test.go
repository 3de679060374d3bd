package isa

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/portabin/portabin/internal/ctest"
	"github.com/portabin/portabin/internal/sysscan"
	"github.com/portabin/portabin/internal/x86len"
	"github.com/portabin/portabin/internal/x86memo"
)

const helloC = "#include <stdio.h>\nint main(void) { puts(\"hi\"); return 0; }\n"

// loopC has a loop that compilers vectorise with whatever the target offers.
// clonesC exports a function that GCC compiles for AVX2 and the baseline, picked by an IFUNC.
const clonesC = `
__attribute__((target_clones("avx2", "default")))
void scale(int *d, const int *s, int n) {
	for (int i = 0; i < n; i++) d[i] = s[i] * 3 + d[i];
}
`

const loopC = `#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
	int n = argc * 1000;
	int *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
	for (int i = 0; i < n; i++) { a[i] = i; b[i] = 2 * i; }
	for (int i = 0; i < n; i++) a[i] = a[i] * b[i] + (a[i] >> 3);
	long s = 0;
	for (int i = 0; i < n; i++) s += a[i];
	printf("%ld\n", s);
	return 0;
}
`

const popcountC = `#include <stdio.h>
int main(int argc, char **argv) {
	unsigned long x = (unsigned long)argv[0];
	printf("%d\n", __builtin_popcountl(x) + argc);
	return 0;
}
`

const atomicC = `#include <stdatomic.h>
#include <stdio.h>
static _Atomic long counter;
int main(int argc, char **argv) {
	for (int i = 0; i < argc * 1000; i++) atomic_fetch_add(&counter, i);
	long expected = 5;
	atomic_compare_exchange_strong(&counter, &expected, 7);
	printf("%ld\n", atomic_load(&counter));
	return 0;
}
`

// summary is the part of a Report that the program tests pin down.
type summary struct {
	Arch       string
	Level      string
	Dispatched bool
}

func TestAnalyzePrograms(t *testing.T) {
	tests := []struct {
		name     string
		cc       func(testing.TB) ctest.Compiler
		src      string
		flags    []string
		want     summary
		features []string // must be among Features
		absent   []string // must not be
		note     string   // a substring of some note
	}{
		{
			name: "gcc static glibc hello: AVX-512 string functions are IFUNC variants",
			cc:   ctest.GCC, src: helloC, flags: []string{"-O2", "-static"},
			want:   summary{"x86_64", "x86-64-v1", true},
			absent: []string{"avx", "avx2", "avx512f", "rtm"},
			note:   "chosen at run time",
		},
		{
			name: "gcc static glibc stripped: functions from .eh_frame",
			cc:   ctest.GCC, src: helloC, flags: []string{"-O2", "-static", "-s"},
			// Without names, glibc's _dl_runtime_profile_avx512 (chosen for lazy binding in
			// dlopen'ed libraries) is found chosen from what init_cpu_features stores.
			want: summary{"x86_64", "x86-64-v1", true},
			note: ".eh_frame",
		},
		{
			name: "gcc -msse4.2 popcount",
			cc:   ctest.GCC, src: popcountC, flags: []string{"-O2", "-msse4.2"},
			want:     summary{"x86_64", "x86-64-v2", false},
			features: []string{"popcnt"},
		},
		{
			name: "gcc -march=haswell static AVX2 loop",
			cc:   ctest.GCC, src: loopC, flags: []string{"-O3", "-march=haswell", "-static"},
			want:     summary{"x86_64", "x86-64-v3", true},
			features: []string{"avx", "avx2"},
			absent:   []string{"avx512f"},
		},
		{
			name: "gcc -march=skylake-avx512 512-bit loop",
			cc:   ctest.GCC, src: loopC, flags: []string{"-O3", "-march=skylake-avx512", "-mprefer-vector-width=512"},
			want:     summary{"x86_64", "x86-64-v4", false},
			features: []string{"avx512f"},
		},
		{
			name: "gcc stripped shared library: an exported IFUNC's variants, from .dynsym",
			cc:   ctest.GCC, src: clonesC, flags: []string{"-O3", "-shared", "-fPIC", "-s"},
			want: summary{"x86_64", "x86-64-v1", true},
			note: "chosen at run time",
		},
		{
			name: "musl-gcc static hello",
			cc:   ctest.MuslGCC, src: helloC, flags: []string{"-O2", "-static"},
			want: summary{"x86_64", "x86-64-v1", false},
		},
		{
			name: "zig baseline loop",
			cc:   zigFor("x86_64-linux-musl"), src: loopC, flags: []string{"-O2"},
			want:   summary{"x86_64", "x86-64-v1", false},
			absent: []string{"avx", "avx2", "sse4.1", "popcnt"},
		},
		{
			name: "zig -mcpu=haswell loop",
			cc:   zigFor("x86_64-linux-musl"), src: loopC, flags: []string{"-O2", "-mcpu=haswell"},
			want:     summary{"x86_64", "x86-64-v3", false},
			features: []string{"avx", "avx2", "bmi2"},
		},
		{
			name: "zig aarch64 baseline atomics use exclusive loads",
			cc:   zigFor("aarch64-linux-musl"), src: atomicC, flags: []string{"-O2"},
			want:   summary{"aarch64", "armv8-a", false},
			absent: []string{"lse"},
		},
		{
			name: "zig aarch64 -mcpu=neoverse_n1 atomics use LSE",
			cc:   zigFor("aarch64-linux-musl"), src: atomicC, flags: []string{"-O2", "-mcpu=neoverse_n1"},
			want:     summary{"aarch64", "armv8.1-a", false},
			features: []string{"lse"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := analyzeFile(t, ctest.Build(t, tt.cc(t), tt.src, tt.flags...))
			got := summary{r.Arch, r.Level, r.Dispatched}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("report (-want +got):\n%s\nfeatures %v, dispatched %v, notes %q", diff, r.Features, r.DispatchedFeatures, r.Notes)
			}
			for _, f := range tt.features {
				if !slices.Contains(r.Features, f) {
					t.Errorf("features %v lack %s", r.Features, f)
				}
			}
			for _, f := range tt.absent {
				if slices.Contains(r.Features, f) {
					t.Errorf("features %v have %s (%d instructions)", r.Features, f, r.Counts[f])
				}
			}
			notes := append(slices.Clone(r.Notes), r.LevelNotes...)
			if tt.note != "" && !slices.ContainsFunc(notes, func(n string) bool { return strings.Contains(n, tt.note) }) {
				t.Errorf("no note mentions %q: %q", tt.note, notes)
			}
			if r.Instructions == 0 {
				t.Error("no instructions decoded")
			}
		})
	}
}

func zigFor(target string) func(testing.TB) ctest.Compiler {
	return func(t testing.TB) ctest.Compiler { return ctest.Zig(t, target) }
}

func analyzeFile(t testing.TB, path string) *Report {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := Analyze(f)
	if err != nil {
		t.Fatal(err)
	}
	// Reusing what the sweep for system calls measured changes nothing.
	scan, err := sysscan.Scan(f)
	if err != nil {
		t.Fatal(err)
	}
	if f.Machine == elf.EM_X86_64 && len(scan.Swept) == 0 {
		t.Fatal("sysscan swept no x86-64 code")
	}
	swept, err := AnalyzeSwept(f, scan.Swept)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(r, swept); diff != "" {
		t.Errorf("AnalyzeSwept differs from Analyze (-Analyze +AnalyzeSwept):\n%s", diff)
	}
	return r
}

func TestDecodeX86(t *testing.T) {
	// Encodings from GNU as 2.40.
	tests := []struct {
		asm      string
		code     []byte
		size     int
		features []string
	}{
		{"vpaddd %ymm1,%ymm2,%ymm3", []byte{0xc5, 0xed, 0xfe, 0xd9}, 4, []string{"avx2"}},
		{"vaddps %ymm1,%ymm2,%ymm3", []byte{0xc5, 0xec, 0x58, 0xd9}, 4, []string{"avx"}},
		{"vpaddd %xmm1,%xmm2,%xmm3", []byte{0xc5, 0xe9, 0xfe, 0xd9}, 4, []string{"avx"}},
		{"andn %rax,%rbx,%rcx", []byte{0xc4, 0xe2, 0xe0, 0xf2, 0xc8}, 5, []string{"bmi1"}},
		{"shlx %rax,%rbx,%rcx", []byte{0xc4, 0xe2, 0xf9, 0xf7, 0xcb}, 5, []string{"bmi2"}},
		{"popcnt %rax,%rbx", []byte{0xf3, 0x48, 0x0f, 0xb8, 0xd8}, 5, []string{"popcnt"}},
		{"vpaddd %zmm1,%zmm2,%zmm3", []byte{0x62, 0xf1, 0x6d, 0x48, 0xfe, 0xd9}, 6, []string{"avx512f"}},
		{"vpaddb %xmm16,%xmm17,%xmm18", []byte{0x62, 0xa1, 0x75, 0x00, 0xfc, 0xd0}, 6, []string{"avx512f", "avx512bw", "avx512vl"}},
		{"kmovq %k1,%k2", []byte{0xc4, 0xe1, 0xf8, 0x90, 0xd1}, 5, []string{"avx512bw"}},
		{"vfmadd231ps %ymm1,%ymm2,%ymm3", []byte{0xc4, 0xe2, 0x6d, 0xb8, 0xd9}, 5, []string{"fma"}},
		{"tzcnt %rax,%rbx", []byte{0xf3, 0x48, 0x0f, 0xbc, 0xd8}, 5, []string{"tzcnt"}},
		{"lzcnt %rax,%rbx", []byte{0xf3, 0x48, 0x0f, 0xbd, 0xd8}, 5, []string{"lzcnt"}},
		{"vzeroupper", []byte{0xc5, 0xf8, 0x77, 0xc3}, 3, []string{"avx"}},
		{"endbr64", []byte{0xf3, 0x0f, 0x1e, 0xfa, 0xc3}, 4, nil},
		{"rdsspq %rax", []byte{0xf3, 0x48, 0x0f, 0x1e, 0xc8}, 5, nil},
		{"incsspq %rcx", []byte{0xf3, 0x48, 0x0f, 0xae, 0xe9}, 5, nil},
		{"pshufb %xmm1,%xmm2", []byte{0x66, 0x0f, 0x38, 0x00, 0xd1}, 5, []string{"ssse3"}},
		{"pcmpistri $0x0,%xmm1,%xmm2", []byte{0x66, 0x0f, 0x3a, 0x63, 0xd1, 0x00}, 6, []string{"sse4.2"}},
		{"cmpxchg16b (%rdi)", []byte{0x48, 0x0f, 0xc7, 0x0f}, 4, []string{"cx16"}},
		{"movbe (%rdi),%eax", []byte{0x0f, 0x38, 0xf0, 0x07}, 4, []string{"movbe"}},
		{"vpconflictd %zmm1,%zmm2", []byte{0x62, 0xf2, 0x7d, 0x48, 0xc4, 0xd1}, 6, []string{"avx512f", "avx512cd"}},
		{"vpmullq %zmm1,%zmm2,%zmm3", []byte{0x62, 0xf2, 0xed, 0x48, 0x40, 0xd9}, 6, []string{"avx512f", "avx512dq"}},
		{"vcvtph2ps %xmm1,%ymm2", []byte{0xc4, 0xe2, 0x7d, 0x13, 0xd1}, 5, []string{"f16c"}},
		{"crc32 %rax,%rbx", []byte{0xf2, 0x48, 0x0f, 0x38, 0xf1, 0xd8}, 6, []string{"sse4.2"}},
		{"pextrw $0x1,%xmm1,(%rdi)", []byte{0x66, 0x0f, 0x3a, 0x15, 0x0f, 0x01}, 6, []string{"sse4.1"}},
		{"pextrw $0x1,%xmm1,%eax", []byte{0x66, 0x0f, 0xc5, 0xc1, 0x01}, 5, nil},
		{"roundsd $0x1,%xmm1,%xmm2", []byte{0x66, 0x0f, 0x3a, 0x0b, 0xd1, 0x01}, 6, []string{"sse4.1"}},
		{"vpdpbusd %zmm1,%zmm2,%zmm3", []byte{0x62, 0xf2, 0x6d, 0x48, 0x50, 0xd9}, 6, []string{"avx512f", "avx512vnni"}},
		{"vaddss %xmm17,%xmm18,%xmm19", []byte{0x62, 0xa1, 0x6e, 0x00, 0x58, 0xd9}, 6, []string{"avx512f"}},
		{"aesenc %xmm1,%xmm2", []byte{0x66, 0x0f, 0x38, 0xdc, 0xd1}, 5, []string{"aes"}},
		{"add %eax,%ebx", []byte{0x01, 0xc3}, 2, nil},
	}
	for _, tt := range tests {
		t.Run(tt.asm, func(t *testing.T) {
			var got []string
			size, ok := decodeX86(new(x86memo.Memo), tt.code, 0x1000, func(f string) { got = append(got, f) })
			if !ok || size != tt.size {
				t.Errorf("size %d, ok %v; want %d", size, ok, tt.size)
			}
			if diff := cmp.Diff(tt.features, got); diff != "" {
				t.Errorf("features (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeARM64(t *testing.T) {
	// Encodings from zig 0.11's assembler (LLVM 16).
	tests := []struct {
		word    uint32
		asm     string
		feature string
	}{
		{0xf8210040, "ldadd x1, x0, [x2]", "lse"},
		{0xc8a07c41, "cas x0, x1, [x2]", "lse"},
		{0x88e0fc41, "casal w0, w1, [x2]", "lse"},
		{0x4860fc82, "caspal x0, x1, x2, x3, [x4]", "lse"},
		{0xf8218040, "swp x1, x0, [x2]", "lse"},
		{0xf821005f, "stadd x1, [x2]", "lse"},
		{0xf8bfc020, "ldapr x0, [x1]", "rcpc"},
		{0xd9408020, "ldapur x0, [x1, #8]", "rcpc2"},
		{0x4e829420, "sdot v0.4s, v1.16b, v2.16b", "dotprod"},
		{0x6fa2e020, "udot v0.4s, v1.16b, v2.4b[1]", "dotprod"},
		{0x6e828420, "sqrdmlah v0.4s, v1.4s, v2.4s", "rdm"},
		{0x1ee22820, "fadd h0, h1, h2", "fp16"},
		{0x4e421420, "fadd v0.8h, v1.8h, v2.8h", "fp16"},
		{0x4ef8f820, "fabs v0.8h, v1.8h", "fp16"},
		{0xa5e0a000, "ld1d {z0.d}, p0/z, [x0]", "sve"},
		{0x9ac24c20, "crc32x w0, w1, x2", "crc32"},
		{0x4e284820, "aese v0.16b, v1.16b", "aes"},
		{0x5e024020, "sha256h q0, q1, v2.4s", "sha2"},
		{0x5e020020, "sha1c q0, s1, v2.4s", "sha1"},
		{0x0ee2e020, "pmull v0.1q, v1.1d, v2.1d", "pmull"},
		{0xce020c20, "eor3 v0.16b, v1.16b, v2.16b, v3.16b", "sha3"},
		{0xce628020, "sha512h q0, q1, v2.2d", "sha512"},
		{0xcec08020, "sha512su0 v0.2d, v1.2d", "sha512"},
		{0xd5380600, "mrs x0, id_aa64isar0_el1", "mrs-id"},
		{0xc85f7c20, "ldxr x0, [x1]", ""},
		{0xc89ffc20, "stlr x0, [x1]", ""},
		{0xf8626820, "ldr x0, [x1, x2]", ""},
		{0x1ee24020, "fcvt s0, h1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.asm, func(t *testing.T) {
			code := []byte{byte(tt.word), byte(tt.word >> 8), byte(tt.word >> 16), byte(tt.word >> 24)}
			got := ""
			size, ok := decodeARM64(code, 0x1000, func(f string) { got = f })
			if size != 4 || !ok || got != tt.feature {
				t.Errorf("got %q (size %d, ok %v), want %q", got, size, ok, tt.feature)
			}
		})
	}
}

func TestVariantNames(t *testing.T) {
	tests := []struct {
		arch *arch
		name string
		want bool
	}{
		{x86Arch, "__memmove_avx_unaligned_erms", true},
		{x86Arch, "__strlen_evex", true},
		{x86Arch, "__strcspn_sse42", true},
		{x86Arch, "__sin_fma", true},
		{x86Arch, "_dl_runtime_resolve_xsavec", true},
		{x86Arch, "__lll_lock_elision", true},
		{x86Arch, "main", false},
		{x86Arch, "memcpy", false},
		{x86Arch, "init_cpu_features", false},
		{x86Arch, "average", false},
		{x86Arch, "aesni_gcm_encrypt", true},
		{x86Arch, "gcm_ghash_clmul", true},
		{x86Arch, "vpaes_set_encrypt_key", true},
		{x86Arch, "bn_mulx4x_mont", false},                                       // found through OPENSSL_ia32cap_P instead
		{x86Arch, "_ZNK7simdutf7haswell14implementation10count_utf8EPKcm", true}, // simdutf::haswell::...
		{x86Arch, "_ZN3hwy6N_AVX26detail4SortEPim", true},                        // hwy::N_AVX2::detail::Sort
		{x86Arch, "_ZN7simdutf8fallback14implementation10count_utf8EPKcm", false},
		{x86Arch, "_ZN4node11Environment5StartEv", false},
		{arm64Arch, "__aarch64_cas4_acq", true},
		{arm64Arch, "__aarch64_ldadd8_acq_rel", true},
		{arm64Arch, "__memcpy_sve", true},
		{arm64Arch, "__memset_a64fx", true},
		{arm64Arch, "__aarch64_have_lse_atomics", false},
		{arm64Arch, "severity", false},
		{arm64Arch, "aes_v8_cbc_encrypt", true},
		{arm64Arch, "sha256_block_armv8", true},
		{arm64Arch, "_ZN2v88internal7Isolate4InitEv", false}, // v8::internal::Isolate::Init
	}
	for _, tt := range tests {
		if got := tt.arch.variant(tt.name); got != tt.want {
			t.Errorf("%s variant(%q) = %v, want %v", tt.arch.name, tt.name, got, tt.want)
		}
	}
}

func TestUnsupportedMachine(t *testing.T) {
	data, err := os.ReadFile(ctest.Build(t, ctest.MuslGCC(t), helloC, "-static"))
	if err != nil {
		t.Fatal(err)
	}
	binary.LittleEndian.PutUint16(data[18:], uint16(elf.EM_RISCV)) // e_machine
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Analyze(f)
	if err != nil || r.Arch != "riscv64" || r.Level != "" || len(r.Notes) == 0 {
		t.Errorf("got %+v, %v", r, err)
	}
}

// Code the caller marks as chosen at run time counts as dispatched, like an IFUNC variant: a
// -march=haswell program is v3 as a whole, v1 when its main is marked.
func TestChosenRanges(t *testing.T) {
	path := ctest.Build(t, ctest.GCC(t), loopC, "-O3", "-march=haswell", "-static")
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	whole, err := Analyze(f)
	if err != nil || whole.Level != "x86-64-v3" {
		t.Fatalf("unmarked: %+v, %v", whole, err)
	}
	syms, _ := f.Symbols()
	i := slices.IndexFunc(syms, func(s elf.Symbol) bool { return s.Name == "main" })
	if i < 0 {
		t.Fatal("no main")
	}
	main := Range{Start: syms[i].Value, End: syms[i].Value + syms[i].Size}
	marked, err := Analyze(f, main)
	// (glibc's own IFUNC variants go up to v4.)
	if err != nil || marked.Level != "x86-64-v1" || !marked.Dispatched || marked.DispatchedCounts["avx2"] == 0 {
		t.Errorf("main marked: level %s, dispatched %v %s, %v", marked.Level, marked.Dispatched, marked.DispatchedLevel, err)
	}
}

// TestBoundariesMatchObjdump checks the decoder's instruction lengths, and so the workarounds
// for x86asm, against GNU objdump on glibc, whose IFUNC variants use every vector extension.
func TestBoundariesMatchObjdump(t *testing.T) {
	objdump, err := exec.LookPath("objdump")
	if err != nil {
		t.Skip("objdump not found")
	}
	path := ctest.Build(t, ctest.GCC(t), loopC, "-O3", "-march=haswell", "-static")
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	secs, _, err := codeSections(f)
	if err != nil {
		t.Fatal(err)
	}
	funcs, _, _, _ := functions(f, secs, x86Arch, nil)
	ours := map[uint64]int{}
	memo := new(x86memo.Memo)
	walk(secs, funcs, nil, func(code []byte, pc uint64, _ *function) int {
		size, ok := decodeX86(memo, code, pc, func(string) {})
		if ok {
			ours[pc] = size
		}
		return size
	})
	out, err := exec.Command(objdump, "-d", "-w", path).Output()
	if err != nil {
		t.Fatal(err)
	}
	// Lines look like "  401000:\tf3 0f 1e fa          \tendbr64".
	mismatches, total := 0, 0
	for _, line := range strings.Split(string(out), "\n") {
		fields := strings.SplitN(line, "\t", 3)
		if len(fields) < 3 || !strings.HasPrefix(line, "  ") {
			continue
		}
		addr, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(fields[0]), ":"), 16, 64)
		if err != nil {
			continue
		}
		total++
		if size := len(strings.Fields(fields[1])); ours[addr] != size {
			if mismatches < 10 {
				t.Errorf("%#x: objdump decodes %d bytes (%s), we %d", addr, size, fields[2], ours[addr])
			}
			mismatches++
		}
	}
	if total < 10000 || mismatches > 0 {
		t.Errorf("%d of %d instructions differ", mismatches, total)
	}
}

// TestHostileInput feeds truncated and corrupted programs to Analyze: it must return, without a
// panic escaping, for every file that debug/elf accepts.
func TestHostileInput(t *testing.T) {
	for _, path := range []string{
		ctest.Build(t, ctest.MuslGCC(t), helloC, "-static"),
		ctest.Build(t, ctest.MuslGCC(t), helloC, "-static", "-s"), // functions from .eh_frame
		ctest.Build(t, ctest.Zig(t, "aarch64-linux-musl"), atomicC, "-O2"),
		ctest.Build(t, ctest.GCC(t), capvarC, "-O3", "-fno-inline"), // the capability search
	} {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, variant := range ctest.Mangle(data) {
			f, err := elf.NewFile(bytes.NewReader(variant))
			if err != nil {
				continue
			}
			if _, err := Analyze(f); err != nil && strings.Contains(err.Error(), "malformed") {
				t.Logf("recovered: %v", err)
			}
		}
	}
}

func FuzzAnalyze(f *testing.F) {
	f.Add([]byte("\x7fELF\x02\x01\x01"))
	if data, err := os.ReadFile("/bin/true"); err == nil {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if file, err := elf.NewFile(bytes.NewReader(data)); err == nil {
			if _, err := Analyze(file); err != nil && strings.Contains(err.Error(), "malformed") {
				t.Fatal(err)
			}
		}
	})
}

func TestRefs(t *testing.T) {
	type ref struct {
		addr uint64
		how  refKind
	}
	collectSwept := func(refs refsFunc, code []byte, pc uint64, sw *x86len.Sweep) []ref {
		var out []ref
		all := func(uint64) bool { return true }
		refs(code, pc, sw, 0, all, func(addr uint64, how refKind) { out = append(out, ref{addr, how}) })
		return out
	}
	collect := func(refs refsFunc, code []byte, pc uint64) []ref { return collectSwept(refs, code, pc, nil) }
	// mov 0x10(%rip),%eax; call .+0x25; mov %eax,0x8(%rip); lea 0x4(%rip),%rdx; movdqa
	// 0x20(%rip),%xmm0; vpaddd 0x10(%rip),%ymm1,%ymm2 (which x86asm does not decode: its
	// operand goes unseen)
	x86refs, done := x86Arch.refs()
	defer done()
	code := []byte{0x8b, 0x05, 0x10, 0, 0, 0, 0xe8, 0x20, 0, 0, 0, 0x89, 0x05, 0x08, 0, 0, 0,
		0x48, 0x8d, 0x15, 0x04, 0, 0, 0, 0x66, 0x0f, 0x6f, 0x05, 0x20, 0, 0, 0, 0xc5, 0xf5, 0xfe, 0x15, 0x10, 0, 0, 0}
	x86 := collect(x86refs, code, 0x401000)
	if want := []ref{{0x401016, loaded}, {0x40102b, branched}, {0x401019, stored}, {0x40101c, formed},
		{0x401040, loaded}}; !slices.Equal(x86, want) {
		t.Errorf("x86: got %#x, want %#x", x86, want)
	}
	// The same with the lengths from a sweep, which marks the baseline instructions.
	sw := &x86len.Sweep{Addr: 0x401000, Code: code, Starts: make([]uint64, 1), Baseline: make([]uint64, 1)}
	for _, at := range []int{0, 6, 11, 17, 24, 32} {
		sw.Starts[0] |= 1 << at
		if at < 24 {
			sw.Baseline[0] |= 1 << at
		}
	}
	if swept := collectSwept(x86refs, code, 0x401000, sw); !slices.Equal(swept, x86) {
		t.Errorf("x86 with a sweep: got %#x, want %#x", swept, x86)
	}
	// adrp x0, .+0x1000; ldr w1, [x0, #0x10]; bl .+0x100; b.eq .-8; str w1, [x0, #0x8]
	armrefs, _ := arm64Arch.refs()
	arm := collect(armrefs, []byte{0x00, 0x00, 0x00, 0xb0, 0x01, 0x10, 0x40, 0xb9, 0x40, 0x00, 0x00, 0x94,
		0xc0, 0xff, 0xff, 0x54, 0x01, 0x08, 0x00, 0xb9}, 0x400000)
	if want := []ref{{0x401010, loaded}, {0x400108, branched}, {0x400004, branched}, {0x401008, stored}}; !slices.Equal(arm, want) {
		t.Errorf("arm64: got %#x, want %#x", arm, want)
	}
}

func TestResolverReferences(t *testing.T) {
	// lea 0x10(%rip),%rax; ret
	x86 := x86References([]byte{0x48, 0x8d, 0x05, 0x10, 0x00, 0x00, 0x00, 0xc3}, 0x401000)
	if want := []uint64{0x401000 + 7 + 0x10}; !slices.Equal(x86, want) {
		t.Errorf("x86: got %#x, want %#x", x86, want)
	}
	// adrp x0, .+0x1000; add x0, x0, #0x123; ret
	arm := arm64References([]byte{0x00, 0x00, 0x00, 0xb0, 0x00, 0x8c, 0x04, 0x91, 0xc0, 0x03, 0x5f, 0xd6}, 0x400000)
	if want := []uint64{0x401123}; !slices.Equal(arm, want) {
		t.Errorf("arm64: got %#x, want %#x", arm, want)
	}
}
