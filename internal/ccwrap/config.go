// Package ccwrap is portabin's compiler wrapper: it rewrites each cc, c++, ar or ranlib command a
// build system runs so that the toolchain accepts it and the result links fully static.
package ccwrap

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/portabin/portabin/internal/sbom"
)

// Dialect says which compiler driver the rewritten commands go to.
type Dialect string

const (
	// Zig is zig cc / zig c++ (clang with zig's own linker front).
	Zig Dialect = "zig"
	// GCC is a gcc-compatible driver: musl-gcc, or Alpine's gcc in a container.
	GCC Dialect = "gcc"
)

// Config is what one build's wrappers apply. It is written as JSON into the build folder.
type Config struct {
	Dialect Dialect `json:"dialect"`
	// CC, CXX, AR and RANLIB are the command prefixes the wrapped arguments are appended to.
	CC     []string `json:"cc"`
	CXX    []string `json:"cxx"`
	AR     []string `json:"ar"`
	RANLIB []string `json:"ranlib"`
	// CompileFlags go on every compiler command; LinkFlags only on the ones that link.
	CompileFlags []string `json:"compile_flags"`
	LinkFlags    []string `json:"link_flags"`
	// LinkOpt is added to link commands that carry no -O flag. zig links a separately built C
	// and C++ runtime for each optimisation level, so a link without -O (CMake's compiler
	// checks) would otherwise build a debug runtime first, a minute per target.
	LinkOpt string `json:"link_opt,omitempty"`
	// PIE asks for static-pie executables.
	PIE bool `json:"pie,omitempty"`
	// HostPathsForeign is true when the host's /usr/include and /usr/lib belong to another C
	// library (zig, musl-gcc): flags that point there are dropped. False inside a container image.
	HostPathsForeign bool `json:"host_paths_foreign,omitempty"`
	// LinkLog is the file each linked executable's path is appended to, so that the build
	// ships only what portabin's compilers linked, not programs a build made with the
	// host's compiler for its own use.
	LinkLog string `json:"link_log,omitempty"`
	// NoCXX, when set, is the message c++ refuses with (a toolchain without a C++ compiler).
	NoCXX string `json:"no_cxx,omitempty"`
	// Package is embedded into each executable linked as its ELF package note (sbom); the
	// components of CXXRuntime join it when the link brings the C++ runtime. NoteDir holds the
	// note objects.
	Package    *sbom.Package    `json:"package,omitempty"`
	CXXRuntime []sbom.Component `json:"cxx_runtime,omitempty"`
	NoteDir    string           `json:"note_dir,omitempty"`
	// Malloc is an object file linked into every executable; its malloc, free, ... replace
	// musl's (the C library's archive members are only pulled for symbols still undefined).
	Malloc string `json:"malloc,omitempty"`
	// Env holds variables the wrapped tools need, "K=V".
	Env []string `json:"env,omitempty"`
}

// Save writes c as JSON to path.
func (c Config) Save(path string) error {
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing wrapper configuration: %w", err)
	}
	return nil
}

// Load reads a Config written by Save.
func Load(path string) (Config, error) {
	var c Config
	data, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("reading wrapper configuration: %w", err)
	}
	if err := json.Unmarshal(data, &c); err != nil {
		return c, fmt.Errorf("reading wrapper configuration %s: %w", path, err)
	}
	return c, nil
}
