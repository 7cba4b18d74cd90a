/*
 * api_audit.c - reading the audit chains: list with filters and a cursor,
 * export as JSON lines, verify. A tenant's admin or auditor reads the
 * tenant's chain under /v1/audit; the operator reads the operator chain
 * under /v1/operator/audit. Nobody reads another's chain. The chain's
 * head can be signed on demand (finlockd also signs every grown chain at
 * intervals); the newest signed head is kept and served.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "server/api.h"
#include "server/app.h"
#include "server/audit.h"
#include "server/auth.h"
#include "server/jsonio.h"
#include "server/route.h"

#define EXPORT_MAX 100000 /* entries per export answer */

static const char *chain_of(const struct fl_req *req)
{
	return req->who.role == FL_ROLE_OPERATOR ? FL_AUDIT_CHAIN_OPERATOR
	                                         : req->who.tenant_id;
}

/* Reads the filter query parameters; answers 400 on a bad one. */
static fl_err read_filter(struct fl_req *req, struct fl_audit_filter *f)
{
	const char *since = fl_req_query(req, "since");
	const char *until = fl_req_query(req, "until");
	fl_err err;

	memset(f, 0, sizeof(*f));
	f->action = fl_req_query(req, "action");
	f->target = fl_req_query(req, "target");
	f->actor = fl_req_query(req, "actor");
	if (since != NULL &&
	    (err = fl_time_parse(since, strlen(since), &f->since)) != FL_OK) {
		fl_reply_error(req, err, "since: %s", fl_strerror(err));
		return err;
	}
	if (until != NULL &&
	    (err = fl_time_parse(until, strlen(until), &f->until)) != FL_OK) {
		fl_reply_error(req, err, "until: %s", fl_strerror(err));
		return err;
	}
	return FL_OK;
}

struct list_ctx {
	json_t *items;
	int64_t last;
	int n;
};

/* The reason given for the act an entry records, from its "after"
 * snapshot: a command's, a cancellation's, a reversal's or a reschedule's;
 * "" when it has none. */
static const char *entry_reason(const json_t *after)
{
	static const char *const paths[][2] = {
	        {"command", "reason"},
	        {"cancelled", "reason"},
	        {"reverse_reason", NULL},
	        {"reason", NULL},
	};

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		const json_t *v = json_object_get(after, paths[i][0]);

		if (paths[i][1] != NULL)
			v = json_object_get(v, paths[i][1]);
		if (json_is_string(v) && json_string_length(v) > 0)
			return json_string_value(v);
	}
	return "";
}

static fl_err list_one(void *ctx, const struct fl_audit_entry *e)
{
	struct list_ctx *lc = ctx;
	json_t *j = fl_audit_entry_json(e);

	lc->last = e->seq;
	lc->n++;
	if (j == NULL)
		return FL_E_NOMEM;
	/* the listing adds the reason, read from the snapshot (the export
	 * keeps entries as they were hashed) */
	json_object_set_new(
	        j, "reason",
	        json_string(entry_reason(json_object_get(j, "after"))));
	return json_array_append_new(lc->items, j) == 0 ? FL_OK : FL_E_NOMEM;
}

static void list(struct fl_req *req)
{
	static const char *const q[] = {"cursor", "limit", "action", "target",
	                                "actor",  "since", "until",  NULL};
	struct fl_audit_filter f;
	struct list_ctx lc = {0};
	struct fl_tx *tx = NULL;
	int64_t after;
	int limit;
	fl_err err;

	if (fl_req_query_only(req, q) != FL_OK ||
	    fl_req_page(req, &after, &limit) != FL_OK ||
	    read_filter(req, &f) != FL_OK)
		return;
	if ((lc.items = json_array()) == NULL) {
		fl_reply_error(req, FL_E_NOMEM, NULL);
		return;
	}
	if ((err = fl_store_begin(req->app->store, false, &tx)) == FL_OK) {
		err = fl_store_audit_list(tx, chain_of(req), after, limit, &f,
		                          list_one, &lc);
		fl_tx_rollback(tx);
	}
	if (err != FL_OK) {
		json_decref(lc.items);
		fl_reply_error(req, err, NULL);
		return;
	}
	fl_reply_page(req, lc.items, lc.n == limit ? lc.last : 0);
}

struct export_ctx {
	char *buf;
	size_t len, cap;
	int64_t last;
	int n;
};

static fl_err export_one(void *ctx, const struct fl_audit_entry *e)
{
	struct export_ctx *ec = ctx;
	json_t *j = fl_audit_entry_json(e);
	char *line = j != NULL ? json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII)
	                       : NULL;
	size_t n;
	fl_err err = FL_OK;

	json_decref(j);
	if (line == NULL)
		return FL_E_NOMEM;
	n = strlen(line);
	if (ec->len + n + 2 > ec->cap) {
		size_t cap = ec->cap ? ec->cap * 2 : 65536;
		char *nb;

		while (cap < ec->len + n + 2)
			cap *= 2;
		nb = realloc(ec->buf, cap);
		if (nb == NULL) {
			err = FL_E_NOMEM;
			goto out;
		}
		ec->buf = nb;
		ec->cap = cap;
	}
	memcpy(ec->buf + ec->len, line, n);
	ec->len += n;
	ec->buf[ec->len++] = '\n';
	ec->buf[ec->len] = '\0';
	ec->last = e->seq;
	ec->n++;
out:
	free(line);
	return err;
}

static void export(struct fl_req *req)
{
	static const char *const q[] = {"cursor", "action", "target", "actor",
	                                "since",  "until",  NULL};
	const char *c = fl_req_query(req, "cursor");
	struct fl_audit_filter f;
	struct export_ctx ec = {0};
	struct fl_tx *tx = NULL;
	int64_t after = 0;
	fl_err err;

	if (fl_req_query_only(req, q) != FL_OK || read_filter(req, &f) != FL_OK)
		return;
	if (c != NULL && c[0] != '\0' && fl_cursor_decode(c, &after) != FL_OK) {
		fl_reply_error(req, FL_E_INVALID, "cursor is not valid");
		return;
	}
	if ((err = fl_store_begin(req->app->store, false, &tx)) == FL_OK) {
		err = fl_store_audit_list(tx, chain_of(req), after, EXPORT_MAX,
		                          &f, export_one, &ec);
		fl_tx_rollback(tx);
	}
	if (err != FL_OK) {
		free(ec.buf);
		fl_reply_error(req, err, NULL);
		return;
	}
	if (ec.buf == NULL && (ec.buf = calloc(1, 1)) == NULL) {
		fl_reply_error(req, FL_E_NOMEM, NULL);
		return;
	}
	fl_reply_raw(req, 200, "application/x-ndjson", ec.buf, ec.len);
	if (ec.n == EXPORT_MAX) {
		char cur[FL_CURSOR_MAX];

		fl_cursor_encode(ec.last, cur);
		fl_reply_header(req, "X-Next-Cursor", cur);
	}
}

static void verify(struct fl_req *req)
{
	static const char *const q[] = {NULL};
	struct fl_audit_verdict v;
	char hash[2 * FL_HASH_LEN + 1];
	struct fl_tx *tx = NULL;
	fl_err err;

	if (fl_req_query_only(req, q) != FL_OK)
		return;
	if ((err = fl_store_begin(req->app->store, false, &tx)) == FL_OK) {
		err = fl_audit_verify(tx, chain_of(req), &v);
		fl_tx_rollback(tx);
	}
	if (err != FL_OK) {
		fl_reply_error(req, err, NULL);
		return;
	}
	fl_hex_encode(hash, v.head_hash, FL_HASH_LEN);
	fl_reply_json(req, 200,
	              json_pack("{s:s,s:b,s:I,s:I,s:s,s:I,s:s?,s:I}", "chain",
	                        chain_of(req), "ok", v.ok, "entries",
	                        (json_int_t)v.entries, "head_seq",
	                        (json_int_t)v.head_seq, "head_hash", hash,
	                        "bad_seq", (json_int_t)v.bad_seq, "problem",
	                        v.ok ? NULL : v.problem, "signed_seq",
	                        (json_int_t)v.signed_seq));
}

/* Signs the chain's head now and answers it. */
static void head_sign(struct fl_req *req)
{
	struct fl_audit_signed_head *h;
	fl_err err;

	if (fl_api_empty_body(req) != FL_OK)
		return;
	h = calloc(1, sizeof(*h));
	if (h == NULL) {
		fl_reply_error(req, FL_E_NOMEM, NULL);
		return;
	}
	err = fl_audit_sign_head(req->app, chain_of(req), req->now, h);
	if (err == FL_E_STATE)
		fl_reply_error_status(req, 503, err,
		                      "no certified signing key is available");
	else if (err != FL_OK)
		fl_reply_error(req, err, NULL);
	else
		fl_reply_json(req, 201, fl_audit_head_json(h));
	free(h);
}

/* The newest signed head of the chain. */
static void head_show(struct fl_req *req)
{
	static const char *const q[] = {NULL};
	struct fl_audit_signed_head *h;
	struct fl_tx *tx = NULL;
	fl_err err;

	if (fl_req_query_only(req, q) != FL_OK)
		return;
	h = calloc(1, sizeof(*h));
	if (h == NULL) {
		fl_reply_error(req, FL_E_NOMEM, NULL);
		return;
	}
	if ((err = fl_store_begin(req->app->store, false, &tx)) == FL_OK) {
		err = fl_store_audit_head_latest(tx, chain_of(req), h);
		fl_tx_rollback(tx);
	}
	if (err != FL_OK)
		fl_reply_error(req, err,
		               err == FL_E_NOT_FOUND
		                       ? "the chain's head was never signed"
		                       : NULL);
	else
		fl_reply_json(req, 200, fl_audit_head_json(h));
	free(h);
}

#define TENANT_AUDIT (FL_ROLE_ADMIN | FL_ROLE_AUDITOR)

static const struct fl_route routes[] = {
        {"GET", "/v1/audit", list, TENANT_AUDIT},
        {"GET", "/v1/audit/export", export, TENANT_AUDIT},
        {"GET", "/v1/audit/verify", verify, TENANT_AUDIT},
        {"GET", "/v1/audit/head", head_show, TENANT_AUDIT},
        {"POST", "/v1/audit/head", head_sign, TENANT_AUDIT},
        {"GET", "/v1/operator/audit", list, FL_ROLE_OPERATOR},
        {"GET", "/v1/operator/audit/export", export, FL_ROLE_OPERATOR},
        {"GET", "/v1/operator/audit/verify", verify, FL_ROLE_OPERATOR},
        {"GET", "/v1/operator/audit/head", head_show, FL_ROLE_OPERATOR},
        {"POST", "/v1/operator/audit/head", head_sign, FL_ROLE_OPERATOR},
};

const struct fl_route_table fl_routes_audit = FL_ROUTE_TABLE(routes);
