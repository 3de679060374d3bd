// Command portabin turns C and C++ projects into fully static, relocatable Linux executables.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/portabin/portabin/internal/cli"
	"github.com/portabin/portabin/internal/sandbox"
)

func main() {
	// A sandbox's init and exec stages are portabin re-executed; they run and exit here.
	if sandbox.Reexec() {
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
