/* log.c - JSON lines on stderr. */
#include "server/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/fltime.h"
#include "store/store.h"

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static FILE *log_out;
static volatile int log_level = FL_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void fl_log_init(FILE *out, enum fl_log_level level)
{
	pthread_mutex_lock(&log_mu);
	log_out = out;
	log_level = (int)level;
	pthread_mutex_unlock(&log_mu);
}

void fl_log_set_level(enum fl_log_level level)
{
	log_level = (int)level;
}

int fl_log_enabled(enum fl_log_level level)
{
	return (int)level >= log_level;
}

fl_err fl_log_level_parse(const char *s, enum fl_log_level *out)
{
	for (int i = 0; i < 4; i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum fl_log_level)i;
			return FL_OK;
		}
	}
	if (strcmp(s, "warning") == 0) {
		*out = FL_LOG_WARN;
		return FL_OK;
	}
	return FL_E_INVALID;
}

const char *fl_log_level_name(enum fl_log_level level)
{
	if ((unsigned)level > FL_LOG_ERROR)
		return "info";
	return level_names[level];
}

void fl_log(enum fl_log_level level, const char *msg, json_t *fields)
{
	char ts[FL_TIME_STR_LEN];
	json_t *line = NULL;
	char *text = NULL;
	struct timespec now;

	if (!fl_log_enabled(level))
		goto out;
	clock_gettime(CLOCK_REALTIME, &now);
	fl_time_format((fl_time)now.tv_sec, ts);
	line = json_object();
	if (line == NULL)
		goto out;
	json_object_set_new(line, "ts", json_string(ts));
	json_object_set_new(line, "level",
	                    json_string(fl_log_level_name(level)));
	json_object_set_new(line, "msg", json_string(msg));
	if (fields != NULL)
		json_object_update_missing(line, fields);
	text = json_dumps(line, JSON_COMPACT | JSON_ENSURE_ASCII |
	                                JSON_REAL_PRECISION(6));
	if (text == NULL)
		goto out;
	pthread_mutex_lock(&log_mu);
	fprintf(log_out != NULL ? log_out : stderr, "%s\n", text);
	fflush(log_out != NULL ? log_out : stderr);
	pthread_mutex_unlock(&log_mu);
out:
	free(text);
	json_decref(line);
	json_decref(fields);
}

void fl_logf(enum fl_log_level level, const char *msg, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	if (!fl_log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fl_log(level, msg, json_pack("{s:s}", "detail", buf));
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void fl_log_round(struct fl_log_repeat *r, const char *task, fl_err err)
{
	int64_t now = mono_ms();
	char msg[160];

	if (err == FL_OK) {
		if (r->failing) {
			snprintf(msg, sizeof(msg), "%s works again", task);
			fl_log(FL_LOG_INFO, msg,
			       json_pack("{s:I}", "failures",
			                 (json_int_t)r->failures));
		}
		memset(r, 0, sizeof(*r));
		return;
	}
	r->failures++;
	if (r->failing && now < r->next_ms) {
		r->left_out++;
		return;
	}
	snprintf(msg, sizeof(msg), "%s failed", task);
	fl_log(FL_LOG_ERROR, msg,
	       json_pack("{s:o,s:I}", "detail", fl_log_err(NULL, err),
	                 "repeats_left_out", (json_int_t)r->left_out));
	r->failing = true;
	r->left_out = 0;
	r->next_ms = now + 60000;
}

json_t *fl_log_err(json_t *fields, fl_err err)
{
	const char *detail = fl_store_errmsg();

	if (fields == NULL)
		fields = json_object();
	if (fields == NULL)
		return NULL;
	json_object_set_new(fields, "error", json_string(fl_strerror(err)));
	if (detail[0] != '\0')
		json_object_set_new(fields, "store_error", json_string(detail));
	return fields;
}
