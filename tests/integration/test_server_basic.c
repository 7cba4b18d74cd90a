/*
 * Integration tests for finlockd's foundations, over real HTTP: start-up in
 * an empty data directory, the operator key, health, authentication and
 * roles, tenants and API keys, strict input, limits, idempotency, the audit
 * chain, clean shutdown.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "support/server_harness.h"

static struct srv *S;

static int setup(void **state)
{
	(void)state;
	return srv_start(&S, NULL);
}

static int teardown(void **state)
{
	(void)state;
	srv_free(S);
	return 0;
}

/* Request helper: asserts the transport worked, returns the status. */
static long req(const char *method, const char *path, const char *key,
                const char *body, struct srv_res *r)
{
	assert_int_equal(srv_req(S, method, path, key, body, r), 0);
	return r->status;
}

static void expect(const char *method, const char *path, const char *key,
                   const char *body, long status, const char *code)
{
	struct srv_res r;

	if (req(method, path, key, body, &r) != status)
		fprintf(stderr, "%s %s -> %ld %s\n", method, path, r.status,
		        r.body);
	assert_int_equal(r.status, status);
	if (code != NULL)
		assert_string_equal(srv_err_code(&r), code);
	srv_res_free(&r);
}

static void test_first_start(void **state)
{
	char path[600];
	struct stat st;

	(void)state;
	/* one line "operator key: fl_..." */
	assert_int_equal(strncmp(srv_operator_key(S), "fl_", 3), 0);
	assert_int_equal(strlen(srv_operator_key(S)), 46);
	assert_non_null(strstr(srv_stdout(S), "operator key: fl_"));
	/* the data directory and its secrets are private */
	assert_int_equal(stat(srv_data_dir(S), &st), 0);
	assert_int_equal(st.st_mode & 077, 0);
	const char *files[] = {"finlock.db", "server.secret", "kx.secret",
	                       "keys.json", "dev-root.k4secret"};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", srv_data_dir(S),
		         files[i]);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 077, 0);
	}
}

static void test_healthz(void **state)
{
	struct srv_res r;

	(void)state;
	assert_int_equal(req("GET", "/healthz", NULL, NULL, &r), 200);
	assert_string_equal(srv_jstr(&r, "status"), "ok");
	assert_string_equal(srv_res_header(&r, "Content-Type"),
	                    "application/json");
	srv_res_free(&r);
}

static void test_auth_required(void **state)
{
	const char *op = srv_operator_key(S);
	char bad[64];
	struct srv_res r;
	const char *hdr[] = {"Authorization: Basic Zm9vOmJhcg==", NULL};

	(void)state;
	expect("GET", "/v1/tenants", NULL, NULL, 401, "auth");
	expect("GET", "/v1/tenants", "fl_nonsense", NULL, 401, "auth");
	/* a well-formed key that was never issued */
	snprintf(bad, sizeof(bad), "%s", op);
	bad[10] = bad[10] == 'A' ? 'B' : 'A';
	expect("GET", "/v1/tenants", bad, NULL, 401, "auth");
	assert_int_equal(
	        srv_reqx(S, "GET", "/v1/tenants", NULL, hdr, NULL, 0, &r), 0);
	assert_int_equal(r.status, 401);
	assert_non_null(srv_res_header(&r, "WWW-Authenticate"));
	assert_non_null(
	        json_object_get(json_object_get(r.json, "error"), "message"));
	srv_res_free(&r);
	expect("GET", "/v1/tenants", op, NULL, 200, NULL);
}

static void test_routes_404_405(void **state)
{
	struct srv_res r;

	(void)state;
	expect("GET", "/v1/nothing-here", NULL, NULL, 404, "not_found");
	expect("GET", "/nothing", NULL, NULL, 404, "not_found");
	/* / is the console's page (docs/web.md) */
	assert_int_equal(req("GET", "/", NULL, NULL, &r), 200);
	assert_non_null(strstr(srv_res_header(&r, "Content-Type"), "text/html"));
	srv_res_free(&r);
	assert_int_equal(req("DELETE", "/v1/tenants", NULL, NULL, &r), 405);
	assert_string_equal(srv_err_code(&r), "method");
	assert_non_null(strstr(srv_res_header(&r, "Allow"), "POST"));
	srv_res_free(&r);
}

static void test_tenants_and_keys(void **state)
{
	const char *op = srv_operator_key(S);
	char tid[64], admin[64], clerk[64], support[64], auditor[64];
	char path[256], key_id[64];
	struct srv_res r;

	(void)state;
	assert_int_equal(srv_tenant(S, "Acme Credit", tid, admin), 0);
	assert_int_equal(strncmp(tid, "tn_", 3), 0);
	snprintf(path, sizeof(path), "/v1/tenants/%s", tid);
	assert_int_equal(req("GET", path, op, NULL, &r), 200);
	assert_string_equal(srv_jstr(&r, "name"), "Acme Credit");
	srv_res_free(&r);
	expect("GET", "/v1/tenants/tn_doesnotexist", op, NULL, 404,
	       "not_found");

	assert_int_equal(srv_key(S, admin, "clerk", clerk), 0);
	assert_int_equal(srv_key(S, admin, "support", support), 0);
	assert_int_equal(srv_key(S, admin, "auditor", auditor), 0);
	/* only an admin manages keys; the operator is not a tenant */
	expect("GET", "/v1/keys", admin, NULL, 200, NULL);
	expect("GET", "/v1/keys", clerk, NULL, 403, "perm");
	expect("GET", "/v1/keys", support, NULL, 403, "perm");
	expect("GET", "/v1/keys", auditor, NULL, 403, "perm");
	expect("GET", "/v1/keys", op, NULL, 403, "perm");
	expect("POST", "/v1/keys", clerk, "{\"role\":\"admin\"}", 403, "perm");
	/* tenant keys cannot do operator things */
	expect("GET", "/v1/tenants", admin, NULL, 403, "perm");
	expect("POST", "/v1/tenants", admin, "{\"name\":\"x\"}", 403, "perm");
	expect("GET", "/metrics", admin, NULL, 403, "perm");
	/* no operator keys from a tenant, no unknown roles */
	expect("POST", "/v1/keys", admin, "{\"role\":\"operator\"}", 400,
	       "invalid");
	expect("POST", "/v1/keys", admin, "{\"role\":\"root\"}", 400,
	       "invalid");

	/* the key list never shows secrets or hashes */
	assert_int_equal(req("GET", "/v1/keys", admin, NULL, &r), 200);
	assert_int_equal(json_array_size(json_object_get(r.json, "items")), 4);
	assert_null(strstr(r.body, "\"key\""));
	assert_null(strstr(r.body, "hash"));
	srv_res_free(&r);

	/* revoke the clerk: its key stops working at once */
	assert_int_equal(req("POST", "/v1/keys", admin,
	                     "{\"role\":\"clerk\",\"label\":\"till 2\"}", &r),
	                 201);
	snprintf(key_id, sizeof(key_id), "%s", srv_jstr(&r, "id"));
	snprintf(clerk, sizeof(clerk), "%s", srv_jstr(&r, "key"));
	assert_string_equal(srv_jstr(&r, "label"), "till 2");
	srv_res_free(&r);
	snprintf(path, sizeof(path), "/v1/keys/%s/revoke", key_id);
	expect("POST", path, admin, NULL, 200, NULL);
	expect("POST", path, admin, NULL, 409, "state");
	expect("POST", "/v1/keys", clerk, "{\"role\":\"clerk\"}", 401, "auth");

	/* the operator revokes the tenant's admin key */
	assert_int_equal(req("GET", "/v1/keys", admin, NULL, &r), 200);
	json_t *items = json_object_get(r.json, "items");
	const char *admin_id = NULL;
	for (size_t i = 0; i < json_array_size(items); i++) {
		json_t *k = json_array_get(items, i);
		if (strcmp(json_string_value(json_object_get(k, "role")),
		           "admin") == 0)
			admin_id = json_string_value(json_object_get(k, "id"));
	}
	assert_non_null(admin_id);
	snprintf(path, sizeof(path), "/v1/tenants/%s/keys/%s/revoke", tid,
	         admin_id);
	srv_res_free(&r);
	expect("POST", path, op, NULL, 200, NULL);
	expect("GET", "/v1/keys", admin, NULL, 401, "auth");
	/* and may issue a new one */
	snprintf(path, sizeof(path), "/v1/tenants/%s/keys", tid);
	assert_int_equal(req("POST", path, op, NULL, &r), 201);
	assert_string_equal(srv_jstr(&r, "role"), "admin");
	snprintf(admin, sizeof(admin), "%s", srv_jstr(&r, "key"));
	srv_res_free(&r);
	expect("GET", "/v1/keys", admin, NULL, 200, NULL);
	/* tenant audit records what the operator did for it */
	assert_int_equal(
	        req("GET", "/v1/audit?action=key.revoke", admin, NULL, &r),
	        200);
	assert_int_equal(json_array_size(json_object_get(r.json, "items")), 2);
	srv_res_free(&r);
}

static void test_bad_input(void **state)
{
	const char *op = srv_operator_key(S);
	char *big, *deep;
	size_t n;
	struct srv_res r;

	(void)state;
	expect("POST", "/v1/tenants", op, "{\"name\":", 400, "json");
	expect("POST", "/v1/tenants", op, "", 400, "json");
	expect("POST", "/v1/tenants", op, "[1,2]", 400, "field_type");
	expect("POST", "/v1/tenants", op, "{\"name\":42}", 400, "field_type");
	expect("POST", "/v1/tenants", op, "{}", 400, "field_missing");
	expect("POST", "/v1/tenants", op, "{\"name\":\"a\",\"extra\":1}", 400,
	       "field_unknown");
	expect("POST", "/v1/tenants", op, "{\"name\":\"a\",\"name\":\"b\"}",
	       400, "json");
	expect("POST", "/v1/tenants", op, "{\"name\":\"\"}", 400, "invalid");
	/* a string longer than its field */
	big = malloc(1000);
	memset(big, 'x', 999);
	big[999] = '\0';
	n = strlen(big) + 32;
	char *body = malloc(n);
	snprintf(body, n, "{\"name\":\"%s\"}", big);
	expect("POST", "/v1/tenants", op, body, 400, "range");
	free(body);
	free(big);
	/* deep nesting */
	deep = malloc(4096);
	strcpy(deep, "{\"name\":");
	for (int i = 0; i < 100; i++)
		strcat(deep, "[");
	for (int i = 0; i < 100; i++)
		strcat(deep, "]");
	strcat(deep, "}");
	expect("POST", "/v1/tenants", op, deep, 400, "json_depth");
	free(deep);
	/* a body over the limit (256 KiB by default) */
	big = malloc(400 * 1024);
	memset(big, ' ', 400 * 1024 - 1);
	big[0] = '{';
	big[400 * 1024 - 2] = '}';
	big[400 * 1024 - 1] = '\0';
	expect("POST", "/v1/tenants", op, big, 413, "too_large");
	free(big);
	/* headers over the limit (16 KiB by default) */
	char *hv = malloc(20000);
	strcpy(hv, "X-Filler: ");
	memset(hv + 10, 'a', 19000);
	hv[19010] = '\0';
	const char *hdrs[] = {hv, NULL};
	assert_int_equal(
	        srv_reqx(S, "GET", "/healthz", NULL, hdrs, NULL, 0, &r), 0);
	assert_int_equal(r.status, 431);
	assert_string_equal(srv_err_code(&r), "headers_too_large");
	srv_res_free(&r);
	free(hv);
	/* a NUL inside the body */
	assert_int_equal(srv_reqx(S, "POST", "/v1/tenants", op, NULL,
	                          "{\"name\":\"a\0b\"}", 14, &r),
	                 0);
	assert_int_equal(r.status, 400);
	srv_res_free(&r);
	/* bad query parameters */
	expect("GET", "/v1/tenants?limit=0", op, NULL, 400, "range");
	/* not a number at all: invalid (a number out of range: range) */
	expect("GET", "/v1/tenants?limit=abc", op, NULL, 400, "invalid");
	expect("GET", "/v1/tenants?cursor=%21%21", op, NULL, 400, "invalid");
	expect("GET", "/v1/tenants?bogus=1", op, NULL, 400, "invalid");
	/* nothing above created a tenant */
	assert_int_equal(req("GET", "/v1/operator/audit?action=tenant.create",
	                     op, NULL, &r),
	                 200);
	size_t before = json_array_size(json_object_get(r.json, "items"));
	srv_res_free(&r);
	expect("POST", "/v1/tenants", op, "{\"name\":", 400, "json");
	assert_int_equal(req("GET", "/v1/operator/audit?action=tenant.create",
	                     op, NULL, &r),
	                 200);
	assert_int_equal(json_array_size(json_object_get(r.json, "items")),
	                 before);
	srv_res_free(&r);
}

static void test_pagination(void **state)
{
	const char *op = srv_operator_key(S);
	char path[256], name[32], cursor[64] = "";
	struct srv_res r;
	int seen = 0;

	(void)state;
	for (int i = 0; i < 7; i++) {
		snprintf(name, sizeof(name), "{\"name\":\"page %d\"}", i);
		expect("POST", "/v1/tenants", op, name, 201, NULL);
	}
	for (int pages = 0; pages < 100; pages++) {
		snprintf(path, sizeof(path), "/v1/tenants?limit=3%s%s",
		         cursor[0] ? "&cursor=" : "", cursor);
		assert_int_equal(req("GET", path, op, NULL, &r), 200);
		json_t *items = json_object_get(r.json, "items");
		assert_true(json_array_size(items) <= 3);
		seen += (int)json_array_size(items);
		json_t *next = json_object_get(r.json, "next_cursor");
		if (json_is_null(next)) {
			srv_res_free(&r);
			break;
		}
		snprintf(cursor, sizeof(cursor), "%s", json_string_value(next));
		srv_res_free(&r);
	}
	assert_true(seen >= 7);
}

static void test_idempotency(void **state)
{
	const char *op = srv_operator_key(S);
	const char *h1[] = {"Idempotency-Key: create-tenant-1", NULL};
	const char *body = "{\"name\":\"Idem Ltd\"}";
	const char *other = "{\"name\":\"Other Ltd\"}";
	struct srv_res a, b, c, l;
	size_t count = 0;

	(void)state;
	assert_int_equal(srv_reqx(S, "POST", "/v1/tenants", op, h1, body,
	                          strlen(body), &a),
	                 0);
	assert_int_equal(a.status, 201);
	assert_int_equal(srv_reqx(S, "POST", "/v1/tenants", op, h1, body,
	                          strlen(body), &b),
	                 0);
	assert_int_equal(b.status, 201);
	assert_string_equal(a.body, b.body);
	assert_string_equal(srv_res_header(&b, "Idempotent-Replayed"), "true");
	assert_int_equal(srv_reqx(S, "POST", "/v1/tenants", op, h1, other,
	                          strlen(other), &c),
	                 0);
	assert_int_equal(c.status, 409);
	assert_string_equal(srv_err_code(&c), "idempotency");
	/* counted once */
	assert_int_equal(req("GET", "/v1/tenants?limit=500", op, NULL, &l),
	                 200);
	json_t *items = json_object_get(l.json, "items");
	for (size_t i = 0; i < json_array_size(items); i++)
		if (strcmp(json_string_value(json_object_get(
		                   json_array_get(items, i), "name")),
		           "Idem Ltd") == 0)
			count++;
	assert_int_equal(count, 1);
	srv_res_free(&a);
	srv_res_free(&b);
	srv_res_free(&c);
	srv_res_free(&l);
	/* a malformed key */
	const char *h2[] = {"Idempotency-Key: has space", NULL};
	assert_int_equal(srv_reqx(S, "POST", "/v1/tenants", op, h2, body,
	                          strlen(body), &a),
	                 0);
	assert_int_equal(a.status, 400);
	srv_res_free(&a);
}

static void test_operator_audit(void **state)
{
	const char *op = srv_operator_key(S);
	struct srv_res r;

	(void)state;
	assert_int_equal(req("GET", "/v1/operator/audit/verify", op, NULL, &r),
	                 200);
	assert_true(json_is_true(json_object_get(r.json, "ok")));
	assert_true(srv_jint(&r, "entries") >= 3);
	srv_res_free(&r);
	assert_int_equal(req("GET", "/v1/operator/audit/export", op, NULL, &r),
	                 200);
	assert_string_equal(srv_res_header(&r, "Content-Type"),
	                    "application/x-ndjson");
	/* every line is one JSON entry, seq 1, 2, 3, ... */
	long expect_seq = 1;
	for (char *line = strtok(r.body, "\n"); line != NULL;
	     line = strtok(NULL, "\n")) {
		json_t *e = json_loads(line, 0, NULL);
		assert_non_null(e);
		assert_int_equal(json_integer_value(json_object_get(e, "seq")),
		                 expect_seq++);
		json_decref(e);
	}
	assert_true(expect_seq > 3);
	srv_res_free(&r);
	/* operator keys */
	assert_int_equal(req("POST", "/v1/operator/keys", op,
	                     "{\"label\":\"backup\"}", &r),
	                 201);
	char k2[64];
	snprintf(k2, sizeof(k2), "%s", srv_jstr(&r, "key"));
	srv_res_free(&r);
	expect("GET", "/v1/operator/keys", k2, NULL, 200, NULL);
	expect("GET", "/metrics", k2, NULL, 200, NULL);
}

static void test_restart_and_stop(void **state)
{
	struct srv_res r;

	(void)state;
	assert_int_equal(srv_stop(S), 0);
	assert_int_equal(srv_restart(S), 0);
	/* the operator key is printed only on the first start */
	assert_null(strstr(srv_stdout(S), "operator key:"));
	assert_int_equal(req("GET", "/healthz", NULL, NULL, &r), 200);
	srv_res_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_first_start),
	        cmocka_unit_test(test_healthz),
	        cmocka_unit_test(test_auth_required),
	        cmocka_unit_test(test_routes_404_405),
	        cmocka_unit_test(test_tenants_and_keys),
	        cmocka_unit_test(test_bad_input),
	        cmocka_unit_test(test_pagination),
	        cmocka_unit_test(test_idempotency),
	        cmocka_unit_test(test_operator_audit),
	        cmocka_unit_test(test_restart_and_stop),
	};
	return cmocka_run_group_tests_name("server_basic", tests, setup,
	                                   teardown);
}
