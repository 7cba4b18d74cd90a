/* pg_devices.c - devices, contracts, payments, commands on PostgreSQL.
 *
 * fl_device_inputs_clear and fl_contract_rec_clear, which free what any
 * backend fills, live in sqlite_devices.c. */
#include "store/pg_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- small encodings (as sqlite_devices.c) -------------------------------- */

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

#define DEV_COLS_BASE                                                          \
	"d.ord, d.id, d.tenant_id, d.imei, d.imei2, d.serial, d.model, "       \
	"d.created_at, d.enroll_hash, d.enroll_expires, d.enrolled_at, "       \
	"d.device_pk, d.kx_pk, d.last_contact, d.req_counter, d.tamper_at, "   \
	"d.tamper_report, d.sim_at, d.sim_report, d.state, d.stolen, "         \
	"d.released_by_command, d.lock_cause, d.lock_at, d.unlock_until, "     \
	"d.paid_through, d.amount_due, d.amount_remaining, d.next_due_at, "    \
	"d.next_due_amount, d.next_change, d.decided_at, d.token_seq, "        \
	"d.outcome, d.factory_pk, "
#define DEV_COLS                                                               \
	DEV_COLS_BASE "EXISTS (SELECT 1 FROM contracts c WHERE "               \
	              "c.device_id = d.id), d.credit, d.confirmed_seq, "      \
	              "d.confirmed_locked, d.confirmed_at, d.mac_seal, "      \
	              "d.token_memo"
/* DEV_COLS when the device's contract is joined as `c`. */
#define DEV_COLS_JOINED                                                        \
	DEV_COLS_BASE "c.ord IS NOT NULL, d.credit, d.confirmed_seq, "         \
	              "d.confirmed_locked, d.confirmed_at, d.mac_seal, "      \
	              "d.token_memo"
#define CONTRACT_COLS_C                                                        \
	"c.ord, c.device_id, c.tenant_id, c.created_at, c.loan_ref, "          \
	"c.currency, c.utc_offset, c.grace, c.max_offline, c.remind, "         \
	"c.restrict_mask, c.allow_apps, c.message, c.contact_name, "           \
	"c.contact_phones, c.sim_policy, c.tamper_policy"
#define DEV_NCOLS 42 /* columns of DEV_COLS */

static fl_err read_device(const PGresult *r, int i, struct fl_device *d)
{
	int64_t stolen;
	fl_err err;

	memset(d, 0, sizeof(*d));
	d->ord = pg_int(r, i, 0);
	TRY(pg_text(r, i, 1, d->id, sizeof(d->id)));
	TRY(pg_text(r, i, 2, d->tenant_id, sizeof(d->tenant_id)));
	TRY(pg_text(r, i, 3, d->imei, sizeof(d->imei)));
	TRY(pg_text(r, i, 4, d->imei2, sizeof(d->imei2)));
	TRY(pg_text(r, i, 5, d->serial, sizeof(d->serial)));
	TRY(pg_text(r, i, 6, d->model, sizeof(d->model)));
	d->created_at = pg_int(r, i, 7);
	if (!pg_null(r, i, 8)) {
		d->has_enroll_code = true;
		TRY(pg_blob(r, i, 8, d->enroll_hash, FL_HASH_LEN));
	}
	d->enroll_expires = pg_int(r, i, 9);
	d->enrolled_at = pg_int(r, i, 10);
	if (!pg_null(r, i, 11)) {
		d->has_keys = true;
		TRY(pg_blob(r, i, 11, d->device_pk, 32));
		TRY(pg_blob(r, i, 12, d->kx_pk, 32));
	}
	d->last_contact = pg_int(r, i, 13);
	d->req_counter = (uint64_t)pg_int(r, i, 14);
	d->tamper_at = pg_int(r, i, 15);
	TRY(pg_text(r, i, 16, d->tamper_report, sizeof(d->tamper_report)));
	d->sim_at = pg_int(r, i, 17);
	TRY(pg_text(r, i, 18, d->sim_report, sizeof(d->sim_report)));
	d->st.state = (enum fl_dev_state)pg_int(r, i, 19);
	/* 1: locked as stolen; 2: reported on a released device */
	stolen = pg_int(r, i, 20);
	d->st.stolen = stolen == 1;
	d->st.stolen_reported = stolen != 0;
	d->st.released_by_command = pg_int(r, i, 21) != 0;
	d->st.lock_cause = (enum fl_lock_cause)pg_int(r, i, 22);
	d->st.lock_at = pg_int(r, i, 23);
	d->st.unlock_until = pg_int(r, i, 24);
	d->st.paid_through = pg_int(r, i, 25);
	d->st.amount_due = pg_int(r, i, 26);
	d->st.amount_remaining = pg_int(r, i, 27);
	d->st.next_due_at = pg_int(r, i, 28);
	d->st.next_due_amount = pg_int(r, i, 29);
	d->st.next_change = pg_int(r, i, 30);
	d->st.decided_at = pg_int(r, i, 31);
	d->st.token_seq = (uint64_t)pg_int(r, i, 32);
	if (PQgetlength(r, i, 33) == FL_HASH_LEN)
		TRY(pg_blob(r, i, 33, d->st.outcome, FL_HASH_LEN));
	if (!pg_null(r, i, 34)) {
		d->has_factory = true;
		TRY(pg_blob(r, i, 34, d->factory_pk, 32));
	}
	d->has_contract = pg_int(r, i, 35) != 0;
	d->st.credit = pg_int(r, i, 36);
	d->confirmed.seq = (uint64_t)pg_int(r, i, 37);
	d->confirmed.locked = pg_int(r, i, 38) != 0;
	d->confirmed.at = pg_int(r, i, 39);
	/* a sealed key of another length is no sealed key (store.h) */
	if (!pg_null(r, i, 40) && PQgetlength(r, i, 40) == FL_MAC_SEAL_LEN) {
		d->has_mac_seal = true;
		TRY(pg_blob(r, i, 40, d->mac_seal, FL_MAC_SEAL_LEN));
	}
	if (!pg_null(r, i, 41) && PQgetlength(r, i, 41) > 0 &&
	    PQgetlength(r, i, 41) <= FL_TOKEN_MEMO_MAX) {
		d->token_memo_len = (size_t)PQgetlength(r, i, 41);
		TRY(pg_blob(r, i, 41, d->token_memo, d->token_memo_len));
	}
out:
	return err;
}

/* Runs a single-device SELECT into out. */
static fl_err one_device(struct fl_tx *tx, const char *sql,
                         const struct pg_params *p, struct fl_device *out)
{
	PGresult *r = NULL;
	fl_err err;

	memset(out, 0, sizeof(*out));
	TRY(pg_run(tx, sql, p, 0, &r));
	if (PQntuples(r) == 0) {
		err = FL_E_NOT_FOUND;
		goto out;
	}
	TRY(read_device(r, 0, out));
out:
	if (err != FL_OK)
		memset(out, 0, sizeof(*out));
	PQclear(r);
	return err;
}

static fl_err claim(struct fl_tx *tx, const char *imei, const char *device_id)
{
	static const char sql[] =
	        "INSERT INTO imei_claims (imei, device_id) VALUES ($1, $2)";
	struct pg_params p = {0};
	fl_err err;

	pg_p_text(&p, imei);
	pg_p_text(&p, device_id);
	err = pg_cmd(tx, sql, &p, PG_GUARD, NULL);
	if (err == FL_E_CONFLICT)
		err = FL_E_IMEI_IN_PROGRAM;
	return err;
}

fl_err pg_device_insert(struct fl_tx *tx, struct fl_device *d)
{
	static const char sql[] =
	        "INSERT INTO devices (id, tenant_id, imei, imei2, serial, "
	        "model, created_at, enroll_hash, enroll_expires) "
	        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ord";
	struct pg_params p = {0};
	PGresult *r = NULL;
	fl_err err;

	TRY(claim(tx, d->imei, d->id));
	if (d->imei2[0] != '\0')
		TRY(claim(tx, d->imei2, d->id));
	pg_p_text(&p, d->id);
	pg_p_text(&p, d->tenant_id);
	pg_p_text(&p, d->imei);
	pg_p_text(&p, d->imei2);
	pg_p_text(&p, d->serial);
	pg_p_text(&p, d->model);
	pg_p_int(&p, d->created_at);
	pg_p_blob(&p, d->has_enroll_code ? d->enroll_hash : NULL, FL_HASH_LEN);
	pg_p_int(&p, d->enroll_expires);
	TRY(pg_run(tx, sql, &p, PG_GUARD, &r));
	d->ord = pg_returned(r);
out:
	PQclear(r);
	return err;
}

fl_err pg_device_get(struct fl_tx *tx, const char *tenant_id, const char *id,
                     struct fl_device *out)
{
	static const char sql[] = "SELECT " DEV_COLS " FROM devices d "
	                          "WHERE d.id = $1 AND d.tenant_id = $2";
	struct pg_params p = {0};

	pg_p_text(&p, id);
	pg_p_text(&p, tenant_id);
	return one_device(tx, sql, &p, out);
}

fl_err pg_device_get_any(struct fl_tx *tx, const char *id,
                         struct fl_device *out)
{
	static const char sql[] =
	        "SELECT " DEV_COLS " FROM devices d WHERE d.id = $1";
	struct pg_params p = {0};

	pg_p_text(&p, id);
	return one_device(tx, sql, &p, out);
}

fl_err pg_device_by_imei(struct fl_tx *tx, const char *imei,
                         struct fl_device *out)
{
	static const char sql[] =
	        "SELECT " DEV_COLS " FROM devices d WHERE d.ord = "
	        "(SELECT max(ord) FROM (SELECT ord FROM devices WHERE imei = "
	        "$1 UNION ALL SELECT ord FROM devices WHERE imei2 = $1) u)";
	struct pg_params p = {0};

	pg_p_text(&p, imei);
	return one_device(tx, sql, &p, out);
}

fl_err pg_device_by_enroll_hash(struct fl_tx *tx,
                                const uint8_t hash[FL_HASH_LEN],
                                struct fl_device *out)
{
	static const char sql[] =
	        "SELECT " DEV_COLS " FROM devices d WHERE d.enroll_hash = $1";
	struct pg_params p = {0};

	pg_p_blob(&p, hash, FL_HASH_LEN);
	return one_device(tx, sql, &p, out);
}

/* Runs an UPDATE of one device; FL_E_NOT_FOUND if none changed. */
static fl_err update_one(struct fl_tx *tx, const char *sql,
                         const struct pg_params *p, int flags)
{
	int64_t n = 0;
	fl_err err = pg_cmd(tx, sql, p, flags, &n);

	if (err == FL_OK && n == 0)
		err = FL_E_NOT_FOUND;
	return err;
}

fl_err pg_device_set_enroll_code(struct fl_tx *tx, const char *id,
                                 const uint8_t *hash, fl_time expires)
{
	static const char sql[] = "UPDATE devices SET enroll_hash = $1, "
	                          "enroll_expires = $2 WHERE id = $3";
	struct pg_params p = {0};

	pg_p_blob(&p, hash, FL_HASH_LEN);
	pg_p_int(&p, hash != NULL ? expires : 0);
	pg_p_text(&p, id);
	/* a hash another device holds is a conflict the caller survives */
	return update_one(tx, sql, &p, PG_GUARD);
}

fl_err pg_device_enroll(struct fl_tx *tx, const char *id,
                        const uint8_t device_pk[32], const uint8_t kx_pk[32],
                        fl_time at)
{
	static const char sql[] =
	        "UPDATE devices SET device_pk = $1, kx_pk = $2, "
	        "enrolled_at = $3, enroll_hash = NULL, enroll_expires = 0, "
	        "mac_seal = NULL WHERE id = $4";
	struct pg_params p = {0};

	pg_p_blob(&p, device_pk, 32);
	pg_p_blob(&p, kx_pk, 32);
	pg_p_int(&p, at);
	pg_p_text(&p, id);
	return update_one(tx, sql, &p, 0);
}

fl_err pg_device_touch(struct fl_tx *tx, const char *id, fl_time at,
                       uint64_t counter)
{
	static const char sql[] =
	        "UPDATE devices SET last_contact = GREATEST(last_contact, $1), "
	        "req_counter = GREATEST(req_counter, $2) WHERE id = $3";
	struct pg_params p = {0};

	if (counter > (uint64_t)INT64_MAX)
		return FL_E_RANGE;
	pg_p_int(&p, at);
	pg_p_int(&p, (int64_t)counter);
	pg_p_text(&p, id);
	return update_one(tx, sql, &p, 0);
}

fl_err pg_device_report(struct fl_tx *tx, const char *id, bool sim, fl_time at,
                        const char *text)
{
	static const char sql_sim[] = "UPDATE devices SET sim_at = $1, "
	                              "sim_report = $2 WHERE id = $3";
	static const char sql_tamper[] = "UPDATE devices SET tamper_at = $1, "
	                                 "tamper_report = $2 WHERE id = $3";
	struct pg_params p = {0};

	if (strlen(text) >= FL_REPORT_MAX)
		return FL_E_TOO_LARGE;
	pg_p_int(&p, at);
	pg_p_text(&p, text);
	pg_p_text(&p, id);
	return update_one(tx, sim ? sql_sim : sql_tamper, &p, 0);
}

fl_err pg_device_set_status(struct fl_tx *tx, const char *id,
                            const struct fl_device_status *s)
{
	static const char sql[] =
	        "UPDATE devices SET state = $1, stolen = $2, "
	        "released_by_command = $3, lock_cause = $4, lock_at = $5, "
	        "unlock_until = $6, paid_through = $7, amount_due = $8, "
	        "amount_remaining = $9, next_due_at = $10, "
	        "next_due_amount = $11, next_change = $12, decided_at = $13, "
	        "token_seq = $14, outcome = $15, credit = $16 WHERE id = $17";
	struct pg_params p = {0};

	if (s->token_seq > (uint64_t)INT64_MAX)
		return FL_E_RANGE;
	pg_p_int(&p, (int64_t)s->state);
	pg_p_int(&p, s->stolen ? 1 : s->stolen_reported ? 2 : 0);
	pg_p_int(&p, s->released_by_command);
	pg_p_int(&p, (int64_t)s->lock_cause);
	pg_p_int(&p, s->lock_at);
	pg_p_int(&p, s->unlock_until);
	pg_p_int(&p, s->paid_through);
	pg_p_int(&p, s->amount_due);
	pg_p_int(&p, s->amount_remaining);
	pg_p_int(&p, s->next_due_at);
	pg_p_int(&p, s->next_due_amount);
	pg_p_int(&p, s->next_change);
	pg_p_int(&p, s->decided_at);
	pg_p_int(&p, (int64_t)s->token_seq);
	pg_p_blob(&p, s->outcome, FL_HASH_LEN);
	pg_p_int(&p, s->credit);
	pg_p_text(&p, id);
	return update_one(tx, sql, &p, 0);
}

fl_err pg_device_unclaim(struct fl_tx *tx, const char *id)
{
	static const char sql[] =
	        "DELETE FROM imei_claims WHERE device_id = $1";
	struct pg_params p = {0};

	pg_p_text(&p, id);
	return pg_cmd(tx, sql, &p, 0, NULL);
}

/* The device list, one statement per order as sqlite_devices.c has them
 * (the same filters and keys). strpos is SQLite's instr; lower() in the C
 * collation folds ASCII letters only, as SQLite's LIKE does, whatever the
 * database's locale. The loan reference is matched by one scan of the
 * tenant's contracts. Every parameter is named in every statement (with
 * its type), as PostgreSQL prepares them. */
#define PG_FOLD(x) "lower(" x " COLLATE \"C\")"
#define PG_LIST_WHERE                                                          \
	"d.tenant_id = $1 AND ($3::bigint < 0 OR d.state = $3::bigint) "       \
	"AND ($4::bigint = 0 OR d.amount_due > 0) "                            \
	"AND ($7::bigint = 0 OR d.tamper_at > 0) "                             \
	"AND ($8::bigint = 0 OR d.sim_at > 0) "                                \
	"AND ($10::bigint = 0 OR d.stolen != 0) "                              \
	"AND ($11::bigint = 0 OR (d.unlock_until > $11::bigint "               \
	"AND d.state != 4)) "                                                  \
	"AND ($5::text IS NULL OR strpos(d.imei, $5::text) > 0 "               \
	"OR strpos(d.imei2, $5::text) > 0 OR strpos(d.id, $5::text) > 0 "      \
	"OR strpos(" PG_FOLD("d.serial") ", " PG_FOLD("$5::text") ") > 0 "     \
	"OR strpos(" PG_FOLD("d.model") ", " PG_FOLD("$5::text") ") > 0 "      \
	"OR d.id IN (SELECT c2.device_id FROM contracts c2 WHERE "             \
	"c2.tenant_id = $1 AND strpos(" PG_FOLD("c2.loan_ref") ", "            \
	PG_FOLD("$5::text") ") > 0)) "
#define PG_LIST_SQL(KEY, DIR, AFTER)                                           \
	"SELECT " DEV_COLS " FROM devices d WHERE d.ord IN ("                  \
	"SELECT d.ord FROM devices d WHERE " PG_LIST_WHERE "AND " AFTER        \
	" ORDER BY " KEY " " DIR ", d.ord LIMIT $6) "                          \
	"ORDER BY " KEY " " DIR ", d.ord"
#define PG_AFTER_ASC(KEY)                                                      \
	"($9::bigint IS NULL OR " KEY " > $9::bigint OR (" KEY                 \
	" = $9::bigint AND d.ord > $2::bigint))"
#define PG_AFTER_DESC(KEY)                                                     \
	"($9::bigint IS NULL OR " KEY " < $9::bigint OR (" KEY                 \
	" = $9::bigint AND d.ord > $2::bigint))"
#define PG_LIST_SORTED(KEY)                                                    \
	{PG_LIST_SQL(KEY, "ASC", PG_AFTER_ASC(KEY)),                           \
	 PG_LIST_SQL(KEY, "DESC", PG_AFTER_DESC(KEY))}
#define PG_NEXT_DUE_KEY                                                        \
	"(CASE d.next_due_at WHEN 0 THEN 9223372036854775807 "                 \
	"ELSE d.next_due_at END)"

/* [enum fl_device_sort][desc]; keys as fl_device_sort_key() computes */
static const char *const pg_list_sql[FL_DSORT_COUNT][2] = {
        {PG_LIST_SQL("d.ord", "ASC",
                     "d.ord > $2::bigint AND ($9::bigint IS NULL OR TRUE)"),
         PG_LIST_SQL("d.ord", "DESC",
                     "($2::bigint = 0 OR d.ord < $2::bigint) AND "
                     "($9::bigint IS NULL OR TRUE)")},
        PG_LIST_SORTED("d.last_contact"),
        PG_LIST_SORTED("d.amount_due"),
        PG_LIST_SORTED(PG_NEXT_DUE_KEY),
        PG_LIST_SORTED("d.state"),
};

/* Only what a report over every device reads (fl_device_filter.lean). */
static const char pg_lean_sql[] =
        "SELECT d.ord, d.id, d.tenant_id, d.state, d.stolen, d.paid_through, "
        "d.amount_due, d.amount_remaining FROM devices d "
        "WHERE d.tenant_id = $1 AND d.ord > $2 ORDER BY d.ord LIMIT $3";

/* A tenant's devices with an exact IMEI, by the IMEI indexes. */
static const char pg_by_imei_sql[] =
        "SELECT " DEV_COLS " FROM devices d "
        "WHERE (d.imei = $2 OR d.imei2 = $2) AND d.tenant_id = $1 "
        "AND d.ord > $3 ORDER BY d.ord LIMIT $4";

fl_err pg_device_list(struct fl_tx *tx, const char *tenant_id,
                      const struct fl_device_filter *filter, int64_t after,
                      int limit, FL_STORE_LIST_FN(struct fl_device), void *ctx)
{
	static const struct fl_device_filter none = {.any_state = true};
	const struct fl_device_filter *f = filter != NULL ? filter : &none;
	struct fl_device *d = NULL;
	struct pg_params p = {0};
	PGresult *r = NULL;
	fl_err err;

	if ((unsigned)f->sort >= FL_DSORT_COUNT)
		return FL_E_INVALID;
	if (limit == 0)
		return FL_OK;
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return FL_E_NOMEM;
	pg_p_text(&p, tenant_id);
	if (f->lean || f->imei != NULL) {
		if (f->imei != NULL)
			pg_p_text(&p, f->imei);
		pg_p_int(&p, after);
		if (limit < 0)
			pg_p_text(&p, NULL);
		else
			pg_p_int(&p, limit);
		TRY(pg_run(tx, f->lean ? pg_lean_sql : pg_by_imei_sql, &p, 0,
		           &r));
		for (int i = 0; i < PQntuples(r); i++) {
			if (f->lean) {
				int64_t stolen = pg_int(r, i, 4);

				d->ord = pg_int(r, i, 0);
				TRY(pg_text(r, i, 1, d->id, sizeof(d->id)));
				TRY(pg_text(r, i, 2, d->tenant_id,
				            sizeof(d->tenant_id)));
				d->st.state = (enum fl_dev_state)pg_int(r, i, 3);
				d->st.stolen = stolen == 1;
				d->st.stolen_reported = stolen != 0;
				d->st.paid_through = pg_int(r, i, 5);
				d->st.amount_due = pg_int(r, i, 6);
				d->st.amount_remaining = pg_int(r, i, 7);
			} else {
				TRY(read_device(r, i, d));
			}
			TRY(fn(ctx, d));
		}
		goto out;
	}
	pg_p_int(&p, after);
	pg_p_int(&p, f->any_state ? -1 : (int64_t)f->state);
	pg_p_int(&p, f->overdue);
	pg_p_text(&p, f->q != NULL && f->q[0] != '\0' ? f->q : NULL);
	if (limit < 0)
		pg_p_text(&p, NULL);
	else
		pg_p_int(&p, limit);
	pg_p_int(&p, f->tamper);
	pg_p_int(&p, f->sim);
	if (f->has_key && f->sort != FL_DSORT_REGISTERED)
		pg_p_int(&p, f->after_key);
	else
		pg_p_text(&p, NULL);
	pg_p_int(&p, f->stolen);
	pg_p_int(&p, f->lock_held ? (f->now > 0 ? f->now : 1) : 0);
	TRY(pg_run(tx, pg_list_sql[f->sort][f->desc ? 1 : 0], &p, 0, &r));
	for (int i = 0; i < PQntuples(r); i++) {
		TRY(read_device(r, i, d));
		TRY(fn(ctx, d));
	}
out:
	PQclear(r);
	free(d);
	return err;
}

fl_err pg_device_due(struct fl_tx *tx, fl_time now, int limit,
                     char (*tenant_ids)[FL_ID_MAX], char (*ids)[FL_ID_MAX],
                     int *n)
{
	static const char sql[] =
	        "SELECT tenant_id, id FROM devices WHERE next_change > 0 AND "
	        "next_change <= $1 ORDER BY next_change LIMIT $2";
	struct pg_params p = {0};
	PGresult *r = NULL;
	fl_err err;

	*n = 0;
	if (limit <= 0) /* PostgreSQL refuses a negative LIMIT */
		return FL_OK;
	pg_p_int(&p, now);
	pg_p_int(&p, limit);
	TRY(pg_run(tx, sql, &p, 0, &r));
	for (int i = 0; i < PQntuples(r) && *n < limit; i++) {
		TRY(pg_text(r, i, 0, tenant_ids[*n], FL_ID_MAX));
		TRY(pg_text(r, i, 1, ids[*n], FL_ID_MAX));
		(*n)++;
	}
out:
	PQclear(r);
	return err;
}

fl_err pg_device_next_change(struct fl_tx *tx, fl_time after, fl_time *at)
{
	static const char sql[] = "SELECT min(next_change) FROM devices "
	                          "WHERE next_change > 0 AND next_change > $1";
	struct pg_params p = {0};
	PGresult *r = NULL;
	fl_err err;

	*at = 0;
	pg_p_int(&p, after);
	TRY(pg_run(tx, sql, &p, 0, &r));
	*at = pg_returned(r);
out:
	PQclear(r);
	return err;
}

fl_err pg_device_count(struct fl_tx *tx, int64_t by_state[5], int64_t *stolen)
{
	/* device_counts is kept by triggers (migration 4), in slots */
	static const char sql[] =
	        "SELECT state, sum(n)::bigint, "
	        "sum(CASE WHEN stolen <> 0 THEN n ELSE 0 END)::bigint "
	        "FROM device_counts GROUP BY state";
	PGresult *r = NULL;
	fl_err err;

	memset(by_state, 0, 5 * sizeof(by_state[0]));
	*stolen = 0;
	TRY(pg_run(tx, sql, NULL, 0, &r));
	for (int i = 0; i < PQntuples(r); i++) {
		int64_t s = pg_int(r, i, 0);

		if (s >= 0 && s < 5)
			by_state[s] = pg_int(r, i, 1);
		*stolen += pg_int(r, i, 2);
	}
out:
	PQclear(r);
	return err;
}

/* --- contracts ------------------------------------------------------------ */

static fl_err insert_items(struct fl_tx *tx, const char *device_id,
                           int64_t resched, const struct fl_installment *items,
                           size_t n)
{
	static const char sql[] =
	        "INSERT INTO installments (device_id, resched, idx, due_at, "
	        "amount) VALUES ($1, $2, $3, $4, $5)";
	fl_err err = FL_OK;

	for (size_t i = 0; i < n; i++) {
		struct pg_params p = {0};

		pg_p_text(&p, device_id);
		pg_p_int(&p, resched);
		pg_p_int(&p, (int64_t)i);
		pg_p_int(&p, items[i].due_at);
		pg_p_int(&p, items[i].amount);
		TRY(pg_cmd(tx, sql, &p, 0, NULL));
	}
out:
	return err;
}

fl_err pg_contract_insert(struct fl_tx *tx, struct fl_contract_rec *c)
{
	static const char sql[] =
	        "INSERT INTO contracts (device_id, tenant_id, created_at, "
	        "loan_ref, currency, utc_offset, grace, max_offline, remind, "
	        "restrict_mask, allow_apps, message, contact_name, "
	        "contact_phones, sim_policy, tamper_policy) VALUES ($1, $2, "
	        "$3, "
	        "$4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) "
	        "RETURNING ord";
	char apps[FL_CONTRACT_MAX_APPS * FL_APP_ID_MAX + 16];
	char phones[FL_CONTRACT_MAX_PHONES * FL_PHONE_MAX + 8];
	char remind[FL_POLICY_MAX_OFFSETS * 24 + 8];
	struct pg_params p = {0};
	PGresult *r = NULL;
	size_t used = 0;
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
	pg_p_text(&p, c->device_id);
	pg_p_text(&p, c->tenant_id);
	pg_p_int(&p, c->created_at);
	pg_p_text(&p, c->loan_ref);
	pg_p_text(&p, c->currency);
	pg_p_int(&p, c->utc_offset);
	pg_p_int(&p, c->grace);
	pg_p_int(&p, c->max_offline);
	pg_p_text(&p, remind);
	pg_p_int(&p, (int64_t)c->restrict_mask);
	pg_p_text(&p, apps);
	pg_p_text(&p, c->message);
	pg_p_text(&p, c->contact_name);
	pg_p_text(&p, phones);
	pg_p_int(&p, (int64_t)c->sim_policy);
	pg_p_int(&p, (int64_t)c->tamper_policy);
	TRY(pg_run(tx, sql, &p, PG_GUARD, &r));
	c->ord = pg_returned(r);
	TRY(insert_items(tx, c->device_id, 0, c->schedule, c->n_schedule));
out:
	PQclear(r);
	return err;
}

/* Reads a contract whose CONTRACT_COLS start at column b of row i. */
static fl_err read_contract_at(const PGresult *r, int i, int b,
                               struct fl_contract_rec *c)
{
	const char *remind;
	size_t n;
	fl_err err;

	memset(c, 0, sizeof(*c));
	c->ord = pg_int(r, i, b);
	TRY(pg_text(r, i, b + 1, c->device_id, sizeof(c->device_id)));
	TRY(pg_text(r, i, b + 2, c->tenant_id, sizeof(c->tenant_id)));
	c->created_at = pg_int(r, i, b + 3);
	TRY(pg_text(r, i, b + 4, c->loan_ref, sizeof(c->loan_ref)));
	TRY(pg_text(r, i, b + 5, c->currency, sizeof(c->currency)));
	c->utc_offset = (int32_t)pg_int(r, i, b + 6);
	c->grace = pg_int(r, i, b + 7);
	c->max_offline = pg_int(r, i, b + 8);
	/* binary text values are not NUL-terminated by PostgreSQL, but
	 * libpq adds a terminating NUL to every value */
	remind = PQgetvalue(r, i, b + 9);
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
	c->restrict_mask = (uint64_t)pg_int(r, i, b + 10);
	TRY(split_lines(PQgetvalue(r, i, b + 11), &c->allow_apps[0][0],
	                FL_APP_ID_MAX, FL_CONTRACT_MAX_APPS, &n));
	c->n_allow_apps = n;
	TRY(pg_text(r, i, b + 12, c->message, sizeof(c->message)));
	TRY(pg_text(r, i, b + 13, c->contact_name, sizeof(c->contact_name)));
	TRY(split_lines(PQgetvalue(r, i, b + 14), &c->contact_phones[0][0],
	                FL_PHONE_MAX, FL_CONTRACT_MAX_PHONES, &n));
	c->n_contact_phones = n;
	c->sim_policy = (enum fl_reaction)pg_int(r, i, b + 15);
	c->tamper_policy = (enum fl_reaction)pg_int(r, i, b + 16);
out:
	return err;
}

#define CONTRACT_COLS                                                          \
	"ord, device_id, tenant_id, created_at, loan_ref, currency, "          \
	"utc_offset, grace, max_offline, remind, restrict_mask, allow_apps, "  \
	"message, contact_name, contact_phones, sim_policy, tamper_policy"

/* Loads the installments of (device_id, resched) into a new array. */
static fl_err load_items(struct fl_tx *tx, const char *device_id,
                         int64_t resched, struct fl_installment **items,
                         size_t *n)
{
	static const char sql[] =
	        "SELECT due_at, amount FROM installments WHERE device_id = $1 "
	        "AND resched = $2 ORDER BY idx";
	struct fl_installment *arr = NULL;
	struct pg_params p = {0};
	PGresult *r = NULL;
	int rows;
	fl_err err;

	*items = NULL;
	*n = 0;
	pg_p_text(&p, device_id);
	pg_p_int(&p, resched);
	TRY(pg_run(tx, sql, &p, 0, &r));
	rows = PQntuples(r);
	if (rows > FL_POLICY_MAX_INSTALLMENTS) {
		err = FL_E_TOO_LARGE;
		goto out;
	}
	if (rows > 0) {
		arr = calloc((size_t)rows, sizeof(*arr));
		if (arr == NULL) {
			err = FL_E_NOMEM;
			goto out;
		}
	}
	for (int i = 0; i < rows; i++) {
		arr[i].due_at = pg_int(r, i, 0);
		arr[i].amount = pg_int(r, i, 1);
	}
	*items = arr;
	*n = (size_t)rows;
	arr = NULL;
out:
	free(arr);
	PQclear(r);
	return err;
}

fl_err pg_contract_get(struct fl_tx *tx, const char *tenant_id,
                       const char *device_id, struct fl_contract_rec *out)
{
	static const char sql[] = "SELECT " CONTRACT_COLS " FROM contracts "
	                          "WHERE device_id = $1 AND tenant_id = $2";
	struct pg_params p = {0};
	PGresult *r = NULL;
	fl_err err;

	memset(out, 0, sizeof(*out));
	pg_p_text(&p, device_id);
	pg_p_text(&p, tenant_id);
	TRY(pg_run(tx, sql, &p, 0, &r));
	if (PQntuples(r) == 0) {
		err = FL_E_NOT_FOUND;
		goto out;
	}
	TRY(read_contract_at(r, 0, 0, out));
	TRY(load_items(tx, device_id, 0, &out->schedule, &out->n_schedule));
out:
	PQclear(r);
	if (err != FL_OK)
		fl_contract_rec_clear(out);
	return err;
}

fl_err pg_contract_list(struct fl_tx *tx, const char *tenant_id, int64_t after,
                        int limit, FL_STORE_LIST_FN(struct fl_contract_rec),
                        void *ctx)
{
	static const char sql[] = "SELECT " CONTRACT_COLS " FROM contracts "
	                          "WHERE tenant_id = $1 AND ord > $2 "
	                          "ORDER BY ord LIMIT $3";
	struct fl_contract_rec *c = NULL;
	struct pg_params p = {0};
	PGresult *r = NULL;
	fl_err err;

	c = malloc(sizeof(*c));
	if (c == NULL)
		return FL_E_NOMEM;
	pg_p_text(&p, tenant_id);
	pg_p_int(&p, after);
	if (limit < 0)
		pg_p_text(&p, NULL);
	else
		pg_p_int(&p, limit);
	TRY(pg_run(tx, sql, &p, 0, &r));
	for (int i = 0; i < PQntuples(r); i++) {
		TRY(read_contract_at(r, i, 0, c));
		TRY(fn(ctx, c));
	}
out:
	PQclear(r);
	free(c);
	return err;
}

/* FL_OK if device_id belongs to tenant_id. */
static fl_err owned(struct fl_tx *tx, const char *tenant_id,
                    const char *device_id)
{
	static const char sql[] =
	        "SELECT 1 FROM devices WHERE id = $1 AND tenant_id = $2";
	struct pg_params p = {0};
	PGresult *r = NULL;
	fl_err err;

	pg_p_text(&p, device_id);
	pg_p_text(&p, tenant_id);
	TRY(pg_run(tx, sql, &p, 0, &r));
	if (PQntuples(r) == 0)
		err = FL_E_NOT_FOUND;
out:
	PQclear(r);
	return err;
}

fl_err pg_reschedule_insert(struct fl_tx *tx, const char *tenant_id,
                            const char *device_id, struct fl_reschedule_rec *r)
{
	static const char sql[] =
	        "INSERT INTO reschedules (device_id, tenant_id, from_at, "
	        "created_at, actor, reason) VALUES ($1, $2, $3, $4, $5, $6) "
	        "RETURNING ord";
	struct pg_params p = {0};
	PGresult *res = NULL;
	fl_err err;

	TRY(owned(tx, tenant_id, device_id));
	pg_p_text(&p, device_id);
	pg_p_text(&p, tenant_id);
	pg_p_int(&p, r->from);
	pg_p_int(&p, r->created_at);
	pg_p_text(&p, r->actor);
	pg_p_text(&p, r->reason);
	TRY(pg_run(tx, sql, &p, 0, &res));
	r->ord = pg_returned(res);
	TRY(insert_items(tx, device_id, r->ord, r->schedule, r->n_schedule));
out:
	PQclear(res);
	return err;
}

/* --- payments ------------------------------------------------------------- */

#define PAY_COLS                                                               \
	"ord, id, tenant_id, device_id, amount, paid_at, reference, "          \
	"recorded_at, recorded_by, reversed_at, reverse_reason, reversed_by"

static fl_err read_payment(const PGresult *r, int i, struct fl_payment_rec *p)
{
	fl_err err;

	memset(p, 0, sizeof(*p));
	p->ord = pg_int(r, i, 0);
	TRY(pg_text(r, i, 1, p->id, sizeof(p->id)));
	TRY(pg_text(r, i, 2, p->tenant_id, sizeof(p->tenant_id)));
	TRY(pg_text(r, i, 3, p->device_id, sizeof(p->device_id)));
	p->amount = pg_int(r, i, 4);
	p->paid_at = pg_int(r, i, 5);
	TRY(pg_text(r, i, 6, p->reference, sizeof(p->reference)));
	p->recorded_at = pg_int(r, i, 7);
	TRY(pg_text(r, i, 8, p->recorded_by, sizeof(p->recorded_by)));
	p->reversed_at = pg_int(r, i, 9);
	TRY(pg_text(r, i, 10, p->reverse_reason, sizeof(p->reverse_reason)));
	TRY(pg_text(r, i, 11, p->reversed_by, sizeof(p->reversed_by)));
out:
	return err;
}

fl_err pg_payment_insert(struct fl_tx *tx, struct fl_payment_rec *pay)
{
	static const char sql[] =
	        "INSERT INTO payments (id, tenant_id, device_id, amount, "
	        "paid_at, reference, recorded_at, recorded_by) "
	        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ord";
	struct pg_params p = {0};
	PGresult *r = NULL;
	fl_err err;

	TRY(owned(tx, pay->tenant_id, pay->device_id));
	pg_p_text(&p, pay->id);
	pg_p_text(&p, pay->tenant_id);
	pg_p_text(&p, pay->device_id);
	pg_p_int(&p, pay->amount);
	pg_p_int(&p, pay->paid_at);
	pg_p_text(&p, pay->reference);
	pg_p_int(&p, pay->recorded_at);
	pg_p_text(&p, pay->recorded_by);
	TRY(pg_run(tx, sql, &p, PG_GUARD, &r));
	pay->ord = pg_returned(r);
out:
	PQclear(r);
	return err;
}

/* The one payment sql (of PAY_COLS, two text parameters a and b)
 * selects into *out; FL_E_NOT_FOUND when none. */
static fl_err payment_one(struct fl_tx *tx, const char *sql, const char *a,
                          const char *b, struct fl_payment_rec *out)
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
	TRY(read_payment(r, 0, out));
out:
	if (err != FL_OK)
		memset(out, 0, sizeof(*out));
	PQclear(r);
	return err;
}

fl_err pg_payment_get(struct fl_tx *tx, const char *tenant_id, const char *id,
                      struct fl_payment_rec *out)
{
	static const char sql[] = "SELECT " PAY_COLS " FROM payments "
	                          "WHERE id = $1 AND tenant_id = $2";

	return payment_one(tx, sql, id, tenant_id, out);
}

fl_err pg_payment_by_reference(struct fl_tx *tx, const char *tenant_id,
                               const char *reference,
                               struct fl_payment_rec *out)
{
	static const char sql[] = "SELECT " PAY_COLS " FROM payments "
	                          "WHERE tenant_id = $1 AND reference = $2 "
	                          "AND reference <> '' ORDER BY ord LIMIT 1";

	return payment_one(tx, sql, tenant_id, reference, out);
}

fl_err pg_payment_reverse(struct fl_tx *tx, const char *tenant_id,
                          const char *id, fl_time at, const char *reason,
                          const char *by)
{
	static const char sql[] =
	        "UPDATE payments SET reversed_at = $1, reverse_reason = $2, "
	        "reversed_by = $3 WHERE id = $4 AND tenant_id = $5 "
	        "AND reversed_at = 0";
	struct fl_payment_rec pay;
	struct pg_params p = {0};
	int64_t n = 0;
	fl_err err;

	TRY(pg_payment_get(tx, tenant_id, id, &pay));
	pg_p_int(&p, at);
	pg_p_text(&p, reason);
	pg_p_text(&p, by);
	pg_p_text(&p, id);
	pg_p_text(&p, tenant_id);
	TRY(pg_cmd(tx, sql, &p, 0, &n));
	/* reversed already, or by a concurrent transaction just now */
	if (n == 0)
		err = FL_E_STATE;
out:
	return err;
}

fl_err pg_payment_list(struct fl_tx *tx, const char *tenant_id,
                       const char *device_id, int64_t after, int limit,
                       FL_STORE_LIST_FN(struct fl_payment_rec), void *ctx)
{
	static const char sql[] =
	        "SELECT " PAY_COLS " FROM payments WHERE tenant_id = $1 "
	        "AND ($2::text IS NULL OR device_id = $2::text) AND ord > $3 "
	        "ORDER BY ord LIMIT $4";
	struct fl_payment_rec pay;
	struct pg_params p = {0};
	PGresult *r = NULL;
	fl_err err;

	pg_p_text(&p, tenant_id);
	pg_p_text(&p, device_id);
	pg_p_int(&p, after);
	if (limit < 0)
		pg_p_text(&p, NULL);
	else
		pg_p_int(&p, limit);
	TRY(pg_run(tx, sql, &p, 0, &r));
	for (int i = 0; i < PQntuples(r); i++) {
		TRY(read_payment(r, i, &pay));
		TRY(fn(ctx, &pay));
	}
out:
	PQclear(r);
	return err;
}

/* --- commands ------------------------------------------------------------- */

fl_err pg_command_insert(struct fl_tx *tx, const char *tenant_id,
                         const char *device_id, struct fl_command_rec *c)
{
	static const char sql[] =
	        "INSERT INTO commands (tenant_id, device_id, kind, issued_at, "
	        "at, reason, actor, show_reason) VALUES ($1, $2, $3, $4, $5, "
	        "$6, $7, $8) RETURNING ord";
	struct pg_params p = {0};
	PGresult *r = NULL;
	fl_err err;

	TRY(owned(tx, tenant_id, device_id));
	pg_p_text(&p, tenant_id);
	pg_p_text(&p, device_id);
	pg_p_int(&p, (int64_t)c->kind);
	pg_p_int(&p, c->issued_at);
	pg_p_int(&p, c->at);
	pg_p_text(&p, c->reason);
	pg_p_text(&p, c->actor);
	pg_p_int(&p, c->show_reason);
	TRY(pg_run(tx, sql, &p, 0, &r));
	c->ord = pg_returned(r);
out:
	PQclear(r);
	return err;
}

fl_err pg_command_get(struct fl_tx *tx, const char *tenant_id,
                      const char *device_id, int64_t ord,
                      struct fl_command_rec *out)
{
	static const char sql[] =
	        "SELECT ord, kind, issued_at, at, reason, actor, show_reason, "
	        "cancelled_at, cancelled_by, cancel_reason FROM commands "
	        "WHERE ord = $1 AND device_id = $2 AND tenant_id = $3";
	struct pg_params p = {0};
	PGresult *r = NULL;
	fl_err err;

	memset(out, 0, sizeof(*out));
	pg_p_int(&p, ord);
	pg_p_text(&p, device_id);
	pg_p_text(&p, tenant_id);
	TRY(pg_run(tx, sql, &p, 0, &r));
	if (PQntuples(r) == 0) {
		err = FL_E_NOT_FOUND;
		goto out;
	}
	out->ord = pg_int(r, 0, 0);
	out->kind = (enum fl_cmd_kind)pg_int(r, 0, 1);
	out->issued_at = pg_int(r, 0, 2);
	out->at = pg_int(r, 0, 3);
	TRY(pg_text(r, 0, 4, out->reason, sizeof(out->reason)));
	TRY(pg_text(r, 0, 5, out->actor, sizeof(out->actor)));
	out->show_reason = pg_int(r, 0, 6) != 0;
	out->cancelled_at = pg_int(r, 0, 7);
	TRY(pg_text(r, 0, 8, out->cancelled_by, sizeof(out->cancelled_by)));
	TRY(pg_text(r, 0, 9, out->cancel_reason, sizeof(out->cancel_reason)));
out:
	if (err != FL_OK)
		memset(out, 0, sizeof(*out));
	PQclear(r);
	return err;
}

fl_err pg_command_cancel(struct fl_tx *tx, const char *tenant_id,
                         const char *device_id, int64_t ord, fl_time at,
                         const char *by, const char *reason)
{
	static const char sql[] =
	        "UPDATE commands SET cancelled_at = $1, cancelled_by = $2, "
	        "cancel_reason = $3 WHERE ord = $4 AND cancelled_at = 0";
	struct fl_command_rec c;
	struct pg_params p = {0};
	int64_t n = 0;
	fl_err err;

	TRY(pg_command_get(tx, tenant_id, device_id, ord, &c));
	pg_p_int(&p, at);
	pg_p_text(&p, by);
	pg_p_text(&p, reason);
	pg_p_int(&p, ord);
	TRY(pg_cmd(tx, sql, &p, 0, &n));
	/* cancelled already, or by a concurrent transaction just now; the
	 * device's inputs changed: its row is re-decided and written by the
	 * caller in this transaction */
	if (n == 0)
		err = FL_E_STATE;
out:
	return err;
}

/* --- decision inputs ------------------------------------------------------ */

/* Everything of one device's inputs besides the contract row, in one
 * statement (as sqlite_devices.c: kind in the first column, each kind in
 * its order by columns 2 and 3). */
static const char extras_sql[] =
        "SELECT 0::bigint, resched, idx, due_at, amount, NULL::text, "
        "0::bigint, 0::bigint, 0::bigint FROM installments "
        "WHERE device_id = $1 "
        "UNION ALL SELECT 1, ord, ord, from_at, 0, NULL, 0, 0, 0 "
        "FROM reschedules WHERE device_id = $1 "
        "UNION ALL SELECT 2, paid_at, ord, amount, reversed_at, NULL, 0, 0, "
        "0 FROM payments WHERE device_id = $1 "
        "UNION ALL SELECT 3, ord, ord, issued_at, at, reason, kind, "
        "show_reason, cancelled_at FROM commands WHERE device_id = $1 "
        "ORDER BY 2, 3";

/* Files row i of extras_sql into in (store_int.h "device inputs"). */
static fl_err extras_row(const PGresult *r, int i, struct fl_device_inputs *in,
                         struct fl_store_extras *x)
{
	struct fl_store_extra e = {
	        .kind = pg_int(r, i, 0),
	        .a = pg_int(r, i, 1),
	        .b = pg_int(r, i, 2),
	        .c = pg_int(r, i, 3),
	        .d = pg_int(r, i, 4),
	        .cmd_kind = (int)pg_int(r, i, 6),
	        .cmd_show = pg_int(r, i, 7) != 0,
	        .cancelled = pg_int(r, i, 8),
	};
	char *reason = NULL;
	fl_err err = fl_store_extras_add(x, in, &e, &reason);

	if (err == FL_OK && reason != NULL)
		err = pg_text(r, i, 5, reason, FL_REASON_MAX);
	return err;
}

/* Files into in (whose contract row, if any, is read already) the rows
 * of extras_sql: the device's schedule, reschedules, payments and
 * commands. */
static fl_err file_extras(const PGresult *r, struct fl_device_inputs *in)
{
	struct fl_store_extras x;
	fl_err err = FL_OK;

	memset(&x, 0, sizeof(x));
	for (int row = 0; row < PQntuples(r) && err == FL_OK; row++)
		err = extras_row(r, row, in, &x);
	fl_store_extras_end(&x, in, err == FL_OK);
	return err;
}

fl_err pg_device_inputs(struct fl_tx *tx, const char *tenant_id,
                        const char *device_id, struct fl_device_inputs *out)
{
	static const char sql[] =
	        "SELECT c.ord IS NOT NULL, " CONTRACT_COLS_C " FROM devices d "
	        "LEFT JOIN contracts c ON c.device_id = d.id "
	        "AND c.tenant_id = d.tenant_id "
	        "WHERE d.id = $1 AND d.tenant_id = $2";
	struct pg_params p = {0};
	PGresult *r = NULL;
	fl_err err;

	struct pg_params q = {0};
	PGresult *x = NULL;

	memset(out, 0, sizeof(*out));
	pg_p_text(&p, device_id);
	pg_p_text(&p, tenant_id);
	pg_p_text(&q, device_id);
	/* the row and the extras in one round trip */
	TRY(pg_run_pair(tx, sql, &p, extras_sql, &q, &r, &x));
	if (PQntuples(r) == 0) {
		err = FL_E_NOT_FOUND;
		goto out;
	}
	if (pg_int(r, 0, 0) != 0) {
		TRY(read_contract_at(r, 0, 1, &out->contract));
		out->has_contract = true;
	}
	TRY(file_extras(x, out));
out:
	PQclear(r);
	PQclear(x);
	if (err != FL_OK)
		fl_device_inputs_clear(out);
	return err;
}

fl_err pg_device_load(struct fl_tx *tx, const char *tenant_id,
                      const char *device_id, struct fl_device *dev,
                      struct fl_device_inputs *in)
{
	static const char sql[] = "SELECT " DEV_COLS_JOINED ", " CONTRACT_COLS_C
	                          " FROM devices d "
	                          "LEFT JOIN contracts c ON c.device_id = d.id "
	                          "AND c.tenant_id = d.tenant_id "
	                          "WHERE d.id = $1 AND d.tenant_id = $2";
	struct pg_params p = {0};
	PGresult *r = NULL;
	fl_err err;

	struct pg_params q = {0};
	PGresult *x = NULL;

	memset(in, 0, sizeof(*in));
	memset(dev, 0, sizeof(*dev));
	pg_p_text(&p, device_id);
	pg_p_text(&p, tenant_id);
	pg_p_text(&q, device_id);
	/* the row and the extras in one round trip */
	TRY(pg_run_pair(tx, sql, &p, extras_sql, &q, &r, &x));
	if (PQntuples(r) == 0) {
		err = FL_E_NOT_FOUND;
		goto out;
	}
	TRY(read_device(r, 0, dev));
	if (!pg_null(r, 0, DEV_NCOLS)) {
		TRY(read_contract_at(r, 0, DEV_NCOLS, &in->contract));
		in->has_contract = true;
	}
	TRY(file_extras(x, in));
out:
	PQclear(r);
	PQclear(x);
	if (err != FL_OK) {
		fl_device_inputs_clear(in);
		memset(dev, 0, sizeof(*dev));
	}
	return err;
}

/* --- the sweep's batches (store.h) ----------------------------------------- */

/* A growing text buffer for array literals ("{...}"). */
struct pg_buf {
	char *s;
	size_t n, cap;
	bool nomem;
};

static void buf_put(struct pg_buf *b, const char *s, size_t len)
{
	if (b->nomem)
		return;
	if (b->n + len + 1 > b->cap) {
		size_t nc = b->cap ? b->cap * 2 : 256;
		char *ns;

		while (nc < b->n + len + 1)
			nc *= 2;
		if ((ns = realloc(b->s, nc)) == NULL) {
			b->nomem = true;
			return;
		}
		b->s = ns;
		b->cap = nc;
	}
	memcpy(b->s + b->n, s, len);
	b->n += len;
	b->s[b->n] = '\0';
}

/* Appends a text array element, quoted ("..." with " and \ escaped),
 * after a comma unless it is the first. */
static void buf_text_item(struct pg_buf *b, const char *s, bool first)
{
	if (!first)
		buf_put(b, ",", 1);
	buf_put(b, "\"", 1);
	for (const char *p = s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			buf_put(b, "\\", 1);
		buf_put(b, p, 1);
	}
	buf_put(b, "\"", 1);
}

static void buf_int_item(struct pg_buf *b, int64_t v, bool first)
{
	char num[24];
	int len = snprintf(num, sizeof(num), "%s%lld", first ? "" : ",",
	                   (long long)v);

	buf_put(b, num, (size_t)len);
}

/* The ids of a batch as one text[] literal. */
static fl_err id_array(struct pg_buf *b, const char (*ids)[FL_ID_MAX], int n)
{
	buf_put(b, "{", 1);
	for (int i = 0; i < n; i++)
		buf_text_item(b, ids[i], i == 0);
	buf_put(b, "}", 1);
	return b->nomem ? FL_E_NOMEM : FL_OK;
}

/* The due devices this transaction could lock now, each locked
 * (pg_try_advisory_xact_lock, the key of pg_lock_device): one statement,
 * whose snapshot came before the locks. The rows are read after it. */
static const char due_lock_sql[] =
        "WITH due AS MATERIALIZED (SELECT id FROM devices "
        "WHERE next_change > 0 AND next_change <= $1 "
        "ORDER BY next_change LIMIT $2) "
        "SELECT id FROM due WHERE pg_try_advisory_xact_lock("
        "hashtextextended('finlock.device:' || id, 0))";

/* The rows and contracts of a batch, read after its locks. */
static const char batch_rows_sql[] =
        "SELECT " DEV_COLS_JOINED ", " CONTRACT_COLS_C " FROM devices d "
        "LEFT JOIN contracts c ON c.device_id = d.id "
        "AND c.tenant_id = d.tenant_id WHERE d.id = ANY($1::text[])";

/* extras_sql for a batch: each row names its device (column 10), the
 * rows of one device together, each in its order. */
static const char batch_extras_sql[] =
        "SELECT 0::bigint, resched, idx, due_at, amount, NULL::text, "
        "0::bigint, 0::bigint, 0::bigint, device_id FROM installments "
        "WHERE device_id = ANY($1::text[]) "
        "UNION ALL SELECT 1, ord, ord, from_at, 0, NULL, 0, 0, 0, device_id "
        "FROM reschedules WHERE device_id = ANY($1::text[]) "
        "UNION ALL SELECT 2, paid_at, ord, amount, reversed_at, NULL, 0, 0, "
        "0, device_id FROM payments WHERE device_id = ANY($1::text[]) "
        "UNION ALL SELECT 3, ord, ord, issued_at, at, reason, kind, "
        "show_reason, cancelled_at, device_id FROM commands "
        "WHERE device_id = ANY($1::text[]) ORDER BY 10, 2, 3";

/* The index of id among devs[0..n) (sorted by id), or -1. */
static int dev_index(const struct fl_device *devs, int n, const char *id)
{
	int lo = 0, hi = n - 1;

	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2;
		int c = strcmp(devs[mid].id, id);

		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

/* Files the extras rows of a batch into ins (devs sorted by id). */
static fl_err batch_extras(const PGresult *r, const struct fl_device *devs,
                           struct fl_device_inputs *ins, int n)
{
	struct fl_store_extras x;
	char id[FL_ID_MAX];
	int cur = -1;
	fl_err err = FL_OK;

	memset(&x, 0, sizeof(x));
	for (int row = 0; row < PQntuples(r) && err == FL_OK; row++) {
		if ((err = pg_text(r, row, 9, id, sizeof(id))) != FL_OK)
			break;
		if (cur < 0 || strcmp(devs[cur].id, id) != 0) {
			if (cur >= 0)
				fl_store_extras_end(&x, &ins[cur], true);
			if ((cur = dev_index(devs, n, id)) < 0) {
				err = FL_E_CORRUPT; /* a row of no device asked */
				break;
			}
		}
		err = extras_row(r, row, &ins[cur], &x);
	}
	if (cur >= 0)
		fl_store_extras_end(&x, &ins[cur], err == FL_OK);
	return err;
}

static int id_cmp(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

fl_err pg_device_due_load(struct fl_tx *tx, fl_time now, int limit,
                          struct fl_device *devs, struct fl_device_inputs *ins,
                          int *n)
{
	char(*ids)[FL_ID_MAX] = NULL;
	bool *got = NULL;
	struct pg_buf arr = {0};
	struct pg_params p = {0}, q = {0};
	PGresult *r = NULL, *x = NULL;
	int k = 0, m = 0;
	fl_err err;

	*n = 0;
	if (!tx->base.write)
		return FL_E_STATE; /* locks are a write transaction's */
	pg_p_int(&p, now);
	pg_p_int(&p, limit);
	TRY(pg_run(tx, due_lock_sql, &p, 0, &r));
	k = PQntuples(r) < limit ? PQntuples(r) : limit;
	if (k == 0)
		goto out;
	ids = calloc((size_t)k, sizeof(*ids));
	got = calloc((size_t)k, sizeof(*got));
	if (ids == NULL || got == NULL) {
		err = FL_E_NOMEM;
		goto out;
	}
	for (int i = 0; i < k; i++)
		TRY(pg_text(r, i, 0, ids[i], FL_ID_MAX));
	PQclear(r);
	r = NULL;
	qsort(ids, (size_t)k, sizeof(*ids), id_cmp);
	for (int i = 0; i < k; i++)
		memset(&ins[i], 0, sizeof(ins[i]));
	m = k; /* ins[0..k) are cleared on failure */
	TRY(id_array(&arr, (const char(*)[FL_ID_MAX])ids, k));
	pg_p_text(&q, arr.s);
	/* (two round trips: a pipeline sending a batch's ids twice while
	 * the first statement's rows come back could fill both ways of the
	 * connection in blocking mode) */
	TRY(pg_run(tx, batch_rows_sql, &q, 0, &r));
	/* each row in its id's place: devs in id order */
	for (int i = 0; i < PQntuples(r); i++) {
		char id[FL_ID_MAX];
		char(*at)[FL_ID_MAX];
		int j;

		TRY(pg_text(r, i, 1, id, sizeof(id)));
		at = bsearch(id, ids, (size_t)k, sizeof(*ids), id_cmp);
		if (at == NULL || got[j = (int)(at - ids)]) {
			err = FL_E_CORRUPT;
			goto out;
		}
		TRY(read_device(r, i, &devs[j]));
		if (!pg_null(r, i, DEV_NCOLS)) {
			TRY(read_contract_at(r, i, DEV_NCOLS, &ins[j].contract));
			ins[j].has_contract = true;
		}
		got[j] = true;
	}
	PQclear(r);
	r = NULL;
	/* a device deleted since it was found due leaves a gap */
	m = 0;
	for (int i = 0; i < k; i++) {
		if (!got[i])
			continue;
		if (m != i) {
			devs[m] = devs[i];
			ins[m] = ins[i];
			memset(&ins[i], 0, sizeof(ins[i]));
		}
		m++;
	}
	TRY(pg_run(tx, batch_extras_sql, &q, 0, &x));
	TRY(batch_extras(x, devs, ins, m));
out:
	if (err != FL_OK) {
		for (int i = 0; i < m; i++)
			fl_device_inputs_clear(&ins[i]);
		m = 0;
	}
	*n = m;
	PQclear(r);
	PQclear(x);
	free(arr.s);
	free(got);
	free(ids);
	return err;
}

/* The decisions of a batch in one statement: every column an array. The
 * counts by state follow in the same statement (one upsert per state and
 * stolen flag changed, from each row's values before and after), while
 * finlock.counted keeps the update trigger from counting the rows one by
 * one (migration 15); its answer is the number of devices updated. The
 * row before is read in the statement's snapshot, taken after the batch
 * locked its devices, which every change of state takes first. */
static const char status_many_sql[] =
        "WITH w AS (UPDATE devices d SET state = u.state, "
        "stolen = u.stolen, "
        "released_by_command = u.rbc, lock_cause = u.lc, lock_at = u.la, "
        "unlock_until = u.uu, paid_through = u.pt, amount_due = u.ad, "
        "amount_remaining = u.ar, next_due_at = u.nda, "
        "next_due_amount = u.ndm, next_change = u.nc, decided_at = u.da, "
        "token_seq = u.ts, outcome = decode(u.oc, 'hex'), credit = u.cr "
        "FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], "
        "$5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], "
        "$9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[], "
        "$13::bigint[], $14::bigint[], $15::bigint[], $16::text[], "
        "$17::bigint[]) AS u(id, state, stolen, rbc, lc, la, uu, pt, ad, ar, "
        "nda, ndm, nc, da, ts, oc, cr), devices o "
        "WHERE d.id = u.id AND o.ord = d.ord "
        "RETURNING o.state AS os, o.stolen AS ot, d.state AS ns, "
        "d.stolen AS nt), "
        "c AS (INSERT INTO device_counts AS dc (state, stolen, slot, n) "
        "SELECT s, t, pg_backend_pid() % 64, sum(k) FROM "
        "(SELECT os AS s, ot AS t, -1 AS k FROM w "
        "WHERE os <> ns OR ot <> nt "
        "UNION ALL SELECT ns, nt, 1 FROM w WHERE os <> ns OR ot <> nt) x "
        "GROUP BY s, t HAVING sum(k) <> 0 "
        "ON CONFLICT (state, stolen, slot) DO UPDATE SET n = dc.n + "
        "excluded.n) "
        "SELECT count(*) FROM w";

static const char counted_on_sql[] =
        "SELECT set_config('finlock.counted', 'on', true)";
static const char counted_off_sql[] =
        "SELECT set_config('finlock.counted', '', true)";

#define STATUS_COLS 17

fl_err pg_device_set_status_many(struct fl_tx *tx,
                                 const struct fl_status_write *w, int n)
{
	struct pg_buf col[STATUS_COLS];
	struct pg_params p = {0};
	PGresult *r = NULL;
	int64_t changed = 0;
	fl_err err = FL_OK;

	memset(col, 0, sizeof(col));
	for (int c = 0; c < STATUS_COLS; c++)
		buf_put(&col[c], "{", 1);
	for (int i = 0; i < n; i++) {
		const struct fl_device_status *s = w[i].st;
		const int64_t v[STATUS_COLS] = {
		        0,
		        (int64_t)s->state,
		        s->stolen ? 1 : s->stolen_reported ? 2 : 0,
		        s->released_by_command,
		        (int64_t)s->lock_cause,
		        s->lock_at,
		        s->unlock_until,
		        s->paid_through,
		        s->amount_due,
		        s->amount_remaining,
		        s->next_due_at,
		        s->next_due_amount,
		        s->next_change,
		        s->decided_at,
		        (int64_t)s->token_seq,
		        0,
		        s->credit,
		};
		char hex[2 * FL_HASH_LEN + 1];

		if (s->token_seq > (uint64_t)INT64_MAX) {
			err = FL_E_RANGE;
			goto out;
		}
		buf_text_item(&col[0], w[i].id, i == 0);
		for (int c = 1; c < STATUS_COLS; c++)
			if (c != 15)
				buf_int_item(&col[c], v[c], i == 0);
		for (int b = 0; b < FL_HASH_LEN; b++)
			snprintf(hex + 2 * b, 3, "%02x", s->outcome[b]);
		buf_text_item(&col[15], hex, i == 0);
	}
	for (int c = 0; c < STATUS_COLS; c++) {
		buf_put(&col[c], "}", 1);
		if (col[c].nomem) {
			err = FL_E_NOMEM;
			goto out;
		}
		pg_p_text(&p, col[c].s);
	}
	TRY(pg_cmd(tx, counted_on_sql, NULL, 0, NULL));
	TRY(pg_run(tx, status_many_sql, &p, 0, &r));
	changed = pg_returned(r);
	TRY(pg_cmd(tx, counted_off_sql, NULL, 0, NULL));
	if (changed != n)
		err = FL_E_NOT_FOUND;
out:
	PQclear(r);
	for (int c = 0; c < STATUS_COLS; c++)
		free(col[c].s);
	return err;
}

/* The state changes of a batch in one statement (pg_changes.c adds one). */
static const char changes_many_sql[] =
        "INSERT INTO state_changes (tenant_id, device_id, at, from_state, "
        "to_state, cause, token_seq, paid_at, confirmed_at) "
        "SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], "
        "$4::bigint[], $5::bigint[], $6::text[], $7::bigint[], "
        "$8::bigint[], $9::bigint[])";

#define CHANGE_COLS 9

fl_err pg_state_change_add_many(struct fl_tx *tx,
                                const struct fl_state_change *c, int n)
{
	struct pg_buf col[CHANGE_COLS];
	struct pg_params p = {0};
	fl_err err = FL_OK;

	memset(col, 0, sizeof(col));
	for (int k = 0; k < CHANGE_COLS; k++)
		buf_put(&col[k], "{", 1);
	for (int i = 0; i < n; i++) {
		if (c[i].token_seq > (uint64_t)INT64_MAX) {
			err = FL_E_RANGE;
			goto out;
		}
		buf_text_item(&col[0], c[i].tenant_id, i == 0);
		buf_text_item(&col[1], c[i].device_id, i == 0);
		buf_int_item(&col[2], c[i].at, i == 0);
		buf_int_item(&col[3], (int64_t)c[i].from, i == 0);
		buf_int_item(&col[4], (int64_t)c[i].to, i == 0);
		buf_text_item(&col[5], c[i].cause, i == 0);
		buf_int_item(&col[6], (int64_t)c[i].token_seq, i == 0);
		buf_int_item(&col[7], c[i].paid_at, i == 0);
		buf_int_item(&col[8], c[i].confirmed_at, i == 0);
	}
	for (int k = 0; k < CHANGE_COLS; k++) {
		buf_put(&col[k], "}", 1);
		if (col[k].nomem) {
			err = FL_E_NOMEM;
			goto out;
		}
		pg_p_text(&p, col[k].s);
	}
	err = pg_cmd(tx, changes_many_sql, &p, 0, NULL);
out:
	for (int k = 0; k < CHANGE_COLS; k++)
		free(col[k].s);
	return err;
}
