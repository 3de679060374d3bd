package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Reexec runs the sandbox stage this process was started as, and exits; it returns false in an
// ordinary portabin process. main (and a test binary's TestMain) calls it before anything else.
func Reexec() bool {
	switch os.Getenv(stageEnv) {
	case "init":
		os.Exit(initMain())
	case "exec":
		os.Exit(execMain())
	}
	return false
}

// stageEnviron is a stage's whole environment. One CPU is all a stage needs, and it keeps the
// Go runtime's threads, which count against the sandbox's process cap, few on any machine.
func stageEnviron(stage string) []string {
	return []string{stageEnv + "=" + stage, "GOMAXPROCS=1"}
}

// readConfig decodes the stage's configuration from fd 3. io.EOF means the previous stage gave up.
func readConfig(v any) error {
	f := os.NewFile(fdConfig, "config")
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return fmt.Errorf("reading the stage's configuration: %w", err)
	}
	if len(data) == 0 {
		return io.EOF
	}
	return json.Unmarshal(data, v)
}

// initMain is PID 1 of the sandbox: build the root, start the program, reap, report.
func initMain() int {
	statusW := os.NewFile(fdStatus, "status")
	report := func(st status) int {
		json.NewEncoder(statusW).Encode(st)
		return 0
	}
	var cfg initConfig
	if err := readConfig(&cfg); err != nil {
		return report(status{Setup: err.Error()})
	}
	// Every signal, before any child exists: so that no exit goes unnoticed, and so that no
	// signal the program sends its PID 1 (SIGQUIT, SIGHUP...) ends init the Go runtime's way.
	signals := make(chan os.Signal, 32)
	signal.Notify(signals)

	var ex *execStage
	if !cfg.Probe {
		var err error
		if ex, err = startExecStage(cfg.SeccompEnabled); err != nil {
			return report(status{Setup: err.Error()})
		}
	}
	if err := buildRoot(cfg); err != nil {
		return report(status{Setup: err.Error()})
	}
	if cfg.Probe {
		return report(status{})
	}
	problem := ex.run(cfg.Exec)
	st, ok := reap(ex.pid, signals)
	if kind, msg, found := strings.Cut(problem, ": "); found && kind == "setup" {
		return report(status{Setup: msg})
	} else if found {
		return report(status{Exec: msg})
	}
	if !ok {
		return report(status{Setup: "the program's stage vanished"})
	}
	if st.Signaled() {
		return report(status{Signal: int(st.Signal())})
	}
	return report(status{Exit: st.ExitStatus()})
}

// execStage is the process that becomes the program.
type execStage struct {
	pid     int
	configW *os.File
	errR    *os.File
}

// startExecStage starts the exec stage, which waits for its configuration. Started before the
// root is built, it is loaded from the host's files and then moved into the new root by
// pivot_root, along with init.
func startExecStage(withSocket bool) (*execStage, error) {
	configR, configW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer configR.Close()
	errR, errW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer errW.Close()
	files := []uintptr{0, 1, 2, configR.Fd(), errW.Fd()}
	if withSocket {
		socket := os.NewFile(fdSocket, "seccomp socket")
		defer socket.Close()
		files = append(files, socket.Fd())
	}
	pid, err := syscall.ForkExec("/proc/self/exe", []string{"portabin-sandbox-exec"}, &syscall.ProcAttr{
		Dir:   "/",
		Env:   stageEnviron("exec"),
		Files: files,
	})
	if err != nil {
		return nil, fmt.Errorf("starting the program's stage: %w", err)
	}
	// The stage says it is running before the root is built: a dynamically linked portabin
	// loads its libraries after execve returns, and they must come from the host's files.
	ready := make([]byte, 1)
	if n, _ := errR.Read(ready); n != 1 || ready[0] != stageReady {
		return nil, fmt.Errorf("starting the program's stage: it ended before it was ready")
	}
	return &execStage{pid: pid, configW: configW, errR: errR}, nil
}

// stageReady is the exec stage's first byte to init.
const stageReady = '+'

// run sends the exec stage its configuration and returns what it said before it exec'd the
// program: "" when exec succeeded, else "setup: ..." or "exec: ...".
func (e *execStage) run(cfg execConfig) string {
	data, err := json.Marshal(cfg)
	if err != nil {
		return "setup: " + err.Error()
	}
	go func() {
		e.configW.Write(data)
		e.configW.Close()
	}()
	msg, _ := io.ReadAll(e.errR)
	e.errR.Close()
	return string(msg)
}

// reap waits for the program, forwarding SIGTERM, SIGINT, SIGHUP and SIGQUIT to it and reaping every orphan that
// the kernel hands to PID 1; when the program ends, whatever it left behind is killed.
func reap(main int, signals chan os.Signal) (unix.WaitStatus, bool) {
	var mainStatus unix.WaitStatus
	seen, done := false, false
	reapAll := func() {
		for {
			var ws unix.WaitStatus
			pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
			if err == unix.EINTR {
				continue
			}
			if pid <= 0 || err != nil {
				if err == unix.ECHILD {
					done = true
				}
				return
			}
			if pid == main {
				mainStatus, seen, done = ws, true, true
			}
		}
	}
	reapAll()
	for !done {
		switch sig := <-signals; sig {
		case unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGQUIT:
			unix.Kill(main, sig.(syscall.Signal))
		}
		// On any signal, not only SIGCHLD: signal.Notify drops what a full channel cannot
		// take, so a SIGCHLD may be lost behind others (the runtime's SIGURG among them).
		reapAll()
	}
	// PID 1 killing -1 reaches every other process of the namespace.
	unix.Kill(-1, unix.SIGKILL)
	for {
		var ws unix.WaitStatus
		if _, err := unix.Wait4(-1, &ws, 0, nil); err != nil && err != unix.EINTR {
			break
		}
	}
	return mainStatus, seen
}

// execMain becomes the program: rlimits, capabilities, seccomp, execve.
func execMain() int {
	errW := os.NewFile(fdStatus, "errors")
	unix.CloseOnExec(fdStatus)
	if _, err := errW.Write([]byte{stageReady}); err != nil {
		return 127
	}
	fail := func(kind string, err error) int {
		fmt.Fprintf(errW, "%s: %v", kind, err)
		return 127
	}
	var cfg execConfig
	if err := readConfig(&cfg); err != nil {
		if errors.Is(err, io.EOF) {
			return 1 // init could not build the root and says why itself
		}
		return fail("setup", err)
	}
	if err := unix.Chdir(cfg.Dir); err != nil {
		return fail("exec", fmt.Errorf("changing to the working directory %s: %w", cfg.Dir, err))
	}
	if err := setLimits(cfg); err != nil {
		return fail("setup", err)
	}
	if err := dropCapabilities(); err != nil {
		return fail("setup", err)
	}
	// From here on the thread is the one that execs: the filter and RLIMIT_AS belong to it.
	runtime.LockOSThread()
	if cfg.Kernel != nil {
		if err := installFilter(cfg); err != nil {
			return fail("setup", err)
		}
	}
	errno := execWithAddressSpace(cfg)
	return fail("exec", fmt.Errorf("executing %s: %w", cfg.Path, errno))
}

// execWithAddressSpace sets RLIMIT_AS and execs, with no allocation between the two: the Go
// runtime reserves more address space than a cap like 1 GiB, so any mmap of ours after the
// limit would fail and crash this stage. It returns only when execve fails, with its error.
func execWithAddressSpace(cfg execConfig) error {
	path, err := unix.BytePtrFromString(cfg.Path)
	if err != nil {
		return err
	}
	argv, err := syscall.SlicePtrFromStrings(cfg.Argv)
	if err != nil {
		return err
	}
	env, err := syscall.SlicePtrFromStrings(cfg.Env)
	if err != nil {
		return err
	}
	limit := unix.Rlimit{Cur: uint64(cfg.AddressSpace), Max: uint64(cfg.AddressSpace)}
	if cfg.AddressSpace > 0 {
		if _, _, errno := unix.RawSyscall(unix.SYS_SETRLIMIT, unix.RLIMIT_AS, uintptr(unsafe.Pointer(&limit)), 0); errno != 0 {
			return fmt.Errorf("setting RLIMIT_AS: %w", errno)
		}
	}
	_, _, errno := unix.RawSyscall(unix.SYS_EXECVE, uintptr(unsafe.Pointer(path)),
		uintptr(unsafe.Pointer(&argv[0])), uintptr(unsafe.Pointer(&env[0])))
	runtime.KeepAlive(path)
	runtime.KeepAlive(argv)
	runtime.KeepAlive(env)
	return errno
}

// setLimits sets the limits that the rest of this stage can live with (RLIMIT_AS comes last, in
// execWithAddressSpace). RLIMIT_NOFILE's soft limit becomes 1024, the usual default, whatever
// portabin's was: the Go runtime raises its own, and a program should meet the same limit on
// every host.
func setLimits(cfg execConfig) error {
	var nofile unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &nofile); err != nil {
		return fmt.Errorf("reading RLIMIT_NOFILE: %w", err)
	}
	limits := []struct {
		resource int
		limit    unix.Rlimit
	}{
		{unix.RLIMIT_NOFILE, unix.Rlimit{Cur: min(nofile.Max, 1024), Max: nofile.Max}},
		// No core files: the root is read-only, and a piped core_pattern would run a host program.
		{unix.RLIMIT_CORE, unix.Rlimit{}},
	}
	if cfg.MaxProcs > 0 {
		limits = append(limits, struct {
			resource int
			limit    unix.Rlimit
		}{unix.RLIMIT_NPROC, unix.Rlimit{Cur: uint64(cfg.MaxProcs), Max: uint64(cfg.MaxProcs)}})
	}
	for _, l := range limits {
		if err := unix.Setrlimit(l.resource, &l.limit); err != nil {
			return fmt.Errorf("setting resource limit %d: %w", l.resource, err)
		}
	}
	return nil
}

// dropCapabilities empties the bounding set, so that the program, although uid 0 in its user
// namespace, execs with no capabilities at all: it cannot remount the read-only binds (the
// executable, qemu) read-write, nor undo any other mount.
func dropCapabilities() error {
	for c := 0; ; c++ {
		err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0)
		if err == unix.EINVAL {
			return nil // past the last capability this kernel knows
		}
		if err != nil {
			return fmt.Errorf("dropping capability %d: %w", c, err)
		}
	}
}
