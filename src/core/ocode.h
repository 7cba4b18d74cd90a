/*
 * ocode.h - offline unlock codes: ten digits read out over the telephone.
 *
 * A phone with no data connection cannot fetch a new token, so support reads
 * the customer a 10-digit code and the device agent checks it on its own.
 * finlockd mints the code with fl_ocode_make(); the agent verifies it with
 * fl_ocode_check(). Both hold the same 32-byte offline-code secret, derived
 * per device (docs/server.md "Keys and trust"); nothing else is shared, so the
 * code has to carry what the device cannot know.
 *
 * What a code says. A code names an action (unlock for 1, 3, 7 or 30 days, or
 * release for good), a counter and the day it was issued. The counter is the
 * server's per-device sequence of codes, starting at 1: the device accepts a
 * counter once, and accepting counter c retires every lower one. The server
 * numbers codes contiguously and shows an unused, unexpired code again rather
 * than minting a new one, so the device is never far behind.
 *
 * Days. Every day number here is a UTC day since the epoch,
 * fl_time_day(t, 0): the server passes the day of its clock, the agent the
 * day of its trusted time.
 *
 * Layout. Let V be the code read as a decimal number (0 .. 9999999999):
 *
 *     V = tag * 5120 + (action - 1) + 5 * (counter mod 128)
 *                    + 640 * (issue_day mod 8)
 *
 *     tag = LE64(first 8 bytes of MAC) mod 5^9        (0 .. 1953124)
 *     MAC = BLAKE2b-256, keyed with the secret, over the length-prefixed
 *           fields ("finlock:offline-code:v1", LE64(counter),
 *           one byte action, LE64(issue_day as two's complement));
 *           each field is preceded by its LE64 length and the whole by
 *           LE64(number of fields) = 4. issue_day mod 8 is the floored
 *           remainder (0..7, also for days before 1970).
 *
 * 5120 * 5^9 = 10^10 exactly, so every 10-digit string is a well-formed code
 * and the device recovers the action, the counter and the issue day from the
 * low part without any search, then recomputes one MAC:
 *   - the counter is the one value in [last-63, last+64] (last = the
 *     highest counter accepted so far, 0 before the first) with those low
 *     seven bits;
 *   - the issue day is the one value in [today-6, today+1] with those low
 *     three bits.
 *
 * Acceptance. The recomputed tag is compared in constant time
 * (fl_ct_memcmp). A code with the right tag is then
 *   - used (FL_E_CODE_USED) if its counter is <= last,
 *   - expired (FL_E_CODE_EXPIRED) if today >= issue_day + 3,
 *   - accepted otherwise: counter in last+1 .. last+64 and issue day in
 *     today-2 .. today+1. The day after today absorbs a device whose trusted
 *     time is a little behind the server's around midnight UTC.
 * So a code issued on day D works on device days D-1 .. D+2: it expires at
 * the start of day D+3, at most 72 hours after it was issued (and at least 48).
 * A counter more than 64 above last, a counter more than 63 below it, and an
 * issue day more than 6 days old all read as FL_E_CODE_WRONG.
 *
 * Guessing. At any moment at most 5 actions * 64 counters * 4 days = 1280
 * codes are accepted out of 10^10, so a random code succeeds with probability
 * 1.28e-7 per try; five tries a day (fl_ocode_tries_check) make that 6.4e-7 a
 * day, about 1 in 4300 over a year of trying every single day.
 *
 * Tries. The agent allows FL_OCODE_TRIES_PER_DAY tries per trusted day.
 * Every try counts, right or wrong, and is recorded and persisted before the
 * code is checked, so cutting the power during a check gains nothing:
 *
 *     err = fl_ocode_tries_check(tries, last_try_day, today);
 *     if (err) -> show "too many wrong codes today"
 *     fl_ocode_tries_record(&tries, &last_try_day, today);
 *     persist (tries, last_try_day)
 *     err = fl_ocode_check(secret, code, len, last, today, &counter, &act);
 *     if (!err) persist counter as the new last, then act
 *
 * Who may issue which action (release is an admin's act) is decided by the
 * server; this module only encodes the action.
 *
 * THREAD SAFETY: pure; safe from any thread once fl_crypto_init() has run.
 */
#ifndef FL_OCODE_H
#define FL_OCODE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/fltime.h"

#define FL_OCODE_LEN           10 /* digits in a code */
#define FL_OCODE_SECRET_LEN    32 /* the offline-code secret */
#define FL_OCODE_WINDOW        64 /* counters accepted above the last one */
#define FL_OCODE_VALID_DAYS    3  /* issue day and the two after it */
#define FL_OCODE_TRIES_PER_DAY 5  /* tries per trusted day on the device */
#define FL_OCODE_COUNTER_MAX   ((uint64_t)INT64_MAX) /* fits a signed SQL int */
#define FL_OCODE_DAY_MIN       (-719162) /* fl_time_day(FL_TIME_MIN, 0) */
#define FL_OCODE_DAY_MAX       2932896   /* fl_time_day(FL_TIME_MAX, 0) */

/* What a code does. The values are part of the MAC and of the code layout:
 * never renumber them. */
enum fl_ocode_action {
	FL_OCODE_UNLOCK_1D = 1,  /* unlock for 1 day */
	FL_OCODE_UNLOCK_3D = 2,  /* unlock for 3 days */
	FL_OCODE_UNLOCK_7D = 3,  /* unlock for 7 days */
	FL_OCODE_UNLOCK_30D = 4, /* unlock for 30 days */
	FL_OCODE_RELEASE = 5,    /* remove every restriction for good */
};

/* Writes the code for (counter, action, issue_day) under secret into out as
 * 10 digits and a NUL. FL_E_RANGE if counter is not in
 * 1..FL_OCODE_COUNTER_MAX or issue_day not in
 * FL_OCODE_DAY_MIN..FL_OCODE_DAY_MAX, FL_E_INVALID if action is not an
 * enum fl_ocode_action; out is then the empty string. */
fl_err fl_ocode_make(const uint8_t secret[FL_OCODE_SECRET_LEN],
                     uint64_t counter, enum fl_ocode_action action,
                     int64_t issue_day, char out[FL_OCODE_LEN + 1]) FL_MUST_USE;

/* Checks code[len] as typed by a person: spaces and dashes anywhere are
 * ignored. last_accepted is the highest counter the device has accepted (0
 * before the first), today the device's trusted UTC day. On FL_OK, *counter
 * and *action say what the code grants; the caller persists *counter as the
 * new last_accepted before acting on it. Errors, in the order they are
 * judged:
 *   FL_E_RANGE        last_accepted above FL_OCODE_COUNTER_MAX, or today
 *                     outside FL_OCODE_DAY_MIN..FL_OCODE_DAY_MAX;
 *   FL_E_CODE_FORMAT  anything but exactly 10 digits once spaces and dashes
 *                     are dropped;
 *   FL_E_CODE_WRONG   not a code from this secret (see the layout above);
 *   FL_E_CODE_USED    a genuine code whose counter is <= last_accepted;
 *   FL_E_CODE_EXPIRED a genuine code issued 3 or more days before today.
 * On any error *counter is 0 and *action is 0. */
fl_err fl_ocode_check(const uint8_t secret[FL_OCODE_SECRET_LEN],
                      const char *code, size_t len, uint64_t last_accepted,
                      int64_t today, uint64_t *counter,
                      enum fl_ocode_action *action) FL_MUST_USE;

/* The instant a code issued on issue_day stops being accepted: the start of
 * UTC day issue_day + FL_OCODE_VALID_DAYS. The server shows an unused code
 * again only while its clock is before this. issue_day is clamped to
 * FL_OCODE_DAY_MIN..FL_OCODE_DAY_MAX. */
fl_time fl_ocode_expires_at(int64_t issue_day);

/* Days of unlock an action grants: 1, 3, 7 or 30; 0 for FL_OCODE_RELEASE;
 * -1 for a value that is not an action. */
int fl_ocode_action_days(enum fl_ocode_action action);

/* The unlock action for days (1, 3, 7 or 30); FL_E_RANGE for any other
 * number, *action then 0. */
fl_err fl_ocode_action_for_days(int days,
                                enum fl_ocode_action *action) FL_MUST_USE;

/* The API name of an action: "unlock_1d", "unlock_3d", "unlock_7d",
 * "unlock_30d" or "release"; NULL for a value that is not an action. */
const char *fl_ocode_action_name(enum fl_ocode_action action);

/* Parses an API name (exact, lower case) into an action; FL_E_INVALID for
 * anything else, *action then 0. */
fl_err fl_ocode_action_parse(const char *name, size_t len,
                             enum fl_ocode_action *action) FL_MUST_USE;

/* The device's daily limit. tries_today is the number of tries recorded on
 * last_try_day. FL_OK if one more try is allowed today, FL_E_CODE_TRIES if
 * FL_OCODE_TRIES_PER_DAY tries were already recorded today. A day number
 * that went backwards counts as the same day: only a later day resets. */
fl_err fl_ocode_tries_check(uint32_t tries_today, int64_t last_try_day,
                            int64_t today) FL_MUST_USE;

/* Records one try on today: starts a new count if today is later than
 * *last_try_day, otherwise adds one (saturating), and sets *last_try_day to
 * the later of the two days. */
void fl_ocode_tries_record(uint32_t *tries_today, int64_t *last_try_day,
                           int64_t today);

#endif
