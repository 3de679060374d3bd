package buildsys

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// skippedDirs are folders whose sources are usually not part of a project's default build
// (zlib's contrib/ has C++ that its build never touches). A C++ file missed here still stops the
// build, with the same message, when the build system runs c++.
var skippedDirs = map[string]bool{
	"build": true, "_build": true, "builddir": true,
	"contrib": true, "doc": true, "docs": true, "example": true, "examples": true,
}

// HasCXXSources returns the first C++ source below dir (relative to dir), skipping hidden folders,
// build trees and folders that are usually not built; false when there is none.
func HasCXXSources(dir string) (string, bool) {
	var found string
	errFound := errors.New("found")
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // an unreadable folder is the build system's problem to report
		}
		if d.IsDir() {
			if path != dir && (strings.HasPrefix(d.Name(), ".") || skippedDirs[d.Name()] || isBuildTree(path)) {
				return filepath.SkipDir
			}
			return nil
		}
		if cxxExts[filepath.Ext(d.Name())] && d.Type().IsRegular() {
			found, _ = filepath.Rel(dir, path)
			return errFound
		}
		return nil
	})
	return found, found != ""
}

// isBuildTree recognises a CMake or Meson build folder by what those tools leave in it.
func isBuildTree(dir string) bool {
	for _, marker := range []string{"CMakeCache.txt", "meson-private"} {
		if _, err := os.Lstat(filepath.Join(dir, marker)); err == nil {
			return true
		}
	}
	return false
}
