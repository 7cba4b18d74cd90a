/*
 * The device protocol's enrollment and check-in against a real finlockd:
 * the real agent enrolling over HTTP with a clerk's one-time code, and the
 * refusals a phone by hand provokes (used, unknown and expired codes, a
 * forged signature, an IMEI of another device, bad MACs, replayed
 * counters, unknown devices), each with the protocol's JSON error.
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
#include <sqlite3.h>

#include "core/crypto.h"
#include "core/devproto.h"
#include "finlock/agent.h"
#include "support/devapi_phone.h"
#include "support/server_harness.h"

static struct srv *S;
static struct devapi_lender L;
static unsigned next_imei = 100;

static int setup(void **state)
{
	(void)state;
	return devapi_start(&S, &L, NULL);
}

static int teardown(void **state)
{
	(void)state;
	srv_free(S);
	return 0;
}

/* A registered device: IMEIs, id and one-time code. */
struct reg {
	char imei1[16], imei2[16];
	char id[64], code[64];
};

static void reg_new(struct reg *g)
{
	devapi_imei(next_imei++, g->imei1);
	devapi_imei(next_imei++, g->imei2);
	assert_int_equal(
	        devapi_register(S, &L, g->imei1, g->imei2, g->id, g->code), 0);
}

static void expect_error(const struct srv_res *r, long status, const char *code)
{
	if (r->status != status || strcmp(srv_err_code(r), code) != 0)
		fprintf(stderr, "want %ld %s, got %ld %s\n", status, code,
		        r->status, r->body != NULL ? r->body : "");
	assert_int_equal(r->status, status);
	assert_string_equal(srv_err_code(r), code);
}

/* The real agent: lookup, enrollment with the clerk's code, check-in. */
static void test_agent_enrolls_with_code(void **state)
{
	struct devapi_phone p;
	struct fl_agent_status st;
	struct fl_agent_screen sc;
	struct srv_res r;
	struct reg g;
	json_t *dev;

	(void)state;
	reg_new(&g);
	assert_int_equal(devapi_contract(S, &L, g.id, "2030-01-31", 150000, 0,
	                                 "none", "none"),
	                 0);
	assert_int_equal(devapi_phone_open(&p, S, &L, g.imei1, g.imei2), 0);
	assert_int_equal(fl_agent_setup(p.a), FL_OK);
	fl_agent_status(p.a, &st);
	assert_int_equal(st.phase, FL_AGENT_IDLE);
	assert_int_equal(fl_agent_enroll(p.a, g.code), FL_OK);
	fl_agent_status(p.a, &st);
	assert_int_equal(st.phase, FL_AGENT_ENROLLED);
	assert_string_equal(st.device_id, g.id);
	assert_true(st.seq > 0);
	assert_true(st.trusted_time > 0);

	fl_agent_screen(p.a, &sc);
	assert_false(sc.locked);
	assert_string_equal(sc.lender_name, "Acme Finance");
	assert_true(strncmp(sc.loan_ref, "LN-0001-", 8) == 0);
	assert_string_equal(sc.currency, "KES");

	devapi_phone_tick(&p);
	assert_int_equal(fl_agent_checkin(p.a), FL_OK);
	fl_agent_status(p.a, &st);
	assert_int_equal(st.counter, 1);
	assert_int_equal(st.http_status, 200);

	assert_int_equal(devapi_show(S, &L, g.id, &r), 0);
	assert_int_equal(r.status, 200);
	dev = r.json;
	assert_true(json_is_true(json_object_get(dev, "enrolled")));
	assert_string_equal(json_string_value(json_object_get(dev, "state")),
	                    "active");
	assert_int_equal(json_integer_value(json_object_get(dev, "token_seq")),
	                 (json_int_t)st.seq);
	assert_true(json_is_array(json_object_get(dev, "reports")));
	srv_res_free(&r);
	devapi_phone_close(&p);
}

/* A retried enrollment with the same keys gets its answer again; the
 * same code with other keys is 409 code_used. */
static void test_code_retry_and_used(void **state)
{
	struct devapi_raw a, b;
	struct srv_res r;
	struct reg g;

	(void)state;
	reg_new(&g);
	devapi_raw_new(&a, g.imei1, g.imei2);
	assert_int_equal(devapi_raw_enroll(S, &a, g.code, false, L.root, &r),
	                 200);
	srv_res_free(&r);
	assert_string_equal(a.device_id, g.id);
	assert_int_equal(devapi_raw_enroll(S, &a, g.code, false, L.root, &r),
	                 200);
	srv_res_free(&r);

	devapi_raw_new(&b, g.imei1, g.imei2);
	assert_int_equal(devapi_raw_enroll(S, &b, g.code, false, L.root, &r),
	                 409);
	expect_error(&r, 409, "code_used");
	srv_res_free(&r);

	/* the first phone still checks in */
	assert_int_equal(devapi_raw_checkin(S, &a, 1, &r), 200);
	srv_res_free(&r);
}

static void test_unknown_code_and_forgery(void **state)
{
	struct devapi_raw a;
	struct srv_res r;
	struct reg g;

	(void)state;
	reg_new(&g);
	devapi_raw_new(&a, g.imei1, g.imei2);
	assert_int_equal(
	        devapi_raw_enroll(S, &a, "ZZZZ-ZZZZ-ZZZZ", false, L.root, &r),
	        404);
	expect_error(&r, 404, "unknown_code");
	srv_res_free(&r);
	assert_int_equal(
	        devapi_raw_enroll(S, &a, "not a code", false, L.root, &r), 404);
	srv_res_free(&r);

	/* signed by a key other than the sign_pk it carries */
	assert_int_equal(devapi_raw_enroll(S, &a, g.code, true, L.root, &r),
	                 403);
	expect_error(&r, 403, "bad_signature");
	srv_res_free(&r);

	/* another device's IMEI with this code */
	{
		struct devapi_raw x;
		char other[16];

		devapi_imei(next_imei++, other);
		devapi_raw_new(&x, other, NULL);
		assert_int_equal(
		        devapi_raw_enroll(S, &x, g.code, false, L.root, &r),
		        422);
		expect_error(&r, 422, "imei_mismatch");
		srv_res_free(&r);
	}

	/* malformed bodies */
	assert_int_equal(
	        srv_req(S, "POST", FL_DP_PATH_ENROLL, NULL, "{\"code\":1}", &r),
	        0);
	expect_error(&r, 400, "bad_request");
	srv_res_free(&r);

	/* refused attempts used nothing up: the real phone enrolls */
	assert_int_equal(devapi_raw_enroll(S, &a, g.code, false, L.root, &r),
	                 200);
	srv_res_free(&r);
}

/* Sets a device's code expiry in the database behind the server (a test
 * cannot wait the minimum code lifetime). */
static void expire_code(const char *id)
{
	char path[700], *sql;
	sqlite3 *db = NULL;

	snprintf(path, sizeof(path), "%s/finlock.db", srv_data_dir(S));
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	sql = sqlite3_mprintf("UPDATE devices SET enroll_expires = 1000 "
	                      "WHERE id = %Q;",
	                      id);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_changes(db), 1);
	sqlite3_free(sql);
	sqlite3_close(db);
}

static void test_expired_code(void **state)
{
	struct devapi_raw a;
	struct srv_res r;
	struct reg g;

	(void)state;
	reg_new(&g);
	expire_code(g.id);
	devapi_raw_new(&a, g.imei1, NULL);
	assert_int_equal(devapi_raw_enroll(S, &a, g.code, false, L.root, &r),
	                 410);
	expect_error(&r, 410, "code_expired");
	srv_res_free(&r);
}

/* MAC refusals: bad MAC and unknown device are the same 401; a good MAC
 * with a counter not above the last is 409 stale_counter; any counter
 * above the last is fine (a lost answer never wedges a phone). */
static void test_checkin_refusals(void **state)
{
	struct devapi_raw a, ghost;
	struct srv_res r;
	struct reg g;
	const char *hdrs[] = {FL_DP_HDR_DEVICE ": dv_nobody",
	                      FL_DP_HDR_COUNTER ": 1", NULL};

	(void)state;
	reg_new(&g);
	devapi_raw_new(&a, g.imei1, g.imei2);
	assert_int_equal(devapi_raw_enroll(S, &a, g.code, false, L.root, &r),
	                 200);
	srv_res_free(&r);

	assert_int_equal(devapi_raw_call(S, &a, "POST", FL_DP_PATH_CHECKIN,
	                                 "{}", 1, true, &r),
	                 401);
	expect_error(&r, 401, "unauthenticated");
	srv_res_free(&r);

	ghost = a;
	snprintf(ghost.device_id, sizeof(ghost.device_id), "dv_nobody");
	assert_int_equal(devapi_raw_checkin(S, &ghost, 1, &r), 401);
	expect_error(&r, 401, "unauthenticated");
	srv_res_free(&r);

	assert_int_equal(srv_reqx(S, "POST", FL_DP_PATH_CHECKIN, NULL, hdrs,
	                          "{}", 2, &r),
	                 0);
	expect_error(&r, 401, "unauthenticated");
	srv_res_free(&r);

	/* a refused MAC did not consume the counter */
	assert_int_equal(devapi_raw_checkin(S, &a, 1, &r), 200);
	srv_res_free(&r);
	/* the same request again: a replay */
	assert_int_equal(devapi_raw_checkin(S, &a, 1, &r), 409);
	expect_error(&r, 409, "stale_counter");
	srv_res_free(&r);
	/* a jump ahead is accepted, then anything lower is stale */
	assert_int_equal(devapi_raw_checkin(S, &a, 50, &r), 200);
	srv_res_free(&r);
	assert_int_equal(devapi_raw_checkin(S, &a, 49, &r), 409);
	srv_res_free(&r);
	assert_int_equal(devapi_raw_checkin(S, &a, 51, &r), 200);
	srv_res_free(&r);

	/* a MAC'd request with a body that is not a check-in */
	assert_int_equal(devapi_raw_call(S, &a, "POST", FL_DP_PATH_CHECKIN,
	                                 "{\"seq\":\"x\"}", 52, false, &r),
	                 400);
	expect_error(&r, 400, "bad_request");
	srv_res_free(&r);

	/* a counter header that is not canonical */
	{
		const char *h2[] = {NULL, FL_DP_HDR_COUNTER ": 007",
		                    FL_DP_HDR_MAC ": 00", NULL};
		char dev[128];

		snprintf(dev, sizeof(dev), FL_DP_HDR_DEVICE ": %s",
		         a.device_id);
		h2[0] = dev;
		assert_int_equal(srv_reqx(S, "POST", FL_DP_PATH_CHECKIN, NULL,
		                          h2, "{}", 2, &r),
		                 0);
		expect_error(&r, 400, "bad_request");
		srv_res_free(&r);
	}
}

/* The counter survives a restart: the write-behind reached the store, so
 * a request replayed after the restart is still refused. */
static void test_counter_survives_restart(void **state)
{
	struct devapi_raw a;
	struct srv_res r;
	struct reg g;

	(void)state;
	reg_new(&g);
	devapi_raw_new(&a, g.imei1, g.imei2);
	assert_int_equal(devapi_raw_enroll(S, &a, g.code, false, L.root, &r),
	                 200);
	srv_res_free(&r);
	assert_int_equal(devapi_raw_checkin(S, &a, 7, &r), 200);
	srv_res_free(&r);
	/* a clean stop writes what is pending */
	assert_int_equal(srv_stop(S), 0);
	assert_int_equal(srv_restart(S), 0);
	assert_int_equal(devapi_raw_checkin(S, &a, 7, &r), 409);
	srv_res_free(&r);
	assert_int_equal(devapi_raw_checkin(S, &a, 8, &r), 200);
	srv_res_free(&r);

	/* and kill -9 one second after a check-in loses nothing either */
	assert_int_equal(devapi_raw_checkin(S, &a, 9, &r), 200);
	srv_res_free(&r);
	{
		struct timespec ts = {1, 200 * 1000 * 1000};

		nanosleep(&ts, NULL);
	}
	srv_kill9(S);
	assert_int_equal(srv_restart(S), 0);
	assert_int_equal(devapi_raw_checkin(S, &a, 9, &r), 409);
	srv_res_free(&r);
	assert_int_equal(devapi_raw_checkin(S, &a, 10, &r), 200);
	srv_res_free(&r);
}

/* A check-in as a phone sends it, with token_held as given: the status,
 * and in *seq the seq of the answer's token, verified as the phone would
 * (0 when the answer has none). The answer's MAC covers what came. */
static long checkin_held(struct devapi_raw *a, uint64_t held_seq, bool held,
                         uint64_t *seq)
{
	struct fl_dp_checkin_answer ans = {0};
	struct fl_device_claims c = {0};
	struct fl_claims_expect e = {0};
	struct fl_dp_checkin_req q;
	struct fl_trust *t = NULL;
	struct srv_res r;
	char *body = NULL;
	long st;

	*seq = 0;
	memset(&q, 0, sizeof(q));
	q.seq = held_seq;
	q.trusted_time = (fl_time)time(NULL);
	q.wall_time = q.trusted_time;
	q.token_held = held;
	assert_int_equal(fl_dp_checkin_req_encode(&q, &body), FL_OK);
	st = devapi_raw_call(S, a, "POST", FL_DP_PATH_CHECKIN, body,
	                     a->counter + 1, false, &r);
	free(body);
	if (st == 200) {
		assert_int_equal(fl_dp_checkin_answer_decode(r.body, r.len, &ans),
		                 FL_OK);
	}
	if (ans.token != NULL) {
		assert_int_equal(fl_trust_new(&t, L.root), FL_OK);
		for (size_t i = 0; i < ans.keys.n_certs; i++)
			assert_int_equal(fl_trust_add_cert(t, ans.keys.certs[i],
			                                   q.trusted_time, NULL),
			                 FL_OK);
		e.device_id = a->device_id;
		e.imei = a->imei[0];
		e.now = q.trusted_time;
		e.skew = 300;
		assert_int_equal(fl_device_token_verify(t, ans.token, &e, &c),
		                 FL_OK);
		*seq = c.seq;
		fl_claims_clear(&c);
		fl_trust_free(t);
	}
	fl_dp_checkin_answer_clear(&ans);
	srv_res_free(&r);
	return st;
}

/* A phone that says it holds the newest token (token_held) is not sent it
 * again; one that does not say so, or holds an older seq, is; after a
 * restart (nothing cached) the same. */
static void test_token_held(void **state)
{
	struct devapi_raw a;
	struct srv_res r;
	struct reg g;
	char path[160];
	uint64_t seq0, seq;

	(void)state;
	reg_new(&g);
	assert_int_equal(devapi_contract(S, &L, g.id, "2030-01-31", 150000, 0,
	                                 "none", "none"),
	                 0);
	devapi_raw_new(&a, g.imei1, g.imei2);
	assert_int_equal(devapi_raw_enroll(S, &a, g.code, false, L.root, &r),
	                 200);
	srv_res_free(&r);
	seq0 = a.seq;

	/* without token_held: the token, always */
	assert_int_equal(checkin_held(&a, seq0, false, &seq), 200);
	assert_int_equal(seq, seq0);
	/* with it, for the newest seq: none */
	assert_int_equal(checkin_held(&a, seq0, true, &seq), 200);
	assert_int_equal(seq, 0);
	/* an older seq than the newest gets the token whatever it says */
	assert_int_equal(checkin_held(&a, seq0 - 1, true, &seq), 200);
	assert_int_equal(seq, seq0);

	/* the lender locks it: the seq moves, and the phone that held the
	 * older token is sent the new one */
	snprintf(path, sizeof(path), "/v1/devices/%s/lock", g.id);
	assert_int_equal(srv_req(S, "POST", path, L.admin,
	                         "{\"reason\":\"customer unreachable\"}", &r),
	                 0);
	assert_int_equal(r.status, 200);
	srv_res_free(&r);
	assert_int_equal(checkin_held(&a, seq0, true, &seq), 200);
	assert_true(seq > seq0);
	a.seq = seq;
	assert_int_equal(checkin_held(&a, a.seq, true, &seq), 200);
	assert_int_equal(seq, 0);

	/* after a restart, from the store alone */
	assert_int_equal(srv_stop(S), 0);
	assert_int_equal(srv_restart(S), 0);
	assert_int_equal(checkin_held(&a, a.seq, true, &seq), 200);
	assert_int_equal(seq, 0);
	assert_int_equal(checkin_held(&a, a.seq, false, &seq), 200);
	assert_int_equal(seq, a.seq);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_agent_enrolls_with_code),
	        cmocka_unit_test(test_code_retry_and_used),
	        cmocka_unit_test(test_unknown_code_and_forgery),
	        cmocka_unit_test(test_expired_code),
	        cmocka_unit_test(test_checkin_refusals),
	        cmocka_unit_test(test_counter_survives_restart),
	        cmocka_unit_test(test_token_held),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
