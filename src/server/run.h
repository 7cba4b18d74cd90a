/*
 * run.h - the transaction runner: the write work of a request, or of a
 * timer, as a function of (transaction, input and output, now), run again
 * from the start whenever the store gives the transaction up.
 *
 * Several finlockd processes may write one database at once (store.h,
 * "Concurrency"): PostgreSQL breaks a deadlock or a serialization conflict
 * by failing one of the transactions with FL_E_STORE_RETRY, and the only
 * correct answer to that is to roll back and run the whole transaction
 * again, reads included, since what it read may have changed. fl_run()
 * does exactly that:
 *
 *     begin (write) -> fn(tx, io, now) -> commit
 *       FL_OK from both:           done, FL_OK
 *       FL_E_STORE_RETRY from either: roll back, wait a short jittered
 *                                  back-off, and run fn again (at most
 *                                  FL_RUN_ATTEMPTS times in all)
 *       any other error:           roll back, return it
 *
 * So fn must be a function of its input: it starts every attempt from
 * the input in io and writes its results to io only (an attempt that is
 * rolled back leaves results the next attempt overwrites), and it has no
 * effect outside the transaction: no answer sent, no waiter woken, no
 * cache changed. Whatever happens because of the change (the answer, the
 * wake-ups of push.h, metrics) happens in the caller once fl_run returned
 * FL_OK, that is after the commit. Audit entries are written inside the
 * transaction, so a failed attempt's entries are rolled back with it.
 *
 * `now` is the same instant for every attempt (the request's arrival, or
 * the timer's round): a retried payment is recorded at the time it was
 * made, not at the time it finally committed.
 *
 * Requests use fl_txn_run (txn.h), which adds the idempotency record and
 * the answer on top of this.
 *
 * THREAD SAFETY: fl_run may be called from any thread; each call owns its
 * transaction.
 */
#ifndef FL_SERVER_RUN_H
#define FL_SERVER_RUN_H

#include <stdbool.h>

#include "core/err.h"
#include "core/fltime.h"
#include "store/store.h"

#define FL_RUN_ATTEMPTS 6 /* attempts of one transaction, in all */

/* One attempt of a transaction's work. */
typedef fl_err (*fl_run_fn)(struct fl_tx *tx, void *io, fl_time now);

enum {
	FL_RUN_QUIET = 1 << 0, /* fl_tx_quiet(): write-behind bookkeeping */
};

/* Runs fn in a write transaction of st at now, retrying on
 * FL_E_STORE_RETRY as above; flags are FL_RUN_*. Returns FL_OK once
 * committed, else the last error (FL_E_STORE_RETRY when every attempt was
 * given up). *attempts (may be NULL) receives the attempts made. */
fl_err fl_run(struct fl_store *st, fl_time now, unsigned flags, fl_run_fn fn,
              void *io, int *attempts) FL_MUST_USE;

/* Sleeps the back-off before attempt `attempt` (1 for the second): a
 * random time up to 2^attempt ms (at most 64 ms), so two nodes that
 * conflicted do not meet again at the same instant. */
void fl_run_backoff(int attempt);

/* Whether err means the database cannot serve now and a client should
 * come back later (503 with Retry-After): it is unreachable, busy, or
 * every attempt of a transaction was given up. */
bool fl_run_unavailable(fl_err err);

#endif
