/* sqlite_sources.c - payment sources, provider payments, unmatched
 * payments, pending releases and lock holds on SQLite. */
#include "store/sqlite_int.h"

#include <string.h>

/* --- payment sources ------------------------------------------------------ */

#define SRC_COLS                                                               \
	"ord, id, tenant_id, kind, name, shortcode, currency, networks, "      \
	"path_hash, secret, max_silence, created_at, disabled_at, "            \
	"rotated_at, last_callback_at, stale_since"

static fl_err read_source(sqlite3_stmt *st, struct fl_source_rec *s)
{
	fl_err err;

	memset(s, 0, sizeof(*s));
	s->ord = sqlite3_column_int64(st, 0);
	TRY(sq_col_text(st, 1, s->id, sizeof(s->id)));
	TRY(sq_col_text(st, 2, s->tenant_id, sizeof(s->tenant_id)));
	TRY(sq_col_text(st, 3, s->kind, sizeof(s->kind)));
	TRY(sq_col_text(st, 4, s->name, sizeof(s->name)));
	TRY(sq_col_text(st, 5, s->shortcode, sizeof(s->shortcode)));
	TRY(sq_col_text(st, 6, s->currency, sizeof(s->currency)));
	TRY(sq_col_text(st, 7, s->networks, sizeof(s->networks)));
	TRY(sq_col_blob(st, 8, s->path_hash, FL_HASH_LEN));
	TRY(sq_col_text(st, 9, s->secret, sizeof(s->secret)));
	s->max_silence = sqlite3_column_int64(st, 10);
	s->created_at = sqlite3_column_int64(st, 11);
	s->disabled_at = sqlite3_column_int64(st, 12);
	s->rotated_at = sqlite3_column_int64(st, 13);
	s->last_callback_at = sqlite3_column_int64(st, 14);
	s->stale_since = sqlite3_column_int64(st, 15);
out:
	return err;
}

fl_err sq_source_insert(struct fl_tx *tx, struct fl_source_rec *s)
{
	static const char sql[] =
	        "INSERT INTO payment_sources (id, tenant_id, kind, name, "
	        "shortcode, currency, networks, path_hash, secret, "
	        "max_silence, created_at, disabled_at, rotated_at, "
	        "last_callback_at, stale_since) VALUES (?, ?, ?, ?, ?, ?, ?, "
	        "?, ?, ?, ?, ?, ?, ?, ?);";
	sqlite3_stmt *st = NULL;
	fl_err err;

	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, s->id));
	TRY(sq_bind_text(st, 2, s->tenant_id));
	TRY(sq_bind_text(st, 3, s->kind));
	TRY(sq_bind_text(st, 4, s->name));
	TRY(sq_bind_text(st, 5, s->shortcode));
	TRY(sq_bind_text(st, 6, s->currency));
	TRY(sq_bind_text(st, 7, s->networks));
	TRY(sq_bind_blob(st, 8, s->path_hash, FL_HASH_LEN));
	TRY(sq_bind_text(st, 9, s->secret));
	TRY(sq_bind_int(st, 10, s->max_silence));
	TRY(sq_bind_int(st, 11, s->created_at));
	TRY(sq_bind_int(st, 12, s->disabled_at));
	TRY(sq_bind_int(st, 13, s->rotated_at));
	TRY(sq_bind_int(st, 14, s->last_callback_at));
	TRY(sq_bind_int(st, 15, s->stale_since));
	TRY(sq_step_done(st));
	s->ord = sqlite3_last_insert_rowid(tx->c->db);
out:
	sq_done(st);
	return err;
}

fl_err sq_source_get(struct fl_tx *tx, const char *tenant_id, const char *id,
                     struct fl_source_rec *out)
{
	static const char sql[] = "SELECT " SRC_COLS " FROM payment_sources "
	                          "WHERE id = ?1 AND (?2 IS NULL OR "
	                          "tenant_id = ?2);";
	sqlite3_stmt *st = NULL;
	fl_err err;

	memset(out, 0, sizeof(*out));
	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, id));
	if (tenant_id != NULL)
		TRY(sq_bind_text(st, 2, tenant_id));
	TRY(sq_step_row(st));
	TRY(read_source(st, out));
out:
	if (err != FL_OK)
		memset(out, 0, sizeof(*out));
	sq_done(st);
	return err;
}

fl_err sq_source_list(struct fl_tx *tx, const char *tenant_id, int64_t after,
                      int limit, FL_STORE_LIST_FN(struct fl_source_rec),
                      void *ctx)
{
	static const char sql[] = "SELECT " SRC_COLS " FROM payment_sources "
	                          "WHERE (?1 IS NULL OR tenant_id = ?1) AND "
	                          "ord > ?2 ORDER BY ord LIMIT ?3;";
	struct fl_source_rec s;
	sqlite3_stmt *st = NULL;
	fl_err err;

	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	if (tenant_id != NULL)
		TRY(sq_bind_text(st, 1, tenant_id));
	TRY(sq_bind_int(st, 2, after));
	TRY(sq_bind_int(st, 3, limit < 0 ? -1 : limit));
	while ((err = sq_step_row(st)) == FL_OK) {
		TRY(read_source(st, &s));
		TRY(fn(ctx, &s));
	}
	if (err == FL_E_NOT_FOUND)
		err = FL_OK;
out:
	sq_done(st);
	return err;
}

fl_err sq_source_update(struct fl_tx *tx, const struct fl_source_rec *s)
{
	static const char sql[] =
	        "UPDATE payment_sources SET name = ?, networks = ?, "
	        "path_hash = ?, secret = ?, max_silence = ?, disabled_at = ?, "
	        "rotated_at = ?, stale_since = ? WHERE id = ? AND "
	        "tenant_id = ?;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, s->name));
	TRY(sq_bind_text(st, 2, s->networks));
	TRY(sq_bind_blob(st, 3, s->path_hash, FL_HASH_LEN));
	TRY(sq_bind_text(st, 4, s->secret));
	TRY(sq_bind_int(st, 5, s->max_silence));
	TRY(sq_bind_int(st, 6, s->disabled_at));
	TRY(sq_bind_int(st, 7, s->rotated_at));
	TRY(sq_bind_int(st, 8, s->stale_since));
	TRY(sq_bind_text(st, 9, s->id));
	TRY(sq_bind_text(st, 10, s->tenant_id));
	TRY(sq_step_done(st));
	if (sqlite3_changes(tx->c->db) == 0)
		err = FL_E_NOT_FOUND;
out:
	sq_done(st);
	return err;
}

fl_err sq_source_touch(struct fl_tx *tx, const char *id, fl_time at)
{
	static const char sql[] =
	        "UPDATE payment_sources SET last_callback_at = "
	        "max(last_callback_at, ?1), stale_since = 0 WHERE id = ?2;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_int(st, 1, at));
	TRY(sq_bind_text(st, 2, id));
	TRY(sq_step_done(st));
	if (sqlite3_changes(tx->c->db) == 0)
		err = FL_E_NOT_FOUND;
out:
	sq_done(st);
	return err;
}

/* --- provider payments ---------------------------------------------------- */

#define REF_COLS                                                               \
	"source_id, ref, tenant_id, fingerprint, amount, payment_id, "         \
	"unmatched_id, created_at"

static fl_err read_ref(sqlite3_stmt *st, struct fl_provider_ref *r)
{
	fl_err err;

	memset(r, 0, sizeof(*r));
	TRY(sq_col_text(st, 0, r->source_id, sizeof(r->source_id)));
	TRY(sq_col_text(st, 1, r->ref, sizeof(r->ref)));
	TRY(sq_col_text(st, 2, r->tenant_id, sizeof(r->tenant_id)));
	TRY(sq_col_blob(st, 3, r->fingerprint, FL_HASH_LEN));
	r->amount = sqlite3_column_int64(st, 4);
	TRY(sq_col_text(st, 5, r->payment_id, sizeof(r->payment_id)));
	TRY(sq_col_text(st, 6, r->unmatched_id, sizeof(r->unmatched_id)));
	r->created_at = sqlite3_column_int64(st, 7);
out:
	return err;
}

fl_err sq_provider_ref_put(struct fl_tx *tx, const struct fl_provider_ref *r)
{
	static const char sql[] =
	        "INSERT INTO provider_payments (" REF_COLS ") VALUES (?, ?, "
	        "?, ?, ?, ?, ?, ?);";
	sqlite3_stmt *st = NULL;
	fl_err err;

	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, r->source_id));
	TRY(sq_bind_text(st, 2, r->ref));
	TRY(sq_bind_text(st, 3, r->tenant_id));
	TRY(sq_bind_blob(st, 4, r->fingerprint, FL_HASH_LEN));
	TRY(sq_bind_int(st, 5, r->amount));
	TRY(sq_bind_text(st, 6, r->payment_id));
	TRY(sq_bind_text(st, 7, r->unmatched_id));
	TRY(sq_bind_int(st, 8, r->created_at));
	TRY(sq_step_done(st));
out:
	sq_done(st);
	return err;
}

/* The one provider payment sql (two text parameters) selects. */
static fl_err ref_one(struct fl_tx *tx, const char *sql, const char *a,
                      const char *b, struct fl_provider_ref *out)
{
	sqlite3_stmt *st = NULL;
	fl_err err;

	memset(out, 0, sizeof(*out));
	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, a));
	TRY(sq_bind_text(st, 2, b));
	TRY(sq_step_row(st));
	TRY(read_ref(st, out));
out:
	if (err != FL_OK)
		memset(out, 0, sizeof(*out));
	sq_done(st);
	return err;
}

fl_err sq_provider_ref_get(struct fl_tx *tx, const char *source_id,
                           const char *ref, struct fl_provider_ref *out)
{
	static const char sql[] = "SELECT " REF_COLS " FROM provider_payments "
	                          "WHERE source_id = ? AND ref = ?;";

	return ref_one(tx, sql, source_id, ref, out);
}

fl_err sq_provider_ref_find(struct fl_tx *tx, const char *tenant_id,
                            const char *ref, struct fl_provider_ref *out)
{
	static const char sql[] = "SELECT " REF_COLS " FROM provider_payments "
	                          "WHERE tenant_id = ? AND ref = ? "
	                          "ORDER BY created_at LIMIT 1;";

	return ref_one(tx, sql, tenant_id, ref, out);
}

fl_err sq_provider_ref_list(struct fl_tx *tx, const char *tenant_id,
                            fl_time from, fl_time to,
                            FL_STORE_LIST_FN(struct fl_provider_ref), void *ctx)
{
	static const char sql[] =
	        "SELECT " REF_COLS " FROM provider_payments WHERE "
	        "tenant_id = ? AND created_at >= ? AND created_at <= ? "
	        "ORDER BY created_at, source_id, ref;";
	struct fl_provider_ref r;
	sqlite3_stmt *st = NULL;
	fl_err err;

	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, tenant_id));
	TRY(sq_bind_int(st, 2, from));
	TRY(sq_bind_int(st, 3, to));
	while ((err = sq_step_row(st)) == FL_OK) {
		TRY(read_ref(st, &r));
		TRY(fn(ctx, &r));
	}
	if (err == FL_E_NOT_FOUND)
		err = FL_OK;
out:
	sq_done(st);
	return err;
}

fl_err sq_source_msg_put(struct fl_tx *tx, const char *source_id,
                         const char *msg_id, fl_time at, fl_time forget_before)
{
	static const char forget[] = "DELETE FROM source_messages WHERE "
	                             "source_id = ? AND seen_at < ?;";
	static const char sql[] = "INSERT INTO source_messages (source_id, "
	                          "msg_id, seen_at) VALUES (?, ?, ?);";
	sqlite3_stmt *st = NULL;
	fl_err err;

	st = sq_stmt(tx, forget, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, source_id));
	TRY(sq_bind_int(st, 2, forget_before));
	TRY(sq_step_done(st));
	sq_done(st);
	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, source_id));
	TRY(sq_bind_text(st, 2, msg_id));
	TRY(sq_bind_int(st, 3, at));
	TRY(sq_step_done(st));
out:
	sq_done(st);
	return err;
}

/* --- unmatched payments --------------------------------------------------- */

#define UM_COLS                                                                \
	"ord, id, tenant_id, source_id, reference, account, amount, "          \
	"currency, paid_at, reason, payer, created_at, payment_id, "           \
	"assigned_at, assigned_by, fingerprint"

static fl_err read_unmatched(sqlite3_stmt *st, struct fl_unmatched_rec *u)
{
	fl_err err;

	memset(u, 0, sizeof(*u));
	u->ord = sqlite3_column_int64(st, 0);
	TRY(sq_col_text(st, 1, u->id, sizeof(u->id)));
	TRY(sq_col_text(st, 2, u->tenant_id, sizeof(u->tenant_id)));
	TRY(sq_col_text(st, 3, u->source_id, sizeof(u->source_id)));
	TRY(sq_col_text(st, 4, u->reference, sizeof(u->reference)));
	TRY(sq_col_text(st, 5, u->account, sizeof(u->account)));
	u->amount = sqlite3_column_int64(st, 6);
	TRY(sq_col_text(st, 7, u->currency, sizeof(u->currency)));
	u->paid_at = sqlite3_column_int64(st, 8);
	TRY(sq_col_text(st, 9, u->reason, sizeof(u->reason)));
	TRY(sq_col_text(st, 10, u->payer, sizeof(u->payer)));
	u->created_at = sqlite3_column_int64(st, 11);
	TRY(sq_col_text(st, 12, u->payment_id, sizeof(u->payment_id)));
	u->assigned_at = sqlite3_column_int64(st, 13);
	TRY(sq_col_text(st, 14, u->assigned_by, sizeof(u->assigned_by)));
	/* none (kept before migration 12): all zero */
	if (sqlite3_column_bytes(st, 15) == FL_HASH_LEN)
		memcpy(u->fingerprint, sqlite3_column_blob(st, 15),
		       FL_HASH_LEN);
out:
	return err;
}

fl_err sq_unmatched_insert(struct fl_tx *tx, struct fl_unmatched_rec *u)
{
	static const char sql[] =
	        "INSERT INTO unmatched_payments (id, tenant_id, source_id, "
	        "reference, account, amount, currency, paid_at, reason, payer, "
	        "created_at, payment_id, assigned_at, assigned_by, "
	        "fingerprint) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
	        "?, ?);";
	static const uint8_t zero[FL_HASH_LEN];
	bool has_fp = memcmp(u->fingerprint, zero, FL_HASH_LEN) != 0;
	sqlite3_stmt *st = NULL;
	fl_err err;

	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, u->id));
	TRY(sq_bind_text(st, 2, u->tenant_id));
	TRY(sq_bind_text(st, 3, u->source_id));
	TRY(sq_bind_text(st, 4, u->reference));
	TRY(sq_bind_text(st, 5, u->account));
	TRY(sq_bind_int(st, 6, u->amount));
	TRY(sq_bind_text(st, 7, u->currency));
	TRY(sq_bind_int(st, 8, u->paid_at));
	TRY(sq_bind_text(st, 9, u->reason));
	TRY(sq_bind_text(st, 10, u->payer));
	TRY(sq_bind_int(st, 11, u->created_at));
	TRY(sq_bind_text(st, 12, u->payment_id));
	TRY(sq_bind_int(st, 13, u->assigned_at));
	TRY(sq_bind_text(st, 14, u->assigned_by));
	TRY(sq_bind_blob(st, 15, u->fingerprint, has_fp ? FL_HASH_LEN : 0));
	TRY(sq_step_done(st));
	u->ord = sqlite3_last_insert_rowid(tx->c->db);
out:
	sq_done(st);
	return err;
}

fl_err sq_unmatched_get(struct fl_tx *tx, const char *tenant_id, const char *id,
                        struct fl_unmatched_rec *out)
{
	static const char sql[] = "SELECT " UM_COLS " FROM unmatched_payments "
	                          "WHERE tenant_id = ? AND id = ?;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	memset(out, 0, sizeof(*out));
	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, tenant_id));
	TRY(sq_bind_text(st, 2, id));
	TRY(sq_step_row(st));
	TRY(read_unmatched(st, out));
out:
	if (err != FL_OK)
		memset(out, 0, sizeof(*out));
	sq_done(st);
	return err;
}

fl_err sq_unmatched_find(struct fl_tx *tx, const char *source_id,
                         const char *reference,
                         const uint8_t fingerprint[FL_HASH_LEN],
                         struct fl_unmatched_rec *out)
{
	static const char sql[] =
	        "SELECT " UM_COLS " FROM unmatched_payments WHERE source_id = "
	        "? AND reference = ? AND fingerprint = ? AND "
	        "length(fingerprint) > 0;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	memset(out, 0, sizeof(*out));
	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, source_id));
	TRY(sq_bind_text(st, 2, reference));
	TRY(sq_bind_blob(st, 3, fingerprint, FL_HASH_LEN));
	TRY(sq_step_row(st));
	TRY(read_unmatched(st, out));
out:
	if (err != FL_OK)
		memset(out, 0, sizeof(*out));
	sq_done(st);
	return err;
}

fl_err sq_unmatched_list(struct fl_tx *tx, const char *tenant_id,
                         bool open_only, int64_t after, int limit,
                         FL_STORE_LIST_FN(struct fl_unmatched_rec), void *ctx)
{
	static const char sql[] =
	        "SELECT " UM_COLS " FROM unmatched_payments WHERE "
	        "tenant_id = ?1 AND (?2 = 0 OR payment_id = '') AND ord > ?3 "
	        "ORDER BY ord LIMIT ?4;";
	struct fl_unmatched_rec u;
	sqlite3_stmt *st = NULL;
	fl_err err;

	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, tenant_id));
	TRY(sq_bind_int(st, 2, open_only ? 1 : 0));
	TRY(sq_bind_int(st, 3, after));
	TRY(sq_bind_int(st, 4, limit < 0 ? -1 : limit));
	while ((err = sq_step_row(st)) == FL_OK) {
		TRY(read_unmatched(st, &u));
		TRY(fn(ctx, &u));
	}
	if (err == FL_E_NOT_FOUND)
		err = FL_OK;
out:
	sq_done(st);
	return err;
}

fl_err sq_unmatched_assign(struct fl_tx *tx, const char *tenant_id,
                           const char *id, const char *payment_id, fl_time at,
                           const char *by)
{
	static const char sql[] =
	        "UPDATE unmatched_payments SET payment_id = ?, assigned_at = "
	        "?, "
	        "assigned_by = ? WHERE tenant_id = ? AND id = ? AND "
	        "payment_id = '';";
	struct fl_unmatched_rec u;
	sqlite3_stmt *st = NULL;
	fl_err err;

	TRY(sq_unmatched_get(tx, tenant_id, id, &u));
	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, payment_id));
	TRY(sq_bind_int(st, 2, at));
	TRY(sq_bind_text(st, 3, by));
	TRY(sq_bind_text(st, 4, tenant_id));
	TRY(sq_bind_text(st, 5, id));
	TRY(sq_step_done(st));
	if (sqlite3_changes(tx->c->db) == 0)
		err = FL_E_STATE;
out:
	sq_done(st);
	return err;
}

fl_err sq_contract_by_ref(struct fl_tx *tx, const char *tenant_id,
                          const char *norm_ref, char device_id[FL_ID_MAX])
{
	static const char sql[] =
	        "SELECT device_id FROM contracts WHERE tenant_id = ? AND "
	        "loan_ref <> '' AND lower(replace(loan_ref, ' ', '')) = ? "
	        "ORDER BY ord LIMIT 1;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	device_id[0] = '\0';
	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, tenant_id));
	TRY(sq_bind_text(st, 2, norm_ref));
	TRY(sq_step_row(st));
	TRY(sq_col_text(st, 0, device_id, FL_ID_MAX));
out:
	if (err != FL_OK)
		device_id[0] = '\0';
	sq_done(st);
	return err;
}

/* --- pending releases ----------------------------------------------------- */

fl_err sq_pending_release_put(struct fl_tx *tx,
                              const struct fl_pending_release *r)
{
	static const char sql[] =
	        "INSERT OR REPLACE INTO pending_releases (device_id, "
	        "tenant_id, "
	        "payment_id, created_at) VALUES (?, ?, ?, ?);";
	sqlite3_stmt *st = NULL;
	fl_err err;

	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, r->device_id));
	TRY(sq_bind_text(st, 2, r->tenant_id));
	TRY(sq_bind_text(st, 3, r->payment_id));
	TRY(sq_bind_int(st, 4, r->created_at));
	TRY(sq_step_done(st));
out:
	sq_done(st);
	return err;
}

fl_err sq_pending_release_get(struct fl_tx *tx, const char *device_id,
                              struct fl_pending_release *out)
{
	static const char sql[] =
	        "SELECT device_id, tenant_id, payment_id, created_at FROM "
	        "pending_releases WHERE device_id = ?;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	memset(out, 0, sizeof(*out));
	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, device_id));
	TRY(sq_step_row(st));
	TRY(sq_col_text(st, 0, out->device_id, sizeof(out->device_id)));
	TRY(sq_col_text(st, 1, out->tenant_id, sizeof(out->tenant_id)));
	TRY(sq_col_text(st, 2, out->payment_id, sizeof(out->payment_id)));
	out->created_at = sqlite3_column_int64(st, 3);
out:
	if (err != FL_OK)
		memset(out, 0, sizeof(*out));
	sq_done(st);
	return err;
}

fl_err sq_pending_release_drop(struct fl_tx *tx, const char *device_id)
{
	static const char sql[] =
	        "DELETE FROM pending_releases WHERE device_id = ?;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, device_id));
	TRY(sq_step_done(st));
	if (sqlite3_changes(tx->c->db) == 0)
		err = FL_E_NOT_FOUND;
out:
	sq_done(st);
	return err;
}

/* --- lock holds ----------------------------------------------------------- */

#define HOLD_COLS                                                              \
	"ord, id, tenant_id, kind, source_id, until_at, reason, created_at, "  \
	"created_by, released_at, released_by"

static fl_err read_hold(sqlite3_stmt *st, struct fl_hold_rec *h)
{
	fl_err err;

	memset(h, 0, sizeof(*h));
	h->ord = sqlite3_column_int64(st, 0);
	TRY(sq_col_text(st, 1, h->id, sizeof(h->id)));
	TRY(sq_col_text(st, 2, h->tenant_id, sizeof(h->tenant_id)));
	TRY(sq_col_text(st, 3, h->kind, sizeof(h->kind)));
	TRY(sq_col_text(st, 4, h->source_id, sizeof(h->source_id)));
	h->until = sqlite3_column_int64(st, 5);
	TRY(sq_col_text(st, 6, h->reason, sizeof(h->reason)));
	h->created_at = sqlite3_column_int64(st, 7);
	TRY(sq_col_text(st, 8, h->created_by, sizeof(h->created_by)));
	h->released_at = sqlite3_column_int64(st, 9);
	TRY(sq_col_text(st, 10, h->released_by, sizeof(h->released_by)));
out:
	return err;
}

fl_err sq_hold_insert(struct fl_tx *tx, struct fl_hold_rec *h)
{
	static const char sql[] =
	        "INSERT INTO lock_holds (id, tenant_id, kind, source_id, "
	        "until_at, reason, created_at, created_by, released_at, "
	        "released_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?);";
	sqlite3_stmt *st = NULL;
	fl_err err;

	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, h->id));
	TRY(sq_bind_text(st, 2, h->tenant_id));
	TRY(sq_bind_text(st, 3, h->kind));
	TRY(sq_bind_text(st, 4, h->source_id));
	TRY(sq_bind_int(st, 5, h->until));
	TRY(sq_bind_text(st, 6, h->reason));
	TRY(sq_bind_int(st, 7, h->created_at));
	TRY(sq_bind_text(st, 8, h->created_by));
	TRY(sq_bind_int(st, 9, h->released_at));
	TRY(sq_bind_text(st, 10, h->released_by));
	TRY(sq_step_done(st));
	h->ord = sqlite3_last_insert_rowid(tx->c->db);
out:
	sq_done(st);
	return err;
}

fl_err sq_hold_extend(struct fl_tx *tx, const struct fl_hold_rec *h)
{
	static const char sql[] = "UPDATE lock_holds SET until_at = ?, "
	                          "reason = ? WHERE tenant_id = ? AND id = ?;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_int(st, 1, h->until));
	TRY(sq_bind_text(st, 2, h->reason));
	TRY(sq_bind_text(st, 3, h->tenant_id));
	TRY(sq_bind_text(st, 4, h->id));
	TRY(sq_step_done(st));
	if (sqlite3_changes(tx->c->db) == 0)
		err = FL_E_NOT_FOUND;
out:
	sq_done(st);
	return err;
}

fl_err sq_hold_release(struct fl_tx *tx, const char *tenant_id, const char *id,
                       fl_time at, const char *by)
{
	static const char exists[] =
	        "SELECT released_at FROM lock_holds WHERE tenant_id = ? AND "
	        "id = ?;";
	static const char sql[] =
	        "UPDATE lock_holds SET released_at = ?, released_by = ? "
	        "WHERE tenant_id = ? AND id = ? AND released_at = 0;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	st = sq_stmt(tx, exists, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, tenant_id));
	TRY(sq_bind_text(st, 2, id));
	TRY(sq_step_row(st));
	if (sqlite3_column_int64(st, 0) != 0) {
		err = FL_E_STATE;
		goto out;
	}
	sq_done(st);
	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_int(st, 1, at));
	TRY(sq_bind_text(st, 2, by));
	TRY(sq_bind_text(st, 3, tenant_id));
	TRY(sq_bind_text(st, 4, id));
	TRY(sq_step_done(st));
out:
	sq_done(st);
	return err;
}

fl_err sq_hold_list(struct fl_tx *tx, const char *tenant_id,
                    fl_time standing_at, int limit,
                    FL_STORE_LIST_FN(struct fl_hold_rec), void *ctx)
{
	static const char sql[] =
	        "SELECT " HOLD_COLS " FROM lock_holds WHERE (?1 IS NULL OR "
	        "tenant_id = ?1) AND (?2 = 0 OR (released_at = 0 AND "
	        "until_at > ?2)) ORDER BY ord DESC LIMIT ?3;";
	struct fl_hold_rec h;
	sqlite3_stmt *st = NULL;
	fl_err err;

	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	if (tenant_id != NULL)
		TRY(sq_bind_text(st, 1, tenant_id));
	TRY(sq_bind_int(st, 2, standing_at));
	TRY(sq_bind_int(st, 3, limit < 0 ? -1 : limit));
	while ((err = sq_step_row(st)) == FL_OK) {
		TRY(read_hold(st, &h));
		TRY(fn(ctx, &h));
	}
	if (err == FL_E_NOT_FOUND)
		err = FL_OK;
out:
	sq_done(st);
	return err;
}
