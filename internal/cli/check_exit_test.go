package cli_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/portabin/portabin/internal/ctest"
	"github.com/portabin/portabin/internal/uerr"
)

// TestCheckExitCodes pins portabin check's documented exit codes: 0 when every file meets the
// requirements, 1 when one does not (its verdict says why), 2 on usage errors and on files
// that cannot be checked — which win over a file that merely fails, because an unchecked file
// proves nothing.
func TestCheckExitCodes(t *testing.T) {
	const hello = "#include <stdio.h>\nint main(void) { puts(\"hi\"); return 0; }\n"
	static := ctest.Build(t, ctest.MuslGCC(t), hello, "-static", "-O2")
	dynamic := ctest.Build(t, ctest.GCC(t), hello, "-O2")
	dir := t.TempDir()
	notELF := filepath.Join(dir, "notes.txt")
	truncated := filepath.Join(dir, "truncated")
	data, err := os.ReadFile(static)
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string][]byte{notELF: []byte("hello\n"), truncated: data[:100]} {
		if err := os.WriteFile(name, content, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string // a regular expression stdout must match, "" for none
		stderr string // the same for stderr
	}{
		{"portable", []string{static}, 0, `(?m)^  portable: x86_64, Linux >= [0-9.]+, x86-64-v1$`, ""},
		{"requirements met", []string{"--require-kernel", "2.6.32", "--require-isa", "x86-64-v1", static}, 0, `portable: x86_64`, ""},
		{"dynamic allowed", []string{"--allow-dynamic", dynamic}, 0, `(?m)^  portable: x86_64`, ""},
		{"json portable", []string{"--json", static}, 0, `"portable": true`, ""},

		{"kernel too new", []string{"--require-kernel", "2.0", static}, uerr.ExitFailed, `not portable: needs Linux >= [0-9.]+ \(.*\), required 2.0`, ""},
		{"dynamic", []string{dynamic}, uerr.ExitFailed, `not portable: dynamic \(needs /lib64/ld-linux-x86-64.so.2`, ""},
		{"one of two fails", []string{static, dynamic}, uerr.ExitFailed, `not portable: dynamic`, ""},
		{"json not portable", []string{"--json", dynamic}, uerr.ExitFailed, `"portable": false`, ""},

		{"no arguments", nil, uerr.ExitUsage, "", `requires at least 1 arg`},
		{"unknown flag", []string{"--frobnicate", static}, uerr.ExitUsage, "", `unknown flag: --frobnicate`},
		{"bad kernel", []string{"--require-kernel", "two", static}, uerr.ExitUsage, "", `(?m)^portabin: --require-kernel: .*\nhint: give a version`},
		{"bad cpu level", []string{"--require-isa", "pentium", static}, uerr.ExitUsage, "", `"pentium" is not a CPU level`},
		{"missing file", []string{filepath.Join(dir, "missing"), static}, uerr.ExitUsage, "", `missing does not exist`},
		{"folder without -r", []string{dir}, uerr.ExitUsage, "", `(?m)is a folder\nhint: use -r`},
		{"not ELF", []string{notELF, static}, uerr.ExitUsage, `portable: x86_64`, `(?m)^portabin: .*notes.txt: not an ELF file$`},
		{"truncated ELF", []string{truncated}, uerr.ExitUsage, "", `(?m)^portabin: .*truncated`},
		{"unreadable", []string{"/proc/self/mem"}, uerr.ExitUsage, "", `(?m)^portabin: .*/proc/self/mem: .*input/output error`},
		{"bad input beats failure", []string{notELF, dynamic}, uerr.ExitUsage, `not portable: dynamic`, `not an ELF file`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(filepath.Join(portabinDir, "portabin"), append([]string{"check"}, tt.args...)...)
			cmd.Env = append(os.Environ(), "NO_COLOR=1")
			var outBuf, errBuf bytes.Buffer
			cmd.Stdout, cmd.Stderr = &outBuf, &errBuf
			err := cmd.Run()
			stdout, stderr := outBuf.Bytes(), errBuf.Bytes()
			code := 0
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				code = exit.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.code {
				t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, stdout, stderr)
			}
			if tt.stdout != "" && !regexp.MustCompile(tt.stdout).Match(stdout) {
				t.Errorf("stdout does not match %q:\n%s", tt.stdout, stdout)
			}
			if tt.stderr != "" && !regexp.MustCompile(tt.stderr).Match(stderr) {
				t.Errorf("stderr does not match %q:\n%s", tt.stderr, stderr)
			}
			if tt.code == uerr.ExitUsage && len(stderr) == 0 {
				t.Error("bad input without a message on stderr")
			}
		})
	}
}
