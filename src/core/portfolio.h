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

struct fl_portfolio {
	fl_time as_of;
	int64_t devices;     /* every device */
	int64_t by_state[5]; /* by enum fl_dev_state */
	int64_t stolen;
	struct fl_portfolio_ccy ccy[FL_PORTFOLIO_CURRENCIES];
	size_t n_ccy; /* in order of first appearance */
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
/* Counts one device. FL_E_LIMIT past FL_PORTFOLIO_CURRENCIES currencies
 * (p unchanged then). */
fl_err fl_portfolio_add(struct fl_portfolio *p,
                        const struct fl_portfolio_loan *l) FL_MUST_USE;
/* PAR of fl_portfolio_par_days[i] for one currency, as a fraction (0 when
 * nothing is outstanding). */
double fl_portfolio_par(const struct fl_portfolio_ccy *c, int i);
/* Locked devices over the devices in service (active, reminding,
 * locked); -1 when none is in service. */
double fl_portfolio_lock_rate(const struct fl_portfolio *p);

#endif
