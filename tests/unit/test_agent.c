/* Unit tests for the device agent: setup, enrollment (and a man in the
 * middle), check-in and wait, and every kind of token the agent must refuse:
 * forged, tampered, replayed, foreign, expired, not yet valid, wrong kind,
 * restricting a guaranteed capability, signed by a revoked key. Driven
 * through the fake platform and the fake lender server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "agent/persist.h"
#include "core/restrict.h"
#include "finlock/agent.h"
#include "support/agent_fakehal.h"
#include "support/agent_fakesrv.h"

static int setup(void **state)
{
	struct fl_fakephone *p = calloc(1, sizeof(*p));

	if (p == NULL || fl_fakephone_new(p) != FL_OK)
		return -1;
	*state = p;
	return 0;
}

static int teardown(void **state)
{
	fl_fakephone_free(*state);
	free(*state);
	return 0;
}

static struct fl_agent_status status(struct fl_fakephone *p)
{
	struct fl_agent_status st;
	fl_agent_status(p->a, &st);
	return st;
}

static struct fl_agent_screen screen(struct fl_fakephone *p)
{
	struct fl_agent_screen s;
	fl_agent_screen(p->a, &s);
	return s;
}

/* --- setup and enrollment --------------------------------------------------
 */

static void test_new_phone_waits_for_setup(void **state)
{
	struct fl_fakephone *p = *state;
	struct fl_agent_screen s = screen(p);
	int64_t d;

	assert_int_equal(s.phase, FL_AGENT_SETUP);
	assert_true(s.setup_pending);
	assert_false(s.locked);
	/* until the lookup answers only the guaranteed capabilities work */
	assert_int_equal(p->fh->applied_mask, FL_R_DEFAULT_LOCK);
	assert_int_equal(p->fh->applied_guaranteed, FL_G_ALL);
	assert_true(p->fh->n_show > 0);
	assert_true(p->fh->screen.setup_pending);
	assert_int_equal(fl_agent_next_delay(p->a), 0);

	/* no network: setup stays pending, with a growing backoff */
	p->fh->offline = true;
	assert_int_equal(fl_agent_setup(p->a), FL_E_NET);
	assert_int_equal(screen(p).phase, FL_AGENT_SETUP);
	d = fl_agent_next_delay(p->a);
	assert_true(d >= 2 && d <= 5);
	assert_int_equal(fl_agent_setup(p->a), FL_E_NET);
	d = fl_agent_next_delay(p->a);
	assert_true(d >= 5 && d <= 10);
	for (int i = 0; i < 20; i++)
		assert_int_equal(fl_agent_setup(p->a), FL_E_NET);
	d = fl_agent_next_delay(p->a);
	assert_true(d >= 1800 && d <= 3600);
	/* nothing was written by the failures */
	assert_null(fl_fakehal_blob(p->fh, FL_PERSIST_SLOT_A));

	p->fh->offline = false;
	assert_int_equal(fl_agent_setup(p->a), FL_OK);
	s = screen(p);
	assert_int_equal(s.phase, FL_AGENT_IDLE);
	assert_false(s.setup_pending);
	assert_int_equal(p->fh->applied_mask, 0);
	assert_int_equal(status(p).failures, 0);
	assert_int_equal(fl_agent_next_delay(p->a), -1);
	/* trusted time now comes from the signed lookup answer */
	assert_int_equal(status(p).trusted_time, p->srv->now);
}

static void test_enroll(void **state)
{
	struct fl_fakephone *p = *state;
	struct fl_agent_status st;
	struct fl_agent_screen s;

	assert_int_equal(fl_agent_enroll(p->a, "K7Q2-9XWD"), FL_OK);
	st = status(p);
	assert_int_equal(st.phase, FL_AGENT_ENROLLED);
	assert_string_equal(st.device_id, "dev_test1");
	assert_int_equal(st.seq, 1);
	s = screen(p);
	assert_false(s.locked);
	assert_int_equal(s.state, FL_ST_ACTIVE);
	assert_string_equal(s.lender_name, "Acme Finance");
	assert_string_equal(s.loan_ref, "LN-0001");
	assert_int_equal(s.lock_at, p->srv->claims.lock_at);
	/* the server derived the same secrets: a check-in authenticates */
	assert_int_equal(fl_agent_checkin(p->a), FL_OK);
	assert_int_equal(p->srv->counter_seen, 1);
	assert_int_equal(p->srv->n_refused, 0);
	/* the MAC key and the offline-code secret are in the secure
	 * hardware, and nowhere in the phone's storage */
	assert_true(p->fh->tee.has_mac);
	for (size_t i = 0; i < FH_BLOBS; i++) {
		const struct fh_blob *b = &p->fh->persist[i];
		for (size_t j = 0; b->used && j + 32 <= b->len; j++) {
			assert_int_not_equal(
			        memcmp(b->data + j, p->fh->tee.mac_key, 32), 0);
			assert_int_not_equal(
			        memcmp(b->data + j, p->fh->tee.ocode, 32), 0);
		}
	}
	/* enrolling twice is refused */
	assert_int_equal(fl_agent_enroll(p->a, "K7Q2-9XWD"), FL_E_STATE);

	/* all of it survives a reboot */
	assert_int_equal(fl_fakephone_reboot(p), FL_OK);
	st = status(p);
	assert_int_equal(st.phase, FL_AGENT_ENROLLED);
	assert_int_equal(st.seq, 1);
	assert_int_equal(st.counter, 1);
	assert_int_equal(fl_agent_checkin(p->a), FL_OK);
	assert_int_equal(p->srv->counter_seen, 2);
}

static void test_enroll_wrong_code(void **state)
{
	struct fl_fakephone *p = *state;

	assert_int_equal(fl_agent_setup(p->a), FL_OK);
	assert_int_equal(fl_agent_enroll(p->a, "WRONG-CODE"),
	                 FL_E_AGENT_STATUS);
	assert_int_equal(status(p).http_status, 404);
	assert_int_equal(status(p).phase, FL_AGENT_IDLE);
	assert_int_equal(fl_agent_enroll(p->a, NULL), FL_E_STATE);
	assert_int_equal(fl_agent_checkin(p->a), FL_E_STATE);
	assert_int_equal(fl_agent_enroll(p->a, "K7Q2-9XWD"), FL_OK);
}

/* The enrollment answer is lost on the way back: the retry uses the same
 * keys and the server answers it again. */
static int lose_next;
static fl_err lossy(void *ctx, const struct fl_hal_request *req,
                    struct fl_hal_response *resp)
{
	fl_err err = fl_fakesrv_handle(ctx, req, resp);

	if (err == FL_OK && lose_next > 0) {
		lose_next--;
		free(resp->body);
		memset(resp, 0, sizeof(*resp));
		return FL_E_NET;
	}
	return err;
}

static void test_enroll_answer_lost(void **state)
{
	struct fl_fakephone *p = *state;
	uint8_t first_pk[FL_SIGN_PK_LEN];

	assert_int_equal(fl_agent_setup(p->a), FL_OK);
	p->fh->server = lossy;
	lose_next = 1;
	assert_int_equal(fl_agent_enroll(p->a, "K7Q2-9XWD"), FL_E_NET);
	assert_true(p->srv->enrolled);
	memcpy(first_pk, p->srv->dev_sign_pk, sizeof(first_pk));
	assert_int_equal(status(p).phase, FL_AGENT_IDLE);
	/* the pending keys survive a reboot too */
	assert_int_equal(fl_fakephone_reboot(p), FL_OK);
	assert_int_equal(fl_agent_enroll(p->a, "K7Q2-9XWD"), FL_OK);
	assert_memory_equal(first_pk, p->srv->dev_sign_pk, sizeof(first_pk));
	assert_int_equal(status(p).phase, FL_AGENT_ENROLLED);
	assert_int_equal(fl_agent_checkin(p->a), FL_OK);
}

/* A man in the middle puts his own keys in the enrollment request (signed
 * with his own key, so the server accepts it). */
static fl_err swap_keys(void *ctx, const struct fl_hal_request *req,
                        struct fl_hal_response *resp)
{
	struct fl_hal_request r = *req;
	struct fl_dp_enroll_req er;
	uint8_t sk[FL_SIGN_SK_LEN], kxsk[FL_KX_SK_LEN];
	char *body = NULL;
	fl_err err;

	if (strcmp(req->path, FL_DP_PATH_ENROLL) != 0)
		return fl_fakesrv_handle(ctx, req, resp);
	assert_int_equal(fl_dp_enroll_req_decode(req->body, req->body_len, &er),
	                 FL_OK);
	fl_sign_keypair(er.sign_pk, sk);
	fl_kx_keypair(er.kx_pk, kxsk);
	/* the factory signature covers the phone's keys: the attacker drops
	 * it, as if the phone had none */
	er.has_factory = false;
	assert_int_equal(fl_dp_enroll_sign(&er, sk), FL_OK);
	assert_int_equal(fl_dp_enroll_req_encode(&er, &body), FL_OK);
	r.body = body;
	r.body_len = strlen(body);
	err = fl_fakesrv_handle(ctx, &r, resp);
	free(body);
	return err;
}

/* ... or swaps the server's key-exchange key in the answer, re-signing it
 * with a key of his own. */
static fl_err swap_server_key(void *ctx, const struct fl_hal_request *req,
                              struct fl_hal_response *resp)
{
	struct fl_dp_enroll_answer a;
	struct fl_dp_enroll_payload pl;
	struct fl_signer evil;
	uint8_t evil_kx_sk[FL_KX_SK_LEN];
	char *payload = NULL, *tok = NULL, *json = NULL;
	size_t len;
	fl_err err = fl_fakesrv_handle(ctx, req, resp);

	if (err || strcmp(req->path, FL_DP_PATH_ENROLL) != 0)
		return err;
	assert_int_equal(
	        fl_dp_enroll_answer_decode(resp->body, resp->body_len, &a),
	        FL_OK);
	/* read the genuine payload (no key needed to read it) */
	{
		struct fl_trust *t;
		struct fl_fakesrv *s = ctx;
		assert_int_equal(fl_trust_new(&t, s->root.pk), FL_OK);
		assert_int_equal(fl_trust_add_cert(t, s->cert, s->now, NULL),
		                 FL_OK);
		assert_int_equal(fl_trust_verify(t, FL_MSG_ENROLL, a.enrollment,
		                                 s->now, &payload, &len),
		                 FL_OK);
		fl_trust_free(t);
	}
	assert_int_equal(fl_dp_enroll_payload_decode(payload, len, &pl), FL_OK);
	free(payload);
	fl_kx_keypair(pl.server_kx_pk, evil_kx_sk);
	assert_int_equal(fl_signer_generate(&evil), FL_OK);
	assert_int_equal(fl_dp_enroll_payload_encode(&pl, &json), FL_OK);
	assert_int_equal(
	        fl_msg_sign(&tok, &evil, FL_MSG_ENROLL, json, strlen(json)),
	        FL_OK);
	free(json);
	free(a.enrollment);
	a.enrollment = tok;
	assert_int_equal(fl_dp_enroll_answer_encode(&a, &json), FL_OK);
	fl_dp_enroll_answer_clear(&a);
	fl_dp_enroll_payload_clear(&pl);
	free(resp->body);
	err = fl_fakehal_respond(resp, 200, json);
	free(json);
	return err;
}

static void test_mitm_enrollment(void **state)
{
	struct fl_fakephone *p = *state;

	assert_int_equal(fl_agent_setup(p->a), FL_OK);
	p->fh->server = swap_keys;
	assert_int_equal(fl_agent_enroll(p->a, "K7Q2-9XWD"), FL_E_AGENT_KEYS);
	assert_int_equal(status(p).phase, FL_AGENT_IDLE);
	assert_string_equal(status(p).device_id, "");

	p->fh->server = swap_server_key;
	fl_fakesrv_register(p->srv, "NEW-CODE-1", p->fh->dev.imei[0],
	                    p->fh->dev.imei[1]);
	p->srv->enrolled = false;
	assert_int_equal(fl_agent_enroll(p->a, "NEW-CODE-1"), FL_E_UNKNOWN_KID);
	assert_int_equal(status(p).phase, FL_AGENT_IDLE);

	/* without the man in the middle the same phone enrolls */
	p->fh->server = fl_fakesrv_handle;
	fl_fakesrv_register(p->srv, "NEW-CODE-2", p->fh->dev.imei[0],
	                    p->fh->dev.imei[1]);
	p->srv->enrolled = false;
	assert_int_equal(fl_agent_enroll(p->a, "NEW-CODE-2"), FL_OK);
	assert_int_equal(fl_agent_checkin(p->a), FL_OK);
}

/* --- check-in, wait, lock and unlock -----------------------------------------
 */

static void test_lock_and_unlock_online(void **state)
{
	struct fl_fakephone *p = *state;
	struct fl_agent_screen s;

	assert_int_equal(fl_fakephone_enroll(p), FL_OK);
	p->srv->claims.state = FL_ST_LOCKED;
	p->srv->claims.amount_due = 4500;
	assert_int_equal(fl_fakesrv_issue(p->srv), FL_OK);
	fl_fakephone_advance(p, 10);
	assert_int_equal(fl_agent_wait(p->a, 60), FL_OK);
	assert_string_equal(p->fh->last_method, "GET");
	assert_string_equal(p->fh->last_path, "/v1/device/wait?seq=1");
	s = screen(p);
	assert_true(s.locked);
	assert_int_equal(s.state, FL_ST_LOCKED);
	assert_string_equal(s.message,
	                    "This device is locked due to an overdue "
	                    "installment payment");
	assert_int_equal(s.amount_due, 4500);
	assert_string_equal(s.currency, "KES");
	assert_string_equal(s.lender_name, "Acme Finance");
	assert_int_equal(s.n_lender_phones, 1);
	assert_string_equal(s.lender_phones[0], "+254700000001");
	assert_string_equal(s.loan_ref, "LN-0001");
	assert_int_equal(s.guaranteed, FL_G_ALL);
	assert_int_equal(s.n_allow_apps, 1);
	assert_string_equal(s.allow_apps[0], "com.acme.pay");
	/* enforced through the platform: restrictions, and what stays */
	assert_int_equal(p->fh->applied_mask, FL_R_DEFAULT_LOCK);
	assert_int_equal(p->fh->applied_guaranteed, FL_G_ALL);
	assert_int_equal(p->fh->applied_n_apps, 1);
	assert_int_equal(p->fh->applied_n_phones, 1);
	assert_true(p->fh->screen.locked);
	assert_string_equal(p->fh->screen.loan_ref, "LN-0001");

	/* a wait with nothing new changes nothing */
	assert_int_equal(fl_agent_wait(p->a, 60), FL_OK);
	assert_true(screen(p).locked);
	assert_int_equal(status(p).seq, 2);

	/* the lender's own restriction list and message are used */
	p->srv->claims.restrict_mask = FL_R_CAMERA | FL_R_APPS;
	fl_fakesrv_set(&p->srv->claims.message, "Pay KES 4500 to unlock");
	assert_int_equal(fl_fakesrv_issue(p->srv), FL_OK);
	assert_int_equal(fl_agent_checkin(p->a), FL_OK);
	assert_int_equal(p->fh->applied_mask, FL_R_CAMERA | FL_R_APPS);
	assert_string_equal(screen(p).message, "Pay KES 4500 to unlock");

	/* paid: unlocked */
	p->srv->claims.state = FL_ST_ACTIVE;
	assert_int_equal(fl_fakesrv_issue(p->srv), FL_OK);
	assert_int_equal(fl_agent_wait(p->a, 60), FL_OK);
	s = screen(p);
	assert_false(s.locked);
	assert_int_equal(p->fh->applied_mask, 0);
	assert_false(p->fh->screen.locked);

	/* stolen overrides everything */
	fl_fakesrv_set(&p->srv->claims.message, NULL);
	p->srv->claims.stolen = true;
	assert_int_equal(fl_fakesrv_issue(p->srv), FL_OK);
	assert_int_equal(fl_agent_checkin(p->a), FL_OK);
	s = screen(p);
	assert_true(s.locked);
	assert_true(s.stolen);
	assert_int_equal(s.lock_reason, FL_AGENT_LOCK_STOLEN);
	assert_string_equal(fl_agent_lock_reason_name(s.lock_reason), "stolen");
	assert_null(fl_agent_lock_reason_name((enum fl_agent_lock_reason)99));
	assert_non_null(strstr(s.message, "stolen"));
}

/* --- tokens the agent refuses
 * -------------------------------------------------- */

/* Makes the server send tok as the device's current token. */
/* The server answers with tok, whatever the phone holds. */
static void serve(struct fl_fakephone *p, char *tok)
{
	free(p->srv->token);
	p->srv->token = tok;
	p->srv->always_token = true;
}

/* Claims as the server would sign them next (seq + 1, now). */
static void next_claims(struct fl_fakephone *p, struct fl_device_claims *c)
{
	char *json = NULL;
	struct fl_fakesrv *s = p->srv;

	fl_fakesrv_set(&s->claims.sub, s->device_id);
	for (size_t i = 0; i < s->n_imei; i++)
		memcpy(s->claims.imei[i], s->imei[i], 16);
	s->claims.n_imei = s->n_imei;
	s->claims.seq = s->seq + 1;
	s->claims.iat = s->now;
	s->claims.exp = s->now + FL_DAY;
	s->claims.state = FL_ST_LOCKED;
	assert_int_equal(fl_claims_encode(&s->claims, &json), FL_OK);
	assert_int_equal(fl_claims_decode(json, strlen(json), c), FL_OK);
	free(json);
}

/* The agent refuses tok with want; nothing but the counter changes. */
static void refused(struct fl_fakephone *p, char *tok, fl_err want)
{
	struct fl_agent_status before = status(p), after;
	struct fl_agent_screen sb = screen(p), sa;

	serve(p, tok);
	assert_int_equal(fl_agent_checkin(p->a), want);
	after = status(p);
	sa = screen(p);
	assert_int_equal(after.seq, before.seq);
	assert_int_equal(after.counter, before.counter + 1);
	assert_int_equal(after.phase, before.phase);
	assert_int_equal(sa.locked, sb.locked);
	assert_int_equal(sa.state, sb.state);
	assert_int_equal(p->fh->applied_mask, 0);
	/* and the same holds after a reboot: nothing of it was persisted */
	assert_int_equal(fl_fakephone_reboot(p), FL_OK);
	assert_int_equal(status(p).seq, before.seq);
	assert_false(screen(p).locked);
}

static void test_refused_tokens(void **state)
{
	struct fl_fakephone *p = *state;
	struct fl_device_claims c = {0};
	struct fl_signer evil;
	char *tok = NULL, *old = NULL, *json = NULL;

	assert_int_equal(fl_fakephone_enroll(p), FL_OK);
	old = strdup(p->srv->token); /* seq 1 */
	p->srv->claims.state = FL_ST_ACTIVE;
	assert_int_equal(fl_fakesrv_issue(p->srv), FL_OK); /* seq 2 */
	assert_int_equal(fl_agent_checkin(p->a), FL_OK);
	assert_int_equal(status(p).seq, 2);

	/* forged: signed by a key the root never certified */
	next_claims(p, &c);
	assert_int_equal(fl_signer_generate(&evil), FL_OK);
	assert_int_equal(fl_fakesrv_sign(&c, &evil, FL_MSG_DEVICE_TOKEN, &tok),
	                 FL_OK);
	refused(p, tok, FL_E_UNKNOWN_KID);

	/* forged: a genuine signature over other claims */
	assert_int_equal(
	        fl_fakesrv_sign(&c, &p->srv->signer, FL_MSG_DEVICE_TOKEN, &tok),
	        FL_OK);
	{
		char *dot = strchr(tok + strlen("v4.public."), '.');
		size_t body = dot != NULL ? (size_t)(dot - tok) : strlen(tok);
		tok[body / 2] = tok[body / 2] == 'A' ? 'B' : 'A';
	}
	refused(p, tok, FL_E_BAD_SIGNATURE);

	/* replayed: the older token again */
	refused(p, old, FL_E_REPLAY);

	/* foreign: another device's token, and another IMEI's */
	fl_fakesrv_set(&c.sub, "dev_other");
	assert_int_equal(
	        fl_fakesrv_sign(&c, &p->srv->signer, FL_MSG_DEVICE_TOKEN, &tok),
	        FL_OK);
	refused(p, tok, FL_E_WRONG_SUBJECT);
	fl_fakesrv_set(&c.sub, "dev_test1");
	strcpy(c.imei[0], "490154203237518");
	c.n_imei = 1;
	assert_int_equal(
	        fl_fakesrv_sign(&c, &p->srv->signer, FL_MSG_DEVICE_TOKEN, &tok),
	        FL_OK);
	refused(p, tok, FL_E_WRONG_IMEI);
	memcpy(c.imei[0], p->srv->imei[0], 16);

	/* expired, and not valid yet, on trusted time */
	c.iat = p->srv->now - 3 * FL_DAY;
	c.exp = p->srv->now - FL_DAY;
	assert_int_equal(
	        fl_fakesrv_sign(&c, &p->srv->signer, FL_MSG_DEVICE_TOKEN, &tok),
	        FL_OK);
	refused(p, tok, FL_E_EXPIRED);
	c.iat = p->srv->now + FL_DAY;
	c.exp = p->srv->now + 3 * FL_DAY;
	assert_int_equal(
	        fl_fakesrv_sign(&c, &p->srv->signer, FL_MSG_DEVICE_TOKEN, &tok),
	        FL_OK);
	refused(p, tok, FL_E_NOT_YET_VALID);
	c.iat = p->srv->now;
	c.exp = p->srv->now + FL_DAY;

	/* wrong kind: device claims signed as a lookup answer */
	assert_int_equal(
	        fl_fakesrv_sign(&c, &p->srv->signer, FL_MSG_LOOKUP, &tok),
	        FL_OK);
	refused(p, tok, FL_E_BAD_SIGNATURE);
	/* or by the root itself */
	assert_int_equal(
	        fl_fakesrv_sign(&c, &p->srv->root, FL_MSG_DEVICE_TOKEN, &tok),
	        FL_OK);
	serve(p, tok);
	assert_int_not_equal(fl_agent_checkin(p->a), FL_OK);
	assert_int_equal(status(p).seq, 2);

	/* a token restricting a guaranteed capability */
	assert_int_equal(fl_claims_encode(&c, &json), FL_OK);
	{
		json_t *j = json_loads(json, 0, NULL);
		assert_non_null(j);
		assert_int_equal(json_object_set_new(
		                         j, "restrict",
		                         json_pack("[s]", "emergency_calls")),
		                 0);
		free(json);
		json = json_dumps(j, JSON_COMPACT);
		json_decref(j);
		assert_non_null(json);
	}
	assert_int_equal(fl_msg_sign(&tok, &p->srv->signer, FL_MSG_DEVICE_TOKEN,
	                             json, strlen(json)),
	                 FL_OK);
	free(json);
	refused(p, tok, FL_E_RESTRICT_GUARANTEED);

	/* the token already held, even re-signed with other content, changes
	 * nothing and is not an error */
	c.seq = 2;
	assert_int_equal(
	        fl_fakesrv_sign(&c, &p->srv->signer, FL_MSG_DEVICE_TOKEN, &tok),
	        FL_OK);
	serve(p, tok);
	assert_int_equal(fl_agent_checkin(p->a), FL_OK);
	assert_int_equal(status(p).seq, 2);
	assert_false(screen(p).locked);

	/* and the genuine next token is still accepted */
	c.seq = 3;
	assert_int_equal(
	        fl_fakesrv_sign(&c, &p->srv->signer, FL_MSG_DEVICE_TOKEN, &tok),
	        FL_OK);
	serve(p, tok);
	assert_int_equal(fl_agent_checkin(p->a), FL_OK);
	assert_int_equal(status(p).seq, 3);
	assert_true(screen(p).locked);
	fl_signer_wipe(&evil);
	fl_claims_clear(&c);
}

static void test_rotation_and_revocation(void **state)
{
	struct fl_fakephone *p = *state;
	struct fl_signer old;
	struct fl_device_claims c = {0};
	char *tok = NULL;

	assert_int_equal(fl_fakephone_enroll(p), FL_OK);
	old = p->srv->signer;
	/* a new signing key, certified by the root, arrives with its cert */
	assert_int_equal(fl_fakesrv_rotate(p->srv, p->srv->now + 90 * FL_DAY),
	                 FL_OK);
	assert_int_equal(fl_fakesrv_issue(p->srv), FL_OK);
	assert_int_equal(fl_agent_checkin(p->a), FL_OK);
	assert_int_equal(status(p).seq, 2);

	/* the root revokes the old key: its tokens are refused from then on,
	 * even after a reboot */
	assert_int_equal(fl_fakesrv_revoke(p->srv, old.kid), FL_OK);
	assert_int_equal(fl_agent_checkin(p->a), FL_OK);
	assert_int_equal(fl_fakephone_reboot(p), FL_OK);
	next_claims(p, &c);
	assert_int_equal(fl_fakesrv_sign(&c, &old, FL_MSG_DEVICE_TOKEN, &tok),
	                 FL_OK);
	refused(p, tok, FL_E_KEY_REVOKED);
	/* a forged revocation (not root-signed) is ignored */
	{
		char *rev = NULL;
		assert_int_equal(fl_revocation_issue(&rev, &old,
		                                     p->srv->signer.kid,
		                                     p->srv->now),
		                 FL_OK);
		p->srv->revocations[p->srv->n_revocations++] = rev;
	}
	assert_int_equal(fl_fakesrv_issue(p->srv), FL_OK);
	assert_int_equal(fl_agent_checkin(p->a), FL_OK);
	assert_int_equal(status(p).seq, p->srv->seq);
	fl_signer_wipe(&old);
	fl_claims_clear(&c);
}

/* A phone says it holds its token (token_held) only when it verified it:
 * the server then leaves the token out. One it cannot verify any more (its
 * key revoked, found at a reboot) is asked for again, and the same seq
 * signed by a good key is taken. */
static void test_token_held(void **state)
{
	struct fl_fakephone *p = *state;
	struct fl_signer old;
	struct fl_device_claims c = {0};
	char *tok = NULL;
	size_t n;

	assert_int_equal(fl_fakephone_enroll(p), FL_OK);
	assert_int_equal(fl_agent_checkin(p->a), FL_OK);
	assert_true(p->srv->last_report.token_held);
	assert_int_equal(p->srv->last_report.seq, p->srv->seq);

	/* the key that signed it is revoked and another certified */
	old = p->srv->signer;
	assert_int_equal(fl_fakesrv_rotate(p->srv, p->srv->now + 90 * FL_DAY),
	                 FL_OK);
	assert_int_equal(fl_fakesrv_revoke(p->srv, old.kid), FL_OK);
	assert_int_equal(fl_agent_checkin(p->a), FL_OK);
	assert_int_equal(fl_fakephone_reboot(p), FL_OK);
	assert_true(screen(p).locked); /* nothing it can verify */

	/* the same seq, signed by the new key */
	next_claims(p, &c);
	c.seq = p->srv->seq;
	c.state = FL_ST_ACTIVE;
	assert_int_equal(fl_fakesrv_sign(&c, &p->srv->signer,
	                                 FL_MSG_DEVICE_TOKEN, &tok),
	                 FL_OK);
	free(p->srv->token);
	p->srv->token = tok;
	n = p->srv->n_checkins;
	assert_int_equal(fl_agent_checkin(p->a), FL_OK);
	assert_int_equal(p->srv->n_checkins, n + 1);
	assert_false(p->srv->last_report.token_held);
	assert_false(screen(p).locked);
	assert_int_equal(fl_agent_checkin(p->a), FL_OK);
	assert_true(p->srv->last_report.token_held);
	fl_signer_wipe(&old);
	fl_claims_clear(&c);
}

static void test_seq_reset(void **state)
{
	struct fl_fakephone *p = *state;
	char *reset = NULL;

	assert_int_equal(fl_fakephone_enroll(p), FL_OK);
	for (int i = 0; i < 5; i++)
		assert_int_equal(fl_fakesrv_issue(p->srv), FL_OK);
	assert_int_equal(fl_agent_checkin(p->a), FL_OK);
	assert_int_equal(status(p).seq, 6);

	/* the server lost its recent history (restored from a backup) */
	p->srv->seq = 2;
	p->srv->claims.state = FL_ST_LOCKED;
	assert_int_equal(fl_fakesrv_issue(p->srv), FL_OK); /* seq 3 */
	assert_int_equal(fl_agent_checkin(p->a), FL_E_REPLAY);
	assert_false(screen(p).locked);

	/* a seq reset signed by anyone but the root does nothing */
	assert_int_equal(fl_seqreset_issue(&reset, &p->srv->signer, "dev_test1",
	                                   2, p->srv->now),
	                 FL_OK);
	p->srv->seq_reset = reset;
	assert_int_not_equal(fl_agent_checkin(p->a), FL_OK);
	assert_int_equal(status(p).seq, 6);
	free(p->srv->seq_reset);

	/* the root's reset lowers the floor */
	assert_int_equal(fl_seqreset_issue(&reset, &p->srv->root, "dev_test1",
	                                   2, p->srv->now),
	                 FL_OK);
	p->srv->seq_reset = reset;
	assert_int_equal(fl_agent_checkin(p->a), FL_OK);
	assert_int_equal(status(p).seq, 3);
	assert_true(screen(p).locked);

	/* replaying the same reset later changes nothing */
	p->srv->claims.state = FL_ST_ACTIVE;
	for (int i = 0; i < 3; i++)
		assert_int_equal(fl_fakesrv_issue(p->srv), FL_OK);
	assert_int_equal(fl_agent_checkin(p->a), FL_OK);
	assert_int_equal(status(p).seq, 6);
	assert_int_equal(fl_agent_checkin(p->a), FL_OK);
	assert_int_equal(status(p).seq, 6);
	assert_false(screen(p).locked);
	/* a reset for another device is refused */
	free(p->srv->seq_reset);
	assert_int_equal(fl_seqreset_issue(&reset, &p->srv->root, "dev_other",
	                                   0, p->srv->now + 5),
	                 FL_OK);
	p->srv->seq_reset = reset;
	assert_int_not_equal(fl_agent_checkin(p->a), FL_OK);
	assert_int_equal(status(p).seq, 6);
}

/* --- answers that must change nothing
 * ------------------------------------------ */

static char *saved_answer;
static int tamper_mode;
static fl_err tamper_answer(void *ctx, const struct fl_hal_request *req,
                            struct fl_hal_response *resp)
{
	fl_err err = fl_fakesrv_handle(ctx, req, resp);
	char *t;

	if (err || strcmp(req->path, FL_DP_PATH_CHECKIN) != 0)
		return err;
	if (tamper_mode == 1) {
		/* a forged server time, a year ahead: the MAC catches it */
		t = strstr(resp->body, "\"time\":\"2026");
		assert_non_null(t);
		t[11] = '7';
	} else if (tamper_mode == 2) {
		/* keep this answer to replay it later */
		free(saved_answer);
		saved_answer = strdup(resp->body);
	} else if (tamper_mode == 3) {
		/* replay the kept answer to a newer request */
		free(resp->body);
		return fl_fakehal_respond(resp, 200, saved_answer);
	}
	return FL_OK;
}

static void test_answers_verified(void **state)
{
	struct fl_fakephone *p = *state;
	fl_time trusted;

	assert_int_equal(fl_fakephone_enroll(p), FL_OK);
	p->fh->server = tamper_answer;
	tamper_mode = 2;
	assert_int_equal(fl_agent_checkin(p->a), FL_OK);
	trusted = status(p).trusted_time;

	tamper_mode = 1;
	p->srv->claims.state = FL_ST_LOCKED;
	assert_int_equal(fl_fakesrv_issue(p->srv), FL_OK);
	assert_int_equal(fl_agent_checkin(p->a), FL_E_AUTH);
	assert_int_equal(status(p).trusted_time, trusted);
	assert_false(screen(p).locked);

	tamper_mode = 3;
	assert_int_equal(fl_agent_checkin(p->a), FL_E_AUTH);
	assert_false(screen(p).locked);
	free(saved_answer);
	saved_answer = NULL;

	tamper_mode = 0;
	assert_int_equal(fl_agent_checkin(p->a), FL_OK);
	assert_true(screen(p).locked);
}

static void test_failures_change_nothing(void **state)
{
	struct fl_fakephone *p = *state;
	struct fl_agent_status before;
	int64_t d;

	assert_int_equal(fl_fakephone_enroll(p), FL_OK);
	p->srv->next_checkin = 120;
	assert_int_equal(fl_agent_checkin(p->a), FL_OK);
	assert_int_equal(fl_agent_next_delay(p->a), 120);
	before = status(p);

	p->fh->offline = true;
	assert_int_equal(fl_agent_checkin(p->a), FL_E_NET);
	assert_int_equal(fl_agent_wait(p->a, 30), FL_E_NET);
	p->fh->offline = false;
	p->srv->force_status = 503;
	assert_int_equal(fl_agent_checkin(p->a), FL_E_AGENT_STATUS);
	p->srv->force_status = 0;
	p->srv->garbage = true;
	assert_int_equal(fl_agent_checkin(p->a), FL_E_PROTOCOL);
	p->srv->garbage = false;
	assert_int_equal(status(p).seq, before.seq);
	assert_int_equal(status(p).failures, 4);
	d = fl_agent_next_delay(p->a);
	assert_true(d >= 20 && d <= 40);

	/* the server must never see a counter twice, even across failures */
	p->srv->claims.state = FL_ST_LOCKED;
	assert_int_equal(fl_fakesrv_issue(p->srv), FL_OK);
	assert_int_equal(fl_agent_checkin(p->a), FL_OK);
	assert_int_equal(p->srv->counter_seen, before.counter + 5);
	assert_true(screen(p).locked);
	assert_int_equal(status(p).failures, 0);
}

/* The counter the request carries is already on the partition when the
 * request leaves. */
static struct fl_fakephone *watched;
static fl_err check_persisted(void *ctx, const struct fl_hal_request *req,
                              struct fl_hal_response *resp)
{
	struct fl_pstate st;
	struct fl_persist_pos pos;
	bool rolled_back = true;
	uint64_t ctr = 0;

	for (size_t i = 0; i < req->n_headers; i++)
		if (strcmp(req->headers[i].name, FL_DP_HDR_COUNTER) == 0)
			assert_int_equal(fl_dp_counter_parse(
			                         req->headers[i].value, &ctr),
			                 FL_OK);
	if (ctr != 0) {
		assert_int_equal(
		        fl_persist_load(&watched->hal, &st, &pos, &rolled_back),
		        FL_OK);
		assert_false(rolled_back);
		assert_int_equal(st.counter, ctr);
		fl_pstate_clear(&st);
	}
	return fl_fakesrv_handle(ctx, req, resp);
}

static void test_counter_persisted_first(void **state)
{
	struct fl_fakephone *p = *state;

	assert_int_equal(fl_fakephone_enroll(p), FL_OK);
	watched = p;
	p->fh->server = check_persisted;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(fl_agent_checkin(p->a), FL_OK);
		assert_int_equal(fl_agent_wait(p->a, 10), FL_OK);
	}
	assert_int_equal(p->srv->counter_seen, 6);

	/* a partition that cannot be written: nothing is sent */
	p->fh->crashed = true;
	assert_int_equal(fl_agent_checkin(p->a), FL_E_IO);
	assert_int_equal(p->srv->n_checkins, 3);
	p->fh->crashed = false;
}

static void test_open_refuses(void **state)
{
	struct fl_fakephone *p = *state;
	struct fl_agent *a = NULL;
	struct fl_hal hal = p->hal;

	hal.http = NULL;
	assert_int_equal(fl_agent_open(&a, &hal, p->srv->root.pk),
	                 FL_E_INVALID);
	assert_null(a);
	strcpy(p->fh->dev.imei[1], "356938035643808"); /* bad check digit */
	assert_int_equal(fl_agent_open(&a, &p->hal, p->srv->root.pk),
	                 FL_E_INVALID);
	strcpy(p->fh->dev.imei[1], "356938035643809");
	/* a partition that cannot be read is not an empty one */
	assert_int_equal(fl_fakephone_enroll(p), FL_OK);
	p->fh->fail_reads = true;
	assert_int_equal(fl_agent_open(&a, &p->hal, p->srv->root.pk), FL_E_IO);
	assert_null(a);
	p->fh->fail_reads = false;
	assert_int_equal(fl_agent_open(&a, &p->hal, p->srv->root.pk), FL_OK);
	fl_agent_close(a);
	fl_agent_close(NULL);
}

/* A new token's write cut at every byte: after the reboot the phone holds
 * the old token or the new one, whole, and enforces exactly that. */
static void test_cut_token_write(void **state)
{
	struct fl_fakephone *p = *state;
	struct fh_blob saved[FH_BLOBS];
	struct dev_tee tee;
	uint64_t seen;
	size_t full = 0, n_old = 0, n_new = 0;

	assert_int_equal(fl_fakephone_enroll(p), FL_OK);
	p->srv->claims.state = FL_ST_LOCKED;
	assert_int_equal(fl_fakesrv_issue(p->srv), FL_OK);
	assert_int_equal(fl_fakephone_reboot(p), FL_OK);
	seen = p->srv->counter_seen;
	for (size_t i = 0; i < FH_BLOBS; i++) {
		saved[i] = p->fh->persist[i];
		saved[i].data = NULL;
		if (saved[i].used) {
			saved[i].data = malloc(saved[i].len);
			assert_non_null(saved[i].data);
			memcpy(saved[i].data, p->fh->persist[i].data,
			       saved[i].len);
			if (saved[i].len > full)
				full = saved[i].len;
		}
	}
	tee = p->fh->tee;
	for (size_t n = 0; n <= full + 256; n++) {
		fl_agent_close(p->a);
		p->a = NULL;
		fl_fakehal_power_on(p->fh);
		/* the same phone each time: its secure hardware too */
		p->fh->tee = tee;
		for (size_t i = 0; i < FH_BLOBS; i++)
			if (saved[i].used)
				assert_int_equal(fl_fakehal_blob_set(
				                         p->fh, saved[i].name,
				                         saved[i].data,
				                         saved[i].len),
				                 0);
		p->srv->counter_seen = seen;
		assert_int_equal(fl_agent_open(&p->a, &p->hal, p->srv->root.pk),
		                 FL_OK);
		/* the counter's write goes through, the token's is cut */
		p->fh->cut_skip = 1;
		p->fh->cut_after = (long)n;
		assert_int_equal(fl_agent_checkin(p->a), FL_E_IO);
		assert_int_equal(fl_fakephone_reboot(p), FL_OK);
		assert_int_equal(status(p).counter, seen + 1);
		if (status(p).seq == 1) {
			n_old++;
			assert_false(screen(p).locked);
			assert_int_equal(p->fh->applied_mask, 0);
		} else {
			n_new++;
			assert_int_equal(status(p).seq, 2);
			assert_true(screen(p).locked);
			assert_int_equal(p->fh->applied_mask,
			                 FL_R_DEFAULT_LOCK);
		}
	}
	assert_true(n_old > full / 2);
	assert_true(n_new > 0);
	for (size_t i = 0; i < FH_BLOBS; i++)
		free(saved[i].data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_new_phone_waits_for_setup,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_enroll, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_enroll_wrong_code, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_enroll_answer_lost, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_mitm_enrollment, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_lock_and_unlock_online,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_refused_tokens, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_rotation_and_revocation,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_token_held,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_seq_reset, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_answers_verified, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_failures_change_nothing,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_counter_persisted_first,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_open_refuses, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_cut_token_write, setup,
	                                        teardown),
	};
	return cmocka_run_group_tests_name("agent", tests, NULL, NULL);
}
