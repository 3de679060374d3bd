package cli

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"

	"github.com/spf13/cobra"

	"github.com/portabin/portabin/internal/cache"
	"github.com/portabin/portabin/internal/engine"
	"github.com/portabin/portabin/internal/sandbox"
	"github.com/portabin/portabin/internal/seccomp"
	"github.com/portabin/portabin/internal/target"
	"github.com/portabin/portabin/internal/zigdist"
)

// finding is one line of doctor's report.
type finding struct {
	what string
	ok   bool
	// needed marks what the default pipeline (zig build, native test) cannot do without.
	needed bool
	detail string
	hint   string
}

// NewDoctorCommand is `portabin doctor`.
func NewDoctorCommand(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "doctor",
		Short: "Say what works on this machine, with a fix for what does not",
		Long: `Doctor checks what portabin needs: zig (present, or provisionable on the first build), the
namespaces and seccomp filters of the native test runner, qemu-user for each foreign
architecture, podman or docker, and the cache. Exit 0 when the default pipeline (build with
zig, test with the native runner) can run here, 1 when it cannot.`,
		Example: "  portabin doctor",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			findings := diagnose(cmd.Context())
			ready := true
			for _, f := range findings {
				mark := "ok  "
				if !f.ok {
					mark = "--  "
					if f.needed {
						mark, ready = "FAIL", false
					}
				}
				fmt.Fprintf(stdout, "%s %s: %s\n", mark, f.what, f.detail)
				if !f.ok && f.hint != "" {
					fmt.Fprintf(stdout, "     hint: %s\n", f.hint)
				}
			}
			if !ready {
				fmt.Fprintln(stdout, "\nthe default pipeline cannot run here: see FAIL above")
				return exitCode(1)
			}
			fmt.Fprintln(stdout, "\nready: portabin can build and test here")
			return nil
		},
	}
}

func diagnose(ctx context.Context) []finding {
	var out []finding

	z, found, err := zigdist.Lookup(ctx, zigdist.Options{})
	switch {
	case err != nil:
		out = append(out, finding{what: "zig", needed: true, detail: firstLine(err.Error()), hint: "unset PORTABIN_ZIG or point it to zig 0.11"})
	case found:
		out = append(out, finding{what: "zig", ok: true, needed: true, detail: z.Version + " at " + z.Path})
	default:
		f := finding{what: "zig", needed: true, detail: "not installed; the first build provisions zig 0.11.0 (the official tarball, else npm)"}
		_, npmErr := exec.LookPath("npm")
		f.ok = npmErr == nil
		if !f.ok {
			f.detail += ", but npm is missing and the official download may be unreachable"
			f.hint = "install npm, or zig 0.11 on PATH, or set PORTABIN_ZIG"
		}
		out = append(out, f)
	}

	if err := sandbox.Available(); err != nil {
		out = append(out, finding{what: "native test runner (namespaces)", needed: true, detail: firstLine(err.Error()),
			hint: "allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1) or use --runner podman"})
	} else {
		out = append(out, finding{what: "native test runner (namespaces)", ok: true, needed: true, detail: "user, mount, PID, UTS, IPC and network namespaces work"})
	}
	if err := seccomp.Available(); err != nil {
		out = append(out, finding{what: "kernel emulation (seccomp)", detail: firstLine(err.Error()),
			hint: "older kernels cannot be emulated here; --kernel host still works"})
	} else {
		out = append(out, finding{what: "kernel emulation (seccomp)", ok: true, detail: "filters and user notification work"})
	}

	for _, t := range target.All() {
		if t.IsHost() {
			continue
		}
		f := finding{what: "qemu-user for " + t.Arch}
		if p, err := exec.LookPath(t.QEMU); err == nil {
			f.ok, f.detail = true, p
		} else {
			f.detail = t.QEMU + " not found: " + t.Arch + " executables build but cannot be tested"
			f.hint = "apt-get install qemu-user-static"
		}
		out = append(out, f)
	}

	eng := finding{what: "container engine"}
	if e, err := engine.Find(""); err != nil {
		eng.detail, eng.hint = "none: --toolchain container and --runner podman|docker are unavailable", engine.Hint
	} else if msg, err := e.Command(ctx, "version", "--format", "{{.Client.Version}}").CombinedOutput(); err != nil {
		eng.detail = fmt.Sprintf("%s is installed but does not answer: %s", e.Name, firstLine(strings.TrimSpace(string(msg))))
		eng.hint = fmt.Sprintf("check `%s info`; global flags it needs go in %s", e.Name, engine.FlagsEnv)
	} else {
		eng.ok, eng.detail = true, e.Name+" "+strings.TrimSpace(string(msg))
	}
	out = append(out, eng)

	if dir, err := cache.Dir(); err != nil {
		out = append(out, finding{what: "cache", needed: true, detail: err.Error(), hint: "set PORTABIN_CACHE"})
	} else {
		entries, _ := cacheEntries(dir)
		var total int64
		for _, e := range entries {
			total += e.size
		}
		out = append(out, finding{what: "cache", ok: true, needed: true, detail: fmt.Sprintf("%s (%s; `portabin cache list`)", dir, humanSize(total))})
	}
	return out
}
