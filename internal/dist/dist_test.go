package dist

import (
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portabin/portabin/internal/ctest"
)

// zig is portabin's provisioned zig; "" skips the cases that need it.
var zig, zigEnv, _ = ctest.ZigPath()

// compilers builds hello.c with debug info for each kind of program the tests install.
var compilers = map[string][]string{
	"gcc-x86_64": {"gcc", "-static", "-g"},
	"zig-x86_64": {zig, "cc", "-target", "x86_64-linux-musl", "-static", "-g"},
	"zig-arm64":  {zig, "cc", "-target", "aarch64-linux-musl", "-static", "-g"},
}

var (
	programsMu  sync.Mutex
	programs    = map[string]string{}
	programsDir string
)

// program returns the path of a "hello" executable of this kind, built once per test binary.
func program(t *testing.T, kind string) string {
	t.Helper()
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("the tests run the programs they build on an x86_64 Linux host")
	}
	cc := compilers[kind]
	if _, err := exec.LookPath(cc[0]); err != nil {
		t.Skipf("%s not found", cc[0])
	}
	programsMu.Lock()
	defer programsMu.Unlock()
	if p, ok := programs[kind]; ok {
		return p
	}
	if programsDir == "" {
		dir, err := os.MkdirTemp("", "dist-test-")
		if err != nil {
			t.Fatal(err)
		}
		programsDir = dir
	}
	dir := filepath.Join(programsDir, kind)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	hello := filepath.Join(dir, "hello.c")
	if err := os.WriteFile(hello, []byte("#include <stdio.h>\nint main(void) { puts(\"hi\"); return 0; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "hello")
	cmd := exec.Command(cc[0], append(cc[1:], "-o", out, hello)...)
	cmd.Env = append(os.Environ(), zigEnv...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", kind, err, b)
	}
	programs[kind] = out
	return out
}

func TestMain(m *testing.M) {
	code := m.Run()
	if programsDir != "" {
		os.RemoveAll(programsDir)
	}
	os.Exit(code)
}

func TestInstall(t *testing.T) {
	src := program(t, "gcc-x86_64")
	dir := filepath.Join(t.TempDir(), "dist", "x86_64-linux-musl")
	got, err := Install(context.Background(), src, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	srcData, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	want := Output{Path: filepath.Join(dir, "hello"), Size: int64(len(srcData)), SHA256: sha256Hex(srcData)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Install mismatch (-want +got):\n%s", diff)
	}
	checkFile(t, got.Path, got.Size, got.SHA256, 0o755)
	if diff := cmp.Diff([]string{"hello"}, entries(t, dir)); diff != "" {
		t.Errorf("dist folder (-want +got):\n%s", diff)
	}
}

func TestInstallStrip(t *testing.T) {
	tests := []struct {
		kind    string
		objcopy []string
		// fails is set where this objcopy cannot read the program.
		fails bool
	}{
		{"gcc-x86_64", []string{"objcopy"}, false},
		{"gcc-x86_64", []string{zig, "objcopy"}, false},
		{"zig-x86_64", nil, false},
		{"zig-x86_64", []string{zig, "objcopy"}, false},
		{"zig-arm64", []string{zig, "objcopy"}, false},
		// The host's GNU binutils (x86_64 build) does not recognise aarch64 files.
		{"zig-arm64", []string{"objcopy"}, true},
	}
	for _, tt := range tests {
		objcopyName := "default"
		if len(tt.objcopy) > 0 {
			objcopyName = filepath.Base(strings.Join(tt.objcopy, " "))
		}
		t.Run(tt.kind+"/"+objcopyName, func(t *testing.T) {
			if _, err := exec.LookPath(firstOr(tt.objcopy, "objcopy")); err != nil {
				t.Skip(err)
			}
			dir := t.TempDir()
			got, err := Install(context.Background(), program(t, tt.kind), dir, Options{Strip: true, Objcopy: tt.objcopy})
			if tt.fails {
				if err == nil {
					t.Fatal("Install succeeded, want objcopy to fail")
				}
				if diff := cmp.Diff([]string(nil), entries(t, dir)); diff != "" {
					t.Errorf("dist folder after a failure (-want +got):\n%s", diff)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{"hello", "hello.debug"}, entries(t, dir)); diff != "" {
				t.Errorf("dist folder (-want +got):\n%s", diff)
			}
			if got.DebugPath != filepath.Join(dir, "hello.debug") {
				t.Errorf("DebugPath = %q", got.DebugPath)
			}
			checkFile(t, got.Path, got.Size, got.SHA256, 0o755)
			checkDebugLink(t, got.Path, got.DebugPath)
			if tt.kind != "zig-arm64" {
				out, err := exec.Command(got.Path).Output()
				if err != nil || string(out) != "hi\n" {
					t.Errorf("stripped program printed %q, %v", out, err)
				}
			}
		})
	}
}

func TestReinstallIdenticalKeepsMtime(t *testing.T) {
	variants := []Options{{}, {Strip: true}}
	if _, err := os.Stat(zig); err == nil {
		variants = append(variants, Options{Strip: true, Objcopy: []string{zig, "objcopy"}})
	}
	for _, opts := range variants {
		src := program(t, "gcc-x86_64")
		dir := t.TempDir()
		first, err := Install(context.Background(), src, dir, opts)
		if err != nil {
			t.Fatal(err)
		}
		past := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
		for _, name := range entries(t, dir) {
			if err := os.Chtimes(filepath.Join(dir, name), past, past); err != nil {
				t.Fatal(err)
			}
		}
		second, err := Install(context.Background(), src, dir, opts)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(first, second); diff != "" {
			t.Errorf("%+v: reinstall output differs (-first +second):\n%s", opts, diff)
		}
		for _, name := range entries(t, dir) {
			fi, err := os.Stat(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			if !fi.ModTime().Equal(past) {
				t.Errorf("%+v: %s was rewritten (mtime %v)", opts, name, fi.ModTime())
			}
		}
	}
}

func TestInstallReplacesChangedContent(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hello"), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := Install(context.Background(), program(t, "gcc-x86_64"), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkFile(t, got.Path, got.Size, got.SHA256, 0o755)
}

// A failed or cancelled install leaves the dist folder exactly as it was, older outputs included.
func TestInstallLeavesNothingOnFailure(t *testing.T) {
	src := program(t, "gcc-x86_64")
	// timeout < 0 cancels before Install starts, 0 never.
	tests := []struct {
		name    string
		timeout time.Duration
		opts    Options
		want    error
	}{
		{"objcopy fails", 0, Options{Strip: true, Objcopy: []string{"false"}}, nil},
		{"objcopy missing", 0, Options{Strip: true, Objcopy: []string{"/nonexistent/objcopy"}}, nil},
		{"cancelled before copy", -1, Options{}, context.Canceled},
		{"cancelled before strip", -1, Options{Strip: true}, context.Canceled},
		// exec replaces the shell so that cancelling kills the sleep itself.
		{"cancelled during objcopy", 200 * time.Millisecond, Options{Strip: true, Objcopy: []string{"sh", "-c", "exec sleep 10"}}, context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			old := filepath.Join(dir, "hello")
			if err := os.WriteFile(old, []byte("previous build"), 0o755); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			switch {
			case tt.timeout < 0:
				cancel()
			case tt.timeout > 0:
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
			}
			defer cancel()
			_, err := Install(ctx, src, dir, tt.opts)
			if err == nil {
				t.Fatal("Install succeeded, want an error")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("Install = %v, want %v", err, tt.want)
			}
			if diff := cmp.Diff([]string{"hello"}, entries(t, dir)); diff != "" {
				t.Errorf("dist folder (-want +got):\n%s", diff)
			}
			if b, _ := os.ReadFile(old); string(b) != "previous build" {
				t.Errorf("the previous build was overwritten")
			}
		})
	}
}

// checkDebugLink checks what gdb checks: the link names the debug file and carries its CRC32.
func checkDebugLink(t *testing.T, exe, debug string) {
	t.Helper()
	f, err := elf.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Section(".debug_info") != nil {
		t.Errorf("%s still has .debug_info", exe)
	}
	link := f.Section(".gnu_debuglink")
	if link == nil {
		t.Fatalf("%s has no .gnu_debuglink", exe)
	}
	data, err := link.Data()
	if err != nil {
		t.Fatal(err)
	}
	name, _, _ := strings.Cut(string(data), "\x00")
	if name != filepath.Base(debug) {
		t.Errorf("debuglink names %q, want %q", name, filepath.Base(debug))
	}
	debugData, err := os.ReadFile(debug)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := f.ByteOrder.Uint32(data[len(data)-4:]), crc32.ChecksumIEEE(debugData); got != want {
		t.Errorf("debuglink CRC = %08x, want %08x", got, want)
	}
	d, err := elf.Open(debug)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Section(".debug_info") == nil {
		t.Errorf("%s has no .debug_info", debug)
	}
}

func checkFile(t *testing.T, path string, size int64, sum string, mode os.FileMode) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(data)) != size || sha256Hex(data) != sum || fi.Mode().Perm() != mode {
		t.Errorf("%s: size %d, sha256 %s, mode %v; want %d, %s, %v", path, len(data), sha256Hex(data), fi.Mode().Perm(), size, sum, mode)
	}
}

// entries lists dir, hidden staging folders included.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	list, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range list {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func firstOr(args []string, def string) string {
	if len(args) == 0 {
		return def
	}
	return args[0]
}
