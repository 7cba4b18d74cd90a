/* tokensign.c - signing a device's token and release receipt (tokensign.h). */
#include "server/tokensign.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "core/devproto.h"
#include "server/ahead.h"
#include "server/app.h"
#include "server/claims.h"
#include "server/signkeys.h"

/* The release receipt of device id, released at decided_at (0: now),
 * whose token claims are c. */
static fl_err sign_receipt(struct fl_app *app, const char *id,
                           fl_time decided_at,
                           const struct fl_device_claims *c, fl_time now,
                           char **out)
{
	struct fl_dp_receipt r;
	char *json = NULL;
	fl_err err;

	*out = NULL;
	memset(&r, 0, sizeof(r));
	snprintf(r.device_id, sizeof(r.device_id), "%s", id);
	memcpy(r.imei, c->imei, sizeof(r.imei));
	r.n_imei = c->n_imei;
	r.loan_ref = c->loan_ref != NULL ? c->loan_ref : (char *)"";
	r.released_at = decided_at > 0 ? decided_at : now;
	err = fl_dp_receipt_encode(&r, &json);
	if (err == FL_OK)
		err = fl_signkeys_sign(app->keys, FL_MSG_RELEASE_RECEIPT, json,
		                       strlen(json), now, out, NULL);
	free(json);
	return err;
}

void fl_token_signed_clear(struct fl_token_signed *s)
{
	free(s->token);
	free(s->cert);
	free(s->receipt);
	memset(s, 0, sizeof(*s));
}

/* Signs the device token claims of device id at now: with a signature
 * made ahead for exactly these claims by the key that signs now
 * (ahead.h), else afresh. */
static fl_err sign_claims(struct fl_app *app, const char *id,
                          const char *claims, fl_time now, char **token,
                          char kid[FL_KID_MAX], uint8_t sig[FL_SIG_LEN])
{
	size_t len = strlen(claims);

	if (app->ahead != NULL &&
	    fl_signkeys_current(app->keys, now, kid) == FL_OK &&
	    fl_ahead_take(app->ahead, id, kid, claims, len, sig))
		return fl_msg_assemble(token, kid, claims, len, sig);
	return fl_signkeys_sign_sig(app->keys, FL_MSG_DEVICE_TOKEN, claims, len,
	                            now, token, kid, sig);
}

/* --- the token memo ---------------------------------------------------------
 *
 * version (1) | seq (8) | iat (8) | signature (64) | tag (32) | kid
 * (the rest); integers big-endian.
 */

#define MEMO_VERSION 1
#define MEMO_FIXED   (1 + 8 + 8 + FL_SIG_LEN + FL_MAC_LEN)

/* A device's token memo, parsed. */
struct memo {
	uint64_t seq;            /* the token's seq */
	fl_time iat;             /* when it was signed */
	uint8_t sig[FL_SIG_LEN]; /* its signature */
	uint8_t tag[FL_MAC_LEN]; /* memo_tag of it */
	char kid[FL_KID_MAX];    /* the key that signed it */
};

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static bool memo_parse(const uint8_t *b, size_t n, struct memo *m)
{
	size_t kn = n > MEMO_FIXED ? n - MEMO_FIXED : 0;

	memset(m, 0, sizeof(*m));
	if (n <= MEMO_FIXED || kn >= FL_KID_MAX || b[0] != MEMO_VERSION ||
	    memchr(b + MEMO_FIXED, '\0', kn) != NULL)
		return false;
	m->seq = get64(b + 1);
	m->iat = (fl_time)get64(b + 9);
	memcpy(m->sig, b + 17, FL_SIG_LEN);
	memcpy(m->tag, b + 17 + FL_SIG_LEN, FL_MAC_LEN);
	memcpy(m->kid, b + MEMO_FIXED, kn);
	return true;
}

static size_t memo_write(const struct memo *m, uint8_t *b)
{
	size_t kn = strlen(m->kid);

	b[0] = MEMO_VERSION;
	put64(b + 1, m->seq);
	put64(b + 9, (uint64_t)m->iat);
	memcpy(b + 17, m->sig, FL_SIG_LEN);
	memcpy(b + 17 + FL_SIG_LEN, m->tag, FL_MAC_LEN);
	memcpy(b + MEMO_FIXED, m->kid, kn);
	return MEMO_FIXED + kn;
}

/* The keyed hash, under the server's token memo key, binding device id,
 * m's seq, iat, kid and signature to the claims claims[len] the
 * signature is over. */
static fl_err memo_tag(const struct fl_app *app, const char *id,
                       const struct memo *m, const char *claims, size_t len,
                       uint8_t tag[FL_MAC_LEN])
{
	static const char domain[] = "finlock-token-memo-v1";
	fl_blake2b_state st;
	uint8_t num[16];
	fl_err err;

	err = fl_blake2b_init(&st, app->secrets.token_memo_key,
	                      sizeof(app->secrets.token_memo_key), FL_MAC_LEN);
	if (err != FL_OK)
		return err;
	put64(num, m->seq);
	put64(num + 8, (uint64_t)m->iat);
	fl_blake2b_update(&st, domain, sizeof(domain)); /* with its NUL */
	fl_blake2b_update(&st, id, strlen(id) + 1);
	fl_blake2b_update(&st, num, sizeof(num));
	fl_blake2b_update(&st, m->kid, strlen(m->kid) + 1);
	fl_blake2b_update(&st, m->sig, FL_SIG_LEN);
	fl_blake2b_update(&st, claims, len);
	fl_blake2b_final(&st, tag, FL_MAC_LEN);
	fl_wipe(&st, sizeof(st)); /* keyed state */
	return FL_OK;
}

/* Whether d's memo may stand for the token signed at now: one of its
 * current seq, signed no more than half a window ago (what the token
 * cache would still serve) by the key that signs at now, for a device
 * with no release receipt to sign. */
static bool memo_fresh(struct fl_app *app, const struct fl_device *d,
                       fl_time now, struct memo *m)
{
	char kid[FL_KID_MAX];

	return d->token_memo_len > 0 &&
	       memo_parse(d->token_memo, d->token_memo_len, m) &&
	       m->seq == d->st.token_seq && m->iat <= now &&
	       now < m->iat + (fl_time)app->cfg.token_ttl / 2 &&
	       !(d->st.state == FL_ST_RELEASED && !d->st.stolen) &&
	       fl_signkeys_current(app->keys, now, kid) == FL_OK &&
	       strcmp(kid, m->kid) == 0;
}

fl_err fl_token_sign(struct fl_app *app, const char *id, fl_time now,
                     struct fl_token_signed *out)
{
	struct fl_device_claims c;
	struct fl_device *d = NULL;
	struct fl_tx *tx = NULL;
	struct memo m;
	uint8_t tag[FL_MAC_LEN];
	char kid[FL_KID_MAX];
	char *claims = NULL;
	fl_time iat = now;
	bool reuse = false;
	fl_err err;

	memset(out, 0, sizeof(*out));
	memset(&c, 0, sizeof(c));
	d = calloc(1, sizeof(*d));
	if (d == NULL) {
		err = FL_E_NOMEM;
		goto out;
	}
	if ((err = fl_store_begin(app->store, false, &tx)) != FL_OK)
		goto out;
	err = fl_store_device_get_any(tx, id, d);
	if (err == FL_OK && memo_fresh(app, d, now, &m)) {
		/* the claims as they were at the memo's iat: the very same
		 * text, whose signature the memo holds, unless anything
		 * they say has changed since */
		err = fl_claims_build(tx, d, m.iat,
		                      m.iat + (fl_time)app->cfg.token_ttl, &c);
		if (err == FL_OK)
			err = fl_claims_encode(&c, &claims);
		if (err == FL_OK)
			err = memo_tag(app, d->id, &m, claims, strlen(claims),
			               tag);
		reuse = err == FL_OK &&
		        fl_ct_memcmp(tag, m.tag, FL_MAC_LEN) == 0;
		if (!reuse) {
			fl_claims_clear(&c);
			memset(&c, 0, sizeof(c));
			free(claims);
			claims = NULL;
		}
	}
	if (err == FL_OK && !reuse)
		err = fl_claims_build(tx, d, now,
		                      now + (fl_time)app->cfg.token_ttl, &c);
	fl_tx_rollback(tx);
	if (err == FL_OK && reuse) {
		iat = m.iat;
		snprintf(kid, sizeof(kid), "%s", m.kid);
		err = fl_msg_assemble(&out->token, kid, claims, strlen(claims),
		                      m.sig);
	} else if (err == FL_OK) {
		memset(&m, 0, sizeof(m));
		err = fl_claims_encode(&c, &claims);
		if (err == FL_OK)
			err = sign_claims(app, d->id, claims, now, &out->token,
			                  kid, m.sig);
		if (err == FL_OK) {
			m.seq = d->st.token_seq;
			m.iat = now;
			snprintf(m.kid, sizeof(m.kid), "%s", kid);
			err = memo_tag(app, d->id, &m, claims, strlen(claims),
			               m.tag);
		}
		if (err == FL_OK && MEMO_FIXED + strlen(m.kid) <=
		                            sizeof(out->memo))
			out->memo_len = memo_write(&m, out->memo);
	}
	if (err == FL_OK)
		err = fl_signkeys_cert(app->keys, kid, &out->cert);
	if (err == FL_OK && d->st.state == FL_ST_RELEASED && !d->st.stolen)
		err = sign_receipt(app, d->id, d->st.decided_at, &c, now,
		                   &out->receipt);
	if (err != FL_OK)
		goto out;
	snprintf(out->device_id, sizeof(out->device_id), "%s", d->id);
	out->seq = d->st.token_seq;
	out->iat = iat;
	out->reused = reuse;
	out->state = d->st.state;
	out->stolen = d->st.stolen;
out:
	if (err != FL_OK)
		fl_token_signed_clear(out);
	free(claims);
	fl_claims_clear(&c);
	free(d);
	return err;
}

/* --- drafts ------------------------------------------------------------------
 */

void fl_token_draft_clear(struct fl_token_draft *dr)
{
	fl_claims_clear(&dr->c);
	memset(dr, 0, sizeof(*dr));
}

fl_err fl_token_draft_of(const struct fl_device *d,
                         const struct fl_device_inputs *in, fl_time iat,
                         fl_time exp, struct fl_token_draft *out)
{
	fl_err err;

	memset(out, 0, sizeof(*out));
	snprintf(out->device_id, sizeof(out->device_id), "%s", d->id);
	out->seq = d->st.token_seq;
	out->state = d->st.state;
	out->stolen = d->st.stolen;
	out->decided_at = d->st.decided_at;
	if ((err = fl_claims_of(d, in, iat, exp, &out->c)) != FL_OK)
		fl_token_draft_clear(out);
	return err;
}

fl_err fl_token_sign_draft(struct fl_app *app, const struct fl_token_draft *dr,
                           fl_time now, struct fl_token_signed *out)
{
	struct memo m;
	char kid[FL_KID_MAX];
	char *claims = NULL;
	fl_err err;

	memset(out, 0, sizeof(*out));
	memset(&m, 0, sizeof(m));
	err = fl_claims_encode(&dr->c, &claims);
	if (err == FL_OK)
		err = sign_claims(app, dr->device_id, claims, now, &out->token,
		                  kid, m.sig);
	/* its memo, as fl_token_sign's: iat is the claims' */
	if (err == FL_OK) {
		m.seq = dr->seq;
		m.iat = dr->c.iat;
		snprintf(m.kid, sizeof(m.kid), "%s", kid);
		err = memo_tag(app, dr->device_id, &m, claims, strlen(claims),
		               m.tag);
	}
	if (err == FL_OK &&
	    MEMO_FIXED + strlen(m.kid) <= sizeof(out->memo))
		out->memo_len = memo_write(&m, out->memo);
	if (err == FL_OK)
		err = fl_signkeys_cert(app->keys, kid, &out->cert);
	if (err == FL_OK && dr->state == FL_ST_RELEASED && !dr->stolen)
		err = sign_receipt(app, dr->device_id, dr->decided_at, &dr->c,
		                   now, &out->receipt);
	if (err == FL_OK) {
		snprintf(out->device_id, sizeof(out->device_id), "%s",
		         dr->device_id);
		out->seq = dr->seq;
		out->iat = dr->c.iat;
		out->state = dr->state;
		out->stolen = dr->stolen;
	} else {
		fl_token_signed_clear(out);
	}
	free(claims);
	return err;
}
