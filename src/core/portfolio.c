/* portfolio.c - portfolio figures (portfolio.h). */
#include "core/portfolio.h"

#include <string.h>

const int fl_portfolio_par_days[FL_PORTFOLIO_PARS] = {1, 7, 30};

/* The earliest due date after paid_through among installments of list
 * that are due before `before` (0: no bound), or 0. */
static fl_time earliest_after(const struct fl_installment *list, size_t n,
                              fl_time paid_through, fl_time before)
{
	fl_time best = 0;

	for (size_t i = 0; i < n; i++) {
		fl_time t = list[i].due_at;

		if (t > paid_through && (before == 0 || t < before) &&
		    (best == 0 || t < best))
			best = t;
	}
	return best;
}

fl_time fl_portfolio_first_unpaid(const struct fl_installment *schedule,
                                  size_t n, const struct fl_reschedule *r,
                                  size_t n_r, fl_time paid_through)
{
	fl_time best;
	size_t k;

	/* The last reschedule rules from its `from` on; before that, the
	 * one before it from its own `from`, and so on back to the
	 * contract. The first unpaid is the earliest of what each keeps. */
	best = 0;
	fl_time bound = 0; /* what later reschedules replaced: >= bound */
	for (k = n_r; k > 0; k--) {
		const struct fl_reschedule *x = &r[k - 1];
		fl_time t;

		if (bound != 0 && x->from >= bound)
			continue; /* wholly replaced by a later one */
		t = earliest_after(x->schedule, x->n_schedule, paid_through,
		                   bound);
		if (t != 0 && (best == 0 || t < best))
			best = t;
		bound = x->from;
	}
	{
		fl_time t = earliest_after(schedule, n, paid_through, bound);

		if (t != 0 && (best == 0 || t < best))
			best = t;
	}
	return best;
}

void fl_portfolio_init(struct fl_portfolio *p, fl_time now)
{
	memset(p, 0, sizeof(*p));
	p->as_of = now;
}

static struct fl_portfolio_ccy *currency(struct fl_portfolio *p,
                                         const char *code)
{
	for (size_t i = 0; i < p->n_ccy; i++)
		if (strcmp(p->ccy[i].currency, code) == 0)
			return &p->ccy[i];
	if (p->n_ccy == FL_PORTFOLIO_CURRENCIES)
		return NULL;
	struct fl_portfolio_ccy *c = &p->ccy[p->n_ccy++];

	memset(c, 0, sizeof(*c));
	strncpy(c->currency, code, sizeof(c->currency) - 1);
	return c;
}

fl_err fl_portfolio_add(struct fl_portfolio *p,
                        const struct fl_portfolio_loan *l)
{
	struct fl_portfolio_ccy *c = NULL;

	if (l->currency != NULL && l->state != FL_ST_RELEASED &&
	    (c = currency(p, l->currency)) == NULL)
		return FL_E_LIMIT;
	p->devices++;
	if ((unsigned)l->state < 5)
		p->by_state[l->state]++;
	if (l->stolen)
		p->stolen++;
	if (c == NULL)
		return FL_OK;
	c->loans++;
	c->outstanding += l->amount_remaining;
	c->due_now += l->amount_due;
	if (l->amount_due <= 0 || l->first_unpaid == 0 ||
	    l->first_unpaid >= p->as_of)
		return FL_OK;
	c->loans_overdue++;
	for (int i = 0; i < FL_PORTFOLIO_PARS; i++) {
		/* "more than N days late" */
		if (p->as_of - l->first_unpaid >
		    (fl_time)fl_portfolio_par_days[i] * FL_DAY) {
			c->at_risk[i] += l->amount_remaining;
			c->loans_at_risk[i]++;
		}
	}
	return FL_OK;
}

double fl_portfolio_par(const struct fl_portfolio_ccy *c, int i)
{
	if (c->outstanding <= 0 || i < 0 || i >= FL_PORTFOLIO_PARS)
		return 0.0;
	return (double)c->at_risk[i] / (double)c->outstanding;
}

double fl_portfolio_lock_rate(const struct fl_portfolio *p)
{
	int64_t live = p->by_state[FL_ST_ACTIVE] +
	               p->by_state[FL_ST_REMINDING] +
	               p->by_state[FL_ST_LOCKED];

	return live > 0 ? (double)p->by_state[FL_ST_LOCKED] / (double)live
	                : -1.0;
}
