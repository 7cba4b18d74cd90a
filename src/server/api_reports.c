/*
 * api_reports.c - GET /v1/reports/portfolio: the tenant's portfolio
 * figures (core/portfolio.h) as JSON, or as CSV with ?format=csv.
 *
 * One read transaction: the devices' counts and sums by (currency, state,
 * stolen) in one pass over an index that holds them
 * (fl_store_portfolio_groups), then the loans with an amount due with the
 * due date of their first installment not fully paid
 * (fl_store_portfolio_late; a rescheduled one has its effective schedule
 * read). With ?history=true, every loan's schedule, reschedules and
 * payments for the collections (fl_store_portfolio_loans: a page of
 * contracts a statement), and the history of decided states for the
 * trends.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/portfolio.h"
#include "server/app.h"
#include "server/auth.h"
#include "server/jsonio.h"
#include "server/route.h"
#include "store/store.h"

struct scan {
	struct fl_portfolio *p;
	/* loans with an amount due and reschedules: their first unpaid
	 * installment comes from the effective schedule */
	struct fl_pf_late *resched;
	size_t n_resched, cap_resched;
};

static fl_err add_group(void *ctx, const struct fl_pf_group *g)
{
	struct scan *s = ctx;

	return fl_portfolio_add_group(s->p, g->currency, g->state, g->stolen,
	                              g->n, g->amount_remaining,
	                              g->amount_due);
}

static fl_err add_late_one(void *ctx, const struct fl_pf_late *l)
{
	struct scan *s = ctx;

	if (!l->rescheduled)
		return fl_portfolio_add_late(s->p, l->currency,
		                             l->amount_remaining,
		                             l->first_unpaid);
	if (s->n_resched == s->cap_resched) {
		size_t cap = s->cap_resched ? s->cap_resched * 2 : 64;
		struct fl_pf_late *nl =
		        realloc(s->resched, cap * sizeof(*nl));

		if (nl == NULL)
			return FL_E_NOMEM;
		s->resched = nl;
		s->cap_resched = cap;
	}
	s->resched[s->n_resched++] = *l;
	return FL_OK;
}

/* The rescheduled loans with an amount due, each once its effective
 * schedule says when its first unpaid installment was due. */
static fl_err add_rescheduled(struct fl_req *req, struct fl_tx *tx,
                              struct scan *s)
{
	struct fl_device_inputs in;
	fl_err err = FL_OK;

	for (size_t i = 0; i < s->n_resched && err == FL_OK; i++) {
		const struct fl_pf_late *x = &s->resched[i];
		fl_time first;

		err = fl_store_device_inputs(tx, req->who.tenant_id,
		                             x->device_id, &in);
		if (err != FL_OK)
			break;
		first = fl_portfolio_first_unpaid(
		        in.contract.schedule, in.contract.n_schedule,
		        in.reschedules, in.n_reschedules, x->paid_through);
		fl_device_inputs_clear(&in);
		err = fl_portfolio_add_late(s->p, x->currency,
		                            x->amount_remaining, first);
	}
	return err;
}

static fl_err history_one(void *ctx, const struct fl_pf_loan *l)
{
	const struct fl_device_inputs *in = l->in;

	return fl_portfolio_add_history(
	        ctx, l->currency, in->contract.schedule,
	        in->contract.n_schedule, in->reschedules, in->n_reschedules,
	        in->payments, in->n_payments);
}

/* One device's changes into and out of locked, read in a row. */
struct locks {
	struct fl_portfolio *p;
	char device_id[FL_ID_MAX];
	struct fl_portfolio_change *c;
	size_t n, cap;
};

static fl_err locks_flush(struct locks *l)
{
	fl_err err = fl_portfolio_add_locks(l->p, l->c, l->n);

	l->n = 0;
	return err;
}

static fl_err locks_one(void *ctx, const struct fl_state_change *c)
{
	struct locks *l = ctx;
	struct fl_portfolio_change *x;
	fl_err err;

	if (strcmp(l->device_id, c->device_id) != 0) {
		if ((err = locks_flush(l)) != FL_OK)
			return err;
		snprintf(l->device_id, sizeof(l->device_id), "%s",
		         c->device_id);
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct fl_portfolio_change *nc =
		        realloc(l->c, cap * sizeof(*nc));

		if (nc == NULL)
			return FL_E_NOMEM;
		l->c = nc;
		l->cap = cap;
	}
	x = &l->c[l->n++];
	memset(x, 0, sizeof(*x));
	x->at = c->at;
	x->into_lock = c->to == FL_ST_LOCKED;
	x->for_money = strcmp(c->cause, "overdue") == 0 ||
	               strcmp(c->cause, "manual") == 0 ||
	               strcmp(c->cause, "scheduled") == 0;
	x->by_payment = strcmp(c->cause, "payment") == 0;
	x->paid_at = c->paid_at;
	x->confirmed_at = c->confirmed_at;
	return FL_OK;
}

static fl_err count_one(void *ctx, int bucket, enum fl_dev_state from,
                        enum fl_dev_state to, int64_t n)
{
	fl_portfolio_add_counts(ctx, bucket, from, to, n);
	return FL_OK;
}

/* The trends of p (lock rate, cure rate, payment-to-unlock latency) from
 * the tenant's history of decided states: one aggregate of every change,
 * and the changes into and out of locked of the last periods. */
static fl_err add_trends(struct fl_req *req, struct fl_tx *tx,
                         struct fl_portfolio *p)
{
	struct locks l = {.p = p};
	fl_time start = fl_portfolio_period_start(p, 0);
	fl_err err;

	/* as_of included: the last period holds what was decided then */
	err = fl_store_state_change_counts(tx, req->who.tenant_id, start,
	                                   FL_PORTFOLIO_PERIOD, p->as_of + 1,
	                                   count_one, p);
	if (err == FL_OK)
		err = fl_store_state_change_locks(tx, req->who.tenant_id, start,
		                                  p->as_of + 1, locks_one, &l);
	if (err == FL_OK)
		err = locks_flush(&l);
	free(l.c);
	if (err == FL_OK)
		fl_portfolio_trends_done(p);
	return err;
}

/* Fills p with the tenant's portfolio as of now (and its collections and
 * trends over the last FL_PORTFOLIO_PERIODS periods with history). */
static fl_err build(struct fl_req *req, struct fl_portfolio *p, bool history)
{
	struct scan s = {.p = p};
	struct fl_tx *tx = NULL;
	fl_err err;

	fl_portfolio_init(p, req->now);
	if ((err = fl_store_begin(req->app->store, false, &tx)) != FL_OK)
		return err;
	err = fl_store_portfolio_groups(tx, req->who.tenant_id, add_group, &s);
	if (err == FL_OK)
		err = fl_store_portfolio_late(tx, req->who.tenant_id,
		                              add_late_one, &s);
	if (err == FL_OK)
		err = add_rescheduled(req, tx, &s);
	if (err == FL_OK && history)
		err = fl_store_portfolio_loans(tx, req->who.tenant_id,
		                               history_one, p);
	if (err == FL_OK && history)
		err = add_trends(req, tx, p);
	fl_tx_rollback(tx);
	free(s.resched);
	return err;
}

static json_t *ratio(double r)
{
	return r < 0 ? json_null() : json_real((double)(int64_t)(r * 1e6) / 1e6);
}

/* The collections of c, oldest period first. */
static json_t *collections_json(const struct fl_portfolio *p,
                                const struct fl_portfolio_ccy *c)
{
	json_t *a = json_array();

	for (int k = 0; a != NULL && k < FL_PORTFOLIO_PERIODS; k++) {
		fl_time to = k + 1 < FL_PORTFOLIO_PERIODS
		                     ? fl_portfolio_period_start(p, k + 1)
		                     : p->as_of;

		json_array_append_new(
		        a,
		        json_pack("{s:o,s:o,s:I,s:I,s:I,s:o,s:o}", "from",
		                  fl_json_time(fl_portfolio_period_start(p, k)),
		                  "to", fl_json_time(to), "due",
		                  (json_int_t)c->due[k], "on_time",
		                  (json_int_t)c->on_time[k], "collected",
		                  (json_int_t)c->collected[k], "on_time_rate",
		                  ratio(fl_portfolio_on_time_rate(c, k)),
		                  "collection_rate",
		                  ratio(fl_portfolio_collection_rate(c, k))));
	}
	return a;
}

static json_t *seconds(int64_t v)
{
	return v < 0 ? json_null() : json_integer(v);
}

/* The trends, oldest period first. */
static json_t *trends_json(const struct fl_portfolio *p)
{
	json_t *a = json_array();

	for (int k = 0; a != NULL && k < FL_PORTFOLIO_PERIODS; k++) {
		const struct fl_portfolio_trend *t = &p->trend[k];
		fl_time to = k + 1 < FL_PORTFOLIO_PERIODS
		                     ? fl_portfolio_period_start(p, k + 1)
		                     : p->as_of;

		json_array_append_new(
		        a,
		        json_pack("{s:o,s:o,s:I,s:I,s:o,s:I,s:I,s:o,s:I,s:I,s:o}",
		                  "from",
		                  fl_json_time(fl_portfolio_period_start(p, k)),
		                  "to", fl_json_time(to), "in_service",
		                  (json_int_t)t->in_service, "locked",
		                  (json_int_t)t->locked, "lock_rate",
		                  ratio(fl_portfolio_trend_lock_rate(p, k)),
		                  "locks", (json_int_t)t->locks, "cured",
		                  (json_int_t)t->cured, "cure_rate",
		                  ratio(fl_portfolio_trend_cure_rate(p, k)),
		                  "paid_unlocks", (json_int_t)t->paid_unlocks,
		                  "confirmed_unlocks", (json_int_t)t->confirmed,
		                  "unlock_latency_p95",
		                  seconds(t->latency_p95)));
	}
	return a;
}

static json_t *report_json(const struct fl_portfolio *p, bool history)
{
	json_t *by_state = json_object(), *ccys = json_array(), *j;

	for (int s = 0; s < 5; s++)
		json_object_set_new(by_state,
		                    fl_state_name((enum fl_dev_state)s),
		                    json_integer(p->by_state[s]));
	for (size_t i = 0; i < p->n_ccy; i++) {
		const struct fl_portfolio_ccy *c = &p->ccy[i];

		j = json_pack("{s:s,s:I,s:I,s:I,s:I}", "currency", c->currency,
		              "loans", (json_int_t)c->loans, "outstanding",
		              (json_int_t)c->outstanding, "due_now",
		              (json_int_t)c->due_now, "loans_overdue",
		              (json_int_t)c->loans_overdue);
		for (int k = 0; j != NULL && k < FL_PORTFOLIO_PARS; k++) {
			char name[32];
			int d = fl_portfolio_par_days[k];

			snprintf(name, sizeof(name), "par%d", d);
			json_object_set_new(j, name,
			                    ratio(fl_portfolio_par(c, k)));
			snprintf(name, sizeof(name), "par%d_amount", d);
			json_object_set_new(j, name,
			                    json_integer(c->at_risk[k]));
			snprintf(name, sizeof(name), "par%d_loans", d);
			json_object_set_new(j, name,
			                    json_integer(c->loans_at_risk[k]));
		}
		if (j != NULL && history) {
			int last = FL_PORTFOLIO_PERIODS - 1;

			json_object_set_new(
			        j, "on_time_rate",
			        ratio(fl_portfolio_on_time_rate(c, last)));
			json_object_set_new(
			        j, "collection_rate",
			        ratio(fl_portfolio_collection_rate(c, last)));
			json_object_set_new(j, "collections",
			                    collections_json(p, c));
		}
		json_array_append_new(ccys, j);
	}
	j = json_pack("{s:o,s:I,s:o,s:I,s:o,s:o}", "as_of",
	              fl_json_time(p->as_of), "devices",
	              (json_int_t)p->devices, "by_state", by_state, "stolen",
	              (json_int_t)p->stolen, "lock_rate",
	              ratio(fl_portfolio_lock_rate(p)), "currencies", ccys);
	/* With one currency, its PAR figures are the portfolio's. */
	for (int k = 0; j != NULL && k < FL_PORTFOLIO_PARS; k++) {
		char name[16];

		snprintf(name, sizeof(name), "par%d", fl_portfolio_par_days[k]);
		json_object_set_new(j, name,
		                    p->n_ccy == 1
		                            ? ratio(fl_portfolio_par(&p->ccy[0],
		                                                     k))
		                            : json_null());
	}
	if (j != NULL && history) {
		int last = FL_PORTFOLIO_PERIODS - 1;

		json_object_set_new(j, "on_time_rate",
		                    p->n_ccy == 1
		                            ? ratio(fl_portfolio_on_time_rate(
		                                      &p->ccy[0], last))
		                            : json_null());
		json_object_set_new(
		        j, "collection_rate",
		        p->n_ccy == 1 ? ratio(fl_portfolio_collection_rate(
		                                &p->ccy[0], last))
		                      : json_null());
		json_object_set_new(j, "cure_rate",
		                    ratio(fl_portfolio_trend_cure_rate(p, last)));
		json_object_set_new(j, "unlock_latency_p95",
		                    seconds(p->trend[last].latency_p95));
		json_object_set_new(j, "trends", trends_json(p));
	}
	return j;
}

static char *report_csv(const struct fl_portfolio *p, size_t *len)
{
	size_t cap = 256 + p->n_ccy * 256, used;
	char *out = malloc(cap);

	if (out == NULL)
		return NULL;
	used = (size_t)snprintf(out, cap,
	                        "currency,loans,outstanding,due_now,"
	                        "loans_overdue,par1,par7,par30,par1_amount,"
	                        "par7_amount,par30_amount\r\n");
	for (size_t i = 0; i < p->n_ccy; i++) {
		const struct fl_portfolio_ccy *c = &p->ccy[i];

		used += (size_t)snprintf(
		        out + used, cap - used,
		        "%s,%lld,%lld,%lld,%lld,%.6f,%.6f,%.6f,%lld,%lld,%lld\r\n",
		        c->currency, (long long)c->loans,
		        (long long)c->outstanding, (long long)c->due_now,
		        (long long)c->loans_overdue, fl_portfolio_par(c, 0),
		        fl_portfolio_par(c, 1), fl_portfolio_par(c, 2),
		        (long long)c->at_risk[0], (long long)c->at_risk[1],
		        (long long)c->at_risk[2]);
	}
	*len = used;
	return out;
}

/* With ?history=true, the CSV is the collections: one line per currency
 * and period. */
static char *history_csv(const struct fl_portfolio *p, size_t *len)
{
	size_t cap = 160 + p->n_ccy * FL_PORTFOLIO_PERIODS * 240, used;
	char *out = malloc(cap);

	if (out == NULL)
		return NULL;
	used = (size_t)snprintf(out, cap,
	                        "currency,from,to,due,on_time,collected,"
	                        "on_time_rate,collection_rate,lock_rate,"
	                        "cure_rate,unlock_latency_p95\r\n");
	for (size_t i = 0; i < p->n_ccy; i++) {
		const struct fl_portfolio_ccy *c = &p->ccy[i];

		for (int k = 0; k < FL_PORTFOLIO_PERIODS; k++) {
			char from[FL_TIME_STR_LEN], to[FL_TIME_STR_LEN];
			char ot[16] = "", cr[16] = "", lr[16] = "", cu[16] = "";
			char lat[24] = "";
			double a = fl_portfolio_on_time_rate(c, k);
			double b = fl_portfolio_collection_rate(c, k);
			double x = fl_portfolio_trend_lock_rate(p, k);
			double y = fl_portfolio_trend_cure_rate(p, k);

			fl_time_format(fl_portfolio_period_start(p, k), from);
			fl_time_format(
			        k + 1 < FL_PORTFOLIO_PERIODS
			                ? fl_portfolio_period_start(p, k + 1)
			                : p->as_of,
			        to);
			if (a >= 0)
				snprintf(ot, sizeof(ot), "%.6f", a);
			if (b >= 0)
				snprintf(cr, sizeof(cr), "%.6f", b);
			if (x >= 0)
				snprintf(lr, sizeof(lr), "%.6f", x);
			if (y >= 0)
				snprintf(cu, sizeof(cu), "%.6f", y);
			if (p->trend[k].latency_p95 >= 0)
				snprintf(lat, sizeof(lat), "%lld",
				         (long long)p->trend[k].latency_p95);
			used += (size_t)snprintf(
			        out + used, cap - used,
			        "%s,%s,%s,%lld,%lld,%lld,%s,%s,%s,%s,%s\r\n",
			        c->currency, from, to, (long long)c->due[k],
			        (long long)c->on_time[k],
			        (long long)c->collected[k], ot, cr, lr, cu, lat);
		}
	}
	*len = used;
	return out;
}

static void portfolio(struct fl_req *req)
{
	static const char *const q[] = {"format", "history", NULL};
	const char *format = fl_req_query(req, "format");
	const char *hist = fl_req_query(req, "history");
	bool history = hist != NULL && strcmp(hist, "true") == 0;
	struct fl_portfolio *p;
	fl_err err;

	if (fl_req_query_only(req, q) != FL_OK)
		return;
	if (hist != NULL && !history && strcmp(hist, "false") != 0) {
		fl_reply_error(req, FL_E_INVALID,
		               "history must be true or false");
		return;
	}
	if (format != NULL && strcmp(format, "json") != 0 &&
	    strcmp(format, "csv") != 0) {
		fl_reply_error(req, FL_E_INVALID, "format must be json or csv");
		return;
	}
	p = malloc(sizeof(*p));
	if (p == NULL) {
		fl_reply_error(req, FL_E_NOMEM, NULL);
		return;
	}
	err = build(req, p, history);
	if (err == FL_E_LIMIT)
		fl_reply_error(req, err,
		               "the portfolio has more than %d currencies",
		               FL_PORTFOLIO_CURRENCIES);
	else if (err != FL_OK)
		fl_reply_error(req, err, NULL);
	else if (format != NULL && strcmp(format, "csv") == 0) {
		size_t len = 0;
		char *csv =
		        history ? history_csv(p, &len) : report_csv(p, &len);

		if (csv == NULL)
			fl_reply_error(req, FL_E_NOMEM, NULL);
		else
			fl_reply_raw(req, 200, "text/csv; charset=utf-8", csv,
			             len);
	} else {
		fl_reply_json(req, 200, report_json(p, history));
	}
	fl_portfolio_clear(p);
	free(p);
}

static const struct fl_route routes[] = {
        {"GET", "/v1/reports/portfolio", portfolio, FL_ROLES_READ},
};

const struct fl_route_table fl_routes_reports = FL_ROUTE_TABLE(routes);
