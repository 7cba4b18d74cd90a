/* Unit tests for core/ocode: pinned known answers, single use, retiring
 * lower counters, the counter and day windows, expiry at 72 hours, wrong
 * secrets, typos, every action, format errors and the daily try limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/crypto.h"
#include "core/fltime.h"
#include "core/ocode.h"

#define DAY0 20780 /* 2026-11-23 */

static uint8_t secret[FL_OCODE_SECRET_LEN]; /* 00 01 02 ... 1f */

static int setup(void **state)
{
	(void)state;
	for (int i = 0; i < FL_OCODE_SECRET_LEN; i++)
		secret[i] = (uint8_t)i;
	return fl_crypto_init() == FL_OK ? 0 : -1;
}

static void make(uint64_t counter, enum fl_ocode_action a, int64_t day,
                 char out[FL_OCODE_LEN + 1])
{
	assert_int_equal(fl_ocode_make(secret, counter, a, day, out), FL_OK);
	assert_int_equal(strlen(out), FL_OCODE_LEN);
}

/* Checks code against the test secret; on an error, asserts the outputs
 * were zeroed. */
static fl_err check_with(const uint8_t *key, const char *code, uint64_t last,
                         int64_t today, uint64_t *counter,
                         enum fl_ocode_action *a)
{
	*counter = 777;
	*a = (enum fl_ocode_action)77;
	fl_err err = fl_ocode_check(key, code, strlen(code), last, today,
	                            counter, a);
	if (err) {
		assert_int_equal(*counter, 0);
		assert_int_equal(*a, 0);
	}
	return err;
}

static fl_err check(const char *code, uint64_t last, int64_t today,
                    uint64_t *counter, enum fl_ocode_action *a)
{
	return check_with(secret, code, last, today, counter, a);
}

static void assert_accepts(const char *code, uint64_t last, int64_t today,
                           uint64_t want_counter, enum fl_ocode_action want_a)
{
	uint64_t c;
	enum fl_ocode_action a;
	fl_err err = check(code, last, today, &c, &a);

	if (err)
		fail_msg("%s (last %llu, today %lld): %s", code,
		         (unsigned long long)last, (long long)today,
		         fl_errname(err));
	assert_int_equal(c, want_counter);
	assert_int_equal(a, want_a);
}

static void assert_check_err(const char *code, uint64_t last, int64_t today,
                             fl_err want)
{
	uint64_t c;
	enum fl_ocode_action a;
	fl_err err = check(code, last, today, &c, &a);

	if (err != want)
		fail_msg("\"%s\" (last %llu, today %lld): got %s, want %s",
		         code, (unsigned long long)last, (long long)today,
		         fl_errname(err), fl_errname(want));
}

/* Pinned codes. They were computed by an independent implementation of the
 * layout in ocode.h (Python hashlib.blake2b), so they pin the MAC input
 * encoding, the truncation and the packing, not just this code. */
static void test_known_answers(void **state)
{
	(void)state;
	static const struct {
		uint64_t counter;
		enum fl_ocode_action action;
		int64_t day;
		const char *code;
	} kat[] = {
	        {1, FL_OCODE_UNLOCK_7D, DAY0, "5809743367"},
	        {1, FL_OCODE_UNLOCK_1D, DAY0, "6018777605"},
	        {2, FL_OCODE_UNLOCK_3D, DAY0, "1896112651"},
	        {64, FL_OCODE_UNLOCK_30D, DAY0 + 1, "7395352003"},
	        {65, FL_OCODE_RELEASE, DAY0 - 1, "2773593289"},
	        {12345678901ULL, FL_OCODE_UNLOCK_1D, 0, "3973345545"},
	        {FL_OCODE_COUNTER_MAX, FL_OCODE_RELEASE, FL_OCODE_DAY_MAX,
	         "7987395199"},
	        {1, FL_OCODE_UNLOCK_1D, FL_OCODE_DAY_MIN, "0795098885"},
	};
	char out[FL_OCODE_LEN + 1];

	for (size_t i = 0; i < sizeof(kat) / sizeof(kat[0]); i++) {
		make(kat[i].counter, kat[i].action, kat[i].day, out);
		assert_string_equal(out, kat[i].code);
		assert_accepts(kat[i].code, kat[i].counter - 1, kat[i].day,
		               kat[i].counter, kat[i].action);
	}

	/* Other secrets give other codes for the same claim. */
	uint8_t zero[FL_OCODE_SECRET_LEN] = {0}, ff[FL_OCODE_SECRET_LEN];
	memset(ff, 0xff, sizeof(ff));
	assert_int_equal(fl_ocode_make(zero, 1, FL_OCODE_UNLOCK_7D, DAY0, out),
	                 FL_OK);
	assert_string_equal(out, "1222192647");
	assert_int_equal(fl_ocode_make(ff, 1, FL_OCODE_UNLOCK_7D, DAY0, out),
	                 FL_OK);
	assert_string_equal(out, "1171847687");
}

static void test_every_action(void **state)
{
	(void)state;
	static const struct {
		enum fl_ocode_action a;
		int days;
		const char *name;
	} actions[] = {
	        {FL_OCODE_UNLOCK_1D, 1, "unlock_1d"},
	        {FL_OCODE_UNLOCK_3D, 3, "unlock_3d"},
	        {FL_OCODE_UNLOCK_7D, 7, "unlock_7d"},
	        {FL_OCODE_UNLOCK_30D, 30, "unlock_30d"},
	        {FL_OCODE_RELEASE, 0, "release"},
	};
	char out[FL_OCODE_LEN + 1], seen[5][FL_OCODE_LEN + 1];
	enum fl_ocode_action a;

	for (size_t i = 0; i < 5; i++) {
		make(9, actions[i].a, DAY0, out);
		assert_accepts(out, 8, DAY0, 9, actions[i].a);
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(out, seen[j]);
		memcpy(seen[i], out, sizeof(out));

		assert_int_equal(fl_ocode_action_days(actions[i].a),
		                 actions[i].days);
		assert_string_equal(fl_ocode_action_name(actions[i].a),
		                    actions[i].name);
		assert_int_equal(fl_ocode_action_parse(actions[i].name,
		                                       strlen(actions[i].name),
		                                       &a),
		                 FL_OK);
		assert_int_equal(a, actions[i].a);
		if (actions[i].days > 0) {
			assert_int_equal(
			        fl_ocode_action_for_days(actions[i].days, &a),
			        FL_OK);
			assert_int_equal(a, actions[i].a);
		}
	}

	static const int bad_days[] = {0, -1, 2, 4, 14, 31, 365};
	for (size_t i = 0; i < sizeof(bad_days) / sizeof(bad_days[0]); i++) {
		a = FL_OCODE_RELEASE;
		assert_int_equal(fl_ocode_action_for_days(bad_days[i], &a),
		                 FL_E_RANGE);
		assert_int_equal(a, 0);
	}
	static const char *const bad_names[] = {
	        "", "unlock", "Release", "unlock_2d", "release ", "unlock-7d",
	};
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		a = FL_OCODE_RELEASE;
		assert_int_equal(fl_ocode_action_parse(bad_names[i],
		                                       strlen(bad_names[i]),
		                                       &a),
		                 FL_E_INVALID);
		assert_int_equal(a, 0);
	}
	assert_int_equal(fl_ocode_action_parse(NULL, 0, &a), FL_E_INVALID);
	assert_int_equal(fl_ocode_action_days((enum fl_ocode_action)0), -1);
	assert_int_equal(fl_ocode_action_days((enum fl_ocode_action)6), -1);
	assert_null(fl_ocode_action_name((enum fl_ocode_action)0));
	assert_null(fl_ocode_action_name((enum fl_ocode_action)6));
}

static void test_single_use(void **state)
{
	(void)state;
	char code[FL_OCODE_LEN + 1];
	uint64_t last = 0, c;
	enum fl_ocode_action a;

	make(1, FL_OCODE_UNLOCK_3D, DAY0, code);
	assert_int_equal(check(code, last, DAY0, &c, &a), FL_OK);
	last = c;
	assert_int_equal(last, 1);
	assert_check_err(code, last, DAY0, FL_E_CODE_USED);
	/* Still used the next day, and used wins over expired. */
	assert_check_err(code, last, DAY0 + 1, FL_E_CODE_USED);
	assert_check_err(code, last, DAY0 + 5, FL_E_CODE_USED);
}

static void test_lower_counters_retired(void **state)
{
	(void)state;
	char codes[6][FL_OCODE_LEN + 1];

	for (uint64_t i = 1; i <= 5; i++)
		make(i, FL_OCODE_UNLOCK_1D, DAY0, codes[i]);
	/* Counter 3 accepted first: 1, 2 and 3 are gone, 4 and 5 are not. */
	assert_accepts(codes[3], 0, DAY0, 3, FL_OCODE_UNLOCK_1D);
	for (int i = 1; i <= 3; i++)
		assert_check_err(codes[i], 3, DAY0, FL_E_CODE_USED);
	assert_accepts(codes[5], 3, DAY0, 5, FL_OCODE_UNLOCK_1D);
	assert_check_err(codes[4], 5, DAY0, FL_E_CODE_USED);
}

static void test_counter_window(void **state)
{
	(void)state;
	char code[FL_OCODE_LEN + 1];
	const uint64_t last = 1000;

	/* Up to 64 above the last accepted counter. */
	make(last + 1, FL_OCODE_UNLOCK_7D, DAY0, code);
	assert_accepts(code, last, DAY0, last + 1, FL_OCODE_UNLOCK_7D);
	make(last + 64, FL_OCODE_UNLOCK_7D, DAY0, code);
	assert_accepts(code, last, DAY0, last + 64, FL_OCODE_UNLOCK_7D);
	make(last + 65, FL_OCODE_UNLOCK_7D, DAY0, code);
	assert_check_err(code, last, DAY0, FL_E_CODE_WRONG);
	make(last + 1000, FL_OCODE_UNLOCK_7D, DAY0, code);
	assert_check_err(code, last, DAY0, FL_E_CODE_WRONG);
	/* Recognised as used down to 63 below it. */
	make(last, FL_OCODE_UNLOCK_7D, DAY0, code);
	assert_check_err(code, last, DAY0, FL_E_CODE_USED);
	make(last - 63, FL_OCODE_UNLOCK_7D, DAY0, code);
	assert_check_err(code, last, DAY0, FL_E_CODE_USED);
	make(last - 64, FL_OCODE_UNLOCK_7D, DAY0, code);
	assert_check_err(code, last, DAY0, FL_E_CODE_WRONG);

	/* A fresh device: the first codes work, nothing is "used". */
	for (uint64_t c = 1; c <= 64; c++) {
		make(c, FL_OCODE_UNLOCK_1D, DAY0, code);
		assert_accepts(code, 0, DAY0, c, FL_OCODE_UNLOCK_1D);
	}
	make(65, FL_OCODE_UNLOCK_1D, DAY0, code);
	assert_check_err(code, 0, DAY0, FL_E_CODE_WRONG);
	/* Low bits naming a counter below 1 on a fresh device: action 1,
	 * counter bits 100, day bits 0. */
	assert_check_err("0000000500", 0, DAY0, FL_E_CODE_WRONG);

	/* The top of the counter range. */
	make(FL_OCODE_COUNTER_MAX, FL_OCODE_RELEASE, DAY0, code);
	assert_accepts(code, FL_OCODE_COUNTER_MAX - 1, DAY0,
	               FL_OCODE_COUNTER_MAX, FL_OCODE_RELEASE);
	assert_accepts(code, FL_OCODE_COUNTER_MAX - 64, DAY0,
	               FL_OCODE_COUNTER_MAX, FL_OCODE_RELEASE);
	assert_check_err(code, FL_OCODE_COUNTER_MAX, DAY0, FL_E_CODE_USED);
}

static void test_expiry_72_hours(void **state)
{
	(void)state;
	char code[FL_OCODE_LEN + 1];
	const int64_t d = DAY0;
	const fl_time issued = d * FL_DAY; /* 00:00:00 UTC of day d */

	make(7, FL_OCODE_UNLOCK_30D, d, code);
	assert_int_equal(fl_ocode_expires_at(d) - issued, 72 * 3600);

	/* A device clock still on the day before, then the three days. */
	assert_accepts(code, 6, d - 1, 7, FL_OCODE_UNLOCK_30D);
	assert_accepts(code, 6, d, 7, FL_OCODE_UNLOCK_30D);
	assert_accepts(code, 6, d + 1, 7, FL_OCODE_UNLOCK_30D);
	assert_accepts(code, 6, d + 2, 7, FL_OCODE_UNLOCK_30D);

	/* One second before 72 hours it works; at 72 hours it does not. */
	fl_time t = fl_ocode_expires_at(d) - 1;
	assert_accepts(code, 6, fl_time_day(t, 0), 7, FL_OCODE_UNLOCK_30D);
	t = fl_ocode_expires_at(d);
	assert_check_err(code, 6, fl_time_day(t, 0), FL_E_CODE_EXPIRED);

	/* Recognised as expired for a few more days, then just wrong. */
	assert_check_err(code, 6, d + 3, FL_E_CODE_EXPIRED);
	assert_check_err(code, 6, d + 6, FL_E_CODE_EXPIRED);
	assert_check_err(code, 6, d + 7, FL_E_CODE_WRONG);
	assert_check_err(code, 6, d + 100, FL_E_CODE_WRONG);
	/* Issued more than a day after the device's today. */
	assert_check_err(code, 6, d - 2, FL_E_CODE_WRONG);

	/* Negative days (before 1970) follow the same rule. */
	make(7, FL_OCODE_UNLOCK_30D, -3, code);
	assert_accepts(code, 6, -1, 7, FL_OCODE_UNLOCK_30D);
	assert_check_err(code, 6, 0, FL_E_CODE_EXPIRED);
	assert_int_equal(fl_ocode_expires_at(-3), 0);
	assert_int_equal(fl_ocode_expires_at(INT64_MAX),
	                 (FL_OCODE_DAY_MAX + 3LL) * FL_DAY);
	assert_int_equal(fl_ocode_expires_at(INT64_MIN),
	                 (FL_OCODE_DAY_MIN + 3LL) * FL_DAY);
}

static void test_wrong_secret(void **state)
{
	(void)state;
	uint8_t other[FL_OCODE_SECRET_LEN];
	char code[FL_OCODE_LEN + 1];
	uint64_t c;
	enum fl_ocode_action a;

	memcpy(other, secret, sizeof(other));
	other[31] ^= 1;
	for (uint64_t i = 1; i <= 64; i++) {
		make(i, (enum fl_ocode_action)(i % 5 + 1), DAY0, code);
		assert_int_equal(check_with(other, code, 0, DAY0, &c, &a),
		                 FL_E_CODE_WRONG);
		assert_int_equal(check(code, 0, DAY0, &c, &a), FL_OK);
	}
}

/* Every single-digit change and every adjacent swap of a code is refused. */
static void test_typos(void **state)
{
	(void)state;
	char good[FL_OCODE_LEN + 1], s[FL_OCODE_LEN + 1];

	make(5, FL_OCODE_UNLOCK_7D, DAY0, good);
	for (int i = 0; i < FL_OCODE_LEN; i++) {
		for (char d = '0'; d <= '9'; d++) {
			if (d == good[i])
				continue;
			memcpy(s, good, sizeof(s));
			s[i] = d;
			assert_check_err(s, 4, DAY0, FL_E_CODE_WRONG);
		}
	}
	for (int i = 0; i + 1 < FL_OCODE_LEN; i++) {
		if (good[i] == good[i + 1])
			continue;
		memcpy(s, good, sizeof(s));
		s[i] = good[i + 1];
		s[i + 1] = good[i];
		assert_check_err(s, 4, DAY0, FL_E_CODE_WRONG);
	}
}

/* The whole tag is compared: a code whose tag differs in any one bit
 * (everything else equal) is refused. */
static void test_tag_bits(void **state)
{
	(void)state;
	char good[FL_OCODE_LEN + 1], s[FL_OCODE_LEN + 1];
	unsigned long long v, tag, low;

	make(17, FL_OCODE_UNLOCK_30D, DAY0, good);
	v = strtoull(good, NULL, 10);
	tag = v / 5120;
	low = v % 5120;
	for (int bit = 0; bit < 21; bit++) {
		unsigned long long t = tag ^ (1ULL << bit);
		if (t >= 1953125)
			continue;
		snprintf(s, sizeof(s), "%010llu", t * 5120 + low);
		assert_check_err(s, 16, DAY0, FL_E_CODE_WRONG);
	}
	assert_accepts(good, 16, DAY0, 17, FL_OCODE_UNLOCK_30D);
}

/* With last = 100 and today = DAY0 exactly 5 * 64 * 4 codes are accepted:
 * each of them decodes to its own claim, and random codes are not. */
static void test_acceptance_set(void **state)
{
	(void)state;
	static char codes[5 * 64 * 4][FL_OCODE_LEN + 1];
	size_t n = 0;

	for (int a = 1; a <= 5; a++)
		for (uint64_t c = 101; c <= 164; c++)
			for (int64_t d = DAY0 - 2; d <= DAY0 + 1; d++) {
				make(c, (enum fl_ocode_action)a, d, codes[n]);
				assert_accepts(codes[n], 100, DAY0, c,
				               (enum fl_ocode_action)a);
				n++;
			}
	/* Distinct: the low part differs whenever the claim does. */
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			assert_string_not_equal(codes[i], codes[j]);

	uint64_t x = 88172645463325252ULL;
	char s[FL_OCODE_LEN + 1];
	uint64_t c;
	enum fl_ocode_action a;
	int accepted = 0;
	for (int i = 0; i < 100000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		snprintf(s, sizeof(s), "%010llu",
		         (unsigned long long)(x % 10000000000ULL));
		if (check(s, 100, DAY0, &c, &a) == FL_OK)
			accepted++;
	}
	assert_int_equal(accepted, 0);
}

static void test_format(void **state)
{
	(void)state;
	char code[FL_OCODE_LEN + 1], typed[64];

	make(3, FL_OCODE_UNLOCK_3D, DAY0, code);
	/* People type spaces and dashes anywhere. */
	snprintf(typed, sizeof(typed), "%.3s-%.3s-%.4s", code, code + 3,
	         code + 6);
	assert_accepts(typed, 2, DAY0, 3, FL_OCODE_UNLOCK_3D);
	snprintf(typed, sizeof(typed), "  %.5s %.5s  ", code, code + 5);
	assert_accepts(typed, 2, DAY0, 3, FL_OCODE_UNLOCK_3D);
	snprintf(typed, sizeof(typed), "-%c-%c-%c-%c-%c-%c-%c-%c-%c-%c-",
	         code[0], code[1], code[2], code[3], code[4], code[5], code[6],
	         code[7], code[8], code[9]);
	assert_accepts(typed, 2, DAY0, 3, FL_OCODE_UNLOCK_3D);

	static const char *const bad[] = {
	        "",
	        " - ",
	        "123456789",
	        "12345678901",
	        "123-456-789",
	        "1234-5678-901",
	        "12345a7890",
	        "12345.67890",
	        "12345_67890",
	        "12345/67890",
	        "12345\t67890",
	        "+1234567890",
	        "123456789\xef\xbc\x90", /* full-width zero */
	        "12345678901234567890123456789012345678901234567890",
	        "abcdefghij",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_check_err(bad[i], 0, DAY0, FL_E_CODE_FORMAT);

	uint64_t c = 5;
	enum fl_ocode_action a = FL_OCODE_RELEASE;
	assert_int_equal(fl_ocode_check(secret, NULL, 0, 0, DAY0, &c, &a),
	                 FL_E_CODE_FORMAT);
	assert_int_equal(c, 0);
	assert_int_equal(a, 0);
	/* The length given is what counts. */
	memcpy(typed, code, FL_OCODE_LEN);
	memcpy(typed + FL_OCODE_LEN, "99", 3);
	assert_int_equal(
	        fl_ocode_check(secret, typed, FL_OCODE_LEN, 2, DAY0, &c, &a),
	        FL_OK);
	assert_int_equal(fl_ocode_check(secret, typed, FL_OCODE_LEN + 1, 2,
	                                DAY0, &c, &a),
	                 FL_E_CODE_FORMAT);
	assert_int_equal(c, 0);
}

static void test_ranges(void **state)
{
	(void)state;
	char out[FL_OCODE_LEN + 1];

	memset(out, 'x', sizeof(out));
	assert_int_equal(
	        fl_ocode_make(secret, 0, FL_OCODE_UNLOCK_1D, DAY0, out),
	        FL_E_RANGE);
	assert_string_equal(out, "");
	assert_int_equal(fl_ocode_make(secret, FL_OCODE_COUNTER_MAX + 1ULL,
	                               FL_OCODE_UNLOCK_1D, DAY0, out),
	                 FL_E_RANGE);
	assert_int_equal(fl_ocode_make(secret, 1, FL_OCODE_UNLOCK_1D,
	                               FL_OCODE_DAY_MAX + 1, out),
	                 FL_E_RANGE);
	assert_int_equal(fl_ocode_make(secret, 1, FL_OCODE_UNLOCK_1D,
	                               FL_OCODE_DAY_MIN - 1, out),
	                 FL_E_RANGE);
	memset(out, 'x', sizeof(out));
	assert_int_equal(
	        fl_ocode_make(secret, 1, (enum fl_ocode_action)0, DAY0, out),
	        FL_E_INVALID);
	assert_string_equal(out, "");
	assert_int_equal(
	        fl_ocode_make(secret, 1, (enum fl_ocode_action)6, DAY0, out),
	        FL_E_INVALID);
	/* The day bounds are those of fl_time. */
	assert_int_equal(FL_OCODE_DAY_MIN, fl_time_day(FL_TIME_MIN, 0));
	assert_int_equal(FL_OCODE_DAY_MAX, fl_time_day(FL_TIME_MAX, 0));

	make(1, FL_OCODE_UNLOCK_1D, DAY0, out);
	assert_check_err(out, FL_OCODE_COUNTER_MAX + 1ULL, DAY0, FL_E_RANGE);
	assert_check_err(out, UINT64_MAX, DAY0, FL_E_RANGE);
	assert_check_err(out, 0, FL_OCODE_DAY_MAX + 1, FL_E_RANGE);
	assert_check_err(out, 0, FL_OCODE_DAY_MIN - 1, FL_E_RANGE);
	assert_check_err(out, 0, INT64_MIN, FL_E_RANGE);
	/* At the ends of the day range nothing overflows. */
	make(1, FL_OCODE_UNLOCK_1D, FL_OCODE_DAY_MIN, out);
	assert_accepts(out, 0, FL_OCODE_DAY_MIN, 1, FL_OCODE_UNLOCK_1D);
	assert_check_err("0000000000", 0, FL_OCODE_DAY_MIN, FL_E_CODE_WRONG);
	assert_check_err("9999999999", 0, FL_OCODE_DAY_MAX, FL_E_CODE_WRONG);
}

static void test_tries(void **state)
{
	(void)state;
	uint32_t tries = 0;
	int64_t last = INT64_MIN;

	/* Five tries on day d, the sixth refused, allowed again on d+1. */
	for (int i = 0; i < FL_OCODE_TRIES_PER_DAY; i++) {
		assert_int_equal(fl_ocode_tries_check(tries, last, DAY0),
		                 FL_OK);
		fl_ocode_tries_record(&tries, &last, DAY0);
	}
	assert_int_equal(tries, 5);
	assert_int_equal(last, DAY0);
	assert_int_equal(fl_ocode_tries_check(tries, last, DAY0),
	                 FL_E_CODE_TRIES);
	/* A clock that went back is still today. */
	assert_int_equal(fl_ocode_tries_check(tries, last, DAY0 - 1),
	                 FL_E_CODE_TRIES);
	fl_ocode_tries_record(&tries, &last, DAY0 - 1);
	assert_int_equal(tries, 6);
	assert_int_equal(last, DAY0);

	assert_int_equal(fl_ocode_tries_check(tries, last, DAY0 + 1), FL_OK);
	fl_ocode_tries_record(&tries, &last, DAY0 + 1);
	assert_int_equal(tries, 1);
	assert_int_equal(last, DAY0 + 1);
	assert_int_equal(fl_ocode_tries_check(4, DAY0, DAY0), FL_OK);
	assert_int_equal(fl_ocode_tries_check(5, DAY0, DAY0), FL_E_CODE_TRIES);
	assert_int_equal(fl_ocode_tries_check(UINT32_MAX, DAY0, DAY0 + 1),
	                 FL_OK);

	tries = UINT32_MAX;
	last = DAY0;
	fl_ocode_tries_record(&tries, &last, DAY0);
	assert_int_equal(tries, UINT32_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_known_answers),
	        cmocka_unit_test(test_every_action),
	        cmocka_unit_test(test_single_use),
	        cmocka_unit_test(test_lower_counters_retired),
	        cmocka_unit_test(test_counter_window),
	        cmocka_unit_test(test_expiry_72_hours),
	        cmocka_unit_test(test_wrong_secret),
	        cmocka_unit_test(test_typos),
	        cmocka_unit_test(test_tag_bits),
	        cmocka_unit_test(test_acceptance_set),
	        cmocka_unit_test(test_format),
	        cmocka_unit_test(test_ranges),
	        cmocka_unit_test(test_tries),
	};
	return cmocka_run_group_tests_name("ocode", tests, setup, NULL);
}
