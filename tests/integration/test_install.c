/*
 * Integration tests of installing finlock: `--version` on finlockd, finlock
 * and finlock-device names the version and the commit of this checkout;
 * `make install` honours PREFIX and DESTDIR (the three programs, the
 * systemd unit pointing at the installed finlockd, its sysusers.d entry,
 * the man page); `systemd-analyze verify` finds nothing to say about the
 * installed unit (skipped where systemd-analyze is not installed).
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/proc.h"

static const char *root; /* the source tree (make test's directory) */
static char tmp[64];     /* this test's scratch directory */

static int setup(void **state)
{
	(void)state;
	root = proc_source_root();
	snprintf(tmp, sizeof(tmp), "/tmp/finlock-install-XXXXXX");
	return mkdtemp(tmp) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	proc_rm_tree(tmp);
	return 0;
}

/* Runs a shell command line; its output (stdout and stderr) into out. */
static int sh(char *out, size_t cap, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static int sh(char *out, size_t cap, const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	size_t n = 0;
	FILE *p;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	p = popen(cmd, "r");
	if (p == NULL)
		return -1;
	out[0] = '\0';
	while (n + 1 < cap) {
		size_t r = fread(out + n, 1, cap - 1 - n, p);

		if (r == 0)
			break;
		n += r;
	}
	out[n] = '\0';
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* `make install` with the sanitizer build make test made, outside the
 * make that runs this test (its jobserver is not ours). */
static int make_install(char *out, size_t cap, const char *vars)
{
	return sh(out, cap,
	          "cd '%s' && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make "
	          "--no-print-directory install INSTALL_VARIANT=san %s 2>&1",
	          root, vars);
}

static void test_version(void **state)
{
	static const char *const progs[] = {"finlockd", "finlock",
	                                    "finlock-device"};
	char commit[128], want[256];

	(void)state;
	/* the commit of this checkout, when it is one */
	if (sh(commit, sizeof(commit),
	       "cd '%s' && git rev-parse --short=12 HEAD 2>/dev/null",
	       root) != 0 ||
	    commit[0] == '\0')
		snprintf(commit, sizeof(commit), "unknown");
	commit[strcspn(commit, "\n")] = '\0';
	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		struct proc_result r;

		assert_int_equal(
		        proc_runl(&r, NULL, progs[i], "--version", NULL), 0);
		assert_int_equal(r.status, 0);
		snprintf(want, sizeof(want), "%s 0.1.0 (commit %s", progs[i],
		         commit);
		if (strncmp(r.out, want, strlen(want)) != 0)
			fprintf(stderr, "got: %s\nwant: %s...\n", r.out, want);
		assert_true(strncmp(r.out, want, strlen(want)) == 0);
		assert_non_null(strstr(r.out, ")\n"));
		proc_result_free(&r);
	}
}

static void file_mode(const char *path, mode_t want)
{
	struct stat sb;

	if (stat(path, &sb) != 0)
		fprintf(stderr, "missing: %s\n", path);
	assert_int_equal(stat(path, &sb), 0);
	assert_true(S_ISREG(sb.st_mode));
	assert_int_equal(sb.st_mode & 07777, want);
}

static void test_install_destdir(void **state)
{
	char out[8192], path[600], vars[600];
	static const char *const progs[] = {"finlockd", "finlock",
	                                    "finlock-device"};

	(void)state;
	snprintf(vars, sizeof(vars), "DESTDIR='%s/stage' PREFIX=/usr", tmp);
	if (make_install(out, sizeof(out), vars) != 0)
		fprintf(stderr, "%s", out);
	assert_int_equal(make_install(out, sizeof(out), vars), 0);
	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		snprintf(path, sizeof(path), "%s/stage/usr/bin/%s", tmp,
		         progs[i]);
		file_mode(path, 0755);
	}
	snprintf(path, sizeof(path), "%s/stage/usr/share/man/man8/finlockd.8",
	         tmp);
	file_mode(path, 0644);
	snprintf(path, sizeof(path),
	         "%s/stage/usr/lib/sysusers.d/finlockd.conf", tmp);
	file_mode(path, 0644);
	snprintf(path, sizeof(path),
	         "%s/stage/usr/lib/systemd/system/finlockd.service", tmp);
	file_mode(path, 0644);
	/* the unit runs the finlockd of PREFIX, not of DESTDIR */
	assert_int_equal(sh(out, sizeof(out),
	                    "grep '^ExecStart=' '%s'; grep -c @BINDIR@ '%s'",
	                    path, path),
	                 1);
	assert_non_null(strstr(out, "ExecStart=/usr/bin/finlockd --data "
	                            "/var/lib/finlock"));
	assert_non_null(strstr(out, "\n0\n"));
	/* the installed program runs */
	assert_int_equal(sh(out, sizeof(out),
	                    "'%s/stage/usr/bin/finlockd' "
	                    "--version",
	                    tmp),
	                 0);
	assert_true(strncmp(out, "finlockd 0.1.0 (commit ", 23) == 0);
	/* nothing outside DESTDIR: the default PREFIX is /usr/local */
	snprintf(vars, sizeof(vars), "DESTDIR='%s/local'", tmp);
	assert_int_equal(make_install(out, sizeof(out), vars), 0);
	snprintf(path, sizeof(path), "%s/local/usr/local/bin/finlock", tmp);
	file_mode(path, 0755);
	snprintf(path, sizeof(path),
	         "%s/local/usr/local/lib/systemd/system/finlockd.service", tmp);
	assert_int_equal(sh(out, sizeof(out), "grep '^ExecStart=' '%s'", path),
	                 0);
	assert_non_null(strstr(out, "ExecStart=/usr/local/bin/finlockd "));
}

static void test_unit_verifies(void **state)
{
	char out[8192], vars[600], unit[600];

	(void)state;
	if (access("/usr/bin/systemd-analyze", X_OK) != 0) {
		fprintf(stderr, "systemd-analyze is not installed: not "
		                "verifying the unit\n");
		skip();
	}
	/* Installed for real under a prefix of its own, so the unit's
	 * ExecStart and its man page exist where it says. */
	snprintf(vars, sizeof(vars), "PREFIX='%s/verify/usr'", tmp);
	assert_int_equal(make_install(out, sizeof(out), vars), 0);
	snprintf(unit, sizeof(unit),
	         "%s/verify/usr/lib/systemd/system/finlockd.service", tmp);
	int rc = sh(out, sizeof(out),
	            "MANPATH='%s/verify/usr/share/man' systemd-analyze verify "
	            "'%s' 2>&1",
	            tmp, unit);
	if (rc != 0 || out[0] != '\0')
		fprintf(stderr, "systemd-analyze verify said:\n%s", out);
	assert_int_equal(rc, 0);
	/* a warning (an unknown key, a misspelt filter) is a failure too */
	assert_string_equal(out, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_version),
	        cmocka_unit_test(test_install_destdir),
	        cmocka_unit_test(test_unit_verifies),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
