package cli_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestGettingStarted follows docs/getting-started.md as a new user would: its ```sh blocks, in
// order, in one bash, in a folder holding a copy of examples/, with the portabin under test on
// PATH. Every command must end with exit code 0, or with N when it ends in `# exits N`; a block
// right after a `<!-- not run: REASON -->` line is left out.
func TestGettingStarted(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the page's paths are those of an x86_64 machine")
	}
	const page = "docs/getting-started.md"
	data, err := os.ReadFile(filepath.Join(repoRoot, page))
	if err != nil {
		t.Fatal(err)
	}
	commands, err := guideCommands(string(data))
	if err != nil {
		t.Fatalf("%s: %v", page, err)
	}
	// The page must walk through the whole pipeline, not just part of it.
	for _, step := range []string{"portabin doctor", "portabin build ", "portabin check ", "portabin test ",
		"portabin init ", "portabin run "} {
		if !slicesContainsPrefix(commands, step) {
			t.Errorf("%s runs no %q", page, step)
		}
	}

	work := t.TempDir()
	if err := copyTree(filepath.Join(repoRoot, "examples"), filepath.Join(work, "examples")); err != nil {
		t.Fatal(err)
	}
	var script strings.Builder
	for _, c := range commands {
		fmt.Fprintf(&script, "printf '%%s\\n' %s\n%s\nstatus=$?\n", shellQuote("$ "+firstLine(c.text)), c.text)
		fmt.Fprintf(&script, "if [ $status -ne %d ]; then echo '%s:%d: exit code '$status', want %d' >&2; exit 1; fi\n",
			c.exit, page, c.line, c.exit)
	}
	cmd := exec.Command("bash", "--norc", "--noprofile", "-c", script.String())
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "PATH="+portabinDir+string(os.PathListSeparator)+os.Getenv("PATH"),
		"PORTABIN_CACHE="+testCache)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("following %s: %v\n%s", page, err, out)
	}
}

// guideCommand is one command of a page, as typed: with its continuation lines and here-document.
type guideCommand struct {
	line int // where it starts on the page, from 1
	text string
	exit int // the exit code it should end with
}

var (
	expectExit = regexp.MustCompile(`\s#\s*exits (\d+)\s*$`)
	hereDoc    = regexp.MustCompile(`<<-?\s*'?([A-Za-z_]+)'?`)
)

// guideCommands reads the commands of a page's ```sh blocks, leaving out the blocks right after
// a `<!-- not run: ... -->` line.
func guideCommands(page string) ([]guideCommand, error) {
	var (
		out        []guideCommand
		inBlock    bool // in a fenced block of any kind
		run        bool // ... that is run
		notRun     bool // the last line before a fence said "not run"
		cur        *guideCommand
		terminator string // of the here-document being read
	)
	for i, line := range strings.Split(page, "\n") {
		trimmed := strings.TrimSpace(line)
		if cur != nil { // a command's here-document or continuation
			cur.text += "\n" + line
			if terminator != "" && trimmed == terminator || terminator == "" && !strings.HasSuffix(line, `\`) {
				out, cur, terminator = append(out, *cur), nil, ""
			}
			continue
		}
		if strings.HasPrefix(trimmed, "```") {
			if inBlock {
				inBlock, run = false, false
			} else {
				inBlock = true
				run = strings.TrimPrefix(trimmed, "```") == "sh" && !notRun
			}
			notRun = false
			continue
		}
		if !inBlock {
			if trimmed != "" {
				notRun = strings.HasPrefix(trimmed, "<!-- not run:")
			}
			continue
		}
		if !run || trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		c := guideCommand{line: i + 1, text: line}
		if m := expectExit.FindStringSubmatch(line); m != nil {
			c.exit, _ = strconv.Atoi(m[1])
		}
		if m := hereDoc.FindStringSubmatch(line); m != nil {
			cur, terminator = &c, m[1]
		} else if strings.HasSuffix(line, `\`) {
			cur = &c
		} else {
			out = append(out, c)
		}
	}
	if inBlock || cur != nil {
		return nil, fmt.Errorf("a block or command does not end")
	}
	return out, nil
}

func TestGuideCommands(t *testing.T) {
	page := "text\n```sh\nportabin doctor\n# a comment\nportabin init x   # exits 2\ncat > f <<'EOF'\na\n```\nEOF\nls \\\n  -l\n```\n" +
		"<!-- not run: no -->\n```sh\nrm -rf /\n```\n```text\nportabin output\n```\n\n```sh\necho last\n```\n"
	got, err := guideCommands(page)
	if err != nil {
		t.Fatal(err)
	}
	want := []guideCommand{
		{line: 3, text: "portabin doctor"},
		{line: 5, text: "portabin init x   # exits 2", exit: 2},
		{line: 6, text: "cat > f <<'EOF'\na\n```\nEOF"},
		{line: 10, text: "ls \\\n  -l"},
		{line: 22, text: "echo last"},
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(guideCommand{})); diff != "" {
		t.Errorf("guideCommands (-want +got):\n%s", diff)
	}
	if _, err := guideCommands("```sh\ncat <<EOF\nnever ends\n"); err == nil {
		t.Error("an unended here-document was accepted")
	}
}

func slicesContainsPrefix(commands []guideCommand, prefix string) bool {
	for _, c := range commands {
		if strings.HasPrefix(c.text, prefix) || c.text == strings.TrimSpace(prefix) {
			return true
		}
	}
	return false
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
