/*
 * pg_devproto.c - what the device protocol keeps, on PostgreSQL: new
 * device keys at enrollment, write-behind check-in bookkeeping, request
 * counters claimed once, used one-time codes, pairing requests, SIM and
 * tamper reports, offline-code counters.
 *
 * Every read-then-write here is one statement (GREATEST, a conditional
 * UPDATE, an upsert), so concurrent writers of other processes never lose
 * an update: PostgreSQL re-reads a row that changed under a waiting
 * UPDATE before it applies its condition.
 */
#include "store/pg_int.h"

#include <stdlib.h>
#include <string.h>

/* Runs an UPDATE; FL_E_NOT_FOUND if it changed no row. */
static fl_err changed_one(struct fl_tx *tx, const char *sql,
                          const struct pg_params *p)
{
	int64_t n = 0;
	fl_err err = pg_cmd(tx, sql, p, 0, &n);

	if (err == FL_OK && n == 0)
		err = FL_E_NOT_FOUND;
	return err;
}

fl_err pg_dp_enroll(struct fl_tx *tx, const char *id,
                    const uint8_t sign_pk[FL_DEVICE_KEY_LEN],
                    const uint8_t kx_pk[FL_DEVICE_KEY_LEN], fl_time at)
{
	static const char sql[] =
	        "UPDATE devices SET device_pk = $1, kx_pk = $2, "
	        "enrolled_at = $3, last_contact = GREATEST(last_contact, $3), "
	        "req_counter = 0, applied_counter = 0, enroll_hash = NULL, "
	        "enroll_expires = 0, mac_seal = NULL WHERE id = $4";
	static const char drop[] =
	        "DELETE FROM pairing_requests WHERE device_id = $1";
	struct pg_params p = {0}, q = {0};
	fl_err err;

	pg_p_blob(&p, sign_pk, FL_DEVICE_KEY_LEN);
	pg_p_blob(&p, kx_pk, FL_DEVICE_KEY_LEN);
	pg_p_int(&p, at);
	pg_p_text(&p, id);
	TRY(changed_one(tx, sql, &p));
	pg_p_text(&q, id);
	err = pg_cmd(tx, drop, &q, 0, NULL);
out:
	return err;
}

fl_err pg_dp_touch(struct fl_tx *tx, const char *id, int64_t ord,
                   const uint8_t kx_pk[FL_DEVICE_KEY_LEN], fl_time at,
                   uint64_t counter)
{
	static const char by_id[] =
	        "UPDATE devices SET last_contact = GREATEST(last_contact, $1), "
	        "req_counter = GREATEST(req_counter, $2) WHERE id = $3 AND "
	        "kx_pk = $4";
	/* the primary key first: no descent of the id index */
	static const char by_ord[] =
	        "UPDATE devices SET last_contact = GREATEST(last_contact, $1), "
	        "req_counter = GREATEST(req_counter, $2) WHERE ord = $5 AND "
	        "id = $3 AND kx_pk = $4";
	struct pg_params p = {0};

	if (counter > (uint64_t)INT64_MAX)
		return FL_E_RANGE;
	pg_p_int(&p, at);
	pg_p_int(&p, (int64_t)counter);
	pg_p_text(&p, id);
	pg_p_blob(&p, kx_pk, FL_DEVICE_KEY_LEN);
	if (ord > 0)
		pg_p_int(&p, ord);
	return pg_cmd(tx, ord > 0 ? by_ord : by_id, &p, 0, NULL);
}

fl_err pg_dp_seal(struct fl_tx *tx, const char *id, int64_t ord,
                  const uint8_t kx_pk[FL_DEVICE_KEY_LEN],
                  const uint8_t seal[FL_MAC_SEAL_LEN])
{
	static const char by_id[] = "UPDATE devices SET mac_seal = $1 WHERE "
	                            "id = $2 AND kx_pk = $3";
	static const char by_ord[] = "UPDATE devices SET mac_seal = $1 WHERE "
	                             "ord = $4 AND id = $2 AND kx_pk = $3";
	struct pg_params p = {0};

	pg_p_blob(&p, seal, FL_MAC_SEAL_LEN);
	pg_p_text(&p, id);
	pg_p_blob(&p, kx_pk, FL_DEVICE_KEY_LEN);
	if (ord > 0)
		pg_p_int(&p, ord);
	return pg_cmd(tx, ord > 0 ? by_ord : by_id, &p, 0, NULL);
}

fl_err pg_dp_token_memo(struct fl_tx *tx, const char *id, uint64_t seq,
                        const uint8_t *memo, size_t len)
{
	static const char sql[] = "UPDATE devices SET token_memo = $1 WHERE "
	                          "id = $2 AND token_seq = $3";
	struct pg_params p = {0};

	pg_p_blob(&p, memo, len);
	pg_p_text(&p, id);
	pg_p_int(&p, (int64_t)seq);
	return pg_cmd(tx, sql, &p, 0, NULL);
}

fl_err pg_dp_claim(struct fl_tx *tx, const char *id, uint64_t counter)
{
	/* one statement: of two transactions claiming the same counter,
	 * the second waits for the first's row lock, re-reads the row and
	 * finds its condition false */
	static const char sql[] =
	        "UPDATE devices SET applied_counter = $1 WHERE id = $2 AND "
	        "applied_counter < $1";
	struct pg_params p = {0};
	fl_err err;

	if (counter > (uint64_t)INT64_MAX)
		return FL_E_RANGE;
	pg_p_int(&p, (int64_t)counter);
	pg_p_text(&p, id);
	err = changed_one(tx, sql, &p);
	if (err == FL_E_NOT_FOUND)
		err = FL_E_REPLAY;
	return err;
}

fl_err pg_dp_set_factory(struct fl_tx *tx, const char *id,
                         const uint8_t *factory_pk)
{
	static const char sql[] =
	        "UPDATE devices SET factory_pk = $1 WHERE id = $2";
	struct pg_params p = {0};

	pg_p_blob(&p, factory_pk, FL_DEVICE_KEY_LEN); /* NULL: none */
	pg_p_text(&p, id);
	return changed_one(tx, sql, &p);
}

/* --- used one-time codes -------------------------------------------------- */

fl_err pg_used_code_put(struct fl_tx *tx, const struct fl_used_code *u)
{
	static const char sql[] =
	        "INSERT INTO used_codes (hash, device_id, sign_pk, kx_pk, "
	        "used_at) VALUES ($1, $2, $3, $4, $5)";
	struct pg_params p = {0};

	pg_p_blob(&p, u->hash, FL_HASH_LEN);
	pg_p_text(&p, u->device_id);
	pg_p_blob(&p, u->sign_pk, FL_DEVICE_KEY_LEN);
	pg_p_blob(&p, u->kx_pk, FL_DEVICE_KEY_LEN);
	pg_p_int(&p, u->used_at);
	return pg_cmd(tx, sql, &p, PG_GUARD, NULL);
}

fl_err pg_used_code_get(struct fl_tx *tx, const uint8_t hash[FL_HASH_LEN],
                        struct fl_used_code *out)
{
	static const char sql[] = "SELECT device_id, sign_pk, kx_pk, used_at "
	                          "FROM used_codes WHERE hash = $1";
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
	memcpy(out->hash, hash, FL_HASH_LEN);
	TRY(pg_text(r, 0, 0, out->device_id, sizeof(out->device_id)));
	TRY(pg_blob(r, 0, 1, out->sign_pk, FL_DEVICE_KEY_LEN));
	TRY(pg_blob(r, 0, 2, out->kx_pk, FL_DEVICE_KEY_LEN));
	out->used_at = pg_int(r, 0, 3);
out:
	if (err != FL_OK)
		memset(out, 0, sizeof(*out));
	PQclear(r);
	return err;
}

/* --- pairing requests ----------------------------------------------------- */

#define PAIR_COLS                                                              \
	"ord, device_id, sign_pk, kx_pk, code, created_at, expires_at, "       \
	"status, decided_at, decided_by, factory_signed, client_net"

static fl_err read_pairing(const PGresult *res, int i, struct fl_pairing_rec *r)
{
	fl_err err;
	int64_t status;

	memset(r, 0, sizeof(*r));
	r->ord = pg_int(res, i, 0);
	TRY(pg_text(res, i, 1, r->device_id, sizeof(r->device_id)));
	TRY(pg_blob(res, i, 2, r->sign_pk, FL_DEVICE_KEY_LEN));
	TRY(pg_blob(res, i, 3, r->kx_pk, FL_DEVICE_KEY_LEN));
	TRY(pg_text(res, i, 4, r->code, sizeof(r->code)));
	r->created_at = pg_int(res, i, 5);
	r->expires_at = pg_int(res, i, 6);
	status = pg_int(res, i, 7);
	if (status < FL_PAIRING_PENDING || status > FL_PAIRING_REJECTED) {
		err = FL_E_CORRUPT;
		goto out;
	}
	r->status = (enum fl_pairing_status)status;
	r->decided_at = pg_int(res, i, 8);
	TRY(pg_text(res, i, 9, r->decided_by, sizeof(r->decided_by)));
	r->factory_signed = pg_int(res, i, 10) != 0;
	TRY(pg_text(res, i, 11, r->client_net, sizeof(r->client_net)));
out:
	return err;
}

fl_err pg_pairing_put(struct fl_tx *tx, struct fl_pairing_rec *r)
{
	static const char sql[] =
	        "INSERT INTO pairing_requests (device_id, sign_pk, kx_pk, "
	        "code, created_at, expires_at, status, decided_at, decided_by, "
	        "factory_signed, client_net) "
	        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) "
	        "RETURNING ord";
	struct pg_params p = {0};
	PGresult *res = NULL;
	fl_err err;

	pg_p_text(&p, r->device_id);
	pg_p_blob(&p, r->sign_pk, FL_DEVICE_KEY_LEN);
	pg_p_blob(&p, r->kx_pk, FL_DEVICE_KEY_LEN);
	pg_p_text(&p, r->code);
	pg_p_int(&p, r->created_at);
	pg_p_int(&p, r->expires_at);
	pg_p_int(&p, (int64_t)r->status);
	pg_p_int(&p, r->decided_at);
	pg_p_text(&p, r->decided_by);
	pg_p_int(&p, r->factory_signed ? 1 : 0);
	pg_p_text(&p, r->client_net);
	TRY(pg_run(tx, sql, &p, PG_GUARD, &res));
	r->ord = PQntuples(res) == 1 ? pg_int(res, 0, 0) : 0;
out:
	PQclear(res);
	return err;
}

fl_err pg_pairing_get(struct fl_tx *tx, const char *device_id,
                      const uint8_t sign_pk[FL_DEVICE_KEY_LEN],
                      const uint8_t kx_pk[FL_DEVICE_KEY_LEN],
                      struct fl_pairing_rec *out)
{
	static const char sql[] = "SELECT " PAIR_COLS " FROM pairing_requests "
	                          "WHERE device_id = $1 AND sign_pk = $2 AND "
	                          "kx_pk = $3";
	struct pg_params p = {0};
	PGresult *r = NULL;
	fl_err err;

	memset(out, 0, sizeof(*out));
	pg_p_text(&p, device_id);
	pg_p_blob(&p, sign_pk, FL_DEVICE_KEY_LEN);
	pg_p_blob(&p, kx_pk, FL_DEVICE_KEY_LEN);
	TRY(pg_run(tx, sql, &p, 0, &r));
	if (PQntuples(r) == 0) {
		err = FL_E_NOT_FOUND;
		goto out;
	}
	err = read_pairing(r, 0, out);
out:
	if (err != FL_OK)
		memset(out, 0, sizeof(*out));
	PQclear(r);
	return err;
}

fl_err pg_pairing_list(struct fl_tx *tx, const char *device_id,
                       FL_STORE_LIST_FN(struct fl_pairing_rec), void *ctx)
{
	static const char sql[] = "SELECT " PAIR_COLS " FROM pairing_requests "
	                          "WHERE device_id = $1 ORDER BY ord";
	struct fl_pairing_rec rec;
	struct pg_params p = {0};
	PGresult *r = NULL;
	fl_err err;

	pg_p_text(&p, device_id);
	TRY(pg_run(tx, sql, &p, 0, &r));
	for (int i = 0; i < PQntuples(r); i++) {
		TRY(read_pairing(r, i, &rec));
		TRY(fn(ctx, &rec));
	}
out:
	PQclear(r);
	return err;
}

fl_err pg_pairing_decide(struct fl_tx *tx, const char *device_id, int64_t ord,
                         enum fl_pairing_status status, fl_time at,
                         const char *by)
{
	static const char sql[] =
	        "UPDATE pairing_requests SET status = $1, decided_at = $2, "
	        "decided_by = $3 WHERE device_id = $4 AND ord = $5";
	struct pg_params p = {0};

	pg_p_int(&p, (int64_t)status);
	pg_p_int(&p, at);
	pg_p_text(&p, by);
	pg_p_text(&p, device_id);
	pg_p_int(&p, ord);
	return changed_one(tx, sql, &p);
}

fl_err pg_pairing_expire(struct fl_tx *tx, const char *device_id, fl_time now)
{
	static const char sql[] = "DELETE FROM pairing_requests WHERE "
	                          "device_id = $1 AND expires_at <= $2";
	struct pg_params p = {0};

	pg_p_text(&p, device_id);
	pg_p_int(&p, now);
	return pg_cmd(tx, sql, &p, 0, NULL);
}

fl_err pg_pairing_drop(struct fl_tx *tx, const char *device_id, int64_t ord)
{
	static const char sql[] = "DELETE FROM pairing_requests WHERE "
	                          "device_id = $1 AND ord = $2";
	struct pg_params p = {0};

	pg_p_text(&p, device_id);
	pg_p_int(&p, ord);
	return changed_one(tx, sql, &p);
}

fl_err pg_pairing_count_net(struct fl_tx *tx, const char *client_net,
                            fl_time now, int64_t *n)
{
	static const char sql[] =
	        "SELECT count(*) FROM pairing_requests WHERE client_net = $1 "
	        "AND expires_at > $2 AND status = 0 AND factory_signed = 0";
	struct pg_params p = {0};
	PGresult *r = NULL;
	fl_err err;

	*n = 0;
	pg_p_text(&p, client_net);
	pg_p_int(&p, now);
	TRY(pg_run(tx, sql, &p, 0, &r));
	*n = PQntuples(r) == 1 ? pg_int(r, 0, 0) : 0;
out:
	PQclear(r);
	return err;
}

/* --- reports -------------------------------------------------------------- */

fl_err pg_report_add(struct fl_tx *tx, struct fl_report_rec *r)
{
	static const char sql[] =
	        "INSERT INTO device_reports (device_id, tenant_id, at, kind, "
	        "detail) VALUES ($1, $2, $3, $4, $5) RETURNING ord";
	struct pg_params p = {0};
	PGresult *res = NULL;
	fl_err err;

	if (strlen(r->detail) >= FL_REPORT_MAX)
		return FL_E_TOO_LARGE;
	pg_p_text(&p, r->device_id);
	pg_p_text(&p, r->tenant_id);
	pg_p_int(&p, r->at);
	pg_p_int(&p, (int64_t)r->kind);
	pg_p_text(&p, r->detail);
	TRY(pg_run(tx, sql, &p, PG_GUARD, &res));
	r->ord = PQntuples(res) == 1 ? pg_int(res, 0, 0) : 0;
out:
	PQclear(res);
	return err;
}

fl_err pg_report_list(struct fl_tx *tx, const char *tenant_id,
                      const char *device_id, int limit,
                      FL_STORE_LIST_FN(struct fl_report_rec), void *ctx)
{
	static const char sql[] =
	        "SELECT ord, device_id, tenant_id, at, kind, detail FROM "
	        "device_reports WHERE device_id = $1 AND tenant_id = $2 "
	        "ORDER BY ord DESC LIMIT $3";
	struct fl_report_rec rec;
	struct pg_params p = {0};
	PGresult *r = NULL;
	fl_err err;

	pg_p_text(&p, device_id);
	pg_p_text(&p, tenant_id);
	if (limit < 0)
		pg_p_text(&p, NULL);
	else
		pg_p_int(&p, limit);
	TRY(pg_run(tx, sql, &p, 0, &r));
	for (int i = 0; i < PQntuples(r); i++) {
		int64_t kind;

		memset(&rec, 0, sizeof(rec));
		rec.ord = pg_int(r, i, 0);
		TRY(pg_text(r, i, 1, rec.device_id, sizeof(rec.device_id)));
		TRY(pg_text(r, i, 2, rec.tenant_id, sizeof(rec.tenant_id)));
		rec.at = pg_int(r, i, 3);
		kind = pg_int(r, i, 4);
		if (kind != FL_REPORT_SIM && kind != FL_REPORT_TAMPER) {
			err = FL_E_CORRUPT;
			goto out;
		}
		rec.kind = (enum fl_report_kind)kind;
		TRY(pg_text(r, i, 5, rec.detail, sizeof(rec.detail)));
		TRY(fn(ctx, &rec));
	}
out:
	PQclear(r);
	return err;
}

/* --- offline codes -------------------------------------------------------- */

fl_err pg_ocode_get(struct fl_tx *tx, const char *device_id,
                    struct fl_ocode_rec *out)
{
	static const char sql[] =
	        "SELECT counter, action, issue_day, issued_at, issued_by, "
	        "used, unlock_until FROM offline_codes WHERE device_id = $1";
	struct pg_params p = {0};
	PGresult *r = NULL;
	fl_err err;

	memset(out, 0, sizeof(*out));
	pg_p_text(&p, device_id);
	TRY(pg_run(tx, sql, &p, 0, &r));
	if (PQntuples(r) == 0)
		goto out;
	out->counter = (uint64_t)pg_int(r, 0, 0);
	out->action = (int)pg_int(r, 0, 1);
	out->issue_day = pg_int(r, 0, 2);
	out->issued_at = pg_int(r, 0, 3);
	TRY(pg_text(r, 0, 4, out->issued_by, sizeof(out->issued_by)));
	out->used = (uint64_t)pg_int(r, 0, 5);
	out->unlock_until = pg_int(r, 0, 6);
out:
	if (err != FL_OK)
		memset(out, 0, sizeof(*out));
	PQclear(r);
	return err;
}

fl_err pg_ocode_issue(struct fl_tx *tx, const char *device_id,
                      const struct fl_ocode_rec *r)
{
	static const char sql[] =
	        "INSERT INTO offline_codes (device_id, counter, action, "
	        "issue_day, issued_at, issued_by) VALUES ($1, $2, $3, $4, $5, "
	        "$6) ON CONFLICT (device_id) DO UPDATE SET counter = $2, "
	        "action = $3, issue_day = $4, issued_at = $5, issued_by = $6";
	struct pg_params p = {0};

	if (r->counter > (uint64_t)INT64_MAX)
		return FL_E_RANGE;
	pg_p_text(&p, device_id);
	pg_p_int(&p, (int64_t)r->counter);
	pg_p_int(&p, r->action);
	pg_p_int(&p, r->issue_day);
	pg_p_int(&p, r->issued_at);
	pg_p_text(&p, r->issued_by);
	return pg_cmd(tx, sql, &p, 0, NULL);
}

fl_err pg_ocode_used(struct fl_tx *tx, const char *device_id, uint64_t used,
                     fl_time unlock_until)
{
	static const char sql[] =
	        "INSERT INTO offline_codes AS o (device_id, used, "
	        "unlock_until) "
	        "VALUES ($1, $2, $3) ON CONFLICT (device_id) DO UPDATE SET "
	        "used = $2, unlock_until = $3 WHERE o.used < $2";
	struct pg_params p = {0};

	if (used > (uint64_t)INT64_MAX)
		return FL_E_RANGE;
	pg_p_text(&p, device_id);
	pg_p_int(&p, (int64_t)used);
	pg_p_int(&p, unlock_until);
	return pg_cmd(tx, sql, &p, 0, NULL);
}
