/* Unit tests for trusted time on the phone: the ttime arithmetic, and the
 * agent locking on time with the wall clock set back, set forward and across
 * reboots, and showing reminders at their times without a network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/ttime.h"
#include "core/restrict.h"
#include "finlock/agent.h"
#include "support/agent_fakehal.h"
#include "support/agent_fakesrv.h"

static const fl_time T0 = 1795435200; /* 2026-11-23T12:00:00Z */

static void test_ttime(void **state)
{
	(void)state;
	struct fl_ttime t = {0};

	/* never set: unknown (0), and nothing to persist */
	assert_int_equal(fl_ttime_now(&t, 1000, 1), 0);
	assert_false(fl_ttime_stale(&t, 1000, 1, 60));
	assert_int_equal(fl_ttime_effective(0, T0), T0);

	assert_true(fl_ttime_learn(&t, T0, 1000, 1));
	assert_int_equal(fl_ttime_now(&t, 1000, 1), T0);
	assert_int_equal(fl_ttime_now(&t, 1000 + 59999, 1), T0 + 59);
	assert_false(fl_ttime_stale(&t, 1000 + 59999, 1, 60));
	assert_true(fl_ttime_stale(&t, 1000 + 60000, 1, 60));

	/* an older server time never moves it back */
	assert_false(fl_ttime_learn(&t, T0 - 100, 11000, 1));
	assert_int_equal(fl_ttime_now(&t, 11000, 1), T0 + 10);
	assert_true(fl_ttime_learn(&t, T0 + 500, 11000, 1));
	assert_int_equal(fl_ttime_now(&t, 12000, 1), T0 + 501);

	/* rebasing keeps the time and the sub-second remainder */
	for (uint64_t m = 12000; m < 22000; m += 250)
		fl_ttime_rebase(&t, m, 1);
	assert_int_equal(fl_ttime_now(&t, 22000, 1), T0 + 511);

	/* another boot: the monotonic link is gone; time continues from the
	 * anchor, never from zero, never back */
	assert_int_equal(fl_ttime_now(&t, 5, 2), t.base);
	assert_true(fl_ttime_stale(&t, 5, 2, 60));
	fl_ttime_rebase(&t, 5, 2);
	assert_int_equal(fl_ttime_now(&t, 5 + 3000, 2), t.base + 3);
	/* a monotonic clock that went backwards on the same boot */
	assert_int_equal(fl_ttime_now(&t, 1, 2), t.base);

	/* a reboot counts as the save interval passing when the wall clock
	 * shows less (set back), as the wall clock when it shows time
	 * passing within that interval */
	{
		struct fl_ttime r = {true, T0, 1000, 1};
		fl_ttime_reboot(&r, 60, T0 - FL_DAY, 3000, 2);
		assert_int_equal(fl_ttime_now(&r, 3000, 2), T0 + 60);
		r = (struct fl_ttime){true, T0, 1000, 1};
		fl_ttime_reboot(&r, 60, T0 + 20, 3000, 2);
		assert_int_equal(fl_ttime_now(&r, 3000, 2), T0 + 20);
		r = (struct fl_ttime){true, T0, 1000, 1};
		fl_ttime_reboot(&r, 60, T0 + 900, 3000, 2);
		assert_int_equal(fl_ttime_now(&r, 3000, 2), T0 + 60);
		/* the same boot: nothing */
		fl_ttime_reboot(&r, 60, T0 - FL_DAY, 4000, 2);
		assert_int_equal(fl_ttime_now(&r, 4000, 2), T0 + 61);
		/* a fresh answer brings it back to the server's time plus
		 * the request's duration, never below */
		fl_ttime_correct(&r, T0 + 10, 1500, 4000, 2);
		assert_int_equal(fl_ttime_now(&r, 4000, 2), T0 + 12);
		fl_ttime_correct(&r, T0 + 30, 0, 4000, 2);
		assert_int_equal(fl_ttime_now(&r, 4000, 2), T0 + 12);
	}

	/* effective: the later of the two */
	assert_int_equal(fl_ttime_effective(T0, T0 - 5000), T0);
	assert_int_equal(fl_ttime_effective(T0, T0 + 5000), T0 + 5000);
}

static int setup(void **state)
{
	struct fl_fakephone *p = calloc(1, sizeof(*p));

	if (p == NULL || fl_fakephone_new(p) != FL_OK)
		return -1;
	p->srv->claims.lock_at = T0 + 2 * FL_DAY;
	if (fl_fakephone_enroll(p) != FL_OK)
		return -1;
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

static fl_time trusted(struct fl_fakephone *p)
{
	struct fl_agent_status st;

	fl_agent_status(p->a, &st);
	return st.trusted_time;
}

/* Time passes in steps of `step` seconds with a tick after each. */
static void pass(struct fl_fakephone *p, int64_t secs, int64_t step)
{
	while (secs > 0) {
		int64_t d = secs < step ? secs : step;
		fl_fakephone_advance(p, d);
		assert_int_equal(fl_agent_tick(p->a), FL_OK);
		secs -= d;
	}
}

/* A transport whose requests take 30 s, as a long-poll does: time passes
 * for the phone and the server while the request is in flight. */
static fl_err slow_server(void *ctx, const struct fl_hal_request *req,
                          struct fl_hal_response *resp)
{
	struct fl_fakephone *p = ctx;

	fl_fakephone_advance(p, 30);
	return fl_fakesrv_handle(p->srv, req, resp);
}

static void test_slow_answer_keeps_time(void **state)
{
	struct fl_fakephone *p = *state;
	struct fl_agent_status st;

	p->fh->server = slow_server;
	p->fh->server_ctx = p;
	assert_int_equal(fl_fakesrv_issue(p->srv), FL_OK);
	assert_int_equal(fl_agent_wait(p->a, 60), FL_OK);
	assert_int_equal(fl_agent_tick(p->a), FL_OK); /* reads the clocks */
	fl_agent_status(p->a, &st);
	/* the server's time when it answered, not that plus the 30 s the
	 * request took */
	assert_int_equal(st.trusted_time, p->srv->now);
	assert_int_equal(st.effective_time, p->srv->now);
	p->fh->server = fl_fakesrv_handle;
	p->fh->server_ctx = p->srv;
}

static void test_lock_at_offline(void **state)
{
	struct fl_fakephone *p = *state;

	p->fh->offline = true;
	pass(p, 2 * FL_DAY - 60, 3600);
	assert_false(locked(p));
	pass(p, 60, 60);
	assert_true(locked(p));
}

static void test_clock_set_back(void **state)
{
	struct fl_fakephone *p = *state;

	p->fh->offline = true;
	/* the customer sets the clock back ten days to dodge the lock */
	p->fh->wall -= 10 * FL_DAY;
	assert_int_equal(fl_agent_tick(p->a), FL_OK);
	assert_false(locked(p));
	pass(p, 2 * FL_DAY - 60, 3600);
	assert_false(locked(p));
	pass(p, 60, 60);
	assert_true(locked(p));
	assert_int_equal(trusted(p), T0 + 2 * FL_DAY);
}

static void test_reboot(void **state)
{
	struct fl_fakephone *p = *state;
	fl_time before;
	size_t writes;

	p->fh->offline = true;
	pass(p, FL_DAY, 600);
	before = trusted(p);
	assert_int_equal(before, T0 + FL_DAY);

	/* trusted time is persisted at least every FL_AGENT_TIME_PERSIST */
	writes = p->fh->persist_writes;
	pass(p, FL_AGENT_TIME_PERSIST - 1, FL_AGENT_TIME_PERSIST - 1);
	assert_int_equal(p->fh->persist_writes, writes);
	pass(p, 1, 1);
	assert_int_equal(p->fh->persist_writes, writes + 1);

	/* the power goes out (no goodbye), the phone is off for a day, and
	 * comes back with its clock reset to the factory date */
	fl_agent_close(p->a);
	p->a = NULL;
	p->srv->now += FL_DAY;
	fl_fakehal_power_on(p->fh);
	p->fh->wall = 1600000000; /* 2020 */
	assert_int_equal(fl_agent_open(&p->a, &p->hal, p->srv->root.pk), FL_OK);
	/* nothing lost but the time spent off; the reboot counts as the
	 * interval trusted time is saved at (the wall clock, set back, shows
	 * no time passing) */
	assert_int_equal(trusted(p), before + 2 * FL_AGENT_TIME_PERSIST);
	/* and the lock restored at boot, once due, is not postponed beyond
	 * that */
	assert_false(locked(p));
	pass(p, FL_DAY - 2 * FL_AGENT_TIME_PERSIST - 60, 3600);
	assert_false(locked(p));
	pass(p, 60, 60);
	assert_true(locked(p));

	/* a reboot of a locked phone stays locked, with the clock set back */
	assert_int_equal(fl_fakephone_reboot(p), FL_OK);
	p->fh->wall = 1600000000;
	assert_int_equal(fl_agent_tick(p->a), FL_OK);
	assert_true(locked(p));
	assert_true(p->fh->screen.locked);

	/* online again: the server's time puts trusted time right */
	p->fh->offline = false;
	assert_int_equal(fl_agent_checkin(p->a), FL_OK);
	assert_int_equal(trusted(p), p->srv->now);
}

static void test_clock_set_forward(void **state)
{
	struct fl_fakephone *p = *state;
	fl_time real;

	p->fh->offline = true;
	pass(p, 3600, 3600);
	real = trusted(p);
	/* set forward past lock_at: locked early ... */
	p->fh->wall += 40 * FL_DAY;
	assert_int_equal(fl_agent_tick(p->a), FL_OK);
	assert_true(locked(p));
	/* ... only until it is set right; trusted time was not moved by it */
	assert_int_equal(trusted(p), real);
	p->fh->wall -= 40 * FL_DAY;
	assert_int_equal(fl_agent_tick(p->a), FL_OK);
	assert_false(locked(p));
	/* the same across a reboot while set forward */
	p->fh->wall += 40 * FL_DAY;
	assert_int_equal(fl_fakephone_reboot(p), FL_OK);
	assert_true(locked(p));
	p->fh->wall -= 40 * FL_DAY;
	assert_int_equal(fl_agent_tick(p->a), FL_OK);
	assert_false(locked(p));

	/* tokens are judged on trusted time, not the wall clock: a phone with
	 * its clock a month ahead still takes a fresh token */
	p->fh->offline = false;
	p->fh->wall += 30 * FL_DAY;
	p->srv->claims.lock_at = p->srv->now + 60 * FL_DAY;
	assert_int_equal(fl_fakesrv_issue(p->srv), FL_OK);
	assert_int_equal(fl_agent_checkin(p->a), FL_OK);
	assert_int_equal(trusted(p), p->srv->now);
	assert_false(locked(p));
}

static void test_reminders_offline(void **state)
{
	struct fl_fakephone *p = *state;
	struct fl_device_claims *c = &p->srv->claims;
	struct fl_agent_screen s;

	c->reminders = calloc(2, sizeof(*c->reminders));
	assert_non_null(c->reminders);
	c->reminders[0].at = T0 + 3600;
	c->reminders[0].text = strdup("Installment of KES 1500 due tomorrow");
	c->reminders[1].at = T0 + FL_DAY;
	c->reminders[1].text = strdup("Installment of KES 1500 due today");
	c->n_reminders = 2;
	assert_int_equal(fl_fakesrv_issue(p->srv), FL_OK);
	assert_int_equal(fl_agent_checkin(p->a), FL_OK);
	assert_int_equal(p->fh->n_reminders, 0);

	p->fh->offline = true;
	pass(p, 3599, 3599);
	assert_int_equal(p->fh->n_reminders, 0);
	pass(p, 1, 1);
	assert_int_equal(p->fh->n_reminders, 1);
	assert_string_equal(p->fh->reminders[0],
	                    "Installment of KES 1500 due tomorrow");
	fl_agent_screen(p->a, &s);
	assert_string_equal(s.reminder, "Installment of KES 1500 due tomorrow");
	/* shown once, not at every tick, nor after a reboot */
	pass(p, 600, 60);
	assert_int_equal(fl_fakephone_reboot(p), FL_OK);
	pass(p, 600, 60);
	assert_int_equal(p->fh->n_reminders, 1);
	pass(p, FL_DAY - 3600 - 1200, 3600);
	assert_int_equal(p->fh->n_reminders, 2);
	assert_string_equal(p->fh->reminders[1],
	                    "Installment of KES 1500 due today");
	assert_false(locked(p));
	/* the reminder leaves the screen a day after its time */
	pass(p, FL_DAY, 3600);
	assert_true(locked(p));
	fl_agent_screen(p->a, &s);
	assert_string_equal(s.reminder, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_ttime),
	        cmocka_unit_test_setup_teardown(test_slow_answer_keeps_time,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_lock_at_offline, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_clock_set_back, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_reboot, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_clock_set_forward, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_reminders_offline, setup,
	                                        teardown),
	};
	return cmocka_run_group_tests_name("agent_time", tests, NULL, NULL);
}
