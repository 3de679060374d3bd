package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/portabin/portabin/internal/atomicfile"
	"github.com/portabin/portabin/internal/build"
	"github.com/portabin/portabin/internal/buildsys"
	"github.com/portabin/portabin/internal/config"
	"github.com/portabin/portabin/internal/uerr"
)

// NewInitCommand is `portabin init [DIR]`.
func NewInitCommand(stdout, stderr io.Writer, verbose *bool) *cobra.Command {
	var force, noBuild bool
	var targets []string
	cmd := &cobra.Command{
		Use:   "init [DIR]",
		Short: "Write a commented portabin.toml for a project",
		Long: `Init detects the project's build system, builds it once for the host to find the executables
it makes, and writes DIR/portabin.toml: the build, a check, a default matrix (scratch with the
rhel6, rhel7 and host kernels) and one test per executable. It never replaces an existing
portabin.toml unless --force is given.`,
		Example: `  portabin init
  portabin init --target x86_64 --target aarch64 ~/src/myproject
  portabin init --no-build .`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			return runInit(cmd.Context(), stdout, stderr, dir, targets, force, noBuild, *verbose)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&force, "force", false, "replace an existing portabin.toml")
	fl.BoolVar(&noBuild, "no-build", false, "do not build: leave the executables for the file to name")
	fl.StringArrayVarP(&targets, "target", "t", nil, "targets to write into [build] (repeatable; default: the host's)")
	return cmd
}

func runInit(ctx context.Context, stdout, stderr io.Writer, dir string, targets []string, force, noBuild, verbose bool) error {
	if info, err := os.Stat(dir); err != nil || !info.IsDir() {
		return uerr.Usage("give the folder of a C or C++ project", "%s is not a folder", dir)
	}
	path := filepath.Join(dir, config.FileName)
	if _, err := os.Stat(path); err == nil && !force {
		return uerr.Usage("edit it, or give --force to replace it", "%s already exists", path)
	}
	kind, err := buildsys.Detect(dir)
	if err != nil {
		return err
	}
	in := config.TemplateInput{System: kind, Toolchain: "zig"}
	f := buildFlags{toolchain: "zig", jobs: runtime.NumCPU(), targets: targets}
	opts, err := f.options(dir, stderr, verbose)
	if err != nil {
		return err
	}
	for _, t := range opts.Targets {
		in.Targets = append(in.Targets, t.Name)
	}
	if !noBuild {
		// One target is enough to learn the executables' names; the output goes to a
		// scratch folder, not the project.
		scratch, err := os.MkdirTemp("", "portabin-init-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(scratch)
		opts.Out, opts.Targets = scratch, opts.Targets[:1]
		results, err := build.Run(ctx, opts)
		if err != nil {
			return fmt.Errorf("building the project once to find its executables: %w", err)
		}
		in.Executables = outputNames(results[0].Outputs)
	}
	if err := atomicfile.Write(path, config.Template(in), 0o644); err != nil {
		return err
	}
	fmt.Fprintln(stdout, relative(mustGetwd(), path))
	return nil
}
