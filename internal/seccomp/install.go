package seccomp

import (
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/portabin/portabin/internal/target"
)

// The kernel's structs of seccomp user notification (include/uapi/linux/seccomp.h).
type seccompData struct {
	Nr                 int32
	Arch               uint32
	InstructionPointer uint64
	Args               [6]uint64
}

type notification struct {
	ID    uint64
	Pid   uint32
	Flags uint32
	Data  seccompData
}

type response struct {
	ID    uint64
	Val   int64
	Error int32 // a negated errno, or 0
	Flags uint32
}

// notifSizes is what SECCOMP_GET_NOTIF_SIZES fills in.
type notifSizes struct{ Notif, Resp, Data uint16 }

// ioctlNotifIDValid asks whether a notification's task is still waiting for its answer.
// x/sys/unix lacks it. Its number is _IOR('!', 2, __u64), the direction Linux 5.0 to 5.6
// accept; 5.7 renamed it SECCOMP_IOCTL_NOTIF_ID_VALID_WRONG_DIR, introduced the _IOW form
// and still accepts this one, so one number serves every kernel with user notification.
const ioctlNotifIDValid = 0x80082102

// Install loads f on the calling OS thread, after prctl(PR_SET_NO_NEW_PRIVS). The caller holds
// runtime.LockOSThread and execs right after; the filter passes to the new program and to
// every process it starts. In Notify mode it returns the listener fd (close-on-exec), which
// the caller hands to Supervise, else -1.
func (f *Filter) Install() (listenerFD int, err error) {
	host, ok := target.Host()
	if !ok || host.Arch != f.Arch {
		return -1, fmt.Errorf("installing the seccomp filter: it is for %s calls, this host makes %s calls", f.Arch, host.Arch)
	}
	if len(f.Program) == 0 {
		return -1, errors.New("installing the seccomp filter: empty program")
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return -1, fmt.Errorf("installing the seccomp filter: setting no_new_privs: %w", err)
	}
	insns := make([]unix.SockFilter, len(f.Program))
	for i, r := range f.Program {
		insns[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	prog := unix.SockFprog{Len: uint16(len(insns)), Filter: &insns[0]}
	if f.Mode == Errno {
		// prctl rather than seccomp(2), which arrived in 3.17: the fallback also serves 3.5+.
		// The pointer is converted in the Syscall's own arguments, where Go keeps it valid.
		_, _, errno := unix.Syscall(unix.SYS_PRCTL, unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&prog)))
		if errno != 0 {
			return -1, fmt.Errorf("installing the seccomp filter: %w", errno)
		}
		return -1, nil
	}
	fd, err := seccompCall(unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_NEW_LISTENER, unsafe.Pointer(&prog))
	if err != nil {
		return -1, fmt.Errorf("installing the seccomp filter with a listener: %w", err)
	}
	return fd, nil
}

func seccompCall(op, flags uintptr, arg unsafe.Pointer) (int, error) {
	r, _, errno := unix.Syscall(unix.SYS_SECCOMP, op, flags, uintptr(arg))
	if errno != 0 {
		return -1, errno
	}
	return int(r), nil
}

// Available returns nil when seccomp filters with user notification work on this host, else
// why not (for `portabin doctor`, and to choose Errno mode).
func Available() error {
	action := uint32(unix.SECCOMP_RET_USER_NOTIF)
	_, err := seccompCall(unix.SECCOMP_GET_ACTION_AVAIL, 0, unsafe.Pointer(&action))
	switch {
	case errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EINVAL):
		// ENOSYS: no seccomp(2) (Linux < 3.17 or CONFIG_SECCOMP off); EINVAL: no
		// SECCOMP_GET_ACTION_AVAIL (< 4.14), so no user notification either.
		return fmt.Errorf("seccomp user notification is not available (it needs Linux 5.0 with CONFIG_SECCOMP_FILTER): %w", err)
	case errors.Is(err, unix.EOPNOTSUPP):
		return errors.New("seccomp user notification is not available: the kernel lacks SECCOMP_RET_USER_NOTIF (Linux 5.0)")
	case err != nil:
		return fmt.Errorf("asking the kernel for seccomp user notification: %w", err)
	}
	return checkNotifSizes()
}

// checkNotifSizes makes sure the kernel's notification structs are the ones this package
// reads; a bigger one would overflow ours.
func checkNotifSizes() error {
	var sizes notifSizes
	if _, err := seccompCall(unix.SECCOMP_GET_NOTIF_SIZES, 0, unsafe.Pointer(&sizes)); err != nil {
		return fmt.Errorf("asking the kernel for seccomp notification sizes: %w", err)
	}
	if uintptr(sizes.Notif) > unsafe.Sizeof(notification{}) || uintptr(sizes.Resp) > unsafe.Sizeof(response{}) ||
		uintptr(sizes.Data) > unsafe.Sizeof(seccompData{}) {
		return fmt.Errorf("seccomp notification structs of %d, %d and %d bytes, portabin knows %d, %d and %d",
			sizes.Notif, sizes.Resp, sizes.Data,
			unsafe.Sizeof(notification{}), unsafe.Sizeof(response{}), unsafe.Sizeof(seccompData{}))
	}
	return nil
}
