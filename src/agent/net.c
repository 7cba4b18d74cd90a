/*
 * The agent's network side: lookup at setup, enrollment (by one-time code
 * or pairing code), check-in and wait (docs/protocol.md).
 *
 * Every answer is verified completely inside one transaction before any of
 * it is kept: a transport failure, an error status, malformed JSON, a bad
 * MAC, a bad signature or any refused claim leaves the state as it was
 * (except the request counter, which is persisted before the request is
 * sent, as the protocol requires).
 */
#include "agent/agent_int.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BODY_MAX FL_DP_MAX_BODY

/* Sends one request. mac: add the device headers and the request MAC for
 * counter. On FL_OK *resp holds a 2xx answer (the caller frees its body);
 * FL_E_NET for a transport failure, FL_E_AGENT_STATUS for any other status
 * (resp->status says which; the body is freed). */
static fl_err send_req(struct fl_agent *a, const char *method, const char *path,
                       const char *body, size_t body_len, bool mac,
                       uint64_t counter, uint32_t timeout,
                       struct fl_hal_response *resp)
{
	struct fl_hal_header h[3];
	struct fl_hal_request req = {0};
	char ctr[24], hex[2 * FL_MAC_LEN + 1];
	uint8_t *in = NULL, m[FL_MAC_LEN];
	size_t in_len = 0;
	fl_err err;

	memset(resp, 0, sizeof(*resp));
	req.method = method;
	req.path = path;
	req.body = body;
	req.body_len = body_len;
	req.timeout_s = timeout;
	req.max_body = BODY_MAX;
	if (mac) {
		err = fl_dp_request_mac_input(&in, &in_len, method, path, body,
		                              body_len, counter);
		if (err)
			return err;
		err = a->hal.tee_mac(a->hal.ctx, in, in_len, m);
		free(in);
		if (err)
			return FL_E_IO;
		fl_hex_encode(hex, m, sizeof(m));
		snprintf(ctr, sizeof(ctr), "%llu", (unsigned long long)counter);
		h[0].name = FL_DP_HDR_DEVICE;
		h[0].value = a->st.device_id;
		h[1].name = FL_DP_HDR_COUNTER;
		h[1].value = ctr;
		h[2].name = FL_DP_HDR_MAC;
		h[2].value = hex;
		req.headers = h;
		req.n_headers = 3;
	}
	a->sent_mono = a->mono;
	a->sent_boot = a->boot;
	err = a->hal.http(a->hal.ctx, &req, resp);
	a->http_status = err ? 0 : resp->status;
	/* A request can take long (a long-poll waits up to a minute): what
	 * its answer says about time is learned against the clocks as they
	 * read now, not as they read when it was sent, or trusted time would
	 * run ahead by the time the request took. */
	if (!err && fl_agent_read_clocks(a) != FL_OK)
		err = FL_E_IO;
	if (err) {
		free(resp->body);
		memset(resp, 0, sizeof(*resp));
		return FL_E_NET;
	}
	if (resp->body_len > BODY_MAX) {
		free(resp->body);
		memset(resp, 0, sizeof(*resp));
		return FL_E_TOO_LARGE;
	}
	if (resp->status < 200 || resp->status > 299) {
		/* a 409 keeps its body: it may carry the server's counter */
		if (resp->status != 409 || !mac) {
			free(resp->body);
			resp->body = NULL;
			resp->body_len = 0;
		}
		return FL_E_AGENT_STATUS;
	}
	if (resp->body == NULL) {
		memset(resp, 0, sizeof(*resp));
		return FL_E_PROTOCOL;
	}
	return FL_OK;
}

/* Verifies a signed message of kind against the trust set at now; *payload
 * (caller frees) receives its payload. */
static fl_err verify_msg(struct fl_agent *a, enum fl_msg_kind kind,
                         const char *tok, fl_time now, char **payload,
                         size_t *len)
{
	return fl_trust_verify(a->trust, kind, tok, now, payload, len);
}

static bool imei_listed(const struct fl_agent *a, const char imei[2][16],
                        size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < a->dev.n_imei; j++)
			if (strcmp(imei[i], a->dev.imei[j]) == 0)
				return true;
	return false;
}

static void read_sim(struct fl_agent *a, char out[FL_HAL_ICCID_MAX + 1])
{
	memset(out, 0, FL_HAL_ICCID_MAX + 1);
	if (a->hal.sim_iccid == NULL ||
	    a->hal.sim_iccid(a->hal.ctx, out) != FL_OK)
		out[0] = '\0';
	out[FL_HAL_ICCID_MAX] = '\0';
	for (size_t i = 0; out[i]; i++)
		if (out[i] < '0' || out[i] > '9')
			out[0] = '\0';
	if (strlen(out) < 18)
		out[0] = '\0';
}

/* Signs in[len] (taken: freed here) with one of the secure hardware's
 * signing calls (tee_factory_sign, tee_sign) into sig. err is the result
 * of making in; it passes through. */
static fl_err tee_sign_bytes(struct fl_agent *a,
                             fl_err (*sign)(void *ctx, const uint8_t *msg,
                                            size_t len, uint8_t sig[64]),
                             fl_err err, uint8_t *in, size_t len,
                             uint8_t sig[FL_SIG_LEN])
{
	if (!err && sign(a->hal.ctx, in, len, sig) != FL_OK)
		err = FL_E_IO;
	free(in);
	return err;
}

/* --- setup: lookup by IMEI --------------------------------------------------
 */

static fl_err setup_apply(struct fl_agent *a, const char *body, size_t len,
                          const uint8_t nonce[FL_DP_NONCE_LEN])
{
	struct fl_dp_lookup_answer ans = {0};
	struct fl_dp_lookup_payload p = {0};
	struct fl_device_claims c = {0};
	struct fl_pstate snap;
	char *payload = NULL;
	size_t plen = 0;
	fl_time now = fl_agent_effective(a);
	fl_err err;

	err = fl_dp_lookup_answer_decode(body, len, &ans);
	if (err)
		return FL_E_PROTOCOL;
	err = fl_agent_txn_begin(a, &snap);
	if (err) {
		fl_dp_lookup_answer_clear(&ans);
		return err;
	}
	err = fl_agent_add_keys(a, &ans.keys, now);
	if (!err)
		err = verify_msg(a, FL_MSG_LOOKUP, ans.lookup, now, &payload,
		                 &plen);
	if (!err)
		err = fl_dp_lookup_payload_decode(payload, plen, &p);
	if (!err && fl_ct_memcmp(p.nonce, nonce, FL_DP_NONCE_LEN) != 0)
		err = FL_E_AGENT_NONCE; /* an old answer replayed */
	if (!err && !imei_listed(a, p.imei, p.n_imei))
		err = FL_E_WRONG_IMEI;
	if (!err)
		fl_agent_learn_time(a, p.time);
	/* The state to enforce is the device's own signed token, which the
	 * server gives only to a lookup signed by this phone's factory key:
	 * checked as every token is, against this phone's IMEIs. */
	if (!err && p.token != NULL)
		err = fl_agent_token_check(a, p.token, fl_agent_trusted(a),
		                           true, &c);
	if (!err) {
		a->st.distrust = false;
		switch (p.program) {
		case FL_DP_PROG_PAIRING:
			a->st.phase = FL_AGENT_PAIRING;
			err = fl_agent_make_keys(a);
			break;
		case FL_DP_PROG_ENROLL:
			a->st.phase = FL_AGENT_IDLE;
			break;
		default: /* none, released: nothing to enforce */
			a->st.phase = FL_AGENT_IDLE;
			fl_claims_clear(&c);
			break;
		}
	}
	if (!err && c.sub != NULL)
		err = fl_agent_set_token(a, p.token, &c, true);
	err = fl_agent_txn_end(a, &snap, err);
	free(payload);
	fl_claims_clear(&c);
	fl_dp_lookup_payload_clear(&p);
	fl_dp_lookup_answer_clear(&ans);
	return err;
}

fl_err fl_agent_do_setup(struct fl_agent *a)
{
	struct fl_dp_lookup_req req = {0};
	struct fl_hal_response resp;
	uint8_t *in = NULL;
	size_t in_len = 0;
	char *body = NULL;
	fl_err err;

	err = fl_agent_read_clocks(a);
	if (err)
		return err;
	for (size_t i = 0; i < a->dev.n_imei; i++)
		memcpy(req.imei[i], a->dev.imei[i], sizeof(req.imei[i]));
	req.n_imei = a->dev.n_imei;
	fl_random(req.nonce, sizeof(req.nonce)); /* fresh for every try */
	/* signed by the factory key: only this phone learns its state */
	if (a->hal.tee_factory_pk(a->hal.ctx, req.factory_pk) != FL_OK)
		return FL_E_IO;
	req.has_factory = true;
	err = fl_dp_lookup_sign_input(&req, &in, &in_len);
	err = tee_sign_bytes(a, a->hal.tee_factory_sign, err, in, in_len,
	                     req.sig);
	if (!err)
		err = fl_dp_lookup_req_encode(&req, &body);
	if (err)
		return err;
	err = send_req(a, "POST", FL_DP_PATH_LOOKUP, body, strlen(body), false,
	               0, FL_AGENT_HTTP_TIMEOUT, &resp);
	free(body);
	if (err)
		return err;
	err = setup_apply(a, resp.body, resp.body_len, req.nonce);
	free(resp.body);
	return err;
}

/* --- enrollment
 * ---------------------------------------------------------------- */

/* Keys for this enrollment: the pending pair if the secure hardware still
 * holds it, else a fresh one (its public halves persisted before they are
 * used). */
static fl_err ensure_keys(struct fl_agent *a)
{
	uint8_t pk[FL_SIGN_PK_LEN], kxpk[FL_KX_PK_LEN];
	struct fl_pstate snap;
	fl_err err;

	if (a->st.enroll_pending) {
		err = a->hal.tee_pending(a->hal.ctx, pk, kxpk);
		if (err == FL_OK &&
		    memcmp(pk, a->st.pend_sign_pk, sizeof(pk)) == 0 &&
		    memcmp(kxpk, a->st.pend_kx_pk, sizeof(kxpk)) == 0)
			return FL_OK;
		if (err != FL_OK && err != FL_E_NOT_FOUND)
			return FL_E_IO;
	}
	err = fl_agent_txn_begin(a, &snap);
	if (err)
		return err;
	err = fl_agent_make_keys(a);
	return fl_agent_txn_end(a, &snap, err);
}

static fl_err enroll_apply(struct fl_agent *a, const char *body, size_t len)
{
	struct fl_dp_enroll_answer ans = {0};
	struct fl_dp_enroll_payload p = {0};
	struct fl_pstate snap;
	char *payload = NULL;
	size_t plen = 0;
	fl_time now = fl_agent_effective(a);
	fl_err err;

	err = fl_dp_enroll_answer_decode(body, len, &ans);
	if (err)
		return FL_E_PROTOCOL;
	err = fl_agent_txn_begin(a, &snap);
	if (err) {
		fl_dp_enroll_answer_clear(&ans);
		return err;
	}
	err = fl_agent_add_keys(a, &ans.keys, now);
	if (!err)
		err = verify_msg(a, FL_MSG_ENROLL, ans.enrollment, now,
		                 &payload, &plen);
	if (!err)
		err = fl_dp_enroll_payload_decode(payload, plen, &p);
	/* the server must have enrolled exactly the keys this phone sent */
	if (!err && (memcmp(p.sign_pk, a->st.pend_sign_pk, FL_SIGN_PK_LEN) ||
	             memcmp(p.kx_pk, a->st.pend_kx_pk, FL_KX_PK_LEN)))
		err = FL_E_AGENT_KEYS;
	if (!err) {
		char iccid[FL_HAL_ICCID_MAX + 1];

		fl_agent_learn_time(a, p.time);
		strcpy(a->st.device_id, p.device_id);
		a->st.phase = FL_AGENT_ENROLLED;
		a->st.seq = 0;
		a->st.counter = 0;
		a->st.reset_iat = 0;
		a->st.react_lock = 0;
		a->st.sim_pending = false;
		read_sim(a, iccid);
		strcpy(a->st.iccid_known, iccid);
		strcpy(a->st.iccid_now, iccid);
		free(a->st.token);
		a->st.token = NULL;
		a->st.claims_from_lookup = false;
		a->st.distrust = false;
		fl_claims_clear(&a->claims);
		a->has_claims = false;
		a->unverified = false;
		err = fl_agent_accept_token(a, p.token);
	}
	/* The MAC key and the offline-code secret are derived inside the
	 * secure hardware. If the state write below fails, the phone holds
	 * the new keys with its old state and retries the enrollment: the
	 * server answers the same enrollment again for the same keys. */
	if (!err && a->hal.tee_enroll(a->hal.ctx, p.server_kx_pk) != FL_OK)
		err = FL_E_IO;
	if (!err) {
		a->st.enroll_pending = false;
		memset(a->st.pend_sign_pk, 0, FL_SIGN_PK_LEN);
		memset(a->st.pend_kx_pk, 0, FL_KX_PK_LEN);
		if (a->hal.tee_code_state(a->hal.ctx, &a->code) != FL_OK)
			err = FL_E_IO;
	}
	err = fl_agent_txn_end(a, &snap, err);
	free(payload);
	fl_dp_enroll_payload_clear(&p);
	fl_dp_enroll_answer_clear(&ans);
	return err;
}

/* The enrollment request's two signatures, both made inside the secure
 * hardware: the new device key's, and the factory key's over the same
 * request (the server registers this phone's factory key with it). */
static fl_err tee_sign_req(struct fl_agent *a, struct fl_dp_enroll_req *r)
{
	uint8_t *in = NULL;
	size_t in_len = 0;
	fl_err err;

	err = fl_dp_enroll_sign_input(r, &in, &in_len);
	err = tee_sign_bytes(a, a->hal.tee_sign, err, in, in_len, r->sig);
	if (err)
		return err;
	in = NULL;
	err = fl_dp_enroll_factory_input(r, &in, &in_len);
	return tee_sign_bytes(a, a->hal.tee_factory_sign, err, in, in_len,
	                      r->factory_sig);
}

fl_err fl_agent_do_enroll(struct fl_agent *a, const char *code)
{
	struct fl_dp_enroll_req req = {0};
	struct fl_hal_response resp;
	char *body = NULL;
	fl_err err;

	if (strlen(code) > FL_DP_CODE_MAX)
		return FL_E_INVALID;
	err = fl_agent_read_clocks(a);
	if (!err)
		err = ensure_keys(a);
	if (err)
		return err;
	strcpy(req.code, code);
	for (size_t i = 0; i < a->dev.n_imei; i++)
		memcpy(req.imei[i], a->dev.imei[i], sizeof(req.imei[i]));
	req.n_imei = a->dev.n_imei;
	memcpy(req.serial, a->dev.serial, sizeof(req.serial));
	memcpy(req.sign_pk, a->st.pend_sign_pk, FL_SIGN_PK_LEN);
	memcpy(req.kx_pk, a->st.pend_kx_pk, FL_KX_PK_LEN);
	if (a->hal.tee_factory_pk(a->hal.ctx, req.factory_pk) != FL_OK)
		return FL_E_IO;
	req.has_factory = true;
	err = tee_sign_req(a, &req);
	if (!err)
		err = fl_dp_enroll_req_encode(&req, &body);
	if (err)
		return err;
	err = send_req(a, "POST", FL_DP_PATH_ENROLL, body, strlen(body), false,
	               0, FL_AGENT_HTTP_TIMEOUT, &resp);
	free(body);
	if (err)
		return err;
	if (resp.status == 202) {
		/* the lender has not approved the pairing code yet */
		free(resp.body);
		a->pairing_wait = true;
		return FL_E_AGENT_PENDING;
	}
	a->pairing_wait = false;
	err = resp.status == 200 ? enroll_apply(a, resp.body, resp.body_len)
	                         : FL_E_PROTOCOL;
	free(resp.body);
	return err;
}

/* --- check-in and wait
 * -------------------------------------------------------- */

/* The iat of a verified seq reset (fl_trust_verify_seqreset gives only the
 * floor); FL_E_CLAIMS if the payload has none. */
static fl_err reset_iat(struct fl_agent *a, const char *tok, fl_time now,
                        fl_time *iat)
{
	char *payload = NULL;
	size_t len = 0;
	json_t *j = NULL, *v;
	fl_err err;

	*iat = 0;
	err = verify_msg(a, FL_MSG_SEQ_RESET, tok, now, &payload, &len);
	if (err)
		return err;
	j = json_loadb(payload, len, 0, NULL);
	v = j != NULL ? json_object_get(j, "iat") : NULL;
	if (v == NULL || !json_is_string(v))
		err = FL_E_CLAIMS;
	else
		err = fl_time_parse(json_string_value(v), json_string_length(v),
		                    iat);
	json_decref(j);
	free(payload);
	return err;
}

static fl_err apply_seq_reset(struct fl_agent *a, const char *tok)
{
	uint64_t floor = 0;
	fl_time iat = 0, now = fl_agent_trusted(a);
	fl_err err;

	err = fl_trust_verify_seqreset(a->trust, tok, a->st.device_id, &floor);
	if (!err)
		err = reset_iat(a, tok, now, &iat);
	if (err)
		return err;
	/* only a reset newer than the last one applied, and recent: an old
	 * one replayed changes nothing */
	if (iat <= a->st.reset_iat || iat + FL_AGENT_RESET_MAX_AGE < now)
		return FL_OK;
	a->st.reset_iat = iat;
	a->st.seq = floor;
	/* the claims held stay in force until a token above the floor */
	return FL_OK;
}

static fl_err apply_receipt(struct fl_agent *a, const char *tok)
{
	struct fl_dp_receipt r = {0};
	char *payload = NULL, *copy;
	size_t len = 0;
	fl_err err;

	err = verify_msg(a, FL_MSG_RELEASE_RECEIPT, tok, fl_agent_trusted(a),
	                 &payload, &len);
	if (!err)
		err = fl_dp_receipt_decode(payload, len, &r);
	if (!err && strcmp(r.device_id, a->st.device_id) != 0)
		err = FL_E_WRONG_SUBJECT;
	if (!err && a->st.phase == FL_AGENT_RELEASED) {
		copy = strdup(tok);
		if (copy == NULL) {
			err = FL_E_NOMEM;
		} else {
			free(a->st.receipt);
			a->st.receipt = copy;
		}
	}
	fl_dp_receipt_clear(&r);
	free(payload);
	return err;
}

/* Verifies and applies a check-in or wait answer for the request with
 * `counter`; rep (may be NULL) is what that request reported. */
static fl_err answer_apply(struct fl_agent *a, const char *body, size_t len,
                           uint64_t counter,
                           const struct fl_dp_checkin_req *rep)
{
	struct fl_dp_checkin_answer ans = {0};
	struct fl_pstate snap;
	uint8_t *in = NULL, mac[FL_MAC_LEN];
	size_t in_len = 0;
	bool was_released = a->st.phase == FL_AGENT_RELEASED;
	fl_err err;

	err = fl_dp_checkin_answer_decode(body, len, &ans);
	if (err)
		return FL_E_PROTOCOL;
	err = fl_dp_answer_mac_input(&in, &in_len, counter, ans.time,
	                             ans.next_checkin, ans.token);
	if (!err) {
		err = a->hal.tee_mac(a->hal.ctx, in, in_len, mac);
		if (err)
			err = FL_E_IO;
	}
	free(in);
	if (!err && fl_ct_memcmp(mac, ans.mac, FL_MAC_LEN) != 0)
		err = FL_E_AUTH; /* forged, or answering another request */
	if (err) {
		fl_dp_checkin_answer_clear(&ans);
		return err;
	}
	err = fl_agent_txn_begin(a, &snap);
	if (err) {
		fl_dp_checkin_answer_clear(&ans);
		return err;
	}
	/* the MAC binds this answer to this request: its time is fresh */
	fl_agent_fresh_time(a, ans.time);
	err = fl_agent_add_keys(a, &ans.keys, fl_agent_trusted(a));
	if (!err && ans.seq_reset != NULL)
		err = apply_seq_reset(a, ans.seq_reset);
	if (!err && ans.token != NULL)
		err = fl_agent_accept_token(a, ans.token);
	if (!err && ans.release_receipt != NULL)
		err = apply_receipt(a, ans.release_receipt);
	if (!err && a->st.distrust && !a->unverified &&
	    (ans.token != NULL || a->has_claims)) {
		/* A fresh answer: the server saw the seq this phone holds and
		 * gave the newest token, or none newer. The token held is
		 * the truth again. */
		a->st.distrust = false;
	}
	if (!err && rep != NULL) {
		/* what this request reported has reached the server */
		if (rep->sim_changed &&
		    strcmp(rep->iccid, a->st.iccid_now) == 0) {
			strcpy(a->st.iccid_known, a->st.iccid_now);
			a->st.sim_pending = false;
		}
		a->st.tamper_pending &= ~rep->tamper;
	}
	err = fl_agent_txn_end(a, &snap, err);
	if (!err) {
		a->next_hint = ans.next_checkin;
		if (!was_released && a->st.phase == FL_AGENT_RELEASED)
			fl_agent_notice(a, "This phone is paid off and "
			                   "released. Every restriction has "
			                   "been removed.");
	}
	fl_dp_checkin_answer_clear(&ans);
	return err;
}

/* Takes the next request counter and persists it before anything is
 * sent, so the server never sees a counter twice. */
static fl_err next_counter(struct fl_agent *a, uint64_t *counter)
{
	struct fl_pstate snap;
	fl_err err;

	*counter = 0;
	if (a->st.counter == UINT64_MAX)
		return FL_E_RANGE;
	err = fl_agent_txn_begin(a, &snap);
	if (err)
		return err;
	a->st.counter++;
	err = fl_agent_txn_end(a, &snap, FL_OK);
	if (!err)
		*counter = a->st.counter;
	return err;
}

/* A 409 stale_counter answer to the request with `counter`: the highest
 * counter the server accepted, MAC'd with this phone's key for this
 * request. FL_OK and *server when it verifies and is above ours. */
static fl_err stale_counter(struct fl_agent *a,
                            const struct fl_hal_response *resp,
                            uint64_t counter, uint64_t *server)
{
	struct fl_dp_resync r = {0};
	uint8_t *in = NULL, mac[FL_MAC_LEN];
	size_t in_len = 0;
	fl_err err;

	*server = 0;
	if (resp->status != 409 || resp->body == NULL)
		return FL_E_AGENT_STATUS;
	err = fl_dp_resync_decode(resp->body, resp->body_len, &r);
	if (!err)
		err = fl_dp_resync_mac_input(&in, &in_len, counter, r.counter);
	if (!err && a->hal.tee_mac(a->hal.ctx, in, in_len, mac) != FL_OK)
		err = FL_E_IO;
	free(in);
	if (!err && fl_ct_memcmp(mac, r.mac, FL_MAC_LEN) != 0)
		err = FL_E_AUTH;
	if (!err && (r.counter < counter || r.counter >= INT64_MAX))
		err = FL_E_PROTOCOL;
	if (err)
		return err == FL_E_IO ? err : FL_E_AGENT_STATUS;
	*server = r.counter;
	return FL_OK;
}

/* Sends a MAC'd request with the next counter. A phone whose counter is
 * behind the server's (a crash, a state put back) hears the server's
 * counter in the refusal, verifies it, moves past it and sends once more:
 * back in step after one round trip. *counter is the one answered. */
static fl_err send_macd(struct fl_agent *a, const char *method,
                        const char *path, const char *body, uint32_t timeout,
                        uint64_t *counter, struct fl_hal_response *resp)
{
	uint64_t server = 0;
	fl_err err;

	for (int attempt = 0;; attempt++) {
		err = next_counter(a, counter);
		if (!err)
			err = send_req(a, method, path, body,
			               body ? strlen(body) : 0, true, *counter,
			               timeout, resp);
		if (err != FL_E_AGENT_STATUS || attempt > 0)
			break;
		err = stale_counter(a, resp, *counter, &server);
		free(resp->body);
		memset(resp, 0, sizeof(*resp));
		if (err) {
			a->http_status = 409;
			return err;
		}
		a->st.counter = server; /* persisted by the next take */
	}
	if (err == FL_E_AGENT_STATUS) {
		free(resp->body);
		memset(resp, 0, sizeof(*resp));
	}
	return err;
}

fl_err fl_agent_do_checkin(struct fl_agent *a)
{
	struct fl_dp_checkin_req rep = {0};
	struct fl_hal_response resp;
	uint64_t counter;
	char *body = NULL;
	fl_err err;

	err = fl_agent_read_clocks(a);
	if (err)
		return err;
	rep.seq = a->st.seq;
	rep.trusted_time = fl_agent_trusted(a);
	rep.wall_time = a->wall;
	rep.locked = a->screen.locked;
	rep.released = a->st.phase == FL_AGENT_RELEASED;
	strcpy(rep.iccid, a->st.iccid_now);
	rep.sim_changed = a->st.sim_pending;
	rep.tamper = a->st.tamper_pending;
	rep.code_counter = a->code.last;
	rep.unlock_until = a->code.until;
	/* the token of rep.seq needs no second copy while it is the newest;
	 * one the phone could not verify, or took from a lookup, does */
	rep.token_held = a->st.token != NULL && a->has_claims &&
	                 !a->unverified && !a->st.claims_from_lookup;
	err = fl_dp_checkin_req_encode(&rep, &body);
	if (err)
		return err;
	err = send_macd(a, "POST", FL_DP_PATH_CHECKIN, body,
	                FL_AGENT_HTTP_TIMEOUT, &counter, &resp);
	free(body);
	if (err)
		return err;
	err = answer_apply(a, resp.body, resp.body_len, counter, &rep);
	free(resp.body);
	return err;
}

fl_err fl_agent_do_wait(struct fl_agent *a, uint32_t timeout_s)
{
	struct fl_hal_response resp;
	char path[FL_DP_WAIT_PATH_MAX];
	uint64_t counter;
	fl_err err;

	err = fl_agent_read_clocks(a);
	if (err)
		return err;
	fl_dp_wait_path(path, a->st.seq);
	err = send_macd(a, "GET", path, NULL, timeout_s + FL_AGENT_WAIT_SLACK,
	                &counter, &resp);
	if (err)
		return err;
	err = answer_apply(a, resp.body, resp.body_len, counter, NULL);
	free(resp.body);
	return err;
}
