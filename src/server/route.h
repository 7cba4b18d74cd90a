/*
 * route.h - what a handler file declares: its routes.
 *
 * A route is a method, a path pattern with {placeholders} that match one
 * path segment each, the handler, and the set of roles that may call it
 * (auth.h; FL_AUTH_NONE for public routes). Each handler file defines its
 * routes in a `static const` array and exports them as one
 * `const struct fl_route_table fl_routes_<name>`; the router (router.h)
 * lists the tables and dispatches to them. Handlers include this header,
 * never router.h: the router sits above them.
 *
 * THREAD SAFETY: the tables are constant.
 */
#ifndef FL_SERVER_ROUTE_H
#define FL_SERVER_ROUTE_H

#include <stddef.h>

#include "server/req.h"

typedef void fl_handler(struct fl_req *req);

struct fl_route {
	const char *method;  /* "GET", "POST", ... */
	const char *pattern; /* "/v1/devices/{device_id}/lock" */
	fl_handler *handler; /* answers with one fl_reply_* call */
	unsigned roles;      /* admitted roles, or FL_AUTH_NONE */
};

struct fl_route_table {
	const struct fl_route *routes;
	size_t n;
};

/* Defines a route table from a static array in an api_*.c file. */
#define FL_ROUTE_TABLE(arr)                                                    \
	{                                                                      \
		(arr), sizeof(arr) / sizeof((arr)[0])                          \
	}

#endif
