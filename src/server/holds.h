/*
 * holds.h - a broken payment feed never locks a paying customer.
 *
 * A hold is tenant-wide and ends at a time: while it stands, an
 * automatic overdue lock of the tenant (lock_cause overdue) whose lock_at
 * comes before the hold's end is moved to that end. Manual, scheduled
 * and stolen locks, and locks for being offline, are never held. Two
 * kinds:
 *
 *   freeze  an admin's tenant-wide freeze with a reason and an end
 *           (`finlock locks freeze --until T --reason R`);
 *   stale   a payment source silent longer than its max_silence: held
 *           until now + FL_HOLD_HORIZON, and pushed further while the feed
 *           stays quiet; released when a callback arrives (or by the
 *           lender).
 *
 * Phones lock by themselves at the lock_at their token carries, with no
 * network. So a hold is made real by new tokens: when a hold begins,
 * moves or ends, every device of the tenant whose lock is overdue-driven
 * is decided again (fl_hold_redecide), the new token seq wakes the phones
 * that wait online, and the others get the moved lock_at at their next
 * check-in. Because a stale hold reaches FL_HOLD_HORIZON ahead, a lock
 * due within that horizon after the feed went quiet is postponed before
 * it comes, so a phone that checks in during the outage is spared. What
 * an offline phone cannot be spared: a lock_at its last token carries and
 * that comes before it checks in again (docs/payments.md).
 *
 * fl_hold_gate is the one place the decision is changed: decide.c calls
 * it after the policy.
 *
 * THREAD SAFETY: per transaction (store.h); fl_holds_tick from the
 * server's main loop.
 */
#ifndef FL_SERVER_HOLDS_H
#define FL_SERVER_HOLDS_H

#include <jansson.h>

#include "core/err.h"
#include "core/fltime.h"
#include "core/policy.h"
#include "server/gates.h"
#include "store/store.h"

struct fl_app;

#define FL_HOLD_HORIZON (24 * 3600) /* a stale feed's hold reaches ahead */

/* Decides again every device of tenant_id whose lock is overdue-driven,
 * in write transactions of their own, and wakes the phones whose token
 * changed. *n (may be NULL) counts them. */
fl_err fl_hold_redecide(struct fl_app *app, const char *tenant_id, fl_time now,
                        int *n) FL_MUST_USE;

/* Stale feeds: marks sources silent past their max_silence stale, holds
 * their tenant's automatic locks (and pushes the hold on while the
 * silence lasts), and ends the holds of feeds that spoke again. */
void fl_holds_tick(struct fl_app *app, fl_time now);

json_t *fl_hold_json(const struct fl_hold_rec *h);

#endif
