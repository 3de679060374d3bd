/* Numbers of calls newer than some libc headers. Since Linux 5.1 every
 * architecture shares them (include/uapi/asm-generic/unistd.h). */
#ifndef SYS_io_uring_setup
#define SYS_io_uring_setup 425
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif
