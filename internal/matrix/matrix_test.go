package matrix

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portabin/portabin/internal/ctest"
	"github.com/portabin/portabin/internal/image"
	"github.com/portabin/portabin/internal/kernels"
	"github.com/portabin/portabin/internal/sandbox"
	"github.com/portabin/portabin/internal/seccomp"
	"github.com/portabin/portabin/internal/target"
)

func TestMain(m *testing.M) {
	// The native runner re-executes the test binary as the sandbox's stages.
	if sandbox.Reexec() {
		return
	}
	os.Exit(m.Run())
}

func TestDiff(t *testing.T) {
	for _, tc := range []struct{ name, want, got, diff string }{
		{"equal", "a\nb\n", "a\nb\n", "...\n"},
		{"changed line", "a\nb\nc\n", "a\nB\nc\n", " a\n-b\n+B\n c\n"},
		{"missing line", "a\nb\n", "a\n", " a\n-b\n"},
		{"extra line", "a\n", "a\nb\n", " a\n+b\n"},
		{"no final newline", "a\n", "a", "-a\n+a (no newline at end)\n"},
		{"long common run", "1\n2\n3\n4\n5\n6\n7\n8\n9\nx\n", "1\n2\n3\n4\n5\n6\n7\n8\n9\ny\n",
			"...\n 7\n 8\n 9\n-x\n+y\n"},
	} {
		if got := Diff(tc.want, tc.got); got != tc.diff {
			t.Errorf("%s: Diff =\n%s\nwant\n%s", tc.name, got, tc.diff)
		}
	}
}

func TestJudge(t *testing.T) {
	call := seccomp.Call{Name: "getrandom", Since: "3.17", Count: 1}
	for _, tc := range []struct {
		name    string
		c       Case
		out     Outcome
		status  Status
		reasons []string
	}{
		{"pass", Case{ExpectStdout: []byte("hi\n")}, Outcome{Stdout: []byte("hi\n")}, Pass, nil},
		{"exit code", Case{ExpectExit: 2}, Outcome{ExitCode: 1}, Fail, []string{"exit code 1, want 2"}},
		{"not started", Case{}, Outcome{ExitCode: 127, ExecError: "no /lib64/ld-linux-x86-64.so.2 in the root"}, Fail,
			[]string{"could not start: no /lib64/ld-linux-x86-64.so.2 in the root"}},
		{"signal", Case{}, Outcome{ExitCode: -1, Signal: "SIGSEGV"}, Fail, []string{"killed by SIGSEGV"}},
		{"timeout", Case{Timeout: time.Second}, Outcome{ExitCode: -1, TimedOut: true}, Fail, []string{"timed out after 1s"}},
		{"output", Case{ExpectStdout: []byte("hi\n")}, Outcome{Stdout: []byte("ho\n")}, Fail,
			[]string{"standard output differs from the expected output"}},
		{"regex per line", Case{ExpectStdoutRegex: regexp.MustCompile(`^b$`)}, Outcome{Stdout: []byte("a\nb\n")}, Pass, nil},
		{"regex", Case{ExpectStdoutRegex: regexp.MustCompile(`^c$`)}, Outcome{Stdout: []byte("a\nb\n")}, Fail,
			[]string{"standard output does not match /^c$/"}},
		{"enosys explains", Case{}, Outcome{ExitCode: 1, ENOSYS: []seccomp.Call{call}, Recorded: true}, Fail,
			[]string{"exit code 1, want 0", "the emulated kernel answered ENOSYS to [getrandom]"}},
		{"enosys on a pass is no reason", Case{}, Outcome{ENOSYS: []seccomp.Call{call}, Recorded: true}, Pass, nil},
	} {
		var cell Cell
		judge(&cell, tc.c, tc.out)
		if cell.Status != tc.status || !cmp.Equal(cell.Reasons, tc.reasons) {
			t.Errorf("%s: %s %q, want %s %q", tc.name, cell.Status, cell.Reasons, tc.status, tc.reasons)
		}
	}
}

func TestPortKernels(t *testing.T) {
	ks := mustKernels(t, "rhel5", "rhel7", "host")
	kept, notes := portKernels(ks, "aarch64")
	if len(kept) != 2 || kept[0].Name != "rhel7" || len(notes) != 1 ||
		notes[0] != "kernel rhel5 (2.6.18) left out: the arm64 port was merged in Linux 3.7" {
		t.Errorf("aarch64: kept %v, notes %q", kept, notes)
	}
	if kept, notes := portKernels(ks, "x86_64"); len(kept) != 3 || notes != nil {
		t.Errorf("x86_64: kept %v, notes %q", kept, notes)
	}
}

func mustKernels(t *testing.T, names ...string) []kernels.Kernel {
	t.Helper()
	var out []kernels.Kernel
	for _, n := range names {
		k, err := kernels.Parse(n)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, k)
	}
	return out
}

// TestRunNative runs a real matrix in the native sandbox: a labelled folder root, scratch and a
// root that does not exist, with the host's kernel and an emulated 3.10, two cases.
func TestRunNative(t *testing.T) {
	if err := sandbox.Available(); err != nil {
		t.Skipf("the native sandbox cannot run here: %v", err)
	}
	host, ok := target.Host()
	if !ok || host.Arch != "x86_64" {
		t.Skip("the test program is built for x86_64")
	}
	exe := ctest.Build(t, ctest.GCC(t), `#include <stdio.h>
#include <sys/random.h>
int main(int argc, char **argv) {
  char b[4];
  if (argc > 1 && getrandom(b, sizeof b, 0) < 0) { perror("getrandom"); return 1; }
  FILE *f = fopen("/etc/hostname", "r");
  puts(f ? "has /etc/hostname" : "no /etc/hostname");
  return 0;
}
`, "-static", "-O2")
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc", "hostname"), []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	plan := Plan{
		Exe: exe, Target: host, Jobs: 3,
		Roots:   []string{"scratch", "mine=dir:" + root, "dir:" + filepath.Join(root, "missing")},
		Kernels: mustKernels(t, "host", "3.10"),
		Cases: []Case{
			{Name: "reads", ExpectStdoutRegex: regexp.MustCompile(`^has /etc/hostname$`), Timeout: 10 * time.Second},
			{Name: "random", Args: []string{"random"}, Timeout: 10 * time.Second},
		},
	}
	resolver := &image.Resolver{Cache: t.TempDir()}
	var calls int
	res, err := Run(context.Background(), plan, resolver, NativeRunner{}, func(done, total int, c Cell) {
		calls++
		if total != 12 || done != calls {
			t.Errorf("progress %d/%d after %d calls", done, total, calls)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range res.Cells {
		got = append(got, strings.Join([]string{c.Root, c.Kernel, c.Case, string(c.Status)}, " "))
	}
	k := res.Kernels[0]
	want := []string{
		"scratch " + k + " reads fail", "scratch " + k + " random pass",
		"scratch 3.10 reads fail", "scratch 3.10 random fail",
		"mine " + k + " reads pass", "mine " + k + " random pass",
		"mine 3.10 reads pass", "mine 3.10 random fail",
	}
	for range 4 {
		want = append(want, "") // the missing root's cells, checked below
	}
	for i := 8; i < 12; i++ {
		c := res.Cells[i]
		if c.Status != Error || !strings.Contains(c.Reasons[0], "missing") {
			t.Errorf("cell %d of the missing root: %s %q", i, c.Status, c.Reasons)
		}
		got[i] = ""
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("cells (-want +got):\n%s", diff)
	}
	if res.Passed != 4 || res.Failed != 4 || res.Errors != 4 || res.OK() {
		t.Errorf("counts %d/%d/%d", res.Passed, res.Failed, res.Errors)
	}
	if !cmp.Equal(res.Roots, []string{"scratch", "mine", "dir:" + filepath.Join(root, "missing")}) {
		t.Errorf("roots %q", res.Roots)
	}
	if c := res.Cells[7]; c.RootRef != "dir:"+root || !c.ENOSYSRecorded || len(c.ENOSYS) == 0 || c.ENOSYS[0].Name != "getrandom" {
		t.Errorf("mine × 3.10 × random: ref %q, ENOSYS %v (recorded %v)", c.RootRef, c.ENOSYS, c.ENOSYSRecorded)
	}
	if c := res.Cells[2]; len(c.MissingFiles) == 0 || c.MissingFiles[0].Path != "/etc/hostname" {
		t.Errorf("scratch × 3.10 × reads: missing files %v", c.MissingFiles)
	}

	var text bytes.Buffer
	if err := res.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		`(?m)^scratch +FAIL \(1/2 pass\) +FAIL \(0/2 pass\)$`,
		`(?m)^mine +2/2 pass +FAIL \(1/2 pass\)$`,
		`(?m)^dir:.*/missing +error \(0/2 pass\) +error \(0/2 pass\)$`,
		`(?m)^FAIL: mine × 3.10 × random$`,
		`(?m)^  the emulated kernel answered ENOSYS to \[getrandom`,
		`(?m)^4 passed, 4 failed, 4 could not run \(native runner\)$`,
	} {
		if !regexp.MustCompile(line).MatchString(text.String()) {
			t.Errorf("the text lacks %s:\n%s", line, text.String())
		}
	}
}
