package image

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// ent is one tar entry of a synthetic layer.
type ent struct {
	name string
	typ  byte // tar.TypeReg when 0
	body string
	link string
	mode int64
}

var testTime = time.Date(2020, 2, 3, 4, 5, 6, 0, time.UTC)

func tarBytes(t *testing.T, ents ...ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		hdr := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: e.mode, ModTime: testTime, Format: tar.FormatPAX}
		if hdr.Typeflag == 0 {
			hdr.Typeflag = tar.TypeReg
		}
		if hdr.Mode == 0 {
			hdr.Mode = 0o644
			if hdr.Typeflag == tar.TypeDir {
				hdr.Mode = 0o755
			}
		}
		if hdr.Typeflag == tar.TypeReg {
			hdr.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func layerOf(t *testing.T, ents ...ent) v1.Layer {
	t.Helper()
	b := tarBytes(t, ents...)
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func dir(name string) ent          { return ent{name: name, typ: tar.TypeDir} }
func file(name, body string) ent   { return ent{name: name, body: body} }
func symlink(name, to string) ent  { return ent{name: name, typ: tar.TypeSymlink, link: to} }
func hardlink(name, to string) ent { return ent{name: name, typ: tar.TypeLink, link: to} }

// flattenLayers applies layers into a fresh folder and returns it with the error of the last
// layer that failed.
func flattenLayers(t *testing.T, layers ...[]ent) (string, error) {
	t.Helper()
	root := filepath.Join(t.TempDir(), "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := newFlattener(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, l := range layers {
		if err := f.apply(bytes.NewReader(tarBytes(t, l...))); err != nil {
			return root, err
		}
	}
	return root, f.finish()
}

// lowerLayer is the base the whiteout cases change.
var lowerLayer = []ent{
	dir("a/"), file("a/keep", "keep"), file("a/gone", "gone"),
	dir("b/"), file("b/x", "x"), dir("b/sub/"), file("b/sub/y", "y"),
	file("c", "was a file"),
	dir("d/"), file("d/e", "e"),
	symlink("link", "a/keep"),
	{name: "f", body: "f", mode: 0o640},
	dir("e/"), file("e/old", "old"),
	dir("ro/"), {name: "ro/file", body: "ro"},
}

func TestFlattenWhiteouts(t *testing.T) {
	root, err := flattenLayers(t, lowerLayer, []ent{
		file("a/.wh.gone", ""),
		dir("b/"), file("b/.wh..wh..opq", ""), file("b/new", "new"),
		dir("c/"), file("c/inside", "inside"),
		file("d", "now a file"),
		file(".wh.link", ""),
		// Whiteouts of what is not there: under a file, and in a missing folder.
		file("f/.wh.x", ""), file("nowhere/.wh.x", ""),
		// The opaque marker after an entry of the same layer must keep that entry.
		file("e/new", "new"), file("e/.wh..wh..opq", ""),
		// A whiteout and a file of the same layer: the file stays.
		file("a/added", "added"), file("a/.wh.added", ""),
		{name: "ro/", typ: tar.TypeDir, mode: 0o555},
	}, []ent{
		// A later layer overrides a file's content.
		file("a/keep", "keep v2"),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"a/keep": "keep v2", "a/added": "added", "b/new": "new", "c/inside": "inside",
		"d": "now a file", "f": "f", "e/new": "new", "ro/file": "ro",
	}
	got := map[string]string{}
	err = filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		b, err := os.ReadFile(p)
		got[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("files: got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	for _, gone := range []string{"a/gone", "b/x", "b/sub", "link", "e/old"} {
		if _, err := os.Lstat(filepath.Join(root, gone)); !os.IsNotExist(err) {
			t.Errorf("%s still exists (%v)", gone, err)
		}
	}
	fi, err := os.Stat(filepath.Join(root, "f"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o640 || !fi.ModTime().Equal(testTime) {
		t.Errorf("f: mode %v, time %v; want 0640 and %v", fi.Mode().Perm(), fi.ModTime(), testTime)
	}
	fi, err = os.Stat(filepath.Join(root, "ro"))
	if err != nil {
		t.Fatal(err)
	}
	wantMode := os.FileMode(0o555)
	if os.Geteuid() != 0 {
		wantMode = 0o755 // the owner keeps write permission, so that rm -rf works
	}
	if fi.Mode().Perm() != wantMode || !fi.ModTime().Equal(testTime) {
		t.Errorf("ro/: mode %v, time %v; want %v and %v", fi.Mode().Perm(), fi.ModTime(), wantMode, testTime)
	}
}

func TestFlattenLinks(t *testing.T) {
	root, err := flattenLayers(t, []ent{
		file("etc/target", "t"),
		symlink("etc/rel", "target"),
		symlink("etc/abs", "/etc/target"),
		hardlink("etc/hard", "etc/target"),
		hardlink("etc/hard2", "/etc/target"), // hard link names are archive paths, / or not
		{name: "bin/setuid", body: "s", mode: 0o4755},
	})
	if err != nil {
		t.Fatal(err)
	}
	for link, to := range map[string]string{"etc/rel": "target", "etc/abs": "/etc/target"} {
		if got, err := os.Readlink(filepath.Join(root, link)); err != nil || got != to {
			t.Errorf("%s -> %q (%v), want %q", link, got, err, to)
		}
	}
	target, _ := os.Stat(filepath.Join(root, "etc/target"))
	for _, h := range []string{"etc/hard", "etc/hard2"} {
		fi, err := os.Stat(filepath.Join(root, h))
		if err != nil || !os.SameFile(fi, target) {
			t.Errorf("%s is not a hard link to etc/target (%v)", h, err)
		}
	}
	fi, err := os.Lstat(filepath.Join(root, "etc/abs"))
	if err != nil || !fi.ModTime().Equal(testTime) {
		t.Errorf("etc/abs: the link's own time is %v (%v), want %v", fi.ModTime(), err, testTime)
	}
	fi, err = os.Stat(filepath.Join(root, "bin/setuid"))
	if err != nil || fi.Mode()&os.ModeSetuid == 0 {
		t.Errorf("bin/setuid lost its setuid bit: %v (%v)", fi.Mode(), err)
	}
}

// TestFlattenAttacks feeds layers that try to write outside the root. Each must fail without
// touching the folder beside the root.
func TestFlattenAttacks(t *testing.T) {
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret")
	if err := os.WriteFile(secret, []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		layers [][]ent
	}{
		{"dot-dot entry", [][]ent{{file("../../../../.."+outside+"/pwned", "x")}}},
		{"dot-dot inside the name", [][]ent{{file("a/../../pwned", "x")}}},
		{"relative symlink escape", [][]ent{{symlink("evil", "../../../../../.."+outside), file("evil/pwned", "x")}}},
		{"absolute symlink then a file through it", [][]ent{{symlink("evil", outside), file("evil/pwned", "x")}}},
		{"symlink from a lower layer", [][]ent{{symlink("evil", outside)}, {file("evil/pwned", "x")}}},
		{"folder entry through a symlink", [][]ent{{symlink("evil", outside), dir("evil/pwned/")}}},
		{"hard link to outside", [][]ent{{hardlink("pwned", "../../../../.."+secret)}}},
		{"hard link through a symlink", [][]ent{{symlink("evil", outside), hardlink("pwned", "evil/secret")}}},
		{"whiteout through a symlink", [][]ent{{symlink("evil", outside), file("evil/.wh.secret", "")}}},
		{"opaque folder through a symlink", [][]ent{{symlink("evil", outside), file("evil/.wh..wh..opq", "")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := flattenLayers(t, tt.layers...)
			if err == nil {
				t.Error("flattening succeeded, want an error")
			}
			entries, _ := os.ReadDir(outside)
			if len(entries) != 1 {
				t.Errorf("the folder outside the root now holds %d entries", len(entries))
			}
			fi, err := os.Stat(secret)
			if err != nil {
				t.Fatalf("the file outside the root is gone: %v", err)
			}
			if n := fi.Sys().(*syscall.Stat_t).Nlink; n != 1 {
				t.Errorf("the file outside the root has %d links", n)
			}
			if b, _ := os.ReadFile(secret); string(b) != "secret" {
				t.Errorf("the file outside the root now holds %q", b)
			}
		})
	}
}

// TestFlattenReplacesSymlink: a file entry over a symbolic link replaces the link; it must not
// write through it.
func TestFlattenReplacesSymlink(t *testing.T) {
	outside := t.TempDir()
	target := filepath.Join(outside, "target")
	if err := os.WriteFile(target, []byte("host"), 0o644); err != nil {
		t.Fatal(err)
	}
	root, err := flattenLayers(t, []ent{symlink("s", target)}, []ent{file("s", "image")})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(target); string(b) != "host" {
		t.Errorf("wrote through the link: the host file holds %q", b)
	}
	fi, err := os.Lstat(filepath.Join(root, "s"))
	if err != nil || !fi.Mode().IsRegular() {
		t.Errorf("s is %v (%v), want a regular file", fi.Mode(), err)
	}
}

func TestCleanName(t *testing.T) {
	for in, want := range map[string]string{
		"./etc/passwd": "etc/passwd", "/etc/": "etc", "./": ".", "a//b/./c": "a/b/c", "": ".",
	} {
		if got, err := cleanName(in); err != nil || got != want {
			t.Errorf("cleanName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"..", "../x", "a/../../x", "a/.."} {
		if got, err := cleanName(bad); err == nil {
			t.Errorf("cleanName(%q) = %q, want an error", bad, got)
		}
	}
}
