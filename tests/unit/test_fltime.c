/* Unit tests for core/fltime: RFC 3339 grammar and validity, calendar
 * arithmetic over the whole range, offsets, days, durations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/fltime.h"

static fl_err parse(const char *s, fl_time *t)
{
	*t = 12345; /* must be overwritten either way */
	return fl_time_parse(s, strlen(s), t);
}

static void assert_time(const char *s, fl_time want)
{
	fl_time t;
	fl_err err = parse(s, &t);

	if (err != FL_OK)
		fail_msg("\"%s\": %s", s, fl_errname(err));
	if (t != want)
		fail_msg("\"%s\": got %lld, want %lld", s, (long long)t,
		         (long long)want);
}

static void assert_time_err(const char *s, fl_err want)
{
	fl_time t;
	fl_err err = parse(s, &t);

	if (err != want)
		fail_msg("\"%s\": got %s, want %s", s, fl_errname(err),
		         fl_errname(want));
	assert_int_equal(t, 0);
}

static void assert_format(fl_time t, const char *want)
{
	char out[FL_TIME_STR_LEN];

	fl_time_format(t, out);
	assert_string_equal(out, want);
}

static void test_known_instants(void **state)
{
	(void)state;
	/* Reference values from an independent implementation (Python's
	 * calendar.timegm). */
	assert_time("1970-01-01T00:00:00Z", 0);
	assert_time("1969-12-31T23:59:59Z", -1);
	assert_time("2026-11-23T14:08:13Z", 1795442893);
	assert_time("2000-02-29T00:00:00Z", 951782400);
	assert_time("1900-03-01T00:00:00Z", -2203891200LL);
	assert_time("1600-01-01T00:00:00Z", -11676096000LL);
	assert_time("1969-07-20T20:17:40Z", -14182940);
	assert_time("2038-01-19T03:14:08Z", 2147483648LL);
	assert_time("1583-10-15T12:34:56Z", -12187711504LL);
	assert_time("0001-01-01T00:00:00Z", FL_TIME_MIN);
	assert_time("9999-12-31T23:59:59Z", FL_TIME_MAX);
}

static void test_case_and_fraction(void **state)
{
	(void)state;
	assert_time("2026-11-23t14:08:13z", 1795442893);
	assert_time("2026-11-23T14:08:13.999999999Z", 1795442893);
	assert_time("2026-11-23T14:08:13.0Z", 1795442893);
	assert_time("2026-11-23t17:08:13.25+03:00", 1795442893);
	/* Truncation is towards the past, also before the epoch. */
	assert_time("1969-12-31T23:59:59.999Z", -1);
	assert_time("1969-12-31T23:59:59.5-00:30", 1799);
	/* Any number of fraction digits. */
	assert_time("2026-11-23T14:08:13."
	            "12345678901234567890123456789012345678901234567890Z",
	            1795442893);
}

static void test_offsets(void **state)
{
	(void)state;
	/* An offset moves the instant, not the clock reading. */
	assert_time("2026-11-23T17:08:13+03:00", 1795442893);
	assert_time("2026-11-23T09:08:13-05:00", 1795442893);
	assert_time("2026-11-23T19:38:13+05:30", 1795442893);
	assert_time("2026-11-23T14:08:13+00:00", 1795442893);
	assert_time("2026-11-23T14:08:13-00:00", 1795442893);
	assert_time("2026-11-24T13:59:13+23:51", 1795442893);
	/* Crossing midnight and the year, both ways. */
	fl_time t;
	char out[FL_TIME_STR_LEN];
	assert_int_equal(parse("2026-01-01T01:00:00+03:00", &t), FL_OK);
	fl_time_format(t, out);
	assert_string_equal(out, "2025-12-31T22:00:00Z");
	assert_int_equal(parse("2025-12-31T22:00:00-05:00", &t), FL_OK);
	fl_time_format(t, out);
	assert_string_equal(out, "2026-01-01T03:00:00Z");
	assert_int_equal(parse("2024-03-01T00:30:00+01:00", &t), FL_OK);
	fl_time_format(t, out);
	assert_string_equal(out, "2024-02-29T23:30:00Z");
	assert_int_equal(parse("2023-02-28T23:59:59-23:59", &t), FL_OK);
	fl_time_format(t, out);
	assert_string_equal(out, "2023-03-01T23:58:59Z");
}

static void test_leap_years(void **state)
{
	(void)state;
	assert_time("2000-02-29T12:00:00Z", 951825600);
	assert_time("2024-02-29T00:00:00Z", 1709164800);
	assert_time("2400-02-29T00:00:00Z", 13574563200LL);
	assert_time("0004-02-29T00:00:00Z", -62035891200LL);
	assert_time_err("1900-02-29T00:00:00Z", FL_E_TIME_INVALID);
	assert_time_err("2100-02-29T00:00:00Z", FL_E_TIME_INVALID);
	assert_time_err("2023-02-29T00:00:00Z", FL_E_TIME_INVALID);
	assert_time_err("0001-02-29T00:00:00Z", FL_E_TIME_INVALID);
	/* 1900 has 365 days, 2000 has 366. */
	assert_int_equal(fl_time_from_civil(1901, 1, 1) -
	                         fl_time_from_civil(1900, 1, 1),
	                 365 * FL_DAY);
	assert_int_equal(fl_time_from_civil(2001, 1, 1) -
	                         fl_time_from_civil(2000, 1, 1),
	                 366 * FL_DAY);
	assert_int_equal(fl_time_from_civil(2025, 1, 1) -
	                         fl_time_from_civil(2024, 1, 1),
	                 366 * FL_DAY);
}

static void test_invalid(void **state)
{
	(void)state;
	static const char *const bad[] = {
	        "2026-02-30T00:00:00Z",
	        "2026-04-31T00:00:00Z",
	        "2026-13-01T00:00:00Z",
	        "2026-00-01T00:00:00Z",
	        "2026-01-00T00:00:00Z",
	        "2026-01-32T00:00:00Z",
	        "2026-11-23T24:00:00Z",
	        "2026-11-23T23:61:00Z",
	        "2026-11-23T23:60:00Z",
	        "2026-11-23T23:59:60Z",
	        "2026-12-31T23:59:60Z",
	        "2026-11-23T99:99:99Z",
	        "2026-11-23T10:00:00+24:00",
	        "2026-11-23T10:00:00-24:00",
	        "2026-11-23T10:00:00+23:60",
	        "2026-11-23T10:00:00+99:00",
	        "0000-01-01T00:00:00Z",
	        "0000-12-31T23:59:59Z",
	        /* outside [FL_TIME_MIN, FL_TIME_MAX] after the offset */
	        "0001-01-01T00:00:00+00:01",
	        "9999-12-31T23:59:59-00:01",
	        "9999-12-31T23:30:00-01:00",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_time_err(bad[i], FL_E_TIME_INVALID);
	/* Just inside the range. */
	assert_time("0001-01-01T00:00:00-00:01", FL_TIME_MIN + 60);
	assert_time("9999-12-31T23:59:59+00:01", FL_TIME_MAX - 60);
}

static void test_format_errors(void **state)
{
	(void)state;
	static const char *const bad[] = {
	        "",
	        "2026-11-23",
	        "2026-11-23T14:08:13",
	        "2026-11-23 14:08:13Z",
	        "2026-11-23_14:08:13Z",
	        "2026-11-23T14:08Z",
	        "2026-11-23T14:08:13.Z",
	        "2026-11-23T14:08:13.5",
	        "2026-11-23T14:08:13+0300",
	        "2026-11-23T14:08:13+03",
	        "2026-11-23T14:08:13+03:0",
	        "2026-11-23T14:08:13+03:000",
	        "2026-11-23T14:08:13 +03:00",
	        "2026-11-23T14:08:13ZZ",
	        "2026-11-23T14:08:13Z ",
	        " 2026-11-23T14:08:13Z",
	        "2026-11-23T14:08:13GMT",
	        "2026-11-23T14:08:13UTC",
	        "2026/11/23T14:08:13Z",
	        "2026-11-23T14.08.13Z",
	        "26-11-23T14:08:13Z",
	        "+2026-11-23T14:08:13Z",
	        "12026-11-23T14:08:13Z",
	        "2026-1-23T14:08:13Z",
	        "2026-11-2aT14:08:13Z",
	        "2026-11-23T1a:08:13Z",
	        "2026-11-23T14:08:13,5Z",
	        "2026-11-23T14:08:13.5.5Z",
	        "2026-11-23T14:08:13-",
	        "2026-11-23T14:08:13Y",
	        "2026-11-23T14:08:13\xef\xbc\xba",
	        /* grammar errors win over impossible dates */
	        "2026-02-30T10:00:00X",
	        "2026-13-01T25:00:00+3:00",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_time_err(bad[i], FL_E_TIME_FORMAT);

	fl_time t = 7;
	assert_int_equal(fl_time_parse(NULL, 0, &t), FL_E_TIME_FORMAT);
	assert_int_equal(t, 0);
	/* The length given is what counts. */
	assert_int_equal(fl_time_parse("2026-11-23T14:08:13Zjunk", 20, &t),
	                 FL_OK);
	assert_int_equal(t, 1795442893);
	const char nul[] = "2026-11-23T14:08:13\0Z";
	assert_int_equal(fl_time_parse(nul, sizeof(nul) - 1, &t),
	                 FL_E_TIME_FORMAT);
}

static void test_format(void **state)
{
	(void)state;
	assert_format(0, "1970-01-01T00:00:00Z");
	assert_format(-1, "1969-12-31T23:59:59Z");
	assert_format(1795442893, "2026-11-23T14:08:13Z");
	assert_format(951782400, "2000-02-29T00:00:00Z");
	assert_format(FL_TIME_MIN, "0001-01-01T00:00:00Z");
	assert_format(FL_TIME_MAX, "9999-12-31T23:59:59Z");
	/* Clamped. */
	assert_format(FL_TIME_MIN - 1, "0001-01-01T00:00:00Z");
	assert_format(FL_TIME_MAX + 1, "9999-12-31T23:59:59Z");
	assert_format(INT64_MIN, "0001-01-01T00:00:00Z");
	assert_format(INT64_MAX, "9999-12-31T23:59:59Z");
}

static void test_to_civil(void **state)
{
	(void)state;
	int y, mo, d, h, mi, s;

	fl_time_to_civil(-14182940, &y, &mo, &d, &h, &mi, &s);
	assert_int_equal(y, 1969);
	assert_int_equal(mo, 7);
	assert_int_equal(d, 20);
	assert_int_equal(h, 20);
	assert_int_equal(mi, 17);
	assert_int_equal(s, 40);
	fl_time_to_civil(INT64_MIN, &y, &mo, &d, &h, &mi, &s);
	assert_int_equal(y, 1);
	assert_int_equal(mo, 1);
	assert_int_equal(d, 1);
	fl_time_to_civil(INT64_MAX, &y, &mo, &d, &h, &mi, &s);
	assert_int_equal(y, 9999);
	assert_int_equal(mo, 12);
	assert_int_equal(d, 31);
	assert_int_equal(h, 23);
	assert_int_equal(mi, 59);
	assert_int_equal(s, 59);
}

/* Every day from 0001-01-01 to 9999-12-31, counted one by one, against
 * fl_time_from_civil and fl_time_to_civil. */
static void test_every_day(void **state)
{
	(void)state;
	static const int mdays[12] = {31, 28, 31, 30, 31, 30,
	                              31, 31, 30, 31, 30, 31};
	fl_time t = FL_TIME_MIN;
	int y, mo, d, h, mi, s;

	for (int year = 1; year <= 9999; year++) {
		int leap =
		        (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
		for (int month = 1; month <= 12; month++) {
			int n = mdays[month - 1] + (month == 2 && leap);
			for (int day = 1; day <= n; day++) {
				if (fl_time_from_civil(year, month, day) != t)
					fail_msg("%04d-%02d-%02d", year, month,
					         day);
				fl_time_to_civil(t + 86399, &y, &mo, &d, &h,
				                 &mi, &s);
				if (y != year || mo != month || d != day ||
				    h != 23 || mi != 59 || s != 59)
					fail_msg("to_civil %04d-%02d-%02d",
					         year, month, day);
				t += FL_DAY;
			}
		}
	}
	assert_int_equal(t, FL_TIME_MAX + 1);
}

static void test_round_trip_random(void **state)
{
	(void)state;
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	uint64_t span = (uint64_t)(FL_TIME_MAX - FL_TIME_MIN) + 1;
	char out[FL_TIME_STR_LEN], buf[64];
	fl_time t, back;

	for (int i = 0; i < 100000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		t = FL_TIME_MIN + (fl_time)(x % span);
		fl_time_format(t, out);
		assert_int_equal(fl_time_parse(out, strlen(out), &back), FL_OK);
		assert_int_equal(back, t);
		/* The same instant written at +05:45 (where 1 AD has no
		 * earlier local time, skip the edge). */
		if (t > FL_TIME_MAX - 20700)
			continue;
		fl_time_format(t + 20700, buf);
		memcpy(buf + 19, ".123+05:45", 11);
		assert_int_equal(fl_time_parse(buf, strlen(buf), &back), FL_OK);
		assert_int_equal(back, t);
	}
}

static void test_time_day(void **state)
{
	(void)state;
	assert_int_equal(fl_time_day(0, 0), 0);
	assert_int_equal(fl_time_day(86399, 0), 0);
	assert_int_equal(fl_time_day(86400, 0), 1);
	assert_int_equal(fl_time_day(-1, 0), -1);
	assert_int_equal(fl_time_day(-86400, 0), -1);
	assert_int_equal(fl_time_day(-86401, 0), -2);
	/* 21:00Z on day 0 is already day 1 in Nairobi, still day 0 in New
	 * York; 02:00Z on day 1 is day 0 in New York. */
	assert_int_equal(fl_time_day(75600, 3 * 3600), 1);
	assert_int_equal(fl_time_day(75600, -5 * 3600), 0);
	assert_int_equal(fl_time_day(86400 + 7200, -5 * 3600), 0);
	assert_int_equal(fl_time_day(0, -1), -1);
	assert_int_equal(fl_time_day(FL_TIME_MIN, 0), -719162);
	assert_int_equal(fl_time_day(FL_TIME_MAX, 0), 2932896);
	/* No overflow at the ends of int64. */
	assert_int_equal(fl_time_day(INT64_MAX, INT32_MAX),
	                 INT64_MAX / 86400 +
	                         (INT64_MAX % 86400 + INT32_MAX) / 86400);
	assert_int_equal(fl_time_day(INT64_MIN, INT32_MIN), -106751991192156LL);
	/* Agrees with the civil date at the offset. */
	fl_time t;
	assert_int_equal(parse("2024-02-29T23:30:00-01:00", &t), FL_OK);
	assert_int_equal(fl_time_day(t, -3600),
	                 fl_time_from_civil(2024, 2, 29) / FL_DAY);
	assert_int_equal(fl_time_day(t, 0),
	                 fl_time_from_civil(2024, 3, 1) / FL_DAY);
}

static void test_date_parse(void **state)
{
	(void)state;
	int y = 1, m = 1, d = 1;

	assert_int_equal(fl_date_parse("2024-02-29", 10, &y, &m, &d), FL_OK);
	assert_int_equal(y, 2024);
	assert_int_equal(m, 2);
	assert_int_equal(d, 29);
	assert_int_equal(fl_date_parse("0001-01-01", 10, &y, &m, &d), FL_OK);
	assert_int_equal(fl_date_parse("9999-12-31", 10, &y, &m, &d), FL_OK);
	assert_int_equal(y, 9999);

	static const char *const invalid[] = {
	        "2023-02-29", "1900-02-29", "2026-02-30", "2026-06-31",
	        "2026-13-01", "2026-00-10", "2026-01-00", "0000-01-01",
	};
	for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
		y = m = d = 5;
		assert_int_equal(fl_date_parse(invalid[i], 10, &y, &m, &d),
		                 FL_E_TIME_INVALID);
		assert_int_equal(y + m + d, 0);
	}
	static const char *const format[] = {
	        "2024-2-29",  "2024-02-29T", "20240229",    "2024/02/29",
	        "2024-02-2x", " 2024-02-29", "2024-02-29 ", "",
	        "-024-02-29", "2024--02-29",
	};
	for (size_t i = 0; i < sizeof(format) / sizeof(format[0]); i++) {
		y = m = d = 5;
		assert_int_equal(
		        fl_date_parse(format[i], strlen(format[i]), &y, &m, &d),
		        FL_E_TIME_FORMAT);
		assert_int_equal(y + m + d, 0);
	}
}

static void test_offset_parse(void **state)
{
	(void)state;
	int32_t s = 1;

	assert_int_equal(fl_offset_parse("Z", 1, &s), FL_OK);
	assert_int_equal(s, 0);
	assert_int_equal(fl_offset_parse("z", 1, &s), FL_OK);
	assert_int_equal(s, 0);
	assert_int_equal(fl_offset_parse("+03:00", 6, &s), FL_OK);
	assert_int_equal(s, 10800);
	assert_int_equal(fl_offset_parse("-05:30", 6, &s), FL_OK);
	assert_int_equal(s, -19800);
	assert_int_equal(fl_offset_parse("+05:45", 6, &s), FL_OK);
	assert_int_equal(s, 20700);
	assert_int_equal(fl_offset_parse("-00:00", 6, &s), FL_OK);
	assert_int_equal(s, 0);
	assert_int_equal(fl_offset_parse("+23:59", 6, &s), FL_OK);
	assert_int_equal(s, 86340);
	assert_int_equal(fl_offset_parse("-23:59", 6, &s), FL_OK);
	assert_int_equal(s, -86340);

	s = 1;
	assert_int_equal(fl_offset_parse("+24:00", 6, &s), FL_E_TIME_INVALID);
	assert_int_equal(s, 0);
	assert_int_equal(fl_offset_parse("-00:60", 6, &s), FL_E_TIME_INVALID);

	static const char *const format[] = {
	        "",
	        "03:00",
	        "+3:00",
	        "+0300",
	        "+03",
	        "+03:00 ",
	        "UTC",
	        "ZZ",
	        "+03:0a",
	        "z ",
	        "\xe2\x88\x92"
	        "03:00", /* U+2212 minus */
	};
	for (size_t i = 0; i < sizeof(format) / sizeof(format[0]); i++) {
		s = 1;
		assert_int_equal(
		        fl_offset_parse(format[i], strlen(format[i]), &s),
		        FL_E_TIME_FORMAT);
		assert_int_equal(s, 0);
	}
}

static void assert_duration(const char *s, int64_t want)
{
	int64_t v = -7;
	fl_err err = fl_duration_parse(s, strlen(s), &v);

	if (err != FL_OK)
		fail_msg("\"%s\": %s", s, fl_errname(err));
	if (v != want)
		fail_msg("\"%s\": got %lld, want %lld", s, (long long)v,
		         (long long)want);
}

static void assert_duration_err(const char *s, fl_err want)
{
	int64_t v = -7;
	fl_err err = fl_duration_parse(s, strlen(s), &v);

	if (err != want)
		fail_msg("\"%s\": got %s, want %s", s, fl_errname(err),
		         fl_errname(want));
	assert_int_equal(v, 0);
}

static void test_duration(void **state)
{
	(void)state;
	assert_duration("72h", 259200);
	assert_duration("3d", 259200);
	assert_duration("90s", 90);
	assert_duration("15m", 900);
	assert_duration("3600", 3600);
	assert_duration("0", 0);
	assert_duration("0d", 0);
	assert_duration("007h", 25200);
	assert_duration("3652058d", 3652058LL * 86400);
	assert_duration("315537897599", FL_DURATION_MAX);
	assert_duration("315537897599s", FL_DURATION_MAX);

	assert_duration_err("-1", FL_E_RANGE);
	assert_duration_err("-3h", FL_E_RANGE);
	assert_duration_err("-0", FL_E_RANGE);
	assert_duration_err("315537897600", FL_E_RANGE);
	assert_duration_err("3652059d", FL_E_RANGE);
	assert_duration_err("87652000h", FL_E_RANGE);
	assert_duration_err("9223372036854775807", FL_E_RANGE);
	assert_duration_err("18446744073709551616", FL_E_RANGE);
	assert_duration_err("99999999999999999999999999999999d", FL_E_RANGE);

	static const char *const bad[] = {
	        "",
	        "h",
	        "-",
	        "-h",
	        "3x",
	        "3 h",
	        " 3h",
	        "3h ",
	        "+3",
	        "3hh",
	        "1h30m",
	        "3H",
	        "3.5h",
	        "h3",
	        "3e2",
	        "0x10",
	        "99999999999999999999999x",
	        "--3",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_duration_err(bad[i], FL_E_INVALID);
	int64_t v = 3;
	assert_int_equal(fl_duration_parse(NULL, 0, &v), FL_E_INVALID);
	assert_int_equal(v, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_known_instants),
	        cmocka_unit_test(test_case_and_fraction),
	        cmocka_unit_test(test_offsets),
	        cmocka_unit_test(test_leap_years),
	        cmocka_unit_test(test_invalid),
	        cmocka_unit_test(test_format_errors),
	        cmocka_unit_test(test_format),
	        cmocka_unit_test(test_to_civil),
	        cmocka_unit_test(test_every_day),
	        cmocka_unit_test(test_round_trip_random),
	        cmocka_unit_test(test_time_day),
	        cmocka_unit_test(test_date_parse),
	        cmocka_unit_test(test_offset_parse),
	        cmocka_unit_test(test_duration),
	};
	return cmocka_run_group_tests_name("fltime", tests, NULL, NULL);
}
