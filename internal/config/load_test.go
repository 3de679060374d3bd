package config

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rogpeppe/go-internal/txtar"

	"github.com/portabin/portabin/internal/uerr"
)

var update = flag.Bool("update", false, "rewrite the golden errors in testdata/bad")

// TestBadInput loads each testdata/bad/*.txtar — a portabin.toml and the files it names —
// and compares the error with the archive's "error" file: what the CLI prints after
// "portabin: ", then the detail and the hint.
func TestBadInput(t *testing.T) {
	cases, err := filepath.Glob("testdata/bad/*.txtar")
	if err != nil || len(cases) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, file := range cases {
		file, _ := filepath.Abs(file)
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			ar, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			t.Chdir(extract(t, ar))
			c, err := Load(FileName)
			if err == nil {
				t.Fatalf("loaded without error: %+v", c)
			}
			if code := uerr.Code(err); code != uerr.ExitUsage {
				t.Errorf("exit code %d, want %d", code, uerr.ExitUsage)
			}
			got := render(err)
			if *update {
				setFile(ar, "error", got)
				if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if diff := cmp.Diff(string(fileOf(ar, "error")), got); diff != "" {
				t.Errorf("error text (-want +got):\n%s", diff)
			}
		})
	}
}

// render is the error as the CLI prints it, without the "portabin: " in front.
func render(err error) string {
	out := err.Error() + "\n"
	if d := uerr.DetailOf(err); d != "" {
		out += d + "\n"
	}
	if h := uerr.HintOf(err); h != "" {
		out += "hint: " + h + "\n"
	}
	return out
}

// extract writes an archive's files, except the golden "error", into a new folder.
func extract(t *testing.T, ar *txtar.Archive) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range ar.Files {
		if f.Name == "error" {
			continue
		}
		path := filepath.Join(dir, f.Name)
		if strings.HasSuffix(f.Name, "/") {
			if err := os.MkdirAll(path, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func fileOf(ar *txtar.Archive, name string) []byte {
	for _, f := range ar.Files {
		if f.Name == name {
			return f.Data
		}
	}
	return nil
}

func setFile(ar *txtar.Archive, name, data string) {
	for i, f := range ar.Files {
		if f.Name == name {
			ar.Files[i].Data = []byte(data)
			return
		}
	}
	ar.Files = append(ar.Files, txtar.File{Name: name, Data: []byte(data)})
}
