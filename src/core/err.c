#include "core/err.h"

static const char *const messages[] = {
#define FL_ERR_MSG_(name, msg) [name] = msg,
        FL_ERRORS(FL_ERR_MSG_)
#undef FL_ERR_MSG_
};

static const char *const names[] = {
#define FL_ERR_NAME_(name, msg) [name] = #name,
        FL_ERRORS(FL_ERR_NAME_)
#undef FL_ERR_NAME_
};

const char *fl_strerror(fl_err err)
{
	if ((unsigned)err >= FL_E__COUNT)
		return "unknown error";
	return messages[err];
}

const char *fl_errname(fl_err err)
{
	if ((unsigned)err >= FL_E__COUNT)
		return "FL_E_UNKNOWN";
	return names[err];
}
