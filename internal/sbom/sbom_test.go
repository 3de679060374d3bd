package sbom

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portabin/portabin/internal/ctest"
)

func samplePackage(arch string) Package {
	return Package{Type: PackageType, Name: "hello", Version: "1.0", Architecture: arch,
		Components: append([]Component{Musl("1.2.4"), {Name: "zlib", Version: "1.3", License: "Zlib",
			URL: "https://zlib.net/zlib-1.3.tar.gz", SHA256: "ff0ba4c292013dbc27530b3a81e1f9a813cd39de01ca5e0f8bf355702efa593e"}},
			LLVMCXXRuntime("16.0.1")...)}
}

const hello = "#include <stdio.h>\nint main(void) { puts(\"hi\"); return 0; }\n"

// linkWithNote links hello with p's note object and checks that the note comes back intact,
// in a PT_NOTE segment (so that it is in memory and in core dumps).
func linkWithNote(t *testing.T, cc ctest.Compiler, p Package) string {
	t.Helper()
	obj, err := p.WriteObject(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	exe := ctest.Build(t, cc, hello, "-static", "-O2", obj)
	got, err := ReadNoteFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(p, *got); diff != "" {
		t.Errorf("note read back (-want +got):\n%s", diff)
	}
	f, err := elf.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := f.Section(NoteSection)
	if s == nil || s.Flags&elf.SHF_ALLOC == 0 || s.Addralign != noteAlign {
		t.Fatalf("section %s = %+v, want an allocated 4-aligned note", NoteSection, s)
	}
	inSegment := false
	for _, prog := range f.Progs {
		inSegment = inSegment || prog.Type == elf.PT_NOTE && prog.Vaddr <= s.Addr && s.Addr+s.Size <= prog.Vaddr+prog.Memsz
	}
	if !inSegment {
		t.Errorf("%s is in no PT_NOTE segment", NoteSection)
	}
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_GNU_STACK && prog.Flags&elf.PF_X != 0 {
			t.Errorf("the note object made the stack executable")
		}
	}
	return exe
}

func TestNoteLinked(t *testing.T) {
	for _, tc := range []struct{ zig, arch string }{{"x86_64-linux-musl", "x86_64"}, {"aarch64-linux-musl", "aarch64"},
		{"riscv64-linux-musl", "riscv64"}, {"arm-linux-musleabihf", "arm"}} {
		t.Run("zig/"+tc.arch, func(t *testing.T) {
			linkWithNote(t, ctest.Zig(t, tc.zig), samplePackage(tc.arch))
		})
	}
	t.Run("musl-gcc/x86_64", func(t *testing.T) {
		exe := linkWithNote(t, ctest.MuslGCC(t), samplePackage("x86_64"))
		if out, err := ctestRun(exe); err != nil || out != "hi\n" {
			t.Errorf("%s: %v, output %q", exe, err, out)
		}
	})
}

func ctestRun(exe string) (string, error) {
	out, err := exec.Command(exe).Output()
	return string(out), err
}

// The note bytes follow the specification's layout exactly.
func TestNoteLayout(t *testing.T) {
	p := Package{Type: PackageType, Name: "a", Architecture: "x86_64"}
	note, err := p.Note(binary.LittleEndian)
	if err != nil {
		t.Fatal(err)
	}
	js := `{"type":"portabin","name":"a","architecture":"x86_64"}`
	want := append([]byte{4, 0, 0, 0, byte(len(js) + 1), 0, 0, 0, 0x7e, 0x1a, 0xfe, 0xca, 'F', 'D', 'O', 0}, js...)
	want = append(want, 0)
	for len(want)%4 != 0 {
		want = append(want, 0)
	}
	if !bytes.Equal(note, want) {
		t.Errorf("note =\n%q\nwant\n%q", note, want)
	}
}

func TestObjectDeterministic(t *testing.T) {
	a, err := samplePackage("aarch64").Object()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := samplePackage("aarch64").Object()
	if !bytes.Equal(a, b) {
		t.Errorf("two objects of one package differ")
	}
	if _, err := (Package{Architecture: "mips"}).Object(); err == nil {
		t.Errorf("an unknown architecture gave no error")
	}
}

// A foreign file — the host's own gcc output — has no note; a damaged one never panics.
func TestReadNoteForeign(t *testing.T) {
	exe := ctest.Build(t, ctest.GCC(t), hello, "-O2")
	if _, err := ReadNoteFile(exe); !errors.Is(err, ErrNoNote) {
		t.Errorf("ReadNoteFile(gcc output) = %v, want ErrNoNote", err)
	}
	obj, err := samplePackage("x86_64").Object()
	if err != nil {
		t.Fatal(err)
	}
	for _, data := range ctest.Mangle(obj) {
		if f, err := elf.NewFile(bytes.NewReader(data)); err == nil {
			_, _ = ReadNote(f)
		}
	}
}

func TestZigRuntime(t *testing.T) {
	cc := ctest.Zig(t, "x86_64-linux-musl")
	lib := filepath.Join(filepath.Dir(cc.Args[0]), "lib")
	musl, cxx, err := ZigRuntime(lib)
	if err != nil {
		t.Fatal(err)
	}
	// zig 0.11.0 bundles musl 1.2.4 and LLVM 16's libc++ (lib/libcxx/include/__config: 160001).
	if musl.Version != "1.2.4" || len(cxx) != 3 || cxx[0].Version != "16.0.1" || cxx[0].Name != "libc++" {
		t.Errorf("ZigRuntime = %+v, %+v", musl, cxx)
	}
	if _, _, err := ZigRuntime(t.TempDir()); err == nil {
		t.Errorf("ZigRuntime of an empty folder gave no error")
	}
}

func TestCycloneDX(t *testing.T) {
	exe := filepath.Join(t.TempDir(), "hello")
	doc, err := CycloneDX(Executable{Path: exe, SHA256: "abc123", Package: samplePackage("x86_64"), Tool: "portabin", ToolVersion: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	again, _ := CycloneDX(Executable{Path: exe, SHA256: "abc123", Package: samplePackage("x86_64"), Tool: "portabin", ToolVersion: "v1"})
	if !bytes.Equal(doc, again) {
		t.Errorf("two documents of one executable differ")
	}
	var bom cdxBOM
	if err := json.Unmarshal(doc, &bom); err != nil {
		t.Fatal(err)
	}
	if bom.BOMFormat != "CycloneDX" || bom.SpecVersion != "1.5" || !strings.HasPrefix(bom.SerialNumber, "urn:uuid:") ||
		len(bom.SerialNumber) != len("urn:uuid:")+36 {
		t.Errorf("header: %+v", bom)
	}
	m := bom.Metadata.Component
	if m.Name != "hello" || m.Version != "1.0" || len(m.Hashes) != 1 || m.Hashes[0].Content != "abc123" {
		t.Errorf("metadata.component = %+v", m)
	}
	var names, licences, purls []string
	for _, c := range bom.Components {
		names = append(names, c.Name)
		for _, l := range c.Licenses {
			if l.License != nil {
				licences = append(licences, l.License.ID)
			} else {
				licences = append(licences, l.Expression)
			}
		}
		purls = append(purls, c.PURL)
	}
	want := [][]string{
		{"musl", "zlib", "libc++", "libc++abi", "libunwind"},
		{"MIT", "Zlib", llvmLicense, llvmLicense, llvmLicense},
		{"pkg:generic/musl@1.2.4?download_url=https%3A%2F%2Fmusl.libc.org%2Freleases%2Fmusl-1.2.4.tar.gz",
			"pkg:generic/zlib@1.3?download_url=https%3A%2F%2Fzlib.net%2Fzlib-1.3.tar.gz&checksum=sha256:ff0ba4c292013dbc27530b3a81e1f9a813cd39de01ca5e0f8bf355702efa593e",
			"pkg:github/llvm/llvm-project@llvmorg-16.0.1#libcxx", "pkg:github/llvm/llvm-project@llvmorg-16.0.1#libcxxabi",
			"pkg:github/llvm/llvm-project@llvmorg-16.0.1#libunwind"},
	}
	if diff := cmp.Diff(want, [][]string{names, licences, purls}); diff != "" {
		t.Errorf("components (-want +got):\n%s", diff)
	}
	if len(bom.Dependencies) != 1 || len(bom.Dependencies[0].DependsOn) != 5 {
		t.Errorf("dependencies = %+v", bom.Dependencies)
	}
}

// WriteCycloneDX takes its facts from the executable's own note.
func TestWriteCycloneDX(t *testing.T) {
	exe := linkWithNote(t, ctest.Zig(t, "x86_64-linux-musl"), samplePackage("x86_64"))
	path, err := WriteCycloneDX(Executable{Path: exe, SHA256: "00", Tool: "portabin"})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil || !strings.Contains(string(data), `"name": "zlib"`) || path != exe+".cdx.json" {
		t.Errorf("%s: %v\n%s", path, err, data)
	}
	foreign := ctest.Build(t, ctest.Zig(t, "x86_64-linux-musl"), hello, "-static")
	if _, err := WriteCycloneDX(Executable{Path: foreign}); !errors.Is(err, ErrNoNote) {
		t.Errorf("WriteCycloneDX without a note = %v, want ErrNoNote", err)
	}
}
