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
#include "server/jsonio.h"
#include "server/router.h"
#include "server/txn.h"

static json_t *payment_json(const struct fl_payment_rec *p)
{
	return json_pack(
	        "{s:s,s:s,s:I,s:o,s:s,s:o,s:s,s:b,s:o,s:s?,s:s?}", "id", p->id,
	        "device_id", p->device_id, "amount", (json_int_t)p->amount,
	        "paid_at", fl_json_time(p->paid_at), "reference", p->reference,
	        "recorded_at", fl_json_time(p->recorded_at), "recorded_by",
	        p->recorded_by, "reversed", p->reversed_at != 0, "reversed_at",
	        fl_json_time(p->reversed_at), "reverse_reason",
	        p->reversed_at ? p->reverse_reason : NULL, "reversed_by",
	        p->reversed_at ? p->reversed_by : NULL);
}

static void record(struct fl_req *req)
{
	static const char *const fields[] = {
	        "amount", "paid_at", "reference", "allow_overpayment",
	        "allow_duplicate_reference", NULL};
	struct fl_device *d = calloc(1, sizeof(*d));
	struct fl_payment_rec p;
	struct fl_device_inputs in;
	struct fl_payment_rec earlier;
	struct fl_decision *dec = calloc(1, sizeof(*dec));
	struct fl_decided what;
	struct fl_tx *tx;
	struct fl_jin j;
	bool has_paid_at, allow_over = false, allow_dup = false;
	json_t *out;
	fl_err err;

	memset(&p, 0, sizeof(p));
	memset(&in, 0, sizeof(in));
	if (d == NULL || dec == NULL) {
		fl_reply_error(req, FL_E_NOMEM, NULL);
		goto done;
	}
	if (fl_jin_parse(&j, req) != FL_OK)
		goto done;
	fl_jin_only(&j, fields);
	fl_jin_bool(&j, "allow_overpayment", false, &allow_over);
	fl_jin_bool(&j, "allow_duplicate_reference", false, &allow_dup);
	if (fl_jin_int(&j, "amount", true, &p.amount) &&
	    (p.amount < 1 || p.amount > FL_POLICY_MAX_AMOUNT))
		fl_jin_fail(&j, FL_E_MONEY,
		            "amount must be a whole number of minor units in "
		            "1..%lld",
		            (long long)FL_POLICY_MAX_AMOUNT);
	has_paid_at = fl_jin_time(&j, "paid_at", false, &p.paid_at);
	if (j.err == FL_OK && has_paid_at &&
	    (p.paid_at < 1 || p.paid_at > req->now))
		fl_jin_fail(&j, FL_E_RANGE,
		            "paid_at must not be in the future");
	fl_jin_str(&j, "reference", false, p.reference, sizeof(p.reference));
	if (j.err == FL_OK && !fl_api_text_ok(p.reference))
		fl_jin_fail(&j, FL_E_INVALID, "reference must be printable");
	if (fl_jin_end(&j) != FL_OK)
		goto done;

	if (fl_txn_begin(req, &tx) != FL_OK)
		goto done;
	err = fl_api_path_device(req, tx, d);
	if (err == FL_OK && !d->has_contract)
		err = FL_E_NO_CONTRACT;
	if (err == FL_OK) {
		err = fl_decide_replay(tx, d, fl_decide_now(d, req->now), &in,
		                       dec);
		if (err == FL_OK && in.n_payments >= FL_POLICY_MAX_PAYMENTS)
			err = FL_E_LIMIT;
		fl_device_inputs_clear(&in);
	}
	if (err == FL_OK && !allow_over && p.amount > dec->amount_remaining) {
		fl_txn_abort(req, tx, FL_E_MONEY,
		             "amount %lld is more than the %lld that remains on "
		             "the contract; send allow_overpayment: true to "
		             "record it anyway (the excess shows as credit)",
		             (long long)p.amount,
		             (long long)dec->amount_remaining);
		goto done;
	}
	if (err == FL_OK && !allow_dup && p.reference[0] != '\0') {
		err = fl_store_payment_by_reference(tx, d->tenant_id,
		                                    p.reference, &earlier);
		if (err == FL_OK) {
			fl_txn_abort(req, tx, FL_E_CONFLICT,
			             "reference '%s' was already recorded as "
			             "payment %s (device %s, amount %lld); send "
			             "allow_duplicate_reference: true to record "
			             "it again",
			             p.reference, earlier.id, earlier.device_id,
			             (long long)earlier.amount);
			goto done;
		}
		if (err == FL_E_NOT_FOUND)
			err = FL_OK;
	}
	if (err != FL_OK) {
		fl_txn_abort(req, tx, err,
		             err == FL_E_NOT_FOUND     ? "no such device"
		             : err == FL_E_NO_CONTRACT ? "the device has no "
		                                         "contract"
		             : err == FL_E_LIMIT       ? "the device has too "
		                                         "many payments"
		                                       : NULL);
		goto done;
	}
	fl_id_generate(p.id, "py");
	snprintf(p.tenant_id, sizeof(p.tenant_id), "%s", d->tenant_id);
	snprintf(p.device_id, sizeof(p.device_id), "%s", d->id);
	p.recorded_at = req->now;
	if (!has_paid_at)
		p.paid_at = req->now;
	snprintf(p.recorded_by, sizeof(p.recorded_by), "%s", req->who.key_id);
	err = fl_store_payment_insert(tx, &p);
	if (err == FL_OK)
		err = fl_decide_device(tx, d->tenant_id, d->id, req->now, false,
		                       d, &what);
	if (err == FL_OK)
		err = fl_audit_req(tx, req, "payment.record", p.id, NULL,
		                   payment_json(&p));
	if (err != FL_OK) {
		fl_txn_abort(req, tx, err, NULL);
		goto done;
	}
	out = json_pack("{s:o,s:o}", "payment", payment_json(&p), "device",
	                fl_api_device_json(d));
	fl_reply_json(req, 201, out);
	if (fl_txn_commit(req, tx) == FL_OK)
		fl_decide_committed(req->app, d->id, &what);
done:
	free(dec);
	free(d);
}

static void reverse(struct fl_req *req)
{
	static const char *const fields[] = {"reason", NULL};
	struct fl_device *d = calloc(1, sizeof(*d));
	struct fl_payment_rec before, after;
	char reason[FL_REASON_MAX] = "";
	struct fl_decided what;
	struct fl_tx *tx;
	struct fl_jin j;
	json_t *out;
	fl_err err;

	if (d == NULL) {
		fl_reply_error(req, FL_E_NOMEM, NULL);
		return;
	}
	if (fl_jin_parse(&j, req) != FL_OK)
		goto done;
	fl_jin_only(&j, fields);
	fl_jin_str(&j, "reason", true, reason, sizeof(reason));
	if (j.err == FL_OK && (reason[0] == '\0' || !fl_api_text_ok(reason)))
		fl_jin_fail(&j, FL_E_FIELD_MISSING,
		            "a reason (printable text) is required");
	if (fl_jin_end(&j) != FL_OK)
		goto done;
	if (fl_txn_begin(req, &tx) != FL_OK)
		goto done;
	err = fl_store_payment_get(tx, req->who.tenant_id,
	                           fl_req_param(req, "payment_id"), &before);
	if (err == FL_OK)
		err = fl_store_payment_reverse(tx, req->who.tenant_id,
		                               before.id, req->now, reason,
		                               req->who.key_id);
	if (err == FL_E_NOT_FOUND || err == FL_E_STATE) {
		fl_txn_abort(req, tx, err,
		             err == FL_E_NOT_FOUND
		                     ? "no such payment"
		                     : "the payment is already reversed");
		goto done;
	}
	if (err == FL_OK)
		err = fl_store_payment_get(tx, req->who.tenant_id, before.id,
		                           &after);
	if (err == FL_OK)
		err = fl_decide_device(tx, req->who.tenant_id, before.device_id,
		                       req->now, false, d, &what);
	if (err == FL_OK)
		err = fl_audit_req(tx, req, "payment.reverse", before.id,
		                   payment_json(&before), payment_json(&after));
	if (err != FL_OK) {
		fl_txn_abort(req, tx, err, NULL);
		goto done;
	}
	out = json_pack("{s:o,s:o}", "payment", payment_json(&after), "device",
	                fl_api_device_json(d));
	fl_reply_json(req, 200, out);
	if (fl_txn_commit(req, tx) == FL_OK)
		fl_decide_committed(req->app, d->id, &what);
done:
	free(d);
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
	return json_array_append_new(pl->items, payment_json(p)) == 0
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
		fl_reply_json(req, 200, payment_json(&p));
}

static const struct fl_route routes[] = {
        {"POST", "/v1/devices/{device_id}/payments", record, FL_ROLE_ADMIN},
        {"GET", "/v1/devices/{device_id}/payments", list_device, FL_ROLES_READ},
        {"GET", "/v1/payments", list_tenant, FL_ROLES_READ},
        {"GET", "/v1/payments/{payment_id}", show, FL_ROLES_READ},
        {"POST", "/v1/payments/{payment_id}/reverse", reverse, FL_ROLE_ADMIN},
};

const struct fl_route_table fl_routes_payments = FL_ROUTE_TABLE(routes);
