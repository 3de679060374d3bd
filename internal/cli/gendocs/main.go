// Command gendocs writes portabin's command reference (docs/cli/) from the command tree:
//
//	go run ./internal/cli/gendocs docs/cli
package main

import (
	"fmt"
	"os"

	"github.com/portabin/portabin/internal/cli"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run ./internal/cli/gendocs DIR")
		os.Exit(2)
	}
	if err := cli.WriteReference(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "gendocs:", err)
		os.Exit(1)
	}
}
