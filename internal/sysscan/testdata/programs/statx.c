#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void) {
  /* struct statx is 256 bytes; older libc headers lack it. */
  unsigned long long buf[32] = {0};
  long r = syscall(SYS_statx, AT_FDCWD, ".", 0, 0x7ffU /* STATX_BASIC_STATS */, buf);
  printf("statx: %ld\n", r);
  return r != 0;
}
