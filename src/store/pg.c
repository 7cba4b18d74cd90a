/*
 * pg.c - the PostgreSQL backend: connection pool, transactions, the change
 * feed across processes, migrations, locks.
 *
 * Connections: a pool of pool_size connections, each made when a
 * transaction first needs it and made again after it was lost (a server
 * restart, a network cut): by fl_store_begin() when it is known dead, by
 * the transaction's first statement when the server dropped it since its
 * last use (the statement then runs on the new one; nothing of the
 * transaction had happened). While the server cannot be reached,
 * fl_store_begin() or that first statement answers FL_E_STORE_UNAVAILABLE
 * after at most connect_timeout_s. Every connection runs with
 * synchronous_commit
 * on (or stronger: remote_write, remote_apply), and the store refuses a
 * server running with fsync off: COMMIT returns once the commit is flushed
 * to the server's WAL, so a 2xx sent after fl_tx_commit() survives a crash
 * of the server.
 *
 * Transactions: a write transaction is READ COMMITTED (the narrow locks of
 * store.h make its read-decide-write sequences safe: fl_store_lock_device
 * and fl_store_lock_chain are pg_advisory_xact_lock on a 64-bit hash of a
 * prefixed name, fl_store_job_claim is pg_try_advisory_xact_lock, so a
 * process that dies releases its claims with its connection); a read
 * transaction is REPEATABLE READ READ ONLY, one snapshot for every list;
 * its ROLLBACK is sent without waiting for the answer, which the
 * connection's next transaction reads first.
 * A transaction's BEGIN travels with its first statement (one round trip;
 * a transaction that runs no statement costs none), and a statement that
 * may fail in a way the caller survives runs in a savepoint sent with it
 * (pg_int.h PG_GUARD), since PostgreSQL aborts a transaction at its first
 * error where SQLite goes on.
 * SQLSTATE 40001 and 40P01 answer FL_E_STORE_RETRY, 23xxx FL_E_CONFLICT,
 * 53100 FL_E_INSUFFICIENT_STORAGE, a lost connection
 * FL_E_STORE_UNAVAILABLE (pg_fail).
 *
 * Change feed and device clock (store.h), across processes:
 *
 *   - A trigger on devices (AFTER INSERT OR UPDATE, migration 2) sends
 *     pg_notify('finlock_devices', ord) for every changed row, and appends
 *     the ord to the transaction-local setting finlock.changed ("all" past
 *     a few thousand). PostgreSQL delivers notices only at commit, never
 *     for a rollback. A transaction that declared itself quiet
 *     (fl_tx_quiet: SET LOCAL finlock.quiet = 'on') sends and collects
 *     nothing.
 *   - The committing process reads finlock.changed in the same round trip
 *     as its COMMIT and stamps those rows' buckets (the clock, floor and
 *     bucket scheme of sqlite.c) before fl_tx_commit returns; then calls
 *     the feed's subscribers. A commit whose outcome is unknown (the
 *     connection died before its answer) stamps every row.
 *   - A notice connection, with its own thread, LISTENs to finlock_devices
 *     and stamps, then feeds, every ord another process committed (notices
 *     of this process's own connections were stamped at their commit and
 *     are skipped).
 *   - While the notice connection is down, fl_store_device_unchanged()
 *     answers false for every row (caches read through). Once it is back
 *     and listening again, the floor is raised (every row changed) and the
 *     subscribers are called with ord -1, so no notice lost in between
 *     leaves a stale copy behind.
 *
 * Snapshots: PostgreSQL's own tools (pg_dump, pg_basebackup) copy a live
 * database; fl_store_snapshot answers FL_E_STATE and says so.
 */
#include "store/pg_int.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Buckets of the device clock, and how many changed rows one transaction
 * tracks before it marks every row changed (as sqlite.c). */
#define PG_STAMP_BUCKETS 65536
#define PG_WATCH_MAX     4096
#define PG_CHANNEL       "finlock_devices"
/* How long the notice thread waits between attempts to reconnect. */
#define PG_RELISTEN_MS 200

/* pg_type oids of the binary results read */
#define OID_BOOL 16
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23

struct fl_store {
	struct fl_store_base base; /* first: see store_int.h */
	char *conninfo;            /* what the caller gave */
	char timeout[16];          /* connect_timeout, seconds */
	pthread_mutex_t mu;        /* guards conns[].in_use */
	pthread_cond_t cv;         /* signalled when a connection frees up */
	struct pg_conn *conns;     /* the pool */
	int n_conns;
	pthread_mutex_t stamp_mu; /* one stamping at a time */
	_Atomic uint64_t clock;   /* the device clock */
	_Atomic uint64_t floor;   /* every row changed at this clock */
	_Atomic uint64_t *stamps; /* per bucket: clock of last change */
	_Atomic bool listening;   /* the notice connection is up */
	struct {
		fl_store_feed_fn fn;
		void *ctx;
	} feed[FL_STORE_FEED_MAX]; /* change feed subscribers */
	_Atomic int n_feed;        /* set after its entry (the notice thread
	                            * reads them) */
	PGconn *notice;            /* the LISTEN connection (notice thread's) */
	pthread_t thread;          /* the notice thread */
	bool thread_started;
	_Atomic bool stop; /* the notice thread is to end */
	int wake[2];       /* pipe: wakes the notice thread to stop */
};

static const struct fl_store_ops pg_ops;

static void drop_conn(struct pg_conn *c);
static fl_err ready_conn(struct fl_store *st, struct pg_conn *c);

/* --- errors and statements ----------------------------------------------- */

/* Copies s without its trailing newlines into the error note. */
static void note(const char *what, const char *s, const char *state)
{
	char buf[400];
	size_t n;

	snprintf(buf, sizeof(buf), "%s", s != NULL ? s : "");
	/* one line for the log, whatever libpq's layout */
	for (char *p = buf; *p != '\0'; p++)
		if (*p == '\n' || *p == '\t' || *p == '\r')
			*p = ' ';
	n = strlen(buf);
	while (n > 0 && buf[n - 1] == ' ')
		buf[--n] = '\0';
	if (state != NULL && state[0] != '\0')
		fl_store_note_error("postgresql: %s%s (SQLSTATE %s)", what, buf,
		                    state);
	else
		fl_store_note_error("postgresql: %s%s", what, buf);
}

fl_err pg_fail(PGconn *db, const PGresult *res)
{
	const char *state =
	        res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg;

	if (res != NULL &&
	    (msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)) != NULL)
		note("", msg, state);
	else
		note("", db != NULL ? PQerrorMessage(db) : "no connection",
		     state);
	if (db == NULL || PQstatus(db) != CONNECTION_OK)
		return FL_E_STORE_UNAVAILABLE;
	if (state == NULL)
		return FL_E_STORE;
	if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0)
		return FL_E_STORE_RETRY;
	if (strncmp(state, "23", 2) == 0)
		return FL_E_CONFLICT;
	if (strcmp(state, "53100") == 0)
		return FL_E_INSUFFICIENT_STORAGE;
	if (strcmp(state, "53200") == 0)
		return FL_E_NOMEM;
	if (strcmp(state, "54000") == 0)
		return FL_E_TOO_LARGE;
	/* data exceptions: a number out of range, text that is not valid
	 * in the database's encoding */
	if (strcmp(state, "22003") == 0)
		return FL_E_RANGE;
	if (strncmp(state, "22", 2) == 0)
		return FL_E_INVALID;
	if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0)
		return FL_E_STORE_UNAVAILABLE;
	/* a lock_timeout or statement_timeout an operator configured */
	if (strcmp(state, "55P03") == 0 || strcmp(state, "57014") == 0)
		return FL_E_STORE_BUSY;
	if (strcmp(state, "XX001") == 0 || strcmp(state, "XX002") == 0)
		return FL_E_CORRUPT;
	return FL_E_STORE;
}

static void add_param(struct pg_params *p, const char *v, int len, int fmt)
{
	if (p->n == PG_PARAMS_MAX) {
		p->overflow = true;
		return;
	}
	p->v[p->n] = v;
	p->len[p->n] = len;
	p->fmt[p->n] = fmt;
	p->n++;
}

void pg_p_text(struct pg_params *p, const char *s)
{
	add_param(p, s, 0, 0);
}

void pg_p_int(struct pg_params *p, int64_t v)
{
	if (p->n == PG_PARAMS_MAX) {
		p->overflow = true;
		return;
	}
	snprintf(p->num[p->n], sizeof(p->num[0]), "%" PRId64, v);
	add_param(p, p->num[p->n], 0, 0);
}

void pg_p_blob(struct pg_params *p, const void *b, size_t n)
{
	add_param(p, b, b != NULL ? (int)n : 0, 1);
}

/* Runs a statement without parameters (several, ';'-separated). */
static fl_err exec(PGconn *db, const char *sql)
{
	PGresult *r = PQexec(db, sql);
	fl_err err = FL_OK;

	if (r == NULL || (PQresultStatus(r) != PGRES_COMMAND_OK &&
	                  PQresultStatus(r) != PGRES_TUPLES_OK))
		err = pg_fail(db, r);
	PQclear(r);
	return err;
}

/* The name of sql's prepared statement on c, preparing it the first
 * time. */
static fl_err prepared(struct pg_conn *c, const char *sql, int nparams,
                       char name[16])
{
	size_t h = ((uintptr_t)sql >> 3) % PG_CACHE_SLOTS;

	for (size_t i = 0; i < PG_CACHE_SLOTS; i++) {
		size_t slot = (h + i) % PG_CACHE_SLOTS;

		snprintf(name, 16, "fl%zu", slot);
		if (c->keys[slot] == sql)
			return FL_OK;
		if (c->keys[slot] == NULL) {
			PGresult *r =
			        PQprepare(c->db, name, sql, nparams, NULL);
			fl_err err = FL_OK;

			if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK)
				err = pg_fail(c->db, r);
			else
				c->keys[slot] = sql;
			PQclear(r);
			return err;
		}
	}
	return FL_E_INTERNAL;
}

static const char *const begin_sql[2] = {
        "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        "BEGIN ISOLATION LEVEL READ COMMITTED"};

/* Reads the results of a pipeline of n_queries queries and its sync, and
 * leaves pipeline mode. Queries n_pre to n_pre + n_keep - 1 are the
 * statements whose results the caller wants: each goes to keep[], the
 * rest are cleared. *failed_at is the first query that failed (-1 if
 * none), and the error is that query's, or the connection's. */
static fl_err pipeline_results(PGconn *db, int n_queries, int n_pre,
                               PGresult **keep, int n_keep, int *failed_at)
{
	PGresult *r;
	fl_err err = FL_OK;

	/* each query's results end with NULL; then the sync */
	for (int q = 0; q < n_queries; q++) {
		while ((r = PQgetResult(db)) != NULL) {
			ExecStatusType st = PQresultStatus(r);

			if (q >= n_pre && q < n_pre + n_keep &&
			    keep[q - n_pre] == NULL &&
			    (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)) {
				keep[q - n_pre] = r;
				continue;
			}
			if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK &&
			    st != PGRES_PIPELINE_ABORTED && *failed_at < 0) {
				err = pg_fail(db, r);
				*failed_at = q;
			}
			PQclear(r);
		}
		if (PQstatus(db) != CONNECTION_OK)
			break;
	}
	if (PQstatus(db) == CONNECTION_OK) {
		while ((r = PQgetResult(db)) != NULL) {
			bool sync = PQresultStatus(r) == PGRES_PIPELINE_SYNC;

			PQclear(r);
			if (sync)
				break;
		}
	}
	if (!PQexitPipelineMode(db) && err == FL_OK)
		err = pg_fail(db, NULL);
	for (int i = 0; i < n_keep && err == FL_OK; i++)
		if (keep[i] == NULL)
			err = pg_fail(db, NULL);
	return err;
}

/* Runs prepared statement `name` in one round trip (libpq's pipeline
 * mode) together with what must come before and after it: the
 * transaction's BEGIN (and its quiet setting) when it is the
 * transaction's first statement, and with PG_GUARD a savepoint around it,
 * so that when it fails only it is undone and the transaction goes on.
 * *res as pg_run. */
static fl_err run_pipeline(struct fl_tx *tx, const char *name,
                           const struct pg_params *p, int flags,
                           PGresult **res)
{
	const char *pre[3], *post = NULL;
	PGconn *db = tx->c->db;
	PGresult *stmt = NULL;
	bool guard = (flags & PG_GUARD) != 0, ok, begun = tx->begun;
	int n_pre = 0, failed_at = -1, n_queries;
	fl_err err = FL_OK;

	if (!begun) {
		pre[n_pre++] = begin_sql[tx->base.write];
		if (tx->quiet)
			pre[n_pre++] = "SET LOCAL finlock.quiet = 'on'";
	}
	if (guard) {
		pre[n_pre++] = "SAVEPOINT fl_guard";
		post = "RELEASE SAVEPOINT fl_guard";
	}
	n_queries = n_pre + 1 + (post != NULL);
	ok = PQenterPipelineMode(db);
	for (int i = 0; ok && i < n_pre; i++)
		ok = PQsendQueryParams(db, pre[i], 0, NULL, NULL, NULL, NULL,
		                       0);
	ok = ok && PQsendQueryPrepared(db, name, p->n, p->v, p->len, p->fmt,
	                               1);
	if (ok && post != NULL)
		ok = PQsendQueryParams(db, post, 0, NULL, NULL, NULL, NULL, 0);
	ok = ok && PQpipelineSync(db);
	if (!ok) {
		err = pg_fail(db, NULL);
		(void)PQexitPipelineMode(db);
		tx->failed = err == FL_OK ? FL_E_STORE : err;
		return tx->failed;
	}
	err = pipeline_results(db, n_queries, n_pre, &stmt, 1, &failed_at);
	/* BEGIN went through unless it is what failed */
	if (!begun && PQstatus(db) == CONNECTION_OK && failed_at != 0)
		tx->begun = true;
	if (err == FL_OK) {
		*res = stmt;
		return FL_OK;
	}
	PQclear(stmt);
	if (guard && failed_at == n_pre && err != FL_E_STORE_UNAVAILABLE) {
		/* not through exec(): the statement's message stays */
		PGresult *u = PQexec(db, "ROLLBACK TO SAVEPOINT fl_guard; "
		                         "RELEASE SAVEPOINT fl_guard");

		if (u == NULL || PQresultStatus(u) != PGRES_COMMAND_OK)
			tx->failed = err;
		PQclear(u);
	} else {
		tx->failed = err == FL_OK ? FL_E_STORE : err;
	}
	return err;
}

/* pg_run's work, once. */
static fl_err run_once(struct fl_tx *tx, const char *sql,
                       const struct pg_params *p, int flags, PGresult **res)
{
	struct pg_conn *c = tx->c;
	PGresult *r;
	char name[16];
	fl_err err;

	if ((err = prepared(c, sql, p->n, name)) != FL_OK) {
		/* a statement that fails to prepare aborts the transaction */
		tx->failed = err;
		return err;
	}
	if (!tx->begun || (flags & PG_GUARD) != 0)
		return run_pipeline(tx, name, p, flags, res);
	r = PQexecPrepared(c->db, name, p->n, p->v, p->len, p->fmt, 1);
	if (r == NULL || (PQresultStatus(r) != PGRES_COMMAND_OK &&
	                  PQresultStatus(r) != PGRES_TUPLES_OK)) {
		err = pg_fail(c->db, r);
		PQclear(r);
		tx->failed = err;
		return err;
	}
	*res = r;
	return FL_OK;
}

fl_err pg_run(struct fl_tx *tx, const char *sql, const struct pg_params *p,
              int flags, PGresult **res)
{
	static const struct pg_params none;
	PGresult *r = NULL;
	fl_err err;

	if (res != NULL)
		*res = NULL;
	if (p == NULL)
		p = &none;
	if (p->overflow)
		return FL_E_INTERNAL;
	if (tx->failed != FL_OK) {
		/* PostgreSQL ignores every statement until the rollback */
		return tx->failed;
	}
	err = run_once(tx, sql, p, flags, &r);
	if (err == FL_E_STORE_UNAVAILABLE && !tx->begun) {
		/* the first statement, on a connection the server dropped
		 * since its last use (a restart): nothing of the transaction
		 * happened, so once more on a new connection */
		tx->failed = FL_OK;
		drop_conn(tx->c);
		err = ready_conn(tx->base.st, tx->c);
		if (err == FL_OK)
			err = run_once(tx, sql, p, flags, &r);
		else
			tx->failed = err;
	}
	if (err == FL_OK && res != NULL)
		*res = r;
	else
		PQclear(r);
	return err;
}

/* pg_run_pair's work, once. */
static fl_err pair_once(struct fl_tx *tx, const char *const sql[2],
                        const struct pg_params *const p[2], PGresult *res[2])
{
	PGconn *db = tx->c->db;
	char name[2][16];
	const char *pre[2];
	bool begun = tx->begun, ok;
	int n_pre = 0, failed_at = -1;
	fl_err err = FL_OK;

	for (int i = 0; i < 2; i++) {
		if ((err = prepared(tx->c, sql[i], p[i]->n, name[i])) != FL_OK) {
			tx->failed = err;
			return err;
		}
	}
	if (!begun) {
		pre[n_pre++] = begin_sql[tx->base.write];
		if (tx->quiet)
			pre[n_pre++] = "SET LOCAL finlock.quiet = 'on'";
	}
	ok = PQenterPipelineMode(db);
	for (int i = 0; ok && i < n_pre; i++)
		ok = PQsendQueryParams(db, pre[i], 0, NULL, NULL, NULL, NULL,
		                       0);
	for (int i = 0; ok && i < 2; i++)
		ok = PQsendQueryPrepared(db, name[i], p[i]->n, p[i]->v,
		                         p[i]->len, p[i]->fmt, 1);
	ok = ok && PQpipelineSync(db);
	if (!ok) {
		err = pg_fail(db, NULL);
		(void)PQexitPipelineMode(db);
		tx->failed = err == FL_OK ? FL_E_STORE : err;
		return tx->failed;
	}
	err = pipeline_results(db, n_pre + 2, n_pre, res, 2, &failed_at);
	if (!begun && PQstatus(db) == CONNECTION_OK && failed_at != 0)
		tx->begun = true;
	if (err != FL_OK) {
		for (int i = 0; i < 2; i++) {
			PQclear(res[i]);
			res[i] = NULL;
		}
		tx->failed = err == FL_OK ? FL_E_STORE : err;
	}
	return err;
}

fl_err pg_run_pair(struct fl_tx *tx, const char *sql1,
                   const struct pg_params *p1, const char *sql2,
                   const struct pg_params *p2, PGresult **r1, PGresult **r2)
{
	static const struct pg_params none;
	const char *sql[2] = {sql1, sql2};
	const struct pg_params *p[2] = {p1 != NULL ? p1 : &none,
	                                p2 != NULL ? p2 : &none};
	PGresult *res[2] = {NULL, NULL};
	fl_err err;

	*r1 = *r2 = NULL;
	if (p[0]->overflow || p[1]->overflow)
		return FL_E_INTERNAL;
	if (tx->failed != FL_OK)
		return tx->failed;
	err = pair_once(tx, sql, p, res);
	if (err == FL_E_STORE_UNAVAILABLE && !tx->begun) {
		/* as pg_run: a connection dropped since its last use */
		tx->failed = FL_OK;
		drop_conn(tx->c);
		err = ready_conn(tx->base.st, tx->c);
		if (err == FL_OK)
			err = pair_once(tx, sql, p, res);
		else
			tx->failed = err;
	}
	*r1 = res[0];
	*r2 = res[1];
	return err;
}

fl_err pg_cmd(struct fl_tx *tx, const char *sql, const struct pg_params *p,
              int flags, int64_t *changed)
{
	PGresult *r = NULL;
	fl_err err = pg_run(tx, sql, p, flags, &r);

	if (changed != NULL)
		*changed = err == FL_OK ? strtoll(PQcmdTuples(r), NULL, 10) : 0;
	PQclear(r);
	return err;
}

bool pg_null(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) != 0;
}

int64_t pg_returned(const PGresult *r)
{
	return r != NULL && PQntuples(r) == 1 ? pg_int(r, 0, 0) : 0;
}

int64_t pg_int(const PGresult *r, int row, int col)
{
	const char *v = PQgetvalue(r, row, col);
	int len = PQgetlength(r, row, col);
	uint64_t u8;
	uint32_t u4;
	uint16_t u2;

	if (PQgetisnull(r, row, col))
		return 0;
	switch (PQftype(r, col)) {
	case OID_INT8:
		if (len != 8)
			return 0;
		memcpy(&u8, v, 8);
		return (int64_t)be64toh(u8);
	case OID_INT4:
		if (len != 4)
			return 0;
		memcpy(&u4, v, 4);
		return (int32_t)be32toh(u4);
	case OID_INT2:
		if (len != 2)
			return 0;
		memcpy(&u2, v, 2);
		return (int16_t)be16toh(u2);
	case OID_BOOL:
		return len == 1 && v[0] != 0;
	default:
		return 0;
	}
}

fl_err pg_text(const PGresult *r, int row, int col, char *buf, size_t cap)
{
	int len = PQgetlength(r, row, col);

	buf[0] = '\0';
	if (PQgetisnull(r, row, col))
		return FL_OK;
	if ((size_t)len + 1 > cap)
		return FL_E_CORRUPT;
	memcpy(buf, PQgetvalue(r, row, col), (size_t)len);
	buf[len] = '\0';
	return FL_OK;
}

fl_err pg_blob(const PGresult *r, int row, int col, void *buf, size_t n)
{
	if (PQgetisnull(r, row, col) || (size_t)PQgetlength(r, row, col) != n) {
		memset(buf, 0, n);
		return FL_E_CORRUPT;
	}
	memcpy(buf, PQgetvalue(r, row, col), n);
	return FL_OK;
}

/* --- connections -----------------------------------------------------------
 */

static void quiet_notices(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

/* A new connection with the session settings every transaction relies
 * on; NULL (the reason noted) when the server cannot be reached. */
static PGconn *connect_db(struct fl_store *st)
{
	/* TCP keepalives: a notice connection cut without a word from the
	 * network is found dead in seconds, not hours. What conninfo says
	 * (processed last) wins. */
	const char *keys[] = {"connect_timeout",
	                      "application_name",
	                      "keepalives_idle",
	                      "keepalives_interval",
	                      "keepalives_count",
	                      "dbname",
	                      NULL};
	const char *vals[] = {st->timeout, "finlockd",   "10", "3",
	                      "3",         st->conninfo, NULL};
	PGconn *db = PQconnectdbParams(keys, vals, 1);

	if (db == NULL) {
		note("", "out of memory", NULL);
		return NULL;
	}
	if (PQstatus(db) != CONNECTION_OK) {
		note("cannot connect: ", PQerrorMessage(db), NULL);
		PQfinish(db);
		return NULL;
	}
	PQsetNoticeProcessor(db, quiet_notices, NULL);
	/* durability: a commit returns once flushed (store.h). Every value
	 * but off flushes locally; a stronger one an operator chose for a
	 * synchronous replica (remote_write, remote_apply) is kept. */
	if (exec(db, "SELECT set_config('synchronous_commit', 'on', false) "
	             "WHERE current_setting('synchronous_commit') = 'off'") !=
	    FL_OK) {
		PQfinish(db);
		return NULL;
	}
	return db;
}

static void drop_conn(struct pg_conn *c)
{
	if (c->db != NULL)
		PQfinish(c->db);
	c->db = NULL;
	c->pending = false;
	memset(c->keys, 0, sizeof(c->keys));
	atomic_store(&c->pid, 0);
}

/* Makes c usable: connected, and not inside a transaction. */
static fl_err ready_conn(struct fl_store *st, struct pg_conn *c)
{
	if (c->pending && c->db != NULL) {
		/* the answer to the last read transaction's ROLLBACK */
		PGresult *r;
		bool ok = true;

		while ((r = PQgetResult(c->db)) != NULL) {
			ok = ok && PQresultStatus(r) == PGRES_COMMAND_OK;
			PQclear(r);
		}
		c->pending = false;
		if (!ok)
			drop_conn(c);
	}
	if (c->db != NULL && PQstatus(c->db) == CONNECTION_OK &&
	    PQtransactionStatus(c->db) == PQTRANS_IDLE)
		return FL_OK;
	drop_conn(c);
	c->db = connect_db(st);
	if (c->db == NULL)
		return FL_E_STORE_UNAVAILABLE;
	atomic_store(&c->pid, PQbackendPID(c->db));
	return FL_OK;
}

static void release_conn(struct fl_store *st, struct pg_conn *c)
{
	pthread_mutex_lock(&st->mu);
	c->in_use = false;
	pthread_cond_signal(&st->cv);
	pthread_mutex_unlock(&st->mu);
}

static struct pg_conn *acquire_conn(struct fl_store *st)
{
	struct pg_conn *c = NULL;

	pthread_mutex_lock(&st->mu);
	for (;;) {
		/* a connected one first */
		for (int i = 0; i < st->n_conns && c == NULL; i++)
			if (!st->conns[i].in_use && st->conns[i].db != NULL)
				c = &st->conns[i];
		for (int i = 0; i < st->n_conns && c == NULL; i++)
			if (!st->conns[i].in_use)
				c = &st->conns[i];
		if (c != NULL)
			break;
		pthread_cond_wait(&st->cv, &st->mu);
	}
	c->in_use = true;
	pthread_mutex_unlock(&st->mu);
	return c;
}

/* --- the device clock --------------------------------------------------------
 */

static size_t stamp_bucket(int64_t ord)
{
	uint64_t h = (uint64_t)ord * 0x9e3779b97f4a7c15ULL;

	return (size_t)(h >> 48) & (PG_STAMP_BUCKETS - 1);
}

/* Advances the clock, stamps rows[0..n) (or, all, every row), then calls
 * the subscribers (ord -1 for all). */
static void stamp(struct fl_store *st, const int64_t *rows, size_t n, bool all)
{
	uint64_t c;

	if (n == 0 && !all)
		return;
	pthread_mutex_lock(&st->stamp_mu);
	c = atomic_load(&st->clock) + 1;
	for (size_t i = 0; i < n; i++)
		atomic_store(&st->stamps[stamp_bucket(rows[i])], c);
	if (all)
		atomic_store(&st->floor, c);
	atomic_store(&st->clock, c);
	pthread_mutex_unlock(&st->stamp_mu);
	for (int f = 0; f < atomic_load(&st->n_feed); f++) {
		if (all) {
			st->feed[f].fn(st->feed[f].ctx, -1);
			continue;
		}
		for (size_t i = 0; i < n; i++)
			st->feed[f].fn(st->feed[f].ctx, rows[i]);
	}
}

/* Stamps what finlock.changed listed ("12,15" or "all"). */
static void stamp_list(struct fl_store *st, const char *list)
{
	int64_t rows[64], *many = NULL;
	size_t n = 0, cap = 64;
	const char *p = list;
	int64_t *arr = rows;

	if (list == NULL || list[0] == '\0')
		return;
	if (strcmp(list, "all") == 0) {
		stamp(st, NULL, 0, true);
		return;
	}
	while (*p != '\0') {
		char *end = NULL;
		long long v = strtoll(p, &end, 10);

		if (end == p)
			break;
		if (n == cap) {
			int64_t *na;

			if (cap * 2 > PG_WATCH_MAX ||
			    (na = realloc(many, cap * 2 * sizeof(*na))) ==
			            NULL) {
				free(many);
				stamp(st, NULL, 0, true);
				return;
			}
			if (many == NULL)
				memcpy(na, rows, sizeof(rows));
			many = na;
			arr = many;
			cap *= 2;
		}
		arr[n++] = v;
		p = *end == ',' ? end + 1 : end;
	}
	stamp(st, arr, n, false);
	free(many);
}

static uint64_t pg_device_clock(struct fl_store *st)
{
	return atomic_load(&st->clock);
}

static bool pg_device_unchanged(struct fl_store *st, int64_t ord,
                                uint64_t clock)
{
	return atomic_load(&st->listening) &&
	       atomic_load(&st->floor) <= clock &&
	       atomic_load(&st->stamps[stamp_bucket(ord)]) <= clock;
}

static fl_err pg_feed_subscribe(struct fl_store *st, fl_store_feed_fn fn,
                                void *ctx)
{
	int n = atomic_load(&st->n_feed);

	if (n == FL_STORE_FEED_MAX)
		return FL_E_LIMIT;
	st->feed[n].fn = fn;
	st->feed[n].ctx = ctx;
	atomic_store(&st->n_feed, n + 1);
	return FL_OK;
}

/* True when pid is one of this store's pool connections: its commits were
 * stamped by the committing thread. */
static bool own_pid(struct fl_store *st, int pid)
{
	for (int i = 0; i < st->n_conns; i++)
		if (atomic_load(&st->conns[i].pid) == pid)
			return true;
	return false;
}

/* Connects the notice connection and LISTENs; NULL when it cannot. */
static PGconn *listen_db(struct fl_store *st)
{
	PGconn *db = connect_db(st);

	if (db == NULL)
		return NULL;
	if (exec(db, "LISTEN " PG_CHANNEL) != FL_OK) {
		PQfinish(db);
		return NULL;
	}
	return db;
}

/* Waits up to ms for the wake pipe; true when the thread is to stop. */
static bool nap(struct fl_store *st, int ms)
{
	struct pollfd pfd = {.fd = st->wake[0], .events = POLLIN};

	(void)poll(&pfd, 1, ms);
	return atomic_load(&st->stop);
}

/* The notice thread: stamps and feeds what other processes commit; makes
 * the notice connection again when it is lost (see the header). */
static void *notice_main(void *arg)
{
	struct fl_store *st = arg;

	while (!atomic_load(&st->stop)) {
		struct pollfd pfd[2];
		PGnotify *n;

		if (st->notice == NULL) {
			if (nap(st, PG_RELISTEN_MS))
				break;
			st->notice = listen_db(st);
			if (st->notice == NULL)
				continue;
			/* back: every row may have changed meanwhile */
			stamp(st, NULL, 0, true);
			atomic_store(&st->listening, true);
			continue;
		}
		pfd[0].fd = PQsocket(st->notice);
		pfd[0].events = POLLIN;
		pfd[1].fd = st->wake[0];
		pfd[1].events = POLLIN;
		if (poll(pfd, 2, 1000) < 0 && errno != EINTR)
			break;
		if (atomic_load(&st->stop))
			break;
		if ((pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) == 0)
			continue;
		if (!PQconsumeInput(st->notice) ||
		    PQstatus(st->notice) != CONNECTION_OK) {
			atomic_store(&st->listening, false);
			PQfinish(st->notice);
			st->notice = NULL;
			continue;
		}
		while ((n = PQnotifies(st->notice)) != NULL) {
			char *end = NULL;
			long long ord = strtoll(n->extra, &end, 10);

			if (end != n->extra && !own_pid(st, n->be_pid)) {
				int64_t o = ord;

				stamp(st, &o, 1, false);
			}
			PQfreemem(n);
		}
	}
	return NULL;
}

/* --- transactions -------------------------------------------------------- */

/* A transaction holds a connected connection from the start; its BEGIN
 * goes with its first statement (run_pipeline), saving a round trip, and
 * a transaction that ran none costs none. */
static fl_err pg_begin(struct fl_store *st, bool write, struct fl_tx **out)
{
	struct fl_tx *tx = NULL;
	struct pg_conn *c = NULL;
	fl_err err;

	*out = NULL;
	tx = calloc(1, sizeof(*tx));
	if (tx == NULL)
		return FL_E_NOMEM;
	c = acquire_conn(st);
	TRY(ready_conn(st, c));
	tx->base.ops = &pg_ops;
	tx->base.st = st;
	tx->base.write = write;
	tx->c = c;
	*out = tx;
	tx = NULL;
	c = NULL;
out:
	if (c != NULL)
		release_conn(st, c);
	free(tx);
	return err;
}

static void end_tx(struct fl_tx *tx)
{
	struct pg_conn *c = tx->c;

	/* a connection left inside a transaction is made again (one whose
	 * ROLLBACK is on its way is ready_conn's to check) */
	if (c->db != NULL && !c->pending &&
	    (PQstatus(c->db) != CONNECTION_OK ||
	     PQtransactionStatus(c->db) != PQTRANS_IDLE))
		drop_conn(c);
	release_conn(tx->base.st, c);
	free(tx);
}

static void pg_rollback(struct fl_tx *tx)
{
	PGconn *db = tx->c->db;

	/* A read transaction that went well: its ROLLBACK is sent and its
	 * answer read by the connection's next user (ready_conn), so the
	 * reader does not wait a round trip for it. (A read transaction
	 * changed nothing: whenever the server ends it, nothing is lost.) */
	if (tx->begun && !tx->base.write && tx->failed == FL_OK &&
	    db != NULL && PQstatus(db) == CONNECTION_OK &&
	    PQtransactionStatus(db) == PQTRANS_INTRANS &&
	    PQsendQuery(db, "ROLLBACK")) {
		tx->c->pending = true;
		end_tx(tx);
		return;
	}
	/* not through exec(): a failure that led here keeps its message */
	if (tx->begun)
		PQclear(PQexec(db, "ROLLBACK"));
	end_tx(tx);
}

/* COMMIT of a write transaction, with the rows it changed read in the
 * same round trip; stamps them (store.h: before fl_tx_commit returns). */
static fl_err commit_write(struct fl_tx *tx)
{
	struct fl_store *st = tx->base.st;
	PGconn *db = tx->c->db;
	PGresult *r;
	char *changed = NULL;
	bool got_list = false, committed = false, unknown = false;
	fl_err err = FL_OK;

	if (!PQsendQuery(db, "SELECT current_setting('finlock.changed', "
	                     "true); COMMIT")) {
		/* nothing sent: the server rolls the transaction back */
		note("", PQerrorMessage(db), NULL);
		return FL_E_STORE_UNAVAILABLE;
	}
	while ((r = PQgetResult(db)) != NULL) {
		ExecStatusType s = PQresultStatus(r);

		if (s == PGRES_TUPLES_OK && !got_list) {
			got_list = true;
			if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
				changed = strdup(PQgetvalue(r, 0, 0));
		} else if (s == PGRES_COMMAND_OK) {
			committed = strcmp(PQcmdStatus(r), "COMMIT") == 0;
		} else if (err == FL_OK) {
			err = pg_fail(db, r);
		}
		PQclear(r);
	}
	if (err == FL_OK && !committed) {
		note("", "the transaction was rolled back", NULL);
		err = FL_E_STORE;
	}
	if (err == FL_OK && PQstatus(db) != CONNECTION_OK)
		err = FL_E_STORE_UNAVAILABLE;
	/* the commit may have reached the disk without its answer */
	unknown = err == FL_E_STORE_UNAVAILABLE;
	if (committed || unknown) {
		if (!got_list)
			stamp(st, NULL, 0, true); /* which rows is not known */
		else
			stamp_list(st, changed); /* NULL: no device row */
	}
	free(changed);
	return err;
}

static fl_err pg_commit(struct fl_tx *tx)
{
	fl_err err;

	if (tx->failed != FL_OK) {
		/* PostgreSQL aborted it at that failure */
		err = tx->failed;
		if (tx->begun)
			PQclear(PQexec(tx->c->db, "ROLLBACK"));
	} else if (!tx->begun) {
		err = FL_OK; /* no statement: nothing to commit */
	} else if (tx->base.write) {
		err = commit_write(tx);
	} else {
		err = exec(tx->c->db, "COMMIT");
	}
	end_tx(tx);
	return err;
}

static void pg_tx_quiet(struct fl_tx *tx)
{
	/* the triggers of migration 2 read it; should it fail, the
	 * transaction is merely not quiet */
	if (tx->quiet || tx->failed != FL_OK)
		return;
	if (!tx->begun)
		tx->quiet = true; /* sent with BEGIN (run_pipeline) */
	else if (exec(tx->c->db, "SET LOCAL finlock.quiet = 'on'") == FL_OK)
		tx->quiet = true;
}

/* --- concurrency ------------------------------------------------------------
 */

static fl_err advisory(struct fl_tx *tx, const char *sql, const char *name,
                       bool *got)
{
	struct pg_params p = {0};
	PGresult *r = NULL;
	fl_err err;

	if (!tx->base.write)
		return FL_E_STATE;
	pg_p_text(&p, name);
	TRY(pg_run(tx, sql, &p, 0, &r));
	if (got != NULL)
		*got = PQntuples(r) == 1 && pg_int(r, 0, 0) != 0;
out:
	PQclear(r);
	return err;
}

static fl_err pg_lock_device(struct fl_tx *tx, const char *device_id)
{
	static const char sql[] = "SELECT pg_advisory_xact_lock("
	                          "hashtextextended('finlock.device:' || "
	                          "$1::text, 0))";

	return advisory(tx, sql, device_id, NULL);
}

static fl_err pg_lock_chain(struct fl_tx *tx, const char *chain)
{
	static const char sql[] = "SELECT pg_advisory_xact_lock("
	                          "hashtextextended('finlock.chain:' || "
	                          "$1::text, 0))";

	return advisory(tx, sql, chain, NULL);
}

static fl_err pg_job_claim(struct fl_tx *tx, const char *name, bool *mine)
{
	static const char sql[] = "SELECT pg_try_advisory_xact_lock("
	                          "hashtextextended('finlock.job:' || "
	                          "$1::text, 0))";
	fl_err err;

	*mine = false;
	err = advisory(tx, sql, name, mine);
	if (err != FL_OK)
		*mine = false;
	return err;
}

/* --- migrations -------------------------------------------------------------
 */

/* One query's single integer (or bool) answer. */
static fl_err query_int(PGconn *db, const char *sql, int64_t *v)
{
	PGresult *r = PQexecParams(db, sql, 0, NULL, NULL, NULL, NULL, 1);
	fl_err err = FL_OK;

	*v = 0;
	if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK ||
	    PQntuples(r) != 1)
		err = r != NULL && PQresultStatus(r) == PGRES_TUPLES_OK
		              ? FL_E_STORE
		              : pg_fail(db, r);
	else
		*v = pg_int(r, 0, 0);
	PQclear(r);
	return err;
}

static fl_err record_version(PGconn *db, int v)
{
	char sql[128];

	snprintf(sql, sizeof(sql),
	         "INSERT INTO schema_version VALUES (%d, %lld)", v,
	         (long long)time(NULL));
	return exec(db, sql);
}

/* Applies every migration newer than the database, each in its own
 * transaction with its schema_version row, holding the migration lock so
 * that processes starting together apply each once. */
static fl_err migrate(struct fl_store *st, PGconn *db, bool must_exist)
{
	int64_t exists = 0, v = 0;
	fl_err err;

	if (pg_migrations_count != fl_store_schema_latest()) {
		note("", "migrations of the two backends differ", NULL);
		return FL_E_INTERNAL;
	}
	TRY(exec(db, "SELECT pg_advisory_lock(hashtextextended("
	             "'finlock.migrate', 0))"));
	TRY(query_int(db, "SELECT to_regclass('schema_version') IS NOT NULL",
	              &exists));
	if (exists)
		TRY(query_int(db,
		              "SELECT coalesce(max(version), 0)::bigint "
		              "FROM schema_version",
		              &v));
	st->base.created = v == 0;
	if (v == 0 && must_exist) {
		err = FL_E_STORE_MISSING;
		goto out;
	}
	TRY(exec(db, "CREATE TABLE IF NOT EXISTS schema_version ("
	             " version INTEGER PRIMARY KEY,"
	             " applied_at BIGINT NOT NULL)"));
	for (;;) {
		TRY(exec(db, "BEGIN"));
		err = query_int(db,
		                "SELECT coalesce(max(version), 0)::bigint "
		                "FROM schema_version",
		                &v);
		if (err == FL_OK && v > pg_migrations_count)
			err = FL_E_STORE_SCHEMA;
		if (err == FL_OK && v == pg_migrations_count) {
			err = exec(db, "COMMIT");
			break;
		}
		if (err == FL_OK)
			err = exec(db, pg_migrations[v]);
		if (err == FL_OK)
			err = record_version(db, (int)v + 1);
		if (err == FL_OK)
			err = exec(db, "COMMIT");
		if (err != FL_OK) {
			PQclear(PQexec(db, "ROLLBACK"));
			goto out;
		}
	}
	st->base.schema_version = (int)v;
out:
	PQclear(PQexec(db, "SELECT pg_advisory_unlock(hashtextextended("
	                   "'finlock.migrate', 0))"));
	return err;
}

/* --- opening and closing ------------------------------------------------- */

/* True when libpq can read conninfo (a URI or key=value string); else
 * notes libpq's words. */
static bool valid_conninfo(const char *conninfo)
{
	char *why = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo, &why);

	if (opts == NULL) {
		note("connection string: ", why != NULL ? why : "out of memory",
		     NULL);
		PQfreemem(why);
		return false;
	}
	PQconninfoFree(opts);
	return true;
}

/* FL_OK when a commit on db returns only once it is on disk: this session
 * has synchronous_commit on (connect_db sets it) and the server fsyncs. */
static fl_err durable(PGconn *db)
{
	static const char sql[] =
	        "SELECT current_setting('synchronous_commit') <> 'off' AND "
	        "current_setting('fsync') = 'on'";
	int64_t ok = 0;
	fl_err err = query_int(db, sql, &ok);

	if (err == FL_OK && !ok) {
		note("",
		     "the server runs with fsync or synchronous_commit off: "
		     "a commit would not be durable",
		     NULL);
		err = FL_E_STORE;
	}
	return err;
}

static void pg_close(struct fl_store *st)
{
	if (st->thread_started) {
		atomic_store(&st->stop, true);
		if (write(st->wake[1], "x", 1) < 0) {
			/* the thread notices stop within a second anyway */
		}
		pthread_join(st->thread, NULL);
	}
	if (st->notice != NULL)
		PQfinish(st->notice);
	for (int i = 0; i < st->n_conns; i++)
		drop_conn(&st->conns[i]);
	if (st->wake[0] >= 0)
		close(st->wake[0]);
	if (st->wake[1] >= 0)
		close(st->wake[1]);
	free(st->conns);
	free(st->stamps);
	free(st->conninfo);
	pthread_mutex_destroy(&st->stamp_mu);
	pthread_cond_destroy(&st->cv);
	pthread_mutex_destroy(&st->mu);
	free(st);
}

fl_err fl_store_open_pg(struct fl_store **out, const char *conninfo,
                        const struct fl_store_pg_opts *opts)
{
	struct fl_store *st = NULL;
	int n = opts != NULL && opts->pool_size > 0 ? opts->pool_size : 8;
	int timeout = opts != NULL && opts->connect_timeout_s > 0
	                      ? opts->connect_timeout_s
	                      : 5;
	fl_err err;

	*out = NULL;
	if (!valid_conninfo(conninfo))
		return FL_E_INVALID;
	if (n < 2)
		n = 2;
	if (n > 256)
		n = 256;
	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return FL_E_NOMEM;
	st->wake[0] = st->wake[1] = -1;
	pthread_mutex_init(&st->stamp_mu, NULL);
	pthread_mutex_init(&st->mu, NULL);
	pthread_cond_init(&st->cv, NULL);
	st->base.ops = &pg_ops;
	st->n_conns = n;
	snprintf(st->timeout, sizeof(st->timeout), "%d", timeout);
	st->conninfo = strdup(conninfo);
	st->conns = calloc((size_t)n, sizeof(*st->conns));
	st->stamps = calloc(PG_STAMP_BUCKETS, sizeof(*st->stamps));
	if (st->conninfo == NULL || st->conns == NULL || st->stamps == NULL) {
		err = FL_E_NOMEM;
		goto out;
	}
	if (pipe(st->wake) != 0 ||
	    fcntl(st->wake[0], F_SETFD, FD_CLOEXEC) != 0 ||
	    fcntl(st->wake[1], F_SETFD, FD_CLOEXEC) != 0) {
		err = FL_E_IO;
		goto out;
	}
	if ((err = ready_conn(st, &st->conns[0])) != FL_OK)
		goto out;
	if ((err = durable(st->conns[0].db)) != FL_OK)
		goto out;
	if ((err = migrate(st, st->conns[0].db,
	                   opts != NULL && opts->must_exist)) != FL_OK)
		goto out;
	/* listening before the first transaction: no notice is missed */
	st->notice = listen_db(st);
	if (st->notice == NULL) {
		err = FL_E_STORE_UNAVAILABLE;
		goto out;
	}
	atomic_store(&st->listening, true);
	if (pthread_create(&st->thread, NULL, notice_main, st) != 0) {
		err = FL_E_NOMEM;
		goto out;
	}
	st->thread_started = true;
	*out = st;
	st = NULL;
	err = FL_OK;
out:
	if (st != NULL)
		pg_close(st);
	return err;
}

/* --- integrity and snapshots ---------------------------------------------- */

/* Appends a line to problem. */
static void add_problem(char problem[FL_STORE_PROBLEM_MAX], const char *s)
{
	size_t used = strlen(problem);

	if (used + 3 < FL_STORE_PROBLEM_MAX)
		snprintf(problem + used, FL_STORE_PROBLEM_MAX - used, "%s%s",
		         used > 0 ? "; " : "", s);
}

/* Runs sql (a check) on db: FL_OK, or the mapped error with PostgreSQL's
 * words added to problem. Only damaged data (XX001, XX002) is
 * FL_E_CORRUPT; any other failure (a permission, the server gone) keeps
 * its own kind, so that a check that could not run never passes for
 * damage. */
static fl_err check_sql(PGconn *db, const char *sql,
                        char problem[FL_STORE_PROBLEM_MAX])
{
	PGresult *q = PQexec(db, sql);
	fl_err err = FL_OK;

	if (q == NULL || PQresultStatus(q) != PGRES_TUPLES_OK) {
		err = pg_fail(db, q);
		add_problem(problem, fl_store_errmsg());
	}
	PQclear(q);
	return err;
}

/* PostgreSQL's start-up checks: the server answers, the schema is at the
 * version this build knows, and every table of the schema can be read
 * (a page of each). full = true reads every row of every table (a
 * damaged page fails the read, a checksum mismatch too when the cluster
 * keeps data checksums) and, when the amcheck extension is installed in
 * the database and this role may run it (a superuser installs it and
 * grants its functions), checks every B-tree index of the schema with
 * bt_index_check. Without amcheck the indexes are not checked, and
 * fl_store_errmsg() says what was. */
static fl_err pg_check(struct fl_store *st, bool full,
                       char problem[FL_STORE_PROBLEM_MAX])
{
	static const char version_sql[] =
	        "SELECT coalesce(max(version), 0)::bigint FROM schema_version";
	static const char tables_sql[] =
	        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n "
	        "ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND "
	        "n.nspname = current_schema() ORDER BY 1";
	/* the schema amcheck lives in, when this role may run it */
	static const char amcheck_sql[] =
	        "SELECT n.nspname::text FROM pg_extension e JOIN pg_namespace "
	        "n "
	        "ON n.oid = e.extnamespace WHERE e.extname = 'amcheck' AND "
	        "coalesce(has_function_privilege(to_regprocedure("
	        "quote_ident(n.nspname) || '.bt_index_check(regclass)'), "
	        "'EXECUTE'), false)";
	struct fl_tx *tx = NULL;
	PGresult *r = NULL, *a = NULL;
	int64_t v = 0;
	PGconn *db;
	fl_err err;

	problem[0] = '\0';
	err = pg_begin(st, false, &tx);
	if (err != FL_OK) {
		snprintf(problem, FL_STORE_PROBLEM_MAX, "%s",
		         fl_store_errmsg());
		return err;
	}
	/* the first statement: the connection is made again if it has to */
	err = pg_run(tx, version_sql, NULL, 0, &r);
	db = tx->c->db;
	if (err == FL_OK)
		v = PQntuples(r) == 1 ? pg_int(r, 0, 0) : 0;
	PQclear(r);
	r = NULL;
	if (err == FL_OK && v != fl_store_schema_latest()) {
		snprintf(problem, FL_STORE_PROBLEM_MAX,
		         "schema version %lld, this build knows %d",
		         (long long)v, fl_store_schema_latest());
		err = v > fl_store_schema_latest() ? FL_E_STORE_SCHEMA
		                                   : FL_E_STORE;
		goto out;
	}
	if (err == FL_OK)
		err = pg_run(tx, tables_sql, NULL, 0, &r);
	for (int i = 0; err == FL_OK && i < PQntuples(r); i++) {
		char table[128], sql[300];
		char *quoted;

		if (pg_text(r, i, 0, table, sizeof(table)) != FL_OK)
			continue;
		quoted = PQescapeIdentifier(db, table, strlen(table));
		if (quoted == NULL) {
			err = FL_E_NOMEM;
			break;
		}
		/* LIMIT 1 reads a page; full reads them all */
		snprintf(sql, sizeof(sql),
		         full ? "SELECT count(*) FROM %s"
		              : "SELECT 1 FROM %s LIMIT 1",
		         quoted);
		PQfreemem(quoted);
		err = check_sql(db, sql, problem);
	}
	if (err != FL_OK || !full)
		goto out;
	a = PQexecParams(db, amcheck_sql, 0, NULL, NULL, NULL, NULL, 0);
	if (a == NULL || PQresultStatus(a) != PGRES_TUPLES_OK) {
		err = pg_fail(db, a);
		add_problem(problem, fl_store_errmsg());
	} else if (PQntuples(a) == 0) {
		note("",
		     "amcheck is not installed, or this role may not run "
		     "it: checked that the server answers, the schema "
		     "version and that every row of every table reads, "
		     "not the indexes",
		     NULL);
	} else {
		char *schema = PQescapeIdentifier(db, PQgetvalue(a, 0, 0),
		                                  strlen(PQgetvalue(a, 0, 0)));
		char sql[400];

		if (schema == NULL) {
			err = FL_E_NOMEM;
			goto out;
		}
		snprintf(
		        sql, sizeof(sql),
		        "SELECT %s.bt_index_check(c.oid) FROM pg_class c "
		        "JOIN pg_namespace n ON n.oid = c.relnamespace "
		        "JOIN pg_am m ON m.oid = c.relam WHERE c.relkind = 'i' "
		        "AND m.amname = 'btree' AND n.nspname = "
		        "current_schema()",
		        schema);
		PQfreemem(schema);
		err = check_sql(db, sql, problem);
	}
out:
	if (err != FL_OK && problem[0] == '\0')
		snprintf(problem, FL_STORE_PROBLEM_MAX, "%s",
		         fl_store_errmsg());
	for (char *p = problem; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
	PQclear(a);
	PQclear(r);
	pg_rollback(tx);
	return err;
}

static fl_err pg_snapshot(struct fl_store *st, const char *path)
{
	(void)st;
	(void)path;
	note("",
	     "a PostgreSQL database is copied with PostgreSQL's own "
	     "tools: pg_dump (a logical copy of one database) or "
	     "pg_basebackup (a physical copy of the cluster, with its WAL)",
	     NULL);
	return FL_E_STATE;
}

static const struct fl_store_ops pg_ops = {
        .name = "postgresql",
        .close = pg_close,
        .begin = pg_begin,
        .commit = pg_commit,
        .rollback = pg_rollback,
        .device_clock = pg_device_clock,
        .device_unchanged = pg_device_unchanged,
        .tx_quiet = pg_tx_quiet,
        .feed_subscribe = pg_feed_subscribe,
        .lock_device = pg_lock_device,
        .lock_chain = pg_lock_chain,
        .job_claim = pg_job_claim,
        .check = pg_check,
        .keys_fingerprint = pg_keys_fingerprint,
        .keys_fingerprint_put = pg_keys_fingerprint_put,
        .snapshot = pg_snapshot,
        .tenant_insert = pg_tenant_insert,
        .tenant_get = pg_tenant_get,
        .tenant_list = pg_tenant_list,
        .apikey_insert = pg_apikey_insert,
        .apikey_by_hash = pg_apikey_by_hash,
        .apikey_get = pg_apikey_get,
        .apikey_revoke = pg_apikey_revoke,
        .apikey_list = pg_apikey_list,
        .apikey_count = pg_apikey_count,
        .apikey_touch = pg_apikey_touch,
        .idem_get = pg_idem_get,
        .idem_put = pg_idem_put,
        .idem_expire = pg_idem_expire,
        .audit_head = pg_audit_head,
        .audit_append = pg_audit_append,
        .audit_list = pg_audit_list,
        .audit_chains = pg_audit_chains,
        .audit_head_save = pg_audit_head_save,
        .audit_head_latest = pg_audit_head_latest,
        .device_insert = pg_device_insert,
        .device_get = pg_device_get,
        .device_get_any = pg_device_get_any,
        .device_by_imei = pg_device_by_imei,
        .device_by_enroll_hash = pg_device_by_enroll_hash,
        .device_set_enroll_code = pg_device_set_enroll_code,
        .device_enroll = pg_device_enroll,
        .device_touch = pg_device_touch,
        .device_report = pg_device_report,
        .device_set_status = pg_device_set_status,
        .device_unclaim = pg_device_unclaim,
        .device_list = pg_device_list,
        .device_due = pg_device_due,
        .device_count = pg_device_count,
        .contract_insert = pg_contract_insert,
        .contract_get = pg_contract_get,
        .contract_list = pg_contract_list,
        .reschedule_insert = pg_reschedule_insert,
        .payment_insert = pg_payment_insert,
        .payment_get = pg_payment_get,
        .payment_by_reference = pg_payment_by_reference,
        .payment_reverse = pg_payment_reverse,
        .payment_list = pg_payment_list,
        .command_insert = pg_command_insert,
        .command_get = pg_command_get,
        .command_cancel = pg_command_cancel,
        .device_inputs = pg_device_inputs,
        .device_load = pg_device_load,
        .device_due_load = pg_device_due_load,
        .device_set_status_many = pg_device_set_status_many,
        .state_change_add_many = pg_state_change_add_many,
        .device_next_change = pg_device_next_change,
        .dp_enroll = pg_dp_enroll,
        .dp_touch = pg_dp_touch,
        .dp_seal = pg_dp_seal,
        .dp_token_memo = pg_dp_token_memo,
        .dp_claim = pg_dp_claim,
        .used_code_put = pg_used_code_put,
        .used_code_get = pg_used_code_get,
        .pairing_put = pg_pairing_put,
        .pairing_get = pg_pairing_get,
        .pairing_list = pg_pairing_list,
        .pairing_decide = pg_pairing_decide,
        .pairing_expire = pg_pairing_expire,
        .pairing_drop = pg_pairing_drop,
        .pairing_count_net = pg_pairing_count_net,
        .dp_set_factory = pg_dp_set_factory,
        .report_add = pg_report_add,
        .report_list = pg_report_list,
        .ocode_get = pg_ocode_get,
        .ocode_issue = pg_ocode_issue,
        .ocode_used = pg_ocode_used,
        .session_insert = pg_session_insert,
        .session_get = pg_session_get,
        .session_touch = pg_session_touch,
        .session_delete = pg_session_delete,
        .session_expire = pg_session_expire,
        .source_list = pg_source_list,
        .provider_ref_list = pg_provider_ref_list,
        .unmatched_list = pg_unmatched_list,
        .hold_list = pg_hold_list,
        .source_insert = pg_source_insert,
        .source_get = pg_source_get,
        .source_update = pg_source_update,
        .source_touch = pg_source_touch,
        .provider_ref_put = pg_provider_ref_put,
        .provider_ref_get = pg_provider_ref_get,
        .provider_ref_find = pg_provider_ref_find,
        .source_msg_put = pg_source_msg_put,
        .unmatched_insert = pg_unmatched_insert,
        .unmatched_get = pg_unmatched_get,
        .unmatched_find = pg_unmatched_find,
        .unmatched_assign = pg_unmatched_assign,
        .contract_by_ref = pg_contract_by_ref,
        .pending_release_put = pg_pending_release_put,
        .pending_release_get = pg_pending_release_get,
        .pending_release_drop = pg_pending_release_drop,
        .hold_insert = pg_hold_insert,
        .hold_extend = pg_hold_extend,
        .hold_release = pg_hold_release,
        .wh_endpoint_insert = pg_wh_endpoint_insert,
        .wh_endpoint_get = pg_wh_endpoint_get,
        .wh_endpoint_list = pg_wh_endpoint_list,
        .wh_endpoint_update = pg_wh_endpoint_update,
        .wh_endpoint_delete = pg_wh_endpoint_delete,
        .wh_event_add = pg_wh_event_add,
        .wh_claim = pg_wh_claim,
        .wh_delivery_update = pg_wh_delivery_update,
        .wh_delivery_list = pg_wh_delivery_list,
        .wh_delivery_get = pg_wh_delivery_get,
        .wh_prune = pg_wh_prune,
        .device_confirmed = pg_device_confirmed,
        .device_confirm = pg_device_confirm,
        .state_change_add = pg_state_change_add,
        .state_change_last = pg_state_change_last,
        .state_change_confirm = pg_state_change_confirm,
        .state_change_counts = pg_state_change_counts,
        .state_change_locks = pg_state_change_locks,
        .portfolio_groups = pg_portfolio_groups,
        .portfolio_late = pg_portfolio_late,
        .portfolio_rows = pg_portfolio_rows,
};
