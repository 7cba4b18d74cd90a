/*
 * crypto.h - the one place finlock touches libsodium.
 *
 * Everything cryptographic in finlock goes through these wrappers: random
 * bytes, keyed BLAKE2b MACs and hashes, Ed25519, X25519 key exchange
 * (crypto_kx), key derivation (crypto_kdf), constant-time comparison, wiping,
 * and base64url without padding (the PASETO alphabet). Keeping them here
 * means one audit covers every use.
 *
 * THREAD SAFETY: fl_crypto_init() must be called once before any other
 * function (it is idempotent and safe to call from several threads); after
 * that every function is safe from any thread.
 */
#ifndef FL_CRYPTO_H
#define FL_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define FL_SIGN_PK_LEN    32 /* Ed25519 public key */
#define FL_SIGN_SK_LEN    64 /* Ed25519 secret key (seed || public key) */
#define FL_SIGN_SEED_LEN  32 /* Ed25519 seed */
#define FL_SIG_LEN        64 /* Ed25519 signature */
#define FL_KX_PK_LEN      32 /* X25519 public key */
#define FL_KX_SK_LEN      32 /* X25519 secret key */
#define FL_KX_SESSION_LEN 32 /* one crypto_kx session key */
#define FL_MAC_LEN        32 /* keyed BLAKE2b output used for MACs */
#define FL_MAC_KEY_LEN    32 /* keyed BLAKE2b key */
#define FL_KDF_KEY_LEN    32 /* crypto_kdf master key */

/* Initialises libsodium. FL_E_INTERNAL if the library cannot start. */
fl_err fl_crypto_init(void) FL_MUST_USE;

void fl_random(void *buf, size_t len);
/* Uniform random number in [0, upper). */
uint32_t fl_random_uniform(uint32_t upper);

/* Wipes len bytes at p; the compiler may not elide it. */
void fl_wipe(void *p, size_t len);
/* Constant-time comparison of two equal-length buffers: 0 when equal. */
int fl_ct_memcmp(const void *a, const void *b, size_t len);

/* Keyed BLAKE2b of msg into out[outlen] (16..64). key may be NULL (keylen 0)
 * for a plain hash; keylen 16..64 otherwise. */
fl_err fl_blake2b(uint8_t *out, size_t outlen, const uint8_t *key,
                  size_t keylen, const void *msg, size_t msglen) FL_MUST_USE;

/* Incremental keyed BLAKE2b; the state is plain bytes so callers may keep it
 * on the stack. */
typedef struct {
	_Alignas(64) uint8_t opaque[384]; /* crypto_generichash_state */
} fl_blake2b_state;
fl_err fl_blake2b_init(fl_blake2b_state *st, const uint8_t *key, size_t keylen,
                       size_t outlen) FL_MUST_USE;
void fl_blake2b_update(fl_blake2b_state *st, const void *msg, size_t len);
void fl_blake2b_final(fl_blake2b_state *st, uint8_t *out, size_t outlen);

/* Ed25519. */
void fl_sign_keypair(uint8_t pk[FL_SIGN_PK_LEN], uint8_t sk[FL_SIGN_SK_LEN]);
void fl_sign_seed_keypair(uint8_t pk[FL_SIGN_PK_LEN],
                          uint8_t sk[FL_SIGN_SK_LEN],
                          const uint8_t seed[FL_SIGN_SEED_LEN]);
void fl_sign_detached(uint8_t sig[FL_SIG_LEN], const void *msg, size_t len,
                      const uint8_t sk[FL_SIGN_SK_LEN]);
/* FL_OK if sig is a valid signature of msg under pk, else FL_E_BAD_SIGNATURE.
 */
fl_err fl_sign_verify(const uint8_t sig[FL_SIG_LEN], const void *msg,
                      size_t len, const uint8_t pk[FL_SIGN_PK_LEN]) FL_MUST_USE;
/* The public half of an Ed25519 secret key. */
void fl_sign_sk_to_pk(uint8_t pk[FL_SIGN_PK_LEN],
                      const uint8_t sk[FL_SIGN_SK_LEN]);

/* X25519 key exchange (crypto_kx). */
void fl_kx_keypair(uint8_t pk[FL_KX_PK_LEN], uint8_t sk[FL_KX_SK_LEN]);
/* True when pk is the public key of sk (a key pair read back from disk). */
bool fl_kx_pair_matches(const uint8_t pk[FL_KX_PK_LEN],
                        const uint8_t sk[FL_KX_SK_LEN]);
/* The shared key both sides derive. The server calls it with
 * is_server = 1, the device with 0; both get the same `shared` bytes (the
 * server's tx key equals the device's rx key; finlock uses that one). */
fl_err fl_kx_shared(uint8_t shared[FL_KX_SESSION_LEN], int is_server,
                    const uint8_t my_pk[FL_KX_PK_LEN],
                    const uint8_t my_sk[FL_KX_SK_LEN],
                    const uint8_t peer_pk[FL_KX_PK_LEN]) FL_MUST_USE;

/* crypto_kdf: subkey[len] (16..64) number id under the 8-character context. */
fl_err fl_kdf(uint8_t *subkey, size_t len, uint64_t id, const char ctx[8],
              const uint8_t key[FL_KDF_KEY_LEN]) FL_MUST_USE;

/* Authenticated encryption (XChaCha20-Poly1305, a random nonce per seal).
 * fl_aead_seal writes FL_AEAD_OVERHEAD + len bytes (nonce, ciphertext,
 * tag) to out; fl_aead_open reverses it into out[len - FL_AEAD_OVERHEAD],
 * FL_E_CORRUPT if anything was changed or the key or ad differ. */
#define FL_AEAD_KEY_LEN  32
#define FL_AEAD_OVERHEAD 40 /* 24-byte nonce, 16-byte tag */
void fl_aead_seal(uint8_t *out, const uint8_t *in, size_t len,
                  const uint8_t *ad, size_t ad_len,
                  const uint8_t key[FL_AEAD_KEY_LEN]);
fl_err fl_aead_open(uint8_t *out, const uint8_t *in, size_t len,
                    const uint8_t *ad, size_t ad_len,
                    const uint8_t key[FL_AEAD_KEY_LEN]) FL_MUST_USE;

/* base64url without padding (RFC 4648 section 5), as PASETO uses it.
 * fl_b64url_encoded_len(n) is the length without the terminating NUL. */
size_t fl_b64url_encoded_len(size_t binlen);
/* Writes a NUL-terminated string into out[outcap]; FL_E_TOO_LARGE if short. */
fl_err fl_b64url_encode(char *out, size_t outcap, const uint8_t *bin,
                        size_t binlen) FL_MUST_USE;
/* fl_b64url_encode by table lookups, for public data only (a signed
 * token's message and signature): the same output in a fraction of the
 * time, but its memory accesses depend on the bytes, so never for a
 * secret. */
fl_err fl_b64url_encode_public(char *out, size_t outcap, const uint8_t *bin,
                               size_t binlen) FL_MUST_USE;
/* Strict decode: padding, whitespace and non-canonical trailing bits are all
 * FL_E_BASE64. *binlen receives the decoded length. */
fl_err fl_b64url_decode(uint8_t *bin, size_t bincap, size_t *binlen,
                        const char *b64, size_t b64len) FL_MUST_USE;

/* HMAC-SHA256 of msg under key (any length) into out[32]: the
 * signature of Standard Webhooks' "v1" scheme. */
#define FL_HMAC_SHA256_LEN 32
void fl_hmac_sha256(uint8_t out[FL_HMAC_SHA256_LEN], const uint8_t *key,
                    size_t keylen, const void *msg, size_t len);

/* Standard base64 with padding (RFC 4648 section 4), as Standard
 * Webhooks writes secrets and signatures. fl_b64_encode writes a
 * NUL-terminated string into out[outcap] (FL_E_TOO_LARGE if short);
 * fl_b64_decode refuses anything but the canonical encoding
 * (FL_E_BASE64). */
fl_err fl_b64_encode(char *out, size_t outcap, const uint8_t *bin,
                     size_t binlen) FL_MUST_USE;
fl_err fl_b64_decode(uint8_t *bin, size_t bincap, size_t *binlen,
                     const char *b64, size_t b64len) FL_MUST_USE;

/* Lower-case hex of bin into out[2*binlen+1]. */
void fl_hex_encode(char *out, const uint8_t *bin, size_t binlen);
/* Strict hex decode of exactly 2*binlen characters. */
fl_err fl_hex_decode(uint8_t *bin, size_t binlen, const char *hex,
                     size_t hexlen) FL_MUST_USE;

#endif
