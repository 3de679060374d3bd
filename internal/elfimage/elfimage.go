// Package elfimage reads an ELF file into memory once for the analyses of portabin check, which
// each read the sections they need: the code by three of them, the read-only data by two. Read
// section by section, every read allocates, clears and fills its own copy, which cost a sixth
// of the time of checking the files under /usr; from an Image they share one copy.
//
// The functions that read sections and segments work on any *elf.File and give exactly what
// the reads they replace gave (debug/elf's Data, or io.ReadAll of Open up to a limit); only
// when the file was made from an Image do they slice its bytes instead of copying. The bytes
// they give must not be written to: they may be the file's, shared by every reader.
//
// Read maps the file rather than copying it: copying a file into fresh memory costs more than
// any analysis of its headers (the kernel copies it, faults the new pages in, and Go clears
// them first). A mapped file that shrinks while it is read faults on the pages it lost, so every
// goroutine that reads an Image's bytes turns on debug.SetPanicOnFault and recovers.
package elfimage

import (
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// Image is a whole file in memory, an io.ReaderAt for elf.NewFile.
type Image struct {
	data   []byte
	mapped bool
}

// Read reads the file at path whole when it holds at most limit bytes; a larger one gives a nil
// Image, and is best read section by section from the file. The Image must be closed, and
// nothing read from it used afterwards.
func Read(path string, limit int64) (*Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > limit || !st.Mode().IsRegular() {
		return nil, nil
	}
	if st.Size() > 0 && int64(int(st.Size())) == st.Size() {
		// Read-only and private: a bug that writes into the bytes faults instead of changing
		// the file. Where mapping fails (a file system without mmap), the file is read.
		if data, err := syscall.Mmap(int(f.Fd()), 0, int(st.Size()), syscall.PROT_READ, syscall.MAP_PRIVATE); err == nil {
			return &Image{data: data, mapped: true}, nil
		}
	}
	data := make([]byte, st.Size())
	n, err := io.ReadFull(f, data)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	// A file that shrank while it was read is what it was when read.
	return &Image{data: data[:n]}, nil
}

// New makes an Image of data, which must not change while the Image is used.
func New(data []byte) *Image { return &Image{data: data} }

// Close releases the Image: a mapped file is unmapped, and the bytes read from it are gone.
func (m *Image) Close() error {
	data, mapped := m.data, m.mapped
	m.data, m.mapped = nil, false
	if mapped {
		return syscall.Munmap(data)
	}
	return nil
}

// ReadAt copies like any io.ReaderAt.
func (m *Image) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("elfimage: negative offset")
	}
	if off >= int64(len(m.data)) {
		return 0, io.EOF
	}
	n := copy(p, m.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// view returns the bytes that r reads when r is an Image, or a section reader (nested or not)
// of one: a slice of the Image, its capacity cut to its length so that an append never writes
// into the Image. ok is false for any other reader and for windows that io.SectionReader
// would refuse.
func view(r io.ReaderAt) (data []byte, ok bool) {
	var off int64
	n := int64(1<<63 - 1)
	for {
		switch t := r.(type) {
		case *Image:
			if off >= int64(len(t.data)) {
				return t.data[len(t.data):len(t.data):len(t.data)], true
			}
			end := int64(len(t.data))
			if n < end-off {
				end = off + n
			}
			return t.data[off:end:end], true
		case *io.SectionReader:
			outer, base, size := t.Outer()
			if base < 0 || size < 0 {
				return nil, false
			}
			if off > size {
				off, n = size, 0
			}
			n = min(n, size-off)
			if off > 1<<62 || base > 1<<62 {
				return nil, false // too far for any file: let the reader fail as it would
			}
			off += base
			r = outer
		default:
			return nil, false
		}
	}
}

// SectionData is s.Data(): the whole section, or an error when the file holds less of it.
func SectionData(s *elf.Section) ([]byte, error) {
	if s.Type != elf.SHT_NOBITS && s.Flags&elf.SHF_COMPRESSED == 0 {
		if data, ok := view(s.ReaderAt); ok {
			if uint64(len(data)) < s.Size {
				return nil, io.ErrUnexpectedEOF
			}
			return data, nil
		}
	}
	return s.Data()
}

// Section is io.ReadAll(io.LimitReader(s.Open(), limit)): the section's bytes up to limit, as
// many as the file holds.
func Section(s *elf.Section, limit int64) ([]byte, error) {
	if s.Type != elf.SHT_NOBITS && s.Flags&elf.SHF_COMPRESSED == 0 {
		if data, ok := view(s.ReaderAt); ok {
			return capped(data, limit), nil
		}
	}
	return io.ReadAll(io.LimitReader(s.Open(), limit))
}

// Segment is io.ReadAll(io.LimitReader(p.Open(), limit)) for a program header's bytes.
func Segment(p *elf.Prog, limit int64) ([]byte, error) {
	if data, ok := view(p.ReaderAt); ok {
		return capped(data, limit), nil
	}
	return io.ReadAll(io.LimitReader(p.Open(), limit))
}

func capped(data []byte, limit int64) []byte {
	if limit <= 0 {
		return data[:0]
	}
	if int64(len(data)) > limit {
		return data[:limit:limit]
	}
	return data
}
