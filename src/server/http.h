/*
 * http.h - finlockd's HTTP front: requests in, JSON out.
 *
 * fl_http_start() runs libmicrohttpd in thread-pool mode with epoll. For
 * each request it gathers the body into a capped buffer, enforces the
 * header, body and time limits, then hands a struct fl_req to the router
 * (router.h), which authenticates the caller and calls the handler. A
 * handler reads the request through the fl_req_* accessors and answers
 * with exactly one fl_reply_* call (a later one replaces an earlier one);
 * http.c sends the answer, logs one line and counts it in the metrics.
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
 * handler. fl_http_* functions are called from the main thread.
 */
#ifndef FL_SERVER_HTTP_H
#define FL_SERVER_HTTP_H

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

struct fl_req {
	struct fl_app *app;           /* the server */
	void *conn;                   /* the connection; use the accessors */
	const char *method;           /* "GET", "POST", ... */
	const char *path;             /* decoded path, no query */
	const struct fl_route *route; /* the matched route */
	char params[FL_ROUTE_MAX_PARAMS][FL_PARAM_MAX]; /* path parameters */
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
	char hdr_value[FL_REQ_MAX_HEADERS][256];
	size_t n_hdrs;
	const char *err_code; /* error code of an error answer */
	bool retry;           /* answered FL_E_STORE_RETRY: run again */
	char store_error[256]; /* the store's message of a 5xx, or "" */
};

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

/* Suspends req's connection from inside its handler (push.h calls it);
 * the handler then returns without answering. */
void fl_http_suspend(struct fl_req *req);
/* Resumes a suspended request; its handler runs again with req->resumed
 * set. Any thread. */
void fl_http_resume(struct fl_req *req);

/* The HTTP status for an error. */
int fl_http_status(fl_err err);
/* "field_missing" for FL_E_FIELD_MISSING: lower case, no "FL_E_". Writes
 * into buf[cap]. */
const char *fl_http_err_code(fl_err err, char *buf, size_t cap);

struct sockaddr;

/* The text form of a client address into text[cap], and its rate-limit
 * key into net: an IPv4 address (also when IPv4-mapped), or the /64 prefix
 * of an IPv6 address, so every address of one customer line is one
 * client. */
void fl_http_client_net(const struct sockaddr *sa, char *text, size_t cap,
                        uint8_t net[16]);

struct fl_http;

/* Starts serving on app->cfg.listen (with TLS when cert and key are set).
 * *out is stopped and freed with fl_http_stop(). */
fl_err fl_http_start(struct fl_http **out, struct fl_app *app) FL_MUST_USE;
/* The bound port (useful with port 0). */
unsigned fl_http_port(const struct fl_http *h);
/* The address actually listened on, "127.0.0.1:43210". */
const char *fl_http_address(const struct fl_http *h);
/* Stops accepting new connections; requests in flight continue. */
void fl_http_quiesce(struct fl_http *h);
/* Waits until no request is in flight or `seconds` pass; returns the
 * number still in flight. */
unsigned fl_http_drain(struct fl_http *h, int seconds);
/* Stops the server and frees h. NULL is a no-op. */
void fl_http_stop(struct fl_http *h);

#endif
