/*
 * api_public.c - routes for everyone and for operations: /healthz and the
 * public IMEI check with its signed status certificate (no key), and
 * /metrics (operator key).
 *
 * The IMEI check answers one of no_record, financed, released, stolen. It
 * never says "locked" and never names or describes a debtor: no amounts,
 * no loan reference. The lender's name and contact are given only when the
 * caller also presents the device's serial number (proof of having the
 * phone in hand). Both routes are rate-limited per client network (IPv4
 * address, IPv6 /64) and globally; over the limit is 429 with Retry-After.
 *
 * GET /v1/whoami answers any valid API key with its role, id and tenant:
 * what `finlock login` checks before it saves a key.
 */
#include <stdlib.h>
#include <string.h>

#include "server/api.h"
#include "server/ahead.h"
#include "server/app.h"
#include "server/auth.h"
#include "server/jsonio.h"
#include "server/metrics.h"
#include "server/route.h"
#include "core/crypto.h"
#include "core/imei.h"
#include "core/state.h"
#include "server/ratelimit.h"
#include "server/signkeys.h"
#include "store/store.h"

static void healthz(struct fl_req *req)
{
	struct fl_tx *tx = NULL;
	fl_err err = fl_store_begin(req->app->store, false, &tx);

	if (err == FL_OK)
		err = fl_store_tenant_get(tx, "", &(struct fl_tenant){0});
	fl_tx_rollback(tx);
	if (err != FL_OK && err != FL_E_NOT_FOUND) {
		/* 503 with Retry-After (http.h) for as long as it lasts */
		fl_reply_error_status(req, 503, err,
		                      "the database is down (%s): %s%s%s",
		                      fl_store_backend(req->app->store),
		                      fl_strerror(err),
		                      fl_store_errmsg()[0] != '\0' ? ": " : "",
		                      fl_store_errmsg());
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

	char extra[2048];
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
	used += (size_t)snprintf(
	        extra + used, sizeof(extra) - used,
	        "# HELP finlockd_devices_stolen Devices reported stolen.\n"
	        "# TYPE finlockd_devices_stolen gauge\n"
	        "finlockd_devices_stolen %lld\n",
	        (long long)stolen);
	if (req->app->ahead != NULL)
		snprintf(extra + used, sizeof(extra) - used,
		         "# HELP finlockd_tokens_signed_ahead_total Device "
		         "tokens whose signature was made before their instant "
		         "came (docs/server.md).\n"
		         "# TYPE finlockd_tokens_signed_ahead_total counter\n"
		         "finlockd_tokens_signed_ahead_total %llu\n",
		         (unsigned long long)fl_ahead_taken(req->app->ahead));
	err = fl_metrics_render(req->app->metrics, extra, &text, &len);
	if (err != FL_OK) {
		fl_reply_error(req, err, NULL);
		return;
	}
	fl_reply_raw(req, 200, "text/plain; version=0.0.4", text, len);
}

/* --- public IMEI check ---------------------------------------------------- */

#define IMEI_CERT_TTL FL_DAY /* a status certificate is good for a day */

const char *fl_api_public_status(const struct fl_device *d)
{
	if (d == NULL)
		return "no_record";
	/* a report on a released phone locks nothing, but a buyer is
	 * warned all the same */
	return d->st.stolen_reported           ? "stolen"
	       : d->st.state == FL_ST_RELEASED ? "released"
	                                       : "financed";
}

bool fl_api_rate_take(struct fl_req *req, struct fl_ratelimit *rl, int *retry)
{
	*retry = 0;
	if (fl_ratelimit_take(rl, req->client_net, fl_ratelimit_clock(), retry))
		return true;
	fl_metrics_ratelimited(req->app->metrics);
	return false;
}

bool fl_api_rate_admit(struct fl_req *req, struct fl_ratelimit *rl,
                       const char *what)
{
	char secs[16];
	int retry = 0;

	if (fl_api_rate_take(req, rl, &retry))
		return true;
	snprintf(secs, sizeof(secs), "%d", retry);
	fl_reply_header(req, "Retry-After", secs);
	fl_reply_error(req, FL_E_LIMIT, "too many %s; retry in %d s", what,
	               retry);
	return false;
}

/* Takes a token from the public limiter; answers 429 when refused. */
static bool admit(struct fl_req *req)
{
	return fl_api_rate_admit(req, req->app->public_rl, "IMEI checks");
}

fl_err fl_api_imei_status(struct fl_app *app, const char *imei,
                          const char *serial, struct fl_imei_status *out)
{
	struct fl_device *d = NULL;
	struct fl_contract_rec c;
	struct fl_tenant t;
	struct fl_tx *tx = NULL;
	fl_err err;

	memset(out, 0, sizeof(*out));
	memset(&c, 0, sizeof(c));
	err = fl_imei_parse(imei, strlen(imei), out->imei);
	if (err != FL_OK)
		return err;
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return FL_E_NOMEM;
	if ((err = fl_store_begin(app->store, false, &tx)) != FL_OK)
		goto out;
	err = fl_store_device_by_imei(tx, out->imei, d);
	if (err == FL_E_NOT_FOUND) {
		out->status = fl_api_public_status(NULL);
		err = FL_OK;
		goto out;
	}
	if (err != FL_OK)
		goto out;
	out->status = fl_api_public_status(d);
	/* The serial proves the phone is in hand; compare without leaking
	 * where a guess went wrong. */
	if (serial == NULL || strlen(serial) != strlen(d->serial) ||
	    d->serial[0] == '\0' ||
	    fl_ct_memcmp(serial, d->serial, strlen(d->serial)) != 0)
		goto out;
	if ((err = fl_store_tenant_get(tx, d->tenant_id, &t)) != FL_OK)
		goto out;
	out->lender = true;
	snprintf(out->lender_name, sizeof(out->lender_name), "%s", t.name);
	err = fl_store_contract_get(tx, d->tenant_id, d->id, &c);
	if (err == FL_E_NOT_FOUND) {
		err = FL_OK;
		goto out;
	}
	if (err != FL_OK)
		goto out;
	snprintf(out->contact_name, sizeof(out->contact_name), "%s",
	         c.contact_name);
	memcpy(out->phones, c.contact_phones, sizeof(out->phones));
	out->n_phones = c.n_contact_phones;
out:
	fl_contract_rec_clear(&c);
	fl_tx_rollback(tx);
	free(d);
	return err;
}

/* Validates the path's IMEI and looks it up; answers on error. */
static fl_err imei_lookup(struct fl_req *req, struct fl_imei_status *out)
{
	static const char *const q[] = {"serial", NULL};
	fl_err err;

	if ((err = fl_req_query_only(req, q)) != FL_OK)
		return err;
	err = fl_api_imei_status(req->app, fl_req_param(req, "imei"),
	                         fl_req_query(req, "serial"), out);
	if (err != FL_OK)
		fl_reply_error(req, err, "%s", fl_strerror(err));
	return err;
}

static json_t *imei_json(const struct fl_imei_status *s, fl_time at)
{
	json_t *j = json_pack("{s:s,s:s,s:o}", "imei", s->imei, "status",
	                      s->status, "checked_at", fl_json_time(at));
	json_t *phones;

	if (j == NULL || !s->lender)
		return j;
	phones = json_array();
	for (size_t i = 0; phones != NULL && i < s->n_phones; i++)
		json_array_append_new(phones, json_string(s->phones[i]));
	json_object_set_new(j, "lender",
	                    json_pack("{s:s,s:{s:s,s:o}}", "name",
	                              s->lender_name, "contact", "name",
	                              s->contact_name, "phones", phones));
	return j;
}

static void imei_check(struct fl_req *req)
{
	struct fl_imei_status s;

	if (!admit(req) || imei_lookup(req, &s) != FL_OK)
		return;
	fl_reply_json(req, 200, imei_json(&s, req->now));
}

/* The same status as a FL_MSG_IMEI_CERT token (payload: the check's JSON
 * plus "exp"), with the signing key's root certificate so that anyone
 * holding the root public key can verify it. */
static void imei_certificate(struct fl_req *req)
{
	char kid[FL_KID_MAX], root[FL_PASERK_PUBLIC_SIZE];
	struct fl_imei_status s;
	char *payload = NULL, *token = NULL, *cert = NULL;
	json_t *j;
	fl_err err;

	if (!admit(req) || imei_lookup(req, &s) != FL_OK)
		return;
	j = imei_json(&s, req->now);
	if (j != NULL)
		json_object_set_new(j, "exp",
		                    fl_json_time(req->now + IMEI_CERT_TTL));
	payload =
	        j != NULL ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(j);
	if (payload == NULL) {
		fl_reply_error(req, FL_E_NOMEM, NULL);
		return;
	}
	err = fl_signkeys_sign(req->app->keys, FL_MSG_IMEI_CERT, payload,
	                       strlen(payload), req->now, &token, kid);
	if (err == FL_OK)
		err = fl_signkeys_cert(req->app->keys, kid, &cert);
	if (err == FL_OK)
		err = fl_signkeys_root(req->app->keys, root);
	if (err == FL_E_STATE)
		fl_reply_error_status(req, 503, err,
		                      "no certified signing key is available");
	else if (err != FL_OK)
		fl_reply_error(req, err, NULL);
	else
		fl_reply_json(req, 200,
		              json_pack("{s:s,s:s,s:s,s:s,s:s}", "certificate",
		                        token, "kid", kid, "key_cert", cert,
		                        "root", root, "status", s.status));
	free(payload);
	free(token);
	free(cert);
}

static void whoami(struct fl_req *req)
{
	fl_reply_json(
	        req, 200,
	        json_pack("{s:s,s:s,s:s?}", "role", fl_role_name(req->who.role),
	                  "key_id", req->who.key_id, "tenant_id",
	                  req->who.tenant_id[0] != '\0' ? req->who.tenant_id
	                                                : NULL));
}

static const struct fl_route routes[] = {
        {"GET", "/healthz", healthz, FL_AUTH_NONE},
        {"GET", "/v1/imei/{imei}", imei_check, FL_AUTH_NONE},
        {"GET", "/v1/imei/{imei}/certificate", imei_certificate, FL_AUTH_NONE},
        {"GET", "/metrics", metrics, FL_ROLE_OPERATOR},
        {"GET", "/v1/whoami", whoami, FL_ROLE_OPERATOR | FL_ROLES_TENANT},
};

const struct fl_route_table fl_routes_public = FL_ROUTE_TABLE(routes);
