package risk

import (
	"bytes"
	"debug/elf"
	"fmt"
	"path"
	"strings"

	"github.com/portabin/portabin/internal/elfimage"
)

// stringScan is what the printable strings of a file's data contain.
type stringScan struct {
	markers      map[string]bool
	runtimeFiles []string // table paths, in the order first seen
	absPaths     []string
}

// markers are strings whose mere presence tells something (see libcName, dlopen, nss).
var markers = []string{"GLIBC_TUNABLES", muslDlopenStub, "/etc/nsswitch.conf"}

func (s *stringScan) has(marker string) bool { return s.markers[marker] }

// scanStrings reads the allocated data sections (not code, not debug information), or with no
// section headers the loadable segments, up to maxScan bytes, and looks at every run of at
// least four printable characters.
func scanStrings(f *elf.File) (*stringScan, error) {
	s := &stringScan{markers: map[string]bool{}}
	seenFile, seenPath := map[string]bool{}, map[string]bool{}
	visit := func(str string) {
		for _, p := range runtimeFilesIn(str) {
			if !seenFile[p] {
				seenFile[p] = true
				s.runtimeFiles = append(s.runtimeFiles, p)
			}
		}
		for _, p := range buildPathsIn(str) {
			if !seenPath[p] {
				seenPath[p] = true
				s.absPaths = append(s.absPaths, p)
			}
		}
	}
	budget := int64(maxScan)
	scan := func(get func(limit int64) ([]byte, error), what string) error {
		if budget <= 0 {
			return nil
		}
		data, err := get(budget)
		if err != nil {
			return fmt.Errorf("reading %s: %w", what, err)
		}
		budget -= int64(len(data))
		// A marker is printable and at least four characters long, so wherever it occurs it
		// lies in a run that the scan looks at.
		for _, m := range markers {
			if !s.markers[m] && bytes.Contains(data, []byte(m)) {
				s.markers[m] = true
			}
		}
		pathRuns(data, visit)
		return nil
	}
	for _, sec := range f.Sections {
		if sec.Type != elf.SHT_PROGBITS || sec.Flags&elf.SHF_ALLOC == 0 || sec.Flags&elf.SHF_EXECINSTR != 0 {
			continue
		}
		get := func(limit int64) ([]byte, error) { return elfimage.Section(sec, limit) }
		if err := scan(get, "section "+sec.Name); err != nil {
			return nil, err
		}
	}
	if len(f.Sections) == 0 {
		for _, p := range f.Progs {
			if p.Type == elf.PT_LOAD {
				get := func(limit int64) ([]byte, error) { return elfimage.Segment(p, limit) }
				if err := scan(get, "a loadable segment"); err != nil {
					return nil, err
				}
			}
		}
	}
	return s, nil
}

// pathRuns calls visit with every run of at least four printable ASCII characters (tab
// included) that holds a '/', in order: the runs that can name a file. It jumps from one '/' to
// the next, which bytes.IndexByte finds many bytes at a time, and looks at the bytes around
// each, so that the read-only data of a large library is not walked byte by byte.
func pathRuns(data []byte, visit func(string)) {
	for from := 0; from < len(data); {
		i := bytes.IndexByte(data[from:], '/')
		if i < 0 {
			return
		}
		start, end := from+i, from+i+1
		for start > from && printable(data[start-1]) {
			start--
		}
		for end < len(data) && printable(data[end]) {
			end++
		}
		if end-start >= 4 {
			visit(string(data[start:end]))
		}
		from = end
	}
}

func printable(b byte) bool { return b >= 0x20 && b < 0x7f || b == '\t' }

// isPathByte reports the bytes that may continue a path in a string.
func isPathByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || strings.IndexByte("._+-@~/", b) >= 0
}

// pathStarts returns the positions in str where a path may start: a '/' at the start or after
// a byte that cannot be part of a path.
func pathStarts(str string) []int {
	var out []int
	for from := 0; from < len(str); {
		i := strings.IndexByte(str[from:], '/')
		if i < 0 {
			break
		}
		i += from
		if i == 0 || !isPathByte(str[i-1]) {
			out = append(out, i)
		}
		from = i + 1
	}
	return out
}

// pathsAt returns the positions of starts (pathStarts of str) where prefix, which begins with
// '/', starts a path, in order.
func pathsAt(str string, starts []int, prefix string) []int {
	var out []int
	for _, i := range starts {
		if strings.HasPrefix(str[i:], prefix) {
			out = append(out, i)
		}
	}
	return out
}

// buildPrefixes start the folders that builds run in: home folders, CI workspaces and scratch
// space. /portabin/src, to which portabin maps the sources, is not among them.
var buildPrefixes = []string{"/home/", "/root/", "/build/", "/builds/", "/tmp/", "/var/tmp/", "/usr/src/", "/Users/", "/__w/", "/github/workspace/"}

var sourceExtensions = map[string]bool{
	".c": true, ".h": true, ".cc": true, ".cpp": true, ".cxx": true, ".c++": true, ".hh": true, ".hpp": true,
	".hxx": true, ".inc": true, ".def": true, ".ipp": true, ".tcc": true, ".s": true, ".S": true, ".asm": true,
	".y": true, ".l": true, ".m": true, ".mm": true, ".f": true, ".f90": true, ".rs": true, ".zig": true,
}

// buildPathsIn returns the absolute build paths in str that look like sources or project
// folders: a source file name, or at least three folders deep (/home/user/project).
func buildPathsIn(str string) []string {
	var out []string
	starts := pathStarts(str)
	for _, prefix := range buildPrefixes {
		for _, i := range pathsAt(str, starts, prefix) {
			end := i
			for end < len(str) && isPathByte(str[end]) {
				end++
			}
			p := strings.TrimRight(str[i:end], "/.")
			parts := strings.Count(strings.Trim(path.Clean(p), "/"), "/") + 1
			if sourceExtensions[path.Ext(p)] || parts >= 3 {
				out = append(out, p)
			}
		}
	}
	return out
}

// runtimeFilesIn returns the table paths that str names, the longest at each place
// ("/etc/ssl/certs/ca-certificates.crt", not also "/etc/ssl/certs").
func runtimeFilesIn(str string) []string {
	longest := map[int]string{}
	starts := pathStarts(str)
	for _, rf := range runtimeFiles {
		for _, i := range pathsAt(str, starts, rf.path) {
			end := i + len(rf.path)
			// The path must end there, or go on into the folder it names.
			if end < len(str) && isPathByte(str[end]) && str[end] != '/' {
				continue
			}
			if len(rf.path) > len(longest[i]) {
				longest[i] = rf.path
			}
		}
	}
	var out []string
	for i := 0; i < len(str) && len(longest) > 0; i++ {
		if p, ok := longest[i]; ok {
			delete(longest, i)
			if runtimeWhy[p] != "" {
				out = append(out, p)
			}
		}
	}
	return out
}
