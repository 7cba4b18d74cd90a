#include "core/paseto.h"

#include <stdlib.h>
#include <string.h>

/* The two base64url parts of a token, borrowed from the token string. */
struct parts {
	const char *body; /* b64url(m || sig) */
	size_t bodylen;
	const char *foot; /* b64url(footer); NULL when the token has none */
	size_t footlen;
};

static void put_le64(uint8_t *p, uint64_t v)
{
	/* The specification clears the top bit so that implementations with
	 * signed 64-bit integers read the same value. */
	v &= UINT64_C(0x7fffffffffffffff);
	for (int i = 0; i < 8; i++) {
		p[i] = (uint8_t)(v & 0xff);
		v >>= 8;
	}
}

fl_err fl_paseto_pae(uint8_t *out, size_t outcap, size_t *outlen,
                     const void *const *pieces, const size_t *lens, size_t n)
{
	size_t total = 8;

	*outlen = 0;
	for (size_t i = 0; i < n; i++) {
		if (__builtin_add_overflow(total, 8, &total) ||
		    __builtin_add_overflow(total, lens[i], &total))
			return FL_E_TOO_LARGE;
	}
	if (out == NULL) {
		*outlen = total;
		return FL_OK;
	}
	if (outcap < total)
		return FL_E_TOO_LARGE;

	uint8_t *p = out;
	put_le64(p, (uint64_t)n);
	p += 8;
	for (size_t i = 0; i < n; i++) {
		put_le64(p, (uint64_t)lens[i]);
		p += 8;
		if (lens[i] > 0)
			memcpy(p, pieces[i], lens[i]);
		p += lens[i];
	}
	*outlen = total;
	return FL_OK;
}

/* PAE(h, m, f, i) in a fresh heap buffer the caller frees. */
static fl_err pae4(uint8_t **out, size_t *outlen, const void *m, size_t mlen,
                   const void *f, size_t flen, const void *i, size_t ilen)
{
	const void *pieces[4] = {FL_PASETO_HEADER, m, f, i};
	const size_t lens[4] = {FL_PASETO_HEADER_LEN, mlen, flen, ilen};
	uint8_t *buf = NULL;
	size_t n = 0;
	fl_err err;

	*out = NULL;
	*outlen = 0;
	err = fl_paseto_pae(NULL, 0, &n, pieces, lens, 4);
	if (err)
		goto out;
	buf = malloc(n);
	if (buf == NULL) {
		err = FL_E_NOMEM;
		goto out;
	}
	err = fl_paseto_pae(buf, n, outlen, pieces, lens, 4);
	if (err)
		goto out;
	*out = buf;
	buf = NULL;
out:
	free(buf);
	return err;
}

fl_err fl_paseto_assemble(char **token, const void *msg, size_t msglen,
                          const uint8_t sig[FL_SIG_LEN], const void *footer,
                          size_t footerlen)
{
	uint8_t *body = NULL;
	char *tok = NULL;
	size_t total, cap, off;
	fl_err err;

	*token = NULL;
	/* Refuse early what could never make a token of acceptable size, so
	 * the length arithmetic below cannot overflow. */
	if (msglen > FL_PASETO_MAX_TOKEN || footerlen > FL_PASETO_MAX_TOKEN) {
		err = FL_E_TOO_LARGE;
		goto out;
	}
	total = FL_PASETO_HEADER_LEN +
	        fl_b64url_encoded_len(msglen + FL_SIG_LEN);
	if (footerlen > 0)
		total += 1 + fl_b64url_encoded_len(footerlen);
	if (total > FL_PASETO_MAX_TOKEN) {
		err = FL_E_TOO_LARGE;
		goto out;
	}
	body = malloc(msglen + FL_SIG_LEN);
	if (body == NULL) {
		err = FL_E_NOMEM;
		goto out;
	}
	if (msglen > 0)
		memcpy(body, msg, msglen);
	memcpy(body + msglen, sig, FL_SIG_LEN);

	cap = total + 1;
	tok = malloc(cap);
	if (tok == NULL) {
		err = FL_E_NOMEM;
		goto out;
	}
	memcpy(tok, FL_PASETO_HEADER, FL_PASETO_HEADER_LEN);
	off = FL_PASETO_HEADER_LEN;
	/* the message and its signature are public: the table encoder */
	err = fl_b64url_encode_public(tok + off, cap - off, body,
	                              msglen + FL_SIG_LEN);
	if (err)
		goto out;
	off += fl_b64url_encoded_len(msglen + FL_SIG_LEN);
	if (footerlen > 0) {
		tok[off++] = '.';
		err = fl_b64url_encode_public(tok + off, cap - off, footer,
		                              footerlen);
		if (err)
			goto out;
	}
	*token = tok;
	tok = NULL;
out:
	free(tok);
	free(body);
	return err;
}

fl_err fl_paseto_sign(char **token, const uint8_t sk[FL_SIGN_SK_LEN],
                      const void *msg, size_t msglen, const void *footer,
                      size_t footerlen, const void *implicit,
                      size_t implicitlen)
{
	uint8_t sig[FL_SIG_LEN];

	return fl_paseto_sign_sig(token, sig, sk, msg, msglen, footer,
	                          footerlen, implicit, implicitlen);
}

fl_err fl_paseto_sign_sig(char **token, uint8_t sig[FL_SIG_LEN],
                          const uint8_t sk[FL_SIGN_SK_LEN], const void *msg,
                          size_t msglen, const void *footer, size_t footerlen,
                          const void *implicit, size_t implicitlen)
{
	uint8_t *pae = NULL;
	size_t paelen = 0;
	fl_err err;

	*token = NULL;
	memset(sig, 0, FL_SIG_LEN);
	/* the same bounds as fl_paseto_assemble's, before any work */
	if (msglen > FL_PASETO_MAX_TOKEN || footerlen > FL_PASETO_MAX_TOKEN ||
	    FL_PASETO_HEADER_LEN + fl_b64url_encoded_len(msglen + FL_SIG_LEN) +
	                    (footerlen > 0 ? 1 + fl_b64url_encoded_len(footerlen)
	                                   : 0) >
	            FL_PASETO_MAX_TOKEN)
		return FL_E_TOO_LARGE;
	err = pae4(&pae, &paelen, msg, msglen, footer, footerlen, implicit,
	           implicitlen);
	if (err)
		return err;
	fl_sign_detached(sig, pae, paelen, sk);
	free(pae);
	err = fl_paseto_assemble(token, msg, msglen, sig, footer, footerlen);
	if (err)
		memset(sig, 0, FL_SIG_LEN);
	return err;
}

static fl_err split(const char *token, size_t len, struct parts *p)
{
	const char *rest, *dot;
	size_t restlen;

	memset(p, 0, sizeof(*p));
	if (len > FL_PASETO_MAX_TOKEN)
		return FL_E_TOO_LARGE;
	if (len < FL_PASETO_HEADER_LEN ||
	    memcmp(token, FL_PASETO_HEADER, FL_PASETO_HEADER_LEN) != 0)
		return FL_E_PASETO_HEADER;
	rest = token + FL_PASETO_HEADER_LEN;
	restlen = len - FL_PASETO_HEADER_LEN;
	dot = memchr(rest, '.', restlen);
	p->body = rest;
	p->bodylen = dot != NULL ? (size_t)(dot - rest) : restlen;
	if (dot != NULL) {
		p->foot = dot + 1;
		p->footlen = restlen - p->bodylen - 1;
		/* A token without footer has no trailing dot; a token with
		 * one has exactly one more part. */
		if (p->footlen == 0 || memchr(p->foot, '.', p->footlen) != NULL)
			return FL_E_PASETO_FORMAT;
	}
	if (p->bodylen == 0)
		return FL_E_PASETO_FORMAT;
	return FL_OK;
}

/* Decodes b64[len] into a fresh buffer with one spare byte set to NUL. */
static fl_err decode_alloc(uint8_t **out, size_t *outlen, const char *b64,
                           size_t len)
{
	size_t cap = len / 4 * 3 + 3;
	uint8_t *buf = malloc(cap + 1);
	fl_err err;

	*out = NULL;
	*outlen = 0;
	if (buf == NULL)
		return FL_E_NOMEM;
	err = fl_b64url_decode(buf, cap, outlen, b64, len);
	if (err) {
		free(buf);
		*outlen = 0;
		return err == FL_E_TOO_LARGE ? FL_E_PASETO_FORMAT : err;
	}
	buf[*outlen] = 0;
	*out = buf;
	return FL_OK;
}

fl_err fl_paseto_peek_footer(uint8_t **footer, size_t *footerlen,
                             const char *token, size_t len)
{
	struct parts p;
	uint8_t *body = NULL;
	size_t bodylen = 0;
	fl_err err;

	*footer = NULL;
	*footerlen = 0;
	err = split(token, len, &p);
	if (err)
		goto out;
	/* The body must be well-formed too, so that peeking and verifying
	 * agree on which tokens are tokens at all. */
	err = decode_alloc(&body, &bodylen, p.body, p.bodylen);
	if (err)
		goto out;
	if (bodylen < FL_SIG_LEN) {
		err = FL_E_PASETO_FORMAT;
		goto out;
	}
	if (p.foot != NULL) {
		err = decode_alloc(footer, footerlen, p.foot, p.footlen);
	} else {
		*footer = calloc(1, 1);
		if (*footer == NULL)
			err = FL_E_NOMEM;
	}
out:
	free(body);
	return err;
}

fl_err fl_paseto_verify(uint8_t **msg, size_t *msglen, uint8_t **footer,
                        size_t *footerlen, const char *token, size_t len,
                        const uint8_t pk[FL_SIGN_PK_LEN], const void *implicit,
                        size_t implicitlen)
{
	struct parts p;
	uint8_t *body = NULL, *foot = NULL, *pae = NULL;
	size_t bodylen = 0, flen = 0, paelen = 0, mlen;
	uint8_t sig[FL_SIG_LEN];
	fl_err err;

	*msg = NULL;
	*msglen = 0;
	if (footer != NULL) {
		*footer = NULL;
		*footerlen = 0;
	}
	err = split(token, len, &p);
	if (err)
		goto out;
	err = decode_alloc(&body, &bodylen, p.body, p.bodylen);
	if (err)
		goto out;
	if (bodylen < FL_SIG_LEN) {
		err = FL_E_PASETO_FORMAT;
		goto out;
	}
	if (p.foot != NULL) {
		err = decode_alloc(&foot, &flen, p.foot, p.footlen);
		if (err)
			goto out;
	} else {
		foot = calloc(1, 1);
		if (foot == NULL) {
			err = FL_E_NOMEM;
			goto out;
		}
	}
	mlen = bodylen - FL_SIG_LEN;
	memcpy(sig, body + mlen, FL_SIG_LEN);
	err = pae4(&pae, &paelen, body, mlen, foot, flen, implicit,
	           implicitlen);
	if (err)
		goto out;
	err = fl_sign_verify(sig, pae, paelen, pk);
	if (err)
		goto out;

	body[mlen] = 0; /* the payload becomes a C string in place */
	*msg = body;
	*msglen = mlen;
	body = NULL;
	if (footer != NULL) {
		*footer = foot;
		*footerlen = flen;
		foot = NULL;
	}
out:
	free(pae);
	free(foot);
	free(body);
	return err;
}
