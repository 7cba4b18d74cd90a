/*
 * portfolio.h - a lender's portfolio figures from its loans' decided
 * status: devices by state, the gross outstanding portfolio, amounts due,
 * portfolio at risk (PAR1, PAR7, PAR30) per currency, and the lock rate.
 *
 * PAR N follows CGAP: the WHOLE outstanding balance of every loan with an
 * installment more than N days late, over the gross outstanding portfolio.
 * A loan's lateness is measured from the due date of its first installment
 * not fully paid (fl_portfolio_first_unpaid) while an amount is due.
 * Released loans are out of the portfolio; a stolen phone's loan stays in.
 * Amounts in different currencies are never added together.
 *
 * THREAD SAFETY: a struct fl_portfolio is used by one thread.
 */
#ifndef FL_CORE_PORTFOLIO_H
#define FL_CORE_PORTFOLIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/fltime.h"
#include "core/policy.h"
#include "core/state.h"

#define FL_PORTFOLIO_CURRENCIES 16 /* distinct currencies in one report */
#define FL_PORTFOLIO_PARS       3  /* PAR1, PAR7, PAR30 */
#define FL_PORTFOLIO_PERIODS    12 /* collection history: periods of */
#define FL_PORTFOLIO_PERIOD     (30 * 86400) /* 30 days, ending as_of */

/* The days of each PAR figure: {1, 7, 30}. */
extern const int fl_portfolio_par_days[FL_PORTFOLIO_PARS];

/* One device as the report sees it. */
struct fl_portfolio_loan {
	const char *currency; /* ISO 4217; NULL: no contract (not a loan) */
	enum fl_dev_state state;
	bool stolen;
	int64_t amount_due;       /* due now and unpaid */
	int64_t amount_remaining; /* not yet paid, the whole contract */
	fl_time first_unpaid;     /* due date of the first installment not
	                             fully paid; 0 none */
};

struct fl_portfolio_ccy {
	char currency[4];
	int64_t loans;       /* loans in the portfolio (not released) */
	int64_t outstanding; /* gross outstanding portfolio */
	int64_t due_now;     /* sum of amounts due now */
	int64_t loans_overdue;                        /* with an amount due */
	int64_t at_risk[FL_PORTFOLIO_PARS];           /* PAR numerators */
	int64_t loans_at_risk[FL_PORTFOLIO_PARS];     /* how many loans */
	/* Collections, period k = [as_of - (12 - k) * 30 days, as_of -
	 * (11 - k) * 30 days), oldest first (fl_portfolio_add_history): */
	int64_t due[FL_PORTFOLIO_PERIODS];       /* installments due then */
	int64_t on_time[FL_PORTFOLIO_PERIODS];   /* of those, paid by their
	                                            due date */
	int64_t collected[FL_PORTFOLIO_PERIODS]; /* payments made then, not
	                                            reversed */
};

#define FL_PORTFOLIO_CURE (7 * 86400) /* a cure: paid and unlocked within */

/* The trends of period k (as the collections' periods), from the history
 * of decided states (fl_portfolio_add_counts, fl_portfolio_add_locks). */
struct fl_portfolio_trend {
	int64_t in_service; /* devices active, reminding or locked at the
	                       period's end */
	int64_t locked;     /* of those, locked */
	int64_t locks;      /* locks for money (overdue, manual, scheduled)
	                       begun in the period, at least
	                       FL_PORTFOLIO_CURE before as_of */
	int64_t cured;      /* of those, ended by a payment within
	                       FL_PORTFOLIO_CURE */
	int64_t paid_unlocks; /* locks ended by a payment in the period */
	int64_t confirmed;    /* of those, confirmed by the phone */
	int64_t latency_p95;  /* over the confirmed ones: from the payment's
	                         record time to the phone's confirmation,
	                         seconds, nearest rank; -1 none */
};

/* One change into or out of locked, as fl_portfolio_add_locks reads it. */
struct fl_portfolio_change {
	fl_time at;
	bool into_lock;       /* into locked, else out of it */
	bool for_money;       /* into: the lock's cause is overdue, manual or
	                         scheduled */
	bool by_payment;      /* out: ended by a payment */
	fl_time paid_at;      /* out by payment: the payment's record time */
	fl_time confirmed_at; /* when the phone confirmed it, 0 not yet */
};

struct fl_portfolio {
	fl_time as_of;
	int64_t devices;     /* every device */
	int64_t by_state[5]; /* by enum fl_dev_state */
	int64_t stolen;
	struct fl_portfolio_ccy ccy[FL_PORTFOLIO_CURRENCIES];
	size_t n_ccy; /* in order of first appearance */
	bool has_trends; /* fl_portfolio_add_counts or _add_locks was called */
	struct fl_portfolio_trend trend[FL_PORTFOLIO_PERIODS];
	/* while adding: devices entering (+) and leaving (-) each state,
	 * [0] before the first period, [k + 1] in period k */
	int64_t delta[FL_PORTFOLIO_PERIODS + 1][5];
	int64_t *lat[FL_PORTFOLIO_PERIODS]; /* latencies of period k */
	size_t n_lat[FL_PORTFOLIO_PERIODS], cap_lat[FL_PORTFOLIO_PERIODS];
};

/* The due date of the first installment not fully paid, given the
 * policy's paid_through (the due date of the last one fully paid, 0 for
 * none) and the effective schedule: the contract's, each reschedule in
 * order replacing the installments due at or after its `from`. 0 when
 * every installment is paid. */
fl_time fl_portfolio_first_unpaid(const struct fl_installment *schedule,
                                  size_t n, const struct fl_reschedule *r,
                                  size_t n_r, fl_time paid_through);

/* Adds one loan's collections (released loans' too) to its currency's
 * history, FL_E_LIMIT past FL_PORTFOLIO_CURRENCIES currencies: the
 * effective schedule (as fl_portfolio_first_unpaid reads it) and
 * every payment. Payments apply to installments oldest first; an
 * installment's on-time part is what payments made by its due date cover
 * of it, after the installments before it. Reversed payments count for
 * nothing. */
fl_err fl_portfolio_add_history(struct fl_portfolio *p, const char *currency,
                                const struct fl_installment *schedule, size_t n,
                                const struct fl_reschedule *r, size_t n_r,
                                const struct fl_payment *pay,
                                size_t n_pay) FL_MUST_USE;
/* Period k's start (its end is the next one's start, as_of for the last). */
fl_time fl_portfolio_period_start(const struct fl_portfolio *p, int k);
/* on_time / due and collected / due of period k, each -1 when nothing
 * fell due then. */
double fl_portfolio_on_time_rate(const struct fl_portfolio_ccy *c, int k);
double fl_portfolio_collection_rate(const struct fl_portfolio_ccy *c, int k);

/* Starts an empty report as of now. */
void fl_portfolio_init(struct fl_portfolio *p, fl_time now);
/* Frees what the trends hold (p stays a valid, empty-trend report). */
void fl_portfolio_clear(struct fl_portfolio *p);

/* Adds n changes of decided state from `from` to `to` that happened in
 * period `bucket` (-1: before the first period; FL_PORTFOLIO_PERIODS: at
 * as_of itself, which the trends count in the last period). */
void fl_portfolio_add_counts(struct fl_portfolio *p, int bucket,
                             enum fl_dev_state from, enum fl_dev_state to,
                             int64_t n);
/* Adds one device's changes into and out of locked, c[0..n) in the
 * order they happened, from the first period's start to as_of (included,
 * in the last period): each lock
 * for money begun in a period (at least FL_PORTFOLIO_CURE before as_of)
 * is cured when the device's next change ends it by a payment within
 * FL_PORTFOLIO_CURE; each end by payment counts in its own period, its
 * latency being confirmed_at - paid_at when the phone confirmed it. */
fl_err fl_portfolio_add_locks(struct fl_portfolio *p,
                              const struct fl_portfolio_change *c,
                              size_t n) FL_MUST_USE;
/* Completes the trends: devices in service and locked at each period's
 * end from the counts, and each period's latency p95. */
void fl_portfolio_trends_done(struct fl_portfolio *p);
/* locked / in_service, cured / locks of period k, each -1 without a
 * denominator. */
double fl_portfolio_trend_lock_rate(const struct fl_portfolio *p, int k);
double fl_portfolio_trend_cure_rate(const struct fl_portfolio *p, int k);
/* Counts one device. FL_E_LIMIT past FL_PORTFOLIO_CURRENCIES currencies
 * (p unchanged then). */
fl_err fl_portfolio_add(struct fl_portfolio *p,
                        const struct fl_portfolio_loan *l) FL_MUST_USE;
/* Counts n devices alike (fl_store_portfolio_groups): currency NULL or ""
 * without a contract; their amounts summed. As n calls of
 * fl_portfolio_add with amount_due 0 would, the amounts due added to
 * due_now; a loan with an amount due is then given to
 * fl_portfolio_add_late. FL_E_LIMIT past FL_PORTFOLIO_CURRENCIES. */
fl_err fl_portfolio_add_group(struct fl_portfolio *p, const char *currency,
                              enum fl_dev_state state, bool stolen,
                              int64_t n, int64_t amount_remaining,
                              int64_t amount_due) FL_MUST_USE;
/* The lateness of one loan already counted by fl_portfolio_add_group,
 * with an amount due: overdue and at risk as fl_portfolio_add counts
 * them. */
fl_err fl_portfolio_add_late(struct fl_portfolio *p, const char *currency,
                             int64_t amount_remaining,
                             fl_time first_unpaid) FL_MUST_USE;
/* PAR of fl_portfolio_par_days[i] for one currency, as a fraction (0 when
 * nothing is outstanding). */
double fl_portfolio_par(const struct fl_portfolio_ccy *c, int i);
/* Locked devices over the devices in service (active, reminding,
 * locked); -1 when none is in service. */
double fl_portfolio_lock_rate(const struct fl_portfolio *p);

#endif
