package image

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/portabin/portabin/internal/cache"
	"github.com/portabin/portabin/internal/logs"
	"github.com/portabin/portabin/internal/uerr"
)

// resolveRemote pulls ref from its registry, or takes it from the cache.
func (r *Resolver) resolveRemote(ctx context.Context, userRef string, ref name.Reference, want v1.Platform) (Root, error) {
	s := newStore(r.Cache)
	// Keyed by the full name, so that "debian:bookworm" and "index.docker.io/library/debian:bookworm" share.
	refKey := cache.Key("oci", ref.Name(), platformString(want))
	root := func(e entry) Root {
		return Root{Ref: userRef, Kind: KindOCI, Dir: s.rootfs(e.Key), Digest: e.Digest, ImageID: e.ImageID, Platform: e.Platform}
	}
	// A digest names content that never changes; a tag is looked up again only on request.
	_, pinned := ref.(name.Digest)
	if r.Offline || !r.Refresh || pinned {
		if e, ok := s.lookup(refKey, ""); ok {
			return root(e), nil
		}
	}
	if r.Offline {
		return Root{}, fmt.Errorf("pulling %s: %w", userRef, &uerr.Error{
			Code: uerr.ExitEnvironment, Msg: "offline", Err: ErrNotCached,
			Hint: "run once with the network on to fill the cache",
		})
	}
	img, desc, err := r.fetch(ctx, ref, want)
	if err != nil {
		return Root{}, fmt.Errorf("pulling %s: %w", userRef, err)
	}
	e, err := s.ensure(keyOf(desc.Digest.String()), func(rootfs string) (entry, error) {
		e, err := imageEntry(img, desc)
		if err != nil {
			return entry{}, err
		}
		logs.Progress.Printf("portabin: pulling %s (%s)", userRef, e.Platform)
		return e, flattenImage(ctx, img, rootfs)
	})
	if err != nil {
		return Root{}, fmt.Errorf("pulling %s: %w", userRef, err)
	}
	if err := s.record(refKey, e); err != nil {
		return Root{}, fmt.Errorf("pulling %s: recording it in the cache: %w", userRef, err)
	}
	if wanted := platformString(want); e.Platform != "" && !platformMatches(e.Platform, wanted) {
		// A single-platform image: a static executable may still run there, so go on.
		logs.Warn.Printf("portabin: %s is a %s image, not %s", userRef, e.Platform, wanted)
	}
	return root(e), nil
}

// fetch finds the image for platform want that ref names, choosing from an index if it is one.
func (r *Resolver) fetch(ctx context.Context, ref name.Reference, want v1.Platform) (v1.Image, v1.Descriptor, error) {
	keychain := r.Keychain
	if keychain == nil {
		keychain = authn.DefaultKeychain
	}
	opts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(keychain)}
	transport := r.Transport
	if transport == nil {
		transport = remote.DefaultTransport
	}
	opts = append(opts, remote.WithTransport(loopbackOnlyHTTP{transport}))
	desc, err := remote.Get(ref, opts...)
	if err != nil {
		return nil, v1.Descriptor{}, err
	}
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, v1.Descriptor{}, err
		}
		return pickImage(idx, want)
	}
	img, err := desc.Image()
	if err != nil {
		return nil, v1.Descriptor{}, err
	}
	return img, desc.Descriptor, nil
}

// pickImage chooses the image of platform want from an index, descending into nested indexes.
// Unlike go-containerregistry's own choice, an entry without a variant matches a wanted variant
// ("linux/arm64" serves "linux/arm64/v8"), as docker and containerd do; an exact variant wins.
func pickImage(idx v1.ImageIndex, want v1.Platform) (v1.Image, v1.Descriptor, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, v1.Descriptor{}, err
	}
	var best *v1.Descriptor
	var available []string
	for i := range im.Manifests {
		d := &im.Manifests[i]
		if d.MediaType.IsIndex() {
			child, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return nil, v1.Descriptor{}, err
			}
			if img, cd, err := pickImage(child, want); err == nil {
				return img, cd, nil
			}
			continue
		}
		if d.Platform == nil || !d.MediaType.IsImage() {
			continue // attestations and other artifacts
		}
		p := *d.Platform
		available = append(available, platformString(p))
		if p.OS != want.OS || p.Architecture != want.Architecture {
			continue
		}
		if p.Variant == want.Variant {
			best = d
			break
		}
		if p.Variant == "" && best == nil {
			best = d
		}
	}
	if best == nil {
		return nil, v1.Descriptor{}, fmt.Errorf("no image for %s (the index has: %v)", platformString(want), available)
	}
	img, err := idx.Image(best.Digest)
	if err != nil {
		return nil, v1.Descriptor{}, err
	}
	return img, *best, nil
}

// imageEntry describes img for the cache; desc is its descriptor, which may lack a platform.
func imageEntry(img v1.Image, desc v1.Descriptor) (entry, error) {
	cfg, err := img.ConfigFile()
	if err != nil {
		return entry{}, fmt.Errorf("reading the image config: %w", err)
	}
	id, err := img.ConfigName()
	if err != nil {
		return entry{}, err
	}
	p := cfg.Platform()
	if p == nil && desc.Platform != nil {
		p = desc.Platform
	}
	e := entry{Digest: desc.Digest.String(), ImageID: id.String()}
	if p != nil {
		e.Platform = platformString(*p)
	}
	return e, nil
}

// flattenImage writes img's layers, lowest first, into the empty folder dir.
func flattenImage(ctx context.Context, img v1.Image, dir string) error {
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	f, err := newFlattener(ctx, dir)
	if err != nil {
		return err
	}
	defer f.Close()
	for i, l := range layers {
		if err := ctx.Err(); err != nil {
			return err
		}
		d, err := l.Digest()
		if err != nil {
			return err
		}
		logs.Debug.Printf("extracting layer %d/%d %s", i+1, len(layers), d)
		if err := applyLayer(f, l); err != nil {
			return fmt.Errorf("extracting layer %s: %w", d, err)
		}
	}
	return f.finish()
}

func applyLayer(f *flattener, l v1.Layer) error {
	rc, err := l.Uncompressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	if err := f.apply(rc); err != nil {
		return err
	}
	// Read to the end: the digest is checked there, and a tar stream may carry padding.
	if _, err := io.Copy(io.Discard, rc); err != nil {
		return err
	}
	return rc.Close()
}

// platformMatches reports whether an image of platform have serves want; a missing variant
// matches any.
func platformMatches(have, want string) bool {
	h, w := strings.Split(have, "/"), strings.Split(want, "/")
	if len(h) < 2 || len(w) < 2 || h[0] != w[0] || h[1] != w[1] {
		return false
	}
	return len(h) < 3 || len(w) < 3 || h[2] == w[2]
}

// loopbackOnlyHTTP refuses plain http except to this machine. go-containerregistry also falls
// back to http for private (RFC 1918) addresses, where a machine in the middle could serve
// another root.
type loopbackOnlyHTTP struct{ next http.RoundTripper }

func (t loopbackOnlyHTTP) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !isLoopback(req.URL.Hostname()) {
		return nil, fmt.Errorf("refusing plain http to %s: only a registry on this machine may go without TLS", req.URL.Host)
	}
	return t.next.RoundTrip(req)
}

func isLoopback(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
