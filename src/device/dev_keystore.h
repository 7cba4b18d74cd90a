/*
 * dev_keystore.h - the simulated phone's secure storage: named secrets in
 * one file readable only by its owner (mode 0600).
 *
 * A real phone keeps the agent's secrets (the check-in MAC key, the
 * offline-code secret, the enrollment keys) in a keystore or TEE that
 * survives a factory reset but not a reflash, and computes MACs inside it
 * so the MAC key never reaches the application. The simulator plays that
 * part with a file: one line per secret, "name base64url\n", rewritten
 * whole (temporary file, fsync, rename, fsync of the directory) on every
 * change. Every copy of a secret read into memory is wiped after use.
 *
 * Caps: DEV_KS_MAX secrets of 1..DEV_KS_SECRET_MAX bytes each; a name is a
 * blob name (dev_files.h). A malformed file is FL_E_CORRUPT.
 *
 * THREAD SAFETY: no shared state; the phone's lock serialises writers.
 */
#ifndef FL_DEV_KEYSTORE_H
#define FL_DEV_KEYSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define DEV_KS_MAX        32  /* secrets kept */
#define DEV_KS_SECRET_MAX 256 /* bytes of one secret */
#define DEV_KS_MODE       0600

/* The keystore is the file dir/file. */

/* Stores (or replaces) the secret name. */
fl_err dev_keystore_put(const char *dir, const char *file, const char *name,
                        const uint8_t *secret, size_t len) FL_MUST_USE;

/* Copies the secret into buf[cap] and its length into *len.
 * FL_E_NOT_FOUND if absent, FL_E_TOO_LARGE if cap is short. The caller
 * wipes buf. */
fl_err dev_keystore_get(const char *dir, const char *file, const char *name,
                        uint8_t *buf, size_t cap, size_t *len) FL_MUST_USE;

/* mac = BLAKE2b-256(key = the secret name, msg[len]). FL_E_NOT_FOUND if
 * absent; FL_E_INVALID if the secret is not 16..64 bytes (BLAKE2b's key
 * sizes). */
fl_err dev_keystore_mac(const char *dir, const char *file, const char *name,
                        const uint8_t *msg, size_t len,
                        uint8_t mac[32]) FL_MUST_USE;

/* Forgets the secret name; FL_OK if it was not there. */
fl_err dev_keystore_erase(const char *dir, const char *file,
                          const char *name) FL_MUST_USE;

#endif
