/*
 * Where finlock gets its server and key: flags over environment over the
 * config file; `finlock login` writing the file 0600; a config file that
 * holds a key while others can read it is refused; the file's key is
 * never sent to another server; the key is never printed in full; TLS is
 * verified unless --insecure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/crypto.h"
#include "support/cli_run.h"
#include "support/server_harness.h"

static struct srv *S;
static char TENANT_A[64], KEY_A[64], TENANT_B[64], KEY_B[64];
static char CONFIG[256];

static int setup(void **state)
{
	const char *dir;

	(void)state;
	if (fl_crypto_init() != FL_OK || srv_start(&S, NULL) != 0)
		return -1;
	if (srv_tenant(S, "Acme Credit", TENANT_A, KEY_A) != 0 ||
	    srv_tenant(S, "Beta Finance", TENANT_B, KEY_B) != 0)
		return -1;
	dir = cli_isolate();
	snprintf(CONFIG, sizeof(CONFIG), "%s/config", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	srv_free(S);
	unlink(CONFIG);
	return 0;
}

/* The key used, as `finlock config --json` reports it. */
static void which(const char *expect_from, const char *expect_key)
{
	struct proc_result r;
	char hint[32];
	json_t *j;

	assert_int_equal(cli_run(&r, NULL, "config", "--json", NULL), 0);
	j = cli_json(&r);
	assert_string_equal(json_string_value(json_object_get(j, "key_from")),
	                    expect_from);
	snprintf(hint, sizeof(hint), "%.7s\xe2\x80\xa6", expect_key);
	assert_string_equal(json_string_value(json_object_get(j, "key")), hint);
	json_decref(j);
	proc_result_free(&r);
}

static void config_file(const char *server, const char *key, mode_t mode)
{
	char text[512];

	snprintf(text, sizeof(text), "# test\nserver = %s\n\n  key =   %s  \n",
	         server, key);
	cli_write_file(CONFIG, text, mode);
}

static void test_precedence(void **state)
{
	struct proc_result r;
	json_t *j;

	(void)state;
	config_file(srv_url(S), KEY_A, 0600);
	/* the config file alone */
	cli_env(NULL, NULL);
	which("config file", KEY_A);
	assert_int_equal(cli_run(&r, NULL, "keys", "list", "--json", NULL), 0);
	j = cli_json(&r);
	assert_string_equal(
	        json_string_value(json_object_get(
	                json_array_get(json_object_get(j, "items"), 0),
	                "tenant_id")),
	        TENANT_A);
	json_decref(j);
	proc_result_free(&r);
	/* the environment wins over it */
	cli_env(NULL, KEY_B);
	which("FINLOCK_API_KEY", KEY_B);
	assert_int_equal(cli_run(&r, NULL, "keys", "list", "--json", NULL), 0);
	j = cli_json(&r);
	assert_string_equal(
	        json_string_value(json_object_get(
	                json_array_get(json_object_get(j, "items"), 0),
	                "tenant_id")),
	        TENANT_B);
	json_decref(j);
	proc_result_free(&r);
	/* and the command line over both */
	assert_int_equal(
	        cli_run(&r, NULL, "config", "--key", KEY_A, "--json", NULL), 0);
	j = cli_json(&r);
	assert_string_equal(json_string_value(json_object_get(j, "key_from")),
	                    "command line");
	assert_string_equal(
	        json_string_value(json_object_get(j, "server_from")),
	        "config file");
	json_decref(j);
	proc_result_free(&r);
	/* the file's key is never sent to another server */
	cli_env(NULL, NULL);
	assert_int_equal(cli_run(&r, NULL, "keys", "list", "--server",
	                         "http://127.0.0.1:1", NULL),
	                 2);
	assert_true(cli_one_line(r.err, "finlock: no API key for "
	                                "http://127.0.0.1:1"));
	proc_result_free(&r);
	/* a trailing slash is the same server */
	{
		char url[128];

		snprintf(url, sizeof(url), "%s/", srv_url(S));
		assert_int_equal(cli_run(&r, NULL, "keys", "list", "--server",
		                         url, NULL),
		                 0);
		proc_result_free(&r);
	}
	/* a bad line in the file is reported with its number */
	cli_write_file(CONFIG, "server = http://x\ncolour = blue\n", 0600);
	assert_int_equal(cli_run(&r, NULL, "keys", "list", NULL), 1);
	assert_true(cli_one_line(r.err, "finlock: "));
	assert_non_null(strstr(r.err, "config:2: unknown setting 'colour'"));
	proc_result_free(&r);
	unlink(CONFIG);
}

static void test_permissions(void **state)
{
	struct proc_result r;

	(void)state;
	cli_env(NULL, NULL);
	/* a key others can read: refused, with the fix */
	config_file(srv_url(S), KEY_A, 0644);
	assert_int_equal(cli_run(&r, NULL, "keys", "list", NULL), 1);
	assert_true(cli_one_line(r.err, "finlock: the config file "));
	assert_non_null(strstr(r.err, "readable by group or others"));
	assert_non_null(strstr(r.err, "chmod 600"));
	assert_null(strstr(r.err, KEY_A));
	assert_string_equal(r.out, "");
	proc_result_free(&r);
	config_file(srv_url(S), KEY_A, 0640);
	assert_int_equal(cli_run(&r, NULL, "keys", "list", NULL), 1);
	proc_result_free(&r);
	/* without a key the file may be world-readable */
	{
		char text[256];

		snprintf(text, sizeof(text), "server = %s\n", srv_url(S));
		cli_write_file(CONFIG, text, 0644);
		cli_env(NULL, KEY_A);
		assert_int_equal(cli_run(&r, NULL, "keys", "list", NULL), 0);
		proc_result_free(&r);
	}
	/* 0600 is fine */
	cli_env(NULL, NULL);
	config_file(srv_url(S), KEY_A, 0600);
	assert_int_equal(cli_run(&r, NULL, "keys", "list", NULL), 0);
	proc_result_free(&r);
	unlink(CONFIG);
}

static void test_login(void **state)
{
	struct proc_result r;
	struct stat st;
	char text[512];
	FILE *f;
	size_t n;

	(void)state;
	cli_env(NULL, NULL);
	unlink(CONFIG);
	/* the key on stdin stays out of argv */
	assert_int_equal(cli_run(&r, KEY_A, "login", "--server", srv_url(S),
	                         "--key", "-", NULL),
	                 0);
	assert_non_null(strstr(r.out, "saved profile default: server"));
	assert_null(strstr(r.out, KEY_A));
	assert_null(strstr(r.err, KEY_A));
	proc_result_free(&r);
	assert_int_equal(stat(CONFIG, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	f = fopen(CONFIG, "r");
	assert_non_null(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	assert_non_null(strstr(text, KEY_A));
	assert_non_null(strstr(text, srv_url(S)));
	/* later commands need neither */
	assert_int_equal(cli_run(&r, NULL, "keys", "list", NULL), 0);
	proc_result_free(&r);
	which("config file", KEY_A);
	/* login again replaces it, still 0600 */
	assert_int_equal(cli_run(&r, NULL, "login", "--server", srv_url(S),
	                         "--key", KEY_B, NULL),
	                 0);
	proc_result_free(&r);
	assert_int_equal(stat(CONFIG, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	which("config file", KEY_B);
	/* a value on two lines is refused, nothing written */
	assert_int_equal(cli_run(&r, NULL, "login", "--server", srv_url(S),
	                         "--key", "fl_a\nserver = http://evil", NULL),
	                 2);
	proc_result_free(&r);
	which("config file", KEY_B);
	unlink(CONFIG);
}

/* The whole config file, in a static buffer ("" when absent). */
static const char *config_text(void)
{
	static char text[4096];
	size_t n = 0;
	FILE *f = fopen(CONFIG, "r");

	if (f != NULL) {
		n = fread(text, 1, sizeof(text) - 1, f);
		fclose(f);
	}
	text[n] = '\0';
	return text;
}

/* login asks the server first: a refused key, or no answer, writes
 * nothing; --no-check saves without asking. */
static void test_login_checks_key(void **state)
{
	struct proc_result r;
	char bad[64], url[64];

	(void)state;
	cli_env(NULL, NULL);
	unlink(CONFIG);
	snprintf(bad, sizeof(bad), "%s", KEY_A);
	bad[10] = bad[10] == 'A' ? 'B' : 'A';
	assert_int_equal(cli_run(&r, NULL, "login", "--server", srv_url(S),
	                         "--key", bad, NULL),
	                 1);
	assert_true(cli_one_line(r.err, "finlock: login: "));
	assert_non_null(strstr(r.err, "refused this API key (401)"));
	assert_non_null(strstr(r.err, "not saved"));
	assert_null(strstr(r.err, bad));
	assert_string_equal(r.out, "");
	proc_result_free(&r);
	assert_string_equal(config_text(), "");

	snprintf(url, sizeof(url), "http://127.0.0.1:%u", cli_closed_port());
	assert_int_equal(cli_run(&r, NULL, "login", "--server", url, "--key",
	                         KEY_A, NULL),
	                 3);
	assert_true(cli_last_line(r.err, "finlock: login: the key was not "
	                                 "checked"));
	proc_result_free(&r);
	assert_string_equal(config_text(), "");

	assert_int_equal(cli_run(&r, NULL, "login", "--server", url, "--key",
	                         KEY_A, "--no-check", NULL),
	                 0);
	assert_non_null(strstr(r.out, "not checked"));
	proc_result_free(&r);
	assert_non_null(strstr(config_text(), url));

	/* a good key: its role and tenant are shown */
	assert_int_equal(cli_run(&r, NULL, "login", "--server", srv_url(S),
	                         "--key", KEY_A, "--json", NULL),
	                 0);
	{
		json_t *j = cli_json(&r);

		assert_string_equal(
		        json_string_value(json_object_get(j, "role")), "admin");
		assert_string_equal(
		        json_string_value(json_object_get(j, "tenant_id")),
		        TENANT_A);
		assert_true(json_is_true(json_object_get(j, "checked")));
		json_decref(j);
	}
	proc_result_free(&r);
	unlink(CONFIG);
}

/* Profiles: login --profile adds one and keeps the others; --profile and
 * FINLOCK_PROFILE choose; an unknown profile is refused. */
static void test_profiles(void **state)
{
	struct proc_result r;
	struct stat st;

	(void)state;
	cli_env(NULL, NULL);
	unsetenv("FINLOCK_PROFILE");
	unlink(CONFIG);
	assert_int_equal(cli_run(&r, NULL, "login", "--server", srv_url(S),
	                         "--key", KEY_A, NULL),
	                 0);
	assert_non_null(strstr(r.out, "saved profile default"));
	proc_result_free(&r);
	assert_int_equal(cli_run(&r, KEY_B, "login", "--server", srv_url(S),
	                         "--key", "-", "--profile", "beta", NULL),
	                 0);
	assert_non_null(strstr(r.out, "saved profile beta"));
	proc_result_free(&r);
	assert_int_equal(stat(CONFIG, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_non_null(strstr(config_text(), KEY_A));
	assert_non_null(strstr(config_text(), "[beta]"));
	assert_non_null(strstr(config_text(), KEY_B));

	which("config file", KEY_A);
	/* the profile's key is the one sent: lender B sees its tenant */
	assert_int_equal(cli_run(&r, NULL, "--profile", "beta", "config",
	                         "--json", NULL),
	                 0);
	{
		json_t *j = cli_json(&r);
		char hint[32];

		snprintf(hint, sizeof(hint), "%.7s\xe2\x80\xa6", KEY_B);
		assert_string_equal(
		        json_string_value(json_object_get(j, "key")), hint);
		assert_string_equal(
		        json_string_value(json_object_get(j, "profile")),
		        "beta");
		json_decref(j);
	}
	proc_result_free(&r);
	setenv("FINLOCK_PROFILE", "beta", 1);
	which("config file", KEY_B);
	/* --profile on the command line wins over the environment's */
	assert_int_equal(cli_run(&r, NULL, "config", "--profile", "default",
	                         "--json", NULL),
	                 0);
	assert_non_null(strstr(r.out, "\"profile\":\"default\""));
	proc_result_free(&r);
	unsetenv("FINLOCK_PROFILE");

	/* logging in again to the default profile keeps beta */
	assert_int_equal(cli_run(&r, NULL, "login", "--server", srv_url(S),
	                         "--key", KEY_A, NULL),
	                 0);
	proc_result_free(&r);
	assert_non_null(strstr(config_text(), "[beta]"));
	assert_non_null(strstr(config_text(), KEY_B));
	which("config file", KEY_A);

	assert_int_equal(
	        cli_run(&r, NULL, "keys", "list", "--profile", "nope", NULL),
	        2);
	assert_true(cli_one_line(r.err, "finlock: no profile 'nope'"));
	proc_result_free(&r);
	assert_int_equal(cli_run(&r, NULL, "login", "--server", srv_url(S),
	                         "--key", KEY_A, "--profile", "a b", NULL),
	                 2);
	proc_result_free(&r);
	/* a file with a bad profile line is refused, and not rewritten */
	cli_write_file(CONFIG, "server = http://127.0.0.1:1\n[a b]\n", 0600);
	assert_int_equal(cli_run(&r, NULL, "keys", "list", NULL), 1);
	assert_non_null(strstr(r.err, "bad profile name"));
	proc_result_free(&r);
	assert_int_equal(cli_run(&r, NULL, "login", "--server", srv_url(S),
	                         "--key", KEY_A, "--profile", "x", NULL),
	                 1);
	proc_result_free(&r);
	assert_string_equal(config_text(),
	                    "server = http://127.0.0.1:1\n[a b]\n");
	unlink(CONFIG);
}

/* The full key appears nowhere in what finlock prints. */
static void no_key(const struct proc_result *r, const char *key)
{
	assert_null(strstr(r->out, key));
	assert_null(strstr(r->err, key));
}

static void test_key_never_echoed(void **state)
{
	char bad[64], hint[16];
	struct proc_result r;

	(void)state;
	snprintf(hint, sizeof(hint), "%.7s", KEY_A);
	cli_env(srv_url(S), KEY_A);
	assert_int_equal(cli_run(&r, NULL, "config", NULL), 0);
	no_key(&r, KEY_A);
	assert_non_null(strstr(r.out, hint));
	assert_non_null(strstr(r.out, "\xe2\x80\xa6"));
	proc_result_free(&r);
	assert_int_equal(cli_run(&r, NULL, "login", "--server", srv_url(S),
	                         "--key", KEY_A, NULL),
	                 0);
	no_key(&r, KEY_A);
	assert_non_null(strstr(r.out, hint));
	proc_result_free(&r);
	unlink(CONFIG);
	/* a wrong key: the server's 401, still not echoed */
	snprintf(bad, sizeof(bad), "%s", KEY_A);
	bad[10] = bad[10] == 'A' ? 'B' : 'A';
	cli_env(srv_url(S), bad);
	assert_int_equal(cli_run(&r, NULL, "keys", "list", NULL), 1);
	assert_true(cli_one_line(r.err, "finlock: 401 unauthorized"));
	no_key(&r, bad);
	proc_result_free(&r);
	assert_int_equal(cli_run(&r, NULL, "keys", "list", "--json", NULL), 1);
	no_key(&r, bad);
	proc_result_free(&r);
	/* nor when the server is unreachable */
	{
		char url[64];

		snprintf(url, sizeof(url), "http://127.0.0.1:%u",
		         cli_closed_port());
		cli_env(url, KEY_A);
		assert_int_equal(cli_run(&r, NULL, "keys", "list", NULL), 3);
		no_key(&r, KEY_A);
		proc_result_free(&r);
	}
	/* --help of every connected command mentions no key */
	cli_env(srv_url(S), KEY_A);
	assert_int_equal(cli_run(&r, NULL, "devices", "list", "--help", NULL),
	                 0);
	no_key(&r, KEY_A);
	proc_result_free(&r);
}

static void test_tls(void **state)
{
	const struct srv_opts o = {.tls = true};
	char tid[64], key[64];
	struct proc_result r;
	struct srv *t;

	(void)state;
	assert_int_equal(srv_start(&t, &o), 0);
	assert_int_equal(srv_tenant(t, "TLS Lender", tid, key), 0);
	cli_env(srv_url(t), key);
	/* a certificate nobody vouches for: not reached */
	assert_int_equal(cli_run(&r, NULL, "keys", "list", NULL), 3);
	assert_true(cli_one_line(r.err, "finlock: cannot reach https://"));
	proc_result_free(&r);
	/* trusting its CA */
	assert_int_equal(cli_run(&r, NULL, "keys", "list", "--cacert",
	                         srv_ca_file(t), NULL),
	                 0);
	proc_result_free(&r);
	setenv("FINLOCK_CACERT", srv_ca_file(t), 1);
	assert_int_equal(cli_run(&r, NULL, "keys", "list", NULL), 0);
	proc_result_free(&r);
	unsetenv("FINLOCK_CACERT");
	/* only when asked */
	assert_int_equal(cli_run(&r, NULL, "keys", "list", "--insecure", NULL),
	                 0);
	proc_result_free(&r);
	/* the CA from the config file goes with the file's server */
	{
		char text[1024];

		snprintf(text, sizeof(text),
		         "server = %s\nkey = %s\ncacert = %s\n", srv_url(t),
		         key, srv_ca_file(t));
		cli_write_file(CONFIG, text, 0600);
		cli_env(NULL, NULL);
		assert_int_equal(cli_run(&r, NULL, "keys", "list", NULL), 0);
		proc_result_free(&r);
		unlink(CONFIG);
	}
	srv_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_precedence),
	        cmocka_unit_test(test_permissions),
	        cmocka_unit_test(test_login),
	        cmocka_unit_test(test_login_checks_key),
	        cmocka_unit_test(test_profiles),
	        cmocka_unit_test(test_key_never_echoed),
	        cmocka_unit_test(test_tls),
	};
	return cmocka_run_group_tests_name("cli_config", tests, setup,
	                                   teardown);
}
