/*
 * Unit tests for the transaction runner and the rules it runs, without a
 * socket: a transaction the store gives up (FL_E_STORE_RETRY, injected by
 * tests/support/store_faulty) is run again whole and leaves no trace of
 * the attempts given up (one payment, one audit entry); retries are
 * bounded; an unreachable database is reported, not retried for ever.
 * The payment rules (payments.h) and the offline-code rules (offcode.h)
 * are checked as functions of (transaction, input, now).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/crypto.h"
#include "core/ocode.h"
#include "server/app.h"
#include "server/audit.h"
#include "server/decide.h"
#include "server/http.h"
#include "server/txn.h"
#include "server/log.h"
#include "server/offcode.h"
#include "server/payments.h"
#include "server/run.h"
#include "store/store.h"
#include "support/store_faulty.h"

#define T0 ((fl_time)1800000000) /* 2027-01-15T08:00:00Z */

struct fx {
	char dir[64];
	struct fl_store *st;
	uint8_t kx_pk[FL_KX_PK_LEN], kx_sk[FL_KX_SK_LEN]; /* the server's */
};

static bool wrapped;

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char path[128];

	if (f == NULL || fl_crypto_init() != FL_OK)
		return -1;
	fl_log_init(stderr, FL_LOG_ERROR);
	snprintf(f->dir, sizeof(f->dir), "/tmp/finlock-run-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/finlock.db", f->dir);
	if (fl_store_open_sqlite(&f->st, path, NULL) != FL_OK)
		return -1;
	/* the fault injector wraps one store per process: a fresh one per
	 * test gets its table pointed at the copy again */
	fl_faulty_wrap(f->st);
	wrapped = true;
	fl_faulty_fail_commits(0);
	fl_faulty_fail_locks(0);
	fl_faulty_unavailable(false);
	fl_kx_keypair(f->kx_pk, f->kx_sk);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	fl_faulty_fail_commits(0);
	fl_faulty_fail_locks(0);
	fl_faulty_unavailable(false);
	fl_store_close(f->st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

/* Device dv_1 of tn_1, two installments of 1000 (T0 + 10 d, T0 + 40 d),
 * enrolled with the phone key-exchange key phone_kx when enrolled. */
static void make_device(struct fx *f, bool enrolled)
{
	struct fl_device d;
	struct fl_contract_rec c;
	struct fl_installment items[2] = {{T0 + 10 * FL_DAY, 1000},
	                                  {T0 + 40 * FL_DAY, 1000}};
	uint8_t pk[32] = {1}, kx[FL_KX_PK_LEN], kx_sk[FL_KX_SK_LEN];
	struct fl_tx *tx = NULL;

	fl_kx_keypair(kx, kx_sk);
	assert_int_equal(fl_store_begin(f->st, true, &tx), FL_OK);
	memset(&d, 0, sizeof(d));
	snprintf(d.id, sizeof(d.id), "dv_1");
	snprintf(d.tenant_id, sizeof(d.tenant_id), "tn_1");
	snprintf(d.imei, sizeof(d.imei), "490154203237518");
	snprintf(d.serial, sizeof(d.serial), "SN");
	d.created_at = T0;
	assert_int_equal(fl_store_device_insert(tx, &d), FL_OK);
	if (enrolled)
		assert_int_equal(fl_store_device_enroll(tx, "dv_1", pk, kx, T0),
		                 FL_OK);
	memset(&c, 0, sizeof(c));
	snprintf(c.device_id, sizeof(c.device_id), "dv_1");
	snprintf(c.tenant_id, sizeof(c.tenant_id), "tn_1");
	memcpy(c.currency, "KES", 4);
	c.grace = 2 * FL_DAY;
	c.schedule = items;
	c.n_schedule = 2;
	c.created_at = T0;
	assert_int_equal(fl_store_contract_insert(tx, &c), FL_OK);
	assert_int_equal(
	        fl_decide_device(tx, "tn_1", "dv_1", T0, false, NULL, NULL),
	        FL_OK);
	assert_int_equal(fl_tx_commit(tx), FL_OK);
}

static fl_err count_one(void *ctx, const struct fl_audit_entry *e)
{
	(void)e;
	(*(int *)ctx)++;
	return FL_OK;
}

/* Audit entries of tn_1 with this action. */
static int audits(struct fx *f, const char *action)
{
	struct fl_audit_filter flt = {.action = action};
	struct fl_tx *tx = NULL;
	int n = 0;

	assert_int_equal(fl_store_begin(f->st, false, &tx), FL_OK);
	assert_int_equal(fl_store_audit_list(tx, "tn_1", 0, -1, &flt,
	                                     count_one, &n),
	                 FL_OK);
	fl_tx_rollback(tx);
	return n;
}

static fl_err count_pay(void *ctx, const struct fl_payment_rec *p)
{
	(void)p;
	(*(int *)ctx)++;
	return FL_OK;
}

static int payments(struct fx *f)
{
	struct fl_tx *tx = NULL;
	int n = 0;

	assert_int_equal(fl_store_begin(f->st, false, &tx), FL_OK);
	assert_int_equal(fl_store_payment_list(tx, "tn_1", "dv_1", 0, 1000,
	                                       count_pay, &n),
	                 FL_OK);
	fl_tx_rollback(tx);
	return n;
}

/* --- the runner ------------------------------------------------------------
 */

struct pay_io {
	struct fl_pay_input in;
	struct fl_pay_result out;
	int calls; /* attempts that reached the rules */
};

static fl_err pay_fn(struct fl_tx *tx, void *arg, fl_time now)
{
	struct pay_io *io = arg;

	io->calls++;
	return fl_pay_record(tx, &io->in, now, &io->out);
}

static void pay_input(struct pay_io *io, int64_t amount, const char *ref)
{
	memset(io, 0, sizeof(*io));
	snprintf(io->in.tenant_id, sizeof(io->in.tenant_id), "tn_1");
	snprintf(io->in.device_id, sizeof(io->in.device_id), "dv_1");
	snprintf(io->in.actor, sizeof(io->in.actor), "ak_1");
	snprintf(io->in.reference, sizeof(io->in.reference), "%s", ref);
	io->in.amount = amount;
}

static void test_retry_commits(void **state)
{
	struct fx *f = *state;
	struct pay_io io;
	int attempts = 0;

	make_device(f, true);
	pay_input(&io, 400, "R-1");
	/* two attempts given up at their commit, the third goes through */
	fl_faulty_fail_commits(2);
	assert_int_equal(fl_run(f->st, T0 + 1, 0, pay_fn, &io, &attempts),
	                 FL_OK);
	assert_int_equal(attempts, 3);
	assert_int_equal(io.calls, 3);
	/* one payment and one audit entry: nothing of the attempts given
	 * up remains */
	assert_int_equal(payments(f), 1);
	assert_int_equal(audits(f, "payment.record"), 1);
	assert_int_equal(io.out.payment.amount, 400);
	assert_int_equal(io.out.payment.recorded_at, T0 + 1);
	assert_int_equal(io.out.device.st.amount_remaining, 1600);
}

static void test_retry_mid_work(void **state)
{
	struct fx *f = *state;
	struct pay_io io;
	int attempts = 0;

	make_device(f, true);
	pay_input(&io, 300, "");
	/* the device lock itself given up (a deadlock broken) */
	fl_faulty_fail_locks(1);
	assert_int_equal(fl_run(f->st, T0, 0, pay_fn, &io, &attempts), FL_OK);
	assert_int_equal(attempts, 2);
	assert_int_equal(payments(f), 1);
	assert_int_equal(audits(f, "payment.record"), 1);
}

static void test_retry_bounded(void **state)
{
	struct fx *f = *state;
	struct pay_io io;
	int attempts = 0;

	make_device(f, true);
	pay_input(&io, 300, "");
	fl_faulty_fail_commits(1000);
	assert_int_equal(fl_run(f->st, T0, 0, pay_fn, &io, &attempts),
	                 FL_E_STORE_RETRY);
	assert_int_equal(attempts, FL_RUN_ATTEMPTS);
	fl_faulty_fail_commits(0);
	assert_int_equal(payments(f), 0);
	assert_int_equal(audits(f, "payment.record"), 0);
	assert_true(fl_run_unavailable(FL_E_STORE_RETRY));
}

static void test_unavailable_not_retried(void **state)
{
	struct fx *f = *state;
	struct pay_io io;
	int attempts = 0;

	make_device(f, true);
	pay_input(&io, 300, "");
	fl_faulty_unavailable(true);
	assert_int_equal(fl_run(f->st, T0, 0, pay_fn, &io, &attempts),
	                 FL_E_STORE_UNAVAILABLE);
	assert_int_equal(attempts, 1);
	assert_int_equal(io.calls, 0);
	fl_faulty_unavailable(false);
	assert_true(fl_run_unavailable(FL_E_STORE_UNAVAILABLE));
	assert_true(fl_run_unavailable(FL_E_STORE_BUSY));
	assert_false(fl_run_unavailable(FL_E_MONEY));
}

/* A refusal is returned as it is, once, and rolls back. */
static void test_refusal_not_retried(void **state)
{
	struct fx *f = *state;
	struct pay_io io;
	int attempts = 0;

	make_device(f, true);
	pay_input(&io, 5000, "");
	assert_int_equal(fl_run(f->st, T0, 0, pay_fn, &io, &attempts),
	                 FL_E_MONEY);
	assert_int_equal(attempts, 1);
	assert_non_null(strstr(io.out.msg, "2000 that remains"));
	assert_int_equal(payments(f), 0);
}

/* --- a request's answer ------------------------------------------------------
 */

/* A step that answers which attempt it is and audits it. */
static fl_err answer_step(struct fl_tx *tx, struct fl_req *req, void *ctx)
{
	int *calls = ctx;
	fl_err err;

	(*calls)++;
	err = fl_audit_append(tx, "tn_1", "ak_1", req->now, "test.step", "",
	                      NULL, json_pack("{s:i}", "attempt", *calls));
	if (err != FL_OK)
		return err;
	fl_reply_json(req, 201, json_pack("{s:i}", "attempt", *calls));
	if (*calls == 1)
		fl_reply_header(req, "X-First-Attempt", "yes");
	return FL_OK;
}

static void test_request_answer_after_commit(void **state)
{
	struct fx *f = *state;
	struct fl_app app;
	struct fl_req req;
	int calls = 0;

	memset(&app, 0, sizeof(app));
	memset(&req, 0, sizeof(req));
	app.store = f->st;
	req.app = &app;
	req.method = "POST";
	req.path = "/v1/test";
	req.body = "";
	req.now = T0;
	snprintf(req.who.tenant_id, sizeof(req.who.tenant_id), "tn_1");
	fl_faulty_fail_commits(2);
	assert_int_equal(fl_txn_run(&req, answer_step, &calls), FL_OK);
	assert_int_equal(calls, 3);
	/* the answer is the committed attempt's, and only it */
	assert_int_equal(req.status, 201);
	assert_string_equal(req.resp, "{\"attempt\":3}");
	assert_int_equal(req.n_hdrs, 0);
	assert_false(req.retry);
	assert_int_equal(audits(f, "test.step"), 1);
	/* every attempt given up: 503, nothing stored */
	calls = 0;
	fl_faulty_fail_commits(1000);
	assert_int_equal(fl_txn_run(&req, answer_step, &calls),
	                 FL_E_STORE_RETRY);
	fl_faulty_fail_commits(0);
	assert_int_equal(calls, FL_RUN_ATTEMPTS);
	assert_int_equal(req.status, 503);
	assert_non_null(strstr(req.resp, "store_retry"));
	assert_false(req.retry); /* the router does not run it again */
	assert_int_equal(audits(f, "test.step"), 1);
	/* the database away: 503 at once */
	calls = 0;
	fl_faulty_unavailable(true);
	assert_int_equal(fl_txn_run(&req, answer_step, &calls),
	                 FL_E_STORE_UNAVAILABLE);
	fl_faulty_unavailable(false);
	assert_int_equal(calls, 0);
	assert_int_equal(req.status, 503);
	assert_non_null(strstr(req.resp, "store_unavailable"));
	fl_reply_reset(&req);
}

/* --- the payment rules ------------------------------------------------------
 */

static void test_pay_rules(void **state)
{
	struct fx *f = *state;
	struct pay_io io;

	/* no such device */
	pay_input(&io, 100, "");
	assert_int_equal(fl_run(f->st, T0, 0, pay_fn, &io, NULL),
	                 FL_E_NOT_FOUND);
	assert_string_equal(io.out.msg, "no such device");
	make_device(f, true);
	/* another tenant's device is none */
	pay_input(&io, 100, "");
	snprintf(io.in.tenant_id, sizeof(io.in.tenant_id), "tn_2");
	assert_int_equal(fl_run(f->st, T0, 0, pay_fn, &io, NULL),
	                 FL_E_NOT_FOUND);
	/* overpayment allowed shows as credit */
	pay_input(&io, 2500, "R-9");
	io.in.allow_over = true;
	assert_int_equal(fl_run(f->st, T0, 0, pay_fn, &io, NULL), FL_OK);
	assert_int_equal(io.out.device.st.credit, 500);
	assert_int_equal(io.out.device.st.amount_remaining, 0);
	/* the same reference again is refused, naming the first */
	pay_input(&io, 10, "R-9");
	io.in.allow_over = true;
	assert_int_equal(fl_run(f->st, T0, 0, pay_fn, &io, NULL),
	                 FL_E_CONFLICT);
	assert_non_null(strstr(io.out.msg, "reference 'R-9'"));
	/* unless asked for */
	io.in.allow_dup = true;
	assert_int_equal(fl_run(f->st, T0, 0, pay_fn, &io, NULL), FL_OK);
	assert_int_equal(payments(f), 2);
}

/* A payment made earlier than one recorded before still counts in order:
 * the decision from the inputs read once plus the new payment equals a
 * decision read again from the store. */
static void test_pay_decision_matches_store(void **state)
{
	struct fx *f = *state;
	struct pay_io io;
	struct fl_device again;
	struct fl_tx *tx = NULL;

	make_device(f, true);
	pay_input(&io, 500, "");
	io.in.paid_at = T0 + 2 * FL_DAY;
	assert_int_equal(fl_run(f->st, T0 + 20 * FL_DAY, 0, pay_fn, &io, NULL),
	                 FL_OK);
	pay_input(&io, 500, "");
	io.in.paid_at = T0 + FL_DAY;
	assert_int_equal(fl_run(f->st, T0 + 20 * FL_DAY, 0, pay_fn, &io, NULL),
	                 FL_OK);
	assert_int_equal(io.out.device.st.paid_through, T0 + 10 * FL_DAY);
	assert_int_equal(fl_store_begin(f->st, true, &tx), FL_OK);
	assert_int_equal(fl_decide_device(tx, "tn_1", "dv_1", T0 + 20 * FL_DAY,
	                                  false, &again, NULL),
	                 FL_OK);
	fl_tx_rollback(tx);
	assert_memory_equal(&again.st, &io.out.device.st,
	                    sizeof(again.st));
}

struct rev_io {
	const char *id;
	struct fl_pay_result out;
};

static fl_err rev_fn(struct fl_tx *tx, void *arg, fl_time now)
{
	struct rev_io *io = arg;

	return fl_pay_reverse(tx, "tn_1", io->id, "ak_1", "bounced", now,
	                      &io->out);
}

static void test_pay_reverse(void **state)
{
	struct fx *f = *state;
	struct pay_io io;
	struct rev_io rv = {0};
	char id[FL_ID_MAX];

	make_device(f, true);
	pay_input(&io, 1000, "");
	assert_int_equal(fl_run(f->st, T0, 0, pay_fn, &io, NULL), FL_OK);
	snprintf(id, sizeof(id), "%s", io.out.payment.id);
	rv.id = id;
	fl_faulty_fail_commits(1);
	assert_int_equal(fl_run(f->st, T0 + 1, 0, rev_fn, &rv, NULL), FL_OK);
	assert_int_equal(rv.out.payment.reversed_at, T0 + 1);
	assert_int_equal(rv.out.device.st.amount_remaining, 2000);
	assert_int_equal(audits(f, "payment.reverse"), 1);
	assert_int_equal(fl_run(f->st, T0 + 2, 0, rev_fn, &rv, NULL),
	                 FL_E_STATE);
	rv.id = "py_none";
	assert_int_equal(fl_run(f->st, T0 + 2, 0, rev_fn, &rv, NULL),
	                 FL_E_NOT_FOUND);
}

/* --- the offline-code rules -------------------------------------------------
 */

struct oc_io {
	struct fl_offcode_input in;
	struct fl_offcode_result out;
};

static fl_err oc_fn(struct fl_tx *tx, void *arg, fl_time now)
{
	struct oc_io *io = arg;

	return fl_offcode_mint(tx, &io->in, now, &io->out);
}

static void oc_input(struct fx *f, struct oc_io *io,
                     enum fl_ocode_action action)
{
	memset(io, 0, sizeof(*io));
	snprintf(io->in.tenant_id, sizeof(io->in.tenant_id), "tn_1");
	snprintf(io->in.device_id, sizeof(io->in.device_id), "dv_1");
	snprintf(io->in.actor, sizeof(io->in.actor), "ak_1");
	io->in.action = action;
	io->in.server_kx_pk = f->kx_pk;
	io->in.server_kx_sk = f->kx_sk;
}

static void test_offcode_not_enrolled(void **state)
{
	struct fx *f = *state;
	struct oc_io io;

	make_device(f, false);
	oc_input(f, &io, FL_OCODE_UNLOCK_1D);
	assert_int_equal(fl_run(f->st, T0, 0, oc_fn, &io, NULL), FL_E_STATE);
	assert_non_null(strstr(io.out.msg, "has not enrolled"));
	assert_string_equal(io.out.code, "");
	assert_int_equal(audits(f, "device.offline_code"), 0);
}

static void test_offcode_mint_reuse_window(void **state)
{
	struct fx *f = *state;
	struct oc_io io;
	char first[FL_OCODE_LEN + 1];

	make_device(f, true);
	oc_input(f, &io, FL_OCODE_UNLOCK_1D);
	/* given up once at the commit: minted once all the same */
	fl_faulty_fail_commits(1);
	assert_int_equal(fl_run(f->st, T0, 0, oc_fn, &io, NULL), FL_OK);
	assert_int_equal(io.out.counter, 1);
	assert_false(io.out.reused);
	assert_int_equal(strlen(io.out.code), FL_OCODE_LEN);
	snprintf(first, sizeof(first), "%s", io.out.code);
	/* asked again: the same unused code */
	oc_input(f, &io, FL_OCODE_UNLOCK_1D);
	assert_int_equal(fl_run(f->st, T0 + 60, 0, oc_fn, &io, NULL), FL_OK);
	assert_true(io.out.reused);
	assert_int_equal(io.out.counter, 1);
	assert_string_equal(io.out.code, first);
	/* other actions mint new counters until the window is full */
	for (int i = 2; i <= FL_OCODE_WINDOW; i++) {
		oc_input(f, &io,
		         i % 2 ? FL_OCODE_UNLOCK_3D : FL_OCODE_UNLOCK_7D);
		assert_int_equal(fl_run(f->st, T0, 0, oc_fn, &io, NULL), FL_OK);
		assert_int_equal(io.out.counter, (uint64_t)i);
	}
	oc_input(f, &io, FL_OCODE_UNLOCK_30D);
	assert_int_equal(fl_run(f->st, T0, 0, oc_fn, &io, NULL), FL_E_LIMIT);
	assert_int_equal(audits(f, "device.offline_code"), FL_OCODE_WINDOW + 1);
}

static void test_offcode_release(void **state)
{
	struct fx *f = *state;
	struct oc_io io;

	make_device(f, true);
	oc_input(f, &io, FL_OCODE_RELEASE);
	assert_int_equal(fl_run(f->st, T0, 0, oc_fn, &io, NULL), FL_OK);
	assert_true(io.out.decided);
	assert_true(io.out.what.released);
	/* released: nothing more to unlock */
	oc_input(f, &io, FL_OCODE_UNLOCK_1D);
	assert_int_equal(fl_run(f->st, T0, 0, oc_fn, &io, NULL), FL_E_STATE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_retry_commits, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_retry_mid_work, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_retry_bounded, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_unavailable_not_retried,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_refusal_not_retried, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_request_answer_after_commit,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_pay_rules, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_pay_decision_matches_store,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_pay_reverse, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_offcode_not_enrolled,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_offcode_mint_reuse_window,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_offcode_release, setup,
	                                        teardown),
	};

	(void)wrapped;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
