/*
 * api_offcode.c - offline codes, the lender's side:
 *
 *   POST /v1/devices/{id}/offline-code   unlock N days / release
 *
 * A 10-digit code support reads to a customer whose phone has no data
 * (core/ocode.h); the rules are offcode.h's. Errors are the lender API's
 * JSON errors (req.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "core/ocode.h"
#include "server/app.h"
#include "server/auth.h"
#include "server/decide.h"
#include "server/jsonio.h"
#include "server/offcode.h"
#include "server/route.h"
#include "server/txn.h"

/* The code in two groups and a tail as support reads it: "123 456 7890". */
static void code_spoken(const char code[FL_OCODE_LEN + 1], char out[16])
{
	snprintf(out, 16, "%.3s %.3s %.4s", code, code + 3, code + 6);
}

/* The step of POST .../offline-code: the rules (offcode.h), then the
 * answer. */
struct offcode_io {
	struct fl_offcode_input in;
	struct fl_offcode_result out;
};

static fl_err offline_code_step(struct fl_tx *tx, struct fl_req *req, void *ctx)
{
	struct offcode_io *io = ctx;
	struct fl_offcode_result *o = &io->out;
	enum fl_ocode_action action = io->in.action;
	char spoken[16], day_s[16];
	int y, mo, dd, h, mi, s;
	fl_err err = fl_offcode_mint(tx, &io->in, req->now, o);

	if (err != FL_OK) {
		if (o->msg[0] != '\0')
			fl_reply_error(req, err, "%s", o->msg);
		return err;
	}
	fl_time_to_civil(o->issue_day * FL_DAY, &y, &mo, &dd, &h, &mi, &s);
	snprintf(day_s, sizeof(day_s), "%04d-%02d-%02d", y, mo, dd);
	code_spoken(o->code, spoken);
	fl_reply_json(req, o->reused ? 200 : 201,
	              json_pack("{s:s,s:s,s:s,s:s,s:i,s:I,s:s,s:o,s:b}",
	                        "device_id", o->device_id, "code", o->code,
	                        "spoken", spoken, "action",
	                        fl_ocode_action_name(action), "days",
	                        fl_ocode_action_days(action), "counter",
	                        (json_int_t)o->counter, "issued_on", day_s,
	                        "expires_at",
	                        fl_json_time(fl_ocode_expires_at(o->issue_day)),
	                        "shown_again", o->reused));
	fl_wipe(spoken, sizeof(spoken));
	return FL_OK;
}

/* POST /v1/devices/{id}/offline-code {"days": N} or {"action": NAME}:
 * a 10-digit code support reads to a customer whose phone has no data
 * (core/ocode.h, the rules in offcode.h). Release is an admin's act. */
static void offline_code(struct fl_req *req)
{
	static const char *const fields[] = {"days", "action", NULL};
	struct offcode_io *io = calloc(1, sizeof(*io));
	enum fl_ocode_action action = 0;
	char name[24];
	struct fl_jin j;
	int64_t days = 0;
	bool has_days, has_action;

	if (io == NULL) {
		fl_reply_error(req, FL_E_NOMEM, NULL);
		return;
	}
	if (fl_jin_parse(&j, req) != FL_OK)
		goto done;
	fl_jin_only(&j, fields);
	has_days = fl_jin_int(&j, "days", false, &days);
	has_action = fl_jin_str(&j, "action", false, name, sizeof(name));
	if (j.err == FL_OK && has_days == has_action)
		fl_jin_fail(&j, FL_E_FIELD_MISSING,
		            "give either days (1, 3, 7 or 30) or action");
	if (j.err == FL_OK && has_days &&
	    (days > 30 ||
	     fl_ocode_action_for_days((int)days, &action) != FL_OK))
		fl_jin_fail(&j, FL_E_RANGE, "days must be 1, 3, 7 or 30");
	if (j.err == FL_OK && has_action &&
	    fl_ocode_action_parse(name, strlen(name), &action) != FL_OK)
		fl_jin_fail(&j, FL_E_INVALID,
		            "action must be unlock_1d, unlock_3d, unlock_7d, "
		            "unlock_30d or release");
	if (fl_jin_end(&j) != FL_OK)
		goto done;
	if (action == FL_OCODE_RELEASE && req->who.role != FL_ROLE_ADMIN) {
		fl_reply_error(req, FL_E_PERM,
		               "releasing a phone by code is an admin's act");
		goto done;
	}
	snprintf(io->in.tenant_id, sizeof(io->in.tenant_id), "%s",
	         req->who.tenant_id);
	snprintf(io->in.device_id, sizeof(io->in.device_id), "%s",
	         fl_req_param(req, "device_id"));
	snprintf(io->in.actor, sizeof(io->in.actor), "%s", req->who.key_id);
	io->in.action = action;
	io->in.server_kx_pk = req->app->secrets.kx_pk;
	io->in.server_kx_sk = req->app->secrets.kx_sk;
	/* No Idempotency-Key record: it would keep the answer, a bearer
	 * secret, in the database. A retry is answered with the same unused
	 * code anyway. */
	if (fl_txn_run_unrecorded(req, offline_code_step, io) == FL_OK &&
	    io->out.decided)
		fl_decide_committed(req->app, io->out.device_id, &io->out.what);
done:
	fl_wipe(io, sizeof(*io));
	free(io);
}

static const struct fl_route routes[] = {
        {"POST", "/v1/devices/{device_id}/offline-code", offline_code,
         FL_ROLE_ADMIN | FL_ROLE_SUPPORT},
};

const struct fl_route_table fl_routes_offcode = FL_ROUTE_TABLE(routes);
