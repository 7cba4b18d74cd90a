/*
 * txn.h - the write transaction of a state-changing request, with
 * idempotent retries.
 *
 * A handler that changes state puts its transaction's work in a step
 * function and hands it to the runner (run.h):
 *
 *     static fl_err step(struct fl_tx *tx, struct fl_req *req, void *ctx)
 *     {
 *             ... store calls (fl_store_lock_device first when it reads a
 *             device to decide what to write), fl_audit_req(), then
 *             fl_reply_json(req, 201, ...) and FL_OK to commit; or an
 *             answered error (fl_reply_error) returned to roll back ...
 *     }
 *     if (fl_txn_run(req, step, &ctx) == FL_OK)
 *             ... after the commit: wake waiters (fl_decide_committed) ...
 *
 * The step may run several times (the store gave an attempt up with
 * FL_E_STORE_RETRY): every attempt starts with no answer set, and only
 * the answer of the attempt that committed is sent. When every attempt
 * is given up, or the database is unreachable or busy, the answer is 503
 * with a Retry-After header.
 *
 * There is no other way for a request to write: a handler never begins
 * or commits a transaction itself.
 *
 * When the request carries an `Idempotency-Key` header (1..128 visible
 * ASCII characters), the first answer with a 2xx status is stored in the
 * same transaction as the change, scoped to the caller's tenant and the
 * route. A retry with the same key and the same method, path and body gets
 * that stored answer (same status, same body, header
 * `Idempotent-Replayed: true`) and changes nothing; the same key with a
 * different request is 409 idempotency. Error answers are not stored, so a
 * corrected retry may reuse the key.
 *
 * THREAD SAFETY: per request.
 */
#ifndef FL_SERVER_TXN_H
#define FL_SERVER_TXN_H

#include "core/err.h"
#include "server/req.h"
#include "server/run.h"
#include "store/store.h"

/* One attempt of a request's write work: answers (a 2xx and FL_OK to
 * commit, or an error answer and its error to roll back). An error
 * returned without an answer is answered by fl_txn_run. */
typedef fl_err (*fl_txn_step)(struct fl_tx *tx, struct fl_req *req,
                              void *ctx);

/* Runs step for req in a write transaction (run.h) with the
 * Idempotency-Key handling above, and leaves the answer in req. FL_OK:
 * committed, and the step's answer is req's. Anything else: rolled back
 * and answered (an idempotent replay is FL_E_CONFLICT, answered with the
 * stored answer). */
fl_err fl_txn_run(struct fl_req *req, fl_txn_step step,
                  void *ctx) FL_MUST_USE;

/* fl_txn_run without the Idempotency-Key record, for an answer that must
 * not be kept (it carries a secret). */
fl_err fl_txn_run_unrecorded(struct fl_req *req, fl_txn_step step,
                             void *ctx) FL_MUST_USE;

#endif
