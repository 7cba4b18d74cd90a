/*
 * claims.h - what a device's token says, built from the store.
 *
 * A device's token (FL_MSG_DEVICE_TOKEN, claims per core/token.h) says what
 * the phone must enforce: the stored decision (state, stolen, lock_at,
 * amount due), the reminders the policy has coming, and the contract's
 * lock-screen terms (restrictions, allowed apps, message, lender contact,
 * loan reference, SIM and tamper reactions). fl_claims_build reads the
 * device's inputs and replays its decision (decide.h) to say it;
 * fl_claims_of does the same from inputs a caller has in hand (the sweep,
 * which read them under the device's lock for the decision it stored):
 * the same claims, with no read. Signing is tokensign.h's, keeping tokens
 * tokens.h's.
 *
 * THREAD SAFETY: per transaction.
 */
#ifndef FL_SERVER_CLAIMS_H
#define FL_SERVER_CLAIMS_H

#include "core/err.h"
#include "core/fltime.h"
#include "core/token.h"
#include "store/store.h"

/* Builds the claims of device d's token from the store (inside tx), with
 * iat and exp. *c is cleared first and owned by the caller
 * (fl_claims_clear). */
fl_err fl_claims_build(struct fl_tx *tx, const struct fl_device *d, fl_time iat,
                       fl_time exp, struct fl_device_claims *c) FL_MUST_USE;

/* The claims of device d (as stored) from its inputs in, read with d in
 * the transaction that stored d's status (in is ignored when d has no
 * contract): what fl_claims_build would read, without reading. */
fl_err fl_claims_of(const struct fl_device *d,
                    const struct fl_device_inputs *in, fl_time iat,
                    fl_time exp, struct fl_device_claims *c) FL_MUST_USE;

#endif
