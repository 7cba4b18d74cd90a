/*
 * api_keys.c - a tenant admin's API keys: create with a role (admin,
 * clerk, support, auditor), list, show, revoke.
 */
#include <stdio.h>
#include <string.h>

#include "core/crypto.h"
#include "server/api.h"
#include "server/app.h"
#include "server/audit.h"
#include "server/auth.h"
#include "server/jsonio.h"
#include "server/route.h"
#include "server/txn.h"

json_t *fl_api_tenant_json(const struct fl_tenant *t)
{
	return json_pack("{s:s,s:s,s:o}", "id", t->id, "name", t->name,
	                 "created_at", fl_json_time(t->created_at));
}

json_t *fl_api_apikey_json(const struct fl_apikey *k)
{
	return json_pack(
	        "{s:s,s:s?,s:s,s:s,s:s?,s:o,s:o,s:b,s:o}", "id", k->id,
	        "tenant_id", k->tenant_id[0] ? k->tenant_id : NULL, "role",
	        k->role, "label", k->label, "created_by",
	        k->created_by[0] ? k->created_by : NULL, "created_at",
	        fl_json_time(k->created_at), "revoked_at",
	        fl_json_time(k->revoked_at), "active", k->revoked_at == 0,
	        /* to the minute: recorded at most once a minute */
	        "last_used_at", fl_json_time(k->last_used_at));
}

static fl_err key_insert(struct fl_tx *tx, const uint8_t hash_key[32],
                         const char *tenant_id, unsigned role,
                         const char *label, const char *created_by, fl_time now,
                         struct fl_apikey *k, char secret[FL_APIKEY_LEN + 1])
{
	fl_err err;

	memset(k, 0, sizeof(*k));
	if (strlen(label) >= sizeof(k->label))
		return FL_E_TOO_LARGE;
	fl_id_generate(k->id, "ak");
	snprintf(k->tenant_id, sizeof(k->tenant_id), "%s", tenant_id);
	snprintf(k->role, sizeof(k->role), "%s", fl_role_name(role));
	snprintf(k->label, sizeof(k->label), "%s", label);
	snprintf(k->created_by, sizeof(k->created_by), "%s", created_by);
	k->created_at = now;
	if ((err = fl_apikey_generate(hash_key, secret, k->hash)) != FL_OK)
		return err;
	err = fl_store_apikey_insert(tx, k);
	if (err != FL_OK)
		fl_wipe(secret, FL_APIKEY_LEN + 1);
	return err;
}

fl_err fl_api_key_create(struct fl_tx *tx, const struct fl_req *req,
                         const char *tenant_id, unsigned role,
                         const char *label, json_t **out)
{
	char secret[FL_APIKEY_LEN + 1];
	struct fl_apikey k;
	json_t *j = NULL;
	fl_err err;

	*out = NULL;
	err = key_insert(tx, req->app->secrets.apikey_hash_key, tenant_id, role,
	                 label, req->who.key_id, req->now, &k, secret);
	if (err != FL_OK)
		goto out;
	err = fl_audit_req(tx, req, "key.create", k.id, NULL,
	                   fl_api_apikey_json(&k));
	if (err != FL_OK)
		goto out;
	/* A tenant's chain also records keys the operator made for it. */
	if (req->who.role == FL_ROLE_OPERATOR && tenant_id[0] != '\0') {
		err = fl_audit_append(tx, tenant_id, req->who.key_id, req->now,
		                      "key.create", k.id, NULL,
		                      fl_api_apikey_json(&k));
		if (err != FL_OK)
			goto out;
	}
	j = fl_api_apikey_json(&k);
	if (j == NULL || json_object_set_new(j, "key", json_string(secret))) {
		err = FL_E_NOMEM;
		goto out;
	}
	*out = j;
	j = NULL;
out:
	fl_wipe(secret, sizeof(secret));
	json_decref(j);
	return err;
}

fl_err fl_api_bootstrap_operator(struct fl_store *st,
                                 const uint8_t hash_key[32], fl_time now,
                                 char *secret)
{
	struct fl_tx *tx = NULL;
	struct fl_apikey k;
	int64_t n = 0;
	fl_err err;

	secret[0] = '\0';
	if ((err = fl_store_begin(st, true, &tx)) != FL_OK)
		return err;
	if ((err = fl_store_apikey_count(tx, &n)) != FL_OK || n > 0)
		goto out;
	err = key_insert(tx, hash_key, "", FL_ROLE_OPERATOR,
	                 "first operator key", "", now, &k, secret);
	if (err != FL_OK)
		goto out;
	err = fl_audit_append(tx, FL_AUDIT_CHAIN_OPERATOR, "system", now,
	                      "key.create", k.id, NULL, fl_api_apikey_json(&k));
	if (err != FL_OK)
		goto out;
	err = fl_tx_commit(tx);
	tx = NULL;
out:
	fl_tx_rollback(tx);
	if (err != FL_OK)
		fl_wipe(secret, FL_APIKEY_LEN + 1);
	return err;
}

/* --- handlers ------------------------------------------------------------- */

static void create(struct fl_req *req)
{
	static const char *const fields[] = {"role", "label", NULL};
	char role_name[FL_ROLE_NAME_MAX] = "", label[FL_NAME_MAX] = "";
	struct fl_tx *tx;
	struct fl_jin j;
	unsigned role = 0;
	json_t *out = NULL;
	fl_err err;

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
	if (fl_txn_begin(req, &tx) != FL_OK)
		return;
	err = fl_api_key_create(tx, req, req->who.tenant_id, role, label, &out);
	if (err != FL_OK) {
		fl_txn_abort(req, tx, err, NULL);
		return;
	}
	fl_reply_json(req, 201, out);
	fl_txn_commit(req, tx);
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
	return json_array_append_new(lc->items, fl_api_apikey_json(k)) == 0
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

void fl_api_key_revoke(struct fl_req *req, const char *tenant_id,
                       const char *key_id, const char *only_role)
{
	struct fl_apikey before, after;
	struct fl_tx *tx;
	fl_err err;

	if (fl_api_empty_body(req) != FL_OK || fl_txn_begin(req, &tx) != FL_OK)
		return;
	err = fl_store_apikey_get(tx, tenant_id, key_id, &before);
	if (err == FL_OK && only_role != NULL &&
	    strcmp(before.role, only_role) != 0)
		err = FL_E_NOT_FOUND;
	if (err == FL_OK)
		err = fl_store_apikey_revoke(tx, tenant_id, key_id, req->now);
	if (err == FL_OK)
		err = fl_store_apikey_get(tx, tenant_id, key_id, &after);
	if (err == FL_OK)
		err = fl_audit_req(tx, req, "key.revoke", key_id,
		                   fl_api_apikey_json(&before),
		                   fl_api_apikey_json(&after));
	if (err == FL_OK && req->who.role == FL_ROLE_OPERATOR &&
	    tenant_id[0] != '\0')
		err = fl_audit_append(tx, tenant_id, req->who.key_id, req->now,
		                      "key.revoke", key_id,
		                      fl_api_apikey_json(&before),
		                      fl_api_apikey_json(&after));
	if (err == FL_E_NOT_FOUND) {
		fl_txn_abort(req, tx, err, "no such key");
		return;
	}
	if (err == FL_E_STATE) {
		fl_txn_abort(req, tx, err, "the key is already revoked");
		return;
	}
	if (err != FL_OK) {
		fl_txn_abort(req, tx, err, NULL);
		return;
	}
	fl_reply_json(req, 200, fl_api_apikey_json(&after));
	fl_txn_commit(req, tx);
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
	fl_reply_json(req, 200, fl_api_apikey_json(&k));
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
