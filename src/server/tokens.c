/*
 * tokens.c - building, signing and caching device tokens and release
 * receipts.
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

/* A signing key's root certificate and the check-in answer's part that
 * carries it, shared by every entry signed under that key. */
struct cert {
	atomic_int refs; /* the table's and the entries' */
	char *keys_json; /* fl_dp_keys_json of {text} */
	size_t keys_len;
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
	char token[];           /* ts.token points here */
};

#define CERT_TABLE 16 /* certificates shared at once (keys in use) */

struct fl_tokens {
	pthread_mutex_t mu;
	struct entry **b; /* buckets */
	size_t nb;        /* power of two */
	size_t n, cap;
	struct entry *oldest, *newest; /* storage order, for eviction */
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

fl_err fl_tokens_claims_json(const struct fl_token_set *ts, char **out)
{
	const char *body = ts->token + FL_PASETO_HEADER_LEN;
	const char *dot;
	size_t b64len, n = 0;
	uint8_t *bin;
	fl_err err;

	*out = NULL;
	if (ts->token_len < FL_PASETO_HEADER_LEN ||
	    memcmp(ts->token, FL_PASETO_HEADER, FL_PASETO_HEADER_LEN) != 0)
		return FL_E_INTERNAL;
	dot = memchr(body, '.', ts->token_len - FL_PASETO_HEADER_LEN);
	b64len = dot != NULL ? (size_t)(dot - body)
	                     : ts->token_len - FL_PASETO_HEADER_LEN;
	bin = malloc(b64len + 1);
	if (bin == NULL)
		return FL_E_NOMEM;
	/* the payload is the signed message followed by its signature */
	err = fl_b64url_decode(bin, b64len + 1, &n, body, b64len);
	if (err == FL_OK && n < FL_SIG_LEN)
		err = FL_E_INTERNAL;
	if (err != FL_OK) {
		free(bin);
		return err;
	}
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
	e = calloc(1, sizeof(*e) + len + 1);
	if (e == NULL) {
		err = FL_E_NOMEM;
		goto out;
	}
	memcpy(e->token, token, len + 1);
	e->cert = cert;
	cert = NULL;
	snprintf(e->ts.device_id, sizeof(e->ts.device_id), "%s", d->id);
	e->ts.seq = d->st.token_seq;
	e->ts.iat = now;
	e->ts.token = e->token;
	e->ts.token_len = len;
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
