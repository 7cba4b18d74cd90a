/*
 * router.h - finlockd's route tables and dispatch.
 *
 * The handler files declare their routes (route.h); router.c lists their
 * tables (see the comment at its top for how to add one).
 *
 * fl_router_dispatch() matches the path (404 when no pattern matches, 405
 * with an Allow header when the path matches but the method does not),
 * authenticates the caller (401 without a valid key, 403 when its role is
 * not admitted), then calls the handler.
 *
 * THREAD SAFETY: the tables are constant; dispatch is safe from any thread.
 */
#ifndef FL_SERVER_ROUTER_H
#define FL_SERVER_ROUTER_H

#include <stddef.h>

#include "server/req.h"
#include "server/route.h"

/* Matches, authenticates and runs req (req->method and req->path set). */
void fl_router_dispatch(struct fl_req *req);

/* Finds the route for method and path, filling req->params (freed with
 * fl_req_release, and by the next match). FL_E_NOT_FOUND if no pattern
 * matches the path, FL_E_NOMEM, FL_E_METHOD if one matches but not with
 * this method (then *allow, if not NULL, lists the methods that do, comma
 * separated, in a buffer of FL_ROUTER_ALLOW_MAX). */
#define FL_ROUTER_ALLOW_MAX 64
fl_err fl_router_match(struct fl_req *req, const struct fl_route **route,
                       char *allow) FL_MUST_USE;

/* Calls fn for every route in the tables, in order. */
void fl_router_each(void (*fn)(void *ctx, const struct fl_route *r), void *ctx);

#endif
