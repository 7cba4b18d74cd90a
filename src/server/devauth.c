/*
 * devauth.c - per-device MAC keys and counters in memory, sharded by the
 * device id's hash, written behind by one thread.
 */
#include "server/devauth.h"
#include "server/run.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/log.h"
#include "server/slab.h"

#define SHARDS 16

/* the domain of the additional data of a sealed MAC key */
#define SEAL_DOMAIN "finlock-mac-seal-v1"

/* The row fields of a view beyond id and kx_pk (kept in the entry). */
struct row {
	int64_t ord;        /* the row, for the store's change clock */
	uint64_t clock;     /* device clock read before the row was */
	uint64_t token_seq; /* st.token_seq */
	fl_time lock_at;    /* st.lock_at */
	fl_time decided_at; /* st.decided_at */
	uint8_t state;      /* enum fl_dev_state */
	uint8_t lock_cause; /* enum fl_lock_cause */
	bool has_keys;      /* enrolled */
	bool has_contract;  /* a contract is attached */
	bool stolen;        /* st.stolen */
	bool confirmed_locked;  /* confirmed.locked */
	uint64_t confirmed_seq; /* confirmed.seq */
};

/* A token memo waiting to be written (tokensign.h). */
struct memo {
	uint64_t seq; /* the token seq it is of */
	size_t len;   /* bytes of b */
	uint8_t b[];
};

struct entry {
	struct entry *next;
	char id[FL_ID_MAX];
	uint8_t kx_pk[FL_KX_PK_LEN];     /* the keys this entry is for */
	uint8_t mac_key[FL_MAC_KEY_LEN]; /* derived from them; secret */
	uint64_t counter;                /* highest counter accepted */
	uint64_t written;                /* highest counter in the store */
	fl_time contact;                 /* last authenticated contact */
	bool dirty;                      /* not handed to a flush yet */
	bool seal_dirty;                 /* mac_key derived, not sealed yet */
	struct memo *memo;               /* token memo to write, or NULL */
	bool has_view;                   /* r holds a row read at r.clock */
	bool conf_dirty;  /* conf_* to be written */
	bool conf_locked; /* what the phone reported applying, and when */
	uint64_t conf_seq;
	fl_time conf_at;
	struct row r;                    /* the device's row, as viewed */
};

struct shard {
	pthread_mutex_t mu;
	struct fl_slab *slab; /* the entries' memory */
	struct entry **b; /* buckets */
	size_t nb;        /* power of two */
	size_t n, cap;    /* entries, and how many before evicting */
	size_t cursor;    /* where eviction looks next */
};

/* One device's bookkeeping to write. */
struct touch {
	int64_t ord; /* the row, when known (0 if not): the writing order */
	char id[FL_ID_MAX];
	uint8_t kx_pk[FL_KX_PK_LEN];
	uint64_t counter;
	fl_time contact;
	bool has_conf;            /* conf is to be written */
	struct fl_confirmed conf; /* what the phone confirmed */
	bool has_seal;            /* seal is to be written */
	uint8_t mac_key[FL_MAC_KEY_LEN];  /* to seal; wiped once sealed */
	uint8_t seal[FL_MAC_SEAL_LEN];    /* the sealed MAC key */
	struct memo *memo;                /* token memo to write (owned) */
};

struct fl_devauth {
	struct fl_store *st;
	const uint8_t *kx_pk, *kx_sk; /* the server's, borrowed */
	const uint8_t *seal_key;      /* seals MAC keys, borrowed */
	struct shard sh[SHARDS];
	pthread_mutex_t flush_mu; /* one flush at a time */
	pthread_mutex_t tmu;      /* guards stop, with tcv */
	pthread_cond_t tcv;
	bool stop;
	bool started;
	pthread_t thr;
};

static uint64_t hash_id(const char *id)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *id != '\0'; id++)
		h = (h ^ (uint8_t)*id) * 1099511628211ULL;
	return h;
}

static struct shard *shard_of(struct fl_devauth *da, uint64_t h)
{
	return &da->sh[h % SHARDS];
}

static size_t bucket_of(const struct shard *s, uint64_t h)
{
	return (size_t)(h / SHARDS) & (s->nb - 1);
}

static void free_entry(struct shard *s, struct entry *e)
{
	free(e->memo);
	fl_wipe(e, sizeof(*e));
	fl_slab_free(s->slab, e, sizeof(*e));
}

/* The entry for id in s, or NULL. Lock held. */
static struct entry *find(struct shard *s, uint64_t h, const char *id)
{
	for (struct entry *e = s->b[bucket_of(s, h)]; e != NULL; e = e->next)
		if (strcmp(e->id, id) == 0)
			return e;
	return NULL;
}

/* Unlinks and frees id's entry. Lock held. */
static void drop(struct shard *s, uint64_t h, const char *id)
{
	struct entry **pp = &s->b[bucket_of(s, h)];

	for (; *pp != NULL; pp = &(*pp)->next) {
		if (strcmp((*pp)->id, id) == 0) {
			struct entry *e = *pp;

			*pp = e->next;
			s->n--;
			free_entry(s, e);
			return;
		}
	}
}

/* Frees one entry whose counter is in the store, looking from the cursor
 * on (an entry being written stays: if its write failed, the store would
 * hold a lower counter than one already accepted). A shard whose entries
 * are all pending grows past its cap until the next flush. Lock held. */
static void evict_one(struct shard *s)
{
	for (size_t k = 0; k < s->nb; k++) {
		size_t i = (s->cursor + k) & (s->nb - 1);
		struct entry **pp = &s->b[i];

		for (; *pp != NULL; pp = &(*pp)->next) {
			if (!(*pp)->dirty && !(*pp)->seal_dirty &&
			    (*pp)->written >= (*pp)->counter) {
				struct entry *e = *pp;

				*pp = e->next;
				s->n--;
				free_entry(s, e);
				s->cursor = i + 1;
				return;
			}
		}
	}
}

fl_err fl_devauth_derive(const uint8_t server_kx_pk[FL_KX_PK_LEN],
                         const uint8_t server_kx_sk[FL_KX_SK_LEN],
                         const uint8_t device_kx_pk[FL_KX_PK_LEN],
                         uint8_t mac_key[FL_MAC_KEY_LEN],
                         uint8_t ocode_secret[FL_DP_OCODE_SECRET_LEN])
{
	uint8_t shared[FL_KX_SESSION_LEN];
	fl_err err;

	err = fl_kx_shared(shared, 1, server_kx_pk, server_kx_sk, device_kx_pk);
	if (err == FL_OK)
		err = fl_dp_derive(shared, mac_key, ocode_secret);
	fl_wipe(shared, sizeof(shared));
	if (err != FL_OK) {
		fl_wipe(mac_key, FL_MAC_KEY_LEN);
		fl_wipe(ocode_secret, FL_DP_OCODE_SECRET_LEN);
	}
	return err;
}

/* The additional data a sealed MAC key is bound to: the device and the
 * key-exchange key it was derived for. *n receives its length. */
static void seal_ad(const char *id, const uint8_t kx_pk[FL_KX_PK_LEN],
                    uint8_t ad[sizeof(SEAL_DOMAIN) + FL_ID_MAX + FL_KX_PK_LEN],
                    size_t *n)
{
	size_t idn = strnlen(id, FL_ID_MAX - 1);

	memcpy(ad, SEAL_DOMAIN, sizeof(SEAL_DOMAIN)); /* with its NUL */
	memcpy(ad + sizeof(SEAL_DOMAIN), id, idn);
	ad[sizeof(SEAL_DOMAIN) + idn] = '\0';
	memcpy(ad + sizeof(SEAL_DOMAIN) + idn + 1, kx_pk, FL_KX_PK_LEN);
	*n = sizeof(SEAL_DOMAIN) + idn + 1 + FL_KX_PK_LEN;
}

void fl_devauth_seal(const uint8_t seal_key[FL_AEAD_KEY_LEN], const char *id,
                     const uint8_t kx_pk[FL_KX_PK_LEN],
                     const uint8_t mac_key[FL_MAC_KEY_LEN],
                     uint8_t out[FL_MAC_SEAL_LEN])
{
	uint8_t ad[sizeof(SEAL_DOMAIN) + FL_ID_MAX + FL_KX_PK_LEN];
	size_t n;

	seal_ad(id, kx_pk, ad, &n);
	fl_aead_seal(out, mac_key, FL_MAC_KEY_LEN, ad, n, seal_key);
}

fl_err fl_devauth_unseal(const uint8_t seal_key[FL_AEAD_KEY_LEN],
                         const char *id, const uint8_t kx_pk[FL_KX_PK_LEN],
                         const uint8_t seal[FL_MAC_SEAL_LEN],
                         uint8_t mac_key[FL_MAC_KEY_LEN])
{
	uint8_t ad[sizeof(SEAL_DOMAIN) + FL_ID_MAX + FL_KX_PK_LEN];
	size_t n;

	seal_ad(id, kx_pk, ad, &n);
	return fl_aead_open(mac_key, seal, FL_MAC_SEAL_LEN, ad, n, seal_key);
}

/* The MAC key for kx_pk: from the entry when it is for these keys, else
 * opened from the row's sealed copy, else derived (outside the lock: a
 * scalar multiplication). *derived tells the caller to have it sealed. */
static fl_err mac_key_of(struct fl_devauth *da, const struct fl_device *d,
                         uint64_t h, uint8_t key[FL_MAC_KEY_LEN],
                         bool *derived)
{
	struct shard *s = shard_of(da, h);
	uint8_t ocode[FL_DP_OCODE_SECRET_LEN];
	struct entry *e;
	bool have = false;
	fl_err err;

	*derived = false;
	pthread_mutex_lock(&s->mu);
	e = find(s, h, d->id);
	if (e != NULL && fl_ct_memcmp(e->kx_pk, d->kx_pk, FL_KX_PK_LEN) == 0) {
		memcpy(key, e->mac_key, FL_MAC_KEY_LEN);
		have = true;
	}
	pthread_mutex_unlock(&s->mu);
	if (have)
		return FL_OK;
	/* a sealed copy that does not open (altered, moved from another
	 * row or keys, sealed under other secrets) is no copy */
	if (d->has_mac_seal && fl_devauth_unseal(da->seal_key, d->id, d->kx_pk,
	                                         d->mac_seal, key) == FL_OK)
		return FL_OK;
	err = fl_devauth_derive(da->kx_pk, da->kx_sk, d->kx_pk, key, ocode);
	fl_wipe(ocode, sizeof(ocode));
	*derived = err == FL_OK;
	return err;
}

/* Takes counter as e's newest (FL_E_REPLAY unless above the last one
 * accepted, which then goes to *last) and now as its last contact, to be
 * written behind. The shard is locked. */
static fl_err take_counter(struct entry *e, uint64_t counter, fl_time now,
                           uint64_t *last)
{
	if (counter <= e->counter) {
		*last = e->counter;
		return FL_E_REPLAY;
	}
	e->counter = counter;
	if (now > e->contact)
		e->contact = now;
	e->dirty = true;
	return FL_OK;
}

/* A new entry for row d (hash h) with MAC key key, in shard s (locked),
 * making room first; it holds no view. NULL when out of memory. */
static struct entry *entry_add(struct shard *s, uint64_t h,
                               const struct fl_device *d,
                               const uint8_t key[FL_MAC_KEY_LEN])
{
	struct entry *e;

	if (s->n >= s->cap)
		evict_one(s);
	if ((e = fl_slab_alloc(s->slab, sizeof(*e))) == NULL)
		return NULL;
	memcpy(e->id, d->id, sizeof(e->id));
	memcpy(e->kx_pk, d->kx_pk, FL_KX_PK_LEN);
	memcpy(e->mac_key, key, FL_MAC_KEY_LEN);
	e->counter = d->req_counter;
	e->written = d->req_counter;
	e->contact = d->last_contact;
	e->next = s->b[bucket_of(s, h)];
	s->b[bucket_of(s, h)] = e;
	s->n++;
	return e;
}

/* Checks and records counter for d under the shard lock; key is the MAC
 * key just verified. */
static fl_err record(struct fl_devauth *da, const struct fl_device *d,
                     uint64_t h, const uint8_t key[FL_MAC_KEY_LEN],
                     bool derived, uint64_t counter, fl_time now)
{
	struct shard *s = shard_of(da, h);
	struct entry *e;
	uint64_t last = 0;
	fl_err err = FL_OK;

	pthread_mutex_lock(&s->mu);
	e = find(s, h, d->id);
	if (e != NULL && fl_ct_memcmp(e->kx_pk, d->kx_pk, FL_KX_PK_LEN) != 0) {
		/* new keys since: the old bookkeeping means nothing now */
		drop(s, h, d->id);
		e = NULL;
	}
	if (e == NULL) {
		/* no view: d was read at an unknown clock */
		if ((e = entry_add(s, h, d, key)) == NULL) {
			err = FL_E_NOMEM;
			goto out;
		}
	}
	if (d->req_counter > e->counter)
		e->counter = d->req_counter;
	if (d->req_counter > e->written)
		e->written = d->req_counter;
	if (derived)
		e->seal_dirty = true;
	err = take_counter(e, counter, now, &last);
out:
	pthread_mutex_unlock(&s->mu);
	return err;
}

fl_err fl_devauth_verify(struct fl_devauth *da, const struct fl_device *d,
                         const char *mac_hex, const char *method,
                         const char *path_with_query, const void *body,
                         size_t len, uint64_t counter, bool rec, fl_time now,
                         uint8_t mac_key[FL_MAC_KEY_LEN])
{
	uint64_t h = hash_id(d->id);
	bool derived = false;
	fl_err err;

	memset(mac_key, 0, FL_MAC_KEY_LEN);
	if (!d->has_keys || mac_hex == NULL || counter == 0)
		return FL_E_AUTH;
	err = mac_key_of(da, d, h, mac_key, &derived);
	if (err != FL_OK)
		goto out;
	if (fl_dp_request_verify(mac_hex, mac_key, method, path_with_query,
	                         body, len, counter) != FL_OK) {
		err = FL_E_AUTH;
		goto out;
	}
	/* the store keeps counters as signed 64-bit numbers */
	if (rec && counter > (uint64_t)INT64_MAX)
		err = FL_E_RANGE;
	else if (rec)
		err = record(da, d, h, mac_key, derived, counter, now);
out:
	if (err != FL_OK)
		fl_wipe(mac_key, FL_MAC_KEY_LEN);
	return err;
}

/* --- views of device rows --------------------------------------------------
 */

void fl_devauth_view_of(const struct fl_device *d, struct fl_devauth_view *v)
{
	memset(v, 0, sizeof(*v));
	v->ord = d->ord;
	memcpy(v->id, d->id, sizeof(v->id));
	v->has_keys = d->has_keys;
	v->has_contract = d->has_contract;
	memcpy(v->kx_pk, d->kx_pk, FL_KX_PK_LEN);
	v->state = d->st.state;
	v->stolen = d->st.stolen;
	v->lock_cause = d->st.lock_cause;
	v->lock_at = d->st.lock_at;
	v->decided_at = d->st.decided_at;
	v->token_seq = d->st.token_seq;
	v->confirmed_seq = d->confirmed.seq;
	v->confirmed_locked = d->confirmed.locked;
}

static void row_of(const struct fl_device *d, uint64_t clock, struct row *r)
{
	memset(r, 0, sizeof(*r));
	r->ord = d->ord;
	r->clock = clock;
	r->token_seq = d->st.token_seq;
	r->lock_at = d->st.lock_at;
	r->decided_at = d->st.decided_at;
	r->state = (uint8_t)d->st.state;
	r->lock_cause = (uint8_t)d->st.lock_cause;
	r->has_keys = d->has_keys;
	r->has_contract = d->has_contract;
	r->stolen = d->st.stolen;
	r->confirmed_seq = d->confirmed.seq;
	r->confirmed_locked = d->confirmed.locked;
}

/* e's view, if the store reports its row unchanged since. Lock held. */
static bool view_from(struct fl_devauth *da, const struct entry *e,
                      struct fl_devauth_view *v)
{
	if (!e->has_view ||
	    !fl_store_device_unchanged(da->st, e->r.ord, e->r.clock))
		return false;
	memset(v, 0, sizeof(*v));
	v->ord = e->r.ord;
	memcpy(v->id, e->id, sizeof(v->id));
	v->has_keys = e->r.has_keys;
	v->has_contract = e->r.has_contract;
	memcpy(v->kx_pk, e->kx_pk, FL_KX_PK_LEN);
	v->state = (enum fl_dev_state)e->r.state;
	v->stolen = e->r.stolen;
	v->lock_cause = (enum fl_lock_cause)e->r.lock_cause;
	v->lock_at = e->r.lock_at;
	v->decided_at = e->r.decided_at;
	v->token_seq = e->r.token_seq;
	v->confirmed_seq = e->r.confirmed_seq;
	v->confirmed_locked = e->r.confirmed_locked;
	return true;
}

/* Reads device id's row into *d; *clock is the device clock read before
 * the read transaction began (store.h). */
static fl_err read_row(struct fl_devauth *da, const char *id,
                       struct fl_device *d, uint64_t *clock)
{
	struct fl_tx *tx = NULL;
	fl_err err;

	*clock = fl_store_device_clock(da->st);
	if ((err = fl_store_begin(da->st, false, &tx)) != FL_OK)
		return err;
	err = fl_store_device_get_any(tx, id, d);
	fl_tx_rollback(tx);
	return err;
}

/* Brings e up to row d read at clock, unless e holds a later read. The
 * keys of d are e's (the caller checked). Lock held. */
static void refresh(struct entry *e, const struct fl_device *d, uint64_t clock)
{
	if (d->req_counter > e->counter)
		e->counter = d->req_counter;
	if (d->req_counter > e->written)
		e->written = d->req_counter;
	if (e->has_view && clock < e->r.clock)
		return;
	row_of(d, clock, &e->r);
	e->has_view = true;
}

/* After a request of device id authenticated under the keys kx_pk with
 * MAC key key: the entry is brought up to row d (when the row was read,
 * at clock) and, with rec, the counter recorded; with derived, the key
 * is to be sealed into the row. *again when the entry
 * the view came from has gone or moved on to other keys since: the
 * caller reads the row and tries again. */
static fl_err note(struct fl_devauth *da, uint64_t h, const char *id,
                   const struct fl_device *d, uint64_t clock,
                   const uint8_t kx_pk[FL_KX_PK_LEN],
                   const uint8_t key[FL_MAC_KEY_LEN], bool derived,
                   bool rec, uint64_t counter, fl_time now, bool *again,
                   uint64_t *last)
{
	struct shard *s = shard_of(da, h);
	struct entry *e;
	fl_err err = FL_OK;

	*again = false;
	pthread_mutex_lock(&s->mu);
	e = find(s, h, id);
	if (e != NULL && d != NULL &&
	    fl_ct_memcmp(e->kx_pk, d->kx_pk, FL_KX_PK_LEN) != 0 &&
	    (!e->has_view || clock >= e->r.clock)) {
		/* new keys since the entry was made: its bookkeeping means
		 * nothing now */
		drop(s, h, id);
		e = NULL;
	}
	if (e == NULL && d != NULL && rec) {
		if ((e = entry_add(s, h, d, key)) == NULL) {
			err = FL_E_NOMEM;
			goto out;
		}
	}
	if (e == NULL) {
		*again = rec && d == NULL;
		goto out;
	}
	if (fl_ct_memcmp(e->kx_pk, kx_pk, FL_KX_PK_LEN) != 0) {
		/* the entry holds a later row with other keys */
		*again = true;
		goto out;
	}
	if (d != NULL)
		refresh(e, d, clock);
	if (derived)
		e->seal_dirty = true;
	if (!rec)
		goto out;
	err = take_counter(e, counter, now, last);
out:
	pthread_mutex_unlock(&s->mu);
	return err;
}

fl_err fl_devauth_check(struct fl_devauth *da, const char *id,
                        const char *mac_hex, const char *method,
                        const char *path_with_query, const void *body,
                        size_t len, uint64_t counter, bool rec, fl_time now,
                        struct fl_devauth_view *view,
                        uint8_t mac_key[FL_MAC_KEY_LEN], uint64_t *last)
{
	uint64_t h = hash_id(id);
	struct shard *s = shard_of(da, h);
	struct fl_device *d = NULL;
	uint64_t clock = 0;
	bool again = true, derived = false;
	fl_err err = FL_E_STATE;

	memset(mac_key, 0, FL_MAC_KEY_LEN);
	memset(view, 0, sizeof(*view));
	*last = 0;
	if (mac_hex == NULL || counter == 0)
		return FL_E_AUTH;
	/* the first try from memory; a later one (the entry changed under
	 * it) from the store, whose read is then at least as new as the
	 * entry, so the loop ends */
	for (int attempt = 0; attempt < 4 && again; attempt++) {
		struct entry *e;
		bool hit = false;

		if (attempt == 0) {
			pthread_mutex_lock(&s->mu);
			e = find(s, h, id);
			if (e != NULL && view_from(da, e, view)) {
				memcpy(mac_key, e->mac_key, FL_MAC_KEY_LEN);
				hit = true;
			}
			pthread_mutex_unlock(&s->mu);
		}
		if (!hit) {
			if (d == NULL && (d = malloc(sizeof(*d))) == NULL) {
				err = FL_E_NOMEM;
				break;
			}
			if ((err = read_row(da, id, d, &clock)) != FL_OK)
				break;
			fl_devauth_view_of(d, view);
			if (!d->has_keys) {
				err = FL_E_AUTH;
				break;
			}
			if ((err = mac_key_of(da, d, h, mac_key, &derived)) !=
			    FL_OK)
				break;
		}
		if (fl_dp_request_verify(mac_hex, mac_key, method,
		                         path_with_query, body, len,
		                         counter) != FL_OK) {
			err = FL_E_AUTH;
			break;
		}
		/* the store keeps counters as signed 64-bit numbers */
		if (rec && counter > (uint64_t)INT64_MAX) {
			err = FL_E_RANGE;
			break;
		}
		err = note(da, h, id, hit ? NULL : d, clock, view->kx_pk,
		           mac_key, derived, rec, counter, now, &again, last);
		if (err == FL_OK && again)
			err = FL_E_STATE; /* if the loop ends here */
	}
	free(d);
	/* a stale counter under a good MAC keeps the key: the answer to it
	 * is MAC'd */
	if (err != FL_OK && err != FL_E_REPLAY) {
		fl_wipe(mac_key, FL_MAC_KEY_LEN);
		if (err != FL_E_AUTH && err != FL_E_RANGE &&
		    err != FL_E_NOT_FOUND)
			memset(view, 0, sizeof(*view));
	}
	return err;
}

fl_err fl_devauth_view(struct fl_devauth *da, const char *id,
                       struct fl_devauth_view *view)
{
	uint64_t h = hash_id(id), clock = 0;
	struct shard *s = shard_of(da, h);
	struct fl_device *d;
	struct entry *e;
	bool hit;
	fl_err err;

	pthread_mutex_lock(&s->mu);
	e = find(s, h, id);
	hit = e != NULL && view_from(da, e, view);
	pthread_mutex_unlock(&s->mu);
	if (hit)
		return FL_OK;
	memset(view, 0, sizeof(*view));
	if ((d = malloc(sizeof(*d))) == NULL)
		return FL_E_NOMEM;
	err = read_row(da, id, d, &clock);
	if (err == FL_OK) {
		fl_devauth_view_of(d, view);
		pthread_mutex_lock(&s->mu);
		e = find(s, h, id);
		if (e != NULL &&
		    fl_ct_memcmp(e->kx_pk, d->kx_pk, FL_KX_PK_LEN) == 0)
			refresh(e, d, clock);
		else if (e != NULL && (!e->has_view || clock >= e->r.clock))
			drop(s, h, id); /* new keys: nothing kept holds */
		pthread_mutex_unlock(&s->mu);
	}
	free(d);
	return err;
}

fl_err fl_devauth_confirm(struct fl_devauth *da, const char *id,
                          const uint8_t kx_pk[FL_KX_PK_LEN], uint64_t seq,
                          bool locked, fl_time at)
{
	uint64_t h = hash_id(id);
	struct shard *s = shard_of(da, h);
	struct entry *e;
	fl_err err = FL_E_NOT_FOUND;

	pthread_mutex_lock(&s->mu);
	e = find(s, h, id);
	if (e != NULL && fl_ct_memcmp(e->kx_pk, kx_pk, FL_KX_PK_LEN) == 0) {
		/* the same report again keeps its first time */
		if (!e->conf_dirty || e->conf_seq != seq ||
		    e->conf_locked != locked)
			e->conf_at = at;
		e->conf_seq = seq;
		e->conf_locked = locked;
		e->conf_dirty = true;
		e->dirty = true;
		/* and the view's: the next check-in with the same report
		 * finds no news */
		e->r.confirmed_seq = seq;
		e->r.confirmed_locked = locked;
		err = FL_OK;
	}
	pthread_mutex_unlock(&s->mu);
	return err;
}

bool fl_devauth_token_memo(struct fl_devauth *da, const char *id,
                           uint64_t seq, const uint8_t *memo, size_t len)
{
	uint64_t h = hash_id(id);
	struct shard *s = shard_of(da, h);
	struct entry *e;
	struct memo *copy;
	bool done;

	if (len == 0 || len > FL_TOKEN_MEMO_MAX ||
	    (copy = malloc(sizeof(*copy) + len)) == NULL)
		return false;
	copy->seq = seq;
	copy->len = len;
	memcpy(copy->b, memo, len);
	pthread_mutex_lock(&s->mu);
	e = find(s, h, id);
	if (e != NULL && (e->memo == NULL || e->memo->seq <= seq)) {
		free(e->memo);
		e->memo = copy;
		copy = NULL;
	}
	/* a later memo there supersedes this one: taken, as it were */
	done = copy == NULL || (e != NULL && e->memo != NULL);
	pthread_mutex_unlock(&s->mu);
	free(copy);
	return done;
}

void fl_devauth_forget(struct fl_devauth *da, const char *device_id)
{
	uint64_t h = hash_id(device_id);
	struct shard *s = shard_of(da, h);

	pthread_mutex_lock(&s->mu);
	drop(s, h, device_id);
	pthread_mutex_unlock(&s->mu);
}

/* --- write-behind --------------------------------------------------------- */

/* Takes every pending entry out as a touch (marking it written); *out is
 * a heap array the caller frees. */
static fl_err collect(struct fl_devauth *da, struct touch **out, size_t *n)
{
	struct touch *t = NULL;
	size_t used = 0, cap = 0;
	fl_err err = FL_OK;

	*out = NULL;
	*n = 0;
	for (size_t k = 0; k < SHARDS && err == FL_OK; k++) {
		struct shard *s = &da->sh[k];

		pthread_mutex_lock(&s->mu);
		for (size_t i = 0; i < s->nb && err == FL_OK; i++) {
			for (struct entry *e = s->b[i]; e != NULL;
			     e = e->next) {
				if (!e->dirty && !e->seal_dirty &&
				    e->memo == NULL)
					continue;
				if (used == cap) {
					size_t nc = cap ? cap * 2 : 256;
					struct touch *nt =
					        realloc(t, nc * sizeof(*t));

					if (nt == NULL) {
						err = FL_E_NOMEM;
						break;
					}
					t = nt;
					cap = nc;
				}
				t[used].ord = e->has_view ? e->r.ord : 0;
				memcpy(t[used].id, e->id, sizeof(e->id));
				memcpy(t[used].kx_pk, e->kx_pk, FL_KX_PK_LEN);
				t[used].counter = e->counter;
				t[used].contact = e->contact;
				t[used].has_conf = e->conf_dirty;
				t[used].conf.seq = e->conf_seq;
				t[used].conf.locked = e->conf_locked;
				t[used].conf.at = e->conf_at;
				t[used].has_seal = e->seal_dirty;
				if (e->seal_dirty)
					memcpy(t[used].mac_key, e->mac_key,
					       FL_MAC_KEY_LEN);
				t[used].memo = e->memo;
				e->memo = NULL;
				e->dirty = false;
				e->conf_dirty = false;
				e->seal_dirty = false;
				used++;
			}
		}
		pthread_mutex_unlock(&s->mu);
	}
	*out = t;
	*n = used;
	return err;
}

/* After a flush: written, the entries may be evicted up to what was
 * written; failed, they are pending again so the next flush retries. */
static void settle(struct fl_devauth *da, const struct touch *t, size_t n,
                   bool ok)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t h = hash_id(t[i].id);
		struct shard *s = shard_of(da, h);
		struct entry *e;

		pthread_mutex_lock(&s->mu);
		e = find(s, h, t[i].id);
		if (e != NULL &&
		    memcmp(e->kx_pk, t[i].kx_pk, FL_KX_PK_LEN) == 0) {
			if (!ok) {
				e->dirty = true;
				e->seal_dirty |= t[i].has_seal;
				/* unless a later report replaced it */
				if (t[i].has_conf &&
				    e->conf_seq == t[i].conf.seq &&
				    e->conf_locked == t[i].conf.locked)
					e->conf_dirty = true;
			} else if (e->written < t[i].counter)
				e->written = t[i].counter;
		}
		pthread_mutex_unlock(&s->mu);
	}
}

static int by_ord(const void *a, const void *b)
{
	const struct touch *x = a, *y = b;

	return (x->ord > y->ord) - (x->ord < y->ord);
}

struct flush_io {
	const struct touch *t;
	size_t n;
};

/* Stores t's confirmation over an older one (none, or a lower seq: one
 * stored meanwhile with its event stays), and marks the state changes it
 * confirms (idempotent). A device gone since is left. */
static fl_err store_conf(struct fl_tx *tx, const struct touch *t)
{
	struct fl_confirmed was;
	fl_err err;

	err = fl_store_device_confirmed(tx, t->id, &was);
	if (err == FL_E_NOT_FOUND)
		return FL_OK;
	if (err != FL_OK)
		return err;
	if (was.at == 0 || was.seq < t->conf.seq)
		err = fl_store_device_confirm(tx, t->id, &t->conf);
	if (err == FL_OK)
		err = fl_store_state_change_confirm(tx, t->id, t->conf.locked,
		                                    t->conf.seq, t->conf.at);
	return err;
}

/* One attempt of the write-behind transaction (run.h). */
static fl_err flush_fn(struct fl_tx *tx, void *arg, fl_time now)
{
	struct flush_io *io = arg;
	fl_err err = FL_OK;

	(void)now;
	for (size_t i = 0; i < io->n && err == FL_OK; i++) {
		err = fl_store_dp_touch(tx, io->t[i].id, io->t[i].ord,
		                        io->t[i].kx_pk, io->t[i].contact,
		                        io->t[i].counter);
		if (err == FL_OK && io->t[i].has_conf)
			err = store_conf(tx, &io->t[i]);
		if (err == FL_OK && io->t[i].has_seal)
			err = fl_store_dp_seal(tx, io->t[i].id, io->t[i].ord,
			                       io->t[i].kx_pk, io->t[i].seal);
		if (err == FL_OK && io->t[i].memo != NULL)
			err = fl_store_dp_token_memo(tx, io->t[i].id,
			                             io->t[i].memo->seq,
			                             io->t[i].memo->b,
			                             io->t[i].memo->len);
	}
	return err;
}

fl_err fl_devauth_flush(struct fl_devauth *da, size_t *written)
{
	struct touch *t = NULL;
	struct flush_io io;
	size_t n = 0;
	fl_err err;

	if (written != NULL)
		*written = 0;
	pthread_mutex_lock(&da->flush_mu);
	err = collect(da, &t, &n);
	if (n == 0)
		goto out;
	/* sealed outside the shards' locks */
	for (size_t i = 0; i < n; i++) {
		if (!t[i].has_seal)
			continue;
		fl_devauth_seal(da->seal_key, t[i].id, t[i].kx_pk,
		                t[i].mac_key, t[i].seal);
		fl_wipe(t[i].mac_key, FL_MAC_KEY_LEN);
	}
	/* in row order: the rows' pages are visited once each, in order,
	 * rather than at random */
	qsort(t, n, sizeof(*t), by_ord);
	io.t = t;
	io.n = n;
	/* last_contact and req_counter only: no view holds either (quiet);
	 * run again whole if the store gives it up */
	err = fl_run(da->st, 0, FL_RUN_QUIET, flush_fn, &io, NULL);
	if (err == FL_OK && written != NULL)
		*written = n;
out:
	if (n > 0)
		settle(da, t, n, err == FL_OK);
	pthread_mutex_unlock(&da->flush_mu);
	/* a memo not written is not kept: the next signature makes one */
	for (size_t i = 0; i < n; i++)
		free(t[i].memo);
	if (t != NULL)
		fl_wipe(t, n * sizeof(*t)); /* keys not sealed on failure */
	free(t);
	return err;
}

static void *flusher(void *arg)
{
	struct fl_devauth *da = arg;
	struct fl_log_repeat flush_log = {0};

	pthread_mutex_lock(&da->tmu);
	while (!da->stop) {
		struct timespec ts;
		fl_err err;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += FL_DEVAUTH_FLUSH_MS * 1000000L;
		while (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		while (!da->stop && pthread_cond_timedwait(&da->tcv, &da->tmu,
		                                           &ts) != ETIMEDOUT)
			;
		pthread_mutex_unlock(&da->tmu);
		err = fl_devauth_flush(da, NULL);
		fl_log_round(&flush_log, "check-in bookkeeping", err);
		pthread_mutex_lock(&da->tmu);
	}
	pthread_mutex_unlock(&da->tmu);
	return NULL;
}

fl_err fl_devauth_new(struct fl_devauth **out, struct fl_store *st,
                      const struct fl_secrets *sec, int cap)
{
	struct fl_devauth *da;
	pthread_condattr_t ca;
	size_t per;
	fl_err err;

	*out = NULL;
	if (cap < 1)
		return FL_E_INVALID;
	da = calloc(1, sizeof(*da));
	if (da == NULL)
		return FL_E_NOMEM;
	da->st = st;
	da->kx_pk = sec->kx_pk;
	da->kx_sk = sec->kx_sk;
	da->seal_key = sec->mac_seal_key;
	per = ((size_t)cap + SHARDS - 1) / SHARDS;
	for (size_t k = 0; k < SHARDS; k++) {
		struct shard *s = &da->sh[k];

		pthread_mutex_init(&s->mu, NULL);
		s->cap = per;
		s->nb = 16;
		while (s->nb < per)
			s->nb *= 2;
		s->b = calloc(s->nb, sizeof(*s->b));
		if (s->b == NULL || fl_slab_new(&s->slab) != FL_OK) {
			err = FL_E_NOMEM;
			goto fail;
		}
	}
	pthread_mutex_init(&da->flush_mu, NULL);
	pthread_mutex_init(&da->tmu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&da->tcv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&da->thr, NULL, flusher, da) != 0) {
		err = FL_E_INTERNAL;
		goto fail;
	}
	da->started = true;
	*out = da;
	return FL_OK;
fail:
	fl_devauth_free(da);
	return err;
}

void fl_devauth_free(struct fl_devauth *da)
{
	fl_err err;

	if (da == NULL)
		return;
	if (da->started) {
		pthread_mutex_lock(&da->tmu);
		da->stop = true;
		pthread_cond_signal(&da->tcv);
		pthread_mutex_unlock(&da->tmu);
		pthread_join(da->thr, NULL);
		err = fl_devauth_flush(da, NULL);
		if (err != FL_OK)
			fl_log(FL_LOG_ERROR,
			       "cannot write check-in bookkeeping at exit",
			       fl_log_err(NULL, err));
		pthread_cond_destroy(&da->tcv);
		pthread_mutex_destroy(&da->tmu);
		pthread_mutex_destroy(&da->flush_mu);
	}
	for (size_t k = 0; k < SHARDS; k++) {
		struct shard *s = &da->sh[k];

		if (s->b == NULL)
			continue;
		for (size_t i = 0; i < s->nb; i++) {
			struct entry *e = s->b[i];

			while (e != NULL) {
				struct entry *next = e->next;

				free_entry(s, e);
				e = next;
			}
		}
		free(s->b);
		fl_slab_free_all(s->slab);
		pthread_mutex_destroy(&s->mu);
	}
	free(da);
}
