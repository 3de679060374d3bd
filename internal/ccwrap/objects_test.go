package ccwrap

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/portabin/portabin/internal/sbom"
)

// Executable links get the allocator and a package note, the C++ runtime listed only when the
// link brings it; compiles and shared libraries get neither.
func TestExeObjects(t *testing.T) {
	dir := t.TempDir()
	c := Config{Dialect: Zig, CC: []string{"zig", "cc"}, CXX: []string{"zig", "c++"}, Malloc: "/cache/mimalloc.o",
		Package:    &sbom.Package{Type: sbom.PackageType, Name: "p", Architecture: "aarch64", Components: []sbom.Component{sbom.Musl("1.2.4")}},
		CXXRuntime: sbom.LLVMCXXRuntime("16.0.1"), NoteDir: dir}
	noteOf := func(tool Tool, args ...string) (malloc bool, note *sbom.Package) {
		t.Helper()
		argv, _, err := c.Command(tool, args)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range argv {
			if a == c.Malloc {
				malloc = true
			}
			if filepath.Dir(a) == dir && strings.HasSuffix(a, ".o") {
				if note, err = sbom.ReadNoteFile(a); err != nil {
					t.Fatal(err)
				}
			}
		}
		return malloc, note
	}
	if m, n := noteOf(CC, "main.o", "-o", "prog"); !m || n == nil || len(n.Components) != 1 || n.Components[0].Name != "musl" {
		t.Errorf("cc link: malloc %v, note %+v", m, n)
	}
	if m, n := noteOf(CXX, "-x", "c++", "main.cc", "-o", "prog"); !m || n == nil || len(n.Components) != 4 || n.Components[1].Name != "libc++" {
		t.Errorf("c++ link: malloc %v, note %+v", m, n)
	}
	if m, n := noteOf(CC, "-c", "main.c", "-o", "main.o"); m || n != nil {
		t.Errorf("compile: malloc %v, note %+v", m, n)
	}
	if m, n := noteOf(CC, "-shared", "a.o", "-o", filepath.Join(t.TempDir(), "liba.so")); m || n != nil {
		t.Errorf("shared library: malloc %v, note %+v", m, n)
	}
	if len(c.Package.Components) != 1 {
		t.Errorf("the C++ link changed the configuration's components: %+v", c.Package.Components)
	}
}
