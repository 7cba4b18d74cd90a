/* payments.c - recording and reversing payments inside a transaction. */
#include "server/payments.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/policy.h"
#include "server/audit.h"
#include "server/auth.h"
#include "server/events.h"
#include "server/jsonval.h"

json_t *fl_pay_json(const struct fl_payment_rec *p)
{
	return json_pack(
	        "{s:s,s:s,s:I,s:o,s:s,s:o,s:s,s:b,s:o,s:s?,s:s?}", "id", p->id,
	        "device_id", p->device_id, "amount", (json_int_t)p->amount,
	        "paid_at", fl_json_time(p->paid_at), "reference", p->reference,
	        "recorded_at", fl_json_time(p->recorded_at), "recorded_by",
	        p->recorded_by, "reversed", p->reversed_at != 0, "reversed_at",
	        fl_json_time(p->reversed_at), "reverse_reason",
	        p->reversed_at ? p->reverse_reason : NULL, "reversed_by",
	        p->reversed_at ? p->reversed_by : NULL);
}

/* Adds p to in's payments, kept in the policy's order (paid_at, then
 * recording order: a new payment comes after those paid at the same
 * instant). */
static fl_err add_payment(struct fl_device_inputs *in,
                          const struct fl_payment_rec *p)
{
	struct fl_payment *arr;
	size_t i;

	arr = realloc(in->payments, (in->n_payments + 1) * sizeof(*arr));
	if (arr == NULL)
		return FL_E_NOMEM;
	in->payments = arr;
	for (i = in->n_payments; i > 0 && arr[i - 1].paid_at > p->paid_at; i--)
		arr[i] = arr[i - 1];
	memset(&arr[i], 0, sizeof(arr[i]));
	arr[i].id = p->ord;
	arr[i].amount = p->amount;
	arr[i].paid_at = p->paid_at;
	in->n_payments++;
	return FL_OK;
}

static fl_err refuse(struct fl_pay_result *out, fl_err err, const char *fmt,
                     ...) __attribute__((format(printf, 3, 4)));

static fl_err refuse(struct fl_pay_result *out, fl_err err, const char *fmt,
                     ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out->msg, sizeof(out->msg), fmt, ap);
	va_end(ap);
	return err;
}

fl_err fl_pay_record(struct fl_tx *tx, const struct fl_pay_input *in,
                     fl_time now, struct fl_pay_result *out)
{
	struct fl_device *d = &out->device;
	struct fl_payment_rec *p = &out->payment;
	struct fl_device_inputs inputs;
	struct fl_decision *dec = calloc(1, sizeof(*dec));
	fl_err err;

	memset(out, 0, sizeof(*out));
	memset(&inputs, 0, sizeof(inputs));
	if (dec == NULL)
		return FL_E_NOMEM;
	if ((err = fl_store_lock_device(tx, in->device_id)) != FL_OK)
		goto out;
	err = fl_store_device_load(tx, in->tenant_id, in->device_id, d,
	                           &inputs);
	if (err == FL_E_NOT_FOUND) {
		err = refuse(out, err, "no such device");
		goto out;
	}
	if (err != FL_OK)
		goto out;
	if (!d->has_contract || !inputs.has_contract) {
		err = refuse(out, FL_E_NO_CONTRACT,
		             "the device has no contract");
		goto out;
	}
	if (inputs.n_payments >= FL_POLICY_MAX_PAYMENTS) {
		err = refuse(out, FL_E_LIMIT,
		             "the device has too many payments");
		goto out;
	}
	/* what remains, as decided now from the inputs just read */
	if ((err = fl_decide_policy(d, &inputs, fl_decide_now(d, now), dec)) !=
	    FL_OK)
		goto out;
	if (!in->allow_over && in->amount > dec->amount_remaining) {
		err = refuse(out, FL_E_MONEY,
		             "amount %lld is more than the %lld that remains "
		             "on the contract; send allow_overpayment: true "
		             "to record it anyway (the excess shows as "
		             "credit)",
		             (long long)in->amount,
		             (long long)dec->amount_remaining);
		goto out;
	}
	if (!in->allow_dup && in->reference[0] != '\0') {
		struct fl_payment_rec earlier;

		err = fl_store_payment_by_reference(tx, in->tenant_id,
		                                    in->reference, &earlier);
		if (err == FL_OK) {
			err = refuse(out, FL_E_CONFLICT,
			             "reference '%s' was already recorded as "
			             "payment %s (device %s, amount %lld); send "
			             "allow_duplicate_reference: true to record "
			             "it again",
			             in->reference, earlier.id,
			             earlier.device_id,
			             (long long)earlier.amount);
			goto out;
		}
		if (err != FL_E_NOT_FOUND)
			goto out;
	}
	fl_id_generate(p->id, "py");
	snprintf(p->tenant_id, sizeof(p->tenant_id), "%s", d->tenant_id);
	snprintf(p->device_id, sizeof(p->device_id), "%s", d->id);
	p->amount = in->amount;
	p->paid_at = in->paid_at != 0 ? in->paid_at : now;
	snprintf(p->reference, sizeof(p->reference), "%s", in->reference);
	p->recorded_at = now;
	snprintf(p->recorded_by, sizeof(p->recorded_by), "%s", in->actor);
	if ((err = fl_store_payment_insert(tx, p)) != FL_OK ||
	    (err = fl_event_emit(tx, p->tenant_id, "payment.recorded",
	                         fl_pay_json(p), now)) != FL_OK ||
	    (err = add_payment(&inputs, p)) != FL_OK ||
	    (err = fl_decide_loaded(tx, d, &inputs, now, false, d,
	                            &out->what)) != FL_OK)
		goto out;
	err = fl_audit_append(tx, d->tenant_id,
	                      in->actor[0] != '\0' ? in->actor : "system", now,
	                      "payment.record", p->id, NULL, fl_pay_json(p));
out:
	fl_device_inputs_clear(&inputs);
	free(dec);
	return err;
}

fl_err fl_pay_reverse(struct fl_tx *tx, const char *tenant_id,
                      const char *payment_id, const char *actor,
                      const char *reason, fl_time now,
                      struct fl_pay_result *out)
{
	fl_err err;

	memset(out, 0, sizeof(*out));
	err = fl_store_payment_get(tx, tenant_id, payment_id, &out->before);
	if (err == FL_E_NOT_FOUND)
		return refuse(out, err, "no such payment");
	if (err != FL_OK)
		return err;
	/* the device first, then everything about it */
	if ((err = fl_store_lock_device(tx, out->before.device_id)) != FL_OK)
		return err;
	err = fl_store_payment_reverse(tx, tenant_id, out->before.id, now,
	                               reason, actor);
	if (err == FL_E_STATE)
		return refuse(out, err, "the payment is already reversed");
	if (err == FL_OK)
		err = fl_store_payment_get(tx, tenant_id, out->before.id,
		                           &out->payment);
	if (err == FL_OK)
		err = fl_event_emit(tx, tenant_id, "payment.reversed",
		                    fl_pay_json(&out->payment), now);
	if (err == FL_OK)
		err = fl_decide_device(tx, tenant_id, out->before.device_id, now,
		                       false, &out->device, &out->what);
	if (err == FL_OK)
		err = fl_audit_append(tx, tenant_id,
		                      actor[0] != '\0' ? actor : "system", now,
		                      "payment.reverse", out->before.id,
		                      fl_pay_json(&out->before),
		                      fl_pay_json(&out->payment));
	return err;
}
