package config

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	toml "github.com/pelletier/go-toml/v2"
)

const docPath = "../../docs/config.md"

// docExample is the one ```toml block of docs/config.md.
func docExample(t *testing.T) []byte {
	t.Helper()
	doc, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?ms)^```toml\n(.*?)^```$").FindAllSubmatch(doc, -1)
	if len(blocks) != 1 {
		t.Fatalf("%s has %d ```toml blocks, want one full example", docPath, len(blocks))
	}
	return blocks[0][1]
}

// TestDocExampleLoads loads the example of docs/config.md in a folder that holds the files
// it names.
func TestDocExampleLoads(t *testing.T) {
	example := docExample(t)
	var raw file
	if err := toml.Unmarshal(example, &raw); err != nil {
		t.Fatalf("decoding the example: %v", err)
	}
	dir := t.TempDir()
	var files []string
	for _, test := range raw.Tests {
		files = append(files, test.Stdin, test.ExpectStdout)
	}
	for _, name := range files {
		if name == "" {
			continue
		}
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if raw.Build.Sysroot != "" {
		if err := os.MkdirAll(filepath.Join(dir, raw.Build.Sysroot), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, FileName)
	if err := os.WriteFile(path, example, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err != nil {
		t.Fatalf("the example of %s does not load: %v", docPath, err)
	}
}

// TestDocExampleIsFull checks that the example sets every key, so that it shows each one.
func TestDocExampleIsFull(t *testing.T) {
	var doc map[string]any
	if err := toml.Unmarshal(docExample(t), &doc); err != nil {
		t.Fatal(err)
	}
	keys := schemaKeys()
	set := map[string]bool{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		if slices.Contains(keys, prefix) {
			set[prefix] = true
			return
		}
		switch v := v.(type) {
		case map[string]any:
			for k, child := range v {
				walk(join(prefix, k), child)
			}
		case []any:
			for _, child := range v {
				walk(prefix, child)
			}
		}
	}
	walk("", doc)
	for _, k := range keys {
		if !set[k] {
			t.Errorf("the example of %s does not set %s", docPath, k)
		}
	}
}

// TestDocKeys checks that docs/config.md has a row for every key and for no other, so
// the reference cannot fall behind the code.
func TestDocKeys(t *testing.T) {
	doc, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	section := regexp.MustCompile("^## `\\[\\[?([a-z]+)\\]\\]?`$")
	row := regexp.MustCompile("^\\| `([A-Za-z_]+)` \\|")
	var documented []string
	table := ""
	for _, line := range strings.Split(string(doc), "\n") {
		if m := section.FindStringSubmatch(line); m != nil {
			table = m[1]
			continue
		}
		if strings.HasPrefix(line, "## ") {
			table = ""
		}
		if m := row.FindStringSubmatch(line); m != nil && table != "" {
			key := table + "." + m[1]
			if table == "deps" && m[1] == "NAME" {
				key = "deps" // its keys are the libraries' names
			}
			documented = append(documented, key)
		}
	}
	want := schemaKeys()
	slices.Sort(want)
	slices.Sort(documented)
	if diff := cmp.Diff(want, documented); diff != "" {
		t.Errorf("keys in %s (-code +doc):\n%s", docPath, diff)
	}
}
