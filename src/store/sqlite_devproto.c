/*
 * sqlite_devproto.c - what the device protocol keeps, on SQLite: new device
 * keys at enrollment, write-behind check-in bookkeeping, used one-time
 * codes, pairing requests, SIM and tamper reports, offline-code counters.
 */
#include "store/sqlite_int.h"

#include <stdlib.h>
#include <string.h>

/* Runs an UPDATE; FL_E_NOT_FOUND if it changed no row. */
static fl_err changed_one(struct fl_tx *tx, sqlite3_stmt *st)
{
	fl_err err = sq_step_done(st);

	if (err == FL_OK && sqlite3_changes(tx->c->db) == 0)
		err = FL_E_NOT_FOUND;
	return err;
}

fl_err sq_dp_enroll(struct fl_tx *tx, const char *id,
                    const uint8_t sign_pk[FL_DEVICE_KEY_LEN],
                    const uint8_t kx_pk[FL_DEVICE_KEY_LEN], fl_time at)
{
	static const char sql[] =
	        "UPDATE devices SET device_pk = ?, kx_pk = ?, enrolled_at = ?, "
	        "last_contact = max(last_contact, ?), req_counter = 0, "
	        "applied_counter = 0, "
	        "enroll_hash = NULL, enroll_expires = 0, mac_seal = NULL "
	        "WHERE id = ?;";
	static const char drop[] =
	        "DELETE FROM pairing_requests WHERE device_id = ?;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_blob(st, 1, sign_pk, FL_DEVICE_KEY_LEN));
	TRY(sq_bind_blob(st, 2, kx_pk, FL_DEVICE_KEY_LEN));
	TRY(sq_bind_int(st, 3, at));
	TRY(sq_bind_int(st, 4, at));
	TRY(sq_bind_text(st, 5, id));
	TRY(changed_one(tx, st));
	sq_done(st);
	st = sq_stmt(tx, drop, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, id));
	err = sq_step_done(st);
out:
	sq_done(st);
	return err;
}

fl_err sq_dp_touch(struct fl_tx *tx, const char *id, int64_t ord,
                   const uint8_t kx_pk[FL_DEVICE_KEY_LEN], fl_time at,
                   uint64_t counter)
{
	static const char by_id[] =
	        "UPDATE devices SET last_contact = max(last_contact, ?1), "
	        "req_counter = max(req_counter, ?2) WHERE id = ?3 AND "
	        "kx_pk = ?4;";
	/* the rowid first: no descent of the id index */
	static const char by_ord[] =
	        "UPDATE devices SET last_contact = max(last_contact, ?1), "
	        "req_counter = max(req_counter, ?2) WHERE ord = ?5 AND "
	        "id = ?3 AND kx_pk = ?4;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	if (counter > (uint64_t)INT64_MAX)
		return FL_E_RANGE;
	st = sq_stmt(tx, ord > 0 ? by_ord : by_id, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_int(st, 1, at));
	TRY(sq_bind_int(st, 2, (int64_t)counter));
	TRY(sq_bind_text(st, 3, id));
	TRY(sq_bind_blob(st, 4, kx_pk, FL_DEVICE_KEY_LEN));
	if (ord > 0)
		TRY(sq_bind_int(st, 5, ord));
	err = sq_step_done(st);
out:
	sq_done(st);
	return err;
}

fl_err sq_dp_seal(struct fl_tx *tx, const char *id, int64_t ord,
                  const uint8_t kx_pk[FL_DEVICE_KEY_LEN],
                  const uint8_t seal[FL_MAC_SEAL_LEN])
{
	static const char by_id[] = "UPDATE devices SET mac_seal = ?1 WHERE "
	                            "id = ?2 AND kx_pk = ?3;";
	/* the rowid first: no descent of the id index */
	static const char by_ord[] = "UPDATE devices SET mac_seal = ?1 WHERE "
	                             "ord = ?4 AND id = ?2 AND kx_pk = ?3;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	st = sq_stmt(tx, ord > 0 ? by_ord : by_id, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_blob(st, 1, seal, FL_MAC_SEAL_LEN));
	TRY(sq_bind_text(st, 2, id));
	TRY(sq_bind_blob(st, 3, kx_pk, FL_DEVICE_KEY_LEN));
	if (ord > 0)
		TRY(sq_bind_int(st, 4, ord));
	err = sq_step_done(st);
out:
	sq_done(st);
	return err;
}

fl_err sq_dp_token_memo(struct fl_tx *tx, const char *id, uint64_t seq,
                        const uint8_t *memo, size_t len)
{
	static const char sql[] = "UPDATE devices SET token_memo = ?1 WHERE "
	                          "id = ?2 AND token_seq = ?3;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_blob(st, 1, memo, len));
	TRY(sq_bind_text(st, 2, id));
	TRY(sq_bind_int(st, 3, (int64_t)seq));
	err = sq_step_done(st);
out:
	sq_done(st);
	return err;
}

fl_err sq_dp_claim(struct fl_tx *tx, const char *id, uint64_t counter)
{
	static const char sql[] =
	        "UPDATE devices SET applied_counter = ?1 WHERE id = ?2 AND "
	        "applied_counter < ?1;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	if (counter > (uint64_t)INT64_MAX)
		return FL_E_RANGE;
	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_int(st, 1, (int64_t)counter));
	TRY(sq_bind_text(st, 2, id));
	err = changed_one(tx, st);
	if (err == FL_E_NOT_FOUND)
		err = FL_E_REPLAY;
out:
	sq_done(st);
	return err;
}

fl_err sq_dp_set_factory(struct fl_tx *tx, const char *id,
                         const uint8_t *factory_pk)
{
	static const char sql[] =
	        "UPDATE devices SET factory_pk = ? WHERE id = ?;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	/* a NULL blob binds SQL NULL: no factory key */
	TRY(sq_bind_blob(st, 1, factory_pk,
	                 factory_pk != NULL ? FL_DEVICE_KEY_LEN : 0));
	TRY(sq_bind_text(st, 2, id));
	err = changed_one(tx, st);
out:
	sq_done(st);
	return err;
}

/* --- used one-time codes -------------------------------------------------- */

fl_err sq_used_code_put(struct fl_tx *tx, const struct fl_used_code *u)
{
	static const char sql[] =
	        "INSERT INTO used_codes (hash, device_id, sign_pk, kx_pk, "
	        "used_at) VALUES (?, ?, ?, ?, ?);";
	sqlite3_stmt *st = NULL;
	fl_err err;

	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_blob(st, 1, u->hash, FL_HASH_LEN));
	TRY(sq_bind_text(st, 2, u->device_id));
	TRY(sq_bind_blob(st, 3, u->sign_pk, FL_DEVICE_KEY_LEN));
	TRY(sq_bind_blob(st, 4, u->kx_pk, FL_DEVICE_KEY_LEN));
	TRY(sq_bind_int(st, 5, u->used_at));
	err = sq_step_done(st);
out:
	sq_done(st);
	return err;
}

fl_err sq_used_code_get(struct fl_tx *tx, const uint8_t hash[FL_HASH_LEN],
                        struct fl_used_code *out)
{
	static const char sql[] = "SELECT device_id, sign_pk, kx_pk, used_at "
	                          "FROM used_codes WHERE hash = ?;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	memset(out, 0, sizeof(*out));
	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_blob(st, 1, hash, FL_HASH_LEN));
	TRY(sq_step_row(st));
	memcpy(out->hash, hash, FL_HASH_LEN);
	TRY(sq_col_text(st, 0, out->device_id, sizeof(out->device_id)));
	TRY(sq_col_blob(st, 1, out->sign_pk, FL_DEVICE_KEY_LEN));
	TRY(sq_col_blob(st, 2, out->kx_pk, FL_DEVICE_KEY_LEN));
	out->used_at = sqlite3_column_int64(st, 3);
out:
	if (err != FL_OK)
		memset(out, 0, sizeof(*out));
	sq_done(st);
	return err;
}

/* --- pairing requests ----------------------------------------------------- */

#define PAIR_COLS                                                              \
	"ord, device_id, sign_pk, kx_pk, code, created_at, expires_at, "       \
	"status, decided_at, decided_by, factory_signed, client_net"

static fl_err read_pairing(sqlite3_stmt *st, struct fl_pairing_rec *r)
{
	fl_err err;
	int status;

	memset(r, 0, sizeof(*r));
	r->ord = sqlite3_column_int64(st, 0);
	TRY(sq_col_text(st, 1, r->device_id, sizeof(r->device_id)));
	TRY(sq_col_blob(st, 2, r->sign_pk, FL_DEVICE_KEY_LEN));
	TRY(sq_col_blob(st, 3, r->kx_pk, FL_DEVICE_KEY_LEN));
	TRY(sq_col_text(st, 4, r->code, sizeof(r->code)));
	r->created_at = sqlite3_column_int64(st, 5);
	r->expires_at = sqlite3_column_int64(st, 6);
	status = sqlite3_column_int(st, 7);
	if (status < FL_PAIRING_PENDING || status > FL_PAIRING_REJECTED) {
		err = FL_E_CORRUPT;
		goto out;
	}
	r->status = (enum fl_pairing_status)status;
	r->decided_at = sqlite3_column_int64(st, 8);
	TRY(sq_col_text(st, 9, r->decided_by, sizeof(r->decided_by)));
	r->factory_signed = sqlite3_column_int(st, 10) != 0;
	TRY(sq_col_text(st, 11, r->client_net, sizeof(r->client_net)));
out:
	return err;
}

fl_err sq_pairing_put(struct fl_tx *tx, struct fl_pairing_rec *r)
{
	static const char sql[] =
	        "INSERT INTO pairing_requests (device_id, sign_pk, kx_pk, "
	        "code, "
	        "created_at, expires_at, status, decided_at, decided_by, "
	        "factory_signed, client_net) "
	        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);";
	sqlite3_stmt *st = NULL;
	fl_err err;

	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, r->device_id));
	TRY(sq_bind_blob(st, 2, r->sign_pk, FL_DEVICE_KEY_LEN));
	TRY(sq_bind_blob(st, 3, r->kx_pk, FL_DEVICE_KEY_LEN));
	TRY(sq_bind_text(st, 4, r->code));
	TRY(sq_bind_int(st, 5, r->created_at));
	TRY(sq_bind_int(st, 6, r->expires_at));
	TRY(sq_bind_int(st, 7, (int64_t)r->status));
	TRY(sq_bind_int(st, 8, r->decided_at));
	TRY(sq_bind_text(st, 9, r->decided_by));
	TRY(sq_bind_int(st, 10, r->factory_signed ? 1 : 0));
	TRY(sq_bind_text(st, 11, r->client_net));
	TRY(sq_step_done(st));
	r->ord = sqlite3_last_insert_rowid(tx->c->db);
out:
	sq_done(st);
	return err;
}

fl_err sq_pairing_get(struct fl_tx *tx, const char *device_id,
                      const uint8_t sign_pk[FL_DEVICE_KEY_LEN],
                      const uint8_t kx_pk[FL_DEVICE_KEY_LEN],
                      struct fl_pairing_rec *out)
{
	static const char sql[] = "SELECT " PAIR_COLS " FROM pairing_requests "
	                          "WHERE device_id = ? AND sign_pk = ? AND "
	                          "kx_pk = ?;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	memset(out, 0, sizeof(*out));
	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, device_id));
	TRY(sq_bind_blob(st, 2, sign_pk, FL_DEVICE_KEY_LEN));
	TRY(sq_bind_blob(st, 3, kx_pk, FL_DEVICE_KEY_LEN));
	TRY(sq_step_row(st));
	err = read_pairing(st, out);
out:
	if (err != FL_OK)
		memset(out, 0, sizeof(*out));
	sq_done(st);
	return err;
}

fl_err sq_pairing_list(struct fl_tx *tx, const char *device_id,
                       FL_STORE_LIST_FN(struct fl_pairing_rec), void *ctx)
{
	static const char sql[] = "SELECT " PAIR_COLS " FROM pairing_requests "
	                          "WHERE device_id = ? ORDER BY ord;";
	struct fl_pairing_rec r;
	sqlite3_stmt *st = NULL;
	fl_err err;

	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, device_id));
	while ((err = sq_step_row(st)) == FL_OK) {
		TRY(read_pairing(st, &r));
		TRY(fn(ctx, &r));
	}
	if (err == FL_E_NOT_FOUND)
		err = FL_OK;
out:
	sq_done(st);
	return err;
}

fl_err sq_pairing_decide(struct fl_tx *tx, const char *device_id, int64_t ord,
                         enum fl_pairing_status status, fl_time at,
                         const char *by)
{
	static const char sql[] =
	        "UPDATE pairing_requests SET status = ?, decided_at = ?, "
	        "decided_by = ? WHERE device_id = ? AND ord = ?;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_int(st, 1, (int64_t)status));
	TRY(sq_bind_int(st, 2, at));
	TRY(sq_bind_text(st, 3, by));
	TRY(sq_bind_text(st, 4, device_id));
	TRY(sq_bind_int(st, 5, ord));
	err = changed_one(tx, st);
out:
	sq_done(st);
	return err;
}

fl_err sq_pairing_expire(struct fl_tx *tx, const char *device_id, fl_time now)
{
	static const char sql[] = "DELETE FROM pairing_requests WHERE "
	                          "device_id = ? AND expires_at <= ?;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, device_id));
	TRY(sq_bind_int(st, 2, now));
	err = sq_step_done(st);
out:
	sq_done(st);
	return err;
}

fl_err sq_pairing_drop(struct fl_tx *tx, const char *device_id, int64_t ord)
{
	static const char sql[] = "DELETE FROM pairing_requests WHERE "
	                          "device_id = ? AND ord = ?;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, device_id));
	TRY(sq_bind_int(st, 2, ord));
	err = changed_one(tx, st);
out:
	sq_done(st);
	return err;
}

fl_err sq_pairing_count_net(struct fl_tx *tx, const char *client_net,
                            fl_time now, int64_t *n)
{
	static const char sql[] =
	        "SELECT count(*) FROM pairing_requests WHERE client_net = ? "
	        "AND expires_at > ? AND status = 0 AND factory_signed = 0;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	*n = 0;
	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, client_net));
	TRY(sq_bind_int(st, 2, now));
	TRY(sq_step_row(st));
	*n = sqlite3_column_int64(st, 0);
out:
	sq_done(st);
	return err;
}

/* --- reports -------------------------------------------------------------- */

fl_err sq_report_add(struct fl_tx *tx, struct fl_report_rec *r)
{
	static const char sql[] =
	        "INSERT INTO device_reports (device_id, tenant_id, at, kind, "
	        "detail) VALUES (?, ?, ?, ?, ?);";
	sqlite3_stmt *st = NULL;
	fl_err err;

	if (strlen(r->detail) >= FL_REPORT_MAX)
		return FL_E_TOO_LARGE;
	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, r->device_id));
	TRY(sq_bind_text(st, 2, r->tenant_id));
	TRY(sq_bind_int(st, 3, r->at));
	TRY(sq_bind_int(st, 4, (int64_t)r->kind));
	TRY(sq_bind_text(st, 5, r->detail));
	TRY(sq_step_done(st));
	r->ord = sqlite3_last_insert_rowid(tx->c->db);
out:
	sq_done(st);
	return err;
}

fl_err sq_report_list(struct fl_tx *tx, const char *tenant_id,
                      const char *device_id, int limit,
                      FL_STORE_LIST_FN(struct fl_report_rec), void *ctx)
{
	static const char sql[] =
	        "SELECT ord, device_id, tenant_id, at, kind, detail FROM "
	        "device_reports WHERE device_id = ? AND tenant_id = ? "
	        "ORDER BY ord DESC LIMIT ?;";
	struct fl_report_rec r;
	sqlite3_stmt *st = NULL;
	fl_err err;

	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, device_id));
	TRY(sq_bind_text(st, 2, tenant_id));
	TRY(sq_bind_int(st, 3, limit < 0 ? -1 : limit));
	while ((err = sq_step_row(st)) == FL_OK) {
		int kind;

		memset(&r, 0, sizeof(r));
		r.ord = sqlite3_column_int64(st, 0);
		TRY(sq_col_text(st, 1, r.device_id, sizeof(r.device_id)));
		TRY(sq_col_text(st, 2, r.tenant_id, sizeof(r.tenant_id)));
		r.at = sqlite3_column_int64(st, 3);
		kind = sqlite3_column_int(st, 4);
		if (kind != FL_REPORT_SIM && kind != FL_REPORT_TAMPER) {
			err = FL_E_CORRUPT;
			goto out;
		}
		r.kind = (enum fl_report_kind)kind;
		TRY(sq_col_text(st, 5, r.detail, sizeof(r.detail)));
		TRY(fn(ctx, &r));
	}
	if (err == FL_E_NOT_FOUND)
		err = FL_OK;
out:
	sq_done(st);
	return err;
}

/* --- offline codes -------------------------------------------------------- */

fl_err sq_ocode_get(struct fl_tx *tx, const char *device_id,
                    struct fl_ocode_rec *out)
{
	static const char sql[] =
	        "SELECT counter, action, issue_day, issued_at, issued_by, "
	        "used, "
	        "unlock_until FROM offline_codes WHERE device_id = ?;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	memset(out, 0, sizeof(*out));
	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, device_id));
	err = sq_step_row(st);
	if (err == FL_E_NOT_FOUND) {
		err = FL_OK;
		goto out;
	}
	if (err != FL_OK)
		goto out;
	out->counter = (uint64_t)sqlite3_column_int64(st, 0);
	out->action = sqlite3_column_int(st, 1);
	out->issue_day = sqlite3_column_int64(st, 2);
	out->issued_at = sqlite3_column_int64(st, 3);
	TRY(sq_col_text(st, 4, out->issued_by, sizeof(out->issued_by)));
	out->used = (uint64_t)sqlite3_column_int64(st, 5);
	out->unlock_until = sqlite3_column_int64(st, 6);
out:
	if (err != FL_OK)
		memset(out, 0, sizeof(*out));
	sq_done(st);
	return err;
}

fl_err sq_ocode_issue(struct fl_tx *tx, const char *device_id,
                      const struct fl_ocode_rec *r)
{
	static const char sql[] =
	        "INSERT INTO offline_codes (device_id, counter, action, "
	        "issue_day, issued_at, issued_by) VALUES (?1, ?2, ?3, ?4, ?5, "
	        "?6) ON CONFLICT (device_id) DO UPDATE SET counter = ?2, "
	        "action = ?3, issue_day = ?4, issued_at = ?5, issued_by = ?6;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	if (r->counter > (uint64_t)INT64_MAX)
		return FL_E_RANGE;
	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, device_id));
	TRY(sq_bind_int(st, 2, (int64_t)r->counter));
	TRY(sq_bind_int(st, 3, r->action));
	TRY(sq_bind_int(st, 4, r->issue_day));
	TRY(sq_bind_int(st, 5, r->issued_at));
	TRY(sq_bind_text(st, 6, r->issued_by));
	err = sq_step_done(st);
out:
	sq_done(st);
	return err;
}

fl_err sq_ocode_used(struct fl_tx *tx, const char *device_id, uint64_t used,
                     fl_time unlock_until)
{
	static const char sql[] =
	        "INSERT INTO offline_codes (device_id, used, unlock_until) "
	        "VALUES (?1, ?2, ?3) ON CONFLICT (device_id) DO UPDATE SET "
	        "used = ?2, unlock_until = ?3 WHERE used < ?2;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	if (used > (uint64_t)INT64_MAX)
		return FL_E_RANGE;
	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, device_id));
	TRY(sq_bind_int(st, 2, (int64_t)used));
	TRY(sq_bind_int(st, 3, unlock_until));
	err = sq_step_done(st);
out:
	sq_done(st);
	return err;
}
