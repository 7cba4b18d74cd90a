/* Unit tests for core/token: key ids in footers, trust sets (certificates,
 * revocations, root-only kinds), domain separation between kinds, seq
 * resets, and the device claims (strict JSON, checks, full verification). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/crypto.h"
#include "core/paserk.h"
#include "core/paseto.h"
#include "core/restrict.h"
#include "core/token.h"

#define IMEI_A "490154203237518"
#define IMEI_B "352099001761481"
#define IMEI_C "356938035643809"
#define NOW    ((fl_time)1795000000) /* 2026-11-18 */
#define YEAR   ((fl_time)365 * FL_DAY)

struct world {
	struct fl_signer root;   /* the operator's offline key */
	struct fl_signer signer; /* a certified online key */
	struct fl_trust *trust;  /* root + signer's certificate */
};

static struct world w;

static int setup(void **state)
{
	char *cert = NULL;

	(void)state;
	if (fl_crypto_init() != FL_OK)
		return -1;
	if (fl_signer_generate(&w.root) || fl_signer_generate(&w.signer) ||
	    fl_trust_new(&w.trust, w.root.pk))
		return -1;
	if (fl_keycert_issue(&cert, &w.root, w.signer.pk, NOW + YEAR) ||
	    fl_trust_add_cert(w.trust, cert, NOW, NULL)) {
		free(cert);
		return -1;
	}
	free(cert);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	fl_trust_free(w.trust);
	fl_signer_wipe(&w.root);
	fl_signer_wipe(&w.signer);
	return 0;
}

/* A fresh trust set holding only the root. */
static struct fl_trust *bare_trust(void)
{
	struct fl_trust *t = NULL;

	assert_int_equal(fl_trust_new(&t, w.root.pk), FL_OK);
	return t;
}

static char *certify(const struct fl_signer *s, fl_time not_after)
{
	char *cert = NULL;

	assert_int_equal(fl_keycert_issue(&cert, &w.root, s->pk, not_after),
	                 FL_OK);
	return cert;
}

static char *sign_str(const struct fl_signer *s, enum fl_msg_kind kind,
                      const char *payload)
{
	char *tok = NULL;

	assert_int_equal(fl_msg_sign(&tok, s, kind, payload, strlen(payload)),
	                 FL_OK);
	return tok;
}

static fl_err verify(const struct fl_trust *t, enum fl_msg_kind kind,
                     const char *tok, fl_time now)
{
	char *p = NULL;
	size_t len = 7;
	fl_err err = fl_trust_verify(t, kind, tok, now, &p, &len);

	if (err) {
		assert_null(p);
		assert_int_equal(len, 0);
	}
	free(p);
	return err;
}

/* Well-formed claims for device "dev-1"; the caller clears them. */
static void good_claims(struct fl_device_claims *c)
{
	memset(c, 0, sizeof(*c));
	c->sub = strdup("dev-1");
	memcpy(c->imei[0], IMEI_A, FL_IMEI_LEN + 1);
	memcpy(c->imei[1], IMEI_B, FL_IMEI_LEN + 1);
	c->n_imei = 2;
	c->seq = 42;
	c->iat = NOW;
	c->exp = NOW + 7 * FL_DAY;
	c->state = FL_ST_LOCKED;
	c->stolen = false;
	c->lock_at = NOW - 3600;
	c->restrict_mask = FL_R_CAMERA | FL_R_INSTALL_APPS | FL_R_SMS;
	c->n_allow_apps = 2;
	c->allow_apps = calloc(2, sizeof(char *));
	c->allow_apps[0] = strdup("lender.pay");
	c->allow_apps[1] = strdup("com.example.maps");
	c->message = strdup("This device is locked due to an overdue "
	                    "installment payment. \xe2\x82\xac / \"quoted\"");
	c->contact_name = strdup("Acme Finance");
	c->n_contact_phones = 2;
	c->contact_phones = calloc(2, sizeof(char *));
	c->contact_phones[0] = strdup("+254700000001");
	c->contact_phones[1] = strdup("+254700000002");
	c->loan_ref = strdup("LN-2026-0042");
	c->amount_due = 1500;
	memcpy(c->currency, "KES", 4);
	c->n_reminders = 2;
	c->reminders = calloc(2, sizeof(*c->reminders));
	c->reminders[0].at = NOW + FL_DAY;
	c->reminders[0].text = strdup("Installment due tomorrow");
	c->reminders[1].at = NOW + 2 * FL_DAY;
	c->reminders[1].text = strdup("");
	c->sim_policy = FL_REACT_NOTIFY;
	c->tamper_policy = FL_REACT_LOCK;
}

static struct fl_claims_expect good_expect(void)
{
	struct fl_claims_expect e = {
	        .device_id = "dev-1",
	        .imei = IMEI_B,
	        .last_seq = 41,
	        .now = NOW + 60,
	        .skew = 300,
	};
	return e;
}

static char *device_token(const struct fl_signer *s,
                          const struct fl_device_claims *c)
{
	char *json = NULL, *tok;

	assert_int_equal(fl_claims_encode(c, &json), FL_OK);
	tok = sign_str(s, FL_MSG_DEVICE_TOKEN, json);
	free(json);
	return tok;
}

static void assert_claims_equal(const struct fl_device_claims *a,
                                const struct fl_device_claims *b)
{
	assert_string_equal(a->sub, b->sub);
	assert_int_equal(a->n_imei, b->n_imei);
	for (size_t i = 0; i < a->n_imei; i++)
		assert_string_equal(a->imei[i], b->imei[i]);
	assert_int_equal(a->seq, b->seq);
	assert_int_equal(a->iat, b->iat);
	assert_int_equal(a->exp, b->exp);
	assert_int_equal(a->state, b->state);
	assert_int_equal(a->stolen, b->stolen);
	assert_int_equal(a->lock_at, b->lock_at);
	assert_int_equal(a->restrict_mask, b->restrict_mask);
	assert_int_equal(a->n_allow_apps, b->n_allow_apps);
	for (size_t i = 0; i < a->n_allow_apps; i++)
		assert_string_equal(a->allow_apps[i], b->allow_apps[i]);
	if (a->message == NULL)
		assert_null(b->message);
	else
		assert_string_equal(a->message, b->message);
	if (a->contact_name == NULL)
		assert_null(b->contact_name);
	else
		assert_string_equal(a->contact_name, b->contact_name);
	assert_int_equal(a->n_contact_phones, b->n_contact_phones);
	for (size_t i = 0; i < a->n_contact_phones; i++)
		assert_string_equal(a->contact_phones[i], b->contact_phones[i]);
	if (a->loan_ref == NULL)
		assert_null(b->loan_ref);
	else
		assert_string_equal(a->loan_ref, b->loan_ref);
	assert_int_equal(a->amount_due, b->amount_due);
	assert_string_equal(a->currency, b->currency);
	assert_int_equal(a->n_reminders, b->n_reminders);
	for (size_t i = 0; i < a->n_reminders; i++) {
		assert_int_equal(a->reminders[i].at, b->reminders[i].at);
		assert_string_equal(a->reminders[i].text, b->reminders[i].text);
	}
	assert_int_equal(a->sim_policy, b->sim_policy);
	assert_int_equal(a->tamper_policy, b->tamper_policy);
	assert_int_equal(a->lock_cause, b->lock_cause);
	if (a->lock_reason_text == NULL)
		assert_null(b->lock_reason_text);
	else
		assert_string_equal(a->lock_reason_text, b->lock_reason_text);
}

static void assert_cleared(const struct fl_device_claims *c)
{
	static const struct fl_device_claims zero;

	assert_memory_equal(c, &zero, sizeof(zero));
}

/* --- kinds, signers, footers ---------------------------------------------- */

static void test_implicit_names(void **state)
{
	(void)state;
	assert_string_equal(fl_msg_implicit(FL_MSG_DEVICE_TOKEN),
	                    "finlock:device-token");
	assert_string_equal(fl_msg_implicit(FL_MSG_ENROLL), "finlock:enroll");
	assert_string_equal(fl_msg_implicit(FL_MSG_LOOKUP), "finlock:lookup");
	assert_string_equal(fl_msg_implicit(FL_MSG_IMEI_CERT),
	                    "finlock:imei-certificate");
	assert_string_equal(fl_msg_implicit(FL_MSG_RELEASE_RECEIPT),
	                    "finlock:release-receipt");
	assert_string_equal(fl_msg_implicit(FL_MSG_KEY_CERT),
	                    "finlock:key-cert");
	assert_string_equal(fl_msg_implicit(FL_MSG_KEY_REVOKE),
	                    "finlock:key-revoke");
	assert_string_equal(fl_msg_implicit(FL_MSG_SEQ_RESET),
	                    "finlock:seq-reset");
	assert_string_equal(fl_msg_implicit(FL_MSG_AUDIT_HEAD),
	                    "finlock:audit-head");
	assert_null(fl_msg_implicit(FL_MSG__COUNT));
	assert_null(fl_msg_implicit((enum fl_msg_kind) - 1));
}

static void test_signer_paserk(void **state)
{
	/* PASERK k4.secret-2 and its public key. */
	const char *sec =
	        "k4.secret.cHFyc3R1dnd4eXp7fH1-f4CBgoOEhYaHiImKi4yNjo8"
	        "c5WpIyC_5kWKhS8VEYSZ05dYfuTF-ZdQFV4D9vLTcNQ";
	uint8_t pk[FL_SIGN_PK_LEN];
	char pid[FL_PASERK_PID_SIZE];
	struct fl_signer s;

	(void)state;
	assert_int_equal(fl_hex_decode(pk, sizeof(pk),
	                               "1ce56a48c82ff99162a14bc544612674e5d61f"
	                               "b9317e65d4055780fdbcb4dc35",
	                               64),
	                 FL_OK);
	assert_int_equal(fl_signer_from_paserk(&s, sec), FL_OK);
	assert_memory_equal(s.pk, pk, sizeof(pk));
	assert_int_equal(fl_paserk_pid(pid, pk), FL_OK);
	assert_string_equal(s.kid, pid);
	fl_signer_wipe(&s);
	assert_int_equal(s.sk[0] | s.sk[63] | s.kid[0], 0);

	/* public half not matching the seed */
	char bad[FL_PASERK_SECRET_SIZE];
	memcpy(bad, sec, sizeof(bad));
	bad[60] = bad[60] == 'A' ? 'B' : 'A';
	memset(&s, 0x55, sizeof(s));
	assert_int_equal(fl_signer_from_paserk(&s, bad), FL_E_KEY_FORMAT);
	assert_int_equal(s.sk[0] | s.sk[40] | s.pk[0] | s.kid[0], 0);
	assert_int_not_equal(fl_signer_from_paserk(&s, "k4.public.AAAA"),
	                     FL_OK);

	/* generated signers are distinct and named by their pid */
	assert_string_not_equal(w.root.kid, w.signer.kid);
	assert_int_equal(fl_paserk_pid(pid, w.signer.pk), FL_OK);
	assert_string_equal(w.signer.kid, pid);
	assert_string_equal(fl_trust_root_kid(w.trust), w.root.kid);
}

static void test_footer_and_peek(void **state)
{
	char *tok = sign_str(&w.signer, FL_MSG_ENROLL, "{\"x\":1}");
	char kid[FL_KID_MAX], want[128];
	uint8_t *f = NULL;
	size_t flen;

	(void)state;
	assert_int_equal(fl_paseto_peek_footer(&f, &flen, tok, strlen(tok)),
	                 FL_OK);
	snprintf(want, sizeof(want), "{\"kid\":\"%s\"}", w.signer.kid);
	assert_string_equal((char *)f, want);
	free(f);
	assert_int_equal(fl_msg_peek_kid(tok, kid), FL_OK);
	assert_string_equal(kid, w.signer.kid);
	free(tok);
}

static void test_peek_kid_refusals(void **state)
{
	uint8_t pk[FL_SIGN_PK_LEN], sk[FL_SIGN_SK_LEN];
	char kid[FL_KID_MAX];
	char *tok = NULL;
	char footer[256];
	static const char *const footers[] = {
	        "",               /* no footer */
	        "not json",       /* opaque footer */
	        "[\"k4.pid.x\"]", /* not an object */
	        "{\"kid\":42}",   /* wrong type */
	        "{\"kid\":\"zVhMiPBP9fRf2snEcT7gFTioeA9COcNy9DfgL1W60haN\"}",
	        "{\"kid\":\"k4.pid.short\"}",
	        NULL, /* extra member, filled below */
	        NULL, /* duplicate member, filled below */
	};

	(void)state;
	fl_sign_keypair(pk, sk);
	for (size_t i = 0; i < sizeof(footers) / sizeof(footers[0]); i++) {
		const char *ft = footers[i];

		if (i == 6) {
			snprintf(footer, sizeof(footer),
			         "{\"kid\":\"%s\",\"x\":1}", w.signer.kid);
			ft = footer;
		} else if (i == 7) {
			snprintf(footer, sizeof(footer),
			         "{\"kid\":\"%s\",\"kid\":\"%s\"}",
			         w.signer.kid, w.signer.kid);
			ft = footer;
		}
		assert_int_equal(fl_paseto_sign(&tok, sk, "{}", 2, ft,
		                                strlen(ft), NULL, 0),
		                 FL_OK);
		memset(kid, 'x', sizeof(kid));
		assert_int_equal(fl_msg_peek_kid(tok, kid), FL_E_PASETO_FORMAT);
		assert_int_equal(kid[0], 0);
		assert_int_equal(verify(w.trust, FL_MSG_ENROLL, tok, NOW),
		                 FL_E_PASETO_FORMAT);
		free(tok);
		tok = NULL;
	}
	fl_wipe(sk, sizeof(sk));
	assert_int_equal(fl_msg_peek_kid("v4.local.AAAA.AAAA", kid),
	                 FL_E_PASETO_HEADER);
	assert_int_equal(fl_msg_peek_kid("", kid), FL_E_PASETO_HEADER);
}

/* --- trust: kid first, then signature ------------------------------------ */

static void test_verify_ok_and_payload(void **state)
{
	char *tok = sign_str(&w.signer, FL_MSG_LOOKUP, "{\"nonce\":\"abc\"}");
	char *p = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(
	        fl_trust_verify(w.trust, FL_MSG_LOOKUP, tok, NOW, &p, &len),
	        FL_OK);
	assert_int_equal(len, strlen("{\"nonce\":\"abc\"}"));
	assert_string_equal(p, "{\"nonce\":\"abc\"}");
	free(p);
	assert_int_equal(verify(w.trust, FL_MSG__COUNT, tok, NOW),
	                 FL_E_INVALID);
	free(tok);
}

static void test_unknown_kid_refused_before_signature(void **state)
{
	struct fl_signer stranger;
	char *tok;
	char *body;

	(void)state;
	assert_int_equal(fl_signer_generate(&stranger), FL_OK);
	tok = sign_str(&stranger, FL_MSG_DEVICE_TOKEN, "{}");
	assert_int_equal(verify(w.trust, FL_MSG_DEVICE_TOKEN, tok, NOW),
	                 FL_E_UNKNOWN_KID);
	/* Break the signature: the answer stays "unknown kid", showing no
	 * signature was checked to reach it. */
	body = tok + FL_PASETO_HEADER_LEN + 5;
	*body = *body == 'A' ? 'B' : 'A';
	assert_int_equal(verify(w.trust, FL_MSG_DEVICE_TOKEN, tok, NOW),
	                 FL_E_UNKNOWN_KID);
	free(tok);

	/* The same damage under a trusted kid is a signature failure. */
	tok = sign_str(&w.signer, FL_MSG_DEVICE_TOKEN, "{}");
	body = tok + FL_PASETO_HEADER_LEN + 5;
	*body = *body == 'A' ? 'B' : 'A';
	assert_int_equal(verify(w.trust, FL_MSG_DEVICE_TOKEN, tok, NOW),
	                 FL_E_BAD_SIGNATURE);
	free(tok);

	/* A stranger that copies a trusted kid into its footer fails on the
	 * signature, since the kid picks the trusted key. */
	struct fl_signer impostor = stranger;
	memcpy(impostor.kid, w.signer.kid, sizeof(impostor.kid));
	tok = sign_str(&impostor, FL_MSG_DEVICE_TOKEN, "{}");
	assert_int_equal(verify(w.trust, FL_MSG_DEVICE_TOKEN, tok, NOW),
	                 FL_E_BAD_SIGNATURE);
	free(tok);
	fl_signer_wipe(&impostor);
	fl_signer_wipe(&stranger);
}

static void test_flip_every_character(void **state)
{
	char *tok = sign_str(&w.signer, FL_MSG_DEVICE_TOKEN, "{\"a\":1}");
	size_t len = strlen(tok);

	(void)state;
	for (size_t i = 0; i < len; i++) {
		char orig = tok[i];

		tok[i] = orig == 'A' ? 'B' : 'A';
		assert_int_not_equal(
		        verify(w.trust, FL_MSG_DEVICE_TOKEN, tok, NOW), FL_OK);
		tok[i] = orig;
	}
	assert_int_equal(verify(w.trust, FL_MSG_DEVICE_TOKEN, tok, NOW), FL_OK);
	free(tok);
}

static void test_kinds_never_interchange(void **state)
{
	(void)state;
	for (int a = 0; a < FL_MSG__COUNT; a++) {
		bool root = a == FL_MSG_KEY_CERT || a == FL_MSG_KEY_REVOKE ||
		            a == FL_MSG_SEQ_RESET;
		char *tok = sign_str(root ? &w.root : &w.signer,
		                     (enum fl_msg_kind)a, "{}");

		for (int b = 0; b < FL_MSG__COUNT; b++) {
			fl_err err =
			        verify(w.trust, (enum fl_msg_kind)b, tok, NOW);

			if (a == b)
				assert_int_equal(err, FL_OK);
			else
				assert_int_not_equal(err, FL_OK);
		}
		free(tok);
	}
	/* A device token offered as an enrollment answer: same key, the
	 * implicit assertion differs, so the signature fails. */
	char *tok = sign_str(&w.signer, FL_MSG_DEVICE_TOKEN, "{}");
	assert_int_equal(verify(w.trust, FL_MSG_ENROLL, tok, NOW),
	                 FL_E_BAD_SIGNATURE);
	free(tok);
}

static void test_root_only_kinds(void **state)
{
	char *tok;

	(void)state;
	/* root-signed kinds signed by a certified key */
	tok = sign_str(&w.signer, FL_MSG_KEY_CERT, "{}");
	assert_int_equal(verify(w.trust, FL_MSG_KEY_CERT, tok, NOW),
	                 FL_E_UNKNOWN_KID);
	free(tok);
	tok = sign_str(&w.signer, FL_MSG_SEQ_RESET, "{}");
	assert_int_equal(verify(w.trust, FL_MSG_SEQ_RESET, tok, NOW),
	                 FL_E_UNKNOWN_KID);
	free(tok);
	/* a certificate issued by a certified key is no certificate */
	struct fl_signer other;
	assert_int_equal(fl_signer_generate(&other), FL_OK);
	struct fl_trust *t = bare_trust();
	char *cert = NULL;
	char json[256], pub[FL_PASERK_PUBLIC_SIZE];
	assert_int_equal(fl_paserk_public_encode(pub, other.pk), FL_OK);
	snprintf(json, sizeof(json),
	         "{\"kid\":\"%s\",\"pk\":\"%s\",\"not_after\":"
	         "\"2030-01-01T00:00:00Z\"}",
	         other.kid, pub);
	cert = sign_str(&w.signer, FL_MSG_KEY_CERT, json);
	assert_int_equal(fl_trust_add_cert(w.trust, cert, NOW, NULL),
	                 FL_E_UNKNOWN_KID);
	free(cert);
	/* and the root signing it directly is a certificate */
	cert = sign_str(&w.root, FL_MSG_KEY_CERT, json);
	assert_int_equal(fl_trust_add_cert(t, cert, NOW, NULL), FL_OK);
	free(cert);

	/* non-root kinds signed by the root */
	for (int k = 0; k < FL_MSG__COUNT; k++) {
		if (k == FL_MSG_KEY_CERT || k == FL_MSG_KEY_REVOKE ||
		    k == FL_MSG_SEQ_RESET)
			continue;
		tok = sign_str(&w.root, (enum fl_msg_kind)k, "{}");
		assert_int_equal(verify(w.trust, (enum fl_msg_kind)k, tok, NOW),
		                 FL_E_UNKNOWN_KID);
		free(tok);
	}
	fl_trust_free(t);
	fl_signer_wipe(&other);
}

static void test_cert_lifecycle(void **state)
{
	struct fl_trust *t = bare_trust();
	struct fl_signer s;
	char kid[FL_KID_MAX];
	char *cert, *tok;

	(void)state;
	assert_int_equal(fl_signer_generate(&s), FL_OK);
	tok = sign_str(&s, FL_MSG_DEVICE_TOKEN, "{}");
	assert_int_equal(verify(t, FL_MSG_DEVICE_TOKEN, tok, NOW),
	                 FL_E_UNKNOWN_KID);

	/* expired at the time it is presented */
	cert = certify(&s, NOW - 1);
	memset(kid, 'x', sizeof(kid));
	assert_int_equal(fl_trust_add_cert(t, cert, NOW, kid),
	                 FL_E_KEY_EXPIRED);
	assert_int_equal(kid[0], 0);
	free(cert);

	/* valid until NOW + 100; the last second is still good */
	cert = certify(&s, NOW + 100);
	assert_int_equal(fl_trust_add_cert(t, cert, NOW, kid), FL_OK);
	assert_string_equal(kid, s.kid);
	assert_int_equal(fl_trust_add_cert(t, cert, NOW, NULL), FL_OK);
	free(cert);
	assert_int_equal(verify(t, FL_MSG_DEVICE_TOKEN, tok, NOW + 100), FL_OK);
	assert_int_equal(verify(t, FL_MSG_DEVICE_TOKEN, tok, NOW + 101),
	                 FL_E_KEY_EXPIRED);

	/* a renewal extends it, an older certificate does not shorten it */
	cert = certify(&s, NOW + 1000);
	assert_int_equal(fl_trust_add_cert(t, cert, NOW, NULL), FL_OK);
	free(cert);
	cert = certify(&s, NOW + 200);
	assert_int_equal(fl_trust_add_cert(t, cert, NOW, NULL), FL_OK);
	free(cert);
	assert_int_equal(verify(t, FL_MSG_DEVICE_TOKEN, tok, NOW + 1000),
	                 FL_OK);
	assert_int_equal(verify(t, FL_MSG_DEVICE_TOKEN, tok, NOW + 1001),
	                 FL_E_KEY_EXPIRED);

	/* the root key cannot be certified as a signing key */
	cert = certify(&w.root, NOW + 100);
	assert_int_equal(fl_trust_add_cert(t, cert, NOW, NULL), FL_E_INVALID);
	free(cert);
	free(tok);
	fl_trust_free(t);
	fl_signer_wipe(&s);
}

static void test_cert_payload_strict(void **state)
{
	struct fl_trust *t = bare_trust();
	struct fl_signer a, b;
	char pub_a[FL_PASERK_PUBLIC_SIZE], json[512];
	char *cert;

	(void)state;
	assert_int_equal(fl_signer_generate(&a), FL_OK);
	assert_int_equal(fl_signer_generate(&b), FL_OK);
	assert_int_equal(fl_paserk_public_encode(pub_a, a.pk), FL_OK);

	/* kid that names another key */
	snprintf(json, sizeof(json),
	         "{\"kid\":\"%s\",\"pk\":\"%s\",\"not_after\":"
	         "\"2030-01-01T00:00:00Z\"}",
	         b.kid, pub_a);
	cert = sign_str(&w.root, FL_MSG_KEY_CERT, json);
	assert_int_equal(fl_trust_add_cert(t, cert, NOW, NULL),
	                 FL_E_KEY_FORMAT);
	free(cert);
	/* extra member */
	snprintf(json, sizeof(json),
	         "{\"kid\":\"%s\",\"pk\":\"%s\",\"not_after\":"
	         "\"2030-01-01T00:00:00Z\",\"x\":1}",
	         a.kid, pub_a);
	cert = sign_str(&w.root, FL_MSG_KEY_CERT, json);
	assert_int_equal(fl_trust_add_cert(t, cert, NOW, NULL), FL_E_CLAIMS);
	free(cert);
	/* missing member, bad time, wrong types, not JSON */
	char bad[5][512];
	snprintf(bad[0], sizeof(bad[0]), "{\"kid\":\"%s\",\"pk\":\"%s\"}",
	         a.kid, pub_a);
	snprintf(bad[1], sizeof(bad[1]),
	         "{\"kid\":\"%s\",\"pk\":\"%s\",\"not_after\":\"soon\"}", a.kid,
	         pub_a);
	snprintf(bad[2], sizeof(bad[2]),
	         "{\"kid\":\"%s\",\"pk\":\"%s\",\"not_after\":1893456000}",
	         a.kid, pub_a);
	snprintf(bad[3], sizeof(bad[3]), "[\"%s\",\"%s\"]", a.kid, pub_a);
	snprintf(bad[4], sizeof(bad[4]), "%s%s", a.kid, pub_a);
	for (size_t i = 0; i < 5; i++) {
		cert = sign_str(&w.root, FL_MSG_KEY_CERT, bad[i]);
		assert_int_equal(fl_trust_add_cert(t, cert, NOW, NULL),
		                 FL_E_CLAIMS);
		free(cert);
	}
	/* a k4.secret where the public key goes */
	snprintf(json, sizeof(json),
	         "{\"kid\":\"%s\",\"pk\":\"k4.secret.AAAA\",\"not_after\":"
	         "\"2030-01-01T00:00:00Z\"}",
	         a.kid);
	cert = sign_str(&w.root, FL_MSG_KEY_CERT, json);
	assert_int_equal(fl_trust_add_cert(t, cert, NOW, NULL), FL_E_KEY_TYPE);
	free(cert);
	char *tok = sign_str(&a, FL_MSG_DEVICE_TOKEN, "{}");
	assert_int_equal(verify(t, FL_MSG_DEVICE_TOKEN, tok, NOW),
	                 FL_E_UNKNOWN_KID);
	free(tok);
	fl_trust_free(t);
	fl_signer_wipe(&a);
	fl_signer_wipe(&b);
}

static void test_revocation(void **state)
{
	struct fl_trust *t = bare_trust();
	struct fl_signer s, later;
	char *cert, *rev, *tok;

	(void)state;
	assert_int_equal(fl_signer_generate(&s), FL_OK);
	assert_int_equal(fl_signer_generate(&later), FL_OK);
	cert = certify(&s, NOW + YEAR);
	assert_int_equal(fl_trust_add_cert(t, cert, NOW, NULL), FL_OK);
	tok = sign_str(&s, FL_MSG_DEVICE_TOKEN, "{}");
	assert_int_equal(verify(t, FL_MSG_DEVICE_TOKEN, tok, NOW), FL_OK);

	/* a revocation signed by anyone but the root changes nothing */
	rev = NULL;
	assert_int_equal(fl_revocation_issue(&rev, &s, s.kid, NOW), FL_OK);
	assert_int_equal(fl_trust_add_revocation(t, rev), FL_E_UNKNOWN_KID);
	free(rev);
	assert_int_equal(verify(t, FL_MSG_DEVICE_TOKEN, tok, NOW), FL_OK);

	assert_int_equal(fl_revocation_issue(&rev, &w.root, s.kid, NOW), FL_OK);
	assert_int_equal(fl_trust_add_revocation(t, rev), FL_OK);
	assert_int_equal(fl_trust_add_revocation(t, rev), FL_OK);
	free(rev);
	assert_int_equal(verify(t, FL_MSG_DEVICE_TOKEN, tok, NOW),
	                 FL_E_KEY_REVOKED);
	/* its certificate cannot bring it back */
	assert_int_equal(fl_trust_add_cert(t, cert, NOW, NULL),
	                 FL_E_KEY_REVOKED);
	free(cert);
	free(tok);

	/* revoked before its certificate was ever seen */
	assert_int_equal(fl_revocation_issue(&rev, &w.root, later.kid, NOW),
	                 FL_OK);
	assert_int_equal(fl_trust_add_revocation(t, rev), FL_OK);
	free(rev);
	cert = certify(&later, NOW + YEAR);
	assert_int_equal(fl_trust_add_cert(t, cert, NOW, NULL),
	                 FL_E_KEY_REVOKED);
	free(cert);

	/* the root cannot be revoked by a message */
	assert_int_equal(fl_revocation_issue(&rev, &w.root, w.root.kid, NOW),
	                 FL_OK);
	assert_int_equal(fl_trust_add_revocation(t, rev), FL_E_INVALID);
	free(rev);
	/* a revocation is not a certificate, nor the other way round */
	assert_int_equal(fl_revocation_issue(&rev, &w.root, later.kid, NOW),
	                 FL_OK);
	assert_int_equal(fl_trust_add_cert(t, rev, NOW, NULL),
	                 FL_E_BAD_SIGNATURE);
	free(rev);
	assert_int_equal(fl_revocation_issue(&rev, &w.root, "k4.pid.nope", NOW),
	                 FL_E_KEY_FORMAT);
	assert_null(rev);
	fl_trust_free(t);
	fl_signer_wipe(&s);
	fl_signer_wipe(&later);
}

static void test_trust_capacity(void **state)
{
	struct fl_trust *t = bare_trust();
	fl_err err = FL_OK;
	size_t added = 0;

	(void)state;
	while (added < 1000) {
		struct fl_signer s;
		char *cert;

		assert_int_equal(fl_signer_generate(&s), FL_OK);
		cert = certify(&s, NOW + YEAR);
		err = fl_trust_add_cert(t, cert, NOW, NULL);
		free(cert);
		fl_signer_wipe(&s);
		if (err)
			break;
		added++;
	}
	assert_int_equal(err, FL_E_TOO_LARGE);
	assert_true(added >= 8 && added < 1000);
	/* expired keys make room */
	struct fl_signer s;
	char *cert;
	assert_int_equal(fl_signer_generate(&s), FL_OK);
	cert = certify(&s, NOW + 2 * YEAR);
	assert_int_equal(fl_trust_add_cert(t, cert, NOW + YEAR + 1, NULL),
	                 FL_OK);
	free(cert);
	fl_signer_wipe(&s);
	fl_trust_free(t);
}

static void test_seq_reset(void **state)
{
	char *tok = NULL;
	uint64_t floor = 99;

	(void)state;
	assert_int_equal(fl_seqreset_issue(&tok, &w.root, "dev-1", 7, NOW),
	                 FL_OK);
	assert_int_equal(
	        fl_trust_verify_seqreset(w.trust, tok, "dev-1", &floor), FL_OK);
	assert_int_equal(floor, 7);
	assert_int_equal(
	        fl_trust_verify_seqreset(w.trust, tok, "dev-2", &floor),
	        FL_E_WRONG_SUBJECT);
	assert_int_equal(floor, 0);
	/* not a device token, and a device token is not a reset */
	assert_int_equal(verify(w.trust, FL_MSG_DEVICE_TOKEN, tok, NOW),
	                 FL_E_UNKNOWN_KID);
	free(tok);

	/* only the root may reset a seq floor */
	assert_int_equal(fl_seqreset_issue(&tok, &w.signer, "dev-1", 0, NOW),
	                 FL_OK);
	assert_int_equal(
	        fl_trust_verify_seqreset(w.trust, tok, "dev-1", &floor),
	        FL_E_UNKNOWN_KID);
	free(tok);

	assert_int_equal(fl_seqreset_issue(&tok, &w.root, "dev-1",
	                                   (uint64_t)INT64_MAX + 1, NOW),
	                 FL_E_RANGE);
	assert_null(tok);
	assert_int_equal(fl_seqreset_issue(&tok, &w.root, "", 1, NOW),
	                 FL_E_INVALID);
	assert_int_equal(fl_seqreset_issue(&tok, &w.root, "dev-1",
	                                   (uint64_t)INT64_MAX, NOW),
	                 FL_OK);
	assert_int_equal(
	        fl_trust_verify_seqreset(w.trust, tok, "dev-1", &floor), FL_OK);
	assert_int_equal(floor, (uint64_t)INT64_MAX);
	free(tok);

	/* a root-signed reset with a negative floor is malformed */
	tok = sign_str(&w.root, FL_MSG_SEQ_RESET,
	               "{\"sub\":\"dev-1\",\"seq_floor\":-1,"
	               "\"iat\":\"2026-01-01T00:00:00Z\"}");
	assert_int_equal(
	        fl_trust_verify_seqreset(w.trust, tok, "dev-1", &floor),
	        FL_E_CLAIMS);
	free(tok);
}

/* --- claims ----------------------------------------------------------------
 */

static void test_claims_roundtrip(void **state)
{
	struct fl_device_claims c, d;
	char *json = NULL, *again = NULL;

	(void)state;
	good_claims(&c);
	assert_int_equal(fl_claims_encode(&c, &json), FL_OK);
	assert_int_equal(fl_claims_decode(json, strlen(json), &d), FL_OK);
	assert_claims_equal(&c, &d);
	assert_int_equal(fl_claims_encode(&d, &again), FL_OK);
	assert_string_equal(json, again);
	/* the names and forms docs/protocol.md gives */
	assert_non_null(strstr(json, "\"sub\":\"dev-1\""));
	assert_non_null(
	        strstr(json, "\"imei\":[\"" IMEI_A "\",\"" IMEI_B "\"]"));
	assert_non_null(strstr(json, "\"seq\":42"));
	assert_non_null(strstr(json, "\"iat\":\"2026-11-18T"));
	assert_non_null(strstr(json, "\"state\":\"locked\""));
	assert_non_null(strstr(json, "\"stolen\":false"));
	assert_non_null(strstr(json, "\"restrict\":[\"camera\","
	                             "\"install_apps\",\"sms\"]"));
	assert_non_null(strstr(json, "\"contact\":{\"name\":\"Acme Finance\","
	                             "\"phones\":[\"+254700000001\","));
	assert_non_null(strstr(json, "\"amount_due\":1500"));
	assert_non_null(strstr(json, "\"currency\":\"KES\""));
	assert_non_null(strstr(json, "\"sim_policy\":\"notify\""));
	assert_non_null(strstr(json, "\"tamper_policy\":\"lock\""));
	free(json);
	free(again);
	fl_claims_clear(&d);

	/* the smallest claims: no lock_at, no strings, one IMEI */
	fl_claims_clear(&c);
	c.sub = strdup("d");
	memcpy(c.imei[0], IMEI_C, FL_IMEI_LEN + 1);
	c.n_imei = 1;
	c.seq = 1;
	c.iat = c.exp = NOW;
	c.state = FL_ST_ACTIVE;
	assert_int_equal(fl_claims_encode(&c, &json), FL_OK);
	assert_null(strstr(json, "lock_at"));
	assert_null(strstr(json, "contact"));
	assert_null(strstr(json, "currency"));
	assert_int_equal(fl_claims_decode(json, strlen(json), &d), FL_OK);
	assert_claims_equal(&c, &d);
	free(json);
	fl_claims_clear(&d);
	fl_claims_clear(&c);
	fl_claims_clear(NULL);
}

/* The JSON of good_claims as a jansson object the caller changes. */
static json_t *good_json(void)
{
	struct fl_device_claims c;
	char *s = NULL;
	json_t *j;

	good_claims(&c);
	assert_int_equal(fl_claims_encode(&c, &s), FL_OK);
	fl_claims_clear(&c);
	j = json_loads(s, 0, NULL);
	free(s);
	assert_non_null(j);
	return j;
}

static fl_err decode_json(const json_t *j)
{
	struct fl_device_claims c;
	char *s = json_dumps(j, JSON_COMPACT);
	fl_err err;

	assert_non_null(s);
	memset(&c, 0x5a, sizeof(c));
	err = fl_claims_decode(s, strlen(s), &c);
	if (err)
		assert_cleared(&c);
	fl_claims_clear(&c);
	free(s);
	return err;
}

/* Decodes good claims with key set to value (stolen) or removed (NULL). */
static fl_err decode_with(const char *key, json_t *value)
{
	json_t *j = good_json();
	fl_err err;

	if (value != NULL)
		json_object_set_new(j, key, value);
	else
		json_object_del(j, key);
	err = decode_json(j);
	json_decref(j);
	return err;
}

static json_t *str_list(size_t n, const char *s)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(s));
	return a;
}

static void test_claims_lock_cause(void **state)
{
	struct fl_device_claims c, d;
	char *json = NULL;

	(void)state;
	good_claims(&c);
	/* an older server's token says no cause */
	assert_int_equal(fl_claims_encode(&c, &json), FL_OK);
	assert_null(strstr(json, "lock_cause"));
	assert_int_equal(fl_claims_decode(json, strlen(json), &d), FL_OK);
	assert_int_equal(d.lock_cause, FL_CLAIM_CAUSE_NONE);
	assert_null(d.lock_reason_text);
	fl_claims_clear(&d);
	free(json);
	c.lock_cause = FL_CLAIM_CAUSE_LENDER;
	c.lock_reason_text = strdup("Visit the shop to sign the papers");
	assert_int_equal(fl_claims_encode(&c, &json), FL_OK);
	assert_non_null(strstr(json, "\"lock_cause\":\"lender\""));
	assert_non_null(strstr(json, "\"lock_reason_text\":\"Visit the shop"));
	assert_int_equal(fl_claims_decode(json, strlen(json), &d), FL_OK);
	assert_claims_equal(&c, &d);
	fl_claims_clear(&d);
	free(json);
	c.lock_cause = (enum fl_claim_cause)99;
	assert_int_equal(fl_claims_encode(&c, &json), FL_E_CLAIMS);
	assert_null(json);
	for (int k = FL_CLAIM_CAUSE_OVERDUE; k <= FL_CLAIM_CAUSE_STOLEN; k++)
		assert_non_null(fl_claim_cause_name((enum fl_claim_cause)k));
	assert_null(fl_claim_cause_name(FL_CLAIM_CAUSE_NONE));
	fl_claims_clear(&c);
}

static void test_claims_decode_strict(void **state)
{
	char longtext[FL_CLAIMS_MAX_TEXT + 2];

	(void)state;
	memset(longtext, 'm', sizeof(longtext));
	longtext[FL_CLAIMS_MAX_TEXT + 1] = '\0';

	assert_int_equal(decode_with("no-such-member", NULL), FL_OK);
	/* a claim a newer server adds is ignored */
	assert_int_equal(decode_with("extra", json_true()), FL_OK);
	/* lock_cause: a known one is read, an unknown one reads as none,
	 * a wrong type is refused; an empty reason text is refused */
	assert_int_equal(decode_with("lock_cause", json_string("tomorrow")),
	                 FL_OK);
	assert_int_equal(decode_with("lock_cause", json_integer(1)),
	                 FL_E_CLAIMS);
	assert_int_equal(decode_with("lock_reason_text", json_string("")),
	                 FL_E_CLAIMS);
	/* required members */
	static const char *const required[] = {"sub", "imei", "seq",
	                                       "iat", "exp",  "state"};
	for (size_t i = 0; i < 6; i++)
		assert_int_equal(decode_with(required[i], NULL), FL_E_CLAIMS);
	/* optional members may be absent */
	static const char *const optional[] = {
	        "stolen",   "lock_at",   "restrict",   "allow_apps",
	        "message",  "contact",   "loan_ref",   "amount_due",
	        "currency", "reminders", "sim_policy", "tamper_policy"};
	for (size_t i = 0; i < sizeof(optional) / sizeof(optional[0]); i++)
		assert_int_equal(decode_with(optional[i], NULL), FL_OK);
	assert_int_equal(decode_with("lock_at", json_null()), FL_OK);

	/* wrong types */
	assert_int_equal(decode_with("sub", json_integer(1)), FL_E_CLAIMS);
	assert_int_equal(decode_with("sub", json_string("")), FL_E_CLAIMS);
	assert_int_equal(decode_with("imei", json_string(IMEI_A)), FL_E_CLAIMS);
	assert_int_equal(decode_with("seq", json_string("42")), FL_E_CLAIMS);
	assert_int_equal(decode_with("seq", json_real(42.0)), FL_E_CLAIMS);
	assert_int_equal(decode_with("seq", json_integer(-1)), FL_E_CLAIMS);
	assert_int_equal(decode_with("iat", json_integer(NOW)), FL_E_CLAIMS);
	assert_int_equal(decode_with("stolen", json_integer(0)), FL_E_CLAIMS);
	assert_int_equal(decode_with("stolen", json_null()), FL_E_CLAIMS);
	assert_int_equal(decode_with("restrict", json_string("camera")),
	                 FL_E_CLAIMS);
	assert_int_equal(decode_with("allow_apps", json_object()), FL_E_CLAIMS);
	assert_int_equal(decode_with("message", json_false()), FL_E_CLAIMS);
	assert_int_equal(decode_with("contact", json_string("Acme")),
	                 FL_E_CLAIMS);
	assert_int_equal(decode_with("amount_due", json_real(15.0)),
	                 FL_E_CLAIMS);
	assert_int_equal(decode_with("amount_due", json_integer(-1)),
	                 FL_E_CLAIMS);
	assert_int_equal(decode_with("amount_due", json_string("1500")),
	                 FL_E_CLAIMS);
	assert_int_equal(decode_with("reminders", json_object()), FL_E_CLAIMS);
	assert_int_equal(decode_with("sim_policy", json_string("explode")),
	                 FL_E_CLAIMS);
	assert_int_equal(decode_with("tamper_policy", json_integer(2)),
	                 FL_E_CLAIMS);

	/* IMEIs: canonical 15 digits with a right check digit, 1 or 2 */
	assert_int_equal(decode_with("imei", json_array()), FL_E_CLAIMS);
	assert_int_equal(decode_with("imei", str_list(3, IMEI_A)), FL_E_CLAIMS);
	assert_int_equal(decode_with("imei", str_list(1, IMEI_A)), FL_OK);
	assert_int_equal(decode_with("imei", str_list(1, "490154203237517")),
	                 FL_E_CLAIMS);
	assert_int_equal(decode_with("imei", str_list(1, "49-015420-323751-8")),
	                 FL_E_CLAIMS);
	assert_int_equal(decode_with("imei", str_list(1, "4901542032375180")),
	                 FL_E_CLAIMS);
	assert_int_equal(decode_with("imei", json_pack("[i]", 1)), FL_E_CLAIMS);

	/* times and state */
	assert_int_equal(decode_with("iat", json_string("yesterday")),
	                 FL_E_CLAIMS);
	assert_int_equal(
	        decode_with("exp", json_string("2026-02-30T00:00:00Z")),
	        FL_E_CLAIMS);
	assert_int_equal(
	        decode_with("exp", json_string("2020-01-01T00:00:00Z")),
	        FL_E_CLAIMS); /* before iat */
	assert_int_equal(
	        decode_with("lock_at", json_string("1970-01-01T00:00:00Z")),
	        FL_E_CLAIMS);
	assert_int_equal(decode_with("state", json_string("pending")),
	                 FL_E_CLAIMS);
	assert_int_equal(decode_with("state", json_string("LOCKED")),
	                 FL_E_CLAIMS);
	assert_int_equal(decode_with("state", json_string("released")), FL_OK);

	/* restrictions */
	assert_int_equal(
	        decode_with("restrict", str_list(1, "emergency_calls")),
	        FL_E_RESTRICT_GUARANTEED);
	assert_int_equal(decode_with("restrict", str_list(1, "dialer")),
	                 FL_E_RESTRICT_GUARANTEED);
	assert_int_equal(decode_with("restrict", str_list(1, "teleport")),
	                 FL_E_CLAIMS);
	assert_int_equal(decode_with("restrict", json_pack("[i]", 2)),
	                 FL_E_CLAIMS);
	assert_int_equal(decode_with("restrict", str_list(3, "camera")), FL_OK);

	/* sizes: strings and lists */
	assert_int_equal(decode_with("message", json_string(longtext)),
	                 FL_E_CLAIMS);
	longtext[FL_CLAIMS_MAX_TEXT] = '\0';
	assert_int_equal(decode_with("message", json_string(longtext)), FL_OK);
	assert_int_equal(decode_with("sub", json_string(longtext)), FL_OK);
	longtext[FL_CLAIMS_MAX_TEXT] = 'm';
	assert_int_equal(decode_with("sub", json_string(longtext)),
	                 FL_E_CLAIMS);
	assert_int_equal(decode_with("loan_ref", json_string(longtext)),
	                 FL_E_CLAIMS);
	assert_int_equal(
	        decode_with("allow_apps", str_list(FL_CLAIMS_MAX_LIST, "a")),
	        FL_OK);
	assert_int_equal(decode_with("allow_apps",
	                             str_list(FL_CLAIMS_MAX_LIST + 1, "a")),
	                 FL_E_CLAIMS);
	assert_int_equal(decode_with("allow_apps", str_list(1, "")),
	                 FL_E_CLAIMS);
	assert_int_equal(decode_with("allow_apps", str_list(1, longtext)),
	                 FL_E_CLAIMS);
	assert_int_equal(decode_with("restrict",
	                             str_list(FL_CLAIMS_MAX_LIST + 1, "sms")),
	                 FL_E_CLAIMS);

	/* currency */
	assert_int_equal(decode_with("currency", json_string("kes")),
	                 FL_E_CLAIMS);
	assert_int_equal(decode_with("currency", json_string("KESH")),
	                 FL_E_CLAIMS);
	assert_int_equal(decode_with("currency", json_string("")), FL_E_CLAIMS);

	/* nested objects are strict too */
	assert_int_equal(decode_with("contact", json_pack("{s:s,s:s}", "name",
	                                                  "A", "email", "a@b")),
	                 FL_E_CLAIMS);
	assert_int_equal(
	        decode_with("contact", json_pack("{s:[i]}", "phones", 1)),
	        FL_E_CLAIMS);
	assert_int_equal(
	        decode_with("contact",
	                    json_pack("{s:o}", "phones",
	                              str_list(FL_CLAIMS_MAX_LIST + 1, "1"))),
	        FL_E_CLAIMS);
	assert_int_equal(decode_with("contact", json_object()), FL_OK);
	assert_int_equal(
	        decode_with("reminders",
	                    json_pack("[{s:s}]", "at", "2026-11-19T00:00:00Z")),
	        FL_E_CLAIMS);
	assert_int_equal(
	        decode_with("reminders", json_pack("[{s:s,s:s,s:i}]", "at",
	                                           "2026-11-19T00:00:00Z",
	                                           "text", "x", "n", 1)),
	        FL_E_CLAIMS);
	assert_int_equal(
	        decode_with("reminders",
	                    json_pack("[{s:s,s:s}]", "at", "bad", "text", "x")),
	        FL_E_CLAIMS);
	assert_int_equal(decode_with("reminders", json_pack("[i]", 1)),
	                 FL_E_CLAIMS);
}

static void test_claims_decode_text(void **state)
{
	struct fl_device_claims c;
	static const char *const bad[] = {
	        "",
	        "null",
	        "[]",
	        "{",
	        "{\"sub\":\"a\",\"sub\":\"b\"}",
	        "{\"sub\":\"a\\u0000b\"}",
	        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
	        "{\"contact\":{\"phones\":[[\"1\"]]}}",
	};
	const char *ok = "{\"sub\":\"d\",\"imei\":[\"" IMEI_A "\"],\"seq\":1,"
	                 "\"iat\":\"2026-01-01T00:00:00Z\","
	                 "\"exp\":\"2026-01-02T03:00:00+03:00\","
	                 "\"state\":\"active\"}";

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&c, 0x5a, sizeof(c));
		assert_int_equal(fl_claims_decode(bad[i], strlen(bad[i]), &c),
		                 FL_E_CLAIMS);
		assert_cleared(&c);
	}
	assert_int_equal(fl_claims_decode(ok, strlen(ok), &c), FL_OK);
	assert_int_equal(c.exp - c.iat, FL_DAY); /* offset applied */
	assert_int_equal(c.state, FL_ST_ACTIVE);
	assert_int_equal(c.sim_policy, FL_REACT_NONE);
	fl_claims_clear(&c);
	/* length is honoured: the same text cut short is not JSON */
	assert_int_equal(fl_claims_decode(ok, strlen(ok) - 1, &c), FL_E_CLAIMS);
	/* trailing garbage */
	char buf[512];
	snprintf(buf, sizeof(buf), "%s x", ok);
	assert_int_equal(fl_claims_decode(buf, strlen(buf), &c), FL_E_CLAIMS);
	snprintf(buf, sizeof(buf), "%s", ok);
	assert_int_equal(fl_claims_decode(buf, strlen(buf) + 1, &c),
	                 FL_E_CLAIMS); /* embedded NUL */
}

/* The claims' JSON is what jansson's compact dump of the same members
 * writes, byte for byte (tokens signed before and after read alike): every
 * optional member present and absent, strings with every character that
 * needs escaping, UTF-8, the largest numbers. */
static void test_claims_encode_canonical(void **state)
{
	static const char *const texts[] = {
	        "",
	        "plain",
	        "\"q\" \\ / \x7f",
	        "\b\f\n\r\t \x01\x1f end",
	        "\xe2\x82\xac \xf0\x9f\x93\xb1 \xc3\xa9",
	};
	(void)state;
	for (int k = 0; k < 128; k++) {
		struct fl_device_claims c;
		const char *t = texts[k % 5];
		char *json = NULL, *again;
		json_t *j;

		good_claims(&c);
		c.seq = k & 1 ? (uint64_t)INT64_MAX : (uint64_t)k;
		c.amount_due = k & 2 ? INT64_MAX : k;
		c.stolen = k & 4;
		if (k & 8) {
			c.lock_at = 0;
			c.restrict_mask = 0;
		}
		free(c.message);
		c.message = k & 16 ? NULL : strdup(t);
		free(c.contact_name);
		c.contact_name = k & 32 ? NULL : strdup(t);
		if (k & 64) {
			for (size_t i = 0; i < c.n_contact_phones; i++)
				free(c.contact_phones[i]);
			free(c.contact_phones);
			c.contact_phones = NULL;
			c.n_contact_phones = 0;
			free(c.loan_ref);
			c.loan_ref = NULL;
			c.currency[0] = '\0';
			c.lock_cause = FL_CLAIM_CAUSE_LENDER;
			c.lock_reason_text = strdup(texts[(k + 1) % 5][0] != '\0'
			                                    ? texts[(k + 1) % 5]
			                                    : "x");
		}
		free(c.reminders[1].text);
		c.reminders[1].text = strdup(t);
		assert_int_equal(fl_claims_encode(&c, &json), FL_OK);
		j = json_loads(json, 0, NULL);
		assert_non_null(j);
		again = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
		assert_non_null(again);
		if (strcmp(json, again) != 0)
			fprintf(stderr, "k=%d\nours:    %s\njansson: %s\n", k, json,
			        again);
		assert_string_equal(json, again);
		free(again);
		json_decref(j);
		free(json);
		fl_claims_clear(&c);
	}
}

static void test_claims_encode_refuses(void **state)
{
	struct fl_device_claims c;
	char *json = (char *)1;

	(void)state;
#define REFUSE(mutation)                                                       \
	do {                                                                   \
		good_claims(&c);                                               \
		mutation;                                                      \
		assert_int_equal(fl_claims_encode(&c, &json), FL_E_CLAIMS);    \
		assert_null(json);                                             \
		fl_claims_clear(&c);                                           \
	} while (0)
	REFUSE(free(c.sub); c.sub = NULL);
	REFUSE(c.sub[0] = '\0');
	REFUSE(c.n_imei = 0);
	REFUSE(c.n_imei = 3);
	REFUSE(c.imei[1][14] = '0');
	REFUSE(c.seq = (uint64_t)INT64_MAX + 1);
	REFUSE(c.exp = c.iat - 1);
	REFUSE(c.iat = FL_TIME_MAX + 1);
	REFUSE(c.state = FL_ST_PENDING);
	REFUSE(c.state = (enum fl_dev_state)99);
	REFUSE(c.restrict_mask |= (uint64_t)1 << 40);
	REFUSE(c.amount_due = -5);
	REFUSE(memcpy(c.currency, "ke", 3));
	REFUSE(c.sim_policy = (enum fl_reaction)9);
	REFUSE(c.allow_apps[0][0] = '\0');
	REFUSE(c.message[0] = (char)0xff);
	REFUSE(c.reminders[0].at = FL_TIME_MIN - 1);
#undef REFUSE

	/* one entry over the list cap */
	good_claims(&c);
	for (size_t i = 0; i < c.n_allow_apps; i++)
		free(c.allow_apps[i]);
	free(c.allow_apps);
	c.n_allow_apps = FL_CLAIMS_MAX_LIST + 1;
	c.allow_apps = calloc(c.n_allow_apps, sizeof(char *));
	for (size_t i = 0; i < c.n_allow_apps; i++)
		c.allow_apps[i] = strdup("app");
	assert_int_equal(fl_claims_encode(&c, &json), FL_E_CLAIMS);
	c.n_allow_apps--;
	free(c.allow_apps[c.n_allow_apps]);
	assert_int_equal(fl_claims_encode(&c, &json), FL_OK);
	free(json);
	fl_claims_clear(&c);
}

static void test_claims_check(void **state)
{
	struct fl_device_claims c;
	struct fl_claims_expect e;

	(void)state;
	good_claims(&c);
	e = good_expect();
	assert_int_equal(fl_claims_check(&c, &e), FL_OK);
	e.imei = IMEI_A;
	assert_int_equal(fl_claims_check(&c, &e), FL_OK);

	/* each check, and their order: sub, imei, seq, window */
	e = good_expect();
	e.device_id = "dev-2";
	e.imei = IMEI_C;
	e.last_seq = 100;
	assert_int_equal(fl_claims_check(&c, &e), FL_E_WRONG_SUBJECT);
	e.device_id = "dev-1";
	assert_int_equal(fl_claims_check(&c, &e), FL_E_WRONG_IMEI);
	e.imei = IMEI_A;
	assert_int_equal(fl_claims_check(&c, &e), FL_E_REPLAY);
	e.last_seq = 42; /* the seq already held changes nothing */
	assert_int_equal(fl_claims_check(&c, &e), FL_E_REPLAY);
	e.last_seq = 41;
	assert_int_equal(fl_claims_check(&c, &e), FL_OK);

	/* window edges with skew */
	e.skew = 300;
	e.now = c.iat - 300;
	assert_int_equal(fl_claims_check(&c, &e), FL_OK);
	e.now = c.iat - 301;
	assert_int_equal(fl_claims_check(&c, &e), FL_E_NOT_YET_VALID);
	e.now = c.exp + 300;
	assert_int_equal(fl_claims_check(&c, &e), FL_OK);
	e.now = c.exp + 301;
	assert_int_equal(fl_claims_check(&c, &e), FL_E_EXPIRED);
	e.skew = 0;
	e.now = c.exp + 1;
	assert_int_equal(fl_claims_check(&c, &e), FL_E_EXPIRED);
	e.now = c.iat - 1;
	assert_int_equal(fl_claims_check(&c, &e), FL_E_NOT_YET_VALID);
	e.skew = -1000; /* a negative skew is no skew */
	e.now = c.iat;
	assert_int_equal(fl_claims_check(&c, &e), FL_OK);
	e.skew = INT64_MAX; /* no overflow */
	e.now = INT64_MAX;
	assert_int_equal(fl_claims_check(&c, &e), FL_OK);
	fl_claims_clear(&c);
}

static void test_device_token_verify(void **state)
{
	struct fl_device_claims c, got;
	struct fl_claims_expect e = good_expect();
	char *tok;

	(void)state;
	good_claims(&c);
	tok = device_token(&w.signer, &c);
	assert_int_equal(fl_device_token_verify(w.trust, tok, &e, &got), FL_OK);
	assert_claims_equal(&c, &got);
	fl_claims_clear(&got);

#define REFUSED(want)                                                          \
	do {                                                                   \
		memset(&got, 0x5a, sizeof(got));                               \
		assert_int_equal(                                              \
		        fl_device_token_verify(w.trust, tok, &e, &got), want); \
		assert_cleared(&got);                                          \
	} while (0)
	e.last_seq = 42;
	REFUSED(FL_E_REPLAY);
	e = good_expect();
	e.device_id = "dev-9";
	REFUSED(FL_E_WRONG_SUBJECT);
	e = good_expect();
	e.imei = IMEI_C;
	REFUSED(FL_E_WRONG_IMEI);
	e = good_expect();
	e.now = c.exp + 301;
	REFUSED(FL_E_EXPIRED);
	e.now = c.iat - 301;
	REFUSED(FL_E_NOT_YET_VALID);
	/* past its key's certificate */
	e = good_expect();
	e.now = NOW + YEAR + 1;
	REFUSED(FL_E_KEY_EXPIRED);
	free(tok);

	/* signed as another kind */
	e = good_expect();
	char *json = NULL;
	assert_int_equal(fl_claims_encode(&c, &json), FL_OK);
	tok = sign_str(&w.signer, FL_MSG_ENROLL, json);
	REFUSED(FL_E_BAD_SIGNATURE);
	free(tok);
	/* signed by the root */
	tok = sign_str(&w.root, FL_MSG_DEVICE_TOKEN, json);
	REFUSED(FL_E_UNKNOWN_KID);
	free(tok);
	free(json);

	/* a guaranteed capability in restrict, properly signed */
	json_t *j = good_json();
	json_object_set_new(j, "restrict",
	                    json_pack("[s,s]", "camera", "emergency_calls"));
	json = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	tok = sign_str(&w.signer, FL_MSG_DEVICE_TOKEN, json);
	free(json);
	REFUSED(FL_E_RESTRICT_GUARANTEED);
	free(tok);

	/* well signed, malformed claims */
	tok = sign_str(&w.signer, FL_MSG_DEVICE_TOKEN, "{\"sub\":\"dev-1\"}");
	REFUSED(FL_E_CLAIMS);
	free(tok);
#undef REFUSED
	fl_claims_clear(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_implicit_names),
	        cmocka_unit_test(test_signer_paserk),
	        cmocka_unit_test(test_footer_and_peek),
	        cmocka_unit_test(test_peek_kid_refusals),
	        cmocka_unit_test(test_verify_ok_and_payload),
	        cmocka_unit_test(test_unknown_kid_refused_before_signature),
	        cmocka_unit_test(test_flip_every_character),
	        cmocka_unit_test(test_kinds_never_interchange),
	        cmocka_unit_test(test_root_only_kinds),
	        cmocka_unit_test(test_cert_lifecycle),
	        cmocka_unit_test(test_cert_payload_strict),
	        cmocka_unit_test(test_revocation),
	        cmocka_unit_test(test_trust_capacity),
	        cmocka_unit_test(test_seq_reset),
	        cmocka_unit_test(test_claims_roundtrip),
	        cmocka_unit_test(test_claims_lock_cause),
	        cmocka_unit_test(test_claims_decode_strict),
	        cmocka_unit_test(test_claims_decode_text),
	        cmocka_unit_test(test_claims_encode_refuses),
	        cmocka_unit_test(test_claims_encode_canonical),
	        cmocka_unit_test(test_claims_check),
	        cmocka_unit_test(test_device_token_verify),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
