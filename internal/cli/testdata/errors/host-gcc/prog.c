#include <stdio.h>

int main(void) {
	puts("dynamic");
	return 0;
}
