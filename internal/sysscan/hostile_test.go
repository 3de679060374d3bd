package sysscan

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/portabin/portabin/internal/x86len"
)

// seedExecutables builds a few small real executables to mutate; each
// compiler that is missing just contributes nothing.
func seedExecutables(tb testing.TB) [][]byte {
	tb.Helper()
	dir := tb.TempDir()
	src, _ := filepath.Abs("testdata/programs/pidfd_open.c")
	var seeds [][]byte
	for _, argv := range [][]string{
		{"musl-gcc", "-static", "-O2"},
		{"gcc", "-O2"},
	} {
		if _, err := exec.LookPath(argv[0]); err != nil {
			continue
		}
		out := filepath.Join(dir, argv[0])
		cmd := exec.Command(argv[0], append(argv[1:], "-o", out, src)...)
		cmd.Dir = dir
		if b, err := cmd.CombinedOutput(); err != nil {
			tb.Fatalf("%v: %v\n%s", argv, err, b)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			tb.Fatal(err)
		}
		seeds = append(seeds, data)
	}
	return seeds
}

// scanBytes must return, never panic, whatever data holds.
func scanBytes(t testing.TB, data []byte) {
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return
	}
	if _, err := scan(f, false); err != nil {
		return
	}
}

func TestHostileInput(t *testing.T) {
	seeds := seedExecutables(t)
	if len(seeds) == 0 {
		t.Skip("no compiler to build a real executable")
	}
	rng := rand.New(rand.NewSource(1))
	deadline := time.Now().Add(10 * time.Second)
	for _, seed := range seeds {
		// Truncated copies.
		for _, n := range []int{0, 4, 16, 63, 64, 65, 200, 1000, 4096, len(seed) / 3, len(seed) / 2, len(seed) - 1} {
			if n <= len(seed) {
				scanBytes(t, seed[:n])
			}
		}
		// Corrupted copies: random bytes, header and section table
		// fields especially.
		for i := 0; i < 200 && time.Now().Before(deadline); i++ {
			c := bytes.Clone(seed)
			for k := 0; k < 1+rng.Intn(16); k++ {
				pos := rng.Intn(len(c))
				if rng.Intn(2) == 0 {
					pos = rng.Intn(64) // the ELF header
				}
				c[pos] = byte(rng.Intn(256))
			}
			scanBytes(t, c)
		}
		// An executable section claiming a gigabyte must be refused, not
		// allocated.
		f, err := elf.NewFile(bytes.NewReader(seed))
		if err != nil {
			t.Fatal(err)
		}
		shoff := binary.LittleEndian.Uint64(seed[0x28:])
		c := bytes.Clone(seed)
		for i, s := range f.Sections {
			if s.Flags&elf.SHF_EXECINSTR != 0 {
				binary.LittleEndian.PutUint64(c[shoff+uint64(i)*64+32:], 1<<30)
			}
		}
		g, err := elf.NewFile(bytes.NewReader(c))
		if err == nil {
			if _, err := Scan(g); err == nil {
				t.Error("a 1 GiB code section was scanned")
			}
		}
	}
	// Without section headers, the executable segments are scanned (a
	// dynamic executable then loses the names of its imports).
	for _, seed := range seeds {
		if f, _ := elf.NewFile(bytes.NewReader(seed)); f == nil || slices.ContainsFunc(f.Progs, func(p *elf.Prog) bool { return p.Type == elf.PT_INTERP }) {
			continue
		}
		c := bytes.Clone(seed)
		binary.LittleEndian.PutUint64(c[0x28:], 0) // e_shoff
		binary.LittleEndian.PutUint16(c[0x3c:], 0) // e_shnum
		binary.LittleEndian.PutUint16(c[0x3e:], 0) // e_shstrndx
		f, err := elf.NewFile(bytes.NewReader(c))
		if err != nil {
			t.Fatal(err)
		}
		res, err := scan(f, false)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(res.Numbers, 434) {
			t.Errorf("without section headers: Numbers %v lack pidfd_open", res.Numbers)
		}
	}
	// Random bytes behind a valid ELF header.
	for _, seed := range seeds {
		for i := 0; i < 20; i++ {
			c := bytes.Clone(seed[:64])
			junk := make([]byte, 64+rng.Intn(1<<16))
			rng.Read(junk)
			scanBytes(t, append(c, junk...))
		}
	}
	// Pure random bytes.
	for i := 0; i < 50; i++ {
		junk := make([]byte, rng.Intn(4096))
		rng.Read(junk)
		scanBytes(t, junk)
	}
}

// TestRandomCode scans random bytes as code: every decoder path must cope.
func TestRandomCode(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for _, a := range []*arch{amd64, arm64} {
		for i := 0; i < 10; i++ {
			data := make([]byte, 1<<16<<(i%3))
			rng.Read(data)
			sum, err := sweepSection(a, 0x400000, data, 0x400000, 0x400000+uint64(len(data)), false)
			if err != nil {
				t.Fatal(err)
			}
			sec := &codeSection{addr: 0x400000, data: data, sum: sum}
			p := &program{arch: a, secs: []*codeSection{sec}, names: map[uint64]string{}, nameRank: map[uint64]int{}, hinted: map[uint64]loc{}, imports: map[uint64]bool{}}
			for _, c := range sum.calls {
				if c.op == opCall && c.flags&fSlot == 0 {
					p.funcStarts = append(p.funcStarts, c.target)
				}
			}
			slices.Sort(p.funcStarts)
			p.funcStarts = slices.Compact(p.funcStarts)
			p.splitUnits()
			p.analyse()
		}
	}
}

// TestParallelDecode checks that sweeping in overlapping chunks, as big
// sections are, yields exactly what one linear sweep does, and that the
// linear decoding of the units starts exactly the instructions the sweep
// saw.
func TestParallelDecode(t *testing.T) {
	inputs := realTexts(t)
	inputs["random"] = make([]byte, 1<<20)
	rand.New(rand.NewSource(3)).Read(inputs["random"])
	for name, data := range inputs {
		for _, a := range []*arch{amd64} {
			end := 0x1000 + uint64(len(data))
			linear := sweepRange(a, 0x1000, data, 0, len(data), 0x1000, end)
			chunked, err := sweepSection(a, 0x1000, data, 0x1000, end, false)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(linear.starts, chunked.starts) || !slices.Equal(linear.calls, chunked.calls) ||
				!slices.Equal(linear.enters, chunked.enters) || !slices.Equal(linear.consts, chunked.consts) ||
				!slices.Equal(linear.baseline, chunked.baseline) {
				t.Errorf("%s on %s: chunked sweep differs from linear (%d vs %d calls)", name, a.name, len(chunked.calls), len(linear.calls))
			}
			checkSwept(t, name, data, chunked)
			var d decoder
			for _, in := range decodeRange(a, &d, 0x1000, data, 0, len(data)) {
				if !linear.start(int(in.addr - 0x1000)) {
					t.Fatalf("%s: decoding starts an instruction at %#x, the sweep does not", name, in.addr)
				}
			}
		}
	}
}

// TestUnsyncedChunks sweeps code whose chunks never agree on an instruction start (mov eax,
// imm32 after mov eax, imm32: every fifth byte starts one, counted from where a sweep began), so
// that the chunks are stitched where they meet: the lengths the sweep hands on must still be
// right there.
func TestUnsyncedChunks(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	data := bytes.Repeat([]byte{0xb8}, 1<<20) // the chunks meet at 1<<19, not a multiple of 5
	sum, err := sweepSection(amd64, 0x1000, data, 0x1000, 0x1000+uint64(len(data)), false)
	if err != nil {
		t.Fatal(err)
	}
	if !sum.start(1<<19-3) || !sum.start(1<<19) { // 3 bytes apart: no single sweep
		t.Fatal("the chunks agreed after all: the test proves nothing")
	}
	checkSwept(t, "mov eax", data, sum)
}

func FuzzScan(f *testing.F) {
	for _, seed := range seedExecutables(f) {
		f.Add(seed)
		f.Add(seed[:len(seed)/2])
		f.Add(seed[:256])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		scanBytes(t, data)
	})
}

// TestFastX86 checks the fast x86 path against x86asm on real code: this
// test binary's own, and the seed executables'.
func TestFastX86(t *testing.T) {
	var texts [][]byte
	for _, text := range realTexts(t) {
		texts = append(texts, text)
	}
	random := make([]byte, 1<<18)
	rand.New(rand.NewSource(4)).Read(random)
	texts = append(texts, random, slices.Concat(x86len.VectorEncodings()...), quietEncodings())
	// decodeRange gives an instruction that emits nothing an opNop of its own.
	norm := func(out []inst, addr uint64) []inst {
		if len(out) == 0 {
			return []inst{{addr: addr, op: opNop}}
		}
		return out
	}
	total, fast, mismatches := 0, 0, 0
	for _, text := range texts {
		for off := 0; off < len(text); {
			var fd, sd decoder
			at := 0x400000 + uint64(off)
			n, ok := fastX86(&fd, at, text[off:])
			if !ok {
				n, ok = quietX86(&fd, at, text[off:])
			}
			if !ok {
				n, ok = vectorX86(&fd, at, text[off:])
			}
			m := decodeX86Slow(&sd, at, text[off:])
			if ok && nopWithREXW(text[off:]) {
				// x86asm does not know this NOP (see quietX86): it answers an undecodable
				// byte, and the sweep goes on after the byte as x86asm's would.
				if len(fd.out) != 1 || fd.out[0].op != opPad || m != 1 {
					t.Errorf("% x: the NOP with REX.W gave %d %+v (x86asm: %d)", text[off:off+n], n, fd.out, m)
				}
				ok = false
			}
			if ok {
				fast++
				if n != m || !slices.Equal(norm(fd.out, at), norm(sd.out, at)) {
					mismatches++
					if mismatches <= 10 {
						t.Errorf("% x: fast %d %+v, x86asm %d %+v", text[off:off+max(n, m)], n, fd.out, m, sd.out)
					}
				}
			}
			off += m
			total++
		}
	}
	t.Logf("%d of %d instructions took the fast path", fast, total)
}

// nopWithREXW reports the multi-byte NOP with REX.W, after segment and operand-size prefixes.
func nopWithREXW(b []byte) bool {
	p, _ := x86len.Prefixes(b)
	return len(b) >= p+4 && b[p]&0xf8 == 0x48 && b[p+1] == 0x0f && b[p+2] == 0x1f && b[p+3]>>3&7 == 0
}

// TestFastARM64 checks the fast aarch64 path against arm64asm: on random
// words, which reach every encoding, and on a Go program's code.
func TestFastARM64(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	text := make([]byte, 4<<20)
	rng.Read(text)
	if exe := goArm64(t); exe != nil {
		text = append(text, exe...)
	}
	var fd, sd decoder
	total, fast, mismatches := 0, 0, 0
	for off := 0; off+4 <= len(text); off += 4 {
		fd.out, sd.out = fd.out[:0], sd.out[:0]
		addr := 0x400000 + uint64(off)
		ok := fastARM64(&fd, addr, binary.LittleEndian.Uint32(text[off:]))
		decodeARM64Slow(&sd, addr, text[off:])
		total++
		if !ok {
			// Keep both decoders' PLT memory in step.
			fd.lastPage, fd.lastLoad = sd.lastPage, sd.lastLoad
			continue
		}
		fast++
		if !slices.Equal(fd.out, sd.out) || fd.lastPage != sd.lastPage || fd.lastLoad != sd.lastLoad {
			mismatches++
			if mismatches <= 10 {
				t.Errorf("%08x: fast %+v %+v, arm64asm %+v %+v", binary.LittleEndian.Uint32(text[off:]), fd.out, fd.lastLoad, sd.out, sd.lastLoad)
			}
		}
	}
	t.Logf("%d of %d words took the fast path", fast, total)
}

// goArm64 returns the code of the Go test program built for aarch64, or
// nil when it cannot be built.
func goArm64(t *testing.T) []byte {
	t.Helper()
	dir := t.TempDir()
	out := filepath.Join(dir, "goprog")
	src, _ := filepath.Abs("testdata/programs/goprog")
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", out, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Logf("building the aarch64 Go program: %v\n%s", err, b)
		return nil
	}
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data, err := f.Section(".text").Data()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// quietEncodings lists padding and TEST in every form quietX86 takes, each with every ModRM
// byte, padded with zeros to 16 bytes.
func quietEncodings() []byte {
	var out []byte
	add := func(b ...byte) {
		for len(b) < 16 {
			b = append(b, 0)
		}
		out = append(out, b...)
	}
	for k := 0; k <= 7; k++ {
		prefix := bytes.Repeat([]byte{0x66}, k)
		add(append(slices.Clone(prefix), 0x90)...)
		for _, cs := range [][]byte{nil, {0x2e}} {
			for _, rex := range [][]byte{nil, {0x40}, {0x41}, {0x48}, {0x4f}} {
				for modrm := 0; modrm < 256; modrm++ {
					add(slices.Concat(prefix, cs, rex, []byte{0x0f, 0x1f, byte(modrm), 0x24, 1, 2, 3, 4})...)
				}
			}
		}
	}
	for _, rex := range [][]byte{nil, {0x40}, {0x48}, {0x45}, {0x4b}} {
		add(slices.Concat(rex, []byte{0xa8, 0x7f})...)
		add(slices.Concat(rex, []byte{0xa9, 1, 2, 3, 4})...)
		for _, op := range []byte{0x84, 0xf6, 0xf7} {
			for modrm := 0; modrm < 256; modrm++ {
				add(slices.Concat(rex, []byte{op, byte(modrm), 0x25, 1, 2, 3, 4, 5, 6, 7, 8})...)
			}
		}
	}
	return out
}

// TestInertSweep checks that the sweep's fast path (sweepX86: skipping the instructions
// inertX86 measures, summarising direct branches and moves of immediates itself) leaves every
// summary as translating every instruction would: on this test binary's code, the seed
// executables', random bytes, every opcode form, and every form of the padding and vector
// tables.
func TestInertSweep(t *testing.T) {
	texts := realTexts(t)
	random := make([]byte, 1<<18)
	rand.New(rand.NewSource(7)).Read(random)
	texts["random"] = random
	texts["tables"] = slices.Concat(quietEncodings(), slices.Concat(x86len.VectorEncodings()...))
	// Every one- and two-byte opcode with a few REX, segment and operand-size prefixes and ModRM bytes.
	var opcodes []byte
	for _, rex := range [][]byte{nil, {0x41}, {0x48}, {0x4c}, {0x66}, {0x64, 0x48}, {0x66, 0x2e}, {0x3e}, {0x66, 0x48}} {
		for op := 0; op < 256; op++ {
			for op2 := 0; op2 < 256; op2++ {
				if op != 0x0f && op2 > 0 {
					break
				}
				for _, modrm := range []byte{0x00, 0x04, 0x05, 0x15, 0x25, 0x44, 0x84, 0xc0, 0xd1} {
					for _, sib := range []byte{0x24, 0x25, 0x8d} { // base rsp, no base, no base with an index
						if sib != 0x24 && modrm != 0x04 {
							continue
						}
						b := slices.Concat(rex, []byte{byte(op)})
						if op == 0x0f {
							b = append(b, byte(op2))
						}
						// Displacements and immediates of 0x1010 fall inside the code, where
						// the summary keeps constants; a rip-relative ModRM has no SIB byte.
						b = append(b, modrm)
						if modrm&0xc7 != 0x05 {
							b = append(b, sib)
						}
						b = append(b, 0x10, 0x10, 0, 0, 0x10, 0x10, 0, 0, 0x10, 0x10, 0, 0, 0x10, 0x10, 0, 0)
						opcodes = append(opcodes, b[:16]...)
					}
				}
			}
		}
	}
	texts["opcodes"] = opcodes
	translating := *amd64
	translating.sweep = nil
	skipped := 0
	for name, data := range texts {
		end := 0x1000 + uint64(len(data))
		want := sweepRange(&translating, 0x1000, data, 0, len(data), 0x1000, end)
		got := sweepRange(amd64, 0x1000, data, 0, len(data), 0x1000, end)
		if !slices.Equal(want.starts, got.starts) || !slices.Equal(want.calls, got.calls) ||
			!slices.Equal(want.enters, got.enters) || !slices.Equal(want.consts, got.consts) {
			for off := range data {
				if want.start(off) != got.start(off) {
					t.Fatalf("%s: instruction starts differ first at +%#x: % x", name, off, data[max(off-8, 0):min(off+8, len(data))])
				}
			}
			t.Fatalf("%s: summaries differ: calls %d/%d, enters %d/%d, consts %d/%d", name,
				len(want.calls), len(got.calls), len(want.enters), len(got.enters), len(want.consts), len(got.consts))
		}
		for off := 0; off < len(data); off++ {
			if got.start(off) {
				if _, ok := inertX86(data[off:]); ok {
					skipped++
				}
			}
		}
		checkSwept(t, name, data, got)
	}
	if skipped == 0 {
		t.Fatal("nothing was skipped: the test proves nothing")
	}
	t.Logf("%d instructions skipped", skipped)
}

// checkSwept checks what the sweep hands to the CPU-level analysis: from any offset, the run
// of baseline instructions it counts up to a limit (the end of the code, or a function start
// nearby) is what x86len.Baseline measures there one by one, up to that limit.
func checkSwept(t *testing.T, name string, data []byte, sum *summary) {
	t.Helper()
	sw := &x86len.Sweep{Addr: 0x1000, Code: data, Starts: sum.starts, Baseline: sum.baseline}
	rng := rand.New(rand.NewSource(int64(len(data))))
	counted, checked := 0, 0 // offsets before checked lie in a run already measured
	for off := range data {
		if off < checked {
			continue
		}
		limit := len(data)
		if rng.Intn(2) == 0 {
			limit = min(off+1+rng.Intn(100), len(data))
		}
		n, end := sw.Run(off, limit)
		pos := off
		for k := range n {
			m, ok := x86len.Baseline(data[pos:limit])
			if !ok {
				t.Fatalf("%s +%#x: instruction %d of a run of %d up to +%#x is not one x86len.Baseline measures: % x",
					name, pos, k, n, limit, data[pos:min(pos+16, len(data))])
			}
			pos += m
		}
		if pos != end {
			t.Fatalf("%s +%#x: a run of %d up to +%#x ends at +%#x, x86len.Baseline says +%#x", name, off, n, limit, end, pos)
		}
		counted += n
		checked = end
	}
	if counted == 0 && len(data) > 1<<16 {
		t.Fatalf("%s: the sweep recorded no baseline instruction", name)
	}
}

// realTexts returns the .text of this test binary ("self") and of each seed executable
// ("seed0", ...): real compiled code for the differential tests.
func realTexts(t *testing.T) map[string][]byte {
	t.Helper()
	texts := map[string][]byte{}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if texts["self"], err = f.Section(".text").Data(); err != nil {
		t.Fatal(err)
	}
	for i, seed := range seedExecutables(t) {
		f, err := elf.NewFile(bytes.NewReader(seed))
		if err != nil {
			t.Fatal(err)
		}
		if texts[fmt.Sprintf("seed%d", i)], err = f.Section(".text").Data(); err != nil {
			t.Fatal(err)
		}
	}
	return texts
}
