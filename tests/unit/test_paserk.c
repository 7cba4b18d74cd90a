/* Unit tests for core/paserk: the published k4.public, k4.secret and k4.pid
 * vectors, and strict parsing (types, lengths, base64, key consistency). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/crypto.h"
#include "core/paserk.h"

#define VECTOR_DIR "tests/vectors/paseto/"

static int setup(void **state)
{
	(void)state;
	return fl_crypto_init() == FL_OK ? 0 : -1;
}

static json_t *load(const char *file)
{
	char path[256];
	json_error_t jerr;
	json_t *j;

	snprintf(path, sizeof(path), VECTOR_DIR "%s", file);
	j = json_load_file(path, 0, &jerr);
	if (j == NULL)
		fail_msg("%s: %s", path, jerr.text);
	return j;
}

static const char *field(const json_t *t, const char *name)
{
	const char *s = json_string_value(json_object_get(t, name));

	assert_non_null(s);
	return s;
}

static void hex_field(const json_t *t, const char *name, uint8_t *out,
                      size_t len)
{
	const char *hex = field(t, name);

	assert_int_equal(strlen(hex), 2 * len);
	assert_int_equal(fl_hex_decode(out, len, hex, strlen(hex)), FL_OK);
}

static void test_public_vectors(void **state)
{
	json_t *v = load("k4.public.json"), *t;
	size_t i, n = 0;

	(void)state;
	json_array_foreach(json_object_get(v, "tests"), i, t)
	{
		uint8_t pk[FL_SIGN_PK_LEN], back[FL_SIGN_PK_LEN];
		char out[FL_PASERK_PUBLIC_SIZE];
		const char *paserk = field(t, "paserk");

		hex_field(t, "key", pk, sizeof(pk));
		assert_int_equal(fl_paserk_public_encode(out, pk), FL_OK);
		assert_string_equal(out, paserk);
		assert_int_equal(
		        fl_paserk_public_decode(back, paserk, strlen(paserk)),
		        FL_OK);
		assert_memory_equal(back, pk, sizeof(pk));
		n++;
	}
	assert_int_equal(n, 3);
	json_decref(v);
}

static void test_secret_vectors(void **state)
{
	json_t *v = load("k4.secret.json"), *t;
	size_t i, n = 0;

	(void)state;
	json_array_foreach(json_object_get(v, "tests"), i, t)
	{
		uint8_t sk[FL_SIGN_SK_LEN], back[FL_SIGN_SK_LEN];
		uint8_t seed[FL_SIGN_SEED_LEN], pk[FL_SIGN_PK_LEN];
		uint8_t dpk[FL_SIGN_PK_LEN], dsk[FL_SIGN_SK_LEN];
		char out[FL_PASERK_SECRET_SIZE];
		const char *paserk = field(t, "paserk");

		hex_field(t, "key", sk, sizeof(sk));
		hex_field(t, "secret-key-seed", seed, sizeof(seed));
		hex_field(t, "public-key", pk, sizeof(pk));
		fl_sign_seed_keypair(dpk, dsk, seed);
		assert_memory_equal(dsk, sk, sizeof(sk));
		assert_memory_equal(dpk, pk, sizeof(pk));

		assert_int_equal(fl_paserk_secret_encode(out, sk), FL_OK);
		assert_string_equal(out, paserk);
		assert_int_equal(
		        fl_paserk_secret_decode(back, paserk, strlen(paserk)),
		        FL_OK);
		assert_memory_equal(back, sk, sizeof(sk));
		fl_wipe(out, sizeof(out));
		fl_wipe(sk, sizeof(sk));
		fl_wipe(dsk, sizeof(dsk));
		fl_wipe(back, sizeof(back));
		n++;
	}
	assert_int_equal(n, 3);
	json_decref(v);
}

static void test_pid_vectors(void **state)
{
	json_t *v = load("k4.pid.json"), *t;
	size_t i, ok = 0, failed = 0;

	(void)state;
	json_array_foreach(json_object_get(v, "tests"), i, t)
	{
		const char *hex = field(t, "key");
		json_t *paserk = json_object_get(t, "paserk");

		if (json_is_string(paserk)) {
			uint8_t pk[FL_SIGN_PK_LEN];
			char out[FL_PASERK_PID_SIZE];
			const char *want = json_string_value(paserk);

			hex_field(t, "key", pk, sizeof(pk));
			assert_int_equal(fl_paserk_pid(out, pk), FL_OK);
			assert_string_equal(out, want);
			assert_int_equal(
			        fl_paserk_pid_check(want, strlen(want)), FL_OK);
			ok++;
		} else {
			/* A key of the wrong size (too small, or a k3 key)
			 * cannot become a k4.public, so it has no k4.pid. */
			uint8_t raw[64], pk[FL_SIGN_PK_LEN];
			char pub[128];
			size_t n = strlen(hex) / 2;

			assert_true(n <= sizeof(raw));
			assert_int_equal(fl_hex_decode(raw, n, hex, 2 * n),
			                 FL_OK);
			memcpy(pub, "k4.public.", 10);
			assert_int_equal(fl_b64url_encode(pub + 10,
			                                  sizeof(pub) - 10, raw,
			                                  n),
			                 FL_OK);
			assert_int_equal(
			        fl_paserk_public_decode(pk, pub, strlen(pub)),
			        FL_E_KEY_FORMAT);
			pub[1] = '3';
			assert_int_equal(
			        fl_paserk_public_decode(pk, pub, strlen(pub)),
			        FL_E_KEY_TYPE);
			failed++;
		}
	}
	assert_int_equal(ok, 3);
	assert_int_equal(failed, 2);
	json_decref(v);
}

static void test_public_strict(void **state)
{
	uint8_t pk[FL_SIGN_PK_LEN];
	const char *good =
	        "k4.public.cHFyc3R1dnd4eXp7fH1-f4CBgoOEhYaHiImKi4yNjo8";
	char buf[128];

	(void)state;
	assert_int_equal(fl_paserk_public_decode(pk, good, strlen(good)),
	                 FL_OK);
#define PUB(s, want)                                                           \
	do {                                                                   \
		memset(pk, 0xaa, sizeof(pk));                                  \
		assert_int_equal(fl_paserk_public_decode(pk, s, strlen(s)),    \
		                 want);                                        \
		assert_int_equal(pk[0] | pk[31], 0);                           \
	} while (0)
	PUB("k3.public.cHFyc3R1dnd4eXp7fH1-f4CBgoOEhYaHiImKi4yNjo8",
	    FL_E_KEY_TYPE);
	PUB("k4.secret.cHFyc3R1dnd4eXp7fH1-f4CBgoOEhYaHiImKi4yNjo8",
	    FL_E_KEY_TYPE);
	PUB("k4.local.cHFyc3R1dnd4eXp7fH1-f4CBgoOEhYaHiImKi4yNjo8",
	    FL_E_KEY_TYPE);
	PUB("K4.PUBLIC.cHFyc3R1dnd4eXp7fH1-f4CBgoOEhYaHiImKi4yNjo8",
	    FL_E_KEY_TYPE);
	PUB("", FL_E_KEY_TYPE);
	PUB("k4.public", FL_E_KEY_TYPE);
	PUB("k4.public.", FL_E_KEY_FORMAT);
	/* one character short, one too many, padding, wrong alphabet */
	PUB("k4.public.cHFyc3R1dnd4eXp7fH1-f4CBgoOEhYaHiImKi4yNjo",
	    FL_E_KEY_FORMAT);
	PUB("k4.public.cHFyc3R1dnd4eXp7fH1-f4CBgoOEhYaHiImKi4yNjo8A",
	    FL_E_KEY_FORMAT);
	PUB("k4.public.cHFyc3R1dnd4eXp7fH1-f4CBgoOEhYaHiImKi4yNjo8=",
	    FL_E_KEY_FORMAT);
	PUB("k4.public.cHFyc3R1dnd4eXp7fH1+f4CBgoOEhYaHiImKi4yNjo8",
	    FL_E_KEY_FORMAT);
	/* non-canonical last character: same bytes, other trailing bits */
	PUB("k4.public.cHFyc3R1dnd4eXp7fH1-f4CBgoOEhYaHiImKi4yNjo9",
	    FL_E_KEY_FORMAT);
	snprintf(buf, sizeof(buf), "%s\n", good);
	PUB(buf, FL_E_KEY_FORMAT);
	snprintf(buf, sizeof(buf), " %s", good);
	PUB(buf, FL_E_KEY_TYPE);
#undef PUB
}

static void test_secret_strict(void **state)
{
	uint8_t sk[FL_SIGN_SK_LEN], pk[FL_SIGN_PK_LEN];
	char s[FL_PASERK_SECRET_SIZE];

	(void)state;
	fl_sign_keypair(pk, sk);
	assert_int_equal(fl_paserk_secret_encode(s, sk), FL_OK);
	assert_int_equal(strlen(s), FL_PASERK_SECRET_SIZE - 1);

	/* A public half that does not belong to the seed. */
	sk[FL_SIGN_SEED_LEN] ^= 0x01;
	assert_int_equal(fl_paserk_secret_encode(s, sk), FL_OK);
	memset(sk, 0xaa, sizeof(sk));
	assert_int_equal(fl_paserk_secret_decode(sk, s, strlen(s)),
	                 FL_E_KEY_FORMAT);
	for (size_t i = 0; i < sizeof(sk); i++)
		assert_int_equal(sk[i], 0); /* wiped on error */

	/* A public key where a secret one is expected, and vice versa. */
	fl_sign_keypair(pk, sk);
	char pub[FL_PASERK_PUBLIC_SIZE];
	assert_int_equal(fl_paserk_public_encode(pub, pk), FL_OK);
	assert_int_equal(fl_paserk_secret_decode(sk, pub, strlen(pub)),
	                 FL_E_KEY_TYPE);
	assert_int_equal(fl_paserk_secret_encode(s, sk), FL_OK);
	assert_int_equal(fl_paserk_public_decode(pk, s, strlen(s)),
	                 FL_E_KEY_TYPE);
	/* A secret key truncated to its seed (the old 32-byte k4.secret). */
	const char *seed_only =
	        "k4.secret.O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik";
	assert_int_equal(
	        fl_paserk_secret_decode(sk, seed_only, strlen(seed_only)),
	        FL_E_KEY_FORMAT);
	s[20] = '*';
	assert_int_equal(fl_paserk_secret_decode(sk, s, strlen(s)),
	                 FL_E_KEY_FORMAT);
	fl_wipe(sk, sizeof(sk));
	fl_wipe(s, sizeof(s));
}

static void test_pid_properties(void **state)
{
	uint8_t pk[FL_SIGN_PK_LEN], sk[FL_SIGN_SK_LEN];
	char a[FL_PASERK_PID_SIZE], b[FL_PASERK_PID_SIZE];

	(void)state;
	fl_sign_keypair(pk, sk);
	fl_wipe(sk, sizeof(sk));
	assert_int_equal(fl_paserk_pid(a, pk), FL_OK);
	assert_int_equal(strlen(a), FL_PASERK_PID_SIZE - 1);
	assert_int_equal(strncmp(a, "k4.pid.", 7), 0);
	pk[31] ^= 0x80;
	assert_int_equal(fl_paserk_pid(b, pk), FL_OK);
	assert_string_not_equal(a, b);

	assert_int_equal(fl_paserk_pid_check(a, strlen(a)), FL_OK);
	assert_int_equal(fl_paserk_pid_check(a, strlen(a) - 1),
	                 FL_E_KEY_FORMAT);
	assert_int_equal(fl_paserk_pid_check("k4.sid.S_XQmeEwHbbvRmiyfXfHYp"
	                                     "LGjXGzjTRSDoT1YtTakWFE",
	                                     51),
	                 FL_E_KEY_TYPE);
	assert_int_equal(fl_paserk_pid_check("k4.pid.S_XQmeEwHbbvRmiyfXfHYp"
	                                     "LGjXGzjTRSDoT1YtTakWF=",
	                                     51),
	                 FL_E_KEY_FORMAT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_public_vectors),
	        cmocka_unit_test(test_secret_vectors),
	        cmocka_unit_test(test_pid_vectors),
	        cmocka_unit_test(test_public_strict),
	        cmocka_unit_test(test_secret_strict),
	        cmocka_unit_test(test_pid_properties),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
