/*
 * Integration tests for devices, contracts, payments and commands over
 * real HTTP: every endpoint, the roles allowed on each, bad input (IMEIs,
 * amounts, schedules, restrictions, unknown fields), idempotent payments,
 * the decision following payments and commands (the phone's enrollment is
 * recorded through the store, as the device protocol would), metrics and
 * the audit trail.
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

#include "core/crypto.h"
#include "core/fltime.h"
#include "core/imei.h"
#include "store/store.h"
#include "support/server_harness.h"

static struct srv *S;
static char T1[64], ADMIN[64], CLERK[64], SUPPORT[64], AUDITOR[64];

static int setup(void **state)
{
	(void)state;
	if (fl_crypto_init() != FL_OK || srv_start(&S, NULL) != 0)
		return -1;
	if (srv_tenant(S, "Acme Credit", T1, ADMIN) != 0 ||
	    srv_key(S, ADMIN, "clerk", CLERK) != 0 ||
	    srv_key(S, ADMIN, "support", SUPPORT) != 0 ||
	    srv_key(S, ADMIN, "auditor", AUDITOR) != 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	srv_free(S);
	return 0;
}

/* A valid IMEI from a serial number n. */
static void imei_of(unsigned n, char out[16])
{
	snprintf(out, 16, "35209900%06u", n % 1000000);
	out[14] = fl_imei_check_digit(out);
	out[15] = '\0';
}

static long call(const char *method, const char *path, const char *key,
                 const char *body, struct srv_res *r)
{
	assert_int_equal(srv_req(S, method, path, key, body, r), 0);
	if (getenv("FL_TEST_VERBOSE"))
		fprintf(stderr, "%s %s -> %ld %s\n", method, path, r->status,
		        r->body);
	return r->status;
}

static void expect(const char *method, const char *path, const char *key,
                   const char *body, long status, const char *code)
{
	struct srv_res r;

	if (call(method, path, key, body, &r) != status)
		fprintf(stderr, "%s %s -> %ld %s\n", method, path, r.status,
		        r.body);
	assert_int_equal(r.status, status);
	if (code != NULL)
		assert_string_equal(srv_err_code(&r), code);
	srv_res_free(&r);
}

/* Registers a device with imei_of(n); returns its id in id[64]. */
static void register_dev(unsigned n, const char *key, char id[64])
{
	char body[256], imei[16];
	struct srv_res r;

	imei_of(n, imei);
	snprintf(body, sizeof(body),
	         "{\"imei\":\"%s\",\"serial\":\"SN-%u\",\"model\":\"Model "
	         "X\"}",
	         imei, n);
	assert_int_equal(call("POST", "/v1/devices", key, body, &r), 201);
	snprintf(id, 64, "%s",
	         json_string_value(json_object_get(
	                 json_object_get(r.json, "device"), "id")));
	srv_res_free(&r);
}

#define CONTRACT                                                               \
	"{\"loan_ref\":\"L-%u\",\"currency\":\"KES\",\"allow_overdue\":true," \
	"\"utc_offset\":"                                                      \
	"\"+03:00\",\"schedule\":[{\"due\":\"2021-01-01\",\"amount\":1000},"   \
	"{\"due\":\"2031-01-01\",\"amount\":2000}],\"grace\":\"2d\","          \
	"\"policy\":{\"reminders\":[\"3d\",\"1d\",0],\"restrict\":"            \
	"[\"camera\",\"install_apps\"],\"allow_apps\":[\"com.acme.pay\"],"     \
	"\"message\":\"Pay to unlock\",\"contact\":{\"name\":\"Acme\","        \
	"\"phones\":[\"+254700000000\"]},\"max_offline\":\"30d\","             \
	"\"sim_change\":\"notify\",\"tamper\":\"lock\"}}"

static void add_contract(const char *dev, unsigned n)
{
	char path[128], body[1024];

	snprintf(path, sizeof(path), "/v1/devices/%s/contract", dev);
	snprintf(body, sizeof(body), CONTRACT, n);
	expect("POST", path, ADMIN, body, 201, NULL);
}

static void test_register_and_roles(void **state)
{
	char id[64], path[128], body[256], imei[16];
	struct srv_res r;

	(void)state;
	/* a clerk registers; the answer carries a one-time code */
	imei_of(1, imei);
	snprintf(body, sizeof(body),
	         "{\"imei\":\"%s\",\"serial\":\"SN-1\",\"model\":\"M\"}", imei);
	assert_int_equal(call("POST", "/v1/devices", CLERK, body, &r), 201);
	char code[32];
	snprintf(code, sizeof(code), "%s", srv_jstr(&r, "enrollment_code"));
	assert_int_equal(strlen(code), 14);
	assert_int_equal(code[4], '-');
	json_t *dev = json_object_get(r.json, "device");
	snprintf(id, sizeof(id), "%s",
	         json_string_value(json_object_get(dev, "id")));
	assert_string_equal(json_string_value(json_object_get(dev, "state")),
	                    "pending");
	assert_int_equal(json_integer_value(json_object_get(dev, "token_seq")),
	                 1);
	srv_res_free(&r);
	/* ... and nothing else */
	expect("GET", "/v1/devices", CLERK, NULL, 403, "perm");
	snprintf(path, sizeof(path), "/v1/devices/%s", id);
	expect("GET", path, CLERK, NULL, 403, "perm");
	/* support and auditors read but do not register */
	imei_of(2, imei);
	snprintf(body, sizeof(body), "{\"imei\":\"%s\",\"serial\":\"S\"}",
	         imei);
	expect("POST", "/v1/devices", SUPPORT, body, 403, "perm");
	expect("POST", "/v1/devices", AUDITOR, body, 403, "perm");
	expect("POST", "/v1/devices", srv_operator_key(S), body, 403, "perm");
	expect("GET", path, SUPPORT, NULL, 200, NULL);
	expect("GET", path, AUDITOR, NULL, 200, NULL);
	/* a new enrollment code, by a clerk */
	snprintf(path, sizeof(path), "/v1/devices/%s/enrollment-code", id);
	assert_int_equal(call("POST", path, CLERK, NULL, &r), 201);
	assert_string_not_equal(srv_jstr(&r, "enrollment_code"), code);
	srv_res_free(&r);
	expect("POST", path, SUPPORT, NULL, 403, "perm");
	expect("POST", "/v1/devices/dv_nope/enrollment-code", ADMIN, NULL, 404,
	       "not_found");
}

static void test_register_bad_input(void **state)
{
	char body[256], imei[16], id[64];
	struct srv_res r;

	(void)state;
	expect("POST", "/v1/devices", ADMIN,
	       "{\"imei\":\"49015420323751\",\"serial\":\"S\"}", 400,
	       "imei_length");
	expect("POST", "/v1/devices", ADMIN,
	       "{\"imei\":\"490154203237519\",\"serial\":\"S\"}", 400,
	       "imei_check");
	expect("POST", "/v1/devices", ADMIN,
	       "{\"imei\":\"49015420323751x\",\"serial\":\"S\"}", 400,
	       "imei_digits");
	expect("POST", "/v1/devices", ADMIN,
	       "{\"imei\":\"4901542032375182\",\"serial\":\"S\"}", 400,
	       "imei_imeisv");
	expect("POST", "/v1/devices", ADMIN, "{\"imei\":490154203237518}", 400,
	       "field_type");
	expect("POST", "/v1/devices", ADMIN, "{\"serial\":\"S\"}", 400,
	       "field_missing");
	expect("POST", "/v1/devices", ADMIN,
	       "{\"imei\":\"490154203237518\",\"serial\":\"S\",\"color\":1}",
	       400, "field_unknown");
	expect("POST", "/v1/devices", ADMIN,
	       "{\"imei\":\"490154203237518\",\"imei2\":\"490154203237518\","
	       "\"serial\":\"S\"}",
	       400, "invalid");
	expect("POST", "/v1/devices", ADMIN,
	       "{\"imei\":\"490154203237518\",\"serial\":\"\"}", 400,
	       "invalid");
	/* separators are fine; the IMEI is stored as 15 digits */
	assert_int_equal(call("POST", "/v1/devices", ADMIN,
	                      "{\"imei\":\"49-015420-323751-8\","
	                      "\"imei2\":\"356938035643809\",\"serial\":\"S\"}",
	                      &r),
	                 201);
	assert_string_equal(json_string_value(json_object_get(
	                            json_object_get(r.json, "device"), "imei")),
	                    "490154203237518");
	srv_res_free(&r);
	/* the same IMEI again, as first or second IMEI, in any tenant */
	expect("POST", "/v1/devices", ADMIN,
	       "{\"imei\":\"490154203237518\",\"serial\":\"S2\"}", 409,
	       "imei_in_program");
	expect("POST", "/v1/devices", ADMIN,
	       "{\"imei\":\"352099001761481\",\"imei2\":\"356938035643809\","
	       "\"serial\":\"S2\"}",
	       409, "imei_in_program");
	char t2[64], a2[64];
	assert_int_equal(srv_tenant(S, "Other Lender", t2, a2), 0);
	assert_int_equal(call("POST", "/v1/devices", a2,
	                      "{\"imei\":\"356938035643809\",\"serial\":\"X\"}",
	                      &r),
	                 409);
	/* the answer names no tenant */
	assert_null(strstr(r.body, "Acme"));
	assert_null(strstr(r.body, T1));
	srv_res_free(&r);
	/* after a failed registration the IMEI is still free for none */
	imei_of(77, imei);
	snprintf(body, sizeof(body),
	         "{\"imei\":\"%s\",\"serial\":\"S\",\"model\":\"\\u0007\"}",
	         imei);
	expect("POST", "/v1/devices", ADMIN, body, 400, "invalid");
	register_dev(77, ADMIN, id);
}

static void test_contract(void **state)
{
	char dev[64], path[160], body[1200];
	struct srv_res r;

	(void)state;
	register_dev(10, ADMIN, dev);
	snprintf(path, sizeof(path), "/v1/devices/%s/contract", dev);
	expect("GET", path, ADMIN, NULL, 404, "no_contract");
	/* bad contracts change nothing */
	expect("POST", path, ADMIN, "{\"currency\":\"KES\"}", 400,
	       "field_missing");
	expect("POST", path, ADMIN, "{\"currency\":\"KES\",\"schedule\":[]}",
	       400, "schedule");
	expect("POST", path, ADMIN,
	       "{\"currency\":\"kes\",\"schedule\":[{\"due\":\"2030-01-01\","
	       "\"amount\":1}]}",
	       400, "invalid"); /* not an ISO 4217 code */
	expect("POST", path, ADMIN,
	       "{\"currency\":\"KES\",\"schedule\":[{\"due\":\"2030-01-01\","
	       "\"amount\":0}]}",
	       400, "money");
	expect("POST", path, ADMIN,
	       "{\"currency\":\"KES\",\"schedule\":[{\"due\":\"2030-01-01\","
	       "\"amount\":-5}]}",
	       400, "money");
	expect("POST", path, ADMIN,
	       "{\"currency\":\"KES\",\"schedule\":[{\"due\":\"2030-01-01\","
	       "\"amount\":99999999999999999999}]}",
	       400, "json");
	expect("POST", path, ADMIN,
	       "{\"currency\":\"KES\",\"schedule\":[{\"due\":\"2030-01-01\","
	       "\"amount\":10.5}]}",
	       400, "field_type");
	expect("POST", path, ADMIN,
	       "{\"currency\":\"KES\",\"schedule\":[{\"due\":\"2030-02-30\","
	       "\"amount\":10}]}",
	       400, "time_invalid");
	expect("POST", path, ADMIN,
	       "{\"currency\":\"KES\",\"schedule\":[{\"due\":\"2030-02-01\","
	       "\"amount\":10},{\"due\":\"2030-01-01\",\"amount\":10}]}",
	       400, "schedule");
	expect("POST", path, ADMIN,
	       "{\"currency\":\"KES\",\"schedule\":[{\"due\":\"2030-01-01\","
	       "\"amount\":10,\"late_fee\":1}]}",
	       400, "field_unknown");
	expect("POST", path, ADMIN,
	       "{\"currency\":\"KES\",\"schedule\":[{\"due\":\"2030-01-01\","
	       "\"amount\":10}],\"policy\":{\"restrict\":[\"emergency_"
	       "calls\"]}}",
	       400, "restrict_guaranteed");
	expect("POST", path, ADMIN,
	       "{\"currency\":\"KES\",\"schedule\":[{\"due\":\"2030-01-01\","
	       "\"amount\":10}],\"policy\":{\"restrict\":[\"teleport\"]}}",
	       400, "restrict_unknown");
	expect("POST", path, ADMIN,
	       "{\"currency\":\"KES\",\"schedule\":[{\"due\":\"2030-01-01\","
	       "\"amount\":10}],\"policy\":{\"tamper\":\"explode\"}}",
	       400, "invalid");
	expect("POST", path, ADMIN,
	       "{\"currency\":\"KES\",\"schedule\":[{\"due\":\"2030-01-01\","
	       "\"amount\":10}],\"grace\":\"soon\"}",
	       400, "invalid");
	expect("POST", path, ADMIN,
	       "{\"currency\":\"KES\",\"schedule\":[{\"due\":\"2030-01-01\","
	       "\"amount\":10}],\"utc_offset\":\"+25:00\"}",
	       400, NULL);
	expect("GET", path, ADMIN, NULL, 404, "no_contract");
	/* roles */
	snprintf(body, sizeof(body), CONTRACT, 10u);
	expect("POST", path, CLERK, body, 403, "perm");
	expect("POST", path, SUPPORT, body, 403, "perm");
	/* a good one */
	assert_int_equal(call("POST", path, ADMIN, body, &r), 201);
	assert_string_equal(srv_jstr(&r, "currency"), "KES");
	assert_string_equal(srv_jstr(&r, "utc_offset"), "+03:00");
	json_t *sched = json_object_get(r.json, "schedule");
	assert_int_equal(json_array_size(sched), 2);
	/* a date alone is the end of that day at the contract's offset */
	assert_string_equal(json_string_value(json_object_get(
	                            json_array_get(sched, 0), "due_at")),
	                    "2021-01-01T20:59:59Z");
	json_t *d = json_object_get(r.json, "device");
	assert_int_equal(json_integer_value(json_object_get(d, "amount_due")),
	                 1000);
	assert_string_equal(json_string_value(json_object_get(d, "lock_cause")),
	                    "overdue");
	srv_res_free(&r);
	expect("POST", path, ADMIN, body, 409, "conflict");
	assert_int_equal(call("GET", path, AUDITOR, NULL, &r), 200);
	assert_string_equal(srv_jstr(&r, "loan_ref"), "L-10");
	json_t *pol = json_object_get(r.json, "policy");
	assert_int_equal(json_array_size(json_object_get(pol, "restrict")), 2);
	assert_string_equal(json_string_value(json_object_get(pol, "tamper")),
	                    "lock");
	srv_res_free(&r);
	assert_int_equal(call("GET", "/v1/contracts", SUPPORT, NULL, &r), 200);
	assert_true(json_array_size(json_object_get(r.json, "items")) >= 1);
	srv_res_free(&r);

	/* reschedule: the overdue installment is moved to 2032 */
	snprintf(path, sizeof(path), "/v1/devices/%s/contract/reschedule", dev);
	expect("POST", path, ADMIN,
	       "{\"from\":\"2020-06-01\",\"schedule\":[{\"due\":"
	       "\"2020-01-01\",\"amount\":1}]}",
	       400, "schedule");
	expect("POST", path, SUPPORT,
	       "{\"from\":\"2020-06-01\",\"schedule\":[]}", 403, "perm");
	assert_int_equal(call("POST", path, ADMIN,
	                      "{\"from\":\"2020-06-01\",\"schedule\":[{\"due\":"
	                      "\"2032-01-01\",\"amount\":3000}],\"reason\":"
	                      "\"hardship\"}",
	                      &r),
	                 201);
	d = json_object_get(r.json, "device");
	assert_int_equal(json_integer_value(json_object_get(d, "amount_due")),
	                 0);
	assert_int_equal(
	        json_integer_value(json_object_get(d, "amount_remaining")),
	        3000);
	srv_res_free(&r);
	snprintf(path, sizeof(path), "/v1/devices/%s/contract", dev);
	assert_int_equal(call("GET", path, ADMIN, NULL, &r), 200);
	assert_int_equal(
	        json_array_size(json_object_get(r.json, "reschedules")), 1);
	srv_res_free(&r);

	/* no policy: reminders 3 days, 1 day and 0 before each due date (no
	 * lock without notice); an explicit empty list is the lender's choice
	 */
	register_dev(11, ADMIN, dev);
	snprintf(path, sizeof(path), "/v1/devices/%s/contract", dev);
	assert_int_equal(call("POST", path, ADMIN,
	                      "{\"currency\":\"KES\",\"schedule\":[{\"due\":"
	                      "\"2031-01-01\",\"amount\":10}]}",
	                      &r),
	                 201);
	pol = json_object_get(json_object_get(r.json, "policy"), "reminders");
	assert_int_equal(json_array_size(pol), 3);
	assert_int_equal(json_integer_value(json_array_get(pol, 0)), 3 * 86400);
	assert_int_equal(json_integer_value(json_array_get(pol, 1)), 86400);
	assert_int_equal(json_integer_value(json_array_get(pol, 2)), 0);
	srv_res_free(&r);
	register_dev(12, ADMIN, dev);
	snprintf(path, sizeof(path), "/v1/devices/%s/contract", dev);
	assert_int_equal(call("POST", path, ADMIN,
	                      "{\"currency\":\"KES\",\"schedule\":[{\"due\":"
	                      "\"2031-01-01\",\"amount\":10}],\"policy\":{"
	                      "\"reminders\":[]}}",
	                      &r),
	                 201);
	pol = json_object_get(json_object_get(r.json, "policy"), "reminders");
	assert_int_equal(json_array_size(pol), 0);
	srv_res_free(&r);
}

static void test_payments(void **state)
{
	char dev[64], path[160], ppath[160], pid[64];
	const char *h1[] = {"Idempotency-Key: pay-0001", NULL};
	const char *body = "{\"amount\":600,\"reference\":\"MPESA-1\"}";
	struct srv_res a, b;

	(void)state;
	register_dev(20, ADMIN, dev);
	snprintf(path, sizeof(path), "/v1/devices/%s/payments", dev);
	expect("POST", path, ADMIN, "{\"amount\":100}", 409, "no_contract");
	add_contract(dev, 20);
	/* bad amounts */
	expect("POST", path, ADMIN, "{\"amount\":0}", 400, "money");
	expect("POST", path, ADMIN, "{\"amount\":-1}", 400, "money");
	expect("POST", path, ADMIN, "{\"amount\":100000000000001}", 400,
	       "money");
	expect("POST", path, ADMIN, "{\"amount\":9223372036854775808}", 400,
	       "json");
	expect("POST", path, ADMIN, "{\"amount\":1.5}", 400, "field_type");
	expect("POST", path, ADMIN, "{\"amount\":\"100\"}", 400, "field_type");
	expect("POST", path, ADMIN,
	       "{\"amount\":100,\"paid_at\":"
	       "\"2999-01-01T00:00:00Z\"}",
	       400, "range");
	expect("POST", path, ADMIN,
	       "{\"amount\":100,\"paid_at\":\"yesterday\"}", 400,
	       "time_format");
	expect("POST", path, ADMIN, "{\"amount\":100,\"tip\":1}", 400,
	       "field_unknown");
	expect("POST", path, SUPPORT, "{\"amount\":100}", 403, "perm");
	expect("POST", path, CLERK, "{\"amount\":100}", 403, "perm");
	expect("POST", "/v1/devices/dv_nope/payments", ADMIN, "{\"amount\":1}",
	       404, "not_found");

	/* record, then retry with the same key: same answer, counted once */
	assert_int_equal(
	        srv_reqx(S, "POST", path, ADMIN, h1, body, strlen(body), &a),
	        0);
	assert_int_equal(a.status, 201);
	json_t *d = json_object_get(a.json, "device");
	assert_int_equal(json_integer_value(json_object_get(d, "amount_due")),
	                 400);
	snprintf(pid, sizeof(pid), "%s",
	         json_string_value(json_object_get(
	                 json_object_get(a.json, "payment"), "id")));
	assert_int_equal(
	        srv_reqx(S, "POST", path, ADMIN, h1, body, strlen(body), &b),
	        0);
	assert_int_equal(b.status, 201);
	assert_string_equal(a.body, b.body);
	srv_res_free(&b);
	/* same key, different body */
	assert_int_equal(srv_reqx(S, "POST", path, ADMIN, h1,
	                          "{\"amount\":601}", 14, &b),
	                 0);
	assert_int_equal(b.status, 409);
	assert_string_equal(srv_err_code(&b), "idempotency");
	srv_res_free(&b);
	srv_res_free(&a);
	assert_int_equal(call("GET", path, AUDITOR, NULL, &a), 200);
	assert_int_equal(json_array_size(json_object_get(a.json, "items")), 1);
	srv_res_free(&a);
	/* pay the rest of what is due */
	assert_int_equal(call("POST", path, ADMIN,
	                      "{\"amount\":400,\"paid_at\":"
	                      "\"2021-01-01T00:00:00Z\"}",
	                      &a),
	                 201);
	d = json_object_get(a.json, "device");
	assert_int_equal(json_integer_value(json_object_get(d, "amount_due")),
	                 0);
	srv_res_free(&a);
	/* reverse the first payment: it is due again */
	snprintf(ppath, sizeof(ppath), "/v1/payments/%s/reverse", pid);
	expect("POST", ppath, ADMIN, "{}", 400, "field_missing");
	expect("POST", ppath, SUPPORT, "{\"reason\":\"bounced\"}", 403, "perm");
	assert_int_equal(
	        call("POST", ppath, ADMIN, "{\"reason\":\"bounced\"}", &a),
	        200);
	assert_true(json_is_true(json_object_get(
	        json_object_get(a.json, "payment"), "reversed")));
	d = json_object_get(a.json, "device");
	assert_int_equal(json_integer_value(json_object_get(d, "amount_due")),
	                 600);
	srv_res_free(&a);
	expect("POST", ppath, ADMIN, "{\"reason\":\"again\"}", 409, "state");
	expect("POST", "/v1/payments/py_nope/reverse", ADMIN,
	       "{\"reason\":\"x\"}", 404, "not_found");
	snprintf(ppath, sizeof(ppath), "/v1/payments/%s", pid);
	assert_int_equal(call("GET", ppath, SUPPORT, NULL, &a), 200);
	assert_string_equal(srv_jstr(&a, "reverse_reason"), "bounced");
	srv_res_free(&a);
	snprintf(ppath, sizeof(ppath), "/v1/payments?device_id=%s", dev);
	assert_int_equal(call("GET", ppath, ADMIN, NULL, &a), 200);
	assert_int_equal(json_array_size(json_object_get(a.json, "items")), 2);
	srv_res_free(&a);
}

/* The phone enrolled: recorded through the store, as the device protocol
 * does; then a sync re-decides. */
static void enroll_via_store(const char *dev)
{
	char path[600];
	struct fl_store *st = NULL;
	struct fl_tx *tx = NULL;
	uint8_t pk[32], kx[32];

	fl_random(pk, sizeof(pk));
	fl_random(kx, sizeof(kx));
	snprintf(path, sizeof(path), "%s/finlock.db", srv_data_dir(S));
	assert_int_equal(fl_store_open_sqlite(&st, path, NULL), FL_OK);
	assert_int_equal(fl_store_begin(st, true, &tx), FL_OK);
	assert_int_equal(fl_store_device_enroll(tx, dev, pk, kx, time(NULL)),
	                 FL_OK);
	assert_int_equal(fl_tx_commit(tx), FL_OK);
	fl_store_close(st);
}

static const char *state_of(struct srv_res *r)
{
	json_t *d = json_object_get(r->json, "device");

	if (d == NULL)
		d = r->json;
	return json_string_value(json_object_get(d, "state"));
}

static void test_commands_and_decisions(void **state)
{
	char dev[64], path[160], base[128];
	struct srv_res r;
	long long seq;

	(void)state;
	register_dev(30, ADMIN, dev);
	snprintf(base, sizeof(base), "/v1/devices/%s", dev);
	snprintf(path, sizeof(path), "%s/lock", base);
	expect("POST", path, ADMIN, "{\"reason\":\"x\"}", 409, "no_contract");
	add_contract(dev, 30);
	enroll_via_store(dev);
	snprintf(path, sizeof(path), "%s/sync", base);
	expect("POST", path, CLERK, NULL, 403, "perm");
	assert_int_equal(call("POST", path, SUPPORT, NULL, &r), 200);
	/* overdue since 2021 with 2 days of grace: locked */
	assert_string_equal(state_of(&r), "locked");
	assert_true(json_is_true(json_object_get(r.json, "enrolled")));
	seq = srv_jint(&r, "token_seq");
	srv_res_free(&r);
	assert_int_equal(call("POST", path, SUPPORT, NULL, &r), 200);
	assert_int_equal(srv_jint(&r, "token_seq"), seq + 1);
	srv_res_free(&r);
	/* paid means unlocked, in the answer to the payment (dated back to
	 * when the customer paid, so that the manual lock below, issued
	 * after it, is not lifted by it) */
	snprintf(path, sizeof(path), "%s/payments", base);
	assert_int_equal(call("POST", path, ADMIN,
	                      "{\"amount\":1000,\"paid_at\":"
	                      "\"2021-01-01T00:00:00Z\"}",
	                      &r),
	                 201);
	assert_string_equal(state_of(&r), "active");
	srv_res_free(&r);
	/* manual lock needs a reason */
	snprintf(path, sizeof(path), "%s/lock", base);
	expect("POST", path, ADMIN, "{}", 400, "field_missing");
	expect("POST", path, ADMIN, "{\"reason\":\"   \"}", 400,
	       "field_missing");
	expect("POST", path, SUPPORT, "{\"reason\":\"x\"}", 403, "perm");
	expect("POST", path, ADMIN, "{\"reason\":\"x\",\"at\":\"noon\"}", 400,
	       "time_format");
	assert_int_equal(call("POST", path, ADMIN,
	                      "{\"reason\":\"collections visit\"}", &r),
	                 200);
	assert_string_equal(state_of(&r), "locked");
	assert_string_equal(srv_jstr(&r, "lock_cause"), "manual");
	srv_res_free(&r);
	/* unlock until a time */
	snprintf(path, sizeof(path), "%s/unlock", base);
	expect("POST", path, ADMIN, "{}", 400, "field_missing");
	assert_int_equal(call("POST", path, ADMIN,
	                      "{\"until\":\"2030-01-01T00:00:00Z\","
	                      "\"reason\":\"promised to pay\"}",
	                      &r),
	                 200);
	assert_string_equal(state_of(&r), "active");
	assert_string_equal(srv_jstr(&r, "unlock_until"),
	                    "2030-01-01T00:00:00Z");
	srv_res_free(&r);
	/* a lock scheduled in the future */
	snprintf(path, sizeof(path), "%s/lock", base);
	assert_int_equal(call("POST", path, ADMIN,
	                      "{\"reason\":\"deadline\",\"at\":"
	                      "\"2029-06-01T00:00:00Z\"}",
	                      &r),
	                 200);
	assert_string_equal(state_of(&r), "active");
	assert_string_equal(srv_jstr(&r, "lock_at"), "2029-06-01T00:00:00Z");
	srv_res_free(&r);
	/* stolen overrides everything */
	snprintf(path, sizeof(path), "%s/stolen", base);
	expect("POST", path, ADMIN, "{}", 400, "field_missing");
	assert_int_equal(call("POST", path, ADMIN,
	                      "{\"reason\":\"police report 42\"}", &r),
	                 200);
	assert_true(json_is_true(json_object_get(r.json, "stolen")));
	assert_string_equal(state_of(&r), "locked");
	srv_res_free(&r);
	expect("POST", path, ADMIN, "{\"reason\":\"twice\"}", 409, "state");
	snprintf(path, sizeof(path), "%s/stolen/clear", base);
	expect("POST", path, ADMIN, "{}", 400, "field_missing");
	assert_int_equal(
	        call("POST", path, ADMIN, "{\"reason\":\"found\"}", &r), 200);
	assert_false(json_is_true(json_object_get(r.json, "stolen")));
	srv_res_free(&r);
	expect("POST", path, ADMIN, "{\"reason\":\"again\"}", 409, "state");
	/* release: final */
	snprintf(path, sizeof(path), "%s/release", base);
	expect("POST", path, SUPPORT, NULL, 403, "perm");
	assert_int_equal(
	        call("POST", path, ADMIN, "{\"reason\":\"settled\"}", &r), 200);
	assert_string_equal(state_of(&r), "released");
	srv_res_free(&r);
	snprintf(path, sizeof(path), "%s/lock", base);
	expect("POST", path, ADMIN, "{\"reason\":\"x\"}", 409, "state");
	snprintf(path, sizeof(path), "%s/unlock", base);
	expect("POST", path, ADMIN, "{\"until\":\"2030-01-01T00:00:00Z\"}", 409,
	       "state");
	/* the released IMEI can join another program */
	char imei[16], body[128];
	imei_of(30, imei);
	snprintf(body, sizeof(body), "{\"imei\":\"%s\",\"serial\":\"again\"}",
	         imei);
	expect("POST", "/v1/devices", ADMIN, body, 201, NULL);

	/* metrics counted the transitions */
	assert_int_equal(call("GET", "/metrics", srv_operator_key(S), NULL, &r),
	                 200);
	assert_non_null(strstr(r.body, "finlockd_device_locks_total"));
	assert_null(strstr(r.body, "finlockd_device_locks_total 0\n"));
	assert_null(strstr(r.body, "finlockd_device_unlocks_total 0\n"));
	assert_non_null(strstr(r.body, "finlockd_devices{state=\"released\"}"));
	srv_res_free(&r);

	/* every step is in the tenant's audit chain, which verifies */
	char q[256];
	snprintf(q, sizeof(q), "/v1/audit?target=%s&limit=500", dev);
	assert_int_equal(call("GET", q, AUDITOR, NULL, &r), 200);
	json_t *items = json_object_get(r.json, "items");
	const char *want[] = {"device.register",     "contract.create",
	                      "device.sync",         "device.lock",
	                      "device.unlock",       "device.stolen",
	                      "device.stolen_clear", "device.release"};
	for (size_t w = 0; w < sizeof(want) / sizeof(want[0]); w++) {
		bool found = false;
		for (size_t i = 0; i < json_array_size(items); i++)
			found = found ||
			        strcmp(json_string_value(json_object_get(
			                       json_array_get(items, i),
			                       "action")),
			               want[w]) == 0;
		if (!found)
			fprintf(stderr, "missing audit action %s\n", want[w]);
		assert_true(found);
	}
	srv_res_free(&r);
	assert_int_equal(call("GET", "/v1/audit/verify", AUDITOR, NULL, &r),
	                 200);
	assert_true(json_is_true(json_object_get(r.json, "ok")));
	srv_res_free(&r);
	expect("GET", "/v1/audit", SUPPORT, NULL, 403, "perm");
	expect("GET", "/v1/audit", CLERK, NULL, 403, "perm");
}

static void test_list_filters(void **state)
{
	char dev[64], path[256], cursor[64] = "";
	struct srv_res r;
	int total = 0;

	(void)state;
	for (unsigned i = 0; i < 5; i++)
		register_dev(40 + i, ADMIN, dev);
	add_contract(dev, 44);
	assert_int_equal(call("GET", "/v1/devices?q=SN-42", SUPPORT, NULL, &r),
	                 200);
	assert_int_equal(json_array_size(json_object_get(r.json, "items")), 1);
	srv_res_free(&r);
	assert_int_equal(call("GET", "/v1/devices?q=l-44", SUPPORT, NULL, &r),
	                 200);
	assert_int_equal(json_array_size(json_object_get(r.json, "items")), 1);
	srv_res_free(&r);
	assert_int_equal(
	        call("GET", "/v1/devices?overdue=true", ADMIN, NULL, &r), 200);
	json_t *items = json_object_get(r.json, "items");
	assert_true(json_array_size(items) >= 1);
	for (size_t i = 0; i < json_array_size(items); i++)
		assert_true(json_integer_value(json_object_get(
		                    json_array_get(items, i), "amount_due")) >
		            0);
	srv_res_free(&r);
	assert_int_equal(
	        call("GET", "/v1/devices?state=released", ADMIN, NULL, &r),
	        200);
	items = json_object_get(r.json, "items");
	for (size_t i = 0; i < json_array_size(items); i++)
		assert_string_equal(json_string_value(json_object_get(
		                            json_array_get(items, i), "state")),
		                    "released");
	srv_res_free(&r);
	expect("GET", "/v1/devices?state=sleeping", ADMIN, NULL, 400,
	       "invalid");
	expect("GET", "/v1/devices?overdue=maybe", ADMIN, NULL, 400, "invalid");
	/* walk every page of 2 */
	for (int guard = 0; guard < 100; guard++) {
		snprintf(path, sizeof(path), "/v1/devices?limit=2%s%s",
		         cursor[0] ? "&cursor=" : "", cursor);
		assert_int_equal(call("GET", path, ADMIN, NULL, &r), 200);
		total += (int)json_array_size(json_object_get(r.json, "items"));
		json_t *next = json_object_get(r.json, "next_cursor");
		if (json_is_null(next)) {
			srv_res_free(&r);
			break;
		}
		snprintf(cursor, sizeof(cursor), "%s", json_string_value(next));
		srv_res_free(&r);
	}
	assert_true(total >= 5);
}

/* A tamper (sim = false) or SIM report recorded through the store, as a
 * check-in records it. */
static void report_via_store(const char *dev, bool sim)
{
	char path[600];
	struct fl_store *st = NULL;
	struct fl_tx *tx = NULL;

	snprintf(path, sizeof(path), "%s/finlock.db", srv_data_dir(S));
	assert_int_equal(fl_store_open_sqlite(&st, path, NULL), FL_OK);
	assert_int_equal(fl_store_begin(st, true, &tx), FL_OK);
	assert_int_equal(fl_store_device_report(tx, dev, sim, time(NULL),
	                                        sim ? "iccid 8925" : "rooted"),
	                 FL_OK);
	assert_int_equal(fl_tx_commit(tx), FL_OK);
	fl_store_close(st);
}

/* A contract body due in the future (days from now), n for the loan ref. */
static void future_contract(const char *dev, unsigned n, int days,
                            long long amount)
{
	char path[128], body[512], due[FL_TIME_STR_LEN];

	fl_time_format((fl_time)time(NULL) + days * FL_DAY, due);
	snprintf(path, sizeof(path), "/v1/devices/%s/contract", dev);
	snprintf(body, sizeof(body),
	         "{\"loan_ref\":\"L-%u\",\"currency\":\"KES\",\"schedule\":"
	         "[{\"due\":\"%s\",\"amount\":%lld}],\"policy\":{\"contact\":"
	         "{\"name\":\"Acme\",\"phones\":[\"+254700000000\"]}}}",
	         n, due, amount);
	expect("POST", path, ADMIN, body, 201, NULL);
}

static void test_lender_view(void **state)
{
	char dev[64], path[200], base[128], body[256], imei[16], past[32];
	char cmd_id[32];
	struct srv_res r;
	json_t *d, *pend;

	(void)state;
	register_dev(60, ADMIN, dev);
	snprintf(base, sizeof(base), "/v1/devices/%s", dev);
	future_contract(dev, 60, 30, 5000);
	enroll_via_store(dev);
	snprintf(path, sizeof(path), "%s/sync", base);
	assert_int_equal(call("POST", path, ADMIN, "{}", &r), 200);
	/* a new contract: paid through nothing, not locked for anything */
	assert_true(json_is_null(json_object_get(r.json, "paid_through")));
	assert_string_equal(srv_jstr(&r, "lock_cause"), "none");
	assert_string_equal(srv_jstr(&r, "next_lock_cause"), "overdue");
	srv_res_free(&r);

	/* a clerk finds a phone by IMEI, and may not list the book */
	imei_of(60, imei);
	snprintf(path, sizeof(path), "/v1/devices/by-imei/%s", imei);
	assert_int_equal(call("GET", path, CLERK, NULL, &r), 200);
	assert_int_equal(json_array_size(json_object_get(r.json, "items")), 1);
	assert_string_equal(
	        json_string_value(json_object_get(
	                json_array_get(json_object_get(r.json, "items"), 0),
	                "id")),
	        dev);
	srv_res_free(&r);
	expect("GET", "/v1/devices/by-imei/123456789012345", CLERK, NULL, 400,
	       NULL);
	expect("GET", "/v1/devices", CLERK, NULL, 403, "perm");

	/* times in the past are refused */
	fl_time_format((fl_time)time(NULL) - 3600, past);
	snprintf(path, sizeof(path), "%s/lock", base);
	snprintf(body, sizeof(body), "{\"reason\":\"x\",\"at\":\"%s\"}", past);
	expect("POST", path, ADMIN, body, 400, "range");
	snprintf(path, sizeof(path), "%s/unlock", base);
	snprintf(body, sizeof(body), "{\"until\":\"%s\"}", past);
	expect("POST", path, ADMIN, body, 400, "range");

	/* a scheduled lock shows as pending, and is cancelled with a
	 * reason */
	fl_time_format((fl_time)time(NULL) + 7 * FL_DAY, past);
	snprintf(path, sizeof(path), "%s/lock", base);
	snprintf(body, sizeof(body),
	         "{\"reason\":\"visit\",\"at\":\"%s\",\"show_reason\":true}",
	         past);
	assert_int_equal(call("POST", path, ADMIN, body, &r), 200);
	assert_string_equal(srv_jstr(&r, "next_lock_cause"), "scheduled");
	srv_res_free(&r);
	assert_int_equal(call("GET", base, SUPPORT, NULL, &r), 200);
	pend = json_object_get(r.json, "pending_commands");
	assert_int_equal(json_array_size(pend), 1);
	assert_string_equal(json_string_value(json_object_get(
	                            json_array_get(pend, 0), "kind")),
	                    "lock_at");
	assert_string_equal(json_string_value(json_object_get(
	                            json_array_get(pend, 0), "at")),
	                    past);
	assert_true(json_is_true(
	        json_object_get(json_array_get(pend, 0), "show_reason")));
	snprintf(cmd_id, sizeof(cmd_id), "%lld",
	         (long long)json_integer_value(
	                 json_object_get(json_array_get(pend, 0), "id")));
	srv_res_free(&r);
	snprintf(path, sizeof(path), "%s/commands/%s/cancel", base, cmd_id);
	expect("POST", path, ADMIN, "{}", 400, "field_missing");
	expect("POST", path, SUPPORT, "{\"reason\":\"paid\"}", 403, "perm");
	assert_int_equal(
	        call("POST", path, ADMIN, "{\"reason\":\"paid at branch\"}", &r),
	        200);
	assert_int_equal(
	        json_array_size(json_object_get(r.json, "pending_commands")), 0);
	assert_string_equal(srv_jstr(&r, "next_lock_cause"), "overdue");
	srv_res_free(&r);
	expect("POST", path, ADMIN, "{\"reason\":\"again\"}", 409, "state");
	expect("POST", "/v1/devices/dv_nope/commands/1/cancel", ADMIN,
	       "{\"reason\":\"x\"}", 404, NULL);
	snprintf(path, sizeof(path), "%s/commands/999999/cancel", base);
	expect("POST", path, ADMIN, "{\"reason\":\"x\"}", 404, NULL);
	/* an unlock holds as pending too, and cancelling it ends it now */
	snprintf(path, sizeof(path), "%s/unlock", base);
	snprintf(body, sizeof(body), "{\"until\":\"%s\"}", past);
	assert_int_equal(call("POST", path, ADMIN, body, &r), 200);
	srv_res_free(&r);
	assert_int_equal(call("GET", base, ADMIN, NULL, &r), 200);
	pend = json_object_get(r.json, "pending_commands");
	assert_int_equal(json_array_size(pend), 1);
	snprintf(cmd_id, sizeof(cmd_id), "%lld",
	         (long long)json_integer_value(
	                 json_object_get(json_array_get(pend, 0), "id")));
	srv_res_free(&r);
	snprintf(path, sizeof(path), "%s/commands/%s/cancel", base, cmd_id);
	assert_int_equal(call("POST", path, ADMIN, "{\"reason\":\"no deal\"}",
	                      &r),
	                 200);
	assert_true(json_is_null(json_object_get(r.json, "unlock_until")));
	srv_res_free(&r);
	/* the audit list shows the reason */
	snprintf(path, sizeof(path),
	         "/v1/audit?action=device.command_cancel&target=%s", dev);
	assert_int_equal(call("GET", path, AUDITOR, NULL, &r), 200);
	assert_int_equal(json_array_size(json_object_get(r.json, "items")), 2);
	assert_string_equal(json_string_value(json_object_get(
	                            json_array_get(json_object_get(r.json,
	                                                           "items"),
	                                           0),
	                            "reason")),
	                    "paid at branch");
	srv_res_free(&r);

	/* a lock scheduled after the overdue lock still shows, and is
	 * cancelled like any other */
	fl_time_format((fl_time)time(NULL) + 3650 * FL_DAY, past);
	snprintf(path, sizeof(path), "%s/lock", base);
	snprintf(body, sizeof(body), "{\"reason\":\"later\",\"at\":\"%s\"}",
	         past);
	assert_int_equal(call("POST", path, ADMIN, body, &r), 200);
	assert_string_equal(srv_jstr(&r, "next_lock_cause"), "overdue");
	srv_res_free(&r);
	assert_int_equal(call("GET", base, ADMIN, NULL, &r), 200);
	pend = json_object_get(r.json, "pending_commands");
	assert_int_equal(json_array_size(pend), 1);
	assert_string_equal(json_string_value(json_object_get(
	                            json_array_get(pend, 0), "at")),
	                    past);
	snprintf(cmd_id, sizeof(cmd_id), "%lld",
	         (long long)json_integer_value(
	                 json_object_get(json_array_get(pend, 0), "id")));
	srv_res_free(&r);
	snprintf(path, sizeof(path), "%s/commands/%s/cancel", base, cmd_id);
	assert_int_equal(
	        call("POST", path, ADMIN, "{\"reason\":\"not needed\"}", &r),
	        200);
	assert_int_equal(
	        json_array_size(json_object_get(r.json, "pending_commands")), 0);
	srv_res_free(&r);

	/* manual payments: more than remains, a reference used before */
	snprintf(path, sizeof(path), "%s/payments", base);
	expect("POST", path, ADMIN,
	       "{\"amount\":6000,\"reference\":\"MP-60-1\"}", 400, "money");
	assert_int_equal(call("POST", path, ADMIN,
	                      "{\"amount\":1000,\"reference\":\"MP-60-2\"}",
	                      &r),
	                 201);
	snprintf(body, sizeof(body), "%s",
	         json_string_value(json_object_get(
	                 json_object_get(r.json, "payment"), "id")));
	srv_res_free(&r);
	assert_int_equal(call("POST", path, ADMIN,
	                      "{\"amount\":100,\"reference\":\"MP-60-2\"}", &r),
	                 409);
	assert_string_equal(srv_err_code(&r), "conflict");
	assert_non_null(strstr(r.body, body)); /* names the earlier one */
	srv_res_free(&r);
	assert_int_equal(call("POST", path, ADMIN,
	                      "{\"amount\":100,\"reference\":\"MP-60-2\","
	                      "\"allow_duplicate_reference\":true}",
	                      &r),
	                 201);
	srv_res_free(&r);
	/* 3900 remain: 4000 with the overpayment allowed, 100 credit */
	assert_int_equal(call("POST", path, ADMIN,
	                      "{\"amount\":4000,\"reference\":\"MP-60-3\","
	                      "\"allow_overpayment\":true}",
	                      &r),
	                 201);
	d = json_object_get(r.json, "device");
	assert_int_equal(json_integer_value(json_object_get(d, "credit")), 100);
	assert_string_equal(json_string_value(json_object_get(d, "state")),
	                    "released");
	assert_true(json_is_string(json_object_get(d, "paid_through")));
	srv_res_free(&r);
}

static void test_contract_validation(void **state)
{
	char dev[64], path[128], body[768], due[FL_TIME_STR_LEN];
	struct srv_res r;

	(void)state;
	register_dev(70, ADMIN, dev);
	snprintf(path, sizeof(path), "/v1/devices/%s/contract", dev);
	fl_time_format((fl_time)time(NULL) + 30 * FL_DAY, due);
#define C(cur, extra)                                                          \
	snprintf(body, sizeof(body),                                           \
	         "{\"currency\":\"%s\",\"schedule\":[{\"due\":\"%s\","         \
	         "\"amount\":100}]%s}",                                        \
	         cur, due, extra)
	C("ABC", "");
	expect("POST", path, ADMIN, body, 400, "invalid");
	C("kes", "");
	expect("POST", path, ADMIN, body, 400, "invalid");
	C("KES", ",\"policy\":{\"contact\":{\"phones\":[\"0700000001\"]}}");
	assert_int_equal(call("POST", path, ADMIN, body, &r), 400);
	assert_non_null(strstr(r.body, "E.164"));
	srv_res_free(&r);
	C("KES", ",\"policy\":{\"message\":\"\"}");
	expect("POST", path, ADMIN, body, 400, "invalid");
	C("KES", ",\"policy\":{\"contact\":{\"name\":\" \"}}");
	expect("POST", path, ADMIN, body, 400, "invalid");
	/* a schedule error names the installment and what is wrong */
	snprintf(body, sizeof(body),
	         "{\"currency\":\"KES\",\"schedule\":[{\"due\":\"2090-01-02\","
	         "\"amount\":100},{\"due\":\"2090-01-01\",\"amount\":100}]}");
	assert_int_equal(call("POST", path, ADMIN, body, &r), 400);
	assert_non_null(strstr(r.body, "schedule[1] (installment 2)"));
	assert_non_null(strstr(r.body, "not after"));
	srv_res_free(&r);
	/* installments already due: refused, then allowed with a warning */
	snprintf(body, sizeof(body),
	         "{\"currency\":\"UGX\",\"schedule\":[{\"due\":\"2021-01-01\","
	         "\"amount\":100},{\"due\":\"2090-01-01\",\"amount\":100}]}");
	assert_int_equal(call("POST", path, ADMIN, body, &r), 400);
	assert_string_equal(srv_err_code(&r), "schedule");
	assert_non_null(strstr(r.body, "allow_overdue"));
	srv_res_free(&r);
	snprintf(body, sizeof(body),
	         "{\"currency\":\"UGX\",\"allow_overdue\":true,\"schedule\":["
	         "{\"due\":\"2021-01-01\",\"amount\":100},{\"due\":"
	         "\"2090-01-01\",\"amount\":100}]}");
	assert_int_equal(call("POST", path, ADMIN, body, &r), 201);
	assert_int_equal(json_array_size(json_object_get(r.json, "warnings")),
	                 1);
	srv_res_free(&r);
#undef C
}

static void test_alert_filters(void **state)
{
	char a[64], b[64];
	struct srv_res r;
	json_t *items;

	(void)state;
	register_dev(80, ADMIN, a);
	register_dev(81, ADMIN, b);
	report_via_store(a, false);
	report_via_store(b, true);
	assert_int_equal(call("GET", "/v1/devices?tamper=TRUE&limit=500",
	                      SUPPORT, NULL, &r),
	                 200);
	items = json_object_get(r.json, "items");
	assert_true(json_array_size(items) >= 1);
	for (size_t i = 0; i < json_array_size(items); i++) {
		json_t *it = json_array_get(items, i);

		assert_true(json_is_object(json_object_get(it, "tamper")));
		assert_string_not_equal(
		        json_string_value(json_object_get(it, "id")), b);
	}
	srv_res_free(&r);
	assert_int_equal(
	        call("GET", "/v1/devices?sim=true&limit=500", SUPPORT, NULL, &r),
	        200);
	items = json_object_get(r.json, "items");
	assert_true(json_array_size(items) >= 1);
	for (size_t i = 0; i < json_array_size(items); i++)
		assert_string_not_equal(json_string_value(json_object_get(
		                                json_array_get(items, i), "id")),
		                        a);
	srv_res_free(&r);
	/* enum filters in any case */
	expect("GET", "/v1/devices?state=PENDING", ADMIN, NULL, 200, NULL);
	expect("GET", "/v1/devices?overdue=True", ADMIN, NULL, 200, NULL);
	expect("GET", "/v1/devices?tamper=maybe", ADMIN, NULL, 400, "invalid");
}

static void test_key_last_used(void **state)
{
	struct srv_res r;
	json_t *items;
	bool seen = false;

	(void)state;
	/* the clerk key was used above; every key shows when */
	assert_int_equal(call("GET", "/v1/keys", ADMIN, NULL, &r), 200);
	items = json_object_get(r.json, "items");
	for (size_t i = 0; i < json_array_size(items); i++) {
		json_t *k = json_array_get(items, i);

		assert_non_null(json_object_get(k, "last_used_at"));
		if (strcmp(json_string_value(json_object_get(k, "role")),
		           "admin") == 0) {
			assert_true(json_is_string(
			        json_object_get(k, "last_used_at")));
			seen = true;
		}
	}
	assert_true(seen);
	srv_res_free(&r);
}

int main(void)

{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_register_and_roles),
	        cmocka_unit_test(test_register_bad_input),
	        cmocka_unit_test(test_contract),
	        cmocka_unit_test(test_payments),
	        cmocka_unit_test(test_commands_and_decisions),
	        cmocka_unit_test(test_list_filters),
	        cmocka_unit_test(test_lender_view),
	        cmocka_unit_test(test_contract_validation),
	        cmocka_unit_test(test_alert_filters),
	        cmocka_unit_test(test_key_last_used),
	};
	return cmocka_run_group_tests_name("server_devices", tests, setup,
	                                   teardown);
}
