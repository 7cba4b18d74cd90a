/*
 * decide.h - applying the lock decision to a stored device.
 *
 * Every change to a device's inputs (contract, reschedule, payment,
 * reversal, manual command, enrollment, contact) is followed, in the same
 * write transaction, by fl_decide_device(): it loads the inputs from the
 * store, calls the core policy engine (core/policy.h, the only place the
 * decision is made) and stores its output, unless the output equals the
 * stored decision, when nothing is written (the stored decided_at is then
 * when the decision last changed). The device's token seq goes up
 * by one whenever the outcome a token carries changes (state, stolen,
 * lock_at, the amount due it shows (fl_decide_token_due), reminders, the
 * contract's lock-screen terms) or when
 * a sync is forced, and never otherwise; the device protocol signs tokens
 * with it.
 *
 * An offline-driven lock_at (last contact + max offline) that contact has
 * moved later is stored lazily (fl_decide_contact_due), so phones in touch
 * are not sent a new token for every contact.
 *
 * Server time never runs backwards for a device: the decision instant is
 * the later of the clock and the device's last decision.
 *
 * fl_decide_sweep() re-decides devices whose next_change has come, which
 * is how time-driven transitions (reminders, due dates, lock_at, the end
 * of an unlock) happen with nobody calling.
 *
 * THREAD SAFETY: functions take a write transaction and follow store.h.
 */
#ifndef FL_SERVER_DECIDE_H
#define FL_SERVER_DECIDE_H

#include <stdbool.h>

#include "core/err.h"
#include "core/fltime.h"
#include "core/policy.h"
#include "store/store.h"

struct fl_app;

/* What a re-decision did. */
struct fl_decided {
	struct fl_device_status before; /* status before */
	bool bumped;                    /* token seq went up */
	bool locked;                    /* entered the locked state */
	bool unlocked;                  /* left the locked state */
	bool released;                  /* entered the released state */
};

/* The decision instant for dev: max(now, its last decision). */
fl_time fl_decide_now(const struct fl_device *dev, fl_time now);

/* The longest an online phone's offline-driven lock_at goes without
 * being moved by its contact. */
#define FL_DECIDE_CONTACT_REFRESH 3600

/* Whether contact should move a stored offline-driven lock_at at now
 * (state, lock_cause, lock_at and decided_at of the stored decision): at
 * once when the phone is locked for being offline, else once half the
 * time from the decision to lock_at has passed (at most
 * FL_DECIDE_CONTACT_REFRESH), so an online phone always holds a lock_at
 * well ahead, without a new token at every contact. fl_decide_device
 * follows the same rule: a re-decision whose only change is such a
 * lock_at moved later keeps the stored decision until then. */
bool fl_decide_contact_due(enum fl_dev_state state, enum fl_lock_cause cause,
                           fl_time lock_at, fl_time decided_at, fl_time now);

/* Re-decides device_id of tenant_id at now inside tx and stores the result
 * in the device when it differs from the stored one in any field but
 * decided_at, or when the seq moves. force_bump raises the token seq even
 * if nothing changed.
 * *dev (may be NULL) receives the device after; *what (may be NULL) what
 * changed. Policy input errors pass through (FL_E_SCHEDULE, ...). */
fl_err fl_decide_device(struct fl_tx *tx, const char *tenant_id,
                        const char *device_id, fl_time now, bool force_bump,
                        struct fl_device *dev,
                        struct fl_decided *what) FL_MUST_USE;

/* fl_decide_device for a device already read in tx, with its inputs
 * (fl_store_device_load, perhaps with a change of this transaction
 * applied in memory too, as the payment rule does): decides from *loaded
 * and *in (both borrowed) and stores the result. The caller holds the
 * device's lock (fl_store_lock_device) since before the read. */
fl_err fl_decide_loaded(struct fl_tx *tx, const struct fl_device *loaded,
                        const struct fl_device_inputs *in, fl_time now,
                        bool force_bump, struct fl_device *dev,
                        struct fl_decided *what) FL_MUST_USE;

/* The decision the policy makes for dev at `at` from inputs in (already
 * loaded), storing and reading nothing; *dec is zeroed when the device
 * has no contract. */
fl_err fl_decide_policy(const struct fl_device *dev,
                        const struct fl_device_inputs *in, fl_time at,
                        struct fl_decision *dec) FL_MUST_USE;

/* The decision the policy makes for dev at `at` from its stored inputs,
 * storing nothing: device tokens take their reminders from it. *in
 * receives the inputs (the contract's lock-screen terms included; the
 * caller clears it with fl_device_inputs_clear); *dec is zeroed when the
 * device has no contract. */
fl_err fl_decide_replay(struct fl_tx *tx, const struct fl_device *dev,
                        fl_time at, struct fl_device_inputs *in,
                        struct fl_decision *dec) FL_MUST_USE;

/* The amount due a device token shows for dev, decided as *dec at `at`
 * from *in (as fl_decide_replay returns them): the amount due at `at`,
 * except that while nothing is due yet and a lock is still to come
 * (at < lock_at), it is the amount that will be due at lock_at, from the
 * same inputs. A phone that locks on its own at lock_at, with no network,
 * shows that. The lender's view of the device keeps the amount due now.
 * Policy input errors pass through; *out is 0 on error. */
fl_err fl_decide_token_due(const struct fl_device_inputs *in,
                           const struct fl_device *dev, fl_time at,
                           const struct fl_decision *dec,
                           int64_t *out) FL_MUST_USE;

/* The lender's reason a device token shows on the lock screen: that of
 * the manual or scheduled lock behind dec's lock_at when the lender chose
 * to show it (fl_command_rec.show_reason), else NULL. Borrowed from in. */
const char *fl_decide_lock_text(const struct fl_device_inputs *in,
                                const struct fl_decision *dec);

/* After the commit of a decision: counts what changed in the metrics and,
 * when the token seq moved, wakes the requests waiting on the device
 * (push.h). */
void fl_decide_committed(struct fl_app *app, const char *device_id,
                         const struct fl_decided *what);

/* The job (store.h fl_store_job_claim) of the sweep. */
#define FL_DECIDE_JOB_SWEEP "sweep"

/* Re-decides up to `batch` devices whose next_change is due, in groups
 * of up to 256 (SQLite) or 1,024 (PostgreSQL) devices per write
 * transaction; each group's waiters are woken once it is committed. A
 * device whose inputs cannot be decided is logged and left as it was. *n
 * (may be NULL) counts the devices decided. Each group's transaction
 * claims the job FL_DECIDE_JOB_SWEEP first, then locks and loads its due
 * devices in one call (fl_store_device_due_load: a device another
 * transaction holds is left for later), decides them in memory and
 * stores the decisions in one call: while another process holds the job
 * (it is sweeping), this round stops with *n = 0. A group the store gives
 * up is run again (run.h). */
fl_err fl_decide_sweep(struct fl_app *app, fl_time now, int batch,
                       int *n) FL_MUST_USE;

/* Called by the sweep for each device whose token seq it moved, once the
 * device's group is committed and before its waiters are woken: dev as
 * stored and the inputs it was decided from, read under its lock in the
 * same transaction (borrowed for the call), and the sweep's now. The
 * server makes the token's draft from them here (tokens.h), so a woken
 * phone's token is signed without reading the store again. */
typedef void (*fl_decide_moved_fn)(void *arg, const struct fl_device *dev,
                                   const struct fl_device_inputs *in,
                                   fl_time now);

/* fl_decide_sweep, calling moved(arg, ...) (may be NULL) for each device
 * whose token seq moved. */
fl_err fl_decide_sweep_with(struct fl_app *app, fl_time now, int batch,
                            fl_decide_moved_fn moved, void *arg,
                            int *n) FL_MUST_USE;

/* The sweep's look-ahead: decides, storing nothing, the devices whose next
 * change is exactly `at` (a coming instant), at most limit of them and
 * only those want(arg, device id) accepts (want may be NULL), as the
 * sweep will decide them at `at` if nothing changes meanwhile, and calls
 * moved(arg, device after, its inputs, at) for each whose token seq would
 * move (ahead.h: their tokens' signatures are made then). One read
 * transaction; *n (may be NULL) counts the calls. */
fl_err fl_decide_ahead(struct fl_app *app, fl_time at, int limit,
                       bool (*want)(void *arg, const char *id),
                       fl_decide_moved_fn moved, void *arg,
                       int *n) FL_MUST_USE;

#endif
