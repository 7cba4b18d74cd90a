/*
 * Unit tests for the storage interface on its SQLite backend: migrations,
 * transactions (commit, rollback, persistence across reopen), tenants and
 * keys with tenant scoping, idempotency records, audit entries with
 * filters, and the append-only guard; devices: counts by state kept
 * through every change, and a device's decision inputs loaded in one
 * call.
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

#include "core/crypto.h"
#include "store/store.h"

struct fx {
	char dir[64];
	char path[128];
	struct fl_store *st;
};

static int setup(void **state)
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

static int teardown(void **state)
{
	struct fx *f = *state;
	char p[160];

	fl_store_close(f->st);
	const char *sfx[] = {"", "-wal", "-shm", "-open", ".copy"};
	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", f->path, sfx[i]);
		unlink(p);
	}
	rmdir(f->dir);
	free(f);
	return 0;
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
	sqlite3 *db;
	char sql[128];

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	snprintf(sql, sizeof(sql), "INSERT INTO schema_version VALUES (%d, 0);",
	         fl_store_schema_latest() + 1);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(fl_store_open_sqlite(&st2, f->path, NULL),
	                 FL_E_STORE_SCHEMA);
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
	assert_int_equal(fl_store_open_sqlite(&f->st, f->path, NULL), FL_OK);
	tx = begin(f, false);
	assert_int_equal(fl_store_tenant_get(tx, "tn_a", &got), FL_OK);
	assert_string_equal(got.name, "Acme");
	assert_int_equal(got.created_at, 1000);
	fl_tx_rollback(tx);
}

/* A failed call leaves SQLite's own words for the log; the next
 * transaction starts without them. */
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
	assert_int_equal(fl_store_tenant_insert(tx, &t), FL_E_CONFLICT);
	assert_non_null(strstr(fl_store_errmsg(), "sqlite: "));
	assert_non_null(strstr(fl_store_errmsg(), "UNIQUE constraint failed"));
	/* a rollback does not replace it */
	fl_tx_rollback(tx);
	assert_non_null(strstr(fl_store_errmsg(), "UNIQUE constraint failed"));
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
	sqlite3 *db;

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
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(db,
	                                  "UPDATE audit SET actor = 'x' "
	                                  "WHERE seq = 1;",
	                                  NULL, NULL, NULL),
	                     SQLITE_OK);
	assert_int_not_equal(
	        sqlite3_exec(db, "DELETE FROM audit;", NULL, NULL, NULL),
	        SQLITE_OK);
	sqlite3_close(db);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_backend_message, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_created_and_must_exist,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_lost_wal, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_check, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_keys_fingerprint, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_snapshot, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_migrations, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_newer_schema_refused,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_tenants_commit_rollback,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_tenant_list_cursor, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_apikeys_scoped, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_idempotency_records, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_audit_entries, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_writers_serialise, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_device_counts, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_device_counts_concurrent,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_device_next_change, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_factory_key, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_pairing_requests, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_device_counts_seeded,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_device_load, setup,
	                                        teardown),
	};
	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
