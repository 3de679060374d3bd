package elfimage

import (
	"bytes"
	"debug/elf"
	"io"
	"os"
	"testing"

	"github.com/portabin/portabin/internal/ctest"
)

// Every read from an Image must give what debug/elf's own reads of the same file give — the
// same bytes, an error exactly when they give one — for whole files and for truncated and
// corrupted ones, whose section and segment headers point anywhere.
func TestSameAsDebugElf(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var files [][]byte
	for _, path := range []string{exe, "/bin/sh"} {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, data)
		files = append(files, ctest.Mangle(data)...)
	}
	compared := 0
	for i, data := range files {
		plain, err1 := elf.NewFile(bytes.NewReader(data))
		mapped, err2 := elf.NewFile(New(data))
		if (err1 == nil) != (err2 == nil) {
			t.Fatalf("file %d: NewFile %v from a reader, %v from an Image", i, err1, err2)
		}
		if err1 != nil {
			continue
		}
		if len(plain.Sections) != len(mapped.Sections) || len(plain.Progs) != len(mapped.Progs) {
			t.Fatalf("file %d: headers differ", i)
		}
		same := func(what string, want []byte, wantErr error, got []byte, gotErr error) {
			t.Helper()
			compared++
			if (wantErr == nil) != (gotErr == nil) || wantErr == nil && !bytes.Equal(want, got) {
				t.Fatalf("file %d, %s: want %d bytes (%v), got %d bytes (%v)", i, what, len(want), wantErr, len(got), gotErr)
			}
		}
		for k, s := range plain.Sections {
			m := mapped.Sections[k]
			want, wantErr := s.Data()
			got, gotErr := SectionData(m)
			same(s.Name+" data", want, wantErr, got, gotErr)
			for _, limit := range []int64{0, 1, 100, 1 << 20, 1<<63 - 1} {
				want, wantErr := io.ReadAll(io.LimitReader(s.Open(), limit))
				got, gotErr := Section(m, limit)
				same(s.Name+" capped", want, wantErr, got, gotErr)
			}
		}
		for k, p := range plain.Progs {
			for _, limit := range []int64{0, 100, 1<<63 - 1} {
				want, wantErr := io.ReadAll(io.LimitReader(p.Open(), limit))
				got, gotErr := Segment(mapped.Progs[k], limit)
				same("segment", want, wantErr, got, gotErr)
			}
		}
	}
	if compared < 1000 {
		t.Fatalf("only %d reads compared", compared)
	}
}

// The bytes an Image gives are its own, but appending to them must never write into it.
func TestAppendDoesNotWrite(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	img, err := Read(exe, 1<<30)
	if err != nil || img == nil {
		t.Fatalf("Read: %v", err)
	}
	defer img.Close()
	before := bytes.Clone(img.data)
	f, err := elf.NewFile(img)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range f.Sections {
		if s.Type == elf.SHT_NOBITS {
			continue // read as debug/elf reads it: an error
		}
		for _, limit := range []int64{16, 1<<63 - 1} {
			data, err := Section(s, limit)
			if err != nil {
				t.Fatal(err)
			}
			_ = append(data, 0xee, 0xee, 0xee, 0xee)
		}
		if data, err := SectionData(s); err == nil {
			_ = append(data, 0xee)
		}
	}
	if !bytes.Equal(before, img.data) {
		t.Fatal("an append wrote into the image")
	}
	// Files above the limit are left to be read section by section.
	if img, err := Read(exe, 100); err != nil || img != nil {
		t.Fatalf("Read over the limit: %v, %v", img, err)
	}
	if _, err := Read("/nonexistent", 1<<30); err == nil {
		t.Fatal("Read of a missing file: no error")
	}
}

// While a file is remembered its symbol tables are parsed once and shared; they are what
// debug/elf gives, and once it is forgotten every call parses again.
func TestRememberSymbols(t *testing.T) {
	f, err := elf.Open("/bin/sh") // dynamic symbols; this test program has a symbol table
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	self, err := elf.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer self.Close()
	for _, c := range []struct {
		name  string
		f     *elf.File
		read  func(*elf.File) ([]elf.Symbol, error)
		plain func() ([]elf.Symbol, error)
	}{
		{"Symbols", self, Symbols, self.Symbols},
		{"DynamicSymbols", f, DynamicSymbols, f.DynamicSymbols},
		{"Symbols of a stripped file", f, Symbols, f.Symbols},
	} {
		want, wantErr := c.plain()
		forget := Remember(c.f)
		first, err1 := c.read(c.f)
		second, err2 := c.read(c.f)
		forget()
		after, _ := c.read(c.f)
		if err1 != wantErr || err2 != wantErr {
			t.Errorf("%s: errors %v and %v, debug/elf %v", c.name, err1, err2, wantErr)
		}
		if len(first) != len(want) || len(second) != len(want) {
			t.Fatalf("%s: %d and %d symbols, debug/elf %d", c.name, len(first), len(second), len(want))
		}
		for i := range want {
			if first[i] != want[i] {
				t.Fatalf("%s: symbol %d is %+v, debug/elf %+v", c.name, i, first[i], want[i])
			}
		}
		if len(want) > 0 && (&first[0] != &second[0] || &after[0] == &first[0]) {
			t.Errorf("%s: parsed once while remembered and again after: %v, %v", c.name, &first[0] == &second[0], &after[0] != &first[0])
		}
	}
}
