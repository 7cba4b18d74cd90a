/*
 * clock.h - the server's clock, as a value handed to whatever needs the
 * time.
 *
 * finlockd never reads the time through a global: the app owns one struct
 * fl_clock (app.h), a request takes its instant from it once (req->now),
 * and the functions that decide or write (run.h) receive that instant as
 * an argument, so a unit test runs them at any time it likes without a
 * clock at all.
 *
 * Two sources: the system's wall clock (CLOCK_REALTIME, whole seconds,
 * UTC), or a test clock: a file holding the time in decimal seconds
 * (config test_clock), read at every call, so a test moves the server's
 * time by writing (renaming over) the file. A read that fails keeps the
 * last good value.
 *
 * THREAD SAFETY: fl_clock_now may be called from any thread once the
 * clock is initialised.
 */
#ifndef FL_SERVER_CLOCK_H
#define FL_SERVER_CLOCK_H

#include <stdbool.h>

#include "core/err.h"
#include "core/fltime.h"
#include "server/config.h"

struct fl_clock {
	char test_file[FL_CONFIG_PATH_MAX]; /* "" for the system clock */
	_Atomic fl_time last;               /* last good test clock read */
};

/* The system clock. */
void fl_clock_system(struct fl_clock *c);

/* A test clock read from path. FL_E_IO if the file cannot be read or
 * holds no time (c is then the system clock). */
fl_err fl_clock_test(struct fl_clock *c, const char *path) FL_MUST_USE;

/* Whether c is a test clock. */
bool fl_clock_is_test(const struct fl_clock *c);

/* The time now, in seconds (UTC). */
fl_time fl_clock_now(struct fl_clock *c);

#endif
