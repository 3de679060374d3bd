#include <fcntl.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "sysnums.h"

struct how {
  unsigned long long flags, mode, resolve;
};

int main(void) {
  struct how how = {O_RDONLY | O_DIRECTORY, 0, 0};
  long fd = syscall(SYS_openat2, AT_FDCWD, ".", &how, sizeof how);
  printf("openat2: %ld\n", fd);
  return fd < 0;
}
