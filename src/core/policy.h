/*
 * policy.h - the lock decision: one pure function that says what state a
 * financed device is in, from its contract, its payments, the lender's
 * manual commands, its last contact and the time.
 *
 * finlockd calls fl_policy_decide() on every payment, command, reschedule,
 * check-in and in its periodic sweep; tests and benchmarks call the same
 * function. Nothing else in finlock re-implements the decision. Inputs are
 * plain structs the caller owns and keeps alive for the call; nothing is
 * allocated, nothing is read from a clock: `now` is an input, so the same
 * inputs always give the same decision (and a decision can be replayed for
 * any past instant).
 *
 * Times are fl_time (seconds since the epoch, UTC). Every input time must lie
 * in [1, FL_TIME_MAX]: 0 is reserved as "none" (last_contact 0 = never seen,
 * lock_at 0 = no lock coming, paid_through 0 = no installment paid yet).
 * Money is int64
 * minor units of the contract's currency.
 *
 * ---- The rules, as a lender and a customer can read them ----
 *
 * Schedule. An installment is due at its due_at instant; a due date given as
 * a date alone means the last second of that day at the contract's UTC offset
 * (fl_policy_end_of_day). A reschedule replaces every installment due at or
 * after its `from` instant by its own list (whose entries are all due at or
 * after `from`); earlier installments stay. Reschedules apply in the order
 * given, each to the schedule the earlier ones produced, so a later
 * reschedule from an earlier date also replaces an earlier reschedule.
 *
 * Payments. A payment counts from its paid_at instant on (paid_at <= now);
 * a reversed payment (bounced, charged back) counts for nothing. Counted money
 * pays the oldest open installment first, and any excess carries to later
 * installments. paid_through is the due date of the last installment fully
 * paid (every installment up to it is paid; 0 while none is, so a new
 * contract is paid through nothing); the "first unpaid due date" below is
 * the due date of the first installment not fully paid. An installment due
 * at `now` is due now (it is in
 * amount_due_now), and a payment made at its due_at instant is on time. The
 * server records paid_at no later than the moment it records the payment, so
 * a recorded payment counts at once; one dated in the future counts from its
 * date (and that date is a next_change).
 *
 * Pending. A device that has not enrolled is pending; lock_at, the amounts and
 * the reminders are still computed (they go into its first token).
 *
 * Automatic lock. lock_at = min(first unpaid due date + grace,
 * last_contact + max_offline) (each term only when it applies: something
 * unpaid; max_offline > 0 and the device has been seen). The device is
 * locked from lock_at on: at lock_at - 1 it is not, at lock_at it is.
 *
 * Reminding. Not locked, and the first unpaid installment is at or past
 * its earliest reminder (now >= due_at - largest reminder offset) or past
 * due but within grace.
 *
 * Reminders. Each offset in the contract's remind[] gives a reminder at
 * due_at - offset for every installment not fully paid. A decision lists
 * the latest reminder whose time has come within the last day (now - FL_DAY <
 * at < now), so a phone keeps showing it for a day after its time, and
 * after it the earliest reminders still to come (at >= now), up to
 * FL_POLICY_MAX_REMINDERS in all. Paying the installment removes its
 * reminders at once.
 *
 * Release. Paid in full (counted payments >= the whole schedule) means
 * released: no restriction, no lock_at, no reminder. Release by payment is
 * recomputed from the payments, so a later reversal (a bounced payment)
 * re-opens the contract; that is what a lender expects, since the money never
 * arrived. An explicit RELEASE command is an act: final, never re-opened by a
 * reversal or a reschedule, and every later lock or unlock command is ignored
 * (the server refuses them). The server should refuse reschedules of a
 * released contract.
 *
 * Manual commands apply in the order they were issued (array order, with
 * non-decreasing issued_at); a command issued after `now` has no effect yet.
 *  - STOLEN_SET / STOLEN_CLEAR: stolen is a flag, not a state. Reported
 *    before the device is released, it locks the device whatever else
 *    holds, and a release (by payment or command) made while it stands
 *    does not lift it; lock_at is when it was reported. Only a STOLEN_CLEAR
 *    with a reason lifts it, and then the state derived from everything
 *    else returns unchanged. Payments never lift it. Reported on a device
 *    already released (a RELEASE command issued before the report, or
 *    money covering the whole schedule paid before it), it locks nothing:
 *    a released phone belongs to its owner. The decision stays released,
 *    with stolen false and stolen_reported true (the public IMEI check
 *    warns a buyer).
 *  - LOCK (lock now) locks from its issue time. LOCK_AT schedules a lock at
 *    `at` (a time already come at issue acts as lock now); a later LOCK_AT
 *    replaces an earlier one whose time has not come. Both take precedence
 *    over the automatic decision, and a lock whose time comes after an unlock
 *    ends that unlock.
 *  - UNLOCK_UNTIL lifts every manual lock issued before it (in force or
 *    scheduled) and suspends the automatic lock until `at`; from `at` on the
 *    automatic decision returns (lock_at = max(automatic lock_at, at)). An
 *    unlock with `at` not after its issue time just lifts the manual locks.
 *  - Paid means unlocked: a manual lock (in force or scheduled) is lifted by
 *    a payment made at or after the lock was issued that leaves nothing due at
 *    the instant it is made. Manual locks exist to collect money, so money
 *    lifts them (the guarantee "paid means unlocked", docs/server.md); only the
 * stolen flag keeps a device locked whatever is paid. A payment dated before
 * the lock's issue does not lift it; support lifts such a lock with an unlock.
 *  - RELEASE: see above.
 * Precedence, strongest first: stolen (reported before release); release
 * (command or paid in full);
 * the latest of manual lock / manual unlock; the automatic decision.
 *
 * next_change is the earliest instant after `now` at which the decision
 * could change with no new input (a reminder's time, a day after the listed
 * past reminder's time, a due date, lock_at, the end of an unlock, a scheduled
 * lock, a payment or command dated in the future); 0 if none. It is never later
 * than the first real change and may be earlier (re-deciding at it may find
 * nothing changed), so a sweep that re-decides each device at its next_change
 * misses no transition.
 *
 * THREAD SAFETY: pure; safe from any thread. Inputs are only read.
 */
#ifndef FL_POLICY_H
#define FL_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/fltime.h"
#include "core/state.h"

/* Caps on everything that grows from input. With these, no sum of money in
 * a decision can overflow int64: (1 + 64) * 1000 * 10^14 < 2^63 and
 * 10000 * 10^14 < 2^63. */
#define FL_POLICY_MAX_INSTALLMENTS 1000 /* per schedule or reschedule list */
#define FL_POLICY_MAX_RESCHEDULES  64
#define FL_POLICY_MAX_PAYMENTS     10000
#define FL_POLICY_MAX_COMMANDS     1000
#define FL_POLICY_MAX_AMOUNT       100000000000000LL /* 10^14 minor units */
#define FL_POLICY_MAX_OFFSETS      8 /* reminder offsets per contract */
#define FL_POLICY_MAX_REMINDERS    8 /* reminders in a decision */
#define FL_POLICY_MAX_DURATION     (400LL * FL_DAY) /* grace, max_offline */
#define FL_POLICY_MAX_REMIND_AHEAD (90LL * FL_DAY)  /* a reminder offset */
#define FL_POLICY_MAX_UTC_OFFSET   (24 * 3600 - 60) /* +-23:59 */

struct fl_installment {
	fl_time due_at; /* the instant it is due (see fl_policy_end_of_day) */
	int64_t amount; /* minor units, 1..FL_POLICY_MAX_AMOUNT */
};

struct fl_contract {
	char currency[4];   /* ISO 4217 code, three upper-case letters + NUL */
	int32_t utc_offset; /* seconds east of UTC, for date-only due dates */
	const struct fl_installment
	        *schedule; /* borrowed; strictly by due_at */
	size_t n_schedule; /* 1..FL_POLICY_MAX_INSTALLMENTS */
	int64_t grace;     /* seconds after a due date before the lock, >= 0 */
	int64_t max_offline; /* seconds without contact before the lock; 0=off
	                      */
	int64_t remind[FL_POLICY_MAX_OFFSETS]; /* seconds before a due date */
	size_t n_remind; /* entries used in remind[], distinct, any order */
};

struct fl_reschedule {
	fl_time from; /* installments due at or after this are replaced */
	const struct fl_installment *schedule; /* borrowed; all due >= from */
	size_t n_schedule; /* 0..FL_POLICY_MAX_INSTALLMENTS (0 = waive the rest)
	                    */
};

struct fl_payment {
	int64_t id;      /* the caller's id; not interpreted */
	int64_t amount;  /* minor units, 1..FL_POLICY_MAX_AMOUNT */
	fl_time paid_at; /* counts from this instant on */
	bool reversed;   /* reversed payments count for nothing */
};

enum fl_cmd_kind {
	FL_CMD_LOCK = 1,     /* lock now (at issued_at) */
	FL_CMD_LOCK_AT,      /* lock at `at` */
	FL_CMD_UNLOCK_UNTIL, /* lift manual locks; no automatic lock until `at`
	                      */
	FL_CMD_RELEASE,      /* admin release: final */
	FL_CMD_STOLEN_SET,   /* report stolen */
	FL_CMD_STOLEN_CLEAR, /* clear the stolen report; needs a reason */
};

struct fl_command {
	enum fl_cmd_kind kind;
	fl_time issued_at; /* when the server accepted it */
	fl_time at;        /* LOCK_AT: lock time; UNLOCK_UNTIL: end; else 0 */
	const char
	        *reason; /* borrowed; required (non-empty) for STOLEN_CLEAR */
};

struct fl_policy_input {
	const struct fl_contract *contract;      /* borrowed, required */
	const struct fl_reschedule *reschedules; /* borrowed, in issue order */
	size_t n_reschedules;
	const struct fl_payment *payments; /* borrowed, by paid_at (ties any) */
	size_t n_payments;
	const struct fl_command *commands; /* borrowed, in issue order */
	size_t n_commands;
	bool enrolled;        /* the phone has enrolled (else: pending) */
	fl_time last_contact; /* last authenticated contact; 0 = never */
	fl_time now;          /* the instant to decide for */
};

/* What drives lock_at (the lock in force, or the next one coming). */
enum fl_lock_cause {
	FL_LOCK_NONE = 0,  /* no lock in force or coming */
	FL_LOCK_OVERDUE,   /* first unpaid due date + grace */
	FL_LOCK_OFFLINE,   /* last_contact + max_offline */
	FL_LOCK_MANUAL,    /* a LOCK command */
	FL_LOCK_SCHEDULED, /* a LOCK_AT command */
	FL_LOCK_STOLEN,    /* reported stolen */
};

struct fl_policy_reminder {
	fl_time at;     /* when to show it (due_at - offset), > now - FL_DAY */
	fl_time due_at; /* the installment's due instant */
	int64_t amount; /* to pay by due_at to have nothing due then */
};

struct fl_decision {
	enum fl_dev_state state;  /* what the device must enforce */
	bool stolen;              /* locked as stolen (state is then locked) */
	bool stolen_reported;     /* a stolen report stands, released or not */
	bool released_by_command; /* an admin RELEASE is in force */
	enum fl_lock_cause lock_cause; /* why lock_at */
	size_t lock_command;      /* MANUAL or SCHEDULED: 1 + the index in
	                             commands[] of the lock; else 0 */
	fl_time lock_at;        /* locked iff lock_at != 0 && now >= lock_at;
	                           0 = no lock in force or coming */
	fl_time unlock_until;   /* a manual unlock holds until then; 0 = none */
	size_t unlock_command;  /* 1 + the index in commands[] of that unlock;
	                           0 when unlock_until is 0 */
	size_t sched_command;   /* a LOCK_AT still to come, whether it drives
	                           lock_at or an earlier lock comes first:
	                           1 + its index in commands[]; 0 none */
	fl_time sched_at;       /* when that lock comes; 0 with no
	                           sched_command */
	fl_time paid_through;   /* due date of the last installment fully
	                           paid (all before it paid too); 0 = none */
	int64_t amount_total;   /* the whole effective schedule */
	int64_t amount_paid;    /* counted payments (may exceed the total) */
	int64_t amount_due_now; /* due at or before now and unpaid */
	int64_t amount_remaining; /* total not yet paid */
	fl_time next_due_at;     /* first unpaid installment due after now; 0 */
	int64_t next_due_amount; /* its unpaid part; 0 if none */
	size_t n_reminders;      /* entries used in reminders[] */
	/* the latest reminder past within the last day, then the earliest
	   not yet past, by `at` (see Reminders); none when released */
	struct fl_policy_reminder reminders[FL_POLICY_MAX_REMINDERS];
	fl_time next_change; /* earliest instant > now the decision could
	                        change by itself; 0 = none */
};

/* Where fl_policy_decide or a validator found bad input. */
enum fl_policy_part {
	FL_PART_NONE = 0,   /* no fault, or the input as a whole (now, NULL) */
	FL_PART_CONTRACT,   /* a contract term; index = remind[] entry or 0 */
	FL_PART_SCHEDULE,   /* contract->schedule[index] */
	FL_PART_RESCHEDULE, /* reschedules[index], item = entry or SIZE_MAX */
	FL_PART_PAYMENT,    /* payments[index] */
	FL_PART_COMMAND,    /* commands[index] */
};

struct fl_policy_where {
	enum fl_policy_part part;
	size_t index; /* which entry of that part */
	size_t item;  /* for a reschedule: which of its entries, or SIZE_MAX */
};

/* The instant a date-only due date means: the last second of y-m-d at
 * utc_offset seconds east of UTC, i.e. the start of the next local day minus
 * one second. The date must be valid (as fl_date_parse returns it) and
 * |utc_offset| <= FL_POLICY_MAX_UTC_OFFSET. */
fl_time fl_policy_end_of_day(int year, int month, int day, int32_t utc_offset);

/* Parses a due date: "YYYY-MM-DD" is the end of that day at utc_offset
 * (fl_policy_end_of_day); a full RFC 3339 date-time is that instant. Errors
 * are fltime's (FL_E_TIME_FORMAT, FL_E_TIME_INVALID), or FL_E_RANGE for an
 * offset beyond FL_POLICY_MAX_UTC_OFFSET; *out is 0 on error. */
fl_err fl_policy_due_parse(const char *s, size_t len, int32_t utc_offset,
                           fl_time *out) FL_MUST_USE;

/* Checks a contract: currency, utc_offset, grace, max_offline and reminder
 * offsets (FL_E_CONTRACT), the schedule (non-empty, at most
 * FL_POLICY_MAX_INSTALLMENTS: FL_E_TOO_LARGE; due dates in range and strictly
 * increasing: FL_E_SCHEDULE; amounts in 1..FL_POLICY_MAX_AMOUNT: FL_E_MONEY).
 * On error *where (if not NULL) names the bad entry; on success it is
 * zeroed. */
fl_err fl_policy_validate_contract(const struct fl_contract *c,
                                   struct fl_policy_where *where) FL_MUST_USE;

/* Checks one reschedule as fl_policy_validate_contract checks a schedule,
 * and that every entry is due at or after `from` (FL_E_SCHEDULE). where->part
 * is FL_PART_RESCHEDULE with index 0 and item naming the entry. */
fl_err fl_policy_validate_reschedule(const struct fl_reschedule *r,
                                     struct fl_policy_where *where) FL_MUST_USE;

/* Decides the device's state at in->now. Validates every input first
 * (contract and reschedules as above; payments: amounts in
 * 1..FL_POLICY_MAX_AMOUNT (FL_E_MONEY), paid_at in range and non-decreasing
 * (FL_E_PAYMENT); commands: known kind, times in range, issued_at
 * non-decreasing, a reason on STOLEN_CLEAR (FL_E_COMMAND); counts over their
 * caps: FL_E_TOO_LARGE; now or last_contact out of range, a NULL
 * contract, or a NULL array with a non-zero count: FL_E_INVALID). On error *out
 * is zeroed and *where (if not NULL) names the bad entry; bad input never
 * yields a decision. */
fl_err fl_policy_decide(const struct fl_policy_input *in,
                        struct fl_decision *out,
                        struct fl_policy_where *where) FL_MUST_USE;

/* Whether a and b are the same decision in every field (the reminders
 * in use compared entry by entry). */
bool fl_policy_same(const struct fl_decision *a, const struct fl_decision *b);

/* "none", "overdue", "offline", "manual", "scheduled", "stolen"; NULL if
 * invalid. */
const char *fl_lock_cause_name(enum fl_lock_cause c);

#endif
