/*
 * contracts.c - a device's contract: creating it and rescheduling it
 * (contracts.h).
 */
#include "server/contracts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/restrict.h"
#include "core/state.h"
#include "server/audit.h"
#include "server/auth.h"
#include "server/jsonval.h"
#include "server/sources.h"

/* --- presenting ----------------------------------------------------------- */

static void add_name(const char *name, void *ctx)
{
	json_array_append_new(ctx, json_string(name));
}

json_t *fl_schedule_json(const struct fl_installment *items, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < n; i++)
		json_array_append_new(
		        a, json_pack("{s:o,s:I}", "due_at",
		                     fl_json_time(items[i].due_at), "amount",
		                     (json_int_t)items[i].amount));
	return a;
}

static json_t *strings_json(const char *items, size_t stride, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < n; i++)
		json_array_append_new(a, json_string(items + i * stride));
	return a;
}

static void offset_text(int32_t off, char out[8])
{
	int32_t a = off < 0 ? -off : off;

	if (off == 0)
		snprintf(out, 8, "Z");
	else
		snprintf(out, 8, "%c%02d:%02d", off < 0 ? '-' : '+',
		         (int)(a / 3600) % 100, (int)(a % 3600) / 60);
}

json_t *fl_contract_json(const struct fl_contract_rec *c,
                         const struct fl_reschedule *rs, size_t n_rs)
{
	json_t *remind = json_array(), *restrict_names = json_array();
	json_t *j, *rsj;
	char off[8];

	for (size_t i = 0; remind != NULL && i < c->n_remind; i++)
		json_array_append_new(remind, json_integer(c->remind[i]));
	fl_restrict_each(c->restrict_mask, add_name, restrict_names);
	offset_text(c->utc_offset, off);
	j = json_pack(
	        "{s:s,s:s,s:s,s:s,s:o,s:I,s:o,s:{s:o,s:o,s:o,s:s,s:{s:s,s:o},"
	        "s:I,s:s,s:s}}",
	        "device_id", c->device_id, "loan_ref", c->loan_ref, "currency",
	        c->currency, "utc_offset", off, "created_at",
	        fl_json_time(c->created_at), "grace", (json_int_t)c->grace,
	        "schedule", fl_schedule_json(c->schedule, c->n_schedule),
	        "policy", "reminders", remind, "restrict", restrict_names,
	        "allow_apps",
	        strings_json(&c->allow_apps[0][0], FL_APP_ID_MAX,
	                     c->n_allow_apps),
	        "message", c->message, "contact", "name", c->contact_name,
	        "phones",
	        strings_json(&c->contact_phones[0][0], FL_PHONE_MAX,
	                     c->n_contact_phones),
	        "max_offline", (json_int_t)c->max_offline, "sim_change",
	        fl_reaction_name(c->sim_policy), "tamper",
	        fl_reaction_name(c->tamper_policy));
	if (j == NULL || rs == NULL)
		return j;
	rsj = json_array();
	for (size_t i = 0; rsj != NULL && i < n_rs; i++)
		json_array_append_new(
		        rsj, json_pack("{s:o,s:o}", "from",
		                       fl_json_time(rs[i].from), "schedule",
		                       fl_schedule_json(rs[i].schedule,
		                                        rs[i].n_schedule)));
	json_object_set_new(j, "reschedules", rsj);
	return j;
}

/* --- refusals in words ------------------------------------------------------
 */

void fl_schedule_fault(char *msg, size_t cap, fl_err err, const char *what,
                       const struct fl_installment *list, size_t n, size_t i,
                       fl_time from)
{
	char due[FL_TIME_STR_LEN], prev[FL_TIME_STR_LEN];

	if (i >= n) {
		snprintf(msg, cap, "%s: %s", what, fl_strerror(err));
		return;
	}
	fl_time_format(list[i].due_at, due);
	if (err == FL_E_MONEY) {
		snprintf(msg, cap,
		         "%s[%zu] (installment %zu): amount %lld must be "
		         "1..%lld minor units",
		         what, i, i + 1, (long long)list[i].amount,
		         (long long)FL_POLICY_MAX_AMOUNT);
	} else if (i > 0 && list[i].due_at <= list[i - 1].due_at) {
		fl_time_format(list[i - 1].due_at, prev);
		snprintf(msg, cap,
		         "%s[%zu] (installment %zu): due %s is not after "
		         "the installment before it (due %s); list "
		         "installments by due date, one per date",
		         what, i, i + 1, due, prev);
	} else if (from != 0 && list[i].due_at < from) {
		fl_time_format(from, prev);
		snprintf(msg, cap,
		         "%s[%zu] (installment %zu): due %s is before the "
		         "reschedule's start %s",
		         what, i, i + 1, due, prev);
	} else {
		snprintf(msg, cap, "%s[%zu] (installment %zu): %s", what, i,
		         i + 1, fl_strerror(err));
	}
}

/* --- creating ---------------------------------------------------------------
 */

/* Reads the device of in for in->who's tenant under its lock. */
static fl_err locked_device(struct fl_tx *tx, const struct fl_principal *who,
                            const char *device_id, struct fl_device *out)
{
	fl_err err = fl_store_lock_device(tx, device_id);

	if (err == FL_OK)
		err = fl_store_device_get(tx, who->tenant_id, device_id, out);
	return err;
}

fl_err fl_contract_create(struct fl_tx *tx,
                          const struct fl_contract_create_in *in, fl_time now,
                          struct fl_contract_result *out)
{
	struct fl_contract_rec *c = &out->contract;
	struct fl_device *d = &out->device;
	fl_err err;

	memset(out, 0, sizeof(*out));
	err = locked_device(tx, &in->who, in->device_id, d);
	if (err == FL_OK && d->has_contract)
		err = FL_E_CONFLICT;
	if (err == FL_OK && d->st.released_by_command)
		err = FL_E_STATE;
	if (err != FL_OK) {
		snprintf(out->msg, sizeof(out->msg), "%s",
		         err == FL_E_NOT_FOUND  ? "no such device"
		         : err == FL_E_CONFLICT ? "the device already has a "
		                                  "contract"
		         : err == FL_E_STATE    ? "the device was released"
		                                : "");
		return err;
	}
	/* a provider's payment names its loan by reference: one contract
	 * per reference, compared as payments are (sources.h) */
	if (in->contract->loan_ref[0] != '\0') {
		char norm[FL_LOAN_REF_MAX], other[FL_ID_MAX];

		fl_src_norm_ref(in->contract->loan_ref, norm);
		err = fl_store_contract_by_ref(tx, d->tenant_id, norm, other);
		if (err == FL_OK) {
			snprintf(
			        out->msg, sizeof(out->msg),
			        "loan_ref '%s' is already the contract of "
			        "device %s (compared ignoring case and spaces)",
			        in->contract->loan_ref, other);
			return FL_E_CONFLICT;
		}
		if (err != FL_E_NOT_FOUND)
			return err;
	}
	/* the terms as stored: the input's, with the device and the time
	 * (the schedule stays the input's) */
	*c = *in->contract;
	snprintf(c->device_id, sizeof(c->device_id), "%s", d->id);
	snprintf(c->tenant_id, sizeof(c->tenant_id), "%s", d->tenant_id);
	c->created_at = now;
	err = fl_store_contract_insert(tx, c);
	if (err == FL_OK)
		err = fl_decide_device(tx, d->tenant_id, d->id, now, false, d,
		                       &out->what);
	if (err == FL_OK)
		err = fl_audit_by(tx, &in->who, now, "contract.create", d->id,
		                  NULL, fl_contract_json(c, NULL, 0));
	return err;
}

/* --- rescheduling -----------------------------------------------------------
 */

/* The schedule of in at offset into *items (caller frees) and *n; on a
 * refusal, its message in msg. */
static fl_err read_items(const struct fl_reschedule_in *in, int32_t offset,
                         struct fl_installment **items, size_t *n, char *msg,
                         size_t cap)
{
	fl_err err;

	*items = NULL;
	*n = 0;
	if (in->n_items == 0)
		return FL_OK;
	*items = calloc(in->n_items, sizeof(**items));
	if (*items == NULL) {
		snprintf(msg, cap, "out of memory");
		return FL_E_NOMEM;
	}
	for (size_t i = 0; i < in->n_items; i++) {
		err = fl_policy_due_parse(in->items[i].due,
		                          in->items[i].due_len, offset,
		                          &(*items)[i].due_at);
		if (err != FL_OK) {
			snprintf(msg, cap, "schedule[%zu].due: %s", i,
			         fl_strerror(err));
			goto fail;
		}
		(*items)[i].amount = in->items[i].amount;
		if ((*items)[i].amount < 1 ||
		    (*items)[i].amount > FL_POLICY_MAX_AMOUNT) {
			err = FL_E_MONEY;
			snprintf(msg, cap,
			         "schedule[%zu].amount must be 1..%lld minor "
			         "units",
			         i, (long long)FL_POLICY_MAX_AMOUNT);
			goto fail;
		}
	}
	*n = in->n_items;
	return FL_OK;
fail:
	free(*items);
	*items = NULL;
	return err;
}

fl_err fl_contract_reschedule(struct fl_tx *tx,
                              const struct fl_reschedule_in *in, fl_time now,
                              struct fl_reschedule_result *out)
{
	struct fl_device_inputs *di = calloc(1, sizeof(*di));
	struct fl_reschedule_rec *r = &out->rec;
	struct fl_policy_where where;
	struct fl_reschedule pr;
	int32_t offset;
	int y, m, dd;
	fl_err err;

	/* a retried attempt starts from nothing */
	free(r->schedule);
	memset(out, 0, sizeof(*out));
	if (di == NULL)
		return FL_E_NOMEM;
	err = locked_device(tx, &in->who, in->device_id, &out->device);
	if (err == FL_OK)
		err = fl_store_device_inputs(tx, out->device.tenant_id,
		                             out->device.id, di);
	if (err == FL_OK && !di->has_contract)
		err = FL_E_NO_CONTRACT;
	if (err == FL_OK && out->device.st.state == FL_ST_RELEASED)
		err = FL_E_STATE;
	if (err == FL_OK && di->n_reschedules >= FL_POLICY_MAX_RESCHEDULES)
		err = FL_E_LIMIT;
	if (err != FL_OK) {
		snprintf(out->msg, sizeof(out->msg), "%s",
		         err == FL_E_NOT_FOUND ? "no such device"
		         : err == FL_E_NO_CONTRACT
		                 ? "the device has no contract"
		         : err == FL_E_STATE ? "a released contract cannot "
		                               "be rescheduled"
		         : err == FL_E_LIMIT ? "too many reschedules"
		                             : "");
		goto out;
	}
	/* The schedule is read in the contract's offset. "from": a date is
	 * the start of that day at that offset; a time is that instant. */
	offset = di->contract.utc_offset;
	if (fl_date_parse(in->from, strlen(in->from), &y, &m, &dd) == FL_OK) {
		r->from = fl_time_from_civil(y, m, dd) - offset;
	} else if ((err = fl_time_parse(in->from, strlen(in->from),
	                                &r->from)) != FL_OK) {
		snprintf(out->msg, sizeof(out->msg), "from: %s",
		         fl_strerror(err));
		goto out;
	}
	if ((err = read_items(in, offset, &r->schedule, &r->n_schedule,
	                      out->msg, sizeof(out->msg))) != FL_OK)
		goto out;
	memset(&pr, 0, sizeof(pr));
	pr.from = r->from;
	pr.schedule = r->schedule;
	pr.n_schedule = r->n_schedule;
	if ((err = fl_policy_validate_reschedule(&pr, &where)) != FL_OK) {
		fl_schedule_fault(out->msg, sizeof(out->msg), err, "schedule",
		                  r->schedule, r->n_schedule, where.item,
		                  r->from);
		goto out;
	}
	r->created_at = now;
	snprintf(r->actor, sizeof(r->actor), "%s", in->who.key_id);
	snprintf(r->reason, sizeof(r->reason), "%s", in->reason);
	err = fl_store_reschedule_insert(tx, out->device.tenant_id,
	                                 out->device.id, r);
	if (err == FL_OK)
		err = fl_decide_device(tx, out->device.tenant_id,
		                       out->device.id, now, false, &out->device,
		                       &out->what);
	if (err == FL_OK)
		err = fl_audit_by(
		        tx, &in->who, now, "contract.reschedule",
		        out->device.id, NULL,
		        json_pack("{s:o,s:o,s:s}", "from",
		                  fl_json_time(r->from), "schedule",
		                  fl_schedule_json(r->schedule, r->n_schedule),
		                  "reason", r->reason));
out:
	fl_device_inputs_clear(di);
	free(di);
	return err;
}

void fl_reschedule_result_clear(struct fl_reschedule_result *out)
{
	free(out->rec.schedule);
	out->rec.schedule = NULL;
	out->rec.n_schedule = 0;
}
