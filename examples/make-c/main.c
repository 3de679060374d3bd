#include <stdio.h>

#include "count.h"

int main(void) {
  const char *lines[] = {"static linking with musl", "runs on every Linux", ""};
  for (int i = 0; i < 3; i++) {
    printf("%zu words: \"%s\"\n", count_words(lines[i]), lines[i]);
  }
  return 0;
}
