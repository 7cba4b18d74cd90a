/*
 * log.h - finlockd's structured log: one JSON object per line on stderr.
 *
 * Every line has "ts" (RFC 3339 UTC), "level" and "msg"; callers add their
 * own fields as a jansson object. Lines are written whole under a lock so
 * lines from several threads never interleave. Messages below the current
 * level cost one comparison.
 *
 * THREAD SAFETY: every function is safe from any thread; fl_log_init()
 * should run before other threads start.
 */
#ifndef FL_SERVER_LOG_H
#define FL_SERVER_LOG_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/err.h"

enum fl_log_level {
	FL_LOG_DEBUG = 0,
	FL_LOG_INFO,
	FL_LOG_WARN,
	FL_LOG_ERROR,
};

/* Sets the output stream (stderr when NULL) and the lowest level written. */
void fl_log_init(FILE *out, enum fl_log_level level);
void fl_log_set_level(enum fl_log_level level);
/* True when a message at level would be written. */
int fl_log_enabled(enum fl_log_level level);

/* "debug", "info", "warn", "error" */
fl_err fl_log_level_parse(const char *s, enum fl_log_level *out) FL_MUST_USE;
const char *fl_log_level_name(enum fl_log_level level);

/* Writes one line: msg plus the members of fields (may be NULL). Takes the
 * caller's reference to fields (it is released here). */
void fl_log(enum fl_log_level level, const char *msg, json_t *fields);

/* Adds to fields (a new object when NULL) "error", the message of err,
 * and "store_error", the store's own message of the failure when the
 * calling thread's last store call failed (store.h fl_store_errmsg()).
 * Returns fields, for fl_log(). */
json_t *fl_log_err(json_t *fields, fl_err err);

/* A failure that repeats every round of a background task (the sweep, the
 * write-behind flush while the database is away) is logged when it starts,
 * then at most once a minute with how many repeats were left out, and once
 * more when the task succeeds again. One per task, used by one thread;
 * zero-initialise it. */
struct fl_log_repeat {
	bool failing;
	int64_t next_ms;         /* monotonic ms of the next line allowed */
	unsigned long left_out;  /* failures not logged since the last line */
	unsigned long failures;  /* since it started failing */
};

/* After a round of the task: err FL_OK or the round's failure. */
void fl_log_round(struct fl_log_repeat *r, const char *task, fl_err err);

/* Writes one line whose "msg" is msg and "detail" is the printf-formatted
 * rest. */
void fl_logf(enum fl_log_level level, const char *msg, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

#endif
