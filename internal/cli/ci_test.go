package cli_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestCIWorkflow checks docs/ci/portabin.yml and its copy in docs/ci.md. No YAML parser is among
// portabin's modules, so the checks read text: the layout YAML requires, the steps the page
// promises, and that every portabin command in it is one portabin accepts.
func TestCIWorkflow(t *testing.T) {
	read := func(rel string) string {
		data, err := os.ReadFile(filepath.Join(repoRoot, rel))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	workflow, page := read("docs/ci/portabin.yml"), read("docs/ci.md")
	if !strings.Contains(page, "```yaml\n"+workflow+"```\n") {
		t.Error("docs/ci.md does not show docs/ci/portabin.yml as it is")
	}

	for i, line := range strings.Split(workflow, "\n") {
		indent := len(line) - len(strings.TrimLeft(line, " "))
		switch {
		case strings.Contains(line, "\t"):
			t.Errorf("portabin.yml:%d: a tab, which YAML refuses", i+1)
		case indent%2 != 0:
			t.Errorf("portabin.yml:%d: indented by %d spaces", i+1, indent)
		case strings.HasSuffix(line, " "):
			t.Errorf("portabin.yml:%d: trailing space", i+1)
		}
	}

	steps := workflowSteps(workflow)
	find := func(what string) string {
		for _, s := range steps {
			if strings.Contains(s, what) {
				return s
			}
		}
		t.Errorf("portabin.yml has no step with %q", what)
		return ""
	}
	find("uses: actions/checkout@")
	install := find("go install ")
	if module := moduleCmd(t); !strings.Contains(install, "go install \""+module+"@") {
		t.Errorf("the install step does not install %s:\n%s", module, install)
	}
	find("run: portabin run")
	upload := find("uses: actions/upload-artifact@")
	for _, want := range []string{"if: always()", "dist/report.html", "dist/junit.xml"} {
		if !strings.Contains(upload, want) {
			t.Errorf("the upload step lacks %q:\n%s", want, upload)
		}
	}

	// The portabin commands of the workflow and of the page's other examples.
	commands := regexp.MustCompile(`(?m)(?:run: |^)\s*(portabin [^\n]*)$`).FindAllStringSubmatch(workflow+page, -1)
	if len(commands) == 0 {
		t.Fatal("no portabin commands found")
	}
	for _, m := range commands {
		line := strings.TrimSpace(m[1])
		if _, err := parseCommandLine(line); err != nil {
			t.Errorf("%q: %v", line, err)
		}
	}
}

// workflowSteps splits a workflow's steps: list items at the indentation of the first one.
func workflowSteps(workflow string) []string {
	_, after, ok := strings.Cut(workflow, "\n    steps:\n")
	if !ok {
		return nil
	}
	var steps []string
	for _, line := range strings.Split(after, "\n") {
		if strings.HasPrefix(line, "      - ") {
			steps = append(steps, "")
		}
		if len(steps) > 0 {
			steps[len(steps)-1] += line + "\n"
		}
	}
	return steps
}

// moduleCmd is the import path of portabin's main package, from go.mod.
func moduleCmd(t *testing.T) string {
	data, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^module (\S+)$`).FindSubmatch(data)
	if m == nil {
		t.Fatal("go.mod names no module")
	}
	if _, err := os.Stat(filepath.Join(repoRoot, "cmd", "portabin")); err != nil {
		t.Fatal(err)
	}
	return string(m[1]) + "/cmd/portabin"
}
