package buildsys

import (
	"io/fs"
	"path/filepath"
	"sort"

	"github.com/portabin/portabin/internal/elfinfo"
)

// internalDirs hold executables that build systems make for their own checks
// (compiler identification, sanity checks), never the project's.
var internalDirs = map[string]bool{
	"CMakeFiles": true, "meson-private": true, "meson-logs": true, "meson-info": true,
	".portabin": true, "autom4te.cache": true, ".libs": true, ".deps": true, ".git": true,
	"_CPack_Packages": true,
}

// Executables lists the executables the build of j produced, sorted by path.
func Executables(s System, j Job) ([]string, error) {
	root := s.Root(j)
	var exes []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && internalDirs[d.Name()] {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil || info.Mode().Perm()&0o111 == 0 {
			return err
		}
		ok, err := elfinfo.IsExecutable(path)
		if err != nil || !ok || inSource(j, root, path) {
			return nil
		}
		exes = append(exes, path)
		return nil
	})
	sort.Strings(exes)
	return exes, err
}
