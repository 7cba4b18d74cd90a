/* sqlite_changes.c - changes of a device's decided state (store.h). */
#include <string.h>

#include "store/sqlite_int.h"

#define SC_COLS                                                                \
	"ord, tenant_id, device_id, at, from_state, to_state, cause, "         \
	"token_seq, paid_at, confirmed_at "

static fl_err read_change(sqlite3_stmt *st, struct fl_state_change *c)
{
	fl_err err;

	memset(c, 0, sizeof(*c));
	c->ord = sqlite3_column_int64(st, 0);
	TRY(sq_col_text(st, 1, c->tenant_id, sizeof(c->tenant_id)));
	TRY(sq_col_text(st, 2, c->device_id, sizeof(c->device_id)));
	c->at = sqlite3_column_int64(st, 3);
	c->from = (enum fl_dev_state)sqlite3_column_int(st, 4);
	c->to = (enum fl_dev_state)sqlite3_column_int(st, 5);
	TRY(sq_col_text(st, 6, c->cause, sizeof(c->cause)));
	c->token_seq = (uint64_t)sqlite3_column_int64(st, 7);
	c->paid_at = sqlite3_column_int64(st, 8);
	c->confirmed_at = sqlite3_column_int64(st, 9);
out:
	return err;
}

fl_err sq_state_change_add(struct fl_tx *tx, struct fl_state_change *c)
{
	static const char sql[] =
	        "INSERT INTO state_changes (tenant_id, device_id, at, "
	        "from_state, to_state, cause, token_seq, paid_at, "
	        "confirmed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?);";
	sqlite3_stmt *st = NULL;
	fl_err err;

	if (c->token_seq > INT64_MAX)
		return FL_E_RANGE;
	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, c->tenant_id));
	TRY(sq_bind_text(st, 2, c->device_id));
	TRY(sq_bind_int(st, 3, c->at));
	TRY(sq_bind_int(st, 4, (int64_t)c->from));
	TRY(sq_bind_int(st, 5, (int64_t)c->to));
	TRY(sq_bind_text(st, 6, c->cause));
	TRY(sq_bind_int(st, 7, (int64_t)c->token_seq));
	TRY(sq_bind_int(st, 8, c->paid_at));
	TRY(sq_bind_int(st, 9, c->confirmed_at));
	TRY(sq_step_done(st));
	c->ord = sqlite3_last_insert_rowid(tx->c->db);
out:
	sq_done(st);
	return err;
}

fl_err sq_state_change_last(struct fl_tx *tx, const char *device_id,
                            struct fl_state_change *out)
{
	static const char sql[] = "SELECT " SC_COLS "FROM state_changes "
	                          "WHERE device_id = ? ORDER BY ord DESC "
	                          "LIMIT 1;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	memset(out, 0, sizeof(*out));
	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, device_id));
	TRY(sq_step_row(st));
	TRY(read_change(st, out));
out:
	if (err != FL_OK)
		memset(out, 0, sizeof(*out));
	sq_done(st);
	return err;
}

fl_err sq_state_change_confirm(struct fl_tx *tx, const char *device_id,
                               bool locked, uint64_t seq, fl_time at)
{
	static const char sql[] =
	        "UPDATE state_changes SET confirmed_at = ? WHERE device_id = ? "
	        "AND confirmed_at = 0 AND token_seq <= ? AND (CASE WHEN ? "
	        "THEN to_state = 3 AND from_state <> 3 ELSE from_state = 3 "
	        "AND to_state <> 3 END);";
	sqlite3_stmt *st = NULL;
	fl_err err;

	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_int(st, 1, at));
	TRY(sq_bind_text(st, 2, device_id));
	TRY(sq_bind_int(st, 3, (int64_t)seq));
	TRY(sq_bind_int(st, 4, locked ? 1 : 0));
	TRY(sq_step_done(st));
out:
	sq_done(st);
	return err;
}

fl_err sq_state_change_counts(
        struct fl_tx *tx, const char *tenant_id, fl_time from, fl_time period,
        fl_time until,
        fl_err (*fn)(void *ctx, int bucket, enum fl_dev_state f,
                     enum fl_dev_state t, int64_t n),
        void *ctx)
{
	/* served by state_changes_tenant alone (a covering index) */
	static const char sql[] =
	        "SELECT CASE WHEN at < ?1 THEN -1 ELSE (at - ?1) / ?2 END, "
	        "from_state, to_state, count(*) FROM state_changes "
	        "WHERE tenant_id = ?3 AND at < ?4 GROUP BY 1, 2, 3;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_int(st, 1, from));
	TRY(sq_bind_int(st, 2, period));
	TRY(sq_bind_text(st, 3, tenant_id));
	TRY(sq_bind_int(st, 4, until));
	while ((err = sq_step_row(st)) == FL_OK)
		TRY(fn(ctx, sqlite3_column_int(st, 0),
		       (enum fl_dev_state)sqlite3_column_int(st, 1),
		       (enum fl_dev_state)sqlite3_column_int(st, 2),
		       sqlite3_column_int64(st, 3)));
	if (err == FL_E_NOT_FOUND)
		err = FL_OK;
out:
	sq_done(st);
	return err;
}

fl_err sq_state_change_locks(struct fl_tx *tx, const char *tenant_id,
                             fl_time since, fl_time until,
                             FL_STORE_LIST_FN(struct fl_state_change),
                             void *ctx)
{
	static const char sql[] =
	        "SELECT " SC_COLS "FROM state_changes WHERE tenant_id = ? AND "
	        "at >= ? AND at < ? AND (to_state = 3) <> (from_state = 3) "
	        "ORDER BY device_id, ord;";
	struct fl_state_change c;
	sqlite3_stmt *st = NULL;
	fl_err err;

	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, tenant_id));
	TRY(sq_bind_int(st, 2, since));
	TRY(sq_bind_int(st, 3, until));
	while ((err = sq_step_row(st)) == FL_OK) {
		TRY(read_change(st, &c));
		TRY(fn(ctx, &c));
	}
	if (err == FL_E_NOT_FOUND)
		err = FL_OK;
out:
	sq_done(st);
	return err;
}

/* Steps st, one of several read side by side: *more tells whether it is
 * on a row. FL_OK at the end too. */
static fl_err step_more(sqlite3_stmt *st, bool *more)
{
	fl_err err = sq_step_row(st);

	*more = err == FL_OK;
	return err == FL_E_NOT_FOUND ? FL_OK : err;
}

/* --- the portfolio report ------------------------------------------------- */

fl_err sq_portfolio_groups(struct fl_tx *tx, const char *tenant_id,
                           FL_STORE_LIST_FN(struct fl_pf_group), void *ctx)
{
	/* devices_portfolio alone (a covering index), in its order */
	static const char sql[] =
	        "SELECT currency, state, stolen, count(*), "
	        "sum(amount_remaining), sum(amount_due) FROM devices "
	        "INDEXED BY devices_portfolio WHERE tenant_id = ? "
	        "GROUP BY currency, state, stolen;";
	struct fl_pf_group g;
	sqlite3_stmt *st = NULL;
	fl_err err;

	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, tenant_id));
	while ((err = sq_step_row(st)) == FL_OK) {
		memset(&g, 0, sizeof(g));
		TRY(sq_col_text(st, 0, g.currency, sizeof(g.currency)));
		g.state = (enum fl_dev_state)sqlite3_column_int(st, 1);
		g.stolen = sqlite3_column_int(st, 2) == 1; /* locked as stolen */
		g.n = sqlite3_column_int64(st, 3);
		g.amount_remaining = sqlite3_column_int64(st, 4);
		g.amount_due = sqlite3_column_int64(st, 5);
		TRY(fn(ctx, &g));
	}
	if (err == FL_E_NOT_FOUND)
		err = FL_OK;
out:
	sq_done(st);
	return err;
}

fl_err sq_portfolio_late(struct fl_tx *tx, const char *tenant_id,
                         FL_STORE_LIST_FN(struct fl_pf_late), void *ctx)
{
	static const char sql[] =
	        "SELECT d.id, d.currency, d.amount_remaining, d.paid_through, "
	        "(SELECT min(i.due_at) FROM installments i WHERE i.device_id = "
	        "d.id AND i.resched = 0 AND i.due_at > d.paid_through), "
	        "EXISTS (SELECT 1 FROM reschedules r WHERE r.device_id = d.id) "
	        "FROM devices d INDEXED BY devices_portfolio WHERE "
	        "d.tenant_id = ? AND d.currency IS NOT NULL AND d.state <> 4 "
	        "AND d.amount_due > 0;";
	struct fl_pf_late l;
	sqlite3_stmt *st = NULL;
	fl_err err;

	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, tenant_id));
	while ((err = sq_step_row(st)) == FL_OK) {
		memset(&l, 0, sizeof(l));
		TRY(sq_col_text(st, 0, l.device_id, sizeof(l.device_id)));
		TRY(sq_col_text(st, 1, l.currency, sizeof(l.currency)));
		l.amount_remaining = sqlite3_column_int64(st, 2);
		l.paid_through = sqlite3_column_int64(st, 3);
		l.first_unpaid = sqlite3_column_int64(st, 4);
		l.rescheduled = sqlite3_column_int(st, 5) != 0;
		TRY(fn(ctx, &l));
	}
	if (err == FL_E_NOT_FOUND)
		err = FL_OK;
out:
	sq_done(st);
	return err;
}

/* The last ord of the page: the limit-th contract after `after`. */
static const char page_sql[] =
        "SELECT max(ord) FROM (SELECT ord FROM contracts WHERE "
        "tenant_id = ?1 AND ord > ?2 ORDER BY ord LIMIT ?3);";

/* The page's contracts, and the rows of each kind of theirs (kinds and
 * columns as extras_sql in sqlite_devices.c), one statement a kind: each
 * walks the contracts by their tenant index and the kind's own index by
 * device, so each yields (contract, a, b) order without sorting, and
 * sq_portfolio_rows merges them by contract (cheaper than SQLite merging
 * a compound select). */
#define PF_PAGE_WHERE "WHERE c.tenant_id = ?1 AND c.ord > ?2 AND c.ord <= ?3 "
static const char pf_contracts_sql[] =
        "SELECT c.ord, c.device_id, c.currency FROM contracts c "
        PF_PAGE_WHERE "ORDER BY c.ord;";
static const char pf_kind_sql[3][320] = {
        "SELECT c.ord, i.resched, i.idx, i.due_at, i.amount FROM contracts c "
        "JOIN installments i ON i.device_id = c.device_id " PF_PAGE_WHERE
        "ORDER BY c.ord, i.resched, i.idx;",
        "SELECT c.ord, r.ord, r.ord, r.from_at, 0 FROM contracts c "
        "JOIN reschedules r ON r.device_id = c.device_id " PF_PAGE_WHERE
        "ORDER BY c.ord, r.ord;",
        "SELECT c.ord, p.paid_at, p.ord, p.amount, p.reversed_at "
        "FROM contracts c JOIN payments p ON p.device_id = c.device_id "
        PF_PAGE_WHERE "ORDER BY c.ord, p.paid_at, p.ord;",
};

fl_err sq_portfolio_rows(struct fl_tx *tx, const char *tenant_id,
                         int64_t after, int limit,
                         fl_err (*fn)(void *ctx, int64_t contract_ord,
                                      const struct fl_store_extra *e,
                                      const char *device_id,
                                      const char *currency),
                         void *ctx)
{
	char id[FL_ID_MAX], ccy[4];
	struct fl_store_extra e;
	sqlite3_stmt *st = NULL, *k[3] = {NULL, NULL, NULL};
	bool more[3] = {false, false, false};
	int64_t upto, ord;
	fl_err err;

	st = sq_stmt(tx, page_sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, tenant_id));
	TRY(sq_bind_int(st, 2, after));
	TRY(sq_bind_int(st, 3, limit));
	TRY(sq_step_row(st));
	if (sqlite3_column_type(st, 0) == SQLITE_NULL)
		goto out; /* no contract after `after` */
	upto = sqlite3_column_int64(st, 0);
	sq_done(st);
	st = NULL;
	for (int j = 0; j < 3; j++) {
		k[j] = sq_stmt(tx, pf_kind_sql[j], &err);
		if (k[j] == NULL)
			goto out;
		TRY(sq_bind_text(k[j], 1, tenant_id));
		TRY(sq_bind_int(k[j], 2, after));
		TRY(sq_bind_int(k[j], 3, upto));
		TRY(step_more(k[j], &more[j]));
	}
	st = sq_stmt(tx, pf_contracts_sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, tenant_id));
	TRY(sq_bind_int(st, 2, after));
	TRY(sq_bind_int(st, 3, upto));
	while ((err = sq_step_row(st)) == FL_OK) {
		ord = sqlite3_column_int64(st, 0);
		memset(&e, 0, sizeof(e));
		e.kind = -1;
		TRY(sq_col_text(st, 1, id, sizeof(id)));
		TRY(sq_col_text(st, 2, ccy, sizeof(ccy)));
		TRY(fn(ctx, ord, &e, id, ccy));
		for (int j = 0; j < 3; j++) {
			while (more[j] && sqlite3_column_int64(k[j], 0) <= ord) {
				e.kind = j;
				e.a = sqlite3_column_int64(k[j], 1);
				e.b = sqlite3_column_int64(k[j], 2);
				e.c = sqlite3_column_int64(k[j], 3);
				e.d = sqlite3_column_int64(k[j], 4);
				TRY(fn(ctx, sqlite3_column_int64(k[j], 0), &e,
				       NULL, NULL));
				TRY(step_more(k[j], &more[j]));
			}
		}
	}
	if (err == FL_E_NOT_FOUND)
		err = more[0] || more[1] || more[2]
		              ? FL_E_CORRUPT /* a row of no contract of the page */
		              : FL_OK;
out:
	sq_done(st);
	for (int j = 0; j < 3; j++)
		sq_done(k[j]);
	return err;
}
