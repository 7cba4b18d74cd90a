/*
 * offcode.h - minting an offline unlock code for a device (core/ocode.h),
 * apart from HTTP: the work of one write transaction (run.h), a function
 * of the transaction, its input and the instant, which the runner may run
 * again and a unit test runs against a store without a socket.
 *
 * The rules: the device (locked first) must be the tenant's, enrolled (it
 * holds the offline-code secret only then), neither reported stolen nor
 * released. An unused code of the same action, still valid, is shown
 * again rather than a new one minted; otherwise the next counter is
 * minted, unless FL_OCODE_WINDOW codes already wait unused (the phone
 * would accept no further one). A release code also releases the device
 * here (a RELEASE command and a new decision): the code carries that to
 * the phone. The code is derived, never stored; the audit entry names its
 * counter, never the code.
 *
 * THREAD SAFETY: per transaction, as store.h.
 */
#ifndef FL_SERVER_OFFCODE_H
#define FL_SERVER_OFFCODE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/crypto.h"
#include "core/err.h"
#include "core/fltime.h"
#include "core/ocode.h"
#include "server/decide.h"
#include "store/store.h"

#define FL_OFFCODE_MSG_MAX 160 /* a refusal's message */

struct fl_offcode_input {
	char tenant_id[FL_ID_MAX];
	char device_id[FL_ID_MAX];
	char actor[FL_ID_MAX];        /* API key id asking */
	enum fl_ocode_action action;  /* unlock_Nd or release */
	const uint8_t *server_kx_pk;  /* the server's key exchange pair, */
	const uint8_t *server_kx_sk;  /* borrowed (secrets.h) */
};

struct fl_offcode_result {
	char code[FL_OCODE_LEN + 1]; /* a bearer secret: wipe it */
	char device_id[FL_ID_MAX];
	uint64_t counter;            /* the code's counter */
	int64_t issue_day;           /* its UTC issue day */
	bool reused;                 /* an unused code shown again */
	bool decided;                /* a release re-decided the device */
	struct fl_decided what;      /* what that decision changed */
	char msg[FL_OFFCODE_MSG_MAX]; /* why it was refused, or "" */
};

/* Mints (or shows again) in->action's code for in->device_id at now inside
 * tx. Refusals: FL_E_NOT_FOUND (no such device of the tenant),
 * FL_E_STATE (not enrolled, stolen or released), FL_E_LIMIT (too many
 * codes unused). out is overwritten whole. */
fl_err fl_offcode_mint(struct fl_tx *tx, const struct fl_offcode_input *in,
                       fl_time now, struct fl_offcode_result *out) FL_MUST_USE;

#endif
