/*
 * checkin.h - what a phone's check-in changes in the store, apart from
 * HTTP and authentication: the work of one write transaction (run.h), a
 * function of (transaction, the request, now).
 *
 * The device is locked first. A request with effects (a SIM or tamper
 * report, an offline code the phone used) claims its request counter
 * (fl_store_dp_claim) in the same transaction: FL_E_REPLAY when this
 * request, or a later one, was applied already, by this process or any
 * other, and then nothing is applied. This is what keeps a replay from
 * applying twice across nodes, where each node's in-memory counter
 * (devauth.h) may accept a counter another node accepted within the
 * write-behind period. Then: reports stored (unless the same report was
 * stored already and the phone has not seen the token after it), the
 * offline code's use and the unlock it gave, contact that moves an
 * offline-driven lock_at, and a new decision when any of these happened
 * (a report forces a new token).
 *
 * THREAD SAFETY: per transaction, as store.h.
 */
#ifndef FL_SERVER_CHECKIN_H
#define FL_SERVER_CHECKIN_H

#include <stdbool.h>
#include <stdint.h>

#include "core/devproto.h"
#include "core/err.h"
#include "core/fltime.h"
#include "server/decide.h"
#include "store/store.h"

struct fl_checkin_work {
	const struct fl_dp_checkin_req *r; /* the request's body, borrowed */
	const char *id;          /* the device, authenticated */
	uint64_t counter;        /* the request's counter */
	bool report;             /* it carries a SIM or tamper report */
	bool contact;            /* contact should move lock_at */
	bool code;               /* an offline code may have been used */
	bool confirm;            /* the phone's seq or lock is news */
	struct fl_device d;      /* out: the device after */
	struct fl_decided what;  /* out: what a re-decision changed */
	bool decided;            /* out: the device was re-decided */
};

/* One attempt of the work (an fl_run_fn: arg is a struct
 * fl_checkin_work). */
fl_err fl_checkin_apply(struct fl_tx *tx, void *arg, fl_time now) FL_MUST_USE;

#endif
