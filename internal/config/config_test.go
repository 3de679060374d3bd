package config

import (
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portabin/portabin/internal/buildsys"
	"github.com/portabin/portabin/internal/kernels"
	"github.com/portabin/portabin/internal/target"
	"github.com/portabin/portabin/internal/uerr"
)

var sameRegexp = cmp.Comparer(func(a, b *regexp.Regexp) bool {
	return a == nil && b == nil || a != nil && b != nil && a.String() == b.String()
})

// writeProject writes files (name → content; a name ending in / is a folder) into a new folder.
func writeProject(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(path, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func mustTarget(t *testing.T, name string) target.Target {
	t.Helper()
	tg, err := target.Parse(name)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

func mustKernel(t *testing.T, name string) kernels.Kernel {
	t.Helper()
	k, err := kernels.Parse(name)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestLoad(t *testing.T) {
	sysroot := t.TempDir() // an absolute path outside the project
	dir := writeProject(t, map[string]string{
		FileName: strings.ReplaceAll(`
[build]
toolchain = "container"
targets = ["amd64", "aarch64-linux-musl"]
system = "meson"
args = ["-Dtests=false"]
env.CFLAGS = "-O2"
executables = ["tool", "tool-*"]
strip = true
pie = true
jobs = 3
image = "alpine:3.20"
out = "../release"
sysroot = "SYSROOT"
malloc = "mimalloc"

[deps]
zlib = "1.3"

[check]
require_kernel = "rhel6"
require_isa = "x86-64-v2"
allow_dynamic = true

[matrix]
roots = ["scratch", "dir:roots/bookworm", "tar:/srv/alpine.tar", "oci:alpine:3.20", "centos:7"]
kernels = ["2.6.32", "RHEL7", "host"]
runner = "podman"
jobs = 2
network = true
timeout = "1m30s"

[[test]]
name = "version"
args = ["--version"]
expect_stdout_regex = '^tool \d'

[[test]]
name = "sorts"
executable = "tool-sort"
stdin = "tests/in.txt"
expect_stdout = "tests/out.txt"
expect_exit = 3
timeout = "250ms"

[test.env]
LC_ALL = "C"
`, "SYSROOT", sysroot),
		"tests/in.txt":  "b\na\n",
		"tests/out.txt": "a\nb\n",
	})
	got, err := Load(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		Path: filepath.Join(dir, FileName), Dir: dir,
		Build: Build{
			Toolchain: "container", Targets: []target.Target{mustTarget(t, "x86_64"), mustTarget(t, "aarch64")},
			System: buildsys.Meson, Args: []string{"-Dtests=false"}, Env: map[string]string{"CFLAGS": "-O2"},
			Executables: []string{"tool", "tool-*"}, Strip: true, PIE: true, Jobs: 3, Image: "alpine:3.20",
			Out:     Path{"../release", filepath.Join(filepath.Dir(dir), "release")},
			Sysroot: Path{sysroot, sysroot}, Malloc: "mimalloc",
		},
		Deps:  map[string]string{"zlib": "1.3"},
		Check: Check{RequireKernel: mustKernel(t, "rhel6"), RequireISA: "x86-64-v2", AllowDynamic: true},
		Matrix: Matrix{
			Roots: []Root{{"scratch", "scratch"}, {"dir:roots/bookworm", "dir:" + filepath.Join(dir, "roots/bookworm")},
				{"tar:/srv/alpine.tar", "tar:/srv/alpine.tar"}, {"oci:alpine:3.20", "oci:alpine:3.20"}, {"centos:7", "centos:7"}},
			Kernels: []kernels.Kernel{mustKernel(t, "2.6.32"), mustKernel(t, "rhel7"), mustKernel(t, "host")},
			Runner:  "podman", Jobs: 2, Network: true, Timeout: 90 * time.Second,
		},
		Tests: []Test{
			{Name: "version", Args: []string{"--version"}, ExpectStdoutRegex: regexp.MustCompile(`^tool \d`), Timeout: 90 * time.Second},
			{Name: "sorts", Executable: "tool-sort", Stdin: Path{"tests/in.txt", filepath.Join(dir, "tests/in.txt")},
				ExpectStdout: Path{"tests/out.txt", filepath.Join(dir, "tests/out.txt")}, ExpectExit: 3,
				Timeout: 250 * time.Millisecond, Env: map[string]string{"LC_ALL": "C"}},
		},
	}
	if diff := cmp.Diff(want, got, sameRegexp); diff != "" {
		t.Errorf("Load (-want +got):\n%s", diff)
	}
	if req := got.Check.Requirements(); req.Kernel.String() != "2.6.32" || req.ISA != "x86-64-v2" || !req.AllowDynamic {
		t.Errorf("Requirements() = %+v", req)
	}
}

// TestDefaults: an empty file is valid, and every key holds its flag's default.
func TestDefaults(t *testing.T) {
	dir := writeProject(t, map[string]string{FileName: "# nothing yet\n"})
	got, err := Load(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		Path: filepath.Join(dir, FileName), Dir: dir,
		Build:  Build{Toolchain: "zig", Jobs: runtime.NumCPU(), Out: Path{"dist", filepath.Join(dir, "dist")}},
		Matrix: Matrix{Runner: "native", Jobs: runtime.NumCPU(), Timeout: 10 * time.Second},
	}
	if diff := cmp.Diff(want, got, sameRegexp); diff != "" {
		t.Errorf("Load (-want +got):\n%s", diff)
	}
}

// TestRelativePath: a file loaded by a relative path resolves its paths against its own
// folder, not the current one, and its errors name it as given.
func TestRelativePath(t *testing.T) {
	dir := writeProject(t, map[string]string{
		"project/" + FileName:  "[[test]]\nname = \"reads\"\nstdin = \"in.txt\"\n",
		"project/in.txt":       "",
		"other/" + FileName:    "[[test]]\nname = \"reads\"\nstdin = \"in.txt\"\n",
		"other/../other/keep/": "",
	})
	t.Chdir(dir)
	c, err := Load(filepath.Join("project", FileName))
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "project", "in.txt"); c.Tests[0].Stdin.Resolved != want {
		t.Errorf("stdin resolved to %s, want %s", c.Tests[0].Stdin.Resolved, want)
	}
	_, err = Load(filepath.Join("other", FileName))
	if want := "other/portabin.toml:3:9: test.stdin: in.txt does not exist"; err == nil || err.Error() != want {
		t.Errorf("Load: %v, want %s", err, want)
	}
}

func TestFind(t *testing.T) {
	dir := writeProject(t, map[string]string{"with/" + FileName: "", "without/": "", "folder/" + FileName + "/": ""})
	path, err := Find(filepath.Join(dir, "with"))
	if err != nil || path != filepath.Join(dir, "with", FileName) {
		t.Errorf("Find(with) = %q, %v", path, err)
	}
	tests := []struct{ dir, msg, hint string }{
		{"without", "no portabin.toml in DIR/without", "run 'portabin init DIR/without' to write one"},
		{"missing", "DIR/missing does not exist", "give the folder of a project"},
		{"folder", "DIR/folder/portabin.toml is not a file", ""},
	}
	for _, tt := range tests {
		_, err := Find(filepath.Join(dir, tt.dir))
		if err == nil {
			t.Errorf("Find(%s): no error", tt.dir)
			continue
		}
		got := struct{ msg, hint string }{err.Error(), uerr.HintOf(err)}
		want := struct{ msg, hint string }{replaceDir(tt.msg, dir), replaceDir(tt.hint, dir)}
		if got != want || uerr.Code(err) != uerr.ExitUsage {
			t.Errorf("Find(%s) = %q (hint %q, code %d), want %q (hint %q)", tt.dir, got.msg, got.hint, uerr.Code(err), want.msg, want.hint)
		}
	}
}

func replaceDir(s, dir string) string {
	return regexp.MustCompile("DIR").ReplaceAllLiteralString(s, dir)
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), FileName))
	if err == nil || uerr.Code(err) != uerr.ExitUsage || uerr.HintOf(err) == "" {
		t.Errorf("Load of a missing file: %v (code %d, hint %q)", err, uerr.Code(err), uerr.HintOf(err))
	}
}

// TestByteOrderMark: a file saved with a UTF-8 byte-order mark, as some Windows editors do, loads.
func TestByteOrderMark(t *testing.T) {
	dir := writeProject(t, map[string]string{FileName: "\ufeff[build]\njobs = 2\n"})
	c, err := Load(filepath.Join(dir, FileName))
	if err != nil || c.Build.Jobs != 2 {
		t.Fatalf("Load = %+v, %v", c, err)
	}
}
