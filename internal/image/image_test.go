package image

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/portabin/portabin/internal/image/imagetest"
	"github.com/portabin/portabin/internal/logs"
	"github.com/portabin/portabin/internal/target"
	"github.com/portabin/portabin/internal/uerr"
)

func mustTarget(t *testing.T, name string) target.Target {
	t.Helper()
	tg, err := target.Parse(name)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

var amd64 = v1.Platform{OS: "linux", Architecture: "amd64"}

// smallImage is a two-layer image whose second layer deletes, hides and adds files.
func smallImage(t *testing.T, p v1.Platform, marker string) v1.Image {
	return imagetest.PlatformImage(t, p,
		layerOf(t, lowerLayer...),
		layerOf(t, file("a/.wh.gone", ""), file("b/.wh..wh..opq", ""), file("b/new", "new"),
			file("etc/marker", marker)))
}

// checkSmallRoot checks the files smallImage leaves.
func checkSmallRoot(t *testing.T, dir, marker string) {
	t.Helper()
	for p, want := range map[string]string{"a/keep": "keep", "b/new": "new", "etc/marker": marker} {
		if b, err := os.ReadFile(filepath.Join(dir, p)); err != nil || string(b) != want {
			t.Errorf("%s = %q (%v), want %q", p, b, err, want)
		}
	}
	for _, p := range []string{"a/gone", "b/x", "b/sub"} {
		if _, err := os.Lstat(filepath.Join(dir, p)); !os.IsNotExist(err) {
			t.Errorf("%s still exists (%v)", p, err)
		}
	}
}

func digestOf(t *testing.T, img v1.Image) string {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

func TestResolvePullsThePlatformFromAnIndex(t *testing.T) {
	host, srv := imagetest.Registry(t)
	arm := smallImage(t, v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}, "arm64")
	x86 := smallImage(t, amd64, "amd64")
	// riscv64 without a variant; arm64 with one: both must be found.
	imagetest.Push(t, host, "multi:1", imagetest.Index(t, x86, arm))
	imagetest.Push(t, host, "single:1", x86)

	r := &Resolver{Cache: t.TempDir()}
	ctx := context.Background()
	for _, tt := range []struct {
		ref, target, marker, platform string
		img                           v1.Image
	}{
		{host + "/multi:1", "aarch64", "arm64", "linux/arm64/v8", arm},
		{"oci:" + host + "/multi:1", "x86_64", "amd64", "linux/amd64", x86},
		{host + "/single:1", "x86_64", "amd64", "linux/amd64", x86},
	} {
		root, err := r.Resolve(ctx, tt.ref, mustTarget(t, tt.target))
		if err != nil {
			t.Fatalf("Resolve(%s): %v", tt.ref, err)
		}
		if root.Kind != KindOCI || root.Platform != tt.platform || root.Digest != digestOf(t, tt.img) || root.Ref != tt.ref {
			t.Errorf("Resolve(%s) = %+v; want kind oci, platform %s, digest %s", tt.ref, root, tt.platform, digestOf(t, tt.img))
		}
		checkSmallRoot(t, root.Dir, tt.marker)
	}

	// No index entry for riscv64: a clear error naming the platforms there are.
	_, err := r.Resolve(ctx, host+"/multi:1", mustTarget(t, "riscv64"))
	if err == nil || !strings.Contains(err.Error(), "pulling "+host+"/multi:1") || !strings.Contains(err.Error(), "linux/arm64/v8") {
		t.Errorf("riscv64 from an amd64+arm64 index: %v", err)
	}

	// The registry gone, the cache serves, offline or not.
	srv.Close()
	for _, offline := range []bool{false, true} {
		r := &Resolver{Cache: r.Cache, Offline: offline}
		root, err := r.Resolve(ctx, host+"/multi:1", mustTarget(t, "aarch64"))
		if err != nil {
			t.Fatalf("offline=%v: %v", offline, err)
		}
		checkSmallRoot(t, root.Dir, "arm64")
	}
	_, err = (&Resolver{Cache: r.Cache, Offline: true}).Resolve(ctx, host+"/other:1", mustTarget(t, "x86_64"))
	if !errors.Is(err, ErrNotCached) || !strings.Contains(err.Error(), host+"/other:1") {
		t.Errorf("offline, not cached: %v", err)
	}
	_, err = (&Resolver{Cache: r.Cache}).Resolve(ctx, host+"/other:1", mustTarget(t, "x86_64"))
	if err == nil || !strings.HasPrefix(err.Error(), "pulling "+host+"/other:1: ") {
		t.Errorf("registry down: %v", err)
	}
}

func TestResolveRefresh(t *testing.T) {
	host, _ := imagetest.Registry(t)
	ctx := context.Background()
	x86 := mustTarget(t, "x86_64")
	imagetest.Push(t, host, "app:latest", smallImage(t, amd64, "v1"))
	r := &Resolver{Cache: t.TempDir()}
	first, err := r.Resolve(ctx, host+"/app:latest", x86)
	if err != nil {
		t.Fatal(err)
	}
	v2 := smallImage(t, amd64, "v2")
	imagetest.Push(t, host, "app:latest", v2)
	// Without Refresh the cached digest serves: no network.
	again, err := r.Resolve(ctx, host+"/app:latest", x86)
	if err != nil || again.Digest != first.Digest {
		t.Errorf("without Refresh: %+v, %v; want the cached %s", again, err, first.Digest)
	}
	r.Refresh = true
	fresh, err := r.Resolve(ctx, host+"/app:latest", x86)
	if err != nil {
		t.Fatal(err)
	}
	if fresh.Digest != digestOf(t, v2) {
		t.Errorf("with Refresh: digest %s, want %s", fresh.Digest, digestOf(t, v2))
	}
	checkSmallRoot(t, fresh.Dir, "v2")
	// Pinned by digest: the same root, whatever the tag says now.
	pinned, err := r.Resolve(ctx, host+"/app@"+first.Digest, x86)
	if err != nil || pinned.Dir != first.Dir {
		t.Errorf("by digest: %+v, %v; want %s", pinned, err, first.Dir)
	}
}

func TestResolveConcurrentAndDamagedCache(t *testing.T) {
	host, _ := imagetest.Registry(t)
	imagetest.Push(t, host, "app:1", smallImage(t, amd64, "x"))
	ctx := context.Background()
	cacheDir := t.TempDir()
	// What a process killed while flattening leaves; the next one removes it.
	stale := filepath.Join(cacheDir, "images", "tmp", "999999999-root-1", "rootfs")
	if err := os.MkdirAll(stale, 0o755); err != nil {
		t.Fatal(err)
	}
	// Progress says "pulling" once per flattening: count them.
	var progress bytes.Buffer
	logs.Progress.SetOutput(&progress)
	defer logs.Progress.SetOutput(io.Discard)
	var wg sync.WaitGroup
	roots := make([]Root, 4)
	errs := make([]error, 4)
	for i := range roots {
		wg.Add(1)
		go func() {
			defer wg.Done()
			roots[i], errs[i] = (&Resolver{Cache: cacheDir}).Resolve(ctx, host+"/app:1", mustTarget(t, "x86_64"))
		}()
	}
	wg.Wait()
	for i := range roots {
		if errs[i] != nil || roots[i].Dir != roots[0].Dir {
			t.Fatalf("resolve %d: %+v, %v; want %s", i, roots[i], errs[i], roots[0].Dir)
		}
	}
	if n := strings.Count(progress.String(), "pulling"); n != 1 {
		t.Errorf("flattened %d times, want once:\n%s", n, progress.String())
	}
	if left, _ := os.ReadDir(filepath.Join(cacheDir, "images", "tmp")); len(left) != 0 {
		t.Errorf("temporary folders left: %v", left) // the stale one included
	}
	// A root whose meta.json is gone is not trusted: it is pulled again.
	if err := os.Remove(filepath.Join(filepath.Dir(roots[0].Dir), "meta.json")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(roots[0].Dir, "b/new")); err != nil {
		t.Fatal(err)
	}
	if _, err := (&Resolver{Cache: cacheDir, Offline: true}).Resolve(ctx, host+"/app:1", mustTarget(t, "x86_64")); !errors.Is(err, ErrNotCached) {
		t.Errorf("offline with a damaged root: %v, want ErrNotCached", err)
	}
	root, err := (&Resolver{Cache: cacheDir}).Resolve(ctx, host+"/app:1", mustTarget(t, "x86_64"))
	if err != nil {
		t.Fatal(err)
	}
	checkSmallRoot(t, root.Dir, "x")
}

func TestResolveTarFormats(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	img := smallImage(t, amd64, "tar")
	arm := smallImage(t, v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}, "arm")

	dockerTar := filepath.Join(dir, "docker.tar")
	if err := tarball.WriteToFile(dockerTar, nil, img); err != nil {
		t.Fatal(err)
	}
	dockerTarGz := filepath.Join(dir, "docker.tar.gz")
	writeFile(t, dockerTarGz, gzipBytes(t, readFile(t, dockerTar)))

	legacyTar := filepath.Join(dir, "legacy.tar")
	writeFile(t, legacyTar, legacyDockerSave(t, img))

	ociDir := filepath.Join(dir, "oci")
	if _, err := layout.Write(ociDir, imagetest.Index(t, img, arm)); err != nil {
		t.Fatal(err)
	}
	ociTar := filepath.Join(dir, "oci.tar")
	if out, err := exec.Command("tar", "-C", ociDir, "-cf", ociTar, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}

	// A plain root filesystem: what the image flattens to, as a tar with each compression.
	rootfs := tarBytes(t, file("a/keep", "keep"), file("b/new", "new"), file("etc/marker", "tar"))
	plain := map[string][]byte{"root.tar": rootfs, "root.tar.gz": gzipBytes(t, rootfs)}
	var xzBuf bytes.Buffer
	xw, err := xz.NewWriter(&xzBuf)
	if err != nil {
		t.Fatal(err)
	}
	xw.Write(rootfs)
	xw.Close()
	plain["root.tar.xz"] = xzBuf.Bytes()
	zw, _ := zstd.NewWriter(nil)
	plain["root.tar.zst"] = zw.EncodeAll(rootfs, nil)
	for n, b := range plain {
		writeFile(t, filepath.Join(dir, n), b)
	}

	imgDigest := digestOf(t, img)
	cacheDir := t.TempDir()
	for _, tt := range []struct {
		file, target, marker, digest, platform string
	}{
		{"docker.tar", "x86_64", "tar", imgDigestOfTarball(t, dockerTar), "linux/amd64"},
		{"docker.tar.gz", "x86_64", "tar", imgDigestOfTarball(t, dockerTar), "linux/amd64"},
		// Uncompressed layers have no manifest digest until compressed: none is claimed.
		{"legacy.tar", "x86_64", "tar", "", "linux/amd64"},
		{"oci", "x86_64", "tar", imgDigest, "linux/amd64"},
		{"oci", "aarch64", "arm", digestOf(t, arm), "linux/arm64/v8"},
		{"oci.tar", "x86_64", "tar", imgDigest, "linux/amd64"},
		{"root.tar", "x86_64", "tar", "", ""},
		{"root.tar.gz", "x86_64", "tar", "", ""},
		{"root.tar.xz", "x86_64", "tar", "", ""},
		{"root.tar.zst", "x86_64", "tar", "", ""},
	} {
		ref := "tar:" + filepath.Join(dir, tt.file)
		for _, round := range []string{"first", "cached"} {
			root, err := (&Resolver{Cache: cacheDir, Offline: true}).Resolve(ctx, ref, mustTarget(t, tt.target))
			if err != nil {
				t.Fatalf("%s (%s, %s): %v", tt.file, tt.target, round, err)
			}
			if (root.ImageID != "") != (tt.platform != "") {
				t.Errorf("%s: image ID %q", tt.file, root.ImageID)
			}
			if root.Kind != KindTar || root.Digest != tt.digest || root.Platform != tt.platform {
				t.Errorf("%s (%s, %s) = %+v; want digest %q, platform %q", tt.file, tt.target, round, root, tt.digest, tt.platform)
			}
			for p, want := range map[string]string{"a/keep": "keep", "b/new": "new", "etc/marker": tt.marker} {
				if b, err := os.ReadFile(filepath.Join(root.Dir, p)); err != nil || string(b) != want {
					t.Errorf("%s: %s = %q (%v), want %q", tt.file, p, b, err, want)
				}
			}
		}
	}

	// A rewritten file is read again.
	rootTar := filepath.Join(dir, "root.tar")
	before, _ := (&Resolver{Cache: cacheDir}).Resolve(ctx, "tar:"+rootTar, mustTarget(t, "x86_64"))
	writeFile(t, rootTar, tarBytes(t, file("etc/marker", "changed")))
	after, err := (&Resolver{Cache: cacheDir}).Resolve(ctx, "tar:"+rootTar, mustTarget(t, "x86_64"))
	if err != nil || after.Dir == before.Dir {
		t.Fatalf("after rewriting %s: %+v, %v", rootTar, after, err)
	}
	if b, _ := os.ReadFile(filepath.Join(after.Dir, "etc/marker")); string(b) != "changed" {
		t.Errorf("after rewriting: etc/marker = %q", b)
	}
}

// legacyDockerSave writes img as `docker save` did before Docker 25: uncompressed layers in
// HEX/layer.tar, the config in HEX.json.
func legacyDockerSave(t *testing.T, img v1.Image) []byte {
	t.Helper()
	cfg, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	id, _ := img.ConfigName()
	ents := []ent{file(id.Hex+".json", string(cfg))}
	layers, _ := img.Layers()
	var paths []string
	for _, l := range layers {
		d, _ := l.DiffID()
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, d.Hex+"/layer.tar")
		ents = append(ents, dir(d.Hex+"/"), file(d.Hex+"/layer.tar", string(b)))
	}
	manifest, _ := json.Marshal([]map[string]any{{"Config": id.Hex + ".json", "RepoTags": []string{"x:1"}, "Layers": paths}})
	return tarBytes(t, append(ents, file("manifest.json", string(manifest)))...)
}

// imgDigestOfTarball is the manifest digest go-containerregistry gives a docker save archive.
func imgDigestOfTarball(t *testing.T, file string) string {
	t.Helper()
	img, err := tarball.ImageFromPath(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	return digestOf(t, img)
}

func TestResolveScratchDirAndBadInput(t *testing.T) {
	ctx := context.Background()
	r := &Resolver{Cache: t.TempDir(), Offline: true}
	x86 := mustTarget(t, "x86_64")
	root, err := r.Resolve(ctx, "scratch", x86)
	if err != nil || root.Kind != KindScratch || root.Dir != "" {
		t.Errorf("scratch: %+v, %v", root, err)
	}
	d := t.TempDir()
	root, err = r.Resolve(ctx, "dir:"+d, x86)
	if err != nil || root.Kind != KindDir || root.Dir != d {
		t.Errorf("dir: %+v, %v", root, err)
	}
	notDir := filepath.Join(d, "file")
	writeFile(t, notDir, []byte("x"))
	twoImages := filepath.Join(d, "two.tar")
	if err := tarball.MultiWriteToFile(twoImages, map[name.Tag]v1.Image{mustTag(t, "a:1"): smallImage(t, amd64, "a"), mustTag(t, "b:1"): smallImage(t, amd64, "b")}); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"dir:", "dir:" + filepath.Join(d, "missing"), "dir:" + notDir,
		"tar:", "tar:" + filepath.Join(d, "missing.tar"), "tar:" + d, "Not A Reference!", "oci:"} {
		_, err := r.Resolve(ctx, ref, x86)
		if err == nil || uerr.Code(err) != uerr.ExitUsage {
			t.Errorf("Resolve(%q) = %v, want a usage error", ref, err)
		}
	}
	_, err = r.Resolve(ctx, "tar:"+twoImages, x86)
	if err == nil || !strings.Contains(err.Error(), "reading tar:"+twoImages) {
		t.Errorf("an archive of two images: %v", err)
	}
}

func TestLoopbackOnlyHTTP(t *testing.T) {
	for host, ok := range map[string]bool{"localhost:5000": true, "127.0.0.1:80": true, "[::1]:5000": true,
		"x.localhost": true, "10.1.2.3:5000": false, "192.168.0.1": false, "example.com": false} {
		req := &http.Request{URL: &url.URL{Scheme: "http", Host: host, Path: "/v2/"}}
		_, err := loopbackOnlyHTTP{next: refuseAll{}}.RoundTrip(req)
		if got := errors.Is(err, errRefused); got != ok {
			t.Errorf("plain http to %s: %v; want it passed on: %v", host, err, ok)
		}
	}
}

var errRefused = errors.New("reached the next transport")

type refuseAll struct{}

func (refuseAll) RoundTrip(*http.Request) (*http.Response, error) { return nil, errRefused }

func mustTag(t *testing.T, s string) name.Tag {
	t.Helper()
	tag, err := name.NewTag(s)
	if err != nil {
		t.Fatal(err)
	}
	return tag
}

func writeFile(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func gzipBytes(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestServe resolves a root that imagetest.Serve publishes, as the CLI tests do, for two
// architectures.
func TestServe(t *testing.T) {
	rootfs := filepath.Join(t.TempDir(), "root.tar.gz")
	writeFile(t, rootfs, gzipBytes(t, tarBytes(t, file("etc/debian_version", "12.0\n"))))
	host := imagetest.Serve(t, map[string]string{"debian:bookworm": rootfs})
	r := &Resolver{Cache: t.TempDir()}
	for _, tg := range []string{"x86_64", "aarch64", "arm", "riscv64", "i386"} {
		tgt := mustTarget(t, tg)
		root, err := r.Resolve(context.Background(), host+"/debian:bookworm", tgt)
		if err != nil {
			t.Fatalf("%s: %v", tg, err)
		}
		if want := platformString(platformOf(tgt)); root.Platform != want {
			t.Errorf("%s: platform %s, want %s", tg, root.Platform, want)
		}
		if b, err := os.ReadFile(filepath.Join(root.Dir, "etc/debian_version")); err != nil || string(b) != "12.0\n" {
			t.Errorf("%s: etc/debian_version = %q (%v)", tg, b, err)
		}
	}
}
