/*
 * api_sources.c - payment sources and what arrives through them.
 *
 * Lenders (admin) create a source per provider feed and get its callback
 * URLs; list, show, disable it and rotate its secret. Providers post to
 * the callback URLs, which need no API key: the URL's random secret (and,
 * for a signed source, the message signature) and the source's allowed
 * networks are the authentication, and any failure of them is the same
 * 404 as a path that names nothing, so a caller learns nothing of which
 * sources exist. Unmatched payments are listed and assigned to a device;
 * a release a provider payment would make is confirmed here.
 *
 *   POST /v1/callbacks/{source_id}/{secret}/validation    Daraja C2B
 *   POST /v1/callbacks/{source_id}/{secret}/confirmation  Daraja C2B
 *   POST /v1/callbacks/{source_id}/{secret}/payments      signed
 *
 * A confirmation is answered {"ResultCode":"0","ResultDesc":"Accepted"}
 * only after the transaction that recorded it committed (txn.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "server/api.h"
#include "server/app.h"
#include "server/audit.h"
#include "server/auth.h"
#include "server/daraja.h"
#include "server/decide.h"
#include "server/jsonio.h"
#include "server/log.h"
#include "server/netaddr.h"
#include "server/payments.h"
#include "server/router.h"
#include "server/sources.h"
#include "server/txn.h"

#define KIND_C2B    "mpesa_c2b"
#define KIND_SIGNED "signed"

/* --- the lender's side ---------------------------------------------------- */

/* The absolute URL of path as the caller reached this server. */
static json_t *url_of(const struct fl_req *req, const char *path)
{
	const char *host = fl_req_header(req, "Host");
	const struct fl_config *c = &req->app->cfg;
	bool https = c->tls_cert[0] != '\0' || c->behind_tls_proxy;
	char buf[512];

	if (host == NULL || host[0] == '\0' || !fl_api_text_ok(host) ||
	    strchr(host, '/') != NULL)
		return json_string(path);
	snprintf(buf, sizeof(buf), "%s://%s%s", https ? "https" : "http",
	         host, path);
	return json_string(buf);
}

/* The answer that carries a source's secrets: its URLs (and HMAC
 * secret), shown once. */
static json_t *secrets_json(const struct fl_req *req,
                            const struct fl_source_rec *s,
                            const char *url_secret)
{
	char path[256];
	json_t *j = json_pack("{s:o}", "source", fl_src_json(s, req->now));

	if (j == NULL)
		return NULL;
	if (strcmp(s->kind, KIND_C2B) == 0) {
		snprintf(path, sizeof(path), "/v1/callbacks/%s/%s/validation",
		         s->id, url_secret);
		json_object_set_new(j, "validation_url", url_of(req, path));
		snprintf(path, sizeof(path),
		         "/v1/callbacks/%s/%s/confirmation", s->id, url_secret);
		json_object_set_new(j, "confirmation_url", url_of(req, path));
	} else {
		snprintf(path, sizeof(path), "/v1/callbacks/%s/%s/payments",
		         s->id, url_secret);
		json_object_set_new(j, "callback_url", url_of(req, path));
		json_object_set_new(j, "secret", json_string(s->secret));
	}
	return j;
}

/* A fresh Standard Webhooks secret, "whsec_" + base64 of 32 bytes. */
static void new_hmac_secret(char out[FL_SOURCE_SECRET_MAX])
{
	uint8_t raw[32];

	fl_random(raw, sizeof(raw));
	memcpy(out, "whsec_", 6);
	if (fl_b64_encode(out + 6, FL_SOURCE_SECRET_MAX - 6, raw,
	                  sizeof(raw)) != FL_OK)
		out[0] = '\0';
	fl_wipe(raw, sizeof(raw));
}

struct create_io {
	struct fl_source_rec s;
	char url_secret[FL_SRC_SECRET_LEN + 1];
};

static fl_err create_step(struct fl_tx *tx, struct fl_req *req, void *ctx)
{
	struct create_io *io = ctx;
	json_t *after;
	fl_err err;

	if ((err = fl_store_source_insert(tx, &io->s)) != FL_OK)
		return err;
	after = fl_src_json(&io->s, req->now);
	if ((err = fl_audit_req(tx, req, "payment_source.create", io->s.id,
	                        NULL, after)) != FL_OK)
		return err;
	fl_reply_json(req, 201, secrets_json(req, &io->s, io->url_secret));
	return FL_OK;
}

/* Reads "allowed_networks" (an array of CIDR strings) into s->networks. */
static void read_networks(struct fl_jin *j, struct fl_source_rec *s,
                          bool required)
{
	json_t *arr = json_object_get(j->root, "allowed_networks");
	struct fl_cidr one[1];
	size_t i, n = 0;
	json_t *v;

	if (j->err != FL_OK)
		return;
	if (arr == NULL || json_is_null(arr)) {
		if (required)
			fl_jin_fail(j, FL_E_FIELD_MISSING,
			            "allowed_networks (a list of CIDRs the "
			            "provider calls from) is required for a "
			            "%s source",
			            s->kind);
		return;
	}
	if (!json_is_array(arr) || json_array_size(arr) == 0 ||
	    json_array_size(arr) > FL_NET_MAX_CIDRS) {
		fl_jin_fail(j, FL_E_INVALID,
		            "allowed_networks must be a list of 1..%d CIDRs",
		            FL_NET_MAX_CIDRS);
		return;
	}
	s->networks[0] = '\0';
	json_array_foreach(arr, i, v)
	{
		const char *c = json_string_value(v);
		size_t len = c != NULL ? strlen(c) : 0;

		if (c == NULL || len == 0 || strchr(c, ',') != NULL ||
		    strchr(c, ' ') != NULL ||
		    fl_net_parse_cidrs(c, one, 1, &n) != FL_OK || n != 1 ||
		    n + len + 2 > sizeof(s->networks) - strlen(s->networks)) {
			fl_jin_fail(j, FL_E_INVALID,
			            "allowed_networks[%zu] is not a CIDR "
			            "(\"196.201.214.0/24\", \"2001:db8::/32\")",
			            i);
			return;
		}
		if (s->networks[0] != '\0')
			strcat(s->networks, ",");
		strcat(s->networks, c);
	}
}

static bool digits_only(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static void create(struct fl_req *req)
{
	static const char *const fields[] = {
	        "kind",     "name",        "shortcode", "currency",
	        "allowed_networks", "max_silence", NULL};
	struct create_io *io = calloc(1, sizeof(*io));
	struct fl_source_rec *s;
	struct fl_jin j;
	int64_t silence = FL_SRC_MAX_SILENCE_DEFAULT;
	bool c2b;

	if (io == NULL) {
		fl_reply_error(req, FL_E_NOMEM, NULL);
		return;
	}
	s = &io->s;
	if (fl_jin_parse(&j, req) != FL_OK)
		goto done;
	fl_jin_only(&j, fields);
	fl_jin_str(&j, "kind", true, s->kind, sizeof(s->kind));
	c2b = strcmp(s->kind, KIND_C2B) == 0;
	if (j.err == FL_OK && !c2b && strcmp(s->kind, KIND_SIGNED) != 0)
		fl_jin_fail(&j, FL_E_INVALID,
		            "kind must be \"mpesa_c2b\" or \"signed\"");
	fl_jin_str(&j, "name", false, s->name, sizeof(s->name));
	if (j.err == FL_OK && !fl_api_text_ok(s->name))
		fl_jin_fail(&j, FL_E_INVALID, "name must be printable");
	fl_jin_str(&j, "shortcode", c2b, s->shortcode, sizeof(s->shortcode));
	if (j.err == FL_OK && c2b && !digits_only(s->shortcode))
		fl_jin_fail(&j, FL_E_INVALID,
		            "shortcode must be the paybill or till number "
		            "(digits)");
	if (j.err == FL_OK && !c2b && s->shortcode[0] != '\0')
		fl_jin_fail(&j, FL_E_INVALID,
		            "shortcode is for mpesa_c2b sources only");
	fl_jin_str(&j, "currency", false, s->currency, sizeof(s->currency));
	if (j.err == FL_OK && s->currency[0] == '\0')
		memcpy(s->currency, "KES", 4);
	if (j.err == FL_OK &&
	    (strlen(s->currency) != 3 || s->currency[0] < 'A' ||
	     s->currency[0] > 'Z' || s->currency[1] < 'A' ||
	     s->currency[1] > 'Z' || s->currency[2] < 'A' ||
	     s->currency[2] > 'Z'))
		fl_jin_fail(&j, FL_E_INVALID,
		            "currency must be an ISO 4217 code (KES)");
	read_networks(&j, s, !c2b);
	if (j.err == FL_OK && c2b && s->networks[0] == '\0')
		snprintf(s->networks, sizeof(s->networks), "%s",
		         fl_src_safaricom_networks);
	if (fl_jin_int(&j, "max_silence", false, &silence) &&
	    (silence < 60 || silence > 30 * FL_DAY))
		fl_jin_fail(&j, FL_E_RANGE,
		            "max_silence must be seconds in 60..%d", 30 * FL_DAY);
	if (fl_jin_end(&j) != FL_OK)
		goto done;
	fl_id_generate(s->id, "ps");
	snprintf(s->tenant_id, sizeof(s->tenant_id), "%s", req->who.tenant_id);
	s->max_silence = silence;
	s->created_at = req->now;
	fl_src_secret_new(req->app->secrets.apikey_hash_key, io->url_secret,
	                  s->path_hash);
	if (!c2b)
		new_hmac_secret(s->secret);
	if (fl_txn_run_unrecorded(req, create_step, io) != FL_OK) {
		/* answered */
	}
done:
	fl_wipe(io, sizeof(*io));
	free(io);
}

struct slist {
	json_t *items;
	int64_t last;
	int n;
	fl_time now;
};

static fl_err source_one(void *ctx, const struct fl_source_rec *s)
{
	struct slist *l = ctx;

	l->last = s->ord;
	l->n++;
	return json_array_append_new(l->items, fl_src_json(s, l->now)) == 0
	               ? FL_OK
	               : FL_E_NOMEM;
}

static void list(struct fl_req *req)
{
	static const char *const q[] = {"cursor", "limit", NULL};
	struct slist l = {.now = req->now};
	struct fl_tx *tx = NULL;
	int64_t after;
	int limit;
	fl_err err;

	if (fl_req_query_only(req, q) != FL_OK ||
	    fl_req_page(req, &after, &limit) != FL_OK)
		return;
	if ((l.items = json_array()) == NULL) {
		fl_reply_error(req, FL_E_NOMEM, NULL);
		return;
	}
	if ((err = fl_store_begin(req->app->store, false, &tx)) == FL_OK) {
		err = fl_store_source_list(tx, req->who.tenant_id, after, limit,
		                           source_one, &l);
		fl_tx_rollback(tx);
	}
	if (err != FL_OK) {
		json_decref(l.items);
		fl_reply_error(req, err, NULL);
		return;
	}
	fl_reply_page(req, l.items, l.n == limit ? l.last : 0);
}

static void show(struct fl_req *req)
{
	static const char *const q[] = {NULL};
	struct fl_source_rec s;
	struct fl_tx *tx = NULL;
	fl_err err;

	if (fl_req_query_only(req, q) != FL_OK)
		return;
	if ((err = fl_store_begin(req->app->store, false, &tx)) == FL_OK) {
		err = fl_store_source_get(tx, req->who.tenant_id,
		                          fl_req_param(req, "source_id"), &s);
		fl_tx_rollback(tx);
	}
	if (err != FL_OK)
		fl_reply_error(req, err,
		               err == FL_E_NOT_FOUND ? "no such payment source"
		                                     : NULL);
	else
		fl_reply_json(req, 200, fl_src_json(&s, req->now));
	fl_wipe(&s, sizeof(s));
}

/* disable or rotate */
struct change_io {
	bool rotate;
	char url_secret[FL_SRC_SECRET_LEN + 1];
	struct fl_source_rec s;
};

static fl_err change_step(struct fl_tx *tx, struct fl_req *req, void *ctx)
{
	struct change_io *io = ctx;
	struct fl_source_rec *s = &io->s;
	json_t *before;
	fl_err err;

	err = fl_store_source_get(tx, req->who.tenant_id,
	                          fl_req_param(req, "source_id"), s);
	if (err == FL_E_NOT_FOUND) {
		fl_reply_error(req, err, "no such payment source");
		return err;
	}
	if (err != FL_OK)
		return err;
	if (s->disabled_at != 0) {
		fl_reply_error(req, FL_E_STATE,
		               "the payment source is disabled");
		return FL_E_STATE;
	}
	before = fl_src_json(s, req->now);
	if (io->rotate) {
		fl_src_secret_new(req->app->secrets.apikey_hash_key,
		                  io->url_secret, s->path_hash);
		if (strcmp(s->kind, KIND_SIGNED) == 0)
			new_hmac_secret(s->secret);
		s->rotated_at = req->now;
	} else {
		s->disabled_at = req->now;
	}
	if ((err = fl_store_source_update(tx, s)) != FL_OK ||
	    (err = fl_audit_req(tx, req,
	                        io->rotate ? "payment_source.rotate"
	                                   : "payment_source.disable",
	                        s->id, before, fl_src_json(s, req->now))) !=
	            FL_OK) {
		return err;
	}
	fl_reply_json(req, 200,
	              io->rotate ? secrets_json(req, s, io->url_secret)
	                         : fl_src_json(s, req->now));
	return FL_OK;
}

static void change(struct fl_req *req, bool rotate)
{
	struct change_io *io;

	if (fl_api_empty_body(req) != FL_OK)
		return;
	if ((io = calloc(1, sizeof(*io))) == NULL) {
		fl_reply_error(req, FL_E_NOMEM, NULL);
		return;
	}
	io->rotate = rotate;
	if (fl_txn_run_unrecorded(req, change_step, io) != FL_OK) {
		/* answered */
	}
	fl_wipe(io, sizeof(*io));
	free(io);
}

static void disable(struct fl_req *req)
{
	change(req, false);
}

static void rotate(struct fl_req *req)
{
	change(req, true);
}

/* --- the provider's side -------------------------------------------------- */

/* The source a callback names, when the URL secret, the caller's address
 * and the route's kind are all right; anything else is answered as a path
 * that names nothing (no hint that the source exists). */
static bool callback_source(struct fl_req *req, const char *kind,
                            struct fl_source_rec *s)
{
	struct fl_tx *tx = NULL;
	bool ok = false;
	fl_err err;

	memset(s, 0, sizeof(*s));
	if ((err = fl_store_begin(req->app->store, false, &tx)) == FL_OK) {
		err = fl_store_source_get(tx, NULL,
		                          fl_req_param(req, "source_id"), s);
		fl_tx_rollback(tx);
	}
	if (err != FL_OK && err != FL_E_NOT_FOUND) {
		fl_reply_error(req, err, NULL);
		return false;
	}
	/* the secret is checked whatever else failed: the same work */
	ok = fl_src_secret_ok(req->app->secrets.apikey_hash_key, s,
	                      fl_req_param(req, "secret"));
	ok = ok && err == FL_OK && s->disabled_at == 0 &&
	     strcmp(s->kind, kind) == 0 && fl_src_addr_ok(s, req->client);
	if (!ok) {
		if (err == FL_OK)
			fl_log(FL_LOG_WARN, "payment callback refused",
			       json_pack("{s:s,s:s}", "source", s->id,
			                 "client", req->client));
		fl_reply_error(req, FL_E_NOT_FOUND, "no such resource");
		memset(s, 0, sizeof(*s));
	}
	return ok;
}

static void daraja_answer(struct fl_req *req, const char *code,
                          const char *desc)
{
	fl_reply_json(req, 200,
	              json_pack("{s:s,s:s}", "ResultCode", code, "ResultDesc",
	                        desc));
}

static void validation(struct fl_req *req)
{
	char msg[FL_C2B_MSG_MAX], dev[FL_ID_MAX];
	struct fl_source_rec s;
	struct fl_c2b c;
	struct fl_tx *tx = NULL;
	fl_err err;

	if (!callback_source(req, KIND_C2B, &s))
		return;
	err = fl_c2b_parse(req->body, req->body_len,
	                   fl_currency_decimals(s.currency), false, &c, msg,
	                   sizeof(msg));
	if (err == FL_E_MONEY) {
		daraja_answer(req, "C2B00013", "Rejected");
		return;
	}
	if (err != FL_OK) {
		fl_reply_error(req, err, "%s", msg);
		return;
	}
	if (strcmp(c.shortcode, s.shortcode) != 0) {
		daraja_answer(req, "C2B00015", "Rejected");
		return;
	}
	if ((err = fl_store_begin(req->app->store, false, &tx)) == FL_OK) {
		err = fl_src_match(tx, s.tenant_id, c.bill_ref, dev);
		fl_tx_rollback(tx);
	}
	if (err == FL_E_NOT_FOUND)
		daraja_answer(req, "C2B00012", "Rejected");
	else if (err != FL_OK)
		fl_reply_error(req, err, NULL);
	else
		daraja_answer(req, "0", "Accepted");
}

struct receive_io {
	struct fl_source_rec s;
	struct fl_src_payment in;
	const char *msg_id; /* signed: the webhook-id to remember */
	struct fl_src_result out;
	bool daraja; /* answer as Daraja expects */
};

static fl_err receive_step(struct fl_tx *tx, struct fl_req *req, void *ctx)
{
	struct receive_io *io = ctx;
	json_t *ans;
	fl_err err;

	fl_src_result_clear(&io->out);
	if (io->msg_id != NULL) {
		err = fl_store_source_msg_put(
		        tx, io->s.id, io->msg_id, req->now,
		        req->now - 2 * FL_SRC_SIGNED_TOLERANCE);
		if (err == FL_E_CONFLICT) {
			fl_reply_error(req, err,
			               "webhook-id %s was received already",
			               io->msg_id);
			return err;
		}
		if (err != FL_OK)
			return err;
	}
	if ((err = fl_src_receive(tx, &io->s, &io->in, req->now, &io->out)) !=
	    FL_OK)
		return err;
	if (io->daraja) {
		daraja_answer(req, "0", "Accepted");
		return FL_OK;
	}
	ans = json_pack("{s:s,s:b,s:b,s:b}", "reference", io->in.ref,
	                "replay", io->out.replay, "unmatched",
	                io->out.unmatched, "release_pending",
	                io->out.release_pending);
	if (io->out.pay != NULL)
		json_object_set_new(ans, "payment_id",
		                    json_string(io->out.pay->payment.id));
	if (io->out.unmatched)
		json_object_set_new(ans, "unmatched_id",
		                    json_string(io->out.um.id));
	fl_reply_json(req, 200, ans);
	return FL_OK;
}

static void receive(struct fl_req *req, struct receive_io *io)
{
	if (fl_txn_run_unrecorded(req, receive_step, io) == FL_OK &&
	    io->out.pay != NULL && !io->out.replay)
		fl_decide_committed(req->app, io->out.pay->device.id,
		                    &io->out.pay->what);
	if (io->out.msg[0] != '\0')
		fl_log(FL_LOG_WARN, "payment alert",
		       json_pack("{s:s,s:s}", "source", io->s.id, "alert",
		                 io->out.msg));
	fl_src_result_clear(&io->out);
}

static void confirmation(struct fl_req *req)
{
	char msg[FL_C2B_MSG_MAX];
	struct receive_io *io = calloc(1, sizeof(*io));
	struct fl_c2b c;
	fl_err err;

	if (io == NULL) {
		fl_reply_error(req, FL_E_NOMEM, NULL);
		return;
	}
	if (!callback_source(req, KIND_C2B, &io->s))
		goto done;
	err = fl_c2b_parse(req->body, req->body_len,
	                   fl_currency_decimals(io->s.currency), true, &c, msg,
	                   sizeof(msg));
	if (err != FL_OK) {
		fl_reply_error(req, err, "%s", msg);
		goto done;
	}
	if (strcmp(c.shortcode, io->s.shortcode) != 0) {
		fl_reply_error(req, FL_E_INVALID,
		               "BusinessShortCode %s is not this source's "
		               "shortcode",
		               c.shortcode);
		goto done;
	}
	if (!fl_api_text_ok(c.trans_id) || c.trans_id[0] == '\0') {
		fl_reply_error(req, FL_E_INVALID, "TransID is empty");
		goto done;
	}
	snprintf(io->in.ref, sizeof(io->in.ref), "%s", c.trans_id);
	snprintf(io->in.account, sizeof(io->in.account), "%s", c.bill_ref);
	io->in.amount = c.amount;
	memcpy(io->in.currency, io->s.currency, sizeof(io->in.currency));
	io->in.paid_at = c.trans_time;
	snprintf(io->in.payer, sizeof(io->in.payer), "%s", c.payer);
	io->daraja = true;
	receive(req, io);
done:
	free(io);
}

static void signed_payment(struct fl_req *req)
{
	char msg[FL_C2B_MSG_MAX];
	struct receive_io *io = calloc(1, sizeof(*io));
	struct fl_signed_pay p;
	fl_err err;

	if (io == NULL) {
		fl_reply_error(req, FL_E_NOMEM, NULL);
		return;
	}
	if (!callback_source(req, KIND_SIGNED, &io->s))
		goto done;
	err = fl_stdwh_verify(io->s.secret, fl_req_header(req, "webhook-id"),
	                      fl_req_header(req, "webhook-timestamp"),
	                      fl_req_header(req, "webhook-signature"),
	                      req->body, req->body_len, req->now,
	                      FL_SRC_SIGNED_TOLERANCE);
	if (err == FL_E_EXPIRED) {
		fl_reply_error_status(req, 401, FL_E_BAD_SIGNATURE,
		                      "webhook-timestamp is more than %d s "
		                      "from the server's time",
		                      FL_SRC_SIGNED_TOLERANCE);
		goto done;
	}
	if (err != FL_OK) {
		fl_reply_error_status(req, 401, FL_E_BAD_SIGNATURE,
		                      "webhook-signature does not verify "
		                      "(Standard Webhooks v1 over "
		                      "id.timestamp.body)");
		goto done;
	}
	err = fl_signed_pay_parse(req->body, req->body_len, &p, msg,
	                          sizeof(msg));
	if (err != FL_OK) {
		fl_reply_error(req, err, "%s", msg);
		goto done;
	}
	if (!fl_api_text_ok(p.id) || !fl_api_text_ok(p.account)) {
		fl_reply_error(req, FL_E_INVALID,
		               "id and account must be printable");
		goto done;
	}
	snprintf(io->in.ref, sizeof(io->in.ref), "%s", p.id);
	snprintf(io->in.account, sizeof(io->in.account), "%s", p.account);
	io->in.amount = p.amount;
	memcpy(io->in.currency, p.currency, sizeof(io->in.currency));
	io->in.paid_at = p.paid_at;
	io->msg_id = fl_req_header(req, "webhook-id");
	receive(req, io);
done:
	free(io);
}

/* --- unmatched payments, pending releases --------------------------------- */

struct ulist {
	json_t *items;
	int64_t last;
	int n;
};

static fl_err unmatched_one(void *ctx, const struct fl_unmatched_rec *u)
{
	struct ulist *l = ctx;

	l->last = u->ord;
	l->n++;
	return json_array_append_new(l->items, fl_src_unmatched_json(u)) == 0
	               ? FL_OK
	               : FL_E_NOMEM;
}

static void unmatched_list(struct fl_req *req)
{
	static const char *const q[] = {"cursor", "limit", "all", NULL};
	const char *all = fl_req_query(req, "all");
	struct ulist l = {0};
	struct fl_tx *tx = NULL;
	int64_t after;
	int limit;
	fl_err err;

	if (fl_req_query_only(req, q) != FL_OK ||
	    fl_req_page(req, &after, &limit) != FL_OK)
		return;
	if (all != NULL && strcmp(all, "true") != 0 &&
	    strcmp(all, "false") != 0) {
		fl_reply_error(req, FL_E_INVALID, "all must be true or false");
		return;
	}
	if ((l.items = json_array()) == NULL) {
		fl_reply_error(req, FL_E_NOMEM, NULL);
		return;
	}
	if ((err = fl_store_begin(req->app->store, false, &tx)) == FL_OK) {
		err = fl_store_unmatched_list(
		        tx, req->who.tenant_id,
		        all == NULL || strcmp(all, "true") != 0, after, limit,
		        unmatched_one, &l);
		fl_tx_rollback(tx);
	}
	if (err != FL_OK) {
		json_decref(l.items);
		fl_reply_error(req, err, NULL);
		return;
	}
	fl_reply_page(req, l.items, l.n == limit ? l.last : 0);
}

struct assign_io {
	char device_id[FL_ID_MAX];
	struct fl_pay_result out;
};

static fl_err assign_step(struct fl_tx *tx, struct fl_req *req, void *ctx)
{
	struct assign_io *io = ctx;
	fl_err err = fl_src_assign(tx, req->who.tenant_id,
	                           fl_req_param(req, "unmatched_id"),
	                           io->device_id, req->who.key_id, req->now,
	                           &io->out);

	if (err != FL_OK) {
		if (io->out.msg[0] != '\0')
			fl_reply_error(req, err, "%s", io->out.msg);
		return err;
	}
	fl_reply_json(req, 201,
	              json_pack("{s:o,s:o}", "payment",
	                        fl_pay_json(&io->out.payment), "device",
	                        fl_api_device_json(&io->out.device)));
	return FL_OK;
}

static void unmatched_assign(struct fl_req *req)
{
	static const char *const fields[] = {"device_id", NULL};
	struct assign_io *io = calloc(1, sizeof(*io));
	struct fl_jin j;

	if (io == NULL) {
		fl_reply_error(req, FL_E_NOMEM, NULL);
		return;
	}
	if (fl_jin_parse(&j, req) != FL_OK)
		goto done;
	fl_jin_only(&j, fields);
	fl_jin_str(&j, "device_id", true, io->device_id,
	           sizeof(io->device_id));
	if (fl_jin_end(&j) != FL_OK)
		goto done;
	if (fl_txn_run(req, assign_step, io) == FL_OK)
		fl_decide_committed(req->app, io->out.device.id,
		                    &io->out.what);
done:
	free(io);
}

struct confirm_io {
	struct fl_device dev;
	struct fl_decided what;
};

static fl_err confirm_step(struct fl_tx *tx, struct fl_req *req, void *ctx)
{
	struct confirm_io *io = ctx;
	fl_err err = fl_src_confirm_release(
	        tx, req->who.tenant_id, fl_req_param(req, "device_id"),
	        req->who.key_id, req->now, &io->dev, &io->what);

	if (err == FL_E_NOT_FOUND) {
		fl_reply_error(req, err, "no such device");
		return err;
	}
	if (err == FL_E_STATE) {
		fl_reply_error(req, err,
		               "the device has no release waiting for "
		               "confirmation");
		return err;
	}
	if (err != FL_OK)
		return err;
	fl_reply_json(req, 200,
	              json_pack("{s:o}", "device",
	                        fl_api_device_json(&io->dev)));
	return FL_OK;
}

static void release_confirm(struct fl_req *req)
{
	struct confirm_io *io;

	if (fl_api_empty_body(req) != FL_OK)
		return;
	if ((io = calloc(1, sizeof(*io))) == NULL) {
		fl_reply_error(req, FL_E_NOMEM, NULL);
		return;
	}
	if (fl_txn_run(req, confirm_step, io) == FL_OK)
		fl_decide_committed(req->app, io->dev.id, &io->what);
	free(io);
}

static const struct fl_route routes[] = {
        {"POST", "/v1/payment-sources", create, FL_ROLE_ADMIN},
        {"GET", "/v1/payment-sources", list, FL_ROLES_READ},
        {"GET", "/v1/payment-sources/{source_id}", show, FL_ROLES_READ},
        {"POST", "/v1/payment-sources/{source_id}/disable", disable,
         FL_ROLE_ADMIN},
        {"POST", "/v1/payment-sources/{source_id}/rotate", rotate,
         FL_ROLE_ADMIN},
        {"POST", "/v1/callbacks/{source_id}/{secret}/validation", validation,
         FL_AUTH_NONE},
        {"POST", "/v1/callbacks/{source_id}/{secret}/confirmation",
         confirmation, FL_AUTH_NONE},
        {"POST", "/v1/callbacks/{source_id}/{secret}/payments",
         signed_payment, FL_AUTH_NONE},
        {"GET", "/v1/payments/unmatched", unmatched_list, FL_ROLES_READ},
        {"POST", "/v1/payments/unmatched/{unmatched_id}/assign",
         unmatched_assign, FL_ROLE_ADMIN},
        {"POST", "/v1/devices/{device_id}/release/confirm", release_confirm,
         FL_ROLE_ADMIN},
};

const struct fl_route_table fl_routes_sources = FL_ROUTE_TABLE(routes);
