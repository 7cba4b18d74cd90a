/*
 * Integration tests for GET /v1/reports/portfolio against a real
 * finlockd: PAR1, PAR7 and PAR30 of loans late by 3, 10 and 40 days and
 * one on time, with the whole balance of each late loan at risk; devices
 * by state and the lock rate; another tenant's loans never counted; the
 * CSV form; the roles that may read it; `finlock reports portfolio`; the
 * trends (lock rate, cure rate, payment-to-unlock latency p95) of phones
 * locked, paid and confirmed on a test clock, in JSON, CSV and the CLI.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "core/fltime.h"
#include "finlock/agent.h"
#include "support/devapi_phone.h"
#include "support/cli_run.h"
#include "support/server_harness.h"

/* Registers a phone (IMEI from its 14 first digits) with a contract of
 * installments due at now + offsets[i] seconds, amounts[i] each. */
static void loan(struct srv *s, const char *key, const char *imei,
                 const char *ccy, const long *offsets, const long *amounts,
                 int n)
{
	char body[1024], path[128], at[FL_TIME_STR_LEN];
	struct srv_res r;
	size_t used;

	snprintf(body, sizeof(body), "{\"imei\":\"%s\",\"serial\":\"S%s\"}",
	         imei, imei);
	assert_int_equal(srv_req(s, "POST", "/v1/devices", key, body, &r), 0);
	assert_int_equal(r.status, 201);
	snprintf(path, sizeof(path), "/v1/devices/%s/contract",
	         json_string_value(json_object_get(
	                 json_object_get(r.json, "device"), "id")));
	srv_res_free(&r);
	used = (size_t)snprintf(body, sizeof(body),
	                        "{\"currency\":\"%s\",\"allow_overdue\":true,"
	                        "\"schedule\":[",
	                        ccy);
	for (int i = 0; i < n; i++) {
		fl_time_format((fl_time)time(NULL) + offsets[i], at);
		used += (size_t)snprintf(body + used, sizeof(body) - used,
		                         "%s{\"due\":\"%s\",\"amount\":%ld}",
		                         i ? "," : "", at, amounts[i]);
	}
	snprintf(body + used, sizeof(body) - used, "]}");
	assert_int_equal(srv_req(s, "POST", path, key, body, &r), 0);
	assert_int_equal(r.status, 201);
	srv_res_free(&r);
}

static double num(json_t *o, const char *name)
{
	json_t *v = json_object_get(o, name);

	assert_true(json_is_number(v));
	return json_number_value(v);
}

static void test_portfolio(void **state)
{
	char t1[64], k1[64], t2[64], k2[64], t3[64], k3[64], clerk[64],
	        auditor[64];
	const long d = 86400, year = 365 * 86400;
	struct srv_res r;
	struct srv *s;

	(void)state;
	assert_int_equal(srv_start(&s, NULL), 0);
	assert_int_equal(srv_tenant(s, "Acme", t1, k1), 0);
	assert_int_equal(srv_tenant(s, "Other", t2, k2), 0);
	assert_int_equal(srv_tenant(s, "Empty", t3, k3), 0);
	/* a lender with nothing yet */
	assert_int_equal(
	        srv_req(s, "GET", "/v1/reports/portfolio", k3, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(srv_jint(&r, "devices"), 0);
	assert_int_equal(json_array_size(json_object_get(r.json, "currencies")),
	                 0);
	assert_true(json_is_null(json_object_get(r.json, "par1")));
	srv_res_free(&r);
	assert_int_equal(srv_key(s, k1, "clerk", clerk), 0);
	assert_int_equal(srv_key(s, k1, "auditor", auditor), 0);
	loan(s, k1, "352099001761481", "KES", (long[]){-3 * d - 3600, year},
	     (long[]){1000, 1000}, 2);
	loan(s, k1, "490154203237518", "KES", (long[]){-10 * d, year},
	     (long[]){500, 500}, 2);
	loan(s, k1, "356938035643809", "KES", (long[]){-40 * d}, (long[]){300},
	     1);
	loan(s, k1, "353918050812375", "KES", (long[]){year}, (long[]){700}, 1);
	/* the other tenant's loan, far overdue: never in Acme's figures */
	loan(s, k2, "357805023984942", "KES", (long[]){-90 * d},
	     (long[]){99999}, 1);

	assert_int_equal(
	        srv_req(s, "GET", "/v1/reports/portfolio", auditor, NULL, &r),
	        0);
	assert_int_equal(r.status, 200);
	assert_int_equal(srv_jint(&r, "devices"), 4);
	json_t *c = json_array_get(json_object_get(r.json, "currencies"), 0);
	assert_non_null(c);
	assert_string_equal(json_string_value(json_object_get(c, "currency")),
	                    "KES");
	assert_int_equal(json_integer_value(json_object_get(c, "outstanding")),
	                 4000);
	assert_int_equal(json_integer_value(json_object_get(c, "due_now")),
	                 1800);
	assert_int_equal(
	        json_integer_value(json_object_get(c, "par7_amount")), 1300);
	assert_true(num(c, "par1") > 0.8249 && num(c, "par1") < 0.8251);
	assert_true(num(c, "par7") > 0.3249 && num(c, "par7") < 0.3251);
	assert_true(num(c, "par30") > 0.0749 && num(c, "par30") < 0.0751);
	/* one currency: its figures are the portfolio's */
	assert_true(num(r.json, "par30") > 0.0749 &&
	            num(r.json, "par30") < 0.0751);
	assert_int_equal(json_integer_value(json_object_get(
	                         json_object_get(r.json, "by_state"),
	                         "pending")),
	                 4);
	assert_true(json_is_null(json_object_get(r.json, "lock_rate")));
	srv_res_free(&r);

	assert_int_equal(srv_req(s, "GET", "/v1/reports/portfolio?format=csv",
	                         k1, NULL, &r),
	                 0);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(srv_res_header(&r, "Content-Type"), "text/csv"));
	assert_non_null(strstr(r.body, "currency,loans,outstanding,"));
	assert_non_null(strstr(r.body, "\r\nKES,4,4000,1800,3,0.825000,"
	                               "0.325000,0.075000,3300,1300,300\r\n"));
	srv_res_free(&r);

	assert_int_equal(srv_req(s, "GET", "/v1/reports/portfolio?format=xml",
	                         k1, NULL, &r),
	                 0);
	assert_int_equal(r.status, 400);
	srv_res_free(&r);
	/* the CLI: words, and the same CSV */
	struct proc_result pr;

	cli_isolate();
	cli_env(srv_url(s), auditor);
	assert_int_equal(cli_run(&pr, NULL, "reports", "portfolio", NULL), 0);
	assert_non_null(strstr(pr.out, "PAR1 82.50% (3300), PAR7 32.50% "
	                                "(1300), PAR30 7.50% (300)"));
	assert_non_null(strstr(pr.out, "pending 4"));
	proc_result_free(&pr);
	assert_int_equal(
	        cli_run(&pr, NULL, "reports", "portfolio", "--csv", NULL), 0);
	assert_non_null(strstr(pr.out, "KES,4,4000,1800,3,0.825000,"));
	proc_result_free(&pr);
	cli_env(srv_url(s), clerk);
	assert_int_not_equal(
	        cli_run(&pr, NULL, "reports", "portfolio", NULL), 0);
	assert_non_null(strstr(pr.err, "403"));
	proc_result_free(&pr);

	assert_int_equal(
	        srv_req(s, "GET", "/v1/reports/portfolio", clerk, NULL, &r), 0);
	assert_int_equal(r.status, 403);
	srv_res_free(&r);
	assert_int_equal(srv_req(s, "GET", "/v1/reports/portfolio",
	                         srv_operator_key(s), NULL, &r),
	                 0);
	assert_int_equal(r.status, 403);
	srv_res_free(&r);
	srv_free(s);
}

/* Registers a phone without a contract; its id into id[64]. */
static void phone(struct srv *s, const char *key, const char *imei, char id[64])
{
	char body[256];
	struct srv_res r;

	snprintf(body, sizeof(body), "{\"imei\":\"%s\",\"serial\":\"S%s\"}",
	         imei, imei);
	assert_int_equal(srv_req(s, "POST", "/v1/devices", key, body, &r), 0);
	assert_int_equal(r.status, 201);
	snprintf(id, 64, "%s",
	         json_string_value(json_object_get(
	                 json_object_get(r.json, "device"), "id")));
	srv_res_free(&r);
}

static void contract(struct srv *s, const char *key, const char *id,
                     const char *ccy, long amount)
{
	char body[256], path[128], at[FL_TIME_STR_LEN];
	struct srv_res r;

	fl_time_format((fl_time)time(NULL) + 30 * 86400, at);
	snprintf(path, sizeof(path), "/v1/devices/%s/contract", id);
	snprintf(body, sizeof(body),
	         "{\"currency\":\"%s\",\"schedule\":[{\"due\":\"%s\","
	         "\"amount\":%ld}]}",
	         ccy, at, amount);
	assert_int_equal(srv_req(s, "POST", path, key, body, &r), 0);
	assert_int_equal(r.status, 201);
	srv_res_free(&r);
}

/* Contracts given in another order than their phones were registered
 * (and a phone without one between them): each loan still counts in its
 * own currency. */
static void test_portfolio_contracts_out_of_order(void **state)
{
	char t[64], k[64], a[64], b[64], c[64], e[64];
	struct srv_res r;
	struct srv *s;
	json_t *ccys;

	(void)state;
	assert_int_equal(srv_start(&s, NULL), 0);
	assert_int_equal(srv_tenant(s, "Order", t, k), 0);
	phone(s, k, "352099001761481", a);
	phone(s, k, "490154203237518", b);
	phone(s, k, "356938035643809", e); /* no contract */
	phone(s, k, "353918050812375", c);
	contract(s, k, c, "UGX", 7000);
	contract(s, k, a, "KES", 1000);
	contract(s, k, b, "TZS", 500);
	assert_int_equal(
	        srv_req(s, "GET", "/v1/reports/portfolio", k, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(srv_jint(&r, "devices"), 4);
	ccys = json_object_get(r.json, "currencies");
	assert_int_equal(json_array_size(ccys), 3);
	for (size_t i = 0; i < 3; i++) {
		json_t *x = json_array_get(ccys, i);
		const char *ccy =
		        json_string_value(json_object_get(x, "currency"));
		long want = strcmp(ccy, "UGX") == 0   ? 7000
		            : strcmp(ccy, "KES") == 0 ? 1000
		            : strcmp(ccy, "TZS") == 0 ? 500
		                                      : -1;

		assert_int_equal(
		        json_integer_value(json_object_get(x, "loans")), 1);
		assert_int_equal(
		        json_integer_value(json_object_get(x, "outstanding")),
		        want);
	}
	/* several currencies: no portfolio-wide PAR */
	assert_true(json_is_null(json_object_get(r.json, "par1")));
	srv_res_free(&r);
	srv_free(s);
}

static void pay_at(struct srv *s, const char *key, const char *id, long amount,
                   fl_time at)
{
	char body[160], path[128], when[FL_TIME_STR_LEN];
	struct srv_res r;

	fl_time_format(at, when);
	snprintf(path, sizeof(path), "/v1/devices/%s/payments", id);
	snprintf(body, sizeof(body), "{\"amount\":%ld,\"paid_at\":\"%s\"}",
	         amount, when);
	assert_int_equal(srv_req(s, "POST", path, key, body, &r), 0);
	assert_int_equal(r.status, 201);
	srv_res_free(&r);
}

/* ?history=true: the collections of the last 12 periods of 30 days, in
 * JSON, CSV and the CLI; the plain report unchanged without it. */
static void test_portfolio_history(void **state)
{
	char t[64], k[64], a[64], path[128], body[512];
	char d1[FL_TIME_STR_LEN], d2[FL_TIME_STR_LEN];
	const fl_time now = (fl_time)time(NULL), day = 86400;
	struct proc_result pr;
	struct srv_res r;
	struct srv *s;
	json_t *c, *per, *last, *prev;

	(void)state;
	assert_int_equal(srv_start(&s, NULL), 0);
	assert_int_equal(srv_tenant(s, "History", t, k), 0);
	phone(s, k, "352099001761481", a);
	/* 1000 due 40 days ago (the period before the last), 1000 due 10
	 * days ago (the last) */
	fl_time_format(now - 40 * day, d1);
	fl_time_format(now - 10 * day, d2);
	snprintf(path, sizeof(path), "/v1/devices/%s/contract", a);
	snprintf(body, sizeof(body),
	         "{\"currency\":\"KES\",\"allow_overdue\":true,\"schedule\":["
	         "{\"due\":\"%s\",\"amount\":1000},{\"due\":\"%s\","
	         "\"amount\":1000},{\"due\":\"2099-01-01\",\"amount\":1000}]}",
	         d1, d2);
	assert_int_equal(srv_req(s, "POST", path, k, body, &r), 0);
	assert_int_equal(r.status, 201);
	srv_res_free(&r);
	/* the first paid 2 days early; 400 of the second 5 days late */
	pay_at(s, k, a, 1000, now - 42 * day);
	pay_at(s, k, a, 400, now - 5 * day);

	assert_int_equal(
	        srv_req(s, "GET", "/v1/reports/portfolio", k, NULL, &r), 0);
	assert_null(json_object_get(r.json, "on_time_rate"));
	assert_null(json_object_get(
	        json_array_get(json_object_get(r.json, "currencies"), 0),
	        "collections"));
	srv_res_free(&r);
	assert_int_equal(srv_req(s, "GET", "/v1/reports/portfolio?history=true",
	                         k, NULL, &r),
	                 0);
	assert_int_equal(r.status, 200);
	c = json_array_get(json_object_get(r.json, "currencies"), 0);
	per = json_object_get(c, "collections");
	assert_int_equal(json_array_size(per), 12);
	last = json_array_get(per, 11);
	prev = json_array_get(per, 10);
	assert_int_equal(json_integer_value(json_object_get(last, "due")),
	                 1000);
	assert_int_equal(json_integer_value(json_object_get(last, "on_time")),
	                 0);
	assert_int_equal(json_integer_value(json_object_get(last, "collected")),
	                 400);
	assert_int_equal(json_integer_value(json_object_get(prev, "due")),
	                 1000);
	assert_int_equal(json_integer_value(json_object_get(prev, "on_time")),
	                 1000);
	assert_int_equal(json_integer_value(json_object_get(prev, "collected")),
	                 1000);
	assert_true(json_is_null(
	        json_object_get(json_array_get(per, 0), "on_time_rate")));
	assert_true(num(c, "on_time_rate") == 0.0);
	assert_true(num(c, "collection_rate") > 0.39 &&
	            num(c, "collection_rate") < 0.41);
	assert_true(num(r.json, "collection_rate") > 0.39);
	assert_string_equal(
	        json_string_value(json_object_get(last, "to")),
	        json_string_value(json_object_get(r.json, "as_of")));
	srv_res_free(&r);
	assert_int_equal(
	        srv_req(s, "GET",
	                "/v1/reports/portfolio?history=true&format=csv", k,
	                NULL, &r),
	        0);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "currency,from,to,due,on_time,collected,"
	                               "on_time_rate,collection_rate,lock_rate,"
	                               "cure_rate,unlock_latency_p95\r\n"));
	assert_non_null(
	        strstr(r.body, ",1000,1000,1000,1.000000,1.000000,"));
	assert_non_null(strstr(r.body, ",1000,0,400,0.000000,0.400000,"));
	srv_res_free(&r);
	assert_int_equal(srv_req(s, "GET", "/v1/reports/portfolio?history=yes",
	                         k, NULL, &r),
	                 0);
	assert_int_equal(r.status, 400);
	srv_res_free(&r);
	cli_env(srv_url(s), k);
	assert_int_equal(
	        cli_run(&pr, NULL, "reports", "portfolio", "--history", NULL),
	        0);
	assert_non_null(strstr(pr.out, "collections"));
	assert_non_null(strstr(pr.out, "1000, 0, 400; on time 0.0%, "
	                               "collected 40.0%"));
	proc_result_free(&pr);
	srv_free(s);
}

/* An enrolled phone on a device whose first installment (1,000.00 KES)
 * was due in 2026-12: decided locked at enrollment; a second one is due
 * in 2035, so paying the first unlocks it without releasing it. */
static void locked_phone(struct srv *s, const struct devapi_lender *l,
                         unsigned n, struct devapi_phone *p, char id[64])
{
	char imei[16], code[64], path[128];
	struct srv_res r;

	devapi_imei(n, imei);
	assert_int_equal(devapi_register(s, l, imei, NULL, id, code), 0);
	snprintf(path, sizeof(path), "/v1/devices/%s/contract", id);
	assert_int_equal(
	        srv_req(s, "POST", path, l->admin,
	                "{\"currency\":\"KES\",\"allow_overdue\":true,"
	                "\"grace\":0,\"schedule\":[{\"due\":\"2026-12-01\","
	                "\"amount\":100000},{\"due\":\"2035-01-01\","
	                "\"amount\":100000}]}",
	                &r),
	        0);
	assert_int_equal(r.status, 201);
	srv_res_free(&r);
	assert_int_equal(devapi_phone_open(p, s, l, imei, NULL), 0);
	assert_int_equal(fl_agent_setup(p->a), FL_OK);
	assert_int_equal(fl_agent_enroll(p->a, code), FL_OK);
}

/* The phone checks in until the server says its lock status is `want`. */
static void confirm(struct srv *s, const struct devapi_lender *l,
                    struct devapi_phone *p, const char *id, const char *want)
{
	struct srv_res r;
	bool ok = false;

	for (int i = 0; i < 3 && !ok; i++) {
		devapi_phone_tick(p);
		assert_int_equal(fl_agent_checkin(p->a), FL_OK);
		assert_int_equal(devapi_show(s, l, id, &r), 0);
		ok = strcmp(srv_jstr(&r, "lock_status"), want) == 0;
		srv_res_free(&r);
	}
	assert_true(ok);
}

static json_t *trend(json_t *report, int k)
{
	return json_array_get(json_object_get(report, "trends"), (size_t)k);
}

/* Two phones locked at T for an installment overdue; A paid 2 days later
 * and its phone confirmed the unlock 45 s after the payment; B never
 * paid; C locked at T + 9 days is too young for the cure rate. Eight
 * days after T: lock rate 2/3 now and at the last period's end (none in
 * service before), cure rate 1/2, latency p95 45 s, the same in JSON, CSV
 * and `finlock reports portfolio --history`. */
static void test_portfolio_trends(void **state)
{
	const long long t0 = 1800000000, day = 86400;
	struct srv_opts o = {.clock = t0};
	struct devapi_lender l;
	struct devapi_phone a, b, c;
	char ida[64], idb[64], idc[64], path[128];
	struct proc_result pr;
	struct srv_res r;
	struct srv *s;
	json_t *last;

	(void)state;
	assert_int_equal(devapi_start_opts(&s, &l, &o), 0);
	locked_phone(s, &l, 901, &a, ida);
	locked_phone(s, &l, 902, &b, idb);
	confirm(s, &l, &a, ida, "locked");
	srv_clock_advance(s, 2 * day);
	snprintf(path, sizeof(path), "/v1/devices/%s/payments", ida);
	assert_int_equal(srv_req(s, "POST", path, l.admin,
	                         "{\"amount\":100000}", &r),
	                 0);
	assert_int_equal(r.status, 201);
	srv_res_free(&r);
	srv_clock_advance(s, 45);
	confirm(s, &l, &a, ida, "unlocked");
	srv_clock_advance(s, 7 * day);
	locked_phone(s, &l, 903, &c, idc);

	assert_int_equal(srv_req(s, "GET", "/v1/reports/portfolio?history=true",
	                         l.admin, NULL, &r),
	                 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_array_size(json_object_get(r.json, "trends")),
	                 12);
	last = trend(r.json, 11);
	assert_int_equal(json_integer_value(json_object_get(last, "in_service")),
	                 3);
	assert_int_equal(json_integer_value(json_object_get(last, "locked")),
	                 2);
	assert_true(num(last, "lock_rate") > 0.666 &&
	            num(last, "lock_rate") < 0.667);
	assert_true(num(r.json, "lock_rate") == num(last, "lock_rate"));
	assert_int_equal(json_integer_value(json_object_get(last, "locks")), 2);
	assert_int_equal(json_integer_value(json_object_get(last, "cured")), 1);
	assert_true(num(last, "cure_rate") == 0.5);
	assert_true(num(r.json, "cure_rate") == 0.5);
	assert_int_equal(
	        json_integer_value(json_object_get(last, "paid_unlocks")), 1);
	assert_int_equal(
	        json_integer_value(json_object_get(last, "confirmed_unlocks")),
	        1);
	assert_int_equal(
	        json_integer_value(json_object_get(last, "unlock_latency_p95")),
	        45);
	assert_int_equal(
	        json_integer_value(json_object_get(r.json, "unlock_latency_p95")),
	        45);
	/* nothing was in service in the period before */
	assert_true(json_is_null(json_object_get(trend(r.json, 10), "lock_rate")));
	assert_true(json_is_null(json_object_get(trend(r.json, 10), "cure_rate")));
	srv_res_free(&r);

	assert_int_equal(
	        srv_req(s, "GET",
	                "/v1/reports/portfolio?history=true&format=csv",
	                l.admin, NULL, &r),
	        0);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, ",0.666667,0.500000,45\r\n"));
	srv_res_free(&r);
	cli_env(srv_url(s), l.admin);
	assert_int_equal(
	        cli_run(&pr, NULL, "reports", "portfolio", "--history", NULL),
	        0);
	assert_non_null(strstr(pr.out, "lock rate 66.7%, cure rate 50.0%, "
	                               "unlock p95 45 s"));
	proc_result_free(&pr);
	devapi_phone_close(&a);
	devapi_phone_close(&b);
	devapi_phone_close(&c);
	srv_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_portfolio),
	        cmocka_unit_test(test_portfolio_contracts_out_of_order),
	        cmocka_unit_test(test_portfolio_history),
	        cmocka_unit_test(test_portfolio_trends),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
