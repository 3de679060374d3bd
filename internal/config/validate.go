package config

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/portabin/portabin/internal/buildsys"
	"github.com/portabin/portabin/internal/check"
	"github.com/portabin/portabin/internal/image"
	"github.com/portabin/portabin/internal/kernels"
	"github.com/portabin/portabin/internal/malloc"
	"github.com/portabin/portabin/internal/target"
)

// The values some keys take. The CLI's flags accept the same.
var (
	toolchains = []string{"zig", "container", "musl-gcc"}
	systems    = []buildsys.Kind{buildsys.CMake, buildsys.Meson, buildsys.Autotools, buildsys.Make, buildsys.Sources}
	runners    = []string{"native", "podman", "docker"}
)

const relativeHint = "relative paths start from the folder of portabin.toml"

// convert checks every value of the decoded file and builds the Config, recording a problem
// for each bad value rather than stopping at the first.
func (l *loader) convert(raw file) *Config {
	c := &Config{Dir: l.dir, Deps: raw.Deps}
	c.Build = l.build(raw.Build)
	l.deps(raw.Deps)
	c.Check = l.check(raw.Check)
	c.Matrix = l.matrix(raw.Matrix)
	for i, t := range raw.Tests {
		c.Tests = append(c.Tests, l.test(fmt.Sprintf("test[%d]", i), t, c))
	}
	names := map[string]bool{}
	for i, t := range c.Tests {
		if t.Name != "" && names[t.Name] {
			l.fail(fmt.Sprintf("test[%d].name", i), "give each test its own name", "a test named %q comes before", t.Name)
		}
		names[t.Name] = true
	}
	return c
}

func (l *loader) build(raw fileBuild) Build {
	b := Build{Toolchain: raw.Toolchain, Args: raw.Args, Env: raw.Env, Executables: raw.Executables,
		Strip: raw.Strip, PIE: raw.PIE, Debug: raw.Debug, Jobs: raw.Jobs, Image: raw.Image, Malloc: raw.Malloc}
	if !slices.Contains(toolchains, raw.Toolchain) {
		l.fail("build.toolchain", "", "unknown toolchain %q: want %s", raw.Toolchain, oneOf(toolchains))
	}
	for i, name := range raw.Targets {
		p := fmt.Sprintf("build.targets[%d]", i)
		t, err := target.Parse(name)
		if err != nil {
			l.fail(p, "", "%v", err)
			continue
		}
		if slices.ContainsFunc(b.Targets, func(u target.Target) bool { return u.Name == t.Name }) {
			l.fail(p, "", "%s is listed twice", t.Name)
			continue
		}
		b.Targets = append(b.Targets, t)
	}
	if raw.System != "auto" {
		if _, err := buildsys.For(buildsys.Kind(raw.System)); err != nil {
			l.fail("build.system", "", "unknown build system %q: want auto, %s", raw.System, oneOf(systems))
		}
		b.System = buildsys.Kind(raw.System)
	}
	l.env("build.env", raw.Env)
	for i, pattern := range raw.Executables {
		p := fmt.Sprintf("build.executables[%d]", i)
		if _, err := path.Match(pattern, ""); err != nil || pattern == "" || strings.Contains(pattern, "/") {
			l.fail(p, "", "%q is not a name or a glob of names such as \"tool-*\"", pattern)
		}
	}
	l.jobs("build.jobs", raw.Jobs)
	if b.Out = l.path(raw.Out); !b.Out.IsSet() {
		l.fail("build.out", "", "give a folder, or leave the key out for \"dist\"")
	}
	if b.Sysroot = l.path(raw.Sysroot); b.Sysroot.IsSet() {
		if st, err := os.Stat(b.Sysroot.Resolved); err != nil {
			l.fail("build.sysroot", relativeHint, "%s does not exist", raw.Sysroot)
		} else if !st.IsDir() {
			l.fail("build.sysroot", "", "%s is not a folder", raw.Sysroot)
		}
	}
	if raw.Malloc != "" && !slices.Contains(malloc.Names, raw.Malloc) {
		l.fail("build.malloc", "", "unknown allocator %q: want %s, or leave it out for musl's own", raw.Malloc, oneOf(malloc.Names))
	}
	return b
}

// deps checks only the shape of [deps]; whether a recipe exists is the dependency builder's
// business.
func (l *loader) deps(deps map[string]string) {
	for _, name := range sortedKeys(deps) {
		p := "deps." + name
		switch {
		case strings.TrimSpace(name) == "":
			l.failAt(l.ix.key(p), "deps: give the library's name", "")
		case strings.TrimSpace(deps[name]) == "":
			l.fail(p, "", "give a version, e.g. %s = \"1.3\"", name)
		}
	}
}

func (l *loader) check(raw fileCheck) Check {
	c := Check{RequireISA: raw.RequireISA, AllowDynamic: raw.AllowDynamic}
	if raw.RequireKernel != "" {
		k, err := kernels.Parse(raw.RequireKernel)
		switch {
		case err != nil:
			l.fail("check.require_kernel", "", "%v", err)
		case k.Host:
			l.fail("check.require_kernel", "give a version such as 2.6.32 or a name such as rhel6",
				"the host's kernel differs from one machine to the next")
		}
		c.RequireKernel = k
	}
	if raw.RequireISA != "" && !check.ValidISA(raw.RequireISA) {
		l.fail("check.require_isa", "", "%q is not a CPU level: want x86-64-v1, x86-64-v2, x86-64-v3 or x86-64-v4", raw.RequireISA)
	}
	return c
}

func (l *loader) matrix(raw fileMatrix) Matrix {
	m := Matrix{Runner: raw.Runner, Jobs: raw.Jobs, Network: raw.Network}
	for i, root := range raw.Roots {
		if r, ok := l.root(fmt.Sprintf("matrix.roots[%d]", i), root); ok {
			m.Roots = append(m.Roots, r)
		}
	}
	for i, name := range raw.Kernels {
		k, err := kernels.Parse(name)
		if err != nil {
			l.fail(fmt.Sprintf("matrix.kernels[%d]", i), "", "%v", err)
			continue
		}
		m.Kernels = append(m.Kernels, k)
	}
	if !slices.Contains(runners, raw.Runner) {
		l.fail("matrix.runner", "", "unknown runner %q: want %s", raw.Runner, oneOf(runners))
	}
	l.jobs("matrix.jobs", raw.Jobs)
	m.Timeout = l.duration("matrix.timeout", raw.Timeout)
	return m
}

// root checks the form of a root. Whether an image exists or a folder holds a root
// filesystem is found out when the matrix runs, where it fails that root's cells only.
func (l *loader) root(p, written string) (Root, bool) {
	label, root := image.SplitLabel(written)
	if label != "" {
		label += "="
	}
	for _, prefix := range []string{"dir:", "tar:", "oci:"} {
		rest, ok := strings.CutPrefix(root, prefix)
		if !ok {
			continue
		}
		if rest == "" {
			l.fail(p, "", "%q names no %s", root, map[string]string{"dir:": "folder", "tar:": "archive", "oci:": "image"}[prefix])
			return Root{}, false
		}
		if prefix == "oci:" {
			return Root{Written: written, Spec: written}, true
		}
		return Root{Written: written, Spec: label + prefix + l.resolve(rest)}, true
	}
	if strings.TrimSpace(root) == "" || strings.ContainsAny(root, " \t\n") {
		l.fail(p, "", "%q is not a root: want scratch, dir:PATH, tar:PATH, oci:REF or an image such as \"debian:bookworm\", optionally named: NAME=ROOT", written)
		return Root{}, false
	}
	return Root{Written: written, Spec: written}, true
}

func (l *loader) test(p string, raw fileTest, c *Config) Test {
	t := Test{Name: raw.Name, Executable: raw.Executable, Args: raw.Args, ExpectExit: raw.ExpectExit, Env: raw.Env,
		Timeout: c.Matrix.Timeout}
	if strings.TrimSpace(raw.Name) == "" {
		l.fail(p+".name", "", "give the test a name")
	}
	if raw.Executable != "" && len(c.Build.Executables) > 0 && !matchesAny(c.Build.Executables, raw.Executable) {
		l.fail(p+".executable", "add it to build.executables, or name one that is there",
			"%q is not among build.executables", raw.Executable)
	}
	t.Stdin = l.existingFile(p+".stdin", raw.Stdin)
	t.ExpectStdout = l.existingFile(p+".expect_stdout", raw.ExpectStdout)
	if raw.ExpectStdoutRegex != "" {
		if raw.ExpectStdout != "" {
			l.fail(p+".expect_stdout_regex", "keep one of them", "a test compares stdout with expect_stdout or expect_stdout_regex, not both")
		}
		re, err := regexp.Compile(raw.ExpectStdoutRegex)
		if err != nil {
			l.fail(p+".expect_stdout_regex", "", "%v", err)
		}
		t.ExpectStdoutRegex = re
	}
	if raw.ExpectExit < 0 || raw.ExpectExit > 255 {
		l.fail(p+".expect_exit", "", "%d is not an exit status: want 0 to 255", raw.ExpectExit)
	}
	if raw.Timeout != "" {
		t.Timeout = l.duration(p+".timeout", raw.Timeout)
	}
	l.env(p+".env", raw.Env)
	return t
}

func (l *loader) env(p string, env map[string]string) {
	for _, name := range sortedKeys(env) {
		if name == "" || strings.ContainsAny(name, "=\x00") {
			l.failAt(l.ix.key(p+"."+name), fmt.Sprintf("%s: %q is not an environment variable name", display(p), name), "")
		}
	}
}

func (l *loader) jobs(p string, n int) {
	if n < 1 {
		l.fail(p, "", "must be at least 1, not %d", n)
	}
}

func (l *loader) duration(p, s string) time.Duration {
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		l.fail(p, "", "%q is not a duration: want a number and a unit, e.g. \"10s\" or \"1m30s\"", s)
	}
	return d
}

// path resolves a path of the file against the file's folder.
func (l *loader) path(written string) Path {
	if written == "" {
		return Path{}
	}
	return Path{Written: written, Resolved: l.resolve(written)}
}

func (l *loader) resolve(written string) string {
	if filepath.IsAbs(written) {
		return filepath.Clean(written)
	}
	return filepath.Join(l.dir, written)
}

// existingFile is path for a file that must exist now: a test's input or expected output.
func (l *loader) existingFile(p, written string) Path {
	f := l.path(written)
	if !f.IsSet() {
		return f
	}
	st, err := os.Stat(f.Resolved)
	switch {
	case err != nil:
		l.fail(p, relativeHint, "%s does not exist", written)
	case !st.Mode().IsRegular():
		l.fail(p, "", "%s is not a file", written)
	}
	return f
}

func matchesAny(patterns []string, name string) bool {
	for _, pattern := range patterns {
		if ok, _ := path.Match(pattern, name); ok {
			return true
		}
	}
	return false
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// oneOf lists choices as people say them: "a, b or c".
func oneOf[S ~string](choices []S) string {
	quoted := make([]string, len(choices))
	for i, c := range choices {
		quoted[i] = string(c)
	}
	if len(quoted) == 1 {
		return quoted[0]
	}
	return strings.Join(quoted[:len(quoted)-1], ", ") + " or " + quoted[len(quoted)-1]
}
