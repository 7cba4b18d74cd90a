/*
 * Unit tests for the storage interface, run against both backends: SQLite,
 * and PostgreSQL on a private cluster this program starts (one cluster for
 * the program, one schema of one database per test). Migrations,
 * transactions (commit, rollback, persistence across reopen), tenants and
 * keys with tenant scoping, idempotency records, audit entries with
 * filters, and the append-only guard; devices: counts by state kept
 * through every change, and a device's decision inputs loaded in one
 * call; request counters claimed once; the change feed; every operation
 * once. SQLite only: the lost-WAL mark, damage found by the checks, file
 * snapshots, a database made before the counts were kept. PostgreSQL
 * only: two stores on one database as two finlockd processes (the feed
 * across them, device locks, job claims, request counters and an audit
 * chain written by both), migrations by several processes at once, the
 * server going away and coming back, SQLSTATE mapping, the checks and the
 * refused snapshot.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <pthread.h>
#include <sqlite3.h>
#include <time.h>

#include "core/crypto.h"
#include "core/portfolio.h"
#include "store/store.h"
#include "support/pg_cluster.h"

#define T cmocka_unit_test_setup_teardown

struct fx {
	char dir[64];
	char path[128];
	bool pg;       /* the PostgreSQL backend */
	char db[32];   /* its database */
	char uri[200]; /* and the URI of that */
	struct fl_store *st;
};

static struct pg_cluster cluster; /* the program's PostgreSQL */
static int n_databases;           /* made so far, for their names */

static int setup_sqlite(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL || fl_crypto_init() != FL_OK)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/finlock-store-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/test.db", f->dir);
	if (fl_store_open_sqlite(&f->st, f->path, NULL) != FL_OK)
		return -1;
	*state = f;
	return 0;
}

/* The URI of schema `schema` of the test database. */
static void schema_uri(const char *schema, char *out, size_t cap)
{
	char db[96];

	snprintf(db, sizeof(db), "finlock?options=-csearch_path%%3D%s",
	         schema);
	pg_cluster_uri(&cluster, db, out, cap);
}

/* A fresh schema of the program's test database (a schema costs
 * milliseconds where a database costs a checkpoint), and a store on it. */
static int setup_pg(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char sql[64];

	if (f == NULL || fl_crypto_init() != FL_OK)
		return -1;
	f->pg = true;
	snprintf(f->db, sizeof(f->db), "t%d", ++n_databases);
	snprintf(sql, sizeof(sql), "CREATE SCHEMA %s", f->db);
	if (pg_cluster_exec(&cluster, "finlock", sql) != 0)
		return -1;
	schema_uri(f->db, f->uri, sizeof(f->uri));
	if (fl_store_open_pg(&f->st, f->uri, NULL) != FL_OK) {
		fprintf(stderr, "open: %s\n", fl_store_errmsg());
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char p[160];

	fl_store_close(f->st);
	if (f->pg) {
		snprintf(p, sizeof(p), "DROP SCHEMA %s CASCADE", f->db);
		(void)pg_cluster_exec(&cluster, "finlock", p);
		free(f);
		return 0;
	}
	const char *sfx[] = {"", "-wal", "-shm", "-open", ".copy"};
	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", f->path, sfx[i]);
		unlink(p);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

static int start_cluster(void **state)
{
	(void)state;
	if (pg_cluster_start(&cluster) != 0)
		return -1;
	return pg_cluster_exec(&cluster, "postgres", "CREATE DATABASE finlock");
}

static int stop_cluster(void **state)
{
	(void)state;
	pg_cluster_destroy(&cluster);
	return 0;
}

/* Opens f's database again (a new store of the same backend). */
static fl_err open_again(struct fx *f, struct fl_store **st, bool must_exist)
{
	struct fl_store_sqlite_opts sq = {.must_exist = must_exist};
	struct fl_store_pg_opts pg = {.must_exist = must_exist};

	return f->pg ? fl_store_open_pg(st, f->uri, &pg)
	             : fl_store_open_sqlite(st, f->path, &sq);
}

/* Runs sql on f's database behind the store's back: 0 when it ran. */
static int raw_exec(struct fx *f, const char *sql)
{
	sqlite3 *db = NULL;
	int rc;

	if (f->pg) {
		char set[600];

		snprintf(set, sizeof(set), "SET search_path = %s; %s", f->db,
		         sql);
		return pg_cluster_exec(&cluster, "finlock", set);
	}
	if (sqlite3_open(f->path, &db) != SQLITE_OK) {
		sqlite3_close(db);
		return -1;
	}
	rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	return rc == SQLITE_OK ? 0 : -1;
}

static struct fl_tx *begin(struct fx *f, bool write)
{
	struct fl_tx *tx = NULL;

	assert_int_equal(fl_store_begin(f->st, write, &tx), FL_OK);
	assert_non_null(tx);
	return tx;
}

static void test_migrations(void **state)
{
	struct fx *f = *state;

	assert_true(fl_store_schema_latest() >= 1);
	assert_int_equal(fl_store_schema_version(f->st),
	                 fl_store_schema_latest());
}

static void test_newer_schema_refused(void **state)
{
	struct fx *f = *state;
	struct fl_store *st2 = NULL;
	char sql[128];

	snprintf(sql, sizeof(sql), "INSERT INTO schema_version VALUES (%d, 0);",
	         fl_store_schema_latest() + 1);
	assert_int_equal(raw_exec(f, sql), 0);
	assert_int_equal(open_again(f, &st2, false), FL_E_STORE_SCHEMA);
	assert_null(st2);
}

static void test_tenants_commit_rollback(void **state)
{
	struct fx *f = *state;
	struct fl_tenant t = {0}, got;
	struct fl_tx *tx;

	snprintf(t.id, sizeof(t.id), "tn_a");
	snprintf(t.name, sizeof(t.name), "Acme");
	t.created_at = 1000;
	tx = begin(f, true);
	assert_int_equal(fl_store_tenant_insert(tx, &t), FL_OK);
	assert_true(t.ord > 0);
	assert_int_equal(fl_store_tenant_insert(tx, &t), FL_E_CONFLICT);
	fl_tx_rollback(tx);

	tx = begin(f, false);
	assert_int_equal(fl_store_tenant_get(tx, "tn_a", &got), FL_E_NOT_FOUND);
	fl_tx_rollback(tx);

	tx = begin(f, true);
	assert_int_equal(fl_store_tenant_insert(tx, &t), FL_OK);
	assert_int_equal(fl_tx_commit(tx), FL_OK);

	/* survives closing and reopening */
	fl_store_close(f->st);
	assert_int_equal(open_again(f, &f->st, false), FL_OK);
	tx = begin(f, false);
	assert_int_equal(fl_store_tenant_get(tx, "tn_a", &got), FL_OK);
	assert_string_equal(got.name, "Acme");
	assert_int_equal(got.created_at, 1000);
	fl_tx_rollback(tx);
}

/* A failed call leaves the backend's own words for the log; the next
 * transaction starts without them. The transaction goes on after a
 * conflict (PostgreSQL: the statement ran in a savepoint). */
static void test_backend_message(void **state)
{
	struct fx *f = *state;
	struct fl_tenant t = {0};
	struct fl_tx *tx;

	snprintf(t.id, sizeof(t.id), "tn_msg");
	snprintf(t.name, sizeof(t.name), "Words");
	tx = begin(f, true);
	assert_string_equal(fl_store_errmsg(), "");
	assert_int_equal(fl_store_tenant_insert(tx, &t), FL_OK);
	const char *words = f->pg ? "duplicate key value violates unique "
	                            "constraint"
	                          : "UNIQUE constraint failed";
	struct fl_tenant got;

	assert_int_equal(fl_store_tenant_insert(tx, &t), FL_E_CONFLICT);
	assert_non_null(
	        strstr(fl_store_errmsg(), f->pg ? "postgresql: " : "sqlite: "));
	assert_non_null(strstr(fl_store_errmsg(), words));
	if (f->pg)
		assert_non_null(strstr(fl_store_errmsg(), "23505"));
	assert_int_equal(fl_store_tenant_get(tx, "tn_msg", &got), FL_OK);
	/* a rollback does not replace it */
	fl_tx_rollback(tx);
	assert_non_null(strstr(fl_store_errmsg(), words));
	tx = begin(f, false);
	assert_string_equal(fl_store_errmsg(), "");
	fl_tx_rollback(tx);
}

static fl_err count_tenant(void *ctx, const struct fl_tenant *t)
{
	int *n = ctx;

	(void)t;
	(*n)++;
	return FL_OK;
}

static fl_err stop_walk(void *ctx, const struct fl_tenant *t)
{
	(void)ctx;
	(void)t;
	return FL_E_LIMIT;
}

static void test_tenant_list_cursor(void **state)
{
	struct fx *f = *state;
	struct fl_tenant t = {0};
	struct fl_tx *tx = begin(f, true);
	int64_t ords[5];
	int n = 0;

	for (int i = 0; i < 5; i++) {
		snprintf(t.id, sizeof(t.id), "tn_%d", i);
		snprintf(t.name, sizeof(t.name), "T%d", i);
		assert_int_equal(fl_store_tenant_insert(tx, &t), FL_OK);
		ords[i] = t.ord;
	}
	assert_int_equal(fl_store_tenant_list(tx, 0, 2, count_tenant, &n),
	                 FL_OK);
	assert_int_equal(n, 2);
	n = 0;
	assert_int_equal(
	        fl_store_tenant_list(tx, ords[1], -1, count_tenant, &n), FL_OK);
	assert_int_equal(n, 3);
	/* a callback's error stops the walk and comes back */
	assert_int_equal(fl_store_tenant_list(tx, 0, -1, stop_walk, NULL),
	                 FL_E_LIMIT);
	assert_int_equal(fl_tx_commit(tx), FL_OK);
}

static void make_key(struct fl_apikey *k, const char *id, const char *tenant,
                     const char *role, uint8_t seed)
{
	memset(k, 0, sizeof(*k));
	snprintf(k->id, sizeof(k->id), "%s", id);
	snprintf(k->tenant_id, sizeof(k->tenant_id), "%s", tenant);
	snprintf(k->role, sizeof(k->role), "%s", role);
	memset(k->hash, seed, sizeof(k->hash));
	k->created_at = 5;
}

static void test_apikeys_scoped(void **state)
{
	struct fx *f = *state;
	struct fl_apikey k, got;
	uint8_t h[FL_HASH_LEN];
	struct fl_tx *tx = begin(f, true);
	int64_t n = 0;

	make_key(&k, "ak_1", "tn_a", "admin", 1);
	assert_int_equal(fl_store_apikey_insert(tx, &k), FL_OK);
	make_key(&k, "ak_2", "tn_b", "clerk", 2);
	assert_int_equal(fl_store_apikey_insert(tx, &k), FL_OK);
	/* same hash twice is refused */
	make_key(&k, "ak_3", "tn_b", "clerk", 2);
	assert_int_equal(fl_store_apikey_insert(tx, &k), FL_E_CONFLICT);
	assert_int_equal(fl_store_apikey_count(tx, &n), FL_OK);
	assert_int_equal(n, 2);

	memset(h, 2, sizeof(h));
	assert_int_equal(fl_store_apikey_by_hash(tx, h, &got), FL_OK);
	assert_string_equal(got.id, "ak_2");
	assert_string_equal(got.role, "clerk");
	memset(h, 9, sizeof(h));
	assert_int_equal(fl_store_apikey_by_hash(tx, h, &got), FL_E_NOT_FOUND);

	/* another tenant's key is not found, and cannot be revoked */
	assert_int_equal(fl_store_apikey_get(tx, "tn_a", "ak_2", &got),
	                 FL_E_NOT_FOUND);
	assert_int_equal(fl_store_apikey_revoke(tx, "tn_a", "ak_2", 9),
	                 FL_E_NOT_FOUND);
	assert_int_equal(fl_store_apikey_revoke(tx, "tn_b", "ak_2", 9), FL_OK);
	assert_int_equal(fl_store_apikey_revoke(tx, "tn_b", "ak_2", 10),
	                 FL_E_STATE);
	assert_int_equal(fl_store_apikey_get(tx, "tn_b", "ak_2", &got), FL_OK);
	assert_int_equal(got.revoked_at, 9);
	assert_int_equal(fl_tx_commit(tx), FL_OK);
}

static void test_idempotency_records(void **state)
{
	struct fx *f = *state;
	struct fl_idem rec = {0}, got;
	struct fl_tx *tx = begin(f, true);
	int64_t n = 0;

	snprintf(rec.tenant_id, sizeof(rec.tenant_id), "tn_a");
	snprintf(rec.route, sizeof(rec.route), "POST /v1/x");
	snprintf(rec.key, sizeof(rec.key), "k1");
	memset(rec.fingerprint, 7, sizeof(rec.fingerprint));
	rec.status = 201;
	rec.body = "{\"ok\":true}";
	rec.created_at = 100;
	assert_int_equal(fl_store_idem_put(tx, &rec), FL_OK);
	assert_int_equal(fl_store_idem_put(tx, &rec), FL_E_CONFLICT);
	assert_int_equal(
	        fl_store_idem_get(tx, "tn_a", "POST /v1/x", "k1", &got), FL_OK);
	assert_int_equal(got.status, 201);
	assert_string_equal(got.body, "{\"ok\":true}");
	free(got.body);
	/* scoped to the tenant and the route */
	assert_int_equal(
	        fl_store_idem_get(tx, "tn_b", "POST /v1/x", "k1", &got),
	        FL_E_NOT_FOUND);
	assert_int_equal(
	        fl_store_idem_get(tx, "tn_a", "POST /v1/y", "k1", &got),
	        FL_E_NOT_FOUND);
	assert_int_equal(fl_store_idem_expire(tx, 101, &n), FL_OK);
	assert_int_equal(n, 1);
	assert_int_equal(fl_tx_commit(tx), FL_OK);
}

static fl_err collect_seq(void *ctx, const struct fl_audit_entry *e)
{
	int64_t *seqs = ctx;

	seqs[++seqs[0]] = e->seq;
	return FL_OK;
}

static void test_audit_entries(void **state)
{
	struct fx *f = *state;
	struct fl_audit_entry *e = calloc(1, sizeof(*e));
	struct fl_audit_filter flt = {0};
	uint8_t hash[FL_HASH_LEN];
	int64_t seq = -1, seqs[16] = {0};
	struct fl_tx *tx = begin(f, true);

	assert_int_equal(fl_store_audit_head(tx, "tn_a", &seq, hash), FL_OK);
	assert_int_equal(seq, 0);
	for (int i = 1; i <= 4; i++) {
		memset(e, 0, sizeof(*e));
		snprintf(e->chain, sizeof(e->chain), "tn_a");
		e->seq = i;
		e->at = 1000 + i;
		snprintf(e->actor, sizeof(e->actor), "ak_%d", i % 2);
		snprintf(e->action, sizeof(e->action), "%s",
		         i % 2 ? "device.lock" : "device.unlock");
		snprintf(e->target, sizeof(e->target), "dv_%d", i);
		memset(e->hash, i, sizeof(e->hash));
		assert_int_equal(fl_store_audit_append(tx, e), FL_OK);
	}
	assert_int_equal(fl_store_audit_append(tx, e), FL_E_CONFLICT);
	assert_int_equal(fl_store_audit_head(tx, "tn_a", &seq, hash), FL_OK);
	assert_int_equal(seq, 4);
	assert_int_equal(hash[0], 4);
	flt.action = "device.lock";
	assert_int_equal(
	        fl_store_audit_list(tx, "tn_a", 0, -1, &flt, collect_seq, seqs),
	        FL_OK);
	assert_int_equal(seqs[0], 2);
	assert_int_equal(seqs[1], 1);
	assert_int_equal(seqs[2], 3);
	memset(&flt, 0, sizeof(flt));
	flt.since = 1002;
	flt.until = 1004;
	seqs[0] = 0;
	assert_int_equal(
	        fl_store_audit_list(tx, "tn_a", 0, -1, &flt, collect_seq, seqs),
	        FL_OK);
	assert_int_equal(seqs[0], 2);
	/* other chains see nothing */
	seqs[0] = 0;
	assert_int_equal(
	        fl_store_audit_list(tx, "tn_b", 0, -1, NULL, collect_seq, seqs),
	        FL_OK);
	assert_int_equal(seqs[0], 0);
	assert_int_equal(fl_tx_commit(tx), FL_OK);
	free(e);

	/* the database refuses to change or delete entries */
	assert_int_not_equal(
	        raw_exec(f, "UPDATE audit SET actor = 'x' WHERE seq = 1;"), 0);
	assert_int_not_equal(raw_exec(f, "DELETE FROM audit;"), 0);
	assert_int_equal(raw_exec(f, "SELECT 1 FROM audit WHERE seq = 4;"), 0);
}

static void test_writers_serialise(void **state)
{
	struct fx *f = *state;
	struct fl_tx *a = begin(f, true), *r = begin(f, false);
	struct fl_tenant t = {0}, got;

	/* a reader beside a writer sees the last commit, not the writer's
	 * pending change */
	snprintf(t.id, sizeof(t.id), "tn_w");
	assert_int_equal(fl_store_tenant_insert(a, &t), FL_OK);
	assert_int_equal(fl_store_tenant_get(r, "tn_w", &got), FL_E_NOT_FOUND);
	assert_int_equal(fl_tx_commit(a), FL_OK);
	fl_tx_rollback(r);
	r = begin(f, false);
	assert_int_equal(fl_store_tenant_get(r, "tn_w", &got), FL_OK);
	fl_tx_rollback(r);
}

/* --- devices ---------------------------------------------------------- */

/* Inserts device id of tenant "tn_1" with IMEI imei. */
static void add_device(struct fl_tx *tx, const char *id, const char *imei)
{
	struct fl_device d;

	memset(&d, 0, sizeof(d));
	snprintf(d.id, sizeof(d.id), "%s", id);
	snprintf(d.tenant_id, sizeof(d.tenant_id), "tn_1");
	snprintf(d.imei, sizeof(d.imei), "%s", imei);
	d.created_at = 1000;
	assert_int_equal(fl_store_device_insert(tx, &d), FL_OK);
}

static void set_state(struct fl_tx *tx, const char *id, enum fl_dev_state s,
                      bool stolen)
{
	struct fl_device_status st;

	memset(&st, 0, sizeof(st));
	st.state = s;
	st.stolen = stolen;
	st.token_seq = 1;
	assert_int_equal(fl_store_device_set_status(tx, id, &st), FL_OK);
}

static fl_err count_one(void *ctx, const struct fl_device *d)
{
	int64_t *c = ctx;

	c[d->st.state]++;
	c[5] += d->st.stolen;
	return FL_OK;
}

/* fl_store_device_count equals a walk over every device of tn_1. */
static void assert_counts(struct fl_tx *tx, int64_t p, int64_t a, int64_t r,
                          int64_t l, int64_t rel, int64_t stolen)
{
	int64_t by_state[5], n_stolen = -1, walk[6] = {0};

	assert_int_equal(fl_store_device_count(tx, by_state, &n_stolen), FL_OK);
	assert_int_equal(by_state[FL_ST_PENDING], p);
	assert_int_equal(by_state[FL_ST_ACTIVE], a);
	assert_int_equal(by_state[FL_ST_REMINDING], r);
	assert_int_equal(by_state[FL_ST_LOCKED], l);
	assert_int_equal(by_state[FL_ST_RELEASED], rel);
	assert_int_equal(n_stolen, stolen);
	assert_int_equal(
	        fl_store_device_list(tx, "tn_1", NULL, 0, -1, count_one, walk),
	        FL_OK);
	for (int s = 0; s < 5; s++)
		assert_int_equal(walk[s], by_state[s]);
	assert_int_equal(walk[5], n_stolen);
}

struct ids {
	char id[8][FL_ID_MAX];
	int64_t ord[8], key[8];
	int n;
	enum fl_device_sort sort;
};

static fl_err collect(void *ctx, const struct fl_device *d)
{
	struct ids *w = ctx;

	if (w->n == 8)
		return FL_E_LIMIT;
	snprintf(w->id[w->n], FL_ID_MAX, "%s", d->id);
	w->ord[w->n] = d->ord;
	w->key[w->n++] = fl_device_sort_key(d, w->sort);
	return FL_OK;
}

/* The ids f lists, in pages of two, as one string "a b c". */
static void list_all(struct fl_tx *tx, struct fl_device_filter *f,
                     char *out, size_t cap)
{
	int64_t after = 0;

	out[0] = '\0';
	f->has_key = false;
	for (int guard = 0; guard < 10; guard++) {
		struct ids w = {.sort = f->sort};

		assert_int_equal(fl_store_device_list(tx, "tn_1", f, after, 2,
		                                      collect, &w),
		                 FL_OK);
		for (int i = 0; i < w.n; i++) {
			strncat(out, w.id[i], cap - strlen(out) - 1);
			strncat(out, " ", cap - strlen(out) - 1);
		}
		if (w.n < 2)
			return;
		after = w.ord[w.n - 1];
		f->has_key = f->sort != FL_DSORT_REGISTERED;
		f->after_key = w.key[w.n - 1];
	}
	fail_msg("more pages than devices");
}

/* The device list's filters, orders and pages, the exact IMEI and the
 * lean read, alike on every backend. */
static void test_device_list_orders(void **state)
{
	struct fx *f = *state;
	struct fl_tx *tx = begin(f, true);
	struct fl_device_filter flt;
	struct fl_device_status st;
	const int64_t due[5] = {0, 500, 500, 0, 900};
	char got[256];

	for (int i = 0; i < 5; i++) {
		char id[16], imei[16];

		snprintf(id, sizeof(id), "dv_%c", 'a' + i);
		snprintf(imei, sizeof(imei), "3520990000000%d%d", i, i);
		add_device(tx, id, imei);
		memset(&st, 0, sizeof(st));
		st.state = i == 3 ? FL_ST_LOCKED : FL_ST_ACTIVE;
		st.amount_due = due[i];
		st.amount_remaining = 1000 + i;
		st.stolen = i == 3;
		st.unlock_until = i == 1 ? 5000 : 0;
		st.next_due_at = i == 0 ? 0 : 10000 - i;
		st.token_seq = 1;
		assert_int_equal(fl_store_device_set_status(tx, id, &st), FL_OK);
	}
	memset(&flt, 0, sizeof(flt));
	flt.any_state = true;
	list_all(tx, &flt, got, sizeof(got));
	assert_string_equal(got, "dv_a dv_b dv_c dv_d dv_e ");
	flt.desc = true;
	list_all(tx, &flt, got, sizeof(got));
	assert_string_equal(got, "dv_e dv_d dv_c dv_b dv_a ");
	flt.sort = FL_DSORT_AMOUNT_DUE;
	list_all(tx, &flt, got, sizeof(got));
	assert_string_equal(got, "dv_e dv_b dv_c dv_a dv_d ");
	flt.desc = false;
	flt.sort = FL_DSORT_NEXT_DUE;
	list_all(tx, &flt, got, sizeof(got));
	assert_string_equal(got, "dv_e dv_d dv_c dv_b dv_a ");
	flt.sort = FL_DSORT_STATE;
	flt.desc = true;
	list_all(tx, &flt, got, sizeof(got));
	assert_string_equal(got, "dv_d dv_a dv_b dv_c dv_e ");
	memset(&flt, 0, sizeof(flt));
	flt.any_state = true;
	flt.stolen = true;
	list_all(tx, &flt, got, sizeof(got));
	assert_string_equal(got, "dv_d ");
	flt.stolen = false;
	flt.lock_held = true;
	flt.now = 4000;
	list_all(tx, &flt, got, sizeof(got));
	assert_string_equal(got, "dv_b ");
	flt.now = 6000; /* the unlock has ended */
	list_all(tx, &flt, got, sizeof(got));
	assert_string_equal(got, "");
	flt.lock_held = false;
	flt.overdue = true;
	flt.sort = FL_DSORT_AMOUNT_DUE;
	flt.desc = true;
	flt.q = "DV_"; /* folded as ASCII: matches none (ids match as given) */
	list_all(tx, &flt, got, sizeof(got));
	assert_string_equal(got, "");
	flt.q = "0000000";
	list_all(tx, &flt, got, sizeof(got));
	assert_string_equal(got, "dv_e dv_b dv_c ");
	memset(&flt, 0, sizeof(flt));
	flt.any_state = true;
	flt.imei = "352099000000022";
	list_all(tx, &flt, got, sizeof(got));
	assert_string_equal(got, "dv_c ");
	memset(&flt, 0, sizeof(flt));
	flt.any_state = true;
	flt.lean = true;
	{
		struct ids w = {.sort = FL_DSORT_AMOUNT_DUE};

		assert_int_equal(fl_store_device_list(tx, "tn_1", &flt, 0, -1,
		                                      collect, &w),
		                 FL_OK);
		assert_int_equal(w.n, 5);
		assert_int_equal(w.key[4], 900);
	}
	fl_tx_rollback(tx);
}

/* The counts by state follow every insert and status change, roll back
 * with their transaction, and a reader keeps the counts of its snapshot
 * while a writer changes them. */
static void test_device_counts(void **state)
{
	struct fx *f = *state;
	struct fl_tx *tx = begin(f, true), *r;

	assert_counts(tx, 0, 0, 0, 0, 0, 0);
	add_device(tx, "dv_1", "490154203237518");
	add_device(tx, "dv_2", "356938035643809");
	add_device(tx, "dv_3", "352099001761481");
	assert_counts(tx, 3, 0, 0, 0, 0, 0);
	set_state(tx, "dv_1", FL_ST_ACTIVE, false);
	set_state(tx, "dv_2", FL_ST_LOCKED, true);
	/* the same status again changes nothing */
	set_state(tx, "dv_2", FL_ST_LOCKED, true);
	assert_counts(tx, 1, 1, 0, 1, 0, 1);
	assert_int_equal(fl_tx_commit(tx), FL_OK);

	/* a reader's snapshot, taken before the writer's change */
	r = begin(f, false);
	assert_counts(r, 1, 1, 0, 1, 0, 1);
	tx = begin(f, true);
	set_state(tx, "dv_2", FL_ST_LOCKED, false);
	set_state(tx, "dv_1", FL_ST_REMINDING, false);
	set_state(tx, "dv_3", FL_ST_RELEASED, false);
	assert_counts(tx, 0, 0, 1, 1, 1, 0);
	assert_counts(r, 1, 1, 0, 1, 0, 1);
	fl_tx_rollback(tx);
	fl_tx_rollback(r);
	r = begin(f, false);
	assert_counts(r, 1, 1, 0, 1, 0, 1);
	fl_tx_rollback(r);

	tx = begin(f, true);
	set_state(tx, "dv_2", FL_ST_ACTIVE, false);
	assert_int_equal(fl_tx_commit(tx), FL_OK);
	r = begin(f, false);
	assert_counts(r, 1, 2, 0, 0, 0, 0);
	fl_tx_rollback(r);
}

/* One writer of test_device_counts_concurrent: moves devices between
 * states, one write transaction each, some rolled back. */
struct mover {
	struct fl_store *st;
	unsigned seed;
	int failures;
};

static void *move_devices(void *arg)
{
	struct mover *m = arg;

	for (int i = 0; i < 200; i++) {
		struct fl_tx *tx = NULL;
		struct fl_device_status s;
		char id[16];
		unsigned r = (unsigned)rand_r(&m->seed);

		memset(&s, 0, sizeof(s));
		snprintf(id, sizeof(id), "dv_%u", r % 8);
		s.state = (enum fl_dev_state)((r >> 4) % 5);
		s.stolen = ((r >> 8) & 3) == 0;
		s.token_seq = 1;
		if (fl_store_begin(m->st, true, &tx) != FL_OK) {
			m->failures++;
			continue;
		}
		if (fl_store_device_set_status(tx, id, &s) != FL_OK)
			m->failures++;
		if ((r >> 12) % 4 == 0)
			fl_tx_rollback(tx);
		else if (fl_tx_commit(tx) != FL_OK)
			m->failures++;
	}
	return NULL;
}

/* Writers on several threads move devices between states while a reader
 * counts: every count it sees adds up to the fleet, and at the end the
 * counts equal a walk over the devices. */
static void test_device_counts_concurrent(void **state)
{
	struct fx *f = *state;
	struct fl_tx *tx = begin(f, true);
	struct mover m[3];
	pthread_t th[3];
	const char *imeis[8] = {"490154203237518", "356938035643809",
	                        "352099001761481", "353918059876542",
	                        "356656423456782", "351756051523999",
	                        "359881030314356", "354712083467891"};
	int64_t total = 8, walk[6] = {0}, by_state[5], stolen;

	for (int i = 0; i < 8; i++) {
		char id[16];

		snprintf(id, sizeof(id), "dv_%d", i);
		add_device(tx, id, imeis[i]);
	}
	assert_int_equal(fl_tx_commit(tx), FL_OK);
	for (int i = 0; i < 3; i++) {
		m[i].st = f->st;
		m[i].seed = 17u * (unsigned)(i + 1);
		m[i].failures = 0;
		assert_int_equal(
		        pthread_create(&th[i], NULL, move_devices, &m[i]), 0);
	}
	for (int i = 0; i < 100; i++) {
		int64_t sum = 0;

		tx = begin(f, false);
		assert_int_equal(fl_store_device_count(tx, by_state, &stolen),
		                 FL_OK);
		fl_tx_rollback(tx);
		for (int s = 0; s < 5; s++) {
			assert_true(by_state[s] >= 0);
			sum += by_state[s];
		}
		assert_int_equal(sum, total);
		assert_true(stolen >= 0 && stolen <= total);
	}
	for (int i = 0; i < 3; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(m[i].failures, 0);
	}
	tx = begin(f, false);
	assert_int_equal(fl_store_device_count(tx, by_state, &stolen), FL_OK);
	assert_int_equal(
	        fl_store_device_list(tx, "tn_1", NULL, 0, -1, count_one, walk),
	        FL_OK);
	fl_tx_rollback(tx);
	for (int s = 0; s < 5; s++)
		assert_int_equal(walk[s], by_state[s]);
	assert_int_equal(walk[5], stolen);
}

/* The earliest next change after an instant, over every device: what the
 * sweep sleeps until. */
static void test_device_next_change(void **state)
{
	struct fx *f = *state;
	struct fl_tx *tx = begin(f, true);
	struct fl_device_status s;
	fl_time at = -1;

	assert_int_equal(fl_store_device_next_change(tx, 0, &at), FL_OK);
	assert_int_equal(at, 0);
	add_device(tx, "dv_1", "490154203237518");
	add_device(tx, "dv_2", "356938035643809");
	add_device(tx, "dv_3", "352099001761481");
	memset(&s, 0, sizeof(s));
	s.next_change = 200;
	assert_int_equal(fl_store_device_set_status(tx, "dv_1", &s), FL_OK);
	s.next_change = 100;
	assert_int_equal(fl_store_device_set_status(tx, "dv_2", &s), FL_OK);
	assert_int_equal(fl_store_device_next_change(tx, 0, &at), FL_OK);
	assert_int_equal(at, 100);
	/* a change already past (a device left due) does not count */
	assert_int_equal(fl_store_device_next_change(tx, 100, &at), FL_OK);
	assert_int_equal(at, 200);
	assert_int_equal(fl_store_device_next_change(tx, 200, &at), FL_OK);
	assert_int_equal(at, 0);
	fl_tx_rollback(tx);
}

/* The sweep's batch: the due devices (next_change in (0, now]) locked and
 * loaded with their inputs, in id order, at most limit of them (the
 * earliest changes first); their decisions stored in one call, the counts
 * by state following; a device that is gone refused. */
static void test_sweep_batch(void **state)
{
	struct fx *f = *state;
	struct fl_tx *tx = begin(f, true);
	struct fl_installment sched[2] = {{100, 10}, {200, 20}};
	struct fl_device_status s, st[2];
	struct fl_status_write w[2];
	struct fl_contract_rec c;
	struct fl_payment_rec p;
	struct fl_device devs[4], d;
	struct fl_device_inputs ins[4];
	int64_t by_state[5], stolen;
	int n = -1;

	add_device(tx, "dv_4", "490154203237518");
	add_device(tx, "dv_2", "356938035643809");
	add_device(tx, "dv_3", "352099001761481");
	add_device(tx, "dv_1", "353918051234562");
	memset(&s, 0, sizeof(s));
	s.state = FL_ST_ACTIVE;
	s.token_seq = 1;
	s.next_change = 300; /* due at 300 */
	assert_int_equal(fl_store_device_set_status(tx, "dv_4", &s), FL_OK);
	s.next_change = 100;
	assert_int_equal(fl_store_device_set_status(tx, "dv_2", &s), FL_OK);
	s.next_change = 200;
	assert_int_equal(fl_store_device_set_status(tx, "dv_3", &s), FL_OK);
	s.next_change = 0; /* never */
	assert_int_equal(fl_store_device_set_status(tx, "dv_1", &s), FL_OK);
	memset(&c, 0, sizeof(c));
	snprintf(c.device_id, sizeof(c.device_id), "dv_2");
	snprintf(c.tenant_id, sizeof(c.tenant_id), "tn_1");
	memcpy(c.currency, "KES", 4);
	snprintf(c.loan_ref, sizeof(c.loan_ref), "LN-2");
	c.schedule = sched;
	c.n_schedule = 2;
	assert_int_equal(fl_store_contract_insert(tx, &c), FL_OK);
	memset(&p, 0, sizeof(p));
	snprintf(p.id, sizeof(p.id), "py_1");
	snprintf(p.tenant_id, sizeof(p.tenant_id), "tn_1");
	snprintf(p.device_id, sizeof(p.device_id), "dv_2");
	p.amount = 7;
	p.paid_at = 150;
	assert_int_equal(fl_store_payment_insert(tx, &p), FL_OK);
	assert_int_equal(fl_tx_commit(tx), FL_OK);

	/* at 250: dv_2 and dv_3, in id order, dv_2 with its inputs */
	tx = begin(f, true);
	assert_int_equal(fl_store_device_due_load(tx, 250, 4, devs, ins, &n),
	                 FL_OK);
	assert_int_equal(n, 2);
	assert_string_equal(devs[0].id, "dv_2");
	assert_string_equal(devs[1].id, "dv_3");
	assert_true(devs[0].has_contract);
	assert_true(ins[0].has_contract);
	assert_string_equal(ins[0].contract.loan_ref, "LN-2");
	assert_int_equal(ins[0].contract.n_schedule, 2);
	assert_int_equal(ins[0].contract.schedule[1].due_at, 200);
	assert_int_equal(ins[0].n_payments, 1);
	assert_int_equal(ins[0].payments[0].amount, 7);
	assert_false(ins[1].has_contract);
	assert_int_equal(ins[1].n_payments, 0);
	for (int i = 0; i < n; i++)
		fl_device_inputs_clear(&ins[i]);
	/* at 300, at most two: the two earliest changes, in id order */
	assert_int_equal(fl_store_device_due_load(tx, 300, 2, devs, ins, &n),
	                 FL_OK);
	assert_int_equal(n, 2);
	assert_string_equal(devs[0].id, "dv_2");
	assert_string_equal(devs[1].id, "dv_3");
	for (int i = 0; i < n; i++)
		fl_device_inputs_clear(&ins[i]);
	/* nothing due before 100 */
	assert_int_equal(fl_store_device_due_load(tx, 99, 4, devs, ins, &n),
	                 FL_OK);
	assert_int_equal(n, 0);

	/* two decisions in one call */
	memset(st, 0, sizeof(st));
	st[0].state = FL_ST_REMINDING;
	st[0].token_seq = 2;
	st[0].next_change = 1000;
	st[0].amount_due = 13;
	st[0].outcome[0] = 0xab;
	st[0].outcome[FL_HASH_LEN - 1] = 0x01;
	st[1].state = FL_ST_LOCKED;
	st[1].stolen = true;
	st[1].stolen_reported = true;
	st[1].token_seq = 5;
	st[1].credit = 3;
	w[0] = (struct fl_status_write){"dv_2", &st[0], 0, NULL};
	w[1] = (struct fl_status_write){"dv_3", &st[1], 0, NULL};
	assert_int_equal(fl_store_device_set_status_many(tx, w, 2), FL_OK);
	assert_int_equal(fl_tx_commit(tx), FL_OK);
	tx = begin(f, false);
	assert_int_equal(fl_store_device_get(tx, "tn_1", "dv_2", &d), FL_OK);
	assert_int_equal(d.st.state, FL_ST_REMINDING);
	assert_int_equal(d.st.token_seq, 2);
	assert_int_equal(d.st.next_change, 1000);
	assert_int_equal(d.st.amount_due, 13);
	assert_int_equal(d.st.outcome[0], 0xab);
	assert_int_equal(d.st.outcome[FL_HASH_LEN - 1], 0x01);
	assert_int_equal(fl_store_device_get(tx, "tn_1", "dv_3", &d), FL_OK);
	assert_int_equal(d.st.state, FL_ST_LOCKED);
	assert_true(d.st.stolen);
	assert_int_equal(d.st.token_seq, 5);
	assert_int_equal(d.st.credit, 3);
	assert_int_equal(d.st.next_change, 0);
	/* the counts follow */
	assert_int_equal(fl_store_device_count(tx, by_state, &stolen), FL_OK);
	assert_int_equal(by_state[FL_ST_ACTIVE], 2);
	assert_int_equal(by_state[FL_ST_REMINDING], 1);
	assert_int_equal(by_state[FL_ST_LOCKED], 1);
	assert_int_equal(stolen, 1);
	fl_tx_rollback(tx);
	/* a device that is gone: nothing stored */
	tx = begin(f, true);
	w[1].id = "dv_9";
	assert_int_equal(fl_store_device_set_status_many(tx, w, 2),
	                 FL_E_NOT_FOUND);
	fl_tx_rollback(tx);

	/* as the sweep writes them, with each row's number and its status
	 * as stored: dv_2 keeps its state and amounts (only its times and
	 * seq move), dv_3 leaves the locked and stolen state */
	{
		struct fl_device_status before[2], after[2];
		int64_t ord2 = devs[0].ord, ord3 = devs[1].ord;

		before[0] = st[0];
		before[1] = st[1];
		after[0] = st[0];
		after[0].next_change = 2000;
		after[0].token_seq = 3;
		after[0].lock_at = 1500;
		after[1] = st[1];
		after[1].state = FL_ST_ACTIVE;
		after[1].stolen = false;
		after[1].stolen_reported = false;
		after[1].amount_due = 4;
		after[1].token_seq = 6;
		w[0] = (struct fl_status_write){"dv_2", &after[0], ord2,
		                                &before[0]};
		w[1] = (struct fl_status_write){"dv_3", &after[1], ord3,
		                                &before[1]};
		tx = begin(f, true);
		assert_int_equal(fl_store_device_set_status_many(tx, w, 2),
		                 FL_OK);
		assert_int_equal(fl_tx_commit(tx), FL_OK);
		tx = begin(f, false);
		assert_int_equal(fl_store_device_get(tx, "tn_1", "dv_2", &d),
		                 FL_OK);
		assert_int_equal(d.st.state, FL_ST_REMINDING);
		assert_int_equal(d.st.amount_due, 13);
		assert_int_equal(d.st.next_change, 2000);
		assert_int_equal(d.st.token_seq, 3);
		assert_int_equal(d.st.lock_at, 1500);
		assert_int_equal(fl_store_device_get(tx, "tn_1", "dv_3", &d),
		                 FL_OK);
		assert_int_equal(d.st.state, FL_ST_ACTIVE);
		assert_false(d.st.stolen);
		assert_false(d.st.stolen_reported);
		assert_int_equal(d.st.amount_due, 4);
		assert_int_equal(d.st.token_seq, 6);
		assert_int_equal(fl_store_device_count(tx, by_state, &stolen),
		                 FL_OK);
		assert_int_equal(by_state[FL_ST_ACTIVE], 3);
		assert_int_equal(by_state[FL_ST_REMINDING], 1);
		assert_int_equal(by_state[FL_ST_LOCKED], 0);
		assert_int_equal(stolen, 0);
		fl_tx_rollback(tx);
		/* a row number that is not the device's: nothing stored */
		tx = begin(f, true);
		w[0].ord = ord3;
		assert_int_equal(fl_store_device_set_status_many(tx, w, 1),
		                 f->pg ? FL_OK : FL_E_NOT_FOUND);
		fl_tx_rollback(tx);
	}
}

/* A device's factory key: none until set, set and cleared again. */
static void test_factory_key(void **state)
{
	struct fx *f = *state;
	struct fl_tx *tx = begin(f, true);
	struct fl_device d;
	uint8_t pk[32];

	memset(pk, 0x5a, sizeof(pk));
	add_device(tx, "dv_1", "490154203237518");
	assert_int_equal(fl_store_device_get_any(tx, "dv_1", &d), FL_OK);
	assert_false(d.has_factory);
	assert_int_equal(fl_store_dp_set_factory(tx, "dv_1", pk), FL_OK);
	assert_int_equal(fl_store_device_get_any(tx, "dv_1", &d), FL_OK);
	assert_true(d.has_factory);
	assert_memory_equal(d.factory_pk, pk, 32);
	/* a new enrollment keeps it; only set_factory changes it */
	assert_int_equal(fl_store_dp_enroll(tx, "dv_1", pk, pk, 2000), FL_OK);
	assert_int_equal(fl_store_device_by_imei(tx, "490154203237518", &d),
	                 FL_OK);
	assert_true(d.has_factory);
	assert_int_equal(fl_store_dp_set_factory(tx, "dv_1", NULL), FL_OK);
	assert_int_equal(fl_store_device_get_any(tx, "dv_1", &d), FL_OK);
	assert_false(d.has_factory);
	assert_int_equal(fl_store_dp_set_factory(tx, "dv_none", pk),
	                 FL_E_NOT_FOUND);
	assert_int_equal(fl_tx_commit(tx), FL_OK);
}

static fl_err collect_pairing(void *ctx, const struct fl_pairing_rec *r)
{
	struct fl_pairing_rec *out = ctx;

	for (int i = 0; i < 8; i++)
		if (out[i].ord == 0) {
			out[i] = *r;
			return FL_OK;
		}
	return FL_E_TOO_LARGE;
}

static void put_pairing(struct fl_tx *tx, const char *dev, uint8_t key,
                        const char *net, bool factory, fl_time expires,
                        struct fl_pairing_rec *r)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->device_id, sizeof(r->device_id), "%s", dev);
	memset(r->sign_pk, key, 32);
	memset(r->kx_pk, key, 32);
	snprintf(r->code, sizeof(r->code), "%016u", (unsigned)key);
	r->created_at = 1000;
	r->expires_at = expires;
	r->factory_signed = factory;
	snprintf(r->client_net, sizeof(r->client_net), "%s", net);
	assert_int_equal(fl_store_pairing_put(tx, r), FL_OK);
	assert_true(r->ord > 0);
}

/* Pairing requests keep whether the factory key signed them and their
 * client network; pending unsigned ones are counted per network across
 * devices; one can be dropped. */
static void test_pairing_requests(void **state)
{
	struct fx *f = *state;
	struct fl_tx *tx = begin(f, true);
	struct fl_pairing_rec r[4], got[8];
	int64_t n = -1;

	add_device(tx, "dv_1", "490154203237518");
	add_device(tx, "dv_2", "356938035643809");
	put_pairing(tx, "dv_1", 1, "192.0.2.0/24", false, 5000, &r[0]);
	put_pairing(tx, "dv_1", 2, "192.0.2.0/24", true, 5000, &r[1]);
	put_pairing(tx, "dv_2", 3, "192.0.2.0/24", false, 5000, &r[2]);
	put_pairing(tx, "dv_2", 4, "198.51.100.0/24", false, 1500, &r[3]);

	memset(got, 0, sizeof(got));
	assert_int_equal(
	        fl_store_pairing_list(tx, "dv_1", collect_pairing, got), FL_OK);
	assert_int_equal(got[0].ord, r[0].ord);
	assert_false(got[0].factory_signed);
	assert_string_equal(got[0].client_net, "192.0.2.0/24");
	assert_int_equal(got[1].ord, r[1].ord);
	assert_true(got[1].factory_signed);
	assert_int_equal(got[2].ord, 0);

	/* unsigned, pending, not expired, of any device */
	assert_int_equal(
	        fl_store_pairing_count_net(tx, "192.0.2.0/24", 1000, &n),
	        FL_OK);
	assert_int_equal(n, 2);
	assert_int_equal(
	        fl_store_pairing_count_net(tx, "198.51.100.0/24", 1000, &n),
	        FL_OK);
	assert_int_equal(n, 1);
	assert_int_equal(
	        fl_store_pairing_count_net(tx, "198.51.100.0/24", 1500, &n),
	        FL_OK);
	assert_int_equal(n, 0);
	assert_int_equal(fl_store_pairing_decide(tx, "dv_2", r[2].ord,
	                                         FL_PAIRING_REJECTED, 1200,
	                                         "ak_1"),
	                 FL_OK);
	assert_int_equal(
	        fl_store_pairing_count_net(tx, "192.0.2.0/24", 1000, &n),
	        FL_OK);
	assert_int_equal(n, 1);

	/* dropped: gone from the list and the count */
	assert_int_equal(fl_store_pairing_drop(tx, "dv_1", r[0].ord), FL_OK);
	assert_int_equal(fl_store_pairing_drop(tx, "dv_2", r[1].ord),
	                 FL_E_NOT_FOUND);
	memset(got, 0, sizeof(got));
	assert_int_equal(
	        fl_store_pairing_list(tx, "dv_1", collect_pairing, got), FL_OK);
	assert_int_equal(got[0].ord, r[1].ord);
	assert_int_equal(got[1].ord, 0);
	assert_int_equal(
	        fl_store_pairing_count_net(tx, "192.0.2.0/24", 1000, &n),
	        FL_OK);
	assert_int_equal(n, 0);
	assert_int_equal(fl_tx_commit(tx), FL_OK);
}

/* Migration 12 makes loan references unique per tenant ignoring case and
 * spaces: a database in which two contracts share one is refused, with
 * the reason, and changes nothing until one is renamed. */
static void test_loan_ref_duplicates_refused(void **state)
{
	struct fx *f = *state;
	struct fl_tx *tx = begin(f, true);
	struct fl_installment sched[1] = {{100, 10}};
	struct fl_contract_rec c;
	sqlite3 *db = NULL;

	add_device(tx, "dv_1", "490154203237518");
	add_device(tx, "dv_2", "356938035643809");
	memset(&c, 0, sizeof(c));
	snprintf(c.tenant_id, sizeof(c.tenant_id), "tn_1");
	memcpy(c.currency, "KES", 4);
	c.schedule = sched;
	c.n_schedule = 1;
	snprintf(c.device_id, sizeof(c.device_id), "dv_1");
	snprintf(c.loan_ref, sizeof(c.loan_ref), "LN 1");
	assert_int_equal(fl_store_contract_insert(tx, &c), FL_OK);
	snprintf(c.device_id, sizeof(c.device_id), "dv_2");
	snprintf(c.loan_ref, sizeof(c.loan_ref), "LN 2");
	assert_int_equal(fl_store_contract_insert(tx, &c), FL_OK);
	assert_int_equal(fl_tx_commit(tx), FL_OK);
	fl_store_close(f->st);
	f->st = NULL;
	/* back to schema 11, where nothing kept them apart */
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(
	        sqlite3_exec(db,
	                     "DROP INDEX contracts_loan_ref_norm;"
	                     "CREATE INDEX contracts_loan_ref_norm ON "
	                     "contracts(tenant_id, "
	                     "(lower(replace(loan_ref, ' ', ''))));"
	                     "DROP INDEX unmatched_payments_ref;"
	                     "ALTER TABLE unmatched_payments DROP COLUMN "
	                     "fingerprint;"
	                     "ALTER TABLE webhook_endpoints DROP COLUMN "
	                     "prev_secret_until;"
	                     "DROP INDEX webhook_events_time;"
	                     "DROP INDEX webhook_deliveries_event;"
	                     /* and what migration 13 added */
	                     "DROP TABLE state_changes;"
	                     "DROP TRIGGER contracts_currency;"
	                     "DROP INDEX devices_portfolio;"
	                     "ALTER TABLE devices DROP COLUMN currency;"
	                     /* and what migration 14 added */
	                     "ALTER TABLE devices DROP COLUMN mac_seal;"
	                     "ALTER TABLE devices DROP COLUMN token_memo;"
	                     "DELETE FROM schema_version WHERE version >= 12;"
	                     "UPDATE contracts SET loan_ref = 'ln1' WHERE "
	                     "device_id = 'dv_2';",
	                     NULL, NULL, NULL),
	        SQLITE_OK);
	sqlite3_close(db);
	assert_int_not_equal(fl_store_open_sqlite(&f->st, f->path, NULL),
	                     FL_OK);
	assert_non_null(strstr(fl_store_errmsg(), "share a loan_ref"));
	/* renamed: migrated, and kept apart from now on */
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
	                              "UPDATE contracts SET loan_ref = 'LN 2' "
	                              "WHERE device_id = 'dv_2';",
	                              NULL, NULL, NULL),
	                 SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(fl_store_open_sqlite(&f->st, f->path, NULL), FL_OK);
	assert_int_equal(fl_store_schema_version(f->st),
	                 fl_store_schema_latest());
	tx = begin(f, true);
	snprintf(c.loan_ref, sizeof(c.loan_ref), "ln1");
	add_device(tx, "dv_3", "353456789012348");
	snprintf(c.device_id, sizeof(c.device_id), "dv_3");
	assert_int_equal(fl_store_contract_insert(tx, &c), FL_E_CONFLICT);
	fl_tx_rollback(tx);
}

/* A database made before the counts were kept gets them from its devices
 * when it is opened. */
static void test_device_counts_seeded(void **state)
{
	struct fx *f = *state;
	struct fl_tx *tx = begin(f, true);
	sqlite3 *db = NULL;

	add_device(tx, "dv_1", "490154203237518");
	add_device(tx, "dv_2", "356938035643809");
	set_state(tx, "dv_2", FL_ST_LOCKED, true);
	assert_int_equal(fl_tx_commit(tx), FL_OK);
	fl_store_close(f->st);
	f->st = NULL;
	/* back to schema 3, with a device the triggers never saw */
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(
	        sqlite3_exec(db,
	                     "DROP INDEX pairing_requests_net;"
	                     "ALTER TABLE pairing_requests DROP COLUMN "
	                     "client_net;"
	                     "ALTER TABLE pairing_requests DROP COLUMN "
	                     "factory_signed;"
	                     "ALTER TABLE devices DROP COLUMN factory_pk;"
	                     "DROP TRIGGER devices_count_insert;"
	                     "DROP TRIGGER devices_count_update;"
	                     "DROP TRIGGER devices_count_delete;"
	                     "DROP TABLE device_counts;"
	                     /* and what migration 6 added */
	                     "DROP INDEX payments_reference;"
	                     "ALTER TABLE devices DROP COLUMN credit;"
	                     "ALTER TABLE commands DROP COLUMN show_reason;"
	                     "ALTER TABLE commands DROP COLUMN cancelled_at;"
	                     "ALTER TABLE commands DROP COLUMN cancelled_by;"
	                     "ALTER TABLE commands DROP COLUMN cancel_reason;"
	                     "ALTER TABLE api_keys DROP COLUMN last_used_at;"
	                     /* and what migration 7 added */
	                     "DROP TABLE server_identity;"
	                     /* and what migration 8 added */
	                     "DROP TABLE web_sessions;"
	                     /* and what migration 9 added */
	                     "ALTER TABLE devices DROP COLUMN "
	                     "applied_counter;"
	                     /* and what migration 10 added */
	                     "DROP TABLE payment_sources;"
	                     "DROP TABLE provider_payments;"
	                     "DROP TABLE source_messages;"
	                     "DROP TABLE unmatched_payments;"
	                     "DROP TABLE pending_releases;"
	                     "DROP TABLE lock_holds;"
	                     "DROP INDEX contracts_loan_ref_norm;"
	                     /* and what migration 11 added */
	                     "DROP TABLE webhook_endpoints;"
	                     "DROP TABLE webhook_events;"
	                     "DROP TABLE webhook_deliveries;"
	                     "ALTER TABLE devices DROP COLUMN confirmed_seq;"
	                     "ALTER TABLE devices DROP COLUMN "
	                     "confirmed_locked;"
	                     "ALTER TABLE devices DROP COLUMN confirmed_at;"
	                     /* and what migration 13 added */
	                     "DROP TABLE state_changes;"
	                     "DROP INDEX devices_portfolio;"
	                     "DROP TRIGGER contracts_currency;"
	                     "ALTER TABLE devices DROP COLUMN currency;"
	                     /* and what migration 14 added */
	                     "ALTER TABLE devices DROP COLUMN mac_seal;"
	                     "ALTER TABLE devices DROP COLUMN token_memo;"
	                     "DELETE FROM schema_version WHERE version >= 4;"
	                     "UPDATE devices SET state = 1 WHERE id = 'dv_1';",
	                     NULL, NULL, NULL),
	        SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(fl_store_open_sqlite(&f->st, f->path, NULL), FL_OK);
	assert_int_equal(fl_store_schema_version(f->st),
	                 fl_store_schema_latest());
	tx = begin(f, false);
	assert_counts(tx, 0, 1, 0, 1, 0, 1);
	{
		/* the history starts with each device's state as decided */
		struct fl_state_change c;

		assert_int_equal(fl_store_state_change_last(tx, "dv_2", &c),
		                 FL_OK);
		assert_int_equal(c.from, FL_ST_PENDING);
		assert_int_equal(c.to, FL_ST_LOCKED);
		assert_int_equal(c.token_seq, 1);
		assert_int_equal(fl_store_state_change_last(tx, "dv_1", &c),
		                 FL_OK);
		assert_int_equal(c.to, FL_ST_ACTIVE);
	}
	fl_tx_rollback(tx);
}

/* fl_store_device_load gives the device row and every decision input:
 * the contract and its schedule, reschedules with their items (one that
 * waives the rest has none), payments by paid_at (reversed ones marked),
 * commands in issue order with their reasons; tenant-scoped. It agrees
 * with fl_store_device_get + fl_store_device_inputs. */
static void test_device_load(void **state)
{
	struct fx *f = *state;
	struct fl_tx *tx = begin(f, true);
	struct fl_installment sched[3] = {{100, 10}, {200, 20}, {300, 30}};
	struct fl_installment re1[2] = {{250, 25}, {350, 35}};
	struct fl_contract_rec c;
	struct fl_reschedule_rec r;
	struct fl_payment_rec p;
	struct fl_command_rec cmd;
	struct fl_device d, d2;
	struct fl_device_inputs in, in2;

	const int64_t paid[3] = {150, 120, 130}; /* recorded out of order */

	add_device(tx, "dv_1", "490154203237518");
	add_device(tx, "dv_2", "356938035643809");
	memset(&c, 0, sizeof(c));
	snprintf(c.device_id, sizeof(c.device_id), "dv_1");
	snprintf(c.tenant_id, sizeof(c.tenant_id), "tn_1");
	memcpy(c.currency, "KES", 4);
	c.grace = 86400;
	c.remind[0] = 3600;
	c.remind[1] = 60;
	c.n_remind = 2;
	snprintf(c.loan_ref, sizeof(c.loan_ref), "LN-1");
	snprintf(c.contact_phones[0], FL_PHONE_MAX, "+254700000001");
	snprintf(c.contact_phones[1], FL_PHONE_MAX, "+254700000002");
	c.n_contact_phones = 2;
	c.schedule = sched;
	c.n_schedule = 3;
	assert_int_equal(fl_store_contract_insert(tx, &c), FL_OK);
	memset(&r, 0, sizeof(r));
	r.from = 200;
	r.schedule = re1;
	r.n_schedule = 2;
	assert_int_equal(fl_store_reschedule_insert(tx, "tn_1", "dv_1", &r),
	                 FL_OK);
	r.from = 340; /* waives what is due from 340 on */
	r.schedule = NULL;
	r.n_schedule = 0;
	assert_int_equal(fl_store_reschedule_insert(tx, "tn_1", "dv_1", &r),
	                 FL_OK);
	for (int i = 0; i < 3; i++) {
		memset(&p, 0, sizeof(p));
		snprintf(p.id, sizeof(p.id), "py_%d", i);
		snprintf(p.tenant_id, sizeof(p.tenant_id), "tn_1");
		snprintf(p.device_id, sizeof(p.device_id), "dv_1");
		p.amount = 5 + i;
		p.paid_at = paid[i];
		assert_int_equal(fl_store_payment_insert(tx, &p), FL_OK);
	}
	assert_int_equal(fl_store_payment_reverse(tx, "tn_1", "py_2", 160,
	                                          "bounced", ""),
	                 FL_OK);
	memset(&cmd, 0, sizeof(cmd));
	cmd.kind = FL_CMD_LOCK;
	cmd.issued_at = 170;
	snprintf(cmd.reason, sizeof(cmd.reason), "collections");
	assert_int_equal(fl_store_command_insert(tx, "tn_1", "dv_1", &cmd),
	                 FL_OK);
	cmd.kind = FL_CMD_UNLOCK_UNTIL;
	cmd.issued_at = 180;
	cmd.at = 400;
	snprintf(cmd.reason, sizeof(cmd.reason), "promised");
	assert_int_equal(fl_store_command_insert(tx, "tn_1", "dv_1", &cmd),
	                 FL_OK);

	assert_int_equal(fl_store_device_load(tx, "tn_1", "dv_1", &d, &in),
	                 FL_OK);
	assert_string_equal(d.id, "dv_1");
	assert_true(d.has_contract);
	assert_true(in.has_contract);
	assert_string_equal(in.contract.loan_ref, "LN-1");
	assert_int_equal(in.contract.grace, 86400);
	assert_int_equal(in.contract.n_remind, 2);
	assert_int_equal(in.contract.remind[1], 60);
	assert_int_equal(in.contract.n_contact_phones, 2);
	assert_string_equal(in.contract.contact_phones[1], "+254700000002");
	assert_int_equal(in.contract.n_schedule, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(in.contract.schedule[i].due_at,
		                 sched[i].due_at);
		assert_int_equal(in.contract.schedule[i].amount,
		                 sched[i].amount);
	}
	assert_int_equal(in.n_reschedules, 2);
	assert_int_equal(in.reschedules[0].from, 200);
	assert_int_equal(in.reschedules[0].n_schedule, 2);
	assert_int_equal(in.reschedules[0].schedule[1].due_at, 350);
	assert_int_equal(in.reschedules[0].schedule[1].amount, 35);
	assert_int_equal(in.reschedules[1].from, 340);
	assert_int_equal(in.reschedules[1].n_schedule, 0);
	assert_null(in.reschedules[1].schedule);
	assert_int_equal(in.n_payments, 3);
	assert_int_equal(in.payments[0].paid_at, 120);
	assert_int_equal(in.payments[1].paid_at, 130);
	assert_int_equal(in.payments[2].paid_at, 150);
	assert_int_equal(in.payments[0].amount, 6);
	assert_true(in.payments[1].reversed);
	assert_false(in.payments[0].reversed);
	assert_int_equal(in.n_commands, 2);
	assert_int_equal(in.commands[0].kind, FL_CMD_LOCK);
	assert_string_equal(in.commands[0].reason, "collections");
	assert_int_equal(in.commands[1].at, 400);
	assert_string_equal(in.commands[1].reason, "promised");
	assert_int_equal(in.last_command_at, 180);

	/* the same as the two separate reads */
	assert_int_equal(fl_store_device_get(tx, "tn_1", "dv_1", &d2), FL_OK);
	assert_int_equal(fl_store_device_inputs(tx, "tn_1", "dv_1", &in2),
	                 FL_OK);
	assert_int_equal(d2.ord, d.ord);
	assert_true(d2.has_contract);
	assert_int_equal(in2.n_payments, in.n_payments);
	assert_int_equal(in2.n_reschedules, in.n_reschedules);
	assert_int_equal(in2.contract.n_schedule, in.contract.n_schedule);
	fl_device_inputs_clear(&in2);
	fl_device_inputs_clear(&in);

	/* a device without contract, and another tenant's view */
	assert_int_equal(fl_store_device_load(tx, "tn_1", "dv_2", &d, &in),
	                 FL_OK);
	assert_false(d.has_contract);
	assert_false(in.has_contract);
	assert_int_equal(in.n_payments + in.n_commands + in.n_reschedules, 0);
	fl_device_inputs_clear(&in);
	assert_int_equal(fl_store_device_load(tx, "tn_2", "dv_1", &d, &in),
	                 FL_E_NOT_FOUND);
	assert_string_equal(d.id, "");
	assert_false(in.has_contract);
	assert_int_equal(fl_store_device_inputs(tx, "tn_2", "dv_1", &in),
	                 FL_E_NOT_FOUND);
	fl_tx_rollback(tx);
}

static void add_tenant(struct fx *f, const char *id)
{
	struct fl_tenant t = {0};
	struct fl_tx *tx = begin(f, true);

	snprintf(t.id, sizeof(t.id), "%s", id);
	snprintf(t.name, sizeof(t.name), "Tenant %s", id);
	t.created_at = 1000;
	assert_int_equal(fl_store_tenant_insert(tx, &t), FL_OK);
	assert_int_equal(fl_tx_commit(tx), FL_OK);
}

static bool exists(const char *path, const char *suffix)
{
	char p[200];

	snprintf(p, sizeof(p), "%s%s", path, suffix);
	return access(p, F_OK) == 0;
}

static void test_created_and_must_exist(void **state)
{
	struct fx *f = *state;
	struct fl_store_sqlite_opts must = {.must_exist = true};
	struct fl_store *st = NULL;
	char other[160];
	FILE *fp;

	assert_true(fl_store_created(f->st));
	fl_store_close(f->st);
	assert_int_equal(fl_store_open_sqlite(&f->st, f->path, &must), FL_OK);
	assert_false(fl_store_created(f->st));

	/* missing: refused, and nothing is created */
	snprintf(other, sizeof(other), "%s/missing.db", f->dir);
	assert_int_equal(fl_store_open_sqlite(&st, other, &must),
	                 FL_E_STORE_MISSING);
	assert_null(st);
	assert_false(exists(other, ""));
	assert_false(exists(other, "-open"));
	/* empty: refused as well, and left without a schema */
	snprintf(other, sizeof(other), "%s/empty.db", f->dir);
	fp = fopen(other, "w");
	assert_non_null(fp);
	fclose(fp);
	assert_int_equal(fl_store_open_sqlite(&st, other, &must),
	                 FL_E_STORE_MISSING);
	assert_int_equal(fl_store_open_sqlite(&st, other, &must),
	                 FL_E_STORE_MISSING);
	unlink(other);
	snprintf(other, sizeof(other), "%s/empty.db-open", f->dir);
	unlink(other);
}

static void test_lost_wal(void **state)
{
	struct fx *f = *state;
	struct fl_store_sqlite_opts accept = {.accept_wal_loss = true};
	char mark[200];
	FILE *fp;

	/* open: marked; closed cleanly: the WAL is gone, and the mark */
	assert_true(exists(f->path, "-open"));
	add_tenant(f, "tn_wal");
	fl_store_close(f->st);
	f->st = NULL;
	assert_false(exists(f->path, "-wal"));
	assert_false(exists(f->path, "-open"));

	/* a mark with no WAL is what a deleted WAL leaves */
	snprintf(mark, sizeof(mark), "%s-open", f->path);
	fp = fopen(mark, "w");
	assert_non_null(fp);
	fclose(fp);
	assert_int_equal(fl_store_open_sqlite(&f->st, f->path, NULL),
	                 FL_E_STORE_WAL_LOST);
	assert_null(f->st);
	assert_int_equal(fl_store_open_sqlite(&f->st, f->path, &accept), FL_OK);
	fl_store_close(f->st);
	/* accepted once, it is forgotten */
	assert_false(exists(f->path, "-open"));
	assert_int_equal(fl_store_open_sqlite(&f->st, f->path, NULL), FL_OK);
}

static void test_check(void **state)
{
	struct fx *f = *state;
	char problem[FL_STORE_PROBLEM_MAX], junk[4096 * 3];
	FILE *fp;

	add_tenant(f, "tn_check");
	assert_int_equal(fl_store_check(f->st, false, problem), FL_OK);
	assert_string_equal(problem, "");
	assert_int_equal(fl_store_check(f->st, true, problem), FL_OK);
	fl_store_close(f->st);
	f->st = NULL;

	/* b-tree pages overwritten behind SQLite's back */
	memset(junk, 0x5a, sizeof(junk));
	fp = fopen(f->path, "r+b");
	assert_non_null(fp);
	assert_int_equal(fseek(fp, 4096 * 4, SEEK_SET), 0);
	assert_int_equal(fwrite(junk, 1, sizeof(junk), fp), sizeof(junk));
	fclose(fp);
	assert_int_equal(fl_store_open_sqlite(&f->st, f->path, NULL), FL_OK);
	assert_int_equal(fl_store_check(f->st, false, problem), FL_E_CORRUPT);
	assert_true(problem[0] != '\0');
	assert_null(strchr(problem, '\n')); /* one line */
	assert_int_equal(fl_store_check(f->st, true, problem), FL_E_CORRUPT);
}

static void test_keys_fingerprint(void **state)
{
	struct fx *f = *state;
	uint8_t fp[FL_KEYS_FINGERPRINT_LEN], got[FL_KEYS_FINGERPRINT_LEN];
	struct fl_tx *tx;

	memset(fp, 0xab, sizeof(fp));
	tx = begin(f, false);
	assert_int_equal(fl_store_keys_fingerprint(tx, got), FL_E_NOT_FOUND);
	fl_tx_rollback(tx);
	tx = begin(f, true);
	assert_int_equal(fl_store_keys_fingerprint_put(tx, fp, 1000), FL_OK);
	assert_int_equal(fl_tx_commit(tx), FL_OK);
	tx = begin(f, false);
	assert_int_equal(fl_store_keys_fingerprint(tx, got), FL_OK);
	assert_memory_equal(got, fp, sizeof(fp));
	fl_tx_rollback(tx);
	/* recorded once */
	tx = begin(f, true);
	assert_int_equal(fl_store_keys_fingerprint_put(tx, fp, 2000),
	                 FL_E_CONFLICT);
	fl_tx_rollback(tx);
}

static void test_snapshot(void **state)
{
	struct fx *f = *state;
	struct fl_store_sqlite_opts must = {.must_exist = true};
	struct fl_store *copy = NULL;
	struct fl_tenant got;
	struct fl_tx *tx = NULL;
	char path[160];

	add_tenant(f, "tn_before");
	snprintf(path, sizeof(path), "%s.copy", f->path);
	assert_int_equal(fl_store_snapshot(f->st, path), FL_OK);
	add_tenant(f, "tn_after");
	/* never over an existing file */
	assert_int_equal(fl_store_snapshot(f->st, path), FL_E_CONFLICT);
	/* a database on its own: no WAL beside it */
	assert_false(exists(path, "-wal"));
	assert_int_equal(fl_store_open_sqlite(&copy, path, &must), FL_OK);
	assert_int_equal(fl_store_schema_version(copy),
	                 fl_store_schema_latest());
	assert_int_equal(fl_store_begin(copy, false, &tx), FL_OK);
	assert_int_equal(fl_store_tenant_get(tx, "tn_before", &got), FL_OK);
	assert_int_equal(fl_store_tenant_get(tx, "tn_after", &got),
	                 FL_E_NOT_FOUND);
	fl_tx_rollback(tx);
	fl_store_close(copy);
}

/* --- the new contract, on both backends ------------------------------- */

/* A request counter is applied once: the same or a lower one again is a
 * replay; a re-enrollment starts the count again. */
static void test_dp_claim(void **state)
{
	struct fx *f = *state;
	struct fl_tx *tx = begin(f, true);
	uint8_t pk[32];

	memset(pk, 7, sizeof(pk));
	add_device(tx, "dv_1", "490154203237518");
	assert_int_equal(fl_store_dp_claim(tx, "dv_1", 5), FL_OK);
	assert_int_equal(fl_store_dp_claim(tx, "dv_1", 5), FL_E_REPLAY);
	assert_int_equal(fl_store_dp_claim(tx, "dv_1", 3), FL_E_REPLAY);
	assert_int_equal(fl_store_dp_claim(tx, "dv_1", 6), FL_OK);
	assert_int_equal(fl_tx_commit(tx), FL_OK);
	/* committed: another transaction sees the claim */
	tx = begin(f, true);
	assert_int_equal(fl_store_dp_claim(tx, "dv_1", 6), FL_E_REPLAY);
	assert_int_equal(fl_store_dp_enroll(tx, "dv_1", pk, pk, 2000), FL_OK);
	assert_int_equal(fl_store_dp_claim(tx, "dv_1", 1), FL_OK);
	assert_int_equal(fl_store_dp_claim(tx, "dv_none", 1), FL_E_REPLAY);
	assert_int_equal(fl_tx_commit(tx), FL_OK);
}

/* What a feed subscriber saw. */
struct seen {
	pthread_mutex_t mu;
	int64_t ords[64];
	int n;
	int all; /* calls with ord -1 */
};

static void on_feed(void *ctx, int64_t ord)
{
	struct seen *s = ctx;

	pthread_mutex_lock(&s->mu);
	if (ord < 0)
		s->all++;
	else if (s->n < 64)
		s->ords[s->n++] = ord;
	pthread_mutex_unlock(&s->mu);
}

static int seen_count(struct seen *s, int64_t ord)
{
	int n = 0;

	pthread_mutex_lock(&s->mu);
	for (int i = 0; i < s->n; i++)
		n += s->ords[i] == ord;
	pthread_mutex_unlock(&s->mu);
	return n;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The feed hears a commit's device rows before fl_tx_commit returns, and
 * the device clock marks them changed; a rollback and a quiet transaction
 * publish nothing (nor later, from the notice thread). */
static void test_feed(void **state)
{
	struct fx *f = *state;
	struct seen *s = calloc(1, sizeof(*s));
	struct fl_device d;
	struct fl_tx *tx;
	uint64_t c0, c1;
	uint8_t kx[32];

	assert_non_null(s);
	pthread_mutex_init(&s->mu, NULL);
	assert_int_equal(fl_store_feed_subscribe(f->st, on_feed, s), FL_OK);
	c0 = fl_store_device_clock(f->st);
	tx = begin(f, true);
	add_device(tx, "dv_1", "490154203237518");
	assert_int_equal(fl_store_device_get_any(tx, "dv_1", &d), FL_OK);
	assert_int_equal(fl_tx_commit(tx), FL_OK);
	assert_true(seen_count(s, d.ord) >= 1);
	assert_false(fl_store_device_unchanged(f->st, d.ord, c0));

	c1 = fl_store_device_clock(f->st);
	assert_true(fl_store_device_unchanged(f->st, d.ord, c1));
	s->n = 0;
	tx = begin(f, true);
	set_state(tx, "dv_1", FL_ST_LOCKED, false);
	fl_tx_rollback(tx);
	tx = begin(f, true);
	fl_tx_quiet(tx);
	memset(kx, 0, sizeof(kx));
	assert_int_equal(fl_store_device_touch(tx, "dv_1", 5000, 9), FL_OK);
	assert_int_equal(fl_tx_commit(tx), FL_OK);
	/* what another process would hear arrives within milliseconds */
	usleep(300 * 1000);
	assert_int_equal(s->n, 0);
	assert_int_equal(s->all, 0);
	assert_true(fl_store_device_unchanged(f->st, d.ord, c1));
	/* the quiet write is there all the same */
	tx = begin(f, false);
	assert_int_equal(fl_store_device_get_any(tx, "dv_1", &d), FL_OK);
	assert_int_equal(d.last_contact, 5000);
	fl_tx_rollback(tx);

	tx = begin(f, true);
	set_state(tx, "dv_1", FL_ST_ACTIVE, false);
	assert_int_equal(fl_tx_commit(tx), FL_OK);
	assert_int_equal(seen_count(s, d.ord), 1);
	assert_false(fl_store_device_unchanged(f->st, d.ord, c1));
	/* a store ends before its subscriber's memory does */
	fl_store_close(f->st);
	f->st = NULL;
	pthread_mutex_destroy(&s->mu);
	free(s);
}

/* Counters of what a list walk passed, one per record type. */
#define COUNTER(name, type)                                                    \
	static fl_err name(void *ctx, const type *rec)                         \
	{                                                                      \
		(void)rec;                                                     \
		(*(int *)ctx)++;                                               \
		return FL_OK;                                                  \
	}
COUNTER(count_device, struct fl_device)
COUNTER(count_contract, struct fl_contract_rec)
COUNTER(count_payment, struct fl_payment_rec)
COUNTER(count_report, struct fl_report_rec)
COUNTER(count_key, struct fl_apikey)

static fl_err count_chain(void *ctx, const char *chain)
{
	(void)chain;
	(*(int *)ctx)++;
	return FL_OK;
}

/* Every remaining operation once, with what it must give back: the same
 * answers from both backends (each statement of the PostgreSQL backend
 * runs here at least once). */
static void test_every_op(void **state)
{
	struct fx *f = *state;
	struct fl_tx *tx = begin(f, true);
	struct fl_device d;
	struct fl_contract_rec c, cg;
	struct fl_installment sched[2] = {{100, 10}, {200, 20}};
	struct fl_payment_rec p, pg;
	struct fl_command_rec cmd, cg2;
	struct fl_report_rec rep;
	struct fl_ocode_rec oc, og;
	struct fl_used_code u, ug;
	struct fl_session_rec se, sg;
	struct fl_audit_signed_head h, hg;
	struct fl_pairing_rec pr, prg;
	struct fl_apikey k;
	struct fl_idem idem = {0};
	char tids[4][FL_ID_MAX], ids[4][FL_ID_MAX];
	uint8_t hash[FL_HASH_LEN], pk[32];
	int64_t n = -1;
	int cnt = 0;

	memset(hash, 0x11, sizeof(hash));
	memset(pk, 0x22, sizeof(pk));
	memset(&d, 0, sizeof(d));
	snprintf(d.id, sizeof(d.id), "dv_1");
	snprintf(d.tenant_id, sizeof(d.tenant_id), "tn_1");
	snprintf(d.imei, sizeof(d.imei), "490154203237518");
	snprintf(d.imei2, sizeof(d.imei2), "356938035643809");
	snprintf(d.serial, sizeof(d.serial), "SER-Abc");
	snprintf(d.model, sizeof(d.model), "Phone X");
	d.has_enroll_code = true;
	memcpy(d.enroll_hash, hash, sizeof(hash));
	d.enroll_expires = 900;
	assert_int_equal(fl_store_device_insert(tx, &d), FL_OK);
	/* a claimed IMEI, as second IMEI of another device */
	memset(&d, 0, sizeof(d));
	snprintf(d.id, sizeof(d.id), "dv_2");
	snprintf(d.tenant_id, sizeof(d.tenant_id), "tn_1");
	snprintf(d.imei, sizeof(d.imei), "352099001761481");
	snprintf(d.imei2, sizeof(d.imei2), "356938035643809");
	assert_int_equal(fl_store_device_insert(tx, &d), FL_E_IMEI_IN_PROGRAM);
	assert_int_equal(fl_store_device_by_enroll_hash(tx, hash, &d), FL_OK);
	assert_string_equal(d.id, "dv_1");
	assert_true(d.has_enroll_code);
	assert_int_equal(d.enroll_expires, 900);
	assert_int_equal(fl_store_device_by_imei(tx, "356938035643809", &d),
	                 FL_OK);
	assert_string_equal(d.serial, "SER-Abc");
	assert_int_equal(fl_store_device_set_enroll_code(tx, "dv_1", NULL, 5),
	                 FL_OK);
	assert_int_equal(fl_store_device_by_enroll_hash(tx, hash, &d),
	                 FL_E_NOT_FOUND);
	assert_int_equal(fl_store_device_enroll(tx, "dv_1", pk, pk, 1000),
	                 FL_OK);
	assert_int_equal(fl_store_device_touch(tx, "dv_1", 1100, 4), FL_OK);
	assert_int_equal(fl_store_device_touch(tx, "dv_1", 1050, 2), FL_OK);
	assert_int_equal(fl_store_dp_touch(tx, "dv_1", 0, pk, 1200, 7), FL_OK);
	assert_int_equal(fl_store_device_get(tx, "tn_1", "dv_1", &d), FL_OK);
	assert_true(d.has_keys);
	assert_int_equal(d.enrolled_at, 1000);
	assert_int_equal(d.last_contact, 1200);
	assert_int_equal(d.req_counter, 7);
	assert_int_equal(fl_store_dp_touch(tx, "dv_1", d.ord, pk, 1300, 9),
	                 FL_OK);
	assert_int_equal(fl_store_device_report(tx, "dv_1", true, 1400,
	                                        "iccid 8925"),
	                 FL_OK);
	assert_int_equal(fl_store_device_report(tx, "dv_1", false, 1500,
	                                        "rooted"),
	                 FL_OK);
	assert_int_equal(fl_store_device_get(tx, "tn_1", "dv_1", &d), FL_OK);
	assert_int_equal(d.req_counter, 9);
	assert_string_equal(d.sim_report, "iccid 8925");
	assert_int_equal(d.tamper_at, 1500);
	/* the sealed MAC key: kept only while the row has the keys it is
	 * for (by id or by ord), read back as written, dropped by an
	 * enrollment */
	{
		uint8_t seal[FL_MAC_SEAL_LEN], other[32];

		memset(seal, 0x5a, sizeof(seal));
		memset(other, 7, sizeof(other));
		assert_false(d.has_mac_seal);
		assert_int_equal(fl_store_dp_seal(tx, "dv_1", 0, other, seal),
		                 FL_OK);
		assert_int_equal(fl_store_device_get_any(tx, "dv_1", &d),
		                 FL_OK);
		assert_false(d.has_mac_seal);
		assert_int_equal(fl_store_dp_seal(tx, "dv_1", d.ord, pk, seal),
		                 FL_OK);
		assert_int_equal(fl_store_device_get_any(tx, "dv_1", &d),
		                 FL_OK);
		assert_true(d.has_mac_seal);
		assert_memory_equal(d.mac_seal, seal, sizeof(seal));
		seal[0] ^= 1;
		assert_int_equal(fl_store_dp_seal(tx, "dv_1", 0, pk, seal),
		                 FL_OK);
		assert_int_equal(fl_store_device_get(tx, "tn_1", "dv_1", &d),
		                 FL_OK);
		assert_memory_equal(d.mac_seal, seal, sizeof(seal));
		assert_int_equal(fl_store_dp_enroll(tx, "dv_1", pk, pk, 1600),
		                 FL_OK);
		assert_int_equal(fl_store_device_get_any(tx, "dv_1", &d),
		                 FL_OK);
		assert_false(d.has_mac_seal);
		assert_int_equal(fl_store_dp_seal(tx, "dv_1", 0, pk, seal),
		                 FL_OK);
		assert_int_equal(fl_store_device_enroll(tx, "dv_1", pk, pk,
		                                        1000),
		                 FL_OK);
		assert_int_equal(fl_store_device_get_any(tx, "dv_1", &d),
		                 FL_OK);
		assert_false(d.has_mac_seal);
	}
	assert_int_equal(fl_store_device_get(tx, "tn_2", "dv_1", &d),
	                 FL_E_NOT_FOUND);

	/* search: by a piece of the serial in another case, filters */
	{
		struct fl_device_filter flt = {.any_state = true, .q = "abc"};

		assert_int_equal(fl_store_device_list(tx, "tn_1", &flt, 0, -1,
		                                      count_device,
		                                      &cnt),
		                 FL_OK);
		assert_int_equal(cnt, 1);
		flt.q = "zzz";
		cnt = 0;
		assert_int_equal(fl_store_device_list(tx, "tn_1", &flt, 0, -1,
		                                      count_device,
		                                      &cnt),
		                 FL_OK);
		assert_int_equal(cnt, 0);
		flt.q = NULL;
		flt.sim = true;
		flt.tamper = true;
		assert_int_equal(fl_store_device_list(tx, "tn_1", &flt, 0, 1,
		                                      count_device,
		                                      &cnt),
		                 FL_OK);
		assert_int_equal(cnt, 1);
	}

	/* contract, payments, commands */
	memset(&c, 0, sizeof(c));
	snprintf(c.device_id, sizeof(c.device_id), "dv_1");
	snprintf(c.tenant_id, sizeof(c.tenant_id), "tn_1");
	snprintf(c.loan_ref, sizeof(c.loan_ref), "LN-77");
	memcpy(c.currency, "UGX", 4);
	c.utc_offset = 10800;
	c.restrict_mask = 0x5;
	snprintf(c.allow_apps[0], FL_APP_ID_MAX, "com.bank.app");
	c.n_allow_apps = 1;
	snprintf(c.message, sizeof(c.message), "Pay at any agent");
	c.schedule = sched;
	c.n_schedule = 2;
	assert_int_equal(fl_store_contract_insert(tx, &c), FL_OK);
	assert_true(c.ord > 0);
	assert_int_equal(fl_store_contract_insert(tx, &c), FL_E_CONFLICT);
	assert_int_equal(fl_store_contract_get(tx, "tn_1", "dv_1", &cg), FL_OK);
	assert_int_equal(cg.n_schedule, 2);
	assert_int_equal(cg.schedule[1].amount, 20);
	assert_int_equal(cg.utc_offset, 10800);
	assert_int_equal(cg.restrict_mask, 0x5);
	assert_string_equal(cg.allow_apps[0], "com.bank.app");
	assert_string_equal(cg.message, "Pay at any agent");
	fl_contract_rec_clear(&cg);
	cnt = 0;
	assert_int_equal(fl_store_contract_list(tx, "tn_1", 0, -1,
	                                        count_contract,
	                                        &cnt),
	                 FL_OK);
	assert_int_equal(cnt, 1);
	memset(&p, 0, sizeof(p));
	snprintf(p.id, sizeof(p.id), "py_1");
	snprintf(p.tenant_id, sizeof(p.tenant_id), "tn_1");
	snprintf(p.device_id, sizeof(p.device_id), "dv_1");
	snprintf(p.reference, sizeof(p.reference), "RCPT-1");
	p.amount = 50;
	p.paid_at = 150;
	assert_int_equal(fl_store_payment_insert(tx, &p), FL_OK);
	assert_int_equal(fl_store_payment_by_reference(tx, "tn_1", "RCPT-1",
	                                               &pg),
	                 FL_OK);
	assert_string_equal(pg.id, "py_1");
	assert_int_equal(fl_store_payment_by_reference(tx, "tn_2", "RCPT-1",
	                                               &pg),
	                 FL_E_NOT_FOUND);
	/* a payment of nothing breaks the table's rule */
	snprintf(p.id, sizeof(p.id), "py_0");
	p.amount = 0;
	assert_int_equal(fl_store_payment_insert(tx, &p), FL_E_CONFLICT);
	assert_int_equal(fl_store_payment_reverse(tx, "tn_1", "py_1", 160,
	                                          "bounced", "ak_1"),
	                 FL_OK);
	assert_int_equal(fl_store_payment_reverse(tx, "tn_1", "py_1", 170,
	                                          "again", "ak_1"),
	                 FL_E_STATE);
	assert_int_equal(fl_store_payment_get(tx, "tn_1", "py_1", &pg), FL_OK);
	assert_int_equal(pg.reversed_at, 160);
	assert_string_equal(pg.reverse_reason, "bounced");
	cnt = 0;
	assert_int_equal(fl_store_payment_list(tx, "tn_1", "dv_1", 0, -1,
	                                       count_payment,
	                                       &cnt),
	                 FL_OK);
	assert_int_equal(cnt, 1);
	cnt = 0;
	assert_int_equal(fl_store_payment_list(tx, "tn_1", NULL, 0, 10,
	                                       count_payment,
	                                       &cnt),
	                 FL_OK);
	assert_int_equal(cnt, 1);
	memset(&cmd, 0, sizeof(cmd));
	cmd.kind = FL_CMD_LOCK_AT;
	cmd.issued_at = 300;
	cmd.at = 500;
	cmd.show_reason = true;
	snprintf(cmd.reason, sizeof(cmd.reason), "arrears");
	assert_int_equal(fl_store_command_insert(tx, "tn_2", "dv_1", &cmd),
	                 FL_E_NOT_FOUND);
	assert_int_equal(fl_store_command_insert(tx, "tn_1", "dv_1", &cmd),
	                 FL_OK);
	assert_int_equal(fl_store_command_cancel(tx, "tn_1", "dv_1", cmd.ord,
	                                         400, "ak_1", "paid"),
	                 FL_OK);
	assert_int_equal(fl_store_command_cancel(tx, "tn_1", "dv_1", cmd.ord,
	                                         410, "ak_1", "paid"),
	                 FL_E_STATE);
	assert_int_equal(fl_store_command_get(tx, "tn_1", "dv_1", cmd.ord,
	                                      &cg2),
	                 FL_OK);
	assert_true(cg2.show_reason);
	assert_int_equal(cg2.cancelled_at, 400);
	assert_string_equal(cg2.cancel_reason, "paid");

	/* the sweep's queries */
	{
		struct fl_device_status st;

		memset(&st, 0, sizeof(st));
		st.next_change = 600;
		assert_int_equal(fl_store_device_set_status(tx, "dv_1", &st),
		                 FL_OK);
		assert_int_equal(fl_store_device_due(tx, 700, 4, tids, ids,
		                                     &cnt),
		                 FL_OK);
		assert_int_equal(cnt, 1);
		assert_string_equal(ids[0], "dv_1");
		assert_string_equal(tids[0], "tn_1");
		assert_int_equal(fl_store_device_due(tx, 500, 4, tids, ids,
		                                     &cnt),
		                 FL_OK);
		assert_int_equal(cnt, 0);
	}
	assert_int_equal(fl_store_device_unclaim(tx, "dv_1"), FL_OK);
	memset(&d, 0, sizeof(d));
	snprintf(d.id, sizeof(d.id), "dv_3");
	snprintf(d.tenant_id, sizeof(d.tenant_id), "tn_1");
	snprintf(d.imei, sizeof(d.imei), "490154203237518");
	assert_int_equal(fl_store_device_insert(tx, &d), FL_OK);

	/* reports, offline codes, used codes, pairing */
	memset(&rep, 0, sizeof(rep));
	snprintf(rep.device_id, sizeof(rep.device_id), "dv_1");
	snprintf(rep.tenant_id, sizeof(rep.tenant_id), "tn_1");
	rep.kind = FL_REPORT_TAMPER;
	snprintf(rep.detail, sizeof(rep.detail), "bootloader unlocked");
	assert_int_equal(fl_store_report_add(tx, &rep), FL_OK);
	rep.kind = FL_REPORT_SIM;
	assert_int_equal(fl_store_report_add(tx, &rep), FL_OK);
	cnt = 0;
	assert_int_equal(fl_store_report_list(tx, "tn_1", "dv_1", 1,
	                                      count_report,
	                                      &cnt),
	                 FL_OK);
	assert_int_equal(cnt, 1);
	assert_int_equal(fl_store_ocode_get(tx, "dv_1", &og), FL_OK);
	assert_int_equal(og.counter, 0);
	memset(&oc, 0, sizeof(oc));
	oc.counter = 3;
	oc.action = 1;
	oc.issue_day = 20000;
	oc.issued_at = 1700;
	snprintf(oc.issued_by, sizeof(oc.issued_by), "ak_1");
	assert_int_equal(fl_store_ocode_issue(tx, "dv_1", &oc), FL_OK);
	assert_int_equal(fl_store_ocode_used(tx, "dv_1", 3, 9000), FL_OK);
	assert_int_equal(fl_store_ocode_used(tx, "dv_1", 2, 8000), FL_OK);
	oc.counter = 4;
	assert_int_equal(fl_store_ocode_issue(tx, "dv_1", &oc), FL_OK);
	assert_int_equal(fl_store_ocode_get(tx, "dv_1", &og), FL_OK);
	assert_int_equal(og.counter, 4);
	assert_int_equal(og.used, 3);
	assert_int_equal(og.unlock_until, 9000);
	assert_string_equal(og.issued_by, "ak_1");
	assert_int_equal(fl_store_ocode_used(tx, "dv_9", 1, 100), FL_OK);
	memset(&u, 0, sizeof(u));
	memcpy(u.hash, hash, sizeof(hash));
	snprintf(u.device_id, sizeof(u.device_id), "dv_1");
	memcpy(u.sign_pk, pk, 32);
	memcpy(u.kx_pk, pk, 32);
	u.used_at = 1800;
	assert_int_equal(fl_store_used_code_put(tx, &u), FL_OK);
	assert_int_equal(fl_store_used_code_put(tx, &u), FL_E_CONFLICT);
	assert_int_equal(fl_store_used_code_get(tx, hash, &ug), FL_OK);
	assert_string_equal(ug.device_id, "dv_1");
	assert_int_equal(ug.used_at, 1800);
	put_pairing(tx, "dv_1", 5, "192.0.2.0/24", false, 2000, &pr);
	assert_int_equal(fl_store_pairing_put(tx, &pr), FL_E_CONFLICT);
	assert_int_equal(fl_store_pairing_get(tx, "dv_1", pr.sign_pk, pr.kx_pk,
	                                      &prg),
	                 FL_OK);
	assert_int_equal(prg.ord, pr.ord);
	assert_int_equal(prg.expires_at, 2000);
	assert_int_equal(fl_store_pairing_expire(tx, "dv_1", 1999), FL_OK);
	assert_int_equal(fl_store_pairing_get(tx, "dv_1", pr.sign_pk, pr.kx_pk,
	                                      &prg),
	                 FL_OK);
	assert_int_equal(fl_store_pairing_expire(tx, "dv_1", 2000), FL_OK);
	assert_int_equal(fl_store_pairing_get(tx, "dv_1", pr.sign_pk, pr.kx_pk,
	                                      &prg),
	                 FL_E_NOT_FOUND);

	/* sessions, keys, idempotency, signed heads, chains */
	memset(&se, 0, sizeof(se));
	memcpy(se.hash, hash, sizeof(hash));
	snprintf(se.key_id, sizeof(se.key_id), "ak_1");
	snprintf(se.role, sizeof(se.role), "admin");
	se.created_at = 100;
	se.last_seen = 100;
	assert_int_equal(fl_store_session_insert(tx, &se), FL_OK);
	assert_int_equal(fl_store_session_insert(tx, &se), FL_E_CONFLICT);
	assert_int_equal(fl_store_session_touch(tx, hash, 160), FL_OK);
	assert_int_equal(fl_store_session_get(tx, hash, &sg), FL_OK);
	assert_int_equal(sg.last_seen, 160);
	assert_string_equal(sg.role, "admin");
	assert_int_equal(fl_store_session_expire(tx, 150, 0, &n), FL_OK);
	assert_int_equal(n, 0);
	assert_int_equal(fl_store_session_expire(tx, 161, 0, &n), FL_OK);
	assert_int_equal(n, 1);
	assert_int_equal(fl_store_session_touch(tx, hash, 170), FL_E_NOT_FOUND);
	assert_int_equal(fl_store_session_insert(tx, &se), FL_OK);
	assert_int_equal(fl_store_session_delete(tx, hash), FL_OK);
	assert_int_equal(fl_store_session_get(tx, hash, &sg), FL_E_NOT_FOUND);
	make_key(&k, "ak_1", "tn_1", "admin", 3);
	assert_int_equal(fl_store_apikey_insert(tx, &k), FL_OK);
	assert_int_equal(fl_store_apikey_touch(tx, "ak_1", 600), FL_OK);
	assert_int_equal(fl_store_apikey_touch(tx, "ak_1", 500), FL_OK);
	assert_int_equal(fl_store_apikey_get(tx, "tn_1", "ak_1", &k), FL_OK);
	assert_int_equal(k.last_used_at, 600);
	cnt = 0;
	assert_int_equal(fl_store_apikey_list(tx, "tn_1", 0, -1,
	                                      count_key, &cnt),
	                 FL_OK);
	assert_int_equal(cnt, 1);
	snprintf(idem.tenant_id, sizeof(idem.tenant_id), "tn_1");
	snprintf(idem.route, sizeof(idem.route), "POST /v1/x");
	snprintf(idem.key, sizeof(idem.key), "k");
	idem.status = 200;
	idem.body = "{}";
	idem.created_at = 50;
	assert_int_equal(fl_store_idem_put(tx, &idem), FL_OK);
	assert_int_equal(fl_store_idem_expire(tx, 50, NULL), FL_OK);
	assert_int_equal(fl_store_idem_expire(tx, 51, &n), FL_OK);
	assert_int_equal(n, 1);
	memset(&h, 0, sizeof(h));
	snprintf(h.chain, sizeof(h.chain), "tn_1");
	h.seq = 3;
	h.signed_at = 700;
	snprintf(h.token, sizeof(h.token), "v4.public.x");
	assert_int_equal(fl_store_audit_head_latest(tx, "tn_1", &hg),
	                 FL_E_NOT_FOUND);
	assert_int_equal(fl_store_audit_head_save(tx, &h), FL_OK);
	h.seq = 4;
	assert_int_equal(fl_store_audit_head_save(tx, &h), FL_OK);
	assert_int_equal(fl_store_audit_head_latest(tx, "tn_1", &hg), FL_OK);
	assert_int_equal(hg.seq, 4);
	assert_string_equal(hg.token, "v4.public.x");
	{
		struct fl_audit_entry *e = calloc(1, sizeof(*e));

		assert_non_null(e);
		snprintf(e->chain, sizeof(e->chain), "operator");
		e->seq = 1;
		assert_int_equal(fl_store_audit_append(tx, e), FL_OK);
		snprintf(e->chain, sizeof(e->chain), "Tn_Z");
		assert_int_equal(fl_store_audit_append(tx, e), FL_OK);
		free(e);
	}
	cnt = 0;
	assert_int_equal(fl_store_audit_chains(tx, count_chain, &cnt), FL_OK);
	assert_int_equal(cnt, 2);
	assert_int_equal(fl_tx_commit(tx), FL_OK);
}

/* --- webhooks ------------------------------------------------------------ */

static void make_endpoint(struct fl_wh_endpoint *e, const char *id,
                          const char *tenant, const char *events)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->id, sizeof(e->id), "%s", id);
	snprintf(e->tenant_id, sizeof(e->tenant_id), "%s", tenant);
	snprintf(e->url, sizeof(e->url), "https://lender.example/%s", id);
	snprintf(e->events, sizeof(e->events), "%s", events);
	snprintf(e->created_by, sizeof(e->created_by), "ak_1");
	e->secret_gen = 1;
	e->created_at = 100;
}

static void emit(struct fl_tx *tx, const char *id, const char *tenant,
                 const char *type, int64_t want)
{
	struct fl_wh_event ev;
	int64_t n = -1;

	memset(&ev, 0, sizeof(ev));
	snprintf(ev.id, sizeof(ev.id), "%s", id);
	snprintf(ev.tenant_id, sizeof(ev.tenant_id), "%s", tenant);
	snprintf(ev.type, sizeof(ev.type), "%s", type);
	ev.created_at = 200;
	ev.body = "{\"type\":\"x\"}";
	assert_int_equal(fl_store_wh_event_add(tx, &ev, &n), FL_OK);
	assert_true(ev.ord > 0);
	assert_int_equal(n, want);
}

static fl_err count_delivery(void *ctx, const struct fl_wh_delivery *d)
{
	int *n = ctx;

	assert_string_equal(d->body, "{\"type\":\"x\"}");
	(*n)++;
	return FL_OK;
}

static fl_err count_endpoint(void *ctx, const struct fl_wh_endpoint *e)
{
	int *n = ctx;

	(void)e;
	(*n)++;
	return FL_OK;
}

static void free_claimed(struct fl_wh_delivery *d, int n)
{
	for (int i = 0; i < n; i++)
		free(d[i].body);
}

/* Endpoints, the outbox and deliveries: an event fans out to the
 * subscribed, enabled endpoints of its tenant only; a rolled-back event
 * leaves nothing; each endpoint hands out its oldest pending delivery
 * only, leased; an attempt recorded frees the next. */
static void test_webhooks(void **state)
{
	struct fx *f = *state;
	struct fl_tx *tx = begin(f, true);
	struct fl_wh_endpoint e1, e2, e3, g;
	struct fl_wh_delivery d[8], dg;
	struct fl_confirmed c;
	int n = 0, cnt = 0;

	make_endpoint(&e1, "we_1", "tn_1", "*");
	make_endpoint(&e2, "we_2", "tn_1", ",payment.recorded,");
	make_endpoint(&e3, "we_3", "tn_2", "*");
	assert_int_equal(fl_store_wh_endpoint_insert(tx, &e1), FL_OK);
	assert_int_equal(fl_store_wh_endpoint_insert(tx, &e2), FL_OK);
	assert_int_equal(fl_store_wh_endpoint_insert(tx, &e3), FL_OK);
	assert_int_equal(fl_store_wh_endpoint_insert(tx, &e3), FL_E_CONFLICT);
	assert_true(e2.ord > e1.ord);
	assert_int_equal(fl_store_wh_endpoint_get(tx, "tn_2", "we_1", &g),
	                 FL_E_NOT_FOUND);
	assert_int_equal(fl_store_wh_endpoint_get(tx, "tn_1", "we_2", &g),
	                 FL_OK);
	assert_string_equal(g.events, ",payment.recorded,");
	assert_int_equal(fl_store_wh_endpoint_list(tx, "tn_1", 0, 10,
	                                           count_endpoint, &cnt),
	                 FL_OK);
	assert_int_equal(cnt, 2);
	emit(tx, "msg_1", "tn_1", "payment.recorded", 2);
	emit(tx, "msg_2", "tn_1", "device.locked", 1);
	emit(tx, "msg_3", "tn_9", "device.locked", 0);
	assert_int_equal(fl_tx_commit(tx), FL_OK);

	tx = begin(f, true);
	emit(tx, "msg_4", "tn_1", "device.locked", 1);
	fl_tx_rollback(tx);

	tx = begin(f, true);
	/* heads only: we_1's msg_1 and we_2's msg_1, not we_1's msg_2 */
	assert_int_equal(fl_store_wh_claim(tx, 300, 360, 8, d, &n), FL_OK);
	assert_int_equal(n, 2);
	assert_string_equal(d[0].event_id, "msg_1");
	assert_string_equal(d[0].endpoint_id, "we_1");
	assert_string_equal(d[0].url, "https://lender.example/we_1");
	assert_string_equal(d[0].body, "{\"type\":\"x\"}");
	assert_string_equal(d[1].endpoint_id, "we_2");
	assert_int_equal(d[1].lease_until, 360);
	assert_int_equal(fl_tx_commit(tx), FL_OK);
	/* leased: nothing more to claim until the lease ends */
	tx = begin(f, true);
	{
		struct fl_wh_delivery d2[8];
		int n2 = -1;

		assert_int_equal(fl_store_wh_claim(tx, 301, 361, 8, d2, &n2),
		                 FL_OK);
		assert_int_equal(n2, 0);
	}
	/* we_1's first delivered: its next comes; we_2's failed, retry */
	d[0].state = FL_WH_DELIVERED;
	d[0].attempts = 1;
	d[0].last_at = 302;
	d[0].last_status = 204;
	d[0].done_at = 302;
	assert_int_equal(fl_store_wh_delivery_update(tx, &d[0]), FL_OK);
	d[1].attempts = 1;
	d[1].next_at = 400;
	d[1].last_status = 500;
	snprintf(d[1].last_error, sizeof(d[1].last_error), "HTTP 500");
	assert_int_equal(fl_store_wh_delivery_update(tx, &d[1]), FL_OK);
	free_claimed(d, n);
	assert_int_equal(fl_store_wh_claim(tx, 303, 363, 8, d, &n), FL_OK);
	assert_int_equal(n, 1);
	assert_string_equal(d[0].event_id, "msg_2");
	d[0].state = FL_WH_DELIVERED;
	d[0].attempts = 1;
	d[0].done_at = 304;
	assert_int_equal(fl_store_wh_delivery_update(tx, &d[0]), FL_OK);
	free_claimed(d, n);
	assert_int_equal(fl_store_wh_claim(tx, 399, 460, 8, d, &n), FL_OK);
	assert_int_equal(n, 0);
	assert_int_equal(fl_store_wh_claim(tx, 400, 460, 8, d, &n), FL_OK);
	assert_int_equal(n, 1);
	assert_string_equal(d[0].endpoint_id, "we_2");
	assert_int_equal(d[0].attempts, 1);
	free_claimed(d, n);
	assert_int_equal(fl_store_wh_delivery_get(tx, "tn_1", d[0].ord, &dg),
	                 FL_OK);
	assert_string_equal(dg.last_error, "HTTP 500");
	assert_int_equal(fl_store_wh_delivery_get(tx, "tn_2", d[0].ord, &dg),
	                 FL_E_NOT_FOUND);
	cnt = 0;
	assert_int_equal(fl_store_wh_delivery_list(tx, "tn_1", NULL, 0, 10,
	                                           count_delivery, &cnt),
	                 FL_OK);
	assert_int_equal(cnt, 3);
	cnt = 0;
	assert_int_equal(fl_store_wh_delivery_list(tx, "tn_1", "we_2", 0, 10,
	                                           count_delivery, &cnt),
	                 FL_OK);
	assert_int_equal(cnt, 1);
	/* disabled: nothing new, nothing handed out */
	e1.disabled_at = 500;
	snprintf(e1.disabled_reason, sizeof(e1.disabled_reason), "gone");
	assert_int_equal(fl_store_wh_endpoint_update(tx, &e1), FL_OK);
	emit(tx, "msg_5", "tn_1", "device.locked", 0);
	/* we_2's lease ran out unreported: handed out again */
	assert_int_equal(fl_store_wh_claim(tx, 1000, 1060, 8, d, &n), FL_OK);
	assert_int_equal(n, 1);
	assert_string_equal(d[0].endpoint_id, "we_2");
	free_claimed(d, n);
	assert_int_equal(fl_store_wh_endpoint_delete(tx, "tn_2", "we_1"),
	                 FL_E_NOT_FOUND);
	assert_int_equal(fl_store_wh_endpoint_delete(tx, "tn_1", "we_2"),
	                 FL_OK);
	cnt = 0;
	assert_int_equal(fl_store_wh_delivery_list(tx, "tn_1", NULL, 0, 10,
	                                           count_delivery, &cnt),
	                 FL_OK);
	assert_int_equal(cnt, 2);

	/* a rotated secret's overlap, kept and handed out with deliveries */
	e3.prev_secret_until = 888;
	e3.secret_gen = 2;
	assert_int_equal(fl_store_wh_endpoint_update(tx, &e3), FL_OK);
	assert_int_equal(fl_store_wh_endpoint_get(tx, "tn_2", "we_3", &g),
	                 FL_OK);
	assert_int_equal(g.prev_secret_until, 888);
	assert_int_equal(g.secret_gen, 2);
	emit(tx, "msg_6", "tn_2", "device.locked", 1);
	assert_int_equal(fl_store_wh_claim(tx, 1100, 1160, 8, d, &n), FL_OK);
	assert_int_equal(n, 1);
	assert_string_equal(d[0].endpoint_id, "we_3");
	assert_int_equal(d[0].prev_secret_until, 888);
	assert_int_equal(d[0].secret_gen, 2);
	free_claimed(d, n);

	/* pruning: the oldest events before the time, in batches, with
	 * their deliveries; never one still pending */
	{
		int64_t pruned = -1;

		assert_int_equal(fl_store_wh_prune(tx, 200, 100, &pruned),
		                 FL_OK);
		assert_int_equal(pruned, 0);
		assert_int_equal(fl_store_wh_prune(tx, 201, 2, &pruned), FL_OK);
		assert_int_equal(pruned, 2); /* msg_1, msg_2 */
		cnt = 0;
		assert_int_equal(fl_store_wh_delivery_list(tx, "tn_1", NULL, 0,
		                                           10, count_delivery,
		                                           &cnt),
		                 FL_OK);
		assert_int_equal(cnt, 0);
		assert_int_equal(fl_store_wh_prune(tx, 201, 100, &pruned),
		                 FL_OK);
		assert_int_equal(pruned, 2); /* msg_3, msg_5 */
		assert_int_equal(fl_store_wh_prune(tx, 201, 100, &pruned),
		                 FL_OK);
		assert_int_equal(pruned, 0); /* msg_6 is pending */
		cnt = 0;
		assert_int_equal(fl_store_wh_delivery_list(tx, "tn_2", NULL, 0,
		                                           10, count_delivery,
		                                           &cnt),
		                 FL_OK);
		assert_int_equal(cnt, 1);
	}

	/* what the phone confirmed */
	add_device(tx, "dv_1", "490154203237518");
	assert_int_equal(fl_store_device_confirmed(tx, "dv_1", &c), FL_OK);
	assert_int_equal(c.seq, 0);
	assert_int_equal(c.at, 0);
	c = (struct fl_confirmed){.seq = 7, .locked = true, .at = 900};
	assert_int_equal(fl_store_device_confirm(tx, "dv_1", &c), FL_OK);
	assert_int_equal(fl_store_device_confirm(tx, "dv_none", &c),
	                 FL_E_NOT_FOUND);
	memset(&c, 0, sizeof(c));
	assert_int_equal(fl_store_device_confirmed(tx, "dv_1", &c), FL_OK);
	assert_int_equal(c.seq, 7);
	assert_true(c.locked);
	assert_int_equal(c.at, 900);
	assert_int_equal(fl_tx_commit(tx), FL_OK);
}

static void change(struct fl_tx *tx, const char *tenant, const char *dev,
                   fl_time at, enum fl_dev_state from, enum fl_dev_state to,
                   const char *cause, uint64_t seq, fl_time paid_at)
{
	struct fl_state_change c;

	memset(&c, 0, sizeof(c));
	snprintf(c.tenant_id, sizeof(c.tenant_id), "%s", tenant);
	snprintf(c.device_id, sizeof(c.device_id), "%s", dev);
	c.at = at;
	c.from = from;
	c.to = to;
	snprintf(c.cause, sizeof(c.cause), "%s", cause);
	c.token_seq = seq;
	c.paid_at = paid_at;
	assert_int_equal(fl_store_state_change_add(tx, &c), FL_OK);
	assert_true(c.ord > 0);
}

struct counted {
	int64_t n[14][5][5]; /* [bucket + 1][from][to] */
};

static fl_err count_change(void *ctx, int bucket, enum fl_dev_state from,
                           enum fl_dev_state to, int64_t n)
{
	struct counted *c = ctx;

	assert_true(bucket >= -1 && bucket <= 12);
	c->n[bucket + 1][from][to] += n;
	return FL_OK;
}

static fl_err list_change(void *ctx, const struct fl_state_change *c)
{
	struct fl_state_change *out = ctx;
	int i = 0;

	while (out[i].ord != 0)
		i++;
	assert_true(i < 7);
	out[i] = *c;
	return FL_OK;
}

/* The history of decided states: appended, the newest read back, the
 * phone's confirmation set only on the changes it confirms, counts in
 * buckets by period, the changes into and out of locked by device then
 * order; tenant-scoped. */
static void test_state_changes(void **state)
{
	struct fx *f = *state;
	struct fl_tx *tx = begin(f, true);
	struct fl_state_change last, got[8];
	struct counted cn;

	assert_int_equal(fl_store_state_change_last(tx, "dv_a", &last),
	                 FL_E_NOT_FOUND);
	change(tx, "tn_1", "dv_b", 50, FL_ST_PENDING, FL_ST_ACTIVE, "", 1, 0);
	change(tx, "tn_1", "dv_a", 100, FL_ST_PENDING, FL_ST_ACTIVE, "", 1, 0);
	change(tx, "tn_1", "dv_a", 200, FL_ST_ACTIVE, FL_ST_LOCKED, "overdue",
	       2, 0);
	change(tx, "tn_1", "dv_b", 210, FL_ST_ACTIVE, FL_ST_REMINDING, "", 2,
	       0);
	change(tx, "tn_1", "dv_a", 300, FL_ST_LOCKED, FL_ST_ACTIVE, "payment",
	       3, 290);
	change(tx, "tn_1", "dv_b", 310, FL_ST_REMINDING, FL_ST_LOCKED,
	       "manual", 3, 0);
	change(tx, "tn_2", "dv_c", 200, FL_ST_ACTIVE, FL_ST_LOCKED, "overdue",
	       2, 0);
	assert_int_equal(fl_store_state_change_last(tx, "dv_a", &last), FL_OK);
	assert_string_equal(last.tenant_id, "tn_1");
	assert_int_equal(last.at, 300);
	assert_int_equal(last.from, FL_ST_LOCKED);
	assert_int_equal(last.to, FL_ST_ACTIVE);
	assert_string_equal(last.cause, "payment");
	assert_int_equal(last.token_seq, 3);
	assert_int_equal(last.paid_at, 290);
	assert_int_equal(last.confirmed_at, 0);

	/* the phone says unlocked with seq 2: too old for the unlock */
	assert_int_equal(
	        fl_store_state_change_confirm(tx, "dv_a", false, 2, 305),
	        FL_OK);
	assert_int_equal(fl_store_state_change_last(tx, "dv_a", &last), FL_OK);
	assert_int_equal(last.confirmed_at, 0);
	/* locked with seq 3: confirms the lock (seq 2), not the unlock */
	assert_int_equal(
	        fl_store_state_change_confirm(tx, "dv_a", true, 3, 306),
	        FL_OK);
	assert_int_equal(fl_store_state_change_last(tx, "dv_a", &last), FL_OK);
	assert_int_equal(last.confirmed_at, 0);
	assert_int_equal(
	        fl_store_state_change_confirm(tx, "dv_a", false, 3, 307),
	        FL_OK);
	assert_int_equal(
	        fl_store_state_change_confirm(tx, "dv_a", false, 4, 400),
	        FL_OK); /* already confirmed: kept */
	assert_int_equal(fl_store_state_change_last(tx, "dv_a", &last), FL_OK);
	assert_int_equal(last.confirmed_at, 307);

	/* buckets of 100 from 100, before 310 */
	memset(&cn, 0, sizeof(cn));
	assert_int_equal(fl_store_state_change_counts(tx, "tn_1", 100, 100,
	                                              310, count_change, &cn),
	                 FL_OK);
	assert_int_equal(cn.n[0][FL_ST_PENDING][FL_ST_ACTIVE], 1); /* dv_b */
	assert_int_equal(cn.n[1][FL_ST_PENDING][FL_ST_ACTIVE], 1);
	assert_int_equal(cn.n[2][FL_ST_ACTIVE][FL_ST_LOCKED], 1);
	assert_int_equal(cn.n[2][FL_ST_ACTIVE][FL_ST_REMINDING], 1);
	assert_int_equal(cn.n[3][FL_ST_LOCKED][FL_ST_ACTIVE], 1);
	assert_int_equal(cn.n[3][FL_ST_REMINDING][FL_ST_LOCKED], 0);
	assert_int_equal(fl_store_state_change_counts(tx, "tn_1", 100, 0, 310,
	                                              count_change, &cn),
	                 FL_E_INVALID);

	/* into and out of locked, by device, from 150 */
	memset(got, 0, sizeof(got));
	assert_int_equal(fl_store_state_change_locks(tx, "tn_1", 150, 1000,
	                                             list_change, got),
	                 FL_OK);
	assert_string_equal(got[0].device_id, "dv_a");
	assert_int_equal(got[0].to, FL_ST_LOCKED);
	assert_int_equal(got[0].confirmed_at, 306);
	assert_string_equal(got[1].device_id, "dv_a");
	assert_int_equal(got[1].from, FL_ST_LOCKED);
	assert_int_equal(got[1].confirmed_at, 307);
	assert_string_equal(got[2].device_id, "dv_b");
	assert_int_equal(got[2].at, 310);
	assert_string_equal(got[2].cause, "manual");
	assert_int_equal(got[3].ord, 0);
	assert_int_equal(fl_tx_commit(tx), FL_OK);
}

static void pf_device(struct fl_tx *tx, const char *id, const char *imei,
                      const char *ccy, enum fl_dev_state state, int stolen,
                      int64_t due, int64_t remaining, fl_time paid_through)
{
	struct fl_installment sched[3] = {{1000, 100}, {2000, 100}, {3000, 100}};
	struct fl_device_status st;
	struct fl_contract_rec c;

	add_device(tx, id, imei);
	if (ccy != NULL) {
		memset(&c, 0, sizeof(c));
		snprintf(c.device_id, sizeof(c.device_id), "%s", id);
		snprintf(c.tenant_id, sizeof(c.tenant_id), "tn_1");
		snprintf(c.loan_ref, sizeof(c.loan_ref), "LN-%s", id);
		memcpy(c.currency, ccy, 4);
		c.schedule = sched;
		c.n_schedule = 3;
		assert_int_equal(fl_store_contract_insert(tx, &c), FL_OK);
	}
	memset(&st, 0, sizeof(st));
	st.state = state;
	st.stolen = stolen == 1;
	st.stolen_reported = stolen != 0;
	st.amount_due = due;
	st.amount_remaining = remaining;
	st.paid_through = paid_through;
	st.token_seq = 1;
	assert_int_equal(fl_store_device_set_status(tx, id, &st), FL_OK);
}

struct pf_seen {
	struct fl_pf_group g[16];
	int n_g;
	struct fl_pf_late l[8];
	int n_l;
};

static fl_err pf_group(void *ctx, const struct fl_pf_group *g)
{
	struct pf_seen *s = ctx;

	assert_true(s->n_g < 16);
	s->g[s->n_g++] = *g;
	return FL_OK;
}

static fl_err pf_late(void *ctx, const struct fl_pf_late *l)
{
	struct pf_seen *s = ctx;

	assert_true(s->n_l < 8);
	s->l[s->n_l++] = *l;
	return FL_OK;
}

static const struct fl_pf_group *pf_find(const struct pf_seen *s,
                                         const char *ccy,
                                         enum fl_dev_state st, bool stolen)
{
	for (int i = 0; i < s->n_g; i++)
		if (strcmp(s->g[i].currency, ccy) == 0 && s->g[i].state == st &&
		    s->g[i].stolen == stolen)
			return &s->g[i];
	return NULL;
}

/* The portfolio's reads: devices grouped by their contract's currency
 * (set when the contract is made), state and stolen, with sums; the loans
 * with an amount due with the first installment due after paid_through
 * and whether they were rescheduled; tenant-scoped. */
static void test_portfolio_reads(void **state)
{
	struct fx *f = *state;
	struct fl_tx *tx = begin(f, true);
	struct fl_installment re[1] = {{5000, 300}};
	struct fl_reschedule_rec r;
	const struct fl_pf_group *g;
	struct pf_seen seen;
	struct fl_device other;

	pf_device(tx, "dv_1", "490154203237518", "KES", FL_ST_ACTIVE, 0, 0, 300,
	          0);
	pf_device(tx, "dv_2", "356938035643809", "KES", FL_ST_ACTIVE, 0, 0, 200,
	          1000);
	pf_device(tx, "dv_3", "352099001761481", "KES", FL_ST_LOCKED, 0, 100,
	          200, 1000);
	pf_device(tx, "dv_4", "353918050812375", "UGX", FL_ST_LOCKED, 1, 300,
	          300, 0);
	pf_device(tx, "dv_5", "490154203237500", "KES", FL_ST_RELEASED, 2, 50,
	          0, 3000);
	pf_device(tx, "dv_6", "356938035643817", NULL, FL_ST_PENDING, 0, 0, 0,
	          0);
	memset(&r, 0, sizeof(r));
	r.from = 2000;
	r.schedule = re;
	r.n_schedule = 1;
	assert_int_equal(fl_store_reschedule_insert(tx, "tn_1", "dv_4", &r),
	                 FL_OK);
	/* another tenant's device never counts */
	memset(&other, 0, sizeof(other));
	snprintf(other.id, sizeof(other.id), "dv_x");
	snprintf(other.tenant_id, sizeof(other.tenant_id), "tn_2");
	snprintf(other.imei, sizeof(other.imei), "352099001761499");
	assert_int_equal(fl_store_device_insert(tx, &other), FL_OK);

	memset(&seen, 0, sizeof(seen));
	assert_int_equal(
	        fl_store_portfolio_groups(tx, "tn_1", pf_group, &seen), FL_OK);
	assert_int_equal(seen.n_g, 5);
	g = pf_find(&seen, "KES", FL_ST_ACTIVE, false);
	assert_non_null(g);
	assert_int_equal(g->n, 2);
	assert_int_equal(g->amount_remaining, 500);
	assert_int_equal(g->amount_due, 0);
	g = pf_find(&seen, "KES", FL_ST_LOCKED, false);
	assert_non_null(g);
	assert_int_equal(g->n, 1);
	assert_int_equal(g->amount_due, 100);
	g = pf_find(&seen, "UGX", FL_ST_LOCKED, true);
	assert_non_null(g);
	assert_int_equal(g->amount_remaining, 300);
	/* stolen 2 (reported on a released one) is not locked as stolen */
	assert_non_null(pf_find(&seen, "KES", FL_ST_RELEASED, false));
	g = pf_find(&seen, "", FL_ST_PENDING, false);
	assert_non_null(g);
	assert_int_equal(g->n, 1);

	memset(&seen, 0, sizeof(seen));
	assert_int_equal(fl_store_portfolio_late(tx, "tn_1", pf_late, &seen),
	                 FL_OK);
	assert_int_equal(seen.n_l, 2); /* dv_3, dv_4; not the released dv_5 */
	for (int i = 0; i < 2; i++) {
		if (strcmp(seen.l[i].device_id, "dv_3") == 0) {
			assert_string_equal(seen.l[i].currency, "KES");
			assert_int_equal(seen.l[i].amount_remaining, 200);
			assert_int_equal(seen.l[i].paid_through, 1000);
			assert_int_equal(seen.l[i].first_unpaid, 2000);
			assert_false(seen.l[i].rescheduled);
		} else {
			assert_string_equal(seen.l[i].device_id, "dv_4");
			assert_string_equal(seen.l[i].currency, "UGX");
			assert_int_equal(seen.l[i].first_unpaid, 1000);
			assert_true(seen.l[i].rescheduled);
		}
	}
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(fl_store_portfolio_groups(tx, "tn_2", pf_group, &seen),
	                 FL_OK);
	assert_int_equal(seen.n_g, 1);
	assert_string_equal(seen.g[0].currency, "");
	assert_int_equal(fl_tx_commit(tx), FL_OK);
}

/* A device of tenant tn with a contract in ccy of one installment (due,
 * amount) and a payment of `paid` at 5 when paid > 0. */
static void pf_small(struct fl_tx *tx, const char *tn, int i, const char *ccy,
                     fl_time due, int64_t amount, int64_t paid)
{
	struct fl_installment sched[1] = {{due, amount}};
	struct fl_contract_rec c;
	struct fl_payment_rec p;
	struct fl_device d;

	memset(&d, 0, sizeof(d));
	snprintf(d.id, sizeof(d.id), "dv_%s_%d", tn, i);
	snprintf(d.tenant_id, sizeof(d.tenant_id), "%s", tn);
	snprintf(d.imei, sizeof(d.imei), "3%c%013d", tn[3], i);
	assert_int_equal(fl_store_device_insert(tx, &d), FL_OK);
	memset(&c, 0, sizeof(c));
	snprintf(c.device_id, sizeof(c.device_id), "%s", d.id);
	snprintf(c.tenant_id, sizeof(c.tenant_id), "%s", tn);
	memcpy(c.currency, ccy, 4);
	c.schedule = sched;
	c.n_schedule = 1;
	assert_int_equal(fl_store_contract_insert(tx, &c), FL_OK);
	if (paid <= 0)
		return;
	memset(&p, 0, sizeof(p));
	snprintf(p.id, sizeof(p.id), "py_%s_%d", tn, i);
	snprintf(p.tenant_id, sizeof(p.tenant_id), "%s", tn);
	snprintf(p.device_id, sizeof(p.device_id), "%s", d.id);
	p.amount = paid;
	p.paid_at = 5;
	assert_int_equal(fl_store_payment_insert(tx, &p), FL_OK);
}

struct pf_loans {
	struct fl_tx *tx;
	const char *tenant;
	struct fl_portfolio p;
	int n;
	char first[FL_ID_MAX], last[FL_ID_MAX];
};

/* Checks each loan against what fl_store_device_inputs reads for it, and
 * adds its collections. */
static fl_err pf_loan(void *ctx, const struct fl_pf_loan *l)
{
	struct pf_loans *s = ctx;
	const struct fl_device_inputs *a = l->in;
	struct fl_device_inputs b;

	assert_int_equal(fl_store_device_inputs(s->tx, s->tenant, l->device_id,
	                                        &b),
	                 FL_OK);
	assert_true(a->has_contract);
	assert_int_equal(a->contract.n_schedule, b.contract.n_schedule);
	for (size_t i = 0; i < a->contract.n_schedule; i++) {
		assert_int_equal(a->contract.schedule[i].due_at,
		                 b.contract.schedule[i].due_at);
		assert_int_equal(a->contract.schedule[i].amount,
		                 b.contract.schedule[i].amount);
	}
	assert_int_equal(a->n_reschedules, b.n_reschedules);
	for (size_t i = 0; i < a->n_reschedules; i++) {
		assert_int_equal(a->reschedules[i].from, b.reschedules[i].from);
		assert_int_equal(a->reschedules[i].n_schedule,
		                 b.reschedules[i].n_schedule);
		for (size_t k = 0; k < a->reschedules[i].n_schedule; k++)
			assert_int_equal(a->reschedules[i].schedule[k].due_at,
			                 b.reschedules[i].schedule[k].due_at);
	}
	assert_int_equal(a->n_payments, b.n_payments);
	for (size_t i = 0; i < a->n_payments; i++) {
		assert_int_equal(a->payments[i].paid_at, b.payments[i].paid_at);
		assert_int_equal(a->payments[i].amount, b.payments[i].amount);
		assert_int_equal(a->payments[i].reversed,
		                 b.payments[i].reversed);
	}
	assert_int_equal(a->n_commands, 0);
	fl_device_inputs_clear(&b);
	if (s->n == 0)
		snprintf(s->first, sizeof(s->first), "%s", l->device_id);
	snprintf(s->last, sizeof(s->last), "%s", l->device_id);
	s->n++;
	return fl_portfolio_add_history(
	        &s->p, l->currency, a->contract.schedule,
	        a->contract.n_schedule, a->reschedules, a->n_reschedules,
	        a->payments, a->n_payments);
}

static const struct fl_portfolio_ccy *pf_ccy(const struct fl_portfolio *p,
                                             const char *code)
{
	for (size_t i = 0; i < p->n_ccy; i++)
		if (strcmp(p->ccy[i].currency, code) == 0)
			return &p->ccy[i];
	fail_msg("no %s", code);
	return NULL;
}

/* Every loan's collections in one read per page of contracts: the same
 * schedules, reschedules and payments as each loan's own read, released
 * loans included, other tenants' never, and the collections they give
 * (rescheduled and reversed included) known by hand; past a page. */
static void test_portfolio_loans(void **state)
{
	struct fx *f = *state;
	struct fl_tx *tx = begin(f, true);
	struct fl_installment re[2] = {{2500, 150}, {3500, 150}};
	struct fl_reschedule_rec r;
	struct fl_payment_rec p;
	const struct fl_portfolio_ccy *c;
	struct pf_loans *s = calloc(1, sizeof(*s));
	const struct {
		const char *dev;
		int64_t amount;
		fl_time at;
	} pays[] = {{"dv_1", 100, 900},  {"dv_1", 100, 2500},
	            {"dv_1", 50, 2600},  {"dv_2", 100, 1000},
	            {"dv_2", 300, 3000}, {"dv_x", 999, 1000}};

	assert_non_null(s);
	/* schedule {1000, 100}, {2000, 100}, {3000, 100} each */
	pf_device(tx, "dv_1", "490154203237518", "KES", FL_ST_ACTIVE, 0, 0, 300,
	          0);
	pf_device(tx, "dv_2", "356938035643809", "KES", FL_ST_LOCKED, 0, 100,
	          200, 1000);
	pf_device(tx, "dv_3", "352099001761481", "KES", FL_ST_RELEASED, 0, 0,
	          0, 0);
	pf_device(tx, "dv_4", "353918050812375", "UGX", FL_ST_ACTIVE, 0, 0, 300,
	          0);
	pf_device(tx, "dv_5", "356938035643817", NULL, FL_ST_PENDING, 0, 0, 0,
	          0);
	pf_small(tx, "tn_2", 1, "KES", 1000, 5000, 0);
	/* dv_2 rescheduled from 2000: 1000:100, 2500:150, 3500:150 */
	memset(&r, 0, sizeof(r));
	r.from = 2000;
	r.schedule = re;
	r.n_schedule = 2;
	assert_int_equal(fl_store_reschedule_insert(tx, "tn_1", "dv_2", &r),
	                 FL_OK);
	for (size_t i = 0; i < sizeof(pays) / sizeof(pays[0]); i++) {
		memset(&p, 0, sizeof(p));
		snprintf(p.id, sizeof(p.id), "py_%zu", i);
		snprintf(p.tenant_id, sizeof(p.tenant_id), "tn_1");
		snprintf(p.device_id, sizeof(p.device_id), "%s",
		         strcmp(pays[i].dev, "dv_x") == 0 ? "dv_tn_2_1"
		                                          : pays[i].dev);
		if (strcmp(pays[i].dev, "dv_x") == 0)
			snprintf(p.tenant_id, sizeof(p.tenant_id), "tn_2");
		p.amount = pays[i].amount;
		p.paid_at = pays[i].at;
		assert_int_equal(fl_store_payment_insert(tx, &p), FL_OK);
	}
	assert_int_equal(fl_store_payment_reverse(tx, "tn_1", "py_2", 2700,
	                                          "bounced", ""),
	                 FL_OK);

	s->tx = tx;
	s->tenant = "tn_1";
	fl_portfolio_init(&s->p, (fl_time)FL_PORTFOLIO_PERIODS *
	                                 FL_PORTFOLIO_PERIOD);
	assert_int_equal(fl_store_portfolio_loans(tx, "tn_1", pf_loan, s),
	                 FL_OK);
	assert_int_equal(s->n, 4); /* dv_5 has no contract */
	assert_string_equal(s->first, "dv_1");
	assert_string_equal(s->last, "dv_4");
	/* dv_1: 100 on time of 300 due, 200 collected (50 reversed);
	 * dv_2: 100 + 150 on time of 400 due, 400 collected; dv_3 (released):
	 * 300 due; dv_4: 300 due in UGX */
	c = pf_ccy(&s->p, "KES");
	assert_int_equal(c->due[0], 1000);
	assert_int_equal(c->on_time[0], 350);
	assert_int_equal(c->collected[0], 600);
	c = pf_ccy(&s->p, "UGX");
	assert_int_equal(c->due[0], 300);
	assert_int_equal(c->on_time[0], 0);
	assert_int_equal(s->p.n_ccy, 2);
	for (int k = 1; k < FL_PORTFOLIO_PERIODS; k++)
		assert_int_equal(s->p.ccy[0].due[k], 0);

	/* more contracts than a page: each once, in order */
	for (int i = 0; i < 2003; i++)
		pf_small(tx, "tn_3", i, i % 2 ? "KES" : "TZS", 10, 3,
		         i % 3 == 0 ? 2 : 0);
	memset(s, 0, sizeof(*s));
	s->tx = tx;
	s->tenant = "tn_3";
	fl_portfolio_init(&s->p, (fl_time)FL_PORTFOLIO_PERIODS *
	                                 FL_PORTFOLIO_PERIOD);
	assert_int_equal(fl_store_portfolio_loans(tx, "tn_3", pf_loan, s),
	                 FL_OK);
	assert_int_equal(s->n, 2003);
	assert_string_equal(s->first, "dv_tn_3_0");
	assert_string_equal(s->last, "dv_tn_3_2002");
	c = pf_ccy(&s->p, "TZS"); /* 1002 even i, 334 of them i % 3 == 0 */
	assert_int_equal(c->due[0], 1002 * 3);
	assert_int_equal(c->on_time[0], 334 * 2);
	assert_int_equal(c->collected[0], 334 * 2);
	c = pf_ccy(&s->p, "KES"); /* 1001 odd i, 334 of them i % 3 == 0 */
	assert_int_equal(c->due[0], 1001 * 3);
	assert_int_equal(c->collected[0], 334 * 2);
	assert_int_equal(fl_tx_commit(tx), FL_OK);
	free(s);
}

/* --- PostgreSQL only ---------------------------------------------------- */

/* Two stores on one database, as two finlockd processes: a commit in one
 * reaches the other's feed and device clock within a bounded time. */
static void test_pg_two_stores_feed(void **state)
{
	struct fx *f = *state;
	struct fl_store *other = NULL;
	struct seen *s = calloc(1, sizeof(*s));
	struct fl_device d;
	struct fl_tx *tx;
	uint64_t c;
	int64_t t0, waited;

	assert_non_null(s);
	pthread_mutex_init(&s->mu, NULL);
	assert_int_equal(open_again(f, &other, true), FL_OK);
	assert_int_equal(fl_store_feed_subscribe(other, on_feed, s), FL_OK);
	tx = begin(f, true);
	add_device(tx, "dv_1", "490154203237518");
	assert_int_equal(fl_store_device_get_any(tx, "dv_1", &d), FL_OK);
	assert_int_equal(fl_tx_commit(tx), FL_OK);
	t0 = now_ms();
	while (seen_count(s, d.ord) == 0 && now_ms() - t0 < 2000)
		usleep(1000);
	assert_int_equal(seen_count(s, d.ord), 1);

	/* the other's copy of the row, then a change made here */
	c = fl_store_device_clock(other);
	assert_true(fl_store_device_unchanged(other, d.ord, c));
	tx = begin(f, true);
	set_state(tx, "dv_1", FL_ST_LOCKED, false);
	assert_int_equal(fl_tx_commit(tx), FL_OK);
	t0 = now_ms();
	while (fl_store_device_unchanged(other, d.ord, c) &&
	       now_ms() - t0 < 2000)
		usleep(500);
	waited = now_ms() - t0;
	assert_false(fl_store_device_unchanged(other, d.ord, c));
	assert_true(waited < 1000);
	/* a rollback here reaches nobody */
	s->n = 0;
	tx = begin(f, true);
	set_state(tx, "dv_1", FL_ST_ACTIVE, false);
	fl_tx_rollback(tx);
	usleep(200 * 1000);
	assert_int_equal(seen_count(s, d.ord), 0);
	fl_store_close(other);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

/* A write transaction that holds a lock for a while, on its own thread. */
struct holder {
	struct fl_store *st;
	const char *device;   /* lock_device, or */
	const char *job;      /* job_claim */
	int hold_ms;
	volatile int locked;  /* set once it holds the lock */
	bool mine;
	fl_err err;
};

static void *hold(void *arg)
{
	struct holder *h = arg;
	struct fl_tx *tx = NULL;

	h->err = fl_store_begin(h->st, true, &tx);
	if (h->err != FL_OK)
		return NULL;
	h->err = h->device != NULL ? fl_store_lock_device(tx, h->device)
	                           : fl_store_job_claim(tx, h->job, &h->mine);
	__atomic_store_n(&h->locked, 1, __ATOMIC_SEQ_CST);
	usleep((useconds_t)h->hold_ms * 1000);
	if (h->err == FL_OK)
		h->err = fl_tx_commit(tx);
	else
		fl_tx_rollback(tx);
	return NULL;
}

static void wait_locked(struct holder *h)
{
	while (!__atomic_load_n(&h->locked, __ATOMIC_SEQ_CST))
		usleep(1000);
}

/* lock_device serialises two writers of one device, across stores (two
 * processes), and never makes different devices wait. */
static void test_pg_lock_device(void **state)
{
	struct fx *f = *state;
	struct fl_store *other = NULL;
	struct holder h = {.device = "dv_1", .hold_ms = 1500};
	struct fl_tx *tx;
	pthread_t th;
	int64_t t0, took;

	assert_int_equal(open_again(f, &other, true), FL_OK);
	h.st = other;
	assert_int_equal(pthread_create(&th, NULL, hold, &h), 0);
	wait_locked(&h);
	t0 = now_ms();
	tx = begin(f, true);
	assert_int_equal(fl_store_lock_device(tx, "dv_2"), FL_OK);
	assert_int_equal(fl_tx_commit(tx), FL_OK);
	took = now_ms() - t0;
	/* long before the holder lets go (margins for a loaded machine) */
	assert_true(took < 1000);
	tx = begin(f, true);
	assert_int_equal(fl_store_lock_device(tx, "dv_1"), FL_OK);
	took = now_ms() - t0;
	assert_int_equal(fl_tx_commit(tx), FL_OK);
	assert_true(took >= 1000);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(h.err, FL_OK);
	/* a read transaction takes no lock */
	tx = begin(f, false);
	assert_int_equal(fl_store_lock_device(tx, "dv_1"), FL_E_STATE);
	fl_tx_rollback(tx);
	fl_store_close(other);
}

/* The sweep's batch leaves out a due device whose lock another process
 * holds (a payment being recorded), without waiting for it, and holds
 * the locks of those it loaded until its transaction ends. */
static void test_pg_due_load_skips_locked(void **state)
{
	struct fx *f = *state;
	struct fl_store *other = NULL;
	struct holder h = {.device = "dv_2", .hold_ms = 1500};
	struct fl_device_status s;
	struct fl_device devs[4];
	struct fl_device_inputs ins[4];
	struct fl_tx *tx, *otx;
	pthread_t th;
	int64_t t0;
	int n = -1;

	tx = begin(f, true);
	add_device(tx, "dv_1", "490154203237518");
	add_device(tx, "dv_2", "356938035643809");
	memset(&s, 0, sizeof(s));
	s.next_change = 100;
	assert_int_equal(fl_store_device_set_status(tx, "dv_1", &s), FL_OK);
	assert_int_equal(fl_store_device_set_status(tx, "dv_2", &s), FL_OK);
	assert_int_equal(fl_tx_commit(tx), FL_OK);
	assert_int_equal(open_again(f, &other, true), FL_OK);
	h.st = other;
	assert_int_equal(pthread_create(&th, NULL, hold, &h), 0);
	wait_locked(&h);
	t0 = now_ms();
	tx = begin(f, true);
	assert_int_equal(fl_store_device_due_load(tx, 100, 4, devs, ins, &n),
	                 FL_OK);
	assert_true(now_ms() - t0 < 1000); /* not waited for */
	assert_int_equal(n, 1);
	assert_string_equal(devs[0].id, "dv_1");
	fl_device_inputs_clear(&ins[0]);
	/* dv_1 is this transaction's until it ends */
	otx = NULL;
	assert_int_equal(fl_store_begin(other, true, &otx), FL_OK);
	assert_int_equal(fl_store_device_due_load(otx, 100, 4, devs, ins, &n),
	                 FL_OK);
	assert_true(n == 0 || (n == 1 && strcmp(devs[0].id, "dv_2") == 0));
	for (int i = 0; i < n; i++)
		fl_device_inputs_clear(&ins[i]);
	fl_tx_rollback(otx);
	fl_tx_rollback(tx);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(h.err, FL_OK);
	/* a read transaction takes no lock */
	tx = begin(f, false);
	assert_int_equal(fl_store_device_due_load(tx, 100, 4, devs, ins, &n),
	                 FL_E_STATE);
	fl_tx_rollback(tx);
	fl_store_close(other);
}

/* A job claim is exclusive until its transaction ends, and released when
 * the connection holding it dies. */
static void test_pg_job_claim(void **state)
{
	struct fx *f = *state;
	struct fl_store *other = NULL;
	struct fl_tx *tx, *otx;
	bool mine = false;

	tx = begin(f, true);
	assert_int_equal(fl_store_job_claim(tx, "sweep", &mine), FL_OK);
	assert_true(mine);
	assert_int_equal(open_again(f, &other, true), FL_OK);
	assert_int_equal(fl_store_begin(other, true, &otx), FL_OK);
	assert_int_equal(fl_store_job_claim(otx, "sweep", &mine), FL_OK);
	assert_false(mine);
	assert_int_equal(fl_store_job_claim(otx, "heads", &mine), FL_OK);
	assert_true(mine);
	fl_tx_rollback(otx);
	assert_int_equal(fl_tx_commit(tx), FL_OK);
	assert_int_equal(fl_store_begin(other, true, &otx), FL_OK);
	assert_int_equal(fl_store_job_claim(otx, "sweep", &mine), FL_OK);
	assert_true(mine);

	/* the holder's server process dies: the claim goes with it */
	assert_int_equal(
	        raw_exec(f, "SELECT pg_terminate_backend(pid, 5000) FROM "
	                    "pg_locks WHERE locktype = 'advisory' AND "
	                    "granted"),
	        0);
	tx = begin(f, true);
	assert_int_equal(fl_store_job_claim(tx, "sweep", &mine), FL_OK);
	assert_true(mine);
	assert_int_equal(fl_tx_commit(tx), FL_OK);
	/* the dead connection fails its transaction, and is made again */
	assert_int_equal(fl_tx_commit(otx), FL_E_STORE_UNAVAILABLE);
	assert_int_equal(fl_store_begin(other, true, &otx), FL_OK);
	assert_int_equal(fl_store_job_claim(otx, "sweep", &mine), FL_OK);
	assert_true(mine);
	assert_int_equal(fl_tx_commit(otx), FL_OK);
	fl_store_close(other);
}

struct locker {
	struct fl_store *st;
	const char *first, *second;
	pthread_barrier_t *both;
	fl_err err;
};

static void *lock_two(void *arg)
{
	struct locker *l = arg;
	struct fl_tx *tx = NULL;

	l->err = fl_store_begin(l->st, true, &tx);
	if (l->err != FL_OK)
		return NULL;
	l->err = fl_store_lock_device(tx, l->first);
	pthread_barrier_wait(l->both);
	if (l->err == FL_OK)
		l->err = fl_store_lock_device(tx, l->second);
	if (l->err == FL_OK)
		l->err = fl_tx_commit(tx);
	else
		fl_tx_rollback(tx);
	return NULL;
}

/* SQLSTATEs: a unique violation is a conflict (the transaction goes on),
 * a deadlock asks for the transaction again. */
static void test_pg_sqlstate(void **state)
{
	struct fx *f = *state;
	struct fl_apikey k;
	struct locker a, b;
	pthread_barrier_t both;
	pthread_t ta, tb;
	struct fl_tx *tx;
	int64_t n = 0;

	tx = begin(f, true);
	make_key(&k, "ak_1", "tn_a", "admin", 1);
	assert_int_equal(fl_store_apikey_insert(tx, &k), FL_OK);
	make_key(&k, "ak_2", "tn_a", "admin", 1);
	assert_int_equal(fl_store_apikey_insert(tx, &k), FL_E_CONFLICT);
	assert_non_null(strstr(fl_store_errmsg(), "23505"));
	assert_int_equal(fl_store_apikey_count(tx, &n), FL_OK);
	assert_int_equal(n, 1);
	assert_int_equal(fl_tx_commit(tx), FL_OK);

	pthread_barrier_init(&both, NULL, 2);
	a = (struct locker){f->st, "dv_a", "dv_b", &both, FL_OK};
	b = (struct locker){f->st, "dv_b", "dv_a", &both, FL_OK};
	assert_int_equal(pthread_create(&ta, NULL, lock_two, &a), 0);
	assert_int_equal(pthread_create(&tb, NULL, lock_two, &b), 0);
	assert_int_equal(pthread_join(ta, NULL), 0);
	assert_int_equal(pthread_join(tb, NULL), 0);
	pthread_barrier_destroy(&both);
	/* one of them was chosen to run again, the other went through */
	assert_true((a.err == FL_E_STORE_RETRY && b.err == FL_OK) ||
	            (b.err == FL_E_STORE_RETRY && a.err == FL_OK));
}

/* The server goes away: calls answer FL_E_STORE_UNAVAILABLE quickly and
 * every cached row counts as changed; it comes back: the store works
 * again by itself and tells its subscribers every row may have changed. */
static void test_pg_unavailable(void **state)
{
	struct fx *f = *state;
	struct seen *s = calloc(1, sizeof(*s));
	struct fl_store *other = NULL;
	struct fl_tenant t = {0};
	struct fl_tx *tx = NULL;
	uint64_t c;
	int64_t t0;
	fl_err err;

	assert_non_null(s);
	pthread_mutex_init(&s->mu, NULL);
	assert_int_equal(fl_store_feed_subscribe(f->st, on_feed, s), FL_OK);
	add_tenant(f, "tn_before");
	c = fl_store_device_clock(f->st);
	assert_true(fl_store_device_unchanged(f->st, 1, c));
	assert_int_equal(pg_cluster_stop(&cluster), 0);
	t0 = now_ms();
	/* begin, or its first statement, says so (BEGIN goes with it) */
	err = fl_store_begin(f->st, true, &tx);
	if (err == FL_OK) {
		err = fl_store_tenant_get(tx, "tn_before", &t);
		fl_tx_rollback(tx);
	}
	assert_int_equal(err, FL_E_STORE_UNAVAILABLE);
	assert_true(now_ms() - t0 < 3000);
	/* and again, now without a connection left */
	assert_int_equal(fl_store_begin(f->st, true, &tx),
	                 FL_E_STORE_UNAVAILABLE);
	assert_null(tx);
	assert_non_null(strstr(fl_store_errmsg(), "postgresql: "));
	assert_null(strchr(fl_store_errmsg(), '\n'));
	/* a process starting now is told the same */
	assert_int_equal(open_again(f, &other, true), FL_E_STORE_UNAVAILABLE);
	assert_null(other);
	t0 = now_ms();
	while (fl_store_device_unchanged(f->st, 1, c) && now_ms() - t0 < 3000)
		usleep(5000);
	assert_false(fl_store_device_unchanged(f->st, 1, c));

	assert_int_equal(pg_cluster_restart(&cluster), 0);
	t0 = now_ms();
	do {
		err = fl_store_begin(f->st, true, &tx);
		if (err != FL_OK)
			usleep(50 * 1000);
	} while (err != FL_OK && now_ms() - t0 < 10000);
	assert_int_equal(err, FL_OK);
	snprintf(t.id, sizeof(t.id), "tn_after");
	assert_int_equal(fl_store_tenant_insert(tx, &t), FL_OK);
	assert_int_equal(fl_tx_commit(tx), FL_OK);
	tx = begin(f, false);
	assert_int_equal(fl_store_tenant_get(tx, "tn_before", &t), FL_OK);
	fl_tx_rollback(tx);
	t0 = now_ms();
	while (__atomic_load_n(&s->all, __ATOMIC_SEQ_CST) == 0 &&
	       now_ms() - t0 < 5000)
		usleep(5000);
	assert_true(s->all >= 1);
	c = fl_store_device_clock(f->st);
	assert_true(fl_store_device_unchanged(f->st, 1, c));
	fl_store_close(f->st);
	f->st = NULL;
	pthread_mutex_destroy(&s->mu);
	free(s);
}

/* must_exist on a database with no schema: refused, nothing made. */
static void test_pg_created_and_must_exist(void **state)
{
	struct fx *f = *state;
	struct fl_store *st = NULL;
	struct fx empty = *f;

	assert_true(fl_store_created(f->st));
	fl_store_close(f->st);
	assert_int_equal(open_again(f, &f->st, true), FL_OK);
	assert_false(fl_store_created(f->st));
	assert_int_equal(pg_cluster_exec(&cluster, "finlock",
	                                 "CREATE SCHEMA empty_one"),
	                 0);
	snprintf(empty.db, sizeof(empty.db), "empty_one");
	schema_uri(empty.db, empty.uri, sizeof(empty.uri));
	assert_int_equal(open_again(&empty, &st, true), FL_E_STORE_MISSING);
	assert_null(st);
	assert_int_not_equal(raw_exec(&empty, "SELECT 1 FROM schema_version"),
	                     0);
	assert_int_equal(pg_cluster_exec(&cluster, "finlock",
	                                 "DROP SCHEMA empty_one"),
	                 0);
}

/* Several processes starting on a new database at once: each migration
 * is applied once, and every one of them opens. */
struct opener {
	struct fx *f;
	struct fl_store *st;
	fl_err err;
};

static void *open_one(void *arg)
{
	struct opener *o = arg;

	o->err = open_again(o->f, &o->st, false);
	return NULL;
}

static void test_pg_migrations_together(void **state)
{
	struct fx *f = *state;
	struct fx fresh = *f;
	struct opener o[3];
	pthread_t th[3];
	char sql[64];

	snprintf(fresh.db, sizeof(fresh.db), "together");
	snprintf(sql, sizeof(sql), "CREATE SCHEMA %s", fresh.db);
	assert_int_equal(pg_cluster_exec(&cluster, "finlock", sql), 0);
	schema_uri(fresh.db, fresh.uri, sizeof(fresh.uri));
	for (int i = 0; i < 3; i++) {
		o[i] = (struct opener){&fresh, NULL, FL_OK};
		assert_int_equal(pthread_create(&th[i], NULL, open_one, &o[i]),
		                 0);
	}
	for (int i = 0; i < 3; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(o[i].err, FL_OK);
		assert_int_equal(fl_store_schema_version(o[i].st),
		                 fl_store_schema_latest());
		fl_store_close(o[i].st);
	}
	snprintf(sql, sizeof(sql), "DROP SCHEMA %s CASCADE", fresh.db);
	assert_int_equal(pg_cluster_exec(&cluster, "finlock", sql), 0);
}

/* The start-up checks pass on a sound database; a snapshot is
 * PostgreSQL's tools' job, and the refusal says which. */
static void test_pg_check_and_snapshot(void **state)
{
	struct fx *f = *state;
	char problem[FL_STORE_PROBLEM_MAX];

	add_tenant(f, "tn_check");
	assert_int_equal(fl_store_check(f->st, false, problem), FL_OK);
	assert_string_equal(problem, "");
	assert_int_equal(fl_store_check(f->st, true, problem), FL_OK);
	assert_string_equal(problem, "");
	/* without amcheck, what was checked is said */
	assert_non_null(strstr(fl_store_errmsg(), "amcheck"));
	/* with amcheck, the indexes are checked too */
	assert_int_equal(raw_exec(f, "CREATE EXTENSION amcheck"), 0);
	add_tenant(f, "tn_check2"); /* a new transaction: no message */
	if (fl_store_check(f->st, true, problem) != FL_OK)
		fail_msg("%s", problem);
	assert_string_equal(problem, "");
	assert_string_equal(fl_store_errmsg(), "");

	assert_string_equal(fl_store_backend(f->st), "postgresql");
	assert_int_equal(fl_store_snapshot(f->st, "/tmp/never"), FL_E_STATE);
	assert_non_null(strstr(fl_store_errmsg(), "pg_dump"));
	assert_non_null(strstr(fl_store_errmsg(), "pg_basebackup"));
	assert_int_equal(access("/tmp/never", F_OK), -1);
}

static fl_err count_any(void *ctx, const void *rec)
{
	(void)rec;
	(*(int *)ctx)++;
	return FL_OK;
}

struct last_source {
	struct fl_source_rec s; /* the last one listed */
	int n;                  /* how many were */
};

static fl_err keep_source(void *ctx, const struct fl_source_rec *s)
{
	struct last_source *last = ctx;

	last->s = *s;
	last->n++;
	return FL_OK;
}

static fl_err keep_hold(void *ctx, const struct fl_hold_rec *h)
{
	*(struct fl_hold_rec *)ctx = *h;
	return FL_OK;
}

static fl_err count_ref(void *ctx, const struct fl_provider_ref *r)
{
	return count_any(ctx, r);
}

static fl_err count_unmatched(void *ctx, const struct fl_unmatched_rec *u)
{
	return count_any(ctx, u);
}

/* Payment sources, provider payments, signed message ids, unmatched
 * payments, loan references ignoring case and spaces, pending releases
 * and lock holds: the same answers from both backends. */
static void test_payment_sources(void **state)
{
	struct fx *f = *state;
	struct fl_tx *tx = begin(f, true);
	struct last_source last = {0};
	struct fl_source_rec s, g;
	struct fl_provider_ref r, rg;
	struct fl_unmatched_rec u, ug;
	struct fl_pending_release pr, prg;
	struct fl_hold_rec h, hg;
	struct fl_contract_rec c;
	struct fl_installment sched[1] = {{100, 10}};
	char dev[FL_ID_MAX];
	int cnt = 0;

	memset(&s, 0, sizeof(s));
	snprintf(s.id, sizeof(s.id), "ps_1");
	snprintf(s.tenant_id, sizeof(s.tenant_id), "tn_1");
	snprintf(s.kind, sizeof(s.kind), "mpesa_c2b");
	snprintf(s.shortcode, sizeof(s.shortcode), "600000");
	memcpy(s.currency, "KES", 4);
	snprintf(s.networks, sizeof(s.networks), "127.0.0.0/8");
	memset(s.path_hash, 0x33, FL_HASH_LEN);
	s.max_silence = 3600;
	s.created_at = 1000;
	assert_int_equal(fl_store_source_insert(tx, &s), FL_OK);
	assert_true(s.ord > 0);
	assert_int_equal(fl_store_source_insert(tx, &s), FL_E_CONFLICT);
	assert_int_equal(fl_store_source_get(tx, NULL, "ps_1", &g), FL_OK);
	assert_string_equal(g.shortcode, "600000");
	assert_memory_equal(g.path_hash, s.path_hash, FL_HASH_LEN);
	assert_int_equal(g.max_silence, 3600);
	assert_int_equal(fl_store_source_get(tx, "tn_2", "ps_1", &g),
	                 FL_E_NOT_FOUND);
	assert_string_equal(g.id, "");
	assert_int_equal(fl_store_source_get(tx, "tn_1", "ps_1", &g), FL_OK);
	g.disabled_at = 1500;
	snprintf(g.secret, sizeof(g.secret), "whsec_x");
	assert_int_equal(fl_store_source_update(tx, &g), FL_OK);
	assert_int_equal(fl_store_source_touch(tx, "ps_1", 1700), FL_OK);
	assert_int_equal(fl_store_source_touch(tx, "ps_1", 1600), FL_OK);
	assert_int_equal(fl_store_source_touch(tx, "ps_9", 1600),
	                 FL_E_NOT_FOUND);
	assert_int_equal(fl_store_source_list(tx, "tn_1", 0, 10, keep_source,
	                                      &last),
	                 FL_OK);
	assert_int_equal(last.n, 1);
	assert_int_equal(last.s.disabled_at, 1500);
	assert_int_equal(last.s.last_callback_at, 1700);
	assert_string_equal(last.s.secret, "whsec_x");
	last.n = 0;
	assert_int_equal(fl_store_source_list(tx, "tn_2", 0, 10, keep_source,
	                                      &last),
	                 FL_OK);
	assert_int_equal(last.n, 0);
	snprintf(g.tenant_id, sizeof(g.tenant_id), "tn_2");
	assert_int_equal(fl_store_source_update(tx, &g), FL_E_NOT_FOUND);

	/* provider payments: one per (source, reference) */
	memset(&r, 0, sizeof(r));
	snprintf(r.source_id, sizeof(r.source_id), "ps_1");
	snprintf(r.ref, sizeof(r.ref), "QKL1X2Y3Z4");
	snprintf(r.tenant_id, sizeof(r.tenant_id), "tn_1");
	memset(r.fingerprint, 0x44, FL_HASH_LEN);
	r.amount = 150000;
	snprintf(r.payment_id, sizeof(r.payment_id), "py_1");
	r.created_at = 2000;
	assert_int_equal(fl_store_provider_ref_put(tx, &r), FL_OK);
	assert_int_equal(fl_store_provider_ref_put(tx, &r), FL_E_CONFLICT);
	assert_int_equal(
	        fl_store_provider_ref_get(tx, "ps_1", "QKL1X2Y3Z4", &rg), FL_OK);
	assert_int_equal(rg.amount, 150000);
	assert_string_equal(rg.payment_id, "py_1");
	assert_memory_equal(rg.fingerprint, r.fingerprint, FL_HASH_LEN);
	assert_int_equal(fl_store_provider_ref_get(tx, "ps_2", "QKL1X2Y3Z4",
	                                           &rg),
	                 FL_E_NOT_FOUND);
	assert_int_equal(
	        fl_store_provider_ref_find(tx, "tn_1", "QKL1X2Y3Z4", &rg),
	        FL_OK);
	assert_string_equal(rg.source_id, "ps_1");
	assert_int_equal(fl_store_provider_ref_list(tx, "tn_1", 1000, 3000,
	                                            count_ref, &cnt),
	                 FL_OK);
	assert_int_equal(cnt, 1);
	cnt = 0;
	assert_int_equal(fl_store_provider_ref_list(tx, "tn_1", 2001, 3000,
	                                            count_ref, &cnt),
	                 FL_OK);
	assert_int_equal(cnt, 0);

	/* signed message ids: a replay is a conflict, old ids forgotten */
	assert_int_equal(fl_store_source_msg_put(tx, "ps_1", "msg_1", 100, 0),
	                 FL_OK);
	assert_int_equal(fl_store_source_msg_put(tx, "ps_1", "msg_1", 101, 0),
	                 FL_E_CONFLICT);
	assert_int_equal(fl_store_source_msg_put(tx, "ps_2", "msg_1", 101, 0),
	                 FL_OK);
	assert_int_equal(
	        fl_store_source_msg_put(tx, "ps_1", "msg_1", 900, 500), FL_OK);

	/* unmatched payments: kept, listed, assigned once */
	memset(&u, 0, sizeof(u));
	snprintf(u.id, sizeof(u.id), "um_1");
	snprintf(u.tenant_id, sizeof(u.tenant_id), "tn_1");
	snprintf(u.source_id, sizeof(u.source_id), "ps_1");
	snprintf(u.reference, sizeof(u.reference), "QKL9");
	snprintf(u.account, sizeof(u.account), "NOSUCH");
	u.amount = 500;
	memcpy(u.currency, "KES", 4);
	u.paid_at = 1900;
	snprintf(u.reason, sizeof(u.reason), "no contract");
	snprintf(u.payer, sizeof(u.payer), "2547*****126 JOHN");
	u.created_at = 2000;
	assert_int_equal(fl_store_unmatched_insert(tx, &u), FL_OK);
	assert_true(u.ord > 0);
	cnt = 0;
	assert_int_equal(fl_store_unmatched_list(tx, "tn_1", true, 0, 10,
	                                         count_unmatched, &cnt),
	                 FL_OK);
	assert_int_equal(cnt, 1);
	assert_int_equal(fl_store_unmatched_assign(tx, "tn_1", "um_1", "py_7",
	                                           2100, "ak_1"),
	                 FL_OK);
	assert_int_equal(fl_store_unmatched_assign(tx, "tn_1", "um_1", "py_8",
	                                           2200, "ak_1"),
	                 FL_E_STATE);
	assert_int_equal(fl_store_unmatched_assign(tx, "tn_2", "um_1", "py_8",
	                                           2200, "ak_1"),
	                 FL_E_NOT_FOUND);
	assert_int_equal(fl_store_unmatched_get(tx, "tn_1", "um_1", &ug),
	                 FL_OK);
	assert_string_equal(ug.payment_id, "py_7");
	assert_int_equal(ug.assigned_at, 2100);
	assert_string_equal(ug.payer, "2547*****126 JOHN");
	cnt = 0;
	assert_int_equal(fl_store_unmatched_list(tx, "tn_1", true, 0, 10,
	                                         count_unmatched, &cnt),
	                 FL_OK);
	assert_int_equal(cnt, 0);
	assert_int_equal(fl_store_unmatched_list(tx, "tn_1", false, 0, 10,
	                                         count_unmatched, &cnt),
	                 FL_OK);
	assert_int_equal(cnt, 1);

	/* one unmatched payment per (source, reference, content); none
	 * without a fingerprint is ever refused */
	snprintf(u.id, sizeof(u.id), "um_2");
	assert_int_equal(fl_store_unmatched_insert(tx, &u), FL_OK);
	assert_int_equal(fl_store_unmatched_find(tx, "ps_1", "QKL9",
	                                         u.fingerprint, &ug),
	                 FL_E_NOT_FOUND);
	memset(u.fingerprint, 0x5a, FL_HASH_LEN);
	snprintf(u.id, sizeof(u.id), "um_3");
	assert_int_equal(fl_store_unmatched_insert(tx, &u), FL_OK);
	snprintf(u.id, sizeof(u.id), "um_4");
	assert_int_equal(fl_store_unmatched_insert(tx, &u), FL_E_CONFLICT);
	assert_int_equal(fl_store_unmatched_find(tx, "ps_1", "QKL9",
	                                         u.fingerprint, &ug),
	                 FL_OK);
	assert_string_equal(ug.id, "um_3");
	assert_memory_equal(ug.fingerprint, u.fingerprint, FL_HASH_LEN);
	assert_int_equal(fl_store_unmatched_get(tx, "tn_1", "um_2", &ug),
	                 FL_OK);
	assert_true(ug.fingerprint[0] == 0 &&
	            ug.fingerprint[FL_HASH_LEN - 1] == 0);
	u.fingerprint[0] ^= 1; /* other content */
	assert_int_equal(fl_store_unmatched_find(tx, "ps_1", "QKL9",
	                                         u.fingerprint, &ug),
	                 FL_E_NOT_FOUND);
	assert_int_equal(fl_store_unmatched_insert(tx, &u), FL_OK);
	u.fingerprint[0] ^= 1;
	assert_int_equal(fl_store_unmatched_find(tx, "ps_2", "QKL9",
	                                         u.fingerprint, &ug),
	                 FL_E_NOT_FOUND);

	/* a loan reference found ignoring case and spaces */
	add_device(tx, "dv_1", "490154203237518");
	memset(&c, 0, sizeof(c));
	snprintf(c.device_id, sizeof(c.device_id), "dv_1");
	snprintf(c.tenant_id, sizeof(c.tenant_id), "tn_1");
	snprintf(c.loan_ref, sizeof(c.loan_ref), "Ln 42a");
	memcpy(c.currency, "KES", 4);
	c.schedule = sched;
	c.n_schedule = 1;
	assert_int_equal(fl_store_contract_insert(tx, &c), FL_OK);
	assert_int_equal(fl_store_contract_by_ref(tx, "tn_1", "ln42a", dev),
	                 FL_OK);
	assert_string_equal(dev, "dv_1");
	assert_int_equal(fl_store_contract_by_ref(tx, "tn_2", "ln42a", dev),
	                 FL_E_NOT_FOUND);
	assert_string_equal(dev, "");
	/* and unique that way in a tenant (the store says so, whatever
	 * the caller checked); no loan reference is no reference */
	add_device(tx, "dv_2", "356938035643809");
	snprintf(c.device_id, sizeof(c.device_id), "dv_2");
	snprintf(c.loan_ref, sizeof(c.loan_ref), "LN42 A");
	assert_int_equal(fl_store_contract_insert(tx, &c), FL_E_CONFLICT);
	snprintf(c.tenant_id, sizeof(c.tenant_id), "tn_2");
	assert_int_equal(fl_store_contract_insert(tx, &c), FL_OK);
	add_device(tx, "dv_3", "353456789012348");
	add_device(tx, "dv_4", "860000000000004");
	snprintf(c.tenant_id, sizeof(c.tenant_id), "tn_1");
	c.loan_ref[0] = '\0';
	snprintf(c.device_id, sizeof(c.device_id), "dv_3");
	assert_int_equal(fl_store_contract_insert(tx, &c), FL_OK);
	snprintf(c.device_id, sizeof(c.device_id), "dv_4");
	assert_int_equal(fl_store_contract_insert(tx, &c), FL_OK);
	assert_int_equal(fl_store_contract_by_ref(tx, "tn_1", "", dev),
	                 FL_E_NOT_FOUND);
	snprintf(c.tenant_id, sizeof(c.tenant_id), "tn_1");

	/* pending releases: one per device */
	memset(&pr, 0, sizeof(pr));
	snprintf(pr.device_id, sizeof(pr.device_id), "dv_1");
	snprintf(pr.tenant_id, sizeof(pr.tenant_id), "tn_1");
	snprintf(pr.payment_id, sizeof(pr.payment_id), "py_1");
	pr.created_at = 3000;
	assert_int_equal(fl_store_pending_release_put(tx, &pr), FL_OK);
	snprintf(pr.payment_id, sizeof(pr.payment_id), "py_2");
	assert_int_equal(fl_store_pending_release_put(tx, &pr), FL_OK);
	assert_int_equal(fl_store_pending_release_get(tx, "dv_1", &prg), FL_OK);
	assert_string_equal(prg.payment_id, "py_2");
	assert_int_equal(fl_store_pending_release_drop(tx, "dv_1"), FL_OK);
	assert_int_equal(fl_store_pending_release_drop(tx, "dv_1"),
	                 FL_E_NOT_FOUND);
	assert_int_equal(fl_store_pending_release_get(tx, "dv_1", &prg),
	                 FL_E_NOT_FOUND);

	/* lock holds: standing until their end or their release */
	memset(&h, 0, sizeof(h));
	snprintf(h.id, sizeof(h.id), "lh_1");
	snprintf(h.tenant_id, sizeof(h.tenant_id), "tn_1");
	snprintf(h.kind, sizeof(h.kind), "freeze");
	h.until = 5000;
	snprintf(h.reason, sizeof(h.reason), "feed outage");
	h.created_at = 4000;
	snprintf(h.created_by, sizeof(h.created_by), "ak_1");
	assert_int_equal(fl_store_hold_insert(tx, &h), FL_OK);
	memset(&hg, 0, sizeof(hg));
	assert_int_equal(fl_store_hold_list(tx, "tn_1", 4500, 10, keep_hold,
	                                    &hg),
	                 FL_OK);
	assert_string_equal(hg.id, "lh_1");
	memset(&hg, 0, sizeof(hg));
	assert_int_equal(fl_store_hold_list(tx, "tn_1", 5000, 10, keep_hold,
	                                    &hg),
	                 FL_OK);
	assert_string_equal(hg.id, "");
	h.until = 6000;
	assert_int_equal(fl_store_hold_extend(tx, &h), FL_OK);
	assert_int_equal(fl_store_hold_list(tx, NULL, 5000, 10, keep_hold,
	                                    &hg),
	                 FL_OK);
	assert_int_equal(hg.until, 6000);
	assert_int_equal(fl_store_hold_release(tx, "tn_1", "lh_1", 4600,
	                                       "ak_2"),
	                 FL_OK);
	assert_int_equal(fl_store_hold_release(tx, "tn_1", "lh_1", 4700,
	                                       "ak_2"),
	                 FL_E_STATE);
	assert_int_equal(fl_store_hold_release(tx, "tn_2", "lh_1", 4700,
	                                       "ak_2"),
	                 FL_E_NOT_FOUND);
	memset(&hg, 0, sizeof(hg));
	assert_int_equal(fl_store_hold_list(tx, "tn_1", 4800, 10, keep_hold,
	                                    &hg),
	                 FL_OK);
	assert_string_equal(hg.id, "");
	assert_int_equal(fl_store_hold_list(tx, "tn_1", 0, 10, keep_hold, &hg),
	                 FL_OK);
	assert_int_equal(hg.released_at, 4600);
	assert_string_equal(hg.released_by, "ak_2");
	assert_int_equal(fl_tx_commit(tx), FL_OK);
}

/* One of two nodes of test_pg_two_nodes: claims request counters of one
 * device, and appends to one audit chain under its lock, racing the
 * other node. */
struct node {
	struct fl_store *st;
	pthread_barrier_t *go;
	int claimed[40]; /* 1 where this node's claim of counter i won */
	int appended;
	fl_err err;
};

static void *run_node(void *arg)
{
	struct node *n = arg;
	struct fl_audit_entry *e = calloc(1, sizeof(*e));

	if (e == NULL) {
		n->err = FL_E_NOMEM;
		return NULL;
	}
	for (int i = 1; i < 40 && n->err == FL_OK; i++) {
		struct fl_tx *tx = NULL;
		fl_err err;

		pthread_barrier_wait(n->go);
		if ((n->err = fl_store_begin(n->st, true, &tx)) != FL_OK)
			break;
		err = fl_store_dp_claim(tx, "dv_1", (uint64_t)i);
		if (err == FL_OK)
			n->err = fl_tx_commit(tx);
		else
			fl_tx_rollback(tx);
		if (err == FL_OK && n->err == FL_OK)
			n->claimed[i] = 1;
		else if (err != FL_E_REPLAY)
			n->err = err;
	}
	for (int i = 0; i < 25 && n->err == FL_OK; i++) {
		struct fl_tx *tx = NULL;
		int64_t seq;
		uint8_t head[FL_HASH_LEN];

		if ((n->err = fl_store_begin(n->st, true, &tx)) != FL_OK)
			break;
		n->err = fl_store_lock_chain(tx, "tn_1");
		if (n->err == FL_OK)
			n->err = fl_store_audit_head(tx, "tn_1", &seq, head);
		if (n->err == FL_OK) {
			memset(e, 0, sizeof(*e));
			snprintf(e->chain, sizeof(e->chain), "tn_1");
			e->seq = seq + 1;
			memcpy(e->prev_hash, head, FL_HASH_LEN);
			memset(e->hash, (int)(seq + 1), FL_HASH_LEN);
			n->err = fl_store_audit_append(tx, e);
		}
		if (n->err == FL_OK)
			n->err = fl_tx_commit(tx);
		else
			fl_tx_rollback(tx);
		if (n->err == FL_OK)
			n->appended++;
	}
	free(e);
	return NULL;
}

static fl_err check_link(void *ctx, const struct fl_audit_entry *e)
{
	int64_t *next = ctx;

	if (e->seq != *next || e->prev_hash[0] != (uint8_t)((e->seq - 1) & 0xff))
		return FL_E_CORRUPT;
	(*next)++;
	return FL_OK;
}

/* Two nodes on one database: a request counter is applied by exactly one
 * of them, and appends to one audit chain under its lock make one
 * unbroken chain. */
static void test_pg_two_nodes(void **state)
{
	struct fx *f = *state;
	struct node a = {0}, b = {0};
	pthread_barrier_t go;
	pthread_t ta, tb;
	struct fl_tx *tx = begin(f, true);
	int64_t next = 1;

	add_device(tx, "dv_1", "490154203237518");
	assert_int_equal(fl_tx_commit(tx), FL_OK);
	pthread_barrier_init(&go, NULL, 2);
	a.go = b.go = &go;
	a.st = f->st;
	assert_int_equal(open_again(f, &b.st, true), FL_OK);
	assert_int_equal(pthread_create(&ta, NULL, run_node, &a), 0);
	assert_int_equal(pthread_create(&tb, NULL, run_node, &b), 0);
	assert_int_equal(pthread_join(ta, NULL), 0);
	assert_int_equal(pthread_join(tb, NULL), 0);
	pthread_barrier_destroy(&go);
	assert_int_equal(a.err, FL_OK);
	assert_int_equal(b.err, FL_OK);
	for (int i = 1; i < 40; i++)
		assert_int_equal(a.claimed[i] + b.claimed[i], 1);
	assert_int_equal(a.appended + b.appended, 50);
	tx = begin(f, false);
	assert_int_equal(fl_store_audit_list(tx, "tn_1", 0, -1, NULL,
	                                     check_link, &next),
	                 FL_OK);
	fl_tx_rollback(tx);
	assert_int_equal(next, 51);
	fl_store_close(b.st);
}

/* A session asking for commits that are not flushed (a role's or the
 * connection string's synchronous_commit = off) is raised to on, and
 * works. (The refusal of a server running with fsync off cannot be shown
 * here: the test cluster runs with -c fsync=on, which ALTER SYSTEM cannot
 * override.) */
static void test_pg_durability(void **state)
{
	struct fx *f = *state;
	struct fl_store *st = NULL;
	struct fl_tx *tx;
	char uri[300];

	snprintf(uri, sizeof(uri), "%s%%20-csynchronous_commit%%3Doff",
	         f->uri);
	assert_int_equal(fl_store_open_pg(&st, uri, NULL), FL_OK);
	assert_int_equal(fl_store_begin(st, true, &tx), FL_OK);
	assert_int_equal(fl_store_lock_device(tx, "dv_1"), FL_OK);
	assert_int_equal(fl_tx_commit(tx), FL_OK);
	fl_store_close(st);
	/* a connection string libpq cannot read is refused, in its words */
	assert_int_equal(fl_store_open_pg(&st, "postgresql://[bad", NULL),
	                 FL_E_INVALID);
	assert_null(st);
	assert_non_null(strstr(fl_store_errmsg(), "postgresql: "));
}

/* Tests that hold for every backend. */
#define NEUTRAL(setup)                                                         \
	T(test_backend_message, setup, teardown),                              \
	        T(test_keys_fingerprint, setup, teardown),                     \
	        T(test_migrations, setup, teardown),                           \
	        T(test_newer_schema_refused, setup, teardown),                 \
	        T(test_tenants_commit_rollback, setup, teardown),              \
	        T(test_tenant_list_cursor, setup, teardown),                   \
	        T(test_apikeys_scoped, setup, teardown),                       \
	        T(test_idempotency_records, setup, teardown),                  \
	        T(test_audit_entries, setup, teardown),                        \
	        T(test_writers_serialise, setup, teardown),                    \
	        T(test_device_counts, setup, teardown),                        \
	        T(test_device_list_orders, setup, teardown),                   \
	        T(test_device_counts_concurrent, setup, teardown),             \
	        T(test_device_next_change, setup, teardown),                   \
	        T(test_sweep_batch, setup, teardown),                          \
	        T(test_factory_key, setup, teardown),                          \
	        T(test_webhooks, setup, teardown),                             \
	        T(test_state_changes, setup, teardown),                        \
	        T(test_portfolio_reads, setup, teardown),                      \
	        T(test_portfolio_loans, setup, teardown),                      \
	        T(test_pairing_requests, setup, teardown),                     \
	        T(test_device_load, setup, teardown),                          \
	        T(test_dp_claim, setup, teardown),                             \
	        T(test_every_op, setup, teardown),                             \
	        T(test_payment_sources, setup, teardown),                      \
	        T(test_feed, setup, teardown)

int main(void)
{
	const struct CMUnitTest sqlite_tests[] = {
	        NEUTRAL(setup_sqlite),
	        T(test_created_and_must_exist, setup_sqlite, teardown),
	        T(test_lost_wal, setup_sqlite, teardown),
	        T(test_check, setup_sqlite, teardown),
	        T(test_snapshot, setup_sqlite, teardown),
	        T(test_device_counts_seeded, setup_sqlite, teardown),
	        T(test_loan_ref_duplicates_refused, setup_sqlite, teardown),
	};
	const struct CMUnitTest pg_tests[] = {
	        NEUTRAL(setup_pg),
	        T(test_pg_created_and_must_exist, setup_pg, teardown),
	        T(test_pg_migrations_together, setup_pg, teardown),
	        T(test_pg_check_and_snapshot, setup_pg, teardown),
	        T(test_pg_durability, setup_pg, teardown),
	        T(test_pg_two_stores_feed, setup_pg, teardown),
	        T(test_pg_lock_device, setup_pg, teardown),
	        T(test_pg_due_load_skips_locked, setup_pg, teardown),
	        T(test_pg_two_nodes, setup_pg, teardown),
	        T(test_pg_job_claim, setup_pg, teardown),
	        T(test_pg_sqlstate, setup_pg, teardown),
	        T(test_pg_unavailable, setup_pg, teardown),
	};
	int failed;

	failed = cmocka_run_group_tests_name("store on sqlite", sqlite_tests,
	                                     NULL, NULL);
	failed += cmocka_run_group_tests_name("store on postgresql", pg_tests,
	                                      start_cluster, stop_cluster);
	return failed;
}
