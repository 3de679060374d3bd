package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/portabin/portabin/internal/check"
	"github.com/portabin/portabin/internal/matrix"
)

// The JUnit form follows the schema Jenkins and GitLab read (Jenkins' junit-10.xsd): one
// <testsuites>, a <testsuite> per executable, a <testcase> per step and cell. Element order
// inside a testcase matters to that schema: error, failure, system-out, system-err.

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Error     *junitProblem `xml:"error,omitempty"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	SystemOut *junitText    `xml:"system-out,omitempty"`
	SystemErr *junitText    `xml:"system-err,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",innerxml"`
}

// junitText is element text escaped by xmlText: encoding/xml would write every newline as
// &#xA;, which CI systems read fine but people cannot.
type junitText struct {
	Text string `xml:",innerxml"`
}

func newJUnitText(s string) *junitText {
	if s == "" {
		return nil
	}
	return &junitText{xmlText(s)}
}

// xmlText escapes s as XML character data, keeping newlines and tabs as they are. Carriage
// returns become references, which XML parsers do not turn into newlines; characters XML cannot
// hold at all (NUL, ESC, bad UTF-8) become U+FFFD.
func xmlText(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == '&':
			b.WriteString("&amp;")
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '\r':
			b.WriteString("&#xD;")
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"), !xmlChar(r):
			b.WriteRune(utf8.RuneError)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// xmlChar reports whether XML 1.0 allows r in a document (the Char production).
func xmlChar(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' || r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}

// junitOutputLimit bounds each captured stream in the XML: CI pages choke on megabytes, and the
// JSON report keeps everything.
const junitOutputLimit = 64 << 10

// WriteJUnit writes r as JUnit XML. Each executable is a test suite; its test cases are "steps"
// when a step failed before producing results, "check" when it was checked, and one
// "root × kernel × case" per matrix cell. A failed cell is a <failure> holding its reasons, output
// diff and ENOSYS answers; a cell that could not run is an <error>. Program output goes to
// system-out and system-err. Characters XML cannot hold are written as U+FFFD.
func WriteJUnit(w io.Writer, r *Report) error {
	all := junitSuites{Name: "portabin"}
	if r.Project != "" {
		all.Name = "portabin " + r.Project
	}
	total := 0.0
	for _, e := range r.Executables {
		s, seconds := junitSuiteOf(r, e)
		all.Suites = append(all.Suites, s)
		all.Tests += s.Tests
		all.Failures += s.Failures
		all.Errors += s.Errors
		total += seconds
	}
	all.Time = junitTime(total)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(all); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func junitSuiteOf(r *Report, e Executable) (junitSuite, float64) {
	s := junitSuite{Name: e.Name}
	if e.Target != "" {
		s.Name += " (" + e.Target + ")"
	}
	if !r.Generated.IsZero() {
		s.Timestamp = r.Generated.UTC().Format("2006-01-02T15:04:05")
	}
	prop := func(name, value string) {
		if value != "" {
			s.Properties = append(s.Properties, junitProperty{name, value})
		}
	}
	prop("path", e.Path)
	prop("target", e.Target)
	prop("size", strconv.FormatInt(e.Size, 10))
	prop("sha256", e.SHA256)
	classname := e.Name
	if e.Target != "" {
		classname += "." + e.Target
	}
	add := func(c junitCase) {
		c.Classname = classname
		s.Cases = append(s.Cases, c)
		s.Tests++
		if c.Failure != nil {
			s.Failures++
		}
		if c.Error != nil {
			s.Errors++
		}
	}

	if e.Error != "" {
		add(junitCase{Name: "steps", Time: junitTime(0), Error: &junitProblem{Message: e.Error, Type: "error", Text: xmlText(e.Error)}})
	}
	if c := e.Check; c != nil {
		jc := junitCase{Name: "check", Time: junitTime(0), SystemOut: newJUnitText(checkText(c))}
		if !c.Portable {
			jc.Failure = &junitProblem{Message: c.Verdict, Type: "not-portable", Text: xmlText(strings.Join(c.Problems, "\n") + "\n")}
		}
		add(jc)
	}
	total := 0.0
	if m := e.Matrix; m != nil {
		prop("runner", m.Runner)
		for _, root := range rootDigests(m) {
			prop("root "+root[0], root[1])
		}
		for _, c := range m.Cells {
			add(junitCell(c))
			total += c.Seconds
		}
	}
	s.Time = junitTime(total)
	return s, total
}

func junitCell(c matrix.Cell) junitCase {
	jc := junitCase{Name: cellName(c), Time: junitTime(c.Seconds)}
	jc.SystemOut = newJUnitText(clipJUnit(c.Stdout))
	jc.SystemErr = newJUnitText(clipJUnit(c.Stderr))
	switch c.Status {
	case matrix.Pass:
	case matrix.Fail:
		jc.Failure = &junitProblem{Message: strings.Join(c.Reasons, "; "), Type: "fail", Text: xmlText(problemText(c))}
	default:
		jc.Error = &junitProblem{Message: strings.Join(c.Reasons, "; "), Type: string(c.Status), Text: xmlText(problemText(c))}
	}
	return jc
}

func clipJUnit(s string) string {
	kept, omitted := clip(s, junitOutputLimit, math.MaxInt)
	if omitted == "" {
		return s
	}
	return kept + "\n[portabin: " + omitted + "; report.json holds all of it]\n"
}

// checkText is check's findings as lines of text.
func checkText(c *check.Report) string {
	lines := []string{
		"verdict: " + c.Verdict,
		"libc: " + libcText(c),
		"minimum kernel: " + kernelMinimum(c.Kernel),
		"CPU: " + cpuText(c.CPU),
	}
	for _, f := range c.Risks {
		lines = append(lines, "risk ("+f.Kind+"): "+f.Detail)
	}
	return strings.Join(lines, "\n") + "\n"
}

// rootDigests pairs each root of m with the digest its cells ran on, in the matrix's order.
func rootDigests(m *matrix.Result) [][2]string {
	seen := map[string]bool{}
	var out [][2]string
	for _, c := range m.Cells {
		if c.RootDigest != "" && !seen[c.Root] {
			seen[c.Root] = true
			out = append(out, [2]string{c.Root, c.RootDigest})
		}
	}
	return out
}

func junitTime(seconds float64) string { return fmt.Sprintf("%.3f", seconds) }
