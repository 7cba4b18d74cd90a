/*
 * The device long-poll against a real finlockd, driven by the real agent
 * over HTTP: a payment wakes a waiting phone, a wait with nothing new ends
 * when wait_timeout has passed, the sweep locks a phone at lock_at with
 * nobody calling, and paying the contract off releases the phone with a
 * signed receipt. Also the wait's own refusals (query form, MAC, counter).
 *
 * The server runs on a test clock that stands still until a test moves
 * it: a wait that ends while the clock stands still was woken, never timed
 * out, and no test waits for time to pass.
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

#include "core/crypto.h"
#include "core/devproto.h"
#include "core/fltime.h"
#include "core/token.h"
#include "finlock/agent.h"
#include "support/devapi_phone.h"
#include "support/server_harness.h"

#define WAIT_TIMEOUT 2 /* the server's wait_timeout in this file */

static struct srv *S;
static struct devapi_lender L;
static unsigned next_imei = 300;

static int setup(void **state)
{
	static const char *const args[] = {"--wait-timeout", "2",
	                                   "--sweep-interval-ms", "100", NULL};

	struct srv_opts o = {.args = args, .clock = (long long)time(NULL)};

	(void)state;
	return devapi_start_opts(&S, &L, &o);
}

static int teardown(void **state)
{
	(void)state;
	srv_free(S);
	return 0;
}

/* A phone enrolled on a new device; contract by the caller before. */
struct fx {
	char imei1[16], imei2[16], id[64], code[64];
	struct devapi_phone p;
};

static void fx_register(struct fx *f)
{
	devapi_imei(next_imei++, f->imei1);
	devapi_imei(next_imei++, f->imei2);
	assert_int_equal(
	        devapi_register(S, &L, f->imei1, f->imei2, f->id, f->code), 0);
}

static void fx_enroll(struct fx *f)
{
	assert_int_equal(devapi_phone_open(&f->p, S, &L, f->imei1, f->imei2),
	                 0);
	assert_int_equal(fl_agent_setup(f->p.a), FL_OK);
	assert_int_equal(fl_agent_enroll(f->p.a, f->code), FL_OK);
}

/* A contract of two installments of 1,500.00 KES: the first due long
 * ago (so the phone is locked), the second in 2035. */
static void overdue_contract(const char *id)
{
	struct srv_res r;
	char path[128], body[512];

	snprintf(path, sizeof(path), "/v1/devices/%s/contract", id);
	/* loan references are unique per lender */
	snprintf(body, sizeof(body),
	         "{\"loan_ref\":\"LN-7-%s\",\"currency\":\"KES\","
	                "\"allow_overdue\":true,"
	                "\"schedule\":[{\"due\":\"2025-01-01\",\"amount\":"
	                "150000},{\"due\":\"2035-01-01\",\"amount\":150000}],"
	                "\"grace\":0,\"policy\":{\"contact\":{\"name\":"
	                "\"Acme Finance\",\"phones\":[\"+254700000001\"]}}}",
	         id);
	assert_int_equal(srv_req(S, "POST", path, L.admin, body, &r), 0);
	assert_int_equal(r.status, 201);
	srv_res_free(&r);
}

/* A contract of one installment of 1,000.00 due at `at` (grace 0: the
 * device locks then), no SIM or tamper reaction. */
static void due_contract(const char *id, fl_time at)
{
	char due[FL_TIME_STR_LEN];

	fl_time_format(at, due);
	assert_int_equal(
	        devapi_contract(S, &L, id, due, 100000, 0, "none", "none"), 0);
}

/* A wait on another thread (the agent is used by that thread only while
 * it runs). */
struct waiter {
	struct devapi_phone *p;
	uint32_t timeout;
	fl_err err;
	_Atomic int64_t done_ms;
	pthread_t t;
};

static void *wait_main(void *arg)
{
	struct waiter *w = arg;

	devapi_phone_tick(w->p);
	w->err = fl_agent_wait(w->p->a, w->timeout);
	w->done_ms = devapi_ms();
	return NULL;
}

static void wait_start(struct waiter *w, struct devapi_phone *p,
                       uint32_t timeout)
{
	memset(w, 0, sizeof(*w));
	w->p = p;
	w->timeout = timeout;
	assert_int_equal(pthread_create(&w->t, NULL, wait_main, w), 0);
}

static void wait_join(struct waiter *w)
{
	assert_int_equal(pthread_join(w->t, NULL), 0);
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* Polls the device (a lender's read, which decides nothing) until its
 * state is want; fails after ten seconds. */
static void await_state(const char *id, const char *want)
{
	struct srv_res r;

	for (int i = 0; i < 2000; i++) {
		bool done;

		assert_int_equal(devapi_show(S, &L, id, &r), 0);
		done = strcmp(srv_jstr(&r, "state"), want) == 0;
		srv_res_free(&r);
		if (done)
			return;
		sleep_ms(5);
	}
	fail_msg("device %s never became %s", id, want);
}

static void test_payment_wakes_waiter(void **state)
{
	struct fl_agent_screen sc;
	struct fl_agent_status st0, st1;
	struct waiter w;
	struct fx f;
	long long t0;

	(void)state;
	fx_register(&f);
	overdue_contract(f.id);
	fx_enroll(&f);
	fl_agent_screen(f.p.a, &sc);
	assert_true(sc.locked);
	assert_int_equal(sc.amount_due, 150000);
	fl_agent_status(f.p.a, &st0);

	/* the wait holds (the clock stands still: it cannot time out) */
	wait_start(&w, &f.p, 30);
	sleep_ms(200);
	assert_int_equal(w.done_ms, 0);

	t0 = srv_clock(S);
	assert_int_equal(devapi_pay(S, &L, f.id, 150000), 0);
	wait_join(&w);
	assert_int_equal(w.err, FL_OK);
	/* answered with the clock where it was: woken by the payment */
	assert_int_equal(srv_clock(S), t0);

	devapi_phone_tick(&f.p);
	assert_int_equal(fl_agent_tick(f.p.a), FL_OK);
	fl_agent_screen(f.p.a, &sc);
	assert_false(sc.locked);
	/* nothing due now; the token carries what will be due at its next
	 * lock (the 2035 installment), for a lock that comes offline */
	assert_int_equal(sc.amount_due, 150000);
	fl_agent_status(f.p.a, &st1);
	assert_true(st1.seq > st0.seq);
	devapi_phone_close(&f.p);
}

static void test_wait_times_out(void **state)
{
	struct fl_agent_status st0, st1;
	struct waiter w;
	struct fx f;

	(void)state;
	fx_register(&f);
	assert_int_equal(devapi_contract(S, &L, f.id, "2035-01-01", 100000, 0,
	                                 "none", "none"),
	                 0);
	fx_enroll(&f);
	fl_agent_status(f.p.a, &st0);
	wait_start(&w, &f.p, 30);
	sleep_ms(100);
	assert_int_equal(w.done_ms, 0);
	/* time passes on the server: the wait ends at its timeout */
	srv_clock_run(S, WAIT_TIMEOUT + 1);
	wait_join(&w);
	srv_clock_stop(S);
	assert_int_equal(w.err, FL_OK);
	fl_agent_status(f.p.a, &st1);
	assert_int_equal(st1.seq, st0.seq);
	assert_int_equal(st1.http_status, 200);
	assert_int_equal(st1.counter, st0.counter + 1);
	devapi_phone_close(&f.p);
}

/* The claims of the token a check-in or wait answer carries, verified
 * against the lender's root and the answer's certificates; false when the
 * answer has no token. */
static bool answer_claims(const struct srv_res *r, struct fl_device_claims *c)
{
	struct fl_dp_checkin_answer a = {0};
	struct fl_trust *t = NULL;
	char *payload = NULL;
	size_t len = 0;
	bool have;

	assert_int_equal(fl_dp_checkin_answer_decode(r->body, r->len, &a),
	                 FL_OK);
	have = a.token != NULL;
	if (have) {
		assert_int_equal(fl_trust_new(&t, L.root), FL_OK);
		for (size_t i = 0; i < a.keys.n_certs; i++)
			assert_int_equal(
			        fl_trust_add_cert(t, a.keys.certs[i],
			                          (fl_time)srv_clock(S), NULL),
			        FL_OK);
		assert_int_equal(fl_trust_verify(t, FL_MSG_DEVICE_TOKEN,
		                                 a.token, (fl_time)srv_clock(S),
		                                 &payload, &len),
		                 FL_OK);
		assert_int_equal(fl_claims_decode(payload, len, c), FL_OK);
		free(payload);
		fl_trust_free(t);
	}
	fl_dp_checkin_answer_clear(&a);
	return have;
}

/* The sweep moves the device to locked at lock_at with no request, and a
 * phone's wait then gets the locked token: not a second before lock_at. */
static void test_sweep_locks_at_lock_at(void **state)
{
	char target[FL_DP_WAIT_PATH_MAX];
	struct fl_device_claims c = {0};
	struct devapi_raw a;
	struct srv_res r;
	struct fx f;
	fl_time lock_at;

	(void)state;
	fx_register(&f);
	lock_at = (fl_time)srv_clock(S) + 5;
	due_contract(f.id, lock_at);
	devapi_raw_new(&a, f.imei1, f.imei2);
	assert_int_equal(devapi_raw_enroll(S, &a, f.code, false, L.root, &r),
	                 200);
	srv_res_free(&r);

	/* a second before: the sweeps of that second leave it alone */
	srv_clock_set(S, lock_at - 1);
	sleep_ms(50);
	assert_int_equal(devapi_show(S, &L, f.id, &r), 0);
	assert_string_not_equal(srv_jstr(&r, "state"), "locked");
	srv_res_free(&r);

	/* lock_at: the sweep locks it, and the phone's wait has the token */
	srv_clock_set(S, lock_at);
	await_state(f.id, "locked");
	fl_dp_wait_path(target, a.seq);
	assert_int_equal(
	        devapi_raw_call(S, &a, "GET", target, NULL, 1, false, &r), 200);
	assert_true(answer_claims(&r, &c));
	assert_true(c.seq > a.seq);
	assert_int_equal(c.state, FL_ST_LOCKED);
	assert_int_equal(c.lock_at, lock_at);
	fl_claims_clear(&c);
	srv_res_free(&r);
}

/* The real agent waiting through the same transition: its wait is woken
 * by the sweep and its screen locks at lock_at, not before. */
static void test_agent_locks_at_lock_at(void **state)
{
	struct fl_agent_screen sc;
	struct waiter w;
	struct fx f;
	fl_time lock_at;

	(void)state;
	fx_register(&f);
	lock_at = (fl_time)srv_clock(S) + 5;
	due_contract(f.id, lock_at);
	fx_enroll(&f);
	fl_agent_screen(f.p.a, &sc);
	assert_false(sc.locked);
	assert_int_equal(sc.lock_at, lock_at);

	srv_clock_set(S, lock_at - 1);
	devapi_phone_tick(&f.p);
	assert_int_equal(fl_agent_tick(f.p.a), FL_OK);
	fl_agent_screen(f.p.a, &sc);
	assert_false(sc.locked);

	/* the wait is parked when lock_at comes; the sweep wakes it */
	wait_start(&w, &f.p, 30);
	sleep_ms(100);
	srv_clock_set(S, lock_at);
	wait_join(&w);
	assert_int_equal(w.err, FL_OK);
	await_state(f.id, "locked");
	for (int i = 0; i < 5 && !sc.locked; i++) {
		if (i > 0) {
			wait_start(&w, &f.p, 30);
			wait_join(&w);
			assert_int_equal(w.err, FL_OK);
		}
		devapi_phone_tick(&f.p);
		assert_int_equal(fl_agent_tick(f.p.a), FL_OK);
		fl_agent_screen(f.p.a, &sc);
	}
	assert_true(sc.locked);
	devapi_phone_close(&f.p);
}

/* finlockd_tokens_signed_ahead_total from /metrics. */
static long long signed_ahead(void)
{
	struct srv_res r;
	const char *p;
	long long n = -1;

	assert_int_equal(srv_req(S, "GET", "/metrics", srv_operator_key(S),
	                         NULL, &r),
	                 0);
	assert_int_equal(r.status, 200);
	p = strstr(r.body, "\nfinlockd_tokens_signed_ahead_total ");
	if (p != NULL)
		n = atoll(p + strlen("\nfinlockd_tokens_signed_ahead_total "));
	srv_res_free(&r);
	assert_true(n >= 0);
	return n;
}

/* In the seconds before lock_at the token a waiting phone will get is
 * signed ahead; at lock_at the phone gets that very token, and its agent
 * takes it (the signature is checked as any other). A payment in between
 * changes what the token says: the one signed ahead is never used, and
 * the phone gets the token of the payment. */
static void test_signed_ahead(void **state)
{
	struct fl_agent_screen sc;
	struct waiter w;
	struct fx f, g;
	fl_time lock_at;
	long long n0;

	(void)state;
	fx_register(&f);
	fx_register(&g);
	lock_at = (fl_time)srv_clock(S) + 10;
	due_contract(f.id, lock_at);
	due_contract(g.id, lock_at);
	fx_enroll(&f);
	fx_enroll(&g);
	n0 = signed_ahead();

	/* g: waiting three seconds before lock_at, then paid in full */
	srv_clock_set(S, lock_at - 3);
	wait_start(&w, &g.p, 30);
	sleep_ms(300);
	assert_int_equal(w.done_ms, 0);
	assert_int_equal(devapi_pay(S, &L, g.id, 100000), 0);
	wait_join(&w);
	assert_int_equal(w.err, FL_OK);
	devapi_phone_tick(&g.p);
	assert_int_equal(fl_agent_tick(g.p.a), FL_OK);
	fl_agent_screen(g.p.a, &sc);
	assert_false(sc.locked);
	assert_int_equal(signed_ahead(), n0);

	/* f: waiting when lock_at comes */
	srv_clock_set(S, lock_at - 2);
	devapi_phone_tick(&f.p);
	wait_start(&w, &f.p, 30);
	sleep_ms(300);
	assert_int_equal(w.done_ms, 0);
	srv_clock_set(S, lock_at);
	wait_join(&w);
	assert_int_equal(w.err, FL_OK);
	devapi_phone_tick(&f.p);
	assert_int_equal(fl_agent_tick(f.p.a), FL_OK);
	fl_agent_screen(f.p.a, &sc);
	assert_true(sc.locked);
	assert_int_equal(signed_ahead(), n0 + 1);
	/* g, paid off, stays unlocked at lock_at */
	await_state(f.id, "locked");
	{
		struct srv_res r;

		assert_int_equal(devapi_show(S, &L, g.id, &r), 0);
		assert_string_not_equal(srv_jstr(&r, "state"), "locked");
		srv_res_free(&r);
	}
	devapi_phone_close(&f.p);
	devapi_phone_close(&g.p);
}

/* Paid off: the phone is released and keeps the signed receipt, and stops
 * checking in. */
static void test_release_receipt(void **state)
{
	struct fl_agent_status st;
	struct fl_agent_screen sc;
	struct waiter w;
	struct fx f;
	char *receipt = NULL;

	(void)state;
	fx_register(&f);
	overdue_contract(f.id);
	fx_enroll(&f);
	wait_start(&w, &f.p, 30);
	sleep_ms(300);
	assert_int_equal(devapi_pay(S, &L, f.id, 300000), 0);
	wait_join(&w);
	assert_int_equal(w.err, FL_OK);
	fl_agent_status(f.p.a, &st);
	fl_agent_screen(f.p.a, &sc);
	assert_int_equal(st.phase, FL_AGENT_RELEASED);
	assert_false(sc.locked);
	assert_int_equal(sc.restrict_mask, 0);
	assert_true(sc.has_receipt);
	assert_int_equal(fl_agent_receipt(f.p.a, &receipt), FL_OK);
	assert_non_null(strstr(receipt, "v4.public."));
	{
		/* the receipt is signed by a certified key, as a release
		 * receipt, for this device */
		struct fl_trust *t = NULL;
		struct srv_res r;
		char *payload = NULL;
		size_t len = 0;
		assert_int_equal(fl_trust_new(&t, L.root), FL_OK);
		assert_int_equal(srv_req(S, "GET",
		                         "/v1/imei/490154203237518/certificate",
		                         NULL, NULL, &r),
		                 0);
		assert_int_equal(fl_trust_add_cert(t, srv_jstr(&r, "key_cert"),
		                                   (fl_time)srv_clock(S), NULL),
		                 FL_OK);
		srv_res_free(&r);
		assert_int_equal(fl_trust_verify(t, FL_MSG_RELEASE_RECEIPT,
		                                 receipt, (fl_time)srv_clock(S),
		                                 &payload, &len),
		                 FL_OK);
		assert_non_null(strstr(payload, f.id));
		assert_non_null(strstr(payload, "LN-7"));
		free(payload);
		fl_trust_free(t);
	}
	free(receipt);
	devapi_phone_tick(&f.p);
	assert_int_equal(fl_agent_checkin(f.p.a), FL_E_STATE);
	devapi_phone_close(&f.p);
}

/* A contract with max_offline: lock_at follows the phone's contact. A
 * phone that keeps checking in gets its lock_at moved ahead; one that goes
 * quiet is locked by the sweep at lock_at; when it comes back, its
 * check-in unlocks it at once. */
static void test_offline_lock_follows_contact(void **state)
{
	struct fl_agent_screen sc;
	struct srv_res r;
	struct fx f;
	char path[128];
	fl_time first;

	(void)state;
	fx_register(&f);
	snprintf(path, sizeof(path), "/v1/devices/%s/contract", f.id);
	assert_int_equal(srv_req(S, "POST", path, L.admin,
	                         "{\"currency\":\"KES\",\"schedule\":[{"
	                         "\"due\":\"2035-01-01\",\"amount\":1000}],"
	                         "\"grace\":0,\"policy\":{\"max_offline\":"
	                         "\"6s\"}}",
	                         &r),
	                 0);
	assert_int_equal(r.status, 201);
	srv_res_free(&r);
	fx_enroll(&f);
	fl_agent_screen(f.p.a, &sc);
	assert_false(sc.locked);
	first = sc.lock_at;
	assert_true(first > 0 && first <= (fl_time)srv_clock(S) + 7);

	/* checking in past half the allowance moves lock_at ahead */
	srv_clock_advance(S, 4);
	devapi_phone_tick(&f.p);
	assert_int_equal(fl_agent_checkin(f.p.a), FL_OK);
	fl_agent_screen(f.p.a, &sc);
	assert_false(sc.locked);
	assert_true(sc.lock_at >= first + 3);

	/* quiet past lock_at: the sweep locks the device */
	srv_clock_set(S, sc.lock_at + 1);
	await_state(f.id, "locked");
	assert_int_equal(devapi_show(S, &L, f.id, &r), 0);
	assert_string_equal(
	        json_string_value(json_object_get(r.json, "lock_cause")),
	        "offline");
	srv_res_free(&r);
	devapi_phone_tick(&f.p);
	assert_int_equal(fl_agent_tick(f.p.a), FL_OK);
	fl_agent_screen(f.p.a, &sc);
	assert_true(sc.locked);

	/* back online: the check-in itself unlocks it */
	assert_int_equal(fl_agent_checkin(f.p.a), FL_OK);
	fl_agent_screen(f.p.a, &sc);
	assert_false(sc.locked);
	assert_true(sc.lock_at > (fl_time)srv_clock(S));
	assert_int_equal(devapi_show(S, &L, f.id, &r), 0);
	assert_string_equal(json_string_value(json_object_get(r.json, "state")),
	                    "active");
	srv_res_free(&r);
	devapi_phone_close(&f.p);
}

/* The wait's refusals, by hand: a seq not in canonical form, a bad MAC, a
 * replayed counter; and a seq that differs is answered at once with the
 * token. */
static void test_wait_refusals(void **state)
{
	struct devapi_raw a;
	struct srv_res r;
	struct fx f;
	char target[FL_DP_WAIT_PATH_MAX];

	(void)state;
	fx_register(&f);
	devapi_raw_new(&a, f.imei1, f.imei2);
	assert_int_equal(devapi_raw_enroll(S, &a, f.code, false, L.root, &r),
	                 200);
	srv_res_free(&r);

	assert_int_equal(devapi_raw_call(S, &a, "GET",
	                                 FL_DP_PATH_WAIT "?seq=01", NULL, 1,
	                                 false, &r),
	                 400);
	assert_string_equal(srv_err_code(&r), "bad_request");
	srv_res_free(&r);
	assert_int_equal(devapi_raw_call(S, &a, "GET",
	                                 FL_DP_PATH_WAIT "?seq=1&x=2", NULL, 2,
	                                 false, &r),
	                 400);
	srv_res_free(&r);

	fl_dp_wait_path(target, 0);
	assert_int_equal(
	        devapi_raw_call(S, &a, "GET", target, NULL, 3, true, &r), 401);
	assert_string_equal(srv_err_code(&r), "unauthenticated");
	srv_res_free(&r);

	/* seq 0 differs from the device's: answered at once (the clock
	 * stands still, so never by a timeout), with a token */
	assert_int_equal(
	        devapi_raw_call(S, &a, "GET", target, NULL, 4, false, &r), 200);
	assert_non_null(strstr(srv_jstr(&r, "token"), "v4.public."));
	srv_res_free(&r);
	assert_int_equal(
	        devapi_raw_call(S, &a, "GET", target, NULL, 4, false, &r), 409);
	assert_string_equal(srv_err_code(&r), "stale_counter");
	srv_res_free(&r);

	/* the seq held: held until the timeout has passed, no token */
	fl_dp_wait_path(target, a.seq);
	srv_clock_run(S, WAIT_TIMEOUT + 1);
	assert_int_equal(
	        devapi_raw_call(S, &a, "GET", target, NULL, 5, false, &r), 200);
	srv_clock_stop(S);
	assert_null(json_object_get(r.json, "token"));
	srv_res_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_payment_wakes_waiter),
	        cmocka_unit_test(test_wait_times_out),
	        cmocka_unit_test(test_sweep_locks_at_lock_at),
	        cmocka_unit_test(test_agent_locks_at_lock_at),
	        cmocka_unit_test(test_signed_ahead),
	        cmocka_unit_test(test_release_receipt),
	        cmocka_unit_test(test_offline_lock_follows_contact),
	        cmocka_unit_test(test_wait_refusals),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
