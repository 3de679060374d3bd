// Package cli is portabin's command line: one constructor per command, errors mapped to exit codes.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/portabin/portabin/internal/kernels"
	"github.com/portabin/portabin/internal/logs"
	"github.com/portabin/portabin/internal/uerr"
)

// Main runs portabin with args (args[0] is the program name) and returns the exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	// A wrapper script may call portabin under a tool's name (cc, c++, ar, ranlib).
	if tool, ok := wrapperTool(filepath.Base(args[0])); ok {
		return runWrapper(ctx, tool, args[1:], stderr)
	}
	root := NewRootCommand(stdout, stderr)
	root.SetArgs(args[1:])
	err := root.ExecuteContext(ctx)
	if err == nil {
		return uerr.ExitOK
	}
	return reportError(ctx, err, stderr)
}

// NewRootCommand builds the command tree.
func NewRootCommand(stdout, stderr io.Writer) *cobra.Command {
	var verbose bool
	root := &cobra.Command{
		Use:   "portabin",
		Short: "Build C and C++ projects into fully static, relocatable Linux executables",
		Long: `portabin builds C and C++ projects (CMake, Meson, autotools, Make, or a folder of sources)
into fully static executables against musl, for x86_64, aarch64 and more.`,
		Example: `  portabin doctor
  portabin build examples/seed
  portabin init ~/src/myproject
  portabin run ~/src/myproject`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRun: func(cmd *cobra.Command, args []string) {
			logs.Warn.SetOutput(stderr)
			logs.Progress.SetOutput(stderr)
			if verbose {
				logs.Debug.SetOutput(stderr)
			}
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().BoolVarP(&verbose, "verbose", "v", false, "show the output of the build's commands")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return uerr.Usage(fmt.Sprintf("see '%s --help'", c.CommandPath()), "%v", err)
	})
	root.AddCommand(
		NewBuildCommand(stdout, stderr, &verbose),
		NewCheckCommand(stdout, stderr),
		NewTestCommand(stdout, stderr),
		NewRunCommand(stdout, stderr, &verbose),
		NewInitCommand(stdout, stderr, &verbose),
		NewCacheCommand(stdout),
		NewDoctorCommand(stdout),
		NewVersionCommand(stdout),
	)
	for _, tool := range wrapperTools {
		root.AddCommand(newWrapperCommand(tool, stderr))
	}
	// cobra's completion command prints help for any argument and exits 0; an unknown shell
	// should be bad input.
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() == "completion" {
			c.Args = cobra.NoArgs
			c.RunE = func(cmd *cobra.Command, args []string) error { return cmd.Help() }
			c.Example = `  portabin completion bash
  portabin completion zsh
  portabin completion fish`
		}
	}
	return root
}

// completeFlag makes the shell complete flag's values from values, and nothing else.
func completeFlag(cmd *cobra.Command, flag string, values ...string) {
	_ = cmd.RegisterFlagCompletionFunc(flag, cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp))
}

// kernelNames are what --kernel and --require-kernel complete to.
func kernelNames() []string { return append([]string{"host"}, kernels.Names()...) }

// reportError prints err in portabin's voice: one line, then the tool's own output, then a hint.
func reportError(ctx context.Context, err error, stderr io.Writer) int {
	if ctx.Err() != nil || errors.Is(err, context.Canceled) {
		fmt.Fprintln(stderr, "portabin: interrupted")
		return uerr.ExitInterrupted
	}
	var already exitCode
	if errors.As(err, &already) {
		return int(already)
	}
	code := uerr.Code(err)
	if code == uerr.ExitFailed && !isUserError(err) {
		// An unknown command or argument from cobra: usage.
		if strings.HasPrefix(err.Error(), "unknown command") || strings.Contains(err.Error(), "arg(s)") {
			code = uerr.ExitUsage
		}
	}
	fmt.Fprintf(stderr, "portabin: %s\n", firstLine(err.Error()))
	if d := uerr.DetailOf(err); d != "" {
		fmt.Fprintln(stderr, strings.TrimRight(d, "\n"))
	}
	if h := uerr.HintOf(err); h != "" {
		fmt.Fprintf(stderr, "hint: %s\n", h)
	}
	return code
}

func isUserError(err error) bool {
	var e *uerr.Error
	return errors.As(err, &e)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
