package engine

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// ImageExists reports whether the engine has the image.
func (e Engine) ImageExists(ctx context.Context, image string) bool {
	return e.Command(ctx, "image", "inspect", "--format", "{{.Id}}", image).Run() == nil
}

// ImportDir makes the image name from the root filesystem in dir, without a registry: the
// folder is streamed as a tar archive to `ENGINE import`. An empty dir makes an empty image.
func (e Engine) ImportDir(ctx context.Context, dir, name string) error {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeTar(pw, dir)) }()
	cmd := e.Command(ctx, "import", "-", name)
	cmd.Stdin = pr
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	pr.CloseWithError(io.ErrClosedPipe)
	if err != nil {
		return fmt.Errorf("importing %s as %s: %w", dir, name, e.Error(err, stderr.String()))
	}
	return nil
}

// writeTar writes the tree under dir as a tar archive, keeping owners, modes and links.
func writeTar(w io.Writer, dir string) error {
	tw := tar.NewWriter(w)
	links := map[[2]uint64]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil || rel == "." {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		var link string
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(path); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		hdr.Name = filepath.ToSlash(rel)
		hdr.Uname, hdr.Gname = "", ""
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			hdr.Uid, hdr.Gid = int(st.Uid), int(st.Gid)
			if info.Mode().IsRegular() && st.Nlink > 1 {
				id := [2]uint64{st.Dev, st.Ino}
				if first, seen := links[id]; seen {
					hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
				} else {
					links[id] = hdr.Name
				}
			}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if hdr.Typeflag != tar.TypeReg {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return fmt.Errorf("archiving %s: %w", dir, err)
	}
	return tw.Close()
}
