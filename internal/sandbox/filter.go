package sandbox

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/portabin/portabin/internal/seccomp"
)

// filterMode is Notify where the kernel has seccomp user notification (the calls are then
// recorded and uname faked), else Errno, which only answers ENOSYS.
func filterMode() seccomp.Mode {
	if seccomp.Available() == nil {
		return seccomp.Notify
	}
	return seccomp.Errno
}

// installFilter installs the emulated kernel's filter on this (locked) thread and, in Notify
// mode, hands the listener to the supervisor in the calling portabin through the socket on fd 5.
func installFilter(cfg execConfig) error {
	f, err := seccomp.ForKernel(cfg.Arch, *cfg.Kernel, cfg.FilterMode)
	if err != nil {
		return err
	}
	if cfg.TraceOpens {
		if err := f.TraceOpens(); err != nil {
			return err
		}
	}
	listener, err := f.Install()
	if err != nil {
		return err
	}
	if listener < 0 {
		return nil
	}
	defer unix.Close(listener)
	socket := os.NewFile(fdSocket, "seccomp socket")
	defer socket.Close()
	if err := unix.Sendmsg(fdSocket, []byte{0}, unix.UnixRights(listener), nil, 0); err != nil {
		return fmt.Errorf("handing the seccomp listener to the supervisor: %w", err)
	}
	return nil
}

// socketPair makes the socket over which the exec stage passes the listener.
func socketPair() (outer, inner *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("making the seccomp socket: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "seccomp socket"), os.NewFile(uintptr(fds[1]), "seccomp socket"), nil
}

// receiveFD returns the listener the exec stage sent, or -1 when it closed the socket without
// sending one (the exec failed before the filter was installed).
func receiveFD(socket *os.File) (int, error) {
	buf, oob := make([]byte, 1), make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(int(socket.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("receiving the seccomp listener: %w", err)
	}
	if n == 0 && oobn == 0 {
		return -1, nil
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return -1, fmt.Errorf("receiving the seccomp listener: a malformed message")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return -1, fmt.Errorf("receiving the seccomp listener: %v", err)
	}
	return fds[0], nil
}
