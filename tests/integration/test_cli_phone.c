/*
 * The lender's finlock against a real finlockd and a simulated phone
 * (finlock-device): offline codes support reads over the telephone and
 * the phone accepts, and the re-enrollment of a wiped phone approved by
 * the pairing code it shows.
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
#include <jansson.h>

#include "core/crypto.h"
#include "support/cli_run.h"
#include "support/server_harness.h"

static struct srv *S;
static char TENANT_A[64], KEY_A[64], TENANT_B[64], KEY_B[64], SUPPORT[64];
static char ROOT[128];  /* the operator's root public key */
static char PHONE[256]; /* the phone's directory */
static char IMEI[16], ID[64];

/* Runs finlock-device on the test's phone. Returns the exit status. */
static int phone(struct proc_result *r, ...)
{
	char *argv[16] = {"finlock-device", "--dir", PHONE};
	size_t n = 3;
	va_list ap;
	char *a;

	va_start(ap, r);
	while ((a = va_arg(ap, char *)) != NULL && n < 15)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	assert_int_equal(proc_run("finlock-device", argv, NULL, r), 0);
	return r->status;
}

static json_t *phone_status(void)
{
	struct proc_result r;
	json_t *j;

	assert_int_equal(phone(&r, "status", "--json", NULL), 0);
	j = cli_json(&r);
	proc_result_free(&r);
	return j;
}

static const char *jstr(const json_t *j, const char *name)
{
	const char *s = json_string_value(json_object_get(j, name));

	return s != NULL ? s : "";
}

static int setup(void **state)
{
	struct proc_result r;
	char data[600], code[64];
	json_t *j;

	(void)state;
	if (fl_crypto_init() != FL_OK || srv_start(&S, NULL) != 0)
		return -1;
	if (srv_tenant(S, "Acme Credit", TENANT_A, KEY_A) != 0 ||
	    srv_tenant(S, "Beta Finance", TENANT_B, KEY_B) != 0 ||
	    srv_key(S, KEY_A, "support", SUPPORT) != 0)
		return -1;
	snprintf(PHONE, sizeof(PHONE), "%s/phone", cli_isolate());
	/* the root the phone's factory image trusts */
	snprintf(data, sizeof(data), "%s", srv_data_dir(S));
	if (proc_runl(&r, NULL, "finlockd", "--data", data, "root-pubkey",
	              NULL) != 0 ||
	    r.status != 0)
		return -1;
	snprintf(ROOT, sizeof(ROOT), "%.*s", (int)strcspn(r.out, "\r\n"),
	         r.out);
	proc_result_free(&r);

	/* a phone sold on credit, overdue, enrolled */
	cli_imei(777001, IMEI);
	cli_env(srv_url(S), KEY_A);
	if (cli_run(&r, NULL, "devices", "register", "--imei", IMEI, "--serial",
	            "SN-PHONE", "--json", NULL) != 0)
		return -1;
	j = json_loads(r.out, 0, NULL);
	snprintf(ID, sizeof(ID), "%s",
	         jstr(json_object_get(j, "device"), "id"));
	snprintf(code, sizeof(code), "%s", jstr(j, "enrollment_code"));
	json_decref(j);
	proc_result_free(&r);
	if (cli_run(&r, NULL, "contracts", "create", ID, "--installments",
	            "2020-01-01:1500", "--currency", "KES", "--allow-overdue",
	            NULL) != 0)
		return -1;
	proc_result_free(&r);
	if (phone(&r, "create", "--trust", ROOT, "--imei", IMEI, "--serial",
	          "SN-PHONE", "--server", srv_url(S), NULL) != 0)
		return -1;
	proc_result_free(&r);
	if (phone(&r, "enroll", "--code", code, NULL) != 0) {
		fprintf(stderr, "enroll: %s%s", r.out, r.err);
		return -1;
	}
	proc_result_free(&r);
	return 0;
}

static int teardown(void **state)
{
	char cmd[400];

	(void)state;
	srv_free(S);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", PHONE);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_offline_code(void **state)
{
	char code[32], again[32], spoken[32];
	struct proc_result r;
	json_t *j;

	(void)state;
	/* the phone enrolled and is locked: overdue */
	cli_env(srv_url(S), KEY_A);
	assert_int_equal(
	        cli_run(&r, NULL, "devices", "show", IMEI, "--json", NULL), 0);
	j = cli_json(&r);
	assert_true(json_is_true(json_object_get(j, "enrolled")));
	assert_string_equal(jstr(j, "state"), "locked");
	json_decref(j);
	proc_result_free(&r);
	j = phone_status();
	assert_string_equal(jstr(j, "state"), "locked");
	json_decref(j);

	/* support reads a code; asking again shows the same one */
	cli_env(srv_url(S), SUPPORT);
	assert_int_equal(cli_run(&r, NULL, "devices", "code", IMEI, "--days",
	                         "3", "--json", NULL),
	                 0);
	j = cli_json(&r);
	snprintf(code, sizeof(code), "%s", jstr(j, "code"));
	snprintf(spoken, sizeof(spoken), "%s", jstr(j, "spoken"));
	assert_int_equal(strlen(code), 10);
	assert_int_equal(json_integer_value(json_object_get(j, "days")), 3);
	json_decref(j);
	proc_result_free(&r);
	assert_int_equal(
	        cli_run(&r, NULL, "devices", "code", ID, "--days", "3", NULL),
	        0);
	assert_non_null(strstr(r.out, spoken));
	assert_non_null(strstr(r.out, "unlocks for 3 days"));
	assert_non_null(strstr(r.out, "issued earlier"));
	sscanf(strstr(r.out, ": ") + 2, "%31[0-9 ]", again);
	proc_result_free(&r);
	/* the customer types it: unlocked, offline */
	assert_int_equal(phone(&r, "enter-code", code, NULL), 0);
	assert_non_null(strstr(r.out, "accepted"));
	proc_result_free(&r);
	j = phone_status();
	assert_int_equal(json_integer_value(json_object_get(j, "code_counter")),
	                 1);
	json_decref(j);
	/* a used code does not work twice */
	assert_int_equal(phone(&r, "enter-code", code, NULL), 1);
	proc_result_free(&r);

	/* release by code is an admin's act */
	assert_int_equal(
	        cli_run(&r, NULL, "devices", "code", IMEI, "--release", NULL),
	        1);
	assert_true(cli_one_line(r.err, "finlock: 403 forbidden: "));
	proc_result_free(&r);
	/* days from the fixed set only, checked before sending */
	assert_int_equal(
	        cli_run(&r, NULL, "devices", "code", IMEI, "--days", "2", NULL),
	        1);
	assert_true(cli_one_line(r.err, "finlock: --days must be 1, 3, 7 or "
	                                "30"));
	proc_result_free(&r);
	assert_int_equal(cli_run(&r, NULL, "devices", "code", IMEI, NULL), 2);
	proc_result_free(&r);
	assert_int_equal(cli_run(&r, NULL, "devices", "code", IMEI, "--days",
	                         "1", "--release", NULL),
	                 2);
	proc_result_free(&r);
	/* a phone that never enrolled holds no secret for codes */
	{
		char other[16];

		cli_imei(777002, other);
		cli_env(srv_url(S), KEY_A);
		assert_int_equal(cli_run(&r, NULL, "devices", "register",
		                         "--imei", other, "--serial", "SN-2",
		                         NULL),
		                 0);
		proc_result_free(&r);
		assert_int_equal(cli_run(&r, NULL, "devices", "code", other,
		                         "--days", "1", NULL),
		                 1);
		assert_true(cli_one_line(r.err, "finlock: 409 conflict: "));
		proc_result_free(&r);
	}
	/* another lender: not found */
	cli_env(srv_url(S), KEY_B);
	assert_int_equal(
	        cli_run(&r, NULL, "devices", "code", ID, "--days", "1", NULL),
	        1);
	assert_true(cli_one_line(r.err, "finlock: 404 not found"));
	proc_result_free(&r);
}

/* The pairing code the phone shows after a wipe, digits only. */
static void pending_code(char out[24])
{
	struct proc_result r;
	json_t *j;

	assert_int_equal(phone(&r, "reflash", NULL), 0);
	proc_result_free(&r);
	assert_int_equal(phone(&r, "enroll", NULL), 0);
	assert_non_null(strstr(r.out, "pairing code"));
	proc_result_free(&r);
	j = phone_status();
	snprintf(out, 24, "%s", jstr(j, "pairing_code"));
	assert_int_equal(strlen(out), 16);
	json_decref(j);
}

static void test_pairing(void **state)
{
	char code[24], spaced[24], wrong[24];
	struct proc_result r;
	json_t *j;

	(void)state;
	pending_code(code);
	snprintf(spaced, sizeof(spaced), "%.4s %.4s %.4s %.4s", code, code + 4,
	         code + 8, code + 12);
	snprintf(wrong, sizeof(wrong), "%s", code);
	wrong[0] = wrong[0] == '1' ? '2' : '1';

	cli_env(srv_url(S), SUPPORT);
	assert_int_equal(
	        cli_run(&r, NULL, "devices", "pairing-requests", IMEI, NULL),
	        0);
	assert_non_null(strstr(r.out, code));
	assert_non_null(strstr(r.out, "pending"));
	proc_result_free(&r);
	/* another lender can neither see nor approve it */
	cli_env(srv_url(S), KEY_B);
	assert_int_equal(cli_run(&r, NULL, "devices", "approve", ID,
	                         "--pairing-code", code, NULL),
	                 1);
	assert_true(cli_one_line(r.err, "finlock: 404 not found"));
	proc_result_free(&r);
	assert_int_equal(
	        cli_run(&r, NULL, "devices", "pairing-requests", ID, NULL), 1);
	proc_result_free(&r);
	/* a code the phone does not show */
	cli_env(srv_url(S), SUPPORT);
	assert_int_equal(cli_run(&r, NULL, "devices", "approve", IMEI,
	                         "--pairing-code", wrong, NULL),
	                 1);
	assert_true(cli_one_line(r.err, "finlock: 404 not found: "));
	proc_result_free(&r);
	assert_int_equal(cli_run(&r, NULL, "devices", "approve", IMEI, NULL),
	                 2);
	proc_result_free(&r);
	/* the code as the customer reads it, with its space */
	assert_int_equal(cli_run(&r, NULL, "devices", "approve", IMEI,
	                         "--pairing-code", spaced, "--json", NULL),
	                 0);
	j = cli_json(&r);
	assert_string_equal(jstr(json_object_get(j, "request"), "status"),
	                    "approved");
	json_decref(j);
	proc_result_free(&r);
	/* the phone enrolls again with its new keys, still locked */
	assert_int_equal(phone(&r, "enroll", NULL), 0);
	assert_non_null(strstr(r.out, ID));
	proc_result_free(&r);
	j = phone_status();
	assert_string_equal(jstr(j, "phase"), "enrolled");
	assert_string_equal(jstr(j, "state"), "locked");
	json_decref(j);

	/* a request can be refused too */
	pending_code(code);
	assert_int_equal(cli_run(&r, NULL, "devices", "reject", ID,
	                         "--pairing-code", code, NULL),
	                 0);
	assert_non_null(strstr(r.out, "rejected"));
	proc_result_free(&r);
	assert_int_equal(cli_run(&r, NULL, "devices", "pairing-requests", ID,
	                         "--json", NULL),
	                 0);
	j = cli_json(&r);
	{
		json_t *items = json_object_get(j, "items"), *it;
		bool seen = false;
		size_t i;

		json_array_foreach(items, i, it)
		{
			seen = seen ||
			       (strcmp(jstr(it, "pairing_code"), code) == 0 &&
			        strcmp(jstr(it, "status"), "rejected") == 0);
		}
		assert_true(seen);
	}
	json_decref(j);
	proc_result_free(&r);
	assert_int_equal(phone(&r, "enroll", NULL), 1);
	proc_result_free(&r);
}

static void test_release_by_code(void **state)
{
	struct proc_result r;
	json_t *j;

	(void)state;
	/* the phone re-enrolls (the last request was rejected) */
	{
		char code[24];

		pending_code(code);
		cli_env(srv_url(S), KEY_A);
		assert_int_equal(cli_run(&r, NULL, "devices", "approve", ID,
		                         "--pairing-code", code, NULL),
		                 0);
		proc_result_free(&r);
		assert_int_equal(phone(&r, "enroll", NULL), 0);
		proc_result_free(&r);
	}
	cli_env(srv_url(S), KEY_A);
	assert_int_equal(cli_run(&r, NULL, "devices", "code", ID, "--release",
	                         "--json", NULL),
	                 0);
	j = cli_json(&r);
	assert_string_equal(jstr(j, "action"), "release");
	json_decref(j);
	proc_result_free(&r);
	/* released on the server at once */
	assert_int_equal(
	        cli_run(&r, NULL, "devices", "show", ID, "--json", NULL), 0);
	j = cli_json(&r);
	assert_string_equal(jstr(j, "state"), "released");
	json_decref(j);
	proc_result_free(&r);
	/* nothing left to unlock */
	assert_int_equal(
	        cli_run(&r, NULL, "devices", "code", ID, "--days", "1", NULL),
	        1);
	assert_true(cli_one_line(r.err, "finlock: 409 conflict: "));
	proc_result_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_offline_code),
	        cmocka_unit_test(test_pairing),
	        cmocka_unit_test(test_release_by_code),
	};
	return cmocka_run_group_tests_name("cli_phone", tests, setup, teardown);
}
