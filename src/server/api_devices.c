/*
 * api_devices.c - a lender's devices: register (with a one-time
 * enrollment code), list with filters, show, issue a new enrollment code,
 * and the manual commands (lock now or at a time, unlock until a time,
 * release, stolen set and clear, force sync). Every command is stored and
 * the device re-decided in the same transaction (decide.h).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/crypto.h"
#include "core/imei.h"
#include "core/policy.h"
#include "core/state.h"
#include "server/api.h"
#include "server/app.h"
#include "server/auth.h"
#include "server/decide.h"
#include "server/devices.h"
#include "server/enroll.h"
#include "server/holds.h"
#include "server/jsonio.h"
#include "server/push.h"
#include "server/route.h"
#include "server/txn.h"

/* --- what a device's JSON shows of the device protocol ----------------------
 */

#define REPORTS_SHOWN 20 /* reports in a device's JSON */

static fl_err report_json(void *ctx, const struct fl_report_rec *r)
{
	json_t *arr = ctx;

	return json_array_append_new(
	               arr,
	               json_pack("{s:o,s:s,s:s}", "at", fl_json_time(r->at),
	                         "kind",
	                         r->kind == FL_REPORT_SIM ? "sim" : "tamper",
	                         "detail", r->detail)) == 0
	               ? FL_OK
	               : FL_E_NOMEM;
}

fl_err fl_api_device_protocol_json(struct fl_tx *tx, const struct fl_device *d,
                                   json_t *j)
{
	struct fl_ocode_rec oc;
	json_t *reports = json_array();
	fl_err err;

	if (reports == NULL)
		return FL_E_NOMEM;
	err = fl_store_report_list(tx, d->tenant_id, d->id, REPORTS_SHOWN,
	                           report_json, reports);
	if (err == FL_OK)
		err = fl_store_ocode_get(tx, d->id, &oc);
	if (err != FL_OK) {
		json_decref(reports);
		return err;
	}
	json_object_set_new(j, "reports", reports);
	json_object_set_new(j, "offline_code",
	                    json_pack("{s:I,s:I,s:o}", "counter",
	                              (json_int_t)oc.counter, "used",
	                              (json_int_t)oc.used, "unlock_until",
	                              fl_json_time(oc.unlock_until)));
	return FL_OK;
}

/* --- devices ----------------------------------------------------------------
 */

fl_err fl_api_path_device(struct fl_req *req, struct fl_tx *tx,
                          struct fl_device *out)
{
	const char *id = fl_req_param(req, "device_id");

	if (id == NULL)
		return FL_E_NOT_FOUND;
	return fl_store_device_get(tx, req->who.tenant_id, id, out);
}

fl_err fl_api_path_device_locked(struct fl_req *req, struct fl_tx *tx,
                                 struct fl_device *out)
{
	const char *id = fl_req_param(req, "device_id");
	fl_err err;

	if (id == NULL)
		return FL_E_NOT_FOUND;
	if ((err = fl_store_lock_device(tx, id)) != FL_OK)
		return err;
	return fl_store_device_get(tx, req->who.tenant_id, id, out);
}

bool fl_api_text_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/* Reads and checks an IMEI field; records a 400 naming the field. */
static bool read_imei(struct fl_jin *j, const char *name, bool required,
                      char out[FL_IMEI_LEN + 1])
{
	char raw[64];
	fl_err err;

	out[0] = '\0';
	if (!fl_jin_str(j, name, required, raw, sizeof(raw)))
		return false;
	err = fl_imei_parse(raw, strlen(raw), out);
	if (err != FL_OK) {
		fl_jin_fail(j, err, "%s: %s", name, fl_strerror(err));
		return false;
	}
	return true;
}

/* POST /v1/devices: the rules are fl_device_register's (devices.h). */
struct register_io {
	struct fl_register_in in;
	struct fl_register_result out;
	char code[FL_ENROLL_CODE_LEN + 1]; /* the enrollment code, shown once */
};

static fl_err register_step(struct fl_tx *tx, struct fl_req *req, void *ctx)
{
	struct register_io *io = ctx;
	fl_err err = fl_device_register(tx, &io->in, req->now, &io->out);

	if (err != FL_OK) {
		if (io->out.msg[0] != '\0')
			fl_reply_error(req, err, "%s", io->out.msg);
		return err;
	}
	fl_reply_json(req, 201,
	              json_pack("{s:o,s:s,s:o}", "device",
	                        fl_device_json(&io->out.device),
	                        "enrollment_code", io->code,
	                        "enrollment_code_expires_at",
	                        fl_json_time(io->out.device.enroll_expires)));
	return FL_OK;
}

static void register_device(struct fl_req *req)
{
	static const char *const fields[] = {"imei", "imei2", "serial", "model",
	                                     NULL};
	char code[FL_ENROLL_CODE_LEN + 1];
	struct register_io *io = calloc(1, sizeof(*io));
	struct fl_device *d;
	struct fl_jin j;
	fl_err err;

	if (io == NULL) {
		fl_reply_error(req, FL_E_NOMEM, NULL);
		return;
	}
	d = &io->in.device;
	if (fl_jin_parse(&j, req) != FL_OK)
		goto done;
	fl_jin_only(&j, fields);
	read_imei(&j, "imei", true, d->imei);
	read_imei(&j, "imei2", false, d->imei2);
	fl_jin_str(&j, "serial", true, d->serial, sizeof(d->serial));
	fl_jin_str(&j, "model", false, d->model, sizeof(d->model));
	if (j.err == FL_OK && strcmp(d->imei, d->imei2) == 0)
		fl_jin_fail(&j, FL_E_INVALID, "imei2 must differ from imei");
	if (j.err == FL_OK &&
	    (d->serial[0] == '\0' || !fl_api_text_ok(d->serial) ||
	     !fl_api_text_ok(d->model)))
		fl_jin_fail(&j, FL_E_INVALID,
		            "serial must be non-empty printable text, model "
		            "printable text");
	if (fl_jin_end(&j) != FL_OK)
		goto done;

	fl_id_generate(d->id, "dv");
	d->has_enroll_code = true;
	d->enroll_expires = req->now + req->app->cfg.enroll_code_ttl;
	if ((err = fl_enroll_code_new(req->app->secrets.enroll_hash_key, code,
	                              d->enroll_hash)) != FL_OK) {
		fl_reply_error(req, err, NULL);
		goto done;
	}
	io->in.who = req->who;
	memcpy(io->code, code, sizeof(io->code));
	fl_wipe(code, sizeof(code));
	if (fl_txn_run(req, register_step, io) == FL_OK)
		fl_decide_committed(req->app, io->out.device.id, &io->out.what);
done:
	fl_wipe(io, sizeof(*io));
	free(io);
}

struct dlist {
	json_t *items;
	enum fl_device_sort sort;
	int64_t last, last_key;
	int n;
};

static fl_err device_one(void *ctx, const struct fl_device *d)
{
	struct dlist *dl = ctx;

	dl->last = d->ord;
	dl->last_key = fl_device_sort_key(d, dl->sort);
	dl->n++;
	return json_array_append_new(dl->items, fl_device_json(d)) == 0
	               ? FL_OK
	               : FL_E_NOMEM;
}

/* A boolean query parameter: "true" or "false" in any case, absent
 * false. Answers 400 naming it otherwise. */
static bool query_bool(struct fl_req *req, const char *name, bool *out)
{
	const char *v = fl_req_query(req, name);

	*out = false;
	if (v == NULL || strcasecmp(v, "false") == 0)
		return true;
	if (strcasecmp(v, "true") == 0) {
		*out = true;
		return true;
	}
	fl_reply_error(req, FL_E_INVALID, "%s must be true or false", name);
	return false;
}

/* The `sort` keys of GET /v1/devices, by enum fl_device_sort. */
static const char *const sort_names[FL_DSORT_COUNT] = {
        "registered", "last_contact", "amount_due", "next_due", "state"};

/* A cursor of a list sorted by anything but registration: the last row's
 * sort key and ord, 16 bytes big-endian, base64url. Registration order
 * keeps the plain ord cursor (fl_cursor_encode). */
static void sorted_cursor_encode(int64_t key, int64_t ord,
                                 char out[FL_CURSOR_MAX * 2])
{
	uint8_t raw[16];

	for (int i = 0; i < 8; i++) {
		raw[i] = (uint8_t)((uint64_t)key >> (56 - 8 * i));
		raw[8 + i] = (uint8_t)((uint64_t)ord >> (56 - 8 * i));
	}
	if (fl_b64url_encode(out, FL_CURSOR_MAX * 2, raw, sizeof(raw)) != FL_OK)
		out[0] = '\0';
}

static fl_err sorted_cursor_decode(const char *s, int64_t *key, int64_t *ord)
{
	uint8_t raw[16];
	uint64_t k = 0, o = 0;
	size_t n = 0;

	if (fl_b64url_decode(raw, sizeof(raw), &n, s, strlen(s)) != FL_OK ||
	    n != sizeof(raw))
		return FL_E_INVALID;
	for (int i = 0; i < 8; i++) {
		k = (k << 8) | raw[i];
		o = (o << 8) | raw[8 + i];
	}
	if (o == 0 || o > (uint64_t)INT64_MAX)
		return FL_E_INVALID;
	*key = (int64_t)k;
	*ord = (int64_t)o;
	return FL_OK;
}

/* Reads sort, order and cursor into f and *after; answers 400 when one is
 * wrong. The cursor must come from a list in the same order. */
static bool list_order(struct fl_req *req, struct fl_device_filter *f,
                       int64_t *after)
{
	const char *sort = fl_req_query(req, "sort");
	const char *order = fl_req_query(req, "order");
	const char *cursor = fl_req_query(req, "cursor");
	size_t k;

	if (sort != NULL) {
		for (k = 0; k < FL_DSORT_COUNT; k++)
			if (strcmp(sort, sort_names[k]) == 0)
				break;
		if (k == FL_DSORT_COUNT) {
			fl_reply_error(req, FL_E_INVALID,
			               "sort must be registered, last_contact, "
			               "amount_due, next_due or state");
			return false;
		}
		f->sort = (enum fl_device_sort)k;
	}
	if (order != NULL && strcmp(order, "asc") != 0 &&
	    strcmp(order, "desc") != 0) {
		fl_reply_error(req, FL_E_INVALID, "order must be asc or desc");
		return false;
	}
	f->desc = order != NULL && strcmp(order, "desc") == 0;
	*after = 0;
	if (cursor == NULL || cursor[0] == '\0')
		return true;
	if (f->sort == FL_DSORT_REGISTERED
	            ? fl_cursor_decode(cursor, after) != FL_OK
	            : sorted_cursor_decode(cursor, &f->after_key, after) !=
	                      FL_OK) {
		fl_reply_error(req, FL_E_INVALID,
		               "cursor is not valid (or comes from a list in "
		               "another order)");
		return false;
	}
	f->has_key = f->sort != FL_DSORT_REGISTERED;
	return true;
}

static void list_devices(struct fl_req *req)
{
	static const char *const q[] = {
	        "cursor", "limit", "state",     "overdue", "tamper", "sim",
	        "stolen", "q",     "lock_held", "sort",    "order",  NULL};
	const char *state = fl_req_query(req, "state");
	struct fl_device_filter f = {.any_state = true};
	struct dlist dl = {0};
	struct fl_tx *tx = NULL;
	uint64_t lim = 50;
	int64_t after;
	int limit;
	fl_err err;

	if (fl_req_query_only(req, q) != FL_OK ||
	    fl_req_query_uint(req, "limit", 1, 500, &lim) != FL_OK)
		return;
	limit = (int)lim;
	if (state != NULL) {
		char low[16];
		size_t k;

		for (k = 0; state[k] != '\0' && k + 1 < sizeof(low); k++)
			low[k] = (char)tolower((unsigned char)state[k]);
		low[k] = '\0';
		if (state[k] != '\0' || fl_state_parse(low, &f.state) != FL_OK) {
			fl_reply_error(req, FL_E_INVALID,
			               "state must be pending, active, "
			               "reminding, locked or released");
			return;
		}
		f.any_state = false;
	}
	if (!query_bool(req, "overdue", &f.overdue) ||
	    !query_bool(req, "tamper", &f.tamper) ||
	    !query_bool(req, "sim", &f.sim) ||
	    !query_bool(req, "stolen", &f.stolen) ||
	    !query_bool(req, "lock_held", &f.lock_held) ||
	    !list_order(req, &f, &after))
		return;
	f.now = req->now;
	f.q = fl_req_query(req, "q");
	if (f.q != NULL && strlen(f.q) > 128) {
		fl_reply_error(req, FL_E_RANGE, "q is longer than 128 bytes");
		return;
	}
	if ((dl.items = json_array()) == NULL) {
		fl_reply_error(req, FL_E_NOMEM, NULL);
		return;
	}
	dl.sort = f.sort;
	if ((err = fl_store_begin(req->app->store, false, &tx)) == FL_OK) {
		err = fl_store_device_list(tx, req->who.tenant_id, &f, after,
		                           limit, device_one, &dl);
		fl_tx_rollback(tx);
	}
	if (err != FL_OK) {
		json_decref(dl.items);
		fl_reply_error(req, err, NULL);
		return;
	}
	if (f.sort == FL_DSORT_REGISTERED || dl.n < limit) {
		fl_reply_page(req, dl.items, dl.n == limit ? dl.last : 0);
	} else {
		char cur[FL_CURSOR_MAX * 2];
		json_t *body;

		sorted_cursor_encode(dl.last_key, dl.last, cur);
		body = json_pack("{s:o,s:s}", "items", dl.items, "next_cursor",
		                 cur);
		if (body == NULL)
			fl_reply_error(req, FL_E_NOMEM, NULL);
		else
			fl_reply_json(req, 200, body);
	}
}

/* "lock_held": the hold (holds.h) that moved the device's overdue lock
 * to its end, with the reason; null when none did. */
static fl_err held_json(struct fl_tx *tx, const struct fl_device *d,
                        fl_time now, json_t *j)
{
	struct fl_hold_rec h;
	fl_err err = FL_E_NOT_FOUND;

	if (d->st.lock_cause == FL_LOCK_OVERDUE && d->st.lock_at > now &&
	    d->st.state != FL_ST_RELEASED)
		err = fl_hold_standing(tx, d->tenant_id, now, &h);
	if (err == FL_OK && h.until == d->st.lock_at)
		return json_object_set_new(j, "lock_held", fl_hold_json(&h)) == 0
		               ? FL_OK
		               : FL_E_NOMEM;
	if (err != FL_OK && err != FL_E_NOT_FOUND)
		return err;
	return json_object_set_new(j, "lock_held", json_null()) == 0
	               ? FL_OK
	               : FL_E_NOMEM;
}

static void show_device(struct fl_req *req)
{
	static const char *const q[] = {NULL};
	struct fl_device *d = calloc(1, sizeof(*d));
	struct fl_tx *tx = NULL;
	json_t *j = NULL;
	fl_err err;

	if (d == NULL) {
		fl_reply_error(req, FL_E_NOMEM, NULL);
		return;
	}
	if (fl_req_query_only(req, q) != FL_OK)
		goto done;
	if ((err = fl_store_begin(req->app->store, false, &tx)) == FL_OK) {
		err = fl_api_path_device(req, tx, d);
		if (err == FL_OK) {
			json_t *pend = NULL;

			j = fl_device_json(d);
			err = j != NULL ? fl_api_device_protocol_json(tx, d, j)
			                : FL_E_NOMEM;
			if (err == FL_OK)
				err = fl_device_pending(tx, d, req->now,
				                        &pend);
			if (err == FL_OK)
				json_object_set_new(j, "pending_commands",
				                    pend);
			if (err == FL_OK)
				err = held_json(tx, d, req->now, j);
		}
		fl_tx_rollback(tx);
	}
	if (err != FL_OK) {
		json_decref(j);
		fl_reply_error(req, err,
		               err == FL_E_NOT_FOUND ? "no such device" : NULL);
	} else {
		fl_reply_json(req, 200, j);
	}
done:
	free(d);
}

/* One attempt (txn.h) of a new enrollment code. */
static fl_err enrollment_code_step(struct fl_tx *tx, struct fl_req *req,
                                   void *ctx)
{
	struct fl_device *d = ctx;
	char code[FL_ENROLL_CODE_LEN + 1];
	uint8_t hash[FL_HASH_LEN];
	fl_time expires = req->now + req->app->cfg.enroll_code_ttl;
	fl_err err;

	err = fl_api_path_device_locked(req, tx, d);
	if (err == FL_OK && d->st.released_by_command)
		err = FL_E_STATE;
	if (err == FL_OK)
		err = fl_enroll_code_new(req->app->secrets.enroll_hash_key,
		                         code, hash);
	if (err == FL_OK)
		err = fl_store_device_set_enroll_code(tx, d->id, hash, expires);
	if (err == FL_OK)
		err = fl_audit_req(tx, req, "device.enrollment_code", d->id,
		                   NULL,
		                   json_pack("{s:o}", "expires_at",
		                             fl_json_time(expires)));
	if (err != FL_OK) {
		if (err == FL_E_NOT_FOUND || err == FL_E_STATE)
			fl_reply_error(req, err,
			               err == FL_E_NOT_FOUND
			                       ? "no such device"
			                       : "the device was released");
		return err;
	}
	fl_reply_json(req, 201,
	              json_pack("{s:s,s:s,s:o}", "device_id", d->id,
	                        "enrollment_code", code,
	                        "enrollment_code_expires_at",
	                        fl_json_time(expires)));
	fl_wipe(code, sizeof(code));
	return FL_OK;
}

static void new_enrollment_code(struct fl_req *req)
{
	struct fl_device *d = calloc(1, sizeof(*d));

	if (d == NULL) {
		fl_reply_error(req, FL_E_NOMEM, NULL);
		return;
	}
	if (fl_api_empty_body(req) == FL_OK &&
	    fl_txn_run(req, enrollment_code_step, d) != FL_OK)
		fl_wipe(d, sizeof(*d)); /* answered */
	free(d);
}

/* --- commands ------------------------------------------------------------- */

struct cmd_body {
	char reason[FL_REASON_MAX];
	fl_time at; /* lock: when; unlock: until */
	bool has_at;
	bool show_reason; /* lock: the phone shows the reason */
};

/* Reads {reason, <time_field>} (and show_reason for a lock). A time given
 * must be after now: a lock at a past time or an unlock until one would
 * do something else than was asked. */
static fl_err read_cmd(struct fl_req *req, const char *time_field,
                       bool time_required, bool reason_required,
                       struct cmd_body *b)
{
	bool is_lock = time_field != NULL && strcmp(time_field, "at") == 0;
	const char *fields[] = {"reason", time_field,
	                        is_lock ? "show_reason" : NULL, NULL};
	struct fl_jin j;

	memset(b, 0, sizeof(*b));
	if (fl_jin_parse_opt(&j, req, !reason_required && !time_required) !=
	    FL_OK)
		return FL_E_JSON;
	fl_jin_only(&j, fields);
	fl_jin_str(&j, "reason", reason_required, b->reason, sizeof(b->reason));
	if (time_field != NULL)
		b->has_at = fl_jin_time(&j, time_field, time_required, &b->at);
	if (is_lock)
		fl_jin_bool(&j, "show_reason", false, &b->show_reason);
	if (j.err == FL_OK && b->has_at && b->at >= 1 && b->at <= req->now)
		fl_jin_fail(&j, FL_E_RANGE,
		            "%s must be in the future (the server's time is "
		            "later)",
		            time_field);
	if (j.err == FL_OK && reason_required) {
		const char *p = b->reason;

		while (isspace((unsigned char)*p))
			p++;
		if (*p == '\0')
			fl_jin_fail(&j, FL_E_FIELD_MISSING,
			            "a reason is required");
	}
	if (j.err == FL_OK && !fl_api_text_ok(b->reason))
		fl_jin_fail(&j, FL_E_INVALID, "reason must be printable text");
	if (j.err == FL_OK && b->has_at && (b->at < 1 || b->at > FL_TIME_MAX))
		fl_jin_fail(&j, FL_E_RANGE, "%s is out of range", time_field);
	return fl_jin_end(&j);
}

/* What run_command's step works on. */
struct command_io {
	enum fl_cmd_kind kind;
	const struct cmd_body *b;
	const char *action;
	fl_err (*check)(const struct fl_device *d, const char **msg);
	struct fl_device before, after; /* out */
	struct fl_decided what;         /* out */
};

/* One attempt (txn.h): the device locked and read, the command stored,
 * the device re-decided, audited, answered. */
static fl_err command_step(struct fl_tx *tx, struct fl_req *req, void *ctx)
{
	struct command_io *io = ctx;
	struct fl_device *before = &io->before, *after = &io->after;
	struct fl_command_rec c;
	const char *msg = NULL;
	fl_err err;

	err = fl_api_path_device_locked(req, tx, before);
	if (err == FL_E_NOT_FOUND)
		msg = "no such device";
	if (err == FL_OK && !before->has_contract) {
		err = FL_E_NO_CONTRACT;
		msg = "the device has no contract yet";
	}
	if (err == FL_OK && io->check != NULL)
		err = io->check(before, &msg);
	if (err != FL_OK) {
		if (msg != NULL)
			fl_reply_error(req, err, "%s", msg);
		return err;
	}
	memset(&c, 0, sizeof(c));
	c.kind = io->kind;
	c.issued_at = fl_decide_now(before, req->now);
	c.at = io->b->has_at ? io->b->at : 0;
	snprintf(c.reason, sizeof(c.reason), "%s", io->b->reason);
	snprintf(c.actor, sizeof(c.actor), "%s", req->who.key_id);
	c.show_reason = io->b->show_reason;
	err = fl_store_command_insert(tx, before->tenant_id, before->id, &c);
	if (err == FL_OK)
		err = fl_decide_device(tx, before->tenant_id, before->id,
		                       req->now, false, after, &io->what);
	if (err == FL_OK) {
		json_t *a = fl_device_json(after);

		json_object_set_new(a, "command",
		                    json_pack("{s:s,s:I,s:o,s:s,s:b}", "kind",
		                              io->action, "id", (json_int_t)c.ord,
		                              "at", fl_json_time(c.at), "reason",
		                              c.reason, "show_reason",
		                              c.show_reason));
		err = fl_audit_req(tx, req, io->action, before->id,
		                   fl_device_json(before), a);
	}
	if (err != FL_OK)
		return err;
	fl_reply_json(req, 200, fl_device_json(after));
	return FL_OK;
}

/* Stores a command, re-decides, audits, answers the device. check(dev)
 * may refuse with an error and a message. */
static void run_command(struct fl_req *req, enum fl_cmd_kind kind,
                        const struct cmd_body *b, const char *action,
                        fl_err (*check)(const struct fl_device *d,
                                        const char **msg))
{
	struct command_io *io = calloc(1, sizeof(*io));

	if (io == NULL) {
		fl_reply_error(req, FL_E_NOMEM, NULL);
		return;
	}
	io->kind = kind;
	io->b = b;
	io->action = action;
	io->check = check;
	if (fl_txn_run(req, command_step, io) == FL_OK)
		fl_decide_committed(req->app, io->after.id, &io->what);
	free(io);
}

static fl_err not_released(const struct fl_device *d, const char **msg)
{
	if (d->st.released_by_command) {
		*msg = "the device was released: it can no longer be locked "
		       "or unlocked";
		return FL_E_STATE;
	}
	return FL_OK;
}

static void lock(struct fl_req *req)
{
	struct cmd_body b;

	if (read_cmd(req, "at", false, true, &b) != FL_OK)
		return;
	run_command(req, b.has_at ? FL_CMD_LOCK_AT : FL_CMD_LOCK, &b,
	            "device.lock", not_released);
}

static void unlock(struct fl_req *req)
{
	struct cmd_body b;

	if (read_cmd(req, "until", true, false, &b) != FL_OK)
		return;
	run_command(req, FL_CMD_UNLOCK_UNTIL, &b, "device.unlock",
	            not_released);
}

static void release(struct fl_req *req)
{
	struct cmd_body b;

	if (read_cmd(req, NULL, false, false, &b) != FL_OK)
		return;
	run_command(req, FL_CMD_RELEASE, &b, "device.release", not_released);
}

static fl_err not_stolen(const struct fl_device *d, const char **msg)
{
	if (d->st.stolen_reported) {
		*msg = "the device is already reported stolen";
		return FL_E_STATE;
	}
	return FL_OK;
}

static fl_err is_stolen(const struct fl_device *d, const char **msg)
{
	if (!d->st.stolen_reported) {
		*msg = "the device is not reported stolen";
		return FL_E_STATE;
	}
	return FL_OK;
}

static void stolen_set(struct fl_req *req)
{
	struct cmd_body b;

	if (read_cmd(req, NULL, false, true, &b) != FL_OK)
		return;
	run_command(req, FL_CMD_STOLEN_SET, &b, "device.stolen", not_stolen);
}

static void stolen_clear(struct fl_req *req)
{
	struct cmd_body b;

	if (read_cmd(req, NULL, false, true, &b) != FL_OK)
		return;
	run_command(req, FL_CMD_STOLEN_CLEAR, &b, "device.stolen_clear",
	            is_stolen);
}

/* POST .../commands/{command_id}/cancel {"reason"}: cancels a pending
 * command (a scheduled lock still to come, an unlock still holding), with
 * a reason, audited; the rules are fl_device_command_cancel's
 * (devices.h). Anything else is 409. */
struct cancel_io {
	struct fl_cancel_in in;
	struct fl_cancel_result out;
};

static fl_err cancel_step(struct fl_tx *tx, struct fl_req *req, void *ctx)
{
	struct cancel_io *io = ctx;
	fl_err err = fl_device_command_cancel(tx, &io->in, req->now, &io->out);
	json_t *a;

	if (err != FL_OK) {
		if (io->out.msg[0] != '\0')
			fl_reply_error(req, err, "%s", io->out.msg);
		return err;
	}
	a = fl_device_json(&io->out.after);
	if (io->out.pending != NULL)
		json_object_set_new(a, "pending_commands",
		                    json_incref(io->out.pending));
	fl_reply_json(req, 200, a);
	return FL_OK;
}

static void cancel_command(struct fl_req *req)
{
	struct cancel_io *io = calloc(1, sizeof(*io));
	const char *cid = fl_req_param(req, "command_id");
	struct cmd_body b;
	char *end = NULL;
	long long ord;

	if (io == NULL) {
		fl_reply_error(req, FL_E_NOMEM, NULL);
		return;
	}
	ord = cid != NULL ? strtoll(cid, &end, 10) : 0;
	if (cid == NULL || end == cid || *end != '\0' || ord < 1) {
		fl_reply_error(req, FL_E_NOT_FOUND, "no such command");
		goto done;
	}
	if (read_cmd(req, NULL, false, true, &b) != FL_OK)
		goto done;
	io->in.who = req->who;
	snprintf(io->in.device_id, sizeof(io->in.device_id), "%s",
	         fl_req_param(req, "device_id"));
	io->in.command = ord;
	snprintf(io->in.reason, sizeof(io->in.reason), "%s", b.reason);
	if (fl_txn_run(req, cancel_step, io) == FL_OK)
		fl_decide_committed(req->app, io->out.after.id, &io->out.what);
done:
	fl_cancel_result_clear(&io->out);
	free(io);
}

/* GET /v1/devices/by-imei/{imei}: the tenant's devices with this IMEI
 * (first or second), oldest first. Every role of a lender may ask: a clerk
 * who registers phones needs to find one by the number on its box. */
static void devices_by_imei(struct fl_req *req)
{
	static const char *const q[] = {NULL};
	const char *raw = fl_req_param(req, "imei");
	struct fl_device_filter f = {.any_state = true};
	char imei[FL_IMEI_LEN + 1];
	struct dlist dl = {0};
	struct fl_tx *tx = NULL;
	json_t *items = NULL, *it;
	size_t i;
	fl_err err;

	if (fl_req_query_only(req, q) != FL_OK)
		return;
	err = fl_imei_parse(raw, strlen(raw), imei);
	if (err != FL_OK) {
		fl_reply_error(req, err, "imei: %s", fl_strerror(err));
		return;
	}
	f.imei = imei;
	if ((dl.items = json_array()) == NULL ||
	    (items = json_array()) == NULL) {
		json_decref(dl.items);
		fl_reply_error(req, FL_E_NOMEM, NULL);
		return;
	}
	if ((err = fl_store_begin(req->app->store, false, &tx)) == FL_OK) {
		err = fl_store_device_list(tx, req->who.tenant_id, &f, 0, -1,
		                           device_one, &dl);
		fl_tx_rollback(tx);
	}
	/* the filter matches substrings: keep the exact IMEI */
	json_array_foreach(dl.items, i, it)
	{
		const json_t *i2 = json_object_get(it, "imei2");

		if (strcmp(json_string_value(json_object_get(it, "imei")),
		           imei) == 0 ||
		    (json_is_string(i2) &&
		     strcmp(json_string_value(i2), imei) == 0))
			json_array_append(items, it);
	}
	json_decref(dl.items);
	if (err != FL_OK) {
		json_decref(items);
		fl_reply_error(req, err, NULL);
		return;
	}
	fl_reply_json(req, 200, json_pack("{s:o}", "items", items));
}

struct sync_io {
	struct fl_device d;
	struct fl_decided what;
};

/* One attempt (txn.h) of a forced sync. */
static fl_err sync_step(struct fl_tx *tx, struct fl_req *req, void *ctx)
{
	struct sync_io *io = ctx;
	struct fl_device *d = &io->d;
	fl_err err;

	err = fl_api_path_device_locked(req, tx, d);
	if (err == FL_OK)
		err = fl_decide_device(tx, d->tenant_id, d->id, req->now, true,
		                       d, &io->what);
	if (err == FL_OK)
		err = fl_audit_req(tx, req, "device.sync", d->id,
		                   json_pack("{s:I}", "token_seq",
		                             (json_int_t)io->what.before.token_seq),
		                   json_pack("{s:I}", "token_seq",
		                             (json_int_t)d->st.token_seq));
	if (err == FL_E_NOT_FOUND)
		fl_reply_error(req, err, "no such device");
	if (err != FL_OK)
		return err;
	fl_reply_json(req, 200, fl_device_json(d));
	return FL_OK;
}

/* Force sync: a new token seq, so the phone fetches a fresh token even
 * though nothing else changed. */
static void sync_device(struct fl_req *req)
{
	struct sync_io *io = calloc(1, sizeof(*io));

	if (io == NULL) {
		fl_reply_error(req, FL_E_NOMEM, NULL);
		return;
	}
	if (fl_api_empty_body(req) == FL_OK &&
	    fl_txn_run(req, sync_step, io) == FL_OK)
		fl_decide_committed(req->app, io->d.id, &io->what);
	free(io);
}

/* Long-poll: answers the device as soon as its token seq is above `seq`
 * (at once if it already is), or after at least `timeout` seconds (1..120,
 * default 30; at most about 1.5 s more) with the device as it is. A dashboard
 * or the CLI watches a device change after a payment or command this way. */
static void wait_device(struct fl_req *req)
{
	static const char *const q[] = {"seq", "timeout", NULL};
	struct fl_device *d = calloc(1, sizeof(*d));
	struct fl_tx *tx = NULL;
	uint64_t have = 0, timeout = 30;
	fl_err err;

	if (d == NULL) {
		fl_reply_error(req, FL_E_NOMEM, NULL);
		return;
	}
	if (fl_req_query_only(req, q) != FL_OK)
		goto done;
	if (fl_req_query(req, "seq") == NULL) {
		fl_reply_error(req, FL_E_INVALID,
		               "seq (the token seq already known) is required: "
		               "a non-negative integer");
		goto done;
	}
	if (fl_req_query_uint(req, "seq", 0, UINT64_MAX, &have) != FL_OK ||
	    fl_req_query_uint(req, "timeout", 1, 120, &timeout) != FL_OK)
		goto done;
	for (int attempt = 0; attempt < 8; attempt++) {
		uint64_t mark = fl_push_mark(req->app->push,
		                             fl_req_param(req, "device_id"));
		uint64_t clock = fl_push_clock(req->app->push);

		if ((err = fl_store_begin(req->app->store, false, &tx)) ==
		    FL_OK) {
			err = fl_api_path_device(req, tx, d);
			fl_tx_rollback(tx);
		}
		if (err != FL_OK) {
			fl_reply_error(req, err,
			               err == FL_E_NOT_FOUND ? "no such device"
			                                     : NULL);
			goto done;
		}
		/* woken without a new seq (another change of the row):
		 * wait on until the first deadline */
		if (d->st.token_seq > have ||
		    (req->resumed && req->now >= req->wait_until))
			break;
		err = fl_push_wait_row(req->app->push, req, d->id, d->ord, mark,
		                       clock,
		                       /* clock seconds are whole: +1 makes
		                        * the wait at least `timeout` */
		                       req->resumed ? req->wait_until
		                                    : req->now +
		                                              (fl_time)timeout +
		                                              1);
		if (err == FL_OK)
			goto done; /* parked: runs again when woken */
		if (err != FL_E_STATE)
			break; /* too many waiters: answer as it is */
	}
	fl_reply_json(req, 200, fl_device_json(d));
done:
	free(d);
}

#define DEVICE_PATH "/v1/devices/{device_id}"

static const struct fl_route routes[] = {
        {"POST", "/v1/devices", register_device, FL_ROLE_ADMIN | FL_ROLE_CLERK},
        {"GET", "/v1/devices", list_devices, FL_ROLES_READ},
        {"GET", DEVICE_PATH, show_device, FL_ROLES_READ},
        {"GET", DEVICE_PATH "/wait", wait_device, FL_ROLES_READ},
        {"POST", DEVICE_PATH "/enrollment-code", new_enrollment_code,
         FL_ROLE_ADMIN | FL_ROLE_CLERK},
        {"POST", DEVICE_PATH "/lock", lock, FL_ROLE_ADMIN},
        {"POST", DEVICE_PATH "/unlock", unlock, FL_ROLE_ADMIN},
        {"POST", DEVICE_PATH "/release", release, FL_ROLE_ADMIN},
        {"POST", DEVICE_PATH "/stolen", stolen_set, FL_ROLE_ADMIN},
        {"POST", DEVICE_PATH "/stolen/clear", stolen_clear, FL_ROLE_ADMIN},
        {"POST", DEVICE_PATH "/commands/{command_id}/cancel", cancel_command,
         FL_ROLE_ADMIN},
        {"GET", "/v1/devices/by-imei/{imei}", devices_by_imei,
         FL_ROLES_READ | FL_ROLE_CLERK},
        {"POST", DEVICE_PATH "/sync", sync_device,
         FL_ROLE_ADMIN | FL_ROLE_SUPPORT},
};

const struct fl_route_table fl_routes_devices = FL_ROUTE_TABLE(routes);
