// Package sandbox runs one executable inside a root filesystem in fresh Linux namespaces, without a daemon.
//
// How a run goes (Run):
//
//   - portabin re-executes itself (/proc/self/exe) as the sandbox's init, PID 1 in new user, mount,
//     PID, UTS, IPC and (unless Spec.Network) network namespaces. Its uid 0 is the caller's uid.
//   - init at once starts a second stage, "exec", which waits while init builds the root: a small
//     tmpfs holds the mount points and the executable's name; overlayfs stacks it, as the only
//     other lower layer, on top of Spec.Root, so the root is read-only by nature and nothing is
//     ever written into Spec.Root or copied from it. Where overlayfs is refused (a user
//     namespace before Linux 5.11), the tmpfs mirrors the root's top-level entries with
//     read-only bind mounts instead. Then a private tmpfs /tmp (mode 1777), a fresh /proc, a
//     read-only tmpfs /dev with null, zero, full, random, urandom and tty bound from the host,
//     a writable /dev/shm and the /dev/fd links, the executable bound read-only at
//     /portabin/NAME; pivot_root, which moves the waiting exec stage into the new root too.
//   - the exec stage sets the rlimits, empties the capability bounding set (the program is uid 0
//     in its namespace but execs with no capabilities, so it cannot undo a mount), installs the
//     seccomp filter when Spec.Kernel is set (so the filter covers the program and its
//     children, never init), hands the filter's listener to the supervisor in the calling
//     process over a unix socket, and execs the program with argv[0] = /portabin/NAME. Started
//     before the pivot, the exec stage is never loaded from inside the root, so a portabin
//     linked dynamically works in any root.
//   - init forwards SIGTERM and SIGINT to the program, reaps every process, and when the program
//     ends it kills whatever the program left behind and reports the program's status on a pipe.
//
// The timeout, a cancelled context or the death of the calling process kill init, and the kernel
// kills everything in a PID namespace whose init dies: nothing outlives a run. Mounts live only
// in the sandbox's mount namespace, so none are left behind either.
//
// Limits: Spec.MaxProcs and Spec.MemoryBytes go to a cgroup made for the run where this process
// may make one: cgroup v2 with the pids and memory controllers delegated to our cgroup, else the
// v1 pids and memory hierarchies when they are writable (root on a v1 or hybrid host). The
// program also always gets RLIMIT_NPROC = MaxProcs, which the kernel counts per user namespace
// and uid, so it caps the sandbox's processes when the caller is not root (root's uid 0 is exempt
// from RLIMIT_NPROC, which is why root relies on the cgroup). Without a memory cgroup, the memory
// cap is RLIMIT_AS per process (not applied under qemu, whose guest address space reservation it
// would break), and /tmp and /dev/shm, each sized MemoryBytes, are not counted. Limits() tells
// which is enforced on this host. Every program also gets RLIMIT_CORE 0 and a soft
// RLIMIT_NOFILE of 1024.
package sandbox

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/portabin/portabin/internal/runner"
	"github.com/portabin/portabin/internal/seccomp"
	"github.com/portabin/portabin/internal/syscalls"
	"github.com/portabin/portabin/internal/target"
	"github.com/portabin/portabin/internal/uerr"
)

// DefaultEnv is the program's environment when Spec.Env is nil: a PATH that finds the usual
// commands of any distribution, a writable HOME (the root is read-only, /tmp is not) and the C
// locale, which every libc has.
var DefaultEnv = []string{
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"HOME=/tmp",
	"LANG=C",
}

// Defaults for the zero values of Spec's limits.
const (
	DefaultMaxProcs    = 256
	DefaultMemoryBytes = 1 << 30
	// OutputCap is how much of stdout and of stderr a Result keeps.
	OutputCap = 16 << 20
	// Hostname is the sandbox's host name.
	Hostname = "portabin"
	// ExeDir is the folder inside the sandbox that holds the executable (and qemu).
	ExeDir = "/portabin"
)

// Spec says what to run and how.
type Spec struct {
	// Root is the host folder holding the root filesystem; "" is scratch, a root holding only
	// the executable, /dev, /proc and /tmp.
	Root string
	// Exe is the host path of the executable; it runs as /portabin/BASENAME.
	Exe string
	// Args are the arguments after argv[0].
	Args []string
	// Env is the environment; nil means DefaultEnv.
	Env   []string
	Stdin []byte
	// Dir is the working directory inside the sandbox; "" is "/".
	Dir string
	// Timeout ends the whole process tree when it expires; 0 is none.
	Timeout time.Duration
	// Kernel, when set, makes the sandbox emulate that kernel: system calls younger than it
	// answer ENOSYS (see internal/seccomp), uname(2), /proc/sys/kernel/osrelease and
	// /proc/version report it.
	Kernel *syscalls.Version
	// QEMU is the host path of a qemu-user static binary for an executable of another
	// architecture. It is bound at /portabin/BASENAME and runs the program, with -r giving the
	// emulated kernel's release to the guest's uname. With Kernel set, the seccomp filter
	// filters the host system calls that qemu makes on the guest's behalf, so it emulates
	// the missing calls only as far as qemu passes them through one to one.
	QEMU string
	// Network keeps the host's network; otherwise the sandbox has its own network namespace
	// with only the loopback interface, up.
	Network bool
	// MaxProcs caps processes (threads count too); 0 is DefaultMaxProcs.
	MaxProcs int
	// MemoryBytes caps memory; 0 is DefaultMemoryBytes.
	MemoryBytes int64
}

// Result is how the program ended.
type Result struct {
	// ExitCode is the program's exit status; -1 when a signal killed it or the timeout
	// expired; 127 when it could not be executed (ExecError says why).
	ExitCode int
	// Signal names the signal that killed the program, e.g. "SIGSEGV".
	Signal   string
	TimedOut bool
	// OutOfMemory says that the memory cgroup's OOM killer ended a process of the run (the
	// program's Signal is then SIGKILL). Under RLIMIT_AS, allocations fail instead.
	OutOfMemory bool
	// ExecError says why execve failed: a dynamic executable whose loader is missing in the
	// root, an executable for another architecture, a working directory that does not exist.
	ExecError      string
	Stdout, Stderr []byte
	// StdoutTruncated and StderrTruncated say that the program wrote more than OutputCap.
	StdoutTruncated, StderrTruncated bool
	Duration                         time.Duration
	// ENOSYS lists the calls answered ENOSYS, empty (not nil) when there were none. It is nil
	// when nothing was recorded: Spec.Kernel is nil, or this host lacks seccomp user
	// notification (Linux 5.0), where the filter answers ENOSYS by itself, unseen.
	ENOSYS []seccomp.Call
	// UnameFaked counts the uname calls answered with the emulated kernel.
	UnameFaked int
	// Missing lists the files the program tried to open or execute that its root lacks; it is
	// recorded only with an emulated kernel (the filter's supervisor sees the opens), not
	// under qemu.
	Missing []seccomp.MissingFile
}

// useOverlay is false only in tests, which cover the fallback for hosts that refuse overlayfs.
var useOverlay = true

// stageEnv names the environment variable that makes portabin a sandbox stage (see Reexec).
const stageEnv = "PORTABIN_SANDBOX_STAGE"

// The file descriptors the stages receive, after stdin, stdout and stderr.
const (
	fdConfig = 3 + iota
	fdStatus
	fdSocket
)

// initConfig is what Run tells init.
type initConfig struct {
	Root, Exe, QEMU string
	// Argv is the command line inside the sandbox, argv[0] included.
	Argv, Env      []string
	Dir            string
	KernelRelease  string // "" unless emulating a kernel
	ProcVersion    string
	Network        bool
	TmpBytes       int64
	Exec           execConfig
	Probe          bool // set up the root, run nothing: Available's test
	NoOverlay      bool // mirror the root with bind mounts even where overlayfs works
	SeccompEnabled bool
}

// execConfig is what init tells the exec stage once the root is ready.
type execConfig struct {
	Path      string
	Argv, Env []string
	Dir       string
	MaxProcs  int
	// AddressSpace is RLIMIT_AS; 0 leaves it alone.
	AddressSpace int64
	// Arch, Kernel and FilterMode select the seccomp filter; Kernel nil means none.
	Arch       string
	Kernel     *syscalls.Version
	FilterMode seccomp.Mode
	// TraceOpens makes the filter report the files the program fails to find.
	TraceOpens bool
}

// status is init's last word to Run.
type status struct {
	Exit   int
	Signal int
	// Setup is set when the sandbox could not be built.
	Setup string
	// Exec is set when execve (or the steps before it) failed for the program.
	Exec string
}

// Run runs spec.Exe in a sandbox. The error is about the sandbox (it could not be built, ctx was
// cancelled); a program that fails, crashes or times out is a Result.
func Run(ctx context.Context, spec Spec) (Result, error) {
	cfg, err := prepare(spec)
	if err != nil {
		return Result{}, err
	}
	maxProcs := orDefault(spec.MaxProcs, DefaultMaxProcs)
	memory := orDefault(spec.MemoryBytes, DefaultMemoryBytes)
	cg, err := newCgroup(maxProcs, memory)
	if err != nil {
		return Result{}, err
	}
	defer cg.remove()
	if cg == nil || !cg.memory {
		if spec.QEMU == "" {
			cfg.Exec.AddressSpace = memory
		}
	}
	cfg.Exec.MaxProcs = maxProcs
	cfg.TmpBytes = memory

	runCtx, cancel := ctx, context.CancelFunc(func() {})
	if spec.Timeout > 0 {
		runCtx, cancel = context.WithTimeout(ctx, spec.Timeout)
	}
	defer cancel()

	var filter *seccomp.Filter
	var sockOuter, sockInner *os.File
	if spec.Kernel != nil {
		cfg.Exec.FilterMode = filterMode()
		filter, err = seccomp.ForKernel(cfg.Exec.Arch, *spec.Kernel, cfg.Exec.FilterMode)
		if err != nil {
			return Result{}, fmt.Errorf("making the seccomp filter for Linux %s: %w", spec.Kernel, err)
		}
		filter.Hostname = Hostname
		// With a supervisor at hand, it also notes the files the program looked for and did not
		// find. Not under qemu, whose own start-up probes would drown the program's.
		if cfg.Exec.FilterMode == seccomp.Notify && spec.QEMU == "" {
			if err := filter.TraceOpens(); err != nil {
				return Result{}, err
			}
			cfg.Exec.TraceOpens = true
		}
		if cfg.Exec.FilterMode == seccomp.Notify {
			sockOuter, sockInner, err = socketPair()
			if err != nil {
				return Result{}, err
			}
			defer sockOuter.Close()
			cfg.SeccompEnabled = true
		}
	}

	stdout, stderr := &runner.CappedBuffer{Max: OutputCap}, &runner.CappedBuffer{Max: OutputCap}
	cmd := exec.CommandContext(runCtx, "/proc/self/exe", "portabin-sandbox-init")
	cmd.Env = stageEnviron("init")
	cmd.Dir = "/"
	if spec.Stdin != nil {
		cmd.Stdin = bytes.NewReader(spec.Stdin)
	}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// Killing init kills the namespace; the pipes close with it, WaitDelay is a safety net.
	cmd.WaitDelay = 2 * time.Second
	cmd.SysProcAttr = namespaceAttr(spec.Network)
	if cg != nil && cg.v2fd >= 0 {
		cmd.SysProcAttr.UseCgroupFD = true
		cmd.SysProcAttr.CgroupFD = cg.v2fd
	}
	proc, err := startStage(cmd, cfg, sockInner, func(pid int) error { return cg.join(pid) })
	if sockInner != nil {
		sockInner.Close()
	}
	if err != nil {
		return Result{}, hostError("starting the sandbox", explainStart(err))
	}
	started := time.Now()

	var supervisor chan seccomp.Report
	supCtx, stopSupervisor := context.WithCancel(context.Background())
	defer stopSupervisor()
	if sockOuter != nil {
		supervisor = make(chan seccomp.Report, 1)
		go func() {
			fd, err := receiveFD(sockOuter)
			if err != nil || fd < 0 {
				supervisor <- seccomp.Report{Err: err}
				return
			}
			supervisor <- seccomp.Supervise(supCtx, fd, filter).Wait()
		}()
	}

	waitErr := cmd.Wait()
	res := Result{Duration: time.Since(started)}
	res.Stdout, res.StdoutTruncated = stdout.Bytes(), stdout.Truncated()
	res.Stderr, res.StderrTruncated = stderr.Bytes(), stderr.Truncated()
	st, stErr := proc.status()
	res.OutOfMemory = cg.oomKilled()
	if supervisor != nil {
		// The listener reports the end once the last filtered process is gone; init is gone.
		stopSupervisor()
		rep := <-supervisor
		if rep.Err != nil {
			return res, fmt.Errorf("emulating Linux %s: %w", spec.Kernel, rep.Err)
		}
		res.ENOSYS, res.UnameFaked, res.Missing = rep.ENOSYS, rep.UnameFaked, rep.Missing
		if res.ENOSYS == nil {
			res.ENOSYS = []seccomp.Call{}
		}
	}
	// A status means the program ended on its own, even if a deadline passed meanwhile.
	switch {
	case stErr != nil && ctx.Err() != nil:
		return res, fmt.Errorf("running %s: %w", filepath.Base(spec.Exe), ctx.Err())
	case stErr != nil && runCtx.Err() != nil:
		res.ExitCode, res.TimedOut = -1, true
	case stErr != nil:
		return res, fmt.Errorf("sandbox init ended without a status (%v): %w", waitErr, stErr)
	case st.Setup != "":
		return res, hostError("setting up the sandbox", errors.New(st.Setup))
	case st.Exec != "":
		res.ExitCode, res.ExecError = 127, explainExec(cfg.Exe, st.Exec, spec.QEMU != "")
	case st.Signal != 0:
		res.ExitCode, res.Signal = -1, unix.SignalName(syscall.Signal(st.Signal))
	default:
		res.ExitCode = st.Exit
	}
	return res, nil
}

// prepare checks spec's paths and turns it into init's configuration.
func prepare(spec Spec) (initConfig, error) {
	var cfg initConfig
	exe, err := regularFile(spec.Exe, "executable")
	if err != nil {
		return cfg, err
	}
	cfg.Exe = exe
	if spec.Root != "" {
		root, err := filepath.Abs(spec.Root)
		if err != nil {
			return cfg, fmt.Errorf("reading root %s: %w", spec.Root, err)
		}
		fi, err := os.Stat(root)
		if err != nil {
			return cfg, fmt.Errorf("reading root: %w", err)
		}
		if !fi.IsDir() {
			return cfg, fmt.Errorf("root %s is not a folder", spec.Root)
		}
		cfg.Root = root
	}
	inside := ExeDir + "/" + filepath.Base(exe)
	cfg.Argv = append([]string{inside}, spec.Args...)
	path := inside
	if spec.QEMU != "" {
		qemu, err := regularFile(spec.QEMU, "qemu")
		if err != nil {
			return cfg, err
		}
		if filepath.Base(qemu) == filepath.Base(exe) {
			return cfg, fmt.Errorf("the executable and qemu have the same name %s", filepath.Base(exe))
		}
		cfg.QEMU = qemu
		path = ExeDir + "/" + filepath.Base(qemu)
		qargs := []string{path}
		if spec.Kernel != nil {
			qargs = append(qargs, "-r", release(*spec.Kernel))
		}
		cfg.Argv = append(qargs, cfg.Argv...)
	}
	cfg.Env = spec.Env
	if cfg.Env == nil {
		cfg.Env = DefaultEnv
	}
	cfg.Dir = spec.Dir
	if cfg.Dir == "" {
		cfg.Dir = "/"
	}
	if !strings.HasPrefix(cfg.Dir, "/") {
		return cfg, fmt.Errorf("working directory %q is not absolute", spec.Dir)
	}
	cfg.Network = spec.Network
	cfg.NoOverlay = !useOverlay
	if spec.Kernel != nil {
		cfg.KernelRelease = release(*spec.Kernel)
		cfg.ProcVersion = fmt.Sprintf("Linux version %s (portabin@portabin) (emulated by portabin) #1 SMP\n", cfg.KernelRelease)
		cfg.Exec.Kernel = spec.Kernel
		cfg.Exec.Arch = hostArch()
	}
	cfg.Exec.Path, cfg.Exec.Argv, cfg.Exec.Env, cfg.Exec.Dir = path, cfg.Argv, cfg.Env, cfg.Dir
	return cfg, nil
}

// explainExec adds the likely cause to an execve failure that names none.
func explainExec(exe, msg string, qemu bool) string {
	f, err := elf.Open(exe)
	if err != nil {
		return msg
	}
	defer f.Close()
	switch {
	case strings.HasSuffix(msg, syscall.ENOENT.Error()) && !qemu:
		for _, p := range f.Progs {
			if p.Type != elf.PT_INTERP {
				continue
			}
			interp, err := io.ReadAll(io.LimitReader(p.Open(), 4096))
			if err == nil {
				return fmt.Sprintf("%s (its ELF interpreter %s is not in this root)", msg, strings.TrimRight(string(interp), "\x00"))
			}
		}
	case strings.HasSuffix(msg, syscall.ENOEXEC.Error()) && !qemu:
		if t, ok := target.ForMachine(f.Machine); ok && !t.IsHost() {
			return fmt.Sprintf("%s (an executable for %s: it needs %s)", msg, t.Arch, t.QEMU)
		}
	}
	return msg
}

// release is the uname release of an emulated kernel: always three numbers, like a real one.
func release(v syscalls.Version) string {
	return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
}

func regularFile(path, what string) (string, error) {
	if path == "" {
		return "", fmt.Errorf("no %s given", what)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("reading %s %s: %w", what, path, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", what, err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s %s is not a regular file", what, path)
	}
	return abs, nil
}

func namespaceAttr(network bool) *syscall.SysProcAttr {
	flags := uintptr(unix.CLONE_NEWUSER | unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC)
	if !network {
		flags |= unix.CLONE_NEWNET
	}
	return &syscall.SysProcAttr{
		Cloneflags:                 flags,
		UidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
		GidMappingsEnableSetgroups: false,
		// If portabin dies, init dies, and with it the whole sandbox.
		Pdeathsig: syscall.SIGKILL,
		// A session of its own: no controlling terminal the program could read or write through
		// /dev/tty, and no Ctrl-C from the terminal (portabin ends the run itself).
		Setsid: true,
	}
}

// stage is a started sandbox stage and the pipe it reports on.
type stage struct {
	statusR *os.File
}

// startStage starts cmd with the stage's pipes as fds 3 (configuration), 4 (status) and 5 (the
// seccomp socket, when there is one), calls beforeConfig with its pid, then sends cfg. The
// stage reads its configuration before it does anything, so beforeConfig runs first.
func startStage(cmd *exec.Cmd, cfg any, socket *os.File, beforeConfig func(pid int) error) (*stage, error) {
	data, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	configR, configW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	statusR, statusW, err := os.Pipe()
	if err != nil {
		configR.Close()
		configW.Close()
		return nil, err
	}
	cmd.ExtraFiles = []*os.File{configR, statusW}
	if socket != nil {
		cmd.ExtraFiles = append(cmd.ExtraFiles, socket)
	}
	err = cmd.Start()
	configR.Close()
	statusW.Close()
	if err != nil {
		configW.Close()
		statusR.Close()
		return nil, err
	}
	if err := beforeConfig(cmd.Process.Pid); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		configW.Close()
		statusR.Close()
		return nil, err
	}
	// A large configuration must not block: the stage reads it while we go on.
	go func() {
		configW.Write(data)
		configW.Close()
	}()
	return &stage{statusR: statusR}, nil
}

// status reads the stage's report; call it once the stage has ended.
func (s *stage) status() (status, error) {
	defer s.statusR.Close()
	var st status
	data, err := io.ReadAll(s.statusR)
	if err != nil {
		return st, err
	}
	if len(data) == 0 {
		return st, errors.New("no report")
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return st, fmt.Errorf("reading the sandbox's report %q: %w", data, err)
	}
	return st, nil
}

// hostError is a sandbox this host does not allow: the user can only change the host or the runner.
func hostError(doing string, err error) error {
	return &uerr.Error{Code: uerr.ExitEnvironment, Msg: doing, Err: err,
		Hint: "use --runner podman, or run where user namespaces are allowed (portabin doctor says what works here)"}
}

// explainStart adds the likely reason when the kernel refuses the namespaces.
func explainStart(err error) error {
	if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EINVAL) {
		if why := userNamespaceBlocker(); why != "" {
			return fmt.Errorf("%w (%s)", err, why)
		}
	}
	return err
}

func orDefault[T int | int64](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// hostArch names the architecture whose system calls the filter sees: the host's, even under
// qemu, which makes host calls for the guest.
func hostArch() string {
	if t, ok := target.Host(); ok {
		return t.Arch
	}
	return runtime.GOARCH
}
