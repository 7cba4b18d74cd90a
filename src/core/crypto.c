#include "core/crypto.h"

#include <sodium.h>
#include <string.h>

_Static_assert(sizeof(fl_blake2b_state) >= sizeof(crypto_generichash_state),
               "fl_blake2b_state too small");

fl_err fl_crypto_init(void)
{
	return sodium_init() < 0 ? FL_E_INTERNAL : FL_OK;
}

void fl_random(void *buf, size_t len)
{
	randombytes_buf(buf, len);
}

uint32_t fl_random_uniform(uint32_t upper)
{
	return randombytes_uniform(upper);
}

void fl_wipe(void *p, size_t len)
{
	sodium_memzero(p, len);
}

int fl_ct_memcmp(const void *a, const void *b, size_t len)
{
	return sodium_memcmp(a, b, len);
}

fl_err fl_blake2b(uint8_t *out, size_t outlen, const uint8_t *key,
                  size_t keylen, const void *msg, size_t msglen)
{
	if (outlen < crypto_generichash_BYTES_MIN ||
	    outlen > crypto_generichash_BYTES_MAX)
		return FL_E_RANGE;
	if (keylen != 0 && (keylen < crypto_generichash_KEYBYTES_MIN ||
	                    keylen > crypto_generichash_KEYBYTES_MAX))
		return FL_E_RANGE;
	if (crypto_generichash(out, outlen, msg, msglen, key, keylen) != 0)
		return FL_E_INTERNAL;
	return FL_OK;
}

fl_err fl_blake2b_init(fl_blake2b_state *st, const uint8_t *key, size_t keylen,
                       size_t outlen)
{
	if (outlen < crypto_generichash_BYTES_MIN ||
	    outlen > crypto_generichash_BYTES_MAX)
		return FL_E_RANGE;
	if (keylen != 0 && (keylen < crypto_generichash_KEYBYTES_MIN ||
	                    keylen > crypto_generichash_KEYBYTES_MAX))
		return FL_E_RANGE;
	if (crypto_generichash_init((crypto_generichash_state *)st->opaque, key,
	                            keylen, outlen) != 0)
		return FL_E_INTERNAL;
	return FL_OK;
}

void fl_blake2b_update(fl_blake2b_state *st, const void *msg, size_t len)
{
	crypto_generichash_update((crypto_generichash_state *)st->opaque, msg,
	                          len);
}

void fl_blake2b_final(fl_blake2b_state *st, uint8_t *out, size_t outlen)
{
	crypto_generichash_final((crypto_generichash_state *)st->opaque, out,
	                         outlen);
	sodium_memzero(st, sizeof(*st));
}

void fl_sign_keypair(uint8_t pk[FL_SIGN_PK_LEN], uint8_t sk[FL_SIGN_SK_LEN])
{
	crypto_sign_ed25519_keypair(pk, sk);
}

void fl_sign_seed_keypair(uint8_t pk[FL_SIGN_PK_LEN],
                          uint8_t sk[FL_SIGN_SK_LEN],
                          const uint8_t seed[FL_SIGN_SEED_LEN])
{
	crypto_sign_ed25519_seed_keypair(pk, sk, seed);
}

void fl_sign_detached(uint8_t sig[FL_SIG_LEN], const void *msg, size_t len,
                      const uint8_t sk[FL_SIGN_SK_LEN])
{
	crypto_sign_ed25519_detached(sig, NULL, msg, len, sk);
}

fl_err fl_sign_verify(const uint8_t sig[FL_SIG_LEN], const void *msg,
                      size_t len, const uint8_t pk[FL_SIGN_PK_LEN])
{
	if (crypto_sign_ed25519_verify_detached(sig, msg, len, pk) != 0)
		return FL_E_BAD_SIGNATURE;
	return FL_OK;
}

void fl_sign_sk_to_pk(uint8_t pk[FL_SIGN_PK_LEN],
                      const uint8_t sk[FL_SIGN_SK_LEN])
{
	crypto_sign_ed25519_sk_to_pk(pk, sk);
}

void fl_kx_keypair(uint8_t pk[FL_KX_PK_LEN], uint8_t sk[FL_KX_SK_LEN])
{
	crypto_kx_keypair(pk, sk);
}

bool fl_kx_pair_matches(const uint8_t pk[FL_KX_PK_LEN],
                        const uint8_t sk[FL_KX_SK_LEN])
{
	uint8_t derived[FL_KX_PK_LEN];
	bool ok = crypto_scalarmult_base(derived, sk) == 0 &&
	          sodium_memcmp(derived, pk, FL_KX_PK_LEN) == 0;

	sodium_memzero(derived, sizeof(derived));
	return ok;
}

fl_err fl_kx_shared(uint8_t shared[FL_KX_SESSION_LEN], int is_server,
                    const uint8_t my_pk[FL_KX_PK_LEN],
                    const uint8_t my_sk[FL_KX_SK_LEN],
                    const uint8_t peer_pk[FL_KX_PK_LEN])
{
	uint8_t rx[crypto_kx_SESSIONKEYBYTES], tx[crypto_kx_SESSIONKEYBYTES];
	int rc;

	if (is_server)
		rc = crypto_kx_server_session_keys(rx, tx, my_pk, my_sk,
		                                   peer_pk);
	else
		rc = crypto_kx_client_session_keys(rx, tx, my_pk, my_sk,
		                                   peer_pk);
	if (rc != 0) {
		sodium_memzero(rx, sizeof(rx));
		sodium_memzero(tx, sizeof(tx));
		sodium_memzero(shared, FL_KX_SESSION_LEN);
		return FL_E_AUTH;
	}
	/* server tx == client rx: one key both ends agree on. */
	memcpy(shared, is_server ? tx : rx, FL_KX_SESSION_LEN);
	sodium_memzero(rx, sizeof(rx));
	sodium_memzero(tx, sizeof(tx));
	return FL_OK;
}

fl_err fl_kdf(uint8_t *subkey, size_t len, uint64_t id, const char ctx[8],
              const uint8_t key[FL_KDF_KEY_LEN])
{
	if (len < crypto_kdf_BYTES_MIN || len > crypto_kdf_BYTES_MAX)
		return FL_E_RANGE;
	if (crypto_kdf_derive_from_key(subkey, len, id, ctx, key) != 0)
		return FL_E_INTERNAL;
	return FL_OK;
}

_Static_assert(FL_AEAD_OVERHEAD ==
                       crypto_aead_xchacha20poly1305_ietf_NPUBBYTES +
                               crypto_aead_xchacha20poly1305_ietf_ABYTES,
               "AEAD overhead");

void fl_aead_seal(uint8_t *out, const uint8_t *in, size_t len,
                  const uint8_t *ad, size_t ad_len,
                  const uint8_t key[FL_AEAD_KEY_LEN])
{
	uint8_t *nonce = out;

	randombytes_buf(nonce, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(
	        out + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, NULL, in,
	        len, ad, ad_len, NULL, nonce, key);
}

fl_err fl_aead_open(uint8_t *out, const uint8_t *in, size_t len,
                    const uint8_t *ad, size_t ad_len,
                    const uint8_t key[FL_AEAD_KEY_LEN])
{
	const size_t nb = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;

	if (len < FL_AEAD_OVERHEAD)
		return FL_E_CORRUPT;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, NULL, NULL, in + nb,
	                                               len - nb, ad, ad_len, in,
	                                               key) != 0) {
		fl_wipe(out, len - FL_AEAD_OVERHEAD);
		return FL_E_CORRUPT;
	}
	return FL_OK;
}

size_t fl_b64url_encoded_len(size_t binlen)
{
	return (binlen / 3) * 4 + (binlen % 3 ? binlen % 3 + 1 : 0);
}

fl_err fl_b64url_encode(char *out, size_t outcap, const uint8_t *bin,
                        size_t binlen)
{
	if (outcap < fl_b64url_encoded_len(binlen) + 1)
		return FL_E_TOO_LARGE;
	/* sodium wants room for the padded form plus NUL; encode into out only
	 * when that fits, which the check below guarantees. */
	if (outcap < sodium_base64_ENCODED_LEN(
	                     binlen, sodium_base64_VARIANT_URLSAFE_NO_PADDING))
		return FL_E_TOO_LARGE;
	sodium_bin2base64(out, outcap, bin, binlen,
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return FL_OK;
}

fl_err fl_b64url_encode_public(char *out, size_t outcap, const uint8_t *bin,
                               size_t binlen)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq"
	                        "rstuvwxyz0123456789-_";
	size_t i = 0;

	if (outcap < fl_b64url_encoded_len(binlen) + 1)
		return FL_E_TOO_LARGE;
	for (; i + 3 <= binlen; i += 3) {
		uint32_t v = (uint32_t)bin[i] << 16 |
		             (uint32_t)bin[i + 1] << 8 | bin[i + 2];

		*out++ = a[v >> 18];
		*out++ = a[(v >> 12) & 63];
		*out++ = a[(v >> 6) & 63];
		*out++ = a[v & 63];
	}
	if (binlen - i == 1) {
		*out++ = a[bin[i] >> 2];
		*out++ = a[(bin[i] & 3) << 4];
	} else if (binlen - i == 2) {
		*out++ = a[bin[i] >> 2];
		*out++ = a[((bin[i] & 3) << 4) | (bin[i + 1] >> 4)];
		*out++ = a[(bin[i + 1] & 15) << 2];
	}
	*out = '\0';
	return FL_OK;
}

fl_err fl_b64url_decode(uint8_t *bin, size_t bincap, size_t *binlen,
                        const char *b64, size_t b64len)
{
	const char *end = NULL;
	size_t n = 0;
	unsigned char high = 0;

	*binlen = 0;
	/* A length of 1 mod 4 can never be produced by an encoder. */
	if (b64len % 4 == 1)
		return FL_E_BASE64;
	/* libsodium 1.0.18 reads every byte from 0x80 up as '_', which would
	 * give one text 129 spellings per '_'. No alphabet character has the
	 * top bit: refuse them all, without a branch per byte (the text may
	 * be a secret key). */
	for (size_t i = 0; i < b64len; i++)
		high |= (unsigned char)b64[i];
	if (high & 0x80)
		return FL_E_BASE64;
	if (b64len / 4 * 3 + (b64len % 4 ? b64len % 4 - 1 : 0) > bincap)
		return FL_E_TOO_LARGE;
	if (sodium_base642bin(bin, bincap, b64, b64len, NULL, &n, &end,
	                      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
		return FL_E_BASE64;
	if (end != b64 + b64len)
		return FL_E_BASE64;
	/* libsodium accepts non-zero trailing bits; a canonical encoding
	 * has none, so the last character must carry only whole bytes. */
	if (b64len % 4 != 0) {
		static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		                            "abcdefghijklmnopqrstuvwxyz"
		                            "0123456789-_";
		const char *pos = strchr(alpha, b64[b64len - 1]);
		unsigned mask = (b64len % 4 == 2) ? 0x0f : 0x03;

		if (pos == NULL || ((unsigned)(pos - alpha) & mask) != 0)
			return FL_E_BASE64;
	}
	*binlen = n;
	return FL_OK;
}

void fl_hex_encode(char *out, const uint8_t *bin, size_t binlen)
{
	sodium_bin2hex(out, binlen * 2 + 1, bin, binlen);
}

fl_err fl_hex_decode(uint8_t *bin, size_t binlen, const char *hex,
                     size_t hexlen)
{
	size_t n = 0;
	const char *end = NULL;

	if (hexlen != binlen * 2)
		return FL_E_INVALID;
	if (sodium_hex2bin(bin, binlen, hex, hexlen, NULL, &n, &end) != 0 ||
	    n != binlen || end != hex + hexlen)
		return FL_E_INVALID;
	return FL_OK;
}

void fl_hmac_sha256(uint8_t out[FL_HMAC_SHA256_LEN], const uint8_t *key,
                    size_t keylen, const void *msg, size_t len)
{
	crypto_auth_hmacsha256_state st;

	crypto_auth_hmacsha256_init(&st, key, keylen);
	crypto_auth_hmacsha256_update(&st, msg, len);
	crypto_auth_hmacsha256_final(&st, out);
	fl_wipe(&st, sizeof(st));
}

fl_err fl_b64_encode(char *out, size_t outcap, const uint8_t *bin,
                     size_t binlen)
{
	size_t need = sodium_base64_encoded_len(
	        binlen, sodium_base64_VARIANT_ORIGINAL);

	if (need > outcap)
		return FL_E_TOO_LARGE;
	sodium_bin2base64(out, outcap, bin, binlen,
	                  sodium_base64_VARIANT_ORIGINAL);
	return FL_OK;
}

fl_err fl_b64_decode(uint8_t *bin, size_t bincap, size_t *binlen,
                     const char *b64, size_t b64len)
{
	const char *end = NULL;
	char again[256];
	size_t n = 0;
	unsigned char high = 0;

	*binlen = 0;
	for (size_t i = 0; i < b64len; i++)
		high |= (unsigned char)b64[i];
	if ((high & 0x80) || b64len % 4 != 0 || b64len >= sizeof(again))
		return FL_E_BASE64;
	if (b64len / 4 * 3 > bincap + 2)
		return FL_E_TOO_LARGE;
	if (sodium_base642bin(bin, bincap, b64, b64len, NULL, &n, &end,
	                      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    end != b64 + b64len)
		return FL_E_BASE64;
	/* canonical only: encoding the bytes again gives the same text */
	if (fl_b64_encode(again, sizeof(again), bin, n) != FL_OK ||
	    strlen(again) != b64len || memcmp(again, b64, b64len) != 0) {
		fl_wipe(bin, n);
		return FL_E_BASE64;
	}
	*binlen = n;
	return FL_OK;
}
