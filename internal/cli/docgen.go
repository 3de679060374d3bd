package cli

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// ReferenceCommand is the command that regenerates docs/cli/, named in every page and by the
// test that fails when the pages are stale.
const ReferenceCommand = "go run ./internal/cli/gendocs docs/cli"

// machineDefaults stands in for flag defaults read from this machine (its CPU count, its
// environment): taken literally, they would make the reference differ from one machine to
// the next. Keys are "<command path> --<flag>".
var machineDefaults = map[string]string{
	"portabin build --jobs":    "the number of CPUs",
	"portabin build --sources": "", // its usage names $PORTABIN_SOURCES
	"portabin run --sources":   "",
}

// WriteReference writes the command reference into dir: one Markdown page per visible command
// (subcommands included; hidden commands and the wrapper tools left out), named like
// portabin_cache_list.md. Pages of commands that no longer exist are removed.
func WriteReference(dir string) error {
	pages, err := ReferencePages()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	old, err := filepath.Glob(filepath.Join(dir, "portabin*.md"))
	if err != nil {
		return err
	}
	for _, path := range old {
		if _, ok := pages[filepath.Base(path)]; !ok {
			if err := os.Remove(path); err != nil {
				return fmt.Errorf("removing a stale page: %w", err)
			}
		}
	}
	for name, content := range pages {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
			return fmt.Errorf("writing the reference: %w", err)
		}
	}
	return nil
}

// ReferencePages renders the command reference: file name → page.
func ReferencePages() (map[string][]byte, error) {
	root := ReferenceTree()
	used := map[string]bool{}
	pages := map[string][]byte{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		pages[pageName(c)] = renderPage(c, used)
		for _, sub := range visibleChildren(c) {
			walk(sub)
		}
	}
	walk(root)
	for key := range machineDefaults {
		if !used[key] {
			return nil, fmt.Errorf("rendering the reference: machineDefaults names %q, which is no flag", key)
		}
	}
	return pages, nil
}

// ReferenceTree is the command tree as users meet it, with cobra's completion command, which
// cobra otherwise adds only when a command runs.
func ReferenceTree() *cobra.Command {
	root := NewRootCommand(io.Discard, io.Discard)
	root.InitDefaultCompletionCmd()
	return root
}

// visibleChildren are the subcommands --help lists, sorted by name as --help lists them.
func visibleChildren(c *cobra.Command) []*cobra.Command {
	var out []*cobra.Command
	for _, sub := range c.Commands() {
		if sub.IsAvailableCommand() {
			out = append(out, sub)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out
}

func pageName(c *cobra.Command) string {
	return strings.ReplaceAll(c.CommandPath(), " ", "_") + ".md"
}

func renderPage(c *cobra.Command, used map[string]bool) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s\n\n", c.CommandPath())
	fmt.Fprintf(&b, "<!-- Generated from portabin's commands by `%s`: edit the command, not this page. -->\n\n", ReferenceCommand)
	fmt.Fprintf(&b, "%s\n\n", markdownText(c.Short))
	if c.Runnable() {
		fmt.Fprintf(&b, "```text\n%s\n```\n\n", c.UseLine())
	}
	if long := strings.TrimSpace(c.Long); long != "" {
		// Long texts are laid out for a terminal; a text block keeps their lines as written.
		fmt.Fprintf(&b, "```text\n%s\n```\n\n", long)
	}
	if ex := exampleLines(c.Example); len(ex) > 0 {
		fmt.Fprintf(&b, "## Examples\n\n```sh\n%s\n```\n\n", strings.Join(ex, "\n"))
	}
	writeFlags(&b, "Flags", c, c.LocalFlags(), used)
	writeFlags(&b, "Flags of every command", c, c.InheritedFlags(), used)
	if subs := visibleChildren(c); len(subs) > 0 {
		b.WriteString("## Commands\n\n")
		for _, sub := range subs {
			fmt.Fprintf(&b, "- [`%s`](%s): %s\n", sub.CommandPath(), pageName(sub), markdownText(sub.Short))
		}
		b.WriteString("\n")
	}
	if c.HasParent() {
		p := c.Parent()
		fmt.Fprintf(&b, "See also [`%s`](%s).\n", p.CommandPath(), pageName(p))
	}
	return append(bytes.TrimRight(b.Bytes(), "\n"), '\n')
}

// exampleLines are an Example's lines without the two spaces of indentation --help shows.
func exampleLines(example string) []string {
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(example), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	return out
}

func writeFlags(b *bytes.Buffer, title string, c *cobra.Command, flags *pflag.FlagSet, used map[string]bool) {
	var rows []string
	flags.VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		name := "--" + f.Name
		if f.Shorthand != "" {
			name = "-" + f.Shorthand + ", " + name
		}
		varName, usage := pflag.UnquoteUsage(f)
		if varName != "" {
			name += " " + varName
		}
		// Zero values are left out, as --help leaves them out.
		def := f.DefValue
		switch def {
		case "", "false", "[]", "0", "0s":
			def = ""
		default:
			def = "`" + def + "`"
		}
		key := c.CommandPath() + " --" + f.Name
		if d, ok := machineDefaults[key]; ok {
			def, used[key] = d, true
		}
		rows = append(rows, fmt.Sprintf("| `%s` | %s | %s |", name, def, markdownText(usage)))
	})
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(b, "## %s\n\n| flag | default | meaning |\n|---|---|---|\n%s\n\n", title, strings.Join(rows, "\n"))
}

// markdownText escapes what Markdown would otherwise take for HTML, emphasis or a table cell's end.
func markdownText(s string) string {
	return strings.NewReplacer(`\`, `\\`, "<", "&lt;", ">", "&gt;", "*", `\*`, "|", `\|`).Replace(s)
}
