/* A C program built with autoconf and automake from configure.ac alone. */
#include "config.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
  const char *who = argc > 1 ? argv[1] : "world";
  printf("%s %s: hello, %s\n", PACKAGE_NAME, PACKAGE_VERSION, who);
#ifdef HAVE_SYS_UTSNAME_H
  printf("configure found sys/utsname.h\n");
#endif
  return strcmp(who, "fail") == 0;
}
