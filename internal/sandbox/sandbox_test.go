package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portabin/portabin/internal/ctest"
	"github.com/portabin/portabin/internal/seccomp"
	"github.com/portabin/portabin/internal/syscalls"
	"github.com/portabin/portabin/internal/uerr"
)

func TestMain(m *testing.M) {
	// The test binary is the sandbox's init and exec stage too.
	if Reexec() {
		return
	}
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// built holds the probe, compiled once for every test of the run.
var built struct {
	sync.Once
	dir, path string
	err       error
}

// probe compiles testdata/probe.c into a static x86_64 executable.
func probe(t *testing.T) string {
	t.Helper()
	needSandbox(t)
	cc := ctest.GCC(t)
	built.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "portabin-sandbox-probe-"); built.err != nil {
			return
		}
		built.path = filepath.Join(built.dir, "prog")
		args := append(cc.Args[1:len(cc.Args):len(cc.Args)], "-static", "-O", "-o", built.path, "testdata/probe.c")
		if out, err := exec.Command(cc.Args[0], args...).CombinedOutput(); err != nil {
			built.err = fmt.Errorf("%s %v: %v\n%s", cc.Name, args, err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}

var available = sync.OnceValue(Available)

func needSandbox(t *testing.T) {
	t.Helper()
	if err := available(); err != nil {
		t.Skipf("no sandbox on this host: %v", err)
	}
}

// lines turns KEY=VALUE output into a map.
func lines(out []byte) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[k] = v
		}
	}
	return m
}

func run(t *testing.T, spec Spec) Result {
	t.Helper()
	res, err := Run(context.Background(), spec)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return res
}

func TestInfo(t *testing.T) {
	exe := probe(t)
	root := t.TempDir()
	for _, dir := range []string{"etc", "bin", "usr/bin", "work"} {
		if err := os.MkdirAll(filepath.Join(root, dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "etc/marker"), []byte("from-the-root\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("usr/lib", filepath.Join(root, "lib")); err != nil {
		t.Fatal(err)
	}
	before := tree(t, root)
	common := map[string]string{
		"argv[0]":              "/portabin/prog",
		"argv[1]":              "info",
		"argv[2]":              "two words",
		"uid":                  "0 ppid=1",
		"hostname":             "portabin",
		"write /":              "Read-only file system",
		"mount /portabin/prog": "ro",
		"write /tmp":           "ok",
		"dev/null":             "ok",
		"mount":                "Operation not permitted",
		"stdin":                "hello",
		"HOME":                 "/tmp",
	}
	inRoot := map[string]string{"cwd": "/work", "ls /": "bin dev etc lib portabin proc tmp usr work ", "marker": "from-the-root"}
	tests := []struct {
		name, root, dir string
		noOverlay       bool
		want            map[string]string
	}{
		{"scratch", "", "", false, map[string]string{"cwd": "/", "ls /": "dev portabin proc tmp ", "marker": "none"}},
		{"root", root, "/work", false, inRoot},
		{"root without overlayfs", root, "/work", true, inRoot},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			useOverlay = !tt.noOverlay
			defer func() { useOverlay = true }()
			res := run(t, Spec{Root: tt.root, Exe: exe, Args: []string{"info", "two words"}, Dir: tt.dir, Stdin: []byte("hello")})
			if res.ExitCode != 0 || res.Signal != "" || res.ExecError != "" {
				t.Fatalf("exit %d, signal %q, exec error %q; stderr:\n%s", res.ExitCode, res.Signal, res.ExecError, res.Stderr)
			}
			got := lines(res.Stdout)
			want := map[string]string{}
			for k, v := range common {
				want[k] = v
			}
			for k, v := range tt.want {
				want[k] = v
			}
			for k := range got {
				if _, ok := want[k]; !ok {
					delete(got, k)
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("what the program saw (-want +got):\n%s\nstdout:\n%s", diff, res.Stdout)
			}
		})
	}
	if diff := cmp.Diff(before, tree(t, root)); diff != "" {
		t.Errorf("the root changed (-before +after):\n%s", diff)
	}
}

// tree lists the files under dir with their sizes.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(dir, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		out = append(out, fmt.Sprintf("%s %d", strings.TrimPrefix(path, dir), fi.Size()))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestExitCodeAndSignal(t *testing.T) {
	exe := probe(t)
	tests := []struct {
		args       []string
		wantCode   int
		wantSignal string
	}{
		{[]string{"exit", "0"}, 0, ""},
		{[]string{"exit", "3"}, 3, ""},
		{[]string{"exit", "255"}, 255, ""},
		{[]string{"segv"}, -1, "SIGSEGV"},
	}
	for _, tt := range tests {
		res := run(t, Spec{Exe: exe, Args: tt.args})
		if res.ExitCode != tt.wantCode || res.Signal != tt.wantSignal {
			t.Errorf("%v: exit %d signal %q, want %d %q", tt.args, res.ExitCode, res.Signal, tt.wantCode, tt.wantSignal)
		}
	}
}

func TestForkBomb(t *testing.T) {
	exe := probe(t)
	const maxProcs = 20
	res := run(t, Spec{Exe: exe, Args: []string{"forkbomb"}, MaxProcs: maxProcs, Timeout: time.Minute})
	got := lines(res.Stdout)
	var forked int
	var reason string
	if _, err := fmt.Sscanf(got["forked"], "%d error", &forked); err != nil {
		t.Fatalf("no fork count in %q (exit %d, timed out %v)", res.Stdout, res.ExitCode, res.TimedOut)
	}
	reason = got["forked"]
	if forked == 0 || forked >= maxProcs || !strings.Contains(reason, "Resource temporarily unavailable") {
		t.Errorf("forked %q, want between 1 and %d and EAGAIN", reason, maxProcs)
	}
	if res.ExitCode != 0 {
		t.Errorf("exit %d", res.ExitCode)
	}
}

// TestMemoryCap: within the cap an allocation works; past it, malloc fails (RLIMIT_AS) or the
// cgroup's OOM killer ends the program, depending on what this host enforces (Limits).
func TestMemoryCap(t *testing.T) {
	exe := probe(t)
	const capBytes = 64 << 20
	small := run(t, Spec{Exe: exe, Args: []string{"alloc", "16"}, MemoryBytes: capBytes})
	if got := lines(small.Stdout)["alloc"]; got != "ok" || small.OutOfMemory {
		t.Errorf("16 MiB under a 64 MiB cap: %q, exit %d, signal %q", got, small.ExitCode, small.Signal)
	}
	big := run(t, Spec{Exe: exe, Args: []string{"alloc", "256"}, MemoryBytes: capBytes})
	got := lines(big.Stdout)["alloc"]
	if got != "Cannot allocate memory" && (big.Signal != "SIGKILL" || !big.OutOfMemory) {
		t.Errorf("256 MiB under a 64 MiB cap (%s): %q, exit %d, signal %q, out of memory %v", Limits(), got, big.ExitCode, big.Signal, big.OutOfMemory)
	}
}

// TestNothingSurvives: a timeout, and a program that exits early, both end a child that
// ignores SIGTERM and left its session; no process with the token remains on the host.
func TestNothingSurvives(t *testing.T) {
	exe := probe(t)
	for _, mode := range []string{"orphan", "daemon"} {
		t.Run(mode, func(t *testing.T) {
			token := fmt.Sprintf("token-%d-%s", time.Now().UnixNano(), mode)
			spec := Spec{Exe: exe, Args: []string{mode, token}}
			if mode == "orphan" {
				spec.Timeout = time.Second
			}
			res := run(t, spec)
			if mode == "orphan" && (!res.TimedOut || res.ExitCode != -1 || string(res.Stdout) != "started\n") {
				t.Errorf("timed out %v, exit %d, stdout %q, stderr %q; want a timeout after the start", res.TimedOut, res.ExitCode, res.Stdout, res.Stderr)
			}
			if mode == "daemon" && (res.TimedOut || res.ExitCode != 0) {
				t.Errorf("timed out %v, exit %d; want exit 0", res.TimedOut, res.ExitCode)
			}
			if pids := processesWith(t, token); len(pids) > 0 {
				t.Errorf("processes left behind: %v", pids)
			}
		})
	}
}

// processesWith lists the host's processes whose command line contains token.
func processesWith(t *testing.T, token string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []string
	for _, e := range entries {
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(cmdline, []byte(token)) {
			pids = append(pids, e.Name())
		}
	}
	return pids
}

func TestReapsOrphans(t *testing.T) {
	exe := probe(t)
	res := run(t, Spec{Exe: exe, Args: []string{"zombies"}})
	if got := lines(res.Stdout)["zombies"]; got != "0" {
		t.Errorf("zombies left by init: %q (exit %d)", got, res.ExitCode)
	}
}

// TestForwardsSIGTERM: SIGTERM sent to init reaches the program.
func TestForwardsSIGTERM(t *testing.T) {
	exe := probe(t)
	token := fmt.Sprintf("token-%d-term", time.Now().UnixNano())
	done := make(chan Result, 1)
	go func() {
		res, err := Run(context.Background(), Spec{Exe: exe, Args: []string{"term", token}, Timeout: time.Minute})
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	// Wait for the program to catch SIGTERM, then signal its parent, init.
	var init int
	for deadline := time.Now().Add(30 * time.Second); init == 0 && time.Now().Before(deadline); {
		for _, pid := range processesWith(t, token) {
			status, _ := os.ReadFile(filepath.Join("/proc", pid, "status"))
			var caught uint64
			var parent int
			for _, l := range strings.Split(string(status), "\n") {
				fmt.Sscanf(l, "SigCgt: %x", &caught)
				fmt.Sscanf(l, "PPid: %d", &parent)
			}
			if caught&(1<<(syscall.SIGTERM-1)) != 0 {
				init = parent
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	if init == 0 {
		t.Fatal("the program never started")
	}
	if err := syscall.Kill(init, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	res := <-done
	if res.ExitCode != 7 || string(res.Stdout) != "got SIGTERM\n" {
		t.Errorf("exit %d, stdout %q; want the program's own exit after SIGTERM", res.ExitCode, res.Stdout)
	}
}

// TestSignalsToInit: the program cannot end init by signalling PID 1.
func TestSignalsToInit(t *testing.T) {
	exe := probe(t)
	res, err := Run(context.Background(), Spec{Exe: exe, Args: []string{"killinit"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := lines(res.Stdout)["init"]; got != "alive" || res.ExitCode != 0 {
		t.Errorf("init %q, exit %d, signal %q", got, res.ExitCode, res.Signal)
	}
}

// TestParallel: runs share nothing (the matrix runs cells at once).
func TestParallel(t *testing.T) {
	exe := probe(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := Run(context.Background(), Spec{Exe: exe, Args: []string{"exit", fmt.Sprint(i)}})
			if err != nil || res.ExitCode != i {
				t.Errorf("run %d: exit %d, %v", i, res.ExitCode, err)
			}
		}()
	}
	wg.Wait()
}

func TestCancel(t *testing.T) {
	exe := probe(t)
	token := fmt.Sprintf("token-%d-cancel", time.Now().UnixNano())
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := Run(ctx, Spec{Exe: exe, Args: []string{"orphan", token}})
	if err == nil {
		t.Fatal("a cancelled run returned no error")
	}
	if pids := processesWith(t, token); len(pids) > 0 {
		t.Errorf("processes left behind: %v", pids)
	}
}

func TestNetwork(t *testing.T) {
	exe := probe(t)
	got := lines(run(t, Spec{Exe: exe, Args: []string{"net"}}).Stdout)
	want := map[string]string{"connect out": "Network is unreachable", "loopback": "ok"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("network (-want +got):\n%s", diff)
	}
}

func TestOutputCap(t *testing.T) {
	exe := probe(t)
	res := run(t, Spec{Exe: exe, Args: []string{"flood"}})
	if len(res.Stdout) != 300*65536 && !res.StdoutTruncated {
		t.Errorf("got %d bytes, not truncated", len(res.Stdout))
	}
	if res.StdoutTruncated && len(res.Stdout) != OutputCap {
		t.Errorf("truncated at %d bytes, want %d", len(res.Stdout), OutputCap)
	}
	if !res.StdoutTruncated {
		t.Errorf("%d bytes written, cap %d: not marked truncated", 300*65536, OutputCap)
	}
}

func TestExecErrors(t *testing.T) {
	exe := probe(t)
	dynamic := ctest.Build(t, ctest.GCC(t), "int main(void) { return 0; }")
	tests := []struct {
		name string
		spec Spec
		want string
	}{
		{"dynamic in scratch", Spec{Exe: dynamic}, "executing /portabin/prog: no such file or directory (its ELF interpreter /lib64/ld-linux-x86-64.so.2 is not in this root)"},
		{"missing folder", Spec{Exe: exe, Dir: "/nowhere"}, "changing to the working directory /nowhere: no such file or directory"},
	}
	for _, tt := range tests {
		res := run(t, tt.spec)
		if res.ExitCode != 127 || res.ExecError != tt.want {
			t.Errorf("%s: exit %d, exec error %q; want 127, %q", tt.name, res.ExitCode, res.ExecError, tt.want)
		}
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		spec Spec
		want string
	}{
		{"no executable", Spec{}, "no executable given"},
		{"missing executable", Spec{Exe: filepath.Join(dir, "missing")}, "no such file or directory"},
		{"folder as executable", Spec{Exe: dir}, "is not a regular file"},
		{"missing root", Spec{Exe: "/proc/self/exe", Root: filepath.Join(dir, "missing")}, "no such file or directory"},
		{"relative dir", Spec{Exe: "/bin/true", Dir: "tmp"}, "is not absolute"},
	}
	for _, tt := range tests {
		_, err := Run(context.Background(), tt.spec)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestKernel(t *testing.T) {
	exe := probe(t)
	if err := seccomp.Available(); err != nil {
		t.Skip(err)
	}
	old, _ := syscalls.ParseVersion("3.10")
	newer, _ := syscalls.ParseVersion("5.14")
	tests := []struct {
		kernel     *syscalls.Version
		want       map[string]string
		wantENOSYS bool
	}{
		{&old, map[string]string{"getrandom": "Function not implemented", "uname": "3.10.0 portabin", "osrelease": "3.10.0"}, true},
		{&newer, map[string]string{"getrandom": "ok", "uname": "5.14.0 portabin", "osrelease": "5.14.0"}, false},
	}
	for _, tt := range tests {
		res := run(t, Spec{Exe: exe, Args: []string{"kernel"}, Kernel: tt.kernel})
		if diff := cmp.Diff(tt.want, lines(res.Stdout)); diff != "" {
			t.Errorf("under %s (-want +got):\n%s", tt.kernel, diff)
		}
		found := false
		for _, c := range res.ENOSYS {
			found = found || c.Name == "getrandom"
		}
		if found != tt.wantENOSYS {
			t.Errorf("under %s: ENOSYS %v, want getrandom there: %v", tt.kernel, res.ENOSYS, tt.wantENOSYS)
		}
		if res.UnameFaked == 0 {
			t.Errorf("under %s: uname was not faked", tt.kernel)
		}
	}
	res := run(t, Spec{Exe: exe, Args: []string{"kernel"}})
	if res.ENOSYS != nil || res.UnameFaked != 0 {
		t.Errorf("without a kernel: ENOSYS %v, uname faked %d", res.ENOSYS, res.UnameFaked)
	}
}

func TestQEMU(t *testing.T) {
	needSandbox(t)
	const qemu = "/usr/bin/qemu-aarch64-static"
	if _, err := os.Stat(qemu); err != nil {
		t.Skip(err)
	}
	src, err := os.ReadFile("testdata/probe.c")
	if err != nil {
		t.Fatal(err)
	}
	exe := ctest.Build(t, ctest.Zig(t, "aarch64-linux-musl"), string(src), "-static", "-O")
	res := run(t, Spec{Exe: exe})
	want := "executing /portabin/prog: exec format error (an executable for aarch64: it needs qemu-aarch64-static)"
	// Where binfmt_misc has qemu registered, the kernel runs the executable without being asked.
	_, binfmt := os.Stat("/proc/sys/fs/binfmt_misc/qemu-aarch64")
	if binfmt != nil && (res.ExecError != want || res.ExitCode != 127) {
		t.Errorf("without qemu: exit %d, exec error %q, want 127, %q", res.ExitCode, res.ExecError, want)
	}
	v, _ := syscalls.ParseVersion("4.18")
	res = run(t, Spec{Exe: exe, Args: []string{"info"}, QEMU: qemu, Kernel: &v})
	got := lines(res.Stdout)
	if got["argv[0]"] != "/portabin/prog" || got["write /"] != "Read-only file system" || got["hostname"] != "portabin" {
		t.Errorf("under qemu: exit %d, exec error %q, stdout:\n%s\nstderr:\n%s", res.ExitCode, res.ExecError, res.Stdout, res.Stderr)
	}
	res = run(t, Spec{Exe: exe, Args: []string{"kernel"}, QEMU: qemu, Kernel: &v})
	if got := lines(res.Stdout)["uname"]; got != "4.18.0 portabin" {
		t.Errorf("uname under qemu with -r: %q; stdout:\n%s\nstderr:\n%s", got, res.Stdout, res.Stderr)
	}
}

// TestUnprivileged runs the main tests again as nobody when the tests run as root: without
// root, the process cap is RLIMIT_NPROC in the user namespace rather than a cgroup.
func TestUnprivileged(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("already unprivileged")
	}
	needSandbox(t)
	ctest.GCC(t)
	const nobody = 65534
	// Everything the copy needs must be readable by nobody, unlike go test's build folder.
	dir, err := os.MkdirTemp("", "portabin-unprivileged-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	tmp := filepath.Join(dir, "tmp")
	for _, d := range []string{filepath.Join(dir, "testdata"), tmp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(tmp, 0o1777); err != nil {
		t.Fatal(err)
	}
	copyFile(t, os.Args[0], filepath.Join(dir, "sandbox.test"), 0o755)
	copyFile(t, "testdata/probe.c", filepath.Join(dir, "testdata/probe.c"), 0o644)
	cmd := exec.Command(filepath.Join(dir, "sandbox.test"), "-test.v", "-test.count=1",
		"-test.run", "^(TestInfo|TestExitCodeAndSignal|TestForkBomb|TestMemoryCap|TestNothingSurvives|TestNetwork|TestKernel)$")
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + tmp, "TMPDIR=" + tmp}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the tests as nobody: %v\n%s", err, out)
	}
	// Hosts may allow user namespaces to root only (a sysctl, AppArmor): nothing to test then.
	if i := bytes.Index(out, []byte("no sandbox on this host")); i >= 0 {
		line, _, _ := bytes.Cut(out[i:], []byte("\n"))
		t.Skipf("as nobody: %s", line)
	}
	for _, name := range []string{"TestInfo", "TestExitCodeAndSignal", "TestForkBomb", "TestMemoryCap", "TestNothingSurvives", "TestNetwork"} {
		if !bytes.Contains(out, []byte("--- PASS: "+name+" ")) {
			t.Errorf("%s did not pass as nobody:\n%s", name, out)
		}
	}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, mode); err != nil {
		t.Fatal(err)
	}
}

// TestRefused: where user namespaces are refused, Available and Run say why and suggest podman.
// The test runs itself again in a user namespace of its own whose limit on user namespaces is 0.
func TestRefused(t *testing.T) {
	if os.Getenv("PORTABIN_TEST_REFUSED") == "" {
		needSandbox(t)
		cmd := exec.Command(os.Args[0], "-test.run", "^TestRefused$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), "PORTABIN_TEST_REFUSED=1")
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Cloneflags:  syscall.CLONE_NEWUSER,
			UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
			GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
		}
		out, err := cmd.CombinedOutput()
		if err != nil || !bytes.Contains(out, []byte("--- PASS: TestRefused")) {
			t.Fatalf("%v\n%s", err, out)
		}
		return
	}
	if err := os.WriteFile("/proc/sys/user/max_user_namespaces", []byte("0"), 0o644); err != nil {
		t.Fatal(err)
	}
	const why = "user namespaces are disabled: user.max_user_namespaces=0"
	if err := Available(); err == nil || !strings.Contains(err.Error(), why) {
		t.Errorf("Available() = %v, want it to say %q", err, why)
	}
	_, err := Run(context.Background(), Spec{Exe: os.Args[0]})
	var ue *uerr.Error
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), why) || !strings.Contains(ue.Hint, "--runner podman") {
		t.Errorf("Run: %v (%#v), want a user error saying %q with a hint", err, ue, why)
	}
}

// TestNoLeaks: runs that end every way leave no file descriptor and no cgroup behind.
func TestNoLeaks(t *testing.T) {
	exe := probe(t)
	old, _ := syscalls.ParseVersion("3.10")
	specs := []Spec{
		{Exe: exe, Args: []string{"exit", "0"}},
		{Exe: exe, Args: []string{"kernel"}, Kernel: &old},
		{Exe: exe, Args: []string{"sleep", "leak-test"}, Kernel: &old, Timeout: 100 * time.Millisecond},
		{Exe: exe, Dir: "/nowhere", Kernel: &old},
	}
	fds := func() int {
		entries, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		return len(entries)
	}
	run(t, specs[1]) // the first run with a kernel sets up what stays for every run after
	before := fds()
	for _, spec := range specs {
		run(t, spec)
	}
	if after := fds(); after != before {
		t.Errorf("%d open file descriptors before the runs, %d after", before, after)
	}
	leftovers, _ := filepath.Glob(fmt.Sprintf("/sys/fs/cgroup/*/portabin-%d-*", os.Getpid()))
	nested, _ := filepath.Glob(fmt.Sprintf("/sys/fs/cgroup/*/*/*/portabin-%d-*", os.Getpid()))
	root, _ := filepath.Glob(fmt.Sprintf("/sys/fs/cgroup/portabin-%d-*", os.Getpid()))
	if left := append(append(leftovers, nested...), root...); len(left) > 0 {
		t.Errorf("cgroups left behind: %v", left)
	}
}
