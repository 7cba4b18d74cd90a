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
#include "core/state.h"
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

	char extra[1024];
	int64_t by_state[5], stolen = 0;
	struct fl_tx *tx = NULL;
	size_t used;

	if ((err = fl_store_begin(req->app->store, false, &tx)) == FL_OK) {
		err = fl_store_device_count(tx, by_state, &stolen);
		fl_tx_rollback(tx);
	}
	if (err != FL_OK) {
		fl_reply_error(req, err, NULL);
		return;
	}
	used = (size_t)snprintf(extra, sizeof(extra),
	                        "# HELP finlockd_devices Devices by decided "
	                        "state (all tenants).\n"
	                        "# TYPE finlockd_devices gauge\n");
	for (int s = 0; s < 5; s++)
		used += (size_t)snprintf(
		        extra + used, sizeof(extra) - used,
		        "finlockd_devices{state=\"%s\"} %lld\n",
		        fl_state_name((enum fl_dev_state)s),
		        (long long)by_state[s]);
	snprintf(extra + used, sizeof(extra) - used,
	         "# HELP finlockd_devices_stolen Devices reported stolen.\n"
	         "# TYPE finlockd_devices_stolen gauge\n"
	         "finlockd_devices_stolen %lld\n",
	         (long long)stolen);
	err = fl_metrics_render(req->app->metrics, extra, &text, &len);
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
