/*
 * pg_int.h - the PostgreSQL backend's shared internals.
 *
 * The backend is split by record kind like the SQLite one (pg_admin.c:
 * tenants, keys, idempotency, the keys fingerprint; pg_audit.c;
 * pg_devices.c; pg_devproto.c; pg_sessions.c) around pg.c, which owns the
 * connection pool, transactions, the change feed, migrations (pg_schema.c)
 * and these helpers.
 *
 * Statements: a record file writes `static const char sql[] = "..."` with
 * $1, $2 ... parameters and calls pg_run(); each connection prepares a
 * statement once, keyed by the address of its text, and executes it by
 * name afterwards. Parameters go as text (integers in decimal) or binary
 * (blobs, as bytea), results come back in binary: pg_int/pg_text/pg_blob
 * read them by the column's type.
 *
 * A failed statement aborts a PostgreSQL transaction, where SQLite lets
 * the transaction go on. Statements that may fail in a way the caller
 * recovers from (a unique violation answered FL_E_CONFLICT) run with
 * PG_GUARD: inside a savepoint, so that only the statement is undone.
 *
 * THREAD SAFETY: a struct pg_conn is used by one transaction, hence one
 * thread, at a time.
 */
#ifndef FL_PG_INT_H
#define FL_PG_INT_H

#include <libpq-fe.h>
#include <stdatomic.h>

#include "store/store_int.h"

#define PG_CACHE_SLOTS 256 /* distinct SQL texts a connection prepares */
#define PG_PARAMS_MAX  32  /* parameters of one statement */

struct pg_conn {
	PGconn *db;                       /* NULL until connected */
	const char *keys[PG_CACHE_SLOTS]; /* SQL texts prepared on db */
	bool in_use;                      /* held by a transaction */
	bool pending; /* a read transaction's ROLLBACK was sent, its answer
	               * not read yet (ready_conn reads it) */
	_Atomic int pid; /* its server process (PQbackendPID), 0 none */
};

struct fl_tx {
	struct fl_tx_base base; /* first: see store_int.h */
	struct pg_conn *c;      /* the connection it holds */
	bool begun;             /* its BEGIN was sent (with its first
	                         * statement) */
	bool quiet;             /* fl_tx_quiet */
	fl_err failed; /* first error of a statement outside a savepoint:
	                * PostgreSQL aborted the transaction */
};

/* The parameters of one statement, in $-order. Text and blobs are not
 * copied: they must outlive pg_run. */
struct pg_params {
	int n;
	bool overflow; /* more than PG_PARAMS_MAX were added */
	const char *v[PG_PARAMS_MAX];
	int len[PG_PARAMS_MAX];
	int fmt[PG_PARAMS_MAX];
	char num[PG_PARAMS_MAX][24]; /* integers in decimal */
};

void pg_p_text(struct pg_params *p, const char *s); /* NULL: SQL NULL */
void pg_p_int(struct pg_params *p, int64_t v);
void pg_p_blob(struct pg_params *p, const void *b, size_t n); /* NULL: NULL */

#define PG_GUARD 1 /* pg_run flag: undo only this statement on failure */

/* Runs the statement sql with params p (may be NULL) on tx's connection.
 * On FL_OK *res (may be NULL to discard it) holds the result, freed by
 * the caller with PQclear; on failure it is NULL and the error is mapped
 * (pg_fail) and recorded. */
fl_err pg_run(struct fl_tx *tx, const char *sql, const struct pg_params *p,
              int flags, PGresult **res);
/* Two statements in one round trip (the second does not depend on the
 * first's rows); *r1 and *r2 as pg_run's *res, both NULL on failure. A
 * failure aborts the transaction (no PG_GUARD). For small parameters
 * only: the connection is in blocking mode, so everything is sent before
 * the first row is read (a few KiB at most, or the two directions of the
 * connection could fill up and wait for each other). */
fl_err pg_run_pair(struct fl_tx *tx, const char *sql1,
                   const struct pg_params *p1, const char *sql2,
                   const struct pg_params *p2, PGresult **r1,
                   PGresult **r2);
/* pg_run for a statement whose rows are not read: *changed (may be NULL)
 * receives how many rows it inserted, updated or deleted. */
fl_err pg_cmd(struct fl_tx *tx, const char *sql, const struct pg_params *p,
              int flags, int64_t *changed);

/* An fl_err for a failed result (res may be NULL: the connection is
 * gone), recording PostgreSQL's own message for fl_store_errmsg():
 * 40001, 40P01 -> FL_E_STORE_RETRY; 23xxx -> FL_E_CONFLICT; 53100 ->
 * FL_E_INSUFFICIENT_STORAGE; 53200 -> FL_E_NOMEM; 08xxx, 57Pxx and a lost
 * connection -> FL_E_STORE_UNAVAILABLE; 55P03 (lock_timeout), 57014
 * (statement_timeout) -> FL_E_STORE_BUSY; 54000 -> FL_E_TOO_LARGE;
 * 22003 -> FL_E_RANGE, other 22xxx (text invalid in the database's
 * encoding...) -> FL_E_INVALID; XX001, XX002 (damaged data) ->
 * FL_E_CORRUPT; else FL_E_STORE. */
fl_err pg_fail(PGconn *db, const PGresult *res);

/* Readers of binary result columns. pg_int reads int2, int4, int8 and
 * bool (NULL reads 0). pg_text copies into buf[cap] (NULL reads ""),
 * FL_E_CORRUPT if it does not fit; pg_blob copies exactly n bytes,
 * FL_E_CORRUPT otherwise. */
bool pg_null(const PGresult *r, int row, int col);
int64_t pg_int(const PGresult *r, int row, int col);
fl_err pg_text(const PGresult *r, int row, int col, char *buf, size_t cap);
fl_err pg_blob(const PGresult *r, int row, int col, void *buf, size_t n);
/* The first column of a one-row RETURNING result (a row's ord), or 0. */
int64_t pg_returned(const PGresult *r);

/* Evaluates expr into the function's `err` and jumps to `out` on failure. */
#define TRY(expr)                                                              \
	do {                                                                   \
		if ((err = (expr)) != FL_OK)                                   \
			goto out;                                              \
	} while (0)

/* Record operations, by file. */
fl_err pg_tenant_insert(struct fl_tx *tx, struct fl_tenant *t);
fl_err pg_tenant_get(struct fl_tx *tx, const char *id, struct fl_tenant *out);
fl_err pg_tenant_list(struct fl_tx *tx, int64_t after, int limit,
                      FL_STORE_LIST_FN(struct fl_tenant), void *ctx);
fl_err pg_apikey_insert(struct fl_tx *tx, struct fl_apikey *k);
fl_err pg_apikey_by_hash(struct fl_tx *tx, const uint8_t hash[FL_HASH_LEN],
                         struct fl_apikey *out);
fl_err pg_apikey_get(struct fl_tx *tx, const char *tenant_id, const char *id,
                     struct fl_apikey *out);
fl_err pg_apikey_revoke(struct fl_tx *tx, const char *tenant_id, const char *id,
                        fl_time at);
fl_err pg_apikey_list(struct fl_tx *tx, const char *tenant_id, int64_t after,
                      int limit, FL_STORE_LIST_FN(struct fl_apikey), void *ctx);
fl_err pg_apikey_count(struct fl_tx *tx, int64_t *n);
fl_err pg_apikey_touch(struct fl_tx *tx, const char *id, fl_time at);
fl_err pg_idem_get(struct fl_tx *tx, const char *tenant_id, const char *route,
                   const char *key, struct fl_idem *out);
fl_err pg_idem_put(struct fl_tx *tx, const struct fl_idem *rec);
fl_err pg_idem_expire(struct fl_tx *tx, fl_time before, int64_t *n);
fl_err pg_keys_fingerprint(struct fl_tx *tx,
                           uint8_t out[FL_KEYS_FINGERPRINT_LEN]);
fl_err pg_keys_fingerprint_put(struct fl_tx *tx,
                               const uint8_t fp[FL_KEYS_FINGERPRINT_LEN],
                               fl_time at);

fl_err pg_audit_head(struct fl_tx *tx, const char *chain, int64_t *seq,
                     uint8_t hash[FL_HASH_LEN]);
fl_err pg_audit_append(struct fl_tx *tx, const struct fl_audit_entry *e);
fl_err pg_audit_list(struct fl_tx *tx, const char *chain, int64_t after,
                     int limit, const struct fl_audit_filter *filter,
                     FL_STORE_LIST_FN(struct fl_audit_entry), void *ctx);
fl_err pg_audit_chains(struct fl_tx *tx,
                       fl_err (*fn)(void *ctx, const char *chain), void *ctx);
fl_err pg_audit_head_save(struct fl_tx *tx,
                          const struct fl_audit_signed_head *h);
fl_err pg_audit_head_latest(struct fl_tx *tx, const char *chain,
                            struct fl_audit_signed_head *out);

fl_err pg_device_insert(struct fl_tx *tx, struct fl_device *d);
fl_err pg_device_get(struct fl_tx *tx, const char *tenant_id, const char *id,
                     struct fl_device *out);
fl_err pg_device_get_any(struct fl_tx *tx, const char *id,
                         struct fl_device *out);
fl_err pg_device_by_imei(struct fl_tx *tx, const char *imei,
                         struct fl_device *out);
fl_err pg_device_by_enroll_hash(struct fl_tx *tx,
                                const uint8_t hash[FL_HASH_LEN],
                                struct fl_device *out);
fl_err pg_device_set_enroll_code(struct fl_tx *tx, const char *id,
                                 const uint8_t *hash, fl_time expires);
fl_err pg_device_enroll(struct fl_tx *tx, const char *id,
                        const uint8_t device_pk[32], const uint8_t kx_pk[32],
                        fl_time at);
fl_err pg_device_touch(struct fl_tx *tx, const char *id, fl_time at,
                       uint64_t counter);
fl_err pg_device_report(struct fl_tx *tx, const char *id, bool sim, fl_time at,
                        const char *text);
fl_err pg_device_set_status(struct fl_tx *tx, const char *id,
                            const struct fl_device_status *st);
fl_err pg_device_unclaim(struct fl_tx *tx, const char *id);
fl_err pg_device_list(struct fl_tx *tx, const char *tenant_id,
                      const struct fl_device_filter *filter, int64_t after,
                      int limit,
                      fl_err (*fn)(void *ctx, const struct fl_device *d),
                      void *ctx);
fl_err pg_device_due(struct fl_tx *tx, fl_time now, int limit,
                     char (*tenant_ids)[FL_ID_MAX], char (*ids)[FL_ID_MAX],
                     int *n);
fl_err pg_device_count(struct fl_tx *tx, int64_t by_state[5], int64_t *stolen);
fl_err pg_contract_insert(struct fl_tx *tx, struct fl_contract_rec *c);
fl_err pg_contract_get(struct fl_tx *tx, const char *tenant_id,
                       const char *device_id, struct fl_contract_rec *out);
fl_err pg_contract_list(
        struct fl_tx *tx, const char *tenant_id, int64_t after, int limit,
        fl_err (*fn)(void *ctx, const struct fl_contract_rec *c), void *ctx);
fl_err pg_reschedule_insert(struct fl_tx *tx, const char *tenant_id,
                            const char *device_id, struct fl_reschedule_rec *r);
fl_err pg_payment_insert(struct fl_tx *tx, struct fl_payment_rec *p);
fl_err pg_payment_get(struct fl_tx *tx, const char *tenant_id, const char *id,
                      struct fl_payment_rec *out);
fl_err pg_payment_by_reference(struct fl_tx *tx, const char *tenant_id,
                               const char *reference,
                               struct fl_payment_rec *out);
fl_err pg_payment_reverse(struct fl_tx *tx, const char *tenant_id,
                          const char *id, fl_time at, const char *reason,
                          const char *by);
fl_err pg_payment_list(struct fl_tx *tx, const char *tenant_id,
                       const char *device_id, int64_t after, int limit,
                       fl_err (*fn)(void *ctx, const struct fl_payment_rec *p),
                       void *ctx);
fl_err pg_command_insert(struct fl_tx *tx, const char *tenant_id,
                         const char *device_id, struct fl_command_rec *c);
fl_err pg_command_get(struct fl_tx *tx, const char *tenant_id,
                      const char *device_id, int64_t ord,
                      struct fl_command_rec *out);
fl_err pg_command_cancel(struct fl_tx *tx, const char *tenant_id,
                         const char *device_id, int64_t ord, fl_time at,
                         const char *by, const char *reason);
fl_err pg_device_inputs(struct fl_tx *tx, const char *tenant_id,
                        const char *device_id, struct fl_device_inputs *out);
fl_err pg_device_next_change(struct fl_tx *tx, fl_time after, fl_time *at);
fl_err pg_device_load(struct fl_tx *tx, const char *tenant_id,
                      const char *device_id, struct fl_device *dev,
                      struct fl_device_inputs *in);
fl_err pg_device_due_load(struct fl_tx *tx, fl_time now, int limit,
                          struct fl_device *devs, struct fl_device_inputs *ins,
                          int *n);
fl_err pg_device_set_status_many(struct fl_tx *tx,
                                 const struct fl_status_write *w, int n);
fl_err pg_state_change_add_many(struct fl_tx *tx,
                                const struct fl_state_change *c, int n);

/* pg_devproto.c */
fl_err pg_dp_enroll(struct fl_tx *tx, const char *id,
                    const uint8_t sign_pk[FL_DEVICE_KEY_LEN],
                    const uint8_t kx_pk[FL_DEVICE_KEY_LEN], fl_time at);
fl_err pg_dp_touch(struct fl_tx *tx, const char *id, int64_t ord,
                   const uint8_t kx_pk[FL_DEVICE_KEY_LEN], fl_time at,
                   uint64_t counter);
fl_err pg_dp_seal(struct fl_tx *tx, const char *id, int64_t ord,
                  const uint8_t kx_pk[FL_DEVICE_KEY_LEN],
                  const uint8_t seal[FL_MAC_SEAL_LEN]);
fl_err pg_dp_token_memo(struct fl_tx *tx, const char *id, uint64_t seq,
                        const uint8_t *memo, size_t len);
fl_err pg_dp_claim(struct fl_tx *tx, const char *id, uint64_t counter);
fl_err pg_dp_set_factory(struct fl_tx *tx, const char *id,
                         const uint8_t *factory_pk);
fl_err pg_used_code_put(struct fl_tx *tx, const struct fl_used_code *u);
fl_err pg_used_code_get(struct fl_tx *tx, const uint8_t hash[FL_HASH_LEN],
                        struct fl_used_code *out);
fl_err pg_pairing_put(struct fl_tx *tx, struct fl_pairing_rec *r);
fl_err pg_pairing_get(struct fl_tx *tx, const char *device_id,
                      const uint8_t sign_pk[FL_DEVICE_KEY_LEN],
                      const uint8_t kx_pk[FL_DEVICE_KEY_LEN],
                      struct fl_pairing_rec *out);
fl_err pg_pairing_list(struct fl_tx *tx, const char *device_id,
                       FL_STORE_LIST_FN(struct fl_pairing_rec), void *ctx);
fl_err pg_pairing_decide(struct fl_tx *tx, const char *device_id, int64_t ord,
                         enum fl_pairing_status status, fl_time at,
                         const char *by);
fl_err pg_pairing_expire(struct fl_tx *tx, const char *device_id, fl_time now);
fl_err pg_pairing_drop(struct fl_tx *tx, const char *device_id, int64_t ord);
fl_err pg_pairing_count_net(struct fl_tx *tx, const char *client_net,
                            fl_time now, int64_t *n);
fl_err pg_report_add(struct fl_tx *tx, struct fl_report_rec *r);
fl_err pg_report_list(struct fl_tx *tx, const char *tenant_id,
                      const char *device_id, int limit,
                      FL_STORE_LIST_FN(struct fl_report_rec), void *ctx);
fl_err pg_ocode_get(struct fl_tx *tx, const char *device_id,
                    struct fl_ocode_rec *out);
fl_err pg_ocode_issue(struct fl_tx *tx, const char *device_id,
                      const struct fl_ocode_rec *r);
fl_err pg_ocode_used(struct fl_tx *tx, const char *device_id, uint64_t used,
                     fl_time unlock_until);

/* pg_sessions.c */
fl_err pg_session_insert(struct fl_tx *tx, const struct fl_session_rec *s);
fl_err pg_session_get(struct fl_tx *tx, const uint8_t hash[FL_HASH_LEN],
                      struct fl_session_rec *out);
fl_err pg_session_touch(struct fl_tx *tx, const uint8_t hash[FL_HASH_LEN],
                        fl_time at);
fl_err pg_session_delete(struct fl_tx *tx, const uint8_t hash[FL_HASH_LEN]);
fl_err pg_session_expire(struct fl_tx *tx, fl_time seen_before,
                         fl_time created_before, int64_t *n);

/* The numbered migrations in PostgreSQL's dialect, the same numbers and
 * meaning as sq_migrations; migration i (1-based) is pg_migrations[i - 1]. */
extern const char *const pg_migrations[];
extern const int pg_migrations_count;

/* pg_sources.c */
fl_err pg_source_list(struct fl_tx *tx, const char *tenant_id, int64_t after,
                      int limit, FL_STORE_LIST_FN(struct fl_source_rec),
                      void *ctx);
fl_err pg_provider_ref_list(struct fl_tx *tx, const char *tenant_id,
                            fl_time from, fl_time to,
                            FL_STORE_LIST_FN(struct fl_provider_ref),
                            void *ctx);
fl_err pg_unmatched_list(struct fl_tx *tx, const char *tenant_id,
                         bool open_only, int64_t after, int limit,
                         FL_STORE_LIST_FN(struct fl_unmatched_rec), void *ctx);
fl_err pg_hold_list(struct fl_tx *tx, const char *tenant_id,
                    fl_time standing_at, int limit,
                    FL_STORE_LIST_FN(struct fl_hold_rec), void *ctx);
fl_err pg_source_insert(struct fl_tx *tx, struct fl_source_rec *s);
fl_err pg_source_get(struct fl_tx *tx, const char *tenant_id, const char *id,
                     struct fl_source_rec *out);
fl_err pg_source_update(struct fl_tx *tx, const struct fl_source_rec *s);
fl_err pg_source_touch(struct fl_tx *tx, const char *id, fl_time at);
fl_err pg_provider_ref_put(struct fl_tx *tx, const struct fl_provider_ref *r);
fl_err pg_provider_ref_get(struct fl_tx *tx, const char *source_id,
                           const char *ref, struct fl_provider_ref *out);
fl_err pg_provider_ref_find(struct fl_tx *tx, const char *tenant_id,
                            const char *ref, struct fl_provider_ref *out);
fl_err pg_source_msg_put(struct fl_tx *tx, const char *source_id,
                         const char *msg_id, fl_time at, fl_time forget_before);
fl_err pg_unmatched_insert(struct fl_tx *tx, struct fl_unmatched_rec *u);
fl_err pg_unmatched_get(struct fl_tx *tx, const char *tenant_id, const char *id,
                        struct fl_unmatched_rec *out);
fl_err pg_unmatched_find(struct fl_tx *tx, const char *source_id,
                         const char *reference,
                         const uint8_t fingerprint[FL_HASH_LEN],
                         struct fl_unmatched_rec *out);
fl_err pg_unmatched_assign(struct fl_tx *tx, const char *tenant_id,
                           const char *id, const char *payment_id, fl_time at,
                           const char *by);
fl_err pg_contract_by_ref(struct fl_tx *tx, const char *tenant_id,
                          const char *norm_ref, char device_id[FL_ID_MAX]);
fl_err pg_pending_release_put(struct fl_tx *tx,
                              const struct fl_pending_release *r);
fl_err pg_pending_release_get(struct fl_tx *tx, const char *device_id,
                              struct fl_pending_release *out);
fl_err pg_pending_release_drop(struct fl_tx *tx, const char *device_id);
fl_err pg_hold_insert(struct fl_tx *tx, struct fl_hold_rec *h);
fl_err pg_hold_extend(struct fl_tx *tx, const struct fl_hold_rec *h);
fl_err pg_hold_release(struct fl_tx *tx, const char *tenant_id, const char *id,
                       fl_time at, const char *by);
/* pg_webhooks.c */
fl_err pg_wh_endpoint_insert(struct fl_tx *tx, struct fl_wh_endpoint *e);
fl_err pg_wh_endpoint_get(struct fl_tx *tx, const char *tenant_id,
                          const char *id, struct fl_wh_endpoint *out);
fl_err pg_wh_endpoint_list(struct fl_tx *tx, const char *tenant_id,
                           int64_t after, int limit,
                           FL_STORE_LIST_FN(struct fl_wh_endpoint), void *ctx);
fl_err pg_wh_endpoint_update(struct fl_tx *tx, const struct fl_wh_endpoint *e);
fl_err pg_wh_endpoint_delete(struct fl_tx *tx, const char *tenant_id,
                             const char *id);
fl_err pg_wh_event_add(struct fl_tx *tx, struct fl_wh_event *ev, int64_t *n);
fl_err pg_wh_claim(struct fl_tx *tx, fl_time now, fl_time lease_until,
                   int max, struct fl_wh_delivery *out, int *n);
fl_err pg_wh_delivery_update(struct fl_tx *tx, const struct fl_wh_delivery *d);
fl_err pg_wh_delivery_list(struct fl_tx *tx, const char *tenant_id,
                           const char *endpoint_id, int64_t after, int limit,
                           FL_STORE_LIST_FN(struct fl_wh_delivery), void *ctx);
fl_err pg_wh_delivery_get(struct fl_tx *tx, const char *tenant_id, int64_t ord,
                          struct fl_wh_delivery *out);
fl_err pg_wh_prune(struct fl_tx *tx, fl_time before, int limit, int64_t *n);
fl_err pg_device_confirmed(struct fl_tx *tx, const char *id,
                           struct fl_confirmed *out);
fl_err pg_device_confirm(struct fl_tx *tx, const char *id,
                         const struct fl_confirmed *c);

fl_err pg_state_change_add(struct fl_tx *tx, struct fl_state_change *c);
fl_err pg_state_change_last(struct fl_tx *tx, const char *device_id,
                            struct fl_state_change *out);
fl_err pg_state_change_confirm(struct fl_tx *tx, const char *device_id,
                               bool locked, uint64_t seq, fl_time at);
fl_err pg_state_change_counts(
        struct fl_tx *tx, const char *tenant_id, fl_time from, fl_time period,
        fl_time until,
        fl_err (*fn)(void *ctx, int bucket, enum fl_dev_state f,
                     enum fl_dev_state t, int64_t n),
        void *ctx);
fl_err pg_state_change_locks(struct fl_tx *tx, const char *tenant_id,
                             fl_time since, fl_time until,
                             FL_STORE_LIST_FN(struct fl_state_change),
                             void *ctx);

fl_err pg_portfolio_groups(struct fl_tx *tx, const char *tenant_id,
                             FL_STORE_LIST_FN(struct fl_pf_group), void *ctx);
fl_err pg_portfolio_late(struct fl_tx *tx, const char *tenant_id,
                           FL_STORE_LIST_FN(struct fl_pf_late), void *ctx);
fl_err pg_portfolio_rows(struct fl_tx *tx, const char *tenant_id,
                         int64_t after, int limit,
                         fl_err (*fn)(void *ctx, int64_t contract_ord,
                                      const struct fl_store_extra *e,
                                      const char *device_id,
                                      const char *currency),
                         void *ctx);

#endif
