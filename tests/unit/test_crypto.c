/* Unit tests for core/crypto: base64url strictness, hex, MAC, kx, kdf. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/crypto.h"

static int setup(void **state)
{
	(void)state;
	return fl_crypto_init() == FL_OK ? 0 : -1;
}

static void test_b64url_roundtrip(void **state)
{
	(void)state;
	uint8_t bin[64], back[64];
	char txt[128];
	size_t n;

	for (size_t len = 0; len <= sizeof(bin); len++) {
		fl_random(bin, len);
		assert_int_equal(fl_b64url_encode(txt, sizeof(txt), bin, len),
		                 FL_OK);
		assert_int_equal(strlen(txt), fl_b64url_encoded_len(len));
		assert_null(strchr(txt, '='));
		assert_int_equal(fl_b64url_decode(back, sizeof(back), &n, txt,
		                                  strlen(txt)),
		                 FL_OK);
		assert_int_equal(n, len);
		assert_memory_equal(bin, back, len);
		/* the table encoder for public data: the same text, and
		 * the same refusal of a buffer one byte short */
		{
			char pub[128];

			memset(pub, 'x', sizeof(pub));
			assert_int_equal(fl_b64url_encode_public(pub,
			                                         sizeof(pub),
			                                         bin, len),
			                 FL_OK);
			assert_string_equal(pub, txt);
			assert_int_equal(fl_b64url_encode_public(
			                         pub, strlen(txt), bin, len),
			                 FL_E_TOO_LARGE);
		}
	}
}

static void test_b64url_strict(void **state)
{
	(void)state;
	uint8_t out[16];
	size_t n;

	/* "-_8" is the URL alphabet; '+' and '/' and '=' are not. */
	assert_int_equal(fl_b64url_decode(out, sizeof(out), &n, "-_8", 3),
	                 FL_OK);
	assert_int_equal(fl_b64url_decode(out, sizeof(out), &n, "+/8", 3),
	                 FL_E_BASE64);
	assert_int_equal(fl_b64url_decode(out, sizeof(out), &n, "AA==", 4),
	                 FL_E_BASE64);
	assert_int_equal(fl_b64url_decode(out, sizeof(out), &n, "A", 1),
	                 FL_E_BASE64);
	assert_int_equal(fl_b64url_decode(out, sizeof(out), &n, "AB", 2),
	                 FL_E_BASE64); /* non-zero trailing bits */
	assert_int_equal(fl_b64url_decode(out, sizeof(out), &n, "AA A", 4),
	                 FL_E_BASE64);
	assert_int_equal(fl_b64url_decode(out, 2, &n, "AAAAAA", 6),
	                 FL_E_TOO_LARGE);
}

static void test_hex(void **state)
{
	(void)state;
	uint8_t b[3] = {0x00, 0xab, 0xff}, back[3];
	char h[7];

	fl_hex_encode(h, b, 3);
	assert_string_equal(h, "00abff");
	assert_int_equal(fl_hex_decode(back, 3, h, 6), FL_OK);
	assert_memory_equal(b, back, 3);
	assert_int_equal(fl_hex_decode(back, 3, "00abf", 5), FL_E_INVALID);
	assert_int_equal(fl_hex_decode(back, 3, "00abfg", 6), FL_E_INVALID);
}

static void test_kx_both_sides_agree(void **state)
{
	(void)state;
	uint8_t spk[FL_KX_PK_LEN], ssk[FL_KX_SK_LEN];
	uint8_t dpk[FL_KX_PK_LEN], dsk[FL_KX_SK_LEN];
	uint8_t a[FL_KX_SESSION_LEN], b[FL_KX_SESSION_LEN];
	uint8_t k1[32], k2[32];

	fl_kx_keypair(spk, ssk);
	fl_kx_keypair(dpk, dsk);
	assert_int_equal(fl_kx_shared(a, 1, spk, ssk, dpk), FL_OK);
	assert_int_equal(fl_kx_shared(b, 0, dpk, dsk, spk), FL_OK);
	assert_memory_equal(a, b, sizeof(a));
	assert_int_equal(fl_kdf(k1, 32, 1, "fl-mac__", a), FL_OK);
	assert_int_equal(fl_kdf(k2, 32, 2, "fl-mac__", a), FL_OK);
	assert_memory_not_equal(k1, k2, 32);
}

static void test_sign_and_mac(void **state)
{
	(void)state;
	uint8_t pk[FL_SIGN_PK_LEN], sk[FL_SIGN_SK_LEN], pk2[FL_SIGN_PK_LEN];
	uint8_t sig[FL_SIG_LEN], mac1[FL_MAC_LEN], mac2[FL_MAC_LEN];
	uint8_t key[FL_MAC_KEY_LEN] = {1};
	fl_blake2b_state st;

	fl_sign_keypair(pk, sk);
	fl_sign_sk_to_pk(pk2, sk);
	assert_memory_equal(pk, pk2, sizeof(pk));
	fl_sign_detached(sig, "msg", 3, sk);
	assert_int_equal(fl_sign_verify(sig, "msg", 3, pk), FL_OK);
	assert_int_equal(fl_sign_verify(sig, "msh", 3, pk), FL_E_BAD_SIGNATURE);

	assert_int_equal(fl_blake2b(mac1, sizeof(mac1), key, sizeof(key),
	                            "hello world", 11),
	                 FL_OK);
	assert_int_equal(fl_blake2b_init(&st, key, sizeof(key), sizeof(mac2)),
	                 FL_OK);
	fl_blake2b_update(&st, "hello ", 6);
	fl_blake2b_update(&st, "world", 5);
	fl_blake2b_final(&st, mac2, sizeof(mac2));
	assert_int_equal(fl_ct_memcmp(mac1, mac2, sizeof(mac1)), 0);
	assert_int_equal(fl_blake2b(mac1, 8, NULL, 0, "x", 1), FL_E_RANGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_b64url_roundtrip),
	        cmocka_unit_test(test_b64url_strict),
	        cmocka_unit_test(test_hex),
	        cmocka_unit_test(test_kx_both_sides_agree),
	        cmocka_unit_test(test_sign_and_mac),
	};
	return cmocka_run_group_tests_name("crypto", tests, setup, NULL);
}
