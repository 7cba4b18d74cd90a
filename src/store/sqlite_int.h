/*
 * sqlite_int.h - the SQLite backend's shared internals.
 *
 * The backend is split by record kind (sqlite_admin.c: tenants, keys,
 * idempotency; sqlite_audit.c; sqlite_devices.c) around sqlite.c, which owns
 * the connection pool, transactions, migrations and these helpers. Each
 * connection caches its prepared statements keyed by the address of the SQL
 * text, so a record file writes `static const char sql[] = "..."` and calls
 * sq_stmt(); statements are reset by sq_done() before the function returns.
 *
 * THREAD SAFETY: a struct sq_conn is used by one transaction, hence one
 * thread, at a time.
 */
#ifndef FL_SQLITE_INT_H
#define FL_SQLITE_INT_H

#include <sqlite3.h>

#include "store/store_int.h"

#define SQ_CACHE_SLOTS 256 /* distinct SQL texts a connection caches */

struct sq_conn {
	sqlite3 *db;                         /* one connection */
	const char *keys[SQ_CACHE_SLOTS];    /* SQL text addresses */
	sqlite3_stmt *stmts[SQ_CACHE_SLOTS]; /* their prepared statements */
	bool in_use;                         /* held by a transaction */
};

struct fl_tx {
	struct fl_tx_base base; /* first: see store_int.h */
	struct sq_conn *c;      /* the connection it holds */
};

/* The statement for sql on tx's connection, reset with no bindings.
 * NULL (and *err set) on failure. */
sqlite3_stmt *sq_stmt(struct fl_tx *tx, const char *sql, fl_err *err);
/* Resets st so it holds no locks; NULL-safe. */
void sq_done(sqlite3_stmt *st);

/* An fl_err for a SQLite result code: constraint -> FL_E_CONFLICT,
 * busy/locked -> FL_E_STORE_BUSY, nomem -> FL_E_NOMEM, full ->
 * FL_E_INSUFFICIENT_STORAGE, else FL_E_STORE. */
fl_err sq_err(int rc);
/* sq_err(rc) for a call on db that failed, a full disk reported as an I/O
 * error included, and records SQLite's own message for fl_store_errmsg(). */
fl_err sq_fail(sqlite3 *db, int rc);

/* Binding helpers; they return FL_OK or the mapped error. Text and blobs
 * are bound without copying, so they must outlive the statement's use. */
fl_err sq_bind_text(sqlite3_stmt *st, int idx, const char *s);
fl_err sq_bind_int(sqlite3_stmt *st, int idx, int64_t v);
fl_err sq_bind_blob(sqlite3_stmt *st, int idx, const void *p, size_t n);

/* Steps a statement that returns no rows: FL_OK on SQLITE_DONE. */
fl_err sq_step_done(sqlite3_stmt *st);
/* Steps once: FL_OK with a row, FL_E_NOT_FOUND when done, else error. */
fl_err sq_step_row(sqlite3_stmt *st);

/* Copies column col (text) into buf[cap]; FL_E_CORRUPT if it does not
 * fit. NULL reads as "". */
fl_err sq_col_text(sqlite3_stmt *st, int col, char *buf, size_t cap);
/* Copies column col (blob) of exactly n bytes; FL_E_CORRUPT otherwise. */
fl_err sq_col_blob(sqlite3_stmt *st, int col, void *buf, size_t n);

/* Evaluates expr into the function's `err` and jumps to `out` on failure. */
#define TRY(expr)                                                              \
	do {                                                                   \
		if ((err = (expr)) != FL_OK)                                   \
			goto out;                                              \
	} while (0)

/* Record operations, by file. */
fl_err sq_tenant_insert(struct fl_tx *tx, struct fl_tenant *t);
fl_err sq_tenant_get(struct fl_tx *tx, const char *id, struct fl_tenant *out);
fl_err sq_tenant_list(struct fl_tx *tx, int64_t after, int limit,
                      FL_STORE_LIST_FN(struct fl_tenant), void *ctx);
fl_err sq_apikey_insert(struct fl_tx *tx, struct fl_apikey *k);
fl_err sq_apikey_by_hash(struct fl_tx *tx, const uint8_t hash[FL_HASH_LEN],
                         struct fl_apikey *out);
fl_err sq_apikey_get(struct fl_tx *tx, const char *tenant_id, const char *id,
                     struct fl_apikey *out);
fl_err sq_apikey_revoke(struct fl_tx *tx, const char *tenant_id, const char *id,
                        fl_time at);
fl_err sq_apikey_list(struct fl_tx *tx, const char *tenant_id, int64_t after,
                      int limit, FL_STORE_LIST_FN(struct fl_apikey), void *ctx);
fl_err sq_apikey_count(struct fl_tx *tx, int64_t *n);
fl_err sq_apikey_touch(struct fl_tx *tx, const char *id, fl_time at);
fl_err sq_idem_get(struct fl_tx *tx, const char *tenant_id, const char *route,
                   const char *key, struct fl_idem *out);
fl_err sq_idem_put(struct fl_tx *tx, const struct fl_idem *rec);
fl_err sq_idem_expire(struct fl_tx *tx, fl_time before, int64_t *n);

fl_err sq_audit_head(struct fl_tx *tx, const char *chain, int64_t *seq,
                     uint8_t hash[FL_HASH_LEN]);
fl_err sq_audit_append(struct fl_tx *tx, const struct fl_audit_entry *e);
fl_err sq_audit_list(struct fl_tx *tx, const char *chain, int64_t after,
                     int limit, const struct fl_audit_filter *filter,
                     FL_STORE_LIST_FN(struct fl_audit_entry), void *ctx);
fl_err sq_audit_chains(struct fl_tx *tx,
                       fl_err (*fn)(void *ctx, const char *chain), void *ctx);
fl_err sq_audit_head_save(struct fl_tx *tx,
                          const struct fl_audit_signed_head *h);
fl_err sq_audit_head_latest(struct fl_tx *tx, const char *chain,
                            struct fl_audit_signed_head *out);

fl_err sq_device_insert(struct fl_tx *tx, struct fl_device *d);
fl_err sq_device_get(struct fl_tx *tx, const char *tenant_id, const char *id,
                     struct fl_device *out);
fl_err sq_device_get_any(struct fl_tx *tx, const char *id,
                         struct fl_device *out);
fl_err sq_device_by_imei(struct fl_tx *tx, const char *imei,
                         struct fl_device *out);
fl_err sq_device_by_enroll_hash(struct fl_tx *tx,
                                const uint8_t hash[FL_HASH_LEN],
                                struct fl_device *out);
fl_err sq_device_set_enroll_code(struct fl_tx *tx, const char *id,
                                 const uint8_t *hash, fl_time expires);
fl_err sq_device_enroll(struct fl_tx *tx, const char *id,
                        const uint8_t device_pk[32], const uint8_t kx_pk[32],
                        fl_time at);
fl_err sq_device_touch(struct fl_tx *tx, const char *id, fl_time at,
                       uint64_t counter);
fl_err sq_device_report(struct fl_tx *tx, const char *id, bool sim, fl_time at,
                        const char *text);
fl_err sq_device_set_status_many(struct fl_tx *tx,
                                 const struct fl_status_write *w, int n);
fl_err sq_device_set_status(struct fl_tx *tx, const char *id,
                            const struct fl_device_status *st);
fl_err sq_device_unclaim(struct fl_tx *tx, const char *id);
fl_err sq_device_list(struct fl_tx *tx, const char *tenant_id,
                      const struct fl_device_filter *filter, int64_t after,
                      int limit,
                      fl_err (*fn)(void *ctx, const struct fl_device *d),
                      void *ctx);
fl_err sq_device_due(struct fl_tx *tx, fl_time now, int limit,
                     char (*tenant_ids)[FL_ID_MAX], char (*ids)[FL_ID_MAX],
                     int *n);
fl_err sq_device_count(struct fl_tx *tx, int64_t by_state[5], int64_t *stolen);
fl_err sq_contract_insert(struct fl_tx *tx, struct fl_contract_rec *c);
fl_err sq_contract_get(struct fl_tx *tx, const char *tenant_id,
                       const char *device_id, struct fl_contract_rec *out);
fl_err sq_contract_list(
        struct fl_tx *tx, const char *tenant_id, int64_t after, int limit,
        fl_err (*fn)(void *ctx, const struct fl_contract_rec *c), void *ctx);
fl_err sq_reschedule_insert(struct fl_tx *tx, const char *tenant_id,
                            const char *device_id, struct fl_reschedule_rec *r);
fl_err sq_payment_insert(struct fl_tx *tx, struct fl_payment_rec *p);
fl_err sq_payment_get(struct fl_tx *tx, const char *tenant_id, const char *id,
                      struct fl_payment_rec *out);
fl_err sq_payment_by_reference(struct fl_tx *tx, const char *tenant_id,
                               const char *reference,
                               struct fl_payment_rec *out);
fl_err sq_command_get(struct fl_tx *tx, const char *tenant_id,
                      const char *device_id, int64_t ord,
                      struct fl_command_rec *out);
fl_err sq_command_cancel(struct fl_tx *tx, const char *tenant_id,
                         const char *device_id, int64_t ord, fl_time at,
                         const char *by, const char *reason);
fl_err sq_payment_reverse(struct fl_tx *tx, const char *tenant_id,
                          const char *id, fl_time at, const char *reason,
                          const char *by);
fl_err sq_payment_list(struct fl_tx *tx, const char *tenant_id,
                       const char *device_id, int64_t after, int limit,
                       fl_err (*fn)(void *ctx, const struct fl_payment_rec *p),
                       void *ctx);
fl_err sq_command_insert(struct fl_tx *tx, const char *tenant_id,
                         const char *device_id, struct fl_command_rec *c);
fl_err sq_device_inputs(struct fl_tx *tx, const char *tenant_id,
                        const char *device_id, struct fl_device_inputs *out);
fl_err sq_device_next_change(struct fl_tx *tx, fl_time after, fl_time *at);
fl_err sq_device_load(struct fl_tx *tx, const char *tenant_id,
                      const char *device_id, struct fl_device *dev,
                      struct fl_device_inputs *in);

/* sqlite_admin.c: the keys fingerprint */
fl_err sq_keys_fingerprint(struct fl_tx *tx,
                           uint8_t out[FL_KEYS_FINGERPRINT_LEN]);
fl_err sq_keys_fingerprint_put(struct fl_tx *tx,
                               const uint8_t fp[FL_KEYS_FINGERPRINT_LEN],
                               fl_time at);

/* sqlite_devproto.c */
fl_err sq_dp_enroll(struct fl_tx *tx, const char *id,
                    const uint8_t sign_pk[FL_DEVICE_KEY_LEN],
                    const uint8_t kx_pk[FL_DEVICE_KEY_LEN], fl_time at);
fl_err sq_dp_touch(struct fl_tx *tx, const char *id, int64_t ord,
                   const uint8_t kx_pk[FL_DEVICE_KEY_LEN], fl_time at,
                   uint64_t counter);
fl_err sq_used_code_put(struct fl_tx *tx, const struct fl_used_code *u);
fl_err sq_used_code_get(struct fl_tx *tx, const uint8_t hash[FL_HASH_LEN],
                        struct fl_used_code *out);
fl_err sq_pairing_put(struct fl_tx *tx, struct fl_pairing_rec *r);
fl_err sq_pairing_get(struct fl_tx *tx, const char *device_id,
                      const uint8_t sign_pk[FL_DEVICE_KEY_LEN],
                      const uint8_t kx_pk[FL_DEVICE_KEY_LEN],
                      struct fl_pairing_rec *out);
fl_err sq_pairing_list(struct fl_tx *tx, const char *device_id,
                       FL_STORE_LIST_FN(struct fl_pairing_rec), void *ctx);
fl_err sq_pairing_decide(struct fl_tx *tx, const char *device_id, int64_t ord,
                         enum fl_pairing_status status, fl_time at,
                         const char *by);
fl_err sq_pairing_expire(struct fl_tx *tx, const char *device_id, fl_time now);
fl_err sq_pairing_drop(struct fl_tx *tx, const char *device_id, int64_t ord);
fl_err sq_pairing_count_net(struct fl_tx *tx, const char *client_net,
                            fl_time now, int64_t *n);
fl_err sq_dp_seal(struct fl_tx *tx, const char *id, int64_t ord,
                  const uint8_t kx_pk[FL_DEVICE_KEY_LEN],
                  const uint8_t seal[FL_MAC_SEAL_LEN]);
fl_err sq_dp_token_memo(struct fl_tx *tx, const char *id, uint64_t seq,
                        const uint8_t *memo, size_t len);
fl_err sq_dp_claim(struct fl_tx *tx, const char *id, uint64_t counter);
fl_err sq_dp_set_factory(struct fl_tx *tx, const char *id,
                         const uint8_t *factory_pk);
fl_err sq_report_add(struct fl_tx *tx, struct fl_report_rec *r);
fl_err sq_report_list(struct fl_tx *tx, const char *tenant_id,
                      const char *device_id, int limit,
                      FL_STORE_LIST_FN(struct fl_report_rec), void *ctx);
fl_err sq_ocode_get(struct fl_tx *tx, const char *device_id,
                    struct fl_ocode_rec *out);
fl_err sq_ocode_issue(struct fl_tx *tx, const char *device_id,
                      const struct fl_ocode_rec *r);
fl_err sq_ocode_used(struct fl_tx *tx, const char *device_id, uint64_t used,
                     fl_time unlock_until);
/* sqlite_sessions.c */
fl_err sq_session_insert(struct fl_tx *tx, const struct fl_session_rec *s);
fl_err sq_session_get(struct fl_tx *tx, const uint8_t hash[FL_HASH_LEN],
                      struct fl_session_rec *out);
fl_err sq_session_touch(struct fl_tx *tx, const uint8_t hash[FL_HASH_LEN],
                        fl_time at);
fl_err sq_session_delete(struct fl_tx *tx, const uint8_t hash[FL_HASH_LEN]);
fl_err sq_session_expire(struct fl_tx *tx, fl_time seen_before,
                         fl_time created_before, int64_t *n);

/* The numbered migrations; migration i (1-based) is sq_migrations[i - 1]. */
extern const char *const sq_migrations[];
extern const int sq_migrations_count;

/* sqlite_sources.c */
fl_err sq_source_list(struct fl_tx *tx, const char *tenant_id, int64_t after,
                      int limit, FL_STORE_LIST_FN(struct fl_source_rec),
                      void *ctx);
fl_err sq_provider_ref_list(struct fl_tx *tx, const char *tenant_id,
                            fl_time from, fl_time to,
                            FL_STORE_LIST_FN(struct fl_provider_ref),
                            void *ctx);
fl_err sq_unmatched_list(struct fl_tx *tx, const char *tenant_id,
                         bool open_only, int64_t after, int limit,
                         FL_STORE_LIST_FN(struct fl_unmatched_rec), void *ctx);
fl_err sq_hold_list(struct fl_tx *tx, const char *tenant_id,
                    fl_time standing_at, int limit,
                    FL_STORE_LIST_FN(struct fl_hold_rec), void *ctx);
fl_err sq_source_insert(struct fl_tx *tx, struct fl_source_rec *s);
fl_err sq_source_get(struct fl_tx *tx, const char *tenant_id, const char *id,
                     struct fl_source_rec *out);
fl_err sq_source_update(struct fl_tx *tx, const struct fl_source_rec *s);
fl_err sq_source_touch(struct fl_tx *tx, const char *id, fl_time at);
fl_err sq_provider_ref_put(struct fl_tx *tx, const struct fl_provider_ref *r);
fl_err sq_provider_ref_get(struct fl_tx *tx, const char *source_id,
                           const char *ref, struct fl_provider_ref *out);
fl_err sq_provider_ref_find(struct fl_tx *tx, const char *tenant_id,
                            const char *ref, struct fl_provider_ref *out);
fl_err sq_source_msg_put(struct fl_tx *tx, const char *source_id,
                         const char *msg_id, fl_time at, fl_time forget_before);
fl_err sq_unmatched_insert(struct fl_tx *tx, struct fl_unmatched_rec *u);
fl_err sq_unmatched_get(struct fl_tx *tx, const char *tenant_id, const char *id,
                        struct fl_unmatched_rec *out);
fl_err sq_unmatched_find(struct fl_tx *tx, const char *source_id,
                         const char *reference,
                         const uint8_t fingerprint[FL_HASH_LEN],
                         struct fl_unmatched_rec *out);
fl_err sq_unmatched_assign(struct fl_tx *tx, const char *tenant_id,
                           const char *id, const char *payment_id, fl_time at,
                           const char *by);
fl_err sq_contract_by_ref(struct fl_tx *tx, const char *tenant_id,
                          const char *norm_ref, char device_id[FL_ID_MAX]);
fl_err sq_pending_release_put(struct fl_tx *tx,
                              const struct fl_pending_release *r);
fl_err sq_pending_release_get(struct fl_tx *tx, const char *device_id,
                              struct fl_pending_release *out);
fl_err sq_pending_release_drop(struct fl_tx *tx, const char *device_id);
fl_err sq_hold_insert(struct fl_tx *tx, struct fl_hold_rec *h);
fl_err sq_hold_extend(struct fl_tx *tx, const struct fl_hold_rec *h);
fl_err sq_hold_release(struct fl_tx *tx, const char *tenant_id, const char *id,
                       fl_time at, const char *by);
/* sqlite_webhooks.c */
fl_err sq_wh_endpoint_insert(struct fl_tx *tx, struct fl_wh_endpoint *e);
fl_err sq_wh_endpoint_get(struct fl_tx *tx, const char *tenant_id,
                          const char *id, struct fl_wh_endpoint *out);
fl_err sq_wh_endpoint_list(struct fl_tx *tx, const char *tenant_id,
                           int64_t after, int limit,
                           FL_STORE_LIST_FN(struct fl_wh_endpoint), void *ctx);
fl_err sq_wh_endpoint_update(struct fl_tx *tx, const struct fl_wh_endpoint *e);
fl_err sq_wh_endpoint_delete(struct fl_tx *tx, const char *tenant_id,
                             const char *id);
fl_err sq_wh_event_add(struct fl_tx *tx, struct fl_wh_event *ev, int64_t *n);
fl_err sq_wh_claim(struct fl_tx *tx, fl_time now, fl_time lease_until,
                   int max, struct fl_wh_delivery *out, int *n);
fl_err sq_wh_delivery_update(struct fl_tx *tx, const struct fl_wh_delivery *d);
fl_err sq_wh_delivery_list(struct fl_tx *tx, const char *tenant_id,
                           const char *endpoint_id, int64_t after, int limit,
                           FL_STORE_LIST_FN(struct fl_wh_delivery), void *ctx);
fl_err sq_wh_delivery_get(struct fl_tx *tx, const char *tenant_id, int64_t ord,
                          struct fl_wh_delivery *out);
fl_err sq_wh_prune(struct fl_tx *tx, fl_time before, int limit, int64_t *n);
fl_err sq_device_confirmed(struct fl_tx *tx, const char *id,
                           struct fl_confirmed *out);
fl_err sq_device_confirm(struct fl_tx *tx, const char *id,
                         const struct fl_confirmed *c);

fl_err sq_state_change_add(struct fl_tx *tx, struct fl_state_change *c);
fl_err sq_state_change_last(struct fl_tx *tx, const char *device_id,
                            struct fl_state_change *out);
fl_err sq_state_change_confirm(struct fl_tx *tx, const char *device_id,
                               bool locked, uint64_t seq, fl_time at);
fl_err sq_state_change_counts(
        struct fl_tx *tx, const char *tenant_id, fl_time from, fl_time period,
        fl_time until,
        fl_err (*fn)(void *ctx, int bucket, enum fl_dev_state f,
                     enum fl_dev_state t, int64_t n),
        void *ctx);
fl_err sq_state_change_locks(struct fl_tx *tx, const char *tenant_id,
                             fl_time since, fl_time until,
                             FL_STORE_LIST_FN(struct fl_state_change),
                             void *ctx);

fl_err sq_portfolio_groups(struct fl_tx *tx, const char *tenant_id,
                             FL_STORE_LIST_FN(struct fl_pf_group), void *ctx);
fl_err sq_portfolio_late(struct fl_tx *tx, const char *tenant_id,
                           FL_STORE_LIST_FN(struct fl_pf_late), void *ctx);
fl_err sq_portfolio_rows(struct fl_tx *tx, const char *tenant_id,
                         int64_t after, int limit,
                         fl_err (*fn)(void *ctx, int64_t contract_ord,
                                      const struct fl_store_extra *e,
                                      const char *device_id,
                                      const char *currency),
                         void *ctx);

#endif
