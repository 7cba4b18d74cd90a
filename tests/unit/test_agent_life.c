/* Unit tests for the phone's life around the lock: release (with the signed
 * receipt), factory reset, reflash with lookup and re-enrollment by pairing
 * code, and SIM and tamper reports with each policy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/restrict.h"
#include "finlock/agent.h"
#include "support/agent_fakehal.h"
#include "support/agent_fakesrv.h"

static int setup(void **state)
{
	struct fl_fakephone *p = calloc(1, sizeof(*p));

	if (p == NULL || fl_fakephone_new(p) != FL_OK ||
	    fl_fakephone_enroll(p) != FL_OK)
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

static struct fl_agent_screen screen(struct fl_fakephone *p)
{
	struct fl_agent_screen s;
	fl_agent_screen(p->a, &s);
	return s;
}

static uint64_t status_seq(struct fl_fakephone *p)
{
	struct fl_agent_status st;
	fl_agent_status(p->a, &st);
	return st.seq;
}

static enum fl_agent_phase phase(struct fl_fakephone *p)
{
	return screen(p).phase;
}

static void lock(struct fl_fakephone *p)
{
	p->srv->claims.state = FL_ST_LOCKED;
	assert_int_equal(fl_fakesrv_issue(p->srv), FL_OK);
	assert_int_equal(fl_agent_checkin(p->a), FL_OK);
	assert_true(screen(p).locked);
	assert_int_equal(p->fh->applied_mask, FL_R_DEFAULT_LOCK);
}

static char *receipt_for(struct fl_fakephone *p, const char *device_id)
{
	struct fl_dp_receipt r = {0};
	char *json = NULL, *tok = NULL;

	strcpy(r.device_id, device_id);
	memcpy(r.imei, p->srv->imei, sizeof(r.imei));
	r.n_imei = p->srv->n_imei;
	r.loan_ref = (char *)"LN-0001";
	r.released_at = p->srv->now;
	assert_int_equal(fl_dp_receipt_encode(&r, &json), FL_OK);
	assert_int_equal(fl_msg_sign(&tok, &p->srv->signer,
	                             FL_MSG_RELEASE_RECEIPT, json,
	                             strlen(json)),
	                 FL_OK);
	free(json);
	return tok;
}

static void test_release(void **state)
{
	struct fl_fakephone *p = *state;
	char *got = NULL;

	lock(p);
	assert_int_equal(fl_agent_receipt(p->a, &got), FL_E_NOT_FOUND);
	assert_null(got);

	/* a receipt for another device is refused with the whole answer */
	p->srv->claims.state = FL_ST_RELEASED;
	p->srv->receipt = receipt_for(p, "dev_other");
	assert_int_equal(fl_fakesrv_issue(p->srv), FL_OK);
	assert_int_equal(fl_agent_checkin(p->a), FL_E_WRONG_SUBJECT);
	assert_true(screen(p).locked);

	free(p->srv->receipt);
	p->srv->receipt = receipt_for(p, "dev_test1");
	assert_int_equal(fl_agent_checkin(p->a), FL_OK);
	assert_int_equal(phase(p), FL_AGENT_RELEASED);
	assert_false(screen(p).locked);
	assert_true(screen(p).has_receipt);
	assert_int_equal(p->fh->applied_mask, 0);
	assert_int_equal(fl_agent_receipt(p->a, &got), FL_OK);
	assert_string_equal(got, p->srv->receipt);
	free(got);

	/* check-ins stop, and it is for good */
	assert_int_equal(fl_agent_next_delay(p->a), -1);
	assert_int_equal(fl_agent_checkin(p->a), FL_E_STATE);
	assert_int_equal(fl_agent_wait(p->a, 10), FL_E_STATE);
	p->fh->offline = true;
	fl_fakephone_advance(p, 400 * FL_DAY);
	assert_int_equal(fl_agent_tick(p->a), FL_OK);
	p->fh->tamper = FL_HAL_TAMPER_ROOTED;
	assert_int_equal(fl_agent_tick(p->a), FL_OK);
	assert_int_equal(fl_fakephone_reboot(p), FL_OK);
	assert_int_equal(phase(p), FL_AGENT_RELEASED);
	assert_false(screen(p).locked);
	assert_int_equal(p->fh->applied_mask, 0);
	assert_int_equal(fl_agent_receipt(p->a, &got), FL_OK);
	free(got);
}

static void test_factory_reset(void **state)
{
	struct fl_fakephone *p = *state;

	lock(p);
	/* a factory reset wipes user data, not the persistent partition */
	fl_agent_close(p->a);
	p->a = NULL;
	fl_fakehal_factory_reset(p->fh);
	assert_int_equal(p->fh->applied_mask, 0);
	p->fh->offline = true;
	assert_int_equal(fl_agent_open(&p->a, &p->hal, p->srv->root.pk), FL_OK);
	assert_int_equal(phase(p), FL_AGENT_ENROLLED);
	assert_true(screen(p).locked);
	assert_int_equal(p->fh->applied_mask, FL_R_DEFAULT_LOCK);
	assert_true(p->fh->screen.locked);
	assert_string_equal(p->fh->screen.loan_ref, "LN-0001");
	/* and it keeps checking in with the same keys */
	p->fh->offline = false;
	p->srv->claims.state = FL_ST_ACTIVE;
	assert_int_equal(fl_fakesrv_issue(p->srv), FL_OK);
	assert_int_equal(fl_agent_checkin(p->a), FL_OK);
	assert_false(screen(p).locked);
}

/* Captures lookup answers to replay one later. */
static char *kept;
static int replay_lookup;
static fl_err lookup_tap(void *ctx, const struct fl_hal_request *req,
                         struct fl_hal_response *resp)
{
	fl_err err = fl_fakesrv_handle(ctx, req, resp);

	if (err || strcmp(req->path, FL_DP_PATH_LOOKUP) != 0)
		return err;
	if (replay_lookup) {
		free(resp->body);
		return fl_fakehal_respond(resp, 200, kept);
	}
	free(kept);
	kept = strdup(resp->body);
	return FL_OK;
}

static void test_reflash_locked(void **state)
{
	struct fl_fakephone *p = *state;
	struct fl_agent_screen s;
	uint8_t old_pk[FL_SIGN_PK_LEN];
	char code[FL_DP_PAIRING_LEN + 1];

	lock(p);
	memcpy(old_pk, p->srv->dev_sign_pk, sizeof(old_pk));
	fl_agent_close(p->a);
	p->a = NULL;
	fl_fakehal_reflash(p->fh);
	assert_int_equal(fl_agent_open(&p->a, &p->hal, p->srv->root.pk), FL_OK);
	/* setup cannot complete offline: only the guaranteed capabilities */
	s = screen(p);
	assert_int_equal(s.phase, FL_AGENT_SETUP);
	assert_true(s.setup_pending);
	assert_int_equal(p->fh->applied_mask, FL_R_DEFAULT_LOCK);
	assert_int_equal(p->fh->applied_guaranteed, FL_G_ALL);
	p->fh->offline = true;
	assert_int_equal(fl_agent_setup(p->a), FL_E_NET);
	assert_int_equal(fl_agent_checkin(p->a), FL_E_NET);
	assert_int_equal(phase(p), FL_AGENT_SETUP);
	p->fh->offline = false;

	/* an old lookup answer replayed to a new request is refused */
	p->fh->server = lookup_tap;
	replay_lookup = 0;
	assert_int_equal(fl_agent_setup(p->a), FL_OK);
	fl_agent_close(p->a);
	p->a = NULL;
	fl_fakehal_reflash(p->fh);
	assert_int_equal(fl_agent_open(&p->a, &p->hal, p->srv->root.pk), FL_OK);
	replay_lookup = 1;
	assert_int_equal(fl_agent_setup(p->a), FL_E_AGENT_NONCE);
	assert_int_equal(phase(p), FL_AGENT_SETUP);
	replay_lookup = 0;
	free(kept);
	kept = NULL;

	/* the signed lookup says: enrolled before, locked */
	assert_int_equal(fl_agent_setup(p->a), FL_OK);
	s = screen(p);
	assert_int_equal(s.phase, FL_AGENT_PAIRING);
	assert_true(s.locked);
	assert_string_equal(s.message, FL_AGENT_LOCK_MESSAGE);
	assert_string_equal(s.lender_name, "Acme Finance");
	assert_int_equal(p->fh->applied_mask, FL_R_DEFAULT_LOCK);
	assert_int_equal(strlen(s.pairing_code), 19); /* 4 groups of 4 */

	/* re-enrollment waits for the lender to approve the pairing code */
	assert_int_equal(fl_agent_checkin(p->a), FL_E_AGENT_PENDING);
	assert_int_equal(fl_agent_next_delay(p->a), 10);
	assert_true(p->srv->pairing_pending);
	for (size_t i = 0, n = 0; i <= strlen(s.pairing_code); i++)
		if (s.pairing_code[i] != ' ')
			code[n++] = s.pairing_code[i];
	assert_string_equal(code, p->srv->pairing_code);
	/* still locked through a reboot while waiting */
	assert_int_equal(fl_fakephone_reboot(p), FL_OK);
	assert_true(screen(p).locked);
	assert_int_equal(p->fh->applied_mask, FL_R_DEFAULT_LOCK);
	assert_int_equal(fl_agent_enroll(p->a, NULL), FL_E_AGENT_PENDING);
	assert_string_equal(screen(p).pairing_code, s.pairing_code);

	/* approved: new keys, same contract, still locked */
	p->srv->pairing_approved = true;
	assert_int_equal(fl_agent_checkin(p->a), FL_OK);
	s = screen(p);
	assert_int_equal(s.phase, FL_AGENT_ENROLLED);
	assert_true(s.locked);
	assert_string_equal(s.pairing_code, "");
	assert_memory_not_equal(old_pk, p->srv->dev_sign_pk, sizeof(old_pk));
	assert_int_equal(fl_agent_checkin(p->a), FL_OK);
	/* and a payment unlocks it as before */
	p->srv->claims.state = FL_ST_ACTIVE;
	assert_int_equal(fl_fakesrv_issue(p->srv), FL_OK);
	assert_int_equal(fl_agent_wait(p->a, 30), FL_OK);
	assert_false(screen(p).locked);
}

static void test_reflash_clerk_code(void **state)
{
	struct fl_fakephone *p = *state;

	fl_agent_close(p->a);
	p->a = NULL;
	fl_fakehal_reflash(p->fh);
	assert_int_equal(fl_agent_open(&p->a, &p->hal, p->srv->root.pk), FL_OK);
	assert_int_equal(fl_agent_setup(p->a), FL_OK);
	assert_int_equal(phase(p), FL_AGENT_PAIRING);
	assert_false(screen(p).locked);
	/* a clerk's new one-time code works instead of the pairing code */
	fl_fakesrv_register(p->srv, "CLERK-2", p->fh->dev.imei[0],
	                    p->fh->dev.imei[1]);
	assert_int_equal(fl_agent_enroll(p->a, "CLERK-2"), FL_OK);
	assert_int_equal(phase(p), FL_AGENT_ENROLLED);
	assert_int_equal(fl_agent_checkin(p->a), FL_OK);
}

static void test_reflash_not_financed(void **state)
{
	struct fl_fakephone *p = *state;

	/* paid off and released, then reflashed: nothing to enforce */
	p->srv->claims.state = FL_ST_RELEASED;
	assert_int_equal(fl_fakesrv_issue(p->srv), FL_OK);
	assert_int_equal(fl_agent_checkin(p->a), FL_OK);
	fl_agent_close(p->a);
	p->a = NULL;
	fl_fakehal_reflash(p->fh);
	assert_int_equal(fl_agent_open(&p->a, &p->hal, p->srv->root.pk), FL_OK);
	assert_int_equal(fl_agent_setup(p->a), FL_OK);
	assert_int_equal(phase(p), FL_AGENT_IDLE);
	assert_false(screen(p).locked);
	assert_int_equal(p->fh->applied_mask, 0);

	/* a phone in no program at all */
	p->srv->registered = false;
	fl_agent_close(p->a);
	p->a = NULL;
	fl_fakehal_reflash(p->fh);
	assert_int_equal(fl_agent_open(&p->a, &p->hal, p->srv->root.pk), FL_OK);
	assert_int_equal(fl_agent_setup(p->a), FL_OK);
	assert_int_equal(phase(p), FL_AGENT_IDLE);
	assert_int_equal(p->fh->applied_mask, 0);
}

static void policies(struct fl_fakephone *p, enum fl_reaction sim,
                     enum fl_reaction tamper)
{
	p->srv->claims.sim_policy = sim;
	p->srv->claims.tamper_policy = tamper;
	assert_int_equal(fl_fakesrv_issue(p->srv), FL_OK);
	assert_int_equal(fl_agent_checkin(p->a), FL_OK);
}

static void test_tamper(void **state)
{
	struct fl_fakephone *p = *state;
	size_t notices;

	/* none: reported, nothing shown */
	policies(p, FL_REACT_NONE, FL_REACT_NONE);
	p->fh->offline = true;
	p->fh->tamper = FL_HAL_TAMPER_BOOTLOADER;
	notices = p->fh->n_notices;
	assert_int_equal(fl_agent_tick(p->a), FL_OK);
	assert_int_equal(p->fh->n_notices, notices);
	assert_false(screen(p).locked);
	p->fh->offline = false;
	/* a wait turns into a check-in while a report is pending */
	assert_int_equal(fl_agent_wait(p->a, 30), FL_OK);
	assert_int_equal(p->srv->last_report.tamper, FL_HAL_TAMPER_BOOTLOADER);
	assert_int_equal(fl_agent_checkin(p->a), FL_OK);
	assert_int_equal(p->srv->last_report.tamper, 0); /* reported once */

	/* lock: locked at once, offline, until the server has decided */
	policies(p, FL_REACT_NONE, FL_REACT_LOCK);
	p->fh->offline = true;
	p->fh->tamper |= FL_HAL_TAMPER_ROOTED;
	fl_fakephone_advance(p, 60);
	assert_int_equal(fl_agent_tick(p->a), FL_OK);
	assert_true(screen(p).locked);
	assert_int_equal(screen(p).lock_reason, FL_AGENT_LOCK_TAMPER);
	assert_non_null(strstr(screen(p).message, "software"));
	assert_int_equal(p->fh->applied_mask, FL_R_DEFAULT_LOCK);
	assert_true(p->fh->n_notices > notices);
	assert_int_equal(fl_fakephone_reboot(p), FL_OK);
	assert_true(screen(p).locked);
	/* the report reaches the server, which issues a new token */
	p->fh->offline = false;
	fl_fakephone_advance(p, 60);
	assert_int_equal(fl_agent_checkin(p->a), FL_OK);
	assert_int_equal(p->srv->last_report.tamper, FL_HAL_TAMPER_ROOTED);
	assert_false(screen(p).locked);
	assert_int_equal(screen(p).lock_reason, FL_AGENT_LOCK_NONE);
	assert_int_equal(p->fh->applied_mask, 0);
}

static void test_sim_change(void **state)
{
	struct fl_fakephone *p = *state;
	size_t notices;

	/* notify: a notice on the phone, reported at the next check-in */
	policies(p, FL_REACT_NOTIFY, FL_REACT_NONE);
	notices = p->fh->n_notices;
	p->fh->offline = true;
	strcpy(p->fh->iccid, "8925402000000000099");
	assert_int_equal(fl_agent_tick(p->a), FL_OK);
	assert_int_equal(p->fh->n_notices, notices + 1);
	assert_false(screen(p).locked);
	/* a phone without a SIM is not a change */
	p->fh->iccid[0] = '\0';
	assert_int_equal(fl_agent_tick(p->a), FL_OK);
	assert_int_equal(p->fh->n_notices, notices + 1);
	strcpy(p->fh->iccid, "8925402000000000099");
	p->fh->offline = false;
	assert_int_equal(fl_agent_checkin(p->a), FL_OK);
	assert_true(p->srv->last_report.sim_changed);
	assert_string_equal(p->srv->last_report.iccid, "8925402000000000099");
	assert_int_equal(fl_agent_checkin(p->a), FL_OK);
	assert_false(p->srv->last_report.sim_changed);

	/* lock: locked until the server has decided on the report */
	policies(p, FL_REACT_LOCK, FL_REACT_NONE);
	/* a token the server signed before the change, not fetched yet */
	assert_int_equal(fl_fakesrv_issue(p->srv), FL_OK);
	p->fh->offline = true;
	fl_fakephone_advance(p, 60);
	assert_int_equal(fl_agent_report_sim(p->a, "8925402000000000123"),
	                 FL_OK);
	assert_true(screen(p).locked);
	assert_int_equal(screen(p).lock_reason, FL_AGENT_LOCK_SIM);
	assert_non_null(strstr(screen(p).message, "SIM"));
	/* the server does not issue a new token; the one it sends predates
	 * the change: the lock stays */
	p->fh->offline = false;
	p->srv->reissue_on_report = false;
	fl_fakephone_advance(p, 60);
	assert_int_equal(fl_agent_checkin(p->a), FL_OK);
	assert_true(screen(p).locked);
	assert_int_equal(p->srv->last_report.sim_changed, true);
	assert_int_equal(status_seq(p), p->srv->seq);
	/* the server's decision: locked too (by its own policy), then lifted */
	p->srv->claims.state = FL_ST_LOCKED;
	assert_int_equal(fl_fakesrv_issue(p->srv), FL_OK);
	assert_int_equal(fl_agent_checkin(p->a), FL_OK);
	assert_string_equal(screen(p).message, FL_AGENT_LOCK_MESSAGE);
	assert_int_equal(screen(p).lock_reason, FL_AGENT_LOCK_PAYMENT);
	p->srv->claims.state = FL_ST_ACTIVE;
	assert_int_equal(fl_fakesrv_issue(p->srv), FL_OK);
	assert_int_equal(fl_agent_checkin(p->a), FL_OK);
	assert_false(screen(p).locked);
	/* malformed ICCIDs are refused */
	assert_int_equal(fl_agent_report_sim(p->a, "12ab"), FL_E_INVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_release, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_factory_reset, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_reflash_locked, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_reflash_clerk_code, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_reflash_not_financed,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_tamper, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_sim_change, setup,
	                                        teardown),
	};
	return cmocka_run_group_tests_name("agent_life", tests, NULL, NULL);
}
