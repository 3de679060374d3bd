// Package imagetest gives tests real root filesystems as images in an in-process OCI registry.
//
// A CLI test that needs `portabin test --on localhost:PORT/debian:bookworm` does:
//
//	host := imagetest.Serve(t, map[string]string{"debian:bookworm": imagetest.DebianRoot(t, "bookworm")})
//	// then uses host+"/debian:bookworm" as the root reference
package imagetest

import (
	"io"
	"log"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/portabin/portabin/internal/target"
)

var debianRoots sync.Map // suite → *debianRoot

type debianRoot struct {
	once             sync.Once
	path, skip, fail string
}

// DebianRoot returns the path of a gzip-compressed Debian minbase root filesystem tarball of
// suite (bullseye, bookworm, trixie), made once by scripts/debian-root.sh and cached under
// $PORTABIN_TEST_CACHE. The test is skipped when debootstrap cannot run because this is not root.
func DebianRoot(t testing.TB, suite string) string {
	t.Helper()
	v, _ := debianRoots.LoadOrStore(suite, &debianRoot{})
	r := v.(*debianRoot)
	r.once.Do(func() {
		cmd := exec.Command(filepath.Join(repoRoot(), "scripts", "debian-root.sh"), suite)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		switch {
		case err == nil:
			r.path = strings.TrimSpace(string(out))
		case strings.Contains(stderr.String(), "debootstrap needs root"):
			r.skip = "no Debian " + suite + " root: debootstrap needs root (run the tests as root once to cache it)"
		default:
			r.fail = "scripts/debian-root.sh " + suite + ": " + err.Error() + "\n" + stderr.String()
		}
	})
	if r.fail != "" {
		t.Fatal(r.fail)
	}
	if r.skip != "" {
		t.Skip(r.skip)
	}
	return r.path
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

// Image returns a single-layer image of the root filesystem tarball (optionally gzip-compressed)
// labelled with platform p.
func Image(t testing.TB, tarballPath string, p v1.Platform) v1.Image {
	t.Helper()
	layer, err := tarball.LayerFromFile(tarballPath)
	if err != nil {
		t.Fatal(err)
	}
	return PlatformImage(t, p, layer)
}

// PlatformImage returns an OCI image made of layers, lowest first, labelled with platform p.
func PlatformImage(t testing.TB, p v1.Platform, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), layers...)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture, cfg.Variant = p.OS, p.Architecture, p.Variant
	cfg.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return mutate.ConfigMediaType(img, types.OCIConfigJSON)
}

// Index returns an OCI index of images, each listed under its config's platform.
func Index(t testing.TB, images ...v1.Image) v1.ImageIndex {
	t.Helper()
	var adds []mutate.IndexAddendum
	for _, img := range images {
		cfg, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: cfg.Platform()}})
	}
	return mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)
}

// Registry starts an in-process registry for the test's lifetime and returns its host
// ("localhost:PORT") and the server, which a test may Close early to go offline.
func Registry(t testing.TB) (string, *httptest.Server) {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return "localhost:" + srv.URL[strings.LastIndex(srv.URL, ":")+1:], srv
}

// Push writes an image or an index to host/repoTag.
func Push(t testing.TB, host, repoTag string, artifact remote.Taggable) {
	t.Helper()
	ref, err := name.ParseReference(host + "/" + repoTag)
	if err != nil {
		t.Fatal(err)
	}
	switch a := artifact.(type) {
	case v1.ImageIndex:
		err = remote.WriteIndex(ref, a)
	case v1.Image:
		err = remote.Write(ref, a)
	default:
		t.Fatalf("pushing %T: not an image or an index", artifact)
	}
	if err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
}

// Serve starts an in-process registry holding, for each "repository:tag" in roots, the root
// filesystem tarball it maps to as a multi-platform index with an image for every portabin
// target (the same files under each platform label). It returns the registry's host,
// "localhost:PORT"; the registry stops when the test ends.
func Serve(t testing.TB, roots map[string]string) string {
	t.Helper()
	host, _ := Registry(t)
	for repoTag, file := range roots {
		layer, err := tarball.LayerFromFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var images []v1.Image
		for _, tg := range target.All() {
			images = append(images, PlatformImage(t, v1.Platform{OS: "linux", Architecture: tg.OCIArch, Variant: tg.OCIVariant}, layer))
		}
		Push(t, host, repoTag, Index(t, images...))
	}
	return host
}
