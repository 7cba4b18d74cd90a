/* pg_webhooks.c - webhook endpoints, the event outbox and its deliveries
 * on PostgreSQL (store.h "webhooks"), and what a phone confirmed. Several
 * finlockd processes claim deliveries at once: the claim locks the rows
 * it takes with SKIP LOCKED and leases them, so each goes to one sender. */
#include "store/pg_int.h"

#include <stdlib.h>
#include <string.h>

#define EP_COLS                                                                \
	"ord, id, tenant_id, url, events, secret_gen, created_at, "            \
	"created_by, disabled_at, disabled_reason, prev_secret_until"

static fl_err read_endpoint(const PGresult *r, int i, struct fl_wh_endpoint *e)
{
	fl_err err;

	memset(e, 0, sizeof(*e));
	e->ord = pg_int(r, i, 0);
	TRY(pg_text(r, i, 1, e->id, sizeof(e->id)));
	TRY(pg_text(r, i, 2, e->tenant_id, sizeof(e->tenant_id)));
	TRY(pg_text(r, i, 3, e->url, sizeof(e->url)));
	TRY(pg_text(r, i, 4, e->events, sizeof(e->events)));
	e->secret_gen = pg_int(r, i, 5);
	e->created_at = pg_int(r, i, 6);
	TRY(pg_text(r, i, 7, e->created_by, sizeof(e->created_by)));
	e->disabled_at = pg_int(r, i, 8);
	TRY(pg_text(r, i, 9, e->disabled_reason, sizeof(e->disabled_reason)));
	e->prev_secret_until = pg_int(r, i, 10);
out:
	return err;
}

fl_err pg_wh_endpoint_insert(struct fl_tx *tx, struct fl_wh_endpoint *e)
{
	static const char sql[] =
	        "INSERT INTO webhook_endpoints (id, tenant_id, url, events, "
	        "secret_gen, created_at, created_by, disabled_at, "
	        "disabled_reason, prev_secret_until) VALUES ($1, $2, $3, $4, "
	        "$5, $6, $7, $8, $9, $10) RETURNING ord";
	struct pg_params p = {0};
	PGresult *r = NULL;
	fl_err err;

	pg_p_text(&p, e->id);
	pg_p_text(&p, e->tenant_id);
	pg_p_text(&p, e->url);
	pg_p_text(&p, e->events);
	pg_p_int(&p, e->secret_gen);
	pg_p_int(&p, e->created_at);
	pg_p_text(&p, e->created_by);
	pg_p_int(&p, e->disabled_at);
	pg_p_text(&p, e->disabled_reason);
	pg_p_int(&p, e->prev_secret_until);
	TRY(pg_run(tx, sql, &p, PG_GUARD, &r));
	e->ord = pg_returned(r);
out:
	PQclear(r);
	return err;
}

fl_err pg_wh_endpoint_get(struct fl_tx *tx, const char *tenant_id,
                          const char *id, struct fl_wh_endpoint *out)
{
	static const char sql[] = "SELECT " EP_COLS " FROM webhook_endpoints "
	                          "WHERE id = $1 AND tenant_id = $2";
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
	TRY(read_endpoint(r, 0, out));
out:
	if (err != FL_OK)
		memset(out, 0, sizeof(*out));
	PQclear(r);
	return err;
}

fl_err pg_wh_endpoint_list(struct fl_tx *tx, const char *tenant_id,
                           int64_t after, int limit,
                           FL_STORE_LIST_FN(struct fl_wh_endpoint), void *ctx)
{
	static const char sql[] = "SELECT " EP_COLS " FROM webhook_endpoints "
	                          "WHERE tenant_id = $1 AND ord > $2 "
	                          "ORDER BY ord LIMIT $3";
	struct pg_params p = {0};
	struct fl_wh_endpoint e;
	PGresult *r = NULL;
	fl_err err;

	pg_p_text(&p, tenant_id);
	pg_p_int(&p, after);
	pg_p_int(&p, limit);
	TRY(pg_run(tx, sql, &p, 0, &r));
	for (int i = 0; i < PQntuples(r); i++) {
		TRY(read_endpoint(r, i, &e));
		TRY(fn(ctx, &e));
	}
out:
	PQclear(r);
	return err;
}

fl_err pg_wh_endpoint_update(struct fl_tx *tx, const struct fl_wh_endpoint *e)
{
	static const char sql[] =
	        "UPDATE webhook_endpoints SET disabled_at = $1, "
	        "disabled_reason = $2, secret_gen = $3, prev_secret_until = $4 "
	        "WHERE id = $5 AND tenant_id = $6";
	struct pg_params p = {0};
	int64_t n = 0;
	fl_err err;

	pg_p_int(&p, e->disabled_at);
	pg_p_text(&p, e->disabled_reason);
	pg_p_int(&p, e->secret_gen);
	pg_p_int(&p, e->prev_secret_until);
	pg_p_text(&p, e->id);
	pg_p_text(&p, e->tenant_id);
	err = pg_cmd(tx, sql, &p, 0, &n);
	if (err == FL_OK && n == 0)
		err = FL_E_NOT_FOUND;
	return err;
}

fl_err pg_wh_endpoint_delete(struct fl_tx *tx, const char *tenant_id,
                             const char *id)
{
	static const char sql_ep[] = "DELETE FROM webhook_endpoints "
	                             "WHERE id = $1 AND tenant_id = $2";
	static const char sql_dl[] = "DELETE FROM webhook_deliveries "
	                             "WHERE endpoint_id = $1 AND tenant_id = $2";
	struct pg_params p = {0};
	int64_t n = 0;
	fl_err err;

	pg_p_text(&p, id);
	pg_p_text(&p, tenant_id);
	err = pg_cmd(tx, sql_ep, &p, 0, &n);
	if (err == FL_OK && n == 0)
		err = FL_E_NOT_FOUND;
	if (err == FL_OK)
		err = pg_cmd(tx, sql_dl, &p, 0, NULL);
	return err;
}

fl_err pg_wh_event_add(struct fl_tx *tx, struct fl_wh_event *ev, int64_t *n)
{
	static const char sql_ev[] =
	        "INSERT INTO webhook_events (id, tenant_id, type, body, "
	        "created_at) VALUES ($1, $2, $3, $4, $5) RETURNING ord";
	static const char sql_dl[] =
	        "INSERT INTO webhook_deliveries (event_ord, endpoint_id, "
	        "tenant_id, next_at) SELECT $1, id, tenant_id, $2 FROM "
	        "webhook_endpoints WHERE tenant_id = $3 AND disabled_at = 0 AND "
	        "(events = '*' OR position(',' || $4::text || ',' in events) > "
	        "0) ORDER BY ord";
	struct pg_params p = {0}, q = {0};
	PGresult *r = NULL;
	fl_err err;

	if (n != NULL)
		*n = 0;
	pg_p_text(&p, ev->id);
	pg_p_text(&p, ev->tenant_id);
	pg_p_text(&p, ev->type);
	pg_p_text(&p, ev->body);
	pg_p_int(&p, ev->created_at);
	TRY(pg_run(tx, sql_ev, &p, 0, &r));
	ev->ord = pg_returned(r);
	pg_p_int(&q, ev->ord);
	pg_p_int(&q, ev->created_at);
	pg_p_text(&q, ev->tenant_id);
	pg_p_text(&q, ev->type);
	TRY(pg_cmd(tx, sql_dl, &q, 0, n));
out:
	PQclear(r);
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

static fl_err read_delivery(const PGresult *r, int i, struct fl_wh_delivery *d)
{
	fl_err err;

	memset(d, 0, sizeof(*d));
	d->ord = pg_int(r, i, 0);
	d->event_ord = pg_int(r, i, 1);
	TRY(pg_text(r, i, 2, d->event_id, sizeof(d->event_id)));
	TRY(pg_text(r, i, 3, d->type, sizeof(d->type)));
	d->event_at = pg_int(r, i, 4);
	TRY(pg_text(r, i, 5, d->endpoint_id, sizeof(d->endpoint_id)));
	TRY(pg_text(r, i, 6, d->tenant_id, sizeof(d->tenant_id)));
	TRY(pg_text(r, i, 7, d->url, sizeof(d->url)));
	d->secret_gen = pg_int(r, i, 8);
	d->state = (enum fl_wh_state)pg_int(r, i, 9);
	d->attempts = (int)pg_int(r, i, 10);
	d->next_at = pg_int(r, i, 11);
	d->lease_until = pg_int(r, i, 12);
	d->last_at = pg_int(r, i, 13);
	d->last_status = (int)pg_int(r, i, 14);
	TRY(pg_text(r, i, 15, d->last_error, sizeof(d->last_error)));
	d->done_at = pg_int(r, i, 16);
	d->body = PQgetvalue(r, i, 17);
	d->prev_secret_until = pg_int(r, i, 18);
out:
	return err;
}

fl_err pg_wh_claim(struct fl_tx *tx, fl_time now, fl_time lease_until,
                   int max, struct fl_wh_delivery *out, int *n)
{
	/* Rows another sender is claiming right now are skipped; a head
	 * claimed and committed by another carries its lease. */
	static const char sql[] =
	        "WITH c AS (SELECT d.ord FROM webhook_deliveries d JOIN "
	        "webhook_endpoints w ON w.id = d.endpoint_id WHERE d.state = 0 "
	        "AND d.next_at <= $1 AND d.lease_until <= $1 AND "
	        "w.disabled_at = 0 AND NOT EXISTS (SELECT 1 FROM "
	        "webhook_deliveries p WHERE p.endpoint_id = d.endpoint_id AND "
	        "p.state = 0 AND p.ord < d.ord) ORDER BY d.ord LIMIT $3 FOR "
	        "UPDATE OF d SKIP LOCKED) UPDATE webhook_deliveries u SET "
	        "lease_until = $2 FROM c WHERE u.ord = c.ord RETURNING u.ord";
	static const char sql_get[] = "SELECT " DL_COLS DL_FROM
	                              "WHERE d.ord = ANY($1::bigint[]) "
	                              "ORDER BY d.ord";
	struct pg_params p = {0}, q = {0};
	PGresult *r = NULL;
	char *list = NULL;
	size_t used = 0, cap;
	int got = 0;
	fl_err err;

	*n = 0;
	pg_p_int(&p, now);
	pg_p_int(&p, lease_until);
	pg_p_int(&p, max);
	TRY(pg_run(tx, sql, &p, 0, &r));
	if (PQntuples(r) == 0)
		goto out;
	cap = (size_t)PQntuples(r) * 24 + 4;
	if ((list = malloc(cap)) == NULL) {
		err = FL_E_NOMEM;
		goto out;
	}
	used += (size_t)snprintf(list, cap, "{");
	for (int i = 0; i < PQntuples(r); i++)
		used += (size_t)snprintf(list + used, cap - used, "%s%lld",
		                         i ? "," : "",
		                         (long long)pg_int(r, i, 0));
	snprintf(list + used, cap - used, "}");
	PQclear(r);
	r = NULL;
	pg_p_text(&q, list);
	TRY(pg_run(tx, sql_get, &q, 0, &r));
	for (int i = 0; i < PQntuples(r) && got < max; i++) {
		TRY(read_delivery(r, i, &out[got]));
		if ((out[got].body = strdup(out[got].body)) == NULL) {
			err = FL_E_NOMEM;
			goto out;
		}
		got++;
	}
	*n = got;
out:
	if (err != FL_OK) {
		for (int i = 0; i < got; i++)
			free(out[i].body);
		*n = 0;
	}
	free(list);
	PQclear(r);
	return err;
}

fl_err pg_wh_delivery_update(struct fl_tx *tx, const struct fl_wh_delivery *d)
{
	static const char sql[] =
	        "UPDATE webhook_deliveries SET state = $1, attempts = $2, "
	        "next_at = $3, last_at = $4, last_status = $5, last_error = $6, "
	        "done_at = $7, lease_until = 0 WHERE ord = $8";
	struct pg_params p = {0};
	int64_t n = 0;
	fl_err err;

	pg_p_int(&p, d->state);
	pg_p_int(&p, d->attempts);
	pg_p_int(&p, d->next_at);
	pg_p_int(&p, d->last_at);
	pg_p_int(&p, d->last_status);
	pg_p_text(&p, d->last_error);
	pg_p_int(&p, d->done_at);
	pg_p_int(&p, d->ord);
	err = pg_cmd(tx, sql, &p, 0, &n);
	if (err == FL_OK && n == 0)
		err = FL_E_NOT_FOUND;
	return err;
}

fl_err pg_wh_delivery_list(struct fl_tx *tx, const char *tenant_id,
                           const char *endpoint_id, int64_t after, int limit,
                           FL_STORE_LIST_FN(struct fl_wh_delivery), void *ctx)
{
	static const char sql_all[] = "SELECT " DL_COLS DL_FROM
	                              "WHERE d.tenant_id = $1 AND d.ord > $2 "
	                              "ORDER BY d.ord LIMIT $3";
	static const char sql_ep[] =
	        "SELECT " DL_COLS DL_FROM
	        "WHERE d.tenant_id = $1 AND d.ord > $2 AND d.endpoint_id = $4 "
	        "ORDER BY d.ord LIMIT $3";
	struct pg_params p = {0};
	struct fl_wh_delivery d;
	PGresult *r = NULL;
	fl_err err;

	pg_p_text(&p, tenant_id);
	pg_p_int(&p, after);
	pg_p_int(&p, limit);
	if (endpoint_id != NULL)
		pg_p_text(&p, endpoint_id);
	TRY(pg_run(tx, endpoint_id != NULL ? sql_ep : sql_all, &p, 0, &r));
	for (int i = 0; i < PQntuples(r); i++) {
		TRY(read_delivery(r, i, &d));
		TRY(fn(ctx, &d));
	}
out:
	PQclear(r);
	return err;
}

fl_err pg_wh_delivery_get(struct fl_tx *tx, const char *tenant_id, int64_t ord,
                          struct fl_wh_delivery *out)
{
	static const char sql[] = "SELECT " DL_COLS DL_FROM
	                          "WHERE d.tenant_id = $1 AND d.ord = $2";
	struct pg_params p = {0};
	PGresult *r = NULL;
	fl_err err;

	memset(out, 0, sizeof(*out));
	pg_p_text(&p, tenant_id);
	pg_p_int(&p, ord);
	TRY(pg_run(tx, sql, &p, 0, &r));
	if (PQntuples(r) == 0) {
		err = FL_E_NOT_FOUND;
		goto out;
	}
	TRY(read_delivery(r, 0, out));
	out->body = NULL;
out:
	if (err != FL_OK)
		memset(out, 0, sizeof(*out));
	PQclear(r);
	return err;
}

fl_err pg_device_confirmed(struct fl_tx *tx, const char *id,
                           struct fl_confirmed *out)
{
	static const char sql[] = "SELECT confirmed_seq, confirmed_locked, "
	                          "confirmed_at FROM devices WHERE id = $1";
	struct pg_params p = {0};
	PGresult *r = NULL;
	fl_err err;

	memset(out, 0, sizeof(*out));
	pg_p_text(&p, id);
	TRY(pg_run(tx, sql, &p, 0, &r));
	if (PQntuples(r) == 0) {
		err = FL_E_NOT_FOUND;
		goto out;
	}
	out->seq = (uint64_t)pg_int(r, 0, 0);
	out->locked = pg_int(r, 0, 1) != 0;
	out->at = pg_int(r, 0, 2);
out:
	PQclear(r);
	return err;
}

fl_err pg_device_confirm(struct fl_tx *tx, const char *id,
                         const struct fl_confirmed *c)
{
	static const char sql[] = "UPDATE devices SET confirmed_seq = $1, "
	                          "confirmed_locked = $2, confirmed_at = $3 "
	                          "WHERE id = $4";
	struct pg_params p = {0};
	int64_t n = 0;
	fl_err err;

	if (c->seq > INT64_MAX)
		return FL_E_RANGE;
	pg_p_int(&p, (int64_t)c->seq);
	pg_p_int(&p, c->locked ? 1 : 0);
	pg_p_int(&p, c->at);
	pg_p_text(&p, id);
	err = pg_cmd(tx, sql, &p, 0, &n);
	if (err == FL_OK && n == 0)
		err = FL_E_NOT_FOUND;
	return err;
}

/* The oldest events before $1 (at most $2) with no pending delivery:
 * their deliveries go first, then the events left with none. */
#define PRUNE_EVENTS(pending)                                                  \
	"SELECT ord FROM webhook_events e WHERE e.created_at < $1 AND NOT "    \
	"EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_ord = "      \
	"e.ord" pending ") ORDER BY ord LIMIT $2"

fl_err pg_wh_prune(struct fl_tx *tx, fl_time before, int limit, int64_t *n)
{
	static const char sql_dl[] =
	        "DELETE FROM webhook_deliveries WHERE event_ord IN (" PRUNE_EVENTS(
	                " AND d.state = 0") ")";
	static const char sql_ev[] =
	        "DELETE FROM webhook_events WHERE ord IN (" PRUNE_EVENTS("") ")";
	struct pg_params p = {0}, q = {0};
	fl_err err;

	*n = 0;
	pg_p_int(&p, before);
	pg_p_int(&p, limit);
	pg_p_int(&q, before);
	pg_p_int(&q, limit);
	TRY(pg_cmd(tx, sql_dl, &p, 0, NULL));
	TRY(pg_cmd(tx, sql_ev, &q, 0, n));
out:
	return err;
}
