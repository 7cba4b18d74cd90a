/*
 * finlockd on PostgreSQL (`--database postgresql://...`), against a private
 * PostgreSQL 15 cluster (tests/support/pg_cluster.h):
 *
 * - it serves, and says in its start-up log which store it uses, never
 *   the password of its connection string;
 * - a bad URI and an unreachable server are refused with one line;
 * - a second node with no key files, or with the keys of another server,
 *   is refused on a database that has keys, and runs with the copied ones;
 * - two nodes given contracts with one loan reference (ignoring case and
 *   spaces) at the same instant: one is created, the other is 409;
 * - `finlockd check` checks the PostgreSQL database;
 * - backup and restore as docs/deploy.md says: `finlockd backup` keeps the
 *   data directory's keys and names the pg_dump command; pg_dump, a lost
 *   database, pg_restore and `finlockd restore` of the keys into a new
 *   data directory give back a server with every record.
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
#include <jansson.h>
#include <pthread.h>
#include <unistd.h>

#include "support/devapi_phone.h"
#include "support/pg_cluster.h"
#include "support/proc.h"
#include "support/server_harness.h"

#define REFUSED 3 /* FL_SERVER_EXIT_REFUSED */
#define PGBIN   "/usr/lib/postgresql/15/bin"

static struct pg_cluster PG;
static int next_db;

static int group_setup(void **state)
{
	(void)state;
	return pg_cluster_start(&PG);
}

static int group_teardown(void **state)
{
	(void)state;
	pg_cluster_destroy(&PG);
	return 0;
}

/* A new, empty database; its URI in uri[256]. */
static void new_db(char uri[256], char name[32])
{
	char sql[64];

	snprintf(name, 32, "fleet%d", next_db++);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
	assert_int_equal(pg_cluster_exec(&PG, "postgres", sql), 0);
	pg_cluster_uri(&PG, name, uri, 256);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *text = NULL;
	size_t n = 0, cap = 0;
	int c;

	if (f == NULL)
		return strdup("");
	while ((c = fgetc(f)) != EOF) {
		if (n + 2 > cap) {
			cap = cap ? cap * 2 : 4096;
			text = realloc(text, cap);
			assert_non_null(text);
		}
		text[n++] = (char)c;
	}
	fclose(f);
	if (text == NULL)
		return strdup("");
	text[n] = '\0';
	return text;
}

/* finlockd on data dir `dir` and database uri, refused with `want`. */
static void expect_refused(const char *dir, const char *uri, const char *want)
{
	struct proc_result r;

	assert_int_equal(proc_runl(&r, NULL, "finlockd", "--data", dir,
	                           "--database", uri, "--listen",
	                           "127.0.0.1:0", NULL),
	                 0);
	if (r.status != REFUSED || strstr(r.err, want) == NULL)
		fprintf(stderr, "status %d, stderr:\n%s\n", r.status, r.err);
	assert_int_equal(r.status, REFUSED);
	assert_non_null(strstr(r.err, want));
	assert_null(strstr(r.out, "listening on"));
	proc_result_free(&r);
}

static void test_serves_and_hides_password(void **state)
{
	char uri[256], name[32], with_pw[320], tid[64], admin[64];
	const char *args[] = {"--database", with_pw, NULL};
	struct srv_opts o = {.args = args};
	struct srv *s;
	char *log;

	(void)state;
	new_db(uri, name);
	/* trust authentication: the password is accepted and ignored */
	snprintf(with_pw, sizeof(with_pw), "postgresql://postgres:s3cr3t-pw@%s",
	         uri + strlen("postgresql://postgres@"));
	assert_int_equal(srv_start(&s, &o), 0);
	assert_int_equal(srv_tenant(s, "Pg Credit", tid, admin), 0);
	log = slurp(srv_log_path(s));
	assert_non_null(strstr(log, "\"store\":\"postgresql\""));
	assert_null(strstr(log, "s3cr3t-pw"));
	free(log);
	/* nothing was written in the data directory but the keys */
	{
		char path[600];

		snprintf(path, sizeof(path), "%s/finlock.db", srv_data_dir(s));
		assert_int_not_equal(access(path, F_OK), 0);
	}
	srv_free(s);
}

static void test_bad_uri_and_unreachable(void **state)
{
	struct proc_result r;
	char dir[] = "/tmp/finlock-pgdir-XXXXXX";

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(proc_runl(&r, NULL, "finlockd", "--data", dir,
	                           "--database", "mysql://x@y/z", NULL),
	                 0);
	assert_int_not_equal(r.status, 0);
	assert_non_null(strstr(r.err, "database must be a PostgreSQL URI"));
	proc_result_free(&r);
	/* nobody listens on port 1 */
	expect_refused(dir, "postgresql://postgres:pw@127.0.0.1:1/none",
	               "cannot reach postgresql://postgres@127.0.0.1:1/none");
	proc_rm_tree(dir);
}

/* One contract request of a race between two nodes. */
struct racer {
	struct srv *s;
	const char *admin;
	char path[128];
	char body[512];
	pthread_barrier_t *go;
	long status;
};

static void *race_main(void *arg)
{
	struct racer *r = arg;
	struct srv_res res;

	pthread_barrier_wait(r->go);
	if (srv_req(r->s, "POST", r->path, r->admin, r->body, &res) == 0) {
		r->status = res.status;
		srv_res_free(&res);
	}
	return NULL;
}

/* Nodes a and b create, at the same instant, contracts of two devices
 * with one loan reference spelt two ways: the database keeps one. */
static void race_loan_refs(struct srv *a, struct srv *b, const char *admin)
{
	struct devapi_lender l = {0};
	pthread_barrier_t go;
	int created = 0;

	snprintf(l.admin, sizeof(l.admin), "%s", admin);
	pthread_barrier_init(&go, NULL, 2);
	for (unsigned round = 0; round < 12; round++) {
		struct racer r[2] = {{.s = a, .admin = admin, .go = &go},
		                     {.s = b, .admin = admin, .go = &go}};
		pthread_t t[2];

		for (int i = 0; i < 2; i++) {
			char imei[16], id[64], code[64];

			devapi_imei(9000 + round * 2 + (unsigned)i, imei);
			assert_int_equal(devapi_register(r[i].s, &l, imei, NULL,
			                                 id, code),
			                 0);
			snprintf(r[i].path, sizeof(r[i].path),
			         "/v1/devices/%s/contract", id);
			snprintf(r[i].body, sizeof(r[i].body),
			         "{\"loan_ref\":\"%s%u\",\"currency\":"
			         "\"KES\",\"schedule\":[{\"due\":"
			         "\"2035-01-01\",\"amount\":100}],\"policy\":"
			         "{\"contact\":{\"name\":\"A\",\"phones\":"
			         "[\"+254700000001\"]}}}",
			         i == 0 ? "LN-RACE " : "ln-race", round);
		}
		for (int i = 0; i < 2; i++)
			assert_int_equal(
			        pthread_create(&t[i], NULL, race_main, &r[i]),
			        0);
		for (int i = 0; i < 2; i++)
			assert_int_equal(pthread_join(t[i], NULL), 0);
		if (!((r[0].status == 201 && r[1].status == 409) ||
		      (r[0].status == 409 && r[1].status == 201)))
			fail_msg("round %u: %ld and %ld", round, r[0].status,
			         r[1].status);
		created++;
	}
	pthread_barrier_destroy(&go);
	assert_int_equal(created, 12);
}

static void test_second_node_needs_the_keys(void **state)
{
	char uri[256], name[32], other[256], oname[32], cmd[2400];
	const char *args[] = {"--database", uri, NULL};
	struct srv_opts o = {.args = args};
	char dir[] = "/tmp/finlock-pgnode-XXXXXX", bdir[600], cdir[600];
	struct srv *a, *b, *c;
	struct srv_opts ob = {.args = args};
	struct srv_res res;

	(void)state;
	new_db(uri, name);
	new_db(other, oname);
	assert_non_null(mkdtemp(dir));
	assert_int_equal(srv_start(&a, &o), 0);
	/* an empty data directory: no identity of its own is minted */
	snprintf(bdir, sizeof(bdir), "%s/b", dir);
	expect_refused(bdir, uri, "server.secret is missing: copy the key "
	                          "files");
	/* the keys of another server (made on another database) */
	{
		const char *oargs[] = {"--database", other, NULL};
		struct srv_opts oo = {.args = oargs};

		assert_int_equal(srv_start(&c, &oo), 0);
		assert_int_equal(srv_stop(c), 0);
		snprintf(cdir, sizeof(cdir), "%s/c", dir);
		snprintf(cmd, sizeof(cmd), "cp -a '%s' '%s'", srv_data_dir(c),
		         cdir);
		assert_int_equal(system(cmd), 0);
		srv_free(c);
		expect_refused(cdir, uri, "are not the keys");
	}
	/* node A's keys copied but its webhook key: refused, naming it
	 * (a node of its own would sign webhooks with another key) */
	snprintf(cmd, sizeof(cmd),
	         "rm -rf '%s' && cp -a '%s' '%s' && rm '%s/webhook.k4secret'",
	         bdir, srv_data_dir(a), bdir, bdir);
	assert_int_equal(system(cmd), 0);
	expect_refused(bdir, uri, "webhook.k4secret is missing: copy the key "
	                          "files");
	/* unless told to make one (the first node after an upgrade that
	 * brought webhooks) */
	{
		const char *kargs[] = {"--database", uri, "--webhook-key-create",
		                       "true", NULL};
		struct srv_opts ko = {.args = kargs, .data_dir = bdir};
		struct srv *k;

		assert_int_equal(srv_start(&k, &ko), 0);
		srv_free(k);
		snprintf(cmd, sizeof(cmd), "%s/webhook.k4secret", bdir);
		assert_int_equal(access(cmd, F_OK), 0);
	}
	/* node A's keys copied: node B serves the same fleet */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && cp -a '%s' '%s'", bdir,
	         srv_data_dir(a), bdir);
	assert_int_equal(system(cmd), 0);
	ob.data_dir = bdir;
	assert_int_equal(srv_start(&b, &ob), 0);
	{
		char tid[64], admin[64];

		assert_int_equal(srv_tenant(a, "Two Nodes", tid, admin), 0);
		assert_int_equal(
		        srv_req(b, "GET", "/v1/devices", admin, NULL, &res), 0);
		assert_int_equal(res.status, 200);
		srv_res_free(&res);
		race_loan_refs(a, b, admin);
	}
	srv_free(b);
	srv_free(a);
	proc_rm_tree(dir);
}

static void test_backup_and_restore(void **state)
{
	char uri[256], name[32], tid[64], admin[64], body[512], dev[64];
	char dir[] = "/tmp/finlock-pgbak-XXXXXX", cmd[2000], path[600];
	const char *args[] = {"--database", uri, NULL};
	struct srv_opts o = {.args = args};
	struct proc_result r;
	struct srv_res res;
	struct srv *s;

	(void)state;
	new_db(uri, name);
	assert_non_null(mkdtemp(dir));
	assert_int_equal(srv_start(&s, &o), 0);
	assert_int_equal(srv_tenant(s, "Backed Up", tid, admin), 0);
	snprintf(body, sizeof(body),
	         "{\"imei\":\"490154203237518\",\"serial\":\"SN-PG-1\"}");
	assert_int_equal(srv_req(s, "POST", "/v1/devices", admin, body, &res),
	                 0);
	assert_int_equal(res.status, 201);
	snprintf(dev, sizeof(dev), "%s",
	         json_string_value(json_object_get(
	                 json_object_get(res.json, "device"), "id")));
	srv_res_free(&res);

	/* finlockd backup: the keys, and the pg_dump command to run */
	snprintf(path, sizeof(path), "%s/keys.flbackup", dir);
	assert_int_equal(proc_runl(&r, NULL, "finlockd", "--data",
	                           srv_data_dir(s), "--database", uri,
	                           "backup", path, NULL),
	                 0);
	if (r.status != 0)
		fprintf(stderr, "%s", r.err);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "pg_dump --format=custom"));
	proc_result_free(&r);
	snprintf(cmd, sizeof(cmd),
	         PGBIN "/pg_dump --format=custom --file='%s/finlock.pgdump' "
	               "'%s'",
	         dir, uri);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(srv_stop(s), 0);

	/* the database is lost; a new one, and pg_restore */
	{
		char sql[128];

		snprintf(sql, sizeof(sql), "DROP DATABASE %s", name);
		assert_int_equal(pg_cluster_exec(&PG, "postgres", sql), 0);
		snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
		assert_int_equal(pg_cluster_exec(&PG, "postgres", sql), 0);
	}
	/* finlockd on the empty database beside the used keys: refused */
	expect_refused(srv_data_dir(s), uri, "holds no finlock database");
	snprintf(cmd, sizeof(cmd),
	         PGBIN "/pg_restore --exit-on-error --no-owner --dbname='%s' "
	               "'%s/finlock.pgdump'",
	         uri, dir);
	assert_int_equal(system(cmd), 0);
	/* the keys into a new data directory */
	snprintf(path, sizeof(path), "%s/restored", dir);
	{
		char file[600];

		snprintf(file, sizeof(file), "%s/keys.flbackup", dir);
		assert_int_equal(proc_runl(&r, NULL, "finlockd", "--data",
		                           path, "--database", uri, "restore",
		                           file, NULL),
		                 0);
		if (r.status != 0)
			fprintf(stderr, "%s", r.err);
		assert_int_equal(r.status, 0);
		proc_result_free(&r);
	}
	{
		struct srv_opts ro = {.args = args, .data_dir = path};
		struct srv *s2;
		char p[128];

		assert_int_equal(srv_start(&s2, &ro), 0);
		snprintf(p, sizeof(p), "/v1/devices/%s", dev);
		assert_int_equal(srv_req(s2, "GET", p, admin, NULL, &res), 0);
		assert_int_equal(res.status, 200);
		assert_string_equal(srv_jstr(&res, "serial"), "SN-PG-1");
		srv_res_free(&res);
		srv_free(s2);
	}
	/* `finlockd check` on the restored pair */
	assert_int_equal(proc_runl(&r, NULL, "finlockd", "--data", path,
	                           "--database", uri, "check", NULL),
	                 0);
	if (r.status != 0)
		fprintf(stderr, "%s%s", r.out, r.err);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "PostgreSQL's check passed"));
	proc_result_free(&r);
	srv_free(s);
	proc_rm_tree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_serves_and_hides_password),
	        cmocka_unit_test(test_bad_uri_and_unreachable),
	        cmocka_unit_test(test_second_node_needs_the_keys),
	        cmocka_unit_test(test_backup_and_restore),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
