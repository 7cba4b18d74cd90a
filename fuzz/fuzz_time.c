/* libFuzzer target for core/fltime: the parsers never crash on any bytes;
 * every time fl_time_parse accepts is in range and survives
 * parse(format(t)) == t; accepted dates, offsets and durations are within
 * their documented bounds. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/fltime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_time(const char *s, size_t len)
{
	char out[FL_TIME_STR_LEN];
	fl_time t, back;
	int y, mo, d, h, mi, sec;

	fl_err err = fl_time_parse(s, len, &t);
	if (err) {
		if (t != 0 ||
		    (err != FL_E_TIME_FORMAT && err != FL_E_TIME_INVALID))
			abort();
		return;
	}
	if (t < FL_TIME_MIN || t > FL_TIME_MAX)
		abort();
	fl_time_format(t, out);
	if (strlen(out) != FL_TIME_STR_LEN - 1)
		abort();
	if (fl_time_parse(out, strlen(out), &back) != FL_OK || back != t)
		abort();
	fl_time_to_civil(t, &y, &mo, &d, &h, &mi, &sec);
	if (fl_time_from_civil(y, mo, d) + h * 3600 + mi * 60 + sec != t)
		abort();
	if (fl_time_day(t, 0) * FL_DAY != fl_time_from_civil(y, mo, d))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	int y, m, d;
	int32_t off;
	int64_t dur;

	check_time(s, size);

	if (fl_date_parse(s, size, &y, &m, &d) == FL_OK) {
		if (y < 1 || y > 9999 || m < 1 || m > 12 || d < 1 || d > 31)
			abort();
		(void)fl_time_from_civil(y, m, d);
	} else if (y != 0 || m != 0 || d != 0) {
		abort();
	}

	if (fl_offset_parse(s, size, &off) == FL_OK) {
		if (off <= -FL_DAY || off >= FL_DAY || off % 60 != 0)
			abort();
	} else if (off != 0) {
		abort();
	}

	if (fl_duration_parse(s, size, &dur) == FL_OK) {
		if (dur < 0 || dur > FL_DURATION_MAX)
			abort();
	} else if (dur != 0) {
		abort();
	}
	return 0;
}
