/*
 * api_pairing.c - pairing requests of reflashed phones, the lender's
 * side:
 *
 *   GET  /v1/devices/{id}/pairing-requests   reflashed phones waiting
 *   POST /v1/devices/{id}/approve-pairing    re-enroll with new keys
 *   POST /v1/devices/{id}/reject-pairing
 *
 * A phone that lost its keys asks to enroll again (api_device.c) and
 * shows a pairing code; the lender approves the request whose code the
 * customer reads out. Errors are the lender API's JSON errors (req.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/devproto.h"
#include "server/api.h"
#include "server/app.h"
#include "server/auth.h"
#include "server/jsonio.h"
#include "server/route.h"
#include "server/txn.h"

static const char *pairing_status(const struct fl_pairing_rec *r, fl_time now)
{
	if (r->status == FL_PAIRING_APPROVED)
		return "approved";
	if (r->status == FL_PAIRING_REJECTED)
		return "rejected";
	return r->expires_at <= now ? "expired" : "pending";
}

static json_t *pairing_json(const struct fl_pairing_rec *r, fl_time now)
{
	return json_pack("{s:I,s:s,s:s,s:o,s:o,s:o,s:s,s:b,s:s}", "request_id",
	                 (json_int_t)r->ord, "pairing_code", r->code, "status",
	                 pairing_status(r, now), "created_at",
	                 fl_json_time(r->created_at), "expires_at",
	                 fl_json_time(r->expires_at), "decided_at",
	                 fl_json_time(r->decided_at), "decided_by",
	                 r->decided_by, "factory_signed", r->factory_signed,
	                 "client_network", r->client_net);
}

/* What a walk over a device's pairing requests collects: every request
 * for a listing; for a decision, the pending requests that show the code
 * (or have the id) and, by code, every such candidate. */
struct pairing_walk {
	json_t *items;    /* every request, when listing */
	const char *code; /* the code looked for, when deciding by code */
	int64_t ord;      /* the request id looked for, when deciding by id */
	fl_time now;
	struct fl_pairing_rec match; /* the (last) pending request found */
	int matches;
	json_t *candidates; /* the pending requests with code */
};

static fl_err pairing_one(void *ctx, const struct fl_pairing_rec *r)
{
	struct pairing_walk *w = ctx;

	if (w->items != NULL &&
	    json_array_append_new(w->items, pairing_json(r, w->now)) != 0)
		return FL_E_NOMEM;
	if (r->status != FL_PAIRING_PENDING || r->expires_at <= w->now)
		return FL_OK;
	if ((w->code != NULL && strcmp(r->code, w->code) == 0) ||
	    (w->ord > 0 && r->ord == w->ord)) {
		w->match = *r;
		w->matches++;
		if (w->candidates != NULL &&
		    json_array_append_new(
		            w->candidates,
		            json_pack("{s:I,s:o,s:b,s:s}", "request_id",
		                      (json_int_t)r->ord, "created_at",
		                      fl_json_time(r->created_at),
		                      "factory_signed", r->factory_signed,
		                      "client_network", r->client_net)) != 0)
			return FL_E_NOMEM;
	}
	return FL_OK;
}

static void pairing_requests(struct fl_req *req)
{
	static const char *const q[] = {NULL};
	struct pairing_walk w = {.now = req->now};
	struct fl_device *d = calloc(1, sizeof(*d));
	struct fl_tx *tx = NULL;
	fl_err err;

	if (d == NULL) {
		fl_reply_error(req, FL_E_NOMEM, NULL);
		return;
	}
	if (fl_req_query_only(req, q) != FL_OK)
		goto done;
	if ((w.items = json_array()) == NULL) {
		fl_reply_error(req, FL_E_NOMEM, NULL);
		goto done;
	}
	if ((err = fl_store_begin(req->app->store, false, &tx)) == FL_OK) {
		err = fl_api_path_device(req, tx, d);
		if (err == FL_OK)
			err = fl_store_pairing_list(tx, d->id, pairing_one, &w);
		fl_tx_rollback(tx);
	}
	if (err != FL_OK) {
		json_decref(w.items);
		fl_reply_error(req, err,
		               err == FL_E_NOT_FOUND ? "no such device" : NULL);
		goto done;
	}
	fl_reply_json(
	        req, 200,
	        json_pack("{s:s,s:o}", "device_id", d->id, "items", w.items));
done:
	free(d);
}

/* Reads the body of an approval or refusal: {"pairing_code": ".."} (as
 * the phone shows it, "0491 7253 8812 0034", or run together) or
 * {"request_id": N}, into w. Answers and returns an error otherwise. */
static fl_err pairing_choice(struct fl_req *req, struct pairing_walk *w,
                             char code[FL_DP_PAIRING_LEN + 1])
{
	static const char *const fields[] = {"pairing_code", "request_id",
	                                     NULL};
	struct fl_jin j;
	char raw[64];
	int64_t id = 0;
	bool by_code, by_id;
	size_t n = 0;

	if (fl_jin_parse(&j, req) != FL_OK)
		return FL_E_INVALID;
	fl_jin_only(&j, fields);
	by_code = fl_jin_str(&j, "pairing_code", false, raw, sizeof(raw));
	by_id = fl_jin_int(&j, "request_id", false, &id);
	if (j.err == FL_OK && by_code == by_id)
		fl_jin_fail(&j, FL_E_FIELD_MISSING,
		            "give either pairing_code or request_id");
	for (size_t i = 0; j.err == FL_OK && by_code && raw[i] != '\0'; i++) {
		if (raw[i] == ' ' || raw[i] == '-')
			continue;
		if (raw[i] < '0' || raw[i] > '9' || n == FL_DP_PAIRING_LEN) {
			n = 0;
			break;
		}
		code[n++] = raw[i];
	}
	code[n] = '\0';
	if (j.err == FL_OK && by_code && n != FL_DP_PAIRING_LEN)
		fl_jin_fail(
		        &j, FL_E_INVALID,
		        "pairing_code must be the 16 digits the phone shows");
	if (j.err == FL_OK && by_id && id < 1)
		fl_jin_fail(&j, FL_E_RANGE,
		            "request_id must be a request's id (1 or more)");
	if (fl_jin_end(&j) != FL_OK)
		return FL_E_INVALID;
	w->code = by_code ? code : NULL;
	w->ord = by_id ? id : 0;
	return FL_OK;
}

/* The 409 ambiguous_pairing_code answer: the candidates (request id,
 * created_at, factory_signed, client network), whose ids the message
 * also names. */
static void ambiguous(struct fl_req *req, json_t *candidates)
{
	char msg[256];
	size_t used, i;
	json_t *c;

	used = (size_t)snprintf(msg, sizeof(msg),
	                        "%zu pending requests show this code "
	                        "(request ids",
	                        json_array_size(candidates));
	json_array_foreach(candidates, i, c)
	{
		if (used + 32 >= sizeof(msg))
			break;
		used += (size_t)snprintf(
		        msg + used, sizeof(msg) - used, "%s %lld",
		        i > 0 ? "," : "",
		        (long long)json_integer_value(
		                json_object_get(c, "request_id")));
	}
	snprintf(msg + used, sizeof(msg) - used,
	         "); approve or refuse one by its request_id");
	fl_reply_json(req, 409,
	              json_pack("{s:{s:s,s:s},s:O}", "error", "code",
	                        "ambiguous_pairing_code", "message", msg,
	                        "candidates", candidates));
	req->err_code = "ambiguous_pairing_code";
}

struct pairing_io {
	struct pairing_walk w;
	enum fl_pairing_status to;
	struct fl_device d;
};

/* One attempt (txn.h) of a pairing decision. */
static fl_err pairing_step(struct fl_tx *tx, struct fl_req *req, void *ctx)
{
	struct pairing_io *io = ctx;
	struct pairing_walk *w = &io->w;
	struct fl_device *d = &io->d;
	fl_err err;

	/* every attempt walks the requests afresh */
	w->matches = 0;
	memset(&w->match, 0, sizeof(w->match));
	if (w->candidates != NULL)
		json_array_clear(w->candidates);
	err = fl_api_path_device_locked(req, tx, d);
	if (err == FL_OK)
		err = fl_store_pairing_expire(tx, d->id, req->now);
	if (err == FL_OK)
		err = fl_store_pairing_list(tx, d->id, pairing_one, w);
	if (err == FL_E_NOT_FOUND) {
		fl_reply_error(req, err, "no such device");
		return err;
	}
	if (err == FL_OK && w->matches == 0) {
		fl_reply_error(
		        req, FL_E_NOT_FOUND,
		        w->code != NULL
		                ? "no pending pairing request shows this "
		                  "code"
		                : "no pending pairing request has this "
		                  "id");
		return FL_E_NOT_FOUND;
	}
	if (err == FL_OK && w->matches > 1) {
		ambiguous(req, w->candidates);
		return FL_E_CONFLICT;
	}
	if (err == FL_OK)
		err = fl_store_pairing_decide(tx, d->id, w->match.ord, io->to,
		                              req->now, req->who.key_id);
	if (err == FL_OK) {
		w->match.status = io->to;
		w->match.decided_at = req->now;
		snprintf(w->match.decided_by, sizeof(w->match.decided_by), "%s",
		         req->who.key_id);
		err = fl_audit_req(
		        tx, req,
		        io->to == FL_PAIRING_APPROVED ? "device.pairing_approve"
		                                      : "device.pairing_reject",
		        d->id, NULL, pairing_json(&w->match, req->now));
	}
	if (err != FL_OK)
		return err;
	fl_reply_json(req, 200,
	              json_pack("{s:s,s:o}", "device_id", d->id, "request",
	                        pairing_json(&w->match, req->now)));
	return FL_OK;
}

/* Approves or refuses the one pending request whose pairing code the
 * customer read from the phone's screen, or the one the lender chose by
 * its id. Two pending requests showing the same code are answered 409
 * ambiguous_pairing_code with both as candidates, to choose between by
 * id. */
static void decide_pairing(struct fl_req *req, enum fl_pairing_status to)
{
	struct pairing_io *io = calloc(1, sizeof(*io));
	char code[FL_DP_PAIRING_LEN + 1];

	if (io == NULL) {
		fl_reply_error(req, FL_E_NOMEM, NULL);
		return;
	}
	io->w.now = req->now;
	io->to = to;
	if (pairing_choice(req, &io->w, code) != FL_OK)
		goto done;
	if (io->w.code != NULL && (io->w.candidates = json_array()) == NULL) {
		fl_reply_error(req, FL_E_NOMEM, NULL);
		goto done;
	}
	if (fl_txn_run(req, pairing_step, io) != FL_OK)
		goto done; /* answered */
done:
	json_decref(io->w.candidates);
	free(io);
}

static void approve_pairing(struct fl_req *req)
{
	decide_pairing(req, FL_PAIRING_APPROVED);
}

static void reject_pairing(struct fl_req *req)
{
	decide_pairing(req, FL_PAIRING_REJECTED);
}

#define DEVICE_PATH "/v1/devices/{device_id}"

static const struct fl_route routes[] = {
        {"GET", DEVICE_PATH "/pairing-requests", pairing_requests,
         FL_ROLES_READ},
        {"POST", DEVICE_PATH "/approve-pairing", approve_pairing,
         FL_ROLE_ADMIN | FL_ROLE_SUPPORT},
        {"POST", DEVICE_PATH "/reject-pairing", reject_pairing,
         FL_ROLE_ADMIN | FL_ROLE_SUPPORT},
};

const struct fl_route_table fl_routes_pairing = FL_ROUTE_TABLE(routes);
