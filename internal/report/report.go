// Package report writes what build, check and test found out about a project's executables as
// JSON, JUnit XML or one self-contained HTML page.
package report

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/portabin/portabin/internal/atomicfile"
	"github.com/portabin/portabin/internal/check"
	"github.com/portabin/portabin/internal/matrix"
	"github.com/portabin/portabin/internal/uerr"
)

// Schema names the JSON form of Report; it changes when a field changes meaning.
const Schema = "portabin.report/v1"

// Report is everything one `portabin run` or `portabin test` found out.
type Report struct {
	// Schema is the version of the form a report was read from; the writers always write Schema.
	Schema string `json:"schema"`
	// Tool is the portabin that made the report, e.g. "portabin v0.4.0 (3f2a…)".
	Tool string `json:"tool,omitempty"`
	// Project is the project folder's name, "" for a bare `portabin test`.
	Project string `json:"project,omitempty"`
	// Generated, when not zero, is when the report was made. It is the only clock reading in a
	// report, so leaving it zero gives the same bytes for the same results.
	Generated   time.Time    `json:"generated,omitzero"`
	Executables []Executable `json:"executables"`
}

// Executable is one shipped file and what happened to it.
type Executable struct {
	Name string `json:"name"`
	// Target is the build target, e.g. "x86_64-linux-musl".
	Target string `json:"target"`
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// Check is nil when the executable was not checked, Matrix when it was not tested.
	Check  *check.Report  `json:"check,omitempty"`
	Matrix *matrix.Result `json:"matrix,omitempty"`
	// Error is a step that failed before it produced results (a failed build, an unreadable
	// file, a matrix that could not start).
	Error string `json:"error,omitempty"`
}

// Summary counts a report's outcomes.
type Summary struct {
	Executables int `json:"executables"`
	// Checked executables, and how many of them check found portable.
	Checked  int `json:"checked"`
	Portable int `json:"portable"`
	// Tested executables, and their matrices' cells.
	Tested int `json:"tested"`
	Cells  int `json:"cells"`
	Passed int `json:"passed"`
	Failed int `json:"failed"`
	Errors int `json:"errors"`
	// StepErrors counts executables whose Error is set.
	StepErrors int  `json:"step_errors"`
	OK         bool `json:"ok"`
}

// NewExecutable describes the file at path: its name, size and digest.
func NewExecutable(path, target string) (Executable, error) {
	f, err := os.Open(path)
	if err != nil {
		return Executable{}, fmt.Errorf("reading executable: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	size, err := io.Copy(h, f)
	if err != nil {
		return Executable{}, fmt.Errorf("reading executable %s: %w", path, err)
	}
	return Executable{Name: filepath.Base(path), Target: target, Path: path, Size: size, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// OK reports whether the executable was built, is portable where checked and passed every
// cell where tested.
func (e *Executable) OK() bool {
	return e.Error == "" && (e.Check == nil || e.Check.Portable) && (e.Matrix == nil || e.Matrix.OK())
}

// OK reports whether the report has executables and every one of them is OK.
func (r *Report) OK() bool {
	for i := range r.Executables {
		if !r.Executables[i].OK() {
			return false
		}
	}
	return len(r.Executables) > 0
}

// Summary counts the report's executables and cells.
func (r *Report) Summary() Summary {
	s := Summary{Executables: len(r.Executables), OK: r.OK()}
	for _, e := range r.Executables {
		if e.Error != "" {
			s.StepErrors++
		}
		if e.Check != nil {
			s.Checked++
			if e.Check.Portable {
				s.Portable++
			}
		}
		if m := e.Matrix; m != nil {
			s.Tested++
			s.Cells += len(m.Cells)
			s.Passed += m.Passed
			s.Failed += m.Failed
			s.Errors += m.Errors
		}
	}
	return s
}

// formats maps a report file's extension to its writer.
var formats = map[string]func(io.Writer, *Report) error{
	".json": WriteJSON,
	".xml":  WriteJUnit,
	".html": WriteHTML,
	".htm":  WriteHTML,
}

// CheckPath reports whether WriteFile can write path's format, so that a command can refuse a
// bad --report before it does any work.
func CheckPath(path string) error {
	if _, ok := formats[strings.ToLower(filepath.Ext(path))]; !ok {
		return uerr.Usage("name the report FILE.json, FILE.xml (JUnit) or FILE.html",
			"cannot tell the report format of %q", path)
	}
	return nil
}

// WriteFile writes r to path in the format its extension names: .json, .xml (JUnit) or
// .html/.htm. The report is written to a temporary file beside path and renamed over it, so
// path holds either the previous file or the whole new report, never a part.
func WriteFile(path string, r *Report) error {
	if err := CheckPath(path); err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := formats[strings.ToLower(filepath.Ext(path))](&buf, r); err != nil {
		return fmt.Errorf("writing report %s: %w", path, err)
	}
	if err := atomicfile.Write(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("writing report %s: %w", path, err)
	}
	return nil
}
