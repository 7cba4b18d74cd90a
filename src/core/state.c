#include "core/state.h"

#include <string.h>

static const char *const state_names[] = {
        [FL_ST_PENDING] = "pending",     [FL_ST_ACTIVE] = "active",
        [FL_ST_REMINDING] = "reminding", [FL_ST_LOCKED] = "locked",
        [FL_ST_RELEASED] = "released",
};

static const char *const reaction_names[] = {
        [FL_REACT_NONE] = "none",
        [FL_REACT_NOTIFY] = "notify",
        [FL_REACT_LOCK] = "lock",
};

const char *fl_state_name(enum fl_dev_state st)
{
	if ((unsigned)st >= sizeof(state_names) / sizeof(state_names[0]))
		return NULL;
	return state_names[st];
}

fl_err fl_state_parse(const char *s, enum fl_dev_state *out)
{
	for (unsigned i = 0; i < sizeof(state_names) / sizeof(state_names[0]);
	     i++) {
		if (s != NULL && strcmp(s, state_names[i]) == 0) {
			*out = (enum fl_dev_state)i;
			return FL_OK;
		}
	}
	return FL_E_INVALID;
}

const char *fl_reaction_name(enum fl_reaction r)
{
	if ((unsigned)r >= sizeof(reaction_names) / sizeof(reaction_names[0]))
		return NULL;
	return reaction_names[r];
}

fl_err fl_reaction_parse(const char *s, enum fl_reaction *out)
{
	for (unsigned i = 0;
	     i < sizeof(reaction_names) / sizeof(reaction_names[0]); i++) {
		if (s != NULL && strcmp(s, reaction_names[i]) == 0) {
			*out = (enum fl_reaction)i;
			return FL_OK;
		}
	}
	return FL_E_INVALID;
}
