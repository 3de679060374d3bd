package sysscan

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// assemble turns assembly into an object file with llvm-mc; Scan reads
// relocatable objects like executables. Calls go to local symbols, so the
// assembler resolves them and no relocation is left to apply.
func assemble(t *testing.T, triple, src string) *elf.File {
	t.Helper()
	mc, err := exec.LookPath("llvm-mc")
	if err != nil {
		t.Skip("llvm-mc not installed")
	}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.s"), filepath.Join(dir, "out.o")
	if err := os.WriteFile(in, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(mc, "-triple="+triple, "-filetype=obj", "-o", out, in)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("llvm-mc: %v\n%s", err, b)
	}
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

type asmCase struct {
	name    string
	src     string
	numbers []int
	unknown int
	// trampolines by name. Stripped files report addresses instead, and
	// a function reached only by a tail call is followed as part of its
	// caller, so then only whether there are any is compared.
	trampolines []string
	int80       []int
}

func runAsmCases(t *testing.T, triple string, cases []asmCase) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, strip := range []bool{false, true} {
				f := assemble(t, triple, tc.src)
				if strip {
					stripSymbols(f)
				}
				res, err := Scan(f)
				if err != nil {
					t.Fatal(err)
				}
				var int80 []int
				for _, s := range res.Int80 {
					int80 = append(int80, s.Number)
				}
				got := asmCase{name: tc.name, src: tc.src, numbers: res.Numbers, unknown: res.Unknown, trampolines: res.Trampolines, int80: int80}
				want := tc
				if strip {
					if (len(got.trampolines) == 0) != (len(want.trampolines) == 0) {
						t.Errorf("stripped: trampolines %v, want like %v", got.trampolines, want.trampolines)
					}
					got.trampolines, want.trampolines = nil, nil
				}
				if d := cmp.Diff(want, got, cmp.AllowUnexported(asmCase{}), cmpopts.EquateEmpty()); d != "" {
					t.Errorf("stripped %v: (-want +got)\n%s\nsites %+v unknown at %#x", strip, d, res.Sites, res.UnknownAddrs)
				}
			}
		})
	}
}

func TestX86DataFlow(t *testing.T) {
	runAsmCases(t, "x86_64-linux-gnu", []asmCase{
		{name: "immediate", src: `
	mov $60, %eax
	syscall`, numbers: []int{60}},
		{name: "register chain", src: `
	mov $39, %ecx
	mov %ecx, %edx
	mov %rdx, %rax
	syscall`, numbers: []int{39}},
		{name: "xor", src: `
	xor %eax, %eax
	syscall`, numbers: []int{0}},
		{name: "lea", src: `
	mov $40, %ecx
	lea 1(%rcx), %eax
	syscall`, numbers: []int{41}},
		{name: "push pop", src: `
	push $231
	pop %rax
	syscall`, numbers: []int{231}},
		{name: "partial register", src: `
	xor %eax, %eax
	mov $56, %al
	syscall`, numbers: []int{56}},
		{name: "load is unknown", src: `
	mov (%rdi), %eax
	syscall`, unknown: 1},
		{name: "branches join", src: `
	test %edi, %edi
	je 1f
	mov $1, %eax
	jmp 2f
1:	mov $2, %eax
2:	syscall
	ret`, numbers: []int{1, 2}},
		{name: "branch to an untracked instruction", src: `
	test %edi, %edi
	je 1f
	mov $1, %eax
	jmp 2f
1:	mov $2, %eax
2:	pxor %xmm0, %xmm0
	syscall
	ret`, numbers: []int{1, 2}},
		{name: "function starting with an untracked instruction", src: `
	.type main,@function
main:
	mov $39, %edi
	call f
	ret
	.type f,@function
f:
	pxor %xmm0, %xmm0
	mov %rdi, %rax
	syscall
	ret`, numbers: []int{39}, trampolines: []string{"f"}},
		{name: "cmov", src: `
	mov $3, %eax
	mov $4, %ecx
	test %edi, %edi
	cmovne %ecx, %eax
	syscall`, numbers: []int{3, 4}},
		{name: "frame slot across call", src: `
	.type main,@function
main:
	push %rbp
	mov %rsp, %rbp
	sub $16, %rsp
	movl $61, -4(%rbp)
	call other
	mov -4(%rbp), %eax
	syscall
	leave
	ret
	.type other,@function
other:
	mov $7, %eax
	ret`, numbers: []int{61}},
		{name: "int 0x80", src: `
	mov $1, %eax
	int $0x80`, int80: []int{1}},
		{name: "libc syscall()", src: `
	.type main,@function
main:
	mov $434, %edi
	xor %eax, %eax
	call syscall
	mov $435, %edi
	jmp syscall
	.type syscall,@function
syscall:
	mov %rdi, %rax
	mov %rsi, %rdi
	mov %rdx, %rsi
	syscall
	ret`, numbers: []int{434, 435}, trampolines: []string{"syscall"}},
		{name: "musl cancellation point", src: `
	.type main,@function
main:
	xor %edi, %edi
	call __syscall_cp_c
	mov $17, %edi
	call __syscall_cp_c
	ret
	.type __syscall_cp_c,@function
__syscall_cp_c:
	mov %rdi, %rsi
	lea cancel(%rip), %rdi
	jmp __syscall_cp_asm
	.type __syscall_cp_asm,@function
__syscall_cp_asm:
	mov (%rdi), %eax
	test %eax, %eax
	jnz 1f
	mov %rdi, %r11
	mov %rsi, %rax
	mov %rdx, %rdi
	syscall
	ret
1:	ud2
cancel:
	.long 0`, numbers: []int{0, 17}, trampolines: []string{"__syscall_cp_asm", "__syscall_cp_c"}},
		{name: "number on the stack", src: `
	.type main,@function
main:
	push $318
	call tramp
	add $8, %rsp
	ret
	.type tramp,@function
tramp:
	mov 8(%rsp), %rax
	syscall
	ret`, numbers: []int{318}, trampolines: []string{"tramp"}},
		{name: "go register ABI", src: `
	.type main,@function
main:
	mov $39, %eax
	call Syscall6
	ret
	.type Syscall6,@function
Syscall6:
	mov %rsi, %r10
	mov %rdi, %rdx
	syscall
	ret`, numbers: []int{39}, trampolines: []string{"Syscall6"}},
		{name: "address taken", src: `
	.type main,@function
main:
	mov $1, %edi
	call syscall
	lea syscall(%rip), %rax
	call *%rax
	ret
	.type syscall,@function
syscall:
	mov %rdi, %rax
	syscall
	ret`, numbers: []int{1}, unknown: 1, trampolines: []string{"syscall"}},
	})
}

func TestARM64DataFlow(t *testing.T) {
	runAsmCases(t, "aarch64-linux-gnu", []asmCase{
		{name: "immediate", src: `
	mov x8, #93
	svc #0`, numbers: []int{93}},
		{name: "register chain", src: `
	mov w9, #200
	mov x8, x9
	svc #0`, numbers: []int{200}},
		{name: "movz movk", src: `
	movz x8, #0x0, lsl #16
	movk x8, #0x1b2
	svc #0`, numbers: []int{434}},
		{name: "csel", src: `
	mov w9, #1
	mov w10, #2
	cmp w0, #0
	csel w8, w9, w10, eq
	svc #0`, numbers: []int{1, 2}},
		{name: "frame slot across call", src: `
	.type main,%function
main:
	stp x29, x30, [sp, #-32]!
	mov x29, sp
	mov w9, #57
	str w9, [sp, #16]
	bl other
	ldr w8, [sp, #16]
	svc #0
	ldp x29, x30, [sp], #32
	ret
	.type other,%function
other:
	mov x8, #1
	ret`, numbers: []int{57}},
		{name: "libc syscall()", src: `
	.type main,%function
main:
	mov x0, #434
	bl syscall
	mov x0, #435
	b syscall
	.type syscall,%function
syscall:
	mov x8, x0
	mov x0, x1
	svc #0
	ret`, numbers: []int{434, 435}, trampolines: []string{"syscall"}},
		{name: "musl cancellation point", src: `
	.type main,%function
main:
	mov x0, #63
	bl __syscall_cp_c
	ret
	.type __syscall_cp_c,%function
__syscall_cp_c:
	mov x1, x0
	adr x0, cancel
	b __syscall_cp_asm
	.type __syscall_cp_asm,%function
__syscall_cp_asm:
	ldr w0, [x0]
	cbnz w0, 1f
	mov x8, x1
	mov x0, x2
	svc #0
	ret
1:	brk #0
cancel:
	.word 0`, numbers: []int{63}, trampolines: []string{"__syscall_cp_asm", "__syscall_cp_c"}},
	})
}

func TestArgLoc(t *testing.T) {
	if got := amd64.argLoc(6); !got.onStack || got.stack != 8 {
		t.Errorf("x86_64 7th argument at %+v, want stack offset 8", got)
	}
	if got := arm64.argLoc(6); got.onStack || got.reg != 6 {
		t.Errorf("aarch64 7th argument at %+v, want x6", got)
	}
	if !slices.Equal(amd64.args, []uint8{7, 6, 2, 1, 8, 9}) {
		t.Errorf("x86_64 argument registers %v", amd64.args)
	}
}
