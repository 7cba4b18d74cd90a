/*
 * app.h - the context every finlockd handler works in.
 *
 * One struct fl_app lives for the whole run of the server: its settings,
 * the store, the secrets, the signing keys, the metrics and the public rate
 * limiter. Handlers reach it through req->app. It is a plain struct on
 * purpose: it is finlockd's wiring, not an interface to the outside.
 *
 * THREAD SAFETY: filled before the HTTP server starts; afterwards its
 * pointers are read-only and each pointed-to module is thread-safe.
 */
#ifndef FL_SERVER_APP_H
#define FL_SERVER_APP_H

#include "core/fltime.h"
#include "server/clock.h"
#include "server/config.h"
#include "server/secrets.h"

struct fl_store;
struct fl_signkeys;
struct fl_metrics;
struct fl_ratelimit;
struct fl_push;
struct fl_devauth;
struct fl_tokens;
struct fl_ahead;
struct fl_webhooks;

struct fl_app {
	struct fl_config cfg;           /* settings */
	struct fl_clock clock;          /* the server's time (clock.h) */
	struct fl_store *store;         /* everything persistent */
	struct fl_secrets secrets;      /* hash keys, key exchange */
	struct fl_signkeys *keys;       /* online signing keys */
	struct fl_metrics *metrics;     /* counters for /metrics */
	struct fl_ratelimit *public_rl; /* the public IMEI check's limiter */
	struct fl_ratelimit *signin_rl; /* console sign-ins */
	struct fl_push *push;           /* long-poll waiters */
	struct fl_devauth *devauth;     /* device MAC keys and counters */
	struct fl_tokens *tokens;       /* signed device tokens */
	struct fl_ahead *ahead;         /* their signatures made ahead */
	struct fl_webhooks *webhooks;   /* webhook senders, signing key */
};

#endif
