/*
 * tokpack.h - token compression: a token's payload packed against the
 * claims of another token of the same signing key.
 *
 * A v4.public token is "v4.public." + base64url(claims || signature) +
 * "." + base64url(footer). Tokens signed under one key look alike: the
 * same claim names, contract terms, lock message and lender contact; they
 * differ in the device id, IMEIs, dates and amounts. So a payload is kept
 * as a list of literal runs and copies out of a reference, the claims of
 * the first token made under the key, or out of its own earlier bytes (a
 * lock-screen reminder repeats a due date and amount; greedy, copies of
 * at least 4 bytes), and the footer part once per key. The token cache (tokens.h)
 * keeps its entries this way and makes the text again when an answer
 * needs it.
 *
 * THREAD SAFETY: a reference is written once (fl_tokpack_set, under the
 * owner's lock) before anything packed against it is published, and only
 * read afterwards; every other function is pure.
 */
#ifndef FL_SERVER_TOKPACK_H
#define FL_SERVER_TOKPACK_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* What payloads are packed against. All zero: no reference yet. */
struct fl_tokpack {
	uint8_t *ref;    /* claims of the first token signed, NULL before */
	size_t ref_len;  /* their length */
	uint32_t *index; /* 4-byte string hash -> position in ref + 1 */
	char *suffix;    /* "." + base64url footer of the key's tokens */
	size_t suffix_len;
};

/* Sets c's reference (claims[len]) and the footer part (suffix) of its
 * tokens, when it has none yet (FL_OK and no change otherwise). */
fl_err fl_tokpack_set(struct fl_tokpack *c, const uint8_t *claims, size_t len,
                      const char *suffix, size_t suffix_len) FL_MUST_USE;
/* Frees c's reference and zeroes c. */
void fl_tokpack_clear(struct fl_tokpack *c);

/* Packs t[n] against c's reference into out (room for 2n + 16 bytes):
 * literal run length, its bytes, then copy length and offset (below
 * ref_len: in the reference; from ref_len on: in the bytes made before,
 * at offset - ref_len), again and again until n bytes are made; ends on a
 * literal run (maybe empty).
 * Returns the packed length. */
size_t fl_tokpack_pack(const struct fl_tokpack *c, const uint8_t *t, size_t n,
                       uint8_t *out);
/* Unpacks data[len], packed against c, into out[payload]. FL_E_INTERNAL
 * when it does not make exactly payload bytes. */
fl_err fl_tokpack_unpack(const struct fl_tokpack *c, const uint8_t *data,
                         size_t len, size_t payload, uint8_t *out) FL_MUST_USE;

/* The payload (claims || signature) of token text[len] into *bin (caller
 * frees) and *n; *suffix points at the footer part ("." + footer, or ""). */
fl_err fl_tokpack_payload(const char *text, size_t len, uint8_t **bin,
                          size_t *n, const char **suffix) FL_MUST_USE;

/* base64url without padding of bin[n] into out (room for
 * fl_b64url_encoded_len(n) + 1 bytes), NUL-terminated: the encoding of
 * fl_b64url_encode by table lookups (two characters a lookup), for public
 * bytes (a token) that need no constant-time encoder. */
void fl_tokpack_b64url(char *out, const uint8_t *bin, size_t n);

#endif
