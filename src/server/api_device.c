/*
 * api_device.c - the device protocol (docs/protocol.md): the routes the
 * phones call.
 *
 * Phones:
 *   POST /v1/device/enroll     one-time code or approved pairing code;
 *                              answer signed as FL_MSG_ENROLL
 *   POST /v1/device/checkin    MAC'd; reports in, current token out
 *   GET  /v1/device/wait?seq=N MAC'd long-poll: answers when the seq moves
 *   POST /v1/device/lookup     public; signed (FL_MSG_LOOKUP) over the
 *                              phone's nonce: the public check's word, and
 *                              the device token for a request signed by
 *                              the phone's registered factory key
 * Lenders:
 *   POST /v1/devices/{id}/offline-code            unlock N days / release
 *   GET  /v1/devices/{id}/pairing-requests        reflashed phones waiting
 *   POST /v1/devices/{id}/approve-pairing         re-enroll with new keys
 *   POST /v1/devices/{id}/reject-pairing
 *
 * Every byte the phone checks is built by core/devproto.h. Device errors
 * use the protocol's codes (unauthenticated, stale_counter, bad_request,
 * ...). Nothing here reads a secret from the store: MAC keys and
 * offline-code secrets are derived (devauth.h).
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/devproto.h"
#include "core/ocode.h"
#include "server/api.h"
#include "server/app.h"
#include "server/auth.h"
#include "server/checkin.h"
#include "server/decide.h"
#include "server/devauth.h"
#include "server/enroll.h"
#include "server/enrollment.h"
#include "server/log.h"
#include "server/metrics.h"
#include "server/push.h"
#include "server/ratelimit.h"
#include "server/route.h"
#include "server/run.h"
#include "server/signkeys.h"
#include "server/tokens.h"

/* --- answers ---------------------------------------------------------------
 */

/* An error answer with a protocol code (a static string). */
static void dp_error(struct fl_req *req, int status, const char *code,
                     const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static void dp_error(struct fl_req *req, int status, const char *code,
                     const char *fmt, ...)
{
	char msg[256];
	char *json = NULL;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (fl_dp_error_encode(code, msg, &json) != FL_OK) {
		fl_reply_error(req, FL_E_NOMEM, NULL);
		return;
	}
	fl_reply_raw(req, status, "application/json", json, strlen(json));
	req->err_code = code;
}

/* A store or signing failure: 503 for what a retry may fix, else 500. */
static void dp_fail(struct fl_req *req, fl_err err)
{
	fl_log(FL_LOG_ERROR, "device request failed",
	       fl_log_err(json_pack("{s:I,s:s}", "id", (json_int_t)req->id,
	                            "path", req->path),
	                  err));
	if (fl_run_unavailable(err) || err == FL_E_STATE)
		/* Retry-After is added to every 503 (http.h) */
		dp_error(req, 503, "unavailable",
		         "the server cannot answer now");
	else if (err == FL_E_INSUFFICIENT_STORAGE)
		dp_error(req, 507, "insufficient_storage",
		         "the server's storage is full");
	else
		dp_error(req, 500, "internal", "%s", fl_strerror(err));
}

/* Answers 200 with a JSON text the answer takes (from malloc). */
static void dp_json(struct fl_req *req, int status, char *json)
{
	fl_reply_raw(req, status, "application/json", json, strlen(json));
}

/* The public limiter for lookup and enroll; answers 429 when refused. */
static bool admit(struct fl_req *req)
{
	char secs[16];
	int retry = 0;

	if (fl_ratelimit_take(req->app->public_rl, req->client_net,
	                      fl_ratelimit_clock(), &retry))
		return true;
	fl_metrics_ratelimited(req->app->metrics);
	snprintf(secs, sizeof(secs), "%d", retry);
	fl_reply_header(req, "Retry-After", secs);
	dp_error(req, 429, "rate_limited", "too many requests; retry in %d s",
	         retry);
	return false;
}

/* Adds cert to k unless it is there already (borrowed pointers). */
static void add_cert(struct fl_dp_keys *k, char *cert)
{
	if (cert == NULL || k->n_certs == FL_DP_MAX_CERTS)
		return;
	for (size_t i = 0; i < k->n_certs; i++)
		if (strcmp(k->certs[i], cert) == 0)
			return;
	k->certs[k->n_certs++] = cert;
}

/* Signs payload as kind; *token and *cert (the signer's root
 * certificate) are the caller's to free. */
static fl_err sign_msg(struct fl_app *app, enum fl_msg_kind kind,
                       const char *payload, fl_time now, char **token,
                       char **cert)
{
	char kid[FL_KID_MAX];
	fl_err err;

	*cert = NULL;
	err = fl_signkeys_sign(app->keys, kind, payload, strlen(payload), now,
	                       token, kid);
	if (err == FL_OK)
		err = fl_signkeys_cert(app->keys, kid, cert);
	if (err != FL_OK) {
		free(*token);
		*token = NULL;
	}
	return err;
}

/* Whether d was released (paid off or by an admin): for good. A report
 * of theft after release leaves the decision released (it shows only in
 * the public check and its certificate). */
static bool released_for_good(const struct fl_device *d)
{
	return d->st.state == FL_ST_RELEASED;
}

/* --- enroll ----------------------------------------------------------------
 */

/* Answers 200 with the enrollment of d for the keys of er. */
static void enroll_answer(struct fl_req *req, const struct fl_device *d,
                          const struct fl_dp_enroll_req *er)
{
	struct fl_app *app = req->app;
	const struct fl_token_set *ts = NULL;
	struct fl_dp_enroll_payload p;
	struct fl_dp_enroll_answer a;
	char *payload = NULL, *json = NULL, *cert = NULL, *token = NULL;
	size_t token_len = 0;
	fl_time now = fl_clock_now(&req->app->clock);
	fl_err err;

	memset(&p, 0, sizeof(p));
	memset(&a, 0, sizeof(a));
	if ((err = fl_tokens_get(app->tokens, app, d->id, d->st.token_seq, now,
	                         &ts)) != FL_OK)
		goto out;
	snprintf(p.device_id, sizeof(p.device_id), "%s", d->id);
	memcpy(p.sign_pk, er->sign_pk, FL_SIGN_PK_LEN);
	memcpy(p.kx_pk, er->kx_pk, FL_KX_PK_LEN);
	memcpy(p.server_kx_pk, app->secrets.kx_pk, FL_KX_PK_LEN);
	p.time = now;
	if ((err = fl_tokens_text(ts, &token, &token_len)) != FL_OK)
		goto out;
	p.token = token;
	if ((err = fl_dp_enroll_payload_encode(&p, &payload)) != FL_OK ||
	    (err = sign_msg(app, FL_MSG_ENROLL, payload, now, &a.enrollment,
	                    &cert)) != FL_OK)
		goto out;
	add_cert(&a.keys, cert);
	add_cert(&a.keys, (char *)ts->cert);
	err = fl_dp_enroll_answer_encode(&a, &json);
out:
	if (err == FL_OK)
		dp_json(req, 200, json);
	else
		dp_fail(req, err);
	free(a.enrollment);
	free(cert);
	free(payload);
	free(token);
	fl_tokens_put(ts);
}

/* After an enrollment committed: wakes waiters, drops the old keys'
 * bookkeeping, answers. */
static void enrolled(struct fl_req *req, const struct fl_device *d,
                     const struct fl_dp_enroll_req *er,
                     const struct fl_decided *what)
{
	fl_decide_committed(req->app, d->id, what);
	fl_devauth_forget(req->app->devauth, d->id);
	enroll_answer(req, d, er);
}

/* The client network of req as pairing requests record it: the IPv4
 * /24 ("192.0.2.0/24") or the IPv6 /64 ("2001:db8:1:2::/64"). */
static void client_network(const struct fl_req *req,
                           char out[FL_PAIRING_NET_LEN])
{
	const uint8_t *n = req->client_net;
	uint8_t a6[16] = {0};
	char text[INET6_ADDRSTRLEN];

	if (n[15] == 4) {
		snprintf(out, FL_PAIRING_NET_LEN, "%u.%u.%u.0/24", n[0], n[1],
		         n[2]);
		return;
	}
	memcpy(a6, n, 8);
	if (n[15] == 6 && inet_ntop(AF_INET6, a6, text, sizeof(text)) != NULL)
		snprintf(out, FL_PAIRING_NET_LEN, "%.40s/64", text);
	else
		snprintf(out, FL_PAIRING_NET_LEN, "unknown");
}

/* Enrolls the phone of er (fl_enroll_apply, enrollment.h) and answers:
 * the enrollment, the pairing code while the lender has not approved, or
 * the protocol's refusal. */
static void enroll_run(struct fl_req *req, const struct fl_dp_enroll_req *er)
{
	struct fl_enroll_io *io = calloc(1, sizeof(*io));
	struct fl_enroll_result *out;
	char *json = NULL;
	fl_err err;

	if (io == NULL) {
		dp_fail(req, FL_E_NOMEM);
		return;
	}
	out = &io->out;
	io->in.er = er;
	if (er->code[0] != '\0' &&
	    fl_enroll_code_hash(req->app->secrets.enroll_hash_key, er->code,
	                        strlen(er->code), io->in.code_hash) != FL_OK) {
		dp_error(req, 404, "unknown_code", "no such enrollment code");
		goto done;
	}
	client_network(req, io->in.client_net);
	err = fl_run(req->app->store, req->now, 0, fl_enroll_apply, io, NULL);
	/* an outcome that writes nothing ends its attempt with FL_E_STATE;
	 * any other error (a failed commit too) is a failure */
	if (err != FL_OK &&
	    (err != FL_E_STATE || out->outcome == FL_ENROLL_DONE))
		out->outcome = FL_ENROLL_FAILED;
	switch (out->outcome) {
	case FL_ENROLL_DONE:
		enrolled(req, &out->device, er, &out->what);
		break;
	case FL_ENROLL_AGAIN:
		enroll_answer(req, &out->device, er);
		break;
	case FL_ENROLL_PENDING:
		if ((err = fl_dp_pending_encode(out->pairing_code, &json)) !=
		    FL_OK)
			dp_fail(req, err);
		else
			dp_json(req, 202, json);
		break;
	case FL_ENROLL_REFUSED:
		dp_error(req, out->status, out->code, "%s", out->msg);
		break;
	case FL_ENROLL_FAILED:
		dp_fail(req, err);
		break;
	}
done:
	free(io);
}

static void enroll(struct fl_req *req)
{
	struct fl_dp_enroll_req er;

	if (!admit(req))
		return;
	if (fl_dp_enroll_req_decode(req->body, req->body_len, &er) != FL_OK) {
		dp_error(req, 400, "bad_request",
		         "the body is not an enroll request");
		return;
	}
	if (fl_dp_enroll_verify(&er) != FL_OK) {
		dp_error(req, 403, "bad_signature",
		         "the request is not signed by its sign_pk");
		return;
	}
	enroll_run(req, &er);
}

/* --- check-in and wait ------------------------------------------------------
 */

/* An authenticated phone request. */
struct dev_auth {
	struct fl_devauth_view v;    /* the device's row, as authenticated */
	uint64_t counter;            /* the request's counter */
	uint8_t key[FL_MAC_KEY_LEN]; /* its MAC key; wiped after */
};

/* The 409 stale_counter answer to a good MAC with a counter at or below
 * last, the highest one accepted: last and a MAC over both counters, so
 * the phone can trust last and continue above it. */
static void stale_counter(struct fl_req *req, const struct dev_auth *a,
                          uint64_t last)
{
	uint8_t mac[FL_MAC_LEN];
	char *json = NULL;
	fl_err err;

	err = fl_dp_resync_mac(mac, a->key, a->counter, last);
	if (err == FL_OK)
		err = fl_dp_resync_encode(last, mac, &json);
	if (err != FL_OK) {
		dp_fail(req, err);
		return;
	}
	fl_reply_raw(req, 409, "application/json", json, strlen(json));
	req->err_code = "stale_counter";
}

/* Authenticates a check-in or wait for method and path_with_query (the
 * request target as the phone sent it): device known, MAC, then the
 * counter (not on a resumed wait, whose counter was taken when it
 * parked). The device's row comes from devauth's memory while the store
 * reports it unchanged. Answers on error: a stale counter under a good
 * MAC with the counter to continue from (stale_counter). */
static fl_err authenticate(struct fl_req *req, const char *method,
                           const char *path_with_query, struct dev_auth *a)
{
	const char *id = fl_req_header(req, FL_DP_HDR_DEVICE);
	const char *ctr = fl_req_header(req, FL_DP_HDR_COUNTER);
	const char *mac = fl_req_header(req, FL_DP_HDR_MAC);
	uint64_t last = 0;
	fl_err err;

	memset(a, 0, sizeof(*a));
	if (id == NULL || mac == NULL || ctr == NULL ||
	    fl_dp_device_id_check(id) != FL_OK ||
	    strlen(id) >= sizeof(a->v.id)) {
		dp_error(req, 401, "unauthenticated",
		         "device id, counter and MAC are required");
		return FL_E_AUTH;
	}
	if (fl_dp_counter_parse(ctr, &a->counter) != FL_OK) {
		dp_error(req, 400, "bad_request",
		         "the request counter is not a canonical number");
		return FL_E_INVALID;
	}
	err = fl_devauth_check(req->app->devauth, id, mac, method,
	                       path_with_query, req->body, req->body_len,
	                       a->counter, !req->resumed, fl_clock_now(&req->app->clock), &a->v,
	                       a->key, &last);
	if (err == FL_E_AUTH || err == FL_E_NOT_FOUND) {
		err = FL_E_AUTH;
		dp_error(req, 401, "unauthenticated", "authentication failed");
	} else if (err == FL_E_REPLAY) {
		stale_counter(req, a, last);
	} else if (err == FL_E_RANGE) {
		dp_error(req, 400, "bad_request",
		         "the counter is above 2^63 - 1");
	} else if (err != FL_OK) {
		dp_fail(req, err);
	}
	return err;
}

/* The answer of a through the JSON encoder: for a token set whose strings
 * would need escaping (never a signed token), so the bytes stay those of
 * fl_dp_checkin_answer_encode. */
static fl_err answer_encoded(const struct fl_dp_answer_parts *p,
                             const struct fl_token_set *ts, char **json)
{
	struct fl_dp_checkin_answer ans;

	memset(&ans, 0, sizeof(ans));
	ans.time = p->time;
	ans.next_checkin = p->next_checkin;
	ans.token = (char *)p->token;
	if (ts != NULL)
		add_cert(&ans.keys, (char *)ts->cert);
	ans.release_receipt = (char *)p->receipt;
	memcpy(ans.mac, p->mac, FL_MAC_LEN);
	return fl_dp_checkin_answer_encode(&ans, json);
}

/* Answers a check-in or wait, MAC'd with the request's counter; the
 * device's current token when with_token (and always for a released
 * device, with its receipt). The answer is assembled from the token
 * set's prepared parts (fl_dp_checkin_answer_assemble). */
static void device_answer(struct fl_req *req, struct dev_auth *a,
                          bool with_token)
{
	struct fl_app *app = req->app;
	const struct fl_token_set *ts = NULL;
	struct fl_dp_answer_parts p;
	char *json = NULL, *token = NULL;
	size_t len = 0, token_len = 0;
	fl_err err = FL_OK;

	memset(&p, 0, sizeof(p));
	p.time = fl_clock_now(&req->app->clock);
	p.next_checkin = (uint32_t)app->cfg.checkin_interval;
	if (with_token || (a->v.state == FL_ST_RELEASED && !a->v.stolen))
		err = fl_tokens_get(app->tokens, app, a->v.id, a->v.token_seq,
		                    p.time, &ts);
	if (err == FL_OK && ts != NULL) {
		if ((with_token || ts->seq != a->v.token_seq) &&
		    (err = fl_tokens_text(ts, &token, &token_len)) == FL_OK) {
			p.token = token;
			p.token_len = token_len;
		}
		p.keys = ts->keys_json;
		p.keys_len = ts->keys_len;
		if (!ts->stolen && ts->state == FL_ST_RELEASED &&
		    ts->receipt != NULL) {
			p.receipt = ts->receipt;
			p.receipt_len = ts->receipt_len;
		}
	}
	if (err == FL_OK)
		err = fl_dp_answer_mac(p.mac, a->key, a->counter, p.time,
		                       p.next_checkin, p.token);
	if (err == FL_OK) {
		err = fl_dp_checkin_answer_assemble(&p, &json, &len);
		if (err == FL_E_INVALID &&
		    (err = answer_encoded(&p, ts, &json)) == FL_OK)
			len = strlen(json);
	}
	if (err == FL_OK)
		fl_reply_raw(req, 200, "application/json", json, len);
	else
		dp_fail(req, err);
	free(token);
	fl_tokens_put(ts);
}

/* Whether contact should move an offline-driven lock_at now
 * (fl_decide_contact_due). */
static bool contact_due(const struct fl_devauth_view *s, fl_time now)
{
	return s->has_contract &&
	       fl_decide_contact_due(s->state, s->lock_cause, s->lock_at,
	                             s->decided_at, now);
}

/* What a check-in changes in the store, in one write transaction and only
 * when there is something: reports (then a new token: the phone lifts a
 * local SIM or tamper lock only with a token issued after the event), the
 * offline code the phone used, contact that moves an offline-driven
 * lock_at, and what the phone confirmed applying when that raises an
 * event (other confirmations are written behind). a->v is the device
 * after. FL_E_REPLAY: the request's effects
 * were applied already (nothing written). */
static fl_err checkin_writes(struct fl_req *req, struct dev_auth *a,
                             const struct fl_dp_checkin_req *r)
{
	struct fl_app *app = req->app;
	struct fl_checkin_work *io = NULL;
	bool code = false, confirm;
	fl_err err;

	if (r->code_counter > 0) {
		struct fl_ocode_rec oc;
		struct fl_tx *tx = NULL;

		/* a look first, so a check-in that changes nothing takes no
		 * write transaction; the write looks again under the lock */
		if ((err = fl_store_begin(app->store, false, &tx)) != FL_OK)
			return err;
		err = fl_store_ocode_get(tx, a->v.id, &oc);
		fl_tx_rollback(tx);
		if (err != FL_OK)
			return err;
		code = r->code_counter > oc.used &&
		       r->code_counter <= oc.counter;
	}
	/* what the phone says it applied, when that is news */
	confirm = a->v.has_keys && (r->seq != a->v.confirmed_seq ||
	                            r->locked != a->v.confirmed_locked);
	if (!(r->sim_changed || r->tamper != 0) && !contact_due(&a->v, req->now) &&
	    !code) {
		if (!confirm)
			return FL_OK;
		/* news with no event (the lock state confirmed before):
		 * written behind with the counter, not in a transaction of
		 * its own (devauth.h) */
		if (r->locked == a->v.confirmed_locked &&
		    fl_devauth_confirm(app->devauth, a->v.id, a->v.kx_pk,
		                       r->seq, r->locked, req->now) == FL_OK) {
			a->v.confirmed_seq = r->seq;
			return FL_OK;
		}
	}
	if ((io = calloc(1, sizeof(*io))) == NULL)
		return FL_E_NOMEM;
	io->r = r;
	io->id = a->v.id;
	io->counter = a->counter;
	io->report = r->sim_changed || r->tamper != 0;
	io->contact = contact_due(&a->v, req->now);
	io->code = code;
	io->confirm = confirm;
	err = fl_run(app->store, req->now, 0, fl_checkin_apply, io, NULL);
	if (err == FL_OK) {
		/* the row as committed; the answer carries its token */
		fl_devauth_view_of(&io->d, &a->v);
		if (io->decided)
			fl_decide_committed(app, io->d.id, &io->what);
	}
	free(io);
	return err;
}

static void checkin(struct fl_req *req)
{
	struct fl_dp_checkin_req r;
	struct dev_auth auth, *a = &auth;
	fl_err err;

	if (authenticate(req, "POST", FL_DP_PATH_CHECKIN, a) != FL_OK)
		goto done;
	if (fl_dp_checkin_req_decode(req->body, req->body_len, &r) != FL_OK) {
		dp_error(req, 400, "bad_request",
		         "the body is not a check-in request");
		goto done;
	}
	err = checkin_writes(req, a, &r);
	if (err == FL_E_REPLAY) {
		/* applied already, perhaps through another node: answered as
		 * a stale counter, with the counter to continue above */
		stale_counter(req, a, a->counter);
		goto done;
	}
	if (err != FL_OK) {
		dp_fail(req, err);
		goto done;
	}
	/* a phone that holds the newest token, verified, is not sent it
	 * again (docs/protocol.md, "Check-in") */
	device_answer(req, a, !(r.token_held && r.seq == a->v.token_seq));
done:
	fl_wipe(a->key, sizeof(a->key));
}

/* GET /v1/device/wait?seq=N: answers as soon as the device's token seq
 * differs from N, else parks (push.h) until a committed change moves it,
 * wait_timeout passes or the server stops. */
static void wait_seq(struct fl_req *req)
{
	static const char *const q[] = {"seq", NULL};
	const char *seq_s = fl_req_query(req, "seq");
	char path[FL_DP_WAIT_PATH_MAX];
	struct dev_auth auth, *a = &auth;
	const char *id = fl_req_header(req, FL_DP_HDR_DEVICE);
	uint64_t held = 0, mark, clock;
	fl_err err;

	if (fl_req_query_only(req, q) != FL_OK)
		return;
	if (seq_s == NULL || (strcmp(seq_s, "0") != 0 &&
	                      fl_dp_counter_parse(seq_s, &held) != FL_OK)) {
		dp_error(req, 400, "bad_request",
		         "seq must be the token seq held, in canonical "
		         "decimal");
		return;
	}
	memset(a, 0, sizeof(*a));
	/* The MAC covers the target as sent; the protocol fixes its form,
	 * so the canonical one is the one the phone signed. */
	fl_dp_wait_path(path, held);
	/* marked before the device is read: no wake-up is lost */
	mark = fl_push_mark(req->app->push, id != NULL ? id : "");
	clock = fl_push_clock(req->app->push);
	if (authenticate(req, "GET", path, a) != FL_OK)
		goto done;
	for (int attempt = 0; attempt < 8; attempt++) {
		if (attempt > 0) {
			char dev_id[FL_ID_MAX];

			/* a->v is overwritten by the read */
			memcpy(dev_id, a->v.id, sizeof(dev_id));
			mark = fl_push_mark(req->app->push, dev_id);
			clock = fl_push_clock(req->app->push);
			if ((err = fl_devauth_view(req->app->devauth, dev_id,
			                           &a->v)) != FL_OK) {
				if (err == FL_E_NOT_FOUND)
					dp_error(req, 401, "unauthenticated",
					         "authentication failed");
				else
					dp_fail(req, err);
				goto done;
			}
		}
		/* woken without a new seq (another change of the row):
		 * wait on until the first deadline */
		if (a->v.token_seq != held ||
		    (req->resumed && req->now >= req->wait_until))
			break;
		err = fl_push_wait_row(req->app->push, req, a->v.id, a->v.ord,
		                       mark, clock,
		                       req->resumed
		                               ? req->wait_until
		                               : req->now +
		                                         req->app->cfg
		                                                 .wait_timeout);
		if (err == FL_OK)
			goto done; /* parked: runs again when woken */
		if (err == FL_E_LIMIT) {
			dp_error(req, 503, "unavailable",
			         "too many phones are waiting; retry later");
			goto done;
		}
		/* FL_E_STATE: something was published since the mark, or
		 * the server is stopping: read again */
	}
	device_answer(req, a, a->v.token_seq != held);
done:
	fl_wipe(a->key, sizeof(a->key));
}

/* --- lookup ------------------------------------------------------------------
 */

/* POST /v1/device/lookup: where the phone's IMEI stands, signed over its
 * nonce: the program and the public check's word, which is all an IMEI
 * tells anyone. A request signed by the factory key registered for the
 * device (at its enrollment by one-time code) also gets the device's
 * current token, so a reflashed phone enforces what it says: locked stays
 * locked. A bad factory signature is refused. Moves no key. */
static void lookup(struct fl_req *req)
{
	struct fl_app *app = req->app;
	struct fl_dp_lookup_req lr;
	struct fl_dp_lookup_payload p;
	struct fl_dp_lookup_answer a;
	const struct fl_token_set *ts = NULL;
	struct fl_device *d = calloc(1, sizeof(*d));
	struct fl_tx *tx = NULL;
	char *payload = NULL, *json = NULL, *cert = NULL;
	bool found = false;
	fl_time now = fl_clock_now(&req->app->clock);
	fl_err err = FL_OK;

	memset(&p, 0, sizeof(p));
	memset(&a, 0, sizeof(a));
	if (d == NULL) {
		dp_fail(req, FL_E_NOMEM);
		return;
	}
	if (!admit(req))
		goto done;
	if (fl_dp_lookup_req_decode(req->body, req->body_len, &lr) != FL_OK) {
		dp_error(req, 400, "bad_request",
		         "the body is not a lookup request");
		goto done;
	}
	if (lr.has_factory && fl_dp_lookup_verify(&lr) != FL_OK) {
		dp_error(req, 400, "bad_signature",
		         "the request is not signed by its factory_pk");
		goto done;
	}
	if ((err = fl_store_begin(app->store, false, &tx)) != FL_OK)
		goto out;
	for (size_t i = 0; i < lr.n_imei && !found && err == FL_OK; i++) {
		err = fl_store_device_by_imei(tx, lr.imei[i], d);
		found = err == FL_OK;
		if (err == FL_E_NOT_FOUND)
			err = FL_OK;
	}
	fl_tx_rollback(tx);
	if (err != FL_OK)
		goto out;
	memcpy(p.nonce, lr.nonce, sizeof(p.nonce));
	memcpy(p.imei, lr.imei, sizeof(p.imei));
	p.n_imei = lr.n_imei;
	p.time = now;
	/* released is for good: a theft reported later shows in the
	 * status word only */
	if (!found)
		p.program = FL_DP_PROG_NONE;
	else if (released_for_good(d))
		p.program = FL_DP_PROG_RELEASED;
	else if (d->enrolled_at != 0)
		p.program = FL_DP_PROG_PAIRING;
	else
		p.program = FL_DP_PROG_ENROLL;
	snprintf(p.status, sizeof(p.status), "%s",
	         fl_api_public_status(found ? d : NULL));
	if ((p.program == FL_DP_PROG_PAIRING ||
	     p.program == FL_DP_PROG_ENROLL) &&
	    lr.has_factory && d->has_factory &&
	    fl_ct_memcmp(lr.factory_pk, d->factory_pk, FL_SIGN_PK_LEN) == 0) {
		size_t token_len = 0;

		if ((err = fl_tokens_get(app->tokens, app, d->id,
		                         d->st.token_seq, now, &ts)) != FL_OK ||
		    (err = fl_tokens_text(ts, &p.token, &token_len)) != FL_OK)
			goto out;
	}
	if ((err = fl_dp_lookup_payload_encode(&p, &payload)) != FL_OK ||
	    (err = sign_msg(app, FL_MSG_LOOKUP, payload, now, &a.lookup,
	                    &cert)) != FL_OK)
		goto out;
	add_cert(&a.keys, cert);
	if (ts != NULL)
		add_cert(&a.keys, (char *)ts->cert);
	err = fl_dp_lookup_answer_encode(&a, &json);
out:
	if (err == FL_OK) {
		dp_json(req, 200, json);
		json = NULL;
	} else {
		dp_fail(req, err);
	}
done:
	free(json);
	free(a.lookup);
	free(cert);
	free(payload);
	free(p.token);
	fl_tokens_put(ts);
	free(d);
}

static const struct fl_route routes[] = {
        {"POST", FL_DP_PATH_ENROLL, enroll, FL_AUTH_NONE},
        {"POST", FL_DP_PATH_CHECKIN, checkin, FL_AUTH_NONE},
        {"GET", FL_DP_PATH_WAIT, wait_seq, FL_AUTH_NONE},
        {"POST", FL_DP_PATH_LOOKUP, lookup, FL_AUTH_NONE},
};

const struct fl_route_table fl_routes_device = FL_ROUTE_TABLE(routes);
