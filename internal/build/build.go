// Package build runs portabin's build: for each target, the project's own build system with
// portabin's compilers, then every executable verified static and written to dist/.
package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/portabin/portabin/internal/buildsys"
	"github.com/portabin/portabin/internal/cache"
	"github.com/portabin/portabin/internal/ccwrap"
	"github.com/portabin/portabin/internal/check"
	"github.com/portabin/portabin/internal/deps"
	"github.com/portabin/portabin/internal/dist"
	"github.com/portabin/portabin/internal/elfinfo"
	"github.com/portabin/portabin/internal/progress"
	"github.com/portabin/portabin/internal/target"
	"github.com/portabin/portabin/internal/toolchain"
	"github.com/portabin/portabin/internal/uerr"
)

// Options say what to build and how.
type Options struct {
	// Dir is the project; Out receives <target>/<executable>.
	Dir, Out string
	Targets  []target.Target
	Jobs     int
	Debug    bool
	Strip    bool
	PIE      bool
	// Args go to the project's configure step (cmake, meson setup, ./configure) or to make.
	Args []string
	// Clean starts from an empty build folder.
	Clean     bool
	Toolchain toolchain.Toolchain
	// Self is the portabin executable that the wrapper scripts call.
	Self     string
	Progress *progress.Reporter
	// Stream receives the build's own output when verbose.
	Stream io.Writer
	// Deps are the libraries to build first, name → version (portabin.toml's [deps]); Sources
	// is where their tarballs are (deps.Fetcher); Sysroot is the user's own prefix of static
	// libraries instead.
	Deps             map[string]string
	Sources, Sysroot string
	// Malloc names the allocator that replaces musl's (malloc.Names), "" for musl's own.
	Malloc string
	// System forces a build system; "" detects it.
	System buildsys.Kind
	// Env is added to the environment of the build system's commands (K=V).
	Env []string
	// Executables, when not empty, are the names or globs (path.Match) of the executables
	// to ship; each must match one.
	Executables []string
}

// Result lists what one target's build wrote.
type Result struct {
	Target      string        `json:"target"`
	BuildSystem string        `json:"build_system"`
	Toolchain   string        `json:"toolchain"`
	Outputs     []dist.Output `json:"outputs"`
}

// Validate checks the options and makes the folders absolute.
func (o *Options) Validate() error {
	if len(o.Targets) == 0 {
		return uerr.Usage("give --target", "no target to build for")
	}
	if o.Toolchain == nil {
		return errors.New("no toolchain")
	}
	for _, p := range []*string{&o.Dir, &o.Out, &o.Self} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return err
		}
		*p = abs
	}
	if o.Jobs < 1 {
		o.Jobs = 1
	}
	// An unknown library or version is bad input, refused before any build starts.
	if _, err := deps.Resolve(o.Deps); err != nil {
		return err
	}
	return nil
}

// Run builds the project for every target. Nothing reaches Out unless every executable of a
// target was verified fully static.
func Run(ctx context.Context, o Options) ([]Result, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	kind := o.System
	if kind == "" {
		var err error
		if kind, err = buildsys.Detect(o.Dir); err != nil {
			return nil, err
		}
	}
	system, err := buildsys.For(kind)
	if err != nil {
		return nil, err
	}
	var results []Result
	for _, t := range o.Targets {
		r, err := buildTarget(ctx, o, kind, system, t)
		if err != nil {
			return results, fmt.Errorf("%s: %w", t.Name, err)
		}
		results = append(results, r)
	}
	return results, nil
}

func buildTarget(ctx context.Context, o Options, kind buildsys.Kind, system buildsys.System, t target.Target) (Result, error) {
	buildDir, err := buildFolder(o, t)
	if err != nil {
		return Result{}, err
	}
	job := buildsys.Job{
		Src: o.Dir, Build: buildDir, Target: t, Jobs: o.Jobs, Debug: o.Debug, Args: o.Args,
		Exclude: []string{o.Out}, Env: append([]string{"SOURCE_DATE_EPOCH=" + sourceDateEpoch(ctx, o.Dir)}, o.Env...),
		Runner: o.Toolchain.Runner(),
	}
	if !t.IsHost() {
		if qemu, err := exec.LookPath(t.QEMU); err == nil {
			job.Emulator = qemu
		}
	}
	cxxSource, cxx := buildsys.HasCXXSources(o.Dir)
	cfg, err := o.Toolchain.Prepare(ctx, t, toolchain.Options{
		SourceDir: o.Dir, BuildDir: buildDir, Debug: o.Debug, Strip: o.Strip, PIE: o.PIE, CXX: cxx,
		PrefixMap: prefixMap(o.Dir, buildDir),
	})
	if err != nil {
		return Result{}, err
	}
	if cfg.NoCXX != "" && cxx {
		return Result{}, uerr.Usage("use --toolchain zig (the default), which brings a C++ runtime",
			"%s: %s", cxxSource, cfg.NoCXX)
	}
	sysroot, err := useDeps(ctx, o, t, buildDir, &cfg, &job)
	if err != nil {
		return Result{}, err
	}
	if err := describe(ctx, o, t, buildDir, &cfg, sysroot); err != nil {
		return Result{}, err
	}
	if job.Tools, err = writeWrappers(buildDir, o.Self, cfg); err != nil {
		return Result{}, err
	}

	step := o.Progress.Start("%s: building %s (%s, %s)", t.Name, filepath.Base(o.Dir), kind, o.Toolchain.Name())
	err = system.Build(ctx, job)
	step.Done(err)
	if err != nil {
		return Result{}, err
	}
	exes, err := buildsys.Executables(system, job)
	if err != nil {
		return Result{}, fmt.Errorf("finding the executables: %w", err)
	}
	if exes, err = selectExecutables(exes, o.Executables); err != nil {
		return Result{}, err
	}
	if len(exes) == 0 {
		e := uerr.Failed("", "the build succeeded but produced no executable")
		e.Hint = "portabin ships programs; a project that builds only libraries has nothing for dist/"
		return Result{}, e
	}
	verdicts, err := verify(exes, t)
	if err != nil {
		return Result{}, err
	}
	if err := checkNotes(exes); err != nil {
		return Result{}, err
	}
	outDir := filepath.Join(o.Out, t.Name)
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return Result{}, fmt.Errorf("creating %s: %w", outDir, err)
	}
	res := Result{Target: t.Name, BuildSystem: string(kind), Toolchain: o.Toolchain.Name()}
	objcopy := []string{"objcopy"}
	if z, ok := o.Toolchain.(*toolchain.Zig); ok {
		objcopy = []string{z.Exe(), "objcopy"}
	}
	for _, exe := range exes {
		out, err := dist.Install(ctx, exe, outDir, dist.Options{Strip: o.Strip, Objcopy: objcopy})
		if err != nil {
			return res, fmt.Errorf("writing %s: %w", filepath.Base(exe), err)
		}
		if out.SBOM, err = writeSBOM(out.Path, out.SHA256); err != nil {
			return res, err
		}
		out.Check = verdicts[exe]
		o.Progress.Printf("%s: %s", filepath.Base(exe), out.Check)
		res.Outputs = append(res.Outputs, out)
	}
	return res, nil
}

// buildFolder is the out-of-tree build folder, kept in the cache between runs so that a rebuild
// only compiles what changed.
func buildFolder(o Options, t target.Target) (string, error) {
	key := cache.Key(o.Dir, t.Name, o.Toolchain.ID(), strconv.FormatBool(o.Debug),
		strconv.FormatBool(o.Strip), strconv.FormatBool(o.PIE), o.Malloc)
	dir, err := cache.Sub("builds", filepath.Base(o.Dir)+"-"+key)
	if err != nil {
		return "", err
	}
	if o.Clean {
		if err := os.RemoveAll(dir); err != nil {
			return "", fmt.Errorf("cleaning %s: %w", dir, err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, ".portabin", "bin"), 0o755); err != nil {
		return "", err
	}
	return dir, nil
}

// prefixMap hides where the project and its build folder are, so that two builds of the same
// source in different places give the same bytes.
func prefixMap(src, build string) map[string]string {
	return map[string]string{src: "/portabin/src", build: "/portabin/build", filepath.Join(build, "src"): "/portabin/src"}
}

// sourceDateEpoch is the time recorded for __DATE__ and the like: $SOURCE_DATE_EPOCH, else the
// project's last git commit, else 0 — never the time of the build.
func sourceDateEpoch(ctx context.Context, dir string) string {
	if v := os.Getenv("SOURCE_DATE_EPOCH"); v != "" {
		return v
	}
	cmd := exec.CommandContext(ctx, "git", "log", "-1", "--format=%ct")
	cmd.Dir = dir
	if out, err := cmd.Output(); err == nil {
		if v := strings.TrimSpace(string(out)); v != "" {
			return v
		}
	}
	return "0"
}

// verify checks every executable before any is written, so that a bad one leaves dist/ as it was,
// with the code of portabin check; it returns each executable's verdict line. It checks the
// executable as linked, before --strip: with its symbols, check tells a C library's fallback
// calls from real ones.
func verify(exes []string, t target.Target) (map[string]string, error) {
	seen := map[string]string{}
	verdicts := map[string]string{}
	for _, exe := range exes {
		name := filepath.Base(exe)
		if other, dup := seen[name]; dup {
			return nil, uerr.Failed("", "two executables are named %s: %s and %s", name, other, exe)
		}
		seen[name] = exe
		info, err := elfinfo.Inspect(exe)
		if err != nil {
			return nil, err
		}
		// VerifyStatic's messages carry hints on what in a build makes a wrong executable.
		if err := elfinfo.VerifyStatic(info, t); err != nil {
			return nil, err
		}
		rep, err := check.File(exe, check.Requirements{})
		if err != nil {
			return nil, err
		}
		if !rep.Portable {
			e := uerr.Failed("", "%s: %s", name, rep.Verdict)
			e.Hint = "run `portabin check " + exe + "` for the whole report"
			return nil, e
		}
		verdicts[exe] = rep.Verdict
	}
	return verdicts, nil
}

// writeWrappers writes the wrapper configuration and the scripts the build system calls as its
// compilers; the link log makes dist/ take only what portabin linked.
func writeWrappers(buildDir, self string, cfg ccwrap.Config) (buildsys.Tools, error) {
	cfg.LinkLog = buildsys.LinkLog(buildDir)
	return buildsys.WriteWrappers(filepath.Join(buildDir, ".portabin"), self, cfg)
}

// selectExecutables keeps the executables whose names match one of patterns (all when there are
// none); a pattern that matches nothing is an error, so that a typo does not ship less.
func selectExecutables(exes, patterns []string) ([]string, error) {
	if len(patterns) == 0 {
		return exes, nil
	}
	var out []string
	var names []string
	for _, exe := range exes {
		names = append(names, filepath.Base(exe))
	}
	for _, p := range patterns {
		matched := false
		for i, exe := range exes {
			ok, err := path.Match(p, names[i])
			if err != nil {
				return nil, uerr.Usage("", "executable pattern %q: %v", p, err)
			}
			if ok {
				matched = true
				if !slices.Contains(out, exe) {
					out = append(out, exe)
				}
			}
		}
		if !matched {
			return nil, uerr.Usage("the build linked: "+strings.Join(names, ", "), "no executable matches %q", p)
		}
	}
	return out, nil
}
