/*
 * tokens.h - the token cache: device tokens, signed once per seq and
 * served from memory.
 *
 * A device's token (FL_MSG_DEVICE_TOKEN) says what the phone must enforce
 * (claims.h says what it claims). It is signed (tokensign.h) when the
 * device's token seq has moved since the cached one; every later
 * check-in, wait and lookup with the same seq is served the cached token,
 * so a check-in costs no signature.
 *
 * The acceptance window is iat .. iat + token_ttl. exp never locks
 * anything; it only bounds when a phone may take the token. A cached token
 * is signed again once half its window has passed, so every token served
 * is good for at least half a window (a phone re-enrolled with seq 0
 * accepts it). A released device's entry also holds its release receipt
 * (FL_MSG_RELEASE_RECEIPT, docs/protocol.md).
 *
 * A token can also be handed in as a draft (fl_tokens_draft: its claims
 * made from a decision in hand, tokensign.h): the sweep does so for the
 * devices it moved on which a phone waits, and the woken wait signs the
 * draft on its own thread instead of reading the store.
 *
 * Entries are immutable and reference-counted: fl_tokens_get hands out a
 * reference the caller returns with fl_tokens_put. At most `cap` devices
 * are kept; beyond that the entry stored longest ago goes.
 *
 * Memory per device is the token, packed against the claims of another
 * token of the same signing key (tokpack.h says how; typically a quarter
 * of the text), in the entry's own allocation, and a few fields: the
 * signing key's certificate, and the part of a check-in answer that
 * carries it (fl_dp_keys_json), are kept once per certificate and shared
 * by every entry signed under it; the claims are not kept apart, since
 * the token carries them (fl_tokens_claims_json).
 *
 * THREAD SAFETY: every function may be called from any thread.
 */
#ifndef FL_SERVER_TOKENS_H
#define FL_SERVER_TOKENS_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/fltime.h"
#include "core/token.h"
#include "server/tokensign.h"
#include "store/store.h"

struct fl_app;
struct fl_tokens;

/* One device's signed messages for one seq. Read-only once handed out;
 * every pointer lives as long as the reference. */
struct fl_token_set {
	char device_id[FL_ID_MAX];
	uint64_t seq;          /* the token's seq */
	fl_time iat;           /* when it was signed */
	const char *cert;      /* root certificate of the key that signed */
	const char *keys_json; /* fl_dp_keys_json of {cert} */
	size_t keys_len;       /* strlen(keys_json) */
	char *receipt;         /* release receipt, NULL unless released */
	size_t receipt_len;    /* strlen(receipt) */
	enum fl_dev_state state;
	bool stolen;
};

fl_err fl_tokens_new(struct fl_tokens **out, int cap) FL_MUST_USE;
/* Frees the cache (references handed out stay valid until put back).
 * NULL is a no-op. */
void fl_tokens_free(struct fl_tokens *tk);

/* The current token of device id whose stored token seq is seq (or newer
 * if the store has moved on): cached, or built from the store and signed
 * with app's keys at now. *out is a reference: return it with
 * fl_tokens_put. FL_E_STATE when no signing key is usable. */
fl_err fl_tokens_get(struct fl_tokens *tk, struct fl_app *app, const char *id,
                     uint64_t seq, fl_time now,
                     const struct fl_token_set **out) FL_MUST_USE;
/* Hands in the draft of a device's token (tokensign.h; *dr is moved
 * into the cache and zeroed): the next fl_tokens_get of that device
 * that finds no current token signs the draft instead of reading the
 * store, when its seq is at least the one asked for and it is within
 * half its window. A draft is taken once; a newer draft of the device
 * replaces it; beyond min(cap, 16,384) drafts the oldest goes. */
fl_err fl_tokens_draft(struct fl_tokens *tk,
                       struct fl_token_draft *dr) FL_MUST_USE;
/* Drafts held now. */
size_t fl_tokens_drafts(struct fl_tokens *tk);

/* Returns a reference. NULL is a no-op. */
void fl_tokens_put(const struct fl_token_set *ts);

/* The v4.public text of ts's token (kept packed, made here): *text is the
 * caller's to free, *len its length. */
fl_err fl_tokens_text(const struct fl_token_set *ts, char **text,
                      size_t *len) FL_MUST_USE;

/* How many tokens the cache holds, the bytes it keeps for them and what
 * their texts would take. */
void fl_tokens_usage(struct fl_tokens *tk, size_t *entries, size_t *kept,
                     size_t *text);

/* The claims of ts's token: its payload, the compact JSON that was
 * signed. *out is the caller's to free. */
fl_err fl_tokens_claims_json(const struct fl_token_set *ts,
                             char **out) FL_MUST_USE;

#endif
