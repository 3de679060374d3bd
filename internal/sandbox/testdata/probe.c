/* probe: what a program sees inside portabin's sandbox, and hostile behaviour on demand.
   probe MODE [ARGS...]; every mode prints KEY=VALUE lines. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *result(int r) { return r < 0 ? strerror(errno) : "ok"; }

static void on_term(int sig) {
	(void)sig;
	write(1, "got SIGTERM\n", 12);
	_exit(7);
}

/* zombies leaves grandchildren to init, which must reap them, then counts the zombies left. */
static void zombies(void) {
	for (int i = 0; i < 10; i++) {
		pid_t child = fork();
		if (child == 0) {
			if (fork() == 0) { usleep(20000); _exit(0); }
			_exit(0);
		}
		waitpid(child, NULL, 0);
	}
	usleep(300000);
	int n = 0;
	DIR *d = opendir("/proc");
	struct dirent *e;
	while (d && (e = readdir(d))) {
		char path[300], stat[512];
		snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
		FILE *f = fopen(path, "r");
		if (!f) continue;
		if (fgets(stat, sizeof stat, f)) {
			char *p = strrchr(stat, ')');
			if (p && p[2] == 'Z') n++;
		}
		fclose(f);
	}
	printf("zombies=%d\n", n);
}

static void info(int argc, char **argv) {
	for (int i = 0; i < argc; i++) printf("argv[%d]=%s\n", i, argv[i]);
	char cwd[4096];
	printf("cwd=%s\n", getcwd(cwd, sizeof cwd) ? cwd : strerror(errno));
	printf("uid=%d ppid=%d\n", (int)getuid(), (int)getppid());
	/* PID 1 is the sandbox's init, not the host's: its second argument names the stage. */
	char cmdline[256] = "";
	FILE *one = fopen("/proc/1/cmdline", "r");
	size_t len = one ? fread(cmdline, 1, sizeof cmdline - 1, one) : 0;
	printf("pid 1=%s\n", len > strlen(cmdline) + 1 ? cmdline + strlen(cmdline) + 1 : "?");
	char host[256] = "";
	gethostname(host, sizeof host);
	printf("hostname=%s\n", host);
	struct dirent **names;
	int n = scandir("/", &names, NULL, alphasort);
	printf("ls /=");
	for (int i = 0; i < n; i++)
		if (names[i]->d_name[0] != '.') printf("%s ", names[i]->d_name);
	printf("\n");
	printf("write /=%s\n", result(open("/written", O_CREAT | O_WRONLY, 0644)));
	/* The executable's bind mount: writing it gives ETXTBSY first, so read its options. */
	FILE *mi = fopen("/proc/self/mountinfo", "r");
	char line[1024], point[512], opts[512], self[600];
	snprintf(self, sizeof self, " %s ", argv[0]);
	while (mi && fgets(line, sizeof line, mi))
		if (strstr(line, self) && sscanf(line, "%*s %*s %*s %*s %511s %511[^, ]", point, opts) == 2)
			printf("mount %s=%s\n", point, opts);
	int fd = open("/tmp/written", O_CREAT | O_WRONLY, 0644);
	printf("write /tmp=%s\n", result(fd < 0 ? -1 : (int)write(fd, "x", 1)));
	printf("dev/null=%s\n", result(open("/dev/null", O_WRONLY)));
	printf("dev/tty=%s\n", result(open("/dev/tty", O_RDWR)));
	printf("mount=%s\n", result(syscall(SYS_umount2, "/tmp", 2)));
	char in[256] = "";
	ssize_t got = read(0, in, sizeof in - 1);
	printf("stdin=%s\n", got >= 0 ? in : strerror(errno));
	const char *home = getenv("HOME");
	printf("HOME=%s\n", home ? home : "");
	FILE *f = fopen("/etc/marker", "r");
	char marker[64] = "none";
	if (f) { fscanf(f, "%63s", marker); fclose(f); }
	printf("marker=%s\n", marker);
}

static void kernel(void) {
	char buf[16];
	long r = syscall(SYS_getrandom, buf, sizeof buf, 0);
	printf("getrandom=%s\n", result(r));
	struct utsname u;
	uname(&u);
	printf("uname=%s %s\n", u.release, u.nodename);
	char rel[64] = "";
	FILE *f = fopen("/proc/sys/kernel/osrelease", "r");
	if (f) { fscanf(f, "%63s", rel); fclose(f); }
	printf("osrelease=%s\n", rel);
}

static void net(void) {
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(53)};
	inet_pton(AF_INET, "1.1.1.1", &a.sin_addr);
	printf("connect out=%s\n", result(connect(s, (struct sockaddr *)&a, sizeof a)));
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in lo = {.sin_family = AF_INET};
	inet_pton(AF_INET, "127.0.0.1", &lo.sin_addr);
	int r = bind(l, (struct sockaddr *)&lo, sizeof lo);
	if (r == 0) r = listen(l, 1);
	socklen_t len = sizeof lo;
	getsockname(l, (struct sockaddr *)&lo, &len);
	int c = socket(AF_INET, SOCK_STREAM, 0);
	if (r == 0) r = connect(c, (struct sockaddr *)&lo, sizeof lo);
	printf("loopback=%s\n", result(r));
}

int main(int argc, char **argv) {
	const char *mode = argc > 1 ? argv[1] : "info";
	if (!strcmp(mode, "info")) info(argc, argv);
	else if (!strcmp(mode, "exit")) return atoi(argv[2]);
	else if (!strcmp(mode, "kernel")) kernel();
	else if (!strcmp(mode, "net")) net();
	else if (!strcmp(mode, "zombies")) zombies();
	else if (!strcmp(mode, "term")) {
		signal(SIGTERM, on_term);
		for (;;) pause();
	}
	else if (!strcmp(mode, "killinit")) {
		/* Signals to PID 1 must not end the sandbox's init. Those it forwards come back. */
		signal(SIGHUP, SIG_IGN);
		signal(SIGQUIT, SIG_IGN);
		int sigs[] = {SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2, SIGSEGV, SIGABRT, SIGPIPE, SIGALRM};
		for (unsigned i = 0; i < sizeof sigs / sizeof *sigs; i++) kill(1, sigs[i]);
		usleep(200000);
		printf("init=%s\n", kill(1, 0) == 0 ? "alive" : strerror(errno));
	}
	else if (!strcmp(mode, "segv")) { fflush(stdout); raise(SIGSEGV); }
	else if (!strcmp(mode, "forkbomb")) {
		int n = 0;
		for (;;) {
			pid_t p = fork();
			if (p == 0) { pause(); _exit(0); }
			if (p < 0) break;
			n++;
		}
		printf("forked=%d error=%s\n", n, strerror(errno));
	} else if (!strcmp(mode, "orphan") || !strcmp(mode, "daemon")) {
		/* argv[2] is a token the test looks for among the host's processes. */
		if (fork() == 0) {
			signal(SIGTERM, SIG_IGN);
			setsid();
			execl("/proc/self/exe", argv[0], "sleep", argv[2], (char *)NULL);
			_exit(1);
		}
		if (!strcmp(mode, "orphan")) { printf("started\n"); fflush(stdout); sleep(1000); }
	} else if (!strcmp(mode, "sleep")) {
		signal(SIGTERM, SIG_IGN);
		sleep(1000);
	} else if (!strcmp(mode, "alloc")) {
		size_t n = (size_t)atol(argv[2]) << 20;
		char *p = malloc(n);
		if (!p) { printf("alloc=%s\n", strerror(errno)); return 0; }
		memset(p, 1, n);
		printf("alloc=ok\n");
	} else if (!strcmp(mode, "flood")) {
		static char block[65536];
		memset(block, 'x', sizeof block);
		for (int i = 0; i < 300; i++) fwrite(block, 1, sizeof block, stdout);
	}
	return 0;
}
