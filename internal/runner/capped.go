package runner

import "bytes"

// CappedBuffer keeps the first Max bytes written to it and drops the rest, so that a program
// that floods its output neither fills memory nor blocks. The buffer is a field, not embedded:
// io.Copy would use an embedded bytes.Buffer's ReadFrom and bypass the cap.
type CappedBuffer struct {
	Max int
	buf bytes.Buffer
	// Dropped counts the bytes written beyond Max.
	Dropped int
}

func (b *CappedBuffer) Write(p []byte) (int, error) {
	room := max(b.Max-b.buf.Len(), 0)
	if len(p) > room {
		b.Dropped += len(p) - room
		b.buf.Write(p[:room])
		return len(p), nil
	}
	return b.buf.Write(p)
}

// Bytes is what was kept.
func (b *CappedBuffer) Bytes() []byte { return b.buf.Bytes() }

// Truncated reports whether bytes were dropped.
func (b *CappedBuffer) Truncated() bool { return b.Dropped > 0 }
