/*
 * finlockd answers warm check-ins from memory (server/devauth.h keeps what
 * a check-in reads of the device row; server/tokens.h the signed token):
 * these tests change the row behind a device that has just checked in
 * twice (so its row is held in memory) and require the VERY NEXT check-in
 * to see the change: a payment that releases it (token, state, receipt),
 * a lender's lock and release commands, the stolen flag, a decision the
 * sweep takes on its own, a tamper report, a re-enrollment with new keys
 * (the old keys refused at once, the new phone served), and an unknown
 * device refused. The token seq in every answer equals the one the lender
 * API reads from the store. What a phone confirms applying reaches the
 * lender API within the write-behind bound, and a confirmation written
 * behind never overwrites a later one stored with its event.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/crypto.h"
#include "core/devproto.h"
#include "core/fltime.h"
#include "support/devapi_phone.h"
#include "support/server_harness.h"

static struct srv *S;
static struct devapi_lender L;
static unsigned next_imei = 700;

static int setup(void **state)
{
	static const char *const args[] = {"--sweep-interval-ms", "100", NULL};

	(void)state;
	return devapi_start(&S, &L, args);
}

static int teardown(void **state)
{
	(void)state;
	srv_free(S);
	return 0;
}

/* A device registered with a contract and enrolled by a phone by hand. */
struct dev {
	char imei1[16], imei2[16];
	char id[64], code[64];
	struct devapi_raw p;
};

static void dev_new(struct dev *g, const char *due, long long grace,
                    const char *tamper)
{
	struct srv_res r;

	devapi_imei(next_imei++, g->imei1);
	devapi_imei(next_imei++, g->imei2);
	assert_int_equal(
	        devapi_register(S, &L, g->imei1, g->imei2, g->id, g->code), 0);
	assert_int_equal(devapi_contract(S, &L, g->id, due, 150000, grace,
	                                 "none", tamper),
	                 0);
	devapi_raw_new(&g->p, g->imei1, g->imei2);
	assert_int_equal(
	        devapi_raw_enroll(S, &g->p, g->code, false, L.root, &r), 200);
	srv_res_free(&r);
}

/* What one check-in answer says. */
struct seen {
	long status;
	long long seq;  /* the token's seq, -1 without a token */
	char state[16]; /* the token's state */
	bool stolen;    /* the token's stolen flag */
	bool receipt;   /* a release receipt came along */
	char error[32]; /* an error answer's code */
};

/* The claims of a v4.public token (its payload without the signature). */
static json_t *token_claims(const char *token)
{
	const char *body = token + strlen("v4.public.");
	const char *dot = strchr(body, '.');
	size_t len = dot != NULL ? (size_t)(dot - body) : strlen(body), n = 0;
	uint8_t *bin = malloc(len + 1);
	json_t *j;

	assert_non_null(bin);
	assert_int_equal(fl_b64url_decode(bin, len + 1, &n, body, len), FL_OK);
	assert_true(n > 64);
	j = json_loadb((const char *)bin, n - 64, 0, NULL);
	assert_non_null(j);
	free(bin);
	return j;
}

/* One check-in of g's phone with body (NULL: the default one). */
static void checkin_body(struct dev *g, const char *body, struct seen *s)
{
	struct srv_res r;
	const char *token;

	memset(s, 0, sizeof(*s));
	s->seq = -1;
	g->p.counter++;
	if (body == NULL)
		s->status = devapi_raw_checkin(S, &g->p, g->p.counter, &r);
	else
		s->status =
		        devapi_raw_call(S, &g->p, "POST", FL_DP_PATH_CHECKIN,
		                        body, g->p.counter, false, &r);
	if (s->status == 200) {
		token = json_string_value(json_object_get(r.json, "token"));
		assert_non_null(token);
		json_t *c = token_claims(token);

		s->seq = json_integer_value(json_object_get(c, "seq"));
		snprintf(s->state, sizeof(s->state), "%s",
		         json_string_value(json_object_get(c, "state")));
		s->stolen = json_is_true(json_object_get(c, "stolen"));
		json_decref(c);
		s->receipt = json_object_get(r.json, "release_receipt") != NULL;
	} else {
		snprintf(s->error, sizeof(s->error), "%s", srv_err_code(&r));
	}
	srv_res_free(&r);
}

static void checkin(struct dev *g, struct seen *s)
{
	checkin_body(g, NULL, s);
}

/* The device's token seq and state as the lender API reads them. */
static long long stored(struct dev *g, char state[16])
{
	struct srv_res r;
	long long seq;

	assert_int_equal(devapi_show(S, &L, g->id, &r), 0);
	assert_int_equal(r.status, 200);
	seq = json_integer_value(json_object_get(r.json, "token_seq"));
	if (state != NULL)
		snprintf(state, 16, "%s",
		         json_string_value(json_object_get(r.json, "state")));
	srv_res_free(&r);
	return seq;
}

/* Two check-ins: the second is answered from what the first kept. */
static long long warm(struct dev *g)
{
	struct seen a, b;

	checkin(g, &a);
	assert_int_equal(a.status, 200);
	checkin(g, &b);
	assert_int_equal(b.status, 200);
	assert_int_equal(a.seq, b.seq);
	assert_int_equal(b.seq, stored(g, NULL));
	return b.seq;
}

static void post(const char *id, const char *what, const char *body)
{
	char path[160];
	struct srv_res r;

	snprintf(path, sizeof(path), "/v1/devices/%s/%s", id, what);
	assert_int_equal(srv_req(S, "POST", path, L.admin, body, &r), 0);
	if (r.status / 100 != 2)
		fprintf(stderr, "%s: %ld %s\n", path, r.status, r.body);
	assert_int_equal(r.status / 100, 2);
	srv_res_free(&r);
}

/* The very next check-in after the change matches the store. */
static void expect_next(struct dev *g, long long before, const char *state)
{
	char want_state[16];
	long long want = stored(g, want_state);
	struct seen s;

	assert_true(want > before);
	checkin(g, &s);
	assert_int_equal(s.status, 200);
	assert_int_equal(s.seq, want);
	assert_string_equal(s.state, state);
	assert_string_equal(want_state, state);
}

static void test_payment(void **state)
{
	struct dev g;
	struct seen s;
	long long seq;

	(void)state;
	dev_new(&g, "2030-01-31", 0, "none");
	seq = warm(&g);
	assert_int_equal(devapi_pay(S, &L, g.id, 150000), 0);
	expect_next(&g, seq, "released");
	checkin(&g, &s);
	assert_true(s.receipt);
}

static void test_lender_commands(void **state)
{
	struct dev g;
	struct seen s;
	long long seq;

	(void)state;
	dev_new(&g, "2030-01-31", 0, "none");
	seq = warm(&g);
	post(g.id, "lock", "{\"reason\":\"test\"}");
	expect_next(&g, seq, "locked");

	seq = warm(&g);
	post(g.id, "stolen", "{\"reason\":\"reported by the owner\"}");
	checkin(&g, &s);
	assert_int_equal(s.status, 200);
	assert_int_equal(s.seq, stored(&g, NULL));
	assert_true(s.seq > seq);
	assert_true(s.stolen);

	seq = warm(&g);
	post(g.id, "stolen/clear", "{\"reason\":\"found\"}");
	checkin(&g, &s);
	assert_int_equal(s.seq, stored(&g, NULL));
	assert_true(s.seq > seq);
	assert_false(s.stolen);

	seq = warm(&g);
	post(g.id, "release", "{\"reason\":\"settled\"}");
	expect_next(&g, seq, "released");
}

/* The sweep locks the device on its own when the grace ends. */
static void test_sweep_decision(void **state)
{
	char due[FL_TIME_STR_LEN], now_state[16];
	struct dev g;
	long long seq;
	int64_t t0 = devapi_ms();

	(void)state;
	fl_time_format((fl_time)time(NULL) + 3, due);
	dev_new(&g, due, 1, "none");
	seq = warm(&g);
	assert_int_equal(seq, stored(&g, now_state));
	assert_string_equal(now_state, "reminding");
	while (stored(&g, now_state), strcmp(now_state, "locked") != 0) {
		assert_true(devapi_ms() - t0 < 20000);
		usleep(100 * 1000);
	}
	expect_next(&g, seq, "locked");
}

/* A tamper report: the phone lifts its own tamper lock only with a
 * token issued after the event, so the answer to the report carries a new
 * token (the row changed in that check-in's own transaction), and the
 * next check-in serves the same one the store holds. */
static void test_tamper_report(void **state)
{
	struct fl_dp_checkin_req q;
	struct dev g;
	struct seen s;
	char *body = NULL, st[16];
	long long seq;

	(void)state;
	dev_new(&g, "2030-01-31", 0, "lock");
	seq = warm(&g);
	memset(&q, 0, sizeof(q));
	q.seq = (uint64_t)seq;
	q.trusted_time = (fl_time)time(NULL);
	q.wall_time = q.trusted_time;
	q.tamper = FL_DP_TAMPER_ROOTED;
	assert_int_equal(fl_dp_checkin_req_encode(&q, &body), FL_OK);
	checkin_body(&g, body, &s);
	free(body);
	assert_int_equal(s.status, 200);
	assert_true(s.seq > seq);
	assert_int_equal(s.seq, stored(&g, st));
	assert_string_equal(s.state, st);
	seq = s.seq;
	checkin(&g, &s);
	assert_int_equal(s.seq, seq);
	assert_int_equal(s.seq, stored(&g, NULL));
}

/* Re-enrolled with new keys: the old phone is refused at once, the new
 * one counts from 1. */
static void test_reenrollment(void **state)
{
	char code[FL_DP_PAIRING_LEN + 1], body[64];
	struct devapi_raw q;
	struct srv_res r;
	struct dev g;
	struct seen s;

	(void)state;
	dev_new(&g, "2030-01-31", 0, "none");
	warm(&g);
	devapi_raw_new(&q, g.imei1, g.imei2);
	assert_int_equal(devapi_raw_enroll(S, &q, "", false, L.root, &r), 202);
	srv_res_free(&r);
	fl_dp_pairing_code(q.sign_pk, q.kx_pk, code);
	snprintf(body, sizeof(body), "{\"pairing_code\":\"%s\"}", code);
	post(g.id, "approve-pairing", body);
	assert_int_equal(devapi_raw_enroll(S, &q, "", false, L.root, &r), 200);
	srv_res_free(&r);

	checkin(&g, &s);
	assert_int_equal(s.status, 401);
	assert_string_equal(s.error, "unauthenticated");
	assert_int_equal(devapi_raw_checkin(S, &q, 1, &r), 200);
	srv_res_free(&r);
	assert_int_equal(devapi_raw_checkin(S, &q, 1, &r), 409);
	srv_res_free(&r);
}

/* g's check-in answer's token (the caller frees it). */
static char *checkin_token(struct dev *g)
{
	struct srv_res r;
	const char *t;
	char *token;

	g->p.counter++;
	assert_int_equal(devapi_raw_checkin(S, &g->p, g->p.counter, &r), 200);
	t = json_string_value(json_object_get(r.json, "token"));
	assert_non_null(t);
	token = strdup(t);
	assert_non_null(token);
	srv_res_free(&r);
	return token;
}

/* After a clean restart (every cache empty) a device's first check-in is
 * authenticated (its MAC key opened from the row) and answered with the
 * very token signed before the restart, put together again from the
 * row's memo rather than signed anew (a new signature would carry a
 * later iat); a change of its decision after that gets a new token. */
static void test_restart(void **state)
{
	struct dev g;
	char *before, *after, *again;
	long long seq;

	(void)state;
	dev_new(&g, "2030-01-31", 0, "none");
	before = checkin_token(&g);
	seq = stored(&g, NULL);
	sleep(2); /* a token signed now would differ */
	assert_int_equal(srv_stop(S), 0);
	assert_int_equal(srv_restart(S), 0);
	after = checkin_token(&g);
	assert_string_equal(after, before);
	again = checkin_token(&g);
	assert_string_equal(again, before);
	post(g.id, "lock", "{\"reason\":\"test\"}");
	expect_next(&g, seq, "locked");
	free(before);
	free(after);
	free(again);
}

/* A device id nobody registered, and one whose MAC key is someone
 * else's, are refused like any bad MAC. */
static void test_unknown_device(void **state)
{
	struct dev g;
	struct seen s;

	(void)state;
	dev_new(&g, "2030-01-31", 0, "none");
	warm(&g);
	snprintf(g.p.device_id, sizeof(g.p.device_id), "dv_nobody");
	checkin(&g, &s);
	assert_int_equal(s.status, 401);
	assert_string_equal(s.error, "unauthenticated");
}

/* A check-in reporting the token seq the phone holds, locked or not. */
static void report(struct dev *g, long long seq, bool locked, struct seen *s)
{
	struct fl_dp_checkin_req q;
	char *body = NULL;

	memset(&q, 0, sizeof(q));
	q.seq = (uint64_t)seq;
	q.locked = locked;
	q.trusted_time = (fl_time)time(NULL);
	q.wall_time = q.trusted_time;
	assert_int_equal(fl_dp_checkin_req_encode(&q, &body), FL_OK);
	checkin_body(g, body, s);
	free(body);
	assert_int_equal(s->status, 200);
}

/* The lender API's lock_status of g, and the token seq its phone
 * confirmed (-1: none). */
static long long confirmed(struct dev *g, char status[16])
{
	struct srv_res r;
	json_t *phone;
	long long seq = -1;

	assert_int_equal(devapi_show(S, &L, g->id, &r), 0);
	assert_int_equal(r.status, 200);
	snprintf(status, 16, "%s",
	         json_string_value(json_object_get(r.json, "lock_status")));
	phone = json_object_get(r.json, "phone");
	if (json_is_object(phone))
		seq = json_integer_value(json_object_get(phone, "token_seq"));
	srv_res_free(&r);
	return seq;
}

/* Waits out the write-behind period (FL_DEVAUTH_FLUSH_MS, bound 1 s). */
static void after_flush(void)
{
	struct timespec ts = {1, 200000000L};

	nanosleep(&ts, NULL);
}

/* The token seq g's phone confirmed once the write-behind has run: asked
 * again for up to 10 s while it is not `want` (a loaded machine may run
 * the flush late), with lock_status into status. */
static long long confirmed_soon(struct dev *g, long long want,
                                char status[16])
{
	struct timespec ts = {0, 100000000L};
	long long seq = confirmed(g, status);

	for (int i = 0; i < 100 && seq != want; i++) {
		nanosleep(&ts, NULL);
		seq = confirmed(g, status);
	}
	return seq;
}

static void test_confirmations(void **state)
{
	struct dev g, h;
	struct seen s;
	char status[16];
	long long seq, locked_seq;

	(void)state;
	/* unlocked, as before: written behind, seen within the bound */
	dev_new(&g, "2030-01-31", 0, "none");
	seq = warm(&g);
	assert_int_equal(confirmed(&g, status), -1);
	assert_string_equal(status, "unknown");
	report(&g, seq, false, &s);
	assert_int_equal(confirmed_soon(&g, seq, status), seq);
	assert_string_equal(status, "unlocked");

	/* an unlocked report waiting to be written, then a lock confirmed
	 * with its event: the older report does not overwrite it */
	dev_new(&h, "2030-01-31", 0, "none");
	seq = warm(&h);
	report(&h, seq, false, &s);
	post(h.id, "lock", "{\"reason\":\"test\"}");
	locked_seq = stored(&h, NULL);
	assert_true(locked_seq > seq);
	report(&h, locked_seq, true, &s);
	assert_int_equal(confirmed(&h, status), locked_seq);
	assert_string_equal(status, "locked");
	after_flush();
	assert_int_equal(confirmed(&h, status), locked_seq);
	assert_string_equal(status, "locked");

	/* a report waiting to be written while the row changes and is read
	 * again (the stored confirmation is none): the report is written,
	 * not what the row said */
	dev_new(&h, "2030-01-31", 0, "none");
	seq = warm(&h);
	report(&h, seq, false, &s);
	post(h.id, "stolen", "{\"reason\":\"reported by the owner\"}");
	checkin(&h, &s);
	assert_int_equal(s.status, 200);
	assert_int_equal(confirmed_soon(&h, seq, status), seq);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_payment),
	        cmocka_unit_test(test_lender_commands),
	        cmocka_unit_test(test_sweep_decision),
	        cmocka_unit_test(test_tamper_report),
	        cmocka_unit_test(test_reenrollment),
	        cmocka_unit_test(test_unknown_device),
	        cmocka_unit_test(test_confirmations),
	        cmocka_unit_test(test_restart),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
