#include <stdio.h>

int main(void) {
	printf("%d\n", undeclared_counter);
	return 0;
}
