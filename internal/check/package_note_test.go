package check

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portabin/portabin/internal/ctest"
	"github.com/portabin/portabin/internal/sbom"
)

// check reads the package note back from a static executable that has one, and reports none
// for a foreign file (the host's gcc output).
func TestPackageNote(t *testing.T) {
	p := sbom.Package{Type: sbom.PackageType, Name: "hello", Version: "v1.2", Architecture: "aarch64",
		Components: append([]sbom.Component{sbom.Musl("1.2.4")}, sbom.LLVMCXXRuntime("16.0.1")[0])}
	obj, err := p.WriteObject(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	exe := ctest.Build(t, ctest.Zig(t, "aarch64-linux-musl"), "int main(void) { return 0; }\n", "-static", "-O2", obj)
	rep, err := File(exe, Requirements{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Package == nil {
		t.Fatal("no package note found")
	}
	if diff := cmp.Diff(p, *rep.Package); diff != "" {
		t.Errorf("package (-want +got):\n%s", diff)
	}
	want := "hello v1.2 (portabin): musl 1.2.4 [MIT], libc++ 16.0.1 [Apache-2.0 WITH LLVM-exception]"
	if got := Inside(rep.Package); got != want {
		t.Errorf("Inside = %q, want %q", got, want)
	}

	foreign := ctest.Build(t, ctest.GCC(t), "int main(void) { return 0; }\n", "-O2")
	rep, err = File(foreign, Requirements{AllowDynamic: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Package != nil {
		t.Errorf("gcc's executable has a package note: %+v", rep.Package)
	}
}
