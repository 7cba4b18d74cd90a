/*
 * api_payments.c - money received: record (amount in minor units, paid_at,
 * reference; retried safely with an Idempotency-Key), reverse with a
 * reason, list and show. Recording or reversing re-decides the device in
 * the same transaction, so a payment that brings the account up to date
 * unlocks it in the answer to the request that recorded it.
 *
 * Money typed in by hand is checked before it counts: a payment larger
 * than what remains on the contract is refused unless "allow_overpayment"
 * is true (the excess then shows as the device's credit), and a
 * reference already recorded on the tenant is refused with 409 naming the
 * earlier payment unless "allow_duplicate_reference" is true.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/policy.h"
#include "server/api.h"
#include "server/app.h"
#include "server/audit.h"
#include "server/auth.h"
#include "server/decide.h"
#include "server/devices.h"
#include "server/jsonio.h"
#include "server/payments.h"
#include "server/route.h"
#include "server/txn.h"

/* The step of recording: the rules (payments.h), then the answer. */
struct record_io {
	struct fl_pay_input in;
	struct fl_pay_result out;
};

static fl_err record_step(struct fl_tx *tx, struct fl_req *req, void *ctx)
{
	struct record_io *io = ctx;
	fl_err err = fl_pay_record(tx, &io->in, req->now, &io->out);

	if (err != FL_OK) {
		if (io->out.msg[0] != '\0')
			fl_reply_error(req, err, "%s", io->out.msg);
		return err;
	}
	fl_reply_json(req, 201,
	              json_pack("{s:o,s:o}", "payment",
	                        fl_pay_json(&io->out.payment), "device",
	                        fl_device_json(&io->out.device)));
	return FL_OK;
}

static void record(struct fl_req *req)
{
	static const char *const fields[] = {
	        "amount", "paid_at", "reference", "allow_overpayment",
	        "allow_duplicate_reference", NULL};
	struct record_io *io = calloc(1, sizeof(*io));
	struct fl_pay_input *in;
	struct fl_jin j;
	bool has_paid_at;

	if (io == NULL) {
		fl_reply_error(req, FL_E_NOMEM, NULL);
		return;
	}
	in = &io->in;
	if (fl_jin_parse(&j, req) != FL_OK)
		goto done;
	fl_jin_only(&j, fields);
	fl_jin_bool(&j, "allow_overpayment", false, &in->allow_over);
	fl_jin_bool(&j, "allow_duplicate_reference", false, &in->allow_dup);
	if (fl_jin_int(&j, "amount", true, &in->amount) &&
	    (in->amount < 1 || in->amount > FL_POLICY_MAX_AMOUNT))
		fl_jin_fail(&j, FL_E_MONEY,
		            "amount must be a whole number of minor units in "
		            "1..%lld",
		            (long long)FL_POLICY_MAX_AMOUNT);
	has_paid_at = fl_jin_time(&j, "paid_at", false, &in->paid_at);
	if (j.err == FL_OK && has_paid_at &&
	    (in->paid_at < 1 || in->paid_at > req->now))
		fl_jin_fail(&j, FL_E_RANGE,
		            "paid_at must not be in the future");
	fl_jin_str(&j, "reference", false, in->reference,
	           sizeof(in->reference));
	if (j.err == FL_OK && !fl_api_text_ok(in->reference))
		fl_jin_fail(&j, FL_E_INVALID, "reference must be printable");
	if (fl_jin_end(&j) != FL_OK)
		goto done;
	if (!has_paid_at)
		in->paid_at = 0;
	snprintf(in->tenant_id, sizeof(in->tenant_id), "%s",
	         req->who.tenant_id);
	snprintf(in->device_id, sizeof(in->device_id), "%s",
	         fl_req_param(req, "device_id"));
	snprintf(in->actor, sizeof(in->actor), "%s", req->who.key_id);
	if (fl_txn_run(req, record_step, io) == FL_OK)
		fl_decide_committed(req->app, io->out.device.id,
		                    &io->out.what);
done:
	free(io);
}

struct reverse_io {
	char reason[FL_REASON_MAX];
	struct fl_pay_result out;
};

static fl_err reverse_step(struct fl_tx *tx, struct fl_req *req, void *ctx)
{
	struct reverse_io *io = ctx;
	fl_err err = fl_pay_reverse(tx, req->who.tenant_id,
	                            fl_req_param(req, "payment_id"),
	                            req->who.key_id, io->reason, req->now,
	                            &io->out);

	if (err != FL_OK) {
		if (io->out.msg[0] != '\0')
			fl_reply_error(req, err, "%s", io->out.msg);
		return err;
	}
	fl_reply_json(req, 200,
	              json_pack("{s:o,s:o}", "payment",
	                        fl_pay_json(&io->out.payment), "device",
	                        fl_device_json(&io->out.device)));
	return FL_OK;
}

static void reverse(struct fl_req *req)
{
	static const char *const fields[] = {"reason", NULL};
	struct reverse_io *io = calloc(1, sizeof(*io));
	struct fl_jin j;

	if (io == NULL) {
		fl_reply_error(req, FL_E_NOMEM, NULL);
		return;
	}
	if (fl_jin_parse(&j, req) != FL_OK)
		goto done;
	fl_jin_only(&j, fields);
	fl_jin_str(&j, "reason", true, io->reason, sizeof(io->reason));
	if (j.err == FL_OK &&
	    (io->reason[0] == '\0' || !fl_api_text_ok(io->reason)))
		fl_jin_fail(&j, FL_E_FIELD_MISSING,
		            "a reason (printable text) is required");
	if (fl_jin_end(&j) != FL_OK)
		goto done;
	if (fl_txn_run(req, reverse_step, io) == FL_OK)
		fl_decide_committed(req->app, io->out.device.id,
		                    &io->out.what);
done:
	free(io);
}

struct plist {
	json_t *items;
	int64_t last;
	int n;
};

static fl_err payment_one(void *ctx, const struct fl_payment_rec *p)
{
	struct plist *pl = ctx;

	pl->last = p->ord;
	pl->n++;
	return json_array_append_new(pl->items, fl_pay_json(p)) == 0
	               ? FL_OK
	               : FL_E_NOMEM;
}

/* Lists payments of the tenant, of one device when device_id is set. */
static void list_of(struct fl_req *req, const char *device_id,
                    const char *const *allowed)
{
	struct plist pl = {0};
	struct fl_device *d = NULL;
	struct fl_tx *tx = NULL;
	int64_t after;
	int limit;
	fl_err err;

	if (fl_req_query_only(req, allowed) != FL_OK ||
	    fl_req_page(req, &after, &limit) != FL_OK)
		return;
	if ((pl.items = json_array()) == NULL ||
	    (d = calloc(1, sizeof(*d))) == NULL) {
		json_decref(pl.items);
		fl_reply_error(req, FL_E_NOMEM, NULL);
		return;
	}
	if ((err = fl_store_begin(req->app->store, false, &tx)) == FL_OK) {
		/* A device named in the path must be the caller's. */
		if (fl_req_param(req, "device_id") != NULL)
			err = fl_api_path_device(req, tx, d);
		if (err == FL_OK)
			err = fl_store_payment_list(tx, req->who.tenant_id,
			                            device_id, after, limit,
			                            payment_one, &pl);
		fl_tx_rollback(tx);
	}
	free(d);
	if (err != FL_OK) {
		json_decref(pl.items);
		fl_reply_error(req, err,
		               err == FL_E_NOT_FOUND ? "no such device" : NULL);
		return;
	}
	fl_reply_page(req, pl.items, pl.n == limit ? pl.last : 0);
}

static void list_device(struct fl_req *req)
{
	static const char *const q[] = {"cursor", "limit", NULL};

	list_of(req, fl_req_param(req, "device_id"), q);
}

static void list_tenant(struct fl_req *req)
{
	static const char *const q[] = {"cursor", "limit", "device_id", NULL};

	list_of(req, fl_req_query(req, "device_id"), q);
}

static void show(struct fl_req *req)
{
	static const char *const q[] = {NULL};
	struct fl_payment_rec p;
	struct fl_tx *tx = NULL;
	fl_err err;

	if (fl_req_query_only(req, q) != FL_OK)
		return;
	if ((err = fl_store_begin(req->app->store, false, &tx)) == FL_OK) {
		err = fl_store_payment_get(tx, req->who.tenant_id,
		                           fl_req_param(req, "payment_id"), &p);
		fl_tx_rollback(tx);
	}
	if (err != FL_OK)
		fl_reply_error(req, err,
		               err == FL_E_NOT_FOUND ? "no such payment"
		                                     : NULL);
	else
		fl_reply_json(req, 200, fl_pay_json(&p));
}

static const struct fl_route routes[] = {
        {"POST", "/v1/devices/{device_id}/payments", record, FL_ROLE_ADMIN},
        {"GET", "/v1/devices/{device_id}/payments", list_device, FL_ROLES_READ},
        {"GET", "/v1/payments", list_tenant, FL_ROLES_READ},
        {"GET", "/v1/payments/{payment_id}", show, FL_ROLES_READ},
        {"POST", "/v1/payments/{payment_id}/reverse", reverse, FL_ROLE_ADMIN},
};

const struct fl_route_table fl_routes_payments = FL_ROUTE_TABLE(routes);
