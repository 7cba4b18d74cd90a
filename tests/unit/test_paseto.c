/* Unit tests for core/paseto: the specification's v4.public vectors, PAE,
 * and every refusal (tampering, wrong key, implicit assertion, format). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/crypto.h"
#include "core/paseto.h"

#define VECTORS "tests/vectors/paseto/v4.public.json"

static json_t *vectors;

static int setup(void **state)
{
	json_error_t jerr;

	(void)state;
	if (fl_crypto_init() != FL_OK)
		return -1;
	vectors = json_load_file(VECTORS, 0, &jerr);
	return vectors != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	json_decref(vectors);
	return 0;
}

static const char *field(const json_t *t, const char *name)
{
	const char *s = json_string_value(json_object_get(t, name));

	assert_non_null(s);
	return s;
}

static void hex_field(const json_t *t, const char *name, uint8_t *out,
                      size_t len)
{
	const char *hex = field(t, name);

	assert_int_equal(fl_hex_decode(out, len, hex, strlen(hex)), FL_OK);
}

static const json_t *vector(const char *name)
{
	size_t i;
	json_t *t;

	json_array_foreach(json_object_get(vectors, "tests"), i, t)
	{
		if (strcmp(json_string_value(json_object_get(t, "name")),
		           name) == 0)
			return t;
	}
	fail_msg("vector %s not found", name);
	return NULL;
}

/* The Ed25519 key pair all v4.public vectors share. */
static void vector_keys(uint8_t sk[FL_SIGN_SK_LEN], uint8_t pk[FL_SIGN_PK_LEN])
{
	const json_t *t = vector("4-S-1");
	uint8_t seed[FL_SIGN_SEED_LEN], sk2[FL_SIGN_SK_LEN];

	hex_field(t, "secret-key", sk, FL_SIGN_SK_LEN);
	hex_field(t, "public-key", pk, FL_SIGN_PK_LEN);
	hex_field(t, "secret-key-seed", seed, sizeof(seed));
	fl_sign_seed_keypair(pk, sk2, seed);
	assert_memory_equal(sk, sk2, FL_SIGN_SK_LEN);
}

static fl_err verify_str(const char *token, const uint8_t *pk, const char *ia)
{
	uint8_t *m = NULL, *f = NULL;
	size_t mlen = 99, flen = 99;
	fl_err err =
	        fl_paseto_verify(&m, &mlen, &f, &flen, token, strlen(token), pk,
	                         ia, ia ? strlen(ia) : 0);

	if (err) {
		assert_null(m);
		assert_null(f);
		assert_int_equal(mlen, 0);
		assert_int_equal(flen, 0);
	}
	free(m);
	free(f);
	return err;
}

static void test_vectors_sign(void **state)
{
	static const char *const names[] = {"4-S-1", "4-S-2", "4-S-3"};
	uint8_t sk[FL_SIGN_SK_LEN], pk[FL_SIGN_PK_LEN];

	(void)state;
	vector_keys(sk, pk);
	for (size_t i = 0; i < 3; i++) {
		const json_t *t = vector(names[i]);
		const char *payload = field(t, "payload");
		const char *footer = field(t, "footer");
		const char *ia = field(t, "implicit-assertion");
		char *tok = NULL;

		assert_int_equal(fl_paseto_sign(&tok, sk, payload,
		                                strlen(payload), footer,
		                                strlen(footer), ia, strlen(ia)),
		                 FL_OK);
		assert_string_equal(tok, field(t, "token"));
		free(tok);
	}
	fl_wipe(sk, sizeof(sk));
}

static void test_vectors_verify(void **state)
{
	static const char *const names[] = {"4-S-1", "4-S-2", "4-S-3"};
	uint8_t sk[FL_SIGN_SK_LEN], pk[FL_SIGN_PK_LEN];

	(void)state;
	vector_keys(sk, pk);
	fl_wipe(sk, sizeof(sk));
	for (size_t i = 0; i < 3; i++) {
		const json_t *t = vector(names[i]);
		const char *tok = field(t, "token");
		const char *payload = field(t, "payload");
		const char *footer = field(t, "footer");
		const char *ia = field(t, "implicit-assertion");
		uint8_t *m = NULL, *f = NULL, *pf = NULL;
		size_t mlen, flen, pflen;

		assert_int_equal(fl_paseto_verify(&m, &mlen, &f, &flen, tok,
		                                  strlen(tok), pk, ia,
		                                  strlen(ia)),
		                 FL_OK);
		assert_int_equal(mlen, strlen(payload));
		assert_memory_equal(m, payload, mlen);
		assert_int_equal(m[mlen], 0);
		assert_int_equal(flen, strlen(footer));
		assert_memory_equal(f, footer, flen);
		assert_int_equal(f[flen], 0);

		assert_int_equal(
		        fl_paseto_peek_footer(&pf, &pflen, tok, strlen(tok)),
		        FL_OK);
		assert_int_equal(pflen, flen);
		assert_memory_equal(pf, footer, flen);
		free(m);
		free(f);
		free(pf);
	}
}

static void test_vectors_fail(void **state)
{
	uint8_t sk[FL_SIGN_SK_LEN], pk[FL_SIGN_PK_LEN];

	(void)state;
	vector_keys(sk, pk);
	fl_wipe(sk, sizeof(sk));
	/* v4.local and v3.local tokens are not v4.public, whatever key. */
	assert_int_equal(
	        verify_str(field(vector("4-F-1"), "token"), pk,
	                   field(vector("4-F-1"), "implicit-assertion")),
	        FL_E_PASETO_HEADER);
	assert_int_equal(
	        verify_str(field(vector("4-F-3"), "token"), pk,
	                   field(vector("4-F-3"), "implicit-assertion")),
	        FL_E_PASETO_HEADER);
	assert_int_equal(verify_str(field(vector("4-F-4"), "token"), pk, ""),
	                 FL_E_PASETO_HEADER);
	/* 4-F-2 is a v4.public token whose signature is no good. */
	assert_int_equal(
	        verify_str(field(vector("4-F-2"), "token"), pk,
	                   field(vector("4-F-2"), "implicit-assertion")),
	        FL_E_BAD_SIGNATURE);
}

static void test_pae_spec_examples(void **state)
{
	uint8_t out[64];
	size_t n;
	const void *one[1] = {""};
	size_t onelen[1] = {0};
	const void *test[1] = {"test"};
	size_t testlen[1] = {4};

	(void)state;
	assert_int_equal(fl_paseto_pae(out, sizeof(out), &n, NULL, NULL, 0),
	                 FL_OK);
	assert_int_equal(n, 8);
	assert_memory_equal(out, "\0\0\0\0\0\0\0\0", 8);
	assert_int_equal(fl_paseto_pae(out, sizeof(out), &n, one, onelen, 1),
	                 FL_OK);
	assert_int_equal(n, 16);
	assert_memory_equal(out, "\x01\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);
	assert_int_equal(fl_paseto_pae(out, sizeof(out), &n, test, testlen, 1),
	                 FL_OK);
	assert_int_equal(n, 20);
	assert_memory_equal(out, "\x01\0\0\0\0\0\0\0\x04\0\0\0\0\0\0\0test",
	                    20);
	assert_int_equal(fl_paseto_pae(out, 19, &n, test, testlen, 1),
	                 FL_E_TOO_LARGE);
	assert_int_equal(fl_paseto_pae(NULL, 0, &n, test, testlen, 1), FL_OK);
	assert_int_equal(n, 20);
}

/* A fresh token with footer and implicit assertion, and its key. */
static char *fresh_token(uint8_t pk[FL_SIGN_PK_LEN])
{
	uint8_t sk[FL_SIGN_SK_LEN];
	char *tok = NULL;

	fl_sign_keypair(pk, sk);
	assert_int_equal(fl_paseto_sign(&tok, sk, "{\"a\":1}", 7,
	                                "{\"kid\":\"x\"}", 11, "ctx", 3),
	                 FL_OK);
	fl_wipe(sk, sizeof(sk));
	return tok;
}

static void test_flip_every_character(void **state)
{
	uint8_t pk[FL_SIGN_PK_LEN];
	char *tok = fresh_token(pk);
	size_t len = strlen(tok);
	static const char alts[] = "Aa0-_.=+/ \n\x01";

	(void)state;
	assert_int_equal(verify_str(tok, pk, "ctx"), FL_OK);
	for (size_t i = 0; i < len; i++) {
		char orig = tok[i];

		for (const char *a = alts; *a; a++) {
			if (*a == orig)
				continue;
			tok[i] = *a;
			assert_int_not_equal(verify_str(tok, pk, "ctx"), FL_OK);
		}
		tok[i] = (char)(orig ^ 0x01);
		assert_int_not_equal(verify_str(tok, pk, "ctx"), FL_OK);
		tok[i] = orig;
	}
	assert_int_equal(verify_str(tok, pk, "ctx"), FL_OK);
	free(tok);
}

/* Re-encodes a token after flipping one bit of its decoded body or footer:
 * well-formed base64 each time, so only the signature can refuse it. */
static void test_flip_every_decoded_byte(void **state)
{
	uint8_t pk[FL_SIGN_PK_LEN], body[256], foot[64];
	char *tok = fresh_token(pk);
	char *dot = strchr(tok + FL_PASETO_HEADER_LEN, '.');
	size_t blen, flen;
	char forged[512];

	(void)state;
	assert_non_null(dot);
	assert_int_equal(
	        fl_b64url_decode(body, sizeof(body), &blen,
	                         tok + FL_PASETO_HEADER_LEN,
	                         (size_t)(dot - tok) - FL_PASETO_HEADER_LEN),
	        FL_OK);
	assert_int_equal(fl_b64url_decode(foot, sizeof(foot), &flen, dot + 1,
	                                  strlen(dot + 1)),
	                 FL_OK);
	for (size_t i = 0; i < (blen + flen) * 8; i++) {
		size_t byte = i / 8;
		uint8_t bit = (uint8_t)(1u << (i % 8));
		char *p = forged;

		if (byte < blen)
			body[byte] ^= bit;
		else
			foot[byte - blen] ^= bit;
		memcpy(p, FL_PASETO_HEADER, FL_PASETO_HEADER_LEN);
		p += FL_PASETO_HEADER_LEN;
		assert_int_equal(
		        fl_b64url_encode(p, sizeof(forged) - 100, body, blen),
		        FL_OK);
		p += strlen(p);
		*p++ = '.';
		assert_int_equal(fl_b64url_encode(p, 100, foot, flen), FL_OK);
		assert_int_equal(verify_str(forged, pk, "ctx"),
		                 FL_E_BAD_SIGNATURE);
		if (byte < blen)
			body[byte] ^= bit;
		else
			foot[byte - blen] ^= bit;
	}
	free(tok);
}

static void test_wrong_key_and_assertion(void **state)
{
	uint8_t pk[FL_SIGN_PK_LEN], other[FL_SIGN_PK_LEN], osk[FL_SIGN_SK_LEN];
	char *tok = fresh_token(pk);
	uint8_t *m = NULL;
	size_t mlen;

	(void)state;
	fl_sign_keypair(other, osk);
	fl_wipe(osk, sizeof(osk));
	assert_int_equal(verify_str(tok, other, "ctx"), FL_E_BAD_SIGNATURE);
	assert_int_equal(verify_str(tok, pk, NULL), FL_E_BAD_SIGNATURE);
	assert_int_equal(verify_str(tok, pk, ""), FL_E_BAD_SIGNATURE);
	assert_int_equal(verify_str(tok, pk, "ctx2"), FL_E_BAD_SIGNATURE);
	assert_int_equal(verify_str(tok, pk, "ct"), FL_E_BAD_SIGNATURE);
	/* Without asking for the footer the payload still comes back. */
	assert_int_equal(fl_paseto_verify(&m, &mlen, NULL, NULL, tok,
	                                  strlen(tok), pk, "ctx", 3),
	                 FL_OK);
	assert_int_equal(mlen, 7);
	assert_string_equal((char *)m, "{\"a\":1}");
	free(m);
	free(tok);
}

static void test_implicit_given_when_none_signed(void **state)
{
	uint8_t pk[FL_SIGN_PK_LEN], sk[FL_SIGN_SK_LEN];
	char *tok = NULL;

	(void)state;
	fl_sign_keypair(pk, sk);
	assert_int_equal(fl_paseto_sign(&tok, sk, "x", 1, NULL, 0, NULL, 0),
	                 FL_OK);
	fl_wipe(sk, sizeof(sk));
	assert_null(strchr(tok + FL_PASETO_HEADER_LEN, '.'));
	assert_int_equal(verify_str(tok, pk, NULL), FL_OK);
	assert_int_equal(verify_str(tok, pk, "ctx"), FL_E_BAD_SIGNATURE);
	free(tok);
}

static void test_format_refusals(void **state)
{
	uint8_t pk[FL_SIGN_PK_LEN];
	char *tok = fresh_token(pk);
	char buf[1024];
	char *dot = strchr(tok + FL_PASETO_HEADER_LEN, '.');
	size_t bodylen = (size_t)(dot - tok);

	(void)state;
	/* headers */
	assert_int_equal(verify_str("", pk, "ctx"), FL_E_PASETO_HEADER);
	assert_int_equal(verify_str("v4.public", pk, "ctx"),
	                 FL_E_PASETO_HEADER);
	memcpy(buf, tok, strlen(tok) + 1);
	memcpy(buf, "v4.local.", 9);
	memmove(buf + 9, tok + 10, strlen(tok + 10) + 1);
	assert_int_equal(verify_str(buf, pk, "ctx"), FL_E_PASETO_HEADER);
	memcpy(buf, tok, strlen(tok) + 1);
	buf[1] = '3';
	assert_int_equal(verify_str(buf, pk, "ctx"), FL_E_PASETO_HEADER);
	buf[1] = '4';
	buf[0] = 'V';
	assert_int_equal(verify_str(buf, pk, "ctx"), FL_E_PASETO_HEADER);
	assert_int_equal(verify_str("v2.public.AAAA", pk, NULL),
	                 FL_E_PASETO_HEADER);

	/* empty body, trailing dot, extra dots, empty footer part */
	assert_int_equal(verify_str("v4.public.", pk, NULL),
	                 FL_E_PASETO_FORMAT);
	assert_int_equal(verify_str("v4.public..eyJ9", pk, NULL),
	                 FL_E_PASETO_FORMAT);
	snprintf(buf, sizeof(buf), "%s.", tok);
	assert_int_equal(verify_str(buf, pk, "ctx"), FL_E_PASETO_FORMAT);
	snprintf(buf, sizeof(buf), "%s.AAAA", tok);
	assert_int_equal(verify_str(buf, pk, "ctx"), FL_E_PASETO_FORMAT);
	snprintf(buf, sizeof(buf), "%.*s.", (int)bodylen, tok);
	assert_int_equal(verify_str(buf, pk, "ctx"), FL_E_PASETO_FORMAT);

	/* trailing garbage and bad base64url */
	snprintf(buf, sizeof(buf), "%s\n", tok);
	assert_int_equal(verify_str(buf, pk, "ctx"), FL_E_BASE64);
	snprintf(buf, sizeof(buf), "%s=", tok);
	assert_int_equal(verify_str(buf, pk, "ctx"), FL_E_BASE64);
	snprintf(buf, sizeof(buf), "%s ", tok);
	assert_int_equal(verify_str(buf, pk, "ctx"), FL_E_BASE64);
	snprintf(buf, sizeof(buf), "%s", tok);
	buf[12] = '+';
	assert_int_equal(verify_str(buf, pk, "ctx"), FL_E_BASE64);

	/* truncated: body shorter than a signature */
	snprintf(buf, sizeof(buf), "%.*s", (int)(FL_PASETO_HEADER_LEN + 84),
	         tok);
	assert_int_equal(verify_str(buf, pk, "ctx"), FL_E_PASETO_FORMAT);
	{
		uint8_t zeros[FL_SIG_LEN - 1] = {0};
		char b64[128];

		assert_int_equal(fl_b64url_encode(b64, sizeof(b64), zeros,
		                                  sizeof(zeros)),
		                 FL_OK);
		snprintf(buf, sizeof(buf), "v4.public.%s", b64);
		assert_int_equal(verify_str(buf, pk, NULL), FL_E_PASETO_FORMAT);
	}
	/* cut in the middle of the body: not canonical or too short */
	for (size_t cut = FL_PASETO_HEADER_LEN + 1; cut < bodylen; cut++) {
		snprintf(buf, sizeof(buf), "%.*s", (int)cut, tok);
		assert_int_not_equal(verify_str(buf, pk, "ctx"), FL_OK);
	}
	/* an embedded NUL within the stated length */
	{
		uint8_t *m = NULL, *f = NULL;
		size_t mlen, flen;

		memcpy(buf, tok, strlen(tok) + 1);
		buf[20] = '\0';
		assert_int_not_equal(fl_paseto_verify(&m, &mlen, &f, &flen, buf,
		                                      strlen(tok), pk, "ctx",
		                                      3),
		                     FL_OK);
		assert_null(m);
	}
	free(tok);
}

static void test_size_cap(void **state)
{
	uint8_t pk[FL_SIGN_PK_LEN], sk[FL_SIGN_SK_LEN];
	size_t big = FL_PASETO_MAX_TOKEN;
	char *msg = malloc(big + 2);
	char *tok = NULL;
	uint8_t *f = NULL;
	size_t flen;

	(void)state;
	assert_non_null(msg);
	fl_sign_keypair(pk, sk);
	memset(msg, 'v', big + 1);
	msg[big + 1] = '\0';
	assert_int_equal(fl_paseto_sign(&tok, sk, msg, big, NULL, 0, NULL, 0),
	                 FL_E_TOO_LARGE);
	assert_null(tok);
	/* The largest payload that still fits is accepted both ways. */
	size_t fit = 0;
	while (FL_PASETO_HEADER_LEN +
	               fl_b64url_encoded_len(fit + 1 + FL_SIG_LEN) <=
	       FL_PASETO_MAX_TOKEN)
		fit++;
	assert_int_equal(fl_paseto_sign(&tok, sk, msg, fit, NULL, 0, NULL, 0),
	                 FL_OK);
	assert_true(strlen(tok) <= FL_PASETO_MAX_TOKEN);
	assert_int_equal(verify_str(tok, pk, NULL), FL_OK);
	free(tok);
	tok = NULL;
	assert_int_equal(
	        fl_paseto_sign(&tok, sk, msg, fit + 1, NULL, 0, NULL, 0),
	        FL_E_TOO_LARGE);
	/* A string over the cap is refused before anything else. */
	memcpy(msg, "v4.public.", 10);
	assert_int_equal(verify_str(msg, pk, NULL), FL_E_TOO_LARGE);
	assert_int_equal(fl_paseto_peek_footer(&f, &flen, msg, big + 1),
	                 FL_E_TOO_LARGE);
	assert_null(f);
	fl_wipe(sk, sizeof(sk));
	free(msg);
}

static void test_roundtrip(void **state)
{
	uint8_t pk[FL_SIGN_PK_LEN], sk[FL_SIGN_SK_LEN];
	uint8_t msg[300], foot[50];

	(void)state;
	fl_sign_keypair(pk, sk);
	for (size_t len = 0; len < sizeof(msg); len += 37) {
		for (size_t flen = 0; flen < sizeof(foot); flen += 13) {
			char *tok = NULL;
			uint8_t *m = NULL, *f = NULL;
			size_t mlen, fl;

			fl_random(msg, len);
			fl_random(foot, flen);
			assert_int_equal(fl_paseto_sign(&tok, sk, msg, len,
			                                foot, flen, "ia", 2),
			                 FL_OK);
			assert_int_equal(fl_paseto_verify(&m, &mlen, &f, &fl,
			                                  tok, strlen(tok), pk,
			                                  "ia", 2),
			                 FL_OK);
			assert_int_equal(mlen, len);
			assert_int_equal(fl, flen);
			assert_memory_equal(m, msg, len);
			assert_memory_equal(f, foot, flen);
			free(m);
			free(f);
			free(tok);
		}
	}
	fl_wipe(sk, sizeof(sk));
}

static void test_peek_footer(void **state)
{
	uint8_t pk[FL_SIGN_PK_LEN];
	char *tok = fresh_token(pk);
	uint8_t *f = NULL;
	size_t flen;

	(void)state;
	assert_int_equal(fl_paseto_peek_footer(&f, &flen, tok, strlen(tok)),
	                 FL_OK);
	assert_int_equal(flen, 11);
	assert_string_equal((char *)f, "{\"kid\":\"x\"}");
	free(f);
	f = NULL;
	/* Peeking checks the shape, not the signature. */
	tok[FL_PASETO_HEADER_LEN] ^= 0x01;
	assert_int_equal(fl_paseto_peek_footer(&f, &flen, tok, strlen(tok)),
	                 FL_OK);
	free(f);
	f = NULL;
	assert_int_equal(fl_paseto_peek_footer(&f, &flen, "v4.local.AAAA", 13),
	                 FL_E_PASETO_HEADER);
	assert_null(f);
	assert_int_equal(fl_paseto_peek_footer(&f, &flen, "v4.public.AAAA", 14),
	                 FL_E_PASETO_FORMAT);
	assert_null(f);
	free(tok);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_vectors_sign),
	        cmocka_unit_test(test_vectors_verify),
	        cmocka_unit_test(test_vectors_fail),
	        cmocka_unit_test(test_pae_spec_examples),
	        cmocka_unit_test(test_flip_every_character),
	        cmocka_unit_test(test_flip_every_decoded_byte),
	        cmocka_unit_test(test_wrong_key_and_assertion),
	        cmocka_unit_test(test_implicit_given_when_none_signed),
	        cmocka_unit_test(test_format_refusals),
	        cmocka_unit_test(test_size_cap),
	        cmocka_unit_test(test_roundtrip),
	        cmocka_unit_test(test_peek_footer),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
