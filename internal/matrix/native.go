package matrix

import (
	"context"
	"fmt"

	"github.com/portabin/portabin/internal/sandbox"
)

// NativeRunner runs each cell in portabin's own namespace sandbox: no daemon, a few
// milliseconds a cell, and the exact list of calls an emulated kernel refused.
type NativeRunner struct{}

func (NativeRunner) Name() string { return "native" }

func (NativeRunner) Run(ctx context.Context, job Job) (Outcome, error) {
	spec := sandbox.Spec{
		Root:    job.Root.Dir,
		Exe:     job.Exe,
		Args:    job.Case.Args,
		Env:     append(append([]string(nil), sandbox.DefaultEnv...), job.Case.Env...),
		Stdin:   job.Case.Stdin,
		Timeout: job.Case.Timeout,
		QEMU:    job.QEMU,
		Network: job.Network,
	}
	if !job.Kernel.Host {
		v := job.Kernel.Version
		spec.Kernel = &v
	}
	res, err := sandbox.Run(ctx, spec)
	if err != nil {
		return Outcome{}, err
	}
	return Outcome{
		ExitCode:  res.ExitCode,
		Signal:    res.Signal,
		TimedOut:  res.TimedOut,
		Stdout:    res.Stdout,
		Stderr:    res.Stderr,
		Duration:  res.Duration,
		ENOSYS:    res.ENOSYS,
		Recorded:  res.ENOSYS != nil,
		Missing:   res.Missing,
		ExecError: res.ExecError,
	}, nil
}

// kept is a captured stream, marked where the runner dropped its end (past sandbox.OutputCap).
func kept(out []byte, truncated bool) []byte {
	if !truncated {
		return out
	}
	return append(out, fmt.Sprintf("\n[portabin: output beyond %d MiB not kept]\n", sandbox.OutputCap>>20)...)
}
