/*
 * Integration tests for console sessions (server/sessions.h) against a
 * real finlockd: sign-in sets an HttpOnly SameSite=Strict cookie (Secure
 * behind a TLS proxy) and never stores the key or the id; a new id at
 * every sign-in; the cookie works on /v1 with exactly the key's role, and
 * changes need the CSRF token; sign-out, idle and absolute expiry, a
 * revoked key, operator keys refused, and sign-in attempts rate-limited.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "server/sessions.h"
#include "support/server_harness.h"

struct sess {
	char cookie[128]; /* "Cookie: fl_session=..." */
	char csrf[128];   /* "X-CSRF-Token: ..." */
	char sid[64];
};

/* Signs in with key; returns the HTTP status; fills *se on 201. */
static long signin(struct srv *s, const char *key, const char *old_cookie,
                   struct sess *se, struct srv_res *keep)
{
	const char *hdrs[] = {old_cookie, NULL};
	char body[160];
	struct srv_res r;
	long st;

	snprintf(body, sizeof(body), "{\"key\":\"%s\"}", key);
	assert_int_equal(srv_reqx(s, "POST", "/v1/session", NULL,
	                          old_cookie != NULL ? hdrs : NULL, body,
	                          strlen(body), &r),
	                 0);
	st = r.status;
	if (st == 201) {
		const char *sc = srv_res_header(&r, "Set-Cookie");

		assert_non_null(sc);
		assert_int_equal(strncmp(sc, "fl_session=", 11), 0);
		size_t n = strcspn(sc + 11, ";");
		assert_int_equal(n, 43);
		memcpy(se->sid, sc + 11, n);
		se->sid[n] = '\0';
		snprintf(se->cookie, sizeof(se->cookie), "Cookie: fl_session=%s",
		         se->sid);
		snprintf(se->csrf, sizeof(se->csrf), "X-CSRF-Token: %s",
		         srv_jstr(&r, "csrf_token"));
	}
	if (keep != NULL)
		*keep = r;
	else
		srv_res_free(&r);
	return st;
}

/* A request with the session cookie, and the CSRF token when csrf. */
static long as(struct srv *s, const struct sess *se, bool csrf,
               const char *method, const char *path, const char *body)
{
	const char *hdrs[] = {se->cookie, csrf ? se->csrf : NULL, NULL};
	struct srv_res r;
	long st;

	assert_int_equal(srv_reqx(s, method, path, NULL, hdrs, body,
	                          body != NULL ? strlen(body) : 0, &r),
	                 0);
	st = r.status;
	srv_res_free(&r);
	return st;
}

static void test_signin_cookie_and_roles(void **state)
{
	char tid[64], admin[64], clerk[64];
	struct sess a, c, a2;
	struct srv_res r;
	struct srv *s;

	(void)state;
	assert_int_equal(srv_start(&s, NULL), 0);
	assert_int_equal(srv_tenant(s, "Acme", tid, admin), 0);
	assert_int_equal(srv_key(s, admin, "clerk", clerk), 0);

	assert_int_equal(signin(s, admin, NULL, &a, &r), 201);
	const char *sc = srv_res_header(&r, "Set-Cookie");
	assert_non_null(strstr(sc, "HttpOnly"));
	assert_non_null(strstr(sc, "SameSite=Strict"));
	assert_non_null(strstr(sc, "Path=/"));
	assert_null(strstr(sc, "Secure")); /* plain HTTP on loopback */
	assert_string_equal(srv_jstr(&r, "role"), "admin");
	assert_string_equal(srv_jstr(&r, "tenant_name"), "Acme");
	assert_null(strstr(r.body, admin)); /* the key never comes back */
	srv_res_free(&r);

	/* Reads with the cookie alone; changes need the CSRF token. */
	assert_int_equal(as(s, &a, false, "GET", "/v1/devices", NULL), 200);
	assert_int_equal(as(s, &a, false, "POST", "/v1/keys",
	                    "{\"role\":\"support\"}"),
	                 403);
	assert_int_equal(as(s, &a, true, "POST", "/v1/keys",
	                    "{\"role\":\"support\"}"),
	                 201);
	/* Another session's token does not do. */
	assert_int_equal(signin(s, clerk, NULL, &c, NULL), 201);
	struct sess mixed = a;
	memcpy(mixed.csrf, c.csrf, sizeof(mixed.csrf));
	assert_int_equal(as(s, &mixed, true, "POST", "/v1/keys",
	                    "{\"role\":\"support\"}"),
	                 403);
	/* Exactly the key's role: a clerk registers, does not list. */
	assert_int_equal(as(s, &c, false, "GET", "/v1/devices", NULL), 403);
	assert_int_equal(as(s, &c, true, "POST", "/v1/devices",
	                    "{\"imei\":\"352099001761481\",\"serial\":\"S1\"}"),
	                 201);
	assert_int_equal(as(s, &c, true, "POST", "/v1/keys",
	                    "{\"role\":\"support\"}"),
	                 403);

	/* Signing in again gives a new id and ends the one presented. */
	assert_int_equal(signin(s, admin, a.cookie, &a2, NULL), 201);
	assert_string_not_equal(a.sid, a2.sid);
	assert_int_equal(as(s, &a, false, "GET", "/v1/devices", NULL), 401);
	assert_int_equal(as(s, &a2, false, "GET", "/v1/devices", NULL), 200);

	/* Sign-out needs the token, then the session is gone. */
	assert_int_equal(as(s, &a2, false, "DELETE", "/v1/session", NULL),
	                 403);
	assert_int_equal(as(s, &a2, true, "DELETE", "/v1/session", NULL),
	                 204);
	assert_int_equal(as(s, &a2, false, "GET", "/v1/devices", NULL), 401);
	assert_int_equal(as(s, &a2, false, "GET", "/v1/session", NULL), 401);

	/* A Bearer key still works alongside, and a forged cookie does not. */
	assert_int_equal(srv_req(s, "GET", "/v1/devices", admin, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	srv_res_free(&r);
	/* with a key, /v1/session names the key, with no session or token */
	assert_int_equal(srv_req(s, "GET", "/v1/session", clerk, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(srv_jstr(&r, "role"), "clerk");
	assert_true(json_is_null(json_object_get(r.json, "csrf_token")));
	srv_res_free(&r);
	assert_int_equal(srv_req(s, "DELETE", "/v1/session", clerk, NULL, &r),
	                 0);
	assert_int_equal(r.status, 404);
	srv_res_free(&r);
	struct sess forged = a2;
	snprintf(forged.cookie, sizeof(forged.cookie),
	         "Cookie: fl_session=%s", admin);
	assert_int_equal(as(s, &forged, false, "GET", "/v1/devices", NULL),
	                 401);
	srv_free(s);
}

static void test_session_stored_hashed(void **state)
{
	char tid[64], admin[64], cmd[512];
	struct sess a;
	struct srv *s;
	FILE *f;
	char line[256] = "";

	(void)state;
	assert_int_equal(srv_start(&s, NULL), 0);
	assert_int_equal(srv_tenant(s, "Acme", tid, admin), 0);
	assert_int_equal(signin(s, admin, NULL, &a, NULL), 201);
	snprintf(cmd, sizeof(cmd),
	         "sqlite3 '%s/finlock.db' 'SELECT count(*) FROM web_sessions;' "
	         "2>&1; grep -rlF -e '%s' -e '%s' '%s' | wc -l",
	         srv_data_dir(s), a.sid, admin, srv_data_dir(s));
	f = popen(cmd, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	assert_string_equal(line, "1\n");
	/* neither the session id nor the key is in any file */
	assert_non_null(fgets(line, sizeof(line), f));
	assert_string_equal(line, "0\n");
	pclose(f);
	srv_free(s);
}

static void test_revoked_key_ends_session(void **state)
{
	char tid[64], admin[64], support[64], path[128];
	struct sess a, sup;
	struct srv_res r;
	struct srv *s;

	(void)state;
	assert_int_equal(srv_start(&s, NULL), 0);
	assert_int_equal(srv_tenant(s, "Acme", tid, admin), 0);
	assert_int_equal(srv_key(s, admin, "support", support), 0);
	assert_int_equal(signin(s, admin, NULL, &a, NULL), 201);
	assert_int_equal(signin(s, support, NULL, &sup, &r), 201);
	snprintf(path, sizeof(path), "/v1/keys/%s/revoke",
	         srv_jstr(&r, "key_id"));
	srv_res_free(&r);
	assert_int_equal(as(s, &sup, false, "GET", "/v1/devices", NULL), 200);
	assert_int_equal(as(s, &a, true, "POST", path, "{}"), 200);
	assert_int_equal(as(s, &sup, false, "GET", "/v1/devices", NULL), 401);
	assert_int_equal(as(s, &sup, false, "GET", "/v1/session", NULL), 401);
	/* and the revoked key cannot sign in again */
	assert_int_equal(signin(s, support, NULL, &sup, NULL), 401);
	srv_free(s);
}

static void test_expiry(void **state)
{
	const char *idle_args[] = {"--session-idle", "1", NULL};
	const char *max_args[] = {"--session-max", "1", NULL};
	char tid[64], admin[64];
	struct srv_opts o = {.args = idle_args};
	struct sess a;
	struct srv *s;

	(void)state;
	/* Unused for longer than session_idle. */
	assert_int_equal(srv_start(&s, &o), 0);
	assert_int_equal(srv_tenant(s, "Acme", tid, admin), 0);
	assert_int_equal(signin(s, admin, NULL, &a, NULL), 201);
	sleep(3);
	assert_int_equal(as(s, &a, false, "GET", "/v1/devices", NULL), 401);
	srv_free(s);
	/* Older than session_max, however busy. */
	o.args = max_args;
	assert_int_equal(srv_start(&s, &o), 0);
	assert_int_equal(srv_tenant(s, "Acme", tid, admin), 0);
	assert_int_equal(signin(s, admin, NULL, &a, NULL), 201);
	sleep(3);
	assert_int_equal(as(s, &a, false, "GET", "/v1/session", NULL), 401);
	srv_free(s);
}

static void test_expired_rule(void **state)
{
	struct fl_session_rec r = {.created_at = 1000, .last_seen = 1500};

	(void)state;
	assert_false(fl_session_expired(&r, 1500, 60, 3600));
	assert_false(fl_session_expired(&r, 1559, 60, 3600));
	assert_true(fl_session_expired(&r, 1560, 60, 3600));
	r.last_seen = 4590;
	assert_false(fl_session_expired(&r, 4599, 60, 3600));
	assert_true(fl_session_expired(&r, 4600, 60, 3600));
}

static void test_secure_and_limits(void **state)
{
	const char *args[] = {"--behind-tls-proxy", "--signin-burst", "3",
	                      "--signin-rate", "0.001", NULL};
	struct srv_opts o = {.args = args};
	char tid[64], admin[64];
	struct sess a;
	struct srv_res r;
	struct srv *s;

	(void)state;
	assert_int_equal(srv_start(&s, &o), 0);
	assert_int_equal(srv_tenant(s, "Acme", tid, admin), 0);
	assert_int_equal(signin(s, admin, NULL, &a, &r), 201);
	assert_non_null(strstr(srv_res_header(&r, "Set-Cookie"), "; Secure"));
	srv_res_free(&r);
	/* Operator keys are for the command line. */
	assert_int_equal(signin(s, srv_operator_key(s), NULL, &a, &r), 403);
	srv_res_free(&r);
	/* A wrong key, then the limiter (good keys count the same). */
	assert_int_equal(signin(s, "fl_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	                        NULL, &a, NULL),
	                 401);
	assert_int_equal(signin(s, admin, NULL, &a, &r), 429);
	assert_non_null(srv_res_header(&r, "Retry-After"));
	assert_string_equal(srv_err_code(&r), "limit");
	srv_res_free(&r);
	/* Another client network is not held back. */
	srv_set_source(s, "127.0.0.2");
	assert_int_equal(signin(s, admin, NULL, &a, NULL), 201);
	srv_free(s);
	/* A sign-in from another site's page is refused. */
	assert_int_equal(srv_start(&s, NULL), 0);
	assert_int_equal(srv_tenant(s, "Acme", tid, admin), 0);
	{
		const char *hdrs[] = {"Sec-Fetch-Site: cross-site", NULL};
		char body[160];

		snprintf(body, sizeof(body), "{\"key\":\"%s\"}", admin);
		assert_int_equal(srv_reqx(s, "POST", "/v1/session", NULL, hdrs,
		                          body, strlen(body), &r),
		                 0);
		assert_int_equal(r.status, 403);
		assert_null(srv_res_header(&r, "Set-Cookie"));
		srv_res_free(&r);
	}
	srv_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_signin_cookie_and_roles),
	        cmocka_unit_test(test_session_stored_hashed),
	        cmocka_unit_test(test_revoked_key_ends_session),
	        cmocka_unit_test(test_expiry),
	        cmocka_unit_test(test_expired_rule),
	        cmocka_unit_test(test_secure_and_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
