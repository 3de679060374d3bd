package zigdist

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ulikunitz/xz"
)

// extractFile unpacks the .tar.gz or .tar.xz at path into dir, which it creates.
func extractFile(path string, gzipped bool, dir string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var r io.Reader
	if gzipped {
		zr, err := gzip.NewReader(bufio.NewReader(f))
		if err != nil {
			return err
		}
		defer zr.Close()
		r = zr
	} else if r, err = xz.NewReader(bufio.NewReader(f)); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	return extract(r, dir)
}

// extract unpacks a tar stream into dir, keeping file modes. No entry may leave dir: names
// must be relative without "..", links must point inside, and nothing is written through a
// symlink (a link to "." would otherwise let a later relative link climb out). os.Root
// enforces confinement again on every write, in case a check here misses a trick.
func extract(r io.Reader, dir string) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	symlinks := map[string]bool{}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading archive: %w", err)
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		name, err := entryName(hdr.Name, symlinks)
		if err != nil {
			return err
		}
		// Archives may omit folder entries (the npm package does).
		if err := root.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			return fmt.Errorf("extracting %s: %w", hdr.Name, err)
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			// Folders stay 0755 so that their entries can be written whatever the archive says.
			err = root.MkdirAll(name, 0o755)
		case tar.TypeReg:
			err = writeFile(root, name, hdr.FileInfo().Mode().Perm(), tr)
		case tar.TypeSymlink:
			target := filepath.Join(filepath.Dir(name), filepath.FromSlash(hdr.Linkname))
			if filepath.IsAbs(hdr.Linkname) || !filepath.IsLocal(target) {
				return fmt.Errorf("archive entry %q links outside the folder (to %q)", hdr.Name, hdr.Linkname)
			}
			err = root.Symlink(hdr.Linkname, name)
			symlinks[name] = true
		case tar.TypeLink:
			var target string
			if target, err = entryName(hdr.Linkname, symlinks); err != nil {
				return err
			}
			// A hard link to a symlink would carry its relative target to another folder.
			if symlinks[target] {
				return fmt.Errorf("archive entry %q is a hard link to symlink %q", hdr.Name, hdr.Linkname)
			}
			err = root.Link(target, name)
		default:
			return fmt.Errorf("archive entry %q has unsupported type %q", hdr.Name, hdr.Typeflag)
		}
		if err != nil {
			return fmt.Errorf("extracting %s: %w", hdr.Name, err)
		}
	}
}

// entryName returns an archive name as a clean relative path, refusing names that leave the
// folder or pass through a symlink made earlier.
func entryName(name string, symlinks map[string]bool) (string, error) {
	clean := filepath.Clean(filepath.FromSlash(name))
	if !filepath.IsLocal(clean) {
		return "", fmt.Errorf("archive entry %q is outside the folder", name)
	}
	for p := filepath.Dir(clean); p != "."; p = filepath.Dir(p) {
		if symlinks[p] {
			return "", fmt.Errorf("archive entry %q goes through symlink %q", name, p)
		}
	}
	return clean, nil
}

// writeFile creates name, which must not exist yet, with r's bytes and mode perm.
func writeFile(root *os.Root, name string, perm fs.FileMode, r io.Reader) error {
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	if err == nil {
		err = f.Chmod(perm) // the umask may have dropped bits the archive asks for
	}
	return errors.Join(err, f.Close())
}

// zigRoot returns the folder of tree that holds zig and lib/: tree itself or its only
// subfolder, since release tarballs and the npm package wrap everything in one folder.
func zigRoot(tree string) (string, error) {
	candidates := []string{tree}
	if entries, err := os.ReadDir(tree); err == nil && len(entries) == 1 && entries[0].IsDir() {
		candidates = append(candidates, filepath.Join(tree, entries[0].Name()))
	}
	for _, c := range candidates {
		zig, err1 := os.Lstat(filepath.Join(c, "zig"))
		lib, err2 := os.Lstat(filepath.Join(c, "lib"))
		if err1 == nil && err2 == nil && zig.Mode().IsRegular() && lib.IsDir() {
			return c, nil
		}
	}
	return "", errors.New("the archive has no zig executable next to a lib folder")
}
