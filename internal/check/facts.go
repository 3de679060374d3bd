package check

import (
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/portabin/portabin/internal/elfimage"
	"github.com/portabin/portabin/internal/elfinfo"
)

// ELFFacts is what a file's headers, dynamic section, notes and version sections say, as
// file(1), readelf -d -n -V, readelf -l and scanelf -a print it, so that one report holds what
// those tools show besides what check concludes. Addresses and sizes are hexadecimal strings.
type ELFFacts struct {
	// Version, OSABI and ABIVersion are e_ident's; file prints "version 1 (SYSV)" for
	// version 1 and ELFOSABI_NONE.
	Version    uint8  `json:"version"`
	OSABI      string `json:"os_abi"`
	ABIVersion uint8  `json:"abi_version"`
	// Mode is the file's permission bits, as scanelf's PERM column.
	Mode string `json:"mode,omitempty"`
	PIE  bool   `json:"pie"`
	// SOName is a shared library's DT_SONAME.
	SOName  string `json:"soname,omitempty"`
	BuildID string `json:"build_id,omitempty"`
	// Stripped: no symbol table (SHT_SYMTAB), as risk's "stripped"; DebugInfo: DWARF is present.
	Stripped  bool `json:"stripped"`
	DebugInfo bool `json:"debug_info"`
	// Bind is "now" when the loader resolves every symbol at start (DT_BIND_NOW, DF_BIND_NOW,
	// DF_1_NOW), "lazy" otherwise; empty for files without a dynamic section.
	Bind string `json:"bind,omitempty"`
	// RELRO is "full" (PT_GNU_RELRO and bind now), "partial" (PT_GNU_RELRO) or "none".
	RELRO string `json:"relro"`
	// Stack is PT_GNU_STACK's permissions ("RW-", "RWX"), or "none" without one, when most
	// kernels make the stack executable.
	Stack   string `json:"stack"`
	TextRel bool   `json:"textrel"`
	// Segments are the program headers: type and permissions, as readelf -l lists them.
	Segments []string `json:"segments,omitempty"`
	// Dynamic is every entry of the dynamic section, as readelf -d lists them: the tag, a
	// space and the value ("DT_NEEDED libc.so.6", "DT_FLAGS_1 DF_1_NOW+DF_1_PIE", "DT_INIT
	// 0x4000"), a string for tags that name strings, flag names for DT_FLAGS and DT_FLAGS_1,
	// else a hexadecimal number.
	Dynamic []string `json:"dynamic,omitempty"`
	// Notes are the ELF notes, as readelf -n lists them, with what each says.
	Notes []Note `json:"notes,omitempty"`
	// VersionNeeds are the symbol versions needed from each library (readelf -V's
	// .gnu.version_r); VersionDefs the versions the file defines (.gnu.version_d).
	VersionNeeds []VersionNeed `json:"version_needs,omitempty"`
	VersionDefs  []string      `json:"version_defs,omitempty"`
	// SymbolVersions says which dynamic symbols carry which version (readelf -V's
	// .gnu.version), grouped by version in the order of the version indices. Symbols without
	// one (*local* and *global* in readelf's words) are left out.
	SymbolVersions []SymbolVersion `json:"symbol_versions,omitempty"`
}

// dynEntry is one dynamic section entry: its tag and raw value, and both as words
// ("DT_NEEDED", "libc.so.6").
type dynEntry struct {
	tag        elf.DynTag
	raw        uint64
	name, text string
}

// Note is one ELF note: its owner ("GNU"), its type and what its descriptor says.
type Note struct {
	Owner       string `json:"owner"`
	Type        string `json:"type"`
	Description string `json:"description,omitempty"`
}

// VersionNeed is a library and the symbol versions needed from it.
type VersionNeed struct {
	File     string   `json:"file"`
	Versions []string `json:"versions"`
}

// SymbolVersion is a version and the dynamic symbols that carry it: imported ones when File
// names the library the version is needed from, else ones the file defines.
type SymbolVersion struct {
	Version string `json:"version"`
	File    string `json:"file,omitempty"`
	// Hidden: the symbols are not linked against this version by default (readelf's "h",
	// name@VERSION rather than name@@VERSION), as glibc keeps old variants of a function.
	Hidden  bool     `json:"hidden,omitempty"`
	Symbols []string `json:"symbols"`
}

// Bounds on what hostile headers can make facts list.
const (
	maxDynEntries = 4096
	maxNotes      = 256
	maxNoteBytes  = 1 << 20
)

func elfFacts(f *elf.File, path string, info *elfinfo.Info) *ELFFacts {
	e := &ELFFacts{
		Version: uint8(f.Version), OSABI: f.OSABI.String(), ABIVersion: f.ABIVersion, PIE: info.PIE, BuildID: info.BuildID,
		Stripped: f.SectionByType(elf.SHT_SYMTAB) == nil, DebugInfo: info.HasDebug, RELRO: "none", Stack: "none",
	}
	if st, err := os.Stat(path); err == nil {
		e.Mode = fmt.Sprintf("%04o", st.Mode().Perm())
	}
	relro := false
	for _, p := range f.Progs {
		flags := segmentFlags(p.Flags)
		e.Segments = append(e.Segments, strings.TrimPrefix(p.Type.String(), "PT_")+" "+flags)
		switch p.Type {
		case elf.PT_GNU_STACK:
			e.Stack = flags
		case elf.PT_GNU_RELRO:
			relro = true
		}
	}
	bindNow := false
	dynamic := dynamicEntries(f)
	for _, d := range dynamic {
		e.Dynamic = append(e.Dynamic, d.name+" "+d.text)
		switch d.tag {
		case elf.DT_SONAME:
			e.SOName = d.text
		case elf.DT_TEXTREL:
			e.TextRel = true
		case elf.DT_BIND_NOW:
			bindNow = true
		case elf.DT_FLAGS:
			bindNow = bindNow || elf.DynFlag(d.raw)&elf.DF_BIND_NOW != 0
			e.TextRel = e.TextRel || elf.DynFlag(d.raw)&elf.DF_TEXTREL != 0
		case elf.DT_FLAGS_1:
			bindNow = bindNow || elf.DynFlag1(d.raw)&elf.DF_1_NOW != 0
		}
	}
	if len(dynamic) > 0 {
		e.Bind = "lazy"
		if bindNow {
			e.Bind = "now"
		}
	}
	switch {
	case relro && bindNow:
		e.RELRO = "full"
	case relro:
		e.RELRO = "partial"
	}
	e.Notes = notes(f)
	if needs, err := f.DynamicVersionNeeds(); err == nil {
		for _, n := range needs {
			v := VersionNeed{File: n.Name, Versions: []string{}}
			for _, d := range n.Needs {
				v.Versions = append(v.Versions, d.Dep)
			}
			e.VersionNeeds = append(e.VersionNeeds, v)
		}
	}
	if defs, err := f.DynamicVersions(); err == nil {
		for _, d := range defs {
			e.VersionDefs = append(e.VersionDefs, d.Name)
		}
	}
	e.SymbolVersions = symbolVersions(f)
	return e
}

// symbolVersions groups f's versioned dynamic symbols by version index and hidden bit, in the
// order readelf -V numbers the versions, the hidden symbols of a version after the rest.
func symbolVersions(f *elf.File) []SymbolVersion {
	syms, err := elfimage.DynamicSymbols(f)
	if err != nil {
		return nil
	}
	groups := map[int]*SymbolVersion{}
	for _, s := range syms {
		v := s.VersionIndex
		if !s.HasVersion || v.Index() < 2 || s.Version == "" {
			continue // *local*, *global*, or an index that names no version
		}
		key := int(v.Index()) << 1
		if v.IsHidden() {
			key |= 1
		}
		g := groups[key]
		if g == nil {
			g = &SymbolVersion{Version: s.Version, File: s.Library, Hidden: v.IsHidden()}
			groups[key] = g
		}
		g.Symbols = append(g.Symbols, s.Name)
	}
	var out []SymbolVersion
	for _, key := range slices.Sorted(maps.Keys(groups)) {
		out = append(out, *groups[key])
	}
	return out
}

func segmentFlags(f elf.ProgFlag) string {
	b := []byte("---")
	if f&elf.PF_R != 0 {
		b[0] = 'R'
	}
	if f&elf.PF_W != 0 {
		b[1] = 'W'
	}
	if f&elf.PF_X != 0 {
		b[2] = 'X'
	}
	return string(b)
}

// stringTags are the dynamic tags whose value is an offset into the dynamic string table.
var stringTags = map[elf.DynTag]bool{
	elf.DT_NEEDED: true, elf.DT_SONAME: true, elf.DT_RPATH: true, elf.DT_RUNPATH: true,
	elf.DT_AUXILIARY: true, elf.DT_FILTER: true, elf.DT_CONFIG: true, elf.DT_DEPAUDIT: true, elf.DT_AUDIT: true,
}

// dynamicEntries reads the SHT_DYNAMIC section up to its DT_NULL.
func dynamicEntries(f *elf.File) []dynEntry {
	ds := f.SectionByType(elf.SHT_DYNAMIC)
	if ds == nil {
		return nil
	}
	data, err := elfimage.SectionData(ds)
	if err != nil {
		return nil
	}
	var strtab []byte
	if int(ds.Link) < len(f.Sections) && ds.Link != 0 {
		strtab, _ = elfimage.SectionData(f.Sections[ds.Link])
	}
	size := 16
	if f.Class == elf.ELFCLASS32 {
		size = 8
	}
	var out []dynEntry
	for off := 0; off+size <= len(data) && len(out) < maxDynEntries; off += size {
		var tag elf.DynTag
		var val uint64
		if size == 16 {
			tag, val = elf.DynTag(f.ByteOrder.Uint64(data[off:])), f.ByteOrder.Uint64(data[off+8:])
		} else {
			tag, val = elf.DynTag(int32(f.ByteOrder.Uint32(data[off:]))), uint64(f.ByteOrder.Uint32(data[off+4:]))
		}
		if tag == elf.DT_NULL {
			break
		}
		v := fmt.Sprintf("%#x", val)
		switch {
		case stringTags[tag]:
			if s, ok := cString(strtab, val); ok {
				v = s
			}
		case tag == elf.DT_FLAGS:
			v = elf.DynFlag(val).String()
		case tag == elf.DT_FLAGS_1:
			v = elf.DynFlag1(val).String()
		case tag == elf.DT_PLTREL:
			v = dynTagName(elf.DynTag(val))
		}
		out = append(out, dynEntry{tag: tag, raw: val, name: dynTagName(tag), text: v})
	}
	return out
}

// dynTagName names a dynamic tag; debug/elf does not know the RELR tags of glibc 2.36 and
// binutils 2.38 (gABI, "Dynamic Section"), and names them after DT_SYMTAB_SHNDX.
func dynTagName(t elf.DynTag) string {
	switch t {
	case 35:
		return "DT_RELRSZ"
	case 36:
		return "DT_RELR"
	case 37:
		return "DT_RELRENT"
	}
	return t.String()
}

// cString is the NUL-terminated string at off in tab.
func cString(tab []byte, off uint64) (string, bool) {
	if off >= uint64(len(tab)) {
		return "", false
	}
	s := tab[off:]
	for i, c := range s {
		if c == 0 {
			return string(s[:i]), true
		}
	}
	return "", false
}

// notes lists the notes of the note sections, as readelf -n does, or of the PT_NOTE segments
// of a file without section headers.
func notes(f *elf.File) []Note {
	type area struct {
		data  []byte
		align uint64
	}
	var areas []area
	for _, s := range f.Sections {
		if s.Type == elf.SHT_NOTE {
			if data, err := elfimage.Section(s, maxNoteBytes); err == nil {
				areas = append(areas, area{data, s.Addralign})
			}
		}
	}
	if len(areas) == 0 {
		for _, p := range f.Progs {
			if p.Type == elf.PT_NOTE {
				if data, err := elfimage.Segment(p, maxNoteBytes); err == nil {
					areas = append(areas, area{data, p.Align})
				}
			}
		}
	}
	var out []Note
	for _, a := range areas {
		for _, n := range elfinfo.ParseNotes(a.data, f.ByteOrder, a.align) {
			if len(out) == maxNotes {
				return out
			}
			out = append(out, describeNote(f, n))
		}
	}
	return out
}

// abiTagVersion reads the descriptor of glibc's ABI tag note: the operating system and the
// oldest kernel version it was built for.
func abiTagVersion(order binary.ByteOrder, desc []byte) (os uint32, version string, ok bool) {
	if len(desc) < 16 {
		return 0, "", false
	}
	return order.Uint32(desc), fmt.Sprintf("%d.%d.%d", order.Uint32(desc[4:]), order.Uint32(desc[8:]), order.Uint32(desc[12:])), true
}

// Note types and GNU property types, from binutils' include/elf/common.h and the x86-64 and
// AArch64 psABIs.
const (
	ntGNUABITag   = 1
	ntGNUHWCap    = 2
	ntGNUBuildID  = 3
	ntGNUGold     = 4
	ntGNUProperty = 5
	ntGoBuildID   = 4
	ntFDOPackage  = 0xcafe1a7e
	ntSTapSDT     = 3

	propStackSize       = 1
	propNoCopyProtected = 2
	prop1Needed         = 0xb0008000
	propAArch64Feature1 = 0xc0000000
	propX86Feature1And  = 0xc0000002
	propX86Feature2Need = 0xc0008001
	propX86ISA1Needed   = 0xc0008002
	propX86Feature2Used = 0xc0010001
	propX86ISA1Used     = 0xc0010002
)

func describeNote(f *elf.File, note elfinfo.Note) Note {
	owner, typ, desc := note.Owner, note.Type, note.Desc
	n := Note{Owner: owner, Type: fmt.Sprintf("%#x", typ), Description: fmt.Sprintf("%d bytes", len(desc))}
	switch {
	case owner == "GNU" && typ == ntGNUABITag:
		n.Type = "NT_GNU_ABI_TAG"
		if osID, version, ok := abiTagVersion(f.ByteOrder, desc); ok {
			oses := map[uint32]string{0: "Linux", 1: "Hurd", 2: "Solaris", 3: "FreeBSD"}
			os := oses[osID]
			if os == "" {
				os = fmt.Sprintf("OS %d", osID)
			}
			n.Description = os + " " + version
		}
	case owner == "GNU" && typ == ntGNUHWCap:
		n.Type = "NT_GNU_HWCAP"
	case owner == "GNU" && typ == ntGNUBuildID:
		n.Type, n.Description = "NT_GNU_BUILD_ID", hex.EncodeToString(desc)
	case owner == "GNU" && typ == ntGNUGold:
		n.Type, n.Description = "NT_GNU_GOLD_VERSION", strings.TrimRight(string(desc), "\x00")
	case owner == "GNU" && typ == ntGNUProperty:
		n.Type, n.Description = "NT_GNU_PROPERTY_TYPE_0", gnuProperties(f, desc)
	case owner == "Go" && typ == ntGoBuildID:
		n.Type, n.Description = "Go build ID", string(desc)
	case owner == "FDO" && typ == ntFDOPackage:
		n.Type = "FDO package metadata"
	case owner == "stapsdt" && typ == ntSTapSDT:
		n.Type = "SystemTap probe"
		// The descriptor holds three addresses, then provider and name as C strings.
		skip := 24
		if f.Class == elf.ELFCLASS32 {
			skip = 12
		}
		if len(desc) > skip {
			parts := strings.SplitN(string(desc[skip:]), "\x00", 3)
			if len(parts) >= 2 {
				n.Description = parts[0] + ":" + parts[1]
			}
		}
	}
	return n
}

// gnuProperties describes the properties of a .note.gnu.property: each an x86 or AArch64
// feature set, an ISA level set, or a number.
func gnuProperties(f *elf.File, desc []byte) string {
	align := 8
	if f.Class == elf.ELFCLASS32 {
		align = 4
	}
	var out []string
	for len(desc) >= 8 {
		typ, size := f.ByteOrder.Uint32(desc), int(f.ByteOrder.Uint32(desc[4:]))
		if size < 0 || size > len(desc)-8 {
			out = append(out, "malformed")
			break
		}
		data := desc[8 : 8+size]
		out = append(out, gnuProperty(f.Machine, f.ByteOrder, typ, data))
		next := 8 + (size+align-1)&^(align-1)
		if next > len(desc) {
			break
		}
		desc = desc[next:]
	}
	return strings.Join(out, "; ")
}

func gnuProperty(m elf.Machine, order binary.ByteOrder, typ uint32, data []byte) string {
	var bits uint32
	if len(data) >= 4 {
		bits = order.Uint32(data)
	}
	names := func(label string, table []string) string {
		var set []string
		for i, name := range table {
			if bits&(1<<i) != 0 {
				set = append(set, name)
			}
		}
		if rest := bits &^ (1<<len(table) - 1); rest != 0 {
			set = append(set, fmt.Sprintf("%#x", rest))
		}
		if len(set) == 0 {
			set = []string{"<None>"}
		}
		return label + ": " + strings.Join(set, ", ")
	}
	isa := []string{"x86-64-baseline", "x86-64-v2", "x86-64-v3", "x86-64-v4"}
	feature2 := []string{"x86", "x87", "MMX", "XMM", "YMM", "ZMM", "FXSR", "XSAVE", "XSAVEOPT", "XSAVEC", "TMM", "MASK"}
	x86 := m == elf.EM_X86_64 || m == elf.EM_386
	switch {
	case typ == propStackSize:
		if len(data) == 8 {
			return fmt.Sprintf("stack size: %#x", order.Uint64(data))
		}
		return fmt.Sprintf("stack size: %#x", bits)
	case typ == propNoCopyProtected:
		return "no copy on protected"
	case typ == prop1Needed:
		return names("1_needed", []string{"indirect external access"})
	case x86 && typ == propX86Feature1And:
		return names("x86 feature", []string{"IBT", "SHSTK", "LAM_U48", "LAM_U57"})
	case x86 && typ == propX86ISA1Needed:
		return names("x86 ISA needed", isa)
	case x86 && typ == propX86ISA1Used:
		return names("x86 ISA used", isa)
	case x86 && typ == propX86Feature2Need:
		return names("x86 feature needed", feature2)
	case x86 && typ == propX86Feature2Used:
		return names("x86 feature used", feature2)
	case m == elf.EM_AARCH64 && typ == propAArch64Feature1:
		return names("AArch64 feature", []string{"BTI", "PAC", "GCS"})
	}
	return fmt.Sprintf("type %#x: %d bytes", typ, len(data))
}

// markedISA is the highest x86-64 level a file's GNU property note says it needs, empty
// without such a note.
func markedISA(e *ELFFacts) string {
	if e == nil {
		return ""
	}
	best := ""
	for _, n := range e.Notes {
		if n.Type != "NT_GNU_PROPERTY_TYPE_0" {
			continue
		}
		for _, prop := range strings.Split(n.Description, "; ") {
			levels, ok := strings.CutPrefix(prop, "x86 ISA needed: ")
			if !ok {
				continue
			}
			for _, l := range strings.Split(levels, ", ") {
				if l == "x86-64-baseline" {
					l = "x86-64-v1"
				}
				if levelRank(l) > levelRank(best) {
					best = l
				}
			}
		}
	}
	return best
}
