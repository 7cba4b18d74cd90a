/*
 * fltime.h - RFC 3339 times, UTC, as int64 seconds since the Unix epoch.
 *
 * finlock stores and compares every time as an fl_time (seconds since
 * 1970-01-01T00:00:00Z). Parsing accepts any RFC 3339 offset and normalises to
 * UTC; formatting always writes the canonical "YYYY-MM-DDTHH:MM:SSZ". Nothing
 * here reads a clock: callers pass "now" in.
 *
 * THREAD SAFETY: pure; safe from any thread.
 */
#ifndef FL_FLTIME_H
#define FL_FLTIME_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

typedef int64_t fl_time;

#define FL_TIME_STR_LEN 21 /* "2026-11-23T14:08:13Z" and its NUL */
#define FL_TIME_MIN     ((fl_time)-62135596800LL) /* 0001-01-01T00:00:00Z */
#define FL_TIME_MAX     ((fl_time)253402300799LL) /* 9999-12-31T23:59:59Z */
#define FL_DAY          86400

/* Parses an RFC 3339 date-time ("2026-11-23T14:08:13Z",
 * "2026-11-23t17:08:13.25+03:00"): fractional seconds are truncated towards
 * the past, the offset is applied. A date or time that does not exist
 * (Feb 30, 24:00, 23:61, offset +24:00) is FL_E_TIME_INVALID; anything not of
 * the grammar is FL_E_TIME_FORMAT. A leap second (:60) is FL_E_TIME_INVALID,
 * and so is a time that falls outside [FL_TIME_MIN, FL_TIME_MAX] once its
 * offset is applied (year 0000, or 9999-12-31T23:30:00-01:00). */
fl_err fl_time_parse(const char *s, size_t len, fl_time *out) FL_MUST_USE;

/* Writes t as "YYYY-MM-DDTHH:MM:SSZ". t is clamped to [FL_TIME_MIN,
 * FL_TIME_MAX]. */
void fl_time_format(fl_time t, char out[FL_TIME_STR_LEN]);

/* Parses a full date "YYYY-MM-DD" into its parts, validated. */
fl_err fl_date_parse(const char *s, size_t len, int *year, int *month,
                     int *day) FL_MUST_USE;

/* Parses a UTC offset "Z", "+03:00" or "-05:30" into seconds east of UTC. */
fl_err fl_offset_parse(const char *s, size_t len, int32_t *secs) FL_MUST_USE;

/* Seconds since the epoch of y-m-d 00:00:00 UTC (proleptic Gregorian). The
 * date must be valid. */
fl_time fl_time_from_civil(int year, int month, int day);

/* Splits t (UTC) into calendar parts. t is clamped to [FL_TIME_MIN,
 * FL_TIME_MAX]. */
void fl_time_to_civil(fl_time t, int *year, int *month, int *day, int *hour,
                      int *min, int *sec);

/* Number of days since the epoch of t as seen at utc_offset seconds east of
 * UTC (floor division, so it is right for times before 1970 too). */
int64_t fl_time_day(fl_time t, int32_t utc_offset);

/* The longest duration fl_duration_parse accepts: the whole span of fl_time,
 * so that adding a parsed duration to a valid fl_time cannot overflow. */
#define FL_DURATION_MAX (FL_TIME_MAX - FL_TIME_MIN)

/* Parses a duration: "72h", "3d", "90s", "15m", or a bare number of seconds.
 * Negative or overflowing values (above FL_DURATION_MAX) are FL_E_RANGE;
 * anything else not of that shape is FL_E_INVALID. */
fl_err fl_duration_parse(const char *s, size_t len, int64_t *secs) FL_MUST_USE;

#endif
