/*
 * Integration tests for finlockd's sweep and fleet counts: with a sweep
 * interval of 4 s, a device's time-driven change is made within a second
 * and a half of its instant, never before (the sweep, once it knows the
 * change is coming, sleeps until it rather than a whole interval);
 * /metrics counts the devices by state as they move.
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
#include "core/fltime.h"
#include "support/devapi_phone.h"
#include "support/server_harness.h"

static struct srv *S;
static struct devapi_lender L;

static int setup(void **state)
{
	static const char *const args[] = {"--sweep-interval-ms", "4000", NULL};

	(void)state;
	return devapi_start(&S, &L, args);
}

static int teardown(void **state)
{
	(void)state;
	srv_free(S);
	return 0;
}

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The device's amount due as the lender sees it. */
static long long amount_due(const char *id)
{
	struct srv_res r;
	long long v;

	assert_int_equal(devapi_show(S, &L, id, &r), 0);
	assert_int_equal(r.status, 200);
	v = (long long)json_integer_value(
	        json_object_get(r.json, "amount_due"));
	srv_res_free(&r);
	return v;
}

/* The value of `name` ("finlockd_devices{state=\"pending\"}") in the
 * operator's /metrics, or -1 when absent. */
static long long metric(const char *name)
{
	struct srv_res r;
	long long v = -1;
	const char *p;

	assert_int_equal(
	        srv_req(S, "GET", "/metrics", srv_operator_key(S), NULL, &r),
	        0);
	assert_int_equal(r.status, 200);
	p = strstr(r.body, name);
	while (p != NULL && p > r.body && p[-1] != '\n')
		p = strstr(p + 1, name);
	if (p != NULL && p[strlen(name)] == ' ')
		v = atoll(p + strlen(name) + 1);
	srv_res_free(&r);
	return v;
}

/* An installment falls due 6 seconds from now: the sweep (interval 4 s,
 * so it has woken at least once since the contract and knows the
 * instant) shows it due within 1.5 s of that second, not before. */
static void test_sweep_on_time(void **state)
{
	char imei1[16], imei2[16], id[64], code[64], due[FL_TIME_STR_LEN];
	fl_time due_at;
	int64_t seen_ms = 0;

	(void)state;
	devapi_imei(901, imei1);
	devapi_imei(902, imei2);
	assert_int_equal(devapi_register(S, &L, imei1, imei2, id, code), 0);
	due_at = (fl_time)time(NULL) + 6;
	fl_time_format(due_at, due);
	assert_int_equal(
	        devapi_contract(S, &L, id, due, 150000, 86400, "none", "none"),
	        0);
	assert_int_equal(amount_due(id), 0);
	while (seen_ms == 0 && wall_ms() < (int64_t)due_at * 1000 + 5000) {
		int64_t before = wall_ms();

		if (amount_due(id) > 0)
			seen_ms = before;
		else
			usleep(50 * 1000);
	}
	assert_true(seen_ms > 0);
	fprintf(stderr, "due seen %lld ms after its instant\n",
	        (long long)(seen_ms - (int64_t)due_at * 1000));
	/* a read that began before the instant saw nothing due */
	assert_true(seen_ms >= (int64_t)due_at * 1000 - 50);
	assert_true(seen_ms - (int64_t)due_at * 1000 < 1500);
}

/* /metrics counts this server's devices by state as they move. */
static void test_metrics_counts(void **state)
{
	char imei1[16], imei2[16], id[64], code[64], path[160];
	char due[FL_TIME_STR_LEN];
	long long pending, released;
	struct srv_res r;

	(void)state;
	pending = metric("finlockd_devices{state=\"pending\"}");
	released = metric("finlockd_devices{state=\"released\"}");
	assert_true(pending >= 0 && released >= 0);
	devapi_imei(903, imei1);
	devapi_imei(904, imei2);
	assert_int_equal(devapi_register(S, &L, imei1, imei2, id, code), 0);
	assert_int_equal(metric("finlockd_devices{state=\"pending\"}"),
	                 pending + 1);
	fl_time_format((fl_time)time(NULL) + 30 * FL_DAY, due);
	assert_int_equal(
	        devapi_contract(S, &L, id, due, 150000, 86400, "none", "none"),
	        0);
	snprintf(path, sizeof(path), "/v1/devices/%s/release", id);
	assert_int_equal(srv_req(S, "POST", path, L.admin,
	                         "{\"reason\":\"settled\"}", &r),
	                 0);
	assert_int_equal(r.status, 200);
	srv_res_free(&r);
	assert_int_equal(metric("finlockd_devices{state=\"pending\"}"),
	                 pending);
	assert_int_equal(metric("finlockd_devices{state=\"released\"}"),
	                 released + 1);
	assert_int_equal(metric("finlockd_devices_stolen"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_sweep_on_time),
	        cmocka_unit_test(test_metrics_counts),
	};
	return cmocka_run_group_tests_name("server_sweep", tests, setup,
	                                   teardown);
}
