/*
 * The finlock client against a real finlockd, run as a lender and an
 * operator run it: every command's happy path, --json output parsed,
 * server errors as one line with exit 1, usage errors exit 2, an
 * unreachable server exit 3, and two lenders who cannot see or touch each
 * other's devices.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>
#include <stdbool.h>
#include <time.h>

#include <curl/curl.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/crypto.h"
#include "support/cli_run.h"
#include "support/server_harness.h"

static struct srv *S;
static char TENANT_A[64], KEY_A[64], TENANT_B[64], KEY_B[64];
static unsigned long imei_seq = 100;

static int setup(void **state)
{
	/* a test clock: a wait ends at its timeout only when a test moves
	 * the clock */
	struct srv_opts o = {.clock = (long long)time(NULL)};

	(void)state;
	if (fl_crypto_init() != FL_OK || srv_start(&S, &o) != 0)
		return -1;
	if (srv_tenant(S, "Acme Credit", TENANT_A, KEY_A) != 0 ||
	    srv_tenant(S, "Beta Finance", TENANT_B, KEY_B) != 0)
		return -1;
	cli_isolate();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	srv_free(S);
	return 0;
}

/* Acts as lender A through the environment. */
static void as(const char *key)
{
	cli_env(srv_url(S), key);
}

static void next_imei(char out[16])
{
	cli_imei(imei_seq++, out);
}

/* Registers a device with lender key, returns its id (static buffer). */
static const char *register_device(const char *key, const char *imei,
                                   const char *serial)
{
	static char id[64];
	struct proc_result r;
	json_t *j;

	as(key);
	assert_int_equal(cli_run(&r, NULL, "devices", "register", "--imei",
	                         imei, "--serial", serial, "--model", "Phone",
	                         "--json", NULL),
	                 0);
	j = cli_json(&r);
	snprintf(id, sizeof(id), "%s",
	         json_string_value(
	                 json_object_get(json_object_get(j, "device"), "id")));
	assert_int_equal(strncmp(id, "dv_", 3), 0);
	json_decref(j);
	proc_result_free(&r);
	return id;
}

static void add_contract(const char *key, const char *device)
{
	struct proc_result r;

	as(key);
	assert_int_equal(cli_run(&r, NULL, "contracts", "create", device,
	                         "--installments",
	                         "2099-12-01:1500,2100-01-01:1500",
	                         "--currency", "KES", "--utc-offset", "+03:00",
	                         "--grace", "3d", "--json", NULL),
	                 0);
	proc_result_free(&r);
}

/* --- operator ------------------------------------------------------------- */

static void test_operator(void **state)
{
	struct proc_result r;
	char tid[64], kid[64];
	json_t *j;

	(void)state;
	cli_env(srv_url(S), NULL);
	/* the key on the command line */
	assert_int_equal(cli_run(&r, NULL, "tenant", "create", "Gamma Loans",
	                         "--key", srv_operator_key(S), "--json", NULL),
	                 0);
	j = cli_json(&r);
	assert_string_equal(json_string_value(json_object_get(j, "name")),
	                    "Gamma Loans");
	snprintf(tid, sizeof(tid), "%s",
	         json_string_value(json_object_get(j, "id")));
	json_decref(j);
	proc_result_free(&r);

	cli_env(srv_url(S), srv_operator_key(S));
	assert_int_equal(cli_run(&r, NULL, "tenant", "list", NULL), 0);
	assert_non_null(strstr(r.out, "Gamma Loans"));
	assert_non_null(strstr(r.out, "Acme Credit"));
	assert_non_null(strstr(r.out, "NAME"));
	proc_result_free(&r);
	assert_int_equal(cli_run(&r, NULL, "tenant", "show", tid, NULL), 0);
	assert_non_null(strstr(r.out, "Gamma Loans"));
	proc_result_free(&r);

	/* its first admin key, shown once, then listed without the secret */
	assert_int_equal(cli_run(&r, NULL, "tenant", "keys", "create", tid,
	                         "--label", "boss", "--json", NULL),
	                 0);
	j = cli_json(&r);
	assert_int_equal(
	        strncmp(json_string_value(json_object_get(j, "key")), "fl_", 3),
	        0);
	assert_string_equal(json_string_value(json_object_get(j, "role")),
	                    "admin");
	snprintf(kid, sizeof(kid), "%s",
	         json_string_value(json_object_get(j, "id")));
	json_decref(j);
	proc_result_free(&r);
	assert_int_equal(cli_run(&r, NULL, "tenant", "keys", "list", tid,
	                         "--json", NULL),
	                 0);
	j = cli_json(&r);
	assert_int_equal(json_array_size(json_object_get(j, "items")), 1);
	assert_null(json_object_get(
	        json_array_get(json_object_get(j, "items"), 0), "key"));
	json_decref(j);
	proc_result_free(&r);
	assert_int_equal(cli_run(&r, NULL, "tenant", "keys", "revoke", tid, kid,
	                         "--json", NULL),
	                 0);
	j = cli_json(&r);
	assert_true(json_is_false(json_object_get(j, "active")));
	json_decref(j);
	proc_result_free(&r);

	/* operator keys */
	assert_int_equal(cli_run(&r, NULL, "operator", "keys", "create",
	                         "--label", "second", "--json", NULL),
	                 0);
	j = cli_json(&r);
	snprintf(kid, sizeof(kid), "%s",
	         json_string_value(json_object_get(j, "id")));
	json_decref(j);
	proc_result_free(&r);
	assert_int_equal(cli_run(&r, NULL, "operator", "keys", "list", NULL),
	                 0);
	assert_non_null(strstr(r.out, kid));
	assert_non_null(strstr(r.out, "second"));
	proc_result_free(&r);
	assert_int_equal(
	        cli_run(&r, NULL, "operator", "keys", "revoke", kid, NULL), 0);
	proc_result_free(&r);
	/* revoking it again is a conflict, one line, exit 1 */
	assert_int_equal(
	        cli_run(&r, NULL, "operator", "keys", "revoke", kid, NULL), 1);
	assert_true(cli_one_line(r.err, "finlock: 409 conflict: "));
	proc_result_free(&r);

	assert_int_equal(cli_run(&r, NULL, "operator", "metrics", NULL), 0);
	assert_non_null(strstr(r.out, "finlockd_devices"));
	proc_result_free(&r);
	/* the same samples as JSON */
	assert_int_equal(
	        cli_run(&r, NULL, "operator", "metrics", "--json", NULL), 0);
	j = cli_json(&r);
	{
		json_t *m = json_object_get(j, "metrics"), *it;
		size_t i;
		bool seen = false;

		assert_true(json_array_size(m) > 3);
		json_array_foreach(m, i, it)
		{
			assert_true(
			        json_is_string(json_object_get(it, "name")));
			assert_true(
			        json_is_object(json_object_get(it, "labels")));
			assert_true(
			        json_is_number(json_object_get(it, "value")));
			if (strncmp(json_string_value(
			                    json_object_get(it, "name")),
			            "finlockd_devices", 16) == 0)
				seen = true;
		}
		assert_true(seen);
	}
	json_decref(j);
	proc_result_free(&r);

	/* a lender's key may not act as the operator, and is told what is
	 * needed */
	as(KEY_A);
	assert_int_equal(cli_run(&r, NULL, "tenant", "list", NULL), 1);
	assert_true(cli_count_lines(r.err) == 2);
	assert_int_equal(strncmp(r.err, "finlock: 403 forbidden", 22), 0);
	assert_true(cli_last_line(r.err, "finlock: this needs an operator "
	                                 "key"));
	assert_string_equal(r.out, "");
	proc_result_free(&r);
	/* with --json, the server's error object on stdout */
	assert_int_equal(cli_run(&r, NULL, "tenant", "list", "--json", NULL),
	                 1);
	j = cli_json(&r);
	assert_string_equal(json_string_value(json_object_get(
	                            json_object_get(j, "error"), "code")),
	                    "perm");
	json_decref(j);
	proc_result_free(&r);
}

/* A 15-digit DEVICE with a wrong check digit is named as such, not looked
 * up; errors of the client itself are JSON objects with --json. */
static void test_bad_imei_and_json_errors(void **state)
{
	struct proc_result r;
	json_t *j, *e;

	(void)state;
	as(KEY_A);
	assert_int_equal(
	        cli_run(&r, NULL, "devices", "show", "352099001761482", NULL),
	        1);
	assert_true(cli_one_line(r.err, "finlock: '352099001761482' is not a "
	                                "valid IMEI"));
	assert_non_null(strstr(r.err, "check digit"));
	proc_result_free(&r);
	assert_int_equal(cli_run(&r, NULL, "devices", "lock", "352099001761482",
	                         "--reason", "x", "--json", NULL),
	                 1);
	j = cli_json(&r);
	e = json_object_get(j, "error");
	assert_string_equal(json_string_value(json_object_get(e, "code")),
	                    "refused");
	assert_non_null(strstr(json_string_value(json_object_get(e, "message")),
	                       "check digit"));
	json_decref(j);
	proc_result_free(&r);
	/* a usage error */
	assert_int_equal(
	        cli_run(&r, NULL, "--json", "devices", "list", "--bogus", NULL),
	        2);
	j = cli_json(&r);
	assert_string_equal(json_string_value(json_object_get(
	                            json_object_get(j, "error"), "code")),
	                    "usage");
	json_decref(j);
	proc_result_free(&r);
	/* an unreachable server */
	{
		char url[64];

		snprintf(url, sizeof(url), "http://127.0.0.1:%u",
		         cli_closed_port());
		cli_env(url, KEY_A);
		assert_int_equal(
		        cli_run(&r, NULL, "devices", "list", "--json", NULL),
		        3);
		j = cli_json(&r);
		assert_string_equal(
		        json_string_value(json_object_get(
		                json_object_get(j, "error"), "code")),
		        "unreachable");
		json_decref(j);
		proc_result_free(&r);
	}
}

/* --- API keys ------------------------------------------------------------- */

static void test_keys(void **state)
{
	struct proc_result r;
	char id[64], clerk[64];
	json_t *j;

	(void)state;
	as(KEY_A);
	assert_int_equal(cli_run(&r, NULL, "keys", "create", "--role", "clerk",
	                         "--label", "shop 1", "--json", NULL),
	                 0);
	j = cli_json(&r);
	assert_string_equal(json_string_value(json_object_get(j, "role")),
	                    "clerk");
	snprintf(id, sizeof(id), "%s",
	         json_string_value(json_object_get(j, "id")));
	snprintf(clerk, sizeof(clerk), "%s",
	         json_string_value(json_object_get(j, "key")));
	assert_int_equal(strlen(clerk), 46);
	json_decref(j);
	assert_non_null(strstr(r.err, "only this once"));
	proc_result_free(&r);

	assert_int_equal(cli_run(&r, NULL, "keys", "list", NULL), 0);
	assert_non_null(strstr(r.out, id));
	assert_non_null(strstr(r.out, "shop 1"));
	assert_null(strstr(r.out, clerk));
	proc_result_free(&r);
	assert_int_equal(cli_run(&r, NULL, "keys", "show", id, NULL), 0);
	assert_non_null(strstr(r.out, "clerk"));
	proc_result_free(&r);

	/* the clerk registers devices but may not manage keys */
	as(clerk);
	assert_int_equal(cli_run(&r, NULL, "keys", "list", NULL), 1);
	assert_true(cli_one_line(r.err, "finlock: 403 forbidden"));
	proc_result_free(&r);

	as(KEY_A);
	assert_int_equal(cli_run(&r, NULL, "keys", "revoke", id, NULL), 0);
	assert_non_null(strstr(r.out, "active"));
	proc_result_free(&r);
	/* a revoked key is refused at once */
	as(clerk);
	assert_int_equal(cli_run(&r, NULL, "devices", "list", NULL), 1);
	assert_true(cli_one_line(r.err, "finlock: 401 unauthorized"));
	proc_result_free(&r);

	/* the server's validation, as one line */
	as(KEY_A);
	assert_int_equal(
	        cli_run(&r, NULL, "keys", "create", "--role", "boss", NULL), 1);
	assert_true(cli_one_line(r.err, "finlock: 400 bad request: role"));
	proc_result_free(&r);
	/* with --json the error body goes to stdout too */
	assert_int_equal(cli_run(&r, NULL, "keys", "create", "--role", "boss",
	                         "--json", NULL),
	                 1);
	j = cli_json(&r);
	assert_string_equal(json_string_value(json_object_get(
	                            json_object_get(j, "error"), "code")),
	                    "invalid");
	json_decref(j);
	proc_result_free(&r);
	/* and a missing option is a usage error, nothing sent */
	assert_int_equal(cli_run(&r, NULL, "keys", "create", NULL), 2);
	assert_true(cli_one_line(r.err, "finlock: keys create: --role is "
	                                "required"));
	proc_result_free(&r);
}

/* --- usage and transport errors ------------------------------------------- */

static void test_usage_errors(void **state)
{
	static const char *const bad[][6] = {
	        {"devices", "list", "--bogus", NULL},
	        {"devices", "lock", NULL},
	        {"devices", "lock", "dv_x", NULL}, /* no --reason */
	        {"devices", "show", "a", "b", NULL},
	        {"devices", "list", "--limit", NULL},
	        {"devices", "stolen", "dv_x", "--reason", "r", NULL},
	        {"payments", "record", "dv_x", "--amount", "5", NULL},
	        {"contracts", "create", "dv_x", "--currency", "KES", NULL},
	        {"tenant", "nosuch", NULL},
	        {"audit", NULL},
	        {"login", "--server", "http://127.0.0.1:1", NULL},
	};
	struct proc_result r;

	(void)state;
	as(KEY_A);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int st = cli_runv(&r, NULL, (char *const *)bad[i]);

		if (st != 2)
			fprintf(stderr, "case %zu: exit %d [%s]\n", i, st,
			        r.err);
		assert_int_equal(st, 2);
		assert_string_equal(r.out, "");
		proc_result_free(&r);
	}
	/* a bad value of a well-formed command is invalid input: 1 */
	assert_int_equal(cli_run(&r, NULL, "devices", "register", "--imei",
	                         "352099001761482", "--serial", "S", NULL),
	                 1);
	assert_true(cli_one_line(r.err, "finlock: --imei: "));
	assert_non_null(strstr(r.err, "check digit"));
	proc_result_free(&r);
	assert_int_equal(cli_run(&r, NULL, "devices", "lock", "dv_x",
	                         "--reason", "r", "--at", "tomorrow", NULL),
	                 1);
	proc_result_free(&r);
	assert_int_equal(cli_run(&r, NULL, "payments", "record", "dv_x",
	                         "--amount", "15.50", "--reference", "R", NULL),
	                 1);
	assert_non_null(strstr(r.err, "minor units"));
	proc_result_free(&r);
	/* no server anywhere */
	cli_env(NULL, KEY_A);
	assert_int_equal(cli_run(&r, NULL, "devices", "list", NULL), 2);
	assert_true(cli_one_line(r.err, "finlock: no server"));
	proc_result_free(&r);
	/* no key */
	cli_env(srv_url(S), NULL);
	assert_int_equal(cli_run(&r, NULL, "devices", "list", NULL), 2);
	assert_true(cli_one_line(r.err, "finlock: no API key"));
	proc_result_free(&r);
}

/* Connection options may come before the command, as people write them. */
static void test_leading_options(void **state)
{
	struct proc_result r;
	char arg[128];

	(void)state;
	cli_env(NULL, NULL);
	assert_int_equal(cli_run(&r, NULL, "--server", srv_url(S), "--key",
	                         KEY_A, "keys", "list", "--json", NULL),
	                 0);
	assert_non_null(strstr(r.out, "\"items\""));
	proc_result_free(&r);
	snprintf(arg, sizeof(arg), "--server=%s", srv_url(S));
	assert_int_equal(cli_run(&r, NULL, arg, "--json", "--key", KEY_A,
	                         "keys", "list", NULL),
	                 0);
	assert_non_null(strstr(r.out, "\"items\""));
	proc_result_free(&r);
	/* an option without its value is a usage error, not a command */
	assert_int_equal(cli_run(&r, NULL, "--server", NULL), 2);
	proc_result_free(&r);
}

static void test_unreachable(void **state)
{
	char url[64];
	struct proc_result r;

	(void)state;
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", cli_closed_port());
	cli_env(url, KEY_A);
	assert_int_equal(cli_run(&r, NULL, "devices", "list", NULL), 3);
	assert_true(cli_one_line(r.err, "finlock: cannot reach"));
	proc_result_free(&r);
	assert_int_equal(cli_run(&r, NULL, "health", NULL), 3);
	proc_result_free(&r);
	/* a server that accepts but never answers: the timeout */
	{
		unsigned port;
		int fd = cli_silent_port(&port);

		snprintf(url, sizeof(url), "http://127.0.0.1:%u", port);
		cli_env(url, KEY_A);
		assert_int_equal(cli_run(&r, NULL, "devices", "list",
		                         "--timeout", "1", NULL),
		                 3);
		assert_true(cli_one_line(r.err, "finlock: cannot reach"));
		proc_result_free(&r);
		assert_int_equal(cli_run(&r, NULL, "devices", "list",
		                         "--timeout", "0", NULL),
		                 2);
		proc_result_free(&r);
		close(fd);
	}
	/* a name that does not resolve */
	cli_env("https://no-such-host.invalid", KEY_A);
	assert_int_equal(cli_run(&r, NULL, "keys", "list", NULL), 3);
	assert_true(cli_one_line(r.err, "finlock: cannot reach"));
	proc_result_free(&r);
	/* the server itself answers health */
	cli_env(srv_url(S), NULL);
	assert_int_equal(cli_run(&r, NULL, "health", NULL), 0);
	assert_non_null(strstr(r.out, "ok"));
	proc_result_free(&r);
	/* a plain-http server that is not loopback never gets the key */
	cli_env("http://192.0.2.1:8080", KEY_A);
	assert_int_equal(cli_run(&r, NULL, "keys", "list", NULL), 1);
	assert_true(cli_one_line(r.err, "finlock: refusing to send the API "
	                                "key over plain http"));
	proc_result_free(&r);
}

/* --- audit ---------------------------------------------------------------- */

static void test_audit(void **state)
{
	struct proc_result r;
	char *line, *save = NULL;
	size_t n = 0;
	json_t *j;

	(void)state;
	as(KEY_A);
	assert_int_equal(cli_run(&r, NULL, "audit", "list", "--action",
	                         "key.create", "--json", NULL),
	                 0);
	j = cli_json(&r);
	assert_true(json_array_size(json_object_get(j, "items")) >= 1);
	assert_string_equal(
	        json_string_value(json_object_get(
	                json_array_get(json_object_get(j, "items"), 0),
	                "action")),
	        "key.create");
	json_decref(j);
	proc_result_free(&r);
	/* --all follows cursors: one entry per page, the same entries */
	assert_int_equal(cli_run(&r, NULL, "audit", "list", "--limit", "1",
	                         "--all", "--json", NULL),
	                 0);
	j = cli_json(&r);
	n = json_array_size(json_object_get(j, "items"));
	assert_true(n >= 3);
	assert_true(json_is_null(json_object_get(j, "next_cursor")));
	json_decref(j);
	proc_result_free(&r);
	/* one page only says where the next one starts */
	assert_int_equal(
	        cli_run(&r, NULL, "audit", "list", "--limit", "1", NULL), 0);
	assert_int_equal(cli_count_lines(r.out), 2); /* header + 1 */
	assert_non_null(strstr(r.err, "--cursor"));
	proc_result_free(&r);

	/* export: every line is an entry with its hash */
	assert_int_equal(cli_run(&r, NULL, "audit", "export", NULL), 0);
	assert_int_equal(cli_count_lines(r.out), n);
	for (line = strtok_r(r.out, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		json_t *e = json_loads(line, 0, NULL);

		assert_non_null(e);
		assert_int_equal(
		        strlen(json_string_value(json_object_get(e, "hash"))),
		        64);
		json_decref(e);
	}
	proc_result_free(&r);

	assert_int_equal(cli_run(&r, NULL, "audit", "verify", NULL), 0);
	assert_non_null(strstr(r.out, "ok"));
	proc_result_free(&r);
	assert_int_equal(
	        cli_run(&r, NULL, "audit", "head", "--sign", "--json", NULL),
	        0);
	j = cli_json(&r);
	assert_int_equal(strncmp(json_string_value(json_object_get(j, "token")),
	                         "v4.public.", 10),
	                 0);
	json_decref(j);
	proc_result_free(&r);
	assert_int_equal(cli_run(&r, NULL, "audit", "head", NULL), 0);
	assert_non_null(strstr(r.out, "v4.public."));
	proc_result_free(&r);

	/* the operator's chain is the operator's */
	assert_int_equal(cli_run(&r, NULL, "audit", "list", "--operator", NULL),
	                 1);
	assert_int_equal(strncmp(r.err, "finlock: 403 forbidden", 22), 0);
	assert_true(cli_last_line(r.err, "finlock: this needs an operator "
	                                 "key"));
	proc_result_free(&r);
	as(srv_operator_key(S));
	assert_int_equal(cli_run(&r, NULL, "audit", "verify", "--operator",
	                         "--json", NULL),
	                 0);
	j = cli_json(&r);
	assert_true(json_is_true(json_object_get(j, "ok")));
	json_decref(j);
	proc_result_free(&r);
}

/* --- devices ------------------------------------------------------------- */

/* Runs a command that must succeed with --json; returns the answer. */
static json_t *ok_json(const char *const *args)
{
	struct proc_result r;
	char *argv[48];
	size_t n = 0;
	json_t *j;
	int st;

	for (; args[n] != NULL && n < 46; n++)
		argv[n] = (char *)args[n];
	argv[n++] = "--json";
	argv[n] = NULL;
	st = cli_runv(&r, NULL, argv);
	if (st != 0)
		fprintf(stderr, "%s %s: exit %d [%s]\n", args[0], args[1], st,
		        r.err);
	assert_int_equal(st, 0);
	j = cli_json(&r);
	proc_result_free(&r);
	return j;
}

#define OK_JSON(...) ok_json((const char *const[]){__VA_ARGS__, NULL})

static const char *jstr(const json_t *j, const char *name)
{
	const char *s = json_string_value(json_object_get(j, name));

	return s != NULL ? s : "";
}

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
	(void)p;
	(void)ctx;
	return size * n;
}

struct later_sync {
	const char *id; /* device to sync */
	const char *key;
	_Atomic bool stop;
};

/* Forces a sync of the device (which wakes a waiter) every 200 ms until
 * told to stop, on a connection of its own. */
static void *sync_later(void *arg)
{
	struct later_sync *ls = arg;
	char path[128];

	snprintf(path, sizeof(path), "/v1/devices/%s/sync", ls->id);
	while (!ls->stop) {
		struct timespec ts = {0, 200 * 1000 * 1000};
		CURL *c = curl_easy_init();
		struct curl_slist *h = NULL;
		char url[256], auth[128];

		nanosleep(&ts, NULL);
		snprintf(url, sizeof(url), "%s%s", srv_url(S), path);
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s",
		         ls->key);
		h = curl_slist_append(h, auth);
		h = curl_slist_append(h, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "{}");
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
		curl_easy_perform(c);
		curl_slist_free_all(h);
		curl_easy_cleanup(c);
	}
	return NULL;
}

static void test_devices(void **state)
{
	char imei[16], imei2[16], id[64];
	struct proc_result r;
	json_t *j, *d;

	(void)state;
	next_imei(imei);
	next_imei(imei2);
	as(KEY_A);
	/* register: the human answer shows the enrollment code */
	assert_int_equal(cli_run(&r, NULL, "devices", "register", "--imei",
	                         imei, "--imei2", imei2, "--serial", "SN-100",
	                         "--model", "Spark 10", NULL),
	                 0);
	assert_non_null(strstr(r.out, "registered dv_"));
	assert_non_null(strstr(r.out, "enrollment code"));
	sscanf(r.out, "registered %63s", id);
	proc_result_free(&r);

	/* show by id and by IMEI (either of them) */
	j = OK_JSON("devices", "show", id);
	assert_string_equal(jstr(j, "imei"), imei);
	assert_string_equal(jstr(j, "imei2"), imei2);
	assert_string_equal(jstr(j, "serial"), "SN-100");
	assert_string_equal(jstr(j, "state"), "pending");
	json_decref(j);
	j = OK_JSON("devices", "show", imei2);
	assert_string_equal(jstr(j, "id"), id);
	json_decref(j);
	assert_int_equal(cli_run(&r, NULL, "devices", "show", id, NULL), 0);
	assert_non_null(strstr(r.out, "serial"));
	assert_non_null(strstr(r.out, "SN-100"));
	proc_result_free(&r);

	/* list with filters */
	j = OK_JSON("devices", "list", "--q", "SN-100");
	assert_int_equal(json_array_size(json_object_get(j, "items")), 1);
	json_decref(j);
	j = OK_JSON("devices", "list", "--state", "locked");
	assert_int_equal(json_array_size(json_object_get(j, "items")), 0);
	json_decref(j);
	assert_int_equal(cli_run(&r, NULL, "devices", "list", "--state",
	                         "sleeping", NULL),
	                 1);
	assert_true(cli_one_line(r.err, "finlock: 400 bad request: state"));
	proc_result_free(&r);
	assert_int_equal(cli_run(&r, NULL, "devices", "list", NULL), 0);
	assert_non_null(strstr(r.out, "LAST CONTACT"));
	assert_non_null(strstr(r.out, id));
	proc_result_free(&r);

	/* commands need a contract */
	assert_int_equal(cli_run(&r, NULL, "devices", "lock", id, "--reason",
	                         "overdue", NULL),
	                 1);
	assert_true(cli_one_line(r.err, "finlock: "));
	assert_non_null(strstr(r.err, "no contract"));
	proc_result_free(&r);

	j = OK_JSON("contracts", "create", imei, "--installments",
	            "2099-12-01:1500, 2100-01-01:1500", "--currency", "KES",
	            "--utc-offset", "+03:00", "--grace", "3d", "--loan-ref",
	            "L-100", "--remind", "3d,1d", "--remind", "0d",
	            "--restrict", "camera,install_apps", "--allow-apps",
	            "com.acme.pay", "--message", "Please pay", "--contact-name",
	            "Acme", "--contact-phones", "+254700000001",
	            "--max-offline", "30d", "--sim-change", "lock", "--tamper",
	            "notify");
	assert_string_equal(jstr(j, "loan_ref"), "L-100");
	assert_int_equal(json_array_size(json_object_get(j, "schedule")), 2);
	assert_int_equal(json_integer_value(json_object_get(j, "grace")),
	                 3 * 86400);
	d = json_object_get(j, "policy");
	assert_int_equal(json_array_size(json_object_get(d, "reminders")), 3);
	assert_string_equal(jstr(d, "sim_change"), "lock");
	assert_string_equal(jstr(d, "message"), "Please pay");
	json_decref(j);
	j = OK_JSON("contracts", "show", id);
	assert_string_equal(jstr(j, "currency"), "KES");
	assert_string_equal(jstr(j, "utc_offset"), "+03:00");
	json_decref(j);
	j = OK_JSON("contracts", "list");
	assert_true(json_array_size(json_object_get(j, "items")) >= 1);
	json_decref(j);
	/* a second contract is a conflict */
	assert_int_equal(cli_run(&r, NULL, "contracts", "create", id,
	                         "--installments", "2099-12-01:1", "--currency",
	                         "KES", NULL),
	                 1);
	assert_true(cli_one_line(r.err, "finlock: 409 conflict: "));
	proc_result_free(&r);
	/* a guaranteed capability cannot be restricted */
	{
		char other[16];
		const char *oid;

		next_imei(other);
		oid = register_device(KEY_A, other, "SN-101");
		assert_int_equal(cli_run(&r, NULL, "contracts", "create", oid,
		                         "--installments", "2099-12-01:1",
		                         "--currency", "KES", "--restrict",
		                         "emergency_calls", NULL),
		                 1);
		assert_true(cli_one_line(r.err, "finlock: 400 bad request: "));
		proc_result_free(&r);
	}

	/* lock at a time, lock now, unlock until, stolen, sync, release */
	j = OK_JSON("devices", "lock", id, "--reason", "overdue", "--at",
	            "+1h");
	assert_true(json_is_string(json_object_get(j, "lock_at")));
	json_decref(j);
	j = OK_JSON("devices", "lock", id, "--reason", "overdue");
	assert_string_equal(jstr(j, "lock_cause"), "manual");
	json_decref(j);
	j = OK_JSON("devices", "unlock", id, "--until", "+2h");
	assert_true(json_is_string(json_object_get(j, "unlock_until")));
	json_decref(j);
	j = OK_JSON("devices", "stolen", id, "--set", "--reason", "police");
	assert_true(json_is_true(json_object_get(j, "stolen")));
	json_decref(j);
	assert_int_equal(cli_run(&r, NULL, "devices", "stolen", id, "--set",
	                         "--reason", "again", NULL),
	                 1);
	assert_true(cli_one_line(r.err, "finlock: 409 conflict: "));
	proc_result_free(&r);
	j = OK_JSON("devices", "stolen", id, "--clear", "--reason", "found");
	assert_true(json_is_false(json_object_get(j, "stolen")));
	json_decref(j);
	{
		json_t *before = OK_JSON("devices", "show", id);
		json_t *after = OK_JSON("devices", "sync", id);

		assert_true(json_integer_value(
		                    json_object_get(after, "token_seq")) >
		            json_integer_value(
		                    json_object_get(before, "token_seq")));
		json_decref(before);
		json_decref(after);
	}
	/* waiting: nothing changes while a second passes on the server;
	 * no device is printed, and with --json an error object */
	srv_clock_run(S, 2);
	assert_int_equal(
	        cli_run(&r, NULL, "devices", "wait", id, "--for", "1", NULL),
	        1);
	assert_true(cli_last_line(r.err, "finlock: no change within 1 s"));
	assert_string_equal(r.out, "");
	proc_result_free(&r);
	assert_int_equal(cli_run(&r, NULL, "devices", "wait", id, "--for", "1",
	                         "--json", NULL),
	                 1);
	srv_clock_stop(S);
	j = cli_json(&r);
	assert_string_equal(json_string_value(json_object_get(
	                            json_object_get(j, "error"), "code")),
	                    "refused");
	assert_null(json_object_get(j, "id"));
	json_decref(j);
	proc_result_free(&r);
	{
		json_t *now = OK_JSON("devices", "show", id);
		char seq[32];

		snprintf(seq, sizeof(seq), "%lld",
		         (long long)json_integer_value(
		                 json_object_get(now, "token_seq")) -
		                 1);
		json_decref(now);
		/* a change wakes the waiter long before its time is up */
		{
			/* the clock stands still: only a change ends it */
			struct later_sync ls = {id, KEY_A, false};
			pthread_t th;

			assert_int_equal(
			        pthread_create(&th, NULL, sync_later, &ls), 0);
			j = OK_JSON("devices", "wait", id, "--for", "60");
			ls.stop = true;
			pthread_join(th, NULL);
			assert_true(json_integer_value(json_object_get(
			                    j, "token_seq")) > atoll(seq) + 1);
			json_decref(j);
		}
		/* an older seq answers at once */
		j = OK_JSON("devices", "wait", id, "--seq", seq, "--for", "60");
		assert_string_equal(jstr(j, "id"), id);
		json_decref(j);
	}
	j = OK_JSON("devices", "enrollment-code", id);
	assert_true(strlen(jstr(j, "enrollment_code")) > 0);
	json_decref(j);
	j = OK_JSON("contracts", "reschedule", id, "--from", "2099-11-01",
	            "--installments", "2099-12-15:3000", "--reason", "agreed");
	assert_int_equal(json_array_size(json_object_get(j, "schedule")), 1);
	json_decref(j);
	j = OK_JSON("contracts", "show", id);
	assert_int_equal(json_array_size(json_object_get(j, "reschedules")), 1);
	json_decref(j);
	j = OK_JSON("devices", "release", id, "--reason", "settled");
	assert_string_equal(jstr(j, "state"), "released");
	json_decref(j);
	assert_int_equal(
	        cli_run(&r, NULL, "devices", "lock", id, "--reason", "x", NULL),
	        1);
	assert_true(cli_one_line(r.err, "finlock: 409 conflict: "));
	proc_result_free(&r);

	/* the audit log saw all of it */
	j = OK_JSON("audit", "list", "--target", id, "--all");
	assert_true(json_array_size(json_object_get(j, "items")) >= 9);
	json_decref(j);
}

static void test_payments(void **state)
{
	char imei[16], key[64], pid[64], *p;
	const char *id;
	struct proc_result r;
	json_t *j;

	(void)state;
	next_imei(imei);
	id = register_device(KEY_A, imei, "SN-200");
	add_contract(KEY_A, id);
	as(KEY_A);
	/* finlock makes an idempotency key and says so before sending */
	assert_int_equal(cli_run(&r, NULL, "payments", "record", imei,
	                         "--amount", "1500", "--reference", "MP-1",
	                         "--json", NULL),
	                 0);
	p = strstr(r.err, "idempotency key ");
	assert_non_null(p);
	sscanf(p, "idempotency key %63s", key);
	assert_int_equal(strncmp(key, "pay-", 4), 0);
	j = cli_json(&r);
	snprintf(pid, sizeof(pid), "%s",
	         jstr(json_object_get(j, "payment"), "id"));
	assert_int_equal(json_integer_value(json_object_get(
	                         json_object_get(j, "payment"), "amount")),
	                 1500);
	json_decref(j);
	proc_result_free(&r);
	/* a retry with that key records nothing new */
	assert_int_equal(cli_run(&r, NULL, "payments", "record", imei,
	                         "--amount", "1500", "--reference", "MP-1",
	                         "--idempotency-key", key, "--json", NULL),
	                 0);
	j = cli_json(&r);
	assert_string_equal(jstr(json_object_get(j, "payment"), "id"), pid);
	json_decref(j);
	assert_non_null(strstr(r.err, "already done"));
	proc_result_free(&r);
	/* the same key for another payment is refused */
	assert_int_equal(cli_run(&r, NULL, "payments", "record", imei,
	                         "--amount", "999", "--reference", "MP-1",
	                         "--idempotency-key", key, NULL),
	                 1);
	assert_true(cli_one_line(r.err, "finlock: 409 conflict: "));
	proc_result_free(&r);
	/* a key that could smuggle a header is refused before sending */
	assert_int_equal(cli_run(&r, NULL, "payments", "record", imei,
	                         "--amount", "1", "--reference", "X",
	                         "--idempotency-key", "k\r\nX-Evil: 1", NULL),
	                 1);
	assert_true(cli_one_line(r.err, "finlock: an idempotency key is"));
	proc_result_free(&r);
	j = OK_JSON("payments", "list", id);
	assert_int_equal(json_array_size(json_object_get(j, "items")), 1);
	json_decref(j);
	/* human output: the payment and the device in one line */
	assert_int_equal(cli_run(&r, NULL, "payments", "record", id, "--amount",
	                         "500", "--reference", "MP-2", "--paid-at",
	                         "now", NULL),
	                 0);
	assert_non_null(strstr(r.out, "MP-2"));
	assert_non_null(strstr(r.out, "device dv_"));
	proc_result_free(&r);
	assert_int_equal(cli_run(&r, NULL, "payments", "list", NULL), 0);
	assert_non_null(strstr(r.out, "MP-1"));
	assert_non_null(strstr(r.out, "MP-2"));
	proc_result_free(&r);
	j = OK_JSON("payments", "show", pid);
	assert_string_equal(jstr(j, "reference"), "MP-1");
	json_decref(j);
	j = OK_JSON("payments", "reverse", pid, "--reason", "bounced");
	assert_true(json_is_true(
	        json_object_get(json_object_get(j, "payment"), "reversed")));
	json_decref(j);
	assert_int_equal(cli_run(&r, NULL, "payments", "reverse", pid,
	                         "--reason", "again", NULL),
	                 1);
	assert_true(cli_one_line(r.err, "finlock: 409 conflict: "));
	proc_result_free(&r);
	/* a payment in the future is the server's 400 */
	assert_int_equal(cli_run(&r, NULL, "payments", "record", id, "--amount",
	                         "5", "--reference", "X", "--paid-at", "+3d",
	                         NULL),
	                 1);
	/* the key made for it, then the error */
	assert_int_equal(cli_count_lines(r.err), 2);
	assert_true(cli_last_line(r.err, "finlock: 400 bad request: "));
	proc_result_free(&r);
}

/* --- what a lender is told ------------------------------------------------ */

static void test_lender_view(void **state)
{
	char imei[16], imei2[16], clerk[64], csvpath[600], text[256], cid[32];
	const char *id;
	struct proc_result r;
	json_t *j, *pend;

	(void)state;
	/* a clerk registers phones from a reseller's file, and issues a new
	 * enrollment code by IMEI */
	assert_int_equal(srv_key(S, KEY_A, "clerk", clerk), 0);
	next_imei(imei);
	next_imei(imei2);
	snprintf(text, sizeof(text), "IMEI,IMEI 2,serial,model\n%s,,SN-C1,A\n",
	         imei);
	snprintf(csvpath, sizeof(csvpath), "%s/clerk.csv", cli_isolate());
	cli_write_file(csvpath, text, 0600);
	as(clerk);
	assert_int_equal(cli_run(&r, NULL, "devices", "import", csvpath,
	                         "--no-public-check", NULL),
	                 0);
	proc_result_free(&r);
	assert_int_equal(
	        cli_run(&r, NULL, "devices", "enrollment-code", imei, NULL), 0);
	proc_result_free(&r);

	as(KEY_A);
	id = register_device(KEY_A, imei2, "SN-C2");
	add_contract(KEY_A, id);
	/* a time already past is refused */
	assert_int_equal(cli_run(&r, NULL, "devices", "lock", id, "--reason",
	                         "x", "--at", "2020-01-01T00:00:00Z", NULL),
	                 1);
	assert_true(cli_last_line(r.err, "finlock: 400 bad request: "));
	assert_non_null(strstr(r.err, "future"));
	proc_result_free(&r);
	assert_int_equal(cli_run(&r, NULL, "devices", "unlock", id, "--until",
	                         "2020-01-01T00:00:00Z", NULL),
	                 1);
	proc_result_free(&r);
	/* a scheduled lock shows as pending and is cancelled with a reason */
	j = OK_JSON("devices", "lock", id, "--reason", "Visit the shop",
	            "--at", "+2d", "--show-reason");
	json_decref(j);
	j = OK_JSON("devices", "show", id);
	pend = json_object_get(j, "pending_commands");
	assert_int_equal(json_array_size(pend), 1);
	assert_string_equal(jstr(json_array_get(pend, 0), "kind"), "lock_at");
	snprintf(cid, sizeof(cid), "%lld",
	         (long long)json_integer_value(
	                 json_object_get(json_array_get(pend, 0), "id")));
	json_decref(j);
	assert_int_equal(cli_run(&r, NULL, "devices", "cancel", id, cid, NULL),
	                 2); /* the reason is required */
	proc_result_free(&r);
	j = OK_JSON("devices", "cancel", id, cid, "--reason",
	            "paid at the branch");
	assert_int_equal(
	        json_array_size(json_object_get(j, "pending_commands")), 0);
	json_decref(j);
	assert_int_equal(cli_run(&r, NULL, "devices", "cancel", id, cid,
	                         "--reason", "again", NULL),
	                 1);
	assert_true(cli_one_line(r.err, "finlock: 409 conflict: "));
	proc_result_free(&r);
	/* the audit list shows reasons, the key list when keys were used */
	assert_int_equal(cli_run(&r, NULL, "audit", "list", "--target", id,
	                         NULL),
	                 0);
	assert_non_null(strstr(r.out, "REASON"));
	assert_non_null(strstr(r.out, "paid at the branch"));
	proc_result_free(&r);
	assert_int_equal(cli_run(&r, NULL, "keys", "list", NULL), 0);
	assert_non_null(strstr(r.out, "LAST USED"));
	proc_result_free(&r);
	/* alert filters */
	j = OK_JSON("devices", "list", "--tamper", "--sim");
	assert_int_equal(json_array_size(json_object_get(j, "items")), 0);
	json_decref(j);

	/* money typed in by hand */
	assert_int_equal(cli_run(&r, NULL, "payments", "record", id, "--amount",
	                         "5000", "--reference", "MP-V1", NULL),
	                 1);
	assert_true(cli_last_line(r.err, "finlock: 400 bad request: "));
	proc_result_free(&r);
	j = OK_JSON("payments", "record", id, "--amount", "3100", "--reference",
	            "MP-V1", "--allow-overpayment");
	assert_int_equal(json_integer_value(json_object_get(
	                         json_object_get(j, "device"), "credit")),
	                 100);
	json_decref(j);
	assert_int_equal(cli_run(&r, NULL, "payments", "record", id, "--amount",
	                         "1", "--reference", "MP-V1",
	                         "--allow-overpayment", NULL),
	                 1);
	assert_true(cli_last_line(r.err, "finlock: 409 conflict: "));
	assert_non_null(strstr(r.err, "py_"));
	proc_result_free(&r);
	/* no idempotency key announced for a request never sent (an IMEI
	 * none of the lender's devices has) */
	next_imei(imei);
	assert_int_equal(cli_run(&r, NULL, "payments", "record", imei,
	                         "--amount", "1", "--reference", "MP-V2", NULL),
	                 1);
	assert_null(strstr(r.err, "idempotency key"));
	proc_result_free(&r);

	/* a contract already overdue needs --allow-overdue, and warns */
	next_imei(imei);
	id = register_device(KEY_A, imei, "SN-C3");
	assert_int_equal(cli_run(&r, NULL, "contracts", "create", id,
	                         "--installments",
	                         "2021-01-01:100,2099-01-01:100", "--currency",
	                         "KES", NULL),
	                 1);
	assert_non_null(strstr(r.err, "allow_overdue"));
	proc_result_free(&r);
	assert_int_equal(cli_run(&r, NULL, "contracts", "create", id,
	                         "--installments",
	                         "2021-01-01:100,2099-01-01:100", "--currency",
	                         "KES", "--allow-overdue", NULL),
	                 0);
	assert_non_null(strstr(r.err, "finlock: warning: "));
	proc_result_free(&r);
}

/* --- two lenders ---------------------------------------------------------- */

static void test_two_lenders(void **state)
{
	char imei[16], pid[64], id[64];
	struct proc_result r;
	json_t *j;

	(void)state;
	next_imei(imei);
	snprintf(id, sizeof(id), "%s", register_device(KEY_A, imei, "SN-300"));
	add_contract(KEY_A, id);
	as(KEY_A);
	j = OK_JSON("payments", "record", id, "--amount", "10", "--reference",
	            "R");
	snprintf(pid, sizeof(pid), "%s",
	         jstr(json_object_get(j, "payment"), "id"));
	json_decref(j);

	/* lender B sees none of it and touches none of it */
	as(KEY_B);
	{
		static const char *const cmds[][8] = {
		        {"devices", "show", NULL},
		        {"devices", "lock", NULL, "--reason", "x"},
		        {"devices", "unlock", NULL, "--until", "+1h"},
		        {"devices", "release", NULL},
		        {"devices", "stolen", NULL, "--set", "--reason", "x"},
		        {"devices", "sync", NULL},
		        {"devices", "enrollment-code", NULL},
		        {"contracts", "show", NULL},
		        {"contracts", "create", NULL, "--installments",
		         "2099-12-01:1", "--currency", "KES"},
		        {"contracts", "reschedule", NULL, "--from",
		         "2099-01-01", "--installments", "2099-12-01:1"},
		        {"payments", "record", NULL, "--amount", "1",
		         "--reference", "x"},
		        {"payments", "list", NULL},
		        {"devices", "wait", NULL, "--for", "1"},
		};
		for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
			char *argv[9];
			size_t n = 0;

			argv[n++] = (char *)cmds[i][0];
			argv[n++] = (char *)cmds[i][1];
			argv[n++] = id; /* lender A's device */
			for (size_t k = 3; k < 8 && cmds[i][k] != NULL; k++)
				argv[n++] = (char *)cmds[i][k];
			argv[n] = NULL;
			if (cli_runv(&r, NULL, argv) != 1 ||
			    !cli_last_line(r.err, "finlock: 404 not found"))
				fprintf(stderr, "case %zu: %d [%s]\n", i,
				        r.status, r.err);
			assert_int_equal(r.status, 1);
			assert_true(
			        cli_last_line(r.err, "finlock: 404 not found"));
			assert_string_equal(r.out, "");
			proc_result_free(&r);
		}
	}
	/* nor by IMEI */
	assert_int_equal(cli_run(&r, NULL, "devices", "show", imei, NULL), 1);
	assert_true(cli_one_line(r.err, "finlock: 404 not found: none of your "
	                                "devices has IMEI"));
	proc_result_free(&r);
	assert_int_equal(cli_run(&r, NULL, "payments", "show", pid, NULL), 1);
	assert_true(cli_one_line(r.err, "finlock: 404 not found"));
	proc_result_free(&r);
	assert_int_equal(cli_run(&r, NULL, "payments", "reverse", pid,
	                         "--reason", "x", NULL),
	                 1);
	assert_true(cli_one_line(r.err, "finlock: 404 not found"));
	proc_result_free(&r);
	j = OK_JSON("devices", "list", "--all");
	for (size_t i = 0; i < json_array_size(json_object_get(j, "items"));
	     i++)
		assert_string_not_equal(
		        jstr(json_array_get(json_object_get(j, "items"), i),
		             "id"),
		        id);
	json_decref(j);
	j = OK_JSON("payments", "list", "--all");
	assert_int_equal(json_array_size(json_object_get(j, "items")), 0);
	json_decref(j);
	/* registering the same IMEI is a conflict that names nobody */
	assert_int_equal(cli_run(&r, NULL, "devices", "register", "--imei",
	                         imei, "--serial", "SN-X", NULL),
	                 1);
	assert_true(cli_one_line(r.err, "finlock: 409 conflict: "));
	assert_null(strstr(r.err, "Acme"));
	proc_result_free(&r);
}

/* devices list --stolen, --sort, --desc, --lock-held, against a lender of
 * its own. */
static void test_list_filters_and_sort(void **state)
{
	char t[64], k[64], imei[16], first[64], second[64];
	struct proc_result r;
	json_t *j, *items;

	(void)state;
	assert_int_equal(srv_tenant(S, "Gamma Loans", t, k), 0);
	next_imei(imei);
	snprintf(first, sizeof(first), "%s", register_device(k, imei, "G-1"));
	add_contract(k, first);
	next_imei(imei);
	snprintf(second, sizeof(second), "%s", register_device(k, imei, "G-2"));
	as(k);
	assert_int_equal(cli_run(&r, NULL, "devices", "stolen", first, "--set",
	                         "--reason", "police", "--json", NULL),
	                 0);
	proc_result_free(&r);
	assert_int_equal(cli_run(&r, NULL, "devices", "list", "--stolen",
	                         "--json", NULL),
	                 0);
	j = cli_json(&r);
	items = json_object_get(j, "items");
	assert_int_equal(json_array_size(items), 1);
	assert_string_equal(json_string_value(json_object_get(
	                            json_array_get(items, 0), "id")),
	                    first);
	json_decref(j);
	proc_result_free(&r);
	assert_int_equal(cli_run(&r, NULL, "devices", "list", "--lock-held",
	                         "--json", NULL),
	                 0);
	j = cli_json(&r);
	assert_int_equal(json_array_size(json_object_get(j, "items")), 0);
	json_decref(j);
	proc_result_free(&r);
	/* newest first */
	assert_int_equal(cli_run(&r, NULL, "devices", "list", "--sort",
	                         "registered", "--desc", "--json", NULL),
	                 0);
	j = cli_json(&r);
	items = json_object_get(j, "items");
	assert_int_equal(json_array_size(items), 2);
	assert_string_equal(json_string_value(json_object_get(
	                            json_array_get(items, 0), "id")),
	                    second);
	json_decref(j);
	proc_result_free(&r);
	/* a sort the server does not know: its message */
	assert_int_not_equal(
	        cli_run(&r, NULL, "devices", "list", "--sort", "price", NULL),
	        0);
	assert_non_null(strstr(r.err, "sort must be"));
	proc_result_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_operator),
	        cmocka_unit_test(test_bad_imei_and_json_errors),
	        cmocka_unit_test(test_keys),
	        cmocka_unit_test(test_usage_errors),
	        cmocka_unit_test(test_leading_options),
	        cmocka_unit_test(test_unreachable),
	        cmocka_unit_test(test_audit),
	        cmocka_unit_test(test_devices),
	        cmocka_unit_test(test_payments),
	        cmocka_unit_test(test_lender_view),
	        cmocka_unit_test(test_two_lenders),
	        cmocka_unit_test(test_list_filters_and_sort),
	};
	return cmocka_run_group_tests_name("cli_lender", tests, setup,
	                                   teardown);
}
