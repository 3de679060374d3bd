package check

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/crc32"
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
		// The JSON path gives the same report's encoding, copied or made again.
		enc, err := c.JSON(exe, req)
		if err != nil {
			t.Fatal(err)
		}
		want, err := Encode(fresh)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(string(want), string(enc.JSON)); diff != "" || enc.Portable != fresh.Portable {
			t.Fatalf("cached encoding differs from a fresh one (portable %v, want %v; -fresh +cached):\n%s", enc.Portable, fresh.Portable, diff)
		}
		return cached
	}

	build(newCalls[1].call) // memfd_create: 3.17
	same(Requirements{})    // saves
	entries, _ := filepath.Glob(filepath.Join(dir, "cache", "*.json"))
	if len(entries) != 1 {
		t.Fatalf("cache entries after one file: %v", entries)
	}
	// A run like the one that saved the entry copies the saved bytes without decoding them.
	if enc, err := c.JSON(exe, Requirements{}); err != nil || enc.Report != nil {
		t.Fatalf("same run again: report decoded (%v) or error %v", enc.Report != nil, err)
	}
	if enc, ok := c.Saved(exe, Requirements{}); !ok || enc.Report != nil || len(enc.JSON) == 0 {
		t.Fatalf("same run again: Saved answered %v, %d bytes", ok, len(enc.JSON))
	}
	if _, ok := c.Saved(exe, Requirements{AllowDynamic: true}); ok {
		t.Fatal("Saved answered for other requirements without judging them")
	}
	// Read back under another requirement: the verdict is the new run's.
	rhel6 := Requirements{Kernel: syscalls.Version{Major: 2, Minor: 6, Patch: 32}}
	if rep := same(rhel6); rep.Portable || rep.Kernel.Minimum != "3.17" {
		t.Fatalf("cached report judged against 2.6.32: portable %v, minimum %s", rep.Portable, rep.Kernel.Minimum)
	}
	// Named another way, the report carries the new name.
	if rel, err := filepath.Rel(".", exe); err == nil {
		if rep, err := c.File(rel, Requirements{}); err != nil || rep.Path != rel {
			t.Fatalf("cached report for %s says path %q (%v)", rel, rep.Path, err)
		}
	}

	build(newCalls[7].call) // close_range: 5.9, at the same path
	if rep := same(Requirements{}); rep.Kernel.Minimum != "5.9" {
		t.Fatalf("after the file changed the cache answered %s, want 5.9", rep.Kernel.Minimum)
	}

	// Damaged entries are misses, and are replaced: cut short, or a byte of the report changed.
	saved, err := os.ReadFile(entries[0])
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Replace(saved, []byte(`"5.9"`), []byte(`"9.9"`), 1)
	for _, damaged := range [][]byte{saved[:len(saved)/2], flipped} {
		if bytes.Equal(damaged, saved) {
			t.Fatal("the damage changed nothing")
		}
		if err := os.WriteFile(entries[0], damaged, 0o644); err != nil {
			t.Fatal(err)
		}
		same(Requirements{})
		if data, err := os.ReadFile(entries[0]); err != nil || !bytes.Equal(data, saved) {
			t.Fatalf("damaged entry not replaced: %v", err)
		}
	}
	// An entry written by another portabin is not trusted, even when whole.
	parts := bytes.SplitN(saved, []byte("\n"), 4)
	parts[0] = bytes.Replace(parts[0], []byte(`"analyser":"`), []byte(`"analyser":"another `), 1)
	parts[3] = bytes.Replace(parts[3], []byte(`"5.9"`), []byte(`"9.9"`), 1)
	parts[2] = fmt.Appendf(nil, "true %d %d", len(parts[3]), crc32.Checksum(parts[3], castagnoli))
	if err := os.WriteFile(entries[0], bytes.Join(parts, []byte("\n")), 0o644); err != nil {
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
