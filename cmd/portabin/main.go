// Command portabin turns C and C++ projects into fully static, relocatable Linux executables.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/portabin/portabin/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
