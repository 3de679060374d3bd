#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int main(void) {
  int in = open("in.txt", O_RDWR | O_CREAT | O_TRUNC, 0644);
  int out = open("out.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (in < 0 || out < 0 || write(in, "hello\n", 6) != 6 || lseek(in, 0, SEEK_SET) != 0)
    return 2;
  ssize_t n = copy_file_range(in, NULL, out, NULL, 6, 0);
  printf("copy_file_range: %zd\n", n);
  return n != 6;
}
