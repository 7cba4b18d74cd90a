/*
 * enrollment.c - a phone taking its keys, as stored (enrollment.h).
 */
#include "server/enrollment.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "core/state.h"
#include "server/audit.h"
#include "server/events.h"
#include "server/jsonval.h"

#define PAIRING_TTL FL_DAY /* a pending pairing request lives this long */

static bool keys_equal(const struct fl_device *d,
                       const struct fl_dp_enroll_req *er)
{
	return d->has_keys &&
	       memcmp(d->device_pk, er->sign_pk, FL_SIGN_PK_LEN) == 0 &&
	       memcmp(d->kx_pk, er->kx_pk, FL_KX_PK_LEN) == 0;
}

/* Whether d was released (paid off or by an admin): for good. A report
 * of theft after release leaves the decision released (it shows only in
 * the public check and its certificate). */
static bool released_for_good(const struct fl_device *d)
{
	return d->st.state == FL_ST_RELEASED;
}

static bool has_imei(const struct fl_device *d, const char *imei)
{
	return strcmp(d->imei, imei) == 0 ||
	       (d->imei2[0] != '\0' && strcmp(d->imei2, imei) == 0);
}

/* An audit entry for something a phone did: the device is the actor. */
static fl_err audit_device(struct fl_tx *tx, const struct fl_device *d,
                           fl_time now, const char *action, json_t *after)
{
	return fl_audit_append(tx, d->tenant_id, d->id, now, action, d->id,
	                       NULL, after);
}

/* Gives device d the keys of er in tx: new keys, counter from 0, pairing
 * requests dropped, the decision taken again. An enrollment by one-time
 * code (by_code) also registers er's factory key, or none for a phone
 * that sent none; a re-enrollment by pairing keeps the one registered.
 * Audited as action. */
static fl_err enroll_keys(struct fl_tx *tx, fl_time now, struct fl_device *d,
                          const struct fl_dp_enroll_req *er, bool by_code,
                          const char *action, struct fl_decided *what)
{
	char pk[64];
	fl_err err;

	err = fl_store_dp_enroll(tx, d->id, er->sign_pk, er->kx_pk, now);
	if (err == FL_OK && by_code)
		err = fl_store_dp_set_factory(
		        tx, d->id, er->has_factory ? er->factory_pk : NULL);
	/* the enrollment's event first (the device as it was before its
	 * decision), then the decision's (a lock) */
	if (err == FL_OK)
		err = fl_event_device(
		        tx, d, "device.enrolled",
		        json_pack("{s:s}", "by", by_code ? "code" : "pairing"),
		        now);
	if (err == FL_OK)
		err = fl_decide_device(tx, d->tenant_id, d->id, now, false, d,
		                       what);
	if (err != FL_OK)
		return err;
	if (fl_b64url_encode(pk, sizeof(pk), er->sign_pk, FL_SIGN_PK_LEN) !=
	    FL_OK)
		return FL_E_INTERNAL;
	return audit_device(
	        tx, d, now, action,
	        json_pack("{s:s,s:s,s:s,s:s,s:I,s:b}", "by",
	                  by_code ? "code" : "pairing", "sign_pk", pk, "imei",
	                  er->imei[0], "serial", er->serial, "token_seq",
	                  (json_int_t)d->st.token_seq, "factory_key",
	                  by_code ? er->has_factory : d->has_factory));
}

/* Whether er is signed by the factory key registered for d (the
 * signature itself was checked by fl_dp_enroll_verify). */
static bool factory_signed(const struct fl_device *d,
                           const struct fl_dp_enroll_req *er)
{
	return er->has_factory && d->has_factory &&
	       fl_ct_memcmp(er->factory_pk, d->factory_pk, FL_SIGN_PK_LEN) == 0;
}

/* A device's pending pairing requests: how many, and the oldest one not
 * signed by the factory key (0: none). */
struct pending_count {
	int n;
	int64_t oldest_unsigned;
};

static fl_err count_pending(void *ctx, const struct fl_pairing_rec *r)
{
	struct pending_count *c = ctx;

	if (r->status != FL_PAIRING_PENDING)
		return FL_OK;
	c->n++;
	if (!r->factory_signed && c->oldest_unsigned == 0)
		c->oldest_unsigned = r->ord;
	return FL_OK;
}

/* Admits a new pairing request pr into tx within the bounds: pending
 * requests per device (FL_PAIRING_MAX) and, for requests not signed by
 * the device's factory key, per client network across all devices
 * (FL_PAIRING_NET_MAX). A factory-signed request is always admitted: at
 * the device's bound it takes the place of the oldest unsigned one
 * (*replaced, else 0). FL_E_LIMIT with *why set when refused. */
static fl_err pairing_admit(struct fl_tx *tx, const struct fl_pairing_rec *pr,
                            fl_time now, int64_t *replaced, const char **why)
{
	struct pending_count pc = {0, 0};
	int64_t from_net = 0;
	fl_err err;

	*replaced = 0;
	*why = NULL;
	if ((err = fl_store_pairing_list(tx, pr->device_id, count_pending,
	                                 &pc)) != FL_OK)
		return err;
	if (pr->factory_signed) {
		if (pc.n < FL_PAIRING_MAX || pc.oldest_unsigned == 0)
			return FL_OK;
		*replaced = pc.oldest_unsigned;
		return fl_store_pairing_drop(tx, pr->device_id, *replaced);
	}
	if (pc.n >= FL_PAIRING_MAX) {
		*why = "too many pairing requests wait for this device";
		return FL_E_LIMIT;
	}
	if ((err = fl_store_pairing_count_net(tx, pr->client_net, now,
	                                      &from_net)) != FL_OK)
		return err;
	if (from_net >= FL_PAIRING_NET_MAX) {
		*why = "too many pairing requests wait from this network";
		return FL_E_LIMIT;
	}
	return FL_OK;
}

/* Ends an attempt with an outcome that writes nothing: the runner rolls
 * the transaction back (FL_E_STATE, with out->outcome set). */
static fl_err answer_only(struct fl_enroll_result *out,
                          enum fl_enroll_outcome outcome)
{
	out->outcome = outcome;
	return FL_E_STATE;
}

/* Ends an attempt with a refusal of the protocol (no write). */
static fl_err refuse(struct fl_enroll_result *out, int status, const char *code,
                     const char *msg)
{
	out->status = status;
	out->code = code;
	snprintf(out->msg, sizeof(out->msg), "%s", msg);
	return answer_only(out, FL_ENROLL_REFUSED);
}

/* --- by one-time code -------------------------------------------------------
 */

static fl_err by_code(struct fl_tx *tx, const struct fl_enroll_in *in,
                      fl_time now, struct fl_enroll_result *out)
{
	const struct fl_dp_enroll_req *er = in->er;
	struct fl_device *d = &out->device;
	struct fl_used_code used;
	fl_err err;

	err = fl_store_device_by_enroll_hash(tx, in->code_hash, d);
	/* the device locked, then read again under its lock */
	if (err == FL_OK && (err = fl_store_lock_device(tx, d->id)) == FL_OK)
		err = fl_store_device_by_enroll_hash(tx, in->code_hash, d);
	if (err == FL_E_NOT_FOUND) {
		/* Used already: a retry with the same keys is answered again
		 * (its first answer may have been lost). */
		err = fl_store_used_code_get(tx, in->code_hash, &used);
		if (err == FL_E_NOT_FOUND)
			return refuse(out, 404, "unknown_code",
			              "no such enrollment code");
		if (err == FL_OK)
			err = fl_store_device_get_any(tx, used.device_id, d);
		if (err != FL_OK)
			return err;
		if (!has_imei(d, er->imei[0]))
			return refuse(out, 422, "imei_mismatch",
			              "the code is for another device");
		if (memcmp(used.sign_pk, er->sign_pk, FL_SIGN_PK_LEN) != 0 ||
		    memcmp(used.kx_pk, er->kx_pk, FL_KX_PK_LEN) != 0 ||
		    !keys_equal(d, er))
			return refuse(out, 409, "code_used",
			              "this enrollment code was used already");
		return answer_only(out, FL_ENROLL_AGAIN);
	}
	if (err != FL_OK)
		return err;
	if (d->enroll_expires <= now)
		return refuse(out, 410, "code_expired",
		              "this enrollment code has expired; ask for a new "
		              "one");
	if (!has_imei(d, er->imei[0]))
		return refuse(out, 422, "imei_mismatch",
		              "the code is for another device");
	memset(&used, 0, sizeof(used));
	memcpy(used.hash, in->code_hash, FL_HASH_LEN);
	snprintf(used.device_id, sizeof(used.device_id), "%s", d->id);
	memcpy(used.sign_pk, er->sign_pk, FL_SIGN_PK_LEN);
	memcpy(used.kx_pk, er->kx_pk, FL_KX_PK_LEN);
	used.used_at = now;
	if ((err = fl_store_used_code_put(tx, &used)) != FL_OK ||
	    (err = enroll_keys(tx, now, d, er, true, "device.enroll",
	                       &out->what)) != FL_OK)
		return err;
	out->outcome = FL_ENROLL_DONE;
	return FL_OK;
}

/* --- by an approved pairing -------------------------------------------------
 */

static fl_err by_pairing(struct fl_tx *tx, const struct fl_enroll_in *in,
                         fl_time now, struct fl_enroll_result *out)
{
	const struct fl_dp_enroll_req *er = in->er;
	struct fl_device *d = &out->device;
	struct fl_pairing_rec pr;
	const char *why = NULL;
	int64_t replaced = 0;
	fl_err err;

	fl_dp_pairing_code(er->sign_pk, er->kx_pk, out->pairing_code);
	err = fl_store_device_by_imei(tx, er->imei[0], d);
	/* the device locked, then read again under its lock */
	if (err == FL_OK) {
		char id[FL_ID_MAX];

		memcpy(id, d->id, sizeof(id)); /* d is overwritten */
		if ((err = fl_store_lock_device(tx, id)) == FL_OK)
			err = fl_store_device_get_any(tx, id, d);
	}
	if (err == FL_E_NOT_FOUND || (err == FL_OK && d->enrolled_at == 0) ||
	    (err == FL_OK && released_for_good(d)))
		return refuse(
		        out, 404, "not_in_program",
		        "this IMEI is in no program a phone can re-enroll "
		        "in");
	if (err != FL_OK)
		return err;
	if (keys_equal(d, er)) /* enrolled already: an answer that was lost */
		return answer_only(out, FL_ENROLL_AGAIN);
	if ((err = fl_store_pairing_expire(tx, d->id, now)) != FL_OK)
		return err;
	err = fl_store_pairing_get(tx, d->id, er->sign_pk, er->kx_pk, &pr);
	if (err == FL_E_NOT_FOUND) {
		memset(&pr, 0, sizeof(pr));
		snprintf(pr.device_id, sizeof(pr.device_id), "%s", d->id);
		memcpy(pr.sign_pk, er->sign_pk, FL_SIGN_PK_LEN);
		memcpy(pr.kx_pk, er->kx_pk, FL_KX_PK_LEN);
		memcpy(pr.code, out->pairing_code, sizeof(pr.code));
		pr.created_at = now;
		pr.expires_at = now + PAIRING_TTL;
		pr.status = FL_PAIRING_PENDING;
		pr.factory_signed = factory_signed(d, er);
		snprintf(pr.client_net, sizeof(pr.client_net), "%s",
		         in->client_net);
		err = pairing_admit(tx, &pr, now, &replaced, &why);
		if (err == FL_E_LIMIT)
			return refuse(out, 429, "rate_limited", why);
		if (err != FL_OK ||
		    (err = fl_store_pairing_put(tx, &pr)) != FL_OK ||
		    (err = audit_device(
		             tx, d, now, "device.pairing_request",
		             json_pack("{s:s,s:s,s:o,s:I,s:b,s:s,s:I}",
		                       "pairing_code", out->pairing_code,
		                       "imei", er->imei[0], "expires_at",
		                       fl_json_time(pr.expires_at),
		                       "request_id", (json_int_t)pr.ord,
		                       "factory_signed", pr.factory_signed,
		                       "client_network", pr.client_net,
		                       "replaced", (json_int_t)replaced))) !=
		            FL_OK)
			return err;
		out->outcome = FL_ENROLL_PENDING; /* committed: a new request */
		return FL_OK;
	}
	if (err != FL_OK)
		return err;
	if (pr.status == FL_PAIRING_REJECTED)
		return refuse(out, 403, "pairing_rejected",
		              "the lender refused this pairing code");
	if (pr.status == FL_PAIRING_PENDING)
		return answer_only(out, FL_ENROLL_PENDING);
	if ((err = enroll_keys(tx, now, d, er, false, "device.reenroll",
	                       &out->what)) != FL_OK)
		return err;
	out->outcome = FL_ENROLL_DONE;
	return FL_OK;
}

fl_err fl_enroll_apply(struct fl_tx *tx, void *io, fl_time now)
{
	struct fl_enroll_io *e = io;

	memset(&e->out, 0, sizeof(e->out));
	return e->in.er->code[0] != '\0' ? by_code(tx, &e->in, now, &e->out)
	                                 : by_pairing(tx, &e->in, now, &e->out);
}
