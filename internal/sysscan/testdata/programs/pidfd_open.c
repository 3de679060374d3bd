#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "sysnums.h"

int main(void) {
  long fd = syscall(SYS_pidfd_open, getpid(), 0);
  printf("pidfd_open: %ld\n", fd);
  return fd < 0;
}
