/*
 * dev_http.h - the simulated phone's HTTP transport (libcurl).
 *
 * One curl easy handle is kept for the life of the client so the
 * connection to the server is reused (keep-alive) across check-ins and
 * long-polls. Every request has a time limit and a cap on the answer body;
 * redirects are not followed and only http and https are spoken. A caller
 * may install an abort test that the transfer consults several times a
 * second (the firmware loop uses it to give the phone up to a command, or
 * to stop, without waiting for a long-poll to end).
 *
 * The answer body is malloc'd and NUL-terminated; the agent frees it.
 *
 * THREAD SAFETY: one client per thread. dev_http_global_init once per
 * process before any client.
 */
#ifndef FL_DEV_HTTP_H
#define FL_DEV_HTTP_H

#include <stdbool.h>

#include "core/err.h"
#include "finlock/agent.h"

struct dev_http;

/* Returns true to abandon the transfer in progress. */
typedef bool (*dev_http_abort_fn)(void *ctx);

/* curl_global_init; FL_E_INTERNAL on failure. */
fl_err dev_http_global_init(void) FL_MUST_USE;

/* *out: free with dev_http_free. */
fl_err dev_http_new(struct dev_http **out) FL_MUST_USE;
void dev_http_free(struct dev_http *c);

void dev_http_set_abort(struct dev_http *c, dev_http_abort_fn fn, void *ctx);

/* Sends req to base_url (scheme://host[:port][/prefix], no trailing slash
 * needed) + req->path. FL_OK with resp filled for any HTTP status;
 * FL_E_NET for a transport failure or a time-out, FL_E_TOO_LARGE for a
 * body over req->max_body, FL_E_STATE when the abort test ended it (then
 * *aborted is true). On error resp is zeroed. */
fl_err dev_http_send(struct dev_http *c, const char *base_url,
                     const struct fl_hal_request *req,
                     struct fl_hal_response *resp, bool *aborted) FL_MUST_USE;

#endif
