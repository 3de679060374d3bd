// Package buildsys recognises a project's build system and drives it out of tree with portabin's compilers.
package buildsys

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/portabin/portabin/internal/runner"
	"github.com/portabin/portabin/internal/target"
	"github.com/portabin/portabin/internal/uerr"
)

// Kind is a build system.
type Kind string

const (
	CMake     Kind = "cmake"
	Meson     Kind = "meson"
	Autotools Kind = "autotools"
	Make      Kind = "make"
	Sources   Kind = "sources"
)

// Tools are the paths of portabin's wrapper scripts that the build system must call.
type Tools struct {
	CC, CXX, AR, RANLIB string
}

// Job is one build of one project for one target.
type Job struct {
	// Src is the project (never written to); Build is the out-of-tree build folder.
	Src, Build string
	Target     target.Target
	Tools      Tools
	Jobs       int
	Debug      bool
	// Exclude lists folders below Src that are not part of the project (the dist folder).
	Exclude []string
	// Args go to the configure step as they are: cmake -D..., meson -D..., ./configure --....
	Args []string
	// Env is added to every command: SOURCE_DATE_EPOCH and the like.
	Env    []string
	Runner runner.Runner
	// Emulator runs the target's executables on this machine (qemu-user), or is empty.
	Emulator string
}

// System drives one kind of build system.
type System interface {
	// Build configures the project if needed and builds it.
	Build(ctx context.Context, j Job) error
	// Root is the folder to search for the executables the build produced.
	Root(j Job) string
}

// For returns the driver of kind k.
func For(k Kind) (System, error) {
	switch k {
	case CMake:
		return cmakeSystem{}, nil
	case Meson:
		return mesonSystem{}, nil
	case Autotools:
		return autotoolsSystem{}, nil
	case Make:
		return makeSystem{}, nil
	case Sources:
		return sourcesSystem{}, nil
	}
	return nil, uerr.Usage("", "unknown build system %q", k)
}

// Detect recognises the build system of the project in dir.
func Detect(dir string) (Kind, error) {
	st, err := os.Stat(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", uerr.Usage("give the folder of a C or C++ project", "%s does not exist", dir)
		}
		return "", uerr.Usage("", "reading %s: %v", dir, err)
	}
	if !st.IsDir() {
		return "", uerr.Usage("give the folder of a C or C++ project", "%s is not a folder", dir)
	}
	has := func(names ...string) bool {
		for _, n := range names {
			if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
				return true
			}
		}
		return false
	}
	switch {
	case has("CMakeLists.txt"):
		return CMake, nil
	case has("meson.build"):
		return Meson, nil
	case has("configure", "configure.ac", "configure.in"):
		return Autotools, nil
	case has("GNUmakefile", "makefile", "Makefile"):
		return Make, nil
	}
	if srcs, _ := listSources(dir); len(srcs) > 0 {
		return Sources, nil
	}
	return "", uerr.Usage("portabin builds CMake, Meson, autotools and Make projects, and folders of .c/.cc/.cpp files",
		"%s is not a project: no CMakeLists.txt, meson.build, configure, Makefile or C/C++ sources", dir)
}

// stateDir is where portabin keeps its own files inside a build folder.
func stateDir(j Job) string { return filepath.Join(j.Build, ".portabin") }

// configured reports whether the build folder was configured with exactly these inputs,
// and returns a function that records them once configuring succeeded.
func configured(j Job, marker string, inputs ...string) (bool, func() error) {
	h := sha256.New()
	for _, in := range inputs {
		fmt.Fprintf(h, "%d:%s\n", len(in), in)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	stamp := filepath.Join(stateDir(j), "configured")
	old, err := os.ReadFile(stamp)
	_, markerErr := os.Stat(marker)
	done := err == nil && strings.TrimSpace(string(old)) == sum && markerErr == nil
	return done, func() error { return os.WriteFile(stamp, []byte(sum+"\n"), 0o644) }
}

func jobsArg(j Job) string {
	if j.Jobs < 1 {
		return "1"
	}
	return fmt.Sprint(j.Jobs)
}

// toolEnv are the usual variables that make the build system call portabin's wrappers.
func toolEnv(j Job) []string {
	return []string{"CC=" + j.Tools.CC, "CXX=" + j.Tools.CXX, "AR=" + j.Tools.AR, "RANLIB=" + j.Tools.RANLIB}
}

// optFlags are the default optimisation flags for build systems that have no build types.
func optFlags(j Job) string {
	if j.Debug {
		return "-O0 -g"
	}
	return "-O2"
}

func run(ctx context.Context, j Job, dir string, env []string, args ...string) error {
	return j.Runner.Run(ctx, runner.Cmd{Args: args, Dir: dir, Env: append(append([]string(nil), j.Env...), env...)})
}

// WriteIfChanged writes content to path unless the file already holds it. Leaving an identical
// file alone keeps its timestamp, so build systems that track it (CMake tracks its toolchain
// file) do not configure or compile again.
func WriteIfChanged(path, content string, mode os.FileMode) error {
	if old, err := os.ReadFile(path); err == nil && string(old) == content {
		return nil
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
