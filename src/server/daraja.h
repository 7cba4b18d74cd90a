/*
 * daraja.h - Safaricom Daraja C2B callbacks and Standard Webhooks
 * payment messages, read from their bytes into plain structs. Parsers
 * only: no socket, no store (what a callback does is sources.h).
 *
 * Daraja posts the same JSON object to a shortcode's validation URL
 * (before the money moves, when external validation is enabled) and to
 * its confirmation URL (after):
 *
 *   {"TransactionType":"Pay Bill","TransID":"RKTQDM7W6S",
 *    "TransTime":"20191122063845","TransAmount":"10.00",
 *    "BusinessShortCode":"600638","BillRefNumber":"LN-1001",
 *    "InvoiceNumber":"","OrgAccountBalance":"49197.00",
 *    "ThirdPartyTransID":"","MSISDN":"2547 ***** 126",
 *    "FirstName":"John","MiddleName":"","LastName":"Doe"}
 *
 * Every value is a string. TransTime is local time in Kenya (East Africa
 * Time, UTC+3, no daylight saving). TransAmount is a decimal string of
 * the shortcode's currency: digits, then optionally a point and at most
 * as many digits as the currency has decimals ("1500", "1500.5",
 * "1500.00"); a sign, a thousands separator, an exponent or spaces are
 * refused (FL_E_MONEY), as is zero. MSISDN may arrive masked or hashed:
 * it is kept as text and never used to match.
 *
 * THREAD SAFETY: pure functions.
 */
#ifndef FL_SERVER_DARAJA_H
#define FL_SERVER_DARAJA_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/fltime.h"
#include "store/store.h"

#define FL_C2B_MSG_MAX 200        /* what was wrong with a message */
#define FL_EAT_OFFSET  (3 * 3600) /* East Africa Time, seconds east */

/* One C2B message. */
struct fl_c2b {
	char trans_type[32];                   /* "Pay Bill", "Buy Goods" */
	char trans_id[FL_REFERENCE_MAX];       /* M-Pesa receipt, "" if none */
	fl_time trans_time;                    /* UTC; 0 when absent */
	int64_t amount;                        /* minor units, > 0 */
	char shortcode[FL_SHORTCODE_MAX];      /* BusinessShortCode */
	char bill_ref[FL_LOAN_REF_MAX];        /* the account the payer typed */
	char invoice[FL_REFERENCE_MAX];        /* InvoiceNumber */
	char third_party_id[FL_REFERENCE_MAX]; /* ThirdPartyTransID */
	char payer[FL_PAYER_MAX]; /* MSISDN and names, as sent (maybe masked) */
};

/* Parses a decimal amount string with at most `decimals` fraction digits
 * into minor units (decimals 0..3). FL_E_MONEY for anything else, zero,
 * or more than FL_POLICY_MAX_AMOUNT. */
fl_err fl_c2b_amount(const char *s, int decimals, int64_t *out) FL_MUST_USE;

/* Parses "YYYYMMDDHHmmss" in East Africa Time into UTC. FL_E_TIME_FORMAT
 * or FL_E_TIME_INVALID. */
fl_err fl_c2b_time(const char *s, fl_time *out) FL_MUST_USE;

/* Parses a C2B body. confirmation: TransID and TransTime are required
 * (a validation request may lack them). Errors: FL_E_JSON (not a JSON
 * object), FL_E_FIELD_MISSING, FL_E_INVALID (a value of the wrong type or
 * too long), FL_E_MONEY (the amount), time errors; msg says which field.
 * *out is zeroed on error. */
fl_err fl_c2b_parse(const char *body, size_t len, int decimals,
                    bool confirmation, struct fl_c2b *out, char *msg,
                    size_t msgcap) FL_MUST_USE;

/* The number of decimals of an ISO 4217 currency (KES 2, UGX 0, ...). */
int fl_currency_decimals(const char *currency);

/* A signed payment message: {"id","account","amount","currency",
 * "paid_at"}, amount in minor units (an integer), paid_at RFC 3339. */
struct fl_signed_pay {
	char id[FL_REFERENCE_MAX];
	char account[FL_LOAN_REF_MAX];
	int64_t amount;
	char currency[4];
	fl_time paid_at;
};

fl_err fl_signed_pay_parse(const char *body, size_t len,
                           struct fl_signed_pay *out, char *msg,
                           size_t msgcap) FL_MUST_USE;

/* Standard Webhooks: checks the headers' webhook-signature (a list of
 * "v1,<base64>" separated by spaces; any one matching is enough) against
 * HMAC-SHA256 of "id.timestamp.body" under secret ("whsec_<base64>"),
 * and the timestamp (decimal seconds) within tolerance seconds of now.
 * FL_E_BAD_SIGNATURE for a signature that does not verify or headers
 * missing or malformed, FL_E_EXPIRED for a timestamp too far away. */
fl_err fl_stdwh_verify(const char *secret, const char *id,
                       const char *timestamp, const char *signatures,
                       const char *body, size_t len, fl_time now,
                       int64_t tolerance) FL_MUST_USE;

/* The "v1,<base64>" signature of body for id and timestamp under secret,
 * into out[cap]. */
fl_err fl_stdwh_sign(const char *secret, const char *id, const char *timestamp,
                     const char *body, size_t len, char *out,
                     size_t cap) FL_MUST_USE;

#endif
