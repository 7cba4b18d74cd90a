/* sqlite_admin.c - tenants, API keys and idempotency records on SQLite. */
#include "store/sqlite_int.h"

#include <stdlib.h>
#include <string.h>

static fl_err read_tenant(sqlite3_stmt *st, struct fl_tenant *t)
{
	fl_err err;

	memset(t, 0, sizeof(*t));
	t->ord = sqlite3_column_int64(st, 0);
	TRY(sq_col_text(st, 1, t->id, sizeof(t->id)));
	TRY(sq_col_text(st, 2, t->name, sizeof(t->name)));
	t->created_at = sqlite3_column_int64(st, 3);
out:
	return err;
}

fl_err sq_tenant_insert(struct fl_tx *tx, struct fl_tenant *t)
{
	static const char sql[] =
	        "INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?);";
	sqlite3_stmt *st = NULL;
	fl_err err;

	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, t->id));
	TRY(sq_bind_text(st, 2, t->name));
	TRY(sq_bind_int(st, 3, t->created_at));
	TRY(sq_step_done(st));
	t->ord = sqlite3_last_insert_rowid(tx->c->db);
out:
	sq_done(st);
	return err;
}

fl_err sq_tenant_get(struct fl_tx *tx, const char *id, struct fl_tenant *out)
{
	static const char sql[] = "SELECT ord, id, name, created_at "
	                          "FROM tenants WHERE id = ?;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	memset(out, 0, sizeof(*out));
	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, id));
	TRY(sq_step_row(st));
	TRY(read_tenant(st, out));
out:
	if (err != FL_OK)
		memset(out, 0, sizeof(*out));
	sq_done(st);
	return err;
}

fl_err sq_tenant_list(struct fl_tx *tx, int64_t after, int limit,
                      FL_STORE_LIST_FN(struct fl_tenant), void *ctx)
{
	static const char sql[] = "SELECT ord, id, name, created_at "
	                          "FROM tenants WHERE ord > ? "
	                          "ORDER BY ord LIMIT ?;";
	sqlite3_stmt *st = NULL;
	struct fl_tenant t;
	fl_err err;

	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_int(st, 1, after));
	TRY(sq_bind_int(st, 2, limit < 0 ? -1 : limit));
	while ((err = sq_step_row(st)) == FL_OK) {
		TRY(read_tenant(st, &t));
		TRY(fn(ctx, &t));
	}
	if (err == FL_E_NOT_FOUND)
		err = FL_OK;
out:
	sq_done(st);
	return err;
}

#define APIKEY_COLS                                                            \
	"ord, id, tenant_id, role, label, hash, created_by, created_at, "      \
	"revoked_at, last_used_at"

static fl_err read_apikey(sqlite3_stmt *st, struct fl_apikey *k)
{
	fl_err err;

	memset(k, 0, sizeof(*k));
	k->ord = sqlite3_column_int64(st, 0);
	TRY(sq_col_text(st, 1, k->id, sizeof(k->id)));
	TRY(sq_col_text(st, 2, k->tenant_id, sizeof(k->tenant_id)));
	TRY(sq_col_text(st, 3, k->role, sizeof(k->role)));
	TRY(sq_col_text(st, 4, k->label, sizeof(k->label)));
	TRY(sq_col_blob(st, 5, k->hash, sizeof(k->hash)));
	TRY(sq_col_text(st, 6, k->created_by, sizeof(k->created_by)));
	k->created_at = sqlite3_column_int64(st, 7);
	k->revoked_at = sqlite3_column_int64(st, 8);
	k->last_used_at = sqlite3_column_int64(st, 9);
out:
	return err;
}

fl_err sq_apikey_insert(struct fl_tx *tx, struct fl_apikey *k)
{
	static const char sql[] =
	        "INSERT INTO api_keys (id, tenant_id, role, label, hash, "
	        "created_by, created_at, revoked_at) "
	        "VALUES (?, ?, ?, ?, ?, ?, ?, ?);";
	sqlite3_stmt *st = NULL;
	fl_err err;

	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, k->id));
	TRY(sq_bind_text(st, 2, k->tenant_id));
	TRY(sq_bind_text(st, 3, k->role));
	TRY(sq_bind_text(st, 4, k->label));
	TRY(sq_bind_blob(st, 5, k->hash, sizeof(k->hash)));
	TRY(sq_bind_text(st, 6, k->created_by));
	TRY(sq_bind_int(st, 7, k->created_at));
	TRY(sq_bind_int(st, 8, k->revoked_at));
	TRY(sq_step_done(st));
	k->ord = sqlite3_last_insert_rowid(tx->c->db);
out:
	sq_done(st);
	return err;
}

fl_err sq_apikey_by_hash(struct fl_tx *tx, const uint8_t hash[FL_HASH_LEN],
                         struct fl_apikey *out)
{
	static const char sql[] =
	        "SELECT " APIKEY_COLS " FROM api_keys WHERE hash = ?;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	memset(out, 0, sizeof(*out));
	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_blob(st, 1, hash, FL_HASH_LEN));
	TRY(sq_step_row(st));
	TRY(read_apikey(st, out));
out:
	if (err != FL_OK)
		memset(out, 0, sizeof(*out));
	sq_done(st);
	return err;
}

fl_err sq_apikey_get(struct fl_tx *tx, const char *tenant_id, const char *id,
                     struct fl_apikey *out)
{
	static const char sql[] = "SELECT " APIKEY_COLS " FROM api_keys "
	                          "WHERE id = ? AND tenant_id = ?;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	memset(out, 0, sizeof(*out));
	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, id));
	TRY(sq_bind_text(st, 2, tenant_id));
	TRY(sq_step_row(st));
	TRY(read_apikey(st, out));
out:
	if (err != FL_OK)
		memset(out, 0, sizeof(*out));
	sq_done(st);
	return err;
}

fl_err sq_apikey_revoke(struct fl_tx *tx, const char *tenant_id, const char *id,
                        fl_time at)
{
	static const char sql[] = "UPDATE api_keys SET revoked_at = ? "
	                          "WHERE id = ? AND tenant_id = ? "
	                          "AND revoked_at = 0;";
	struct fl_apikey k;
	sqlite3_stmt *st = NULL;
	fl_err err;

	TRY(sq_apikey_get(tx, tenant_id, id, &k));
	if (k.revoked_at != 0) {
		err = FL_E_STATE;
		goto out;
	}
	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_int(st, 1, at));
	TRY(sq_bind_text(st, 2, id));
	TRY(sq_bind_text(st, 3, tenant_id));
	TRY(sq_step_done(st));
out:
	sq_done(st);
	return err;
}

fl_err sq_apikey_touch(struct fl_tx *tx, const char *id, fl_time at)
{
	static const char sql[] = "UPDATE api_keys SET last_used_at = ?1 "
	                          "WHERE id = ?2 AND last_used_at < ?1;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_int(st, 1, at));
	TRY(sq_bind_text(st, 2, id));
	TRY(sq_step_done(st));
out:
	sq_done(st);
	return err;
}

fl_err sq_apikey_list(struct fl_tx *tx, const char *tenant_id, int64_t after,
                      int limit, FL_STORE_LIST_FN(struct fl_apikey), void *ctx)
{
	static const char sql[] = "SELECT " APIKEY_COLS " FROM api_keys "
	                          "WHERE tenant_id = ? AND ord > ? "
	                          "ORDER BY ord LIMIT ?;";
	sqlite3_stmt *st = NULL;
	struct fl_apikey k;
	fl_err err;

	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, tenant_id));
	TRY(sq_bind_int(st, 2, after));
	TRY(sq_bind_int(st, 3, limit < 0 ? -1 : limit));
	while ((err = sq_step_row(st)) == FL_OK) {
		TRY(read_apikey(st, &k));
		err = fn(ctx, &k);
		memset(k.hash, 0, sizeof(k.hash));
		if (err != FL_OK)
			goto out;
	}
	if (err == FL_E_NOT_FOUND)
		err = FL_OK;
out:
	sq_done(st);
	return err;
}

fl_err sq_apikey_count(struct fl_tx *tx, int64_t *n)
{
	static const char sql[] = "SELECT count(*) FROM api_keys;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	*n = 0;
	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_step_row(st));
	*n = sqlite3_column_int64(st, 0);
out:
	sq_done(st);
	return err;
}

fl_err sq_idem_get(struct fl_tx *tx, const char *tenant_id, const char *route,
                   const char *key, struct fl_idem *out)
{
	static const char sql[] =
	        "SELECT fingerprint, status, body, created_at FROM idempotency "
	        "WHERE tenant_id = ? AND route = ? AND key = ?;";
	sqlite3_stmt *st = NULL;
	const unsigned char *body;
	size_t n;
	fl_err err;

	memset(out, 0, sizeof(*out));
	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, tenant_id));
	TRY(sq_bind_text(st, 2, route));
	TRY(sq_bind_text(st, 3, key));
	TRY(sq_step_row(st));
	if (strlen(tenant_id) >= sizeof(out->tenant_id) ||
	    strlen(route) >= sizeof(out->route) ||
	    strlen(key) >= sizeof(out->key)) {
		err = FL_E_TOO_LARGE;
		goto out;
	}
	strcpy(out->tenant_id, tenant_id);
	strcpy(out->route, route);
	strcpy(out->key, key);
	TRY(sq_col_blob(st, 0, out->fingerprint, sizeof(out->fingerprint)));
	out->status = sqlite3_column_int(st, 1);
	body = sqlite3_column_text(st, 2);
	n = (size_t)sqlite3_column_bytes(st, 2);
	out->body = malloc(n + 1);
	if (out->body == NULL) {
		err = FL_E_NOMEM;
		goto out;
	}
	if (n > 0)
		memcpy(out->body, body, n);
	out->body[n] = '\0';
	out->created_at = sqlite3_column_int64(st, 3);
out:
	if (err != FL_OK) {
		free(out->body);
		memset(out, 0, sizeof(*out));
	}
	sq_done(st);
	return err;
}

fl_err sq_idem_put(struct fl_tx *tx, const struct fl_idem *rec)
{
	static const char sql[] =
	        "INSERT INTO idempotency (tenant_id, route, key, fingerprint, "
	        "status, body, created_at) VALUES (?, ?, ?, ?, ?, ?, ?);";
	sqlite3_stmt *st = NULL;
	fl_err err;

	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, rec->tenant_id));
	TRY(sq_bind_text(st, 2, rec->route));
	TRY(sq_bind_text(st, 3, rec->key));
	TRY(sq_bind_blob(st, 4, rec->fingerprint, sizeof(rec->fingerprint)));
	TRY(sq_bind_int(st, 5, rec->status));
	TRY(sq_bind_text(st, 6, rec->body != NULL ? rec->body : ""));
	TRY(sq_bind_int(st, 7, rec->created_at));
	TRY(sq_step_done(st));
out:
	sq_done(st);
	return err;
}

fl_err sq_idem_expire(struct fl_tx *tx, fl_time before, int64_t *n)
{
	static const char sql[] =
	        "DELETE FROM idempotency WHERE created_at < ?;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	if (n != NULL)
		*n = 0;
	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_int(st, 1, before));
	TRY(sq_step_done(st));
	if (n != NULL)
		*n = sqlite3_changes(tx->c->db);
out:
	sq_done(st);
	return err;
}
