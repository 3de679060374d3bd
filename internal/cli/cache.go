package cli

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/portabin/portabin/internal/cache"
	"github.com/portabin/portabin/internal/uerr"
)

// cacheKinds describes the folders portabin keeps in its cache; the prune default is marked.
var cacheKinds = []struct {
	name, about  string
	pruneDefault bool
}{
	{"toolchains", "provisioned zig releases", false},
	{"zig-cache", "zig's compiled C and C++ runtimes and objects", false},
	{"runtime-stamps", "which zig runtimes are built", false},
	{"builds", "build folders of projects, one per project and target", true},
	{"images", "root filesystems pulled for `portabin test`, by digest", false},
	{"deps", "dependency sources (by sha256), builds and sysroots, per target", false},
	{"malloc", "allocators built per target (--malloc)", false},
	{"seccomp-profiles", "kernel-emulation profiles for container runners", true},
	{"check", "reports of checked files, reused while a file is unchanged", true},
}

// NewCacheCommand is `portabin cache list|prune`.
func NewCacheCommand(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cache",
		Short: "Show or free what portabin keeps in its cache",
		Long: `portabin caches toolchains, compiled runtimes, build folders, pulled images and dependency
builds in one folder: $PORTABIN_CACHE, else $XDG_CACHE_HOME/portabin, else ~/.cache/portabin.
Everything in it can be made again; removing it only costs time (and network for toolchains
and images).`,
		Example: `  portabin cache list
  portabin cache prune`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newCacheListCommand(stdout), newCachePruneCommand(stdout))
	return cmd
}

func newCacheListCommand(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Short:   "List the cache's contents with their sizes",
		Example: "  portabin cache list",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := cache.Dir()
			if err != nil {
				return err
			}
			entries, err := cacheEntries(dir)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s\n", dir)
			tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
			var total int64
			for _, e := range entries {
				fmt.Fprintf(tw, "%s\t  %s\t  %s\t\n", humanSize(e.size), e.name, e.about)
				total += e.size
			}
			fmt.Fprintf(tw, "%s\t  total\t\t\n", humanSize(total))
			return tw.Flush()
		},
	}
}

func newCachePruneCommand(stdout io.Writer) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "prune [KIND...]",
		Short: "Remove cached build folders, or the kinds named",
		Long: `Prune removes the kinds of cached data named (see 'portabin cache list'); without names it
removes build folders and kernel-emulation profiles, which are quick to make again. --all
empties the cache.`,
		Example: `  portabin cache prune
  portabin cache prune images deps
  portabin cache prune --all`,
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := cache.Dir()
			if err != nil {
				return err
			}
			if all && len(args) > 0 {
				return uerr.Usage("give kinds or --all", "--all and kinds both given")
			}
			entries, err := cacheEntries(dir)
			if err != nil {
				return err
			}
			var names []string
			for _, e := range entries {
				names = append(names, e.name)
			}
			for _, a := range args {
				if !slices.Contains(names, a) {
					return uerr.Usage("the kinds here: "+strings.Join(names, ", "), "no %q in the cache", a)
				}
			}
			var freed int64
			for _, e := range entries {
				if !all && !slices.Contains(args, e.name) && (len(args) > 0 || !e.pruneDefault) {
					continue
				}
				if err := os.RemoveAll(filepath.Join(dir, e.name)); err != nil {
					return fmt.Errorf("removing %s: %w", e.name, err)
				}
				fmt.Fprintf(stdout, "removed %s (%s)\n", e.name, humanSize(e.size))
				freed += e.size
			}
			fmt.Fprintf(stdout, "freed %s\n", humanSize(freed))
			return nil
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "remove everything in the cache")
	for _, k := range cacheKinds {
		cmd.ValidArgs = append(cmd.ValidArgs, k.name)
	}
	return cmd
}

type cacheEntry struct {
	name, about  string
	size         int64
	pruneDefault bool
}

// cacheEntries lists the cache's top-level folders, known kinds first; a missing cache is empty.
func cacheEntries(dir string) ([]cacheEntry, error) {
	list, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the cache: %w", err)
	}
	var out []cacheEntry
	for _, d := range list {
		e := cacheEntry{name: d.Name(), about: "(not portabin's)"}
		for _, k := range cacheKinds {
			if k.name == e.name {
				e.about, e.pruneDefault = k.about, k.pruneDefault
			}
		}
		e.size = diskUsage(filepath.Join(dir, d.Name()))
		out = append(out, e)
	}
	order := func(name string) int {
		for i, k := range cacheKinds {
			if k.name == name {
				return i
			}
		}
		return len(cacheKinds)
	}
	sort.SliceStable(out, func(i, j int) bool { return order(out[i].name) < order(out[j].name) })
	return out, nil
}

// diskUsage adds up the sizes of the files below path, not following symbolic links.
func diskUsage(path string) int64 {
	var total int64
	_ = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if info, err := d.Info(); err == nil && info.Mode().IsRegular() {
			total += info.Size()
		}
		return nil
	})
	return total
}

func humanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
