/*
 * api_webhooks.c - the lender's webhook endpoints (docs/webhooks.md):
 * register one (the answer carries its secret, shown once: it is never
 * stored, only derivable by this server), list, show, disable, enable,
 * rotate the secret, delete; the delivery log and redelivery; the public
 * facts of the key that signs v1a.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/api.h"
#include "server/app.h"
#include "server/audit.h"
#include "server/auth.h"
#include "server/events.h"
#include "server/jsonio.h"
#include "server/route.h"
#include "server/txn.h"
#include "server/webhooks.h"

static const char *const state_names[] = {"pending", "delivered", "failed"};

static json_t *endpoint_json(const struct fl_wh_endpoint *e)
{
	json_t *ev = json_array();

	if (strcmp(e->events, "*") == 0) {
		json_array_append_new(ev, json_string("*"));
	} else {
		const char *p = e->events;

		while (p != NULL && *p == ',' && p[1] != '\0') {
			const char *q = strchr(p + 1, ',');

			if (q == NULL)
				break;
			json_array_append_new(
			        ev, json_stringn(p + 1, (size_t)(q - p - 1)));
			p = q;
		}
	}
	return json_pack("{s:s,s:s,s:o,s:o,s:s,s:b,s:o,s:s}", "id", e->id,
	                 "url", e->url, "events", ev, "created_at",
	                 fl_json_time(e->created_at), "created_by",
	                 e->created_by, "enabled", e->disabled_at == 0,
	                 "disabled_at", fl_json_time(e->disabled_at),
	                 "disabled_reason", e->disabled_reason);
}

static json_t *delivery_json(const struct fl_wh_delivery *d)
{
	return json_pack(
	        "{s:I,s:s,s:s,s:s,s:s,s:i,s:o,s:o,s:i,s:s,s:o}", "id",
	        (json_int_t)d->ord, "endpoint_id", d->endpoint_id, "event_id",
	        d->event_id, "type", d->type, "state",
	        (unsigned)d->state < 3 ? state_names[d->state] : "unknown",
	        "attempts", d->attempts, "next_attempt_at",
	        d->state == FL_WH_PENDING ? fl_json_time(d->next_at)
	                                  : json_null(),
	        "last_attempt_at", fl_json_time(d->last_at), "last_status",
	        d->last_status, "last_error", d->last_error, "done_at",
	        fl_json_time(d->done_at));
}

/* Checks a target URL: http or https, a host, no user info, printable,
 * shorter than FL_WH_URL_MAX. Where it points is checked when sending. */
static bool url_ok(const char *url, char *why, size_t cap)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *user = NULL;
	bool ok = false;

	if (u == NULL) {
		snprintf(why, cap, "out of memory");
		return false;
	}
	for (const char *p = url; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f) {
			snprintf(why, cap, "url must be printable ASCII "
			                   "without spaces");
			goto out;
		}
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		snprintf(why, cap, "url is not an absolute URL");
		goto out;
	}
	if (strcmp(scheme, "https") != 0 && strcmp(scheme, "http") != 0) {
		snprintf(why, cap, "url must be https:// (or http://)");
		goto out;
	}
	if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK) {
		snprintf(why, cap, "url must not carry user information");
		goto out;
	}
	ok = host[0] != '\0';
	if (!ok)
		snprintf(why, cap, "url has no host");
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(user);
	curl_url_cleanup(u);
	return ok;
}

enum op { OP_CREATE, OP_DISABLE, OP_ENABLE, OP_ROTATE, OP_DELETE };

struct ep_io {
	enum op op;
	struct fl_wh_endpoint e; /* create: the new one; else the result */
	char reason[FL_REASON_MAX];
};

/* The answer of a change: the endpoint, with its secret when it was made
 * or rotated. */
static json_t *answer(struct fl_req *req, const struct fl_wh_endpoint *e,
                      bool with_secret)
{
	json_t *j = endpoint_json(e);
	char secret[FL_WH_SECRET_TEXT];

	if (j != NULL && with_secret) {
		fl_webhook_secret(req->app->secrets.webhook_key, e->id,
		                  e->secret_gen, NULL, secret);
		json_object_set_new(j, "secret", json_string(secret));
		fl_wipe(secret, sizeof(secret));
	}
	return j;
}

static fl_err ep_step(struct fl_tx *tx, struct fl_req *req, void *ctx)
{
	struct ep_io *io = ctx;
	struct fl_wh_endpoint *e = &io->e, before;
	static const char *const actions[] = {
	        "webhook.create", "webhook.disable", "webhook.enable",
	        "webhook.rotate", "webhook.delete"};
	fl_err err;

	if (io->op == OP_CREATE) {
		if ((err = fl_store_wh_endpoint_insert(tx, e)) != FL_OK)
			return err;
		before.id[0] = '\0';
	} else {
		err = fl_store_wh_endpoint_get(tx, req->who.tenant_id,
		                               fl_req_param(req, "webhook_id"),
		                               e);
		if (err == FL_E_NOT_FOUND) {
			fl_reply_error(req, err, "no such webhook endpoint");
			return err;
		}
		if (err != FL_OK)
			return err;
		before = *e;
		if (io->op == OP_DISABLE) {
			if (e->disabled_at != 0) {
				fl_reply_error(req, FL_E_STATE,
				               "the endpoint is disabled "
				               "already");
				return FL_E_STATE;
			}
			e->disabled_at = req->now;
			snprintf(e->disabled_reason,
			         sizeof(e->disabled_reason), "%s",
			         io->reason[0] ? io->reason : "disabled");
		} else if (io->op == OP_ENABLE) {
			e->disabled_at = 0;
			e->disabled_reason[0] = '\0';
		} else if (io->op == OP_ROTATE) {
			e->secret_gen++;
		}
		err = io->op == OP_DELETE
		              ? fl_store_wh_endpoint_delete(tx, e->tenant_id,
		                                            e->id)
		              : fl_store_wh_endpoint_update(tx, e);
		if (err != FL_OK)
			return err;
	}
	if ((err = fl_audit_req(tx, req, actions[io->op], e->id,
	                        before.id[0] ? endpoint_json(&before) : NULL,
	                        io->op == OP_DELETE ? NULL
	                                            : endpoint_json(e))) !=
	    FL_OK)
		return err;
	if (io->op == OP_DELETE)
		fl_reply_json(req, 204, NULL);
	else
		fl_reply_json(req, io->op == OP_CREATE ? 201 : 200,
		              answer(req, e,
		                     io->op == OP_CREATE ||
		                             io->op == OP_ROTATE));
	return FL_OK;
}

static void run_op(struct fl_req *req, struct ep_io *io)
{
	fl_err err;

	/* an answer with a secret is never kept for replay; either way the
	 * answer is in req */
	if (io->op == OP_CREATE || io->op == OP_ROTATE)
		err = fl_txn_run_unrecorded(req, ep_step, io);
	else
		err = fl_txn_run(req, ep_step, io);
	(void)err;
}

static void create(struct fl_req *req)
{
	static const char *const fields[] = {"url", "events", NULL};
	struct ep_io *io = calloc(1, sizeof(*io));
	struct fl_wh_endpoint *e;
	struct fl_jin j;
	json_t *events, *v;
	size_t i, used = 0;
	char why[128];

	if (io == NULL) {
		fl_reply_error(req, FL_E_NOMEM, NULL);
		return;
	}
	e = &io->e;
	if (fl_jin_parse(&j, req) != FL_OK)
		goto done;
	fl_jin_only(&j, fields);
	fl_jin_str(&j, "url", true, e->url, sizeof(e->url));
	if (j.err == FL_OK && !url_ok(e->url, why, sizeof(why)))
		fl_jin_fail(&j, FL_E_INVALID, "%s", why);
	events = fl_jin_get(&j, "events", JSON_ARRAY, true);
	if (j.err == FL_OK && json_array_size(events) == 0)
		fl_jin_fail(&j, FL_E_INVALID,
		            "events must name at least one event type, or "
		            "\"*\" for all");
	e->events[used++] = ',';
	json_array_foreach(events, i, v)
	{
		char type[FL_WH_TYPE_MAX];

		if (j.err != FL_OK ||
		    !fl_jin_elem_str(&j, v, "events[]", type, sizeof(type)))
			break;
		if (strcmp(type, "*") == 0) {
			snprintf(e->events, sizeof(e->events), "*");
			used = 0;
			break;
		}
		if (!fl_event_known(type)) {
			fl_jin_fail(&j, FL_E_INVALID,
			            "unknown event type '%s'", type);
			break;
		}
		if (used + strlen(type) + 2 > sizeof(e->events)) {
			fl_jin_fail(&j, FL_E_TOO_LARGE, "too many events");
			break;
		}
		used += (size_t)snprintf(e->events + used,
		                         sizeof(e->events) - used, "%s,", type);
	}
	if (fl_jin_end(&j) != FL_OK)
		goto done;
	io->op = OP_CREATE;
	fl_id_generate(e->id, "we");
	snprintf(e->tenant_id, sizeof(e->tenant_id), "%s", req->who.tenant_id);
	snprintf(e->created_by, sizeof(e->created_by), "%s", req->who.key_id);
	e->secret_gen = 1;
	e->created_at = req->now;
	run_op(req, io);
done:
	free(io);
}

static void change(struct fl_req *req, enum op op)
{
	static const char *const fields[] = {"reason", NULL};
	struct ep_io *io = calloc(1, sizeof(*io));
	struct fl_jin j;

	if (io == NULL) {
		fl_reply_error(req, FL_E_NOMEM, NULL);
		return;
	}
	io->op = op;
	if (op == OP_DISABLE) {
		if (fl_jin_parse_opt(&j, req, true) != FL_OK)
			goto done;
		fl_jin_only(&j, fields);
		fl_jin_str(&j, "reason", false, io->reason,
		           sizeof(io->reason));
		if (j.err == FL_OK && !fl_api_text_ok(io->reason))
			fl_jin_fail(&j, FL_E_INVALID,
			            "reason must be printable");
		if (fl_jin_end(&j) != FL_OK)
			goto done;
	} else if (fl_api_empty_body(req) != FL_OK) {
		goto done;
	}
	run_op(req, io);
done:
	free(io);
}

static void disable(struct fl_req *req) { change(req, OP_DISABLE); }
static void enable(struct fl_req *req) { change(req, OP_ENABLE); }
static void rotate(struct fl_req *req) { change(req, OP_ROTATE); }
static void delete_ep(struct fl_req *req) { change(req, OP_DELETE); }

struct list {
	json_t *items;
	int64_t last;
	int n;
};

static fl_err ep_one(void *ctx, const struct fl_wh_endpoint *e)
{
	struct list *l = ctx;

	l->last = e->ord;
	l->n++;
	return json_array_append_new(l->items, endpoint_json(e)) == 0
	               ? FL_OK
	               : FL_E_NOMEM;
}

static fl_err dl_one(void *ctx, const struct fl_wh_delivery *d)
{
	struct list *l = ctx;

	l->last = d->ord;
	l->n++;
	return json_array_append_new(l->items, delivery_json(d)) == 0
	               ? FL_OK
	               : FL_E_NOMEM;
}

static void list(struct fl_req *req)
{
	static const char *const q[] = {"cursor", "limit", NULL};
	struct list l = {0};
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
		err = fl_store_wh_endpoint_list(tx, req->who.tenant_id, after,
		                                limit, ep_one, &l);
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
	struct fl_wh_endpoint e;
	struct fl_tx *tx = NULL;
	fl_err err;

	if (fl_req_query_only(req, q) != FL_OK)
		return;
	if ((err = fl_store_begin(req->app->store, false, &tx)) == FL_OK) {
		err = fl_store_wh_endpoint_get(tx, req->who.tenant_id,
		                               fl_req_param(req, "webhook_id"),
		                               &e);
		fl_tx_rollback(tx);
	}
	if (err != FL_OK)
		fl_reply_error(req, err,
		               err == FL_E_NOT_FOUND ? "no such webhook endpoint"
		                                     : NULL);
	else
		fl_reply_json(req, 200, endpoint_json(&e));
}

static void deliveries(struct fl_req *req)
{
	static const char *const q[] = {"cursor", "limit", NULL};
	const char *id = fl_req_param(req, "webhook_id");
	struct fl_wh_endpoint e;
	struct list l = {0};
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
		err = fl_store_wh_endpoint_get(tx, req->who.tenant_id, id, &e);
		if (err == FL_OK)
			err = fl_store_wh_delivery_list(tx, req->who.tenant_id,
			                                id, after, limit,
			                                dl_one, &l);
		fl_tx_rollback(tx);
	}
	if (err != FL_OK) {
		json_decref(l.items);
		fl_reply_error(req, err,
		               err == FL_E_NOT_FOUND ? "no such webhook endpoint"
		                                     : NULL);
		return;
	}
	fl_reply_page(req, l.items, l.n == limit ? l.last : 0);
}

struct redo_io {
	int64_t ord;
};

static fl_err redo_step(struct fl_tx *tx, struct fl_req *req, void *ctx)
{
	struct redo_io *io = ctx;
	struct fl_wh_delivery d;
	fl_err err;

	err = fl_store_wh_delivery_get(tx, req->who.tenant_id, io->ord, &d);
	if (err == FL_OK &&
	    strcmp(d.endpoint_id, fl_req_param(req, "webhook_id")) != 0)
		err = FL_E_NOT_FOUND;
	if (err == FL_E_NOT_FOUND) {
		fl_reply_error(req, err, "no such delivery");
		return err;
	}
	if (err != FL_OK)
		return err;
	/* sent again at once, ahead of nothing: in its place in the
	 * endpoint's order, with a fresh count of attempts */
	d.state = FL_WH_PENDING;
	d.attempts = 0;
	d.next_at = 0;
	d.done_at = 0;
	if ((err = fl_store_wh_delivery_update(tx, &d)) != FL_OK ||
	    (err = fl_audit_req(tx, req, "webhook.redeliver", d.endpoint_id,
	                        NULL,
	                        json_pack("{s:I,s:s}", "delivery",
	                                  (json_int_t)d.ord, "event",
	                                  d.event_id))) != FL_OK)
		return err;
	fl_reply_json(req, 202, delivery_json(&d));
	return FL_OK;
}

static void redeliver(struct fl_req *req)
{
	struct redo_io io;
	uint64_t v;

	if (fl_parse_uint(fl_req_param(req, "delivery_id"), INT64_MAX, &v) !=
	    FL_OK) {
		fl_reply_error(req, FL_E_NOT_FOUND, "no such delivery");
		return;
	}
	if (fl_api_empty_body(req) != FL_OK)
		return;
	io.ord = (int64_t)v;
	if (fl_txn_run(req, redo_step, &io) != FL_OK)
		return; /* answered */
}

static void signing_key(struct fl_req *req)
{
	static const char *const q[] = {NULL};
	struct fl_webhook_key_info k;

	if (fl_req_query_only(req, q) != FL_OK)
		return;
	if (req->app->webhooks == NULL) {
		fl_reply_error(req, FL_E_STATE, "webhooks are not running");
		return;
	}
	fl_webhooks_key_info(req->app->webhooks, &k);
	fl_reply_json(req, 200,
	              json_pack("{s:s,s:s,s:s,s:s,s:o,s:o}", "alg", "Ed25519",
	                        "kid", k.kid, "public_key", k.pk,
	                        "public_key_base64", k.pk_b64, "certificate",
	                        k.cert ? json_string(k.cert) : json_null(),
	                        "root",
	                        k.root[0] ? json_string(k.root)
	                                  : json_null()));
}

static const struct fl_route routes[] = {
        {"GET", "/v1/webhooks/signing-key", signing_key, FL_ROLES_READ},
        {"POST", "/v1/webhooks", create, FL_ROLE_ADMIN},
        {"GET", "/v1/webhooks", list, FL_ROLE_ADMIN},
        {"GET", "/v1/webhooks/{webhook_id}", show, FL_ROLE_ADMIN},
        {"DELETE", "/v1/webhooks/{webhook_id}", delete_ep, FL_ROLE_ADMIN},
        {"POST", "/v1/webhooks/{webhook_id}/disable", disable, FL_ROLE_ADMIN},
        {"POST", "/v1/webhooks/{webhook_id}/enable", enable, FL_ROLE_ADMIN},
        {"POST", "/v1/webhooks/{webhook_id}/rotate", rotate, FL_ROLE_ADMIN},
        {"GET", "/v1/webhooks/{webhook_id}/deliveries", deliveries,
         FL_ROLE_ADMIN},
        {"POST",
         "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
         redeliver, FL_ROLE_ADMIN},
};

const struct fl_route_table fl_routes_webhooks = FL_ROUTE_TABLE(routes);
