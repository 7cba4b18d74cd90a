/* Unit tests for core/restrict: names both ways, guaranteed capabilities,
 * lists, masks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/restrict.h"

static const struct {
	uint64_t bit;
	const char *name;
} restrictions[] = {
        {FL_R_APPS, "apps"},
        {FL_R_CAMERA, "camera"},
        {FL_R_INSTALL_APPS, "install_apps"},
        {FL_R_UNINSTALL_APPS, "uninstall_apps"},
        {FL_R_OUTGOING_CALLS, "outgoing_calls"},
        {FL_R_SMS, "sms"},
        {FL_R_USB_TRANSFER, "usb_transfer"},
        {FL_R_USB_DEBUGGING, "usb_debugging"},
        {FL_R_SAFE_BOOT, "safe_boot"},
        {FL_R_FACTORY_RESET, "factory_reset"},
        {FL_R_ADD_USER, "add_user"},
        {FL_R_BLUETOOTH, "bluetooth"},
        {FL_R_HOTSPOT, "hotspot"},
        {FL_R_SETTINGS, "settings"},
        {FL_R_NOTIFICATIONS, "notifications"},
        {FL_R_STATUS_BAR, "status_bar"},
};
#define N_R (sizeof(restrictions) / sizeof(restrictions[0]))

static const struct {
	uint32_t bit;
	const char *name;
} guaranteed[] = {
        {FL_G_EMERGENCY_CALLS, "emergency_calls"},
        {FL_G_LENDER_CALLS, "lender_calls"},
        {FL_G_DIALER, "dialer"},
        {FL_G_WIFI_SETTINGS, "wifi_settings"},
        {FL_G_DATA_SETTINGS, "mobile_data_settings"},
        {FL_G_PAYMENT_APP, "payment_app"},
};
#define N_G (sizeof(guaranteed) / sizeof(guaranteed[0]))

static fl_err parse(const char *name, uint64_t *bit)
{
	*bit = 0xdead;
	return fl_restrict_parse(name, strlen(name), bit);
}

static void test_names_both_ways(void **state)
{
	(void)state;
	uint64_t bit, all = 0;

	assert_int_equal(N_R, 16);
	for (size_t i = 0; i < N_R; i++) {
		assert_string_equal(fl_restrict_name(restrictions[i].bit),
		                    restrictions[i].name);
		assert_int_equal(parse(restrictions[i].name, &bit), FL_OK);
		assert_int_equal(bit, restrictions[i].bit);
		assert_int_equal(all & bit, 0);
		all |= bit;
	}
	assert_int_equal(all, FL_R_ALL);
}

static void test_name_of_non_single_bits(void **state)
{
	(void)state;
	assert_null(fl_restrict_name(0));
	assert_null(fl_restrict_name(FL_R_CAMERA | FL_R_SMS));
	assert_null(fl_restrict_name(FL_R_ALL));
	assert_null(fl_restrict_name(UINT64_C(1) << 16));
	assert_null(fl_restrict_name(UINT64_C(1) << 63));
	assert_null(fl_restrict_name(UINT64_MAX));
}

static void test_guaranteed(void **state)
{
	(void)state;
	uint64_t bit;
	uint32_t all = 0;

	for (size_t i = 0; i < N_G; i++) {
		assert_string_equal(fl_guaranteed_name(guaranteed[i].bit),
		                    guaranteed[i].name);
		assert_int_equal(parse(guaranteed[i].name, &bit),
		                 FL_E_RESTRICT_GUARANTEED);
		assert_int_equal(bit, 0);
		all |= guaranteed[i].bit;
	}
	assert_int_equal(all, FL_G_ALL);
	assert_null(fl_guaranteed_name(0));
	assert_null(fl_guaranteed_name(FL_G_DIALER | FL_G_PAYMENT_APP));
	assert_null(fl_guaranteed_name(1u << 6));
	assert_null(fl_guaranteed_name(1u << 31));
}

static void test_unknown(void **state)
{
	(void)state;
	static const char *const bad[] = {
	        "",
	        "Camera",
	        "CAMERA",
	        " camera",
	        "camera ",
	        "cam",
	        "cameras",
	        "install-apps",
	        "installapps",
	        "FL_R_CAMERA",
	        "emergency",
	        "Dialer",
	        "wifi",
	        "payment_app ",
	        "camera,sms",
	        "all",
	};
	uint64_t bit;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fl_err err = parse(bad[i], &bit);
		if (err != FL_E_RESTRICT_UNKNOWN)
			fail_msg("\"%s\": %s", bad[i], fl_errname(err));
		assert_int_equal(bit, 0);
	}
	/* The length given is what counts. */
	assert_int_equal(fl_restrict_parse("camera", 3, &bit),
	                 FL_E_RESTRICT_UNKNOWN);
	assert_int_equal(fl_restrict_parse("smsx", 3, &bit), FL_OK);
	assert_int_equal(bit, FL_R_SMS);
	assert_int_equal(fl_restrict_parse("sms\0", 4, &bit),
	                 FL_E_RESTRICT_UNKNOWN);
	assert_int_equal(fl_restrict_parse(NULL, 0, &bit),
	                 FL_E_RESTRICT_UNKNOWN);
	assert_int_equal(bit, 0);
}

static void test_parse_list(void **state)
{
	(void)state;
	uint64_t mask = 1;
	size_t bad = 99;

	const char *const ok[] = {"camera", "sms", "camera", "status_bar"};
	assert_int_equal(fl_restrict_parse_list(ok, 4, &mask, &bad), FL_OK);
	assert_int_equal(mask, FL_R_CAMERA | FL_R_SMS | FL_R_STATUS_BAR);
	assert_int_equal(fl_restrict_parse_list(ok, 4, &mask, NULL), FL_OK);
	assert_int_equal(mask, FL_R_CAMERA | FL_R_SMS | FL_R_STATUS_BAR);

	assert_int_equal(fl_restrict_parse_list(NULL, 0, &mask, &bad), FL_OK);
	assert_int_equal(mask, 0);

	const char *const guar[] = {"camera", "sms", "dialer", "bogus"};
	mask = 1;
	assert_int_equal(fl_restrict_parse_list(guar, 4, &mask, &bad),
	                 FL_E_RESTRICT_GUARANTEED);
	assert_int_equal(mask, 0);
	assert_int_equal(bad, 2);

	const char *const unk[] = {"bogus", "dialer"};
	mask = 1;
	assert_int_equal(fl_restrict_parse_list(unk, 2, &mask, &bad),
	                 FL_E_RESTRICT_UNKNOWN);
	assert_int_equal(mask, 0);
	assert_int_equal(bad, 0);
	mask = 1;
	assert_int_equal(fl_restrict_parse_list(unk, 2, &mask, NULL),
	                 FL_E_RESTRICT_UNKNOWN);
	assert_int_equal(mask, 0);

	const char *const with_null[] = {"camera", NULL};
	assert_int_equal(fl_restrict_parse_list(with_null, 2, &mask, &bad),
	                 FL_E_RESTRICT_UNKNOWN);
	assert_int_equal(bad, 1);

	/* Every name at once is FL_R_ALL. */
	const char *all[N_R];
	for (size_t i = 0; i < N_R; i++)
		all[N_R - 1 - i] = restrictions[i].name;
	assert_int_equal(fl_restrict_parse_list(all, N_R, &mask, &bad), FL_OK);
	assert_int_equal(mask, FL_R_ALL);
}

struct collect {
	char buf[512];
	int calls;
};

static void collect_name(const char *name, void *ctx)
{
	struct collect *c = ctx;
	size_t used = strlen(c->buf);

	snprintf(c->buf + used, sizeof(c->buf) - used, "%s%s", used ? "," : "",
	         name);
	c->calls++;
}

static void test_each(void **state)
{
	(void)state;
	struct collect c = {{0}, 0};

	fl_restrict_each(FL_R_STATUS_BAR | FL_R_APPS | FL_R_SMS, collect_name,
	                 &c);
	assert_string_equal(c.buf, "apps,sms,status_bar");
	assert_int_equal(c.calls, 3);

	memset(&c, 0, sizeof(c));
	fl_restrict_each(0, collect_name, &c);
	assert_int_equal(c.calls, 0);

	/* Bits outside FL_R_ALL are skipped. */
	memset(&c, 0, sizeof(c));
	fl_restrict_each(~FL_R_ALL | FL_R_CAMERA, collect_name, &c);
	assert_string_equal(c.buf, "camera");
	assert_int_equal(c.calls, 1);

	memset(&c, 0, sizeof(c));
	fl_restrict_each(UINT64_MAX, collect_name, &c);
	assert_int_equal(c.calls, 16);
	assert_non_null(strstr(c.buf, "apps,camera,install_apps,"));
}

static void test_check_mask(void **state)
{
	(void)state;
	assert_int_equal(fl_restrict_check_mask(0), FL_OK);
	assert_int_equal(fl_restrict_check_mask(FL_R_ALL), FL_OK);
	assert_int_equal(fl_restrict_check_mask(FL_R_DEFAULT_LOCK), FL_OK);
	assert_int_equal(fl_restrict_check_mask(UINT64_C(1) << 16),
	                 FL_E_RESTRICT_UNKNOWN);
	assert_int_equal(
	        fl_restrict_check_mask(FL_R_CAMERA | (UINT64_C(1) << 63)),
	        FL_E_RESTRICT_UNKNOWN);
	assert_int_equal(fl_restrict_check_mask(UINT64_MAX),
	                 FL_E_RESTRICT_UNKNOWN);
}

static void test_default_lock(void **state)
{
	(void)state;
	/* The default lock restricts everything but Bluetooth. */
	assert_int_equal(FL_R_DEFAULT_LOCK & FL_R_BLUETOOTH, 0);
	assert_int_equal(FL_R_DEFAULT_LOCK | FL_R_BLUETOOTH, FL_R_ALL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_names_both_ways),
	        cmocka_unit_test(test_name_of_non_single_bits),
	        cmocka_unit_test(test_guaranteed),
	        cmocka_unit_test(test_unknown),
	        cmocka_unit_test(test_parse_list),
	        cmocka_unit_test(test_each),
	        cmocka_unit_test(test_check_mask),
	        cmocka_unit_test(test_default_lock),
	};
	return cmocka_run_group_tests_name("restrict", tests, NULL, NULL);
}
