/*
 * ocode.c - offline unlock codes (see ocode.h for the layout and the rules).
 *
 * Only the tag depends on the secret. It is reduced modulo a compile-time
 * constant (which compilers turn into multiplications, not a data-dependent
 * division), kept as four little-endian bytes and compared with
 * fl_ct_memcmp; everything else the check branches on (counter, action,
 * day) is read from the code itself and is no secret.
 */
#include "core/ocode.h"

#include <string.h>

#include "core/crypto.h"

#define N_ACTIONS   5
#define COUNTER_MOD 128 /* 2 * FL_OCODE_WINDOW: new counters and used ones */
#define DAY_MOD     8   /* issue days today-6 .. today+1 */
#define DAYS_AHEAD  1   /* issue days after today that are accepted */
#define PACKED_MOD  (N_ACTIONS * COUNTER_MOD * DAY_MOD) /* 5120 */
#define TAG_MOD     1953125u                            /* 5^9 */

_Static_assert((uint64_t)PACKED_MOD *TAG_MOD == 10000000000ULL,
               "every 10-digit string must be a well-formed code");
_Static_assert(COUNTER_MOD == 2 * FL_OCODE_WINDOW, "counter window");
_Static_assert(DAY_MOD >= FL_OCODE_VALID_DAYS + DAYS_AHEAD, "day window");

#define CONTEXT     "finlock:offline-code:v1"
#define CONTEXT_LEN (sizeof(CONTEXT) - 1)
/* LE64(4) and four fields, each with its LE64 length. */
#define MSG_LEN (8 + (8 + CONTEXT_LEN) + (8 + 8) + (8 + 1) + (8 + 8))

static const char *const action_names[N_ACTIONS] = {
        "unlock_1d", "unlock_3d", "unlock_7d", "unlock_30d", "release",
};
static const int action_days[N_ACTIONS] = {1, 3, 7, 30, 0};

static int action_valid(enum fl_ocode_action a)
{
	return (int)a >= FL_OCODE_UNLOCK_1D && (int)a <= FL_OCODE_RELEASE;
}

static int day_valid(int64_t day)
{
	return day >= FL_OCODE_DAY_MIN && day <= FL_OCODE_DAY_MAX;
}

static uint64_t floor_mod(int64_t a, uint64_t m)
{
	int64_t r = a % (int64_t)m;
	return (uint64_t)(r < 0 ? r + (int64_t)m : r);
}

static uint8_t *put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
	return p + 8;
}

/* The tag of (counter, action, day) as four little-endian bytes. */
static fl_err compute_tag(const uint8_t secret[FL_OCODE_SECRET_LEN],
                          uint64_t counter, enum fl_ocode_action action,
                          int64_t day, uint8_t tag[4])
{
	uint8_t msg[MSG_LEN], mac[FL_MAC_LEN], *p = msg;
	uint64_t v = 0;
	fl_err err;

	p = put_le64(p, 4);
	p = put_le64(p, CONTEXT_LEN);
	memcpy(p, CONTEXT, CONTEXT_LEN);
	p += CONTEXT_LEN;
	p = put_le64(p, 8);
	p = put_le64(p, counter);
	p = put_le64(p, 1);
	*p++ = (uint8_t)action;
	p = put_le64(p, 8);
	p = put_le64(p, (uint64_t)day);

	err = fl_blake2b(mac, sizeof(mac), secret, FL_OCODE_SECRET_LEN, msg,
	                 (size_t)(p - msg));
	if (err) {
		err = FL_E_INTERNAL;
		goto out;
	}
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | mac[i];
	v %= TAG_MOD;
	for (int i = 0; i < 4; i++)
		tag[i] = (uint8_t)(v >> (8 * i));
out:
	if (err)
		memset(tag, 0, 4);
	fl_wipe(mac, sizeof(mac));
	fl_wipe(&v, sizeof(v));
	return err;
}

static uint32_t tag_value(const uint8_t tag[4])
{
	return (uint32_t)tag[0] | (uint32_t)tag[1] << 8 |
	       (uint32_t)tag[2] << 16 | (uint32_t)tag[3] << 24;
}

fl_err fl_ocode_make(const uint8_t secret[FL_OCODE_SECRET_LEN],
                     uint64_t counter, enum fl_ocode_action action,
                     int64_t issue_day, char out[FL_OCODE_LEN + 1])
{
	uint8_t tag[4];
	uint64_t v;
	fl_err err;

	if (counter < 1 || counter > FL_OCODE_COUNTER_MAX ||
	    !day_valid(issue_day)) {
		err = FL_E_RANGE;
		goto out;
	}
	if (!action_valid(action)) {
		err = FL_E_INVALID;
		goto out;
	}
	err = compute_tag(secret, counter, action, issue_day, tag);
	if (err)
		goto out;
	v = (uint64_t)tag_value(tag) * PACKED_MOD + (uint64_t)(action - 1) +
	    N_ACTIONS * (counter % COUNTER_MOD) +
	    N_ACTIONS * COUNTER_MOD * floor_mod(issue_day, DAY_MOD);
	for (int i = FL_OCODE_LEN - 1; i >= 0; i--) {
		out[i] = (char)('0' + v % 10);
		v /= 10;
	}
	out[FL_OCODE_LEN] = '\0';
out:
	if (err)
		memset(out, 0, FL_OCODE_LEN + 1);
	fl_wipe(tag, sizeof(tag));
	return err;
}

/* Reads exactly 10 digits, ignoring spaces and dashes, into *v. */
static fl_err read_code(const char *s, size_t len, uint64_t *v)
{
	size_t n = 0;

	*v = 0;
	if (s == NULL)
		return FL_E_CODE_FORMAT;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == ' ' || s[i] == '-')
			continue;
		if (s[i] < '0' || s[i] > '9' || n == FL_OCODE_LEN)
			return FL_E_CODE_FORMAT;
		*v = *v * 10 + (uint64_t)(s[i] - '0');
		n++;
	}
	return n == FL_OCODE_LEN ? FL_OK : FL_E_CODE_FORMAT;
}

fl_err fl_ocode_check(const uint8_t secret[FL_OCODE_SECRET_LEN],
                      const char *code, size_t len, uint64_t last_accepted,
                      int64_t today, uint64_t *counter,
                      enum fl_ocode_action *action)
{
	uint8_t want[4] = {0}, got[4];
	uint64_t v, packed, off, c = 0, tag;
	enum fl_ocode_action a = (enum fl_ocode_action)0;
	int64_t day, lo;
	fl_err err;

	if (last_accepted > FL_OCODE_COUNTER_MAX || !day_valid(today)) {
		err = FL_E_RANGE;
		goto out;
	}
	err = read_code(code, len, &v);
	if (err)
		goto out;
	tag = v / PACKED_MOD;
	packed = v % PACKED_MOD;
	a = (enum fl_ocode_action)(packed % N_ACTIONS + 1);

	/* The counter with these low bits in [last-63, last+64]. */
	off = (packed / N_ACTIONS % COUNTER_MOD + COUNTER_MOD -
	       (last_accepted + 1) % COUNTER_MOD) %
	      COUNTER_MOD;
	if (off < FL_OCODE_WINDOW) {
		c = last_accepted + 1 + off;
	} else if (last_accepted + 1 + off >= COUNTER_MOD + 1) {
		c = last_accepted + 1 + off - COUNTER_MOD;
	} else {
		/* Would be counter 0 or below: never issued. */
		err = FL_E_CODE_WRONG;
		goto out;
	}
	if (c > FL_OCODE_COUNTER_MAX) {
		err = FL_E_CODE_WRONG;
		goto out;
	}

	/* The issue day with these low bits in [today-6, today+1]. */
	lo = today + DAYS_AHEAD - (DAY_MOD - 1);
	day = lo + (int64_t)((packed / (N_ACTIONS * COUNTER_MOD) + DAY_MOD -
	                      floor_mod(lo, DAY_MOD)) %
	                     DAY_MOD);
	if (!day_valid(day)) {
		err = FL_E_CODE_WRONG;
		goto out;
	}

	err = compute_tag(secret, c, a, day, want);
	if (err)
		goto out;
	for (int i = 0; i < 4; i++)
		got[i] = (uint8_t)(tag >> (8 * i));
	if (fl_ct_memcmp(want, got, sizeof(want)) != 0) {
		err = FL_E_CODE_WRONG;
		goto out;
	}
	if (c <= last_accepted) {
		err = FL_E_CODE_USED;
		goto out;
	}
	if (today - day >= FL_OCODE_VALID_DAYS) {
		err = FL_E_CODE_EXPIRED;
		goto out;
	}
out:
	fl_wipe(want, sizeof(want));
	*counter = err ? 0 : c;
	*action = err ? (enum fl_ocode_action)0 : a;
	return err;
}

fl_time fl_ocode_expires_at(int64_t issue_day)
{
	if (issue_day < FL_OCODE_DAY_MIN)
		issue_day = FL_OCODE_DAY_MIN;
	if (issue_day > FL_OCODE_DAY_MAX)
		issue_day = FL_OCODE_DAY_MAX;
	return (issue_day + FL_OCODE_VALID_DAYS) * FL_DAY;
}

int fl_ocode_action_days(enum fl_ocode_action action)
{
	return action_valid(action) ? action_days[action - 1] : -1;
}

fl_err fl_ocode_action_for_days(int days, enum fl_ocode_action *action)
{
	*action = (enum fl_ocode_action)0;
	for (int i = 0; i < N_ACTIONS; i++) {
		if (action_days[i] == days && days > 0) {
			*action = (enum fl_ocode_action)(i + 1);
			return FL_OK;
		}
	}
	return FL_E_RANGE;
}

const char *fl_ocode_action_name(enum fl_ocode_action action)
{
	return action_valid(action) ? action_names[action - 1] : NULL;
}

fl_err fl_ocode_action_parse(const char *name, size_t len,
                             enum fl_ocode_action *action)
{
	*action = (enum fl_ocode_action)0;
	if (name == NULL)
		return FL_E_INVALID;
	for (int i = 0; i < N_ACTIONS; i++) {
		if (strlen(action_names[i]) == len &&
		    memcmp(action_names[i], name, len) == 0) {
			*action = (enum fl_ocode_action)(i + 1);
			return FL_OK;
		}
	}
	return FL_E_INVALID;
}

fl_err fl_ocode_tries_check(uint32_t tries_today, int64_t last_try_day,
                            int64_t today)
{
	if (today > last_try_day)
		return FL_OK;
	return tries_today < FL_OCODE_TRIES_PER_DAY ? FL_OK : FL_E_CODE_TRIES;
}

void fl_ocode_tries_record(uint32_t *tries_today, int64_t *last_try_day,
                           int64_t today)
{
	if (today > *last_try_day) {
		*tries_today = 1;
		*last_try_day = today;
	} else if (*tries_today < UINT32_MAX) {
		(*tries_today)++;
	}
}
