/*
 * gates.h - the rules fl_decide_loaded (decide.h) applies after the
 * policy, each of which may move a decision: a tenant's standing hold on
 * automatic locks (holds.h) and a release by payment that waits for the
 * lender (sources.h).
 *
 * They read the store and change the decision only; they sit below
 * decide.c, so the modules that decide devices again (holds.c, sources.c)
 * can call decide.c without decide.c calling back into them.
 *
 * THREAD SAFETY: per transaction.
 */
#ifndef FL_SERVER_GATES_H
#define FL_SERVER_GATES_H

#include "core/err.h"
#include "core/fltime.h"
#include "core/policy.h"
#include "store/store.h"

/* In fl_decide_loaded, after the policy: an overdue lock_at before the
 * end of a standing hold of the device's tenant moves to that end (and
 * a device locked by it is not locked). */
fl_err fl_hold_gate(struct fl_tx *tx, const struct fl_device *dev,
                    struct fl_decision *dec, fl_time at) FL_MUST_USE;

/* What fl_hold_gate_memo read of one tenant's holds at one instant, kept
 * for the next device of a batch (the sweep decides many devices of few
 * tenants in one transaction). Zero it before the first device. */
struct fl_hold_memo {
	bool valid;
	char tenant_id[FL_ID_MAX];
	fl_time at;
	bool found;           /* a hold stands */
	struct fl_hold_rec h; /* that hold, when found */
};

/* fl_hold_gate, reading the tenant's standing hold only when memo (may
 * be NULL) holds no read of the same tenant at the same instant. */
fl_err fl_hold_gate_memo(struct fl_tx *tx, struct fl_hold_memo *memo,
                         const struct fl_device *dev,
                         struct fl_decision *dec, fl_time at) FL_MUST_USE;

/* The standing hold of tenant_id at `at` that reaches furthest, in *out;
 * FL_E_NOT_FOUND if none stands. */
fl_err fl_hold_standing(struct fl_tx *tx, const char *tenant_id, fl_time at,
                        struct fl_hold_rec *out) FL_MUST_USE;

/* In fl_decide_loaded, after the policy: a decision releasing by payment
 * a device not released before, while a release is pending, becomes
 * "paid, not released": active, no lock coming, no reminders. */
fl_err fl_src_release_gate(struct fl_tx *tx, const struct fl_device *before,
                           struct fl_decision *dec) FL_MUST_USE;

#endif
