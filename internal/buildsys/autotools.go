package buildsys

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

type autotoolsSystem struct{}

func (autotoolsSystem) Root(j Job) string { return copyDir(j) }

func (autotoolsSystem) Build(ctx context.Context, j Job) error {
	dir := copyDir(j)
	if err := syncCopy(j); err != nil {
		return fmt.Errorf("copying the source to the build folder: %w", err)
	}
	if _, err := os.Stat(filepath.Join(j.Src, "configure")); err != nil {
		if stale(filepath.Join(dir, "configure"), filepath.Join(dir, "configure.ac"), filepath.Join(dir, "configure.in")) {
			if err := run(ctx, j, dir, nil, "autoreconf", "-fi"); err != nil {
				return fmt.Errorf("generating configure with autoreconf: %w", err)
			}
		}
	}
	flags := optFlags(j)
	// --host without --build lets configure find out whether it can run what it builds: it can
	// for the host's architecture, and cross-compiles otherwise.
	args := []string{"./configure", "--host=" + j.Target.GNU, "--disable-shared", "--enable-static",
		"CFLAGS=" + flags, "CXXFLAGS=" + flags}
	args = append(args, toolEnv(j)...)
	done, record := configured(j, filepath.Join(dir, "config.status"), args...)
	if !done || stale(filepath.Join(dir, "config.status"), filepath.Join(dir, "configure")) {
		if err := run(ctx, j, dir, nil, args...); err != nil {
			return fmt.Errorf("configuring with ./configure: %w", err)
		}
		if err := record(); err != nil {
			return err
		}
	}
	if err := run(ctx, j, dir, nil, "make", "-j", jobsArg(j)); err != nil {
		return fmt.Errorf("building with make: %w", err)
	}
	return nil
}

// stale reports whether out is missing or older than any of the inputs that exist.
func stale(out string, inputs ...string) bool {
	o, err := os.Stat(out)
	if err != nil {
		return true
	}
	for _, in := range inputs {
		if i, err := os.Stat(in); err == nil && i.ModTime().After(o.ModTime()) {
			return true
		}
	}
	return false
}
