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
 * Token memo: a device's row keeps, of its last token, the seq, iat, kid
 * and signature, and a keyed hash (under a key of server.secret) binding
 * them to the device and to the claims the signature is over (about 180
 * bytes, not the 2-4 KB token). A token asked for again, its cache
 * entry gone (a restart, a fleet larger than the cache), while the memo
 * is of the device's current seq, less than half a window old and signed
 * by the current key, has its claims built again as at the memo's iat:
 * when their keyed hash matches, the token is the signed one, put
 * together again without a signature; otherwise (anything the claims say
 * changed, a memo altered or from elsewhere) the token is signed afresh.
 * A database alone makes no memo that matches. The memo of a new
 * signature is handed back (memo) for the caller to write behind
 * (fl_store_dp_token_memo, bound to the seq). A released device's token
 * is always signed, with its receipt.
 *
 * A token is made in two steps: its claims, then its signature. Besides
 * fl_token_sign, which reads the claims from the store, a draft (the
 * claims and what the release receipt needs) can be made from a device
 * and inputs in hand (fl_token_draft_of: the sweep's, as it stored their
 * decision) and signed later on another thread with no read
 * (fl_token_sign_draft; tokens.h, drafts), its memo made as for any new
 * signature.
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
	enum fl_dev_state state; /* the decision it carries */
	bool stolen;
	char *token;   /* the v4.public text; owned */
	char *cert;    /* root certificate of the key that signed; owned */
	char *receipt; /* release receipt, NULL unless released; owned */
	fl_time iat;   /* when the token was signed */
	bool reused;   /* rebuilt from the row's token memo, not signed */
	size_t memo_len;                  /* 0: none to keep */
	uint8_t memo[FL_TOKEN_MEMO_MAX];  /* the memo of a new signature */
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
	uint64_t seq;              /* the device's token seq */
	enum fl_dev_state state;   /* the decision it carries */
	bool stolen;
	fl_time decided_at;        /* the decision's instant (the receipt's) */
	struct fl_device_claims c; /* the claims to sign; owned */
};

/* The draft of device d's token (d as stored, in its inputs read with it:
 * claims.h fl_claims_of), window iat .. exp. Zeroed on error. */
fl_err fl_token_draft_of(const struct fl_device *d,
                         const struct fl_device_inputs *in, fl_time iat,
                         fl_time exp, struct fl_token_draft *out) FL_MUST_USE;
/* Signs dr's token (and receipt) with app's keys at now into *out (as
 * fl_token_sign; its iat, and its memo's, are the claims'). */
fl_err fl_token_sign_draft(struct fl_app *app, const struct fl_token_draft *dr,
                           fl_time now,
                           struct fl_token_signed *out) FL_MUST_USE;
/* Frees what dr owns and zeroes it. */
void fl_token_draft_clear(struct fl_token_draft *dr);

#endif
