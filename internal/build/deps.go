package build

import (
	"context"
	"os"
	"path/filepath"

	"github.com/portabin/portabin/internal/buildsys"
	"github.com/portabin/portabin/internal/ccwrap"
	"github.com/portabin/portabin/internal/deps"
	"github.com/portabin/portabin/internal/target"
	"github.com/portabin/portabin/internal/toolchain"
	"github.com/portabin/portabin/internal/uerr"
)

// useDeps builds the project's dependencies for t, with the project's own toolchain and flags,
// and points the project's build at their sysroot (or at the user's own, o.Sysroot): the
// compilers get -I and -L, every link gets the archives (static archives lend only what is
// used, so a program that needs none of them is unchanged), pkg-config and CMake look there
// and nowhere else.
func useDeps(ctx context.Context, o Options, t target.Target, buildDir string, cfg *ccwrap.Config, job *buildsys.Job) (*deps.Sysroot, error) {
	if len(o.Deps) == 0 && o.Sysroot == "" {
		return nil, nil
	}
	var sysroot deps.Sysroot
	if o.Sysroot != "" {
		abs, err := filepath.Abs(o.Sysroot)
		if err != nil {
			return nil, err
		}
		if st, err := os.Stat(abs); err != nil || !st.IsDir() {
			return nil, uerr.Usage("give a folder with include/ and lib/", "sysroot %s is not a folder", o.Sysroot)
		}
		sysroot.Dir = abs
	}
	if len(o.Deps) > 0 {
		var err error
		// The user's sysroot, if any, is merged into the dependencies' one.
		sysroot, err = deps.Build(ctx, o.Deps, deps.Options{
			Target: t, Toolchain: o.Toolchain, Self: o.Self, Debug: o.Debug, Strip: o.Strip, PIE: o.PIE,
			Jobs: o.Jobs, Fetcher: &deps.Fetcher{Sources: o.Sources}, Extra: sysroot.Dir,
			Progress: o.Progress, Stream: o.Stream,
		})
		if err != nil {
			return nil, err
		}
	}
	// buildsys.CMakeToolchainFile makes CMake search below .portabin/sysroot only.
	link := filepath.Join(buildDir, ".portabin", "sysroot")
	if err := os.RemoveAll(link); err != nil {
		return nil, err
	}
	if err := os.Symlink(sysroot.Dir, link); err != nil {
		return nil, err
	}
	cfg.CompileFlags = append(cfg.CompileFlags, "-I"+filepath.Join(sysroot.Dir, "include"))
	// Where the cache is must not show in the executable's debug information.
	cfg.CompileFlags = append(cfg.CompileFlags, toolchain.PrefixMapFlags(map[string]string{sysroot.Dir: "/portabin/sysroot"})...)
	cfg.LinkFlags = append(cfg.LinkFlags, "-L"+filepath.Join(sysroot.Dir, "lib"))
	cfg.LinkFlags = append(cfg.LinkFlags, libFlags(cfg.Dialect, sysroot.Libs)...)
	job.Env = append(job.Env, "PKG_CONFIG_LIBDIR="+sysroot.PkgConfigLibdir(), "PKG_CONFIG_PATH=",
		"CMAKE_PREFIX_PATH="+link)
	return &sysroot, nil
}

// libFlags links the archives. zig's linker (LLD) finds symbols in archives in any order; GNU
// ld needs a group for libraries that need one another.
func libFlags(dialect ccwrap.Dialect, libs []string) []string {
	if len(libs) == 0 {
		return nil
	}
	var flags []string
	for _, l := range libs {
		flags = append(flags, "-l"+l)
	}
	if dialect == ccwrap.GCC {
		flags = append(append([]string{"-Wl,--start-group"}, flags...), "-Wl,--end-group")
	}
	return flags
}
