/*
 * claims.h - what a device's token says, built from the store.
 *
 * A device's token (FL_MSG_DEVICE_TOKEN, claims per core/token.h) says what
 * the phone must enforce: the stored decision (state, stolen, lock_at,
 * amount due), the reminders the policy has coming, and the contract's
 * lock-screen terms (restrictions, allowed apps, message, lender contact,
 * loan reference, SIM and tamper reactions). fl_claims_build reads the
 * device's inputs and replays its decision (decide.h) to say it; signing
 * is tokensign.h's, keeping tokens tokens.h's.
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

#endif
