/* Allocation failure, injected at every allocation in turn (the fault
 * injection of STYLE.md, after SQLite's test_malloc.c).
 *
 * This program is linked with --wrap for malloc, calloc, realloc, strdup
 * and strndup (Makefile: LDFLAGS_test_alloc_fail), so every allocation
 * finlock's core and agent code makes goes through fa_fail_now. jansson's
 * own allocations are left alone: its parser ignores a failed append while
 * it reads a string (lex_save in jansson 2.14) and returns the string one
 * character short, which no caller can detect. Each scenario runs once with no
 * failure to count its allocations, then once per allocation with exactly that
 * one failing. Every run must end in an error or in the result of a clean run -
 * never a crash, a leak (LeakSanitizer checks at exit), an output left
 * half-filled or, for the agent, a state a later clean run or a reboot cannot
 * recover from. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/devproto.h"
#include "core/fltime.h"
#include "core/ocode.h"
#include "core/token.h"
#include "finlock/agent.h"
#include "support/agent_fakehal.h"
#include "support/agent_fakesrv.h"

/* --- the failing allocator ---------------------------------------------------
 */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);

static bool fa_armed;   /* counting allocations */
static long fa_fail_at; /* the allocation that fails (1-based), 0: none */
static long fa_count;   /* allocations since armed */
static bool fa_failed;  /* the failure happened */

static void fa_arm(long fail_at)
{
	fa_armed = true;
	fa_fail_at = fail_at;
	fa_count = 0;
	fa_failed = false;
}

static void fa_disarm(void)
{
	fa_armed = false;
}

/* A scenario's setup runs with injection paused (fa_pause returns the
 * failure point armed); the operation under test then runs armed from a
 * count of zero (fa_resume), and what follows it unarmed again. */
static long fa_pause(void)
{
	fa_armed = false;
	return fa_fail_at;
}

static void fa_resume(long fail_at)
{
	fa_arm(fail_at);
}

static bool fa_fail_now(void)
{
	if (!fa_armed)
		return false;
	if (++fa_count != fa_fail_at)
		return false;
	fa_failed = true;
	return true;
}

void *__wrap_malloc(size_t n)
{
	return fa_fail_now() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
	return fa_fail_now() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
	return fa_fail_now() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
	return fa_fail_now() ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
	return fa_fail_now() ? NULL : __real_strndup(s, n);
}

/* A scenario: runs the operation once (fail_at as armed), checks its
 * outcome itself, and says whether it succeeded. */
typedef bool (*scenario_fn)(void *ctx);

/* Runs fn clean to count its allocations, then once per allocation with
 * that one failing; at least one failure must have been refused. Returns
 * the number of allocations of the clean run. */
static long every_failure(scenario_fn fn, void *ctx)
{
	long total, refused = 0;

	fa_arm(0);
	assert_true(fn(ctx));
	total = fa_count;
	fa_disarm();
	for (long n = 1; n <= total; n++) {
		bool ok;

		fa_arm(n);
		ok = fn(ctx);
		fa_disarm();
		if (fa_failed && !ok)
			refused++;
	}
	assert_true(total == 0 || refused > 0);
	return total;
}

/* --- core --------------------------------------------------------------------
 */

struct core_ctx {
	struct fl_fakesrv *srv;
	struct fl_trust *trust;
	char *token; /* a device token of srv */
	char *claims_json;
};

static int core_setup(void **state)
{
	struct core_ctx *c = __real_calloc(1, sizeof(*c));
	uint8_t root_pk[FL_SIGN_PK_LEN];

	if (c == NULL || fl_crypto_init() != FL_OK)
		return -1;
	c->srv = fl_fakesrv_new(1790000000);
	if (c->srv == NULL)
		return -1;
	fl_fakesrv_register(c->srv, "CODE-1", "490154203237518", NULL);
	snprintf(c->srv->device_id, sizeof(c->srv->device_id), "%s",
	         "dev_0123456789abcdef");
	if (fl_fakesrv_issue(c->srv) != FL_OK)
		return -1;
	c->token = c->srv->token;
	c->claims_json = c->srv->token_claims;
	memcpy(root_pk, c->srv->root.pk, sizeof(root_pk));
	if (fl_trust_new(&c->trust, root_pk) != FL_OK ||
	    fl_trust_add_cert(c->trust, c->srv->cert, c->srv->now, NULL) !=
	            FL_OK)
		return -1;
	*state = c;
	return 0;
}

static int core_teardown(void **state)
{
	struct core_ctx *c = *state;

	fl_trust_free(c->trust);
	fl_fakesrv_free(c->srv);
	free(c);
	return 0;
}

static bool claims_zero(const struct fl_device_claims *c)
{
	static const struct fl_device_claims zero;

	return memcmp(c, &zero, sizeof(zero)) == 0;
}

static bool verify_token(void *ctx)
{
	struct core_ctx *c = ctx;
	struct fl_claims_expect e = {
	        .device_id = c->srv->claims.sub,
	        .imei = "490154203237518",
	        .last_seq = 0,
	        .now = c->srv->now,
	        .skew = 300,
	};
	struct fl_device_claims got;
	fl_err err = fl_device_token_verify(c->trust, c->token, &e, &got);

	if (err != FL_OK) {
		assert_true(claims_zero(&got));
		return false;
	}
	assert_string_equal(got.sub, c->srv->claims.sub);
	assert_int_equal(got.seq, c->srv->seq);
	assert_string_equal(got.loan_ref, "LN-0001");
	fl_claims_clear(&got);
	return true;
}

static void test_token_verify(void **state)
{
	assert_true(every_failure(verify_token, *state) > 0);
}

static bool claims_round_trip(void *ctx)
{
	struct core_ctx *c = ctx;
	struct fl_device_claims got;
	char *again = NULL;
	fl_err err;

	err = fl_claims_decode(c->claims_json, strlen(c->claims_json), &got);
	if (err != FL_OK) {
		assert_true(claims_zero(&got));
		return false;
	}
	err = fl_claims_encode(&got, &again);
	fl_claims_clear(&got);
	if (err != FL_OK) {
		assert_null(again);
		return false;
	}
	assert_string_equal(again, c->claims_json);
	free(again);
	return true;
}

static void test_claims(void **state)
{
	assert_true(every_failure(claims_round_trip, *state) > 0);
}

static bool sign_message(void *ctx)
{
	struct core_ctx *c = ctx;
	char *tok = NULL;
	char *payload = NULL;
	size_t len = 0;
	fl_err err;

	err = fl_msg_sign(&tok, &c->srv->signer, FL_MSG_DEVICE_TOKEN,
	                  c->claims_json, strlen(c->claims_json));
	if (err != FL_OK) {
		assert_null(tok);
		return false;
	}
	err = fl_trust_verify(c->trust, FL_MSG_DEVICE_TOKEN, tok, c->srv->now,
	                      &payload, &len);
	free(tok);
	if (err != FL_OK) {
		assert_null(payload);
		return false;
	}
	assert_int_equal(len, strlen(c->claims_json));
	assert_memory_equal(payload, c->claims_json, len);
	free(payload);
	return true;
}

static void test_sign_and_verify(void **state)
{
	assert_true(every_failure(sign_message, *state) > 0);
}

static bool answer_round_trip(void *ctx)
{
	struct core_ctx *c = ctx;
	struct fl_dp_checkin_answer a, got;
	char *json = NULL;
	fl_err err;

	memset(&a, 0, sizeof(a));
	a.time = c->srv->now;
	a.next_checkin = 3600;
	a.token = c->token;
	a.keys.certs[0] = c->srv->cert;
	a.keys.n_certs = 1;
	memset(a.mac, 0x5a, sizeof(a.mac));
	err = fl_dp_checkin_answer_encode(&a, &json);
	if (err != FL_OK) {
		assert_null(json);
		return false;
	}
	err = fl_dp_checkin_answer_decode(json, strlen(json), &got);
	free(json);
	if (err != FL_OK) {
		assert_null(got.token);
		assert_int_equal(got.keys.n_certs, 0);
		return false;
	}
	assert_int_equal(got.time, a.time);
	assert_string_equal(got.token, c->token);
	assert_int_equal(got.keys.n_certs, 1);
	assert_string_equal(got.keys.certs[0], c->srv->cert);
	assert_memory_equal(got.mac, a.mac, sizeof(a.mac));
	fl_dp_checkin_answer_clear(&got);
	return true;
}

static void test_checkin_answer(void **state)
{
	assert_true(every_failure(answer_round_trip, *state) > 0);
}

/* --- the agent ---------------------------------------------------------------
 */

/* The fake lender's own allocations are not the phone's: the transport
 * runs them with injection paused. */
static fl_err server_unarmed(void *ctx, const struct fl_hal_request *req,
                             struct fl_hal_response *resp)
{
	bool was = fa_armed;
	fl_err err;

	fa_armed = false;
	err = fl_fakesrv_handle(ctx, req, resp);
	fa_armed = was;
	return err;
}

struct agent_ctx {
	struct fl_fakephone p;
};

static struct agent_ctx *agent_new(bool enroll)
{
	struct agent_ctx *c = __real_calloc(1, sizeof(*c));

	assert_non_null(c);
	assert_int_equal(fl_fakephone_new(&c->p), FL_OK);
	c->p.fh->server = server_unarmed;
	c->p.fh->server_ctx = c->p.srv;
	if (enroll)
		assert_int_equal(fl_fakephone_enroll(&c->p), FL_OK);
	return c;
}

static void agent_free(struct agent_ctx *c)
{
	fl_fakephone_free(&c->p);
	free(c);
}

static struct fl_agent_status agent_status(struct agent_ctx *c)
{
	struct fl_agent_status st;

	fl_agent_status(c->p.a, &st);
	return st;
}

static bool agent_locked(struct agent_ctx *c)
{
	struct fl_agent_screen s;

	fl_agent_screen(c->p.a, &s);
	return s.locked;
}

/* One check-in that brings a lock; on failure nothing the phone holds
 * moved, a clean check-in then brings the lock, and a reboot keeps it. */
static bool agent_checkin_lock(void *ctx)
{
	long fail_at = fa_pause();
	struct agent_ctx *fresh = agent_new(true);
	struct fl_agent_status before;
	fl_err err;

	(void)ctx;
	fresh->p.srv->claims.state = FL_ST_LOCKED;
	fresh->p.srv->claims.amount_due = 4500;
	assert_int_equal(fl_fakesrv_issue(fresh->p.srv), FL_OK);
	before = agent_status(fresh);
	assert_false(agent_locked(fresh));

	fa_resume(fail_at);
	err = fl_agent_checkin(fresh->p.a);
	fa_armed = false;
	if (err != FL_OK) {
		assert_int_equal(agent_status(fresh).seq, before.seq);
		assert_false(agent_locked(fresh));
		assert_int_equal(fl_agent_checkin(fresh->p.a), FL_OK);
	}
	assert_true(agent_locked(fresh));
	assert_int_equal(agent_status(fresh).seq, fresh->p.srv->seq);
	assert_int_equal(fl_fakephone_reboot(&fresh->p), FL_OK);
	assert_true(agent_locked(fresh));
	assert_int_equal(agent_status(fresh).seq, fresh->p.srv->seq);
	agent_free(fresh);
	return err == FL_OK;
}

static void test_agent_checkin(void **state)
{
	(void)state;
	assert_true(every_failure(agent_checkin_lock, NULL) > 0);
}

/* Opening the agent over a locked phone's partition: a failed open
 * leaves the partition as it was; the next open finds the lock. */
static bool agent_reopen(void *ctx)
{
	long fail_at = fa_pause();
	struct agent_ctx *c = agent_new(true);
	fl_err err;

	(void)ctx;
	c->p.srv->claims.state = FL_ST_LOCKED;
	assert_int_equal(fl_fakesrv_issue(c->p.srv), FL_OK);
	assert_int_equal(fl_agent_checkin(c->p.a), FL_OK);
	fa_resume(fail_at);
	err = fl_fakephone_reboot(&c->p);
	fa_armed = false;
	if (err != FL_OK) {
		assert_null(c->p.a);
		assert_int_equal(fl_fakephone_reboot(&c->p), FL_OK);
	}
	assert_true(agent_locked(c));
	assert_int_equal(agent_status(c).seq, c->p.srv->seq);
	agent_free(c);
	return err == FL_OK;
}

static void test_agent_reopen(void **state)
{
	(void)state;
	assert_true(every_failure(agent_reopen, NULL) > 0);
}

/* Setup and enrollment: a failure anywhere leaves a phone that enrolls
 * when tried again. */
static bool agent_enroll(void *ctx)
{
	long fail_at = fa_pause();
	struct agent_ctx *c = agent_new(false);
	fl_err err;

	(void)ctx;
	fa_resume(fail_at);
	err = fl_fakephone_enroll(&c->p);
	fa_armed = false;
	if (err != FL_OK)
		assert_int_equal(fl_fakephone_enroll(&c->p), FL_OK);
	assert_int_equal(agent_status(c).phase, FL_AGENT_ENROLLED);
	assert_int_equal(fl_agent_checkin(c->p.a), FL_OK);
	agent_free(c);
	return err == FL_OK;
}

static void test_agent_enroll(void **state)
{
	(void)state;
	assert_true(every_failure(agent_enroll, NULL) > 0);
}

/* A new signing key and the old one's revocation arrive in one answer:
 * on failure the phone keeps its old trust and token; retried clean it
 * takes both, and they survive a reboot. */
static bool agent_rotate(void *ctx)
{
	long fail_at = fa_pause();
	struct agent_ctx *c = agent_new(true);
	struct fl_signer old = c->p.srv->signer;
	fl_err err;

	(void)ctx;
	assert_int_equal(
	        fl_fakesrv_rotate(c->p.srv, c->p.srv->now + 90 * FL_DAY),
	        FL_OK);
	assert_int_equal(fl_fakesrv_revoke(c->p.srv, old.kid), FL_OK);
	c->p.srv->claims.state = FL_ST_LOCKED;
	assert_int_equal(fl_fakesrv_issue(c->p.srv), FL_OK);
	fa_resume(fail_at);
	err = fl_agent_checkin(c->p.a);
	fa_armed = false;
	if (err != FL_OK) {
		assert_int_equal(agent_status(c).seq, 1);
		assert_false(agent_locked(c));
		assert_int_equal(fl_agent_checkin(c->p.a), FL_OK);
	}
	assert_int_equal(fl_fakephone_reboot(&c->p), FL_OK);
	assert_true(agent_locked(c));
	assert_int_equal(agent_status(c).seq, c->p.srv->seq);
	fl_signer_wipe(&old);
	agent_free(c);
	return err == FL_OK;
}

static void test_agent_rotate(void **state)
{
	(void)state;
	assert_true(every_failure(agent_rotate, NULL) > 0);
}

/* An offline unlock code typed on a locked phone: on failure the phone
 * stays locked and the code stays good; typed again it unlocks, for good
 * across a reboot. */
static bool agent_code(void *ctx)
{
	long fail_at = fa_pause();
	struct agent_ctx *c = agent_new(true);
	struct fl_agent_status st;
	char code[FL_OCODE_LEN + 1];
	fl_err err;

	(void)ctx;
	c->p.srv->claims.state = FL_ST_LOCKED;
	assert_int_equal(fl_fakesrv_issue(c->p.srv), FL_OK);
	assert_int_equal(fl_agent_checkin(c->p.a), FL_OK);
	assert_true(agent_locked(c));
	st = agent_status(c);
	assert_int_equal(fl_fakesrv_ocode(c->p.srv, 1, FL_OCODE_RELEASE,
	                                  fl_time_day(st.trusted_time, 0),
	                                  code),
	                 FL_OK);
	fa_resume(fail_at);
	err = fl_agent_enter_code(c->p.a, code);
	fa_armed = false;
	if (err != FL_OK && agent_status(c).code_counter == 0) {
		/* the secure hardware never took it: still locked, and the
		 * code works when typed again */
		assert_true(agent_locked(c));
		assert_int_equal(fl_agent_enter_code(c->p.a, code), FL_OK);
	}
	/* once the secure hardware took it the phone is released, even if
	 * the state write that records it failed */
	assert_false(agent_locked(c));
	assert_int_equal(fl_fakephone_reboot(&c->p), FL_OK);
	assert_false(agent_locked(c));
	assert_int_equal(agent_status(c).phase, FL_AGENT_RELEASED);
	assert_int_equal(agent_status(c).code_counter, 1);
	agent_free(c);
	return err == FL_OK;
}

static void test_agent_code(void **state)
{
	(void)state;
	assert_true(every_failure(agent_code, NULL) > 0);
}

int main(void)
{
	const struct CMUnitTest core[] = {
	        cmocka_unit_test(test_token_verify),
	        cmocka_unit_test(test_claims),
	        cmocka_unit_test(test_sign_and_verify),
	        cmocka_unit_test(test_checkin_answer),
	};
	const struct CMUnitTest agent[] = {
	        cmocka_unit_test(test_agent_checkin),
	        cmocka_unit_test(test_agent_reopen),
	        cmocka_unit_test(test_agent_enroll),
	        cmocka_unit_test(test_agent_rotate),
	        cmocka_unit_test(test_agent_code),
	};
	int failed;

	failed = cmocka_run_group_tests(core, core_setup, core_teardown);
	failed += cmocka_run_group_tests(agent, NULL, NULL);
	return failed;
}
