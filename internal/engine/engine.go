// Package engine drives a container engine (podman or docker) through its command line.
package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/portabin/portabin/internal/runner"
	"github.com/portabin/portabin/internal/uerr"
)

// FlagsEnv holds global engine flags (split on spaces) that a machine's engine needs on every
// call, e.g. "--runtime runc --cgroup-manager cgroupfs" for a podman whose configured runtime or
// cgroup manager does not work there.
const FlagsEnv = "PORTABIN_ENGINE_FLAGS"

// Hint says how to get an engine.
const Hint = "install podman (apt-get install podman) or docker"

// ErrNoImage means the engine does not have the image.
var ErrNoImage = errors.New("image not found")

// Engine is one installed container engine.
type Engine struct {
	// Name is "podman" or "docker".
	Name string
	// Flags go before every subcommand.
	Flags []string
}

// Find returns the engine called name, or the first installed of podman and docker for "".
func Find(name string) (Engine, error) {
	flags := strings.Fields(os.Getenv(FlagsEnv))
	switch name {
	case "":
		for _, e := range []string{"podman", "docker"} {
			if _, err := exec.LookPath(e); err == nil {
				return Engine{Name: e, Flags: flags}, nil
			}
		}
		return Engine{}, uerr.Env(Hint, "no container engine found (podman or docker)")
	case "podman", "docker":
		if _, err := exec.LookPath(name); err != nil {
			return Engine{}, uerr.Env(Hint, "%s not found", name)
		}
		return Engine{Name: name, Flags: flags}, nil
	}
	return Engine{}, uerr.Usage("use podman or docker", "unknown container engine %q", name)
}

// Command is an engine invocation with the global flags this machine needs.
func (e Engine) Command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, e.Name, append(append([]string(nil), e.Flags...), args...)...)
	cmd.Env = os.Environ()
	return cmd
}

// Error tells a missing image (ErrNoImage) and a missing engine from an engine that does not
// work at all, from a failed command's error and standard error.
func (e Engine) Error(err error, stderr string) error {
	var notFound *exec.Error
	if errors.As(err, &notFound) {
		return uerr.Env(Hint, "%s not found", e.Name)
	}
	lower := strings.ToLower(stderr)
	for _, s := range []string{"no such image", "image not known", "no such object"} {
		if strings.Contains(lower, s) {
			return ErrNoImage
		}
	}
	return &uerr.Error{
		Code:   uerr.ExitEnvironment,
		Msg:    fmt.Sprintf("%s does not work here", e.Name),
		Hint:   fmt.Sprintf("check that `%s info` works; global flags it needs can be given in %s", e.Name, FlagsEnv),
		Detail: runner.Tail(stderr, 20),
	}
}

// RunFlags are the flags every `run` needs on this machine: with podman, the container gets
// portabin's own limits. Rootful podman otherwise asks for 1048576 open files and processes,
// which fails ("error setting rlimit ... operation not permitted") where root may not raise its
// hard limits, as in some VMs and CI sandboxes. Podman caps its own process limit at
// kernel.pid_max, and the container may not exceed podman's. Docker's daemon sets its
// containers' limits from its own, so docker needs none of this.
func (e Engine) RunFlags() []string {
	if e.Name != "podman" {
		return nil
	}
	var files, procs unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &files) != nil || unix.Getrlimit(unix.RLIMIT_NPROC, &procs) != nil {
		return nil
	}
	maxProcs := procs.Max
	if data, err := os.ReadFile("/proc/sys/kernel/pid_max"); err == nil {
		if pidMax, err := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64); err == nil && pidMax < maxProcs {
			maxProcs = pidMax
		}
	}
	limit := func(n uint64) string {
		if n == unix.RLIM_INFINITY {
			return "-1"
		}
		return strconv.FormatUint(n, 10)
	}
	return []string{
		"--ulimit", "nofile=" + limit(files.Max) + ":" + limit(files.Max),
		"--ulimit", "nproc=" + limit(maxProcs) + ":" + limit(maxProcs),
	}
}

// ContainerName is a fresh name for a container, so that it can be killed by name.
func ContainerName() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "portabin-" + hex.EncodeToString(b)
}

// String is the engine's name, for messages.
func (e Engine) String() string { return e.Name }
