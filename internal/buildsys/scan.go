package buildsys

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/portabin/portabin/internal/elfinfo"
)

// internalDirs hold executables that build systems make for their own checks
// (compiler identification, sanity checks), never the project's.
var internalDirs = map[string]bool{
	"CMakeFiles": true, "meson-private": true, "meson-logs": true, "meson-info": true,
	".portabin": true, "autom4te.cache": true, ".libs": true, ".deps": true, ".git": true,
	"_CPack_Packages": true,
}

// LinkLog is the file in a build folder where portabin's compiler wrapper records every
// executable it links.
func LinkLog(buildDir string) string { return filepath.Join(buildDir, ".portabin", "linked") }

// linked returns the executables the wrapper recorded, or nil when there is no record.
func linked(j Job) map[string]bool {
	data, err := os.ReadFile(LinkLog(j.Build))
	if err != nil {
		return nil
	}
	set := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		if line != "" {
			set[filepath.Clean(line)] = true
		}
	}
	return set
}

// Executables lists the executables the build of j produced, sorted by path. Only those that
// portabin's compilers linked count: a build also makes programs with the host's compiler
// for its own use (code generators), and copies of its programs.
func Executables(s System, j Job) ([]string, error) {
	root := s.Root(j)
	record := linked(j)
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
		if record != nil && !record[resolved(path)] {
			return nil
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

func resolved(path string) string {
	if r, err := filepath.EvalSymlinks(path); err == nil {
		return r
	}
	return path
}
