// Package config reads portabin.toml, the file in a project's root that says what to build, check and test.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	toml "github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"

	"github.com/portabin/portabin/internal/buildsys"
	"github.com/portabin/portabin/internal/check"
	"github.com/portabin/portabin/internal/kernels"
	"github.com/portabin/portabin/internal/target"
	"github.com/portabin/portabin/internal/uerr"
)

// FileName is the name of the file in a project's root.
const FileName = "portabin.toml"

// Config is a loaded and checked portabin.toml. Keys the file leaves out hold their defaults,
// the same as the command-line flags they mirror.
type Config struct {
	// Path is the file, absolute; Dir is its folder, against which its paths are resolved.
	Path, Dir string
	Build     Build
	// Deps maps a library to its version: [deps] zlib = "1.3".
	Deps   map[string]string
	Check  Check
	Matrix Matrix
	Tests  []Test
}

// Path is a file or folder named in portabin.toml.
type Path struct {
	// Written is the path as the file says it; Resolved is absolute, relative paths taken from
	// the folder of portabin.toml. Both are empty when the key is absent.
	Written, Resolved string
}

// IsSet reports whether the file gave this path.
func (p Path) IsSet() bool { return p.Written != "" }

// Build is [build]: what `portabin build` does.
type Build struct {
	// Toolchain is "zig", "container" or "musl-gcc".
	Toolchain string
	// Targets is empty when the file names none: build for the host.
	Targets []target.Target
	// System is the build system to use; empty means detect it.
	System buildsys.Kind
	// Args go to the configure step or to make, as arguments after -- do.
	Args []string
	Env  map[string]string
	// Executables are the names or globs of the executables to ship; empty ships every
	// executable portabin's compiler wrapper linked.
	Executables []string
	Strip       bool
	PIE         bool
	Debug       bool
	Jobs        int
	// Image is the builder image for the container toolchain; empty means portabin's own.
	Image string
	Out   Path
	// Sysroot is a prefix of static libraries (include/, lib/, lib/pkgconfig/) to build against.
	Sysroot Path
	// Malloc is "" (musl's allocator) or "mimalloc".
	Malloc string
}

// Check is [check]: what `portabin check` requires of each executable.
type Check struct {
	// RequireKernel is the oldest kernel the executables must run on; Name is empty when unset.
	RequireKernel kernels.Kernel
	// RequireISA is the highest CPU level they may need, e.g. "x86-64-v2"; empty for any.
	RequireISA   string
	AllowDynamic bool
}

// Requirements are the same choices in the form check.File takes.
func (c Check) Requirements() check.Requirements {
	return check.Requirements{Kernel: c.RequireKernel.Version, ISA: c.RequireISA, AllowDynamic: c.AllowDynamic}
}

// Matrix is [matrix]: where `portabin test` runs the executables.
type Matrix struct {
	// Roots and Kernels are empty when the file names none: `portabin test`'s defaults apply.
	Roots   []Root
	Kernels []kernels.Kernel
	// Runner is "native", "podman" or "docker".
	Runner  string
	Jobs    int
	Network bool
	Timeout time.Duration
}

// Root is one root filesystem of the matrix.
type Root struct {
	// Written is the root as the file says it; Spec is what `portabin test --on` takes, with
	// the path of dir: and tar: made absolute.
	Written, Spec string
}

// Test is one [[test]]: run an executable and compare what it does with what is expected.
type Test struct {
	Name string
	// Executable is the shipped executable to run. Empty means the only one; when a build ships
	// several, the caller reports the test as ambiguous.
	Executable string
	Args       []string
	// Stdin is a file fed to the program; unset means an empty stdin.
	Stdin Path
	// ExpectStdout is a file stdout must equal; ExpectStdoutRegex an expression it must match.
	// At most one is set; with neither, stdout is not compared.
	ExpectStdout      Path
	ExpectStdoutRegex *regexp.Regexp
	ExpectExit        int
	// Timeout is the test's own, else the matrix's.
	Timeout time.Duration
	Env     map[string]string
}

// Find returns the portabin.toml of the project in dir.
func Find(dir string) (string, error) {
	path := filepath.Join(dir, FileName)
	st, err := os.Stat(path)
	switch {
	case err == nil && st.Mode().IsRegular():
		return path, nil
	case err == nil:
		return "", uerr.Usage("", "%s is not a file", path)
	case !errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("looking for %s: %w", FileName, err)
	}
	if _, err := os.Stat(dir); err != nil {
		return "", uerr.Usage("give the folder of a project", "%s does not exist", dir)
	}
	return "", uerr.Usage(fmt.Sprintf("run 'portabin init %s' to write one", dir), "no %s in %s", FileName, dir)
}

// Load reads and checks the file at path. Its errors are usage errors naming the file, line
// and column: "portabin.toml:12:5: unknown key \"buidl\"". When several values are wrong, the
// first is the message and the others are the error's detail.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, uerr.Usage("run 'portabin init' to write one", "%s does not exist", path)
		}
		return nil, uerr.Usage("", "reading %s: %v", path, err)
	}
	data = bytes.TrimPrefix(data, []byte("\ufeff")) // as some Windows editors write
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("finding %s: %w", path, err)
	}
	l := &loader{name: path, dir: filepath.Dir(abs), ix: indexPositions(data)}
	raw := defaults()
	dec := toml.NewDecoder(bytes.NewReader(data)).DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		// Unknown keys are found after everything else was decoded, so the values can
		// still be checked; any other error leaves nothing to check.
		if !l.decodeError(err) {
			return nil, l.err()
		}
	}
	c := l.convert(raw)
	c.Path = abs
	if err := l.err(); err != nil {
		return nil, err
	}
	return c, nil
}

// loader collects what is wrong with one file.
type loader struct {
	name     string
	dir      string
	ix       *positions
	problems []problem
}

type problem struct {
	at        pos
	msg, hint string
}

// fail records a problem with the value at path.
func (l *loader) fail(path, hint, format string, args ...any) {
	l.failAt(l.ix.value(path), display(path)+": "+fmt.Sprintf(format, args...), hint)
}

func (l *loader) failAt(at pos, msg, hint string) {
	l.problems = append(l.problems, problem{at, msg, hint})
}

func (l *loader) line(p problem) string {
	if !p.at.known() {
		return fmt.Sprintf("%s: %s", l.name, p.msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", l.name, p.at.line, p.at.col, p.msg)
}

// err is nil when the file is fine, else one usage error: the first problem in the file's
// order, the others as its detail.
func (l *loader) err() error {
	if len(l.problems) == 0 {
		return nil
	}
	sort.SliceStable(l.problems, func(i, j int) bool {
		a, b := l.problems[i].at, l.problems[j].at
		return a.line < b.line || a.line == b.line && a.col < b.col
	})
	first := l.problems[0]
	e := uerr.Usage(first.hint, "%s", l.line(first))
	if len(l.problems) == 1 {
		return e
	}
	// The CLI prints the detail before the hint; with several problems each hint stays
	// under its own line instead.
	var detail []string
	for i, p := range l.problems {
		if i > 0 {
			detail = append(detail, l.line(p))
		}
		if p.hint != "" {
			detail = append(detail, "hint: "+p.hint)
		}
	}
	e.Hint, e.Detail = "", strings.Join(detail, "\n")
	return e
}

// decodeError turns go-toml's errors into problems worded for portabin.toml's keys. It
// reports whether the decoded values are complete all the same.
func (l *loader) decodeError(err error) (decoded bool) {
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		for _, e := range strict.Errors {
			l.unknownKey(e)
		}
		return true
	}
	var de *toml.DecodeError
	if !errors.As(err, &de) {
		l.failAt(pos{}, err.Error(), "")
		return false
	}
	line, col := de.Position()
	at := pos{line, col}
	msg := strings.TrimPrefix(de.Error(), "toml: ")
	if path, ok := l.ix.byValue[at]; ok {
		want, have := schemaType(path), ""
		if kind, ok := l.ix.kind(path); ok {
			have = tomlKinds[kind]
			if kind == unstable.ArrayTable {
				have = "[[" + display(path) + "]] tables"
			}
		}
		if m := mismatch.FindStringSubmatch(msg); m != nil && want != nil && have != "" {
			msg = fmt.Sprintf("want %s, not %s", describe(want, path), have)
		}
		l.failAt(at, display(path)+": "+msg, "")
		return false
	}
	// go-toml pointed at a key of a dotted key, or, for an array in an array, at the start of
	// the file; its message still names both types.
	key := strings.Join(de.Key(), ".")
	if _, onKey := l.ix.byKey[at]; !onKey && at == (pos{1, 1}) {
		if _, known := l.ix.byPath[key]; known {
			at = l.ix.value(key)
		}
	}
	if m := mismatch.FindStringSubmatch(msg); m != nil && goTypes[m[2]] != "" {
		msg = fmt.Sprintf("want %s, not %s", goTypes[m[2]], article(m[1]))
	}
	if key != "" && !strings.Contains(msg, "already defined") {
		msg = key + ": " + msg
	}
	l.failAt(at, msg, "")
	return false
}

// mismatch matches go-toml's type errors: the TOML kind, then the Go type.
var mismatch = regexp.MustCompile(`^cannot (?:decode|store) (?:TOML )?(?:a )?([a-z ]+?) (?:into|in a) (?:struct field \S+ of type )?(\S+)$`)

// goTypes describes the schema's Go types as go-toml's messages name them.
var goTypes = map[string]string{
	"string": "a string", "int": "an integer", "bool": "true or false",
	"[]string": "a list of strings", "map[string]string": "a table of strings",
}

func article(noun string) string {
	if strings.ContainsRune("aeiou", rune(noun[0])) {
		return "an " + noun
	}
	return "a " + noun
}

func (l *loader) unknownKey(e toml.DecodeError) {
	line, col := e.Position()
	key := strings.Join(e.Key(), ".")
	what := "key"
	if path, ok := l.ix.byValue[pos{line, col}]; ok {
		if kind, _ := l.ix.kind(path); kind == unstable.Table || kind == unstable.ArrayTable {
			what = "table"
		}
	}
	hint := "see docs/config.md for the keys"
	if near := closestKey(key); near != "" {
		hint = fmt.Sprintf("did you mean %q?", near)
	}
	l.failAt(pos{line, col}, fmt.Sprintf("unknown %s %q", what, key), hint)
}

// closestKey is the key of the schema nearest to a misspelt one, or "".
func closestKey(key string) string {
	candidates := schemaKeys()
	for _, k := range schemaKeys() {
		candidates = append(candidates, parent(k))
	}
	best, bestDistance := "", 3 // suggest only what is a typo or two away
	for _, k := range candidates {
		if d := editDistance(key, k); d < bestDistance && d > 0 {
			best, bestDistance = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
