package check

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portabin/portabin/internal/risk"
)

// WriteDocument over Encode's pieces must write, byte for byte, what encoding/json writes for
// the whole document, whatever the reports hold: that is what lets saved encodings stand in
// for reports.
func TestDocument(t *testing.T) {
	full := &Report{
		Schema: Schema, Path: "/opt/a <b> & \"c\"/ünï", Class: "ELF64", Machine: "EM_X86_64",
		Linking: "dynamic", Needed: []string{"libc.so.6", "libm.so.6"}, RPath: []string{"$ORIGIN/../lib"},
		Libc:     Libc{Name: "glibc", Version: "2.36", Evidence: "needs libc.so.6\twith\ttabs"},
		Kernel:   Kernel{Minimum: "3.2", DecidedBy: "ABI tag", Syscalls: []SyscallUse{{Name: "read"}, {Name: "statx"}}, Analysed: true},
		CPU:      &CPU{Level: "x86-64-v3", Features: []string{"avx2"}, Notes: []string{"a \u2028 line separator"}},
		Glibc:    &GlibcFloor{GLIBC: "2.34", Distros: []string{"RHEL 9"}},
		Risks:    []risk.Finding{{Kind: risk.Dlopen, Detail: "calls dlopen"}},
		Problems: []string{"dynamic (needs /lib64/ld-linux-x86-64.so.2)"}, Verdict: "not portable: glibc >= 2.34",
	}
	empty := &Report{Schema: Schema, Risks: []risk.Finding{}}
	for name, reports := range map[string][]*Report{
		"none":  nil,
		"empty": {},
		"one":   {full},
		"three": {full, empty, full},
	} {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(map[string]any{"schema": Schema, "files": reports}); err != nil {
			t.Fatal(err)
		}
		var pieces [][]byte
		if reports != nil {
			pieces = [][]byte{}
		}
		for _, r := range reports {
			b, err := Encode(r)
			if err != nil {
				t.Fatal(err)
			}
			pieces = append(pieces, b)
		}
		var got bytes.Buffer
		if err := WriteDocument(&got, pieces); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want.String(), got.String()); diff != "" {
			t.Errorf("%s: document differs from encoding/json's (-want +got):\n%s", name, diff)
		}
	}
}
