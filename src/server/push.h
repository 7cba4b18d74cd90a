/*
 * push.h - long-poll waiters, woken on every state change.
 *
 * A request that waits for a device's token seq to move (the lender's
 * GET /v1/devices/{id}/wait, the device protocol's wait) parks here: its
 * connection is suspended (no thread is held) until a committed change
 * publishes a new seq for that device, its deadline passes, or the server
 * shuts down. Then the connection is resumed and the route's handler runs
 * again with req->resumed set, reads the store and answers.
 *
 * No wake-up is lost between reading the store and parking: a handler takes
 * a mark (fl_push_mark) BEFORE it reads the device; fl_push_wait refuses to
 * park (FL_E_STATE) if anything was published for that device since the
 * mark, and the handler reads again. Marks are per hash bucket, so a
 * publish for another device in the same bucket only costs a re-read.
 *
 * Across processes (several finlockd on one PostgreSQL database): a
 * change committed by any process reaches every process's change feed
 * (store.h), which fl_push_follow subscribes to: it wakes the waiters of
 * the changed device row (by its ord) or, for "any row", all of them. A
 * handler that knows the row parks with fl_push_wait_row, giving the row
 * and the store's device clock read BEFORE the device (fl_push_clock),
 * so a change committed elsewhere between the read and the park is not
 * lost either: the row's stamp is checked under the same lock the feed
 * takes to wake. A wake-up may come for a change that does not move the
 * seq (a report, a contact): the handler reads, sees the same seq and
 * parks again until req->wait_until.
 *
 * Memory is fixed: at most max_waiters parked requests (FL_E_LIMIT beyond).
 *
 * A waiter is an opaque pointer to this module: parking and waking it are
 * the hooks given to fl_push_new (for a request, req.h's fl_req_park and
 * fl_req_wake, which suspend and resume its connection), so the waiters
 * know nothing of HTTP.
 *
 *     uint64_t mark = fl_push_mark(app->push, id);
 *     uint64_t clock = fl_push_clock(app->push);
 *     ... read the device ...
 *     if (!req->resumed && seq <= have) {
 *             fl_err e = fl_push_wait_row(app->push, req, id, ord, mark,
 *                                         clock, deadline);
 *             if (e == FL_OK)
 *                     return;          (parked; called again later)
 *             ... FL_E_STATE: read again; FL_E_LIMIT: answer now ...
 *     }
 *     ... answer ...
 *
 * THREAD SAFETY: every function is safe from any thread.
 */
#ifndef FL_SERVER_PUSH_H
#define FL_SERVER_PUSH_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "core/fltime.h"

struct fl_store;

struct fl_push;

/* What parks and wakes a waiter. */
struct fl_push_hooks {
	/* Parks waiter until wake (deadline: when fl_push_expire wakes it).
	 * Called under the table's lock, so no wake can come before it. */
	void (*park)(void *waiter, fl_time deadline);
	/* Wakes a parked waiter (any thread, the table's lock held). */
	void (*wake)(void *waiter);
};

/* A table of at most max_waiters waiters, parked and woken by hooks
 * (copied). */
fl_err fl_push_new(struct fl_push **out, int max_waiters,
                   const struct fl_push_hooks *hooks) FL_MUST_USE;
/* Frees p; no waiter may be parked (fl_push_release_all first). */
void fl_push_free(struct fl_push *p);

/* The publish mark of device_id's bucket; take it before reading. */
uint64_t fl_push_mark(struct fl_push *p, const char *device_id);

/* Parks req (a waiter, from inside its handler) until device_id is published,
 * the deadline passes or the server stops. FL_OK: parked, return without
 * answering. FL_E_STATE: a publish happened since mark, read again.
 * FL_E_LIMIT: too many waiters. FL_E_STATE also when shutting down. */
fl_err fl_push_wait(struct fl_push *p, void *req, const char *device_id,
                    uint64_t mark, fl_time deadline) FL_MUST_USE;

/* Follows st's change feed (store.h; once, before serving). */
fl_err fl_push_follow(struct fl_push *p, struct fl_store *st) FL_MUST_USE;

/* The store's device clock (0 when no store is followed); read it before
 * reading the device, with the mark. */
uint64_t fl_push_clock(struct fl_push *p);

/* fl_push_wait for the device whose row is ord (0 unknown): also refuses
 * (FL_E_STATE) when the store stamped the row after `clock`, and the
 * change feed wakes it. The park hook receives the deadline. */
fl_err fl_push_wait_row(struct fl_push *p, void *req, const char *device_id,
                        int64_t ord, uint64_t mark, uint64_t clock,
                        fl_time deadline) FL_MUST_USE;

/* Wakes every request waiting on device_id (after a commit). */
void fl_push_publish(struct fl_push *p, const char *device_id);

/* Whether a request is parked on device_id now. */
bool fl_push_waited(struct fl_push *p, const char *device_id);

/* Wakes requests whose deadline is at or before now; returns how many. */
int fl_push_expire(struct fl_push *p, fl_time now);

/* Wakes every parked request and refuses new ones (shutdown). */
void fl_push_release_all(struct fl_push *p);

/* Forgets req if it is parked (its connection is closing). */
void fl_push_forget(struct fl_push *p, void *req);

/* Parked requests now. */
int fl_push_waiting(struct fl_push *p);

#endif
