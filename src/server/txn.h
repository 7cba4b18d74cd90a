/*
 * txn.h - the write transaction of a state-changing request, with
 * idempotent retries.
 *
 * A handler that changes state does:
 *
 *     struct fl_tx *tx;
 *     if (fl_txn_begin(req, &tx) != FL_OK)
 *             return;                    (answered: replay, 409 or 5xx)
 *     ... store calls, fl_audit_req(), then fl_reply_json(req, 201, ...)
 *     fl_txn_commit(req, tx);            (answers 5xx itself on failure)
 *
 * or fl_txn_abort(req, tx, err, msg) on a failure after begin.
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
#include "server/http.h"
#include "store/store.h"

/* Begins a write transaction for req. Anything but FL_OK means req has
 * been answered and *tx is NULL. */
fl_err fl_txn_begin(struct fl_req *req, struct fl_tx **tx) FL_MUST_USE;

/* Stores the idempotent answer (if any) and commits. On failure the answer
 * already set is replaced by an error answer. Returns the commit result. */
fl_err fl_txn_commit(struct fl_req *req, struct fl_tx *tx);

/* Rolls back and answers err (message printf-style; NULL: default). */
void fl_txn_abort(struct fl_req *req, struct fl_tx *tx, fl_err err,
                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
