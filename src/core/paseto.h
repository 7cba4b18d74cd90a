/*
 * paseto.h - PASETO v4.public tokens (Ed25519), the generic layer.
 *
 * A v4.public token is
 *
 *     "v4.public." || b64url(m || sig) [ || "." || b64url(f) ]
 *
 * where m is the payload, f the optional footer and sig the Ed25519
 * signature of PAE("v4.public.", m, f, i), i being the optional implicit
 * assertion: bytes both sides know that never travel in the token. PAE is
 * the specification's pre-authentication encoding: the number of pieces,
 * then each piece's length, as 64-bit little-endian integers with the top
 * bit cleared, each length followed by its piece.
 *
 * This layer knows nothing of claims or key ids: the footer is opaque bytes
 * that the signature covers, and verification checks the signature only.
 * finlock's meaning of footers and payloads lives in core/token.
 *
 * Refusals: a header other than "v4.public." is FL_E_PASETO_HEADER; bad
 * base64url is FL_E_BASE64; a wrong shape (extra dots, an empty footer part,
 * a body shorter than a signature) is FL_E_PASETO_FORMAT; a token longer
 * than FL_PASETO_MAX_TOKEN is FL_E_TOO_LARGE; a signature that does not
 * verify (changed payload or footer, wrong key, missing or different
 * implicit assertion) is FL_E_BAD_SIGNATURE.
 *
 * Memory: buffers returned through `**out` parameters are heap memory the
 * caller owns and frees with free(); each carries one extra NUL byte after
 * its length so text can be used as a C string. On error they are NULL.
 *
 * THREAD SAFETY: pure; safe from any thread once fl_crypto_init() has run.
 */
#ifndef FL_PASETO_H
#define FL_PASETO_H

#include <stddef.h>
#include <stdint.h>

#include "core/crypto.h"
#include "core/err.h"

#define FL_PASETO_HEADER     "v4.public."
#define FL_PASETO_HEADER_LEN 10
/* Longest token this layer signs or verifies, in bytes. */
#define FL_PASETO_MAX_TOKEN (64 * 1024)

/* Signs msg[msglen] with the Ed25519 secret key sk. footer and implicit may
 * be NULL when their length is 0; an empty footer adds no footer part. On
 * success *token is a NUL-terminated token the caller frees; FL_E_TOO_LARGE
 * if it would exceed FL_PASETO_MAX_TOKEN. sk is only read. */
fl_err fl_paseto_sign(char **token, const uint8_t sk[FL_SIGN_SK_LEN],
                      const void *msg, size_t msglen, const void *footer,
                      size_t footerlen, const void *implicit,
                      size_t implicitlen) FL_MUST_USE;

/* fl_paseto_sign that also gives the signature it made in sig. */
fl_err fl_paseto_sign_sig(char **token, uint8_t sig[FL_SIG_LEN],
                          const uint8_t sk[FL_SIGN_SK_LEN], const void *msg,
                          size_t msglen, const void *footer, size_t footerlen,
                          const void *implicit,
                          size_t implicitlen) FL_MUST_USE;

/* The token fl_paseto_sign makes of msg[msglen] and footer, given the
 * signature sig it made over them (and its implicit assertion): the same
 * text, without signing. The caller vouches that sig is that signature
 * (one it made and kept, authenticated); nothing here checks it. */
fl_err fl_paseto_assemble(char **token, const void *msg, size_t msglen,
                          const uint8_t sig[FL_SIG_LEN], const void *footer,
                          size_t footerlen) FL_MUST_USE;

/* Verifies token[len] under pk with the implicit assertion
 * implicit[implicitlen] (NULL/0 for none). On success *msg / *msglen receive
 * the payload and, if footer is not NULL, *footer / *footerlen the footer
 * (an empty footer is a 1-byte allocation holding NUL, length 0). Both are
 * the caller's to free. */
fl_err fl_paseto_verify(uint8_t **msg, size_t *msglen, uint8_t **footer,
                        size_t *footerlen, const char *token, size_t len,
                        const uint8_t pk[FL_SIGN_PK_LEN], const void *implicit,
                        size_t implicitlen) FL_MUST_USE;

/* Checks the token's shape and returns its footer WITHOUT verifying
 * anything (to choose the key that will verify it). *footer is the caller's
 * to free; a token without footer gives length 0. */
fl_err fl_paseto_peek_footer(uint8_t **footer, size_t *footerlen,
                             const char *token, size_t len) FL_MUST_USE;

/* The pre-authentication encoding of n pieces into out[outcap]; *outlen
 * receives the length. With out NULL only *outlen is computed. FL_E_TOO_LARGE
 * if outcap is short or the length overflows. */
fl_err fl_paseto_pae(uint8_t *out, size_t outcap, size_t *outlen,
                     const void *const *pieces, const size_t *lens,
                     size_t n) FL_MUST_USE;

#endif
