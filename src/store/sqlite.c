/*
 * sqlite.c - the SQLite backend: connection pool, transactions, migrations.
 *
 * Durability: WAL with synchronous=FULL, so COMMIT returns only after the
 * WAL is fsync'd; a 2xx sent after fl_tx_commit() survives kill -9 and power
 * loss. Writers are serialised inside the process by a mutex (no busy
 * polling between our own threads) and across processes by SQLite's
 * BEGIN IMMEDIATE with a busy timeout. Readers run beside the writer (WAL).
 */
#include "store/sqlite_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Change notification of device rows (store.h): buckets of the device
 * clock, and how many changed rows one transaction tracks before it marks
 * every row changed. */
#define SQ_STAMP_BUCKETS 65536
#define SQ_WATCH_MAX     4096

/* The device rows a connection's open transaction changed, collected by
 * SQLite's update hook. */
struct sq_watch {
	int64_t *rows; /* ords, possibly repeated */
	size_t n, cap;
	bool all;   /* more than SQ_WATCH_MAX: every row counts as changed */
	bool quiet; /* fl_tx_quiet: collect nothing */
};

struct fl_store {
	struct fl_store_base base; /* first: see store_int.h */
	pthread_mutex_t mu;        /* guards conns[].in_use */
	pthread_cond_t cv;         /* signalled when a connection frees up */
	pthread_mutex_t writer;    /* held by the one write transaction */
	struct sq_conn *conns;     /* the pool */
	int n_conns;
	int busy_ms;              /* how long a writer waits */
	struct sq_watch *watch;   /* per connection, same index as conns */
	pthread_mutex_t stamp_mu; /* one stamping at a time */
	_Atomic uint64_t clock;   /* the device clock */
	_Atomic uint64_t floor;   /* every row changed at this clock */
	_Atomic uint64_t *stamps; /* per bucket: clock of last change */
	struct {
		fl_store_feed_fn fn;
		void *ctx;
	} feed[FL_STORE_FEED_MAX]; /* change feed subscribers */
	int n_feed;
	char *wal_path;           /* the database's "-wal" file */
	char *mark_path;          /* the "-open" mark (store.h "Lost WAL") */
	bool marked;              /* this store made or found the mark */
};

static const struct fl_store_ops sqlite_ops;

fl_err sq_err(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return FL_OK;
	case SQLITE_CONSTRAINT:
		return FL_E_CONFLICT;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return FL_E_STORE_BUSY;
	case SQLITE_NOMEM:
		return FL_E_NOMEM;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return FL_E_CORRUPT;
	case SQLITE_TOOBIG:
		return FL_E_TOO_LARGE;
	case SQLITE_FULL:
		return FL_E_INSUFFICIENT_STORAGE;
	case SQLITE_IOERR:
	case SQLITE_CANTOPEN:
		return FL_E_IO;
	default:
		return FL_E_STORE;
	}
}

fl_err sq_fail(sqlite3 *db, int rc)
{
	fl_err err = sq_err(rc);
	int sys;

	if (err == FL_OK || db == NULL)
		return err;
	/* A write or an fsync that found no room is a full disk too,
	 * whatever I/O error SQLite reports it as. */
	sys = sqlite3_system_errno(db);
	if ((rc & 0xff) == SQLITE_IOERR && (sys == ENOSPC || sys == EDQUOT))
		err = FL_E_INSUFFICIENT_STORAGE;
	if (sys != 0 && ((rc & 0xff) == SQLITE_IOERR ||
	                 (rc & 0xff) == SQLITE_FULL ||
	                 (rc & 0xff) == SQLITE_CANTOPEN))
		fl_store_note_error("sqlite: %s (code %d, %s)",
		                    sqlite3_errmsg(db), rc, strerror(sys));
	else
		fl_store_note_error("sqlite: %s (code %d)", sqlite3_errmsg(db),
		                    rc);
	return err;
}

sqlite3_stmt *sq_stmt(struct fl_tx *tx, const char *sql, fl_err *err)
{
	struct sq_conn *c = tx->c;
	size_t h = ((uintptr_t)sql >> 3) % SQ_CACHE_SLOTS;

	for (size_t i = 0; i < SQ_CACHE_SLOTS; i++) {
		size_t slot = (h + i) % SQ_CACHE_SLOTS;

		if (c->keys[slot] == sql) {
			sqlite3_reset(c->stmts[slot]);
			sqlite3_clear_bindings(c->stmts[slot]);
			*err = FL_OK;
			return c->stmts[slot];
		}
		if (c->keys[slot] == NULL) {
			sqlite3_stmt *st = NULL;
			int rc = sqlite3_prepare_v3(c->db, sql, -1,
			                            SQLITE_PREPARE_PERSISTENT,
			                            &st, NULL);
			if (rc != SQLITE_OK) {
				*err = sq_fail(c->db, rc);
				if (*err == FL_OK || *err == FL_E_CONFLICT)
					*err = FL_E_STORE;
				return NULL;
			}
			c->keys[slot] = sql;
			c->stmts[slot] = st;
			*err = FL_OK;
			return st;
		}
	}
	*err = FL_E_INTERNAL;
	return NULL;
}

void sq_done(sqlite3_stmt *st)
{
	if (st != NULL) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
}

fl_err sq_bind_text(sqlite3_stmt *st, int idx, const char *s)
{
	return sq_fail(sqlite3_db_handle(st),
	               sqlite3_bind_text(st, idx, s, -1, SQLITE_STATIC));
}

fl_err sq_bind_int(sqlite3_stmt *st, int idx, int64_t v)
{
	return sq_fail(sqlite3_db_handle(st), sqlite3_bind_int64(st, idx, v));
}

fl_err sq_bind_blob(sqlite3_stmt *st, int idx, const void *p, size_t n)
{
	return sq_fail(sqlite3_db_handle(st),
	               sqlite3_bind_blob(st, idx, p, (int)n, SQLITE_STATIC));
}

fl_err sq_step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_DONE)
		return FL_OK;
	if (rc == SQLITE_ROW)
		return FL_E_STORE;
	return sq_fail(sqlite3_db_handle(st), rc);
}

fl_err sq_step_row(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		return FL_OK;
	if (rc == SQLITE_DONE)
		return FL_E_NOT_FOUND;
	return sq_fail(sqlite3_db_handle(st), rc);
}

fl_err sq_col_text(sqlite3_stmt *st, int col, char *buf, size_t cap)
{
	const unsigned char *s = sqlite3_column_text(st, col);
	size_t n = (size_t)sqlite3_column_bytes(st, col);

	if (s == NULL) {
		buf[0] = '\0';
		return FL_OK;
	}
	if (n + 1 > cap) {
		buf[0] = '\0';
		return FL_E_CORRUPT;
	}
	memcpy(buf, s, n);
	buf[n] = '\0';
	return FL_OK;
}

fl_err sq_col_blob(sqlite3_stmt *st, int col, void *buf, size_t n)
{
	const void *p = sqlite3_column_blob(st, col);

	if (p == NULL || (size_t)sqlite3_column_bytes(st, col) != n) {
		memset(buf, 0, n);
		return FL_E_CORRUPT;
	}
	memcpy(buf, p, n);
	return FL_OK;
}

static fl_err exec(sqlite3 *db, const char *sql)
{
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? FL_OK : sq_fail(db, rc);
}

/* Before the library's first use: no memory statistics, whose upkeep
 * takes one process-wide mutex on every allocation of every connection
 * (nothing here reads them). Refused harmlessly when SQLite was already
 * in use. */
static void configure_library(void)
{
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static fl_err open_conn(struct sq_conn *c, const char *path, bool create,
                        int busy_ms, int cache_mb, int mmap_mb)
{
	fl_err err;
	char pragma[64];
	int rc;

	memset(c, 0, sizeof(*c));
	rc = sqlite3_open_v2(path, &c->db,
	                     SQLITE_OPEN_READWRITE |
	                             (create ? SQLITE_OPEN_CREATE : 0) |
	                             SQLITE_OPEN_NOMUTEX,
	                     NULL);
	if (rc != SQLITE_OK) {
		err = c->db != NULL ? sq_fail(c->db, rc) : FL_E_NOMEM;
		if (!create && (rc & 0xff) == SQLITE_CANTOPEN)
			err = FL_E_STORE_MISSING;
		else if (err == FL_OK || err == FL_E_CONFLICT)
			err = FL_E_IO;
		goto out;
	}
	sqlite3_extended_result_codes(c->db, 1);
	snprintf(pragma, sizeof(pragma), "PRAGMA busy_timeout = %d;", busy_ms);
	if ((err = exec(c->db, pragma)) != FL_OK ||
	    (err = exec(c->db, "PRAGMA journal_mode = WAL;")) != FL_OK ||
	    (err = exec(c->db, "PRAGMA synchronous = FULL;")) != FL_OK ||
	    (err = exec(c->db, "PRAGMA foreign_keys = ON;")) != FL_OK ||
	    (err = exec(c->db, "PRAGMA trusted_schema = OFF;")) != FL_OK)
		goto out;
	/* The page cache in KiB (a negative cache_size), and the map: pages
	 * read through it cost no system call and no copy. */
	snprintf(pragma, sizeof(pragma), "PRAGMA cache_size = %lld;",
	         -1024LL * cache_mb);
	if ((err = exec(c->db, pragma)) != FL_OK)
		goto out;
	snprintf(pragma, sizeof(pragma), "PRAGMA mmap_size = %lld;",
	         1048576LL * mmap_mb);
	if ((err = exec(c->db, pragma)) != FL_OK)
		goto out;
	err = FL_OK;
out:
	if (err != FL_OK && c->db != NULL) {
		sqlite3_close(c->db);
		c->db = NULL;
	}
	return err;
}

static void close_conn(struct sq_conn *c)
{
	if (c->db == NULL)
		return;
	for (size_t i = 0; i < SQ_CACHE_SLOTS; i++)
		if (c->stmts[i] != NULL)
			sqlite3_finalize(c->stmts[i]);
	sqlite3_close(c->db);
	memset(c, 0, sizeof(*c));
}

/* Applies every migration newer than the database, each in its own
 * IMMEDIATE transaction together with its schema_version row. */
/* True when the database holds no schema at all (a new or empty file). */
static fl_err is_empty(sqlite3 *db, bool *empty)
{
	sqlite3_stmt *st = NULL;
	int rc;

	*empty = false;
	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_schema;", -1,
	                       &st, NULL) != SQLITE_OK)
		return sq_err(sqlite3_errcode(db)) == FL_OK
		               ? FL_E_STORE
		               : sq_err(sqlite3_errcode(db));
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*empty = sqlite3_column_int64(st, 0) == 0;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? FL_OK : sq_err(rc);
}

static fl_err migrate(sqlite3 *db, int *version)
{
	sqlite3_stmt *st = NULL;
	fl_err err;
	int v = 0;

	*version = 0;
	err = exec(db, "CREATE TABLE IF NOT EXISTS schema_version ("
	               " version INTEGER PRIMARY KEY,"
	               " applied_at INTEGER NOT NULL);");
	if (err != FL_OK)
		goto out;
	for (;;) {
		if ((err = exec(db, "BEGIN IMMEDIATE;")) != FL_OK)
			goto out;
		if (sqlite3_prepare_v2(db,
		                       "SELECT coalesce(max(version), 0) "
		                       "FROM schema_version;",
		                       -1, &st, NULL) != SQLITE_OK ||
		    sqlite3_step(st) != SQLITE_ROW) {
			err = FL_E_STORE;
			goto rollback;
		}
		v = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
		st = NULL;
		if (v > sq_migrations_count) {
			err = FL_E_STORE_SCHEMA;
			goto rollback;
		}
		if (v == sq_migrations_count) {
			(void)exec(db, "COMMIT;");
			break;
		}
		if ((err = exec(db, sq_migrations[v])) != FL_OK)
			goto rollback;
		if (sqlite3_prepare_v2(db,
		                       "INSERT INTO schema_version "
		                       "VALUES (?, ?);",
		                       -1, &st, NULL) != SQLITE_OK) {
			err = FL_E_STORE;
			goto rollback;
		}
		sqlite3_bind_int(st, 1, v + 1);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)time(NULL));
		if (sqlite3_step(st) != SQLITE_DONE) {
			err = FL_E_STORE;
			goto rollback;
		}
		sqlite3_finalize(st);
		st = NULL;
		if ((err = exec(db, "COMMIT;")) != FL_OK)
			goto rollback;
	}
	*version = v;
	err = FL_OK;
	goto out;
rollback:
	sqlite3_finalize(st);
	st = NULL;
	(void)exec(db, "ROLLBACK;");
out:
	return err;
}

/* --- change notification of device rows ---------------------------------- */

static size_t stamp_bucket(int64_t ord)
{
	uint64_t h = (uint64_t)ord * 0x9e3779b97f4a7c15ULL;

	return (size_t)(h >> 48) & (SQ_STAMP_BUCKETS - 1);
}

/* SQLite's update hook: collects the ords of changed device rows. Runs
 * inside sqlite3_step on the connection's own thread. */
static void on_update(void *arg, int op, const char *db, const char *table,
                      sqlite3_int64 rowid)
{
	struct sq_watch *w = arg;

	(void)op;
	(void)db;
	if (w->quiet || w->all || strcmp(table, "devices") != 0)
		return;
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 64;
		int64_t *rows;

		if (cap > SQ_WATCH_MAX ||
		    (rows = realloc(w->rows, cap * sizeof(*rows))) == NULL) {
			w->all = true;
			return;
		}
		w->rows = rows;
		w->cap = cap;
	}
	w->rows[w->n++] = rowid;
}

static void watch_reset(struct sq_watch *w)
{
	w->n = 0;
	w->all = false;
	w->quiet = false;
}

/* After a COMMIT (succeeded or not): advances the clock and stamps the
 * buckets of the rows the transaction changed. */
static void stamp(struct fl_store *st, struct sq_watch *w)
{
	uint64_t c;

	if (w->n == 0 && !w->all)
		return;
	pthread_mutex_lock(&st->stamp_mu);
	c = atomic_load(&st->clock) + 1;
	for (size_t i = 0; i < w->n; i++)
		atomic_store(&st->stamps[stamp_bucket(w->rows[i])], c);
	if (w->all)
		atomic_store(&st->floor, c);
	atomic_store(&st->clock, c);
	pthread_mutex_unlock(&st->stamp_mu);
	/* the change feed, after the stamps (store.h) */
	for (int f = 0; f < st->n_feed; f++) {
		if (w->all) {
			st->feed[f].fn(st->feed[f].ctx, -1);
			continue;
		}
		for (size_t i = 0; i < w->n; i++)
			st->feed[f].fn(st->feed[f].ctx, w->rows[i]);
	}
}

static fl_err sqlite_feed_subscribe(struct fl_store *st, fl_store_feed_fn fn,
                                    void *ctx)
{
	if (st->n_feed == FL_STORE_FEED_MAX)
		return FL_E_LIMIT;
	st->feed[st->n_feed].fn = fn;
	st->feed[st->n_feed].ctx = ctx;
	st->n_feed++;
	return FL_OK;
}

/* --- concurrency -------------------------------------------------------------
 *
 * One write transaction at a time (the writer mutex and BEGIN IMMEDIATE),
 * and one process per database: every lock of store.h is held already. */

static fl_err sqlite_lock_device(struct fl_tx *tx, const char *device_id)
{
	(void)device_id;
	return tx->base.write ? FL_OK : FL_E_STATE;
}

static fl_err sqlite_lock_chain(struct fl_tx *tx, const char *chain)
{
	(void)chain;
	return tx->base.write ? FL_OK : FL_E_STATE;
}

static fl_err sqlite_job_claim(struct fl_tx *tx, const char *name, bool *mine)
{
	(void)name;
	*mine = tx->base.write;
	return tx->base.write ? FL_OK : FL_E_STATE;
}

static uint64_t sqlite_device_clock(struct fl_store *st)
{
	return atomic_load(&st->clock);
}

static bool sqlite_device_unchanged(struct fl_store *st, int64_t ord,
                                    uint64_t clock)
{
	return atomic_load(&st->floor) <= clock &&
	       atomic_load(&st->stamps[stamp_bucket(ord)]) <= clock;
}

static struct sq_watch *watch_of(struct fl_tx *tx)
{
	return &tx->base.st->watch[tx->c - tx->base.st->conns];
}

static void sqlite_tx_quiet(struct fl_tx *tx)
{
	watch_of(tx)->quiet = true;
}

static bool file_exists(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0;
}

static char *path_with(const char *path, const char *suffix)
{
	size_t n = strlen(path), k = strlen(suffix);
	char *p = malloc(n + k + 1);

	if (p != NULL) {
		memcpy(p, path, n);
		memcpy(p + n, suffix, k + 1);
	}
	return p;
}

/* fsyncs the directory holding path. */
static void sync_parent(const char *path)
{
	char *dir = strdup(path);
	char *slash = dir != NULL ? strrchr(dir, '/') : NULL;
	int fd;

	if (dir == NULL)
		return;
	if (slash == NULL)
		strcpy(dir, ".");
	else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
	free(dir);
}

/* Refuses a database whose WAL of an unclean stop is gone, then marks the
 * database open (store.h "Lost WAL"). */
static fl_err mark_open(struct fl_store *st, const char *path,
                        const struct fl_store_sqlite_opts *opts)
{
	bool accept = opts != NULL && opts->accept_wal_loss;
	int fd;

	st->wal_path = path_with(path, "-wal");
	st->mark_path = path_with(path, "-open");
	if (st->wal_path == NULL || st->mark_path == NULL)
		return FL_E_NOMEM;
	if (file_exists(st->mark_path) && !file_exists(st->wal_path) &&
	    file_exists(path) && !accept)
		return FL_E_STORE_WAL_LOST;
	if (opts != NULL && opts->must_exist && !file_exists(path))
		return FL_E_STORE_MISSING;
	/* An existing mark (another process has the database open, or its
	 * WAL came back) is left as it is, whoever owns it. */
	fd = open(st->mark_path,
	          O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 && errno != EEXIST)
		return FL_E_IO;
	if (fd >= 0)
		close(fd);
	st->marked = true;
	/* durable before the WAL can hold anything */
	sync_parent(st->mark_path);
	return FL_OK;
}

fl_err fl_store_open_sqlite(struct fl_store **out, const char *path,
                            const struct fl_store_sqlite_opts *opts)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct fl_store *st = NULL;
	fl_err err;
	int n = opts != NULL && opts->pool_size > 0 ? opts->pool_size : 8;
	int busy = opts != NULL && opts->busy_timeout_ms > 0
	                   ? opts->busy_timeout_ms
	                   : 5000;
	int cache_mb = opts != NULL && opts->cache_mb > 0 ? opts->cache_mb : 2;
	int mmap_mb = opts != NULL && opts->mmap_mb > 0 ? opts->mmap_mb : 0;
	bool must_exist = opts != NULL && opts->must_exist;

	*out = NULL;
	pthread_once(&once, configure_library);
	if (n < 2)
		n = 2;
	if (n > 256)
		n = 256;
	if (sqlite3_threadsafe() == 0)
		return FL_E_STORE;
	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return FL_E_NOMEM;
	st->conns = calloc((size_t)n, sizeof(*st->conns));
	st->watch = calloc((size_t)n, sizeof(*st->watch));
	st->stamps = calloc(SQ_STAMP_BUCKETS, sizeof(*st->stamps));
	if (st->conns == NULL || st->watch == NULL || st->stamps == NULL) {
		free(st->conns);
		free(st->watch);
		free(st->stamps);
		free(st);
		return FL_E_NOMEM;
	}
	pthread_mutex_init(&st->stamp_mu, NULL);
	pthread_mutex_init(&st->mu, NULL);
	pthread_cond_init(&st->cv, NULL);
	pthread_mutex_init(&st->writer, NULL);
	st->base.ops = &sqlite_ops;
	st->n_conns = n;
	st->busy_ms = busy;
	if ((err = mark_open(st, path, opts)) != FL_OK)
		goto out;
	for (int i = 0; i < n; i++) {
		/* Writes prefer connection 0 (sqlite_begin): its cache holds
		 * what they touch. Readers find most pages in the kernel's
		 * cache: 1 MiB each holds the inner pages of the tables and
		 * indexes they descend (a device's row is one leaf away). */
		if ((err = open_conn(&st->conns[i], path, i > 0 || !must_exist,
		                     busy,
		                     i == 0 || cache_mb < 1 ? cache_mb : 1,
		                     mmap_mb)) != FL_OK)
			goto out;
		if (i > 0)
			continue;
		if ((err = is_empty(st->conns[0].db, &st->base.created)) !=
		    FL_OK)
			goto out;
		if (st->base.created && must_exist) {
			err = FL_E_STORE_MISSING;
			goto out;
		}
		if ((err = migrate(st->conns[0].db,
		                   &st->base.schema_version)) != FL_OK)
			goto out;
	}
	*out = st;
	st = NULL;
	err = FL_OK;
out:
	fl_store_close(st);
	return err;
}

static void sqlite_close(struct fl_store *st)
{
	for (int i = 0; i < st->n_conns; i++) {
		if (i == st->n_conns - 1 && st->conns[i].db != NULL)
			(void)exec(st->conns[i].db,
			           "PRAGMA wal_checkpoint(TRUNCATE);");
		close_conn(&st->conns[i]);
	}
	free(st->conns);
	/* With no WAL left, everything committed is in the main file. */
	if (st->mark_path != NULL && st->marked && !file_exists(st->wal_path))
		(void)unlink(st->mark_path);
	free(st->mark_path);
	free(st->wal_path);
	for (int i = 0; i < st->n_conns; i++)
		free(st->watch[i].rows);
	free(st->watch);
	free(st->stamps);
	pthread_mutex_destroy(&st->stamp_mu);
	pthread_mutex_destroy(&st->writer);
	pthread_cond_destroy(&st->cv);
	pthread_mutex_destroy(&st->mu);
	free(st);
}

int fl_store_schema_latest(void)
{
	return sq_migrations_count;
}

static fl_err lock_writer(struct fl_store *st)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += st->busy_ms / 1000;
	ts.tv_nsec += (long)(st->busy_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return pthread_mutex_timedlock(&st->writer, &ts) == 0 ? FL_OK
	                                                      : FL_E_STORE_BUSY;
}

static void release_conn(struct fl_store *st, struct sq_conn *c)
{
	pthread_mutex_lock(&st->mu);
	c->in_use = false;
	pthread_cond_signal(&st->cv);
	pthread_mutex_unlock(&st->mu);
}

/* Takes a free connection, waiting for one; write prefers connection 0. */
static struct sq_conn *acquire_conn(struct fl_store *st, bool write)
{
	struct sq_conn *c = NULL;

	pthread_mutex_lock(&st->mu);
	for (;;) {
		/* Connection 0 is the writer's first choice and the readers'
		 * last, so its page cache keeps what writes touch. */
		for (int j = 0; j < st->n_conns && c == NULL; j++) {
			int i = write ? j : (j + 1) % st->n_conns;

			if (!st->conns[i].in_use)
				c = &st->conns[i];
		}
		if (c != NULL)
			break;
		pthread_cond_wait(&st->cv, &st->mu);
	}
	c->in_use = true;
	pthread_mutex_unlock(&st->mu);
	return c;
}

static fl_err sqlite_begin(struct fl_store *st, bool write, struct fl_tx **out)
{
	struct fl_tx *tx = NULL;
	struct sq_conn *c = NULL;
	bool have_writer = false;
	fl_err err;

	*out = NULL;
	tx = calloc(1, sizeof(*tx));
	if (tx == NULL)
		return FL_E_NOMEM;
	if (write) {
		if ((err = lock_writer(st)) != FL_OK)
			goto out;
		have_writer = true;
	}
	c = acquire_conn(st, write);

	/* every transaction may write (a deferred one too): each collects
	 * the device rows it changes */
	watch_reset(&st->watch[c - st->conns]);
	sqlite3_update_hook(c->db, on_update, &st->watch[c - st->conns]);
	err = exec(c->db, write ? "BEGIN IMMEDIATE;" : "BEGIN;");
	if (err != FL_OK)
		goto out;
	tx->base.ops = &sqlite_ops;
	tx->base.st = st;
	tx->base.write = write;
	tx->c = c;
	*out = tx;
	tx = NULL;
	c = NULL;
	have_writer = false;
out:
	if (c != NULL)
		release_conn(st, c);
	if (have_writer)
		pthread_mutex_unlock(&st->writer);
	free(tx);
	return err;
}

static void end_tx(struct fl_tx *tx)
{
	struct fl_store *st = tx->base.st;

	release_conn(st, tx->c);
	if (tx->base.write)
		pthread_mutex_unlock(&st->writer);
	free(tx);
}

static fl_err sqlite_commit(struct fl_tx *tx)
{
	fl_err err = exec(tx->c->db, "COMMIT;");

	/* not through exec(): the commit's message is the one to keep */
	if (err != FL_OK)
		(void)sqlite3_exec(tx->c->db, "ROLLBACK;", NULL, NULL, NULL);
	stamp(tx->base.st, watch_of(tx));
	end_tx(tx);
	return err;
}

static void sqlite_rollback(struct fl_tx *tx)
{
	/* not through exec(): a failure that led here keeps its message */
	(void)sqlite3_exec(tx->c->db, "ROLLBACK;", NULL, NULL, NULL);
	end_tx(tx);
}

/* --- integrity and snapshots -------------------------------------------- */

static fl_err sqlite_check(struct fl_store *st, bool full,
                           char problem[FL_STORE_PROBLEM_MAX])
{
	struct sq_conn *c = acquire_conn(st, false);
	sqlite3_stmt *stmt = NULL;
	size_t used = 0;
	fl_err err = FL_OK;
	int rc;

	problem[0] = '\0';
	/* Up to 20 problems (integrity_check stops at its argument). */
	rc = sqlite3_prepare_v2(c->db,
	                        full ? "PRAGMA integrity_check(20);"
	                             : "PRAGMA quick_check(20);",
	                        -1, &stmt, NULL);
	if (rc != SQLITE_OK) {
		snprintf(problem, FL_STORE_PROBLEM_MAX, "%s",
		         sqlite3_errmsg(c->db));
		err = sq_err(rc) == FL_OK ? FL_E_STORE : sq_err(rc);
		goto out;
	}
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const char *line = (const char *)sqlite3_column_text(stmt, 0);

		if (line == NULL || strcmp(line, "ok") == 0)
			continue;
		err = FL_E_CORRUPT;
		if (used + 3 < FL_STORE_PROBLEM_MAX) {
			int n = snprintf(problem + used,
			                 FL_STORE_PROBLEM_MAX - used, "%s%s",
			                 used > 0 ? "; " : "", line);
			used = n < 0 ? used
			       : used + (size_t)n >= FL_STORE_PROBLEM_MAX
			               ? FL_STORE_PROBLEM_MAX - 1
			               : used + (size_t)n;
		}
	}
	if (rc != SQLITE_DONE) {
		/* A damaged file can stop the check itself. */
		if (used == 0)
			snprintf(problem, FL_STORE_PROBLEM_MAX, "%s",
			         sqlite3_errmsg(c->db));
		err = sq_err(rc) == FL_OK ? FL_E_STORE : sq_err(rc);
	}
out:
	/* one line, whatever SQLite's report looked like */
	for (char *p = problem; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
	sqlite3_finalize(stmt);
	release_conn(st, c);
	return err;
}

static fl_err sqlite_snapshot(struct fl_store *st, const char *path)
{
	struct sq_conn *c = NULL;
	sqlite3 *dst = NULL;
	sqlite3_backup *b = NULL;
	fl_err err;
	int fd, rc;

	/* The copy goes to a new file: never over anything. */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	          0600);
	if (fd < 0)
		return errno == EEXIST ? FL_E_CONFLICT : FL_E_IO;
	close(fd);
	rc = sqlite3_open_v2(path, &dst, SQLITE_OPEN_READWRITE, NULL);
	if (rc != SQLITE_OK) {
		err = FL_E_IO;
		goto out;
	}
	c = acquire_conn(st, false);
	/* One step copies every page under one read transaction: a single
	 * instant of the database, while writers go on in the WAL. */
	b = sqlite3_backup_init(dst, "main", c->db, "main");
	if (b == NULL) {
		err = sq_err(sqlite3_errcode(dst));
		goto out;
	}
	rc = sqlite3_backup_step(b, -1);
	sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE) {
		err = sq_err(rc) == FL_OK ? FL_E_STORE : sq_err(rc);
		goto out;
	}
	/* A file that stands alone: no WAL beside it. */
	if ((err = exec(dst, "PRAGMA journal_mode = DELETE;")) != FL_OK)
		goto out;
	err = FL_OK;
out:
	if (c != NULL)
		release_conn(st, c);
	if (dst != NULL && sqlite3_close(dst) != SQLITE_OK && err == FL_OK)
		err = FL_E_IO;
	if (err != FL_OK)
		(void)unlink(path);
	return err;
}

static const struct fl_store_ops sqlite_ops = {
        .name = "sqlite",
        .close = sqlite_close,
        .begin = sqlite_begin,
        .commit = sqlite_commit,
        .rollback = sqlite_rollback,
        .device_clock = sqlite_device_clock,
        .device_unchanged = sqlite_device_unchanged,
        .tx_quiet = sqlite_tx_quiet,
        .feed_subscribe = sqlite_feed_subscribe,
        .lock_device = sqlite_lock_device,
        .lock_chain = sqlite_lock_chain,
        .job_claim = sqlite_job_claim,
        .check = sqlite_check,
        .keys_fingerprint = sq_keys_fingerprint,
        .keys_fingerprint_put = sq_keys_fingerprint_put,
        .snapshot = sqlite_snapshot,
        .tenant_insert = sq_tenant_insert,
        .tenant_get = sq_tenant_get,
        .tenant_list = sq_tenant_list,
        .apikey_insert = sq_apikey_insert,
        .apikey_by_hash = sq_apikey_by_hash,
        .apikey_get = sq_apikey_get,
        .apikey_revoke = sq_apikey_revoke,
        .apikey_list = sq_apikey_list,
        .apikey_count = sq_apikey_count,
        .apikey_touch = sq_apikey_touch,
        .idem_get = sq_idem_get,
        .idem_put = sq_idem_put,
        .idem_expire = sq_idem_expire,
        .audit_head = sq_audit_head,
        .audit_append = sq_audit_append,
        .audit_list = sq_audit_list,
        .audit_chains = sq_audit_chains,
        .audit_head_save = sq_audit_head_save,
        .audit_head_latest = sq_audit_head_latest,
        .device_insert = sq_device_insert,
        .device_get = sq_device_get,
        .device_get_any = sq_device_get_any,
        .device_by_imei = sq_device_by_imei,
        .device_by_enroll_hash = sq_device_by_enroll_hash,
        .device_set_enroll_code = sq_device_set_enroll_code,
        .device_enroll = sq_device_enroll,
        .device_touch = sq_device_touch,
        .device_report = sq_device_report,
        .device_set_status = sq_device_set_status,
        .device_set_status_many = sq_device_set_status_many,
        .device_unclaim = sq_device_unclaim,
        .device_list = sq_device_list,
        .device_due = sq_device_due,
        .device_count = sq_device_count,
        .contract_insert = sq_contract_insert,
        .contract_get = sq_contract_get,
        .contract_list = sq_contract_list,
        .reschedule_insert = sq_reschedule_insert,
        .payment_insert = sq_payment_insert,
        .payment_get = sq_payment_get,
        .payment_by_reference = sq_payment_by_reference,
        .payment_reverse = sq_payment_reverse,
        .payment_list = sq_payment_list,
        .command_insert = sq_command_insert,
        .command_get = sq_command_get,
        .command_cancel = sq_command_cancel,
        .device_inputs = sq_device_inputs,
        .device_load = sq_device_load,
        .device_next_change = sq_device_next_change,
        .dp_enroll = sq_dp_enroll,
        .dp_touch = sq_dp_touch,
        .dp_seal = sq_dp_seal,
        .dp_token_memo = sq_dp_token_memo,
        .dp_claim = sq_dp_claim,
        .used_code_put = sq_used_code_put,
        .used_code_get = sq_used_code_get,
        .pairing_put = sq_pairing_put,
        .pairing_get = sq_pairing_get,
        .pairing_list = sq_pairing_list,
        .pairing_decide = sq_pairing_decide,
        .pairing_expire = sq_pairing_expire,
        .pairing_drop = sq_pairing_drop,
        .pairing_count_net = sq_pairing_count_net,
        .dp_set_factory = sq_dp_set_factory,
        .report_add = sq_report_add,
        .report_list = sq_report_list,
        .ocode_get = sq_ocode_get,
        .ocode_issue = sq_ocode_issue,
        .ocode_used = sq_ocode_used,
        .session_insert = sq_session_insert,
        .session_get = sq_session_get,
        .session_touch = sq_session_touch,
        .session_delete = sq_session_delete,
        .session_expire = sq_session_expire,
        .source_list = sq_source_list,
        .provider_ref_list = sq_provider_ref_list,
        .unmatched_list = sq_unmatched_list,
        .hold_list = sq_hold_list,
        .source_insert = sq_source_insert,
        .source_get = sq_source_get,
        .source_update = sq_source_update,
        .source_touch = sq_source_touch,
        .provider_ref_put = sq_provider_ref_put,
        .provider_ref_get = sq_provider_ref_get,
        .provider_ref_find = sq_provider_ref_find,
        .source_msg_put = sq_source_msg_put,
        .unmatched_insert = sq_unmatched_insert,
        .unmatched_get = sq_unmatched_get,
        .unmatched_find = sq_unmatched_find,
        .unmatched_assign = sq_unmatched_assign,
        .contract_by_ref = sq_contract_by_ref,
        .pending_release_put = sq_pending_release_put,
        .pending_release_get = sq_pending_release_get,
        .pending_release_drop = sq_pending_release_drop,
        .hold_insert = sq_hold_insert,
        .hold_extend = sq_hold_extend,
        .hold_release = sq_hold_release,
        .wh_endpoint_insert = sq_wh_endpoint_insert,
        .wh_endpoint_get = sq_wh_endpoint_get,
        .wh_endpoint_list = sq_wh_endpoint_list,
        .wh_endpoint_update = sq_wh_endpoint_update,
        .wh_endpoint_delete = sq_wh_endpoint_delete,
        .wh_event_add = sq_wh_event_add,
        .wh_claim = sq_wh_claim,
        .wh_delivery_update = sq_wh_delivery_update,
        .wh_delivery_list = sq_wh_delivery_list,
        .wh_delivery_get = sq_wh_delivery_get,
        .wh_prune = sq_wh_prune,
        .device_confirmed = sq_device_confirmed,
        .device_confirm = sq_device_confirm,
        .state_change_add = sq_state_change_add,
        .state_change_last = sq_state_change_last,
        .state_change_confirm = sq_state_change_confirm,
        .state_change_counts = sq_state_change_counts,
        .state_change_locks = sq_state_change_locks,
        .portfolio_groups = sq_portfolio_groups,
        .portfolio_late = sq_portfolio_late,
        .portfolio_rows = sq_portfolio_rows,
};
