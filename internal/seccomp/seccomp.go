// Package seccomp makes a process tree see an older Linux kernel: a seccomp filter answers ENOSYS to the system calls that kernel lacks, and a supervisor records them and fakes uname(2).
//
// A Filter is classic BPF generated from internal/syscalls for one
// architecture and one emulated kernel version. In Notify mode the calls the
// old kernel lacks, and uname, go to a Supervisor through seccomp user
// notification (Linux 5.0): it answers ENOSYS, counts each call, and writes a
// struct utsname whose release is the emulated version into the caller's
// memory. Errno mode, for hosts without user notification, answers ENOSYS in
// the filter itself: nothing is recorded and uname tells the truth.
//
// Which calls are answered ENOSYS (one rule, blocked):
//   - a call the table dates (Known) when the emulated kernel is older than
//     its Since;
//   - a call the table does not date (Known false): newer than every
//     version the table gives (syscalls(2) alone reaches Linux 5.14), or a
//     reserved slot no kernel implements. Under an emulated kernel the table
//     covers, such a call cannot exist; under a newer one its age is
//     unknown, and it is still answered ENOSYS, so that a cell never passes
//     thanks to a call nobody could date. The report says so ("newer than
//     5.14", "never implemented"). As internal/syscalls learns the versions
//     of newer calls, they are decided by their dates;
//   - a number the table does not list, including everything above its
//     highest number: either the host kernel has no such call either, or it
//     is newer than the table;
//   - on x86_64, x32 ABI calls (bit 30 of the number): ENOSYS, as from a
//     kernel built without CONFIG_X86_X32, straight from the filter;
//   - except ARM's private calls (0x0f0000 upwards: cacheflush, set_tls...),
//     which the table does not list and every ARM C library uses at start.
//
// The filter looks at seccomp_data.arch first. An x86_64 kernel also runs
// i386 code (an i386 executable, or int $0x80 from a 64-bit one) with
// AUDIT_ARCH_I386, and an arm64 kernel may run AArch32 code with
// AUDIT_ARCH_ARM; such calls are filtered with the i386 or arm table for the
// same kernel version (CompatArch), since letting them through unfiltered
// would let a 32-bit program see the host's new calls. Any other arch value
// cannot come from the host's processes and kills the process.
//
// Limits, stated plainly:
//   - This emulates missing system calls, not the old behaviour of old ones:
//     flags an old kernel rejected with EINVAL, /proc files it lacked and
//     changed semantics are the host's.
//   - Calls the vDSO answers (clock_gettime, gettimeofday, time, getcpu)
//     never enter the kernel, so seccomp never sees them.
//   - Under qemu-user the filter sees qemu's host calls, not the guest
//     program's: a guest call qemu emulates without the host call, or maps
//     to a different one, escapes the filter.
//   - The listener reports that every filtered process is gone (POLLHUP)
//     since Linux 5.8; on 5.0 to 5.7 the supervisor stops when its context
//     ends.
//   - With TraceOpens, a relative path is looked up from the process's
//     working directory as the supervisor sees it: ".." and absolute
//     symlinks on the way can leave the process's root. Absolute paths are
//     looked up inside it (openat2 RESOLVE_IN_ROOT, Linux 5.6).
//   - uname's machine is the supervisor's: a 32-bit process on a 64-bit
//     kernel that set the PER_LINUX32 personality would see "i686" from a
//     real kernel.
package seccomp
