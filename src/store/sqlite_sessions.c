/* sqlite_sessions.c - signed-in console sessions on SQLite. */
#include "store/sqlite_int.h"

#include <string.h>

fl_err sq_session_insert(struct fl_tx *tx, const struct fl_session_rec *s)
{
	static const char sql[] =
	        "INSERT INTO web_sessions (hash, key_id, tenant_id, role, "
	        "created_at, last_seen) VALUES (?, ?, ?, ?, ?, ?);";
	sqlite3_stmt *st = NULL;
	fl_err err;

	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_blob(st, 1, s->hash, FL_HASH_LEN));
	TRY(sq_bind_text(st, 2, s->key_id));
	TRY(sq_bind_text(st, 3, s->tenant_id));
	TRY(sq_bind_text(st, 4, s->role));
	TRY(sq_bind_int(st, 5, s->created_at));
	TRY(sq_bind_int(st, 6, s->last_seen));
	TRY(sq_step_done(st));
out:
	sq_done(st);
	return err;
}

fl_err sq_session_get(struct fl_tx *tx, const uint8_t hash[FL_HASH_LEN],
                      struct fl_session_rec *out)
{
	static const char sql[] =
	        "SELECT hash, key_id, tenant_id, role, created_at, last_seen "
	        "FROM web_sessions WHERE hash = ?;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	memset(out, 0, sizeof(*out));
	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_blob(st, 1, hash, FL_HASH_LEN));
	TRY(sq_step_row(st));
	TRY(sq_col_blob(st, 0, out->hash, FL_HASH_LEN));
	TRY(sq_col_text(st, 1, out->key_id, sizeof(out->key_id)));
	TRY(sq_col_text(st, 2, out->tenant_id, sizeof(out->tenant_id)));
	TRY(sq_col_text(st, 3, out->role, sizeof(out->role)));
	out->created_at = sqlite3_column_int64(st, 4);
	out->last_seen = sqlite3_column_int64(st, 5);
out:
	if (err != FL_OK)
		memset(out, 0, sizeof(*out));
	sq_done(st);
	return err;
}

fl_err sq_session_touch(struct fl_tx *tx, const uint8_t hash[FL_HASH_LEN],
                        fl_time at)
{
	static const char sql[] =
	        "UPDATE web_sessions SET last_seen = ? WHERE hash = ?;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_int(st, 1, at));
	TRY(sq_bind_blob(st, 2, hash, FL_HASH_LEN));
	TRY(sq_step_done(st));
	if (sqlite3_changes(tx->c->db) == 0)
		err = FL_E_NOT_FOUND;
out:
	sq_done(st);
	return err;
}

fl_err sq_session_delete(struct fl_tx *tx, const uint8_t hash[FL_HASH_LEN])
{
	static const char sql[] = "DELETE FROM web_sessions WHERE hash = ?;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_blob(st, 1, hash, FL_HASH_LEN));
	TRY(sq_step_done(st));
out:
	sq_done(st);
	return err;
}

fl_err sq_session_expire(struct fl_tx *tx, fl_time seen_before,
                         fl_time created_before, int64_t *n)
{
	static const char sql[] = "DELETE FROM web_sessions "
	                          "WHERE last_seen < ? OR created_at < ?;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	*n = 0;
	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_int(st, 1, seen_before));
	TRY(sq_bind_int(st, 2, created_before));
	TRY(sq_step_done(st));
	*n = sqlite3_changes(tx->c->db);
out:
	sq_done(st);
	return err;
}
