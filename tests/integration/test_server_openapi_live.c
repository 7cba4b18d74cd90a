/*
 * docs/openapi.yaml against a running finlockd: every route of the router
 * is called with every role's key and with none, with an unknown query
 * parameter, with a malformed body and with ids that do not exist, and
 * every answer's status must be one the document lists for that
 * operation. A path with an empty segment ("/v1/devices//contract") is a
 * 404 and never reaches another route.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/crypto.h"
#include "server/router.h"
#include "support/server_harness.h"

#define MAX_OPS    128
#define MAX_STATUS 24

struct op {
	char method[8];
	char path[160];
	int status[MAX_STATUS];
	int n;
};

static struct op ops[MAX_OPS];
static int n_ops;

/* Reads every operation's response statuses from the document's block
 * layout: "  /path:", "    get:", "      responses:", '        "200":'. */
static void read_doc(void)
{
	char line[1024], path[160] = "";
	struct op *cur = NULL;
	bool in_resp = false;
	FILE *f = fopen("docs/openapi.yaml", "r");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		size_t ind = strspn(line, " ");

		line[strcspn(line, "\r\n")] = '\0';
		if (ind == 0 && strcmp(line, "paths:") != 0 && n_ops > 0)
			break;
		if (ind == 2 && line[2] == '/') {
			cur = NULL;
			snprintf(path, sizeof(path), "%.*s",
			         (int)(strlen(line + 2) - 1), line + 2);
			continue;
		}
		if (ind == 4 && line[strlen(line) - 1] == ':' &&
		    strchr(line + 4, ' ') == NULL) {
			assert_true(n_ops < MAX_OPS - 1);
			cur = &ops[n_ops];
			snprintf(cur->method, sizeof(cur->method), "%.*s",
			         (int)(strlen(line + 4) - 1), line + 4);
			snprintf(cur->path, sizeof(cur->path), "%s", path);
			for (char *p = cur->method; *p != '\0'; p++)
				*p = (char)(*p - 'a' + 'A');
			n_ops++;
			in_resp = false;
			continue;
		}
		if (cur == NULL)
			continue;
		if (ind == 6)
			in_resp = strcmp(line + 6, "responses:") == 0;
		else if (in_resp && ind == 8 && line[8] == '"') {
			assert_true(cur->n < MAX_STATUS);
			cur->status[cur->n++] = atoi(line + 9);
		}
	}
	fclose(f);
	assert_true(n_ops > 40);
}

static const struct op *find_op(const char *method, const char *pattern)
{
	for (int i = 0; i < n_ops; i++)
		if (strcmp(ops[i].method, method) == 0 &&
		    strcmp(ops[i].path, pattern) == 0)
			return &ops[i];
	return NULL;
}

/* --- the world the routes are called in --------------------------------- */

static struct srv *S;
static char TENANT[64], ADMIN[64], CLERK[64], SUPPORT[64], AUDITOR[64];
static char DEVICE[64], PAYMENT[64], SPARE_KEY[64], SPARE_ADMIN[64],
        SPARE_OP[64];
static const char IMEI[] = "352099001761481";
static int failures;

static void json_id(const struct srv_res *r, const char *obj, char out[64])
{
	json_t *o = obj != NULL ? json_object_get(r->json, obj) : r->json;
	const char *id = json_string_value(json_object_get(o, "id"));

	assert_non_null(id);
	snprintf(out, 64, "%s", id);
}

static int setup(void **state)
{
	struct srv_res r;
	char path[160], key[64];

	(void)state;
	if (fl_crypto_init() != FL_OK || srv_start(&S, NULL) != 0 ||
	    srv_tenant(S, "Acme Credit", TENANT, ADMIN) != 0 ||
	    srv_key(S, ADMIN, "clerk", CLERK) != 0 ||
	    srv_key(S, ADMIN, "support", SUPPORT) != 0 ||
	    srv_key(S, ADMIN, "auditor", AUDITOR) != 0)
		return -1;
	read_doc();
	assert_int_equal(srv_req(S, "POST", "/v1/devices", ADMIN,
	                         "{\"imei\":\"352099001761481\",\"serial\":"
	                         "\"SN1\"}",
	                         &r),
	                 0);
	assert_int_equal(r.status, 201);
	json_id(&r, "device", DEVICE);
	srv_res_free(&r);
	snprintf(path, sizeof(path), "/v1/devices/%s/contract", DEVICE);
	assert_int_equal(srv_req(S, "POST", path, ADMIN,
	                         "{\"currency\":\"KES\",\"schedule\":[{\"due\":"
	                         "\"2099-01-01\",\"amount\":1000}]}",
	                         &r),
	                 0);
	assert_int_equal(r.status, 201);
	srv_res_free(&r);
	snprintf(path, sizeof(path), "/v1/devices/%s/payments", DEVICE);
	assert_int_equal(
	        srv_req(S, "POST", path, ADMIN, "{\"amount\":100}", &r), 0);
	assert_int_equal(r.status, 201);
	json_id(&r, "payment", PAYMENT);
	srv_res_free(&r);
	/* keys the revoke routes may revoke */
	assert_int_equal(srv_req(S, "POST", "/v1/keys", ADMIN,
	                         "{\"role\":\"clerk\"}", &r),
	                 0);
	json_id(&r, NULL, SPARE_KEY);
	srv_res_free(&r);
	snprintf(path, sizeof(path), "/v1/tenants/%s/keys", TENANT);
	assert_int_equal(
	        srv_req(S, "POST", path, srv_operator_key(S), "{}", &r), 0);
	json_id(&r, NULL, SPARE_ADMIN);
	srv_res_free(&r);
	assert_int_equal(srv_req(S, "POST", "/v1/operator/keys",
	                         srv_operator_key(S), "{}", &r),
	                 0);
	json_id(&r, NULL, SPARE_OP);
	srv_res_free(&r);
	(void)key;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	srv_free(S);
	return 0;
}

/* The value of a placeholder, real or (missing) one that does not exist;
 * "" for an empty segment. */
static const char *param(const char *pattern, const char *name, int how)
{
	if (how == 2)
		return "";
	if (strcmp(name, "imei") == 0)
		return how == 0 ? IMEI : "490154203237518";
	if (strcmp(name, "file") == 0)
		return how == 0 ? "console.js" : "xx_AAAAAAAAAAAAAAAAAAAAAA";
	if (how == 1)
		return strcmp(name, "device_id") == 0
		               ? "dv_AAAAAAAAAAAAAAAAAAAAAA"
		               : "xx_AAAAAAAAAAAAAAAAAAAAAA";
	if (strcmp(name, "device_id") == 0)
		return DEVICE;
	if (strcmp(name, "tenant_id") == 0)
		return TENANT;
	if (strcmp(name, "payment_id") == 0)
		return PAYMENT;
	if (strcmp(name, "source_id") == 0)
		return "ps_AAAAAAAAAAAAAAAAAAAAAA"; /* none: callbacks 404 */
	if (strcmp(name, "secret") == 0)
		return "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
	if (strcmp(name, "hold_id") == 0)
		return "lh_AAAAAAAAAAAAAAAAAAAAAA";
	if (strcmp(name, "unmatched_id") == 0)
		return "um_AAAAAAAAAAAAAAAAAAAAAA";
	if (strcmp(name, "command_id") == 0)
		return "cm_AAAAAAAAAAAAAAAAAAAAAA"; /* none pending here */
	if (strcmp(name, "key_id") == 0) {
		if (strncmp(pattern, "/v1/tenants/", 12) == 0)
			return SPARE_ADMIN;
		if (strncmp(pattern, "/v1/operator/", 13) == 0)
			return SPARE_OP;
		return SPARE_KEY;
	}
	fail_msg("no value for {%s} in %s", name, pattern);
	return "";
}

/* pattern with its placeholders filled (how: 0 real, 1 missing, 2 empty),
 * then query. */
static void fill(char *out, size_t cap, const char *pattern, int how,
                 const char *query)
{
	size_t n = 0;

	for (const char *p = pattern; *p != '\0' && n + 1 < cap;) {
		if (*p == '{') {
			char name[64];
			size_t k = strcspn(p + 1, "}");

			snprintf(name, sizeof(name), "%.*s", (int)k, p + 1);
			n += (size_t)snprintf(out + n, cap - n, "%s",
			                      param(pattern, name, how));
			p += k + 2;
			continue;
		}
		out[n++] = *p++;
	}
	out[n] = '\0';
	if (query != NULL)
		snprintf(out + n, cap - n, "%s", query);
}

static void check(const struct fl_route *rt, const char *key, const char *who,
                  int how, const char *query, const char *body)
{
	const char *const hdrs[] = {"Content-Type: application/json", NULL};
	const struct op *op = find_op(rt->method, rt->pattern);
	char path[512];
	struct srv_res r;
	bool listed = false;

	fill(path, sizeof(path), rt->pattern, how, query);
	assert_non_null(op);
	assert_int_equal(srv_reqx(S, rt->method, path, key, hdrs, body,
	                          body != NULL ? strlen(body) : 0, &r),
	                 0);
	for (int i = 0; i < op->n; i++)
		listed = listed || op->status[i] == r.status;
	if (!listed) {
		fprintf(stderr,
		        "%s %s (as %s, %s): %ld is not in docs/openapi.yaml "
		        "for %s %s: %s\n",
		        rt->method, path, who, body != NULL ? body : "no body",
		        r.status, rt->method, rt->pattern,
		        r.body != NULL ? r.body : "");
		failures++;
	}
	srv_res_free(&r);
}

static void call_route(void *ctx, const struct fl_route *rt)
{
	const char *const who[] = {"nobody", "operator", "admin",
	                           "clerk",  "support",  "auditor"};
	const char *keys[] = {
	        NULL, srv_operator_key(S), ADMIN, CLERK, SUPPORT, AUDITOR};
	bool post = strcmp(rt->method, "POST") == 0;
	const char *body = post ? "{}" : NULL;

	(void)ctx;
	/* the long-polls with a seq would be held: never given one */
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		check(rt, keys[k], who[k], 0, NULL, body);
		check(rt, keys[k], who[k], 0, "?zz=1", body);
		if (post) {
			check(rt, keys[k], who[k], 0, NULL, "{");
			check(rt, keys[k], who[k], 0, NULL, "{\"zz\":1}");
		}
		if (strchr(rt->pattern, '{') != NULL)
			check(rt, keys[k], who[k], 1, NULL, body);
	}
}

static void test_every_status_is_documented(void **state)
{
	(void)state;
	failures = 0;
	fl_router_each(call_route, NULL);
	assert_int_equal(failures, 0);
}

/* An empty path segment matches no placeholder: 404 not_found. */
static void empty_segment(void *ctx, const struct fl_route *rt)
{
	char path[512];
	struct srv_res r;

	(void)ctx;
	if (strchr(rt->pattern, '{') == NULL)
		return;
	fill(path, sizeof(path), rt->pattern, 2, NULL);
	assert_int_equal(srv_req(S, rt->method, path, ADMIN,
	                         strcmp(rt->method, "POST") == 0 ? "{}" : NULL,
	                         &r),
	                 0);
	if (r.status != 404)
		fprintf(stderr, "%s %s: %ld\n", rt->method, path, r.status);
	assert_int_equal(r.status, 404);
	assert_string_equal(srv_err_code(&r), "not_found");
	srv_res_free(&r);
}

static void test_empty_segment_is_404(void **state)
{
	(void)state;
	fl_router_each(empty_segment, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_empty_segment_is_404),
	        cmocka_unit_test(test_every_status_is_documented),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
