/*
 * devauth.h - authenticating phones, and their write-behind bookkeeping.
 *
 * Secrets are derived, not stored (docs/server.md "Keys and trust"): a device's
 * check-in MAC key and offline-code secret come from crypto_kx between the
 * server's key-exchange secret (DATA/kx.secret, a file beside the database)
 * and the X25519 public key the phone sent at enrollment, then crypto_kdf
 * per purpose (fl_dp_derive). The database holds the public key and the
 * MAC key sealed (fl_devauth_seal: XChaCha20-Poly1305 under the server's
 * seal key, secrets.h, bound to the device id and the key-exchange key),
 * so a copy of it alone yields no MAC key and no offline code.
 *
 * A request that misses the memory below opens the row's sealed MAC key
 * instead of deriving it (a scalar multiplication, most of the cost of
 * such a request, which every phone makes once after finlockd restarts).
 * A key derived because the row had no sealed copy, or one that did not
 * open (altered, copied from another row or keys, sealed under other
 * secret files), is sealed and written behind with the counter, in the
 * same transaction, only while the row still has the keys it was derived
 * for; an enrollment with new keys drops the sealed copy of the old ones.
 *
 * A check-in or wait is authenticated by fl_devauth_verify: the request
 * MAC (constant time) over the protocol's encoding of method, path with
 * query, body and counter, then the counter, which must be above the last
 * one accepted from the device (docs/protocol.md "Request MAC"). The
 * derived MAC key and the highest counter stay in memory per device, up to
 * a cap (entries already written out are dropped first), so a check-in
 * costs one keyed hash.
 *
 * The same entry keeps what a check-in or wait reads of the device's row
 * (struct fl_devauth_view: keys, token seq, the decision's state and lock
 * fields), so a warm check-in reads nothing from the store. A copy is used
 * only while the store reports its row unchanged since the copy was read
 * (store.h "change notification": the device clock is read BEFORE the
 * read transaction, and every committed change of the row stamps its
 * bucket with a later clock value), so the next request after ANY
 * committed change of the row (enrollment, payment, decision, command,
 * report, release) reads it again. The write-behind transaction is
 * declared quiet (fl_tx_quiet): it changes only last_contact and
 * req_counter, which the view does not hold (the entry's own counter is
 * the authority while it lives). A copy is replaced only by one read at a
 * later clock, so a slow reader never puts an older row back.
 *
 * Write-behind (docs/server.md "Storage and durability"): the counter and the
 * last contact are persisted by a background thread, all devices in one
 * transaction, every FL_DEVAUTH_FLUSH_MS, and at shutdown. A crash loses at
 * most that much bookkeeping. While the server runs, the in-memory maximum is
 * the authority; after a restart, counters above the persisted one are
 * accepted: a phone's counter only rises, so the most a crash allows is
 * one replay of a request sent in the lost second. Bookkeeping is written
 * only while the device still has the key-exchange key it was accepted
 * under, so a re-enrolled device (counter back to 0) is never raised by a
 * late flush.
 *
 * THREAD SAFETY: every function may be called from any thread.
 */
#ifndef FL_SERVER_DEVAUTH_H
#define FL_SERVER_DEVAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/crypto.h"
#include "core/devproto.h"
#include "core/err.h"
#include "core/fltime.h"
#include "server/secrets.h"
#include "store/store.h"

#define FL_DEVAUTH_FLUSH_MS 500 /* write-behind period (bound: 1 s) */

struct fl_devauth;

/* What a check-in or wait needs of a device's row. */
struct fl_devauth_view {
	int64_t ord;                   /* the row (store.h change clock) */
	char id[FL_ID_MAX];            /* device id */
	bool has_keys;                 /* enrolled */
	bool has_contract;             /* a contract is attached */
	uint8_t kx_pk[FL_KX_PK_LEN];   /* the phone's key-exchange key */
	enum fl_dev_state state;       /* st.state */
	bool stolen;                   /* st.stolen */
	enum fl_lock_cause lock_cause; /* st.lock_cause */
	fl_time lock_at;               /* st.lock_at */
	fl_time decided_at;            /* st.decided_at */
	uint64_t token_seq;            /* st.token_seq */
	uint64_t confirmed_seq;        /* confirmed.seq */
	bool confirmed_locked;         /* confirmed.locked */
};

/* The view of row d. */
void fl_devauth_view_of(const struct fl_device *d, struct fl_devauth_view *v);

/* A cache of at most cap devices over st, with the key-exchange pair and
 * seal key of sec, which is borrowed and must outlive it. The flush
 * thread starts at once. *out is freed with fl_devauth_free. */
fl_err fl_devauth_new(struct fl_devauth **out, struct fl_store *st,
                      const struct fl_secrets *sec, int cap) FL_MUST_USE;
/* Stops the flush thread, writes what is pending, wipes every key and
 * frees da. NULL is a no-op. */
void fl_devauth_free(struct fl_devauth *da);

/* The secrets of the device whose key-exchange public key is device_kx_pk:
 * crypto_kx as the server, then fl_dp_derive. Outputs are secrets: the
 * caller wipes them. */
fl_err
fl_devauth_derive(const uint8_t server_kx_pk[FL_KX_PK_LEN],
                  const uint8_t server_kx_sk[FL_KX_SK_LEN],
                  const uint8_t device_kx_pk[FL_KX_PK_LEN],
                  uint8_t mac_key[FL_MAC_KEY_LEN],
                  uint8_t ocode_secret[FL_DP_OCODE_SECRET_LEN]) FL_MUST_USE;

/* Seals mac_key, the MAC key of device id under its key-exchange key
 * kx_pk, with seal_key into out (a random nonce each time). */
void fl_devauth_seal(const uint8_t seal_key[FL_AEAD_KEY_LEN], const char *id,
                     const uint8_t kx_pk[FL_KX_PK_LEN],
                     const uint8_t mac_key[FL_MAC_KEY_LEN],
                     uint8_t out[FL_MAC_SEAL_LEN]);
/* Opens seal, sealed by fl_devauth_seal for device id and kx_pk, into
 * mac_key (a secret: wipe it). FL_E_CORRUPT (mac_key zeroed) when it was
 * altered, or sealed for another device, other keys or with another
 * seal key. */
fl_err fl_devauth_unseal(const uint8_t seal_key[FL_AEAD_KEY_LEN],
                         const char *id, const uint8_t kx_pk[FL_KX_PK_LEN],
                         const uint8_t seal[FL_MAC_SEAL_LEN],
                         uint8_t mac_key[FL_MAC_KEY_LEN]) FL_MUST_USE;

/* Authenticates a request of device d (as read from the store): mac_hex
 * against method, path_with_query, body[len] and counter. With record,
 * the counter must be above the last accepted one and becomes it, and now
 * becomes the last contact (written behind). FL_E_AUTH: no keys or a bad
 * MAC; FL_E_REPLAY: a good MAC with a counter not above the last;
 * FL_E_RANGE: a counter above 2^63 - 1, which the store cannot keep. On
 * FL_OK mac_key receives the device's MAC key (a secret: wipe it). */
fl_err fl_devauth_verify(struct fl_devauth *da, const struct fl_device *d,
                         const char *mac_hex, const char *method,
                         const char *path_with_query, const void *body,
                         size_t len, uint64_t counter, bool record, fl_time now,
                         uint8_t mac_key[FL_MAC_KEY_LEN]) FL_MUST_USE;

/* fl_devauth_verify for device id, whose row comes from memory while the
 * store reports it unchanged, else from the store. *view receives the
 * row the request was authenticated against. Beyond fl_devauth_verify's
 * errors: FL_E_NOT_FOUND when there is no such device (answer it as
 * FL_E_AUTH), and store errors. On FL_E_REPLAY (a good MAC, a stale
 * counter) *last receives the highest counter accepted from the device
 * and mac_key keeps the device's MAC key, for the MAC'd stale_counter
 * answer (devproto.h "counter resynchronisation"). */
fl_err fl_devauth_check(struct fl_devauth *da, const char *id,
                        const char *mac_hex, const char *method,
                        const char *path_with_query, const void *body,
                        size_t len, uint64_t counter, bool record, fl_time now,
                        struct fl_devauth_view *view,
                        uint8_t mac_key[FL_MAC_KEY_LEN],
                        uint64_t *last) FL_MUST_USE;

/* The current view of device id: from memory while the store reports the
 * row unchanged, else read (and kept when the device has an entry).
 * FL_E_NOT_FOUND when there is no such device. */
fl_err fl_devauth_view(struct fl_devauth *da, const char *id,
                       struct fl_devauth_view *view) FL_MUST_USE;

/* Keeps what device id, enrolled under kx_pk, reports applying (token seq
 * `seq`, locked or not, at `at`) as its confirmed state, to be written
 * behind with its counter: for a report that raises no event (the lock
 * state is the one confirmed before). The flush stores it only over an
 * older confirmation (a lower seq, or none), so a confirmation written
 * meanwhile with its event stays. FL_E_NOT_FOUND: no entry for the device
 * under these keys (write it in a transaction instead). */
fl_err fl_devauth_confirm(struct fl_devauth *da, const char *id,
                          const uint8_t kx_pk[FL_KX_PK_LEN], uint64_t seq,
                          bool locked, fl_time at) FL_MUST_USE;

/* Writes every pending counter, last contact and confirmation now, in one
 * transaction. *n (may be NULL) counts the devices written. */
fl_err fl_devauth_flush(struct fl_devauth *da, size_t *n) FL_MUST_USE;

/* Keeps memo[len], device id's token memo for token seq `seq`
 * (tokensign.h), to be written behind with its counter (stored only while
 * the row's token seq is still seq). Kept only when the device has an
 * entry (it authenticated lately); a later memo replaces an earlier one.
 * Whether it was kept or a later one is (false: no entry, or no memory);
 * memo stays the caller's. */
bool fl_devauth_token_memo(struct fl_devauth *da, const char *id,
                           uint64_t seq, const uint8_t *memo, size_t len);

/* Drops what is kept about device_id (after it enrolled new keys). */
void fl_devauth_forget(struct fl_devauth *da, const char *device_id);

#endif
