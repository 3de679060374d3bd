package toolchain

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/portabin/portabin/internal/cache"
	"github.com/portabin/portabin/internal/ccwrap"
	"github.com/portabin/portabin/internal/logs"
	"github.com/portabin/portabin/internal/progress"
	"github.com/portabin/portabin/internal/runner"
	"github.com/portabin/portabin/internal/target"
	"github.com/portabin/portabin/internal/zigdist"
)

// ZigOptions configure the zig toolchain.
type ZigOptions struct {
	// Source says where a missing zig is provisioned from (see zigdist.Options).
	Source string
	// Stream receives the output of the build's commands when verbose.
	Stream io.Writer
	// Progress reports the slow first build of a target's C runtime.
	Progress *progress.Reporter
}

// Zig is the default toolchain: zig cc and zig c++ bring musl, libc++ and compiler-rt for
// every target, with no daemon and no root.
type Zig struct {
	opts ZigOptions
	zig  zigdist.Zig
}

// NewZig returns the zig toolchain; zig itself is found or provisioned by Prepare.
func NewZig(o ZigOptions) *Zig { return &Zig{opts: o} }

func (z *Zig) Name() string { return "zig" }

func (z *Zig) ID() string { return "zig " + z.zig.Version + " " + z.zig.Path }

func (z *Zig) Runner() runner.Runner { return runner.Host{Stream: z.opts.Stream} }

// Exe returns the zig executable found by Prepare.
func (z *Zig) Exe() string { return z.zig.Path }

func (z *Zig) Prepare(ctx context.Context, t target.Target, opts Options) (ccwrap.Config, error) {
	if z.zig.Path == "" {
		found, err := zigdist.Ensure(ctx, zigdist.Options{Source: z.opts.Source})
		if err != nil {
			return ccwrap.Config{}, err
		}
		z.zig = found
	}
	env, err := zigCacheEnv()
	if err != nil {
		return ccwrap.Config{}, err
	}
	// zig's own headers are recorded too: where zig lives must not change the output.
	prefixes := map[string]string{filepath.Dir(z.zig.Path): "/portabin/zig"}
	for old, repl := range opts.PrefixMap {
		prefixes[old] = repl
	}
	compile := PrefixMapFlags(prefixes)
	// With no -O flag zig cc builds in its Debug mode, which traps on undefined behaviour;
	// gcc and clang do not, and projects built for them must behave the same here.
	compile = append(compile, "-fno-sanitize=undefined")
	if opts.Debug || opts.Strip {
		compile = append(compile, "-g")
	}
	cfg := ccwrap.Config{
		Dialect:      ccwrap.Zig,
		CC:           []string{z.zig.Path, "cc", "-target", t.Zig},
		CXX:          []string{z.zig.Path, "c++", "-target", t.Zig},
		AR:           []string{z.zig.Path, "ar"},
		RANLIB:       []string{z.zig.Path, "ranlib"},
		CompileFlags: compile,
		// A build-id computed from the content keeps builds reproducible and lets debuggers
		// match a stripped executable with its debug file.
		LinkFlags:        []string{"-Wl,--build-id=sha1"},
		PIE:              opts.PIE,
		HostPathsForeign: true,
		LinkOpt:          linkOpt(opts),
		Env:              env,
	}
	if err := z.warmRuntime(ctx, t, cfg, opts.CXX); err != nil {
		return ccwrap.Config{}, err
	}
	return cfg, nil
}

// linkOpt picks the runtime that links without an -O flag: the optimised one in release
// builds, so that the project and its compiler checks share one runtime build.
func linkOpt(opts Options) string {
	if opts.Debug {
		return ""
	}
	return "-O2"
}

// zigCacheEnv keeps zig's caches inside portabin's, so that `portabin cache` sees them.
// zig 0.11 mistakes any file whose path merely starts with the cache folder's path for a file
// inside it ("unable to build C object: FileNotFound"), so no sibling may share that prefix.
func zigCacheEnv() ([]string, error) {
	dir, err := cache.Sub("zig-cache")
	if err != nil {
		return nil, err
	}
	return []string{"ZIG_GLOBAL_CACHE_DIR=" + dir, "ZIG_LOCAL_CACHE_DIR=" + dir}, nil
}

// warmRuntime compiles a small program once per zig, target and language, so that zig's first
// build of musl, compiler-rt and (for C++) libc++ for the target, up to a minute, shows as a
// step of its own instead of hiding inside the project's first compile.
func (z *Zig) warmRuntime(ctx context.Context, t target.Target, cfg ccwrap.Config, cxx bool) error {
	stamps, err := cache.Sub("runtime-stamps")
	if err != nil {
		return err
	}
	tool, file, code, runtime := ccwrap.CC, "warm.c", "#include <stdio.h>\nint main(void) { puts(\"1\"); }\n", "C"
	if cxx {
		tool, file, runtime = ccwrap.CXX, "warm.cc", "C and C++"
		code = "#include <thread>\n#include <iostream>\nint main() { std::thread t([] { std::cout << 1; }); t.join(); }\n"
	}
	stamp := filepath.Join(stamps, cache.Key(z.zig.Path, z.zig.Version, t.Name, fmt.Sprint(cfg.PIE), cfg.LinkOpt, string(tool)))
	if _, err := os.Stat(stamp); err == nil {
		return nil
	}
	tmp, err := os.MkdirTemp(stamps, "warm-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	src := filepath.Join(tmp, file)
	if err := os.WriteFile(src, []byte(code), 0o644); err != nil {
		return err
	}
	argv, _, err := cfg.Command(tool, []string{src, "-o", filepath.Join(tmp, "warm")})
	if err != nil {
		return err
	}
	logs.Debug.Printf("portabin: %s", strings.Join(argv, " "))
	step := z.opts.Progress.Start("%s: building the %s runtime with zig %s (first time only)", t.Name, runtime, z.zig.Version)
	err = runner.Host{Stream: z.opts.Stream}.Run(ctx, runner.Cmd{Args: argv, Dir: tmp, Env: cfg.Env})
	step.Done(err)
	if err != nil {
		return fmt.Errorf("building zig's runtime: %w", err)
	}
	return os.WriteFile(stamp, []byte(t.Name+"\n"), 0o644)
}
