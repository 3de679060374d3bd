/*
 * opens: opens and executes files that exist and files that do not, straight through the
 * syscall instruction, and prints each raw result ("-2" is ENOENT). x86_64 only.
 *
 * Build: gcc -static -nostdlib -ffreestanding -fno-stack-protector -O1 opens.c
 */

#define SYS_write 1
#define SYS_open 2
#define SYS_close 3
#define SYS_mmap 9
#define SYS_munmap 11
#define SYS_execve 59
#define SYS_exit_group 231
#define SYS_openat 257
#define SYS_openat2 437

#define AT_FDCWD (-100)
#define O_WRONLY 01
#define O_CREAT 0100
#define O_DIRECTORY 0200000

static long sys(long n, long a, long b, long c, long d, long e, long f)
{
	long ret;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

/* What gcc may call for the initialisers below. */
void *memset(void *s, int c, unsigned long n)
{
	unsigned char *p = s;
	while (n--)
		*p++ = (unsigned char)c;
	return s;
}

void *memcpy(void *d, const void *s, unsigned long n)
{
	unsigned char *p = d;
	const unsigned char *q = s;
	while (n--)
		*p++ = *q++;
	return d;
}

static unsigned long length(const char *s)
{
	unsigned long n = 0;
	while (s[n])
		n++;
	return n;
}

static void out(const char *s) { sys(SYS_write, 1, (long)s, length(s), 0, 0, 0); }

static void result(const char *name, long v)
{
	char buf[24], *p = buf + sizeof buf;
	unsigned long u;
	if (v >= 0) { /* a file descriptor: its number depends on the runner */
		sys(SYS_close, v, 0, 0, 0, 0, 0);
		v = 0;
	}
	u = -(unsigned long)v;
	*--p = 0;
	do
		*--p = '0' + u % 10;
	while (u /= 10);
	if (v < 0)
		*--p = '-';
	out(name);
	out(" ");
	out(p);
	out("\n");
}

struct open_how {
	unsigned long long flags, mode, resolve;
};

void cmain(void)
{
	static char *argv[] = {"prog", 0}, *envp[] = {0};
	struct open_how how = {0, 0, 0}, create = {O_CREAT | O_WRONLY, 0600, 0};
	const char edge_name[] = "/etc/portabin-missing-at-page-end";
	char *page, *edge;
	unsigned long i;

	result("open_root", sys(SYS_open, (long)"/", O_DIRECTORY, 0, 0, 0, 0));
	result("open_missing", sys(SYS_open, (long)"/etc/portabin-missing-open", 0, 0, 0, 0, 0));
	result("open_missing_again", sys(SYS_open, (long)"/etc/portabin-missing-open", 0, 0, 0, 0, 0));
	result("openat_relative", sys(SYS_openat, AT_FDCWD, (long)"portabin-missing-relative", 0, 0, 0, 0));
	result("openat_create", sys(SYS_openat, AT_FDCWD, (long)"/portabin-missing-dir/new", O_CREAT | O_WRONLY, 0600, 0, 0));
	result("openat2_missing", sys(SYS_openat2, AT_FDCWD, (long)"/etc/portabin-missing-openat2", (long)&how, sizeof how, 0, 0));
	result("openat2_create", sys(SYS_openat2, AT_FDCWD, (long)"/portabin-missing-dir/new", (long)&create, sizeof create, 0, 0));
	result("execve_missing", sys(SYS_execve, (long)"/portabin-missing-program", (long)argv, (long)envp, 0, 0, 0));

	/* A path that ends where its mapping ends: the supervisor must not read past it. */
	page = (char *)sys(SYS_mmap, 0, 8192, 3 /* PROT_READ|PROT_WRITE */, 0x22 /* MAP_PRIVATE|MAP_ANONYMOUS */, -1, 0);
	sys(SYS_munmap, (long)page + 4096, 4096, 0, 0, 0, 0);
	edge = page + 4096 - sizeof edge_name;
	for (i = 0; i < sizeof edge_name; i++)
		edge[i] = edge_name[i];
	result("open_page_end", sys(SYS_open, (long)edge, 0, 0, 0, 0, 0));
	sys(SYS_exit_group, 0, 0, 0, 0, 0, 0);
}

__asm__(".globl _start\n"
	"_start:\n"
	"	xor %rbp, %rbp\n"
	"	and $-16, %rsp\n"
	"	call cmain\n"
	"	hlt\n");
