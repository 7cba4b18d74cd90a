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
#include "server/devices.h"
#include "server/jsonio.h"
#include "server/log.h"
#include "server/netaddr.h"
#include "server/payments.h"
#include "server/route.h"
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
	snprintf(buf, sizeof(buf), "%s://%s%s", https ? "https" : "http", host,
	         path);
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
		snprintf(path, sizeof(path), "/v1/callbacks/%s/%s/confirmation",
		         s->id, url_secret);
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
	static const char *const fields[] = {"kind",
	                                     "name",
	                                     "shortcode",
	                                     "currency",
	                                     "allowed_networks",
	                                     "max_silence",
	                                     NULL};
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
	if (j.err == FL_OK && (strlen(s->currency) != 3 ||
	                       s->currency[0] < 'A' || s->currency[0] > 'Z' ||
	                       s->currency[1] < 'A' || s->currency[1] > 'Z' ||
	                       s->currency[2] < 'A' || s->currency[2] > 'Z'))
		fl_jin_fail(&j, FL_E_INVALID,
		            "currency must be an ISO 4217 code (KES)");
	read_networks(&j, s, !c2b);
	if (j.err == FL_OK && c2b && s->networks[0] == '\0')
		snprintf(s->networks, sizeof(s->networks), "%s",
		         fl_src_safaricom_networks);
	if (fl_jin_int(&j, "max_silence", false, &silence) &&
	    (silence < 60 || silence > 30 * FL_DAY))
		fl_jin_fail(&j, FL_E_RANGE,
		            "max_silence must be seconds in 60..%d",
		            30 * FL_DAY);
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
			       json_pack("{s:s,s:s}", "source", s->id, "client",
			                 req->client));
		fl_reply_error(req, FL_E_NOT_FOUND, "no such resource");
		memset(s, 0, sizeof(*s));
	}
	return ok;
}

static void daraja_answer(struct fl_req *req, const char *code,
                          const char *desc)
{
	fl_reply_json(
	        req, 200,
	        json_pack("{s:s,s:s}", "ResultCode", code, "ResultDesc", desc));
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
	ans = json_pack("{s:s,s:b,s:b,s:b}", "reference", io->in.ref, "replay",
	                io->out.replay, "unmatched", io->out.unmatched,
	                "release_pending", io->out.release_pending);
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
		err = fl_store_unmatched_list(tx, req->who.tenant_id,
		                              all == NULL ||
		                                      strcmp(all, "true") != 0,
		                              after, limit, unmatched_one, &l);
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
	fl_err err = fl_src_assign(
	        tx, req->who.tenant_id, fl_req_param(req, "unmatched_id"),
	        io->device_id, req->who.key_id, req->now, &io->out);

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
	fl_jin_str(&j, "device_id", true, io->device_id, sizeof(io->device_id));
	if (fl_jin_end(&j) != FL_OK)
		goto done;
	if (fl_txn_run(req, assign_step, io) == FL_OK)
		fl_decide_committed(req->app, io->out.device.id, &io->out.what);
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
	fl_reply_json(
	        req, 200,
	        json_pack("{s:o}", "device", fl_device_json(&io->dev)));
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

/* --- reconciliation ------------------------------------------------------- */

#define RECON_MAX_ROWS 5000 /* rows of one statement */

/* One statement row, as the provider wrote it. */
struct recon_row {
	char ref[FL_REFERENCE_MAX];
	char account[FL_LOAN_REF_MAX];
	int64_t amount;
	fl_time paid_at; /* 0: not given */
};

struct recon_io {
	struct fl_source_rec s;
	struct recon_row *rows;
	size_t n;
	bool apply;
	fl_time from, to; /* the statement's span, for "extra" */
	json_t *missing, *extra, *different, *applied;
	json_t *released; /* devices whose pending release it confirmed */
	json_t *wake;     /* devices paid by a missing row recorded now */
};

/* Whether ref is one of the statement's rows. */
static bool in_statement(const struct recon_io *io, const char *ref)
{
	for (size_t i = 0; i < io->n; i++)
		if (strcmp(io->rows[i].ref, ref) == 0)
			return true;
	return false;
}

struct extra_ctx {
	struct recon_io *io;
	fl_err err;
};

static fl_err extra_one(void *ctx, const struct fl_provider_ref *r)
{
	struct extra_ctx *x = ctx;

	if (strcmp(r->source_id, x->io->s.id) != 0 ||
	    in_statement(x->io, r->ref))
		return FL_OK;
	return json_array_append_new(
	               x->io->extra,
	               json_pack("{s:s,s:I,s:s?,s:s?}", "reference", r->ref,
	                         "amount", (json_int_t)r->amount, "payment_id",
	                         r->payment_id[0] ? r->payment_id : NULL,
	                         "unmatched_id",
	                         r->unmatched_id[0] ? r->unmatched_id
	                                            : NULL)) == 0
	               ? FL_OK
	               : FL_E_NOMEM;
}

/* A payment the statement confirms releases its device when that
 * release was waiting for it (sources.h). */
static fl_err release_reconciled(struct fl_tx *tx, struct fl_req *req,
                                 struct recon_io *io,
                                 const struct fl_provider_ref *prev)
{
	struct fl_pending_release pr;
	struct fl_payment_rec p;
	struct fl_device *d;
	struct fl_decided what;
	fl_err err;

	err = fl_store_payment_get(tx, io->s.tenant_id, prev->payment_id, &p);
	if (err == FL_OK)
		err = fl_store_pending_release_get(tx, p.device_id, &pr);
	if (err == FL_E_NOT_FOUND ||
	    (err == FL_OK && strcmp(pr.payment_id, prev->payment_id) != 0))
		return FL_OK;
	if (err != FL_OK)
		return err;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return FL_E_NOMEM;
	err = fl_src_confirm_release(tx, io->s.tenant_id, p.device_id,
	                             req->who.key_id, req->now, d, &what);
	if (err == FL_OK && what.bumped)
		json_array_append_new(io->released, json_string(d->id));
	free(d);
	return err;
}

static fl_err recon_step(struct fl_tx *tx, struct fl_req *req, void *ctx)
{
	struct recon_io *io = ctx;
	struct extra_ctx x = {.io = io};
	fl_err err = FL_OK;

	json_array_clear(io->missing);
	json_array_clear(io->extra);
	json_array_clear(io->different);
	json_array_clear(io->applied);
	json_array_clear(io->released);
	json_array_clear(io->wake);
	for (size_t i = 0; i < io->n; i++) {
		const struct recon_row *row = &io->rows[i];
		struct fl_provider_ref prev;

		err = fl_store_provider_ref_get(tx, io->s.id, row->ref, &prev);
		if (err == FL_OK) {
			if (prev.amount != row->amount)
				json_array_append_new(
				        io->different,
				        json_pack("{s:s,s:I,s:I}", "reference",
				                  row->ref, "statement_amount",
				                  (json_int_t)row->amount,
				                  "recorded_amount",
				                  (json_int_t)prev.amount));
			else if (io->apply && prev.payment_id[0] != '\0' &&
			         (err = release_reconciled(tx, req, io,
			                                   &prev)) != FL_OK)
				return err;
			continue;
		}
		if (err != FL_E_NOT_FOUND)
			return err;
		err = FL_OK;
		json_array_append_new(io->missing,
		                      json_pack("{s:s,s:s,s:I}", "reference",
		                                row->ref, "account",
		                                row->account, "amount",
		                                (json_int_t)row->amount));
		if (io->apply) {
			struct fl_src_payment in = {0};
			struct fl_src_result out;

			snprintf(in.ref, sizeof(in.ref), "%s", row->ref);
			snprintf(in.account, sizeof(in.account), "%s",
			         row->account);
			in.amount = row->amount;
			memcpy(in.currency, io->s.currency,
			       sizeof(in.currency));
			in.paid_at = row->paid_at;
			snprintf(in.payer, sizeof(in.payer), "statement");
			err = fl_src_receive(tx, &io->s, &in, req->now, &out);
			if (err == FL_OK && out.pay != NULL)
				json_array_append_new(
				        io->wake,
				        json_string(
				                out.pay->payment.device_id));
			if (err == FL_OK)
				json_array_append_new(
				        io->applied,
				        json_pack("{s:s,s:s?,s:s?}",
				                  "reference", row->ref,
				                  "payment_id",
				                  out.pay != NULL
				                          ? out.pay->payment.id
				                          : NULL,
				                  "unmatched_id",
				                  out.unmatched ? out.um.id
				                                : NULL));
			fl_src_result_clear(&out);
			if (err != FL_OK)
				return err;
		}
	}
	if ((err = fl_store_provider_ref_list(tx, io->s.tenant_id, io->from,
	                                      io->to, extra_one, &x)) != FL_OK)
		return err;
	if (io->apply &&
	    (err = fl_audit_req(
	             tx, req, "payment.reconcile", io->s.id, NULL,
	             json_pack("{s:I,s:I,s:I,s:I}", "rows", (json_int_t)io->n,
	                       "missing",
	                       (json_int_t)json_array_size(io->missing),
	                       "extra", (json_int_t)json_array_size(io->extra),
	                       "different",
	                       (json_int_t)json_array_size(io->different)))) !=
	            FL_OK)
		return err;
	fl_reply_json(req, 200,
	              json_pack("{s:s,s:I,s:O,s:O,s:O,s:O,s:O}", "source_id",
	                        io->s.id, "rows", (json_int_t)io->n, "missing",
	                        io->missing, "extra", io->extra, "different",
	                        io->different, "applied", io->applied,
	                        "released", io->released));
	return FL_OK;
}

/* A statement's time: RFC 3339, or "YYYY-MM-DD HH:MM:SS" in East Africa
 * Time as M-Pesa statements write it. */
static fl_err recon_time(const char *s, fl_time *out)
{
	char c2b[16];

	if (fl_time_parse(s, strlen(s), out) == FL_OK)
		return FL_OK;
	if (strlen(s) != 19 || s[4] != '-' || s[7] != '-' || s[10] != ' ' ||
	    s[13] != ':' || s[16] != ':')
		return FL_E_TIME_FORMAT;
	snprintf(c2b, sizeof(c2b), "%.4s%.2s%.2s%.2s%.2s%.2s", s, s + 5, s + 8,
	         s + 11, s + 14, s + 17);
	return fl_c2b_time(c2b, out);
}

static void reconcile(struct fl_req *req)
{
	static const char *const fields[] = {"source_id", "rows", "apply",
	                                     NULL};
	struct recon_io *io = calloc(1, sizeof(*io));
	char source_id[FL_ID_MAX] = "";
	struct fl_tx *tx = NULL;
	struct fl_jin j;
	json_t *rows, *v;
	size_t i;
	fl_err err;

	if (io == NULL) {
		fl_reply_error(req, FL_E_NOMEM, NULL);
		return;
	}
	if (fl_jin_parse(&j, req) != FL_OK)
		goto done;
	fl_jin_only(&j, fields);
	fl_jin_str(&j, "source_id", true, source_id, sizeof(source_id));
	fl_jin_bool(&j, "apply", false, &io->apply);
	rows = json_object_get(j.root, "rows");
	if (j.err == FL_OK &&
	    (!json_is_array(rows) || json_array_size(rows) > RECON_MAX_ROWS))
		fl_jin_fail(&j, FL_E_INVALID,
		            "rows must be a list of at most %d statement rows",
		            RECON_MAX_ROWS);
	if (j.err == FL_OK && (io->rows = calloc(json_array_size(rows) + 1,
	                                         sizeof(*io->rows))) == NULL)
		fl_jin_fail(&j, FL_E_NOMEM, "out of memory");
	io->from = FL_TIME_MAX;
	io->to = 0;
	if (j.err == FL_OK) {
		json_array_foreach(rows, i, v)
		{
			struct recon_row *r = &io->rows[i];
			const char *ref = json_string_value(
			        json_object_get(v, "reference"));
			const char *acc = json_string_value(
			        json_object_get(v, "account"));
			const char *amt =
			        json_string_value(json_object_get(v, "amount"));
			const char *at = json_string_value(
			        json_object_get(v, "paid_at"));

			if (ref == NULL || ref[0] == '\0' ||
			    strlen(ref) >= sizeof(r->ref) ||
			    !fl_api_text_ok(ref) || amt == NULL ||
			    (acc != NULL &&
			     (strlen(acc) >= sizeof(r->account) ||
			      !fl_api_text_ok(acc)))) {
				fl_jin_fail(
				        &j, FL_E_INVALID,
				        "rows[%zu] needs reference and amount "
				        "(text), account (text) optional",
				        i);
				break;
			}
			snprintf(r->ref, sizeof(r->ref), "%s", ref);
			snprintf(r->account, sizeof(r->account), "%s",
			         acc != NULL ? acc : "");
			/* decimals checked once the source is known */
			if (fl_c2b_amount(amt, 3, &r->amount) != FL_OK &&
			    fl_c2b_amount(amt, 0, &r->amount) != FL_OK) {
				fl_jin_fail(&j, FL_E_MONEY,
				            "rows[%zu].amount '%.40s' is not a "
				            "positive decimal amount",
				            i, amt);
				break;
			}
			r->amount = 0;
			json_object_set_new(v, "_amount", json_string(amt));
			if (at != NULL &&
			    recon_time(at, &r->paid_at) != FL_OK) {
				fl_jin_fail(
				        &j, FL_E_TIME_FORMAT,
				        "rows[%zu].paid_at must be RFC 3339 or "
				        "YYYY-MM-DD HH:MM:SS (East Africa "
				        "Time)",
				        i);
				break;
			}
			if (r->paid_at != 0 && r->paid_at < io->from)
				io->from = r->paid_at;
			if (r->paid_at > io->to)
				io->to = r->paid_at;
			io->n++;
		}
	}
	if (j.err == FL_OK) {
		if ((err = fl_store_begin(req->app->store, false, &tx)) ==
		    FL_OK) {
			err = fl_store_source_get(tx, req->who.tenant_id,
			                          source_id, &io->s);
			fl_tx_rollback(tx);
		}
		if (err == FL_E_NOT_FOUND)
			fl_jin_fail(&j, FL_E_NOT_FOUND,
			            "no such payment source");
		else if (err != FL_OK)
			fl_jin_fail(&j, err, "%s", fl_strerror(err));
	}
	for (i = 0; j.err == FL_OK && i < io->n; i++) {
		const char *amt = json_string_value(
		        json_object_get(json_array_get(rows, i), "_amount"));

		if (fl_c2b_amount(amt, fl_currency_decimals(io->s.currency),
		                  &io->rows[i].amount) != FL_OK)
			fl_jin_fail(&j, FL_E_MONEY,
			            "rows[%zu].amount '%.40s' is not an amount "
			            "of %s",
			            i, amt, io->s.currency);
	}
	if (fl_jin_end(&j) != FL_OK)
		goto done;
	/* "extra": what finlock recorded through the source over the
	 * statement's span (a day either side: the provider's clock) */
	if (io->to == 0) {
		io->from = req->now - 30 * FL_DAY;
		io->to = req->now;
	} else {
		io->from -= FL_DAY;
		io->to += FL_DAY;
	}
	io->missing = json_array();
	io->extra = json_array();
	io->different = json_array();
	io->applied = json_array();
	io->released = json_array();
	io->wake = json_array();
	if (io->missing == NULL || io->extra == NULL || io->different == NULL ||
	    io->applied == NULL || io->released == NULL || io->wake == NULL) {
		fl_reply_error(req, FL_E_NOMEM, NULL);
	} else if (fl_txn_run_unrecorded(req, recon_step, io) == FL_OK) {
		/* wake the phones the statement released, and those a
		 * missing payment recorded now unlocked */
		struct fl_decided bumped = {.bumped = true};

		json_array_foreach(io->released, i, v) fl_decide_committed(
		        req->app, json_string_value(v), &bumped);
		json_array_foreach(io->wake, i, v) fl_decide_committed(
		        req->app, json_string_value(v), &bumped);
	}
done:
	json_decref(io->missing);
	json_decref(io->extra);
	json_decref(io->different);
	json_decref(io->applied);
	json_decref(io->released);
	json_decref(io->wake);
	free(io->rows);
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
        {"POST", "/v1/callbacks/{source_id}/{secret}/payments", signed_payment,
         FL_AUTH_NONE},
        {"GET", "/v1/payments/unmatched", unmatched_list, FL_ROLES_READ},
        {"POST", "/v1/payments/reconcile", reconcile, FL_ROLE_ADMIN},
        {"POST", "/v1/payments/unmatched/{unmatched_id}/assign",
         unmatched_assign, FL_ROLE_ADMIN},
        {"POST", "/v1/devices/{device_id}/release/confirm", release_confirm,
         FL_ROLE_ADMIN},
};

const struct fl_route_table fl_routes_sources = FL_ROUTE_TABLE(routes);
