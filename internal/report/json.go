package report

import (
	"encoding/json"
	"io"
	"time"
)

// jsonReport is Report as written: the summary comes before the executables so that a reader
// sees the outcome first.
type jsonReport struct {
	Schema      string       `json:"schema"`
	Tool        string       `json:"tool,omitempty"`
	Project     string       `json:"project,omitempty"`
	Generated   time.Time    `json:"generated,omitzero"`
	Summary     Summary      `json:"summary"`
	Executables []Executable `json:"executables"`
}

// WriteJSON writes r as indented JSON (schema Schema), with a summary of its counts.
func WriteJSON(w io.Writer, r *Report) error {
	out := jsonReport{Schema: Schema, Tool: r.Tool, Project: r.Project, Generated: r.Generated,
		Summary: r.Summary(), Executables: r.Executables}
	if out.Executables == nil {
		out.Executables = []Executable{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // program output reads better as written; the HTML page escapes its own
	return enc.Encode(out)
}
