#include <stdio.h>
#include <sys/random.h>

int main(void) {
  char buf[16];
  ssize_t n = getrandom(buf, sizeof buf, 0);
  printf("getrandom: %zd\n", n);
  return n != (ssize_t)sizeof buf;
}
