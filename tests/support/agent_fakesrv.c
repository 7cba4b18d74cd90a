/* A fake lender server for agent tests (agent_fakesrv.h). */
#include "agent_fakesrv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_fakehal.h"
#include "core/restrict.h"

void fl_fakesrv_set(char **field, const char *value)
{
	free(*field);
	*field = value != NULL ? strdup(value) : NULL;
}

struct fl_fakesrv *fl_fakesrv_new(fl_time now)
{
	struct fl_fakesrv *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	if (fl_crypto_init() != FL_OK || fl_signer_generate(&s->root) ||
	    fl_signer_generate(&s->signer) ||
	    fl_keycert_issue(&s->cert, &s->root, s->signer.pk,
	                     now + 365 * FL_DAY)) {
		fl_fakesrv_free(s);
		return NULL;
	}
	fl_kx_keypair(s->kx_pk, s->kx_sk);
	s->now = now;
	s->token_life = 7 * FL_DAY;
	s->reissue_on_report = true;
	strcpy(s->device_id, "dev_test1");
	return s;
}

void fl_fakesrv_free(struct fl_fakesrv *s)
{
	if (s == NULL)
		return;
	fl_signer_wipe(&s->root);
	fl_signer_wipe(&s->signer);
	free(s->cert);
	free(s->token);
	free(s->token_claims);
	fl_claims_clear(&s->claims);
	for (size_t i = 0; i < s->n_certs; i++)
		free(s->certs[i]);
	for (size_t i = 0; i < s->n_revocations; i++)
		free(s->revocations[i]);
	free(s->seq_reset);
	free(s->receipt);
	fl_wipe(s, sizeof(*s));
	free(s);
}

void fl_fakesrv_register(struct fl_fakesrv *s, const char *code,
                         const char *imei1, const char *imei2)
{
	struct fl_device_claims *c = &s->claims;
	bool first = !s->registered;

	s->registered = true;
	s->code_used = false;
	snprintf(s->code, sizeof(s->code), "%s", code);
	snprintf(s->imei[0], sizeof(s->imei[0]), "%s", imei1);
	s->n_imei = 1;
	if (imei2 != NULL) {
		snprintf(s->imei[1], sizeof(s->imei[1]), "%s", imei2);
		s->n_imei = 2;
	}
	if (!first)
		return; /* a new code for the same contract */
	fl_claims_clear(c);
	c->state = FL_ST_ACTIVE;
	c->lock_at = s->now + 30 * FL_DAY;
	fl_fakesrv_set(&c->contact_name, "Acme Finance");
	c->contact_phones = calloc(1, sizeof(char *));
	if (c->contact_phones != NULL) {
		c->contact_phones[0] = strdup("+254700000001");
		c->n_contact_phones = 1;
	}
	c->allow_apps = calloc(1, sizeof(char *));
	if (c->allow_apps != NULL) {
		c->allow_apps[0] = strdup("com.acme.pay");
		c->n_allow_apps = 1;
	}
	fl_fakesrv_set(&c->loan_ref, "LN-0001");
	c->amount_due = 1500;
	strcpy(c->currency, "KES");
	c->sim_policy = FL_REACT_NONE;
	c->tamper_policy = FL_REACT_NONE;
}

fl_err fl_fakesrv_sign(const struct fl_device_claims *c,
                       const struct fl_signer *signer, enum fl_msg_kind kind,
                       char **out)
{
	char *json = NULL;
	fl_err err;

	*out = NULL;
	err = fl_claims_encode(c, &json);
	if (err)
		return err;
	err = fl_msg_sign(out, signer, kind, json, strlen(json));
	free(json);
	return err;
}

fl_err fl_fakesrv_issue(struct fl_fakesrv *s)
{
	struct fl_device_claims *c = &s->claims;
	char *tok = NULL, *json = NULL;
	fl_err err;

	fl_fakesrv_set(&c->sub, s->device_id);
	for (size_t i = 0; i < s->n_imei; i++)
		memcpy(c->imei[i], s->imei[i], sizeof(c->imei[i]));
	c->n_imei = s->n_imei;
	c->seq = s->seq + 1;
	c->iat = s->now;
	c->exp = s->now + s->token_life;
	err = fl_fakesrv_sign(c, &s->signer, FL_MSG_DEVICE_TOKEN, &tok);
	if (!err)
		err = fl_claims_encode(c, &json);
	if (err) {
		free(tok);
		return err;
	}
	free(s->token);
	free(s->token_claims);
	s->token = tok;
	s->token_claims = json;
	s->seq = c->seq;
	return FL_OK;
}

fl_err fl_fakesrv_rotate(struct fl_fakesrv *s, fl_time not_after)
{
	struct fl_signer ns;
	char *cert = NULL;
	fl_err err;

	if (s->n_certs == FS_EXTRA)
		return FL_E_TOO_LARGE;
	err = fl_signer_generate(&ns);
	if (!err)
		err = fl_keycert_issue(&cert, &s->root, ns.pk, not_after);
	if (err)
		return err;
	s->certs[s->n_certs++] = cert;
	fl_signer_wipe(&s->signer);
	s->signer = ns;
	return FL_OK;
}

fl_err fl_fakesrv_revoke(struct fl_fakesrv *s, const char *kid)
{
	char *rev = NULL;
	fl_err err;

	if (s->n_revocations == FS_EXTRA)
		return FL_E_TOO_LARGE;
	err = fl_revocation_issue(&rev, &s->root, kid, s->now);
	if (err)
		return err;
	s->revocations[s->n_revocations++] = rev;
	return FL_OK;
}

fl_err fl_fakesrv_ocode(const struct fl_fakesrv *s, uint64_t counter,
                        enum fl_ocode_action action, int64_t day,
                        char out[FL_OCODE_LEN + 1])
{
	return fl_ocode_make(s->ocode, counter, action, day, out);
}

/* --- endpoints --------------------------------------------------------------
 */

static fl_err error_answer(struct fl_fakesrv *s, struct fl_hal_response *resp,
                           int status, const char *code)
{
	char *json = NULL;
	fl_err err;

	s->n_refused++;
	err = fl_dp_error_encode(code, code, &json);
	if (err)
		return err;
	err = fl_fakehal_respond(resp, status, json);
	free(json);
	return err;
}

static fl_err json_answer(struct fl_hal_response *resp, int status, char *json)
{
	fl_err err = fl_fakehal_respond(resp, status, json);
	free(json);
	return err;
}

static void fill_keys(const struct fl_fakesrv *s, struct fl_dp_keys *k)
{
	memset(k, 0, sizeof(*k));
	k->certs[k->n_certs++] = s->cert;
	for (size_t i = 0; i < s->n_certs; i++)
		k->certs[k->n_certs++] = s->certs[i];
	for (size_t i = 0; i < s->n_revocations; i++)
		k->revocations[k->n_revocations++] = s->revocations[i];
}

static const char *header(const struct fl_hal_request *req, const char *name)
{
	for (size_t i = 0; i < req->n_headers; i++)
		if (strcmp(req->headers[i].name, name) == 0)
			return req->headers[i].value;
	return NULL;
}

static fl_err do_lookup(struct fl_fakesrv *s, const struct fl_hal_request *req,
                        struct fl_hal_response *resp)
{
	struct fl_dp_lookup_req lr;
	struct fl_dp_lookup_payload p = {0};
	struct fl_dp_lookup_answer a = {0};
	char *json = NULL, *tok = NULL;
	bool ours = false;
	fl_err err;

	s->n_lookups++;
	if (fl_dp_lookup_req_decode(req->body, req->body_len, &lr) != FL_OK)
		return error_answer(s, resp, 400, "bad_request");
	for (size_t i = 0; i < lr.n_imei; i++)
		for (size_t j = 0; j < s->n_imei; j++)
			if (s->registered &&
			    strcmp(lr.imei[i], s->imei[j]) == 0)
				ours = true;
	memcpy(p.nonce, lr.nonce, sizeof(p.nonce));
	memcpy(p.imei, lr.imei, sizeof(p.imei));
	p.n_imei = lr.n_imei;
	p.time = s->now;
	if (!ours)
		p.program = FL_DP_PROG_NONE;
	else if (s->claims.state == FL_ST_RELEASED && !s->claims.stolen)
		p.program = FL_DP_PROG_RELEASED;
	else if (s->ever_enrolled)
		p.program = FL_DP_PROG_PAIRING;
	else
		p.program = FL_DP_PROG_ENROLL;
	snprintf(p.status, sizeof(p.status), "%s",
	         !ours                               ? "no_record"
	         : s->claims.stolen                  ? "stolen"
	         : s->claims.state == FL_ST_RELEASED ? "released"
	                                             : "financed");
	if (ours && s->token != NULL && p.program != FL_DP_PROG_RELEASED &&
	    !s->lookup_anonymous)
		p.token = s->token;
	err = fl_dp_lookup_payload_encode(&p, &json);
	if (!err)
		err = fl_msg_sign(&tok, &s->signer, FL_MSG_LOOKUP, json,
		                  strlen(json));
	free(json);
	json = NULL;
	if (err)
		return err;
	a.lookup = tok;
	fill_keys(s, &a.keys);
	err = fl_dp_lookup_answer_encode(&a, &json);
	free(tok);
	if (err)
		return err;
	return json_answer(resp, 200, json);
}

static fl_err enroll_keys(struct fl_fakesrv *s, const uint8_t *sign_pk,
                          const uint8_t *kx_pk)
{
	uint8_t shared[FL_KX_SESSION_LEN];
	fl_err err;

	memcpy(s->dev_sign_pk, sign_pk, FL_SIGN_PK_LEN);
	memcpy(s->dev_kx_pk, kx_pk, FL_KX_PK_LEN);
	err = fl_kx_shared(shared, 1, s->kx_pk, s->kx_sk, kx_pk);
	if (!err)
		err = fl_dp_derive(shared, s->mac_key, s->ocode);
	fl_wipe(shared, sizeof(shared));
	if (err)
		return err;
	s->enrolled = true;
	s->ever_enrolled = true;
	s->counter_seen = 0;
	return fl_fakesrv_issue(s);
}

static fl_err do_enroll(struct fl_fakesrv *s, const struct fl_hal_request *req,
                        struct fl_hal_response *resp)
{
	struct fl_dp_enroll_req er;
	struct fl_dp_enroll_payload p = {0};
	struct fl_dp_enroll_answer a = {0};
	char *json = NULL, *tok = NULL;
	bool same_keys;
	fl_err err;

	s->n_enrolls++;
	if (fl_dp_enroll_req_decode(req->body, req->body_len, &er) != FL_OK)
		return error_answer(s, resp, 400, "bad_request");
	if (fl_dp_enroll_verify(&er) != FL_OK)
		return error_answer(s, resp, 403, "bad_signature");
	if (!s->registered || strcmp(er.imei[0], s->imei[0]) != 0)
		return error_answer(s, resp, 422, "imei_mismatch");
	same_keys = s->enrolled &&
	            memcmp(er.sign_pk, s->dev_sign_pk, FL_SIGN_PK_LEN) == 0 &&
	            memcmp(er.kx_pk, s->dev_kx_pk, FL_KX_PK_LEN) == 0;
	if (er.code[0] != '\0') {
		if (strcmp(er.code, s->code) != 0)
			return error_answer(s, resp, 404, "unknown_code");
		if (s->code_used && !same_keys)
			return error_answer(s, resp, 409, "code_used");
		if (!same_keys) {
			err = enroll_keys(s, er.sign_pk, er.kx_pk);
			if (err)
				return err;
			s->code_used = true; /* one-time */
		}
	} else {
		if (!s->ever_enrolled)
			return error_answer(s, resp, 404, "not_in_program");
		if (!same_keys) {
			fl_dp_pairing_code(er.sign_pk, er.kx_pk,
			                   s->pairing_code);
			if (!s->pairing_approved || !s->pairing_pending ||
			    memcmp(er.sign_pk, s->pair_sign_pk,
			           FL_SIGN_PK_LEN) ||
			    memcmp(er.kx_pk, s->pair_kx_pk, FL_KX_PK_LEN)) {
				s->pairing_pending = true;
				s->pairing_approved = false;
				memcpy(s->pair_sign_pk, er.sign_pk,
				       FL_SIGN_PK_LEN);
				memcpy(s->pair_kx_pk, er.kx_pk, FL_KX_PK_LEN);
				err = fl_dp_pending_encode(s->pairing_code,
				                           &json);
				if (err)
					return err;
				return json_answer(resp, 202, json);
			}
			err = enroll_keys(s, er.sign_pk, er.kx_pk);
			if (err)
				return err;
			s->pairing_pending = false;
			s->pairing_approved = false;
		}
	}
	strcpy(p.device_id, s->device_id);
	memcpy(p.sign_pk, s->dev_sign_pk, FL_SIGN_PK_LEN);
	memcpy(p.kx_pk, s->dev_kx_pk, FL_KX_PK_LEN);
	memcpy(p.server_kx_pk, s->kx_pk, FL_KX_PK_LEN);
	p.time = s->now;
	p.token = s->token;
	err = fl_dp_enroll_payload_encode(&p, &json);
	if (!err)
		err = fl_msg_sign(&tok, &s->signer, FL_MSG_ENROLL, json,
		                  strlen(json));
	free(json);
	json = NULL;
	if (err)
		return err;
	a.enrollment = tok;
	fill_keys(s, &a.keys);
	err = fl_dp_enroll_answer_encode(&a, &json);
	free(tok);
	if (err)
		return err;
	return json_answer(resp, 200, json);
}

/* Authenticates a check-in or wait; *counter receives the counter. */
static int authenticate(struct fl_fakesrv *s, const struct fl_hal_request *req,
                        uint64_t *counter)
{
	const char *dev = header(req, FL_DP_HDR_DEVICE);
	const char *ctr = header(req, FL_DP_HDR_COUNTER);
	const char *mac = header(req, FL_DP_HDR_MAC);

	if (dev == NULL || ctr == NULL || mac == NULL || !s->enrolled ||
	    strcmp(dev, s->device_id) != 0 ||
	    fl_dp_counter_parse(ctr, counter) != FL_OK)
		return 401;
	if (fl_dp_request_verify(mac, s->mac_key, req->method, req->path,
	                         req->body, req->body_len, *counter) != FL_OK)
		return 401;
	if (*counter <= s->counter_seen)
		return 409;
	s->counter_seen = *counter;
	return 0;
}

static fl_err device_answer(struct fl_fakesrv *s, uint64_t counter,
                            bool with_token, struct fl_hal_response *resp)
{
	struct fl_dp_checkin_answer a = {0};
	char *json = NULL;
	fl_err err;

	a.time = s->now;
	a.next_checkin = s->next_checkin;
	a.token = with_token ? s->token : NULL;
	fill_keys(s, &a.keys);
	a.seq_reset = s->seq_reset;
	a.release_receipt =
	        s->claims.state == FL_ST_RELEASED ? s->receipt : NULL;
	err = fl_dp_answer_mac(a.mac, s->mac_key, counter, a.time,
	                       a.next_checkin, a.token);
	if (!err)
		err = fl_dp_checkin_answer_encode(&a, &json);
	if (err)
		return err;
	return json_answer(resp, 200, json);
}

/* 409 stale_counter with the highest counter seen, MAC'd for the request
 * that carried `counter` (docs/protocol.md). */
static fl_err stale_answer(struct fl_fakesrv *s, uint64_t counter,
                           struct fl_hal_response *resp)
{
	uint8_t mac[FL_MAC_LEN];
	char *json = NULL;
	fl_err err;

	s->n_refused++;
	err = fl_dp_resync_mac(mac, s->mac_key, counter, s->counter_seen);
	if (!err)
		err = fl_dp_resync_encode(s->counter_seen, mac, &json);
	if (err)
		return err;
	err = fl_fakehal_respond(resp, 409, json);
	free(json);
	return err;
}

static fl_err do_checkin(struct fl_fakesrv *s, const struct fl_hal_request *req,
                         struct fl_hal_response *resp)
{
	struct fl_dp_checkin_req r;
	uint64_t counter = 0;
	int st;

	s->n_checkins++;
	st = authenticate(s, req, &counter);
	if (st == 401)
		return error_answer(s, resp, 401, "unauthenticated");
	if (st == 409)
		return stale_answer(s, counter, resp);
	if (fl_dp_checkin_req_decode(req->body, req->body_len, &r) != FL_OK)
		return error_answer(s, resp, 400, "bad_request");
	s->last_report = r;
	if (s->reissue_on_report && (r.sim_changed || r.tamper != 0)) {
		fl_err err = fl_fakesrv_issue(s);
		if (err)
			return err;
	}
	/* as finlockd: the token left out for a phone that holds it */
	return device_answer(s, counter,
	                     s->always_token || !r.token_held || r.seq != s->seq,
	                     resp);
}

static fl_err do_wait(struct fl_fakesrv *s, const struct fl_hal_request *req,
                      struct fl_hal_response *resp)
{
	static const char pre[] = FL_DP_PATH_WAIT "?seq=";
	uint64_t counter = 0, seq = 0;
	int st;

	s->n_waits++;
	if (strncmp(req->path, pre, sizeof(pre) - 1) != 0 ||
	    (strcmp(req->path + sizeof(pre) - 1, "0") != 0 &&
	     fl_dp_counter_parse(req->path + sizeof(pre) - 1, &seq) != FL_OK))
		return error_answer(s, resp, 400, "bad_request");
	st = authenticate(s, req, &counter);
	if (st == 409)
		return stale_answer(s, counter, resp);
	if (st)
		return error_answer(s, resp, st, "unauthenticated");
	return device_answer(s, counter, seq != s->seq, resp);
}

fl_err fl_fakesrv_handle(void *ctx, const struct fl_hal_request *req,
                         struct fl_hal_response *resp)
{
	struct fl_fakesrv *s = ctx;

	memset(resp, 0, sizeof(*resp));
	if (s->force_status != 0)
		return error_answer(s, resp, s->force_status, "unavailable");
	if (s->garbage)
		return fl_fakehal_respond(resp, 200, "{\"time\": 12, ]");
	if (strcmp(req->method, "POST") == 0 &&
	    strcmp(req->path, FL_DP_PATH_LOOKUP) == 0)
		return do_lookup(s, req, resp);
	if (strcmp(req->method, "POST") == 0 &&
	    strcmp(req->path, FL_DP_PATH_ENROLL) == 0)
		return do_enroll(s, req, resp);
	if (strcmp(req->method, "POST") == 0 &&
	    strcmp(req->path, FL_DP_PATH_CHECKIN) == 0)
		return do_checkin(s, req, resp);
	if (strcmp(req->method, "GET") == 0 &&
	    strncmp(req->path, FL_DP_PATH_WAIT, strlen(FL_DP_PATH_WAIT)) == 0)
		return do_wait(s, req, resp);
	return error_answer(s, resp, 404, "not_found");
}

/* --- a phone and its lender --------------------------------------------------
 */

fl_err fl_fakephone_new(struct fl_fakephone *p)
{
	memset(p, 0, sizeof(*p));
	p->fh = fl_fakehal_new();
	if (p->fh == NULL)
		return FL_E_NOMEM;
	p->srv = fl_fakesrv_new(p->fh->wall);
	if (p->srv == NULL)
		return FL_E_NOMEM;
	fl_fakesrv_register(p->srv, "K7Q2-9XWD", p->fh->dev.imei[0],
	                    p->fh->dev.imei[1]);
	p->fh->server = fl_fakesrv_handle;
	p->fh->server_ctx = p->srv;
	fl_fakehal_hal(p->fh, &p->hal);
	return fl_agent_open(&p->a, &p->hal, p->srv->root.pk);
}

fl_err fl_fakephone_reboot(struct fl_fakephone *p)
{
	fl_agent_close(p->a);
	p->a = NULL;
	fl_fakehal_power_on(p->fh);
	return fl_agent_open(&p->a, &p->hal, p->srv->root.pk);
}

fl_err fl_fakephone_enroll(struct fl_fakephone *p)
{
	fl_err err = fl_agent_setup(p->a);

	if (err)
		return err;
	return fl_agent_enroll(p->a, "K7Q2-9XWD");
}

void fl_fakephone_advance(struct fl_fakephone *p, int64_t secs)
{
	fl_fakehal_advance(p->fh, secs);
	p->srv->now += secs;
}

void fl_fakephone_free(struct fl_fakephone *p)
{
	fl_agent_close(p->a);
	fl_fakesrv_free(p->srv);
	fl_fakehal_free(p->fh);
	memset(p, 0, sizeof(*p));
}
