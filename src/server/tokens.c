/*
 * tokens.c - the token cache: one signed token per device and seq, kept
 * packed (tokpack.h) and shared by every check-in, wait and lookup until
 * the seq moves or half its window passes.
 *
 * An entry keeps the payload packed against its signing key's reference
 * (the claims of the first token made under that key) and the footer part
 * once per key; the text is made again when an answer needs it
 * (fl_tokens_text). Packing is checked by unpacking before the entry is
 * kept; an entry that would not pack smaller keeps the text.
 */
#include "server/tokens.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "core/devproto.h"
#include "core/paseto.h"
#include "server/app.h"
#include "server/devauth.h"
#include "server/slab.h"
#include "server/tokensign.h"
#include "server/tokpack.h"

/* A signing key's root certificate and the check-in answer's part that
 * carries it, shared by every entry signed under that key, with the
 * reference its tokens' payloads are packed against. ref, index and
 * suffix are set once (under the cache's cmu) before any entry packed
 * against them is published, and never change after. */
struct cert {
	atomic_int refs; /* the table's and the entries' */
	bool shared;     /* in the table: entries under it are packed */
	char *keys_json; /* fl_dp_keys_json of {text} */
	size_t keys_len;
	struct fl_tokpack pk; /* what its entries are packed against */
	char text[]; /* the certificate */
};

struct entry {
	struct fl_token_set ts; /* first: a set is its entry */
	atomic_int refs;        /* the cache's reference and the callers' */
	uint64_t h;             /* hash of the device id */
	struct entry *hnext;    /* bucket chain */
	struct entry *older;    /* stored before this one */
	struct entry *newer;    /* stored after this one */
	struct cert *cert;      /* shared */
	bool packed;       /* data: the payload packed against cert's ref */
	bool slabbed;      /* in entry_slab, of sizeof(entry) + len bytes */
	uint16_t memo_len; /* bytes of memo */
	uint32_t payload;  /* packed: claims + signature, bytes */
	uint32_t len;      /* bytes of data (the token text when not packed) */
	uint32_t text_len; /* bytes of the token text */
	_Atomic(uint8_t *) memo; /* the token memo, until devauth took it */
	uint8_t data[];
};

#define CERT_TABLE 16 /* certificates shared at once (keys in use) */
#define DRAFT_CAP  16384 /* drafts kept at once, at most */

/* A token's draft handed in (fl_tokens_draft), waiting for the first
 * fl_tokens_get of its device to sign it. */
struct draft {
	struct fl_token_draft dr;
	uint64_t h;          /* hash of the device id */
	struct draft *hnext; /* bucket chain */
	struct draft *older, *newer; /* handed in before / after it */
};

struct fl_tokens {
	pthread_mutex_t mu;
	struct entry **b; /* buckets */
	size_t nb;        /* power of two */
	size_t n, cap;
	struct entry *oldest, *newest; /* storage order, for eviction */
	size_t kept, text;             /* token bytes kept, and as text */
	struct draft **db;             /* drafts' buckets (nb of them) */
	struct draft *d_oldest, *d_newest;
	size_t n_drafts, draft_cap;
	pthread_mutex_t cmu;           /* guards certs */
	struct cert *certs[CERT_TABLE];
	size_t n_certs;
};

static uint64_t hash_id(const char *id)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *id != '\0'; id++)
		h = (h ^ (uint8_t)*id) * 1099511628211ULL;
	return h;
}

static void cert_put(struct cert *c)
{
	if (c != NULL && atomic_fetch_sub(&c->refs, 1) == 1) {
		free(c->keys_json);
		fl_tokpack_clear(&c->pk);
		free(c);
	}
}

/* The shared certificate equal to text; *out holds a reference for the
 * caller. A certificate only the table still holds is dropped here. */
static fl_err cert_intern(struct fl_tokens *tk, const char *text,
                          struct cert **out)
{
	struct fl_dp_keys k;
	struct cert *c = NULL;
	size_t len = strlen(text);
	fl_err err = FL_OK;

	*out = NULL;
	pthread_mutex_lock(&tk->cmu);
	for (size_t i = 0; i < tk->n_certs;) {
		/* refs 1: no entry uses it, and none can take it but here */
		if (atomic_load(&tk->certs[i]->refs) == 1) {
			cert_put(tk->certs[i]);
			tk->certs[i] = tk->certs[--tk->n_certs];
			continue;
		}
		if (strcmp(tk->certs[i]->text, text) == 0) {
			c = tk->certs[i];
			atomic_fetch_add(&c->refs, 1);
			goto out;
		}
		i++;
	}
	c = calloc(1, sizeof(*c) + len + 1);
	if (c == NULL) {
		err = FL_E_NOMEM;
		goto out;
	}
	memcpy(c->text, text, len + 1);
	memset(&k, 0, sizeof(k));
	k.certs[0] = c->text;
	k.n_certs = 1;
	if ((err = fl_dp_keys_json(&k, &c->keys_json, &c->keys_len)) != FL_OK) {
		free(c);
		c = NULL;
		goto out;
	}
	atomic_init(&c->refs, 1);
	if (tk->n_certs < CERT_TABLE) {
		atomic_fetch_add(&c->refs, 1);
		c->shared = true;
		tk->certs[tk->n_certs++] = c;
	}
out:
	pthread_mutex_unlock(&tk->cmu);
	*out = c;
	return err;
}

/* Entries live side by side in one slab for the process (slab.h), not
 * among the buffers of the requests that made them; one for the process
 * because a reference may outlive the cache that handed it out. */
static struct fl_slab *entry_slab;
static pthread_once_t entry_slab_once = PTHREAD_ONCE_INIT;

static void entry_slab_init(void)
{
	if (fl_slab_new(&entry_slab) != FL_OK)
		entry_slab = NULL; /* entries then come from malloc */
}

static void entry_free(struct entry *e)
{
	free(atomic_load(&e->memo));
	cert_put(e->cert);
	free(e->ts.receipt);
	if (e->slabbed)
		fl_slab_free(entry_slab, e, sizeof(*e) + e->len);
	else
		free(e);
}

void fl_tokens_put(const struct fl_token_set *ts)
{
	struct entry *e = (struct entry *)(void *)ts;

	if (e != NULL && atomic_fetch_sub(&e->refs, 1) == 1)
		entry_free(e);
}

fl_err fl_tokens_new(struct fl_tokens **out, int cap)
{
	struct fl_tokens *tk;

	*out = NULL;
	if (cap < 1)
		return FL_E_INVALID;
	tk = calloc(1, sizeof(*tk));
	if (tk == NULL)
		return FL_E_NOMEM;
	tk->cap = (size_t)cap;
	tk->nb = 16;
	while (tk->nb < tk->cap)
		tk->nb *= 2;
	tk->draft_cap = tk->cap < DRAFT_CAP ? tk->cap : DRAFT_CAP;
	tk->b = calloc(tk->nb, sizeof(*tk->b));
	tk->db = calloc(tk->nb, sizeof(*tk->db));
	if (tk->b == NULL || tk->db == NULL) {
		free(tk->b);
		free(tk->db);
		free(tk);
		return FL_E_NOMEM;
	}
	pthread_mutex_init(&tk->mu, NULL);
	pthread_mutex_init(&tk->cmu, NULL);
	*out = tk;
	return FL_OK;
}

void fl_tokens_free(struct fl_tokens *tk)
{
	struct entry *e;

	if (tk == NULL)
		return;
	for (e = tk->oldest; e != NULL;) {
		struct entry *next = e->newer;

		fl_tokens_put(&e->ts);
		e = next;
	}
	for (struct draft *d = tk->d_oldest; d != NULL;) {
		struct draft *next = d->newer;

		fl_token_draft_clear(&d->dr);
		free(d);
		d = next;
	}
	for (size_t i = 0; i < tk->n_certs; i++)
		cert_put(tk->certs[i]);
	pthread_mutex_destroy(&tk->cmu);
	pthread_mutex_destroy(&tk->mu);
	free(tk->db);
	free(tk->b);
	free(tk);
}

/* --- keeping a token --------------------------------------------------------
 */

/* Fills e's data with token text[len]: packed against e's certificate
 * (giving it its reference if it has none) when that is smaller and gives
 * back the very same text through fl_tokens_text, else the text itself.
 * e has room for len bytes of data. */
static fl_err keep_token(struct fl_tokens *tk, struct entry *e,
                         const char *text, size_t len)
{
	struct cert *c = e->cert;
	uint8_t *bin = NULL, *packed = NULL;
	char *back = NULL;
	const char *suffix;
	size_t n = 0, plen = 0;
	bool ok = false;
	fl_err err;

	/* a certificate the table could not take serves one entry: no
	 * reference for it */
	err = c->shared ? fl_tokpack_payload(text, len, &bin, &n, &suffix)
	                : FL_E_LIMIT;
	if (err == FL_OK) {
		pthread_mutex_lock(&tk->cmu);
		err = fl_tokpack_set(&c->pk, bin, n - FL_SIG_LEN, suffix,
		                     len - (size_t)(suffix - text));
		pthread_mutex_unlock(&tk->cmu);
	}
	if (err == FL_OK && c->pk.suffix_len == len - (size_t)(suffix - text) &&
	    memcmp(c->pk.suffix, suffix, c->pk.suffix_len) == 0 &&
	    (packed = malloc(2 * n + 16)) != NULL) {
		plen = fl_tokpack_pack(&c->pk, bin, n, packed);
		if (plen < len) {
			size_t back_len = 0;

			memcpy(e->data, packed, plen);
			e->len = (uint32_t)plen;
			e->payload = (uint32_t)n;
			e->packed = true;
			ok = fl_tokens_text(&e->ts, &back, &back_len) ==
			             FL_OK &&
			     back_len == len && memcmp(back, text, len) == 0;
		}
	}
	e->text_len = (uint32_t)len;
	if (!ok) {
		memcpy(e->data, text, len);
		e->len = (uint32_t)len;
		e->payload = 0;
		e->packed = false;
	}
	free(back);
	free(packed);
	free(bin);
	return err == FL_E_NOMEM ? err : FL_OK;
}

fl_err fl_tokens_text(const struct fl_token_set *ts, char **text, size_t *len)
{
	const struct entry *e = (const struct entry *)(const void *)ts;
	const struct cert *c = e->cert;
	size_t b64, total;
	uint8_t *bin;
	char *t;

	*text = NULL;
	*len = 0;
	if (!e->packed) {
		if ((t = malloc(e->len + 1)) == NULL)
			return FL_E_NOMEM;
		memcpy(t, e->data, e->len);
		t[e->len] = '\0';
		*text = t;
		*len = e->len;
		return FL_OK;
	}
	b64 = fl_b64url_encoded_len(e->payload);
	total = FL_PASETO_HEADER_LEN + b64 + c->pk.suffix_len;
	/* the payload is unpacked behind the text, then encoded in front */
	if ((t = malloc(total + 1 + e->payload)) == NULL)
		return FL_E_NOMEM;
	bin = (uint8_t *)t + total + 1;
	memcpy(t, FL_PASETO_HEADER, FL_PASETO_HEADER_LEN);
	if (fl_tokpack_unpack(&c->pk, e->data, e->len, e->payload, bin) !=
	    FL_OK) {
		free(t);
		return FL_E_INTERNAL;
	}
	fl_tokpack_b64url(t + FL_PASETO_HEADER_LEN, bin, e->payload);
	memcpy(t + FL_PASETO_HEADER_LEN + b64, c->pk.suffix,
	       c->pk.suffix_len + 1);
	*text = t;
	*len = total;
	return FL_OK;
}

void fl_tokens_usage(struct fl_tokens *tk, size_t *entries, size_t *kept,
                     size_t *text)
{
	pthread_mutex_lock(&tk->mu);
	*entries = tk->n;
	*kept = tk->kept;
	*text = tk->text;
	pthread_mutex_unlock(&tk->mu);
}

fl_err fl_tokens_claims_json(const struct fl_token_set *ts, char **out)
{
	const struct entry *e = (const struct entry *)(const void *)ts;
	const char *suffix;
	uint8_t *bin = NULL;
	size_t n = 0;
	fl_err err;

	*out = NULL;
	if (e->packed) {
		if ((bin = malloc(e->payload + 1)) == NULL)
			return FL_E_NOMEM;
		n = e->payload;
		if ((err = fl_tokpack_unpack(&e->cert->pk, e->data, e->len,
		                             e->payload, bin)) != FL_OK) {
			free(bin);
			return err;
		}
	} else if ((err = fl_tokpack_payload((const char *)e->data, e->len,
	                                     &bin, &n, &suffix)) != FL_OK) {
		return err;
	}
	/* the payload is the signed message followed by its signature */
	bin[n - FL_SIG_LEN] = '\0';
	*out = (char *)bin;
	return FL_OK;
}

/* Unlinks e from the bucket and the storage order and drops the cache's
 * reference. Lock held. */
static void unlink_entry(struct fl_tokens *tk, struct entry *e)
{
	struct entry **pp = &tk->b[e->h & (tk->nb - 1)];

	for (; *pp != NULL; pp = &(*pp)->hnext) {
		if (*pp == e) {
			*pp = e->hnext;
			break;
		}
	}
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		tk->oldest = e->newer;
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		tk->newest = e->older;
	tk->n--;
	tk->kept -= e->len;
	tk->text -= e->text_len;
	fl_tokens_put(&e->ts);
}

static struct entry *find(struct fl_tokens *tk, uint64_t h, const char *id)
{
	for (struct entry *e = tk->b[h & (tk->nb - 1)]; e != NULL; e = e->hnext)
		if (strcmp(e->ts.device_id, id) == 0)
			return e;
	return NULL;
}

/* Stores e (with the cache's reference) unless a newer seq is cached. */
static void store_entry(struct fl_tokens *tk, struct entry *e)
{
	struct entry *old;

	pthread_mutex_lock(&tk->mu);
	old = find(tk, e->h, e->ts.device_id);
	if (old != NULL && old->ts.seq > e->ts.seq) {
		pthread_mutex_unlock(&tk->mu);
		fl_tokens_put(&e->ts); /* the cache's reference, unused */
		return;
	}
	if (old != NULL)
		unlink_entry(tk, old);
	while (tk->n >= tk->cap && tk->oldest != NULL)
		unlink_entry(tk, tk->oldest);
	e->hnext = tk->b[e->h & (tk->nb - 1)];
	tk->b[e->h & (tk->nb - 1)] = e;
	e->older = tk->newest;
	e->newer = NULL;
	if (tk->newest != NULL)
		tk->newest->newer = e;
	else
		tk->oldest = e;
	tk->newest = e;
	tk->n++;
	tk->kept += e->len;
	tk->text += e->text_len;
	pthread_mutex_unlock(&tk->mu);
}

/* --- making a token ----------------------------------------------------------
 */

/* --- drafts ------------------------------------------------------------------
 */

/* Unlinks d from its bucket and the hand-in order. Lock held. */
static void draft_unlink(struct fl_tokens *tk, struct draft *d)
{
	struct draft **pp = &tk->db[d->h & (tk->nb - 1)];

	for (; *pp != NULL; pp = &(*pp)->hnext) {
		if (*pp == d) {
			*pp = d->hnext;
			break;
		}
	}
	if (d->older != NULL)
		d->older->newer = d->newer;
	else
		tk->d_oldest = d->newer;
	if (d->newer != NULL)
		d->newer->older = d->older;
	else
		tk->d_newest = d->older;
	tk->n_drafts--;
}

static struct draft *draft_find(struct fl_tokens *tk, uint64_t h,
                                const char *id)
{
	for (struct draft *d = tk->db[h & (tk->nb - 1)]; d != NULL;
	     d = d->hnext)
		if (strcmp(d->dr.device_id, id) == 0)
			return d;
	return NULL;
}

static void draft_free(struct draft *d)
{
	if (d != NULL) {
		fl_token_draft_clear(&d->dr);
		free(d);
	}
}

fl_err fl_tokens_draft(struct fl_tokens *tk, struct fl_token_draft *dr)
{
	struct draft *d = calloc(1, sizeof(*d)), *old, *gone = NULL;

	if (d == NULL) {
		fl_token_draft_clear(dr);
		return FL_E_NOMEM;
	}
	d->dr = *dr;
	memset(dr, 0, sizeof(*dr));
	d->h = hash_id(d->dr.device_id);
	pthread_mutex_lock(&tk->mu);
	old = draft_find(tk, d->h, d->dr.device_id);
	if (old != NULL && old->dr.seq > d->dr.seq) {
		/* a newer one is in already */
		pthread_mutex_unlock(&tk->mu);
		draft_free(d);
		return FL_OK;
	}
	if (old != NULL)
		draft_unlink(tk, old);
	else if (tk->n_drafts >= tk->draft_cap && tk->d_oldest != NULL)
		draft_unlink(tk, gone = tk->d_oldest);
	d->hnext = tk->db[d->h & (tk->nb - 1)];
	tk->db[d->h & (tk->nb - 1)] = d;
	d->older = tk->d_newest;
	if (tk->d_newest != NULL)
		tk->d_newest->newer = d;
	else
		tk->d_oldest = d;
	tk->d_newest = d;
	tk->n_drafts++;
	pthread_mutex_unlock(&tk->mu);
	draft_free(old);
	draft_free(gone);
	return FL_OK;
}

size_t fl_tokens_drafts(struct fl_tokens *tk)
{
	size_t n;

	pthread_mutex_lock(&tk->mu);
	n = tk->n_drafts;
	pthread_mutex_unlock(&tk->mu);
	return n;
}

/* --- making a token ----------------------------------------------------------
 */

/* Builds and signs the current token of device id: from draft dr when
 * given, else read from the store. *out holds two references (the
 * cache's and the caller's). */
static fl_err build(struct fl_tokens *tk, struct fl_app *app, const char *id,
                    const struct fl_token_draft *dr, fl_time now,
                    struct entry **out)
{
	struct fl_token_signed st;
	struct entry *e = NULL, *kept;
	struct cert *cert = NULL;
	size_t len;
	fl_err err;

	*out = NULL;
	err = dr != NULL ? fl_token_sign_draft(app, dr, now, &st)
	                 : fl_token_sign(app, id, now, &st);
	if (err != FL_OK)
		return err;
	if ((err = cert_intern(tk, st.cert, &cert)) != FL_OK)
		goto out;
	len = strlen(st.token);
	e = calloc(1, sizeof(*e) + len);
	if (e == NULL) {
		err = FL_E_NOMEM;
		goto out;
	}
	e->cert = cert;
	cert = NULL;
	if ((err = keep_token(tk, e, st.token, len)) != FL_OK)
		goto out;
	/* at its final size, packed or not, beside the other entries */
	pthread_once(&entry_slab_once, entry_slab_init);
	if (entry_slab != NULL &&
	    (kept = fl_slab_alloc(entry_slab, sizeof(*e) + e->len)) != NULL) {
		memcpy(kept, e, sizeof(*e) + e->len);
		kept->slabbed = true;
		free(e);
		e = kept;
	} else if (e->len < len) {
		/* packed: give back what the text needed */
		struct entry *small = realloc(e, sizeof(*e) + e->len);

		if (small != NULL)
			e = small;
	}
	snprintf(e->ts.device_id, sizeof(e->ts.device_id), "%s", st.device_id);
	e->ts.seq = st.seq;
	e->ts.iat = st.iat; /* a memo's rebuilt token: when it was signed */
	e->ts.cert = e->cert->text;
	e->ts.keys_json = e->cert->keys_json;
	e->ts.keys_len = e->cert->keys_len;
	e->ts.receipt = st.receipt;
	e->ts.receipt_len = st.receipt != NULL ? strlen(st.receipt) : 0;
	st.receipt = NULL;
	e->ts.state = st.state;
	e->ts.stolen = st.stolen;
	e->h = hash_id(st.device_id);
	atomic_init(&e->refs, 2);
	atomic_init(&e->memo, NULL);
	if (st.memo_len > 0) {
		uint8_t *m = malloc(st.memo_len);

		/* without memory, no memo: the next miss signs again */
		if (m != NULL) {
			memcpy(m, st.memo, st.memo_len);
			e->memo_len = (uint16_t)st.memo_len;
			atomic_store(&e->memo, m);
		}
	}
	*out = e;
	e = NULL;
out:
	if (e != NULL)
		entry_free(e);
	cert_put(cert);
	fl_token_signed_clear(&st);
	return err;
}

/* Hands e's token memo to the device's bookkeeping, to be written behind
 * with it; kept in e until that takes it (the device authenticated), so
 * a token signed for an enrollment answer gets its memo written at the
 * first check-in that is served it. */
static void hand_memo(struct fl_app *app, struct entry *e)
{
	uint8_t *m;

	if (app->devauth == NULL || atomic_load(&e->memo) == NULL ||
	    (m = atomic_exchange(&e->memo, NULL)) == NULL)
		return;
	if (fl_devauth_token_memo(app->devauth, e->ts.device_id, e->ts.seq, m,
	                          e->memo_len)) {
		free(m);
	} else {
		uint8_t *none = NULL;

		if (!atomic_compare_exchange_strong(&e->memo, &none, m))
			free(m);
	}
}

fl_err fl_tokens_get(struct fl_tokens *tk, struct fl_app *app, const char *id,
                     uint64_t seq, fl_time now, const struct fl_token_set **out)
{
	uint64_t h = hash_id(id);
	fl_time half = (fl_time)app->cfg.token_ttl / 2;
	struct draft *d;
	struct entry *e;
	fl_err err;

	*out = NULL;
	pthread_mutex_lock(&tk->mu);
	e = find(tk, h, id);
	if (e != NULL && e->ts.seq >= seq && now < e->ts.iat + half) {
		atomic_fetch_add(&e->refs, 1);
		pthread_mutex_unlock(&tk->mu);
		hand_memo(app, e);
		*out = &e->ts;
		return FL_OK;
	}
	/* a draft is taken by the first who asks; one for an older seq, or
	 * past half its window, is of no use to anyone */
	if ((d = draft_find(tk, h, id)) != NULL)
		draft_unlink(tk, d);
	pthread_mutex_unlock(&tk->mu);
	if (d != NULL && (d->dr.seq < seq || now < d->dr.c.iat ||
	                  now >= d->dr.c.iat + half)) {
		draft_free(d);
		d = NULL;
	}
	err = build(tk, app, id, d != NULL ? &d->dr : NULL, now, &e);
	draft_free(d);
	if (err != FL_OK)
		return err;
	store_entry(tk, e);
	hand_memo(app, e);
	*out = &e->ts;
	return FL_OK;
}
