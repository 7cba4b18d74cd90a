/*
 * router.c - the route tables and dispatch.
 *
 * HOW TO ADD ROUTES
 *
 * To add routes to an existing area, add one line to the `routes[]` array
 * in its api_*.c file:
 *
 *     {"POST", "/v1/devices/{device_id}/lock", lock, FL_ROLE_ADMIN},
 *
 * To add a new area (the device protocol, say), create src/server/api_X.c
 * with a static route array and export it:
 *
 *     static const struct fl_route routes[] = {
 *             {"POST", "/v1/device/enroll", enroll, FL_AUTH_NONE},
 *     };
 *     const struct fl_route_table fl_routes_X = FL_ROUTE_TABLE(routes);
 *
 * then add ONE line, `X(X)`, to FL_ROUTE_TABLES below. Describe the new
 * routes in docs/openapi.yaml too: tests/unit/test_server_openapi.c fails
 * when the router and the document disagree.
 *
 * Routes are matched in table order; a pattern's {name} matches exactly one
 * non-empty path segment, and the handler reads it with
 * fl_req_param(req, "name").
 */
#include "server/router.h"
#include "server/run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/app.h"
#include "server/auth.h"
#include "server/sessions.h"

/* The phones' routes first: most requests are theirs, and no other
 * pattern matches a /v1/device/ path. */
#define FL_ROUTE_TABLES(X)                                                     \
	X(device)                                                              \
	X(public)                                                              \
	X(operator)                                                            \
	X(keys)                                                                \
	X(audit)                                                               \
	X(devices)                                                             \
	X(contracts)                                                           \
	X(sources)                                                             \
	X(holds)                                                               \
	X(payments)                                                            \
	X(webhooks)                                                            \
	X(offcode)                                                             \
	X(pairing)                                                             \
	X(sessions)                                                            \
	X(reports)                                                             \
	X(web)

#define DECLARE_(name) extern const struct fl_route_table fl_routes_##name;
FL_ROUTE_TABLES(DECLARE_)
#undef DECLARE_

static const struct fl_route_table *const tables[] = {
#define LIST_(name) &fl_routes_##name,
        FL_ROUTE_TABLES(LIST_)
#undef LIST_
};

/* Matches path against pattern, capturing placeholders into buf, one
 * after the other, each NUL-terminated (*used bytes, *n of them). */
static bool match(const char *pattern, const char *path,
                  char buf[FL_ROUTE_MAX_PARAMS * FL_PARAM_MAX], size_t *used,
                  size_t *n_out)
{
	const char *p = pattern, *s = path;
	size_t n = 0, at = 0;

	while (*p != '\0' && *s != '\0') {
		if (*p == '{') {
			const char *close = strchr(p, '}');
			size_t len = strcspn(s, "/");

			if (close == NULL || len == 0 || len >= FL_PARAM_MAX ||
			    n >= FL_ROUTE_MAX_PARAMS)
				return false;
			memcpy(buf + at, s, len);
			buf[at + len] = '\0';
			at += len + 1;
			n++;
			p = close + 1;
			s += len;
			continue;
		}
		if (*p != *s)
			return false;
		p++;
		s++;
	}
	if (*p != '\0' || *s != '\0')
		return false;
	*used = at;
	*n_out = n;
	return true;
}

fl_err fl_router_match(struct fl_req *req, const struct fl_route **route,
                       char *allow)
{
	char buf[FL_ROUTE_MAX_PARAMS * FL_PARAM_MAX];
	size_t used = 0, at = 0, n = 0;
	bool path_seen = false;

	*route = NULL;
	fl_req_release(req);
	if (allow != NULL)
		allow[0] = '\0';
	/* the routes of this method first (most requests end here), then
	 * the others, for a 405 and its Allow list */
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
		for (size_t i = 0; i < tables[t]->n; i++) {
			const struct fl_route *r = &tables[t]->routes[i];

			if (strcmp(r->method, req->method) != 0 ||
			    !match(r->pattern, req->path, buf, &at, &n))
				continue;
			if (n > 0 && (req->params = malloc(at)) == NULL)
				return FL_E_NOMEM;
			if (n > 0)
				memcpy(req->params, buf, at);
			req->n_params = n;
			*route = r;
			return FL_OK;
		}
	}
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
		for (size_t i = 0; i < tables[t]->n; i++) {
			const struct fl_route *r = &tables[t]->routes[i];

			if (!match(r->pattern, req->path, buf, &at, &n))
				continue;
			path_seen = true;
			if (allow != NULL && used + strlen(r->method) + 3 <
			                             FL_ROUTER_ALLOW_MAX) {
				used += (size_t)snprintf(
				        allow + used,
				        FL_ROUTER_ALLOW_MAX - used, "%s%s",
				        used ? ", " : "", r->method);
			}
		}
	}
	return path_seen ? FL_E_METHOD : FL_E_NOT_FOUND;
}

void fl_router_each(void (*fn)(void *ctx, const struct fl_route *r), void *ctx)
{
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
		for (size_t i = 0; i < tables[t]->n; i++)
			fn(ctx, &tables[t]->routes[i]);
}

const char *fl_req_param(const struct fl_req *req, const char *name)
{
	const char *p;
	size_t idx = 0, n = strlen(name);

	if (req->route == NULL)
		return NULL;
	for (p = strchr(req->route->pattern, '{'); p != NULL;
	     p = strchr(p + 1, '{'), idx++) {
		if (strncmp(p + 1, name, n) == 0 && p[1 + n] == '}') {
			const char *v = req->params;

			if (idx >= req->n_params)
				return NULL;
			while (idx-- > 0)
				v += strlen(v) + 1;
			return v;
		}
	}
	return NULL;
}

void fl_router_dispatch(struct fl_req *req)
{
	const struct fl_route *route = NULL;
	char allow[FL_ROUTER_ALLOW_MAX];
	fl_err err;

	err = fl_router_match(req, &route, allow);
	if (err == FL_E_NOMEM) {
		fl_reply_error(req, err, "out of memory");
		return;
	}
	if (err == FL_E_METHOD) {
		fl_reply_error(req, err,
		               "%s is not allowed on %s (allowed: %s)",
		               req->method, req->path, allow);
		fl_reply_header(req, "Allow", allow);
		return;
	}
	if (err != FL_OK) {
		fl_reply_error(req, FL_E_NOT_FOUND, "no such resource: %s",
		               req->path);
		return;
	}
	req->route = route;
	if (route->roles != FL_AUTH_NONE) {
		/* a Bearer key, or a console session (sessions.h) */
		if (!fl_session_authenticate(req))
			return;
		if ((route->roles & req->who.role) == 0) {
			fl_reply_error(req, FL_E_PERM,
			               "the %s role may not do this",
			               fl_role_name(req->who.role));
			return;
		}
		fl_auth_note_use(req->app->store, &req->who, req->now);
	}
	/* A handler whose transaction the store gave up (FL_E_STORE_RETRY)
	 * runs again from the start, as fl_run does for a step (run.h): its
	 * write work is all in that transaction, and what follows the
	 * commit happens only after a commit. The answer of the attempt
	 * given up is forgotten. */
	for (int attempt = 1;; attempt++) {
		route->handler(req);
		if (!req->retry || req->parked || attempt >= FL_RUN_ATTEMPTS)
			break;
		fl_reply_reset(req);
		fl_run_backoff(attempt);
	}
	req->retry = false;
	if (req->status == 0)
		fl_reply_error(req, FL_E_INTERNAL, "handler gave no answer");
}
