/*
 * bench_policy.c - benchmark 3(b), the policy-engine half: re-deciding
 * every one of 1,000,000 contracts with fl_policy_decide (src/core/policy.h),
 * against a plain SQLite scan that reads the same rows.
 *
 *   bench_policy DB [CONTRACTS]
 *
 * DB is a temporary database this program creates and fills. Its tables
 * follow finlockd's (src/store: a contracts row per device, installments
 * keyed by (device_id, resched, idx), payments indexed by (device_id,
 * paid_at, ord), device ids "dv_" + 22 characters); the few device columns
 * the decision needs (enrolled, last contact, the stored decision) sit in
 * the contracts row here, where finlockd keeps them in its devices table.
 *
 * Every contract has six monthly installments; the first falls uniformly
 * over [now - 200 days, now + 165 days), so the due dates of the whole set
 * spread over a year and some contracts are paid off. Installments already
 * due were paid in full on or a little before their date, except in one
 * contract in ten, which stopped paying (so some are reminding or locked);
 * 97% of phones were last seen within two days, the rest up to 40 days
 * ago, with max_offline 30 days (so a few are locked for being offline).
 * The decision at `now` is stored at fill time.
 *
 * Both passes run the same three ordered statements and merge them by
 * device id (contracts, installments, payments), reading every column of
 * every row. The scan stops there; the re-decision also parses the
 * reminder offsets, builds the policy input, calls fl_policy_decide and
 * compares the outcome with the stored one (it must match: same inputs,
 * same instant). Each pass runs three times, alternating, and the fastest
 * of each counts (the least disturbed by whatever else runs on the
 * machine). Target: re-deciding costs at most 3x the scan.
 */
#include <sqlite3.h>
#include <unistd.h>

#include "bench.h"
#include "core/policy.h"

#define N_INST     6
#define MAX_PAY    16
#define DAY        FL_DAY
#define NOW        1795435200 /* 2026-11-23T12:00:00Z, a fixed instant */
#define PASSES     3
#define BATCH_ROWS 200000

static void check(sqlite3 *db, int rc, const char *what)
{
	if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
		bench_die("%s: %s", what, sqlite3_errmsg(db));
}

static void exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		bench_die("%s: %s", sql, msg ? msg : "?");
}

static sqlite3_stmt *prep(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;

	check(db, sqlite3_prepare_v2(db, sql, -1, &st, NULL), sql);
	return st;
}

/* A sortable device id: "dv_" + 22 base64url-alphabet characters that
 * grow with n, so rows go in in key order. */
static void dev_id(char out[32], uint64_t n)
{
	static const char a[] = "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_"
	                        "abcdefghijklmnopqrstuvwxyz";
	char *p = out + 3 + 22;

	memcpy(out, "dv_", 3);
	*p-- = '\0';
	for (int i = 0; i < 22; i++) {
		*p-- = a[n % 64];
		n /= 64;
	}
}

/* A small fast generator (xorshift64*), seeded: the data set is the same
 * on every run. */
static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
	g_rng ^= g_rng >> 12;
	g_rng ^= g_rng << 25;
	g_rng ^= g_rng >> 27;
	return g_rng * 2685821657736338717ull;
}
static int64_t rnd_range(int64_t lo, int64_t hi)
{
	return lo + (int64_t)(rnd() % (uint64_t)(hi - lo));
}

/* One contract's decision inputs, as read from the rows. */
struct row {
	char id[64];
	char currency[4];
	int32_t utc_offset;
	int64_t grace, max_offline;
	char remind[64];
	int enrolled;
	fl_time last_contact;
	int st_state;
	fl_time st_lock_at, st_next_change;
	struct fl_installment inst[N_INST];
	size_t n_inst;
	struct fl_payment pay[MAX_PAY];
	size_t n_pay;
};

static size_t parse_remind(const char *s, int64_t out[FL_POLICY_MAX_OFFSETS])
{
	size_t n = 0;

	while (n < FL_POLICY_MAX_OFFSETS) {
		char *end;
		long long v = strtoll(s, &end, 10);

		if (end == s)
			break;
		out[n++] = v;
		if (*end != ',')
			break;
		s = end + 1;
	}
	return n;
}

static fl_err decide_row(const struct row *r, fl_time now,
                         struct fl_decision *d)
{
	struct fl_contract c = {0};
	struct fl_policy_input in = {0};

	memcpy(c.currency, r->currency, sizeof(c.currency));
	c.utc_offset = r->utc_offset;
	c.schedule = r->inst;
	c.n_schedule = r->n_inst;
	c.grace = r->grace;
	c.max_offline = r->max_offline;
	c.n_remind = parse_remind(r->remind, c.remind);
	in.contract = &c;
	in.payments = r->pay;
	in.n_payments = r->n_pay;
	in.enrolled = r->enrolled != 0;
	in.last_contact = r->last_contact;
	in.now = now;
	return fl_policy_decide(&in, d, NULL);
}

/* --- fill -------------------------------------------------------------- */

static void create(sqlite3 *db)
{
	exec(db, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
	         "PRAGMA cache_size=-262144;"
	         "CREATE TABLE contracts ("
	         "  ord INTEGER PRIMARY KEY AUTOINCREMENT,"
	         "  device_id TEXT NOT NULL UNIQUE,"
	         "  tenant_id TEXT NOT NULL,"
	         "  created_at INTEGER NOT NULL,"
	         "  loan_ref TEXT NOT NULL,"
	         "  currency TEXT NOT NULL,"
	         "  utc_offset INTEGER NOT NULL,"
	         "  grace INTEGER NOT NULL,"
	         "  max_offline INTEGER NOT NULL,"
	         "  remind TEXT NOT NULL,"
	         "  enrolled INTEGER NOT NULL,"
	         "  last_contact INTEGER NOT NULL,"
	         "  state INTEGER NOT NULL,"
	         "  lock_at INTEGER NOT NULL,"
	         "  next_change INTEGER NOT NULL);"
	         "CREATE TABLE installments ("
	         "  device_id TEXT NOT NULL,"
	         "  resched INTEGER NOT NULL,"
	         "  idx INTEGER NOT NULL,"
	         "  due_at INTEGER NOT NULL,"
	         "  amount INTEGER NOT NULL,"
	         "  PRIMARY KEY (device_id, resched, idx)) WITHOUT ROWID;"
	         "CREATE TABLE payments ("
	         "  ord INTEGER PRIMARY KEY AUTOINCREMENT,"
	         "  id TEXT NOT NULL UNIQUE,"
	         "  tenant_id TEXT NOT NULL,"
	         "  device_id TEXT NOT NULL,"
	         "  amount INTEGER NOT NULL CHECK (amount > 0),"
	         "  paid_at INTEGER NOT NULL,"
	         "  reference TEXT NOT NULL,"
	         "  recorded_at INTEGER NOT NULL,"
	         "  reversed_at INTEGER NOT NULL DEFAULT 0);"
	         "CREATE INDEX payments_device ON payments(device_id, paid_at, "
	         "ord);");
}

static void fill(sqlite3 *db, size_t n, size_t *n_rows)
{
	sqlite3_stmt *ci = prep(db, "INSERT INTO contracts (device_id, "
	                            "tenant_id, created_at, loan_ref, "
	                            "currency, utc_offset, grace, max_offline, "
	                            "remind, enrolled, last_contact, state, "
	                            "lock_at, next_change) VALUES "
	                            "(?,'tn_bench',?,?,'KES',10800,?,?,?,1,?,"
	                            "?,?,?)");
	sqlite3_stmt *ii = prep(db, "INSERT INTO installments VALUES "
	                            "(?,0,?,?,?)");
	sqlite3_stmt *pi = prep(db, "INSERT INTO payments (id, tenant_id, "
	                            "device_id, amount, paid_at, reference, "
	                            "recorded_at) VALUES (?,'tn_bench',?,?,?,"
	                            "'MPESA',?)");
	size_t rows = 0, since_commit = 0;
	uint64_t pay_no = 0;

	exec(db, "BEGIN");
	for (size_t i = 0; i < n; i++) {
		struct row r = {0};
		struct fl_decision d;
		char loan[32], pid[40];
		fl_time first = NOW + rnd_range(-200 * DAY, 165 * DAY);
		bool stops = rnd() % 10 == 0;
		size_t stop_at = stops ? (size_t)(rnd() % N_INST) : N_INST;

		dev_id(r.id, i);
		memcpy(r.currency, "KES", 4);
		r.utc_offset = 10800;
		r.grace = 3 * DAY;
		r.max_offline = 30 * DAY;
		strcpy(r.remind, "259200,86400,0");
		r.enrolled = 1;
		/* most phones check in daily; a few have been off for weeks */
		r.last_contact =
		        NOW - (rnd() % 100 < 97 ? rnd_range(0, 2 * DAY)
		                                : rnd_range(0, 40 * DAY));
		for (size_t k = 0; k < N_INST; k++) {
			r.inst[k].due_at = first + (fl_time)k * 30 * DAY;
			r.inst[k].amount = 150000;
			if (r.inst[k].due_at <= NOW && k < stop_at) {
				struct fl_payment *p = &r.pay[r.n_pay++];

				p->id = (int64_t)++pay_no;
				p->amount = 150000;
				p->paid_at = r.inst[k].due_at -
				             rnd_range(0, 5 * DAY);
			}
		}
		r.n_inst = N_INST;
		if (decide_row(&r, NOW, &d) != FL_OK)
			bench_die("fill: contract %zu does not decide", i);

		snprintf(loan, sizeof(loan), "LN-%08zu", i);
		sqlite3_bind_text(ci, 1, r.id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(ci, 2, first - 30 * DAY);
		sqlite3_bind_text(ci, 3, loan, -1, SQLITE_STATIC);
		sqlite3_bind_int64(ci, 4, r.grace);
		sqlite3_bind_int64(ci, 5, r.max_offline);
		sqlite3_bind_text(ci, 6, r.remind, -1, SQLITE_STATIC);
		sqlite3_bind_int64(ci, 7, r.last_contact);
		sqlite3_bind_int(ci, 8, (int)d.state);
		sqlite3_bind_int64(ci, 9, d.lock_at);
		sqlite3_bind_int64(ci, 10, d.next_change);
		check(db, sqlite3_step(ci), "insert contract");
		sqlite3_reset(ci);
		for (size_t k = 0; k < r.n_inst; k++) {
			sqlite3_bind_text(ii, 1, r.id, -1, SQLITE_STATIC);
			sqlite3_bind_int(ii, 2, (int)k);
			sqlite3_bind_int64(ii, 3, r.inst[k].due_at);
			sqlite3_bind_int64(ii, 4, r.inst[k].amount);
			check(db, sqlite3_step(ii), "insert installment");
			sqlite3_reset(ii);
		}
		for (size_t k = 0; k < r.n_pay; k++) {
			snprintf(pid, sizeof(pid), "pm_%022llu",
			         (unsigned long long)r.pay[k].id);
			sqlite3_bind_text(pi, 1, pid, -1, SQLITE_STATIC);
			sqlite3_bind_text(pi, 2, r.id, -1, SQLITE_STATIC);
			sqlite3_bind_int64(pi, 3, r.pay[k].amount);
			sqlite3_bind_int64(pi, 4, r.pay[k].paid_at);
			sqlite3_bind_int64(pi, 5, r.pay[k].paid_at);
			check(db, sqlite3_step(pi), "insert payment");
			sqlite3_reset(pi);
		}
		rows += 1 + r.n_inst + r.n_pay;
		since_commit += 1 + r.n_inst + r.n_pay;
		if (since_commit >= BATCH_ROWS) {
			exec(db, "COMMIT; BEGIN");
			since_commit = 0;
		}
	}
	exec(db, "COMMIT");
	sqlite3_finalize(ci);
	sqlite3_finalize(ii);
	sqlite3_finalize(pi);
	*n_rows = rows;
}

/* --- the two passes ---------------------------------------------------- */

struct pass {
	size_t contracts, rows, changed, errors;
	int64_t checksum; /* keeps the reads from being optimised away */
	size_t by_state[5];
};

/* Reads every row of the three tables in device order; with decide, also
 * re-decides each contract at now and compares with the stored decision. */
static void run_pass(sqlite3 *db, bool decide, fl_time now, struct pass *p)
{
	sqlite3_stmt *cs = prep(db, "SELECT device_id, currency, utc_offset, "
	                            "grace, max_offline, remind, enrolled, "
	                            "last_contact, state, lock_at, next_change "
	                            "FROM contracts ORDER BY device_id");
	sqlite3_stmt *is = prep(db, "SELECT device_id, due_at, amount FROM "
	                            "installments WHERE resched = 0 "
	                            "ORDER BY device_id, resched, idx");
	sqlite3_stmt *ps = prep(db, "SELECT device_id, ord, amount, paid_at, "
	                            "reversed_at FROM payments "
	                            "ORDER BY device_id, paid_at, ord");
	int irc = sqlite3_step(is), prc = sqlite3_step(ps);

	memset(p, 0, sizeof(*p));
	while (sqlite3_step(cs) == SQLITE_ROW) {
		struct row r;
		const char *id = (const char *)sqlite3_column_text(cs, 0);
		const char *cur = (const char *)sqlite3_column_text(cs, 1);
		const char *rem = (const char *)sqlite3_column_text(cs, 5);

		snprintf(r.id, sizeof(r.id), "%s", id);
		snprintf(r.currency, sizeof(r.currency), "%s", cur);
		r.utc_offset = sqlite3_column_int(cs, 2);
		r.grace = sqlite3_column_int64(cs, 3);
		r.max_offline = sqlite3_column_int64(cs, 4);
		snprintf(r.remind, sizeof(r.remind), "%s", rem);
		r.enrolled = sqlite3_column_int(cs, 6);
		r.last_contact = sqlite3_column_int64(cs, 7);
		r.st_state = sqlite3_column_int(cs, 8);
		r.st_lock_at = sqlite3_column_int64(cs, 9);
		r.st_next_change = sqlite3_column_int64(cs, 10);
		r.n_inst = 0;
		while (irc == SQLITE_ROW &&
		       strcmp((const char *)sqlite3_column_text(is, 0), r.id) ==
		               0) {
			if (r.n_inst < N_INST) {
				r.inst[r.n_inst].due_at =
				        sqlite3_column_int64(is, 1);
				r.inst[r.n_inst].amount =
				        sqlite3_column_int64(is, 2);
				r.n_inst++;
			}
			p->rows++;
			irc = sqlite3_step(is);
		}
		r.n_pay = 0;
		while (prc == SQLITE_ROW &&
		       strcmp((const char *)sqlite3_column_text(ps, 0), r.id) ==
		               0) {
			if (r.n_pay < MAX_PAY) {
				struct fl_payment *q = &r.pay[r.n_pay++];

				q->id = sqlite3_column_int64(ps, 1);
				q->amount = sqlite3_column_int64(ps, 2);
				q->paid_at = sqlite3_column_int64(ps, 3);
				q->reversed = sqlite3_column_int64(ps, 4) != 0;
			}
			p->rows++;
			prc = sqlite3_step(ps);
		}
		p->rows++;
		p->contracts++;
		p->checksum += r.last_contact + r.st_lock_at +
		               (int64_t)(r.n_inst + r.n_pay);
		if (decide) {
			struct fl_decision d;

			if (decide_row(&r, now, &d) != FL_OK) {
				p->errors++;
				continue;
			}
			if ((int)d.state != r.st_state ||
			    d.lock_at != r.st_lock_at ||
			    d.next_change != r.st_next_change)
				p->changed++;
			if ((unsigned)d.state < 5)
				p->by_state[d.state]++;
		}
	}
	sqlite3_finalize(cs);
	sqlite3_finalize(is);
	sqlite3_finalize(ps);
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

int main(int argc, char **argv)
{
	sqlite3 *db = NULL;
	size_t n = argc > 2 ? (size_t)atol(argv[2]) : 1000000, rows = 0;
	uint64_t t0, fill_ns, scan_ns[PASSES], decide_ns[PASSES];
	struct pass scan, dec;
	char fig[96], base[96], target[32];
	double ratio, scan_s, dec_s;

	if (argc < 2 || n == 0)
		bench_die("usage: bench_policy DB [CONTRACTS]");
	unlink(argv[1]);
	if (sqlite3_open(argv[1], &db) != SQLITE_OK)
		bench_die("%s: cannot open", argv[1]);
	create(db);
	t0 = bench_now_ns();
	fill(db, n, &rows);
	fill_ns = bench_now_ns() - t0;
	printf("  filled %zu contracts (%zu rows) in %.1f s\n", n, rows,
	       (double)fill_ns / 1e9);
	fflush(stdout);
	/* The file is warm in the page cache for both passes alike. */
	for (int i = 0; i < PASSES; i++) {
		t0 = bench_now_ns();
		run_pass(db, false, NOW, &scan);
		scan_ns[i] = bench_now_ns() - t0;
		t0 = bench_now_ns();
		run_pass(db, true, NOW, &dec);
		decide_ns[i] = bench_now_ns() - t0;
	}
	sqlite3_close(db);
	unlink(argv[1]);
	if (scan.rows != rows || dec.rows != rows || dec.contracts != n)
		bench_die("a pass read %zu/%zu rows of %zu", scan.rows,
		          dec.rows, rows);
	if (dec.errors || dec.changed)
		bench_die("re-decision disagrees with the stored decision: "
		          "%zu errors, %zu changed",
		          dec.errors, dec.changed);
	qsort(scan_ns, PASSES, sizeof(scan_ns[0]), cmp_u64);
	qsort(decide_ns, PASSES, sizeof(decide_ns[0]), cmp_u64);
	scan_s = (double)scan_ns[0] / 1e9;
	dec_s = (double)decide_ns[0] / 1e9;
	ratio = dec_s / scan_s;
	printf("  scan: %.2f s (%.0f rows/s); re-decision: %.2f s (%.0f "
	       "contracts/s), every outcome equal to the stored one\n",
	       scan_s, (double)rows / scan_s, dec_s, (double)n / dec_s);
	printf("  outcomes: %zu active, %zu reminding, %zu locked, %zu "
	       "released\n",
	       dec.by_state[FL_ST_ACTIVE], dec.by_state[FL_ST_REMINDING],
	       dec.by_state[FL_ST_LOCKED], dec.by_state[FL_ST_RELEASED]);
	snprintf(fig, sizeof(fig), "%.2f s for %zu", dec_s, n);
	snprintf(base, sizeof(base), "scan %.2f s", scan_s);
	snprintf(target, sizeof(target), "<= 3x scan");
	bench_result("3b-policy", "re-decide all contracts (policy engine)",
	             fig, base, ratio, target, ratio <= 3.0 ? "yes" : "no");
	return 0;
}
