// Package dist writes build outputs into the dist folder atomically.
package dist

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/portabin/portabin/internal/runner"
)

// Options says how to install an executable.
type Options struct {
	// Strip moves the debug info into <name>.debug next to the executable, which gets a
	// .gnu_debuglink to it.
	Strip bool
	// Objcopy is the objcopy command, default {"objcopy"}. Prefer {zig, "objcopy"}: zig 0.11's
	// objcopy splits executables of every target, while the host's GNU objcopy only reads its own
	// architecture unless binutils-multiarch is installed.
	Objcopy []string
}

// Output describes an installed executable.
type Output struct {
	Path      string `json:"path"`
	DebugPath string `json:"debug,omitempty"`
	Size      int64  `json:"size"`
	SHA256    string `json:"sha256"`
	// SBOM is the CycloneDX file written beside the executable.
	SBOM string `json:"sbom,omitempty"`
	// Check is portabin check's verdict line on the executable, e.g. "portable: x86_64, Linux
	// >= 2.6.17, x86-64-v1"; the caller fills it in.
	Check string `json:"check,omitempty"`
}

// staged is a file complete in the staging folder, waiting to be renamed into dir.
type staged struct {
	name string
	mode os.FileMode
	sum  string
	size int64
}

// Install copies the executable src to dir/<base name of src>. Everything is written into a
// staging folder inside dir, so that the final renames stay on one filesystem and are atomic, and
// an error or a cancelled ctx leaves dir as it was. A file whose content is already in place is
// not rewritten, so a rebuild that changed nothing keeps its mtime.
func Install(ctx context.Context, src, dir string, opts Options) (Output, error) {
	name := filepath.Base(src)
	out, err := install(ctx, src, dir, name, opts)
	if err != nil {
		return Output{}, fmt.Errorf("installing %s in %s: %w", name, dir, err)
	}
	return out, nil
}

func install(ctx context.Context, src, dir, name string, opts Options) (Output, error) {
	if err := ctx.Err(); err != nil {
		return Output{}, context.Cause(ctx)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Output{}, err
	}
	stage, err := os.MkdirTemp(dir, ".portabin-"+name+"-*")
	if err != nil {
		return Output{}, err
	}
	defer os.RemoveAll(stage)

	var files []staged
	if opts.Strip {
		files, err = split(ctx, src, stage, name, opts.Objcopy)
	} else {
		files, err = copyInto(ctx, src, stage, name)
	}
	if err != nil {
		return Output{}, err
	}
	for i := range files {
		if err := finish(filepath.Join(stage, files[i].name), &files[i]); err != nil {
			return Output{}, err
		}
	}
	if err := ctx.Err(); err != nil {
		return Output{}, context.Cause(ctx)
	}
	// The debug file goes first so that the executable never links to a file that is not there.
	for _, f := range files {
		if err := publish(stage, dir, f); err != nil {
			return Output{}, err
		}
	}
	if err := syncDir(dir); err != nil {
		return Output{}, err
	}
	exe := files[len(files)-1]
	result := Output{Path: filepath.Join(dir, name), Size: exe.size, SHA256: exe.sum}
	if len(files) == 2 {
		result.DebugPath = filepath.Join(dir, files[0].name)
	}
	return result, nil
}

func copyInto(ctx context.Context, src, stage, name string) ([]staged, error) {
	in, err := os.Open(src)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	out, err := os.Create(filepath.Join(stage, name))
	if err != nil {
		return nil, err
	}
	defer out.Close()
	if _, err := io.Copy(out, ctxReader{ctx, in}); err != nil {
		return nil, err
	}
	return []staged{{name: name, mode: 0o755}}, out.Close()
}

// split writes the debug info and the stripped executable. The debug file is made under its final
// name because --add-gnu-debuglink records the basename it is given, with a CRC of its content.
func split(ctx context.Context, src, stage, name string, objcopy []string) ([]staged, error) {
	if len(objcopy) == 0 {
		objcopy = []string{"objcopy"}
	}
	src, err := filepath.Abs(src)
	if err != nil {
		return nil, err
	}
	debug := name + ".debug"
	steps := [][]string{
		{"--only-keep-debug", src, debug},
		{"--strip-debug", "--add-gnu-debuglink=" + debug, src, name},
	}
	for _, args := range steps {
		cmd := runner.Cmd{Args: append(append([]string(nil), objcopy...), args...), Dir: stage}
		if err := (runner.Host{}).Run(ctx, cmd); err != nil {
			return nil, fmt.Errorf("splitting debug info: %w", err)
		}
	}
	return []staged{{name: debug, mode: 0o644}, {name: name, mode: 0o755}}, nil
}

// finish makes a staged file durable and gives it its final mode, and records its hash.
func finish(path string, f *staged) error {
	file, err := os.Open(path)
	if err != nil {
		return err
	}
	defer file.Close()
	if f.sum, f.size, err = hash(file); err != nil {
		return err
	}
	if err := file.Chmod(f.mode); err != nil {
		return err
	}
	if err := file.Sync(); err != nil {
		return err
	}
	return file.Close()
}

// publish renames a staged file into dir unless dir already has the same content.
func publish(stage, dir string, f staged) error {
	dst := filepath.Join(dir, f.name)
	if old, err := os.Open(dst); err == nil {
		sum, _, err := hash(old)
		old.Close()
		if err == nil && sum == f.sum {
			return nil
		}
	}
	return os.Rename(filepath.Join(stage, f.name), dst)
}

func hash(r io.Reader) (sum string, size int64, err error) {
	h := sha256.New()
	size, err = io.Copy(h, r)
	return hex.EncodeToString(h.Sum(nil)), size, err
}

// syncDir makes the renames survive a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// ctxReader stops a long copy when ctx is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, context.Cause(r.ctx)
	}
	return r.r.Read(p)
}
