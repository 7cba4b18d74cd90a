/*
 * Unit tests for the long-poll waiters (push.h) without a network: the
 * waiters' park and wake hooks are functions here that record what
 * happened (a request's would suspend and resume its connection). A publish
 * wakes exactly the waiters of its device; a publish between the mark and
 * the park refuses the park (no lost wake-up); deadlines expire in order;
 * the table is fixed in size; shutdown wakes everyone and parks nothing
 * more; and the cost of parking, publishing and expiring does not grow
 * with the number of parked waiters (100,000 here).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "server/req.h"
#include "server/push.h"
#include "store/store.h"

static size_t suspended, resumed;

/* The seam: what the table does to a waiter. */
static void park(void *w, fl_time deadline)
{
	struct fl_req *req = w;

	req->parked = true;
	req->wait_until = deadline;
	suspended++;
}

static void wake(void *w)
{
	struct fl_req *req = w;

	assert_true(req->parked);
	req->parked = false;
	req->resumed = true;
	resumed++;
}

static const struct fl_push_hooks hooks = {.park = park, .wake = wake};

static void dev_id(char out[FL_ID_MAX], int i)
{
	snprintf(out, FL_ID_MAX, "dv_%08d", i);
}

static double secs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_publish_wakes_its_device(void **state)
{
	struct fl_push *p = NULL;
	struct fl_req r[4];
	uint64_t m;

	(void)state;
	memset(r, 0, sizeof(r));
	suspended = resumed = 0;
	assert_int_equal(fl_push_new(&p, 3, &hooks), FL_OK);
	m = fl_push_mark(p, "dv_a");
	assert_int_equal(fl_push_wait(p, &r[0], "dv_a", m, 100), FL_OK);
	assert_int_equal(fl_push_wait(p, &r[1], "dv_a", m, 100), FL_OK);
	m = fl_push_mark(p, "dv_b");
	assert_int_equal(fl_push_wait(p, &r[2], "dv_b", m, 100), FL_OK);
	assert_int_equal(fl_push_waiting(p), 3);
	/* full: a fixed table */
	m = fl_push_mark(p, "dv_c");
	assert_int_equal(fl_push_wait(p, &r[3], "dv_c", m, 100), FL_E_LIMIT);
	assert_false(r[3].parked);

	fl_push_publish(p, "dv_a");
	assert_true(r[0].resumed && r[1].resumed);
	assert_false(r[2].resumed);
	assert_int_equal(fl_push_waiting(p), 1);
	fl_push_publish(p, "dv_nobody");
	assert_int_equal(fl_push_waiting(p), 1);

	/* a publish after the mark refuses the park: read again */
	m = fl_push_mark(p, "dv_a");
	fl_push_publish(p, "dv_a");
	memset(&r[0], 0, sizeof(r[0]));
	assert_int_equal(fl_push_wait(p, &r[0], "dv_a", m, 100), FL_E_STATE);
	assert_false(r[0].parked);
	m = fl_push_mark(p, "dv_a");
	assert_int_equal(fl_push_wait(p, &r[0], "dv_a", m, 100), FL_OK);

	/* a connection that closes is forgotten */
	fl_push_forget(p, &r[0]);
	assert_int_equal(fl_push_waiting(p), 1);
	fl_push_publish(p, "dv_a");
	assert_int_equal(resumed, 2);

	fl_push_release_all(p);
	assert_true(r[2].resumed);
	assert_int_equal(fl_push_waiting(p), 0);
	memset(&r[3], 0, sizeof(r[3]));
	m = fl_push_mark(p, "dv_c");
	assert_int_equal(fl_push_wait(p, &r[3], "dv_c", m, 100), FL_E_STATE);
	fl_push_free(p);
}

static void test_deadlines_expire_in_order(void **state)
{
	struct fl_push *p = NULL;
	struct fl_req r[5];
	fl_time dl[5] = {50, 10, 30, 30, 20};
	char id[FL_ID_MAX];

	(void)state;
	memset(r, 0, sizeof(r));
	suspended = resumed = 0;
	assert_int_equal(fl_push_new(&p, 5, &hooks), FL_OK);
	for (int i = 0; i < 5; i++) {
		dev_id(id, i);
		assert_int_equal(
		        fl_push_wait(p, &r[i], id, fl_push_mark(p, id), dl[i]),
		        FL_OK);
	}
	assert_int_equal(fl_push_expire(p, 9), 0);
	assert_int_equal(fl_push_expire(p, 20), 2);
	assert_true(r[1].resumed && r[4].resumed);
	assert_false(r[2].resumed || r[3].resumed || r[0].resumed);
	assert_int_equal(fl_push_expire(p, 30), 2);
	assert_false(r[0].resumed);
	/* slots come back: park again, then the rest expires */
	memset(&r[1], 0, sizeof(r[1]));
	dev_id(id, 1);
	assert_int_equal(fl_push_wait(p, &r[1], id, fl_push_mark(p, id), 40),
	                 FL_OK);
	assert_int_equal(fl_push_expire(p, 1000), 2);
	assert_true(r[0].resumed && r[1].resumed);
	assert_int_equal(fl_push_waiting(p), 0);
	fl_push_free(p);
}

#define MANY 100000

static void test_cost_does_not_grow(void **state)
{
	static struct fl_req r[MANY];
	struct fl_push *p = NULL;
	char id[FL_ID_MAX];
	double t0, park, publish, expire;

	(void)state;
	memset(r, 0, sizeof(r));
	suspended = resumed = 0;
	assert_int_equal(fl_push_new(&p, MANY, &hooks), FL_OK);
	t0 = secs();
	for (int i = 0; i < MANY; i++) {
		dev_id(id, i);
		assert_int_equal(fl_push_wait(p, &r[i], id, fl_push_mark(p, id),
		                              1000 + i / 1000),
		                 FL_OK);
	}
	park = secs() - t0;
	assert_int_equal(fl_push_waiting(p), MANY);

	/* 10,000 publishes for devices nobody waits on, then for 1,000
	 * that do */
	t0 = secs();
	for (int i = 0; i < 10000; i++) {
		dev_id(id, MANY + i);
		fl_push_publish(p, id);
	}
	for (int i = 0; i < 1000; i++) {
		dev_id(id, i * 97);
		fl_push_publish(p, id);
	}
	publish = secs() - t0;
	assert_int_equal(resumed, 1000);

	/* expiry visits only what is due */
	t0 = secs();
	for (int k = 0; k < 10000; k++)
		(void)fl_push_expire(p, 999);
	assert_int_equal(fl_push_expire(p, 1000), 1000 - 11);
	expire = secs() - t0;
	fprintf(stderr,
	        "%d parked in %.3f s; 11,000 publishes %.3f s; 10,001 "
	        "expiry scans %.3f s\n",
	        MANY, park, publish, expire);
	/* generous bounds: a walk over every waiter per call would take
	 * tens of seconds here */
	assert_true(park < 5.0);
	assert_true(publish < 2.0);
	assert_true(expire < 2.0);
	fl_push_release_all(p);
	assert_int_equal(fl_push_waiting(p), 0);
	assert_int_equal(resumed, MANY);
	fl_push_free(p);
}

/* Inserts device id into st and returns its row's ord. */
static int64_t insert_device(struct fl_store *st, const char *id,
                             const char *imei)
{
	struct fl_device d;
	struct fl_tx *tx = NULL;

	memset(&d, 0, sizeof(d));
	snprintf(d.id, sizeof(d.id), "%s", id);
	snprintf(d.tenant_id, sizeof(d.tenant_id), "tn_1");
	snprintf(d.imei, sizeof(d.imei), "%s", imei);
	snprintf(d.serial, sizeof(d.serial), "SN");
	d.created_at = 1800000000;
	assert_int_equal(fl_store_begin(st, true, &tx), FL_OK);
	assert_int_equal(fl_store_device_insert(tx, &d), FL_OK);
	assert_int_equal(fl_tx_commit(tx), FL_OK);
	assert_int_equal(fl_store_begin(st, false, &tx), FL_OK);
	assert_int_equal(fl_store_device_get_any(tx, id, &d), FL_OK);
	fl_tx_rollback(tx);
	return d.ord;
}

/* A committed change of the device's row (what any process's commit
 * delivers through the change feed). */
static void change_device(struct fl_store *st, const char *id)
{
	struct fl_tx *tx = NULL;

	assert_int_equal(fl_store_begin(st, true, &tx), FL_OK);
	assert_int_equal(fl_store_device_touch(tx, id, 1800000100, 3), FL_OK);
	assert_int_equal(fl_tx_commit(tx), FL_OK);
}

/* The change feed wakes the waiters of the changed row and no other, with
 * no publish at all (a commit made by another node); a change committed
 * between the clock read and the park refuses the park. */
static void test_feed_wakes_by_row(void **state)
{
	char dir[] = "/tmp/finlock-push-XXXXXX", path[64], cmd[96];
	struct fl_store *st = NULL;
	struct fl_push *p = NULL;
	struct fl_req r[3];
	int64_t ord_a, ord_b;
	uint64_t m, c;

	(void)state;
	memset(r, 0, sizeof(r));
	suspended = resumed = 0;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/finlock.db", dir);
	assert_int_equal(fl_store_open_sqlite(&st, path, NULL), FL_OK);
	assert_int_equal(fl_push_new(&p, 8, &hooks), FL_OK);
	assert_int_equal(fl_push_follow(p, st), FL_OK);
	ord_a = insert_device(st, "dv_a", "490154203237518");
	ord_b = insert_device(st, "dv_b", "356938035643809");

	m = fl_push_mark(p, "dv_a");
	c = fl_push_clock(p);
	assert_int_equal(fl_push_wait_row(p, &r[0], "dv_a", ord_a, m, c, 100),
	                 FL_OK);
	assert_int_equal(r[0].wait_until, 100);
	m = fl_push_mark(p, "dv_b");
	c = fl_push_clock(p);
	assert_int_equal(fl_push_wait_row(p, &r[1], "dv_b", ord_b, m, c, 100),
	                 FL_OK);
	change_device(st, "dv_a");
	assert_true(r[0].resumed);
	assert_false(r[1].resumed);
	assert_int_equal(fl_push_waiting(p), 1);

	/* read, then a change committed, then the park: refused */
	m = fl_push_mark(p, "dv_a");
	c = fl_push_clock(p);
	change_device(st, "dv_a");
	assert_int_equal(fl_push_wait_row(p, &r[2], "dv_a", ord_a, m, c, 100),
	                 FL_E_STATE);
	assert_false(r[2].parked);

	fl_push_release_all(p);
	fl_push_free(p);
	fl_store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_publish_wakes_its_device),
	        cmocka_unit_test(test_feed_wakes_by_row),
	        cmocka_unit_test(test_deadlines_expire_in_order),
	        cmocka_unit_test(test_cost_does_not_grow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
