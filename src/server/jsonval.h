/*
 * jsonval.h - JSON values as finlockd writes them everywhere: in answers,
 * audit entries, events and webhook bodies.
 *
 * The domain modules build JSON (an audit entry's before and after, an
 * event's data) without knowing of requests; this is what they share with
 * the request helpers (jsonio.h), which include it.
 *
 * THREAD SAFETY: pure functions.
 */
#ifndef FL_SERVER_JSONVAL_H
#define FL_SERVER_JSONVAL_H

#include <jansson.h>

#include "core/fltime.h"

/* A new JSON string of t in RFC 3339, or JSON null for 0. */
json_t *fl_json_time(fl_time t);

#endif
