package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portabin/portabin/internal/check"
	"github.com/portabin/portabin/internal/matrix"
	"github.com/portabin/portabin/internal/risk"
	"github.com/portabin/portabin/internal/seccomp"
	"github.com/portabin/portabin/internal/uerr"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

const (
	bookwormDigest = "sha256:5f3a9c1d0e7b24a8c6f1d2e3b4a5968778695a4b3c2d1e0f9a8b7c6d5e4f3a2b"
	trixieDigest   = "sha256:0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f"
	scratchDigest  = "sha256:9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d"
)

var kernelLabels = []string{"rhel5 (2.6.18)", "rhel7 (3.10)", "host (6.1)"}

// sample is a report as `portabin run` makes it for a project with three executables: a portable
// one that passes everywhere but in a root the registry cannot serve; one that calls statx with
// no fallback, so check finds it needs 4.11 and the old kernels fail it with a diff and ENOSYS
// answers; and one whose build failed. Program output holds markup and control characters, which
// every form must carry safely.
func sample() *Report {
	seedCheck := &check.Report{
		Schema: check.Schema, Path: "dist/x86_64-linux-musl/seed", Class: "ELFCLASS64", ByteOrder: "LittleEndian",
		Machine: "EM_X86_64", Arch: "x86_64", Type: "ET_EXEC", Entry: 0x401020, Linking: "static",
		Libc:     check.Libc{Name: "musl", Version: "1.2.5", Evidence: "static musl start-up code (__libc_start_main, __init_libc)"},
		Kernel:   check.Kernel{Minimum: "2.6.16", DecidedBy: "syscall openat", Analysed: true, Syscalls: []check.SyscallUse{{Name: "openat", Number: 257, Since: "2.6.16"}}},
		CPU:      &check.CPU{Level: "x86-64-v1"},
		Risks:    []risk.Finding{{Kind: risk.NoBuildID, Detail: "no GNU build-id note: crash reports cannot be matched to this build"}},
		Portable: true, Verdict: "portable: x86_64, Linux >= 2.6.16, x86-64-v1",
	}
	seed := &matrix.Result{
		Schema: matrix.Schema, Executable: "dist/x86_64-linux-musl/seed", Arch: "x86_64", Runner: "native",
		Roots: []string{"scratch", "debian:bookworm", "centos:7"}, Kernels: kernelLabels, Cases: []string{"default"},
	}
	for _, root := range seed.Roots {
		for i, k := range kernelLabels {
			c := matrix.Cell{Root: root, Kernel: k, Case: "default", ENOSYSRecorded: true}
			switch root {
			case "centos:7":
				c.Status, c.ExitCode = matrix.Error, -1
				c.Reasons = []string{"resolving centos:7: pulling index.docker.io/library/centos:7: Get \"https://index.docker.io/v2/\": dial tcp: lookup index.docker.io: no such host"}
				c.ENOSYSRecorded = false
			default:
				c.Status = matrix.Pass
				c.RootDigest = map[string]string{"scratch": scratchDigest, "debian:bookworm": bookwormDigest}[root]
				c.Stdout = "seed 1.0: hello from a static musl build\n"
				c.Seconds = 0.004 + 0.001*float64(i)
			}
			seed.Cells = append(seed.Cells, c)
		}
	}
	seed.Passed, seed.Errors = 6, 3

	statxCheck := &check.Report{
		Schema: check.Schema, Path: "dist/x86_64-linux-musl/fstat-tool", Class: "ELFCLASS64", ByteOrder: "LittleEndian",
		Machine: "EM_X86_64", Arch: "x86_64", Type: "ET_DYN", Entry: 0x1040, Linking: "static-pie",
		Libc: check.Libc{Name: "musl", Evidence: "static musl start-up code (__libc_start_main, __init_libc)"},
		Kernel: check.Kernel{Minimum: "4.11", DecidedBy: "syscall statx", Analysed: true,
			Syscalls: []check.SyscallUse{{Name: "statx", Number: 332, Since: "4.11"}}},
		CPU:          &check.CPU{Level: "x86-64-v2", Features: []string{"popcnt", "sse4.2"}},
		RuntimeFiles: []string{"/etc/ssl/certs/ca-certificates.crt"},
		Problems:     []string{"needs Linux >= 4.11 (syscall statx), required 2.6.32"},
		Verdict:      "not portable: needs Linux >= 4.11 (syscall statx), required 2.6.32",
	}
	statx := &matrix.Result{
		Schema: matrix.Schema, Executable: "dist/x86_64-linux-musl/fstat-tool", Arch: "x86_64", Runner: "native",
		Roots: []string{"debian:bookworm", "dir:/srv/roots/trixie"}, Kernels: kernelLabels, Cases: []string{"default", "version"},
		Notes: []string{"kernel 2.6.16 left out: <an example note>"},
	}
	const want = "size 4096\nmode 0755\nowner root\n"
	for _, root := range statx.Roots {
		digest := map[string]string{"debian:bookworm": bookwormDigest, "dir:/srv/roots/trixie": trixieDigest}[root]
		for i, k := range kernelLabels {
			for _, cs := range statx.Cases {
				c := matrix.Cell{Root: root, RootDigest: digest, Kernel: k, Case: cs, ENOSYSRecorded: true, Seconds: 0.006 + 0.002*float64(i)}
				switch {
				case cs == "version":
					c.Status, c.Stdout = matrix.Pass, "fstat-tool 2.3 <built with portabin>\n"
				case i < 2: // the emulated 2.6.18 and 3.10 lack statx
					c.Status, c.ExitCode = matrix.Fail, 1
					c.Stdout = "size ?\n"
					c.Stderr = "fstat-tool: statx: Function not implemented\n\x1b[31m<script>alert(\"stderr\")</script>\x1b[0m\n"
					c.StdoutDiff = matrix.Diff(want, c.Stdout)
					c.ENOSYS = []seccomp.Call{{Name: "statx", Number: 332, Arch: "x86_64", Since: "4.11", Count: 2}}
					c.MissingFiles = []seccomp.MissingFile{{Path: "/etc/fstat-tool.conf", Call: "openat", Count: 2}}
					c.Reasons = []string{"exit code 1, want 0", "standard output differs from the expected output",
						"the emulated kernel answered ENOSYS to [statx]"}
				default:
					c.Status, c.Stdout = matrix.Pass, want
				}
				statx.Cells = append(statx.Cells, c)
			}
		}
	}
	for _, c := range statx.Cells {
		if c.Status == matrix.Pass {
			statx.Passed++
		} else {
			statx.Failed++
		}
	}
	// Program output is anything: markup that must stay text, and a NUL.
	statx.Cells[len(statx.Cells)-1].Stdout = "<script>alert('stdout')</script> & <b>bold</b>\x00\n"

	return &Report{
		Tool: "portabin v0.4.0", Project: "fstools",
		Executables: []Executable{
			{Name: "seed", Target: "x86_64-linux-musl", Path: "dist/x86_64-linux-musl/seed", Size: 27400,
				SHA256: "3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8551", Check: seedCheck, Matrix: seed},
			{Name: "fstat-tool", Target: "x86_64-linux-musl", Path: "dist/x86_64-linux-musl/fstat-tool", Size: 1342177,
				SHA256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", Check: statxCheck, Matrix: statx},
			{Name: "fstat-tool", Target: "aarch64-linux-musl",
				Error: "building for aarch64-linux-musl: make: exit status 2: src/fast.c:12: error: unknown type name '__m128i'"},
		},
	}
}

// golden compares got with testdata/golden/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/report -update to make it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs from the golden file (-want +got; go test -update rewrites it):\n%s", name, diff)
	}
}

func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		file  string
		write func(*bytes.Buffer, *Report) error
	}{
		{"report.json", func(b *bytes.Buffer, r *Report) error { return WriteJSON(b, r) }},
		{"junit.xml", func(b *bytes.Buffer, r *Report) error { return WriteJUnit(b, r) }},
		{"report.html", func(b *bytes.Buffer, r *Report) error { return WriteHTML(b, r) }},
	} {
		t.Run(tc.file, func(t *testing.T) {
			var first, second bytes.Buffer
			if err := tc.write(&first, sample()); err != nil {
				t.Fatal(err)
			}
			if err := tc.write(&second, sample()); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(first.Bytes(), second.Bytes()) {
				t.Fatal("two writes of the same report differ")
			}
			golden(t, tc.file, first.Bytes())
		})
	}
}

func TestSummaryAndOK(t *testing.T) {
	r := sample()
	got := r.Summary()
	want := Summary{Executables: 3, Checked: 2, Portable: 1, Tested: 2, Cells: 9 + 12, Passed: 6 + 8, Failed: 4, Errors: 3, StepErrors: 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}

	passing := func() Executable {
		e := sample().Executables[0]
		e.Matrix.Roots = e.Matrix.Roots[:2]
		e.Matrix.Cells = e.Matrix.Cells[:6]
		e.Matrix.Errors = 0
		return e
	}
	for _, tc := range []struct {
		name string
		exes func() []Executable
		ok   bool
	}{
		{"no executables", func() []Executable { return nil }, false},
		{"all passed", func() []Executable { return []Executable{passing()} }, true},
		{"built only", func() []Executable { return []Executable{{Name: "x"}} }, true},
		{"error cells", func() []Executable { return sample().Executables[:1] }, false},
		{"not portable", func() []Executable {
			e := passing()
			e.Check.Portable = false
			return []Executable{e}
		}, false},
		{"step failed", func() []Executable { return []Executable{passing(), sample().Executables[2]} }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &Report{Executables: tc.exes()}
			if r.OK() != tc.ok || r.Summary().OK != tc.ok {
				t.Errorf("OK() = %v, Summary().OK = %v, want %v", r.OK(), r.Summary().OK, tc.ok)
			}
		})
	}
}

func TestJSONReadsBack(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteJSON(&buf, sample()); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	want := sample()
	want.Schema = Schema
	if diff := cmp.Diff(want, &back); diff != "" {
		t.Errorf("read back (-want +got):\n%s", diff)
	}
	var raw struct{ Summary Summary }
	if err := json.Unmarshal(buf.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	if raw.Summary != want.Summary() {
		t.Errorf("summary in the JSON = %+v, want %+v", raw.Summary, want.Summary())
	}
}

// junitDoc is what a CI system reads from the XML.
type junitDoc struct {
	XMLName  xml.Name `xml:"testsuites"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Errors   int      `xml:"errors,attr"`
	Suites   []struct {
		Name     string `xml:"name,attr"`
		Tests    int    `xml:"tests,attr"`
		Failures int    `xml:"failures,attr"`
		Errors   int    `xml:"errors,attr"`
		Cases    []struct {
			Name    string `xml:"name,attr"`
			Failure *struct {
				Message string `xml:"message,attr"`
				Text    string `xml:",chardata"`
			} `xml:"failure"`
			Error *struct {
				Message string `xml:"message,attr"`
			} `xml:"error"`
			SystemOut string `xml:"system-out"`
			SystemErr string `xml:"system-err"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func TestJUnitReadsBack(t *testing.T) {
	r := sample()
	var buf bytes.Buffer
	if err := WriteJUnit(&buf, r); err != nil {
		t.Fatal(err)
	}
	var doc junitDoc
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("the XML does not parse: %v", err)
	}
	// Each cell is a test case, and so is each check and each failed step.
	s := r.Summary()
	if doc.Tests != s.Cells+s.Checked+s.StepErrors || doc.Failures != s.Failed+s.Checked-s.Portable || doc.Errors != s.Errors+s.StepErrors {
		t.Errorf("testsuites: tests=%d failures=%d errors=%d, want %d, %d, %d", doc.Tests, doc.Failures, doc.Errors,
			s.Cells+s.Checked+s.StepErrors, s.Failed+s.Checked-s.Portable, s.Errors+s.StepErrors)
	}
	if len(doc.Suites) != len(r.Executables) {
		t.Fatalf("%d test suites, want one per executable (%d)", len(doc.Suites), len(r.Executables))
	}
	for i, suite := range doc.Suites {
		failures, errs := 0, 0
		for _, c := range suite.Cases {
			if c.Failure != nil {
				failures++
			}
			if c.Error != nil {
				errs++
			}
		}
		if suite.Tests != len(suite.Cases) || suite.Failures != failures || suite.Errors != errs {
			t.Errorf("suite %s says tests=%d failures=%d errors=%d, holds %d, %d, %d", suite.Name,
				suite.Tests, suite.Failures, suite.Errors, len(suite.Cases), failures, errs)
		}
		e := r.Executables[i]
		if e.Matrix == nil {
			continue
		}
		// The cells follow the check, in the matrix's order, each with its own verdict.
		cells := suite.Cases[len(suite.Cases)-len(e.Matrix.Cells):]
		for j, c := range e.Matrix.Cells {
			jc := cells[j]
			if jc.Name != c.Root+" × "+c.Kernel+" × "+c.Case {
				t.Errorf("test case %q, want the cell %s × %s × %s", jc.Name, c.Root, c.Kernel, c.Case)
			}
			if (jc.Failure != nil) != (c.Status == matrix.Fail) || (jc.Error != nil) != (c.Status == matrix.Error) {
				t.Errorf("%s: failure %v, error %v for a cell with status %s", jc.Name, jc.Failure != nil, jc.Error != nil, c.Status)
			}
			if c.Status == matrix.Fail && (!strings.Contains(jc.Failure.Text, c.StdoutDiff) || !strings.Contains(jc.Failure.Text, "statx (Linux 4.11) ×2")) {
				t.Errorf("%s: the failure does not hold the diff and the ENOSYS answers:\n%s", jc.Name, jc.Failure.Text)
			}
			if c.Status == matrix.Error && jc.Error.Message != c.Reasons[0] {
				t.Errorf("%s: error message %q, want %q", jc.Name, jc.Error.Message, c.Reasons[0])
			}
			// XML cannot hold NUL or ESC: they arrive as U+FFFD, the rest intact.
			wantOut := strings.NewReplacer("\x00", "\uFFFD", "\x1b", "\uFFFD").Replace(c.Stdout)
			wantErr := strings.NewReplacer("\x00", "\uFFFD", "\x1b", "\uFFFD").Replace(c.Stderr)
			if jc.SystemOut != wantOut || jc.SystemErr != wantErr {
				t.Errorf("%s: system-out %q, system-err %q; want %q, %q", jc.Name, jc.SystemOut, jc.SystemErr, wantOut, wantErr)
			}
		}
	}
}

func TestJUnitClipsLongOutput(t *testing.T) {
	r := sample()
	cell := &r.Executables[0].Matrix.Cells[0]
	cell.Stdout = strings.Repeat("a line of output\n", 20000)
	var buf bytes.Buffer
	if err := WriteJUnit(&buf, r); err != nil {
		t.Fatal(err)
	}
	var doc junitDoc
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	out := doc.Suites[0].Cases[1].SystemOut
	if len(out) > junitOutputLimit+200 || !strings.Contains(out, "more lines") || !strings.HasPrefix(out, "a line of output\n") {
		t.Errorf("system-out of %d bytes, ends %q", len(out), out[max(0, len(out)-120):])
	}
}

func TestHTMLEscapesProgramOutput(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteHTML(&buf, sample()); err != nil {
		t.Fatal(err)
	}
	html := buf.String()
	if n := strings.Count(html, "<script"); n != 1 {
		t.Errorf("%d <script elements, want only the page's own", n)
	}
	for _, raw := range []string{"<b>bold</b>", "alert('stdout')</script>", "\x1b", "\x00"} {
		if strings.Contains(html, raw) {
			t.Errorf("program output %q reached the page unescaped", raw)
		}
	}
	for _, escaped := range []string{"^[[31m", "&lt;script&gt;alert(&#39;stdout&#39;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;", "&lt;script&gt;alert(&#34;stderr&#34;)"} {
		if !strings.Contains(html, escaped) {
			t.Errorf("the page lacks the escaped output %q", escaped)
		}
	}
	for _, fetch := range []string{"<link", " src=", "@import", "url(", `href="http`} {
		if i := strings.Index(html, fetch); i >= 0 {
			t.Errorf("the page may fetch something: %q near %q", fetch, html[max(0, i-60):min(len(html), i+60)])
		}
	}
}

func TestHTMLShowsEveryCellOnce(t *testing.T) {
	r := sample()
	// A cell on an axis the matrix does not list must still appear.
	m := r.Executables[0].Matrix
	m.Cells = append(m.Cells, matrix.Cell{Root: "alpine:3.20", Kernel: "5.14", Case: "default", Status: matrix.Pass, Stdout: "seed\n", Seconds: 0.003})
	var buf bytes.Buffer
	if err := WriteHTML(&buf, r); err != nil {
		t.Fatal(err)
	}
	s := r.Summary()
	html := buf.String()
	if got := strings.Count(html, " data-cell="); got != s.Cells {
		t.Errorf("%d grid cells, want %d", got, s.Cells)
	}
	if got := strings.Count(html, " data-detail="); got != s.Cells {
		t.Errorf("%d cell details, want %d", got, s.Cells)
	}
	for _, c := range m.Cells {
		if !strings.Contains(html, `data-cell="`+htmlAttr(cellName(c))+`"`) {
			t.Errorf("no grid cell for %s", cellName(c))
		}
	}
}

func htmlAttr(s string) string {
	return strings.NewReplacer("&", "&amp;", `"`, "&#34;", "'", "&#39;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func TestGeneratedTime(t *testing.T) {
	r := sample()
	r.Generated = time.Date(2026, 11, 26, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		write func(*bytes.Buffer) error
		want  string
	}{
		{func(b *bytes.Buffer) error { return WriteJSON(b, r) }, `"generated": "2026-11-26T03:04:05Z"`},
		{func(b *bytes.Buffer) error { return WriteJUnit(b, r) }, `timestamp="2026-11-26T03:04:05"`},
		{func(b *bytes.Buffer) error { return WriteHTML(b, r) }, "on 2026-11-26 03:04:05 UTC"},
	} {
		var buf bytes.Buffer
		if err := tc.write(&buf); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(buf.String(), tc.want) {
			t.Errorf("output lacks %q", tc.want)
		}
	}
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	r := sample()
	for _, tc := range []struct {
		name  string
		write func(*bytes.Buffer) error
	}{
		{"report.json", func(b *bytes.Buffer) error { return WriteJSON(b, r) }},
		{"sub/junit.xml", func(b *bytes.Buffer) error { return WriteJUnit(b, r) }},
		{"report.HTML", func(b *bytes.Buffer) error { return WriteHTML(b, r) }},
		{"report.htm", func(b *bytes.Buffer) error { return WriteHTML(b, r) }},
	} {
		path := filepath.Join(dir, tc.name)
		if err := WriteFile(path, r); err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		if err := tc.write(&want); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want.Bytes()) {
			t.Errorf("%s does not hold what its format's writer writes", tc.name)
		}
		if st, _ := os.Stat(path); st.Mode().Perm() != 0o644 {
			t.Errorf("%s has mode %v, want 0644", tc.name, st.Mode().Perm())
		}
	}
	assertOnly(t, dir, "report.HTML", "report.htm", "report.json", "sub")
}

func TestWriteFileBadInput(t *testing.T) {
	dir := t.TempDir()
	err := WriteFile(filepath.Join(dir, "report.txt"), sample())
	if uerr.Code(err) != uerr.ExitUsage || !strings.Contains(err.Error(), `"`+filepath.Join(dir, "report.txt")+`"`) ||
		!strings.Contains(uerr.HintOf(err), "FILE.json, FILE.xml (JUnit) or FILE.html") {
		t.Errorf("a .txt report: %v (hint %q), want a usage error naming the three formats", err, uerr.HintOf(err))
	}
	if err := CheckPath("dist/report.xml"); err != nil {
		t.Errorf("CheckPath(dist/report.xml) = %v", err)
	}

	// A report that cannot be written leaves the previous file whole, and no temporary file.
	path := filepath.Join(dir, "report.json")
	if err := os.WriteFile(path, []byte("previous"), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := sample()
	bad.Executables[0].Matrix.Cells[0].Seconds = math.NaN() // JSON has no NaN
	var unsupported *json.UnsupportedValueError
	if err := WriteFile(path, bad); !errors.As(err, &unsupported) {
		t.Errorf("WriteFile with a NaN = %v, want the encoder's error", err)
	}
	if got, _ := os.ReadFile(path); string(got) != "previous" {
		t.Errorf("the failed write left %q", got)
	}
	// A folder in the way: the rename fails after the temporary file is written.
	if err := os.Mkdir(filepath.Join(dir, "taken.html"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "taken.html", "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(filepath.Join(dir, "taken.html"), sample()); err == nil {
		t.Error("writing over a folder succeeded")
	}
	assertOnly(t, dir, "report.json", "taken.html")
}

// assertOnly fails unless dir holds exactly names.
func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if diff := cmp.Diff(names, got); diff != "" {
		t.Errorf("%s holds (-want +got):\n%s", dir, diff)
	}
}

func TestClip(t *testing.T) {
	for _, tc := range []struct {
		in            string
		bytes, lines  int
		kept, omitted string
	}{
		{"a\nb\n", 100, 10, "a\nb\n", ""},
		{"a\nb\nc\nd\n", 100, 2, "a\nb\n", "2 more lines, 4 bytes not shown"},
		{"a\nb\nc", 100, 2, "a\nb\n", "1 more line, 1 byte not shown"},
		// A byte cut goes back to a line end when that keeps at least half.
		{"aaaa\nbbbb\ncccc\n", 12, 100, "aaaa\nbbbb\n", "1 more line, 5 bytes not shown"},
		// Never inside a character: "é" is two bytes.
		{"ééé", 3, 100, "é", "1 more line, 4 bytes not shown"},
	} {
		kept, omitted := clip(tc.in, tc.bytes, tc.lines)
		if kept != tc.kept || omitted != tc.omitted {
			t.Errorf("clip(%q, %d, %d) = %q, %q; want %q, %q", tc.in, tc.bytes, tc.lines, kept, omitted, tc.kept, tc.omitted)
		}
	}
}

func TestBelowMinimum(t *testing.T) {
	for _, tc := range []struct {
		label, minimum string
		want           bool
	}{
		{"rhel5 (2.6.18)", "3.2", true},
		{"rhel7 (3.10)", "3.2", false},
		{"2.6.32", "3.2", true},
		{"host (6.1)", "4.11", false},
		{"3.2", "3.2", false},
		{"rhel5 (2.6.18)", "", false},
	} {
		if got := belowMinimum(tc.label, tc.minimum); got != tc.want {
			t.Errorf("belowMinimum(%q, %q) = %v, want %v", tc.label, tc.minimum, got, tc.want)
		}
	}
}

func TestNewExecutable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tool")
	if err := os.WriteFile(path, []byte("abc"), 0o755); err != nil {
		t.Fatal(err)
	}
	e, err := NewExecutable(path, "x86_64-linux-musl")
	if err != nil {
		t.Fatal(err)
	}
	want := Executable{Name: "tool", Target: "x86_64-linux-musl", Path: path, Size: 3,
		SHA256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"} // sha256("abc"), FIPS 180-2 B.1
	if diff := cmp.Diff(want, e); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := NewExecutable(filepath.Join(t.TempDir(), "missing"), ""); err == nil {
		t.Error("a missing file gave no error")
	}
}

// junitRules are the strictest of the JUnit schemas CI systems read (the Jenkins xunit plugin's
// junit-10.xsd, its older junit-4.xsd, and Ant's DTD): which children each element may have, in
// which order, and which attributes it must carry.
var junitRules = map[string]struct {
	children []string // in the order the element must hold them; nil: text only
	required []string
}{
	"testsuites": {[]string{"testsuite"}, []string{"name", "tests", "failures", "errors", "time"}},
	"testsuite":  {[]string{"properties", "testcase", "system-out", "system-err"}, []string{"name", "tests", "failures", "errors", "time"}},
	"properties": {[]string{"property"}, nil},
	"property":   {[]string{}, []string{"name", "value"}},
	"testcase":   {[]string{"skipped", "error", "failure", "system-out", "system-err"}, []string{"name", "classname", "time"}},
	"error":      {nil, []string{"message", "type"}},
	"failure":    {nil, []string{"message", "type"}},
	"system-out": {nil, nil},
	"system-err": {nil, nil},
}

var junitNumber = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)

func TestJUnitSchema(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteJUnit(&buf, sample()); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(&buf)
	type open struct {
		name string
		last int // index in the rule's children of the last child seen
	}
	var stack []open
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			name := tok.Name.Local
			rule, known := junitRules[name]
			if !known || len(stack) == 0 && name != "testsuites" {
				t.Fatalf("element <%s> is not in the schema here", name)
			}
			if len(stack) > 0 {
				parent := &stack[len(stack)-1]
				order := slices.Index(junitRules[parent.name].children, name)
				if order < 0 || order < parent.last {
					t.Fatalf("<%s> inside <%s> after position %d: not allowed there", name, parent.name, parent.last)
				}
				parent.last = order
			}
			attrs := map[string]string{}
			for _, a := range tok.Attr {
				attrs[a.Name.Local] = a.Value
			}
			for _, req := range rule.required {
				if _, ok := attrs[req]; !ok {
					t.Errorf("<%s> lacks the attribute %s", name, req)
				}
			}
			for _, n := range []string{"tests", "failures", "errors", "skipped", "time"} {
				if v, ok := attrs[n]; ok && name != "property" && !junitNumber.MatchString(v) {
					t.Errorf("<%s %s=%q>: not a number", name, n, v)
				}
			}
			stack = append(stack, open{name: name})
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 && junitRules[stack[len(stack)-1].name].children != nil && len(bytes.TrimSpace(tok)) > 0 {
				t.Errorf("text %q inside <%s>, which holds only elements", tok, stack[len(stack)-1].name)
			}
		}
	}
}

// xmlText must give text that an XML parser reads back as the input, with only the characters
// XML cannot hold replaced.
func TestXMLText(t *testing.T) {
	var all []byte
	for b := range 256 {
		all = append(all, byte(b))
	}
	for _, in := range []string{string(all), "a\r\nb\tc ]]> <!-- &amp; \uFFFD \U0001F600 \uFFFE", "\xff\xfe"} {
		var doc struct {
			Text string `xml:",chardata"`
		}
		if err := xml.Unmarshal([]byte("<a>"+xmlText(in)+"</a>"), &doc); err != nil {
			t.Fatalf("xmlText(%q) does not parse: %v", in, err)
		}
		var want strings.Builder
		for _, r := range in { // each bad byte is a RuneError of its own
			if !(r == '\t' || r == '\n' || r == '\r' || r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000) {
				r = '\uFFFD'
			}
			want.WriteRune(r)
		}
		if doc.Text != want.String() {
			t.Errorf("xmlText(%q) reads back as %q, want %q", in, doc.Text, want.String())
		}
	}
}

func TestENOSYSText(t *testing.T) {
	calls := []seccomp.Call{{Name: "statx", Since: "4.11", Count: 3}, {Name: "syscall 470", Since: "newer than 5.14", Count: 1}}
	for _, tc := range []struct {
		kernel   string
		calls    []seccomp.Call
		recorded bool
		want     string
	}{
		{"rhel7 (3.10)", calls, true, "statx (Linux 4.11) ×3, syscall 470 (newer than 5.14)"},
		{"3.10", nil, true, "none"},
		{"3.10", nil, false, "not recorded by this runner (newer calls were still refused)"},
		{"host (6.1)", nil, false, ""}, // nothing is emulated on the host's kernel
	} {
		c := matrix.Cell{Kernel: tc.kernel, ENOSYS: tc.calls, ENOSYSRecorded: tc.recorded}
		if got := enosysText(c); got != tc.want {
			t.Errorf("enosysText(%s, %v, recorded %v) = %q, want %q", tc.kernel, tc.calls, tc.recorded, got, tc.want)
		}
	}
}

// A report with nothing in it (a run that stopped before its first build) still writes.
func TestEmptyReport(t *testing.T) {
	r := &Report{}
	var j, x, h bytes.Buffer
	if err := WriteJSON(&j, r); err != nil {
		t.Fatal(err)
	}
	if err := WriteJUnit(&x, r); err != nil {
		t.Fatal(err)
	}
	if err := WriteHTML(&h, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(j.String(), `"executables": []`) || !strings.Contains(j.String(), `"ok": false`) {
		t.Errorf("JSON of an empty report:\n%s", j.String())
	}
	var doc junitDoc
	if err := xml.Unmarshal(x.Bytes(), &doc); err != nil || doc.Tests != 0 || len(doc.Suites) != 0 {
		t.Errorf("JUnit of an empty report: %v\n%s", err, x.String())
	}
	if !strings.Contains(h.String(), "0 executables") {
		t.Errorf("the page does not say it is empty")
	}
}
