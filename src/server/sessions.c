/*
 * sessions.c - console sign-in, sign-out and session checks (sessions.h).
 *
 *   POST   /v1/session  {"key": "fl_..."}  sign in: 201, Set-Cookie
 *   GET    /v1/session                     who is signed in, CSRF token
 *   DELETE /v1/session                     sign out (CSRF token needed)
 *
 * Every sign-in attempt, good or bad, takes a token from the sign-in
 * limiter (signin_rate, signin_burst per client network): a guessed key
 * costs as much as a real one. A sign-in must be JSON and, from a
 * browser, same-origin, so another site cannot sign a visitor in with a
 * key of its choosing.
 */
#include "server/sessions.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/crypto.h"
#include "server/api.h"
#include "server/app.h"
#include "server/auth.h"
#include "server/jsonio.h"
#include "server/req.h"
#include "server/route.h"
#include "server/run.h"
#include "server/websession.h"

#define SID_BYTES 32 /* random bytes of a session id */
#define SID_LEN   43 /* their base64url text */
#define CSRF_LEN  43

bool fl_session_expired(const struct fl_session_rec *s, fl_time now, int idle,
                        int max)
{
	return now - s->last_seen >= idle || now - s->created_at >= max ||
	       now < s->created_at - 300;
}

/* The stored hash of a session id. */
static fl_err sid_hash(const struct fl_app *app, const char *sid,
                       uint8_t hash[FL_HASH_LEN])
{
	return fl_blake2b(hash, FL_HASH_LEN, app->secrets.apikey_hash_key, 32,
	                  (const uint8_t *)sid, strlen(sid));
}

/* The CSRF token of a session: a keyed hash of its id, so it needs no
 * storage and tells nothing about the id. */
static fl_err csrf_of(const struct fl_app *app, const char *sid,
                      char out[CSRF_LEN + 1])
{
	uint8_t mac[32];
	char msg[8 + SID_LEN + 1];
	fl_err err;

	snprintf(msg, sizeof(msg), "csrf:%s", sid);
	err = fl_blake2b(mac, sizeof(mac), app->secrets.apikey_hash_key, 32,
	                 (const uint8_t *)msg, strlen(msg));
	if (err == FL_OK)
		err = fl_b64url_encode(out, CSRF_LEN + 1, mac, sizeof(mac));
	return err;
}

static bool safe_method(const char *m)
{
	return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
}

static fl_err end_session(struct fl_req *req, uint8_t hash[FL_HASH_LEN])
{
	return fl_run(req->app->store, req->now, 0, fl_websession_end, hash,
	              NULL);
}

/* The session of req's cookie, still valid: FL_OK with *s and *who
 * filled and *sid pointing at the cookie; FL_E_AUTH when there is none or
 * it has ended (an ended one is deleted). */
static fl_err session_of(struct fl_req *req, struct fl_session_rec *s,
                         struct fl_principal *who, const char **sid)
{
	const struct fl_config *cfg = &req->app->cfg;
	const char *cookie = fl_req_cookie(req, FL_SESSION_COOKIE);
	uint8_t hash[FL_HASH_LEN];
	struct fl_apikey key;
	struct fl_tx *tx = NULL;
	unsigned role = 0;
	bool ended;
	fl_err err;

	memset(who, 0, sizeof(*who));
	*sid = NULL;
	if (cookie == NULL || strlen(cookie) != SID_LEN)
		return FL_E_AUTH;
	if ((err = sid_hash(req->app, cookie, hash)) != FL_OK)
		return err;
	if ((err = fl_store_begin(req->app->store, false, &tx)) != FL_OK)
		return err;
	err = fl_store_session_get(tx, hash, s);
	if (err == FL_OK) {
		err = fl_store_apikey_get(tx, s->tenant_id, s->key_id, &key);
		if (err == FL_E_NOT_FOUND) {
			key.revoked_at = 1;
			err = FL_OK;
		}
	}
	fl_tx_rollback(tx);
	if (err == FL_E_NOT_FOUND)
		return FL_E_AUTH;
	if (err != FL_OK)
		return err;
	ended = fl_session_expired(s, req->now, cfg->session_idle,
	                           cfg->session_max) ||
	        key.revoked_at != 0 || strcmp(key.role, s->role) != 0 ||
	        fl_role_parse(s->role, &role) != FL_OK ||
	        role == FL_ROLE_OPERATOR;
	if (ended) {
		err = end_session(req, hash);
		return err == FL_OK ? FL_E_AUTH : err;
	}
	/* last_seen moves at most once a minute (every second for idle
	 * limits under two minutes), not on every request. */
	if (req->now - s->last_seen >= (cfg->session_idle < 120 ? 1 : 60)) {
		err = fl_run(req->app->store, req->now, 0, fl_websession_touch,
		             hash, NULL);
		if (err == FL_E_NOT_FOUND)
			return FL_E_AUTH; /* signed out meanwhile */
		if (err != FL_OK)
			return err;
		s->last_seen = req->now;
	}
	who->role = role;
	snprintf(who->key_id, sizeof(who->key_id), "%s", s->key_id);
	snprintf(who->tenant_id, sizeof(who->tenant_id), "%s", s->tenant_id);
	*sid = cookie;
	return FL_OK;
}

static bool csrf_ok(struct fl_req *req, const char *sid)
{
	const char *got = fl_req_header(req, FL_CSRF_HEADER);
	char want[CSRF_LEN + 1];

	if (got == NULL || strlen(got) != CSRF_LEN ||
	    csrf_of(req->app, sid, want) != FL_OK)
		return false;
	return fl_ct_memcmp(got, want, CSRF_LEN) == 0;
}

bool fl_session_active(struct fl_req *req)
{
	struct fl_session_rec s;
	struct fl_principal who;
	const char *sid = NULL;

	return session_of(req, &s, &who, &sid) == FL_OK;
}

static void reply_no_session(struct fl_req *req)
{
	fl_reply_error(req, FL_E_AUTH,
	               "no console session: sign in again (or send "
	               "Authorization: Bearer ...)");
}

static void reply_csrf(struct fl_req *req)
{
	fl_reply_error(req, FL_E_PERM,
	               "a change made with a console session needs its "
	               "token in " FL_CSRF_HEADER);
}

bool fl_session_authenticate(struct fl_req *req)
{
	const char *authz = fl_req_header(req, "Authorization");
	struct fl_session_rec s;
	const char *sid = NULL;
	fl_err err;

	if (authz != NULL || fl_req_cookie(req, FL_SESSION_COOKIE) == NULL) {
		err = fl_auth_bearer(req->app->store,
		                     req->app->secrets.apikey_hash_key, authz,
		                     &req->who);
		if (err == FL_E_AUTH) {
			fl_reply_error(req, err,
			               "a valid API key is required "
			               "(Authorization: Bearer ...)");
			fl_reply_header(req, "WWW-Authenticate",
			                "Bearer realm=\"finlock\"");
		} else if (err != FL_OK) {
			fl_reply_error(req, err, NULL);
		}
		return err == FL_OK;
	}
	err = session_of(req, &s, &req->who, &sid);
	if (err == FL_E_AUTH)
		reply_no_session(req);
	else if (err != FL_OK)
		fl_reply_error(req, err, NULL);
	else if (!safe_method(req->method) && !csrf_ok(req, sid))
		err = FL_E_PERM;
	if (err == FL_E_PERM) {
		memset(&req->who, 0, sizeof(req->who));
		reply_csrf(req);
	}
	return err == FL_OK;
}

/* --- the routes ----------------------------------------------------------- */

static void set_cookie(struct fl_req *req, const char *sid, int max_age)
{
	const struct fl_config *cfg = &req->app->cfg;
	char c[200];

	snprintf(c, sizeof(c),
	         FL_SESSION_COOKIE "=%s; Path=/; Max-Age=%d; HttpOnly; "
	                           "SameSite=Strict%s",
	         sid, max_age,
	         cfg->tls_cert[0] != '\0' || cfg->behind_tls_proxy ? "; Secure"
	                                                           : "");
	fl_reply_header(req, "Set-Cookie", c);
}

/* Answers 200/201 with who is signed in and the session's CSRF token. */
static void reply_session(struct fl_req *req, int status,
                          const struct fl_session_rec *s, const char *sid)
{
	const struct fl_config *cfg = &req->app->cfg;
	char csrf[CSRF_LEN + 1];
	struct fl_tenant t;
	struct fl_tx *tx = NULL;
	fl_err err;

	memset(&t, 0, sizeof(t));
	err = csrf_of(req->app, sid, csrf);
	if (err == FL_OK &&
	    (err = fl_store_begin(req->app->store, false, &tx)) == FL_OK) {
		err = fl_store_tenant_get(tx, s->tenant_id, &t);
		fl_tx_rollback(tx);
	}
	if (err != FL_OK) {
		fl_reply_error(req, err, NULL);
		return;
	}
	fl_reply_json(
	        req, status,
	        json_pack("{s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:i}", "key_id",
	                  s->key_id, "tenant_id", s->tenant_id, "tenant_name",
	                  t.name, "role", s->role, "csrf_token", csrf,
	                  "signed_in_at", fl_json_time(s->created_at),
	                  "expires_at",
	                  fl_json_time(s->created_at + cfg->session_max),
	                  "idle_timeout", cfg->session_idle));
}

static void signin(struct fl_req *req)
{
	static const char *const fields[] = {"key", NULL};
	const struct fl_config *cfg = &req->app->cfg;
	const char *old = fl_req_cookie(req, FL_SESSION_COOKIE);
	uint8_t raw[SID_BYTES];
	char key[FL_APIKEY_LEN + 8] = "", sid[SID_LEN + 1];
	struct fl_websession_start st;
	struct fl_session_rec s;
	struct fl_principal who;
	struct fl_jin j;
	fl_err err;

	const char *ctype = fl_req_header(req, "Content-Type");
	const char *site = fl_req_header(req, "Sec-Fetch-Site");

	if (!fl_api_rate_admit(req, req->app->signin_rl, "sign-in attempts"))
		return;
	/* No signing a browser in from another site: a cross-site page can
	 * send neither a JSON content type (without a CORS preflight, which
	 * finlockd never grants) nor a same-origin Sec-Fetch-Site. */
	if (ctype == NULL || strncasecmp(ctype, "application/json", 16) != 0) {
		fl_reply_error(req, FL_E_INVALID,
		               "sign-in takes Content-Type: application/json");
		return;
	}
	if (site != NULL && strcmp(site, "same-origin") != 0 &&
	    strcmp(site, "none") != 0) {
		fl_reply_error(req, FL_E_PERM,
		               "sign-in is only taken from this server's own "
		               "pages");
		return;
	}
	if (fl_jin_parse(&j, req) != FL_OK)
		return;
	fl_jin_only(&j, fields);
	fl_jin_str(&j, "key", true, key, sizeof(key));
	if (fl_jin_end(&j) != FL_OK) {
		fl_wipe(key, sizeof(key));
		return;
	}
	err = fl_auth_key(req->app->store, req->app->secrets.apikey_hash_key,
	                  key, &who);
	fl_wipe(key, sizeof(key));
	if (err == FL_E_AUTH) {
		fl_reply_error(req, err,
		               "that key is not valid: mistyped, revoked or "
		               "unknown");
		return;
	}
	if (err == FL_OK && who.role == FL_ROLE_OPERATOR) {
		fl_reply_error(req, FL_E_PERM,
		               "operator keys do not sign in to the console; "
		               "use the finlock command line");
		return;
	}
	if (err != FL_OK) {
		fl_reply_error(req, err, NULL);
		return;
	}
	/* A new id at every sign-in; the session the browser held before,
	 * if any, ends here. */
	memset(&st, 0, sizeof(st));
	fl_random(raw, sizeof(raw));
	err = fl_b64url_encode(sid, sizeof(sid), raw, sizeof(raw));
	fl_wipe(raw, sizeof(raw));
	if (err == FL_OK)
		err = sid_hash(req->app, sid, st.rec.hash);
	snprintf(st.rec.key_id, sizeof(st.rec.key_id), "%s", who.key_id);
	snprintf(st.rec.tenant_id, sizeof(st.rec.tenant_id), "%s",
	         who.tenant_id);
	snprintf(st.rec.role, sizeof(st.rec.role), "%s",
	         fl_role_name(who.role));
	st.idle = cfg->session_idle;
	st.max = cfg->session_max;
	if (err == FL_OK && old != NULL && strlen(old) == SID_LEN &&
	    (err = sid_hash(req->app, old, st.old_hash)) == FL_OK)
		st.end_old = true;
	if (err == FL_OK)
		err = fl_run(req->app->store, req->now, 0, fl_websession_start,
		             &st, NULL);
	if (err != FL_OK) {
		fl_reply_error(req, err, NULL);
		return;
	}
	s = st.rec;
	s.created_at = s.last_seen = req->now;
	set_cookie(req, sid, cfg->session_max);
	reply_session(req, 201, &s, sid);
	fl_wipe(sid, sizeof(sid));
}

/* True when req was authenticated by its session cookie (no Bearer
 * key): then *s and *sid describe the session. */
static fl_err request_session(struct fl_req *req, struct fl_session_rec *s,
                              const char **sid)
{
	struct fl_principal who;

	if (fl_req_header(req, "Authorization") != NULL)
		return FL_E_NOT_FOUND;
	return session_of(req, s, &who, sid);
}

/* GET /v1/session: the session and its CSRF token; with a Bearer key,
 * the key and its role (no session, no token). */
static void whoami(struct fl_req *req)
{
	struct fl_session_rec s;
	const char *sid = NULL;
	struct fl_tenant t;
	struct fl_tx *tx = NULL;
	fl_err err = request_session(req, &s, &sid);

	if (err == FL_OK) {
		reply_session(req, 200, &s, sid);
		return;
	}
	if (err == FL_E_AUTH) {
		reply_no_session(req);
		return;
	}
	memset(&t, 0, sizeof(t));
	if ((err = fl_store_begin(req->app->store, false, &tx)) == FL_OK) {
		err = fl_store_tenant_get(tx, req->who.tenant_id, &t);
		fl_tx_rollback(tx);
	}
	if (err != FL_OK) {
		fl_reply_error(req, err, NULL);
		return;
	}
	fl_reply_json(req, 200,
	              json_pack("{s:s,s:s,s:s,s:s,s:n,s:n,s:n,s:n}", "key_id",
	                        req->who.key_id, "tenant_id",
	                        req->who.tenant_id, "tenant_name", t.name,
	                        "role", fl_role_name(req->who.role),
	                        "csrf_token", "signed_in_at", "expires_at",
	                        "idle_timeout"));
}

/* DELETE /v1/session: sign out (the router has checked the CSRF token). */
static void signout(struct fl_req *req)
{
	struct fl_session_rec s;
	const char *sid = NULL;
	fl_err err = request_session(req, &s, &sid);

	if (err == FL_E_NOT_FOUND) {
		fl_reply_error(req, err,
		               "no console session to end: this request "
		               "carries an API key");
		return;
	}
	if (err == FL_E_AUTH) {
		reply_no_session(req);
		return;
	}
	if (err == FL_OK)
		err = end_session(req, s.hash);
	if (err != FL_OK) {
		fl_reply_error(req, err, NULL);
		return;
	}
	set_cookie(req, "", 0);
	fl_reply_raw(req, 204, NULL, NULL, 0);
}

static const struct fl_route routes[] = {
        {"POST", "/v1/session", signin, FL_AUTH_NONE},
        {"GET", "/v1/session", whoami, FL_ROLES_TENANT},
        {"DELETE", "/v1/session", signout, FL_ROLES_TENANT},
};

const struct fl_route_table fl_routes_sessions = FL_ROUTE_TABLE(routes);
