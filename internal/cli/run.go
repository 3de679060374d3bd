package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/portabin/portabin/internal/build"
	"github.com/portabin/portabin/internal/config"
	"github.com/portabin/portabin/internal/dist"
	"github.com/portabin/portabin/internal/kernels"
	"github.com/portabin/portabin/internal/matrix"
	"github.com/portabin/portabin/internal/report"
	"github.com/portabin/portabin/internal/target"
	"github.com/portabin/portabin/internal/uerr"
)

// runFlags override portabin.toml for one run.
type runFlags struct {
	targets []string
	on      []string
	kernels []string
	runner  string
	out     string
	offline bool
	refresh bool
	sources string
}

// NewRunCommand is `portabin run [DIR]`.
func NewRunCommand(stdout, stderr io.Writer, verbose *bool) *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run [DIR]",
		Short: "Build, check and test a project as its portabin.toml says, with reports",
		Long: `Run reads DIR/portabin.toml (see docs/config.md; 'portabin init' writes one), builds every
target, checks every executable, and runs every [[test]] in every cell of the matrix (roots ×
kernels). It prints one summary per executable and writes report.json, report.html and
junit.xml next to the executables (dist/ unless [build] out says otherwise).
Exit 0 when everything passes, 1 when a check or a cell fails, 2 on bad input.`,
		Example: `  portabin run
  portabin run examples/seed
  portabin run --kernel rhel5,host --on scratch,debian:bookworm .`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			return runProject(cmd.Context(), stdout, stderr, dir, f, *verbose)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVarP(&f.targets, "target", "t", nil, "build for this target instead of [build] targets (repeatable)")
	fl.StringSliceVar(&f.on, "on", nil, "roots instead of [matrix] roots")
	fl.StringSliceVar(&f.kernels, "kernel", nil, "kernels instead of [matrix] kernels")
	fl.StringVar(&f.runner, "runner", "", "runner instead of [matrix] runner: native, podman or docker")
	fl.StringVarP(&f.out, "out", "o", "", "folder for executables and reports instead of [build] out")
	fl.StringVar(&f.sources, "sources", os.Getenv("PORTABIN_SOURCES"), "folder of source tarballs (no downloads) or mirror URL for [deps] (default $PORTABIN_SOURCES)")
	fl.BoolVar(&f.offline, "offline", false, "never pull images: only the cache serves")
	fl.BoolVar(&f.refresh, "refresh", false, "look image tags up in the registry again instead of using the cached digest")
	completeFlag(cmd, "target", target.Names()...)
	completeFlag(cmd, "kernel", kernelNames()...)
	completeFlag(cmd, "runner", "native", "podman", "docker")
	_ = cmd.RegisterFlagCompletionFunc("on", completeRoot)
	return cmd
}

func runProject(ctx context.Context, stdout, stderr io.Writer, dir string, f runFlags, verbose bool) error {
	if info, err := os.Stat(dir); err != nil || !info.IsDir() {
		return uerr.Usage("give the folder of a project", "%s is not a folder", dir)
	}
	path, err := config.Find(dir)
	if err != nil {
		return err
	}
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	bf := configBuildFlags(cfg)
	if len(f.targets) > 0 {
		bf.targets = f.targets
	}
	if f.out != "" {
		bf.out = f.out
	}
	bf.sources = f.sources
	opts, err := bf.options(cfg.Dir, stderr, verbose)
	if err != nil {
		return err
	}
	opts.Args, opts.Sysroot = cfg.Build.Args, cfg.Build.Sysroot.Resolved
	mx, err := matrixSettings(cfg, f)
	if err != nil {
		return err
	}
	run, err := newMatrixRunner(mx.runner)
	if err != nil {
		return err
	}
	resolver, err := newResolver(f.offline, f.refresh)
	if err != nil {
		return err
	}

	rep := &report.Report{Schema: report.Schema, Tool: versionString(), Project: filepath.Base(cfg.Dir)}
	results, buildErr := build.Run(ctx, opts)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if buildErr != nil {
		// Targets built before the failure are still checked and tested; the failure is a result.
		reportError(ctx, buildErr, stderr)
		rep.Executables = append(rep.Executables, report.Executable{Name: filepath.Base(cfg.Dir), Error: "build: " + buildErr.Error()})
	}
	for _, r := range results {
		t, err := target.Parse(r.Target)
		if err != nil {
			return err
		}
		exes := outputNames(r.Outputs)
		for _, out := range r.Outputs {
			exe := runExecutable(ctx, stderr, cfg, out, t, exes, mx, resolver, run)
			rep.Executables = append(rep.Executables, exe)
			printExecutable(stdout, exe)
		}
	}
	if err := writeRunReports(stdout, opts.Out, rep); err != nil {
		return err
	}
	if buildErr != nil || !rep.OK() {
		return exitCode(uerr.ExitFailed)
	}
	return nil
}

// configBuildFlags turns [build] and [deps] into the flags of `portabin build`, so that both
// are checked and applied by one function.
func configBuildFlags(cfg *config.Config) buildFlags {
	b := cfg.Build
	f := buildFlags{out: b.Out.Resolved, jobs: b.Jobs, debug: b.Debug, strip: b.Strip, pie: b.PIE,
		toolchain: b.Toolchain, image: b.Image, malloc: b.Malloc, system: string(b.System),
		exes: b.Executables}
	for _, t := range b.Targets {
		f.targets = append(f.targets, t.Name)
	}
	for k, v := range b.Env {
		f.env = append(f.env, k+"="+v)
	}
	sort.Strings(f.env)
	for name, version := range cfg.Deps {
		f.deps = append(f.deps, name+"="+version)
	}
	sort.Strings(f.deps)
	return f
}

// matrixConfig is [matrix] with the run's flags applied and the defaults of `portabin test`.
type matrixConfig struct {
	roots   []string
	kernels []kernels.Kernel
	runner  string
}

func matrixSettings(cfg *config.Config, f runFlags) (matrixConfig, error) {
	m := matrixConfig{runner: cfg.Matrix.Runner, kernels: cfg.Matrix.Kernels}
	for _, r := range cfg.Matrix.Roots {
		m.roots = append(m.roots, r.Spec)
	}
	if len(f.on) > 0 {
		m.roots = f.on
	}
	if len(m.roots) == 0 {
		m.roots = []string{"scratch"}
	}
	if len(f.kernels) > 0 {
		m.kernels = nil
		for _, name := range f.kernels {
			k, err := kernels.Parse(name)
			if err != nil {
				return m, uerr.Usage("e.g. --kernel host,rhel6,2.6.18", "--kernel: %v", err)
			}
			m.kernels = append(m.kernels, k)
		}
	}
	if len(m.kernels) == 0 {
		host, err := kernels.Parse("host")
		if err != nil {
			return m, err
		}
		m.kernels = []kernels.Kernel{host}
	}
	if f.runner != "" {
		m.runner = f.runner
	}
	if m.runner == "" {
		m.runner = "native"
	}
	return m, nil
}

func outputNames(outs []dist.Output) []string {
	var names []string
	for _, o := range outs {
		names = append(names, filepath.Base(o.Path))
	}
	return names
}

// runExecutable checks one shipped executable and runs its tests in every cell.
func runExecutable(ctx context.Context, stderr io.Writer, cfg *config.Config, out dist.Output, t target.Target,
	exes []string, mx matrixConfig, resolver matrix.RootResolver, run matrix.Runner) report.Executable {
	exe, err := reportExecutable(out.Path, t, cfg.Check.Requirements())
	if err != nil {
		exe.Error = err.Error()
		return exe
	}
	cases, err := casesFor(cfg, exe.Name, exes)
	if err != nil {
		exe.Error = err.Error()
		return exe
	}
	plan := matrix.Plan{Exe: out.Path, Target: t, Roots: mx.roots, Kernels: mx.kernels, Cases: cases,
		Jobs: cfg.Matrix.Jobs, Network: cfg.Matrix.Network}
	if plan, err = withQEMU(plan); err != nil {
		exe.Error = err.Error()
		return exe
	}
	res, err := runMatrix(ctx, stderr, plan, resolver, run)
	if res == nil {
		exe.Error = "test: " + err.Error()
		return exe
	}
	exe.Matrix = res
	return exe
}

// casesFor turns the [[test]] entries that run executable name into cases; a project without
// any runs each executable once, expecting exit 0.
func casesFor(cfg *config.Config, name string, exes []string) ([]matrix.Case, error) {
	if len(cfg.Tests) == 0 {
		return []matrix.Case{{Name: "runs", ExpectExit: 0, Timeout: cfg.Matrix.Timeout}}, nil
	}
	var cases []matrix.Case
	for _, t := range cfg.Tests {
		switch {
		case t.Executable == "" && len(exes) > 1:
			return nil, uerr.Usage(fmt.Sprintf("set executable = one of %s", strings.Join(exes, ", ")),
				"%s: [[test]] %q does not say which executable it runs", filepath.Base(cfg.Path), t.Name)
		case t.Executable != "" && t.Executable != name:
			continue
		}
		c := matrix.Case{Name: t.Name, Args: t.Args, ExpectExit: t.ExpectExit, Timeout: t.Timeout,
			ExpectStdoutRegex: t.ExpectStdoutRegex}
		if c.Timeout == 0 {
			c.Timeout = cfg.Matrix.Timeout
		}
		var err error
		if t.ExpectStdout.IsSet() {
			if c.ExpectStdout, err = os.ReadFile(t.ExpectStdout.Resolved); err != nil {
				return nil, uerr.Usage("", "[[test]] %q: expect_stdout: %v", t.Name, err)
			}
		}
		if t.Stdin.IsSet() {
			if c.Stdin, err = os.ReadFile(t.Stdin.Resolved); err != nil {
				return nil, uerr.Usage("", "[[test]] %q: stdin: %v", t.Name, err)
			}
		}
		for k, v := range t.Env {
			c.Env = append(c.Env, k+"="+v)
		}
		sort.Strings(c.Env)
		cases = append(cases, c)
	}
	if len(cases) == 0 {
		return []matrix.Case{{Name: "runs", ExpectExit: 0, Timeout: cfg.Matrix.Timeout}}, nil
	}
	return cases, nil
}

// printExecutable prints one executable's verdict and matrix.
func printExecutable(w io.Writer, exe report.Executable) {
	fmt.Fprintf(w, "\n== %s (%s)\n", exe.Name, exe.Target)
	if exe.Check != nil {
		fmt.Fprintf(w, "check: %s\n", exe.Check.Verdict)
	}
	if exe.Error != "" {
		fmt.Fprintf(w, "error: %s\n", exe.Error)
	}
	if exe.Matrix != nil {
		fmt.Fprintln(w)
		_ = exe.Matrix.WriteText(w)
	}
}

// writeRunReports writes report.json, report.html and junit.xml into out.
func writeRunReports(stdout io.Writer, out string, rep *report.Report) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", out, err)
	}
	var paths []string
	for _, name := range []string{"report.json", "report.html", "junit.xml"} {
		path := filepath.Join(out, name)
		if err := report.WriteFile(path, rep); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
		paths = append(paths, relative(mustGetwd(), path))
	}
	fmt.Fprintf(stdout, "\nreports: %s\n", strings.Join(paths, ", "))
	return nil
}

func mustGetwd() string {
	wd, _ := os.Getwd()
	return wd
}
