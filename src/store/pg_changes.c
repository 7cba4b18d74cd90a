/* pg_changes.c - changes of a device's decided state (store.h). */
#include <string.h>

#include "store/pg_int.h"

#define SC_COLS                                                                \
	"ord, tenant_id, device_id, at, from_state, to_state, cause, "         \
	"token_seq, paid_at, confirmed_at "

static fl_err read_change(const PGresult *r, int i, struct fl_state_change *c)
{
	fl_err err;

	memset(c, 0, sizeof(*c));
	c->ord = pg_int(r, i, 0);
	TRY(pg_text(r, i, 1, c->tenant_id, sizeof(c->tenant_id)));
	TRY(pg_text(r, i, 2, c->device_id, sizeof(c->device_id)));
	c->at = pg_int(r, i, 3);
	c->from = (enum fl_dev_state)pg_int(r, i, 4);
	c->to = (enum fl_dev_state)pg_int(r, i, 5);
	TRY(pg_text(r, i, 6, c->cause, sizeof(c->cause)));
	c->token_seq = (uint64_t)pg_int(r, i, 7);
	c->paid_at = pg_int(r, i, 8);
	c->confirmed_at = pg_int(r, i, 9);
out:
	return err;
}

fl_err pg_state_change_add(struct fl_tx *tx, struct fl_state_change *c)
{
	static const char sql[] =
	        "INSERT INTO state_changes (tenant_id, device_id, at, "
	        "from_state, to_state, cause, token_seq, paid_at, "
	        "confirmed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
	        "RETURNING ord";
	struct pg_params p = {0};
	PGresult *r = NULL;
	fl_err err;

	if (c->token_seq > INT64_MAX)
		return FL_E_RANGE;
	pg_p_text(&p, c->tenant_id);
	pg_p_text(&p, c->device_id);
	pg_p_int(&p, c->at);
	pg_p_int(&p, (int64_t)c->from);
	pg_p_int(&p, (int64_t)c->to);
	pg_p_text(&p, c->cause);
	pg_p_int(&p, (int64_t)c->token_seq);
	pg_p_int(&p, c->paid_at);
	pg_p_int(&p, c->confirmed_at);
	TRY(pg_run(tx, sql, &p, 0, &r));
	c->ord = PQntuples(r) == 1 ? pg_int(r, 0, 0) : 0;
out:
	PQclear(r);
	return err;
}

fl_err pg_state_change_last(struct fl_tx *tx, const char *device_id,
                            struct fl_state_change *out)
{
	static const char sql[] = "SELECT " SC_COLS "FROM state_changes "
	                          "WHERE device_id = $1 ORDER BY ord DESC "
	                          "LIMIT 1";
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
	TRY(read_change(r, 0, out));
out:
	if (err != FL_OK)
		memset(out, 0, sizeof(*out));
	PQclear(r);
	return err;
}

fl_err pg_state_change_confirm(struct fl_tx *tx, const char *device_id,
                               bool locked, uint64_t seq, fl_time at)
{
	static const char sql[] =
	        "UPDATE state_changes SET confirmed_at = $1 WHERE device_id = "
	        "$2 AND confirmed_at = 0 AND token_seq <= $3 AND (CASE WHEN "
	        "$4::bigint <> 0 THEN to_state = 3 AND from_state <> 3 ELSE "
	        "from_state = 3 AND to_state <> 3 END)";
	struct pg_params p = {0};

	pg_p_int(&p, at);
	pg_p_text(&p, device_id);
	pg_p_int(&p, (int64_t)seq);
	pg_p_int(&p, locked ? 1 : 0);
	return pg_cmd(tx, sql, &p, 0, NULL);
}

fl_err pg_state_change_counts(
        struct fl_tx *tx, const char *tenant_id, fl_time from, fl_time period,
        fl_time until,
        fl_err (*fn)(void *ctx, int bucket, enum fl_dev_state f,
                     enum fl_dev_state t, int64_t n),
        void *ctx)
{
	static const char sql[] =
	        "SELECT CASE WHEN at < $1::bigint THEN -1 ELSE (at - "
	        "$1::bigint) / $2::bigint END, from_state, to_state, count(*) "
	        "FROM state_changes WHERE tenant_id = $3 AND at < $4::bigint "
	        "GROUP BY 1, 2, 3";
	struct pg_params p = {0};
	PGresult *r = NULL;
	fl_err err;

	pg_p_int(&p, from);
	pg_p_int(&p, period);
	pg_p_text(&p, tenant_id);
	pg_p_int(&p, until);
	TRY(pg_run(tx, sql, &p, 0, &r));
	for (int i = 0; i < PQntuples(r); i++)
		TRY(fn(ctx, (int)pg_int(r, i, 0),
		       (enum fl_dev_state)pg_int(r, i, 1),
		       (enum fl_dev_state)pg_int(r, i, 2), pg_int(r, i, 3)));
out:
	PQclear(r);
	return err;
}

fl_err pg_state_change_locks(struct fl_tx *tx, const char *tenant_id,
                             fl_time since, fl_time until,
                             FL_STORE_LIST_FN(struct fl_state_change),
                             void *ctx)
{
	static const char sql[] =
	        "SELECT " SC_COLS "FROM state_changes WHERE tenant_id = $1 "
	        "AND at >= $2 AND at < $3 AND (to_state = 3) <> (from_state = "
	        "3) ORDER BY device_id, ord";
	struct fl_state_change c;
	struct pg_params p = {0};
	PGresult *r = NULL;
	fl_err err;

	pg_p_text(&p, tenant_id);
	pg_p_int(&p, since);
	pg_p_int(&p, until);
	TRY(pg_run(tx, sql, &p, 0, &r));
	for (int i = 0; i < PQntuples(r); i++) {
		TRY(read_change(r, i, &c));
		TRY(fn(ctx, &c));
	}
out:
	PQclear(r);
	return err;
}

/* --- the portfolio report ------------------------------------------------- */

fl_err pg_portfolio_groups(struct fl_tx *tx, const char *tenant_id,
                           FL_STORE_LIST_FN(struct fl_pf_group), void *ctx)
{
	static const char sql[] =
	        "SELECT currency, state, stolen, count(*), "
	        "coalesce(sum(amount_remaining), 0)::bigint, "
	        "coalesce(sum(amount_due), 0)::bigint FROM devices "
	        "WHERE tenant_id = $1 GROUP BY currency, state, stolen";
	struct fl_pf_group g;
	struct pg_params p = {0};
	PGresult *r = NULL;
	fl_err err;

	pg_p_text(&p, tenant_id);
	TRY(pg_run(tx, sql, &p, 0, &r));
	for (int i = 0; i < PQntuples(r); i++) {
		memset(&g, 0, sizeof(g));
		TRY(pg_text(r, i, 0, g.currency, sizeof(g.currency)));
		g.state = (enum fl_dev_state)pg_int(r, i, 1);
		g.stolen = pg_int(r, i, 2) == 1; /* locked as stolen */
		g.n = pg_int(r, i, 3);
		g.amount_remaining = pg_int(r, i, 4);
		g.amount_due = pg_int(r, i, 5);
		TRY(fn(ctx, &g));
	}
out:
	PQclear(r);
	return err;
}

fl_err pg_portfolio_late(struct fl_tx *tx, const char *tenant_id,
                         FL_STORE_LIST_FN(struct fl_pf_late), void *ctx)
{
	static const char sql[] =
	        "SELECT d.id, d.currency, d.amount_remaining, d.paid_through, "
	        "coalesce((SELECT min(i.due_at) FROM installments i WHERE "
	        "i.device_id = d.id AND i.resched = 0 AND i.due_at > "
	        "d.paid_through), 0), EXISTS (SELECT 1 FROM reschedules r "
	        "WHERE r.device_id = d.id) FROM devices d WHERE d.tenant_id = "
	        "$1 AND d.currency IS NOT NULL AND d.state <> 4 AND "
	        "d.amount_due > 0";
	struct fl_pf_late l;
	struct pg_params p = {0};
	PGresult *r = NULL;
	fl_err err;

	pg_p_text(&p, tenant_id);
	TRY(pg_run(tx, sql, &p, 0, &r));
	for (int i = 0; i < PQntuples(r); i++) {
		memset(&l, 0, sizeof(l));
		TRY(pg_text(r, i, 0, l.device_id, sizeof(l.device_id)));
		TRY(pg_text(r, i, 1, l.currency, sizeof(l.currency)));
		l.amount_remaining = pg_int(r, i, 2);
		l.paid_through = pg_int(r, i, 3);
		l.first_unpaid = pg_int(r, i, 4);
		l.rescheduled = pg_int(r, i, 5) != 0;
		TRY(fn(ctx, &l));
	}
out:
	PQclear(r);
	return err;
}

/* The page's contracts (kind -1) and the rows of every kind of each, told
 * apart by column 1 (kinds and columns as struct fl_store_extra); the
 * page ends at the limit-th contract after $2. */
#define PG_PF_PAGE_WHERE                                                       \
	"WHERE c.tenant_id = $1 AND c.ord > $2::bigint AND c.ord <= "          \
	"(SELECT max(ord) FROM (SELECT ord FROM contracts WHERE tenant_id = "  \
	"$1 AND ord > $2::bigint ORDER BY ord LIMIT $3::bigint) pg) "
fl_err pg_portfolio_rows(struct fl_tx *tx, const char *tenant_id,
                         int64_t after, int limit,
                         fl_err (*fn)(void *ctx, int64_t contract_ord,
                                      const struct fl_store_extra *e,
                                      const char *device_id,
                                      const char *currency),
                         void *ctx)
{
	static const char sql[] =
	        "SELECT c.ord, -1, 0::bigint, 0::bigint, 0::bigint, 0::bigint, "
	        "c.device_id, c.currency FROM contracts c " PG_PF_PAGE_WHERE
	        "UNION ALL SELECT c.ord, 0, i.resched, i.idx, i.due_at, "
	        "i.amount, NULL, NULL FROM contracts c JOIN installments i ON "
	        "i.device_id = c.device_id " PG_PF_PAGE_WHERE
	        "UNION ALL SELECT c.ord, 1, r.ord, r.ord, r.from_at, 0, NULL, "
	        "NULL FROM contracts c JOIN reschedules r ON r.device_id = "
	        "c.device_id " PG_PF_PAGE_WHERE
	        "UNION ALL SELECT c.ord, 2, p.paid_at, p.ord, p.amount, "
	        "p.reversed_at, NULL, NULL FROM contracts c JOIN payments p ON "
	        "p.device_id = c.device_id " PG_PF_PAGE_WHERE
	        "ORDER BY 1, 2, 3, 4";
	char id[FL_ID_MAX], ccy[4];
	struct fl_store_extra e;
	struct pg_params p = {0};
	PGresult *r = NULL;
	fl_err err;

	pg_p_text(&p, tenant_id);
	pg_p_int(&p, after);
	pg_p_int(&p, limit);
	TRY(pg_run(tx, sql, &p, 0, &r));
	for (int i = 0; i < PQntuples(r); i++) {
		memset(&e, 0, sizeof(e));
		e.kind = pg_int(r, i, 1);
		e.a = pg_int(r, i, 2);
		e.b = pg_int(r, i, 3);
		e.c = pg_int(r, i, 4);
		e.d = pg_int(r, i, 5);
		if (e.kind == -1) {
			TRY(pg_text(r, i, 6, id, sizeof(id)));
			TRY(pg_text(r, i, 7, ccy, sizeof(ccy)));
			TRY(fn(ctx, pg_int(r, i, 0), &e, id, ccy));
		} else {
			TRY(fn(ctx, pg_int(r, i, 0), &e, NULL, NULL));
		}
	}
out:
	PQclear(r);
	return err;
}
