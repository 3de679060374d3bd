package toolchain

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/portabin/portabin/internal/ccwrap"
	"github.com/portabin/portabin/internal/logs"
	"github.com/portabin/portabin/internal/runner"
	"github.com/portabin/portabin/internal/target"
	"github.com/portabin/portabin/internal/uerr"
)

// MuslGCCNoCXX is the message c++ refuses with under musl-gcc, and the one a build that has C++
// sources (buildsys.HasCXXSources) should fail early with.
const MuslGCCNoCXX = "musl-gcc compiles C only; this project has C++ sources: use --toolchain zig (the default)"

type muslGCC struct {
	idOnce sync.Once
	id     string
}

// NewMuslGCC returns the toolchain of the host's musl-gcc (Debian's musl-tools): C only, and only
// for the host's own architecture.
func NewMuslGCC() Toolchain { return &muslGCC{} }

func (*muslGCC) Name() string { return "musl-gcc" }

// Runner runs the build on the host, where musl-gcc is.
func (*muslGCC) Runner() runner.Runner { return runner.Host{Stream: verboseStream()} }

// ID names musl-gcc by its gcc version and the musl it links, so that cache keys change with either.
func (m *muslGCC) ID() string {
	m.idOnce.Do(func() {
		out, err := exec.Command("musl-gcc", "-dumpversion").Output()
		if err != nil {
			m.id = "musl-gcc (not found)"
			return
		}
		m.id = "musl-gcc " + strings.TrimSpace(string(out)) + " " + muslVersion()
	})
	return m.id
}

// muslVersion asks musl's dynamic loader (its libc.so), which prints the version when run as a
// program; musl-gcc -### names it in the link line it would run.
func muslVersion() string {
	plan, _ := exec.Command("musl-gcc", "-###", "-x", "c", os.DevNull).CombinedOutput()
	fields := strings.Fields(string(plan))
	for i, f := range fields[:max(len(fields)-1, 0)] {
		if f != "-dynamic-linker" {
			continue
		}
		// It exits 1 after printing its usage with the version.
		out, _ := exec.Command(strings.Trim(fields[i+1], `"`)).CombinedOutput()
		for _, line := range strings.Split(string(out), "\n") {
			if v, ok := strings.CutPrefix(line, "Version "); ok {
				return "musl " + strings.TrimSpace(v)
			}
		}
	}
	return "musl ?"
}

// MuslGCCVersion returns the version of the musl that musl-gcc links, "" when unknown.
func MuslGCCVersion() string {
	if v := strings.TrimPrefix(muslVersion(), "musl "); v != "?" {
		return v
	}
	return ""
}

func (*muslGCC) Prepare(ctx context.Context, t target.Target, opts Options) (ccwrap.Config, error) {
	if err := requireHostTarget("musl-gcc", t); err != nil {
		return ccwrap.Config{}, err
	}
	if opts.PIE {
		// Debian's musl-gcc.specs always starts programs with Scrt1.o and drops -pie from the
		// link, so the result would be a plain static executable built from PIE objects.
		return ccwrap.Config{}, uerr.Usage("use --toolchain zig (the default), or leave out --pie",
			"musl-gcc cannot link static-pie executables")
	}
	if _, err := exec.LookPath("musl-gcc"); err != nil {
		return ccwrap.Config{}, uerr.Env("apt-get install musl-tools, or use --toolchain zig (the default)",
			"musl-gcc not found")
	}
	compile, link := gccFlags(opts)
	return ccwrap.Config{
		Dialect:          ccwrap.GCC,
		CC:               []string{"musl-gcc"},
		NoCXX:            MuslGCCNoCXX,
		AR:               []string{"ar"},
		RANLIB:           []string{"ranlib"},
		CompileFlags:     compile,
		LinkFlags:        link,
		HostPathsForeign: true,
	}, nil
}

// gccFlags are the compile and link flags that opts ask of a gcc driver (musl-gcc, or the
// compiler of a container image).
func gccFlags(opts Options) (compile, link []string) {
	compile = PrefixMapFlags(opts.PrefixMap)
	if opts.Debug || opts.Strip {
		compile = append(compile, "-g")
	}
	// As with zig: a build-id from the content keeps builds reproducible and lets debuggers
	// match a stripped executable with its debug file. musl-gcc's specs drop gcc's default one.
	return compile, []string{"-Wl,--build-id=sha1"}
}

// requireHostTarget refuses targets other than the machine's own for toolchains that cannot
// cross-compile. i386 is foreign on x86_64 too: neither musl-tools nor Alpine's gcc has its C library.
func requireHostTarget(toolchain string, t target.Target) error {
	host, ok := target.Host()
	if ok && t.Name == host.Name {
		return nil
	}
	return uerr.Usage("use --toolchain zig (the default), which builds for every target",
		"the %s toolchain builds only for this machine's architecture (%s), not %s", toolchain, host.Name, t.Name)
}

// PrefixMapFlags turns old → new folder prefixes into -ffile-prefix-map flags. GCC applies the
// last option that matches a path, so nested folders come after their parents (shortest first);
// clang (zig) picks the longest match whatever the order.
// A folder reached through a symbolic link is mapped by its real path too: the compiler records
// the working directory as getcwd gives it, resolved.
func PrefixMapFlags(m map[string]string) []string {
	all := make(map[string]string, len(m))
	for old, repl := range m {
		if old == "" {
			continue
		}
		all[old] = repl
		if real, err := filepath.EvalSymlinks(old); err == nil && real != old {
			if _, given := m[real]; !given {
				all[real] = repl
			}
		}
	}
	m = all
	olds := make([]string, 0, len(m))
	for old := range m {
		olds = append(olds, old)
	}
	sort.Slice(olds, func(i, j int) bool {
		if len(olds[i]) != len(olds[j]) {
			return len(olds[i]) < len(olds[j])
		}
		return olds[i] < olds[j]
	})
	flags := make([]string, 0, len(olds))
	for _, old := range olds {
		flags = append(flags, "-ffile-prefix-map="+old+"="+m[old])
	}
	return flags
}

// verboseStream is where subprocess output goes as it runs: the debug log when --verbose is on.
func verboseStream() io.Writer {
	if logs.Enabled(logs.Debug) {
		return logs.Debug.Writer()
	}
	return nil
}
