/*
 * finlockd on PostgreSQL, several nodes on one database: --database opens
 * it (a private PostgreSQL 15 cluster, tests/support/pg_cluster); a second
 * node with an empty data directory is refused with a line saying which
 * key files to copy (it never mints an identity of its own); with the
 * files copied it serves the same lenders; `backup` names the pg_dump
 * command; while PostgreSQL is away /healthz and the API answer 503 with
 * Retry-After, and once it is back the nodes serve again by themselves.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "support/pg_cluster.h"
#include "support/server_harness.h"

static struct pg_cluster cluster;
static char uri[512];

static int start_cluster(void **state)
{
	(void)state;
	if (pg_cluster_start(&cluster) != 0 ||
	    pg_cluster_exec(&cluster, "postgres", "CREATE DATABASE nodes") != 0)
		return -1;
	pg_cluster_uri(&cluster, "nodes", uri, sizeof(uri));
	return 0;
}

static int stop_cluster(void **state)
{
	(void)state;
	pg_cluster_destroy(&cluster);
	return 0;
}

/* Runs finlockd with args (a shell fragment) and returns its exit status;
 * out receives its stdout and stderr. */
static int run_finlockd(const char *args, char *out, size_t cap)
{
	char cmd[2048];
	const char *bin = getenv("FINLOCK_BIN");
	FILE *fp;
	size_t n;
	int st;

	snprintf(cmd, sizeof(cmd), "%s/finlockd %s 2>&1",
	         bin != NULL ? bin : "build/san/bin", args);
	fp = popen(cmd, "r");
	assert_non_null(fp);
	n = fread(out, 1, cap - 1, fp);
	out[n] = '\0';
	st = pclose(fp);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_two_nodes(void **state)
{
	const char *args[] = {"--database", uri, NULL};
	struct srv_opts oa = {.args = args};
	char dir_b[] = "/tmp/finlock-node-b-XXXXXX", cmd[1024], out[4096];
	char tenant[64], admin[64];
	struct srv *a = NULL, *b = NULL;
	struct srv_opts ob = {.args = args, .data_dir = dir_b};
	struct srv_res r;

	(void)state;
	assert_int_equal(srv_start(&a, &oa), 0);
	assert_non_null(strstr(srv_operator_key(a), "fl_"));
	assert_int_equal(srv_tenant(a, "Acme Credit", tenant, admin), 0);

	/* a new node without the key files: refused, never a new identity */
	assert_non_null(mkdtemp(dir_b));
	snprintf(cmd, sizeof(cmd), "--data %s --database '%s' --listen "
	         "127.0.0.1:0", dir_b, uri);
	assert_int_equal(run_finlockd(cmd, out, sizeof(out)), 3);
	assert_non_null(strstr(out, "refused to start"));
	assert_non_null(strstr(out, "copy the key files"));
	assert_null(strstr(out, "operator key:"));

	/* the operator copies them: the node serves the same lenders */
	snprintf(cmd, sizeof(cmd),
	         "cp -a %s/server.secret %s/kx.secret %s/keys.json %s/keys %s/",
	         srv_data_dir(a), srv_data_dir(a), srv_data_dir(a),
	         srv_data_dir(a), dir_b);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(srv_start(&b, &ob), 0);
	assert_int_equal(srv_req(b, "GET", "/v1/devices", admin, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	srv_res_free(&r);
	assert_int_equal(srv_req(b, "GET", "/healthz", NULL, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	srv_res_free(&r);

	/* backup: the keys, and pg_dump for the database */
	snprintf(cmd, sizeof(cmd),
	         "--data %s --database '%s' backup %s/keys.flb", dir_b, uri,
	         dir_b);
	assert_int_equal(run_finlockd(cmd, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "pg_dump --format=custom"));

	/* PostgreSQL away: 503 with Retry-After; back: served again */
	assert_int_equal(pg_cluster_stop(&cluster), 0);
	assert_int_equal(srv_req(b, "GET", "/healthz", NULL, NULL, &r), 0);
	assert_int_equal(r.status, 503);
	assert_non_null(srv_res_header(&r, "Retry-After"));
	assert_non_null(strstr(r.body, "database is down"));
	srv_res_free(&r);
	assert_int_equal(srv_req(a, "GET", "/v1/devices", admin, NULL, &r), 0);
	assert_int_equal(r.status, 503);
	assert_non_null(srv_res_header(&r, "Retry-After"));
	srv_res_free(&r);
	assert_int_equal(pg_cluster_restart(&cluster), 0);
	for (int i = 0; i < 50; i++) {
		assert_int_equal(srv_req(b, "GET", "/healthz", NULL, NULL, &r),
		                 0);
		if (r.status == 200)
			break;
		srv_res_free(&r);
		usleep(100000);
	}
	assert_int_equal(r.status, 200);
	srv_res_free(&r);

	assert_int_equal(srv_stop(b), 0);
	assert_int_equal(srv_stop(a), 0);
	srv_free(b);
	srv_free(a);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir_b);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_two_nodes),
	};

	return cmocka_run_group_tests(tests, start_cluster, stop_cluster);
}
