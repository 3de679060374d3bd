package seccomp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// MissingFile is a file a filtered process tried to open or execute that did not exist.
type MissingFile struct {
	// Path is as the process gave it; a relative one is relative to its working directory
	// or to the directory fd it passed.
	Path string `json:"path"`
	// Call is the call that named it: "open", "openat", "openat2", "execve", "execveat".
	Call  string `json:"call"`
	Count int    `json:"count"`
}

// pathMax is Linux's PATH_MAX, terminating NUL included.
const pathMax = 4096

// traceOpen records the file an open or exec names when it does not exist, then lets the call
// run. Only diagnostics depend on it, so that the file may appear or vanish between the check
// and the call is of no consequence.
func (s *server) traceOpen(n notification, op opener) error {
	if path, dirfd, ok := s.readOpen(n, op); ok && path != "" && missing(int(n.Pid), dirfd, path) {
		s.missing[missingKey{path, op.name}]++
	}
	return s.respond(response{ID: n.ID, Flags: unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE})
}

type missingKey struct{ path, call string }

// readOpen reads the path and the directory fd of an open or exec call. ok is false when the
// call cannot be read, or creates its file (O_CREAT), which is not missing then.
func (s *server) readOpen(n notification, op opener) (path string, dirfd int, ok bool) {
	mem, err := os.Open(fmt.Sprintf("/proc/%d/mem", n.Pid))
	if err != nil {
		return "", 0, false
	}
	defer mem.Close()
	if ioctl(s.fd, ioctlNotifIDValid, unsafe.Pointer(&n.ID)) != nil {
		return "", 0, false // the pid may name another process by now
	}
	if op.flags >= 0 {
		flags := n.Data.Args[op.flags]
		if op.how {
			var how [8]byte // struct open_how's flags, a __u64
			if _, err := mem.ReadAt(how[:], int64(n.Data.Args[op.flags])); err != nil {
				return "", 0, false
			}
			flags = binary.NativeEndian.Uint64(how[:])
		}
		if flags&unix.O_CREAT != 0 {
			return "", 0, false
		}
	}
	path, err = readString(mem, n.Data.Args[op.path])
	if err != nil {
		return "", 0, false
	}
	dirfd = unix.AT_FDCWD
	if op.dirfd >= 0 {
		dirfd = int(int32(n.Data.Args[op.dirfd])) // an int argument: the low 32 bits
	}
	return path, dirfd, true
}

// readString reads a NUL-terminated string at addr, page by page so that a string that ends
// just before an unmapped page still reads.
func readString(mem *os.File, addr uint64) (string, error) {
	page := uint64(os.Getpagesize())
	var out []byte
	for len(out) < pathMax {
		chunk := make([]byte, min(page-addr%page, uint64(pathMax-len(out))))
		n, err := mem.ReadAt(chunk, int64(addr))
		if i := strings.IndexByte(string(chunk[:n]), 0); i >= 0 {
			return string(append(out, chunk[:i]...)), nil
		}
		if err != nil {
			return "", err
		}
		out = append(out, chunk[:n]...)
		addr += uint64(n)
	}
	return "", errors.New("path longer than PATH_MAX")
}

// missing reports whether path, named by process pid relative to dirfd, does not exist. An
// absolute path is looked up in the process's root, its symlinks too; a relative one from the
// process's directory (RESOLVE_IN_ROOT cannot apply: that directory is not a root).
func missing(pid, dirfd int, path string) bool {
	base, inRoot := fmt.Sprintf("/proc/%d/fd/%d", pid, dirfd), false
	switch {
	case strings.HasPrefix(path, "/"):
		base, inRoot = fmt.Sprintf("/proc/%d/root", pid), true
	case dirfd == unix.AT_FDCWD:
		base = fmt.Sprintf("/proc/%d/cwd", pid)
	}
	dir, err := unix.Open(base, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false // cannot tell
	}
	defer unix.Close(dir)
	return missingFrom(dir, path, inRoot)
}

// missingFrom looks path up from the directory dir; inRoot makes dir the root for absolute
// paths and symlinks.
func missingFrom(dir int, path string, inRoot bool) bool {
	how := unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC}
	if inRoot {
		how.Resolve = unix.RESOLVE_IN_ROOT
	}
	fd, err := unix.Openat2(dir, path, &how)
	if err == nil {
		unix.Close(fd)
		return false
	}
	if errors.Is(err, unix.ENOSYS) {
		// No openat2 (Linux < 5.6): a plain lookup, where absolute symlinks leave the root.
		var st unix.Stat_t
		err = unix.Fstatat(dir, strings.TrimLeft(path, "/"), &st, 0)
	}
	return errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR)
}
