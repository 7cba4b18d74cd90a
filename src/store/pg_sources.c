/* pg_sources.c - payment sources, provider payments, unmatched payments,
 * pending releases and lock holds on PostgreSQL. */
#include "store/pg_int.h"

#include <string.h>

/* Calls read(r, row, rec) then fn(ctx, rec) for every row of r. */
#define EACH_ROW(r, rec, read)                                                 \
	for (int row_ = 0; row_ < PQntuples(r); row_++) {                      \
		TRY(read((r), row_, &(rec)));                                  \
		TRY(fn(ctx, &(rec)));                                          \
	}

/* --- payment sources ------------------------------------------------------ */

#define SRC_COLS                                                               \
	"ord, id, tenant_id, kind, name, shortcode, currency, networks, "      \
	"path_hash, secret, max_silence, created_at, disabled_at, "            \
	"rotated_at, last_callback_at, stale_since"

static fl_err read_source(const PGresult *r, int i, struct fl_source_rec *s)
{
	fl_err err;

	memset(s, 0, sizeof(*s));
	s->ord = pg_int(r, i, 0);
	TRY(pg_text(r, i, 1, s->id, sizeof(s->id)));
	TRY(pg_text(r, i, 2, s->tenant_id, sizeof(s->tenant_id)));
	TRY(pg_text(r, i, 3, s->kind, sizeof(s->kind)));
	TRY(pg_text(r, i, 4, s->name, sizeof(s->name)));
	TRY(pg_text(r, i, 5, s->shortcode, sizeof(s->shortcode)));
	TRY(pg_text(r, i, 6, s->currency, sizeof(s->currency)));
	TRY(pg_text(r, i, 7, s->networks, sizeof(s->networks)));
	TRY(pg_blob(r, i, 8, s->path_hash, FL_HASH_LEN));
	TRY(pg_text(r, i, 9, s->secret, sizeof(s->secret)));
	s->max_silence = pg_int(r, i, 10);
	s->created_at = pg_int(r, i, 11);
	s->disabled_at = pg_int(r, i, 12);
	s->rotated_at = pg_int(r, i, 13);
	s->last_callback_at = pg_int(r, i, 14);
	s->stale_since = pg_int(r, i, 15);
out:
	return err;
}

fl_err pg_source_insert(struct fl_tx *tx, struct fl_source_rec *s)
{
	static const char sql[] =
	        "INSERT INTO payment_sources (id, tenant_id, kind, name, "
	        "shortcode, currency, networks, path_hash, secret, "
	        "max_silence, created_at, disabled_at, rotated_at, "
	        "last_callback_at, stale_since) VALUES ($1, $2, $3, $4, $5, "
	        "$6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING ord";
	struct pg_params p = {0};
	PGresult *r = NULL;
	fl_err err;

	pg_p_text(&p, s->id);
	pg_p_text(&p, s->tenant_id);
	pg_p_text(&p, s->kind);
	pg_p_text(&p, s->name);
	pg_p_text(&p, s->shortcode);
	pg_p_text(&p, s->currency);
	pg_p_text(&p, s->networks);
	pg_p_blob(&p, s->path_hash, FL_HASH_LEN);
	pg_p_text(&p, s->secret);
	pg_p_int(&p, s->max_silence);
	pg_p_int(&p, s->created_at);
	pg_p_int(&p, s->disabled_at);
	pg_p_int(&p, s->rotated_at);
	pg_p_int(&p, s->last_callback_at);
	pg_p_int(&p, s->stale_since);
	TRY(pg_run(tx, sql, &p, PG_GUARD, &r));
	s->ord = pg_returned(r);
out:
	PQclear(r);
	return err;
}

fl_err pg_source_get(struct fl_tx *tx, const char *tenant_id, const char *id,
                     struct fl_source_rec *out)
{
	static const char sql[] = "SELECT " SRC_COLS " FROM payment_sources "
	                          "WHERE id = $1 AND ($2::text IS NULL OR "
	                          "tenant_id = $2)";
	struct pg_params p = {0};
	PGresult *r = NULL;
	fl_err err;

	memset(out, 0, sizeof(*out));
	pg_p_text(&p, id);
	pg_p_text(&p, tenant_id);
	TRY(pg_run(tx, sql, &p, 0, &r));
	if (PQntuples(r) == 0) {
		err = FL_E_NOT_FOUND;
		goto out;
	}
	TRY(read_source(r, 0, out));
out:
	if (err != FL_OK)
		memset(out, 0, sizeof(*out));
	PQclear(r);
	return err;
}

fl_err pg_source_list(struct fl_tx *tx, const char *tenant_id, int64_t after,
                      int limit, FL_STORE_LIST_FN(struct fl_source_rec),
                      void *ctx)
{
	static const char sql[] =
	        "SELECT " SRC_COLS " FROM payment_sources WHERE ($1::text IS "
	        "NULL OR tenant_id = $1) AND ord > $2 ORDER BY ord LIMIT "
	        "CASE WHEN $3::bigint < 0 THEN NULL ELSE $3::bigint END";
	struct pg_params p = {0};
	struct fl_source_rec s;
	PGresult *r = NULL;
	fl_err err;

	pg_p_text(&p, tenant_id);
	pg_p_int(&p, after);
	pg_p_int(&p, limit);
	TRY(pg_run(tx, sql, &p, 0, &r));
	EACH_ROW(r, s, read_source);
out:
	PQclear(r);
	return err;
}

fl_err pg_source_update(struct fl_tx *tx, const struct fl_source_rec *s)
{
	static const char sql[] =
	        "UPDATE payment_sources SET name = $1, networks = $2, "
	        "path_hash = $3, secret = $4, max_silence = $5, disabled_at = "
	        "$6, rotated_at = $7, stale_since = $8 WHERE id = $9 AND "
	        "tenant_id = $10";
	struct pg_params p = {0};
	int64_t n = 0;
	fl_err err;

	pg_p_text(&p, s->name);
	pg_p_text(&p, s->networks);
	pg_p_blob(&p, s->path_hash, FL_HASH_LEN);
	pg_p_text(&p, s->secret);
	pg_p_int(&p, s->max_silence);
	pg_p_int(&p, s->disabled_at);
	pg_p_int(&p, s->rotated_at);
	pg_p_int(&p, s->stale_since);
	pg_p_text(&p, s->id);
	pg_p_text(&p, s->tenant_id);
	err = pg_cmd(tx, sql, &p, 0, &n);
	if (err == FL_OK && n == 0)
		err = FL_E_NOT_FOUND;
	return err;
}

fl_err pg_source_touch(struct fl_tx *tx, const char *id, fl_time at)
{
	static const char sql[] =
	        "UPDATE payment_sources SET last_callback_at = "
	        "greatest(last_callback_at, $1), stale_since = 0 WHERE id = $2";
	struct pg_params p = {0};
	int64_t n = 0;
	fl_err err;

	pg_p_int(&p, at);
	pg_p_text(&p, id);
	err = pg_cmd(tx, sql, &p, 0, &n);
	if (err == FL_OK && n == 0)
		err = FL_E_NOT_FOUND;
	return err;
}

/* --- provider payments ---------------------------------------------------- */

#define REF_COLS                                                               \
	"source_id, ref, tenant_id, fingerprint, amount, payment_id, "         \
	"unmatched_id, created_at"

static fl_err read_ref(const PGresult *r, int i, struct fl_provider_ref *x)
{
	fl_err err;

	memset(x, 0, sizeof(*x));
	TRY(pg_text(r, i, 0, x->source_id, sizeof(x->source_id)));
	TRY(pg_text(r, i, 1, x->ref, sizeof(x->ref)));
	TRY(pg_text(r, i, 2, x->tenant_id, sizeof(x->tenant_id)));
	TRY(pg_blob(r, i, 3, x->fingerprint, FL_HASH_LEN));
	x->amount = pg_int(r, i, 4);
	TRY(pg_text(r, i, 5, x->payment_id, sizeof(x->payment_id)));
	TRY(pg_text(r, i, 6, x->unmatched_id, sizeof(x->unmatched_id)));
	x->created_at = pg_int(r, i, 7);
out:
	return err;
}

fl_err pg_provider_ref_put(struct fl_tx *tx, const struct fl_provider_ref *x)
{
	static const char sql[] =
	        "INSERT INTO provider_payments (" REF_COLS ") VALUES ($1, $2, "
	        "$3, $4, $5, $6, $7, $8)";
	struct pg_params p = {0};

	pg_p_text(&p, x->source_id);
	pg_p_text(&p, x->ref);
	pg_p_text(&p, x->tenant_id);
	pg_p_blob(&p, x->fingerprint, FL_HASH_LEN);
	pg_p_int(&p, x->amount);
	pg_p_text(&p, x->payment_id);
	pg_p_text(&p, x->unmatched_id);
	pg_p_int(&p, x->created_at);
	return pg_cmd(tx, sql, &p, PG_GUARD, NULL);
}

static fl_err ref_one(struct fl_tx *tx, const char *sql, const char *a,
                      const char *b, struct fl_provider_ref *out)
{
	struct pg_params p = {0};
	PGresult *r = NULL;
	fl_err err;

	memset(out, 0, sizeof(*out));
	pg_p_text(&p, a);
	pg_p_text(&p, b);
	TRY(pg_run(tx, sql, &p, 0, &r));
	if (PQntuples(r) == 0) {
		err = FL_E_NOT_FOUND;
		goto out;
	}
	TRY(read_ref(r, 0, out));
out:
	if (err != FL_OK)
		memset(out, 0, sizeof(*out));
	PQclear(r);
	return err;
}

fl_err pg_provider_ref_get(struct fl_tx *tx, const char *source_id,
                           const char *ref, struct fl_provider_ref *out)
{
	static const char sql[] = "SELECT " REF_COLS " FROM provider_payments "
	                          "WHERE source_id = $1 AND ref = $2";

	return ref_one(tx, sql, source_id, ref, out);
}

fl_err pg_provider_ref_find(struct fl_tx *tx, const char *tenant_id,
                            const char *ref, struct fl_provider_ref *out)
{
	static const char sql[] = "SELECT " REF_COLS " FROM provider_payments "
	                          "WHERE tenant_id = $1 AND ref = $2 "
	                          "ORDER BY created_at LIMIT 1";

	return ref_one(tx, sql, tenant_id, ref, out);
}

fl_err pg_provider_ref_list(struct fl_tx *tx, const char *tenant_id,
                            fl_time from, fl_time to,
                            FL_STORE_LIST_FN(struct fl_provider_ref), void *ctx)
{
	static const char sql[] =
	        "SELECT " REF_COLS " FROM provider_payments WHERE "
	        "tenant_id = $1 AND created_at >= $2 AND created_at <= $3 "
	        "ORDER BY created_at, source_id, ref";
	struct pg_params p = {0};
	struct fl_provider_ref x;
	PGresult *r = NULL;
	fl_err err;

	pg_p_text(&p, tenant_id);
	pg_p_int(&p, from);
	pg_p_int(&p, to);
	TRY(pg_run(tx, sql, &p, 0, &r));
	EACH_ROW(r, x, read_ref);
out:
	PQclear(r);
	return err;
}

fl_err pg_source_msg_put(struct fl_tx *tx, const char *source_id,
                         const char *msg_id, fl_time at, fl_time forget_before)
{
	static const char forget[] = "DELETE FROM source_messages WHERE "
	                             "source_id = $1 AND seen_at < $2";
	static const char sql[] = "INSERT INTO source_messages (source_id, "
	                          "msg_id, seen_at) VALUES ($1, $2, $3)";
	struct pg_params p = {0}, q = {0};
	fl_err err;

	pg_p_text(&p, source_id);
	pg_p_int(&p, forget_before);
	if ((err = pg_cmd(tx, forget, &p, 0, NULL)) != FL_OK)
		return err;
	pg_p_text(&q, source_id);
	pg_p_text(&q, msg_id);
	pg_p_int(&q, at);
	return pg_cmd(tx, sql, &q, PG_GUARD, NULL);
}

/* --- unmatched payments --------------------------------------------------- */

#define UM_COLS                                                                \
	"ord, id, tenant_id, source_id, reference, account, amount, "          \
	"currency, paid_at, reason, payer, created_at, payment_id, "           \
	"assigned_at, assigned_by, fingerprint"

static fl_err read_unmatched(const PGresult *r, int i,
                             struct fl_unmatched_rec *u)
{
	fl_err err;

	memset(u, 0, sizeof(*u));
	u->ord = pg_int(r, i, 0);
	TRY(pg_text(r, i, 1, u->id, sizeof(u->id)));
	TRY(pg_text(r, i, 2, u->tenant_id, sizeof(u->tenant_id)));
	TRY(pg_text(r, i, 3, u->source_id, sizeof(u->source_id)));
	TRY(pg_text(r, i, 4, u->reference, sizeof(u->reference)));
	TRY(pg_text(r, i, 5, u->account, sizeof(u->account)));
	u->amount = pg_int(r, i, 6);
	TRY(pg_text(r, i, 7, u->currency, sizeof(u->currency)));
	u->paid_at = pg_int(r, i, 8);
	TRY(pg_text(r, i, 9, u->reason, sizeof(u->reason)));
	TRY(pg_text(r, i, 10, u->payer, sizeof(u->payer)));
	u->created_at = pg_int(r, i, 11);
	TRY(pg_text(r, i, 12, u->payment_id, sizeof(u->payment_id)));
	u->assigned_at = pg_int(r, i, 13);
	TRY(pg_text(r, i, 14, u->assigned_by, sizeof(u->assigned_by)));
	/* none (kept before migration 12): all zero */
	if (!PQgetisnull(r, i, 15) && PQgetlength(r, i, 15) == FL_HASH_LEN)
		memcpy(u->fingerprint, PQgetvalue(r, i, 15), FL_HASH_LEN);
out:
	return err;
}

fl_err pg_unmatched_insert(struct fl_tx *tx, struct fl_unmatched_rec *u)
{
	static const char sql[] =
	        "INSERT INTO unmatched_payments (id, tenant_id, source_id, "
	        "reference, account, amount, currency, paid_at, reason, payer, "
	        "created_at, payment_id, assigned_at, assigned_by, "
	        "fingerprint) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, "
	        "$11, $12, $13, $14, $15) RETURNING ord";
	static const uint8_t zero[FL_HASH_LEN];
	bool has_fp = memcmp(u->fingerprint, zero, FL_HASH_LEN) != 0;
	struct pg_params p = {0};
	PGresult *r = NULL;
	fl_err err;

	pg_p_text(&p, u->id);
	pg_p_text(&p, u->tenant_id);
	pg_p_text(&p, u->source_id);
	pg_p_text(&p, u->reference);
	pg_p_text(&p, u->account);
	pg_p_int(&p, u->amount);
	pg_p_text(&p, u->currency);
	pg_p_int(&p, u->paid_at);
	pg_p_text(&p, u->reason);
	pg_p_text(&p, u->payer);
	pg_p_int(&p, u->created_at);
	pg_p_text(&p, u->payment_id);
	pg_p_int(&p, u->assigned_at);
	pg_p_text(&p, u->assigned_by);
	pg_p_blob(&p, u->fingerprint, has_fp ? FL_HASH_LEN : 0);
	TRY(pg_run(tx, sql, &p, PG_GUARD, &r));
	u->ord = pg_returned(r);
out:
	PQclear(r);
	return err;
}

fl_err pg_unmatched_get(struct fl_tx *tx, const char *tenant_id, const char *id,
                        struct fl_unmatched_rec *out)
{
	static const char sql[] = "SELECT " UM_COLS " FROM unmatched_payments "
	                          "WHERE tenant_id = $1 AND id = $2";
	struct pg_params p = {0};
	PGresult *r = NULL;
	fl_err err;

	memset(out, 0, sizeof(*out));
	pg_p_text(&p, tenant_id);
	pg_p_text(&p, id);
	TRY(pg_run(tx, sql, &p, 0, &r));
	if (PQntuples(r) == 0) {
		err = FL_E_NOT_FOUND;
		goto out;
	}
	TRY(read_unmatched(r, 0, out));
out:
	if (err != FL_OK)
		memset(out, 0, sizeof(*out));
	PQclear(r);
	return err;
}

fl_err pg_unmatched_find(struct fl_tx *tx, const char *source_id,
                         const char *reference,
                         const uint8_t fingerprint[FL_HASH_LEN],
                         struct fl_unmatched_rec *out)
{
	static const char sql[] =
	        "SELECT " UM_COLS " FROM unmatched_payments WHERE source_id = "
	        "$1 AND reference = $2 AND fingerprint = $3 AND "
	        "length(fingerprint) > 0";
	struct pg_params p = {0};
	PGresult *r = NULL;
	fl_err err;

	memset(out, 0, sizeof(*out));
	pg_p_text(&p, source_id);
	pg_p_text(&p, reference);
	pg_p_blob(&p, fingerprint, FL_HASH_LEN);
	TRY(pg_run(tx, sql, &p, 0, &r));
	if (PQntuples(r) == 0) {
		err = FL_E_NOT_FOUND;
		goto out;
	}
	TRY(read_unmatched(r, 0, out));
out:
	if (err != FL_OK)
		memset(out, 0, sizeof(*out));
	PQclear(r);
	return err;
}

fl_err pg_unmatched_list(struct fl_tx *tx, const char *tenant_id,
                         bool open_only, int64_t after, int limit,
                         FL_STORE_LIST_FN(struct fl_unmatched_rec), void *ctx)
{
	static const char sql[] =
	        "SELECT " UM_COLS " FROM unmatched_payments WHERE "
	        "tenant_id = $1 AND ($2::bigint = 0 OR payment_id = '') AND "
	        "ord > $3 ORDER BY ord LIMIT CASE WHEN $4::bigint < 0 THEN "
	        "NULL ELSE $4::bigint END";
	struct pg_params p = {0};
	struct fl_unmatched_rec u;
	PGresult *r = NULL;
	fl_err err;

	pg_p_text(&p, tenant_id);
	pg_p_int(&p, open_only ? 1 : 0);
	pg_p_int(&p, after);
	pg_p_int(&p, limit);
	TRY(pg_run(tx, sql, &p, 0, &r));
	EACH_ROW(r, u, read_unmatched);
out:
	PQclear(r);
	return err;
}

fl_err pg_unmatched_assign(struct fl_tx *tx, const char *tenant_id,
                           const char *id, const char *payment_id, fl_time at,
                           const char *by)
{
	static const char sql[] =
	        "UPDATE unmatched_payments SET payment_id = $1, assigned_at = "
	        "$2, assigned_by = $3 WHERE tenant_id = $4 AND id = $5 AND "
	        "payment_id = ''";
	struct fl_unmatched_rec u;
	struct pg_params p = {0};
	int64_t n = 0;
	fl_err err;

	if ((err = pg_unmatched_get(tx, tenant_id, id, &u)) != FL_OK)
		return err;
	pg_p_text(&p, payment_id);
	pg_p_int(&p, at);
	pg_p_text(&p, by);
	pg_p_text(&p, tenant_id);
	pg_p_text(&p, id);
	err = pg_cmd(tx, sql, &p, 0, &n);
	if (err == FL_OK && n == 0)
		err = FL_E_STATE;
	return err;
}

fl_err pg_contract_by_ref(struct fl_tx *tx, const char *tenant_id,
                          const char *norm_ref, char device_id[FL_ID_MAX])
{
	static const char sql[] =
	        "SELECT device_id FROM contracts WHERE tenant_id = $1 AND "
	        "loan_ref <> '' AND lower(replace(loan_ref, ' ', '') COLLATE "
	        "\"C\") = $2 ORDER BY ord LIMIT 1";
	struct pg_params p = {0};
	PGresult *r = NULL;
	fl_err err;

	device_id[0] = '\0';
	pg_p_text(&p, tenant_id);
	pg_p_text(&p, norm_ref);
	TRY(pg_run(tx, sql, &p, 0, &r));
	if (PQntuples(r) == 0) {
		err = FL_E_NOT_FOUND;
		goto out;
	}
	TRY(pg_text(r, 0, 0, device_id, FL_ID_MAX));
out:
	if (err != FL_OK)
		device_id[0] = '\0';
	PQclear(r);
	return err;
}

/* --- pending releases ----------------------------------------------------- */

fl_err pg_pending_release_put(struct fl_tx *tx,
                              const struct fl_pending_release *x)
{
	static const char sql[] =
	        "INSERT INTO pending_releases (device_id, tenant_id, "
	        "payment_id, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT "
	        "(device_id) DO UPDATE SET tenant_id = excluded.tenant_id, "
	        "payment_id = excluded.payment_id, created_at = "
	        "excluded.created_at";
	struct pg_params p = {0};

	pg_p_text(&p, x->device_id);
	pg_p_text(&p, x->tenant_id);
	pg_p_text(&p, x->payment_id);
	pg_p_int(&p, x->created_at);
	return pg_cmd(tx, sql, &p, 0, NULL);
}

fl_err pg_pending_release_get(struct fl_tx *tx, const char *device_id,
                              struct fl_pending_release *out)
{
	static const char sql[] =
	        "SELECT device_id, tenant_id, payment_id, created_at FROM "
	        "pending_releases WHERE device_id = $1";
	struct pg_params p = {0};
	PGresult *r = NULL;
	fl_err err;

	memset(out, 0, sizeof(*out));
	pg_p_text(&p, device_id);
	TRY(pg_run(tx, sql, &p, 0, &r));
	if (PQntuples(r) == 0) {
		err = FL_E_NOT_FOUND;
		goto out;
	}
	TRY(pg_text(r, 0, 0, out->device_id, sizeof(out->device_id)));
	TRY(pg_text(r, 0, 1, out->tenant_id, sizeof(out->tenant_id)));
	TRY(pg_text(r, 0, 2, out->payment_id, sizeof(out->payment_id)));
	out->created_at = pg_int(r, 0, 3);
out:
	if (err != FL_OK)
		memset(out, 0, sizeof(*out));
	PQclear(r);
	return err;
}

fl_err pg_pending_release_drop(struct fl_tx *tx, const char *device_id)
{
	static const char sql[] =
	        "DELETE FROM pending_releases WHERE device_id = $1";
	struct pg_params p = {0};
	int64_t n = 0;
	fl_err err;

	pg_p_text(&p, device_id);
	err = pg_cmd(tx, sql, &p, 0, &n);
	if (err == FL_OK && n == 0)
		err = FL_E_NOT_FOUND;
	return err;
}

/* --- lock holds ----------------------------------------------------------- */

#define HOLD_COLS                                                              \
	"ord, id, tenant_id, kind, source_id, until_at, reason, created_at, "  \
	"created_by, released_at, released_by"

static fl_err read_hold(const PGresult *r, int i, struct fl_hold_rec *h)
{
	fl_err err;

	memset(h, 0, sizeof(*h));
	h->ord = pg_int(r, i, 0);
	TRY(pg_text(r, i, 1, h->id, sizeof(h->id)));
	TRY(pg_text(r, i, 2, h->tenant_id, sizeof(h->tenant_id)));
	TRY(pg_text(r, i, 3, h->kind, sizeof(h->kind)));
	TRY(pg_text(r, i, 4, h->source_id, sizeof(h->source_id)));
	h->until = pg_int(r, i, 5);
	TRY(pg_text(r, i, 6, h->reason, sizeof(h->reason)));
	h->created_at = pg_int(r, i, 7);
	TRY(pg_text(r, i, 8, h->created_by, sizeof(h->created_by)));
	h->released_at = pg_int(r, i, 9);
	TRY(pg_text(r, i, 10, h->released_by, sizeof(h->released_by)));
out:
	return err;
}

fl_err pg_hold_insert(struct fl_tx *tx, struct fl_hold_rec *h)
{
	static const char sql[] =
	        "INSERT INTO lock_holds (id, tenant_id, kind, source_id, "
	        "until_at, reason, created_at, created_by, released_at, "
	        "released_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
	        "RETURNING ord";
	struct pg_params p = {0};
	PGresult *r = NULL;
	fl_err err;

	pg_p_text(&p, h->id);
	pg_p_text(&p, h->tenant_id);
	pg_p_text(&p, h->kind);
	pg_p_text(&p, h->source_id);
	pg_p_int(&p, h->until);
	pg_p_text(&p, h->reason);
	pg_p_int(&p, h->created_at);
	pg_p_text(&p, h->created_by);
	pg_p_int(&p, h->released_at);
	pg_p_text(&p, h->released_by);
	TRY(pg_run(tx, sql, &p, PG_GUARD, &r));
	h->ord = pg_returned(r);
out:
	PQclear(r);
	return err;
}

fl_err pg_hold_extend(struct fl_tx *tx, const struct fl_hold_rec *h)
{
	static const char sql[] =
	        "UPDATE lock_holds SET until_at = $1, "
	        "reason = $2 WHERE tenant_id = $3 AND id = $4";
	struct pg_params p = {0};
	int64_t n = 0;
	fl_err err;

	pg_p_int(&p, h->until);
	pg_p_text(&p, h->reason);
	pg_p_text(&p, h->tenant_id);
	pg_p_text(&p, h->id);
	err = pg_cmd(tx, sql, &p, 0, &n);
	if (err == FL_OK && n == 0)
		err = FL_E_NOT_FOUND;
	return err;
}

fl_err pg_hold_release(struct fl_tx *tx, const char *tenant_id, const char *id,
                       fl_time at, const char *by)
{
	static const char exists[] = "SELECT released_at FROM lock_holds "
	                             "WHERE tenant_id = $1 AND id = $2";
	static const char sql[] =
	        "UPDATE lock_holds SET released_at = $1, released_by = $2 "
	        "WHERE tenant_id = $3 AND id = $4 AND released_at = 0";
	struct pg_params p = {0}, q = {0};
	PGresult *r = NULL;
	fl_err err;

	pg_p_text(&p, tenant_id);
	pg_p_text(&p, id);
	TRY(pg_run(tx, exists, &p, 0, &r));
	if (PQntuples(r) == 0) {
		err = FL_E_NOT_FOUND;
		goto out;
	}
	if (pg_int(r, 0, 0) != 0) {
		err = FL_E_STATE;
		goto out;
	}
	pg_p_int(&q, at);
	pg_p_text(&q, by);
	pg_p_text(&q, tenant_id);
	pg_p_text(&q, id);
	err = pg_cmd(tx, sql, &q, 0, NULL);
out:
	PQclear(r);
	return err;
}

fl_err pg_hold_list(struct fl_tx *tx, const char *tenant_id,
                    fl_time standing_at, int limit,
                    FL_STORE_LIST_FN(struct fl_hold_rec), void *ctx)
{
	static const char sql[] =
	        "SELECT " HOLD_COLS " FROM lock_holds WHERE ($1::text IS NULL "
	        "OR tenant_id = $1) AND ($2::bigint = 0 OR (released_at = 0 "
	        "AND until_at > $2::bigint)) ORDER BY ord DESC LIMIT CASE WHEN "
	        "$3::bigint < 0 THEN NULL ELSE $3::bigint END";
	struct pg_params p = {0};
	struct fl_hold_rec h;
	PGresult *r = NULL;
	fl_err err;

	pg_p_text(&p, tenant_id);
	pg_p_int(&p, standing_at);
	pg_p_int(&p, limit);
	TRY(pg_run(tx, sql, &p, 0, &r));
	EACH_ROW(r, h, read_hold);
out:
	PQclear(r);
	return err;
}
