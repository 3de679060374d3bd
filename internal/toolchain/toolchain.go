// Package toolchain provides the compilers that build static musl executables: zig, a container image, or musl-gcc.
package toolchain

import (
	"context"

	"github.com/portabin/portabin/internal/ccwrap"
	"github.com/portabin/portabin/internal/runner"
	"github.com/portabin/portabin/internal/target"
)

// Options are the build choices that change how code is compiled and linked, and where.
type Options struct {
	// SourceDir (read only) and BuildDir (writable) are the folders the build's commands use;
	// a container toolchain mounts them at the same paths.
	SourceDir, BuildDir string
	Debug               bool
	// Strip asks for debug information to be produced so that it can be split off afterwards.
	Strip bool
	// CXX says the project has C++ sources, so the C++ runtime is needed too.
	CXX bool
	// PIE asks for static-pie instead of plain static executables.
	PIE bool
	// PrefixMap replaces folder prefixes in everything the compiler records (old → new),
	// so that outputs do not depend on where the project was built.
	PrefixMap map[string]string
}

// Toolchain turns a target into the commands that compile, archive and link for it.
type Toolchain interface {
	// Name is the --toolchain value, e.g. "zig".
	Name() string
	// Prepare makes the toolchain usable for t (provisioning, the first build of the C runtime)
	// and returns what the portabin cc/c++/ar/ranlib wrappers apply.
	Prepare(ctx context.Context, t target.Target, opts Options) (ccwrap.Config, error)
	// Runner runs the build's commands where the compilers are.
	Runner() runner.Runner
	// ID names the toolchain and its version, for cache keys.
	ID() string
}
