/* jsonio.c - strict request JSON, response JSON helpers, cursors. */
#include "server/jsonio.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "server/app.h"

fl_err fl_json_depth_check(const char *text, size_t len, int max_depth)
{
	int depth = 0;
	bool in_str = false;

	for (size_t i = 0; i < len; i++) {
		char c = text[i];

		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = false;
			continue;
		}
		if (c == '"') {
			in_str = true;
		} else if (c == '{' || c == '[') {
			if (++depth > max_depth)
				return FL_E_JSON_DEPTH;
		} else if (c == '}' || c == ']') {
			depth--;
		}
	}
	return FL_OK;
}

fl_err fl_jin_parse_opt(struct fl_jin *j, struct fl_req *req, bool allow_empty)
{
	json_error_t jerr;
	fl_err err;

	memset(j, 0, sizeof(*j));
	j->req = req;
	if (req->body_len == 0 && allow_empty) {
		j->root = json_object();
		return j->root != NULL ? FL_OK : FL_E_NOMEM;
	}
	if (req->body_len == 0) {
		fl_reply_error(req, FL_E_JSON,
		               "a JSON object body is required");
		return FL_E_JSON;
	}
	err = fl_json_depth_check(req->body, req->body_len,
	                          req->app->cfg.max_json_depth);
	if (err != FL_OK) {
		fl_reply_error(req, err, "JSON nests deeper than %d levels",
		               req->app->cfg.max_json_depth);
		return err;
	}
	j->root = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES,
	                     &jerr);
	if (j->root == NULL) {
		fl_reply_error(req, FL_E_JSON, "malformed JSON at line %d: %s",
		               jerr.line, jerr.text);
		return FL_E_JSON;
	}
	if (!json_is_object(j->root)) {
		json_decref(j->root);
		j->root = NULL;
		fl_reply_error(req, FL_E_FIELD_TYPE,
		               "the body must be a JSON object");
		return FL_E_FIELD_TYPE;
	}
	return FL_OK;
}

void fl_jin_fail(struct fl_jin *j, fl_err err, const char *fmt, ...)
{
	va_list ap;

	if (j->err != FL_OK)
		return;
	j->err = err;
	va_start(ap, fmt);
	vsnprintf(j->msg, sizeof(j->msg), fmt, ap);
	va_end(ap);
}

void fl_jin_only(struct fl_jin *j, const char *const *fields)
{
	const char *key;
	json_t *v;

	json_object_foreach(j->root, key, v)
	{
		bool known = false;

		for (size_t i = 0; fields[i] != NULL && !known; i++)
			known = strcmp(fields[i], key) == 0;
		if (!known) {
			fl_jin_fail(j, FL_E_FIELD_UNKNOWN,
			            "unknown field '%.64s'", key);
			return;
		}
	}
}

json_t *fl_jin_get(struct fl_jin *j, const char *name, json_type type,
                   bool required)
{
	static const char *const type_names[] = {
	        [JSON_OBJECT] = "an object", [JSON_ARRAY] = "an array",
	        [JSON_STRING] = "a string",  [JSON_INTEGER] = "an integer",
	        [JSON_REAL] = "a number",    [JSON_TRUE] = "a boolean",
	        [JSON_FALSE] = "a boolean",  [JSON_NULL] = "null",
	};
	json_t *v = json_object_get(j->root, name);

	if (v == NULL || json_is_null(v)) {
		if (required)
			fl_jin_fail(j, FL_E_FIELD_MISSING,
			            "field '%s' is required", name);
		return NULL;
	}
	if (json_typeof(v) != type &&
	    !(type == JSON_TRUE && json_is_boolean(v))) {
		fl_jin_fail(j, FL_E_FIELD_TYPE, "field '%s' must be %s", name,
		            type_names[type]);
		return NULL;
	}
	return v;
}

bool fl_jin_elem_str(struct fl_jin *j, json_t *v, const char *what, char *buf,
                     size_t cap)
{
	size_t n;

	if (!json_is_string(v)) {
		fl_jin_fail(j, FL_E_FIELD_TYPE, "%s must be a string", what);
		return false;
	}
	n = json_string_length(v);
	if (n >= cap || strlen(json_string_value(v)) != n) {
		fl_jin_fail(j, n >= cap ? FL_E_RANGE : FL_E_INVALID,
		            n >= cap ? "%s is longer than %zu bytes"
		                     : "%s contains a NUL character",
		            what, n >= cap ? cap - 1 : (size_t)0);
		return false;
	}
	memcpy(buf, json_string_value(v), n + 1);
	return true;
}

bool fl_jin_str(struct fl_jin *j, const char *name, bool required, char *buf,
                size_t cap)
{
	char what[80];
	json_t *v = fl_jin_get(j, name, JSON_STRING, required);

	if (v == NULL)
		return false;
	snprintf(what, sizeof(what), "field '%s'", name);
	return fl_jin_elem_str(j, v, what, buf, cap);
}

bool fl_jin_int(struct fl_jin *j, const char *name, bool required, int64_t *out)
{
	json_t *v = fl_jin_get(j, name, JSON_INTEGER, required);

	if (v == NULL)
		return false;
	*out = (int64_t)json_integer_value(v);
	return true;
}

bool fl_jin_bool(struct fl_jin *j, const char *name, bool required, bool *out)
{
	json_t *v = fl_jin_get(j, name, JSON_TRUE, required);

	if (v == NULL)
		return false;
	*out = json_is_true(v);
	return true;
}

bool fl_jin_time(struct fl_jin *j, const char *name, bool required,
                 fl_time *out)
{
	char buf[64];
	fl_err err;

	if (!fl_jin_str(j, name, required, buf, sizeof(buf)))
		return false;
	err = fl_time_parse(buf, strlen(buf), out);
	if (err != FL_OK) {
		fl_jin_fail(j, err, "field '%s': %s", name, fl_strerror(err));
		return false;
	}
	return true;
}

fl_err fl_jin_end(struct fl_jin *j)
{
	fl_err err = j->err;

	if (err != FL_OK)
		fl_reply_error(j->req, err, "%s", j->msg);
	json_decref(j->root);
	j->root = NULL;
	return err;
}

void fl_cursor_encode(int64_t ord, char out[FL_CURSOR_MAX])
{
	uint8_t raw[8];
	uint64_t v = (uint64_t)ord;

	for (int i = 0; i < 8; i++)
		raw[i] = (uint8_t)(v >> (56 - 8 * i));
	if (fl_b64url_encode(out, FL_CURSOR_MAX, raw, sizeof(raw)) != FL_OK)
		out[0] = '\0';
}

fl_err fl_cursor_decode(const char *s, int64_t *ord)
{
	uint8_t raw[8];
	size_t n = 0;
	uint64_t v = 0;

	*ord = 0;
	if (fl_b64url_decode(raw, sizeof(raw), &n, s, strlen(s)) != FL_OK ||
	    n != sizeof(raw))
		return FL_E_INVALID;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | raw[i];
	if (v > (uint64_t)INT64_MAX)
		return FL_E_INVALID;
	*ord = (int64_t)v;
	return FL_OK;
}

fl_err fl_req_page(struct fl_req *req, int64_t *after, int *limit)
{
	const char *c = fl_req_query(req, "cursor");
	uint64_t v = 50;
	fl_err err;

	*after = 0;
	*limit = 50;
	if (c != NULL && c[0] != '\0' && fl_cursor_decode(c, after) != FL_OK) {
		fl_reply_error(req, FL_E_INVALID, "cursor is not valid");
		return FL_E_INVALID;
	}
	if ((err = fl_req_query_uint(req, "limit", 1, 500, &v)) != FL_OK)
		return err;
	*limit = (int)v;
	return FL_OK;
}

void fl_reply_page(struct fl_req *req, json_t *items, int64_t next)
{
	char cur[FL_CURSOR_MAX];
	json_t *body;

	if (next > 0)
		fl_cursor_encode(next, cur);
	body = json_pack("{s:o,s:o}", "items", items, "next_cursor",
	                 next > 0 ? json_string(cur) : json_null());
	if (body == NULL) {
		fl_reply_error(req, FL_E_NOMEM, NULL);
		return;
	}
	fl_reply_json(req, 200, body);
}
