/* gates.c - the rules applied after the policy (gates.h). */
#include "server/gates.h"

#include <string.h>

/* --- a tenant's hold on automatic locks ------------------------------------
 */

static fl_err furthest(void *ctx, const struct fl_hold_rec *h)
{
	struct fl_hold_rec *best = ctx;

	if (best->id[0] == '\0' || h->until > best->until)
		*best = *h;
	return FL_OK;
}

fl_err fl_hold_standing(struct fl_tx *tx, const char *tenant_id, fl_time at,
                        struct fl_hold_rec *out)
{
	fl_err err;

	memset(out, 0, sizeof(*out));
	err = fl_store_hold_list(tx, tenant_id, at, 64, furthest, out);
	if (err == FL_OK && out->id[0] == '\0')
		err = FL_E_NOT_FOUND;
	return err;
}

fl_err fl_hold_gate(struct fl_tx *tx, const struct fl_device *dev,
                    struct fl_decision *dec, fl_time at)
{
	return fl_hold_gate_memo(tx, NULL, dev, dec, at);
}

fl_err fl_hold_gate_memo(struct fl_tx *tx, struct fl_hold_memo *memo,
                         const struct fl_device *dev,
                         struct fl_decision *dec, fl_time at)
{
	struct fl_hold_rec h;
	fl_err err;

	if (dec->lock_cause != FL_LOCK_OVERDUE || dec->stolen ||
	    dec->lock_at == 0 || dec->state == FL_ST_RELEASED)
		return FL_OK;
	if (memo != NULL && memo->valid && memo->at == at &&
	    strcmp(memo->tenant_id, dev->tenant_id) == 0) {
		err = memo->found ? FL_OK : FL_E_NOT_FOUND;
		h = memo->h;
	} else {
		err = fl_hold_standing(tx, dev->tenant_id, at, &h);
		if (memo != NULL && (err == FL_OK || err == FL_E_NOT_FOUND)) {
			memo->valid = true;
			memcpy(memo->tenant_id, dev->tenant_id,
			       sizeof(memo->tenant_id));
			memo->at = at;
			memo->found = err == FL_OK;
			memo->h = h;
		}
	}
	if (err == FL_E_NOT_FOUND)
		return FL_OK;
	if (err != FL_OK || h.until <= dec->lock_at)
		return err;
	/* held: the lock comes when the hold ends, unless the hold is
	 * released or extended first (each re-decides the device) */
	dec->lock_at = h.until;
	if (dec->state == FL_ST_LOCKED)
		dec->state = FL_ST_REMINDING;
	if (dec->next_change == 0 || dec->next_change > h.until ||
	    dec->next_change <= at)
		dec->next_change = h.until;
	return FL_OK;
}

/* --- a release by payment waiting for the lender ---------------------------
 */

fl_err fl_src_release_gate(struct fl_tx *tx, const struct fl_device *before,
                           struct fl_decision *dec)
{
	struct fl_pending_release pr;
	fl_err err;

	if (dec->state != FL_ST_RELEASED || dec->released_by_command ||
	    dec->stolen_reported || before->st.state == FL_ST_RELEASED)
		return FL_OK;
	err = fl_store_pending_release_get(tx, before->id, &pr);
	if (err == FL_E_NOT_FOUND)
		return FL_OK;
	if (err != FL_OK)
		return err;
	/* paid in full, not released yet: unlocked, nothing to lock it */
	dec->state = FL_ST_ACTIVE;
	dec->lock_cause = FL_LOCK_NONE;
	dec->lock_command = 0;
	dec->lock_at = 0;
	dec->n_reminders = 0;
	return FL_OK;
}
