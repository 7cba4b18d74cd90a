/*
 * websession.h - the console's sign-in sessions as stored: starting one,
 * moving its last use, ending one.
 *
 * Each write is a runner function (run.h, fl_run_fn): one transaction's
 * work as a function of (transaction, input, now), run again from the
 * start when the store gives the transaction up. Cookies, the CSRF token
 * and the checks of a request are the console routes' (sessions.c).
 *
 * THREAD SAFETY: per transaction.
 */
#ifndef FL_SERVER_WEBSESSION_H
#define FL_SERVER_WEBSESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "core/fltime.h"
#include "store/store.h"

/* A sign-in: the new session, and the one the browser held before. */
struct fl_websession_start {
	struct fl_session_rec rec;     /* hash, key, tenant and role; its
	                                  times are set to now */
	bool end_old;                  /* old_hash names a session to end */
	uint8_t old_hash[FL_HASH_LEN]; /* the browser's session before */
	int idle, max;                 /* seconds: sessions idle or old
	                                  beyond are deleted */
};

/* io: a struct fl_websession_start. Ends the old session, deletes every
 * session expired at now, stores the new one. */
fl_err fl_websession_start(struct fl_tx *tx, void *io, fl_time now) FL_MUST_USE;

/* io: uint8_t hash[FL_HASH_LEN]. Records a use of the session at now;
 * FL_E_NOT_FOUND when it has ended meanwhile. */
fl_err fl_websession_touch(struct fl_tx *tx, void *io, fl_time now) FL_MUST_USE;

/* io: uint8_t hash[FL_HASH_LEN]. Ends the session (none: FL_OK). */
fl_err fl_websession_end(struct fl_tx *tx, void *io, fl_time now) FL_MUST_USE;

#endif
