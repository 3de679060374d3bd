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
	// Before any child exists, so that no exit goes unnoticed.
	signals := make(chan os.Signal, 32)
	signal.Notify(signals, unix.SIGCHLD, unix.SIGTERM, unix.SIGINT)

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
		Env:   []string{stageEnv + "=exec"},
		Files: files,
	})
	if err != nil {
		return nil, fmt.Errorf("starting the program's stage: %w", err)
	}
	return &execStage{pid: pid, configW: configW, errR: errR}, nil
}

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

// reap waits for the program, forwarding SIGTERM and SIGINT to it and reaping every orphan that
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
		case unix.SIGCHLD:
			reapAll()
		default:
			unix.Kill(main, sig.(syscall.Signal))
		}
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
	if cfg.Kernel != nil {
		// The filter belongs to this thread, which must be the one that execs.
		runtime.LockOSThread()
		if err := installFilter(cfg); err != nil {
			return fail("setup", err)
		}
	}
	err := unix.Exec(cfg.Path, cfg.Argv, cfg.Env)
	return fail("exec", fmt.Errorf("executing %s: %w", cfg.Path, err))
}

func setLimits(cfg execConfig) error {
	limits := []struct {
		resource int
		value    uint64
	}{
		{unix.RLIMIT_NPROC, uint64(cfg.MaxProcs)},
		{unix.RLIMIT_AS, uint64(cfg.AddressSpace)},
		// No core files: the root is read-only, and a piped core_pattern would run a host program.
		{unix.RLIMIT_CORE, 0},
	}
	for _, l := range limits {
		if l.value == 0 && l.resource != unix.RLIMIT_CORE {
			continue
		}
		if err := unix.Setrlimit(l.resource, &unix.Rlimit{Cur: l.value, Max: l.value}); err != nil {
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
