/*
 * agent_int.h - the agent's insides, shared by agent.c (state, decisions,
 * enforcement, codes, platform signals) and net.c (enroll, check-in, wait,
 * lookup). Nothing outside src/agent includes it.
 *
 * State changes follow one pattern, txn_begin / txn_end: a snapshot of the
 * persisted state is taken, the state is changed in memory, then written to
 * the partition. If anything fails (a check, the write) the snapshot comes
 * back and the trust set and claims are rebuilt from it, so memory always
 * equals what is on the partition and a refused answer changes nothing.
 *
 * THREAD SAFETY: as agent.h: one thread at a time per agent.
 */
#ifndef FL_AGENT_INT_H
#define FL_AGENT_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/persist.h"
#include "agent/ttime.h"
#include "core/devproto.h"
#include "core/token.h"
#include "finlock/agent.h"

#define FL_AGENT_SKEW            300 /* token window skew, seconds */
#define FL_AGENT_CHECKIN_DEFAULT 900 /* next check-in without a hint */
#define FL_AGENT_PAIRING_POLL                                                  \
	10                          /* pending pairing retry: the lender       \
	                             * approves during a support call */
#define FL_AGENT_BACKOFF_MIN   5    /* first retry after a failure */
#define FL_AGENT_BACKOFF_MAX   3600 /* retries never wait longer */
#define FL_AGENT_HTTP_TIMEOUT  30   /* seconds for ordinary requests */
#define FL_AGENT_WAIT_SLACK    30   /* added to a wait's timeout */
#define FL_AGENT_RESET_MAX_AGE (30 * FL_DAY) /* oldest seq reset applied */

/* The time passed to fl_trust_verify and fl_agent_token_check when a
 * token held is checked on load: no certificate end or acceptance window
 * is judged (they limit when a token may be accepted, not how long it
 * stays in force). */
#define FL_AGENT_ANY_TIME 0

/* User-data blob: which reminders were shown, and the notices. */
#define FL_UI_BLOB "agent.ui"

struct fl_agent {
	struct fl_hal hal;               /* copied at open */
	uint8_t root_pk[FL_SIGN_PK_LEN]; /* factory image's root key */
	struct fl_hal_device dev;        /* IMEIs and serial */

	struct fl_pstate st; /* equals the partition's copy */
	struct fl_persist_pos pos;
	struct fl_trust *trust;         /* root + st.certs - st.revs */
	struct fl_device_claims claims; /* st.token's claims, verified */
	bool has_claims;
	bool unverified;         /* st.token or a release failed its checks */
	bool receipt_ok;         /* st.receipt verified */
	struct fl_hal_code code; /* the secure hardware's code record */
	uint64_t sent_mono, sent_boot; /* clocks when the request left */

	uint64_t mono, boot; /* clocks as last read */
	fl_time wall;

	uint32_t failures;  /* network failures in a row */
	int http_status;    /* last answer's status */
	uint32_t next_hint; /* server's next_checkin */
	bool pairing_wait;  /* last pairing try got 202 */

	fl_time reminder_mark; /* newest reminder shown */
	char notices[FL_AGENT_NOTICES][FL_AGENT_NOTICE_MAX];
	size_t n_notices;

	struct fl_agent_screen screen; /* as last decided */
	struct fl_agent_screen shown;  /* as last given to hal->show */
	bool applied;                  /* hal->apply called this boot */
	uint64_t applied_mask;
	bool shown_valid;
};

/* agent.c */
fl_err fl_agent_txn_begin(struct fl_agent *a, struct fl_pstate *snap);
fl_err fl_agent_txn_end(struct fl_agent *a, struct fl_pstate *snap, fl_err err);
fl_err fl_agent_read_clocks(struct fl_agent *a);
fl_time fl_agent_trusted(const struct fl_agent *a);
fl_time fl_agent_effective(const struct fl_agent *a);
void fl_agent_learn_time(struct fl_agent *a, fl_time server);
fl_err fl_agent_add_keys(struct fl_agent *a, const struct fl_dp_keys *k,
                         fl_time now);
/* Checks a device token as the phone must: signature under a certified,
 * unrevoked key (its end judged at now), device id (any valid one when
 * from_lookup), the phone's IMEIs, and at now the acceptance window.
 * now FL_AGENT_ANY_TIME judges neither end nor window. *c receives the
 * claims (cleared on error). */
fl_err fl_agent_token_check(const struct fl_agent *a, const char *token,
                            fl_time now, bool from_lookup,
                            struct fl_device_claims *c);
/* Holds token (copied) with its checked claims *c (taken; *c zeroed). */
fl_err fl_agent_set_token(struct fl_agent *a, const char *token,
                          struct fl_device_claims *c, bool from_lookup);
/* A release the phone can prove: a released token, the receipt, or a
 * release code in the secure hardware's record. */
bool fl_agent_released_proven(const struct fl_agent *a);
/* A fresh answer's server time (its MAC binds it to this request):
 * trusted time is brought back to it when it ran ahead. */
void fl_agent_fresh_time(struct fl_agent *a, fl_time server);
fl_err fl_agent_accept_token(struct fl_agent *a, const char *token);
fl_err fl_agent_make_keys(struct fl_agent *a);
void fl_agent_pairing_code(const struct fl_agent *a, char out[20]);
void fl_agent_notice(struct fl_agent *a, const char *text);
void fl_agent_enforce(struct fl_agent *a);
void fl_agent_net_result(struct fl_agent *a, fl_err err);

/* net.c */
fl_err fl_agent_do_enroll(struct fl_agent *a, const char *code);
fl_err fl_agent_do_setup(struct fl_agent *a);
fl_err fl_agent_do_checkin(struct fl_agent *a);
fl_err fl_agent_do_wait(struct fl_agent *a, uint32_t timeout_s);

#endif
