/* sqlite_audit.c - audit chains and their signed heads on SQLite. */
#include "store/sqlite_int.h"

#include <string.h>

fl_err sq_audit_head(struct fl_tx *tx, const char *chain, int64_t *seq,
                     uint8_t hash[FL_HASH_LEN])
{
	static const char sql[] = "SELECT seq, hash FROM audit WHERE chain = ? "
	                          "ORDER BY seq DESC LIMIT 1;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	*seq = 0;
	memset(hash, 0, FL_HASH_LEN);
	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, chain));
	err = sq_step_row(st);
	if (err == FL_E_NOT_FOUND) {
		err = FL_OK;
		goto out;
	}
	if (err != FL_OK)
		goto out;
	*seq = sqlite3_column_int64(st, 0);
	TRY(sq_col_blob(st, 1, hash, FL_HASH_LEN));
out:
	if (err != FL_OK) {
		*seq = 0;
		memset(hash, 0, FL_HASH_LEN);
	}
	sq_done(st);
	return err;
}

fl_err sq_audit_append(struct fl_tx *tx, const struct fl_audit_entry *e)
{
	static const char sql[] =
	        "INSERT INTO audit (chain, seq, at, actor, action, target, "
	        "before, after, prev_hash, hash) "
	        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?);";
	sqlite3_stmt *st = NULL;
	fl_err err;

	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, e->chain));
	TRY(sq_bind_int(st, 2, e->seq));
	TRY(sq_bind_int(st, 3, e->at));
	TRY(sq_bind_text(st, 4, e->actor));
	TRY(sq_bind_text(st, 5, e->action));
	TRY(sq_bind_text(st, 6, e->target));
	TRY(sq_bind_text(st, 7, e->before));
	TRY(sq_bind_text(st, 8, e->after));
	TRY(sq_bind_blob(st, 9, e->prev_hash, FL_HASH_LEN));
	TRY(sq_bind_blob(st, 10, e->hash, FL_HASH_LEN));
	TRY(sq_step_done(st));
out:
	sq_done(st);
	return err;
}

static fl_err read_entry(sqlite3_stmt *st, struct fl_audit_entry *e)
{
	fl_err err;

	e->seq = sqlite3_column_int64(st, 1);
	e->at = sqlite3_column_int64(st, 2);
	TRY(sq_col_text(st, 0, e->chain, sizeof(e->chain)));
	TRY(sq_col_text(st, 3, e->actor, sizeof(e->actor)));
	TRY(sq_col_text(st, 4, e->action, sizeof(e->action)));
	TRY(sq_col_text(st, 5, e->target, sizeof(e->target)));
	TRY(sq_col_text(st, 6, e->before, sizeof(e->before)));
	TRY(sq_col_text(st, 7, e->after, sizeof(e->after)));
	TRY(sq_col_blob(st, 8, e->prev_hash, FL_HASH_LEN));
	TRY(sq_col_blob(st, 9, e->hash, FL_HASH_LEN));
out:
	return err;
}

fl_err sq_audit_list(struct fl_tx *tx, const char *chain, int64_t after,
                     int limit, const struct fl_audit_filter *filter,
                     FL_STORE_LIST_FN(struct fl_audit_entry), void *ctx)
{
	/* NULL parameters match everything, so one statement serves every
	 * filter combination. */
	static const char sql[] =
	        "SELECT chain, seq, at, actor, action, target, before, after, "
	        "prev_hash, hash FROM audit WHERE chain = ?1 AND seq > ?2 "
	        "AND (?3 IS NULL OR action = ?3) "
	        "AND (?4 IS NULL OR target = ?4) "
	        "AND (?5 IS NULL OR actor = ?5) "
	        "AND (?6 = 0 OR at >= ?6) AND (?7 = 0 OR at < ?7) "
	        "ORDER BY seq LIMIT ?8;";
	static const struct fl_audit_filter none;
	const struct fl_audit_filter *f = filter != NULL ? filter : &none;
	struct fl_audit_entry e;
	sqlite3_stmt *st = NULL;
	fl_err err;

	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, chain));
	TRY(sq_bind_int(st, 2, after));
	if (f->action != NULL)
		TRY(sq_bind_text(st, 3, f->action));
	if (f->target != NULL)
		TRY(sq_bind_text(st, 4, f->target));
	if (f->actor != NULL)
		TRY(sq_bind_text(st, 5, f->actor));
	TRY(sq_bind_int(st, 6, f->since));
	TRY(sq_bind_int(st, 7, f->until));
	TRY(sq_bind_int(st, 8, limit < 0 ? -1 : limit));
	while ((err = sq_step_row(st)) == FL_OK) {
		memset(&e, 0, sizeof(e));
		TRY(read_entry(st, &e));
		TRY(fn(ctx, &e));
	}
	if (err == FL_E_NOT_FOUND)
		err = FL_OK;
out:
	sq_done(st);
	return err;
}

fl_err sq_audit_chains(struct fl_tx *tx,
                       fl_err (*fn)(void *ctx, const char *chain), void *ctx)
{
	static const char sql[] = "SELECT DISTINCT chain FROM audit "
	                          "ORDER BY chain;";
	char chain[FL_ID_MAX];
	sqlite3_stmt *st = NULL;
	fl_err err;

	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	while ((err = sq_step_row(st)) == FL_OK) {
		TRY(sq_col_text(st, 0, chain, sizeof(chain)));
		TRY(fn(ctx, chain));
	}
	if (err == FL_E_NOT_FOUND)
		err = FL_OK;
out:
	sq_done(st);
	return err;
}

fl_err sq_audit_head_save(struct fl_tx *tx,
                          const struct fl_audit_signed_head *h)
{
	static const char sql[] =
	        "INSERT INTO audit_signed_heads (chain, seq, hash, signed_at, "
	        "token) VALUES (?, ?, ?, ?, ?);";
	sqlite3_stmt *st = NULL;
	fl_err err;

	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, h->chain));
	TRY(sq_bind_int(st, 2, h->seq));
	TRY(sq_bind_blob(st, 3, h->hash, FL_HASH_LEN));
	TRY(sq_bind_int(st, 4, h->signed_at));
	TRY(sq_bind_text(st, 5, h->token));
	TRY(sq_step_done(st));
out:
	sq_done(st);
	return err;
}

fl_err sq_audit_head_latest(struct fl_tx *tx, const char *chain,
                            struct fl_audit_signed_head *out)
{
	static const char sql[] = "SELECT chain, seq, hash, signed_at, token "
	                          "FROM audit_signed_heads WHERE chain = ? "
	                          "ORDER BY ord DESC LIMIT 1;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	memset(out, 0, sizeof(*out));
	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, chain));
	TRY(sq_step_row(st));
	TRY(sq_col_text(st, 0, out->chain, sizeof(out->chain)));
	out->seq = sqlite3_column_int64(st, 1);
	TRY(sq_col_blob(st, 2, out->hash, FL_HASH_LEN));
	out->signed_at = sqlite3_column_int64(st, 3);
	TRY(sq_col_text(st, 4, out->token, sizeof(out->token)));
out:
	if (err != FL_OK)
		memset(out, 0, sizeof(*out));
	sq_done(st);
	return err;
}
