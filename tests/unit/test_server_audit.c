/*
 * Unit tests for the audit chain: hashes chain entries, verify finds a
 * changed, an inserted and a missing entry and a chain cut short after a
 * signed head, and a signed head verifies under the root's trust as a
 * FL_MSG_AUDIT_HEAD token (and as no other kind).
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
#include "core/paserk.h"
#include "core/token.h"
#include "server/app.h"
#include "server/audit.h"
#include "server/log.h"
#include "server/signkeys.h"
#include "store/store.h"

struct fx {
	char dir[64];
	char db[128];
	struct fl_app app;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL || fl_crypto_init() != FL_OK)
		return -1;
	fl_log_init(stderr, FL_LOG_ERROR);
	snprintf(f->dir, sizeof(f->dir), "/tmp/finlock-audit-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->db, sizeof(f->db), "%s/finlock.db", f->dir);
	snprintf(f->app.cfg.data_dir, sizeof(f->app.cfg.data_dir), "%s",
	         f->dir);
	if (fl_store_open_sqlite(&f->app.store, f->db, NULL) != FL_OK ||
	    fl_signkeys_open(&f->app.keys, f->dir, true, 30, 1700000000) !=
	            FL_OK)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	fl_store_close(f->app.store);
	fl_signkeys_free(f->app.keys);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

/* Appends n entries to chain "tn_x". */
static void fill(struct fx *f, int n)
{
	struct fl_tx *tx = NULL;
	char target[16];

	assert_int_equal(fl_store_begin(f->app.store, true, &tx), FL_OK);
	for (int i = 0; i < n; i++) {
		snprintf(target, sizeof(target), "dv_%d", i);
		assert_int_equal(
		        fl_audit_append(tx, "tn_x", "ak_1", 1700000000 + i,
		                        "device.lock", target,
		                        json_pack("{s:i}", "n", i),
		                        json_pack("{s:i}", "n", i + 1)),
		        FL_OK);
	}
	assert_int_equal(fl_tx_commit(tx), FL_OK);
}

static void verify(struct fx *f, struct fl_audit_verdict *v)
{
	struct fl_tx *tx = NULL;

	assert_int_equal(fl_store_begin(f->app.store, false, &tx), FL_OK);
	assert_int_equal(fl_audit_verify(tx, "tn_x", v), FL_OK);
	fl_tx_rollback(tx);
}

/* Runs SQL on the database as an attacker with file access would. */
static void tamper(struct fx *f, const char *sql)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
	                              "DROP TRIGGER audit_no_update;"
	                              "DROP TRIGGER audit_no_delete;",
	                              NULL, NULL, NULL),
	                 SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static void test_intact_chain(void **state)
{
	struct fx *f = *state;
	struct fl_audit_verdict v;

	verify(f, &v); /* empty */
	assert_true(v.ok);
	assert_int_equal(v.entries, 0);
	fill(f, 5);
	verify(f, &v);
	assert_true(v.ok);
	assert_int_equal(v.entries, 5);
	assert_int_equal(v.head_seq, 5);
}

static void test_changed_entry(void **state)
{
	struct fx *f = *state;
	struct fl_audit_verdict v;

	fill(f, 5);
	tamper(f, "UPDATE audit SET after = '{\"n\":99}' WHERE seq = 3;");
	verify(f, &v);
	assert_false(v.ok);
	assert_int_equal(v.bad_seq, 3);
	assert_non_null(strstr(v.problem, "changed"));
}

static void test_changed_entry_rehashed(void **state)
{
	struct fx *f = *state;
	struct fl_audit_verdict v;

	/* Rewriting an entry AND its own hash still breaks the next link. */
	fill(f, 5);
	tamper(f, "UPDATE audit SET actor = 'ak_evil', hash = zeroblob(32) "
	          "WHERE seq = 2;");
	verify(f, &v);
	assert_false(v.ok);
	assert_int_equal(v.bad_seq, 2);
}

static void test_missing_entry(void **state)
{
	struct fx *f = *state;
	struct fl_audit_verdict v;

	fill(f, 5);
	tamper(f, "DELETE FROM audit WHERE seq = 2;");
	verify(f, &v);
	assert_false(v.ok);
	assert_int_equal(v.bad_seq, 2);
	assert_non_null(strstr(v.problem, "missing"));
}

static void test_inserted_entry(void **state)
{
	struct fx *f = *state;
	struct fl_audit_verdict v;

	/* An entry slipped in between 2 and 3: renumbering everything after
	 * it still leaves entry 3's link pointing at the old entry 3's
	 * predecessor. */
	fill(f, 4);
	tamper(f,
	       "UPDATE audit SET seq = seq + 10 WHERE seq >= 3;"
	       "UPDATE audit SET seq = seq - 9 WHERE seq >= 13;"
	       "INSERT INTO audit SELECT chain, 3, at, 'ak_evil', action, "
	       "target, before, after, hash, hash FROM audit WHERE seq = 2;");
	verify(f, &v);
	assert_false(v.ok);
	assert_true(v.bad_seq == 3 || v.bad_seq == 4);
}

static void test_signed_head_and_truncation(void **state)
{
	struct fx *f = *state;
	struct fl_audit_signed_head h;
	struct fl_audit_verdict v;
	char root[FL_PASERK_PUBLIC_SIZE], kid[FL_KID_MAX], *cert = NULL;
	uint8_t root_pk[FL_SIGN_PK_LEN];
	struct fl_trust *t = NULL;
	char *payload = NULL;
	size_t len = 0;
	json_t *j;

	fill(f, 4);
	assert_int_equal(fl_audit_sign_head(&f->app, "tn_x", 1700000100, &h),
	                 FL_OK);
	assert_int_equal(h.seq, 4);

	/* The token verifies under the root's trust as an audit head. */
	assert_int_equal(fl_signkeys_root(f->app.keys, root), FL_OK);
	assert_int_equal(fl_paserk_public_decode(root_pk, root, strlen(root)),
	                 FL_OK);
	assert_int_equal(fl_trust_new(&t, root_pk), FL_OK);
	assert_int_equal(fl_msg_peek_kid(h.token, kid), FL_OK);
	assert_int_equal(fl_signkeys_cert(f->app.keys, kid, &cert), FL_OK);
	assert_int_equal(fl_trust_add_cert(t, cert, 1700000100, NULL), FL_OK);
	assert_int_equal(fl_trust_verify(t, FL_MSG_AUDIT_HEAD, h.token,
	                                 1700000100, &payload, &len),
	                 FL_OK);
	j = json_loadb(payload, len, 0, NULL);
	assert_int_equal(json_integer_value(json_object_get(j, "seq")), 4);
	assert_string_equal(json_string_value(json_object_get(j, "chain")),
	                    "tn_x");
	json_decref(j);
	free(payload);
	/* ... and as no other kind */
	assert_int_not_equal(fl_trust_verify(t, FL_MSG_IMEI_CERT, h.token,
	                                     1700000100, &payload, &len),
	                     FL_OK);
	fl_trust_free(t);
	free(cert);

	verify(f, &v);
	assert_true(v.ok);
	assert_int_equal(v.signed_seq, 4);
	/* More entries after the signed head are fine. */
	fill(f, 2);
	verify(f, &v);
	assert_true(v.ok);
	/* Cutting the chain back below the signed head is caught, even
	 * though every remaining link is intact. */
	tamper(f, "DELETE FROM audit WHERE seq >= 4;");
	verify(f, &v);
	assert_false(v.ok);
	assert_int_equal(v.bad_seq, 4);
	assert_non_null(strstr(v.problem, "signed head"));

	/* The head was exported to a file as well. */
	char path[160], line[4096];
	snprintf(path, sizeof(path), "%s/audit-heads.jsonl", f->dir);
	FILE *fp = fopen(path, "r");
	assert_non_null(fp);
	assert_non_null(fgets(line, sizeof(line), fp));
	assert_non_null(strstr(line, h.token));
	fclose(fp);
}

static void test_sign_all_only_grown(void **state)
{
	struct fx *f = *state;
	int n = -1;

	fill(f, 2);
	assert_int_equal(fl_audit_sign_all(&f->app, 1700000200, &n), FL_OK);
	assert_int_equal(n, 1);
	assert_int_equal(fl_audit_sign_all(&f->app, 1700000201, &n), FL_OK);
	assert_int_equal(n, 0);
	fill(f, 1);
	assert_int_equal(fl_audit_sign_all(&f->app, 1700000202, &n), FL_OK);
	assert_int_equal(n, 1);
}

static void test_hash_covers_every_field(void **state)
{
	struct fl_audit_entry *a = calloc(1, sizeof(*a));
	struct fl_audit_entry *b = calloc(1, sizeof(*b));
	uint8_t ha[FL_HASH_LEN], hb[FL_HASH_LEN];

	(void)state;
	snprintf(a->chain, sizeof(a->chain), "c");
	a->seq = 1;
	a->at = 2;
	snprintf(a->actor, sizeof(a->actor), "x");
	snprintf(a->action, sizeof(a->action), "y");
	fl_audit_hash(a, ha);
	for (int field = 0; field < 8; field++) {
		*b = *a;
		switch (field) {
		case 0:
			b->seq++;
			break;
		case 1:
			b->at++;
			break;
		case 2:
			snprintf(b->chain, sizeof(b->chain), "d");
			break;
		case 3:
			snprintf(b->actor, sizeof(b->actor), "xx");
			break;
		case 4:
			snprintf(b->action, sizeof(b->action), "z");
			break;
		case 5:
			snprintf(b->target, sizeof(b->target), "t");
			break;
		case 6:
			snprintf(b->before, sizeof(b->before), "{}");
			break;
		case 7:
			b->prev_hash[31] = 1;
			break;
		}
		fl_audit_hash(b, hb);
		assert_memory_not_equal(ha, hb, FL_HASH_LEN);
	}
	/* length prefixes: moving a byte between fields changes the hash */
	*b = *a;
	snprintf(b->actor, sizeof(b->actor), "xy");
	b->action[0] = '\0';
	fl_audit_hash(b, hb);
	assert_memory_not_equal(ha, hb, FL_HASH_LEN);
	free(a);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_intact_chain, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_changed_entry, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_changed_entry_rehashed,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_missing_entry, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_inserted_entry, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_signed_head_and_truncation,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_sign_all_only_grown, setup,
	                                        teardown),
	        cmocka_unit_test(test_hash_covers_every_field),
	};
	return cmocka_run_group_tests_name("server_audit", tests, NULL, NULL);
}
