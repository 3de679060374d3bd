package cli_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"

	"github.com/portabin/portabin/internal/cli"
)

// TestReferenceUpToDate regenerates the command reference and fails when docs/cli differs.
func TestReferenceUpToDate(t *testing.T) {
	// A default taken from the environment must not reach the pages: they would differ by machine.
	t.Setenv("PORTABIN_SOURCES", "/only/on/this/machine")
	fresh := t.TempDir()
	if err := cli.WriteReference(fresh); err != nil {
		t.Fatal(err)
	}
	committed := filepath.Join(repoRoot, "docs", "cli")
	want, got := readPages(t, fresh), readPages(t, committed)
	stale := false
	for name, page := range want {
		if diff := cmp.Diff(page, got[name]); diff != "" {
			t.Errorf("docs/cli/%s (-generated +committed):\n%s", name, diff)
			stale = true
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("docs/cli/%s is the page of no command", name)
			stale = true
		}
	}
	if stale {
		t.Errorf("docs/cli is stale: run `%s` at the repository's root and commit the result", cli.ReferenceCommand)
	}
}

func readPages(t *testing.T, dir string) map[string]string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "portabin*.md"))
	if err != nil {
		t.Fatal(err)
	}
	pages := map[string]string{}
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		pages[filepath.Base(path)] = string(data)
	}
	return pages
}

// TestWriteReferenceRemovesStalePages: a removed command's page goes; other files stay.
func TestWriteReferenceRemovesStalePages(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"portabin_gone.md", "README.md"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := cli.WriteReference(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "portabin_gone.md")); !os.IsNotExist(err) {
		t.Errorf("the page of a command that is gone is still there (%v)", err)
	}
	for _, name := range []string{"README.md", "portabin.md", "portabin_cache_list.md"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Error(err)
		}
	}
}

// TestHelpExamples: portabin and every visible command that runs show examples in --help, and
// each example runs that command (or one below it) with flags and arguments it accepts.
func TestHelpExamples(t *testing.T) {
	walkVisible(cli.ReferenceTree(), func(c *cobra.Command) {
		if !c.Runnable() && c.HasParent() {
			return // a group such as `completion`: its --help lists the commands that run
		}
		path := c.CommandPath()
		t.Run(strings.ReplaceAll(path, " ", "_"), func(t *testing.T) {
			if c.HasParent() && c.Parent().Name() == "completion" {
				// cobra's own completion commands say how to load the script in their Long text.
				if !strings.Contains(c.Long, path) {
					t.Errorf("%s --help does not show how to use it", path)
				}
				return
			}
			lines := exampleLines(c.Example)
			if len(lines) == 0 {
				t.Fatalf("%s has no Example", path)
			}
			for _, line := range lines {
				got, err := parseCommandLine(line)
				if err != nil {
					t.Errorf("example %q: %v", line, err)
				} else if got.CommandPath() != path && !strings.HasPrefix(got.CommandPath(), path+" ") {
					t.Errorf("example %q of %s runs %s", line, path, got.CommandPath())
				}
			}
			// What users see: the real executable's --help.
			args := append(strings.Fields(path)[1:], "--help")
			out, err := exec.Command(filepath.Join(portabinDir, "portabin"), args...).CombinedOutput()
			if err != nil {
				t.Fatalf("portabin %s: %v\n%s", strings.Join(args, " "), err, out)
			}
			if !strings.Contains(string(out), "Examples:\n  "+lines[0]) {
				t.Errorf("%s --help shows no examples:\n%s", path, out)
			}
		})
	})
}

// TestParseCommandLine: the checker of examples refuses what portabin would refuse.
func TestParseCommandLine(t *testing.T) {
	for line, ok := range map[string]bool{
		"portabin test ./prog --on scratch,dir:/x --kernel 3.10 -- --verbose": true,
		"portabin cache prune images deps":                                    true,
		"portabin -v run examples/seed":                                       true,
		"portabin build --no-such-flag .":                                     false,
		"portabin no-such-command":                                            false,
		"portabin version extra":                                              false,
		"portabin run a b":                                                    false,
		"make test":                                                           false,
	} {
		if _, err := parseCommandLine(line); (err == nil) != ok {
			t.Errorf("%q: error %v, want ok=%v", line, err, ok)
		}
	}
}

// walkVisible calls fn for c and every subcommand --help lists, hidden ones (the wrapper tools)
// and cobra's help command left out.
func walkVisible(c *cobra.Command, fn func(*cobra.Command)) {
	fn(c)
	for _, sub := range c.Commands() {
		if sub.IsAvailableCommand() && sub.Name() != "help" {
			walkVisible(sub, fn)
		}
	}
}

func exampleLines(example string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(example))
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return out
}

// parseCommandLine checks, without running it, that line — a portabin command as a user types
// it, without quotes — names a command and passes it flags and arguments it accepts.
func parseCommandLine(line string) (*cobra.Command, error) {
	fields := strings.Fields(line)
	if len(fields) == 0 || fields[0] != "portabin" {
		return nil, fmt.Errorf("does not start with portabin")
	}
	cmd, rest, err := cli.ReferenceTree().Find(fields[1:])
	if err != nil {
		return nil, err
	}
	if err := cmd.ParseFlags(rest); err != nil {
		return nil, err
	}
	if err := cmd.ValidateArgs(cmd.Flags().Args()); err != nil {
		return nil, err
	}
	return cmd, nil
}

// TestDocLinks: the relative links of the pages this package's tests keep lead to files that exist.
func TestDocLinks(t *testing.T) {
	pages, err := filepath.Glob(filepath.Join(repoRoot, "docs", "cli", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	pages = append(pages, filepath.Join(repoRoot, "docs", "getting-started.md"), filepath.Join(repoRoot, "docs", "ci.md"))
	link := regexp.MustCompile(`\]\(([^)#\s]+)(#[^)]*)?\)`)
	checked := 0
	for _, page := range pages {
		data, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range link.FindAllStringSubmatch(string(data), -1) {
			target := m[1]
			if strings.Contains(target, "://") {
				continue
			}
			checked++
			if _, err := os.Stat(filepath.Join(filepath.Dir(page), target)); err != nil {
				rel, _ := filepath.Rel(repoRoot, page)
				t.Errorf("%s links to %s, which does not exist", rel, target)
			}
		}
	}
	if checked == 0 {
		t.Error("no links found: the pattern is wrong")
	}
}
