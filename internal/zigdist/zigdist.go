// Package zigdist finds or provisions the zig toolchain, verified by checksum.
package zigdist

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/portabin/portabin/internal/cache"
	"github.com/portabin/portabin/internal/logs"
	"github.com/portabin/portabin/internal/runner"
	"github.com/portabin/portabin/internal/uerr"
)

// Zig is a working zig executable.
type Zig struct {
	Path    string // absolute path of the zig executable
	Version string // e.g. "0.11.0" as printed by `zig version`
}

// Options choose where a missing zig comes from.
type Options struct {
	// Source is "auto" (default when empty), "official", "npm", or an http(s)/file URL of a
	// tarball whose sha256 is given in SHA256. Empty falls back to $PORTABIN_ZIG_SOURCE.
	Source string
	// SHA256 is required with a URL source.
	SHA256 string
	// CacheDir is where toolchains live; empty means cache.Sub("toolchains").
	CacheDir string
}

// minMinor is the oldest zig 0.x that portabin accepts: 0.11, the release it pins and is
// tested with; zig changes its command line between 0.x releases.
const minMinor = 11

// errTooOld marks a zig that runs but is older than portabin needs.
var errTooOld = errors.New("too old: portabin needs zig 0.11 or newer")

// Ensure returns a usable zig: $PORTABIN_ZIG if set (it must work), else `zig` on PATH if it is
// 0.11 or newer, else a zig provisioned earlier in the cache, else it provisions the pinned zig
// from opts.Source.
func Ensure(ctx context.Context, opts Options) (Zig, error) {
	z, found, err := Lookup(ctx, opts)
	if found || err != nil {
		return z, err
	}
	archives, dir, err := locations(opts)
	if err != nil {
		return Zig{}, err
	}
	// Only "auto" lists a second archive, tried when the first could not be downloaded.
	z, err = provision(ctx, dir, archives[0])
	for _, next := range archives[1:] {
		var netErr *networkError
		if err == nil || !errors.As(err, &netErr) {
			break
		}
		logs.Progress.Printf("portabin: %v; trying %s instead", err, next.name)
		z, err = provision(ctx, dir, next)
	}
	return z, err
}

// Lookup is Ensure without provisioning: found is false when Ensure would download zig.
func Lookup(ctx context.Context, opts Options) (z Zig, found bool, err error) {
	if p := os.Getenv("PORTABIN_ZIG"); p != "" {
		z, err := probe(ctx, p)
		if err != nil {
			return Zig{}, false, wrapEnv(err, "point PORTABIN_ZIG to zig 0.11 or newer, or unset it so that portabin finds or provisions one",
				"PORTABIN_ZIG is not a usable zig")
		}
		return z, true, nil
	}
	if p, err := exec.LookPath("zig"); err == nil {
		z, err := probe(ctx, p)
		if err == nil {
			return z, true, nil
		}
		if ctx.Err() != nil {
			return Zig{}, false, err
		}
		logs.Warn.Printf("portabin: ignoring zig on PATH: %v", err)
	}
	archives, dir, err := locations(opts)
	if err != nil {
		return Zig{}, false, err
	}
	for _, a := range archives {
		if z, ok, err := cached(ctx, dir, a); ok || err != nil {
			return z, ok, err
		}
	}
	return Zig{}, false, nil
}

// locations lists the archives opts allows and the folder they are provisioned into.
func locations(opts Options) ([]archive, string, error) {
	archives, err := plan(opts)
	if err != nil {
		return nil, "", err
	}
	dir := opts.CacheDir
	if dir == "" {
		if dir, err = cache.Sub("toolchains"); err != nil {
			return nil, "", err
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, "", fmt.Errorf("creating toolchain folder: %w", err)
	}
	return archives, dir, nil
}

// probe returns the zig at path (a file, or a name looked up in PATH) if it works.
func probe(ctx context.Context, path string) (Zig, error) {
	if !strings.ContainsRune(path, filepath.Separator) {
		if p, err := exec.LookPath(path); err == nil {
			path = p
		}
	}
	path, err := filepath.Abs(path)
	if err != nil {
		return Zig{}, err
	}
	if _, err := os.Stat(path); err != nil {
		return Zig{}, err // says "no such file" once, where running it would repeat the path
	}
	// The resolved path names the zig for cache keys, however it was reached.
	if path, err = filepath.EvalSymlinks(path); err != nil {
		return Zig{}, err
	}
	v, err := Version(ctx, path)
	if err != nil {
		return Zig{}, err
	}
	return Zig{Path: path, Version: v}, nil
}

// Version runs `zig version` and checks that it is 0.11 or newer.
func Version(ctx context.Context, path string) (string, error) {
	cmd := exec.CommandContext(ctx, path, "version")
	cmd.Dir = filepath.Dir(path)
	cmd.Env = os.Environ()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("running %s version: %w", path, context.Cause(ctx))
		}
		return "", &uerr.Error{Code: uerr.ExitEnvironment, Msg: fmt.Sprintf("running %s version", path),
			Detail: runner.Tail(stderr.String(), 20), Err: err}
	}
	v := strings.TrimSpace(string(out))
	if err := checkVersion(v); err != nil {
		return "", &uerr.Error{Code: uerr.ExitEnvironment, Msg: path, Err: err}
	}
	return v, nil
}

// versionRE matches release and dev versions: 0.11.0, 0.12.0-dev.1234+abcdef.
var versionRE = regexp.MustCompile(`^(\d+)\.(\d+)\.(\d+)(?:[-+][0-9A-Za-z.+-]*)?$`)

// checkVersion accepts zig 0.11 and newer; a dev build counts as the release it leads to.
func checkVersion(v string) error {
	m := versionRE.FindStringSubmatch(v)
	if m == nil {
		return fmt.Errorf("%q is not a zig version", v)
	}
	major, err1 := strconv.Atoi(m[1])
	minor, err2 := strconv.Atoi(m[2])
	if err1 != nil || err2 != nil {
		return fmt.Errorf("%q is not a zig version", v)
	}
	if major == 0 && minor < minMinor {
		return fmt.Errorf("version %s is %w", v, errTooOld)
	}
	return nil
}

// wrapEnv turns err into a missing-toolchain error with a hint, keeping err's detail.
func wrapEnv(err error, hint, format string, args ...any) error {
	return &uerr.Error{Code: uerr.ExitEnvironment, Msg: fmt.Sprintf(format, args...), Hint: hint,
		Detail: uerr.DetailOf(err), Err: err}
}
