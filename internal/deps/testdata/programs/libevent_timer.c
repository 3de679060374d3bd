// Runs an event loop until a 20 ms timer fires three times.
#include <event2/event.h>
#include <stdio.h>

static int fired;

static void tick(evutil_socket_t fd, short what, void *arg) {
	(void)fd;
	(void)what;
	if (++fired == 3) event_base_loopbreak(arg);
}

int main(void) {
	struct event_base *base = event_base_new();
	if (!base) return 1;
	struct event *ev = event_new(base, -1, EV_PERSIST, tick, base);
	struct timeval tv = {0, 20000};
	event_add(ev, &tv);
	event_base_dispatch(base);
	printf("libevent %s (%s): timer fired %d times\n", event_get_version(), event_base_get_method(base), fired);
	event_free(ev);
	event_base_free(base);
	return fired == 3 ? 0 : 2;
}
