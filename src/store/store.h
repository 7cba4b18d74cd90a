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
 * (fsync'd) before it returns FL_OK, fl_tx_rollback() discards them. Both
 * free the transaction. A write transaction is exclusive: while one is open,
 * other writers wait (up to the backend's busy timeout, then
 * FL_E_STORE_BUSY), so read-decide-write sequences inside one are safe.
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
};

/* Opens (creating if needed) the SQLite database at path, in WAL mode with
 * fsync on every commit, and applies pending migrations. opts may be NULL.
 * FL_E_STORE_SCHEMA if the file was written by a newer finlockd.
 * *out is freed with fl_store_close(). */
fl_err
fl_store_open_sqlite(struct fl_store **out, const char *path,
                     const struct fl_store_sqlite_opts *opts) FL_MUST_USE;

/* Closes every connection and frees st. No transaction may be open. NULL
 * is a no-op. */
void fl_store_close(struct fl_store *st);

/* The schema version the store is at, and the newest one this build
 * knows. */
int fl_store_schema_version(const struct fl_store *st);
int fl_store_schema_latest(void);

/* --- transactions ----------------------------------------------------------
 */

/* Begins a transaction; write = true takes the writer lock at once. *tx is
 * released by fl_tx_commit() or fl_tx_rollback(). */
fl_err fl_store_begin(struct fl_store *st, bool write,
                      struct fl_tx **tx) FL_MUST_USE;
/* Commits and frees tx. On failure the writes are rolled back and tx is
 * freed all the same. */
fl_err fl_tx_commit(struct fl_tx *tx) FL_MUST_USE;
/* Rolls back and frees tx. NULL is a no-op. */
void fl_tx_rollback(struct fl_tx *tx);

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
	fl_time revoked_at; /* 0 while valid */
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
/* Number of keys of any tenant and role ever created. */
fl_err fl_store_apikey_count(struct fl_tx *tx, int64_t *n) FL_MUST_USE;

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

#endif
