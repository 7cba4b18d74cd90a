/* Regression tests for what the fuzz targets (fuzz/) found, one test per
 * finding, each with the input that showed it. The CSV import's findings
 * are tested against a real finlockd in integration/test_cli_import.c
 * (test_not_utf8).
 *
 * base64url and bytes from 0x80 up (fuzz_paserk): libsodium 1.0.18 decodes
 * every such byte as '_', so a key, key id, token or protocol field had
 * other spellings that decoded to the same bytes: a k4.pid with a byte
 * changed passed fl_paserk_pid_check, a signed token with '_' swapped for
 * 0xdf still verified, and a device's lookup nonce spelled with "é" for
 * "__" was taken for the nonce. fl_b64url_decode now refuses them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/crypto.h"
#include "core/devproto.h"
#include "core/paserk.h"
#include "core/paseto.h"

static int setup(void **state)
{
	(void)state;
	return fl_crypto_init() == FL_OK ? 0 : -1;
}

static void test_b64url_high_bytes(void **state)
{
	uint8_t out[8];
	size_t n = 1;
	char s[5] = "____";

	(void)state;
	/* "____" is three 0xff bytes ... */
	assert_int_equal(fl_b64url_decode(out, sizeof(out), &n, s, 4), FL_OK);
	assert_int_equal(n, 3);
	assert_int_equal(out[0] & out[1] & out[2], 0xff);
	/* ... and no byte from 0x80 up spells '_' (or anything else). */
	for (unsigned c = 0x80; c <= 0xff; c++) {
		s[1] = (char)c;
		n = 1;
		assert_int_equal(fl_b64url_decode(out, sizeof(out), &n, s, 4),
		                 FL_E_BASE64);
		assert_int_equal(n, 0);
	}
	/* "\xc3\xa9" is "é" in UTF-8: valid in JSON, never base64url */
	assert_int_equal(
	        fl_b64url_decode(out, sizeof(out), &n, "\xc3\xa9__", 4),
	        FL_E_BASE64);
}

static void test_paserk_pid_high_byte(void **state)
{
	/* fuzz_paserk's input: k4.pid-1 of the PASERK vectors with one
	 * character replaced by 0xb5 */
	static const char crash[] =
	        "k4.pid.S_XQmeEwHbbvRmiyfXfHYpLGjXGz\xb5TRSDoT1YtTakWFE";
	static const char pid[] =
	        "k4.pid.S_XQmeEwHbbvRmiyfXfHYpLGjXGzjTRSDoT1YtTakWFE";
	uint8_t pk[FL_SIGN_PK_LEN], sk[FL_SIGN_SK_LEN];
	char pub[FL_PASERK_PUBLIC_SIZE], sec[FL_PASERK_SECRET_SIZE];
	char *p;

	(void)state;
	assert_int_equal(fl_paserk_pid_check(pid, strlen(pid)), FL_OK);
	assert_int_equal(fl_paserk_pid_check(crash, strlen(crash)),
	                 FL_E_KEY_FORMAT);

	/* the same for keys: a k4.public and a k4.secret of 0xff bytes are
	 * mostly '_'; one of them swapped for 0xff is not the key */
	memset(pk, 0xff, sizeof(pk));
	assert_int_equal(fl_paserk_public_encode(pub, pk), FL_OK);
	p = strchr(pub + strlen(FL_PASERK_PUBLIC_PREFIX), '_');
	assert_non_null(p);
	*p = (char)0xff;
	assert_int_equal(fl_paserk_public_decode(pk, pub, strlen(pub)),
	                 FL_E_KEY_FORMAT);
	{
		uint8_t seed[FL_SIGN_SEED_LEN];

		memset(seed, 0xff, sizeof(seed));
		fl_sign_seed_keypair(pk, sk, seed);
	}
	assert_int_equal(fl_paserk_secret_encode(sec, sk), FL_OK);
	p = strchr(sec + strlen(FL_PASERK_SECRET_PREFIX), '_');
	assert_non_null(p);
	assert_int_equal(fl_paserk_secret_decode(sk, sec, strlen(sec)), FL_OK);
	*p = (char)0xdf;
	assert_int_equal(fl_paserk_secret_decode(sk, sec, strlen(sec)),
	                 FL_E_KEY_FORMAT);
	fl_wipe(sec, sizeof(sec));
}

static void test_paseto_token_high_byte(void **state)
{
	uint8_t pk[FL_SIGN_PK_LEN], sk[FL_SIGN_SK_LEN], seed[FL_SIGN_SEED_LEN];
	uint8_t *m = NULL;
	size_t mlen = 0;
	char *token = NULL, *p = NULL, msg[32];

	(void)state;
	memset(seed, 7, sizeof(seed));
	fl_sign_seed_keypair(pk, sk, seed);
	/* a token with a '_' in its body (signatures are random-looking, so
	 * one of the first few has one) */
	for (int i = 0; i < 64 && p == NULL; i++) {
		free(token);
		snprintf(msg, sizeof(msg), "{\"seq\":%d}", i);
		assert_int_equal(fl_paseto_sign(&token, sk, msg, strlen(msg),
		                                NULL, 0, NULL, 0),
		                 FL_OK);
		p = strchr(token + FL_PASETO_HEADER_LEN, '_');
	}
	assert_non_null(p);
	assert_int_equal(fl_paseto_verify(&m, &mlen, NULL, NULL, token,
	                                  strlen(token), pk, NULL, 0),
	                 FL_OK);
	free(m);
	m = NULL;
	*p = (char)0xdf;
	assert_int_not_equal(fl_paseto_verify(&m, &mlen, NULL, NULL, token,
	                                      strlen(token), pk, NULL, 0),
	                     FL_OK);
	assert_null(m);
	free(token);
	fl_wipe(sk, sizeof(sk));
}

static void test_devproto_nonce_utf8(void **state)
{
	/* A lookup nonce of 32 0xff bytes is 42 '_' and an '8'; "é" is two
	 * bytes from 0x80 up, valid JSON, and once read as "__". */
	char nonce[FL_DP_NONCE_LEN * 2], json[256];
	uint8_t raw[FL_DP_NONCE_LEN];
	struct fl_dp_lookup_req r;

	(void)state;
	memset(raw, 0xff, sizeof(raw));
	assert_int_equal(
	        fl_b64url_encode(nonce, sizeof(nonce), raw, sizeof(raw)),
	        FL_OK);
	snprintf(json, sizeof(json),
	         "{\"imei\":[\"352099001761481\"],\"nonce\":\"%s\"}", nonce);
	assert_int_equal(fl_dp_lookup_req_decode(json, strlen(json), &r),
	                 FL_OK);
	assert_memory_equal(r.nonce, raw, sizeof(raw));
	assert_int_equal(memcmp(nonce, "__", 2), 0);
	snprintf(json, sizeof(json),
	         "{\"imei\":[\"352099001761481\"],\"nonce\":\"\xc3\xa9%s\"}",
	         nonce + 2);
	assert_int_equal(fl_dp_lookup_req_decode(json, strlen(json), &r),
	                 FL_E_FIELD_TYPE);
	assert_int_equal(r.n_imei, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_b64url_high_bytes),
	        cmocka_unit_test(test_paserk_pid_high_byte),
	        cmocka_unit_test(test_paseto_token_high_byte),
	        cmocka_unit_test(test_devproto_nonce_utf8),
	};
	return cmocka_run_group_tests_name("fuzz_regress", tests, setup, NULL);
}
