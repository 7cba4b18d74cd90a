/*
 * Unit tests for the storage interface on its SQLite backend: migrations,
 * transactions (commit, rollback, persistence across reopen), tenants and
 * keys with tenant scoping, idempotency records, audit entries with
 * filters, and the append-only guard.
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
	const char *sfx[] = {"", "-wal", "-shm"};
	for (size_t i = 0; i < 3; i++) {
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

int main(void)
{
	const struct CMUnitTest tests[] = {
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
	};
	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
