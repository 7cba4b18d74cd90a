/*
 * ahead.h - device tokens' signatures made ahead of a due instant.
 *
 * Many contracts reach a reminder or a lock at the same instant (local
 * midnight, say), and each phone waiting on one of them needs a newly
 * signed token at once. Seconds before such an instant the sweep decides
 * those devices as they will be at it (decide.h, fl_decide_ahead) and
 * signs the claims their tokens will carry (server.c); the signatures are
 * kept here. When a token is signed at the instant (tokensign.c), a
 * signature kept for exactly the same claims text, by the key that signs
 * now, is taken instead of signing again: Ed25519 signatures are
 * deterministic, so the token is the one a signature made now would give.
 * Claims that differ in any byte (a payment meanwhile, another instant)
 * find nothing and are signed as before. Kept signatures are forgotten
 * when taken, when their instant is a minute past, and beyond the cap.
 *
 * THREAD SAFETY: every function may be called from any thread.
 */
#ifndef FL_SERVER_AHEAD_H
#define FL_SERVER_AHEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/crypto.h"
#include "core/err.h"
#include "core/fltime.h"
#include "core/token.h"

struct fl_ahead;

/* A table holding at most cap signatures. */
fl_err fl_ahead_new(struct fl_ahead **out, size_t cap) FL_MUST_USE;
/* NULL is a no-op. */
void fl_ahead_free(struct fl_ahead *a);

/* Keeps sig, made by key kid over the device token claims[len] of device
 * id for the instant at (replacing one kept for the device). Refused
 * (false) when full. */
bool fl_ahead_put(struct fl_ahead *a, const char *id, fl_time at,
                  const char *kid, const char *claims, size_t len,
                  const uint8_t sig[FL_SIG_LEN]);
/* Whether a signature is kept for device id's token at instant at. */
bool fl_ahead_has(struct fl_ahead *a, const char *id, fl_time at);
/* When a signature by kid over exactly claims[len] is kept for device
 * id: copies it into sig, forgets it and returns true. a may be NULL. */
bool fl_ahead_take(struct fl_ahead *a, const char *id, const char *kid,
                   const char *claims, size_t len, uint8_t sig[FL_SIG_LEN]);
/* Forgets the signatures of instants before `before`. */
void fl_ahead_expire(struct fl_ahead *a, fl_time before);
/* Signatures kept now; taken since the start. */
size_t fl_ahead_count(struct fl_ahead *a);
uint64_t fl_ahead_taken(struct fl_ahead *a);

#endif
