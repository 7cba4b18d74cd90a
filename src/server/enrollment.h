/*
 * enrollment.h - a phone taking its keys, as stored: by a one-time
 * enrollment code (enroll.h makes and hashes them), or, after a reflash,
 * by a pairing request the lender approves.
 *
 * fl_enroll_apply is one transaction's work for the runner (run.h,
 * fl_run): a function of (transaction, input, now) that runs again from
 * the start when the store gives the transaction up. It checks the
 * request against the store (the code unknown, expired, used or for
 * another IMEI; the device in no program; the pairing refused, waiting,
 * or too many waiting), then writes: the new keys with the counter from
 * 0, the used code or the pairing request, the enrollment's event, the
 * device decided again, an audit entry with the device as actor. What
 * writes nothing (a refusal, an answer given again, a request still
 * waiting) ends the attempt with FL_E_STATE and out.outcome set, so the
 * runner rolls it back. Signing the answer, waking waiters and dropping
 * the old keys' bookkeeping are the caller's, after the commit
 * (api_device.c).
 *
 * THREAD SAFETY: per transaction.
 */
#ifndef FL_SERVER_ENROLLMENT_H
#define FL_SERVER_ENROLLMENT_H

#include "core/devproto.h"
#include "core/err.h"
#include "core/fltime.h"
#include "server/decide.h"
#include "store/store.h"

enum fl_enroll_outcome {
	FL_ENROLL_FAILED = 0, /* the store failed: the error says why */
	FL_ENROLL_DONE,       /* enrolled now (committed) */
	FL_ENROLL_AGAIN,      /* enrolled before with these keys: answer
	                         again (nothing written) */
	FL_ENROLL_PENDING,    /* a pairing request waits for the lender */
	FL_ENROLL_REFUSED,    /* status, code and msg say why */
};

struct fl_enroll_in {
	const struct fl_dp_enroll_req *er;   /* verified; borrowed */
	uint8_t code_hash[FL_HASH_LEN];      /* by code: er->code's hash */
	char client_net[FL_PAIRING_NET_LEN]; /* by pairing: the client's
	                                        network, as recorded */
};

struct fl_enroll_result {
	enum fl_enroll_outcome outcome;
	struct fl_device device;                  /* the device enrolled */
	struct fl_decided what;                   /* DONE: what changed */
	char pairing_code[FL_DP_PAIRING_LEN + 1]; /* PENDING: shown */
	int status;                               /* REFUSED: HTTP status */
	const char *code;                         /* REFUSED: static code */
	char msg[160];                            /* REFUSED: why */
};

struct fl_enroll_io {
	struct fl_enroll_in in;
	struct fl_enroll_result out;
};

/* io: a struct fl_enroll_io; in.er->code set means by code. */
fl_err fl_enroll_apply(struct fl_tx *tx, void *io, fl_time now) FL_MUST_USE;

#endif
