package check

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portabin/portabin/internal/ctest"
	"github.com/portabin/portabin/internal/syscalls"
)

// The cache must give back exactly the report a fresh check gives, judged by the requirements
// of the run that reads it, and must not outlive a change to the file or damage to itself.
func TestCache(t *testing.T) {
	cc := ctest.Zig(t, "x86_64-linux-musl")
	dir := t.TempDir()
	exe := filepath.Join(dir, "prog")
	build := func(call string) {
		t.Helper()
		built := ctest.Build(t, cc, fmt.Sprintf(program, 332, call), "-static", "-O2")
		data, err := os.ReadFile(built)
		if err != nil {
			t.Fatal(err)
		}
		// A new file at the same path, as a rebuild writes it.
		if err := os.WriteFile(exe+".new", data, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(exe+".new", exe); err != nil {
			t.Fatal(err)
		}
	}
	c := NewCache(filepath.Join(dir, "cache"))
	same := func(req Requirements) *Report {
		t.Helper()
		fresh, err := File(exe, req)
		if err != nil {
			t.Fatal(err)
		}
		cached, err := c.File(exe, req)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(asJSON(t, fresh), asJSON(t, cached)); diff != "" {
			t.Fatalf("cached report differs from a fresh one (-fresh +cached):\n%s", diff)
		}
		return cached
	}

	build(newCalls[1].call) // memfd_create: 3.17
	same(Requirements{})    // saves
	entries, _ := filepath.Glob(filepath.Join(dir, "cache", "*.json"))
	if len(entries) != 1 {
		t.Fatalf("cache entries after one file: %v", entries)
	}
	// Read back under another requirement: the verdict is the new run's.
	rhel6 := Requirements{Kernel: syscalls.Version{Major: 2, Minor: 6, Patch: 32}}
	if rep := same(rhel6); rep.Portable || rep.Kernel.Minimum != "3.17" {
		t.Fatalf("cached report judged against 2.6.32: portable %v, minimum %s", rep.Portable, rep.Kernel.Minimum)
	}

	build(newCalls[7].call) // close_range: 5.9, at the same path
	if rep := same(Requirements{}); rep.Kernel.Minimum != "5.9" {
		t.Fatalf("after the file changed the cache answered %s, want 5.9", rep.Kernel.Minimum)
	}

	// A damaged entry is a miss, and is replaced.
	if err := os.WriteFile(entries[0], []byte(`{"schema": "portabin.check/v1", "report": {`), 0o644); err != nil {
		t.Fatal(err)
	}
	same(Requirements{})
	var e cacheEntry
	if data, err := os.ReadFile(entries[0]); err != nil || json.Unmarshal(data, &e) != nil || e.Report == nil {
		t.Fatalf("damaged entry not replaced: %v", err)
	}
	// An entry written by another portabin is not trusted.
	e.Analyser = "another portabin"
	e.Report.Kernel.Minimum = "9.9"
	data, _ := json.Marshal(e)
	if err := os.WriteFile(entries[0], data, 0o644); err != nil {
		t.Fatal(err)
	}
	same(Requirements{})
}

func asJSON(t *testing.T, r *Report) string {
	t.Helper()
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
