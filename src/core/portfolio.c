/* portfolio.c - portfolio figures (portfolio.h). */
#include "core/portfolio.h"

#include <stdlib.h>
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

fl_err fl_portfolio_add_group(struct fl_portfolio *p, const char *code,
                              enum fl_dev_state state, bool stolen,
                              int64_t n, int64_t amount_remaining,
                              int64_t amount_due)
{
	struct fl_portfolio_ccy *c = NULL;

	if (code != NULL && code[0] != '\0' && state != FL_ST_RELEASED &&
	    (c = currency(p, code)) == NULL)
		return FL_E_LIMIT;
	p->devices += n;
	if ((unsigned)state < 5)
		p->by_state[state] += n;
	if (stolen)
		p->stolen += n;
	if (c == NULL)
		return FL_OK;
	c->loans += n;
	c->outstanding += amount_remaining;
	c->due_now += amount_due;
	return FL_OK;
}

fl_err fl_portfolio_add_late(struct fl_portfolio *p, const char *code,
                             int64_t amount_remaining, fl_time first_unpaid)
{
	struct fl_portfolio_ccy *c = currency(p, code);

	if (c == NULL)
		return FL_E_LIMIT;
	if (first_unpaid == 0 || first_unpaid >= p->as_of)
		return FL_OK;
	c->loans_overdue++;
	for (int i = 0; i < FL_PORTFOLIO_PARS; i++) {
		if (p->as_of - first_unpaid >
		    (fl_time)fl_portfolio_par_days[i] * FL_DAY) {
			c->at_risk[i] += amount_remaining;
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

/* --- collections ---------------------------------------------------------- */

/* The period of t, or -1 outside the history. */
static int period_of(const struct fl_portfolio *p, fl_time t)
{
	fl_time start =
	        p->as_of - (fl_time)FL_PORTFOLIO_PERIODS * FL_PORTFOLIO_PERIOD;

	if (t < start || t >= p->as_of)
		return -1;
	return (int)((t - start) / FL_PORTFOLIO_PERIOD);
}

fl_time fl_portfolio_period_start(const struct fl_portfolio *p, int k)
{
	return p->as_of -
	       (fl_time)(FL_PORTFOLIO_PERIODS - k) * FL_PORTFOLIO_PERIOD;
}

static int by_due(const void *a, const void *b)
{
	fl_time x = ((const struct fl_installment *)a)->due_at;
	fl_time y = ((const struct fl_installment *)b)->due_at;

	return (x > y) - (x < y);
}

static int by_paid(const void *a, const void *b)
{
	fl_time x = ((const struct fl_payment *)a)->paid_at;
	fl_time y = ((const struct fl_payment *)b)->paid_at;

	return (x > y) - (x < y);
}

/* Appends the installments of list due before `before` (0: all) to out,
 * which has room for them. */
static void keep(struct fl_installment *out, size_t *n,
                 const struct fl_installment *list, size_t n_list,
                 fl_time before)
{
	for (size_t i = 0; i < n_list; i++)
		if (before == 0 || list[i].due_at < before)
			out[(*n)++] = list[i];
}

fl_err fl_portfolio_add_history(struct fl_portfolio *p, const char *code,
                                const struct fl_installment *schedule, size_t n,
                                const struct fl_reschedule *r, size_t n_r,
                                const struct fl_payment *pay, size_t n_pay)
{
	struct fl_portfolio_ccy *c = NULL;
	struct fl_installment *eff = NULL;
	struct fl_payment *ps = NULL;
	size_t n_eff = 0, j = 0;
	int64_t before = 0, paid = 0; /* schedule before i; paid by its due */
	fl_time bound = 0;
	fl_err err = FL_OK;

	size_t cap = n;

	if ((c = currency(p, code)) == NULL)
		return FL_E_LIMIT;
	for (size_t k = 0; k < n_r; k++)
		cap += r[k].n_schedule;
	eff = malloc((cap ? cap : 1) * sizeof(*eff));
	ps = malloc((n_pay ? n_pay : 1) * sizeof(*ps));
	if (eff == NULL || ps == NULL) {
		err = FL_E_NOMEM;
		goto out;
	}
	/* the effective schedule, as fl_portfolio_first_unpaid reads it */
	for (size_t k = n_r; k > 0; k--) {
		const struct fl_reschedule *x = &r[k - 1];

		if (bound != 0 && x->from >= bound)
			continue;
		keep(eff, &n_eff, x->schedule, x->n_schedule, bound);
		bound = x->from;
	}
	keep(eff, &n_eff, schedule, n, bound);
	qsort(eff, n_eff, sizeof(*eff), by_due);
	if (n_pay > 0)
		memcpy(ps, pay, n_pay * sizeof(*ps));
	qsort(ps, n_pay, sizeof(*ps), by_paid);
	for (size_t i = 0; i < n_eff; i++) {
		int k = period_of(p, eff[i].due_at);
		int64_t covered;

		while (j < n_pay && ps[j].paid_at <= eff[i].due_at) {
			if (!ps[j].reversed)
				paid += ps[j].amount;
			j++;
		}
		covered = paid - before;
		if (covered < 0)
			covered = 0;
		if (covered > eff[i].amount)
			covered = eff[i].amount;
		before += eff[i].amount;
		if (k < 0)
			continue;
		c->due[k] += eff[i].amount;
		c->on_time[k] += covered;
	}
	for (size_t i = 0; i < n_pay; i++) {
		int k = period_of(p, pay[i].paid_at);

		if (k >= 0 && !pay[i].reversed)
			c->collected[k] += pay[i].amount;
	}
out:
	free(eff);
	free(ps);
	return err;
}

double fl_portfolio_on_time_rate(const struct fl_portfolio_ccy *c, int k)
{
	return c->due[k] > 0 ? (double)c->on_time[k] / (double)c->due[k] : -1;
}

double fl_portfolio_collection_rate(const struct fl_portfolio_ccy *c, int k)
{
	return c->due[k] > 0 ? (double)c->collected[k] / (double)c->due[k] : -1;
}

/* --- trends ----------------------------------------------------------------- */

void fl_portfolio_clear(struct fl_portfolio *p)
{
	for (int k = 0; k < FL_PORTFOLIO_PERIODS; k++) {
		free(p->lat[k]);
		p->lat[k] = NULL;
		p->n_lat[k] = p->cap_lat[k] = 0;
	}
}

/* The period of t for the trends, -1 outside: as period_of, as_of itself
 * in the last period (a change decided at the instant of the report is
 * in the state it reports). */
static int trend_period(const struct fl_portfolio *p, fl_time t)
{
	return t == p->as_of ? FL_PORTFOLIO_PERIODS - 1 : period_of(p, t);
}

void fl_portfolio_add_counts(struct fl_portfolio *p, int bucket,
                             enum fl_dev_state from, enum fl_dev_state to,
                             int64_t n)
{
	p->has_trends = true;
	if (bucket == FL_PORTFOLIO_PERIODS) /* at as_of itself */
		bucket = FL_PORTFOLIO_PERIODS - 1;
	if (bucket < -1 || bucket >= FL_PORTFOLIO_PERIODS)
		return;
	if ((unsigned)from < 5)
		p->delta[bucket + 1][from] -= n;
	if ((unsigned)to < 5)
		p->delta[bucket + 1][to] += n;
}

static fl_err add_latency(struct fl_portfolio *p, int k, int64_t v)
{
	if (p->n_lat[k] == p->cap_lat[k]) {
		size_t cap = p->cap_lat[k] ? p->cap_lat[k] * 2 : 64;
		int64_t *nv = realloc(p->lat[k], cap * sizeof(*nv));

		if (nv == NULL)
			return FL_E_NOMEM;
		p->lat[k] = nv;
		p->cap_lat[k] = cap;
	}
	p->lat[k][p->n_lat[k]++] = v;
	return FL_OK;
}

fl_err fl_portfolio_add_locks(struct fl_portfolio *p,
                              const struct fl_portfolio_change *c, size_t n)
{
	fl_err err;

	p->has_trends = true;
	for (size_t i = 0; i < n; i++) {
		int k = trend_period(p, c[i].at);

		if (k < 0)
			continue;
		if (c[i].into_lock) {
			const struct fl_portfolio_change *next =
			        i + 1 < n ? &c[i + 1] : NULL;

			if (!c[i].for_money ||
			    p->as_of - c[i].at < FL_PORTFOLIO_CURE)
				continue;
			p->trend[k].locks++;
			if (next != NULL && !next->into_lock &&
			    next->by_payment &&
			    next->at - c[i].at <= FL_PORTFOLIO_CURE)
				p->trend[k].cured++;
			continue;
		}
		if (!c[i].by_payment)
			continue;
		p->trend[k].paid_unlocks++;
		if (c[i].confirmed_at == 0 || c[i].paid_at == 0)
			continue;
		p->trend[k].confirmed++;
		err = add_latency(p, k,
		                  c[i].confirmed_at > c[i].paid_at
		                          ? c[i].confirmed_at - c[i].paid_at
		                          : 0);
		if (err != FL_OK)
			return err;
	}
	return FL_OK;
}

static int by_value(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

void fl_portfolio_trends_done(struct fl_portfolio *p)
{
	int64_t n[5] = {0};

	for (int s = 0; s < 5; s++)
		n[s] = p->delta[0][s];
	for (int k = 0; k < FL_PORTFOLIO_PERIODS; k++) {
		struct fl_portfolio_trend *t = &p->trend[k];

		for (int s = 0; s < 5; s++)
			n[s] += p->delta[k + 1][s];
		t->locked = n[FL_ST_LOCKED];
		t->in_service =
		        n[FL_ST_ACTIVE] + n[FL_ST_REMINDING] + n[FL_ST_LOCKED];
		t->latency_p95 = -1;
		if (p->n_lat[k] > 0) {
			/* nearest rank: the smallest value with at least 95%
			 * of the values at or below it */
			size_t rank = (p->n_lat[k] * 95 + 99) / 100;

			qsort(p->lat[k], p->n_lat[k], sizeof(int64_t),
			      by_value);
			t->latency_p95 = p->lat[k][rank - 1];
		}
	}
}

double fl_portfolio_trend_lock_rate(const struct fl_portfolio *p, int k)
{
	const struct fl_portfolio_trend *t = &p->trend[k];

	return t->in_service > 0 ? (double)t->locked / (double)t->in_service
	                         : -1;
}

double fl_portfolio_trend_cure_rate(const struct fl_portfolio *p, int k)
{
	const struct fl_portfolio_trend *t = &p->trend[k];

	return t->locks > 0 ? (double)t->cured / (double)t->locks : -1;
}
