/* sqlite_devices.c - devices, contracts, payments, commands on SQLite. */
#include "store/sqlite_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- small encodings ------------------------------------------------------ */

/* Joins n strings of an array with '\n' into out[cap]. */
static fl_err join_lines(char *out, size_t cap, const char *items,
                         size_t stride, size_t n)
{
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		const char *s = items + i * stride;
		size_t len = strlen(s);

		if (strchr(s, '\n') != NULL || used + len + 2 > cap)
			return FL_E_INVALID;
		if (i > 0)
			out[used++] = '\n';
		memcpy(out + used, s, len + 1);
		used += len;
	}
	return FL_OK;
}

/* Splits a '\n'-joined column into an array of at most max strings. */
static fl_err split_lines(const char *text, char *items, size_t stride,
                          size_t max, size_t *n)
{
	const char *p = text;

	*n = 0;
	if (text == NULL || *text == '\0')
		return FL_OK;
	for (;;) {
		const char *eol = strchr(p, '\n');
		size_t len = eol != NULL ? (size_t)(eol - p) : strlen(p);

		if (*n == max || len >= stride)
			return FL_E_CORRUPT;
		memcpy(items + *n * stride, p, len);
		items[*n * stride + len] = '\0';
		(*n)++;
		if (eol == NULL)
			return FL_OK;
		p = eol + 1;
	}
}

/* --- devices -------------------------------------------------------------- */

#define DEV_COLS                                                               \
	"d.ord, d.id, d.tenant_id, d.imei, d.imei2, d.serial, d.model, "       \
	"d.created_at, d.enroll_hash, d.enroll_expires, d.enrolled_at, "       \
	"d.device_pk, d.kx_pk, d.last_contact, d.req_counter, d.tamper_at, "   \
	"d.tamper_report, d.sim_at, d.sim_report, d.state, d.stolen, "         \
	"d.released_by_command, d.lock_cause, d.lock_at, d.unlock_until, "     \
	"d.paid_through, d.amount_due, d.amount_remaining, d.next_due_at, "    \
	"d.next_due_amount, d.next_change, d.decided_at, d.token_seq, "        \
	"d.outcome, d.factory_pk, EXISTS (SELECT 1 FROM contracts c WHERE "    \
	"c.device_id = d.id), d.credit, d.confirmed_seq, d.confirmed_locked, " \
	"d.confirmed_at, d.mac_seal, d.token_memo"
/* DEV_COLS when the device's contract is joined as `c`. */
#define DEV_COLS_JOINED                                                        \
	"d.ord, d.id, d.tenant_id, d.imei, d.imei2, d.serial, d.model, "       \
	"d.created_at, d.enroll_hash, d.enroll_expires, d.enrolled_at, "       \
	"d.device_pk, d.kx_pk, d.last_contact, d.req_counter, d.tamper_at, "   \
	"d.tamper_report, d.sim_at, d.sim_report, d.state, d.stolen, "         \
	"d.released_by_command, d.lock_cause, d.lock_at, d.unlock_until, "     \
	"d.paid_through, d.amount_due, d.amount_remaining, d.next_due_at, "    \
	"d.next_due_amount, d.next_change, d.decided_at, d.token_seq, "        \
	"d.outcome, d.factory_pk, c.ord IS NOT NULL, d.credit, "               \
	"d.confirmed_seq, d.confirmed_locked, d.confirmed_at, d.mac_seal, "    \
	"d.token_memo"

/* The contract's columns when joined to its device as `c`, in the order
 * of CONTRACT_COLS (read_contract). */
#define CONTRACT_COLS_C                                                        \
	"c.ord, c.device_id, c.tenant_id, c.created_at, c.loan_ref, "          \
	"c.currency, c.utc_offset, c.grace, c.max_offline, c.remind, "         \
	"c.restrict_mask, c.allow_apps, c.message, c.contact_name, "           \
	"c.contact_phones, c.sim_policy, c.tamper_policy"
#define DEV_NCOLS 42 /* columns of DEV_COLS */

static fl_err read_device(sqlite3_stmt *st, struct fl_device *d)
{
	fl_err err;

	memset(d, 0, sizeof(*d));
	d->ord = sqlite3_column_int64(st, 0);
	TRY(sq_col_text(st, 1, d->id, sizeof(d->id)));
	TRY(sq_col_text(st, 2, d->tenant_id, sizeof(d->tenant_id)));
	TRY(sq_col_text(st, 3, d->imei, sizeof(d->imei)));
	TRY(sq_col_text(st, 4, d->imei2, sizeof(d->imei2)));
	TRY(sq_col_text(st, 5, d->serial, sizeof(d->serial)));
	TRY(sq_col_text(st, 6, d->model, sizeof(d->model)));
	d->created_at = sqlite3_column_int64(st, 7);
	if (sqlite3_column_type(st, 8) != SQLITE_NULL) {
		d->has_enroll_code = true;
		TRY(sq_col_blob(st, 8, d->enroll_hash, FL_HASH_LEN));
	}
	d->enroll_expires = sqlite3_column_int64(st, 9);
	d->enrolled_at = sqlite3_column_int64(st, 10);
	if (sqlite3_column_type(st, 11) != SQLITE_NULL) {
		d->has_keys = true;
		TRY(sq_col_blob(st, 11, d->device_pk, 32));
		TRY(sq_col_blob(st, 12, d->kx_pk, 32));
	}
	d->last_contact = sqlite3_column_int64(st, 13);
	d->req_counter = (uint64_t)sqlite3_column_int64(st, 14);
	d->tamper_at = sqlite3_column_int64(st, 15);
	TRY(sq_col_text(st, 16, d->tamper_report, sizeof(d->tamper_report)));
	d->sim_at = sqlite3_column_int64(st, 17);
	TRY(sq_col_text(st, 18, d->sim_report, sizeof(d->sim_report)));
	d->st.state = (enum fl_dev_state)sqlite3_column_int(st, 19);
	/* 1: locked as stolen; 2: reported on a released device */
	d->st.stolen = sqlite3_column_int(st, 20) == 1;
	d->st.stolen_reported = sqlite3_column_int(st, 20) != 0;
	d->st.released_by_command = sqlite3_column_int(st, 21) != 0;
	d->st.lock_cause = (enum fl_lock_cause)sqlite3_column_int(st, 22);
	d->st.lock_at = sqlite3_column_int64(st, 23);
	d->st.unlock_until = sqlite3_column_int64(st, 24);
	d->st.paid_through = sqlite3_column_int64(st, 25);
	d->st.amount_due = sqlite3_column_int64(st, 26);
	d->st.amount_remaining = sqlite3_column_int64(st, 27);
	d->st.next_due_at = sqlite3_column_int64(st, 28);
	d->st.next_due_amount = sqlite3_column_int64(st, 29);
	d->st.next_change = sqlite3_column_int64(st, 30);
	d->st.decided_at = sqlite3_column_int64(st, 31);
	d->st.token_seq = (uint64_t)sqlite3_column_int64(st, 32);
	if (sqlite3_column_bytes(st, 33) == FL_HASH_LEN)
		TRY(sq_col_blob(st, 33, d->st.outcome, FL_HASH_LEN));
	if (sqlite3_column_type(st, 34) != SQLITE_NULL) {
		d->has_factory = true;
		TRY(sq_col_blob(st, 34, d->factory_pk, 32));
	}
	d->has_contract = sqlite3_column_int(st, 35) != 0;
	d->st.credit = sqlite3_column_int64(st, 36);
	d->confirmed.seq = (uint64_t)sqlite3_column_int64(st, 37);
	d->confirmed.locked = sqlite3_column_int(st, 38) != 0;
	d->confirmed.at = sqlite3_column_int64(st, 39);
	/* a sealed key of another length is no sealed key (store.h) */
	if (sqlite3_column_bytes(st, 40) == FL_MAC_SEAL_LEN) {
		d->has_mac_seal = true;
		TRY(sq_col_blob(st, 40, d->mac_seal, FL_MAC_SEAL_LEN));
	}
	if (sqlite3_column_type(st, 41) == SQLITE_BLOB &&
	    sqlite3_column_bytes(st, 41) <= FL_TOKEN_MEMO_MAX) {
		d->token_memo_len = (size_t)sqlite3_column_bytes(st, 41);
		memcpy(d->token_memo, sqlite3_column_blob(st, 41),
		       d->token_memo_len);
	}
out:
	return err;
}

/* Runs a bound single-device SELECT into out. */
static fl_err one_device(sqlite3_stmt *st, struct fl_device *out)
{
	fl_err err;

	TRY(sq_step_row(st));
	TRY(read_device(st, out));
out:
	if (err != FL_OK)
		memset(out, 0, sizeof(*out));
	return err;
}

static fl_err claim(struct fl_tx *tx, const char *imei, const char *device_id)
{
	static const char sql[] =
	        "INSERT INTO imei_claims (imei, device_id) VALUES (?, ?);";
	sqlite3_stmt *st = NULL;
	fl_err err;

	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, imei));
	TRY(sq_bind_text(st, 2, device_id));
	err = sq_step_done(st);
	if (err == FL_E_CONFLICT)
		err = FL_E_IMEI_IN_PROGRAM;
out:
	sq_done(st);
	return err;
}

fl_err sq_device_insert(struct fl_tx *tx, struct fl_device *d)
{
	static const char sql[] = "INSERT INTO devices (id, tenant_id, imei, "
	                          "imei2, serial, model, "
	                          "created_at, enroll_hash, enroll_expires) "
	                          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?);";
	sqlite3_stmt *st = NULL;
	fl_err err;

	TRY(claim(tx, d->imei, d->id));
	if (d->imei2[0] != '\0')
		TRY(claim(tx, d->imei2, d->id));
	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, d->id));
	TRY(sq_bind_text(st, 2, d->tenant_id));
	TRY(sq_bind_text(st, 3, d->imei));
	TRY(sq_bind_text(st, 4, d->imei2));
	TRY(sq_bind_text(st, 5, d->serial));
	TRY(sq_bind_text(st, 6, d->model));
	TRY(sq_bind_int(st, 7, d->created_at));
	if (d->has_enroll_code)
		TRY(sq_bind_blob(st, 8, d->enroll_hash, FL_HASH_LEN));
	TRY(sq_bind_int(st, 9, d->enroll_expires));
	TRY(sq_step_done(st));
	d->ord = sqlite3_last_insert_rowid(tx->c->db);
out:
	sq_done(st);
	return err;
}

fl_err sq_device_get(struct fl_tx *tx, const char *tenant_id, const char *id,
                     struct fl_device *out)
{
	static const char sql[] = "SELECT " DEV_COLS " FROM devices d "
	                          "WHERE d.id = ? AND d.tenant_id = ?;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	memset(out, 0, sizeof(*out));
	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, id));
	TRY(sq_bind_text(st, 2, tenant_id));
	err = one_device(st, out);
out:
	sq_done(st);
	return err;
}

fl_err sq_device_get_any(struct fl_tx *tx, const char *id,
                         struct fl_device *out)
{
	static const char sql[] =
	        "SELECT " DEV_COLS " FROM devices d WHERE d.id = ?;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	memset(out, 0, sizeof(*out));
	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, id));
	err = one_device(st, out);
out:
	sq_done(st);
	return err;
}

fl_err sq_device_by_imei(struct fl_tx *tx, const char *imei,
                         struct fl_device *out)
{
	static const char sql[] =
	        "SELECT " DEV_COLS " FROM devices d WHERE d.ord = "
	        "(SELECT max(ord) FROM (SELECT ord FROM devices WHERE imei = "
	        "?1 "
	        "UNION ALL SELECT ord FROM devices WHERE imei2 = ?1));";
	sqlite3_stmt *st = NULL;
	fl_err err;

	memset(out, 0, sizeof(*out));
	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, imei));
	err = one_device(st, out);
out:
	sq_done(st);
	return err;
}

fl_err sq_device_by_enroll_hash(struct fl_tx *tx,
                                const uint8_t hash[FL_HASH_LEN],
                                struct fl_device *out)
{
	static const char sql[] =
	        "SELECT " DEV_COLS " FROM devices d WHERE d.enroll_hash = ?;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	memset(out, 0, sizeof(*out));
	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_blob(st, 1, hash, FL_HASH_LEN));
	err = one_device(st, out);
out:
	sq_done(st);
	return err;
}

/* Runs an UPDATE of one device by id; FL_E_NOT_FOUND if none changed. */
static fl_err update_done(struct fl_tx *tx, sqlite3_stmt *st)
{
	fl_err err = sq_step_done(st);

	if (err == FL_OK && sqlite3_changes(tx->c->db) == 0)
		err = FL_E_NOT_FOUND;
	return err;
}

fl_err sq_device_set_enroll_code(struct fl_tx *tx, const char *id,
                                 const uint8_t *hash, fl_time expires)
{
	static const char sql[] = "UPDATE devices SET enroll_hash = ?, "
	                          "enroll_expires = ? WHERE id = ?;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	if (hash != NULL)
		TRY(sq_bind_blob(st, 1, hash, FL_HASH_LEN));
	TRY(sq_bind_int(st, 2, hash != NULL ? expires : 0));
	TRY(sq_bind_text(st, 3, id));
	err = update_done(tx, st);
out:
	sq_done(st);
	return err;
}

fl_err sq_device_enroll(struct fl_tx *tx, const char *id,
                        const uint8_t device_pk[32], const uint8_t kx_pk[32],
                        fl_time at)
{
	static const char sql[] =
	        "UPDATE devices SET device_pk = ?, kx_pk = ?, enrolled_at = ?, "
	        "enroll_hash = NULL, enroll_expires = 0, mac_seal = NULL "
	        "WHERE id = ?;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_blob(st, 1, device_pk, 32));
	TRY(sq_bind_blob(st, 2, kx_pk, 32));
	TRY(sq_bind_int(st, 3, at));
	TRY(sq_bind_text(st, 4, id));
	err = update_done(tx, st);
out:
	sq_done(st);
	return err;
}

fl_err sq_device_touch(struct fl_tx *tx, const char *id, fl_time at,
                       uint64_t counter)
{
	static const char sql[] =
	        "UPDATE devices SET last_contact = max(last_contact, ?), "
	        "req_counter = max(req_counter, ?) WHERE id = ?;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	if (counter > (uint64_t)INT64_MAX)
		return FL_E_RANGE;
	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_int(st, 1, at));
	TRY(sq_bind_int(st, 2, (int64_t)counter));
	TRY(sq_bind_text(st, 3, id));
	err = update_done(tx, st);
out:
	sq_done(st);
	return err;
}

fl_err sq_device_report(struct fl_tx *tx, const char *id, bool sim, fl_time at,
                        const char *text)
{
	static const char sql_sim[] = "UPDATE devices SET sim_at = ?, "
	                              "sim_report = ? WHERE id = ?;";
	static const char sql_tamper[] = "UPDATE devices SET tamper_at = ?, "
	                                 "tamper_report = ? WHERE id = ?;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	if (strlen(text) >= FL_REPORT_MAX)
		return FL_E_TOO_LARGE;
	st = sq_stmt(tx, sim ? sql_sim : sql_tamper, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_int(st, 1, at));
	TRY(sq_bind_text(st, 2, text));
	TRY(sq_bind_text(st, 3, id));
	err = update_done(tx, st);
out:
	sq_done(st);
	return err;
}

/* The stolen column: 1 stolen, 2 reported stolen, 0 neither. */
static int stolen_col(const struct fl_device_status *s)
{
	return s->stolen ? 1 : s->stolen_reported ? 2 : 0;
}

/* One decision, found by its row number when w->ord is known (and still
 * its id), else by id, writing the columns of the state counts and the
 * portfolio index only when they change (w->before, when known, is the
 * stored status): a decision that moves only the device's times and seq
 * (a reminder, say) leaves that index and the count trigger alone. */
static fl_err set_status(struct fl_tx *tx, const struct fl_status_write *w)
{
#define SET_TIMES                                                           \
	"UPDATE devices SET released_by_command = ?, lock_cause = ?, "     \
	"lock_at = ?, unlock_until = ?, paid_through = ?, "                \
	"next_due_at = ?, next_due_amount = ?, next_change = ?, "          \
	"decided_at = ?, token_seq = ?, outcome = ?, credit = ?"
#define SET_COUNTED \
	", state = ?, stolen = ?, amount_due = ?, amount_remaining = ?"
	static const char *const sql[2][2] = {
	        /* [narrow][by ord] */
	        {SET_TIMES SET_COUNTED " WHERE id = ?;",
	         SET_TIMES SET_COUNTED " WHERE ord = ? AND id = ?;"},
	        {SET_TIMES " WHERE id = ?;",
	         SET_TIMES " WHERE ord = ? AND id = ?;"},
	};
#undef SET_TIMES
#undef SET_COUNTED
	const struct fl_device_status *s = w->st, *b = w->before;
	bool narrow = b != NULL && b->state == s->state &&
	              stolen_col(b) == stolen_col(s) &&
	              b->amount_due == s->amount_due &&
	              b->amount_remaining == s->amount_remaining;
	sqlite3_stmt *st = NULL;
	int k = 13;
	fl_err err;

	if (s->token_seq > (uint64_t)INT64_MAX)
		return FL_E_RANGE;
	st = sq_stmt(tx, sql[narrow][w->ord > 0], &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_int(st, 1, s->released_by_command));
	TRY(sq_bind_int(st, 2, (int64_t)s->lock_cause));
	TRY(sq_bind_int(st, 3, s->lock_at));
	TRY(sq_bind_int(st, 4, s->unlock_until));
	TRY(sq_bind_int(st, 5, s->paid_through));
	TRY(sq_bind_int(st, 6, s->next_due_at));
	TRY(sq_bind_int(st, 7, s->next_due_amount));
	TRY(sq_bind_int(st, 8, s->next_change));
	TRY(sq_bind_int(st, 9, s->decided_at));
	TRY(sq_bind_int(st, 10, (int64_t)s->token_seq));
	TRY(sq_bind_blob(st, 11, s->outcome, FL_HASH_LEN));
	TRY(sq_bind_int(st, 12, s->credit));
	if (!narrow) {
		TRY(sq_bind_int(st, k++, (int64_t)s->state));
		TRY(sq_bind_int(st, k++, stolen_col(s)));
		TRY(sq_bind_int(st, k++, s->amount_due));
		TRY(sq_bind_int(st, k++, s->amount_remaining));
	}
	if (w->ord > 0)
		TRY(sq_bind_int(st, k++, w->ord));
	TRY(sq_bind_text(st, k, w->id));
	err = update_done(tx, st);
out:
	sq_done(st);
	return err;
}

fl_err sq_device_set_status(struct fl_tx *tx, const char *id,
                            const struct fl_device_status *s)
{
	const struct fl_status_write w = {id, s, 0, NULL};

	return set_status(tx, &w);
}

fl_err sq_device_set_status_many(struct fl_tx *tx,
                                 const struct fl_status_write *w, int n)
{
	fl_err err = FL_OK;

	for (int i = 0; i < n && err == FL_OK; i++)
		err = set_status(tx, &w[i]);
	return err;
}

fl_err sq_device_unclaim(struct fl_tx *tx, const char *id)
{
	static const char sql[] =
	        "DELETE FROM imei_claims WHERE device_id = ?;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, id));
	TRY(sq_step_done(st));
out:
	sq_done(st);
	return err;
}

/* The device list's SQL, one statement per order (sq_stmt caches by the
 * text's address). The inner select finds the page's ords from the narrow
 * columns alone; the outer one reads the page's whole rows. */
/* The loan reference is matched by one scan of the tenant's contracts
 * (an uncorrelated subquery, run once), not a join per device. */
#define LIST_WHERE                                                             \
	"d.tenant_id = ?1 AND (?3 < 0 OR d.state = ?3) "                       \
	"AND (?4 = 0 OR d.amount_due > 0) "                                    \
	"AND (?7 = 0 OR d.tamper_at > 0) AND (?8 = 0 OR d.sim_at > 0) "        \
	"AND (?10 = 0 OR d.stolen != 0) "                                      \
	"AND (?11 = 0 OR (d.unlock_until > ?11 AND d.state != 4)) "            \
	"AND (?5 IS NULL OR instr(d.imei, ?5) > 0 OR instr(d.imei2, ?5) > 0 "  \
	"OR instr(d.id, ?5) > 0 OR d.serial LIKE ?12 ESCAPE '\\' "             \
	"OR d.model LIKE ?12 ESCAPE '\\' "                                     \
	"OR d.id IN (SELECT c2.device_id FROM contracts c2 WHERE "             \
	"c2.tenant_id = ?1 AND c2.loan_ref LIKE ?12 ESCAPE '\\')) "
#define LIST_SQL(KEY, DIR, AFTER)                                              \
	"SELECT " DEV_COLS " FROM devices d WHERE d.ord IN ("                  \
	"SELECT d.ord FROM devices d "                                         \
	"WHERE " LIST_WHERE "AND " AFTER " ORDER BY " KEY " " DIR              \
	", d.ord LIMIT ?6) ORDER BY " KEY " " DIR ", d.ord;"
#define AFTER_ASC(KEY)                                                         \
	"(?9 IS NULL OR " KEY " > ?9 OR (" KEY " = ?9 AND d.ord > ?2))"
#define AFTER_DESC(KEY)                                                        \
	"(?9 IS NULL OR " KEY " < ?9 OR (" KEY " = ?9 AND d.ord > ?2))"
#define LIST_SORTED(KEY)                                                       \
	{                                                                      \
		LIST_SQL(KEY, "ASC", AFTER_ASC(KEY)),                          \
		        LIST_SQL(KEY, "DESC", AFTER_DESC(KEY))                 \
	}
#define NEXT_DUE_KEY                                                           \
	"(CASE d.next_due_at WHEN 0 THEN 9223372036854775807 "                 \
	"ELSE d.next_due_at END)"

/* [enum fl_device_sort][desc]; keys as fl_device_sort_key() computes */
static const char *const list_sql[FL_DSORT_COUNT][2] = {
        {LIST_SQL("d.ord", "ASC", "d.ord > ?2"),
         LIST_SQL("d.ord", "DESC", "(?2 = 0 OR d.ord < ?2)")},
        LIST_SORTED("d.last_contact"),
        LIST_SORTED("d.amount_due"),
        LIST_SORTED(NEXT_DUE_KEY),
        LIST_SORTED("d.state"),
};

/* A tenant's devices in ord order, only what a report over all of them
 * reads (read_device_lean). */
static const char lean_sql[] =
        "SELECT d.ord, d.id, d.tenant_id, d.state, d.stolen, d.paid_through, "
        "d.amount_due, d.amount_remaining FROM devices d "
        "WHERE d.tenant_id = ?1 AND d.ord > ?2 ORDER BY d.ord LIMIT ?3;";

/* The row of lean_sql into d, whose other fields stay as they are. */
static fl_err read_device_lean(sqlite3_stmt *st, struct fl_device *d)
{
	fl_err err;

	d->ord = sqlite3_column_int64(st, 0);
	TRY(sq_col_text(st, 1, d->id, sizeof(d->id)));
	TRY(sq_col_text(st, 2, d->tenant_id, sizeof(d->tenant_id)));
	d->st.state = (enum fl_dev_state)sqlite3_column_int(st, 3);
	/* as read_device: 1 locked as stolen, 2 reported on a released one */
	d->st.stolen = sqlite3_column_int(st, 4) == 1;
	d->st.stolen_reported = sqlite3_column_int(st, 4) != 0;
	d->st.paid_through = sqlite3_column_int64(st, 5);
	d->st.amount_due = sqlite3_column_int64(st, 6);
	d->st.amount_remaining = sqlite3_column_int64(st, 7);
out:
	return err;
}

/* A tenant's devices with an exact IMEI (first or second), in ord order. */
static const char by_imei_sql[] =
        "SELECT " DEV_COLS " FROM devices d "
        "WHERE (d.imei = ?2 OR d.imei2 = ?2) "
        /* (unary +: not by the tenant's index, which would scan them all) */
        "AND +d.tenant_id = ?1 AND +d.ord > ?3 ORDER BY d.ord LIMIT ?4;";

/* "%q%" with q's own %, _ and \ escaped by \: LIKE's substring match,
 * case-insensitive for ASCII letters as the search is. Caller frees *out. */
static fl_err like_pattern(const char *q, char **out)
{
	size_t n = strlen(q), k = 0;
	char *p = malloc(2 * n + 3);

	*out = p;
	if (p == NULL)
		return FL_E_NOMEM;
	p[k++] = '%';
	for (size_t i = 0; i < n; i++) {
		if (q[i] == '%' || q[i] == '_' || q[i] == '\\')
			p[k++] = '\\';
		p[k++] = q[i];
	}
	p[k++] = '%';
	p[k] = '\0';
	return FL_OK;
}

fl_err sq_device_list(struct fl_tx *tx, const char *tenant_id,
                      const struct fl_device_filter *filter, int64_t after,
                      int limit, FL_STORE_LIST_FN(struct fl_device), void *ctx)
{
	static const struct fl_device_filter none = {.any_state = true};
	const struct fl_device_filter *f = filter != NULL ? filter : &none;
	char *pattern = NULL;
	struct fl_device *d = NULL;
	sqlite3_stmt *st = NULL;
	fl_err err;

	if ((unsigned)f->sort >= FL_DSORT_COUNT)
		return FL_E_INVALID;
	d = malloc(sizeof(*d));
	if (d == NULL)
		return FL_E_NOMEM;
	if (f->lean) {
		memset(d, 0, sizeof(*d));
		st = sq_stmt(tx, lean_sql, &err);
		if (st == NULL)
			goto out;
		TRY(sq_bind_text(st, 1, tenant_id));
		TRY(sq_bind_int(st, 2, after));
		TRY(sq_bind_int(st, 3, limit < 0 ? -1 : limit));
		while ((err = sq_step_row(st)) == FL_OK) {
			TRY(read_device_lean(st, d));
			TRY(fn(ctx, d));
		}
		if (err == FL_E_NOT_FOUND)
			err = FL_OK;
		goto out;
	}
	if (f->imei != NULL) {
		/* by the IMEI indexes; the other filters do not apply */
		st = sq_stmt(tx, by_imei_sql, &err);
		if (st == NULL)
			goto out;
		TRY(sq_bind_text(st, 1, tenant_id));
		TRY(sq_bind_text(st, 2, f->imei));
		TRY(sq_bind_int(st, 3, after));
		TRY(sq_bind_int(st, 4, limit < 0 ? -1 : limit));
		goto rows;
	}
	st = sq_stmt(tx, list_sql[f->sort][f->desc ? 1 : 0], &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, tenant_id));
	TRY(sq_bind_int(st, 2, after));
	TRY(sq_bind_int(st, 3, f->any_state ? -1 : (int64_t)f->state));
	TRY(sq_bind_int(st, 4, f->overdue));
	if (f->q != NULL && f->q[0] != '\0') {
		TRY(sq_bind_text(st, 5, f->q));
		TRY(like_pattern(f->q, &pattern));
		TRY(sq_bind_text(st, 12, pattern));
	}
	TRY(sq_bind_int(st, 6, limit < 0 ? -1 : limit));
	TRY(sq_bind_int(st, 7, f->tamper));
	TRY(sq_bind_int(st, 8, f->sim));
	if (f->has_key && f->sort != FL_DSORT_REGISTERED)
		TRY(sq_bind_int(st, 9, f->after_key));
	TRY(sq_bind_int(st, 10, f->stolen));
	TRY(sq_bind_int(st, 11, f->lock_held ? (f->now > 0 ? f->now : 1) : 0));
rows:
	while ((err = sq_step_row(st)) == FL_OK) {
		TRY(read_device(st, d));
		TRY(fn(ctx, d));
	}
	if (err == FL_E_NOT_FOUND)
		err = FL_OK;
out:
	sq_done(st);
	free(pattern);
	free(d);
	return err;
}

fl_err sq_device_due(struct fl_tx *tx, fl_time now, int limit,
                     char (*tenant_ids)[FL_ID_MAX], char (*ids)[FL_ID_MAX],
                     int *n)
{
	static const char sql[] =
	        "SELECT tenant_id, id FROM devices WHERE next_change > 0 AND "
	        "next_change <= ? ORDER BY next_change LIMIT ?;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	*n = 0;
	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_int(st, 1, now));
	TRY(sq_bind_int(st, 2, limit));
	while (*n < limit && (err = sq_step_row(st)) == FL_OK) {
		TRY(sq_col_text(st, 0, tenant_ids[*n], FL_ID_MAX));
		TRY(sq_col_text(st, 1, ids[*n], FL_ID_MAX));
		(*n)++;
	}
	if (err == FL_E_NOT_FOUND)
		err = FL_OK;
out:
	sq_done(st);
	return err;
}

fl_err sq_device_next_change(struct fl_tx *tx, fl_time after, fl_time *at)
{
	static const char sql[] = "SELECT min(next_change) FROM devices "
	                          "WHERE next_change > 0 AND next_change > ?;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	*at = 0;
	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_int(st, 1, after));
	TRY(sq_step_row(st));
	*at = sqlite3_column_int64(st, 0);
out:
	sq_done(st);
	return err;
}

fl_err sq_device_count(struct fl_tx *tx, int64_t by_state[5], int64_t *stolen)
{
	/* device_counts is kept by triggers (migration 4) */
	static const char sql[] = "SELECT state, sum(n), sum((stolen != 0) * n) "
	                          "FROM device_counts GROUP BY state;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	memset(by_state, 0, 5 * sizeof(by_state[0]));
	*stolen = 0;
	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	while ((err = sq_step_row(st)) == FL_OK) {
		int s = sqlite3_column_int(st, 0);

		if (s >= 0 && s < 5)
			by_state[s] = sqlite3_column_int64(st, 1);
		*stolen += sqlite3_column_int64(st, 2);
	}
	if (err == FL_E_NOT_FOUND)
		err = FL_OK;
out:
	sq_done(st);
	return err;
}

/* --- contracts ------------------------------------------------------------ */

void fl_contract_rec_clear(struct fl_contract_rec *c)
{
	if (c == NULL)
		return;
	free(c->schedule);
	memset(c, 0, sizeof(*c));
}

static fl_err insert_items(struct fl_tx *tx, const char *device_id,
                           int64_t resched, const struct fl_installment *items,
                           size_t n)
{
	static const char sql[] =
	        "INSERT INTO installments (device_id, resched, idx, due_at, "
	        "amount) VALUES (?, ?, ?, ?, ?);";
	sqlite3_stmt *st = NULL;
	fl_err err = FL_OK;

	for (size_t i = 0; i < n; i++) {
		st = sq_stmt(tx, sql, &err);
		if (st == NULL)
			goto out;
		TRY(sq_bind_text(st, 1, device_id));
		TRY(sq_bind_int(st, 2, resched));
		TRY(sq_bind_int(st, 3, (int64_t)i));
		TRY(sq_bind_int(st, 4, items[i].due_at));
		TRY(sq_bind_int(st, 5, items[i].amount));
		TRY(sq_step_done(st));
		sq_done(st);
		st = NULL;
	}
out:
	sq_done(st);
	return err;
}

fl_err sq_contract_insert(struct fl_tx *tx, struct fl_contract_rec *c)
{
	static const char sql[] =
	        "INSERT INTO contracts (device_id, tenant_id, created_at, "
	        "loan_ref, currency, utc_offset, grace, max_offline, remind, "
	        "restrict_mask, allow_apps, message, contact_name, "
	        "contact_phones, sim_policy, tamper_policy) "
	        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);";
	char apps[FL_CONTRACT_MAX_APPS * FL_APP_ID_MAX + 16];
	char phones[FL_CONTRACT_MAX_PHONES * FL_PHONE_MAX + 8];
	char remind[FL_POLICY_MAX_OFFSETS * 24 + 8];
	size_t used = 0;
	sqlite3_stmt *st = NULL;
	fl_err err;

	remind[0] = '\0';
	for (size_t i = 0; i < c->n_remind && i < FL_POLICY_MAX_OFFSETS; i++)
		used += (size_t)snprintf(remind + used, sizeof(remind) - used,
		                         "%s%lld", i ? "," : "",
		                         (long long)c->remind[i]);
	TRY(join_lines(apps, sizeof(apps), &c->allow_apps[0][0], FL_APP_ID_MAX,
	               c->n_allow_apps));
	TRY(join_lines(phones, sizeof(phones), &c->contact_phones[0][0],
	               FL_PHONE_MAX, c->n_contact_phones));
	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, c->device_id));
	TRY(sq_bind_text(st, 2, c->tenant_id));
	TRY(sq_bind_int(st, 3, c->created_at));
	TRY(sq_bind_text(st, 4, c->loan_ref));
	TRY(sq_bind_text(st, 5, c->currency));
	TRY(sq_bind_int(st, 6, c->utc_offset));
	TRY(sq_bind_int(st, 7, c->grace));
	TRY(sq_bind_int(st, 8, c->max_offline));
	TRY(sq_bind_text(st, 9, remind));
	TRY(sq_bind_int(st, 10, (int64_t)c->restrict_mask));
	TRY(sq_bind_text(st, 11, apps));
	TRY(sq_bind_text(st, 12, c->message));
	TRY(sq_bind_text(st, 13, c->contact_name));
	TRY(sq_bind_text(st, 14, phones));
	TRY(sq_bind_int(st, 15, (int64_t)c->sim_policy));
	TRY(sq_bind_int(st, 16, (int64_t)c->tamper_policy));
	TRY(sq_step_done(st));
	c->ord = sqlite3_last_insert_rowid(tx->c->db);
	sq_done(st);
	st = NULL;
	TRY(insert_items(tx, c->device_id, 0, c->schedule, c->n_schedule));
out:
	sq_done(st);
	return err;
}

#define CONTRACT_COLS                                                          \
	"ord, device_id, tenant_id, created_at, loan_ref, currency, "          \
	"utc_offset, grace, max_offline, remind, restrict_mask, allow_apps, "  \
	"message, contact_name, contact_phones, sim_policy, tamper_policy"

/* Reads a contract whose CONTRACT_COLS start at column b of st. */
static fl_err read_contract_at(sqlite3_stmt *st, int b,
                               struct fl_contract_rec *c)
{
	const char *remind;
	fl_err err;

	memset(c, 0, sizeof(*c));
	c->ord = sqlite3_column_int64(st, b);
	TRY(sq_col_text(st, b + 1, c->device_id, sizeof(c->device_id)));
	TRY(sq_col_text(st, b + 2, c->tenant_id, sizeof(c->tenant_id)));
	c->created_at = sqlite3_column_int64(st, b + 3);
	TRY(sq_col_text(st, b + 4, c->loan_ref, sizeof(c->loan_ref)));
	TRY(sq_col_text(st, b + 5, c->currency, sizeof(c->currency)));
	c->utc_offset = (int32_t)sqlite3_column_int(st, b + 6);
	c->grace = sqlite3_column_int64(st, b + 7);
	c->max_offline = sqlite3_column_int64(st, b + 8);
	remind = (const char *)sqlite3_column_text(st, b + 9);
	while (remind != NULL && *remind != '\0') {
		char *end = NULL;

		if (c->n_remind == FL_POLICY_MAX_OFFSETS) {
			err = FL_E_CORRUPT;
			goto out;
		}
		c->remind[c->n_remind++] = strtoll(remind, &end, 10);
		if (end == remind) {
			err = FL_E_CORRUPT;
			goto out;
		}
		remind = *end == ',' ? end + 1 : end;
	}
	c->restrict_mask = (uint64_t)sqlite3_column_int64(st, b + 10);
	TRY(split_lines((const char *)sqlite3_column_text(st, b + 11),
	                &c->allow_apps[0][0], FL_APP_ID_MAX,
	                FL_CONTRACT_MAX_APPS, &c->n_allow_apps));
	TRY(sq_col_text(st, b + 12, c->message, sizeof(c->message)));
	TRY(sq_col_text(st, b + 13, c->contact_name, sizeof(c->contact_name)));
	TRY(split_lines((const char *)sqlite3_column_text(st, b + 14),
	                &c->contact_phones[0][0], FL_PHONE_MAX,
	                FL_CONTRACT_MAX_PHONES, &c->n_contact_phones));
	c->sim_policy = (enum fl_reaction)sqlite3_column_int(st, b + 15);
	c->tamper_policy = (enum fl_reaction)sqlite3_column_int(st, b + 16);
out:
	return err;
}

static fl_err read_contract(sqlite3_stmt *st, struct fl_contract_rec *c)
{
	return read_contract_at(st, 0, c);
}

/* Loads the installments of (device_id, resched) into a new array. */
static fl_err load_items(struct fl_tx *tx, const char *device_id,
                         int64_t resched, struct fl_installment **items,
                         size_t *n)
{
	static const char sql[] =
	        "SELECT due_at, amount FROM installments WHERE device_id = ? "
	        "AND resched = ? ORDER BY idx;";
	struct fl_installment *arr = NULL;
	size_t cap = 0;
	sqlite3_stmt *st = NULL;
	fl_err err;

	*items = NULL;
	*n = 0;
	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, device_id));
	TRY(sq_bind_int(st, 2, resched));
	while ((err = sq_step_row(st)) == FL_OK) {
		if (*n == FL_POLICY_MAX_INSTALLMENTS) {
			err = FL_E_TOO_LARGE;
			goto out;
		}
		if (*n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			void *na = realloc(arr, nc * sizeof(*arr));

			if (na == NULL) {
				err = FL_E_NOMEM;
				goto out;
			}
			arr = na;
			cap = nc;
		}
		arr[*n].due_at = sqlite3_column_int64(st, 0);
		arr[*n].amount = sqlite3_column_int64(st, 1);
		(*n)++;
	}
	if (err == FL_E_NOT_FOUND)
		err = FL_OK;
out:
	sq_done(st);
	if (err != FL_OK) {
		free(arr);
		*n = 0;
	} else {
		*items = arr;
	}
	return err;
}

fl_err sq_contract_get(struct fl_tx *tx, const char *tenant_id,
                       const char *device_id, struct fl_contract_rec *out)
{
	static const char sql[] = "SELECT " CONTRACT_COLS " FROM contracts "
	                          "WHERE device_id = ? AND tenant_id = ?;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	memset(out, 0, sizeof(*out));
	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, device_id));
	TRY(sq_bind_text(st, 2, tenant_id));
	TRY(sq_step_row(st));
	TRY(read_contract(st, out));
	sq_done(st);
	st = NULL;
	TRY(load_items(tx, device_id, 0, &out->schedule, &out->n_schedule));
out:
	sq_done(st);
	if (err != FL_OK)
		fl_contract_rec_clear(out);
	return err;
}

fl_err sq_contract_list(struct fl_tx *tx, const char *tenant_id, int64_t after,
                        int limit, FL_STORE_LIST_FN(struct fl_contract_rec),
                        void *ctx)
{
	static const char sql[] = "SELECT " CONTRACT_COLS " FROM contracts "
	                          "WHERE tenant_id = ? AND ord > ? "
	                          "ORDER BY ord LIMIT ?;";
	struct fl_contract_rec *c = NULL;
	sqlite3_stmt *st = NULL;
	fl_err err;

	c = malloc(sizeof(*c));
	if (c == NULL)
		return FL_E_NOMEM;
	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, tenant_id));
	TRY(sq_bind_int(st, 2, after));
	TRY(sq_bind_int(st, 3, limit < 0 ? -1 : limit));
	while ((err = sq_step_row(st)) == FL_OK) {
		TRY(read_contract(st, c));
		TRY(fn(ctx, c));
	}
	if (err == FL_E_NOT_FOUND)
		err = FL_OK;
out:
	sq_done(st);
	free(c);
	return err;
}

/* FL_OK if device_id belongs to tenant_id. */
static fl_err owned(struct fl_tx *tx, const char *tenant_id,
                    const char *device_id)
{
	static const char sql[] =
	        "SELECT 1 FROM devices WHERE id = ? AND tenant_id = ?;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, device_id));
	TRY(sq_bind_text(st, 2, tenant_id));
	err = sq_step_row(st);
out:
	sq_done(st);
	return err;
}

fl_err sq_reschedule_insert(struct fl_tx *tx, const char *tenant_id,
                            const char *device_id, struct fl_reschedule_rec *r)
{
	static const char sql[] =
	        "INSERT INTO reschedules (device_id, tenant_id, from_at, "
	        "created_at, actor, reason) VALUES (?, ?, ?, ?, ?, ?);";
	sqlite3_stmt *st = NULL;
	fl_err err;

	TRY(owned(tx, tenant_id, device_id));
	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, device_id));
	TRY(sq_bind_text(st, 2, tenant_id));
	TRY(sq_bind_int(st, 3, r->from));
	TRY(sq_bind_int(st, 4, r->created_at));
	TRY(sq_bind_text(st, 5, r->actor));
	TRY(sq_bind_text(st, 6, r->reason));
	TRY(sq_step_done(st));
	r->ord = sqlite3_last_insert_rowid(tx->c->db);
	sq_done(st);
	st = NULL;
	TRY(insert_items(tx, device_id, r->ord, r->schedule, r->n_schedule));
out:
	sq_done(st);
	return err;
}

/* --- payments ------------------------------------------------------------- */

#define PAY_COLS                                                               \
	"ord, id, tenant_id, device_id, amount, paid_at, reference, "          \
	"recorded_at, recorded_by, reversed_at, reverse_reason, reversed_by"

static fl_err read_payment(sqlite3_stmt *st, struct fl_payment_rec *p)
{
	fl_err err;

	memset(p, 0, sizeof(*p));
	p->ord = sqlite3_column_int64(st, 0);
	TRY(sq_col_text(st, 1, p->id, sizeof(p->id)));
	TRY(sq_col_text(st, 2, p->tenant_id, sizeof(p->tenant_id)));
	TRY(sq_col_text(st, 3, p->device_id, sizeof(p->device_id)));
	p->amount = sqlite3_column_int64(st, 4);
	p->paid_at = sqlite3_column_int64(st, 5);
	TRY(sq_col_text(st, 6, p->reference, sizeof(p->reference)));
	p->recorded_at = sqlite3_column_int64(st, 7);
	TRY(sq_col_text(st, 8, p->recorded_by, sizeof(p->recorded_by)));
	p->reversed_at = sqlite3_column_int64(st, 9);
	TRY(sq_col_text(st, 10, p->reverse_reason, sizeof(p->reverse_reason)));
	TRY(sq_col_text(st, 11, p->reversed_by, sizeof(p->reversed_by)));
out:
	return err;
}

fl_err sq_payment_insert(struct fl_tx *tx, struct fl_payment_rec *p)
{
	static const char sql[] =
	        "INSERT INTO payments (id, tenant_id, device_id, amount, "
	        "paid_at, reference, recorded_at, recorded_by) "
	        "VALUES (?, ?, ?, ?, ?, ?, ?, ?);";
	sqlite3_stmt *st = NULL;
	fl_err err;

	TRY(owned(tx, p->tenant_id, p->device_id));
	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, p->id));
	TRY(sq_bind_text(st, 2, p->tenant_id));
	TRY(sq_bind_text(st, 3, p->device_id));
	TRY(sq_bind_int(st, 4, p->amount));
	TRY(sq_bind_int(st, 5, p->paid_at));
	TRY(sq_bind_text(st, 6, p->reference));
	TRY(sq_bind_int(st, 7, p->recorded_at));
	TRY(sq_bind_text(st, 8, p->recorded_by));
	TRY(sq_step_done(st));
	p->ord = sqlite3_last_insert_rowid(tx->c->db);
out:
	sq_done(st);
	return err;
}

/* The one payment sql (of PAY_COLS, two text parameters a and b)
 * selects into *out; FL_E_NOT_FOUND when none. */
static fl_err payment_one(struct fl_tx *tx, const char *sql, const char *a,
                          const char *b, struct fl_payment_rec *out)
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
	TRY(read_payment(st, out));
out:
	if (err != FL_OK)
		memset(out, 0, sizeof(*out));
	sq_done(st);
	return err;
}

fl_err sq_payment_get(struct fl_tx *tx, const char *tenant_id, const char *id,
                      struct fl_payment_rec *out)
{
	static const char sql[] = "SELECT " PAY_COLS " FROM payments "
	                          "WHERE id = ? AND tenant_id = ?;";

	return payment_one(tx, sql, id, tenant_id, out);
}

fl_err sq_payment_reverse(struct fl_tx *tx, const char *tenant_id,
                          const char *id, fl_time at, const char *reason,
                          const char *by)
{
	static const char sql[] =
	        "UPDATE payments SET reversed_at = ?, reverse_reason = ?, "
	        "reversed_by = ? WHERE id = ? AND tenant_id = ? "
	        "AND reversed_at = 0;";
	struct fl_payment_rec p;
	sqlite3_stmt *st = NULL;
	fl_err err;

	TRY(sq_payment_get(tx, tenant_id, id, &p));
	if (p.reversed_at != 0) {
		err = FL_E_STATE;
		goto out;
	}
	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_int(st, 1, at));
	TRY(sq_bind_text(st, 2, reason));
	TRY(sq_bind_text(st, 3, by));
	TRY(sq_bind_text(st, 4, id));
	TRY(sq_bind_text(st, 5, tenant_id));
	err = update_done(tx, st);
out:
	sq_done(st);
	return err;
}

fl_err sq_payment_list(struct fl_tx *tx, const char *tenant_id,
                       const char *device_id, int64_t after, int limit,
                       FL_STORE_LIST_FN(struct fl_payment_rec), void *ctx)
{
	static const char sql[] =
	        "SELECT " PAY_COLS " FROM payments WHERE tenant_id = ?1 "
	        "AND (?2 IS NULL OR device_id = ?2) AND ord > ?3 "
	        "ORDER BY ord LIMIT ?4;";
	struct fl_payment_rec p;
	sqlite3_stmt *st = NULL;
	fl_err err;

	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, tenant_id));
	if (device_id != NULL)
		TRY(sq_bind_text(st, 2, device_id));
	TRY(sq_bind_int(st, 3, after));
	TRY(sq_bind_int(st, 4, limit < 0 ? -1 : limit));
	while ((err = sq_step_row(st)) == FL_OK) {
		TRY(read_payment(st, &p));
		TRY(fn(ctx, &p));
	}
	if (err == FL_E_NOT_FOUND)
		err = FL_OK;
out:
	sq_done(st);
	return err;
}

/* --- commands ------------------------------------------------------------- */

fl_err sq_command_insert(struct fl_tx *tx, const char *tenant_id,
                         const char *device_id, struct fl_command_rec *c)
{
	static const char sql[] =
	        "INSERT INTO commands (tenant_id, device_id, kind, issued_at, "
	        "at, reason, actor, show_reason) VALUES (?, ?, ?, ?, ?, ?, ?, "
	        "?);";
	sqlite3_stmt *st = NULL;
	fl_err err;

	TRY(owned(tx, tenant_id, device_id));
	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, tenant_id));
	TRY(sq_bind_text(st, 2, device_id));
	TRY(sq_bind_int(st, 3, (int64_t)c->kind));
	TRY(sq_bind_int(st, 4, c->issued_at));
	TRY(sq_bind_int(st, 5, c->at));
	TRY(sq_bind_text(st, 6, c->reason));
	TRY(sq_bind_text(st, 7, c->actor));
	TRY(sq_bind_int(st, 8, c->show_reason));
	TRY(sq_step_done(st));
	c->ord = sqlite3_last_insert_rowid(tx->c->db);
out:
	sq_done(st);
	return err;
}

fl_err sq_command_get(struct fl_tx *tx, const char *tenant_id,
                      const char *device_id, int64_t ord,
                      struct fl_command_rec *out)
{
	static const char sql[] =
	        "SELECT ord, kind, issued_at, at, reason, actor, show_reason, "
	        "cancelled_at, cancelled_by, cancel_reason FROM commands "
	        "WHERE ord = ? AND device_id = ? AND tenant_id = ?;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	memset(out, 0, sizeof(*out));
	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_int(st, 1, ord));
	TRY(sq_bind_text(st, 2, device_id));
	TRY(sq_bind_text(st, 3, tenant_id));
	TRY(sq_step_row(st));
	out->ord = sqlite3_column_int64(st, 0);
	out->kind = (enum fl_cmd_kind)sqlite3_column_int(st, 1);
	out->issued_at = sqlite3_column_int64(st, 2);
	out->at = sqlite3_column_int64(st, 3);
	TRY(sq_col_text(st, 4, out->reason, sizeof(out->reason)));
	TRY(sq_col_text(st, 5, out->actor, sizeof(out->actor)));
	out->show_reason = sqlite3_column_int(st, 6) != 0;
	out->cancelled_at = sqlite3_column_int64(st, 7);
	TRY(sq_col_text(st, 8, out->cancelled_by, sizeof(out->cancelled_by)));
	TRY(sq_col_text(st, 9, out->cancel_reason, sizeof(out->cancel_reason)));
out:
	if (err != FL_OK)
		memset(out, 0, sizeof(*out));
	sq_done(st);
	return err;
}

fl_err sq_command_cancel(struct fl_tx *tx, const char *tenant_id,
                         const char *device_id, int64_t ord, fl_time at,
                         const char *by, const char *reason)
{
	static const char sql[] =
	        "UPDATE commands SET cancelled_at = ?, cancelled_by = ?, "
	        "cancel_reason = ? WHERE ord = ? AND cancelled_at = 0;";
	struct fl_command_rec c;
	sqlite3_stmt *st = NULL;
	fl_err err;

	TRY(sq_command_get(tx, tenant_id, device_id, ord, &c));
	if (c.cancelled_at != 0) {
		err = FL_E_STATE;
		goto out;
	}
	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_int(st, 1, at));
	TRY(sq_bind_text(st, 2, by));
	TRY(sq_bind_text(st, 3, reason));
	TRY(sq_bind_int(st, 4, ord));
	TRY(sq_step_done(st));
	/* the device's inputs changed: its row is re-decided and written
	 * by the caller in this transaction */
out:
	sq_done(st);
	return err;
}

fl_err sq_payment_by_reference(struct fl_tx *tx, const char *tenant_id,
                               const char *reference,
                               struct fl_payment_rec *out)
{
	static const char sql[] = "SELECT " PAY_COLS " FROM payments "
	                          "WHERE tenant_id = ? AND reference = ? "
	                          "AND reference != '' ORDER BY ord LIMIT 1;";

	return payment_one(tx, sql, tenant_id, reference, out);
}

/* --- decision inputs ------------------------------------------------------ */

void fl_device_inputs_clear(struct fl_device_inputs *in)
{
	if (in == NULL)
		return;
	fl_contract_rec_clear(&in->contract);
	free(in->reschedules);
	free(in->resched_items);
	free(in->payments);
	free(in->commands);
	free(in->reasons);
	free(in->cmd_ord);
	free(in->cmd_show);
	memset(in, 0, sizeof(*in));
}

/* Everything of one device's inputs besides the contract row, in one
 * statement: the installments of the contract (resched 0) and of every
 * reschedule (resched = its ord), the reschedules, the payments and the
 * commands, told apart by the first column. Within each kind, columns 2
 * and 3 are unique and ordered as the policy wants (installments by
 * resched and idx, reschedules and commands by ord, payments by paid_at
 * then ord), so ORDER BY 2, 3 puts every kind in its order; each arm's
 * index yields that order, so SQLite merges the arms without sorting. */
static const char extras_sql[] =
        "SELECT 0, resched, idx, due_at, amount, NULL, 0, 0, 0 "
        "FROM installments WHERE device_id = ?1 "
        "UNION ALL SELECT 1, ord, ord, from_at, 0, NULL, 0, 0, 0 "
        "FROM reschedules WHERE device_id = ?1 "
        "UNION ALL SELECT 2, paid_at, ord, amount, reversed_at, NULL, 0, 0, "
        "0 FROM payments WHERE device_id = ?1 "
        "UNION ALL SELECT 3, ord, ord, issued_at, at, reason, kind, "
        "show_reason, cancelled_at FROM commands WHERE device_id = ?1 "
        "ORDER BY 2, 3;";

/* Files one row of extras_sql into in (store_int.h "device inputs"). */
static fl_err extras_row(sqlite3_stmt *st, struct fl_device_inputs *in,
                         struct fl_store_extras *x)
{
	struct fl_store_extra e = {
	        .kind = sqlite3_column_int(st, 0),
	        .a = sqlite3_column_int64(st, 1),
	        .b = sqlite3_column_int64(st, 2),
	        .c = sqlite3_column_int64(st, 3),
	        .d = sqlite3_column_int64(st, 4),
	        .cmd_kind = sqlite3_column_int(st, 6),
	        .cmd_show = sqlite3_column_int(st, 7) != 0,
	        .cancelled = sqlite3_column_int64(st, 8),
	};
	char *reason = NULL;
	fl_err err = fl_store_extras_add(x, in, &e, &reason);

	if (err == FL_OK && reason != NULL)
		err = sq_col_text(st, 5, reason, FL_REASON_MAX);
	return err;
}

/* Loads into in (whose contract row, if any, is read already) the
 * device's schedule, reschedules, payments and commands, with one
 * statement, then points every array at what it borrows. */
static fl_err load_extras(struct fl_tx *tx, const char *device_id,
                          struct fl_device_inputs *in)
{
	struct fl_store_extras x;
	sqlite3_stmt *st = NULL;
	fl_err err;

	memset(&x, 0, sizeof(x));
	st = sq_stmt(tx, extras_sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, device_id));
	while ((err = sq_step_row(st)) == FL_OK)
		TRY(extras_row(st, in, &x));
	if (err != FL_E_NOT_FOUND)
		goto out;
	err = FL_OK;
out:
	fl_store_extras_end(&x, in, err == FL_OK);
	sq_done(st);
	return err;
}

fl_err sq_device_inputs(struct fl_tx *tx, const char *tenant_id,
                        const char *device_id, struct fl_device_inputs *out)
{
	/* The device's ownership and its contract in one statement. */
	static const char sql[] =
	        "SELECT c.ord IS NOT NULL, " CONTRACT_COLS_C " FROM devices d "
	        "LEFT JOIN contracts c ON c.device_id = d.id "
	        "AND c.tenant_id = d.tenant_id "
	        "WHERE d.id = ? AND d.tenant_id = ?;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	memset(out, 0, sizeof(*out));
	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, device_id));
	TRY(sq_bind_text(st, 2, tenant_id));
	TRY(sq_step_row(st));
	if (sqlite3_column_int(st, 0) != 0) {
		TRY(read_contract_at(st, 1, &out->contract));
		out->has_contract = true;
	}
	sq_done(st);
	st = NULL;
	TRY(load_extras(tx, device_id, out));
out:
	sq_done(st);
	if (err != FL_OK)
		fl_device_inputs_clear(out);
	return err;
}

fl_err sq_device_load(struct fl_tx *tx, const char *tenant_id,
                      const char *device_id, struct fl_device *dev,
                      struct fl_device_inputs *in)
{
	/* The device row and its contract in one statement. */
	static const char sql[] = "SELECT " DEV_COLS_JOINED ", " CONTRACT_COLS_C
	                          " FROM devices d "
	                          "LEFT JOIN contracts c ON c.device_id = d.id "
	                          "AND c.tenant_id = d.tenant_id "
	                          "WHERE d.id = ? AND d.tenant_id = ?;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	memset(in, 0, sizeof(*in));
	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, device_id));
	TRY(sq_bind_text(st, 2, tenant_id));
	TRY(one_device(st, dev));
	if (sqlite3_column_type(st, DEV_NCOLS) != SQLITE_NULL) {
		TRY(read_contract_at(st, DEV_NCOLS, &in->contract));
		in->has_contract = true;
	}
	sq_done(st);
	st = NULL;
	TRY(load_extras(tx, device_id, in));
out:
	sq_done(st);
	if (err != FL_OK) {
		fl_device_inputs_clear(in);
		memset(dev, 0, sizeof(*dev));
	}
	return err;
}
