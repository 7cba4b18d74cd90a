/*
 * End-to-end journeys 7 and 8, with a real finlockd, the real `finlock`
 * CLI and real finlock-device phones:
 *
 *   7. Final payment: the phone is released for good (through a reboot,
 *      a factory reset and a reflash), the public IMEI check says released, and
 * the signed status certificate verifies offline against the operator's root
 * (and not against another root, nor for another IMEI).
 *   8. Reported stolen: the phone locks whatever is paid, a payment in
 *      full does not release it, the IMEI check says stolen; clearing the
 *      report needs a reason and restores what the payments give
 *      (released); a released phone reported stolen again is stolen on the
 *      IMEI check, and reflashed it comes up released: it is its owner's
 *      for good.
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
static struct e2e_lender ACME;

static int setup(void **state)
{
	(void)state;
	if (e2e_start(&W, "release", NULL) != 0 ||
	    e2e_lender_new(W, "Acme Credit", &ACME) != 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	e2e_free(W);
	return 0;
}

/* A phone registered with ACME, two installments of 100000 (in 30 and
 * 60 days), enrolled and running. */
static struct e2e_phone *financed(const char *name, const char *loan_ref)
{
	struct e2e_phone *p = e2e_phone_new(W, name);
	char due1[32], due2[32], inst[128];
	json_t *j;

	assert_non_null(p);
	assert_int_equal(e2e_register(W, &ACME, p), 0);
	e2e_at(due1, 30 * 86400L);
	e2e_at(due2, 60 * 86400L);
	snprintf(inst, sizeof(inst), "%s:100000,%s:100000", due1, due2);
	j = e2e_cli_json(W, &ACME, "contracts", "create", p->id,
	                 "--installments", inst, "--currency", "KES", "--grace",
	                 "3d", "--loan-ref", loan_ref, "--contact-name",
	                 "Acme Credit", "--contact-phones", "+254700000001",
	                 NULL);
	assert_non_null(j);
	json_decref(j);
	assert_int_equal(e2e_phone_enroll(W, p), 0);
	assert_int_equal(e2e_phone_run(p), 0);
	assert_true(e2e_wait_str(p, "state", "active", 5000, NULL));
	return p;
}

static void pay(struct e2e_phone *p, const char *amount, const char *ref)
{
	struct proc_result r;
	int rc = e2e_cli(W, &ACME, &r, "payments", "record", p->id, "--amount",
	                 amount, "--reference", ref, NULL);

	if (rc != 0)
		fprintf(stderr, "payments record: %d %s%s\n", rc, r.out, r.err);
	assert_int_equal(rc, 0);
	proc_result_free(&r);
}

/* The public IMEI check's status for p (no key). */
static void imei_status(struct e2e_phone *p, char out[32])
{
	json_t *j = e2e_cli_json(W, NULL, "imei", "check", p->imei, "--server",
	                         e2e_url(W), NULL);

	assert_non_null(j);
	snprintf(out, 32, "%s", e2e_jstr(j, "status"));
	assert_null(json_object_get(j, "lender"));
	json_decref(j);
}

static void expect_imei(struct e2e_phone *p, const char *want)
{
	char got[32];

	imei_status(p, got);
	assert_string_equal(got, want);
}

static bool released(const json_t *st, const void *arg)
{
	(void)arg;
	return strcmp(e2e_jstr(st, "phase"), "released") == 0 &&
	       e2e_jbool(st, "has_receipt") && !e2e_jbool(st, "locked");
}

/* ---- 7. Final payment -------------------------------------------------- */

static void j7_final_payment(void **state)
{
	struct e2e_phone *p = financed("jabari", "L-7007");
	struct proc_result r;
	char cert[600], other_root[256], *line;
	json_t *j, *st;
	FILE *f;
	long ms;

	(void)state;
	expect_imei(p, "financed");

	pay(p, "100000", "MPESA-7001");
	j = e2e_device(W, &ACME, p);
	assert_string_equal(e2e_jstr(j, "state"), "active");
	assert_int_equal(e2e_jint(j, "amount_remaining"), 100000);
	json_decref(j);
	expect_imei(p, "financed");

	/* the last installment, early */
	pay(p, "100000", "MPESA-7002");
	assert_true(e2e_wait(p, "released with its receipt", released, NULL,
	                     5000, &ms));
	printf("journey 7: final payment to released phone with receipt: "
	       "%ld ms\n",
	       ms);
	st = e2e_status(p);
	assert_string_equal(e2e_jstr(st, "state"), "released");
	assert_int_equal(json_array_size(json_object_get(st, "restrictions")),
	                 0);
	assert_null(json_string_value(json_object_get(st, "lock_at")));
	json_decref(st);
	j = e2e_device(W, &ACME, p);
	assert_string_equal(e2e_jstr(j, "state"), "released");
	assert_int_equal(e2e_jint(j, "amount_remaining"), 0);
	json_decref(j);
	expect_imei(p, "released");

	/* for good: the phone stops talking to the lender and stays
	 * released through reboots and a factory reset */
	assert_int_equal(e2e_phone_stop(p), 0);
	assert_int_equal(e2e_dev_ok(p, "reboot", NULL), 0);
	assert_int_equal(e2e_dev_ok(p, "factory-reset", NULL), 0);
	st = e2e_status(p);
	assert_true(released(st, NULL));
	json_decref(st);
	/* even a reflash: setup looks the phone up, and it is free */
	assert_int_equal(e2e_dev_ok(p, "reflash", NULL), 0);
	assert_int_equal(e2e_phone_run(p), 0);
	assert_true(e2e_wait_bool(p, "setup_pending", false, 5000, NULL));
	assert_true(e2e_hold_bool(p, "locked", false, 500));
	st = e2e_status(p);
	assert_false(e2e_jbool(st, "stolen"));
	assert_int_equal(json_array_size(json_object_get(st, "restrictions")),
	                 0);
	json_decref(st);
	assert_int_equal(e2e_phone_stop(p), 0);

	/* the signed status certificate a seller shows a buyer */
	snprintf(cert, sizeof(cert), "%s/cert-%s.json", e2e_dir(W), p->name);
	assert_int_equal(e2e_cli(W, NULL, &r, "imei", "certificate", p->imei,
	                         "--server", e2e_url(W), NULL),
	                 0);
	f = fopen(cert, "w");
	assert_non_null(f);
	fputs(r.out, f);
	fclose(f);
	proc_result_free(&r);
	assert_int_equal(e2e_cli(W, NULL, &r, "imei", "verify-cert", cert,
	                         "--root", e2e_root(W), "--imei", p->imei,
	                         NULL),
	                 0);
	assert_non_null(strstr(r.out, "valid certificate"));
	assert_non_null(strstr(r.out, "status: released"));
	proc_result_free(&r);

	/* a certificate proves nothing against another root, or about
	 * another IMEI */
	assert_int_equal(e2e_cli(W, NULL, &r, "keygen", "--root", NULL), 0);
	line = strstr(r.out, "k4.public.");
	assert_non_null(line);
	snprintf(other_root, sizeof(other_root), "%.*s",
	         (int)strcspn(line, " \n"), line);
	proc_result_free(&r);
	assert_int_equal(e2e_cli(W, NULL, &r, "imei", "verify-cert", cert,
	                         "--root", other_root, "--imei", p->imei, NULL),
	                 1);
	proc_result_free(&r);
	assert_int_equal(e2e_cli(W, NULL, &r, "imei", "verify-cert", cert,
	                         "--root", e2e_root(W), "--imei", p->imei2,
	                         NULL),
	                 1);
	proc_result_free(&r);
}

/* ---- 8. Reported stolen ------------------------------------------------ */

static void j8_stolen(void **state)
{
	struct e2e_phone *p = financed("kamau", "L-8008");
	struct proc_result r;
	json_t *j, *st;
	long ms;

	(void)state;
	pay(p, "100000", "MPESA-8001");

	/* reported stolen: locked at once, whatever is paid */
	j = e2e_cli_json(W, &ACME, "devices", "stolen", p->id, "--set",
	                 "--reason", "police report 2231/26", NULL);
	assert_non_null(j);
	assert_true(e2e_jbool(j, "stolen"));
	json_decref(j);
	assert_true(e2e_wait_bool(p, "locked", true, 3000, &ms));
	printf("journey 8: stolen report to locked phone: %ld ms\n", ms);
	st = e2e_status(p);
	assert_true(e2e_jbool(st, "stolen"));
	assert_true(e2e_jhas(st, "guaranteed", "emergency_calls"));
	json_decref(st);
	expect_imei(p, "stolen");

	/* paid in full: still locked, still stolen */
	pay(p, "100000", "MPESA-8002");
	j = e2e_device(W, &ACME, p);
	assert_true(e2e_jbool(j, "stolen"));
	assert_string_equal(e2e_jstr(j, "state"), "locked");
	assert_int_equal(e2e_jint(j, "amount_remaining"), 0);
	json_decref(j);
	assert_true(e2e_hold_bool(p, "locked", true, 1000));
	expect_imei(p, "stolen");

	/* clearing the report takes a reason */
	assert_int_equal(e2e_cli(W, &ACME, &r, "devices", "stolen", p->id,
	                         "--clear", NULL),
	                 2);
	proc_result_free(&r);
	j = e2e_device(W, &ACME, p);
	assert_true(e2e_jbool(j, "stolen"));
	json_decref(j);

	/* cleared: what the payments give, released */
	j = e2e_cli_json(W, &ACME, "devices", "stolen", p->id, "--clear",
	                 "--reason", "recovered, returned to the owner", NULL);
	assert_non_null(j);
	assert_false(e2e_jbool(j, "stolen"));
	assert_string_equal(e2e_jstr(j, "state"), "released");
	json_decref(j);
	assert_true(e2e_wait(p, "released with its receipt", released, NULL,
	                     5000, NULL));
	st = e2e_status(p);
	assert_false(e2e_jbool(st, "stolen"));
	json_decref(st);
	expect_imei(p, "released");

	/* stolen after release: the public check and its certificate warn a
	 * buyer, but a released phone belongs to its owner: the server's
	 * decision stays released and the phone, even wiped and set up
	 * again, is never locked */
	assert_int_equal(e2e_phone_stop(p), 0);
	j = e2e_cli_json(W, &ACME, "devices", "stolen", p->id, "--set",
	                 "--reason", "stolen again, police report 2301/26",
	                 NULL);
	assert_non_null(j);
	assert_true(e2e_jbool(j, "stolen"));
	assert_string_equal(e2e_jstr(j, "state"), "released");
	assert_string_equal(e2e_jstr(j, "lock_cause"), "none");
	json_decref(j);
	expect_imei(p, "stolen");
	assert_int_equal(e2e_dev_ok(p, "reflash", NULL), 0);
	assert_int_equal(e2e_phone_run(p), 0);
	/* the lookup says released: nothing to enforce */
	assert_true(e2e_wait_str(p, "phase", "idle", 5000, NULL));
	assert_true(e2e_hold_bool(p, "locked", false, 1000));
	st = e2e_status(p);
	assert_false(e2e_jbool(st, "stolen"));
	json_decref(st);
	assert_int_equal(e2e_phone_stop(p), 0);

	/* the audit trail has both reports and the clearing, with reasons */
	j = e2e_cli_json(W, &ACME, "audit", "list", "--target", p->id, NULL);
	assert_non_null(j);
	{
		char *dump = json_dumps(j, 0);

		assert_non_null(strstr(dump, "police report 2231/26"));
		assert_non_null(
		        strstr(dump, "recovered, returned to the owner"));
		free(dump);
	}
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(j7_final_payment),
	        cmocka_unit_test(j8_stolen),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
