package report

import (
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"strings"

	"github.com/portabin/portabin/internal/check"
	"github.com/portabin/portabin/internal/matrix"
	"github.com/portabin/portabin/internal/risk"
)

//go:embed report.html.tmpl
var pageSource string

var page = template.Must(template.New("report").Parse(pageSource))

// openScript opens the <details> a link to a cell points at. The page works without it: the link
// still scrolls there.
const openScript = `function openTarget(){var e=document.getElementById(location.hash.slice(1));if(e&&e.tagName==="DETAILS"){e.open=true}}
addEventListener("hashchange",openTarget);openTarget();`

// contentPolicy forbids every fetch and every script but openScript: even if program output
// slipped past the escaping, it could neither run nor load anything.
var contentPolicy = func() string {
	sum := sha256.Sum256([]byte(openScript))
	return "default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'sha256-" +
		base64.StdEncoding.EncodeToString(sum[:]) + "'"
}()

// HTML output cut per stream: enough to see what went wrong, small enough for a page with many
// cells. report.json holds all of it.
const (
	htmlOutputBytes = 16 << 10
	htmlOutputLines = 200
)

// WriteHTML writes r as one self-contained HTML page: inline style, one small inline script, no
// fetches. Per executable it shows check's findings and the matrix as a grid (rows roots, columns
// kernels) whose cells link to their details: reasons, output diff, stdout and stderr, the calls
// answered ENOSYS and the duration. Everything from the report is escaped.
func WriteHTML(w io.Writer, r *Report) error {
	return page.Execute(w, pageOf(r))
}

type pageView struct {
	Title, Tool, Project, Generated string
	CSP                             string
	Script                          template.JS
	OK                              bool
	Headline                        string
	Executables                     []exeView
}

type exeView struct {
	ID, Name, Target, Path, SHA256, Size string
	// CheckWord, CheckStatus and Cells are the executable's line in the overview table.
	CheckWord, CheckStatus, Cells string
	OK                            bool
	Error                         string
	Check                         *checkView
	Matrix                        *matrixView
}

type fact struct{ Label, Value string }

type checkView struct {
	Portable     bool
	Verdict      string
	Facts        []fact
	Problems     []string
	Risks        []risk.Finding
	RuntimeFiles []string
}

type matrixView struct {
	Runner                 string
	Kernels                []kernelHead
	Rows                   []rowView
	Cells                  []cellView
	Passed, Failed, Errors int
	SeveralCases           bool
	MinimumKernel          string
	KernelsBelowTheMinimum bool
	Notes                  []string
}

type kernelHead struct {
	Label string
	// Below is true when check says the executable needs a newer kernel.
	Below bool
}

type rowView struct {
	Root, Digest string
	// Slots holds, per kernel column, the cells of every case.
	Slots [][]cellView
}

type cellView struct {
	ID, Name, Case         string
	Status, Mark           string
	Duration, Exit, Digest string
	Reasons                []string
	Diff                   []diffLine
	Stdout, StdoutOmitted  string
	Stderr, StderrOmitted  string
	ENOSYS                 string
	Missing                string
	Open                   bool
}

type diffLine struct{ Class, Text string }

func pageOf(r *Report) pageView {
	s := r.Summary()
	p := pageView{Title: "portabin report", Tool: r.Tool, Project: r.Project, CSP: contentPolicy,
		Script: template.JS(openScript), OK: s.OK, Headline: headline(s)}
	if r.Project != "" {
		p.Title += ": " + r.Project
	}
	if !r.Generated.IsZero() {
		p.Generated = r.Generated.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	for i := range r.Executables {
		p.Executables = append(p.Executables, exeOf(&r.Executables[i], "x"+strconv.Itoa(i+1)))
	}
	return p
}

// headline is the report in one line: "3 executables · 1 of 2 portable · 21 cells: 14 passed,
// 4 failed, 3 errors · 1 with a failed step".
func headline(s Summary) string {
	parts := []string{plural(s.Executables, "executable")}
	if s.Checked > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d portable", s.Portable, s.Checked))
	}
	if s.Tested > 0 {
		parts = append(parts, fmt.Sprintf("%s: %d passed, %d failed, %s", plural(s.Cells, "cell"), s.Passed, s.Failed, plural(s.Errors, "error")))
	}
	if s.StepErrors > 0 {
		parts = append(parts, fmt.Sprintf("%d with a failed step", s.StepErrors))
	}
	return strings.Join(parts, " · ")
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func exeOf(e *Executable, id string) exeView {
	v := exeView{ID: id, Name: e.Name, Target: e.Target, Path: e.Path, SHA256: e.SHA256, OK: e.OK(), Error: e.Error}
	if e.Size > 0 {
		v.Size = fmt.Sprintf("%s (%d bytes)", byteSize(e.Size), e.Size)
	}
	v.CheckWord, v.CheckStatus, v.Cells = "—", "none", "—"
	if e.Check != nil {
		v.Check = checkOf(e.Check)
		v.CheckWord, v.CheckStatus = "✗ not portable", "fail"
		if e.Check.Portable {
			v.CheckWord, v.CheckStatus = "✓ portable", "pass"
		}
	}
	if m := e.Matrix; m != nil {
		v.Cells = fmt.Sprintf("%d of %d passed", m.Passed, len(m.Cells))
		if m.Failed > 0 {
			v.Cells += fmt.Sprintf(", %d failed", m.Failed)
		}
		if m.Errors > 0 {
			v.Cells += fmt.Sprintf(", %d could not run", m.Errors)
		}
	}
	if e.Matrix != nil {
		minimum := ""
		if e.Check != nil {
			minimum = e.Check.Kernel.Minimum
		}
		v.Matrix = matrixOf(e.Matrix, id, minimum)
	}
	return v
}

func checkOf(c *check.Report) *checkView {
	v := &checkView{Portable: c.Portable, Verdict: c.Verdict, Problems: c.Problems, Risks: c.Risks, RuntimeFiles: c.RuntimeFiles}
	v.Facts = []fact{
		{"Minimum kernel", kernelMinimum(c.Kernel)},
		{"CPU level", cpuText(c.CPU)},
		{"C library", libcText(c)},
	}
	if c.Libc.Evidence != "" {
		v.Facts[2].Value += " — " + c.Libc.Evidence
	}
	if c.Glibc != nil && c.Glibc.GLIBC != "" {
		v.Facts = append(v.Facts, fact{"glibc floor", c.Glibc.GLIBC + oldest(c.Glibc.Distros)})
	}
	if c.Interp != "" {
		v.Facts = append(v.Facts, fact{"Interpreter", c.Interp})
	}
	return v
}

func oldest(distros []string) string {
	if len(distros) == 0 {
		return ""
	}
	return " (oldest: " + strings.Join(distros, ", ") + ")"
}

func matrixOf(m *matrix.Result, exeID, minimum string) *matrixView {
	v := &matrixView{Runner: m.Runner, Passed: m.Passed, Failed: m.Failed, Errors: m.Errors, MinimumKernel: minimum, Notes: m.Notes}
	// The axes as the matrix states them, plus any a cell names that they lack, so that no
	// cell can fall out of the grid.
	roots, kernelLabels, cases := axis(m.Roots), axis(m.Kernels), axis(m.Cases)
	for _, c := range m.Cells {
		roots.add(c.Root)
		kernelLabels.add(c.Kernel)
		cases.add(c.Case)
	}
	v.SeveralCases = len(cases.order) > 1
	for _, k := range kernelLabels.order {
		below := minimum != "" && belowMinimum(k, minimum)
		v.Kernels = append(v.Kernels, kernelHead{Label: k, Below: below})
		v.KernelsBelowTheMinimum = v.KernelsBelowTheMinimum || below
	}
	v.Rows = make([]rowView, len(roots.order))
	for i, root := range roots.order {
		v.Rows[i] = rowView{Root: root, Slots: make([][]cellView, len(kernelLabels.order))}
	}
	digests := map[string]string{}
	for _, rd := range rootDigests(m) {
		digests[rd[0]] = rd[1]
	}
	for i, c := range m.Cells {
		cv := cellOf(c, exeID+"-c"+strconv.Itoa(i+1))
		v.Cells = append(v.Cells, cv)
		row := &v.Rows[roots.index[c.Root]]
		row.Digest = digests[c.Root]
		slot := &row.Slots[kernelLabels.index[c.Kernel]]
		*slot = append(*slot, cv)
	}
	return v
}

// ordered is a list of distinct names and where each stands.
type ordered struct {
	order []string
	index map[string]int
}

func axis(names []string) *ordered {
	o := &ordered{index: map[string]int{}}
	for _, n := range names {
		o.add(n)
	}
	return o
}

func (o *ordered) add(name string) {
	if _, ok := o.index[name]; !ok {
		o.index[name] = len(o.order)
		o.order = append(o.order, name)
	}
}

func cellOf(c matrix.Cell, id string) cellView {
	v := cellView{ID: id, Name: cellName(c), Case: c.Case,
		Status: string(c.Status), Reasons: c.Reasons, Digest: c.RootDigest}
	switch c.Status {
	case matrix.Pass:
		v.Mark = "✓"
	case matrix.Fail:
		v.Mark = "✗"
	default:
		v.Status, v.Mark = "error", "!"
	}
	v.Open = v.Status != "pass"
	if c.Status == matrix.Error && c.Seconds == 0 {
		// The program never ran: no exit, output or duration to show.
		return v
	}
	v.Duration = seconds(c.Seconds)
	v.ENOSYS = enosysText(c)
	v.Missing = missingText(c)
	switch {
	case c.TimedOut:
		v.Exit = "timed out, killed"
	case c.Signal != "":
		v.Exit = "killed by " + c.Signal
	default:
		v.Exit = "exit code " + strconv.Itoa(c.ExitCode)
	}
	v.Stdout, v.StdoutOmitted = clip(visible(c.Stdout), htmlOutputBytes, htmlOutputLines)
	v.Stderr, v.StderrOmitted = clip(visible(c.Stderr), htmlOutputBytes, htmlOutputLines)
	if c.StdoutDiff != "" {
		diff, omitted := clip(visible(c.StdoutDiff), htmlOutputBytes, htmlOutputLines)
		for _, line := range strings.SplitAfter(diff, "\n") {
			if line == "" {
				continue
			}
			class := "same"
			switch line[0] {
			case '-':
				class = "del"
			case '+':
				class = "ins"
			case '.':
				class = "skip"
			}
			v.Diff = append(v.Diff, diffLine{class, line})
		}
		if omitted != "" {
			v.Diff = append(v.Diff, diffLine{"skip", "… " + omitted + "\n"})
		}
	}
	return v
}

// visible shows the control characters of program output in caret notation, as `cat -v` does
// (ESC as ^[, NUL as ^@), and bad UTF-8 as U+FFFD: a page cannot show them, and they matter when
// output differs.
func visible(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if !strings.ContainsFunc(s, isControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case !isControl(r):
			b.WriteRune(r)
		case r == 0x7f:
			b.WriteString("^?")
		default:
			b.WriteByte('^')
			b.WriteRune(r + '@')
		}
	}
	return b.String()
}

func isControl(r rune) bool { return (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f }
