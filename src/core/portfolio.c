/* portfolio.c - portfolio figures (portfolio.h). */
#include "core/portfolio.h"

#include <string.h>

const int fl_portfolio_par_days[FL_PORTFOLIO_PARS] = {1, 7, 30};

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
	if (l->amount_due <= 0 || l->paid_through == 0 ||
	    l->paid_through >= p->as_of)
		return FL_OK;
	c->loans_overdue++;
	for (int i = 0; i < FL_PORTFOLIO_PARS; i++) {
		/* "more than N days late" */
		if (p->as_of - l->paid_through >
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
