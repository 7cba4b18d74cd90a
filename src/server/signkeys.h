/*
 * signkeys.h - finlockd's online signing keys and its trust anchor.
 *
 * finlockd signs every message (device tokens, IMEI certificates, audit
 * heads, ...) with an online Ed25519 key that the operator's root key has
 * certified (docs/server.md "Keys and trust"). The root key itself stays
 * offline: finlockd holds only its public half (the trust anchor that phones
 * carry in firmware) and the certificates it signed.
 *
 * On disk, in the data directory:
 *   keys.json              the manifest: root public key, and per signing
 *                          key its kid, k4.public, creation and retirement
 *                          times, certificate and its not_after
 *   keys/<kid>.k4secret    each signing key's secret (mode 0600)
 *   dev-root.k4secret      only in development mode (below), mode 0600
 *
 * Development mode: when finlockd serves with no root public key
 * configured, it creates a development root key in dev-root.k4secret,
 * certifies its signing keys with it and logs a loud warning. A production
 * operator instead runs `finlockd keys list` to get the signing key's
 * k4.public, certifies it offline (`finlock key certify`) and installs the
 * certificate with `finlockd keys accept-cert CERT --root K4PUBLIC`; that
 * replaces a development root (and deletes its secret).
 *
 * The signer is the newest key that is certified, unexpired and not
 * retired; `keys rotate` adds a key, which becomes the signer once it has a
 * certificate; the older keys stay valid (for verifiers) until retired.
 *
 * THREAD SAFETY: fl_signkeys_sign and the read functions may run from any
 * number of threads; changes (rotate, accept, retire, reload) take a write
 * lock and may run concurrently with them.
 */
#ifndef FL_SERVER_SIGNKEYS_H
#define FL_SERVER_SIGNKEYS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"
#include "core/fltime.h"
#include "core/paserk.h"
#include "core/token.h"

struct fl_signkeys;

/* Opens the keys in data_dir, creating a first signing key if there is
 * none. With dev_root, a missing root is replaced by a development root
 * (created if needed) that certifies every uncertified key for cert_days.
 * *out is freed with fl_signkeys_free(). */
fl_err fl_signkeys_open(struct fl_signkeys **out, const char *data_dir,
                        bool dev_root, int cert_days, fl_time now) FL_MUST_USE;
void fl_signkeys_free(struct fl_signkeys *ks);

/* Re-reads the manifest and key files (after `keys` commands ran in
 * another process). */
fl_err fl_signkeys_reload(struct fl_signkeys *ks, fl_time now) FL_MUST_USE;

/* Signs payload[len] as kind with the current signer. *token (caller
 * frees) is the v4.public token; kid (may be NULL) receives the signer's
 * kid. FL_E_STATE if no key is certified and valid at now. */
fl_err fl_signkeys_sign(struct fl_signkeys *ks, enum fl_msg_kind kind,
                        const char *payload, size_t len, fl_time now,
                        char **token, char kid[FL_KID_MAX]) FL_MUST_USE;
/* fl_signkeys_sign that also gives the signature in sig. */
fl_err fl_signkeys_sign_sig(struct fl_signkeys *ks, enum fl_msg_kind kind,
                            const char *payload, size_t len, fl_time now,
                            char **token, char kid[FL_KID_MAX],
                            uint8_t sig[FL_SIG_LEN]) FL_MUST_USE;
/* The kid of the key fl_signkeys_sign would sign with at now;
 * FL_E_STATE (kid "") if none. */
fl_err fl_signkeys_current(struct fl_signkeys *ks, fl_time now,
                           char kid[FL_KID_MAX]) FL_MUST_USE;

/* True when kid is one of the keys (retired or not). */
bool fl_signkeys_has(struct fl_signkeys *ks, const char *kid);

/* The root public key (k4.public) into out; FL_E_NOT_FOUND if none. */
fl_err fl_signkeys_root(struct fl_signkeys *ks,
                        char out[FL_PASERK_PUBLIC_SIZE]) FL_MUST_USE;
/* True when the root is a development root this server holds. */
bool fl_signkeys_is_dev(struct fl_signkeys *ks);

/* The certificate of kid (caller frees *cert); FL_E_NOT_FOUND if kid is
 * unknown or uncertified. */
fl_err fl_signkeys_cert(struct fl_signkeys *ks, const char *kid,
                        char **cert) FL_MUST_USE;

struct fl_signkey_info {
	char kid[FL_KID_MAX];
	char pk[FL_PASERK_PUBLIC_SIZE]; /* k4.public */
	fl_time created_at;
	fl_time retired_at; /* 0 while in use */
	fl_time not_after;  /* certificate end, 0 if uncertified */
	bool certified;
	bool signer; /* the key that signs now */
};

/* Calls fn for each key, oldest first. */
fl_err fl_signkeys_list(struct fl_signkeys *ks, fl_time now,
                        void (*fn)(void *ctx, const struct fl_signkey_info *k),
                        void *ctx) FL_MUST_USE;

/* Creates a new signing key (certified at once by a development root);
 * kid receives its id. */
fl_err fl_signkeys_rotate(struct fl_signkeys *ks, fl_time now,
                          char kid[FL_KID_MAX]) FL_MUST_USE;

/* Installs a root certificate for one of the keys. root_pk (k4.public, may
 * be NULL once a root is installed) names the root; the certificate's
 * signature is verified against it. FL_E_BAD_SIGNATURE / FL_E_UNKNOWN_KID
 * if it does not verify, FL_E_NOT_FOUND if it certifies a key this server
 * does not have, FL_E_CONFLICT if root_pk differs from an installed
 * production root. kid receives the certified key's id. */
fl_err fl_signkeys_accept_cert(struct fl_signkeys *ks, const char *cert,
                               const char *root_pk, fl_time now,
                               char kid[FL_KID_MAX]) FL_MUST_USE;

/* A development root's certificate (FL_MSG_WEBHOOK_KEY_CERT) for the
 * webhook signing key pk, valid for the configured days from now (*cert
 * caller frees). FL_E_STATE when the root is a production root: the
 * operator certifies that key offline (docs/webhooks.md). */
fl_err fl_signkeys_dev_webhook_cert(struct fl_signkeys *ks,
                                    const uint8_t pk[FL_SIGN_PK_LEN],
                                    fl_time now, char **cert) FL_MUST_USE;

/* Stops signing with kid from now on. */
fl_err fl_signkeys_retire(struct fl_signkeys *ks, const char *kid,
                          fl_time now) FL_MUST_USE;

#endif
