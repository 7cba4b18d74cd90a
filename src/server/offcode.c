/* offcode.c - the rules of minting an offline code. */
#include "server/offcode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/audit.h"
#include "server/devauth.h"
#include "server/jsonval.h"

static fl_err refuse(struct fl_offcode_result *out, fl_err err,
                     const char *msg)
{
	snprintf(out->msg, sizeof(out->msg), "%s", msg);
	return err;
}

fl_err fl_offcode_mint(struct fl_tx *tx, const struct fl_offcode_input *in,
                       fl_time now, struct fl_offcode_result *out)
{
	struct fl_device *d = calloc(1, sizeof(*d));
	uint8_t mac[FL_MAC_KEY_LEN], secret[FL_DP_OCODE_SECRET_LEN];
	struct fl_ocode_rec oc;
	struct fl_command_rec cmd;
	char day_s[16];
	int y, mo, dd, h, mi, s;
	fl_err err;

	memset(out, 0, sizeof(*out));
	if (d == NULL)
		return FL_E_NOMEM;
	if ((err = fl_store_lock_device(tx, in->device_id)) != FL_OK)
		goto out;
	err = fl_store_device_get(tx, in->tenant_id, in->device_id, d);
	if (err == FL_E_NOT_FOUND) {
		err = refuse(out, err, "no such device");
		goto out;
	}
	if (err != FL_OK)
		goto out;
	snprintf(out->device_id, sizeof(out->device_id), "%s", d->id);
	if (!d->has_keys) {
		err = refuse(out, FL_E_STATE,
		             "the phone has not enrolled: it holds no "
		             "offline-code secret yet");
		goto out;
	}
	if (d->st.stolen) {
		err = refuse(out, FL_E_STATE, "the device is reported stolen");
		goto out;
	}
	if (d->st.state == FL_ST_RELEASED) {
		err = refuse(out, FL_E_STATE,
		             "the device is released: nothing to unlock");
		goto out;
	}
	if ((err = fl_store_ocode_get(tx, d->id, &oc)) != FL_OK)
		goto out;
	out->reused = oc.counter > oc.used && oc.action == (int)in->action &&
	              now < fl_ocode_expires_at(oc.issue_day);
	if (!out->reused) {
		if (oc.counter + 1 > oc.used + FL_OCODE_WINDOW) {
			snprintf(out->msg, sizeof(out->msg),
			         "%d codes wait unused; the phone accepts no "
			         "further one",
			         FL_OCODE_WINDOW);
			err = FL_E_LIMIT;
			goto out;
		}
		oc.counter++;
		oc.action = (int)in->action;
		oc.issue_day = fl_time_day(now, 0);
		oc.issued_at = now;
		snprintf(oc.issued_by, sizeof(oc.issued_by), "%s", in->actor);
		if ((err = fl_store_ocode_issue(tx, d->id, &oc)) != FL_OK)
			goto out;
	}
	out->counter = oc.counter;
	out->issue_day = oc.issue_day;
	err = fl_devauth_derive(in->server_kx_pk, in->server_kx_sk, d->kx_pk,
	                        mac, secret);
	if (err == FL_OK)
		err = fl_ocode_make(secret, oc.counter, in->action,
		                    oc.issue_day, out->code);
	fl_wipe(mac, sizeof(mac));
	fl_wipe(secret, sizeof(secret));
	if (err != FL_OK)
		goto out;
	if (in->action == FL_OCODE_RELEASE && !out->reused) {
		memset(&cmd, 0, sizeof(cmd));
		cmd.kind = FL_CMD_RELEASE;
		cmd.issued_at = fl_decide_now(d, now);
		snprintf(cmd.reason, sizeof(cmd.reason),
		         "released by offline code %llu",
		         (unsigned long long)oc.counter);
		snprintf(cmd.actor, sizeof(cmd.actor), "%s", in->actor);
		err = fl_store_command_insert(tx, d->tenant_id, d->id, &cmd);
		if (err == FL_OK)
			err = fl_decide_device(tx, d->tenant_id, d->id, now,
			                       false, NULL, &out->what);
		if (err != FL_OK)
			goto out;
		out->decided = true;
	}
	fl_time_to_civil(oc.issue_day * FL_DAY, &y, &mo, &dd, &h, &mi, &s);
	snprintf(day_s, sizeof(day_s), "%04d-%02d-%02d", y, mo, dd);
	/* the code itself is a bearer secret: never in the audit log */
	err = fl_audit_append(
	        tx, d->tenant_id, in->actor[0] != '\0' ? in->actor : "system",
	        now, "device.offline_code", d->id, NULL,
	        json_pack("{s:s,s:I,s:s,s:b}", "action",
	                  fl_ocode_action_name(in->action), "counter",
	                  (json_int_t)oc.counter, "issued_on", day_s,
	                  "shown_again", out->reused));
out:
	if (err != FL_OK)
		fl_wipe(out->code, sizeof(out->code));
	free(d);
	return err;
}
