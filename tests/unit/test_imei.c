/* Unit tests for core/imei: Luhn, separators, every error, TAC. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/imei.h"

/* Parses a NUL-terminated string. */
static fl_err parse(const char *s, char out[FL_IMEI_LEN + 1])
{
	memset(out, 'x', FL_IMEI_LEN + 1);
	return fl_imei_parse(s, strlen(s), out);
}

/* Asserts that s is rejected with want and leaves out empty. */
static void assert_rejected(const char *s, fl_err want)
{
	char out[FL_IMEI_LEN + 1];
	fl_err got = parse(s, out);

	if (got != want)
		fail_msg("\"%s\": got %s, want %s", s, fl_errname(got),
		         fl_errname(want));
	assert_string_equal(out, "");
}

static void test_valid_real_world(void **state)
{
	(void)state;
	static const struct {
		const char *in, *digits;
	} cases[] = {
	        {"352099001761481", "352099001761481"},
	        {"35-209900-176148-1", "352099001761481"},
	        {"35 209900 176148 1", "352099001761481"},
	        {"35/209900/176148/1", "352099001761481"},
	        {"490154203237518", "490154203237518"},
	        {"49-015420-323751-8", "490154203237518"},
	        {"356938035643809", "356938035643809"},
	        {"353325110739400", "353325110739400"},
	        {"867235021453786", "867235021453786"},
	        {"000000000000000", "000000000000000"},
	        {"999999999999994", "999999999999994"},
	};
	char out[FL_IMEI_LEN + 1];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(parse(cases[i].in, out), FL_OK);
		assert_string_equal(out, cases[i].digits);
	}
}

static void test_separators_anywhere(void **state)
{
	(void)state;
	static const char *const ok[] = {
	        "-352099001761481-",
	        "3-5-2-0-9-9-0-0-1-7-6-1-4-8-1",
	        " / - 352099001761481 ",
	        "35--20 //9900176148 1",
	        "352099001761481/",
	        "   352099001761481",
	        "3/5 2-0/9 9-0/0 1-7/6 1-4/8 1",
	};
	char out[FL_IMEI_LEN + 1];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(parse(ok[i], out), FL_OK);
		assert_string_equal(out, "352099001761481");
	}
	/* Separators alone are no digits at all. */
	assert_rejected("- / -", FL_E_IMEI_LENGTH);
	assert_rejected(" ", FL_E_IMEI_LENGTH);
}

static void test_empty(void **state)
{
	(void)state;
	char out[FL_IMEI_LEN + 1] = "xxxxxxxxxxxxxxx";

	assert_rejected("", FL_E_IMEI_LENGTH);
	assert_int_equal(fl_imei_parse(NULL, 0, out), FL_E_IMEI_LENGTH);
	assert_string_equal(out, "");
	memset(out, 'x', sizeof(out));
	assert_int_equal(fl_imei_parse(NULL, 5, out), FL_E_INVALID);
	assert_string_equal(out, "");
}

static void test_not_digits(void **state)
{
	(void)state;
	static const char *const bad[] = {
	        "35209900176148a",
	        "a352099001761481",
	        "35.209900.176148.1", /* dots are not separators */
	        "35_209900_176148_1",
	        "35\t209900176148 1",
	        "35209900176148\n1",
	        "+352099001761481",
	        "35209900\xef\xbc\x93"
	        "176148", /* a full-width digit */
	        "\xff",
	        "abc",
	        /* a stray letter wins over a wrong count */
	        "1234567890123456789x",
	        "1x",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_rejected(bad[i], FL_E_IMEI_DIGITS);
}

static void test_embedded_nul(void **state)
{
	(void)state;
	char out[FL_IMEI_LEN + 1];
	const char s[] = "3520990\0"
	                 "01761481";

	memset(out, 'x', sizeof(out));
	assert_int_equal(fl_imei_parse(s, sizeof(s) - 1, out),
	                 FL_E_IMEI_DIGITS);
	assert_string_equal(out, "");
	/* The length given is what counts, not a NUL terminator. */
	assert_int_equal(fl_imei_parse("352099001761481999", 15, out), FL_OK);
	assert_string_equal(out, "352099001761481");
	assert_int_equal(fl_imei_parse("352099001761481", 14, out),
	                 FL_E_IMEI_LENGTH);
}

static void test_wrong_length(void **state)
{
	(void)state;
	assert_rejected("1", FL_E_IMEI_LENGTH);
	assert_rejected("35209900176148", FL_E_IMEI_LENGTH);     /* 14 */
	assert_rejected("35-209900-176148", FL_E_IMEI_LENGTH);   /* 14 */
	assert_rejected("35209900176148100", FL_E_IMEI_LENGTH);  /* 17 */
	assert_rejected("352099001761481000", FL_E_IMEI_LENGTH); /* 18 */
}

static void test_imeisv(void **state)
{
	(void)state;
	assert_rejected("3520990017614801", FL_E_IMEI_IMEISV);
	assert_rejected("35-209900-176148-01", FL_E_IMEI_IMEISV);
	assert_rejected("35 209900 176148 23", FL_E_IMEI_IMEISV);
}

static void test_very_long(void **state)
{
	(void)state;
	size_t n = 1000000;
	char *s = malloc(n + 1);
	char out[FL_IMEI_LEN + 1];

	assert_non_null(s);
	memset(s, '7', n);
	s[n] = '\0';
	assert_rejected(s, FL_E_IMEI_LENGTH);
	memset(s, '-', n);
	assert_rejected(s, FL_E_IMEI_LENGTH);
	/* A valid IMEI drowned in separators is still that IMEI. */
	memcpy(s + n / 2, "352099001761481", 15);
	assert_int_equal(parse(s, out), FL_OK);
	assert_string_equal(out, "352099001761481");
	/* A letter at the very end is still found. */
	memset(s, '1', n);
	s[n - 1] = 'z';
	assert_rejected(s, FL_E_IMEI_DIGITS);
	free(s);
}

static void test_bad_check_digit(void **state)
{
	(void)state;
	char s[] = "35209900176148?";

	for (char c = '0'; c <= '9'; c++) {
		s[14] = c;
		if (c == '1')
			continue;
		assert_rejected(s, FL_E_IMEI_CHECK);
	}
	assert_rejected("35-209900-176148-2", FL_E_IMEI_CHECK);
	assert_rejected("490154203237519", FL_E_IMEI_CHECK);
}

/* Luhn catches every single-digit error and every adjacent transposition
 * except 09 <-> 90. */
static void test_typos_detected(void **state)
{
	(void)state;
	const char *good = "352099001761481";
	char s[16];

	for (int i = 0; i < 15; i++) {
		for (char c = '0'; c <= '9'; c++) {
			if (c == good[i])
				continue;
			memcpy(s, good, 16);
			s[i] = c;
			assert_rejected(s, FL_E_IMEI_CHECK);
		}
	}
	for (int i = 0; i < 14; i++) {
		memcpy(s, good, 16);
		char a = s[i], b = s[i + 1];
		if (a == b || (a == '0' && b == '9') || (a == '9' && b == '0'))
			continue;
		s[i] = b;
		s[i + 1] = a;
		assert_rejected(s, FL_E_IMEI_CHECK);
	}
}

static void test_check_digit(void **state)
{
	(void)state;
	assert_int_equal(fl_imei_check_digit("35209900176148"), '1');
	assert_int_equal(fl_imei_check_digit("49015420323751"), '8');
	assert_int_equal(fl_imei_check_digit("35693803564380"), '9');
	assert_int_equal(fl_imei_check_digit("01234567890123"), '7');
	assert_int_equal(fl_imei_check_digit("00000000000000"), '0');
	assert_int_equal(fl_imei_check_digit("99999999999999"), '4');
}

/* Random 14-digit bodies: the computed digit is accepted, the nine others
 * are not. */
static void test_random_bodies(void **state)
{
	(void)state;
	uint32_t x = 12345;
	char s[16], out[FL_IMEI_LEN + 1];

	for (int k = 0; k < 2000; k++) {
		for (int i = 0; i < 14; i++) {
			x = x * 1103515245u + 12345u;
			s[i] = (char)('0' + (x >> 16) % 10);
		}
		s[14] = fl_imei_check_digit(s);
		s[15] = '\0';
		assert_int_equal(parse(s, out), FL_OK);
		assert_string_equal(out, s);
		s[14] = (char)('0' + (s[14] - '0' + 1 + k % 9) % 10);
		assert_rejected(s, FL_E_IMEI_CHECK);
	}
}

static void test_tac(void **state)
{
	(void)state;
	char out[FL_IMEI_LEN + 1], tac[FL_TAC_LEN + 1];

	assert_int_equal(parse("35-209900-176148-1", out), FL_OK);
	fl_imei_tac(out, tac);
	assert_string_equal(tac, "35209900");
	assert_int_equal(parse("490154203237518", out), FL_OK);
	fl_imei_tac(out, tac);
	assert_string_equal(tac, "49015420");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_valid_real_world),
	        cmocka_unit_test(test_separators_anywhere),
	        cmocka_unit_test(test_empty),
	        cmocka_unit_test(test_not_digits),
	        cmocka_unit_test(test_embedded_nul),
	        cmocka_unit_test(test_wrong_length),
	        cmocka_unit_test(test_imeisv),
	        cmocka_unit_test(test_very_long),
	        cmocka_unit_test(test_bad_check_digit),
	        cmocka_unit_test(test_typos_detected),
	        cmocka_unit_test(test_check_digit),
	        cmocka_unit_test(test_random_bodies),
	        cmocka_unit_test(test_tac),
	};
	return cmocka_run_group_tests_name("imei", tests, NULL, NULL);
}
