/*
 * tokpack.c - a token's payload packed against a reference (tokpack.h).
 */
#include "server/tokpack.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "core/paseto.h"

#define PACK_MIN  4    /* shortest copy out of the reference */
#define PACK_HASH 4096 /* slots of the reference's index (power of two) */

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

/* Where t + i's 4 bytes were last seen in t (a position + 1, 0 none). */
static void see(uint16_t *own, const uint8_t *t, size_t i, size_t n)
{
	if (i + PACK_MIN <= n && i < UINT16_MAX)
		own[hash4(t + i)] = (uint16_t)(i + 1);
}

size_t fl_tokpack_pack(const struct fl_tokpack *c, const uint8_t *t, size_t n,
                       uint8_t *out)
{
	uint16_t own[PACK_HASH] = {0};
	size_t i = 0, lit = 0, w = 0, next = 0;

	while (i + PACK_MIN <= n) {
		size_t best = 0, off = 0, k;

		/* where the last copy out of the reference ended, then the
		 * reference's candidate, then the token's own earlier bytes */
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
		k = own[hash4(t + i)];
		if (k > 0) {
			/* may run into the bytes it makes (unpacked in order) */
			size_t m = match_len(t + k - 1, n - k + 1, t + i, n - i);

			if (m > best) {
				best = m;
				off = c->ref_len + k - 1;
			}
		}
		if (best < PACK_MIN) {
			see(own, t, i, n);
			i++;
			continue;
		}
		w += put_varint(out + w, i - lit);
		memcpy(out + w, t + lit, i - lit);
		w += i - lit;
		w += put_varint(out + w, best);
		w += put_varint(out + w, off);
		for (size_t e = i + best; i < e; i++)
			see(own, t, i, n);
		lit = i;
		next = off < c->ref_len ? off + best : c->ref_len;
	}
	w += put_varint(out + w, n - lit);
	memcpy(out + w, t + lit, n - lit);
	return w + n - lit;
}

fl_err fl_tokpack_unpack(const struct fl_tokpack *c, const uint8_t *data,
                         size_t len, size_t payload, uint8_t *out)
{
	const uint8_t *r = data, *end = data + len;
	size_t o = 0, n, off;

	for (;;) {
		if (!get_varint(&r, end, &n) || n > (size_t)(end - r) ||
		    n > payload - o)
			return FL_E_INTERNAL;
		memcpy(out + o, r, n);
		r += n;
		o += n;
		if (o == payload)
			return r == end ? FL_OK : FL_E_INTERNAL;
		if (!get_varint(&r, end, &n) || !get_varint(&r, end, &off) ||
		    n > payload - o)
			return FL_E_INTERNAL;
		if (off < c->ref_len) {
			if (n > c->ref_len - off)
				return FL_E_INTERNAL;
			memcpy(out + o, c->ref + off, n);
		} else {
			/* out of the bytes made so far, in order: a copy may
			 * repeat the bytes it makes */
			off -= c->ref_len;
			if (off >= o)
				return FL_E_INTERNAL;
			if (off + n <= o)
				memcpy(out + o, out + off, n);
			else
				for (size_t k = 0; k < n; k++)
					out[o + k] = out[off + k];
		}
		o += n;
	}
}

fl_err fl_tokpack_set(struct fl_tokpack *c, const uint8_t *claims, size_t len,
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

void fl_tokpack_clear(struct fl_tokpack *c)
{
	free(c->ref);
	free(c->index);
	free(c->suffix);
	memset(c, 0, sizeof(*c));
}

/* The values of base64url characters (64: not one), built once. */
static uint8_t b64_values[256];
static pthread_once_t b64_values_once = PTHREAD_ONCE_INIT;

static void b64_values_build(void)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq"
	                        "rstuvwxyz0123456789-_";

	memset(b64_values, 64, sizeof(b64_values));
	for (int i = 0; i < 64; i++)
		b64_values[(uint8_t)a[i]] = (uint8_t)i;
}

/* Decodes unpadded base64url in[len] (public data: not constant time)
 * into out (room for len * 3 / 4 bytes), *n its length. As strict as
 * fl_b64url_decode: a character outside the alphabet, a length of 4k + 1
 * or unused bits set in the last character are FL_E_INVALID. */
static fl_err b64url_decode(uint8_t *out, size_t *n, const char *in,
                            size_t len)
{
	const uint8_t *v = b64_values;
	size_t i = 0, o = 0;

	pthread_once(&b64_values_once, b64_values_build);
	*n = 0;
	if (len % 4 == 1)
		return FL_E_INVALID;
	for (; i + 4 <= len; i += 4) {
		uint8_t a = v[(uint8_t)in[i]], b = v[(uint8_t)in[i + 1]],
		        c = v[(uint8_t)in[i + 2]], d = v[(uint8_t)in[i + 3]];

		if ((a | b | c | d) & 64)
			return FL_E_INVALID;
		out[o++] = (uint8_t)(a << 2 | b >> 4);
		out[o++] = (uint8_t)(b << 4 | c >> 2);
		out[o++] = (uint8_t)(c << 6 | d);
	}
	if (len - i >= 2) {
		uint8_t a = v[(uint8_t)in[i]], b = v[(uint8_t)in[i + 1]];
		uint8_t c = len - i == 3 ? v[(uint8_t)in[i + 2]] : 0;

		if ((a | b | c) & 64)
			return FL_E_INVALID;
		out[o++] = (uint8_t)(a << 2 | b >> 4);
		if (len - i == 3) {
			if ((c & 3) != 0)
				return FL_E_INVALID;
			out[o++] = (uint8_t)(b << 4 | c >> 2);
		} else if ((b & 15) != 0) {
			return FL_E_INVALID;
		}
	}
	*n = o;
	return FL_OK;
}

fl_err fl_tokpack_payload(const char *text, size_t len, uint8_t **bin,
                          size_t *n, const char **suffix)
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
	err = b64url_decode(*bin, n, body, b64len);
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

void fl_tokpack_b64url(char *out, const uint8_t *bin, size_t n)
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
