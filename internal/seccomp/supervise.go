package seccomp

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/portabin/portabin/internal/syscalls"
)

// Report is what a Supervisor saw.
type Report struct {
	// ENOSYS lists the calls answered ENOSYS, sorted by name, with counts.
	ENOSYS []Call
	// UnameFaked counts uname calls answered with the emulated release.
	UnameFaked int
	// UnameReal counts uname calls the kernel answered itself because the caller's buffer could
	// not be written (a bad pointer gets the kernel's EFAULT that way).
	UnameReal int
	// Missing lists the files the processes tried to open or execute that did not exist,
	// sorted by path (Filter.Opens only).
	Missing []MissingFile
	// Err is a supervisor failure, if any; the context ending is not one.
	Err error
}

// Call is one system call answered ENOSYS.
type Call struct {
	Name   string `json:"name"` // "statx"; "syscall 1234" for a number the table does not list
	Number int    `json:"number"`
	// Arch is the convention of the call: the filter's Arch or CompatArch.
	Arch string `json:"arch"`
	// Since is the version that introduced it: "5.6"; when the table has none, "newer than
	// 5.14", "never implemented" or "not in portabin's table".
	Since string `json:"since"`
	Count int    `json:"count"`
}

// Supervisor answers a filter's notifications.
type Supervisor struct {
	done   chan struct{}
	report Report
}

// Supervise serves notifications from listenerFD in a goroutine until every filtered process
// has exited and been reaped (POLLHUP) or ctx ends. It owns listenerFD and closes it; calls
// made after that get ENOSYS from the kernel.
func Supervise(ctx context.Context, listenerFD int, f *Filter) *Supervisor {
	s := &Supervisor{done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer unix.Close(listenerFD)
		srv := server{fd: listenerFD, filter: f, counts: map[callKey]int{}, missing: map[missingKey]int{}}
		if f.Mode != Notify {
			srv.err = fmt.Errorf("supervising seccomp notifications: the filter is in %s mode", f.Mode)
		} else {
			srv.serve(ctx)
		}
		s.report = srv.report()
	}()
	return s
}

// Wait waits for the supervisor to stop and returns its report.
func (s *Supervisor) Wait() Report {
	<-s.done
	return s.report
}

type callKey struct {
	arch string
	nr   int32
}

type server struct {
	fd        int
	filter    *Filter
	counts    map[callKey]int
	missing   map[missingKey]int
	faked     int
	real      int
	err       error
	utsFields [6]string // filled on the first uname
}

func (s *server) serve(ctx context.Context) {
	if err := checkNotifSizes(); err != nil {
		s.err = err
		return
	}
	wakeFD, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		s.err = fmt.Errorf("supervising seccomp notifications: creating an eventfd: %w", err)
		return
	}
	// An os.File, so that a wake-up racing with the close below is harmless.
	wake := os.NewFile(uintptr(wakeFD), "seccomp-supervisor-wake")
	defer wake.Close()
	stop := context.AfterFunc(ctx, func() { wake.Write([]byte{1, 0, 0, 0, 0, 0, 0, 0}) })
	defer stop()

	fds := []unix.PollFd{{Fd: int32(s.fd), Events: unix.POLLIN}, {Fd: int32(wakeFD), Events: unix.POLLIN}}
	for {
		if _, err := unix.Poll(fds, -1); err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			s.err = fmt.Errorf("supervising seccomp notifications: poll: %w", err)
			return
		}
		switch listener := fds[0].Revents; {
		case fds[1].Revents != 0:
			return
		case listener&unix.POLLIN != 0:
			if err := s.serveOne(); err != nil {
				s.err = fmt.Errorf("supervising seccomp notifications: %w", err)
				return
			}
		case listener&unix.POLLNVAL != 0:
			s.err = errors.New("supervising seccomp notifications: the listener fd is not open")
			return
		case listener&(unix.POLLHUP|unix.POLLERR) != 0:
			return // no filtered process is left
		}
	}
}

// serveOne receives one notification and answers it.
func (s *server) serveOne() error {
	var n notification // RECV wants it zeroed
	if err := ioctl(s.fd, unix.SECCOMP_IOCTL_NOTIF_RECV, unsafe.Pointer(&n)); err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EINTR) {
			return nil // the caller died before we got to it
		}
		return fmt.Errorf("receiving a notification: %w", err)
	}
	a, ok := s.filter.abiFor(n.Data.Arch)
	if !ok {
		// The filter kills unknown conventions; answer the impossible anyway.
		return s.respond(response{ID: n.ID, Error: -int32(unix.ENOSYS)})
	}
	nr := uint32(n.Data.Nr)
	if layout, ok := a.unames[nr]; ok {
		return s.fakeUname(n, layout)
	}
	if op, ok := a.openers[nr]; ok && s.filter.Opens && !s.filter.blockedNumber(a.arch, nr) {
		return s.traceOpen(n, op)
	}
	s.counts[callKey{a.arch, n.Data.Nr}]++
	return s.respond(response{ID: n.ID, Error: -int32(unix.ENOSYS)})
}

// fakeUname writes a struct utsname with the emulated release into the caller's buffer, or
// lets the kernel answer when the buffer cannot be written.
func (s *server) fakeUname(n notification, layout utsLayout) error {
	mem, err := os.OpenFile(fmt.Sprintf("/proc/%d/mem", n.Pid), os.O_RDWR, 0)
	if err == nil {
		defer mem.Close()
		// The pid named the caller when the notification was made; now that mem is open, make
		// sure it still does, so that we never write into a process that reused the pid.
		if ioctl(s.fd, ioctlNotifIDValid, unsafe.Pointer(&n.ID)) != nil {
			return nil // the caller is gone: nobody waits for an answer
		}
		_, err = mem.WriteAt(s.utsname(layout), int64(n.Data.Args[0]))
	}
	if err != nil {
		s.real++
		return s.respond(response{ID: n.ID, Flags: unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE})
	}
	s.faked++
	return s.respond(response{ID: n.ID})
}

// utsname is the struct uname returns: the supervisor's sysname, machine and domainname, the
// filter's hostname, and the emulated release. The release has three numbers ("3.10.0") as
// every real kernel's has, for programs that parse it with "%d.%d.%d".
func (s *server) utsname(layout utsLayout) []byte {
	if s.utsFields[0] == "" {
		var u unix.Utsname
		if err := unix.Uname(&u); err != nil {
			u = unix.Utsname{} // the fields below stay meaningful
		}
		hostname := s.filter.Hostname
		if hostname == "" {
			hostname = unix.ByteSliceToString(u.Nodename[:])
		}
		k := s.filter.Kernel
		s.utsFields = [6]string{
			cmp.Or(unix.ByteSliceToString(u.Sysname[:]), "Linux"),
			hostname,
			fmt.Sprintf("%d.%d.%d", k.Major, k.Minor, k.Patch),
			"#1 SMP portabin emulated",
			unix.ByteSliceToString(u.Machine[:]),
			cmp.Or(unix.ByteSliceToString(u.Domainname[:]), "(none)"),
		}
	}
	buf := make([]byte, layout.fields*layout.fieldLen)
	for i := range layout.fields {
		// Truncated to leave the terminating NUL, as the kernel's strings always have one.
		field := s.utsFields[i]
		copy(buf[i*layout.fieldLen:(i+1)*layout.fieldLen-1], field)
	}
	return buf
}

func (s *server) respond(r response) error {
	err := ioctl(s.fd, unix.SECCOMP_IOCTL_NOTIF_SEND, unsafe.Pointer(&r))
	if err != nil && !errors.Is(err, unix.ENOENT) { // ENOENT: the caller was killed meanwhile
		return fmt.Errorf("answering a notification: %w", err)
	}
	return nil
}

func (s *server) report() Report {
	r := Report{UnameFaked: s.faked, UnameReal: s.real, Err: s.err}
	newest := newestKnown()
	for key, count := range s.counts {
		c := Call{Number: int(key.nr), Arch: key.arch, Count: count}
		if sc, ok := syscalls.Lookup(key.arch, int(key.nr)); ok {
			c.Name, c.Since = sc.Name, sinceLabel(sc, newest)
		} else {
			c.Name = fmt.Sprintf("syscall %d", uint32(key.nr))
			c.Since = "not in portabin's table"
		}
		r.ENOSYS = append(r.ENOSYS, c)
	}
	slices.SortFunc(r.ENOSYS, func(a, b Call) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Arch, b.Arch), cmp.Compare(a.Number, b.Number))
	})
	for key, count := range s.missing {
		r.Missing = append(r.Missing, MissingFile{Path: key.path, Call: key.call, Count: count})
	}
	slices.SortFunc(r.Missing, func(a, b MissingFile) int {
		return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(a.Call, b.Call))
	})
	return r
}

// sinceLabel says when s appeared: its version, or why the table has none.
func sinceLabel(s syscalls.Syscall, newest syscalls.Version) string {
	switch {
	case s.Known:
		return s.Since.String()
	case strings.Contains(s.Note, "not implemented"): // internal/syscalls' note on reserved slots
		return "never implemented"
	}
	return "newer than " + newest.String()
}

// newestKnown is the newest version the table gives any call: the table describes the kernels
// up to it, so a call it does not date is newer (or was never implemented).
func newestKnown() syscalls.Version {
	var newest syscalls.Version
	for _, arch := range syscalls.Arches() {
		for _, s := range syscalls.All(arch) {
			if s.Known && newest.Less(s.Since) {
				newest = s.Since
			}
		}
	}
	return newest
}

func (f *Filter) abiFor(audit uint32) (abi, bool) {
	for _, a := range f.abis {
		if a.audit == audit {
			return a, true
		}
	}
	return abi{}, false
}

func ioctl(fd int, req uintptr, arg unsafe.Pointer) error {
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(arg))
	if errno != 0 {
		return errno
	}
	return nil
}
