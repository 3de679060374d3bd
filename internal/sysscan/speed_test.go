package sysscan

import (
	"debug/elf"
	"os"
	"testing"
	"time"
)

// openSelf opens this test binary: a static Go executable of several
// megabytes, with millions of bytes of code.
func openSelf(tb testing.TB) *elf.File {
	tb.Helper()
	exe, err := os.Executable()
	if err != nil {
		tb.Skip(err)
	}
	f, err := elf.Open(exe)
	if err != nil {
		tb.Skip(err)
	}
	tb.Cleanup(func() { f.Close() })
	return f
}

func TestScanSpeed(t *testing.T) {
	f := openSelf(t)
	start := time.Now()
	res, err := Scan(f)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	code := 0
	for _, s := range f.Sections {
		if s.Flags&elf.SHF_EXECINSTR != 0 {
			code += int(s.Size)
		}
	}
	// Speed is measured by bench/check, not asserted here: this logs it.
	t.Logf("%d bytes of code scanned in %v: %d numbers, %d unknown", code, took, len(res.Numbers), res.Unknown)
	if len(res.Numbers) == 0 {
		t.Error("no system calls found in a Go executable")
	}
}

func BenchmarkScan(b *testing.B) {
	f := openSelf(b)
	for b.Loop() {
		if _, err := Scan(f); err != nil {
			b.Fatal(err)
		}
	}
}
