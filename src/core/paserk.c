#include "core/paserk.h"

#include <string.h>

#define PUBLIC_PREFIX_LEN (sizeof(FL_PASERK_PUBLIC_PREFIX) - 1)
#define SECRET_PREFIX_LEN (sizeof(FL_PASERK_SECRET_PREFIX) - 1)
#define PID_PREFIX_LEN    (sizeof(FL_PASERK_PID_PREFIX) - 1)

_Static_assert(FL_PASERK_PUBLIC_SIZE == PUBLIC_PREFIX_LEN + 43 + 1,
               "k4.public size");
_Static_assert(FL_PASERK_SECRET_SIZE == SECRET_PREFIX_LEN + 86 + 1,
               "k4.secret size");
_Static_assert(FL_PASERK_PID_SIZE == PID_PREFIX_LEN + 44 + 1, "k4.pid size");

/* prefix || b64url(bin) into out[cap]; out is "" on error. */
static fl_err encode(char *out, size_t cap, const char *prefix,
                     size_t prefixlen, const uint8_t *bin, size_t binlen)
{
	fl_err err;

	if (cap < prefixlen + fl_b64url_encoded_len(binlen) + 1) {
		err = FL_E_TOO_LARGE;
		goto out;
	}
	memcpy(out, prefix, prefixlen);
	err = fl_b64url_encode(out + prefixlen, cap - prefixlen, bin, binlen);
out:
	if (err && cap > 0)
		out[0] = '\0';
	return err;
}

/* Checks the prefix of s[len] and decodes exactly want bytes after it. */
static fl_err decode(uint8_t *bin, size_t want, const char *s, size_t len,
                     const char *prefix, size_t prefixlen)
{
	size_t n = 0;
	fl_err err;

	if (len < prefixlen || memcmp(s, prefix, prefixlen) != 0)
		return FL_E_KEY_TYPE;
	if (len - prefixlen != fl_b64url_encoded_len(want))
		return FL_E_KEY_FORMAT;
	err = fl_b64url_decode(bin, want, &n, s + prefixlen, len - prefixlen);
	if (err || n != want)
		return FL_E_KEY_FORMAT;
	return FL_OK;
}

fl_err fl_paserk_public_encode(char out[FL_PASERK_PUBLIC_SIZE],
                               const uint8_t pk[FL_SIGN_PK_LEN])
{
	return encode(out, FL_PASERK_PUBLIC_SIZE, FL_PASERK_PUBLIC_PREFIX,
	              PUBLIC_PREFIX_LEN, pk, FL_SIGN_PK_LEN);
}

fl_err fl_paserk_public_decode(uint8_t pk[FL_SIGN_PK_LEN], const char *s,
                               size_t len)
{
	fl_err err = decode(pk, FL_SIGN_PK_LEN, s, len, FL_PASERK_PUBLIC_PREFIX,
	                    PUBLIC_PREFIX_LEN);

	if (err)
		memset(pk, 0, FL_SIGN_PK_LEN);
	return err;
}

fl_err fl_paserk_secret_encode(char out[FL_PASERK_SECRET_SIZE],
                               const uint8_t sk[FL_SIGN_SK_LEN])
{
	return encode(out, FL_PASERK_SECRET_SIZE, FL_PASERK_SECRET_PREFIX,
	              SECRET_PREFIX_LEN, sk, FL_SIGN_SK_LEN);
}

fl_err fl_paserk_secret_decode(uint8_t sk[FL_SIGN_SK_LEN], const char *s,
                               size_t len)
{
	uint8_t pk[FL_SIGN_PK_LEN], derived[FL_SIGN_SK_LEN];
	fl_err err;

	err = decode(sk, FL_SIGN_SK_LEN, s, len, FL_PASERK_SECRET_PREFIX,
	             SECRET_PREFIX_LEN);
	if (err)
		goto out;
	/* The second half must be the public key of the first: a secret key
	 * whose halves disagree signs with one key and names another. */
	fl_sign_seed_keypair(pk, derived, sk);
	if (fl_ct_memcmp(pk, sk + FL_SIGN_SEED_LEN, FL_SIGN_PK_LEN) != 0)
		err = FL_E_KEY_FORMAT;
out:
	fl_wipe(derived, sizeof(derived));
	if (err)
		fl_wipe(sk, FL_SIGN_SK_LEN);
	return err;
}

fl_err fl_paserk_pid(char out[FL_PASERK_PID_SIZE],
                     const uint8_t pk[FL_SIGN_PK_LEN])
{
	char pub[FL_PASERK_PUBLIC_SIZE];
	uint8_t hash[FL_PASERK_PID_HASH_LEN];
	fl_blake2b_state st;
	fl_err err;

	out[0] = '\0';
	err = fl_paserk_public_encode(pub, pk);
	if (err)
		return err;
	err = fl_blake2b_init(&st, NULL, 0, sizeof(hash));
	if (err)
		return err;
	fl_blake2b_update(&st, FL_PASERK_PID_PREFIX, PID_PREFIX_LEN);
	fl_blake2b_update(&st, pub, strlen(pub));
	fl_blake2b_final(&st, hash, sizeof(hash));
	return encode(out, FL_PASERK_PID_SIZE, FL_PASERK_PID_PREFIX,
	              PID_PREFIX_LEN, hash, sizeof(hash));
}

fl_err fl_paserk_pid_check(const char *s, size_t len)
{
	uint8_t hash[FL_PASERK_PID_HASH_LEN];

	return decode(hash, sizeof(hash), s, len, FL_PASERK_PID_PREFIX,
	              PID_PREFIX_LEN);
}
