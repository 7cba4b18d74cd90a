/*
 * tokensign.h - signing a device's token and, for a released device, its
 * release receipt.
 *
 * The token's claims come from the store (claims.h) at `now`, its window
 * is now .. now + token_ttl, and it is signed with the server's online
 * key (signkeys.h); a released device (not stolen) also gets its release
 * receipt (FL_MSG_RELEASE_RECEIPT, docs/protocol.md). The token cache
 * (tokens.h) calls this when a device's seq has moved.
 *
 * A token is made in two steps: a draft (its claims, and what its release
 * receipt needs), then its signature. fl_token_sign reads the draft from
 * the store; fl_token_draft_of makes it from a device and inputs in hand
 * (the sweep's, as it stored their decision), so the signature can be
 * made later on another thread with no read (tokens.h, drafts).
 *
 * THREAD SAFETY: any thread; each call reads in a transaction of its own.
 */
#ifndef FL_SERVER_TOKENSIGN_H
#define FL_SERVER_TOKENSIGN_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "core/fltime.h"
#include "core/state.h"
#include "core/token.h"
#include "store/store.h"

struct fl_app;

/* A device's signed messages for one seq. */
struct fl_token_signed {
	char device_id[FL_ID_MAX];
	uint64_t seq;            /* the token's seq */
	fl_time iat;             /* its claims' iat */
	enum fl_dev_state state; /* the decision it carries */
	bool stolen;
	char *token;   /* the v4.public text; owned */
	char *cert;    /* root certificate of the key that signed; owned */
	char *receipt; /* release receipt, NULL unless released; owned */
};

/* Reads device id from app's store and signs its token (and receipt) at
 * now into *out (freed with fl_token_signed_clear; zeroed on error).
 * FL_E_STATE when no signing key is usable; FL_E_NOT_FOUND for no
 * device. */
fl_err fl_token_sign(struct fl_app *app, const char *id, fl_time now,
                     struct fl_token_signed *out) FL_MUST_USE;
/* Frees what s owns and zeroes it. */
void fl_token_signed_clear(struct fl_token_signed *s);

/* A device's token before its signature. */
struct fl_token_draft {
	char device_id[FL_ID_MAX];
	uint64_t seq;            /* the device's token seq */
	enum fl_dev_state state; /* the decision it carries */
	bool stolen;
	fl_time decided_at;       /* the decision's instant (the receipt's) */
	struct fl_device_claims c; /* the claims to sign; owned */
};

/* The draft of device d's token (d as stored, in its inputs read with it:
 * claims.h fl_claims_of), window iat .. exp. Zeroed on error. */
fl_err fl_token_draft_of(const struct fl_device *d,
                         const struct fl_device_inputs *in, fl_time iat,
                         fl_time exp, struct fl_token_draft *out) FL_MUST_USE;
/* Signs dr's token (and receipt) with app's keys at now into *out (as
 * fl_token_sign; its iat is the claims'). */
fl_err fl_token_sign_draft(struct fl_app *app, const struct fl_token_draft *dr,
                           fl_time now,
                           struct fl_token_signed *out) FL_MUST_USE;
/* Frees what dr owns and zeroes it. */
void fl_token_draft_clear(struct fl_token_draft *dr);

#endif
