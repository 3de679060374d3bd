// Package logs holds the loggers that library code writes to; they discard until the CLI turns them on.
package logs

import (
	"io"
	"log"
)

var (
	// Warn is for problems the user should know about but that do not stop the work.
	Warn = log.New(io.Discard, "", 0)
	// Progress is for the steps of long work.
	Progress = log.New(io.Discard, "", 0)
	// Debug is for details, shown with --verbose.
	Debug = log.New(io.Discard, "", 0)
)

// Enabled reports whether l writes anywhere.
func Enabled(l *log.Logger) bool { return l.Writer() != io.Discard }
