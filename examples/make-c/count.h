#ifndef COUNT_H
#define COUNT_H
#include <stddef.h>

/* Counts the words of text: runs of characters that are not spaces. */
size_t count_words(const char *text);

#endif
