/* changes.c - the history of decided states (changes.h). */
#include "server/changes.h"

#include <stdio.h>
#include <string.h>

#include "core/policy.h"

#define PAGE 256 /* payments read per store call */

struct newest {
	fl_time since;    /* the lock's time */
	fl_time recorded; /* newest standing payment recorded since, or 0 */
	int64_t last;
	int got;
};

static fl_err newest_one(void *ctx, const struct fl_payment_rec *p)
{
	struct newest *n = ctx;

	n->last = p->ord;
	n->got++;
	if (p->reversed_at == 0 && p->recorded_at >= n->since &&
	    p->recorded_at > n->recorded)
		n->recorded = p->recorded_at;
	return FL_OK;
}

/* The record time of dev's newest standing payment recorded at or after
 * since, 0 if none. */
static fl_err paid_since(struct fl_tx *tx, const struct fl_device *dev,
                         fl_time since, fl_time *out)
{
	struct newest n = {.since = since};
	fl_err err;

	do {
		n.got = 0;
		err = fl_store_payment_list(tx, dev->tenant_id, dev->id, n.last,
		                            PAGE, newest_one, &n);
	} while (err == FL_OK && n.got == PAGE);
	*out = err == FL_OK ? n.recorded : 0;
	return err;
}

fl_err fl_change_note(struct fl_tx *tx, const struct fl_device *dev,
                      const struct fl_device_status *before, fl_time at)
{
	struct fl_state_change c;
	bool any = false;
	fl_err err = fl_change_make(tx, dev, before, at, &c, &any);

	if (err != FL_OK || !any)
		return err;
	return fl_store_state_change_add(tx, &c);
}

fl_err fl_change_make(struct fl_tx *tx, const struct fl_device *dev,
                      const struct fl_device_status *before, fl_time at,
                      struct fl_state_change *out, bool *any)
{
	const struct fl_device_status *st = &dev->st;
	struct fl_state_change c;
	fl_err err;

	*any = false;
	if (st->state == before->state)
		return FL_OK;
	memset(&c, 0, sizeof(c));
	snprintf(c.tenant_id, sizeof(c.tenant_id), "%s", dev->tenant_id);
	snprintf(c.device_id, sizeof(c.device_id), "%s", dev->id);
	c.at = at;
	c.from = before->state;
	c.to = st->state;
	c.token_seq = st->token_seq;
	if (c.to == FL_ST_LOCKED) {
		const char *name = fl_lock_cause_name(st->lock_cause);

		snprintf(c.cause, sizeof(c.cause), "%s",
		         name != NULL ? name : "other");
	} else if (c.from == FL_ST_LOCKED) {
		struct fl_state_change lock;
		fl_time since = 0;

		if (st->released_by_command)
			snprintf(c.cause, sizeof(c.cause), "release");
		else if (st->unlock_until > at)
			snprintf(c.cause, sizeof(c.cause), "unlock");
		else {
			err = fl_store_state_change_last(tx, dev->id, &lock);
			if (err == FL_OK)
				since = lock.at;
			else if (err != FL_E_NOT_FOUND)
				return err;
			if ((err = paid_since(tx, dev, since, &c.paid_at)) !=
			    FL_OK)
				return err;
			snprintf(c.cause, sizeof(c.cause), "%s",
			         c.paid_at != 0 ? "payment" : "other");
		}
	}
	*out = c;
	*any = true;
	return FL_OK;
}
