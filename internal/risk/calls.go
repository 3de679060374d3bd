package risk

import (
	"debug/elf"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/portabin/portabin/internal/elfimage"
)

// callsAny reports whether the code calls or jumps directly to one of addrs. Direct calls are
// all a static program has, since the linker resolves them; known is false for machines whose
// branches are not decoded here. The scan reads raw bytes rather than decoding instructions, so
// a rel32 that happens to match inside other bytes could count too; with 2^32 possible values
// that is rare enough for a warning.
func callsAny(f *elf.File, addrs []uint64) (called, known bool, err error) {
	if f.Machine != elf.EM_X86_64 && f.Machine != elf.EM_AARCH64 {
		return false, false, nil
	}
	budget := int64(maxScan)
	for _, s := range f.Sections {
		if s.Type != elf.SHT_PROGBITS || s.Flags&elf.SHF_EXECINSTR == 0 || budget <= 0 {
			continue
		}
		code, err := elfimage.Section(s, budget)
		if err != nil {
			return false, true, fmt.Errorf("reading section %s: %w", s.Name, err)
		}
		budget -= int64(len(code))
		var hit bool
		if f.Machine == elf.EM_X86_64 {
			hit = x86Calls(code, s.Addr, addrs)
		} else {
			hit = arm64Calls(code, s.Addr, addrs)
		}
		if hit {
			return true, true, nil
		}
	}
	return false, true, nil
}

// x86Calls looks for CALL rel32 (E8) and JMP rel32 (E9) to one of addrs.
func x86Calls(code []byte, base uint64, addrs []uint64) bool {
	for i := 0; i+5 <= len(code); i++ {
		if code[i] != 0xe8 && code[i] != 0xe9 {
			continue
		}
		rel := int32(binary.LittleEndian.Uint32(code[i+1:]))
		if slices.Contains(addrs, base+uint64(i+5)+uint64(int64(rel))) {
			return true
		}
	}
	return false
}

// arm64Calls looks for BL and B to one of addrs.
func arm64Calls(code []byte, base uint64, addrs []uint64) bool {
	for i := 0; i+4 <= len(code); i += 4 {
		w := binary.LittleEndian.Uint32(code[i:])
		if w&0x7c000000 != 0x14000000 { // B and BL: x00101 imm26
			continue
		}
		offset := int64(int32(w<<6)>>6) * 4
		if slices.Contains(addrs, base+uint64(i)+uint64(offset)) {
			return true
		}
	}
	return false
}
