/* txn.c - request write transactions and idempotency records. */
#include "server/txn.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "server/app.h"
#include "server/route.h"

static fl_err fingerprint(const struct fl_req *req, uint8_t out[FL_HASH_LEN])
{
	fl_blake2b_state st;
	fl_err err = fl_blake2b_init(&st, NULL, 0, FL_HASH_LEN);

	if (err != FL_OK)
		return err;
	fl_blake2b_update(&st, req->method, strlen(req->method) + 1);
	fl_blake2b_update(&st, req->path, strlen(req->path) + 1);
	fl_blake2b_update(&st, req->body, req->body_len);
	fl_blake2b_final(&st, out, FL_HASH_LEN);
	return FL_OK;
}

static bool key_ok(const char *k)
{
	size_t n = strlen(k);

	if (n == 0 || n >= FL_IDEM_KEY_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (k[i] < 0x21 || k[i] > 0x7e)
			return false;
	return true;
}

static void route_name(const struct fl_req *req, char out[FL_ROUTE_MAX])
{
	snprintf(out, FL_ROUTE_MAX, "%s %s", req->method,
	         req->route != NULL ? req->route->pattern : req->path);
}

/* What fl_txn_run hands each attempt. */
struct txn_io {
	struct fl_req *req;
	fl_txn_step step;
	void *ctx;
	const char *key; /* Idempotency-Key, or NULL */
	bool replayed;   /* answered from the idempotency record */
};

/* One attempt: the idempotency record, the step, the record of its
 * answer. */
static fl_err txn_attempt(struct fl_tx *tx, void *arg, fl_time now)
{
	struct txn_io *io = arg;
	struct fl_req *req = io->req;
	char route[FL_ROUTE_MAX];
	uint8_t fp[FL_HASH_LEN];
	struct fl_idem rec;
	fl_err err;

	(void)now;
	fl_reply_reset(req);
	io->replayed = false;
	if (io->key != NULL) {
		route_name(req, route);
		if ((err = fingerprint(req, fp)) != FL_OK)
			return err;
		err = fl_store_idem_get(tx, req->who.tenant_id, route, io->key,
		                        &rec);
		if (err == FL_OK) {
			if (fl_ct_memcmp(fp, rec.fingerprint, FL_HASH_LEN) !=
			    0) {
				free(rec.body);
				fl_reply_error(req, FL_E_IDEMPOTENCY,
				               "Idempotency-Key '%.64s' was used "
				               "for a different request",
				               io->key);
				return FL_E_IDEMPOTENCY;
			}
			fl_reply_raw(req, rec.status, "application/json",
			             rec.body, strlen(rec.body));
			fl_reply_header(req, "Idempotent-Replayed", "true");
			io->replayed = true;
			return FL_E_CONFLICT; /* roll back: nothing to do */
		}
		if (err != FL_E_NOT_FOUND)
			return err;
	}
	err = io->step(tx, req, io->ctx);
	if (err != FL_OK)
		return err;
	if (req->status < 200 || req->status >= 300)
		return FL_E_INTERNAL; /* a step answers 2xx to commit */
	if (io->key != NULL) {
		memset(&rec, 0, sizeof(rec));
		snprintf(rec.tenant_id, sizeof(rec.tenant_id), "%s",
		         req->who.tenant_id);
		route_name(req, rec.route);
		snprintf(rec.key, sizeof(rec.key), "%s", io->key);
		rec.status = req->status;
		rec.body = req->resp != NULL ? req->resp : (char *)"";
		rec.created_at = req->now;
		memcpy(rec.fingerprint, fp, FL_HASH_LEN);
		if ((err = fl_store_idem_put(tx, &rec)) != FL_OK)
			return err;
	}
	return FL_OK;
}

static fl_err run(struct fl_req *req, fl_txn_step step, void *ctx,
                  bool idem)
{
	struct txn_io io = {req, step, ctx,
	                    idem ? fl_req_header(req, "Idempotency-Key")
	                         : NULL,
	                    false};
	fl_err err;

	if (io.key != NULL && !key_ok(io.key)) {
		fl_reply_error(req, FL_E_INVALID,
		               "Idempotency-Key must be 1..%d visible ASCII "
		               "characters",
		               FL_IDEM_KEY_MAX - 1);
		return FL_E_INVALID;
	}
	err = fl_run(req->app->store, req->now, 0, txn_attempt, &io, NULL);
	if (err == FL_OK || io.replayed)
		return err;
	if (fl_run_unavailable(err)) {
		/* the database is away or every attempt was given up */
		fl_reply_reset(req);
		fl_reply_error(req, err,
		               "the database cannot take the change now; "
		               "retry later");
		req->retry = false; /* retried already */
	} else if (req->status == 0 ||
	           (req->status >= 200 && req->status < 300)) {
		/* the step's error had no answer, or the commit failed */
		fl_reply_reset(req);
		fl_reply_error(req, err, err == FL_E_INTERNAL
		                                 ? "the change gave no answer"
		                                 : NULL);
	}
	return err;
}

fl_err fl_txn_run(struct fl_req *req, fl_txn_step step, void *ctx)
{
	return run(req, step, ctx, true);
}

fl_err fl_txn_run_unrecorded(struct fl_req *req, fl_txn_step step, void *ctx)
{
	return run(req, step, ctx, false);
}
