#include "core/token.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/paserk.h"
#include "core/paseto.h"
#include "core/restrict.h"

/* Most keys a trust set holds at once (expired ones are pruned first). */
#define TRUST_MAX_KEYS 64
/* Most revocations a trust set remembers. */
#define TRUST_MAX_REVOKED 256
/* Longest footer accepted; {"kid":"k4.pid.<44>"} is 60 bytes. */
#define FOOTER_MAX 256
/* Deepest JSON nesting a claims document may have: the claims object, the
 * contact object or reminders array, the phones array or a reminder. */
#define CLAIMS_MAX_DEPTH 3

_Static_assert(FL_PASERK_PID_SIZE <= FL_KID_MAX, "a k4.pid fits in a kid");

static const char *const implicit_names[FL_MSG__COUNT] = {
        [FL_MSG_DEVICE_TOKEN] = "finlock:device-token",
        [FL_MSG_ENROLL] = "finlock:enroll",
        [FL_MSG_LOOKUP] = "finlock:lookup",
        [FL_MSG_IMEI_CERT] = "finlock:imei-certificate",
        [FL_MSG_RELEASE_RECEIPT] = "finlock:release-receipt",
        [FL_MSG_KEY_CERT] = "finlock:key-cert",
        [FL_MSG_KEY_REVOKE] = "finlock:key-revoke",
        [FL_MSG_SEQ_RESET] = "finlock:seq-reset",
        [FL_MSG_AUDIT_HEAD] = "finlock:audit-head",
        [FL_MSG_WEBHOOK_KEY_CERT] = "finlock:webhook-key-cert",
};

struct trusted_key {
	char kid[FL_KID_MAX];       /* k4.pid of pk */
	uint8_t pk[FL_SIGN_PK_LEN]; /* certified public key */
	fl_time not_after;          /* certificate's end */
};

struct revoked_kid {
	char kid[FL_KID_MAX]; /* retired for good */
	fl_time at;           /* when the operator revoked it */
};

struct fl_trust {
	uint8_t root_pk[FL_SIGN_PK_LEN];         /* factory trust anchor */
	char root_kid[FL_KID_MAX];               /* its k4.pid */
	struct trusted_key keys[TRUST_MAX_KEYS]; /* certified signing keys */
	size_t n_keys;                           /* used entries of keys */
	struct revoked_kid revoked[TRUST_MAX_REVOKED]; /* retired kids */
	size_t n_revoked;                              /* used entries */
};

const char *fl_msg_implicit(enum fl_msg_kind kind)
{
	if ((unsigned)kind >= FL_MSG__COUNT)
		return NULL;
	return implicit_names[kind];
}

/* Kinds only the offline root key may sign. */
static bool root_signed(enum fl_msg_kind kind)
{
	return kind == FL_MSG_KEY_CERT || kind == FL_MSG_KEY_REVOKE ||
	       kind == FL_MSG_SEQ_RESET;
}

/* --- signers -------------------------------------------------------------- */

fl_err fl_signer_generate(struct fl_signer *s)
{
	fl_err err;

	fl_sign_keypair(s->pk, s->sk);
	err = fl_paserk_pid(s->kid, s->pk);
	if (err)
		fl_signer_wipe(s);
	return err;
}

fl_err fl_signer_from_paserk(struct fl_signer *s, const char *k4secret)
{
	fl_err err;

	memset(s, 0, sizeof(*s));
	err = fl_paserk_secret_decode(s->sk, k4secret,
	                              strnlen(k4secret, FL_PASERK_SECRET_SIZE));
	if (err)
		goto out;
	memcpy(s->pk, s->sk + FL_SIGN_SEED_LEN, FL_SIGN_PK_LEN);
	err = fl_paserk_pid(s->kid, s->pk);
out:
	if (err)
		fl_signer_wipe(s);
	return err;
}

void fl_signer_wipe(struct fl_signer *s)
{
	if (s != NULL)
		fl_wipe(s, sizeof(*s));
}

/* --- signing and the footer ----------------------------------------------- */

/* The footer of a message signed by key kid into footer[FOOTER_MAX];
 * its length, or -1 for a kid that is not a k4.pid. */
static int footer_of(const char *kid, char footer[FOOTER_MAX])
{
	int n;

	if (fl_paserk_pid_check(kid, strnlen(kid, FL_KID_MAX)) != FL_OK)
		return -1;
	n = snprintf(footer, FOOTER_MAX, "{\"kid\":\"%s\"}", kid);
	return n < 0 || n >= FOOTER_MAX ? -1 : n;
}

fl_err fl_msg_sign(char **out, const struct fl_signer *signer,
                   enum fl_msg_kind kind, const char *payload, size_t len)
{
	uint8_t sig[FL_SIG_LEN];

	return fl_msg_sign_sig(out, sig, signer, kind, payload, len);
}

fl_err fl_msg_sign_sig(char **out, uint8_t sig[FL_SIG_LEN],
                       const struct fl_signer *signer, enum fl_msg_kind kind,
                       const char *payload, size_t len)
{
	char footer[FOOTER_MAX];
	const char *implicit = fl_msg_implicit(kind);
	int n;

	*out = NULL;
	memset(sig, 0, FL_SIG_LEN);
	if (implicit == NULL || (n = footer_of(signer->kid, footer)) < 0)
		return FL_E_INVALID;
	return fl_paseto_sign_sig(out, sig, signer->sk, payload, len, footer,
	                          (size_t)n, implicit, strlen(implicit));
}

fl_err fl_msg_assemble(char **out, const char *kid, const char *payload,
                       size_t len, const uint8_t sig[FL_SIG_LEN])
{
	char footer[FOOTER_MAX];
	int n;

	*out = NULL;
	if ((n = footer_of(kid, footer)) < 0)
		return FL_E_INVALID;
	return fl_paseto_assemble(out, payload, len, sig, footer, (size_t)n);
}

/* The length of a token string, bounded so a runaway string is refused
 * without being scanned to its end. */
static size_t token_len(const char *token)
{
	return strnlen(token, FL_PASETO_MAX_TOKEN + 1);
}

fl_err fl_msg_peek_kid(const char *token, char kid[FL_KID_MAX])
{
	uint8_t *footer = NULL;
	size_t flen = 0;
	json_t *j = NULL, *v;
	const char *s;
	size_t slen;
	fl_err err;

	kid[0] = '\0';
	err = fl_paseto_peek_footer(&footer, &flen, token, token_len(token));
	if (err)
		goto out;
	err = FL_E_PASETO_FORMAT;
	if (flen == 0 || flen > FOOTER_MAX)
		goto out;
	j = json_loadb((const char *)footer, flen, JSON_REJECT_DUPLICATES,
	               NULL);
	if (!json_is_object(j) || json_object_size(j) != 1)
		goto out;
	v = json_object_get(j, "kid");
	if (!json_is_string(v))
		goto out;
	s = json_string_value(v);
	slen = json_string_length(v);
	if (slen >= FL_KID_MAX || fl_paserk_pid_check(s, slen) != FL_OK)
		goto out;
	memcpy(kid, s, slen + 1);
	err = FL_OK;
out:
	json_decref(j);
	free(footer);
	return err;
}

/* --- small strict JSON helpers -------------------------------------------- */

/* True if every key of obj is one of keys[n]. */
static bool only_keys(const json_t *obj, const char *const *keys, size_t n)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)obj, k, v)
	{
		size_t i;

		(void)v;
		for (i = 0; i < n; i++) {
			if (strcmp(k, keys[i]) == 0)
				break;
		}
		if (i == n)
			return false;
	}
	return true;
}

/* A string member of at most max bytes; NULL if absent, not a string or too
 * long. jansson never yields a string with an embedded NUL here because
 * documents are parsed without JSON_ALLOW_NUL. */
static const char *get_str(const json_t *obj, const char *key, size_t max)
{
	const json_t *v = json_object_get(obj, key);

	if (!json_is_string(v) || json_string_length(v) > max)
		return NULL;
	return json_string_value(v);
}

static fl_err get_time(const json_t *obj, const char *key, fl_time *t)
{
	const char *s = get_str(obj, key, 64);

	if (s == NULL || fl_time_parse(s, strlen(s), t) != FL_OK)
		return FL_E_CLAIMS;
	return FL_OK;
}

/* Sets key to the canonical RFC 3339 form of t. */
static fl_err set_time(json_t *obj, const char *key, fl_time t)
{
	char buf[FL_TIME_STR_LEN];

	if (t < FL_TIME_MIN || t > FL_TIME_MAX)
		return FL_E_RANGE;
	fl_time_format(t, buf);
	return json_object_set_new(obj, key, json_string(buf)) == 0
	               ? FL_OK
	               : FL_E_NOMEM;
}

static fl_err set_str(json_t *obj, const char *key, const char *s)
{
	return json_object_set_new(obj, key, json_string(s)) == 0 ? FL_OK
	                                                          : FL_E_NOMEM;
}

/* Compact JSON of obj into *out (caller frees). */
static fl_err dump(const json_t *obj, char **out)
{
	*out = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
	return *out != NULL ? FL_OK : FL_E_NOMEM;
}

/* True if s[len] is well-formed UTF-8 (no overlongs, surrogates or code
 * points past U+10FFFF), as JSON text must be. */
static bool utf8_ok(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		unsigned c = p[i], need;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (len - i <= need)
			return false;
		for (unsigned k = 1; k <= need; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += need + 1;
	}
	return true;
}

/* A claims string: present, at most FL_CLAIMS_MAX_TEXT bytes, UTF-8. */
static bool text_ok(const char *s)
{
	size_t n;

	if (s == NULL)
		return false;
	n = strnlen(s, FL_CLAIMS_MAX_TEXT + 1);
	return n <= FL_CLAIMS_MAX_TEXT && utf8_ok(s, n);
}

/* --- root-signed messages ------------------------------------------------- */

static fl_err keycert_issue(char **out, const struct fl_signer *root,
                            const uint8_t pk[FL_SIGN_PK_LEN],
                            fl_time not_after, enum fl_msg_kind kind)
{
	char kid[FL_PASERK_PID_SIZE], pub[FL_PASERK_PUBLIC_SIZE];
	char *payload = NULL;
	json_t *j = NULL;
	fl_err err;

	*out = NULL;
	err = fl_paserk_pid(kid, pk);
	if (err)
		goto out;
	err = fl_paserk_public_encode(pub, pk);
	if (err)
		goto out;
	err = FL_E_NOMEM;
	j = json_object();
	if (j == NULL)
		goto out;
	if ((err = set_str(j, "kid", kid)) || (err = set_str(j, "pk", pub)) ||
	    (err = set_time(j, "not_after", not_after)) ||
	    (err = dump(j, &payload)))
		goto out;
	err = fl_msg_sign(out, root, kind, payload, strlen(payload));
out:
	free(payload);
	json_decref(j);
	return err;
}

fl_err fl_keycert_issue(char **out, const struct fl_signer *root,
                        const uint8_t pk[FL_SIGN_PK_LEN], fl_time not_after)
{
	return keycert_issue(out, root, pk, not_after, FL_MSG_KEY_CERT);
}

fl_err fl_webhook_keycert_issue(char **out, const struct fl_signer *root,
                                const uint8_t pk[FL_SIGN_PK_LEN],
                                fl_time not_after)
{
	return keycert_issue(out, root, pk, not_after,
	                     FL_MSG_WEBHOOK_KEY_CERT);
}

fl_err fl_webhook_keycert_verify(const uint8_t root_pk[FL_SIGN_PK_LEN],
                                 const char *cert, fl_time now,
                                 uint8_t pk[FL_SIGN_PK_LEN])
{
	const char *implicit = fl_msg_implicit(FL_MSG_WEBHOOK_KEY_CERT);
	char kid[FL_KID_MAX];
	const char *s, *certified;
	fl_time not_after = 0;
	uint8_t *m = NULL;
	size_t mlen = 0;
	json_t *j = NULL;
	fl_err err;

	memset(pk, 0, FL_SIGN_PK_LEN);
	err = fl_paseto_verify(&m, &mlen, NULL, NULL, cert, token_len(cert),
	                       root_pk, implicit, strlen(implicit));
	if (err)
		return err;
	j = json_loadb((const char *)m, mlen, JSON_REJECT_DUPLICATES, NULL);
	s = get_str(j, "pk", 128);
	certified = get_str(j, "kid", FL_KID_MAX);
	if (s == NULL || certified == NULL ||
	    get_time(j, "not_after", &not_after) != FL_OK ||
	    fl_paserk_public_decode(pk, s, strlen(s)) != FL_OK ||
	    fl_paserk_pid(kid, pk) != FL_OK || strcmp(kid, certified) != 0) {
		err = FL_E_CLAIMS;
		goto out;
	}
	if (not_after <= now)
		err = FL_E_KEY_EXPIRED;
out:
	if (err != FL_OK)
		memset(pk, 0, FL_SIGN_PK_LEN);
	json_decref(j);
	free(m);
	return err;
}

fl_err fl_revocation_issue(char **out, const struct fl_signer *root,
                           const char *kid, fl_time at)
{
	char *payload = NULL;
	json_t *j = NULL;
	fl_err err;

	*out = NULL;
	err = fl_paserk_pid_check(kid, strnlen(kid, FL_KID_MAX));
	if (err)
		goto out;
	err = FL_E_NOMEM;
	j = json_object();
	if (j == NULL)
		goto out;
	if ((err = set_str(j, "revoke", kid)) ||
	    (err = set_time(j, "at", at)) || (err = dump(j, &payload)))
		goto out;
	err = fl_msg_sign(out, root, FL_MSG_KEY_REVOKE, payload,
	                  strlen(payload));
out:
	free(payload);
	json_decref(j);
	return err;
}

fl_err fl_seqreset_issue(char **out, const struct fl_signer *root,
                         const char *device_id, uint64_t seq_floor, fl_time iat)
{
	char *payload = NULL;
	json_t *j = NULL;
	fl_err err;

	*out = NULL;
	if (!text_ok(device_id) || device_id[0] == '\0') {
		err = FL_E_INVALID;
		goto out;
	}
	if (seq_floor > (uint64_t)INT64_MAX) {
		err = FL_E_RANGE;
		goto out;
	}
	err = FL_E_NOMEM;
	j = json_object();
	if (j == NULL)
		goto out;
	if ((err = set_str(j, "sub", device_id)))
		goto out;
	if (json_object_set_new(j, "seq_floor",
	                        json_integer((json_int_t)seq_floor)) != 0) {
		err = FL_E_NOMEM;
		goto out;
	}
	if ((err = set_time(j, "iat", iat)) || (err = dump(j, &payload)))
		goto out;
	err = fl_msg_sign(out, root, FL_MSG_SEQ_RESET, payload,
	                  strlen(payload));
out:
	free(payload);
	json_decref(j);
	return err;
}

/* --- trust sets ----------------------------------------------------------- */

fl_err fl_trust_new(struct fl_trust **out,
                    const uint8_t root_pk[FL_SIGN_PK_LEN])
{
	struct fl_trust *t;
	fl_err err;

	*out = NULL;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return FL_E_NOMEM;
	memcpy(t->root_pk, root_pk, FL_SIGN_PK_LEN);
	err = fl_paserk_pid(t->root_kid, root_pk);
	if (err) {
		free(t);
		return err;
	}
	*out = t;
	return FL_OK;
}

void fl_trust_free(struct fl_trust *t)
{
	free(t);
}

const char *fl_trust_root_kid(const struct fl_trust *t)
{
	return t->root_kid;
}

static const struct revoked_kid *find_revoked(const struct fl_trust *t,
                                              const char *kid)
{
	for (size_t i = 0; i < t->n_revoked; i++) {
		if (strcmp(t->revoked[i].kid, kid) == 0)
			return &t->revoked[i];
	}
	return NULL;
}

static struct trusted_key *find_key(const struct fl_trust *t, const char *kid)
{
	for (size_t i = 0; i < t->n_keys; i++) {
		if (strcmp(t->keys[i].kid, kid) == 0)
			return (struct trusted_key *)&t->keys[i];
	}
	return NULL;
}

static void remove_key(struct fl_trust *t, struct trusted_key *k)
{
	size_t i = (size_t)(k - t->keys);

	memmove(&t->keys[i], &t->keys[i + 1],
	        (t->n_keys - i - 1) * sizeof(t->keys[0]));
	t->n_keys--;
}

/* Picks the public key that must have signed a `kind` token carrying kid,
 * judging only by the kid: this runs before any signature is checked. */
static fl_err select_key(const struct fl_trust *t, enum fl_msg_kind kind,
                         const char *kid, fl_time now, const uint8_t **pk)
{
	const struct trusted_key *k;

	*pk = NULL;
	if (root_signed(kind)) {
		if (strcmp(kid, t->root_kid) != 0)
			return FL_E_UNKNOWN_KID;
		*pk = t->root_pk;
		return FL_OK;
	}
	/* The root certifies keys; it never speaks to devices directly. */
	if (strcmp(kid, t->root_kid) == 0)
		return FL_E_UNKNOWN_KID;
	if (find_revoked(t, kid) != NULL)
		return FL_E_KEY_REVOKED;
	k = find_key(t, kid);
	if (k == NULL)
		return FL_E_UNKNOWN_KID;
	if (now > k->not_after)
		return FL_E_KEY_EXPIRED;
	*pk = k->pk;
	return FL_OK;
}

fl_err fl_trust_verify(const struct fl_trust *t, enum fl_msg_kind kind,
                       const char *token, fl_time now, char **payload,
                       size_t *len)
{
	char kid[FL_KID_MAX];
	const char *implicit = fl_msg_implicit(kind);
	const uint8_t *pk = NULL;
	uint8_t *m = NULL;
	size_t mlen = 0;
	fl_err err;

	*payload = NULL;
	*len = 0;
	if (implicit == NULL)
		return FL_E_INVALID;
	err = fl_msg_peek_kid(token, kid);
	if (err)
		return err;
	err = select_key(t, kind, kid, now, &pk);
	if (err)
		return err;
	err = fl_paseto_verify(&m, &mlen, NULL, NULL, token, token_len(token),
	                       pk, implicit, strlen(implicit));
	if (err)
		return err;
	*payload = (char *)m;
	*len = mlen;
	return FL_OK;
}

/* Verifies a root-signed token of kind and parses its payload as a JSON
 * object whose keys are all among keys[n]; *obj is the caller's. */
static fl_err verify_root_json(const struct fl_trust *t, enum fl_msg_kind kind,
                               const char *token, const char *const *keys,
                               size_t n, json_t **obj)
{
	char *payload = NULL;
	size_t len = 0;
	json_t *j = NULL;
	fl_err err;

	*obj = NULL;
	/* Root keys do not expire, so the time does not matter here. */
	err = fl_trust_verify(t, kind, token, 0, &payload, &len);
	if (err)
		goto out;
	j = json_loadb(payload, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(j) || json_object_size(j) != n ||
	    !only_keys(j, keys, n)) {
		err = FL_E_CLAIMS;
		goto out;
	}
	*obj = j;
	j = NULL;
out:
	json_decref(j);
	free(payload);
	return err;
}

fl_err fl_trust_add_cert(struct fl_trust *t, const char *cert, fl_time now,
                         char kid_out[FL_KID_MAX])
{
	static const char *const keys[] = {"kid", "pk", "not_after"};
	uint8_t pk[FL_SIGN_PK_LEN];
	char pid[FL_PASERK_PID_SIZE];
	const char *kid, *pub;
	fl_time not_after = 0;
	struct trusted_key *k;
	json_t *j = NULL;
	fl_err err;

	if (kid_out != NULL)
		kid_out[0] = '\0';
	err = verify_root_json(t, FL_MSG_KEY_CERT, cert, keys, 3, &j);
	if (err)
		goto out;
	kid = get_str(j, "kid", FL_KID_MAX - 1);
	pub = get_str(j, "pk", FL_PASERK_PUBLIC_SIZE);
	if (kid == NULL || pub == NULL ||
	    get_time(j, "not_after", &not_after) != FL_OK) {
		err = FL_E_CLAIMS;
		goto out;
	}
	err = fl_paserk_public_decode(pk, pub, strlen(pub));
	if (err)
		goto out;
	err = fl_paserk_pid(pid, pk);
	if (err)
		goto out;
	/* The certificate must name its key by that key's own id. */
	if (strcmp(pid, kid) != 0) {
		err = FL_E_KEY_FORMAT;
		goto out;
	}
	if (strcmp(kid, t->root_kid) == 0) {
		err = FL_E_INVALID;
		goto out;
	}
	if (find_revoked(t, kid) != NULL) {
		err = FL_E_KEY_REVOKED;
		goto out;
	}
	if (now > not_after) {
		err = FL_E_KEY_EXPIRED;
		goto out;
	}

	k = find_key(t, kid);
	if (k != NULL) {
		/* A renewed certificate extends the key; an older one
		 * never shortens it. */
		if (not_after > k->not_after)
			k->not_after = not_after;
	} else {
		for (size_t i = t->n_keys; i-- > 0;) {
			if (now > t->keys[i].not_after)
				remove_key(t, &t->keys[i]);
		}
		if (t->n_keys == TRUST_MAX_KEYS) {
			err = FL_E_TOO_LARGE;
			goto out;
		}
		k = &t->keys[t->n_keys++];
		memcpy(k->kid, kid, strlen(kid) + 1);
		memcpy(k->pk, pk, sizeof(pk));
		k->not_after = not_after;
	}
	if (kid_out != NULL)
		memcpy(kid_out, kid, strlen(kid) + 1);
out:
	json_decref(j);
	return err;
}

fl_err fl_trust_add_revocation(struct fl_trust *t, const char *revocation)
{
	static const char *const keys[] = {"revoke", "at"};
	const char *kid;
	fl_time at = 0;
	struct trusted_key *k;
	struct revoked_kid *r;
	json_t *j = NULL;
	fl_err err;

	err = verify_root_json(t, FL_MSG_KEY_REVOKE, revocation, keys, 2, &j);
	if (err)
		goto out;
	kid = get_str(j, "revoke", FL_KID_MAX - 1);
	if (kid == NULL || fl_paserk_pid_check(kid, strlen(kid)) != FL_OK ||
	    get_time(j, "at", &at) != FL_OK) {
		err = FL_E_CLAIMS;
		goto out;
	}
	/* The root is the firmware's anchor; a message cannot retire it. */
	if (strcmp(kid, t->root_kid) == 0) {
		err = FL_E_INVALID;
		goto out;
	}
	if (find_revoked(t, kid) != NULL)
		goto out;
	if (t->n_revoked == TRUST_MAX_REVOKED) {
		err = FL_E_TOO_LARGE;
		goto out;
	}
	r = &t->revoked[t->n_revoked++];
	memcpy(r->kid, kid, strlen(kid) + 1);
	r->at = at;
	k = find_key(t, kid);
	if (k != NULL)
		remove_key(t, k);
out:
	json_decref(j);
	return err;
}

fl_err fl_trust_verify_seqreset(const struct fl_trust *t, const char *token,
                                const char *device_id, uint64_t *seq_floor)
{
	static const char *const keys[] = {"sub", "seq_floor", "iat"};
	const char *sub;
	const json_t *floor;
	fl_time iat = 0;
	json_t *j = NULL;
	fl_err err;

	*seq_floor = 0;
	err = verify_root_json(t, FL_MSG_SEQ_RESET, token, keys, 3, &j);
	if (err)
		goto out;
	sub = get_str(j, "sub", FL_CLAIMS_MAX_TEXT);
	floor = json_object_get(j, "seq_floor");
	if (sub == NULL || !json_is_integer(floor) ||
	    json_integer_value(floor) < 0 ||
	    get_time(j, "iat", &iat) != FL_OK) {
		err = FL_E_CLAIMS;
		goto out;
	}
	if (device_id == NULL || strcmp(sub, device_id) != 0) {
		err = FL_E_WRONG_SUBJECT;
		goto out;
	}
	*seq_floor = (uint64_t)json_integer_value(floor);
out:
	json_decref(j);
	return err;
}

/* --- device claims -------------------------------------------------------- */


const char *fl_claim_cause_name(enum fl_claim_cause c)
{
	static const char *const names[] = {
	        [FL_CLAIM_CAUSE_OVERDUE] = "overdue",
	        [FL_CLAIM_CAUSE_OFFLINE] = "offline",
	        [FL_CLAIM_CAUSE_LENDER] = "lender",
	        [FL_CLAIM_CAUSE_STOLEN] = "stolen",
	};

	if ((unsigned)c >= sizeof(names) / sizeof(names[0]))
		return NULL;
	return names[c];
}

static bool currency_ok(const char *c)
{
	if (c[0] == '\0')
		return true;
	for (int i = 0; i < 3; i++) {
		if (c[i] < 'A' || c[i] > 'Z')
			return false;
	}
	return c[3] == '\0';
}

/* Device tokens carry one of the states a device can be told to enforce. */
static bool token_state_ok(enum fl_dev_state st)
{
	return st == FL_ST_ACTIVE || st == FL_ST_REMINDING ||
	       st == FL_ST_LOCKED || st == FL_ST_RELEASED;
}

static bool time_ok(fl_time t)
{
	return t >= FL_TIME_MIN && t <= FL_TIME_MAX;
}

static bool imei_ok(const char *s, size_t len)
{
	char canon[FL_IMEI_LEN + 1];

	/* Only the canonical 15 digits: separators are for people. */
	return len == FL_IMEI_LEN && fl_imei_parse(s, len, canon) == FL_OK &&
	       memcmp(canon, s, FL_IMEI_LEN) == 0;
}

static bool list_ok(char *const *v, size_t n, bool nonempty)
{
	if (n > FL_CLAIMS_MAX_LIST || (n > 0 && v == NULL))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!text_ok(v[i]) || (nonempty && v[i][0] == '\0'))
			return false;
	}
	return true;
}

/* Everything fl_claims_decode would refuse, refused before encoding too, so
 * that whatever is encoded decodes. */
static fl_err claims_valid(const struct fl_device_claims *c)
{
	if (!text_ok(c->sub) || c->sub[0] == '\0')
		return FL_E_CLAIMS;
	if (c->n_imei < 1 || c->n_imei > 2)
		return FL_E_CLAIMS;
	for (size_t i = 0; i < c->n_imei; i++) {
		if (!imei_ok(c->imei[i], strnlen(c->imei[i], FL_IMEI_LEN + 1)))
			return FL_E_CLAIMS;
	}
	if (c->seq > (uint64_t)INT64_MAX)
		return FL_E_CLAIMS;
	if (!time_ok(c->iat) || !time_ok(c->exp) || c->exp < c->iat)
		return FL_E_CLAIMS;
	if (!token_state_ok(c->state))
		return FL_E_CLAIMS;
	if (c->lock_at != 0 && !time_ok(c->lock_at))
		return FL_E_CLAIMS;
	if (fl_restrict_check_mask(c->restrict_mask) != FL_OK)
		return FL_E_CLAIMS;
	if (!list_ok(c->allow_apps, c->n_allow_apps, true))
		return FL_E_CLAIMS;
	if ((c->message != NULL && !text_ok(c->message)) ||
	    (c->contact_name != NULL && !text_ok(c->contact_name)) ||
	    (c->loan_ref != NULL && !text_ok(c->loan_ref)))
		return FL_E_CLAIMS;
	if (!list_ok(c->contact_phones, c->n_contact_phones, true))
		return FL_E_CLAIMS;
	if (c->amount_due < 0)
		return FL_E_CLAIMS;
	if (memchr(c->currency, '\0', sizeof(c->currency)) == NULL ||
	    !currency_ok(c->currency))
		return FL_E_CLAIMS;
	if (c->n_reminders > FL_CLAIMS_MAX_LIST ||
	    (c->n_reminders > 0 && c->reminders == NULL))
		return FL_E_CLAIMS;
	for (size_t i = 0; i < c->n_reminders; i++) {
		if (!time_ok(c->reminders[i].at) ||
		    !text_ok(c->reminders[i].text))
			return FL_E_CLAIMS;
	}
	if (fl_reaction_name(c->sim_policy) == NULL ||
	    fl_reaction_name(c->tamper_policy) == NULL)
		return FL_E_CLAIMS;
	if (c->lock_cause != FL_CLAIM_CAUSE_NONE &&
	    fl_claim_cause_name(c->lock_cause) == NULL)
		return FL_E_CLAIMS;
	if (c->lock_reason_text != NULL &&
	    (!text_ok(c->lock_reason_text) || c->lock_reason_text[0] == '\0'))
		return FL_E_CLAIMS;
	return FL_OK;
}

/* --- the claims' JSON, written directly --------------------------------------
 *
 * The compact JSON jansson's json_dumps(JSON_COMPACT | JSON_PRESERVE_ORDER)
 * writes for the same members in the same order, byte for byte (tokens
 * signed before and after read the same; test_token checks it against
 * jansson), without building a tree: a token is signed for every phone
 * whose seq moves, so this runs for each of a sweep's decisions. Strings
 * were checked by claims_valid (UTF-8, bounded); escaped as jansson does:
 * the quote, the backslash and control characters, nothing else. */

struct out {
	char *p;
	size_t n, cap;
	bool oom;
};

static void out_room(struct out *o, size_t more)
{
	char *q;
	size_t cap;

	if (o->oom || o->n + more < o->cap)
		return;
	cap = o->cap;
	while (cap <= o->n + more)
		cap *= 2;
	q = realloc(o->p, cap);
	if (q == NULL) {
		o->oom = true;
		return;
	}
	o->p = q;
	o->cap = cap;
}

static void out_put(struct out *o, const char *s, size_t n)
{
	out_room(o, n);
	if (o->oom)
		return;
	memcpy(o->p + o->n, s, n);
	o->n += n;
}

#define OUT_LIT(o, lit) out_put((o), (lit), sizeof(lit) - 1)

static void out_str(struct out *o, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = (const unsigned char *)s;

	out_put(o, "\"", 1);
	while (*p != '\0') {
		const unsigned char *run = p;
		char esc[6];
		size_t en = 2;

		while (*p >= 0x20 && *p != '"' && *p != '\\')
			p++;
		out_put(o, (const char *)run, (size_t)(p - run));
		if (*p == '\0')
			break;
		esc[0] = '\\';
		switch (*p) {
		case '"':
		case '\\':
			esc[1] = (char)*p;
			break;
		case '\b':
			esc[1] = 'b';
			break;
		case '\f':
			esc[1] = 'f';
			break;
		case '\n':
			esc[1] = 'n';
			break;
		case '\r':
			esc[1] = 'r';
			break;
		case '\t':
			esc[1] = 't';
			break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[*p >> 4];
			esc[5] = hex[*p & 15];
			en = 6;
			break;
		}
		out_put(o, esc, en);
		p++;
	}
	out_put(o, "\"", 1);
}

/* ,"key": (the comma unless first) */
static void out_key(struct out *o, const char *key, bool first)
{
	if (!first)
		out_put(o, ",", 1);
	out_str(o, key);
	out_put(o, ":", 1);
}

static void out_u64(struct out *o, uint64_t v)
{
	char b[20];
	size_t i = sizeof(b);

	do {
		b[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	out_put(o, b + i, sizeof(b) - i);
}

static void out_time(struct out *o, fl_time t)
{
	char buf[FL_TIME_STR_LEN];

	fl_time_format(t, buf);
	out_str(o, buf);
}

static void out_list(struct out *o, char *const *v, size_t n)
{
	out_put(o, "[", 1);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			out_put(o, ",", 1);
		out_str(o, v[i]);
	}
	out_put(o, "]", 1);
}

struct names {
	struct out *o;
	bool first;
};

static void out_name(const char *name, void *ctx)
{
	struct names *nm = ctx;

	if (!nm->first)
		out_put(nm->o, ",", 1);
	nm->first = false;
	out_str(nm->o, name);
}

static void encode_claims(const struct fl_device_claims *c, struct out *o)
{
	struct names nm = {o, true};

	out_put(o, "{", 1);
	out_key(o, "sub", true);
	out_str(o, c->sub);
	out_key(o, "imei", false);
	out_put(o, "[", 1);
	for (size_t i = 0; i < c->n_imei; i++) {
		if (i > 0)
			out_put(o, ",", 1);
		out_str(o, c->imei[i]);
	}
	out_put(o, "]", 1);
	out_key(o, "seq", false);
	out_u64(o, c->seq);
	out_key(o, "iat", false);
	out_time(o, c->iat);
	out_key(o, "exp", false);
	out_time(o, c->exp);
	out_key(o, "state", false);
	out_str(o, fl_state_name(c->state));
	out_key(o, "stolen", false);
	if (c->stolen)
		OUT_LIT(o, "true");
	else
		OUT_LIT(o, "false");
	if (c->lock_at != 0) {
		out_key(o, "lock_at", false);
		out_time(o, c->lock_at);
	}
	out_key(o, "restrict", false);
	out_put(o, "[", 1);
	fl_restrict_each(c->restrict_mask, out_name, &nm);
	out_put(o, "]", 1);
	out_key(o, "allow_apps", false);
	out_list(o, c->allow_apps, c->n_allow_apps);
	if (c->message != NULL) {
		out_key(o, "message", false);
		out_str(o, c->message);
	}
	if (c->contact_name != NULL || c->n_contact_phones > 0) {
		out_key(o, "contact", false);
		out_put(o, "{", 1);
		if (c->contact_name != NULL) {
			out_key(o, "name", true);
			out_str(o, c->contact_name);
		}
		out_key(o, "phones", c->contact_name == NULL);
		out_list(o, c->contact_phones, c->n_contact_phones);
		out_put(o, "}", 1);
	}
	if (c->loan_ref != NULL) {
		out_key(o, "loan_ref", false);
		out_str(o, c->loan_ref);
	}
	out_key(o, "amount_due", false);
	out_u64(o, (uint64_t)c->amount_due); /* claims_valid: >= 0 */
	if (c->currency[0] != '\0') {
		out_key(o, "currency", false);
		out_str(o, c->currency);
	}
	out_key(o, "reminders", false);
	out_put(o, "[", 1);
	for (size_t i = 0; i < c->n_reminders; i++) {
		if (i > 0)
			out_put(o, ",", 1);
		out_put(o, "{", 1);
		out_key(o, "at", true);
		out_time(o, c->reminders[i].at);
		out_key(o, "text", false);
		out_str(o, c->reminders[i].text);
		out_put(o, "}", 1);
	}
	out_put(o, "]", 1);
	out_key(o, "sim_policy", false);
	out_str(o, fl_reaction_name(c->sim_policy));
	out_key(o, "tamper_policy", false);
	out_str(o, fl_reaction_name(c->tamper_policy));
	if (c->lock_cause != FL_CLAIM_CAUSE_NONE) {
		out_key(o, "lock_cause", false);
		out_str(o, fl_claim_cause_name(c->lock_cause));
	}
	if (c->lock_reason_text != NULL) {
		out_key(o, "lock_reason_text", false);
		out_str(o, c->lock_reason_text);
	}
	out_put(o, "}", 1);
	out_put(o, "", 1); /* the NUL */
}

fl_err fl_claims_encode(const struct fl_device_claims *c, char **json)
{
	struct out o = {NULL, 0, 1024, false};
	fl_err err;

	*json = NULL;
	if ((err = claims_valid(c)) != FL_OK)
		return err;
	o.p = malloc(o.cap);
	if (o.p == NULL)
		return FL_E_NOMEM;
	encode_claims(c, &o);
	if (o.oom) {
		free(o.p);
		return FL_E_NOMEM;
	}
	*json = o.p;
	return FL_OK;
}

/* Nesting depth of a JSON text, counted outside strings, stopping as soon as
 * it passes max: bounds the parser's recursion before it runs. */
static bool depth_ok(const char *s, size_t len, int max)
{
	int depth = 0;
	bool in_str = false;

	for (size_t i = 0; i < len; i++) {
		char ch = s[i];

		if (in_str) {
			if (ch == '\\')
				i++;
			else if (ch == '"')
				in_str = false;
		} else if (ch == '"') {
			in_str = true;
		} else if (ch == '{' || ch == '[') {
			if (++depth > max)
				return false;
		} else if (ch == '}' || ch == ']') {
			depth--;
		}
	}
	return true;
}

/* A copy of a string member (at most FL_CLAIMS_MAX_TEXT bytes) into *out,
 * which the claims own. Absent members leave *out NULL. */
static fl_err dup_text(const json_t *obj, const char *key, bool nonempty,
                       char **out)
{
	const json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (v == NULL)
		return FL_OK;
	if (!json_is_string(v) || json_string_length(v) > FL_CLAIMS_MAX_TEXT ||
	    (nonempty && json_string_length(v) == 0))
		return FL_E_CLAIMS;
	*out = strdup(json_string_value(v));
	return *out != NULL ? FL_OK : FL_E_NOMEM;
}

/* An optional array of non-empty strings into a fresh vector. */
static fl_err dup_text_list(const json_t *obj, const char *key, char ***out,
                            size_t *n)
{
	const json_t *arr = json_object_get(obj, key);
	size_t count;

	*out = NULL;
	*n = 0;
	if (arr == NULL)
		return FL_OK;
	if (!json_is_array(arr) || json_array_size(arr) > FL_CLAIMS_MAX_LIST)
		return FL_E_CLAIMS;
	count = json_array_size(arr);
	if (count == 0)
		return FL_OK;
	*out = calloc(count, sizeof(**out));
	if (*out == NULL)
		return FL_E_NOMEM;
	for (size_t i = 0; i < count; i++) {
		const json_t *v = json_array_get(arr, i);

		if (!json_is_string(v) || json_string_length(v) == 0 ||
		    json_string_length(v) > FL_CLAIMS_MAX_TEXT)
			return FL_E_CLAIMS;
		(*out)[i] = strdup(json_string_value(v));
		if ((*out)[i] == NULL)
			return FL_E_NOMEM;
		(*n)++;
	}
	return FL_OK;
}

static fl_err decode_imeis(const json_t *j, struct fl_device_claims *c)
{
	const json_t *arr = json_object_get(j, "imei");

	if (!json_is_array(arr) || json_array_size(arr) < 1 ||
	    json_array_size(arr) > 2)
		return FL_E_CLAIMS;
	for (size_t i = 0; i < json_array_size(arr); i++) {
		const json_t *v = json_array_get(arr, i);

		if (!json_is_string(v) ||
		    !imei_ok(json_string_value(v), json_string_length(v)))
			return FL_E_CLAIMS;
		memcpy(c->imei[i], json_string_value(v), FL_IMEI_LEN + 1);
		c->n_imei++;
	}
	return FL_OK;
}

static fl_err decode_restrict(const json_t *j, struct fl_device_claims *c)
{
	const json_t *arr = json_object_get(j, "restrict");

	if (arr == NULL)
		return FL_OK;
	if (!json_is_array(arr) || json_array_size(arr) > FL_CLAIMS_MAX_LIST)
		return FL_E_CLAIMS;
	for (size_t i = 0; i < json_array_size(arr); i++) {
		const json_t *v = json_array_get(arr, i);
		uint64_t bit = 0;
		fl_err err;

		if (!json_is_string(v))
			return FL_E_CLAIMS;
		err = fl_restrict_parse(json_string_value(v),
		                        json_string_length(v), &bit);
		/* A token that restricts a guaranteed capability is refused
		 * as such: the customer's guarantees are not negotiable. */
		if (err == FL_E_RESTRICT_GUARANTEED)
			return err;
		if (err)
			return FL_E_CLAIMS;
		c->restrict_mask |= bit;
	}
	return FL_OK;
}

static fl_err decode_contact(const json_t *j, struct fl_device_claims *c)
{
	static const char *const keys[] = {"name", "phones"};
	const json_t *contact = json_object_get(j, "contact");
	fl_err err;

	if (contact == NULL)
		return FL_OK;
	if (!json_is_object(contact) || !only_keys(contact, keys, 2))
		return FL_E_CLAIMS;
	err = dup_text(contact, "name", false, &c->contact_name);
	if (err)
		return err;
	return dup_text_list(contact, "phones", &c->contact_phones,
	                     &c->n_contact_phones);
}

static fl_err decode_reminders(const json_t *j, struct fl_device_claims *c)
{
	static const char *const keys[] = {"at", "text"};
	const json_t *arr = json_object_get(j, "reminders");
	size_t count;

	if (arr == NULL)
		return FL_OK;
	if (!json_is_array(arr) || json_array_size(arr) > FL_CLAIMS_MAX_LIST)
		return FL_E_CLAIMS;
	count = json_array_size(arr);
	if (count == 0)
		return FL_OK;
	c->reminders = calloc(count, sizeof(*c->reminders));
	if (c->reminders == NULL)
		return FL_E_NOMEM;
	for (size_t i = 0; i < count; i++) {
		const json_t *r = json_array_get(arr, i);
		struct fl_reminder *rem = &c->reminders[i];
		fl_err err;

		if (!json_is_object(r) || json_object_size(r) != 2 ||
		    !only_keys(r, keys, 2))
			return FL_E_CLAIMS;
		err = get_time(r, "at", &rem->at);
		if (err)
			return err;
		err = dup_text(r, "text", false, &rem->text);
		if (err)
			return err;
		c->n_reminders++;
	}
	return FL_OK;
}

static fl_err decode_reaction(const json_t *j, const char *key,
                              enum fl_reaction *r)
{
	const json_t *v = json_object_get(j, key);

	*r = FL_REACT_NONE;
	if (v == NULL)
		return FL_OK;
	if (!json_is_string(v) ||
	    fl_reaction_parse(json_string_value(v), r) != FL_OK)
		return FL_E_CLAIMS;
	return FL_OK;
}

static fl_err decode_claims(const json_t *j, struct fl_device_claims *c)
{
	const json_t *v;
	fl_err err;

	/* Members this build does not read are a newer server's: ignored. */
	if (!json_is_object(j))
		return FL_E_CLAIMS;

	v = json_object_get(j, "sub");
	if (v == NULL)
		return FL_E_CLAIMS;
	if ((err = dup_text(j, "sub", true, &c->sub)))
		return err;
	if ((err = decode_imeis(j, c)))
		return err;
	v = json_object_get(j, "seq");
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return FL_E_CLAIMS;
	c->seq = (uint64_t)json_integer_value(v);
	if ((err = get_time(j, "iat", &c->iat)) ||
	    (err = get_time(j, "exp", &c->exp)))
		return err;
	if (c->exp < c->iat)
		return FL_E_CLAIMS;
	v = json_object_get(j, "state");
	if (!json_is_string(v) ||
	    fl_state_parse(json_string_value(v), &c->state) != FL_OK ||
	    !token_state_ok(c->state))
		return FL_E_CLAIMS;

	v = json_object_get(j, "stolen");
	if (v != NULL && !json_is_boolean(v))
		return FL_E_CLAIMS;
	c->stolen = json_is_true(v);
	v = json_object_get(j, "lock_at");
	if (v != NULL && !json_is_null(v)) {
		/* 0 means "no lock"; a lock at the epoch itself cannot be
		 * told from none, so it is refused rather than dropped. */
		if ((err = get_time(j, "lock_at", &c->lock_at)))
			return err;
		if (c->lock_at == 0)
			return FL_E_CLAIMS;
	}
	if ((err = decode_restrict(j, c)))
		return err;
	if ((err = dup_text_list(j, "allow_apps", &c->allow_apps,
	                         &c->n_allow_apps)))
		return err;
	if ((err = dup_text(j, "message", false, &c->message)))
		return err;
	if ((err = decode_contact(j, c)))
		return err;
	if ((err = dup_text(j, "loan_ref", false, &c->loan_ref)))
		return err;
	v = json_object_get(j, "amount_due");
	if (v != NULL) {
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			return FL_E_CLAIMS;
		c->amount_due = (int64_t)json_integer_value(v);
	}
	v = json_object_get(j, "currency");
	if (v != NULL) {
		if (!json_is_string(v) || json_string_length(v) != 3 ||
		    !currency_ok(json_string_value(v)))
			return FL_E_CLAIMS;
		memcpy(c->currency, json_string_value(v), 4);
	}
	if ((err = decode_reminders(j, c)))
		return err;
	if ((err = decode_reaction(j, "sim_policy", &c->sim_policy)) ||
	    (err = decode_reaction(j, "tamper_policy", &c->tamper_policy)))
		return err;
	v = json_object_get(j, "lock_cause");
	if (v != NULL) {
		if (!json_is_string(v))
			return FL_E_CLAIMS;
		/* a cause a newer server names is read as none said */
		for (int k = FL_CLAIM_CAUSE_OVERDUE;
		     k <= FL_CLAIM_CAUSE_STOLEN; k++)
			if (strcmp(json_string_value(v),
			           fl_claim_cause_name(k)) == 0)
				c->lock_cause = (enum fl_claim_cause)k;
	}
	if ((err = dup_text(j, "lock_reason_text", true, &c->lock_reason_text)))
		return err;
	return FL_OK;
}

fl_err fl_claims_decode(const char *json, size_t len,
                        struct fl_device_claims *c)
{
	json_t *j = NULL;
	fl_err err;

	memset(c, 0, sizeof(*c));
	if (len > FL_PASETO_MAX_TOKEN) {
		err = FL_E_TOO_LARGE;
		goto out;
	}
	if (!depth_ok(json, len, CLAIMS_MAX_DEPTH)) {
		err = FL_E_CLAIMS;
		goto out;
	}
	j = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
	if (j == NULL) {
		err = FL_E_CLAIMS;
		goto out;
	}
	err = decode_claims(j, c);
out:
	json_decref(j);
	if (err)
		fl_claims_clear(c);
	return err;
}

void fl_claims_clear(struct fl_device_claims *c)
{
	if (c == NULL)
		return;
	free(c->sub);
	for (size_t i = 0; i < c->n_allow_apps; i++)
		free(c->allow_apps[i]);
	free(c->allow_apps);
	free(c->message);
	free(c->contact_name);
	for (size_t i = 0; i < c->n_contact_phones; i++)
		free(c->contact_phones[i]);
	free(c->contact_phones);
	free(c->loan_ref);
	for (size_t i = 0; i < c->n_reminders; i++)
		free(c->reminders[i].text);
	free(c->reminders);
	free(c->lock_reason_text);
	memset(c, 0, sizeof(*c));
}

fl_err fl_claims_check(const struct fl_device_claims *c,
                       const struct fl_claims_expect *e)
{
	int64_t skew = e->skew > 0 ? e->skew : 0;
	int64_t lo, hi;
	bool imei_match = false;

	if (c->sub == NULL || e->device_id == NULL ||
	    strcmp(c->sub, e->device_id) != 0)
		return FL_E_WRONG_SUBJECT;
	for (size_t i = 0; i < c->n_imei && i < 2 && e->imei != NULL; i++) {
		if (strcmp(c->imei[i], e->imei) == 0)
			imei_match = true;
	}
	if (!imei_match)
		return FL_E_WRONG_IMEI;
	if (c->seq <= e->last_seq)
		return FL_E_REPLAY;
	/* now + skew < iat and now - skew > exp, without overflow. */
	if (__builtin_add_overflow(e->now, skew, &hi))
		hi = INT64_MAX;
	if (__builtin_sub_overflow(e->now, skew, &lo))
		lo = INT64_MIN;
	if (hi < c->iat)
		return FL_E_NOT_YET_VALID;
	if (lo > c->exp)
		return FL_E_EXPIRED;
	return FL_OK;
}

fl_err fl_device_token_verify(const struct fl_trust *t, const char *token,
                              const struct fl_claims_expect *e,
                              struct fl_device_claims *c)
{
	char *payload = NULL;
	size_t len = 0;
	fl_err err;

	memset(c, 0, sizeof(*c));
	err = fl_trust_verify(t, FL_MSG_DEVICE_TOKEN, token, e->now, &payload,
	                      &len);
	if (err)
		goto out;
	err = fl_claims_decode(payload, len, c);
	if (err)
		goto out;
	err = fl_claims_check(c, e);
out:
	free(payload);
	if (err)
		fl_claims_clear(c);
	return err;
}
