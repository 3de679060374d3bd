// Looks up a terminal's capabilities in the terminfo database named by $TERMINFO.
#include <ncursesw/curses.h>
#include <ncursesw/term.h>
#include <stdio.h>

int main(void) {
	int err;
	if (setupterm("xterm", 1, &err) != OK) return 1;
	char *clear = tigetstr("clear");
	if (clear == NULL || clear == (char *)-1) return 2;
	printf("ncurses %s: xterm clear =", curses_version());
	for (char *p = clear; *p; p++) printf(*p < 32 ? " ^%c" : " %c", *p < 32 ? *p + 64 : *p);
	printf(", %d columns\n", tigetnum("cols"));
	return 0;
}
