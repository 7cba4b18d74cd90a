/* libFuzzer target for core/policy: the bytes build a contract, reschedules,
 * payments, commands and the instant to decide for (small counts, times
 * mostly near each other so events interleave, sometimes any value so the
 * validators are tried too). Bad input must be refused with a zeroed
 * decision; a decision must hold what policy.h promises:
 *
 *   - state, lock_cause in range; lock_at 0 exactly when lock_cause is none;
 *   - stolen: locked, caused by the report, lock_at at or before now; a
 *     report standing on a released device (stolen_reported without
 *     stolen) leaves it released;
 *   - released (by command or paid in full): no lock_at, no reminder;
 *   - otherwise an enrolled device is locked iff lock_at != 0 && now >=
 *     lock_at, and a device not enrolled is pending;
 *   - money: nothing negative (a reschedule may waive all: total 0), due
 *     now <= remaining = total - paid (or 0),
 *     paid_through (the last installment fully paid) set whenever paid
 *     covers a schedule that has installments;
 *   - reminders: at most the cap, sorted, none past, before their due date
 *     by at most the longest reminder offset;
 *   - unlock_until, next_due_at, next_change: 0 or after now;
 *   - the same inputs give the same decision, and nothing changes before
 *     next_change: deciding at next_change - 1 (and at a point between)
 *     gives the same decision;
 *   - a reversed payment counts for nothing: adding one changes nothing;
 *   - without reschedules, the money, due dates and reminders are what the
 *     rules in policy.h say, worked out here the plain way; without a
 *     command in force, lock_at is min(first unpaid due + grace,
 *     last_contact +
 *     max_offline). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/policy.h"

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_SCHED   24
#define MAX_RESCHED 4
#define MAX_RLIST   8
#define MAX_PAY     24
#define MAX_CMD     16

/* 2027-01-15T08:00:00Z: where generated timelines start. */
#define T0 ((fl_time)1800000000)

struct rd {
	const uint8_t *p;
	size_t n;
};

static uint64_t u(struct rd *r, int bytes)
{
	uint64_t v = 0;

	for (int i = 0; i < bytes; i++) {
		v <<= 8;
		if (r->n > 0) {
			v |= *r->p++;
			r->n--;
		}
	}
	return v;
}

/* A step forward in time: mostly hours to weeks, sometimes 0, sometimes
 * any 32-bit amount of seconds. */
static int64_t step(struct rd *r)
{
	uint8_t k = (uint8_t)u(r, 1);

	switch (k >> 6) {
	case 0:
		return (int64_t)(k & 0x3f);
	case 1:
		return (int64_t)(k & 0x3f) * 3600;
	case 2:
		return (int64_t)(k & 0x3f) * FL_DAY;
	default:
		return (int64_t)u(r, 4);
	}
}

/* A time: usually the running timeline plus a step, sometimes any value
 * (out of range ones included). */
static fl_time when(struct rd *r, fl_time base)
{
	if ((u(r, 1) & 0x1f) == 0)
		return (fl_time)u(r, 8);
	/* Wraps past INT64_MAX like the raw values: out of range either way. */
	return (fl_time)((uint64_t)base + (uint64_t)step(r));
}

static int64_t amount(struct rd *r)
{
	uint8_t k = (uint8_t)u(r, 1);

	if (k == 0)
		return (int64_t)u(r, 8);
	if (k == 1)
		return FL_POLICY_MAX_AMOUNT;
	return (int64_t)(k % 16 + 1) * 500;
}

struct world {
	struct fl_contract c;
	struct fl_installment sched[MAX_SCHED];
	struct fl_reschedule rs[MAX_RESCHED];
	struct fl_installment rl[MAX_RESCHED][MAX_RLIST];
	struct fl_payment pay[MAX_PAY];
	struct fl_command cmd[MAX_CMD];
	struct fl_policy_input in;
};

static void build(struct world *w, struct rd *r)
{
	uint8_t flags;
	fl_time t;

	memset(w, 0, sizeof(*w));
	flags = (uint8_t)u(r, 1);
	memcpy(w->c.currency, "KES", 4);
	if (flags & 0x80) {
		uint64_t cur = u(r, 4);
		memcpy(w->c.currency, &cur, 4);
	}
	w->c.utc_offset = (int32_t)((int64_t)(u(r, 2) % 2881) - 1440) * 60;
	w->c.grace = (flags & 0x40) ? (int64_t)u(r, 8) : step(r);
	w->c.max_offline = (flags & 0x20) ? step(r) : 0;
	w->c.n_remind = u(r, 1) % (FL_POLICY_MAX_OFFSETS + 2);
	for (size_t i = 0; i < w->c.n_remind && i < FL_POLICY_MAX_OFFSETS; i++)
		w->c.remind[i] = (flags & 0x10) ? (int64_t)u(r, 8) : step(r);

	/* The schedule. */
	w->c.schedule = w->sched;
	w->c.n_schedule = u(r, 1) % (MAX_SCHED + 1);
	t = T0;
	for (size_t i = 0; i < w->c.n_schedule; i++) {
		t = when(r, t);
		w->sched[i].due_at = t;
		w->sched[i].amount = amount(r);
	}

	/* Reschedules, each from some point of the timeline. */
	w->in.reschedules = w->rs;
	w->in.n_reschedules = u(r, 1) % (MAX_RESCHED + 1);
	for (size_t k = 0; k < w->in.n_reschedules; k++) {
		w->rs[k].from = when(r, T0);
		w->rs[k].schedule = w->rl[k];
		w->rs[k].n_schedule = u(r, 1) % (MAX_RLIST + 1);
		t = w->rs[k].from;
		for (size_t i = 0; i < w->rs[k].n_schedule; i++) {
			t = when(r, t);
			w->rl[k][i].due_at = t;
			w->rl[k][i].amount = amount(r);
		}
	}

	/* Payments, by paid_at. */
	w->in.payments = w->pay;
	w->in.n_payments = u(r, 1) % (MAX_PAY + 1);
	t = T0;
	for (size_t i = 0; i < w->in.n_payments; i++) {
		uint8_t k = (uint8_t)u(r, 1);

		t = when(r, t);
		w->pay[i].id = (int64_t)i;
		w->pay[i].amount = amount(r);
		w->pay[i].paid_at = t;
		w->pay[i].reversed = (k & 7) == 0;
	}

	/* Commands, by issued_at. */
	w->in.commands = w->cmd;
	w->in.n_commands = u(r, 1) % (MAX_CMD + 1);
	t = T0;
	for (size_t i = 0; i < w->in.n_commands; i++) {
		uint8_t k = (uint8_t)u(r, 1);

		t = when(r, t);
		w->cmd[i].kind = (enum fl_cmd_kind)(k % 8);
		w->cmd[i].issued_at = t;
		if (w->cmd[i].kind == FL_CMD_LOCK_AT ||
		    w->cmd[i].kind == FL_CMD_UNLOCK_UNTIL || (k & 0x80))
			w->cmd[i].at = (k & 0x40) ? (fl_time)((uint64_t)t -
			                                      (uint64_t)step(r))
			                          : when(r, t);
		if (w->cmd[i].kind == FL_CMD_STOLEN_CLEAR)
			w->cmd[i].reason = (k & 0x20) ? "" : "found";
	}

	w->in.contract = &w->c;
	w->in.enrolled = (flags & 0x08) == 0;
	w->in.last_contact = (flags & 0x04) ? 0 : when(r, T0);
	w->in.now = when(r, T0);
}

static void check_zero(const struct fl_decision *d)
{
	static const struct fl_decision z;

	CHECK(memcmp(d, &z, sizeof(z)) == 0);
}

static int64_t longest_offset(const struct fl_contract *c)
{
	int64_t m = 0;

	for (size_t i = 0; i < c->n_remind; i++)
		if (c->remind[i] > m)
			m = c->remind[i];
	return m;
}

static void check_decision(const struct fl_policy_input *in,
                           const struct fl_decision *d)
{
	fl_time now = in->now;
	bool released = !d->stolen && d->state == FL_ST_RELEASED;

	CHECK(d->state >= FL_ST_PENDING && d->state <= FL_ST_RELEASED);
	CHECK(fl_lock_cause_name(d->lock_cause) != NULL);
	CHECK(d->lock_at >= 0);
	CHECK((d->lock_at == 0) == (d->lock_cause == FL_LOCK_NONE));

	/* Money. */
	CHECK(d->amount_total >= 0 && d->amount_paid >= 0);
	CHECK(d->amount_remaining == (d->amount_total > d->amount_paid
	                                      ? d->amount_total - d->amount_paid
	                                      : 0));
	CHECK(d->amount_due_now >= 0 &&
	      d->amount_due_now <= d->amount_remaining);
	CHECK(d->amount_paid < d->amount_total || d->amount_total == 0 ||
	      d->paid_through != 0);
	CHECK(d->paid_through == 0 ||
	      (d->paid_through >= 1 && d->paid_through <= FL_TIME_MAX));
	CHECK((d->next_due_at == 0) == (d->next_due_amount == 0));
	CHECK(d->next_due_at == 0 || d->next_due_at > now);
	CHECK(d->next_due_amount >= 0 &&
	      d->next_due_amount <= d->amount_remaining);

	/* State and lock. */
	CHECK(!d->stolen || d->stolen_reported);
	if (d->stolen_reported && !d->stolen)
		CHECK(d->state == FL_ST_RELEASED);
	if (d->stolen) {
		CHECK(d->state == FL_ST_LOCKED);
		CHECK(d->lock_cause == FL_LOCK_STOLEN);
		CHECK(d->lock_at >= 1 && d->lock_at <= now);
	} else {
		CHECK(d->lock_cause != FL_LOCK_STOLEN);
		CHECK(released == (d->released_by_command ||
		                   d->amount_paid >= d->amount_total));
	}
	if (released) {
		CHECK(d->lock_at == 0 && d->unlock_until == 0 &&
		      d->n_reminders == 0);
	} else if (!d->stolen) {
		bool locked = d->lock_at != 0 && now >= d->lock_at;

		if (!in->enrolled)
			CHECK(d->state == FL_ST_PENDING);
		else
			CHECK((d->state == FL_ST_LOCKED) == locked);
		if (d->state == FL_ST_REMINDING)
			CHECK(d->amount_remaining > 0);
	}
	CHECK(d->unlock_until == 0 || d->unlock_until > now);

	/* Reminders. */
	CHECK(d->n_reminders <= FL_POLICY_MAX_REMINDERS);
	for (size_t i = 0; i < d->n_reminders; i++) {
		const struct fl_policy_reminder *m = &d->reminders[i];

		/* the first may be the latest one whose time came within
		 * the last day (policy.h "Reminders"); the rest are to come */
		CHECK(m->at >= now || (i == 0 && now - m->at < FL_DAY));
		CHECK(m->at <= m->due_at);
		CHECK(m->due_at - m->at <= longest_offset(in->contract));
		CHECK(m->amount > 0 && m->amount <= d->amount_remaining);
		if (i > 0)
			CHECK(d->reminders[i - 1].at <= m->at);
	}
	CHECK(d->next_change == 0 || d->next_change > now);
}

static int rem_cmp(const void *a, const void *b)
{
	const struct fl_policy_reminder *x = a, *y = b;

	if (x->at != y->at)
		return x->at < y->at ? -1 : 1;
	return (x->due_at > y->due_at) - (x->due_at < y->due_at);
}

/* The rules restated for a contract's own schedule (no reschedule). */
static void check_plain(const struct fl_policy_input *in,
                        const struct fl_decision *d)
{
	const struct fl_contract *c = in->contract;
	static struct fl_policy_reminder
	        want[MAX_SCHED * FL_POLICY_MAX_OFFSETS];
	size_t n_want = 0;
	int64_t paid = 0, cum = 0, due_by_now = 0;
	fl_time first_unpaid = 0, last_paid = 0, next_due = 0;
	int64_t next_amount = 0;
	bool commands = false;

	for (size_t i = 0; i < in->n_payments; i++)
		if (!in->payments[i].reversed &&
		    in->payments[i].paid_at <= in->now)
			paid += in->payments[i].amount;
	CHECK(d->amount_paid == paid);
	if (in->n_reschedules != 0)
		return;
	for (size_t i = 0; i < c->n_schedule; i++) {
		const struct fl_installment *e = &c->schedule[i];

		cum += e->amount;
		if (e->due_at <= in->now)
			due_by_now += e->amount;
		if (cum <= paid) {
			last_paid = e->due_at;
			continue;
		}
		if (first_unpaid == 0)
			first_unpaid = e->due_at;
		if (next_due == 0 && e->due_at > in->now) {
			next_due = e->due_at;
			next_amount =
			        cum - paid < e->amount ? cum - paid : e->amount;
		}
		if (e->due_at < in->now)
			continue;
		for (size_t k = 0; k < c->n_remind; k++) {
			struct fl_policy_reminder r = {e->due_at - c->remind[k],
			                               e->due_at, cum - paid};
			if (r.at >= in->now)
				want[n_want++] = r;
		}
	}
	CHECK(d->amount_total == cum);
	CHECK(d->paid_through == last_paid);
	CHECK(d->amount_due_now == (due_by_now > paid ? due_by_now - paid : 0));
	CHECK(d->next_due_at == next_due && d->next_due_amount == next_amount);
	if (!d->released_by_command && paid < cum) {
		/* the latest reminder whose time came within the last day may
		 * lead the list (check_decision bounds it); the rest are the
		 * ones to come, worked out here */
		size_t off = d->n_reminders > 0 && d->reminders[0].at < in->now;

		qsort(want, n_want, sizeof(want[0]), rem_cmp);
		if (n_want > FL_POLICY_MAX_REMINDERS - off)
			n_want = FL_POLICY_MAX_REMINDERS - off;
		CHECK(d->n_reminders == n_want + off);
		for (size_t i = 0; i < n_want; i++)
			CHECK(d->reminders[i + off].at == want[i].at &&
			      d->reminders[i + off].due_at == want[i].due_at &&
			      d->reminders[i + off].amount == want[i].amount);
	} else {
		CHECK(d->n_reminders == 0);
	}

	/* The automatic lock, when no command has been issued yet. */
	for (size_t i = 0; i < in->n_commands; i++)
		commands |= in->commands[i].issued_at <= in->now;
	if (!commands && paid < cum) {
		fl_time at = 0;
		enum fl_lock_cause cause = FL_LOCK_NONE;

		if (first_unpaid != 0) {
			at = first_unpaid + c->grace;
			cause = FL_LOCK_OVERDUE;
		}
		if (c->max_offline > 0 && in->last_contact != 0 &&
		    (at == 0 || in->last_contact + c->max_offline < at)) {
			at = in->last_contact + c->max_offline;
			cause = FL_LOCK_OFFLINE;
		}
		CHECK(d->lock_at == at && d->lock_cause == cause);
	}
}

/* Decides again at t, with nothing else changed; must succeed and match. */
static void same_at(const struct fl_policy_input *in,
                    const struct fl_decision *d, fl_time t)
{
	struct fl_policy_input later = *in;
	struct fl_decision e;

	if (t <= in->now || t > FL_TIME_MAX)
		return;
	later.now = t;
	CHECK(fl_policy_decide(&later, &e, NULL) == FL_OK);
	check_decision(&later, &e);
	if (!fl_policy_same(d, &e)) {
		fprintf(stderr,
		        "decision at %lld differs from the one at %lld "
		        "(next_change %lld): state %d/%d lock_at %lld/%lld\n",
		        (long long)t, (long long)in->now,
		        (long long)d->next_change, d->state, e.state,
		        (long long)d->lock_at, (long long)e.lock_at);
		abort();
	}
}

/* The same input with a reversed copy of payment k inserted after it. */
static void reversed_is_nothing(const struct world *w,
                                const struct fl_decision *d, size_t k)
{
	struct fl_payment pay[MAX_PAY + 1];
	struct fl_policy_input in = w->in;
	struct fl_decision e;

	if (w->in.n_payments == 0)
		return;
	k %= w->in.n_payments;
	memcpy(pay, w->pay, (k + 1) * sizeof(pay[0]));
	pay[k + 1] = w->pay[k];
	pay[k + 1].reversed = true;
	memcpy(pay + k + 2, w->pay + k + 1,
	       (w->in.n_payments - k - 1) * sizeof(pay[0]));
	in.payments = pay;
	in.n_payments = w->in.n_payments + 1;
	CHECK(fl_policy_decide(&in, &e, NULL) == FL_OK);
	CHECK(fl_policy_same(d, &e));
}

static void due_parse(struct rd *r, int32_t utc_offset)
{
	const char *s = (const char *)r->p;
	fl_time t = -1, u2 = -1;

	if (fl_policy_due_parse(s, r->n, utc_offset, &t) != FL_OK) {
		CHECK(t == 0);
		return;
	}
	if (r->n != 10) {
		CHECK(fl_time_parse(s, r->n, &u2) == FL_OK && u2 == t);
	} else {
		int y, m, d;

		CHECK(fl_date_parse(s, r->n, &y, &m, &d) == FL_OK);
		CHECK(t == fl_policy_end_of_day(y, m, d, utc_offset));
		CHECK(fl_time_day(t, utc_offset) ==
		      fl_time_day(fl_time_from_civil(y, m, d), 0));
		CHECK(fl_time_day(t + 1, utc_offset) ==
		      fl_time_day(t, utc_offset) + 1);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct world w;
	struct rd r = {data, size};
	struct fl_decision d, d2;
	struct fl_policy_where where;
	fl_err err, cerr;
	uint64_t pick;

	build(&w, &r);
	pick = u(&r, 4);

	cerr = fl_policy_validate_contract(&w.c, &where);
	err = fl_policy_decide(&w.in, &d, &where);
	if (cerr != FL_OK)
		CHECK(err != FL_OK);
	for (size_t i = 0; i < w.in.n_reschedules; i++) {
		struct fl_policy_where rw;

		if (fl_policy_validate_reschedule(&w.rs[i], &rw) != FL_OK)
			CHECK(err != FL_OK);
		else
			CHECK(rw.part == FL_PART_NONE);
	}
	if (err != FL_OK) {
		check_zero(&d);
	} else {
		CHECK(where.part == FL_PART_NONE);
		check_decision(&w.in, &d);
		check_plain(&w.in, &d);
		CHECK(fl_policy_decide(&w.in, &d2, NULL) == FL_OK);
		CHECK(fl_policy_same(&d, &d2));
		reversed_is_nothing(&w, &d, (size_t)(pick >> 16));
		if (d.next_change != 0) {
			fl_time gap = d.next_change - w.in.now;

			same_at(&w.in, &d, d.next_change - 1);
			if (gap > 2)
				same_at(&w.in, &d,
				        w.in.now + 1 +
				                (fl_time)(pick %
				                          (uint64_t)(gap - 1)));
		} else {
			same_at(&w.in, &d,
			        w.in.now + (fl_time)(pick % (400 * FL_DAY)) +
			                1);
		}
	}
	if (fl_policy_validate_contract(&w.c, NULL) == FL_OK)
		due_parse(&r, w.c.utc_offset);
	return 0;
}
