/*
 * Integration test of tenant isolation: a second tenant's admin gets 404
 * on every endpoint that takes one of the first tenant's ids, sees none of
 * its records in any list, cannot replay its idempotency keys and reads
 * only its own audit chain; the operator reads no tenant's devices. The
 * first tenant's records are unchanged afterwards.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "support/server_harness.h"

static struct srv *S;
static char TA[64], KA[64], TB[64], KB[64];
static char DEV[64], PAY[64], KEY_ID[64];

static long call(const char *method, const char *path, const char *key,
                 const char *body, struct srv_res *r)
{
	assert_int_equal(srv_req(S, method, path, key, body, r), 0);
	return r->status;
}

static int setup(void **state)
{
	struct srv_res r;

	(void)state;
	if (srv_start(&S, NULL) != 0 ||
	    srv_tenant(S, "Lender A", TA, KA) != 0 ||
	    srv_tenant(S, "Lender B", TB, KB) != 0)
		return -1;
	/* tenant A: a device with a contract, a payment, a clerk key */
	if (call("POST", "/v1/devices", KA,
	         "{\"imei\":\"490154203237518\",\"serial\":\"A-1\"}",
	         &r) != 201)
		return -1;
	snprintf(DEV, sizeof(DEV), "%s",
	         json_string_value(json_object_get(
	                 json_object_get(r.json, "device"), "id")));
	srv_res_free(&r);
	char path[256];
	snprintf(path, sizeof(path), "/v1/devices/%s/contract", DEV);
	if (call("POST", path, KA,
	         "{\"currency\":\"USD\",\"schedule\":[{\"due\":\"2030-01-01\","
	         "\"amount\":5000}]}",
	         &r) != 201)
		return -1;
	srv_res_free(&r);
	snprintf(path, sizeof(path), "/v1/devices/%s/payments", DEV);
	const char *h[] = {"Idempotency-Key: shared-key", NULL};
	const char *b = "{\"amount\":100,\"reference\":\"A-PAY\"}";
	if (srv_reqx(S, "POST", path, KA, h, b, strlen(b), &r) != 0 ||
	    r.status != 201)
		return -1;
	snprintf(PAY, sizeof(PAY), "%s",
	         json_string_value(json_object_get(
	                 json_object_get(r.json, "payment"), "id")));
	srv_res_free(&r);
	if (call("POST", "/v1/keys", KA, "{\"role\":\"clerk\"}", &r) != 201)
		return -1;
	snprintf(KEY_ID, sizeof(KEY_ID), "%s", srv_jstr(&r, "id"));
	srv_res_free(&r);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	srv_free(S);
	return 0;
}

static void test_every_id_endpoint_is_404(void **state)
{
	struct {
		const char *method, *fmt, *body;
	} eps[] = {
	        {"GET", "", NULL},
	        {"GET", "/wait?seq=0&timeout=1", NULL},
	        {"POST", "/enrollment-code", NULL},
	        {"POST", "/lock", "{\"reason\":\"x\"}"},
	        {"POST", "/unlock", "{\"until\":\"2030-01-01T00:00:00Z\"}"},
	        {"POST", "/release", "{}"},
	        {"POST", "/stolen", "{\"reason\":\"x\"}"},
	        {"POST", "/stolen/clear", "{\"reason\":\"x\"}"},
	        {"POST", "/sync", NULL},
	        {"GET", "/contract", NULL},
	        {"POST", "/contract",
	         "{\"currency\":\"USD\",\"schedule\":[{\"due\":\"2030-01-01\","
	         "\"amount\":1}]}"},
	        {"POST", "/contract/reschedule",
	         "{\"from\":\"2029-01-01\",\"schedule\":[]}"},
	        {"GET", "/payments", NULL},
	        {"POST", "/payments", "{\"amount\":1}"},
	};
	char path[256];
	struct srv_res r;

	(void)state;
	for (size_t i = 0; i < sizeof(eps) / sizeof(eps[0]); i++) {
		snprintf(path, sizeof(path), "/v1/devices/%s%s", DEV,
		         eps[i].fmt);
		call(eps[i].method, path, KB, eps[i].body, &r);
		if (r.status != 404)
			fprintf(stderr, "%s %s -> %ld %s\n", eps[i].method,
			        path, r.status, r.body);
		assert_int_equal(r.status, 404);
		assert_string_equal(srv_err_code(&r), "not_found");
		srv_res_free(&r);
	}
	snprintf(path, sizeof(path), "/v1/payments/%s", PAY);
	assert_int_equal(call("GET", path, KB, NULL, &r), 404);
	srv_res_free(&r);
	snprintf(path, sizeof(path), "/v1/payments/%s/reverse", PAY);
	assert_int_equal(call("POST", path, KB, "{\"reason\":\"x\"}", &r), 404);
	srv_res_free(&r);
	snprintf(path, sizeof(path), "/v1/keys/%s", KEY_ID);
	assert_int_equal(call("GET", path, KB, NULL, &r), 404);
	srv_res_free(&r);
	snprintf(path, sizeof(path), "/v1/keys/%s/revoke", KEY_ID);
	assert_int_equal(call("POST", path, KB, NULL, &r), 404);
	srv_res_free(&r);
	/* the operator revokes admin keys only, and only of the tenant named */
	snprintf(path, sizeof(path), "/v1/tenants/%s/keys/%s/revoke", TB,
	         KEY_ID);
	assert_int_equal(call("POST", path, srv_operator_key(S), NULL, &r),
	                 404);
	srv_res_free(&r);
}

static bool body_mentions(const char *method, const char *path, const char *key,
                          const char *needle)
{
	struct srv_res r;
	bool found;

	assert_int_equal(call(method, path, key, NULL, &r), 200);
	found = strstr(r.body, needle) != NULL;
	srv_res_free(&r);
	return found;
}

static void test_lists_show_nothing_foreign(void **state)
{
	char path[256];

	(void)state;
	assert_false(body_mentions("GET", "/v1/devices", KB, DEV));
	assert_false(body_mentions("GET", "/v1/devices?q=490154", KB, DEV));
	assert_false(body_mentions("GET", "/v1/contracts", KB, DEV));
	assert_false(body_mentions("GET", "/v1/payments", KB, PAY));
	snprintf(path, sizeof(path), "/v1/payments?device_id=%s", DEV);
	assert_false(body_mentions("GET", path, KB, PAY));
	assert_false(body_mentions("GET", "/v1/keys", KB, KEY_ID));
	assert_false(body_mentions("GET", "/v1/audit?limit=500", KB, DEV));
	assert_false(body_mentions("GET", "/v1/audit/export", KB, DEV));
	/* while A sees its own */
	assert_true(body_mentions("GET", "/v1/devices", KA, DEV));
	assert_true(body_mentions("GET", "/v1/payments", KA, PAY));
	assert_true(body_mentions("GET", "/v1/audit/export", KA, DEV));
	/* the operator sees tenants, never their devices */
	struct srv_res r;
	assert_int_equal(
	        call("GET", "/v1/devices", srv_operator_key(S), NULL, &r), 403);
	srv_res_free(&r);
	snprintf(path, sizeof(path), "/v1/devices/%s", DEV);
	assert_int_equal(call("GET", path, srv_operator_key(S), NULL, &r), 403);
	srv_res_free(&r);
	assert_false(body_mentions("GET", "/v1/operator/audit/export",
	                           srv_operator_key(S), DEV));
}

static void test_idempotency_keys_are_per_tenant(void **state)
{
	char dev[64], path[256];
	const char *h[] = {"Idempotency-Key: shared-key", NULL};
	const char *b = "{\"amount\":100,\"reference\":\"A-PAY\"}";
	struct srv_res r;

	(void)state;
	/* B uses the same key on the same route for its own device: its own
	 * payment is recorded, A's answer is not replayed to it */
	assert_int_equal(call("POST", "/v1/devices", KB,
	                      "{\"imei\":\"356938035643809\",\"serial\":"
	                      "\"B-1\"}",
	                      &r),
	                 201);
	snprintf(dev, sizeof(dev), "%s",
	         json_string_value(json_object_get(
	                 json_object_get(r.json, "device"), "id")));
	srv_res_free(&r);
	snprintf(path, sizeof(path), "/v1/devices/%s/contract", dev);
	assert_int_equal(call("POST", path, KB,
	                      "{\"currency\":\"USD\",\"schedule\":[{\"due\":"
	                      "\"2030-01-01\",\"amount\":5000}]}",
	                      &r),
	                 201);
	srv_res_free(&r);
	snprintf(path, sizeof(path), "/v1/devices/%s/payments", dev);
	assert_int_equal(srv_reqx(S, "POST", path, KB, h, b, strlen(b), &r), 0);
	assert_int_equal(r.status, 201);
	assert_null(srv_res_header(&r, "Idempotent-Replayed"));
	assert_null(strstr(r.body, PAY));
	srv_res_free(&r);
}

static void test_a_unchanged(void **state)
{
	char path[256];
	struct srv_res r;

	(void)state;
	snprintf(path, sizeof(path), "/v1/devices/%s", DEV);
	assert_int_equal(call("GET", path, KA, NULL, &r), 200);
	assert_false(json_is_true(json_object_get(r.json, "stolen")));
	assert_int_equal(srv_jint(&r, "amount_remaining"), 4900);
	assert_int_equal(srv_jint(&r, "token_seq") > 0, 1);
	srv_res_free(&r);
	snprintf(path, sizeof(path), "/v1/payments/%s", PAY);
	assert_int_equal(call("GET", path, KA, NULL, &r), 200);
	assert_false(json_is_true(json_object_get(r.json, "reversed")));
	srv_res_free(&r);
	assert_int_equal(call("GET", "/v1/audit/verify", KA, NULL, &r), 200);
	assert_true(json_is_true(json_object_get(r.json, "ok")));
	srv_res_free(&r);
	assert_int_equal(call("GET", "/v1/audit/verify", KB, NULL, &r), 200);
	assert_true(json_is_true(json_object_get(r.json, "ok")));
	assert_string_equal(srv_jstr(&r, "chain"), TB);
	srv_res_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_every_id_endpoint_is_404),
	        cmocka_unit_test(test_lists_show_nothing_foreign),
	        cmocka_unit_test(test_idempotency_keys_are_per_tenant),
	        cmocka_unit_test(test_a_unchanged),
	};
	return cmocka_run_group_tests_name("server_isolation", tests, setup,
	                                   teardown);
}
