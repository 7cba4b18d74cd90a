/*
 * api_contracts.c - one contract per device: create (installment schedule
 * in the contract's UTC offset, grace period, lock policy), show, list,
 * reschedule. Creating or rescheduling re-decides the device at once.
 *
 * Request body of a contract:
 *
 *   {"loan_ref": "L-1001", "currency": "KES", "utc_offset": "+03:00",
 *    "schedule": [{"due": "2026-12-01", "amount": 1500}, ...],
 *    "grace": "3d",
 *    "policy": {"reminders": ["3d", "1d", "0d"],
 *               "restrict": ["camera", "install_apps", ...],
 *               "allow_apps": ["com.lender.pay"],
 *               "message": "...",
 *               "contact": {"name": "Acme Credit", "phones": ["+254..."]},
 *               "max_offline": "30d",
 *               "sim_change": "notify", "tamper": "lock"}}
 *
 * A due date alone is the end of that day at utc_offset; an RFC 3339 time
 * is that instant. The currency is an ISO 4217 code (core/lendtext.h),
 * contact phones E.164 numbers, the message and contact name non-empty
 * when given. A schedule with an installment already due at creation is
 * refused unless "allow_overdue": true is sent (the phone would lock at
 * enrollment once grace ends); the answer then carries a warning. Durations are "72h", "3d", "90s", "15m" or a number of
 * seconds. Restrictions use the names of core/restrict.h; naming a
 * guaranteed capability (emergency calls, the dialer, ...) is a 400.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/lendtext.h"
#include "core/policy.h"
#include "core/restrict.h"
#include "core/state.h"
#include "server/api.h"
#include "server/app.h"
#include "server/auth.h"
#include "server/contracts.h"
#include "server/decide.h"
#include "server/devices.h"
#include "server/jsonio.h"
#include "server/route.h"
#include "server/txn.h"

/* --- reading -------------------------------------------------------------- */

/* True if s holds nothing but spaces. */
static bool blank(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s != ' ' && *s != '\t')
			return false;
	return true;
}


static bool read_duration(struct fl_jin *j, json_t *v, const char *what,
                          int64_t *out)
{
	fl_err err;

	if (json_is_integer(v)) {
		if (json_integer_value(v) < 0) {
			fl_jin_fail(j, FL_E_RANGE, "%s must not be negative",
			            what);
			return false;
		}
		*out = (int64_t)json_integer_value(v);
		return true;
	}
	if (!json_is_string(v)) {
		fl_jin_fail(j, FL_E_FIELD_TYPE,
		            "%s must be a duration (\"3d\") or seconds", what);
		return false;
	}
	err = fl_duration_parse(json_string_value(v), json_string_length(v),
	                        out);
	if (err != FL_OK) {
		fl_jin_fail(j, err == FL_E_RANGE ? FL_E_RANGE : FL_E_INVALID,
		            "%s is not a duration (\"72h\", \"3d\", \"90s\")",
		            what);
		return false;
	}
	return true;
}

/* Reads a schedule array into a new array (*items, caller frees). */
static bool read_schedule(struct fl_jin *j, json_t *arr, const char *what,
                          int32_t offset, struct fl_installment **items,
                          size_t *n)
{
	static const char *const fields[] = {"due", "amount", NULL};
	size_t i;
	json_t *e;

	*items = NULL;
	*n = 0;
	if (!json_is_array(arr)) {
		fl_jin_fail(j, FL_E_FIELD_TYPE, "%s must be an array", what);
		return false;
	}
	if (json_array_size(arr) > FL_POLICY_MAX_INSTALLMENTS) {
		fl_jin_fail(j, FL_E_RANGE, "%s has more than %d installments",
		            what, FL_POLICY_MAX_INSTALLMENTS);
		return false;
	}
	if (json_array_size(arr) == 0)
		return true;
	*items = calloc(json_array_size(arr), sizeof(**items));
	if (*items == NULL) {
		fl_jin_fail(j, FL_E_NOMEM, "out of memory");
		return false;
	}
	json_array_foreach(arr, i, e)
	{
		json_t *due = json_object_get(e, "due");
		json_t *amount = json_object_get(e, "amount");
		const char *key;
		json_t *v;
		fl_err err;

		if (!json_is_object(e)) {
			fl_jin_fail(j, FL_E_FIELD_TYPE,
			            "%s[%zu] must be an object", what, i);
			goto fail;
		}
		json_object_foreach(e, key, v)
		{
			bool known = false;

			for (size_t k = 0; fields[k] != NULL; k++)
				known = known || strcmp(key, fields[k]) == 0;
			if (!known) {
				fl_jin_fail(j, FL_E_FIELD_UNKNOWN,
				            "%s[%zu]: unknown field '%.64s'",
				            what, i, key);
				goto fail;
			}
		}
		if (!json_is_string(due) || !json_is_integer(amount)) {
			fl_jin_fail(j,
			            due == NULL || amount == NULL
			                    ? FL_E_FIELD_MISSING
			                    : FL_E_FIELD_TYPE,
			            "%s[%zu] needs \"due\" (a date or RFC 3339 "
			            "time) and \"amount\" (an integer)",
			            what, i);
			goto fail;
		}
		err = fl_policy_due_parse(json_string_value(due),
		                          json_string_length(due), offset,
		                          &(*items)[i].due_at);
		if (err != FL_OK) {
			fl_jin_fail(j, err, "%s[%zu].due: %s", what, i,
			            fl_strerror(err));
			goto fail;
		}
		(*items)[i].amount = (int64_t)json_integer_value(amount);
		if ((*items)[i].amount < 1 ||
		    (*items)[i].amount > FL_POLICY_MAX_AMOUNT) {
			fl_jin_fail(
			        j, FL_E_MONEY,
			        "%s[%zu].amount must be 1..%lld minor units",
			        what, i, (long long)FL_POLICY_MAX_AMOUNT);
			goto fail;
		}
	}
	*n = json_array_size(arr);
	return true;
fail:
	free(*items);
	*items = NULL;
	return false;
}

/* Reads an array of short strings into items[max][stride]. */
static bool read_strings(struct fl_jin *j, json_t *arr, const char *what,
                         char *items, size_t stride, size_t max, size_t *n)
{
	char elem[96];
	size_t i;
	json_t *e;

	*n = 0;
	if (!json_is_array(arr)) {
		fl_jin_fail(j, FL_E_FIELD_TYPE, "%s must be an array", what);
		return false;
	}
	if (json_array_size(arr) > max) {
		fl_jin_fail(j, FL_E_RANGE, "%s has more than %zu entries", what,
		            max);
		return false;
	}
	json_array_foreach(arr, i, e)
	{
		char *dst = items + i * stride;

		snprintf(elem, sizeof(elem), "%s[%zu]", what, i);
		if (!fl_jin_elem_str(j, e, elem, dst, stride))
			return false;
		if (dst[0] == '\0' || !fl_api_text_ok(dst)) {
			fl_jin_fail(j, FL_E_INVALID,
			            "%s must be non-empty printable text",
			            elem);
			return false;
		}
	}
	*n = json_array_size(arr);
	return true;
}

static bool read_reaction(struct fl_jin *j, json_t *obj, const char *name,
                          enum fl_reaction *out)
{
	json_t *v = json_object_get(obj, name);

	if (v == NULL || json_is_null(v))
		return true;
	if (!json_is_string(v) ||
	    fl_reaction_parse(json_string_value(v), out) != FL_OK) {
		fl_jin_fail(j, FL_E_INVALID,
		            "policy.%s must be none, notify or lock", name);
		return false;
	}
	return true;
}

/* Reads the "policy" object into c. */
static void read_policy(struct fl_jin *j, json_t *p, struct fl_contract_rec *c)
{
	static const char *const fields[] = {
	        "reminders",   "restrict",   "allow_apps", "message", "contact",
	        "max_offline", "sim_change", "tamper",     NULL};
	const char *key, *names[64];
	json_t *v;
	size_t i, bad = 0;

	/* No lock without notice: unless the lender chooses other offsets (an
	 * empty list is an explicit choice), remind 3 days, 1 day and on the
	 * day before every due date. */
	c->remind[0] = 3 * FL_DAY;
	c->remind[1] = 1 * FL_DAY;
	c->remind[2] = 0;
	c->n_remind = 3;
	c->restrict_mask = FL_R_DEFAULT_LOCK;
	c->sim_policy = FL_REACT_NOTIFY;
	c->tamper_policy = FL_REACT_NOTIFY;
	if (p == NULL)
		return;
	json_object_foreach(p, key, v)
	{
		bool known = false;

		for (size_t k = 0; fields[k] != NULL; k++)
			known = known || strcmp(key, fields[k]) == 0;
		if (!known) {
			fl_jin_fail(j, FL_E_FIELD_UNKNOWN,
			            "policy: unknown field '%.64s'", key);
			return;
		}
	}
	if ((v = json_object_get(p, "reminders")) != NULL) {
		if (!json_is_array(v)) {
			fl_jin_fail(j, FL_E_FIELD_TYPE,
			            "policy.reminders must be an array");
			return;
		}
		if (json_array_size(v) > FL_POLICY_MAX_OFFSETS) {
			fl_jin_fail(j, FL_E_RANGE,
			            "policy.reminders has more than %d entries",
			            FL_POLICY_MAX_OFFSETS);
			return;
		}
		json_t *e;
		json_array_foreach(v, i, e)
		{
			if (!read_duration(j, e, "policy.reminders[]",
			                   &c->remind[i]))
				return;
		}
		c->n_remind = json_array_size(v);
	}
	if ((v = json_object_get(p, "restrict")) != NULL) {
		json_t *e;

		if (!json_is_array(v) || json_array_size(v) > 64) {
			fl_jin_fail(j, FL_E_FIELD_TYPE,
			            "policy.restrict must be an array of "
			            "restriction names");
			return;
		}
		json_array_foreach(v, i, e)
		{
			if (!json_is_string(e)) {
				fl_jin_fail(j, FL_E_FIELD_TYPE,
				            "policy.restrict[%zu] must be a "
				            "string",
				            i);
				return;
			}
			names[i] = json_string_value(e);
		}
		fl_err err = fl_restrict_parse_list(names, json_array_size(v),
		                                    &c->restrict_mask, &bad);
		if (err != FL_OK) {
			fl_jin_fail(j, err, "policy.restrict[%zu] '%.64s': %s",
			            bad, names[bad], fl_strerror(err));
			return;
		}
	}
	if ((v = json_object_get(p, "allow_apps")) != NULL &&
	    !read_strings(j, v, "policy.allow_apps", &c->allow_apps[0][0],
	                  FL_APP_ID_MAX, FL_CONTRACT_MAX_APPS,
	                  &c->n_allow_apps))
		return;
	if ((v = json_object_get(p, "message")) != NULL) {
		if (!fl_jin_elem_str(j, v, "policy.message", c->message,
		                     sizeof(c->message)))
			return;
		if (blank(c->message)) {
			fl_jin_fail(j, FL_E_INVALID,
			            "policy.message must not be empty (leave it "
			            "out for the standard text)");
			return;
		}
	}
	if ((v = json_object_get(p, "contact")) != NULL) {
		json_t *name = json_object_get(v, "name");
		json_t *phones = json_object_get(v, "phones");

		if (!json_is_object(v)) {
			fl_jin_fail(j, FL_E_FIELD_TYPE,
			            "policy.contact must be an object");
			return;
		}
		json_object_foreach(v, key, name)
		{
			if (strcmp(key, "name") != 0 &&
			    strcmp(key, "phones") != 0) {
				fl_jin_fail(j, FL_E_FIELD_UNKNOWN,
				            "policy.contact: unknown field "
				            "'%.64s'",
				            key);
				return;
			}
		}
		name = json_object_get(v, "name");
		if (name != NULL &&
		    !fl_jin_elem_str(j, name, "policy.contact.name",
		                     c->contact_name, sizeof(c->contact_name)))
			return;
		if (name != NULL && blank(c->contact_name)) {
			fl_jin_fail(j, FL_E_INVALID,
			            "policy.contact.name must not be empty");
			return;
		}
		if (phones != NULL &&
		    !read_strings(j, phones, "policy.contact.phones",
		                  &c->contact_phones[0][0], FL_PHONE_MAX,
		                  FL_CONTRACT_MAX_PHONES, &c->n_contact_phones))
			return;
		for (i = 0; i < c->n_contact_phones; i++) {
			if (!fl_phone_e164(c->contact_phones[i])) {
				fl_jin_fail(j, FL_E_INVALID,
				            "policy.contact.phones[%zu] '%.32s' is "
				            "not an E.164 number: \"+\", the "
				            "country code and the number, digits "
				            "only (+254700000001)",
				            i, c->contact_phones[i]);
				return;
			}
		}
	}
	if ((v = json_object_get(p, "max_offline")) != NULL &&
	    !read_duration(j, v, "policy.max_offline", &c->max_offline))
		return;
	if (!read_reaction(j, p, "sim_change", &c->sim_policy) ||
	    !read_reaction(j, p, "tamper", &c->tamper_policy))
		return;
}

/* Records a 400 for a contract the policy refused, naming the part. */
static void contract_fault(struct fl_jin *j, fl_err err,
                           const struct fl_policy_where *w,
                           const struct fl_contract *pc)
{
	if (w->part == FL_PART_SCHEDULE && pc->n_schedule == 0)
		fl_jin_fail(j, err, "schedule: at least one installment is "
		                    "needed");
	else if (w->part == FL_PART_SCHEDULE) {
		char msg[FL_CONTRACT_MSG_MAX];

		fl_schedule_fault(msg, sizeof(msg), err, "schedule",
		                  pc->schedule, pc->n_schedule, w->index, 0);
		fl_jin_fail(j, err, "%s", msg);
	} else if (w->part == FL_PART_CONTRACT && pc->n_remind > 0 &&
	           w->index < pc->n_remind &&
	           (pc->remind[w->index] < 0 ||
	            pc->remind[w->index] > FL_POLICY_MAX_REMIND_AHEAD))
		fl_jin_fail(j, err,
		            "policy.reminders[%zu] must be 0..%lld days before "
		            "a due date",
		            w->index, (long long)(FL_POLICY_MAX_REMIND_AHEAD /
		                                  FL_DAY));
	else
		fl_jin_fail(j, err,
		            "contract terms: %s (grace and max_offline 0..%lld "
		            "days, reminders distinct)",
		            fl_strerror(err),
		            (long long)(FL_POLICY_MAX_DURATION / FL_DAY));
}

/* How many installments of c are already due at now. */
static size_t due_already(const struct fl_contract_rec *c, fl_time now)
{
	size_t n = 0;

	for (size_t i = 0; i < c->n_schedule; i++)
		n += c->schedule[i].due_at <= now;
	return n;
}

/* --- handlers ------------------------------------------------------------- */

/* POST .../contract: the rules are fl_contract_create's (contracts.h). */
struct create_io {
	struct fl_contract_create_in in;
	struct fl_contract_result out;
	size_t overdue;              /* installments due at creation */
	char first[FL_TIME_STR_LEN]; /* the first one's due time */
};

static fl_err create_step(struct fl_tx *tx, struct fl_req *req, void *ctx)
{
	struct create_io *io = ctx;
	fl_err err = fl_contract_create(tx, &io->in, req->now, &io->out);
	json_t *v;

	if (err != FL_OK) {
		if (io->out.msg[0] != '\0')
			fl_reply_error(req, err, "%s", io->out.msg);
		return err;
	}
	v = fl_contract_json(&io->out.contract, NULL, 0);
	json_object_set_new(v, "device", fl_device_json(&io->out.device));
	if (io->overdue > 0)
		json_object_set_new(
		        v, "warnings",
		        json_pack("[s++]",
		                  "installments already due at "
		                  "creation: the phone locks as overdue "
		                  "once grace ends (first due ",
		                  io->first, ")"));
	fl_reply_json(req, 201, v);
	return FL_OK;
}

static void create_contract(struct fl_req *req)
{
	static const char *const fields[] = {
	        "loan_ref", "currency", "utc_offset",    "schedule",
	        "grace",    "policy",   "allow_overdue", NULL};
	struct fl_contract_rec *c = calloc(1, sizeof(*c));
	struct create_io *io = calloc(1, sizeof(*io));
	struct fl_policy_where where;
	struct fl_contract pc;
	char off[16] = "Z", first[FL_TIME_STR_LEN] = "";
	bool allow_overdue = false;
	size_t overdue = 0;
	struct fl_jin j;
	json_t *v;
	fl_err err;

	if (c == NULL || io == NULL) {
		fl_reply_error(req, FL_E_NOMEM, NULL);
		goto done;
	}
	if (fl_jin_parse(&j, req) != FL_OK)
		goto done;
	fl_jin_only(&j, fields);
	fl_jin_str(&j, "loan_ref", false, c->loan_ref, sizeof(c->loan_ref));
	if (fl_jin_str(&j, "currency", true, c->currency,
	               sizeof(c->currency)) &&
	    !fl_currency_known(c->currency))
		fl_jin_fail(&j, FL_E_INVALID,
		            "currency '%s' is not an ISO 4217 currency code "
		            "(KES, UGX, USD, ...: three capital letters)",
		            c->currency);
	fl_jin_bool(&j, "allow_overdue", false, &allow_overdue);
	if (fl_jin_str(&j, "utc_offset", false, off, sizeof(off)) &&
	    (err = fl_offset_parse(off, strlen(off), &c->utc_offset)) != FL_OK)
		fl_jin_fail(&j, err, "utc_offset: %s", fl_strerror(err));
	v = json_object_get(j.root, "grace");
	if (j.err == FL_OK && v != NULL && !json_is_null(v))
		read_duration(&j, v, "grace", &c->grace);
	if (j.err == FL_OK &&
	    (v = fl_jin_get(&j, "schedule", JSON_ARRAY, true)) != NULL)
		read_schedule(&j, v, "schedule", c->utc_offset, &c->schedule,
		              &c->n_schedule);
	if (j.err == FL_OK) {
		v = json_object_get(j.root, "policy");
		if (v != NULL && !json_is_object(v))
			fl_jin_fail(&j, FL_E_FIELD_TYPE,
			            "policy must be an object");
		else
			read_policy(&j, v, c);
	}
	if (j.err == FL_OK && !fl_api_text_ok(c->loan_ref))
		fl_jin_fail(&j, FL_E_INVALID, "loan_ref must be printable");
	if (j.err == FL_OK) {
		memset(&pc, 0, sizeof(pc));
		memcpy(pc.currency, c->currency, sizeof(pc.currency));
		pc.utc_offset = c->utc_offset;
		pc.schedule = c->schedule;
		pc.n_schedule = c->n_schedule;
		pc.grace = c->grace;
		pc.max_offline = c->max_offline;
		memcpy(pc.remind, c->remind, sizeof(pc.remind));
		pc.n_remind = c->n_remind;
		err = fl_policy_validate_contract(&pc, &where);
		if (err != FL_OK)
			contract_fault(&j, err, &where, &pc);
	}
	if (j.err == FL_OK) {
		overdue = due_already(c, req->now);
		if (overdue > 0)
			fl_time_format(c->schedule[0].due_at, first);
	}
	if (j.err == FL_OK && overdue > 0 && !allow_overdue)
		fl_jin_fail(&j, FL_E_SCHEDULE,
		            "%zu installment%s already due (the first on %s): "
		            "the phone would be locked as overdue once grace "
		            "ends, at enrollment or before; send "
		            "\"allow_overdue\": true to create it anyway",
		            overdue, overdue == 1 ? " is" : "s are", first);
	if (fl_jin_end(&j) != FL_OK)
		goto done;

	snprintf(io->in.device_id, sizeof(io->in.device_id), "%s",
	         fl_req_param(req, "device_id"));
	io->in.who = req->who;
	io->in.contract = c;
	io->overdue = overdue;
	memcpy(io->first, first, sizeof(io->first));
	if (fl_txn_run(req, create_step, io) == FL_OK)
		fl_decide_committed(req->app, io->out.device.id, &io->out.what);
done:
	fl_contract_rec_clear(c);
	free(c);
	free(io);
}

static void show_contract(struct fl_req *req)
{
	static const char *const q[] = {NULL};
	struct fl_device_inputs *in = calloc(1, sizeof(*in));
	struct fl_device *d = calloc(1, sizeof(*d));
	struct fl_tx *tx = NULL;
	json_t *out;
	fl_err err;

	if (in == NULL || d == NULL) {
		fl_reply_error(req, FL_E_NOMEM, NULL);
		goto done;
	}
	if (fl_req_query_only(req, q) != FL_OK)
		goto done;
	if ((err = fl_store_begin(req->app->store, false, &tx)) == FL_OK) {
		err = fl_api_path_device(req, tx, d);
		if (err == FL_OK)
			err = fl_store_device_inputs(tx, d->tenant_id, d->id,
			                             in);
		fl_tx_rollback(tx);
	}
	if (err == FL_OK && !in->has_contract)
		err = FL_E_NO_CONTRACT;
	if (err != FL_OK) {
		if (err == FL_E_NO_CONTRACT)
			fl_reply_error_status(req, 404, err,
			                      "the device has no contract");
		else
			fl_reply_error(req, err,
			               err == FL_E_NOT_FOUND ? "no such device"
			                                     : NULL);
		goto done;
	}
	out = fl_contract_json(&in->contract, in->reschedules,
	                       in->n_reschedules);
	json_object_set_new(out, "device", fl_device_json(d));
	fl_reply_json(req, 200, out);
done:
	fl_device_inputs_clear(in);
	free(in);
	free(d);
}

struct clist {
	json_t *items;
	int64_t last;
	int n;
};

static fl_err contract_one(void *ctx, const struct fl_contract_rec *c)
{
	struct clist *cl = ctx;

	cl->last = c->ord;
	cl->n++;
	return json_array_append_new(cl->items, fl_contract_json(c, NULL, 0)) ==
	                       0
	               ? FL_OK
	               : FL_E_NOMEM;
}

static void list_contracts(struct fl_req *req)
{
	static const char *const q[] = {"cursor", "limit", NULL};
	struct clist cl = {0};
	struct fl_tx *tx = NULL;
	int64_t after;
	int limit;
	fl_err err;

	if (fl_req_query_only(req, q) != FL_OK ||
	    fl_req_page(req, &after, &limit) != FL_OK)
		return;
	if ((cl.items = json_array()) == NULL) {
		fl_reply_error(req, FL_E_NOMEM, NULL);
		return;
	}
	if ((err = fl_store_begin(req->app->store, false, &tx)) == FL_OK) {
		err = fl_store_contract_list(tx, req->who.tenant_id, after,
		                             limit, contract_one, &cl);
		fl_tx_rollback(tx);
	}
	if (err != FL_OK) {
		json_decref(cl.items);
		fl_reply_error(req, err, NULL);
		return;
	}
	/* Listed contracts carry no schedule: show one for the detail. */
	fl_reply_page(req, cl.items, cl.n == limit ? cl.last : 0);
}

/* POST .../contract/reschedule: the rules are fl_contract_reschedule's
 * (contracts.h); the schedule is read in the contract's offset, so its
 * times are made there, inside the transaction. */
struct reschedule_io {
	struct fl_reschedule_in in;
	struct fl_reschedule_result out;
};

static fl_err reschedule_step(struct fl_tx *tx, struct fl_req *req, void *ctx)
{
	struct reschedule_io *io = ctx;
	fl_err err = fl_contract_reschedule(tx, &io->in, req->now, &io->out);
	const struct fl_reschedule_rec *r = &io->out.rec;

	if (err != FL_OK) {
		if (io->out.msg[0] != '\0')
			fl_reply_error(req, err, "%s", io->out.msg);
		return err;
	}
	fl_reply_json(req, 201,
	              json_pack("{s:o,s:o,s:o}", "from", fl_json_time(r->from),
	                        "schedule",
	                        fl_schedule_json(r->schedule, r->n_schedule),
	                        "device", fl_device_json(&io->out.device)));
	return FL_OK;
}

/* Reads the shape of a reschedule's schedule (what needs no contract)
 * into items[FL_POLICY_MAX_INSTALLMENTS], borrowing the due texts from
 * arr. */
static bool read_items(struct fl_jin *j, json_t *arr,
                       struct fl_reschedule_item *items, size_t *n)
{
	static const char *const fields[] = {"due", "amount", NULL};
	size_t i;
	json_t *e;

	*n = 0;
	if (json_array_size(arr) > FL_POLICY_MAX_INSTALLMENTS) {
		fl_jin_fail(j, FL_E_RANGE,
		            "schedule has more than %d installments",
		            FL_POLICY_MAX_INSTALLMENTS);
		return false;
	}
	json_array_foreach(arr, i, e)
	{
		json_t *due = json_object_get(e, "due");
		json_t *amount = json_object_get(e, "amount");
		const char *key;
		json_t *v;

		if (!json_is_object(e)) {
			fl_jin_fail(j, FL_E_FIELD_TYPE,
			            "schedule[%zu] must be an object", i);
			return false;
		}
		json_object_foreach(e, key, v)
		{
			bool known = false;

			for (size_t k = 0; fields[k] != NULL; k++)
				known = known || strcmp(key, fields[k]) == 0;
			if (!known) {
				fl_jin_fail(j, FL_E_FIELD_UNKNOWN,
				            "schedule[%zu]: unknown field "
				            "'%.64s'",
				            i, key);
				return false;
			}
		}
		if (!json_is_string(due) || !json_is_integer(amount)) {
			fl_jin_fail(
			        j,
			        due == NULL || amount == NULL
			                ? FL_E_FIELD_MISSING
			                : FL_E_FIELD_TYPE,
			        "schedule[%zu] needs \"due\" (a date or "
			        "RFC 3339 time) and \"amount\" (an integer)",
			        i);
			return false;
		}
		items[i].due = json_string_value(due);
		items[i].due_len = json_string_length(due);
		items[i].amount = (int64_t)json_integer_value(amount);
	}
	*n = json_array_size(arr);
	return true;
}

static void reschedule(struct fl_req *req)
{
	static const char *const fields[] = {"from", "schedule", "reason",
	                                     NULL};
	struct reschedule_io *io = calloc(1, sizeof(*io));
	struct fl_reschedule_item *items =
	        calloc(FL_POLICY_MAX_INSTALLMENTS, sizeof(*items));
	char from[64] = "";
	struct fl_jin j;
	json_t *sched = NULL;

	if (io == NULL || items == NULL) {
		fl_reply_error(req, FL_E_NOMEM, NULL);
		goto done;
	}
	if (fl_jin_parse(&j, req) != FL_OK)
		goto done;
	fl_jin_only(&j, fields);
	fl_jin_str(&j, "from", true, from, sizeof(from));
	sched = fl_jin_get(&j, "schedule", JSON_ARRAY, true);
	if (sched != NULL)
		json_incref(sched);
	fl_jin_str(&j, "reason", false, io->in.reason, sizeof(io->in.reason));
	if (j.err == FL_OK && !fl_api_text_ok(io->in.reason))
		fl_jin_fail(&j, FL_E_INVALID, "reason must be printable text");
	if (j.err == FL_OK)
		read_items(&j, sched, items, &io->in.n_items);
	if (fl_jin_end(&j) != FL_OK)
		goto done;
	snprintf(io->in.device_id, sizeof(io->in.device_id), "%s",
	         fl_req_param(req, "device_id"));
	io->in.who = req->who;
	io->in.from = from;
	io->in.items = items;
	if (fl_txn_run(req, reschedule_step, io) == FL_OK)
		fl_decide_committed(req->app, io->out.device.id, &io->out.what);
done:
	if (io != NULL)
		fl_reschedule_result_clear(&io->out);
	json_decref(sched);
	free(items);
	free(io);
}

static const struct fl_route routes[] = {
        {"POST", "/v1/devices/{device_id}/contract", create_contract,
         FL_ROLE_ADMIN},
        {"GET", "/v1/devices/{device_id}/contract", show_contract,
         FL_ROLES_READ},
        {"POST", "/v1/devices/{device_id}/contract/reschedule", reschedule,
         FL_ROLE_ADMIN},
        {"GET", "/v1/contracts", list_contracts, FL_ROLES_READ},
};

const struct fl_route_table fl_routes_contracts = FL_ROUTE_TABLE(routes);
