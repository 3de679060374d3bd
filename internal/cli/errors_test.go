package cli_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portabin/portabin/internal/target"
	"github.com/portabin/portabin/internal/uerr"
)

// errorCase is one bad input to `portabin build` and how portabin must answer it.
type errorCase struct {
	name string
	// project is a folder of testdata/errors copied to the project folder, or one of
	// missingProject, fileProject, emptyProject.
	project string
	// flags come before --out and the project folder.
	flags []string
	// env adds to (and overrides) the environment of errorEnv.
	env func(t *testing.T) []string
	// skip returns why the case cannot run on this machine, or "".
	skip func(t *testing.T) string
	code int
	// message must all appear in the error line: the first stderr line that is not progress.
	message []string
	// hint must all appear in the "hint: " line; nil accepts any hint or none, empty asks for one.
	hint []string
	// output must all appear somewhere in stderr (the tool's own output after the line).
	output []string
	// maxDuration, when set, bounds how long portabin may take.
	maxDuration time.Duration
}

const (
	missingProject = "<missing>"
	fileProject    = "<file>"
	emptyProject   = "<empty>"
)

func TestBadInput(t *testing.T) {
	host, ok := target.Host()
	if !ok {
		t.Skipf("no default target for a %s host", runtime.GOARCH)
	}
	cases := []errorCase{
		{name: "dir missing", project: missingProject, code: uerr.ExitUsage,
			message: []string{"does not exist"}, hint: []string{"folder of a C or C++ project"}},
		{name: "dir is a file", project: fileProject, code: uerr.ExitUsage,
			message: []string{"is not a folder"}, hint: []string{"folder of a C or C++ project"}},
		{name: "empty folder", project: emptyProject, code: uerr.ExitUsage,
			message: []string{"is not a project"}, hint: []string{"CMake", "Meson", "autotools", "Make", ".c"}},
		{name: "only a readme", project: "readme-only", code: uerr.ExitUsage,
			message: []string{"is not a project"}, hint: []string{"CMake", "Meson", "autotools", "Make", ".c"}},

		{name: "unknown target", project: "hello", flags: []string{"--target", "sparc64"}, code: uerr.ExitUsage,
			message: append([]string{`unknown target "sparc64"`}, target.Names()...), hint: []string{"--help"}},
		{name: "unknown toolchain", project: "hello", flags: []string{"--toolchain", "gcc"}, code: uerr.ExitUsage,
			message: []string{`unknown toolchain "gcc"`}, hint: []string{"zig", "container", "musl-gcc"}},
		{name: "unknown flag", project: "hello", flags: []string{"--frobnicate"}, code: uerr.ExitUsage,
			message: []string{"unknown flag", "--frobnicate"}, hint: []string{"portabin build --help"}},
		{name: "jobs zero", project: "hello", flags: []string{"--jobs", "0"}, code: uerr.ExitUsage,
			message: []string{"--jobs", "at least 1"}},
		{name: "release and debug", project: "hello", flags: []string{"--release", "--debug"}, code: uerr.ExitUsage,
			message: []string{"--release", "--debug"}},
		{name: "two folders", project: "hello", flags: []string{"."}, code: uerr.ExitUsage,
			message: []string{"too many arguments"}},
		{name: "unknown dependency", project: "hello", flags: []string{"--dep", "libfoo=1"}, code: uerr.ExitUsage,
			message: []string{`unknown library "libfoo"`}, hint: []string{"zlib", "curl", "openssl"}},
		{name: "unknown dependency version", project: "hello", flags: []string{"--dep", "zlib=9.9"}, code: uerr.ExitUsage,
			message: []string{`no version "9.9" of zlib`}, hint: []string{"1.2.13"}},
		{name: "dependency source missing offline", project: "hello", flags: []string{"--dep", "zlib=1.2.13"},
			// A cache without dependency builds, so that zlib must be built and its source found.
			env: func(t *testing.T) []string {
				return []string{"PORTABIN_SOURCES=" + t.TempDir(), "PORTABIN_CACHE=" + cacheWithoutDeps(t)}
			},
			code: uerr.ExitUsage, message: []string{"zlib-1.2.13: no source tarball in"},
			hint: []string{"zlib-1.2.13.tar.gz", "b3a24de97a8fdbc835b9833169501030b8977031bcb54b3b3ac13740f846ab30"}},

		{name: "compile error", project: "compile-error", code: uerr.ExitFailed,
			message: []string{host.Name, "failed"},
			output:  []string{"main.c:4:", "undeclared_counter"}, skip: needExe("make")},
		{name: "no executable", project: "library-only", code: uerr.ExitFailed,
			message: []string{"no executable"}, hint: []string{"librar"}, skip: needAll(needExe("cmake"), needExe("make"))},
		{name: "dynamic executable", project: "host-gcc", code: uerr.ExitFailed,
			message: []string{"dynamic", "prog", "/lib64/ld-linux-x86-64.so.2"}, hint: []string{},
			skip: needAll(needHost("amd64"), needExe("gcc"), needExe("make"), needFile("/lib64/ld-linux-x86-64.so.2"))},
		{name: "musl-gcc with C++", project: "cxx-sources", flags: []string{"--toolchain", "musl-gcc"}, code: uerr.ExitUsage,
			message: []string{"main.cpp", "--toolchain zig"}, hint: []string{"--toolchain zig"},
			skip: needExe("musl-gcc")},

		{name: "docker without engine", project: "hello", flags: []string{"--toolchain", "container", "--engine", "docker"},
			// A socket nobody listens on: the client is there, the engine is not, whatever runs here.
			env: func(t *testing.T) []string {
				return []string{"DOCKER_HOST=unix://" + filepath.Join(t.TempDir(), "docker.sock")}
			},
			code: uerr.ExitEnvironment, message: []string{"docker does not work"}, hint: []string{"docker info"},
			skip: needExe("docker")},
		{name: "podman without image", project: "hello",
			flags: []string{"--toolchain", "container", "--engine", "podman", "--image", "localhost/does-not-exist:1"},
			code:  uerr.ExitEnvironment, message: []string{"localhost/does-not-exist:1"}, hint: []string{"podman pull localhost/does-not-exist:1"},
			skip: needExe("podman")},
		{name: "unknown engine", project: "hello", flags: []string{"--toolchain", "container", "--engine", "nonsense"},
			code: uerr.ExitUsage, message: []string{`unknown container engine "nonsense"`}, hint: []string{"podman", "docker"}},

		{name: "zig missing offline", project: "hello", flags: []string{"--zig-source", "official"},
			// portabin pins a zig for linux/amd64 only; elsewhere it asks for one at once.
			env: zigUnreachableEnv, skip: needHost("amd64"), code: uerr.ExitEnvironment,
			message: []string{"downloading", "ziglang.org"}, hint: []string{"PORTABIN_ZIG", "npm"},
			maxDuration: 10 * time.Second},
		{name: "PORTABIN_ZIG nonexistent", project: "hello",
			env:  func(t *testing.T) []string { return []string{"PORTABIN_ZIG=/nonexistent"} },
			code: uerr.ExitEnvironment, message: []string{"PORTABIN_ZIG", "/nonexistent"}, hint: []string{"PORTABIN_ZIG"}},
	}
	for _, tc := range cases {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			t.Parallel()
			if tc.skip != nil {
				if why := tc.skip(t); why != "" {
					t.Skip(why)
				}
			}
			runBadInput(t, tc)
		})
	}
}

// runBadInput runs the case in a folder of its own: work/src is the project, work/out the --out.
func runBadInput(t *testing.T, tc errorCase) {
	work := t.TempDir()
	src := filepath.Join(work, "src")
	out := filepath.Join(work, "out")
	switch tc.project {
	case missingProject:
	case fileProject:
		if err := os.WriteFile(src, []byte("int main(void) { return 0; }\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	case emptyProject:
		if err := os.Mkdir(src, 0o755); err != nil {
			t.Fatal(err)
		}
	default:
		if err := copyTree(filepath.Join("testdata", "errors", tc.project), src); err != nil {
			t.Fatal(err)
		}
	}
	// Everything in work but out: the project, and nothing may appear beside it (./dist).
	before := treeDigest(t, work, "out")

	env := errorEnv()
	if tc.env != nil {
		env = append(env, tc.env(t)...)
	}
	args := append(append([]string{"build"}, tc.flags...), "--out", out, src)
	stdout, stderr, code, took := runPortabin(t, work, env, args...)
	t.Logf("portabin %s\nexit %d in %s\nstderr:\n%s", strings.Join(args, " "), code, took.Round(time.Millisecond), stderr)

	if code != tc.code {
		t.Errorf("exit code %d, want %d", code, tc.code)
	}
	if stdout != "" {
		t.Errorf("stdout is not empty:\n%s", stdout)
	}
	checkErrorOutput(t, stderr, tc)
	if tc.maxDuration > 0 && took > tc.maxDuration {
		t.Errorf("took %s, want at most %s", took.Round(time.Millisecond), tc.maxDuration)
	}
	checkNothingWritten(t, out)
	if diff := cmp.Diff(before, treeDigest(t, work, "out")); diff != "" {
		t.Errorf("the project folder (or its parent) changed (-before +after):\n%s", diff)
	}
}

// progressLine matches the steps portabin reports before the error: a build or runtime step
// starting or ending, zig being provisioned.
var progressLine = regexp.MustCompile(`^portabin: (` +
	`[\w.-]+: building (.+ \(\w+, [\w-]+\)|the [\w +]+ runtime with zig \S+ \(first time only\))(: (done|failed) in \S+)?` +
	`|provisioning zig \S+ from .+` +
	`)$`)

// checkErrorOutput checks portabin's voice: progress lines, then one "portabin: " line that says
// what went wrong, then the tool's own output, then the hint.
func checkErrorOutput(t *testing.T, stderr string, tc errorCase) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	if !strings.HasPrefix(lines[0], "portabin: ") {
		t.Errorf("stderr's first line does not start with \"portabin: \": %q", lines[0])
	}
	i := 0
	for i < len(lines) && progressLine.MatchString(lines[i]) {
		i++
	}
	if i == len(lines) {
		t.Errorf("stderr has only progress lines")
		return
	}
	msg := lines[i]
	switch {
	case !strings.HasPrefix(msg, "portabin: "):
		t.Errorf("the error line does not start with \"portabin: \": %q", msg)
	case strings.TrimSpace(strings.TrimPrefix(msg, "portabin: ")) == "":
		t.Errorf("the error line is empty")
	case strings.HasSuffix(msg, "."):
		t.Errorf("the error line ends with a period: %q", msg)
	case strings.ContainsAny(msg, "\r\t\x1b"):
		t.Errorf("the error line has control characters: %q", msg)
	case len(msg) > 400:
		t.Errorf("the error line is %d characters long: %q", len(msg), msg)
	}
	for _, want := range tc.message {
		if !strings.Contains(msg, want) {
			t.Errorf("the error line %q does not contain %q", msg, want)
		}
	}
	var hints []string
	for _, l := range lines[i+1:] {
		if h, ok := strings.CutPrefix(l, "hint: "); ok {
			hints = append(hints, h)
		}
	}
	switch {
	case tc.hint != nil && len(hints) == 0:
		t.Errorf("no hint: line")
	case len(hints) > 1:
		t.Errorf("%d hint: lines, want one", len(hints))
	}
	if len(hints) > 0 && strings.HasSuffix(hints[0], ".") {
		t.Errorf("the hint ends with a period: %q", hints[0])
	}
	for _, want := range tc.hint {
		if len(hints) > 0 && !strings.Contains(hints[0], want) {
			t.Errorf("the hint %q does not contain %q", hints[0], want)
		}
	}
	for _, want := range tc.output {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not contain %q", want)
		}
	}
}

// checkNothingWritten fails unless out is missing or an empty folder.
func checkNothingWritten(t *testing.T, out string) {
	t.Helper()
	var found []string
	err := filepath.WalkDir(out, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(out, path)
			found = append(found, rel)
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("reading --out %s: %v", out, err)
	}
	if len(found) > 0 {
		t.Errorf("--out %s got files: %s", out, strings.Join(found, ", "))
	}
}

// errorEnv is the whole environment portabin runs with: nothing from the caller's leaks in
// (PORTABIN_ZIG, PORTABIN_ZIG_SOURCE, a proxy), so every case means the same everywhere.
// cacheWithoutDeps is a portabin cache that shares the tests' zig and its runtimes but has no
// dependency builds.
func cacheWithoutDeps(t *testing.T) string {
	dir := t.TempDir()
	for _, shared := range []string{"toolchains", "zig-cache", "runtime-stamps"} {
		if err := os.Symlink(filepath.Join(testCache, shared), filepath.Join(dir, shared)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func errorEnv() []string {
	env := []string{
		"PATH=" + portabinDir + string(os.PathListSeparator) + os.Getenv("PATH"),
		"PORTABIN_CACHE=" + testCache,
		"SOURCE_DATE_EPOCH=1700000000",
		"LC_ALL=C",
	}
	for _, name := range []string{"HOME", "TMPDIR", "USER", "XDG_RUNTIME_DIR"} {
		if v, ok := os.LookupEnv(name); ok {
			env = append(env, name+"="+v)
		}
	}
	return env
}

// zigUnreachableEnv leaves portabin no zig: none on PATH, none in a fresh cache, and no way to
// download one (a proxy that refuses connections makes "offline" certain, and quick).
func zigUnreachableEnv(t *testing.T) []string {
	dirs := []string{portabinDir, "/usr/bin", "/bin"}
	for _, dir := range dirs {
		if _, err := os.Stat(filepath.Join(dir, "zig")); err == nil {
			t.Skipf("%s/zig exists: cannot make a PATH without zig", dir)
		}
	}
	return []string{
		"PATH=" + strings.Join(dirs, string(os.PathListSeparator)),
		"PORTABIN_CACHE=" + t.TempDir(),
		"HTTPS_PROXY=http://127.0.0.1:1", "https_proxy=http://127.0.0.1:1",
		"HTTP_PROXY=http://127.0.0.1:1", "http_proxy=http://127.0.0.1:1",
		"NO_PROXY=", "no_proxy=",
	}
}

func needHost(goarch string) func(*testing.T) string {
	return func(*testing.T) string {
		if runtime.GOARCH != goarch {
			return "needs an " + goarch + " host (the default target)"
		}
		return ""
	}
}

func needExe(name string) func(*testing.T) string {
	return func(*testing.T) string {
		if _, err := exec.LookPath(name); err != nil {
			return name + " is not installed"
		}
		return ""
	}
}

func needFile(path string) func(*testing.T) string {
	return func(*testing.T) string {
		if _, err := os.Stat(path); err != nil {
			return path + " does not exist"
		}
		return ""
	}
}

func needAll(needs ...func(*testing.T) string) func(*testing.T) string {
	return func(t *testing.T) string {
		for _, need := range needs {
			if why := need(t); why != "" {
				return why
			}
		}
		return ""
	}
}

// runPortabin runs the real portabin in dir with exactly env.
func runPortabin(t *testing.T, dir string, env []string, args ...string) (stdout, stderr string, code int, took time.Duration) {
	t.Helper()
	cmd := exec.Command(filepath.Join(portabinDir, "portabin"), args...)
	cmd.Dir = dir
	cmd.Env = env
	var outBuf, errBuf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &outBuf, &errBuf
	start := time.Now()
	err := cmd.Run()
	took = time.Since(start)
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("running portabin: %v", err)
	}
	return outBuf.String(), errBuf.String(), cmd.ProcessState.ExitCode(), took
}

// treeDigest lists every path below root with its mode, modification time, and the content
// digest of files or the target of links, one line each, sorted; names in skip at the top are
// left out.
func treeDigest(t *testing.T, root string, skip ...string) string {
	t.Helper()
	digest, err := digestTree(root, skip...)
	if err != nil {
		t.Fatalf("hashing %s: %v", root, err)
	}
	return digest
}

// digestTree lists every path below root with its mode, time and content hash (or link
// target), sorted, so that two digests are equal only for an unchanged tree.
func digestTree(root string, skip ...string) (string, error) {
	var lines []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		for _, s := range skip {
			if rel == s {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		line := fmt.Sprintf("%s %v %d", rel, info.Mode(), info.ModTime().UnixNano())
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			dest, err := os.Readlink(path)
			if err != nil {
				return err
			}
			line += " -> " + dest
		case d.Type().IsRegular():
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			line += " " + hex.EncodeToString(sum[:])
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		return "", err
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n", nil
}

// TestInterrupt stops a build with SIGINT sent to portabin alone, as kill, a CI runner or a
// supervisor sends it (Ctrl-C would reach the whole process group), and checks that portabin
// says so, leaves nothing in --out and nothing running behind it.
func TestInterrupt(t *testing.T) {
	if _, ok := target.Host(); !ok {
		t.Skipf("no default target for a %s host", runtime.GOARCH)
	}
	for _, exe := range []string{"cmake", "make"} {
		if _, err := exec.LookPath(exe); err != nil {
			t.Skipf("%s is not installed", exe)
		}
	}
	work := t.TempDir()
	// A name of its own, so that the build folder in the cache is fresh and can be recognised.
	name := "interrupt-seed"
	src := filepath.Join(work, name)
	out := filepath.Join(work, "out")
	if err := copyTree(filepath.Join(repoRoot, "examples", "seed"), src); err != nil {
		t.Fatal(err)
	}
	// A source no earlier run compiled, so that zig's cache cannot answer at once and the
	// build is still compiling when the signal comes.
	mainFile := filepath.Join(src, "apps", "main.cpp")
	f, err := os.OpenFile(mainFile, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "// run %d\n", time.Now().UnixNano())
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	before := treeDigest(t, src)
	ours := []string{work, filepath.Join(testCache, "builds", name+"-")}

	cmd := exec.Command(filepath.Join(portabinDir, "portabin"), "build", "--clean", "--out", out, src)
	cmd.Dir = work
	cmd.Env = errorEnv()
	var stdout, stderr lockedOutput
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { killLeftovers(t, ours) })

	// The zig runtime may be built first (slow on a cold zig cache); then the project's step.
	building := "building " + name + " ("
	deadline := time.Now().Add(5 * time.Minute)
	for !strings.Contains(stderr.String(), building) {
		select {
		case err := <-exited:
			t.Fatalf("portabin ended (%v) before it started building:\n%s", err, stderr.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no %q after 5 minutes:\n%s", building, stderr.String())
		}
	}
	time.Sleep(time.Second)
	// Interrupt while the project's own source compiles: a compiler that runs below the build
	// system, where a stop that ends only portabin's child leaves work going on.
	// CMake compiles from portabin's copy of the source, inside the build folder.
	compiling := string(filepath.Separator) + filepath.Join("src", "apps", "main.cpp")
	running, ok := awaitProc(cmd.Process.Pid, time.Minute, func(p proc) bool {
		return p.ppid != cmd.Process.Pid && compilerCmdline.MatchString(p.cmdline) &&
			strings.Contains(p.cmdline, "interrupt-seed-") && strings.Contains(p.cmdline, compiling)
	})
	if !ok {
		t.Logf("no compile of %s seen; interrupting anyway", compiling)
	}
	t.Logf("interrupting portabin (pid %d) with these processes below it:\n%s", cmd.Process.Pid, describeProcs(running))
	known := map[procID]bool{}
	for _, p := range procsUsing(ours) {
		known[p.id()] = true
	}
	interrupted := time.Now()
	if err := cmd.Process.Signal(os.Interrupt); errors.Is(err, os.ErrProcessDone) {
		t.Fatalf("portabin ended before it could be interrupted:\n%s", stderr.String())
	} else if err != nil {
		t.Fatal(err)
	}

	// Watch the build's processes until a grace period after portabin ended: whatever started
	// after the grace period went on building after the interrupt; whatever still runs at its
	// end was left behind.
	var started []proc
	var ended time.Time
	for {
		for _, p := range procsUsing(ours) {
			if !known[p.id()] {
				known[p.id()] = true
				if time.Since(interrupted) > grace {
					started = append(started, p)
				}
			}
		}
		if ended.IsZero() {
			select {
			case <-exited:
				ended = time.Now()
			default:
			}
		}
		if !ended.IsZero() && time.Since(ended) > grace {
			break
		}
		if ended.IsZero() && time.Since(interrupted) > 30*time.Second {
			cmd.Process.Kill()
			<-exited
			t.Fatalf("portabin did not end within 30 s of SIGINT:\n%s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	left := procsUsing(ours)
	t.Logf("portabin ended %s after SIGINT; stderr:\n%s", ended.Sub(interrupted).Round(time.Millisecond), stderr.String())

	if code := cmd.ProcessState.ExitCode(); code != uerr.ExitInterrupted {
		t.Errorf("exit code %d, want %d", code, uerr.ExitInterrupted)
	}
	lines := strings.Split(strings.TrimRight(stderr.String(), "\n"), "\n")
	if last := lines[len(lines)-1]; last != "portabin: interrupted" {
		t.Errorf("stderr's last line is %q, want \"portabin: interrupted\"", last)
	}
	if s := stdout.String(); s != "" {
		t.Errorf("stdout is not empty:\n%s", s)
	}
	checkNothingWritten(t, out)
	if diff := cmp.Diff(before, treeDigest(t, src)); diff != "" {
		t.Errorf("the project folder changed (-before +after):\n%s", diff)
	}
	if len(started) > 0 {
		t.Errorf("the build went on after SIGINT: %d processes started more than %s later:\n%s", len(started), grace, describeProcs(started))
	}
	if len(left) > 0 {
		t.Errorf("%d processes of the build still run %s after portabin ended:\n%s", len(left), grace, describeProcs(left))
	}
}

// grace is how long the processes of an interrupted build may take to stop.
const grace = 500 * time.Millisecond

// compilerCmdline recognises zig compiling (not archiving or printing its version).
var compilerCmdline = regexp.MustCompile(`zig (cc|c\+\+|clang) `)

// awaitProc waits until a process below pid satisfies match and returns the processes below
// pid then; false when timeout passed first.
func awaitProc(pid int, timeout time.Duration, match func(proc) bool) ([]proc, bool) {
	for end := time.Now().Add(timeout); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		below := descendants(pid)
		for _, p := range below {
			if match(p) {
				return below, true
			}
		}
	}
	return descendants(pid), false
}

// proc is a process seen in /proc.
type proc struct {
	pid, ppid int
	// start is the start time in clock ticks since boot: with pid, it names one process.
	start   string
	cmdline string
	cwd     string
}

type procID struct {
	pid   int
	start string
}

func (p proc) id() procID { return procID{p.pid, p.start} }

// readProc returns the process pid, or false if it is gone.
func readProc(pid int) (proc, bool) {
	dir := filepath.Join("/proc", strconv.Itoa(pid))
	raw, err := os.ReadFile(filepath.Join(dir, "cmdline"))
	if err != nil {
		return proc{}, false
	}
	p := proc{pid: pid, cmdline: strings.TrimSpace(strings.ReplaceAll(string(raw), "\x00", " "))}
	p.cwd, _ = os.Readlink(filepath.Join(dir, "cwd"))
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return proc{}, false
	}
	// The command name in parentheses may hold spaces: after it come state, ppid (field 4 of
	// proc(5)) and, 18 further, starttime (field 22).
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 {
		if fields := strings.Fields(string(stat[i+1:])); len(fields) > 19 {
			p.ppid, _ = strconv.Atoi(fields[1])
			p.start = fields[19]
		}
	}
	return p, true
}

func allProcs() []proc {
	entries, _ := os.ReadDir("/proc")
	var procs []proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, ok := readProc(pid); ok && p.cmdline != "" {
			procs = append(procs, p)
		}
	}
	return procs
}

// descendants returns the processes below pid.
func descendants(pid int) []proc {
	procs := allProcs()
	below := map[int]bool{pid: true}
	var found []proc
	for grew := true; grew; {
		grew = false
		for _, p := range procs {
			if below[p.ppid] && !below[p.pid] {
				below[p.pid] = true
				found = append(found, p)
				grew = true
			}
		}
	}
	return found
}

// procsUsing returns the processes other than this one whose command line or working folder
// names one of paths.
func procsUsing(paths []string) []proc {
	var found []proc
	for _, p := range allProcs() {
		if p.pid == os.Getpid() {
			continue
		}
		for _, path := range paths {
			if strings.Contains(p.cmdline, path) || strings.HasPrefix(p.cwd, path) {
				found = append(found, p)
				break
			}
		}
	}
	return found
}

func describeProcs(procs []proc) string {
	var b strings.Builder
	for _, p := range procs {
		cmdline := p.cmdline
		if len(cmdline) > 200 {
			cmdline = cmdline[:200] + "..."
		}
		fmt.Fprintf(&b, "  pid %d ppid %d cwd %s: %s\n", p.pid, p.ppid, p.cwd, cmdline)
	}
	return b.String()
}

// killLeftovers ends, by pid, the processes this test's build left behind, so that they do not
// outlive the test.
func killLeftovers(t *testing.T, paths []string) {
	for _, p := range procsUsing(paths) {
		t.Logf("killing left-behind pid %d", p.pid)
		syscall.Kill(p.pid, syscall.SIGKILL)
	}
}

// lockedOutput collects a process's output while the test reads it.
type lockedOutput struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *lockedOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

func (o *lockedOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// TestExitCodesDocumented checks that the README's exit-code table lists exactly the codes
// portabin uses.
func TestExitCodesDocumented(t *testing.T) {
	f, err := os.Open(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	row := regexp.MustCompile(`^\|\s*(\d+)\s*\|\s*(.*?)\s*\|\s*$`)
	var documented []int
	inSection := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			inSection = strings.EqualFold(strings.TrimSpace(strings.TrimLeft(line, "#")), "exit codes")
			continue
		}
		if !inSection {
			continue
		}
		if m := row.FindStringSubmatch(line); m != nil {
			code, _ := strconv.Atoi(m[1])
			if m[2] == "" {
				t.Errorf("exit code %d has no meaning in the README", code)
			}
			documented = append(documented, code)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	want := []int{uerr.ExitOK, uerr.ExitFailed, uerr.ExitUsage, uerr.ExitEnvironment, uerr.ExitInterrupted}
	if diff := cmp.Diff([]int{0, 1, 2, 3, 130}, want); diff != "" {
		t.Errorf("uerr's exit codes changed (-documented here +uerr):\n%s", diff)
	}
	if diff := cmp.Diff(want, documented); diff != "" {
		t.Errorf("README's exit codes (-want +README):\n%s", diff)
	}
}
