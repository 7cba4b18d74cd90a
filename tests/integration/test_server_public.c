/*
 * Integration tests of the public IMEI check and its signed status
 * certificate: the four statuses, never "locked" and never a debtor's
 * data, the lender only with the matching serial, invalid IMEIs with their
 * reason, a certificate that verifies under the root (as an IMEI
 * certificate and as nothing else), and the per-client and global rate
 * limits (429 with Retry-After).
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
#include "core/paserk.h"
#include "core/token.h"
#include "store/store.h"
#include "support/server_harness.h"

static struct srv *S;
static char T1[64], ADMIN[64];

static int setup(void **state)
{
	const char *args[] = {"--public-rate", "100", "--public-burst", "1000",
	                      NULL};
	struct srv_opts o = {.args = args};

	(void)state;
	if (fl_crypto_init() != FL_OK || srv_start(&S, &o) != 0)
		return -1;
	return srv_tenant(S, "Acme Credit", T1, ADMIN);
}

static int teardown(void **state)
{
	(void)state;
	srv_free(S);
	return 0;
}

static long call(const char *method, const char *path, const char *key,
                 const char *body, struct srv_res *r)
{
	assert_int_equal(srv_req(S, method, path, key, body, r), 0);
	return r->status;
}

static void device(const char *imei, const char *serial, char id[64])
{
	char body[256], path[128];
	struct srv_res r;

	snprintf(body, sizeof(body), "{\"imei\":\"%s\",\"serial\":\"%s\"}",
	         imei, serial);
	assert_int_equal(call("POST", "/v1/devices", ADMIN, body, &r), 201);
	snprintf(id, 64, "%s",
	         json_string_value(json_object_get(
	                 json_object_get(r.json, "device"), "id")));
	srv_res_free(&r);
	snprintf(path, sizeof(path), "/v1/devices/%s/contract", id);
	/* loan references are unique per lender */
	snprintf(body, sizeof(body),
	         "{\"loan_ref\":\"SECRET-LOAN-%s\",\"currency\":"
	         "\"KES\",\"allow_overdue\":true,\"schedule\":[{\"due\":"
	         "\"2021-01-01\",\"amount\":777}],\"policy\":{\"contact\":{"
	         "\"name\":\"Acme desk\",\"phones\":[\"+2547001\"]}}}",
	         imei);
	assert_int_equal(call("POST", path, ADMIN, body, &r), 201);
	srv_res_free(&r);
}

static const char *status_of(const char *imei, const char *serial,
                             struct srv_res *r)
{
	char path[128];

	snprintf(path, sizeof(path), "/v1/imei/%s%s%s", imei,
	         serial ? "?serial=" : "", serial ? serial : "");
	assert_int_equal(call("GET", path, NULL, NULL, r), 200);
	return srv_jstr(r, "status");
}

static void test_statuses(void **state)
{
	char id[64], path[128], dbp[600];
	struct srv_res r;

	(void)state;
	assert_string_equal(status_of("356938035643809", NULL, &r),
	                    "no_record");
	srv_res_free(&r);
	device("490154203237518", "SER-1", id);
	/* the phone enrolled and is overdue: locked, but the public sees
	 * only "financed", with nothing about the debt */
	{
		struct fl_store *st = NULL;
		struct fl_tx *tx = NULL;
		uint8_t k[32] = {7};

		snprintf(dbp, sizeof(dbp), "%s/finlock.db", srv_data_dir(S));
		assert_int_equal(fl_store_open_sqlite(&st, dbp, NULL), FL_OK);
		assert_int_equal(fl_store_begin(st, true, &tx), FL_OK);
		assert_int_equal(
		        fl_store_device_enroll(tx, id, k, k, time(NULL)),
		        FL_OK);
		assert_int_equal(fl_tx_commit(tx), FL_OK);
		fl_store_close(st);
	}
	snprintf(path, sizeof(path), "/v1/devices/%s/sync", id);
	assert_int_equal(call("POST", path, ADMIN, NULL, &r), 200);
	assert_string_equal(srv_jstr(&r, "state"), "locked");
	srv_res_free(&r);
	assert_string_equal(status_of("490154203237518", NULL, &r), "financed");
	assert_null(strstr(r.body, "locked"));
	assert_null(strstr(r.body, "777"));
	assert_null(strstr(r.body, "SECRET-LOAN"));
	assert_null(strstr(r.body, "Acme"));
	assert_null(json_object_get(r.json, "lender"));
	srv_res_free(&r);
	/* a wrong serial is the same as none */
	status_of("490154203237518", "SER-2", &r);
	assert_null(json_object_get(r.json, "lender"));
	srv_res_free(&r);
	status_of("490154203237518", "SER-", &r);
	assert_null(json_object_get(r.json, "lender"));
	srv_res_free(&r);
	/* the right serial shows the lender and its contact, still no debt */
	status_of("490154203237518", "SER-1", &r);
	json_t *l = json_object_get(r.json, "lender");
	assert_string_equal(json_string_value(json_object_get(l, "name")),
	                    "Acme Credit");
	json_t *c = json_object_get(l, "contact");
	assert_string_equal(json_string_value(json_object_get(c, "name")),
	                    "Acme desk");
	assert_null(strstr(r.body, "777"));
	assert_null(strstr(r.body, "SECRET-LOAN"));
	srv_res_free(&r);
	/* separators in the path are fine */
	assert_string_equal(status_of("49-015420-323751-8", NULL, &r),
	                    "financed");
	srv_res_free(&r);
	/* stolen */
	snprintf(path, sizeof(path), "/v1/devices/%s/stolen", id);
	assert_int_equal(
	        call("POST", path, ADMIN, "{\"reason\":\"theft\"}", &r), 200);
	srv_res_free(&r);
	assert_string_equal(status_of("490154203237518", NULL, &r), "stolen");
	srv_res_free(&r);
	snprintf(path, sizeof(path), "/v1/devices/%s/stolen/clear", id);
	assert_int_equal(
	        call("POST", path, ADMIN, "{\"reason\":\"found\"}", &r), 200);
	srv_res_free(&r);
	/* released */
	snprintf(path, sizeof(path), "/v1/devices/%s/release", id);
	assert_int_equal(call("POST", path, ADMIN, "{}", &r), 200);
	srv_res_free(&r);
	assert_string_equal(status_of("490154203237518", NULL, &r), "released");
	srv_res_free(&r);
}

static void test_invalid_imeis(void **state)
{
	struct {
		const char *imei, *code;
	} bad[] = {
	        {"490154203237519", "imei_check"},
	        {"4901542032375", "imei_length"},
	        {"4901542032375182", "imei_imeisv"},
	        {"49015420323751x", "imei_digits"},
	};
	char path[128];
	struct srv_res r;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(path, sizeof(path), "/v1/imei/%s", bad[i].imei);
		assert_int_equal(call("GET", path, NULL, NULL, &r), 400);
		assert_string_equal(srv_err_code(&r), bad[i].code);
		assert_true(strlen(json_string_value(json_object_get(
		                    json_object_get(r.json, "error"),
		                    "message"))) > 5);
		srv_res_free(&r);
		snprintf(path, sizeof(path), "/v1/imei/%s/certificate",
		         bad[i].imei);
		assert_int_equal(call("GET", path, NULL, NULL, &r), 400);
		srv_res_free(&r);
	}
	assert_int_equal(
	        call("GET", "/v1/imei/490154203237518?x=1", NULL, NULL, &r),
	        400);
	srv_res_free(&r);
	assert_int_equal(
	        call("POST", "/v1/imei/490154203237518", NULL, NULL, &r), 405);
	srv_res_free(&r);
}

static void test_certificate(void **state)
{
	char imei[] = "352099001761481", id[64];
	uint8_t root[FL_SIGN_PK_LEN];
	struct fl_trust *t = NULL;
	char *payload = NULL;
	size_t len = 0;
	struct srv_res r;
	json_t *p;

	(void)state;
	device(imei, "CERT-1", id);
	assert_int_equal(call("GET", "/v1/imei/352099001761481/certificate",
	                      NULL, NULL, &r),
	                 200);
	const char *token = srv_jstr(&r, "certificate");
	const char *rootpk = srv_jstr(&r, "root");
	assert_int_equal(strncmp(token, "v4.public.", 10), 0);
	assert_int_equal(fl_paserk_public_decode(root, rootpk, strlen(rootpk)),
	                 FL_OK);
	assert_int_equal(fl_trust_new(&t, root), FL_OK);
	assert_int_equal(fl_trust_add_cert(t, srv_jstr(&r, "key_cert"),
	                                   time(NULL), NULL),
	                 FL_OK);
	assert_int_equal(fl_trust_verify(t, FL_MSG_IMEI_CERT, token, time(NULL),
	                                 &payload, &len),
	                 FL_OK);
	p = json_loadb(payload, len, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(p, "imei")),
	                    imei);
	assert_string_equal(json_string_value(json_object_get(p, "status")),
	                    "financed");
	assert_non_null(json_object_get(p, "exp"));
	assert_null(json_object_get(p, "lender"));
	json_decref(p);
	free(payload);
	/* not a device token, not an audit head */
	assert_int_not_equal(fl_trust_verify(t, FL_MSG_DEVICE_TOKEN, token,
	                                     time(NULL), &payload, &len),
	                     FL_OK);
	assert_int_not_equal(fl_trust_verify(t, FL_MSG_AUDIT_HEAD, token,
	                                     time(NULL), &payload, &len),
	                     FL_OK);
	srv_res_free(&r);
	/* with the serial, the lender is inside the signed payload */
	assert_int_equal(call("GET",
	                      "/v1/imei/352099001761481/certificate?serial="
	                      "CERT-1",
	                      NULL, NULL, &r),
	                 200);
	assert_int_equal(fl_trust_verify(t, FL_MSG_IMEI_CERT,
	                                 srv_jstr(&r, "certificate"),
	                                 time(NULL), &payload, &len),
	                 FL_OK);
	assert_non_null(strstr(payload, "Acme Credit"));
	free(payload);
	srv_res_free(&r);
	fl_trust_free(t);
}

static void test_rate_limits(void **state)
{
	const char *args[] = {"--public-rate",
	                      "0.2",
	                      "--public-burst",
	                      "5",
	                      "--public-global-rate",
	                      "0.2",
	                      "--public-global-burst",
	                      "8",
	                      NULL};
	struct srv_opts o = {.args = args};
	struct srv *s;
	struct srv_res r;
	int ok = 0;

	(void)state;
	assert_int_equal(srv_start(&s, &o), 0);
	/* one client: 5, then 429 with Retry-After */
	for (int i = 0; i < 5; i++) {
		assert_int_equal(srv_req(s, "GET", "/v1/imei/490154203237518",
		                         NULL, NULL, &r),
		                 0);
		ok += r.status == 200;
		srv_res_free(&r);
	}
	assert_int_equal(ok, 5);
	assert_int_equal(
	        srv_req(s, "GET", "/v1/imei/490154203237518", NULL, NULL, &r),
	        0);
	assert_int_equal(r.status, 429);
	assert_string_equal(srv_err_code(&r), "limit");
	assert_true(atoi(srv_res_header(&r, "Retry-After")) >= 1);
	srv_res_free(&r);
	/* the certificate shares the limit */
	assert_int_equal(srv_req(s, "GET",
	                         "/v1/imei/490154203237518/certificate", NULL,
	                         NULL, &r),
	                 0);
	assert_int_equal(r.status, 429);
	srv_res_free(&r);
	/* another client address has its own bucket ... */
	srv_set_source(s, "127.0.0.2");
	ok = 0;
	for (int i = 0; i < 5; i++) {
		assert_int_equal(srv_req(s, "GET", "/v1/imei/490154203237518",
		                         NULL, NULL, &r),
		                 0);
		ok += r.status == 200;
		srv_res_free(&r);
	}
	/* ... but all clients share the global 8 */
	assert_int_equal(ok, 3);
	srv_set_source(s, "127.0.0.3");
	assert_int_equal(
	        srv_req(s, "GET", "/v1/imei/490154203237518", NULL, NULL, &r),
	        0);
	assert_int_equal(r.status, 429);
	srv_res_free(&r);
	/* authenticated routes are not behind the public limiter */
	assert_int_equal(
	        srv_req(s, "GET", "/v1/tenants", srv_operator_key(s), NULL, &r),
	        0);
	assert_int_equal(r.status, 200);
	srv_res_free(&r);
	assert_int_equal(
	        srv_req(s, "GET", "/metrics", srv_operator_key(s), NULL, &r),
	        0);
	assert_non_null(strstr(r.body, "finlockd_public_ratelimited_total 5"));
	srv_res_free(&r);
	srv_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_statuses),
	        cmocka_unit_test(test_invalid_imeis),
	        cmocka_unit_test(test_certificate),
	        cmocka_unit_test(test_rate_limits),
	};
	return cmocka_run_group_tests_name("server_public", tests, setup,
	                                   teardown);
}
