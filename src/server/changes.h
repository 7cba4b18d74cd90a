/*
 * changes.h - the history of each device's decided state (store.h
 * "changes of decided state"), kept for the portfolio's trends.
 *
 * A decision that changes a device's state calls fl_change_note() in its
 * own write transaction, so the history holds exactly the changes that
 * committed. A lock's cause is the policy's (overdue, offline, manual,
 * scheduled, stolen). A change out of locked is, in this order:
 *
 *   release  an admin released the device;
 *   unlock   a manual unlock (UNLOCK_UNTIL) is in force;
 *   payment  a payment recorded since the lock, not reversed, stands: the
 *            change keeps the newest such payment's record time (paid_at);
 *   other    anything else (a reschedule, a cancelled command, the phone's
 *            contact ending an offline lock, a stolen report cleared).
 *
 * The phone's confirmation (check-in "locked" with a token seq at least
 * the change's) is set by fl_store_state_change_confirm.
 *
 * THREAD SAFETY: per transaction, as store.h.
 */
#ifndef FL_SERVER_CHANGES_H
#define FL_SERVER_CHANGES_H

#include <stdbool.h>

#include "core/err.h"
#include "core/fltime.h"
#include "store/store.h"

/* Records the change of dev (its new status in dev->st) from `before`,
 * decided at `at`, when the state changed; nothing otherwise. */
fl_err fl_change_note(struct fl_tx *tx, const struct fl_device *dev,
                      const struct fl_device_status *before,
                      fl_time at) FL_MUST_USE;

/* fl_change_note's record without storing it (for many devices stored at
 * once, fl_store_state_change_add_many): *any is false when the state did
 * not change (*out untouched). */
fl_err fl_change_make(struct fl_tx *tx, const struct fl_device *dev,
                      const struct fl_device_status *before, fl_time at,
                      struct fl_state_change *out, bool *any) FL_MUST_USE;

#endif
