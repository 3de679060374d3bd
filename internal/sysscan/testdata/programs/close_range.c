#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "sysnums.h"

int main(void) {
  long r = syscall(SYS_close_range, 3, ~0U, 0);
  printf("close_range: %ld\n", r);
  return r != 0;
}
