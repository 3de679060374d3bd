// Package image turns a `portabin test` root reference into a directory holding a flattened root filesystem, without a container engine.
//
// References:
//
//	scratch        an empty root (Dir is "")
//	dir:PATH       an unpacked root filesystem, used as it is
//	tar:PATH       a `docker save` archive, an OCI image layout (folder or tar), or a plain root
//	               filesystem tarball; gzip, xz and zstd compression are detected
//	oci:REF, REF   an image in a registry (centos:7, localhost:5000/x:y, name@sha256:...), pulled
//	               with go-containerregistry for the target's platform
//
// Images and tarballs are flattened once into Cache/images and reused. A registry tag is looked
// up again only when Resolver.Refresh is set: the cached digest serves otherwise, so a second use
// needs no network. Offline, only the cache serves.
package image

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/portabin/portabin/internal/target"
	"github.com/portabin/portabin/internal/uerr"
)

// Kinds of root.
const (
	KindScratch = "scratch"
	KindDir     = "dir"
	KindTar     = "tar"
	KindOCI     = "oci"
)

// Root is a resolved root filesystem.
type Root struct {
	Ref  string // as the user wrote it
	Kind string // KindScratch, KindDir, KindTar or KindOCI
	// Dir is the host folder of the flattened root; "" for scratch. Roots under the cache are
	// shared between runs: treat them as read-only.
	Dir string
	// Digest is the image manifest digest for oci, and for tar when the archive records one
	// (an OCI layout, or a docker save archive with compressed layers); "" otherwise.
	Digest string
	// ImageID is the digest of the image's config (what docker calls the image ID), for images.
	ImageID string
	// Platform is the image's platform, e.g. "linux/arm64/v8"; "" for roots that are not images.
	Platform string
}

// Resolver resolves references; its zero value with Cache set pulls from the registries.
type Resolver struct {
	// Cache is portabin's cache folder; roots are kept under Cache/images.
	Cache string
	// Offline forbids the network: only the cache serves.
	Offline bool
	// Refresh looks a registry tag up again even when the cache knows its digest.
	Refresh bool
	// Transport carries registry requests; nil means go-containerregistry's default.
	Transport http.RoundTripper
	// Keychain supplies registry credentials; nil means the docker config (authn.DefaultKeychain).
	Keychain authn.Keychain
}

// ErrNotCached is returned, wrapped, when the network is off and the cache lacks the reference.
var ErrNotCached = errors.New("not in portabin's cache")

// SplitLabel reads a root written as NAME=REF ("centos7=tar:/srv/centos7.tar"), whose NAME
// stands for it in matrices; name is "" when spec has no label. A label is letters, digits and
// ".-_" before the first "=", so no reference or path containing ":" or "/" is mistaken for one.
func SplitLabel(spec string) (name, ref string) {
	label, rest, ok := strings.Cut(spec, "=")
	if !ok || label == "" || rest == "" || strings.IndexFunc(label, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(".-_", r))
	}) >= 0 {
		return "", spec
	}
	return label, rest
}

// Resolve returns the root filesystem that ref names, for an executable of target t. A label
// (see SplitLabel) is dropped.
func (r *Resolver) Resolve(ctx context.Context, ref string, t target.Target) (Root, error) {
	_, ref = SplitLabel(ref)
	if r.Cache == "" {
		return Root{}, errors.New("resolving a root: no cache folder given")
	}
	switch {
	case ref == KindScratch:
		return Root{Ref: ref, Kind: KindScratch}, nil
	case strings.HasPrefix(ref, "dir:"):
		return resolveDir(ref, strings.TrimPrefix(ref, "dir:"))
	case strings.HasPrefix(ref, "tar:"):
		return r.resolveTar(ctx, ref, strings.TrimPrefix(ref, "tar:"), platformOf(t))
	}
	imageRef := strings.TrimPrefix(ref, "oci:")
	parsed, err := name.ParseReference(imageRef)
	if err != nil || imageRef == "" {
		return Root{}, uerr.Usage("a root is scratch, dir:PATH, tar:PATH, oci:IMAGE or an image name such as debian:bookworm",
			"bad root reference %q", ref)
	}
	return r.resolveRemote(ctx, ref, parsed, platformOf(t))
}

func resolveDir(ref, dir string) (Root, error) {
	if dir == "" {
		return Root{}, uerr.Usage("write dir:PATH with the root filesystem's folder", "bad root reference %q: no folder", ref)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Root{}, fmt.Errorf("resolving %s: %w", ref, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return Root{}, uerr.Usage("", "root %s: %v", ref, errors.Unwrap(err))
	}
	if !fi.IsDir() {
		return Root{}, uerr.Usage("a root file system tarball is tar:"+dir, "root %s: not a folder", ref)
	}
	return Root{Ref: ref, Kind: KindDir, Dir: abs}, nil
}

// platformOf is the image platform that runs t's executables.
func platformOf(t target.Target) v1.Platform {
	return v1.Platform{OS: "linux", Architecture: t.OCIArch, Variant: t.OCIVariant}
}

// platformString formats p as os/arch[/variant].
func platformString(p v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}
