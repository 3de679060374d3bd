package cli

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/portabin/portabin/internal/zigdist"
)

// buildInfo is what the Go toolchain recorded about this portabin.
type buildInfo struct {
	version, revision, time string
	modified                bool
	goVersion               string
}

func readBuildInfo() buildInfo {
	b := buildInfo{version: "(devel)", goVersion: runtime.Version()}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	if info.Main.Version != "" {
		b.version = info.Main.Version
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			b.revision = s.Value
		case "vcs.time":
			b.time = s.Value
		case "vcs.modified":
			b.modified = s.Value == "true"
		}
	}
	return b
}

// versionString is one line naming this portabin, for reports: "portabin v1.2.0 (3f2a9c1d0b7e)".
func versionString() string {
	b := readBuildInfo()
	s := "portabin " + b.version
	if b.revision != "" {
		rev := b.revision[:min(12, len(b.revision))]
		if b.modified {
			rev += "+modified"
		}
		s += " (" + rev + ")"
	}
	return s
}

// NewVersionCommand prints portabin's version and how it was built.
func NewVersionCommand(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print portabin's version and how it was built",
		Example: "  portabin version",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			b := readBuildInfo()
			fmt.Fprintln(stdout, versionString())
			if b.time != "" {
				fmt.Fprintf(stdout, "commit time: %s\n", b.time)
			}
			fmt.Fprintf(stdout, "built with:  %s for %s/%s\n", b.goVersion, runtime.GOOS, runtime.GOARCH)
			fmt.Fprintf(stdout, "zig pinned:  %s\n", zigdist.PinnedVersion)
			return nil
		},
	}
}
