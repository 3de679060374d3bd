package matrix

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/portabin/portabin/internal/atomicfile"
	"github.com/portabin/portabin/internal/cache"
	"github.com/portabin/portabin/internal/engine"
	"github.com/portabin/portabin/internal/image"
	"github.com/portabin/portabin/internal/runner"
	"github.com/portabin/portabin/internal/sandbox"
	"github.com/portabin/portabin/internal/seccomp"
	"github.com/portabin/portabin/internal/syscalls"
	"github.com/portabin/portabin/internal/target"
)

// EngineRunner runs each cell as a container of podman or docker, for hosts where the native
// sandbox's namespaces are not allowed. Roots become local images (imported from the resolved
// folder, named by digest); an emulated kernel becomes a seccomp profile that answers ENOSYS to
// the same calls the native sandbox refuses — but the engine does not say which calls it
// refused, and uname(2) still reports the host's kernel.
type EngineRunner struct {
	engine engine.Engine
	// dir holds the seccomp profiles.
	dir string

	mu     sync.Mutex
	images map[string]*imageOnce
}

type imageOnce struct {
	once sync.Once
	name string
	err  error
}

// NewEngineRunner finds the engine ("podman", "docker", or "" for either).
func NewEngineRunner(name string) (*EngineRunner, error) {
	e, err := engine.Find(name)
	if err != nil {
		return nil, err
	}
	dir, err := cache.Sub("seccomp-profiles")
	if err != nil {
		return nil, err
	}
	return &EngineRunner{engine: e, dir: dir, images: map[string]*imageOnce{}}, nil
}

func (r *EngineRunner) Name() string { return r.engine.Name }

// insideDir is where the executable (and qemu) appear in a cell's root.
const insideDir = "/portabin"

func (r *EngineRunner) Run(ctx context.Context, job Job) (Outcome, error) {
	img, err := r.image(ctx, job.Root)
	if err != nil {
		return Outcome{}, err
	}
	name := engine.ContainerName()
	exe := insideDir + "/" + filepath.Base(job.Exe)
	args := []string{"run", "--rm", "-i", "--name", name, "--read-only", "--tmpfs", "/tmp",
		"--hostname", "portabin", "--security-opt", "label=disable", "--pids-limit", "256",
		"-v", job.Exe + ":" + exe + ":ro", "-w", "/"}
	args = append(args, r.engine.RunFlags()...)
	if !job.Network {
		args = append(args, "--network", "none")
	}
	if !job.Kernel.Host {
		profile, err := r.profile(job.Kernel.Version)
		if err != nil {
			return Outcome{}, err
		}
		args = append(args, "--security-opt", "seccomp="+profile)
	}
	for _, kv := range job.Case.Env {
		args = append(args, "-e", kv)
	}
	command := append([]string{exe}, job.Case.Args...)
	if job.QEMU != "" {
		qemu := insideDir + "/qemu"
		args = append(args, "-v", job.QEMU+":"+qemu+":ro", "--entrypoint", qemu)
		release := []string{}
		if !job.Kernel.Host {
			release = []string{"-r", job.Kernel.Version.String()}
		}
		args = append(args, img)
		args = append(args, release...)
		args = append(args, command...)
	} else {
		args = append(args, "--entrypoint", exe, img)
		args = append(args, job.Case.Args...)
	}

	runCtx, cancel := ctx, context.CancelFunc(func() {})
	if job.Case.Timeout > 0 {
		runCtx, cancel = context.WithTimeout(ctx, job.Case.Timeout)
	}
	defer cancel()
	cmd := r.engine.Command(runCtx, args...)
	// Killing the engine's client would leave the container running.
	cmd.Cancel = func() error {
		if err := r.engine.Command(context.Background(), "kill", name).Run(); err != nil {
			return cmd.Process.Kill()
		}
		return nil
	}
	cmd.WaitDelay = 30 * time.Second
	cmd.Stdin = bytes.NewReader(job.Case.Stdin)
	stdout, stderr := &runner.CappedBuffer{Max: sandbox.OutputCap}, &runner.CappedBuffer{Max: sandbox.OutputCap}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	start := time.Now()
	err = cmd.Run()
	out := Outcome{Duration: time.Since(start), Stdout: kept(stdout.Bytes(), stdout.Truncated()), Stderr: kept(stderr.Bytes(), stderr.Truncated())}
	if ctx.Err() != nil {
		return Outcome{}, ctx.Err()
	}
	if runCtx.Err() != nil {
		out.TimedOut, out.ExitCode = true, -1
		return out, nil
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return Outcome{}, fmt.Errorf("running %s: %w", r.engine.Name, err)
	}
	code := cmd.ProcessState.ExitCode()
	switch {
	case code == 125 || (code == 126 || code == 127) && bytes.Contains(out.Stderr, []byte("Error: ")):
		// The engine's own failure: it could not make or start the container.
		return Outcome{}, r.engine.Error(err, string(out.Stderr))
	case code > 128 && code < 128+65:
		// The engines report death by signal N as 128+N.
		out.ExitCode, out.Signal = -1, unix.SignalName(unix.Signal(code-128))
	default:
		out.ExitCode = code
	}
	return out, nil
}

// image returns the local image of root, importing it the first time.
func (r *EngineRunner) image(ctx context.Context, root image.Root) (string, error) {
	key := root.Digest
	if key == "" {
		key = root.Kind + ":" + root.Dir
	}
	r.mu.Lock()
	once, ok := r.images[key]
	if !ok {
		once = &imageOnce{name: "localhost/portabin-root:" + cache.Key(key)}
		r.images[key] = once
	}
	r.mu.Unlock()
	once.once.Do(func() {
		// Content-addressed roots (images) are imported once per engine; folders each run,
		// because their content may have changed.
		if root.Digest != "" && r.engine.ImageExists(ctx, once.name) {
			return
		}
		dir := root.Dir
		if dir == "" {
			empty, err := os.MkdirTemp("", "portabin-scratch-")
			if err != nil {
				once.err = err
				return
			}
			defer os.RemoveAll(empty)
			dir = empty
		}
		once.err = r.engine.ImportDir(ctx, dir, once.name)
	})
	return once.name, once.err
}

// profile writes the seccomp profile that emulates kernel and returns its path.
func (r *EngineRunner) profile(kernel syscalls.Version) (string, error) {
	host, ok := target.Host()
	if !ok {
		return "", fmt.Errorf("emulating a kernel: unsupported host architecture")
	}
	f, err := seccomp.ForKernel(host.Arch, kernel, seccomp.Errno)
	if err != nil {
		return "", err
	}
	names := make([]string, 0, len(f.Blocked))
	for _, s := range f.Blocked {
		names = append(names, s.Name)
	}
	type rule struct {
		Names    []string `json:"names"`
		Action   string   `json:"action"`
		ErrnoRet int      `json:"errnoRet"`
	}
	profile := struct {
		DefaultAction string `json:"defaultAction"`
		Syscalls      []rule `json:"syscalls"`
	}{"SCMP_ACT_ALLOW", []rule{{names, "SCMP_ACT_ERRNO", int(unix.ENOSYS)}}}
	data, err := json.MarshalIndent(profile, "", "  ")
	if err != nil {
		return "", err
	}
	path := filepath.Join(r.dir, host.Arch+"-"+kernel.String()+"-"+cache.Key(string(data))+".json")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	return path, atomicfile.Write(path, data, 0o644)
}
