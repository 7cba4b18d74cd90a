/* test_lendtext.c - currency codes and E.164 contact numbers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "core/lendtext.h"

static void test_currency(void **state)
{
	(void)state;
	assert_true(fl_currency_known("KES"));
	assert_true(fl_currency_known("USD"));
	assert_true(fl_currency_known("EUR"));
	assert_true(fl_currency_known("UGX"));
	assert_true(fl_currency_known("AED")); /* first */
	assert_true(fl_currency_known("ZWL")); /* last */
	/* three capitals that are no currency */
	assert_false(fl_currency_known("ABC"));
	assert_false(fl_currency_known("KEZ"));
	/* metals, test and "no currency" codes are not money to repay in */
	assert_false(fl_currency_known("XAU"));
	assert_false(fl_currency_known("XTS"));
	assert_false(fl_currency_known("XXX"));
	/* only the code as the standard writes it */
	assert_false(fl_currency_known("kes"));
	assert_false(fl_currency_known("KE"));
	assert_false(fl_currency_known("KESS"));
	assert_false(fl_currency_known(""));
	assert_false(fl_currency_known(NULL));
}

static void test_currency_table_sorted(void **state)
{
	/* every code of the form the table holds is found iff listed: a
	 * table out of order would lose some to bsearch */
	static const char *const known[] = {"GBP", "JPY", "NGN", "TZS",
	                                    "XOF", "ZAR", "RWF", "MWK"};
	(void)state;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		assert_true(fl_currency_known(known[i]));
}

static void test_phone(void **state)
{
	(void)state;
	assert_true(fl_phone_e164("+254700000001"));
	assert_true(fl_phone_e164("+14155550123"));
	assert_true(fl_phone_e164("+1234567"));         /* 7 digits */
	assert_true(fl_phone_e164("+123456789012345")); /* 15 digits */
	assert_false(fl_phone_e164("+1234567890123456"));
	assert_false(fl_phone_e164("+123456"));
	assert_false(fl_phone_e164("0700000001"));
	assert_false(fl_phone_e164("254700000001"));
	assert_false(fl_phone_e164("+0254700000001"));
	assert_false(fl_phone_e164("+254 700 000001"));
	assert_false(fl_phone_e164("+254-700000001"));
	assert_false(fl_phone_e164("call us"));
	assert_false(fl_phone_e164("+"));
	assert_false(fl_phone_e164(""));
	assert_false(fl_phone_e164(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_currency),
	        cmocka_unit_test(test_currency_table_sorted),
	        cmocka_unit_test(test_phone),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
