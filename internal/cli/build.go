package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/portabin/portabin/internal/build"
	"github.com/portabin/portabin/internal/buildsys"
	"github.com/portabin/portabin/internal/malloc"
	"github.com/portabin/portabin/internal/progress"
	"github.com/portabin/portabin/internal/target"
	"github.com/portabin/portabin/internal/toolchain"
	"github.com/portabin/portabin/internal/uerr"
)

// buildFlags are the command-line choices of portabin build.
type buildFlags struct {
	out       string
	targets   []string
	jobs      int
	release   bool
	debug     bool
	strip     bool
	pie       bool
	clean     bool
	json      bool
	toolchain string
	zigSource string
	engine    string
	image     string
	deps      []string
	sources   string
	malloc    string
	system    string
	env       []string
	exes      []string
}

// NewBuildCommand is `portabin build [DIR]`.
func NewBuildCommand(stdout, stderr io.Writer, verbose *bool) *cobra.Command {
	var f buildFlags
	cmd := &cobra.Command{
		Use:   "build [DIR] [-- BUILD-SYSTEM-ARGS...]",
		Short: "Build a C/C++ project into fully static musl executables",
		Long: `Build the project in DIR (default: the current folder) with its own build system —
CMake, Meson, autotools, a Makefile, or a folder of .c/.cc/.cpp files — into fully static
executables against musl, written to dist/<target>/. The build runs out of tree: DIR is never
written to. Every executable is verified static before it reaches dist/. Arguments after --
go to the project's configure step (cmake -D..., meson -D..., ./configure --...) or to make.`,
		Example: `  portabin build examples/seed
  portabin build --target x86_64 --target aarch64 ~/src/myproject
  portabin build --strip --json .
  portabin build --toolchain container --image alpine:3.20 .
  portabin build ~/src/sqlite -- --disable-tcl`,
		RunE: func(cmd *cobra.Command, args []string) error {
			var extra []string
			if dash := cmd.ArgsLenAtDash(); dash >= 0 {
				args, extra = args[:dash], args[dash:]
			}
			if len(args) > 1 {
				return uerr.Usage("give one project folder; arguments for the build system go after --",
					"too many arguments: %s", strings.Join(args, " "))
			}
			if cmd.Flags().Changed("release") && f.debug {
				return uerr.Usage("give one of them; --release is the default", "--release and --debug exclude each other")
			}
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			opts, err := f.options(dir, stderr, *verbose)
			if err != nil {
				return err
			}
			opts.Args = extra
			results, err := build.Run(cmd.Context(), opts)
			if err != nil {
				return err
			}
			return printResults(stdout, results, f.json)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.out, "out", "o", "dist", "folder that receives <target>/<executable>")
	fl.StringArrayVarP(&f.targets, "target", "t", nil, fmt.Sprintf("target to build for, repeatable (%v; default: the host's)", target.Names()))
	fl.IntVarP(&f.jobs, "jobs", "j", runtime.NumCPU(), "parallel compile jobs")
	fl.BoolVar(&f.release, "release", true, "optimised build (the default)")
	fl.BoolVar(&f.debug, "debug", false, "unoptimised build with debug information")
	fl.BoolVar(&f.strip, "strip", false, "split debug information into <exe>.debug, linked with a GNU debuglink")
	fl.BoolVar(&f.pie, "pie", false, "link static-pie executables instead of plain static ones")
	fl.BoolVar(&f.clean, "clean", false, "start from an empty build folder")
	fl.BoolVar(&f.json, "json", false, "print the outputs as JSON")
	fl.StringVar(&f.toolchain, "toolchain", "zig", "zig, container or musl-gcc")
	fl.StringVar(&f.zigSource, "zig-source", "", "where a missing zig comes from: auto, official, npm, or a URL (default $PORTABIN_ZIG_SOURCE or auto)")
	fl.StringVar(&f.engine, "engine", "", "container engine for --toolchain container: podman or docker (default: detected)")
	fl.StringArrayVar(&f.deps, "dep", nil, "library to build from source first, NAME=VERSION, repeatable (see docs/deps.md)")
	fl.StringVar(&f.sources, "sources", os.Getenv("PORTABIN_SOURCES"), "folder of source tarballs (no downloads) or mirror URL for --dep (default $PORTABIN_SOURCES)")
	fl.StringVar(&f.malloc, "malloc", "", fmt.Sprintf("allocator that replaces musl's in every executable: %s (default: musl's own)", strings.Join(malloc.Names, ", ")))
	fl.StringVar(&f.system, "system", "", "build system: cmake, meson, autotools, make or sources (default: detected)")
	fl.StringArrayVar(&f.env, "env", nil, "set K=V for the build system's commands (repeatable)")
	fl.StringArrayVar(&f.exes, "executable", nil, "ship only the executables with this name or glob (repeatable; default: all the build linked)")
	completeFlag(cmd, "target", target.Names()...)
	completeFlag(cmd, "toolchain", "zig", "container", "musl-gcc")
	completeFlag(cmd, "engine", "podman", "docker")
	completeFlag(cmd, "system", "cmake", "meson", "autotools", "make", "sources")
	completeFlag(cmd, "malloc", malloc.Names...)
	fl.StringVar(&f.image, "image", "", "builder image for --toolchain container (default: alpine with build-base, cmake, meson)")
	return cmd
}

// options checks the flags and turns them into build options.
func (f buildFlags) options(dir string, stderr io.Writer, verbose bool) (build.Options, error) {
	o := build.Options{Dir: dir, Out: f.out, Jobs: f.jobs, Debug: f.debug, Strip: f.strip, PIE: f.pie,
		Clean: f.clean, Progress: progress.New(stderr)}
	if verbose {
		o.Stream = stderr
	}
	if f.jobs < 1 {
		return o, uerr.Usage("", "--jobs must be at least 1, not %d", f.jobs)
	}
	deps, err := parseDeps(f.deps)
	if err != nil {
		return o, err
	}
	o.Deps, o.Sources = deps, f.sources
	if f.malloc != "" {
		if _, err := malloc.Lookup(f.malloc); err != nil {
			return o, err
		}
		o.Malloc = f.malloc
	}
	if f.system != "" {
		if _, err := buildsys.For(buildsys.Kind(f.system)); err != nil {
			return o, uerr.Usage("use cmake, meson, autotools, make or sources", "unknown build system %q", f.system)
		}
		o.System = buildsys.Kind(f.system)
	}
	for _, kv := range f.env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return o, uerr.Usage("e.g. --env CFLAGS=-DNDEBUG", "--env %q: want K=V", kv)
		}
	}
	o.Env, o.Executables = f.env, f.exes
	if len(f.targets) == 0 {
		host, ok := target.Host()
		if !ok {
			return o, uerr.Usage("give --target", "no default target for a %s host", runtime.GOARCH)
		}
		o.Targets = []target.Target{host}
	}
	for _, name := range f.targets {
		t, err := target.Parse(name)
		if err != nil {
			return o, uerr.Usage("see 'portabin build --help' for the targets", "%v", err)
		}
		o.Targets = append(o.Targets, t)
	}
	if _, err := os.Stat(dir); err != nil {
		return o, uerr.Usage("give the folder of a C or C++ project", "%s does not exist", dir)
	}
	self, err := os.Executable()
	if err != nil {
		return o, fmt.Errorf("finding the portabin executable: %w", err)
	}
	if o.Self, err = filepath.EvalSymlinks(self); err != nil {
		return o, fmt.Errorf("finding the portabin executable: %w", err)
	}
	switch f.toolchain {
	case "zig":
		o.Toolchain = toolchain.NewZig(toolchain.ZigOptions{Source: f.zigSource, Stream: o.Stream, Progress: o.Progress})
	case "musl-gcc":
		o.Toolchain = toolchain.NewMuslGCC()
	case "container":
		o.Toolchain, err = toolchain.NewContainer(toolchain.ContainerOptions{Engine: f.engine, Image: f.image, Stream: o.Stream})
		if err != nil {
			return o, err
		}
	default:
		return o, uerr.Usage("use zig, container or musl-gcc", "unknown toolchain %q", f.toolchain)
	}
	return o, nil
}

// parseDeps reads --dep NAME=VERSION flags; VERSION may be a prefix ("1.2") or "*" for the newest.
func parseDeps(flags []string) (map[string]string, error) {
	if len(flags) == 0 {
		return nil, nil
	}
	deps := map[string]string{}
	for _, f := range flags {
		name, version, _ := strings.Cut(f, "=")
		if name == "" {
			return nil, uerr.Usage("write --dep zlib=1.2.13, or --dep zlib for the newest", "bad --dep %q", f)
		}
		deps[name] = version
	}
	return deps, nil
}

func printResults(w io.Writer, results []build.Result, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false) // verdicts say ">="
		return enc.Encode(map[string]any{"builds": results})
	}
	wd, _ := os.Getwd()
	for _, r := range results {
		for _, out := range r.Outputs {
			fmt.Fprintln(w, relative(wd, out.Path))
			if out.DebugPath != "" {
				fmt.Fprintln(w, relative(wd, out.DebugPath))
			}
			if out.SBOM != "" {
				fmt.Fprintln(w, relative(wd, out.SBOM))
			}
		}
	}
	return nil
}

// relative shortens paths below the current folder, as people type them.
func relative(wd, path string) string {
	if rel, err := filepath.Rel(wd, path); err == nil && wd != "" && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return path
}
