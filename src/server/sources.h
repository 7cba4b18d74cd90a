/*
 * sources.h - money in from payment providers: the rules of a provider's
 * callback, apart from HTTP, each the work of one write transaction (a
 * function of the transaction, its input and the instant, as payments.h),
 * and the small pure helpers the callback routes need.
 *
 * A provider payment is identified by (source, provider reference): the
 * first callback records it and remembers what it became (a payment of a
 * device, or an unmatched payment); a callback with the same reference
 * and the same account and amount is answered as the first was and
 * records nothing; the same reference with another account or amount is
 * kept as unmatched with an alert (the provider never sends that; a
 * forger or a bug does), since money is never dropped.
 *
 * The account (Daraja's BillRefNumber) is a contract's loan reference,
 * compared lower-cased with spaces removed, or one of the device's IMEIs.
 * A payment is never refused once money moved: more than remains is
 * recorded as credit. A payment that would release the phone for good
 * (release cannot be undone) is recorded with a pending release instead:
 * the phone is unlocked and never locks by itself, but it is released
 * only when the lender confirms (fl_src_confirm_release) or a statement
 * reconciles the payment.
 *
 * THREAD SAFETY: per transaction, as store.h; the helpers are pure.
 */
#ifndef FL_SERVER_SOURCES_H
#define FL_SERVER_SOURCES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"
#include "core/fltime.h"
#include "core/policy.h"
#include "server/decide.h"
#include "server/payments.h"
#include "store/store.h"

#define FL_SRC_SECRET_LEN          43 /* URL secret: 32 random bytes, base64url */
#define FL_SRC_MSG_MAX             384
#define FL_SRC_SIGNED_TOLERANCE    300 /* Standard Webhooks: 5 minutes */
#define FL_SRC_MAX_SILENCE_DEFAULT (6 * 3600)

/* Safaricom's published addresses its Daraja callbacks come from: the
 * default allowed_networks of an mpesa_c2b source. */
extern const char fl_src_safaricom_networks[];

/* A fresh URL secret (text, FL_SRC_SECRET_LEN characters and a NUL) and
 * its keyed hash under hash_key for the store. The caller wipes text. */
void fl_src_secret_new(const uint8_t hash_key[32],
                       char text[FL_SRC_SECRET_LEN + 1],
                       uint8_t hash[FL_HASH_LEN]);

/* Whether the URL secret `text` is src's, compared in constant time. */
bool fl_src_secret_ok(const uint8_t hash_key[32],
                      const struct fl_source_rec *src, const char *text);

/* Whether the client address (text) lies in src's allowed networks. */
bool fl_src_addr_ok(const struct fl_source_rec *src, const char *client);

/* path with the secret segment of a callback URL
 * (/v1/callbacks/{id}/{secret}/...) replaced by "REDACTED", into
 * out[cap]; any other path as it is. For every log line. */
void fl_src_redact_path(const char *path, char *out, size_t cap);

/* The account as matched: lower-cased ASCII with spaces removed, into
 * out[FL_LOAN_REF_MAX]. */
void fl_src_norm_ref(const char *in, char out[FL_LOAN_REF_MAX]);

/* A provider payment as a callback delivered it. */
struct fl_src_payment {
	char ref[FL_REFERENCE_MAX];    /* the provider's id (TransID) */
	char account[FL_LOAN_REF_MAX]; /* loan reference or IMEI */
	int64_t amount;                /* minor units, > 0 */
	char currency[4];              /* of the amount */
	fl_time paid_at;               /* 0: now */
	char payer[FL_PAYER_MAX];      /* shown only */
};

/* What receiving did. */
struct fl_src_result {
	bool replay;                /* answered as a first callback */
	bool unmatched;             /* kept as unmatched */
	bool release_pending;       /* a release waits for the lender */
	struct fl_provider_ref ref; /* as stored */
	struct fl_pay_result *pay;  /* the payment, when recorded */
	struct fl_unmatched_rec um; /* the unmatched one, if any */
	char msg[FL_SRC_MSG_MAX];   /* an alert, or "" */
};

/* Receives in for src at now inside tx: replay, payment or unmatched as
 * above, and the source's last callback moved to now. out->pay (heap,
 * freed by fl_src_result_clear) is set when a payment was recorded (in
 * this call or by the first callback: then only its id is set). Store
 * errors pass through; FL_E_STORE_RETRY when another transaction stored
 * the same reference meanwhile. */
fl_err fl_src_receive(struct fl_tx *tx, const struct fl_source_rec *src,
                      const struct fl_src_payment *in, fl_time now,
                      struct fl_src_result *out) FL_MUST_USE;

void fl_src_result_clear(struct fl_src_result *r);

/* Whether the account names a contract (or device) of tenant_id: the
 * validation answer. *device_id receives it. */
fl_err fl_src_match(struct fl_tx *tx, const char *tenant_id,
                    const char *account, char device_id[FL_ID_MAX]) FL_MUST_USE;

/* The lender confirms device_id's pending release: it is dropped and the
 * device decided again (released, if still paid in full). FL_E_NOT_FOUND:
 * no such device; FL_E_STATE: nothing pending. */
fl_err fl_src_confirm_release(struct fl_tx *tx, const char *tenant_id,
                              const char *device_id, const char *actor,
                              fl_time now, struct fl_device *dev,
                              struct fl_decided *what) FL_MUST_USE;

/* Assigns unmatched payment um_id to device_id: recorded as its payment
 * (reference = the provider's, credit beyond what remains), the
 * unmatched one marked. FL_E_NOT_FOUND (no such unmatched payment or
 * device), FL_E_STATE (assigned already), refusals of fl_pay_record;
 * out->msg says why. */
fl_err fl_src_assign(struct fl_tx *tx, const char *tenant_id, const char *um_id,
                     const char *device_id, const char *actor, fl_time now,
                     struct fl_pay_result *out) FL_MUST_USE;

/* Emits the money-in events (payment.unmatched, payment_source.stale,
 * locks.held) to the lender's webhooks (events.h), in the transaction of
 * the change. Takes data (a new reference). payment.recorded goes out
 * with every payment from fl_pay_record. */
fl_err fl_src_event(struct fl_tx *tx, const char *tenant_id, const char *type,
                    json_t *data, fl_time now) FL_MUST_USE;

/* JSON of a source for its lender, with its health at now (never its
 * secrets). New reference. */
json_t *fl_src_json(const struct fl_source_rec *s, fl_time now);
json_t *fl_src_unmatched_json(const struct fl_unmatched_rec *u);

#endif
