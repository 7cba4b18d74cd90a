/* finlock-device against a lender that speaks the device protocol over
 * HTTP (the fake server of agent_fakesrv.h behind libmicrohttpd): enroll,
 * lock and unlock pushed through the long-poll, failures that change
 * nothing, lock_at reached offline, a clock set forward, reflash and
 * re-enrollment by pairing code, offline codes, SIM and root reports. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/fltime.h"
#include "core/ocode.h"
#include "support/device_lender.h"
#include "support/device_util.h"
#include "support/proc.h"

#define IMEI1 "352099001761481"
#define IMEI2 "352099001761499"
#define CODE  "K7Q2-9XWD"
#define PROG  "finlock-device"

struct fx {
	char tmp[256];
	char dir[300];
	char log[300];
	struct devt_lender *l;
	pid_t run;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct fl_fakesrv *s;

	if (f == NULL || fl_crypto_init() != FL_OK ||
	    devt_tmpdir(f->tmp, "run"))
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/phone", f->tmp);
	snprintf(f->log, sizeof(f->log), "%s/run.log", f->tmp);
	f->l = devt_lender_start();
	if (f->l == NULL)
		return -1;
	s = devt_lender_begin(f->l);
	fl_fakesrv_register(s, CODE, IMEI1, IMEI2);
	devt_lender_end(f->l);
	f->run = -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	if (f->run > 0)
		devt_stop(f->run, SIGKILL, 5000);
	if (getenv("DEVT_SHOW_LOG") != NULL) {
		char *log = devt_read_file(f->log);
		fprintf(stderr, "--- run log\n%s---\n", log ? log : "");
		free(log);
	}
	devt_lender_stop(f->l);
	devt_rmtree(f->tmp);
	free(f);
	return 0;
}

/* finlock-device --dir f->dir with the arguments (NULL-ended). */
#define dev(r, f, ...) devt_cmd((r), (f)->dir, __VA_ARGS__)

static void create_phone(struct fx *f)
{
	struct proc_result r;

	assert_int_equal(dev(&r, f, "create", "--trust", devt_lender_root(f->l),
	                     "--imei", IMEI1, "--imei2", IMEI2, "--serial",
	                     "R58N12ABCDE", NULL),
	                 0);
	assert_int_equal(r.status, 0);
	proc_result_free(&r);
}

static void create_and_enroll(struct fx *f)
{
	char *out;

	create_phone(f);
	out = devt_ok(f->dir, "enroll", "--server", devt_lender_url(f->l),
	              "--code", CODE);
	assert_non_null(strstr(out, "enrolled as dev_test1"));
	free(out);
}

static void start_run(struct fx *f)
{
	char *argv[] = {PROG, "--dir", f->dir, "run", NULL};

	f->run = devt_spawn(PROG, argv, f->log);
	assert_true(f->run > 0);
	assert_true(devt_wait_bool(f->dir, "running", true, 10000));
}

static void stop_run(struct fx *f)
{
	assert_int_equal(devt_stop(f->run, SIGTERM, 10000), 0);
	f->run = -1;
}

/* Changes the lender's claims for the phone and signs a new token. */
static void lender_state(struct fx *f, enum fl_dev_state st, fl_time lock_at)
{
	struct fl_fakesrv *s = devt_lender_begin(f->l);

	s->claims.state = st;
	if (lock_at != 0)
		s->claims.lock_at = lock_at;
	assert_int_equal(fl_fakesrv_issue(s), FL_OK);
	devt_lender_end(f->l);
}

static uint64_t lender_seq(struct fx *f)
{
	struct fl_fakesrv *s = devt_lender_begin(f->l);
	uint64_t seq = s->seq;

	devt_lender_end(f->l);
	return seq;
}

static const char *jstr(const json_t *j, const char *k)
{
	const char *s = json_string_value(json_object_get(j, k));
	return s != NULL ? s : "(missing)";
}

static long long jint(const json_t *j, const char *k)
{
	return (long long)json_integer_value(json_object_get(j, k));
}

static bool has(const json_t *list, const char *s)
{
	for (size_t i = 0; i < json_array_size(list); i++)
		if (strcmp(json_string_value(json_array_get(list, i)), s) == 0)
			return true;
	return false;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_enroll_lock_unlock(void **state)
{
	struct fx *f = *state;
	json_t *j;
	char *screen;
	int64_t t0;

	create_and_enroll(f);
	j = devt_status(f->dir);
	assert_non_null(j);
	assert_string_equal(jstr(j, "phase"), "enrolled");
	assert_string_equal(jstr(j, "state"), "active");
	assert_true(json_is_false(json_object_get(j, "locked")));
	assert_true(json_is_false(json_object_get(j, "setup_pending")));
	assert_string_equal(jstr(j, "device_id"), "dev_test1");
	assert_string_equal(jstr(j, "lender_name"), "Acme Finance");
	assert_true(has(json_object_get(j, "lender_phones"), "+254700000001"));
	assert_string_equal(jstr(j, "loan_ref"), "LN-0001");
	assert_int_equal(jint(j, "amount_due"), 1500);
	assert_string_equal(jstr(j, "currency"), "KES");
	assert_int_equal(jint(j, "seq"), (long long)lender_seq(f));
	assert_true(jint(j, "counter") >= 0);
	assert_true(json_is_string(json_object_get(j, "trusted_time")));
	assert_true(json_is_string(json_object_get(j, "lock_at")));
	assert_int_equal(json_array_size(json_object_get(j, "restrictions")),
	                 0);
	assert_string_equal(jstr(j, "server"), devt_lender_url(f->l));
	json_decref(j);

	start_run(f);
	devt_sleep_ms(500); /* the first check-in, then the long-poll */
	t0 = now_ms();
	lender_state(f, FL_ST_LOCKED, 0);
	assert_true(devt_wait_bool(f->dir, "locked", true, 5000));
	/* pushed through the long-poll, not found at a later check-in */
	assert_true(now_ms() - t0 < 3000);
	j = devt_status(f->dir);
	assert_string_equal(jstr(j, "state"), "locked");
	assert_true(json_array_size(json_object_get(j, "restrictions")) > 0);
	assert_true(has(json_object_get(j, "allow_apps"), "com.acme.pay"));
	assert_true(has(json_object_get(j, "guaranteed"), "emergency_calls"));
	assert_int_equal(jint(j, "seq"), (long long)lender_seq(f));
	json_decref(j);

	screen = devt_ok(f->dir, "screen", "--once", NULL, NULL, NULL);
	assert_non_null(strstr(
	        screen, "This device is locked due to an overdue installment"));
	assert_non_null(strstr(screen, "KES 15.00"));
	assert_non_null(strstr(screen, "Acme Finance"));
	assert_non_null(strstr(screen, "+254700000001"));
	assert_non_null(strstr(screen, "LN-0001"));
	assert_non_null(strstr(screen, "com.acme.pay"));
	assert_non_null(strstr(screen, "Emergency calls are always available"));
	free(screen);

	t0 = now_ms();
	lender_state(f, FL_ST_ACTIVE, 0);
	assert_true(devt_wait_bool(f->dir, "locked", false, 5000));
	assert_true(now_ms() - t0 < 3000);
	j = devt_status(f->dir);
	assert_int_equal(json_array_size(json_object_get(j, "restrictions")),
	                 0);
	json_decref(j);
	screen = devt_ok(f->dir, "screen", "--once", NULL, NULL, NULL);
	assert_non_null(strstr(screen, "Home"));
	assert_null(strstr(screen, "LOCKED"));
	free(screen);
	stop_run(f);
	assert_true(devt_count_lines(f->log, "LOCKED") >= 1);
	assert_true(devt_count_lines(f->log, "unlocked") >= 1);
}

static void test_failures_change_nothing(void **state)
{
	struct fx *f = *state;
	struct fl_fakesrv *s;
	json_t *j;
	long long seq;
	int fails;

	create_and_enroll(f);
	start_run(f);
	devt_sleep_ms(500);
	j = devt_status(f->dir);
	seq = jint(j, "seq");
	json_decref(j);

	/* garbage answers */
	s = devt_lender_begin(f->l);
	s->garbage = true;
	devt_lender_end(f->l);
	devt_sleep_ms(7000);
	assert_true(devt_alive(f->run));
	j = devt_status(f->dir);
	assert_string_equal(jstr(j, "phase"), "enrolled");
	assert_int_equal(jint(j, "seq"), seq);
	assert_true(json_is_false(json_object_get(j, "locked")));
	assert_true(jint(j, "failures") >= 1);
	json_decref(j);
	fails = devt_count_lines(f->log, "failed");
	assert_true(fails >= 1);
	assert_true(fails <= 4); /* backoff: one line a try, no flood */

	/* the server goes away altogether */
	devt_lender_stop(f->l);
	f->l = NULL;
	devt_sleep_ms(3000);
	assert_true(devt_alive(f->run));
	j = devt_status(f->dir);
	assert_int_equal(jint(j, "seq"), seq);
	assert_true(json_is_false(json_object_get(j, "locked")));
	json_decref(j);
	stop_run(f);
	f->l = devt_lender_start(); /* for teardown */
}

static void test_lock_at_offline(void **state)
{
	struct fx *f = *state;
	char *out;
	json_t *j;

	create_and_enroll(f);
	start_run(f);
	lender_state(f, FL_ST_ACTIVE, (fl_time)time(NULL) + 4);
	assert_true(devt_wait_bool(f->dir, "locked", false, 3000));
	for (int i = 0; i < 30; i++) {
		j = devt_status(f->dir);
		bool got = jint(j, "seq") == (long long)lender_seq(f);
		json_decref(j);
		if (got)
			break;
		devt_sleep_ms(100);
	}
	out = devt_ok(f->dir, "offline", "on", NULL, NULL, NULL);
	free(out);
	/* no network, yet the token's lock_at locks the phone on time */
	assert_true(devt_wait_bool(f->dir, "locked", true, 10000));
	j = devt_status(f->dir);
	assert_true(json_is_true(json_object_get(j, "offline")));
	assert_string_equal(jstr(j, "state"), "locked");
	json_decref(j);
	stop_run(f);
	assert_true(devt_count_lines(f->log, "offline") <= 4);
}

static void test_lock_at_while_long_polling(void **state)
{
	struct fx *f = *state;
	json_t *j;

	/* the lender never pushes anything at lock_at: the phone, in a
	 * long-poll the server holds for 30 s, must lock on its own time */
	devt_lender_set_hold(f->l, 30000);
	create_and_enroll(f);
	lender_state(f, FL_ST_ACTIVE, (fl_time)time(NULL) + 4);
	start_run(f);
	assert_true(devt_wait_bool(f->dir, "locked", false, 2000));
	assert_true(devt_wait_bool(f->dir, "locked", true, 9000));
	j = devt_status(f->dir);
	assert_true(json_is_false(json_object_get(j, "offline")));
	assert_int_equal(jint(j, "failures"), 0);
	json_decref(j);
	stop_run(f);
	assert_int_equal(devt_count_lines(f->log, "failed"), 0);
}

static void test_clock_forward_locks_until_set_right(void **state)
{
	struct fx *f = *state;
	char when[FL_TIME_STR_LEN];
	json_t *j;

	create_and_enroll(f);
	fl_time_format((fl_time)time(NULL) + 31 * FL_DAY, when);
	free(devt_ok(f->dir, "set-clock", when, NULL, NULL, NULL));
	j = devt_status(f->dir);
	assert_true(json_is_true(json_object_get(j, "locked")));
	json_decref(j);
	free(devt_ok(f->dir, "set-clock", "reset", NULL, NULL, NULL));
	j = devt_status(f->dir);
	assert_true(json_is_false(json_object_get(j, "locked")));
	json_decref(j);
}

static void test_reflash_stays_locked_then_pairs(void **state)
{
	struct fx *f = *state;
	struct fl_fakesrv *s;
	char code[32], *out, *screen, spaced[32];
	json_t *j;

	lender_state(f, FL_ST_LOCKED, 0);
	create_and_enroll(f);
	j = devt_status(f->dir);
	assert_true(json_is_true(json_object_get(j, "locked")));
	json_decref(j);

	free(devt_ok(f->dir, "reflash", NULL, NULL, NULL, NULL));
	j = devt_status(f->dir);
	assert_string_equal(jstr(j, "phase"), "setup");
	assert_string_equal(jstr(j, "device_id"), "");
	json_decref(j);

	/* the lookup brings the lock back; re-enrollment waits for the
	 * lender to approve the pairing code */
	out = devt_ok(f->dir, "enroll", "--server", devt_lender_url(f->l), NULL,
	              NULL);
	assert_non_null(strstr(out, "pairing code"));
	free(out);
	j = devt_status(f->dir);
	assert_string_equal(jstr(j, "phase"), "pairing");
	assert_true(json_is_true(json_object_get(j, "locked")));
	snprintf(code, sizeof(code), "%s", jstr(j, "pairing_code"));
	json_decref(j);
	assert_int_equal(strlen(code), 16);
	s = devt_lender_begin(f->l);
	assert_string_equal(s->pairing_code, code);
	s->pairing_approved = true;
	devt_lender_end(f->l);

	screen = devt_ok(f->dir, "screen", "--once", NULL, NULL, NULL);
	snprintf(spaced, sizeof(spaced), "%.4s %.4s %.4s %.4s", code, code + 4,
	         code + 8, code + 12);
	assert_non_null(strstr(screen, spaced));
	free(screen);

	out = devt_ok(f->dir, "enroll", NULL, NULL, NULL, NULL);
	assert_non_null(strstr(out, "enrolled as dev_test1"));
	free(out);
	j = devt_status(f->dir);
	assert_string_equal(jstr(j, "phase"), "enrolled");
	assert_true(json_is_true(json_object_get(j, "locked")));
	assert_string_equal(jstr(j, "pairing_code"), "");
	json_decref(j);
}

static void test_offline_code(void **state)
{
	struct fx *f = *state;
	struct fl_fakesrv *s;
	struct proc_result r;
	char code[FL_OCODE_LEN + 1];
	char *out;
	json_t *j;

	lender_state(f, FL_ST_LOCKED, 0);
	create_and_enroll(f);
	free(devt_ok(f->dir, "offline", "on", NULL, NULL, NULL));
	s = devt_lender_begin(f->l);
	assert_int_equal(fl_fakesrv_ocode(s, 1, FL_OCODE_UNLOCK_1D,
	                                  fl_time_day((fl_time)time(NULL), 0),
	                                  code),
	                 FL_OK);
	devt_lender_end(f->l);

	assert_int_equal(dev(&r, f, "enter-code", "0000000000", NULL), 0);
	assert_int_equal(r.status, 1);
	proc_result_free(&r);
	j = devt_status(f->dir);
	assert_int_equal(jint(j, "code_tries"), 1);
	assert_true(json_is_true(json_object_get(j, "locked")));
	json_decref(j);

	out = devt_ok(f->dir, "enter-code", code, NULL, NULL, NULL);
	assert_non_null(strstr(out, "unlocked until"));
	free(out);
	j = devt_status(f->dir);
	assert_true(json_is_false(json_object_get(j, "locked")));
	assert_true(json_is_string(json_object_get(j, "unlock_until")));
	assert_string_equal(jstr(j, "state"), "locked");
	json_decref(j);

	/* a code works once */
	assert_int_equal(dev(&r, f, "enter-code", code, NULL), 0);
	assert_int_equal(r.status, 1);
	proc_result_free(&r);
}

static void test_sim_and_root_reported(void **state)
{
	struct fx *f = *state;
	struct fl_fakesrv *s;
	struct proc_result r;
	bool seen = false;

	create_and_enroll(f);
	start_run(f);
	free(devt_ok(f->dir, "swap-sim", "8925402000000000009", NULL, NULL,
	             NULL));
	for (int i = 0; i < 50 && !seen; i++) {
		s = devt_lender_begin(f->l);
		seen = strcmp(s->last_report.iccid, "8925402000000000009") ==
		               0 &&
		       s->last_report.sim_changed;
		devt_lender_end(f->l);
		if (!seen)
			devt_sleep_ms(100);
	}
	assert_true(seen);

	free(devt_ok(f->dir, "root", NULL, NULL, NULL, NULL));
	seen = false;
	for (int i = 0; i < 50 && !seen; i++) {
		s = devt_lender_begin(f->l);
		seen = (s->last_report.tamper & FL_DP_TAMPER_ROOTED) != 0;
		devt_lender_end(f->l);
		if (!seen)
			devt_sleep_ms(100);
	}
	assert_true(seen);

	/* commands and status interleaved with run leave a sound phone */
	for (int i = 0; i < 6; i++) {
		assert_int_equal(dev(&r, f, "swap-sim",
		                     i % 2 ? "8925402000000000017"
		                           : "8925402000000000025",
		                     NULL),
		                 0);
		assert_int_equal(r.status, 0);
		proc_result_free(&r);
		assert_int_equal(dev(&r, f, "status", "--json", NULL), 0);
		assert_int_equal(r.status, 0);
		proc_result_free(&r);
	}
	assert_true(devt_alive(f->run));
	stop_run(f);
	assert_true(devt_wait_str(f->dir, "phase", "enrolled", 2000));
}

static void test_sim_change_locks_with_its_own_message(void **state)
{
	struct fx *f = *state;
	struct fl_fakesrv *s;
	char *screen;
	json_t *j;

	s = devt_lender_begin(f->l);
	s->claims.sim_policy = FL_REACT_LOCK;
	s->reissue_on_report = false; /* the lender leaves the lock on */
	devt_lender_end(f->l);
	create_and_enroll(f);
	free(devt_ok(f->dir, "swap-sim", "8925402000000000009", NULL, NULL,
	             NULL));
	j = devt_status(f->dir);
	assert_true(json_is_true(json_object_get(j, "locked")));
	assert_non_null(strstr(jstr(j, "message"), "SIM card was changed"));
	json_decref(j);
	screen = devt_ok(f->dir, "screen", "--once", NULL, NULL, NULL);
	assert_non_null(strstr(screen, "SIM card was changed"));
	assert_null(strstr(screen, "overdue"));
	assert_non_null(strstr(screen, "Emergency calls are always available"));
	free(screen);
}

/* Copies file dir/from to dir/to (both relative to the phone's dir). */
static void copy_file(const char *dir, const char *from, const char *to)
{
	char a[4096], b[4096], buf[65536];
	size_t n;
	FILE *in, *out;

	snprintf(a, sizeof(a), "%s/%s", dir, from);
	snprintf(b, sizeof(b), "%s/%s", dir, to);
	in = fopen(a, "rb");
	assert_non_null(in);
	out = fopen(b, "wb");
	assert_non_null(out);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		assert_int_equal(fwrite(buf, 1, n, out), n);
	fclose(in);
	assert_int_equal(fclose(out), 0);
}

/* The customer, with the phone's files in hand (docs/threat-model.md):
 * copies persist/ out while the phone is unlocked, puts it back once it
 * is locked, and edits a byte. Neither unlocks it; the next check-in puts
 * it right in one round trip. */
static void test_customer_with_the_files(void **state)
{
	struct fx *f = *state;
	char a[4096];
	json_t *j;
	FILE *fp;

	create_and_enroll(f);
	copy_file(f->dir, "persist/agent.state.a", "agent.state.a.saved");
	copy_file(f->dir, "persist/agent.state.b", "agent.state.b.saved");
	lender_state(f, FL_ST_LOCKED, 0);
	free(devt_ok(f->dir, "offline", "off", NULL, NULL, NULL));
	start_run(f);
	assert_true(devt_wait_bool(f->dir, "locked", true, 10000));
	stop_run(f);

	/* offline, the old copy put back */
	free(devt_ok(f->dir, "offline", "on", NULL, NULL, NULL));
	copy_file(f->dir, "agent.state.a.saved", "persist/agent.state.a");
	copy_file(f->dir, "agent.state.b.saved", "persist/agent.state.b");
	free(devt_ok(f->dir, "reboot", NULL, NULL, NULL, NULL));
	j = devt_status(f->dir);
	assert_true(json_is_true(json_object_get(j, "locked")));
	assert_string_equal(jstr(j, "lock_reason"), "unverified");
	assert_string_equal(jstr(j, "lender_name"), "Acme Finance");
	json_decref(j);

	/* a byte edited in both slots: still locked (setup, until the
	 * signed lookup answers) */
	for (int slot = 0; slot < 2; slot++) {
		snprintf(a, sizeof(a), "%s/persist/agent.state.%c", f->dir,
		         slot ? 'b' : 'a');
		fp = fopen(a, "r+b");
		assert_non_null(fp);
		assert_int_equal(fseek(fp, 40, SEEK_SET), 0);
		assert_int_equal(fputc('X', fp), 'X');
		assert_int_equal(fclose(fp), 0);
	}
	free(devt_ok(f->dir, "reboot", NULL, NULL, NULL, NULL));
	j = devt_status(f->dir);
	assert_true(json_is_true(json_object_get(j, "locked")) ||
	            json_is_true(json_object_get(j, "setup_pending")));
	assert_true(json_array_size(json_object_get(j, "restrictions")) > 0);
	json_decref(j);
}

static void test_enroll_refused(void **state)
{
	struct fx *f = *state;
	struct proc_result r;
	json_t *j;

	create_phone(f);
	assert_int_equal(dev(&r, f, "enroll", "--server", devt_lender_url(f->l),
	                     "--code", "WRONG-CODE", NULL),
	                 0);
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "unknown_code"));
	proc_result_free(&r);
	j = devt_status(f->dir);
	assert_string_equal(jstr(j, "phase"), "idle");
	assert_string_equal(jstr(j, "device_id"), "");
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_enroll_lock_unlock, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_failures_change_nothing,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_lock_at_offline, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_lock_at_while_long_polling,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_clock_forward_locks_until_set_right, setup,
	                teardown),
	        cmocka_unit_test_setup_teardown(
	                test_reflash_stays_locked_then_pairs, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_offline_code, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_sim_and_root_reported,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_sim_change_locks_with_its_own_message, setup,
	                teardown),
	        cmocka_unit_test_setup_teardown(test_customer_with_the_files,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_enroll_refused, setup,
	                                        teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
