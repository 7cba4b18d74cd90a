/*
 * Unit tests for the request writes as runner functions, without a
 * socket: registering a device (devices.h), creating and rescheduling its
 * contract (contracts.h), cancelling a command, creating and revoking API
 * keys and tenants (apikeys.h), enrolling a phone by code
 * (enrollment.h) and console sessions (websession.h) run through fl_run (run.h)
 * on a real store, with their refusals (a taken IMEI, a second contract, a loan
 * reference another contract has, another tenant's device, a schedule the
 * policy refuses, a revoked key, a used or expired code) rolling back
 * everything the attempt wrote, and each write audited on the caller's chain.
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
#include "core/devproto.h"
#include "server/apikeys.h"
#include "server/audit.h"
#include "server/contracts.h"
#include "server/devices.h"
#include "server/enroll.h"
#include "server/enrollment.h"
#include "server/log.h"
#include "server/run.h"
#include "server/websession.h"
#include "store/store.h"

#define T0 ((fl_time)1800000000) /* 2027-01-15T08:00:00Z */

struct fx {
	char dir[64];
	struct fl_store *st;
	struct fl_principal admin; /* key k_admin of tenant tn_1 */
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char path[128];

	if (f == NULL || fl_crypto_init() != FL_OK)
		return -1;
	fl_log_init(stderr, FL_LOG_ERROR);
	snprintf(f->dir, sizeof(f->dir), "/tmp/finlock-contracts-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/finlock.db", f->dir);
	if (fl_store_open_sqlite(&f->st, path, NULL) != FL_OK)
		return -1;
	f->admin.role = FL_ROLE_ADMIN;
	snprintf(f->admin.key_id, sizeof(f->admin.key_id), "k_admin");
	snprintf(f->admin.tenant_id, sizeof(f->admin.tenant_id), "tn_1");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	fl_store_close(f->st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

/* --- the runner's adapters -------------------------------------------------
 */

struct reg {
	struct fl_register_in in;
	struct fl_register_result out;
};

static fl_err run_register(struct fl_tx *tx, void *io, fl_time now)
{
	struct reg *r = io;

	return fl_device_register(tx, &r->in, now, &r->out);
}

struct create {
	struct fl_contract_create_in in;
	struct fl_contract_result out;
};

static fl_err run_create(struct fl_tx *tx, void *io, fl_time now)
{
	struct create *c = io;

	return fl_contract_create(tx, &c->in, now, &c->out);
}

struct resched {
	struct fl_reschedule_in in;
	struct fl_reschedule_result out;
};

static fl_err run_reschedule(struct fl_tx *tx, void *io, fl_time now)
{
	struct resched *r = io;

	return fl_contract_reschedule(tx, &r->in, now, &r->out);
}

struct cancel {
	struct fl_cancel_in in;
	struct fl_cancel_result out;
};

static fl_err run_cancel(struct fl_tx *tx, void *io, fl_time now)
{
	struct cancel *c = io;

	return fl_device_command_cancel(tx, &c->in, now, &c->out);
}

/* --- helpers -----------------------------------------------------------------
 */

/* Entries of an audit chain. */
static int64_t audited_on(struct fx *f, const char *chain)
{
	struct fl_tx *tx = NULL;
	uint8_t hash[FL_HASH_LEN];
	int64_t seq = -1;

	assert_int_equal(fl_store_begin(f->st, false, &tx), FL_OK);
	assert_int_equal(fl_store_audit_head(tx, chain, &seq, hash), FL_OK);
	fl_tx_rollback(tx);
	return seq;
}

static int64_t audited(struct fx *f)
{
	return audited_on(f, "tn_1");
}

/* Registers device id with imei for who (the runner's way). */
static fl_err register_as(struct fx *f, const struct fl_principal *who,
                          const char *id, const char *imei, struct reg *r)
{
	memset(r, 0, sizeof(*r));
	r->in.who = *who;
	snprintf(r->in.device.id, sizeof(r->in.device.id), "%s", id);
	snprintf(r->in.device.imei, sizeof(r->in.device.imei), "%s", imei);
	snprintf(r->in.device.serial, sizeof(r->in.device.serial), "SN-%s", id);
	r->in.device.has_enroll_code = true;
	r->in.device.enroll_expires = T0 + FL_DAY;
	/* enrollment code hashes are unique: one per device */
	memcpy(r->in.device.enroll_hash, id,
	       strlen(id) < sizeof(r->in.device.enroll_hash)
	               ? strlen(id)
	               : sizeof(r->in.device.enroll_hash));
	return fl_run(f->st, T0, 0, run_register, r, NULL);
}

/* Contract terms in KES at +03:00: two installments of 1000, due 10
 * and 40 days after T0, grace 2 days; loan_ref as given. */
static struct fl_installment two[2] = {{T0 + 10 * FL_DAY, 1000},
                                       {T0 + 40 * FL_DAY, 1000}};

static void terms(struct fl_contract_rec *c, const char *loan_ref)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->loan_ref, sizeof(c->loan_ref), "%s", loan_ref);
	memcpy(c->currency, "KES", 4);
	c->utc_offset = 3 * 3600;
	c->grace = 2 * FL_DAY;
	c->schedule = two;
	c->n_schedule = 2;
}

static fl_err create_as(struct fx *f, const struct fl_principal *who,
                        const char *id, const struct fl_contract_rec *c,
                        struct create *cr)
{
	memset(cr, 0, sizeof(*cr));
	cr->in.who = *who;
	snprintf(cr->in.device_id, sizeof(cr->in.device_id), "%s", id);
	cr->in.contract = c;
	return fl_run(f->st, T0 + 60, 0, run_create, cr, NULL);
}

/* --- tests -------------------------------------------------------------------
 */

static void test_register(void **state)
{
	struct fx *f = *state;
	struct fl_tx *tx = NULL;
	struct fl_device d;
	struct reg r;
	int64_t before;

	assert_int_equal(
	        register_as(f, &f->admin, "dv_1", "490154203237518", &r),
	        FL_OK);
	assert_string_equal(r.out.device.tenant_id, "tn_1");
	assert_int_equal(r.out.device.created_at, T0);
	assert_int_equal(r.out.device.st.state, FL_ST_PENDING);
	assert_int_equal(audited(f), 1);
	assert_int_equal(fl_store_begin(f->st, false, &tx), FL_OK);
	assert_int_equal(fl_store_device_get(tx, "tn_1", "dv_1", &d), FL_OK);
	fl_tx_rollback(tx);
	assert_string_equal(d.serial, "SN-dv_1");

	/* the same IMEI in another program, of any tenant: refused, nothing
	 * written, the tenant not named */
	before = audited(f);
	assert_int_equal(
	        register_as(f, &f->admin, "dv_2", "490154203237518", &r),
	        FL_E_IMEI_IN_PROGRAM);
	assert_string_equal(r.out.msg,
	                    "this IMEI is already in a financing program");
	assert_int_equal(audited(f), before);
	assert_int_equal(fl_store_begin(f->st, false, &tx), FL_OK);
	assert_int_equal(fl_store_device_get(tx, "tn_1", "dv_2", &d),
	                 FL_E_NOT_FOUND);
	fl_tx_rollback(tx);
}

static void test_create_contract(void **state)
{
	struct fx *f = *state;
	struct fl_principal other = f->admin;
	struct fl_contract_rec c;
	struct fl_tx *tx = NULL;
	struct fl_device_inputs in;
	struct create cr;
	struct reg r;
	int64_t before;

	assert_int_equal(
	        register_as(f, &f->admin, "dv_1", "490154203237518", &r),
	        FL_OK);
	assert_int_equal(
	        register_as(f, &f->admin, "dv_2", "356938035643809", &r),
	        FL_OK);
	terms(&c, "L-1001");
	assert_int_equal(create_as(f, &f->admin, "dv_1", &c, &cr), FL_OK);
	assert_string_equal(cr.out.contract.device_id, "dv_1");
	assert_string_equal(cr.out.contract.tenant_id, "tn_1");
	assert_int_equal(cr.out.contract.created_at, T0 + 60);
	/* decided at once: the first installment's lock is coming */
	assert_int_equal(cr.out.device.st.lock_at, T0 + 12 * FL_DAY);
	assert_int_equal(audited(f), 3);
	memset(&in, 0, sizeof(in));
	assert_int_equal(fl_store_begin(f->st, false, &tx), FL_OK);
	assert_int_equal(fl_store_device_inputs(tx, "tn_1", "dv_1", &in),
	                 FL_OK);
	fl_tx_rollback(tx);
	assert_true(in.has_contract);
	assert_int_equal(in.contract.n_schedule, 2);
	assert_int_equal(in.contract.utc_offset, 3 * 3600);
	fl_device_inputs_clear(&in);

	before = audited(f);
	/* a second contract for the device */
	assert_int_equal(create_as(f, &f->admin, "dv_1", &c, &cr),
	                 FL_E_CONFLICT);
	assert_string_equal(cr.out.msg, "the device already has a contract");
	/* the loan reference of another contract, compared as payments
	 * compare it */
	terms(&c, " l-1001 ");
	assert_int_equal(create_as(f, &f->admin, "dv_2", &c, &cr),
	                 FL_E_CONFLICT);
	assert_non_null(strstr(cr.out.msg, "is already the contract of "
	                                   "device dv_1"));
	/* another tenant's caller sees no such device */
	snprintf(other.tenant_id, sizeof(other.tenant_id), "tn_2");
	terms(&c, "L-2");
	assert_int_equal(create_as(f, &other, "dv_2", &c, &cr), FL_E_NOT_FOUND);
	assert_string_equal(cr.out.msg, "no such device");
	/* none of the refusals wrote anything */
	assert_int_equal(audited(f), before);
	memset(&in, 0, sizeof(in));
	assert_int_equal(fl_store_begin(f->st, false, &tx), FL_OK);
	assert_int_equal(fl_store_device_inputs(tx, "tn_1", "dv_2", &in),
	                 FL_OK);
	fl_tx_rollback(tx);
	assert_false(in.has_contract);
	fl_device_inputs_clear(&in);
}

static void test_reschedule(void **state)
{
	struct fx *f = *state;
	struct fl_reschedule_item items[2] = {{"2027-02-10", 10, 700},
	                                      {"2027-03-10", 10, 1300}};
	struct fl_reschedule_item bad[1] = {{"2027-02-30", 10, 700}};
	struct fl_contract_rec c;
	struct fl_device_inputs in;
	struct fl_tx *tx = NULL;
	struct create cr;
	struct resched rs;
	struct reg r;
	int64_t before;

	assert_int_equal(
	        register_as(f, &f->admin, "dv_1", "490154203237518", &r),
	        FL_OK);
	assert_int_equal(
	        register_as(f, &f->admin, "dv_2", "356938035643809", &r),
	        FL_OK);
	terms(&c, "L-1");
	assert_int_equal(create_as(f, &f->admin, "dv_1", &c, &cr), FL_OK);

	memset(&rs, 0, sizeof(rs));
	rs.in.who = f->admin;
	snprintf(rs.in.device_id, sizeof(rs.in.device_id), "dv_1");
	rs.in.from = "2027-01-20";
	rs.in.items = items;
	rs.in.n_items = 2;
	snprintf(rs.in.reason, sizeof(rs.in.reason), "job loss");
	assert_int_equal(fl_run(f->st, T0 + 120, 0, run_reschedule, &rs, NULL),
	                 FL_OK);
	/* dates are read at the contract's offset (+03:00): a start is the
	 * start of that day there, a due date the end of that day there */
	assert_int_equal(rs.out.rec.from,
	                 fl_time_from_civil(2027, 1, 20) - 3 * 3600);
	assert_int_equal(rs.out.rec.n_schedule, 2);
	assert_int_equal(rs.out.rec.schedule[0].due_at,
	                 fl_time_from_civil(2027, 2, 11) - 3 * 3600 - 1);
	assert_string_equal(rs.out.rec.actor, "k_admin");
	fl_reschedule_result_clear(&rs.out);
	memset(&in, 0, sizeof(in));
	assert_int_equal(fl_store_begin(f->st, false, &tx), FL_OK);
	assert_int_equal(fl_store_device_inputs(tx, "tn_1", "dv_1", &in),
	                 FL_OK);
	fl_tx_rollback(tx);
	assert_int_equal(in.n_reschedules, 1);
	fl_device_inputs_clear(&in);

	before = audited(f);
	/* a due date that is no date: refused, naming the installment */
	memset(&rs.out, 0, sizeof(rs.out));
	rs.in.items = bad;
	rs.in.n_items = 1;
	assert_int_not_equal(
	        fl_run(f->st, T0 + 180, 0, run_reschedule, &rs, NULL), FL_OK);
	assert_non_null(strstr(rs.out.msg, "schedule[0].due: "));
	fl_reschedule_result_clear(&rs.out);
	/* an installment before the start: the policy's refusal in words */
	memset(&rs.out, 0, sizeof(rs.out));
	rs.in.from = "2027-03-01";
	rs.in.items = items;
	rs.in.n_items = 2;
	assert_int_equal(fl_run(f->st, T0 + 180, 0, run_reschedule, &rs, NULL),
	                 FL_E_SCHEDULE);
	assert_non_null(strstr(rs.out.msg, "is before the reschedule's start"));
	fl_reschedule_result_clear(&rs.out);
	/* a device without a contract */
	memset(&rs.out, 0, sizeof(rs.out));
	snprintf(rs.in.device_id, sizeof(rs.in.device_id), "dv_2");
	rs.in.from = "2027-01-20";
	assert_int_equal(fl_run(f->st, T0 + 180, 0, run_reschedule, &rs, NULL),
	                 FL_E_NO_CONTRACT);
	assert_string_equal(rs.out.msg, "the device has no contract");
	fl_reschedule_result_clear(&rs.out);
	assert_int_equal(audited(f), before);
}

static void test_cancel_command(void **state)
{
	struct fx *f = *state;
	struct fl_command_rec cmd;
	struct fl_contract_rec c;
	struct fl_tx *tx = NULL;
	struct create cr;
	struct cancel cn;
	struct reg r;

	assert_int_equal(
	        register_as(f, &f->admin, "dv_1", "490154203237518", &r),
	        FL_OK);
	terms(&c, "L-1");
	assert_int_equal(create_as(f, &f->admin, "dv_1", &c, &cr), FL_OK);
	/* a lock the lender scheduled for T0 + 5 days */
	memset(&cmd, 0, sizeof(cmd));
	cmd.kind = FL_CMD_LOCK_AT;
	cmd.at = T0 + 5 * FL_DAY;
	cmd.issued_at = T0 + 100;
	snprintf(cmd.actor, sizeof(cmd.actor), "k_admin");
	assert_int_equal(fl_store_begin(f->st, true, &tx), FL_OK);
	assert_int_equal(fl_store_command_insert(tx, "tn_1", "dv_1", &cmd),
	                 FL_OK);
	assert_int_equal(fl_decide_device(tx, "tn_1", "dv_1", T0 + 100, false,
	                                  NULL, NULL),
	                 FL_OK);
	assert_int_equal(fl_tx_commit(tx), FL_OK);

	memset(&cn, 0, sizeof(cn));
	cn.in.who = f->admin;
	snprintf(cn.in.device_id, sizeof(cn.in.device_id), "dv_1");
	cn.in.command = cmd.ord;
	snprintf(cn.in.reason, sizeof(cn.in.reason), "paid in cash");
	assert_int_equal(fl_run(f->st, T0 + 200, 0, run_cancel, &cn, NULL),
	                 FL_OK);
	assert_int_equal(cn.out.before.st.lock_at, T0 + 5 * FL_DAY);
	assert_int_equal(cn.out.after.st.lock_at, T0 + 12 * FL_DAY);
	assert_int_equal(json_array_size(cn.out.pending), 0);
	fl_cancel_result_clear(&cn.out);
	/* cancelled already: not pending any more */
	assert_int_equal(fl_run(f->st, T0 + 300, 0, run_cancel, &cn, NULL),
	                 FL_E_STATE);
	fl_cancel_result_clear(&cn.out);
	cn.in.command = cmd.ord + 100;
	assert_int_equal(fl_run(f->st, T0 + 300, 0, run_cancel, &cn, NULL),
	                 FL_E_NOT_FOUND);
	assert_string_equal(cn.out.msg, "no such command on this device");
	fl_cancel_result_clear(&cn.out);
}

struct keyc {
	struct fl_apikey_create_in in;
	struct fl_apikey_result out;
};

static fl_err run_key_create(struct fl_tx *tx, void *io, fl_time now)
{
	struct keyc *k = io;

	return fl_apikey_create(tx, &k->in, now, &k->out);
}

struct keyr {
	struct fl_apikey_revoke_in in;
	struct fl_apikey_result out;
};

static fl_err run_key_revoke(struct fl_tx *tx, void *io, fl_time now)
{
	struct keyr *k = io;

	return fl_apikey_revoke(tx, &k->in, now, &k->out);
}

struct tenc {
	struct fl_tenant_create_in in;
	struct fl_tenant out;
};

static fl_err run_tenant_create(struct fl_tx *tx, void *io, fl_time now)
{
	struct tenc *t = io;

	return fl_tenant_create(tx, &t->in, now, &t->out);
}

static void test_tenants_and_keys(void **state)
{
	struct fx *f = *state;
	static const uint8_t hk[32] = {7};
	struct fl_principal op = {.role = FL_ROLE_OPERATOR};
	struct fl_apikey_new nk;
	struct fl_principal who;
	char secret[FL_APIKEY_LEN + 1], admin_id[FL_ID_MAX];
	struct tenc t;
	struct keyc k;
	struct keyr r;

	/* the first operator key, once */
	assert_int_equal(fl_apikey_bootstrap(f->st, hk, T0, secret), FL_OK);
	assert_int_equal(strlen(secret), FL_APIKEY_LEN);
	assert_int_equal(fl_auth_key(f->st, hk, secret, &who), FL_OK);
	assert_int_equal(who.role, FL_ROLE_OPERATOR);
	snprintf(op.key_id, sizeof(op.key_id), "%s", who.key_id);
	assert_int_equal(fl_apikey_bootstrap(f->st, hk, T0, secret), FL_OK);
	assert_string_equal(secret, "");

	memset(&t, 0, sizeof(t));
	t.in.who = op;
	snprintf(t.in.tenant.id, sizeof(t.in.tenant.id), "tn_9");
	snprintf(t.in.tenant.name, sizeof(t.in.tenant.name), "Acme Credit");
	assert_int_equal(fl_run(f->st, T0, 0, run_tenant_create, &t, NULL),
	                 FL_OK);
	assert_int_equal(t.out.created_at, T0);

	/* the operator makes tn_9's admin key: on both chains, and it
	 * authenticates with the secret made before the transaction */
	assert_int_equal(fl_apikey_new(hk, &nk), FL_OK);
	memset(&k, 0, sizeof(k));
	k.in.who = op;
	snprintf(k.in.tenant_id, sizeof(k.in.tenant_id), "tn_9");
	k.in.tenant_must_exist = true;
	k.in.role = FL_ROLE_ADMIN;
	snprintf(k.in.label, sizeof(k.in.label), "admin");
	k.in.key = &nk;
	assert_int_equal(fl_run(f->st, T0 + 1, 0, run_key_create, &k, NULL),
	                 FL_OK);
	assert_string_equal(k.out.key.id, nk.id);
	assert_string_equal(k.out.key.created_by, op.key_id);
	snprintf(admin_id, sizeof(admin_id), "%s", k.out.key.id);
	assert_int_equal(audited_on(f, "tn_9"), 1);
	assert_int_equal(fl_auth_key(f->st, hk, nk.secret, &who), FL_OK);
	assert_string_equal(who.tenant_id, "tn_9");
	assert_int_equal(who.role, FL_ROLE_ADMIN);
	/* no such tenant: nothing written */
	snprintf(k.in.tenant_id, sizeof(k.in.tenant_id), "tn_none");
	assert_int_equal(fl_apikey_new(hk, &nk), FL_OK);
	assert_int_equal(fl_run(f->st, T0 + 2, 0, run_key_create, &k, NULL),
	                 FL_E_NOT_FOUND);
	assert_string_equal(k.out.msg, "no such tenant");
	assert_int_equal(fl_auth_key(f->st, hk, nk.secret, &who), FL_E_AUTH);

	/* revoking: of another role it is not found; then revoked; then
	 * already revoked */
	memset(&r, 0, sizeof(r));
	r.in.who = op;
	snprintf(r.in.tenant_id, sizeof(r.in.tenant_id), "tn_9");
	snprintf(r.in.key_id, sizeof(r.in.key_id), "%s", admin_id);
	r.in.only_role = "clerk";
	assert_int_equal(fl_run(f->st, T0 + 3, 0, run_key_revoke, &r, NULL),
	                 FL_E_NOT_FOUND);
	assert_string_equal(r.out.msg, "no such key");
	r.in.only_role = "admin";
	assert_int_equal(fl_run(f->st, T0 + 3, 0, run_key_revoke, &r, NULL),
	                 FL_OK);
	assert_int_equal(r.out.key.revoked_at, 0);
	assert_int_equal(r.out.after.revoked_at, T0 + 3);
	assert_int_equal(audited_on(f, "tn_9"), 2);
	assert_int_equal(fl_run(f->st, T0 + 4, 0, run_key_revoke, &r, NULL),
	                 FL_E_STATE);
	assert_string_equal(r.out.msg, "the key is already revoked");
}

static void test_enroll_by_code(void **state)
{
	struct fx *f = *state;
	static const uint8_t ek[32] = {9};
	char code[FL_ENROLL_CODE_LEN + 1];
	struct fl_enroll_io e;
	struct fl_dp_enroll_req er;
	struct reg r;

	/* a device registered with a one-time code */
	memset(&r, 0, sizeof(r));
	r.in.who = f->admin;
	snprintf(r.in.device.id, sizeof(r.in.device.id), "dv_1");
	snprintf(r.in.device.imei, sizeof(r.in.device.imei), "490154203237518");
	snprintf(r.in.device.serial, sizeof(r.in.device.serial), "SN");
	r.in.device.has_enroll_code = true;
	r.in.device.enroll_expires = T0 + FL_DAY;
	assert_int_equal(fl_enroll_code_new(ek, code, r.in.device.enroll_hash),
	                 FL_OK);
	assert_int_equal(fl_run(f->st, T0, 0, run_register, &r, NULL), FL_OK);

	memset(&er, 0, sizeof(er));
	snprintf(er.code, sizeof(er.code), "%s", code);
	snprintf(er.imei[0], sizeof(er.imei[0]), "356938035643809");
	er.n_imei = 1;
	memset(er.sign_pk, 1, sizeof(er.sign_pk));
	memset(er.kx_pk, 2, sizeof(er.kx_pk));
	memset(&e, 0, sizeof(e));
	e.in.er = &er;
	assert_int_equal(
	        fl_enroll_code_hash(ek, code, strlen(code), e.in.code_hash),
	        FL_OK);
	/* another IMEI: refused, nothing written */
	assert_int_equal(fl_run(f->st, T0 + 10, 0, fl_enroll_apply, &e, NULL),
	                 FL_E_STATE);
	assert_int_equal(e.out.outcome, FL_ENROLL_REFUSED);
	assert_int_equal(e.out.status, 422);
	assert_string_equal(e.out.code, "imei_mismatch");
	/* the device's IMEI: enrolled, decided, audited with the device as
	 * actor */
	snprintf(er.imei[0], sizeof(er.imei[0]), "490154203237518");
	assert_int_equal(fl_run(f->st, T0 + 10, 0, fl_enroll_apply, &e, NULL),
	                 FL_OK);
	assert_int_equal(e.out.outcome, FL_ENROLL_DONE);
	assert_int_equal(e.out.device.enrolled_at, T0 + 10);
	assert_int_equal(audited(f), 2);
	/* the same request again (a lost answer): answered again */
	assert_int_equal(fl_run(f->st, T0 + 20, 0, fl_enroll_apply, &e, NULL),
	                 FL_E_STATE);
	assert_int_equal(e.out.outcome, FL_ENROLL_AGAIN);
	assert_string_equal(e.out.device.id, "dv_1");
	/* the used code with other keys */
	memset(er.sign_pk, 3, sizeof(er.sign_pk));
	assert_int_equal(fl_run(f->st, T0 + 30, 0, fl_enroll_apply, &e, NULL),
	                 FL_E_STATE);
	assert_int_equal(e.out.outcome, FL_ENROLL_REFUSED);
	assert_string_equal(e.out.code, "code_used");
	assert_int_equal(audited(f), 2);
}

static bool session_there(struct fx *f, const uint8_t hash[FL_HASH_LEN],
                          struct fl_session_rec *out)
{
	struct fl_tx *tx = NULL;
	fl_err err;

	assert_int_equal(fl_store_begin(f->st, false, &tx), FL_OK);
	err = fl_store_session_get(tx, hash, out);
	fl_tx_rollback(tx);
	assert_true(err == FL_OK || err == FL_E_NOT_FOUND);
	return err == FL_OK;
}

static void test_console_sessions(void **state)
{
	struct fx *f = *state;
	struct fl_websession_start a, b;
	struct fl_session_rec s;

	memset(&a, 0, sizeof(a));
	memset(a.rec.hash, 0xa1, sizeof(a.rec.hash));
	snprintf(a.rec.key_id, sizeof(a.rec.key_id), "k_admin");
	snprintf(a.rec.tenant_id, sizeof(a.rec.tenant_id), "tn_1");
	snprintf(a.rec.role, sizeof(a.rec.role), "admin");
	a.idle = 3600;
	a.max = 8 * 3600;
	assert_int_equal(fl_run(f->st, T0, 0, fl_websession_start, &a, NULL),
	                 FL_OK);
	assert_true(session_there(f, a.rec.hash, &s));
	assert_int_equal(s.created_at, T0);
	assert_int_equal(fl_run(f->st, T0 + 600, 0, fl_websession_touch,
	                        a.rec.hash, NULL),
	                 FL_OK);
	assert_true(session_there(f, a.rec.hash, &s));
	assert_int_equal(s.last_seen, T0 + 600);

	/* a new sign-in from the same browser ends the session it held */
	b = a;
	memset(b.rec.hash, 0xb2, sizeof(b.rec.hash));
	b.end_old = true;
	memcpy(b.old_hash, a.rec.hash, sizeof(b.old_hash));
	assert_int_equal(
	        fl_run(f->st, T0 + 700, 0, fl_websession_start, &b, NULL),
	        FL_OK);
	assert_false(session_there(f, a.rec.hash, &s));
	assert_true(session_there(f, b.rec.hash, &s));
	/* a sign-in after b's idle limit purges b */
	memset(a.rec.hash, 0xc3, sizeof(a.rec.hash));
	assert_int_equal(fl_run(f->st, T0 + 700 + 3601, 0, fl_websession_start,
	                        &a, NULL),
	                 FL_OK);
	assert_false(session_there(f, b.rec.hash, &s));
	/* signed out: a use of it finds nothing */
	assert_int_equal(fl_run(f->st, T0 + 5000, 0, fl_websession_end,
	                        a.rec.hash, NULL),
	                 FL_OK);
	assert_false(session_there(f, a.rec.hash, &s));
	assert_int_equal(fl_run(f->st, T0 + 5001, 0, fl_websession_touch,
	                        a.rec.hash, NULL),
	                 FL_E_NOT_FOUND);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_register, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_create_contract, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_reschedule, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_cancel_command, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_tenants_and_keys, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_enroll_by_code, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_console_sessions, setup,
	                                        teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
