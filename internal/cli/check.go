package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/portabin/portabin/internal/cache"
	"github.com/portabin/portabin/internal/check"
	"github.com/portabin/portabin/internal/elfinfo"
	"github.com/portabin/portabin/internal/kernels"
	"github.com/portabin/portabin/internal/uerr"
)

type checkFlags struct {
	json          bool
	recursive     bool
	requireKernel string
	requireISA    string
	allowDynamic  bool
	noCache       bool
}

// NewCheckCommand is `portabin check PATH...`.
func NewCheckCommand(stdout, stderr io.Writer) *cobra.Command {
	var f checkFlags
	cmd := &cobra.Command{
		Use:   "check PATH...",
		Short: "Prove from ELF files that they are portable: linking, kernel, CPU, risks",
		Long: `Check reads each ELF file and reports how it links, its C library, the oldest kernel its
system calls allow, the CPU level its instructions need, and what may make it behave
differently elsewhere. Exit 0 when every file meets the requirements, 1 when one does not,
2 on bad input.`,
		Example: `  portabin check dist/x86_64-linux-musl/musl_test_main
  portabin check --require-kernel 2.6.32 --require-isa x86-64-v2 dist/*/*
  portabin check -r --json /usr/bin`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req, err := f.requirements()
			if err != nil {
				return err
			}
			paths, err := checkPaths(args, f.recursive)
			if err != nil {
				return err
			}
			return runCheck(cmd.Context(), stdout, stderr, paths, req, f)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.json, "json", false, "print the reports as JSON (schema "+check.Schema+")")
	fl.BoolVarP(&f.recursive, "recursive", "r", false, "check the ELF files below folders")
	fl.StringVar(&f.requireKernel, "require-kernel", "", "fail files that need a newer Linux than this: a version (2.6.32) or a name (rhel6)")
	completeFlag(cmd, "require-kernel", kernelNames()...)
	fl.StringVar(&f.requireISA, "require-isa", "", "fail files that need more than this CPU level, e.g. x86-64-v2")
	fl.BoolVar(&f.allowDynamic, "allow-dynamic", false, "accept dynamically linked files")
	fl.BoolVar(&f.noCache, "no-cache", false, "analyse every file again instead of reusing the report of an unchanged file")
	return cmd
}

func (f checkFlags) requirements() (check.Requirements, error) {
	req := check.Requirements{AllowDynamic: f.allowDynamic, ISA: f.requireISA}
	if f.requireKernel != "" {
		k, err := kernels.Parse(f.requireKernel)
		if err != nil {
			return req, uerr.Usage("give a version such as 2.6.32 or a name such as rhel6", "--require-kernel: %v", err)
		}
		req.Kernel = k.Version
	}
	if f.requireISA != "" && !check.ValidISA(f.requireISA) {
		return req, uerr.Usage("give x86-64-v1, x86-64-v2, x86-64-v3 or x86-64-v4", "--require-isa %q is not a CPU level", f.requireISA)
	}
	return req, nil
}

// checkPaths expands folders (with -r) into the ELF files below them.
func checkPaths(args []string, recursive bool) ([]string, error) {
	var paths []string
	for _, arg := range args {
		st, err := os.Stat(arg)
		if err != nil {
			return nil, uerr.Usage("", "%s does not exist", arg)
		}
		if !st.IsDir() {
			paths = append(paths, arg)
			continue
		}
		if !recursive {
			return nil, uerr.Usage("use -r to check the files below a folder", "%s is a folder", arg)
		}
		err = filepath.WalkDir(arg, func(path string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return nil // unreadable folders and special files are not ELF programs
			}
			if isELF(path) {
				paths = append(paths, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return paths, nil
}

func isELF(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	magic := make([]byte, 4)
	_, err = io.ReadFull(f, magic)
	return err == nil && string(magic) == "\x7fELF"
}

func runCheck(ctx context.Context, stdout, stderr io.Writer, paths []string, req check.Requirements, f checkFlags) error {
	var reports [][]byte
	bad, failed := 0, 0
	checkOne := func(path string, req check.Requirements) (check.Encoded, error) {
		rep, err := check.File(path, req)
		if err != nil {
			return check.Encoded{}, err
		}
		out := check.Encoded{Report: rep, Portable: rep.Portable}
		if f.json {
			out.JSON, err = check.Encode(rep)
		}
		return out, err
	}
	var saved func(string, check.Requirements) (check.Encoded, bool)
	if !f.noCache {
		// Without a cache folder every file is simply analysed.
		if dir, err := cache.Sub("check"); err == nil {
			c := check.NewCache(dir)
			if f.json {
				saved = c.Saved
			}
			checkOne = func(path string, req check.Requirements) (check.Encoded, error) {
				if f.json {
					return c.JSON(path, req)
				}
				rep, err := c.File(path, req)
				if err != nil {
					return check.Encoded{}, err
				}
				return check.Encoded{Report: rep, Portable: rep.Portable}, nil
			}
		}
	}
	for res := range checkFiles(ctx, paths, req, saved, checkOne) {
		if res.err != nil {
			bad++
			msg := res.err.Error()
			if errors.Is(res.err, elfinfo.ErrNotELF) {
				msg = res.path + ": not an ELF file"
			}
			fmt.Fprintf(stderr, "portabin: %s\n", firstLine(msg))
			continue
		}
		if !res.out.Portable {
			failed++
		}
		if f.json {
			reports = append(reports, res.out.JSON)
		} else {
			printReport(stdout, res.out.Report, colour(stdout))
		}
	}
	if err := ctx.Err(); err != nil {
		return err // interrupted: stopped between files (a large one takes seconds)
	}
	if f.json {
		if err := check.WriteDocument(stdout, reports); err != nil {
			return err
		}
	}
	switch {
	case bad > 0:
		return exitCode(uerr.ExitUsage)
	case failed > 0:
		return exitCode(uerr.ExitFailed)
	}
	return nil
}

type checked struct {
	path string
	out  check.Encoded
	err  error
}

// checkFiles checks paths on every CPU and yields the results in the order of paths; it stops
// starting files when ctx ends. Files that saved answers (when not nil) can answer at once are
// answered first, without handing them to the workers: for unchanged files that costs far more
// than the answer. The rest go through a fileQueue: largest first, within checkBudget.
func checkFiles(ctx context.Context, paths []string, req check.Requirements,
	saved func(string, check.Requirements) (check.Encoded, bool),
	checkOne func(string, check.Requirements) (check.Encoded, error)) iter.Seq[checked] {
	return func(yield func(checked) bool) {
		results := make([]chan checked, len(paths))
		answered := make([]bool, len(paths))
		for i := range paths {
			results[i] = make(chan checked, 1)
		}
		if saved != nil {
			// Each CPU takes a stretch of the list: one hand-over per CPU, not per file.
			var wg sync.WaitGroup
			stretch := (len(paths) + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0)
			for from := 0; from < len(paths); from += stretch {
				wg.Go(func() {
					for i := from; i < min(from+stretch, len(paths)); i++ {
						if out, ok := saved(paths[i], req); ok {
							results[i] <- checked{paths[i], out, nil}
							answered[i] = true
						}
					}
				})
			}
			wg.Wait()
		}
		var order []int
		for i := range paths {
			if !answered[i] {
				order = append(order, i)
			}
		}
		stop := make(chan struct{})
		defer close(stop)
		sizes := make([]int64, len(paths))
		for _, i := range order {
			if st, err := os.Stat(paths[i]); err == nil {
				sizes[i] = st.Size()
			}
		}
		sort.SliceStable(order, func(a, b int) bool { return sizes[order[a]] > sizes[order[b]] })
		queue := newFileQueue(order, sizes, checkBudget)
		go func() {
			select {
			case <-stop:
			case <-ctx.Done():
			}
			queue.close()
		}()
		for range min(runtime.GOMAXPROCS(0), len(order)) {
			go func() {
				for {
					i, ok := queue.take()
					if !ok {
						return
					}
					out, err := checkOne(paths[i], req)
					queue.done(i)
					results[i] <- checked{paths[i], out, err}
				}
			}()
		}
		for i := range paths {
			select {
			case res := <-results[i]:
				if !yield(res) {
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}
}

// colour is on for terminals unless NO_COLOR is set (no-color.org).
func colour(w io.Writer) bool {
	file, ok := w.(*os.File)
	return ok && os.Getenv("NO_COLOR") == "" && term.IsTerminal(int(file.Fd()))
}

func printReport(w io.Writer, r *check.Report, colour bool) {
	fmt.Fprintf(w, "%s\n", r.Path)
	fmt.Fprintf(w, "  file:     %s %s %s %s, entry %#x\n", r.Class, r.ByteOrder, r.Machine, r.Type, r.Entry)
	link := r.Linking
	if r.Interp != "" {
		link += " (" + r.Interp + ")"
	}
	if len(r.Needed) > 0 {
		link += ", needs " + strings.Join(r.Needed, ", ")
	}
	fmt.Fprintf(w, "  linking:  %s\n", link)
	if e := r.ELF; e != nil {
		var facts []string
		if e.PIE {
			facts = append(facts, "PIE")
		}
		if e.SOName != "" {
			facts = append(facts, "soname "+e.SOName)
		}
		if e.Bind != "" {
			facts = append(facts, "bind "+e.Bind)
		}
		facts = append(facts, "RELRO "+e.RELRO, "stack "+e.Stack)
		if e.BuildID != "" {
			facts = append(facts, "build-id "+e.BuildID)
		}
		fmt.Fprintf(w, "  elf:      %s\n", strings.Join(facts, ", "))
		for _, n := range e.Notes {
			if n.Type == "NT_GNU_PROPERTY_TYPE_0" {
				fmt.Fprintf(w, "  property: %s\n", n.Description)
			}
		}
	}
	for _, p := range append(append([]string(nil), r.RPath...), r.RunPath...) {
		fmt.Fprintf(w, "  rpath:    %s\n", p)
	}
	libc := r.Libc.Name
	if r.Libc.Version != "" {
		libc += " " + r.Libc.Version
	}
	fmt.Fprintf(w, "  libc:     %s (%s)\n", libc, r.Libc.Evidence)
	if r.Glibc != nil {
		fmt.Fprintf(w, "  glibc:    >= %s; oldest: %s\n", r.Glibc.GLIBC, strings.Join(r.Glibc.Distros, ", "))
	}
	k := r.Kernel
	switch {
	case k.Minimum != "":
		fmt.Fprintf(w, "  kernel:   Linux >= %s, set by %s", k.Minimum, k.DecidedBy)
	default:
		fmt.Fprintf(w, "  kernel:   no minimum found")
	}
	if k.Analysed {
		fallback := 0
		for _, s := range k.Syscalls {
			if s.Fallback {
				fallback++
			}
		}
		fmt.Fprintf(w, " (%d system calls, %d with a fallback, %d not resolved)", len(k.Syscalls), fallback, k.Unknown)
	}
	fmt.Fprintln(w)
	for _, n := range k.Notes {
		fmt.Fprintf(w, "            note: %s\n", n)
	}
	if r.CPU != nil {
		line := r.CPU.Level
		if len(r.CPU.Features) > 0 {
			line += " (" + strings.Join(r.CPU.Features, ", ") + ")"
		}
		if r.CPU.Dispatched != "" {
			line += "; up to " + r.CPU.Dispatched + " in code chosen at run time"
		}
		fmt.Fprintf(w, "  cpu:      %s\n", line)
		for _, n := range r.CPU.Notes {
			fmt.Fprintf(w, "            note: %s\n", n)
		}
	}
	for _, risk := range r.Risks {
		fmt.Fprintf(w, "  risk:     %s: %s\n", risk.Kind, risk.Detail)
	}
	for _, file := range r.RuntimeFiles {
		fmt.Fprintf(w, "  reads:    %s\n", file)
	}
	if r.Package != nil {
		fmt.Fprintf(w, "  inside:   %s\n", check.Inside(r.Package))
	}
	verdict := r.Verdict
	if colour {
		code := "32"
		if !r.Portable {
			code = "31"
		}
		verdict = "\033[" + code + "m" + verdict + "\033[0m"
	}
	fmt.Fprintf(w, "  %s\n", verdict)
}
