/*
 * state.h - the states a financed device can be in, and the reactions a
 * policy can choose for SIM changes and tampering.
 *
 * The state machine itself (who moves a device between these states and
 * when) lives in core/policy; this header only names the states so that
 * tokens, storage and the agent can share them without depending on policy.
 *
 * THREAD SAFETY: pure; safe from any thread.
 */
#ifndef FL_STATE_H
#define FL_STATE_H

#include <stddef.h>

#include "core/err.h"

enum fl_dev_state {
	FL_ST_PENDING = 0, /* registered, the phone has not enrolled yet */
	FL_ST_ACTIVE,      /* in good standing, no restriction */
	FL_ST_REMINDING,   /* a due date is near or passed, not yet locked */
	FL_ST_LOCKED,      /* restrictions applied, lock screen shown */
	FL_ST_RELEASED,    /* fully paid: free for good (unless stolen) */
};

/* What the agent does when the SIM changes or tampering is detected. */
enum fl_reaction {
	FL_REACT_NONE = 0, /* report to the lender only */
	FL_REACT_NOTIFY,   /* report, and show a notice on the phone */
	FL_REACT_LOCK, /* report, and lock until the server says otherwise */
};

/* "pending", "active", "reminding", "locked", "released"; NULL if invalid. */
const char *fl_state_name(enum fl_dev_state st);
fl_err fl_state_parse(const char *s, enum fl_dev_state *out) FL_MUST_USE;

/* "none", "notify", "lock"; NULL if invalid. */
const char *fl_reaction_name(enum fl_reaction r);
fl_err fl_reaction_parse(const char *s, enum fl_reaction *out) FL_MUST_USE;

#endif
