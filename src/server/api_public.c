/*
 * api_public.c - routes for everyone and for operations: /healthz (no
 * key) and /metrics (operator key).
 */
#include <stdlib.h>
#include <string.h>

#include "server/app.h"
#include "server/auth.h"
#include "server/jsonio.h"
#include "server/metrics.h"
#include "server/router.h"
#include "store/store.h"

static void healthz(struct fl_req *req)
{
	struct fl_tx *tx = NULL;
	fl_err err = fl_store_begin(req->app->store, false, &tx);

	if (err == FL_OK)
		err = fl_store_tenant_get(tx, "", &(struct fl_tenant){0});
	fl_tx_rollback(tx);
	if (err != FL_OK && err != FL_E_NOT_FOUND) {
		fl_reply_error_status(req, 503, err, "storage: %s",
		                      fl_strerror(err));
		return;
	}
	fl_reply_json(req, 200,
	              json_pack("{s:s,s:o}", "status", "ok", "time",
	                        fl_json_time(req->now)));
}

static void metrics(struct fl_req *req)
{
	char *text = NULL;
	size_t len = 0;
	fl_err err;

	err = fl_metrics_render(req->app->metrics, NULL, &text, &len);
	if (err != FL_OK) {
		fl_reply_error(req, err, NULL);
		return;
	}
	fl_reply_raw(req, 200, "text/plain; version=0.0.4", text, len);
}

static const struct fl_route routes[] = {
        {"GET", "/healthz", healthz, FL_AUTH_NONE},
        {"GET", "/metrics", metrics, FL_ROLE_OPERATOR},
};

const struct fl_route_table fl_routes_public = FL_ROUTE_TABLE(routes);
