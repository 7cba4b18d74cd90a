/*
 * webhooks.h - sending the outbox's events to the lender's endpoints
 * (docs/webhooks.md), as the Standard Webhooks specification says.
 *
 * Every request carries webhook-id (the event id), webhook-timestamp
 * (seconds, when sent) and webhook-signature with two signatures over
 * "id.timestamp.body":
 *
 *   v1,<base64 HMAC-SHA256>   under the endpoint's secret (whsec_...,
 *                             derived from server.secret, the endpoint id
 *                             and its secret generation: never stored)
 *   v1a,<base64 Ed25519>      by the server's webhook signing key, which
 *                             the operator's root certifies with a
 *                             certificate of its own kind (a webhook key
 *                             can never sign a device token)
 *
 * Sender threads claim deliveries from the store (an endpoint's oldest
 * pending one, leased, so one finlockd of several sharing PostgreSQL
 * sends it), POST them with libcurl under a bounded timeout, and record
 * the outcome: 2xx delivered; 410 disables the endpoint; anything else is
 * retried on the schedule of fl_webhook_retry_delay for about three days,
 * then failed. The address a URL resolves to is checked at every
 * connection (loopback, private, link-local and similar networks are
 * refused unless webhook_allow_private), redirects are not followed and
 * proxies from the environment are not used.
 *
 * THREAD SAFETY: fl_webhooks_start/stop from the main thread; the pure
 * functions from any thread.
 */
#ifndef FL_SERVER_WEBHOOKS_H
#define FL_SERVER_WEBHOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/crypto.h"
#include "core/err.h"
#include "core/fltime.h"
#include "core/paserk.h"
#include "core/token.h"

struct fl_app;
struct fl_webhooks;

#define FL_WH_SECRET_LEN  24 /* bytes of an endpoint's HMAC key */
#define FL_WH_SECRET_TEXT 48 /* "whsec_" + base64 of them + NUL */
#define FL_WH_ATTEMPTS    15 /* attempts before a delivery fails */
#define FL_WH_SIG_MAX     256 /* "v1,<44> v1a,<88>" */

/* The secret of endpoint id at generation gen, as raw key bytes and as
 * the "whsec_..." text the lender is given (either may be NULL). */
void fl_webhook_secret(const uint8_t key[FL_MAC_KEY_LEN], const char *id,
                       int64_t gen, uint8_t raw[FL_WH_SECRET_LEN],
                       char text[FL_WH_SECRET_TEXT]);

/* The webhook-signature header value for msg_id, ts and body[len]:
 * "v1,<hmac>", then " v1,<hmac under prev>" when prev is not NULL (the
 * secret a rotation replaced, while it overlaps), and " v1a,<ed25519>"
 * when sk is not NULL. */
fl_err fl_webhook_signature(const uint8_t secret[FL_WH_SECRET_LEN],
                            const uint8_t *prev, const uint8_t *sk,
                            const char *msg_id,
                            int64_t ts, const char *body, size_t len,
                            char out[FL_WH_SIG_MAX]) FL_MUST_USE;

/* Seconds to wait after attempt number `attempts` (1: the first) failed,
 * for a first retry of base_ms: 1, 6, 24, 120, 360, 720, 1440, 2880, 5760,
 * 8640 (x5) times base (base 5 s: 5 s ... 12 h, 3.1 days in all); -1 once
 * FL_WH_ATTEMPTS were made. */
int64_t fl_webhook_retry_delay(int attempts, int base_ms);

/* Whether a connection to addr (16 bytes, IPv4 mapped) is refused when
 * private targets are not allowed: loopback, RFC 1918, CGNAT, link-local,
 * unique-local, multicast, unspecified, documentation and benchmarking
 * networks. */
bool fl_webhook_addr_private(const uint8_t addr[16]);

/* The webhook signing key: kid, public key (k4.public and base64 of the
 * raw 32 bytes), the root certificate ("" when none is installed) and the
 * root (k4.public, "" none). */
struct fl_webhook_key_info {
	char kid[FL_PASERK_PID_SIZE];
	char pk[FL_PASERK_PUBLIC_SIZE];
	char pk_b64[48];
	char root[FL_PASERK_PUBLIC_SIZE];
	char *cert; /* borrowed from the sender set */
};

/* Loads (creating on first start) DATA/webhook.k4secret and its
 * certificate (DATA/webhook.cert, else one from a development root), and
 * starts cfg.webhook_senders threads. *out is freed by fl_webhooks_stop. */
fl_err fl_webhooks_start(struct fl_webhooks **out,
                         struct fl_app *app) FL_MUST_USE;
/* Stops the threads (an attempt in flight ends within its timeout; its
 * lease lets another sender retry it) and frees w. NULL is a no-op. */
void fl_webhooks_stop(struct fl_webhooks *w);

/* The signing key's public facts. */
void fl_webhooks_key_info(const struct fl_webhooks *w,
                          struct fl_webhook_key_info *out);

/* Installs cert (`finlock key certify --webhook`) as DATA/webhook.cert of
 * data directory dir once it is the root_pk's certificate, unexpired at
 * now, of the key in DATA/webhook.k4secret; kid receives that key's id.
 * FL_E_BAD_SIGNATURE if root_pk did not sign it as a webhook key's,
 * FL_E_AUTH if it certifies another key,
 * FL_E_NOT_FOUND without DATA/webhook.k4secret. */
fl_err fl_webhooks_install_cert(const char *dir,
                                const uint8_t root_pk[FL_SIGN_PK_LEN],
                                const char *cert, fl_time now,
                                char kid[FL_KID_MAX]) FL_MUST_USE;

#endif
