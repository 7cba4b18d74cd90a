/* sources.c - provider callbacks: matching, recording, unmatched
 * payments, pending releases. */
#include "server/sources.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "core/imei.h"
#include "server/audit.h"
#include "server/auth.h"
#include "server/events.h"
#include "server/jsonval.h"
#include "server/log.h"
#include "server/netaddr.h"

/* Safaricom's Daraja callback addresses as Safaricom publishes them for
 * allow-listing (docs/payments.md says where to check for changes). */
const char fl_src_safaricom_networks[] =
        "196.201.214.200/32,196.201.214.206/32,196.201.213.114/32,"
        "196.201.214.207/32,196.201.214.208/32,196.201.213.44/32,"
        "196.201.212.127/32,196.201.212.138/32,196.201.212.129/32,"
        "196.201.212.136/32,196.201.212.74/32,196.201.212.69/32";

/* Domain of the URL secret's hash, apart from API keys under the same
 * hash key. */
static const char secret_domain[] = "finlock:source-url-secret:";

static void secret_hash(const uint8_t hash_key[32], const char *text,
                        uint8_t hash[FL_HASH_LEN])
{
	fl_blake2b_state st;

	if (fl_blake2b_init(&st, hash_key, 32, FL_HASH_LEN) != FL_OK) {
		memset(hash, 0, FL_HASH_LEN);
		return;
	}
	fl_blake2b_update(&st, secret_domain, sizeof(secret_domain) - 1);
	fl_blake2b_update(&st, text, strlen(text));
	fl_blake2b_final(&st, hash, FL_HASH_LEN);
}

void fl_src_secret_new(const uint8_t hash_key[32],
                       char text[FL_SRC_SECRET_LEN + 1],
                       uint8_t hash[FL_HASH_LEN])
{
	uint8_t raw[32];

	fl_random(raw, sizeof(raw));
	if (fl_b64url_encode(text, FL_SRC_SECRET_LEN + 1, raw, sizeof(raw)) !=
	    FL_OK)
		text[0] = '\0'; /* cannot happen: the sizes are fixed */
	fl_wipe(raw, sizeof(raw));
	secret_hash(hash_key, text, hash);
}

bool fl_src_secret_ok(const uint8_t hash_key[32],
                      const struct fl_source_rec *src, const char *text)
{
	uint8_t h[FL_HASH_LEN];
	bool ok;

	/* the hash is computed whatever the text, so a wrong secret costs
	 * what a right one does */
	secret_hash(hash_key, text != NULL ? text : "", h);
	ok = fl_ct_memcmp(h, src->path_hash, FL_HASH_LEN) == 0 &&
	     text != NULL && strlen(text) == FL_SRC_SECRET_LEN;
	fl_wipe(h, sizeof(h));
	return ok;
}

bool fl_src_addr_ok(const struct fl_source_rec *src, const char *client)
{
	struct fl_cidr nets[FL_NET_MAX_CIDRS];
	uint8_t addr[16];
	size_t n = 0;

	if (fl_net_parse_cidrs(src->networks, nets, FL_NET_MAX_CIDRS, &n) !=
	            FL_OK ||
	    fl_net_addr_parse(client, strlen(client), addr) != FL_OK)
		return false;
	return fl_net_in(nets, n, addr);
}

void fl_src_redact_path(const char *path, char *out, size_t cap)
{
	static const char prefix[] = "/v1/callbacks/";
	const char *id, *secret, *rest;

	if (path == NULL) {
		snprintf(out, cap, "%s", "");
		return;
	}
	if (strncmp(path, prefix, sizeof(prefix) - 1) != 0) {
		snprintf(out, cap, "%s", path);
		return;
	}
	id = path + sizeof(prefix) - 1;
	secret = strchr(id, '/');
	if (secret == NULL) {
		snprintf(out, cap, "%s", path);
		return;
	}
	secret++;
	rest = strchr(secret, '/');
	snprintf(out, cap, "%.*sREDACTED%s", (int)(secret - path), path,
	         rest != NULL ? rest : "");
}

void fl_src_norm_ref(const char *in, char out[FL_LOAN_REF_MAX])
{
	size_t n = 0;

	for (; *in != '\0' && n + 1 < FL_LOAN_REF_MAX; in++) {
		if (*in == ' ' || *in == '\t')
			continue;
		out[n++] = (char)tolower((unsigned char)*in);
	}
	out[n] = '\0';
}

void fl_src_result_clear(struct fl_src_result *r)
{
	if (r == NULL)
		return;
	free(r->pay);
	memset(r, 0, sizeof(*r));
}

fl_err fl_src_event(struct fl_tx *tx, const char *tenant_id, const char *type,
                    json_t *data, fl_time now)
{
	/* the lender's webhooks: in the outbox of this transaction */
	return fl_event_emit(tx, tenant_id, type, data, now);
}

json_t *fl_src_json(const struct fl_source_rec *s, fl_time now)
{
	bool stale = s->disabled_at == 0 && s->max_silence > 0 &&
	             now - (s->last_callback_at != 0 ? s->last_callback_at
	                                             : s->created_at) >
	                     s->max_silence;
	json_t *nets = json_array();
	const char *p = s->networks;

	while (nets != NULL && *p != '\0') {
		const char *end = strchr(p, ',');
		size_t n = end != NULL ? (size_t)(end - p) : strlen(p);

		json_array_append_new(nets, json_stringn(p, n));
		p += n;
		if (*p == ',')
			p++;
	}
	return json_pack(
	        "{s:s,s:s,s:s,s:s,s:s,s:o,s:I,s:o,s:o,s:o,s:o,s:s,s:b}", "id",
	        s->id, "kind", s->kind, "name", s->name, "shortcode",
	        s->shortcode, "currency", s->currency, "allowed_networks", nets,
	        "max_silence", (json_int_t)s->max_silence, "created_at",
	        fl_json_time(s->created_at), "disabled_at",
	        fl_json_time(s->disabled_at), "rotated_at",
	        fl_json_time(s->rotated_at), "last_callback_at",
	        fl_json_time(s->last_callback_at), "health",
	        s->disabled_at != 0 ? "disabled"
	        : stale             ? "stale"
	                            : "healthy",
	        "enabled", s->disabled_at == 0);
}

json_t *fl_src_unmatched_json(const struct fl_unmatched_rec *u)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:I,s:s,s:o,s:s,s:s,s:o,s:s?,s:o,"
	                 "s:s?}",
	                 "id", u->id, "source_id", u->source_id, "reference",
	                 u->reference, "account", u->account, "amount",
	                 (json_int_t)u->amount, "currency", u->currency,
	                 "paid_at", fl_json_time(u->paid_at), "reason",
	                 u->reason, "payer", u->payer, "received_at",
	                 fl_json_time(u->created_at), "payment_id",
	                 u->payment_id[0] ? u->payment_id : NULL, "assigned_at",
	                 fl_json_time(u->assigned_at), "assigned_by",
	                 u->assigned_by[0] ? u->assigned_by : NULL);
}

fl_err fl_src_match(struct fl_tx *tx, const char *tenant_id,
                    const char *account, char device_id[FL_ID_MAX])
{
	char norm[FL_LOAN_REF_MAX], imei[FL_IMEI_LEN + 1];
	struct fl_device *d;
	fl_err err;

	fl_src_norm_ref(account, norm);
	if (norm[0] == '\0') {
		device_id[0] = '\0';
		return FL_E_NOT_FOUND;
	}
	err = fl_store_contract_by_ref(tx, tenant_id, norm, device_id);
	if (err != FL_E_NOT_FOUND)
		return err;
	/* an IMEI of one of the tenant's devices */
	if (fl_imei_parse(norm, strlen(norm), imei) != FL_OK)
		return FL_E_NOT_FOUND;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return FL_E_NOMEM;
	err = fl_store_device_by_imei(tx, imei, d);
	if (err == FL_OK && strcmp(d->tenant_id, tenant_id) != 0)
		err = FL_E_NOT_FOUND;
	if (err == FL_OK)
		snprintf(device_id, FL_ID_MAX, "%s", d->id);
	free(d);
	return err;
}

/* The fingerprint of what a provider reference stands for. */
static void fingerprint(const struct fl_src_payment *in,
                        uint8_t out[FL_HASH_LEN])
{
	char norm[FL_LOAN_REF_MAX], amount[32];
	fl_blake2b_state st;

	fl_src_norm_ref(in->account, norm);
	snprintf(amount, sizeof(amount), "%lld", (long long)in->amount);
	if (fl_blake2b_init(&st, NULL, 0, FL_HASH_LEN) != FL_OK) {
		memset(out, 0, FL_HASH_LEN);
		return;
	}
	fl_blake2b_update(&st, norm, strlen(norm) + 1);
	fl_blake2b_update(&st, amount, strlen(amount) + 1);
	fl_blake2b_update(&st, in->currency, strlen(in->currency));
	fl_blake2b_final(&st, out, FL_HASH_LEN);
}

/* Keeps in as an unmatched payment of src for `reason`; with_ref: the
 * provider reference is remembered as having become it. */
static fl_err keep_unmatched(struct fl_tx *tx, const struct fl_source_rec *src,
                             const struct fl_src_payment *in, fl_time now,
                             const char *reason, bool with_ref,
                             struct fl_src_result *out)
{
	struct fl_unmatched_rec *u = &out->um;
	json_t *j;
	fl_err err;

	memset(u, 0, sizeof(*u));
	fl_id_generate(u->id, "um");
	snprintf(u->tenant_id, sizeof(u->tenant_id), "%s", src->tenant_id);
	snprintf(u->source_id, sizeof(u->source_id), "%s", src->id);
	snprintf(u->reference, sizeof(u->reference), "%s", in->ref);
	snprintf(u->account, sizeof(u->account), "%s", in->account);
	u->amount = in->amount;
	memcpy(u->currency, in->currency, sizeof(u->currency));
	u->paid_at = in->paid_at != 0 ? in->paid_at : now;
	snprintf(u->reason, sizeof(u->reason), "%s", reason);
	snprintf(u->payer, sizeof(u->payer), "%s", in->payer);
	u->created_at = now;
	if ((err = fl_store_unmatched_insert(tx, u)) != FL_OK)
		return err;
	out->unmatched = true;
	if (with_ref) {
		snprintf(out->ref.unmatched_id, sizeof(out->ref.unmatched_id),
		         "%s", u->id);
		err = fl_store_provider_ref_put(tx, &out->ref);
		if (err == FL_E_CONFLICT)
			return FL_E_STORE_RETRY; /* stored meanwhile: replay */
		if (err != FL_OK)
			return err;
	}
	j = fl_src_unmatched_json(u);
	if ((err = fl_audit_append(tx, src->tenant_id, src->id, now,
	                           "payment.unmatched", u->id, NULL,
	                           json_incref(j))) == FL_OK)
		err = fl_src_event(tx, src->tenant_id, "payment.unmatched",
		                   json_incref(j), now);
	json_decref(j);
	return err;
}

/* A replay: what the first callback became. */
static fl_err replay(struct fl_tx *tx, const struct fl_provider_ref *prev,
                     struct fl_src_result *out)
{
	fl_err err = FL_OK;

	out->replay = true;
	out->ref = *prev;
	if (prev->unmatched_id[0] != '\0') {
		out->unmatched = true;
		return fl_store_unmatched_get(tx, prev->tenant_id,
		                              prev->unmatched_id, &out->um);
	}
	if ((out->pay = calloc(1, sizeof(*out->pay))) == NULL)
		return FL_E_NOMEM;
	err = fl_store_payment_get(tx, prev->tenant_id, prev->payment_id,
	                           &out->pay->payment);
	if (err == FL_OK)
		err = fl_store_device_get(tx, prev->tenant_id,
		                          out->pay->payment.device_id,
		                          &out->pay->device);
	if (err == FL_OK) {
		struct fl_pending_release pr;

		err = fl_store_pending_release_get(tx, out->pay->device.id,
		                                   &pr);
		out->release_pending = err == FL_OK;
		if (err == FL_E_NOT_FOUND)
			err = FL_OK;
	}
	return err;
}

/* Whether recording amount for device_id would release it by payment:
 * then a pending release is stored first (fl_src_release_gate holds the
 * release). *currency_ok: the contract's currency is the payment's. */
static fl_err before_record(struct fl_tx *tx, const char *tenant_id,
                            const char *device_id,
                            const struct fl_src_payment *in, fl_time now,
                            bool *would_release, bool *currency_ok)
{
	struct fl_device *d = calloc(1, sizeof(*d));
	struct fl_decision *dec = calloc(1, sizeof(*dec));
	struct fl_device_inputs inputs;
	fl_err err;

	*would_release = false;
	*currency_ok = false;
	memset(&inputs, 0, sizeof(inputs));
	if (d == NULL || dec == NULL) {
		err = FL_E_NOMEM;
		goto out;
	}
	if ((err = fl_store_lock_device(tx, device_id)) != FL_OK ||
	    (err = fl_store_device_load(tx, tenant_id, device_id, d,
	                                &inputs)) != FL_OK)
		goto out;
	if (!inputs.has_contract)
		goto out; /* fl_pay_record refuses it */
	*currency_ok = strcmp(inputs.contract.currency, in->currency) == 0;
	if ((err = fl_decide_policy(d, &inputs, fl_decide_now(d, now), dec)) !=
	    FL_OK)
		goto out;
	*would_release = d->st.state != FL_ST_RELEASED &&
	                 dec->state != FL_ST_RELEASED &&
	                 !dec->released_by_command &&
	                 in->amount >= dec->amount_remaining;
out:
	fl_device_inputs_clear(&inputs);
	free(dec);
	free(d);
	return err;
}

fl_err fl_src_receive(struct fl_tx *tx, const struct fl_source_rec *src,
                      const struct fl_src_payment *in, fl_time now,
                      struct fl_src_result *out)
{
	char device_id[FL_ID_MAX], reason[FL_REASON_MAX];
	struct fl_provider_ref prev;
	struct fl_pay_input *pin = NULL;
	bool would_release = false, currency_ok = false;
	fl_err err;

	memset(out, 0, sizeof(*out));
	snprintf(out->ref.source_id, sizeof(out->ref.source_id), "%s", src->id);
	snprintf(out->ref.ref, sizeof(out->ref.ref), "%s", in->ref);
	snprintf(out->ref.tenant_id, sizeof(out->ref.tenant_id), "%s",
	         src->tenant_id);
	fingerprint(in, out->ref.fingerprint);
	out->ref.amount = in->amount;
	out->ref.created_at = now;
	if ((err = fl_store_source_touch(tx, src->id, now)) != FL_OK)
		goto out;

	err = fl_store_provider_ref_get(tx, src->id, in->ref, &prev);
	if (err == FL_OK) {
		if (fl_ct_memcmp(prev.fingerprint, out->ref.fingerprint,
		                 FL_HASH_LEN) == 0) {
			err = replay(tx, &prev, out);
			goto out;
		}
		/* the same reference for other money: never the provider's
		 * doing; kept for a person to look at, and said loudly */
		snprintf(
		        out->msg, sizeof(out->msg),
		        "reference %s was received before with another account "
		        "or amount; kept as unmatched",
		        in->ref);
		fl_log(FL_LOG_WARN, "provider reference reused",
		       json_pack("{s:s,s:s,s:s}", "tenant", src->tenant_id,
		                 "source", src->id, "reference", in->ref));
		err = keep_unmatched(tx, src, in, now, out->msg, false, out);
		goto out;
	}
	if (err != FL_E_NOT_FOUND)
		goto out;

	err = fl_src_match(tx, src->tenant_id, in->account, device_id);
	if (err == FL_E_NOT_FOUND) {
		snprintf(reason, sizeof(reason),
		         "no contract has account '%.64s'", in->account);
		err = keep_unmatched(tx, src, in, now, reason, true, out);
		goto out;
	}
	if (err != FL_OK)
		goto out;
	if ((err = before_record(tx, src->tenant_id, device_id, in, now,
	                         &would_release, &currency_ok)) != FL_OK)
		goto out;
	if (!currency_ok) {
		snprintf(reason, sizeof(reason),
		         "account '%.64s' has no contract in %s", in->account,
		         in->currency);
		err = keep_unmatched(tx, src, in, now, reason, true, out);
		goto out;
	}
	if (would_release) {
		struct fl_pending_release pr = {0};

		snprintf(pr.device_id, sizeof(pr.device_id), "%s", device_id);
		snprintf(pr.tenant_id, sizeof(pr.tenant_id), "%s",
		         src->tenant_id);
		pr.created_at = now;
		if ((err = fl_store_pending_release_put(tx, &pr)) != FL_OK)
			goto out;
	}
	pin = calloc(1, sizeof(*pin));
	out->pay = calloc(1, sizeof(*out->pay));
	if (pin == NULL || out->pay == NULL) {
		err = FL_E_NOMEM;
		goto out;
	}
	snprintf(pin->tenant_id, sizeof(pin->tenant_id), "%s", src->tenant_id);
	snprintf(pin->device_id, sizeof(pin->device_id), "%s", device_id);
	snprintf(pin->actor, sizeof(pin->actor), "%s", src->id);
	pin->amount = in->amount;
	pin->paid_at = in->paid_at > 0 && in->paid_at <= now ? in->paid_at : 0;
	snprintf(pin->reference, sizeof(pin->reference), "%s", in->ref);
	pin->allow_over = true; /* money moved: excess is credit */
	pin->allow_dup = true;  /* the reference is checked above */
	err = fl_pay_record(tx, pin, now, out->pay);
	if (err == FL_E_NO_CONTRACT || err == FL_E_LIMIT) {
		/* what fl_pay_record refuses before writing: kept */
		if (snprintf(reason, sizeof(reason), "%s", out->pay->msg) >=
		    (int)sizeof(reason))
			reason[sizeof(reason) - 1] = '\0';
		free(out->pay);
		out->pay = NULL;
		if (would_release && (err = fl_store_pending_release_drop(
		                              tx, device_id)) != FL_OK)
			goto out;
		err = keep_unmatched(tx, src, in, now, reason, true, out);
		goto out;
	}
	if (err != FL_OK)
		goto out;
	if (would_release) {
		struct fl_pending_release pr = {0};

		snprintf(pr.device_id, sizeof(pr.device_id), "%s", device_id);
		snprintf(pr.tenant_id, sizeof(pr.tenant_id), "%s",
		         src->tenant_id);
		snprintf(pr.payment_id, sizeof(pr.payment_id), "%s",
		         out->pay->payment.id);
		pr.created_at = now;
		if ((err = fl_store_pending_release_put(tx, &pr)) != FL_OK)
			goto out;
		out->release_pending = true;
	}
	snprintf(out->ref.payment_id, sizeof(out->ref.payment_id), "%s",
	         out->pay->payment.id);
	err = fl_store_provider_ref_put(tx, &out->ref);
	if (err == FL_E_CONFLICT)
		err = FL_E_STORE_RETRY; /* stored meanwhile: a replay */
	/* payment.recorded went out with the payment (fl_pay_record) */
out:
	free(pin);
	return err;
}

fl_err fl_src_confirm_release(struct fl_tx *tx, const char *tenant_id,
                              const char *device_id, const char *actor,
                              fl_time now, struct fl_device *dev,
                              struct fl_decided *what)
{
	struct fl_pending_release pr;
	fl_err err;

	if ((err = fl_store_lock_device(tx, device_id)) != FL_OK ||
	    (err = fl_store_device_get(tx, tenant_id, device_id, dev)) != FL_OK)
		return err;
	err = fl_store_pending_release_get(tx, device_id, &pr);
	if (err == FL_E_NOT_FOUND)
		return FL_E_STATE;
	if (err != FL_OK ||
	    (err = fl_store_pending_release_drop(tx, device_id)) != FL_OK ||
	    (err = fl_decide_device(tx, tenant_id, device_id, now, false, dev,
	                            what)) != FL_OK)
		return err;
	return fl_audit_append(tx, tenant_id, actor, now,
	                       "device.release_confirm", device_id,
	                       json_pack("{s:s}", "payment_id", pr.payment_id),
	                       json_pack("{s:s}", "state",
	                                 fl_state_name(dev->st.state) != NULL
	                                         ? fl_state_name(dev->st.state)
	                                         : "pending"));
}

fl_err fl_src_assign(struct fl_tx *tx, const char *tenant_id, const char *um_id,
                     const char *device_id, const char *actor, fl_time now,
                     struct fl_pay_result *out)
{
	struct fl_unmatched_rec u, after;
	struct fl_contract_rec c;
	struct fl_pay_input *pin = NULL;
	fl_err err;

	memset(out, 0, sizeof(*out));
	memset(&c, 0, sizeof(c));
	err = fl_store_unmatched_get(tx, tenant_id, um_id, &u);
	if (err == FL_E_NOT_FOUND) {
		snprintf(out->msg, sizeof(out->msg),
		         "no such unmatched payment");
		return err;
	}
	if (err != FL_OK)
		return err;
	if (u.payment_id[0] != '\0') {
		snprintf(out->msg, sizeof(out->msg),
		         "already assigned as payment %s", u.payment_id);
		return FL_E_STATE;
	}
	if ((err = fl_store_lock_device(tx, device_id)) != FL_OK)
		return err;
	err = fl_store_contract_get(tx, tenant_id, device_id, &c);
	if (err == FL_OK && strcmp(c.currency, u.currency) != 0) {
		snprintf(out->msg, sizeof(out->msg),
		         "the payment is in %s, the device's contract in %s",
		         u.currency, c.currency);
		err = FL_E_MONEY;
	}
	fl_contract_rec_clear(&c);
	if (err == FL_E_NOT_FOUND) {
		/* fl_pay_record says which: no device or no contract */
		err = FL_OK;
	}
	if (err != FL_OK)
		return err;
	if ((pin = calloc(1, sizeof(*pin))) == NULL)
		return FL_E_NOMEM;
	snprintf(pin->tenant_id, sizeof(pin->tenant_id), "%s", tenant_id);
	snprintf(pin->device_id, sizeof(pin->device_id), "%s", device_id);
	snprintf(pin->actor, sizeof(pin->actor), "%s", actor);
	pin->amount = u.amount;
	pin->paid_at = u.paid_at > 0 && u.paid_at <= now ? u.paid_at : 0;
	snprintf(pin->reference, sizeof(pin->reference), "%s", u.reference);
	pin->allow_over = true;
	pin->allow_dup = true;
	err = fl_pay_record(tx, pin, now, out);
	free(pin);
	if (err != FL_OK)
		return err;
	if ((err = fl_store_unmatched_assign(tx, tenant_id, um_id,
	                                     out->payment.id, now, actor)) !=
	            FL_OK ||
	    (err = fl_store_unmatched_get(tx, tenant_id, um_id, &after)) !=
	            FL_OK)
		return err;
	if ((err = fl_audit_append(tx, tenant_id, actor, now,
	                           "payment.unmatched_assign", um_id,
	                           fl_src_unmatched_json(&u),
	                           fl_src_unmatched_json(&after))) != FL_OK)
		return err;
	/* payment.recorded went out with the payment (fl_pay_record) */
	return FL_OK;
}
