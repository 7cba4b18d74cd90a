/* pg_audit.c - audit chains and their signed heads on PostgreSQL.
 *
 * Appending relies on the caller's fl_store_lock_chain (store.h): the
 * head it read stays the head until its transaction ends; the primary key
 * (chain, seq) refuses a second entry with a taken seq all the same. */
#include "store/pg_int.h"

#include <string.h>

fl_err pg_audit_head(struct fl_tx *tx, const char *chain, int64_t *seq,
                     uint8_t hash[FL_HASH_LEN])
{
	static const char sql[] =
	        "SELECT seq, hash FROM audit WHERE chain = $1 "
	        "ORDER BY seq DESC LIMIT 1";
	struct pg_params p = {0};
	PGresult *r = NULL;
	fl_err err;

	*seq = 0;
	memset(hash, 0, FL_HASH_LEN);
	pg_p_text(&p, chain);
	TRY(pg_run(tx, sql, &p, 0, &r));
	if (PQntuples(r) == 0)
		goto out;
	*seq = pg_int(r, 0, 0);
	TRY(pg_blob(r, 0, 1, hash, FL_HASH_LEN));
out:
	if (err != FL_OK) {
		*seq = 0;
		memset(hash, 0, FL_HASH_LEN);
	}
	PQclear(r);
	return err;
}

fl_err pg_audit_append(struct fl_tx *tx, const struct fl_audit_entry *e)
{
	static const char sql[] =
	        "INSERT INTO audit (chain, seq, at, actor, action, target, "
	        "before, after, prev_hash, hash) "
	        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
	struct pg_params p = {0};

	pg_p_text(&p, e->chain);
	pg_p_int(&p, e->seq);
	pg_p_int(&p, e->at);
	pg_p_text(&p, e->actor);
	pg_p_text(&p, e->action);
	pg_p_text(&p, e->target);
	pg_p_text(&p, e->before);
	pg_p_text(&p, e->after);
	pg_p_blob(&p, e->prev_hash, FL_HASH_LEN);
	pg_p_blob(&p, e->hash, FL_HASH_LEN);
	return pg_cmd(tx, sql, &p, PG_GUARD, NULL);
}

static fl_err read_entry(const PGresult *r, int i, struct fl_audit_entry *e)
{
	fl_err err;

	e->seq = pg_int(r, i, 1);
	e->at = pg_int(r, i, 2);
	TRY(pg_text(r, i, 0, e->chain, sizeof(e->chain)));
	TRY(pg_text(r, i, 3, e->actor, sizeof(e->actor)));
	TRY(pg_text(r, i, 4, e->action, sizeof(e->action)));
	TRY(pg_text(r, i, 5, e->target, sizeof(e->target)));
	TRY(pg_text(r, i, 6, e->before, sizeof(e->before)));
	TRY(pg_text(r, i, 7, e->after, sizeof(e->after)));
	TRY(pg_blob(r, i, 8, e->prev_hash, FL_HASH_LEN));
	TRY(pg_blob(r, i, 9, e->hash, FL_HASH_LEN));
out:
	return err;
}

fl_err pg_audit_list(struct fl_tx *tx, const char *chain, int64_t after,
                     int limit, const struct fl_audit_filter *filter,
                     FL_STORE_LIST_FN(struct fl_audit_entry), void *ctx)
{
	/* NULL parameters match everything, so one statement serves every
	 * filter combination. */
	static const char sql[] =
	        "SELECT chain, seq, at, actor, action, target, before, after, "
	        "prev_hash, hash FROM audit WHERE chain = $1 AND seq > $2 "
	        "AND ($3::text IS NULL OR action = $3::text) "
	        "AND ($4::text IS NULL OR target = $4::text) "
	        "AND ($5::text IS NULL OR actor = $5::text) "
	        "AND ($6::bigint = 0 OR at >= $6::bigint) "
	        "AND ($7::bigint = 0 OR at < $7::bigint) "
	        "ORDER BY seq LIMIT $8";
	static const struct fl_audit_filter none;
	const struct fl_audit_filter *f = filter != NULL ? filter : &none;
	struct fl_audit_entry e;
	struct pg_params p = {0};
	PGresult *r = NULL;
	fl_err err;

	pg_p_text(&p, chain);
	pg_p_int(&p, after);
	pg_p_text(&p, f->action);
	pg_p_text(&p, f->target);
	pg_p_text(&p, f->actor);
	pg_p_int(&p, f->since);
	pg_p_int(&p, f->until);
	if (limit < 0)
		pg_p_text(&p, NULL);
	else
		pg_p_int(&p, limit);
	TRY(pg_run(tx, sql, &p, 0, &r));
	for (int i = 0; i < PQntuples(r); i++) {
		memset(&e, 0, sizeof(e));
		TRY(read_entry(r, i, &e));
		TRY(fn(ctx, &e));
	}
out:
	PQclear(r);
	return err;
}

fl_err pg_audit_chains(struct fl_tx *tx,
                       fl_err (*fn)(void *ctx, const char *chain), void *ctx)
{
	/* byte order, as SQLite sorts */
	static const char sql[] = "SELECT DISTINCT chain COLLATE \"C\" AS c "
	                          "FROM audit ORDER BY 1";
	char chain[FL_ID_MAX];
	PGresult *r = NULL;
	fl_err err;

	TRY(pg_run(tx, sql, NULL, 0, &r));
	for (int i = 0; i < PQntuples(r); i++) {
		TRY(pg_text(r, i, 0, chain, sizeof(chain)));
		TRY(fn(ctx, chain));
	}
out:
	PQclear(r);
	return err;
}

fl_err pg_audit_head_save(struct fl_tx *tx,
                          const struct fl_audit_signed_head *h)
{
	static const char sql[] =
	        "INSERT INTO audit_signed_heads (chain, seq, hash, signed_at, "
	        "token) VALUES ($1, $2, $3, $4, $5)";
	struct pg_params p = {0};

	pg_p_text(&p, h->chain);
	pg_p_int(&p, h->seq);
	pg_p_blob(&p, h->hash, FL_HASH_LEN);
	pg_p_int(&p, h->signed_at);
	pg_p_text(&p, h->token);
	return pg_cmd(tx, sql, &p, PG_GUARD, NULL);
}

fl_err pg_audit_head_latest(struct fl_tx *tx, const char *chain,
                            struct fl_audit_signed_head *out)
{
	static const char sql[] = "SELECT chain, seq, hash, signed_at, token "
	                          "FROM audit_signed_heads WHERE chain = $1 "
	                          "ORDER BY ord DESC LIMIT 1";
	struct pg_params p = {0};
	PGresult *r = NULL;
	fl_err err;

	memset(out, 0, sizeof(*out));
	pg_p_text(&p, chain);
	TRY(pg_run(tx, sql, &p, 0, &r));
	if (PQntuples(r) == 0) {
		err = FL_E_NOT_FOUND;
		goto out;
	}
	TRY(pg_text(r, 0, 0, out->chain, sizeof(out->chain)));
	out->seq = pg_int(r, 0, 1);
	TRY(pg_blob(r, 0, 2, out->hash, FL_HASH_LEN));
	out->signed_at = pg_int(r, 0, 3);
	TRY(pg_text(r, 0, 4, out->token, sizeof(out->token)));
out:
	if (err != FL_OK)
		memset(out, 0, sizeof(*out));
	PQclear(r);
	return err;
}
