package deps

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/portabin/portabin/internal/buildsys"
	"github.com/portabin/portabin/internal/cache"
	"github.com/portabin/portabin/internal/progress"
	"github.com/portabin/portabin/internal/runner"
	"github.com/portabin/portabin/internal/target"
	"github.com/portabin/portabin/internal/toolchain"
	"github.com/portabin/portabin/internal/uerr"
)

// Options say for which target, and with which compilers and flags, dependencies are built:
// the project's own, so that the archives link into its executables.
type Options struct {
	Target    target.Target
	Toolchain toolchain.Toolchain
	// Self is the portabin executable that the wrapper scripts call.
	Self              string
	Debug, Strip, PIE bool
	Jobs              int
	Fetcher           *Fetcher
	// Extra is a prefix of static libraries of the user's own ([build] sysroot), merged into
	// the sysroot after the packages; the packages' files win where both have one.
	Extra    string
	Progress *progress.Reporter
	// Stream receives the builds' output as it runs (verbose); it is always in the build log.
	Stream io.Writer
}

// Sysroot is a folder of static libraries, headers, pkg-config and CMake files: include/, lib/.
type Sysroot struct {
	Dir      string
	Packages []Package
	// Libs are the -l names of every archive, each before those it needs.
	Libs []string
}

// PkgConfigLibdir is the value of PKG_CONFIG_LIBDIR that finds exactly the sysroot's packages.
func (s Sysroot) PkgConfigLibdir() string {
	return filepath.Join(s.Dir, "lib", "pkgconfig") + ":" + filepath.Join(s.Dir, "share", "pkgconfig")
}

// Build builds the declared dependencies (name → version, as in portabin.toml's [deps]) and
// everything they need, and returns the sysroot that holds them all.
func Build(ctx context.Context, want map[string]string, o Options) (Sysroot, error) {
	pkgs, err := Resolve(want)
	if err != nil {
		return Sysroot{}, err
	}
	return BuildPackages(ctx, pkgs, o)
}

// BuildPackages builds pkgs, ordered as Resolve orders them, into one sysroot. Each package is
// cached on its own, keyed by its recipe, version, target, toolchain, flags and its
// dependencies' keys; the sysroot merges the packages by hard links.
func BuildPackages(ctx context.Context, pkgs []Package, o Options) (Sysroot, error) {
	if o.Toolchain == nil {
		return Sysroot{}, errors.New("no toolchain")
	}
	if o.Toolchain.Name() == "container" {
		return Sysroot{}, uerr.Usage("use --toolchain zig (the default) or musl-gcc", "dependencies are not built with the container toolchain yet")
	}
	if o.Fetcher == nil {
		o.Fetcher = &Fetcher{}
	}
	// The toolchain knows its version, part of every key, once prepared.
	if _, err := o.Toolchain.Prepare(ctx, o.Target, toolchain.Options{Debug: o.Debug, Strip: o.Strip, PIE: o.PIE}); err != nil {
		return Sysroot{}, err
	}
	built := map[string]string{} // name → installed folder
	keys := map[string]string{}
	for _, p := range pkgs {
		closure := depClosure(p, pkgs)
		depKeys := make([]string, 0, len(closure))
		for _, d := range closure {
			depKeys = append(depKeys, d.Name+"="+keys[d.Name])
		}
		key := cache.Key(append([]string{engineVersion, p.text, p.Version.Version, o.Target.Name, o.Toolchain.ID(),
			strconv.FormatBool(o.Debug), strconv.FormatBool(o.Strip), strconv.FormatBool(o.PIE)}, depKeys...)...)
		keys[p.Name] = key
		dir, err := buildPackage(ctx, p, key, closure, built, o)
		if err != nil {
			return Sysroot{}, fmt.Errorf("dependency %s: %w", p.ID(), err)
		}
		built[p.Name] = dir
	}
	return merge(ctx, pkgs, built, o.Target, o.Extra)
}

// engineVersion is part of every package key: it changes when the way packages are built
// changes what they hold, so that older builds are not reused.
const engineVersion = "3" // 3: zig's folder and symlinked build folders are prefix-mapped

// depClosure lists the packages p needs, directly or not, in build order.
func depClosure(p Package, pkgs []Package) []Package {
	need := map[string]bool{}
	var mark func(names []string)
	byName := map[string]Package{}
	for _, q := range pkgs {
		byName[q.Name] = q
	}
	mark = func(names []string) {
		for _, n := range names {
			if !need[n] {
				need[n] = true
				mark(byName[n].Deps)
			}
		}
	}
	mark(p.Deps)
	var out []Package
	for _, q := range pkgs {
		if need[q.Name] {
			out = append(out, q)
		}
	}
	return out
}

// buildPackage returns the folder p is installed in, building it first unless an earlier build
// (of this process or another) left it there.
func buildPackage(ctx context.Context, p Package, key string, closure []Package, built map[string]string, o Options) (string, error) {
	root, err := cache.Sub("deps", "pkgs", o.Target.Name)
	if err != nil {
		return "", err
	}
	final := filepath.Join(root, p.ID()+"-"+key)
	if _, err := os.Stat(final); err == nil {
		return final, nil
	}
	unlock, err := lock(ctx, final+".lock")
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := os.Stat(final); err == nil {
		return final, nil // built by whoever held the lock
	}
	// A build folder of this key is left by a process that died holding the lock.
	stale, _ := filepath.Glob(filepath.Join(root, ".build-"+filepath.Base(final)+"-*"))
	for _, dir := range stale {
		os.RemoveAll(dir)
	}
	tarball, err := o.Fetcher.Fetch(ctx, p)
	if err != nil {
		return "", err
	}
	depsRoot := ""
	if len(closure) > 0 {
		s, err := merge(ctx, closure, built, o.Target, "")
		if err != nil {
			return "", err
		}
		depsRoot = s.Dir
	}
	step := o.Progress.Start("%s: building dependency %s %s", o.Target.Name, p.Name, p.Version.Version)
	err = (&recipeBuild{pkg: p, opts: o, tarball: tarball, final: final, depsRoot: depsRoot}).run(ctx, root)
	step.Done(err)
	return final, err
}

// recipeBuild is one run of a recipe, in a temporary folder that only a complete install leaves.
type recipeBuild struct {
	pkg      Package
	opts     Options
	tarball  string
	final    string
	depsRoot string
	work     string
	vars     map[string]string
}

func (b *recipeBuild) run(ctx context.Context, root string) (err error) {
	b.work, err = os.MkdirTemp(root, ".build-"+filepath.Base(b.final)+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(b.work)
	logPath := b.final + ".log"
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	var stream io.Writer = logFile
	if b.opts.Stream != nil {
		stream = io.MultiWriter(logFile, b.opts.Stream)
	}
	src := filepath.Join(b.work, "src")
	if err := unpack(ctx, b.tarball, src); err != nil {
		return err
	}
	env, err := b.prepare(ctx, src)
	if err != nil {
		return err
	}
	dir := filepath.Join(b.work, "build")
	if b.pkg.InSource {
		dir = src
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	host := runner.Host{Stream: stream}
	for _, step := range b.pkg.commands() {
		args, err := b.expand(step)
		if err != nil {
			return err
		}
		fmt.Fprintf(logFile, "+ %s\n", strings.Join(args, " "))
		if err := host.Run(ctx, runner.Cmd{Args: args, Dir: dir, Env: env}); err != nil {
			var ue *uerr.Error
			if errors.As(err, &ue) {
				ue.Hint = "the whole log is " + logPath
			}
			return err
		}
	}
	tree := filepath.Join(b.vars["destdir"], b.prefix())
	if err := b.finish(tree); err != nil {
		return err
	}
	return os.Rename(tree, b.final)
}

// prefix is the folder the package is configured for. It is not where the package ends up: it
// is installed below DESTDIR and moved into the cache. Paths that builds record (OpenSSL's
// module folder) then do not depend on where the cache is, and neither do the archives.
func (b *recipeBuild) prefix() string { return "/portabin/deps/" + b.pkg.ID() }

// prepare sets up the toolchain and wrappers for the build and returns its environment.
func (b *recipeBuild) prepare(ctx context.Context, src string) ([]string, error) {
	o := b.opts
	cfg, err := o.Toolchain.Prepare(ctx, o.Target, toolchain.Options{
		SourceDir: src, BuildDir: b.work, Debug: o.Debug, Strip: o.Strip, PIE: o.PIE,
		// Where it was built must not show in the archives: two machines give the same bytes.
		PrefixMap: map[string]string{b.work: b.prefix() + "/build", b.depsRoot: "/portabin/deps/sysroot"},
	})
	if err != nil {
		return nil, err
	}
	state := filepath.Join(b.work, ".portabin")
	sysroot := filepath.Join(state, "sysroot")
	pkgconfig := filepath.Join(state, "no-pkgconfig")
	if b.depsRoot != "" {
		cfg.CompileFlags = append(cfg.CompileFlags, "-I"+filepath.Join(b.depsRoot, "include"))
		cfg.LinkFlags = append(cfg.LinkFlags, "-L"+filepath.Join(b.depsRoot, "lib"))
		pkgconfig = Sysroot{Dir: b.depsRoot}.PkgConfigLibdir()
	}
	tools, err := buildsys.WriteWrappers(state, o.Self, cfg)
	if err != nil {
		return nil, err
	}
	// CMake finds libraries below .portabin/sysroot only (buildsys.CMakeToolchainFile).
	if b.depsRoot != "" {
		err = os.Symlink(b.depsRoot, sysroot)
	} else {
		err = os.MkdirAll(sysroot, 0o755)
	}
	if err != nil {
		return nil, err
	}
	job := buildsys.Job{Build: b.work, Target: o.Target, Tools: tools}
	if !o.Target.IsHost() {
		if qemu, err := exec.LookPath(o.Target.QEMU); err == nil {
			job.Emulator = qemu
		}
	}
	toolchainFile := filepath.Join(state, "toolchain.cmake")
	if err := os.WriteFile(toolchainFile, []byte(buildsys.CMakeToolchainFile(job)), 0o644); err != nil {
		return nil, err
	}
	b.vars = map[string]string{
		"src": src, "prefix": b.prefix(), "destdir": filepath.Join(b.work, "dest"), "deps": b.depsRoot,
		"host": o.Target.GNU, "jobs": strconv.Itoa(max(o.Jobs, 1)), "toolchain": toolchainFile,
		"version": b.pkg.Version.Version, "cc": tools.CC, "ar": tools.AR, "ranlib": tools.RANLIB,
	}
	for k, v := range b.pkg.Arch[o.Target.Arch] {
		b.vars[k] = v
	}
	flags := "-O2"
	if o.Debug {
		flags = "-O0 -g"
	}
	b.vars["cflags"] = flags
	return []string{
		"CC=" + tools.CC, "CXX=" + tools.CXX, "AR=" + tools.AR, "RANLIB=" + tools.RANLIB,
		"CFLAGS=" + flags, "CXXFLAGS=" + flags, "CHOST=" + o.Target.GNU,
		"DESTDIR=" + b.vars["destdir"],
		// Only the dependencies' own .pc files: never the build machine's.
		"PKG_CONFIG_LIBDIR=" + pkgconfig, "PKG_CONFIG_PATH=", "SOURCE_DATE_EPOCH=0",
	}, nil
}

// commands are the recipe's commands: its own steps, or its build system's usual three.
func (r *Recipe) commands() [][]string {
	switch r.Build {
	case "autotools":
		configure := append([]string{"{src}/configure", "--host={host}", "--prefix={prefix}",
			"--disable-shared", "--enable-static"}, r.Args...)
		return append(append([][]string{configure}, or(r.Make, [][]string{{"make", "-j{jobs}"}})...),
			or(r.Install, [][]string{{"make", "install", "DESTDIR={destdir}"}})...)
	case "cmake":
		configure := append([]string{"cmake", "-S", "{src}", "-B", ".", "-G", "Unix Makefiles",
			"-DCMAKE_TOOLCHAIN_FILE={toolchain}", "-DCMAKE_BUILD_TYPE=Release",
			"-DCMAKE_INSTALL_PREFIX={prefix}", "-DCMAKE_INSTALL_LIBDIR=lib", "-DBUILD_SHARED_LIBS=OFF"}, r.Args...)
		return append(append([][]string{configure}, or(r.Make, [][]string{{"cmake", "--build", ".", "--parallel", "{jobs}"}})...),
			or(r.Install, [][]string{{"cmake", "--install", "."}})...)
	}
	return r.Steps
}

func or(a, b [][]string) [][]string {
	if len(a) > 0 {
		return a
	}
	return b
}

var templateVar = regexp.MustCompile(`\$?\{([a-z_]+)\}`)

// expand replaces {name} in args by the build's variables; ${name} is left to the shell,
// make or pkg-config.
func (b *recipeBuild) expand(args []string) ([]string, error) {
	out := make([]string, len(args))
	var missing string
	for i, a := range args {
		out[i] = templateVar.ReplaceAllStringFunc(a, func(m string) string {
			if m[0] == '$' {
				return m
			}
			v, ok := b.vars[m[1:len(m)-1]]
			if !ok {
				missing = m
			}
			return v
		})
	}
	if missing != "" {
		return nil, fmt.Errorf("recipe %s: no value for %s on %s", b.pkg.Name, missing, b.opts.Target.Name)
	}
	return out, nil
}

// unpack extracts a tarball into dir without its top folder.
func unpack(ctx context.Context, tarball, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "tar", "-xf", tarball, "-C", dir, "--strip-components=1", "--no-same-owner")
	if out, err := cmd.CombinedOutput(); err != nil {
		return uerr.Failed(string(out), "unpacking %s: %v", filepath.Base(tarball), err)
	}
	return nil
}

// finish leaves in the installed tree only what static linking uses, makes its pkg-config
// files relocatable, and checks that every archive the recipe promises is there.
func (b *recipeBuild) finish(tree string) error {
	for rel, content := range b.pkg.Files {
		text, err := b.expand([]string{strings.TrimPrefix(content, "\n")})
		if err != nil {
			return err
		}
		path := filepath.Join(tree, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, []byte(text[0]), 0o644); err != nil {
			return err
		}
	}
	for _, lib := range b.pkg.Libs {
		if _, err := os.Stat(filepath.Join(tree, "lib", "lib"+lib+".a")); err != nil {
			return uerr.Failed("", "the build installed no lib/lib%s.a", lib)
		}
	}
	for _, dir := range []string{"bin", "sbin", "share/man", "share/doc", "share/info", "share/" + b.pkg.Name} {
		if err := os.RemoveAll(filepath.Join(tree, dir)); err != nil {
			return err
		}
	}
	var dirs []string
	err := filepath.WalkDir(tree, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		switch {
		case d.IsDir():
			dirs = append(dirs, path)
		case strings.HasSuffix(name, ".la"), strings.Contains(name, ".so"):
			// Static only: a shared library or libtool's record of one would be linked instead.
			return os.Remove(path)
		case strings.HasSuffix(name, ".pc"):
			return b.relocate(path)
		}
		return nil
	})
	// Folders left empty, deepest first; Remove fails on the others, which stay.
	for _, d := range slices.Backward(dirs) {
		os.Remove(d)
	}
	return err
}

// relocate makes a pkg-config file name its folders relative to itself, so that it stays true
// in every sysroot the package is merged into. pkgconf and pkg-config both know ${pcfiledir}.
func (b *recipeBuild) relocate(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	rel := "${pcfiledir}/../.."
	text := strings.ReplaceAll(string(data), b.prefix(), rel)
	if b.depsRoot != "" {
		text = strings.ReplaceAll(text, b.depsRoot, rel)
	}
	return os.WriteFile(path, []byte(text), 0o644)
}

// merge returns a sysroot holding pkgs, which are built (built maps each name to its folder),
// and the files of the extra prefix if one is given, made once by hard links and then reused.
func merge(ctx context.Context, pkgs []Package, built map[string]string, t target.Target, extra string) (Sysroot, error) {
	parts := []string{t.Name}
	for _, p := range pkgs {
		parts = append(parts, built[p.Name])
	}
	if extra != "" {
		sig, err := treeSignature(extra)
		if err != nil {
			return Sysroot{}, fmt.Errorf("reading the sysroot %s: %w", extra, err)
		}
		parts = append(parts, extra, sig)
	}
	root, err := cache.Sub("deps", "sysroots", t.Name)
	if err != nil {
		return Sysroot{}, err
	}
	s := Sysroot{Dir: filepath.Join(root, cache.Key(parts...)), Packages: pkgs, Libs: linkOrder(pkgs)}
	if _, err := os.Stat(s.Dir); err == nil {
		return s, nil
	}
	unlock, err := lock(ctx, s.Dir+".lock")
	if err != nil {
		return s, err
	}
	defer unlock()
	if _, err := os.Stat(s.Dir); err == nil {
		return s, nil
	}
	tmp, err := os.MkdirTemp(root, ".merge-")
	if err != nil {
		return s, err
	}
	defer os.RemoveAll(tmp)
	for _, p := range pkgs {
		if err := linkTree(built[p.Name], tmp, false); err != nil {
			return s, fmt.Errorf("adding %s to the sysroot: %w", p.ID(), err)
		}
	}
	if extra != "" {
		if err := linkTree(extra, tmp, true); err != nil {
			return s, fmt.Errorf("adding %s to the sysroot: %w", extra, err)
		}
	}
	return s, os.Rename(tmp, s.Dir)
}

// treeSignature changes when a file below dir is added, removed or rewritten.
func treeSignature(dir string) (string, error) {
	var parts []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		parts = append(parts, fmt.Sprintf("%s %d %d", path, info.Size(), info.ModTime().UnixNano()))
		return nil
	})
	return cache.Key(parts...), err
}

// linkTree hard-links (or copies, across file systems) every file below from into to. With
// keep, files that to already has are left as they are.
func linkTree(from, to string, keep bool) error {
	return filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		if _, err := os.Lstat(dst); err == nil && keep {
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(target, dst)
		}
		if err := os.Link(path, dst); err == nil {
			return nil
		}
		return copyFile(path, dst)
	})
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, st.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
