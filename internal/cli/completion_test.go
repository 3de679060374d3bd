package cli_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestCompletionScripts: `portabin completion SHELL` writes a script of that shell's kind.
func TestCompletionScripts(t *testing.T) {
	for shell, mark := range map[string]string{
		"bash":       "complete -o default -F __start_portabin portabin",
		"zsh":        "#compdef portabin",
		"fish":       "complete -c portabin",
		"powershell": "Register-ArgumentCompleter",
	} {
		out, err := exec.Command(filepath.Join(portabinDir, "portabin"), "completion", shell).Output()
		if err != nil {
			t.Errorf("portabin completion %s: %v", shell, err)
			continue
		}
		if !strings.Contains(string(out), mark) {
			t.Errorf("portabin completion %s: no %q in the script", shell, mark)
		}
	}
}

// TestCompletionBash loads the script into bash as the help says, then, where bash-completion is
// installed (the script needs it), asks it to complete command lines.
func TestCompletionBash(t *testing.T) {
	out := shellOutput(t, "bash", "--norc", "--noprofile", "-c", "source <(portabin completion bash); complete -p portabin")
	if !strings.Contains(out, "-F __start_portabin portabin") {
		t.Fatalf("complete -p portabin: %q", out)
	}
	const bashCompletion = "/usr/share/bash-completion/bash_completion"
	if _, err := os.Stat(bashCompletion); err != nil {
		t.Skipf("no bash-completion to complete with: %v", err)
	}
	for line, want := range map[string][]string{
		"portabin ca":            {"cache"},
		"portabin cache ":        {"list", "prune"},
		"portabin test x --kern": {"--kernel"},
		"portabin completion fi": {"fish"},
		"portabin run --offl":    {"--offline"},
	} {
		// The words as bash splits them; an empty last word when the line ends in a space.
		words := strings.Split(line, " ")
		script := "source " + bashCompletion + "; source <(portabin completion bash)\n" +
			"COMP_LINE='" + line + "'; COMP_POINT=${#COMP_LINE}; COMP_WORDS=(" + quoteWords(words) + "); COMP_CWORD=" +
			strconv.Itoa(len(words)-1) + "\n" +
			"__start_portabin portabin '" + words[len(words)-1] + "' '" + words[len(words)-2] + "'\n" +
			`printf '%s\n' "${COMPREPLY[@]}"`
		got := strings.Fields(shellOutput(t, "bash", "--norc", "--noprofile", "-c", script))
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("completing %q: got %q, want %q", line, got, want)
		}
	}
}

// TestCompletionZsh loads the script into zsh's completion system.
func TestCompletionZsh(t *testing.T) {
	if _, err := exec.LookPath("zsh"); err != nil {
		t.Skip("no zsh; TestCompletionScripts checked the script's form")
	}
	out := shellOutput(t, "zsh", "-f", "-c",
		"autoload -U compinit && compinit -u -D; source <(portabin completion zsh); print -r -- ${_comps[portabin]}; whence -w _portabin")
	if want := "_portabin\n_portabin: function\n"; out != want {
		t.Errorf("zsh: got %q, want %q", out, want)
	}
}

// TestCompletionFish loads the script into fish and asks it to complete command lines.
func TestCompletionFish(t *testing.T) {
	if _, err := exec.LookPath("fish"); err != nil {
		t.Skip("no fish; TestCompletionScripts checked the script's form")
	}
	for line, want := range map[string]string{
		"portabin ca":            "cache\tShow or free what portabin keeps in its cache",
		"portabin test x --kern": "--kernel\tkernels: host, a version such as 2.6.32, or a name such as rhel6",
	} {
		out := shellOutput(t, "fish", "--no-config", "-c", "portabin completion fish | source; complete -C '"+line+"'")
		if strings.TrimSpace(out) != want {
			t.Errorf("completing %q: got %q, want %q", line, out, want)
		}
	}
}

// shellOutput runs a shell with the portabin under test first on PATH and returns its stdout.
func shellOutput(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "PATH="+portabinDir+string(os.PathListSeparator)+os.Getenv("PATH"),
		"PORTABIN_CACHE="+testCache)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", name, err, stderr.String())
	}
	return string(out)
}

func quoteWords(words []string) string {
	quoted := make([]string, len(words))
	for i, w := range words {
		quoted[i] = "'" + w + "'"
	}
	return strings.Join(quoted, " ")
}

// TestCompletionValues: flags whose values portabin knows complete to them.
func TestCompletionValues(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"test", "x", "--kernel", ""}, []string{"host", "rhel5", "ubuntu14.04"}},
		{[]string{"test", "x", "--runner", ""}, []string{"native", "podman", "docker"}},
		{[]string{"test", "x", "--on", ""}, []string{"scratch", "dir:", "tar:", "oci:"}},
		{[]string{"build", "--target", ""}, []string{"x86_64-linux-musl", "aarch64-linux-musl"}},
		{[]string{"check", "--require-kernel", ""}, []string{"rhel6"}},
		{[]string{"cache", "prune", ""}, []string{"builds", "images", "deps"}},
	} {
		stdout, _, code, _ := runPortabin(t, t.TempDir(), errorEnv(), append([]string{"__complete"}, tc.args...)...)
		if code != 0 {
			t.Errorf("__complete %q: exit %d", tc.args, code)
		}
		lines := strings.Split(stdout, "\n")
		for _, w := range tc.want {
			if !slices.Contains(lines, w) {
				t.Errorf("__complete %q does not offer %q:\n%s", tc.args, w, stdout)
			}
		}
	}
}
