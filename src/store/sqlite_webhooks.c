/* sqlite_webhooks.c - webhook endpoints, the event outbox and its
 * deliveries on SQLite (store.h "webhooks"), and what a phone confirmed. */
#include "store/sqlite_int.h"

#include <stdlib.h>
#include <string.h>

#define EP_COLS                                                                \
	"ord, id, tenant_id, url, events, secret_gen, created_at, "            \
	"created_by, disabled_at, disabled_reason, prev_secret_until"

static fl_err read_endpoint(sqlite3_stmt *st, struct fl_wh_endpoint *e)
{
	fl_err err;

	memset(e, 0, sizeof(*e));
	e->ord = sqlite3_column_int64(st, 0);
	TRY(sq_col_text(st, 1, e->id, sizeof(e->id)));
	TRY(sq_col_text(st, 2, e->tenant_id, sizeof(e->tenant_id)));
	TRY(sq_col_text(st, 3, e->url, sizeof(e->url)));
	TRY(sq_col_text(st, 4, e->events, sizeof(e->events)));
	e->secret_gen = sqlite3_column_int64(st, 5);
	e->created_at = sqlite3_column_int64(st, 6);
	TRY(sq_col_text(st, 7, e->created_by, sizeof(e->created_by)));
	e->disabled_at = sqlite3_column_int64(st, 8);
	TRY(sq_col_text(st, 9, e->disabled_reason,
	                sizeof(e->disabled_reason)));
	e->prev_secret_until = sqlite3_column_int64(st, 10);
out:
	return err;
}

fl_err sq_wh_endpoint_insert(struct fl_tx *tx, struct fl_wh_endpoint *e)
{
	static const char sql[] =
	        "INSERT INTO webhook_endpoints (id, tenant_id, url, events, "
	        "secret_gen, created_at, created_by, disabled_at, "
	        "disabled_reason, prev_secret_until) VALUES (?, ?, ?, ?, ?, "
	        "?, ?, ?, ?, ?);";
	sqlite3_stmt *st = NULL;
	fl_err err;

	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, e->id));
	TRY(sq_bind_text(st, 2, e->tenant_id));
	TRY(sq_bind_text(st, 3, e->url));
	TRY(sq_bind_text(st, 4, e->events));
	TRY(sq_bind_int(st, 5, e->secret_gen));
	TRY(sq_bind_int(st, 6, e->created_at));
	TRY(sq_bind_text(st, 7, e->created_by));
	TRY(sq_bind_int(st, 8, e->disabled_at));
	TRY(sq_bind_text(st, 9, e->disabled_reason));
	TRY(sq_bind_int(st, 10, e->prev_secret_until));
	TRY(sq_step_done(st));
	e->ord = sqlite3_last_insert_rowid(tx->c->db);
out:
	sq_done(st);
	return err;
}

fl_err sq_wh_endpoint_get(struct fl_tx *tx, const char *tenant_id,
                          const char *id, struct fl_wh_endpoint *out)
{
	static const char sql[] = "SELECT " EP_COLS " FROM webhook_endpoints "
	                          "WHERE id = ? AND tenant_id = ?;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	memset(out, 0, sizeof(*out));
	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, id));
	TRY(sq_bind_text(st, 2, tenant_id));
	TRY(sq_step_row(st));
	TRY(read_endpoint(st, out));
out:
	if (err != FL_OK)
		memset(out, 0, sizeof(*out));
	sq_done(st);
	return err;
}

fl_err sq_wh_endpoint_list(struct fl_tx *tx, const char *tenant_id,
                           int64_t after, int limit,
                           FL_STORE_LIST_FN(struct fl_wh_endpoint), void *ctx)
{
	static const char sql[] = "SELECT " EP_COLS " FROM webhook_endpoints "
	                          "WHERE tenant_id = ? AND ord > ? "
	                          "ORDER BY ord LIMIT ?;";
	struct fl_wh_endpoint e;
	sqlite3_stmt *st = NULL;
	fl_err err;
	int rc;

	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, tenant_id));
	TRY(sq_bind_int(st, 2, after));
	TRY(sq_bind_int(st, 3, limit));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		TRY(read_endpoint(st, &e));
		TRY(fn(ctx, &e));
	}
	if (rc != SQLITE_DONE)
		err = sq_err(rc);
out:
	sq_done(st);
	return err;
}

fl_err sq_wh_endpoint_update(struct fl_tx *tx, const struct fl_wh_endpoint *e)
{
	static const char sql[] =
	        "UPDATE webhook_endpoints SET disabled_at = ?, "
	        "disabled_reason = ?, secret_gen = ?, prev_secret_until = ? "
	        "WHERE id = ? AND tenant_id = ?;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_int(st, 1, e->disabled_at));
	TRY(sq_bind_text(st, 2, e->disabled_reason));
	TRY(sq_bind_int(st, 3, e->secret_gen));
	TRY(sq_bind_int(st, 4, e->prev_secret_until));
	TRY(sq_bind_text(st, 5, e->id));
	TRY(sq_bind_text(st, 6, e->tenant_id));
	TRY(sq_step_done(st));
	if (sqlite3_changes(tx->c->db) == 0)
		err = FL_E_NOT_FOUND;
out:
	sq_done(st);
	return err;
}

fl_err sq_wh_endpoint_delete(struct fl_tx *tx, const char *tenant_id,
                             const char *id)
{
	static const char sql_ep[] = "DELETE FROM webhook_endpoints "
	                             "WHERE id = ? AND tenant_id = ?;";
	static const char sql_dl[] = "DELETE FROM webhook_deliveries "
	                             "WHERE endpoint_id = ? AND tenant_id = ?;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	st = sq_stmt(tx, sql_ep, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, id));
	TRY(sq_bind_text(st, 2, tenant_id));
	TRY(sq_step_done(st));
	if (sqlite3_changes(tx->c->db) == 0) {
		err = FL_E_NOT_FOUND;
		goto out;
	}
	sq_done(st);
	st = sq_stmt(tx, sql_dl, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, id));
	TRY(sq_bind_text(st, 2, tenant_id));
	TRY(sq_step_done(st));
out:
	sq_done(st);
	return err;
}

fl_err sq_wh_event_add(struct fl_tx *tx, struct fl_wh_event *ev, int64_t *n)
{
	static const char sql_ev[] =
	        "INSERT INTO webhook_events (id, tenant_id, type, body, "
	        "created_at) VALUES (?, ?, ?, ?, ?);";
	/* ',' || type || ',' within the endpoint's list, or "*" */
	static const char sql_dl[] =
	        "INSERT INTO webhook_deliveries (event_ord, endpoint_id, "
	        "tenant_id, next_at) SELECT ?, id, tenant_id, ? FROM "
	        "webhook_endpoints WHERE tenant_id = ? AND disabled_at = 0 AND "
	        "(events = '*' OR instr(events, ',' || ? || ',') > 0) "
	        "ORDER BY ord;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	if (n != NULL)
		*n = 0;
	st = sq_stmt(tx, sql_ev, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, ev->id));
	TRY(sq_bind_text(st, 2, ev->tenant_id));
	TRY(sq_bind_text(st, 3, ev->type));
	TRY(sq_bind_text(st, 4, ev->body));
	TRY(sq_bind_int(st, 5, ev->created_at));
	TRY(sq_step_done(st));
	ev->ord = sqlite3_last_insert_rowid(tx->c->db);
	sq_done(st);
	st = sq_stmt(tx, sql_dl, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_int(st, 1, ev->ord));
	TRY(sq_bind_int(st, 2, ev->created_at));
	TRY(sq_bind_text(st, 3, ev->tenant_id));
	TRY(sq_bind_text(st, 4, ev->type));
	TRY(sq_step_done(st));
	if (n != NULL)
		*n = sqlite3_changes(tx->c->db);
out:
	sq_done(st);
	return err;
}

#define DL_COLS                                                                \
	"d.ord, d.event_ord, e.id, e.type, e.created_at, d.endpoint_id, "      \
	"d.tenant_id, w.url, w.secret_gen, d.state, d.attempts, d.next_at, "   \
	"d.lease_until, d.last_at, d.last_status, d.last_error, d.done_at, "   \
	"e.body, coalesce(w.prev_secret_until, 0)"
#define DL_FROM                                                                \
	" FROM webhook_deliveries d JOIN webhook_events e ON e.ord = "         \
	"d.event_ord LEFT JOIN webhook_endpoints w ON w.id = d.endpoint_id "

static fl_err read_delivery(sqlite3_stmt *st, struct fl_wh_delivery *d)
{
	fl_err err;

	memset(d, 0, sizeof(*d));
	d->ord = sqlite3_column_int64(st, 0);
	d->event_ord = sqlite3_column_int64(st, 1);
	TRY(sq_col_text(st, 2, d->event_id, sizeof(d->event_id)));
	TRY(sq_col_text(st, 3, d->type, sizeof(d->type)));
	d->event_at = sqlite3_column_int64(st, 4);
	TRY(sq_col_text(st, 5, d->endpoint_id, sizeof(d->endpoint_id)));
	TRY(sq_col_text(st, 6, d->tenant_id, sizeof(d->tenant_id)));
	TRY(sq_col_text(st, 7, d->url, sizeof(d->url)));
	d->secret_gen = sqlite3_column_int64(st, 8);
	d->state = (enum fl_wh_state)sqlite3_column_int(st, 9);
	d->attempts = sqlite3_column_int(st, 10);
	d->next_at = sqlite3_column_int64(st, 11);
	d->lease_until = sqlite3_column_int64(st, 12);
	d->last_at = sqlite3_column_int64(st, 13);
	d->last_status = sqlite3_column_int(st, 14);
	TRY(sq_col_text(st, 15, d->last_error, sizeof(d->last_error)));
	d->done_at = sqlite3_column_int64(st, 16);
	d->body = (char *)sqlite3_column_text(st, 17);
	d->prev_secret_until = sqlite3_column_int64(st, 18);
out:
	return err;
}

fl_err sq_wh_claim(struct fl_tx *tx, fl_time now, fl_time lease_until,
                   int max, struct fl_wh_delivery *out, int *n)
{
	static const char sql[] =
	        "SELECT " DL_COLS DL_FROM
	        "WHERE d.state = 0 AND d.next_at <= ? AND d.lease_until <= ? "
	        "AND w.disabled_at = 0 AND NOT EXISTS (SELECT 1 FROM "
	        "webhook_deliveries p WHERE p.endpoint_id = d.endpoint_id AND "
	        "p.state = 0 AND p.ord < d.ord) ORDER BY d.ord LIMIT ?;";
	static const char sql_lease[] =
	        "UPDATE webhook_deliveries SET lease_until = ? WHERE ord = ?;";
	sqlite3_stmt *st = NULL;
	fl_err err;
	int rc, got = 0;

	*n = 0;
	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_int(st, 1, now));
	TRY(sq_bind_int(st, 2, now));
	TRY(sq_bind_int(st, 3, max));
	while (got < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		TRY(read_delivery(st, &out[got]));
		out[got].body = strdup(out[got].body != NULL ? out[got].body
		                                             : "");
		if (out[got].body == NULL) {
			err = FL_E_NOMEM;
			goto out;
		}
		got++;
	}
	sq_done(st);
	st = NULL;
	for (int i = 0; i < got; i++) {
		st = sq_stmt(tx, sql_lease, &err);
		if (st == NULL)
			goto out;
		TRY(sq_bind_int(st, 1, lease_until));
		TRY(sq_bind_int(st, 2, out[i].ord));
		TRY(sq_step_done(st));
		out[i].lease_until = lease_until;
		sq_done(st);
		st = NULL;
	}
	*n = got;
out:
	sq_done(st);
	if (err != FL_OK) {
		for (int i = 0; i < got; i++)
			free(out[i].body);
		*n = 0;
	}
	return err;
}

fl_err sq_wh_delivery_update(struct fl_tx *tx, const struct fl_wh_delivery *d)
{
	static const char sql[] =
	        "UPDATE webhook_deliveries SET state = ?, attempts = ?, "
	        "next_at = ?, last_at = ?, last_status = ?, last_error = ?, "
	        "done_at = ?, lease_until = 0 WHERE ord = ?;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_int(st, 1, d->state));
	TRY(sq_bind_int(st, 2, d->attempts));
	TRY(sq_bind_int(st, 3, d->next_at));
	TRY(sq_bind_int(st, 4, d->last_at));
	TRY(sq_bind_int(st, 5, d->last_status));
	TRY(sq_bind_text(st, 6, d->last_error));
	TRY(sq_bind_int(st, 7, d->done_at));
	TRY(sq_bind_int(st, 8, d->ord));
	TRY(sq_step_done(st));
	if (sqlite3_changes(tx->c->db) == 0)
		err = FL_E_NOT_FOUND;
out:
	sq_done(st);
	return err;
}

fl_err sq_wh_delivery_list(struct fl_tx *tx, const char *tenant_id,
                           const char *endpoint_id, int64_t after, int limit,
                           FL_STORE_LIST_FN(struct fl_wh_delivery), void *ctx)
{
	static const char sql[] =
	        "SELECT " DL_COLS DL_FROM
	        "WHERE d.tenant_id = ? AND (? IS NULL OR d.endpoint_id = ?) "
	        "AND d.ord > ? ORDER BY d.ord LIMIT ?;";
	struct fl_wh_delivery d;
	sqlite3_stmt *st = NULL;
	fl_err err;
	int rc;

	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, tenant_id));
	if (endpoint_id != NULL) {
		TRY(sq_bind_text(st, 2, endpoint_id));
		TRY(sq_bind_text(st, 3, endpoint_id));
	}
	TRY(sq_bind_int(st, 4, after));
	TRY(sq_bind_int(st, 5, limit));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		TRY(read_delivery(st, &d));
		TRY(fn(ctx, &d));
	}
	if (rc != SQLITE_DONE)
		err = sq_err(rc);
out:
	sq_done(st);
	return err;
}

fl_err sq_wh_delivery_get(struct fl_tx *tx, const char *tenant_id, int64_t ord,
                          struct fl_wh_delivery *out)
{
	static const char sql[] = "SELECT " DL_COLS DL_FROM
	                          "WHERE d.tenant_id = ? AND d.ord = ?;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	memset(out, 0, sizeof(*out));
	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, tenant_id));
	TRY(sq_bind_int(st, 2, ord));
	TRY(sq_step_row(st));
	TRY(read_delivery(st, out));
	out->body = NULL;
out:
	if (err != FL_OK)
		memset(out, 0, sizeof(*out));
	sq_done(st);
	return err;
}

fl_err sq_device_confirmed(struct fl_tx *tx, const char *id,
                           struct fl_confirmed *out)
{
	static const char sql[] = "SELECT confirmed_seq, confirmed_locked, "
	                          "confirmed_at FROM devices WHERE id = ?;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	memset(out, 0, sizeof(*out));
	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_text(st, 1, id));
	TRY(sq_step_row(st));
	out->seq = (uint64_t)sqlite3_column_int64(st, 0);
	out->locked = sqlite3_column_int(st, 1) != 0;
	out->at = sqlite3_column_int64(st, 2);
out:
	if (err != FL_OK)
		memset(out, 0, sizeof(*out));
	sq_done(st);
	return err;
}

fl_err sq_device_confirm(struct fl_tx *tx, const char *id,
                         const struct fl_confirmed *c)
{
	static const char sql[] = "UPDATE devices SET confirmed_seq = ?, "
	                          "confirmed_locked = ?, confirmed_at = ? "
	                          "WHERE id = ?;";
	sqlite3_stmt *st = NULL;
	fl_err err;

	if (c->seq > INT64_MAX)
		return FL_E_RANGE;
	st = sq_stmt(tx, sql, &err);
	if (st == NULL)
		goto out;
	TRY(sq_bind_int(st, 1, (int64_t)c->seq));
	TRY(sq_bind_int(st, 2, c->locked ? 1 : 0));
	TRY(sq_bind_int(st, 3, c->at));
	TRY(sq_bind_text(st, 4, id));
	TRY(sq_step_done(st));
	if (sqlite3_changes(tx->c->db) == 0)
		err = FL_E_NOT_FOUND;
out:
	sq_done(st);
	return err;
}

/* The oldest events before ?1 (at most ?2) with no pending delivery:
 * their deliveries go first, then the events left with none. */
#define PRUNE_EVENTS(pending)                                                  \
	"SELECT ord FROM webhook_events e WHERE e.created_at < ?1 AND NOT "    \
	"EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_ord = "      \
	"e.ord" pending ") ORDER BY ord LIMIT ?2"

fl_err sq_wh_prune(struct fl_tx *tx, fl_time before, int limit, int64_t *n)
{
	static const char sql_dl[] =
	        "DELETE FROM webhook_deliveries WHERE event_ord IN (" PRUNE_EVENTS(
	                " AND d.state = 0") ");";
	static const char sql_ev[] =
	        "DELETE FROM webhook_events WHERE ord IN (" PRUNE_EVENTS(
	                "") ");";
	const char *const sqls[] = {sql_dl, sql_ev};
	sqlite3_stmt *st = NULL;
	fl_err err = FL_OK;

	*n = 0;
	for (int i = 0; i < 2; i++) {
		st = sq_stmt(tx, sqls[i], &err);
		if (st == NULL)
			goto out;
		TRY(sq_bind_int(st, 1, before));
		TRY(sq_bind_int(st, 2, limit));
		TRY(sq_step_done(st));
		sq_done(st);
		st = NULL;
	}
	*n = sqlite3_changes(tx->c->db);
out:
	sq_done(st);
	return err;
}
