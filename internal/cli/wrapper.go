package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/portabin/portabin/internal/ccwrap"
)

var wrapperTools = []ccwrap.Tool{ccwrap.CC, ccwrap.CXX, ccwrap.AR, ccwrap.RANLIB}

func wrapperTool(name string) (ccwrap.Tool, bool) {
	for _, t := range wrapperTools {
		if name == "portabin-"+string(t) {
			return t, true
		}
	}
	return "", false
}

// newWrapperCommand is `portabin cc` and friends: what the build system runs as its compiler.
// They are hidden: users never type them.
func newWrapperCommand(tool ccwrap.Tool, stderr io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:                string(tool) + " [ARGS...]",
		Short:              fmt.Sprintf("Run %s for the current portabin build (used by build systems)", tool),
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if code := runWrapper(cmd.Context(), tool, args, stderr); code != 0 {
				return exitCode(code)
			}
			return nil
		},
	}
}

// exitCode ends the process with a code whose message was already printed.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// runWrapper replaces the process with the rewritten command, so that signals, exit codes and
// output belong to the real compiler.
func runWrapper(ctx context.Context, tool ccwrap.Tool, args []string, stderr io.Writer) int {
	confPath := os.Getenv("PORTABIN_WRAP")
	if confPath == "" {
		fmt.Fprintf(stderr, "portabin: %s: PORTABIN_WRAP is not set\nhint: portabin %s is run by the build systems that portabin build drives, not by hand\n", tool, tool)
		return 2
	}
	cfg, err := ccwrap.Load(confPath)
	if err != nil {
		fmt.Fprintf(stderr, "portabin: %v\n", err)
		return 2
	}
	if answer, ok := cfg.Answer(tool, args); ok {
		fmt.Fprint(os.Stdout, answer)
		return 0
	}
	argv, warnings, err := cfg.Command(tool, args)
	if err != nil {
		fmt.Fprintf(stderr, "portabin: %v\n", err)
		return 1
	}
	for _, w := range warnings {
		fmt.Fprintf(stderr, "portabin: warning: %s\n", w)
	}
	if err := logLink(cfg, tool, args); err != nil {
		fmt.Fprintf(stderr, "portabin: %v\n", err)
		return 1
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		fmt.Fprintf(stderr, "portabin: %s: %v\n", tool, err)
		return 127
	}
	env := append(os.Environ(), cfg.Env...)
	if trace := os.Getenv("PORTABIN_WRAP_TRACE"); trace != "" {
		// A file, not stderr: configure scripts take any output on stderr for a failed check.
		appendLine(trace, strings.Join(argv, " "))
	}
	err = syscall.Exec(path, argv, env)
	fmt.Fprintf(stderr, "portabin: running %s: %v\n", path, err)
	return 126
}

// logLink records the executable a compiler command is about to link.
func logLink(cfg ccwrap.Config, tool ccwrap.Tool, args []string) error {
	if cfg.LinkLog == "" || (tool != ccwrap.CC && tool != ccwrap.CXX) {
		return nil
	}
	out, ok := ccwrap.ExecutableOutput(args)
	if !ok {
		return nil
	}
	abs, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	// The folder exists already; resolving it makes the record match the build's scan.
	if dir, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
		abs = filepath.Join(dir, filepath.Base(abs))
	}
	return appendLine(cfg.LinkLog, abs)
}

// appendLine adds one line to a file; O_APPEND keeps lines of parallel compilers whole.
func appendLine(path, line string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("recording the link: %w", err)
	}
	if _, err := f.WriteString(line + "\n"); err != nil {
		f.Close()
		return fmt.Errorf("recording the link: %w", err)
	}
	return f.Close()
}
