/*
 * store.h - finlockd's storage interface.
 *
 * Everything finlockd keeps lives behind this interface: tenants, API keys,
 * the hash-chained audit logs, idempotency records, devices, contracts,
 * payments and commands. A backend (SQLite today, PostgreSQL later) plugs in
 * as a `struct fl_store_ops` table; nothing outside src/store speaks SQL.
 *
 * Work happens in transactions. fl_store_begin() hands out a `struct fl_tx`;
 * every read and write takes it; fl_tx_commit() makes the writes durable
 * (fsync'd, or flushed to PostgreSQL's WAL with synchronous_commit on)
 * before it returns FL_OK, fl_tx_rollback() discards them. Both free the
 * transaction. Several write transactions may run at once (PostgreSQL
 * serves many finlockd processes); a read-decide-write sequence therefore
 * takes a narrow lock first ("Concurrency" below). Any call may answer
 * FL_E_STORE_RETRY (the backend gave up the transaction to resolve a
 * conflict: roll back and run the whole transaction again) or
 * FL_E_STORE_UNAVAILABLE (the database cannot be reached now).
 *
 * Records are plain structs with fixed-size text fields (every text field
 * has a cap given by its array size; longer input is refused by the caller
 * before it gets here, and the store answers FL_E_TOO_LARGE if one slips
 * through). Lists are returned through a callback, one record at a time,
 * so no list allocates; a callback that returns an error stops the walk and
 * that error is returned. A callback must not use the transaction.
 *
 * Every tenant-owned record is read and written with its tenant id: asking
 * for another tenant's record is FL_E_NOT_FOUND, exactly as if it did not
 * exist.
 *
 * THREAD SAFETY: a struct fl_store may be used from any number of threads at
 * once; each struct fl_tx belongs to the thread that began it.
 */
#ifndef FL_STORE_H
#define FL_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/fltime.h"
#include "core/imei.h"
#include "core/policy.h"
#include "core/state.h"

#define FL_ID_MAX               40 /* "dv_" + 22 base64url characters, and more */
#define FL_NAME_MAX             128 /* tenant names, labels, key labels */
#define FL_ROLE_NAME_MAX        16  /* "operator", "admin", ... */
#define FL_HASH_LEN             32  /* keyed BLAKE2b hashes of secrets */
#define FL_AUDIT_CHAIN_OPERATOR "operator" /* the operator's audit chain */

struct fl_store;
struct fl_tx;

/* --- opening ---------------------------------------------------------------
 */

struct fl_store_sqlite_opts {
	int pool_size;       /* connections (>= 2); 0: 8 */
	int busy_timeout_ms; /* writer wait before FL_E_STORE_BUSY; 0: 5000 */
	int cache_mb;        /* page cache of the writing connection, MiB
	                      * (readers: at most 2); 0: 2 */
	int mmap_mb;     /* bytes of the file read through a shared memory map,
	                    MiB, per connection; 0: none */
	bool must_exist; /* a missing or empty database is
	                  * FL_E_STORE_MISSING instead of created */
	bool accept_wal_loss; /* open even when the WAL of an unclean stop
	                       * is gone (see below) */
};

/* Opens (creating if needed) the SQLite database at path, in WAL mode with
 * fsync on every commit, and applies pending migrations. opts may be NULL.
 * FL_E_STORE_SCHEMA if the file was written by a newer finlockd;
 * FL_E_CORRUPT if SQLite finds the file is not a database; with
 * opts->must_exist, FL_E_STORE_MISSING if the file is missing or holds no
 * schema (nothing is created then).
 *
 * Lost WAL: SQLite keeps committed transactions in path-wal until they are
 * copied into the main file, and a database opened without that file
 * silently lacks them. While a store is open, the file path-open marks
 * that path-wal may hold such transactions; the last close that leaves no
 * path-wal removes it. Finding the mark with no path-wal (and a main file)
 * means the WAL of an unclean stop was deleted: FL_E_STORE_WAL_LOST, unless
 * opts->accept_wal_loss.
 *
 * *out is freed with fl_store_close(). */
fl_err
fl_store_open_sqlite(struct fl_store **out, const char *path,
                     const struct fl_store_sqlite_opts *opts) FL_MUST_USE;

struct fl_store_pg_opts {
	int pool_size;         /* connections (>= 2); 0: 8 */
	int connect_timeout_s; /* per connection attempt; 0: 5 */
	bool must_exist;       /* a database holding no finlock schema is
	                        * FL_E_STORE_MISSING instead of initialised */
};

/* Opens the PostgreSQL database named by conninfo (a libpq connection
 * string or URI, "postgresql://USER@HOST:PORT/DB"), checks that it runs
 * with synchronous_commit and fsync on (FL_E_STORE otherwise: a commit
 * would not be durable), and applies pending migrations (one process
 * at a time: a migration holds an advisory lock). The same numbered
 * migrations as SQLite's. FL_E_INVALID if libpq cannot read conninfo,
 * FL_E_STORE_UNAVAILABLE if the server cannot be reached,
 * FL_E_STORE_SCHEMA if a newer finlockd wrote the schema. Any
 * number of processes may open the same database. Connections lost later
 * are made again by the next fl_store_begin() that needs one. */
fl_err fl_store_open_pg(struct fl_store **out, const char *conninfo,
                        const struct fl_store_pg_opts *opts) FL_MUST_USE;

/* "sqlite" or "postgresql". */
const char *fl_store_backend(const struct fl_store *st);

/* Closes every connection and frees st. No transaction may be open. NULL
 * is a no-op. */
void fl_store_close(struct fl_store *st);

/* The schema version the store is at, and the newest one this build
 * knows. */
int fl_store_schema_version(const struct fl_store *st);
int fl_store_schema_latest(void);

/* --- the backend's own words -----------------------------------------------
 *
 * An fl_err says what kind of failure a store call met; the backend's own
 * message says exactly what happened ("database or disk is full" from
 * SQLite, a PostgreSQL server's error text). Every backend records that
 * message, for the calling thread, when one of its calls fails.
 *
 * fl_store_errmsg() is the message of the last failure on the calling
 * thread since that thread last called fl_store_begin(), or "" if there was
 * none. It stays valid until the thread's next store call. Log it beside
 * the fl_err whenever a store error is logged. */
const char *fl_store_errmsg(void);

/* True when this open created the database (it was missing or empty). */
bool fl_store_created(const struct fl_store *st);

/* --- integrity and identity --------------------------------------------------
 *
 * What start-up and `finlockd check` ask of a backend, so that each
 * backend answers with its own means (SQLite: PRAGMA quick_check and
 * integrity_check). */

#define FL_STORE_PROBLEM_MAX 512 /* a backend's description of damage */

/* Checks the database's own structure: full = false is the quick check
 * every start runs (SQLite: quick_check, O(size) without the index
 * cross-checks); full = true the complete one (SQLite: integrity_check).
 * PostgreSQL: the server answers, the schema version, every table reads;
 * full = true reads every row and, where the amcheck extension is usable,
 * checks the indexes (fl_store_errmsg() says when it is not). FL_E_CORRUPT
 * with the backend's words in problem when damaged. */
fl_err fl_store_check(struct fl_store *st, bool full,
                      char problem[FL_STORE_PROBLEM_MAX]) FL_MUST_USE;

#define FL_KEYS_FINGERPRINT_LEN 32

/* The fingerprint of the server keys (secrets.h) the database was made
 * with, recorded once at creation: a database started with other keys is
 * refused. FL_E_NOT_FOUND when none was recorded (a database made before
 * fingerprints were kept). */
fl_err
fl_store_keys_fingerprint(struct fl_tx *tx,
                          uint8_t out[FL_KEYS_FINGERPRINT_LEN]) FL_MUST_USE;
/* Records the fingerprint; FL_E_CONFLICT if one is recorded already. */
fl_err fl_store_keys_fingerprint_put(struct fl_tx *tx,
                                     const uint8_t fp[FL_KEYS_FINGERPRINT_LEN],
                                     fl_time at) FL_MUST_USE;

/* Writes a consistent copy of the whole database, as of one instant, to
 * the new file path (which must not exist), while other connections go on
 * reading and writing. The copy is a complete database file on its own.
 * PostgreSQL: FL_E_STATE, a live database is copied with PostgreSQL's own
 * tools (pg_dump, pg_basebackup), as fl_store_errmsg() says. */
fl_err fl_store_snapshot(struct fl_store *st, const char *path) FL_MUST_USE;

/* --- transactions ----------------------------------------------------------
 */

/* Begins a transaction; write = true for one that may write (SQLite: it
 * takes the process's one writer lock at once; PostgreSQL: READ COMMITTED,
 * and the locks below). *tx is released by fl_tx_commit() or
 * fl_tx_rollback(). */
fl_err fl_store_begin(struct fl_store *st, bool write,
                      struct fl_tx **tx) FL_MUST_USE;
/* Commits and frees tx. On failure the writes are rolled back and tx is
 * freed all the same. */
fl_err fl_tx_commit(struct fl_tx *tx) FL_MUST_USE;
/* Rolls back and frees tx. NULL is a no-op. */
void fl_tx_rollback(struct fl_tx *tx);

/* --- concurrency -----------------------------------------------------------
 *
 * The rules every backend keeps, whether one process writes (SQLite: one
 * write transaction at a time, so these locks cost nothing) or many do
 * (PostgreSQL: transaction-scoped advisory locks):
 *
 * - A write transaction that reads a device's row or inputs to decide what
 *   to write about that device calls fl_store_lock_device() first. Two
 *   transactions about the same device (a payment, a command, the sweep's
 *   decision, a check-in's report) then run one after the other; different
 *   devices never wait for each other.
 * - Appending to an audit chain reads its head: fl_store_lock_chain()
 *   first (fl_audit does this).
 * - Time-driven work (the sweep, signing audit heads) runs on one process
 *   at a time: a transaction that claims a job with fl_store_job_claim()
 *   holds it until it ends; another process's claim of the same job in the
 *   meantime answers *mine = false. A process that dies releases its claim.
 * - Locks are released when the transaction ends. Take device locks in a
 *   consistent order (one device per transaction, or by id); a deadlock is
 *   broken by FL_E_STORE_RETRY.
 */

/* Locks device_id (which need not exist yet) for the rest of tx. */
fl_err fl_store_lock_device(struct fl_tx *tx,
                            const char *device_id) FL_MUST_USE;
/* Locks audit chain `chain` for the rest of tx. */
fl_err fl_store_lock_chain(struct fl_tx *tx, const char *chain) FL_MUST_USE;
/* Tries to claim job `name` for the rest of tx, without waiting. */
fl_err fl_store_job_claim(struct fl_tx *tx, const char *name,
                          bool *mine) FL_MUST_USE;

/* --- change notification of device rows -------------------------------------
 *
 * For caches of what a device row holds (server/devauth.h keeps what a
 * check-in needs): they must never serve a row older than the last
 * committed change of it.
 *
 * The store keeps a device clock: a counter that every committed write
 * transaction that changed device rows advances, and per device row (by
 * its ord, hashed into a fixed table of buckets; ords are never reused)
 * the clock value of the last such commit. A cache copies a row this way:
 *
 *     uint64_t c = fl_store_device_clock(st);    (1) BEFORE the read
 *     fl_store_begin(st, false, &tx); ... read the row ...; rollback
 *     keep (row, c)
 *     ...
 *     the copy is current while fl_store_device_unchanged(st, row.ord, c)
 *
 * Why no committed change is missed: a backend advances the clock and
 * stamps the changed rows' buckets AFTER the commit is durable and visible
 * (and before fl_tx_commit returns), all under one lock, each stamp being
 * a clock value above every value read before. Take a commit C of a change
 * to the row that the copy does NOT contain. Then C became visible after
 * the read transaction's snapshot was taken, which is after (1); C's stamp
 * comes after C, so it is above c and the copy is reported changed from
 * then on. Conversely a stamp of a commit the copy already contains only
 * costs one more read. Rolled-back transactions stamp nothing; a commit
 * that fails stamps all the same (it may have reached the disk). Buckets
 * are shared by several rows, so a change of one row also costs its
 * bucket mates a read, never a stale answer. A write transaction that
 * changes more rows than a backend tracks marks every row changed.
 *
 * A caller that publishes its own notice after a commit (push.h) may rely
 * on the stamps being in place before fl_tx_commit returns.
 *
 * Other processes (PostgreSQL): a commit made by another process is
 * stamped when its notice arrives (LISTEN/NOTIFY, sent by the commit
 * itself, so a rolled-back transaction sends none): a copy may be served
 * for that long after another process's commit, typically a millisecond
 * and never longer than the notice takes. While the notice connection is
 * down every row counts as changed (caches read through), and once it is
 * back every row is stamped again, so no notice lost in between leaves a
 * stale copy behind. SQLite: only commits made through this struct
 * fl_store are seen; finlockd is the only writer of its data directory's
 * database while it runs (the directory's lock guarantees it).
 *
 * The change feed: fl_store_feed_subscribe() registers fn, called once per
 * changed device row after its bucket is stamped, for commits of this
 * process (on the committing thread, before fl_tx_commit returns) and of
 * every other process (on the store's notice thread). ord < 0 means "any
 * row may have changed" (a transaction too large to track, a notice
 * connection back after an outage). fn must be quick and must not call
 * the store. Subscribe before the store is shared between threads; at
 * most FL_STORE_FEED_MAX subscribers. */

#define FL_STORE_FEED_MAX 8
typedef void (*fl_store_feed_fn)(void *ctx, int64_t ord);
fl_err fl_store_feed_subscribe(struct fl_store *st, fl_store_feed_fn fn,
                               void *ctx) FL_MUST_USE;

/* The device clock now. */
uint64_t fl_store_device_clock(struct fl_store *st);
/* True when no commit changed device row ord (or a bucket mate) after the
 * clock read `clock`. */
bool fl_store_device_unchanged(struct fl_store *st, int64_t ord,
                               uint64_t clock);
/* Declares that tx changes, in device rows, only last_contact,
 * req_counter and the confirmed state (the write-behind check-in
 * bookkeeping): its commit stamps nothing, so caches that keep none of
 * them, or keep the confirmed state only to tell a phone's report from
 * news, stay current. Call it right after fl_store_begin. */
void fl_tx_quiet(struct fl_tx *tx);

/* --- tenants ---------------------------------------------------------------
 */

struct fl_tenant {
	int64_t ord;            /* creation order, for cursors */
	char id[FL_ID_MAX];     /* "tn_..." */
	char name[FL_NAME_MAX]; /* the lender's name, shown to buyers */
	fl_time created_at;     /* when the operator created it */
};

/* FL_E_CONFLICT if the id exists. t->ord is set on success. */
fl_err fl_store_tenant_insert(struct fl_tx *tx,
                              struct fl_tenant *t) FL_MUST_USE;
fl_err fl_store_tenant_get(struct fl_tx *tx, const char *id,
                           struct fl_tenant *out) FL_MUST_USE;
/* Tenants with ord > after, in ord order, at most limit of them. */
fl_err fl_store_tenant_list(struct fl_tx *tx, int64_t after, int limit,
                            fl_err (*fn)(void *ctx, const struct fl_tenant *t),
                            void *ctx) FL_MUST_USE;

/* --- API keys --------------------------------------------------------------
 */

struct fl_apikey {
	int64_t ord;                 /* creation order, for cursors */
	char id[FL_ID_MAX];          /* public key id "ak_...", audited */
	char tenant_id[FL_ID_MAX];   /* "" for an operator key */
	char role[FL_ROLE_NAME_MAX]; /* operator|admin|clerk|support|auditor */
	char label[FL_NAME_MAX];     /* free text from whoever made it */
	uint8_t hash[FL_HASH_LEN];   /* keyed BLAKE2b of the secret */
	char created_by[FL_ID_MAX];  /* key id that created it, "" at boot */
	fl_time created_at;
	fl_time revoked_at;   /* 0 while valid */
	fl_time last_used_at; /* last authenticated use, to the minute; 0 */
};

/* FL_E_CONFLICT if the id or the hash exists. */
fl_err fl_store_apikey_insert(struct fl_tx *tx,
                              struct fl_apikey *k) FL_MUST_USE;
/* The key whose hash is `hash`, revoked or not. */
fl_err fl_store_apikey_by_hash(struct fl_tx *tx,
                               const uint8_t hash[FL_HASH_LEN],
                               struct fl_apikey *out) FL_MUST_USE;
/* The key `id` of tenant_id ("" for operator keys). */
fl_err fl_store_apikey_get(struct fl_tx *tx, const char *tenant_id,
                           const char *id, struct fl_apikey *out) FL_MUST_USE;
/* Marks a key revoked at `at`; FL_E_NOT_FOUND if it is not tenant_id's,
 * FL_E_STATE if already revoked. */
fl_err fl_store_apikey_revoke(struct fl_tx *tx, const char *tenant_id,
                              const char *id, fl_time at) FL_MUST_USE;
/* Keys of tenant_id ("" for operator keys) with ord > after. */
fl_err fl_store_apikey_list(struct fl_tx *tx, const char *tenant_id,
                            int64_t after, int limit,
                            fl_err (*fn)(void *ctx, const struct fl_apikey *k),
                            void *ctx) FL_MUST_USE;
/* Records that key id was used at `at` (it only moves forward). The
 * caller keeps this cheap: at most one write per key and minute. */
fl_err fl_store_apikey_touch(struct fl_tx *tx, const char *id,
                             fl_time at) FL_MUST_USE;
/* Number of keys of any tenant and role ever created. */
fl_err fl_store_apikey_count(struct fl_tx *tx, int64_t *n) FL_MUST_USE;

/* --- console sessions ------------------------------------------------------
 */

/* A browser signed in with an API key. The session id itself is never
 * stored: only its keyed hash. */
struct fl_session_rec {
	uint8_t hash[FL_HASH_LEN];   /* keyed BLAKE2b of the session id */
	char key_id[FL_ID_MAX];      /* the API key it acts as */
	char tenant_id[FL_ID_MAX];   /* that key's tenant, "" for operator */
	char role[FL_ROLE_NAME_MAX]; /* that key's role at sign-in */
	fl_time created_at;          /* sign-in */
	fl_time last_seen;           /* last use (to within a minute) */
};

/* FL_E_CONFLICT if the hash exists. */
fl_err fl_store_session_insert(struct fl_tx *tx,
                               const struct fl_session_rec *s) FL_MUST_USE;
/* The session whose hash is `hash`; FL_E_NOT_FOUND if none. */
fl_err fl_store_session_get(struct fl_tx *tx, const uint8_t hash[FL_HASH_LEN],
                            struct fl_session_rec *out) FL_MUST_USE;
/* Sets last_seen; FL_E_NOT_FOUND if the session is gone. */
fl_err fl_store_session_touch(struct fl_tx *tx,
                              const uint8_t hash[FL_HASH_LEN],
                              fl_time at) FL_MUST_USE;
/* Ends a session (a no-op when it is already gone). */
fl_err fl_store_session_delete(struct fl_tx *tx,
                               const uint8_t hash[FL_HASH_LEN]) FL_MUST_USE;
/* Deletes every session last seen before seen_before or created before
 * created_before; *n receives how many. */
fl_err fl_store_session_expire(struct fl_tx *tx, fl_time seen_before,
                               fl_time created_before,
                               int64_t *n) FL_MUST_USE;

/* --- idempotency -----------------------------------------------------------
 */

#define FL_IDEM_KEY_MAX 128 /* longest Idempotency-Key header accepted */
#define FL_ROUTE_MAX    128 /* "POST /v1/devices/{id}/payments" */

/* The first answer to a request that carried an Idempotency-Key. */
struct fl_idem {
	char tenant_id[FL_ID_MAX];        /* scope: tenant ... */
	char route[FL_ROUTE_MAX];         /* ... and route pattern */
	char key[FL_IDEM_KEY_MAX];        /* the client's key */
	uint8_t fingerprint[FL_HASH_LEN]; /* hash of method, path and body */
	int status;                       /* HTTP status of the first answer */
	char *body;                       /* its body; see fl_store_idem_get */
	fl_time created_at;
};

/* Looks up (tenant, route, key). On success out->body is a NUL-terminated
 * heap copy the caller frees with free(). FL_E_NOT_FOUND if absent. */
fl_err fl_store_idem_get(struct fl_tx *tx, const char *tenant_id,
                         const char *route, const char *key,
                         struct fl_idem *out) FL_MUST_USE;
/* Records an answer. rec->body is borrowed. FL_E_CONFLICT if present. */
fl_err fl_store_idem_put(struct fl_tx *tx,
                         const struct fl_idem *rec) FL_MUST_USE;
/* Forgets records created before `before`; *n (may be NULL) counts them. */
fl_err fl_store_idem_expire(struct fl_tx *tx, fl_time before,
                            int64_t *n) FL_MUST_USE;

/* --- audit -----------------------------------------------------------------
 */

#define FL_AUDIT_ACTION_MAX 48   /* "device.lock" */
#define FL_AUDIT_TEXT_MAX   8192 /* before/after snapshots, JSON text */

/* One entry of an append-only, hash-chained audit log. Each tenant has its
 * own chain (named by the tenant id), the operator has
 * FL_AUDIT_CHAIN_OPERATOR. */
struct fl_audit_entry {
	char chain[FL_ID_MAX];            /* tenant id or "operator" */
	int64_t seq;                      /* 1, 2, ... within the chain */
	fl_time at;                       /* when it happened */
	char actor[FL_ID_MAX];            /* API key id, or "system" */
	char action[FL_AUDIT_ACTION_MAX]; /* "device.lock", "key.revoke" */
	char target[FL_ID_MAX];           /* id acted on, "" if none */
	char before[FL_AUDIT_TEXT_MAX];   /* JSON snapshot before, "" none */
	char after[FL_AUDIT_TEXT_MAX];    /* JSON snapshot after, "" none */
	uint8_t prev_hash[FL_HASH_LEN];   /* hash of entry seq - 1 */
	uint8_t hash[FL_HASH_LEN];        /* hash of this entry */
};

/* The newest entry's seq and hash (0 and zeroes for an empty chain). */
fl_err fl_store_audit_head(struct fl_tx *tx, const char *chain, int64_t *seq,
                           uint8_t hash[FL_HASH_LEN]) FL_MUST_USE;
/* Appends e; the caller computed seq and both hashes from the head read in
 * the same write transaction. FL_E_CONFLICT if seq is taken. */
fl_err fl_store_audit_append(struct fl_tx *tx,
                             const struct fl_audit_entry *e) FL_MUST_USE;

struct fl_audit_filter {
	const char *action; /* exact action, or NULL */
	const char *target; /* exact target, or NULL */
	const char *actor;  /* exact actor, or NULL */
	fl_time since;      /* at >= since; 0: no bound */
	fl_time until;      /* at < until; 0: no bound */
};

/* Entries of chain with seq > after, in seq order, matching filter (may be
 * NULL), at most limit (< 0: no limit). The entry passed to fn is borrowed
 * for the call. */
fl_err fl_store_audit_list(struct fl_tx *tx, const char *chain, int64_t after,
                           int limit, const struct fl_audit_filter *filter,
                           fl_err (*fn)(void *ctx,
                                        const struct fl_audit_entry *e),
                           void *ctx) FL_MUST_USE;
/* Every chain name that has entries. */
fl_err fl_store_audit_chains(struct fl_tx *tx,
                             fl_err (*fn)(void *ctx, const char *chain),
                             void *ctx) FL_MUST_USE;

#define FL_AUDIT_HEAD_TOKEN_MAX 2048 /* a signed audit-head token */

/* A signed statement of a chain's head, kept so that a chain cut short
 * after it was signed is detected. */
struct fl_audit_signed_head {
	char chain[FL_ID_MAX];
	int64_t seq;               /* head seq when signed */
	uint8_t hash[FL_HASH_LEN]; /* head hash when signed */
	fl_time signed_at;
	char token[FL_AUDIT_HEAD_TOKEN_MAX]; /* v4.public, FL_MSG_AUDIT_HEAD */
};

fl_err
fl_store_audit_head_save(struct fl_tx *tx,
                         const struct fl_audit_signed_head *h) FL_MUST_USE;
/* The newest signed head of chain; FL_E_NOT_FOUND if never signed. */
fl_err fl_store_audit_head_latest(struct fl_tx *tx, const char *chain,
                                  struct fl_audit_signed_head *out) FL_MUST_USE;

/* --- devices ---------------------------------------------------------------
 */

#define FL_SERIAL_MAX 64  /* serial number */
#define FL_MODEL_MAX  64  /* model name */
#define FL_REPORT_MAX 256 /* a tamper or SIM report from the phone */
#define FL_REASON_MAX 256 /* reasons given with commands and reversals */
#define FL_CAUSE_MAX  16  /* a state change's cause, "scheduled" and NUL */

/* What the policy decided for a device, as stored after every change. */
struct fl_device_status {
	enum fl_dev_state state;  /* pending|active|reminding|locked|released */
	bool stolen;              /* locked as stolen (state is locked) */
	bool stolen_reported;     /* a stolen report stands, released or not */
	bool released_by_command; /* an admin released it: final */
	enum fl_lock_cause lock_cause; /* why lock_at */
	fl_time lock_at;               /* lock in force or coming, 0 none */
	fl_time unlock_until;          /* manual unlock holds until, 0 none */
	fl_time paid_through;          /* first installment not fully paid, 0 */
	int64_t amount_due;            /* due now and unpaid, minor units */
	int64_t amount_remaining;      /* whole contract not yet paid */
	int64_t credit;                /* paid beyond the whole contract */
	fl_time next_due_at;           /* next installment due after now, 0 */
	int64_t next_due_amount;       /* its unpaid part */
	fl_time next_change;           /* when to decide again, 0 never */
	fl_time decided_at; /* when this decision was stored (a re-decision
	                       that changes nothing stores nothing) */
	uint64_t token_seq; /* bumps whenever the token would change */
	uint8_t outcome[FL_HASH_LEN]; /* hash of what the token carries */
};

/* What the phone last confirmed applying (docs/protocol.md check-in
 * "seq" and "locked"). */
struct fl_confirmed {
	uint64_t seq; /* token seq the phone reported holding */
	bool locked;  /* whether it reported restrictions applied */
	fl_time at;   /* when it reported this state first, 0 never */
};

/* A device's MAC key sealed under a server secret (XChaCha20-Poly1305:
 * 24-byte nonce, 32-byte key, 16-byte tag), so that a request missing
 * finlockd's caches opens it instead of deriving the key again. The
 * database alone never reveals the key; a stored value of another length
 * reads as none. */
#define FL_MAC_SEAL_LEN 72
/* At most this many bytes of a device's token memo: what its row keeps
 * of its last signed token (the server's tokensign.h says what). */
#define FL_TOKEN_MEMO_MAX 256

struct fl_device {
	int64_t ord;        /* creation order, for cursors */
	char id[FL_ID_MAX]; /* "dv_..." */
	char tenant_id[FL_ID_MAX];
	char imei[FL_IMEI_LEN + 1];
	char imei2[FL_IMEI_LEN + 1]; /* "" if single-SIM */
	char serial[FL_SERIAL_MAX];
	char model[FL_MODEL_MAX];
	fl_time created_at;
	bool has_enroll_code;             /* a one-time code is outstanding */
	uint8_t enroll_hash[FL_HASH_LEN]; /* keyed hash of that code */
	fl_time enroll_expires;           /* the code's end */
	fl_time enrolled_at;              /* 0 until the phone enrolls */
	bool has_keys;                    /* device keys known (enrolled) */
	uint8_t device_pk[32];            /* Ed25519 public key */
	uint8_t kx_pk[32];                /* X25519 public key */
	fl_time last_contact;             /* last authenticated contact */
	uint64_t req_counter;             /* highest request counter seen */
	bool has_factory;                 /* a factory key is registered */
	uint8_t factory_pk[32];           /* its Ed25519 public key */
	fl_time tamper_at;                /* last tamper report, 0 none */
	char tamper_report[FL_REPORT_MAX];
	fl_time sim_at; /* last SIM change report, 0 none */
	char sim_report[FL_REPORT_MAX];
	bool has_contract;
	struct fl_device_status st; /* the current decision */
	struct fl_confirmed confirmed; /* what the phone last applied */
	bool has_mac_seal;             /* mac_seal holds a sealed key */
	uint8_t mac_seal[FL_MAC_SEAL_LEN]; /* the MAC key, sealed */
	size_t token_memo_len;               /* 0: none */
	uint8_t token_memo[FL_TOKEN_MEMO_MAX]; /* last token, in brief */
};

/* Inserts d and claims its IMEIs. FL_E_IMEI_IN_PROGRAM if either IMEI is
 * claimed by a device in a program (any tenant); FL_E_CONFLICT for a taken
 * id. */
fl_err fl_store_device_insert(struct fl_tx *tx,
                              struct fl_device *d) FL_MUST_USE;
/* The device id of tenant_id. */
fl_err fl_store_device_get(struct fl_tx *tx, const char *tenant_id,
                           const char *id, struct fl_device *out) FL_MUST_USE;
/* The device id, whatever its tenant (for the device protocol, which
 * authenticates the device itself). */
fl_err fl_store_device_get_any(struct fl_tx *tx, const char *id,
                               struct fl_device *out) FL_MUST_USE;
/* The newest device registered with imei (as first or second IMEI), in
 * any tenant. */
fl_err fl_store_device_by_imei(struct fl_tx *tx, const char *imei,
                               struct fl_device *out) FL_MUST_USE;
/* The device whose outstanding enrollment code has this hash (expired or
 * not: the caller checks enroll_expires). */
fl_err fl_store_device_by_enroll_hash(struct fl_tx *tx,
                                      const uint8_t hash[FL_HASH_LEN],
                                      struct fl_device *out) FL_MUST_USE;
/* Sets (hash != NULL) or clears the outstanding enrollment code. */
fl_err fl_store_device_set_enroll_code(struct fl_tx *tx, const char *id,
                                       const uint8_t *hash,
                                       fl_time expires) FL_MUST_USE;
/* Records an enrollment: the device's keys, when, and clears the code
 * (and any sealed MAC key of earlier keys). */
fl_err fl_store_device_enroll(struct fl_tx *tx, const char *id,
                              const uint8_t device_pk[32],
                              const uint8_t kx_pk[32], fl_time at) FL_MUST_USE;
/* Records contact: last_contact and the request counter (never lowered). */
fl_err fl_store_device_touch(struct fl_tx *tx, const char *id, fl_time at,
                             uint64_t counter) FL_MUST_USE;
/* Records a tamper (sim = false) or SIM change (sim = true) report. */
fl_err fl_store_device_report(struct fl_tx *tx, const char *id, bool sim,
                              fl_time at, const char *text) FL_MUST_USE;
/* Stores a new decision for the device. */
fl_err
fl_store_device_set_status(struct fl_tx *tx, const char *id,
                           const struct fl_device_status *st) FL_MUST_USE;
/* Releases the device's IMEI claims (it leaves the program for good). */
fl_err fl_store_device_unclaim(struct fl_tx *tx, const char *id) FL_MUST_USE;

/* The orders a device list comes in; ties broken by ord, ascending. */
enum fl_device_sort {
	FL_DSORT_REGISTERED = 0, /* ord (registration order) */
	FL_DSORT_LAST_CONTACT,   /* last_contact (0: never) */
	FL_DSORT_AMOUNT_DUE,     /* amount due now */
	FL_DSORT_NEXT_DUE,       /* next_due_at, none (0) after every date */
	FL_DSORT_STATE,          /* state, in enum fl_dev_state's order */
};
#define FL_DSORT_COUNT 5

struct fl_device_filter {
	bool any_state; /* false: only devices in `state` */
	enum fl_dev_state state;
	bool overdue;     /* only devices with an amount due now */
	bool tamper;      /* only devices that reported tampering */
	bool sim;         /* only devices that reported a SIM change */
	bool stolen;      /* only devices with a stolen report standing */
	bool lock_held;   /* only devices a manual unlock holds open at `now`
	                     (unlock_until > now, not released) */
	fl_time now;      /* the time lock_held is judged at */
	const char *q;    /* substring of id, IMEIs, serial, model,
	                     loan reference; NULL: any */
	bool lean;        /* read only ord, id, tenant_id, state, stolen,
	                     paid_through, amount_due and amount_remaining
	                     (the rest of the device zero), registration
	                     order only: for reports over every device */
	const char *imei; /* exactly this first or second IMEI, by its
	                     index (registration order only, the other
	                     filters ignored); NULL: any */
	enum fl_device_sort sort; /* order of the list */
	bool desc;                /* the sort key descending (ties: ord
	                             ascending) */
	bool has_key;             /* resume after (after_key, after): a list
	                             sorted by anything but registration */
	int64_t after_key;        /* fl_device_sort_key() of the last row */
};

/* The value a device sorts by under `sort` (what a resumed list's
 * after_key holds). */
int64_t fl_device_sort_key(const struct fl_device *d, enum fl_device_sort sort);

/* Devices of tenant_id matching filter, in its order, at most limit (< 0:
 * all). Sorted by registration: ascending, those with ord > after;
 * descending, those with ord < after (after 0: from the newest). Sorted
 * by another key: from the start without has_key, else those after the
 * row (after_key, after) in the list's order. */
fl_err fl_store_device_list(struct fl_tx *tx, const char *tenant_id,
                            const struct fl_device_filter *filter,
                            int64_t after, int limit,
                            fl_err (*fn)(void *ctx, const struct fl_device *d),
                            void *ctx) FL_MUST_USE;
/* Ids of devices (any tenant) whose next_change is in (0, now], oldest
 * first, at most limit. tenant_ids and ids are arrays of limit entries. */
fl_err fl_store_device_due(struct fl_tx *tx, fl_time now, int limit,
                           char (*tenant_ids)[FL_ID_MAX],
                           char (*ids)[FL_ID_MAX], int *n) FL_MUST_USE;
/* The earliest next_change after `after` of any device (all tenants), 0
 * when there is none: when the sweep has work next. */
fl_err fl_store_device_next_change(struct fl_tx *tx, fl_time after,
                                   fl_time *at) FL_MUST_USE;
/* Number of devices in each state (all tenants), and of those with a
 * stolen report standing. */
fl_err fl_store_device_count(struct fl_tx *tx, int64_t by_state[5],
                             int64_t *stolen) FL_MUST_USE;

/* --- contracts -------------------------------------------------------------
 */

#define FL_LOAN_REF_MAX        64
#define FL_MESSAGE_MAX         512
#define FL_PHONE_MAX           32
#define FL_CONTRACT_MAX_PHONES 4
#define FL_APP_ID_MAX          128
#define FL_CONTRACT_MAX_APPS   16

/* A device's contract: the policy's terms plus what the lock screen shows.
 * schedule is heap memory owned by the record (fl_contract_rec_clear). */
struct fl_contract_rec {
	int64_t ord; /* creation order, for cursors */
	char device_id[FL_ID_MAX];
	char tenant_id[FL_ID_MAX];
	fl_time created_at;
	char loan_ref[FL_LOAN_REF_MAX];        /* the lender's account number */
	char currency[4];                      /* ISO 4217 */
	int32_t utc_offset;                    /* seconds east of UTC */
	int64_t grace;                         /* seconds after a due date */
	int64_t max_offline;                   /* seconds; 0 = off */
	int64_t remind[FL_POLICY_MAX_OFFSETS]; /* seconds before due dates */
	size_t n_remind;
	uint64_t restrict_mask; /* restrict.h bits when locked */
	char allow_apps[FL_CONTRACT_MAX_APPS][FL_APP_ID_MAX];
	size_t n_allow_apps;
	char message[FL_MESSAGE_MAX]; /* lock screen message */
	char contact_name[FL_NAME_MAX];
	char contact_phones[FL_CONTRACT_MAX_PHONES][FL_PHONE_MAX];
	size_t n_contact_phones;
	enum fl_reaction sim_policy;
	enum fl_reaction tamper_policy;
	struct fl_installment *schedule; /* owned */
	size_t n_schedule;
};

/* Frees what c owns and zeroes it. NULL-safe. */
void fl_contract_rec_clear(struct fl_contract_rec *c);

/* Inserts c (c->schedule is borrowed). FL_E_CONFLICT if the device has a
 * contract. */
fl_err fl_store_contract_insert(struct fl_tx *tx,
                                struct fl_contract_rec *c) FL_MUST_USE;
/* Reads the contract of device_id of tenant_id; out->schedule is owned by
 * out (fl_contract_rec_clear). */
fl_err fl_store_contract_get(struct fl_tx *tx, const char *tenant_id,
                             const char *device_id,
                             struct fl_contract_rec *out) FL_MUST_USE;
/* Contracts of tenant_id with ord > after; the record passed to fn has no
 * schedule (n_schedule = 0) and is borrowed for the call. */
fl_err fl_store_contract_list(struct fl_tx *tx, const char *tenant_id,
                              int64_t after, int limit,
                              fl_err (*fn)(void *ctx,
                                           const struct fl_contract_rec *c),
                              void *ctx) FL_MUST_USE;

struct fl_reschedule_rec {
	int64_t ord;  /* issue order */
	fl_time from; /* replaces installments due >= from */
	fl_time created_at;
	char actor[FL_ID_MAX];
	char reason[FL_REASON_MAX];
	struct fl_installment *schedule; /* owned by the record's owner */
	size_t n_schedule;
};

/* Adds a reschedule to device_id's contract (r->schedule borrowed). */
fl_err fl_store_reschedule_insert(struct fl_tx *tx, const char *tenant_id,
                                  const char *device_id,
                                  struct fl_reschedule_rec *r) FL_MUST_USE;

/* --- payments --------------------------------------------------------------
 */

#define FL_REFERENCE_MAX 128

struct fl_payment_rec {
	int64_t ord;        /* recording order, for cursors */
	char id[FL_ID_MAX]; /* "py_..." */
	char tenant_id[FL_ID_MAX];
	char device_id[FL_ID_MAX];
	int64_t amount;                   /* minor units, > 0 */
	fl_time paid_at;                  /* when the customer paid */
	char reference[FL_REFERENCE_MAX]; /* the lender's receipt reference */
	fl_time recorded_at;
	char recorded_by[FL_ID_MAX]; /* API key id */
	fl_time reversed_at;         /* 0 unless reversed */
	char reverse_reason[FL_REASON_MAX];
	char reversed_by[FL_ID_MAX];
};

fl_err fl_store_payment_insert(struct fl_tx *tx,
                               struct fl_payment_rec *p) FL_MUST_USE;
fl_err fl_store_payment_get(struct fl_tx *tx, const char *tenant_id,
                            const char *id,
                            struct fl_payment_rec *out) FL_MUST_USE;
/* The earliest payment of tenant_id recorded with this (non-empty)
 * reference, reversed or not; FL_E_NOT_FOUND if none. */
fl_err fl_store_payment_by_reference(struct fl_tx *tx, const char *tenant_id,
                                     const char *reference,
                                     struct fl_payment_rec *out) FL_MUST_USE;
/* Marks a payment reversed. FL_E_STATE if it already is. */
fl_err fl_store_payment_reverse(struct fl_tx *tx, const char *tenant_id,
                                const char *id, fl_time at, const char *reason,
                                const char *by) FL_MUST_USE;
/* Payments of tenant_id (of device_id, or all when NULL), ord > after. */
fl_err fl_store_payment_list(struct fl_tx *tx, const char *tenant_id,
                             const char *device_id, int64_t after, int limit,
                             fl_err (*fn)(void *ctx,
                                          const struct fl_payment_rec *p),
                             void *ctx) FL_MUST_USE;

/* --- commands --------------------------------------------------------------
 */

struct fl_command_rec {
	int64_t ord; /* issue order; the command's id */
	enum fl_cmd_kind kind;
	fl_time issued_at;
	fl_time at; /* LOCK_AT / UNLOCK_UNTIL time, else 0 */
	char reason[FL_REASON_MAX];
	char actor[FL_ID_MAX];
	bool show_reason;     /* LOCK, LOCK_AT: reason shown on the phone */
	fl_time cancelled_at; /* 0 unless cancelled */
	char cancelled_by[FL_ID_MAX];
	char cancel_reason[FL_REASON_MAX];
};

/* Inserts c (its cancel fields are ignored); c->ord is set. */
fl_err fl_store_command_insert(struct fl_tx *tx, const char *tenant_id,
                               const char *device_id,
                               struct fl_command_rec *c) FL_MUST_USE;
/* Command ord of device_id of tenant_id. */
fl_err fl_store_command_get(struct fl_tx *tx, const char *tenant_id,
                            const char *device_id, int64_t ord,
                            struct fl_command_rec *out) FL_MUST_USE;
/* Cancels command ord at `at`: a scheduled lock (LOCK_AT) whose time is
 * after `at` never comes; an unlock (UNLOCK_UNTIL) ending after `at` ends
 * at `at` instead (fl_store_device_inputs applies this). FL_E_STATE if it
 * is cancelled already. */
fl_err fl_store_command_cancel(struct fl_tx *tx, const char *tenant_id,
                               const char *device_id, int64_t ord, fl_time at,
                               const char *by,
                               const char *reason) FL_MUST_USE;

/* --- decision inputs -------------------------------------------------------
 */

/* Everything fl_policy_decide needs about one device, loaded in one call.
 * Arrays are in the order the policy wants (reschedules and commands in
 * issue order, payments by paid_at); all memory is owned by the struct. */
struct fl_device_inputs {
	bool has_contract;
	struct fl_contract_rec contract;
	struct fl_reschedule *reschedules; /* schedules point into items */
	size_t n_reschedules;
	struct fl_installment *resched_items;
	struct fl_payment *payments; /* id = the payment's ord */
	size_t n_payments;
	struct fl_command *commands; /* reasons point into reasons */
	size_t n_commands;
	char (*reasons)[FL_REASON_MAX];
	int64_t *cmd_ord; /* the stored id (ord) of each commands[] entry */
	bool *cmd_show;   /* its show_reason */
	fl_time last_command_at; /* issued_at of the newest command */
};

/* Loads device_id's inputs (tenant-scoped). More than the policy's caps
 * is FL_E_TOO_LARGE. A cancelled command enters as its cancellation left
 * it: a LOCK_AT cancelled before its time is left out; an UNLOCK_UNTIL
 * cancelled before its end ends at the cancellation. */
fl_err fl_store_device_inputs(struct fl_tx *tx, const char *tenant_id,
                              const char *device_id,
                              struct fl_device_inputs *out) FL_MUST_USE;
/* fl_store_device_get and fl_store_device_inputs of one device together,
 * as a decision reads them (in fewer statements than the two). *in is
 * cleared by the caller with fl_device_inputs_clear; on failure both
 * outputs are zeroed and own nothing. */
fl_err fl_store_device_load(struct fl_tx *tx, const char *tenant_id,
                            const char *device_id, struct fl_device *dev,
                            struct fl_device_inputs *in) FL_MUST_USE;
void fl_device_inputs_clear(struct fl_device_inputs *in);

/* --- the sweep's batches -----------------------------------------------------
 *
 * The sweep (server/decide.h) re-decides due devices a batch at a time,
 * one write transaction per batch, in a fixed number of statements per
 * batch rather than per device.
 *
 * fl_store_device_due_load: up to limit devices of any tenant whose
 * next_change is in (0, now], each locked as fl_store_lock_device locks
 * it and read AFTER its lock was taken, as fl_store_device_load reads it
 * (a change committed by the lock's previous holder is seen). A due
 * device whose lock another transaction holds at that moment is left out
 * rather than waited for: that transaction is changing it (and
 * re-deciding it), or it stays due for a later batch. devs[] and ins[]
 * have limit entries; the first *n are filled, in id order, and the
 * caller clears each ins[i] (fl_device_inputs_clear); on failure *n is 0
 * and nothing is owned. PostgreSQL: three statements for the batch (the
 * due ids and their pg_try_advisory_xact_lock, the rows, the inputs);
 * SQLite (one writer at a time): the due list and each device's load.
 * Call it after fl_store_job_claim, in the same transaction: the due
 * list is read after the claim, so two processes never decide a device
 * twice for one change. */
fl_err fl_store_device_due_load(struct fl_tx *tx, fl_time now, int limit,
                                struct fl_device *devs,
                                struct fl_device_inputs *ins,
                                int *n) FL_MUST_USE;

/* One decision to store (fl_store_device_set_status_many). ord and
 * before are optional (0, NULL): the device's row number, and the status
 * the row holds now, which let a backend find the row directly and write
 * only what changed. */
struct fl_status_write {
	const char *id;                   /* the device */
	const struct fl_device_status *st; /* its new decision */
	int64_t ord;                       /* its row, 0 if not known */
	const struct fl_device_status *before; /* as stored, NULL if not known */
};

/* fl_store_device_set_status of w[i], i < n, in as few statements as the
 * backend can (PostgreSQL: one). FL_E_NOT_FOUND if a device is gone
 * (nothing is stored then). */
fl_err fl_store_device_set_status_many(struct fl_tx *tx,
                                       const struct fl_status_write *w,
                                       int n) FL_MUST_USE;

/* --- device protocol -------------------------------------------------------
 *
 * What finlockd keeps for the phone side of docs/protocol.md: the one-time
 * codes already used (a retried enrollment gets its answer again), pending
 * re-enrollments by pairing code, the SIM and tamper reports phones sent,
 * the offline-code counter, and the write-behind check-in bookkeeping. No
 * secret is stored in the clear: the check-in MAC key and the offline-code
 * secret are derived from the server's key-exchange secret, which is a
 * file beside the database, not in it; the MAC key is kept in the row only
 * sealed under a key of the server's secret files (fl_device.mac_seal).
 */

#define FL_PAIRING_CODE_LEN 16 /* digits of a pairing code */
#define FL_PAIRING_MAX      8  /* pending pairing requests per device */
#define FL_PAIRING_NET_MAX  16 /* pending per client network, all devices */
#define FL_PAIRING_NET_LEN  48 /* "192.0.2.0/24", "2001:db8:1:2::/64" */
#define FL_DEVICE_KEY_LEN   32 /* Ed25519 and X25519 public keys */

/* Records an enrollment with new device keys at `at`: the keys,
 * enrolled_at and last contact, the request counter back to 0 (the phone
 * with the new keys counts from 1), the outstanding one-time code cleared
 * and every pairing request of the device dropped; the sealed MAC key of
 * the old keys is dropped too. */
fl_err fl_store_dp_enroll(struct fl_tx *tx, const char *id,
                          const uint8_t sign_pk[FL_DEVICE_KEY_LEN],
                          const uint8_t kx_pk[FL_DEVICE_KEY_LEN],
                          fl_time at) FL_MUST_USE;

/* Registers device id's factory public key, or none (factory_pk NULL). */
fl_err fl_store_dp_set_factory(struct fl_tx *tx, const char *id,
                               const uint8_t *factory_pk) FL_MUST_USE;

/* Write-behind check-in bookkeeping: raises device id's last_contact and
 * req_counter (never lowers them), only while its key-exchange key is
 * still kx_pk, so bookkeeping of keys replaced by a re-enrollment is
 * dropped. ord, when known (else 0), is the row's fl_device.ord: the row
 * is then found by it directly rather than through the id index. FL_OK
 * also when nothing matched. */
fl_err fl_store_dp_touch(struct fl_tx *tx, const char *id, int64_t ord,
                         const uint8_t kx_pk[FL_DEVICE_KEY_LEN], fl_time at,
                         uint64_t counter) FL_MUST_USE;

/* Write-behind too: keeps seal as device id's sealed MAC key
 * (fl_device.mac_seal) while its key-exchange key is still kx_pk, so a
 * key sealed for keys a re-enrollment replaced is dropped. ord as for
 * fl_store_dp_touch. FL_OK also when nothing matched. */
fl_err fl_store_dp_seal(struct fl_tx *tx, const char *id, int64_t ord,
                        const uint8_t kx_pk[FL_DEVICE_KEY_LEN],
                        const uint8_t seal[FL_MAC_SEAL_LEN]) FL_MUST_USE;

/* Write-behind too: keeps memo[len] (len <= FL_TOKEN_MEMO_MAX) as device
 * id's token memo while its token seq is still seq. FL_OK also when
 * nothing matched. */
fl_err fl_store_dp_token_memo(struct fl_tx *tx, const char *id, uint64_t seq,
                              const uint8_t *memo, size_t len) FL_MUST_USE;

/* Claims request counter `counter` of device id for a request whose effects
 * (a report, a confirmation, a used offline code) this transaction applies:
 * raises the device's applied counter to `counter` if it is below, else
 * FL_E_REPLAY (a request with that counter, or a later one, was applied
 * already, possibly by another process). Separate from req_counter, which
 * the write-behind bookkeeping raises; re-enrollment sets both back to 0. */
fl_err fl_store_dp_claim(struct fl_tx *tx, const char *id,
                         uint64_t counter) FL_MUST_USE;

/* A one-time enrollment code that has been used, and by which keys. */
struct fl_used_code {
	uint8_t hash[FL_HASH_LEN]; /* keyed hash of the code */
	char device_id[FL_ID_MAX];
	uint8_t sign_pk[FL_DEVICE_KEY_LEN]; /* keys it enrolled */
	uint8_t kx_pk[FL_DEVICE_KEY_LEN];
	fl_time used_at;
};

/* FL_E_CONFLICT if the hash is recorded already. */
fl_err fl_store_used_code_put(struct fl_tx *tx,
                              const struct fl_used_code *u) FL_MUST_USE;
fl_err fl_store_used_code_get(struct fl_tx *tx, const uint8_t hash[FL_HASH_LEN],
                              struct fl_used_code *out) FL_MUST_USE;

enum fl_pairing_status {
	FL_PAIRING_PENDING = 0, /* waits for the lender */
	FL_PAIRING_APPROVED,    /* the phone's next enroll re-enrolls it */
	FL_PAIRING_REJECTED,    /* the lender refused it */
};

/* A reflashed phone's request to re-enroll a device with new keys. */
struct fl_pairing_rec {
	int64_t ord; /* creation order */
	char device_id[FL_ID_MAX];
	uint8_t sign_pk[FL_DEVICE_KEY_LEN]; /* the phone's new keys */
	uint8_t kx_pk[FL_DEVICE_KEY_LEN];
	char code[FL_PAIRING_CODE_LEN + 1]; /* what the phone shows */
	fl_time created_at;
	fl_time expires_at;
	enum fl_pairing_status status;
	fl_time decided_at;         /* approval or refusal, 0 pending */
	char decided_by[FL_ID_MAX]; /* API key id */
	bool factory_signed; /* signed by the device's registered factory key */
	char client_net[FL_PAIRING_NET_LEN]; /* where it came from */
};

/* Inserts r; FL_E_CONFLICT if the device has a request with these keys.
 * r->ord is set. */
fl_err fl_store_pairing_put(struct fl_tx *tx,
                            struct fl_pairing_rec *r) FL_MUST_USE;
/* The request of device_id with these keys, expired or not. */
fl_err fl_store_pairing_get(struct fl_tx *tx, const char *device_id,
                            const uint8_t sign_pk[FL_DEVICE_KEY_LEN],
                            const uint8_t kx_pk[FL_DEVICE_KEY_LEN],
                            struct fl_pairing_rec *out) FL_MUST_USE;
/* device_id's requests in creation order. */
fl_err fl_store_pairing_list(struct fl_tx *tx, const char *device_id,
                             fl_err (*fn)(void *ctx,
                                          const struct fl_pairing_rec *r),
                             void *ctx) FL_MUST_USE;
/* Sets the status of request ord of device_id. */
fl_err fl_store_pairing_decide(struct fl_tx *tx, const char *device_id,
                               int64_t ord, enum fl_pairing_status status,
                               fl_time at, const char *by) FL_MUST_USE;
/* Drops device_id's requests that expired at or before `now`. */
fl_err fl_store_pairing_expire(struct fl_tx *tx, const char *device_id,
                               fl_time now) FL_MUST_USE;
/* Drops request ord of device_id. */
fl_err fl_store_pairing_drop(struct fl_tx *tx, const char *device_id,
                             int64_t ord) FL_MUST_USE;
/* How many pending requests from client_net, of any device, that no
 * factory key signed, expire after now. */
fl_err fl_store_pairing_count_net(struct fl_tx *tx, const char *client_net,
                                  fl_time now, int64_t *n) FL_MUST_USE;

enum fl_report_kind {
	FL_REPORT_SIM = 1,    /* the SIM changed */
	FL_REPORT_TAMPER = 2, /* rooted, bootloader unlocked */
};

/* One SIM or tamper report a phone sent at check-in. */
struct fl_report_rec {
	int64_t ord; /* arrival order */
	char device_id[FL_ID_MAX];
	char tenant_id[FL_ID_MAX];
	fl_time at; /* when the server received it */
	enum fl_report_kind kind;
	char detail[FL_REPORT_MAX]; /* "iccid 8925...", "rooted" */
};

/* Appends r (r->ord is set). */
fl_err fl_store_report_add(struct fl_tx *tx,
                           struct fl_report_rec *r) FL_MUST_USE;
/* Reports of device_id of tenant_id, newest first, at most limit. */
fl_err fl_store_report_list(struct fl_tx *tx, const char *tenant_id,
                            const char *device_id, int limit,
                            fl_err (*fn)(void *ctx,
                                         const struct fl_report_rec *r),
                            void *ctx) FL_MUST_USE;

/* A device's offline unlock codes (core/ocode.h): the newest code minted
 * and the newest one the phone reported using. */
struct fl_ocode_rec {
	uint64_t counter;          /* newest code's counter, 0 none */
	int action;                /* its enum fl_ocode_action */
	int64_t issue_day;         /* its UTC issue day */
	fl_time issued_at;         /* when it was minted */
	char issued_by[FL_ID_MAX]; /* API key id */
	uint64_t used;             /* newest counter the phone accepted */
	fl_time unlock_until;      /* end of that code's unlock, 0 none */
};

/* device_id's record; all zero (FL_OK) when no code was ever minted. */
fl_err fl_store_ocode_get(struct fl_tx *tx, const char *device_id,
                          struct fl_ocode_rec *out) FL_MUST_USE;
/* Records a newly minted code (counter, action, issue_day, issued_at,
 * issued_by of r); used and unlock_until are kept. */
fl_err fl_store_ocode_issue(struct fl_tx *tx, const char *device_id,
                            const struct fl_ocode_rec *r) FL_MUST_USE;
/* Raises the used counter to `used` (never lowers it) with its
 * unlock_until. */
fl_err fl_store_ocode_used(struct fl_tx *tx, const char *device_id,
                           uint64_t used, fl_time unlock_until) FL_MUST_USE;

/* --- payment sources (money in from providers) ----------------------------
 *
 * A payment source is a provider's feed into one tenant (Safaricom Daraja
 * C2B, or any provider signing its callbacks). Its callback URLs carry a
 * random secret of which only a keyed hash is kept (path_hash); a signed
 * source keeps its HMAC secret itself, since verifying needs it. Every
 * provider payment is remembered by (source, provider reference), so a
 * callback sent again is answered as the first was and never recorded
 * twice. A payment that matches no contract is kept as unmatched until an
 * admin assigns it. */

#define FL_SOURCE_KIND_MAX   16  /* "mpesa_c2b", "signed" */
#define FL_SHORTCODE_MAX     16  /* a Daraja paybill or till number */
#define FL_SOURCE_NETS_MAX   512 /* "196.201.214.0/24,..." */
#define FL_SOURCE_SECRET_MAX 96  /* "whsec_" + base64 of 32 bytes */
#define FL_PAYER_MAX         128 /* who paid, as the provider named them */

struct fl_source_rec {
	int64_t ord;                       /* creation order, for cursors */
	char id[FL_ID_MAX];                /* "ps_..." */
	char tenant_id[FL_ID_MAX];
	char kind[FL_SOURCE_KIND_MAX];     /* "mpesa_c2b" or "signed" */
	char name[FL_NAME_MAX];            /* the lender's label */
	char shortcode[FL_SHORTCODE_MAX];  /* mpesa_c2b: BusinessShortCode */
	char currency[4];                  /* what its amounts are in */
	char networks[FL_SOURCE_NETS_MAX]; /* allowed CIDRs, comma-separated */
	uint8_t path_hash[FL_HASH_LEN];    /* keyed hash of the URL secret */
	char secret[FL_SOURCE_SECRET_MAX]; /* signed: HMAC secret; else "" */
	int64_t max_silence;               /* seconds; 0 = no expectation */
	fl_time created_at;
	fl_time disabled_at;      /* 0 unless disabled */
	fl_time rotated_at;       /* last secret rotation, 0 never */
	fl_time last_callback_at; /* last accepted callback, 0 never */
	fl_time stale_since;      /* when it was found stale, 0 healthy */
};

fl_err fl_store_source_insert(struct fl_tx *tx,
                              struct fl_source_rec *s) FL_MUST_USE;
/* The source id, of tenant_id (NULL: of any tenant: a callback knows only
 * the id). */
fl_err fl_store_source_get(struct fl_tx *tx, const char *tenant_id,
                           const char *id,
                           struct fl_source_rec *out) FL_MUST_USE;
/* Sources of tenant_id (NULL: all tenants) with ord > after. */
fl_err fl_store_source_list(struct fl_tx *tx, const char *tenant_id,
                            int64_t after, int limit,
                            fl_err (*fn)(void *ctx,
                                         const struct fl_source_rec *s),
                            void *ctx) FL_MUST_USE;
/* Stores the mutable fields of s (name, networks, path_hash, secret,
 * max_silence, disabled_at, rotated_at, stale_since) by s->id and
 * s->tenant_id. FL_E_NOT_FOUND if there is no such source. */
fl_err fl_store_source_update(struct fl_tx *tx,
                              const struct fl_source_rec *s) FL_MUST_USE;
/* A callback accepted at `at`: last_callback_at becomes at (never moved
 * back) and stale_since 0. */
fl_err fl_store_source_touch(struct fl_tx *tx, const char *id,
                             fl_time at) FL_MUST_USE;

/* A provider's payment as finlock first answered it. */
struct fl_provider_ref {
	char source_id[FL_ID_MAX];
	char ref[FL_REFERENCE_MAX]; /* the provider's id (Daraja TransID) */
	char tenant_id[FL_ID_MAX];
	uint8_t fingerprint[FL_HASH_LEN]; /* hash of account and amount */
	int64_t amount;                   /* minor units */
	char payment_id[FL_ID_MAX];       /* recorded as this payment, or "" */
	char unmatched_id[FL_ID_MAX];     /* kept as unmatched, or "" */
	fl_time created_at;
};

/* FL_E_CONFLICT if (source_id, ref) is stored already. */
fl_err fl_store_provider_ref_put(struct fl_tx *tx,
                                 const struct fl_provider_ref *r) FL_MUST_USE;
fl_err fl_store_provider_ref_get(struct fl_tx *tx, const char *source_id,
                                 const char *ref,
                                 struct fl_provider_ref *out) FL_MUST_USE;
/* The earliest provider payment of tenant_id with this reference, from
 * any of its sources. */
fl_err fl_store_provider_ref_find(struct fl_tx *tx, const char *tenant_id,
                                  const char *ref,
                                  struct fl_provider_ref *out) FL_MUST_USE;
/* Provider payments of tenant_id created in [from, to], oldest first. */
fl_err fl_store_provider_ref_list(struct fl_tx *tx, const char *tenant_id,
                                  fl_time from, fl_time to,
                                  fl_err (*fn)(void *ctx,
                                               const struct fl_provider_ref
                                                       *r),
                                  void *ctx) FL_MUST_USE;

/* Remembers a signed callback's message id; FL_E_CONFLICT if the source
 * saw it already. Ids seen before `forget_before` are forgotten (the
 * timestamp check refuses their messages anyway). */
fl_err fl_store_source_msg_put(struct fl_tx *tx, const char *source_id,
                               const char *msg_id, fl_time at,
                               fl_time forget_before) FL_MUST_USE;

struct fl_unmatched_rec {
	int64_t ord;                      /* arrival order, for cursors */
	char id[FL_ID_MAX];               /* "um_..." */
	char tenant_id[FL_ID_MAX];
	char source_id[FL_ID_MAX];
	char reference[FL_REFERENCE_MAX]; /* the provider's id */
	char account[FL_LOAN_REF_MAX];    /* the account the payer typed */
	int64_t amount;                   /* minor units */
	char currency[4];
	fl_time paid_at;
	char reason[FL_REASON_MAX]; /* why it matched no contract */
	char payer[FL_PAYER_MAX];   /* as the provider gave it (maybe masked) */
	fl_time created_at;
	char payment_id[FL_ID_MAX]; /* once assigned: the payment, else "" */
	fl_time assigned_at;
	char assigned_by[FL_ID_MAX];
	/* what it stood for (as fl_provider_ref's fingerprint); all zero
	 * for none. (source_id, reference, fingerprint) is kept once. */
	uint8_t fingerprint[FL_HASH_LEN];
};

/* FL_E_CONFLICT if an unmatched payment with u's source_id, reference and
 * (non-zero) fingerprint is stored already. */
fl_err fl_store_unmatched_insert(struct fl_tx *tx,
                                 struct fl_unmatched_rec *u) FL_MUST_USE;
/* The unmatched payment of source_id kept for reference with this
 * fingerprint; FL_E_NOT_FOUND if none. */
fl_err fl_store_unmatched_find(struct fl_tx *tx, const char *source_id,
                               const char *reference,
                               const uint8_t fingerprint[FL_HASH_LEN],
                               struct fl_unmatched_rec *out) FL_MUST_USE;
fl_err fl_store_unmatched_get(struct fl_tx *tx, const char *tenant_id,
                              const char *id,
                              struct fl_unmatched_rec *out) FL_MUST_USE;
/* Unmatched payments of tenant_id with ord > after; open_only: those not
 * assigned yet. */
fl_err fl_store_unmatched_list(struct fl_tx *tx, const char *tenant_id,
                               bool open_only, int64_t after, int limit,
                               fl_err (*fn)(void *ctx,
                                            const struct fl_unmatched_rec *u),
                               void *ctx) FL_MUST_USE;
/* Marks id assigned to payment_id. FL_E_STATE if it already is. */
fl_err fl_store_unmatched_assign(struct fl_tx *tx, const char *tenant_id,
                                 const char *id, const char *payment_id,
                                 fl_time at, const char *by) FL_MUST_USE;

/* The device of tenant_id whose contract's loan reference, lower-cased
 * with spaces removed, is norm_ref (given that way). FL_E_NOT_FOUND if
 * none. */
fl_err fl_store_contract_by_ref(struct fl_tx *tx, const char *tenant_id,
                                const char *norm_ref,
                                char device_id[FL_ID_MAX]) FL_MUST_USE;

/* A release by a provider's payment waiting for the lender (or a
 * statement) to confirm it: one per device. */
struct fl_pending_release {
	char device_id[FL_ID_MAX];
	char tenant_id[FL_ID_MAX];
	char payment_id[FL_ID_MAX]; /* the payment that would release it */
	fl_time created_at;
};

/* Inserts or replaces the device's pending release. */
fl_err fl_store_pending_release_put(struct fl_tx *tx,
                                    const struct fl_pending_release *r)
        FL_MUST_USE;
fl_err fl_store_pending_release_get(struct fl_tx *tx, const char *device_id,
                                    struct fl_pending_release *out)
        FL_MUST_USE;
/* FL_E_NOT_FOUND if the device has none. */
fl_err fl_store_pending_release_drop(struct fl_tx *tx,
                                     const char *device_id) FL_MUST_USE;

/* --- lock holds ------------------------------------------------------------
 * A tenant-wide hold on automatic (overdue) locks: a freeze an admin set,
 * or a payment source found stale. */

#define FL_HOLD_KIND_MAX 16 /* "freeze", "stale" */

struct fl_hold_rec {
	int64_t ord;
	char id[FL_ID_MAX]; /* "lh_..." */
	char tenant_id[FL_ID_MAX];
	char kind[FL_HOLD_KIND_MAX];
	char source_id[FL_ID_MAX]; /* stale: the source; else "" */
	fl_time until;             /* automatic locks wait until then */
	char reason[FL_REASON_MAX];
	fl_time created_at;
	char created_by[FL_ID_MAX];
	fl_time released_at; /* 0 while it stands */
	char released_by[FL_ID_MAX];
};

fl_err fl_store_hold_insert(struct fl_tx *tx,
                            struct fl_hold_rec *h) FL_MUST_USE;
/* Stores until and reason of h (by id and tenant_id). */
fl_err fl_store_hold_extend(struct fl_tx *tx,
                            const struct fl_hold_rec *h) FL_MUST_USE;
/* Ends a hold. FL_E_STATE if it has ended already. */
fl_err fl_store_hold_release(struct fl_tx *tx, const char *tenant_id,
                             const char *id, fl_time at,
                             const char *by) FL_MUST_USE;
/* Holds of tenant_id (NULL: all tenants), newest first; standing_at != 0:
 * only those not released with until > standing_at. */
fl_err fl_store_hold_list(struct fl_tx *tx, const char *tenant_id,
                          fl_time standing_at, int limit,
                          fl_err (*fn)(void *ctx,
                                       const struct fl_hold_rec *h),
                          void *ctx) FL_MUST_USE;
/* --- webhooks (server/events.h, docs/webhooks.md) --------------------------
 *
 * Endpoints a tenant registered, the outbox of events (written in the
 * transaction of the change each reports) and one delivery per event and
 * endpoint subscribed to its type when it was emitted. Deliveries of one
 * endpoint are handed out in event order, one at a time: only an
 * endpoint's oldest pending delivery is ever claimed.
 */

#define FL_WH_URL_MAX    1024 /* an endpoint's URL */
#define FL_WH_EVENTS_MAX 512  /* ",device.locked,payment.recorded," or "*" */
#define FL_WH_TYPE_MAX   48   /* "device.unlock_confirmed" */
#define FL_WH_ERROR_MAX  256  /* why the last attempt failed */
#define FL_WH_BODY_MAX   16384 /* an event's JSON body */

struct fl_wh_endpoint {
	int64_t ord;        /* creation order, for cursors */
	char id[FL_ID_MAX]; /* "we_..." */
	char tenant_id[FL_ID_MAX];
	char url[FL_WH_URL_MAX];
	char events[FL_WH_EVENTS_MAX]; /* "*" or ",type,type," */
	int64_t secret_gen;            /* bumped by each rotation */
	fl_time prev_secret_until; /* generation secret_gen - 1 signs too
	                            * until then (0: never) */
	fl_time created_at;
	char created_by[FL_ID_MAX];
	fl_time disabled_at; /* 0 while enabled */
	char disabled_reason[FL_REASON_MAX];
};

/* Inserts e (e->ord is set). FL_E_CONFLICT if the id exists. */
fl_err fl_store_wh_endpoint_insert(struct fl_tx *tx,
                                   struct fl_wh_endpoint *e) FL_MUST_USE;
fl_err fl_store_wh_endpoint_get(struct fl_tx *tx, const char *tenant_id,
                                const char *id,
                                struct fl_wh_endpoint *out) FL_MUST_USE;
/* Endpoints of tenant_id with ord > after. */
fl_err fl_store_wh_endpoint_list(struct fl_tx *tx, const char *tenant_id,
                                 int64_t after, int limit,
                                 fl_err (*fn)(void *ctx,
                                              const struct fl_wh_endpoint *e),
                                 void *ctx) FL_MUST_USE;
/* Stores e's disabled_at, disabled_reason, secret_gen and
 * prev_secret_until (found by e->tenant_id and e->id). */
fl_err fl_store_wh_endpoint_update(struct fl_tx *tx,
                                   const struct fl_wh_endpoint *e) FL_MUST_USE;
/* Deletes an endpoint and its deliveries. */
fl_err fl_store_wh_endpoint_delete(struct fl_tx *tx, const char *tenant_id,
                                   const char *id) FL_MUST_USE;

struct fl_wh_event {
	int64_t ord;        /* emission order */
	char id[FL_ID_MAX]; /* "msg_...": the webhook-id */
	char tenant_id[FL_ID_MAX];
	char type[FL_WH_TYPE_MAX];
	fl_time created_at;
	const char *body; /* the JSON body sent, borrowed */
};

/* Appends ev to the outbox and queues one delivery (due at
 * ev->created_at) for each enabled endpoint of its tenant subscribed to
 * its type. ev->ord is set; *n (may be NULL) receives the deliveries
 * queued. */
fl_err fl_store_wh_event_add(struct fl_tx *tx, struct fl_wh_event *ev,
                             int64_t *n) FL_MUST_USE;

enum fl_wh_state {
	FL_WH_PENDING = 0,   /* to be sent (again) */
	FL_WH_DELIVERED = 1, /* the endpoint answered 2xx */
	FL_WH_FAILED = 2,    /* given up, or the endpoint is gone */
};

struct fl_wh_delivery {
	int64_t ord; /* queue order */
	int64_t event_ord;
	char event_id[FL_ID_MAX];
	char type[FL_WH_TYPE_MAX];
	fl_time event_at; /* the event's created_at */
	char endpoint_id[FL_ID_MAX];
	char tenant_id[FL_ID_MAX];
	char url[FL_WH_URL_MAX]; /* the endpoint's, when read */
	int64_t secret_gen;      /* the endpoint's, when read */
	fl_time prev_secret_until; /* the endpoint's, when read */
	enum fl_wh_state state;
	int attempts;        /* made so far */
	fl_time next_at;     /* due (pending) */
	fl_time lease_until; /* claimed by a sender until */
	fl_time last_at;     /* last attempt, 0 none */
	int last_status;     /* its HTTP status, 0 none */
	char last_error[FL_WH_ERROR_MAX];
	fl_time done_at; /* delivered or failed */
	char *body;      /* the event's body: see the functions */
};

/* Claims up to max deliveries due at now that are the oldest pending of
 * their (enabled) endpoint and not claimed by another sender, until
 * lease_until. out[0..*n) receive them, each body a heap copy the caller
 * frees with free(). Several processes may claim at once: a delivery is
 * handed to one of them until its lease ends. */
fl_err fl_store_wh_claim(struct fl_tx *tx, fl_time now, fl_time lease_until,
                         int max, struct fl_wh_delivery *out,
                         int *n) FL_MUST_USE;
/* Records an attempt of delivery ord: its state, attempts, next_at,
 * last_at, last_status, last_error and done_at from d, and ends its
 * lease. */
fl_err fl_store_wh_delivery_update(struct fl_tx *tx,
                                   const struct fl_wh_delivery *d) FL_MUST_USE;
/* Deliveries of tenant_id (of endpoint_id, or all when NULL) with
 * ord > after, newest last; body borrowed for the call. */
fl_err fl_store_wh_delivery_list(struct fl_tx *tx, const char *tenant_id,
                                 const char *endpoint_id, int64_t after,
                                 int limit,
                                 fl_err (*fn)(void *ctx,
                                              const struct fl_wh_delivery *d),
                                 void *ctx) FL_MUST_USE;
/* Delivery ord of tenant_id; out->body is NULL. */
fl_err fl_store_wh_delivery_get(struct fl_tx *tx, const char *tenant_id,
                                int64_t ord,
                                struct fl_wh_delivery *out) FL_MUST_USE;
/* Deletes up to limit of the oldest events created before `before` that
 * have no pending delivery, with their deliveries (delivered or given
 * up). *n receives the events deleted. */
fl_err fl_store_wh_prune(struct fl_tx *tx, fl_time before, int limit,
                         int64_t *n) FL_MUST_USE;

/* --- what the phone confirmed ------------------------------------------------
 */

fl_err fl_store_device_confirmed(struct fl_tx *tx, const char *id,
                                 struct fl_confirmed *out) FL_MUST_USE;
/* Stores c as device id's confirmed state. */
fl_err fl_store_device_confirm(struct fl_tx *tx, const char *id,
                               const struct fl_confirmed *c) FL_MUST_USE;

/* --- the portfolio report -----------------------------------------------------
 */

/* Devices of one tenant alike for the portfolio: the same contract
 * currency, state and stolen flag, with their sums. */
struct fl_pf_group {
	char currency[4]; /* "" without a contract */
	enum fl_dev_state state;
	bool stolen; /* locked as stolen */
	int64_t n;
	int64_t amount_remaining; /* summed */
	int64_t amount_due;       /* summed */
};

/* A loan (with a contract, not released) with an amount due. */
struct fl_pf_late {
	char device_id[FL_ID_MAX];
	char currency[4];
	int64_t amount_remaining;
	fl_time paid_through;
	fl_time first_unpaid; /* the contract schedule's first installment due
	                         after paid_through, 0 none: exact unless
	                         rescheduled */
	bool rescheduled;     /* it has reschedules: first_unpaid must come
	                         from the effective schedule */
};

/* tenant_id's devices grouped by (currency, state, stolen), in one pass
 * over an index that holds what is summed; a (currency, state, stolen)
 * may come in more than one group (their sums add up). */
fl_err fl_store_portfolio_groups(struct fl_tx *tx, const char *tenant_id,
                                 fl_err (*fn)(void *ctx,
                                              const struct fl_pf_group *g),
                                 void *ctx) FL_MUST_USE;
/* tenant_id's loans with an amount due, in no particular order. */
fl_err fl_store_portfolio_late(struct fl_tx *tx, const char *tenant_id,
                               fl_err (*fn)(void *ctx,
                                            const struct fl_pf_late *l),
                               void *ctx) FL_MUST_USE;

/* One loan's collections as fl_store_portfolio_loans reads them: its
 * schedule, reschedules and payments as fl_store_device_inputs gives
 * them (in.has_contract set; no commands). Borrowed for the call. */
struct fl_pf_loan {
	char device_id[FL_ID_MAX];
	char currency[4];
	const struct fl_device_inputs *in;
};

/* Every contract of tenant_id (released loans' too), in contract order,
 * with its schedule, reschedules and payments: a page of contracts at a
 * time, their installments, reschedules and payments read in one ordered
 * statement per page instead of several per loan. */
fl_err fl_store_portfolio_loans(struct fl_tx *tx, const char *tenant_id,
                                fl_err (*fn)(void *ctx,
                                             const struct fl_pf_loan *l),
                                void *ctx) FL_MUST_USE;

/* --- changes of decided state ------------------------------------------------
 */

/* One change of a device's decided state, written in the transaction of
 * the decision that made it (the portfolio's trends, docs/web.md). */
struct fl_state_change {
	int64_t ord; /* recording order */
	char tenant_id[FL_ID_MAX];
	char device_id[FL_ID_MAX];
	fl_time at; /* when decided */
	enum fl_dev_state from, to;
	char cause[FL_CAUSE_MAX]; /* into locked: the lock's cause (policy.h
	                             names); out of locked: payment, unlock,
	                             release or other; else "" */
	uint64_t token_seq;  /* the decision's token seq */
	fl_time paid_at;     /* out of locked by payment: the record time of
	                        that payment, else 0 */
	fl_time confirmed_at; /* into or out of locked: when the phone first
	                         reported it applied, 0 not yet */
};

/* Appends c (its ord is set). */
fl_err fl_store_state_change_add(struct fl_tx *tx,
                                 struct fl_state_change *c) FL_MUST_USE;
/* fl_store_state_change_add of c[i], i < n, in as few statements as the
 * backend can (PostgreSQL: one); their ords are not set. */
fl_err fl_store_state_change_add_many(struct fl_tx *tx,
                                      const struct fl_state_change *c,
                                      int n) FL_MUST_USE;
/* The newest change of device_id, FL_E_NOT_FOUND when there is none. */
fl_err fl_store_state_change_last(struct fl_tx *tx, const char *device_id,
                                  struct fl_state_change *out) FL_MUST_USE;
/* Sets confirmed_at = at on device_id's changes not yet confirmed with
 * token_seq <= seq: those into locked when locked, those out of locked
 * otherwise. */
fl_err fl_store_state_change_confirm(struct fl_tx *tx, const char *device_id,
                                     bool locked, uint64_t seq,
                                     fl_time at) FL_MUST_USE;
/* How many of tenant_id's changes before `until` went from each state to
 * each state, in buckets: -1 for those before `from`, else
 * (at - from) / period. fn is called once per non-empty (bucket, from,
 * to). */
fl_err fl_store_state_change_counts(
        struct fl_tx *tx, const char *tenant_id, fl_time from, fl_time period,
        fl_time until,
        fl_err (*fn)(void *ctx, int bucket, enum fl_dev_state from_state,
                     enum fl_dev_state to_state, int64_t n),
        void *ctx) FL_MUST_USE;
/* tenant_id's changes into or out of locked with since <= at < until,
 * by device, then in the order they were made. */
fl_err fl_store_state_change_locks(struct fl_tx *tx, const char *tenant_id,
                                   fl_time since, fl_time until,
                                   fl_err (*fn)(void *ctx,
                                                const struct fl_state_change *c),
                                   void *ctx) FL_MUST_USE;

#endif
