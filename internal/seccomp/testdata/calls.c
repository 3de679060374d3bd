/*
 * calls: makes system calls an old kernel lacks, straight through the syscall instruction (no
 * C library, whose start-up calls would blur the supervisor's report), and prints each raw
 * result, "-38" being ENOSYS. x86_64 only; also enters the i386 convention with int $0x80.
 *
 * Build: gcc -static -nostdlib -ffreestanding -fno-stack-protector -O1 calls.c
 */

#define SYS_write 1
#define SYS_close 3
#define SYS_getpid 39
#define SYS_fork 57
#define SYS_wait4 61
#define SYS_uname 63
#define SYS_openat 257
#define SYS_getrandom 318
#define SYS_memfd_create 319
#define SYS_statx 332
#define SYS_pidfd_open 434
#define SYS_close_range 436
#define SYS_exit_group 231

#define I386_getpid 20
#define I386_oldolduname 59
#define I386_olduname 109
#define I386_uname 122
#define I386_getrandom 355

#define X32_BIT 0x40000000
#define AT_FDCWD (-100)
#define O_DIRECTORY 0200000

static long sys(long n, long a, long b, long c, long d, long e)
{
	long ret;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8)
			 : "rcx", "r11", "memory");
	return ret;
}

/* The i386 convention from a 64-bit process: arguments are 32 bits, so pointers must be
 * below 4 GiB, as the static buffers of this non-PIE executable are. */
static long sys32(long n, long a, long b, long c)
{
	long ret;
	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(n), "b"(a), "c"(b), "d"(c) : "memory");
	return ret;
}

void *memset(void *s, int c, unsigned long n)
{
	unsigned char *p = s;
	while (n--)
		*p++ = (unsigned char)c;
	return s;
}

static unsigned long length(const char *s)
{
	unsigned long n = 0;
	while (s[n])
		n++;
	return n;
}

static void out(const char *s) { sys(SYS_write, 1, (long)s, length(s), 0, 0); }

static void number(long v)
{
	char buf[24], *p = buf + sizeof buf;
	unsigned long u = v < 0 ? -(unsigned long)v : (unsigned long)v;
	*--p = 0;
	do
		*--p = '0' + u % 10;
	while (u /= 10);
	if (v < 0)
		*--p = '-';
	out(p);
}

static void result(const char *name, long v)
{
	out(name);
	out(" ");
	number(v);
	out("\n");
}

static void field(const char *name, const char *value)
{
	out(name);
	out(" ");
	out(value);
	out("\n");
}

/* A file descriptor is success; its number depends on the runner. */
static long fd_or_error(long fd)
{
	if (fd >= 0) {
		sys(SYS_close, fd, 0, 0, 0, 0);
		return 0;
	}
	return fd;
}

/* A pid is success; its value depends on the runner. */
static long positive_is_zero(long v) { return v > 0 ? 0 : v; }

static char uts[6 * 65], old_uts[5 * 65], oldold_uts[5 * 9];
static char random[8], statx_buf[256];

void cmain(void)
{
	long pid;
	int status;

	result("openat", fd_or_error(sys(SYS_openat, AT_FDCWD, (long)"/", O_DIRECTORY, 0, 0)));
	result("getrandom", sys(SYS_getrandom, (long)random, sizeof random, 1 /* GRND_NONBLOCK */, 0, 0));
	result("memfd_create", fd_or_error(sys(SYS_memfd_create, (long)"t", 0, 0, 0, 0)));
	result("statx", sys(SYS_statx, AT_FDCWD, (long)"/", 0, 0x7ff, (long)statx_buf));
	result("pidfd_open", fd_or_error(sys(SYS_pidfd_open, sys(SYS_getpid, 0, 0, 0, 0, 0), 0, 0, 0, 0)));
	result("close_range", sys(SYS_close_range, 1000, 2000, 0, 0, 0));
	result("x32_getpid", positive_is_zero(sys(SYS_getpid | X32_BIT, 0, 0, 0, 0, 0)));

	result("uname", sys(SYS_uname, (long)uts, 0, 0, 0, 0));
	field("sysname", uts);
	field("nodename", uts + 65);
	field("release", uts + 2 * 65);
	field("version", uts + 3 * 65);
	result("uname_efault", sys(SYS_uname, 1, 0, 0, 0, 0));

	result("i386_getpid", positive_is_zero(sys32(I386_getpid, 0, 0, 0)));
	result("i386_getrandom", sys32(I386_getrandom, 0, 0, 0));
	result("i386_uname", sys32(I386_uname, (long)uts, 0, 0));
	field("i386_release", uts + 2 * 65);
	result("i386_olduname", sys32(I386_olduname, (long)old_uts, 0, 0));
	field("i386_olduname_release", old_uts + 2 * 65);
	result("i386_oldolduname", sys32(I386_oldolduname, (long)oldold_uts, 0, 0));
	field("i386_oldolduname_release", oldold_uts + 2 * 9);

	/* A child inherits the filter: its calls reach the same supervisor. */
	pid = sys(SYS_fork, 0, 0, 0, 0, 0);
	if (pid == 0) {
		result("child_getrandom", sys(SYS_getrandom, (long)random, sizeof random, 1, 0, 0));
		sys(SYS_exit_group, 0, 0, 0, 0, 0);
	}
	sys(SYS_wait4, pid, (long)&status, 0, 0, 0);
	result("child_status", status);
	sys(SYS_exit_group, 0, 0, 0, 0, 0);
}

/* The kernel starts a process with the stack 16-byte aligned; a C function expects it
 * aligned after a call has pushed its return address. */
__asm__(".globl _start\n"
	"_start:\n"
	"	xor %rbp, %rbp\n"
	"	and $-16, %rsp\n"
	"	call cmain\n"
	"	hlt\n");
