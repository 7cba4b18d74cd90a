/* clock.c - the system clock or a test clock file. */
#include "server/clock.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The time in the file path, or -1 if it cannot be read. */
static fl_time read_file(const char *path)
{
	char buf[32], *end;
	long long v;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	v = strtoll(buf, &end, 10);
	if (end == buf || (*end != '\0' && *end != '\n') || v < 0 ||
	    v > FL_TIME_MAX)
		return -1;
	return (fl_time)v;
}

void fl_clock_system(struct fl_clock *c)
{
	c->test_file[0] = '\0';
	c->last = 0;
}

fl_err fl_clock_test(struct fl_clock *c, const char *path)
{
	fl_time t;

	fl_clock_system(c);
	if (strlen(path) >= sizeof(c->test_file) || (t = read_file(path)) < 0)
		return FL_E_IO;
	snprintf(c->test_file, sizeof(c->test_file), "%s", path);
	c->last = t;
	return FL_OK;
}

bool fl_clock_is_test(const struct fl_clock *c)
{
	return c->test_file[0] != '\0';
}

fl_time fl_clock_now(struct fl_clock *c)
{
	struct timespec ts;

	if (c->test_file[0] != '\0') {
		/* a file replaced whole (rename) between reads */
		fl_time t = read_file(c->test_file);

		if (t >= 0)
			c->last = t;
		return c->last;
	}
	/* the clock the sweep sleeps on (time() may lag it by a tick) */
	clock_gettime(CLOCK_REALTIME, &ts);
	return (fl_time)ts.tv_sec;
}
