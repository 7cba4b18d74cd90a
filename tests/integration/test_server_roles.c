/*
 * Integration test of roles, route by route: for every route in the
 * router's tables and every caller (no key, a revoked key, operator, admin,
 * clerk, support, auditor), a caller the route does not admit gets 401 (no
 * valid key) or 403 (wrong role) with a JSON error, and an admitted caller
 * never does. Placeholders are filled with ids that do not exist, so no
 * admitted call changes anything that matters to the others.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/auth.h"
#include "server/router.h"
#include "support/server_harness.h"

#define MAX_ROUTES 128

static struct srv *S;
static const struct fl_route *routes[MAX_ROUTES];
static int n_routes;

static void collect(void *ctx, const struct fl_route *r)
{
	(void)ctx;
	if (n_routes < MAX_ROUTES)
		routes[n_routes++] = r;
}

static int setup(void **state)
{
	const char *args[] = {"--public-rate",
	                      "1000",
	                      "--public-burst",
	                      "100000",
	                      "--public-global-burst",
	                      "100000",
	                      NULL};
	struct srv_opts o = {.args = args};

	(void)state;
	fl_router_each(collect, NULL);
	return srv_start(&S, &o);
}

static int teardown(void **state)
{
	(void)state;
	srv_free(S);
	return 0;
}

/* The route's pattern with every {placeholder} replaced. */
static void fill(const char *pattern, char *out, size_t cap)
{
	size_t o = 0;

	for (const char *p = pattern; *p != '\0' && o + 1 < cap; p++) {
		if (*p == '{') {
			const char *close = strchr(p, '}');
			const char *val = strncmp(p, "{imei}", 6) == 0
			                          ? "490154203237518"
			                          : "zz_doesnotexist";

			o += (size_t)snprintf(out + o, cap - o, "%s", val);
			p = close;
			continue;
		}
		out[o++] = *p;
	}
	out[o] = '\0';
}

static void test_every_route_every_role(void **state)
{
	struct caller {
		const char *name;
		unsigned role; /* 0: no key */
		char key[64];
	} callers[7] = {
	        {"nobody", 0, ""},
	        {"revoked admin", 0, ""},
	        {"operator", FL_ROLE_OPERATOR, ""},
	        {"admin", FL_ROLE_ADMIN, ""},
	        {"clerk", FL_ROLE_CLERK, ""},
	        {"support", FL_ROLE_SUPPORT, ""},
	        {"auditor", FL_ROLE_AUDITOR, ""},
	};
	char tid[64], path[256];
	struct srv_res r;
	int checked = 0, bad = 0;

	(void)state;
	snprintf(callers[2].key, 64, "%s", srv_operator_key(S));
	assert_int_equal(srv_tenant(S, "Roles Ltd", tid, callers[3].key), 0);
	assert_int_equal(srv_key(S, callers[3].key, "clerk", callers[4].key),
	                 0);
	assert_int_equal(srv_key(S, callers[3].key, "support", callers[5].key),
	                 0);
	assert_int_equal(srv_key(S, callers[3].key, "auditor", callers[6].key),
	                 0);
	/* an admin key that is then revoked */
	assert_int_equal(srv_req(S, "POST", "/v1/keys", callers[3].key,
	                         "{\"role\":\"admin\"}", &r),
	                 0);
	snprintf(callers[1].key, 64, "%s", srv_jstr(&r, "key"));
	snprintf(path, sizeof(path), "/v1/keys/%s/revoke", srv_jstr(&r, "id"));
	srv_res_free(&r);
	assert_int_equal(srv_req(S, "POST", path, callers[3].key, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	srv_res_free(&r);

	assert_true(n_routes > 30);
	for (int i = 0; i < n_routes; i++) {
		const struct fl_route *rt = routes[i];

		fill(rt->pattern, path, sizeof(path));
		for (size_t c = 0; c < 7; c++) {
			const char *key =
			        callers[c].key[0] ? callers[c].key : NULL;
			bool admitted = rt->roles == FL_AUTH_NONE ||
			                (rt->roles & callers[c].role) != 0;
			long want_refusal = callers[c].role == 0 ? 401 : 403;

			assert_int_equal(srv_req(S, rt->method, path, key,
			                         strcmp(rt->method, "POST") == 0
			                                 ? "{}"
			                                 : NULL,
			                         &r),
			                 0);
			checked++;
			/* phones authenticate themselves (request MAC): their
			 * 401 is the device's refusal, not an API key's */
			if (admitted && (r.status == 401 || r.status == 403) &&
			    strncmp(rt->pattern, "/v1/device/", 11) != 0) {
				fprintf(stderr, "%s %s as %s: %ld, admitted\n",
				        rt->method, path, callers[c].name,
				        r.status);
				bad++;
			}
			if (!admitted) {
				const char *code = srv_err_code(&r);

				if (r.status != want_refusal ||
				    strcmp(code, want_refusal == 401
				                         ? "auth"
				                         : "perm") != 0) {
					fprintf(stderr,
					        "%s %s as %s: %ld %s, want "
					        "%ld\n",
					        rt->method, path,
					        callers[c].name, r.status,
					        r.body, want_refusal);
					bad++;
				}
			}
			/* whatever the answer, it is never a server error */
			if (r.status >= 500 && r.status != 503) {
				fprintf(stderr, "%s %s as %s: %ld %s\n",
				        rt->method, path, callers[c].name,
				        r.status, r.body);
				bad++;
			}
			srv_res_free(&r);
		}
	}
	assert_int_equal(bad, 0);
	assert_int_equal(checked, n_routes * 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_every_route_every_role),
	};
	return cmocka_run_group_tests_name("server_roles", tests, setup,
	                                   teardown);
}
