/*
 * api_holds.c - tenant-wide holds on automatic locks (holds.h): an
 * admin's freeze with a reason and an end, the holds standing (a freeze,
 * or a stale payment feed's), releasing one, and a preview of what will
 * lock. Freezing, releasing and previewing are audited.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/state.h"
#include "server/api.h"
#include "server/app.h"
#include "server/audit.h"
#include "server/auth.h"
#include "server/holds.h"
#include "server/jsonio.h"
#include "server/route.h"
#include "server/txn.h"

#define FREEZE_MAX (90LL * FL_DAY) /* the longest freeze at once */

struct freeze_io {
	struct fl_hold_rec h;
};

static fl_err freeze_step(struct fl_tx *tx, struct fl_req *req, void *ctx)
{
	struct freeze_io *io = ctx;
	fl_err err;

	if ((err = fl_store_hold_insert(tx, &io->h)) != FL_OK ||
	    (err = fl_audit_req(tx, req, "locks.freeze", io->h.id, NULL,
	                        fl_hold_json(&io->h))) != FL_OK)
		return err;
	fl_reply_json(req, 201, fl_hold_json(&io->h));
	return FL_OK;
}

static void freeze(struct fl_req *req)
{
	static const char *const fields[] = {"until", "reason", NULL};
	struct freeze_io *io = calloc(1, sizeof(*io));
	struct fl_jin j;

	if (io == NULL) {
		fl_reply_error(req, FL_E_NOMEM, NULL);
		return;
	}
	if (fl_jin_parse(&j, req) != FL_OK)
		goto done;
	fl_jin_only(&j, fields);
	if (fl_jin_time(&j, "until", true, &io->h.until) &&
	    (io->h.until <= req->now || io->h.until > req->now + FREEZE_MAX))
		fl_jin_fail(&j, FL_E_RANGE,
		            "until must be in the future, at most 90 days on");
	fl_jin_str(&j, "reason", true, io->h.reason, sizeof(io->h.reason));
	if (j.err == FL_OK &&
	    (io->h.reason[0] == '\0' || !fl_api_text_ok(io->h.reason)))
		fl_jin_fail(&j, FL_E_FIELD_MISSING,
		            "a reason (printable text) is required");
	if (fl_jin_end(&j) != FL_OK)
		goto done;
	fl_id_generate(io->h.id, "lh");
	snprintf(io->h.tenant_id, sizeof(io->h.tenant_id), "%s",
	         req->who.tenant_id);
	snprintf(io->h.kind, sizeof(io->h.kind), "freeze");
	io->h.created_at = req->now;
	snprintf(io->h.created_by, sizeof(io->h.created_by), "%s",
	         req->who.key_id);
	/* the new tokens go out once the freeze is durable */
	if (fl_txn_run(req, freeze_step, io) == FL_OK &&
	    fl_hold_redecide(req->app, req->who.tenant_id, req->now, NULL) !=
	            FL_OK) {
		/* the sweep decides them at their lock_at anyway */
	}
done:
	free(io);
}

struct hlist {
	json_t *items;
};

static fl_err hold_one(void *ctx, const struct fl_hold_rec *h)
{
	struct hlist *l = ctx;

	return json_array_append_new(l->items, fl_hold_json(h)) == 0
	               ? FL_OK
	               : FL_E_NOMEM;
}

static void holds(struct fl_req *req)
{
	static const char *const q[] = {"all", "cursor", "limit", NULL};
	const char *all = fl_req_query(req, "all");
	struct hlist l = {0};
	struct fl_tx *tx = NULL;
	fl_err err;

	if (fl_req_query_only(req, q) != FL_OK)
		return;
	if (all != NULL && strcmp(all, "true") != 0 &&
	    strcmp(all, "false") != 0) {
		fl_reply_error(req, FL_E_INVALID, "all must be true or false");
		return;
	}
	if ((l.items = json_array()) == NULL) {
		fl_reply_error(req, FL_E_NOMEM, NULL);
		return;
	}
	if ((err = fl_store_begin(req->app->store, false, &tx)) == FL_OK) {
		err = fl_store_hold_list(
		        tx, req->who.tenant_id,
		        all != NULL && strcmp(all, "true") == 0 ? 0 : req->now,
		        500, hold_one, &l);
		fl_tx_rollback(tx);
	}
	if (err != FL_OK) {
		json_decref(l.items);
		fl_reply_error(req, err, NULL);
		return;
	}
	fl_reply_json(req, 200, json_pack("{s:o}", "items", l.items));
}

struct release_io {
	struct fl_hold_rec h;
};

static fl_err find_hold(void *ctx, const struct fl_hold_rec *h)
{
	struct release_io *io = ctx;

	if (strcmp(h->id, io->h.id) == 0)
		io->h = *h;
	return FL_OK;
}

static fl_err release_step(struct fl_tx *tx, struct fl_req *req, void *ctx)
{
	struct release_io *io = ctx;
	json_t *before;
	fl_err err;

	memset(&io->h, 0, sizeof(io->h));
	snprintf(io->h.id, sizeof(io->h.id), "%s",
	         fl_req_param(req, "hold_id"));
	if ((err = fl_store_hold_list(tx, req->who.tenant_id, 0, -1, find_hold,
	                              io)) != FL_OK)
		return err;
	before = fl_hold_json(&io->h);
	err = fl_store_hold_release(tx, req->who.tenant_id,
	                            fl_req_param(req, "hold_id"), req->now,
	                            req->who.key_id);
	if (err == FL_E_NOT_FOUND || err == FL_E_STATE) {
		json_decref(before);
		fl_reply_error(req, err,
		               err == FL_E_NOT_FOUND ? "no such hold"
		                                     : "the hold has ended");
		return err;
	}
	io->h.released_at = req->now;
	snprintf(io->h.released_by, sizeof(io->h.released_by), "%s",
	         req->who.key_id);
	if (err != FL_OK) {
		json_decref(before);
		return err;
	}
	if ((err = fl_audit_req(tx, req, "locks.hold_release", io->h.id, before,
	                        fl_hold_json(&io->h))) != FL_OK)
		return err;
	fl_reply_json(req, 200, fl_hold_json(&io->h));
	return FL_OK;
}

static void release(struct fl_req *req)
{
	struct release_io *io;

	if (fl_api_empty_body(req) != FL_OK)
		return;
	if ((io = calloc(1, sizeof(*io))) == NULL) {
		fl_reply_error(req, FL_E_NOMEM, NULL);
		return;
	}
	if (fl_txn_run(req, release_step, io) == FL_OK &&
	    fl_hold_redecide(req->app, req->who.tenant_id, req->now, NULL) !=
	            FL_OK) {
		/* the sweep decides them at their lock_at anyway */
	}
	free(io);
}

/* --- preview -------------------------------------------------------------- */

struct preview {
	fl_time now, until;
	struct fl_hold_rec hold; /* standing, or id "" */
	json_t *items;
	int64_t last;
	int seen;
};

static const char *cause_of(enum fl_lock_cause c)
{
	const char *n = fl_lock_cause_name(c);

	return n != NULL ? n : "none";
}

static fl_err preview_one(void *ctx, const struct fl_device *d)
{
	struct preview *p = ctx;
	const struct fl_device_status *s = &d->st;
	bool held;

	p->last = d->ord;
	p->seen++;
	if (s->state == FL_ST_LOCKED || s->state == FL_ST_RELEASED ||
	    s->lock_at == 0 || s->lock_at <= p->now || s->lock_at > p->until)
		return FL_OK;
	held = p->hold.id[0] != '\0' && s->lock_cause == FL_LOCK_OVERDUE &&
	       s->lock_at == p->hold.until;
	return json_array_append_new(
	               p->items,
	               json_pack("{s:s,s:s,s:o,s:s,s:I,s:b}", "device_id",
	                         d->id, "imei", d->imei, "lock_at",
	                         fl_json_time(s->lock_at), "cause",
	                         cause_of(s->lock_cause), "amount_due",
	                         (json_int_t)s->amount_due, "held", held)) == 0
	               ? FL_OK
	               : FL_E_NOMEM;
}

static fl_err preview_step(struct fl_tx *tx, struct fl_req *req, void *ctx)
{
	struct preview *p = ctx;
	struct fl_device_filter flt = {.any_state = true};
	json_t *body;
	fl_err err;

	json_array_clear(p->items);
	p->last = 0;
	err = fl_hold_standing(tx, req->who.tenant_id, p->now, &p->hold);
	if (err != FL_OK && err != FL_E_NOT_FOUND)
		return err;
	do {
		p->seen = 0;
		if ((err = fl_store_device_list(tx, req->who.tenant_id, &flt,
		                                p->last, 500, preview_one,
		                                p)) != FL_OK)
			return err;
	} while (p->seen == 500);
	body = json_pack("{s:I,s:o,s:o,s:O,s:o}", "count",
	                 (json_int_t)json_array_size(p->items), "from",
	                 fl_json_time(p->now), "until", fl_json_time(p->until),
	                 "devices", p->items, "hold",
	                 p->hold.id[0] ? fl_hold_json(&p->hold) : json_null());
	if ((err = fl_audit_req(
	             tx, req, "locks.preview", req->who.tenant_id, NULL,
	             json_pack("{s:I,s:I}", "within",
	                       (json_int_t)(p->until - p->now), "count",
	                       (json_int_t)json_array_size(p->items)))) !=
	    FL_OK) {
		json_decref(body);
		return err;
	}
	fl_reply_json(req, 200, body);
	return FL_OK;
}

static void preview(struct fl_req *req)
{
	static const char *const q[] = {"within", NULL};
	const char *within = fl_req_query(req, "within");
	struct preview p = {.now = req->now};
	int64_t secs = FL_DAY;

	if (fl_req_query_only(req, q) != FL_OK)
		return;
	if (within != NULL &&
	    (fl_duration_parse(within, strlen(within), &secs) != FL_OK ||
	     secs < 1 || secs > 90 * FL_DAY)) {
		fl_reply_error(req, FL_E_INVALID,
		               "within must be a duration of at most 90 days "
		               "(24h, 3d, 3600)");
		return;
	}
	p.until = req->now + secs;
	if ((p.items = json_array()) == NULL) {
		fl_reply_error(req, FL_E_NOMEM, NULL);
		return;
	}
	if (fl_txn_run_unrecorded(req, preview_step, &p) != FL_OK) {
		/* answered */
	}
	json_decref(p.items);
}

static const struct fl_route routes[] = {
        {"POST", "/v1/locks/freeze", freeze, FL_ROLE_ADMIN},
        {"GET", "/v1/locks/holds", holds, FL_ROLES_READ},
        {"POST", "/v1/locks/holds/{hold_id}/release", release, FL_ROLE_ADMIN},
        {"GET", "/v1/locks/preview", preview, FL_ROLES_READ},
};

const struct fl_route_table fl_routes_holds = FL_ROUTE_TABLE(routes);
