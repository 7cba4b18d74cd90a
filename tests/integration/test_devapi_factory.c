/*
 * What an IMEI tells a stranger, and what only the phone itself gets,
 * against a real finlockd, with phones spoken by hand (devapi_raw):
 *
 *   - the anonymous lookup of a locked phone's IMEI says no more than the
 *     public check (no state, lock, contact, loan or amount), and takes no
 *     serial; the public check with the serial adds the lender's contact;
 *   - a lookup signed by the factory key registered at enrollment gets
 *     the device's token; another factory key, a phone enrolled without
 *     one, a released phone get none; a bad signature is refused;
 *   - pending pairing requests are bounded per device and per client
 *     network, a request signed by the registered factory key is admitted
 *     however many anonymous ones wait and is approved by its request id;
 *   - two pending requests showing the same code are answered 409
 *     ambiguous_pairing_code with both as candidates, and the lender
 *     chooses by request id (also through the CLI);
 *   - a stale counter under a good MAC is answered with the server's
 *     counter, MAC'd, and the next request above it succeeds.
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
#include "core/token.h"
#include "store/store.h"
#include "support/cli_run.h"
#include "support/devapi_phone.h"
#include "support/proc.h"
#include "support/server_harness.h"

static struct srv *S;
static struct devapi_lender L;
static unsigned next_imei = 700;

static int setup(void **state)
{
	/* 100 requests from one address in a test: the public limiter
	 * is not what is tried here */
	static const char *const args[] = {"--public-burst", "100000",
	                                   "--public-global-burst", "1000000",
	                                   NULL};

	(void)state;
	return devapi_start(&S, &L, args);
}

static int teardown(void **state)
{
	(void)state;
	srv_free(S);
	return 0;
}

struct reg {
	char imei1[16], imei2[16], id[64], code[64];
};

static void reg_new(struct reg *g)
{
	devapi_imei(next_imei++, g->imei1);
	devapi_imei(next_imei++, g->imei2);
	assert_int_equal(
	        devapi_register(S, &L, g->imei1, g->imei2, g->id, g->code), 0);
}

/* A registered device, overdue (locked), enrolled by a phone with a
 * factory key (or none): *ph is that phone. */
static void enrolled_locked(struct reg *g, struct devapi_raw *ph, bool factory)
{
	struct srv_res r;

	reg_new(g);
	assert_int_equal(devapi_contract(S, &L, g->id, "2025-01-01", 150000, 0,
	                                 "none", "none"),
	                 0);
	devapi_raw_new(ph, g->imei1, g->imei2);
	if (factory)
		devapi_raw_factory(ph);
	assert_int_equal(devapi_raw_enroll(S, ph, g->code, false, L.root, &r),
	                 200);
	srv_res_free(&r);
}

/* The same phone after a reflash: new keys, the same factory key. */
static void reflashed(const struct devapi_raw *old, struct devapi_raw *now)
{
	devapi_raw_new(now, old->imei[0],
	               old->n_imei > 1 ? old->imei[1] : NULL);
	now->has_factory = old->has_factory;
	memcpy(now->factory_pk, old->factory_pk, 32);
	memcpy(now->factory_sk, old->factory_sk, 64);
}

static long post(const char *path, const char *key, const char *body,
                 struct srv_res *r)
{
	assert_int_equal(srv_req(S, "POST", path, key, body, r), 0);
	return r->status;
}

/* Nothing in text names the debtor or the lock. Signatures, keys and ids
 * (runs of 20 or more base64url characters) are random and may spell
 * anything: they are blanked before the search. */
static void tells_nothing(const char *text)
{
	static const char *const secret[] = {
	        "locked", "state",   "LN-0001", "Acme", "+254700000001",
	        "1,500",  "150000",  "amount",  "loan", "contact",
	        "lock_",  "message", "reminder"};
	size_t n = strlen(text), run = 0;
	char *plain = strdup(text);

	assert_non_null(plain);
	for (size_t i = 0; i <= n; i++) {
		char c = plain[i];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_') {
			run++;
			continue;
		}
		if (run >= 20)
			memset(plain + i - run, '#', run);
		run = 0;
	}
	for (size_t i = 0; i < sizeof(secret) / sizeof(*secret); i++) {
		if (strstr(plain, secret[i]) != NULL)
			fprintf(stderr, "\"%s\" in %s\n", secret[i], text);
		assert_null(strstr(plain, secret[i]));
	}
	free(plain);
}

/* POST /v1/devices/{id}/<what> {"reason": reason}: 200. */
static void command(const char *id, const char *what, const char *reason)
{
	struct srv_res r;
	char path[128], body[128];

	snprintf(path, sizeof(path), "/v1/devices/%s/%s", id, what);
	snprintf(body, sizeof(body), "{\"reason\":\"%s\"}", reason);
	assert_int_equal(post(path, L.admin, body, &r), 200);
	srv_res_free(&r);
}

/* --- lookup -----------------------------------------------------------------
 */

static void test_anonymous_lookup_is_the_public_check(void **state)
{
	struct fl_dp_lookup_payload p;
	struct fl_device_claims c;
	struct devapi_raw ph, stranger;
	struct srv_res r;
	struct reg g;
	char path[128], *text = NULL, body[512];

	(void)state;
	enrolled_locked(&g, &ph, true);
	/* the device is locked (its own check-in says so) */
	assert_int_equal(devapi_raw_checkin(S, &ph, 1, &r), 200);
	srv_res_free(&r);

	/* by either IMEI, one or both: the program and the public word */
	for (int k = 0; k < 3; k++) {
		devapi_raw_new(&stranger, k == 1 ? g.imei2 : g.imei1,
		               k == 2 ? g.imei2 : NULL);
		assert_int_equal(devapi_raw_lookup(S, &stranger, false, L.root,
		                                   &p, &c, &text, &r),
		                 200);
		assert_int_equal(p.program, FL_DP_PROG_PAIRING);
		assert_string_equal(p.status, "financed");
		assert_null(p.token);
		assert_null(c.sub);
		tells_nothing(text);
		tells_nothing(r.body);
		free(text);
		fl_dp_lookup_payload_clear(&p);
		srv_res_free(&r);
	}

	/* the lookup takes no serial: it cannot say more for one */
	snprintf(body, sizeof(body),
	         "{\"imei\":[\"%s\"],\"nonce\":"
	         "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
	         "\"serial\":\"SN-%s\"}",
	         g.imei1, g.imei1);
	assert_int_equal(post(FL_DP_PATH_LOOKUP, NULL, body, &r), 400);
	assert_string_equal(srv_err_code(&r), "bad_request");
	srv_res_free(&r);

	/* the public check says the same word; with the serial it adds the
	 * lender's contact, still no state, loan or amount */
	snprintf(path, sizeof(path), "/v1/imei/%s", g.imei1);
	assert_int_equal(srv_req(S, "GET", path, NULL, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(srv_jstr(&r, "status"), "financed");
	tells_nothing(r.body);
	srv_res_free(&r);
	snprintf(path, sizeof(path), "/v1/imei/%s?serial=SN-%s", g.imei1,
	         g.imei1);
	assert_int_equal(srv_req(S, "GET", path, NULL, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "+254700000001"));
	assert_null(strstr(r.body, "locked"));
	assert_null(strstr(r.body, "LN-0001"));
	assert_null(strstr(r.body, "1,500"));
	srv_res_free(&r);

	/* stolen: the word changes, nothing else appears */
	command(g.id, "stolen", "police report");
	devapi_raw_new(&stranger, g.imei1, NULL);
	assert_int_equal(devapi_raw_lookup(S, &stranger, false, L.root, &p, &c,
	                                   &text, &r),
	                 200);
	assert_string_equal(p.status, "stolen");
	assert_null(p.token);
	tells_nothing(text);
	free(text);
	fl_dp_lookup_payload_clear(&p);
	srv_res_free(&r);
}

/* ph's factory-signed lookup: released, with the public word status,
 * no token. */
static void expect_released(const struct devapi_raw *ph, const char *status)
{
	struct fl_dp_lookup_payload p;
	struct fl_device_claims c;
	struct srv_res r;

	assert_int_equal(
	        devapi_raw_lookup(S, ph, false, L.root, &p, &c, NULL, &r), 200);
	assert_int_equal(p.program, FL_DP_PROG_RELEASED);
	assert_string_equal(p.status, status);
	assert_null(p.token);
	fl_dp_lookup_payload_clear(&p);
	srv_res_free(&r);
}

static void test_factory_lookup_gets_the_token(void **state)
{
	struct fl_dp_lookup_payload p;
	struct fl_device_claims c;
	struct devapi_raw ph, again, other, old;
	struct srv_res r;
	struct reg g, h;
	char path[128];

	(void)state;
	enrolled_locked(&g, &ph, true);

	/* the reflashed phone signs with its factory key: the token, whose
	 * claims lock it */
	reflashed(&ph, &again);
	assert_int_equal(
	        devapi_raw_lookup(S, &again, false, L.root, &p, &c, NULL, &r),
	        200);
	assert_int_equal(p.program, FL_DP_PROG_PAIRING);
	assert_string_equal(p.status, "financed");
	assert_non_null(p.token);
	assert_string_equal(c.sub, g.id);
	assert_int_equal(c.state, FL_ST_LOCKED);
	assert_int_equal(c.n_imei, 2);
	assert_string_equal(c.loan_ref, "LN-0001");
	fl_claims_clear(&c);
	fl_dp_lookup_payload_clear(&p);
	srv_res_free(&r);

	/* a good signature by another factory key: no token */
	devapi_raw_new(&other, g.imei1, g.imei2);
	devapi_raw_factory(&other);
	assert_int_equal(
	        devapi_raw_lookup(S, &other, false, L.root, &p, &c, NULL, &r),
	        200);
	assert_string_equal(p.status, "financed");
	assert_null(p.token);
	assert_null(c.sub);
	fl_dp_lookup_payload_clear(&p);
	srv_res_free(&r);

	/* the registered factory_pk without its signature: refused */
	assert_int_equal(
	        devapi_raw_lookup(S, &again, true, L.root, &p, &c, NULL, &r),
	        400);
	assert_string_equal(srv_err_code(&r), "bad_signature");
	srv_res_free(&r);

	/* a re-enrollment by pairing keeps the factory key */
	assert_int_equal(devapi_raw_enroll(S, &again, "", false, L.root, &r),
	                 202);
	srv_res_free(&r);
	{
		char body[96], code[FL_DP_PAIRING_LEN + 1];

		fl_dp_pairing_code(again.sign_pk, again.kx_pk, code);
		snprintf(path, sizeof(path), "/v1/devices/%s/approve-pairing",
		         g.id);
		snprintf(body, sizeof(body), "{\"pairing_code\":\"%s\"}", code);
		assert_int_equal(post(path, L.admin, body, &r), 200);
		srv_res_free(&r);
	}
	assert_int_equal(devapi_raw_enroll(S, &again, "", false, L.root, &r),
	                 200);
	srv_res_free(&r);
	reflashed(&again, &old);
	assert_int_equal(
	        devapi_raw_lookup(S, &old, false, L.root, &p, &c, NULL, &r),
	        200);
	assert_non_null(p.token);
	assert_string_equal(c.sub, g.id);
	fl_claims_clear(&c);
	fl_dp_lookup_payload_clear(&p);
	srv_res_free(&r);

	/* enrolled without a factory key (an older phone): no key is
	 * registered, no lookup gets the token */
	enrolled_locked(&h, &ph, false);
	devapi_raw_new(&other, h.imei1, NULL);
	devapi_raw_factory(&other);
	assert_int_equal(
	        devapi_raw_lookup(S, &other, false, L.root, &p, &c, NULL, &r),
	        200);
	assert_int_equal(p.program, FL_DP_PROG_PAIRING);
	assert_null(p.token);
	fl_dp_lookup_payload_clear(&p);
	srv_res_free(&r);

	/* released: nothing to enforce, no token, even for the factory
	 * key; stolen later, still released (the word says stolen) */
	command(g.id, "release", "paid off");
	expect_released(&old, "released");
	command(g.id, "stolen", "police report");
	expect_released(&old, "stolen");
	/* and a reflashed phone cannot pair its way back in */
	assert_int_equal(devapi_raw_enroll(S, &old, "", false, L.root, &r),
	                 404);
	assert_string_equal(srv_err_code(&r), "not_in_program");
	srv_res_free(&r);
}

/* The factory signature of an enrollment is checked; a good one is
 * registered and audited. */
static void test_enroll_factory_signature(void **state)
{
	struct devapi_raw ph;
	struct srv_res r;
	struct reg g;
	uint8_t sk[64];
	json_t *items, *after;

	(void)state;
	reg_new(&g);
	devapi_raw_new(&ph, g.imei1, g.imei2);
	devapi_raw_factory(&ph);
	/* factory_pk is not the key that signs */
	fl_sign_keypair(ph.factory_pk, sk);
	assert_int_equal(devapi_raw_enroll(S, &ph, g.code, false, L.root, &r),
	                 403);
	assert_string_equal(srv_err_code(&r), "bad_signature");
	srv_res_free(&r);
	/* the code is still good for the right phone */
	devapi_raw_factory(&ph);
	assert_int_equal(devapi_raw_enroll(S, &ph, g.code, false, L.root, &r),
	                 200);
	srv_res_free(&r);
	assert_int_equal(srv_req(S, "GET",
	                         "/v1/audit?action=device.enroll&limit=100",
	                         L.admin, NULL, &r),
	                 0);
	items = json_object_get(r.json, "items");
	assert_true(json_array_size(items) >= 1);
	after = NULL;
	for (size_t i = 0; i < json_array_size(items); i++) {
		json_t *it = json_array_get(items, i);

		if (strcmp(json_string_value(json_object_get(it, "target")),
		           g.id) == 0)
			after = json_object_get(it, "after");
	}
	assert_non_null(after);
	assert_true(json_is_true(json_object_get(after, "factory_key")));
	srv_res_free(&r);
}

/* --- pairing ----------------------------------------------------------------
 */

/* The pending requests of device id (GET pairing-requests), new
 * reference. */
static json_t *pending_of(const char *id)
{
	struct srv_res r;
	char path[128];
	json_t *items, *out = json_array(), *it;
	size_t i;

	snprintf(path, sizeof(path), "/v1/devices/%s/pairing-requests", id);
	assert_int_equal(srv_req(S, "GET", path, L.admin, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	items = json_object_get(r.json, "items");
	json_array_foreach(items, i, it)
	{
		if (strcmp(json_string_value(json_object_get(it, "status")),
		           "pending") == 0)
			json_array_append(out, it);
	}
	srv_res_free(&r);
	return out;
}

/* An anonymous pairing request for g (fresh keys): its status. */
static long anonymous_pairing(const struct reg *g)
{
	struct devapi_raw x;
	struct srv_res r;
	long st;

	devapi_raw_new(&x, g->imei1, NULL);
	st = devapi_raw_enroll(S, &x, "", false, L.root, &r);
	if (st == 429)
		assert_string_equal(srv_err_code(&r), "rate_limited");
	srv_res_free(&r);
	return st;
}

static void test_factory_request_never_crowded_out(void **state)
{
	struct devapi_raw ph, again;
	struct srv_res r;
	struct reg g;
	json_t *pend, *it;
	char path[128], body[96];
	long long rid = 0;
	int admitted = 0;
	size_t i;

	(void)state;
	enrolled_locked(&g, &ph, true);
	/* a hundred anonymous requests from one network: the device's
	 * bound admits the first 8 */
	for (int k = 0; k < 100; k++)
		admitted += anonymous_pairing(&g) == 202;
	assert_int_equal(admitted, FL_PAIRING_MAX);

	/* the reflashed phone, factory-signed, from the same network */
	reflashed(&ph, &again);
	assert_int_equal(devapi_raw_enroll(S, &again, "", false, L.root, &r),
	                 202);
	srv_res_free(&r);
	/* it took the place of the oldest anonymous one */
	pend = pending_of(g.id);
	assert_int_equal(json_array_size(pend), FL_PAIRING_MAX);
	json_array_foreach(pend, i, it)
	{
		char code[FL_DP_PAIRING_LEN + 1];

		fl_dp_pairing_code(again.sign_pk, again.kx_pk, code);
		if (json_is_true(json_object_get(it, "factory_signed"))) {
			assert_int_equal(rid, 0);
			rid = json_integer_value(
			        json_object_get(it, "request_id"));
			assert_string_equal(json_string_value(json_object_get(
			                            it, "pairing_code")),
			                    code);
			assert_string_equal(json_string_value(json_object_get(
			                            it, "client_network")),
			                    "127.0.0.0/24");
		}
	}
	assert_true(rid > 0);
	json_decref(pend);
	/* asking again is answered the same, still admitted */
	assert_int_equal(devapi_raw_enroll(S, &again, "", false, L.root, &r),
	                 202);
	srv_res_free(&r);
	/* and more anonymous ones cannot push it out */
	for (int k = 0; k < 20; k++)
		assert_int_equal(anonymous_pairing(&g), 429);

	/* the lender approves it by its id; the phone enrolls */
	snprintf(path, sizeof(path), "/v1/devices/%s/approve-pairing", g.id);
	snprintf(body, sizeof(body), "{\"request_id\":%lld}", rid);
	assert_int_equal(post(path, L.admin, body, &r), 200);
	assert_true(json_is_true(json_object_get(
	        json_object_get(r.json, "request"), "factory_signed")));
	srv_res_free(&r);
	assert_int_equal(devapi_raw_enroll(S, &again, "", false, L.root, &r),
	                 200);
	srv_res_free(&r);
	assert_int_equal(devapi_raw_checkin(S, &again, 1, &r), 200);
	srv_res_free(&r);
}

static void test_pairing_bound_per_network(void **state)
{
	struct devapi_raw ph;
	struct srv_res r;
	struct reg g[4];
	json_t *pend;

	(void)state;
	for (int k = 0; k < 4; k++)
		enrolled_locked(&g[k], &ph, false);
	/* one network fills its share across devices ... */
	srv_set_source(S, "127.0.3.1");
	for (int k = 0; k < FL_PAIRING_NET_MAX; k++)
		assert_int_equal(anonymous_pairing(&g[k / FL_PAIRING_MAX]),
		                 202);
	assert_int_equal(anonymous_pairing(&g[2]), 429);
	/* ... an address of the same /24 shares it ... */
	srv_set_source(S, "127.0.3.77");
	assert_int_equal(anonymous_pairing(&g[3]), 429);
	/* ... another network does not */
	srv_set_source(S, "127.0.4.5");
	assert_int_equal(anonymous_pairing(&g[3]), 202);
	srv_set_source(S, NULL);
	pend = pending_of(g[3].id);
	assert_int_equal(json_array_size(pend), 1);
	assert_string_equal(json_string_value(json_object_get(
	                            json_array_get(pend, 0), "client_network")),
	                    "127.0.4.0/24");
	assert_false(json_is_true(
	        json_object_get(json_array_get(pend, 0), "factory_signed")));
	json_decref(pend);
	/* audited with where it came from */
	{
		char q[160];

		snprintf(q, sizeof(q),
		         "/v1/audit?action=device.pairing_request&target=%s",
		         g[3].id);
		assert_int_equal(srv_req(S, "GET", q, L.admin, NULL, &r), 0);
		assert_int_equal(r.status, 200);
	}
	{
		json_t *items = json_object_get(r.json, "items"), *it;
		const char *net = NULL;
		size_t i;

		json_array_foreach(items, i, it)
		{
			if (strcmp(json_string_value(
			                   json_object_get(it, "target")),
			           g[3].id) == 0)
				net = json_string_value(json_object_get(
				        json_object_get(it, "after"),
				        "client_network"));
		}
		assert_non_null(net);
		assert_string_equal(net, "127.0.4.0/24");
	}
	srv_res_free(&r);
}

/* Gives pending request `ord` the pairing code `code` in the database
 * behind the server: two keys whose codes collide cannot be found in a
 * test (16 digits), so the collision is made. */
static void set_code(long long ord, const char *code)
{
	char path[700], *sql;
	sqlite3 *db = NULL;

	snprintf(path, sizeof(path), "%s/finlock.db", srv_data_dir(S));
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	sql = sqlite3_mprintf("UPDATE pairing_requests SET code = %Q "
	                      "WHERE ord = %lld;",
	                      code, ord);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_changes(db), 1);
	sqlite3_free(sql);
	sqlite3_close(db);
}

/* The id of the pending request of device id showing code, or with
 * factory_signed. */
static long long request_id(const char *id, const char *code, bool factory)
{
	json_t *pend = pending_of(id), *it;
	long long rid = 0;
	size_t i;

	json_array_foreach(pend, i, it)
	{
		if (strcmp(json_string_value(
		                   json_object_get(it, "pairing_code")),
		           code) == 0 &&
		    json_is_true(json_object_get(it, "factory_signed")) ==
		            factory)
			rid = json_integer_value(
			        json_object_get(it, "request_id"));
	}
	json_decref(pend);
	return rid;
}

static void test_duplicate_codes(void **state)
{
	struct devapi_raw ph, again, intruder;
	struct proc_result pr;
	struct srv_res r;
	struct reg g;
	char path[128], body[128], code[FL_DP_PAIRING_LEN + 1],
	        mine[FL_DP_PAIRING_LEN + 1], spaced[32], rid_s[24];
	long long rid_intruder, rid_phone;
	json_t *cand;

	(void)state;
	enrolled_locked(&g, &ph, true);
	devapi_raw_new(&intruder, g.imei1, NULL);
	assert_int_equal(devapi_raw_enroll(S, &intruder, "", false, L.root, &r),
	                 202);
	srv_res_free(&r);
	reflashed(&ph, &again);
	assert_int_equal(devapi_raw_enroll(S, &again, "", false, L.root, &r),
	                 202);
	srv_res_free(&r);
	fl_dp_pairing_code(intruder.sign_pk, intruder.kx_pk, code);
	fl_dp_pairing_code(again.sign_pk, again.kx_pk, mine);
	rid_intruder = request_id(g.id, code, false);
	rid_phone = request_id(g.id, mine, true);
	assert_true(rid_intruder > 0 && rid_phone > 0);
	/* the intruder's code shows on the real phone's request too */
	set_code(rid_phone, code);

	/* by code: which of the two is meant cannot be told */
	snprintf(path, sizeof(path), "/v1/devices/%s/approve-pairing", g.id);
	snprintf(spaced, sizeof(spaced), "%.4s %.4s %.4s %.4s", code, code + 4,
	         code + 8, code + 12);
	snprintf(body, sizeof(body), "{\"pairing_code\":\"%s\"}", spaced);
	assert_int_equal(post(path, L.admin, body, &r), 409);
	assert_string_equal(srv_err_code(&r), "ambiguous_pairing_code");
	cand = json_object_get(r.json, "candidates");
	assert_int_equal(json_array_size(cand), 2);
	for (size_t i = 0; i < 2; i++) {
		json_t *c = json_array_get(cand, i);
		long long id =
		        json_integer_value(json_object_get(c, "request_id"));

		assert_true(id == rid_intruder || id == rid_phone);
		assert_int_equal(
		        json_is_true(json_object_get(c, "factory_signed")),
		        id == rid_phone);
		assert_non_null(json_object_get(c, "created_at"));
		assert_string_equal(
		        json_string_value(json_object_get(c, "client_network")),
		        "127.0.0.0/24");
	}
	srv_res_free(&r);
	/* nothing was decided */
	assert_int_equal(devapi_raw_enroll(S, &intruder, "", false, L.root, &r),
	                 202);
	srv_res_free(&r);

	/* the CLI names the candidates, and decides by request id */
	snprintf(rid_s, sizeof(rid_s), "%lld", rid_intruder);
	cli_env(srv_url(S), L.admin);
	assert_int_equal(cli_run(&pr, NULL, "devices", "approve", g.id,
	                         "--pairing-code", code, NULL),
	                 1);
	assert_non_null(strstr(pr.err, "409"));
	assert_non_null(strstr(pr.err, "request ids"));
	assert_non_null(strstr(pr.err, rid_s));
	proc_result_free(&pr);
	assert_int_equal(
	        cli_run(&pr, NULL, "devices", "pairing-requests", g.id, NULL),
	        0);
	assert_non_null(strstr(pr.out, "REQUEST"));
	assert_non_null(strstr(pr.out, "FACTORY"));
	assert_non_null(strstr(pr.out, rid_s));
	proc_result_free(&pr);
	assert_int_equal(cli_run(&pr, NULL, "devices", "reject", g.id,
	                         "--request", rid_s, NULL),
	                 0);
	assert_non_null(strstr(pr.out, "rejected"));
	proc_result_free(&pr);
	assert_int_equal(cli_run(&pr, NULL, "devices", "approve", g.id,
	                         "--request", "0", NULL),
	                 1);
	proc_result_free(&pr);
	assert_int_equal(cli_run(&pr, NULL, "devices", "approve", g.id,
	                         "--request", rid_s, "--pairing-code", code,
	                         NULL),
	                 2);
	proc_result_free(&pr);
	assert_int_equal(devapi_raw_enroll(S, &intruder, "", false, L.root, &r),
	                 403);
	assert_string_equal(srv_err_code(&r), "pairing_rejected");
	srv_res_free(&r);

	/* by id through the API: a refused request is no longer pending */
	snprintf(body, sizeof(body), "{\"request_id\":%lld}", rid_intruder);
	assert_int_equal(post(path, L.admin, body, &r), 404);
	srv_res_free(&r);
	assert_int_equal(post(path, L.admin, "{\"request_id\":999999999}", &r),
	                 404);
	srv_res_free(&r);
	assert_int_equal(post(path, L.admin, "{}", &r), 400);
	srv_res_free(&r);
	snprintf(body, sizeof(body),
	         "{\"request_id\":%lld,\"pairing_code\":\"%s\"}", rid_phone,
	         code);
	assert_int_equal(post(path, L.admin, body, &r), 400);
	srv_res_free(&r);
	/* now the code names one request: the phone's */
	snprintf(body, sizeof(body), "{\"pairing_code\":\"%s\"}", code);
	assert_int_equal(post(path, L.admin, body, &r), 200);
	assert_int_equal(
	        json_integer_value(json_object_get(
	                json_object_get(r.json, "request"), "request_id")),
	        rid_phone);
	srv_res_free(&r);
	assert_int_equal(devapi_raw_enroll(S, &again, "", false, L.root, &r),
	                 200);
	srv_res_free(&r);
}

/* --- stale counter ----------------------------------------------------------
 */

/* A 409 stale_counter answer to a request with counter `sent`: the
 * server's counter, whose MAC verifies with the phone's key. */
static uint64_t resync_of(const struct devapi_raw *ph, const struct srv_res *r,
                          uint64_t sent)
{
	struct fl_dp_resync rs;
	uint8_t want[FL_MAC_LEN];

	assert_int_equal(r->status, 409);
	assert_string_equal(srv_err_code(r), "stale_counter");
	assert_int_equal(fl_dp_resync_decode(r->body, r->len, &rs), FL_OK);
	assert_int_equal(fl_dp_resync_mac(want, ph->mac_key, sent, rs.counter),
	                 FL_OK);
	assert_memory_equal(want, rs.mac, FL_MAC_LEN);
	/* bound to the request's counter */
	assert_int_equal(
	        fl_dp_resync_mac(want, ph->mac_key, sent + 1, rs.counter),
	        FL_OK);
	assert_memory_not_equal(want, rs.mac, FL_MAC_LEN);
	return rs.counter;
}

static void test_stale_counter_resync(void **state)
{
	struct devapi_raw ph;
	struct srv_res r;
	struct reg g;
	char target[FL_DP_WAIT_PATH_MAX];
	uint64_t n;

	(void)state;
	enrolled_locked(&g, &ph, true);
	assert_int_equal(devapi_raw_checkin(S, &ph, 40, &r), 200);
	srv_res_free(&r);
	/* a phone restored to an older counter: one refusal tells it
	 * where the server is, the next request is accepted */
	assert_int_equal(devapi_raw_checkin(S, &ph, 3, &r), 409);
	n = resync_of(&ph, &r, 3);
	assert_int_equal(n, 40);
	srv_res_free(&r);
	assert_int_equal(devapi_raw_checkin(S, &ph, n + 1, &r), 200);
	srv_res_free(&r);
	/* the same counter again */
	assert_int_equal(devapi_raw_checkin(S, &ph, 41, &r), 409);
	assert_int_equal(resync_of(&ph, &r, 41), 41);
	srv_res_free(&r);
	/* a wait too */
	fl_dp_wait_path(target, 0);
	assert_int_equal(
	        devapi_raw_call(S, &ph, "GET", target, NULL, 7, false, &r),
	        409);
	assert_int_equal(resync_of(&ph, &r, 7), 41);
	srv_res_free(&r);
	/* a bad MAC learns nothing */
	assert_int_equal(devapi_raw_call(S, &ph, "POST", FL_DP_PATH_CHECKIN,
	                                 "{}", 5, true, &r),
	                 401);
	assert_string_equal(srv_err_code(&r), "unauthenticated");
	assert_null(json_object_get(r.json, "counter"));
	assert_null(json_object_get(r.json, "mac"));
	srv_res_free(&r);
	/* after a restart the counter comes from the store */
	assert_int_equal(srv_stop(S), 0);
	assert_int_equal(srv_restart(S), 0);
	assert_int_equal(devapi_raw_checkin(S, &ph, 2, &r), 409);
	assert_int_equal(resync_of(&ph, &r, 2), 41);
	srv_res_free(&r);
	assert_int_equal(devapi_raw_checkin(S, &ph, 42, &r), 200);
	srv_res_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_anonymous_lookup_is_the_public_check),
	        cmocka_unit_test(test_factory_lookup_gets_the_token),
	        cmocka_unit_test(test_enroll_factory_signature),
	        cmocka_unit_test(test_factory_request_never_crowded_out),
	        cmocka_unit_test(test_pairing_bound_per_network),
	        cmocka_unit_test(test_duplicate_codes),
	        cmocka_unit_test(test_stale_counter_resync),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
