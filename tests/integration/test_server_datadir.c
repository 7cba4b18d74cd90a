/*
 * Integration tests of the data directory finlockd trusts (datadir.h): a
 * second finlockd on a directory in use, a used directory whose database
 * is missing or empty (and --allow-fresh-database), a WAL deleted after
 * kill -9 (and --accept-wal-loss), a damaged database, secret and key files
 * missing, damaged or from another server, each refused with exit 3 and a
 * one-line reason; `finlockd check` on a sound directory and on a tampered
 * audit chain.
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
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support/proc.h"
#include "support/server_harness.h"

#define REFUSED 3 /* FL_SERVER_EXIT_REFUSED */

/* A server that ran, made a tenant (so its database has more than its
 * first start) and stopped cleanly: its data directory is the subject. */
static struct srv *used_server(void)
{
	char tid[64], admin[64];
	struct srv *s;

	assert_int_equal(srv_start(&s, NULL), 0);
	assert_int_equal(srv_tenant(s, "Trusted Credit", tid, admin), 0);
	assert_int_equal(srv_stop(s), 0);
	return s;
}

/* A copy of s's data directory beside it, named name; path[] receives it. */
static void copy_data(struct srv *s, const char *name, char path[512])
{
	char cmd[1200];

	snprintf(path, 512, "%s/../%s", srv_data_dir(s), name);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && cp -a '%s' '%s'", path,
	         srv_data_dir(s), path);
	assert_int_equal(system(cmd), 0);
}

static void file_in(char out[600], const char *dir, const char *name)
{
	snprintf(out, 600, "%s/%s", dir, name);
}

/* Runs finlockd on dir (with extra, may be NULL) and expects a refusal
 * whose one line contains want. */
static void expect_refused(const char *dir, const char *extra, const char *want)
{
	struct proc_result r;
	int lines = 0;

	assert_int_equal(proc_runl(&r, NULL, "finlockd", "--data", dir,
	                           "--listen", "127.0.0.1:0", extra, NULL),
	                 0);
	if (r.status != REFUSED || strstr(r.err, want) == NULL)
		fprintf(stderr, "status %d, stderr:\n%s\n", r.status, r.err);
	assert_int_equal(r.status, REFUSED);
	/* one line says it all; nothing was served */
	for (const char *p = r.err; (p = strstr(p, "finlockd: ")) != NULL; p++)
		lines++;
	assert_int_equal(lines, 1);
	assert_non_null(strstr(r.err, want));
	assert_null(strstr(r.out, "listening on"));
	proc_result_free(&r);
}

static void overwrite(const char *path, off_t at, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, data, len, at), (ssize_t)len);
	close(fd);
}

static void test_second_server_refused(void **state)
{
	struct srv *s;
	char want[64];

	(void)state;
	assert_int_equal(srv_start(&s, NULL), 0);
	snprintf(want, sizeof(want), "in use by another finlockd (pid %d)",
	         (int)srv_pid(s));
	expect_refused(srv_data_dir(s), NULL, want);
	/* the first one still serves */
	struct srv_res r;
	assert_int_equal(srv_req(s, "GET", "/healthz", NULL, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	srv_res_free(&r);
	srv_free(s);
}

static void test_missing_or_empty_database_refused(void **state)
{
	struct srv *s = used_server();
	char dir[512], db[600], heads[600], cmd[700];
	struct srv_opts o = {0};
	struct srv *fresh;
	struct stat sb;

	(void)state;
	copy_data(s, "nodb", dir);
	file_in(db, dir, "finlock.db");
	assert_int_equal(unlink(db), 0);
	expect_refused(dir, NULL, "finlock.db is missing or empty");
	/* nothing was created in its place */
	assert_int_not_equal(stat(db, &sb), 0);

	copy_data(s, "emptydb", dir);
	file_in(db, dir, "finlock.db");
	assert_int_equal(truncate(db, 0), 0);
	expect_refused(dir, NULL, "--allow-fresh-database");

	/* starting afresh is possible, when asked for: a new operator key,
	 * and the old heads set aside rather than mixed with new ones */
	copy_data(s, "fresh", dir);
	file_in(db, dir, "finlock.db");
	assert_int_equal(unlink(db), 0);
	o.data_dir = dir;
	o.args = (const char *const[]){"--allow-fresh-database", NULL};
	assert_int_equal(srv_start(&fresh, &o), 0);
	assert_true(srv_operator_key(fresh)[0] != '\0');
	assert_int_equal(srv_stop(fresh), 0);
	srv_free(fresh);
	file_in(heads, dir, "audit-heads.jsonl.before-*");
	snprintf(cmd, sizeof(cmd), "ls %s >/dev/null 2>&1", heads);
	assert_int_equal(system(cmd), 0);
	srv_free(s);
}

static void test_lost_wal_refused(void **state)
{
	char tid[64], admin[64], dir[512], wal[600];
	struct srv_opts o = {0};
	struct srv *s, *again;
	struct srv_res r;

	(void)state;
	/* a clean stop first puts everything in the main file; what comes
	 * after the restart lives in the WAL until a checkpoint */
	s = used_server();
	assert_int_equal(srv_restart(s), 0);
	assert_int_equal(srv_tenant(s, "Walless Credit", tid, admin), 0);
	srv_kill9(s);
	snprintf(dir, sizeof(dir), "%s", srv_data_dir(s));
	file_in(wal, dir, "finlock.db-wal");
	assert_int_equal(access(wal, F_OK), 0); /* an unclean stop keeps it */
	assert_int_equal(unlink(wal), 0);
	expect_refused(dir, NULL, "finlock.db-wal is missing");
	expect_refused(dir, NULL, "--accept-wal-loss");

	/* with the loss accepted it serves what the database holds, and
	 * the next clean stop leaves nothing to complain about */
	o.data_dir = dir;
	o.args = (const char *const[]){"--accept-wal-loss", NULL};
	assert_int_equal(srv_start(&again, &o), 0);
	assert_int_equal(srv_req(again, "GET", "/healthz", NULL, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	srv_res_free(&r);
	/* the tenant made before the clean stop is there, the one that
	 * lived only in the lost WAL is not */
	assert_int_equal(srv_req(again, "GET", "/v1/tenants",
	                         srv_operator_key(s), NULL, &r),
	                 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_array_size(json_object_get(r.json, "items")), 1);
	srv_res_free(&r);
	assert_int_equal(srv_stop(again), 0);
	srv_free(again);
	o.args = NULL;
	assert_int_equal(srv_start(&again, &o), 0);
	srv_free(again);

	/* a crash whose WAL stays is no loss: it starts as it always did */
	assert_int_equal(srv_restart(s), 0);
	srv_kill9(s);
	assert_int_equal(srv_restart(s), 0);
	srv_free(s);
}

static void test_damaged_database_refused(void **state)
{
	struct srv *s = used_server();
	char dir[512], db[600], junk[3 * 4096];

	(void)state;
	/* pages of the b-trees overwritten: the quick check finds them */
	copy_data(s, "pages", dir);
	file_in(db, dir, "finlock.db");
	memset(junk, 0x5a, sizeof(junk));
	overwrite(db, 4 * 4096, junk, sizeof(junk));
	expect_refused(dir, NULL, "finlock.db is damaged");

	/* the header itself: not a database at all */
	copy_data(s, "header", dir);
	file_in(db, dir, "finlock.db");
	overwrite(db, 0, junk, 100);
	expect_refused(dir, NULL, "not a readable database");
	srv_free(s);
}

static void test_secret_and_key_files_refused(void **state)
{
	struct srv *s = used_server(), *other = NULL;
	char dir[512], f[600], cmd[4096];
	uint8_t b[32];

	(void)state;
	copy_data(s, "nosecret", dir);
	file_in(f, dir, "server.secret");
	assert_int_equal(unlink(f), 0);
	expect_refused(dir, NULL, "server.secret is missing");

	/* a server.secret of the right length, but another one */
	copy_data(s, "othersecret", dir);
	file_in(f, dir, "server.secret");
	memset(b, 7, sizeof(b));
	overwrite(f, 0, b, sizeof(b));
	expect_refused(dir, NULL, "are not the keys");

	/* one flipped bit in the key-exchange pair */
	copy_data(s, "garbledkx", dir);
	file_in(f, dir, "kx.secret");
	b[0] = 0x80;
	{
		int fd = open(f, O_RDWR);
		uint8_t c;

		assert_true(fd >= 0);
		assert_int_equal(pread(fd, &c, 1, 40), 1);
		c ^= b[0];
		assert_int_equal(pwrite(fd, &c, 1, 40), 1);
		close(fd);
	}
	expect_refused(dir, NULL, "kx.secret is damaged");

	copy_data(s, "shortkx", dir);
	file_in(f, dir, "kx.secret");
	assert_int_equal(truncate(f, 10), 0);
	expect_refused(dir, NULL, "kx.secret is damaged");

	copy_data(s, "nokeys", dir);
	file_in(f, dir, "keys.json");
	assert_int_equal(unlink(f), 0);
	expect_refused(dir, NULL, "keys.json is missing");

	copy_data(s, "garbledkeys", dir);
	file_in(f, dir, "keys.json");
	overwrite(f, 0, "[[[", 3);
	expect_refused(dir, NULL, "signing keys");

	/* another server's signing keys: they did not sign this database's
	 * audit heads */
	other = used_server();
	copy_data(s, "otherkeys", dir);
	snprintf(cmd, sizeof(cmd),
	         "rm -rf '%s/keys' '%s/keys.json' '%s/dev-root.k4secret' && "
	         "cp -a '%s/keys' '%s/keys.json' '%s/dev-root.k4secret' '%s/'",
	         dir, dir, dir, srv_data_dir(other), srv_data_dir(other),
	         srv_data_dir(other), dir);
	assert_int_equal(system(cmd), 0);
	expect_refused(dir, NULL, "lacks the key");

	srv_free(other);
	srv_free(s);
}

static void test_check(void **state)
{
	struct srv *s = used_server();
	struct proc_result r;
	char dir[512], db[600];
	sqlite3 *h = NULL;

	(void)state;
	assert_int_equal(proc_runl(&r, NULL, "finlockd", "--data",
	                           srv_data_dir(s), "check", NULL),
	                 0);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "integrity_check passed"));
	assert_non_null(strstr(r.out, "audit chain operator"));
	assert_non_null(strstr(r.out, "all checks passed"));
	assert_null(strstr(r.out, "FAILED"));
	proc_result_free(&r);

	/* an entry rewritten behind finlockd's back */
	copy_data(s, "tampered", dir);
	file_in(db, dir, "finlock.db");
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h,
	                              "DROP TRIGGER audit_no_update;"
	                              "UPDATE audit SET action = 'forged' "
	                              "WHERE chain = 'operator' AND seq = 1;",
	                              NULL, NULL, NULL),
	                 SQLITE_OK);
	sqlite3_close(h);
	assert_int_equal(
	        proc_runl(&r, NULL, "finlockd", "--data", dir, "check", NULL),
	        0);
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.out, "FAILED  audit chain operator: entry 1 "
	                              "was changed"));
	assert_non_null(strstr(r.err, "check found"));
	proc_result_free(&r);
	srv_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_second_server_refused),
	        cmocka_unit_test(test_missing_or_empty_database_refused),
	        cmocka_unit_test(test_lost_wal_refused),
	        cmocka_unit_test(test_damaged_database_refused),
	        cmocka_unit_test(test_secret_and_key_files_refused),
	        cmocka_unit_test(test_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
