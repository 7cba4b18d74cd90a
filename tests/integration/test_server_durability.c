/*
 * Integration test of durability: payments acknowledged with a 2xx are all
 * there, exactly once, after finlockd is killed with SIGKILL and started
 * again on the same data directory; retrying an acknowledged payment with
 * its Idempotency-Key after the restart replays the answer instead of
 * counting it twice; the audit chain still verifies.
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

#define N_PAYMENTS 40

static void test_kill9_keeps_acknowledged_payments(void **state)
{
	char tid[64], admin[64], dev[64], path[160], body[128], hdr[64];
	struct srv_res r;
	struct srv *s;
	long long total = 0;
	int acked = 0;

	(void)state;
	assert_int_equal(srv_start(&s, NULL), 0);
	assert_int_equal(srv_tenant(s, "Durable Credit", tid, admin), 0);
	assert_int_equal(srv_req(s, "POST", "/v1/devices", admin,
	                         "{\"imei\":\"490154203237518\",\"serial\":"
	                         "\"D\"}",
	                         &r),
	                 0);
	assert_int_equal(r.status, 201);
	snprintf(dev, sizeof(dev), "%s",
	         json_string_value(json_object_get(
	                 json_object_get(r.json, "device"), "id")));
	srv_res_free(&r);
	snprintf(path, sizeof(path), "/v1/devices/%s/contract", dev);
	assert_int_equal(srv_req(s, "POST", path, admin,
	                         "{\"currency\":\"USD\",\"schedule\":[{\"due\":"
	                         "\"2040-01-01\",\"amount\":100000000}]}",
	                         &r),
	                 0);
	assert_int_equal(r.status, 201);
	srv_res_free(&r);

	snprintf(path, sizeof(path), "/v1/devices/%s/payments", dev);
	for (int i = 1; i <= N_PAYMENTS; i++) {
		const char *h[] = {hdr, NULL};

		snprintf(hdr, sizeof(hdr), "Idempotency-Key: dur-%d", i);
		snprintf(body, sizeof(body),
		         "{\"amount\":%d,\"reference\":\"R-%d\"}", i, i);
		assert_int_equal(srv_reqx(s, "POST", path, admin, h, body,
		                          strlen(body), &r),
		                 0);
		if (r.status == 201) {
			acked++;
			total += i;
		}
		srv_res_free(&r);
	}
	assert_int_equal(acked, N_PAYMENTS);

	/* no clean shutdown, no chance to flush anything */
	srv_kill9(s);
	assert_int_equal(srv_restart(s), 0);

	/* every acknowledged payment, exactly once */
	snprintf(path, sizeof(path), "/v1/devices/%s/payments?limit=500", dev);
	assert_int_equal(srv_req(s, "GET", path, admin, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	json_t *items = json_object_get(r.json, "items");
	assert_int_equal(json_array_size(items), N_PAYMENTS);
	int seen[N_PAYMENTS + 1] = {0};
	for (size_t i = 0; i < json_array_size(items); i++) {
		int ref = 0;
		sscanf(json_string_value(json_object_get(
		               json_array_get(items, i), "reference")),
		       "R-%d", &ref);
		assert_true(ref >= 1 && ref <= N_PAYMENTS);
		seen[ref]++;
	}
	for (int i = 1; i <= N_PAYMENTS; i++)
		assert_int_equal(seen[i], 1);
	srv_res_free(&r);

	/* the decision agrees with the money */
	snprintf(path, sizeof(path), "/v1/devices/%s", dev);
	assert_int_equal(srv_req(s, "GET", path, admin, NULL, &r), 0);
	assert_int_equal(srv_jint(&r, "amount_remaining"), 100000000 - total);
	srv_res_free(&r);

	/* a retry of an acknowledged payment replays, not double-counts */
	{
		const char *h[] = {"Idempotency-Key: dur-7", NULL};
		const char *b = "{\"amount\":7,\"reference\":\"R-7\"}";

		snprintf(path, sizeof(path), "/v1/devices/%s/payments", dev);
		assert_int_equal(
		        srv_reqx(s, "POST", path, admin, h, b, strlen(b), &r),
		        0);
		assert_int_equal(r.status, 201);
		assert_string_equal(srv_res_header(&r, "Idempotent-Replayed"),
		                    "true");
		srv_res_free(&r);
	}
	snprintf(path, sizeof(path), "/v1/devices/%s/payments?limit=500", dev);
	assert_int_equal(srv_req(s, "GET", path, admin, NULL, &r), 0);
	assert_int_equal(json_array_size(json_object_get(r.json, "items")),
	                 N_PAYMENTS);
	srv_res_free(&r);

	assert_int_equal(srv_req(s, "GET", "/v1/audit/verify", admin, NULL, &r),
	                 0);
	assert_true(json_is_true(json_object_get(r.json, "ok")));
	assert_true(srv_jint(&r, "entries") >= N_PAYMENTS + 3);
	srv_res_free(&r);
	assert_int_equal(srv_stop(s), 0);
	srv_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_kill9_keeps_acknowledged_payments),
	};
	return cmocka_run_group_tests_name("server_durability", tests, NULL,
	                                   NULL);
}
