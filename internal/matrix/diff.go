package matrix

import (
	"runtime"
	"strings"
)

func defaultJobs() int { return runtime.NumCPU() }

// maxDiffLines bounds the quadratic line diff; longer outputs are compared by their first lines.
const maxDiffLines = 2000

// Diff shows how got differs from want, line by line: "-" lines are wanted but missing, "+"
// lines are extra, " " lines are common. Runs of common lines are shortened to three of context.
func Diff(want, got string) string {
	a, b := splitLines(want), splitLines(got)
	truncated := false
	if len(a) > maxDiffLines || len(b) > maxDiffLines {
		a, b, truncated = a[:min(len(a), maxDiffLines)], b[:min(len(b), maxDiffLines)], true
	}
	// lcs[i][j] is the length of the longest common subsequence of a[i:] and b[j:].
	lcs := make([][]int32, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int32, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type line struct {
		op   byte
		text string
	}
	var lines []line
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			lines = append(lines, line{' ', a[i]})
			i, j = i+1, j+1
		case i < len(a) && (j == len(b) || lcs[i+1][j] >= lcs[i][j+1]):
			lines = append(lines, line{'-', a[i]})
			i++
		default:
			lines = append(lines, line{'+', b[j]})
			j++
		}
	}
	const context = 3
	near := func(k int) bool {
		for d := max(0, k-context); d <= min(len(lines)-1, k+context); d++ {
			if lines[d].op != ' ' {
				return true
			}
		}
		return false
	}
	var sb strings.Builder
	skipped := false
	for k, l := range lines {
		if l.op == ' ' && !near(k) {
			if !skipped {
				sb.WriteString("...\n")
				skipped = true
			}
			continue
		}
		skipped = false
		sb.WriteByte(l.op)
		sb.WriteString(l.text)
		sb.WriteByte('\n')
	}
	if truncated {
		sb.WriteString("... (only the first 2000 lines compared)\n")
	}
	return sb.String()
}

// splitLines splits s into lines, marking a missing final newline so that it shows in a diff.
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	lines := strings.Split(s, "\n")
	if lines[len(lines)-1] == "" {
		return lines[:len(lines)-1]
	}
	lines[len(lines)-1] += " (no newline at end)"
	return lines
}
