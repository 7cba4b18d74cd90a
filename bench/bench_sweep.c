/*
 * bench_sweep.c - fills finlockd's own database for the sweep benchmark
 * (3) and the fleet of the check-in benchmark (1), and measures finlockd's
 * full re-decision (3(b), the server half).
 *
 *   bench_sweep fill DATA_DIR TENANT_ID N [--due N_DUE --due-in SECONDS]
 *                    [--enroll K] [--bulk yes] --out DEVICES_FILE
 *   bench_sweep redecide DATA_DIR
 *   bench_sweep watch DATA_DIR DUE_AT TIMEOUT [--database URI]
 *
 * --database URI (fill, watch): finlockd's PostgreSQL database instead of
 * the SQLite file of DATA_DIR (which still holds the keys and secrets);
 * fill's --bulk yes then writes the background fleet by COPY and, without
 * --due, enrolls up to --enroll of it as phones (on SQLite too, in
 * bulk_import) (fresh keys, token seq 1,
 * no stored outcome: the first re-decision moves the seq once, as for the
 * SQLite bulk rows below).
 *
 * fill imports N devices with contracts into the database of finlockd's
 * data directory DATA_DIR (finlockd stopped), through finlockd's own code:
 * the store (src/store: fl_store_device_insert, fl_store_contract_insert)
 * and the decision (src/server/decide.h: fl_decide_device, which calls the
 * policy engine and stores its outcome and token seq, once the contract is
 * in), a thousand devices per transaction. What it skips is the HTTP request
 * per device and its audit entry: registering 100,000 devices through the API
 * takes minutes (every request is its own fsync'd transaction), which `make
 * bench` cannot spend. Devices and contracts are the ones the API would store:
 * one IMEI and a serial, a one-time enrollment code (hashed with the
 * server's key), KES contracts of six monthly installments with grace 3
 * days, reminders 3 and 1 days before, max offline 30 days, the default
 * restrictions.
 *
 * Due dates: the first installment falls uniformly 4 to 365 days ahead, so
 * the fleet's due dates spread over a year and nothing is due during the
 * run. With --due, N_DUE more devices (imported last) have their first
 * installment 3 days after T = the end of the import + SECONDS, so their
 * first reminder - a transition the sweep must make, with a new token -
 * falls exactly at T (printed as due_at=T).
 *
 * --enroll K: up to K devices of the due set (or of the fleet, without
 * --due) are enrolled as phones: fresh Ed25519 and X25519 keys recorded
 * with fl_store_dp_enroll (which also records the first contact) and the
 * device re-decided (as finlockd's
 * enrollment does), and the check-in MAC key derived on the phone's side
 * from the server's public key-exchange key (DATA_DIR/kx.secret holds the
 * pair; only its public half is used). They are written to DEVICES_FILE
 * with the token seq finlockd holds for them, so a wait parks at once.
 *
 * redecide re-decides every device through fl_decide_device, 1,000 per
 * write transaction, and compares it with a plain SQLite scan that reads
 * every row a decision reads (devices, contracts, installments, payments,
 * reschedules, commands); target: at most 3x the scan.
 */
#include <libpq-fe.h>
#include <math.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <unistd.h>

#include "bench.h"
#include "core/imei.h"
#include "core/restrict.h"
#include "server/auth.h"
#include "server/config.h"
#include "server/decide.h"
#include "server/enroll.h"
#include "server/secrets.h"
#include "server/server.h"
#include "store/store.h"

#define BATCH 1000

/* The database of --database URI (PostgreSQL), or NULL: the SQLite file
 * of the data directory. */
static const char *g_database;

static void open_store(const char *dir, struct fl_store **st)
{
	struct fl_config cfg;

	fl_config_defaults(&cfg);
	snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", dir);
	if (g_database != NULL)
		snprintf(cfg.database, sizeof(cfg.database), "%s", g_database);
	if (fl_server_open_store(&cfg, st) != FL_OK)
		bench_die("%s: cannot open finlockd's store", dir);
}

static void begin(struct fl_store *st, struct fl_tx **tx)
{
	if (fl_store_begin(st, true, tx) != FL_OK)
		bench_die("cannot begin a transaction");
}

static void commit(struct fl_tx *tx)
{
	if (fl_tx_commit(tx) != FL_OK)
		bench_die("commit failed");
}

static void imei_for(size_t i, char out[FL_IMEI_LEN + 1])
{
	char d[32];

	/* TACs 35209900, 35209901, ...: a million serials each */
	snprintf(d, sizeof(d), "%08u%06u",
	         (unsigned)(35209900 + i / 1000000 % 100),
	         (unsigned)(i % 1000000));
	memcpy(out, d, 14);
	out[14] = fl_imei_check_digit(d);
	out[15] = '\0';
}

static void contract_for(struct fl_contract_rec *c, const char *tenant,
                         const char *dev, fl_time now, fl_time first,
                         struct fl_installment sched[6])
{
	memset(c, 0, sizeof(*c));
	snprintf(c->device_id, sizeof(c->device_id), "%s", dev);
	snprintf(c->tenant_id, sizeof(c->tenant_id), "%s", tenant);
	c->created_at = now;
	snprintf(c->loan_ref, sizeof(c->loan_ref), "LN-%.40s", dev + 3);
	memcpy(c->currency, "KES", 4);
	c->utc_offset = 3 * 3600;
	c->grace = 3 * FL_DAY;
	c->max_offline = 30 * FL_DAY;
	c->remind[0] = 3 * FL_DAY;
	c->remind[1] = FL_DAY;
	c->n_remind = 2;
	c->restrict_mask = FL_R_DEFAULT_LOCK;
	snprintf(c->message, sizeof(c->message), "%s",
	         "This device is locked due to an overdue installment payment");
	snprintf(c->contact_name, sizeof(c->contact_name), "Bench Finance");
	snprintf(c->contact_phones[0], sizeof(c->contact_phones[0]),
	         "+254700000001");
	c->n_contact_phones = 1;
	c->sim_policy = FL_REACT_NOTIFY;
	c->tamper_policy = FL_REACT_NOTIFY;
	for (int k = 0; k < 6; k++) {
		sched[k].due_at = first + (fl_time)k * 30 * FL_DAY;
		sched[k].amount = 150000;
	}
	c->schedule = sched;
	c->n_schedule = 6;
}

struct importer {
	const char *tenant;
	struct fl_store *st;
	struct fl_secrets sec;
	struct fl_tx *tx;
	fl_time now;
	size_t done;            /* devices imported */
	struct bench_dev *devs; /* enrolled ones */
	size_t n_devs, cap_devs;
};

/* Imports device i whose first installment is due at `first`; enrolls it
 * as a phone when enroll is set. Commits every BATCH devices. */
/* A bulk-imported device enrolled as a phone: its device and key-exchange
 * keys made from the seeds keys[0..63] (whose public halves go into the
 * row), its MAC key derived as finlockd derives it, kept in im's devices
 * file. */
static void bulk_phone(struct importer *im, uint8_t keys[64], const char *id,
                       const char *imei)
{
	uint8_t sk[FL_SIGN_SK_LEN], ksk[FL_KX_SK_LEN];
	uint8_t shared[FL_KX_SESSION_LEN];
	uint8_t oc[FL_DP_OCODE_SECRET_LEN];
	struct bench_dev *dv = &im->devs[im->n_devs++];

	fl_sign_keypair(keys, sk);
	fl_kx_keypair(keys + 32, ksk);
	if (fl_kx_shared(shared, 0, keys + 32, ksk, im->sec.kx_pk) != FL_OK ||
	    fl_dp_derive(shared, dv->mac_key, oc) != FL_OK)
		bench_die("enroll bulk device %s", id);
	snprintf(dv->id, sizeof(dv->id), "%s", id);
	snprintf(dv->imei, sizeof(dv->imei), "%s", imei);
	dv->counter = 0;
	dv->seq = 1;
	fl_wipe(sk, sizeof(sk));
	fl_wipe(ksk, sizeof(ksk));
	fl_wipe(shared, sizeof(shared));
	fl_wipe(oc, sizeof(oc));
}

static void import_one(struct importer *im, size_t i, fl_time first,
                       bool enroll)
{
	struct fl_device d = {0};
	struct fl_contract_rec c;
	struct fl_installment sched[6];
	char code[FL_ENROLL_CODE_LEN + 1];
	fl_err err;

	fl_id_generate(d.id, "dv");
	snprintf(d.tenant_id, sizeof(d.tenant_id), "%s", im->tenant);
	imei_for(i, d.imei);
	snprintf(d.serial, sizeof(d.serial), "SN%09zu", i);
	snprintf(d.model, sizeof(d.model), "Bench Phone");
	d.created_at = im->now;
	d.has_enroll_code = true;
	d.enroll_expires = im->now + 7 * FL_DAY;
	if (fl_enroll_code_new(im->sec.enroll_hash_key, code, d.enroll_hash) !=
	    FL_OK)
		bench_die("enrollment code");
	if ((err = fl_store_device_insert(im->tx, &d)) != FL_OK)
		bench_die("device %zu: %s", i, fl_strerror(err));
	contract_for(&c, im->tenant, d.id, im->now, first, sched);
	if ((err = fl_store_contract_insert(im->tx, &c)) != FL_OK)
		bench_die("contract %zu: %s", i, fl_strerror(err));
	if ((err = fl_decide_device(im->tx, im->tenant, d.id, im->now, false,
	                            NULL, NULL)) != FL_OK)
		bench_die("decide %zu: %s", i, fl_strerror(err));
	if (enroll && im->n_devs < im->cap_devs) {
		uint8_t pk[FL_SIGN_PK_LEN], sk[FL_SIGN_SK_LEN];
		uint8_t kpk[FL_KX_PK_LEN], ksk[FL_KX_SK_LEN];
		uint8_t shared[FL_KX_SESSION_LEN], oc[FL_DP_OCODE_SECRET_LEN];
		struct bench_dev *bd = &im->devs[im->n_devs++];
		struct fl_device after;

		fl_sign_keypair(pk, sk);
		fl_kx_keypair(kpk, ksk);
		if (fl_store_dp_enroll(im->tx, d.id, pk, kpk, im->now) !=
		            FL_OK ||
		    fl_decide_device(im->tx, im->tenant, d.id, im->now, true,
		                     &after, NULL) != FL_OK ||
		    fl_kx_shared(shared, 0, kpk, ksk, im->sec.kx_pk) != FL_OK ||
		    fl_dp_derive(shared, bd->mac_key, oc) != FL_OK)
			bench_die("enroll device %zu", i);
		snprintf(bd->id, sizeof(bd->id), "%s", d.id);
		snprintf(bd->imei, sizeof(bd->imei), "%s", d.imei);
		bd->counter = 0;
		bd->seq = after.st.token_seq;
		fl_wipe(sk, sizeof(sk));
		fl_wipe(ksk, sizeof(ksk));
		fl_wipe(shared, sizeof(shared));
		fl_wipe(oc, sizeof(oc));
	}
	if (++im->done % BATCH == 0) {
		commit(im->tx);
		begin(im->st, &im->tx);
	}
}

/* --- bulk import of the background fleet ---------------------------------
 * The store path above costs ~250 us a device on this machine (SQLite's
 * default page cache against random-key indexes, see BENCHMARKS.md), so a
 * million takes five minutes. The devices that only have to be there - the
 * 99% not due during the run - are written here straight into finlockd's
 * tables in id order, in large transactions with a large cache, as the
 * store would write them after registration, contract and enrollment, with
 * the decision of the same policy engine (fl_policy_decide). What cannot be
 * reproduced without finlockd's decide.c is the token outcome hash: it is
 * left empty (token_seq 1), so the first time finlockd re-decides such a
 * device it moves its seq once. None is re-decided during the sweep
 * benchmark: their next changes are days to a year away. */

/* Every NOT NULL column without a default of the tables written here must
 * be among the ones this code sets; otherwise finlockd's schema moved on
 * and the bulk path refuses (exit 3) rather than write rows the store
 * would not. */
static bool columns_known(sqlite3 *db, const char *table,
                          const char *const *cols)
{
	char sql[128];
	sqlite3_stmt *s = NULL;
	bool ok = true;

	snprintf(sql, sizeof(sql), "PRAGMA table_info(%s)", table);
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		return false;
	while (sqlite3_step(s) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(s, 1);
		bool notnull = sqlite3_column_int(s, 3) != 0;
		bool dflt = sqlite3_column_type(s, 4) != SQLITE_NULL;
		bool pk = sqlite3_column_int(s, 5) != 0;
		bool known = false;

		for (size_t i = 0; cols[i] != NULL && !known; i++)
			known = strcmp(cols[i], name) == 0;
		if (notnull && !dflt && !known &&
		    !(pk && strcmp(name, "ord") == 0)) {
			fprintf(stderr,
			        "bench_sweep: %s.%s is new to the bulk "
			        "import\n",
			        table, name);
			ok = false;
		}
	}
	sqlite3_finalize(s);
	return ok;
}

static int cmp_id(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

static sqlite3_stmt *bprep(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *s = NULL;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		bench_die("%s: %s", sql, sqlite3_errmsg(db));
	return s;
}

static void bstep(sqlite3 *db, sqlite3_stmt *s)
{
	if (sqlite3_step(s) != SQLITE_DONE)
		bench_die("bulk insert: %s", sqlite3_errmsg(db));
	sqlite3_reset(s);
}

static void bexec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		bench_die("%s: %s", sql, msg ? msg : "?");
}

/* Writes devices [0, n) of the background fleet; the first `enroll` of
 * them (at most im->cap_devs) are enrolled as phones, with real keys, as
 * pg_bulk_import does. Returns false when the schema is not the one this
 * code writes. */
static bool bulk_import(const char *dir, struct importer *im, size_t n,
                        size_t enroll)
{
	const char *tenant = im->tenant;
	fl_time now = im->now;
	static const char *const dev_cols[] = {
	        "id",     "tenant_id", "imei",       "imei2",
	        "serial", "model",     "created_at", NULL};
	static const char *const con_cols[] = {"device_id",
	                                       "tenant_id",
	                                       "created_at",
	                                       "loan_ref",
	                                       "currency",
	                                       "utc_offset",
	                                       "grace",
	                                       "max_offline",
	                                       "remind",
	                                       "restrict_mask",
	                                       "allow_apps",
	                                       "message",
	                                       "contact_name",
	                                       "contact_phones",
	                                       "sim_policy",
	                                       "tamper_policy",
	                                       NULL};
	static const char *const inst_cols[] = {"device_id", "resched", "idx",
	                                        "due_at",    "amount",  NULL};
	static const char *const claim_cols[] = {"imei", "device_id", NULL};
	char path[4096];
	char(*ids)[FL_ID_MAX];
	sqlite3 *db = NULL;
	sqlite3_stmt *sd, *sc, *si, *sl;

	snprintf(path, sizeof(path), "%s/finlock.db", dir);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK)
		bench_die("%s: cannot open", path);
	if (!columns_known(db, "devices", dev_cols) ||
	    !columns_known(db, "contracts", con_cols) ||
	    !columns_known(db, "installments", inst_cols) ||
	    !columns_known(db, "imei_claims", claim_cols)) {
		sqlite3_close(db);
		return false;
	}
	bexec(db, "PRAGMA synchronous=OFF; PRAGMA cache_size=-1048576;"
	          "PRAGMA busy_timeout=10000;");
	ids = bench_alloc(n * sizeof(*ids));
	for (size_t i = 0; i < n; i++)
		fl_id_generate(ids[i], "dv");
	qsort(ids, n, sizeof(*ids), cmp_id);

	sd = bprep(db,
	           "INSERT INTO devices (id, tenant_id, imei, imei2, "
	           "serial, model, created_at, enroll_expires, enrolled_at, "
	           "device_pk, kx_pk, last_contact, state, lock_cause, "
	           "lock_at, paid_through, amount_due, amount_remaining, "
	           "next_due_at, next_due_amount, next_change, decided_at, "
	           "token_seq) VALUES (?,?,?,'',?,'Bench Phone',?,0,?,?,?,"
	           "?,?,?,?,?,?,?,?,?,?,?,1)");
	sc = bprep(db,
	           "INSERT INTO contracts (device_id, tenant_id, "
	           "created_at, loan_ref, currency, utc_offset, grace, "
	           "max_offline, remind, restrict_mask, allow_apps, message, "
	           "contact_name, contact_phones, sim_policy, tamper_policy) "
	           "VALUES (?,?,?,?,'KES',10800,259200,2592000,"
	           "'259200,86400',?,'',?,'Bench Finance','+254700000001',"
	           "?,?)");
	si = bprep(db, "INSERT INTO installments (device_id, resched, idx, "
	               "due_at, amount) VALUES (?,0,?,?,150000)");
	sl = bprep(db,
	           "INSERT INTO imei_claims (imei, device_id) VALUES (?,?)");
	bexec(db, "BEGIN IMMEDIATE");
	for (size_t i = 0; i < n; i++) {
		struct fl_contract_rec c;
		struct fl_installment sched[6];
		struct fl_contract pc = {0};
		struct fl_policy_input in = {0};
		struct fl_decision dec;
		char imei[FL_IMEI_LEN + 1], serial[32];
		uint8_t keys[64];
		fl_time first = now + 4 * FL_DAY +
		                (fl_time)fl_random_uniform(361 * 86400);

		imei_for(i, imei);
		snprintf(serial, sizeof(serial), "SN%09zu", i);
		contract_for(&c, tenant, ids[i], now, first, sched);
		memcpy(pc.currency, c.currency, sizeof(pc.currency));
		pc.utc_offset = c.utc_offset;
		pc.schedule = sched;
		pc.n_schedule = 6;
		pc.grace = c.grace;
		pc.max_offline = c.max_offline;
		memcpy(pc.remind, c.remind, sizeof(pc.remind));
		pc.n_remind = c.n_remind;
		in.contract = &pc;
		in.enrolled = true;
		in.last_contact = now;
		in.now = now;
		if (fl_policy_decide(&in, &dec, NULL) != FL_OK)
			bench_die("policy refused bulk device %zu", i);
		fl_random(keys, sizeof(keys));
		if (i < enroll && im->n_devs < im->cap_devs)
			bulk_phone(im, keys, ids[i], imei);

		sqlite3_bind_text(sd, 1, ids[i], -1, SQLITE_STATIC);
		sqlite3_bind_text(sd, 2, tenant, -1, SQLITE_STATIC);
		sqlite3_bind_text(sd, 3, imei, -1, SQLITE_STATIC);
		sqlite3_bind_text(sd, 4, serial, -1, SQLITE_STATIC);
		sqlite3_bind_int64(sd, 5, now);
		sqlite3_bind_int64(sd, 6, now);
		sqlite3_bind_blob(sd, 7, keys, 32, SQLITE_STATIC);
		sqlite3_bind_blob(sd, 8, keys + 32, 32, SQLITE_STATIC);
		sqlite3_bind_int64(sd, 9, now);
		sqlite3_bind_int(sd, 10, (int)dec.state);
		sqlite3_bind_int(sd, 11, (int)dec.lock_cause);
		sqlite3_bind_int64(sd, 12, dec.lock_at);
		sqlite3_bind_int64(sd, 13, dec.paid_through);
		sqlite3_bind_int64(sd, 14, dec.amount_due_now);
		sqlite3_bind_int64(sd, 15, dec.amount_remaining);
		sqlite3_bind_int64(sd, 16, dec.next_due_at);
		sqlite3_bind_int64(sd, 17, dec.next_due_amount);
		sqlite3_bind_int64(sd, 18, dec.next_change);
		sqlite3_bind_int64(sd, 19, now);
		bstep(db, sd);
		sqlite3_bind_text(sl, 1, imei, -1, SQLITE_STATIC);
		sqlite3_bind_text(sl, 2, ids[i], -1, SQLITE_STATIC);
		bstep(db, sl);
		sqlite3_bind_text(sc, 1, ids[i], -1, SQLITE_STATIC);
		sqlite3_bind_text(sc, 2, tenant, -1, SQLITE_STATIC);
		sqlite3_bind_int64(sc, 3, now);
		sqlite3_bind_text(sc, 4, c.loan_ref, -1, SQLITE_STATIC);
		sqlite3_bind_int64(sc, 5, (sqlite3_int64)c.restrict_mask);
		sqlite3_bind_text(sc, 6, c.message, -1, SQLITE_STATIC);
		sqlite3_bind_int(sc, 7, (int)c.sim_policy);
		sqlite3_bind_int(sc, 8, (int)c.tamper_policy);
		bstep(db, sc);
		for (int k = 0; k < 6; k++) {
			sqlite3_bind_text(si, 1, ids[i], -1, SQLITE_STATIC);
			sqlite3_bind_int(si, 2, k);
			sqlite3_bind_int64(si, 3, sched[k].due_at);
			bstep(db, si);
		}
		if ((i + 1) % 100000 == 0)
			bexec(db, "COMMIT; BEGIN IMMEDIATE");
	}
	bexec(db, "COMMIT");
	sqlite3_finalize(sd);
	sqlite3_finalize(sc);
	sqlite3_finalize(si);
	sqlite3_finalize(sl);
	bexec(db, "PRAGMA wal_checkpoint(TRUNCATE)");
	sqlite3_close(db);
	free(ids);
	return true;
}

/* --- bulk import into PostgreSQL ----------------------------------------
 * The same background fleet as bulk_import, for --database: the rows go
 * in by COPY, one table after the other, in one transaction that is
 * "quiet" (finlock.quiet: the change feed's trigger announces nothing;
 * no node runs during the import). Refuses (false) when a NOT NULL
 * column without a default is not among the ones written. */

static PGresult *pq_ok(PGconn *c, PGresult *r, const char *what)
{
	ExecStatusType s = PQresultStatus(r);

	if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK && s != PGRES_COPY_IN)
		bench_die("%s: %s", what, PQerrorMessage(c));
	return r;
}

static void pq_exec(PGconn *c, const char *sql)
{
	PQclear(pq_ok(c, PQexec(c, sql), sql));
}

/* Copy-buffer: rows of COPY text format sent in 256 KiB pieces. */
struct copybuf {
	PGconn *c;
	char buf[1 << 18];
	size_t len;
};

static void cb_flush(struct copybuf *b)
{
	if (b->len && PQputCopyData(b->c, b->buf, (int)b->len) != 1)
		bench_die("COPY: %s", PQerrorMessage(b->c));
	b->len = 0;
}

static void cb_printf(struct copybuf *b, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
static void cb_printf(struct copybuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (sizeof(b->buf) - b->len < 4096)
		cb_flush(b);
	va_start(ap, fmt);
	n = vsnprintf(b->buf + b->len, sizeof(b->buf) - b->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(b->buf) - b->len)
		bench_die("COPY row too long");
	b->len += (size_t)n;
}

static void cb_hex(struct copybuf *b, const uint8_t *p, size_t n)
{
	static const char hx[] = "0123456789abcdef";

	cb_printf(b, "\\\\x");
	for (size_t i = 0; i < n; i++) {
		b->buf[b->len++] = hx[p[i] >> 4];
		b->buf[b->len++] = hx[p[i] & 15];
	}
}

static void cb_begin(struct copybuf *b, const char *sql)
{
	PQclear(pq_ok(b->c, PQexec(b->c, sql), sql));
	b->len = 0;
}

static void cb_end(struct copybuf *b)
{
	PGresult *r;

	cb_flush(b);
	if (PQputCopyEnd(b->c, NULL) != 1)
		bench_die("COPY end: %s", PQerrorMessage(b->c));
	while ((r = PQgetResult(b->c)) != NULL) {
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			bench_die("COPY: %s", PQerrorMessage(b->c));
		PQclear(r);
	}
}

static bool pg_columns_known(PGconn *c)
{
	static const char *const known[] = {"devices.id",
	                                    "devices.tenant_id",
	                                    "devices.imei",
	                                    "devices.imei2",
	                                    "devices.serial",
	                                    "devices.model",
	                                    "devices.created_at",
	                                    "contracts.device_id",
	                                    "contracts.tenant_id",
	                                    "contracts.created_at",
	                                    "contracts.loan_ref",
	                                    "contracts.currency",
	                                    "contracts.utc_offset",
	                                    "contracts.grace",
	                                    "contracts.max_offline",
	                                    "contracts.remind",
	                                    "contracts.restrict_mask",
	                                    "contracts.allow_apps",
	                                    "contracts.message",
	                                    "contracts.contact_name",
	                                    "contracts.contact_phones",
	                                    "contracts.sim_policy",
	                                    "contracts.tamper_policy",
	                                    "installments.device_id",
	                                    "installments.resched",
	                                    "installments.idx",
	                                    "installments.due_at",
	                                    "installments.amount",
	                                    "imei_claims.imei",
	                                    "imei_claims.device_id",
	                                    NULL};
	PGresult *r = pq_ok(
	        c,
	        PQexec(c, "SELECT table_name || '.' || column_name FROM "
	                  "information_schema.columns WHERE table_schema = "
	                  "current_schema() AND table_name IN ('devices', "
	                  "'contracts', 'installments', 'imei_claims') AND "
	                  "is_nullable = 'NO' AND column_default IS NULL "
	                  "AND is_identity = 'NO'"),
	        "columns");
	bool ok = PQntuples(r) > 0;

	for (int i = 0; i < PQntuples(r); i++) {
		const char *col = PQgetvalue(r, i, 0);
		bool k = false;

		for (size_t j = 0; known[j] != NULL && !k; j++)
			k = strcmp(known[j], col) == 0;
		if (!k) {
			fprintf(stderr,
			        "bench_sweep: %s is new to the bulk import\n",
			        col);
			ok = false;
		}
	}
	PQclear(r);
	return ok;
}

/* Devices [0, n) of the background fleet; the first `enroll` of them
 * (at most im->cap_devs) are enrolled as phones, as fl_store_dp_enroll
 * leaves a device (keys, enrolled_at, first contact, no enrollment code),
 * with fresh keys and their MAC keys kept in im->devs (token seq 1).
 * Device i is the fleet's device from + i (IMEI and serial); its first
 * installment falls at first_at, or uniformly 4 to 365 days ahead when
 * first_at is 0. */
static bool pg_bulk_import(const char *uri, struct importer *im, size_t from,
                           size_t n, size_t enroll, fl_time first_at)
{
	const char *tenant = im->tenant;
	fl_time now = im->now;
	struct bulk_dev {
		char id[FL_ID_MAX];
		fl_time first;
		struct fl_decision dec;
	} * bd;
	struct copybuf *b = bench_alloc(sizeof(*b));
	PGconn *c = PQconnectdb(uri);

	if (PQstatus(c) != CONNECTION_OK)
		bench_die("%s: %s", uri, PQerrorMessage(c));
	if (!pg_columns_known(c)) {
		PQfinish(c);
		free(b);
		return false;
	}
	b->c = c;
	bd = bench_alloc(n * sizeof(*bd));
	for (size_t i = 0; i < n; i++) {
		struct fl_contract_rec cr;
		struct fl_installment sched[6];
		struct fl_contract pc = {0};
		struct fl_policy_input in = {0};

		fl_id_generate(bd[i].id, "dv");
		bd[i].first = first_at != 0
		                      ? first_at
		                      : now + 4 * FL_DAY +
		                                (fl_time)fl_random_uniform(
		                                        361 * 86400);
		contract_for(&cr, tenant, bd[i].id, now, bd[i].first, sched);
		memcpy(pc.currency, cr.currency, sizeof(pc.currency));
		pc.utc_offset = cr.utc_offset;
		pc.schedule = sched;
		pc.n_schedule = 6;
		pc.grace = cr.grace;
		pc.max_offline = cr.max_offline;
		memcpy(pc.remind, cr.remind, sizeof(pc.remind));
		pc.n_remind = cr.n_remind;
		in.contract = &pc;
		in.enrolled = true;
		in.last_contact = now;
		in.now = now;
		if (fl_policy_decide(&in, &bd[i].dec, NULL) != FL_OK)
			bench_die("policy refused bulk device %zu", i);
	}
	/* No trigger fires for the rows (session_replication_role, the
	 * benchmark's private server runs as superuser): the change feed has
	 * no node to tell, and the per-row counter trigger is replaced by one
	 * addition per (state, stolen) at the end. */
	pq_exec(c, "BEGIN; SET LOCAL finlock.quiet = 'on'; "
	           "SET LOCAL synchronous_commit = off; "
	           "SET LOCAL session_replication_role = replica; "
	           "CREATE TEMP TABLE bulk_mark ON COMMIT DROP AS "
	           "SELECT coalesce(max(ord), 0) AS ord FROM devices");
	cb_begin(b, "COPY devices (id, tenant_id, imei, imei2, serial, "
	            "model, created_at, enroll_expires, enrolled_at, "
	            "device_pk, kx_pk, last_contact, state, lock_cause, "
	            "lock_at, paid_through, amount_due, amount_remaining, "
	            "next_due_at, next_due_amount, next_change, decided_at, "
	            "token_seq) FROM STDIN");
	for (size_t i = 0; i < n; i++) {
		const struct fl_decision *d = &bd[i].dec;
		char imei[FL_IMEI_LEN + 1];
		uint8_t keys[64];

		imei_for(from + i, imei);
		fl_random(keys, sizeof(keys));
		if (i < enroll && im->n_devs < im->cap_devs)
			bulk_phone(im, keys, bd[i].id, imei);
		cb_printf(b,
		          "%s\t%s\t%s\t\tSN%09zu\tBench Phone\t%lld\t0\t%lld\t",
		          bd[i].id, tenant, imei, from + i, (long long)now,
		          (long long)now);
		cb_hex(b, keys, 32);
		cb_printf(b, "\t");
		cb_hex(b, keys + 32, 32);
		cb_printf(b,
		          "\t%lld\t%d\t%d\t%lld\t%lld\t%lld\t%lld\t%lld\t"
		          "%lld\t%lld\t%lld\t1\n",
		          (long long)now, (int)d->state, (int)d->lock_cause,
		          (long long)d->lock_at, (long long)d->paid_through,
		          (long long)d->amount_due_now,
		          (long long)d->amount_remaining,
		          (long long)d->next_due_at,
		          (long long)d->next_due_amount,
		          (long long)d->next_change, (long long)now);
	}
	cb_end(b);
	cb_begin(b, "COPY imei_claims (imei, device_id) FROM STDIN");
	for (size_t i = 0; i < n; i++) {
		char imei[FL_IMEI_LEN + 1];

		imei_for(from + i, imei);
		cb_printf(b, "%s\t%s\n", imei, bd[i].id);
	}
	cb_end(b);
	cb_begin(b, "COPY contracts (device_id, tenant_id, created_at, "
	            "loan_ref, currency, utc_offset, grace, max_offline, "
	            "remind, restrict_mask, allow_apps, message, "
	            "contact_name, contact_phones, sim_policy, "
	            "tamper_policy) FROM STDIN");
	for (size_t i = 0; i < n; i++) {
		struct fl_contract_rec cr;
		struct fl_installment sched[6];

		contract_for(&cr, tenant, bd[i].id, now, bd[i].first, sched);
		cb_printf(b,
		          "%s\t%s\t%lld\t%s\tKES\t10800\t259200\t2592000\t"
		          "259200,86400\t%lld\t\t%s\tBench "
		          "Finance\t+254700000001\t%d\t%d\n",
		          bd[i].id, tenant, (long long)now, cr.loan_ref,
		          (long long)cr.restrict_mask, cr.message,
		          (int)cr.sim_policy, (int)cr.tamper_policy);
	}
	cb_end(b);
	cb_begin(b, "COPY installments (device_id, resched, idx, due_at, "
	            "amount) FROM STDIN");
	for (size_t i = 0; i < n; i++)
		for (int k = 0; k < 6; k++)
			cb_printf(b, "%s\t0\t%d\t%lld\t150000\n", bd[i].id, k,
			          (long long)(bd[i].first +
			                      (fl_time)k * 30 * FL_DAY));
	cb_end(b);
	pq_exec(c, "SELECT device_counts_add(state, stolen, count(*)) FROM "
	           "devices WHERE ord > (SELECT ord FROM bulk_mark) "
	           "GROUP BY state, stolen");
	pq_exec(c, "COMMIT");
	pq_exec(c, "ANALYZE devices; ANALYZE contracts; "
	           "ANALYZE installments; ANALYZE imei_claims");
	PQfinish(c);
	free(bd);
	free(b);
	return true;
}

static int cmd_fill(int argc, char **argv)
{
	struct importer im = {0};
	const char *dir, *out = NULL;
	size_t n, n_due = 0, n_enroll = 0, n_bulk = 0;
	double due_in = 0;
	bool bulk = false, n_due_done = false;
	long long due_at = 0;
	uint64_t t0;

	if (argc < 5)
		bench_die("usage: bench_sweep fill DATA_DIR TENANT_ID N ...");
	dir = argv[2];
	im.tenant = argv[3];
	n = (size_t)atol(argv[4]);
	for (int i = 5; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--due") == 0)
			n_due = (size_t)atol(argv[i + 1]);
		else if (strcmp(argv[i], "--due-in") == 0)
			due_in = atof(argv[i + 1]);
		else if (strcmp(argv[i], "--enroll") == 0)
			n_enroll = (size_t)atol(argv[i + 1]);
		else if (strcmp(argv[i], "--out") == 0)
			out = argv[i + 1];
		else if (strcmp(argv[i], "--bulk") == 0)
			bulk = strcmp(argv[i + 1], "yes") == 0;
		else if (strcmp(argv[i], "--database") == 0)
			g_database = argv[i + 1];
		else
			bench_die("unknown option %s", argv[i]);
	}
	if (n == 0 || n_due > n || (n_due && due_in <= 0) ||
	    (n_enroll && out == NULL))
		bench_die("fill: bad arguments");
	if (fl_secrets_load(&im.sec, dir) != FL_OK)
		bench_die("%s: cannot load finlockd's secrets", dir);
	open_store(dir, &im.st);
	im.cap_devs = n_enroll;
	im.devs = bench_alloc((n_enroll ? n_enroll : 1) * sizeof(*im.devs));
	im.now = (fl_time)time(NULL);

	t0 = bench_now_ns();
	if (bulk) {
		/* the store's connections are idle; this one writes alone */
		n_bulk = n - n_due;
		if (g_database != NULL
		            ? !pg_bulk_import(g_database, &im, 0, n_bulk,
		                              n_due == 0 ? n_enroll : 0, 0)
		            : !bulk_import(dir, &im, n_bulk,
		                           n_due == 0 ? n_enroll : 0)) {
			fl_store_close(im.st);
			return 3;
		}
		printf("  bulk-imported %zu background devices in %.1f s\n",
		       n_bulk, (double)(bench_now_ns() - t0) / 1e9);
		fflush(stdout);
	}
	begin(im.st, &im.tx);
	/* The fleet, due dates over a year, nothing due during the run. */
	for (size_t i = n_bulk; i < n - n_due; i++)
		import_one(&im, i,
		           im.now + 4 * FL_DAY +
		                   (fl_time)fl_random_uniform(361 * 86400),
		           n_due == 0);
	/* The due set last, so its instant can be counted from the end of
	 * the import: the first reminder of each falls at due_at. */
	if (n_due && bulk && g_database != NULL) {
		/* PostgreSQL: the due set by COPY too (a store round trip per
		 * statement would take longer than the time to the instant) */
		commit(im.tx);
		im.tx = NULL;
		im.now = (fl_time)time(NULL);
		due_at = (long long)im.now + (long long)ceil(due_in);
		if (!pg_bulk_import(g_database, &im, n - n_due, n_due, n_enroll,
		                    (fl_time)due_at + 3 * FL_DAY))
			bench_die("bulk import of the due set refused");
		n_bulk = n;
		n_due_done = true;
	}
	if (n_due && !n_due_done) {
		im.now = (fl_time)time(NULL);
		due_at = (long long)im.now + (long long)ceil(due_in);
		for (size_t i = n - n_due; i < n; i++)
			import_one(&im, i, (fl_time)due_at + 3 * FL_DAY, true);
	}
	if (im.tx != NULL)
		commit(im.tx);
	printf("  imported %zu devices with contracts (%zu due at once, %zu "
	       "enrolled) in %.1f s, %zu through finlockd's store and "
	       "decision code\n",
	       n, n_due, im.n_devs, (double)(bench_now_ns() - t0) / 1e9,
	       n - n_bulk);
	printf("due_at=%lld\n", due_at);
	if (out != NULL)
		bench_devs_save(out, im.devs, im.n_devs);
	fl_store_close(im.st);
	fl_secrets_wipe(&im.sec);
	free(im.devs);
	return 0;
}

/* --- redecide ---------------------------------------------------------- */

/* Steps a statement to its end, reading every column of every row. */
static size_t drain(sqlite3_stmt *s, int64_t *sum)
{
	size_t rows = 0;

	while (sqlite3_step(s) == SQLITE_ROW) {
		int nc = sqlite3_column_count(s);

		for (int c = 0; c < nc; c++) {
			if (sqlite3_column_type(s, c) == SQLITE_INTEGER)
				*sum += sqlite3_column_int64(s, c);
			else
				*sum += sqlite3_column_bytes(s, c);
		}
		rows++;
	}
	return rows;
}

static int cmd_redecide(int argc, char **argv)
{
	/* Every table a decision reads, every row, in device order. */
	static const char *const scans[] = {
	        "SELECT * FROM devices ORDER BY id",
	        "SELECT * FROM contracts ORDER BY device_id",
	        "SELECT * FROM installments ORDER BY device_id, resched, idx",
	        "SELECT * FROM payments ORDER BY device_id, paid_at, ord",
	        "SELECT * FROM reschedules ORDER BY device_id, ord",
	        "SELECT * FROM commands ORDER BY device_id, ord",
	};
	char path[4096];
	sqlite3 *db = NULL;
	struct fl_store *st = NULL;
	struct fl_tx *tx = NULL;
	char(*tids)[FL_ID_MAX], (*ids)[FL_ID_MAX];
	size_t n = 0, rows = 0, bumped = 0;
	int64_t sum = 0;
	uint64_t t0, scan_ns, dec_ns, load_ns;
	fl_time now = (fl_time)time(NULL);
	sqlite3_stmt *s;
	char fig[96], base[96];
	double ratio;

	if (argc < 3)
		bench_die("usage: bench_sweep redecide DATA_DIR");
	snprintf(path, sizeof(path), "%s/finlock.db", argv[2]);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		bench_die("%s: cannot open", path);
	/* The device list (not timed): what the re-decision walks. */
	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM devices", -1, &s,
	                       NULL) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW)
		bench_die("count devices: %s", sqlite3_errmsg(db));
	n = (size_t)sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	tids = bench_alloc(n * sizeof(*tids));
	ids = bench_alloc(n * sizeof(*ids));
	if (sqlite3_prepare_v2(db,
	                       "SELECT tenant_id, id FROM devices ORDER "
	                       "BY id",
	                       -1, &s, NULL) != SQLITE_OK)
		bench_die("list devices: %s", sqlite3_errmsg(db));
	for (size_t i = 0; i < n && sqlite3_step(s) == SQLITE_ROW; i++) {
		snprintf(tids[i], FL_ID_MAX, "%s", sqlite3_column_text(s, 0));
		snprintf(ids[i], FL_ID_MAX, "%s", sqlite3_column_text(s, 1));
	}
	sqlite3_finalize(s);

	/* The plain scan: a second pass, so both run on a warm cache. */
	for (int pass = 0; pass < 2; pass++) {
		rows = 0;
		t0 = bench_now_ns();
		for (size_t q = 0; q < sizeof(scans) / sizeof(scans[0]); q++) {
			if (sqlite3_prepare_v2(db, scans[q], -1, &s, NULL) !=
			    SQLITE_OK)
				bench_die("%s: %s", scans[q],
				          sqlite3_errmsg(db));
			rows += drain(s, &sum);
			sqlite3_finalize(s);
		}
		scan_ns = bench_now_ns() - t0;
	}
	sqlite3_close(db);

	open_store(argv[2], &st);
	/* Where the time goes: loading what a decision reads, alone. */
	t0 = bench_now_ns();
	if (fl_store_begin(st, false, &tx) != FL_OK)
		bench_die("cannot begin a read transaction");
	for (size_t i = 0; i < n; i++) {
		struct fl_device d;
		struct fl_device_inputs in = {0};

		if (fl_store_device_get(tx, tids[i], ids[i], &d) != FL_OK ||
		    fl_store_device_inputs(tx, tids[i], ids[i], &in) != FL_OK)
			bench_die("load %s", ids[i]);
		fl_device_inputs_clear(&in);
		if ((i + 1) % BATCH == 0) {
			fl_tx_rollback(tx);
			if (fl_store_begin(st, false, &tx) != FL_OK)
				bench_die("cannot begin a read transaction");
		}
	}
	fl_tx_rollback(tx);
	tx = NULL;
	load_ns = bench_now_ns() - t0;

	t0 = bench_now_ns();
	begin(st, &tx);
	for (size_t i = 0; i < n; i++) {
		struct fl_decided what;
		fl_err err = fl_decide_device(tx, tids[i], ids[i], now, false,
		                              NULL, &what);

		if (err != FL_OK)
			bench_die("decide %s: %s", ids[i], fl_strerror(err));
		bumped += what.bumped;
		if ((i + 1) % BATCH == 0) {
			commit(tx);
			begin(st, &tx);
		}
	}
	commit(tx);
	dec_ns = bench_now_ns() - t0;
	fl_store_close(st);

	ratio = (double)dec_ns / (double)scan_ns;
	printf("  plain scan of every row a decision reads: %zu rows in "
	       "%.2f s (checksum %lld)\n",
	       rows, (double)scan_ns / 1e9, (long long)sum);
	printf("  finlockd re-decides all %zu devices (fl_decide_device, "
	       "%d per transaction): %.2f s, %.0f devices/s, %zu token "
	       "seqs bumped\n",
	       n, BATCH, (double)dec_ns / 1e9,
	       (double)n / ((double)dec_ns / 1e9), bumped);
	printf("    of which loading each device's inputs (fl_store_device_get "
	       "+ fl_store_device_inputs, point queries per device): %.2f "
	       "s\n",
	       (double)load_ns / 1e9);
	snprintf(fig, sizeof(fig), "%.2f s for %zu", (double)dec_ns / 1e9, n);
	snprintf(base, sizeof(base), "scan %.2f s", (double)scan_ns / 1e9);
	bench_result("3b", "re-decide all contracts (finlockd)", fig, base,
	             ratio, "<= 3x scan", ratio <= 3.0 ? "yes" : "no");
	free(tids);
	free(ids);
	return 0;
}

/* --- watch ------------------------------------------------------------- */

static uint64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The count the watch polls, on SQLite or PostgreSQL. */
struct counter {
	sqlite3 *db;
	sqlite3_stmt *s;
	PGconn *pg;
	char due[24];
};

static long long count_left(struct counter *c)
{
	long long n;

	if (c->pg != NULL) {
		const char *params[1] = {c->due};
		PGresult *r = PQexecParams(
		        c->pg,
		        "SELECT count(*) FROM devices WHERE next_change > 0 "
		        "AND next_change <= $1::bigint",
		        1, NULL, params, NULL, NULL, 0);

		if (PQresultStatus(r) != PGRES_TUPLES_OK)
			bench_die("count: %s", PQerrorMessage(c->pg));
		n = atoll(PQgetvalue(r, 0, 0));
		PQclear(r);
		return n;
	}
	if (sqlite3_step(c->s) != SQLITE_ROW)
		bench_die("count: %s", sqlite3_errmsg(c->db));
	n = sqlite3_column_int64(c->s, 0);
	sqlite3_reset(c->s);
	return n;
}

/* Polls the database finlockd is running on (read-only: a WAL reader does
 * not block it) for the devices still waiting for the sweep - next_change
 * in (0, due instant], one count on finlockd's next_change index every 10
 * ms - from the due instant until none is left: the sweep's
 * find-decide-commit part of 3(a), whether or not finlockd serves the
 * waits that carry the new tokens to the phones. With --database URI, the
 * same count on PostgreSQL (one query every 10 ms on its own
 * connection). */
static int cmd_watch(int argc, char **argv)
{
	const char *dir;
	long long due_at, n0 = -1, left = -1;
	double timeout, t_half = NAN, t_last = NAN;
	char path[4096], fig[96];
	struct counter cn = {0};
	uint64_t due_ns, end_ns;

	if (argc < 5)
		bench_die("usage: bench_sweep watch DATA_DIR DUE_AT TIMEOUT "
		          "[--database URI]");
	dir = argv[2];
	due_at = atoll(argv[3]);
	timeout = atof(argv[4]);
	if (argc == 7 && strcmp(argv[5], "--database") == 0) {
		cn.pg = PQconnectdb(argv[6]);
		if (PQstatus(cn.pg) != CONNECTION_OK)
			bench_die("%s: %s", argv[6], PQerrorMessage(cn.pg));
	} else {
		snprintf(path, sizeof(path), "%s/finlock.db", dir);
		if (sqlite3_open_v2(path, &cn.db, SQLITE_OPEN_READONLY, NULL) !=
		            SQLITE_OK ||
		    sqlite3_prepare_v2(cn.db,
		                       "SELECT count(*) FROM devices WHERE "
		                       "next_change > 0 AND next_change <= ?",
		                       -1, &cn.s, NULL) != SQLITE_OK)
			bench_die("%s: cannot read", path);
		sqlite3_bind_int64(cn.s, 1, due_at);
	}
	snprintf(cn.due, sizeof(cn.due), "%lld", due_at);
	due_ns = (uint64_t)due_at * 1000000000ull;
	if (wall_ns() >= due_ns)
		bench_die("the due instant has passed before the watch began");
	n0 = count_left(&cn);
	end_ns = due_ns + (uint64_t)(timeout * 1e9);
	while (wall_ns() < due_ns)
		usleep(1000);
	while (wall_ns() < end_ns) {
		double t;

		left = count_left(&cn);
		t = (double)(wall_ns() - due_ns) / 1e9;
		if (isnan(t_half) && left <= n0 / 2)
			t_half = t;
		if (left == 0) {
			t_last = t;
			break;
		}
		usleep(10000);
	}
	sqlite3_finalize(cn.s);
	sqlite3_close(cn.db);
	PQfinish(cn.pg);
	printf("  devices due at the instant: %lld; re-decided by finlockd's "
	       "sweep: half after %.2f s, all after %.2f s (%lld left)\n",
	       n0, t_half, t_last, left);
	if (left != 0 || n0 <= 0) {
		snprintf(fig, sizeof(fig),
		         "not measured: %lld of %lld left after %.0f s", left,
		         n0, timeout);
		bench_result("3a-store", "sweep: 1% due, decided in store", fig,
		             NULL, NAN, "< 1 s", NULL);
	} else {
		snprintf(fig, sizeof(fig), "%.2f s (half %.2f s)", t_last,
		         t_half);
		bench_result("3a-store", "sweep: 1% due, decided in store", fig,
		             NULL, NAN, "< 1 s", t_last < 1.0 ? "yes" : "no");
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (fl_crypto_init() != FL_OK)
		bench_die("libsodium failed to start");
	if (argc >= 2 && strcmp(argv[1], "fill") == 0)
		return cmd_fill(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "redecide") == 0)
		return cmd_redecide(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "watch") == 0)
		return cmd_watch(argc, argv);
	bench_die("usage: bench_sweep fill|redecide|watch ...");
}
