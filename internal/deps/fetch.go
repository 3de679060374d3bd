package deps

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/portabin/portabin/internal/cache"
	"github.com/portabin/portabin/internal/uerr"
)

// Fetcher finds a release's source tarball: in its cache (by sha256), in a folder the user
// supplies, or by download, and never hands out a file whose sha256 is not the recipe's.
type Fetcher struct {
	// Sources is a folder of tarballs (portabin then never downloads) or the base URL of a
	// mirror that serves them by file name. Empty: the recipes' own URLs.
	Sources string
	// Client downloads; nil is http.DefaultClient.
	Client *http.Client

	scanOnce sync.Once
	scanned  map[string]string // sha256 → path in Sources
	scanErr  error
}

// offline reports whether the sources come from a folder only.
func (f *Fetcher) offline() bool {
	return f.Sources != "" && !strings.HasPrefix(f.Sources, "http://") && !strings.HasPrefix(f.Sources, "https://")
}

// Fetch returns the path of a verified tarball of p, in portabin's cache.
func (f *Fetcher) Fetch(ctx context.Context, p Package) (string, error) {
	dir, err := cache.Sub("deps", "sources")
	if err != nil {
		return "", err
	}
	for _, s := range p.Version.Sources {
		cached := filepath.Join(dir, s.SHA256, s.FileName())
		if _, err := os.Stat(cached); err == nil {
			return cached, nil
		}
	}
	if f.offline() {
		return f.fromFolder(p, dir)
	}
	var errs []string
	for _, s := range p.Version.Sources {
		url := s.URL
		if f.Sources != "" {
			url = strings.TrimSuffix(f.Sources, "/") + "/" + s.FileName()
		}
		path, err := f.download(ctx, url, s, dir)
		if err == nil {
			return path, nil
		}
		var ue *uerr.Error
		if errors.As(err, &ue) || ctx.Err() != nil {
			return "", err // a sha256 mismatch is not retried elsewhere: someone must look
		}
		errs = append(errs, err.Error())
	}
	e := uerr.Env(fmt.Sprintf("download %s and give its folder with --sources DIR (or PORTABIN_SOURCES)", p.Version.Sources[0].URL),
		"fetching the source: %s", strings.Join(errs, "; "))
	return "", e
}

// fromFolder copies the tarball with the recipe's sha256 from the sources folder into the
// cache. Files are matched by content, not name: Debian calls zlib-1.2.13.tar.gz
// zlib_1.2.13.orig.tar.gz.
func (f *Fetcher) fromFolder(p Package, dir string) (string, error) {
	f.scanOnce.Do(func() { f.scanned, f.scanErr = hashFolder(f.Sources) })
	if f.scanErr != nil {
		return "", uerr.Usage("give --sources an existing folder", "reading the sources folder: %v", f.scanErr)
	}
	for _, s := range p.Version.Sources {
		if src, ok := f.scanned[s.SHA256]; ok {
			return store(src, s, dir)
		}
	}
	s := p.Version.Sources[0]
	return "", uerr.Usage(fmt.Sprintf("download %s (sha256 %s) into %s", s.URL, s.SHA256, f.Sources),
		"no source tarball in %s (offline: --sources is a folder)", f.Sources)
}

// hashFolder maps the sha256 of every tarball below dir (three levels: Debian's
// source/NAME/download/ layout) to its path.
func hashFolder(dir string) (map[string]string, error) {
	sums := map[string]string{}
	root := filepath.Clean(dir)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if strings.Count(strings.TrimPrefix(path, root), string(filepath.Separator)) > 3 {
				return filepath.SkipDir
			}
			return nil
		}
		if !isTarball(d.Name()) {
			return nil
		}
		sum, err := fileSHA256(path)
		if err != nil {
			return err
		}
		sums[sum] = path
		return nil
	})
	return sums, err
}

func isTarball(name string) bool {
	for _, ext := range []string{".tar.gz", ".tgz", ".tar.xz", ".tar.bz2", ".tar.zst", ".tar.lz"} {
		if strings.HasSuffix(name, ext) {
			return true
		}
	}
	return false
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// store copies src, verified, to dir/<sha256>/<name>.
func store(src string, s Source, dir string) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	return save(in, src, s, dir)
}

// save writes r to dir/<sha256>/<name> if its sha256 is s's; a temporary file is renamed into
// place, so that no reader sees a partial one, and removed on mismatch.
func save(r io.Reader, from string, s Source, dir string) (string, error) {
	final := filepath.Join(dir, s.SHA256, s.FileName())
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(filepath.Dir(final), ".part-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(tmp, h), r)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", from, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != s.SHA256 {
		os.Remove(tmp.Name())
		os.Remove(filepath.Dir(final)) // empty unless an earlier copy was verified
		e := uerr.Failed("", "%s: sha256 %s, not the recipe's %s: refused and deleted", from, got, s.SHA256)
		e.Hint = "the file is not the release the recipe names: check the mirror or the download"
		return "", e
	}
	if err := os.Rename(tmp.Name(), final); err != nil {
		return "", err
	}
	return final, nil
}

// defaultClient gives up on a server that does not answer, not on a slow download.
var defaultClient = &http.Client{Transport: &http.Transport{
	Proxy:                 http.ProxyFromEnvironment,
	DialContext:           (&net.Dialer{Timeout: 30 * time.Second}).DialContext,
	TLSHandshakeTimeout:   30 * time.Second,
	ResponseHeaderTimeout: time.Minute,
}}

func (f *Fetcher) download(ctx context.Context, url string, s Source, dir string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	client := f.Client
	if client == nil {
		client = defaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s", url, resp.Status)
	}
	return save(resp.Body, url, s, dir)
}
