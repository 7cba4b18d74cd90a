/*
 * End-to-end journeys 1 to 4, with a real finlockd, the real `finlock`
 * CLI for the lender and real finlock-device phones, in real time:
 *
 *   1. Sale: the clerk registers the phone, the lender attaches the loan,
 *      the phone enrolls with its one-time code (which then stops working).
 *   2. Reminders appear on the phone before the due date.
 *   3. Overdue: the phone locks at lock_at (grace of seconds) and the lock
 *      screen shows the amount due, the lender's contact and the loan
 *      reference while emergency calls stay possible; a lock the lender
 *      schedules (`lock at T`) happens at T.
 *   4. Payment recorded: the phone waiting on its long-poll unlocks within
 *      a second (the figure is printed).
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

#define CONTACT_NAME  "Acme Credit"
#define CONTACT_PHONE "+254700000001"

static int setup(void **state)
{
	(void)state;
	if (e2e_start(&W, "sale", NULL) != 0 ||
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

/* A new phone registered with ACME. */
static struct e2e_phone *sold_phone(const char *name)
{
	struct e2e_phone *p = e2e_phone_new(W, name);

	assert_non_null(p);
	assert_int_equal(e2e_register(W, &ACME, p), 0);
	return p;
}

/* `finlock contracts create` for p with one or two installments given as
 * seconds from now (second_in 0: one installment), grace and reminder
 * offsets as CLI durations. Returns the answer (caller decrefs). */
static json_t *contract(struct e2e_phone *p, const char *loan_ref,
                        long first_in, long amount, long second_in,
                        const char *grace, const char *remind)
{
	char due1[32], due2[32], inst[128];
	json_t *j;

	e2e_at(due1, first_in);
	if (second_in != 0) {
		e2e_at(due2, second_in);
		snprintf(inst, sizeof(inst), "%s:%ld,%s:%ld", due1, amount,
		         due2, amount);
	} else {
		snprintf(inst, sizeof(inst), "%s:%ld", due1, amount);
	}
	j = e2e_cli_json(
	        W, &ACME, "contracts", "create", p->id, "--installments", inst,
	        "--currency", "KES", "--grace", grace, "--loan-ref", loan_ref,
	        "--remind", remind, "--contact-name", CONTACT_NAME,
	        "--contact-phones", CONTACT_PHONE, "--message",
	        "Pay at any Acme Credit shop or with the Acme app.",
	        first_in < 0 ? "--allow-overdue" : NULL, NULL);
	assert_non_null(j);
	return j;
}

/* The device inside a contract answer, or the answer itself. */
static json_t *device_of(json_t *j)
{
	json_t *d = json_object_get(j, "device");

	return d != NULL ? d : j;
}

/* ---- 1. Sale ----------------------------------------------------------- */

static void j1_sale(void **state)
{
	struct e2e_phone *p, *clone;
	struct proc_result r;
	json_t *j, *st;
	char code[64];
	int rc;

	(void)state;
	p = e2e_phone_new(W, "amina");
	assert_non_null(p);
	st = e2e_status(p);
	assert_non_null(st);
	assert_string_equal(e2e_jstr(st, "device_id"), "");
	json_decref(st);

	/* the clerk registers it: a one-time enrollment code */
	assert_int_equal(e2e_register(W, &ACME, p), 0);
	j = e2e_device(W, &ACME, p);
	assert_non_null(j);
	assert_string_equal(e2e_jstr(j, "state"), "pending");
	assert_false(e2e_jbool(j, "enrolled"));
	assert_string_equal(e2e_jstr(j, "imei"), p->imei);
	json_decref(j);

	/* the loan: two monthly installments of KES 4,500.00 */
	j = contract(p, "L-1001", 30 * 86400L, 450000, 60 * 86400L, "3d",
	             "3d,1d,0d");
	assert_string_equal(e2e_jstr(j, "loan_ref"), "L-1001");
	assert_string_equal(e2e_jstr(device_of(j), "state"), "pending");
	json_decref(j);

	/* the phone enrolls with the code the clerk read out */
	assert_int_equal(e2e_dev(p, &r, "enroll", "--server", e2e_url(W),
	                         "--code", p->code, NULL),
	                 0);
	assert_non_null(strstr(r.out, p->id));
	proc_result_free(&r);

	st = e2e_status(p);
	assert_non_null(st);
	assert_string_equal(e2e_jstr(st, "phase"), "enrolled");
	assert_string_equal(e2e_jstr(st, "device_id"), p->id);
	assert_string_equal(e2e_jstr(st, "state"), "active");
	assert_false(e2e_jbool(st, "locked"));
	assert_string_equal(e2e_jstr(st, "loan_ref"), "L-1001");
	assert_string_equal(e2e_jstr(st, "lender_name"), CONTACT_NAME);
	assert_true(e2e_jhas(st, "lender_phones", CONTACT_PHONE));
	assert_true(e2e_jint(st, "seq") > 0);
	assert_true(e2e_jhas(st, "guaranteed", "emergency_calls"));
	json_decref(st);

	/* the lender sees it enrolled and in contact */
	j = e2e_device(W, &ACME, p);
	assert_non_null(j);
	assert_true(e2e_jbool(j, "enrolled"));
	assert_string_equal(e2e_jstr(j, "state"), "active");
	assert_true(json_is_string(json_object_get(j, "last_contact")));
	json_decref(j);

	/* the code was one-time: another phone claiming this IMEI with it
	 * is refused, and the first phone keeps its enrollment */
	clone = e2e_phone_new_imei(W, "clone", p->imei, p->imei2);
	assert_non_null(clone);
	rc = e2e_dev(clone, &r, "enroll", "--server", e2e_url(W), "--code",
	             p->code, NULL);
	assert_int_equal(rc, 1);
	proc_result_free(&r);
	st = e2e_status(clone);
	assert_string_equal(e2e_jstr(st, "device_id"), "");
	json_decref(st);

	/* a clerk registering the same IMEI again is refused */
	rc = e2e_cli_fail(W, &ACME, code, "devices", "register", "--imei",
	                  p->imei, "--serial", "OTHER-1", NULL);
	assert_int_equal(rc, 1);
	assert_string_equal(code, "imei_in_program");
}

/* ---- 2. Reminders ------------------------------------------------------ */

static size_t reminders_shown(const json_t *st)
{
	json_t *n = json_object_get(st, "notifications"), *v;
	size_t i, count = 0;

	json_array_foreach(n, i, v)
	{
		if (strcmp(e2e_jstr(v, "kind"), "reminder") == 0)
			count++;
	}
	return count;
}

static bool one_reminder(const json_t *st, const void *arg)
{
	(void)arg;
	return reminders_shown(st) >= 1;
}

static bool two_reminders(const json_t *st, const void *arg)
{
	(void)arg;
	return reminders_shown(st) >= 2;
}

static void j2_reminders(void **state)
{
	struct e2e_phone *p = sold_phone("baraka");
	fl_time due;
	json_t *j, *st, *n, *v;
	size_t i, count = 0;
	const char *due_s;

	(void)state;
	/* enrolled and running before the loan is attached, so the loan
	 * reaches the phone through the server's push */
	assert_int_equal(e2e_phone_enroll(W, p), 0);
	assert_int_equal(e2e_phone_run(p), 0);

	/* due in 9 s; reminders 6 s and 3 s before; no lock for an hour */
	j = contract(p, "L-2002", 9, 300000, 30 * 86400L, "1h", "6s,3s");
	due_s = e2e_jstr(json_array_get(json_object_get(j, "schedule"), 0),
	                 "due_at");
	assert_int_equal(fl_time_parse(due_s, strlen(due_s), &due), FL_OK);
	assert_string_equal(e2e_jstr(device_of(j), "state"), "active");
	json_decref(j);
	assert_true(e2e_wait_str(p, "loan_ref", "L-2002", 5000, NULL));

	/* the first reminder: the phone is in "reminding" and shows it */
	assert_true(e2e_wait_str(p, "state", "reminding", 9000, NULL));
	assert_true(e2e_wait(p, "a reminder", one_reminder, NULL, 3000, NULL));
	st = e2e_status(p);
	assert_non_null(st);
	v = json_array_get(json_object_get(st, "notifications"), 0);
	assert_non_null(strstr(e2e_jstr(v, "text"), "KES 3,000.00"));
	assert_false(e2e_jbool(st, "locked"));
	printf("journey 2: reminder on the phone: \"%s\"\n",
	       e2e_jstr(v, "text"));
	json_decref(st);

	/* both reminders were shown before the due date */
	assert_true(
	        e2e_wait(p, "two reminders", two_reminders, NULL, 9000, NULL));
	assert_true((fl_time)time(NULL) <= due);
	st = e2e_status(p);
	n = json_object_get(st, "notifications");
	json_array_foreach(n, i, v)
	{
		fl_time at;
		const char *s = e2e_jstr(v, "at");

		if (strcmp(e2e_jstr(v, "kind"), "reminder") != 0)
			continue;
		count++;
		assert_int_equal(fl_time_parse(s, strlen(s), &at), FL_OK);
		assert_true(at < due);
	}
	assert_int_equal(count, 2);
	assert_false(e2e_jbool(st, "locked"));
	json_decref(st);

	/* the lender sees the same */
	j = e2e_device(W, &ACME, p);
	assert_string_equal(e2e_jstr(j, "state"), "reminding");
	json_decref(j);
	assert_int_equal(e2e_phone_stop(p), 0);
}

/* ---- 3. Overdue -------------------------------------------------------- */

static void j3_overdue(void **state)
{
	struct e2e_phone *p = sold_phone("chidi"), *q = sold_phone("dalia");
	struct e2e_phone *both[2];
	json_t *j, *st;
	char lock_at_s[32], at[32];
	fl_time lock_at, when;
	int64_t seen[2], lag_p, lag_q;

	(void)state;
	/* the second phone pays on time, but the lender will schedule a
	 * lock for it */
	j = contract(q, "L-3004", 30 * 86400L, 150000, 0, "3d", "3d");
	json_decref(j);
	assert_int_equal(e2e_phone_enroll(W, q), 0);
	assert_int_equal(e2e_phone_run(q), 0);

	/* due in 5 s with 2 s of grace: the lock comes 7 s from now */
	j = contract(p, "L-3003", 5, 150000, 30 * 86400L, "2s", "2s");
	snprintf(lock_at_s, sizeof(lock_at_s), "%s",
	         e2e_jstr(device_of(j), "lock_at"));
	assert_int_equal(fl_time_parse(lock_at_s, strlen(lock_at_s), &lock_at),
	                 FL_OK);
	json_decref(j);
	assert_int_equal(e2e_phone_enroll(W, p), 0);
	assert_int_equal(e2e_phone_run(p), 0);

	/* "lock at T", T 5 s from now */
	e2e_at(at, 5);
	j = e2e_cli_json(W, &ACME, "devices", "lock", q->id, "--reason",
	                 "collections visit", "--at", at, NULL);
	assert_non_null(j);
	assert_string_equal(e2e_jstr(j, "lock_at"), at);
	json_decref(j);
	assert_int_equal(fl_time_parse(at, strlen(at), &when), FL_OK);

	/* before lock_at the phone knows when it will lock, and is not */
	st = e2e_status(p);
	assert_string_equal(e2e_jstr(st, "lock_at"), lock_at_s);
	assert_false(e2e_jbool(st, "locked"));
	json_decref(st);
	assert_true(e2e_wait_str(q, "lock_at", at, 3000, NULL));

	both[0] = p;
	both[1] = q;
	assert_true(e2e_watch_bool(both, 2, "locked", true, 12000, seen));
	lag_p = seen[0] - (int64_t)lock_at * 1000;
	lag_q = seen[1] - (int64_t)when * 1000;
	printf("journey 3: overdue phone seen locked %lld ms after lock_at; "
	       "scheduled lock seen %lld ms after T\n",
	       (long long)lag_p, (long long)lag_q);
	assert_true(lag_p >= 0 && lag_p < 2000);
	assert_true(lag_q >= 0 && lag_q < 2000);

	/* the lock screen */
	st = e2e_status(p);
	assert_non_null(st);
	assert_string_equal(e2e_jstr(st, "state"), "locked");
	assert_int_equal(e2e_jint(st, "amount_due"), 150000);
	assert_string_equal(e2e_jstr(st, "currency"), "KES");
	assert_string_equal(e2e_jstr(st, "lender_name"), CONTACT_NAME);
	assert_true(e2e_jhas(st, "lender_phones", CONTACT_PHONE));
	assert_string_equal(e2e_jstr(st, "loan_ref"), "L-3003");
	assert_non_null(strstr(e2e_jstr(st, "message"), "Acme Credit shop"));
	assert_true(json_array_size(json_object_get(st, "restrictions")) > 0);
	assert_false(e2e_jhas(st, "restrictions", "emergency_calls"));
	assert_true(e2e_jhas(st, "guaranteed", "emergency_calls"));
	assert_true(e2e_jhas(st, "guaranteed", "lender_calls"));
	assert_true(e2e_jhas(st, "guaranteed", "dialer"));
	json_decref(st);

	/* the lender sees it overdue and locked */
	j = e2e_device(W, &ACME, p);
	assert_string_equal(e2e_jstr(j, "state"), "locked");
	assert_string_equal(e2e_jstr(j, "lock_cause"), "overdue");
	assert_int_equal(e2e_jint(j, "amount_due"), 150000);
	json_decref(j);
	j = e2e_cli_json(W, &ACME, "devices", "list", "--overdue", NULL);
	assert_non_null(j);
	{
		json_t *items = json_object_get(j, "items"), *v;
		size_t i;
		bool seen_p = false;

		json_array_foreach(items, i, v)
		{
			seen_p =
			        seen_p || strcmp(e2e_jstr(v, "id"), p->id) == 0;
			assert_string_not_equal(e2e_jstr(v, "id"), q->id);
		}
		assert_true(seen_p);
	}
	json_decref(j);

	/* the scheduled lock: same screen, the lender's reason on record */
	st = e2e_status(q);
	assert_string_equal(e2e_jstr(st, "loan_ref"), "L-3004");
	assert_string_equal(e2e_jstr(st, "lender_name"), CONTACT_NAME);
	assert_true(e2e_jhas(st, "guaranteed", "emergency_calls"));
	json_decref(st);
	j = e2e_device(W, &ACME, q);
	assert_string_equal(e2e_jstr(j, "state"), "locked");
	assert_string_equal(e2e_jstr(j, "lock_cause"), "scheduled");
	json_decref(j);
	assert_int_equal(e2e_phone_stop(p), 0);
	assert_int_equal(e2e_phone_stop(q), 0);
}

/* ---- 4. Payment recorded ----------------------------------------------- */

static void j4_payment(void **state)
{
	struct e2e_phone *p = sold_phone("esther");
	struct proc_result r;
	int64_t t0, t_paid;
	json_t *j;
	long ms;
	int rc;

	(void)state;
	/* an installment an hour overdue with no grace: locked at once */
	j = contract(p, "L-4004", -3600, 250000, 30 * 86400L, "0s", "1d");
	json_decref(j);
	assert_int_equal(e2e_phone_enroll(W, p), 0);
	assert_int_equal(e2e_phone_run(p), 0);
	assert_true(e2e_wait_bool(p, "locked", true, 5000, NULL));
	j = e2e_device(W, &ACME, p);
	assert_string_equal(e2e_jstr(j, "state"), "locked");
	assert_int_equal(e2e_jint(j, "amount_due"), 250000);
	json_decref(j);
	/* the phone is now parked on its long-poll */
	e2e_sleep_ms(500);

	t0 = e2e_ms();
	rc = e2e_cli(W, &ACME, &r, "payments", "record", p->id, "--amount",
	             "250000", "--reference", "MPESA-QK71XYZ", NULL);
	t_paid = e2e_ms();
	if (rc != 0)
		fprintf(stderr, "payments record: %d %s%s\n", rc, r.out, r.err);
	assert_int_equal(rc, 0);
	proc_result_free(&r);
	assert_true(e2e_wait_bool(p, "locked", false, 3000, &ms));
	ms += (long)(t_paid - t0);
	printf("journey 4: payment request to unlocked phone: %ld ms "
	       "(finlock payments record took %ld ms)\n",
	       ms, (long)(t_paid - t0));
	/* a second, plus what polling the phone's status costs */
	assert_true(ms < 1000 + 250);

	j = e2e_device(W, &ACME, p);
	assert_string_equal(e2e_jstr(j, "state"), "active");
	assert_int_equal(e2e_jint(j, "amount_due"), 0);
	json_decref(j);
	assert_int_equal(e2e_phone_stop(p), 0);
}

/* ---- The lock screen says the true cause ------------------------------- */

/* `finlock-device screen` of p: what the customer sees (caller frees). */
static char *screen_of(struct e2e_phone *p)
{
	struct proc_result r;
	char *out;

	assert_int_equal(e2e_dev(p, &r, "screen", "--once", NULL), 0);
	out = strdup(r.out);
	proc_result_free(&r);
	assert_non_null(out);
	return out;
}

static void j5_true_cause(void **state)
{
	struct e2e_phone *p = sold_phone("femi");
	char *scr;
	json_t *j, *st;

	(void)state;
	/* nothing due for a month: any lock now is not for money */
	j = contract(p, "L-5005", 30 * 86400L, 150000, 0, "3d", "3d");
	json_decref(j);
	assert_int_equal(e2e_phone_enroll(W, p), 0);
	assert_int_equal(e2e_phone_run(p), 0);

	/* the lender locks it and chooses to show why */
	j = e2e_cli_json(W, &ACME, "devices", "lock", p->id, "--reason",
	                 "Bring the phone to the Westlands shop for its check",
	                 "--show-reason", NULL);
	assert_non_null(j);
	assert_string_equal(e2e_jstr(j, "lock_cause"), "manual");
	json_decref(j);
	assert_true(e2e_wait_bool(p, "locked", true, 5000, NULL));
	st = e2e_status(p);
	assert_string_equal(e2e_jstr(st, "lock_reason"), "lender");
	assert_non_null(strstr(e2e_jstr(st, "message"), "locked by the lender"));
	assert_non_null(strstr(e2e_jstr(st, "message"), "Westlands shop"));
	assert_int_equal(e2e_jint(st, "amount_due"), 0);
	assert_true(e2e_jhas(st, "lender_phones", CONTACT_PHONE));
	json_decref(st);
	scr = screen_of(p);
	assert_null(strstr(scr, "overdue installment"));
	assert_null(strstr(scr, "Amount due"));
	assert_non_null(strstr(scr, "locked by the lender"));
	assert_non_null(strstr(scr, CONTACT_PHONE));
	free(scr);

	/* reported stolen: the screen says so, still with no amount */
	j = e2e_cli_json(W, &ACME, "devices", "stolen", p->id, "--set",
	                 "--reason", "police report 5005/26", NULL);
	assert_non_null(j);
	json_decref(j);
	assert_true(e2e_wait_str(p, "lock_reason", "stolen", 5000, NULL));
	scr = screen_of(p);
	assert_non_null(strstr(scr, "reported lost or stolen"));
	assert_null(strstr(scr, "overdue installment"));
	assert_null(strstr(scr, "Amount due"));
	assert_non_null(strstr(scr, CONTACT_PHONE));
	free(scr);
	assert_int_equal(e2e_phone_stop(p), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(j1_sale),
	        cmocka_unit_test(j2_reminders),
	        cmocka_unit_test(j3_overdue),
	        cmocka_unit_test(j4_payment),
	        cmocka_unit_test(j5_true_cause),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
