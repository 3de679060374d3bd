// Package malloc builds a faster allocator than musl's, once per target and toolchain, as one
// object file that the compiler wrapper links into every executable in place of musl's malloc.
package malloc

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/portabin/portabin/internal/cache"
	"github.com/portabin/portabin/internal/ccwrap"
	"github.com/portabin/portabin/internal/deps"
	"github.com/portabin/portabin/internal/runner"
	"github.com/portabin/portabin/internal/sbom"
	"github.com/portabin/portabin/internal/target"
	"github.com/portabin/portabin/internal/uerr"
)

// Allocator is a replacement malloc built from one source file of its release tarball.
type Allocator struct {
	// Component names the release, where its tarball comes from and the tarball's sha256.
	Component sbom.Component
	// Unit is the one file that compiles the whole allocator, relative to the tarball's top folder.
	Unit string
	// Include is the header folder, relative to the top folder.
	Include string
	// Defines configure the build.
	Defines []string
}

// mimalloc 2.0.9 as Debian bookworm ships it (the upstream tree without its bin/ folder of
// prebuilt Windows redirection DLLs: "+ds"), so the tests can get it with apt-get source.
//   - MI_MALLOC_OVERRIDE defines malloc, free, calloc, realloc, posix_memalign, memalign,
//     malloc_usable_size, reallocarray and the C++ operator new and delete (by their mangled
//     names, which libc++ defines weak), so one object replaces every entry point.
//   - __USE_ISOC11 is glibc's switch for aligned_alloc in alloc-override.c; musl has no such
//     macro, and without it musl's aligned_alloc would hand mimalloc's free a pointer of its own.
//   - NDEBUG: without it mimalloc builds with MI_DEBUG=2, full of assertions.
var mimalloc = Allocator{
	Component: sbom.Component{Name: "mimalloc", Version: "2.0.9", License: "MIT",
		URL:    "https://deb.debian.org/debian/pool/main/m/mimalloc/mimalloc_2.0.9+ds.orig.tar.xz",
		SHA256: "cbc9d207ff105ad1f0cb739c378076143a6452b8d0624309cea0abfb040e972b",
		PURL:   "pkg:github/microsoft/mimalloc@v2.0.9"},
	Unit:    "src/static.c",
	Include: "include",
	Defines: []string{"-DNDEBUG", "-DMI_MALLOC_OVERRIDE", "-D__USE_ISOC11=1"},
}

// Names lists the --malloc values.
var Names = []string{"mimalloc"}

// Lookup returns the allocator called name.
func Lookup(name string) (Allocator, error) {
	if name == "mimalloc" {
		return mimalloc, nil
	}
	return Allocator{}, uerr.Usage("use --malloc=mimalloc, or leave it out for musl's own", "unknown allocator %q", name)
}

// Build returns the allocator's object file for target t, compiled with the build's own
// wrapper configuration; it is cached under a key of everything that changes its bytes.
func Build(ctx context.Context, a Allocator, fetcher *deps.Fetcher, cfg ccwrap.Config, t target.Target, toolchainID string) (string, error) {
	// The project's folder maps name files of the project, not of the allocator: without them
	// one cached object serves every project.
	var compile []string
	for _, f := range cfg.CompileFlags {
		if !strings.HasPrefix(f, "-ffile-prefix-map=") {
			compile = append(compile, f)
		}
	}
	cfg.CompileFlags = compile
	flags := append([]string{"-O2", "-fno-sanitize=undefined", "-fno-lto"}, a.Defines...)
	key := cache.Key(append([]string{a.Component.SHA256, a.Unit, t.Name, toolchainID, strconv.FormatBool(cfg.PIE),
		strings.Join(cfg.CC, " "), strings.Join(cfg.CompileFlags, " ")}, flags...)...)
	dir, err := cache.Sub("malloc", a.Component.Name+"-"+a.Component.Version+"-"+t.Name+"-"+key)
	if err != nil {
		return "", err
	}
	obj := filepath.Join(dir, a.Component.Name+".o")
	if _, err := os.Stat(obj); err == nil {
		return obj, nil
	}
	c := a.Component
	tarball, err := fetcher.Fetch(ctx, deps.Package{Recipe: &deps.Recipe{Name: c.Name, License: c.License},
		Version: deps.Version{Version: c.Version, Sources: []deps.Source{{URL: c.URL, SHA256: c.SHA256}}}})
	if err != nil {
		return "", err
	}
	work, err := os.MkdirTemp(dir, "build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)
	if err := (runner.Host{}).Run(ctx, runner.Cmd{Args: []string{"tar", "-xf", tarball, "--strip-components=1", "--no-same-owner"}, Dir: work}); err != nil {
		return "", fmt.Errorf("unpacking %s: %w", tarball, err)
	}
	// The allocator's path inside the cache must not reach the object (reproducible builds).
	flags = append(flags, "-ffile-prefix-map="+work+"=/portabin/"+a.Component.Name+"-"+a.Component.Version,
		"-I"+filepath.Join(work, a.Include), "-c", filepath.Join(work, a.Unit), "-o", filepath.Join(work, "out.o"))
	argv, _, err := cfg.Command(ccwrap.CC, flags)
	if err != nil {
		return "", err
	}
	if err := (runner.Host{}).Run(ctx, runner.Cmd{Args: argv, Dir: work, Env: cfg.Env}); err != nil {
		return "", fmt.Errorf("building %s for %s: %w", a.Component.Name, t.Name, err)
	}
	if err := os.Rename(filepath.Join(work, "out.o"), obj); err != nil {
		return "", err
	}
	return obj, nil
}
