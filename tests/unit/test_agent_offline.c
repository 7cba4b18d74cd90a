/* Unit tests for the agent without a network: a payer stays unlocked, a
 * non-payer locks at lock_at, and offline codes (unlock for N days, release,
 * five wrong tries a day, used and retired counters, expiry), including a
 * write cut at every byte of the try's persistence. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/persist.h"
#include "core/ocode.h"
#include "core/restrict.h"
#include "finlock/agent.h"
#include "support/agent_fakehal.h"
#include "support/agent_fakesrv.h"

static const fl_time T0 = 1795435200; /* 2026-11-23T12:00:00Z */

static int setup(void **state)
{
	struct fl_fakephone *p = calloc(1, sizeof(*p));

	if (p == NULL || fl_fakephone_new(p) != FL_OK)
		return -1;
	p->srv->claims.lock_at = T0 + 10 * FL_DAY;
	if (fl_fakephone_enroll(p) != FL_OK)
		return -1;
	p->fh->offline = true;
	*state = p;
	return 0;
}

static int teardown(void **state)
{
	fl_fakephone_free(*state);
	free(*state);
	return 0;
}

static bool locked(struct fl_fakephone *p)
{
	struct fl_agent_screen s;

	fl_agent_screen(p->a, &s);
	assert_int_equal(p->fh->applied_mask, s.locked ? FL_R_DEFAULT_LOCK : 0);
	return s.locked;
}

static void pass(struct fl_fakephone *p, int64_t secs)
{
	while (secs > 0) {
		int64_t d = secs < 3600 ? secs : 3600;
		fl_fakephone_advance(p, d);
		assert_int_equal(fl_agent_tick(p->a), FL_OK);
		secs -= d;
	}
}

static int64_t today(struct fl_fakephone *p)
{
	struct fl_agent_status st;

	fl_agent_status(p->a, &st);
	return fl_time_day(st.trusted_time, 0);
}

static void code(struct fl_fakephone *p, uint64_t counter,
                 enum fl_ocode_action act, int64_t day, char out[11])
{
	assert_int_equal(fl_fakesrv_ocode(p->srv, counter, act, day, out),
	                 FL_OK);
}

/* A code that is certainly wrong for this phone. */
static void wrong(char out[11], int i)
{
	snprintf(out, 11, "%010d", 1234567 + i * 7919);
}

static void test_payer_and_non_payer(void **state)
{
	struct fl_fakephone *p = *state;
	struct fl_agent_screen s;

	/* a payer whose lock_at is ahead stays unlocked with no network */
	pass(p, 10 * FL_DAY - 1);
	assert_false(locked(p));
	/* a non-payer is locked at lock_at with no network */
	pass(p, 1);
	assert_true(locked(p));
	fl_agent_screen(p->a, &s);
	assert_int_equal(s.state, FL_ST_LOCKED);
	assert_string_equal(s.message, FL_AGENT_LOCK_MESSAGE);
	assert_int_equal(s.amount_due, 1500);
	assert_string_equal(s.lender_name, "Acme Finance");
	assert_string_equal(s.lender_phones[0], "+254700000001");
	assert_string_equal(s.loan_ref, "LN-0001");
	assert_int_equal(s.guaranteed, FL_G_ALL);
	assert_int_equal(p->fh->applied_guaranteed, FL_G_ALL);
	assert_true(p->fh->screen.locked);
}

static void test_unlock_code(void **state)
{
	struct fl_fakephone *p = *state;
	struct fl_agent_screen s;
	struct fl_agent_status st;
	char c[11];

	pass(p, 10 * FL_DAY);
	assert_true(locked(p));
	/* support reads a code over the phone: unlock for 3 days */
	code(p, 1, FL_OCODE_UNLOCK_3D, today(p), c);
	assert_int_equal(fl_agent_enter_code(p->a, c), FL_OK);
	assert_false(locked(p));
	fl_agent_status(p->a, &st);
	assert_int_equal(st.code_counter, 1);
	assert_int_equal(st.code_tries, 0);
	fl_agent_screen(p->a, &s);
	assert_int_equal(s.unlock_until, st.trusted_time + 3 * FL_DAY);
	assert_true(p->fh->n_notices >= 1);
	/* it holds across a reboot and with the clock set back */
	assert_int_equal(fl_fakephone_reboot(p), FL_OK);
	p->fh->wall -= 100 * FL_DAY;
	assert_int_equal(fl_agent_tick(p->a), FL_OK);
	assert_false(locked(p));
	/* the same code twice is used up */
	assert_int_equal(fl_agent_enter_code(p->a, c), FL_E_CODE_USED);
	/* and the unlock ends after its 3 days */
	pass(p, 3 * FL_DAY - 1);
	assert_false(locked(p));
	pass(p, 1);
	assert_true(locked(p));
	/* the next code works, typed with spaces */
	code(p, 2, FL_OCODE_UNLOCK_1D, today(p), c);
	{
		char spaced[16];
		snprintf(spaced, sizeof(spaced), "%.3s %.3s-%.4s", c, c + 3,
		         c + 6);
		assert_int_equal(fl_agent_enter_code(p->a, spaced), FL_OK);
	}
	assert_false(locked(p));
	/* the report to the server carries the code's counter */
	p->fh->offline = false;
	assert_int_equal(fl_agent_checkin(p->a), FL_OK);
	assert_int_equal(p->srv->last_report.code_counter, 2);
	assert_true(p->srv->last_report.unlock_until != 0);
}

static void test_code_limits(void **state)
{
	struct fl_fakephone *p = *state;
	struct fl_agent_status st;
	char c[11], w[11];

	pass(p, 10 * FL_DAY);
	assert_true(locked(p));
	code(p, 1, FL_OCODE_UNLOCK_7D, today(p), c);
	for (int i = 0; i < FL_OCODE_TRIES_PER_DAY; i++) {
		wrong(w, i);
		assert_int_equal(fl_agent_enter_code(p->a, w), FL_E_CODE_WRONG);
	}
	assert_int_equal(fl_agent_enter_code(p->a, "12345"), FL_E_CODE_TRIES);
	/* the sixth try of the day is refused even with the right code */
	assert_int_equal(fl_agent_enter_code(p->a, c), FL_E_CODE_TRIES);
	assert_true(locked(p));
	/* a reboot does not reset the count, nor does the clock */
	assert_int_equal(fl_fakephone_reboot(p), FL_OK);
	p->fh->wall += 5 * FL_DAY;
	assert_int_equal(fl_agent_enter_code(p->a, c), FL_E_CODE_TRIES);
	p->fh->wall -= 5 * FL_DAY;
	fl_agent_status(p->a, &st);
	assert_int_equal(st.code_tries, FL_OCODE_TRIES_PER_DAY);
	/* the next trusted day allows tries again */
	pass(p, FL_DAY);
	code(p, 1, FL_OCODE_UNLOCK_7D, today(p), c);
	assert_int_equal(fl_agent_enter_code(p->a, c), FL_OK);
	assert_false(locked(p));
	/* a right code does not count against the day: 4 wrong, then one more
	 * right one still fits */
	for (int i = 0; i < FL_OCODE_TRIES_PER_DAY - 1; i++) {
		wrong(w, i + 10);
		assert_int_equal(fl_agent_enter_code(p->a, w), FL_E_CODE_WRONG);
	}
	code(p, 2, FL_OCODE_UNLOCK_1D, today(p), c);
	assert_int_equal(fl_agent_enter_code(p->a, c), FL_OK);
	wrong(w, 99);
	assert_int_equal(fl_agent_enter_code(p->a, w), FL_E_CODE_WRONG);
	assert_int_equal(fl_agent_enter_code(p->a, w), FL_E_CODE_TRIES);
}

static void test_code_counters_and_expiry(void **state)
{
	struct fl_fakephone *p = *state;
	char c[11];

	pass(p, 10 * FL_DAY);
	/* counter 3 accepted retires 1 and 2 */
	code(p, 3, FL_OCODE_UNLOCK_1D, today(p), c);
	assert_int_equal(fl_agent_enter_code(p->a, c), FL_OK);
	code(p, 2, FL_OCODE_UNLOCK_30D, today(p), c);
	assert_int_equal(fl_agent_enter_code(p->a, c), FL_E_CODE_USED);
	/* a code issued three days ago has expired (72 hours) */
	code(p, 4, FL_OCODE_UNLOCK_1D, today(p) - 3, c);
	assert_int_equal(fl_agent_enter_code(p->a, c), FL_E_CODE_EXPIRED);
	/* a code for another phone (another secret) is just wrong */
	{
		uint8_t other[FL_OCODE_SECRET_LEN] = {7};
		assert_int_equal(fl_ocode_make(other, 4, FL_OCODE_UNLOCK_1D,
		                               today(p), c),
		                 FL_OK);
		assert_int_equal(fl_agent_enter_code(p->a, c), FL_E_CODE_WRONG);
	}
	assert_int_equal(fl_agent_enter_code(p->a, "12345abcde"),
	                 FL_E_CODE_FORMAT);
	assert_int_equal(fl_agent_enter_code(p->a, NULL), FL_E_CODE_FORMAT);
}

static void test_release_code(void **state)
{
	struct fl_fakephone *p = *state;
	struct fl_agent_screen s;
	char c[11];

	pass(p, 10 * FL_DAY);
	assert_true(locked(p));
	code(p, 1, FL_OCODE_RELEASE, today(p), c);
	assert_int_equal(fl_agent_enter_code(p->a, c), FL_OK);
	fl_agent_screen(p->a, &s);
	assert_int_equal(s.phase, FL_AGENT_RELEASED);
	assert_false(locked(p));
	/* for good: time, reboots and codes change nothing */
	pass(p, 40 * FL_DAY);
	assert_int_equal(fl_fakephone_reboot(p), FL_OK);
	assert_false(locked(p));
	assert_int_equal(fl_agent_enter_code(p->a, c), FL_E_STATE);
	/* no receipt yet: the phone still reports its release once online */
	assert_true(fl_agent_next_delay(p->a) >= 0);
}

/* The secure hardware makes the try durable before it looks at the code:
 * whichever of its writes the power cuts, the code is not used unless the
 * try was counted, and a cut in the write that uses the code loses the
 * use, never the try. */
static void test_cut_code_entry(void **state)
{
	struct fl_fakephone *p = *state;
	struct fl_agent_status st;
	struct dev_tee before;
	char c[11];

	pass(p, 10 * FL_DAY);
	code(p, 1, FL_OCODE_UNLOCK_3D, today(p), c);
	before = p->fh->tee;
	for (long which = 0; which < 3; which++) {
		/* back to the record before the try */
		p->fh->tee.code = before.code;
		assert_int_equal(fl_fakephone_reboot(p), FL_OK);
		p->fh->tee_cut = which < 2 ? which : -1;
		assert_int_equal(fl_agent_enter_code(p->a, c),
		                 which < 2 ? FL_E_IO : FL_OK);
		assert_int_equal(fl_fakephone_reboot(p), FL_OK);
		fl_agent_status(p->a, &st);
		if (which == 0) {
			/* cut counting the try: never used, never counted */
			assert_int_equal(st.code_counter, 0);
			assert_int_equal(st.code_tries, 0);
			assert_true(locked(p));
		} else if (which == 1) {
			/* cut using it: the try stays counted */
			assert_int_equal(st.code_counter, 0);
			assert_int_equal(st.code_tries, 1);
			assert_true(locked(p));
		} else {
			assert_int_equal(st.code_counter, 1);
			assert_int_equal(st.code_tries, 0);
			assert_false(locked(p));
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_payer_and_non_payer, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_unlock_code, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_code_limits, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_code_counters_and_expiry,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_release_code, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_cut_code_entry, setup,
	                                        teardown),
	};
	return cmocka_run_group_tests_name("agent_offline", tests, NULL, NULL);
}
