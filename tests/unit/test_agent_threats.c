/* The phone's threat model (docs/threat-model.md), tried as the customer
 * would: the customer owns all of the phone's ordinary storage (reads,
 * edits, deletes, restores older copies of it, copies it from another
 * financed phone), the wall clock, reboots at any rate, and the network;
 * not the secure hardware (the fake platform's `tee`), the IMEIs, or the
 * root key. Each test fails if the attack it names works. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/persist.h"
#include "core/ocode.h"
#include "core/restrict.h"
#include "finlock/agent.h"
#include "support/agent_fakehal.h"
#include "support/agent_fakesrv.h"

static const fl_time T0 = 1795435200; /* 2026-11-23T12:00:00Z */

static int setup(void **state)
{
	struct fl_fakephone *p = calloc(1, sizeof(*p));

	if (p == NULL || fl_fakephone_new(p) != FL_OK)
		return -1;
	p->srv->claims.lock_at = T0 + 10 * FL_DAY;
	if (fl_fakephone_enroll(p) != FL_OK)
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

/* What the phone enforces: locked (restrictions applied, screen up)? */
static bool locked(struct fl_fakephone *p)
{
	struct fl_agent_screen s;

	fl_agent_screen(p->a, &s);
	/* the platform applies what the screen says, at least the default
	 * lock whenever locked */
	if (s.locked || s.setup_pending)
		assert_int_equal(p->fh->applied_mask & FL_R_DEFAULT_LOCK,
		                 FL_R_DEFAULT_LOCK);
	else
		assert_int_equal(p->fh->applied_mask, 0);
	return s.locked || s.setup_pending;
}

static void pass(struct fl_fakephone *p, int64_t secs)
{
	while (secs > 0) {
		int64_t d = secs < 3600 ? secs : 3600;
		fl_fakephone_advance(p, d);
		assert_int_equal(fl_agent_tick(p->a), FL_OK);
		secs -= d;
	}
}

/* The server says: locked, now. The phone hears it. */
static void server_locks(struct fl_fakephone *p)
{
	p->srv->claims.state = FL_ST_LOCKED;
	assert_int_equal(fl_fakesrv_issue(p->srv), FL_OK);
	p->fh->offline = false;
	assert_int_equal(fl_agent_checkin(p->a), FL_OK);
	assert_true(locked(p));
}

/* --- the customer's copies of the ordinary storage ---------------------- */

struct snap {
	struct fh_blob persist[FH_BLOBS];
	struct fh_blob userdata[FH_BLOBS];
	struct dev_tee tee; /* the secure hardware as it was (not the
	                     * customer's: only put back by tests that edit
	                     * the current storage) */
};

static void copy_set(struct fh_blob *to, const struct fh_blob *from)
{
	for (size_t i = 0; i < FH_BLOBS; i++) {
		to[i] = from[i];
		to[i].data = NULL;
		if (from[i].used) {
			to[i].data = malloc(from[i].len ? from[i].len : 1);
			assert_non_null(to[i].data);
			memcpy(to[i].data, from[i].data, from[i].len);
		}
	}
}

static void free_set(struct fh_blob *set)
{
	for (size_t i = 0; i < FH_BLOBS; i++) {
		free(set[i].data);
		memset(&set[i], 0, sizeof(set[i]));
	}
}

static void take(struct snap *s, const struct fl_fakehal *fh)
{
	copy_set(s->persist, fh->persist);
	copy_set(s->userdata, fh->userdata);
	s->tee = fh->tee;
}

/* Puts a copy back over the phone's storage, whole. */
static void put_back(struct fl_fakehal *fh, const struct snap *s)
{
	free_set(fh->persist);
	free_set(fh->userdata);
	copy_set(fh->persist, s->persist);
	copy_set(fh->userdata, s->userdata);
}

/* The storage as it is now with one edit: the copy, and the secure
 * hardware as it was when the copy was taken. */
static void edit_now(struct fl_fakehal *fh, const struct snap *s)
{
	put_back(fh, s);
	fh->tee = s->tee;
}

static void snap_free(struct snap *s)
{
	free_set(s->persist);
	free_set(s->userdata);
}

/* The customer powers the phone off, changes its storage, powers it on. */
static void reopen(struct fl_fakephone *p)
{
	fl_agent_close(p->a);
	p->a = NULL;
	fl_fakehal_power_on(p->fh);
	assert_int_equal(fl_agent_open(&p->a, &p->hal, p->srv->root.pk), FL_OK);
	assert_int_equal(fl_agent_tick(p->a), FL_OK);
}

/* --- 1. an edit of any byte never unlocks, postpones or loosens ---------- */

/* Every byte of every blob of the ordinary storage, changed in three ways
 * (a bit, the byte inverted, the byte zeroed), one at a time: the locked
 * phone stays locked with at least its restrictions, offline. */
static void test_edit_any_byte_locked(void **state)
{
	struct fl_fakephone *p = *state;
	struct snap good;
	size_t tried = 0;

	server_locks(p);
	p->fh->offline = true;
	take(&good, p->fh);
	for (int part = 0; part < 2; part++) {
		struct fh_blob *set = part == 0 ? good.persist : good.userdata;
		for (size_t b = 0; b < FH_BLOBS; b++) {
			if (!set[b].used)
				continue;
			for (size_t i = 0; i < set[b].len; i++) {
				for (int how = 0; how < 3; how++) {
					uint8_t old = set[b].data[i];
					set[b].data[i] = how == 0 ? old ^ 0x01
					                 : how == 1
					                         ? (uint8_t)~old
					                         : 0;
					if (set[b].data[i] == old)
						continue;
					edit_now(p->fh, &good);
					set[b].data[i] = old;
					reopen(p);
					assert_true(locked(p));
					tried++;
				}
			}
		}
	}
	/* the untouched copy still opens locked, of course */
	edit_now(p->fh, &good);
	reopen(p);
	assert_true(locked(p));
	assert_true(tried > 1000);
	snap_free(&good);
}

/* An unlocked phone with lock_at ahead: no edit postpones the lock. */
static void test_edit_never_postpones(void **state)
{
	struct fl_fakephone *p = *state;
	struct snap good;
	const struct fh_blob *slot;
	size_t len, step;

	p->fh->offline = true;
	assert_false(locked(p));
	take(&good, p->fh);
	slot = fl_fakehal_blob(p->fh, FL_PERSIST_SLOT_A);
	if (slot == NULL ||
	    (fl_fakehal_blob(p->fh, FL_PERSIST_SLOT_B) &&
	     fl_fakehal_blob(p->fh, FL_PERSIST_SLOT_B)->len > slot->len))
		slot = fl_fakehal_blob(p->fh, FL_PERSIST_SLOT_B);
	len = slot->len;
	step = len / 97 + 1;
	for (size_t i = 0; i < len; i += step) {
		for (size_t b = 0; b < FH_BLOBS; b++) {
			struct fh_blob *s = &good.persist[b];
			if (!s->used ||
			    strncmp(s->name, "agent.state", 11) != 0 ||
			    i >= s->len)
				continue;
			s->data[i] ^= 0x80;
			edit_now(p->fh, &good);
			s->data[i] ^= 0x80;
			reopen(p);
			/* locked at once, or at the latest at lock_at */
			p->fh->wall = T0 + 10 * FL_DAY;
			p->fh->mono_ms += 10ull * FL_DAY * 1000;
			assert_int_equal(fl_agent_tick(p->a), FL_OK);
			assert_true(locked(p));
			/* back to before lock_at for the next try */
			p->fh->wall = T0;
		}
	}
	snap_free(&good);
}

/* Deleting the state (or all of the ordinary storage) while the secure
 * hardware says the phone is enrolled: the phone behaves as a reflashed
 * one (setup, locked until the signed lookup answers), never as an
 * unlocked new one. */
static void test_deleted_storage(void **state)
{
	struct fl_fakephone *p = *state;
	struct snap empty;
	struct fl_agent_screen s;

	server_locks(p);
	memset(&empty, 0, sizeof(empty));
	put_back(p->fh, &empty);
	p->fh->offline = true;
	reopen(p);
	fl_agent_screen(p->a, &s);
	assert_int_equal(s.phase, FL_AGENT_SETUP);
	assert_true(s.setup_pending);
	assert_int_equal(p->fh->applied_mask, FL_R_DEFAULT_LOCK);
	pass(p, 30 * FL_DAY);
	assert_true(locked(p));
	/* online: the lookup, signed by the factory key, brings the state:
	 * still locked, now pairing again */
	p->fh->offline = false;
	assert_int_equal(fl_fakesrv_issue(p->srv), FL_OK);
	assert_int_equal(fl_agent_setup(p->a), FL_OK);
	fl_agent_screen(p->a, &s);
	assert_int_equal(s.phase, FL_AGENT_PAIRING);
	assert_true(s.locked);
	assert_string_equal(s.lender_name, "Acme Finance");
}

/* A reflashed phone the server gives no token to (it cannot prove the
 * phone's factory key): re-pairing, it stays locked, never free. */
static void test_pairing_without_token(void **state)
{
	struct fl_fakephone *p = *state;
	struct fl_agent_screen s;

	server_locks(p);
	fl_agent_close(p->a);
	p->a = NULL;
	fl_fakehal_reflash(p->fh);
	assert_int_equal(fl_agent_open(&p->a, &p->hal, p->srv->root.pk), FL_OK);
	p->srv->lookup_anonymous = true;
	assert_int_equal(fl_agent_setup(p->a), FL_OK);
	fl_agent_screen(p->a, &s);
	assert_int_equal(s.phase, FL_AGENT_PAIRING);
	assert_true(s.locked);
	assert_int_equal(s.lock_reason, FL_AGENT_LOCK_UNVERIFIED);
	assert_int_equal(p->fh->applied_mask, FL_R_DEFAULT_LOCK);
	assert_int_equal(fl_fakephone_reboot(p), FL_OK);
	assert_true(locked(p));
}

/* --- 2. an older copy put back -------------------------------------------- */

static void test_restore_older_copy(void **state)
{
	struct fl_fakephone *p = *state;
	struct snap unlocked_day;
	struct fl_agent_screen s;
	struct fl_agent_status st;
	uint64_t server_counter;

	/* the customer copies the storage on a day the phone is unlocked */
	assert_false(locked(p));
	take(&unlocked_day, p->fh);
	/* the phone locks; the customer puts the old copy back, offline */
	server_locks(p);
	p->fh->offline = true;
	put_back(p->fh, &unlocked_day);
	reopen(p);
	fl_agent_screen(p->a, &s);
	assert_true(s.locked);
	assert_int_equal(s.lock_reason, FL_AGENT_LOCK_UNVERIFIED);
	/* the lender's contact still shows, emergency calls still work */
	assert_string_equal(s.lender_name, "Acme Finance");
	assert_true(s.n_lender_phones > 0);
	assert_int_equal(s.guaranteed, FL_G_ALL);
	/* and stays so through reboots and time */
	pass(p, FL_DAY);
	assert_int_equal(fl_fakephone_reboot(p), FL_OK);
	assert_true(locked(p));

	/* online: one round trip, no refused request, and the truth */
	server_counter = p->srv->counter_seen;
	p->fh->offline = false;
	p->srv->n_refused = 0;
	assert_int_equal(fl_agent_checkin(p->a), FL_OK);
	assert_int_equal(p->srv->n_refused, 0);
	assert_true(p->srv->counter_seen > server_counter);
	fl_agent_screen(p->a, &s);
	assert_true(s.locked);
	assert_int_equal(s.lock_reason, FL_AGENT_LOCK_PAYMENT);
	/* the server unlocks it: the phone follows */
	p->srv->claims.state = FL_ST_ACTIVE;
	assert_int_equal(fl_fakesrv_issue(p->srv), FL_OK);
	assert_int_equal(fl_agent_checkin(p->a), FL_OK);
	assert_false(locked(p));
	fl_agent_status(p->a, &st);
	assert_int_equal(st.seq, p->srv->seq);
	snap_free(&unlocked_day);
}

/* Offline-code tries and used codes live in the secure hardware: putting
 * old storage back restores neither. */
static void test_restore_keeps_codes(void **state)
{
	struct fl_fakephone *p = *state;
	struct snap before;
	struct fl_agent_status st;
	char c[11], w[11];
	int64_t day;

	server_locks(p);
	p->fh->offline = true;
	take(&before, p->fh);
	fl_agent_status(p->a, &st);
	day = fl_time_day(st.trusted_time, 0);
	/* five wrong tries use up the day */
	for (int i = 0; i < FL_OCODE_TRIES_PER_DAY; i++) {
		snprintf(w, sizeof(w), "%010d", 1234567 + i * 7919);
		assert_int_not_equal(fl_agent_enter_code(p->a, w), FL_OK);
	}
	assert_int_equal(
	        fl_fakesrv_ocode(p->srv, 1, FL_OCODE_UNLOCK_1D, day, c), FL_OK);
	assert_int_equal(fl_agent_enter_code(p->a, c), FL_E_CODE_TRIES);
	put_back(p->fh, &before);
	reopen(p);
	assert_int_equal(fl_agent_enter_code(p->a, c), FL_E_CODE_TRIES);
	fl_agent_status(p->a, &st);
	assert_int_equal(st.code_tries, FL_OCODE_TRIES_PER_DAY);

	/* the next day: the code works once, and a copy from before it was
	 * used does not make it work again */
	pass(p, FL_DAY);
	fl_agent_status(p->a, &st);
	day = fl_time_day(st.trusted_time, 0);
	assert_int_equal(
	        fl_fakesrv_ocode(p->srv, 2, FL_OCODE_UNLOCK_1D, day, c), FL_OK);
	snap_free(&before);
	take(&before, p->fh);
	assert_int_equal(fl_agent_enter_code(p->a, c), FL_OK);
	assert_false(locked(p));
	pass(p, FL_DAY + 60);
	assert_true(locked(p));
	put_back(p->fh, &before);
	reopen(p);
	assert_int_equal(fl_agent_enter_code(p->a, c), FL_E_CODE_USED);
	assert_true(locked(p));
	snap_free(&before);
}

/* Once the request has left (its counter stored), the next write's
 * counter step fails: the power goes between the state and the counter. */
static struct fl_fakehal *cut_fh;
static fl_err cut_after_send(void *ctx, const struct fl_hal_request *req,
                             struct fl_hal_response *resp)
{
	cut_fh->counter_fail = true;
	return fl_fakesrv_handle(ctx, req, resp);
}

/* The power cut between the state write and the counter: not a rollback;
 * the new state stands. */
static void test_cut_before_counter(void **state)
{
	struct fl_fakephone *p = *state;
	struct fl_agent_screen s;

	p->srv->claims.state = FL_ST_LOCKED;
	assert_int_equal(fl_fakesrv_issue(p->srv), FL_OK);
	cut_fh = p->fh;
	p->fh->server = cut_after_send;
	assert_int_not_equal(fl_agent_checkin(p->a), FL_OK);
	p->fh->server = fl_fakesrv_handle;
	fl_agent_close(p->a);
	p->a = NULL;
	fl_fakehal_power_on(p->fh);
	p->fh->offline = true;
	assert_int_equal(fl_agent_open(&p->a, &p->hal, p->srv->root.pk), FL_OK);
	fl_agent_screen(p->a, &s);
	assert_true(s.locked);
	/* no state was put back: nothing to distrust */
	assert_int_not_equal(s.lock_reason, FL_AGENT_LOCK_UNVERIFIED);
}

/* --- 3. storage copied from another phone -------------------------------- */

static void test_copy_from_another_phone(void **state)
{
	struct fl_fakephone *locked_phone = *state;
	struct fl_fakephone paid = {0};
	struct snap theirs;
	struct fl_agent_screen s;

	/* a second financed phone, paid up, with other IMEIs and its own
	 * secure hardware */
	assert_int_equal(fl_fakephone_new(&paid), FL_OK);
	strcpy(paid.fh->dev.imei[0], "490154203237518");
	strcpy(paid.srv->imei[0], "490154203237518");
	assert_int_equal(fl_fakephone_reboot(&paid), FL_OK);
	assert_int_equal(fl_fakephone_enroll(&paid), FL_OK);
	assert_false(locked(&paid));

	server_locks(locked_phone);
	locked_phone->fh->offline = true;
	take(&theirs, paid.fh);
	put_back(locked_phone->fh, &theirs);
	reopen(locked_phone);
	fl_agent_screen(locked_phone->a, &s);
	assert_true(locked(locked_phone));
	assert_int_equal(s.phase, FL_AGENT_SETUP);

	/* even with the other phone's secure hardware copied too (outside
	 * the threat model), its token names other IMEIs: not trusted */
	put_back(locked_phone->fh, &theirs);
	locked_phone->fh->tee = paid.fh->tee;
	reopen(locked_phone);
	fl_agent_screen(locked_phone->a, &s);
	assert_true(s.locked);
	assert_int_equal(s.lock_reason, FL_AGENT_LOCK_UNVERIFIED);
	snap_free(&theirs);
	fl_fakephone_free(&paid);
}

/* --- 4. offline codes: nothing in the storage mints one ------------------ */

static void test_code_secret_stays_inside(void **state)
{
	struct fl_fakephone *p = *state;
	struct fl_fakephone other = {0};
	struct fl_agent_status st;
	char c[11];

	server_locks(p);
	p->fh->offline = true;
	/* the secret is in no byte of the ordinary storage */
	for (int part = 0; part < 2; part++) {
		const struct fh_blob *set =
		        part == 0 ? p->fh->persist : p->fh->userdata;
		for (size_t b = 0; b < FH_BLOBS; b++)
			for (size_t i = 0; set[b].used && i + 16 <= set[b].len;
			     i++)
				assert_int_not_equal(memcmp(set[b].data + i,
				                            p->fh->tee.ocode,
				                            16),
				                     0);
	}
	/* a code made with any other secret (another phone's) is refused */
	assert_int_equal(fl_fakephone_new(&other), FL_OK);
	fl_agent_status(p->a, &st);
	assert_int_equal(fl_ocode_make(other.fh->tee.ocode, 1, FL_OCODE_RELEASE,
	                               fl_time_day(st.trusted_time, 0), c),
	                 FL_OK);
	assert_int_not_equal(fl_agent_enter_code(p->a, c), FL_OK);
	assert_true(locked(p));
	fl_fakephone_free(&other);
}

/* --- 5. the clock set back, reboots at any rate --------------------------- */

/* Offline, the wall clock set back to 2020 at every boot, rebooted every
 * `every` seconds of real time: locked no later than a minute after
 * lock_at. */
static void reboot_loop(struct fl_fakephone *p, int64_t every)
{
	fl_time real, lock_at = T0 + 10 * FL_DAY;
	struct fl_agent_status st;

	p->fh->offline = true;
	fl_agent_status(p->a, &st);
	real = st.trusted_time;
	/* start a few minutes before lock_at */
	pass(p, lock_at - real - 300);
	real = lock_at - 300;
	while (real < lock_at + 60) {
		fl_agent_close(p->a);
		p->a = NULL;
		fl_fakehal_power_on(p->fh);
		p->fh->wall = 1577836800; /* 2020-01-01 */
		assert_int_equal(fl_agent_open(&p->a, &p->hal, p->srv->root.pk),
		                 FL_OK);
		for (int64_t t = 0; t < every; t++) {
			p->fh->mono_ms += 1000;
			p->fh->wall++;
			real++;
			assert_int_equal(fl_agent_tick(p->a), FL_OK);
			if (real >= lock_at + 60)
				break;
		}
	}
	assert_true(locked(p));
}

static void test_reboots_any_rate(void **state)
{
	static const int64_t rates[] = {1, 7, 30, 59, 61, 120};

	for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
		struct fl_fakephone *p = calloc(1, sizeof(*p));
		assert_non_null(p);
		*state = p;
		assert_int_equal(fl_fakephone_new(p), FL_OK);
		p->srv->claims.lock_at = T0 + 10 * FL_DAY;
		assert_int_equal(fl_fakephone_enroll(p), FL_OK);
		reboot_loop(p, rates[i]);
		fl_fakephone_free(p);
		free(p);
	}
	*state = NULL;
}

/* --- 6. a counter behind the server's ------------------------------------- */

static void test_counter_behind(void **state)
{
	struct fl_fakephone *p = *state;
	size_t before;

	/* the server has seen counters far above the phone's (a crash, a
	 * server that counts another way): one refusal that carries the
	 * server's counter, then the answer */
	p->srv->counter_seen += 5000;
	before = p->srv->n_checkins;
	p->srv->n_refused = 0;
	assert_int_equal(fl_agent_checkin(p->a), FL_OK);
	assert_int_equal(p->srv->n_checkins - before, 2);
	assert_int_equal(p->srv->n_refused, 1);
	/* and it stays in step */
	assert_int_equal(fl_agent_wait(p->a, 1), FL_OK);
	assert_int_equal(p->srv->n_refused, 1);
}

/* A refusal whose counter is not MAC'd for this request moves nothing. */
static fl_err forged_stale(void *ctx, const struct fl_hal_request *req,
                           struct fl_hal_response *resp)
{
	uint8_t mac[FL_MAC_LEN] = {0};
	char *json = NULL;
	fl_err err;

	(void)ctx;
	(void)req;
	err = fl_dp_resync_encode((uint64_t)1 << 62, mac, &json);
	if (err)
		return err;
	err = fl_fakehal_respond(resp, 409, json);
	free(json);
	return err;
}

static void test_forged_counter(void **state)
{
	struct fl_fakephone *p = *state;
	struct fl_agent_status st;

	p->fh->server = forged_stale;
	assert_int_not_equal(fl_agent_checkin(p->a), FL_OK);
	fl_agent_status(p->a, &st);
	assert_true(st.counter < 1000);
	p->fh->server = fl_fakesrv_handle;
	assert_int_equal(fl_agent_checkin(p->a), FL_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_edit_any_byte_locked,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_edit_never_postpones,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_deleted_storage, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_pairing_without_token,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_restore_older_copy, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_restore_keeps_codes, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_cut_before_counter, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_copy_from_another_phone,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_code_secret_stays_inside,
	                                        setup, teardown),
	        cmocka_unit_test(test_reboots_any_rate),
	        cmocka_unit_test_setup_teardown(test_counter_behind, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_forged_counter, setup,
	                                        teardown),
	};
	return cmocka_run_group_tests_name("agent_threats", tests, NULL, NULL);
}
