package buildsys

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// copyDir is where projects that only build in tree (autotools, plain Makefiles) are built:
// a copy of the source, so that the source itself is never written to.
func copyDir(j Job) string { return filepath.Join(j.Build, "src") }

// syncCopy makes copyDir(j) mirror j.Src. Files whose size and modification time already
// match are left alone, so make sees an unchanged tree as up to date; copies keep the
// source's modification times. Files that exist only in the copy (build products) stay.
func syncCopy(j Job) error {
	dst := copyDir(j)
	return filepath.WalkDir(j.Src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(j.Src, path)
		if err != nil {
			return err
		}
		if d.IsDir() && path != j.Src && skipCopy(j, path, d.Name()) {
			return filepath.SkipDir
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			if old, err := os.Readlink(target); err == nil && old == link {
				return nil
			}
			os.Remove(target)
			return os.Symlink(link, target)
		case d.Type().IsRegular():
			if st, err := os.Stat(target); err == nil && st.Size() == info.Size() && st.ModTime().Equal(info.ModTime()) {
				return nil
			}
			return copyFile(path, target, info)
		}
		return nil
	})
}

func skipCopy(j Job, path, name string) bool {
	if name == ".git" || name == ".hg" || name == ".svn" {
		return true
	}
	for _, ex := range j.Exclude {
		if path == ex {
			return true
		}
	}
	return false
}

func copyFile(src, dst string, info fs.FileInfo) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	// A copy may be read-only from an earlier sync, and build products may be hard links.
	os.Remove(dst)
	// Source files keep their permission bits but always become writable in the copy,
	// because autoreconf and configure rewrite some of them.
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, info.Mode().Perm()|0o200)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copying %s: %w", src, err)
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chtimes(dst, info.ModTime(), info.ModTime())
}

// inSource reports whether rel exists in the source tree as the same file, which means it was
// not produced by the build (a binary committed to the project).
func inSource(j Job, root, path string) bool {
	if root != copyDir(j) {
		return false
	}
	rel, err := filepath.Rel(root, path)
	if err != nil || strings.HasPrefix(rel, "..") {
		return false
	}
	src, err1 := os.Stat(filepath.Join(j.Src, rel))
	cp, err2 := os.Stat(path)
	return err1 == nil && err2 == nil && src.Size() == cp.Size() && src.ModTime().Equal(cp.ModTime())
}
