/*
 * api_operator.c - what the operator does: create and list tenants, create
 * and revoke a tenant's admin keys, manage operator keys. The operator
 * never sees a tenant's devices, contracts or payments: no route here
 * reads them. The writes are apikeys.h's, run by the runner (txn.h).
 */
#include <stdio.h>
#include <string.h>

#include "server/api.h"
#include "server/apikeys.h"
#include "server/app.h"
#include "server/auth.h"
#include "server/jsonio.h"
#include "server/route.h"
#include "server/txn.h"

static fl_err tenant_create_step(struct fl_tx *tx, struct fl_req *req,
                                 void *ctx)
{
	struct fl_tenant_create_in *in = ctx;
	struct fl_tenant t;
	fl_err err = fl_tenant_create(tx, in, req->now, &t);

	if (err == FL_OK)
		fl_reply_json(req, 201, fl_tenant_json(&t));
	return err;
}

static void tenant_create(struct fl_req *req)
{
	static const char *const fields[] = {"name", NULL};
	struct fl_tenant_create_in in;
	struct fl_jin j;
	fl_err err;

	memset(&in, 0, sizeof(in));
	if (fl_jin_parse(&j, req) != FL_OK)
		return;
	fl_jin_only(&j, fields);
	fl_jin_str(&j, "name", true, in.tenant.name, sizeof(in.tenant.name));
	if (j.err == FL_OK && in.tenant.name[0] == '\0')
		fl_jin_fail(&j, FL_E_INVALID, "field 'name' must not be empty");
	if (fl_jin_end(&j) != FL_OK)
		return;
	fl_id_generate(in.tenant.id, "tn");
	in.who = req->who;
	err = fl_txn_run(req, tenant_create_step, &in); /* answers */
	(void)err;
}

struct tlist {
	json_t *items;
	int64_t last;
	int n;
};

static fl_err tenant_one(void *ctx, const struct fl_tenant *t)
{
	struct tlist *tl = ctx;

	tl->last = t->ord;
	tl->n++;
	return json_array_append_new(tl->items, fl_tenant_json(t)) == 0
	               ? FL_OK
	               : FL_E_NOMEM;
}

static void tenant_list(struct fl_req *req)
{
	static const char *const q[] = {"cursor", "limit", NULL};
	struct tlist tl = {0};
	struct fl_tx *tx = NULL;
	int64_t after;
	int limit;
	fl_err err;

	if (fl_req_query_only(req, q) != FL_OK ||
	    fl_req_page(req, &after, &limit) != FL_OK)
		return;
	if ((tl.items = json_array()) == NULL) {
		fl_reply_error(req, FL_E_NOMEM, NULL);
		return;
	}
	if ((err = fl_store_begin(req->app->store, false, &tx)) == FL_OK) {
		err = fl_store_tenant_list(tx, after, limit, tenant_one, &tl);
		fl_tx_rollback(tx);
	}
	if (err != FL_OK) {
		json_decref(tl.items);
		fl_reply_error(req, err, NULL);
		return;
	}
	fl_reply_page(req, tl.items, tl.n == limit ? tl.last : 0);
}

/* Reads the tenant named in the path; answers 404 and returns non-OK if
 * there is none. tx may be NULL (a read transaction of its own). */
static fl_err path_tenant(struct fl_req *req, struct fl_tx *tx,
                          struct fl_tenant *t)
{
	struct fl_tx *own = NULL;
	fl_err err;

	if (tx == NULL) {
		if ((err = fl_store_begin(req->app->store, false, &own)) !=
		    FL_OK) {
			fl_reply_error(req, err, NULL);
			return err;
		}
		tx = own;
	}
	err = fl_store_tenant_get(tx, fl_req_param(req, "tenant_id"), t);
	fl_tx_rollback(own);
	if (err != FL_OK && tx == own)
		fl_reply_error(req, err,
		               err == FL_E_NOT_FOUND ? "no such tenant" : NULL);
	return err;
}

static void tenant_show(struct fl_req *req)
{
	struct fl_tenant t;

	if (path_tenant(req, NULL, &t) == FL_OK)
		fl_reply_json(req, 200, fl_tenant_json(&t));
}

/* Reads an optional {"label": "..."} body. */
static fl_err label_body(struct fl_req *req, char label[FL_NAME_MAX])
{
	static const char *const fields[] = {"label", NULL};
	struct fl_jin j;

	label[0] = '\0';
	if (fl_jin_parse_opt(&j, req, true) != FL_OK)
		return FL_E_JSON;
	fl_jin_only(&j, fields);
	fl_jin_str(&j, "label", false, label, FL_NAME_MAX);
	return fl_jin_end(&j);
}

static void tenant_key_create(struct fl_req *req)
{
	char label[FL_NAME_MAX];

	if (label_body(req, label) != FL_OK)
		return;
	fl_api_key_create(req, fl_req_param(req, "tenant_id"), true,
	                  FL_ROLE_ADMIN, label[0] ? label : "admin");
}

static void tenant_key_list(struct fl_req *req)
{
	struct fl_tenant t;

	if (path_tenant(req, NULL, &t) == FL_OK)
		fl_api_keys_list(req, t.id);
}

static void tenant_key_revoke(struct fl_req *req)
{
	struct fl_tenant t;

	if (path_tenant(req, NULL, &t) == FL_OK)
		fl_api_key_revoke(req, t.id, fl_req_param(req, "key_id"),
		                  "admin");
}

static void operator_key_create(struct fl_req *req)
{
	char label[FL_NAME_MAX];

	if (label_body(req, label) != FL_OK)
		return;
	fl_api_key_create(req, "", false, FL_ROLE_OPERATOR,
	                  label[0] ? label : "operator");
}

static void operator_key_list(struct fl_req *req)
{
	fl_api_keys_list(req, "");
}

static void operator_key_revoke(struct fl_req *req)
{
	fl_api_key_revoke(req, "", fl_req_param(req, "key_id"), NULL);
}

static const struct fl_route routes[] = {
        {"POST", "/v1/tenants", tenant_create, FL_ROLE_OPERATOR},
        {"GET", "/v1/tenants", tenant_list, FL_ROLE_OPERATOR},
        {"GET", "/v1/tenants/{tenant_id}", tenant_show, FL_ROLE_OPERATOR},
        {"POST", "/v1/tenants/{tenant_id}/keys", tenant_key_create,
         FL_ROLE_OPERATOR},
        {"GET", "/v1/tenants/{tenant_id}/keys", tenant_key_list,
         FL_ROLE_OPERATOR},
        {"POST", "/v1/tenants/{tenant_id}/keys/{key_id}/revoke",
         tenant_key_revoke, FL_ROLE_OPERATOR},
        {"POST", "/v1/operator/keys", operator_key_create, FL_ROLE_OPERATOR},
        {"GET", "/v1/operator/keys", operator_key_list, FL_ROLE_OPERATOR},
        {"POST", "/v1/operator/keys/{key_id}/revoke", operator_key_revoke,
         FL_ROLE_OPERATOR},
};

const struct fl_route_table fl_routes_operator = FL_ROUTE_TABLE(routes);
