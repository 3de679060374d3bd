#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "sysnums.h"

int main(void) {
  /* struct io_uring_params is 120 bytes, all zero on input. */
  unsigned int params[30] = {0};
  long fd = syscall(SYS_io_uring_setup, 4, params);
  printf("io_uring_setup: %ld\n", fd);
  return fd < 0;
}
