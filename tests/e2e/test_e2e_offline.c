/*
 * End-to-end journeys 5 and 6, with a real finlockd, the real `finlock`
 * CLI and real finlock-device phones, in real time:
 *
 *   5. No network: a customer who paid stays unlocked past the date a
 *      non-payer locks; the non-payer locks at lock_at with no network;
 *      an offline code read over the phone unlocks it; five wrong codes
 *      block further tries for the day (even the right code).
 *   6. A factory reset leaves a locked phone locked; a reflash too: the
 *      phone looks itself up, stays locked, shows a pairing code; the
 *      lender approves that code and the phone is back on the same
 *      device and contract, and a payment unlocks it.
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

#include "core/fltime.h"
#include "support/e2e_world.h"

static struct e2e *W;
static struct e2e_lender ACME;

static int setup(void **state)
{
	(void)state;
	if (e2e_start(&W, "offline", NULL) != 0 ||
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

/* A phone registered with ACME, its loan attached (first installment due
 * at due1, the second in 30 days, grace as a CLI duration), enrolled and
 * running. */
static struct e2e_phone *financed(const char *name, const char *loan_ref,
                                  const char *due1, const char *grace)
{
	struct e2e_phone *p = e2e_phone_new(W, name);
	char due2[32], inst[128];
	json_t *j;

	assert_non_null(p);
	assert_int_equal(e2e_register(W, &ACME, p), 0);
	e2e_at(due2, 30 * 86400L);
	snprintf(inst, sizeof(inst), "%s:200000,%s:200000", due1, due2);
	j = e2e_cli_json(W, &ACME, "contracts", "create", p->id,
	                 "--installments", inst, "--currency", "KES", "--grace",
	                 grace, "--loan-ref", loan_ref, "--contact-name",
	                 "Acme Credit", "--contact-phones", "+254700000001",
	                 "--allow-overdue", NULL);
	assert_non_null(j);
	json_decref(j);
	assert_int_equal(e2e_phone_enroll(W, p), 0);
	assert_int_equal(e2e_phone_run(p), 0);
	return p;
}

/* `finlock devices code ID --days 1`: the 10-digit code support reads
 * out. */
static void offline_code(struct e2e_phone *p, char code[32])
{
	json_t *j = e2e_cli_json(W, &ACME, "devices", "code", p->id, "--days",
	                         "1", NULL);

	assert_non_null(j);
	snprintf(code, 32, "%s", e2e_jstr(j, "code"));
	assert_int_equal(e2e_jint(j, "days"), 1);
	json_decref(j);
	assert_int_equal(strlen(code), 10);
}

/* `finlock-device enter-code code`: its exit status; *err (64 bytes, may
 * be NULL) gets the start of its message on stderr. */
static int enter_code(struct e2e_phone *p, const char *code, char *err)
{
	struct proc_result r;
	int rc = e2e_dev(p, &r, "enter-code", code, NULL);

	if (err != NULL)
		snprintf(err, 64, "%s", r.err);
	proc_result_free(&r);
	return rc;
}

/* ---- 5. No network ----------------------------------------------------- */

static void j5_no_network(void **state)
{
	struct e2e_phone *payer, *b, *c, *locking[2];
	struct proc_result r;
	char code_b[32], code_c[32], msg[64], wrong[16], lock_at_s[32], due[32];
	fl_time lock_at;
	int64_t seen[2];
	json_t *j, *st;

	(void)state;
	/* three customers; the first installment is due in 20 s with 2 s of
	 * grace */
	e2e_at(due, 20);
	payer = financed("fatuma", "L-5001", due, "2s");
	b = financed("gitau", "L-5002", due, "2s");
	c = financed("halima", "L-5003", due, "2s");
	j = e2e_device(W, &ACME, b);
	snprintf(lock_at_s, sizeof(lock_at_s), "%s", e2e_jstr(j, "lock_at"));
	assert_int_equal(fl_time_parse(lock_at_s, strlen(lock_at_s), &lock_at),
	                 FL_OK);
	json_decref(j);

	/* the first one pays, and the phone has heard of it before the
	 * network goes */
	assert_int_equal(e2e_cli(W, &ACME, &r, "payments", "record", payer->id,
	                         "--amount", "200000", "--reference",
	                         "MPESA-5001", NULL),
	                 0);
	proc_result_free(&r);
	j = e2e_device(W, &ACME, payer);
	assert_true(e2e_wait_int(payer, "seq", e2e_jint(j, "token_seq"), 5000,
	                         NULL));
	json_decref(j);
	assert_true(e2e_wait_str(b, "lock_at", lock_at_s, 5000, NULL));
	assert_true(e2e_wait_str(c, "lock_at", lock_at_s, 5000, NULL));

	/* no network for anyone */
	assert_int_equal(e2e_dev_ok(payer, "offline", "on", NULL), 0);
	assert_int_equal(e2e_dev_ok(b, "offline", "on", NULL), 0);
	assert_int_equal(e2e_dev_ok(c, "offline", "on", NULL), 0);
	assert_true(time(NULL) < lock_at);

	/* the non-payers lock on time on their own */
	locking[0] = b;
	locking[1] = c;
	assert_true(e2e_watch_bool(locking, 2, "locked", true, 30000, seen));
	printf("journey 5: offline phones seen locked %lld and %lld ms "
	       "after lock_at\n",
	       (long long)(seen[0] - (int64_t)lock_at * 1000),
	       (long long)(seen[1] - (int64_t)lock_at * 1000));
	assert_true(seen[0] >= (int64_t)lock_at * 1000);
	assert_true(seen[1] >= (int64_t)lock_at * 1000);
	assert_true(seen[0] < (int64_t)lock_at * 1000 + 2000);
	assert_true(seen[1] < (int64_t)lock_at * 1000 + 2000);
	st = e2e_status(b);
	assert_true(e2e_jbool(st, "offline"));
	assert_string_equal(e2e_jstr(st, "loan_ref"), "L-5002");
	assert_string_equal(e2e_jstr(st, "lender_name"), "Acme Credit");
	assert_true(e2e_jhas(st, "guaranteed", "emergency_calls"));
	json_decref(st);

	/* the payer, offline too, is not locked past that time */
	assert_true(e2e_hold_bool(payer, "locked", false, 1000));
	st = e2e_status(payer);
	assert_true(e2e_jbool(st, "offline"));
	assert_string_equal(e2e_jstr(st, "state"), "active");
	json_decref(st);

	/* support reads an offline code over the phone: it unlocks */
	offline_code(b, code_b);
	assert_int_equal(e2e_dev(b, &r, "enter-code", code_b, NULL), 0);
	assert_non_null(strstr(r.out, "unlocked until"));
	proc_result_free(&r);
	st = e2e_status(b);
	assert_false(e2e_jbool(st, "locked"));
	assert_true(json_is_string(json_object_get(st, "unlock_until")));
	assert_true(e2e_jint(st, "code_counter") > 0);
	json_decref(st);
	/* a code works once */
	assert_int_equal(enter_code(b, code_b, msg), 1);

	/* five wrong codes: each refused and counted */
	offline_code(c, code_c);
	for (int i = 1; i <= 5; i++) {
		snprintf(wrong, sizeof(wrong), "%010d", 1234567 * i);
		if (strcmp(wrong, code_c) == 0)
			wrong[0] = wrong[0] == '9' ? '8' : '9';
		assert_int_equal(enter_code(c, wrong, msg), 1);
		assert_non_null(strstr(msg, "not valid"));
		st = e2e_status(c);
		assert_int_equal(e2e_jint(st, "code_tries"), i);
		assert_true(e2e_jbool(st, "locked"));
		json_decref(st);
	}
	/* then no more tries today, not even the right code */
	assert_int_equal(enter_code(c, code_c, msg), 1);
	assert_non_null(strstr(msg, "too many"));
	st = e2e_status(c);
	assert_true(e2e_jbool(st, "locked"));
	assert_int_equal(e2e_jint(st, "code_counter"), 0);
	json_decref(st);

	/* the lender's view: both non-payers are locked for being overdue */
	j = e2e_device(W, &ACME, c);
	assert_string_equal(e2e_jstr(j, "state"), "locked");
	assert_string_equal(e2e_jstr(j, "lock_cause"), "overdue");
	json_decref(j);
	assert_int_equal(e2e_phone_stop(payer), 0);
	assert_int_equal(e2e_phone_stop(b), 0);
	assert_int_equal(e2e_phone_stop(c), 0);
}

/* ---- 6. Factory reset and reflash -------------------------------------- */

static bool pairing_shown(const json_t *st, const void *arg)
{
	(void)arg;
	return strlen(e2e_jstr(st, "pairing_code")) == 16;
}

static void j6_reset_reflash(void **state)
{
	struct e2e_phone *p;
	struct proc_result r;
	char pairing[32], other[32], spoken[32], due[32];
	json_t *st, *items, *j;
	long ms;

	(void)state;
	/* an installment a day overdue, no grace: locked from the start */
	e2e_at(due, -86400);
	p = financed("imani", "L-6006", due, "0s");
	assert_true(e2e_wait_bool(p, "locked", true, 5000, NULL));

	/* a factory reset wipes user data; the lock stays */
	assert_int_equal(e2e_dev_ok(p, "factory-reset", NULL), 0);
	st = e2e_status(p);
	assert_true(e2e_jbool(st, "locked"));
	assert_string_equal(e2e_jstr(st, "device_id"), p->id);
	assert_string_equal(e2e_jstr(st, "loan_ref"), "L-6006");
	assert_int_equal(e2e_jint(st, "boots"), 2);
	json_decref(st);

	/* a reflash wipes the persistent partition and the keys: the phone
	 * looks itself up, stays locked and asks to pair */
	assert_int_equal(e2e_dev_ok(p, "reflash", NULL), 0);
	assert_true(
	        e2e_wait(p, "a pairing code", pairing_shown, NULL, 10000, &ms));
	st = e2e_status(p);
	assert_true(e2e_jbool(st, "locked"));
	assert_string_equal(e2e_jstr(st, "loan_ref"), "L-6006");
	assert_int_equal(e2e_jint(st, "amount_due"), 200000);
	snprintf(pairing, sizeof(pairing), "%s", e2e_jstr(st, "pairing_code"));
	json_decref(st);
	printf("journey 6: reflashed phone showed pairing code %.4s %.4s "
	       "%.4s %.4s after %ld ms\n",
	       pairing, pairing + 4, pairing + 8, pairing + 12, ms);

	/* the lender sees the request with that code */
	j = e2e_cli_json(W, &ACME, "devices", "pairing-requests", p->id, NULL);
	assert_non_null(j);
	items = json_object_get(j, "items");
	assert_int_equal(json_array_size(items), 1);
	assert_string_equal(e2e_jstr(json_array_get(items, 0), "pairing_code"),
	                    pairing);
	assert_string_equal(e2e_jstr(json_array_get(items, 0), "status"),
	                    "pending");
	json_decref(j);

	/* an IMEI alone moves nothing: the phone is not enrolled until the
	 * lender approves, and a code the phone does not show is refused */
	assert_int_equal(e2e_dev(p, &r, "enroll", NULL), 0);
	proc_result_free(&r);
	st = e2e_status(p);
	assert_string_equal(e2e_jstr(st, "phase"), "pairing");
	json_decref(st);
	snprintf(other, sizeof(other), "%016llu",
	         (strtoull(pairing, NULL, 10) + 1) % 10000000000000000ull);
	assert_int_equal(e2e_cli_fail(W, &ACME, NULL, "devices", "approve",
	                              p->id, "--pairing-code", other, NULL),
	                 1);

	/* approved (as the customer reads it: "1234 5678 9012 3456"): the
	 * phone is back on the same device and contract */
	snprintf(spoken, sizeof(spoken), "%.4s %.4s %.4s %.4s", pairing,
	         pairing + 4, pairing + 8, pairing + 12);
	j = e2e_cli_json(W, &ACME, "devices", "approve", p->id,
	                 "--pairing-code", spoken, NULL);
	assert_non_null(j);
	json_decref(j);
	assert_int_equal(e2e_dev(p, &r, "enroll", NULL), 0);
	assert_non_null(strstr(r.out, p->id));
	proc_result_free(&r);
	assert_true(e2e_wait_str(p, "phase", "enrolled", 5000, NULL));
	st = e2e_status(p);
	assert_string_equal(e2e_jstr(st, "device_id"), p->id);
	assert_string_equal(e2e_jstr(st, "loan_ref"), "L-6006");
	assert_true(e2e_jbool(st, "locked"));
	assert_string_equal(e2e_jstr(st, "pairing_code"), "");
	assert_true(e2e_jint(st, "seq") > 0);
	json_decref(st);
	/* nothing is left waiting for approval */
	j = e2e_cli_json(W, &ACME, "devices", "pairing-requests", p->id, NULL);
	assert_non_null(j);
	items = json_object_get(j, "items");
	for (size_t i = 0; i < json_array_size(items); i++)
		assert_string_not_equal(
		        e2e_jstr(json_array_get(items, i), "status"),
		        "pending");
	json_decref(j);

	/* paying the same contract unlocks it */
	assert_int_equal(e2e_cli(W, &ACME, &r, "payments", "record", p->id,
	                         "--amount", "200000", "--reference",
	                         "MPESA-6006", NULL),
	                 0);
	proc_result_free(&r);
	assert_true(e2e_wait_bool(p, "locked", false, 3000, NULL));
	j = e2e_device(W, &ACME, p);
	assert_string_equal(e2e_jstr(j, "state"), "active");
	json_decref(j);
	assert_int_equal(e2e_phone_stop(p), 0);
}

/* ---- 7. A code's unlock is the server's too ---------------------------- */

/* Polls the lender's view of p until its unlock_until is set. */
static json_t *wait_server_unlock(struct e2e_phone *p, int timeout_ms)
{
	int64_t end = e2e_ms() + timeout_ms;
	json_t *j;

	for (;;) {
		j = e2e_device(W, &ACME, p);
		if (j != NULL && json_is_string(json_object_get(j, "unlock_until")))
			return j;
		if (e2e_ms() >= end)
			return j;
		json_decref(j);
		e2e_sleep_ms(100);
	}
}

static void j7_code_unlock_survives_reflash(void **state)
{
	struct e2e_phone *p;
	char code[32], due[32];
	json_t *st, *j;

	(void)state;
	e2e_at(due, -86400);
	p = financed("zuri", "L-7007", due, "0s");
	assert_true(e2e_wait_bool(p, "locked", true, 5000, NULL));
	/* no data: support reads a code, the phone unlocks on its own */
	assert_int_equal(e2e_dev_ok(p, "offline", "on", NULL), 0);
	offline_code(p, code);
	assert_int_equal(enter_code(p, code, NULL), 0);
	assert_true(e2e_wait_bool(p, "locked", false, 3000, NULL));
	/* back online, the phone reports the code it used; the server's
	 * decision now holds the unlock until it ends */
	assert_int_equal(e2e_dev_ok(p, "offline", "off", NULL), 0);
	j = wait_server_unlock(p, 15000);
	assert_non_null(j);
	assert_true(json_is_string(json_object_get(j, "unlock_until")));
	assert_string_not_equal(e2e_jstr(j, "state"), "locked");
	assert_string_equal(e2e_jstr(j, "lock_cause"), "none");
	json_decref(j);
	/* reflashed inside those days, the phone comes back unlocked */
	assert_int_equal(e2e_dev_ok(p, "reflash", NULL), 0);
	assert_true(e2e_wait(p, "a pairing code", pairing_shown, NULL, 10000,
	                     NULL));
	st = e2e_status(p);
	assert_false(e2e_jbool(st, "locked"));
	assert_string_equal(e2e_jstr(st, "loan_ref"), "L-7007");
	json_decref(st);
	assert_int_equal(e2e_phone_stop(p), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(j5_no_network),
	        cmocka_unit_test(j6_reset_reflash),
	        cmocka_unit_test(j7_code_unlock_survives_reflash),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
