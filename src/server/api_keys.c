/*
 * api_keys.c - a tenant admin's API keys: create with a role (admin,
 * clerk, support, auditor), list, show, revoke. The writes are
 * apikeys.h's, run by the runner (txn.h); the operator's key routes
 * (api_operator.c) answer through the same fl_api_key_create and
 * fl_api_key_revoke.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "server/api.h"
#include "server/apikeys.h"
#include "server/app.h"
#include "server/auth.h"
#include "server/jsonio.h"
#include "server/route.h"
#include "server/txn.h"

/* --- creating and revoking keys ------------------------------------------- */

struct create_io {
	struct fl_apikey_create_in in;
	struct fl_apikey_new key;
	struct fl_apikey_result out;
};

static fl_err create_step(struct fl_tx *tx, struct fl_req *req, void *ctx)
{
	struct create_io *io = ctx;
	fl_err err = fl_apikey_create(tx, &io->in, req->now, &io->out);
	json_t *j;

	if (err != FL_OK) {
		if (io->out.msg[0] != '\0')
			fl_reply_error(req, err, "%s", io->out.msg);
		return err;
	}
	j = fl_apikey_json(&io->out.key);
	if (j == NULL ||
	    json_object_set_new(j, "key", json_string(io->key.secret)) != 0) {
		json_decref(j);
		return FL_E_NOMEM;
	}
	fl_reply_json(req, 201, j);
	return FL_OK;
}

void fl_api_key_create(struct fl_req *req, const char *tenant_id,
                       bool tenant_must_exist, unsigned role, const char *label)
{
	struct create_io *io = calloc(1, sizeof(*io));
	fl_err err;

	if (io == NULL) {
		fl_reply_error(req, FL_E_NOMEM, NULL);
		return;
	}
	io->in.who = req->who;
	snprintf(io->in.tenant_id, sizeof(io->in.tenant_id), "%s", tenant_id);
	io->in.tenant_must_exist = tenant_must_exist;
	io->in.role = role;
	snprintf(io->in.label, sizeof(io->in.label), "%s", label);
	io->in.key = &io->key;
	err = fl_apikey_new(req->app->secrets.apikey_hash_key, &io->key);
	if (err == FL_OK)
		err = fl_txn_run(req, create_step, io); /* answers */
	else
		fl_reply_error(req, err, NULL);
	fl_wipe(io, sizeof(*io));
	free(io);
}

/* --- handlers ------------------------------------------------------------- */

static void create(struct fl_req *req)
{
	static const char *const fields[] = {"role", "label", NULL};
	char role_name[FL_ROLE_NAME_MAX] = "", label[FL_NAME_MAX] = "";
	struct fl_jin j;
	unsigned role = 0;

	if (fl_jin_parse(&j, req) != FL_OK)
		return;
	fl_jin_only(&j, fields);
	fl_jin_str(&j, "role", true, role_name, sizeof(role_name));
	fl_jin_str(&j, "label", false, label, sizeof(label));
	if (j.err == FL_OK && (fl_role_parse(role_name, &role) != FL_OK ||
	                       role == FL_ROLE_OPERATOR))
		fl_jin_fail(&j, FL_E_INVALID,
		            "role must be admin, clerk, support or auditor");
	if (fl_jin_end(&j) != FL_OK)
		return;
	fl_api_key_create(req, req->who.tenant_id, false, role, label);
}

struct list_ctx {
	json_t *items;
	int64_t last;
	int n;
};

static fl_err list_one(void *ctx, const struct fl_apikey *k)
{
	struct list_ctx *lc = ctx;

	lc->last = k->ord;
	lc->n++;
	return json_array_append_new(lc->items, fl_apikey_json(k)) == 0
	               ? FL_OK
	               : FL_E_NOMEM;
}

void fl_api_keys_list(struct fl_req *req, const char *tenant_id)
{
	static const char *const q[] = {"cursor", "limit", NULL};
	struct list_ctx lc = {0};
	struct fl_tx *tx = NULL;
	int64_t after;
	int limit;
	fl_err err;

	if (fl_req_query_only(req, q) != FL_OK ||
	    fl_req_page(req, &after, &limit) != FL_OK)
		return;
	lc.items = json_array();
	if (lc.items == NULL) {
		fl_reply_error(req, FL_E_NOMEM, NULL);
		return;
	}
	if ((err = fl_store_begin(req->app->store, false, &tx)) == FL_OK) {
		err = fl_store_apikey_list(tx, tenant_id, after, limit,
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

struct revoke_io {
	struct fl_apikey_revoke_in in;
	struct fl_apikey_result out;
};

static fl_err revoke_step(struct fl_tx *tx, struct fl_req *req, void *ctx)
{
	struct revoke_io *io = ctx;
	fl_err err = fl_apikey_revoke(tx, &io->in, req->now, &io->out);

	if (err != FL_OK) {
		if (io->out.msg[0] != '\0')
			fl_reply_error(req, err, "%s", io->out.msg);
		return err;
	}
	fl_reply_json(req, 200, fl_apikey_json(&io->out.after));
	return FL_OK;
}

void fl_api_key_revoke(struct fl_req *req, const char *tenant_id,
                       const char *key_id, const char *only_role)
{
	struct revoke_io io;
	fl_err err;

	if (fl_api_empty_body(req) != FL_OK)
		return;
	memset(&io, 0, sizeof(io));
	io.in.who = req->who;
	snprintf(io.in.tenant_id, sizeof(io.in.tenant_id), "%s", tenant_id);
	snprintf(io.in.key_id, sizeof(io.in.key_id), "%s", key_id);
	io.in.only_role = only_role;
	err = fl_txn_run(req, revoke_step, &io); /* answers */
	(void)err;
}

static void list(struct fl_req *req)
{
	fl_api_keys_list(req, req->who.tenant_id);
}

static void show(struct fl_req *req)
{
	struct fl_apikey k;
	struct fl_tx *tx = NULL;
	fl_err err;

	if ((err = fl_store_begin(req->app->store, false, &tx)) == FL_OK) {
		err = fl_store_apikey_get(tx, req->who.tenant_id,
		                          fl_req_param(req, "key_id"), &k);
		fl_tx_rollback(tx);
	}
	if (err != FL_OK) {
		fl_reply_error(req, err,
		               err == FL_E_NOT_FOUND ? "no such key" : NULL);
		return;
	}
	fl_reply_json(req, 200, fl_apikey_json(&k));
}

static void revoke(struct fl_req *req)
{
	fl_api_key_revoke(req, req->who.tenant_id, fl_req_param(req, "key_id"),
	                  NULL);
}

static const struct fl_route routes[] = {
        {"POST", "/v1/keys", create, FL_ROLE_ADMIN},
        {"GET", "/v1/keys", list, FL_ROLE_ADMIN},
        {"GET", "/v1/keys/{key_id}", show, FL_ROLE_ADMIN},
        {"POST", "/v1/keys/{key_id}/revoke", revoke, FL_ROLE_ADMIN},
};

const struct fl_route_table fl_routes_keys = FL_ROUTE_TABLE(routes);

fl_err fl_api_empty_body(struct fl_req *req)
{
	static const char *const none[] = {NULL};
	struct fl_jin j;

	if (fl_jin_parse_opt(&j, req, true) != FL_OK)
		return FL_E_JSON;
	fl_jin_only(&j, none);
	return fl_jin_end(&j);
}
