/* finlock-device as a user drives it: create, status before enrollment,
 * refusals, the world commands (set-clock, swap-sim, root, offline), wipes
 * (factory-reset, reflash), run's start and clean stop, help everywhere. */
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
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/crypto.h"
#include "core/paserk.h"
#include "support/device_util.h"
#include "support/proc.h"

#define IMEI1 "352099001761481"
#define IMEI2 "352099001761499"
#define PROG  "finlock-device"

struct fx {
	char tmp[256];
	char dir[300]; /* the phone, not made yet */
	char root[FL_PASERK_PUBLIC_SIZE];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	uint8_t pk[FL_SIGN_PK_LEN], sk[FL_SIGN_SK_LEN];

	if (f == NULL || fl_crypto_init() != FL_OK ||
	    devt_tmpdir(f->tmp, "cli"))
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/phone", f->tmp);
	fl_sign_keypair(pk, sk);
	fl_wipe(sk, sizeof(sk));
	if (fl_paserk_public_encode(f->root, pk) != FL_OK)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	devt_rmtree(f->tmp);
	free(f);
	return 0;
}

/* finlock-device --dir f->dir with the arguments (NULL-ended). */
#define dev(r, f, ...) devt_cmd((r), (f)->dir, __VA_ARGS__)

static void create(const struct fx *f)
{
	struct proc_result r;

	assert_int_equal(dev(&r, f, "create", "--trust", f->root, "--imei",
	                     IMEI1, "--imei2", IMEI2, "--serial", "R58N12ABCDE",
	                     NULL),
	                 0);
	if (r.status != 0)
		fprintf(stderr, "create: %s", r.err);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, IMEI1));
	proc_result_free(&r);
}

static bool file_exists(const char *dir, const char *rel)
{
	char p[600];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	return stat(p, &st) == 0;
}

/* Reads dir/rel (at most 1024 bytes) into buf; its length, 0 if absent. */
static size_t read_bin(const char *dir, const char *rel, uint8_t buf[1024])
{
	char path[4096];
	size_t n;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	fp = fopen(path, "rb");
	if (fp == NULL)
		return 0;
	n = fread(buf, 1, 1024, fp);
	fclose(fp);
	return n;
}

static void put_file(const char *dir, const char *rel, const char *text)
{
	char p[600];
	FILE *fp;

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	fp = fopen(p, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

/* Lines in s (each ending in a newline). */
static int lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static const char *jstr(const json_t *j, const char *k)
{
	const char *s = json_string_value(json_object_get(j, k));
	return s != NULL ? s : "(missing)";
}

static void test_help_everywhere(void **state)
{
	static const char *const cmds[] = {
	        "create",    "enroll",     "run",     "status",
	        "screen",    "enter-code", "reflash", "factory-reset",
	        "set-clock", "swap-sim",   "root",    "offline",
	        "reboot"};
	struct proc_result r;
	char want[64];

	(void)state;
	assert_int_equal(proc_runl(&r, NULL, PROG, "--help", NULL), 0);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "usage: finlock-device"));
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		assert_non_null(strstr(r.out, cmds[i]));
	proc_result_free(&r);

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		assert_int_equal(
		        proc_runl(&r, NULL, PROG, cmds[i], "--help", NULL), 0);
		assert_int_equal(r.status, 0);
		snprintf(want, sizeof(want), "usage: finlock-device %s",
		         cmds[i]);
		assert_non_null(strstr(r.out, want));
		assert_string_equal(r.err, "");
		proc_result_free(&r);
	}

	/* no command, an unknown one, an unknown option: usage, one line */
	assert_int_equal(proc_runl(&r, NULL, PROG, NULL), 0);
	assert_int_equal(r.status, 2);
	proc_result_free(&r);
	assert_int_equal(proc_runl(&r, NULL, PROG, "fly", NULL), 0);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "unknown command"));
	assert_int_equal(lines(r.err), 1);
	proc_result_free(&r);
	assert_int_equal(proc_runl(&r, NULL, PROG, "status", "--bogus", NULL),
	                 0);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "--bogus"));
	proc_result_free(&r);
}

static void test_create_and_status_before_enrollment(void **state)
{
	struct fx *f = *state;
	struct proc_result r;
	json_t *j, *g;
	char *pub;
	char p[600];

	create(f);
	snprintf(p, sizeof(p), "%s/factory/root.pub", f->dir);
	pub = devt_read_file(p);
	assert_non_null(pub);
	assert_non_null(strstr(pub, f->root));
	free(pub);
	assert_true(file_exists(f->dir, "persist"));
	assert_true(file_exists(f->dir, "userdata"));

	j = devt_status(f->dir);
	assert_non_null(j);
	assert_string_equal(jstr(j, "phase"), "setup");
	assert_true(json_is_true(json_object_get(j, "setup_pending")));
	assert_true(json_is_false(json_object_get(j, "locked")));
	assert_string_equal(jstr(j, "state"), "pending");
	assert_true(json_is_false(json_object_get(j, "stolen")));
	assert_string_equal(jstr(j, "device_id"), "");
	assert_int_equal(json_integer_value(json_object_get(j, "seq")), 0);
	assert_int_equal(json_integer_value(json_object_get(j, "counter")), 0);
	assert_true(json_is_null(json_object_get(j, "trusted_time")));
	assert_true(json_is_null(json_object_get(j, "lock_at")));
	assert_string_equal(jstr(j, "pairing_code"), "");
	assert_int_equal(json_array_size(json_object_get(j, "imei")), 2);
	assert_string_equal(json_string_value(json_array_get(
	                            json_object_get(j, "imei"), 1)),
	                    IMEI2);
	assert_string_equal(jstr(j, "serial"), "R58N12ABCDE");
	assert_int_equal(strlen(jstr(j, "iccid")), 20);
	assert_true(json_is_false(json_object_get(j, "running")));
	assert_true(json_is_false(json_object_get(j, "offline")));
	/* until setup completes only the guaranteed capabilities stay */
	assert_true(json_array_size(json_object_get(j, "restrictions")) > 0);
	g = json_object_get(j, "guaranteed");
	assert_int_equal(json_array_size(g), 6);
	assert_string_equal(json_string_value(json_array_get(g, 0)),
	                    "emergency_calls");
	assert_true(json_is_array(json_object_get(j, "allow_apps")));
	assert_true(json_is_array(json_object_get(j, "notices")));
	assert_true(json_is_array(json_object_get(j, "lender_phones")));
	assert_true(json_is_integer(json_object_get(j, "amount_due")));
	assert_true(json_is_string(json_object_get(j, "currency")));
	assert_true(json_is_string(json_object_get(j, "lender_name")));
	assert_true(json_is_string(json_object_get(j, "loan_ref")));
	assert_true(json_is_string(json_object_get(j, "reminder")));
	assert_true(json_is_string(json_object_get(j, "message")));
	assert_true(json_object_get(j, "unlock_until") != NULL);
	assert_true(json_is_string(json_object_get(j, "updated_at")));
	assert_true(json_is_string(json_object_get(j, "wall_time")));
	assert_true(json_is_null(json_object_get(j, "has_receipt")) == false);
	json_decref(j);

	assert_int_equal(dev(&r, f, "status", NULL), 0);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "phase:"));
	assert_non_null(strstr(r.out, "setting up"));
	proc_result_free(&r);

	assert_int_equal(dev(&r, f, "screen", "--once", NULL), 0);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "SETTING UP"));
	assert_non_null(strstr(r.out, "Emergency calls are always available"));
	proc_result_free(&r);

	/* the environment variable names the phone too */
	setenv("FINLOCK_DEVICE_DIR", f->dir, 1);
	assert_int_equal(proc_runl(&r, NULL, PROG, "status", "--json", NULL),
	                 0);
	unsetenv("FINLOCK_DEVICE_DIR");
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "\"phase\": \"setup\""));
	proc_result_free(&r);

	/* an existing phone is not replaced without --force */
	assert_int_equal(dev(&r, f, "create", "--trust", f->root, "--imei",
	                     IMEI2, "--serial", "OTHER", NULL),
	                 0);
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "--force"));
	proc_result_free(&r);
	j = devt_status(f->dir);
	assert_string_equal(jstr(j, "serial"), "R58N12ABCDE");
	json_decref(j);
	assert_int_equal(dev(&r, f, "create", "--force", "--trust", f->root,
	                     "--imei", IMEI2, "--serial", "OTHER", "--iccid",
	                     "none", NULL),
	                 0);
	assert_int_equal(r.status, 0);
	proc_result_free(&r);
	j = devt_status(f->dir);
	assert_string_equal(jstr(j, "serial"), "OTHER");
	assert_string_equal(jstr(j, "iccid"), "");
	assert_int_equal(json_array_size(json_object_get(j, "imei")), 1);
	json_decref(j);
}

static void test_bad_input_creates_nothing(void **state)
{
	struct fx *f = *state;
	struct proc_result r;

	/* wrong check digit */
	assert_int_equal(dev(&r, f, "create", "--trust", f->root, "--imei",
	                     "352099001761482", "--serial", "S1", NULL),
	                 0);
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "IMEI"));
	assert_int_equal(lines(r.err), 1);
	proc_result_free(&r);
	assert_false(file_exists(f->dir, ""));

	/* a bad second IMEI, an IMEISV, a bad key, a bad ICCID */
	assert_int_equal(dev(&r, f, "create", "--trust", f->root, "--imei",
	                     IMEI1, "--imei2", "3520990017614", "--serial",
	                     "S1", NULL),
	                 0);
	assert_int_equal(r.status, 1);
	proc_result_free(&r);
	assert_int_equal(dev(&r, f, "create", "--trust", f->root, "--imei",
	                     "3520990017614810", "--serial", "S1", NULL),
	                 0);
	assert_int_equal(r.status, 1);
	proc_result_free(&r);
	assert_int_equal(dev(&r, f, "create", "--trust", "k4.public.nope",
	                     "--imei", IMEI1, "--serial", "S1", NULL),
	                 0);
	assert_int_equal(r.status, 1);
	proc_result_free(&r);
	assert_int_equal(dev(&r, f, "create", "--trust", f->root, "--imei",
	                     IMEI1, "--serial", "S1", "--iccid", "12ab", NULL),
	                 0);
	assert_int_equal(r.status, 1);
	proc_result_free(&r);
	assert_false(file_exists(f->dir, ""));

	/* missing required options are usage errors */
	assert_int_equal(
	        dev(&r, f, "create", "--trust", f->root, "--imei", IMEI1, NULL),
	        0);
	assert_int_equal(r.status, 2);
	proc_result_free(&r);
	assert_false(file_exists(f->dir, ""));

	/* commands on a phone that does not exist */
	assert_int_equal(dev(&r, f, "status", NULL), 0);
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "no phone"));
	proc_result_free(&r);
	assert_int_equal(dev(&r, f, "swap-sim", "none", NULL), 0);
	assert_int_equal(r.status, 1);
	proc_result_free(&r);
	assert_false(file_exists(f->dir, ""));
}

static void test_set_clock(void **state)
{
	struct fx *f = *state;
	struct proc_result r;
	char year[8];
	json_t *j;
	int y;

	create(f);
	assert_int_equal(dev(&r, f, "set-clock", "2031-03-04T05:06:07Z", NULL),
	                 0);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "2031-03-04T05:06:07Z"));
	proc_result_free(&r);
	j = devt_status(f->dir);
	assert_memory_equal(jstr(j, "wall_time"), "2031-03-04T05:0", 15);
	assert_true(json_integer_value(json_object_get(j, "clock_offset")) > 0);
	/* the agent acts on the later of the clocks */
	assert_memory_equal(jstr(j, "effective_time"), "2031-03-04T05:0", 15);
	json_decref(j);

	assert_int_equal(dev(&r, f, "set-clock", "yesterday", NULL), 0);
	assert_int_equal(r.status, 1);
	proc_result_free(&r);
	assert_int_equal(dev(&r, f, "set-clock", NULL), 0);
	assert_int_equal(r.status, 2);
	proc_result_free(&r);

	assert_int_equal(dev(&r, f, "set-clock", "reset", NULL), 0);
	assert_int_equal(r.status, 0);
	proc_result_free(&r);
	j = devt_status(f->dir);
	memcpy(year, jstr(j, "wall_time"), 4);
	year[4] = '\0';
	y = atoi(year);
	{
		time_t now = time(NULL);
		struct tm tm;
		gmtime_r(&now, &tm);
		assert_int_equal(y, tm.tm_year + 1900);
	}
	assert_int_equal(json_integer_value(json_object_get(j, "clock_offset")),
	                 0);
	json_decref(j);
}

static void test_swap_sim_root_offline(void **state)
{
	struct fx *f = *state;
	struct proc_result r;
	json_t *j, *t;

	create(f);
	assert_int_equal(dev(&r, f, "swap-sim", "8925402000000000009", NULL),
	                 0);
	assert_int_equal(r.status, 0);
	proc_result_free(&r);
	j = devt_status(f->dir);
	assert_string_equal(jstr(j, "iccid"), "8925402000000000009");
	json_decref(j);
	assert_int_equal(dev(&r, f, "swap-sim", "12x", NULL), 0);
	assert_int_equal(r.status, 1);
	proc_result_free(&r);
	assert_int_equal(dev(&r, f, "swap-sim", "none", NULL), 0);
	assert_int_equal(r.status, 0);
	proc_result_free(&r);
	j = devt_status(f->dir);
	assert_string_equal(jstr(j, "iccid"), "");
	json_decref(j);

	j = devt_status(f->dir);
	assert_int_equal(json_array_size(json_object_get(j, "tamper")), 0);
	json_decref(j);
	assert_int_equal(dev(&r, f, "root", NULL), 0);
	assert_int_equal(r.status, 0);
	proc_result_free(&r);
	j = devt_status(f->dir);
	t = json_object_get(j, "tamper");
	assert_int_equal(json_array_size(t), 1);
	assert_string_equal(json_string_value(json_array_get(t, 0)), "rooted");
	json_decref(j);
	assert_int_equal(dev(&r, f, "root", "--bootloader", NULL), 0);
	assert_int_equal(r.status, 0);
	proc_result_free(&r);
	j = devt_status(f->dir);
	assert_int_equal(json_array_size(json_object_get(j, "tamper")), 2);
	json_decref(j);

	assert_int_equal(dev(&r, f, "offline", "on", NULL), 0);
	assert_int_equal(r.status, 0);
	proc_result_free(&r);
	j = devt_status(f->dir);
	assert_true(json_is_true(json_object_get(j, "offline")));
	json_decref(j);
	/* offline: the server is never tried, exit 3 */
	assert_int_equal(dev(&r, f, "enroll", "--server", "http://127.0.0.1:1",
	                     "--code", "K7Q2-9XWD", NULL),
	                 0);
	assert_int_equal(r.status, 3);
	assert_non_null(strstr(r.err, "offline"));
	proc_result_free(&r);
	assert_int_equal(dev(&r, f, "offline", "maybe", NULL), 0);
	assert_int_equal(r.status, 2);
	proc_result_free(&r);
	assert_int_equal(dev(&r, f, "offline", "off", NULL), 0);
	assert_int_equal(r.status, 0);
	proc_result_free(&r);
	/* online, nothing listens there: unreachable, exit 3 */
	assert_int_equal(dev(&r, f, "enroll", "--code", "K7Q2-9XWD", NULL), 0);
	assert_int_equal(r.status, 3);
	assert_non_null(strstr(r.err, "unreachable"));
	proc_result_free(&r);
	j = devt_status(f->dir);
	assert_true(json_is_false(json_object_get(j, "offline")));
	assert_string_equal(jstr(j, "phase"), "setup");
	assert_string_equal(jstr(j, "server"), "http://127.0.0.1:1");
	json_decref(j);
	/* a code the agent cannot use before enrollment */
	assert_int_equal(dev(&r, f, "enter-code", "1234567890", NULL), 0);
	assert_int_equal(r.status, 1);
	proc_result_free(&r);
}

static void test_enroll_needs_a_server(void **state)
{
	struct fx *f = *state;
	struct proc_result r;

	create(f);
	assert_int_equal(dev(&r, f, "enroll", "--code", "K7Q2-9XWD", NULL), 0);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "--server"));
	proc_result_free(&r);
	assert_int_equal(dev(&r, f, "enroll", "--server", "ftp://x", "--code",
	                     "K7Q2-9XWD", NULL),
	                 0);
	assert_int_equal(r.status, 2);
	proc_result_free(&r);
}

static void test_factory_reset_and_reflash(void **state)
{
	struct fx *f = *state;
	struct proc_result r;
	json_t *j;
	long long boots;
	uint8_t rom[1024], keys[1024];
	size_t rom_len, keys_len;

	create(f);
	put_file(f->dir, "persist/p.blob", "persistent");
	put_file(f->dir, "userdata/photo.jpg", "user data");
	assert_int_equal(dev(&r, f, "root", NULL), 0);
	proc_result_free(&r);
	j = devt_status(f->dir);
	boots = json_integer_value(json_object_get(j, "boots"));
	json_decref(j);

	assert_int_equal(dev(&r, f, "factory-reset", NULL), 0);
	assert_int_equal(r.status, 0);
	proc_result_free(&r);
	assert_false(file_exists(f->dir, "userdata/photo.jpg"));
	assert_true(file_exists(f->dir, "persist/p.blob"));
	assert_true(file_exists(f->dir, "persist/agent.state.a") ||
	            file_exists(f->dir, "persist/agent.state.b"));
	/* the secure hardware is untouched by a factory reset */
	assert_true(file_exists(f->dir, "tee/rom"));
	assert_true(file_exists(f->dir, "tee/keys"));
	rom_len = read_bin(f->dir, "tee/rom", rom);
	keys_len = read_bin(f->dir, "tee/keys", keys);
	assert_true(rom_len > 0);
	assert_true(keys_len > 0);
	j = devt_status(f->dir);
	assert_int_equal(json_integer_value(json_object_get(j, "boots")),
	                 boots + 1);
	assert_int_equal(json_array_size(json_object_get(j, "tamper")), 1);
	json_decref(j);

	put_file(f->dir, "userdata/photo.jpg", "user data");
	assert_int_equal(dev(&r, f, "reflash", NULL), 0);
	assert_int_equal(r.status, 0);
	proc_result_free(&r);
	assert_false(file_exists(f->dir, "persist/p.blob"));
	/* a reflash wipes the agent's keys in the secure hardware (a new
	 * sealing key may be made at once), never the factory key */
	{
		uint8_t rom2[1024], keys2[1024];
		assert_int_equal(read_bin(f->dir, "tee/rom", rom2), rom_len);
		assert_memory_equal(rom2, rom, rom_len);
		assert_true(read_bin(f->dir, "tee/keys", keys2) != keys_len ||
		            memcmp(keys2, keys, keys_len) != 0);
	}
	assert_false(file_exists(f->dir, "userdata/photo.jpg"));
	assert_true(file_exists(f->dir, "factory/root.pub"));
	assert_true(file_exists(f->dir, "factory/device.json"));
	j = devt_status(f->dir);
	assert_string_equal(jstr(j, "phase"), "setup");
	assert_int_equal(json_array_size(json_object_get(j, "tamper")), 0);
	assert_int_equal(json_array_size(json_object_get(j, "imei")), 2);
	assert_int_equal(json_integer_value(json_object_get(j, "boots")),
	                 boots + 2);
	json_decref(j);

	assert_int_equal(dev(&r, f, "reboot", NULL), 0);
	assert_int_equal(r.status, 0);
	proc_result_free(&r);
	j = devt_status(f->dir);
	assert_int_equal(json_integer_value(json_object_get(j, "boots")),
	                 boots + 3);
	json_decref(j);
}

static void test_run_starts_and_stops_cleanly(void **state)
{
	struct fx *f = *state;
	struct proc_result r;
	char log[600];
	char *argv[] = {PROG, "--dir", f->dir, "run", NULL};
	pid_t pid;
	json_t *j;
	int failures;

	create(f);
	snprintf(log, sizeof(log), "%s/run.log", f->tmp);
	pid = devt_spawn(PROG, argv, log);
	assert_true(pid > 0);
	assert_true(devt_wait_bool(f->dir, "running", true, 10000));

	/* one run per phone */
	assert_int_equal(dev(&r, f, "run", NULL), 0);
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "already running"));
	proc_result_free(&r);

	/* commands work while it runs (it yields the phone to them) */
	assert_int_equal(dev(&r, f, "swap-sim", "8925402000000000017", NULL),
	                 0);
	assert_int_equal(r.status, 0);
	proc_result_free(&r);
	j = devt_status(f->dir);
	assert_string_equal(jstr(j, "iccid"), "8925402000000000017");
	assert_true(json_is_true(json_object_get(j, "running")));
	json_decref(j);
	assert_int_equal(dev(&r, f, "screen", "--once", NULL), 0);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "running"));
	proc_result_free(&r);

	/* commands at the same time as each other and as run: each waits
	 * its turn, none fails, nothing is corrupted */
	{
		char *sims[] = {"8925402000000000025", "8925402000000000033",
		                "8925402000000000041", "8925402000000000058"};
		pid_t kids[8];
		char clog[600];

		snprintf(clog, sizeof(clog), "%s/cmds.log", f->tmp);
		for (int i = 0; i < 4; i++) {
			char *a1[] = {PROG,       "--dir", f->dir,
			              "swap-sim", sims[i], NULL};
			char *a2[] = {PROG,     "--dir",  f->dir,
			              "status", "--json", NULL};
			kids[2 * i] = devt_spawn(PROG, a1, clog);
			kids[2 * i + 1] = devt_spawn(PROG, a2, clog);
		}
		for (int i = 0; i < 8; i++)
			assert_int_equal(devt_stop(kids[i], 0, 30000), 0);
		j = devt_status(f->dir);
		assert_non_null(j);
		assert_memory_equal(jstr(j, "iccid"), "89254020000000000", 17);
		assert_string_equal(jstr(j, "phase"), "setup");
		json_decref(j);
	}

	devt_sleep_ms(3000);
	assert_true(devt_alive(pid));
	assert_int_equal(devt_stop(pid, SIGTERM, 10000), 0);
	/* no server: each failure is one line, retried with backoff */
	failures = devt_count_lines(log, "setup lookup failed");
	assert_true(failures >= 1);
	assert_true(failures <= 4);
	assert_int_equal(devt_count_lines(log, "stopped"), 1);
	j = devt_status(f->dir);
	assert_true(json_is_false(json_object_get(j, "running")));
	json_decref(j);

	/* SIGINT stops it cleanly too */
	pid = devt_spawn(PROG, argv, log);
	assert_true(devt_wait_bool(f->dir, "running", true, 10000));
	assert_int_equal(devt_stop(pid, SIGINT, 10000), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_help_everywhere, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(
	                test_create_and_status_before_enrollment, setup,
	                teardown),
	        cmocka_unit_test_setup_teardown(test_bad_input_creates_nothing,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_set_clock, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_swap_sim_root_offline,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_enroll_needs_a_server,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_factory_reset_and_reflash,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_run_starts_and_stops_cleanly, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
