package zigdist

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// entry is one member of a test tarball; typ defaults to a regular file.
type entry struct {
	name, body, link string
	mode             int64
	typ              byte
}

// tarGz builds a .tar.gz holding entries, in order.
func tarGz(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(tarball(t, entries...)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// tarball builds an uncompressed tar holding entries, in order.
func tarball(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Linkname: e.link, Mode: e.mode, Typeflag: e.typ, Size: int64(len(e.body))}
		if hdr.Typeflag == 0 {
			hdr.Typeflag = tar.TypeReg
		}
		if hdr.Mode == 0 {
			hdr.Mode = 0o644
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestExtract(t *testing.T) {
	base := t.TempDir()
	out := filepath.Join(base, "out")
	tests := []struct {
		name    string
		entries []entry
		wantErr string // empty: must succeed
		// wantModes are modes kept from the archive, beyond what the umask allows.
		wantModes map[string]fs.FileMode
	}{
		{name: "parent", entries: []entry{{name: "../escape"}}, wantErr: "outside the folder"},
		{name: "parent inside a name", entries: []entry{{name: "a/../../escape"}}, wantErr: "outside the folder"},
		{name: "absolute", entries: []entry{{name: filepath.Join(base, "escape")}}, wantErr: "outside the folder"},
		{name: "symlink to an absolute path", entries: []entry{{name: "l", link: "/etc", typ: tar.TypeSymlink}}, wantErr: "links outside"},
		{name: "symlink climbing out", entries: []entry{{name: "a/l", link: "../../escape", typ: tar.TypeSymlink}}, wantErr: "links outside"},
		{name: "symlink made through a symlink", entries: []entry{
			{name: "d", link: ".", typ: tar.TypeSymlink},
			{name: "d/l", link: "../escape", typ: tar.TypeSymlink},
		}, wantErr: "goes through symlink"},
		{name: "file written through a symlink", entries: []entry{
			{name: "sub/", typ: tar.TypeDir, mode: 0o755},
			{name: "d", link: "sub", typ: tar.TypeSymlink},
			{name: "d/f", body: "x"},
		}, wantErr: "goes through symlink"},
		{name: "hard link outside", entries: []entry{{name: "h", link: "../escape", typ: tar.TypeLink}}, wantErr: "outside the folder"},
		{name: "hard link to a symlink", entries: []entry{
			{name: "a/s", link: "../b", typ: tar.TypeSymlink},
			{name: "h", link: "a/s", typ: tar.TypeLink},
		}, wantErr: "hard link to symlink"},
		{name: "fifo", entries: []entry{{name: "p", typ: tar.TypeFifo}}, wantErr: "unsupported type"},
		{name: "release layout", entries: []entry{
			{name: "top/zig", body: "#!/bin/sh\n", mode: 0o777},
			{name: "top/lib/std.zig", body: "// std", mode: 0o600},
			{name: "top/lib/link.zig", link: "std.zig", typ: tar.TypeSymlink},
			{name: "top/lib/hard.zig", link: "top/lib/std.zig", typ: tar.TypeLink},
		}, wantModes: map[string]fs.FileMode{"top/zig": 0o777, "top/lib/std.zig": 0o600, "top/lib/link.zig": 0o600}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := os.RemoveAll(out); err != nil {
				t.Fatal(err)
			}
			archive := filepath.Join(t.TempDir(), "a.tar.gz")
			if err := os.WriteFile(archive, tarGz(t, tt.entries...), 0o644); err != nil {
				t.Fatal(err)
			}
			err := extractFile(archive, true, out)
			if tt.wantErr == "" && err != nil {
				t.Fatalf("extract: %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("extract: error %v, want one containing %q", err, tt.wantErr)
			}
			if diff := cmp.Diff([]string{"out"}, names(t, base)); diff != "" {
				t.Errorf("something escaped next to the folder (-want +got):\n%s", diff)
			}
			for name, want := range tt.wantModes {
				fi, err := os.Stat(filepath.Join(out, name)) // follows the symlink
				if err != nil {
					t.Fatal(err)
				}
				if got := fi.Mode().Perm(); got != want {
					t.Errorf("%s: mode %v, want %v", name, got, want)
				}
			}
		})
	}
}

// names lists the entries of dir.
func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}
