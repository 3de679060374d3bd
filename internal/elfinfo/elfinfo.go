// Package elfinfo reads what an ELF file says about how it links and runs.
package elfinfo

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// ErrNotELF is returned (wrapped) for files that do not start with the ELF magic.
var ErrNotELF = errors.New("not an ELF file")

// Linking says how an executable gets its code at run time.
type Linking string

const (
	Static    Linking = "static"
	StaticPIE Linking = "static-pie"
	Dynamic   Linking = "dynamic"
)

// Info is what one ELF file says about itself.
type Info struct {
	Path    string
	Class   elf.Class
	Data    elf.Data
	Machine elf.Machine
	Type    elf.Type
	Entry   uint64
	// Interp is the PT_INTERP program (the dynamic loader), empty if none.
	Interp string
	// Needed lists the DT_NEEDED libraries.
	Needed []string
	PIE    bool
	// Linking is empty for files that are not linked (relocatable objects, core dumps).
	Linking  Linking
	HasDebug bool
	// BuildID is the hexadecimal NT_GNU_BUILD_ID, empty if none.
	BuildID string
	// StackSize is PT_GNU_STACK's p_memsz: musl takes it as the default thread stack size, 0 if unset.
	StackSize uint64
}

// Inspect reads the ELF file at path.
func Inspect(path string) (*Info, error) {
	f, err := open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := inspect(f.File)
	if err != nil {
		return nil, fmt.Errorf("reading ELF %s: %w", path, err)
	}
	info.Path = path
	return info, nil
}

func inspect(f *elf.File) (*Info, error) {
	info := &Info{Class: f.Class, Data: f.Data, Machine: f.Machine, Type: f.Type, Entry: f.Entry}
	var err error
	if info.Interp, info.PIE, err = interpAndPIE(f); err != nil {
		return nil, err
	}
	if info.Needed, err = f.ImportedLibraries(); err != nil {
		return nil, err
	}
	info.Linking = linking(f.Type, info.PIE, info.Interp, info.Needed)
	info.HasDebug = f.Section(".debug_info") != nil || f.Section(".zdebug_info") != nil
	if info.BuildID, err = buildID(f); err != nil {
		return nil, err
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_GNU_STACK {
			info.StackSize = p.Memsz
		}
	}
	return info, nil
}

// IsExecutable reports whether path is an ELF program that can be run (not an object, archive,
// shared library or script). It reads only the headers and the dynamic section, so it is cheap
// enough to scan whole build folders.
func IsExecutable(path string) (bool, error) {
	f, err := open(path)
	if errors.Is(err, ErrNotELF) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	if f.Type == elf.ET_EXEC {
		return true, nil
	}
	_, pie, err := interpAndPIE(f.File)
	if err != nil {
		return false, fmt.Errorf("reading ELF %s: %w", path, err)
	}
	return pie, nil
}

// elfFile closes the os.File that elf.NewFile does not own.
type elfFile struct {
	*elf.File
	osFile *os.File
}

func (f elfFile) Close() error { return f.osFile.Close() }

// open checks the magic first so that scripts and archives give ErrNotELF rather than a parse error.
func open(path string) (elfFile, error) {
	osFile, err := os.Open(path)
	if err != nil {
		return elfFile{}, fmt.Errorf("reading ELF %s: %w", path, err)
	}
	magic := make([]byte, len(elf.ELFMAG))
	_, err = io.ReadFull(osFile, magic)
	if err == io.EOF || err == io.ErrUnexpectedEOF || (err == nil && string(magic) != elf.ELFMAG) {
		err = ErrNotELF
	}
	if err != nil {
		osFile.Close()
		return elfFile{}, fmt.Errorf("reading ELF %s: %w", path, err)
	}
	f, err := elf.NewFile(osFile)
	if err != nil {
		osFile.Close()
		return elfFile{}, fmt.Errorf("reading ELF %s: %w", path, err)
	}
	return elfFile{f, osFile}, nil
}

// interpAndPIE trusts DF_1_PIE, which binutils, lld and zig set; older linkers did not, and then an
// ET_DYN with an entry point and a loader is the best sign of a program rather than a library.
func interpAndPIE(f *elf.File) (interp string, pie bool, err error) {
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b, err := io.ReadAll(p.Open())
			if err != nil {
				return "", false, fmt.Errorf("reading PT_INTERP: %w", err)
			}
			interp = string(bytes.TrimRight(b, "\x00"))
		}
	}
	if f.Type != elf.ET_DYN {
		return interp, false, nil
	}
	flags, err := f.DynValue(elf.DT_FLAGS_1)
	if err != nil {
		return "", false, fmt.Errorf("reading the dynamic section: %w", err)
	}
	for _, v := range flags {
		if elf.DynFlag1(v)&elf.DF_1_PIE != 0 {
			return interp, true, nil
		}
	}
	return interp, f.Entry != 0 && interp != "", nil
}

func linking(t elf.Type, pie bool, interp string, needed []string) Linking {
	switch {
	case t != elf.ET_EXEC && t != elf.ET_DYN:
		return ""
	case interp != "" || len(needed) > 0 || (t == elf.ET_DYN && !pie):
		// A shared library is loaded dynamically even when it needs nothing itself.
		return Dynamic
	case pie:
		return StaticPIE
	}
	return Static
}

// ntGNUBuildID is the note type of a "GNU" build-id note; debug/elf does not name it.
const ntGNUBuildID = 3

// buildID reads the GNU build-id note from the PT_NOTE segments, or else from the note sections.
func buildID(f *elf.File) (string, error) {
	type notes struct {
		r     io.Reader
		align uint64
	}
	var all []notes
	for _, p := range f.Progs {
		if p.Type == elf.PT_NOTE {
			all = append(all, notes{p.Open(), p.Align})
		}
	}
	// Then the note sections: relocatable objects have no program headers, and Go's linker
	// leaves the GNU build-id out of the PT_NOTE segment.
	for _, s := range f.Sections {
		if s.Type == elf.SHT_NOTE {
			all = append(all, notes{s.Open(), s.Addralign})
		}
	}
	for _, n := range all {
		data, err := io.ReadAll(n.r)
		if err != nil {
			return "", fmt.Errorf("reading notes: %w", err)
		}
		if id := findNote(data, f.ByteOrder, n.align, "GNU", ntGNUBuildID); id != nil {
			return hex.EncodeToString(id), nil
		}
	}
	return "", nil
}

// findNote returns the descriptor of the first note with this owner and type.
func findNote(data []byte, order binary.ByteOrder, align uint64, owner string, typ uint32) []byte {
	for _, n := range ParseNotes(data, order, align) {
		if n.Owner == owner && n.Type == typ {
			return n.Desc
		}
	}
	return nil
}

// Note is one ELF note: its owner ("GNU"), type and descriptor.
type Note struct {
	Owner string
	Type  uint32
	Desc  []byte
}

// ParseNotes splits a note section or segment into its notes, up to the first one that runs
// past the end. Name and descriptor are padded to the alignment of their section or segment: 4
// for nearly all notes, whatever the ELF class (the gABI's 8 for 64-bit was never followed),
// and 8 for .note.gnu.property; any other alignment counts as 4.
func ParseNotes(data []byte, order binary.ByteOrder, align uint64) []Note {
	if align != 8 {
		align = 4
	}
	pad := func(n uint64) uint64 { return (n + align - 1) &^ (align - 1) }
	var out []Note
	for len(data) >= 12 {
		nameSize, descSize, typ := uint64(order.Uint32(data)), uint64(order.Uint32(data[4:])), order.Uint32(data[8:])
		descStart := pad(12 + nameSize)
		descEnd := descStart + descSize
		if descEnd > uint64(len(data)) {
			break
		}
		out = append(out, Note{
			Owner: strings.TrimRight(string(data[12:12+nameSize]), "\x00"),
			Type:  typ,
			Desc:  data[descStart:descEnd],
		})
		data = data[min(pad(descEnd), uint64(len(data))):]
	}
	return out
}
