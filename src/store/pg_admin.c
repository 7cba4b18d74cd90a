/* pg_admin.c - tenants, API keys, idempotency records and the keys
 * fingerprint on PostgreSQL. */
#include "store/pg_int.h"

#include <stdlib.h>
#include <string.h>

static fl_err read_tenant(const PGresult *r, int i, struct fl_tenant *t)
{
	fl_err err;

	memset(t, 0, sizeof(*t));
	t->ord = pg_int(r, i, 0);
	TRY(pg_text(r, i, 1, t->id, sizeof(t->id)));
	TRY(pg_text(r, i, 2, t->name, sizeof(t->name)));
	t->created_at = pg_int(r, i, 3);
out:
	return err;
}

fl_err pg_tenant_insert(struct fl_tx *tx, struct fl_tenant *t)
{
	static const char sql[] = "INSERT INTO tenants (id, name, created_at) "
	                          "VALUES ($1, $2, $3) RETURNING ord";
	struct pg_params p = {0};
	PGresult *r = NULL;
	fl_err err;

	pg_p_text(&p, t->id);
	pg_p_text(&p, t->name);
	pg_p_int(&p, t->created_at);
	TRY(pg_run(tx, sql, &p, PG_GUARD, &r));
	t->ord = pg_returned(r);
out:
	PQclear(r);
	return err;
}

fl_err pg_tenant_get(struct fl_tx *tx, const char *id, struct fl_tenant *out)
{
	static const char sql[] = "SELECT ord, id, name, created_at "
	                          "FROM tenants WHERE id = $1";
	struct pg_params p = {0};
	PGresult *r = NULL;
	fl_err err;

	memset(out, 0, sizeof(*out));
	pg_p_text(&p, id);
	TRY(pg_run(tx, sql, &p, 0, &r));
	if (PQntuples(r) == 0) {
		err = FL_E_NOT_FOUND;
		goto out;
	}
	TRY(read_tenant(r, 0, out));
out:
	if (err != FL_OK)
		memset(out, 0, sizeof(*out));
	PQclear(r);
	return err;
}

fl_err pg_tenant_list(struct fl_tx *tx, int64_t after, int limit,
                      FL_STORE_LIST_FN(struct fl_tenant), void *ctx)
{
	static const char sql[] = "SELECT ord, id, name, created_at "
	                          "FROM tenants WHERE ord > $1 "
	                          "ORDER BY ord LIMIT $2";
	struct pg_params p = {0};
	struct fl_tenant t;
	PGresult *r = NULL;
	fl_err err;

	pg_p_int(&p, after);
	if (limit < 0)
		pg_p_text(&p, NULL);
	else
		pg_p_int(&p, limit);
	TRY(pg_run(tx, sql, &p, 0, &r));
	for (int i = 0; i < PQntuples(r); i++) {
		TRY(read_tenant(r, i, &t));
		TRY(fn(ctx, &t));
	}
out:
	PQclear(r);
	return err;
}

#define APIKEY_COLS                                                            \
	"ord, id, tenant_id, role, label, hash, created_by, created_at, "      \
	"revoked_at, last_used_at"

static fl_err read_apikey(const PGresult *r, int i, struct fl_apikey *k)
{
	fl_err err;

	memset(k, 0, sizeof(*k));
	k->ord = pg_int(r, i, 0);
	TRY(pg_text(r, i, 1, k->id, sizeof(k->id)));
	TRY(pg_text(r, i, 2, k->tenant_id, sizeof(k->tenant_id)));
	TRY(pg_text(r, i, 3, k->role, sizeof(k->role)));
	TRY(pg_text(r, i, 4, k->label, sizeof(k->label)));
	TRY(pg_blob(r, i, 5, k->hash, sizeof(k->hash)));
	TRY(pg_text(r, i, 6, k->created_by, sizeof(k->created_by)));
	k->created_at = pg_int(r, i, 7);
	k->revoked_at = pg_int(r, i, 8);
	k->last_used_at = pg_int(r, i, 9);
out:
	return err;
}

fl_err pg_apikey_insert(struct fl_tx *tx, struct fl_apikey *k)
{
	static const char sql[] =
	        "INSERT INTO api_keys (id, tenant_id, role, label, hash, "
	        "created_by, created_at, revoked_at) "
	        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ord";
	struct pg_params p = {0};
	PGresult *r = NULL;
	fl_err err;

	pg_p_text(&p, k->id);
	pg_p_text(&p, k->tenant_id);
	pg_p_text(&p, k->role);
	pg_p_text(&p, k->label);
	pg_p_blob(&p, k->hash, sizeof(k->hash));
	pg_p_text(&p, k->created_by);
	pg_p_int(&p, k->created_at);
	pg_p_int(&p, k->revoked_at);
	TRY(pg_run(tx, sql, &p, PG_GUARD, &r));
	k->ord = pg_returned(r);
out:
	PQclear(r);
	return err;
}

/* The one key sql (APIKEY_COLS, parameters p) selects. */
static fl_err apikey_one(struct fl_tx *tx, const char *sql,
                         const struct pg_params *p, struct fl_apikey *out)
{
	PGresult *r = NULL;
	fl_err err;

	memset(out, 0, sizeof(*out));
	TRY(pg_run(tx, sql, p, 0, &r));
	if (PQntuples(r) == 0) {
		err = FL_E_NOT_FOUND;
		goto out;
	}
	TRY(read_apikey(r, 0, out));
out:
	if (err != FL_OK)
		memset(out, 0, sizeof(*out));
	PQclear(r);
	return err;
}

fl_err pg_apikey_by_hash(struct fl_tx *tx, const uint8_t hash[FL_HASH_LEN],
                         struct fl_apikey *out)
{
	static const char sql[] =
	        "SELECT " APIKEY_COLS " FROM api_keys WHERE hash = $1";
	struct pg_params p = {0};

	pg_p_blob(&p, hash, FL_HASH_LEN);
	return apikey_one(tx, sql, &p, out);
}

fl_err pg_apikey_get(struct fl_tx *tx, const char *tenant_id, const char *id,
                     struct fl_apikey *out)
{
	static const char sql[] = "SELECT " APIKEY_COLS " FROM api_keys "
	                          "WHERE id = $1 AND tenant_id = $2";
	struct pg_params p = {0};

	pg_p_text(&p, id);
	pg_p_text(&p, tenant_id);
	return apikey_one(tx, sql, &p, out);
}

fl_err pg_apikey_revoke(struct fl_tx *tx, const char *tenant_id, const char *id,
                        fl_time at)
{
	static const char sql[] = "UPDATE api_keys SET revoked_at = $1 "
	                          "WHERE id = $2 AND tenant_id = $3 "
	                          "AND revoked_at = 0";
	struct pg_params p = {0};
	struct fl_apikey k;
	int64_t n = 0;
	fl_err err;

	TRY(pg_apikey_get(tx, tenant_id, id, &k));
	pg_p_int(&p, at);
	pg_p_text(&p, id);
	pg_p_text(&p, tenant_id);
	TRY(pg_cmd(tx, sql, &p, 0, &n));
	/* revoked already, or by a concurrent transaction just now */
	if (n == 0)
		err = FL_E_STATE;
out:
	return err;
}

fl_err pg_apikey_touch(struct fl_tx *tx, const char *id, fl_time at)
{
	static const char sql[] = "UPDATE api_keys SET last_used_at = $1 "
	                          "WHERE id = $2 AND last_used_at < $1";
	struct pg_params p = {0};

	pg_p_int(&p, at);
	pg_p_text(&p, id);
	return pg_cmd(tx, sql, &p, 0, NULL);
}

fl_err pg_apikey_list(struct fl_tx *tx, const char *tenant_id, int64_t after,
                      int limit, FL_STORE_LIST_FN(struct fl_apikey), void *ctx)
{
	static const char sql[] = "SELECT " APIKEY_COLS " FROM api_keys "
	                          "WHERE tenant_id = $1 AND ord > $2 "
	                          "ORDER BY ord LIMIT $3";
	struct pg_params p = {0};
	struct fl_apikey k;
	PGresult *r = NULL;
	fl_err err;

	pg_p_text(&p, tenant_id);
	pg_p_int(&p, after);
	if (limit < 0)
		pg_p_text(&p, NULL);
	else
		pg_p_int(&p, limit);
	TRY(pg_run(tx, sql, &p, 0, &r));
	for (int i = 0; i < PQntuples(r); i++) {
		TRY(read_apikey(r, i, &k));
		err = fn(ctx, &k);
		memset(k.hash, 0, sizeof(k.hash));
		if (err != FL_OK)
			goto out;
	}
out:
	PQclear(r);
	return err;
}

fl_err pg_apikey_count(struct fl_tx *tx, int64_t *n)
{
	static const char sql[] = "SELECT count(*) FROM api_keys";
	PGresult *r = NULL;
	fl_err err;

	*n = 0;
	TRY(pg_run(tx, sql, NULL, 0, &r));
	*n = pg_returned(r);
out:
	PQclear(r);
	return err;
}

fl_err pg_idem_get(struct fl_tx *tx, const char *tenant_id, const char *route,
                   const char *key, struct fl_idem *out)
{
	static const char sql[] =
	        "SELECT fingerprint, status, body, created_at FROM idempotency "
	        "WHERE tenant_id = $1 AND route = $2 AND key = $3";
	struct pg_params p = {0};
	PGresult *r = NULL;
	size_t n;
	fl_err err;

	memset(out, 0, sizeof(*out));
	pg_p_text(&p, tenant_id);
	pg_p_text(&p, route);
	pg_p_text(&p, key);
	TRY(pg_run(tx, sql, &p, 0, &r));
	if (PQntuples(r) == 0) {
		err = FL_E_NOT_FOUND;
		goto out;
	}
	if (strlen(tenant_id) >= sizeof(out->tenant_id) ||
	    strlen(route) >= sizeof(out->route) ||
	    strlen(key) >= sizeof(out->key)) {
		err = FL_E_TOO_LARGE;
		goto out;
	}
	strcpy(out->tenant_id, tenant_id);
	strcpy(out->route, route);
	strcpy(out->key, key);
	TRY(pg_blob(r, 0, 0, out->fingerprint, sizeof(out->fingerprint)));
	out->status = (int)pg_int(r, 0, 1);
	n = (size_t)PQgetlength(r, 0, 2);
	out->body = malloc(n + 1);
	if (out->body == NULL) {
		err = FL_E_NOMEM;
		goto out;
	}
	memcpy(out->body, PQgetvalue(r, 0, 2), n);
	out->body[n] = '\0';
	out->created_at = pg_int(r, 0, 3);
out:
	if (err != FL_OK) {
		free(out->body);
		memset(out, 0, sizeof(*out));
	}
	PQclear(r);
	return err;
}

fl_err pg_idem_put(struct fl_tx *tx, const struct fl_idem *rec)
{
	static const char sql[] =
	        "INSERT INTO idempotency (tenant_id, route, key, fingerprint, "
	        "status, body, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)";
	struct pg_params p = {0};

	pg_p_text(&p, rec->tenant_id);
	pg_p_text(&p, rec->route);
	pg_p_text(&p, rec->key);
	pg_p_blob(&p, rec->fingerprint, sizeof(rec->fingerprint));
	pg_p_int(&p, rec->status);
	pg_p_text(&p, rec->body != NULL ? rec->body : "");
	pg_p_int(&p, rec->created_at);
	return pg_cmd(tx, sql, &p, PG_GUARD, NULL);
}

fl_err pg_idem_expire(struct fl_tx *tx, fl_time before, int64_t *n)
{
	static const char sql[] =
	        "DELETE FROM idempotency WHERE created_at < $1";
	struct pg_params p = {0};
	int64_t changed = 0;
	fl_err err;

	pg_p_int(&p, before);
	err = pg_cmd(tx, sql, &p, 0, &changed);
	if (n != NULL)
		*n = err == FL_OK ? changed : 0;
	return err;
}

fl_err pg_keys_fingerprint(struct fl_tx *tx,
                           uint8_t out[FL_KEYS_FINGERPRINT_LEN])
{
	static const char sql[] =
	        "SELECT keys_fingerprint FROM server_identity WHERE id = 1";
	PGresult *r = NULL;
	fl_err err;

	memset(out, 0, FL_KEYS_FINGERPRINT_LEN);
	TRY(pg_run(tx, sql, NULL, 0, &r));
	if (PQntuples(r) == 0) {
		err = FL_E_NOT_FOUND;
		goto out;
	}
	err = pg_blob(r, 0, 0, out, FL_KEYS_FINGERPRINT_LEN);
out:
	PQclear(r);
	return err;
}

fl_err pg_keys_fingerprint_put(struct fl_tx *tx,
                               const uint8_t fp[FL_KEYS_FINGERPRINT_LEN],
                               fl_time at)
{
	static const char sql[] = "INSERT INTO server_identity "
	                          "(id, keys_fingerprint, recorded_at) "
	                          "VALUES (1, $1, $2)";
	struct pg_params p = {0};

	pg_p_blob(&p, fp, FL_KEYS_FINGERPRINT_LEN);
	pg_p_int(&p, at);
	return pg_cmd(tx, sql, &p, PG_GUARD, NULL);
}
