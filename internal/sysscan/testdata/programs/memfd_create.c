#define _GNU_SOURCE
#include <stdio.h>
#include <sys/mman.h>

int main(void) {
  int fd = memfd_create("sysscan", MFD_CLOEXEC);
  printf("memfd_create: %d\n", fd);
  return fd < 0;
}
