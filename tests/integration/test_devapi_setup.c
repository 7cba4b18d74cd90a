/*
 * The device protocol around a phone's life against a real finlockd: the
 * signed lookup at setup (over the phone's nonce; the token to enforce
 * only for the phone's own factory key), re-enrollment of a reflashed phone by
 * pairing code (a locked phone stays locked through the reflash; the old keys
 * stop working; a refused code stays refused), offline codes minted by support
 * and accepted by the agent, SIM and tamper reports reaching the lender's
 * device show and the audit log, and the simulated phone finlock-device
 * enrolling and checking in.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "core/crypto.h"
#include "core/devproto.h"
#include "core/fltime.h"
#include "core/paserk.h"
#include "core/token.h"
#include "finlock/agent.h"
#include "support/devapi_phone.h"
#include "support/device_util.h"
#include "support/proc.h"
#include "support/server_harness.h"

static struct srv *S;
static struct devapi_lender L;
static char SUPPORT[64];
static unsigned next_imei = 500;

static int setup(void **state)
{
	(void)state;
	if (devapi_start(&S, &L, NULL) != 0)
		return -1;
	return srv_key(S, L.admin, "support", SUPPORT);
}

static int teardown(void **state)
{
	(void)state;
	srv_free(S);
	return 0;
}

struct reg {
	char imei1[16], imei2[16], id[64], code[64];
};

static void reg_new(struct reg *g)
{
	devapi_imei(next_imei++, g->imei1);
	devapi_imei(next_imei++, g->imei2);
	assert_int_equal(
	        devapi_register(S, &L, g->imei1, g->imei2, g->id, g->code), 0);
}

/* One installment of 1,500.00 KES due long ago: the device is locked. */
static void overdue_contract(const char *id)
{
	assert_int_equal(devapi_contract(S, &L, id, "2025-01-01", 150000, 0,
	                                 "none", "none"),
	                 0);
}

static long post(const char *path, const char *key, const char *body,
                 struct srv_res *r)
{
	assert_int_equal(srv_req(S, "POST", path, key, body, r), 0);
	return r->status;
}

/* --- lookup -----------------------------------------------------------------
 */

/* POST /v1/device/lookup with a fresh nonce, anonymous; the answer is
 * verified (kid, signature as a lookup, nonce) and its payload returned.
 * It carries no token. */
static void lookup(const char *imei, struct fl_dp_lookup_payload *p)
{
	struct fl_dp_lookup_req q = {0};
	struct fl_dp_lookup_answer a = {0};
	struct fl_trust *t = NULL;
	struct srv_res r;
	char *body = NULL, *payload = NULL;
	size_t len = 0;

	snprintf(q.imei[0], sizeof(q.imei[0]), "%s", imei);
	q.n_imei = 1;
	fl_random(q.nonce, sizeof(q.nonce));
	assert_int_equal(fl_dp_lookup_req_encode(&q, &body), FL_OK);
	assert_int_equal(post(FL_DP_PATH_LOOKUP, NULL, body, &r), 200);
	free(body);
	assert_int_equal(fl_dp_lookup_answer_decode(r.body, r.len, &a), FL_OK);
	srv_res_free(&r);
	assert_int_equal(fl_trust_new(&t, L.root), FL_OK);
	assert_true(a.keys.n_certs >= 1);
	for (size_t i = 0; i < a.keys.n_certs; i++)
		assert_int_equal(fl_trust_add_cert(t, a.keys.certs[i],
		                                   (fl_time)time(NULL), NULL),
		                 FL_OK);
	/* not valid as another kind of message */
	assert_int_not_equal(fl_trust_verify(t, FL_MSG_DEVICE_TOKEN, a.lookup,
	                                     (fl_time)time(NULL), &payload,
	                                     &len),
	                     FL_OK);
	assert_int_equal(fl_trust_verify(t, FL_MSG_LOOKUP, a.lookup,
	                                 (fl_time)time(NULL), &payload, &len),
	                 FL_OK);
	assert_int_equal(fl_dp_lookup_payload_decode(payload, len, p), FL_OK);
	assert_memory_equal(p->nonce, q.nonce, sizeof(q.nonce));
	assert_string_equal(p->imei[0], imei);
	assert_true(p->time > (fl_time)time(NULL) - 60);
	assert_null(p->token);
	free(payload);
	fl_trust_free(t);
	fl_dp_lookup_answer_clear(&a);
}

static void test_lookup_signed_over_nonce(void **state)
{
	struct fl_dp_lookup_payload p = {0};
	struct fl_device_claims c = {0};
	struct devapi_raw raw;
	struct srv_res r;
	struct reg g;
	char nobody[16], due[16];
	fl_time in_two_days = (fl_time)time(NULL) + 2 * FL_DAY;
	int y, mo, d, h, mi, s;

	(void)state;
	devapi_imei(next_imei++, nobody);
	lookup(nobody, &p);
	assert_int_equal(p.program, FL_DP_PROG_NONE);
	assert_string_equal(p.status, "no_record");
	assert_null(p.token);
	fl_dp_lookup_payload_clear(&p);

	/* registered, contract, not enrolled: "enroll", the public word */
	reg_new(&g);
	fl_time_to_civil(in_two_days + 3 * 3600, &y, &mo, &d, &h, &mi, &s);
	snprintf(due, sizeof(due), "%04d-%02d-%02d", y, mo, d);
	assert_int_equal(
	        devapi_contract(S, &L, g.id, due, 150000, 0, "none", "none"),
	        0);
	lookup(g.imei2, &p);
	assert_int_equal(p.program, FL_DP_PROG_ENROLL);
	assert_string_equal(p.status, "financed");
	fl_dp_lookup_payload_clear(&p);

	/* enrolled with a factory key: "pairing"; signed by that key, the
	 * lookup brings the current token (reminders carry amount and
	 * date) */
	devapi_raw_new(&raw, g.imei1, g.imei2);
	devapi_raw_factory(&raw);
	assert_int_equal(devapi_raw_enroll(S, &raw, g.code, false, L.root, &r),
	                 200);
	srv_res_free(&r);
	lookup(g.imei1, &p);
	assert_int_equal(p.program, FL_DP_PROG_PAIRING);
	fl_dp_lookup_payload_clear(&p);
	assert_int_equal(
	        devapi_raw_lookup(S, &raw, false, L.root, &p, &c, NULL, &r),
	        200);
	srv_res_free(&r);
	assert_int_equal(p.program, FL_DP_PROG_PAIRING);
	assert_non_null(p.token);
	assert_string_equal(c.sub, g.id);
	assert_true(c.n_reminders >= 1);
	{
		char want[96];

		snprintf(want, sizeof(want),
		         "Installment of KES 1,500.00 due %s", due);
		assert_string_equal(c.reminders[c.n_reminders - 1].text, want);
	}
	assert_true(strncmp(c.loan_ref, "LN-0001-", 8) == 0);
	assert_string_equal(c.contact_name, "Acme Finance");
	fl_claims_clear(&c);
	fl_dp_lookup_payload_clear(&p);

	/* the lookup moved no key: the phone still checks in */
	assert_int_equal(devapi_raw_checkin(S, &raw, 1, &r), 200);
	srv_res_free(&r);

	assert_int_equal(post(FL_DP_PATH_LOOKUP, NULL, "{\"imei\":[]}", &r),
	                 400);
	assert_string_equal(srv_err_code(&r), "bad_request");
	srv_res_free(&r);
}

/* --- pairing
 * ------------------------------------------------------------------
 */

static void pairing_path(const char *id, const char *what, char out[160])
{
	snprintf(out, 160, "/v1/devices/%s/%s", id, what);
}

static void test_reflash_pairing(void **state)
{
	struct devapi_phone p;
	struct fl_agent_screen sc;
	struct fl_agent_status st;
	struct devapi_raw intruder;
	struct srv_res r;
	struct reg g;
	char path[160], body[96];
	json_t *items;

	(void)state;
	reg_new(&g);
	overdue_contract(g.id);
	/* the phone before the reflash: enrolled by code, which registers
	 * its factory key */
	assert_int_equal(devapi_phone_open(&p, S, &L, g.imei1, g.imei2), 0);
	assert_int_equal(fl_agent_setup(p.a), FL_OK);
	assert_int_equal(fl_agent_enroll(p.a, g.code), FL_OK);
	assert_int_equal(fl_agent_checkin(p.a), FL_OK);

	/* reflashed: setup, by a lookup its factory key signs, finds it in
	 * a program and keeps it locked */
	assert_int_equal(devapi_phone_reflash(&p), 0);
	assert_int_equal(fl_agent_setup(p.a), FL_OK);
	fl_agent_status(p.a, &st);
	assert_int_equal(st.phase, FL_AGENT_PAIRING);
	fl_agent_screen(p.a, &sc);
	assert_true(sc.locked);
	assert_int_equal(strlen(sc.pairing_code),
	                 19); /* "0491 7253 8812 0034" */

	assert_int_equal(fl_agent_enroll(p.a, NULL), FL_E_AGENT_PENDING);
	assert_int_equal(fl_agent_enroll(p.a, NULL), FL_E_AGENT_PENDING);

	/* someone else holding the IMEI asks too; the lender refuses it */
	devapi_raw_new(&intruder, g.imei1, NULL);
	assert_int_equal(devapi_raw_enroll(S, &intruder, "", false, L.root, &r),
	                 202);
	{
		char code[FL_DP_PAIRING_LEN + 1];

		fl_dp_pairing_code(intruder.sign_pk, intruder.kx_pk, code);
		assert_string_equal(srv_jstr(&r, "pairing_code"), code);
		srv_res_free(&r);
		snprintf(body, sizeof(body), "{\"pairing_code\":\"%s\"}", code);
	}
	pairing_path(g.id, "reject-pairing", path);
	assert_int_equal(post(path, SUPPORT, body, &r), 200);
	srv_res_free(&r);
	assert_int_equal(devapi_raw_enroll(S, &intruder, "", false, L.root, &r),
	                 403);
	assert_string_equal(srv_err_code(&r), "pairing_rejected");
	srv_res_free(&r);

	/* the list shows both */
	pairing_path(g.id, "pairing-requests", path);
	assert_int_equal(srv_req(S, "GET", path, L.admin, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	items = json_object_get(r.json, "items");
	assert_int_equal(json_array_size(items), 2);
	srv_res_free(&r);

	/* a code nobody shows, and a malformed one */
	pairing_path(g.id, "approve-pairing", path);
	assert_int_equal(post(path, L.admin,
	                      "{\"pairing_code\":\"0000000000000000\"}", &r),
	                 404);
	srv_res_free(&r);
	assert_int_equal(post(path, L.admin, "{\"pairing_code\":\"12ab\"}", &r),
	                 400);
	srv_res_free(&r);

	/* the customer reads the code from the screen; support approves */
	snprintf(body, sizeof(body), "{\"pairing_code\":\"%s\"}",
	         sc.pairing_code);
	assert_int_equal(post(path, SUPPORT, body, &r), 200);
	assert_string_equal(
	        json_string_value(json_object_get(
	                json_object_get(r.json, "request"), "status")),
	        "approved");
	srv_res_free(&r);

	devapi_phone_tick(&p);
	assert_int_equal(fl_agent_enroll(p.a, NULL), FL_OK);
	fl_agent_status(p.a, &st);
	assert_int_equal(st.phase, FL_AGENT_ENROLLED);
	assert_string_equal(st.device_id, g.id);
	fl_agent_screen(p.a, &sc);
	assert_true(sc.locked); /* same device, same contract: still due */

	/* the new phone counts from 1 (the old keys are refused:
	 * test_devapi_cache) */
	devapi_phone_tick(&p);
	assert_int_equal(fl_agent_checkin(p.a), FL_OK);
	fl_agent_status(p.a, &st);
	assert_int_equal(st.counter, 1);

	/* paying unlocks the re-enrolled phone */
	assert_int_equal(devapi_pay(S, &L, g.id, 150000), 0);
	devapi_phone_tick(&p);
	assert_int_equal(fl_agent_checkin(p.a), FL_OK);
	fl_agent_screen(p.a, &sc);
	assert_false(sc.locked);

	/* audited */
	assert_int_equal(srv_req(S, "GET",
	                         "/v1/audit?action=device.reenroll&limit=10",
	                         L.admin, NULL, &r),
	                 0);
	assert_int_equal(json_array_size(json_object_get(r.json, "items")), 1);
	srv_res_free(&r);
	devapi_phone_close(&p);

	/* an IMEI in no program cannot pair */
	{
		struct devapi_raw x;
		char nobody[16];

		devapi_imei(next_imei++, nobody);
		devapi_raw_new(&x, nobody, NULL);
		assert_int_equal(
		        devapi_raw_enroll(S, &x, "", false, L.root, &r), 404);
		assert_string_equal(srv_err_code(&r), "not_in_program");
		srv_res_free(&r);
	}
}

/* --- offline codes ---------------------------------------------------------
 */

/* True if the file at path holds the string s. */
static bool file_has(const char *path, const char *s)
{
	size_t n = strlen(s);
	bool found = false;
	FILE *f = fopen(path, "rb");
	char *text;
	long len;

	if (f == NULL)
		return false;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	text = malloc((size_t)len + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	for (long i = 0; i + (long)n <= len && !found; i++)
		found = memcmp(text + i, s, n) == 0;
	free(text);
	return found;
}

static void test_offline_code(void **state)
{
	struct devapi_phone p;
	struct fl_agent_screen sc;
	struct srv_res r;
	struct reg g;
	char path[160], code[16];

	(void)state;
	reg_new(&g);
	overdue_contract(g.id);
	snprintf(path, sizeof(path), "/v1/devices/%s/offline-code", g.id);
	/* no code before the phone enrolled: it has no secret yet */
	assert_int_equal(post(path, SUPPORT, "{\"days\":3}", &r), 409);
	srv_res_free(&r);

	assert_int_equal(devapi_phone_open(&p, S, &L, g.imei1, g.imei2), 0);
	assert_int_equal(fl_agent_setup(p.a), FL_OK);
	assert_int_equal(fl_agent_enroll(p.a, g.code), FL_OK);
	fl_agent_screen(p.a, &sc);
	assert_true(sc.locked);
	p.fh->offline = true; /* no data */

	assert_int_equal(post(path, SUPPORT, "{\"days\":3}", &r), 201);
	snprintf(code, sizeof(code), "%s", srv_jstr(&r, "code"));
	assert_int_equal(strlen(code), 10);
	assert_int_equal(srv_jint(&r, "counter"), 1);
	assert_string_equal(srv_jstr(&r, "action"), "unlock_3d");
	srv_res_free(&r);
	/* unused: shown again, not minted anew */
	assert_int_equal(post(path, SUPPORT, "{\"days\":3}", &r), 200);
	assert_string_equal(srv_jstr(&r, "code"), code);
	assert_true(json_is_true(json_object_get(r.json, "shown_again")));
	srv_res_free(&r);
	/* a retry with an Idempotency-Key: the same code, and the answer
	 * (a secret) is kept nowhere in the database */
	{
		const char *h[] = {"Idempotency-Key: oc-1", NULL};
		char db[700];

		assert_int_equal(srv_reqx(S, "POST", path, SUPPORT, h,
		                          "{\"days\":3}", 10, &r),
		                 0);
		assert_int_equal(r.status, 200);
		assert_string_equal(srv_jstr(&r, "code"), code);
		srv_res_free(&r);
		snprintf(db, sizeof(db), "%s/finlock.db", srv_data_dir(S));
		assert_false(file_has(db, code));
		snprintf(db, sizeof(db), "%s/finlock.db-wal", srv_data_dir(S));
		assert_false(file_has(db, code));
	}
	/* bad requests */
	assert_int_equal(post(path, SUPPORT, "{\"days\":2}", &r), 400);
	srv_res_free(&r);
	assert_int_equal(post(path, SUPPORT, "{}", &r), 400);
	srv_res_free(&r);
	assert_int_equal(post(path, SUPPORT, "{\"action\":\"release\"}", &r),
	                 403);
	srv_res_free(&r);

	devapi_phone_tick(&p);
	assert_int_equal(fl_agent_enter_code(p.a, code), FL_OK);
	fl_agent_screen(p.a, &sc);
	assert_false(sc.locked);
	assert_true(sc.unlock_until > (fl_time)time(NULL) + 2 * FL_DAY);
	/* a code works once */
	assert_int_not_equal(fl_agent_enter_code(p.a, code), FL_OK);

	/* back online: the check-in tells the server the code was used */
	p.fh->offline = false;
	devapi_phone_tick(&p);
	assert_int_equal(fl_agent_checkin(p.a), FL_OK);
	fl_agent_screen(p.a, &sc);
	assert_false(sc.locked); /* the code's unlock holds */
	assert_int_equal(devapi_show(S, &L, g.id, &r), 0);
	assert_int_equal(
	        json_integer_value(json_object_get(
	                json_object_get(r.json, "offline_code"), "used")),
	        1);
	srv_res_free(&r);
	/* so the next code is a new one */
	assert_int_equal(post(path, SUPPORT, "{\"days\":1}", &r), 201);
	assert_int_equal(srv_jint(&r, "counter"), 2);
	srv_res_free(&r);

	/* the code itself never reaches the audit log */
	assert_int_equal(srv_req(S, "GET",
	                         "/v1/audit?action=device.offline_code",
	                         L.admin, NULL, &r),
	                 0);
	assert_true(json_array_size(json_object_get(r.json, "items")) >= 3);
	assert_null(strstr(r.body, code));
	srv_res_free(&r);

	/* release by code: an admin's act; the device is released too */
	assert_int_equal(post(path, L.admin, "{\"action\":\"release\"}", &r),
	                 201);
	snprintf(code, sizeof(code), "%s", srv_jstr(&r, "code"));
	srv_res_free(&r);
	assert_int_equal(devapi_show(S, &L, g.id, &r), 0);
	assert_string_equal(json_string_value(json_object_get(r.json, "state")),
	                    "released");
	srv_res_free(&r);
	p.fh->offline = true;
	devapi_phone_tick(&p);
	assert_int_equal(fl_agent_enter_code(p.a, code), FL_OK);
	fl_agent_screen(p.a, &sc);
	assert_int_equal(sc.phase, FL_AGENT_RELEASED);
	devapi_phone_close(&p);
}

/* --- SIM and tamper reports -------------------------------------------------
 */

static void test_sim_and_tamper_reports(void **state)
{
	struct devapi_phone p;
	struct fl_agent_status st0, st1;
	struct fl_agent_screen sc;
	struct srv_res r;
	struct reg g;
	json_t *reports;

	(void)state;
	reg_new(&g);
	assert_int_equal(devapi_contract(S, &L, g.id, "2035-01-01", 150000, 0,
	                                 "lock", "notify"),
	                 0);
	assert_int_equal(devapi_phone_open(&p, S, &L, g.imei1, g.imei2), 0);
	assert_int_equal(fl_agent_setup(p.a), FL_OK);
	assert_int_equal(fl_agent_enroll(p.a, g.code), FL_OK);
	fl_agent_status(p.a, &st0);

	/* a new SIM: the phone locks itself until the server answers */
	snprintf(p.fh->iccid, sizeof(p.fh->iccid), "8925402000000000999");
	devapi_phone_tick(&p);
	assert_int_equal(fl_agent_tick(p.a), FL_OK);
	fl_agent_screen(p.a, &sc);
	assert_true(sc.locked);
	/* the next second, so the new token is issued after the event */
	{
		struct timespec ts = {1, 100 * 1000 * 1000};

		nanosleep(&ts, NULL);
	}
	devapi_phone_tick(&p);
	assert_int_equal(fl_agent_checkin(p.a), FL_OK);
	fl_agent_status(p.a, &st1);
	assert_true(st1.seq > st0.seq); /* a freshly signed token */
	fl_agent_screen(p.a, &sc);
	assert_false(sc.locked);

	/* rooted */
	p.fh->tamper = FL_HAL_TAMPER_ROOTED;
	devapi_phone_tick(&p);
	assert_int_equal(fl_agent_tick(p.a), FL_OK);
	assert_int_equal(fl_agent_checkin(p.a), FL_OK);

	assert_int_equal(devapi_show(S, &L, g.id, &r), 0);
	reports = json_object_get(r.json, "reports");
	assert_int_equal(json_array_size(reports), 2);
	assert_string_equal(json_string_value(json_object_get(
	                            json_array_get(reports, 0), "kind")),
	                    "tamper");
	assert_string_equal(json_string_value(json_object_get(
	                            json_array_get(reports, 0), "detail")),
	                    "rooted");
	assert_string_equal(json_string_value(json_object_get(
	                            json_array_get(reports, 1), "detail")),
	                    "SIM changed: ICCID 8925402000000000999");
	assert_string_equal(json_string_value(json_object_get(
	                            json_object_get(r.json, "sim"), "report")),
	                    "SIM changed: ICCID 8925402000000000999");
	srv_res_free(&r);

	assert_int_equal(srv_req(S, "GET", "/v1/audit?action=device.tamper",
	                         L.admin, NULL, &r),
	                 0);
	assert_int_equal(json_array_size(json_object_get(r.json, "items")), 1);
	assert_string_equal(
	        json_string_value(json_object_get(
	                json_array_get(json_object_get(r.json, "items"), 0),
	                "actor")),
	        g.id);
	srv_res_free(&r);
	devapi_phone_close(&p);
}

/* --- the simulated phone
 * ------------------------------------------------------
 */

/* finlock-device, the simulator, against the real server: create with
 * the server's root, enroll with the clerk's code, check in. */
static void test_finlock_device_end_to_end(void **state)
{
	struct proc_result pr;
	char dir[256], root[FL_PASERK_PUBLIC_SIZE];
	struct reg g;
	json_t *j;

	(void)state;
	reg_new(&g);
	overdue_contract(g.id);
	assert_int_equal(fl_paserk_public_encode(root, L.root), FL_OK);
	assert_int_equal(devt_tmpdir(dir, "devapi"), 0);
	assert_int_equal(proc_runl(&pr, NULL, "finlock-device", "--dir", dir,
	                           "create", "--trust", root, "--imei", g.imei1,
	                           "--imei2", g.imei2, "--serial", "SN-1",
	                           NULL),
	                 0);
	assert_int_equal(pr.status, 0);
	proc_result_free(&pr);
	assert_int_equal(proc_runl(&pr, NULL, "finlock-device", "--dir", dir,
	                           "enroll", "--server", srv_url(S), "--code",
	                           g.code, NULL),
	                 0);
	if (pr.status != 0)
		fprintf(stderr, "enroll: %s%s", pr.out, pr.err);
	assert_int_equal(pr.status, 0);
	assert_non_null(strstr(pr.out, g.id));
	proc_result_free(&pr);
	j = devt_status(dir);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "phase")),
	                    "enrolled");
	assert_string_equal(json_string_value(json_object_get(j, "state")),
	                    "locked");
	json_decref(j);
	devt_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_lookup_signed_over_nonce),
	        cmocka_unit_test(test_reflash_pairing),
	        cmocka_unit_test(test_offline_code),
	        cmocka_unit_test(test_sim_and_tamper_reports),
	        cmocka_unit_test(test_finlock_device_end_to_end),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
