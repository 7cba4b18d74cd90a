/*
 * Unit tests for the portfolio figures (core/portfolio.h): PAR per the
 * CGAP definition (the whole balance of a loan more than N days late, on
 * the boundary and past it), released loans out of the portfolio, stolen
 * ones in, currencies kept apart and capped, and the lock rate; the
 * trends (lock rate at each period's end, cure rate, payment-to-unlock
 * latency p95) from a history of state changes whose answers are known.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/portfolio.h"

#define NOW ((fl_time)1800000000)

static struct fl_portfolio_loan loan(const char *ccy, enum fl_dev_state st,
                                     int64_t due, int64_t remaining,
                                     fl_time late_by)
{
	struct fl_portfolio_loan l = {
	        .currency = ccy,
	        .state = st,
	        .amount_due = due,
	        .amount_remaining = remaining,
	        .first_unpaid = late_by > 0 ? NOW - late_by : NOW + FL_DAY,
	};
	return l;
}

static void test_par_boundaries(void **state)
{
	struct fl_portfolio p;
	struct fl_portfolio_loan l;

	(void)state;
	fl_portfolio_init(&p, NOW);
	/* on time: 1000 outstanding */
	l = loan("KES", FL_ST_ACTIVE, 0, 1000, 0);
	assert_int_equal(fl_portfolio_add(&p, &l), FL_OK);
	/* exactly one day late: not "more than" one day */
	l = loan("KES", FL_ST_REMINDING, 100, 2000, FL_DAY);
	assert_int_equal(fl_portfolio_add(&p, &l), FL_OK);
	/* a second more than 7 days: PAR1 and PAR7, its whole balance */
	l = loan("KES", FL_ST_LOCKED, 100, 3000, 7 * FL_DAY + 1);
	assert_int_equal(fl_portfolio_add(&p, &l), FL_OK);
	/* 31 days, stolen: still in the portfolio */
	l = loan("KES", FL_ST_LOCKED, 500, 4000, 31 * FL_DAY);
	l.stolen = true;
	assert_int_equal(fl_portfolio_add(&p, &l), FL_OK);
	/* released: out of the portfolio, counted as a device */
	l = loan("KES", FL_ST_RELEASED, 900, 9000, 90 * FL_DAY);
	assert_int_equal(fl_portfolio_add(&p, &l), FL_OK);
	/* no contract: a device, not a loan */
	l = loan(NULL, FL_ST_PENDING, 0, 0, 0);
	assert_int_equal(fl_portfolio_add(&p, &l), FL_OK);

	assert_int_equal(p.devices, 6);
	assert_int_equal(p.by_state[FL_ST_LOCKED], 2);
	assert_int_equal(p.by_state[FL_ST_RELEASED], 1);
	assert_int_equal(p.stolen, 1);
	assert_int_equal(p.n_ccy, 1);
	const struct fl_portfolio_ccy *c = &p.ccy[0];
	assert_string_equal(c->currency, "KES");
	assert_int_equal(c->loans, 4);
	assert_int_equal(c->outstanding, 10000);
	assert_int_equal(c->due_now, 700);
	assert_int_equal(c->loans_overdue, 3);
	assert_int_equal(c->at_risk[0], 7000); /* > 1 day */
	assert_int_equal(c->at_risk[1], 7000); /* > 7 days */
	assert_int_equal(c->at_risk[2], 4000); /* > 30 days */
	assert_int_equal(c->loans_at_risk[0], 2);
	assert_int_equal(c->loans_at_risk[2], 1);
	assert_true(fl_portfolio_par(c, 0) > 0.6999 &&
	            fl_portfolio_par(c, 0) < 0.7001);
	assert_true(fl_portfolio_par(c, 2) > 0.3999 &&
	            fl_portfolio_par(c, 2) < 0.4001);
	/* locked 2 of active 1 + reminding 1 + locked 2 */
	assert_true(fl_portfolio_lock_rate(&p) > 0.4999 &&
	            fl_portfolio_lock_rate(&p) < 0.5001);
}

static void test_currencies_apart_and_capped(void **state)
{
	struct fl_portfolio p;
	struct fl_portfolio_loan l;
	char code[FL_PORTFOLIO_CURRENCIES + 1][16];

	(void)state;
	fl_portfolio_init(&p, NOW);
	assert_true(fl_portfolio_lock_rate(&p) < 0);
	l = loan("KES", FL_ST_LOCKED, 10, 100, 40 * FL_DAY);
	assert_int_equal(fl_portfolio_add(&p, &l), FL_OK);
	l = loan("UGX", FL_ST_ACTIVE, 0, 5000, 0);
	assert_int_equal(fl_portfolio_add(&p, &l), FL_OK);
	assert_int_equal(p.n_ccy, 2);
	assert_true(fl_portfolio_par(&p.ccy[0], 2) > 0.999);
	assert_true(fl_portfolio_par(&p.ccy[1], 2) < 0.001);
	for (int i = 2; i < FL_PORTFOLIO_CURRENCIES; i++) {
		snprintf(code[i], sizeof(code[i]), "C%02d", i);
		l = loan(code[i], FL_ST_ACTIVE, 0, 1, 0);
		assert_int_equal(fl_portfolio_add(&p, &l), FL_OK);
	}
	l = loan("ZZZ", FL_ST_ACTIVE, 0, 1, 0);
	assert_int_equal(fl_portfolio_add(&p, &l), FL_E_LIMIT);
	assert_int_equal(p.devices, FL_PORTFOLIO_CURRENCIES);
	/* nothing outstanding: PAR 0, not a division by zero */
	struct fl_portfolio_ccy empty = {0};
	assert_true(fl_portfolio_par(&empty, 0) == 0.0);
}

static void test_first_unpaid(void **state)
{
	const struct fl_installment s[] = {{100, 10}, {200, 10}, {300, 10},
	                                   {400, 10}};
	const struct fl_installment r1[] = {{250, 5}, {350, 5}};
	const struct fl_installment r2[] = {{320, 1}};
	const struct fl_reschedule one[] = {{250, r1, 2}};
	const struct fl_reschedule two[] = {{250, r1, 2}, {310, r2, 1}};
	const struct fl_reschedule waive[] = {{150, NULL, 0}};

	(void)state;
	/* nothing paid: the first installment; paid through 200: 300 */
	assert_int_equal(fl_portfolio_first_unpaid(s, 4, NULL, 0, 0), 100);
	assert_int_equal(fl_portfolio_first_unpaid(s, 4, NULL, 0, 200), 300);
	assert_int_equal(fl_portfolio_first_unpaid(s, 4, NULL, 0, 400), 0);
	/* from 250 the reschedule's installments replace 300 and 400 */
	assert_int_equal(fl_portfolio_first_unpaid(s, 4, one, 1, 200), 250);
	assert_int_equal(fl_portfolio_first_unpaid(s, 4, one, 1, 250), 350);
	/* a later one from 310 replaces 350 */
	assert_int_equal(fl_portfolio_first_unpaid(s, 4, two, 2, 250), 320);
	/* the rest waived from 150: after 100, nothing */
	assert_int_equal(fl_portfolio_first_unpaid(s, 4, waive, 1, 100), 0);
}

/* Collections: on time by the due date, after the installments before;
 * late payments collected in their own period; reversed ones nothing;
 * a reschedule's installments replace the contract's from its date. */
static void test_history(void **state)
{
	const fl_time now = 1800000000, P = FL_PORTFOLIO_PERIOD;
	struct fl_portfolio *p = malloc(sizeof(*p));
	/* due in periods 9, 10 and 11 (the last, partial, ends now) */
	struct fl_installment sch[] = {{now - 3 * P + 10, 1000},
	                               {now - 2 * P + 10, 1000},
	                               {now - P + 10, 1000},
	                               {now + P, 1000}};
	struct fl_payment pay[] = {
	        {1, 1000, now - 3 * P + 5, false}, /* before the 1st: on time */
	        {2, 400, now - 2 * P + 10, false}, /* at the 2nd's due date */
	        {3, 600, now - 2 * P + 20, false}, /* after it: late */
	        {4, 1000, now - P + 5, true},      /* reversed: nothing */
	        {5, 300, now - 20 * P, false},     /* before the history */
	};
	struct fl_installment moved[] = {{now - P + 100, 500}};
	struct fl_reschedule r = {now - P, moved, 1};

	(void)state;
	assert_non_null(p);
	fl_portfolio_init(p, now);
	assert_int_equal(
	        fl_portfolio_add_history(p, "KES", sch, 4, NULL, 0, pay, 5),
	        FL_OK);
	assert_int_equal(p->n_ccy, 1);
	struct fl_portfolio_ccy *c = &p->ccy[0];

	assert_int_equal(fl_portfolio_period_start(p, 11), now - P);
	assert_int_equal(c->due[9], 1000);
	/* 300 paid long before counts toward the first too: 1300 by then */
	assert_int_equal(c->on_time[9], 1000);
	assert_int_equal(c->due[10], 1000);
	assert_int_equal(c->on_time[10], 700); /* 1300 + 400 - 1000 */
	assert_int_equal(c->collected[9], 1000);
	assert_int_equal(c->collected[10], 1000);
	assert_int_equal(c->due[11], 1000);
	assert_int_equal(c->on_time[11], 300); /* 2300 paid by then - 2000 */
	assert_int_equal(c->collected[11], 0);
	assert_true(fl_portfolio_on_time_rate(c, 10) > 0.69 &&
	            fl_portfolio_on_time_rate(c, 10) < 0.71);
	assert_true(fl_portfolio_collection_rate(c, 10) > 0.99 &&
	            fl_portfolio_collection_rate(c, 10) < 1.01);
	assert_true(fl_portfolio_on_time_rate(c, 0) < 0); /* nothing due */
	for (int k = 0; k < 9; k++)
		assert_int_equal(c->due[k] + c->collected[k], 0);

	/* rescheduled from the last period on: 500 due there instead */
	fl_portfolio_init(p, now);
	assert_int_equal(
	        fl_portfolio_add_history(p, "KES", sch, 4, &r, 1, pay, 5),
	        FL_OK);
	assert_int_equal(p->ccy[0].due[11], 500);
	assert_int_equal(p->ccy[0].due[10], 1000);
	/* currencies apart; the cap holds */
	assert_int_equal(
	        fl_portfolio_add_history(p, "UGX", sch, 1, NULL, 0, NULL, 0),
	        FL_OK);
	assert_int_equal(p->n_ccy, 2);
	assert_int_equal(p->ccy[0].due[9], 1000);
	for (int i = 0; i < FL_PORTFOLIO_CURRENCIES - 2; i++) {
		char code[4] = {'A', (char)('A' + i), 'Z', '\0'};

		assert_int_equal(fl_portfolio_add_history(p, code, sch, 1, NULL,
		                                          0, NULL, 0),
		                 FL_OK);
	}
	assert_int_equal(
	        fl_portfolio_add_history(p, "XXX", sch, 1, NULL, 0, NULL, 0),
	        FL_E_LIMIT);
	free(p);
}

/* A change into (lock) or out of (unlock) locked. */
static struct fl_portfolio_change chg(fl_time at, bool into, bool money,
                                      bool paid, fl_time paid_at,
                                      fl_time confirmed_at)
{
	struct fl_portfolio_change c = {
	        .at = at,
	        .into_lock = into,
	        .for_money = money,
	        .by_payment = paid,
	        .paid_at = paid_at,
	        .confirmed_at = confirmed_at,
	};
	return c;
}

static void test_trends(void **state)
{
	struct fl_portfolio p;
	fl_time p9, p10, p11;
	struct fl_portfolio_change c[4];

	(void)state;
	fl_portfolio_init(&p, NOW);
	p9 = fl_portfolio_period_start(&p, 9);
	p10 = fl_portfolio_period_start(&p, 10);
	p11 = fl_portfolio_period_start(&p, 11);
	assert_int_equal(p11, NOW - FL_PORTFOLIO_PERIOD);

	/* 10 in service before the history; in period 9 one more enrolls
	 * and two lock; in period 10 one unlocks; in 11 one is released
	 * and one moves active -> reminding (still in service) */
	fl_portfolio_add_counts(&p, -1, FL_ST_PENDING, FL_ST_ACTIVE, 10);
	fl_portfolio_add_counts(&p, 9, FL_ST_PENDING, FL_ST_ACTIVE, 1);
	fl_portfolio_add_counts(&p, 9, FL_ST_ACTIVE, FL_ST_LOCKED, 2);
	fl_portfolio_add_counts(&p, 10, FL_ST_LOCKED, FL_ST_ACTIVE, 1);
	fl_portfolio_add_counts(&p, 11, FL_ST_ACTIVE, FL_ST_RELEASED, 1);
	fl_portfolio_add_counts(&p, 11, FL_ST_ACTIVE, FL_ST_REMINDING, 1);

	/* A: locked (overdue) in period 9, paid 3 days later: cured; the
	 * phone confirmed 60 s after the payment was recorded */
	c[0] = chg(p9 + FL_DAY, true, true, false, 0, 0);
	c[1] = chg(p9 + 4 * FL_DAY, false, false, true, p9 + 4 * FL_DAY - 10,
	           p9 + 4 * FL_DAY + 50);
	assert_int_equal(fl_portfolio_add_locks(&p, c, 2), FL_OK);
	/* B: locked in period 9, paid 8 days later: not cured (7 days and
	 * 1 s is too late too); latency 100 s */
	c[0] = chg(p9 + 2 * FL_DAY, true, true, false, 0, 0);
	c[1] = chg(p9 + 10 * FL_DAY, false, false, true, p9 + 10 * FL_DAY,
	           p9 + 10 * FL_DAY + 100);
	assert_int_equal(fl_portfolio_add_locks(&p, c, 2), FL_OK);
	/* C: locked on the exact 7-day boundary: cured */
	c[0] = chg(p9 + 3 * FL_DAY, true, true, false, 0, 0);
	c[1] = chg(p9 + 10 * FL_DAY, false, false, true, p9 + 10 * FL_DAY,
	           0); /* not confirmed: no latency */
	assert_int_equal(fl_portfolio_add_locks(&p, c, 2), FL_OK);
	/* D: an offline lock lifted by contact: not a lock for money, and
	 * its end is not by payment */
	c[0] = chg(p9 + 5 * FL_DAY, true, false, false, 0, 0);
	c[1] = chg(p9 + 6 * FL_DAY, false, false, false, 0, p9 + 6 * FL_DAY);
	assert_int_equal(fl_portfolio_add_locks(&p, c, 2), FL_OK);
	/* E: locked in period 10, unlocked by a manual unlock, locked
	 * again in 10 and still locked: two locks, none cured */
	c[0] = chg(p10 + FL_DAY, true, true, false, 0, 0);
	c[1] = chg(p10 + 2 * FL_DAY, false, false, false, 0, 0);
	c[2] = chg(p10 + 3 * FL_DAY, true, true, false, 0, 0);
	assert_int_equal(fl_portfolio_add_locks(&p, c, 3), FL_OK);
	/* F: locked 3 days ago: too young to judge, left out */
	c[0] = chg(NOW - 3 * FL_DAY, true, true, false, 0, 0);
	c[1] = chg(NOW - 2 * FL_DAY, false, false, true, NOW - 2 * FL_DAY,
	           NOW - 2 * FL_DAY + 5);
	assert_int_equal(fl_portfolio_add_locks(&p, c, 2), FL_OK);
	fl_portfolio_trends_done(&p);

	for (int k = 0; k < 9; k++) {
		assert_int_equal(p.trend[k].in_service, 10);
		assert_int_equal(p.trend[k].locked, 0);
		assert_true(fl_portfolio_trend_lock_rate(&p, k) == 0.0);
		assert_true(fl_portfolio_trend_cure_rate(&p, k) < 0);
		assert_int_equal(p.trend[k].latency_p95, -1);
	}
	assert_int_equal(p.trend[9].in_service, 11);
	assert_int_equal(p.trend[9].locked, 2);
	assert_true(fl_portfolio_trend_lock_rate(&p, 9) == 2.0 / 11.0);
	assert_int_equal(p.trend[10].locked, 1);
	assert_int_equal(p.trend[11].in_service, 10);
	assert_int_equal(p.trend[11].locked, 1);
	assert_true(fl_portfolio_trend_lock_rate(&p, 11) == 0.1);

	assert_int_equal(p.trend[9].locks, 3);
	assert_int_equal(p.trend[9].cured, 2);
	assert_true(fl_portfolio_trend_cure_rate(&p, 9) == 2.0 / 3.0);
	assert_int_equal(p.trend[9].paid_unlocks, 3);
	assert_int_equal(p.trend[9].confirmed, 2);
	assert_int_equal(p.trend[9].latency_p95, 100);
	assert_int_equal(p.trend[10].locks, 2);
	assert_int_equal(p.trend[10].cured, 0);
	assert_int_equal(p.trend[10].paid_unlocks, 0);
	assert_int_equal(p.trend[10].latency_p95, -1);
	assert_int_equal(p.trend[11].locks, 0); /* F is too young */
	assert_int_equal(p.trend[11].paid_unlocks, 1);
	assert_int_equal(p.trend[11].latency_p95, 5);
	fl_portfolio_clear(&p);
}

/* p95 by nearest rank: of 1..20 s it is 19 s, of 1..21 s 20 s. */
static void test_latency_p95(void **state)
{
	struct fl_portfolio p;
	struct fl_portfolio_change c;
	int n[2] = {20, 21};
	int64_t want[2] = {19, 20};

	(void)state;
	for (int t = 0; t < 2; t++) {
		fl_portfolio_init(&p, NOW);
		for (int i = n[t]; i >= 1; i--) { /* out of order */
			c = chg(NOW - 100, false, false, true, NOW - 100,
			        NOW - 100 + i);
			assert_int_equal(fl_portfolio_add_locks(&p, &c, 1),
			                 FL_OK);
		}
		fl_portfolio_trends_done(&p);
		assert_int_equal(p.trend[11].confirmed, n[t]);
		assert_int_equal(p.trend[11].latency_p95, want[t]);
		fl_portfolio_clear(&p);
	}
}

/* Devices counted in groups, then their late loans one by one, give the
 * report that counting each device does. */
static void test_groups_as_devices(void **state)
{
	struct fl_portfolio a, b;
	struct fl_portfolio_loan l[5];

	(void)state;
	l[0] = loan("KES", FL_ST_ACTIVE, 0, 1000, 0);
	l[1] = loan("KES", FL_ST_LOCKED, 500, 3000, 10 * FL_DAY);
	l[2] = loan("KES", FL_ST_REMINDING, 200, 2000, FL_DAY / 2);
	l[3] = loan("UGX", FL_ST_LOCKED, 700, 700, 40 * FL_DAY);
	l[3].stolen = true;
	l[4] = loan(NULL, FL_ST_PENDING, 0, 0, 0);
	fl_portfolio_init(&a, NOW);
	fl_portfolio_init(&b, NOW);
	for (int i = 0; i < 5; i++)
		assert_int_equal(fl_portfolio_add(&a, &l[i]), FL_OK);
	assert_int_equal(fl_portfolio_add_group(&b, "KES", FL_ST_ACTIVE, false,
	                                        1, 1000, 0),
	                 FL_OK);
	assert_int_equal(fl_portfolio_add_group(&b, "KES", FL_ST_LOCKED, false,
	                                        1, 3000, 500),
	                 FL_OK);
	assert_int_equal(fl_portfolio_add_group(&b, "KES", FL_ST_REMINDING,
	                                        false, 1, 2000, 200),
	                 FL_OK);
	assert_int_equal(fl_portfolio_add_group(&b, "UGX", FL_ST_LOCKED, true,
	                                        1, 700, 700),
	                 FL_OK);
	assert_int_equal(fl_portfolio_add_group(&b, "", FL_ST_PENDING, false, 1,
	                                        0, 0),
	                 FL_OK);
	for (int i = 1; i < 4; i++)
		assert_int_equal(fl_portfolio_add_late(&b, l[i].currency,
		                                       l[i].amount_remaining,
		                                       l[i].first_unpaid),
		                 FL_OK);
	assert_int_equal(a.devices, b.devices);
	assert_int_equal(a.stolen, b.stolen);
	assert_memory_equal(a.by_state, b.by_state, sizeof(a.by_state));
	assert_int_equal(a.n_ccy, b.n_ccy);
	assert_memory_equal(a.ccy, b.ccy, sizeof(a.ccy));
	assert_int_equal(b.ccy[0].loans_overdue, 2);
	assert_int_equal(b.ccy[0].at_risk[1], 3000); /* PAR7: 10 days late */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_par_boundaries),
	        cmocka_unit_test(test_currencies_apart_and_capped),
	        cmocka_unit_test(test_first_unpaid),
	        cmocka_unit_test(test_history),
	        cmocka_unit_test(test_trends),
	        cmocka_unit_test(test_latency_p95),
	        cmocka_unit_test(test_groups_as_devices),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
