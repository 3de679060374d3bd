package x86len

import (
	"debug/elf"
	"os"
	"testing"
)

// BenchmarkMeasure measures every instruction of this test program's code with Baseline, one
// after another, as the sweeps of internal/sysscan and internal/isa do before anything else:
// what no first check of a program can go below. Set X86LEN_FILE to measure another program's
// .text. It reports nanoseconds per instruction.
func BenchmarkMeasure(b *testing.B) {
	path := os.Getenv("X86LEN_FILE")
	if path == "" {
		exe, err := os.Executable()
		if err != nil {
			b.Skip(err)
		}
		path = exe
	}
	f, err := elf.Open(path)
	if err != nil {
		b.Skip(err)
	}
	defer f.Close()
	text := f.Section(".text")
	if text == nil || f.Machine != elf.EM_X86_64 {
		b.Skip("no x86-64 .text in " + path)
	}
	code, err := text.Data()
	if err != nil {
		b.Fatal(err)
	}
	instructions := 0
	for b.Loop() {
		instructions = 0
		for off := 0; off < len(code); instructions++ {
			if n, ok := Baseline(code[off:]); ok {
				off += n
			} else {
				off++ // what a sweep does with what it cannot measure, at the least
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(instructions), "ns/instruction")
	b.ReportMetric(float64(len(code))/float64(instructions), "bytes/instruction")
}
