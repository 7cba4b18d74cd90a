/* holds.c - tenant-wide holds on automatic locks; stale payment feeds. */
#include "server/holds.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/app.h"
#include "server/audit.h"
#include "server/auth.h"
#include "server/decide.h"
#include "server/jsonval.h"
#include "server/log.h"
#include "server/sources.h"

json_t *fl_hold_json(const struct fl_hold_rec *h)
{
	return json_pack("{s:s,s:s,s:s?,s:o,s:s,s:o,s:s,s:o,s:s?,s:b}", "id",
	                 h->id, "kind", h->kind, "source_id",
	                 h->source_id[0] ? h->source_id : NULL, "until",
	                 fl_json_time(h->until), "reason", h->reason,
	                 "created_at", fl_json_time(h->created_at),
	                 "created_by", h->created_by, "released_at",
	                 fl_json_time(h->released_at), "released_by",
	                 h->released_by[0] ? h->released_by : NULL, "standing",
	                 h->released_at == 0);
}

/* --- re-deciding a tenant ------------------------------------------------- */

struct ids {
	char (*id)[FL_ID_MAX];
	size_t n, cap;
	int64_t last;
	int seen;
};

static fl_err collect(void *ctx, const struct fl_device *d)
{
	struct ids *x = ctx;

	x->last = d->ord;
	x->seen++;
	if (d->st.lock_cause != FL_LOCK_OVERDUE || d->st.lock_at == 0 ||
	    d->st.state == FL_ST_RELEASED)
		return FL_OK;
	if (x->n == x->cap) {
		size_t nc = x->cap ? x->cap * 2 : 64;
		void *na = realloc(x->id, nc * sizeof(*x->id));

		if (na == NULL)
			return FL_E_NOMEM;
		x->id = na;
		x->cap = nc;
	}
	snprintf(x->id[x->n++], FL_ID_MAX, "%s", d->id);
	return FL_OK;
}

#define REDECIDE_GROUP 256

fl_err fl_hold_redecide(struct fl_app *app, const char *tenant_id, fl_time now,
                        int *n)
{
	struct fl_device_filter flt = {.any_state = true};
	struct fl_decided what[REDECIDE_GROUP];
	struct ids x = {0};
	struct fl_tx *tx = NULL;
	fl_err err = FL_OK;

	if (n != NULL)
		*n = 0;
	do {
		x.seen = 0;
		if ((err = fl_store_begin(app->store, false, &tx)) != FL_OK)
			goto out;
		err = fl_store_device_list(tx, tenant_id, &flt, x.last, 500,
		                           collect, &x);
		fl_tx_rollback(tx);
		if (err != FL_OK)
			goto out;
	} while (x.seen == 500);
	for (size_t g = 0; g < x.n; g += REDECIDE_GROUP) {
		size_t m = x.n - g < REDECIDE_GROUP ? x.n - g : REDECIDE_GROUP;

		memset(what, 0, sizeof(what));
		if ((err = fl_store_begin(app->store, true, &tx)) != FL_OK)
			goto out;
		for (size_t i = 0; i < m && err == FL_OK; i++)
			err = fl_decide_device(tx, tenant_id, x.id[g + i], now,
			                       false, NULL, &what[i]);
		if (err != FL_OK) {
			fl_tx_rollback(tx);
			goto out;
		}
		if ((err = fl_tx_commit(tx)) != FL_OK)
			goto out;
		for (size_t i = 0; i < m; i++) {
			fl_decide_committed(app, x.id[g + i], &what[i]);
			if (n != NULL && what[i].bumped)
				(*n)++;
		}
	}
out:
	free(x.id);
	return err;
}

/* --- stale feeds ---------------------------------------------------------- */

#define TICK_SOURCES 1024 /* sources looked at per tick */

struct srcs {
	struct fl_source_rec *s;
	size_t n;
};

static fl_err take_source(void *ctx, const struct fl_source_rec *s)
{
	struct srcs *x = ctx;

	if (x->n < TICK_SOURCES)
		x->s[x->n++] = *s;
	return FL_OK;
}

struct by_source {
	const char *source_id;
	struct fl_hold_rec h;
};

static fl_err find_stale_hold(void *ctx, const struct fl_hold_rec *h)
{
	struct by_source *b = ctx;

	if (strcmp(h->kind, "stale") == 0 &&
	    strcmp(h->source_id, b->source_id) == 0 && b->h.id[0] == '\0')
		b->h = *h;
	return FL_OK;
}

/* One source's health at now, in tx: *changed when its tenant's holds
 * moved. */
static fl_err tick_source(struct fl_tx *tx, struct fl_source_rec *s,
                          fl_time now, bool *changed)
{
	fl_time last =
	        s->last_callback_at != 0 ? s->last_callback_at : s->created_at;
	bool silent = s->disabled_at == 0 && s->max_silence > 0 &&
	              now - last > s->max_silence;
	struct by_source b = {.source_id = s->id};
	fl_err err;

	*changed = false;
	err = fl_store_hold_list(tx, s->tenant_id, now, 64, find_stale_hold,
	                         &b);
	if (err != FL_OK)
		return err;
	if (!silent) {
		if (b.h.id[0] == '\0')
			return FL_OK;
		/* the feed spoke again (or was disabled): the hold ends */
		*changed = true;
		if ((err = fl_store_hold_release(tx, s->tenant_id, b.h.id, now,
		                                 "system")) != FL_OK)
			return err;
		return fl_audit_append(tx, s->tenant_id, "system", now,
		                       "locks.hold_end", b.h.id,
		                       fl_hold_json(&b.h), NULL);
	}
	if (b.h.id[0] != '\0') {
		/* still quiet: keep the hold a horizon ahead */
		if (b.h.until - now >= FL_HOLD_HORIZON / 2)
			return FL_OK;
		b.h.until = now + FL_HOLD_HORIZON;
		*changed = true;
		return fl_store_hold_extend(tx, &b.h);
	}
	/* newly stale */
	memset(&b.h, 0, sizeof(b.h));
	fl_id_generate(b.h.id, "lh");
	snprintf(b.h.tenant_id, sizeof(b.h.tenant_id), "%s", s->tenant_id);
	snprintf(b.h.kind, sizeof(b.h.kind), "stale");
	snprintf(b.h.source_id, sizeof(b.h.source_id), "%s", s->id);
	b.h.until = now + FL_HOLD_HORIZON;
	snprintf(b.h.reason, sizeof(b.h.reason),
	         "payment source %s (%s) silent for more than %lld s", s->id,
	         s->kind, (long long)s->max_silence);
	b.h.created_at = now;
	snprintf(b.h.created_by, sizeof(b.h.created_by), "system");
	s->stale_since = now;
	*changed = true;
	if ((err = fl_store_hold_insert(tx, &b.h)) != FL_OK ||
	    (err = fl_store_source_update(tx, s)) != FL_OK ||
	    (err = fl_audit_append(tx, s->tenant_id, "system", now,
	                           "locks.hold", b.h.id, NULL,
	                           fl_hold_json(&b.h))) != FL_OK)
		return err;
	fl_log(FL_LOG_WARN, "payment source stale",
	       json_pack("{s:s,s:s,s:I}", "tenant", s->tenant_id, "source",
	                 s->id, "max_silence", (json_int_t)s->max_silence));
	if ((err = fl_src_event(tx, s->tenant_id, "payment_source.stale",
	                        fl_src_json(s, now), now)) != FL_OK)
		return err;
	return fl_src_event(tx, s->tenant_id, "locks.held", fl_hold_json(&b.h),
	                    now);
}

void fl_holds_tick(struct fl_app *app, fl_time now)
{
	struct srcs x = {0};
	struct fl_tx *tx = NULL;
	bool mine = false;
	fl_err err;

	if ((x.s = calloc(TICK_SOURCES, sizeof(*x.s))) == NULL)
		return;
	if ((err = fl_store_begin(app->store, false, &tx)) == FL_OK) {
		err = fl_store_source_list(tx, NULL, 0, TICK_SOURCES,
		                           take_source, &x);
		fl_tx_rollback(tx);
	}
	for (size_t i = 0; err == FL_OK && i < x.n; i++) {
		bool changed = false;

		if (x.s[i].max_silence == 0)
			continue;
		if ((err = fl_store_begin(app->store, true, &tx)) != FL_OK)
			break;
		/* one node looks after the feeds at a time */
		err = fl_store_job_claim(tx, "payment-feeds", &mine);
		if (err == FL_OK && !mine) {
			fl_tx_rollback(tx);
			break;
		}
		/* the source as stored now (a callback may have come) */
		if (err == FL_OK) {
			char id[FL_ID_MAX];

			snprintf(id, sizeof(id), "%s", x.s[i].id);
			err = fl_store_source_get(tx, NULL, id, &x.s[i]);
		}
		if (err == FL_OK)
			err = tick_source(tx, &x.s[i], now, &changed);
		if (err == FL_OK)
			err = fl_tx_commit(tx);
		else
			fl_tx_rollback(tx);
		if (err == FL_OK && changed)
			err = fl_hold_redecide(app, x.s[i].tenant_id, now,
			                       NULL);
	}
	if (err != FL_OK)
		fl_log(FL_LOG_ERROR, "payment feed check failed",
		       fl_log_err(NULL, err));
	free(x.s);
}
