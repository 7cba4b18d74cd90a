/*
 * Integration tests of `finlockd backup` and `finlockd restore`: a backup
 * taken while payments are being written (mode 0600), restored into a new
 * directory and served: every payment acknowledged before the backup
 * began is there, exactly once, nothing that was never acknowledged is,
 * and every audit chain verifies; `finlockd check` passes on the restored
 * directory. Restore refuses a directory that is not empty, and a cut or
 * altered backup leaves nothing behind.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support/proc.h"
#include "support/server_harness.h"

#define MAX_PAYMENTS 5000

struct writer {
	struct srv *s;
	char admin[64];
	char path[160];
	atomic_int acked; /* payments R-1..R-acked were answered 201 */
	atomic_bool stop;
	int failed; /* a payment answered other than 201 */
};

/* Records payments, ... one after another until told to stop. */
static void *write_payments(void *arg)
{
	struct writer *w = arg;
	char body[96], hdr[64];
	struct srv_res r;

	for (int i = 1; i <= MAX_PAYMENTS && !atomic_load(&w->stop); i++) {
		const char *h[] = {hdr, NULL};

		snprintf(hdr, sizeof(hdr), "Idempotency-Key: bk-%d", i);
		snprintf(body, sizeof(body),
		         "{\"amount\":1,\"reference\":\"R-%d\"}", i);
		if (srv_reqx(w->s, "POST", w->path, w->admin, h, body,
		             strlen(body), &r) != 0 ||
		    r.status != 201) {
			w->failed = i;
			srv_res_free(&r);
			break;
		}
		srv_res_free(&r);
		atomic_store(&w->acked, i);
	}
	return NULL;
}

static void wait_acked(struct writer *w, int n)
{
	while (atomic_load(&w->acked) < n && w->failed == 0)
		usleep(2000);
	assert_int_equal(w->failed, 0);
}

static void test_backup_under_load_and_restore(void **state)
{
	char tid[64], dev[64], dir[512], file[600], cut[600], cmd[4096];
	struct writer w = {0};
	struct srv_opts o = {0};
	struct proc_result pr;
	struct srv_res r;
	struct srv *s, *back;
	struct stat sb;
	pthread_t th;
	int before, after;

	(void)state;
	assert_int_equal(srv_start(&s, NULL), 0);
	w.s = s;
	assert_int_equal(srv_tenant(s, "Backed-up Credit", tid, w.admin), 0);
	assert_int_equal(srv_req(s, "POST", "/v1/devices", w.admin,
	                         "{\"imei\":\"490154203237518\",\"serial\":"
	                         "\"B\"}",
	                         &r),
	                 0);
	assert_int_equal(r.status, 201);
	snprintf(dev, sizeof(dev), "%s",
	         json_string_value(json_object_get(
	                 json_object_get(r.json, "device"), "id")));
	srv_res_free(&r);
	snprintf(w.path, sizeof(w.path), "/v1/devices/%s/contract", dev);
	assert_int_equal(srv_req(s, "POST", w.path, w.admin,
	                         "{\"currency\":\"USD\",\"schedule\":[{\"due\":"
	                         "\"2040-01-01\",\"amount\":100000000}]}",
	                         &r),
	                 0);
	assert_int_equal(r.status, 201);
	srv_res_free(&r);
	/* signed heads exist, so the backup carries heads the restored
	 * database must match */
	assert_int_equal(
	        srv_req(s, "POST", "/v1/audit/head", w.admin, "{}", &r), 0);
	srv_res_free(&r);
	snprintf(w.path, sizeof(w.path), "/v1/devices/%s/payments", dev);

	assert_int_equal(pthread_create(&th, NULL, write_payments, &w), 0);
	wait_acked(&w, 30);
	snprintf(file, sizeof(file), "%s/../backup.flb", srv_data_dir(s));
	before = atomic_load(&w.acked);
	assert_int_equal(proc_runl(&pr, NULL, "finlockd", "--data",
	                           srv_data_dir(s), "backup", file, NULL),
	                 0);
	if (pr.status != 0)
		fprintf(stderr, "%s%s", pr.out, pr.err);
	assert_int_equal(pr.status, 0);
	assert_non_null(strstr(pr.out, "wrote "));
	proc_result_free(&pr);
	fprintf(stderr,
	        "backup: %d payments acknowledged before it began, %d more "
	        "while it ran\n",
	        before, atomic_load(&w.acked) - before);
	/* the server went on taking writes */
	wait_acked(&w, atomic_load(&w.acked) + 10);
	atomic_store(&w.stop, true);
	pthread_join(th, NULL);
	assert_int_equal(w.failed, 0);
	after = atomic_load(&w.acked);

	assert_int_equal(stat(file, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);

	/* restore into a new directory */
	snprintf(dir, sizeof(dir), "%s/../restored", srv_data_dir(s));
	assert_int_equal(proc_runl(&pr, NULL, "finlockd", "--data", dir,
	                           "restore", file, NULL),
	                 0);
	if (pr.status != 0)
		fprintf(stderr, "%s%s", pr.out, pr.err);
	assert_int_equal(pr.status, 0);
	proc_result_free(&pr);
	assert_int_equal(
	        proc_runl(&pr, NULL, "finlockd", "--data", dir, "check", NULL),
	        0);
	if (pr.status != 0)
		fprintf(stderr, "%s%s", pr.out, pr.err);
	assert_int_equal(pr.status, 0);
	proc_result_free(&pr);

	/* ... and serve it beside the original */
	o.data_dir = dir;
	assert_int_equal(srv_start(&back, &o), 0);
	assert_string_equal(srv_operator_key(back), ""); /* not a first start */
	snprintf(w.path, sizeof(w.path), "/v1/devices/%s/payments?limit=500",
	         dev);
	{
		static char seen[MAX_PAYMENTS + 1];
		json_t *items;
		const char *cursor = NULL;
		char path[2048];
		int total = 0;

		memset(seen, 0, sizeof(seen));
		for (;;) {
			snprintf(path, sizeof(path), "%s%s%s", w.path,
			         cursor != NULL ? "&cursor=" : "",
			         cursor != NULL ? cursor : "");
			assert_int_equal(
			        srv_req(back, "GET", path, w.admin, NULL, &r),
			        0);
			assert_int_equal(r.status, 200);
			items = json_object_get(r.json, "items");
			for (size_t i = 0; i < json_array_size(items); i++) {
				int ref = 0;

				sscanf(json_string_value(json_object_get(
				               json_array_get(items, i),
				               "reference")),
				       "R-%d", &ref);
				/* never one that was not acknowledged */
				assert_true(ref >= 1 && ref <= after);
				seen[ref]++;
				total++;
			}
			cursor = json_string_value(
			        json_object_get(r.json, "next_cursor"));
			if (cursor == NULL) {
				srv_res_free(&r);
				break;
			}
			snprintf(cut, sizeof(cut), "%s", cursor);
			cursor = cut;
			srv_res_free(&r);
		}
		/* everything acknowledged before the backup began, once */
		for (int i = 1; i <= before; i++)
			assert_int_equal(seen[i], 1);
		assert_true(total >= before);
	}
	assert_int_equal(
	        srv_req(back, "GET", "/v1/audit/verify", w.admin, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	assert_true(json_is_true(json_object_get(r.json, "ok")));
	srv_res_free(&r);
	assert_int_equal(srv_req(back, "GET", "/v1/operator/audit/verify",
	                         srv_operator_key(s), NULL, &r),
	                 0);
	assert_int_equal(r.status, 200);
	assert_true(json_is_true(json_object_get(r.json, "ok")));
	srv_res_free(&r);
	srv_free(back);

	/* a directory that is not empty is refused, and left as it was */
	assert_int_equal(proc_runl(&pr, NULL, "finlockd", "--data",
	                           srv_data_dir(s), "restore", file, NULL),
	                 0);
	assert_int_equal(pr.status, 1);
	assert_non_null(strstr(pr.err, "is not empty"));
	proc_result_free(&pr);

	/* a cut backup, and one with a changed byte: nothing is left */
	snprintf(cut, sizeof(cut), "%s/../cut.flb", srv_data_dir(s));
	snprintf(cmd, sizeof(cmd), "head -c %lld '%s' > '%s'",
	         (long long)sb.st_size / 2, file, cut);
	assert_int_equal(system(cmd), 0);
	snprintf(dir, sizeof(dir), "%s/../from-cut", srv_data_dir(s));
	assert_int_equal(proc_runl(&pr, NULL, "finlockd", "--data", dir,
	                           "restore", cut, NULL),
	                 0);
	assert_int_equal(pr.status, 1);
	assert_non_null(strstr(pr.err, "cut short"));
	proc_result_free(&pr);
	assert_int_not_equal(access(dir, F_OK), 0);

	snprintf(cmd, sizeof(cmd),
	         "cp '%s' '%s' && printf x | dd of='%s' bs=1 seek=%lld "
	         "conv=notrunc 2>/dev/null",
	         file, cut, cut, (long long)sb.st_size / 2);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(proc_runl(&pr, NULL, "finlockd", "--data", dir,
	                           "restore", cut, NULL),
	                 0);
	assert_int_equal(pr.status, 1);
	assert_non_null(strstr(pr.err, "checksum does not match"));
	proc_result_free(&pr);
	assert_int_not_equal(access(dir, F_OK), 0);

	/* a backup never overwrites a file */
	assert_int_equal(proc_runl(&pr, NULL, "finlockd", "--data",
	                           srv_data_dir(s), "backup", file, NULL),
	                 0);
	assert_int_equal(pr.status, 1);
	assert_non_null(strstr(pr.err, "exists"));
	proc_result_free(&pr);
	srv_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_backup_under_load_and_restore),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
