/*
 * payments.h - the rules of money received, apart from HTTP: recording a
 * payment and reversing one, each as the work of one write transaction
 * (run.h: a function of the transaction, its input and the instant), so
 * the runner may run it again after a conflict and a unit test runs it
 * against a store without any socket.
 *
 * Recording: the device is locked, then read once with its decision
 * inputs (fl_store_device_load); the amount is checked against what
 * remains on the contract as decided from those inputs (refused unless
 * allow_over, the excess then shows as credit), the reference against
 * the tenant's earlier payments (refused unless allow_dup), the payment
 * is stored, and the device decided again from the same inputs with the
 * new payment added in memory: one read of the inputs, not two. Both
 * append their audit entry in the transaction.
 *
 * A refusal is an error with a message for the caller in out->msg; the
 * transaction is then to be rolled back.
 *
 * THREAD SAFETY: per transaction, as store.h.
 */
#ifndef FL_SERVER_PAYMENTS_H
#define FL_SERVER_PAYMENTS_H

#include <jansson.h>
#include <stdbool.h>

#include "core/err.h"
#include "core/fltime.h"
#include "server/decide.h"
#include "store/store.h"

#define FL_PAY_MSG_MAX 384 /* a refusal's message */

/* What a lender asked to record. */
struct fl_pay_input {
	char tenant_id[FL_ID_MAX];
	char device_id[FL_ID_MAX];
	char actor[FL_ID_MAX];            /* API key id recording it */
	int64_t amount;                   /* minor units, checked by caller */
	fl_time paid_at;                  /* 0: now */
	char reference[FL_REFERENCE_MAX]; /* "" for none */
	bool allow_over;                  /* more than remains is fine */
	bool allow_dup;                   /* a reference seen before is fine */
};

/* What recording or reversing did. */
struct fl_pay_result {
	struct fl_payment_rec payment; /* as stored (after, for a reversal) */
	struct fl_payment_rec before;  /* a reversal: the payment before */
	struct fl_device device;       /* the device after its re-decision */
	struct fl_decided what;        /* what the re-decision changed */
	char msg[FL_PAY_MSG_MAX];      /* why it was refused, or "" */
};

/* Records in->amount for in->device_id at now inside tx and re-decides the
 * device. Refusals: FL_E_NOT_FOUND (no such device of the tenant),
 * FL_E_NO_CONTRACT, FL_E_LIMIT (too many payments), FL_E_MONEY (more than
 * remains), FL_E_CONFLICT (a reference recorded already). Store errors
 * pass through. out is overwritten whole. */
fl_err fl_pay_record(struct fl_tx *tx, const struct fl_pay_input *in,
                     fl_time now, struct fl_pay_result *out) FL_MUST_USE;

/* Reverses payment_id of tenant_id at now for actor, with reason, and
 * re-decides its device. Refusals: FL_E_NOT_FOUND (no such payment),
 * FL_E_STATE (reversed already). */
fl_err fl_pay_reverse(struct fl_tx *tx, const char *tenant_id,
                      const char *payment_id, const char *actor,
                      const char *reason, fl_time now,
                      struct fl_pay_result *out) FL_MUST_USE;

/* The JSON of a payment record. New reference. */
json_t *fl_pay_json(const struct fl_payment_rec *p);

#endif
