package build

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/portabin/portabin/internal/ccwrap"
	"github.com/portabin/portabin/internal/deps"
	"github.com/portabin/portabin/internal/malloc"
	"github.com/portabin/portabin/internal/sbom"
	"github.com/portabin/portabin/internal/target"
	"github.com/portabin/portabin/internal/toolchain"
	"github.com/portabin/portabin/internal/uerr"
)

// describe tells the wrapper what each executable is made of, for the package note it links
// in, and builds the allocator that replaces musl's when one was asked for.
func describe(ctx context.Context, o Options, t target.Target, buildDir string, cfg *ccwrap.Config, sysroot *deps.Sysroot) error {
	pkg := &sbom.Package{Type: sbom.PackageType, Name: filepath.Base(o.Dir), Version: projectVersion(ctx, o.Dir), Architecture: t.Arch}
	switch tc := o.Toolchain.(type) {
	case *toolchain.Zig:
		lib, err := zigLibDir(ctx, tc.Exe())
		if err != nil {
			return err
		}
		musl, cxx, err := sbom.ZigRuntime(lib)
		if err != nil {
			return err
		}
		pkg.Components = append(pkg.Components, musl)
		cfg.CXXRuntime = cxx
	default:
		// A container image's C library is the image's business; musl-gcc's is the host's musl.
		if v := toolchain.MuslGCCVersion(); o.Toolchain.Name() == "musl-gcc" && v != "" {
			pkg.Components = append(pkg.Components, sbom.Musl(v))
		}
	}
	if sysroot != nil {
		// Every executable links every archive of the sysroot; the linker takes only the members
		// it needs, so a library listed here may have lent nothing to some program.
		for _, p := range sysroot.Packages {
			c := sbom.Component{Name: p.Name, Version: p.Version.Version, License: p.License}
			if len(p.Version.Sources) > 0 {
				// The release as upstream publishes it; a mirror's copy may have another hash.
				c.URL, c.SHA256 = p.Version.Sources[0].URL, p.Version.Sources[0].SHA256
			}
			pkg.Components = append(pkg.Components, c)
		}
	}
	if o.Malloc != "" {
		if o.Toolchain.Name() == "container" {
			return uerr.Usage("use --toolchain zig (the default) or musl-gcc", "--malloc does not work with the container toolchain")
		}
		a, err := malloc.Lookup(o.Malloc)
		if err != nil {
			return err
		}
		step := o.Progress.Start("%s: building %s %s", t.Name, a.Component.Name, a.Component.Version)
		obj, err := malloc.Build(ctx, a, &deps.Fetcher{Sources: o.Sources}, *cfg, t, o.Toolchain.ID())
		step.Done(err)
		if err != nil {
			return err
		}
		cfg.Malloc = obj
		pkg.Components = append(pkg.Components, a.Component)
	}
	cfg.Package = pkg
	cfg.NoteDir = filepath.Join(buildDir, ".portabin", "notes")
	return nil
}

// zigLibDir asks zig where its lib folder (with the musl and libc++ sources) is.
func zigLibDir(ctx context.Context, zig string) (string, error) {
	out, err := exec.CommandContext(ctx, zig, "env").Output()
	if err != nil {
		return "", fmt.Errorf("running zig env: %w", err)
	}
	var env struct {
		LibDir string `json:"lib_dir"`
	}
	if err := json.Unmarshal(out, &env); err != nil || env.LibDir == "" {
		return "", fmt.Errorf("reading zig env: no lib_dir in %q", out)
	}
	return env.LibDir, nil
}

// projectVersion is what git says of the project's commit (a tag, else the commit's short
// hash), else nothing. Never the time or the folder: two builds of one source must agree.
func projectVersion(ctx context.Context, dir string) string {
	cmd := exec.CommandContext(ctx, "git", "describe", "--tags", "--always")
	cmd.Dir = dir
	if out, err := cmd.Output(); err == nil {
		return strings.TrimSpace(string(out))
	}
	return ""
}

// checkNotes refuses executables without a package note, before anything is written: they were
// linked by an older portabin in a build folder that the build system did not relink.
func checkNotes(exes []string) error {
	for _, exe := range exes {
		if _, err := sbom.ReadNoteFile(exe); errors.Is(err, sbom.ErrNoNote) {
			return uerr.Usage("build once with --clean", "%s was linked without a package note (by an older portabin?)", filepath.Base(exe))
		} else if err != nil {
			return err
		}
	}
	return nil
}

// writeSBOM writes the CycloneDX document beside an installed executable.
func writeSBOM(path, sum string) (string, error) {
	version := "(devel)"
	if info, ok := debug.ReadBuildInfo(); ok {
		version = info.Main.Version
	}
	return sbom.WriteCycloneDX(sbom.Executable{Path: path, SHA256: sum, Tool: "portabin", ToolVersion: version})
}
