package matrix

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/portabin/portabin/internal/runner"
)

// WriteText prints the matrix as a grid — rows are roots, columns kernels — then one paragraph
// per cell that did not pass, then the counts.
func (r *Result) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	header := append([]string{"root \\ kernel"}, r.Kernels...)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, root := range r.Roots {
		row := []string{root}
		for _, kernel := range r.Kernels {
			row = append(row, r.summary(root, kernel))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, c := range r.Cells {
		if c.Status == Pass {
			continue
		}
		fmt.Fprintf(w, "\n%s: %s × %s", strings.ToUpper(string(c.Status)), c.Root, c.Kernel)
		if len(r.Cases) > 1 {
			fmt.Fprintf(w, " × %s", c.Case)
		}
		fmt.Fprintln(w)
		for _, reason := range c.Reasons {
			fmt.Fprintf(w, "  %s\n", reason)
		}
		if c.Status == Fail && len(c.MissingFiles) > 0 {
			var files []string
			for _, m := range c.MissingFiles {
				files = append(files, m.Path)
			}
			fmt.Fprintf(w, "  files it looked for and the root lacks: %s\n", strings.Join(files, ", "))
		}
		if c.StdoutDiff != "" {
			fmt.Fprintf(w, "  output (- wanted, + got):\n%s", indent(c.StdoutDiff, "    "))
		}
		if c.Status == Fail && c.StdoutDiff == "" && c.Stdout != "" {
			fmt.Fprintf(w, "  stdout:\n%s", indent(runner.Tail(c.Stdout, 10), "    "))
		}
		if c.Status == Fail && c.Stderr != "" {
			fmt.Fprintf(w, "  stderr:\n%s", indent(runner.Tail(c.Stderr, 10), "    "))
		}
	}
	if len(r.Notes) > 0 {
		fmt.Fprintln(w)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	_, err := fmt.Fprintf(w, "\n%d passed, %d failed, %d could not run (%s runner)\n", r.Passed, r.Failed, r.Errors, r.Runner)
	return err
}

// summary is one grid entry: "pass", "FAIL", "error", or counts when there are several cases.
func (r *Result) summary(root, kernel string) string {
	var pass, fail, errs int
	for _, c := range r.Cells {
		if c.Root != root || c.Kernel != kernel {
			continue
		}
		switch c.Status {
		case Pass:
			pass++
		case Fail:
			fail++
		default:
			errs++
		}
	}
	if pass+fail+errs == 1 {
		switch {
		case pass == 1:
			return "pass"
		case fail == 1:
			return "FAIL"
		default:
			return "error"
		}
	}
	switch {
	case fail > 0:
		return fmt.Sprintf("FAIL (%d/%d pass)", pass, pass+fail+errs)
	case errs > 0:
		return fmt.Sprintf("error (%d/%d pass)", pass, pass+fail+errs)
	}
	return fmt.Sprintf("%d/%d pass", pass, pass+fail+errs)
}

func indent(s, prefix string) string {
	lines := strings.SplitAfter(strings.TrimSuffix(s, "\n"), "\n")
	return prefix + strings.Join(lines, prefix) + "\n"
}
