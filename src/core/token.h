/*
 * token.h - finlock's signed messages on top of PASETO v4.public.
 *
 * Every message finlockd signs is a v4.public token whose footer is
 * {"kid":"k4.pid...."} and whose implicit assertion names its kind, so one
 * kind can never be passed off as another (docs/server.md "Keys and trust").
 *
 * Trust: the operator's root key (offline) certifies online signing keys with
 * key certificates (kind FL_MSG_KEY_CERT, signed by the root). A verifier
 * holds a trust set: the root public key from the factory image plus every
 * certificate and revocation it has accepted. It picks the key by the
 * footer's kid *before* checking any signature, refusing an unknown, revoked
 * or expired kid, then verifies, then (for device tokens) checks the claims.
 *
 * Payloads:
 *   key cert   {"kid":"k4.pid..","pk":"k4.public..","not_after":"RFC3339"}
 *   revocation {"revoke":"k4.pid..","at":"RFC3339"}
 *   seq reset  {"sub":"device id","seq_floor":N,"iat":"RFC3339"}
 *   device token: struct fl_device_claims below (docs/protocol.md "Tokens")
 * Other kinds (enroll, lookup, imei-certificate, release-receipt, audit-head)
 * carry JSON their producers define; this layer signs and verifies them.
 *
 * Memory: functions that return a string or payload in `char **out` hand
 * ownership to the caller, who frees it with free(). On error *out is NULL.
 *
 * THREAD SAFETY: a struct fl_trust may be read (verify) from several threads
 * at once but must not be modified (add/revoke) concurrently with any use.
 */
#ifndef FL_TOKEN_H
#define FL_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/crypto.h"
#include "core/err.h"
#include "core/fltime.h"
#include "core/imei.h"
#include "core/state.h"

#define FL_KID_MAX 64 /* room for "k4.pid." + 44 base64url chars + NUL */

enum fl_msg_kind {
	FL_MSG_DEVICE_TOKEN = 0, /* "finlock:device-token" */
	FL_MSG_ENROLL,           /* "finlock:enroll" */
	FL_MSG_LOOKUP,           /* "finlock:lookup" */
	FL_MSG_IMEI_CERT,        /* "finlock:imei-certificate" */
	FL_MSG_RELEASE_RECEIPT,  /* "finlock:release-receipt" */
	FL_MSG_KEY_CERT,         /* "finlock:key-cert" (root-signed) */
	FL_MSG_KEY_REVOKE,       /* "finlock:key-revoke" (root-signed) */
	FL_MSG_SEQ_RESET,        /* "finlock:seq-reset" (root-signed) */
	FL_MSG_AUDIT_HEAD,       /* "finlock:audit-head" */
	FL_MSG_WEBHOOK_KEY_CERT, /* "finlock:webhook-key-cert" (root-signed):
	                          * certifies a key that signs webhooks only;
	                          * fl_trust_add_cert refuses it, so such a
	                          * key never signs anything a phone accepts */
	FL_MSG__COUNT
};

/* The implicit assertion string of a kind; NULL if out of range. */
const char *fl_msg_implicit(enum fl_msg_kind kind);

/* An Ed25519 key that signs, with its PASERK id. The root key is one too. */
struct fl_signer {
	char kid[FL_KID_MAX];       /* k4.pid of pk */
	uint8_t sk[FL_SIGN_SK_LEN]; /* secret; wipe with fl_signer_wipe */
	uint8_t pk[FL_SIGN_PK_LEN]; /* public half */
};

/* A fresh random signer. */
fl_err fl_signer_generate(struct fl_signer *s) FL_MUST_USE;
/* A signer from a PASERK "k4.secret." string. FL_E_KEY_FORMAT if malformed
 * or if its embedded public key does not match its seed. */
fl_err fl_signer_from_paserk(struct fl_signer *s,
                             const char *k4secret) FL_MUST_USE;
void fl_signer_wipe(struct fl_signer *s);

/* Signs payload[len] as kind with footer {"kid":signer->kid}. */
fl_err fl_msg_sign(char **out, const struct fl_signer *signer,
                   enum fl_msg_kind kind, const char *payload,
                   size_t len) FL_MUST_USE;
/* fl_msg_sign that also gives the signature it made in sig. */
fl_err fl_msg_sign_sig(char **out, uint8_t sig[FL_SIG_LEN],
                       const struct fl_signer *signer, enum fl_msg_kind kind,
                       const char *payload, size_t len) FL_MUST_USE;
/* The token fl_msg_sign_sig made of payload[len] with key kid, given the
 * signature sig it made then: the same text, without signing. The caller
 * vouches for sig (one it made and kept authenticated); nothing here
 * checks it. */
fl_err fl_msg_assemble(char **out, const char *kid, const char *payload,
                       size_t len, const uint8_t sig[FL_SIG_LEN]) FL_MUST_USE;

/* Reads the kid from a token's footer without verifying anything (to pick the
 * key). FL_E_PASETO_FORMAT / FL_E_PASETO_HEADER if the token is malformed. */
fl_err fl_msg_peek_kid(const char *token, char kid[FL_KID_MAX]) FL_MUST_USE;

/* Root operations: certify a signing key until not_after; revoke a kid at
 * `at`; reset a device's seq floor. */
fl_err fl_keycert_issue(char **out, const struct fl_signer *root,
                        const uint8_t pk[FL_SIGN_PK_LEN],
                        fl_time not_after) FL_MUST_USE;
/* The same certificate as fl_keycert_issue, of kind
 * FL_MSG_WEBHOOK_KEY_CERT: for the key that signs webhooks (v1a). */
fl_err fl_webhook_keycert_issue(char **out, const struct fl_signer *root,
                                const uint8_t pk[FL_SIGN_PK_LEN],
                                fl_time not_after) FL_MUST_USE;
/* Verifies a FL_MSG_WEBHOOK_KEY_CERT certificate signed by root_pk and
 * unexpired at now: pk receives the key it certifies. FL_E_BAD_SIGNATURE
 * if the root did not sign it as one, FL_E_KEY_EXPIRED past not_after,
 * FL_E_CLAIMS if its payload is not a certificate's. */
fl_err fl_webhook_keycert_verify(const uint8_t root_pk[FL_SIGN_PK_LEN],
                                 const char *cert, fl_time now,
                                 uint8_t pk[FL_SIGN_PK_LEN]) FL_MUST_USE;
fl_err fl_revocation_issue(char **out, const struct fl_signer *root,
                           const char *kid, fl_time at) FL_MUST_USE;
fl_err fl_seqreset_issue(char **out, const struct fl_signer *root,
                         const char *device_id, uint64_t seq_floor,
                         fl_time iat) FL_MUST_USE;

/* A verifier's set of trusted keys. */
struct fl_trust;

/* A trust set anchored on root_pk (the factory image's key). */
fl_err fl_trust_new(struct fl_trust **out,
                    const uint8_t root_pk[FL_SIGN_PK_LEN]) FL_MUST_USE;
void fl_trust_free(struct fl_trust *t);
/* The root key's kid. Borrowed; valid while t lives. */
const char *fl_trust_root_kid(const struct fl_trust *t);

/* Verifies a root-signed key certificate and adds its key. Refuses a
 * certificate not signed by the root, expired at `now`, or for a revoked
 * kid. Adding the same key again is FL_OK. kid_out (may be NULL) receives
 * the certified kid. */
fl_err fl_trust_add_cert(struct fl_trust *t, const char *cert, fl_time now,
                         char kid_out[FL_KID_MAX]) FL_MUST_USE;
/* Verifies a root-signed revocation and retires its kid for good. */
fl_err fl_trust_add_revocation(struct fl_trust *t,
                               const char *revocation) FL_MUST_USE;
/* Verifies a root-signed seq reset for device_id; *seq_floor receives it. */
fl_err fl_trust_verify_seqreset(const struct fl_trust *t, const char *token,
                                const char *device_id,
                                uint64_t *seq_floor) FL_MUST_USE;

/* Verifies a token of `kind` against the trust set: kid known (else
 * FL_E_UNKNOWN_KID), not revoked (FL_E_KEY_REVOKED), certificate not expired
 * at now (FL_E_KEY_EXPIRED), signature with kind's implicit assertion
 * (FL_E_BAD_SIGNATURE). Root-signed kinds must be signed by the root; other
 * kinds must not be. On success *payload (NUL-terminated, caller frees) and
 * *len receive the payload. */
fl_err fl_trust_verify(const struct fl_trust *t, enum fl_msg_kind kind,
                       const char *token, fl_time now, char **payload,
                       size_t *len) FL_MUST_USE;

/* --- device tokens (docs/protocol.md "Tokens") ----------------------------*/

#define FL_CLAIMS_MAX_LIST 32   /* most entries in any claims array */
#define FL_CLAIMS_MAX_TEXT 1024 /* longest string claim, in bytes */

struct fl_reminder {
	fl_time at; /* when to show it */
	char *text; /* what to show; owned */
};

/* Why a device token's lock (in force, or coming at lock_at) is there: the
 * "lock_cause" claim. A token without it (from an older server), or with a
 * value this build does not know, decodes as FL_CLAIM_CAUSE_NONE, and the
 * phone words its lock screen from the other claims. */
enum fl_claim_cause {
	FL_CLAIM_CAUSE_NONE = 0, /* absent or unknown */
	FL_CLAIM_CAUSE_OVERDUE,  /* "overdue": an installment is unpaid */
	FL_CLAIM_CAUSE_OFFLINE,  /* "offline": no contact for too long */
	FL_CLAIM_CAUSE_LENDER,   /* "lender": a manual or scheduled lock */
	FL_CLAIM_CAUSE_STOLEN,   /* "stolen": reported stolen */
};

/* The claim's text for c ("overdue", ...); NULL for NONE or out of
 * range. */
const char *fl_claim_cause_name(enum fl_claim_cause c);

struct fl_device_claims {
	char *sub;                     /* device id; owned */
	char imei[2][FL_IMEI_LEN + 1]; /* the device's IMEIs */
	size_t n_imei;                 /* 1 or 2 */
	uint64_t seq;                  /* strictly increasing per device */
	fl_time iat;                   /* issued at: server time */
	fl_time exp;                   /* accept no later than this */
	enum fl_dev_state state;       /* active|reminding|locked|released */
	bool stolen;                   /* overrides everything */
	fl_time lock_at;               /* 0: no lock scheduled */
	uint64_t restrict_mask;        /* applied when locked */
	char **allow_apps;             /* apps allowed while locked; owned */
	size_t n_allow_apps;
	char *message;         /* lock screen message; owned */
	char *contact_name;    /* lender's name; owned */
	char **contact_phones; /* lender's numbers; owned */
	size_t n_contact_phones;
	char *loan_ref;                /* loan account number; owned */
	int64_t amount_due;            /* minor units */
	char currency[4];              /* ISO 4217, "" if none */
	struct fl_reminder *reminders; /* owned */
	size_t n_reminders;
	enum fl_reaction sim_policy;    /* on SIM change */
	enum fl_reaction tamper_policy; /* on root/bootloader unlock */
	enum fl_claim_cause lock_cause; /* why lock_at; NONE if not said */
	char *lock_reason_text; /* the lender's reason, shown on the lock
	                           screen; NULL unless the lender chose to
	                           show it; owned */
};

/* Encodes claims as compact JSON (caller frees *json). */
fl_err fl_claims_encode(const struct fl_device_claims *c,
                        char **json) FL_MUST_USE;
/* Decodes claims JSON into *c (cleared first). Members this build does
 * not know are ignored (a newer server may add claims); wrong types of
 * known ones, bad IMEIs, bad times, lists over FL_CLAIMS_MAX_LIST, strings
 * over FL_CLAIMS_MAX_TEXT are FL_E_CLAIMS; a restriction naming a
 * guaranteed capability is FL_E_RESTRICT_GUARANTEED. On error *c is
 * cleared. */
fl_err fl_claims_decode(const char *json, size_t len,
                        struct fl_device_claims *c) FL_MUST_USE;
/* Frees everything *c owns and zeroes it. NULL-safe. */
void fl_claims_clear(struct fl_device_claims *c);

/* What the device expects of a token addressed to it. */
struct fl_claims_expect {
	const char *device_id; /* must equal sub */
	const char *imei;      /* must be among the token's IMEIs */
	uint64_t last_seq;     /* token seq must be greater */
	fl_time now;           /* trusted time */
	int64_t skew;          /* allowed clock skew, seconds */
};

/* Checks claims against expectations, in this order: sub
 * (FL_E_WRONG_SUBJECT), imei (FL_E_WRONG_IMEI), seq (FL_E_REPLAY when
 * seq <= last_seq), window: now + skew < iat is FL_E_NOT_YET_VALID,
 * now - skew > exp is FL_E_EXPIRED. */
fl_err fl_claims_check(const struct fl_device_claims *c,
                       const struct fl_claims_expect *e) FL_MUST_USE;

/* The whole device-side check: fl_trust_verify as FL_MSG_DEVICE_TOKEN, then
 * fl_claims_decode, then fl_claims_check. On error *c is cleared. */
fl_err fl_device_token_verify(const struct fl_trust *t, const char *token,
                              const struct fl_claims_expect *e,
                              struct fl_device_claims *c) FL_MUST_USE;

#endif
