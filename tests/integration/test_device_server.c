/* finlock-device against a real finlockd: the simulated phone enrolls with
 * a clerk's code, runs its firmware loop, and the lender's actions reach
 * it: a payment unlocks it, a manual lock and unlock are pushed through
 * the long-poll (the server runs on a test clock that stands still, so a
 * long-poll never ends at its timeout: only a push answers it), a server that
 * goes down changes nothing and is found again when it is back, a reflashed
 * phone stays locked and re-enrolls by the pairing code support approves, an
 * offline code read over the phone unlocks it, and a SIM swap reaches the
 * lender. */
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

#include "core/crypto.h"
#include "core/fltime.h"
#include "core/paserk.h"
#include "support/devapi_phone.h"
#include "support/device_util.h"
#include "support/proc.h"
#include "support/server_harness.h"

#define PROG "finlock-device"

static struct srv *S;
static struct devapi_lender L;
static char SUPPORT[64];
static char ROOT[FL_PASERK_PUBLIC_SIZE];
static unsigned next_imei = 7100;

/* One phone and its record on the server. */
struct fx {
	char tmp[256], dir[300], log[300];
	char imei1[16], imei2[16], id[64], code[64];
	pid_t run;
};

static int group_setup(void **state)
{
	struct srv_opts o = {.clock = (long long)time(NULL)};

	(void)state;
	if (devapi_start_opts(&S, &L, &o) != 0 ||
	    srv_key(S, L.admin, "support", SUPPORT) != 0)
		return -1;
	return fl_paserk_public_encode(ROOT, L.root) == FL_OK ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	srv_free(S);
	return 0;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL || devt_tmpdir(f->tmp, "devsrv") != 0)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/phone", f->tmp);
	snprintf(f->log, sizeof(f->log), "%s/run.log", f->tmp);
	devapi_imei(next_imei++, f->imei1);
	devapi_imei(next_imei++, f->imei2);
	if (devapi_register(S, &L, f->imei1, f->imei2, f->id, f->code) != 0)
		return -1;
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
	devt_rmtree(f->tmp);
	free(f);
	return 0;
}

/* finlock-device --dir f->dir with the arguments (NULL-ended). */
#define dev(r, f, ...) devt_cmd((r), (f)->dir, __VA_ARGS__)

static const char *jstr(const json_t *j, const char *k)
{
	const char *s = json_string_value(json_object_get(j, k));
	return s != NULL ? s : "(missing)";
}

static bool has(const json_t *list, const char *s)
{
	for (size_t i = 0; i < json_array_size(list); i++)
		if (strcmp(json_string_value(json_array_get(list, i)), s) == 0)
			return true;
	return false;
}

/* One installment of 1,500.00 KES, due long ago (locked) or in 30 days. */
static void contract(const struct fx *f, bool overdue, const char *sim)
{
	char due[FL_TIME_STR_LEN];

	fl_time_format((fl_time)srv_clock(S) + 30 * FL_DAY, due);
	assert_int_equal(devapi_contract(S, &L, f->id,
	                                 overdue ? "2025-01-01" : due, 150000,
	                                 0, sim, "none"),
	                 0);
}

static void create_and_enroll(struct fx *f)
{
	struct proc_result r;
	char *out;

	assert_int_equal(dev(&r, f, "create", "--trust", ROOT, "--imei",
	                     f->imei1, "--imei2", f->imei2, "--serial",
	                     "SN-DEVICE", NULL),
	                 0);
	assert_int_equal(r.status, 0);
	proc_result_free(&r);
	out = devt_ok(f->dir, "enroll", "--server", srv_url(S), "--code",
	              f->code);
	assert_non_null(strstr(out, f->id));
	free(out);
}

static void start_run(struct fx *f)
{
	char *argv[] = {PROG, "--dir", f->dir, "run", NULL};

	f->run = devt_spawn(PROG, argv, f->log);
	assert_true(f->run > 0);
	/* a change made before its first check-in comes with that
	 * check-in, one made later through the long-poll */
	assert_true(devt_wait_bool(f->dir, "running", true, 10000));
}

static void stop_run(struct fx *f)
{
	assert_int_equal(devt_stop(f->run, SIGTERM, 15000), 0);
	f->run = -1;
}

static long api(const char *method, const char *path, const char *key,
                const char *body, struct srv_res *r)
{
	assert_int_equal(srv_req(S, method, path, key, body, r), 0);
	return r->status;
}

static void test_payment_unlocks(void **state)
{
	struct fx *f = *state;
	char *screen;
	json_t *j;

	contract(f, true, "none");
	create_and_enroll(f);
	j = devt_status(f->dir);
	assert_non_null(j);
	assert_string_equal(jstr(j, "phase"), "enrolled");
	assert_string_equal(jstr(j, "device_id"), f->id);
	assert_true(json_is_true(json_object_get(j, "locked")));
	assert_string_equal(jstr(j, "state"), "locked");
	assert_int_equal(json_integer_value(json_object_get(j, "amount_due")),
	                 150000);
	assert_string_equal(jstr(j, "currency"), "KES");
	assert_string_equal(jstr(j, "lender_name"), "Acme Finance");
	assert_true(has(json_object_get(j, "lender_phones"), "+254700000001"));
	assert_true(strncmp(jstr(j, "loan_ref"), "LN-0001-", 8) == 0);
	assert_true(has(json_object_get(j, "allow_apps"), "com.acme.pay"));
	assert_true(json_array_size(json_object_get(j, "restrictions")) > 0);
	assert_true(json_is_string(json_object_get(j, "trusted_time")));
	json_decref(j);

	screen = devt_ok(f->dir, "screen", "--once", NULL, NULL, NULL);
	assert_non_null(strstr(
	        screen, "This device is locked due to an overdue installment"));
	assert_non_null(strstr(screen, "Pay your installment to unlock"));
	assert_non_null(strstr(screen, "KES 1,500.00"));
	assert_non_null(strstr(screen, "Acme Finance"));
	assert_non_null(strstr(screen, "+254700000001"));
	assert_non_null(strstr(screen, "LN-0001"));
	assert_non_null(strstr(screen, "com.acme.pay"));
	assert_non_null(strstr(screen, "Emergency calls are always available"));
	free(screen);

	start_run(f);
	assert_int_equal(devapi_pay(S, &L, f->id, 150000), 0);
	assert_true(devt_wait_bool(f->dir, "locked", false, 20000));
	j = devt_status(f->dir);
	assert_int_equal(json_array_size(json_object_get(j, "restrictions")),
	                 0);
	json_decref(j);
	/* paid off: released for good */
	assert_true(devt_wait_str(f->dir, "phase", "released", 10000));
	stop_run(f);
}

static void test_manual_lock_and_unlock_pushed(void **state)
{
	struct fx *f = *state;
	struct srv_res r;
	char path[160], body[160], until[FL_TIME_STR_LEN];

	contract(f, false, "none");
	create_and_enroll(f);
	assert_true(devt_wait_bool(f->dir, "locked", false, 1000));
	start_run(f);

	snprintf(path, sizeof(path), "/v1/devices/%s/lock", f->id);
	assert_int_equal(api("POST", path, L.admin,
	                     "{\"reason\":\"customer unreachable\"}", &r),
	                 200);
	srv_res_free(&r);
	assert_true(devt_wait_bool(f->dir, "locked", true, 20000));

	snprintf(path, sizeof(path), "/v1/devices/%s/unlock", f->id);
	fl_time_format((fl_time)srv_clock(S) + 2 * FL_DAY, until);
	snprintf(body, sizeof(body),
	         "{\"reason\":\"promised to pay\",\"until\":\"%s\"}", until);
	assert_int_equal(api("POST", path, L.admin, body, &r), 200);
	srv_res_free(&r);
	assert_true(devt_wait_bool(f->dir, "locked", false, 20000));
	stop_run(f);
	assert_int_equal(devt_count_lines(f->log, "failed"), 0);
}

static void test_server_down_changes_nothing(void **state)
{
	struct fx *f = *state;
	struct srv_res r;
	char path[160];
	long long seq;
	json_t *j;
	int fails;

	contract(f, false, "none");
	create_and_enroll(f);
	start_run(f);
	j = devt_status(f->dir);
	seq = (long long)json_integer_value(json_object_get(j, "seq"));
	json_decref(j);

	assert_int_equal(srv_stop(S), 0);
	devt_sleep_ms(6000);
	assert_true(devt_alive(f->run));
	j = devt_status(f->dir);
	assert_string_equal(jstr(j, "phase"), "enrolled");
	assert_int_equal(json_integer_value(json_object_get(j, "seq")), seq);
	assert_true(json_is_false(json_object_get(j, "locked")));
	json_decref(j);
	fails = devt_count_lines(f->log, "failed");
	assert_true(fails >= 1);
	assert_true(fails <= 4); /* one line a try, with backoff */

	/* back up: the phone finds it again at its next try */
	assert_int_equal(srv_restart(S), 0);
	snprintf(path, sizeof(path), "/v1/devices/%s/lock", f->id);
	assert_int_equal(
	        api("POST", path, L.admin, "{\"reason\":\"test\"}", &r), 200);
	srv_res_free(&r);
	assert_true(devt_wait_bool(f->dir, "locked", true, 25000));
	assert_true(devt_count_lines(f->log, "reachable again") >= 1);
	stop_run(f);
}

static void test_reflash_stays_locked_and_pairs(void **state)
{
	struct fx *f = *state;
	struct srv_res r;
	char path[160], body[96], code[32], *out;
	json_t *j;
	bool shown = false;

	contract(f, true, "none");
	create_and_enroll(f);
	free(devt_ok(f->dir, "reflash", NULL, NULL, NULL, NULL));
	j = devt_status(f->dir);
	assert_string_equal(jstr(j, "phase"), "setup");
	assert_string_equal(jstr(j, "server"), "");
	json_decref(j);

	/* the firmware finds its server from the command line, looks the
	 * IMEI up and shows a pairing code; the lock is back at once */
	{
		char *argv[] = {PROG,  "--dir",    f->dir,
		                "run", "--server", (char *)srv_url(S),
		                NULL};
		f->run = devt_spawn(PROG, argv, f->log);
		assert_true(f->run > 0);
	}
	for (int i = 0; i < 100 && !shown; i++) {
		j = devt_status(f->dir);
		shown = j != NULL && strlen(jstr(j, "pairing_code")) == 16;
		if (shown) {
			assert_string_equal(jstr(j, "phase"), "pairing");
			assert_true(json_is_true(json_object_get(j, "locked")));
			snprintf(code, sizeof(code), "%s",
			         jstr(j, "pairing_code"));
		}
		json_decref(j);
		if (!shown)
			devt_sleep_ms(100);
	}
	assert_true(shown);

	/* the customer reads the code out; support approves it */
	snprintf(path, sizeof(path), "/v1/devices/%s/approve-pairing", f->id);
	snprintf(body, sizeof(body), "{\"pairing_code\":\"%s\"}", code);
	assert_int_equal(api("POST", path, SUPPORT, body, &r), 200);
	srv_res_free(&r);

	/* enroll asks run for the phone and finishes the pairing */
	out = devt_ok(f->dir, "enroll", NULL, NULL, NULL, NULL);
	assert_non_null(strstr(out, f->id));
	free(out);
	j = devt_status(f->dir);
	assert_string_equal(jstr(j, "phase"), "enrolled");
	assert_true(json_is_true(json_object_get(j, "locked")));
	assert_string_equal(jstr(j, "pairing_code"), "");
	json_decref(j);

	/* and the paying customer is unlocked through run's long-poll */
	assert_int_equal(devapi_pay(S, &L, f->id, 150000), 0);
	assert_true(devt_wait_bool(f->dir, "locked", false, 20000));
	stop_run(f);
}

static void test_offline_code(void **state)
{
	struct fx *f = *state;
	struct srv_res r;
	struct proc_result pr;
	char path[160], code[16], *out;
	json_t *j;

	contract(f, true, "none");
	create_and_enroll(f);
	free(devt_ok(f->dir, "offline", "on", NULL, NULL, NULL));
	snprintf(path, sizeof(path), "/v1/devices/%s/offline-code", f->id);
	assert_int_equal(api("POST", path, SUPPORT, "{\"days\":3}", &r), 201);
	snprintf(code, sizeof(code), "%s", srv_jstr(&r, "code"));
	srv_res_free(&r);
	assert_int_equal(strlen(code), 10);

	assert_int_equal(dev(&pr, f, "enter-code", "1111111111", NULL), 0);
	assert_int_equal(pr.status, 1);
	proc_result_free(&pr);
	out = devt_ok(f->dir, "enter-code", code, NULL, NULL, NULL);
	assert_non_null(strstr(out, "unlocked until"));
	free(out);
	j = devt_status(f->dir);
	assert_true(json_is_false(json_object_get(j, "locked")));
	assert_true(json_is_string(json_object_get(j, "unlock_until")));
	assert_int_equal(json_integer_value(json_object_get(j, "code_tries")),
	                 1);
	json_decref(j);
}

static void test_sim_swap_reaches_the_lender(void **state)
{
	struct fx *f = *state;
	struct srv_res r;
	bool seen = false;

	contract(f, false, "notify");
	create_and_enroll(f);
	start_run(f);
	free(devt_ok(f->dir, "swap-sim", "8925402000000000009", NULL, NULL,
	             NULL));
	for (int i = 0; i < 50 && !seen; i++) {
		assert_int_equal(devapi_show(S, &L, f->id, &r), 0);
		seen = json_is_object(json_object_get(r.json, "sim"));
		srv_res_free(&r);
		if (!seen)
			devt_sleep_ms(100);
	}
	assert_true(seen);
	/* notify: a notice on the phone, no lock */
	assert_true(devt_wait_bool(f->dir, "locked", false, 1000));
	stop_run(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_payment_unlocks, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(
	                test_manual_lock_and_unlock_pushed, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_server_down_changes_nothing, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_reflash_stays_locked_and_pairs, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_offline_code, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(
	                test_sim_swap_reaches_the_lender, setup, teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
