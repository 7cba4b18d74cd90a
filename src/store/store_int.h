/*
 * store_int.h - what a storage backend implements.
 *
 * A backend defines its own `struct fl_store` and `struct fl_tx` whose FIRST
 * member is the matching base below, and fills a `struct fl_store_ops`.
 * store.c turns every public fl_store_* call into a call through the table,
 * so a new backend (PostgreSQL) adds one file and one open function. Only
 * files under src/store include this header.
 *
 * THREAD SAFETY: as store.h.
 */
#ifndef FL_STORE_INT_H
#define FL_STORE_INT_H

#include "store/store.h"

struct fl_store_ops;

struct fl_store_base {
	const struct fl_store_ops *ops; /* the backend's table */
	int schema_version;             /* after migrations */
	bool created;                   /* this open made the database */
};

struct fl_tx_base {
	const struct fl_store_ops *ops; /* copied from the store */
	struct fl_store *st;            /* the store that began it */
	bool write;                     /* began as a write transaction */
};

/* Records the backend's own message (printf format) for the failure the
 * current call is about to return, for fl_store_errmsg(). */
void fl_store_note_error(const char *fmt, ...)
        __attribute__((format(printf, 1, 2)));

/* --- device inputs ----------------------------------------------------------
 *
 * Every backend reads a device's schedule, reschedules, payments and
 * commands as rows of one shape and files them with fl_store_extras_add,
 * in the order the policy wants (installments by reschedule and index,
 * reschedules and commands by ord, payments by paid_at then ord). kind 0:
 * an installment (a = its reschedule's ord, 0 for the contract's own; c =
 * due_at, d = amount); 1: a reschedule (a = ord, c = from); 2: a payment
 * (a = paid_at, b = ord, c = amount, d = reversed_at); 3: a command (a =
 * ord, c = issued_at, d = at, with cmd_kind, cmd_show, cancelled). */
struct fl_store_extra {
	int64_t kind, a, b, c, d;
	int cmd_kind;
	bool cmd_show;
	fl_time cancelled;
};

/* What filing keeps while it reads; zero it before the first row. */
struct fl_store_extras {
	size_t cap_sched, cap_items, cap_resched, cap_pay, cap_cmd, cap_why,
	        cap_cord, cap_show;
	size_t n_items;   /* entries of resched_items used */
	int64_t *item_of; /* reschedule ord of each resched_items entry */
	size_t cap_of;    /* entries of item_of */
	int64_t *ord;     /* ord of each reschedule */
	size_t cap_ord;   /* entries of ord */
};

/* Files row e into in. For a command that is kept, *reason is the buffer
 * (FL_REASON_MAX bytes) the backend copies its reason text into; NULL
 * otherwise. */
fl_err fl_store_extras_add(struct fl_store_extras *x,
                           struct fl_device_inputs *in,
                           const struct fl_store_extra *e,
                           char **reason) FL_MUST_USE;
/* After the last row (ok: every row was filed): points each reschedule
 * at its items and each command at its reason, and frees x's scratch. */
void fl_store_extras_end(struct fl_store_extras *x, struct fl_device_inputs *in,
                         bool ok);

#define FL_STORE_LIST_FN(type) fl_err (*fn)(void *ctx, const type *rec)

struct fl_store_ops {
	const char *name; /* "sqlite", "postgresql" */
	void (*close)(struct fl_store *st);
	fl_err (*begin)(struct fl_store *st, bool write, struct fl_tx **tx);
	fl_err (*commit)(struct fl_tx *tx);
	void (*rollback)(struct fl_tx *tx);
	/* change notification of device rows (store.h) */
	uint64_t (*device_clock)(struct fl_store *st);
	bool (*device_unchanged)(struct fl_store *st, int64_t ord,
	                         uint64_t clock);
	void (*tx_quiet)(struct fl_tx *tx);
	fl_err (*feed_subscribe)(struct fl_store *st, fl_store_feed_fn fn,
	                         void *ctx);
	/* concurrency (store.h) */
	fl_err (*lock_device)(struct fl_tx *tx, const char *device_id);
	fl_err (*lock_chain)(struct fl_tx *tx, const char *chain);
	fl_err (*job_claim)(struct fl_tx *tx, const char *name, bool *mine);
	/* integrity and identity (store.h) */
	fl_err (*check)(struct fl_store *st, bool full,
	                char problem[FL_STORE_PROBLEM_MAX]);
	fl_err (*keys_fingerprint)(struct fl_tx *tx,
	                           uint8_t out[FL_KEYS_FINGERPRINT_LEN]);
	fl_err (*keys_fingerprint_put)(
	        struct fl_tx *tx, const uint8_t fp[FL_KEYS_FINGERPRINT_LEN],
	        fl_time at);
	fl_err (*snapshot)(struct fl_store *st, const char *path);

	fl_err (*tenant_insert)(struct fl_tx *tx, struct fl_tenant *t);
	fl_err (*tenant_get)(struct fl_tx *tx, const char *id,
	                     struct fl_tenant *out);
	fl_err (*tenant_list)(struct fl_tx *tx, int64_t after, int limit,
	                      FL_STORE_LIST_FN(struct fl_tenant), void *ctx);

	fl_err (*apikey_insert)(struct fl_tx *tx, struct fl_apikey *k);
	fl_err (*apikey_by_hash)(struct fl_tx *tx,
	                         const uint8_t hash[FL_HASH_LEN],
	                         struct fl_apikey *out);
	fl_err (*apikey_get)(struct fl_tx *tx, const char *tenant_id,
	                     const char *id, struct fl_apikey *out);
	fl_err (*apikey_revoke)(struct fl_tx *tx, const char *tenant_id,
	                        const char *id, fl_time at);
	fl_err (*apikey_list)(struct fl_tx *tx, const char *tenant_id,
	                      int64_t after, int limit,
	                      FL_STORE_LIST_FN(struct fl_apikey), void *ctx);
	fl_err (*apikey_count)(struct fl_tx *tx, int64_t *n);
	fl_err (*apikey_touch)(struct fl_tx *tx, const char *id, fl_time at);

	fl_err (*idem_get)(struct fl_tx *tx, const char *tenant_id,
	                   const char *route, const char *key,
	                   struct fl_idem *out);
	fl_err (*idem_put)(struct fl_tx *tx, const struct fl_idem *rec);
	fl_err (*idem_expire)(struct fl_tx *tx, fl_time before, int64_t *n);

	fl_err (*audit_head)(struct fl_tx *tx, const char *chain, int64_t *seq,
	                     uint8_t hash[FL_HASH_LEN]);
	fl_err (*audit_append)(struct fl_tx *tx,
	                       const struct fl_audit_entry *e);
	fl_err (*audit_list)(struct fl_tx *tx, const char *chain, int64_t after,
	                     int limit, const struct fl_audit_filter *filter,
	                     FL_STORE_LIST_FN(struct fl_audit_entry),
	                     void *ctx);
	fl_err (*audit_chains)(struct fl_tx *tx,
	                       fl_err (*fn)(void *ctx, const char *chain),
	                       void *ctx);
	fl_err (*audit_head_save)(struct fl_tx *tx,
	                          const struct fl_audit_signed_head *h);
	fl_err (*audit_head_latest)(struct fl_tx *tx, const char *chain,
	                            struct fl_audit_signed_head *out);

	fl_err (*device_insert)(struct fl_tx *tx, struct fl_device *d);
	fl_err (*device_get)(struct fl_tx *tx, const char *tenant_id,
	                     const char *id, struct fl_device *out);
	fl_err (*device_get_any)(struct fl_tx *tx, const char *id,
	                         struct fl_device *out);
	fl_err (*device_by_imei)(struct fl_tx *tx, const char *imei,
	                         struct fl_device *out);
	fl_err (*device_by_enroll_hash)(struct fl_tx *tx,
	                                const uint8_t hash[FL_HASH_LEN],
	                                struct fl_device *out);
	fl_err (*device_set_enroll_code)(struct fl_tx *tx, const char *id,
	                                 const uint8_t *hash, fl_time expires);
	fl_err (*device_enroll)(struct fl_tx *tx, const char *id,
	                        const uint8_t device_pk[32],
	                        const uint8_t kx_pk[32], fl_time at);
	fl_err (*device_touch)(struct fl_tx *tx, const char *id, fl_time at,
	                       uint64_t counter);
	fl_err (*device_report)(struct fl_tx *tx, const char *id, bool sim,
	                        fl_time at, const char *text);
	fl_err (*device_set_status)(struct fl_tx *tx, const char *id,
	                            const struct fl_device_status *st);
	fl_err (*device_unclaim)(struct fl_tx *tx, const char *id);
	fl_err (*device_list)(
	        struct fl_tx *tx, const char *tenant_id,
	        const struct fl_device_filter *filter, int64_t after, int limit,
	        fl_err (*fn)(void *ctx, const struct fl_device *d), void *ctx);
	fl_err (*device_due)(struct fl_tx *tx, fl_time now, int limit,
	                     char (*tenant_ids)[FL_ID_MAX],
	                     char (*ids)[FL_ID_MAX], int *n);
	fl_err (*device_count)(struct fl_tx *tx, int64_t by_state[5],
	                       int64_t *stolen);
	fl_err (*contract_insert)(struct fl_tx *tx, struct fl_contract_rec *c);
	fl_err (*contract_get)(struct fl_tx *tx, const char *tenant_id,
	                       const char *device_id,
	                       struct fl_contract_rec *out);
	fl_err (*contract_list)(struct fl_tx *tx, const char *tenant_id,
	                        int64_t after, int limit,
	                        fl_err (*fn)(void *ctx,
	                                     const struct fl_contract_rec *c),
	                        void *ctx);
	fl_err (*reschedule_insert)(struct fl_tx *tx, const char *tenant_id,
	                            const char *device_id,
	                            struct fl_reschedule_rec *r);
	fl_err (*payment_insert)(struct fl_tx *tx, struct fl_payment_rec *p);
	fl_err (*payment_get)(struct fl_tx *tx, const char *tenant_id,
	                      const char *id, struct fl_payment_rec *out);
	fl_err (*payment_by_reference)(struct fl_tx *tx, const char *tenant_id,
	                               const char *reference,
	                               struct fl_payment_rec *out);
	fl_err (*payment_reverse)(struct fl_tx *tx, const char *tenant_id,
	                          const char *id, fl_time at,
	                          const char *reason, const char *by);
	fl_err (*payment_list)(struct fl_tx *tx, const char *tenant_id,
	                       const char *device_id, int64_t after, int limit,
	                       fl_err (*fn)(void *ctx,
	                                    const struct fl_payment_rec *p),
	                       void *ctx);
	fl_err (*command_insert)(struct fl_tx *tx, const char *tenant_id,
	                         const char *device_id,
	                         struct fl_command_rec *c);
	fl_err (*command_get)(struct fl_tx *tx, const char *tenant_id,
	                      const char *device_id, int64_t ord,
	                      struct fl_command_rec *out);
	fl_err (*command_cancel)(struct fl_tx *tx, const char *tenant_id,
	                         const char *device_id, int64_t ord, fl_time at,
	                         const char *by, const char *reason);
	fl_err (*device_inputs)(struct fl_tx *tx, const char *tenant_id,
	                        const char *device_id,
	                        struct fl_device_inputs *out);
	fl_err (*device_next_change)(struct fl_tx *tx, fl_time after,
	                             fl_time *at);
	fl_err (*device_load)(struct fl_tx *tx, const char *tenant_id,
	                      const char *device_id, struct fl_device *dev,
	                      struct fl_device_inputs *in);
	/* the sweep's batches (store.h); NULL: store.c does them with
	 * device_due, lock_device, device_load and device_set_status */
	fl_err (*device_due_load)(struct fl_tx *tx, fl_time now, int limit,
	                          struct fl_device *devs,
	                          struct fl_device_inputs *ins, int *n);
	fl_err (*device_set_status_many)(struct fl_tx *tx,
	                                 const struct fl_status_write *w,
	                                 int n);
	/* NULL: store.c adds them one by one */
	fl_err (*state_change_add_many)(struct fl_tx *tx,
	                                const struct fl_state_change *c, int n);

	/* device protocol */
	fl_err (*dp_enroll)(struct fl_tx *tx, const char *id,
	                    const uint8_t sign_pk[FL_DEVICE_KEY_LEN],
	                    const uint8_t kx_pk[FL_DEVICE_KEY_LEN], fl_time at);
	fl_err (*dp_touch)(struct fl_tx *tx, const char *id, int64_t ord,
	                   const uint8_t kx_pk[FL_DEVICE_KEY_LEN], fl_time at,
	                   uint64_t counter);
	fl_err (*dp_seal)(struct fl_tx *tx, const char *id, int64_t ord,
	                  const uint8_t kx_pk[FL_DEVICE_KEY_LEN],
	                  const uint8_t seal[FL_MAC_SEAL_LEN]);
	fl_err (*dp_token_memo)(struct fl_tx *tx, const char *id, uint64_t seq,
	                        const uint8_t *memo, size_t len);
	fl_err (*dp_claim)(struct fl_tx *tx, const char *id, uint64_t counter);
	fl_err (*used_code_put)(struct fl_tx *tx, const struct fl_used_code *u);
	fl_err (*used_code_get)(struct fl_tx *tx,
	                        const uint8_t hash[FL_HASH_LEN],
	                        struct fl_used_code *out);
	fl_err (*pairing_put)(struct fl_tx *tx, struct fl_pairing_rec *r);
	fl_err (*pairing_get)(struct fl_tx *tx, const char *device_id,
	                      const uint8_t sign_pk[FL_DEVICE_KEY_LEN],
	                      const uint8_t kx_pk[FL_DEVICE_KEY_LEN],
	                      struct fl_pairing_rec *out);
	fl_err (*pairing_list)(struct fl_tx *tx, const char *device_id,
	                       FL_STORE_LIST_FN(struct fl_pairing_rec),
	                       void *ctx);
	fl_err (*pairing_decide)(struct fl_tx *tx, const char *device_id,
	                         int64_t ord, enum fl_pairing_status status,
	                         fl_time at, const char *by);
	fl_err (*pairing_expire)(struct fl_tx *tx, const char *device_id,
	                         fl_time now);
	fl_err (*pairing_drop)(struct fl_tx *tx, const char *device_id,
	                       int64_t ord);
	fl_err (*pairing_count_net)(struct fl_tx *tx, const char *client_net,
	                            fl_time now, int64_t *n);
	fl_err (*dp_set_factory)(struct fl_tx *tx, const char *id,
	                         const uint8_t *factory_pk);
	fl_err (*report_add)(struct fl_tx *tx, struct fl_report_rec *r);
	fl_err (*report_list)(struct fl_tx *tx, const char *tenant_id,
	                      const char *device_id, int limit,
	                      FL_STORE_LIST_FN(struct fl_report_rec),
	                      void *ctx);
	fl_err (*ocode_get)(struct fl_tx *tx, const char *device_id,
	                    struct fl_ocode_rec *out);
	fl_err (*ocode_issue)(struct fl_tx *tx, const char *device_id,
	                      const struct fl_ocode_rec *r);
	fl_err (*ocode_used)(struct fl_tx *tx, const char *device_id,
	                     uint64_t used, fl_time unlock_until);
	fl_err (*session_insert)(struct fl_tx *tx,
	                         const struct fl_session_rec *s);
	fl_err (*session_get)(struct fl_tx *tx,
	                      const uint8_t hash[FL_HASH_LEN],
	                      struct fl_session_rec *out);
	fl_err (*session_touch)(struct fl_tx *tx,
	                        const uint8_t hash[FL_HASH_LEN], fl_time at);
	fl_err (*session_delete)(struct fl_tx *tx,
	                         const uint8_t hash[FL_HASH_LEN]);
	fl_err (*session_expire)(struct fl_tx *tx, fl_time seen_before,
	                         fl_time created_before, int64_t *n);
	/* payment sources, unmatched payments, lock holds (store.h) */
	fl_err (*source_insert)(struct fl_tx *tx, struct fl_source_rec *s);
	fl_err (*source_get)(struct fl_tx *tx, const char *tenant_id,
	                     const char *id, struct fl_source_rec *out);
	fl_err (*source_list)(struct fl_tx *tx, const char *tenant_id,
	                      int64_t after, int limit,
	                      FL_STORE_LIST_FN(struct fl_source_rec), void *ctx);
	fl_err (*source_update)(struct fl_tx *tx, const struct fl_source_rec *s);
	fl_err (*source_touch)(struct fl_tx *tx, const char *id, fl_time at);
	fl_err (*provider_ref_put)(struct fl_tx *tx,
	                           const struct fl_provider_ref *r);
	fl_err (*provider_ref_get)(struct fl_tx *tx, const char *source_id,
	                           const char *ref, struct fl_provider_ref *out);
	fl_err (*provider_ref_find)(struct fl_tx *tx, const char *tenant_id,
	                            const char *ref, struct fl_provider_ref *out);
	fl_err (*provider_ref_list)(struct fl_tx *tx, const char *tenant_id,
	                            fl_time from, fl_time to,
	                            FL_STORE_LIST_FN(struct fl_provider_ref),
	                            void *ctx);
	fl_err (*source_msg_put)(struct fl_tx *tx, const char *source_id,
	                         const char *msg_id, fl_time at,
	                         fl_time forget_before);
	fl_err (*unmatched_insert)(struct fl_tx *tx, struct fl_unmatched_rec *u);
	fl_err (*unmatched_get)(struct fl_tx *tx, const char *tenant_id,
	                        const char *id, struct fl_unmatched_rec *out);
	fl_err (*unmatched_find)(struct fl_tx *tx, const char *source_id,
	                         const char *reference,
	                         const uint8_t fingerprint[FL_HASH_LEN],
	                         struct fl_unmatched_rec *out);
	fl_err (*unmatched_list)(struct fl_tx *tx, const char *tenant_id,
	                         bool open_only, int64_t after, int limit,
	                         FL_STORE_LIST_FN(struct fl_unmatched_rec),
	                         void *ctx);
	fl_err (*unmatched_assign)(struct fl_tx *tx, const char *tenant_id,
	                           const char *id, const char *payment_id,
	                           fl_time at, const char *by);
	fl_err (*contract_by_ref)(struct fl_tx *tx, const char *tenant_id,
	                          const char *norm_ref,
	                          char device_id[FL_ID_MAX]);
	fl_err (*pending_release_put)(struct fl_tx *tx,
	                              const struct fl_pending_release *r);
	fl_err (*pending_release_get)(struct fl_tx *tx, const char *device_id,
	                              struct fl_pending_release *out);
	fl_err (*pending_release_drop)(struct fl_tx *tx, const char *device_id);
	fl_err (*hold_insert)(struct fl_tx *tx, struct fl_hold_rec *h);
	fl_err (*hold_extend)(struct fl_tx *tx, const struct fl_hold_rec *h);
	fl_err (*hold_release)(struct fl_tx *tx, const char *tenant_id,
	                       const char *id, fl_time at, const char *by);
	fl_err (*hold_list)(struct fl_tx *tx, const char *tenant_id,
	                    fl_time standing_at, int limit,
	                    FL_STORE_LIST_FN(struct fl_hold_rec), void *ctx);
	/* webhooks */
	fl_err (*wh_endpoint_insert)(struct fl_tx *tx, struct fl_wh_endpoint *e);
	fl_err (*wh_endpoint_get)(struct fl_tx *tx, const char *tenant_id,
	                          const char *id, struct fl_wh_endpoint *out);
	fl_err (*wh_endpoint_list)(struct fl_tx *tx, const char *tenant_id,
	                           int64_t after, int limit,
	                           FL_STORE_LIST_FN(struct fl_wh_endpoint),
	                           void *ctx);
	fl_err (*wh_endpoint_update)(struct fl_tx *tx,
	                             const struct fl_wh_endpoint *e);
	fl_err (*wh_endpoint_delete)(struct fl_tx *tx, const char *tenant_id,
	                             const char *id);
	fl_err (*wh_event_add)(struct fl_tx *tx, struct fl_wh_event *ev,
	                       int64_t *n);
	fl_err (*wh_claim)(struct fl_tx *tx, fl_time now, fl_time lease_until,
	                   int max, struct fl_wh_delivery *out, int *n);
	fl_err (*wh_delivery_update)(struct fl_tx *tx,
	                             const struct fl_wh_delivery *d);
	fl_err (*wh_delivery_list)(struct fl_tx *tx, const char *tenant_id,
	                           const char *endpoint_id, int64_t after,
	                           int limit,
	                           FL_STORE_LIST_FN(struct fl_wh_delivery),
	                           void *ctx);
	fl_err (*wh_delivery_get)(struct fl_tx *tx, const char *tenant_id,
	                          int64_t ord, struct fl_wh_delivery *out);
	fl_err (*wh_prune)(struct fl_tx *tx, fl_time before, int limit,
	                   int64_t *n);
	fl_err (*device_confirmed)(struct fl_tx *tx, const char *id,
	                           struct fl_confirmed *out);
	fl_err (*device_confirm)(struct fl_tx *tx, const char *id,
	                         const struct fl_confirmed *c);
	fl_err (*state_change_add)(struct fl_tx *tx, struct fl_state_change *c);
	fl_err (*state_change_last)(struct fl_tx *tx, const char *device_id,
	                            struct fl_state_change *out);
	fl_err (*state_change_confirm)(struct fl_tx *tx, const char *device_id,
	                               bool locked, uint64_t seq, fl_time at);
	fl_err (*state_change_counts)(
	        struct fl_tx *tx, const char *tenant_id, fl_time from,
	        fl_time period, fl_time until,
	        fl_err (*fn)(void *ctx, int bucket, enum fl_dev_state f,
	                     enum fl_dev_state t, int64_t n),
	        void *ctx);
	fl_err (*state_change_locks)(struct fl_tx *tx, const char *tenant_id,
	                             fl_time since, fl_time until,
	                             FL_STORE_LIST_FN(struct fl_state_change),
	                             void *ctx);
	fl_err (*portfolio_groups)(struct fl_tx *tx, const char *tenant_id,
	                           FL_STORE_LIST_FN(struct fl_pf_group),
	                           void *ctx);
	fl_err (*portfolio_late)(struct fl_tx *tx, const char *tenant_id,
	                         FL_STORE_LIST_FN(struct fl_pf_late), void *ctx);
	/* The first `limit` contracts of tenant_id with ord > after, each
	 * as a row of kind -1 (device_id and currency given, else NULL)
	 * followed by its installments, reschedules and payments as rows
	 * of kinds 0 to 2 of struct fl_store_extra: by contract ord, then
	 * kind, then as device inputs order each kind (a, then b). */
	fl_err (*portfolio_rows)(struct fl_tx *tx, const char *tenant_id,
	                         int64_t after, int limit,
	                         fl_err (*fn)(void *ctx, int64_t contract_ord,
	                                      const struct fl_store_extra *e,
	                                      const char *device_id,
	                                      const char *currency),
	                         void *ctx);
};

#endif
