/*
 * sessions.h - the console's signed-in sessions, and how every /v1 route
 * authenticates its caller.
 *
 * A lender's staff sign in to the console with an API key once
 * (POST /v1/session); the key goes no further than that request. The
 * answer sets an HttpOnly, SameSite=Strict cookie (Secure when finlockd
 * speaks TLS or stands behind a TLS proxy) holding a fresh random session
 * id; the store keeps only its keyed hash, with the key it acts as and
 * that key's role, so any node of a cluster can check it. A session ends
 * at sign-out, after `session_idle` seconds unused, `session_max` seconds
 * after sign-in, and as soon as its key is revoked or changes role.
 *
 * The /v1 routes take either the Bearer key or the session cookie; with
 * the cookie, every method but GET and HEAD also needs the session's CSRF
 * token in X-CSRF-Token (derived from the session id with a server
 * secret, so it is never stored, and only a page of this origin can read
 * it from GET /v1/session). Either way the caller has exactly its key's
 * role. Operator keys do not sign in to the console.
 *
 * THREAD SAFETY: every function is safe from any thread.
 */
#ifndef FL_SERVER_SESSIONS_H
#define FL_SERVER_SESSIONS_H

#include <stdbool.h>

#include "core/fltime.h"
#include "store/store.h"

struct fl_req;

#define FL_SESSION_COOKIE "fl_session"
#define FL_CSRF_HEADER    "X-CSRF-Token"

/* Authenticates req's caller into req->who for a route that needs a key:
 * the Authorization header when there is one, else the session cookie
 * (with the CSRF token on a change). false when refused; req is then
 * answered (401, 403, or the storage error). */
bool fl_session_authenticate(struct fl_req *req) FL_MUST_USE;

/* True when req's cookie names a live session (storage errors: false). */
bool fl_session_active(struct fl_req *req);

/* True when a session created at s->created_at and last used at
 * s->last_seen has ended at now: unused for idle seconds or older than
 * max seconds. */
bool fl_session_expired(const struct fl_session_rec *s, fl_time now, int idle,
                        int max);

#endif
