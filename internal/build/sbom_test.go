package build_test

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portabin/portabin/internal/build"
	"github.com/portabin/portabin/internal/cache"
	"github.com/portabin/portabin/internal/cli"
	"github.com/portabin/portabin/internal/ctest"
	"github.com/portabin/portabin/internal/progress"
	"github.com/portabin/portabin/internal/sbom"
	"github.com/portabin/portabin/internal/target"
	"github.com/portabin/portabin/internal/toolchain"
	"github.com/portabin/portabin/internal/uerr"
)

// The test binary is also the build's compiler wrapper: the wrapper scripts run it as
// `SELF cc ARGS...` with PORTABIN_WRAP set.
func TestMain(m *testing.M) {
	if os.Getenv("PORTABIN_WRAP") != "" && len(os.Args) > 1 {
		os.Exit(cli.Main(context.Background(), os.Args, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// sourcesFolder links the upstream tarballs of Debian source packages, fetched into the test
// cache by scripts/fetch-sources.sh, into one folder for --sources.
func sourcesFolder(t *testing.T, pkgs ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, download := range ctest.FetchSources(t, append([]string{"-d"}, pkgs...)...) {
		tarballs, _ := filepath.Glob(filepath.Join(download, "*.orig.tar.*"))
		for _, tb := range tarballs {
			if err := os.Symlink(tb, filepath.Join(dir, filepath.Base(tb))); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

// useCache gives the test a cache of its own for build folders, sharing the slow,
// content-keyed parts (zig, its runtime builds, dependency and allocator builds) with the user's.
func useCache(t *testing.T) {
	t.Helper()
	tmp := t.TempDir()
	for _, shared := range []string{"toolchains", "zig-cache", "runtime-stamps", "deps", "malloc"} {
		dir, err := cache.Sub(shared)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(dir, filepath.Join(tmp, shared)); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PORTABIN_CACHE", tmp)
}

const zlibProgram = `#include <stdio.h>
#include <zlib.h>
int main(void) { printf("zlib %s\n", zlibVersion()); return 0; }
`

// An executable's note and CycloneDX file list musl, the dependencies from the sysroot and the
// allocator; the CycloneDX file names the installed file by its real hash.
func TestSBOMListsWhatWasLinked(t *testing.T) {
	sources := sourcesFolder(t, "zlib", "mimalloc")
	useCache(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	project := filepath.Join(t.TempDir(), "zclient")
	if err := os.MkdirAll(project, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(project, "main.c"), []byte(zlibProgram), 0o644); err != nil {
		t.Fatal(err)
	}
	host, _ := target.Host()
	out := t.TempDir()
	results, err := build.Run(context.Background(), build.Options{
		Dir: project, Out: out, Targets: []target.Target{host}, Jobs: 2, Self: self,
		Toolchain: toolchain.NewZig(toolchain.ZigOptions{}), Progress: progress.New(io.Discard),
		Deps: map[string]string{"zlib": "1.2.13"}, Sources: sources, Malloc: "mimalloc",
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, uerr.DetailOf(err))
	}
	exe := results[0].Outputs[0]
	note, err := sbom.ReadNoteFile(exe.Path)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range note.Components {
		names = append(names, c.Name+" "+c.Version+" "+c.License)
	}
	if got, want := strings.Join(names, ", "), "musl 1.2.4 MIT, zlib 1.2.13 Zlib, mimalloc 2.0.9 MIT"; got != want {
		t.Errorf("note components = %s, want %s", got, want)
	}
	if note.Name != "zclient" || note.Architecture != host.Arch || note.Type != "portabin" {
		t.Errorf("note = %+v", note)
	}
	if exe.SBOM != exe.Path+".cdx.json" {
		t.Fatalf("SBOM path %q", exe.SBOM)
	}
	data, err := os.ReadFile(exe.SBOM)
	if err != nil {
		t.Fatal(err)
	}
	var bom struct {
		Metadata struct {
			Component struct {
				Name   string
				Hashes []struct{ Alg, Content string }
			}
		}
		Components []struct{ Name, Version string }
	}
	if err := json.Unmarshal(data, &bom); err != nil {
		t.Fatal(err)
	}
	m := bom.Metadata.Component
	if m.Name != filepath.Base(exe.Path) || len(m.Hashes) != 1 || m.Hashes[0].Content != exe.SHA256 || len(bom.Components) != 3 {
		t.Errorf("CycloneDX file:\n%s", data)
	}
	got, err := exec.Command(exe.Path).Output()
	if err != nil || string(got) != "zlib 1.2.13\n" {
		t.Errorf("%s: %v, output %q", exe.Path, err, got)
	}
}
