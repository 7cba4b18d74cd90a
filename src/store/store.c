/* store.c - the public storage calls, dispatched to the backend's table. */
#include "store/store.h"

#include "store/store_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OPS(tx) (((struct fl_tx_base *)(void *)(tx))->ops)

/* The backend's message of the calling thread's last failure. */
static _Thread_local char last_error[512];

const char *fl_store_errmsg(void)
{
	return last_error;
}

void fl_store_note_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
}

void fl_store_close(struct fl_store *st)
{
	if (st != NULL)
		((struct fl_store_base *)(void *)st)->ops->close(st);
}

int fl_store_schema_version(const struct fl_store *st)
{
	return ((const struct fl_store_base *)(const void *)st)->schema_version;
}

bool fl_store_created(const struct fl_store *st)
{
	return ((const struct fl_store_base *)(const void *)st)->created;
}

fl_err fl_store_check(struct fl_store *st, bool full,
                      char problem[FL_STORE_PROBLEM_MAX])
{
	problem[0] = '\0';
	return ((struct fl_store_base *)(void *)st)
	        ->ops->check(st, full, problem);
}

fl_err fl_store_keys_fingerprint(struct fl_tx *tx,
                                 uint8_t out[FL_KEYS_FINGERPRINT_LEN])
{
	return OPS(tx)->keys_fingerprint(tx, out);
}

fl_err fl_store_keys_fingerprint_put(struct fl_tx *tx,
                                     const uint8_t fp[FL_KEYS_FINGERPRINT_LEN],
                                     fl_time at)
{
	return OPS(tx)->keys_fingerprint_put(tx, fp, at);
}

fl_err fl_store_snapshot(struct fl_store *st, const char *path)
{
	return ((struct fl_store_base *)(void *)st)->ops->snapshot(st, path);
}

fl_err fl_store_begin(struct fl_store *st, bool write, struct fl_tx **tx)
{
	*tx = NULL;
	last_error[0] = '\0';
	return ((struct fl_store_base *)(void *)st)->ops->begin(st, write, tx);
}

fl_err fl_tx_commit(struct fl_tx *tx)
{
	return OPS(tx)->commit(tx);
}

void fl_tx_rollback(struct fl_tx *tx)
{
	if (tx != NULL)
		OPS(tx)->rollback(tx);
}

uint64_t fl_store_device_clock(struct fl_store *st)
{
	return ((struct fl_store_base *)(void *)st)->ops->device_clock(st);
}

bool fl_store_device_unchanged(struct fl_store *st, int64_t ord, uint64_t clock)
{
	return ((struct fl_store_base *)(void *)st)
	        ->ops->device_unchanged(st, ord, clock);
}

void fl_tx_quiet(struct fl_tx *tx)
{
	OPS(tx)->tx_quiet(tx);
}

fl_err fl_store_feed_subscribe(struct fl_store *st, fl_store_feed_fn fn,
                               void *ctx)
{
	return ((struct fl_store_base *)(void *)st)
	        ->ops->feed_subscribe(st, fn, ctx);
}

const char *fl_store_backend(const struct fl_store *st)
{
	return ((const struct fl_store_base *)(const void *)st)->ops->name;
}

fl_err fl_store_lock_device(struct fl_tx *tx, const char *device_id)
{
	return OPS(tx)->lock_device(tx, device_id);
}

fl_err fl_store_lock_chain(struct fl_tx *tx, const char *chain)
{
	return OPS(tx)->lock_chain(tx, chain);
}

fl_err fl_store_job_claim(struct fl_tx *tx, const char *name, bool *mine)
{
	return OPS(tx)->job_claim(tx, name, mine);
}

fl_err fl_store_dp_claim(struct fl_tx *tx, const char *id, uint64_t counter)
{
	return OPS(tx)->dp_claim(tx, id, counter);
}

fl_err fl_store_tenant_insert(struct fl_tx *tx, struct fl_tenant *t)
{
	return OPS(tx)->tenant_insert(tx, t);
}

fl_err fl_store_tenant_get(struct fl_tx *tx, const char *id,
                           struct fl_tenant *out)
{
	return OPS(tx)->tenant_get(tx, id, out);
}

fl_err fl_store_tenant_list(struct fl_tx *tx, int64_t after, int limit,
                            fl_err (*fn)(void *ctx, const struct fl_tenant *t),
                            void *ctx)
{
	return OPS(tx)->tenant_list(tx, after, limit, fn, ctx);
}

fl_err fl_store_apikey_insert(struct fl_tx *tx, struct fl_apikey *k)
{
	return OPS(tx)->apikey_insert(tx, k);
}

fl_err fl_store_apikey_by_hash(struct fl_tx *tx,
                               const uint8_t hash[FL_HASH_LEN],
                               struct fl_apikey *out)
{
	return OPS(tx)->apikey_by_hash(tx, hash, out);
}

fl_err fl_store_apikey_get(struct fl_tx *tx, const char *tenant_id,
                           const char *id, struct fl_apikey *out)
{
	return OPS(tx)->apikey_get(tx, tenant_id, id, out);
}

fl_err fl_store_apikey_revoke(struct fl_tx *tx, const char *tenant_id,
                              const char *id, fl_time at)
{
	return OPS(tx)->apikey_revoke(tx, tenant_id, id, at);
}

fl_err fl_store_apikey_list(struct fl_tx *tx, const char *tenant_id,
                            int64_t after, int limit,
                            fl_err (*fn)(void *ctx, const struct fl_apikey *k),
                            void *ctx)
{
	return OPS(tx)->apikey_list(tx, tenant_id, after, limit, fn, ctx);
}

fl_err fl_store_apikey_touch(struct fl_tx *tx, const char *id, fl_time at)
{
	return OPS(tx)->apikey_touch(tx, id, at);
}

fl_err fl_store_apikey_count(struct fl_tx *tx, int64_t *n)
{
	return OPS(tx)->apikey_count(tx, n);
}

fl_err fl_store_idem_get(struct fl_tx *tx, const char *tenant_id,
                         const char *route, const char *key,
                         struct fl_idem *out)
{
	return OPS(tx)->idem_get(tx, tenant_id, route, key, out);
}

fl_err fl_store_idem_put(struct fl_tx *tx, const struct fl_idem *rec)
{
	return OPS(tx)->idem_put(tx, rec);
}

fl_err fl_store_idem_expire(struct fl_tx *tx, fl_time before, int64_t *n)
{
	return OPS(tx)->idem_expire(tx, before, n);
}

fl_err fl_store_audit_head(struct fl_tx *tx, const char *chain, int64_t *seq,
                           uint8_t hash[FL_HASH_LEN])
{
	return OPS(tx)->audit_head(tx, chain, seq, hash);
}

fl_err fl_store_audit_append(struct fl_tx *tx, const struct fl_audit_entry *e)
{
	return OPS(tx)->audit_append(tx, e);
}

fl_err fl_store_audit_list(struct fl_tx *tx, const char *chain, int64_t after,
                           int limit, const struct fl_audit_filter *filter,
                           fl_err (*fn)(void *ctx,
                                        const struct fl_audit_entry *e),
                           void *ctx)
{
	return OPS(tx)->audit_list(tx, chain, after, limit, filter, fn, ctx);
}

fl_err fl_store_audit_chains(struct fl_tx *tx,
                             fl_err (*fn)(void *ctx, const char *chain),
                             void *ctx)
{
	return OPS(tx)->audit_chains(tx, fn, ctx);
}

fl_err fl_store_audit_head_save(struct fl_tx *tx,
                                const struct fl_audit_signed_head *h)
{
	return OPS(tx)->audit_head_save(tx, h);
}

fl_err fl_store_audit_head_latest(struct fl_tx *tx, const char *chain,
                                  struct fl_audit_signed_head *out)
{
	return OPS(tx)->audit_head_latest(tx, chain, out);
}

fl_err fl_store_device_insert(struct fl_tx *tx, struct fl_device *d)
{
	return OPS(tx)->device_insert(tx, d);
}

fl_err fl_store_device_get(struct fl_tx *tx, const char *tenant_id,
                           const char *id, struct fl_device *out)
{
	return OPS(tx)->device_get(tx, tenant_id, id, out);
}

fl_err fl_store_device_get_any(struct fl_tx *tx, const char *id,
                               struct fl_device *out)
{
	return OPS(tx)->device_get_any(tx, id, out);
}

fl_err fl_store_device_by_imei(struct fl_tx *tx, const char *imei,
                               struct fl_device *out)
{
	return OPS(tx)->device_by_imei(tx, imei, out);
}

fl_err fl_store_device_by_enroll_hash(struct fl_tx *tx,
                                      const uint8_t hash[FL_HASH_LEN],
                                      struct fl_device *out)
{
	return OPS(tx)->device_by_enroll_hash(tx, hash, out);
}

fl_err fl_store_device_set_enroll_code(struct fl_tx *tx, const char *id,
                                       const uint8_t *hash, fl_time expires)
{
	return OPS(tx)->device_set_enroll_code(tx, id, hash, expires);
}

fl_err fl_store_device_enroll(struct fl_tx *tx, const char *id,
                              const uint8_t device_pk[32],
                              const uint8_t kx_pk[32], fl_time at)
{
	return OPS(tx)->device_enroll(tx, id, device_pk, kx_pk, at);
}

fl_err fl_store_device_touch(struct fl_tx *tx, const char *id, fl_time at,
                             uint64_t counter)
{
	return OPS(tx)->device_touch(tx, id, at, counter);
}

fl_err fl_store_device_report(struct fl_tx *tx, const char *id, bool sim,
                              fl_time at, const char *text)
{
	return OPS(tx)->device_report(tx, id, sim, at, text);
}

fl_err fl_store_device_set_status(struct fl_tx *tx, const char *id,
                                  const struct fl_device_status *st)
{
	return OPS(tx)->device_set_status(tx, id, st);
}

fl_err fl_store_device_unclaim(struct fl_tx *tx, const char *id)
{
	return OPS(tx)->device_unclaim(tx, id);
}

fl_err fl_store_device_list(struct fl_tx *tx, const char *tenant_id,
                            const struct fl_device_filter *filter,
                            int64_t after, int limit,
                            fl_err (*fn)(void *ctx, const struct fl_device *d),
                            void *ctx)
{
	return OPS(tx)->device_list(tx, tenant_id, filter, after, limit, fn,
	                            ctx);
}

int64_t fl_device_sort_key(const struct fl_device *d, enum fl_device_sort sort)
{
	switch (sort) {
	case FL_DSORT_LAST_CONTACT:
		return d->last_contact;
	case FL_DSORT_AMOUNT_DUE:
		return d->st.amount_due;
	case FL_DSORT_NEXT_DUE:
		return d->st.next_due_at != 0 ? d->st.next_due_at : INT64_MAX;
	case FL_DSORT_STATE:
		return (int64_t)d->st.state;
	case FL_DSORT_REGISTERED:
	default:
		return d->ord;
	}
}

fl_err fl_store_device_due(struct fl_tx *tx, fl_time now, int limit,
                           char (*tenant_ids)[FL_ID_MAX],
                           char (*ids)[FL_ID_MAX], int *n)
{
	return OPS(tx)->device_due(tx, now, limit, tenant_ids, ids, n);
}

fl_err fl_store_device_count(struct fl_tx *tx, int64_t by_state[5],
                             int64_t *stolen)
{
	return OPS(tx)->device_count(tx, by_state, stolen);
}

fl_err fl_store_contract_insert(struct fl_tx *tx, struct fl_contract_rec *c)
{
	return OPS(tx)->contract_insert(tx, c);
}

fl_err fl_store_contract_get(struct fl_tx *tx, const char *tenant_id,
                             const char *device_id, struct fl_contract_rec *out)
{
	return OPS(tx)->contract_get(tx, tenant_id, device_id, out);
}

fl_err fl_store_contract_list(
        struct fl_tx *tx, const char *tenant_id, int64_t after, int limit,
        fl_err (*fn)(void *ctx, const struct fl_contract_rec *c), void *ctx)
{
	return OPS(tx)->contract_list(tx, tenant_id, after, limit, fn, ctx);
}

fl_err fl_store_reschedule_insert(struct fl_tx *tx, const char *tenant_id,
                                  const char *device_id,
                                  struct fl_reschedule_rec *r)
{
	return OPS(tx)->reschedule_insert(tx, tenant_id, device_id, r);
}

fl_err fl_store_payment_insert(struct fl_tx *tx, struct fl_payment_rec *p)
{
	return OPS(tx)->payment_insert(tx, p);
}

fl_err fl_store_payment_get(struct fl_tx *tx, const char *tenant_id,
                            const char *id, struct fl_payment_rec *out)
{
	return OPS(tx)->payment_get(tx, tenant_id, id, out);
}

fl_err fl_store_payment_by_reference(struct fl_tx *tx, const char *tenant_id,
                                     const char *reference,
                                     struct fl_payment_rec *out)
{
	return OPS(tx)->payment_by_reference(tx, tenant_id, reference, out);
}

fl_err fl_store_command_get(struct fl_tx *tx, const char *tenant_id,
                            const char *device_id, int64_t ord,
                            struct fl_command_rec *out)
{
	return OPS(tx)->command_get(tx, tenant_id, device_id, ord, out);
}

fl_err fl_store_command_cancel(struct fl_tx *tx, const char *tenant_id,
                               const char *device_id, int64_t ord, fl_time at,
                               const char *by, const char *reason)
{
	return OPS(tx)->command_cancel(tx, tenant_id, device_id, ord, at, by,
	                               reason);
}

fl_err fl_store_payment_reverse(struct fl_tx *tx, const char *tenant_id,
                                const char *id, fl_time at, const char *reason,
                                const char *by)
{
	return OPS(tx)->payment_reverse(tx, tenant_id, id, at, reason, by);
}

fl_err fl_store_payment_list(struct fl_tx *tx, const char *tenant_id,
                             const char *device_id, int64_t after, int limit,
                             fl_err (*fn)(void *ctx,
                                          const struct fl_payment_rec *p),
                             void *ctx)
{
	return OPS(tx)->payment_list(tx, tenant_id, device_id, after, limit, fn,
	                             ctx);
}

fl_err fl_store_command_insert(struct fl_tx *tx, const char *tenant_id,
                               const char *device_id, struct fl_command_rec *c)
{
	return OPS(tx)->command_insert(tx, tenant_id, device_id, c);
}

fl_err fl_store_device_inputs(struct fl_tx *tx, const char *tenant_id,
                              const char *device_id,
                              struct fl_device_inputs *out)
{
	return OPS(tx)->device_inputs(tx, tenant_id, device_id, out);
}

fl_err fl_store_device_next_change(struct fl_tx *tx, fl_time after, fl_time *at)
{
	return OPS(tx)->device_next_change(tx, after, at);
}

fl_err fl_store_device_load(struct fl_tx *tx, const char *tenant_id,
                            const char *device_id, struct fl_device *dev,
                            struct fl_device_inputs *in)
{
	return OPS(tx)->device_load(tx, tenant_id, device_id, dev, in);
}

/* --- the sweep's batches --------------------------------------------------- */

/* A due device of the generic batch (by id: the order locks are taken
 * in). */
struct due_id {
	char tid[FL_ID_MAX];
	char id[FL_ID_MAX];
};

static int due_by_id(const void *a, const void *b)
{
	return strcmp(((const struct due_id *)a)->id,
	              ((const struct due_id *)b)->id);
}

/* fl_store_device_due_load through the one-device operations: the due
 * list, then each device locked and loaded in id order (a backend with
 * one writer at a time, where a lock never waits). */
static fl_err due_load_each(struct fl_tx *tx, fl_time now, int limit,
                            struct fl_device *devs,
                            struct fl_device_inputs *ins, int *n)
{
	char(*tids)[FL_ID_MAX] = calloc((size_t)limit, sizeof(*tids));
	char(*ids)[FL_ID_MAX] = calloc((size_t)limit, sizeof(*ids));
	struct due_id *d = calloc((size_t)limit, sizeof(*d));
	int k = 0, m = 0;
	fl_err err;

	if (tids == NULL || ids == NULL || d == NULL) {
		err = FL_E_NOMEM;
		goto out;
	}
	err = OPS(tx)->device_due(tx, now, limit, tids, ids, &k);
	if (err != FL_OK)
		goto out;
	for (int i = 0; i < k; i++) {
		memcpy(d[i].tid, tids[i], FL_ID_MAX);
		memcpy(d[i].id, ids[i], FL_ID_MAX);
	}
	qsort(d, (size_t)k, sizeof(*d), due_by_id);
	for (int i = 0; i < k && err == FL_OK; i++) {
		err = OPS(tx)->lock_device(tx, d[i].id);
		if (err == FL_OK)
			err = OPS(tx)->device_load(tx, d[i].tid, d[i].id,
			                           &devs[m], &ins[m]);
		if (err == FL_OK)
			m++;
		else if (err == FL_E_NOT_FOUND)
			err = FL_OK; /* gone since the list was read */
	}
	if (err != FL_OK) {
		for (int i = 0; i < m; i++)
			fl_device_inputs_clear(&ins[i]);
		m = 0;
	}
out:
	*n = m;
	free(tids);
	free(ids);
	free(d);
	return err;
}

fl_err fl_store_device_due_load(struct fl_tx *tx, fl_time now, int limit,
                                struct fl_device *devs,
                                struct fl_device_inputs *ins, int *n)
{
	*n = 0;
	if (limit <= 0)
		return FL_OK;
	if (OPS(tx)->device_due_load != NULL)
		return OPS(tx)->device_due_load(tx, now, limit, devs, ins, n);
	return due_load_each(tx, now, limit, devs, ins, n);
}

fl_err fl_store_device_set_status_many(struct fl_tx *tx,
                                       const struct fl_status_write *w,
                                       int n)
{
	fl_err err = FL_OK;

	if (n <= 0)
		return FL_OK;
	if (OPS(tx)->device_set_status_many != NULL)
		return OPS(tx)->device_set_status_many(tx, w, n);
	for (int i = 0; i < n && err == FL_OK; i++)
		err = OPS(tx)->device_set_status(tx, w[i].id, w[i].st);
	return err;
}

/* --- device protocol ------------------------------------------------------ */

fl_err fl_store_dp_enroll(struct fl_tx *tx, const char *id,
                          const uint8_t sign_pk[FL_DEVICE_KEY_LEN],
                          const uint8_t kx_pk[FL_DEVICE_KEY_LEN], fl_time at)
{
	return OPS(tx)->dp_enroll(tx, id, sign_pk, kx_pk, at);
}

fl_err fl_store_dp_touch(struct fl_tx *tx, const char *id, int64_t ord,
                         const uint8_t kx_pk[FL_DEVICE_KEY_LEN], fl_time at,
                         uint64_t counter)
{
	return OPS(tx)->dp_touch(tx, id, ord, kx_pk, at, counter);
}

fl_err fl_store_dp_seal(struct fl_tx *tx, const char *id, int64_t ord,
                        const uint8_t kx_pk[FL_DEVICE_KEY_LEN],
                        const uint8_t seal[FL_MAC_SEAL_LEN])
{
	return OPS(tx)->dp_seal(tx, id, ord, kx_pk, seal);
}

fl_err fl_store_dp_token_memo(struct fl_tx *tx, const char *id, uint64_t seq,
                              const uint8_t *memo, size_t len)
{
	if (len == 0 || len > FL_TOKEN_MEMO_MAX || seq > (uint64_t)INT64_MAX)
		return FL_E_INVALID;
	return OPS(tx)->dp_token_memo(tx, id, seq, memo, len);
}

fl_err fl_store_used_code_put(struct fl_tx *tx, const struct fl_used_code *u)
{
	return OPS(tx)->used_code_put(tx, u);
}

fl_err fl_store_used_code_get(struct fl_tx *tx, const uint8_t hash[FL_HASH_LEN],
                              struct fl_used_code *out)
{
	return OPS(tx)->used_code_get(tx, hash, out);
}

fl_err fl_store_pairing_put(struct fl_tx *tx, struct fl_pairing_rec *r)
{
	return OPS(tx)->pairing_put(tx, r);
}

fl_err fl_store_pairing_get(struct fl_tx *tx, const char *device_id,
                            const uint8_t sign_pk[FL_DEVICE_KEY_LEN],
                            const uint8_t kx_pk[FL_DEVICE_KEY_LEN],
                            struct fl_pairing_rec *out)
{
	return OPS(tx)->pairing_get(tx, device_id, sign_pk, kx_pk, out);
}

fl_err fl_store_pairing_list(struct fl_tx *tx, const char *device_id,
                             fl_err (*fn)(void *ctx,
                                          const struct fl_pairing_rec *r),
                             void *ctx)
{
	return OPS(tx)->pairing_list(tx, device_id, fn, ctx);
}

fl_err fl_store_pairing_decide(struct fl_tx *tx, const char *device_id,
                               int64_t ord, enum fl_pairing_status status,
                               fl_time at, const char *by)
{
	return OPS(tx)->pairing_decide(tx, device_id, ord, status, at, by);
}

fl_err fl_store_pairing_expire(struct fl_tx *tx, const char *device_id,
                               fl_time now)
{
	return OPS(tx)->pairing_expire(tx, device_id, now);
}

fl_err fl_store_pairing_drop(struct fl_tx *tx, const char *device_id,
                             int64_t ord)
{
	return OPS(tx)->pairing_drop(tx, device_id, ord);
}

fl_err fl_store_pairing_count_net(struct fl_tx *tx, const char *client_net,
                                  fl_time now, int64_t *n)
{
	return OPS(tx)->pairing_count_net(tx, client_net, now, n);
}

fl_err fl_store_dp_set_factory(struct fl_tx *tx, const char *id,
                               const uint8_t *factory_pk)
{
	return OPS(tx)->dp_set_factory(tx, id, factory_pk);
}

fl_err fl_store_report_add(struct fl_tx *tx, struct fl_report_rec *r)
{
	return OPS(tx)->report_add(tx, r);
}

fl_err fl_store_report_list(struct fl_tx *tx, const char *tenant_id,
                            const char *device_id, int limit,
                            fl_err (*fn)(void *ctx,
                                         const struct fl_report_rec *r),
                            void *ctx)
{
	return OPS(tx)->report_list(tx, tenant_id, device_id, limit, fn, ctx);
}

fl_err fl_store_ocode_get(struct fl_tx *tx, const char *device_id,
                          struct fl_ocode_rec *out)
{
	return OPS(tx)->ocode_get(tx, device_id, out);
}

fl_err fl_store_ocode_issue(struct fl_tx *tx, const char *device_id,
                            const struct fl_ocode_rec *r)
{
	return OPS(tx)->ocode_issue(tx, device_id, r);
}

fl_err fl_store_ocode_used(struct fl_tx *tx, const char *device_id,
                           uint64_t used, fl_time unlock_until)
{
	return OPS(tx)->ocode_used(tx, device_id, used, unlock_until);
}

fl_err fl_store_session_insert(struct fl_tx *tx,
                               const struct fl_session_rec *s)
{
	return OPS(tx)->session_insert(tx, s);
}

fl_err fl_store_session_get(struct fl_tx *tx, const uint8_t hash[FL_HASH_LEN],
                            struct fl_session_rec *out)
{
	return OPS(tx)->session_get(tx, hash, out);
}

fl_err fl_store_session_touch(struct fl_tx *tx,
                              const uint8_t hash[FL_HASH_LEN], fl_time at)
{
	return OPS(tx)->session_touch(tx, hash, at);
}

fl_err fl_store_session_delete(struct fl_tx *tx,
                               const uint8_t hash[FL_HASH_LEN])
{
	return OPS(tx)->session_delete(tx, hash);
}

fl_err fl_store_session_expire(struct fl_tx *tx, fl_time seen_before,
                               fl_time created_before, int64_t *n)
{
	return OPS(tx)->session_expire(tx, seen_before, created_before, n);
}

/* --- payment sources, unmatched payments, lock holds ---------------------- */

fl_err fl_store_source_insert(struct fl_tx *tx, struct fl_source_rec *s)
{
	return OPS(tx)->source_insert(tx, s);
}

fl_err fl_store_source_get(struct fl_tx *tx, const char *tenant_id,
                           const char *id, struct fl_source_rec *out)
{
	return OPS(tx)->source_get(tx, tenant_id, id, out);
}

fl_err fl_store_source_list(struct fl_tx *tx, const char *tenant_id,
                            int64_t after, int limit,
                            FL_STORE_LIST_FN(struct fl_source_rec), void *ctx)
{
	return OPS(tx)->source_list(tx, tenant_id, after, limit, fn, ctx);
}

fl_err fl_store_source_update(struct fl_tx *tx, const struct fl_source_rec *s)
{
	return OPS(tx)->source_update(tx, s);
}

fl_err fl_store_source_touch(struct fl_tx *tx, const char *id, fl_time at)
{
	return OPS(tx)->source_touch(tx, id, at);
}

fl_err fl_store_provider_ref_put(struct fl_tx *tx,
                                 const struct fl_provider_ref *r)
{
	return OPS(tx)->provider_ref_put(tx, r);
}

fl_err fl_store_provider_ref_get(struct fl_tx *tx, const char *source_id,
                                 const char *ref, struct fl_provider_ref *out)
{
	return OPS(tx)->provider_ref_get(tx, source_id, ref, out);
}

fl_err fl_store_provider_ref_find(struct fl_tx *tx, const char *tenant_id,
                                  const char *ref, struct fl_provider_ref *out)
{
	return OPS(tx)->provider_ref_find(tx, tenant_id, ref, out);
}

fl_err fl_store_provider_ref_list(struct fl_tx *tx, const char *tenant_id,
                                  fl_time from, fl_time to,
                                  FL_STORE_LIST_FN(struct fl_provider_ref),
                                  void *ctx)
{
	return OPS(tx)->provider_ref_list(tx, tenant_id, from, to, fn, ctx);
}

fl_err fl_store_source_msg_put(struct fl_tx *tx, const char *source_id,
                               const char *msg_id, fl_time at,
                               fl_time forget_before)
{
	return OPS(tx)->source_msg_put(tx, source_id, msg_id, at,
	                               forget_before);
}

fl_err fl_store_unmatched_insert(struct fl_tx *tx, struct fl_unmatched_rec *u)
{
	return OPS(tx)->unmatched_insert(tx, u);
}

fl_err fl_store_unmatched_get(struct fl_tx *tx, const char *tenant_id,
                              const char *id, struct fl_unmatched_rec *out)
{
	return OPS(tx)->unmatched_get(tx, tenant_id, id, out);
}

fl_err fl_store_unmatched_find(struct fl_tx *tx, const char *source_id,
                               const char *reference,
                               const uint8_t fingerprint[FL_HASH_LEN],
                               struct fl_unmatched_rec *out)
{
	return OPS(tx)->unmatched_find(tx, source_id, reference, fingerprint,
	                               out);
}

fl_err fl_store_unmatched_list(struct fl_tx *tx, const char *tenant_id,
                               bool open_only, int64_t after, int limit,
                               FL_STORE_LIST_FN(struct fl_unmatched_rec),
                               void *ctx)
{
	return OPS(tx)->unmatched_list(tx, tenant_id, open_only, after, limit,
	                               fn, ctx);
}

fl_err fl_store_unmatched_assign(struct fl_tx *tx, const char *tenant_id,
                                 const char *id, const char *payment_id,
                                 fl_time at, const char *by)
{
	return OPS(tx)->unmatched_assign(tx, tenant_id, id, payment_id, at, by);
}

fl_err fl_store_contract_by_ref(struct fl_tx *tx, const char *tenant_id,
                                const char *norm_ref,
                                char device_id[FL_ID_MAX])
{
	return OPS(tx)->contract_by_ref(tx, tenant_id, norm_ref, device_id);
}

fl_err fl_store_pending_release_put(struct fl_tx *tx,
                                    const struct fl_pending_release *r)
{
	return OPS(tx)->pending_release_put(tx, r);
}

fl_err fl_store_pending_release_get(struct fl_tx *tx, const char *device_id,
                                    struct fl_pending_release *out)
{
	return OPS(tx)->pending_release_get(tx, device_id, out);
}

fl_err fl_store_pending_release_drop(struct fl_tx *tx, const char *device_id)
{
	return OPS(tx)->pending_release_drop(tx, device_id);
}

fl_err fl_store_hold_insert(struct fl_tx *tx, struct fl_hold_rec *h)
{
	return OPS(tx)->hold_insert(tx, h);
}

fl_err fl_store_hold_extend(struct fl_tx *tx, const struct fl_hold_rec *h)
{
	return OPS(tx)->hold_extend(tx, h);
}

fl_err fl_store_hold_release(struct fl_tx *tx, const char *tenant_id,
                             const char *id, fl_time at, const char *by)
{
	return OPS(tx)->hold_release(tx, tenant_id, id, at, by);
}

fl_err fl_store_hold_list(struct fl_tx *tx, const char *tenant_id,
                          fl_time standing_at, int limit,
                          FL_STORE_LIST_FN(struct fl_hold_rec), void *ctx)
{
	return OPS(tx)->hold_list(tx, tenant_id, standing_at, limit, fn, ctx);
}

fl_err fl_store_wh_endpoint_insert(struct fl_tx *tx, struct fl_wh_endpoint *e)
{
	return OPS(tx)->wh_endpoint_insert(tx, e);
}

fl_err fl_store_wh_endpoint_get(struct fl_tx *tx, const char *tenant_id,
                                const char *id, struct fl_wh_endpoint *out)
{
	return OPS(tx)->wh_endpoint_get(tx, tenant_id, id, out);
}

fl_err fl_store_wh_endpoint_list(struct fl_tx *tx, const char *tenant_id,
                                 int64_t after, int limit,
                                 fl_err (*fn)(void *ctx,
                                              const struct fl_wh_endpoint *e),
                                 void *ctx)
{
	return OPS(tx)->wh_endpoint_list(tx, tenant_id, after, limit, fn, ctx);
}

fl_err fl_store_wh_endpoint_update(struct fl_tx *tx,
                                   const struct fl_wh_endpoint *e)
{
	return OPS(tx)->wh_endpoint_update(tx, e);
}

fl_err fl_store_wh_endpoint_delete(struct fl_tx *tx, const char *tenant_id,
                                   const char *id)
{
	return OPS(tx)->wh_endpoint_delete(tx, tenant_id, id);
}

fl_err fl_store_wh_event_add(struct fl_tx *tx, struct fl_wh_event *ev,
                             int64_t *n)
{
	if (strlen(ev->body) >= FL_WH_BODY_MAX)
		return FL_E_TOO_LARGE;
	return OPS(tx)->wh_event_add(tx, ev, n);
}

fl_err fl_store_wh_claim(struct fl_tx *tx, fl_time now, fl_time lease_until,
                         int max, struct fl_wh_delivery *out, int *n)
{
	return OPS(tx)->wh_claim(tx, now, lease_until, max, out, n);
}

fl_err fl_store_wh_delivery_update(struct fl_tx *tx,
                                   const struct fl_wh_delivery *d)
{
	return OPS(tx)->wh_delivery_update(tx, d);
}

fl_err fl_store_wh_delivery_list(struct fl_tx *tx, const char *tenant_id,
                                 const char *endpoint_id, int64_t after,
                                 int limit,
                                 fl_err (*fn)(void *ctx,
                                              const struct fl_wh_delivery *d),
                                 void *ctx)
{
	return OPS(tx)->wh_delivery_list(tx, tenant_id, endpoint_id, after,
	                                 limit, fn, ctx);
}

fl_err fl_store_wh_delivery_get(struct fl_tx *tx, const char *tenant_id,
                                int64_t ord, struct fl_wh_delivery *out)
{
	return OPS(tx)->wh_delivery_get(tx, tenant_id, ord, out);
}

fl_err fl_store_wh_prune(struct fl_tx *tx, fl_time before, int limit,
                         int64_t *n)
{
	return OPS(tx)->wh_prune(tx, before, limit, n);
}

fl_err fl_store_device_confirmed(struct fl_tx *tx, const char *id,
                                 struct fl_confirmed *out)
{
	return OPS(tx)->device_confirmed(tx, id, out);
}

fl_err fl_store_device_confirm(struct fl_tx *tx, const char *id,
                               const struct fl_confirmed *c)
{
	return OPS(tx)->device_confirm(tx, id, c);
}

fl_err fl_store_state_change_add(struct fl_tx *tx, struct fl_state_change *c)
{
	return OPS(tx)->state_change_add(tx, c);
}

fl_err fl_store_state_change_add_many(struct fl_tx *tx,
                                      const struct fl_state_change *c, int n)
{
	fl_err err = FL_OK;

	if (n <= 0)
		return FL_OK;
	if (OPS(tx)->state_change_add_many != NULL)
		return OPS(tx)->state_change_add_many(tx, c, n);
	for (int i = 0; i < n && err == FL_OK; i++) {
		struct fl_state_change one = c[i];

		err = OPS(tx)->state_change_add(tx, &one);
	}
	return err;
}

fl_err fl_store_state_change_last(struct fl_tx *tx, const char *device_id,
                                  struct fl_state_change *out)
{
	return OPS(tx)->state_change_last(tx, device_id, out);
}

fl_err fl_store_state_change_confirm(struct fl_tx *tx, const char *device_id,
                                     bool locked, uint64_t seq, fl_time at)
{
	if (seq > INT64_MAX)
		return FL_E_RANGE;
	return OPS(tx)->state_change_confirm(tx, device_id, locked, seq, at);
}

fl_err fl_store_state_change_counts(
        struct fl_tx *tx, const char *tenant_id, fl_time from, fl_time period,
        fl_time until,
        fl_err (*fn)(void *ctx, int bucket, enum fl_dev_state from_state,
                     enum fl_dev_state to_state, int64_t n),
        void *ctx)
{
	if (period <= 0)
		return FL_E_INVALID;
	return OPS(tx)->state_change_counts(tx, tenant_id, from, period, until,
	                                    fn, ctx);
}

fl_err fl_store_state_change_locks(struct fl_tx *tx, const char *tenant_id,
                                   fl_time since, fl_time until,
                                   fl_err (*fn)(void *ctx,
                                                const struct fl_state_change *c),
                                   void *ctx)
{
	return OPS(tx)->state_change_locks(tx, tenant_id, since, until, fn,
	                                   ctx);
}

fl_err fl_store_portfolio_groups(struct fl_tx *tx, const char *tenant_id,
                                 fl_err (*fn)(void *ctx,
                                              const struct fl_pf_group *g),
                                 void *ctx)
{
	return OPS(tx)->portfolio_groups(tx, tenant_id, fn, ctx);
}

fl_err fl_store_portfolio_late(struct fl_tx *tx, const char *tenant_id,
                               fl_err (*fn)(void *ctx,
                                            const struct fl_pf_late *l),
                               void *ctx)
{
	return OPS(tx)->portfolio_late(tx, tenant_id, fn, ctx);
}

/* --- every loan's collections ------------------------------------------- */

#define PF_PAGE 1000 /* contracts a statement */

struct pf_walk {
	bool open;         /* a loan is being filled */
	int64_t ord;       /* its contract's ord */
	struct fl_pf_loan l;
	struct fl_device_inputs in;
	struct fl_store_extras x;
	int n;             /* contracts of this page */
	fl_err (*fn)(void *ctx, const struct fl_pf_loan *l);
	void *ctx;
};

/* Hands the loan being filled, if any, to fn. */
static fl_err pf_flush(struct pf_walk *w)
{
	fl_err err;

	if (!w->open)
		return FL_OK;
	fl_store_extras_end(&w->x, &w->in, true);
	w->l.in = &w->in;
	err = w->fn(w->ctx, &w->l);
	fl_device_inputs_clear(&w->in);
	w->open = false;
	return err;
}

static fl_err pf_row(void *ctx, int64_t contract_ord,
                     const struct fl_store_extra *e, const char *device_id,
                     const char *currency)
{
	struct pf_walk *w = ctx;
	char *reason = NULL;
	fl_err err;

	if (e->kind == -1) {
		if (device_id == NULL || currency == NULL)
			return FL_E_CORRUPT;
		if ((err = pf_flush(w)) != FL_OK)
			return err;
		memset(&w->in, 0, sizeof(w->in));
		memset(&w->x, 0, sizeof(w->x));
		memset(&w->l, 0, sizeof(w->l));
		w->in.has_contract = true;
		snprintf(w->l.device_id, sizeof(w->l.device_id), "%s",
		         device_id);
		snprintf(w->l.currency, sizeof(w->l.currency), "%s", currency);
		w->ord = contract_ord;
		w->open = true;
		w->n++;
		return FL_OK;
	}
	if (!w->open || contract_ord != w->ord || e->kind < 0 || e->kind > 2)
		return FL_E_CORRUPT;
	return fl_store_extras_add(&w->x, &w->in, e, &reason);
}

fl_err fl_store_portfolio_loans(struct fl_tx *tx, const char *tenant_id,
                                fl_err (*fn)(void *ctx,
                                             const struct fl_pf_loan *l),
                                void *ctx)
{
	struct pf_walk w = {.fn = fn, .ctx = ctx};
	fl_err err;

	do {
		w.n = 0;
		err = OPS(tx)->portfolio_rows(tx, tenant_id, w.ord, PF_PAGE,
		                              pf_row, &w);
		if (err == FL_OK)
			err = pf_flush(&w);
	} while (err == FL_OK && w.n == PF_PAGE);
	if (w.open) {
		fl_store_extras_end(&w.x, &w.in, false);
		fl_device_inputs_clear(&w.in);
	}
	return err;
}
