package image

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/portabin/portabin/internal/logs"
)

const (
	whiteoutPrefix = ".wh."
	opaqueMarker   = ".wh..wh..opq"
)

// flattener applies image layers, lowest first, onto one folder. All file system access goes
// through an os.Root, which resolves every path one component at a time and refuses any that
// leaves the folder, so an entry can never write through a symbolic link to the host.
type flattener struct {
	ctx  context.Context
	root *os.Root
	// privileged is true when running as root.
	privileged bool
	// chown is true while ownership can be set (running as root, and no EPERM seen yet).
	chown bool
	// dirs holds each folder's final mode and time, set at the end: the mode could forbid
	// writing the folder's children, and writing them changes the time.
	dirs map[string]dirMeta
	// layer holds the paths the current layer has written; whiteouts only hide lower layers.
	layer map[string]bool
}

type dirMeta struct {
	mode  fs.FileMode
	mtime time.Time
}

func newFlattener(ctx context.Context, dir string) (*flattener, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	privileged := os.Geteuid() == 0
	return &flattener{ctx: ctx, root: root, privileged: privileged, chown: privileged, dirs: map[string]dirMeta{}}, nil
}

func (f *flattener) Close() error { return f.root.Close() }

// apply writes one layer, an uncompressed tar stream, over what the lower layers left.
func (f *flattener) apply(r io.Reader) error {
	f.layer = map[string]bool{}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the layer: %w", err)
		}
		if err := f.ctx.Err(); err != nil {
			return err
		}
		if err := f.entry(hdr, tr); err != nil {
			return fmt.Errorf("entry %s: %w", hdr.Name, err)
		}
	}
}

// cleanName turns a tar member name into a path relative to the root; "." is the root itself.
func cleanName(name string) (string, error) {
	p := path.Clean("/" + name)[1:]
	// path.Clean("/" + name) already drops leading "..", so compare with the raw name too.
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", errors.New("path has a .. component")
		}
	}
	if p == "" {
		return ".", nil
	}
	return p, nil
}

func (f *flattener) entry(hdr *tar.Header, r io.Reader) error {
	p, err := cleanName(hdr.Name)
	if err != nil {
		return err
	}
	dir, base := path.Split(p)
	dir = path.Clean("/" + dir)[1:]
	if dir == "" {
		dir = "."
	}
	if base == opaqueMarker {
		return f.opaque(dir)
	}
	if strings.HasPrefix(base, whiteoutPrefix) {
		hidden := strings.TrimPrefix(base, whiteoutPrefix)
		if hidden == "" || hidden == "." {
			return errors.New("whiteout names no file")
		}
		return f.removeLower(path.Join(dir, hidden))
	}
	if p == "." {
		if hdr.Typeflag == tar.TypeDir {
			f.dirs["."] = dirMeta{mode: hdr.FileInfo().Mode().Perm() | modeExtra(hdr), mtime: hdr.ModTime}
		}
		return nil
	}
	switch hdr.Typeflag {
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		// Unprivileged users cannot make device nodes; the sandbox brings its own /dev.
		logs.Debug.Printf("skipping special file %s", p)
		return nil
	case tar.TypeDir, tar.TypeReg, tar.TypeSymlink, tar.TypeLink:
	default:
		return nil // pax and GNU metadata entries, already folded into hdr by archive/tar
	}
	if err := f.root.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// The folders above p belong to this layer too: an opaque marker for one of them, later in
	// the stream, must not delete p.
	for d := dir; d != "." && !f.layer[d]; d = path.Dir(d) {
		f.layer[d] = true
	}
	f.layer[p] = true
	existing, err := f.root.Lstat(p)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if hdr.Typeflag == tar.TypeDir {
		if !exists || !existing.IsDir() {
			if exists {
				if err := f.remove(p); err != nil {
					return err
				}
			}
			// Owner rwx until the end, so that an unprivileged extraction can fill it.
			if err := f.root.Mkdir(p, 0o700); err != nil {
				return err
			}
		}
		f.dirs[p] = dirMeta{mode: hdr.FileInfo().Mode().Perm() | modeExtra(hdr), mtime: hdr.ModTime}
		return f.lchown(p, hdr)
	}
	if exists {
		if hdr.Typeflag == tar.TypeLink && sameFile(f.root, p, hdr.Linkname) {
			return nil
		}
		if err := f.remove(p); err != nil {
			return err
		}
	}
	switch hdr.Typeflag {
	case tar.TypeReg:
		return f.file(p, hdr, r)
	case tar.TypeSymlink:
		if err := f.root.Symlink(hdr.Linkname, p); err != nil {
			return err
		}
		if err := f.lchown(p, hdr); err != nil {
			return err
		}
		return f.lutimes(p, hdr.ModTime)
	default: // tar.TypeLink
		target, err := cleanName(hdr.Linkname)
		if err != nil || target == "." {
			return fmt.Errorf("hard link to %s: outside the root", hdr.Linkname)
		}
		return f.root.Link(target, p)
	}
}

// modeExtra returns the setuid, setgid and sticky bits of hdr as fs.FileMode bits.
func modeExtra(hdr *tar.Header) fs.FileMode {
	var m fs.FileMode
	if hdr.Mode&04000 != 0 {
		m |= fs.ModeSetuid
	}
	if hdr.Mode&02000 != 0 {
		m |= fs.ModeSetgid
	}
	if hdr.Mode&01000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}

func (f *flattener) file(p string, hdr *tar.Header, r io.Reader) error {
	// O_EXCL: the name was just removed, so nothing may be followed or overwritten.
	out, err := f.root.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, r)
	if err == nil && f.chown {
		err = f.chownErr(out.Chown(hdr.Uid, hdr.Gid))
	}
	if err == nil {
		// After chown, which clears the setuid and setgid bits.
		err = out.Chmod(hdr.FileInfo().Mode().Perm() | modeExtra(hdr))
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return f.root.Chtimes(p, hdr.ModTime, hdr.ModTime)
}

func (f *flattener) lchown(p string, hdr *tar.Header) error {
	if !f.chown {
		return nil
	}
	return f.chownErr(f.root.Lchown(p, hdr.Uid, hdr.Gid))
}

// chownErr stops setting ownership when this process may not: a user namespace without the
// image's ids mapped answers EPERM or EINVAL.
func (f *flattener) chownErr(err error) error {
	if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EINVAL) {
		logs.Debug.Printf("not keeping file ownership: %v", err)
		f.chown = false
		return nil
	}
	return err
}

// lutimes sets a symbolic link's own time, through its folder opened inside the root.
func (f *flattener) lutimes(p string, t time.Time) error {
	dir, err := f.root.Open(path.Dir(p))
	if err != nil {
		return err
	}
	defer dir.Close()
	ts := unix.NsecToTimespec(t.UnixNano())
	err = unix.UtimesNanoAt(int(dir.Fd()), path.Base(p), []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW)
	if err != nil {
		return &fs.PathError{Op: "lutimes", Path: p, Err: err}
	}
	return nil
}

// sameFile reports whether p already is a hard link to target (a layer that repeats a link).
func sameFile(root *os.Root, p, target string) bool {
	t, err := cleanName(target)
	if err != nil {
		return false
	}
	a, err1 := root.Lstat(p)
	b, err2 := root.Lstat(t)
	return err1 == nil && err2 == nil && os.SameFile(a, b)
}

// remove deletes p and, for a folder, everything below it.
func (f *flattener) remove(p string) error {
	for d := range f.dirs {
		if d == p || strings.HasPrefix(d, p+"/") {
			delete(f.dirs, d)
		}
	}
	return f.root.RemoveAll(p)
}

// removeLower deletes what lower layers put at p. What the current layer wrote stays: an OCI
// whiteout only hides lower layers, whatever the order of the entries in the tar stream.
func (f *flattener) removeLower(p string) error {
	if p == "." {
		return f.opaque(".")
	}
	fi, err := f.root.Lstat(p)
	if missing(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if !f.layer[p] {
		return f.remove(p)
	}
	if fi.IsDir() {
		return f.opaque(p)
	}
	return nil
}

// opaque empties folder dir of what lower layers put there (the .wh..wh..opq marker).
func (f *flattener) opaque(dir string) error {
	fi, err := f.root.Lstat(dir)
	if missing(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("opaque marker in %s, which is not a folder", dir)
	}
	d, err := f.root.Open(dir)
	if err != nil {
		return err
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := f.removeLower(path.Join(dir, n)); err != nil {
			return err
		}
	}
	return nil
}

// finish gives every folder its mode and time, deepest first so that a folder without search
// permission for its owner does not hide its children.
func (f *flattener) finish() error {
	paths := make([]string, 0, len(f.dirs))
	for p := range f.dirs {
		paths = append(paths, p)
	}
	sort.Slice(paths, func(i, j int) bool {
		di, dj := strings.Count(paths[i], "/"), strings.Count(paths[j], "/")
		if paths[i] == "." || paths[j] == "." {
			return paths[j] == "."
		}
		if di != dj {
			return di > dj
		}
		return paths[i] < paths[j]
	})
	for _, p := range paths {
		fi, err := f.root.Lstat(p)
		if err != nil || !fi.IsDir() {
			continue // replaced by a later layer
		}
		m := f.dirs[p]
		if !f.privileged {
			// The owner keeps write and search permission, or deleting the cache (rm -rf)
			// would fail; the sandbox mounts roots read-only anyway.
			m.mode |= 0o300
		}
		if err := f.root.Chmod(p, m.mode); err != nil {
			return err
		}
		if err := f.root.Chtimes(p, m.mtime, m.mtime); err != nil {
			return err
		}
	}
	return nil
}

// missing reports whether err says a path does not exist, a parent being a file included.
func missing(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}
