package isa

import (
	"debug/elf"
	"encoding/binary"

	"github.com/portabin/portabin/internal/elfimage"
)

// ehFrameFunctions returns the function ranges described by .eh_frame, which stripped programs
// keep for unwinding (C++ exceptions, backtraces). Only what finding the ranges needs is read
// (DWARF 5 section 6.4.1 and the LSB's ".eh_frame" section); malformed records end the walk.
func ehFrameFunctions(f *elf.File, secs []section) []function {
	s := f.Section(".eh_frame")
	if s == nil || s.Type != elf.SHT_PROGBITS {
		return nil
	}
	data, err := elfimage.Section(s, maxTable)
	if err != nil {
		return nil
	}
	ptrSize := 8
	if f.Class == elf.ELFCLASS32 {
		ptrSize = 4
	}
	e := ehReader{data: data, addr: s.Addr, order: f.ByteOrder, ptrSize: ptrSize}
	cieEncoding := map[int]byte{}
	var funcs []function
	for off := 0; off+4 <= len(data); {
		length := uint64(e.order.Uint32(data[off:]))
		body := off + 4
		if length == 0 {
			break
		}
		if length == 0xffffffff {
			if body+8 > len(data) {
				break
			}
			length = e.order.Uint64(data[body:])
			body += 8
		}
		if length > uint64(len(data)-body) || length < 4 {
			break
		}
		end := body + int(length)
		id := e.order.Uint32(data[body:])
		if id == 0 {
			if enc, ok := e.cieEncoding(body+4, end); ok {
				cieEncoding[off] = enc
			}
		} else if cie := body - int(id); cie >= 0 {
			enc, ok := cieEncoding[cie]
			if !ok {
				enc, ok = e.cieAt(cie)
				cieEncoding[cie] = enc
			}
			if ok {
				p := body + 4
				start, n := e.pointer(enc, p, end)
				if n > 0 {
					size, m := e.pointer(enc&0x0f, p+n, end)
					if m > 0 && size > 0 && inCode(secs, start) {
						funcs = append(funcs, function{start: start, end: start + size})
					}
				}
			}
		}
		off = end
	}
	return funcs
}

type ehReader struct {
	data    []byte
	addr    uint64 // address of data[0], for pc-relative pointers
	order   binary.ByteOrder
	ptrSize int
}

// cieAt parses the CIE record that starts (with its length) at off.
func (e ehReader) cieAt(off int) (byte, bool) {
	if off+8 > len(e.data) {
		return 0, false
	}
	length := int(e.order.Uint32(e.data[off:]))
	if length < 4 || length > len(e.data)-off-4 || e.order.Uint32(e.data[off+4:]) != 0 {
		return 0, false
	}
	return e.cieEncoding(off+8, off+4+length)
}

// cieEncoding reads a CIE body from just after its id and returns the FDE pointer encoding.
func (e ehReader) cieEncoding(p, end int) (byte, bool) {
	if p >= end {
		return 0, false
	}
	version := e.data[p]
	p++
	augStart := p
	for p < end && e.data[p] != 0 {
		p++
	}
	if p >= end {
		return 0, false
	}
	aug := string(e.data[augStart:p])
	p++
	_, p = e.uleb(p, end) // code alignment
	_, p = e.uleb(p, end) // data alignment (signed, only skipped)
	if version == 1 {
		p++
	} else {
		_, p = e.uleb(p, end)
	}
	if len(aug) == 0 || aug[0] != 'z' {
		return 0x00, p <= end && aug == "" // absolute pointers; other augmentations are unknown
	}
	_, p = e.uleb(p, end)
	for _, c := range aug[1:] {
		if p >= end {
			return 0, false
		}
		switch c {
		case 'R':
			return e.data[p], true
		case 'L':
			p++
		case 'P':
			enc := e.data[p]
			_, n := e.pointer(enc, p+1, end)
			if n == 0 {
				return 0, false
			}
			p += 1 + n
		case 'S', 'B', 'G':
		default:
			return 0, false
		}
	}
	return 0x00, true
}

// pointer decodes a DW_EH_PE-encoded pointer at p and returns it with its size; size 0 means
// it could not be read.
func (e ehReader) pointer(enc byte, p, end int) (uint64, int) {
	if p >= end || enc == 0xff {
		return 0, 0
	}
	var v uint64
	var n int
	switch enc & 0x0f {
	case 0x00:
		n = e.ptrSize
	case 0x01:
		v, q := e.uleb(p, end)
		if q > end {
			return 0, 0
		}
		return e.apply(enc, v, p), q - p
	case 0x02, 0x0a:
		n = 2
	case 0x03, 0x0b:
		n = 4
	case 0x04, 0x0c:
		n = 8
	default:
		return 0, 0
	}
	if n > end-p {
		return 0, 0
	}
	switch n {
	case 2:
		v = uint64(e.order.Uint16(e.data[p:]))
		if enc&0x08 != 0 {
			v = uint64(int64(int16(v)))
		}
	case 4:
		v = uint64(e.order.Uint32(e.data[p:]))
		if enc&0x08 != 0 {
			v = uint64(int64(int32(v)))
		}
	case 8:
		v = e.order.Uint64(e.data[p:])
	}
	return e.apply(enc, v, p), n
}

func (e ehReader) apply(enc byte, v uint64, p int) uint64 {
	if enc&0x70 == 0x10 { // pc-relative
		return v + e.addr + uint64(p)
	}
	return v
}

func (e ehReader) uleb(p, end int) (uint64, int) {
	var v uint64
	for shift := 0; p < end; shift += 7 {
		b := e.data[p]
		p++
		if shift < 64 {
			v |= uint64(b&0x7f) << shift
		}
		if b&0x80 == 0 {
			return v, p
		}
	}
	return v, end + 1
}
