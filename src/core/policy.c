/*
 * policy.c - the lock decision (see policy.h for the rules in prose).
 *
 * The device state machine. Every state is recomputed from the inputs on
 * each call, so a "transition" is the change of one input or of the time
 * that makes fl_policy_decide() answer differently; the function named on
 * each arrow is the one whose result changes.
 *
 *                      enrolled (decide_state)
 *        +---------+ --------------------------> +--------+
 *        | pending |                             | active |<-----------+
 *        +---------+                             +--------+            |
 *                                window opens |    ^  paid up          |
 *                    (reminder_window_open)   v    |  (apply_payments) |
 *                                          +-----------+               |
 *                                          | reminding |               |
 *                                          +-----------+               |
 *            lock_at reached (auto_lock_at) |    ^ paid / unlock       |
 *            manual or scheduled lock       v    | (apply_payments,    |
 *            (fold_commands)             +--------+ fold_commands,     |
 *                                        | locked |-lifted_by_payment)-+
 *                                        +--------+
 *
 *   any ----- paid in full (apply_payments) or RELEASE (fold_commands) ---->
 *   released; a reversal re-opens a release by payment (apply_payments), never
 *   a RELEASE command.
 *   stolen (fold_commands) overlays every open state: the device is locked
 *   until STOLEN_CLEAR, then the underlying state returns. A report made
 *   before a release keeps locking through it (stolen_locks); a report made
 *   on a released device changes nothing the device enforces.
 *
 * Transition table. "open" is pending, active, reminding or locked.
 *
 *  from       to         when                           made by
 *  ---------  ---------  -----------------------------  --------------------
 *  pending    active     the server marks it enrolled   decide_state
 *  active     reminding  now >= due_at - largest        reminder_window_open
 *                        reminder offset (first unpaid)
 *  reminding  active     the installment is paid        apply_payments
 *  reminding  active     it is rescheduled away         effective_next
 *  reminding  locked     now >= first unpaid due date   auto_lock_at
 *                        + grace
 *  active     locked     now >= last_contact +          auto_lock_at
 *                        max_offline
 *  open       locked     LOCK, or a LOCK_AT whose       fold_commands
 *                        time came
 *  locked     active     a payment moves the first      apply_payments
 *                        unpaid due date
 *  locked     active     a check-in restarts the        auto_lock_at
 *                        offline clock
 *  locked     active     UNLOCK_UNTIL                   fold_commands
 *  locked     active     a payment after a manual       lifted_by_payment
 *                        lock leaves nothing due
 *  reminding  locked     an unlock ends, still unpaid   decide_lock_at
 *  open       released   payments cover the schedule    apply_payments
 *  open       released   RELEASE                        fold_commands
 *  released   open       a payment is reversed (not     apply_payments
 *                        after a RELEASE command)
 *  open       locked     STOLEN_SET                     fold_commands
 *  locked     previous   STOLEN_CLEAR with a reason     fold_commands
 *
 * (Where "active" is written, "reminding" follows instead when a reminder
 * window is open: decide_state picks between them.)
 */
#include "core/policy.h"

#include <string.h>

/* ---- dates ------------------------------------------------------------ */

fl_time fl_policy_end_of_day(int year, int month, int day, int32_t utc_offset)
{
	/* Local midnight starting the next day is UTC midnight of that date
	 * shifted back by the offset; the due instant is one second before. */
	return fl_time_from_civil(year, month, day) + FL_DAY - 1 -
	       (fl_time)utc_offset;
}

fl_err fl_policy_due_parse(const char *s, size_t len, int32_t utc_offset,
                           fl_time *out)
{
	fl_err err;
	int y, m, d;

	*out = 0;
	if (utc_offset > FL_POLICY_MAX_UTC_OFFSET ||
	    utc_offset < -FL_POLICY_MAX_UTC_OFFSET)
		return FL_E_RANGE;
	if (s == NULL)
		return FL_E_TIME_FORMAT;
	if (len == 10) {
		err = fl_date_parse(s, len, &y, &m, &d);
		if (err)
			return err;
		*out = fl_policy_end_of_day(y, m, d, utc_offset);
		return FL_OK;
	}
	return fl_time_parse(s, len, out);
}

const char *fl_lock_cause_name(enum fl_lock_cause c)
{
	static const char *const names[] = {
	        [FL_LOCK_NONE] = "none",
	        [FL_LOCK_OVERDUE] = "overdue",
	        [FL_LOCK_OFFLINE] = "offline",
	        [FL_LOCK_MANUAL] = "manual",
	        [FL_LOCK_SCHEDULED] = "scheduled",
	        [FL_LOCK_STOLEN] = "stolen",
	};
	if ((unsigned)c >= sizeof(names) / sizeof(names[0]))
		return NULL;
	return names[c];
}

/* ---- validation ------------------------------------------------------- */

static void set_where(struct fl_policy_where *w, enum fl_policy_part part,
                      size_t index, size_t item)
{
	if (w == NULL)
		return;
	w->part = part;
	w->index = index;
	w->item = item;
}

static bool time_ok(fl_time t)
{
	return t >= 1 && t <= FL_TIME_MAX;
}

/* Checks one installment list: at most the cap, amounts in range, due dates
 * in range, strictly increasing and not before `from`. *bad is the index of
 * the offending entry. */
static fl_err check_list(const struct fl_installment *l, size_t n, fl_time from,
                         size_t *bad)
{
	*bad = 0;
	if (n > FL_POLICY_MAX_INSTALLMENTS) {
		*bad = FL_POLICY_MAX_INSTALLMENTS;
		return FL_E_TOO_LARGE;
	}
	if (n > 0 && l == NULL)
		return FL_E_INVALID;
	for (size_t i = 0; i < n; i++) {
		*bad = i;
		if (!time_ok(l[i].due_at) || l[i].due_at < from)
			return FL_E_SCHEDULE;
		if (i > 0 && l[i].due_at <= l[i - 1].due_at)
			return FL_E_SCHEDULE;
		if (l[i].amount <= 0 || l[i].amount > FL_POLICY_MAX_AMOUNT)
			return FL_E_MONEY;
	}
	*bad = 0;
	return FL_OK;
}

static bool currency_ok(const char cur[4])
{
	for (int i = 0; i < 3; i++)
		if (cur[i] < 'A' || cur[i] > 'Z')
			return false;
	return cur[3] == '\0';
}

fl_err fl_policy_validate_contract(const struct fl_contract *c,
                                   struct fl_policy_where *where)
{
	fl_err err;
	size_t bad;

	set_where(where, FL_PART_NONE, 0, 0);
	if (c == NULL)
		return FL_E_INVALID;
	set_where(where, FL_PART_CONTRACT, 0, 0);
	if (!currency_ok(c->currency) ||
	    c->utc_offset > FL_POLICY_MAX_UTC_OFFSET ||
	    c->utc_offset < -FL_POLICY_MAX_UTC_OFFSET || c->grace < 0 ||
	    c->grace > FL_POLICY_MAX_DURATION || c->max_offline < 0 ||
	    c->max_offline > FL_POLICY_MAX_DURATION ||
	    c->n_remind > FL_POLICY_MAX_OFFSETS)
		return FL_E_CONTRACT;
	for (size_t i = 0; i < c->n_remind; i++) {
		set_where(where, FL_PART_CONTRACT, i, 0);
		if (c->remind[i] < 0 ||
		    c->remind[i] > FL_POLICY_MAX_REMIND_AHEAD)
			return FL_E_CONTRACT;
		for (size_t j = 0; j < i; j++)
			if (c->remind[j] == c->remind[i])
				return FL_E_CONTRACT;
	}
	if (c->n_schedule == 0) {
		set_where(where, FL_PART_SCHEDULE, 0, 0);
		return FL_E_SCHEDULE;
	}
	err = check_list(c->schedule, c->n_schedule, 1, &bad);
	if (err) {
		set_where(where, FL_PART_SCHEDULE, bad, 0);
		return err;
	}
	set_where(where, FL_PART_NONE, 0, 0);
	return FL_OK;
}

fl_err fl_policy_validate_reschedule(const struct fl_reschedule *r,
                                     struct fl_policy_where *where)
{
	fl_err err;
	size_t bad;

	set_where(where, FL_PART_RESCHEDULE, 0, SIZE_MAX);
	if (r == NULL)
		return FL_E_INVALID;
	if (!time_ok(r->from))
		return FL_E_SCHEDULE;
	err = check_list(r->schedule, r->n_schedule, r->from, &bad);
	if (err) {
		set_where(where, FL_PART_RESCHEDULE, 0, bad);
		return err;
	}
	set_where(where, FL_PART_NONE, 0, 0);
	return FL_OK;
}

static fl_err validate_payments(const struct fl_policy_input *in,
                                struct fl_policy_where *where)
{
	const struct fl_payment *p = in->payments;

	for (size_t i = 0; i < in->n_payments; i++) {
		set_where(where, FL_PART_PAYMENT, i, 0);
		if (p[i].amount <= 0 || p[i].amount > FL_POLICY_MAX_AMOUNT)
			return FL_E_MONEY;
		if (!time_ok(p[i].paid_at))
			return FL_E_PAYMENT;
		if (i > 0 && p[i].paid_at < p[i - 1].paid_at)
			return FL_E_PAYMENT;
	}
	return FL_OK;
}

static fl_err validate_commands(const struct fl_policy_input *in,
                                struct fl_policy_where *where)
{
	const struct fl_command *c = in->commands;

	for (size_t i = 0; i < in->n_commands; i++) {
		set_where(where, FL_PART_COMMAND, i, 0);
		if (!time_ok(c[i].issued_at))
			return FL_E_COMMAND;
		if (i > 0 && c[i].issued_at < c[i - 1].issued_at)
			return FL_E_COMMAND;
		switch (c[i].kind) {
		case FL_CMD_LOCK_AT:
		case FL_CMD_UNLOCK_UNTIL:
			if (!time_ok(c[i].at))
				return FL_E_COMMAND;
			break;
		case FL_CMD_STOLEN_CLEAR:
			if (c[i].reason == NULL || c[i].reason[0] == '\0')
				return FL_E_COMMAND;
			break;
		case FL_CMD_LOCK:
		case FL_CMD_RELEASE:
		case FL_CMD_STOLEN_SET:
			break;
		default:
			return FL_E_COMMAND;
		}
	}
	return FL_OK;
}

static fl_err validate_input(const struct fl_policy_input *in,
                             struct fl_policy_where *where)
{
	fl_err err;

	set_where(where, FL_PART_NONE, 0, 0);
	if (in == NULL || in->contract == NULL || !time_ok(in->now) ||
	    in->last_contact < 0 || in->last_contact > FL_TIME_MAX ||
	    (in->n_reschedules > 0 && in->reschedules == NULL) ||
	    (in->n_payments > 0 && in->payments == NULL) ||
	    (in->n_commands > 0 && in->commands == NULL))
		return FL_E_INVALID;
	if (in->n_reschedules > FL_POLICY_MAX_RESCHEDULES) {
		set_where(where, FL_PART_RESCHEDULE, FL_POLICY_MAX_RESCHEDULES,
		          SIZE_MAX);
		return FL_E_TOO_LARGE;
	}
	if (in->n_payments > FL_POLICY_MAX_PAYMENTS) {
		set_where(where, FL_PART_PAYMENT, FL_POLICY_MAX_PAYMENTS, 0);
		return FL_E_TOO_LARGE;
	}
	if (in->n_commands > FL_POLICY_MAX_COMMANDS) {
		set_where(where, FL_PART_COMMAND, FL_POLICY_MAX_COMMANDS, 0);
		return FL_E_TOO_LARGE;
	}
	err = fl_policy_validate_contract(in->contract, where);
	if (err)
		return err;
	for (size_t i = 0; i < in->n_reschedules; i++) {
		err = fl_policy_validate_reschedule(&in->reschedules[i], where);
		if (err) {
			if (where != NULL)
				where->index = i;
			return err;
		}
	}
	err = validate_payments(in, where);
	if (err)
		return err;
	err = validate_commands(in, where);
	if (err)
		return err;
	set_where(where, FL_PART_NONE, 0, 0);
	return FL_OK;
}

/* ---- the effective schedule -------------------------------------------- */

/*
 * The schedule after reschedules, walked without copying it. Segment 0 is
 * the contract's schedule, segment k is reschedules[k - 1]. A segment's
 * entries survive only below its cutoff: the earliest `from` of every later
 * reschedule. Each segment's survivors lie between its own `from` and its
 * cutoff, so the concatenation is strictly increasing.
 */
struct sched_iter {
	const struct fl_policy_input *in;
	size_t seg;     /* current segment */
	size_t idx;     /* next entry in it */
	fl_time cutoff; /* entries due at or after this are replaced */
};

static fl_time seg_cutoff(const struct fl_policy_input *in, size_t seg)
{
	fl_time cut = INT64_MAX;

	for (size_t j = seg; j < in->n_reschedules; j++)
		if (in->reschedules[j].from < cut)
			cut = in->reschedules[j].from;
	return cut;
}

static void sched_begin(struct sched_iter *it, const struct fl_policy_input *in)
{
	it->in = in;
	it->seg = 0;
	it->idx = 0;
	it->cutoff = seg_cutoff(in, 0);
}

/* The next installment of the effective schedule, or NULL at its end. */
static const struct fl_installment *effective_next(struct sched_iter *it)
{
	const struct fl_policy_input *in = it->in;

	for (;;) {
		const struct fl_installment *l;
		size_t n;

		if (it->seg == 0) {
			l = in->contract->schedule;
			n = in->contract->n_schedule;
		} else if (it->seg <= in->n_reschedules) {
			l = in->reschedules[it->seg - 1].schedule;
			n = in->reschedules[it->seg - 1].n_schedule;
		} else {
			return NULL;
		}
		if (it->idx < n && l[it->idx].due_at < it->cutoff)
			return &l[it->idx++];
		it->seg++;
		it->idx = 0;
		it->cutoff = seg_cutoff(in, it->seg);
	}
}

/* ---- payments ---------------------------------------------------------- */

struct ledger {
	int64_t total;           /* effective schedule */
	int64_t paid;            /* counted payments */
	int64_t due_by_now;      /* installments due at or before now */
	fl_time first_unpaid;    /* first installment not fully paid; 0 */
	fl_time last_paid;       /* last installment fully paid; 0 none */
	fl_time paid_full_at;    /* when counted money first covered the
	                            whole schedule; 0 if it does not */
	fl_time next_due_at;     /* first unpaid installment due after now */
	int64_t next_due_amount; /* its unpaid part */
	fl_time next_payment_at; /* first payment counted after now; 0 */
};

/* Counts payments: paid_at <= now and not reversed. The caps keep the sum
 * within int64 (FL_POLICY_MAX_PAYMENTS * FL_POLICY_MAX_AMOUNT). */
static void count_payments(const struct fl_policy_input *in, struct ledger *lg)
{
	for (size_t i = 0; i < in->n_payments; i++) {
		const struct fl_payment *p = &in->payments[i];

		if (p->reversed)
			continue;
		if (p->paid_at > in->now) {
			if (lg->next_payment_at == 0)
				lg->next_payment_at = p->paid_at;
			continue;
		}
		lg->paid += p->amount;
	}
}

/* The paid_at of the counted payment that brought the counted money to the
 * whole schedule (lg->total); 0 while it falls short. */
static void paid_full_at(const struct fl_policy_input *in, struct ledger *lg)
{
	int64_t cum = 0;

	lg->paid_full_at = 0;
	if (lg->paid < lg->total)
		return;
	for (size_t i = 0; i < in->n_payments; i++) {
		const struct fl_payment *p = &in->payments[i];

		if (p->reversed || p->paid_at > in->now)
			continue;
		cum += p->amount;
		if (cum >= lg->total) {
			lg->paid_full_at = p->paid_at;
			return;
		}
	}
}

/* Applies the counted money to the effective schedule, oldest installment
 * first, the excess carried forward: installment i is fully paid when the
 * money covers it and every installment before it. */
static void apply_payments(const struct fl_policy_input *in, struct ledger *lg)
{
	struct sched_iter it;
	const struct fl_installment *e;
	int64_t cum = 0;

	memset(lg, 0, sizeof(*lg));
	count_payments(in, lg);
	sched_begin(&it, in);
	while ((e = effective_next(&it)) != NULL) {
		cum += e->amount;
		if (e->due_at <= in->now)
			lg->due_by_now += e->amount;
		if (cum <= lg->paid) {
			lg->last_paid = e->due_at;
			continue;
		}
		if (lg->first_unpaid == 0)
			lg->first_unpaid = e->due_at;
		if (lg->next_due_at == 0 && e->due_at > in->now) {
			lg->next_due_at = e->due_at;
			lg->next_due_amount = cum - lg->paid < e->amount
			                              ? cum - lg->paid
			                              : e->amount;
		}
	}
	lg->total = cum;
	paid_full_at(in, lg);
}

/* True if a counted payment made in [since, until] left nothing due at the
 * instant it was made (every installment due by then covered by every payment
 * made by then). This is what lifts a manual lock: paid means unlocked. */
static bool lifted_by_payment(const struct fl_policy_input *in, fl_time since,
                              fl_time until)
{
	struct sched_iter it;
	const struct fl_installment *e;
	int64_t paid = 0, due = 0;
	size_t i = 0;

	sched_begin(&it, in);
	e = effective_next(&it);
	while (i < in->n_payments) {
		fl_time t = in->payments[i].paid_at;
		bool any = false;

		if (t > until)
			break;
		/* All payments of the same second count together. */
		for (; i < in->n_payments && in->payments[i].paid_at == t;
		     i++) {
			if (in->payments[i].reversed)
				continue;
			paid += in->payments[i].amount;
			any = true;
		}
		while (e != NULL && e->due_at <= t) {
			due += e->amount;
			e = effective_next(&it);
		}
		if (any && t >= since && paid >= due)
			return true;
	}
	return false;
}

/* ---- reminders ---------------------------------------------------------- */

static int64_t largest_offset(const struct fl_contract *c)
{
	int64_t m = 0;

	for (size_t i = 0; i < c->n_remind; i++)
		if (c->remind[i] > m)
			m = c->remind[i];
	return m;
}

/* True while the first unpaid installment is at or past its earliest
 * reminder: that, short of a lock, is the reminding state (it covers the
 * grace period too, since now >= due_at then). */
static bool reminder_window_open(const struct fl_policy_input *in,
                                 const struct ledger *lg)
{
	return lg->first_unpaid != 0 &&
	       in->now >= lg->first_unpaid - largest_offset(in->contract);
}

static void insert_reminder(struct fl_decision *out,
                            struct fl_policy_reminder r)
{
	size_t pos = out->n_reminders;

	while (pos > 0 && (out->reminders[pos - 1].at > r.at ||
	                   (out->reminders[pos - 1].at == r.at &&
	                    out->reminders[pos - 1].due_at > r.due_at)))
		pos--;
	if (pos >= FL_POLICY_MAX_REMINDERS)
		return;
	size_t last = out->n_reminders < FL_POLICY_MAX_REMINDERS
	                      ? out->n_reminders
	                      : FL_POLICY_MAX_REMINDERS - 1;
	memmove(&out->reminders[pos + 1], &out->reminders[pos],
	        (last - pos) * sizeof(out->reminders[0]));
	out->reminders[pos] = r;
	if (out->n_reminders < FL_POLICY_MAX_REMINDERS)
		out->n_reminders++;
}

/* True if r is a better "latest reminder already shown" than best: a
 * later time, or the same time for an earlier installment. */
static bool newer_past(const struct fl_policy_reminder *r,
                       const struct fl_policy_reminder *best, bool have)
{
	return !have || r->at > best->at ||
	       (r->at == best->at && r->due_at < best->due_at);
}

/* The reminders of the installments not fully paid, sorted by time: the
 * latest one whose time has come within the last FL_DAY (now - FL_DAY <
 * at < now), if any, then the earliest ones not yet past (at >= now), up to
 * FL_POLICY_MAX_REMINDERS in all. */
static void collect_reminders(const struct fl_policy_input *in,
                              const struct ledger *lg, struct fl_decision *out)
{
	const struct fl_contract *c = in->contract;
	int64_t ahead = largest_offset(c), cum = 0;
	struct fl_policy_reminder past = {0};
	bool have_past = false;
	struct sched_iter it;
	const struct fl_installment *e;

	if (c->n_remind == 0)
		return;
	sched_begin(&it, in);
	while ((e = effective_next(&it)) != NULL) {
		cum += e->amount;
		/* A reminder is never after its due date, so an installment
		 * due a day or more ago has none left to show. */
		if (cum <= lg->paid || e->due_at <= in->now - FL_DAY)
			continue;
		/* Later installments only have later earliest reminders, all
		 * still to come. */
		if (out->n_reminders == FL_POLICY_MAX_REMINDERS &&
		    e->due_at - ahead >
		            out->reminders[FL_POLICY_MAX_REMINDERS - 1].at)
			break;
		for (size_t k = 0; k < c->n_remind; k++) {
			struct fl_policy_reminder r = {
			        .at = e->due_at - c->remind[k],
			        .due_at = e->due_at,
			        .amount = cum - lg->paid,
			};
			if (r.at >= in->now)
				insert_reminder(out, r);
			else if (r.at > in->now - FL_DAY &&
			         newer_past(&r, &past, have_past)) {
				past = r;
				have_past = true;
			}
		}
	}
	/* Earlier than every reminder still to come, it goes first. */
	if (have_past)
		insert_reminder(out, past);
}

/* ---- manual commands ---------------------------------------------------- */

struct fold {
	bool stolen;                   /* reported stolen */
	fl_time stolen_since;          /* when it was reported */
	bool stolen_on_released;       /* reported after a RELEASE command */
	bool released;                 /* a RELEASE command is in force */
	bool locked;                   /* a manual lock is in force */
	enum fl_lock_cause lock_cause; /* MANUAL or SCHEDULED */
	fl_time lock_since;            /* when the latest lock took effect */
	fl_time lock_issued;           /* when the latest lock was issued */
	size_t lock_cmd;               /* 1 + index of that lock's command */
	bool sched;                    /* a scheduled lock is still to come */
	fl_time sched_at;              /* when it comes */
	fl_time sched_issued;          /* when it was issued */
	size_t sched_cmd;              /* 1 + index of its command */
	fl_time unlock_until;          /* a manual unlock holds until then; 0 */
	size_t unlock_cmd;             /* 1 + index of that unlock's command */
	fl_time next_cmd_at;           /* first command issued after now; 0 */
};

/* Brings a scheduled lock whose time has come (at or before t) into force,
 * unless a payment cancelled it first. It was issued after any unlock still
 * held (an unlock issued later would have lifted it), so it ends that
 * unlock. */
static void fold_settle(const struct fl_policy_input *in, struct fold *f,
                        fl_time t)
{
	if (!f->sched || f->sched_at > t)
		return;
	f->sched = false;
	if (lifted_by_payment(in, f->sched_issued, f->sched_at))
		return;
	f->locked = true;
	f->lock_cause = FL_LOCK_SCHEDULED;
	f->lock_since = f->sched_at;
	f->lock_issued = f->sched_issued;
	f->lock_cmd = f->sched_cmd;
	f->unlock_until = 0;
}

static void fold_lock(struct fold *f, enum fl_lock_cause cause, fl_time since,
                      fl_time issued, size_t cmd)
{
	f->locked = true;
	f->lock_cause = cause;
	f->lock_since = since;
	f->lock_issued = issued;
	f->lock_cmd = cmd;
	f->unlock_until = 0;
}

/* Folds the commands issued at or before now, in issue order, into the
 * manual state at now (see the precedence rules in policy.h). */
static void fold_commands(const struct fl_policy_input *in, struct fold *f)
{
	memset(f, 0, sizeof(*f));
	for (size_t i = 0; i < in->n_commands; i++) {
		const struct fl_command *c = &in->commands[i];

		if (c->issued_at > in->now) {
			f->next_cmd_at = c->issued_at;
			break;
		}
		fold_settle(in, f, c->issued_at);
		switch (c->kind) {
		case FL_CMD_STOLEN_SET:
			if (!f->stolen) {
				f->stolen_since = c->issued_at;
				f->stolen_on_released = f->released;
			}
			f->stolen = true;
			break;
		case FL_CMD_STOLEN_CLEAR:
			f->stolen = false;
			f->stolen_since = 0;
			f->stolen_on_released = false;
			break;
		case FL_CMD_RELEASE:
			f->released = true;
			f->locked = false;
			f->sched = false;
			f->unlock_until = 0;
			break;
		case FL_CMD_LOCK:
			if (!f->released)
				fold_lock(f, FL_LOCK_MANUAL, c->issued_at,
				          c->issued_at, i + 1);
			break;
		case FL_CMD_LOCK_AT:
			if (f->released)
				break;
			if (c->at <= c->issued_at) {
				fold_lock(f, FL_LOCK_SCHEDULED, c->issued_at,
				          c->issued_at, i + 1);
				break;
			}
			f->sched = true;
			f->sched_at = c->at;
			f->sched_issued = c->issued_at;
			f->sched_cmd = i + 1;
			break;
		case FL_CMD_UNLOCK_UNTIL:
			if (f->released)
				break;
			f->locked = false;
			f->sched = false;
			f->unlock_until = c->at > c->issued_at ? c->at : 0;
			f->unlock_cmd = i + 1;
			break;
		}
	}
	fold_settle(in, f, in->now);
	if (f->locked && lifted_by_payment(in, f->lock_issued, in->now))
		f->locked = false;
	if (f->sched && lifted_by_payment(in, f->sched_issued, in->now))
		f->sched = false;
	if (f->unlock_until <= in->now)
		f->unlock_until = 0;
}

/* ---- the decision ------------------------------------------------------- */

/* min(first unpaid due date + grace, last_contact + max_offline), each term only
 * where it applies; 0 if neither does. */
static fl_time auto_lock_at(const struct fl_policy_input *in,
                            const struct ledger *lg, enum fl_lock_cause *cause)
{
	const struct fl_contract *c = in->contract;
	fl_time at = 0;

	*cause = FL_LOCK_NONE;
	if (lg->first_unpaid != 0) {
		at = lg->first_unpaid + c->grace;
		*cause = FL_LOCK_OVERDUE;
	}
	if (c->max_offline > 0 && in->last_contact != 0) {
		fl_time off = in->last_contact + c->max_offline;

		if (at == 0 || off < at) {
			at = off;
			*cause = FL_LOCK_OFFLINE;
		}
	}
	return at;
}

/* lock_at and its cause for a device that is not stolen or released: the
 * manual lock in force, else the earliest of the automatic lock (held off
 * until an unlock ends) and a scheduled lock still to come. */
static void decide_lock_at(const struct fl_policy_input *in,
                           const struct ledger *lg, const struct fold *f,
                           struct fl_decision *out)
{
	enum fl_lock_cause cause;
	fl_time at = auto_lock_at(in, lg, &cause);

	if (f->locked) {
		out->lock_at = f->lock_since;
		out->lock_cause = f->lock_cause;
		out->lock_command = f->lock_cmd;
		return;
	}
	if (at != 0 && f->unlock_until != 0 && at < f->unlock_until)
		at = f->unlock_until;
	if (f->sched && (at == 0 || f->sched_at < at)) {
		at = f->sched_at;
		cause = FL_LOCK_SCHEDULED;
		out->lock_command = f->sched_cmd;
	}
	out->lock_at = at;
	out->lock_cause = at != 0 ? cause : FL_LOCK_NONE;
}

/* Whether the stolen report locks the device: it does unless the device
 * was released (by a RELEASE command, or by money covering the schedule)
 * before the report came. A released phone belongs to its owner. Times
 * are whole seconds: a report in the same second as the payment that
 * covered the schedule is taken as made before it (the report stands
 * until cleared with a reason, which then releases the phone). */
static bool stolen_locks(const struct ledger *lg, const struct fold *f)
{
	if (!f->stolen || f->stolen_on_released)
		return false;
	return lg->paid_full_at == 0 || f->stolen_since <= lg->paid_full_at;
}

/* The state, from the strongest rule down: stolen (reported before any
 * release), released, pending, locked, reminding, active. */
static void decide_state(const struct fl_policy_input *in,
                         const struct ledger *lg, const struct fold *f,
                         struct fl_decision *out)
{
	bool released = f->released || lg->paid >= lg->total;

	out->stolen = stolen_locks(lg, f);
	out->stolen_reported = f->stolen;
	out->released_by_command = f->released;
	if (out->stolen) {
		out->state = FL_ST_LOCKED;
		out->lock_at = f->stolen_since;
		out->lock_cause = FL_LOCK_STOLEN;
		return;
	}
	if (released) {
		out->state = FL_ST_RELEASED;
		return;
	}
	decide_lock_at(in, lg, f, out);
	if (f->sched && f->sched_at > in->now) {
		out->sched_command = f->sched_cmd;
		out->sched_at = f->sched_at;
	}
	out->unlock_until = f->locked ? 0 : f->unlock_until;
	out->unlock_command = out->unlock_until != 0 ? f->unlock_cmd : 0;
	if (!in->enrolled)
		out->state = FL_ST_PENDING;
	else if (out->lock_at != 0 && in->now >= out->lock_at)
		out->state = FL_ST_LOCKED;
	else if (reminder_window_open(in, lg))
		out->state = FL_ST_REMINDING;
	else
		out->state = FL_ST_ACTIVE;
}

static void consider(fl_time *best, fl_time t, fl_time now)
{
	if (t > now && (*best == 0 || t < *best))
		*best = t;
}

/* The earliest instant after now at which some input of the decision
 * changes by the clock alone. */
static fl_time next_change(const struct fl_policy_input *in,
                           const struct ledger *lg, const struct fold *f,
                           const struct fl_decision *out)
{
	fl_time best = 0, now = in->now;

	consider(&best, lg->next_payment_at, now);
	consider(&best, f->next_cmd_at, now);
	consider(&best, lg->next_due_at, now);
	consider(&best, out->lock_at, now);
	consider(&best, f->unlock_until, now);
	if (f->sched)
		consider(&best, f->sched_at, now);
	/* A reminder to come is listed until its time, and a second later
	 * it may replace the past one; the past one is listed until a day
	 * after its time. */
	for (size_t i = 0; i < out->n_reminders; i++) {
		fl_time at = out->reminders[i].at;

		consider(&best,
		         at < now    ? at + FL_DAY
		         : at == now ? now + 1
		                     : at,
		         now);
	}
	return best;
}

bool fl_policy_same(const struct fl_decision *a, const struct fl_decision *b)
{
	if (a->state != b->state || a->stolen != b->stolen ||
	    a->stolen_reported != b->stolen_reported ||
	    a->lock_command != b->lock_command ||
	    a->unlock_command != b->unlock_command ||
	    a->released_by_command != b->released_by_command ||
	    a->lock_cause != b->lock_cause || a->lock_at != b->lock_at ||
	    a->unlock_until != b->unlock_until ||
	    a->paid_through != b->paid_through ||
	    a->amount_total != b->amount_total ||
	    a->amount_paid != b->amount_paid ||
	    a->amount_due_now != b->amount_due_now ||
	    a->amount_remaining != b->amount_remaining ||
	    a->next_due_at != b->next_due_at ||
	    a->next_due_amount != b->next_due_amount ||
	    a->n_reminders != b->n_reminders ||
	    a->next_change != b->next_change)
		return false;
	for (size_t i = 0; i < a->n_reminders; i++)
		if (a->reminders[i].at != b->reminders[i].at ||
		    a->reminders[i].due_at != b->reminders[i].due_at ||
		    a->reminders[i].amount != b->reminders[i].amount)
			return false;
	return true;
}

fl_err fl_policy_decide(const struct fl_policy_input *in,
                        struct fl_decision *out, struct fl_policy_where *where)
{
	struct ledger lg;
	struct fold f;
	fl_err err;

	memset(out, 0, sizeof(*out));
	err = validate_input(in, where);
	if (err)
		goto out;

	apply_payments(in, &lg);
	fold_commands(in, &f);
	decide_state(in, &lg, &f, out);

	out->paid_through = lg.last_paid;
	out->amount_total = lg.total;
	out->amount_paid = lg.paid;
	out->amount_due_now =
	        lg.due_by_now > lg.paid ? lg.due_by_now - lg.paid : 0;
	out->amount_remaining = lg.total > lg.paid ? lg.total - lg.paid : 0;
	out->next_due_at = lg.next_due_at;
	out->next_due_amount = lg.next_due_amount;
	if (!f.released && lg.paid < lg.total)
		collect_reminders(in, &lg, out);
	out->next_change = next_change(in, &lg, &f, out);
out:
	if (err)
		memset(out, 0, sizeof(*out));
	return err;
}
