/*
 * End-to-end journeys 9 and 10, with a real finlockd, the real `finlock`
 * CLI and real finlock-device phones:
 *
 *   9. SIM swap and root: the phone reports both to the lender (`finlock
 *      devices show`) and reacts as the contract's policy says: rooting
 *      under "notify" shows a notice and locks nothing; a SIM swap under
 *      "lock" locks the phone while it cannot reach the lender, and the
 *      lock lifts once the lender has the report.
 *  10. Two lenders on one server: neither sees nor touches the other's
 *      devices through the CLI (show, list, lock, pay, stolen, codes,
 *      contracts), and neither can register a phone the other finances.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "support/e2e_world.h"

static struct e2e *W;
static struct e2e_lender ACME, BETA;

static int setup(void **state)
{
	(void)state;
	if (e2e_start(&W, "tenants", NULL) != 0 ||
	    e2e_lender_new(W, "Acme Credit", &ACME) != 0 ||
	    e2e_lender_new(W, "Beta Finance", &BETA) != 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	e2e_free(W);
	return 0;
}

/* A phone registered with l, one installment in 30 days, the policy
 * options given (NULL-ended, at most 4), enrolled and running. */
static struct e2e_phone *financed(const struct e2e_lender *l, const char *name,
                                  const char *loan_ref, const char *opt1,
                                  const char *val1, const char *opt2,
                                  const char *val2)
{
	struct e2e_phone *p = e2e_phone_new(W, name);
	char due[32], inst[64];
	json_t *j;

	assert_non_null(p);
	assert_int_equal(e2e_register(W, l, p), 0);
	e2e_at(due, 30 * 86400L);
	snprintf(inst, sizeof(inst), "%s:120000", due);
	j = e2e_cli_json(W, l, "contracts", "create", p->id, "--installments",
	                 inst, "--currency", "KES", "--grace", "3d",
	                 "--loan-ref", loan_ref, "--contact-name", l->name,
	                 "--contact-phones", "+254700000009", opt1, val1, opt2,
	                 val2, NULL);
	assert_non_null(j);
	json_decref(j);
	assert_int_equal(e2e_phone_enroll(W, p), 0);
	assert_int_equal(e2e_phone_run(p), 0);
	assert_true(e2e_wait_str(p, "state", "active", 5000, NULL));
	return p;
}

/* Polls `finlock devices show` until its object member key (sim,
 * tamper) has a report containing want, up to timeout_ms. */
static bool lender_sees(const struct e2e_lender *l, struct e2e_phone *p,
                        const char *key, const char *want, int timeout_ms)
{
	int64_t deadline = e2e_ms() + timeout_ms;

	for (;;) {
		json_t *j = e2e_device(W, l, p);
		const char *rep = e2e_jstr(json_object_get(j, key), "report");
		bool ok = strstr(rep, want) != NULL;

		if (ok || e2e_ms() >= deadline) {
			if (!ok) {
				char *s = json_dumps(j, JSON_INDENT(1));

				fprintf(stderr,
				        "lender never saw %s '%s':\n%s\n", key,
				        want, s != NULL ? s : "?");
				free(s);
				e2e_dump(W, p);
			}
			json_decref(j);
			return ok;
		}
		json_decref(j);
		e2e_sleep_ms(100);
	}
}

static bool has_notice(const json_t *st, const void *arg)
{
	json_t *n = json_object_get(st, "notifications"), *v;
	size_t i;

	json_array_foreach(n, i, v)
	{
		if (strcmp(e2e_jstr(v, "kind"), "notice") == 0 &&
		    strstr(e2e_jstr(v, "text"), arg) != NULL)
			return true;
	}
	return false;
}

/* ---- 9. SIM swap and root ---------------------------------------------- */

static void j9_sim_and_root(void **state)
{
	struct e2e_phone *p;
	json_t *j, *st;
	int64_t t0;
	long ms;

	(void)state;
	p = financed(&ACME, "lulu", "L-9009", "--sim-change", "lock",
	             "--tamper", "notify");
	j = e2e_device(W, &ACME, p);
	assert_true(json_is_null(json_object_get(j, "sim")));
	assert_true(json_is_null(json_object_get(j, "tamper")));
	json_decref(j);

	/* rooted, under "notify": a notice on the phone, no lock, and the
	 * lender is told */
	assert_int_equal(e2e_dev_ok(p, "root", NULL), 0);
	assert_true(e2e_wait(p, "the tamper notice", has_notice, "modified",
	                     5000, NULL));
	assert_true(lender_sees(&ACME, p, "tamper", "rooted", 5000));
	assert_true(e2e_hold_bool(p, "locked", false, 500));

	/* another SIM with no network, under "lock": locked until the
	 * lender has heard of it */
	assert_int_equal(e2e_dev_ok(p, "offline", "on", NULL), 0);
	assert_int_equal(e2e_dev_ok(p, "swap-sim", "8925402000000000017", NULL),
	                 0);
	assert_true(e2e_wait_bool(p, "locked", true, 3000, NULL));
	assert_true(
	        e2e_wait(p, "the SIM notice", has_notice, "SIM", 3000, NULL));
	st = e2e_status(p);
	assert_string_equal(e2e_jstr(st, "iccid"), "8925402000000000017");
	assert_true(e2e_jhas(st, "guaranteed", "emergency_calls"));
	assert_true(e2e_jhas(st, "guaranteed", "wifi_settings"));
	json_decref(st);
	assert_true(e2e_hold_bool(p, "locked", true, 1000));
	j = e2e_device(W, &ACME, p);
	assert_true(json_is_null(json_object_get(j, "sim")));
	json_decref(j);

	/* back online: the report reaches the lender, the lock lifts */
	t0 = e2e_ms();
	assert_int_equal(e2e_dev_ok(p, "offline", "off", NULL), 0);
	assert_true(e2e_wait_bool(p, "locked", false, 5000, &ms));
	printf("journey 9: back online to SIM lock lifted: %ld ms\n",
	       (long)(e2e_ms() - t0));
	assert_true(lender_sees(&ACME, p, "sim", "8925402000000000017", 3000));
	j = e2e_device(W, &ACME, p);
	assert_string_equal(e2e_jstr(j, "state"), "active");
	assert_true(json_array_size(json_object_get(j, "reports")) >= 2);
	json_decref(j);
	assert_int_equal(e2e_phone_stop(p), 0);
}

/* ---- 10. Two lenders --------------------------------------------------- */

/* Every lender command on p with l's key must fail (exit 1, the server's
 * not_found), and change nothing. */
static void hands_off(const struct e2e_lender *l, struct e2e_phone *p)
{
	char code[64];

	assert_int_equal(
	        e2e_cli_fail(W, l, code, "devices", "show", p->id, NULL), 1);
	assert_string_equal(code, "not_found");
	assert_int_equal(
	        e2e_cli_fail(W, l, code, "devices", "show", p->imei, NULL), 1);
	assert_int_equal(e2e_cli_fail(W, l, code, "devices", "lock", p->id,
	                              "--reason", "not mine", NULL),
	                 1);
	assert_string_equal(code, "not_found");
	assert_int_equal(e2e_cli_fail(W, l, code, "devices", "stolen", p->id,
	                              "--set", "--reason", "not mine", NULL),
	                 1);
	assert_int_equal(
	        e2e_cli_fail(W, l, code, "devices", "release", p->id, NULL), 1);
	assert_int_equal(e2e_cli_fail(W, l, code, "devices", "code", p->id,
	                              "--days", "1", NULL),
	                 1);
	assert_int_equal(e2e_cli_fail(W, l, code, "payments", "record", p->id,
	                              "--amount", "100", "--reference", "X",
	                              NULL),
	                 1);
	assert_int_equal(
	        e2e_cli_fail(W, l, code, "contracts", "show", p->id, NULL), 1);
	assert_int_equal(
	        e2e_cli_fail(W, l, code, "payments", "list", p->id, NULL), 1);
}

/* Whether `finlock devices list --all` with l's key lists p. */
static bool lists(const struct e2e_lender *l, const struct e2e_phone *p)
{
	json_t *j = e2e_cli_json(W, l, "devices", "list", "--all", NULL), *v;
	size_t i;
	bool seen = false;

	assert_non_null(j);
	json_array_foreach(json_object_get(j, "items"), i, v)
	{
		seen = seen || strcmp(e2e_jstr(v, "id"), p->id) == 0;
	}
	json_decref(j);
	return seen;
}

static void j10_two_lenders(void **state)
{
	struct e2e_phone *a, *b;
	struct proc_result r;
	json_t *before, *after;
	char code[64];
	int rc;

	(void)state;
	a = financed(&ACME, "nia", "L-10001", "--remind", "3d", "--remind",
	             "1d");
	b = financed(&BETA, "omari", "B-20002", "--remind", "3d", "--remind",
	             "1d");
	before = e2e_device(W, &ACME, a);
	assert_non_null(before);

	/* each lender sees its own phone and not the other's */
	assert_true(lists(&ACME, a));
	assert_false(lists(&ACME, b));
	assert_true(lists(&BETA, b));
	assert_false(lists(&BETA, a));
	hands_off(&BETA, a);
	hands_off(&ACME, b);

	/* a phone the other lender finances cannot be registered again;
	 * the refusal names nobody */
	rc = e2e_cli(W, &BETA, &r, "devices", "register", "--imei", a->imei,
	             "--serial", "SN-BETA-1", NULL);
	assert_int_equal(rc, 1);
	assert_null(strstr(r.err, "Acme"));
	assert_null(strstr(r.err, ACME.tenant));
	proc_result_free(&r);
	assert_int_equal(e2e_cli_fail(W, &BETA, code, "devices", "register",
	                              "--imei", a->imei2, "--serial",
	                              "SN-BETA-2", NULL),
	                 1);
	assert_string_equal(code, "imei_in_program");

	/* nothing changed for Acme's phone or its customer */
	after = e2e_device(W, &ACME, a);
	assert_non_null(after);
	assert_int_equal(e2e_jint(after, "token_seq"),
	                 e2e_jint(before, "token_seq"));
	assert_string_equal(e2e_jstr(after, "state"), "active");
	assert_false(e2e_jbool(after, "stolen"));
	json_decref(before);
	json_decref(after);
	assert_true(e2e_hold_bool(a, "locked", false, 300));
	assert_true(e2e_hold_bool(b, "locked", false, 300));
	assert_int_equal(e2e_phone_stop(a), 0);
	assert_int_equal(e2e_phone_stop(b), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(j9_sim_and_root),
	        cmocka_unit_test(j10_two_lenders),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
