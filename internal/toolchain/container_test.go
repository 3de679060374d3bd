package toolchain

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/portabin/portabin/internal/ccwrap"
	"github.com/portabin/portabin/internal/engine"
	"github.com/portabin/portabin/internal/runner"
	"github.com/portabin/portabin/internal/target"
	"github.com/portabin/portabin/internal/uerr"
)

func TestImageCompilers(t *testing.T) {
	tests := []struct {
		name    string
		env     []string
		cc, cxx []string
	}{
		{"defaults", []string{"PATH=/usr/bin"}, []string{"cc"}, []string{"c++"}},
		{"cc only", []string{"PORTABIN_CC=musl-gcc"}, []string{"musl-gcc"}, []string{"c++"}},
		{"both with words", []string{"PORTABIN_CC=ccache gcc", "PORTABIN_CXX=g++-13"}, []string{"ccache", "gcc"}, []string{"g++-13"}},
		{"empty ignored", []string{"PORTABIN_CC=", "PORTABIN_CXX= "}, []string{"cc"}, []string{"c++"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc, cxx := imageCompilers(tt.env)
			if diff := cmp.Diff([][]string{tt.cc, tt.cxx}, [][]string{cc, cxx}); diff != "" {
				t.Errorf("imageCompilers(%q) (-want +got):\n%s", tt.env, diff)
			}
		})
	}
}

func TestContainerRunArgs(t *testing.T) {
	c := &container{engine: engine.Engine{Name: "docker", Flags: []string{"--log-level", "error"}}, image: "img:1", self: "/opt/portabin"}
	mounts := map[string]bool{"/src": false, "/work/build": true}
	got := c.command(context.Background(), c.runArgs("portabin-x", "1000:1000", mounts,
		runner.Cmd{Args: []string{"make", "-j4"}, Dir: "/work/build", Env: []string{"CC=/work/build/.portabin/bin/cc"}})...).Args
	want := []string{"docker", "--log-level", "error", "run", "--rm", "--name", "portabin-x", "--network", "none",
		"--security-opt", "label=disable", "--user", "1000:1000",
		"-v", "/src:/src:ro", "-v", "/work/build:/work/build", "-v", "/opt/portabin:/opt/portabin:ro",
		"-w", "/work/build", "-e", "CC=/work/build/.portabin/bin/cc", "img:1", "make", "-j4"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("run command (-want +got):\n%s", diff)
	}

	// podman gets the caller's limits; portabin inside a mounted folder is not mounted twice.
	c.engine, c.self = engine.Engine{Name: "podman"}, "/work/build/tools/portabin"
	got = c.runArgs("n", "", mounts, runner.Cmd{Args: []string{"true"}})
	joined := strings.Join(got, " ")
	for _, s := range []string{"--ulimit nofile=", "--ulimit nproc="} {
		if !strings.Contains(joined, s) {
			t.Errorf("podman run arguments lack %s: %s", s, joined)
		}
	}
	if strings.Contains(joined, "--user") || strings.Contains(joined, "/work/build/tools/portabin:") {
		t.Errorf("unexpected --user or second mount: %s", joined)
	}
}

func TestNewContainerEngines(t *testing.T) {
	_, err := NewContainer(ContainerOptions{Engine: "lxc"})
	if uerr.Code(err) != uerr.ExitUsage || !strings.Contains(err.Error(), `unknown container engine "lxc"`) {
		t.Errorf("engine lxc: %v (exit %d), want a usage error", err, uerr.Code(err))
	}
	t.Setenv("PATH", t.TempDir())
	for _, name := range []string{"", "podman", "docker"} {
		_, err := NewContainer(ContainerOptions{Engine: name})
		if uerr.Code(err) != uerr.ExitEnvironment || !strings.Contains(uerr.HintOf(err), "install podman") {
			t.Errorf("name %q with none installed: %v (exit %d, hint %q), want exit 3 with a hint",
				name, err, uerr.Code(err), uerr.HintOf(err))
		}
	}
}

func TestContainerPrepareRefusesOtherArch(t *testing.T) {
	tc := &container{engine: engine.Engine{Name: "podman"}, image: "img"}
	tg, _ := target.Parse("riscv64")
	if host, _ := target.Host(); host.Arch == "riscv64" {
		tg, _ = target.Parse("aarch64")
	}
	_, err := tc.Prepare(context.Background(), tg, Options{SourceDir: "/s", BuildDir: "/b"})
	if uerr.Code(err) != uerr.ExitUsage || !strings.Contains(uerr.HintOf(err), "--toolchain zig") {
		t.Errorf("Prepare(%s) = %v, want a usage error naming zig", tg.Name, err)
	}
}

var testImage struct {
	once       sync.Once
	name, skip string
	err        error
}

// podmanTestImage returns the Debian image that scripts/test-builder-image.sh makes (once, then
// cached), with gcc, make, cmake and musl-gcc as PORTABIN_CC.
func podmanTestImage(t *testing.T) string {
	t.Helper()
	testImage.once.Do(func() {
		if _, err := exec.LookPath("podman"); err != nil {
			testImage.skip = "podman not installed"
			return
		}
		if out, err := exec.Command("podman", "info").CombinedOutput(); err != nil {
			testImage.skip = "podman does not work here: " + runner.Tail(string(out), 3)
			return
		}
		script, err := filepath.Abs("../../scripts/test-builder-image.sh")
		if err != nil {
			testImage.err = err
			return
		}
		cmd := exec.Command(script)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			testImage.err = err
			testImage.skip = stderr.String()
			return
		}
		testImage.name = strings.TrimSpace(string(out))
	})
	if testImage.err != nil {
		t.Fatalf("scripts/test-builder-image.sh: %v\n%s", testImage.err, testImage.skip)
	}
	if testImage.skip != "" {
		t.Skip(testImage.skip)
	}
	return testImage.name
}

const helloC = `#include <stdio.h>
int main(void) { printf("hello from %s\n", "the container"); return 0; }
`

func TestContainerBuild(t *testing.T) {
	image := podmanTestImage(t)
	ctx := context.Background()
	host, _ := target.Host()
	src, build := t.TempDir(), filepath.Join(t.TempDir(), "build")
	writeSource(t, filepath.Join(src, "hello.c"), helloC)

	tc, err := NewContainer(ContainerOptions{Engine: "podman", Image: image})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := tc.Prepare(ctx, host, Options{SourceDir: src, BuildDir: build, PrefixMap: map[string]string{src: "/src"}})
	if err != nil {
		t.Fatalf("%v\n%s", err, uerr.DetailOf(err))
	}
	want := ccwrap.Config{Dialect: ccwrap.GCC, CC: []string{"musl-gcc"}, CXX: []string{"c++"},
		AR: []string{"ar"}, RANLIB: []string{"ranlib"}, CompileFlags: []string{"-ffile-prefix-map=" + src + "=/src"},
		LinkFlags: []string{"-Wl,--build-id=sha1"}}
	if diff := cmp.Diff(want, cfg); diff != "" {
		t.Errorf("Prepare (-want +got):\n%s", diff)
	}
	if id := tc.ID(); !strings.Contains(id, image+"@") || strings.HasSuffix(id, "@") {
		t.Errorf("ID() = %q, want the image and its digest", id)
	}

	obj, exe := filepath.Join(build, "hello.o"), filepath.Join(build, "hello")
	for _, argv := range [][]string{
		wrapperArgv(t, cfg, ccwrap.CC, "-O2", "-c", filepath.Join(src, "hello.c"), "-o", obj),
		wrapperArgv(t, cfg, ccwrap.CC, obj, "-o", exe),
	} {
		if err := tc.Runner().Run(ctx, runner.Cmd{Args: argv, Dir: build}); err != nil {
			t.Fatalf("%v\n%s", err, uerr.DetailOf(err))
		}
	}
	assertStaticExe(t, exe, host)
	assertOwner(t, exe, os.Getuid(), os.Getgid())
	out, err := exec.Command(exe).CombinedOutput()
	if err != nil || string(out) != "hello from the container\n" {
		t.Fatalf("%s on the host: %v, output %q", exe, err, out)
	}

	// The portabin executable (here the test binary) runs inside at its own path, as the build's
	// wrapper scripts need.
	self, _ := os.Executable()
	if err := tc.Runner().Run(ctx, runner.Cmd{Args: []string{self, "-test.run=^$"}, Dir: build}); err != nil {
		t.Errorf("running %s in the container: %v\n%s", self, err, uerr.DetailOf(err))
	}

	// The environment reaches the command, and the source folder is read only.
	err = tc.Runner().Run(ctx, runner.Cmd{Args: []string{"sh", "-c", `test "$GREETING" = hi && touch "$1"/new`, "sh", src},
		Dir: build, Env: []string{"GREETING=hi"}})
	if uerr.Code(err) != uerr.ExitFailed || !strings.Contains(uerr.DetailOf(err), "Read-only file system") {
		t.Errorf("writing the source folder: %v (%s), want a read-only failure", err, uerr.DetailOf(err))
	}
	if _, err := os.Stat(filepath.Join(src, "new")); err == nil {
		t.Errorf("the container wrote into the source folder")
	}
}

// TestContainerOwner runs as another user, as portabin does for a caller that is not root: what
// the build writes belongs to that user.
func TestContainerOwner(t *testing.T) {
	image := podmanTestImage(t)
	if os.Getuid() != 0 {
		t.Skip("the caller's own id is covered by TestContainerBuild")
	}
	host, _ := target.Host()
	src, build := t.TempDir(), t.TempDir()
	if err := os.Chmod(build, 0o777); err != nil {
		t.Fatal(err)
	}
	tc, err := NewContainer(ContainerOptions{Engine: "podman", Image: image})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tc.Prepare(context.Background(), host, Options{SourceDir: src, BuildDir: build}); err != nil {
		t.Fatal(err)
	}
	tc.(*container).user = "1234:2345"
	if err := tc.Runner().Run(context.Background(), runner.Cmd{Args: []string{"touch", "made"}, Dir: build}); err != nil {
		t.Fatalf("%v\n%s", err, uerr.DetailOf(err))
	}
	assertOwner(t, filepath.Join(build, "made"), 1234, 2345)
}

func TestContainerErrors(t *testing.T) {
	image := podmanTestImage(t)
	ctx := context.Background()
	host, _ := target.Host()
	dirs := Options{SourceDir: t.TempDir(), BuildDir: t.TempDir()}
	newPodman := func(image string) Toolchain {
		tc, err := NewContainer(ContainerOptions{Engine: "podman", Image: image})
		if err != nil {
			t.Fatal(err)
		}
		return tc
	}

	t.Run("image missing", func(t *testing.T) {
		_, err := newPodman("localhost/portabin-no-such-image:1").Prepare(ctx, host, dirs)
		if uerr.Code(err) != uerr.ExitEnvironment || !strings.Contains(err.Error(), "image localhost/portabin-no-such-image:1 not available") ||
			!strings.Contains(uerr.HintOf(err), "podman pull") {
			t.Errorf("Prepare = %v (exit %d, hint %q), want exit 3 naming the image", err, uerr.Code(err), uerr.HintOf(err))
		}
	})

	t.Run("engine flags from the environment", func(t *testing.T) {
		t.Setenv("PORTABIN_ENGINE_FLAGS", "--runtime portabin-no-such-runtime")
		_, err := newPodman(image).Prepare(ctx, host, dirs)
		if uerr.Code(err) != uerr.ExitEnvironment || !strings.Contains(uerr.DetailOf(err), "portabin-no-such-runtime") {
			t.Errorf("Prepare = %v (exit %d, detail %q), want exit 3 with podman's complaint", err, uerr.Code(err), uerr.DetailOf(err))
		}
	})

	tc := newPodman(image)
	if _, err := tc.Prepare(ctx, host, dirs); err != nil {
		t.Fatal(err)
	}
	t.Run("command fails", func(t *testing.T) {
		err := tc.Runner().Run(ctx, runner.Cmd{Args: []string{"sh", "-c", "echo compiler says no; exit 3"}, Dir: dirs.BuildDir})
		if uerr.Code(err) != uerr.ExitFailed || !strings.Contains(err.Error(), "sh -c") ||
			!strings.Contains(err.Error(), "exit status 3") || !strings.Contains(uerr.DetailOf(err), "compiler says no") {
			t.Errorf("Run = %v (exit %d, detail %q), want exit 1 with the output", err, uerr.Code(err), uerr.DetailOf(err))
		}
	})
	t.Run("command missing from the image", func(t *testing.T) {
		err := tc.Runner().Run(ctx, runner.Cmd{Args: []string{"meson", "setup"}, Dir: dirs.BuildDir})
		if uerr.Code(err) != uerr.ExitEnvironment || !strings.Contains(err.Error(), "meson not found in image") {
			t.Errorf("Run = %v (exit %d), want exit 3 naming meson", err, uerr.Code(err))
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		// A unique argument finds the container in podman's list.
		seconds := fmt.Sprintf("%d.5", 100+os.Getpid()%800)
		ctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		start := time.Now()
		go func() {
			done <- tc.Runner().Run(ctx, runner.Cmd{Args: []string{"sleep", seconds}, Dir: dirs.BuildDir})
		}()
		for !strings.Contains(podmanPS(t), "sleep "+seconds) {
			if time.Since(start) > 20*time.Second {
				t.Fatal("the container did not start")
			}
			time.Sleep(100 * time.Millisecond)
		}
		cancel()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "context canceled") {
				t.Errorf("Run after cancel = %v, want context canceled", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("Run did not return after cancel")
		}
		if ps := podmanPS(t); strings.Contains(ps, "sleep "+seconds) {
			t.Errorf("the container is still there after cancel:\n%s", ps)
		}
	})
}

func podmanPS(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("podman", "ps", "-a", "--no-trunc", "--format", "{{.Names}} {{.Command}}").CombinedOutput()
	if err != nil {
		t.Fatalf("podman ps: %v\n%s", err, out)
	}
	return string(out)
}

// TestContainerBuildImage builds an image from a Containerfile, as Prepare does for the default
// builder; the default's base (Alpine) needs a registry, so this one starts from the test image.
func TestContainerBuildImage(t *testing.T) {
	image := podmanTestImage(t)
	ctx := context.Background()
	tc, err := NewContainer(ContainerOptions{Engine: "podman", Image: image})
	if err != nil {
		t.Fatal(err)
	}
	c := tc.(*container)
	tag := "localhost/portabin-test-derived:" + strings.ReplaceAll(filepath.Base(t.TempDir()), "_", "")
	if err := c.buildImage(ctx, "FROM "+image+"\nENV PORTABIN_CXX=g++\nRUN touch /built\n", tag); err != nil {
		t.Fatalf("%v\n%s", err, uerr.DetailOf(err))
	}
	t.Cleanup(func() { _ = exec.Command("podman", "rmi", "-f", tag).Run() })
	c.image = tag
	info, err := c.inspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cc, cxx := imageCompilers(info.Env); cc[0] != "musl-gcc" || cxx[0] != "g++" {
		t.Errorf("derived image compilers %q %q, want musl-gcc g++", cc, cxx)
	}
}

// TestContainerDefaultBuilder asks for portabin's own image. Without a registry the build fails
// with an environment error; with one it is built and compiles.
func TestContainerDefaultBuilder(t *testing.T) {
	podmanTestImage(t)
	host, _ := target.Host()
	tc, err := NewContainer(ContainerOptions{Engine: "podman"})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := tc.Prepare(context.Background(), host, Options{SourceDir: t.TempDir(), BuildDir: t.TempDir()})
	if err != nil {
		if uerr.Code(err) != uerr.ExitEnvironment || !strings.Contains(err.Error(), "could not build the builder image portabin-builder:") {
			t.Fatalf("Prepare = %v (exit %d), want exit 3 about the builder image", err, uerr.Code(err))
		}
		t.Logf("no registry here: %v", err)
		return
	}
	if cfg.CC[0] != "cc" {
		t.Errorf("default builder CC = %q, want cc", cfg.CC)
	}
}

func assertOwner(t *testing.T, path string, uid, gid int) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if int(st.Uid) != uid || int(st.Gid) != gid {
		t.Errorf("%s belongs to %d:%d, want %d:%d", path, st.Uid, st.Gid, uid, gid)
	}
}
