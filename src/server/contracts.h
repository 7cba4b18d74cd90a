/*
 * contracts.h - a device's contract: creating it and rescheduling it.
 *
 * Each is one transaction's work as a function of (transaction, input,
 * now) for the runner (run.h, txn.h): it reads the device under its lock,
 * applies the rules, writes the contract or the reschedule, decides the
 * device again and audits it for the caller, and leaves what the answer
 * needs in the result. It runs again from the start when the store gives
 * the transaction up, so it reads only its input and writes only its
 * result; waking the phone (fl_decide_committed with result->what) is
 * the caller's, after the commit. A refusal returns its error with the
 * words for it in result->msg ("" for a failure of the store).
 *
 * Reading the request (the terms, their shape and the policy's checks
 * that need no store) is the handler's (api_contracts.c).
 *
 * THREAD SAFETY: per transaction.
 */
#ifndef FL_SERVER_CONTRACTS_H
#define FL_SERVER_CONTRACTS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/fltime.h"
#include "core/policy.h"
#include "server/auth.h"
#include "server/decide.h"
#include "store/store.h"

#define FL_CONTRACT_MSG_MAX 256 /* a refusal's message */

struct fl_contract_create_in {
	struct fl_principal who;   /* the caller: tenant, key (audit) */
	char device_id[FL_ID_MAX]; /* the device, of who's tenant */
	const struct fl_contract_rec *contract; /* the terms; borrowed */
};

struct fl_contract_result {
	struct fl_contract_rec contract; /* as stored; its schedule is the
	                                    input's (borrowed) */
	struct fl_device device;         /* the device, decided again */
	struct fl_decided what;          /* what the decision changed */
	char msg[FL_CONTRACT_MSG_MAX];   /* why it was refused */
};

/* Creates the contract of in->device_id: FL_E_NOT_FOUND (no such device
 * for the tenant), FL_E_CONFLICT (it has a contract, or another contract
 * has the loan_ref, compared as payments compare it), FL_E_STATE (the
 * device was released). */
fl_err fl_contract_create(struct fl_tx *tx,
                          const struct fl_contract_create_in *in, fl_time now,
                          struct fl_contract_result *out) FL_MUST_USE;

/* One installment of a reschedule as sent: its due date or time (a date
 * is the end of that day at the contract's offset), and the amount. */
struct fl_reschedule_item {
	const char *due; /* borrowed, due_len bytes */
	size_t due_len;
	int64_t amount;
};

struct fl_reschedule_in {
	struct fl_principal who;   /* the caller: tenant, key (audit) */
	char device_id[FL_ID_MAX]; /* the device, of who's tenant */
	const char *from;          /* a date (start of that day at the
	                              contract's offset) or an RFC 3339 time */
	const struct fl_reschedule_item *items; /* the new schedule */
	size_t n_items;                         /* at most
	                                  FL_POLICY_MAX_INSTALLMENTS */
	char reason[FL_REASON_MAX];
};

struct fl_reschedule_result {
	struct fl_reschedule_rec rec;  /* as stored; schedule owned */
	struct fl_device device;       /* the device, decided again */
	struct fl_decided what;        /* what the decision changed */
	char msg[FL_CONTRACT_MSG_MAX]; /* why it was refused */
};

/* Reschedules the contract of in->device_id from in->from: FL_E_NOT_FOUND,
 * FL_E_NO_CONTRACT, FL_E_STATE (released), FL_E_LIMIT (too many
 * reschedules), a time's parse error, or the policy's refusal of the
 * schedule. out must start zeroed; free it with
 * fl_reschedule_result_clear. */
fl_err fl_contract_reschedule(struct fl_tx *tx,
                              const struct fl_reschedule_in *in, fl_time now,
                              struct fl_reschedule_result *out) FL_MUST_USE;
/* Frees what out owns (its schedule). */
void fl_reschedule_result_clear(struct fl_reschedule_result *out);

/* The contract as JSON; reschedules (may be NULL) are appended when
 * given. New reference. */
json_t *fl_contract_json(const struct fl_contract_rec *c,
                         const struct fl_reschedule *rs, size_t n_rs);
/* A schedule as a JSON array of {due_at, amount}. New reference. */
json_t *fl_schedule_json(const struct fl_installment *items, size_t n);

/* Why the policy refused installment i of list (n entries) of `what`
 * ("schedule"), in words, into msg[cap]; from is a reschedule's start (0
 * for a contract). */
void fl_schedule_fault(char *msg, size_t cap, fl_err err, const char *what,
                       const struct fl_installment *list, size_t n, size_t i,
                       fl_time from);

#endif
