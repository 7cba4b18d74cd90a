/*
 * Unit tests for finlockd's small modules: route matching and parameters,
 * settings from flags, files and the environment (listen ports, trusted
 * proxies), strict query integers, the JSON depth guard and
 * cursors, client rate-limit keys (IPv4, IPv6 /64, mapped), token buckets,
 * enrollment codes, API keys and ids, error codes and statuses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>

#include "core/crypto.h"
#include "server/auth.h"
#include "server/config.h"
#include "server/enroll.h"
#include "server/http.h"
#include "server/jsonio.h"
#include "server/netaddr.h"
#include "server/ratelimit.h"
#include "server/router.h"

static int setup(void **state)
{
	(void)state;
	return fl_crypto_init() == FL_OK ? 0 : -1;
}

static fl_err match(const char *method, const char *path, struct fl_req *req,
                    const struct fl_route **r, char *allow)
{
	/* the parameters of the previous match are freed by this one */
	req->route = NULL;
	req->method = method;
	req->path = path;
	return fl_router_match(req, r, allow);
}

static void test_router(void **state)
{
	const struct fl_route *r = NULL;
	char allow[FL_ROUTER_ALLOW_MAX];
	struct fl_req req = {0};

	(void)state;
	assert_int_equal(match("GET", "/v1/devices/dv_abc", &req, &r, allow),
	                 FL_OK);
	assert_string_equal(r->pattern, "/v1/devices/{device_id}");
	req.route = r;
	assert_string_equal(fl_req_param(&req, "device_id"), "dv_abc");
	assert_null(fl_req_param(&req, "tenant_id"));
	assert_int_equal(match("POST", "/v1/devices/dv_abc/stolen/clear", &req,
	                       &r, allow),
	                 FL_OK);
	assert_string_equal(r->pattern, "/v1/devices/{device_id}/stolen/clear");
	assert_int_equal(match("POST", "/v1/tenants/tn_1/keys/ak_2/revoke",
	                       &req, &r, allow),
	                 FL_OK);
	req.route = r;
	assert_string_equal(fl_req_param(&req, "tenant_id"), "tn_1");
	assert_string_equal(fl_req_param(&req, "key_id"), "ak_2");
	/* a placeholder matches one non-empty segment, no more */
	assert_int_equal(match("GET", "/v1/devices/", &req, &r, allow),
	                 FL_E_NOT_FOUND);
	assert_int_equal(match("GET", "/v1/devices/a/b", &req, &r, allow),
	                 FL_E_NOT_FOUND);
	assert_int_equal(match("GET", "/v1/devices/dv_abc/", &req, &r, allow),
	                 FL_E_NOT_FOUND);
	assert_int_equal(match("GET", "/V1/devices", &req, &r, allow),
	                 FL_E_NOT_FOUND);
	/* a known path with another method: 405 and what is allowed */
	assert_int_equal(match("DELETE", "/v1/devices", &req, &r, allow),
	                 FL_E_METHOD);
	assert_non_null(strstr(allow, "POST"));
	assert_non_null(strstr(allow, "GET"));
	/* an over-long segment does not match */
	char longp[400] = "/v1/devices/";
	memset(longp + 12, 'a', 300);
	longp[312] = '\0';
	assert_int_equal(match("GET", longp, &req, &r, allow), FL_E_NOT_FOUND);
	/* a route without placeholders holds no parameter memory (a parked
	 * long poll keeps its request for minutes) */
	assert_int_equal(match("GET", "/v1/device/wait", &req, &r, allow),
	                 FL_OK);
	assert_null(req.params);
	assert_int_equal(req.n_params, 0);
	assert_int_equal(match("POST", "/v1/tenants/tn_9/keys/ak_8/revoke",
	                       &req, &r, allow),
	                 FL_OK);
	req.route = r;
	assert_string_equal(fl_req_param(&req, "key_id"), "ak_8");
	fl_req_release(&req);
	assert_null(req.params);
}

struct role_check {
	int public_routes, total;
	int callbacks; /* payment providers' callbacks (public, by secret) */
};

static void count_routes(void *ctx, const struct fl_route *r)
{
	struct role_check *rc = ctx;

	rc->total++;
	if (r->roles == FL_AUTH_NONE)
		rc->public_routes++;
	/* the operator never reaches a tenant's records */
	if (strncmp(r->pattern, "/v1/devices", 11) == 0 ||
	    strncmp(r->pattern, "/v1/payments", 12) == 0 ||
	    strncmp(r->pattern, "/v1/contracts", 13) == 0 ||
	    strcmp(r->pattern, "/v1/keys") == 0)
		assert_int_equal(r->roles & FL_ROLE_OPERATOR, 0);
	/* writes to money and locks are admin-only; a provider's payment
	 * callbacks are authenticated by their URL secret (and signature),
	 * never by a key, and each path carrying the source and its secret */
	if (strncmp(r->pattern, "/v1/callbacks/", 14) == 0) {
		assert_int_equal(r->roles, FL_AUTH_NONE);
		assert_non_null(strstr(r->pattern, "/{source_id}/{secret}/"));
		rc->callbacks++;
		return;
	}
	if (strcmp(r->method, "POST") == 0 &&
	    (strstr(r->pattern, "payments") != NULL ||
	     strstr(r->pattern, "/lock") != NULL ||
	     strstr(r->pattern, "/release") != NULL))
		assert_int_equal(r->roles, FL_ROLE_ADMIN);
}

static void test_route_roles(void **state)
{
	struct role_check rc = {0};

	(void)state;
	fl_router_each(count_routes, &rc);
	/* healthz, imei, certificate, and the device protocol's enroll,
	 * checkin, wait and lookup (phones authenticate themselves); the
	 * web pages (/, /check, /assets/{file}) and the console's sign-in;
	 * and the three payment callbacks (Daraja validation and
	 * confirmation, a signed payment), each behind its URL secret */
	assert_int_equal(rc.callbacks, 3);
	assert_int_equal(rc.public_routes, 11 + 3);
	assert_true(rc.total > 30);
}

static void test_config(void **state)
{
	struct fl_config c;
	char err[FL_CONFIG_ERR_MAX], path[64];
	FILE *f;

	(void)state;
	fl_config_defaults(&c);
	assert_string_equal(c.listen, "127.0.0.1:8080");
	assert_true(c.max_connections > 1024);
	assert_true(c.threads >= 2);
	assert_int_equal(fl_config_set(&c, "max-body", "2048", err), FL_OK);
	assert_int_equal(c.max_body, 2048);
	assert_int_equal(fl_config_set(&c, "MAX_BODY", "12", err),
	                 FL_E_CONFIG); /* below its minimum */
	assert_int_equal(c.max_body, 2048);
	assert_int_equal(fl_config_set(&c, "max_body", "12x", err),
	                 FL_E_CONFIG);
	assert_int_equal(fl_config_set(&c, "threads", "1", err), FL_E_CONFIG);
	assert_int_equal(fl_config_set(&c, "nonsense", "1", err), FL_E_CONFIG);
	assert_non_null(strstr(err, "nonsense"));
	assert_int_equal(fl_config_set(&c, "behind_tls_proxy", "yes", err),
	                 FL_OK);
	assert_true(c.behind_tls_proxy);
	assert_int_equal(fl_config_set(&c, "log_level", "loud", err),
	                 FL_E_CONFIG);
	assert_int_equal(fl_config_set(&c, "public_rate", "0.5", err), FL_OK);
	assert_true(c.public_rate > 0.49 && c.public_rate < 0.51);

	snprintf(path, sizeof(path), "/tmp/finlock-conf-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fprintf(f, "# finlockd\n\nlisten = 127.0.0.1:9999\n"
	           "  log_level=debug  \ndata = /var/lib/finlock\n");
	fclose(f);
	assert_int_equal(fl_config_load_file(&c, path, err), FL_OK);
	assert_string_equal(c.listen, "127.0.0.1:9999");
	assert_string_equal(c.log_level, "debug");
	assert_string_equal(c.data_dir, "/var/lib/finlock");
	f = fopen(path, "w");
	fprintf(f, "listen = 127.0.0.1:1\nthis line is wrong\n");
	fclose(f);
	assert_int_equal(fl_config_load_file(&c, path, err), FL_E_CONFIG);
	assert_non_null(strstr(err, "line 2"));
	/* a bad file changes nothing */
	assert_string_equal(c.listen, "127.0.0.1:9999");
	unlink(path);
	assert_int_equal(fl_config_load_file(&c, path, err), FL_E_IO);

	char *env[] = {"FINLOCKD_LISTEN=[::1]:7000", "FINLOCKD_BIN=/x",
	               "PATH=/bin", "FINLOCKD_TLS_CERT=/c.pem", NULL};
	assert_int_equal(fl_config_load_env(&c, env, err), FL_OK);
	assert_string_equal(c.listen, "[::1]:7000");
	assert_string_equal(c.tls_cert, "/c.pem");
	assert_int_equal(fl_config_check(&c, err), FL_E_CONFIG); /* no key */
	char *bad[] = {"FINLOCKD_THREADS=zero", NULL};
	assert_int_equal(fl_config_load_env(&c, bad, err), FL_E_CONFIG);

	/* the test clock only with FINLOCKD_TEST_CLOCK_ENABLE=1 */
	fl_config_defaults(&c);
	assert_int_equal(fl_config_set(&c, "test-clock", "/tmp/clock", err),
	                 FL_OK);
	unsetenv("FINLOCKD_TEST_CLOCK_ENABLE");
	assert_int_equal(fl_config_check(&c, err), FL_E_CONFIG);
	assert_non_null(strstr(err, "tests only"));
	setenv("FINLOCKD_TEST_CLOCK_ENABLE", "yes", 1);
	assert_int_equal(fl_config_check(&c, err), FL_E_CONFIG);
	setenv("FINLOCKD_TEST_CLOCK_ENABLE", "1", 1);
	assert_int_equal(fl_config_check(&c, err), FL_OK);
	unsetenv("FINLOCKD_TEST_CLOCK_ENABLE");
}

static void test_config_edges(void **state)
{
	struct fl_config c;
	char err[FL_CONFIG_ERR_MAX], host[128];
	unsigned port = 1;

	(void)state;
	fl_config_defaults(&c);
	/* on by default: the header deadline and the pending cap */
	assert_true(c.header_timeout > 0);
	assert_true(c.max_pending_per_client > 0);
	assert_string_equal(c.trusted_proxies, "");
	/* listen ports: 0..65535, digits only, never wrapped */
	static const char *const bad[] = {
	        "127.0.0.1:65536", "127.0.0.1:-1",   "127.0.0.1:",
	        "127.0.0.1:+80",   "127.0.0.1: 80",  "127.0.0.1:4294967376",
	        "127.0.0.1",       ":80",            "[::1]:99999",
	        "[::1]80",         "127.0.0.1:8080x", NULL};
	for (int i = 0; bad[i] != NULL; i++) {
		assert_int_equal(fl_config_set(&c, "listen", bad[i], err),
		                 FL_E_CONFIG);
		assert_non_null(strstr(err, "0..65535"));
	}
	assert_string_equal(c.listen, "127.0.0.1:8080"); /* unchanged */
	assert_int_equal(fl_config_set(&c, "listen", "[::1]:65535", err),
	                 FL_OK);
	assert_int_equal(fl_config_listen_split(c.listen, host, sizeof(host),
	                                        &port),
	                 FL_OK);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 65535);
	assert_int_equal(fl_config_listen_split("0.0.0.0:0", host,
	                                        sizeof(host), &port),
	                 FL_OK);
	assert_string_equal(host, "0.0.0.0");
	assert_int_equal(port, 0);
	/* trusted proxies: checked when set */
	assert_int_equal(fl_config_set(&c, "trusted-proxies",
	                               "10.0.0.0/8, 192.168.1.7 ::1/128", err),
	                 FL_OK);
	assert_int_equal(fl_config_set(&c, "trusted_proxies", "10.0.0.0/33",
	                               err),
	                 FL_E_CONFIG);
	assert_int_equal(fl_config_set(&c, "trusted_proxies", "example.com",
	                               err),
	                 FL_E_CONFIG);
	assert_string_equal(c.trusted_proxies,
	                    "10.0.0.0/8, 192.168.1.7 ::1/128");
	assert_int_equal(fl_config_set(&c, "max_pending_per_client", "0", err),
	                 FL_OK);
	assert_int_equal(fl_config_set(&c, "header_timeout", "0", err),
	                 FL_E_CONFIG);
}

static void test_parse_uint(void **state)
{
	uint64_t v = 7;

	(void)state;
	assert_int_equal(fl_parse_uint("0", 10, &v), FL_OK);
	assert_int_equal(v, 0);
	assert_int_equal(fl_parse_uint("18446744073709551615", UINT64_MAX, &v),
	                 FL_OK);
	assert_true(v == UINT64_MAX);
	/* one past 2^64 - 1 is out of range, never wrapped to 0 */
	assert_int_equal(fl_parse_uint("18446744073709551616", UINT64_MAX, &v),
	                 FL_E_RANGE);
	assert_int_equal(v, 0);
	assert_int_equal(fl_parse_uint("99999999999999999999999999", 500, &v),
	                 FL_E_RANGE);
	assert_int_equal(fl_parse_uint("501", 500, &v), FL_E_RANGE);
	assert_int_equal(fl_parse_uint("500", 500, &v), FL_OK);
	assert_int_equal(v, 500);
	static const char *const bad[] = {"", "-1", "+1", " 1", "1 ", "1e3",
	                                  "0x10", "1.0", "12a", NULL};
	for (int i = 0; bad[i] != NULL; i++)
		assert_int_equal(fl_parse_uint(bad[i], UINT64_MAX, &v),
		                 FL_E_INVALID);
	assert_int_equal(fl_parse_uint("99999999999999999999x", 5, &v),
	                 FL_E_INVALID);
	assert_int_equal(fl_parse_uint(NULL, 5, &v), FL_E_INVALID);
}

static void test_json_depth_and_cursor(void **state)
{
	char deep[200], cur[FL_CURSOR_MAX];
	int64_t ord;

	(void)state;
	assert_int_equal(fl_json_depth_check("{\"a\":[1,{\"b\":2}]}", 17, 3),
	                 FL_OK);
	assert_int_equal(fl_json_depth_check("{\"a\":[1,{\"b\":2}]}", 17, 2),
	                 FL_E_JSON_DEPTH);
	/* brackets inside strings do not count, escapes are skipped */
	assert_int_equal(fl_json_depth_check("{\"a\":\"[[[[\\\"[[[\"}", 17, 1),
	                 FL_OK);
	memset(deep, '[', 100);
	memset(deep + 100, ']', 100);
	assert_int_equal(fl_json_depth_check(deep, 200, 99), FL_E_JSON_DEPTH);
	assert_int_equal(fl_json_depth_check(deep, 200, 100), FL_OK);

	fl_cursor_encode(123456789, cur);
	assert_int_equal(fl_cursor_decode(cur, &ord), FL_OK);
	assert_int_equal(ord, 123456789);
	assert_int_equal(fl_cursor_decode("!!", &ord), FL_E_INVALID);
	assert_int_equal(fl_cursor_decode("AAAA", &ord), FL_E_INVALID);
	/* a negative value does not sneak through */
	assert_int_equal(fl_cursor_decode("_____________w", &ord),
	                 FL_E_INVALID);
}

static void test_client_keys(void **state)
{
	struct sockaddr_in6 a6, b6, m6;
	struct sockaddr_in a4;
	uint8_t k1[16], k2[16], k3[16];
	char text[64];

	(void)state;
	memset(&a6, 0, sizeof(a6));
	a6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8:1:2:aaaa::1", &a6.sin6_addr);
	b6 = a6;
	inet_pton(AF_INET6, "2001:db8:1:2:bbbb::9", &b6.sin6_addr);
	fl_net_client((struct sockaddr *)&a6, text, sizeof(text), k1);
	fl_net_client((struct sockaddr *)&b6, text, sizeof(text), k2);
	/* one /64, one client */
	assert_memory_equal(k1, k2, 16);
	inet_pton(AF_INET6, "2001:db8:1:3::1", &b6.sin6_addr);
	fl_net_client((struct sockaddr *)&b6, text, sizeof(text), k2);
	assert_memory_not_equal(k1, k2, 16);
	assert_string_equal(text, "2001:db8:1:3::1");
	/* IPv4 and IPv4-mapped IPv6 are the same client */
	memset(&a4, 0, sizeof(a4));
	a4.sin_family = AF_INET;
	inet_pton(AF_INET, "192.0.2.7", &a4.sin_addr);
	memset(&m6, 0, sizeof(m6));
	m6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "::ffff:192.0.2.7", &m6.sin6_addr);
	fl_net_client((struct sockaddr *)&a4, text, sizeof(text), k1);
	assert_string_equal(text, "192.0.2.7");
	fl_net_client((struct sockaddr *)&m6, text, sizeof(text), k3);
	assert_memory_equal(k1, k3, 16);
	inet_pton(AF_INET, "192.0.2.8", &a4.sin_addr);
	fl_net_client((struct sockaddr *)&a4, text, sizeof(text), k2);
	assert_memory_not_equal(k1, k2, 16);
}

static void test_ratelimit(void **state)
{
	struct fl_ratelimit *rl = NULL;
	uint8_t a[16] = {1}, b[16] = {2};
	int retry = 0, ok = 0;

	(void)state;
	assert_int_equal(fl_ratelimit_new(&rl, 1.0, 3, 0.001, 5, 64), FL_OK);
	for (int i = 0; i < 5; i++)
		ok += fl_ratelimit_take(rl, a, 100.0, &retry);
	assert_int_equal(ok, 3);
	assert_int_equal(retry, 1);
	/* refills at the rate */
	assert_true(fl_ratelimit_take(rl, a, 101.0, NULL));
	assert_false(fl_ratelimit_take(rl, a, 101.0, NULL));
	/* another client has its own bucket but shares the global 5 */
	assert_true(fl_ratelimit_take(rl, b, 101.0, NULL));
	assert_false(fl_ratelimit_take(rl, b, 101.0, &retry));
	assert_true(retry >= 1);
	fl_ratelimit_free(rl);
	/* a full table reuses the stalest bucket instead of growing */
	assert_int_equal(fl_ratelimit_new(&rl, 1.0, 1, 1e6, 1000000, 8), FL_OK);
	for (int i = 0; i < 100; i++) {
		uint8_t k[16] = {0};
		k[0] = (uint8_t)i;
		k[1] = 9;
		assert_true(fl_ratelimit_take(rl, k, 200.0 + i, NULL));
	}
	fl_ratelimit_free(rl);
	assert_int_equal(fl_ratelimit_new(&rl, 0, 1, 1, 1, 64), FL_E_INVALID);
}

static void test_enroll_codes(void **state)
{
	uint8_t key[32] = {3}, h1[FL_HASH_LEN], h2[FL_HASH_LEN];
	char code[FL_ENROLL_CODE_LEN + 1], lower[FL_ENROLL_CODE_LEN + 1];

	(void)state;
	assert_int_equal(fl_enroll_code_new(key, code, h1), FL_OK);
	assert_int_equal(strlen(code), 14);
	assert_int_equal(code[4], '-');
	assert_int_equal(code[9], '-');
	/* read back in lower case, with spaces instead of dashes */
	for (size_t i = 0; i <= strlen(code); i++)
		lower[i] = code[i] == '-' ? ' '
		           : (code[i] >= 'A' && code[i] <= 'Z')
		                   ? (char)(code[i] - 'A' + 'a')
		                   : code[i];
	assert_int_equal(fl_enroll_code_hash(key, lower, strlen(lower), h2),
	                 FL_OK);
	assert_memory_equal(h1, h2, FL_HASH_LEN);
	/* O reads as 0, I and L as 1 */
	assert_int_equal(fl_enroll_code_hash(key, "0000-1111-AAAA", 14, h1),
	                 FL_OK);
	assert_int_equal(fl_enroll_code_hash(key, "oooo-ilil-aaaa", 14, h2),
	                 FL_OK);
	assert_memory_equal(h1, h2, FL_HASH_LEN);
	assert_int_equal(fl_enroll_code_hash(key, "0000-1111-AAA", 13, h1),
	                 FL_E_INVALID);
	assert_int_equal(fl_enroll_code_hash(key, "0000-1111-AAAU", 14, h1),
	                 FL_E_INVALID);
	/* another key, another hash */
	key[0] = 4;
	assert_int_equal(fl_enroll_code_hash(key, "oooo-ilil-aaaa", 14, h1),
	                 FL_OK);
	assert_memory_not_equal(h1, h2, FL_HASH_LEN);
}

static void test_keys_and_ids(void **state)
{
	uint8_t hk[32] = {5}, h1[FL_HASH_LEN], h2[FL_HASH_LEN];
	char secret[FL_APIKEY_LEN + 1], id1[FL_ID_MAX], id2[FL_ID_MAX];
	unsigned role;

	(void)state;
	assert_int_equal(fl_apikey_generate(hk, secret, h1), FL_OK);
	assert_int_equal(strlen(secret), FL_APIKEY_LEN);
	assert_int_equal(strncmp(secret, "fl_", 3), 0);
	assert_int_equal(fl_apikey_hash(hk, secret, strlen(secret), h2), FL_OK);
	assert_memory_equal(h1, h2, FL_HASH_LEN);
	hk[0] = 6;
	assert_int_equal(fl_apikey_hash(hk, secret, strlen(secret), h2), FL_OK);
	assert_memory_not_equal(h1, h2, FL_HASH_LEN);
	fl_id_generate(id1, "dv");
	fl_id_generate(id2, "dv");
	assert_int_equal(strlen(id1), 25);
	assert_string_not_equal(id1, id2);
	assert_int_equal(fl_role_parse("auditor", &role), FL_OK);
	assert_int_equal(role, FL_ROLE_AUDITOR);
	assert_string_equal(fl_role_name(FL_ROLE_CLERK), "clerk");
	assert_null(fl_role_name(FL_ROLE_CLERK | FL_ROLE_ADMIN));
	assert_int_equal(fl_role_parse("root", &role), FL_E_INVALID);
}

static void test_error_mapping(void **state)
{
	char buf[40];

	(void)state;
	assert_string_equal(
	        fl_http_err_code(FL_E_FIELD_MISSING, buf, sizeof(buf)),
	        "field_missing");
	assert_string_equal(fl_http_err_code(FL_E_IMEI_CHECK, buf, sizeof(buf)),
	                    "imei_check");
	assert_int_equal(fl_http_status(FL_E_NOT_FOUND), 404);
	assert_int_equal(fl_http_status(FL_E_AUTH), 401);
	assert_int_equal(fl_http_status(FL_E_PERM), 403);
	assert_int_equal(fl_http_status(FL_E_IMEI_IN_PROGRAM), 409);
	assert_int_equal(fl_http_status(FL_E_IDEMPOTENCY), 409);
	assert_int_equal(fl_http_status(FL_E_TOO_LARGE), 413);
	assert_int_equal(fl_http_status(FL_E_HEADERS_TOO_LARGE), 431);
	assert_int_equal(fl_http_status(FL_E_LIMIT), 429);
	assert_int_equal(fl_http_status(FL_E_MONEY), 400);
	assert_int_equal(fl_http_status(FL_E_RESTRICT_GUARANTEED), 400);
	assert_int_equal(fl_http_status(FL_E_STORE), 500);
	assert_int_equal(fl_http_status(FL_E_STORE_BUSY), 503);
	assert_int_equal(fl_http_status(FL_E_INSUFFICIENT_STORAGE), 507);
	assert_string_equal(fl_http_err_code(FL_E_INSUFFICIENT_STORAGE, buf,
	                                     sizeof(buf)),
	                    "insufficient_storage");
	assert_int_equal(fl_http_status(FL_E_REQUEST_TIMEOUT), 408);
	assert_string_equal(
	        fl_http_err_code(FL_E_REQUEST_TIMEOUT, buf, sizeof(buf)),
	        "request_timeout");
	assert_int_equal(fl_http_status(FL_E_RANGE), 400);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_router),
	        cmocka_unit_test(test_route_roles),
	        cmocka_unit_test(test_config),
	        cmocka_unit_test(test_config_edges),
	        cmocka_unit_test(test_parse_uint),
	        cmocka_unit_test(test_json_depth_and_cursor),
	        cmocka_unit_test(test_client_keys),
	        cmocka_unit_test(test_ratelimit),
	        cmocka_unit_test(test_enroll_codes),
	        cmocka_unit_test(test_keys_and_ids),
	        cmocka_unit_test(test_error_mapping),
	};
	return cmocka_run_group_tests_name("server_units", tests, setup, NULL);
}
