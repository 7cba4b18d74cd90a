/*
 * fltime.c - RFC 3339 times as seconds since the epoch (see fltime.h).
 *
 * The calendar arithmetic is the "days from civil" method: shift the year so
 * that it starts on March 1st (the leap day then falls at the very end of a
 * year), split the proleptic Gregorian calendar into 400-year eras of
 * 146097 days, and count days within the era with integer arithmetic only.
 * That is exact for every year, before 1970 as well as after, and needs
 * neither libc's time functions nor the TZ environment.
 *
 * Parsing is two-step: the whole string is first matched against the RFC
 * 3339 grammar (any mismatch is FL_E_TIME_FORMAT), and only a string of the
 * right shape is judged for whether its date and time exist
 * (FL_E_TIME_INVALID).
 */
#include "core/fltime.h"

#include <assert.h>
#include <string.h>

/* Days from 0000-03-01 (day 0 of the shifted era calendar) to 1970-01-01. */
#define DAYS_0000_03_01_TO_EPOCH 719468
#define DAYS_PER_ERA             146097 /* days in 400 Gregorian years */

#define HOUR   3600
#define MINUTE 60

static int is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30,
	                             31, 31, 30, 31, 30, 31};
	return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* The value of n ASCII digits at s, or -1 if any is not a digit. */
static int digits(const char *s, size_t n)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2; /* January and February belong to the previous year */
	int64_t era = floor_div(y, 400);
	int64_t yoe = y - era * 400;              /* [0, 399] */
	int64_t mp = (m + 9) % 12;                /* March = 0 ... Feb = 11 */
	int64_t doy = (153 * mp + 2) / 5 + d - 1; /* [0, 365] */
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; /* [0, 146096] */
	return era * DAYS_PER_ERA + doe - DAYS_0000_03_01_TO_EPOCH;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	z += DAYS_0000_03_01_TO_EPOCH;
	int64_t era = floor_div(z, DAYS_PER_ERA);
	int64_t doe = z - era * DAYS_PER_ERA; /* [0, 146096] */
	/* Year of era: undo the leap days (one per 4 years, less one per 100,
	 * plus one at the era's last day) before dividing by 365. */
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100); /* [0, 365] */
	int64_t mp = (5 * doy + 2) / 153;                      /* [0, 11] */
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

fl_time fl_time_from_civil(int year, int month, int day)
{
	assert(month >= 1 && month <= 12);
	assert(day >= 1 && day <= days_in_month(year, month));
	return days_from_civil(year, month, day) * FL_DAY;
}

void fl_time_to_civil(fl_time t, int *year, int *month, int *day, int *hour,
                      int *min, int *sec)
{
	int64_t y;

	if (t < FL_TIME_MIN)
		t = FL_TIME_MIN;
	if (t > FL_TIME_MAX)
		t = FL_TIME_MAX;
	int64_t days = floor_div(t, FL_DAY);
	int64_t rem = t - days * FL_DAY; /* [0, 86399] */
	civil_from_days(days, &y, month, day);
	*year = (int)y;
	*hour = (int)(rem / HOUR);
	*min = (int)(rem % HOUR / MINUTE);
	*sec = (int)(rem % MINUTE);
}

int64_t fl_time_day(fl_time t, int32_t utc_offset)
{
	/* Split first so that t + utc_offset cannot overflow near the ends of
	 * int64. */
	int64_t rem = t % FL_DAY;
	if (rem < 0)
		rem += FL_DAY; /* [0, 86399] */
	return floor_div(t, FL_DAY) + floor_div(rem + utc_offset, FL_DAY);
}

/* Writes v as exactly n decimal digits (v >= 0, v < 10^n). */
static void put_digits(char *out, int v, int n)
{
	for (int i = n - 1; i >= 0; i--) {
		out[i] = (char)('0' + v % 10);
		v /= 10;
	}
}

void fl_time_format(fl_time t, char out[FL_TIME_STR_LEN])
{
	int y, mo, d, h, mi, s;

	fl_time_to_civil(t, &y, &mo, &d, &h, &mi, &s);
	put_digits(out, y, 4);
	out[4] = '-';
	put_digits(out + 5, mo, 2);
	out[7] = '-';
	put_digits(out + 8, d, 2);
	out[10] = 'T';
	put_digits(out + 11, h, 2);
	out[13] = ':';
	put_digits(out + 14, mi, 2);
	out[16] = ':';
	put_digits(out + 17, s, 2);
	out[19] = 'Z';
	out[20] = '\0';
}

/* full-date = 4DIGIT "-" 2DIGIT "-" 2DIGIT, grammar only. s has >= 10
 * characters. */
static fl_err scan_date(const char *s, int *y, int *m, int *d)
{
	*y = digits(s, 4);
	*m = digits(s + 5, 2);
	*d = digits(s + 8, 2);
	if (*y < 0 || *m < 0 || *d < 0 || s[4] != '-' || s[7] != '-')
		return FL_E_TIME_FORMAT;
	return FL_OK;
}

static int date_exists(int y, int m, int d)
{
	/* Year 0000 is grammatical but precedes FL_TIME_MIN. */
	return y >= 1 && m >= 1 && m <= 12 && d >= 1 &&
	       d <= days_in_month(y, m);
}

/* time-numoffset or "Z"/"z", grammar only: exactly len characters. */
static fl_err scan_offset(const char *s, size_t len, int *sign, int *h, int *m)
{
	*sign = 0;
	*h = 0;
	*m = 0;
	if (len == 1 && (s[0] == 'Z' || s[0] == 'z'))
		return FL_OK;
	if (len != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':')
		return FL_E_TIME_FORMAT;
	*h = digits(s + 1, 2);
	*m = digits(s + 4, 2);
	if (*h < 0 || *m < 0)
		return FL_E_TIME_FORMAT;
	*sign = s[0] == '-' ? -1 : 1;
	return FL_OK;
}

fl_err fl_date_parse(const char *s, size_t len, int *year, int *month, int *day)
{
	int y = 0, m = 0, d = 0;
	fl_err err;

	if (s == NULL || len != 10) {
		err = FL_E_TIME_FORMAT;
		goto out;
	}
	err = scan_date(s, &y, &m, &d);
	if (err)
		goto out;
	if (!date_exists(y, m, d)) {
		err = FL_E_TIME_INVALID;
		goto out;
	}
out:
	if (err)
		y = m = d = 0;
	*year = y;
	*month = m;
	*day = d;
	return err;
}

fl_err fl_offset_parse(const char *s, size_t len, int32_t *secs)
{
	int sign, h, m;
	fl_err err;

	*secs = 0;
	if (s == NULL)
		return FL_E_TIME_FORMAT;
	err = scan_offset(s, len, &sign, &h, &m);
	if (err)
		return err;
	if (h > 23 || m > 59)
		return FL_E_TIME_INVALID;
	*secs = sign * (h * HOUR + m * MINUTE);
	return FL_OK;
}

fl_err fl_time_parse(const char *s, size_t len, fl_time *out)
{
	int y, mo, d, h, mi, sec, osign, oh, om;
	size_t i;
	fl_err err;

	*out = 0;
	/* "YYYY-MM-DDTHH:MM:SSZ" is the shortest date-time. */
	if (s == NULL || len < 20)
		return FL_E_TIME_FORMAT;
	err = scan_date(s, &y, &mo, &d);
	if (err)
		return err;
	if (s[10] != 'T' && s[10] != 't')
		return FL_E_TIME_FORMAT;
	h = digits(s + 11, 2);
	mi = digits(s + 14, 2);
	sec = digits(s + 17, 2);
	if (h < 0 || mi < 0 || sec < 0 || s[13] != ':' || s[16] != ':')
		return FL_E_TIME_FORMAT;
	i = 19;
	if (s[i] == '.') {
		/* time-secfrac = "." 1*DIGIT; an fl_time has whole seconds and
		 * dropping the fraction rounds towards the past. */
		size_t start = ++i;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == start)
			return FL_E_TIME_FORMAT;
	}
	err = scan_offset(s + i, len - i, &osign, &oh, &om);
	if (err)
		return err;

	if (!date_exists(y, mo, d) || h > 23 || mi > 59 || sec > 59 ||
	    oh > 23 || om > 59)
		return FL_E_TIME_INVALID;
	fl_time t = fl_time_from_civil(y, mo, d) + h * HOUR + mi * MINUTE +
	            sec - osign * (oh * HOUR + om * MINUTE);
	if (t < FL_TIME_MIN || t > FL_TIME_MAX)
		return FL_E_TIME_INVALID;
	*out = t;
	return FL_OK;
}

fl_err fl_duration_parse(const char *s, size_t len, int64_t *secs)
{
	uint64_t v = 0, unit = 1;
	size_t i = 0, end = len;
	int negative = 0, overflow = 0;
	fl_err err = FL_OK;

	if (s == NULL || len == 0) {
		err = FL_E_INVALID;
		goto out;
	}
	if (s[0] == '-') {
		negative = 1;
		i = 1;
	}
	switch (s[len - 1]) {
	case 's':
		unit = 1;
		end--;
		break;
	case 'm':
		unit = MINUTE;
		end--;
		break;
	case 'h':
		unit = HOUR;
		end--;
		break;
	case 'd':
		unit = FL_DAY;
		end--;
		break;
	default:
		break;
	}
	if (i >= end) {
		err = FL_E_INVALID; /* no digits */
		goto out;
	}
	for (; i < end; i++) {
		if (s[i] < '0' || s[i] > '9') {
			err = FL_E_INVALID;
			goto out;
		}
		/* Keep scanning after an overflow: a malformed string is
		 * FL_E_INVALID however large its digits. */
		if (v > (uint64_t)FL_DURATION_MAX)
			overflow = 1;
		else
			v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (negative || overflow || v > (uint64_t)FL_DURATION_MAX / unit) {
		err = FL_E_RANGE;
		goto out;
	}
out:
	*secs = err ? 0 : (int64_t)(v * unit);
	return err;
}
