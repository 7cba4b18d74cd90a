/*
 * Unit tests for applying the lock decision to stored devices: the state
 * follows payments, reversals, commands and time (through the sweep); the
 * token seq rises exactly when the outcome changes or a sync is forced;
 * an admin release frees the IMEI for good; decision time never runs
 * backwards; a re-decision that changes nothing stores nothing. The
 * sweep on both backends (PostgreSQL: a private cluster, one database per
 * test): a device that cannot be decided holds back no other; two
 * processes sweeping at once decide each due device once; payments
 * recorded while the sweep runs leave every device as its inputs decide
 * it.
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

#include "core/imei.h"
#include "core/crypto.h"
#include "server/app.h"
#include "server/decide.h"
#include "server/log.h"
#include "server/claims.h"
#include "server/tokens.h"
#include "server/metrics.h"
#include "store/store.h"
#include "support/pg_cluster.h"

#define T0 ((fl_time)1800000000) /* 2027-01-15T08:00:00Z */

struct fx {
	char dir[64];
	struct fl_app app;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char path[128];

	if (f == NULL || fl_crypto_init() != FL_OK)
		return -1;
	fl_log_init(stderr, FL_LOG_ERROR);
	snprintf(f->dir, sizeof(f->dir), "/tmp/finlock-decide-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/finlock.db", f->dir);
	if (fl_store_open_sqlite(&f->app.store, path, NULL) != FL_OK ||
	    fl_metrics_new(&f->app.metrics) != FL_OK)
		return -1;
	*state = f;
	return 0;
}

static struct pg_cluster cluster; /* the program's PostgreSQL */
static int n_databases;           /* made so far, for their names */

/* The URI of a new database of the program's cluster. */
static int new_pg_database(char *uri, size_t cap)
{
	char db[32], sql[64];

	if (!cluster.running && pg_cluster_start(&cluster) != 0)
		return -1;
	snprintf(db, sizeof(db), "decide%d", ++n_databases);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", db);
	if (pg_cluster_exec(&cluster, "postgres", sql) != 0)
		return -1;
	pg_cluster_uri(&cluster, db, uri, cap);
	return 0;
}

/* As setup, on a new PostgreSQL database (f->dir stays empty). */
static char pg_uri[256]; /* the last test's database */

static int setup_pg(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL || fl_crypto_init() != FL_OK)
		return -1;
	fl_log_init(stderr, FL_LOG_ERROR);
	snprintf(f->dir, sizeof(f->dir), "/tmp/finlock-decide-XXXXXX");
	if (mkdtemp(f->dir) == NULL ||
	    new_pg_database(pg_uri, sizeof(pg_uri)) != 0)
		return -1;
	if (fl_store_open_pg(&f->app.store, pg_uri, NULL) != FL_OK ||
	    fl_metrics_new(&f->app.metrics) != FL_OK)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	fl_store_close(f->app.store);
	fl_metrics_free(f->app.metrics);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static struct fl_tx *wtx(struct fx *f)
{
	struct fl_tx *tx = NULL;

	assert_int_equal(fl_store_begin(f->app.store, true, &tx), FL_OK);
	return tx;
}

/* A device `id` of tenant "tn_1" with two installments of 1000 due at
 * T0 + 10 days and T0 + 40 days, grace 2 days, reminders 3 days ahead;
 * enrolled when `enrolled`. */
static int64_t make_max_offline; /* max_offline of devices made */

static void make_device_id(struct fx *f, const char *id, const char *imei,
                           bool enrolled)
{
	struct fl_device d;
	struct fl_contract_rec c;
	struct fl_installment items[2] = {{T0 + 10 * FL_DAY, 1000},
	                                  {T0 + 40 * FL_DAY, 1000}};
	uint8_t pk[32] = {1}, kx[32] = {2};
	struct fl_tx *tx = wtx(f);

	memset(&d, 0, sizeof(d));
	snprintf(d.id, sizeof(d.id), "%s", id);
	snprintf(d.tenant_id, sizeof(d.tenant_id), "tn_1");
	snprintf(d.imei, sizeof(d.imei), "%s", imei);
	snprintf(d.serial, sizeof(d.serial), "SN");
	d.created_at = T0;
	assert_int_equal(fl_store_device_insert(tx, &d), FL_OK);
	if (enrolled)
		assert_int_equal(fl_store_device_enroll(tx, id, pk, kx, T0),
		                 FL_OK);
	memset(&c, 0, sizeof(c));
	snprintf(c.device_id, sizeof(c.device_id), "%s", id);
	snprintf(c.tenant_id, sizeof(c.tenant_id), "tn_1");
	memcpy(c.currency, "KES", 4);
	c.grace = 2 * FL_DAY;
	c.max_offline = make_max_offline;
	c.remind[0] = 3 * FL_DAY;
	c.n_remind = 1;
	c.schedule = items;
	c.n_schedule = 2;
	c.created_at = T0;
	assert_int_equal(fl_store_contract_insert(tx, &c), FL_OK);
	assert_int_equal(
	        fl_decide_device(tx, "tn_1", id, T0, false, NULL, NULL), FL_OK);
	assert_int_equal(fl_tx_commit(tx), FL_OK);
}

static void make_device(struct fx *f, const char *imei, bool enrolled)
{
	make_device_id(f, "dv_1", imei, enrolled);
}

static void decide_at(struct fx *f, fl_time now, struct fl_device *d,
                      struct fl_decided *w)
{
	struct fl_tx *tx = wtx(f);

	assert_int_equal(fl_decide_device(tx, "tn_1", "dv_1", now, false, d, w),
	                 FL_OK);
	assert_int_equal(fl_tx_commit(tx), FL_OK);
}

static void pay(struct fx *f, const char *id, int64_t amount, fl_time at)
{
	struct fl_payment_rec p;
	struct fl_tx *tx = wtx(f);

	memset(&p, 0, sizeof(p));
	snprintf(p.id, sizeof(p.id), "%s", id);
	snprintf(p.tenant_id, sizeof(p.tenant_id), "tn_1");
	snprintf(p.device_id, sizeof(p.device_id), "dv_1");
	p.amount = amount;
	p.paid_at = at;
	p.recorded_at = at;
	assert_int_equal(fl_store_payment_insert(tx, &p), FL_OK);
	assert_int_equal(
	        fl_decide_device(tx, "tn_1", "dv_1", at, false, NULL, NULL),
	        FL_OK);
	assert_int_equal(fl_tx_commit(tx), FL_OK);
}

static void command(struct fx *f, enum fl_cmd_kind kind, fl_time now,
                    fl_time at, const char *reason)
{
	struct fl_command_rec c;
	struct fl_tx *tx = wtx(f);

	memset(&c, 0, sizeof(c));
	c.kind = kind;
	c.issued_at = now;
	c.at = at;
	snprintf(c.reason, sizeof(c.reason), "%s", reason);
	assert_int_equal(fl_store_command_insert(tx, "tn_1", "dv_1", &c),
	                 FL_OK);
	assert_int_equal(
	        fl_decide_device(tx, "tn_1", "dv_1", now, false, NULL, NULL),
	        FL_OK);
	assert_int_equal(fl_tx_commit(tx), FL_OK);
}

static void test_pending_until_enrolled(void **state)
{
	struct fx *f = *state;
	struct fl_device d;

	make_device(f, "490154203237518", false);
	decide_at(f, T0 + 20 * FL_DAY, &d, NULL);
	/* overdue, but a phone that never enrolled is pending */
	assert_int_equal(d.st.state, FL_ST_PENDING);
	assert_int_equal(d.st.lock_at, T0 + 12 * FL_DAY);
	assert_int_equal(d.st.amount_due, 1000);
}

static void test_time_payment_reversal(void **state)
{
	struct fx *f = *state;
	struct fl_device d;
	struct fl_decided w;
	uint64_t seq;

	make_device(f, "490154203237518", true);
	decide_at(f, T0, &d, &w);
	assert_int_equal(d.st.state, FL_ST_ACTIVE);
	assert_int_equal(d.st.next_change, T0 + 7 * FL_DAY);
	seq = d.st.token_seq;
	/* nothing changed: the seq stays */
	decide_at(f, T0 + 1, &d, &w);
	assert_false(w.bumped);
	assert_int_equal(d.st.token_seq, seq);
	/* reminders start 3 days before the due date */
	decide_at(f, T0 + 7 * FL_DAY, &d, &w);
	assert_int_equal(d.st.state, FL_ST_REMINDING);
	assert_true(w.bumped);
	assert_true(d.st.token_seq > seq);
	/* locked at due + grace, not a second earlier */
	decide_at(f, T0 + 12 * FL_DAY - 1, &d, &w);
	assert_int_equal(d.st.state, FL_ST_REMINDING);
	decide_at(f, T0 + 12 * FL_DAY, &d, &w);
	assert_int_equal(d.st.state, FL_ST_LOCKED);
	assert_true(w.locked);
	assert_int_equal(d.st.lock_cause, FL_LOCK_OVERDUE);
	assert_int_equal(d.st.amount_due, 1000);
	/* paid: unlocked at once */
	pay(f, "py_1", 1000, T0 + 13 * FL_DAY);
	decide_at(f, T0 + 13 * FL_DAY, &d, &w);
	assert_int_equal(d.st.state, FL_ST_ACTIVE);
	assert_int_equal(d.st.amount_due, 0);
	/* paid through the installment just paid */
	assert_int_equal(d.st.paid_through, T0 + 10 * FL_DAY);
	/* the payment bounces: locked again */
	{
		struct fl_tx *tx = wtx(f);

		assert_int_equal(fl_store_payment_reverse(tx, "tn_1", "py_1",
		                                          T0 + 14 * FL_DAY,
		                                          "bounced", "ak"),
		                 FL_OK);
		assert_int_equal(fl_store_payment_reverse(tx, "tn_1", "py_1",
		                                          T0 + 14 * FL_DAY,
		                                          "again", "ak"),
		                 FL_E_STATE);
		assert_int_equal(fl_tx_commit(tx), FL_OK);
	}
	decide_at(f, T0 + 14 * FL_DAY, &d, &w);
	assert_int_equal(d.st.state, FL_ST_LOCKED);
	/* paid in full: released */
	pay(f, "py_2", 2000, T0 + 15 * FL_DAY);
	decide_at(f, T0 + 15 * FL_DAY, &d, &w);
	assert_int_equal(d.st.state, FL_ST_RELEASED);
	assert_int_equal(d.st.amount_remaining, 0);
	assert_int_equal(d.st.next_change, 0);
}

static void test_commands(void **state)
{
	struct fx *f = *state;
	struct fl_device d;
	struct fl_decided w;

	make_device(f, "490154203237518", true);
	command(f, FL_CMD_LOCK, T0 + 60, 0, "collections");
	decide_at(f, T0 + 60, &d, &w);
	assert_int_equal(d.st.state, FL_ST_LOCKED);
	assert_int_equal(d.st.lock_cause, FL_LOCK_MANUAL);
	command(f, FL_CMD_UNLOCK_UNTIL, T0 + 120, T0 + 5 * FL_DAY, "");
	decide_at(f, T0 + 120, &d, &w);
	assert_int_equal(d.st.state, FL_ST_ACTIVE);
	assert_int_equal(d.st.unlock_until, T0 + 5 * FL_DAY);
	command(f, FL_CMD_STOLEN_SET, T0 + 180, 0, "reported by owner");
	decide_at(f, T0 + 180, &d, &w);
	assert_true(d.st.stolen);
	assert_int_equal(d.st.state, FL_ST_LOCKED);
	command(f, FL_CMD_STOLEN_CLEAR, T0 + 240, 0, "found");
	decide_at(f, T0 + 240, &d, &w);
	assert_false(d.st.stolen);
	/* a scheduled lock */
	command(f, FL_CMD_LOCK_AT, T0 + 300, T0 + 3600, "deadline");
	decide_at(f, T0 + 300, &d, &w);
	assert_int_equal(d.st.state, FL_ST_ACTIVE);
	assert_int_equal(d.st.lock_at, T0 + 3600);
	assert_int_equal(d.st.next_change, T0 + 3600);
	/* the sweep locks it when the time comes, with nobody calling */
	int n = 0;
	assert_int_equal(fl_decide_sweep(&f->app, T0 + 3599, 16, &n), FL_OK);
	assert_int_equal(n, 0);
	assert_int_equal(fl_decide_sweep(&f->app, T0 + 3600, 16, &n), FL_OK);
	assert_int_equal(n, 1);
	{
		struct fl_tx *tx = NULL;

		assert_int_equal(fl_store_begin(f->app.store, false, &tx),
		                 FL_OK);
		assert_int_equal(fl_store_device_get(tx, "tn_1", "dv_1", &d),
		                 FL_OK);
		fl_tx_rollback(tx);
	}
	assert_int_equal(d.st.state, FL_ST_LOCKED);
	assert_int_equal(d.st.lock_cause, FL_LOCK_SCHEDULED);
	/* release: final, and the IMEI may join another program */
	command(f, FL_CMD_RELEASE, T0 + 4000, 0, "");
	decide_at(f, T0 + 4000, &d, &w);
	assert_int_equal(d.st.state, FL_ST_RELEASED);
	assert_true(d.st.released_by_command);
	{
		struct fl_tx *tx = wtx(f);
		struct fl_device d2;

		memset(&d2, 0, sizeof(d2));
		snprintf(d2.id, sizeof(d2.id), "dv_2");
		snprintf(d2.tenant_id, sizeof(d2.tenant_id), "tn_2");
		snprintf(d2.imei, sizeof(d2.imei), "490154203237518");
		assert_int_equal(fl_store_device_insert(tx, &d2), FL_OK);
		assert_int_equal(
		        fl_store_device_by_imei(tx, "490154203237518", &d2),
		        FL_OK);
		assert_string_equal(d2.id, "dv_2");
		assert_int_equal(fl_tx_commit(tx), FL_OK);
	}
}

/* The sweep decides due devices in groups, one transaction each; a device
 * whose inputs cannot be decided is skipped without holding back the
 * others of its group. */
static void test_sweep_groups(void **state)
{
	struct fx *f = *state;
	char id[16], imei[16];
	struct fl_command_rec bad;
	struct fl_device d;
	struct fl_tx *tx;
	int n = -1;

	for (int i = 0; i < 40; i++) {
		snprintf(id, sizeof(id), "dv_%d", i);
		snprintf(imei, sizeof(imei), "35209900%06u",
		         (unsigned)i % 1000000u);
		imei[14] = fl_imei_check_digit(imei);
		imei[15] = '\0';
		make_device_id(f, id, imei, true);
	}
	/* dv_5 gets a command the policy refuses (clearing a stolen report
	 * needs a reason): it cannot be decided */
	memset(&bad, 0, sizeof(bad));
	bad.kind = FL_CMD_STOLEN_CLEAR;
	bad.issued_at = T0 + 60;
	tx = wtx(f);
	assert_int_equal(fl_store_command_insert(tx, "tn_1", "dv_5", &bad),
	                 FL_OK);
	assert_int_equal(fl_tx_commit(tx), FL_OK);

	/* the reminder 3 days before the first due date: all are due */
	assert_int_equal(fl_decide_sweep(&f->app, T0 + 7 * FL_DAY, 64, &n),
	                 FL_OK);
	assert_int_equal(n, 39);
	for (int i = 0; i < 40; i++) {
		snprintf(id, sizeof(id), "dv_%d", i);
		assert_int_equal(fl_store_begin(f->app.store, false, &tx),
		                 FL_OK);
		assert_int_equal(fl_store_device_get(tx, "tn_1", id, &d),
		                 FL_OK);
		fl_tx_rollback(tx);
		assert_int_equal(d.st.state,
		                 i == 5 ? FL_ST_ACTIVE : FL_ST_REMINDING);
	}
}

/* What the sweep hands on for each device whose token it moved
 * (fl_decide_sweep_with): the claims made from it alone equal the claims
 * read from the store after the commit, for every moved device and no
 * other. */
#define MOVED_MAX 16
struct moved_log {
	int n;
	char id[MOVED_MAX][FL_ID_MAX];
	char *json[MOVED_MAX];
};

static void log_moved(void *arg, const struct fl_device *dev,
                      const struct fl_device_inputs *in, fl_time now)
{
	struct moved_log *m = arg;
	struct fl_device_claims c = {0};

	assert_true(m->n < MOVED_MAX);
	snprintf(m->id[m->n], FL_ID_MAX, "%s", dev->id);
	assert_int_equal(fl_claims_of(dev, in, now, now + 7 * FL_DAY, &c),
	                 FL_OK);
	assert_int_equal(fl_claims_encode(&c, &m->json[m->n]), FL_OK);
	fl_claims_clear(&c);
	m->n++;
}

static void test_sweep_moved(void **state)
{
	struct fx *f = *state;
	struct moved_log m;
	fl_time at = T0 + 7 * FL_DAY;
	char id[16], imei[16];
	uint64_t seq[6];
	bool moved_locked = false;
	int n = -1, moved = 0;

	memset(&m, 0, sizeof(m));
	for (int i = 0; i < 6; i++) {
		snprintf(id, sizeof(id), "dv_%d", i);
		snprintf(imei, sizeof(imei), "35209900%06u",
		         (unsigned)i % 1000000u);
		imei[14] = fl_imei_check_digit(imei);
		imei[15] = '\0';
		make_device_id(f, id, imei, i != 4);
	}
	/* dv_1 paid its first installment; a lender's lock of dv_2 at the
	 * instant shows its reason */
	pay(f, "pm_1", 1000, T0 + 3600);
	{
		struct fl_command_rec c;
		struct fl_tx *tx = wtx(f);

		memset(&c, 0, sizeof(c));
		c.kind = FL_CMD_LOCK_AT;
		c.issued_at = T0 + 60;
		c.at = at;
		c.show_reason = true;
		snprintf(c.reason, sizeof(c.reason), "Please call us");
		assert_int_equal(
		        fl_store_command_insert(tx, "tn_1", "dv_2", &c), FL_OK);
		assert_int_equal(fl_decide_device(tx, "tn_1", "dv_2", T0 + 60,
		                                  false, NULL, NULL),
		                 FL_OK);
		assert_int_equal(fl_tx_commit(tx), FL_OK);
	}
	/* dv_3 decided at the instant already: nothing left to move */
	{
		struct fl_tx *tx = wtx(f);

		assert_int_equal(fl_decide_device(tx, "tn_1", "dv_3", at, false,
		                                  NULL, NULL),
		                 FL_OK);
		assert_int_equal(fl_tx_commit(tx), FL_OK);
	}
	for (int i = 0; i < 6; i++) {
		struct fl_device d;
		struct fl_tx *tx = NULL;

		snprintf(id, sizeof(id), "dv_%d", i);
		assert_int_equal(fl_store_begin(f->app.store, false, &tx),
		                 FL_OK);
		assert_int_equal(fl_store_device_get_any(tx, id, &d), FL_OK);
		fl_tx_rollback(tx);
		seq[i] = d.st.token_seq;
	}
	assert_int_equal(fl_decide_sweep_with(&f->app, at, 64, log_moved, &m,
	                                      &n),
	                 FL_OK);
	assert_true(m.n > 0);
	assert_true(m.n <= n);
	/* exactly the devices whose seq moved */
	for (int i = 0; i < 6; i++) {
		struct fl_device d;
		struct fl_tx *tx = NULL;
		bool logged = false;

		snprintf(id, sizeof(id), "dv_%d", i);
		assert_int_equal(fl_store_begin(f->app.store, false, &tx),
		                 FL_OK);
		assert_int_equal(fl_store_device_get_any(tx, id, &d), FL_OK);
		fl_tx_rollback(tx);
		for (int k = 0; k < m.n; k++)
			logged = logged || strcmp(m.id[k], id) == 0;
		assert_int_equal(logged, d.st.token_seq != seq[i]);
		moved += d.st.token_seq != seq[i];
	}
	assert_int_equal(m.n, moved);
	for (int i = 0; i < m.n; i++) {
		struct fl_device_claims c = {0};
		struct fl_device d;
		struct fl_tx *tx = NULL;
		char *json = NULL;

		assert_string_not_equal(m.id[i], "dv_3");
		assert_int_equal(fl_store_begin(f->app.store, false, &tx),
		                 FL_OK);
		assert_int_equal(fl_store_device_get_any(tx, m.id[i], &d),
		                 FL_OK);
		assert_int_equal(fl_claims_build(tx, &d, at, at + 7 * FL_DAY,
		                                 &c),
		                 FL_OK);
		fl_tx_rollback(tx);
		assert_int_equal(fl_claims_encode(&c, &json), FL_OK);
		assert_string_equal(m.json[i], json);
		if (strcmp(m.id[i], "dv_2") == 0) {
			assert_int_equal(d.st.state, FL_ST_LOCKED);
			assert_non_null(strstr(json, "Please call us"));
			moved_locked = true;
		}
		fl_claims_clear(&c);
		free(json);
		free(m.json[i]);
	}
	/* the reminder moved dv_0 and dv_5, the lock dv_2 (dv_1 paid, the
	 * unenrolled dv_4's token carries no reminder, dv_3 was decided) */
	assert_int_equal(moved, 3);
	assert_true(moved_locked);
	/* swept again: nothing moves */
	memset(&m, 0, sizeof(m));
	assert_int_equal(fl_decide_sweep_with(&f->app, at, 64, log_moved, &m,
	                                      &n),
	                 FL_OK);
	assert_int_equal(m.n, 0);
}

static void stored(struct fx *f, struct fl_device *d)
{
	struct fl_tx *tx = NULL;

	assert_int_equal(fl_store_begin(f->app.store, false, &tx), FL_OK);
	assert_int_equal(fl_store_device_get(tx, "tn_1", "dv_1", d), FL_OK);
	fl_tx_rollback(tx);
}

/* A re-decision that leaves the status as stored writes nothing:
 * decided_at stays the instant the status last changed, the seq stays,
 * and what the caller gets is what is stored. The next change is
 * stored with its own instant. */
static void test_unchanged_not_written(void **state)
{
	struct fx *f = *state;
	struct fl_device d, s;
	struct fl_decided w;
	uint64_t seq;

	make_device(f, "490154203237518", true);
	stored(f, &s);
	assert_int_equal(s.st.decided_at, T0);
	seq = s.st.token_seq;
	decide_at(f, T0 + 3600, &d, &w);
	assert_false(w.bumped);
	assert_int_equal(d.st.decided_at, T0);
	assert_int_equal(d.st.token_seq, seq);
	stored(f, &s);
	assert_int_equal(s.st.decided_at, T0);
	assert_int_equal(s.st.token_seq, seq);
	assert_int_equal(s.st.next_change, d.st.next_change);
	/* the sweep before the reminder finds nothing to do */
	int n = -1;
	assert_int_equal(fl_decide_sweep(&f->app, T0 + 7 * FL_DAY - 1, 16, &n),
	                 FL_OK);
	assert_int_equal(n, 0);
	/* the reminder is a change: stored, with its instant */
	assert_int_equal(fl_decide_sweep(&f->app, T0 + 7 * FL_DAY, 16, &n),
	                 FL_OK);
	assert_int_equal(n, 1);
	stored(f, &s);
	assert_int_equal(s.st.state, FL_ST_REMINDING);
	assert_int_equal(s.st.decided_at, T0 + 7 * FL_DAY);
	assert_int_equal(s.st.token_seq, seq + 1);
	/* a second on, the reminder is past: its next change moves (a
	 * change stored, the token the same) */
	decide_at(f, T0 + 7 * FL_DAY + 60, &d, &w);
	assert_false(w.bumped);
	stored(f, &s);
	assert_int_equal(s.st.decided_at, T0 + 7 * FL_DAY + 60);
	/* deciding again later changes nothing, and a forced sync is
	 * stored although nothing else changed */
	decide_at(f, T0 + 7 * FL_DAY + 120, &d, &w);
	assert_false(w.bumped);
	assert_int_equal(d.st.decided_at, T0 + 7 * FL_DAY + 60);
	stored(f, &s);
	assert_int_equal(s.st.decided_at, T0 + 7 * FL_DAY + 60);
	{
		struct fl_tx *tx = wtx(f);

		assert_int_equal(fl_decide_device(tx, "tn_1", "dv_1",
		                                  T0 + 7 * FL_DAY + 180, true,
		                                  &d, &w),
		                 FL_OK);
		assert_int_equal(fl_tx_commit(tx), FL_OK);
	}
	assert_true(w.bumped);
	stored(f, &s);
	assert_int_equal(s.st.token_seq, seq + 2);
	assert_int_equal(s.st.decided_at, T0 + 7 * FL_DAY + 180);
}

/* Contact that moves an offline-driven lock_at later is stored lazily,
 * by the rule the check-in path follows (fl_decide_contact_due): not
 * within half the time to lock_at (at most an hour) of the decision, and
 * at once after it; never when anything else changed. */
static void test_offline_lock_at_lazy(void **state)
{
	struct fx *f = *state;
	struct fl_device d, s;
	struct fl_decided w;
	struct fl_tx *tx;
	uint64_t seq;
	fl_time lock_at;

	/* at most a day offline */
	make_max_offline = FL_DAY;
	make_device(f, "490154203237518", true);
	make_max_offline = 0;
	tx = wtx(f);
	assert_int_equal(fl_store_device_touch(tx, "dv_1", T0, 1), FL_OK);
	assert_int_equal(
	        fl_decide_device(tx, "tn_1", "dv_1", T0, false, &d, &w), FL_OK);
	assert_int_equal(fl_tx_commit(tx), FL_OK);
	assert_int_equal(d.st.lock_cause, FL_LOCK_OFFLINE);
	assert_int_equal(d.st.lock_at, T0 + FL_DAY);
	seq = d.st.token_seq;
	lock_at = d.st.lock_at;

	/* ten minutes on, contact: the stored decision stands */
	tx = wtx(f);
	assert_int_equal(fl_store_device_touch(tx, "dv_1", T0 + 600, 2), FL_OK);
	assert_int_equal(fl_tx_commit(tx), FL_OK);
	decide_at(f, T0 + 600, &d, &w);
	assert_false(w.bumped);
	stored(f, &s);
	assert_int_equal(s.st.lock_at, lock_at);
	assert_int_equal(s.st.token_seq, seq);
	assert_int_equal(s.st.decided_at, T0);

	/* a payment is another change: stored at once, new lock_at too */
	pay(f, "pm_1", 100, T0 + 700);
	stored(f, &s);
	assert_int_equal(s.st.token_seq, seq + 1);
	assert_int_equal(s.st.lock_at, T0 + 600 + FL_DAY);
	seq = s.st.token_seq;
	lock_at = s.st.lock_at;

	/* contact an hour after that decision: moved */
	tx = wtx(f);
	assert_int_equal(fl_store_device_touch(tx, "dv_1", T0 + 700 + 3600, 3),
	                 FL_OK);
	assert_int_equal(fl_tx_commit(tx), FL_OK);
	decide_at(f, T0 + 700 + 3599, &d, &w);
	assert_false(w.bumped);
	assert_int_equal(d.st.lock_at, lock_at);
	decide_at(f, T0 + 700 + 3600, &d, &w);
	assert_true(w.bumped);
	stored(f, &s);
	assert_int_equal(s.st.lock_at, T0 + 700 + 3600 + FL_DAY);
	assert_int_equal(s.st.token_seq, seq + 1);

	/* no contact: the sweep locks at the stored lock_at */
	{
		int n = -1;

		assert_int_equal(fl_decide_sweep(&f->app, s.st.lock_at, 16, &n),
		                 FL_OK);
		assert_int_equal(n, 1);
	}
	stored(f, &s);
	assert_int_equal(s.st.state, FL_ST_LOCKED);
}

static void test_imei_claims(void **state)
{
	struct fx *f = *state;
	struct fl_device d;
	struct fl_tx *tx;

	make_device(f, "490154203237518", false);
	tx = wtx(f);
	memset(&d, 0, sizeof(d));
	snprintf(d.id, sizeof(d.id), "dv_x");
	snprintf(d.tenant_id, sizeof(d.tenant_id), "tn_other");
	snprintf(d.imei, sizeof(d.imei), "356938035643809");
	/* its second IMEI is the first device's first */
	snprintf(d.imei2, sizeof(d.imei2), "490154203237518");
	assert_int_equal(fl_store_device_insert(tx, &d), FL_E_IMEI_IN_PROGRAM);
	fl_tx_rollback(tx);
}

static void test_forced_sync_and_clock(void **state)
{
	struct fx *f = *state;
	struct fl_device d;
	struct fl_decided w;
	struct fl_tx *tx;
	uint64_t seq;

	make_device(f, "490154203237518", true);
	decide_at(f, T0 + 100, &d, &w);
	seq = d.st.token_seq;
	tx = wtx(f);
	assert_int_equal(
	        fl_decide_device(tx, "tn_1", "dv_1", T0 + 100, true, &d, &w),
	        FL_OK);
	assert_int_equal(fl_tx_commit(tx), FL_OK);
	assert_true(w.bumped);
	assert_int_equal(d.st.token_seq, seq + 1);
	/* a clock set back does not move the decision back */
	decide_at(f, T0 + 50, &d, &w);
	assert_int_equal(d.st.decided_at, T0 + 100);
	assert_int_equal(fl_decide_now(&d, T0), T0 + 100);
	/* another tenant cannot decide this device */
	tx = wtx(f);
	assert_int_equal(fl_decide_device(tx, "tn_2", "dv_1", T0 + 200, false,
	                                  NULL, NULL),
	                 FL_E_NOT_FOUND);
	fl_tx_rollback(tx);
}

/* The claims of the token finlockd signs for the device as decided at
 * `now`. The caller clears them with fl_claims_clear. */
static void claims_at(struct fx *f, fl_time now, struct fl_device *d,
                      struct fl_decided *w, struct fl_device_claims *c)
{
	struct fl_tx *tx = wtx(f);

	assert_int_equal(fl_decide_device(tx, "tn_1", "dv_1", now, false, d, w),
	                 FL_OK);
	assert_int_equal(fl_claims_build(tx, d, now, now + 7 * FL_DAY, c),
	                 FL_OK);
	assert_int_equal(fl_tx_commit(tx), FL_OK);
}

/* A token signed after a reminder's time still carries that reminder for
 * a day, so the phone keeps showing it and a phone enrolling then gets
 * it. */
static void test_token_keeps_past_reminder(void **state)
{
	struct fx *f = *state;
	struct fl_device_claims c = {0};
	struct fl_device d;
	struct fl_decided w;
	int n = 0;

	make_device(f, "490154203237518", true);
	/* the reminder of the first installment is at T0 + 7 days */
	claims_at(f, T0 + 7 * FL_DAY, &d, &w, &c);
	assert_int_equal(c.n_reminders, 2);
	assert_int_equal(c.reminders[0].at, T0 + 7 * FL_DAY);
	fl_claims_clear(&c);
	/* the sweep comes a second later: the reminder stays, nothing to
	 * re-sign */
	assert_int_equal(d.st.next_change, T0 + 7 * FL_DAY + 1);
	claims_at(f, T0 + 7 * FL_DAY + 1, &d, &w, &c);
	assert_false(w.bumped);
	assert_int_equal(c.n_reminders, 2);
	assert_int_equal(c.reminders[0].at, T0 + 7 * FL_DAY);
	assert_string_equal(c.reminders[0].text,
	                    "Installment of KES 10.00 due 2027-01-25");
	assert_int_equal(d.st.next_change, T0 + 8 * FL_DAY);
	fl_claims_clear(&c);
	/* twelve hours on, a new token still carries it */
	claims_at(f, T0 + 7 * FL_DAY + 12 * 3600, &d, &w, &c);
	assert_int_equal(c.n_reminders, 2);
	assert_int_equal(c.reminders[0].at, T0 + 7 * FL_DAY);
	fl_claims_clear(&c);
	/* a day after its time the sweep drops it and re-signs */
	assert_int_equal(fl_decide_sweep(&f->app, T0 + 8 * FL_DAY, 16, &n),
	                 FL_OK);
	assert_int_equal(n, 1);
	claims_at(f, T0 + 8 * FL_DAY, &d, &w, &c);
	assert_int_equal(c.n_reminders, 1);
	assert_int_equal(c.reminders[0].at, T0 + 37 * FL_DAY);
	fl_claims_clear(&c);
}

/* A token signed before the due date carries, as the amount due, what
 * will be due when it locks, so a phone that locks offline at lock_at shows
 * the amount to pay; the lender's view keeps the amount due now. */
static void test_token_amount_due_at_lock(void **state)
{
	struct fx *f = *state;
	struct fl_device_claims c = {0};
	struct fl_device d;
	struct fl_decided w;
	uint64_t seq;

	make_device(f, "490154203237518", true);
	claims_at(f, T0 + 60, &d, &w, &c);
	assert_int_equal(d.st.amount_due, 0);
	assert_int_equal(c.lock_at, T0 + 12 * FL_DAY);
	assert_int_equal(c.amount_due, 1000);
	fl_claims_clear(&c);
	seq = d.st.token_seq;
	/* a part payment lowers it, and the token is re-signed */
	pay(f, "py_1", 400, T0 + 120);
	claims_at(f, T0 + 120, &d, &w, &c);
	assert_int_equal(d.st.amount_due, 0);
	assert_int_equal(c.amount_due, 600);
	assert_true(d.st.token_seq > seq);
	fl_claims_clear(&c);
	/* once due, it is the amount due now */
	claims_at(f, T0 + 10 * FL_DAY, &d, &w, &c);
	assert_int_equal(d.st.amount_due, 600);
	assert_int_equal(c.amount_due, 600);
	fl_claims_clear(&c);
	/* locked: the amount due now */
	claims_at(f, T0 + 12 * FL_DAY, &d, &w, &c);
	assert_int_equal(c.state, FL_ST_LOCKED);
	assert_int_equal(c.amount_due, 600);
	fl_claims_clear(&c);
	/* first installment paid: the next lock and its amount */
	pay(f, "py_2", 600, T0 + 13 * FL_DAY);
	claims_at(f, T0 + 13 * FL_DAY, &d, &w, &c);
	assert_int_equal(d.st.amount_due, 0);
	assert_int_equal(c.lock_at, T0 + 42 * FL_DAY);
	assert_int_equal(c.amount_due, 1000);
	fl_claims_clear(&c);
	/* paid in full: nothing */
	pay(f, "py_3", 1000, T0 + 14 * FL_DAY);
	claims_at(f, T0 + 14 * FL_DAY, &d, &w, &c);
	assert_int_equal(c.lock_at, 0);
	assert_int_equal(c.amount_due, 0);
	fl_claims_clear(&c);
}

/* n devices "<prefix>0".. of tenant tn_1 as make_device_id makes them,
 * in one transaction. */
static void make_many(struct fx *f, const char *prefix, int n)
{
	struct fl_installment items[2] = {{T0 + 10 * FL_DAY, 1000},
	                                  {T0 + 40 * FL_DAY, 1000}};
	uint8_t pk[32] = {1}, kx[32] = {2};
	struct fl_tx *tx = wtx(f);

	for (int i = 0; i < n; i++) {
		struct fl_device d;
		struct fl_contract_rec c;
		char imei[16];

		memset(&d, 0, sizeof(d));
		snprintf(d.id, sizeof(d.id), "%s%04d", prefix, i);
		snprintf(d.tenant_id, sizeof(d.tenant_id), "tn_1");
		snprintf(imei, sizeof(imei), "35209901%06u", (unsigned)i);
		imei[14] = fl_imei_check_digit(imei);
		imei[15] = '\0';
		memcpy(d.imei, imei, sizeof(imei));
		snprintf(d.serial, sizeof(d.serial), "SN");
		d.created_at = T0;
		assert_int_equal(fl_store_device_insert(tx, &d), FL_OK);
		assert_int_equal(fl_store_device_enroll(tx, d.id, pk, kx, T0),
		                 FL_OK);
		memset(&c, 0, sizeof(c));
		snprintf(c.device_id, sizeof(c.device_id), "%s", d.id);
		snprintf(c.tenant_id, sizeof(c.tenant_id), "tn_1");
		memcpy(c.currency, "KES", 4);
		c.grace = 2 * FL_DAY;
		c.remind[0] = 3 * FL_DAY;
		c.n_remind = 1;
		c.schedule = items;
		c.n_schedule = 2;
		c.created_at = T0;
		assert_int_equal(fl_store_contract_insert(tx, &c), FL_OK);
		assert_int_equal(fl_decide_device(tx, "tn_1", d.id, T0, false,
		                                  NULL, NULL),
		                 FL_OK);
	}
	assert_int_equal(fl_tx_commit(tx), FL_OK);
}

static void get_device(struct fl_store *st, const char *id,
                       struct fl_device *d)
{
	struct fl_tx *tx = NULL;

	assert_int_equal(fl_store_begin(st, false, &tx), FL_OK);
	assert_int_equal(fl_store_device_get(tx, "tn_1", id, d), FL_OK);
	fl_tx_rollback(tx);
}

/* One process's sweep rounds (as the server's loop runs them), until
 * nothing is due at `now` any more. */
struct sweeper {
	struct fl_app *app;
	fl_time now;
	int decided; /* devices this process decided */
	fl_err err;
};

static void *sweep_rounds(void *arg)
{
	struct sweeper *s = arg;
	struct fl_tx *tx = NULL;
	fl_time next = 0;

	for (int round = 0; round < 2000; round++) {
		int n = 0;

		s->err = fl_decide_sweep(s->app, s->now, 1024, &n);
		if (s->err != FL_OK)
			return NULL;
		s->decided += n;
		if (n > 0)
			continue;
		/* nothing this round: another process holds the job, or
		 * nothing is left */
		s->err = fl_store_begin(s->app->store, false, &tx);
		if (s->err != FL_OK)
			return NULL;
		s->err = fl_store_device_next_change(tx, 0, &next);
		fl_tx_rollback(tx);
		if (s->err != FL_OK || next == 0 || next > s->now)
			return NULL;
		usleep(1000);
	}
	return NULL;
}

/* Two processes (two stores on one PostgreSQL database) sweep the same
 * due devices at once, over several groups each: every device is decided
 * by exactly one of them (the job is claimed before the due list is
 * read), and once. */
static void test_pg_two_sweepers(void **state)
{
	struct fx *f = *state;
	struct fl_app other;
	struct sweeper a, b;
	pthread_t ta, tb;
	struct fl_device d;
	const int n = 2300; /* three groups and a part */
	char id[16];

	memset(&other, 0, sizeof(other));
	assert_int_equal(fl_store_open_pg(&other.store, pg_uri, NULL), FL_OK);
	assert_int_equal(fl_metrics_new(&other.metrics), FL_OK);
	make_many(f, "dv_", n);
	/* the reminder 3 days before the first due date: all are due */
	a = (struct sweeper){&f->app, T0 + 7 * FL_DAY, 0, FL_OK};
	b = (struct sweeper){&other, T0 + 7 * FL_DAY, 0, FL_OK};
	assert_int_equal(pthread_create(&ta, NULL, sweep_rounds, &a), 0);
	assert_int_equal(pthread_create(&tb, NULL, sweep_rounds, &b), 0);
	assert_int_equal(pthread_join(ta, NULL), 0);
	assert_int_equal(pthread_join(tb, NULL), 0);
	assert_int_equal(a.err, FL_OK);
	assert_int_equal(b.err, FL_OK);
	/* each device once, by one of them */
	assert_int_equal(a.decided + b.decided, n);
	for (int i = 0; i < n; i += 97) {
		snprintf(id, sizeof(id), "dv_%04d", i);
		get_device(f->app.store, id, &d);
		assert_int_equal(d.st.state, FL_ST_REMINDING);
		assert_int_equal(d.st.token_seq, 2);
		assert_true(d.st.next_change > T0 + 7 * FL_DAY);
		/* and its state's history, stored with the group */
		{
			struct fl_state_change c;
			struct fl_tx *tx = NULL;

			assert_int_equal(
			        fl_store_begin(f->app.store, false, &tx), FL_OK);
			assert_int_equal(fl_store_state_change_last(tx, id, &c),
			                 FL_OK);
			fl_tx_rollback(tx);
			assert_int_equal(c.from, FL_ST_ACTIVE);
			assert_int_equal(c.to, FL_ST_REMINDING);
			assert_int_equal(c.token_seq, 2);
			assert_int_equal(c.at, T0 + 7 * FL_DAY);
			assert_string_equal(c.tenant_id, "tn_1");
		}
	}
	fl_store_close(other.store);
	fl_metrics_free(other.metrics);
}

/* Payments recorded (another process, each locking its device) while
 * the sweep decides the same devices: afterwards every device is stored
 * as its inputs decide it (a fresh decision changes nothing), its seq
 * moved at least once for the reminder and once per payment that changed
 * its outcome, and nothing due is left. */
struct payer {
	struct fl_store *st;
	int n;      /* devices */
	int paid;   /* payments recorded */
	fl_err err;
};

static void *pay_rounds(void *arg)
{
	struct payer *p = arg;

	for (int i = 0; i < p->n; i += 3) {
		struct fl_payment_rec pay;
		struct fl_tx *tx = NULL;
		fl_time at = T0 + 7 * FL_DAY;

		memset(&pay, 0, sizeof(pay));
		snprintf(pay.id, sizeof(pay.id), "py_%04d", i);
		snprintf(pay.tenant_id, sizeof(pay.tenant_id), "tn_1");
		snprintf(pay.device_id, sizeof(pay.device_id), "dv_%04d", i);
		pay.amount = 1000; /* the first installment */
		pay.paid_at = at;
		pay.recorded_at = at;
		for (int attempt = 0; attempt < 6; attempt++) {
			if ((p->err = fl_store_begin(p->st, true, &tx)) != FL_OK)
				return NULL;
			p->err = fl_store_lock_device(tx, pay.device_id);
			if (p->err == FL_OK)
				p->err = fl_store_payment_insert(tx, &pay);
			if (p->err == FL_OK)
				p->err = fl_decide_device(tx, "tn_1",
				                          pay.device_id, at,
				                          false, NULL, NULL);
			if (p->err == FL_OK) {
				p->err = fl_tx_commit(tx);
			} else {
				fl_tx_rollback(tx);
			}
			if (p->err != FL_E_STORE_RETRY)
				break;
		}
		if (p->err != FL_OK)
			return NULL;
		p->paid++;
	}
	return NULL;
}

static void test_pg_payments_race_sweep(void **state)
{
	struct fx *f = *state;
	struct fl_store *other = NULL;
	struct sweeper s;
	struct payer p;
	pthread_t ts, tp;
	const int n = 1500;
	const fl_time now = T0 + 7 * FL_DAY;

	assert_int_equal(fl_store_open_pg(&other, pg_uri, NULL), FL_OK);
	make_many(f, "dv_", n);
	s = (struct sweeper){&f->app, now, 0, FL_OK};
	p = (struct payer){other, n, 0, FL_OK};
	assert_int_equal(pthread_create(&tp, NULL, pay_rounds, &p), 0);
	assert_int_equal(pthread_create(&ts, NULL, sweep_rounds, &s), 0);
	assert_int_equal(pthread_join(tp, NULL), 0);
	assert_int_equal(pthread_join(ts, NULL), 0);
	assert_int_equal(p.err, FL_OK);
	assert_int_equal(s.err, FL_OK);
	assert_int_equal(p.paid, (n + 2) / 3);
	/* what a payment skipped by a sweep round left due, the next takes */
	s.err = FL_OK;
	sweep_rounds(&s);
	assert_int_equal(s.err, FL_OK);
	for (int i = 0; i < n; i++) {
		struct fl_device d;
		struct fl_decided w;
		struct fl_tx *tx = wtx(f);
		char id[16];

		snprintf(id, sizeof(id), "dv_%04d", i);
		assert_int_equal(fl_decide_device(tx, "tn_1", id, now, false, &d,
		                                  &w),
		                 FL_OK);
		fl_tx_rollback(tx);
		/* stored as its inputs decide it at now */
		assert_false(w.bumped);
		assert_int_equal(w.before.state, d.st.state);
		assert_int_equal(w.before.token_seq, d.st.token_seq);
		assert_int_equal(w.before.next_change, d.st.next_change);
		assert_int_equal(w.before.amount_due, d.st.amount_due);
		assert_int_equal(w.before.lock_at, d.st.lock_at);
		assert_int_equal(w.before.decided_at, d.st.decided_at);
		assert_int_equal(memcmp(w.before.outcome, d.st.outcome,
		                        FL_HASH_LEN),
		                 0);
		if (i % 3 == 0) {
			/* paid its first installment: the reminder is
			 * behind it, the next one is weeks away */
			assert_int_equal(d.st.state, FL_ST_ACTIVE);
			assert_true(d.st.token_seq >= 2);
		} else {
			assert_int_equal(d.st.state, FL_ST_REMINDING);
			assert_int_equal(d.st.token_seq, 2);
		}
		assert_true(d.st.next_change > now);
	}
	fl_store_close(other);
}

static void test_pg_sweep_groups(void **state)
{
	test_sweep_groups(state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_pending_until_enrolled,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_time_payment_reversal,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_commands, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_sweep_groups, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_sweep_moved, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_sweep_moved, setup_pg,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_unchanged_not_written,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_offline_lock_at_lazy,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_imei_claims, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_forced_sync_and_clock,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_token_keeps_past_reminder,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_token_amount_due_at_lock,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_pg_sweep_groups, setup_pg,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_pg_two_sweepers,
	                                        setup_pg, teardown),
	        cmocka_unit_test_setup_teardown(test_pg_payments_race_sweep,
	                                        setup_pg, teardown),
	};
	return cmocka_run_group_tests_name("server_decide", tests, NULL, NULL);
}
