/*
 * req.c - a request's accessors and answers (req.h), without a socket.
 */
#include "server/req.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store/store.h"

/* --- errors and replies --------------------------------------------------- */

int fl_http_status(fl_err err)
{
	switch (err) {
	case FL_OK:
		return 200;
	case FL_E_NOT_FOUND:
		return 404;
	case FL_E_CONFLICT:
	case FL_E_STATE:
	case FL_E_IDEMPOTENCY:
	case FL_E_IMEI_IN_PROGRAM:
	case FL_E_NO_CONTRACT:
		return 409;
	case FL_E_PERM:
		return 403;
	case FL_E_AUTH:
		return 401;
	case FL_E_LIMIT:
		return 429;
	case FL_E_TOO_LARGE:
		return 413;
	case FL_E_HEADERS_TOO_LARGE:
		return 431;
	case FL_E_METHOD:
		return 405;
	case FL_E_STORE_BUSY:
	case FL_E_STORE_RETRY:
	case FL_E_STORE_UNAVAILABLE:
		return 503;
	case FL_E_INSUFFICIENT_STORAGE:
		return 507;
	case FL_E_REQUEST_TIMEOUT:
		return 408;
	case FL_E_NOMEM:
	case FL_E_IO:
	case FL_E_CORRUPT:
	case FL_E_STORE:
	case FL_E_STORE_SCHEMA:
	case FL_E_INTERNAL:
	case FL_E_CONFIG:
	case FL_E_TLS_REQUIRED:
	case FL_E_NET:
	case FL_E__COUNT:
		return 500;
	default:
		/* every other code names something wrong with the input */
		return 400;
	}
}

const char *fl_http_err_code(fl_err err, char *buf, size_t cap)
{
	const char *name = fl_errname(err);
	size_t i = 0;

	if (strncmp(name, "FL_E_", 5) == 0)
		name += 5;
	else if (strcmp(name, "FL_OK") == 0)
		name = "ok";
	for (; name[i] != '\0' && i + 1 < cap; i++)
		buf[i] = (char)(name[i] >= 'A' && name[i] <= 'Z'
		                        ? name[i] - 'A' + 'a'
		                        : name[i]);
	buf[i] = '\0';
	return buf;
}

static void set_resp(struct fl_req *req, int status, const char *ctype,
                     char *body, size_t len)
{
	free(req->resp);
	free(req->store_error);
	req->store_error = NULL;
	req->status = status;
	req->ctype = ctype;
	req->resp = body;
	req->resp_len = len;
}

void fl_reply_raw(struct fl_req *req, int status, const char *ctype, char *body,
                  size_t len)
{
	req->err_code = NULL;
	set_resp(req, status, ctype, body, len);
}

void fl_reply_json(struct fl_req *req, int status, json_t *body)
{
	char *text = NULL;

	req->err_code = NULL;
	if (body != NULL) {
		text = json_dumps(body, JSON_COMPACT | JSON_ENSURE_ASCII);
		json_decref(body);
		if (text == NULL) {
			fl_reply_error(req, FL_E_NOMEM, NULL);
			return;
		}
	}
	set_resp(req, status, "application/json", text,
	         text != NULL ? strlen(text) : 0);
}

/* Error codes live as long as the request's log line: one table of them,
 * built once. */
static char codes[FL_E__COUNT + 1][40];
static pthread_once_t codes_once = PTHREAD_ONCE_INIT;

static void build_codes(void)
{
	for (unsigned i = 0; i <= FL_E__COUNT; i++)
		fl_http_err_code((fl_err)i, codes[i], sizeof(codes[i]));
}

static const char *static_code(fl_err err)
{
	unsigned i = (unsigned)err <= FL_E__COUNT ? (unsigned)err : FL_E__COUNT;

	pthread_once(&codes_once, build_codes);
	return codes[i];
}

static void reply_errorv(struct fl_req *req, int status, fl_err err,
                         const char *fmt, va_list ap)
{
	char msg[512];
	json_t *body;
	char *text;

	if (fmt != NULL)
		vsnprintf(msg, sizeof(msg), fmt, ap);
	else
		snprintf(msg, sizeof(msg), "%s", fl_strerror(err));
	body = json_pack("{s:{s:s,s:s}}", "error", "code", static_code(err),
	                 "message", msg);
	text = body != NULL ? json_dumps(body, JSON_COMPACT | JSON_ENSURE_ASCII)
	                    : NULL;
	json_decref(body);
	set_resp(req, status, "application/json", text,
	         text != NULL ? strlen(text) : 0);
	req->err_code = static_code(err);
	/* the store gave the transaction up: the router runs the handler
	 * again (router.c) */
	if (err == FL_E_STORE_RETRY)
		req->retry = true;
	/* A server-side failure: keep the store's own words for the log
	 * line (it is this thread's, and the failure has just happened). */
	if (status >= 500) {
		free(req->store_error);
		req->store_error = strdup(fl_store_errmsg());
	}
}

void fl_reply_error(struct fl_req *req, fl_err err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply_errorv(req, fl_http_status(err), err, fmt, ap);
	va_end(ap);
}

void fl_reply_error_status(struct fl_req *req, int status, fl_err err,
                           const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply_errorv(req, status, err, fmt, ap);
	va_end(ap);
}

void fl_req_release(struct fl_req *req)
{
	free(req->params);
	req->params = NULL;
	req->n_params = 0;
}

void fl_reply_reset(struct fl_req *req)
{
	free(req->resp);
	req->resp = NULL;
	req->resp_len = 0;
	req->status = 0;
	req->ctype = NULL;
	for (size_t i = 0; i < req->n_hdrs; i++)
		free(req->hdr_value[i]);
	req->n_hdrs = 0;
	req->err_code = NULL;
	free(req->store_error);
	req->store_error = NULL;
	req->retry = false;
}

void fl_reply_header(struct fl_req *req, const char *name, const char *value)
{
	/* Kept on the heap, not in the request: a parked long poll holds its
	 * request for minutes, and most answers set no header. */
	char *copy = strdup(value);

	if (copy == NULL)
		return;
	for (size_t i = 0; i < req->n_hdrs; i++) {
		if (strcasecmp(req->hdr_name[i], name) == 0) {
			free(req->hdr_value[i]);
			req->hdr_value[i] = copy;
			return;
		}
	}
	if (req->n_hdrs >= FL_REQ_MAX_HEADERS) {
		free(copy);
		return;
	}
	req->hdr_name[req->n_hdrs] = name;
	req->hdr_value[req->n_hdrs] = copy;
	req->n_hdrs++;
}

/* --- parking a long poll -------------------------------------------------- */

void fl_req_park(void *r, fl_time deadline)
{
	struct fl_req *req = r;

	req->parked = true;
	req->wait_until = deadline;
	if (req->io != NULL && req->conn != NULL)
		req->io->suspend(req->conn);
}

void fl_req_wake(void *r)
{
	struct fl_req *req = r;

	if (req->io != NULL && req->conn != NULL)
		req->io->resume(req->conn);
}

/* --- request accessors ---------------------------------------------------- */

static const char *value_of(const struct fl_req *req, enum fl_req_kind kind,
                            const char *name)
{
	if (req->io == NULL || req->conn == NULL)
		return NULL;
	return req->io->value(req->conn, kind, name);
}

const char *fl_req_header(const struct fl_req *req, const char *name)
{
	return value_of(req, FL_REQ_HEADER, name);
}

const char *fl_req_cookie(const struct fl_req *req, const char *name)
{
	return value_of(req, FL_REQ_COOKIE, name);
}

const char *fl_req_query(const struct fl_req *req, const char *name)
{
	return value_of(req, FL_REQ_QUERY, name);
}

fl_err fl_parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	bool big = false;

	*out = 0;
	if (s == NULL || s[0] == '\0')
		return FL_E_INVALID;
	for (const char *p = s; *p != '\0'; p++) {
		unsigned d;

		if (*p < '0' || *p > '9')
			return FL_E_INVALID;
		d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			big = true; /* keep checking the rest are digits */
		else
			v = v * 10 + d;
	}
	if (big || v > max)
		return FL_E_RANGE;
	*out = v;
	return FL_OK;
}

fl_err fl_req_query_uint(struct fl_req *req, const char *name, uint64_t min,
                         uint64_t max, uint64_t *out)
{
	const char *s = fl_req_query(req, name);
	fl_err err;

	if (s == NULL)
		return FL_OK; /* *out keeps the default */
	err = fl_parse_uint(s, max, out);
	if (err == FL_OK && *out < min)
		err = FL_E_RANGE;
	if (err != FL_OK) {
		fl_reply_error(req, err, "%s must be an integer in %llu..%llu",
		               name, (unsigned long long)min,
		               (unsigned long long)max);
		return err;
	}
	return FL_OK;
}

struct query_check {
	const char *const *allowed;
	const char *bad; /* first unknown or repeated key */
	const char *seen[16];
	size_t n_seen;
};

static bool query_iter(void *cls, const char *key)
{
	struct query_check *qc = cls;
	bool known = false;

	for (size_t i = 0; qc->allowed[i] != NULL && !known; i++)
		known = strcmp(qc->allowed[i], key) == 0;
	for (size_t i = 0; i < qc->n_seen && known; i++)
		if (strcmp(qc->seen[i], key) == 0)
			known = false;
	if (!known || qc->n_seen == sizeof(qc->seen) / sizeof(qc->seen[0])) {
		qc->bad = key;
		return false;
	}
	qc->seen[qc->n_seen++] = key;
	return true;
}

fl_err fl_req_query_only(struct fl_req *req, const char *const *allowed)
{
	struct query_check qc = {.allowed = allowed};

	if (req->io == NULL || req->conn == NULL)
		return FL_OK;
	req->io->each_query(req->conn, query_iter, &qc);
	if (qc.bad != NULL) {
		fl_reply_error(req, FL_E_INVALID,
		               "unknown or repeated query parameter '%.64s'",
		               qc.bad);
		return FL_E_INVALID;
	}
	return FL_OK;
}
