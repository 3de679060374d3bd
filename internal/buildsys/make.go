package buildsys

import (
	"context"
	"fmt"
)

type makeSystem struct{}

func (makeSystem) Root(j Job) string { return copyDir(j) }

func (makeSystem) Build(ctx context.Context, j Job) error {
	if err := syncCopy(j); err != nil {
		return fmt.Errorf("copying the source to the build folder: %w", err)
	}
	// The tools go on make's command line, where they override the Makefile's own choice;
	// the flags go in the environment, where the Makefile's own choice wins.
	flags := optFlags(j)
	args := append(append([]string{"make", "-j", jobsArg(j)}, toolEnv(j)...), j.Args...)
	if err := run(ctx, j, copyDir(j), []string{"CFLAGS=" + flags, "CXXFLAGS=" + flags}, args...); err != nil {
		return fmt.Errorf("building with make: %w", err)
	}
	return nil
}
