package deps

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/portabin/portabin/internal/cache"
	"github.com/portabin/portabin/internal/target"
	"github.com/portabin/portabin/internal/toolchain"
	"github.com/portabin/portabin/internal/uerr"
)

// testTarball writes a source tarball into dir and returns its sha256: answer.c, and the
// extra files given (name → content).
func testTarball(t *testing.T, dir, name string, extra ...string) string {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	files := append([]string{"answer.c", "int answer(void) { return 42; }\n"}, extra...)
	for i := 0; i+1 < len(files); i += 2 {
		body := []byte(files[i+1])
		if err := tw.WriteHeader(&tar.Header{Name: "pkg-1/" + files[i], Mode: 0o644, Size: int64(len(body))}); err != nil {
			t.Fatal(err)
		}
		tw.Write(body)
	}
	tw.Close()
	gz.Close()
	if err := os.WriteFile(filepath.Join(dir, name), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(buf.Bytes())
	return hex.EncodeToString(sum[:])
}

// testRecipe is a recipe whose steps are shell commands, for the engine's own tests.
func testRecipe(t *testing.T, sha, script string) Package {
	t.Helper()
	text := fmt.Sprintf(`name = "answer"
license = "MIT"
libs = ["answer"]
build = "steps"
steps = [["sh", "-c", %q]]
[[versions]]
version = "1"
[[versions.sources]]
url = "https://example.invalid/answer-1.tar.gz"
sha256 = %q
`, script, sha)
	r, err := parseRecipe([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return Package{Recipe: r, Version: r.Versions[0]}
}

// engineSetup gives a test its own portabin cache (sharing zig with the user's) and a sources
// folder holding the test tarball.
func engineSetup(t *testing.T) (Options, string) {
	t.Helper()
	shared := map[string]string{}
	for _, name := range []string{"toolchains", "zig-cache", "runtime-stamps"} {
		dir, err := cache.Sub(name)
		if err != nil {
			t.Fatal(err)
		}
		shared[name] = dir
	}
	tmp := t.TempDir()
	t.Setenv("PORTABIN_CACHE", filepath.Join(tmp, "cache"))
	for name, dir := range shared {
		os.MkdirAll(filepath.Join(tmp, "cache"), 0o755)
		if err := os.Symlink(dir, filepath.Join(tmp, "cache", name)); err != nil {
			t.Fatal(err)
		}
	}
	sources := filepath.Join(tmp, "sources")
	os.MkdirAll(sources, 0o755)
	host, ok := target.Host()
	if !ok {
		t.Skip("no portabin target for this machine")
	}
	return Options{Target: host, Toolchain: toolchain.NewZig(toolchain.ZigOptions{}), Self: "/nonexistent/portabin",
		Jobs: 1, Fetcher: &Fetcher{Sources: sources}}, sources
}

// installScript installs a fake archive after counting its runs in counter.
func installScript(counter string) string {
	return fmt.Sprintf(`echo run >> %s && mkdir -p {destdir}{prefix}/lib {destdir}{prefix}/include && cp {src}/answer.c {destdir}{prefix}/lib/libanswer.a && cp {src}/answer.c {destdir}{prefix}/include/answer.h`, counter)
}

func lines(t *testing.T, path string) int {
	data, _ := os.ReadFile(path)
	return strings.Count(string(data), "\n")
}

func TestCacheKeysAndLock(t *testing.T) {
	o, sources := engineSetup(t)
	sha := testTarball(t, sources, "answer-1.tar.gz")
	counter := filepath.Join(t.TempDir(), "runs")
	pkg := testRecipe(t, sha, "sleep 1 && "+installScript(counter))
	ctx := context.Background()

	// Two builds at once: one builds, the other waits for the lock and takes its result.
	var wg sync.WaitGroup
	dirs := make([]string, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := BuildPackages(ctx, []Package{pkg}, o)
			dirs[i], errs[i] = s.Dir, err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if dirs[0] != dirs[1] {
		t.Errorf("two sysroots for one build: %s, %s", dirs[0], dirs[1])
	}
	if n := lines(t, counter); n != 1 {
		t.Fatalf("two concurrent builds ran the recipe %d times, want 1", n)
	}
	if _, err := os.Stat(filepath.Join(dirs[0], "lib", "libanswer.a")); err != nil {
		t.Fatal(err)
	}

	// Same inputs: cached. A different flag or recipe: built again.
	if _, err := BuildPackages(ctx, []Package{pkg}, o); err != nil {
		t.Fatal(err)
	}
	if n := lines(t, counter); n != 1 {
		t.Errorf("an unchanged build ran again (%d runs)", n)
	}
	pie := o
	pie.PIE = true
	if _, err := BuildPackages(ctx, []Package{pkg}, pie); err != nil {
		t.Fatal(err)
	}
	changed := testRecipe(t, sha, "true && "+installScript(counter))
	if _, err := BuildPackages(ctx, []Package{changed}, o); err != nil {
		t.Fatal(err)
	}
	if n := lines(t, counter); n != 3 {
		t.Errorf("%d runs after changing the flags and the recipe, want 3", n)
	}
}

func TestRecipeFailure(t *testing.T) {
	o, sources := engineSetup(t)
	sha := testTarball(t, sources, "answer-1.tar.gz")
	for _, tc := range []struct {
		name, script, msg, detail string
	}{
		// Half an install, then an error: nothing may reach the package folder.
		{"step fails", `mkdir -p {destdir}{prefix}/lib && touch {destdir}{prefix}/lib/libanswer.a && echo "answer.c:1: error: boom" >&2 && exit 1`,
			"sh -c", "error: boom"},
		{"archive missing", `mkdir -p {destdir}{prefix}/include`, "the build installed no lib/libanswer.a", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := BuildPackages(context.Background(), []Package{testRecipe(t, sha, tc.script)}, o)
			if err == nil || !strings.Contains(err.Error(), tc.msg) || !strings.HasPrefix(err.Error(), "dependency answer-1: ") {
				t.Fatalf("error %v, want one about %q", err, tc.msg)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			if uerr.Code(err) != uerr.ExitFailed {
				t.Errorf("exit code %d, want %d", uerr.Code(err), uerr.ExitFailed)
			}
			if !strings.Contains(uerr.DetailOf(err), tc.detail) {
				t.Errorf("the log tail %q lacks %q", uerr.DetailOf(err), tc.detail)
			}
			pkgs, _ := cache.Sub("deps", "pkgs", o.Target.Name)
			entries, _ := os.ReadDir(pkgs)
			for _, e := range entries {
				if e.IsDir() {
					t.Errorf("left behind in the cache: %s", e.Name())
				}
			}
		})
	}
}

func TestFetchBadInput(t *testing.T) {
	o, sources := engineSetup(t)
	sha := testTarball(t, sources, "answer-1.tar.gz")
	pkg := testRecipe(t, sha, "true")
	ctx := context.Background()

	t.Run("missing offline", func(t *testing.T) {
		empty := t.TempDir()
		_, err := (&Fetcher{Sources: empty}).Fetch(ctx, pkg)
		if err == nil || !strings.Contains(err.Error(), "no source tarball in "+empty) {
			t.Fatalf("error %v", err)
		}
		if hint := uerr.HintOf(err); !strings.Contains(hint, "https://example.invalid/answer-1.tar.gz") || !strings.Contains(hint, sha) {
			t.Errorf("hint %q does not say which file to put there", hint)
		}
		if uerr.Code(err) != uerr.ExitUsage {
			t.Errorf("exit code %d", uerr.Code(err))
		}
	})

	t.Run("found by content", func(t *testing.T) {
		// Debian's name for the same tarball.
		os.Rename(filepath.Join(sources, "answer-1.tar.gz"), filepath.Join(sources, "answer_1.orig.tar.gz"))
		path, err := o.Fetcher.Fetch(ctx, pkg)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Base(path) != "answer-1.tar.gz" || !strings.Contains(path, sha) {
			t.Errorf("cached as %s", path)
		}
	})

	t.Run("sha256 mismatch", func(t *testing.T) {
		t.Setenv("PORTABIN_CACHE", t.TempDir())
		mirror := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, "not the release")
		}))
		defer mirror.Close()
		_, err := (&Fetcher{Sources: mirror.URL}).Fetch(ctx, pkg)
		if err == nil || !strings.Contains(err.Error(), mirror.URL+"/answer-1.tar.gz: sha256 ") || !strings.Contains(err.Error(), "refused and deleted") {
			t.Fatalf("error %v", err)
		}
		if uerr.Code(err) != uerr.ExitFailed {
			t.Errorf("exit code %d", uerr.Code(err))
		}
		dir, _ := cache.Sub("deps", "sources")
		entries, _ := os.ReadDir(dir)
		if len(entries) != 0 {
			t.Errorf("the refused download was kept: %v", entries)
		}
	})
}

// TestDownload fetches zlib by the recipe's URLs: upstream's where there is internet, else the
// Debian mirror's copy, the only server this project's CI reaches.
func TestDownload(t *testing.T) {
	t.Setenv("PORTABIN_CACHE", t.TempDir())
	pkgs, err := Resolve(map[string]string{"zlib": "1.2.13"})
	if err != nil {
		t.Fatal(err)
	}
	path, err := (&Fetcher{}).Fetch(context.Background(), pkgs[0])
	if uerr.Code(err) == uerr.ExitEnvironment {
		t.Skipf("no network: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	sum, err := fileSHA256(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(path, sum) {
		t.Errorf("%s has sha256 %s", path, sum)
	}
}

// TestCMakeRecipe builds a CMake library with the wrappers and toolchain file that the
// project's own CMake build gets, and checks that the archive holds the object.
func TestCMakeRecipe(t *testing.T) {
	if _, err := exec.LookPath("cmake"); err != nil {
		t.Skip("no cmake")
	}
	o, sources := engineSetup(t)
	o.Self = portabinExe(t)
	sha := testTarball(t, sources, "answer-1.tar.gz", "CMakeLists.txt", `cmake_minimum_required(VERSION 3.16)
project(answer C)
add_library(answer answer.c)
install(TARGETS answer)
`)
	r, err := parseRecipe([]byte(fmt.Sprintf(`name = "answer"
license = "MIT"
libs = ["answer"]
build = "cmake"
[[versions]]
version = "1"
[[versions.sources]]
url = "https://example.invalid/answer-1.tar.gz"
sha256 = %q
`, sha)))
	if err != nil {
		t.Fatal(err)
	}
	s, err := BuildPackages(context.Background(), []Package{{Recipe: r, Version: r.Versions[0]}}, o)
	if err != nil {
		t.Fatalf("%v\n%s", err, uerr.DetailOf(err))
	}
	archive := filepath.Join(s.Dir, "lib", "libanswer.a")
	out, err := exec.Command("ar", "t", archive).Output()
	if err != nil || !strings.Contains(string(out), "answer.c.o") {
		t.Fatalf("ar t %s: %v %s", archive, err, out)
	}
}
