package check

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/portabin/portabin/internal/ctest"
)

// fuzzSeeds are real ELF files of each kind check meets: static musl, static glibc, dynamic
// glibc, aarch64 — small, so that their mangled copies run in a few seconds.
func fuzzSeeds(t testing.TB) [][]byte {
	const hello = "#include <stdio.h>\nint main(void) { puts(\"hi\"); return 0; }\n"
	exes := []string{
		ctest.Build(t, ctest.MuslGCC(t), hello, "-static", "-O2"),
		ctest.Build(t, ctest.GCC(t), hello, "-O2"),
		ctest.Build(t, ctest.Zig(t, "aarch64-linux-musl"), hello, "-static", "-O2"),
	}
	var seeds [][]byte
	for _, exe := range exes {
		data, err := os.ReadFile(exe)
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, data)
	}
	return seeds
}

// checkBytes runs File on data and fails on a panic (even a recovered one), a hang, or an
// allocation out of proportion to the input.
func checkBytes(t *testing.T, dir string, data []byte) {
	path := filepath.Join(dir, "input")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	type result struct {
		rep *Report
		err error
	}
	done := make(chan result, 1)
	go func() {
		rep, err := File(path, Requirements{})
		done <- result{rep, err}
	}()
	var res result
	select {
	case res = <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("File did not return in 30 s on a %d-byte input", len(data))
	}
	runtime.ReadMemStats(&after)
	var p *panicError
	if errors.As(res.err, &p) {
		t.Fatalf("File panicked on a %d-byte input: %v\n%s", len(data), p.value, p.stack)
	}
	// check reads at most 64 MiB of data and decodes code of a bounded size; a crafted size
	// field must not make it allocate gigabytes.
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<30 {
		t.Fatalf("File allocated %d MiB on a %d-byte input", grew>>20, len(data))
	}
	if res.err == nil && (res.rep == nil || res.rep.Verdict == "") {
		t.Fatalf("File returned no error and no verdict on a %d-byte input", len(data))
	}
}

// FuzzFile checks whole files: `go test -fuzz=FuzzFile -fuzztime=60s ./internal/check` grows the
// corpus from real executables and truncated copies; plain `go test` runs those seeds.
func FuzzFile(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed)
		f.Add(seed[:len(seed)/2])
		f.Add(seed[:256])
	}
	f.Add([]byte{})
	f.Add([]byte("\x7fELF"))
	f.Add([]byte("#!/bin/sh\necho not ELF\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		checkBytes(t, dir, data)
	})
}

// TestMangledFiles runs what FuzzFile runs on the seeds' truncated and corrupted copies
// (ctest.Mangle): too many to be the fuzzer's seed corpus, whose coverage baseline would take
// most of a short fuzzing run, but cheap as a test.
func TestMangledFiles(t *testing.T) {
	dir := t.TempDir()
	n := 0
	for _, seed := range fuzzSeeds(t) {
		for _, mangled := range ctest.Mangle(seed) {
			checkBytes(t, dir, mangled)
			n++
		}
	}
	t.Logf("%d mangled files checked", n)
}
