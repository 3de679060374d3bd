package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portabin/portabin/internal/ctest"
	"github.com/portabin/portabin/internal/uerr"
)

// commandCase is one invocation of a command other than build, and how portabin must answer.
type commandCase struct {
	name string
	args []string
	// files are written into the work folder first (name → content).
	files map[string]string
	code  int
	// message, hint and output as in errorCase; for code 1 from a failing cell, stdout must
	// contain stdout instead.
	message, hint []string
	stdout        []string
}

// TestCommandExitCodes pins the exit codes and messages of test, run, init and cache on bad
// input, and a failing cell's exit code 1.
func TestCommandExitCodes(t *testing.T) {
	exe := ctest.Build(t, ctest.GCC(t), "#include <stdio.h>\nint main(void) { puts(\"hi\"); return 0; }\n", "-static", "-O2")
	cases := []commandCase{
		{name: "test missing executable", args: []string{"test", "nothere"}, code: uerr.ExitUsage,
			message: []string{"nothere does not exist"}},
		{name: "test not ELF", args: []string{"test", "notes.txt"}, files: map[string]string{"notes.txt": "hello\n"},
			code: uerr.ExitUsage, message: []string{"is not an ELF file"}, hint: []string{"ELF"}},
		{name: "test unknown kernel", args: []string{"test", "EXE", "--kernel", "rhel4"}, code: uerr.ExitUsage,
			message: []string{`unknown kernel "rhel4"`, "rhel5"}, hint: []string{"--kernel host,rhel6"}},
		{name: "test unknown runner", args: []string{"test", "EXE", "--runner", "lxc"}, code: uerr.ExitUsage,
			message: []string{`unknown runner "lxc"`}, hint: []string{"native, podman or docker"}},
		{name: "test missing expected output", args: []string{"test", "EXE", "--expect-stdout", "nothere.txt"},
			code: uerr.ExitUsage, message: []string{"--expect-stdout", "nothere.txt"}},
		{name: "test two expectations", args: []string{"test", "EXE", "--expect-stdout", "EXE", "--expect-stdout-regex", "x"},
			code: uerr.ExitUsage, message: []string{"--expect-stdout and --expect-stdout-regex"}, hint: []string{"one"}},
		{name: "test bad regex", args: []string{"test", "EXE", "--expect-stdout-regex", "("}, code: uerr.ExitUsage,
			message: []string{"--expect-stdout-regex", "missing closing )"}},
		{name: "test report format", args: []string{"test", "EXE", "--report", "out.pdf"}, code: uerr.ExitUsage,
			message: []string{"out.pdf"}, hint: []string{".json", ".xml", ".html"}},
		{name: "test zero timeout", args: []string{"test", "EXE", "--timeout", "0s"}, code: uerr.ExitUsage,
			message: []string{"--timeout must be positive"}},
		{name: "test bad env", args: []string{"test", "EXE", "--env", "NOVALUE"}, code: uerr.ExitUsage,
			message: []string{`--env "NOVALUE"`}, hint: []string{"LANG=C"}},
		{name: "test offline and refresh", args: []string{"test", "EXE", "--offline", "--refresh"}, code: uerr.ExitUsage,
			message: []string{"--offline and --refresh"}},
		{name: "test failing cell", args: []string{"test", "EXE", "--expect-exit", "4"}, code: uerr.ExitFailed,
			stdout: []string{"exit code 0, want 4", "0 passed, 1 failed"}},

		{name: "run not a folder", args: []string{"run", "nothere"}, code: uerr.ExitUsage,
			message: []string{"nothere is not a folder"}},
		{name: "run without portabin.toml", args: []string{"run", "proj"}, files: map[string]string{"proj/main.c": "int main(void){return 0;}\n"},
			code: uerr.ExitUsage, message: []string{"no portabin.toml in"}, hint: []string{"portabin init"}},
		{name: "run malformed portabin.toml", args: []string{"run", "proj"},
			files: map[string]string{"proj/main.c": "int main(void){return 0;}\n", "proj/portabin.toml": "[build]\njobs = \"two\"\n"},
			code:  uerr.ExitUsage, message: []string{"portabin.toml:2:8: build.jobs"}},
		{name: "run test with missing expected file", args: []string{"run", "proj"},
			files: map[string]string{"proj/main.c": "int main(void){return 0;}\n",
				"proj/portabin.toml": "[[test]]\nname = \"t\"\nexpect_stdout = \"want.txt\"\n"},
			code: uerr.ExitUsage, message: []string{"portabin.toml:3:", "want.txt"}},

		{name: "init over an existing file", args: []string{"init", "proj"},
			files: map[string]string{"proj/main.c": "int main(void){return 0;}\n", "proj/portabin.toml": "# mine\n"},
			code:  uerr.ExitUsage, message: []string{"portabin.toml already exists"}, hint: []string{"--force"}},
		{name: "init not a project", args: []string{"init", "proj"}, files: map[string]string{"proj/README": "hi\n"},
			code: uerr.ExitUsage, message: []string{"is not a project"}},

		{name: "completion unknown shell", args: []string{"completion", "tcsh"}, code: uerr.ExitUsage,
			message: []string{`unknown command "tcsh"`}},

		{name: "cache prune unknown kind", args: []string{"cache", "prune", "nothing"}, code: uerr.ExitUsage,
			message: []string{`no "nothing" in the cache`}},
	}
	for _, tc := range cases {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			t.Parallel()
			work := t.TempDir()
			for name, content := range tc.files {
				path := filepath.Join(work, name)
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			before := treeDigest(t, work)
			args := make([]string, len(tc.args))
			for i, a := range tc.args {
				args[i] = strings.ReplaceAll(a, "EXE", exe)
			}
			stdout, stderr, code, took := runPortabin(t, work, errorEnv(), args...)
			t.Logf("portabin %s\nexit %d in %s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, took.Round(time.Millisecond), stdout, stderr)
			if code != tc.code {
				t.Errorf("exit code %d, want %d", code, tc.code)
			}
			if tc.code == uerr.ExitUsage {
				if stdout != "" {
					t.Errorf("stdout is not empty:\n%s", stdout)
				}
				checkErrorOutput(t, stderr, errorCase{message: tc.message, hint: tc.hint})
				if after := treeDigest(t, work); after != before {
					t.Errorf("bad input changed the work folder")
				}
			}
			for _, want := range tc.stdout {
				if !strings.Contains(stdout, want) {
					t.Errorf("stdout does not contain %q", want)
				}
			}
		})
	}
}
