/*
 * paserk.h - PASERK serialisation of finlock's Ed25519 keys.
 *
 * PASERK gives PASETO keys a printable, typed form:
 *
 *   k4.public.<b64url of the 32-byte Ed25519 public key>
 *   k4.secret.<b64url of the 64-byte Ed25519 secret key (seed || public)>
 *   k4.pid.<b64url of the first 33 bytes of BLAKE2b-264("k4.pid." || P)>
 *
 * where P is the key's whole k4.public string. A k4.pid is the key id that
 * finlock puts in every token footer ({"kid": ...}): it names a public key
 * without revealing anything about its secret.
 *
 * Parsing is strict: a string of another version or type is FL_E_KEY_TYPE;
 * a wrong length, non-canonical base64url, or a k4.secret whose public half
 * is not the one its seed gives is FL_E_KEY_FORMAT.
 *
 * THREAD SAFETY: pure; safe from any thread once fl_crypto_init() has run.
 */
#ifndef FL_PASERK_H
#define FL_PASERK_H

#include <stddef.h>
#include <stdint.h>

#include "core/crypto.h"
#include "core/err.h"

#define FL_PASERK_PUBLIC_PREFIX "k4.public."
#define FL_PASERK_SECRET_PREFIX "k4.secret."
#define FL_PASERK_PID_PREFIX    "k4.pid."
#define FL_PASERK_PID_HASH_LEN  33 /* bytes of BLAKE2b-264 */

/* Buffer sizes, terminating NUL included. */
#define FL_PASERK_PUBLIC_SIZE (10 + 43 + 1)
#define FL_PASERK_SECRET_SIZE (10 + 86 + 1)
#define FL_PASERK_PID_SIZE    (7 + 44 + 1)

/* "k4.public." form of pk into out. */
fl_err fl_paserk_public_encode(char out[FL_PASERK_PUBLIC_SIZE],
                               const uint8_t pk[FL_SIGN_PK_LEN]) FL_MUST_USE;
/* Parses a k4.public string s[len] into pk; on error pk is zeroed. */
fl_err fl_paserk_public_decode(uint8_t pk[FL_SIGN_PK_LEN], const char *s,
                               size_t len) FL_MUST_USE;

/* "k4.secret." form of sk into out. out holds a secret: wipe it with
 * fl_wipe when done. */
fl_err fl_paserk_secret_encode(char out[FL_PASERK_SECRET_SIZE],
                               const uint8_t sk[FL_SIGN_SK_LEN]) FL_MUST_USE;
/* Parses a k4.secret string s[len] into sk, checking that its public half
 * is the one its seed derives. On error sk is wiped. */
fl_err fl_paserk_secret_decode(uint8_t sk[FL_SIGN_SK_LEN], const char *s,
                               size_t len) FL_MUST_USE;

/* The k4.pid of pk into out. */
fl_err fl_paserk_pid(char out[FL_PASERK_PID_SIZE],
                     const uint8_t pk[FL_SIGN_PK_LEN]) FL_MUST_USE;
/* FL_OK if s[len] has the form of a k4.pid (prefix, 44 base64url characters
 * that decode to 33 bytes); FL_E_KEY_TYPE or FL_E_KEY_FORMAT otherwise. */
fl_err fl_paserk_pid_check(const char *s, size_t len) FL_MUST_USE;

#endif
