/* checkin.c - a check-in's writes: reports, offline codes used, contact. */
#include "server/checkin.h"

#include <stdio.h>
#include <string.h>

#include "core/ocode.h"
#include "server/audit.h"
#include "server/events.h"
#include "server/jsonval.h"

/* Records what the phone reported applying (the token seq it holds,
 * whether it is locked), read again under the device's lock, with the
 * event of a lock or unlock it confirms: device.lock_confirmed when it
 * reports locked after not being (or first), device.unlock_confirmed
 * when it reports unlocked after being locked. */
static fl_err store_confirmed(struct fl_tx *tx, struct fl_device *d,
                              const struct fl_dp_checkin_req *r, fl_time now)
{
	struct fl_confirmed was = d->confirmed;
	fl_err err;

	if (was.at != 0 && was.seq == r->seq && was.locked == r->locked)
		return FL_OK;
	d->confirmed.seq = r->seq;
	d->confirmed.locked = r->locked;
	d->confirmed.at = now;
	if ((err = fl_store_device_confirm(tx, d->id, &d->confirmed)) != FL_OK ||
	    (err = fl_store_state_change_confirm(tx, d->id, r->locked, r->seq,
	                                         now)) != FL_OK)
		return err;
	if (r->locked && (!was.locked || was.at == 0))
		return fl_event_device(
		        tx, d, "device.lock_confirmed",
		        json_pack("{s:I,s:o}", "confirmed_seq",
		                  (json_int_t)r->seq, "confirmed_at",
		                  fl_json_time(now)),
		        now);
	if (!r->locked && was.locked)
		return fl_event_device(
		        tx, d, "device.unlock_confirmed",
		        json_pack("{s:I,s:o}", "confirmed_seq",
		                  (json_int_t)r->seq, "confirmed_at",
		                  fl_json_time(now)),
		        now);
	return FL_OK;
}

/* An audit entry for something a phone did: the device is the actor. */
static fl_err audit_phone(struct fl_tx *tx, const struct fl_device *d,
                          fl_time now, const char *action, json_t *after)
{
	return fl_audit_append(tx, d->tenant_id, d->id, now, action, d->id,
	                       NULL, after);
}

/* Stores what the phone reported (SIM change, tamper) in tx, unless it
 * is the report already stored, sent again by a phone that has not yet
 * seen the token that followed it (a retry after a lost answer). */
static fl_err store_reports(struct fl_tx *tx, const struct fl_device *d,
                            const struct fl_dp_checkin_req *r, fl_time now)
{
	struct fl_report_rec rec;
	char detail[FL_REPORT_MAX];
	bool caught_up = r->seq >= d->st.token_seq;
	fl_err err;

	if (r->sim_changed) {
		if (r->iccid[0] != '\0')
			snprintf(detail, sizeof(detail),
			         "SIM changed: ICCID %s", r->iccid);
		else
			snprintf(detail, sizeof(detail), "SIM removed");
		if (caught_up || strcmp(detail, d->sim_report) != 0) {
			memset(&rec, 0, sizeof(rec));
			snprintf(rec.device_id, sizeof(rec.device_id), "%s",
			         d->id);
			snprintf(rec.tenant_id, sizeof(rec.tenant_id), "%s",
			         d->tenant_id);
			rec.at = now;
			rec.kind = FL_REPORT_SIM;
			snprintf(rec.detail, sizeof(rec.detail), "%s", detail);
			if ((err = fl_store_report_add(tx, &rec)) != FL_OK ||
			    (err = fl_store_device_report(tx, d->id, true, now,
			                                  detail)) != FL_OK ||
			    (err = audit_phone(tx, d, now, "device.sim_change",
			                        json_pack("{s:s,s:s}", "iccid",
			                                  r->iccid, "report",
			                                  detail))) != FL_OK ||
			    (err = fl_event_device(
			             tx, d, "device.sim_changed",
			             json_pack("{s:s,s:s}", "iccid", r->iccid,
			                       "report", detail),
			             now)) != FL_OK)
				return err;
		}
	}
	if (r->tamper != 0) {
		size_t used = 0;

		detail[0] = '\0';
		for (uint32_t bit = 1; bit <= FL_DP_TAMPER_ALL; bit <<= 1) {
			const char *name = fl_dp_tamper_name(bit);

			if ((r->tamper & bit) == 0 || name == NULL)
				continue;
			used += (size_t)snprintf(detail + used,
			                         sizeof(detail) - used, "%s%s",
			                         used ? ", " : "", name);
		}
		if (caught_up || strcmp(detail, d->tamper_report) != 0) {
			memset(&rec, 0, sizeof(rec));
			snprintf(rec.device_id, sizeof(rec.device_id), "%s",
			         d->id);
			snprintf(rec.tenant_id, sizeof(rec.tenant_id), "%s",
			         d->tenant_id);
			rec.at = now;
			rec.kind = FL_REPORT_TAMPER;
			snprintf(rec.detail, sizeof(rec.detail), "%s", detail);
			if ((err = fl_store_report_add(tx, &rec)) != FL_OK ||
			    (err = fl_store_device_report(tx, d->id, false, now,
			                                  detail)) != FL_OK ||
			    (err = audit_phone(tx, d, now, "device.tamper",
			                        json_pack("{s:s}", "report",
			                                  detail))) != FL_OK ||
			    (err = fl_event_device(tx, d, "device.tamper",
			                           json_pack("{s:s}", "report",
			                                     detail),
			                           now)) != FL_OK)
				return err;
		}
	}
	return FL_OK;
}

/* An unlock the phone took from an offline code (counter r->code_counter,
 * ending r->unlock_until) becomes part of the server's decision, as an
 * UNLOCK_UNTIL command: a phone reflashed before it ends comes back
 * unlocked. The end is the phone's, but never later than a code of that
 * action entered now could give (the newest code's action when it is the
 * one used, else the longest unlock a code carries). *decides is set
 * when a command was stored. */
static fl_err code_unlock_command(struct fl_tx *tx, const struct fl_device *d,
                                  const struct fl_ocode_rec *oc,
                                  const struct fl_dp_checkin_req *r,
                                  fl_time now, bool *decides)
{
	struct fl_command_rec cmd;
	int days = r->code_counter == oc->counter
	                   ? fl_ocode_action_days((enum fl_ocode_action)oc->action)
	                   : 30;
	fl_time until = r->unlock_until;

	*decides = false;
	if (days <= 0 || !d->has_contract || d->st.stolen ||
	    d->st.state == FL_ST_RELEASED)
		return FL_OK;
	if (until > now + (fl_time)days * FL_DAY)
		until = now + (fl_time)days * FL_DAY;
	if (until <= now)
		return FL_OK;
	memset(&cmd, 0, sizeof(cmd));
	cmd.kind = FL_CMD_UNLOCK_UNTIL;
	cmd.issued_at = fl_decide_now(d, now);
	cmd.at = until;
	snprintf(cmd.reason, sizeof(cmd.reason), "offline code %llu used",
	         (unsigned long long)r->code_counter);
	snprintf(cmd.actor, sizeof(cmd.actor), "device");
	*decides = true;
	return fl_store_command_insert(tx, d->tenant_id, d->id, &cmd);
}

fl_err fl_checkin_apply(struct fl_tx *tx, void *arg, fl_time now)
{
	struct fl_checkin_work *io = arg;
	const struct fl_dp_checkin_req *r = io->r;
	struct fl_device *d = &io->d;
	struct fl_ocode_rec oc;
	bool code = false, code_decides = false;
	fl_err err;

	io->decided = false;
	memset(&io->what, 0, sizeof(io->what));
	memset(&oc, 0, sizeof(oc));
	if ((err = fl_store_lock_device(tx, io->id)) != FL_OK ||
	    (err = fl_store_device_get_any(tx, io->id, d)) != FL_OK)
		return err;
	if (io->code) {
		if ((err = fl_store_ocode_get(tx, d->id, &oc)) != FL_OK)
			return err;
		/* only counters of codes this server minted */
		code = r->code_counter > oc.used &&
		       r->code_counter <= oc.counter;
	}
	if ((io->report || code) &&
	    (err = fl_store_dp_claim(tx, d->id, io->counter)) != FL_OK)
		return err;
	if (io->report && (err = store_reports(tx, d, r, now)) != FL_OK)
		return err;
	if (code &&
	    ((err = fl_store_ocode_used(tx, d->id, r->code_counter,
	                                r->unlock_until)) != FL_OK ||
	     (err = audit_phone(
	              tx, d, now, "device.offline_code_used",
	              json_pack("{s:I,s:o}", "counter",
	                        (json_int_t)r->code_counter, "unlock_until",
	                        fl_json_time(r->unlock_until)))) != FL_OK))
		return err;
	if (code && (err = code_unlock_command(tx, d, &oc, r, now,
	                                       &code_decides)) != FL_OK)
		return err;
	if (io->confirm && (err = store_confirmed(tx, d, r, now)) != FL_OK)
		return err;
	if (io->contact && (err = fl_store_device_touch(tx, d->id, now,
	                                                io->counter)) != FL_OK)
		return err;
	if (io->report || io->contact || code_decides) {
		if ((err = fl_decide_device(tx, d->tenant_id, d->id, now,
		                            io->report, d, &io->what)) != FL_OK)
			return err;
		io->decided = true;
	}
	return FL_OK;
}

