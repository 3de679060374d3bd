package image

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/portabin/portabin/internal/image/imagetest"
)

// TestDebianRoot pulls a real debootstrapped Debian bookworm root through the registry path,
// single-platform and from an index, then serves it from the cache with the registry gone,
// and reads the same root as a plain tarball and from an OCI layout.
func TestDebianRoot(t *testing.T) {
	if testing.Short() {
		t.Skip("a 200 MB root; not with -short")
	}
	rootfs := imagetest.DebianRoot(t, "bookworm")
	ctx := context.Background()
	x86 := imagetest.Image(t, rootfs, amd64)
	// The index's arm64 image is a small one: flattening a second 200 MB root would only
	// repeat the work, and the marker shows which image came.
	arm := imagetest.PlatformImage(t, v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"},
		layerOf(t, file("etc/portabin-platform", "arm64")))

	host, srv := imagetest.Registry(t)
	imagetest.Push(t, host, "debian:bookworm", x86)
	imagetest.Push(t, host, "multi:bookworm", imagetest.Index(t, x86, arm))

	cacheDir := t.TempDir()
	r := &Resolver{Cache: cacheDir}
	checks := []struct {
		ref, target, platform string
		img                   v1.Image
	}{
		{host + "/debian:bookworm", "x86_64", "linux/amd64", x86},
		{host + "/multi:bookworm", "aarch64", "linux/arm64/v8", arm},
		{host + "/multi:bookworm", "x86_64", "linux/amd64", x86},
	}
	for _, c := range checks {
		root, err := r.Resolve(ctx, c.ref, mustTarget(t, c.target))
		if err != nil {
			t.Fatalf("Resolve(%s, %s): %v", c.ref, c.target, err)
		}
		if root.Digest != digestOf(t, c.img) || root.Platform != c.platform {
			t.Errorf("Resolve(%s, %s) = %+v; want digest %s, platform %s", c.ref, c.target, root, digestOf(t, c.img), c.platform)
		}
		checkRoot(t, root.Dir, c.target)
	}

	srv.Close()
	for _, c := range checks {
		root, err := (&Resolver{Cache: cacheDir, Offline: true}).Resolve(ctx, c.ref, mustTarget(t, c.target))
		if err != nil || root.Digest != digestOf(t, c.img) {
			t.Fatalf("offline Resolve(%s, %s) = %+v, %v", c.ref, c.target, root, err)
		}
		checkRoot(t, root.Dir, c.target)
	}

	// The same root as a plain tarball, and in an OCI layout, which holds the pushed image and
	// so shares its root. (TestResolveTarFormats covers docker save archives.)
	ociDir := filepath.Join(t.TempDir(), "oci")
	if _, err := layout.Write(ociDir, imagetest.Index(t, x86)); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"tar:" + rootfs, "tar:" + ociDir} {
		root, err := (&Resolver{Cache: cacheDir, Offline: true}).Resolve(ctx, ref, mustTarget(t, "x86_64"))
		if err != nil {
			t.Fatalf("Resolve(%s): %v", ref, err)
		}
		checkDebian(t, root.Dir, "12.")
	}
}

// checkRoot checks what the index gave for target: Debian for x86_64, the marker for aarch64.
func checkRoot(t *testing.T, dir, target string) {
	t.Helper()
	if target == "x86_64" {
		checkDebian(t, dir, "12.")
		return
	}
	if b, err := os.ReadFile(filepath.Join(dir, "etc/portabin-platform")); err != nil || string(b) != "arm64" {
		t.Errorf("%s: the arm64 marker is %q (%v)", dir, b, err)
	}
}

// checkDebian checks that dir holds a Debian root of the release starting with version.
func checkDebian(t *testing.T, dir, version string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "etc/debian_version"))
	if err != nil || !strings.HasPrefix(string(b), version) {
		t.Errorf("%s/etc/debian_version = %q (%v), want %s*", dir, b, err, version)
	}
	// Merged /usr: /bin is a relative link, kept as it is.
	if to, err := os.Readlink(filepath.Join(dir, "bin")); err != nil || to != "usr/bin" {
		t.Errorf("%s/bin -> %q (%v), want usr/bin", dir, to, err)
	}
	fi, err := os.Stat(filepath.Join(dir, "usr/bin/dpkg"))
	if err != nil || fi.Mode().Perm()&0o111 == 0 {
		t.Errorf("usr/bin/dpkg: %v (%v), want an executable", fi, err)
	}
}
