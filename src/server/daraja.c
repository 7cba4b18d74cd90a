/* daraja.c - C2B and Standard Webhooks messages from their bytes. */
#include "server/daraja.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "core/policy.h"

int fl_currency_decimals(const char *currency)
{
	/* ISO 4217 currencies of the markets finlock serves that have no
	 * minor unit in use; everything else has two. */
	static const char *const zero[] = {"UGX", "RWF", "BIF", "XAF", "XOF",
	                                   "KMF", "GNF", "DJF", "JPY", "KRW",
	                                   "VND", "PYG", "CLP", "ISK", NULL};

	for (size_t i = 0; zero[i] != NULL; i++)
		if (strcmp(currency, zero[i]) == 0)
			return 0;
	return 2;
}

fl_err fl_c2b_amount(const char *s, int decimals, int64_t *out)
{
	int64_t v = 0;
	int frac = -1; /* fraction digits seen; -1 before the point */
	size_t i = 0;

	*out = 0;
	if (s == NULL || s[0] == '\0' || decimals < 0 || decimals > 3)
		return FL_E_MONEY;
	for (; s[i] != '\0'; i++) {
		char c = s[i];

		if (c == '.' && frac < 0 && i > 0) {
			frac = 0;
			continue;
		}
		if (c < '0' || c > '9')
			return FL_E_MONEY;
		if (frac >= 0 && ++frac > decimals)
			return FL_E_MONEY;
		if (v > FL_POLICY_MAX_AMOUNT)
			return FL_E_MONEY;
		v = v * 10 + (c - '0');
	}
	if (frac == 0) /* "15." */
		return FL_E_MONEY;
	for (int k = frac < 0 ? 0 : frac; k < decimals; k++) {
		if (v > FL_POLICY_MAX_AMOUNT)
			return FL_E_MONEY;
		v *= 10;
	}
	if (v < 1 || v > FL_POLICY_MAX_AMOUNT)
		return FL_E_MONEY;
	*out = v;
	return FL_OK;
}

/* The number of n digits at s, or -1 if one is not a digit. */
static int digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

fl_err fl_c2b_time(const char *s, fl_time *out)
{
	int y, mo, d, h, mi, se;
	fl_time t;

	*out = 0;
	if (s == NULL || strlen(s) != 14)
		return FL_E_TIME_FORMAT;
	y = digits(s, 4);
	mo = digits(s + 4, 2);
	d = digits(s + 6, 2);
	h = digits(s + 8, 2);
	mi = digits(s + 10, 2);
	se = digits(s + 12, 2);
	if (y < 0 || mo < 0 || d < 0 || h < 0 || mi < 0 || se < 0)
		return FL_E_TIME_FORMAT;
	if (y < 2000 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
	    mi > 59 || se > 59)
		return FL_E_TIME_INVALID;
	{
		static const int mdays[12] = {31, 29, 31, 30, 31, 30,
		                              31, 31, 30, 31, 30, 31};
		bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

		if (d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap))
			return FL_E_TIME_INVALID; /* 30 February */
	}
	t = fl_time_from_civil(y, mo, d) + h * 3600 + mi * 60 + se;
	*out = t - FL_EAT_OFFSET;
	return FL_OK;
}

static fl_err fail(char *msg, size_t cap, fl_err err, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static fl_err fail(char *msg, size_t cap, fl_err err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, cap, fmt, ap);
	va_end(ap);
	return err;
}

/* Copies the string member `name` of o into buf[cap]: FL_OK, or
 * FL_E_FIELD_MISSING when absent (or null) and required, FL_E_INVALID
 * when not a string, too long or holding a control character. A number
 * is taken as its text when allow_num (some Daraja sandboxes send
 * TransAmount as a number). */
static fl_err member(json_t *o, const char *name, bool required, bool allow_num,
                     char *buf, size_t cap, char *msg, size_t msgcap)
{
	json_t *v = json_object_get(o, name);
	const char *s;

	buf[0] = '\0';
	if (v == NULL || json_is_null(v))
		return required ? fail(msg, msgcap, FL_E_FIELD_MISSING,
		                       "%s is required", name)
		                : FL_OK;
	if (allow_num && json_is_integer(v)) {
		snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
		return FL_OK;
	}
	if (!json_is_string(v))
		return fail(msg, msgcap, FL_E_INVALID, "%s must be a string",
		            name);
	s = json_string_value(v);
	if (json_string_length(v) >= cap || strlen(s) != json_string_length(v))
		return fail(msg, msgcap, FL_E_INVALID, "%s is too long", name);
	for (const char *p = s; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return fail(msg, msgcap, FL_E_INVALID,
			            "%s holds a control character", name);
	memcpy(buf, s, strlen(s) + 1);
	return FL_OK;
}

fl_err fl_c2b_parse(const char *body, size_t len, int decimals,
                    bool confirmation, struct fl_c2b *out, char *msg,
                    size_t msgcap)
{
	char amount[64], when[32], msisdn[64], first[64], middle[64], last[64],
	        balance[64];
	json_error_t jerr;
	json_t *o;
	fl_err err;

	memset(out, 0, sizeof(*out));
	msg[0] = '\0';
	o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (o == NULL || !json_is_object(o)) {
		json_decref(o);
		return fail(msg, msgcap, FL_E_JSON,
		            "the body is not a C2B JSON object");
	}
	if ((err = member(o, "TransactionType", false, false, out->trans_type,
	                  sizeof(out->trans_type), msg, msgcap)) != FL_OK ||
	    (err = member(o, "TransID", confirmation, false, out->trans_id,
	                  sizeof(out->trans_id), msg, msgcap)) != FL_OK ||
	    (err = member(o, "TransTime", confirmation, false, when,
	                  sizeof(when), msg, msgcap)) != FL_OK ||
	    (err = member(o, "TransAmount", true, true, amount, sizeof(amount),
	                  msg, msgcap)) != FL_OK ||
	    (err = member(o, "BusinessShortCode", true, true, out->shortcode,
	                  sizeof(out->shortcode), msg, msgcap)) != FL_OK ||
	    (err = member(o, "BillRefNumber", true, false, out->bill_ref,
	                  sizeof(out->bill_ref), msg, msgcap)) != FL_OK ||
	    (err = member(o, "InvoiceNumber", false, false, out->invoice,
	                  sizeof(out->invoice), msg, msgcap)) != FL_OK ||
	    (err = member(o, "OrgAccountBalance", false, true, balance,
	                  sizeof(balance), msg, msgcap)) != FL_OK ||
	    (err = member(o, "ThirdPartyTransID", false, false,
	                  out->third_party_id, sizeof(out->third_party_id), msg,
	                  msgcap)) != FL_OK ||
	    (err = member(o, "MSISDN", false, true, msisdn, sizeof(msisdn), msg,
	                  msgcap)) != FL_OK ||
	    (err = member(o, "FirstName", false, false, first, sizeof(first),
	                  msg, msgcap)) != FL_OK ||
	    (err = member(o, "MiddleName", false, false, middle, sizeof(middle),
	                  msg, msgcap)) != FL_OK ||
	    (err = member(o, "LastName", false, false, last, sizeof(last), msg,
	                  msgcap)) != FL_OK)
		goto out;
	if (fl_c2b_amount(amount, decimals, &out->amount) != FL_OK) {
		err = fail(msg, msgcap, FL_E_MONEY,
		           "TransAmount '%.40s' is not a positive amount with "
		           "at most %d decimals",
		           amount, decimals);
		goto out;
	}
	if (when[0] != '\0' &&
	    (err = fl_c2b_time(when, &out->trans_time)) != FL_OK) {
		fail(msg, msgcap, err,
		     "TransTime must be YYYYMMDDHHmmss (East Africa Time)");
		goto out;
	}
	if (out->bill_ref[0] == '\0') {
		err = fail(msg, msgcap, FL_E_FIELD_MISSING,
		           "BillRefNumber is empty");
		goto out;
	}
	/* cut at the field's length: it is shown, never matched */
	if (snprintf(out->payer, sizeof(out->payer), "%s%s%s%s%s%s%s", msisdn,
	             first[0] ? " " : "", first, middle[0] ? " " : "", middle,
	             last[0] ? " " : "", last) >= (int)sizeof(out->payer))
		out->payer[sizeof(out->payer) - 1] = '\0';
out:
	json_decref(o);
	if (err != FL_OK)
		memset(out, 0, sizeof(*out));
	return err;
}

fl_err fl_signed_pay_parse(const char *body, size_t len,
                           struct fl_signed_pay *out, char *msg, size_t msgcap)
{
	static const char *const known[] = {"id",       "account", "amount",
	                                    "currency", "paid_at", NULL};
	char when[64];
	json_error_t jerr;
	json_t *o, *amt;
	const char *key;
	json_t *val;
	fl_err err = FL_OK;

	memset(out, 0, sizeof(*out));
	msg[0] = '\0';
	o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (o == NULL || !json_is_object(o)) {
		json_decref(o);
		return fail(msg, msgcap, FL_E_JSON,
		            "the body is not a JSON object");
	}
	json_object_foreach(o, key, val)
	{
		size_t i = 0;

		while (known[i] != NULL && strcmp(known[i], key) != 0)
			i++;
		if (known[i] == NULL) {
			err = fail(msg, msgcap, FL_E_INVALID,
			           "unknown field '%.40s'", key);
			goto out;
		}
	}
	if ((err = member(o, "id", true, false, out->id, sizeof(out->id), msg,
	                  msgcap)) != FL_OK ||
	    (err = member(o, "account", true, false, out->account,
	                  sizeof(out->account), msg, msgcap)) != FL_OK ||
	    (err = member(o, "currency", true, false, out->currency,
	                  sizeof(out->currency), msg, msgcap)) != FL_OK ||
	    (err = member(o, "paid_at", true, false, when, sizeof(when), msg,
	                  msgcap)) != FL_OK)
		goto out;
	if (out->id[0] == '\0' || out->account[0] == '\0') {
		err = fail(msg, msgcap, FL_E_FIELD_MISSING,
		           "id and account must not be empty");
		goto out;
	}
	if (strlen(out->currency) != 3 || out->currency[0] < 'A' ||
	    out->currency[0] > 'Z' || out->currency[1] < 'A' ||
	    out->currency[1] > 'Z' || out->currency[2] < 'A' ||
	    out->currency[2] > 'Z') {
		err = fail(msg, msgcap, FL_E_INVALID,
		           "currency must be an ISO 4217 code");
		goto out;
	}
	amt = json_object_get(o, "amount");
	if (amt == NULL || !json_is_integer(amt) ||
	    json_integer_value(amt) < 1 ||
	    json_integer_value(amt) > FL_POLICY_MAX_AMOUNT) {
		err = fail(msg, msgcap, FL_E_MONEY,
		           "amount must be a whole number of minor units in "
		           "1..%lld",
		           (long long)FL_POLICY_MAX_AMOUNT);
		goto out;
	}
	out->amount = json_integer_value(amt);
	if ((err = fl_time_parse(when, strlen(when), &out->paid_at)) != FL_OK) {
		fail(msg, msgcap, err, "paid_at must be an RFC 3339 time");
		goto out;
	}
out:
	json_decref(o);
	if (err != FL_OK)
		memset(out, 0, sizeof(*out));
	return err;
}

/* The key of a "whsec_<base64>" secret into key[cap]. */
static fl_err secret_key(const char *secret, uint8_t *key, size_t cap,
                         size_t *n)
{
	if (strncmp(secret, "whsec_", 6) != 0)
		return FL_E_INVALID;
	return fl_b64_decode(key, cap, n, secret + 6, strlen(secret + 6));
}

/* HMAC-SHA256 of "id.timestamp.body" under secret into mac. */
static fl_err mac_of(const char *secret, const char *id, const char *timestamp,
                     const char *body, size_t len,
                     uint8_t mac[FL_HMAC_SHA256_LEN])
{
	uint8_t key[64];
	size_t klen = 0, hl;
	char *buf;
	fl_err err;

	if ((err = secret_key(secret, key, sizeof(key), &klen)) != FL_OK)
		return err;
	hl = strlen(id) + 1 + strlen(timestamp) + 1;
	if ((buf = malloc(hl + len + 1)) == NULL) {
		fl_wipe(key, sizeof(key));
		return FL_E_NOMEM;
	}
	snprintf(buf, hl + 1, "%s.%s.", id, timestamp);
	memcpy(buf + hl, body, len);
	fl_hmac_sha256(mac, key, klen, buf, hl + len);
	fl_wipe(key, sizeof(key));
	free(buf);
	return FL_OK;
}

fl_err fl_stdwh_sign(const char *secret, const char *id, const char *timestamp,
                     const char *body, size_t len, char *out, size_t cap)
{
	uint8_t mac[FL_HMAC_SHA256_LEN];
	fl_err err;

	if ((err = mac_of(secret, id, timestamp, body, len, mac)) != FL_OK)
		return err;
	if (cap < 4)
		return FL_E_TOO_LARGE;
	memcpy(out, "v1,", 3);
	return fl_b64_encode(out + 3, cap - 3, mac, sizeof(mac));
}

fl_err fl_stdwh_verify(const char *secret, const char *id,
                       const char *timestamp, const char *signatures,
                       const char *body, size_t len, fl_time now,
                       int64_t tolerance)
{
	uint8_t mac[FL_HMAC_SHA256_LEN], got[64];
	const char *p;
	fl_time ts = 0;
	bool ok = false;
	fl_err err;

	if (id == NULL || timestamp == NULL || signatures == NULL ||
	    id[0] == '\0' || strlen(id) >= FL_REFERENCE_MAX)
		return FL_E_BAD_SIGNATURE;
	for (p = timestamp; *p != '\0'; p++) {
		if (*p < '0' || *p > '9' || p - timestamp >= 12)
			return FL_E_BAD_SIGNATURE;
		ts = ts * 10 + (*p - '0');
	}
	if (p == timestamp)
		return FL_E_BAD_SIGNATURE;
	if (ts > now + tolerance || ts < now - tolerance)
		return FL_E_EXPIRED;
	if ((err = mac_of(secret, id, timestamp, body, len, mac)) != FL_OK)
		return err == FL_E_NOMEM ? err : FL_E_BAD_SIGNATURE;
	/* "v1,<b64> v1,<b64> ...": any one of them */
	for (p = signatures; *p != '\0';) {
		const char *end = strchr(p, ' ');
		size_t n = end != NULL ? (size_t)(end - p) : strlen(p),
		       glen = 0;

		if (n > 3 && strncmp(p, "v1,", 3) == 0 &&
		    fl_b64_decode(got, sizeof(got), &glen, p + 3, n - 3) ==
		            FL_OK &&
		    glen == sizeof(mac) && fl_ct_memcmp(got, mac, glen) == 0)
			ok = true;
		p += n;
		while (*p == ' ')
			p++;
	}
	fl_wipe(mac, sizeof(mac));
	return ok ? FL_OK : FL_E_BAD_SIGNATURE;
}
