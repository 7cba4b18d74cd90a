/*
 * api_reports.c - GET /v1/reports/portfolio: the tenant's portfolio
 * figures (core/portfolio.h) as JSON, or as CSV with ?format=csv.
 *
 * One read transaction: the tenant's contracts (for each loan's currency)
 * into an array, then every device once, in pages, reading only the
 * columns the figures need (fl_device_filter.lean); a loan with an
 * amount due also has its schedule read, for the due date of its first
 * installment not fully paid.
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

#define PAGE 1000 /* devices or contracts read per store call */

struct loan_ccy {
	char device_id[FL_ID_MAX];
	char currency[4];
};

/* A loan with an amount due, waiting for its first unpaid due date. */
struct late {
	char device_id[FL_ID_MAX];
	struct fl_portfolio_loan l;
	fl_time paid_through;
};

/* A loan whose collections the history reads (every loan, released ones
 * too, when ?history=true). */
struct hist {
	char device_id[FL_ID_MAX];
	const char *currency; /* into scan.loans or scan.sorted */
};

struct scan {
	bool history; /* collect `hist` */
	struct hist *hist;
	size_t n_hist, cap_hist;
	struct loan_ccy *loans; /* in contract order */
	size_t n, cap;
	size_t hint;             /* the contract the next device likely has */
	struct loan_ccy *sorted; /* loans by device id, made at the first
	                            device out of contract order; owned */
	struct late *late;
	size_t n_late, cap_late;
	int64_t last;
	int got;
	struct fl_portfolio *p;
	fl_err err;
};

static fl_err add_contract(void *ctx, const struct fl_contract_rec *c)
{
	struct scan *s = ctx;

	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		struct loan_ccy *nl = realloc(s->loans, cap * sizeof(*nl));

		if (nl == NULL)
			return FL_E_NOMEM;
		s->loans = nl;
		s->cap = cap;
	}
	memcpy(s->loans[s->n].device_id, c->device_id, FL_ID_MAX);
	s->loans[s->n].device_id[FL_ID_MAX - 1] = '\0';
	memcpy(s->loans[s->n].currency, c->currency, 3);
	s->loans[s->n].currency[3] = '\0';
	s->n++;
	s->last = c->ord;
	s->got++;
	return FL_OK;
}

static int by_device(const void *a, const void *b)
{
	return strcmp(((const struct loan_ccy *)a)->device_id,
	              ((const struct loan_ccy *)b)->device_id);
}

/* The currency of device id's contract, NULL when it has none. Devices
 * and contracts are both read in the order they were made, which is
 * nearly always the same: the next contract is tried first, and a sorted
 * copy searched only for the devices out of that order. */
static const char *loan_currency(struct scan *s, const char *id, fl_err *err)
{
	struct loan_ccy key;
	const struct loan_ccy *c;

	*err = FL_OK;
	if (s->hint < s->n && strcmp(s->loans[s->hint].device_id, id) == 0)
		return s->loans[s->hint++].currency;
	if (s->n == 0)
		return NULL;
	if (s->sorted == NULL) {
		s->sorted = malloc(s->n * sizeof(*s->sorted));
		if (s->sorted == NULL) {
			*err = FL_E_NOMEM;
			return NULL;
		}
		memcpy(s->sorted, s->loans, s->n * sizeof(*s->sorted));
		qsort(s->sorted, s->n, sizeof(*s->sorted), by_device);
	}
	snprintf(key.device_id, sizeof(key.device_id), "%s", id);
	c = bsearch(&key, s->sorted, s->n, sizeof(key), by_device);
	return c != NULL ? c->currency : NULL;
}

static fl_err add_device(void *ctx, const struct fl_device *d)
{
	struct scan *s = ctx;
	fl_err err;
	struct fl_portfolio_loan l = {
	        .state = d->st.state,
	        .stolen = d->st.stolen,
	        .amount_due = d->st.amount_due,
	        .amount_remaining = d->st.amount_remaining,
	};

	l.currency = loan_currency(s, d->id, &err);
	if (err != FL_OK)
		return err;
	if (s->history && l.currency != NULL) {
		if (s->n_hist == s->cap_hist) {
			size_t cap = s->cap_hist ? s->cap_hist * 2 : 256;
			struct hist *nh = realloc(s->hist, cap * sizeof(*nh));

			if (nh == NULL)
				return FL_E_NOMEM;
			s->hist = nh;
			s->cap_hist = cap;
		}
		snprintf(s->hist[s->n_hist].device_id, FL_ID_MAX, "%s", d->id);
		s->hist[s->n_hist++].currency = l.currency;
	}
	s->last = d->ord;
	s->got++;
	if (l.currency == NULL || l.amount_due <= 0 ||
	    l.state == FL_ST_RELEASED)
		return fl_portfolio_add(s->p, &l);
	if (s->n_late == s->cap_late) {
		size_t cap = s->cap_late ? s->cap_late * 2 : 64;
		struct late *nl = realloc(s->late, cap * sizeof(*nl));

		if (nl == NULL)
			return FL_E_NOMEM;
		s->late = nl;
		s->cap_late = cap;
	}
	struct late *x = &s->late[s->n_late++];

	snprintf(x->device_id, sizeof(x->device_id), "%s", d->id);
	x->l = l;
	x->paid_through = d->st.paid_through;
	return FL_OK;
}

/* Counts the loans with an amount due, each once its schedule says when
 * its first unpaid installment was due. */
static fl_err add_late(struct fl_req *req, struct fl_tx *tx, struct scan *s)
{
	struct fl_device_inputs in;
	fl_err err = FL_OK;

	for (size_t i = 0; i < s->n_late && err == FL_OK; i++) {
		struct late *x = &s->late[i];
		/* the loan's currency still points into s->loans or s->sorted
		 */
		err = fl_store_device_inputs(tx, req->who.tenant_id,
		                             x->device_id, &in);
		if (err != FL_OK)
			break;
		x->l.first_unpaid = fl_portfolio_first_unpaid(
		        in.contract.schedule, in.contract.n_schedule,
		        in.reschedules, in.n_reschedules, x->paid_through);
		fl_device_inputs_clear(&in);
		err = fl_portfolio_add(s->p, &x->l);
	}
	return err;
}

/* Adds every loan's collections to p's history: one read of its
 * schedule, reschedules and payments each. */
static fl_err add_history(struct fl_req *req, struct fl_tx *tx, struct scan *s)
{
	struct fl_device_inputs in;
	fl_err err = FL_OK;

	for (size_t i = 0; i < s->n_hist && err == FL_OK; i++) {
		err = fl_store_device_inputs(tx, req->who.tenant_id,
		                             s->hist[i].device_id, &in);
		if (err != FL_OK)
			break;
		err = fl_portfolio_add_history(
		        s->p, s->hist[i].currency, in.contract.schedule,
		        in.contract.n_schedule, in.reschedules,
		        in.n_reschedules, in.payments, in.n_payments);
		fl_device_inputs_clear(&in);
	}
	return err;
}

/* Fills p with the tenant's portfolio as of now (and its collections over
 * the last FL_PORTFOLIO_PERIODS periods with history). */
static fl_err build(struct fl_req *req, struct fl_portfolio *p, bool history)
{
	struct fl_device_filter f = {.any_state = true, .lean = true};
	struct scan s = {.p = p, .history = history};
	struct fl_tx *tx = NULL;
	fl_err err;

	fl_portfolio_init(p, req->now);
	if ((err = fl_store_begin(req->app->store, false, &tx)) != FL_OK)
		return err;
	do {
		s.got = 0;
		err = fl_store_contract_list(tx, req->who.tenant_id, s.last,
		                             PAGE, add_contract, &s);
	} while (err == FL_OK && s.got == PAGE);
	s.last = 0;
	while (err == FL_OK) {
		s.got = 0;
		err = fl_store_device_list(tx, req->who.tenant_id, &f, s.last,
		                           PAGE, add_device, &s);
		if (s.got < PAGE)
			break;
	}
	if (err == FL_OK)
		err = add_late(req, tx, &s);
	if (err == FL_OK && history)
		err = add_history(req, tx, &s);
	fl_tx_rollback(tx);
	free(s.hist);
	free(s.loans);
	free(s.sorted);
	free(s.late);
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
	size_t cap = 128 + p->n_ccy * FL_PORTFOLIO_PERIODS * 160, used;
	char *out = malloc(cap);

	if (out == NULL)
		return NULL;
	used = (size_t)snprintf(out, cap,
	                        "currency,from,to,due,on_time,collected,"
	                        "on_time_rate,collection_rate\r\n");
	for (size_t i = 0; i < p->n_ccy; i++) {
		const struct fl_portfolio_ccy *c = &p->ccy[i];

		for (int k = 0; k < FL_PORTFOLIO_PERIODS; k++) {
			char from[FL_TIME_STR_LEN], to[FL_TIME_STR_LEN];
			char ot[16] = "", cr[16] = "";
			double a = fl_portfolio_on_time_rate(c, k);
			double b = fl_portfolio_collection_rate(c, k);

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
			used += (size_t)snprintf(
			        out + used, cap - used,
			        "%s,%s,%s,%lld,%lld,%lld,%s,%s\r\n",
			        c->currency, from, to, (long long)c->due[k],
			        (long long)c->on_time[k],
			        (long long)c->collected[k], ot, cr);
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
	free(p);
}

static const struct fl_route routes[] = {
        {"GET", "/v1/reports/portfolio", portfolio, FL_ROLES_READ},
};

const struct fl_route_table fl_routes_reports = FL_ROUTE_TABLE(routes);
