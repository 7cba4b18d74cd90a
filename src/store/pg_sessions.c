/* pg_sessions.c - signed-in console sessions on PostgreSQL. */
#include "store/pg_int.h"

#include <string.h>

fl_err pg_session_insert(struct fl_tx *tx, const struct fl_session_rec *s)
{
	static const char sql[] =
	        "INSERT INTO web_sessions (hash, key_id, tenant_id, role, "
	        "created_at, last_seen) VALUES ($1, $2, $3, $4, $5, $6)";
	struct pg_params p = {0};

	pg_p_blob(&p, s->hash, FL_HASH_LEN);
	pg_p_text(&p, s->key_id);
	pg_p_text(&p, s->tenant_id);
	pg_p_text(&p, s->role);
	pg_p_int(&p, s->created_at);
	pg_p_int(&p, s->last_seen);
	return pg_cmd(tx, sql, &p, PG_GUARD, NULL);
}

fl_err pg_session_get(struct fl_tx *tx, const uint8_t hash[FL_HASH_LEN],
                      struct fl_session_rec *out)
{
	static const char sql[] =
	        "SELECT hash, key_id, tenant_id, role, created_at, last_seen "
	        "FROM web_sessions WHERE hash = $1";
	struct pg_params p = {0};
	PGresult *r = NULL;
	fl_err err;

	memset(out, 0, sizeof(*out));
	pg_p_blob(&p, hash, FL_HASH_LEN);
	TRY(pg_run(tx, sql, &p, 0, &r));
	if (PQntuples(r) == 0) {
		err = FL_E_NOT_FOUND;
		goto out;
	}
	TRY(pg_blob(r, 0, 0, out->hash, FL_HASH_LEN));
	TRY(pg_text(r, 0, 1, out->key_id, sizeof(out->key_id)));
	TRY(pg_text(r, 0, 2, out->tenant_id, sizeof(out->tenant_id)));
	TRY(pg_text(r, 0, 3, out->role, sizeof(out->role)));
	out->created_at = pg_int(r, 0, 4);
	out->last_seen = pg_int(r, 0, 5);
out:
	if (err != FL_OK)
		memset(out, 0, sizeof(*out));
	PQclear(r);
	return err;
}

fl_err pg_session_touch(struct fl_tx *tx, const uint8_t hash[FL_HASH_LEN],
                        fl_time at)
{
	static const char sql[] =
	        "UPDATE web_sessions SET last_seen = $1 WHERE hash = $2";
	struct pg_params p = {0};
	int64_t n = 0;
	fl_err err;

	pg_p_int(&p, at);
	pg_p_blob(&p, hash, FL_HASH_LEN);
	err = pg_cmd(tx, sql, &p, 0, &n);
	if (err == FL_OK && n == 0)
		err = FL_E_NOT_FOUND;
	return err;
}

fl_err pg_session_delete(struct fl_tx *tx, const uint8_t hash[FL_HASH_LEN])
{
	static const char sql[] = "DELETE FROM web_sessions WHERE hash = $1";
	struct pg_params p = {0};

	pg_p_blob(&p, hash, FL_HASH_LEN);
	return pg_cmd(tx, sql, &p, 0, NULL);
}

fl_err pg_session_expire(struct fl_tx *tx, fl_time seen_before,
                         fl_time created_before, int64_t *n)
{
	static const char sql[] = "DELETE FROM web_sessions "
	                          "WHERE last_seen < $1 OR created_at < $2";
	struct pg_params p = {0};
	fl_err err;

	pg_p_int(&p, seen_before);
	pg_p_int(&p, created_before);
	err = pg_cmd(tx, sql, &p, 0, n);
	return err;
}
