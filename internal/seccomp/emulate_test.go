package seccomp

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/portabin/portabin/internal/ctest"
	"github.com/portabin/portabin/internal/syscalls"
	"github.com/portabin/portabin/internal/target"
)

// The test binary re-executed as a filtered process: it installs the filter the environment
// names, hands the listener to the test over fd 3 and execs the program in its arguments.
const (
	stageEnv  = "PORTABIN_SECCOMP_TEST_STAGE"
	kernelEnv = "PORTABIN_SECCOMP_TEST_KERNEL"
	modeEnv   = "PORTABIN_SECCOMP_TEST_MODE"
	opensEnv  = "PORTABIN_SECCOMP_TEST_OPENS"
)

func TestMain(m *testing.M) {
	if os.Getenv(stageEnv) == "filtered" {
		if err := filteredStage(os.Args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, "filtered stage:", err)
			os.Exit(120)
		}
	}
	os.Exit(m.Run())
}

func filteredStage(argv []string) error {
	runtime.LockOSThread() // the filter binds this thread, and exec keeps it
	f, err := filterFromEnv()
	if err != nil {
		return err
	}
	listener, err := f.Install()
	if err != nil {
		return err
	}
	const socket = 3
	if f.Mode == Notify {
		if err := SendListener(socket, listener); err != nil {
			return err
		}
		unix.Close(listener)
	}
	unix.Close(socket)
	return syscall.Exec(argv[0], argv, os.Environ())
}

func filterFromEnv() (*Filter, error) {
	kernel, err := syscalls.ParseVersion(os.Getenv(kernelEnv))
	if err != nil {
		return nil, err
	}
	mode := Notify
	if os.Getenv(modeEnv) == Errno.String() {
		mode = Errno
	}
	return filterFor(kernel, mode, os.Getenv(opensEnv) != "")
}

// filterFor builds the same filter for the filtered stage and for its supervisor.
func filterFor(kernel syscalls.Version, mode Mode, opens bool) (*Filter, error) {
	host, _ := target.Host()
	f, err := ForKernel(host.Arch, kernel, mode)
	if err == nil && opens {
		err = f.TraceOpens()
	}
	return f, err
}

// freestanding builds a C program of testdata that makes its calls without a C library; it
// needs an x86_64 host (ctest.GCC skips others).
func freestanding(t *testing.T, name string) string {
	t.Helper()
	if err := Available(); err != nil {
		t.Skip(err)
	}
	src, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return ctest.Build(t, ctest.GCC(t), string(src), "-static", "-nostdlib", "-ffreestanding", "-fno-stack-protector", "-O1")
}

// run runs prog under the filter for kernel in a re-executed test binary, supervising it in
// Notify mode, and returns the program's results by name.
func run(t *testing.T, prog, kernel string, mode Mode, hostname string, opens bool) (map[string]string, Report) {
	t.Helper()
	stdout, report := runFiltered(t, prog, kernel, mode, hostname, opens)
	results := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(stdout))
	for sc.Scan() {
		name, value, _ := strings.Cut(sc.Text(), " ")
		results[name] = value
	}
	return results, report
}

// runFiltered runs prog as run does and returns its standard output.
func runFiltered(t *testing.T, prog, kernel string, mode Mode, hostname string, opens bool) (string, Report) {
	t.Helper()
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	ours, theirs := os.NewFile(uintptr(pair[0]), "listener-in"), os.NewFile(uintptr(pair[1]), "listener-out")
	defer ours.Close()
	cmd := exec.Command(os.Args[0], prog)
	cmd.Env = append(os.Environ(), stageEnv+"=filtered", kernelEnv+"="+kernel, modeEnv+"="+mode.String())
	if opens {
		cmd.Env = append(cmd.Env, opensEnv+"=1")
	}
	cmd.ExtraFiles = []*os.File{theirs}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	theirs.Close()

	var supervisor *Supervisor
	// A safety net against a hang, not a measurement.
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	if mode == Notify {
		listener, err := ReceiveListener(pair[0])
		if err != nil {
			cmd.Wait()
			t.Fatalf("receiving the listener: %v\n%s", err, stderr.Bytes())
		}
		kernelVersion, _ := syscalls.ParseVersion(kernel)
		f, err := filterFor(kernelVersion, mode, opens)
		if err != nil {
			t.Fatal(err)
		}
		f.Hostname = hostname
		supervisor = Supervise(ctx, listener, f)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%v\nstdout:\n%s\nstderr:\n%s", err, stdout.Bytes(), stderr.Bytes())
	}
	var report Report
	if supervisor != nil {
		report = supervisor.Wait()
		if ctx.Err() != nil {
			t.Fatal("the supervisor did not see the filtered processes end")
		}
		if report.Err != nil {
			t.Fatal(report.Err)
		}
	}
	return stdout.String(), report
}

const enosys = "-38"

// worked is every call's result on an unfiltered host, or a pattern of it.
var worked = map[string]string{
	"openat": "0", "getrandom": "8", "memfd_create": "0", "statx": "0", "pidfd_open": "0",
	"close_range": "0", "x32_getpid": enosys, "uname": "0", "uname_efault": "-14",
	"i386_getpid": "0", "i386_getrandom": "0", "i386_uname": "0", "i386_olduname": "0",
	"i386_oldolduname": "0", "child_getrandom": "8", "child_status": "0",
}

// with returns worked with some results replaced.
func with(changes map[string]string) map[string]string { return with2(worked, changes) }

func with2(base, changes map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range changes {
		out[k] = v
	}
	return out
}

func TestEmulatedKernels(t *testing.T) {
	prog := freestanding(t, "calls.c")
	var host unix.Utsname
	if err := unix.Uname(&host); err != nil {
		t.Fatal(err)
	}
	hostRelease := unix.ByteSliceToString(host.Release[:])
	hostNodename := unix.ByteSliceToString(host.Nodename[:])

	// Kernels older than 3.17 refuse every call the program makes but openat and uname.
	beforeGetrandomResults := map[string]string{"getrandom": enosys, "memfd_create": enosys, "statx": enosys,
		"pidfd_open": enosys, "close_range": enosys, "i386_getrandom": enosys, "child_getrandom": enosys}
	beforeGetrandom := []Call{
		{Name: "close_range", Number: 436, Arch: "x86_64", Since: "5.9", Count: 1},
		{Name: "getrandom", Number: 355, Arch: "i386", Since: "3.17", Count: 1},
		{Name: "getrandom", Number: 318, Arch: "x86_64", Since: "3.17", Count: 2},
		{Name: "memfd_create", Number: 319, Arch: "x86_64", Since: "3.17", Count: 1},
		{Name: "pidfd_open", Number: 434, Arch: "x86_64", Since: "5.3", Count: 1},
		{Name: "statx", Number: 332, Arch: "x86_64", Since: "4.11", Count: 1},
	}

	tests := []struct {
		kernel   string
		mode     Mode
		hostname string
		results  map[string]string // every result but the uname fields
		release  string            // uname's, each convention
		nodename string
		oldold   string // oldolduname's 9-byte release
		enosys   []Call
		faked    int
	}{
		{
			kernel: "3.10", mode: Notify, hostname: "old-box",
			results: with(beforeGetrandomResults),
			release: "3.10.0", nodename: "old-box", oldold: "3.10.0",
			enosys: beforeGetrandom,
			faked:  4, // uname, and the three forms through int $0x80
		},
		{
			kernel: "5.4", mode: Notify,
			results: with(map[string]string{"close_range": enosys}),
			release: "5.4.0", nodename: hostNodename, oldold: "5.4.0",
			enosys: []Call{{Name: "close_range", Number: 436, Arch: "x86_64", Since: "5.9", Count: 1}},
			faked:  4,
		},
		{
			kernel: "2.6.32", mode: Notify, hostname: "rhel6",
			results: with(beforeGetrandomResults),
			release: "2.6.32", nodename: "rhel6", oldold: "2.6.32",
			enosys: beforeGetrandom,
			faked:  4,
		},
		{
			// Errno mode answers the same calls ENOSYS, records nothing and leaves uname alone.
			kernel: "3.10", mode: Errno,
			results: with(beforeGetrandomResults),
			release: hostRelease, nodename: hostNodename, oldold: hostRelease[:min(len(hostRelease), 8)],
		},
	}
	for _, tt := range tests {
		t.Run(tt.kernel+"-"+tt.mode.String(), func(t *testing.T) {
			results, report := run(t, prog, tt.kernel, tt.mode, tt.hostname, false)
			want := with(tt.results)
			want["sysname"] = "Linux"
			want["nodename"] = tt.nodename
			want["release"] = tt.release
			want["i386_release"] = tt.release
			want["i386_olduname_release"] = tt.release
			want["i386_oldolduname_release"] = tt.oldold
			if tt.mode == Notify {
				want["version"] = "#1 SMP portabin emulated"
			} else {
				want["version"] = unix.ByteSliceToString(host.Version[:])
			}
			if diff := cmp.Diff(want, results); diff != "" {
				t.Errorf("results (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.enosys, report.ENOSYS); diff != "" {
				t.Errorf("report's ENOSYS calls (-want +got):\n%s", diff)
			}
			// uname(1) is let through to the kernel, which answers EFAULT.
			wantReal := 0
			if tt.mode == Notify {
				wantReal = 1
			}
			if report.UnameFaked != tt.faked || report.UnameReal != wantReal {
				t.Errorf("uname faked %d times, let through %d; want %d and %d", report.UnameFaked, report.UnameReal, tt.faked, wantReal)
			}
		})
	}
}

// TestOpens: with TraceOpens the supervisor names the files a program tried to open or
// execute that do not exist, and every open still gets the kernel's answer.
func TestOpens(t *testing.T) {
	prog := freestanding(t, "opens.c")
	results := map[string]string{
		"open_root": "0", "open_missing": "-2", "open_missing_again": "-2", "openat_relative": "-2",
		"openat_create": "-2", "openat2_missing": "-2", "openat2_create": "-2", "execve_missing": "-2",
		"open_page_end": "-2",
	}
	missing := []MissingFile{
		{Path: "/etc/portabin-missing-at-page-end", Call: "open", Count: 1},
		{Path: "/etc/portabin-missing-open", Call: "open", Count: 2},
		{Path: "/etc/portabin-missing-openat2", Call: "openat2", Count: 1},
		{Path: "/portabin-missing-program", Call: "execve", Count: 1},
		{Path: "portabin-missing-relative", Call: "openat", Count: 1},
	}
	t.Run("5.14", func(t *testing.T) {
		got, report := run(t, prog, "5.14", Notify, "", true)
		if diff := cmp.Diff(results, got); diff != "" {
			t.Errorf("results (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(missing, report.Missing); diff != "" {
			t.Errorf("missing files (-want +got):\n%s", diff)
		}
		if len(report.ENOSYS) > 0 {
			t.Errorf("ENOSYS answers %+v", report.ENOSYS)
		}
	})
	t.Run("5.4", func(t *testing.T) {
		// openat2 (5.6) is answered ENOSYS, not traced.
		got, report := run(t, prog, "5.4", Notify, "", true)
		results := with2(results, map[string]string{"openat2_missing": enosys, "openat2_create": enosys})
		if diff := cmp.Diff(results, got); diff != "" {
			t.Errorf("results (-want +got):\n%s", diff)
		}
		missing := slices.DeleteFunc(slices.Clone(missing), func(m MissingFile) bool { return m.Call == "openat2" })
		if diff := cmp.Diff(missing, report.Missing); diff != "" {
			t.Errorf("missing files (-want +got):\n%s", diff)
		}
		wantENOSYS := []Call{{Name: "openat2", Number: 437, Arch: "x86_64", Since: "5.6", Count: 2}}
		if diff := cmp.Diff(wantENOSYS, report.ENOSYS); diff != "" {
			t.Errorf("ENOSYS (-want +got):\n%s", diff)
		}
	})
}

// TestMissingFromRoot: an absolute path, and an absolute symlink, are looked up in the
// process's root, not the supervisor's.
func TestMissingFromRoot(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "portabin-only-here"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/portabin-only-here", filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	dir, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dir)
	for _, c := range []struct {
		path    string
		inRoot  bool
		missing bool
	}{
		{"/portabin-only-here", true, false},
		{"/link", true, false},
		{"/../../portabin-only-here", true, false}, // ".." stops at the root
		{"/nope", true, true},
		{"/portabin-only-here/below", true, true}, // ENOTDIR
		{"link", false, true},                     // outside a root, the symlink leaves it
	} {
		if got := missingFrom(dir, c.path, c.inRoot); got != c.missing {
			t.Errorf("missingFrom(%q, inRoot %v) = %v", c.path, c.inRoot, got)
		}
	}
}

// TestCLibraries runs hello world linked with musl and with glibc under old kernels: musl's
// start-up needs nothing newer than 2.6.18; glibc's tries newer calls, falls back, and every
// call the supervisor answered is one the old kernel lacks.
func TestCLibraries(t *testing.T) {
	if err := Available(); err != nil {
		t.Skip(err)
	}
	const hello = "#include <stdio.h>\nint main(void) { puts(\"hello\"); return 0; }\n"
	for _, c := range []struct {
		name, kernel string
		cc           func(testing.TB) ctest.Compiler
		noENOSYS     bool
	}{
		{"musl", "2.6.18", ctest.MuslGCC, true},
		{"glibc", "2.6.32", ctest.GCC, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			prog := ctest.Build(t, c.cc(t), hello, "-static", "-O1")
			stdout, report := runFiltered(t, prog, c.kernel, Notify, "", false)
			if stdout != "hello\n" {
				t.Errorf("output %q", stdout)
			}
			kernel, _ := syscalls.ParseVersion(c.kernel)
			for _, call := range report.ENOSYS {
				s, ok := syscalls.Lookup(call.Arch, call.Number)
				if !ok || s.Name != call.Name || !blocked(s, kernel) {
					t.Errorf("answered ENOSYS to %+v, which Linux %s has", call, c.kernel)
				}
			}
			if c.noENOSYS && len(report.ENOSYS) > 0 {
				t.Errorf("ENOSYS answers %+v", report.ENOSYS)
			}
			t.Logf("ENOSYS answers: %+v", report.ENOSYS)
		})
	}
}

// TestSupervisorStopsWithContext: with filtered processes still alive, the supervisor ends
// when its context does, and closes the listener.
func TestSupervisorStopsWithContext(t *testing.T) {
	if err := Available(); err != nil {
		t.Skip(err)
	}
	host, ok := target.Host()
	if !ok {
		t.Skip("no target for this host")
	}
	f, err := ForKernel(host.Arch, syscalls.Version{Major: 3, Minor: 10}, Notify)
	if err != nil {
		t.Fatal(err)
	}
	// A real listener, whose filter lives as long as the sleeping process holding it.
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	ours, theirs := os.NewFile(uintptr(pair[0]), "listener-in"), os.NewFile(uintptr(pair[1]), "listener-out")
	defer ours.Close()
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip(err)
	}
	cmd := exec.Command(os.Args[0], sleep, "1000")
	cmd.Env = append(os.Environ(), stageEnv+"=filtered", kernelEnv+"=3.10", modeEnv+"=notify")
	cmd.ExtraFiles = []*os.File{theirs}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	theirs.Close()
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	listener, err := ReceiveListener(pair[0])
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	s := Supervise(ctx, listener, f)
	cancel()
	report := s.Wait()
	if report.Err != nil {
		t.Fatal(report.Err)
	}
	if _, err := unix.FcntlInt(uintptr(listener), unix.F_GETFD, 0); !errors.Is(err, unix.EBADF) {
		t.Errorf("the listener fd is still open after the supervisor stopped: %v", err)
	}
}

// TestAvailable compares with the kernel's own list of seccomp actions.
func TestAvailable(t *testing.T) {
	actions, err := os.ReadFile("/proc/sys/kernel/seccomp/actions_avail")
	if err != nil {
		t.Skip(err)
	}
	hasNotify := strings.Contains(string(actions), "user_notif")
	if err := Available(); (err == nil) != hasNotify {
		t.Errorf("Available() = %v with actions %q", err, strings.TrimSpace(string(actions)))
	}
}

func TestInstallWrongArch(t *testing.T) {
	host, ok := target.Host()
	if !ok {
		t.Skip("no target for this host")
	}
	other := "riscv64"
	if host.Arch == other {
		other = "x86_64"
	}
	f, err := ForKernel(other, syscalls.Version{Major: 5, Minor: 4}, Errno)
	if err != nil {
		t.Fatal(err)
	}
	// Refused before anything is set, so this thread stays unfiltered.
	if _, err := f.Install(); err == nil {
		t.Fatalf("installed a %s filter on a %s host", other, host.Arch)
	}
}

// TestReceiveListenerNone: the sender closed its end without sending, as a filtered stage does
// that fails before installing its filter.
func TestReceiveListenerNone(t *testing.T) {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pair[0])
	unix.Close(pair[1])
	if fd, err := ReceiveListener(pair[0]); err == nil {
		t.Errorf("received fd %d from a closed socket", fd)
	}
}
