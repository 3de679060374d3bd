package config

import (
	"os"
	pathpkg "path"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portabin/portabin/internal/buildsys"
)

// fromConfig is the TemplateInput that would write c again.
func fromConfig(c *Config) TemplateInput {
	in := TemplateInput{System: c.Build.System, Toolchain: c.Build.Toolchain, Executables: c.Build.Executables}
	for _, t := range c.Build.Targets {
		in.Targets = append(in.Targets, t.Name)
	}
	return in
}

// TestTemplateRoundTrip loads what Template writes and writes it again from what was loaded.
func TestTemplateRoundTrip(t *testing.T) {
	inputs := map[string]TemplateInput{
		"cmake": {System: buildsys.CMake, Toolchain: "zig", Targets: []string{"x86_64-linux-musl", "aarch64-linux-musl"},
			Executables: []string{"fetch", "fetch-index"}},
		"nothing-found":   {},
		"odd-name":        {System: buildsys.Make, Toolchain: "musl-gcc", Targets: []string{"x86_64-linux-musl"}, Executables: []string{`say "hi" now`}},
		"container-meson": {System: buildsys.Meson, Toolchain: "container", Targets: []string{"x86_64-linux-musl"}, Executables: []string{"tool"}},
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, FileName)
			text := Template(in)
			if err := os.WriteFile(path, text, 0o644); err != nil {
				t.Fatal(err)
			}
			c, err := Load(path)
			if err != nil {
				t.Fatalf("the template does not load: %v\n%s", err, text)
			}
			back := fromConfig(c)
			if in.Toolchain == "" {
				in.Toolchain = "zig" // what the template writes for it
			}
			if diff := cmp.Diff(in, back); diff != "" {
				t.Errorf("loaded template (-input +loaded):\n%s", diff)
			}
			var tests []Test
			for _, exe := range in.Executables {
				tests = append(tests, Test{Name: exe, Executable: exe, Args: []string{}, Timeout: c.Matrix.Timeout})
			}
			if diff := cmp.Diff(tests, c.Tests, sameRegexp); diff != "" {
				t.Errorf("tests (-want +loaded):\n%s", diff)
			}
			var roots, kernelNames []string
			for _, r := range c.Matrix.Roots {
				roots = append(roots, r.Written)
			}
			for _, k := range c.Matrix.Kernels {
				kernelNames = append(kernelNames, k.Name)
			}
			if diff := cmp.Diff([]string{"scratch"}, roots); diff != "" {
				t.Errorf("roots (-want +loaded):\n%s", diff)
			}
			if diff := cmp.Diff(templateKernels, kernelNames); diff != "" {
				t.Errorf("kernels (-want +loaded):\n%s", diff)
			}
			if again := Template(back); string(again) != string(text) {
				t.Errorf("writing the loaded template again differs:\n%s", cmp.Diff(string(text), string(again)))
			}
		})
	}
}

// TestTemplateGolden pins the text init writes, comments included.
func TestTemplateGolden(t *testing.T) {
	got := Template(TemplateInput{System: buildsys.CMake, Toolchain: "zig",
		Targets: []string{"x86_64-linux-musl", "aarch64-linux-musl"}, Executables: []string{"fetch", "fetch-index"}})
	golden := filepath.Join("testdata", "template.toml")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("Template (-want +got):\n%s", diff)
	}
}

// TestTemplateGlobNames: an executable whose name holds glob characters is written as a
// pattern that matches that name only, so its test still finds it.
func TestTemplateGlobNames(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	names := []string{"a[1]", `back\slash`, "star*"}
	if err := os.WriteFile(path, Template(TemplateInput{Executables: names}), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, name := range names {
		if ok, _ := pathpkg.Match(c.Build.Executables[i], name); !ok || c.Tests[i].Executable != name {
			t.Errorf("pattern %q for %q, test runs %q", c.Build.Executables[i], name, c.Tests[i].Executable)
		}
		if ok, _ := pathpkg.Match(c.Build.Executables[i], name+"x"); ok {
			t.Errorf("pattern %q matches more than %q", c.Build.Executables[i], name)
		}
	}
}
