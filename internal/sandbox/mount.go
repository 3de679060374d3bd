package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// devices are the host device nodes bound into /dev (a user namespace may not mknod).
var devices = []string{"null", "zero", "full", "random", "urandom", "tty"}

// buildRoot makes the sandbox's root and pivots into it. It runs in init, in the new mount
// namespace, where every mount it makes disappears with the namespace.
func buildRoot(cfg initConfig) error {
	// Nothing done here may propagate back to the host.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making the mounts private: %w", err)
	}
	// Opened now, used through /proc/self/fd: the staging tmpfs may hide their paths.
	rootFD, err := openPath(cfg.Root, unix.O_DIRECTORY)
	if err != nil {
		return err
	}
	exeFD, err := openPath(cfg.Exe, 0)
	if err != nil {
		return err
	}
	qemuFD, err := openPath(cfg.QEMU, 0)
	if err != nil {
		return err
	}
	staging, err := mountStaging()
	if err != nil {
		return err
	}
	// top holds the mount points; overlayfs lays it over the root, so the root needs none.
	top := filepath.Join(staging, "top")
	for _, dir := range []string{"dev", "proc", "tmp", ExeDir[1:]} {
		if err := os.MkdirAll(filepath.Join(top, dir), 0o755); err != nil {
			return err
		}
	}
	mountPoints := []string{cfg.Exe}
	if cfg.QEMU != "" {
		mountPoints = append(mountPoints, cfg.QEMU)
	}
	for _, p := range mountPoints {
		if err := os.WriteFile(filepath.Join(top, ExeDir, filepath.Base(p)), nil, 0o755); err != nil {
			return err
		}
	}
	root := filepath.Join(staging, "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		return err
	}
	overlaid := false
	if rootFD >= 0 && !cfg.NoOverlay {
		// Only lower layers: overlayfs is read-only and never writes into cfg.Root.
		opts := "lowerdir=" + top + ":" + fdPath(rootFD)
		overlaid = unix.Mount("overlay", root, "overlay", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, opts) == nil
	}
	if !overlaid {
		if rootFD >= 0 {
			// Where overlayfs is refused (before Linux 5.11 in a user namespace, or on an
			// unsupported filesystem), top mirrors the root's entries instead.
			if err := mirror(fdPath(rootFD), top); err != nil {
				return fmt.Errorf("mirroring the root %s: %w", cfg.Root, err)
			}
		}
		if err := bindReadOnly(top, root); err != nil {
			return err
		}
	}

	if err := unix.Mount("proc", filepath.Join(root, "proc"), "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		// The kernel refuses a new proc where the host's /proc has parts hidden by mounts, as
		// in an unprivileged container: a new one would reveal them.
		return fmt.Errorf("mounting /proc (refused where the host's /proc is partly masked, as in a container): %w", err)
	}
	tmpOpts := "mode=1777,size=" + strconv.FormatInt(cfg.TmpBytes, 10)
	if err := unix.Mount("tmpfs", filepath.Join(root, "tmp"), "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, tmpOpts); err != nil {
		return fmt.Errorf("mounting /tmp: %w", err)
	}
	if err := buildDev(filepath.Join(root, "dev"), cfg.TmpBytes); err != nil {
		return err
	}
	if err := bindReadOnly(fdPath(exeFD), filepath.Join(root, ExeDir, filepath.Base(cfg.Exe))); err != nil {
		return err
	}
	if qemuFD >= 0 {
		if err := bindReadOnly(fdPath(qemuFD), filepath.Join(root, ExeDir, filepath.Base(cfg.QEMU))); err != nil {
			return err
		}
	}
	if cfg.KernelRelease != "" {
		if err := fakeKernelFiles(staging, root, cfg); err != nil {
			return err
		}
	}
	for _, fd := range []int{rootFD, exeFD, qemuFD} {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
	if err := unix.Sethostname([]byte(Hostname)); err != nil {
		return fmt.Errorf("setting the host name: %w", err)
	}
	if !cfg.Network {
		if err := loopbackUp(); err != nil {
			return err
		}
	}
	return pivot(root)
}

// mirror gives top the root's top-level entries: a read-only bind of each folder and file, a
// copy of each symbolic link (/bin -> usr/bin). Nothing is copied but the links; the entries
// that the sandbox provides itself (/dev, /proc, /tmp, /portabin) are skipped.
func mirror(root, top string) error {
	entries, err := os.ReadDir(root)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		from, to := filepath.Join(root, name), filepath.Join(top, name)
		if _, err := os.Lstat(to); err == nil {
			continue
		}
		switch t := e.Type(); {
		case t&os.ModeSymlink != 0:
			target, err := os.Readlink(from)
			if err != nil {
				return err
			}
			if err := os.Symlink(target, to); err != nil {
				return err
			}
			continue
		case t.IsDir():
			if err := os.Mkdir(to, 0o755); err != nil {
				return err
			}
		case t.IsRegular():
			if err := os.WriteFile(to, nil, 0o644); err != nil {
				return err
			}
		default:
			continue // device nodes, sockets and pipes have no use in a root
		}
		if err := bindReadOnly(from, to); err != nil {
			return err
		}
	}
	return nil
}

func openPath(path string, flags int) (int, error) {
	if path == "" {
		return -1, nil
	}
	fd, err := unix.Open(path, unix.O_PATH|unix.O_CLOEXEC|flags, 0)
	if err != nil {
		return -1, fmt.Errorf("opening %s: %w", path, err)
	}
	return fd, nil
}

func fdPath(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// mountStaging mounts a small tmpfs for the mount points and the fake kernel files on a folder
// that exists on any host; in this mount namespace it hides nothing that is still needed.
func mountStaging() (string, error) {
	var err error
	for _, dir := range []string{"/tmp", "/mnt", "/run", "/var/tmp"} {
		if err = unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755,size=1m"); err == nil {
			return dir, nil
		}
	}
	return "", fmt.Errorf("mounting a staging tmpfs: %w", err)
}

// bindReadOnly bind-mounts source on target and makes the bind read-only. A remount must repeat
// the flags the kernel locked on the source mount (nosuid, nodev, noexec, atime), or it fails.
func bindReadOnly(source, target string) error {
	if err := unix.Mount(source, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("binding %s: %w", target, err)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(target, &st); err != nil {
		return fmt.Errorf("reading the mount flags of %s: %w", target, err)
	}
	flags := uintptr(unix.MS_REMOUNT | unix.MS_BIND | unix.MS_RDONLY)
	for _, f := range []struct{ st, ms int64 }{
		{unix.ST_NOSUID, unix.MS_NOSUID}, {unix.ST_NODEV, unix.MS_NODEV}, {unix.ST_NOEXEC, unix.MS_NOEXEC},
		{unix.ST_NOATIME, unix.MS_NOATIME}, {unix.ST_NODIRATIME, unix.MS_NODIRATIME}, {unix.ST_RELATIME, unix.MS_RELATIME},
	} {
		if st.Flags&f.st != 0 {
			flags |= uintptr(f.ms)
		}
	}
	if err := unix.Mount("", target, "", flags, ""); err != nil {
		return fmt.Errorf("making %s read-only: %w", target, err)
	}
	return nil
}

// buildDev makes a read-only /dev with the usual devices, links and a writable /dev/shm.
func buildDev(dev string, shmBytes int64) error {
	const opts = "mode=0755,size=64k"
	if err := unix.Mount("tmpfs", dev, "tmpfs", unix.MS_NOSUID|unix.MS_NOEXEC, opts); err != nil {
		return fmt.Errorf("mounting /dev: %w", err)
	}
	for _, name := range devices {
		host := "/dev/" + name
		if _, err := os.Stat(host); err != nil {
			continue // a host without /dev/tty (no terminal ever) has nothing to give
		}
		target := filepath.Join(dev, name)
		if err := os.WriteFile(target, nil, 0o666); err != nil {
			return err
		}
		if err := unix.Mount(host, target, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("binding %s: %w", host, err)
		}
	}
	links := map[string]string{"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"}
	for name, to := range links {
		if err := os.Symlink(to, filepath.Join(dev, name)); err != nil {
			return err
		}
	}
	for _, dir := range []string{"shm", "pts"} {
		if err := os.Mkdir(filepath.Join(dev, dir), 0o755); err != nil {
			return err
		}
	}
	shmOpts := "mode=1777,size=" + strconv.FormatInt(shmBytes, 10)
	if err := unix.Mount("tmpfs", filepath.Join(dev, "shm"), "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, shmOpts); err != nil {
		return fmt.Errorf("mounting /dev/shm: %w", err)
	}
	if err := unix.Mount("", dev, "", unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NOEXEC, opts); err != nil {
		return fmt.Errorf("making /dev read-only: %w", err)
	}
	return nil
}

// fakeKernelFiles binds files saying the emulated kernel over the ones /proc has.
func fakeKernelFiles(staging, root string, cfg initConfig) error {
	files := []struct{ proc, content string }{
		{"sys/kernel/osrelease", cfg.KernelRelease + "\n"},
		{"version", cfg.ProcVersion},
	}
	for i, f := range files {
		fake := filepath.Join(staging, "kernel"+strconv.Itoa(i))
		if err := os.WriteFile(fake, []byte(f.content), 0o444); err != nil {
			return err
		}
		if err := bindReadOnly(fake, filepath.Join(root, "proc", f.proc)); err != nil {
			return err
		}
	}
	return nil
}

// loopbackUp brings up lo in the new network namespace: programs may talk to themselves.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("bringing up the loopback interface: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("reading the loopback interface: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bringing up the loopback interface: %w", err)
	}
	return nil
}

// pivot makes root the root of the mount namespace and drops the host's tree. pivot_root moves
// every process of the namespace whose root was the old one, the waiting exec stage included.
func pivot(root string) error {
	if err := unix.Chdir(root); err != nil {
		return err
	}
	// pivot_root(".", ".") stacks the old root on the new one; the detach then removes it.
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detaching the host's root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return errors.Join(err)
	}
	return nil
}
