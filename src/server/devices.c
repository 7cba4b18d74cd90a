/*
 * devices.c - a lender's devices: what a device's JSON shows, its pending
 * commands, registering one and cancelling a command (devices.h).
 */
#include "server/devices.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/state.h"
#include "server/audit.h"
#include "server/jsonval.h"

/* --- presenting -------------------------------------------------------------
 */

static const char *cause_name(enum fl_lock_cause c)
{
	return fl_lock_cause_name(c) != NULL ? fl_lock_cause_name(c) : "none";
}

/* Whether the decision's lock has come: locked, or not enrolled yet with
 * lock_at reached when it was decided. */
static bool lock_come(const struct fl_device_status *s)
{
	return s->state == FL_ST_LOCKED ||
	       (s->state == FL_ST_PENDING && s->lock_at != 0 &&
	        s->lock_at <= s->decided_at);
}

json_t *fl_device_json(const struct fl_device *d)
{
	json_t *j = json_object();
	const struct fl_device_status *s = &d->st;

	if (j == NULL)
		return NULL;
	json_object_set_new(j, "id", json_string(d->id));
	json_object_set_new(j, "imei", json_string(d->imei));
	json_object_set_new(j, "imei2",
	                    d->imei2[0] ? json_string(d->imei2) : json_null());
	json_object_set_new(j, "serial", json_string(d->serial));
	json_object_set_new(j, "model", json_string(d->model));
	json_object_set_new(j, "created_at", fl_json_time(d->created_at));
	json_object_set_new(j, "enrolled", json_boolean(d->enrolled_at != 0));
	json_object_set_new(j, "enrolled_at", fl_json_time(d->enrolled_at));
	json_object_set_new(j, "enrollment_code_expires_at",
	                    d->has_enroll_code ? fl_json_time(d->enroll_expires)
	                                       : json_null());
	json_object_set_new(j, "has_contract", json_boolean(d->has_contract));
	json_object_set_new(j, "state",
	                    json_string(fl_state_name(s->state) != NULL
	                                        ? fl_state_name(s->state)
	                                        : "pending"));
	json_object_set_new(j, "stolen", json_boolean(s->stolen_reported));
	json_object_set_new(j, "released_by_command",
	                    json_boolean(s->released_by_command));
	/* paid in full by a provider's payment, the release waiting for
	 * the lender's confirmation (sources.h): only then is nothing left
	 * to pay on a device that is neither released nor stolen */
	json_object_set_new(j, "release_pending",
	                    json_boolean(d->has_contract && s->token_seq != 0 &&
	                                 s->amount_remaining == 0 &&
	                                 s->state != FL_ST_RELEASED &&
	                                 s->state != FL_ST_PENDING &&
	                                 !s->stolen));
	json_object_set_new(j, "lock_at", fl_json_time(s->lock_at));
	/* lock_cause: why the device is locked now (a phone not enrolled
	 * yet: why it will be at enrollment); "none" while no lock has come.
	 * next_lock_cause: why lock_at, when that lock is still to come. */
	json_object_set_new(
	        j, "lock_cause",
	        json_string(lock_come(s) ? cause_name(s->lock_cause) : "none"));
	json_object_set_new(
	        j, "next_lock_cause",
	        json_string(!lock_come(s) && s->lock_at != 0 &&
	                                    s->state != FL_ST_RELEASED
	                            ? cause_name(s->lock_cause)
	                            : "none"));
	json_object_set_new(j, "unlock_until", fl_json_time(s->unlock_until));
	json_object_set_new(j, "paid_through", fl_json_time(s->paid_through));
	json_object_set_new(j, "amount_due", json_integer(s->amount_due));
	json_object_set_new(j, "amount_remaining",
	                    json_integer(s->amount_remaining));
	json_object_set_new(j, "credit", json_integer(s->credit));
	json_object_set_new(j, "next_due_at", fl_json_time(s->next_due_at));
	json_object_set_new(j, "next_due_amount",
	                    json_integer(s->next_due_amount));
	json_object_set_new(j, "next_change", fl_json_time(s->next_change));
	json_object_set_new(j, "last_contact", fl_json_time(d->last_contact));
	json_object_set_new(j, "tamper",
	                    d->tamper_at ? json_pack("{s:o,s:s}", "at",
	                                             fl_json_time(d->tamper_at),
	                                             "report", d->tamper_report)
	                                 : json_null());
	json_object_set_new(j, "sim",
	                    d->sim_at ? json_pack("{s:o,s:s}", "at",
	                                          fl_json_time(d->sim_at),
	                                          "report", d->sim_report)
	                              : json_null());
	json_object_set_new(j, "token_seq",
	                    json_integer((json_int_t)s->token_seq));
	json_object_set_new(j, "decided_at", fl_json_time(s->decided_at));
	/* What the phone last confirmed applying, beside what the server
	 * decided: "locking" and "unlocking" until the phone says so. */
	{
		bool want = s->state == FL_ST_LOCKED;
		bool known = d->confirmed.at != 0;
		bool has = d->confirmed.locked;
		const char *lock_status =
		        !known ? (want ? "locking" : "unknown")
		        : want ? (has ? "locked" : "locking")
		               : (has ? "unlocking" : "unlocked");

		json_object_set_new(j, "lock_status", json_string(lock_status));
		json_object_set_new(
		        j, "phone",
		        known ? json_pack("{s:I,s:b,s:o,s:b}", "token_seq",
		                          (json_int_t)d->confirmed.seq,
		                          "locked", has, "confirmed_at",
		                          fl_json_time(d->confirmed.at),
		                          "current",
		                          d->confirmed.seq == s->token_seq)
		              : json_null());
	}
	return j;
}

/* The stored command behind entry idx (1-based; 0: none) of in's
 * commands, as a pending command. */
static json_t *pending_one(struct fl_tx *tx, const struct fl_device *d,
                           const struct fl_device_inputs *in, size_t idx,
                           fl_err *err)
{
	struct fl_command_rec c;

	*err = fl_store_command_get(tx, d->tenant_id, d->id,
	                            in->cmd_ord[idx - 1], &c);
	if (*err != FL_OK)
		return NULL;
	return json_pack(
	        "{s:I,s:s,s:o,s:o,s:s,s:b,s:s}", "id", (json_int_t)c.ord,
	        "kind", c.kind == FL_CMD_LOCK_AT ? "lock_at" : "unlock_until",
	        "at", fl_json_time(in->commands[idx - 1].at), "issued_at",
	        fl_json_time(c.issued_at), "reason", c.reason, "show_reason",
	        c.show_reason, "actor", c.actor);
}

fl_err fl_device_pending(struct fl_tx *tx, const struct fl_device *d,
                         fl_time now, json_t **out)
{
	struct fl_device_inputs in;
	struct fl_decision *dec = calloc(1, sizeof(*dec));
	fl_time at = fl_decide_now(d, now);
	json_t *arr = json_array(), *one;
	fl_err err = FL_OK;

	*out = NULL;
	memset(&in, 0, sizeof(in));
	if (dec == NULL || arr == NULL) {
		err = FL_E_NOMEM;
		goto out;
	}
	if (!d->has_contract)
		goto done;
	if ((err = fl_decide_replay(tx, d, at, &in, dec)) != FL_OK)
		goto out;
	/* a lock still to come shows even when an earlier lock (an overdue
	 * one after an unlock ends) comes first: the lender scheduled it */
	if (dec->sched_command != 0 && dec->sched_at > at) {
		one = pending_one(tx, d, &in, dec->sched_command, &err);
		if (one == NULL || json_array_append_new(arr, one) != 0)
			err = err != FL_OK ? err : FL_E_NOMEM;
	}
	if (err == FL_OK && dec->unlock_until > at &&
	    dec->unlock_command != 0) {
		one = pending_one(tx, d, &in, dec->unlock_command, &err);
		if (one == NULL || json_array_append_new(arr, one) != 0)
			err = err != FL_OK ? err : FL_E_NOMEM;
	}
	if (err != FL_OK)
		goto out;
done:
	*out = arr;
	arr = NULL;
out:
	fl_device_inputs_clear(&in);
	free(dec);
	json_decref(arr);
	return err;
}

/* --- registering ------------------------------------------------------------
 */

fl_err fl_device_register(struct fl_tx *tx, const struct fl_register_in *in,
                          fl_time now, struct fl_register_result *out)
{
	struct fl_device *d = &out->device;
	fl_err err;

	memset(out, 0, sizeof(*out));
	*d = in->device;
	snprintf(d->tenant_id, sizeof(d->tenant_id), "%s", in->who.tenant_id);
	d->created_at = now;
	err = fl_store_device_insert(tx, d);
	if (err == FL_E_IMEI_IN_PROGRAM) {
		/* Which program, and whose, is not the caller's business. */
		snprintf(out->msg, sizeof(out->msg), "%s",
		         "this IMEI is already in a financing program");
		return err;
	}
	if (err == FL_OK)
		err = fl_decide_device(tx, d->tenant_id, d->id, now, false, d,
		                       &out->what);
	if (err == FL_OK)
		err = fl_audit_by(tx, &in->who, now, "device.register", d->id,
		                  NULL, fl_device_json(d));
	return err;
}

/* --- cancelling a command
 * ----------------------------------------------------- */

fl_err fl_device_command_cancel(struct fl_tx *tx, const struct fl_cancel_in *in,
                                fl_time now, struct fl_cancel_result *out)
{
	struct fl_device *before = &out->before, *after = &out->after;
	struct fl_command_rec *c = &out->command;
	bool pending = false;
	json_t *pend = NULL, *a, *it;
	size_t i;
	fl_err err;

	/* a retried attempt starts from nothing */
	fl_cancel_result_clear(out);
	memset(out, 0, sizeof(*out));
	err = fl_store_lock_device(tx, in->device_id);
	if (err == FL_OK)
		err = fl_store_device_get(tx, in->who.tenant_id, in->device_id,
		                          before);
	if (err == FL_OK)
		err = fl_store_command_get(tx, before->tenant_id, before->id,
		                           in->command, c);
	if (err == FL_E_NOT_FOUND) {
		snprintf(out->msg, sizeof(out->msg), "%s",
		         "no such command on this device");
		return err;
	}
	if (err == FL_OK)
		err = fl_device_pending(tx, before, now, &pend);
	json_array_foreach(pend, i, it) pending |=
	        json_integer_value(json_object_get(it, "id")) == in->command;
	json_decref(pend);
	if (err == FL_OK && !pending) {
		snprintf(out->msg, sizeof(out->msg), "%s",
		         "the command is not pending: only a scheduled lock "
		         "still to come or an unlock still holding can be "
		         "cancelled");
		return FL_E_STATE;
	}
	if (err == FL_OK)
		err = fl_store_command_cancel(
		        tx, before->tenant_id, before->id, in->command,
		        fl_decide_now(before, now), in->who.key_id, in->reason);
	if (err == FL_OK)
		err = fl_decide_device(tx, before->tenant_id, before->id, now,
		                       false, after, &out->what);
	if (err == FL_OK) {
		a = fl_device_json(after);
		json_object_set_new(a, "cancelled",
		                    json_pack("{s:I,s:s,s:o,s:s}", "id",
		                              (json_int_t)in->command, "kind",
		                              c->kind == FL_CMD_LOCK_AT
		                                      ? "lock_at"
		                                      : "unlock_until",
		                              "at", fl_json_time(c->at),
		                              "reason", in->reason));
		err = fl_audit_by(tx, &in->who, now, "device.command_cancel",
		                  before->id, fl_device_json(before), a);
	}
	/* what the answer shows: the pending commands after the change */
	if (err == FL_OK && fl_device_pending(tx, after, now, &pend) == FL_OK)
		out->pending = pend;
	return err;
}

void fl_cancel_result_clear(struct fl_cancel_result *out)
{
	json_decref(out->pending);
	out->pending = NULL;
}
