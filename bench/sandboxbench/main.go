// Command sandboxbench times internal/sandbox for bench/sandbox: it runs one executable in one
// root RUNS times and prints each run's wall time in seconds, one per line.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/portabin/portabin/internal/sandbox"
)

func main() {
	if sandbox.Reexec() {
		return
	}
	exe := flag.String("exe", "", "static executable to run")
	root := flag.String("root", "", "root folder (empty: scratch)")
	runs := flag.Int("runs", 10, "number of runs")
	flag.Parse()
	for range *runs {
		start := time.Now()
		res, err := sandbox.Run(context.Background(), sandbox.Spec{Exe: *exe, Root: *root})
		elapsed := time.Since(start)
		if err != nil || res.ExitCode != 0 {
			fmt.Fprintf(os.Stderr, "sandboxbench: exit %d, %v\n%s", res.ExitCode, err, res.Stderr)
			os.Exit(1)
		}
		fmt.Printf("%.6f\n", elapsed.Seconds())
	}
}
