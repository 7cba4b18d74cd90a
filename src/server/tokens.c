/*
 * tokens.c - building, signing and caching device tokens and release
 * receipts.
 *
 * How a token is kept: a v4.public token is "v4.public." + base64url(
 * claims || signature) + "." + base64url(footer). Tokens signed under one
 * key look alike: the same claim names, contract terms, lock message and
 * lender contact; they differ in the device id, IMEIs, dates and amounts.
 * So an entry keeps the payload (claims and signature, as bytes) packed
 * against a reference, the claims of the first token made under the same
 * key, as a list of literal runs and copies out of the reference (greedy,
 * copies of at least PACK_MIN bytes), and the footer part once per key.
 * The text is made again when an answer needs it (fl_tokens_text): the
 * copies, then base64url. Packing is checked by unpacking before the
 * entry is kept; an entry that would not pack smaller keeps the text.
 */
#include "server/tokens.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/devproto.h"
#include "core/paseto.h"
#include "core/restrict.h"
#include "server/app.h"
#include "server/decide.h"
#include "server/signkeys.h"

#define PACK_MIN  4    /* shortest copy out of the reference */
#define PACK_HASH 4096 /* slots of the reference's index (power of two) */

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
	uint8_t *ref;    /* claims of the first token signed, NULL before */
	size_t ref_len;  /* their length */
	uint32_t *index; /* 4-byte string hash -> position in ref + 1 */
	char *suffix;    /* "." + base64url footer of the key's tokens */
	size_t suffix_len;
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
	uint32_t payload;  /* packed: claims + signature, bytes */
	uint32_t len;      /* bytes of data (the token text when not packed) */
	uint32_t text_len; /* bytes of the token text */
	uint8_t data[];
};

#define CERT_TABLE 16 /* certificates shared at once (keys in use) */

struct fl_tokens {
	pthread_mutex_t mu;
	struct entry **b; /* buckets */
	size_t nb;        /* power of two */
	size_t n, cap;
	struct entry *oldest, *newest; /* storage order, for eviction */
	size_t kept, text;             /* token bytes kept, and as text */
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
		free(c->ref);
		free(c->index);
		free(c->suffix);
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

static void entry_free(struct entry *e)
{
	cert_put(e->cert);
	free(e->ts.receipt);
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
	tk->b = calloc(tk->nb, sizeof(*tk->b));
	if (tk->b == NULL) {
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
	for (size_t i = 0; i < tk->n_certs; i++)
		cert_put(tk->certs[i]);
	pthread_mutex_destroy(&tk->cmu);
	pthread_mutex_destroy(&tk->mu);
	free(tk->b);
	free(tk);
}

/* --- packing ----------------------------------------------------------------
 */

static uint32_t hash4(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return (v * 2654435761u) >> 20 & (PACK_HASH - 1);
}

static size_t put_varint(uint8_t *w, size_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		w[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	w[n++] = (uint8_t)v;
	return n;
}

static bool get_varint(const uint8_t **r, const uint8_t *end, size_t *v)
{
	size_t x = 0;

	for (int shift = 0; shift < 35; shift += 7) {
		if (*r == end)
			return false;
		x |= (size_t)(**r & 0x7f) << shift;
		if ((*(*r)++ & 0x80) == 0) {
			*v = x;
			return true;
		}
	}
	return false;
}

static size_t match_len(const uint8_t *a, size_t an, const uint8_t *b,
                        size_t bn)
{
	size_t n = 0;

	while (n < an && n < bn && a[n] == b[n])
		n++;
	return n;
}

/* Packs t[n] against c's reference into out (room for 2n + 16 bytes):
 * literal run length, its bytes, then copy length and offset, again and
 * again until n bytes are made; ends on a literal run (maybe empty).
 * Returns the packed length. */
static size_t pack(const struct cert *c, const uint8_t *t, size_t n,
                   uint8_t *out)
{
	size_t i = 0, lit = 0, w = 0, next = 0;

	while (i + PACK_MIN <= n) {
		size_t best = 0, off = 0, k;

		/* where the last copy ended, then the index's candidate */
		if (next < c->ref_len) {
			best = match_len(c->ref + next, c->ref_len - next,
			                 t + i, n - i);
			off = next;
		}
		k = c->index[hash4(t + i)];
		if (k > 0) {
			size_t m = match_len(c->ref + k - 1, c->ref_len - k + 1,
			                     t + i, n - i);

			if (m > best) {
				best = m;
				off = k - 1;
			}
		}
		if (best < PACK_MIN) {
			i++;
			continue;
		}
		w += put_varint(out + w, i - lit);
		memcpy(out + w, t + lit, i - lit);
		w += i - lit;
		w += put_varint(out + w, best);
		w += put_varint(out + w, off);
		i += best;
		lit = i;
		next = off + best;
	}
	w += put_varint(out + w, n - lit);
	memcpy(out + w, t + lit, n - lit);
	return w + n - lit;
}

/* Unpacks e's payload into out[e->payload]. */
static fl_err unpack(const struct entry *e, uint8_t *out)
{
	const struct cert *c = e->cert;
	const uint8_t *r = e->data, *end = e->data + e->len;
	size_t o = 0, n, off;

	for (;;) {
		if (!get_varint(&r, end, &n) || n > (size_t)(end - r) ||
		    n > e->payload - o)
			return FL_E_INTERNAL;
		memcpy(out + o, r, n);
		r += n;
		o += n;
		if (o == e->payload)
			return r == end ? FL_OK : FL_E_INTERNAL;
		if (!get_varint(&r, end, &n) || !get_varint(&r, end, &off) ||
		    off > c->ref_len || n > c->ref_len - off ||
		    n > e->payload - o)
			return FL_E_INTERNAL;
		memcpy(out + o, c->ref + off, n);
		o += n;
	}
}

/* Sets c's reference (claims[len]) and the footer part (suffix) of its
 * tokens, when it has none yet. Under cmu. */
static fl_err cert_reference(struct cert *c, const uint8_t *claims, size_t len,
                             const char *suffix, size_t suffix_len)
{
	if (c->ref != NULL)
		return FL_OK;
	c->ref = malloc(len > 0 ? len : 1);
	c->index = calloc(PACK_HASH, sizeof(*c->index));
	c->suffix = malloc(suffix_len + 1);
	if (c->ref == NULL || c->index == NULL || c->suffix == NULL) {
		free(c->ref);
		free(c->index);
		free(c->suffix);
		c->ref = NULL;
		c->index = NULL;
		c->suffix = NULL;
		return FL_E_NOMEM;
	}
	memcpy(c->ref, claims, len);
	c->ref_len = len;
	memcpy(c->suffix, suffix, suffix_len);
	c->suffix[suffix_len] = '\0';
	c->suffix_len = suffix_len;
	for (size_t i = 0; i + 4 <= len; i++)
		c->index[hash4(claims + i)] = (uint32_t)(i + 1);
	return FL_OK;
}

/* The payload (claims || signature) of token text[len] into *bin (caller
 * frees) and *n; *suffix points at the footer part ("." + footer, or ""). */
static fl_err payload_of(const char *text, size_t len, uint8_t **bin, size_t *n,
                         const char **suffix)
{
	const char *body = text + FL_PASETO_HEADER_LEN, *dot;
	size_t b64len;
	fl_err err;

	*bin = NULL;
	*n = 0;
	if (len < FL_PASETO_HEADER_LEN ||
	    memcmp(text, FL_PASETO_HEADER, FL_PASETO_HEADER_LEN) != 0)
		return FL_E_INTERNAL;
	dot = memchr(body, '.', len - FL_PASETO_HEADER_LEN);
	b64len =
	        dot != NULL ? (size_t)(dot - body) : len - FL_PASETO_HEADER_LEN;
	*suffix = body + b64len;
	*bin = malloc(b64len + 1);
	if (*bin == NULL)
		return FL_E_NOMEM;
	err = fl_b64url_decode(*bin, b64len + 1, n, body, b64len);
	if (err == FL_OK && *n < FL_SIG_LEN)
		err = FL_E_INTERNAL;
	if (err != FL_OK) {
		free(*bin);
		*bin = NULL;
		*n = 0;
	}
	return err;
}

/* Pairs of base64url characters for every 12-bit value, built once. */
static char b64_pairs[4096][2];
static pthread_once_t b64_once = PTHREAD_ONCE_INIT;

static const char b64_alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq"
                                "rstuvwxyz0123456789-_";

static void b64_build(void)
{
	for (int v = 0; v < 4096; v++) {
		b64_pairs[v][0] = b64_alpha[v >> 6];
		b64_pairs[v][1] = b64_alpha[v & 63];
	}
}

/* base64url without padding of bin[n] into out (room for
 * fl_b64url_encoded_len(n) + 1 bytes), NUL-terminated: the encoding of
 * fl_b64url_encode by table lookups (two characters a lookup), for public
 * bytes (a token) that need no constant-time encoder. */
static void b64url(char *out, const uint8_t *bin, size_t n)
{
	const char *a = b64_alpha;
	size_t i = 0;

	pthread_once(&b64_once, b64_build);
	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)bin[i] << 16 |
		             (uint32_t)bin[i + 1] << 8 | bin[i + 2];

		memcpy(out, b64_pairs[v >> 12], 2);
		memcpy(out + 2, b64_pairs[v & 4095], 2);
		out += 4;
	}
	if (n - i == 1) {
		*out++ = a[bin[i] >> 2];
		*out++ = a[(bin[i] & 3) << 4];
	} else if (n - i == 2) {
		*out++ = a[bin[i] >> 2];
		*out++ = a[((bin[i] & 3) << 4) | (bin[i + 1] >> 4)];
		*out++ = a[(bin[i + 1] & 15) << 2];
	}
	*out = '\0';
}

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
	err = c->shared ? payload_of(text, len, &bin, &n, &suffix) : FL_E_LIMIT;
	if (err == FL_OK) {
		pthread_mutex_lock(&tk->cmu);
		err = cert_reference(c, bin, n - FL_SIG_LEN, suffix,
		                     len - (size_t)(suffix - text));
		pthread_mutex_unlock(&tk->cmu);
	}
	if (err == FL_OK && c->suffix_len == len - (size_t)(suffix - text) &&
	    memcmp(c->suffix, suffix, c->suffix_len) == 0 &&
	    (packed = malloc(2 * n + 16)) != NULL) {
		plen = pack(c, bin, n, packed);
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
	total = FL_PASETO_HEADER_LEN + b64 + c->suffix_len;
	/* the payload is unpacked behind the text, then encoded in front */
	if ((t = malloc(total + 1 + e->payload)) == NULL)
		return FL_E_NOMEM;
	bin = (uint8_t *)t + total + 1;
	memcpy(t, FL_PASETO_HEADER, FL_PASETO_HEADER_LEN);
	if (unpack(e, bin) != FL_OK) {
		free(t);
		return FL_E_INTERNAL;
	}
	b64url(t + FL_PASETO_HEADER_LEN, bin, e->payload);
	memcpy(t + FL_PASETO_HEADER_LEN + b64, c->suffix, c->suffix_len + 1);
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
		if ((err = unpack(e, bin)) != FL_OK) {
			free(bin);
			return err;
		}
	} else if ((err = payload_of((const char *)e->data, e->len, &bin, &n,
	                             &suffix)) != FL_OK) {
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

/* --- claims ---------------------------------------------------------------
 */

/* Decimals of a currency's minor unit (ISO 4217). */
static int decimals_of(const char *currency)
{
	static const char *const zero[] = {
	        "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG",
	        "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF", NULL};
	static const char *const three[] = {"BHD", "IQD", "JOD", "KWD",
	                                    "LYD", "OMR", "TND", NULL};

	for (size_t i = 0; zero[i] != NULL; i++)
		if (strcmp(currency, zero[i]) == 0)
			return 0;
	for (size_t i = 0; three[i] != NULL; i++)
		if (strcmp(currency, three[i]) == 0)
			return 3;
	return 2;
}

fl_err fl_tokens_money(char *out, size_t cap, const char *currency,
                       int64_t minor)
{
	char digits[32], grouped[48];
	int dec = decimals_of(currency);
	uint64_t v =
	        minor < 0 ? (uint64_t)0 - (uint64_t)minor : (uint64_t)minor;
	uint64_t unit = dec == 0 ? 1 : dec == 3 ? 1000 : 100;
	size_t n, g = 0;
	int w;

	snprintf(digits, sizeof(digits), "%llu",
	         (unsigned long long)(v / unit));
	n = strlen(digits);
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && (n - i) % 3 == 0)
			grouped[g++] = ',';
		grouped[g++] = digits[i];
	}
	grouped[g] = '\0';
	if (dec == 0)
		w = snprintf(out, cap, "%s%s%s%s", currency,
		             currency[0] ? " " : "", minor < 0 ? "-" : "",
		             grouped);
	else
		w = snprintf(out, cap, "%s%s%s%s.%0*llu", currency,
		             currency[0] ? " " : "", minor < 0 ? "-" : "",
		             grouped, dec, (unsigned long long)(v % unit));
	if (w < 0 || (size_t)w >= cap) {
		if (cap > 0)
			out[0] = '\0';
		return FL_E_TOO_LARGE;
	}
	return FL_OK;
}

/* A heap copy of a list of fixed-size strings, empty ones left out. */
static fl_err dup_list(const char *items, size_t stride, size_t n, char ***out,
                       size_t *count)
{
	*out = NULL;
	*count = 0;
	if (n == 0)
		return FL_OK;
	*out = calloc(n, sizeof(char *));
	if (*out == NULL)
		return FL_E_NOMEM;
	for (size_t i = 0; i < n; i++) {
		const char *s = items + i * stride;

		if (s[0] == '\0')
			continue;
		(*out)[*count] = strdup(s);
		if ((*out)[*count] == NULL)
			return FL_E_NOMEM;
		(*count)++;
	}
	return FL_OK;
}

/* strdup of s, or NULL (and FL_OK) for an empty s. */
static fl_err dup_text(const char *s, char **out)
{
	*out = NULL;
	if (s[0] == '\0')
		return FL_OK;
	*out = strdup(s);
	return *out != NULL ? FL_OK : FL_E_NOMEM;
}

/* The contract's terms and the coming reminders into c. */
static fl_err contract_claims(const struct fl_device_inputs *in,
                              const struct fl_decision *dec, bool released,
                              struct fl_device_claims *c)
{
	const struct fl_contract_rec *r = &in->contract;
	fl_err err;

	c->restrict_mask = r->restrict_mask;
	memcpy(c->currency, r->currency, sizeof(c->currency));
	c->sim_policy = r->sim_policy;
	c->tamper_policy = r->tamper_policy;
	if ((err = dup_list(&r->allow_apps[0][0], sizeof(r->allow_apps[0]),
	                    r->n_allow_apps, &c->allow_apps,
	                    &c->n_allow_apps)) != FL_OK ||
	    (err = dup_list(&r->contact_phones[0][0],
	                    sizeof(r->contact_phones[0]), r->n_contact_phones,
	                    &c->contact_phones, &c->n_contact_phones)) !=
	            FL_OK ||
	    (err = dup_text(r->message, &c->message)) != FL_OK ||
	    (err = dup_text(r->contact_name, &c->contact_name)) != FL_OK ||
	    (err = dup_text(r->loan_ref, &c->loan_ref)) != FL_OK)
		return err;
	if (released || dec->n_reminders == 0)
		return FL_OK;
	c->reminders = calloc(dec->n_reminders, sizeof(*c->reminders));
	if (c->reminders == NULL)
		return FL_E_NOMEM;
	for (size_t i = 0; i < dec->n_reminders; i++) {
		const struct fl_policy_reminder *pr = &dec->reminders[i];
		char money[64], text[160];
		int y, mo, d, h, mi, s;

		if ((err = fl_tokens_money(money, sizeof(money), r->currency,
		                           pr->amount)) != FL_OK)
			return err;
		/* the due date as the contract's calendar shows it */
		fl_time_to_civil(pr->due_at + r->utc_offset, &y, &mo, &d, &h,
		                 &mi, &s);
		snprintf(text, sizeof(text),
		         "Installment of %s due %04d-%02d-%02d", money, y, mo,
		         d);
		c->reminders[i].at = pr->at;
		c->reminders[i].text = strdup(text);
		if (c->reminders[i].text == NULL)
			return FL_E_NOMEM;
		c->n_reminders++;
	}
	return FL_OK;
}

/* The lock_cause claim for the stored cause of lock_at. */
static enum fl_claim_cause claim_cause(enum fl_lock_cause c)
{
	switch (c) {
	case FL_LOCK_OVERDUE:
		return FL_CLAIM_CAUSE_OVERDUE;
	case FL_LOCK_OFFLINE:
		return FL_CLAIM_CAUSE_OFFLINE;
	case FL_LOCK_MANUAL:
	case FL_LOCK_SCHEDULED:
		return FL_CLAIM_CAUSE_LENDER;
	case FL_LOCK_STOLEN:
		return FL_CLAIM_CAUSE_STOLEN;
	default:
		return FL_CLAIM_CAUSE_NONE;
	}
}

fl_err fl_tokens_claims(struct fl_tx *tx, const struct fl_device *d,
                        fl_time iat, fl_time exp, struct fl_device_claims *c)
{
	const struct fl_device_status *st = &d->st;
	bool released = st->state == FL_ST_RELEASED && !st->stolen;
	fl_time decided = st->decided_at > 0 ? st->decided_at : iat;
	struct fl_device_inputs in;
	struct fl_decision *dec = NULL;
	fl_err err;

	memset(&in, 0, sizeof(in));
	fl_claims_clear(c);
	c->sub = strdup(d->id);
	if (c->sub == NULL) {
		err = FL_E_NOMEM;
		goto out;
	}
	memcpy(c->imei[0], d->imei, sizeof(c->imei[0]));
	c->n_imei = 1;
	if (d->imei2[0] != '\0') {
		memcpy(c->imei[1], d->imei2, sizeof(c->imei[1]));
		c->n_imei = 2;
	}
	c->seq = st->token_seq;
	c->iat = iat;
	c->exp = exp;
	/* a phone that has not enrolled has nothing to enforce but lock_at */
	c->state = st->state == FL_ST_PENDING ? FL_ST_ACTIVE : st->state;
	c->stolen = st->stolen;
	c->lock_at = released ? 0 : st->lock_at;
	c->amount_due = released ? 0 : st->amount_due;
	c->lock_cause = released || st->lock_at == 0
	                        ? FL_CLAIM_CAUSE_NONE
	                        : claim_cause(st->lock_cause);
	c->restrict_mask = FL_R_DEFAULT_LOCK;
	if (!d->has_contract) {
		err = FL_OK;
		goto out;
	}
	dec = calloc(1, sizeof(*dec));
	if (dec == NULL) {
		err = FL_E_NOMEM;
		goto out;
	}
	err = fl_decide_replay(tx, d, decided, &in, dec);
	/* a phone that locks on its own at lock_at shows what is due then */
	if (err == FL_OK && in.has_contract && !released)
		err = fl_decide_token_due(&in, d, decided, dec, &c->amount_due);
	if (err == FL_OK && in.has_contract)
		err = contract_claims(&in, dec, released, c);
	/* the lender's reason, when the lender chose to show it */
	if (err == FL_OK && c->lock_cause == FL_CLAIM_CAUSE_LENDER &&
	    fl_decide_lock_text(&in, dec) != NULL &&
	    (c->lock_reason_text = strdup(fl_decide_lock_text(&in, dec))) ==
	            NULL)
		err = FL_E_NOMEM;
out:
	fl_device_inputs_clear(&in);
	free(dec);
	if (err != FL_OK)
		fl_claims_clear(c);
	return err;
}

/* --- signing ---------------------------------------------------------------
 */

/* The release receipt of device d whose token claims are c. */
static fl_err sign_receipt(struct fl_app *app, const struct fl_device *d,
                           const struct fl_device_claims *c, fl_time now,
                           char **out)
{
	struct fl_dp_receipt r;
	char *json = NULL;
	fl_err err;

	*out = NULL;
	memset(&r, 0, sizeof(r));
	snprintf(r.device_id, sizeof(r.device_id), "%s", d->id);
	memcpy(r.imei, c->imei, sizeof(r.imei));
	r.n_imei = c->n_imei;
	r.loan_ref = c->loan_ref != NULL ? c->loan_ref : (char *)"";
	r.released_at = d->st.decided_at > 0 ? d->st.decided_at : now;
	err = fl_dp_receipt_encode(&r, &json);
	if (err == FL_OK)
		err = fl_signkeys_sign(app->keys, FL_MSG_RELEASE_RECEIPT, json,
		                       strlen(json), now, out, NULL);
	free(json);
	return err;
}

/* Builds and signs the current token of device id. *out holds two
 * references (the cache's and the caller's). */
static fl_err build(struct fl_tokens *tk, struct fl_app *app, const char *id,
                    fl_time now, struct entry **out)
{
	struct fl_device_claims c;
	struct fl_device *d = NULL;
	struct entry *e = NULL;
	struct cert *cert = NULL;
	struct fl_tx *tx = NULL;
	char kid[FL_KID_MAX];
	char *claims = NULL, *token = NULL, *cert_text = NULL, *receipt = NULL;
	size_t len;
	fl_err err;

	*out = NULL;
	memset(&c, 0, sizeof(c));
	d = calloc(1, sizeof(*d));
	if (d == NULL) {
		err = FL_E_NOMEM;
		goto out;
	}
	if ((err = fl_store_begin(app->store, false, &tx)) != FL_OK)
		goto out;
	err = fl_store_device_get_any(tx, id, d);
	if (err == FL_OK)
		err = fl_tokens_claims(tx, d, now,
		                       now + (fl_time)app->cfg.token_ttl, &c);
	fl_tx_rollback(tx);
	if (err == FL_OK)
		err = fl_claims_encode(&c, &claims);
	if (err == FL_OK)
		err = fl_signkeys_sign(app->keys, FL_MSG_DEVICE_TOKEN, claims,
		                       strlen(claims), now, &token, kid);
	if (err == FL_OK)
		err = fl_signkeys_cert(app->keys, kid, &cert_text);
	if (err == FL_OK)
		err = cert_intern(tk, cert_text, &cert);
	if (err == FL_OK && d->st.state == FL_ST_RELEASED && !d->st.stolen)
		err = sign_receipt(app, d, &c, now, &receipt);
	if (err != FL_OK)
		goto out;
	len = strlen(token);
	e = calloc(1, sizeof(*e) + len);
	if (e == NULL) {
		err = FL_E_NOMEM;
		goto out;
	}
	e->cert = cert;
	cert = NULL;
	if ((err = keep_token(tk, e, token, len)) != FL_OK)
		goto out;
	if (e->len < len) {
		/* packed: give back what the text needed */
		struct entry *small = realloc(e, sizeof(*e) + e->len);

		if (small != NULL)
			e = small;
	}
	snprintf(e->ts.device_id, sizeof(e->ts.device_id), "%s", d->id);
	e->ts.seq = d->st.token_seq;
	e->ts.iat = now;
	e->ts.cert = e->cert->text;
	e->ts.keys_json = e->cert->keys_json;
	e->ts.keys_len = e->cert->keys_len;
	e->ts.receipt = receipt;
	e->ts.receipt_len = receipt != NULL ? strlen(receipt) : 0;
	receipt = NULL;
	e->ts.state = d->st.state;
	e->ts.stolen = d->st.stolen;
	e->h = hash_id(d->id);
	atomic_init(&e->refs, 2);
	*out = e;
out:
	cert_put(cert);
	free(receipt);
	free(cert_text);
	free(token);
	free(claims);
	fl_claims_clear(&c);
	free(d);
	return err;
}

fl_err fl_tokens_get(struct fl_tokens *tk, struct fl_app *app, const char *id,
                     uint64_t seq, fl_time now, const struct fl_token_set **out)
{
	uint64_t h = hash_id(id);
	fl_time half = (fl_time)app->cfg.token_ttl / 2;
	struct entry *e;
	fl_err err;

	*out = NULL;
	pthread_mutex_lock(&tk->mu);
	e = find(tk, h, id);
	if (e != NULL && e->ts.seq >= seq && now < e->ts.iat + half) {
		atomic_fetch_add(&e->refs, 1);
		pthread_mutex_unlock(&tk->mu);
		*out = &e->ts;
		return FL_OK;
	}
	pthread_mutex_unlock(&tk->mu);
	if ((err = build(tk, app, id, now, &e)) != FL_OK)
		return err;
	store_entry(tk, e);
	*out = &e->ts;
	return FL_OK;
}
