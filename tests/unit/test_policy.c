/* Unit tests for core/policy: the lock decision and its boundaries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/policy.h"

#define D  ((fl_time)FL_DAY)
#define T0 ((fl_time)1767225600) /* 2026-01-01T00:00:00Z */

/* ---- helpers ------------------------------------------------------------ */

static struct fl_contract contract(const struct fl_installment *s, size_t n,
                                   int64_t grace)
{
	struct fl_contract c = {
	        .currency = "KES",
	        .utc_offset = 0,
	        .schedule = s,
	        .n_schedule = n,
	        .grace = grace,
	        .max_offline = 0,
	        .remind = {3 * D, 1 * D, 0},
	        .n_remind = 3,
	};
	return c;
}

static struct fl_policy_input input(const struct fl_contract *c)
{
	struct fl_policy_input in = {
	        .contract = c,
	        .enrolled = true,
	        .now = T0,
	};
	return in;
}

static struct fl_decision decide_at(struct fl_policy_input in, fl_time now)
{
	struct fl_decision d;
	struct fl_policy_where w;

	in.now = now;
	assert_int_equal(fl_policy_decide(&in, &d, &w), FL_OK);
	assert_int_equal(w.part, FL_PART_NONE);
	return d;
}

/* Three monthly installments of 1000, due T0+30d, +60d, +90d. */
static const struct fl_installment three[] = {
        {T0 + 30 * D, 1000},
        {T0 + 60 * D, 1000},
        {T0 + 90 * D, 1000},
};

/* ---- dates -------------------------------------------------------------- */

static void test_end_of_day(void **state)
{
	(void)state;
	/* Known answers computed independently (Python datetime). */
	assert_int_equal(fl_policy_end_of_day(2026, 3, 15, 0), 1773619199);
	assert_int_equal(fl_policy_end_of_day(2026, 3, 15, 3 * 3600),
	                 1773608399); /* 20:59:59Z */
	assert_int_equal(fl_policy_end_of_day(2026, 3, 15, -5 * 3600),
	                 1773637199); /* 04:59:59Z the next day */
	assert_int_equal(fl_policy_end_of_day(2024, 2, 29, 14 * 3600),
	                 1709200799);
	assert_int_equal(fl_policy_end_of_day(2024, 12, 31, -12 * 3600),
	                 1735732799); /* 2025-01-01T11:59:59Z */
	/* The next local day starts exactly one second later. */
	assert_int_equal(fl_policy_end_of_day(2026, 3, 15, 3 * 3600) + 1,
	                 fl_policy_end_of_day(2026, 3, 16, 3 * 3600) + 1 - D);
}

static void test_due_parse(void **state)
{
	(void)state;
	fl_time t;

	assert_int_equal(fl_policy_due_parse("2026-03-15", 10, 3 * 3600, &t),
	                 FL_OK);
	assert_int_equal(t, 1773608399);
	assert_int_equal(fl_policy_due_parse("2026-03-15", 10, -5 * 3600, &t),
	                 FL_OK);
	assert_int_equal(t, 1773637199);
	/* A full date-time is that instant, whatever the contract offset. */
	assert_int_equal(
	        fl_policy_due_parse("2026-03-15T12:00:00Z", 20, 3 * 3600, &t),
	        FL_OK);
	assert_int_equal(t, 1773576000);
	t = 99;
	assert_int_equal(fl_policy_due_parse("2026-02-30", 10, 0, &t),
	                 FL_E_TIME_INVALID);
	assert_int_equal(t, 0);
	assert_int_not_equal(fl_policy_due_parse("2026-3-15", 9, 0, &t), FL_OK);
	assert_int_equal(fl_policy_due_parse("2026-03-15", 10, 24 * 3600, &t),
	                 FL_E_RANGE);
}

/* A date-only due date locks at the end of the local day: at +03:00 and at
 * -05:00 the same calendar date gives instants eight hours apart. */
static void test_date_only_due_at_offsets(void **state)
{
	(void)state;
	const int32_t offs[2] = {3 * 3600, -5 * 3600};

	for (int k = 0; k < 2; k++) {
		fl_time due;
		assert_int_equal(
		        fl_policy_due_parse("2026-03-15", 10, offs[k], &due),
		        FL_OK);
		struct fl_installment s[] = {{due, 500}};
		struct fl_contract c = contract(s, 1, 0);
		c.utc_offset = offs[k];
		struct fl_policy_input in = input(&c);

		/* 23:59:58 local: not yet locked; 23:59:59 local: locked. */
		assert_int_equal(decide_at(in, due - 1).state, FL_ST_REMINDING);
		assert_int_equal(decide_at(in, due).state, FL_ST_LOCKED);
		assert_int_equal(decide_at(in, due).lock_at, due);
		/* Paid during that local day: active. */
		struct fl_payment p = {1, 500, due - 3600, false};
		in.payments = &p;
		in.n_payments = 1;
		assert_int_equal(decide_at(in, due).state, FL_ST_RELEASED);
	}
	/* The -05:00 day ends 8 hours after the +03:00 one. */
	fl_time a, b;
	assert_int_equal(fl_policy_due_parse("2026-03-15", 10, 3 * 3600, &a),
	                 FL_OK);
	assert_int_equal(fl_policy_due_parse("2026-03-15", 10, -5 * 3600, &b),
	                 FL_OK);
	assert_int_equal(b - a, 8 * 3600);
}

/* ---- payments and the automatic lock ------------------------------------ */

static void test_payment_exactly_on_due_date(void **state)
{
	(void)state;
	const fl_time due = three[0].due_at;
	struct fl_contract c = contract(three, 3, 0); /* no grace */
	struct fl_policy_input in = input(&c);
	struct fl_decision d;

	/* Unpaid with no grace: locked from the due instant. */
	d = decide_at(in, due);
	assert_int_equal(d.state, FL_ST_LOCKED);
	assert_int_equal(d.lock_at, due);
	assert_int_equal(d.lock_cause, FL_LOCK_OVERDUE);
	assert_int_equal(d.amount_due_now, 1000);

	/* Paid at the due instant itself: on time, never locked. */
	struct fl_payment p = {1, 1000, due, false};
	in.payments = &p;
	in.n_payments = 1;
	d = decide_at(in, due - 1); /* the payment does not count yet */
	assert_int_equal(d.state, FL_ST_REMINDING);
	assert_int_equal(d.amount_paid, 0);
	assert_int_equal(d.next_change, due);
	d = decide_at(in, due);
	assert_int_equal(d.state, FL_ST_ACTIVE);
	assert_int_equal(d.amount_paid, 1000);
	assert_int_equal(d.amount_due_now, 0);
	assert_int_equal(d.paid_through, three[0].due_at);
	assert_int_equal(d.lock_at, three[1].due_at);
	d = decide_at(in, due + 1);
	assert_int_equal(d.state, FL_ST_ACTIVE);
}

static void test_lock_at_boundary(void **state)
{
	(void)state;
	const fl_time due = three[0].due_at, grace = 5 * D;
	struct fl_contract c = contract(three, 3, grace);
	struct fl_policy_input in = input(&c);
	struct fl_decision d;

	d = decide_at(in, due + grace - 1);
	assert_int_equal(d.state, FL_ST_REMINDING);
	assert_int_equal(d.lock_at, due + grace);
	assert_int_equal(d.next_change, due + grace);
	assert_int_equal(d.amount_due_now, 1000);
	d = decide_at(in, due + grace);
	assert_int_equal(d.state, FL_ST_LOCKED);
	assert_int_equal(d.lock_at, due + grace);
	assert_int_equal(d.lock_cause, FL_LOCK_OVERDUE);
	d = decide_at(in, due + grace + 1);
	assert_int_equal(d.state, FL_ST_LOCKED);

	/* Paying unlocks at once (the next installment is not due yet). */
	struct fl_payment p = {1, 1000, due + grace + 10, false};
	in.payments = &p;
	in.n_payments = 1;
	d = decide_at(in, due + grace + 10);
	assert_int_equal(d.state, FL_ST_ACTIVE);
	assert_int_equal(d.lock_at, three[1].due_at + grace);
}

static void test_partial_payments(void **state)
{
	(void)state;
	struct fl_contract c = contract(three, 3, 2 * D);
	struct fl_policy_input in = input(&c);
	struct fl_payment p[] = {
	        {1, 600, T0 + 1 * D, false},
	        {2, 300, T0 + 2 * D, false},
	        {3, 100, T0 + 40 * D, false},
	};
	struct fl_decision d;

	in.payments = p;
	in.n_payments = 2;
	d = decide_at(in, three[0].due_at + 1);
	assert_int_equal(d.amount_paid, 900);
	assert_int_equal(d.paid_through, 0);
	assert_int_equal(d.amount_due_now, 100);
	assert_int_equal(d.amount_remaining, 2100);
	assert_int_equal(d.state, FL_ST_REMINDING);
	d = decide_at(in, three[0].due_at + 2 * D);
	assert_int_equal(d.state, FL_ST_LOCKED); /* 100 short is short */

	in.n_payments = 3;
	d = decide_at(in, T0 + 40 * D);
	assert_int_equal(d.state, FL_ST_ACTIVE);
	assert_int_equal(d.paid_through, three[0].due_at);
	assert_int_equal(d.amount_due_now, 0);
	assert_int_equal(d.next_due_at, three[1].due_at);
	assert_int_equal(d.next_due_amount, 1000);
}

static void test_overpayment_carries(void **state)
{
	(void)state;
	struct fl_contract c = contract(three, 3, 0);
	struct fl_policy_input in = input(&c);
	struct fl_payment p = {1, 1500, T0, false};
	struct fl_decision d;

	in.payments = &p;
	in.n_payments = 1;
	d = decide_at(in, T0 + 1);
	assert_int_equal(d.paid_through, three[0].due_at);
	/* The first installment is fully covered: the next one shown is the
	 * second, with its unpaid half. */
	d = decide_at(in, three[0].due_at);
	assert_int_equal(d.state, FL_ST_ACTIVE);
	assert_int_equal(d.amount_due_now, 0);
	assert_int_equal(d.next_due_at, three[1].due_at);
	assert_int_equal(d.next_due_amount, 500);
	assert_int_equal(d.amount_remaining, 1500);
	d = decide_at(in, three[1].due_at);
	assert_int_equal(d.amount_due_now, 500);
	assert_int_equal(d.state, FL_ST_LOCKED);

	/* Paying more than the whole contract: released, nothing remaining. */
	p.amount = 4000;
	d = decide_at(in, T0 + 1);
	assert_int_equal(d.state, FL_ST_RELEASED);
	assert_int_equal(d.amount_paid, 4000);
	assert_int_equal(d.amount_remaining, 0);
	assert_int_equal(d.paid_through, three[2].due_at);
}

static void test_overpayment_first_unpaid_is_next(void **state)
{
	(void)state;
	struct fl_contract c = contract(three, 3, 0);
	struct fl_policy_input in = input(&c);
	struct fl_payment p = {1, 1500, T0, false};
	struct fl_decision d;

	in.payments = &p;
	in.n_payments = 1;
	d = decide_at(in, T0 + 1);
	/* Installment 1 paid, installment 2 half paid. */
	assert_int_equal(d.next_due_at, three[1].due_at);
	assert_int_equal(d.next_due_amount, 500);
}

static void test_reversed_payment(void **state)
{
	(void)state;
	struct fl_contract c = contract(three, 3, 0);
	struct fl_policy_input in = input(&c);
	struct fl_payment p[] = {
	        {1, 1000, T0 + D, true}, /* bounced */
	        {2, 200, T0 + 2 * D, false},
	};
	struct fl_decision d;

	in.payments = p;
	in.n_payments = 2;
	d = decide_at(in, three[0].due_at);
	assert_int_equal(d.amount_paid, 200);
	assert_int_equal(d.amount_due_now, 800);
	assert_int_equal(d.state, FL_ST_LOCKED);
	p[0].reversed = false;
	d = decide_at(in, three[0].due_at);
	assert_int_equal(d.state, FL_ST_ACTIVE);
	assert_int_equal(d.amount_paid, 1200);
}

static void test_reschedule(void **state)
{
	(void)state;
	struct fl_contract c = contract(three, 3, 0);
	struct fl_policy_input in = input(&c);
	/* From the second due date on: four payments of 500, weekly. */
	const fl_time from = three[1].due_at;
	struct fl_installment news[] = {
	        {from + 7 * D, 500},
	        {from + 14 * D, 500},
	        {from + 21 * D, 500},
	        {from + 28 * D, 500},
	};
	struct fl_reschedule rs[2] = {{from, news, 4}, {0, NULL, 0}};
	struct fl_payment p = {1, 1000, T0, false};
	struct fl_decision d;

	in.payments = &p;
	in.n_payments = 1;
	in.reschedules = rs;
	in.n_reschedules = 1;
	d = decide_at(in, from);
	assert_int_equal(d.amount_total, 3000);  /* 1000 + 4 * 500 */
	assert_int_equal(d.state, FL_ST_ACTIVE); /* old due date gone */
	assert_int_equal(d.paid_through, three[0].due_at);
	assert_int_equal(d.next_due_at, from + 7 * D);
	assert_int_equal(d.amount_due_now, 0);
	d = decide_at(in, from + 7 * D);
	assert_int_equal(d.state, FL_ST_LOCKED);
	assert_int_equal(d.amount_due_now, 500);

	/* A later reschedule from an earlier date replaces the first one
	 * entirely: a single 2000 due at from + 60d. */
	struct fl_installment single[] = {{from + 60 * D, 2000}};
	rs[1] = (struct fl_reschedule){three[0].due_at + 1, single, 1};
	in.n_reschedules = 2;
	d = decide_at(in, from + 7 * D);
	assert_int_equal(d.amount_total, 3000);
	assert_int_equal(d.state, FL_ST_ACTIVE);
	assert_int_equal(d.paid_through, three[0].due_at);

	/* Waiving the rest (an empty list) releases the device. */
	rs[1] = (struct fl_reschedule){three[0].due_at + 1, NULL, 0};
	d = decide_at(in, from + 7 * D);
	assert_int_equal(d.amount_total, 1000);
	assert_int_equal(d.state, FL_ST_RELEASED);
}

static void test_final_payment_releases_for_good(void **state)
{
	(void)state;
	struct fl_contract c = contract(three, 3, D);
	c.max_offline = 30 * D;
	struct fl_policy_input in = input(&c);
	struct fl_payment p[] = {
	        {1, 1000, T0 + 10 * D, false},
	        {2, 1000, T0 + 50 * D, false},
	        {3, 1000, T0 + 80 * D, false},
	};
	struct fl_command cmd = {FL_CMD_RELEASE, T0 + 100 * D, 0, "paid"};
	struct fl_decision d;

	in.payments = p;
	in.n_payments = 3;
	in.last_contact = T0 + 80 * D;
	d = decide_at(in, T0 + 80 * D);
	assert_int_equal(d.state, FL_ST_RELEASED);
	assert_int_equal(d.paid_through, three[2].due_at);
	assert_int_equal(d.lock_at, 0);
	assert_int_equal(d.lock_cause, FL_LOCK_NONE);
	assert_int_equal(d.amount_remaining, 0);
	assert_int_equal(d.n_reminders, 0);
	assert_int_equal(d.next_change, 0);
	/* Years later, never seen again: still released (no offline lock). */
	d = decide_at(in, T0 + 3000 * D);
	assert_int_equal(d.state, FL_ST_RELEASED);

	/* The last payment bounces: release by payment is re-opened. */
	p[2].reversed = true;
	d = decide_at(in, T0 + 200 * D);
	assert_int_equal(d.state, FL_ST_LOCKED);
	assert_int_equal(d.amount_due_now, 1000);

	/* After an explicit release command a reversal changes nothing. */
	in.commands = &cmd;
	in.n_commands = 1;
	d = decide_at(in, T0 + 200 * D);
	assert_int_equal(d.state, FL_ST_RELEASED);
	assert_true(d.released_by_command);
	assert_int_equal(d.lock_at, 0);
	assert_int_equal(d.n_reminders, 0);
	assert_int_equal(d.amount_remaining, 1000); /* the books still say so */
}

static void test_max_offline(void **state)
{
	(void)state;
	struct fl_contract c = contract(three, 3, 5 * D);
	c.max_offline = 7 * D;
	struct fl_policy_input in = input(&c);
	const fl_time seen = T0 + 2 * D;
	struct fl_decision d;

	/* Never seen: no offline lock, only the payment lock. */
	d = decide_at(in, T0 + 20 * D);
	assert_int_equal(d.lock_at, three[0].due_at + 5 * D);
	assert_int_equal(d.lock_cause, FL_LOCK_OVERDUE);

	in.last_contact = seen;
	d = decide_at(in, seen + 7 * D - 1);
	assert_int_equal(d.lock_at, seen + 7 * D);
	assert_int_equal(d.lock_cause, FL_LOCK_OFFLINE);
	assert_int_equal(d.state, FL_ST_ACTIVE);
	assert_int_equal(d.next_change, seen + 7 * D);
	d = decide_at(in, seen + 7 * D);
	assert_int_equal(d.state, FL_ST_LOCKED);
	assert_int_equal(d.lock_cause, FL_LOCK_OFFLINE);

	/* Contact resets the clock. */
	in.last_contact = seen + 7 * D;
	d = decide_at(in, seen + 7 * D);
	assert_int_equal(d.state, FL_ST_ACTIVE);
	/* When the payment lock comes first, it wins. */
	in.last_contact = three[0].due_at;
	d = decide_at(in, three[0].due_at);
	assert_int_equal(d.lock_at, three[0].due_at + 5 * D);
	assert_int_equal(d.lock_cause, FL_LOCK_OVERDUE);
}

/* ---- reminders -------------------------------------------------------------
 */

static void test_reminders_3_1_0_days(void **state)
{
	(void)state;
	struct fl_contract c = contract(three, 3, 2 * D);
	struct fl_policy_input in = input(&c);
	const fl_time due = three[0].due_at;
	struct fl_decision d;

	d = decide_at(in, due - 4 * D);
	assert_int_equal(d.state, FL_ST_ACTIVE);
	assert_int_equal(d.n_reminders, 8);
	assert_int_equal(d.reminders[0].at, due - 3 * D);
	assert_int_equal(d.reminders[1].at, due - 1 * D);
	assert_int_equal(d.reminders[2].at, due);
	assert_int_equal(d.reminders[3].at, three[1].due_at - 3 * D);
	assert_int_equal(d.reminders[0].due_at, due);
	assert_int_equal(d.reminders[0].amount, 1000);
	assert_int_equal(d.reminders[3].amount, 2000); /* to be current then */
	assert_int_equal(d.reminders[7].at, three[2].due_at - 1 * D);
	assert_int_equal(d.next_change, due - 3 * D);

	d = decide_at(in, due - 3 * D - 1);
	assert_int_equal(d.state, FL_ST_ACTIVE);
	d = decide_at(in, due - 3 * D);
	assert_int_equal(d.state, FL_ST_REMINDING);
	assert_int_equal(d.reminders[0].at, due - 3 * D); /* shown now */
	assert_int_equal(d.next_change, due - 3 * D + 1);
	/* Its time past, it stays listed first for a day. */
	d = decide_at(in, due - 3 * D + 1);
	assert_int_equal(d.n_reminders, 8);
	assert_int_equal(d.reminders[0].at, due - 3 * D);
	assert_int_equal(d.reminders[1].at, due - 1 * D);
	assert_int_equal(d.next_change, due - 2 * D);
	d = decide_at(in, due - 2 * D);
	assert_int_equal(d.reminders[0].at, due - 1 * D);
	assert_int_equal(d.next_change, due - 1 * D);
	d = decide_at(in, due - 1);
	assert_int_equal(d.reminders[0].at, due - 1 * D); /* the past one */
	assert_int_equal(d.reminders[1].at, due);
	d = decide_at(in, due); /* a day after it: gone */
	assert_int_equal(d.reminders[0].at, due);
	assert_int_equal(d.state, FL_ST_REMINDING);
	/* Past due, in grace: still reminding; the due-day reminder is kept
	 * a day, then none of it is left. */
	d = decide_at(in, due + 1);
	assert_int_equal(d.state, FL_ST_REMINDING);
	assert_int_equal(d.reminders[0].at, due);
	assert_int_equal(d.reminders[0].due_at, due);
	assert_int_equal(d.reminders[0].amount, 1000);
	assert_int_equal(d.reminders[1].due_at, three[1].due_at);
	assert_int_equal(d.reminders[1].amount, 2000);
	assert_int_equal(d.next_change, due + D);
	d = decide_at(in, due + D);
	assert_int_equal(d.state, FL_ST_REMINDING);
	assert_int_equal(d.reminders[0].due_at, three[1].due_at);
	assert_int_equal(d.next_change, due + 2 * D);

	/* Paid: its reminders go, the next installment's stay. */
	struct fl_payment p = {1, 1000, due - 2 * D, false};
	in.payments = &p;
	in.n_payments = 1;
	d = decide_at(in, due - 2 * D);
	assert_int_equal(d.state, FL_ST_ACTIVE);
	assert_int_equal(d.reminders[0].due_at, three[1].due_at);
	assert_int_equal(d.reminders[0].amount, 1000);
	assert_int_equal(d.n_reminders, 6);
}

/* The reminder whose time has come stays in the decision for a day (so a
 * phone keeps showing it, and a phone that enrolls then still gets it),
 * unless its installment is paid. */
static void test_reminders_past_kept_a_day(void **state)
{
	(void)state;
	struct fl_contract c = contract(three, 3, 2 * D);
	struct fl_policy_input in = input(&c);
	const fl_time due = three[0].due_at;
	const fl_time at = due - 3 * D;
	struct fl_decision d, d2;

	c.remind[0] = 3 * D;
	c.n_remind = 1;
	/* A pending device decided in the window gets it in its first
	 * token. */
	in.enrolled = false;
	d = decide_at(in, at + 12 * 3600);
	assert_int_equal(d.state, FL_ST_PENDING);
	assert_int_equal(d.n_reminders, 3);
	assert_int_equal(d.reminders[0].at, at);
	assert_int_equal(d.reminders[0].due_at, due);
	assert_int_equal(d.reminders[0].amount, 1000);
	assert_int_equal(d.reminders[1].at, three[1].due_at - 3 * D);
	assert_int_equal(d.next_change, at + D);
	in.enrolled = true;

	d = decide_at(in, at + D - 1);
	assert_int_equal(d.reminders[0].at, at);
	assert_int_equal(d.next_change, at + D);
	/* A day after its time it is gone. */
	d = decide_at(in, at + D);
	assert_int_equal(d.n_reminders, 2);
	assert_int_equal(d.reminders[0].due_at, three[1].due_at);

	/* Only the latest past one: with a second installment whose reminder
	 * also came, the newer reminder is listed, not both. */
	struct fl_installment s[2] = {{T0 + 10 * D, 500},
	                              {T0 + 10 * D + 3600, 700}};
	struct fl_contract c2 = contract(s, 2, 2 * D);
	struct fl_policy_input in2 = input(&c2);
	c2.remind[0] = 0;
	c2.n_remind = 1;
	d2 = decide_at(in2, s[1].due_at + 1);
	assert_int_equal(d2.n_reminders, 1);
	assert_int_equal(d2.reminders[0].at, s[1].due_at);
	assert_int_equal(d2.reminders[0].amount, 1200);

	/* Paid: it goes at the payment, though the day has not passed. */
	struct fl_payment p = {1, 1000, at + 3600, false};
	in.payments = &p;
	in.n_payments = 1;
	d = decide_at(in, at + 3600 - 1);
	assert_int_equal(d.reminders[0].at, at);
	assert_int_equal(d.next_change, at + 3600);
	d = decide_at(in, at + 3600);
	assert_int_equal(d.n_reminders, 2);
	assert_int_equal(d.reminders[0].due_at, three[1].due_at);
	assert_int_equal(d.reminders[0].amount, 1000);
	/* A partial payment keeps it, with what is left to pay. */
	p.amount = 400;
	d = decide_at(in, at + 3600);
	assert_int_equal(d.reminders[0].at, at);
	assert_int_equal(d.reminders[0].amount, 600);
}

static void test_reminders_interleave(void **state)
{
	(void)state;
	/* Weekly installments with a 10-day reminder: reminders of two
	 * installments interleave and come out sorted. */
	struct fl_installment s[12];
	for (int i = 0; i < 12; i++)
		s[i] = (struct fl_installment){T0 + (i + 2) * 7 * D, 100};
	struct fl_contract c = contract(s, 12, 0);
	c.remind[0] = 10 * D;
	c.remind[1] = 0;
	c.n_remind = 2;
	struct fl_policy_input in = input(&c);
	struct fl_decision d = decide_at(in, T0);

	assert_int_equal(d.n_reminders, FL_POLICY_MAX_REMINDERS);
	for (size_t i = 1; i < d.n_reminders; i++)
		assert_true(d.reminders[i - 1].at <= d.reminders[i].at);
	assert_int_equal(d.reminders[0].at, s[0].due_at - 10 * D);
	assert_int_equal(d.reminders[1].at, s[1].due_at - 10 * D);
	assert_int_equal(d.reminders[2].at, s[0].due_at);
	assert_int_equal(d.reminders[3].at, s[2].due_at - 10 * D);
}

/* ---- manual commands ---------------------------------------------------- */

static void test_manual_lock_and_payment(void **state)
{
	(void)state;
	struct fl_contract c = contract(three, 3, 10 * D);
	struct fl_policy_input in = input(&c);
	const fl_time due = three[0].due_at, lk = due + 2 * D;
	struct fl_command cmd[] = {{FL_CMD_LOCK, lk, 0, "overdue"}};
	struct fl_payment p[] = {{1, 500, lk + 10, false},
	                         {2, 500, lk + 20, false}};
	struct fl_decision d;

	in.commands = cmd;
	in.n_commands = 1;
	d = decide_at(in, lk - 1);
	assert_int_equal(d.state, FL_ST_REMINDING);
	assert_int_equal(d.next_change, lk);
	d = decide_at(in, lk);
	assert_int_equal(d.state, FL_ST_LOCKED);
	assert_int_equal(d.lock_at, lk);
	assert_int_equal(d.lock_cause, FL_LOCK_MANUAL);

	/* A partial payment does not lift it; the one leaving nothing due
	 * does: paid means unlocked. */
	in.payments = p;
	in.n_payments = 2;
	d = decide_at(in, lk + 10);
	assert_int_equal(d.state, FL_ST_LOCKED);
	assert_int_equal(d.next_change, lk + 20);
	d = decide_at(in, lk + 20);
	assert_int_equal(d.state, FL_ST_ACTIVE);
	assert_int_equal(d.lock_cause, FL_LOCK_OVERDUE);
	assert_int_equal(d.lock_at, three[1].due_at + 10 * D);
	/* And it stays lifted when the next installment falls due. */
	d = decide_at(in, three[1].due_at + 1);
	assert_int_equal(d.state, FL_ST_REMINDING);

	/* A lock on a current account holds until a payment after it. */
	struct fl_payment early = {1, 1000, T0, false};
	struct fl_command cur = {FL_CMD_LOCK, T0 + D, 0, "dispute"};
	in.payments = &early;
	in.n_payments = 1;
	in.commands = &cur;
	d = decide_at(in, T0 + 40 * D);
	assert_int_equal(d.state, FL_ST_LOCKED);
	assert_int_equal(d.lock_at, T0 + D);
}

static void test_manual_unlock_expires(void **state)
{
	(void)state;
	struct fl_contract c = contract(three, 3, D);
	struct fl_policy_input in = input(&c);
	const fl_time due = three[0].due_at, lock = due + D;
	const fl_time issued = lock + 3600, until = issued + 2 * D;
	struct fl_command cmd[] = {
	        {FL_CMD_UNLOCK_UNTIL, issued, until, "promised to pay"},
	        {FL_CMD_LOCK, until + 5 * D, 0, NULL},
	};
	struct fl_decision d;

	in.commands = cmd;
	in.n_commands = 1;
	d = decide_at(in, issued - 1);
	assert_int_equal(d.state, FL_ST_LOCKED);
	d = decide_at(in, issued);
	assert_int_equal(d.state, FL_ST_REMINDING);
	assert_int_equal(d.unlock_until, until);
	assert_int_equal(d.lock_at, until);
	assert_int_equal(d.next_change, until);
	d = decide_at(in, until - 1);
	assert_int_equal(d.state, FL_ST_REMINDING);
	d = decide_at(in, until);
	assert_int_equal(d.state, FL_ST_LOCKED);
	assert_int_equal(d.unlock_until, 0);
	assert_int_equal(d.lock_at, lock);
	assert_int_equal(d.lock_cause, FL_LOCK_OVERDUE);

	/* An unlock lifts a manual lock issued before it. */
	struct fl_command lu[] = {
	        {FL_CMD_LOCK, T0, 0, NULL},
	        {FL_CMD_UNLOCK_UNTIL, T0 + D, T0 + 2 * D, NULL},
	};
	in.commands = lu;
	in.n_commands = 2;
	assert_int_equal(decide_at(in, T0 + D - 1).state, FL_ST_LOCKED);
	assert_int_equal(decide_at(in, T0 + D).state, FL_ST_ACTIVE);
	assert_int_equal(decide_at(in, T0 + 3 * D).state, FL_ST_ACTIVE);

	/* A manual lock issued during an unlock ends it. */
	cmd[1].issued_at = issued + D;
	in.commands = cmd;
	in.n_commands = 2;
	d = decide_at(in, issued + D);
	assert_int_equal(d.state, FL_ST_LOCKED);
	assert_int_equal(d.lock_cause, FL_LOCK_MANUAL);
	assert_int_equal(d.unlock_until, 0);
}

static void test_scheduled_lock(void **state)
{
	(void)state;
	struct fl_contract c = contract(three, 3, 10 * D);
	struct fl_policy_input in = input(&c);
	const fl_time due = three[0].due_at, at = due + 3 * D;
	struct fl_command cmd[] = {
	        {FL_CMD_LOCK_AT, due + 1, at, "final notice"},
	};
	struct fl_decision d;

	in.commands = cmd;
	in.n_commands = 1;
	d = decide_at(in, at - 1);
	assert_int_equal(d.state, FL_ST_REMINDING);
	assert_int_equal(d.lock_at, at);
	assert_int_equal(d.lock_cause, FL_LOCK_SCHEDULED);
	assert_int_equal(d.next_change, at);
	d = decide_at(in, at);
	assert_int_equal(d.state, FL_ST_LOCKED);
	assert_int_equal(d.lock_at, at);
	d = decide_at(in, at + 1);
	assert_int_equal(d.state, FL_ST_LOCKED);

	/* Paid in full of what is due before the time comes: cancelled. */
	struct fl_payment p = {1, 1000, due + 2 * D, false};
	in.payments = &p;
	in.n_payments = 1;
	d = decide_at(in, at);
	assert_int_equal(d.state, FL_ST_ACTIVE);
	assert_int_equal(d.lock_cause, FL_LOCK_OVERDUE);

	/* A scheduled lock issued during an unlock ends it when it comes. */
	struct fl_command cu[] = {
	        {FL_CMD_LOCK, due + 1, 0, NULL},
	        {FL_CMD_UNLOCK_UNTIL, due + 2, due + 20 * D, NULL},
	        {FL_CMD_LOCK_AT, due + 3, due + 5 * D, NULL},
	};
	in.n_payments = 0;
	in.commands = cu;
	in.n_commands = 3;
	d = decide_at(in, due + 5 * D - 1);
	assert_int_equal(d.state, FL_ST_REMINDING);
	assert_int_equal(d.lock_at, due + 5 * D);
	d = decide_at(in, due + 5 * D);
	assert_int_equal(d.state, FL_ST_LOCKED);
	assert_int_equal(d.unlock_until, 0);
	/* An unlock issued after a scheduled lock cancels it. */
	struct fl_command cs[] = {
	        {FL_CMD_LOCK_AT, T0, T0 + 5 * D, NULL},
	        {FL_CMD_UNLOCK_UNTIL, T0 + D, T0 + D, NULL},
	};
	in.commands = cs;
	in.n_commands = 2;
	d = decide_at(in, T0 + 6 * D);
	assert_int_equal(d.state, FL_ST_ACTIVE);
	/* A later LOCK_AT replaces an earlier one still to come. */
	struct fl_command rr[] = {
	        {FL_CMD_LOCK_AT, T0, T0 + 5 * D, NULL},
	        {FL_CMD_LOCK_AT, T0 + D, T0 + 8 * D, NULL},
	};
	in.commands = rr;
	assert_int_equal(decide_at(in, T0 + 7 * D).state, FL_ST_ACTIVE);
	assert_int_equal(decide_at(in, T0 + 7 * D).lock_at, T0 + 8 * D);
	assert_int_equal(decide_at(in, T0 + 8 * D).state, FL_ST_LOCKED);
}

/* A scheduled lock still to come is named by the decision (sched_command,
 * sched_at) whether it drives lock_at or an earlier lock comes first, so
 * the lender can see it and cancel it; not once it has come, nor once a
 * payment lifted it. */
static void test_scheduled_lock_behind_another(void **state)
{
	(void)state;
	struct fl_contract c = contract(three, 3, 0);
	struct fl_policy_input in = input(&c);
	const fl_time due = three[0].due_at;
	struct fl_command cmd[] = {
	        {FL_CMD_UNLOCK_UNTIL, due + 1, due + 3 * D, "promised"},
	        {FL_CMD_LOCK_AT, due + 2, due + 6 * D, "promise not kept"},
	};
	struct fl_payment p = {1, 1000, due + 4 * D, false};
	struct fl_decision d;

	in.commands = cmd;
	in.n_commands = 2;
	/* the overdue lock comes back when the unlock ends, before it */
	d = decide_at(in, due + 2 * D);
	assert_int_equal(d.lock_cause, FL_LOCK_OVERDUE);
	assert_int_equal(d.lock_at, due + 3 * D);
	assert_int_equal(d.unlock_command, 1);
	assert_int_equal(d.sched_command, 2);
	assert_int_equal(d.sched_at, due + 6 * D);
	/* still to come while the overdue lock holds */
	d = decide_at(in, due + 4 * D);
	assert_int_equal(d.state, FL_ST_LOCKED);
	assert_int_equal(d.sched_command, 2);
	/* come: nothing pending */
	d = decide_at(in, due + 6 * D);
	assert_int_equal(d.state, FL_ST_LOCKED);
	assert_int_equal(d.sched_command, 0);
	assert_int_equal(d.sched_at, 0);
	/* lifted by a payment that leaves nothing due */
	in.payments = &p;
	in.n_payments = 1;
	d = decide_at(in, due + 5 * D);
	assert_int_equal(d.sched_command, 0);
	assert_int_equal(d.state, FL_ST_ACTIVE);
	/* and none without a LOCK_AT */
	in.n_commands = 1;
	assert_int_equal(decide_at(in, due + 2 * D).sched_command, 0);
}

static void test_stolen(void **state)
{
	(void)state;
	struct fl_contract c = contract(three, 3, 0);
	struct fl_policy_input in = input(&c);
	struct fl_payment p = {1, 3000, T0 + 2 * D, false};
	struct fl_command cmd[] = {
	        {FL_CMD_STOLEN_SET, T0 + D, 0, "police report 42"},
	        {FL_CMD_RELEASE, T0 + 2 * D, 0, NULL},
	        {FL_CMD_STOLEN_CLEAR, T0 + 3 * D, 0, "recovered"},
	};
	struct fl_decision d;

	in.payments = &p;
	in.n_payments = 1;
	in.commands = cmd;
	in.n_commands = 1;
	/* Reported before the release: stolen overrides the payment that
	 * covers the contract... */
	d = decide_at(in, T0 + 2 * D);
	assert_int_equal(d.state, FL_ST_LOCKED);
	assert_true(d.stolen);
	assert_true(d.stolen_reported);
	assert_int_equal(d.lock_cause, FL_LOCK_STOLEN);
	assert_int_equal(d.lock_at, T0 + D);
	/* ...and a release command. */
	in.n_commands = 2;
	d = decide_at(in, T0 + 2 * D);
	assert_int_equal(d.state, FL_ST_LOCKED);
	assert_true(d.stolen);
	/* Clearing it restores the payment-derived state. */
	in.n_commands = 3;
	d = decide_at(in, T0 + 3 * D);
	assert_int_equal(d.state, FL_ST_RELEASED);
	assert_false(d.stolen);
	assert_false(d.stolen_reported);
	assert_int_equal(d.lock_at, 0);

	/* Reported after a release by payment: the phone stays released;
	 * the report stands for the public check only. */
	p.paid_at = T0;
	in.n_commands = 1;
	d = decide_at(in, T0 + D);
	assert_int_equal(d.state, FL_ST_RELEASED);
	assert_false(d.stolen);
	assert_true(d.stolen_reported);
	assert_int_equal(d.lock_at, 0);
	assert_int_equal(d.lock_cause, FL_LOCK_NONE);
	/* Reported in the same second as the payment that covered the
	 * contract: taken as before it, so it locks. */
	p.paid_at = T0 + D;
	d = decide_at(in, T0 + D);
	assert_int_equal(d.state, FL_ST_LOCKED);
	assert_true(d.stolen);
	p.paid_at = T0;
	/* A reversal re-opens the contract: the report then locks. */
	p.reversed = true;
	d = decide_at(in, T0 + D);
	assert_int_equal(d.state, FL_ST_LOCKED);
	assert_true(d.stolen);
	p.reversed = false;

	/* Reported after a release command: released, whatever is paid. */
	in.n_payments = 0;
	struct fl_command after_release[] = {
	        {FL_CMD_RELEASE, T0 + D, 0, NULL},
	        {FL_CMD_STOLEN_SET, T0 + D, 0, "police report 43"},
	};
	in.commands = after_release;
	in.n_commands = 2;
	d = decide_at(in, T0 + 5 * D);
	assert_int_equal(d.state, FL_ST_RELEASED);
	assert_false(d.stolen);
	assert_true(d.stolen_reported);
	assert_true(d.released_by_command);
	in.commands = cmd;
	in.n_payments = 1;
	p.paid_at = T0 + 2 * D;

	/* On an open contract, clearing gives back active. */
	in.n_payments = 0;
	cmd[1] = cmd[2];
	in.n_commands = 2;
	d = decide_at(in, T0 + 2 * D);
	assert_int_equal(d.state, FL_ST_LOCKED);
	d = decide_at(in, T0 + 3 * D);
	assert_int_equal(d.state, FL_ST_ACTIVE);
	assert_int_equal(d.lock_at, three[0].due_at);

	/* A clearing needs a reason. */
	struct fl_policy_where w;
	cmd[1].reason = "";
	in.now = T0 + 3 * D;
	assert_int_equal(fl_policy_decide(&in, &d, &w), FL_E_COMMAND);
	assert_int_equal(w.part, FL_PART_COMMAND);
	assert_int_equal(w.index, 1);
	assert_int_equal(d.state, FL_ST_PENDING); /* zeroed */
}

static void test_lock_command_and_paid_through(void **state)
{
	(void)state;
	struct fl_contract c = contract(three, 3, 0);
	struct fl_policy_input in = input(&c);
	struct fl_command cmd[] = {
	        {FL_CMD_LOCK_AT, T0, T0 + 5 * D, "visit the shop"},
	        {FL_CMD_LOCK, T0 + 6 * D, 0, "call us"},
	};
	struct fl_decision d;

	/* A new contract is paid through nothing, and what drives its
	 * coming lock is the first due date. */
	d = decide_at(in, T0);
	assert_int_equal(d.paid_through, 0);
	assert_int_equal(d.lock_cause, FL_LOCK_OVERDUE);
	assert_int_equal(d.lock_command, 0);
	in.commands = cmd;
	in.n_commands = 2;
	/* The scheduled lock names its command, coming and in force. */
	d = decide_at(in, T0 + 1);
	assert_int_equal(d.lock_cause, FL_LOCK_SCHEDULED);
	assert_int_equal(d.lock_command, 1);
	d = decide_at(in, T0 + 5 * D);
	assert_int_equal(d.state, FL_ST_LOCKED);
	assert_int_equal(d.lock_command, 1);
	/* A later lock now takes over. */
	d = decide_at(in, T0 + 6 * D);
	assert_int_equal(d.lock_cause, FL_LOCK_MANUAL);
	assert_int_equal(d.lock_command, 2);
	assert_int_equal(d.unlock_command, 0);
	/* An unlock names its command while it holds. */
	struct fl_command more[] = {
	        cmd[0], cmd[1], {FL_CMD_UNLOCK_UNTIL, T0 + 7 * D, T0 + 9 * D, NULL}};
	in.commands = more;
	in.n_commands = 3;
	d = decide_at(in, T0 + 8 * D);
	assert_int_equal(d.unlock_until, T0 + 9 * D);
	assert_int_equal(d.unlock_command, 3);
	assert_int_equal(d.lock_command, 0);
	d = decide_at(in, T0 + 9 * D);
	assert_int_equal(d.unlock_command, 0);
}

static void test_release_command_is_final(void **state)
{
	(void)state;
	struct fl_contract c = contract(three, 3, 0);
	struct fl_policy_input in = input(&c);
	struct fl_command cmd[] = {
	        {FL_CMD_RELEASE, T0, 0, NULL},
	        {FL_CMD_LOCK, T0 + D, 0, NULL},
	};
	struct fl_decision d;

	in.commands = cmd;
	in.n_commands = 2;
	d = decide_at(in, T0 + 100 * D);
	assert_int_equal(d.state, FL_ST_RELEASED);
	assert_int_equal(d.lock_at, 0);
	assert_int_equal(d.amount_due_now, 3000);
}

static void test_pending(void **state)
{
	(void)state;
	struct fl_contract c = contract(three, 3, 0);
	struct fl_policy_input in = input(&c);
	struct fl_decision d;

	in.enrolled = false;
	d = decide_at(in, T0 + 100 * D);
	assert_int_equal(d.state, FL_ST_PENDING);
	assert_int_equal(d.lock_at, three[0].due_at); /* for the first token */
	struct fl_command s = {FL_CMD_STOLEN_SET, T0, 0, NULL};
	in.commands = &s;
	in.n_commands = 1;
	assert_int_equal(decide_at(in, T0).state, FL_ST_LOCKED);
}

/* ---- next_change ------------------------------------------------------- */

static void test_next_change(void **state)
{
	(void)state;
	struct fl_contract c = contract(three, 3, 2 * D);
	struct fl_policy_input in = input(&c);
	struct fl_payment p = {1, 1000, T0 + 5 * D, false};
	struct fl_command cmd = {FL_CMD_LOCK, T0 + 3 * D, 0, NULL};
	struct fl_decision d;

	c.n_remind = 0;
	/* No reminders: the due date (amount_due_now changes) comes first. */
	d = decide_at(in, T0);
	assert_int_equal(d.next_change, three[0].due_at);
	/* A payment dated in the future counts from then. */
	in.payments = &p;
	in.n_payments = 1;
	assert_int_equal(decide_at(in, T0).next_change, T0 + 5 * D);
	/* So does a command issued in the future. */
	in.commands = &cmd;
	in.n_commands = 1;
	assert_int_equal(decide_at(in, T0).next_change, T0 + 3 * D);
	/* Locked with nothing coming but the next due date. */
	d = decide_at(in, T0 + 4 * D);
	assert_int_equal(d.state, FL_ST_LOCKED);
	assert_int_equal(d.next_change, T0 + 5 * D);
	/* Released: nothing ever changes by itself. */
	p.amount = 3000;
	d = decide_at(in, T0 + 5 * D);
	assert_int_equal(d.state, FL_ST_RELEASED);
	assert_int_equal(d.next_change, 0);
}

/* ---- validation ---------------------------------------------------------- */

static void test_validate_contract(void **state)
{
	(void)state;
	struct fl_installment s[3] = {
	        {T0 + D, 100}, {T0 + 2 * D, 100}, {T0 + 3 * D, 100}};
	struct fl_contract c = contract(s, 3, D);
	struct fl_policy_where w;

	assert_int_equal(fl_policy_validate_contract(&c, &w), FL_OK);
	assert_int_equal(w.part, FL_PART_NONE);

	s[2].due_at = T0 + 2 * D; /* not strictly increasing */
	assert_int_equal(fl_policy_validate_contract(&c, &w), FL_E_SCHEDULE);
	assert_int_equal(w.part, FL_PART_SCHEDULE);
	assert_int_equal(w.index, 2);
	s[2].due_at = T0 + 3 * D;
	s[0].due_at = T0 + 5 * D; /* out of order */
	assert_int_equal(fl_policy_validate_contract(&c, &w), FL_E_SCHEDULE);
	assert_int_equal(w.index, 1);
	s[0].due_at = T0 + D;
	s[1].amount = 0;
	assert_int_equal(fl_policy_validate_contract(&c, &w), FL_E_MONEY);
	assert_int_equal(w.index, 1);
	s[1].amount = -5;
	assert_int_equal(fl_policy_validate_contract(&c, &w), FL_E_MONEY);
	s[1].amount = FL_POLICY_MAX_AMOUNT + 1;
	assert_int_equal(fl_policy_validate_contract(&c, &w), FL_E_MONEY);
	s[1].amount = FL_POLICY_MAX_AMOUNT;
	assert_int_equal(fl_policy_validate_contract(&c, &w), FL_OK);
	s[0].due_at = 0;
	assert_int_equal(fl_policy_validate_contract(&c, &w), FL_E_SCHEDULE);
	assert_int_equal(w.index, 0);
	s[0].due_at = T0 + D;

	c.n_schedule = 0;
	assert_int_equal(fl_policy_validate_contract(&c, &w), FL_E_SCHEDULE);
	c.n_schedule = FL_POLICY_MAX_INSTALLMENTS + 1;
	assert_int_equal(fl_policy_validate_contract(&c, &w), FL_E_TOO_LARGE);
	c.n_schedule = 3;

	c.grace = -1;
	assert_int_equal(fl_policy_validate_contract(&c, &w), FL_E_CONTRACT);
	assert_int_equal(w.part, FL_PART_CONTRACT);
	c.grace = FL_POLICY_MAX_DURATION + 1;
	assert_int_equal(fl_policy_validate_contract(&c, &w), FL_E_CONTRACT);
	c.grace = D;
	c.max_offline = -1;
	assert_int_equal(fl_policy_validate_contract(&c, &w), FL_E_CONTRACT);
	c.max_offline = 0;
	c.utc_offset = 24 * 3600;
	assert_int_equal(fl_policy_validate_contract(&c, &w), FL_E_CONTRACT);
	c.utc_offset = -FL_POLICY_MAX_UTC_OFFSET;
	assert_int_equal(fl_policy_validate_contract(&c, &w), FL_OK);
	c.remind[2] = D; /* duplicate offset */
	assert_int_equal(fl_policy_validate_contract(&c, &w), FL_E_CONTRACT);
	assert_int_equal(w.index, 2);
	c.remind[2] = -1;
	assert_int_equal(fl_policy_validate_contract(&c, &w), FL_E_CONTRACT);
	c.remind[2] = 0;
	c.n_remind = FL_POLICY_MAX_OFFSETS + 1;
	assert_int_equal(fl_policy_validate_contract(&c, &w), FL_E_CONTRACT);
	c.n_remind = 3;
	memcpy(c.currency, "kes", 4);
	assert_int_equal(fl_policy_validate_contract(&c, &w), FL_E_CONTRACT);
	memcpy(c.currency, "KES", 4);
	assert_int_equal(fl_policy_validate_contract(&c, NULL), FL_OK);
}

static void test_validate_reschedule(void **state)
{
	(void)state;
	struct fl_installment s[2] = {{T0 + 10 * D, 100}, {T0 + 20 * D, 100}};
	struct fl_reschedule r = {T0 + 10 * D, s, 2};
	struct fl_policy_where w;

	assert_int_equal(fl_policy_validate_reschedule(&r, &w), FL_OK);
	r.from = T0 + 10 * D + 1; /* an entry before `from` */
	assert_int_equal(fl_policy_validate_reschedule(&r, &w), FL_E_SCHEDULE);
	assert_int_equal(w.part, FL_PART_RESCHEDULE);
	assert_int_equal(w.item, 0);
	r.from = T0;
	s[1].amount = 0;
	assert_int_equal(fl_policy_validate_reschedule(&r, &w), FL_E_MONEY);
	assert_int_equal(w.item, 1);
	s[1].amount = 100;
	r.from = 0;
	assert_int_equal(fl_policy_validate_reschedule(&r, &w), FL_E_SCHEDULE);
	assert_int_equal(w.item, SIZE_MAX);

	/* Inside a decision, the reschedule's index is reported. */
	struct fl_contract c = contract(three, 3, 0);
	struct fl_policy_input in = input(&c);
	struct fl_reschedule rs[2] = {{T0, s, 2}, {T0 + 15 * D, s, 2}};
	struct fl_decision d;
	in.reschedules = rs;
	in.n_reschedules = 2;
	assert_int_equal(fl_policy_decide(&in, &d, &w), FL_E_SCHEDULE);
	assert_int_equal(w.part, FL_PART_RESCHEDULE);
	assert_int_equal(w.index, 1);
	assert_int_equal(w.item, 0);
}

static void test_validate_decide_inputs(void **state)
{
	(void)state;
	struct fl_contract c = contract(three, 3, 0);
	struct fl_policy_input in = input(&c);
	struct fl_payment p[2] = {{1, 100, T0, false}, {2, 100, T0 + 1, false}};
	struct fl_command cmd[2] = {{FL_CMD_LOCK, T0, 0, NULL},
	                            {FL_CMD_LOCK_AT, T0 + 1, T0 + D, NULL}};
	struct fl_policy_where w;
	struct fl_decision d;

	in.payments = p;
	in.n_payments = 2;
	in.commands = cmd;
	in.n_commands = 2;
	assert_int_equal(fl_policy_decide(&in, &d, &w), FL_OK);

	p[1].amount = 0;
	assert_int_equal(fl_policy_decide(&in, &d, &w), FL_E_MONEY);
	assert_int_equal(w.part, FL_PART_PAYMENT);
	assert_int_equal(w.index, 1);
	assert_int_equal(d.amount_total, 0);
	p[1].amount = -100; /* a reversal is a flag, never a negative amount */
	assert_int_equal(fl_policy_decide(&in, &d, &w), FL_E_MONEY);
	p[1].amount = FL_POLICY_MAX_AMOUNT + 1;
	assert_int_equal(fl_policy_decide(&in, &d, &w), FL_E_MONEY);
	p[1].amount = 100;
	p[1].paid_at = T0 - 1; /* out of order */
	assert_int_equal(fl_policy_decide(&in, &d, &w), FL_E_PAYMENT);
	assert_int_equal(w.index, 1);
	p[1].paid_at = T0;
	in.n_payments = FL_POLICY_MAX_PAYMENTS + 1;
	assert_int_equal(fl_policy_decide(&in, &d, &w), FL_E_TOO_LARGE);
	in.n_payments = 2;

	cmd[1].issued_at = T0 - 1;
	assert_int_equal(fl_policy_decide(&in, &d, &w), FL_E_COMMAND);
	assert_int_equal(w.part, FL_PART_COMMAND);
	assert_int_equal(w.index, 1);
	cmd[1].issued_at = T0 + 1;
	cmd[1].at = 0;
	assert_int_equal(fl_policy_decide(&in, &d, &w), FL_E_COMMAND);
	cmd[1].at = T0 + D;
	cmd[0].kind = (enum fl_cmd_kind)99;
	assert_int_equal(fl_policy_decide(&in, &d, &w), FL_E_COMMAND);
	assert_int_equal(w.index, 0);
	cmd[0].kind = FL_CMD_LOCK;

	in.now = 0;
	assert_int_equal(fl_policy_decide(&in, &d, &w), FL_E_INVALID);
	in.now = T0;
	in.payments = NULL;
	assert_int_equal(fl_policy_decide(&in, &d, &w), FL_E_INVALID);
	in.payments = p;
	in.contract = NULL;
	assert_int_equal(fl_policy_decide(&in, &d, NULL), FL_E_INVALID);
}

/* Every cap at once, every amount at its maximum: the sums stay exact
 * (UBSan would stop on an overflow) and the whole effective schedule of
 * 65 lists is walked. */
static void test_caps_do_not_overflow(void **state)
{
	(void)state;
	const size_t n = FL_POLICY_MAX_INSTALLMENTS;
	const size_t nr = FL_POLICY_MAX_RESCHEDULES;
	struct fl_installment *all = calloc((nr + 1) * n, sizeof(*all));
	struct fl_reschedule *rs = calloc(nr, sizeof(*rs));
	struct fl_payment *p = calloc(FL_POLICY_MAX_PAYMENTS, sizeof(*p));
	assert_non_null(all);
	assert_non_null(rs);
	assert_non_null(p);

	for (size_t k = 0; k <= nr; k++)
		for (size_t i = 0; i < n; i++)
			all[k * n + i] = (struct fl_installment){
			        T0 + (fl_time)(k * n + i) * 60,
			        FL_POLICY_MAX_AMOUNT};
	for (size_t k = 1; k <= nr; k++)
		rs[k - 1] = (struct fl_reschedule){all[k * n].due_at,
		                                   &all[k * n], n};
	for (size_t i = 0; i < FL_POLICY_MAX_PAYMENTS; i++)
		p[i] = (struct fl_payment){(int64_t)i, FL_POLICY_MAX_AMOUNT, T0,
		                           false};

	struct fl_contract c = contract(all, n, 0);
	struct fl_policy_input in = input(&c);
	in.reschedules = rs;
	in.n_reschedules = nr;
	in.payments = p;
	in.n_payments = FL_POLICY_MAX_PAYMENTS;
	struct fl_decision d = decide_at(in, T0 + 365 * 20 * D);

	assert_int_equal(d.amount_total,
	                 (int64_t)((nr + 1) * n) * FL_POLICY_MAX_AMOUNT);
	assert_int_equal(d.amount_paid, (int64_t)FL_POLICY_MAX_PAYMENTS *
	                                        FL_POLICY_MAX_AMOUNT);
	assert_int_equal(d.paid_through, all[FL_POLICY_MAX_PAYMENTS - 1].due_at);
	assert_int_equal(d.state, FL_ST_LOCKED);
	free(all);
	free(rs);
	free(p);
}

static void test_cause_names(void **state)
{
	(void)state;
	assert_string_equal(fl_lock_cause_name(FL_LOCK_OVERDUE), "overdue");
	assert_string_equal(fl_lock_cause_name(FL_LOCK_STOLEN), "stolen");
	assert_null(fl_lock_cause_name((enum fl_lock_cause)42));
}

/* ---- properties over random inputs ------------------------------------ */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	/* xorshift64*: deterministic, so a failure is reproducible. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

static int64_t rnd_in(int64_t lo, int64_t hi)
{
	return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1));
}

struct world {
	struct fl_installment sched[10];
	struct fl_installment resched[5];
	struct fl_reschedule rs;
	struct fl_payment pay[8];
	struct fl_command cmd[4];
	struct fl_contract c;
	struct fl_policy_input in;
};

/* A small contract on a scale of seconds so every instant can be checked. */
static void make_world(struct world *w, bool with_commands)
{
	size_t n = (size_t)rnd_in(1, 10);
	fl_time t = 1000;

	memset(w, 0, sizeof(*w));
	for (size_t i = 0; i < n; i++) {
		t += rnd_in(1, 60);
		w->sched[i] = (struct fl_installment){t, rnd_in(1, 500)};
	}
	w->c = contract(w->sched, n, rnd_in(0, 40));
	w->c.n_remind = (size_t)rnd_in(0, 3);
	w->c.remind[0] = rnd_in(20, 30);
	w->c.remind[1] = rnd_in(5, 19);
	w->c.remind[2] = rnd_in(0, 4);
	w->c.max_offline = rnd_in(0, 1) ? rnd_in(1, 200) : 0;
	w->in = input(&w->c);
	w->in.last_contact = rnd_in(0, 1) ? rnd_in(1000, t) : 0;

	if (rnd_in(0, 2) == 0) {
		size_t m = (size_t)rnd_in(0, 5);
		fl_time from = rnd_in(1000, t), u = from;
		for (size_t i = 0; i < m; i++) {
			u += rnd_in(1, 50);
			w->resched[i] =
			        (struct fl_installment){u, rnd_in(1, 400)};
		}
		w->rs = (struct fl_reschedule){from, w->resched, m};
		w->in.reschedules = &w->rs;
		w->in.n_reschedules = 1;
	}

	size_t np = (size_t)rnd_in(0, 8);
	fl_time pt = 1000;
	for (size_t i = 0; i < np; i++) {
		pt += rnd_in(0, 80);
		w->pay[i] = (struct fl_payment){(int64_t)i, rnd_in(1, 700), pt,
		                                rnd_in(0, 4) == 0};
	}
	w->in.payments = w->pay;
	w->in.n_payments = np;

	if (with_commands) {
		size_t nc = (size_t)rnd_in(0, 4);
		fl_time ct = 1000;
		for (size_t i = 0; i < nc; i++) {
			ct += rnd_in(0, 100);
			enum fl_cmd_kind k = (enum fl_cmd_kind)rnd_in(1, 6);
			w->cmd[i] = (struct fl_command){k, ct, 0, "r"};
			if (k == FL_CMD_LOCK_AT || k == FL_CMD_UNLOCK_UNTIL)
				w->cmd[i].at = ct + rnd_in(-10, 100);
			if (w->cmd[i].at < 1)
				w->cmd[i].at = 1;
		}
		w->in.commands = w->cmd;
		w->in.n_commands = nc;
	}
}

/* What the decision must say about money, computed the slow, obvious way:
 * each installment takes what is left of the money, oldest first. */
/* Checks the money of d against a direct count; returns the first unpaid
 * due date (0 when everything is paid). */
static fl_time check_money(const struct world *w, const struct fl_decision *d)
{
	const struct fl_policy_input *in = &w->in;
	struct fl_installment eff[16];
	size_t n = 0;
	int64_t paid = 0, left, total = 0, due = 0;

	for (size_t i = 0; i < w->c.n_schedule; i++)
		if (in->n_reschedules == 0 || w->sched[i].due_at < w->rs.from)
			eff[n++] = w->sched[i];
	for (size_t i = 0; in->n_reschedules && i < w->rs.n_schedule; i++)
		eff[n++] = w->resched[i];
	for (size_t i = 0; i < in->n_payments; i++)
		if (!w->pay[i].reversed && w->pay[i].paid_at <= in->now)
			paid += w->pay[i].amount;
	left = paid;
	fl_time pt = 0, last_paid = 0;
	for (size_t i = 0; i < n; i++) {
		int64_t take = left < eff[i].amount ? left : eff[i].amount;
		left -= take;
		total += eff[i].amount;
		if (eff[i].due_at <= in->now)
			due += eff[i].amount;
		if (take < eff[i].amount && pt == 0)
			pt = eff[i].due_at;
		if (pt == 0)
			last_paid = eff[i].due_at;
	}
	assert_int_equal(d->amount_paid, paid);
	assert_int_equal(d->amount_total, total);
	assert_int_equal(d->paid_through, last_paid);
	/* amount_due_now + what of the money went to due installments ==
	 * everything due. */
	assert_int_equal(d->amount_due_now + (paid < due ? paid : due), due);
	assert_int_equal(d->amount_remaining, paid < total ? total - paid : 0);
	return pt;
}

static void check_invariants(const struct world *w, const struct fl_decision *d)
{
	const struct fl_policy_input *in = &w->in;
	fl_time now = in->now;

	fl_time first_unpaid = check_money(w, d);
	/* Locked iff lock_at has come, always. */
	assert_int_equal(d->state == FL_ST_LOCKED,
	                 d->lock_at != 0 && now >= d->lock_at);
	assert_true(d->next_change == 0 || d->next_change > now);
	assert_true(d->unlock_until == 0 || d->unlock_until > now);
	for (size_t i = 0; i < d->n_reminders; i++) {
		/* Only the first may be past, and by less than a day. */
		assert_true(d->reminders[i].at > now - FL_DAY);
		assert_true(i == 0 || d->reminders[i].at >= now);
		assert_true(d->reminders[i].due_at >= d->reminders[i].at);
		assert_true(d->reminders[i].amount > 0);
		if (i > 0)
			assert_true(d->reminders[i - 1].at <=
			            d->reminders[i].at);
	}
	if (d->state == FL_ST_RELEASED) {
		assert_int_equal(d->lock_at, 0);
		assert_int_equal(d->n_reminders, 0);
	}
	if (in->n_commands == 0) {
		/* The automatic decision, stated directly. */
		fl_time pay =
		        first_unpaid ? first_unpaid + w->c.grace : 0;
		fl_time off = w->c.max_offline && in->last_contact
		                      ? in->last_contact + w->c.max_offline
		                      : 0;
		fl_time lk = pay;
		if (off && (!lk || off < lk))
			lk = off;
		bool paid_up = d->amount_paid >= d->amount_total;
		assert_int_equal(d->state == FL_ST_RELEASED, paid_up);
		if (!paid_up)
			assert_int_equal(d->lock_at, lk);
		if (d->state == FL_ST_REMINDING) {
			int64_t ahead = 0;
			for (size_t i = 0; i < w->c.n_remind; i++)
				if (w->c.remind[i] > ahead)
					ahead = w->c.remind[i];
			assert_true(now >= first_unpaid - ahead);
		}
	}
}

static void test_property_random(void **state)
{
	(void)state;
	struct world w;

	for (int round = 0; round < 3000; round++) {
		bool cmds = round % 2 == 1;
		make_world(&w, cmds);
		for (fl_time now = 990; now <= 1800; now += rnd_in(1, 25)) {
			struct fl_decision d = decide_at(w.in, now);
			w.in.now = now;
			check_invariants(&w, &d);
		}
	}
}

/* Nothing changes between now and next_change: every instant in between
 * gives the same decision. */
static void test_property_next_change(void **state)
{
	(void)state;
	struct world w;

	for (int round = 0; round < 600; round++) {
		make_world(&w, round % 2 == 1);
		fl_time now = rnd_in(990, 1500);
		for (int hop = 0; hop < 30 && now != 0; hop++) {
			struct fl_decision d = decide_at(w.in, now);
			fl_time end = d.next_change ? d.next_change : now + 400;
			for (fl_time t = now + 1; t < end; t++) {
				struct fl_decision e = decide_at(w.in, t);
				if (!fl_policy_same(&d, &e))
					fail_msg("round %d: decision at %lld "
					         "differs from %lld "
					         "(next_change %lld)",
					         round, (long long)t,
					         (long long)now,
					         (long long)d.next_change);
			}
			now = d.next_change;
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_end_of_day),
	        cmocka_unit_test(test_due_parse),
	        cmocka_unit_test(test_date_only_due_at_offsets),
	        cmocka_unit_test(test_payment_exactly_on_due_date),
	        cmocka_unit_test(test_lock_at_boundary),
	        cmocka_unit_test(test_partial_payments),
	        cmocka_unit_test(test_overpayment_carries),
	        cmocka_unit_test(test_overpayment_first_unpaid_is_next),
	        cmocka_unit_test(test_reversed_payment),
	        cmocka_unit_test(test_reschedule),
	        cmocka_unit_test(test_final_payment_releases_for_good),
	        cmocka_unit_test(test_max_offline),
	        cmocka_unit_test(test_reminders_3_1_0_days),
	        cmocka_unit_test(test_reminders_interleave),
	        cmocka_unit_test(test_reminders_past_kept_a_day),
	        cmocka_unit_test(test_manual_lock_and_payment),
	        cmocka_unit_test(test_manual_unlock_expires),
	        cmocka_unit_test(test_scheduled_lock),
	        cmocka_unit_test(test_scheduled_lock_behind_another),
	        cmocka_unit_test(test_stolen),
	        cmocka_unit_test(test_lock_command_and_paid_through),
	        cmocka_unit_test(test_release_command_is_final),
	        cmocka_unit_test(test_pending),
	        cmocka_unit_test(test_next_change),
	        cmocka_unit_test(test_validate_contract),
	        cmocka_unit_test(test_validate_reschedule),
	        cmocka_unit_test(test_validate_decide_inputs),
	        cmocka_unit_test(test_caps_do_not_overflow),
	        cmocka_unit_test(test_cause_names),
	        cmocka_unit_test(test_property_random),
	        cmocka_unit_test(test_property_next_change),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
