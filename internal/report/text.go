package report

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/portabin/portabin/internal/check"
	"github.com/portabin/portabin/internal/matrix"
	"github.com/portabin/portabin/internal/syscalls"
)

// The words and cuts the JUnit and HTML forms share, so that both say the same thing.

// cellName names a cell "root × kernel × case".
func cellName(c matrix.Cell) string {
	return c.Root + " × " + c.Kernel + " × " + c.Case
}

// enosysText lists the calls an emulated kernel refused, e.g. "statx (Linux 4.11) ×2"; "" for
// the host's kernel, which emulates nothing.
func enosysText(c matrix.Cell) string {
	switch {
	case c.Kernel == "host" || strings.HasPrefix(c.Kernel, "host ("):
		return ""
	case len(c.ENOSYS) == 0 && !c.ENOSYSRecorded:
		return "not recorded by this runner (newer calls were still refused)"
	case len(c.ENOSYS) == 0:
		return "none"
	}
	parts := make([]string, len(c.ENOSYS))
	for i, call := range c.ENOSYS {
		parts[i] = enosysCall(call.Name, call.Since, call.Count)
	}
	return strings.Join(parts, ", ")
}

func enosysCall(name, since string, count int) string {
	s := name
	switch {
	case since == "":
	case since[0] >= '0' && since[0] <= '9':
		s += " (Linux " + since + ")"
	default: // "newer than 5.14"
		s += " (" + since + ")"
	}
	if count > 1 {
		s += fmt.Sprintf(" ×%d", count)
	}
	return s
}

// problemText is the body of a failed or erroneous cell: its reasons, the output diff and the
// refused calls.
func problemText(c matrix.Cell) string {
	var b strings.Builder
	for _, r := range c.Reasons {
		b.WriteString(r)
		b.WriteByte('\n')
	}
	if c.StdoutDiff != "" {
		b.WriteString("\nstandard output (- expected, + actual):\n")
		b.WriteString(c.StdoutDiff)
	}
	if c.ENOSYSRecorded && len(c.ENOSYS) > 0 {
		b.WriteString("\nanswered ENOSYS: " + enosysText(c) + "\n")
	}
	if len(c.MissingFiles) > 0 {
		b.WriteString("\nfiles it looked for and the root lacks: " + missingText(c) + "\n")
	}
	return b.String()
}

// missingText lists the files a cell's program did not find, e.g. "/etc/app.conf (openat) ×2".
func missingText(c matrix.Cell) string {
	parts := make([]string, len(c.MissingFiles))
	for i, m := range c.MissingFiles {
		parts[i] = m.Path + " (" + m.Call + ")"
		if m.Count > 1 {
			parts[i] += fmt.Sprintf(" ×%d", m.Count)
		}
	}
	return strings.Join(parts, ", ")
}

// kernelMinimum is "3.2 (ABI tag)": the oldest kernel check allows and what decides it.
func kernelMinimum(k check.Kernel) string {
	if k.Minimum == "" {
		if !k.Analysed {
			return "unknown (system calls not analysed for this architecture)"
		}
		return "any"
	}
	if k.DecidedBy == "" {
		return k.Minimum
	}
	return k.Minimum + " (" + k.DecidedBy + ")"
}

// belowMinimum reports whether the kernel labelled label ("rhel5 (2.6.18)", "3.10",
// "host (6.1)") is older than minimum; labels without a version never are.
func belowMinimum(label, minimum string) bool {
	min, err := syscalls.ParseVersion(minimum)
	if err != nil {
		return false
	}
	version := label
	if open := strings.LastIndexByte(label, '('); open >= 0 && strings.HasSuffix(label, ")") {
		version = label[open+1 : len(label)-1]
	}
	v, err := syscalls.ParseVersion(version)
	return err == nil && v.Less(min)
}

// clip shortens s to at most maxBytes and maxLines, cut at a line end where one is near, and
// says how much it left out ("" when nothing).
func clip(s string, maxBytes, maxLines int) (kept, omitted string) {
	cut := len(s)
	if cut > maxBytes {
		cut = maxBytes
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		// Prefer a whole last line unless that throws away too much.
		if nl := strings.LastIndexByte(s[:cut], '\n'); nl >= maxBytes/2 {
			cut = nl + 1
		}
	}
	lines := 0
	for i := 0; i < cut; i++ {
		if s[i] == '\n' {
			lines++
			if lines == maxLines && i+1 < len(s) {
				cut = i + 1
				break
			}
		}
	}
	if cut == len(s) {
		return s, ""
	}
	rest := s[cut:]
	lines = strings.Count(rest, "\n")
	if !strings.HasSuffix(rest, "\n") {
		lines++ // the last line, without its newline
	}
	return s[:cut], plural(lines, "more line") + ", " + byteSize(int64(len(rest))) + " not shown"
}

// byteSize is a size for people: "812 bytes", "14.2 KiB", "1.4 MiB".
func byteSize(n int64) string {
	switch {
	case n < 1024:
		if n == 1 {
			return "1 byte"
		}
		return fmt.Sprintf("%d bytes", n)
	case n < 1024*1024:
		return fmt.Sprintf("%.1f KiB", float64(n)/1024)
	default:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1024*1024))
	}
}

// seconds is a duration for people: "12 ms", "1.25 s".
func seconds(s float64) string {
	if s < 1 {
		return fmt.Sprintf("%.0f ms", s*1000)
	}
	return fmt.Sprintf("%.2f s", s)
}

// libcText is "musl 1.2.4, static".
func libcText(r *check.Report) string {
	s := r.Libc.Name
	if r.Libc.Version != "" {
		s += " " + r.Libc.Version
	}
	if r.Linking != "" {
		s += ", " + r.Linking
	}
	return s
}

// cpuText is "x86-64-v2 (sse4.2, popcnt); dispatches up to x86-64-v3".
func cpuText(c *check.CPU) string {
	if c == nil {
		return "unknown"
	}
	s := c.Level
	if len(c.Features) > 0 {
		s += " (" + strings.Join(c.Features, ", ") + ")"
	}
	if c.Dispatched != "" {
		s += "; chooses up to " + c.Dispatched + " at run time"
	}
	return s
}
