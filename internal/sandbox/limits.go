package sandbox

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// cgroup is the control group made for one run: one folder in cgroup v2, or one in each of
// the v1 pids and memory hierarchies.
type cgroup struct {
	dirs []string
	// v2fd is the v2 folder, opened for clone3's CLONE_INTO_CGROUP; -1 under v1.
	v2fd int
	// pids and memory say which limits the cgroup enforces.
	pids, memory bool
}

var cgroupSeq atomic.Int64

// cgroupName is unique among the runs of every portabin process on the host.
func cgroupName() string {
	return fmt.Sprintf("portabin-%d-%d", os.Getpid(), cgroupSeq.Add(1))
}

// newCgroup makes a cgroup capping processes and memory, or returns nil when this process may
// not make one that enforces the process cap (then RLIMIT_NPROC and RLIMIT_AS do what they can).
func newCgroup(maxProcs int, memory int64) (*cgroup, error) {
	if cg := newCgroupV2(maxProcs, memory); cg != nil {
		return cg, nil
	}
	return newCgroupV1(maxProcs, memory), nil
}

// newCgroupV2 makes a child of our own v2 cgroup, which works where pids (and memory) are
// enabled in our cgroup's subtree_control: a delegated cgroup, or the root cgroup of a container.
func newCgroupV2(maxProcs int, memory int64) *cgroup {
	mount := mountPoint(func(fstype, _ string) bool { return fstype == "cgroup2" })
	own := ownCgroup(func(controllers string) bool { return controllers == "" })
	if mount == "" || own == "" {
		return nil
	}
	// Our cgroup must already hand pids to its children; enabling it is not ours to do.
	enabled, err := os.ReadFile(filepath.Join(mount, own, "cgroup.subtree_control"))
	if err != nil || !contains(strings.Fields(string(enabled)), "pids") {
		return nil
	}
	dir := filepath.Join(mount, own, cgroupName())
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil
	}
	cg := &cgroup{dirs: []string{dir}, v2fd: -1}
	controllers, _ := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	have := strings.Fields(string(controllers))
	if !contains(have, "pids") || writeFile(dir, "pids.max", strconv.Itoa(maxProcs)) != nil {
		cg.remove()
		return nil
	}
	cg.pids = true
	cg.memory = contains(have, "memory") && writeFile(dir, "memory.max", strconv.FormatInt(memory, 10)) == nil
	if cg.memory {
		writeFile(dir, "memory.swap.max", "0")
	}
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		cg.remove()
		return nil
	}
	cg.v2fd = fd
	return cg
}

// newCgroupV1 makes a child of our cgroup in the v1 pids hierarchy and, when it can, in the
// memory hierarchy: root on a v1 or hybrid host.
func newCgroupV1(maxProcs int, memory int64) *cgroup {
	cg := &cgroup{v2fd: -1}
	name := cgroupName()
	for _, controller := range []string{"pids", "memory"} {
		mount := mountPoint(func(fstype, options string) bool {
			return fstype == "cgroup" && contains(strings.Split(options, ","), controller)
		})
		own := ownCgroup(func(controllers string) bool { return contains(strings.Split(controllers, ","), controller) })
		if mount == "" || own == "" {
			continue
		}
		dir := filepath.Join(mount, own, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			continue
		}
		cg.dirs = append(cg.dirs, dir)
		switch controller {
		case "pids":
			cg.pids = writeFile(dir, "pids.max", strconv.Itoa(maxProcs)) == nil
		case "memory":
			cg.memory = writeFile(dir, "memory.limit_in_bytes", strconv.FormatInt(memory, 10)) == nil
			if cg.memory {
				// Swap may not stretch the cap either; the file exists only with swap accounting.
				writeFile(dir, "memory.memsw.limit_in_bytes", strconv.FormatInt(memory, 10))
			}
		}
	}
	if !cg.pids {
		cg.remove()
		return nil
	}
	return cg
}

// join moves pid into a v1 cgroup (v2 places init at clone time). Init waits for its
// configuration, sent after this, so nothing escapes the cap.
func (cg *cgroup) join(pid int) error {
	if cg == nil || cg.v2fd >= 0 {
		return nil
	}
	for _, dir := range cg.dirs {
		if err := writeFile(dir, "cgroup.procs", strconv.Itoa(pid)); err != nil {
			return fmt.Errorf("moving the sandbox into cgroup %s: %w", dir, err)
		}
	}
	return nil
}

// oomKilled reports whether the memory cap's OOM killer ended a process of the run.
func (cg *cgroup) oomKilled() bool {
	if cg == nil || !cg.memory {
		return false
	}
	for _, dir := range cg.dirs {
		// v2 counts in memory.events, v1 (Linux 4.13 on) in memory.oom_control.
		for _, name := range []string{"memory.events", "memory.oom_control"} {
			data, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				continue
			}
			for _, line := range strings.Split(string(data), "\n") {
				if n, ok := strings.CutPrefix(line, "oom_kill "); ok && n != "0" {
					return true
				}
			}
		}
	}
	return false
}

// remove deletes the cgroup's folders; every process in them is gone by then.
func (cg *cgroup) remove() {
	if cg == nil {
		return
	}
	if cg.v2fd >= 0 {
		unix.Close(cg.v2fd)
	}
	for _, dir := range cg.dirs {
		// A cgroup stays busy for a moment after its last process was reaped.
		for i := 0; i < 100; i++ {
			if err := unix.Rmdir(dir); err == nil || errors.Is(err, unix.ENOENT) || !errors.Is(err, unix.EBUSY) {
				break
			}
			unix.Nanosleep(&unix.Timespec{Nsec: 1e6}, nil)
		}
	}
}

// mountPoint returns where the first filesystem that match accepts is mounted.
func mountPoint(match func(fstype, superOptions string) bool) string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS
		before, after, ok := strings.Cut(s.Text(), " - ")
		if !ok {
			continue
		}
		fields, tail := strings.Fields(before), strings.Fields(after)
		if len(fields) < 5 || len(tail) < 3 {
			continue
		}
		if fields[3] == "/" && match(tail[0], tail[2]) {
			return fields[4]
		}
	}
	return ""
}

// ownCgroup returns our cgroup's path in the hierarchy whose controllers match.
func ownCgroup(match func(controllers string) bool) string {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) == 3 && match(parts[1]) {
			return parts[2]
		}
	}
	return ""
}

func writeFile(dir, name, value string) error {
	return os.WriteFile(filepath.Join(dir, name), []byte(value), 0o644)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Limits says how this host enforces Spec.MaxProcs and Spec.MemoryBytes for this process,
// for `portabin doctor`.
func Limits() string {
	cg, _ := newCgroup(DefaultMaxProcs, DefaultMemoryBytes)
	defer cg.remove()
	procs, memory := "RLIMIT_NPROC (not enforced for root, who is exempt)", "RLIMIT_AS per process"
	if os.Getuid() != 0 {
		procs = "RLIMIT_NPROC in the sandbox's user namespace"
	}
	kind := "cgroup v1"
	if cg != nil && cg.v2fd >= 0 {
		kind = "cgroup v2"
	}
	if cg != nil && cg.pids {
		procs = kind + " pids.max"
	}
	if cg != nil && cg.memory {
		memory = kind + " memory limit"
	}
	return "processes: " + procs + "; memory: " + memory
}
