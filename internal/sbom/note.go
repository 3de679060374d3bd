package sbom

import (
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/portabin/portabin/internal/atomicfile"
	"github.com/portabin/portabin/internal/elfinfo"
	"github.com/portabin/portabin/internal/target"
)

// The package note, as https://systemd.io/ELF_PACKAGE_METADATA/ specifies it: section
// .note.package, owner "FDO", type 0xcafe1a7e, a NUL-terminated JSON object, 4-byte aligned,
// allocated and read-only so that it lands in a PT_NOTE segment and in core dumps.
const (
	NoteSection       = ".note.package"
	NoteOwner         = "FDO"
	NoteType          = 0xcafe1a7e
	noteAlign         = 4
	stackNoteSection  = ".note.GNU-stack"
	shstrtabSection   = ".shstrtab"
	elfHeaderSize64   = 64
	elfHeaderSize32   = 52
	sectionHeader64   = 64
	sectionHeader32   = 40
	sectionCount      = 4 // null, .note.package, .note.GNU-stack, .shstrtab
	eflagsARMHardEABI = 0x05000400
	eflagsRISCVLP64D  = 0x0005 // RVC and the double-float ABI, zig's riscv64 baseline
)

// Note returns the note's bytes: header, owner and JSON, each padded to 4 bytes.
func (p Package) Note(order binary.ByteOrder) ([]byte, error) {
	desc, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encoding the package note: %w", err)
	}
	desc = append(desc, 0)
	name := append([]byte(NoteOwner), 0)
	var b bytes.Buffer
	for _, v := range []uint32{uint32(len(name)), uint32(len(desc)), NoteType} {
		_ = binary.Write(&b, order, v)
	}
	b.Write(pad(name))
	b.Write(pad(desc))
	return b.Bytes(), nil
}

func pad(b []byte) []byte {
	for len(b)%noteAlign != 0 {
		b = append(b, 0)
	}
	return b
}

// Object returns a relocatable ELF object for p.Architecture that holds only the note (and an
// empty .note.GNU-stack, without which GNU ld would make the stack executable). The wrapper
// links it into every executable. It is written here rather than assembled by the toolchain:
// no compiler run per link, and nothing in it (no file name, no debug line) depends on where
// or when it was made.
func (p Package) Object() ([]byte, error) {
	t, err := target.Parse(p.Architecture)
	if err != nil {
		return nil, fmt.Errorf("writing the package note: %w", err)
	}
	var order binary.ByteOrder = binary.LittleEndian
	data := elf.ELFDATA2LSB
	if t.BigEndian {
		order, data = binary.BigEndian, elf.ELFDATA2MSB
	}
	note, err := p.Note(order)
	if err != nil {
		return nil, err
	}
	is64 := t.Class == elf.ELFCLASS64
	ehsize, shsize := elfHeaderSize32, sectionHeader32
	if is64 {
		ehsize, shsize = elfHeaderSize64, sectionHeader64
	}
	var flags uint32
	switch t.Machine {
	case elf.EM_ARM:
		flags = eflagsARMHardEABI
	case elf.EM_RISCV:
		flags = eflagsRISCVLP64D
	}
	shstrtab := []byte("\x00" + NoteSection + "\x00" + stackNoteSection + "\x00" + shstrtabSection + "\x00")
	noteName, stackName, strName := 1, 1+len(NoteSection)+1, 1+len(NoteSection)+1+len(stackNoteSection)+1
	noteOff := ehsize
	strOff := noteOff + len(note)
	shOff := strOff + len(shstrtab)
	for shOff%8 != 0 {
		shOff++
	}

	out := make([]byte, shOff, shOff+sectionCount*shsize)
	ident := out[:elf.EI_NIDENT]
	copy(ident, elf.ELFMAG)
	ident[elf.EI_CLASS] = byte(t.Class)
	ident[elf.EI_DATA] = byte(data)
	ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	ident[elf.EI_OSABI] = byte(elf.ELFOSABI_NONE)
	w := &bytes.Buffer{}
	put := func(vs ...any) {
		for _, v := range vs {
			_ = binary.Write(w, order, v)
		}
	}
	// word is an address-sized field.
	word := func(v uint64) any {
		if is64 {
			return v
		}
		return uint32(v)
	}
	put(uint16(elf.ET_REL), uint16(t.Machine), uint32(elf.EV_CURRENT), word(0), word(0), word(uint64(shOff)),
		flags, uint16(ehsize), uint16(0), uint16(0), uint16(shsize), uint16(sectionCount), uint16(sectionCount-1))
	copy(out[elf.EI_NIDENT:], w.Bytes())
	copy(out[noteOff:], note)
	copy(out[strOff:], shstrtab)

	w.Reset()
	section := func(name int, typ elf.SectionType, flags elf.SectionFlag, off, size, align int) {
		if is64 {
			put(uint32(name), uint32(typ), uint64(flags), uint64(0), uint64(off), uint64(size), uint32(0), uint32(0), uint64(align), uint64(0))
		} else {
			put(uint32(name), uint32(typ), uint32(flags), uint32(0), uint32(off), uint32(size), uint32(0), uint32(0), uint32(align), uint32(0))
		}
	}
	section(0, elf.SHT_NULL, 0, 0, 0, 0)
	section(noteName, elf.SHT_NOTE, elf.SHF_ALLOC, noteOff, len(note), noteAlign)
	section(stackName, elf.SHT_PROGBITS, 0, strOff, 0, 1)
	section(strName, elf.SHT_STRTAB, 0, strOff, len(shstrtab), 1)
	return append(out, w.Bytes()...), nil
}

// WriteObject writes p's note object into dir, named by its content so that parallel links
// share one file and a changed note never reuses an old one, and returns its path.
func (p Package) WriteObject(dir string) (string, error) {
	obj, err := p.Object()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(obj)
	path := filepath.Join(dir, "package-note-"+hex.EncodeToString(sum[:8])+".o")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	if err := atomicfile.Write(path, obj, 0o644); err != nil {
		return "", fmt.Errorf("writing the package note: %w", err)
	}
	return path, nil
}

// ErrNoNote is returned by ReadNote for a file without a package note.
var ErrNoNote = errors.New("no package note")

// ReadNote finds the package note of f in its note sections, or in its PT_NOTE segments when
// the section headers are gone, and decodes it. Keys it does not know are ignored.
func ReadNote(f *elf.File) (*Package, error) {
	var blobs [][]byte
	for _, s := range f.Sections {
		if s.Type == elf.SHT_NOTE {
			if data, err := s.Data(); err == nil {
				blobs = append(blobs, data)
			}
		}
	}
	if len(f.Sections) == 0 {
		for _, prog := range f.Progs {
			if prog.Type == elf.PT_NOTE && prog.Filesz < 1<<24 {
				data := make([]byte, prog.Filesz)
				if _, err := prog.ReadAt(data, 0); err == nil {
					blobs = append(blobs, data)
				}
			}
		}
	}
	for _, blob := range blobs {
		desc, ok := findNote(blob, f.ByteOrder)
		if !ok {
			continue
		}
		var p Package
		if err := json.Unmarshal(bytes.TrimRight(desc, "\x00"), &p); err != nil {
			return nil, fmt.Errorf("reading the package note: %w", err)
		}
		return &p, nil
	}
	return nil, ErrNoNote
}

// findNote walks the notes of one note section or segment for the package note.
func findNote(b []byte, order binary.ByteOrder) ([]byte, bool) {
	for _, n := range elfinfo.ParseNotes(b, order, noteAlign) {
		if n.Type == NoteType && n.Owner == NoteOwner {
			return n.Desc, true
		}
	}
	return nil, false
}

// ReadNoteFile opens the ELF file at path and reads its package note.
func ReadNoteFile(path string) (*Package, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading ELF %s: %w", path, err)
	}
	defer f.Close()
	return ReadNote(f)
}
