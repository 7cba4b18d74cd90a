/*
 * Signatures made ahead (server/ahead.h): one is given back only for the
 * same device, the same key and exactly the same claims, once; a newer one
 * of a device replaces the older; the cap refuses more; past instants are
 * forgotten.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/crypto.h"
#include "server/ahead.h"

static const char claims[] =
        "{\"sub\":\"dv_1\",\"seq\":7,\"state\":\"locked\"}";

static void sig_of(uint8_t sig[FL_SIG_LEN], uint8_t v)
{
	memset(sig, v, FL_SIG_LEN);
}

static void test_take_exactly(void **state)
{
	struct fl_ahead *a = NULL;
	uint8_t sig[FL_SIG_LEN], got[FL_SIG_LEN];
	char other[sizeof(claims)];

	(void)state;
	assert_int_equal(fl_ahead_new(&a, 8), FL_OK);
	sig_of(sig, 0x11);
	assert_false(
	        fl_ahead_take(a, "dv_1", "k1", claims, strlen(claims), got));
	assert_true(fl_ahead_put(a, "dv_1", 100, "k1", claims, strlen(claims),
	                         sig));
	assert_true(fl_ahead_has(a, "dv_1", 100));
	assert_false(fl_ahead_has(a, "dv_1", 101));
	assert_false(fl_ahead_has(a, "dv_2", 100));
	/* another device, another key, claims one byte apart or shorter */
	assert_false(
	        fl_ahead_take(a, "dv_2", "k1", claims, strlen(claims), got));
	assert_false(
	        fl_ahead_take(a, "dv_1", "k2", claims, strlen(claims), got));
	memcpy(other, claims, sizeof(claims));
	other[20] ^= 1;
	assert_false(fl_ahead_take(a, "dv_1", "k1", other, strlen(other), got));
	assert_false(fl_ahead_take(a, "dv_1", "k1", claims, strlen(claims) - 1,
	                           got));
	assert_int_equal(fl_ahead_count(a), 1);
	assert_int_equal(fl_ahead_taken(a), 0);
	/* the same: given once */
	assert_true(
	        fl_ahead_take(a, "dv_1", "k1", claims, strlen(claims), got));
	assert_memory_equal(got, sig, FL_SIG_LEN);
	assert_false(
	        fl_ahead_take(a, "dv_1", "k1", claims, strlen(claims), got));
	assert_int_equal(fl_ahead_count(a), 0);
	assert_int_equal(fl_ahead_taken(a), 1);
	assert_false(
	        fl_ahead_take(NULL, "dv_1", "k1", claims, strlen(claims), got));
	fl_ahead_free(a);
}

static void test_replace_cap_expire(void **state)
{
	struct fl_ahead *a = NULL;
	uint8_t sig[FL_SIG_LEN], got[FL_SIG_LEN];
	char id[16];

	(void)state;
	assert_int_equal(fl_ahead_new(&a, 4), FL_OK);
	for (int i = 0; i < 4; i++) {
		snprintf(id, sizeof(id), "dv_%d", i);
		sig_of(sig, (uint8_t)i);
		assert_true(fl_ahead_put(a, id, 100 + i, "k1", claims,
		                         strlen(claims), sig));
	}
	/* full: a fifth device is refused, a known one replaced */
	sig_of(sig, 0x55);
	assert_false(fl_ahead_put(a, "dv_9", 200, "k1", claims, strlen(claims),
	                          sig));
	assert_true(fl_ahead_put(a, "dv_0", 150, "k1", claims, strlen(claims),
	                         sig));
	assert_int_equal(fl_ahead_count(a), 4);
	assert_true(fl_ahead_has(a, "dv_0", 150));
	/* instants before 102 forgotten: dv_1 (101); dv_0 now 150 stays */
	fl_ahead_expire(a, 102);
	assert_int_equal(fl_ahead_count(a), 3);
	assert_false(fl_ahead_has(a, "dv_1", 101));
	assert_true(
	        fl_ahead_take(a, "dv_0", "k1", claims, strlen(claims), got));
	assert_memory_equal(got, sig, FL_SIG_LEN);
	/* ids too long for a device are refused */
	assert_false(fl_ahead_put(a,
	                          "dv_0123456789012345678901234567890123456789"
	                          "0123456789",
	                          100, "k1", claims, strlen(claims), sig));
	fl_ahead_free(a);
	fl_ahead_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_take_exactly),
	        cmocka_unit_test(test_replace_cap_expire),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
