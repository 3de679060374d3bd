package cli

import (
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/portabin/portabin/internal/cache"
	"github.com/portabin/portabin/internal/check"
	"github.com/portabin/portabin/internal/image"
	"github.com/portabin/portabin/internal/kernels"
	"github.com/portabin/portabin/internal/logs"
	"github.com/portabin/portabin/internal/matrix"
	"github.com/portabin/portabin/internal/progress"
	"github.com/portabin/portabin/internal/report"
	"github.com/portabin/portabin/internal/target"
	"github.com/portabin/portabin/internal/uerr"
)

type testFlags struct {
	on          []string
	kernels     []string
	expectFile  string
	expectRegex string
	expectExit  int
	stdinFile   string
	env         []string
	timeout     time.Duration
	runner      string
	reports     []string
	jobs        int
	network     bool
	offline     bool
	refresh     bool
	json        bool
}

// NewTestCommand is `portabin test EXE [-- ARGS...]`.
func NewTestCommand(stdout, stderr io.Writer) *cobra.Command {
	var f testFlags
	cmd := &cobra.Command{
		Use:   "test EXE [-- ARGS...]",
		Short: "Run an executable across root filesystems × emulated older kernels, without a daemon",
		Long: `Test runs EXE in every cell of a matrix: each root filesystem (--on) × each kernel (--kernel),
for the executable's own architecture (qemu-user runs foreign ones). A cell passes when the program
exits as expected and prints what it should.

Roots: scratch (an empty root: only the executable, /dev, /proc and /tmp), dir:PATH, tar:PATH
(docker save, OCI layout or root filesystem tarball), oci:REF or a bare image reference such as
debian:bookworm, pulled without a container engine and cached by digest. NAME=ROOT gives a
root a short name in the matrix (centos7=tar:/srv/centos7.tar).
Kernels: host, a version (2.6.32) or a name (rhel5, rhel6, rhel7, rhel8, rhel9, ubuntu14.04,
bullseye, ...). An older kernel is emulated with a seccomp filter that answers ENOSYS to every
system call it did not have, and uname reports its version; old behaviour of old calls is not
emulated.

Exit 0 when every cell passes, 1 when one fails or cannot run, 2 on bad input.`,
		Example: `  portabin test dist/x86_64-linux-musl/hello --on scratch --kernel host,rhel6,rhel5
  portabin test ./prog --on scratch,dir:/srv/roots/centos7 --expect-stdout want.txt -- --verbose
  portabin test ./prog --on debian:bookworm --kernel 3.10 --report report.html`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			exe, progArgs := args[0], args[1:]
			if cmd.ArgsLenAtDash() > 1 {
				return uerr.Usage("put the program's arguments after --", "test takes one executable, got %d", cmd.ArgsLenAtDash())
			}
			return runTest(cmd.Context(), stdout, stderr, exe, progArgs, f)
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&f.on, "on", []string{"scratch"}, "root filesystems: scratch, dir:PATH, tar:PATH, oci:REF or an image reference; NAME=ROOT names one")
	fl.StringSliceVar(&f.kernels, "kernel", []string{"host"}, "kernels: host, a version such as 2.6.32, or a name such as rhel6")
	fl.StringVar(&f.expectFile, "expect-stdout", "", "the exact standard output wanted, from this file")
	fl.StringVar(&f.expectRegex, "expect-stdout-regex", "", "a regular expression the standard output must match (^ and $ match at each line)")
	fl.IntVar(&f.expectExit, "expect-exit", 0, "the exit code wanted")
	fl.StringVar(&f.stdinFile, "stdin", "", "give the program this file on standard input")
	fl.StringArrayVar(&f.env, "env", nil, "set K=V in the program's environment (repeatable)")
	fl.DurationVar(&f.timeout, "timeout", 10*time.Second, "kill a cell's whole process tree after this long")
	fl.StringVar(&f.runner, "runner", "native", "native (namespaces, no daemon), podman or docker")
	fl.StringArrayVar(&f.reports, "report", nil, "also write the results to FILE.json, FILE.xml (JUnit) or FILE.html (repeatable)")
	fl.IntVarP(&f.jobs, "jobs", "j", 0, "cells run at once (default: one per CPU)")
	fl.BoolVar(&f.network, "network", false, "give cells the host's network (default: none)")
	fl.BoolVar(&f.offline, "offline", false, "never pull images: only the cache serves")
	fl.BoolVar(&f.refresh, "refresh", false, "look image tags up in the registry again instead of using the cached digest")
	fl.BoolVar(&f.json, "json", false, "print the results as JSON (schema "+matrix.Schema+") instead of the grid")
	completeFlag(cmd, "kernel", kernelNames()...)
	completeFlag(cmd, "runner", "native", "podman", "docker")
	_ = cmd.RegisterFlagCompletionFunc("on", completeRoot)
	return cmd
}

// completeRoot offers the kinds of root; after dir: and tar: the shell completes paths.
func completeRoot(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if strings.HasPrefix(toComplete, "dir:") || strings.HasPrefix(toComplete, "tar:") {
		return nil, cobra.ShellCompDirectiveDefault
	}
	return []string{"scratch", "dir:", "tar:", "oci:"}, cobra.ShellCompDirectiveNoSpace | cobra.ShellCompDirectiveNoFileComp
}

// testPlan validates the flags and turns them into a plan.
func (f testFlags) plan(exe string, args []string) (matrix.Plan, error) {
	var p matrix.Plan
	abs, err := filepath.Abs(exe)
	if err != nil {
		return p, err
	}
	t, err := exeTarget(abs)
	if err != nil {
		return p, err
	}
	p.Exe, p.Target = abs, t
	if p, err = withQEMU(p); err != nil {
		return p, err
	}
	for _, root := range f.on {
		if root = strings.TrimSpace(root); root == "" {
			return p, uerr.Usage("e.g. --on scratch,debian:bookworm", "--on: empty root")
		}
		p.Roots = append(p.Roots, root)
	}
	for _, name := range f.kernels {
		k, err := kernels.Parse(name)
		if err != nil {
			return p, uerr.Usage("e.g. --kernel host,rhel6,2.6.18", "--kernel: %v", err)
		}
		p.Kernels = append(p.Kernels, k)
	}
	c := matrix.Case{Name: "run", Args: args, ExpectExit: f.expectExit, Timeout: f.timeout}
	if f.timeout <= 0 {
		return p, uerr.Usage("e.g. --timeout 30s", "--timeout must be positive")
	}
	if f.expectFile != "" && f.expectRegex != "" {
		return p, uerr.Usage("give one of them", "--expect-stdout and --expect-stdout-regex both given")
	}
	if f.expectFile != "" {
		if c.ExpectStdout, err = os.ReadFile(f.expectFile); err != nil {
			return p, uerr.Usage("", "--expect-stdout: %v", err)
		}
	}
	if f.expectRegex != "" {
		if c.ExpectStdoutRegex, err = regexp.Compile(f.expectRegex); err != nil {
			return p, uerr.Usage("", "--expect-stdout-regex: %v", err)
		}
	}
	if f.stdinFile != "" {
		if c.Stdin, err = os.ReadFile(f.stdinFile); err != nil {
			return p, uerr.Usage("", "--stdin: %v", err)
		}
	}
	for _, kv := range f.env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return p, uerr.Usage("e.g. --env LANG=C", "--env %q: want K=V", kv)
		}
	}
	c.Env = f.env
	p.Cases = []matrix.Case{c}
	if f.jobs < 0 {
		return p, uerr.Usage("", "--jobs must not be negative")
	}
	p.Jobs, p.Network = f.jobs, f.network
	for _, r := range f.reports {
		if err := report.CheckPath(r); err != nil {
			return p, err
		}
	}
	return p, nil
}

// withQEMU sets the qemu-user program that runs a foreign executable.
func withQEMU(p matrix.Plan) (matrix.Plan, error) {
	if p.Target.IsHost() {
		return p, nil
	}
	qemu, err := exec.LookPath(p.Target.QEMU)
	if err != nil {
		return p, uerr.Env("install qemu-user-static", "%s is for %s: running it needs %s, which is not installed",
			filepath.Base(p.Exe), p.Target.Arch, p.Target.QEMU)
	}
	p.QEMU = qemu
	return p, nil
}

// exeTarget reads the executable's architecture from its ELF header.
func exeTarget(path string) (target.Target, error) {
	f, err := elf.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return target.Target{}, uerr.Usage("", "%s does not exist", path)
	}
	if err != nil {
		return target.Target{}, uerr.Usage("portabin test runs Linux ELF executables", "%s is not an ELF file: %v", path, err)
	}
	defer f.Close()
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return target.Target{}, uerr.Usage("", "%s is not an executable (ELF type %s)", path, f.Type)
	}
	t, ok := target.ForMachine(f.Machine)
	if !ok {
		return target.Target{}, uerr.Usage("", "%s is for %s, which portabin cannot run", path, f.Machine)
	}
	return t, nil
}

// newMatrixRunner builds the runner a --runner value names.
func newMatrixRunner(name string) (matrix.Runner, error) {
	switch name {
	case "native":
		return matrix.NativeRunner{}, nil
	case "podman", "docker":
		return matrix.NewEngineRunner(name)
	}
	return nil, uerr.Usage("use native, podman or docker", "unknown runner %q", name)
}

func newResolver(offline, refresh bool) (*image.Resolver, error) {
	if offline && refresh {
		return nil, uerr.Usage("give one of them", "--offline and --refresh exclude each other")
	}
	dir, err := cache.Dir()
	if err != nil {
		return nil, err
	}
	return &image.Resolver{Cache: dir, Offline: offline, Refresh: refresh}, nil
}

func runTest(ctx context.Context, stdout, stderr io.Writer, exe string, args []string, f testFlags) error {
	plan, err := f.plan(exe, args)
	if err != nil {
		return err
	}
	run, err := newMatrixRunner(f.runner)
	if err != nil {
		return err
	}
	resolver, err := newResolver(f.offline, f.refresh)
	if err != nil {
		return err
	}
	res, err := runMatrix(ctx, stderr, plan, resolver, run)
	if res == nil {
		return err
	}
	if err := writeTestReports(f.reports, plan, res); err != nil {
		return err
	}
	if f.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
	} else if err := res.WriteText(stdout); err != nil {
		return err
	}
	if !res.OK() {
		return exitCode(uerr.ExitFailed)
	}
	return nil
}

// runMatrix runs a plan with progress on stderr: a live line on a terminal, a line per failed
// cell otherwise.
func runMatrix(ctx context.Context, stderr io.Writer, plan matrix.Plan, resolver matrix.RootResolver, run matrix.Runner) (*matrix.Result, error) {
	step := progress.New(stderr).Start("testing %s (%s, %s runner)", filepath.Base(plan.Exe), plan.Target.Arch, run.Name())
	res, err := matrix.Run(ctx, plan, resolver, run, func(done, total int, c matrix.Cell) {
		step.Update("%d/%d cells", done, total)
		if c.Status != matrix.Pass {
			logs.Debug.Printf("%s: %s × %s: %s", c.Status, c.Root, c.Kernel, strings.Join(c.Reasons, "; "))
		}
	})
	if err == nil && !res.OK() {
		err = errors.New("not every cell passed")
	}
	step.Done(err)
	return res, err
}

// writeTestReports writes the report files of one `portabin test`, with the executable's check.
func writeTestReports(paths []string, plan matrix.Plan, res *matrix.Result) error {
	if len(paths) == 0 {
		return nil
	}
	exe, err := reportExecutable(plan.Exe, plan.Target, check.Requirements{})
	if err != nil {
		return err
	}
	exe.Matrix = res
	r := &report.Report{Schema: report.Schema, Tool: versionString(), Executables: []report.Executable{exe}}
	for _, path := range paths {
		if err := report.WriteFile(path, r); err != nil {
			return fmt.Errorf("writing the report: %w", err)
		}
	}
	return nil
}

// reportExecutable describes an executable for a report: its size, digest and check.
func reportExecutable(path string, t target.Target, req check.Requirements) (report.Executable, error) {
	exe, err := report.NewExecutable(path, t.Name)
	if err != nil {
		return exe, err
	}
	if exe.Check, err = check.File(path, req); err != nil {
		exe.Error = err.Error()
	}
	return exe, nil
}
