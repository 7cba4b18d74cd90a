/*
 * `finlock webhooks ...` and `finlock devices show`'s phone-confirmed
 * state, through the real finlock binary against a real finlockd (with
 * webhook_allow_private on, so a loopback URL may be registered):
 * create prints the secret once (show and list never do), rotate prints a
 * new one, disable/enable/delete change what show and list say, and bad
 * input (no URL, an unknown event, an unknown id) is one line on stderr
 * and a non-zero exit, changing nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "finlock/agent.h"
#include "support/cli_run.h"
#include "support/devapi_phone.h"
#include "support/server_harness.h"

static struct srv *S;
static struct devapi_lender L;

static int setup(void **state)
{
	static const char *const args[] = {"--webhook-allow-private", "true",
	                                   NULL};

	(void)state;
	if (devapi_start(&S, &L, args) != 0)
		return -1;
	cli_isolate();
	cli_env(srv_url(S), L.admin);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	srv_free(S);
	return 0;
}

/* How many endpoints `webhooks list --json` shows. */
static size_t count_endpoints(void)
{
	struct proc_result r;
	size_t n;
	json_t *j;

	assert_int_equal(cli_run(&r, NULL, "webhooks", "list", "--json", NULL),
	                 0);
	j = cli_json(&r);
	n = json_array_size(json_object_get(j, "items"));
	json_decref(j);
	proc_result_free(&r);
	return n;
}

static void test_lifecycle(void **state)
{
	char id[64], secret[128];
	struct proc_result r;
	json_t *j, *ev;

	(void)state;
	/* create, in text: the endpoint and its secret, with a warning */
	assert_int_equal(cli_run(&r, NULL, "webhooks", "create",
	                         "http://127.0.0.1:9/hook", "--events",
	                         "device.locked,payment.recorded", NULL),
	                 0);
	assert_non_null(strstr(r.out, "http://127.0.0.1:9/hook"));
	assert_non_null(strstr(r.out, "whsec_"));
	assert_non_null(strstr(r.err, "not shown again"));
	proc_result_free(&r);

	/* create, in JSON */
	assert_int_equal(cli_run(&r, NULL, "webhooks", "create",
	                         "http://127.0.0.1:9/other", "--events",
	                         "device.unlocked", "--events",
	                         "device.lock_confirmed", "--json", NULL),
	                 0);
	j = cli_json(&r);
	snprintf(id, sizeof(id), "%s",
	         json_string_value(json_object_get(j, "id")));
	snprintf(secret, sizeof(secret), "%s",
	         json_string_value(json_object_get(j, "secret")));
	assert_int_equal(strncmp(id, "we_", 3), 0);
	assert_int_equal(strncmp(secret, "whsec_", 6), 0);
	ev = json_object_get(j, "events");
	assert_int_equal(json_array_size(ev), 2);
	assert_string_equal(json_string_value(json_array_get(ev, 0)),
	                    "device.unlocked");
	assert_string_equal(json_string_value(json_array_get(ev, 1)),
	                    "device.lock_confirmed");
	assert_true(json_is_true(json_object_get(j, "enabled")));
	json_decref(j);
	proc_result_free(&r);
	assert_int_equal(count_endpoints(), 2);

	/* list and show never print the secret */
	assert_int_equal(cli_run(&r, NULL, "webhooks", "list", NULL), 0);
	assert_non_null(strstr(r.out, "URL"));
	assert_non_null(strstr(r.out, id));
	assert_null(strstr(r.out, "whsec_"));
	proc_result_free(&r);
	assert_int_equal(cli_run(&r, NULL, "webhooks", "show", id, NULL), 0);
	assert_non_null(strstr(r.out, "http://127.0.0.1:9/other"));
	assert_null(strstr(r.out, "whsec_"));
	proc_result_free(&r);
	assert_int_equal(
	        cli_run(&r, NULL, "webhooks", "show", id, "--json", NULL), 0);
	j = cli_json(&r);
	assert_string_equal(json_string_value(json_object_get(j, "id")), id);
	assert_null(json_object_get(j, "secret"));
	json_decref(j);
	proc_result_free(&r);

	/* rotate: a new secret, printed once */
	assert_int_equal(
	        cli_run(&r, NULL, "webhooks", "rotate", id, "--json", NULL), 0);
	j = cli_json(&r);
	assert_int_equal(
	        strncmp(json_string_value(json_object_get(j, "secret")),
	                "whsec_", 6),
	        0);
	assert_string_not_equal(json_string_value(json_object_get(j, "secret")),
	                        secret);
	json_decref(j);
	proc_result_free(&r);
	assert_int_equal(cli_run(&r, NULL, "webhooks", "rotate", id, NULL), 0);
	assert_non_null(strstr(r.out, "whsec_"));
	assert_non_null(strstr(r.err, "not shown again"));
	proc_result_free(&r);

	/* disable with a reason, then enable */
	assert_int_equal(cli_run(&r, NULL, "webhooks", "disable", id,
	                         "--reason", "maintenance", "--json", NULL),
	                 0);
	j = cli_json(&r);
	assert_true(json_is_false(json_object_get(j, "enabled")));
	assert_string_equal(
	        json_string_value(json_object_get(j, "disabled_reason")),
	        "maintenance");
	json_decref(j);
	proc_result_free(&r);
	/* twice is refused, one line */
	assert_int_equal(cli_run(&r, NULL, "webhooks", "disable", id, NULL), 1);
	assert_int_equal(cli_count_lines(r.err), 1);
	assert_non_null(strstr(r.err, "disabled already"));
	proc_result_free(&r);
	assert_int_equal(
	        cli_run(&r, NULL, "webhooks", "enable", id, "--json", NULL), 0);
	j = cli_json(&r);
	assert_true(json_is_true(json_object_get(j, "enabled")));
	json_decref(j);
	proc_result_free(&r);

	/* the delivery log: nothing happened to the tenant yet */
	assert_int_equal(cli_run(&r, NULL, "webhooks", "deliveries", id, NULL),
	                 0);
	assert_non_null(strstr(r.err, "no deliveries"));
	proc_result_free(&r);
	assert_int_equal(
	        cli_run(&r, NULL, "webhooks", "deliveries", id, "--json", NULL),
	        0);
	j = cli_json(&r);
	assert_int_equal(json_array_size(json_object_get(j, "items")), 0);
	json_decref(j);
	proc_result_free(&r);
	/* a delivery that does not exist */
	assert_int_equal(
	        cli_run(&r, NULL, "webhooks", "redeliver", id, "42", NULL), 1);
	assert_true(cli_one_line(r.err, "finlock: "));
	assert_non_null(strstr(r.err, "no such delivery"));
	proc_result_free(&r);
	assert_int_equal(
	        cli_run(&r, NULL, "webhooks", "redeliver", id, "x", NULL), 1);
	assert_true(cli_one_line(r.err, "finlock: "));
	proc_result_free(&r);

	/* delete: gone from show and list */
	assert_int_equal(
	        cli_run(&r, NULL, "webhooks", "delete", id, "--json", NULL), 0);
	j = cli_json(&r);
	assert_string_equal(json_string_value(json_object_get(j, "id")), id);
	assert_true(json_is_true(json_object_get(j, "deleted")));
	json_decref(j);
	proc_result_free(&r);
	assert_int_equal(cli_run(&r, NULL, "webhooks", "show", id, NULL), 1);
	assert_true(cli_one_line(r.err, "finlock: "));
	assert_non_null(strstr(r.err, "no such webhook endpoint"));
	proc_result_free(&r);
	assert_int_equal(count_endpoints(), 1);
}

static void test_bad_input(void **state)
{
	struct proc_result r;
	size_t before;
	json_t *j;

	(void)state;
	before = count_endpoints();
	/* no URL: a usage error */
	assert_int_equal(cli_run(&r, NULL, "webhooks", "create", "--events",
	                         "device.locked", NULL),
	                 2);
	assert_int_equal(cli_count_lines(r.err), 1);
	assert_string_equal(r.out, "");
	proc_result_free(&r);
	/* no --events */
	assert_int_equal(cli_run(&r, NULL, "webhooks", "create",
	                         "http://127.0.0.1:9/x", NULL),
	                 2);
	assert_int_equal(cli_count_lines(r.err), 1);
	proc_result_free(&r);
	/* an unknown event type: the server's one line, naming it */
	assert_int_equal(cli_run(&r, NULL, "webhooks", "create",
	                         "http://127.0.0.1:9/x", "--events",
	                         "device.locked,device.exploded", NULL),
	                 1);
	assert_true(cli_one_line(r.err, "finlock: "));
	assert_non_null(strstr(r.err, "device.exploded"));
	assert_string_equal(r.out, "");
	proc_result_free(&r);
	/* the same with --json: an error object */
	assert_int_equal(cli_run(&r, NULL, "webhooks", "create",
	                         "http://127.0.0.1:9/x", "--events",
	                         "device.exploded", "--json", NULL),
	                 1);
	j = cli_json(&r);
	assert_true(json_is_object(json_object_get(j, "error")));
	json_decref(j);
	proc_result_free(&r);
	/* a URL that is not one */
	assert_int_equal(cli_run(&r, NULL, "webhooks", "create",
	                         "ftp://127.0.0.1/x", "--events",
	                         "device.locked", NULL),
	                 1);
	assert_true(cli_one_line(r.err, "finlock: "));
	proc_result_free(&r);
	/* unknown ids */
	assert_int_equal(
	        cli_run(&r, NULL, "webhooks", "show", "we_nosuch", NULL), 1);
	assert_true(cli_one_line(r.err, "finlock: "));
	assert_non_null(strstr(r.err, "no such webhook endpoint"));
	proc_result_free(&r);
	assert_int_equal(
	        cli_run(&r, NULL, "webhooks", "rotate", "we_nosuch", NULL), 1);
	assert_true(cli_one_line(r.err, "finlock: "));
	assert_null(strstr(r.out, "whsec_"));
	proc_result_free(&r);
	assert_int_equal(
	        cli_run(&r, NULL, "webhooks", "disable", "we_nosuch", NULL), 1);
	assert_true(cli_one_line(r.err, "finlock: "));
	proc_result_free(&r);
	assert_int_equal(
	        cli_run(&r, NULL, "webhooks", "delete", "we_nosuch", NULL), 1);
	assert_true(cli_one_line(r.err, "finlock: "));
	assert_null(strstr(r.out, "deleted"));
	proc_result_free(&r);
	assert_int_equal(
	        cli_run(&r, NULL, "webhooks", "deliveries", "we_nosuch", NULL),
	        1);
	assert_true(cli_one_line(r.err, "finlock: "));
	proc_result_free(&r);
	/* an unknown subcommand */
	assert_int_equal(cli_run(&r, NULL, "webhooks", "explode", NULL), 2);
	proc_result_free(&r);
	/* nothing was made */
	assert_int_equal(count_endpoints(), before);
}

static void test_devices_show_lock_status(void **state)
{
	char imei[16], id[64];
	struct proc_result r;
	json_t *j;

	(void)state;
	cli_imei(7001, imei);
	assert_int_equal(cli_run(&r, NULL, "devices", "register", "--imei",
	                         imei, "--serial", "S-7001", "--model", "Phone",
	                         "--json", NULL),
	                 0);
	j = cli_json(&r);
	snprintf(id, sizeof(id), "%s",
	         json_string_value(
	                 json_object_get(json_object_get(j, "device"), "id")));
	json_decref(j);
	proc_result_free(&r);

	/* no phone has confirmed anything */
	assert_int_equal(cli_run(&r, NULL, "devices", "show", id, NULL), 0);
	assert_non_null(strstr(r.out, "lock_status"));
	assert_true(cli_last_line(r.out, "lock status: unknown (the phone "
	                                 "has confirmed no token yet)"));
	proc_result_free(&r);
	assert_int_equal(
	        cli_run(&r, NULL, "devices", "show", id, "--json", NULL), 0);
	j = cli_json(&r);
	assert_string_equal(
	        json_string_value(json_object_get(j, "lock_status")),
	        "unknown");
	assert_true(json_is_null(json_object_get(j, "phone")));
	json_decref(j);
	proc_result_free(&r);

	/* a phone overdue since 2025: once enrolled it is decided locked,
	 * and "locking" until the phone confirms it applied the lock */
	{
		char imei1[16], imei2[16], dev[64], code[64], path[128];
		struct devapi_phone p;
		struct srv_res sr;
		bool locked = false;

		devapi_imei(700101, imei1);
		devapi_imei(700102, imei2);
		assert_int_equal(
		        devapi_register(S, &L, imei1, imei2, dev, code), 0);
		snprintf(path, sizeof(path), "/v1/devices/%s/contract", dev);
		assert_int_equal(
		        srv_req(S, "POST", path, L.admin,
		                "{\"loan_ref\":\"LN-7\",\"currency\":\"KES\","
		                "\"allow_overdue\":true,"
		                "\"schedule\":[{\"due\":\"2025-01-01\","
		                "\"amount\":150000},{\"due\":\"2035-01-01\","
		                "\"amount\":150000}],\"grace\":0}",
		                &sr),
		        0);
		assert_int_equal(sr.status, 201);
		srv_res_free(&sr);
		assert_int_equal(devapi_phone_open(&p, S, &L, imei1, imei2), 0);
		assert_int_equal(fl_agent_setup(p.a), FL_OK);
		assert_int_equal(fl_agent_enroll(p.a, code), FL_OK);

		assert_int_equal(
		        cli_run(&r, NULL, "devices", "show", dev, NULL), 0);
		if (!cli_last_line(r.out, "lock status: locking"))
			fprintf(stderr, "devices show printed:\n%s", r.out);
		assert_true(cli_last_line(r.out, "lock status: locking"));
		proc_result_free(&r);

		for (int i = 0; i < 3 && !locked; i++) {
			devapi_phone_tick(&p);
			assert_int_equal(fl_agent_checkin(p.a), FL_OK);
			assert_int_equal(cli_run(&r, NULL, "devices", "show",
			                         imei1, "--json", NULL),
			                 0);
			j = cli_json(&r);
			locked = strcmp(json_string_value(json_object_get(
			                        j, "lock_status")),
			                "locked") == 0;
			json_decref(j);
			proc_result_free(&r);
		}
		assert_true(locked);
		assert_int_equal(
		        cli_run(&r, NULL, "devices", "show", dev, NULL), 0);
		if (!cli_last_line(r.out, "lock status: locked (the phone "
		                          "confirmed token "))
			fprintf(stderr, "devices show printed:\n%s", r.out);
		assert_true(cli_last_line(r.out, "lock status: locked (the "
		                                 "phone confirmed token "));
		assert_non_null(strstr(r.out, "confirmed_at"));
		proc_result_free(&r);
		devapi_phone_close(&p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_lifecycle),
	        cmocka_unit_test(test_bad_input),
	        cmocka_unit_test(test_devices_show_lock_status),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
