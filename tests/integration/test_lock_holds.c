/*
 * Holds on automatic locks against a real finlockd on a test clock: a
 * payment source that goes quiet longer than its max_silence is stale,
 * and the overdue locks of its tenant are held. An online phone waiting
 * on its long-poll gets the moved lock_at at once; a phone that checks in
 * once during the outage, before its lock was due, then goes offline is
 * spared too (its token carries the held lock_at). When the feed speaks
 * again the hold ends and both lock as the contract says. A lender's
 * freeze holds an overdue lock but never a manual one; the preview says
 * what will lock, and both are audited.
 */
#include <pthread.h>
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
#include "support/server_harness.h"

static struct srv *S;
static struct devapi_lender L;
static unsigned next_imei = 900;
static long long T0;

static int setup(void **state)
{
	static const char *const args[] = {"--wait-timeout", "60",
	                                   "--sweep-interval-ms", "100", NULL};
	struct srv_opts o = {.args = args};

	(void)state;
	T0 = (long long)time(NULL);
	o.clock = T0;
	return devapi_start_opts(&S, &L, &o);
}

static int teardown(void **state)
{
	(void)state;
	srv_free(S);
	return 0;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static void rfc3339(long long t, char out[FL_TIME_STR_LEN])
{
	fl_time_format((fl_time)t, out);
}

struct dev {
	char id[64], code[64], imei[16], imei2[16];
	struct devapi_phone p;
	bool open;
};

/* A device with one installment of 1000 due at `due` (grace 0). */
static void device_due(struct dev *d, const char *loan_ref, const char *due,
                       bool enroll)
{
	char path[128], body[512];
	struct srv_res r;

	memset(d, 0, sizeof(*d));
	devapi_imei(next_imei++, d->imei);
	devapi_imei(next_imei++, d->imei2);
	assert_int_equal(
	        devapi_register(S, &L, d->imei, d->imei2, d->id, d->code), 0);
	snprintf(path, sizeof(path), "/v1/devices/%s/contract", d->id);
	snprintf(body, sizeof(body),
	         "{\"loan_ref\":\"%s\",\"currency\":\"KES\","
	         "\"allow_overdue\":true,\"schedule\":[{\"due\":\"%s\","
	         "\"amount\":1000}],\"grace\":0,\"policy\":{\"contact\":"
	         "{\"name\":\"Acme\",\"phones\":[\"+254700000001\"]}}}",
	         loan_ref, due);
	assert_int_equal(srv_req(S, "POST", path, L.admin, body, &r), 0);
	assert_int_equal(r.status, 201);
	srv_res_free(&r);
	if (!enroll)
		return;
	assert_int_equal(devapi_phone_open(&d->p, S, &L, d->imei, d->imei2), 0);
	d->open = true;
	assert_int_equal(fl_agent_setup(d->p.a), FL_OK);
	assert_int_equal(fl_agent_enroll(d->p.a, d->code), FL_OK);
}

static bool phone_locked(struct dev *d)
{
	struct fl_agent_screen sc;

	devapi_phone_tick(&d->p);
	assert_int_equal(fl_agent_tick(d->p.a), FL_OK);
	fl_agent_screen(d->p.a, &sc);
	return sc.locked;
}

/* The device as its lender sees it (caller frees). */
static void show(const struct dev *d, struct srv_res *r)
{
	assert_int_equal(devapi_show(S, &L, d->id, r), 0);
	assert_int_equal(r->status, 200);
}

static void await_state(const struct dev *d, const char *want)
{
	struct srv_res r;

	for (int i = 0; i < 2000; i++) {
		bool done;

		show(d, &r);
		done = strcmp(srv_jstr(&r, "state"), want) == 0;
		srv_res_free(&r);
		if (done)
			return;
		sleep_ms(5);
	}
	fail_msg("device %s never became %s", d->id, want);
}

/* Waits until the device's lock_held is set (want) or null. */
static void await_held(const struct dev *d, bool want)
{
	struct srv_res r;

	for (int i = 0; i < 2000; i++) {
		bool held;

		show(d, &r);
		held = json_is_object(json_object_get(r.json, "lock_held"));
		srv_res_free(&r);
		if (held == want)
			return;
		sleep_ms(5);
	}
	fail_msg("device %s: lock_held never %s", d->id, want ? "set" : "null");
}

struct waiter {
	struct devapi_phone *p;
	fl_err err;
	pthread_t t;
};

static void *wait_main(void *arg)
{
	struct waiter *w = arg;

	devapi_phone_tick(w->p);
	w->err = fl_agent_wait(w->p->a, 15);
	return NULL;
}

static void test_stale_feed_holds_online_and_offline(void **state)
{
	char due[FL_TIME_STR_LEN], body[1024], src_body[256];
	struct fl_agent_status st0, st1;
	struct dev a, b;
	struct waiter w = {0};
	struct srv_res r;
	const char *conf;
	char confirmation[256];

	(void)state;
	/* a feed expected to speak every minute */
	snprintf(src_body, sizeof(src_body),
	         "{\"kind\":\"mpesa_c2b\",\"shortcode\":\"700000\","
	         "\"allowed_networks\":[\"127.0.0.0/8\"],\"max_silence\":60}");
	assert_int_equal(srv_req(S, "POST", "/v1/payment-sources", L.admin,
	                         src_body, &r),
	                 0);
	assert_int_equal(r.status, 201);
	conf = strstr(srv_jstr(&r, "confirmation_url"), "/v1/callbacks/");
	assert_non_null(conf);
	snprintf(confirmation, sizeof(confirmation), "%s", conf);
	srv_res_free(&r);

	/* two phones whose installment is due in an hour */
	rfc3339(srv_clock(S) + 3600, due);
	device_due(&a, "HOLD-A", due, true);
	device_due(&b, "HOLD-B", due, true);
	assert_false(phone_locked(&a));
	assert_false(phone_locked(&b));
	fl_agent_status(a.p.a, &st0);

	/* quiet for 50 s: still healthy */
	srv_clock_advance(S, 50);
	sleep_ms(200);
	show(&a, &r);
	assert_true(json_is_null(json_object_get(r.json, "lock_held")));
	srv_res_free(&r);
	/* A waits online; the feed stays quiet past its minute: stale (the
	 * wait lasts 60 s of the server's clock) */
	w.p = &a.p;
	assert_int_equal(pthread_create(&w.t, NULL, wait_main, &w), 0);
	sleep_ms(300);
	srv_clock_advance(S, 15);
	assert_int_equal(pthread_join(w.t, NULL), 0);
	if (w.err != FL_OK) {
		char cmd[300];

		snprintf(cmd, sizeof(cmd),
		         "grep -v '/v1/devices/' %s | tail -8 | cut -c1-400",
		         srv_log_path(S));
		if (system(cmd) != 0)
			fprintf(stderr, "no log\n");
	}
	assert_int_equal(w.err, FL_OK);
	fl_agent_status(a.p.a, &st1);
	assert_true(st1.seq > st0.seq); /* a new token, pushed at once */
	await_held(&a, true);
	show(&a, &r);
	{
		json_t *h = json_object_get(r.json, "lock_held");

		assert_string_equal(
		        json_string_value(json_object_get(h, "kind")), "stale");
		assert_non_null(
		        strstr(json_string_value(json_object_get(h, "reason")),
		               "silent"));
		assert_string_equal(
		        json_string_value(json_object_get(h, "until")),
		        srv_jstr(&r, "lock_at"));
	}
	srv_res_free(&r);
	assert_int_equal(
	        srv_req(S, "GET", "/v1/payment-sources", L.admin, NULL, &r), 0);
	assert_non_null(strstr(r.body, "\"stale\""));
	srv_res_free(&r);

	/* B checks in once during the outage, before its lock was due,
	 * then goes offline */
	srv_clock_advance(S, 1500);
	devapi_phone_tick(&b.p);
	assert_int_equal(fl_agent_checkin(b.p.a), FL_OK);

	/* past the installment's due time: neither phone locks, and
	 * neither does the server */
	srv_clock_advance(S, 7200);
	sleep_ms(300);
	assert_false(phone_locked(&a));
	assert_false(phone_locked(&b)); /* no network call: its token */
	show(&a, &r);
	assert_string_not_equal(srv_jstr(&r, "state"), "locked");
	srv_res_free(&r);
	show(&b, &r);
	assert_string_not_equal(srv_jstr(&r, "state"), "locked");
	srv_res_free(&r);

	/* the feed speaks again (a payment for no contract): the hold
	 * ends, and unpaid devices lock */
	snprintf(body, sizeof(body),
	         "{\"TransactionType\":\"Pay Bill\",\"TransID\":\"HOLD1\","
	         "\"TransTime\":\"20260101120000\",\"TransAmount\":\"5\","
	         "\"BusinessShortCode\":\"700000\",\"BillRefNumber\":"
	         "\"NOBODY\",\"MSISDN\":\"254700000000\"}");
	assert_int_equal(srv_req(S, "POST", confirmation, NULL, body, &r), 0);
	assert_int_equal(r.status, 200);
	srv_res_free(&r);
	await_held(&a, false);
	await_state(&a, "locked");
	await_state(&b, "locked");
	devapi_phone_tick(&a.p);
	assert_int_equal(fl_agent_checkin(a.p.a), FL_OK);
	assert_true(phone_locked(&a));
	/* audited */
	assert_int_equal(
	        srv_req(S, "GET", "/v1/audit?limit=500", L.admin, NULL, &r), 0);
	assert_non_null(strstr(r.body, "locks.hold"));
	assert_non_null(strstr(r.body, "locks.hold_end"));
	srv_res_free(&r);
	devapi_phone_close(&a.p);
	devapi_phone_close(&b.p);
}

static void test_freeze_holds_overdue_not_manual(void **state)
{
	char until[FL_TIME_STR_LEN], body[256], path[160], hold[64];
	struct dev d, m;
	struct srv_res r;

	(void)state;
	device_due(&d, "FRZ-D", "2025-01-01", true);
	device_due(&m, "FRZ-M", "2035-01-01", true);
	devapi_phone_close(&d.p);
	devapi_phone_close(&m.p);
	await_state(&d, "locked");
	snprintf(path, sizeof(path), "/v1/devices/%s/lock", m.id);
	assert_int_equal(srv_req(S, "POST", path, L.admin,
	                         "{\"reason\":\"collections\"}", &r),
	                 0);
	assert_int_equal(r.status, 200);
	srv_res_free(&r);
	await_state(&m, "locked");

	/* bad input: nothing held */
	{
		static const char *const bad[] = {
		        "{}",
		        "{\"until\":\"2020-01-01T00:00:00Z\","
		        "\"reason\":\"x\"}",
		        "{\"until\":\"tomorrow\",\"reason\":\"x\"}", NULL};

		for (int i = 0; bad[i] != NULL; i++) {
			assert_int_equal(srv_req(S, "POST", "/v1/locks/freeze",
			                         L.admin, bad[i], &r),
			                 0);
			assert_int_equal(r.status, 400);
			srv_res_free(&r);
		}
		rfc3339(srv_clock(S) + 3600, until);
		snprintf(body, sizeof(body), "{\"until\":\"%s\"}", until);
		assert_int_equal(srv_req(S, "POST", "/v1/locks/freeze", L.admin,
		                         body, &r),
		                 0);
		assert_int_equal(r.status, 400);
		srv_res_free(&r);
	}
	show(&d, &r);
	assert_string_equal(srv_jstr(&r, "state"), "locked");
	srv_res_free(&r);

	rfc3339(srv_clock(S) + 2 * 86400, until);
	snprintf(body, sizeof(body),
	         "{\"until\":\"%s\",\"reason\":\"M-Pesa outage\"}", until);
	assert_int_equal(
	        srv_req(S, "POST", "/v1/locks/freeze", L.admin, body, &r), 0);
	assert_int_equal(r.status, 201);
	snprintf(hold, sizeof(hold), "%s", srv_jstr(&r, "id"));
	srv_res_free(&r);
	show(&d, &r);
	assert_string_not_equal(srv_jstr(&r, "state"), "locked");
	assert_string_equal(srv_jstr(&r, "lock_at"), until);
	assert_string_equal(
	        json_string_value(json_object_get(
	                json_object_get(r.json, "lock_held"), "reason")),
	        "M-Pesa outage");
	srv_res_free(&r);
	show(&m, &r);
	assert_string_equal(srv_jstr(&r, "state"), "locked"); /* manual */
	srv_res_free(&r);

	/* the preview names the held device */
	assert_int_equal(srv_req(S, "GET", "/v1/locks/preview?within=72h",
	                         L.admin, NULL, &r),
	                 0);
	assert_int_equal(r.status, 200);
	assert_true(srv_jint(&r, "count") >= 1);
	assert_non_null(strstr(r.body, d.id));
	srv_res_free(&r);
	assert_int_equal(srv_req(S, "GET", "/v1/locks/preview?within=soon",
	                         L.admin, NULL, &r),
	                 0);
	assert_int_equal(r.status, 400);
	srv_res_free(&r);

	/* released: the overdue device locks again */
	snprintf(path, sizeof(path), "/v1/locks/holds/%s/release", hold);
	assert_int_equal(srv_req(S, "POST", path, L.admin, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	srv_res_free(&r);
	await_state(&d, "locked");
	assert_int_equal(srv_req(S, "POST", path, L.admin, NULL, &r), 0);
	assert_int_equal(r.status, 409);
	srv_res_free(&r);
	assert_int_equal(
	        srv_req(S, "GET", "/v1/audit?limit=500", L.admin, NULL, &r), 0);
	assert_non_null(strstr(r.body, "locks.freeze"));
	assert_non_null(strstr(r.body, "locks.preview"));
	assert_non_null(strstr(r.body, "locks.hold_release"));
	srv_res_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_stale_feed_holds_online_and_offline),
	        cmocka_unit_test(test_freeze_holds_overdue_not_manual),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
