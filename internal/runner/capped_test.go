package runner

import (
	"io"
	"strings"
	"testing"
)

func TestCappedBuffer(t *testing.T) {
	b := &CappedBuffer{Max: 5}
	if n, err := io.Copy(b, strings.NewReader("hello, world")); n != 12 || err != nil {
		t.Fatalf("copied %d, %v", n, err)
	}
	b.Write([]byte("!"))
	if string(b.Bytes()) != "hello" || b.Dropped != 8 || !b.Truncated() {
		t.Errorf("kept %q, dropped %d", b.Bytes(), b.Dropped)
	}
	small := &CappedBuffer{Max: 5}
	small.Write([]byte("hi"))
	if string(small.Bytes()) != "hi" || small.Truncated() {
		t.Errorf("kept %q, dropped %d", small.Bytes(), small.Dropped)
	}
}
