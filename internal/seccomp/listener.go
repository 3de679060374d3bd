package seccomp

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// SendListener passes a listener fd over a unix socket (SCM_RIGHTS): the filtered process
// installs the filter and execs, so its supervisor lives in another process.
func SendListener(socketFD, listenerFD int) error {
	if err := unix.Sendmsg(socketFD, []byte{0}, unix.UnixRights(listenerFD), nil, 0); err != nil {
		return fmt.Errorf("sending the seccomp listener: %w", err)
	}
	return nil
}

// ReceiveListener receives the fd SendListener sent, close-on-exec. It fails when the sender
// closed the socket without sending, as a process does that died before installing its filter.
func ReceiveListener(socketFD int) (int, error) {
	buf, oob := make([]byte, 1), make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := unix.Recvmsg(socketFD, buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("receiving the seccomp listener: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return -1, fmt.Errorf("receiving the seccomp listener: %w", err)
	}
	var fds []int
	for _, m := range msgs {
		got, err := unix.ParseUnixRights(&m)
		if err == nil {
			fds = append(fds, got...)
		}
	}
	if len(fds) != 1 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return -1, errors.New("receiving the seccomp listener: the filtered process sent none (it ended before installing its filter)")
	}
	return fds[0], nil
}
