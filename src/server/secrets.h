/*
 * secrets.h - finlockd's symmetric secrets and key-exchange key.
 *
 * DATA/server.secret holds 32 random bytes (mode 0600) from which the keys
 * that hash stored secrets are derived (crypto_kdf, one context per use):
 * API keys and enrollment codes are stored only as keyed BLAKE2b hashes
 * under these, so a copy of the database alone is useless for logging in.
 * DATA/kx.secret holds the server's X25519 key-exchange key pair, from
 * which the device protocol derives per-device secrets (docs/server.md
 * "Keys and trust").
 *
 * The seal key, which seals each device's MAC key in its row (store.h
 * FL_MAC_SEAL_LEN), is a keyed BLAKE2b-256 under a key derived from
 * server.secret of the key-exchange secret key: opening a sealed key takes
 * both files, and a derived MAC key already takes kx.secret, so the sealed
 * copies give nobody a key they could not derive. Replacing either file
 * makes every sealed key unopenable (the key is derived again instead).
 * The token memo key (from server.secret) authenticates what a device's
 * row keeps of its last signed token (tokensign.h "token memo").
 *
 * The fingerprint is a keyed BLAKE2b-256 (under a key derived from
 * server.secret) of the key-exchange public key: it names this pair of
 * files without revealing either, and the database records the one it was
 * made with (fl_store_keys_fingerprint).
 *
 * THREAD SAFETY: loaded once at start-up, read-only afterwards.
 */
#ifndef FL_SERVER_SECRETS_H
#define FL_SERVER_SECRETS_H

#include <stddef.h>
#include <stdint.h>

#include "core/crypto.h"
#include "core/err.h"
#include "store/store.h"

struct fl_secrets {
	uint8_t apikey_hash_key[FL_MAC_KEY_LEN]; /* hashes API keys */
	uint8_t enroll_hash_key[FL_MAC_KEY_LEN]; /* hashes enrollment codes */
	uint8_t webhook_key[FL_MAC_KEY_LEN];     /* derives webhook secrets */
	uint8_t kx_pk[FL_KX_PK_LEN];             /* server key exchange */
	uint8_t kx_sk[FL_KX_SK_LEN];
	uint8_t mac_seal_key[FL_AEAD_KEY_LEN]; /* seals device MAC keys */
	uint8_t token_memo_key[FL_MAC_KEY_LEN]; /* tags kept signatures */
	uint8_t fingerprint[FL_KEYS_FINGERPRINT_LEN]; /* names these keys */
};

/* Loads the secrets from data_dir, creating them (0600) on first start. */
fl_err fl_secrets_load(struct fl_secrets *s, const char *data_dir) FL_MUST_USE;

/* Loads the secrets from data_dir, creating nothing. *file (may be NULL)
 * receives the name of the file at fault ("server.secret", "kx.secret")
 * on failure: FL_E_NOT_FOUND missing, FL_E_CORRUPT wrong length or a
 * key pair that does not belong together, FL_E_PERM readable by others. */
fl_err fl_secrets_read(struct fl_secrets *s, const char *data_dir,
                       const char **file) FL_MUST_USE;
void fl_secrets_wipe(struct fl_secrets *s);

#endif
