// Package runner runs the subprocesses of a build (compilers, build systems) on the host or in a container.
package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/portabin/portabin/internal/uerr"
)

// Cmd is one program to run, with an explicit folder and environment.
type Cmd struct {
	Args []string
	Dir  string
	// Env holds the variables to add to the base environment, "K=V".
	Env []string
}

func (c Cmd) String() string { return strings.Join(c.Args, " ") }

// Runner runs commands. Host runs them here; a container runner runs them inside an image.
type Runner interface {
	Run(ctx context.Context, c Cmd) error
}

// Host runs commands on this machine. Output goes to Stream when set (verbose), and is always
// kept so that a failure can show it.
type Host struct {
	Stream io.Writer
}

// Run runs c and returns a *uerr.Error with the command's output when it fails.
func (h Host) Run(ctx context.Context, c Cmd) error {
	if len(c.Args) == 0 {
		return errors.New("running an empty command")
	}
	cmd := exec.CommandContext(ctx, c.Args[0], c.Args[1:]...)
	cmd.Dir = c.Dir
	cmd.Env = append(os.Environ(), c.Env...)
	KillGroupOnCancel(cmd)
	return RunCaptured(ctx, cmd, h.Stream)
}

// KillGroupOnCancel makes a cancelled cmd end with everything it started: build systems run
// make, shells and compilers below them, which would otherwise go on building (and hold the
// output pipe open) after portabin gave up. cmd must come from exec.CommandContext.
func KillGroupOnCancel(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		pgid := -cmd.Process.Pid
		err := syscall.Kill(pgid, syscall.SIGTERM)
		time.AfterFunc(2*time.Second, func() { syscall.Kill(pgid, syscall.SIGKILL) })
		return err
	}
	cmd.WaitDelay = 5 * time.Second
}

// RunCaptured runs cmd, tees its combined output to stream (if any) and attaches it to the error.
// ctx is the context cmd was made with, so that a cancelled run is not reported as a failure of the tool.
func RunCaptured(ctx context.Context, cmd *exec.Cmd, stream io.Writer) error {
	var out lockedBuffer
	var w io.Writer = &out
	if stream != nil {
		w = io.MultiWriter(&out, stream)
	}
	cmd.Stdout, cmd.Stderr = w, w
	err := cmd.Run()
	if err == nil {
		return nil
	}
	name := cmd.Args[0]
	var notFound *exec.Error
	if errors.As(err, &notFound) {
		return uerr.Env("install it, or put it on PATH", "%s not found", name)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("running %s: %w", name, context.Cause(ctx))
	}
	return uerr.Failed(Tail(out.String(), 60), "%s failed (%v)", strings.Join(shortArgs(cmd.Args), " "), err)
}

// shortArgs keeps a failed command readable in one line.
func shortArgs(args []string) []string {
	if len(args) > 6 {
		return append(append([]string(nil), args[:6]...), "...")
	}
	return args
}

// Tail returns the last n lines of s.
func Tail(s string, n int) string {
	s = strings.TrimRight(s, "\n")
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("... (%d earlier lines)", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
