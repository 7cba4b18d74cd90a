/* jsonval.c - JSON values that are not about HTTP (jsonval.h). */
#include "server/jsonval.h"

json_t *fl_json_time(fl_time t)
{
	char buf[FL_TIME_STR_LEN];

	if (t == 0)
		return json_null();
	fl_time_format(t, buf);
	return json_string(buf);
}
