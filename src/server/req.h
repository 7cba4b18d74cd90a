/*
 * req.h - a request and its answer, as handlers see them.
 *
 * The transport (http.c) fills a struct fl_req for each request and hands
 * it to the router (router.h), which authenticates the caller and calls the
 * handler. A handler reads the request through the fl_req_* accessors and
 * answers with exactly one fl_reply_* call (a later one replaces an earlier
 * one); the transport sends the answer, logs one line and counts it in the
 * metrics.
 *
 * Nothing here touches a socket: what only the connection knows (headers,
 * cookies, the query, suspending and resuming) is reached through the
 * struct fl_req_io the transport puts in req->io, so a request can be
 * built and answered in a unit test without one (req->io NULL: no
 * headers, no query).
 *
 * Every 503 (the database unreachable or busy, a transaction given up
 * after its retries, too many waiters) carries a Retry-After header in
 * seconds (FL_HTTP_RETRY_AFTER unless the handler set one).
 *
 * Every error answer has the body {"error":{"code":"...","message":"..."}}
 * where code is the fl_err name in lower case without "FL_E_"
 * ("field_missing", "not_found"), so clients can branch on it.
 *
 * THREAD SAFETY: a struct fl_req belongs to the thread running its
 * handler; fl_req_wake may be called from any thread.
 */
#ifndef FL_SERVER_REQ_H
#define FL_SERVER_REQ_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/fltime.h"
#include "server/auth.h"

struct fl_app;
struct fl_route;

#define FL_ROUTE_MAX_PARAMS 4   /* {placeholders} in one route pattern */
#define FL_PARAM_MAX        128 /* longest value of one path parameter */
#define FL_REQ_MAX_HEADERS  6   /* extra response headers */
#define FL_HTTP_RETRY_AFTER "1" /* seconds, on every 503 without one */

/* Where a value of the request comes from (struct fl_req_io). */
enum fl_req_kind {
	FL_REQ_HEADER, /* a request header, case-insensitive */
	FL_REQ_COOKIE, /* a cookie */
	FL_REQ_QUERY,  /* a decoded query parameter */
};

/* What the transport does for a request on its connection. */
struct fl_req_io {
	/* The value of name of kind, or NULL. */
	const char *(*value)(void *conn, enum fl_req_kind kind,
	                     const char *name);
	/* Calls fn with each query parameter's key, in order, until fn
	 * returns false. */
	void (*each_query)(void *conn, bool (*fn)(void *ctx, const char *key),
	                   void *ctx);
	void (*suspend)(void *conn); /* stop answering until resume */
	void (*resume)(void *conn);  /* run the handler again; any thread */
};

struct fl_req {
	struct fl_app *app;           /* the server */
	const struct fl_req_io *io;   /* the transport's, or NULL */
	void *conn;                   /* the connection, for io */
	const char *method;           /* "GET", "POST", ... */
	const char *path;             /* decoded path, no query */
	const struct fl_route *route; /* the matched route */
	char *params;    /* path parameters, each NUL-terminated, on the
	                  * heap (NULL without any: a parked wait keeps
	                  * none); fl_req_release frees them */
	size_t n_params;
	const char *body; /* NUL-terminated request body */
	size_t body_len;
	struct fl_principal who; /* the authenticated caller */
	char client[48];         /* client address, text */
	uint8_t client_net[16];  /* IPv4 address, or IPv6 /64 prefix */
	fl_time now;             /* when the request arrived (or resumed) */
	bool parked;             /* suspended by fl_push_wait */
	bool resumed;            /* this run follows a parked one */
	fl_time wait_until;      /* deadline of the wait it parked for */
	uint64_t id;             /* request number, for the logs */

	/* the answer */
	int status; /* HTTP status */
	char *resp; /* body, owned */
	size_t resp_len;
	const char *ctype;                        /* content type, static */
	const char *hdr_name[FL_REQ_MAX_HEADERS]; /* static names */
	char *hdr_value[FL_REQ_MAX_HEADERS];      /* owned; fl_reply_reset */
	size_t n_hdrs;
	const char *err_code;  /* error code of an error answer */
	bool retry;            /* answered FL_E_STORE_RETRY: run again */
	char *store_error;     /* the store's message of a 5xx, owned, or NULL */
};

/* Frees what the request holds beyond its answer (fl_reply_reset): its
 * path parameters. */
void fl_req_release(struct fl_req *req);
/* A path parameter by its name in the route pattern ("device_id"); NULL if
 * the route has no such placeholder. */
const char *fl_req_param(const struct fl_req *req, const char *name);
/* A request header (case-insensitive), or NULL. */
const char *fl_req_header(const struct fl_req *req, const char *name);
/* A cookie sent with the request, or NULL. */
const char *fl_req_cookie(const struct fl_req *req, const char *name);
/* A decoded query parameter, or NULL. */
const char *fl_req_query(const struct fl_req *req, const char *name);
/* A query parameter as an unsigned decimal integer in min..max: digits
 * only (no sign, space or fraction), never wrapped or clamped. Absent, *out
 * keeps the caller's default and FL_OK is returned. Otherwise answers 400
 * (FL_E_RANGE for a number outside min..max, FL_E_INVALID for anything
 * that is not one) and returns that error. */
fl_err fl_req_query_uint(struct fl_req *req, const char *name, uint64_t min,
                         uint64_t max, uint64_t *out) FL_MUST_USE;
/* Parses s as an unsigned decimal integer of digits only: FL_E_INVALID if
 * it is not one, FL_E_RANGE above max (or above 2^64 - 1). */
fl_err fl_parse_uint(const char *s, uint64_t max, uint64_t *out) FL_MUST_USE;
/* Answers 400 and returns FL_E_INVALID if the query has a parameter not in
 * the NULL-terminated list `allowed` (or a repeated one). */
fl_err fl_req_query_only(struct fl_req *req,
                         const char *const *allowed) FL_MUST_USE;

/* Answers status with body (takes the reference; NULL answers no body). */
void fl_reply_json(struct fl_req *req, int status, json_t *body);
/* Answers with a raw body of content type ctype (static); takes body,
 * which must come from malloc. */
void fl_reply_raw(struct fl_req *req, int status, const char *ctype, char *body,
                  size_t len);
/* Answers the error err with the status fl_http_status(err) and a message
 * (printf format); NULL fmt uses fl_strerror(err). */
void fl_reply_error(struct fl_req *req, fl_err err, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* Answers a custom status with err's code and the message. */
void fl_reply_error_status(struct fl_req *req, int status, fl_err err,
                           const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
/* Forgets the answer set so far (a transaction attempt that was given up
 * leaves no trace in the answer of the next, run.h). */
void fl_reply_reset(struct fl_req *req);
/* Adds a response header (name static, value copied, truncated at 255).
 * A handler that sets Cache-Control replaces the default "no-store". */
void fl_reply_header(struct fl_req *req, const char *name, const char *value);

/* Parks req from inside its handler until fl_req_wake (push.h calls
 * both): the handler then returns without answering, and runs again with
 * req->resumed set. req is a struct fl_req; deadline goes to
 * req->wait_until. */
void fl_req_park(void *req, fl_time deadline);
/* Resumes a parked request. Any thread. */
void fl_req_wake(void *req);

/* The HTTP status for an error. */
int fl_http_status(fl_err err);
/* "field_missing" for FL_E_FIELD_MISSING: lower case, no "FL_E_". Writes
 * into buf[cap]. */
const char *fl_http_err_code(fl_err err, char *buf, size_t cap);

#endif
