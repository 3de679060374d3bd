package image

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/portabin/portabin/internal/cache"
	"github.com/portabin/portabin/internal/logs"
	"github.com/portabin/portabin/internal/uerr"
)

// Formats of a tar: reference.
const (
	formatRootfs    = "root filesystem tarball"
	formatDockerTar = "docker save archive"
	formatOCITar    = "OCI image layout (tar)"
	formatOCIDir    = "OCI image layout"
)

// resolveTar flattens an archive or an OCI layout into the cache, once per version of the file.
func (r *Resolver) resolveTar(ctx context.Context, userRef, file string, want v1.Platform) (Root, error) {
	if file == "" {
		return Root{}, uerr.Usage("write tar:PATH with an archive or an OCI image layout", "bad root reference %q: no path", userRef)
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return Root{}, fmt.Errorf("resolving %s: %w", userRef, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return Root{}, uerr.Usage("", "root %s: %v", userRef, errors.Unwrap(err))
	}
	identity := fi
	if fi.IsDir() {
		// An OCI layout changes when its index.json does.
		if identity, err = os.Stat(filepath.Join(abs, "index.json")); err != nil {
			return Root{}, uerr.Usage("a folder holding a root file system is dir:"+file,
				"root %s: not an OCI image layout (no index.json)", userRef)
		}
	}
	source := fileIdentity(identity)
	s := newStore(r.Cache)
	refKey := cache.Key("tar", abs, platformString(want))
	root := func(e entry) Root {
		return Root{Ref: userRef, Kind: KindTar, Dir: s.rootfs(e.Key), Digest: e.Digest, ImageID: e.ImageID, Platform: e.Platform}
	}
	if e, ok := s.lookup(refKey, source); ok {
		return root(e), nil
	}
	// One process reads a given file at a time; the others then find its refs entry.
	unlock, err := s.lock("tar-" + refKey)
	if err != nil {
		return Root{}, fmt.Errorf("reading %s: %w", userRef, err)
	}
	defer unlock()
	if e, ok := s.lookup(refKey, source); ok {
		return root(e), nil
	}
	e, err := r.flattenArchive(ctx, s, abs, fi.IsDir(), want)
	if err != nil {
		return Root{}, fmt.Errorf("reading %s: %w", userRef, err)
	}
	e.Source = source
	if err := s.record(refKey, e); err != nil {
		return Root{}, fmt.Errorf("reading %s: recording it in the cache: %w", userRef, err)
	}
	return root(e), nil
}

// fileIdentity changes whenever the file is replaced or rewritten.
func fileIdentity(fi fs.FileInfo) string {
	id := fmt.Sprintf("%d %d", fi.Size(), fi.ModTime().UnixNano())
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id += fmt.Sprintf(" %d %d", st.Dev, st.Ino)
	}
	return id
}

// flattenArchive puts the root that file holds into the cache and returns its entry.
func (r *Resolver) flattenArchive(ctx context.Context, s store, file string, isDir bool, want v1.Platform) (entry, error) {
	format := formatOCIDir
	if !isDir {
		var err error
		if format, err = sniffArchive(file); err != nil {
			return entry{}, err
		}
	}
	logs.Progress.Printf("portabin: reading %s (%s)", file, format)
	switch format {
	case formatRootfs:
		return flattenRootfs(ctx, s, file)
	case formatOCIDir:
		return flattenLayout(ctx, s, file, want)
	case formatOCITar:
		// The layout package reads folders: unpack the blobs next to the cache's roots first.
		return withTemp(s, "layout", func(tmp string) (entry, error) {
			if err := unpack(ctx, file, tmp); err != nil {
				return entry{}, err
			}
			return flattenLayout(ctx, s, tmp, want)
		})
	default: // formatDockerTar
		compressed, err := isCompressed(file)
		if err != nil || !compressed {
			return flattenDockerTar(ctx, s, file, err)
		}
		// tarball reads the archive once per member: give it an uncompressed copy.
		return withTemp(s, "docker", func(tmp string) (entry, error) {
			plain := filepath.Join(tmp, "archive.tar")
			err := decompressTo(file, plain)
			return flattenDockerTar(ctx, s, plain, err)
		})
	}
}

// flattenRootfs flattens a plain root filesystem tarball, keyed by the digest of its bytes.
func flattenRootfs(ctx context.Context, s store, file string) (entry, error) {
	var sum string
	e, tmp, err := s.fillTemp(func(tmp string) (entry, error) {
		in, err := os.Open(file)
		if err != nil {
			return entry{}, err
		}
		defer in.Close()
		h := sha256.New()
		rd, err := decompress(io.TeeReader(in, h))
		if err != nil {
			return entry{}, err
		}
		defer rd.Close()
		f, err := newFlattener(ctx, filepath.Join(tmp, "rootfs"))
		if err != nil {
			return entry{}, err
		}
		defer f.Close()
		if err := f.apply(rd); err != nil {
			return entry{}, err
		}
		if err := f.finish(); err != nil {
			return entry{}, err
		}
		if _, err := io.Copy(io.Discard, in); err != nil { // the digest covers the whole file
			return entry{}, err
		}
		sum = "sha256-" + hex.EncodeToString(h.Sum(nil))
		e := entry{Key: sum}
		return e, ctx.Err()
	})
	if err != nil {
		return entry{}, err
	}
	return e, s.install(tmp, sum)
}

// flattenLayout flattens the image for want from the OCI layout in folder dir.
func flattenLayout(ctx context.Context, s store, dir string, want v1.Platform) (entry, error) {
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return entry{}, err
	}
	img, desc, err := pickImage(idx, want)
	if err != nil {
		return entry{}, err
	}
	return flattenInto(ctx, s, keyOf(desc.Digest.String()), img, desc)
}

// flattenDockerTar flattens the single image of an uncompressed docker save archive; prevErr
// is an error met while preparing the file.
func flattenDockerTar(ctx context.Context, s store, file string, prevErr error) (entry, error) {
	if prevErr != nil {
		return entry{}, prevErr
	}
	img, err := tarball.ImageFromPath(file, nil)
	if err != nil {
		return entry{}, err
	}
	desc := v1.Descriptor{}
	// The manifest of an archive with uncompressed layers would only exist after compressing
	// them all (seconds for a large root): key such images by their config, the image ID.
	m, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(file) })
	if err != nil {
		return entry{}, err
	}
	if len(m) != 1 {
		return entry{}, fmt.Errorf("the archive holds %d images, want one", len(m))
	}
	compressed := false
	if len(m[0].Layers) > 0 {
		if compressed, err = memberCompressed(file, m[0].Layers[0]); err != nil {
			return entry{}, err
		}
	}
	key := ""
	if compressed {
		if desc.Digest, err = img.Digest(); err != nil {
			return entry{}, err
		}
		key = keyOf(desc.Digest.String())
	} else {
		id, err := img.ConfigName()
		if err != nil {
			return entry{}, err
		}
		key = keyOf(id.String())
	}
	return flattenInto(ctx, s, key, img, desc)
}

// flattenInto puts img into the cache under key.
func flattenInto(ctx context.Context, s store, key string, img v1.Image, desc v1.Descriptor) (entry, error) {
	return s.ensure(key, func(rootfs string) (entry, error) {
		e, err := imageEntry(img, desc)
		if err != nil {
			return entry{}, err
		}
		if desc.Digest == (v1.Hash{}) {
			e.Digest = ""
		}
		return e, flattenImage(ctx, img, rootfs)
	})
}

// withTemp runs fn with a scratch folder under the cache's tmp/, removed afterwards.
func withTemp(s store, prefix string, fn func(tmp string) (entry, error)) (entry, error) {
	tmp, err := s.newTemp(prefix)
	if err != nil {
		return entry{}, err
	}
	defer removeTree(tmp)
	return fn(tmp)
}

// Names that appear at the top of docker save archives and OCI layouts, and nowhere else.
// Layers and configs are named after their digest: "HEX.json", "HEX/layer.tar" (docker),
// "sha256:HEX", "HEX.tar.gz" (go-containerregistry).
var imageMember = regexp.MustCompile(`^(manifest\.json|repositories|index\.json|oci-layout|blobs|(sha256:)?[0-9a-f]{64}(\.[a-z.]+)?)$`)

// sniffArchive tells a plain root filesystem tarball from an image archive by the names at its
// top level. A root shows a name such as etc or usr within its first entries; an image archive
// must be read to the end.
func sniffArchive(file string) (string, error) {
	var manifest, index, ociLayout bool
	err := walkTar(file, func(hdr *tar.Header, _ io.Reader) (bool, error) {
		p, err := cleanName(hdr.Name)
		if err != nil {
			return false, err
		}
		top, _, _ := cutPath(p)
		if top == "." {
			return true, nil
		}
		if !imageMember.MatchString(top) {
			manifest, index = false, false
			return false, nil
		}
		switch p {
		case "manifest.json":
			manifest = true
		case "index.json":
			index = true
		case "oci-layout":
			ociLayout = true
		}
		return true, nil
	})
	switch {
	case err != nil:
		return "", err
	case index && ociLayout:
		// docker save since Docker 25 writes both; the OCI index records the manifest digest.
		return formatOCITar, nil
	case manifest:
		return formatDockerTar, nil
	}
	return formatRootfs, nil
}

func cutPath(p string) (top, rest string, found bool) {
	for i := 0; i < len(p); i++ {
		if p[i] == '/' {
			return p[:i], p[i+1:], true
		}
	}
	return p, "", false
}

// memberCompressed reports whether archive member name is compressed.
func memberCompressed(file, name string) (bool, error) {
	name = path.Clean(name)
	compressed, found := false, false
	err := walkTar(file, func(hdr *tar.Header, r io.Reader) (bool, error) {
		if path.Clean(hdr.Name) != name {
			return true, nil
		}
		found = true
		var magic [6]byte
		n, _ := io.ReadFull(r, magic[:])
		compressed = compressionOf(magic[:n]) != ""
		return false, nil
	})
	if err == nil && !found {
		err = fmt.Errorf("%s is missing from the archive", name)
	}
	return compressed, err
}

// walkTar calls fn for each entry of the (possibly compressed) tar file until fn returns false.
func walkTar(file string, fn func(*tar.Header, io.Reader) (bool, error)) error {
	in, err := os.Open(file)
	if err != nil {
		return err
	}
	defer in.Close()
	var rd io.Reader = in // an *os.File lets archive/tar seek over contents
	if compressed, err := isCompressed(file); err != nil {
		return err
	} else if compressed {
		dec, err := decompress(in)
		if err != nil {
			return err
		}
		defer dec.Close()
		rd = dec
	}
	tr := tar.NewReader(rd)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading %s: %w", file, err)
		}
		more, err := fn(hdr, tr)
		if err != nil || !more {
			return err
		}
	}
}

// unpack writes the (possibly compressed) tar file into folder dir.
func unpack(ctx context.Context, file, dir string) error {
	in, err := os.Open(file)
	if err != nil {
		return err
	}
	defer in.Close()
	rd, err := decompress(in)
	if err != nil {
		return err
	}
	defer rd.Close()
	f, err := newFlattener(ctx, dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.apply(rd); err != nil {
		return err
	}
	return f.finish()
}

func decompressTo(file, out string) error {
	in, err := os.Open(file)
	if err != nil {
		return err
	}
	defer in.Close()
	rd, err := decompress(in)
	if err != nil {
		return err
	}
	defer rd.Close()
	o, err := os.Create(out)
	if err != nil {
		return err
	}
	_, err = io.Copy(o, rd)
	if cerr := o.Close(); err == nil {
		err = cerr
	}
	return err
}

// compressionOf names the compression that a stream starting with magic uses, "" for none.
func compressionOf(magic []byte) string {
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		return "gzip"
	case bytes.HasPrefix(magic, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}):
		return "xz"
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return "zstd"
	}
	return ""
}

func isCompressed(file string) (bool, error) {
	f, err := os.Open(file)
	if err != nil {
		return false, err
	}
	defer f.Close()
	var magic [6]byte
	n, err := io.ReadFull(f, magic[:])
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return false, err
	}
	return compressionOf(magic[:n]) != "", nil
}

// decompress returns r's content, decompressed when it is gzip, xz or zstd.
func decompress(r io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	magic, _ := br.Peek(6)
	switch compressionOf(magic) {
	case "gzip":
		return gzip.NewReader(br)
	case "xz":
		x, err := xz.NewReader(br)
		return io.NopCloser(x), err
	case "zstd":
		z, err := zstd.NewReader(br)
		if err != nil {
			return nil, err
		}
		return z.IOReadCloser(), nil
	}
	return io.NopCloser(br), nil
}
