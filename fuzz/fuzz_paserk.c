/* libFuzzer target for core/paserk: arbitrary bytes parsed as k4.public,
 * k4.secret and k4.pid. Nothing may crash or read out of bounds; a refused
 * string is FL_E_KEY_TYPE exactly when its prefix is not the type's, else
 * FL_E_KEY_FORMAT, with the key output zeroed; an accepted string is the
 * one canonical spelling of its key (encoding it again gives the same
 * bytes), a secret key's halves agree, and a key's k4.pid passes the check. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "core/paserk.h"

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int zero(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i] != 0)
			return 0;
	return 1;
}

static int has_prefix(const char *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && memcmp(s, prefix, n) == 0;
}

/* The error a refusal must carry for a string with or without the prefix. */
static void refused(fl_err err, const char *s, size_t len, const char *prefix)
{
	if (has_prefix(s, len, prefix))
		CHECK(err == FL_E_KEY_FORMAT);
	else
		CHECK(err == FL_E_KEY_TYPE);
}

static void pid_of(const uint8_t pk[FL_SIGN_PK_LEN])
{
	char pid[FL_PASERK_PID_SIZE];

	CHECK(fl_paserk_pid(pid, pk) == FL_OK);
	CHECK(strlen(pid) == FL_PASERK_PID_SIZE - 1);
	CHECK(fl_paserk_pid_check(pid, strlen(pid)) == FL_OK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	const char *s = (const char *)data;
	uint8_t pk[FL_SIGN_PK_LEN], sk[FL_SIGN_SK_LEN];
	uint8_t pk2[FL_SIGN_PK_LEN], sk2[FL_SIGN_SK_LEN];
	char pub[FL_PASERK_PUBLIC_SIZE], sec[FL_PASERK_SECRET_SIZE];
	fl_err err;

	if (!ready) {
		if (fl_crypto_init() != FL_OK)
			abort();
		ready = 1;
	}

	memset(pk, 0xa5, sizeof(pk));
	err = fl_paserk_public_decode(pk, s, size);
	if (err != FL_OK) {
		CHECK(zero(pk, sizeof(pk)));
		refused(err, s, size, FL_PASERK_PUBLIC_PREFIX);
	} else {
		CHECK(fl_paserk_public_encode(pub, pk) == FL_OK);
		CHECK(strlen(pub) == size && memcmp(pub, s, size) == 0);
		pid_of(pk);
	}

	memset(sk, 0xa5, sizeof(sk));
	err = fl_paserk_secret_decode(sk, s, size);
	if (err != FL_OK) {
		CHECK(zero(sk, sizeof(sk)));
		refused(err, s, size, FL_PASERK_SECRET_PREFIX);
	} else {
		CHECK(fl_paserk_secret_encode(sec, sk) == FL_OK);
		CHECK(strlen(sec) == size && memcmp(sec, s, size) == 0);
		fl_sign_seed_keypair(pk2, sk2, sk);
		CHECK(memcmp(sk2, sk, sizeof(sk)) == 0);
		CHECK(fl_paserk_public_encode(pub, pk2) == FL_OK);
		CHECK(fl_paserk_public_decode(pk, pub, strlen(pub)) == FL_OK);
		CHECK(memcmp(pk, pk2, sizeof(pk)) == 0);
		pid_of(pk2);
		fl_wipe(sec, sizeof(sec));
		fl_wipe(sk, sizeof(sk));
		fl_wipe(sk2, sizeof(sk2));
	}

	err = fl_paserk_pid_check(s, size);
	if (err != FL_OK) {
		refused(err, s, size, FL_PASERK_PID_PREFIX);
	} else {
		uint8_t h[FL_PASERK_PID_HASH_LEN];
		char again[64];
		size_t n = 0, pre = strlen(FL_PASERK_PID_PREFIX);

		/* Accepted means one canonical base64url spelling of 33 bytes.
		 */
		CHECK(size == FL_PASERK_PID_SIZE - 1);
		CHECK(fl_b64url_decode(h, sizeof(h), &n, s + pre, size - pre) ==
		              FL_OK &&
		      n == sizeof(h));
		CHECK(fl_b64url_encode(again, sizeof(again), h, n) == FL_OK);
		CHECK(strlen(again) == size - pre &&
		      memcmp(again, s + pre, size - pre) == 0);
	}
	return 0;
}
