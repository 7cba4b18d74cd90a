/*
 * enroll.h - one-time enrollment codes.
 *
 * When a clerk registers a device, finlockd issues a one-time code the
 * phone presents when it enrolls (typed in or scanned as a QR code). A code
 * is 12 characters of Crockford base32 (60 random bits) shown as
 * XXXX-XXXX-XXXX; it expires (cfg.enroll_code_ttl) and only its keyed
 * BLAKE2b hash is stored. Matching ignores case, dashes and spaces and reads
 * O as 0 and I/L as 1, so a code read over the phone still works.
 *
 * THREAD SAFETY: every function is safe from any thread.
 */
#ifndef FL_SERVER_ENROLL_H
#define FL_SERVER_ENROLL_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "store/store.h"

#define FL_ENROLL_CODE_LEN 14 /* "XXXX-XXXX-XXXX" */

/* A fresh code (code[FL_ENROLL_CODE_LEN + 1]) and its hash under key. */
fl_err fl_enroll_code_new(const uint8_t key[32],
                          char code[FL_ENROLL_CODE_LEN + 1],
                          uint8_t hash[FL_HASH_LEN]) FL_MUST_USE;

/* The hash of a presented code. FL_E_INVALID if it is not 12 base32
 * characters once normalised. */
fl_err fl_enroll_code_hash(const uint8_t key[32], const char *code, size_t len,
                           uint8_t hash[FL_HASH_LEN]) FL_MUST_USE;

#endif
