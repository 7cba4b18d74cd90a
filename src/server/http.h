/*
 * http.h - finlockd's HTTP transport: sockets in, answers out.
 *
 * fl_http_start() runs libmicrohttpd in thread-pool mode with epoll. For
 * each request it gathers the body into a capped buffer, enforces the
 * header, body and time limits, then fills a struct fl_req (req.h) and
 * hands it to the router (router.h), which authenticates the caller and
 * calls the handler. The handler's answer is sent, logged in one line and
 * counted in the metrics here.
 *
 * The transport is the top of the request path: nothing below it includes
 * this header. What the layers below need of a connection (its headers,
 * cookies and query, suspending a long poll and resuming it) they reach
 * through the struct fl_req_io this file puts in every request.
 *
 * THREAD SAFETY: fl_http_* functions are called from the main thread.
 */
#ifndef FL_SERVER_HTTP_H
#define FL_SERVER_HTTP_H

#include <stddef.h>

#include "core/err.h"
#include "server/req.h"

struct fl_app;

/* Writes into out[cap] the path of a request as the request log shows it
 * (a secret in it replaced); registered with fl_http_set_log_path. */
typedef void fl_http_log_path_fn(const char *path, char *out, size_t cap);

/* Sets how request paths are written to the log (default: as they are).
 * Called once, before fl_http_start. */
void fl_http_set_log_path(fl_http_log_path_fn *fn);

struct fl_http;

/* Starts serving on app->cfg.listen (with TLS when cert and key are set).
 * *out is stopped and freed with fl_http_stop(). */
fl_err fl_http_start(struct fl_http **out, struct fl_app *app) FL_MUST_USE;
/* The bound port (useful with port 0). */
unsigned fl_http_port(const struct fl_http *h);
/* The address actually listened on, "127.0.0.1:43210". */
const char *fl_http_address(const struct fl_http *h);
/* Requests received since the start. */
uint64_t fl_http_requests(struct fl_http *h);
/* Stops accepting new connections; requests in flight continue. */
void fl_http_quiesce(struct fl_http *h);
/* Waits until no request is in flight or `seconds` pass; returns the
 * number still in flight. */
unsigned fl_http_drain(struct fl_http *h, int seconds);
/* Stops the server and frees h. NULL is a no-op. */
void fl_http_stop(struct fl_http *h);

#endif
