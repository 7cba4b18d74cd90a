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
 * THREAD SAFETY: any thread; each call reads in a transaction of its own.
 */
#ifndef FL_SERVER_TOKENSIGN_H
#define FL_SERVER_TOKENSIGN_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "core/fltime.h"
#include "core/state.h"
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
};

/* Reads device id from app's store and signs its token (and receipt) at
 * now into *out (freed with fl_token_signed_clear; zeroed on error).
 * FL_E_STATE when no signing key is usable; FL_E_NOT_FOUND for no
 * device. */
fl_err fl_token_sign(struct fl_app *app, const char *id, fl_time now,
                     struct fl_token_signed *out) FL_MUST_USE;
/* Frees what s owns and zeroes it. */
void fl_token_signed_clear(struct fl_token_signed *s);

#endif
