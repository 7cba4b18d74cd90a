/* Unit tests for core/err: every code has a distinct message and name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"

static void test_ok_is_zero(void **state)
{
	(void)state;
	assert_int_equal(FL_OK, 0);
	assert_string_equal(fl_strerror(FL_OK), "success");
	assert_string_equal(fl_errname(FL_E_NOMEM), "FL_E_NOMEM");
}

static void test_every_code_has_a_message(void **state)
{
	(void)state;
	for (int i = 0; i < FL_E__COUNT; i++) {
		assert_non_null(fl_strerror((fl_err)i));
		assert_true(strlen(fl_strerror((fl_err)i)) > 0);
		assert_true(strncmp(fl_errname((fl_err)i), "FL_", 3) == 0);
		for (int j = 0; j < i; j++)
			assert_string_not_equal(fl_errname((fl_err)i),
			                        fl_errname((fl_err)j));
	}
}

static void test_out_of_range(void **state)
{
	(void)state;
	assert_string_equal(fl_strerror((fl_err)-1), "unknown error");
	assert_string_equal(fl_strerror(FL_E__COUNT), "unknown error");
	assert_string_equal(fl_errname((fl_err)9999), "FL_E_UNKNOWN");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_ok_is_zero),
	        cmocka_unit_test(test_every_code_has_a_message),
	        cmocka_unit_test(test_out_of_range),
	};
	return cmocka_run_group_tests_name("err", tests, NULL, NULL);
}
