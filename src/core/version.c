/* version.c - the version and commit the Makefile compiled in. */
#include "core/version.h"

#include <stdio.h>

#ifndef FL_BUILD_VERSION
#define FL_BUILD_VERSION "0.0.0"
#endif
#ifndef FL_BUILD_COMMIT
#define FL_BUILD_COMMIT ""
#endif

const char *fl_version(void)
{
	return FL_BUILD_VERSION;
}

const char *fl_version_commit(void)
{
	return FL_BUILD_COMMIT[0] != '\0' ? FL_BUILD_COMMIT : "unknown";
}

const char *fl_version_line(const char *program)
{
	static _Thread_local char line[256];

	snprintf(line, sizeof(line), "%s %s (commit %s)", program, fl_version(),
	         fl_version_commit());
	return line;
}
