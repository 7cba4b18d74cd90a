/*
 * devices.h - a lender's devices: what a device's JSON shows, its pending
 * commands, and the writes that are one transaction's work each:
 * registering a device and cancelling a pending command.
 *
 * The writes are functions of (transaction, input, now) for the runner
 * (run.h, txn.h): they run again from the start when the store gives the
 * transaction up, so they read only their input and write only their
 * result; waking the phone (fl_decide_committed with result->what) is the
 * caller's, after the commit. A refusal returns its error with the words
 * for it in result->msg ("" for a failure of the store).
 *
 * THREAD SAFETY: per transaction.
 */
#ifndef FL_SERVER_DEVICES_H
#define FL_SERVER_DEVICES_H

#include <jansson.h>
#include <stdint.h>

#include "core/err.h"
#include "core/fltime.h"
#include "server/auth.h"
#include "server/decide.h"
#include "store/store.h"

#define FL_DEVICES_MSG_MAX 256 /* a refusal's message */

/* A device as JSON: identity, enrollment, the decided status, contact and
 * reports, token seq. New reference. */
json_t *fl_device_json(const struct fl_device *d);

/* The device's pending commands at now, as a JSON array (caller decrefs
 * *out): the scheduled lock still to come and the unlock still holding
 * that the decision rests on, each {id, kind, at, issued_at, reason,
 * show_reason, actor}. */
fl_err fl_device_pending(struct fl_tx *tx, const struct fl_device *d,
                         fl_time now, json_t **out) FL_MUST_USE;

struct fl_register_in {
	struct fl_principal who; /* the caller: tenant, key (audit) */
	/* the new device: id, IMEIs, serial, model and the enrollment
	 * code's hash and expiry, made before the first attempt so every
	 * attempt writes the same record */
	struct fl_device device;
};

struct fl_register_result {
	struct fl_device device;      /* as stored, decided */
	struct fl_decided what;       /* what the decision changed */
	char msg[FL_DEVICES_MSG_MAX]; /* why it was refused */
};

/* Registers in->device for in->who's tenant at now and decides it:
 * FL_E_IMEI_IN_PROGRAM when one of its IMEIs is in a program (of any
 * tenant, not named). */
fl_err fl_device_register(struct fl_tx *tx, const struct fl_register_in *in,
                          fl_time now,
                          struct fl_register_result *out) FL_MUST_USE;

struct fl_cancel_in {
	struct fl_principal who;    /* the caller: tenant, key (audit) */
	char device_id[FL_ID_MAX];  /* the device, of who's tenant */
	int64_t command;            /* the command's id (ord) */
	char reason[FL_REASON_MAX]; /* why, audited */
};

struct fl_cancel_result {
	struct fl_device before, after; /* the device around the change */
	struct fl_command_rec command;  /* the command cancelled */
	struct fl_decided what;         /* what the decision changed */
	json_t *pending;                /* pending commands after; owned */
	char msg[FL_DEVICES_MSG_MAX];   /* why it was refused */
};

/* Cancels in->command of in->device_id, a scheduled lock still to come or
 * an unlock still holding, and decides the device again: FL_E_NOT_FOUND
 * (no such device or command), FL_E_STATE (not pending). Free out with
 * fl_cancel_result_clear (also between attempts: out is cleared first). */
fl_err fl_device_command_cancel(struct fl_tx *tx, const struct fl_cancel_in *in,
                                fl_time now,
                                struct fl_cancel_result *out) FL_MUST_USE;
/* Frees what out owns. */
void fl_cancel_result_clear(struct fl_cancel_result *out);

#endif
