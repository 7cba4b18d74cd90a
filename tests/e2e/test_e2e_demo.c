/*
 * The demo (`make run` runs scripts/demo.sh once the programs are built):
 * started in the background as `make run` starts it, in its own process
 * group as a terminal would, it prints the server's address, the demo API
 * key and commands to try; the phones really are paying, in reminder,
 * locked and released; a printed command works as printed; Ctrl-C (SIGINT
 * to the group) stops it cleanly with every process it started gone; and a
 * second run starts afresh on the same folder.
 *
 * The programs are $FINLOCK_BIN's (FINLOCK_DEMO_BIN), the demo folder a
 * temporary one (FINLOCK_DEMO_DIR) and the port one the kernel picks
 * (FINLOCK_DEMO_LISTEN), so a developer's own ./demo and port 8080 are left
 * alone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/device_util.h"
#include "support/e2e_world.h"
#include "support/proc.h"

static char TMP[256], DEMO[300], OUT[300];
static pid_t RUNNING; /* the demo's process group while it runs, else 0 */

static int setup(void **state)
{
	(void)state;
	if (access("scripts/demo.sh", R_OK) != 0) {
		fprintf(stderr, "run from the repository's top\n");
		return -1;
	}
	if (devt_tmpdir(TMP, "demo") != 0)
		return -1;
	snprintf(DEMO, sizeof(DEMO), "%s/demo", TMP);
	snprintf(OUT, sizeof(OUT), "%s/demo.out", TMP);
	return 0;
}

/* Stops a demo a failed test left running. */
static int stop_left(void **state)
{
	(void)state;
	if (RUNNING > 0) {
		kill(-RUNNING, SIGTERM);
		devt_stop(RUNNING, 0, 30000);
		RUNNING = 0;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (getenv("E2E_KEEP") == NULL)
		devt_rmtree(TMP);
	return 0;
}

/* Starts `sh scripts/demo.sh` in a process group of its own, its output
 * (stdout and stderr) going to OUT (truncated). */
static pid_t start_demo(void)
{
	pid_t pid;

	unlink(OUT); /* what an earlier run printed is not this one's */
	pid = fork();
	if (pid == 0) {
		char bin[1024];
		int fd = open(OUT, O_WRONLY | O_CREAT | O_APPEND, 0600);
		int null = open("/dev/null", O_RDONLY);

		if (fd < 0 || null < 0)
			_exit(127);
		setpgid(0, 0);
		/* a test that dies stops the demo (its trap stops the rest) */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		snprintf(bin, sizeof(bin), "%s", proc_bin("finlockd"));
		*strrchr(bin, '/') = '\0';
		setenv("FINLOCK_DEMO_BIN", bin, 1);
		setenv("FINLOCK_DEMO_DIR", DEMO, 1);
		setenv("FINLOCK_DEMO_LISTEN", "127.0.0.1:0", 1);
		dup2(null, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		execl("/bin/sh", "sh", "scripts/demo.sh", (char *)NULL);
		_exit(127);
	}
	if (pid > 0) {
		setpgid(pid, pid);
		RUNNING = pid;
	}
	return pid;
}

/* Waits up to timeout_ms for OUT to contain needle; returns its text
 * (caller frees) or NULL, printing it, on timeout or when the demo ended. */
static char *await_output(pid_t pid, const char *needle, int timeout_ms)
{
	int64_t deadline = e2e_ms() + timeout_ms;

	for (;;) {
		char *out = devt_read_file(OUT);

		if (out != NULL && strstr(out, needle) != NULL)
			return out;
		if (e2e_ms() >= deadline || !devt_alive(pid)) {
			fprintf(stderr,
			        "demo never printed '%s'; it printed:\n%s\n",
			        needle, out != NULL ? out : "");
			free(out);
			return NULL;
		}
		free(out);
		e2e_sleep_ms(100);
	}
}

/* The word following prefix in text, into out (size n). */
static void word_after(const char *text, const char *prefix, char *out,
                       size_t n)
{
	const char *p = strstr(text, prefix);

	assert_non_null(p);
	p += strlen(prefix);
	while (*p == ' ' || *p == '\n')
		p++;
	snprintf(out, n, "%.*s", (int)strcspn(p, " \n"), p);
}

/* The whole printed line containing needle, trimmed, into out. */
static void line_with(const char *text, const char *needle, char *out, size_t n)
{
	const char *p = strstr(text, needle), *start;

	assert_non_null(p);
	start = p;
	while (start > text && start[-1] != '\n')
		start--;
	while (*start == ' ')
		start++;
	snprintf(out, n, "%.*s", (int)strcspn(start, "\n"), start);
}

/* The phone's status in the demo's folder. */
static json_t *phone_status(const char *name)
{
	char dir[400];

	snprintf(dir, sizeof(dir), "%s/phones/%s", DEMO, name);
	return devt_status(dir);
}

/* The pids the demo recorded (finlockd and the phones). */
static int demo_pids(pid_t *pids, int max)
{
	char path[400];
	FILE *f;
	int n = 0;
	long v;

	snprintf(path, sizeof(path), "%s/pids", DEMO);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	while (n < max && fscanf(f, "%ld", &v) == 1)
		pids[n++] = (pid_t)v;
	fclose(f);
	return n;
}

/* SIGINT to the demo's process group, as Ctrl-C in its terminal; then
 * every process it started is gone. */
static void interrupt(pid_t pid)
{
	pid_t pids[16];
	int n = demo_pids(pids, 16), rc;
	char *out;

	assert_int_equal(n, 6); /* finlockd and five phones */
	for (int i = 0; i < n; i++)
		assert_int_equal(kill(pids[i], 0), 0);
	assert_int_equal(kill(-pid, SIGINT), 0);
	rc = devt_stop(pid, 0, 30000);
	RUNNING = 0;
	assert_int_equal(rc, 0);
	out = devt_read_file(OUT);
	assert_non_null(strstr(out, "Stopped."));
	free(out);
	for (int i = 0; i < n; i++) {
		errno = 0;
		assert_int_equal(kill(pids[i], 0), -1);
		assert_int_equal(errno, ESRCH);
	}
}

static void demo_runs_and_stops(void **state)
{
	char url[128], key[128], cmd[1100], line[1024];
	struct proc_result r;
	json_t *j, *st, *v;
	const char *states[][2] = {{"352099001761481", "active"},
	                           {"352099001761507", "reminding"},
	                           {"352099001761515", "locked"},
	                           {"352099001761523", "released"}};
	int64_t t0;
	size_t i;
	pid_t pid;
	char *out;

	(void)state;
	pid = start_demo();
	assert_true(pid > 0);
	t0 = e2e_ms();
	out = await_output(pid, "Press Ctrl-C to stop.", 90000);
	assert_non_null(out);
	printf("demo: ready in %lld ms\n", (long long)(e2e_ms() - t0));

	/* the address, the key, and three things to try */
	word_after(out, "server ", url, sizeof(url));
	assert_int_equal(strncmp(url, "http://127.0.0.1:", 17), 0);
	word_after(out, "admin API key:", key, sizeof(key));
	assert_int_equal(strncmp(key, "fl_", 3), 0);
	assert_non_null(strstr(out, "  1. "));
	assert_non_null(strstr(out, "  2. "));
	assert_non_null(strstr(out, "  3. "));
	assert_non_null(strstr(out, "devices list --server"));
	assert_non_null(strstr(out, "imei verify-cert cert.json --root k4."));

	/* the lender's devices are in the four states */
	assert_int_equal(proc_runl(&r, NULL, "finlock", "devices", "list",
	                           "--json", "--server", url, "--key", key,
	                           NULL),
	                 0);
	assert_int_equal(r.status, 0);
	j = json_loads(r.out, 0, NULL);
	assert_non_null(j);
	proc_result_free(&r);
	assert_int_equal(json_array_size(json_object_get(j, "items")), 5);
	for (size_t k = 0; k < 4; k++) {
		bool found = false;

		json_array_foreach(json_object_get(j, "items"), i, v)
		{
			if (strcmp(e2e_jstr(v, "imei"), states[k][0]) == 0) {
				assert_string_equal(e2e_jstr(v, "state"),
				                    states[k][1]);
				found = true;
			}
		}
		assert_true(found);
	}
	json_decref(j);

	/* and so are the phones */
	st = phone_status("amina");
	assert_string_equal(e2e_jstr(st, "state"), "active");
	assert_false(e2e_jbool(st, "locked"));
	assert_true(e2e_jbool(st, "running"));
	json_decref(st);
	st = phone_status("baraka");
	assert_string_equal(e2e_jstr(st, "state"), "reminding");
	v = json_array_get(json_object_get(st, "notifications"), 0);
	assert_string_equal(e2e_jstr(v, "kind"), "reminder");
	assert_non_null(strstr(e2e_jstr(v, "text"), "KES 1,500.00"));
	json_decref(st);
	st = phone_status("chidi");
	assert_true(e2e_jbool(st, "locked"));
	assert_int_equal(e2e_jint(st, "amount_due"), 150000);
	json_decref(st);
	st = phone_status("dalia");
	assert_string_equal(e2e_jstr(st, "phase"), "released");
	assert_false(e2e_jbool(st, "locked"));
	json_decref(st);

	/* the printed payment works as printed, and chidi unlocks */
	line_with(out, "payments record 352099001761515", line, sizeof(line));
	snprintf(cmd, sizeof(cmd), "%s >/dev/null 2>&1", line);
	assert_int_equal(system(cmd), 0);
	{
		char dir[400];

		snprintf(dir, sizeof(dir), "%s/phones/chidi", DEMO);
		assert_true(devt_wait_bool(dir, "locked", false, 5000));
	}
	free(out);

	interrupt(pid);
}

static void demo_runs_twice(void **state)
{
	char *out;
	pid_t pid;
	json_t *st;

	(void)state;
	/* a second run on the folder the first one left: afresh */
	pid = start_demo();
	assert_true(pid > 0);
	out = await_output(pid, "Press Ctrl-C to stop.", 90000);
	assert_non_null(out);
	free(out);
	st = phone_status("chidi");
	assert_true(e2e_jbool(st, "locked"));
	json_decref(st);
	interrupt(pid);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_teardown(demo_runs_and_stops, stop_left),
	        cmocka_unit_test_teardown(demo_runs_twice, stop_left),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
