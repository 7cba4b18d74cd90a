/* libFuzzer target: arbitrary bytes decoded as device claims. Whatever
 * decodes must encode, and decode again to the same claims and the same
 * text; nothing may crash, leak or read out of bounds. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same_list(char *const *a, size_t na, char *const *b, size_t nb)
{
	if (na != nb)
		return 0;
	for (size_t i = 0; i < na; i++) {
		if (strcmp(a[i], b[i]) != 0)
			return 0;
	}
	return 1;
}

static int same_opt(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static int same(const struct fl_device_claims *a,
                const struct fl_device_claims *b)
{
	if (strcmp(a->sub, b->sub) != 0 || a->n_imei != b->n_imei ||
	    a->seq != b->seq || a->iat != b->iat || a->exp != b->exp ||
	    a->state != b->state || a->stolen != b->stolen ||
	    a->lock_at != b->lock_at || a->restrict_mask != b->restrict_mask ||
	    a->amount_due != b->amount_due ||
	    strcmp(a->currency, b->currency) != 0 ||
	    a->sim_policy != b->sim_policy ||
	    a->tamper_policy != b->tamper_policy ||
	    a->lock_cause != b->lock_cause ||
	    a->n_reminders != b->n_reminders)
		return 0;
	for (size_t i = 0; i < a->n_imei; i++) {
		if (strcmp(a->imei[i], b->imei[i]) != 0)
			return 0;
	}
	for (size_t i = 0; i < a->n_reminders; i++) {
		if (a->reminders[i].at != b->reminders[i].at ||
		    strcmp(a->reminders[i].text, b->reminders[i].text) != 0)
			return 0;
	}
	return same_list(a->allow_apps, a->n_allow_apps, b->allow_apps,
	                 b->n_allow_apps) &&
	       same_list(a->contact_phones, a->n_contact_phones,
	                 b->contact_phones, b->n_contact_phones) &&
	       same_opt(a->message, b->message) &&
	       same_opt(a->contact_name, b->contact_name) &&
	       same_opt(a->loan_ref, b->loan_ref) &&
	       same_opt(a->lock_reason_text, b->lock_reason_text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fl_device_claims c, d, e;
	char *json = NULL, *again = NULL;

	if (fl_claims_decode((const char *)data, size, &c) != FL_OK)
		return 0;
	if (fl_claims_encode(&c, &json) != FL_OK)
		abort(); /* decoded claims must always encode */
	if (fl_claims_decode(json, strlen(json), &d) != FL_OK || !same(&c, &d))
		abort();
	if (fl_claims_encode(&d, &again) != FL_OK || strcmp(json, again) != 0)
		abort();
	if (fl_claims_decode(again, strlen(again), &e) != FL_OK)
		abort();
	fl_claims_clear(&e);
	fl_claims_clear(&d);
	fl_claims_clear(&c);
	free(again);
	free(json);
	return 0;
}
