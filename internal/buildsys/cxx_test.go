package buildsys

import (
	"os"
	"path/filepath"
	"testing"
)

func TestHasCXXSources(t *testing.T) {
	tests := []struct {
		name  string
		files []string
		want  string
	}{
		{"c only", []string{"main.c", "lib/util.c", "include/util.h"}, ""},
		{"cpp", []string{"main.c", "src/widget.cpp"}, "src/widget.cpp"},
		{"cc", []string{"a.cc"}, "a.cc"},
		{"cxx", []string{"a.cxx"}, "a.cxx"},
		{"capital C", []string{"a.C"}, "a.C"},
		{"c++", []string{"a.c++"}, "a.c++"},
		{"header only is not a source", []string{"a.hpp", "b.hh"}, ""},
		{"git folder skipped", []string{".git/x.cpp", "main.c"}, ""},
		{"build folder skipped", []string{"build/gen.cpp", "_build/gen.cc", "main.c"}, ""},
		{"cmake build tree skipped", []string{"out/CMakeCache.txt", "out/CMakeFiles/x.cpp"}, ""},
		{"meson build tree skipped", []string{"bd/meson-private/x", "bd/gen.cc"}, ""},
		{"contrib skipped", []string{"contrib/iostream/zfstream.cpp", "zlib.c"}, ""},
		{"tests count", []string{"tests/unit.cpp"}, "tests/unit.cpp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range tt.files {
				path := filepath.Join(dir, f)
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, ok := HasCXXSources(dir)
			if got != tt.want || ok != (tt.want != "") {
				t.Errorf("HasCXXSources = %q, %v; want %q", got, ok, tt.want)
			}
		})
	}
}
