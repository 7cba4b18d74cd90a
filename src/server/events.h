/*
 * events.h - events for the lender's webhooks, written to an outbox in
 * the transaction of the change they report.
 *
 * A change that a lender hears of (a lock, a payment, a report from the
 * phone...) calls fl_event_emit() inside the write transaction that makes
 * the change. The event and one delivery per subscribed endpoint are rows
 * of that transaction (store.h "webhooks"), so:
 *
 *   - a change that commits has its event, even if finlockd is killed the
 *     instant after (the sender, webhooks.h, finds it after a restart);
 *   - a change that rolls back has none;
 *   - a transaction the runner (txn.h) runs again after FL_E_STORE_RETRY
 *     emits only from the attempt that commits: the attempts given up took
 *     their rows with them.
 *
 * The body sent is {"id","type","timestamp","tenant_id","data"}, data
 * being the event's own payload (docs/webhooks.md lists every type and
 * its data).
 *
 * THREAD SAFETY: per transaction, as store.h.
 */
#ifndef FL_SERVER_EVENTS_H
#define FL_SERVER_EVENTS_H

#include <jansson.h>
#include <stdbool.h>

#include "core/err.h"
#include "core/fltime.h"
#include "store/store.h"

/* The event types this server emits, NULL-terminated. */
extern const char *const fl_event_types[];

/* Whether type is one of fl_event_types. */
bool fl_event_known(const char *type);

/* Emits event `type` of tenant_id at now inside tx, with payload data
 * (a JSON object). data is consumed: its reference is stolen, on failure
 * too. FL_E_TOO_LARGE if the body passes FL_WH_BODY_MAX; store errors
 * pass through (the transaction is then to be rolled back). */
fl_err fl_event_emit(struct fl_tx *tx, const char *tenant_id,
                     const char *type, json_t *data,
                     fl_time now) FL_MUST_USE;

/* The data of a device event: id, IMEI and the decision it shows. New
 * reference (NULL on allocation failure). */
json_t *fl_event_device_data(const struct fl_device *d);

/* Emits device event `type` for d at now, with d's data plus the members
 * of extra (may be NULL; consumed). */
fl_err fl_event_device(struct fl_tx *tx, const struct fl_device *d,
                       const char *type, json_t *extra,
                       fl_time now) FL_MUST_USE;

#endif
