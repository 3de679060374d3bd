// Package matrix runs an executable in every cell of roots × kernels × test cases and judges each run.
package matrix

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/portabin/portabin/internal/image"
	"github.com/portabin/portabin/internal/kernels"
	"github.com/portabin/portabin/internal/seccomp"
	"github.com/portabin/portabin/internal/syscalls"
	"github.com/portabin/portabin/internal/target"
)

// Schema names the JSON form of Result.
const Schema = "portabin.test/v1"

// Case is one way of running the executable and what it must do.
type Case struct {
	Name  string
	Args  []string
	Stdin []byte
	// Env is added to the runner's default environment.
	Env []string
	// ExpectStdout, when not nil, is the exact standard output wanted.
	ExpectStdout []byte
	// ExpectStdoutRegex, when not nil, must match the standard output; ^ and $ match at the
	// start and end of each line.
	ExpectStdoutRegex *regexp.Regexp
	ExpectExit        int
	Timeout           time.Duration
}

// Plan is what to run where.
type Plan struct {
	// Exe is the executable's host path; Target its architecture.
	Exe     string
	Target  target.Target
	Roots   []string
	Kernels []kernels.Kernel
	Cases   []Case
	// Jobs is how many cells run at once; 0 means one per CPU.
	Jobs    int
	Network bool
	// QEMU is the qemu-user program for a foreign Target; "" runs natively.
	QEMU string
}

// Job is one cell handed to a Runner.
type Job struct {
	Root    image.Root
	Exe     string
	Target  target.Target
	Kernel  kernels.Kernel
	Case    Case
	Network bool
	QEMU    string
}

// Outcome is what a runner saw the program do.
type Outcome struct {
	ExitCode int
	Signal   string
	TimedOut bool
	Stdout   []byte
	Stderr   []byte
	Duration time.Duration
	// ENOSYS lists the calls answered ENOSYS because the kernel was emulated; Recorded is false
	// when the runner cannot tell (the calls were still refused).
	ENOSYS   []seccomp.Call
	Recorded bool
	// Missing lists files the program looked for and its root lacks, where the runner traces opens.
	Missing []seccomp.MissingFile
	// ExecError says why the program could not be started at all, e.g. a missing ELF interpreter.
	ExecError string
}

// Runner runs one cell. Implementations: the native sandbox and container engines.
type Runner interface {
	Name() string
	Run(ctx context.Context, job Job) (Outcome, error)
}

// RootResolver turns a root reference into a root filesystem; *image.Resolver is one.
type RootResolver interface {
	Resolve(ctx context.Context, ref string, t target.Target) (image.Root, error)
}

// Status is a cell's verdict.
type Status string

const (
	Pass Status = "pass"
	// Fail: the program ran and did not do what the case wants.
	Fail Status = "fail"
	// Error: the cell could not run (root not resolvable, sandbox refused).
	Error Status = "error"
)

// Cell is one run's result.
type Cell struct {
	// Root is the root's name in the matrix: its label when it has one (NAME=REF), else REF.
	Root string `json:"root"`
	// RootRef is the reference the root was resolved from, when it has a label.
	RootRef    string   `json:"root_ref,omitempty"`
	RootDigest string   `json:"root_digest,omitempty"`
	Kernel     string   `json:"kernel"`
	Case       string   `json:"case"`
	Status     Status   `json:"status"`
	Reasons    []string `json:"reasons,omitempty"`
	ExitCode   int      `json:"exit_code"`
	Signal     string   `json:"signal,omitempty"`
	TimedOut   bool     `json:"timed_out,omitempty"`
	Stdout     string   `json:"stdout"`
	Stderr     string   `json:"stderr"`
	// StdoutDiff shows how the output differs from the expected one, when it does.
	StdoutDiff string         `json:"stdout_diff,omitempty"`
	ENOSYS     []seccomp.Call `json:"enosys,omitempty"`
	// ENOSYSRecorded is false when the runner refused calls without saying which.
	ENOSYSRecorded bool `json:"enosys_recorded"`
	// MissingFiles are files the program tried to open or execute that the root lacks (traced
	// only by the native runner with an emulated kernel): hints for a failure, not failures.
	MissingFiles []seccomp.MissingFile `json:"missing_files,omitempty"`
	Seconds      float64               `json:"seconds"`
}

// Result is every cell of one executable's matrix.
type Result struct {
	Schema     string `json:"schema"`
	Executable string `json:"executable"`
	Arch       string `json:"arch"`
	Runner     string `json:"runner"`
	// Roots, Kernels and Cases are the matrix's axes, in the order given.
	Roots   []string `json:"roots"`
	Kernels []string `json:"kernels"`
	Cases   []string `json:"cases"`
	Cells   []Cell   `json:"cells"`
	// Notes say what the matrix left out and why.
	Notes  []string `json:"notes,omitempty"`
	Passed int      `json:"passed"`
	Failed int      `json:"failed"`
	Errors int      `json:"errors"`
}

// OK reports whether every cell passed.
func (r *Result) OK() bool { return r.Failed == 0 && r.Errors == 0 && len(r.Cells) > 0 }

// Run runs every cell of p. Progress, when not nil, is called after each cell. Cells that cannot
// run are results, not errors; the error is for a plan that cannot start at all.
func Run(ctx context.Context, p Plan, resolver RootResolver, runner Runner, progress func(done, total int, c Cell)) (*Result, error) {
	if len(p.Roots) == 0 || len(p.Kernels) == 0 || len(p.Cases) == 0 {
		return nil, fmt.Errorf("the matrix is empty: it needs at least one root, one kernel and one case")
	}
	res := &Result{Schema: Schema, Executable: p.Exe, Arch: p.Target.Arch, Runner: runner.Name()}
	for _, spec := range p.Roots {
		res.Roots = append(res.Roots, rootName(spec))
	}
	p.Kernels, res.Notes = portKernels(p.Kernels, p.Target.Arch)
	if len(p.Kernels) == 0 {
		return nil, fmt.Errorf("no kernel to test: %s", strings.Join(res.Notes, "; "))
	}
	for _, k := range p.Kernels {
		res.Kernels = append(res.Kernels, k.Label())
	}
	for _, c := range p.Cases {
		res.Cases = append(res.Cases, c.Name)
	}

	// Each root is resolved once, by the first cell that needs it; its cells wait for it.
	roots := make([]resolvedRoot, len(p.Roots))
	for i := range roots {
		roots[i].once = new(sync.Once)
	}
	type index struct{ root, kernel, cas int }
	var cells []index
	for r := range p.Roots {
		for k := range p.Kernels {
			for c := range p.Cases {
				cells = append(cells, index{r, k, c})
			}
		}
	}
	res.Cells = make([]Cell, len(cells))

	jobs := p.Jobs
	if jobs <= 0 {
		jobs = defaultJobs()
	}
	work := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	for range min(jobs, len(cells)) {
		wg.Go(func() {
			for i := range work {
				ix := cells[i]
				rr := &roots[ix.root]
				rr.once.Do(func() { rr.root, rr.err = resolver.Resolve(ctx, p.Roots[ix.root], p.Target) })
				cell := runCell(ctx, p, runner, rr, p.Roots[ix.root], p.Kernels[ix.kernel], p.Cases[ix.cas])
				mu.Lock()
				res.Cells[i] = cell
				done++
				if progress != nil {
					progress(done, len(cells), cell)
				}
				mu.Unlock()
			}
		})
	}
	for i := range cells {
		if ctx.Err() != nil {
			break
		}
		work <- i
	}
	close(work)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, c := range res.Cells {
		switch c.Status {
		case Pass:
			res.Passed++
		case Fail:
			res.Failed++
		default:
			res.Errors++
		}
	}
	return res, nil
}

// portKernels leaves out the kernels older than arch's port: none of them ever ran it.
func portKernels(ks []kernels.Kernel, arch string) ([]kernels.Kernel, []string) {
	port, why := syscalls.PortSince(arch)
	var keep []kernels.Kernel
	var notes []string
	for _, k := range ks {
		if k.Version.Less(port) {
			notes = append(notes, fmt.Sprintf("kernel %s left out: %s", k.Label(), why))
			continue
		}
		keep = append(keep, k)
	}
	return keep, notes
}

type resolvedRoot struct {
	once *sync.Once
	root image.Root
	err  error
}

// rootName is how a root shows in a matrix: its label, else its reference.
func rootName(spec string) string {
	if label, _ := image.SplitLabel(spec); label != "" {
		return label
	}
	return spec
}

func runCell(ctx context.Context, p Plan, runner Runner, rr *resolvedRoot, spec string, k kernels.Kernel, c Case) Cell {
	cell := Cell{Root: rootName(spec), Kernel: k.Label(), Case: c.Name, ExitCode: -1}
	if label, ref := image.SplitLabel(spec); label != "" {
		cell.RootRef = ref
	}
	if rr.err != nil {
		cell.Status = Error
		cell.Reasons = []string{rr.err.Error()}
		return cell
	}
	cell.RootDigest = rr.root.Digest
	out, err := runner.Run(ctx, Job{Root: rr.root, Exe: p.Exe, Target: p.Target, Kernel: k, Case: c, Network: p.Network, QEMU: p.QEMU})
	if err != nil {
		cell.Status = Error
		cell.Reasons = []string{err.Error()}
		return cell
	}
	judge(&cell, c, out)
	return cell
}

// multiline makes ^ and $ match at line boundaries, as in testscript's stdout: output ends in
// a newline, before which Go's $ would not match otherwise.
func multiline(re *regexp.Regexp) *regexp.Regexp {
	return regexp.MustCompile("(?m)" + re.String())
}

// judge compares what the program did with what the case wants.
func judge(cell *Cell, c Case, out Outcome) {
	cell.ExitCode = out.ExitCode
	cell.Signal = out.Signal
	cell.TimedOut = out.TimedOut
	cell.Stdout = string(out.Stdout)
	cell.Stderr = string(out.Stderr)
	cell.ENOSYS = out.ENOSYS
	cell.ENOSYSRecorded = out.Recorded
	cell.MissingFiles = out.Missing
	cell.Seconds = out.Duration.Seconds()
	switch {
	case out.ExecError != "":
		cell.Reasons = append(cell.Reasons, "could not start: "+out.ExecError)
	case out.TimedOut:
		cell.Reasons = append(cell.Reasons, fmt.Sprintf("timed out after %s", c.Timeout))
	case out.Signal != "":
		cell.Reasons = append(cell.Reasons, "killed by "+out.Signal)
	case out.ExitCode != c.ExpectExit:
		cell.Reasons = append(cell.Reasons, fmt.Sprintf("exit code %d, want %d", out.ExitCode, c.ExpectExit))
	}
	if c.ExpectStdout != nil && string(c.ExpectStdout) != string(out.Stdout) {
		cell.Reasons = append(cell.Reasons, "standard output differs from the expected output")
		cell.StdoutDiff = Diff(string(c.ExpectStdout), string(out.Stdout))
	}
	if c.ExpectStdoutRegex != nil && !multiline(c.ExpectStdoutRegex).Match(out.Stdout) {
		cell.Reasons = append(cell.Reasons, fmt.Sprintf("standard output does not match /%s/", c.ExpectStdoutRegex))
	}
	if len(cell.Reasons) == 0 {
		cell.Status = Pass
		return
	}
	if len(out.ENOSYS) > 0 {
		names := make([]string, len(out.ENOSYS))
		for i, call := range out.ENOSYS {
			names[i] = call.Name
		}
		sort.Strings(names)
		cell.Reasons = append(cell.Reasons, fmt.Sprintf("the emulated kernel answered ENOSYS to %v", names))
	}
	cell.Status = Fail
}
