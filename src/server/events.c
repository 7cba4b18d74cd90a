/* events.c - events written to the webhook outbox (events.h). */
#include "server/events.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/policy.h"
#include "core/state.h"
#include "server/auth.h"
#include "server/jsonval.h"

const char *const fl_event_types[] = {
        "device.enrolled",
        "device.locked",
        "device.unlocked",
        "device.released",
        "device.stolen",
        "device.lock_confirmed",
        "device.unlock_confirmed",
        "device.sim_changed",
        "device.tamper",
        "payment.recorded",
        "payment.reversed",
        "payment.unmatched",
        "payment_source.stale",
        "locks.held",
        NULL,
};

bool fl_event_known(const char *type)
{
	for (size_t i = 0; fl_event_types[i] != NULL; i++)
		if (strcmp(type, fl_event_types[i]) == 0)
			return true;
	return false;
}

fl_err fl_event_emit(struct fl_tx *tx, const char *tenant_id,
                     const char *type, json_t *data, fl_time now)
{
	struct fl_wh_event ev;
	json_t *body = NULL;
	char *text = NULL;
	fl_err err;

	memset(&ev, 0, sizeof(ev));
	if (data == NULL || !json_is_object(data) || tenant_id == NULL ||
	    strlen(tenant_id) >= sizeof(ev.tenant_id) ||
	    strlen(type) >= sizeof(ev.type)) {
		json_decref(data);
		return data == NULL ? FL_E_NOMEM : FL_E_INVALID;
	}
	fl_id_generate(ev.id, "msg");
	snprintf(ev.tenant_id, sizeof(ev.tenant_id), "%s", tenant_id);
	snprintf(ev.type, sizeof(ev.type), "%s", type);
	ev.created_at = now;
	body = json_pack("{s:s,s:s,s:o,s:s,s:o}", "id", ev.id, "type", type,
	                 "timestamp", fl_json_time(now), "tenant_id",
	                 tenant_id, "data", data);
	if (body == NULL || (text = json_dumps(body, JSON_COMPACT)) == NULL) {
		err = FL_E_NOMEM;
		goto out;
	}
	if (strlen(text) >= FL_WH_BODY_MAX) {
		err = FL_E_TOO_LARGE;
		goto out;
	}
	ev.body = text;
	err = fl_store_wh_event_add(tx, &ev, NULL);
out:
	free(text);
	json_decref(body);
	return err;
}

json_t *fl_event_device_data(const struct fl_device *d)
{
	const struct fl_device_status *s = &d->st;
	const char *cause = fl_lock_cause_name(s->lock_cause);

	return json_pack(
	        "{s:s,s:s,s:s,s:b,s:s,s:o,s:I,s:I}", "device_id", d->id, "imei",
	        d->imei, "state",
	        fl_state_name(s->state) != NULL ? fl_state_name(s->state)
	                                        : "pending",
	        "stolen", s->stolen_reported, "lock_cause",
	        cause != NULL ? cause : "none", "lock_at",
	        fl_json_time(s->lock_at), "amount_due",
	        (json_int_t)s->amount_due, "token_seq",
	        (json_int_t)s->token_seq);
}

fl_err fl_event_device(struct fl_tx *tx, const struct fl_device *d,
                       const char *type, json_t *extra, fl_time now)
{
	json_t *data = fl_event_device_data(d);

	if (data != NULL && extra != NULL)
		json_object_update(data, extra);
	json_decref(extra);
	return fl_event_emit(tx, d->tenant_id, type, data, now);
}
