/*
 * Unit tests for the server side of the device protocol: the per-device
 * secrets are derived from kx.secret and never reach the database (a copy
 * of it alone verifies no MAC and contains no key); request counters
 * (replays refused, a refused MAC consumes nothing, write-behind reaching
 * the store, a restart, a re-enrollment, eviction under a small cap);
 * device token claims from the stored decision and contract, with
 * reminder texts; money as the lock screen shows it; the store's change
 * stamps and the device rows devauth keeps following every committed
 * change.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "core/crypto.h"
#include "core/paserk.h"
#include "core/devproto.h"
#include "core/restrict.h"
#include "core/token.h"
#include "server/checkin.h"
#include "server/decide.h"
#include "server/run.h"
#include "server/devauth.h"
#include "server/app.h"
#include "server/config.h"
#include "server/log.h"
#include "server/secrets.h"
#include "server/signkeys.h"
#include "server/claims.h"
#include "server/money.h"
#include "server/tokens.h"
#include "server/tokensign.h"
#include "server/tokpack.h"
#include "store/store.h"

#define T0 ((fl_time)1800000000) /* 2027-01-15T08:00:00Z */

struct fx {
	char dir[64];
	char db[128];
	struct fl_secrets sec;
	struct fl_store *st;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL || fl_crypto_init() != FL_OK)
		return -1;
	fl_log_init(stderr, FL_LOG_ERROR);
	snprintf(f->dir, sizeof(f->dir), "/tmp/finlock-devapi-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->db, sizeof(f->db), "%s/finlock.db", f->dir);
	if (fl_secrets_load(&f->sec, f->dir) != FL_OK ||
	    fl_store_open_sqlite(&f->st, f->db, NULL) != FL_OK)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	fl_store_close(f->st);
	fl_secrets_wipe(&f->sec);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

/* A phone: its keys and, once enrolled, the secrets it derived. */
struct phone {
	uint8_t sign_pk[32], sign_sk[64], kx_pk[32], kx_sk[32];
	uint8_t mac[32], ocode[32], shared[32];
};

static void phone_new(struct phone *p)
{
	memset(p, 0, sizeof(*p));
	fl_sign_keypair(p->sign_pk, p->sign_sk);
	fl_kx_keypair(p->kx_pk, p->kx_sk);
}

/* The phone's side of the key exchange with the server's public key. */
static void phone_derive(struct phone *p, const struct fl_secrets *sec)
{
	assert_int_equal(
	        fl_kx_shared(p->shared, 0, p->kx_pk, p->kx_sk, sec->kx_pk),
	        FL_OK);
	assert_int_equal(fl_dp_derive(p->shared, p->mac, p->ocode), FL_OK);
}

static void make_device(struct fx *f, const char *id, const char *imei)
{
	struct fl_device d;
	struct fl_tx *tx = NULL;

	memset(&d, 0, sizeof(d));
	snprintf(d.id, sizeof(d.id), "%s", id);
	snprintf(d.tenant_id, sizeof(d.tenant_id), "tn_1");
	snprintf(d.imei, sizeof(d.imei), "%s", imei);
	snprintf(d.serial, sizeof(d.serial), "SN");
	d.created_at = T0;
	assert_int_equal(fl_store_begin(f->st, true, &tx), FL_OK);
	assert_int_equal(fl_store_device_insert(tx, &d), FL_OK);
	assert_int_equal(fl_tx_commit(tx), FL_OK);
}

static void enroll(struct fx *f, const char *id, const struct phone *p)
{
	struct fl_tx *tx = NULL;

	assert_int_equal(fl_store_begin(f->st, true, &tx), FL_OK);
	assert_int_equal(fl_store_dp_enroll(tx, id, p->sign_pk, p->kx_pk, T0),
	                 FL_OK);
	assert_int_equal(fl_tx_commit(tx), FL_OK);
}

static void get_device(struct fx *f, const char *id, struct fl_device *d)
{
	struct fl_tx *tx = NULL;

	assert_int_equal(fl_store_begin(f->st, false, &tx), FL_OK);
	assert_int_equal(fl_store_device_get_any(tx, id, d), FL_OK);
	fl_tx_rollback(tx);
}

/* Verifies a check-in MAC'd by the phone's key with counter. */
static fl_err checkin(struct fl_devauth *da, const struct fl_device *d,
                      const uint8_t mac_key[32], uint64_t counter, bool tamper)
{
	static const char body[] = "{\"seq\":1}";
	uint8_t mac[32], key[32];
	char hex[65];

	assert_int_equal(fl_dp_request_mac(mac, mac_key, "POST",
	                                   FL_DP_PATH_CHECKIN, body,
	                                   strlen(body), counter),
	                 FL_OK);
	if (tamper)
		mac[31] ^= 0x80;
	fl_hex_encode(hex, mac, sizeof(mac));
	return fl_devauth_verify(da, d, hex, "POST", FL_DP_PATH_CHECKIN, body,
	                         strlen(body), counter, true, T0 + 5, key);
}

static bool file_has(const char *path, const void *needle, size_t n)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf;
	long len;
	bool found = false;

	if (fp == NULL)
		return false;
	fseek(fp, 0, SEEK_END);
	len = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	buf = malloc((size_t)len + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)len, fp), (size_t)len);
	fclose(fp);
	for (long i = 0; i + (long)n <= len && !found; i++)
		found = memcmp(buf + i, needle, n) == 0;
	free(buf);
	return found;
}

/* The database alone derives nothing: it holds the phone's public key
 * (found below, so the scan works) but no MAC key, no offline-code
 * secret, no shared key and no server secret; a server that has the
 * database but another kx.secret verifies no request; the server with its
 * kx.secret derives exactly the phone's secrets. */
static void test_database_alone_derives_nothing(void **state)
{
	struct fx *f = *state;
	struct fl_secrets other;
	struct fl_devauth *da = NULL, *thief = NULL;
	struct fl_device d;
	struct phone p;
	uint8_t mac[32], ocode[32];
	char other_dir[128];

	phone_new(&p);
	make_device(f, "dv_secret", "490154203237518");
	enroll(f, "dv_secret", &p);
	phone_derive(&p, &f->sec);

	assert_int_equal(fl_devauth_derive(f->sec.kx_pk, f->sec.kx_sk, p.kx_pk,
	                                   mac, ocode),
	                 FL_OK);
	assert_memory_equal(mac, p.mac, 32);
	assert_memory_equal(ocode, p.ocode, 32);

	get_device(f, "dv_secret", &d);
	assert_int_equal(
	        fl_devauth_new(&da, f->st, &f->sec, 64),
	        FL_OK);
	assert_int_equal(checkin(da, &d, p.mac, 1, false), FL_OK);
	fl_devauth_free(da); /* writes the bookkeeping */

	/* the same database with any other server secret */
	snprintf(other_dir, sizeof(other_dir), "%s/other", f->dir);
	assert_int_equal(mkdir(other_dir, 0700), 0);
	assert_int_equal(fl_secrets_load(&other, other_dir), FL_OK);
	assert_int_equal(
	        fl_devauth_new(&thief, f->st, &other, 64),
	        FL_OK);
	get_device(f, "dv_secret", &d);
	assert_int_equal(d.req_counter, 1);
	assert_int_equal(checkin(thief, &d, p.mac, 2, false), FL_E_AUTH);
	fl_devauth_free(thief);
	fl_secrets_wipe(&other);

	/* nothing secret in the file, the public key is */
	fl_store_close(f->st);
	f->st = NULL;
	assert_true(file_has(f->db, p.kx_pk, 32));
	assert_false(file_has(f->db, p.mac, 32));
	assert_false(file_has(f->db, p.ocode, 32));
	assert_false(file_has(f->db, p.shared, 32));
	assert_false(file_has(f->db, f->sec.kx_sk, 32));
	assert_int_equal(fl_store_open_sqlite(&f->st, f->db, NULL), FL_OK);
}

/* Writes seal as device id's sealed MAC key (for keys kx_pk). */
static void write_seal(struct fx *f, const char *id, const uint8_t kx_pk[32],
                       const uint8_t seal[FL_MAC_SEAL_LEN])
{
	struct fl_tx *tx = NULL;

	assert_int_equal(fl_store_begin(f->st, true, &tx), FL_OK);
	assert_int_equal(fl_store_dp_seal(tx, id, 0, kx_pk, seal), FL_OK);
	assert_int_equal(fl_tx_commit(tx), FL_OK);
}

/* Each device's MAC key sealed in its row: sealed and written behind
 * after the first derivation; after a restart a check-in opens it (a
 * server whose key-exchange pair is another but whose seal key is right
 * verifies the phone only through the sealed copy) and does not write it
 * again; an altered sealed key, or one moved from another device, is
 * ignored (derived again, then sealed anew); a re-enrollment drops it,
 * and a key derived for the old keys never lands in the new row. */
static void test_sealed_mac_key(void **state)
{
	struct fx *f = *state;
	struct fl_secrets seal_only;
	struct fl_devauth *da = NULL;
	struct fl_device d, d2, old;
	struct phone p, q, r;
	uint8_t seal[FL_MAC_SEAL_LEN], key[32];

	phone_new(&p);
	phone_new(&r);
	make_device(f, "dv_seal", "490154203237519");
	make_device(f, "dv_seal2", "490154203237520");
	enroll(f, "dv_seal", &p);
	enroll(f, "dv_seal2", &r);
	phone_derive(&p, &f->sec);
	phone_derive(&r, &f->sec);
	seal_only = f->sec;
	fl_kx_keypair(seal_only.kx_pk, seal_only.kx_sk);

	/* nothing sealed yet: only derivation, which needs kx.secret */
	get_device(f, "dv_seal", &d);
	assert_false(d.has_mac_seal);
	assert_int_equal(fl_devauth_new(&da, f->st, &seal_only, 64), FL_OK);
	assert_int_equal(checkin(da, &d, p.mac, 1, false), FL_E_AUTH);
	fl_devauth_free(da);

	/* the first contact derives it, the flush writes it sealed */
	assert_int_equal(fl_devauth_new(&da, f->st, &f->sec, 64), FL_OK);
	assert_int_equal(checkin(da, &d, p.mac, 1, false), FL_OK);
	get_device(f, "dv_seal2", &d2);
	assert_int_equal(checkin(da, &d2, r.mac, 1, false), FL_OK);
	assert_int_equal(fl_devauth_flush(da, NULL), FL_OK);
	fl_devauth_free(da);
	get_device(f, "dv_seal", &d);
	assert_true(d.has_mac_seal);
	for (size_t i = 0; i + 32 <= FL_MAC_SEAL_LEN; i++)
		assert_memory_not_equal(d.mac_seal + i, p.mac, 32);
	assert_int_equal(fl_devauth_unseal(f->sec.mac_seal_key, d.id, d.kx_pk,
	                                   d.mac_seal, key),
	                 FL_OK);
	assert_memory_equal(key, p.mac, 32);
	assert_int_equal(fl_devauth_unseal(f->sec.mac_seal_key, "dv_seal2",
	                                   d.kx_pk, d.mac_seal, key),
	                 FL_E_CORRUPT);

	/* a restart: the miss opens the sealed key, and leaves it */
	memcpy(seal, d.mac_seal, sizeof(seal));
	assert_int_equal(fl_devauth_new(&da, f->st, &seal_only, 64), FL_OK);
	assert_int_equal(checkin(da, &d, p.mac, 2, false), FL_OK);
	assert_int_equal(checkin(da, &d, p.mac, 2, false), FL_E_REPLAY);
	fl_devauth_free(da);
	get_device(f, "dv_seal", &d);
	assert_int_equal(d.req_counter, 2);
	assert_memory_equal(d.mac_seal, seal, sizeof(seal));

	/* altered: ignored by both servers; the right one derives the key
	 * and seals it anew */
	seal[FL_MAC_SEAL_LEN - 20] ^= 0x01;
	write_seal(f, "dv_seal", d.kx_pk, seal);
	get_device(f, "dv_seal", &d);
	assert_true(d.has_mac_seal);
	assert_int_equal(fl_devauth_new(&da, f->st, &seal_only, 64), FL_OK);
	assert_int_equal(checkin(da, &d, p.mac, 3, false), FL_E_AUTH);
	fl_devauth_free(da);
	assert_int_equal(fl_devauth_new(&da, f->st, &f->sec, 64), FL_OK);
	assert_int_equal(checkin(da, &d, p.mac, 3, false), FL_OK);
	fl_devauth_free(da);
	get_device(f, "dv_seal", &d);
	assert_memory_not_equal(d.mac_seal, seal, sizeof(seal));
	assert_int_equal(fl_devauth_unseal(f->sec.mac_seal_key, d.id, d.kx_pk,
	                                   d.mac_seal, key),
	                 FL_OK);
	assert_memory_equal(key, p.mac, 32);

	/* another device's sealed key in this row: ignored */
	get_device(f, "dv_seal2", &d2);
	assert_true(d2.has_mac_seal);
	write_seal(f, "dv_seal", d.kx_pk, d2.mac_seal);
	get_device(f, "dv_seal", &d);
	assert_int_equal(fl_devauth_new(&da, f->st, &seal_only, 64), FL_OK);
	assert_int_equal(checkin(da, &d, p.mac, 4, false), FL_E_AUTH);
	assert_int_equal(checkin(da, &d, r.mac, 4, false), FL_E_AUTH);
	fl_devauth_free(da);

	/* re-enrolled with new keys: the sealed key is gone, and one
	 * derived for the old keys (a request read before) is not written
	 * into the row */
	old = d;
	phone_new(&q);
	enroll(f, "dv_seal", &q);
	get_device(f, "dv_seal", &d);
	assert_false(d.has_mac_seal);
	assert_int_equal(fl_devauth_new(&da, f->st, &f->sec, 64), FL_OK);
	assert_int_equal(checkin(da, &old, p.mac, 5, false), FL_OK);
	assert_int_equal(fl_devauth_flush(da, NULL), FL_OK);
	fl_devauth_free(da);
	get_device(f, "dv_seal", &d);
	assert_false(d.has_mac_seal);
	fl_wipe(key, sizeof(key));
	fl_secrets_wipe(&seal_only);
}

static void test_counters(void **state)
{
	struct fx *f = *state;
	struct fl_devauth *da = NULL;
	struct fl_device d;
	struct phone p, q;
	size_t n = 0;

	phone_new(&p);
	make_device(f, "dv_count", "356938035643809");
	enroll(f, "dv_count", &p);
	phone_derive(&p, &f->sec);
	get_device(f, "dv_count", &d);
	assert_int_equal(d.req_counter, 0);
	assert_int_equal(
	        fl_devauth_new(&da, f->st, &f->sec, 64),
	        FL_OK);

	assert_int_equal(checkin(da, &d, p.mac, 5, false), FL_OK);
	assert_int_equal(checkin(da, &d, p.mac, 5, false), FL_E_REPLAY);
	assert_int_equal(checkin(da, &d, p.mac, 3, false), FL_E_REPLAY);
	/* a bad MAC consumes nothing, even with a counter far ahead */
	assert_int_equal(checkin(da, &d, p.mac, 900, true), FL_E_AUTH);
	assert_int_equal(checkin(da, &d, p.mac, 6, false), FL_OK);
	/* a counter the store could not keep */
	assert_int_equal(checkin(da, &d, p.mac, (uint64_t)INT64_MAX + 1, false),
	                 FL_E_RANGE);
	/* the row read before still says 0: memory is the authority */
	assert_int_equal(checkin(da, &d, p.mac, 6, false), FL_E_REPLAY);

	assert_int_equal(fl_devauth_flush(da, &n), FL_OK);
	assert_int_equal(n, 1);
	assert_int_equal(fl_devauth_flush(da, &n), FL_OK);
	assert_int_equal(n, 0);
	get_device(f, "dv_count", &d);
	assert_int_equal(d.req_counter, 6);
	assert_int_equal(d.last_contact, T0 + 5);
	fl_devauth_free(da);

	/* a restart: the persisted counter still refuses the replay */
	assert_int_equal(
	        fl_devauth_new(&da, f->st, &f->sec, 64),
	        FL_OK);
	assert_int_equal(checkin(da, &d, p.mac, 6, false), FL_E_REPLAY);
	assert_int_equal(checkin(da, &d, p.mac, 7, false), FL_OK);

	/* re-enrolled with new keys: the old key is refused, the new phone
	 * counts from 1, and a late write of the old keys' counter changes
	 * nothing */
	phone_new(&q);
	enroll(f, "dv_count", &q);
	phone_derive(&q, &f->sec);
	get_device(f, "dv_count", &d);
	assert_int_equal(d.req_counter, 0);
	assert_int_equal(checkin(da, &d, p.mac, 8, false), FL_E_AUTH);
	assert_int_equal(checkin(da, &d, q.mac, 1, false), FL_OK);
	{
		struct fl_tx *tx = NULL;

		assert_int_equal(fl_store_begin(f->st, true, &tx), FL_OK);
		assert_int_equal(fl_store_dp_touch(tx, "dv_count", 0, p.kx_pk,
		                                   T0 + 9, 1000),
		                 FL_OK);
		assert_true(d.ord > 0);
		/* found by its row: the old keys still change nothing, nor
		 * does another row's number */
		assert_int_equal(fl_store_dp_touch(tx, "dv_count", d.ord,
		                                   p.kx_pk, T0 + 9, 1000),
		                 FL_OK);
		assert_int_equal(fl_store_dp_touch(tx, "dv_count", d.ord + 1,
		                                   q.kx_pk, T0 + 9, 1000),
		                 FL_OK);
		assert_int_equal(fl_tx_commit(tx), FL_OK);
	}
	assert_int_equal(fl_devauth_flush(da, &n), FL_OK);
	get_device(f, "dv_count", &d);
	assert_int_equal(d.req_counter, 1);
	{
		struct fl_tx *tx = NULL;

		/* by its row with the keys it has: raised */
		assert_int_equal(fl_store_begin(f->st, true, &tx), FL_OK);
		assert_int_equal(fl_store_dp_touch(tx, "dv_count", d.ord,
		                                   q.kx_pk, T0 + 9, 5),
		                 FL_OK);
		assert_int_equal(fl_tx_commit(tx), FL_OK);
	}
	get_device(f, "dv_count", &d);
	assert_int_equal(d.req_counter, 5);
	assert_int_equal(d.last_contact, T0 + 9);
	fl_devauth_free(da);
}

/* A cache far smaller than the phones: entries are evicted once written,
 * and a replay of any phone is still refused. */
static void test_eviction_keeps_replays_out(void **state)
{
	struct fx *f = *state;
	struct fl_devauth *da = NULL;
	struct phone p[40];
	struct fl_device d;
	char id[32], imei[32];
	size_t n;

	assert_int_equal(
	        fl_devauth_new(&da, f->st, &f->sec, 16),
	        FL_OK);
	for (int i = 0; i < 40; i++) {
		snprintf(id, sizeof(id), "dv_ev%d", i);
		snprintf(imei, sizeof(imei), "35209900%06d0", i % 1000000);
		make_device(f, id, imei);
		phone_new(&p[i]);
		enroll(f, id, &p[i]);
		phone_derive(&p[i], &f->sec);
		get_device(f, id, &d);
		assert_int_equal(checkin(da, &d, p[i].mac, 10, false), FL_OK);
		if (i % 8 == 7)
			assert_int_equal(fl_devauth_flush(da, &n), FL_OK);
	}
	for (int i = 0; i < 40; i++) {
		snprintf(id, sizeof(id), "dv_ev%d", i);
		get_device(f, id, &d);
		assert_int_equal(checkin(da, &d, p[i].mac, 10, false),
		                 FL_E_REPLAY);
		assert_int_equal(checkin(da, &d, p[i].mac, 11, false), FL_OK);
	}
	fl_devauth_free(da);
}

/* What the last check() returned beside its view: the highest counter
 * accepted (on FL_E_REPLAY) and the MAC key. */
static uint64_t check_last;
static uint8_t check_key[32];

/* fl_devauth_check for device id with the phone's MAC key. */
static fl_err check(struct fl_devauth *da, const char *id,
                    const uint8_t mac_key[32], uint64_t counter,
                    struct fl_devauth_view *v)
{
	static const char body[] = "{\"seq\":1}";
	uint8_t mac[32];
	char hex[65];

	assert_int_equal(fl_dp_request_mac(mac, mac_key, "POST",
	                                   FL_DP_PATH_CHECKIN, body,
	                                   strlen(body), counter),
	                 FL_OK);
	fl_hex_encode(hex, mac, sizeof(mac));
	return fl_devauth_check(da, id, hex, "POST", FL_DP_PATH_CHECKIN, body,
	                        strlen(body), counter, true, T0 + 5, v,
	                        check_key, &check_last);
}

/* The store's change stamps: a committed change of a device row marks
 * that row changed for every clock read before it, and nothing else; a
 * rollback, a quiet transaction (the write-behind bookkeeping) and a
 * commit of other tables mark nothing. */
static void test_store_change_stamps(void **state)
{
	struct fx *f = *state;
	struct fl_device a, b;
	struct fl_tx *tx = NULL;
	struct fl_ocode_rec oc;
	struct phone p;
	uint64_t c0, c1;

	make_device(f, "dv_stamp1", "352099001761010");
	make_device(f, "dv_stamp2", "352099001761028");
	phone_new(&p);
	enroll(f, "dv_stamp1", &p);
	get_device(f, "dv_stamp1", &a);
	get_device(f, "dv_stamp2", &b);
	c0 = fl_store_device_clock(f->st);
	assert_true(fl_store_device_unchanged(f->st, a.ord, c0));
	assert_true(fl_store_device_unchanged(f->st, b.ord, c0));

	assert_int_equal(fl_store_begin(f->st, true, &tx), FL_OK);
	assert_int_equal(
	        fl_store_device_report(tx, "dv_stamp1", true, T0, "SIM gone"),
	        FL_OK);
	fl_tx_rollback(tx);
	assert_true(fl_store_device_unchanged(f->st, a.ord, c0));

	assert_int_equal(fl_store_begin(f->st, true, &tx), FL_OK);
	fl_tx_quiet(tx);
	assert_int_equal(
	        fl_store_dp_touch(tx, "dv_stamp1", 0, p.kx_pk, T0 + 1, 9),
	        FL_OK);
	assert_int_equal(fl_tx_commit(tx), FL_OK);
	assert_true(fl_store_device_unchanged(f->st, a.ord, c0));
	assert_int_equal(fl_store_device_clock(f->st), c0);

	memset(&oc, 0, sizeof(oc));
	oc.counter = 1;
	assert_int_equal(fl_store_begin(f->st, true, &tx), FL_OK);
	assert_int_equal(fl_store_ocode_issue(tx, "dv_stamp1", &oc), FL_OK);
	assert_int_equal(fl_tx_commit(tx), FL_OK);
	assert_true(fl_store_device_unchanged(f->st, a.ord, c0));

	/* the same bookkeeping, not declared quiet, counts as a change */
	assert_int_equal(fl_store_begin(f->st, true, &tx), FL_OK);
	assert_int_equal(
	        fl_store_dp_touch(tx, "dv_stamp1", 0, p.kx_pk, T0 + 2, 10),
	        FL_OK);
	assert_int_equal(fl_tx_commit(tx), FL_OK);
	assert_false(fl_store_device_unchanged(f->st, a.ord, c0));
	assert_true(fl_store_device_unchanged(f->st, b.ord, c0));
	c1 = fl_store_device_clock(f->st);
	assert_true(c1 > c0);
	assert_true(fl_store_device_unchanged(f->st, a.ord, c1));

	assert_int_equal(fl_store_begin(f->st, true, &tx), FL_OK);
	assert_int_equal(
	        fl_store_device_report(tx, "dv_stamp2", false, T0, "rooted"),
	        FL_OK);
	assert_int_equal(fl_tx_commit(tx), FL_OK);
	assert_false(fl_store_device_unchanged(f->st, b.ord, c1));
	assert_true(fl_store_device_unchanged(f->st, a.ord, c1));
}

/* What devauth keeps of a row follows every committed change: a new
 * decision is seen by the next check-in, new keys refuse the old MAC key
 * at once and the new phone counts from 1, the write-behind flush
 * invalidates nothing, an unknown device is FL_E_NOT_FOUND. */
static void test_view_follows_commits(void **state)
{
	struct fx *f = *state;
	struct fl_devauth *da = NULL;
	struct fl_devauth_view v;
	struct fl_device d;
	struct fl_tx *tx = NULL;
	struct phone p, q;
	uint64_t c;
	size_t n;

	phone_new(&p);
	make_device(f, "dv_view", "352099001761036");
	enroll(f, "dv_view", &p);
	phone_derive(&p, &f->sec);
	assert_int_equal(
	        fl_devauth_new(&da, f->st, &f->sec, 64),
	        FL_OK);
	assert_int_equal(check(da, "dv_view", p.mac, 1, &v), FL_OK);
	assert_string_equal(v.id, "dv_view");
	assert_true(v.has_keys);
	assert_int_equal(v.token_seq, 0);
	assert_memory_equal(v.kx_pk, p.kx_pk, 32);
	assert_int_equal(check(da, "dv_view", p.mac, 1, &v), FL_E_REPLAY);

	/* a decision: the very next request sees it */
	get_device(f, "dv_view", &d);
	d.st.state = FL_ST_LOCKED;
	d.st.lock_cause = FL_LOCK_OFFLINE;
	d.st.lock_at = T0 + 60;
	d.st.decided_at = T0 + 2;
	d.st.token_seq = 5;
	assert_int_equal(fl_store_begin(f->st, true, &tx), FL_OK);
	assert_int_equal(fl_store_device_set_status(tx, "dv_view", &d.st),
	                 FL_OK);
	assert_int_equal(fl_tx_commit(tx), FL_OK);
	assert_int_equal(check(da, "dv_view", p.mac, 2, &v), FL_OK);
	assert_int_equal(v.token_seq, 5);
	assert_int_equal(v.state, FL_ST_LOCKED);
	assert_int_equal(v.lock_cause, FL_LOCK_OFFLINE);
	assert_int_equal(v.lock_at, T0 + 60);
	assert_int_equal(v.decided_at, T0 + 2);
	memset(&v, 0, sizeof(v));
	assert_int_equal(fl_devauth_view(da, "dv_view", &v), FL_OK);
	assert_int_equal(v.token_seq, 5);

	/* the write-behind flush changes nothing a view holds */
	c = fl_store_device_clock(f->st);
	assert_int_equal(fl_devauth_flush(da, &n), FL_OK);
	assert_int_equal(n, 1);
	assert_true(fl_store_device_unchanged(f->st, v.ord, c));
	get_device(f, "dv_view", &d);
	assert_int_equal(d.req_counter, 2);

	/* a failed write is no change: the counter still refuses replays */
	assert_int_equal(fl_store_begin(f->st, true, &tx), FL_OK);
	d.st.token_seq = 99;
	assert_int_equal(fl_store_device_set_status(tx, "dv_view", &d.st),
	                 FL_OK);
	fl_tx_rollback(tx);
	assert_int_equal(check(da, "dv_view", p.mac, 2, &v), FL_E_REPLAY);
	/* the refusal names the highest counter accepted and keeps the key
	 * that MACs the answer */
	assert_int_equal(check_last, 2);
	assert_memory_equal(check_key, p.mac, 32);
	assert_int_equal(check(da, "dv_view", p.mac, 1, &v), FL_E_REPLAY);
	assert_int_equal(check_last, 2);
	assert_int_equal(check(da, "dv_view", p.mac, 3, &v), FL_OK);
	assert_int_equal(check_last, 0);
	assert_int_equal(v.token_seq, 5);

	/* re-enrolled with new keys: the old key is refused at once, the
	 * new phone counts from 1 */
	phone_new(&q);
	enroll(f, "dv_view", &q);
	phone_derive(&q, &f->sec);
	assert_int_equal(check(da, "dv_view", p.mac, 4, &v), FL_E_AUTH);
	/* a bad MAC tells nothing and keeps no key */
	assert_int_equal(check_last, 0);
	{
		static const uint8_t zero[32];
		assert_memory_equal(check_key, zero, 32);
	}
	assert_int_equal(check(da, "dv_view", q.mac, 1, &v), FL_OK);
	assert_memory_equal(v.kx_pk, q.kx_pk, 32);
	assert_int_equal(check(da, "dv_view", q.mac, 1, &v), FL_E_REPLAY);
	assert_int_equal(check(da, "dv_view", p.mac, 5, &v), FL_E_AUTH);

	assert_int_equal(check(da, "dv_nobody", p.mac, 1, &v), FL_E_NOT_FOUND);
	assert_int_equal(fl_devauth_view(da, "dv_nobody", &v), FL_E_NOT_FOUND);
	fl_devauth_free(da);
}

/* A device with a contract like test_claims's, decided at T0. */
static void device_with_contract(struct fx *f, const char *id, const char *imei,
                                 int n)
{
	struct fl_installment items[2] = {{T0 + (10 + n) * FL_DAY, 150000},
	                                  {T0 + (40 + n) * FL_DAY, 150000}};
	struct fl_contract_rec k;
	struct fl_device d;
	struct fl_tx *tx = NULL;
	struct phone p;

	make_device(f, id, imei);
	phone_new(&p);
	enroll(f, id, &p);
	memset(&k, 0, sizeof(k));
	snprintf(k.device_id, sizeof(k.device_id), "%s", id);
	snprintf(k.tenant_id, sizeof(k.tenant_id), "tn_1");
	snprintf(k.loan_ref, sizeof(k.loan_ref), "LN-%d", 1000 + n);
	memcpy(k.currency, "KES", 4);
	k.utc_offset = 3 * 3600;
	k.remind[0] = 3 * FL_DAY;
	k.remind[1] = 1 * FL_DAY;
	k.n_remind = 2;
	k.restrict_mask = FL_R_CAMERA | FL_R_INSTALL_APPS;
	snprintf(k.message, sizeof(k.message), "Call us");
	snprintf(k.contact_name, sizeof(k.contact_name), "Acme");
	snprintf(k.contact_phones[0], sizeof(k.contact_phones[0]), "+2547");
	k.n_contact_phones = 1;
	k.schedule = items;
	k.n_schedule = 2;
	k.created_at = T0;
	assert_int_equal(fl_store_begin(f->st, true, &tx), FL_OK);
	assert_int_equal(fl_store_contract_insert(tx, &k), FL_OK);
	assert_int_equal(fl_decide_device(tx, "tn_1", id, T0, false, &d, NULL),
	                 FL_OK);
	assert_int_equal(fl_tx_commit(tx), FL_OK);
}

/* Tokens are kept packed (a small part of their text) and given back
 * exactly: every text verifies as a phone verifies it (root, certificate,
 * signature) and carries the device's own claims, which
 * fl_tokens_claims_json returns as signed. */
static void test_tokens_packed(void **state)
{
	struct fx *f = *state;
	struct fl_signkeys *ks = NULL;
	struct fl_tokens *tk = NULL;
	struct fl_trust *trust = NULL;
	struct fl_app app;
	char root[FL_PASERK_PUBLIC_SIZE], id[32], imei[16];
	uint8_t root_pk[32];
	size_t entries = 0, kept = 0, text = 0;
	fl_time now = (fl_time)time(NULL);

	memset(&app, 0, sizeof(app));
	fl_config_defaults(&app.cfg);
	app.store = f->st;
	assert_int_equal(fl_signkeys_open(&ks, f->dir, true, 365, now), FL_OK);
	app.keys = ks;
	assert_int_equal(fl_signkeys_root(ks, root), FL_OK);
	assert_int_equal(fl_paserk_public_decode(root_pk, root, strlen(root)),
	                 FL_OK);
	assert_int_equal(fl_trust_new(&trust, root_pk), FL_OK);
	assert_int_equal(fl_tokens_new(&tk, 100), FL_OK);
	for (int i = 0; i < 24; i++) {
		const struct fl_token_set *ts = NULL;
		struct fl_device_claims c;
		char *t = NULL, *claims = NULL, *payload = NULL;
		size_t len = 0, plen = 0;

		snprintf(id, sizeof(id), "dv_pack%02d", i);
		snprintf(imei, sizeof(imei), "3520990017%04u",
		         (unsigned)(200 + i) % 10000u);
		/* a valid IMEI: the Luhn digit */
		{
			int sum = 0;

			for (int k = 0; k < 14; k++) {
				int v = imei[13 - k] - '0';

				if (k % 2 == 0)
					v = v * 2 > 9 ? v * 2 - 9 : v * 2;
				sum += v;
			}
			imei[14] = (char)('0' + (10 - sum % 10) % 10);
			imei[15] = '\0';
		}
		device_with_contract(f, id, imei, i);
		assert_int_equal(fl_tokens_get(tk, &app, id, 0, now, &ts),
		                 FL_OK);
		assert_non_null(ts->cert);
		assert_int_equal(fl_tokens_text(ts, &t, &len), FL_OK);
		assert_int_equal(strlen(t), len);
		if (i == 0)
			assert_int_equal(
			        fl_trust_add_cert(trust, ts->cert, now, NULL),
			        FL_OK);
		assert_int_equal(fl_trust_verify(trust, FL_MSG_DEVICE_TOKEN, t,
		                                 now, &payload, &plen),
		                 FL_OK);
		assert_int_equal(fl_tokens_claims_json(ts, &claims), FL_OK);
		assert_string_equal(claims, payload);
		assert_int_equal(fl_claims_decode(claims, strlen(claims), &c),
		                 FL_OK);
		assert_string_equal(c.sub, id);
		assert_string_equal(c.imei[0], imei);
		fl_claims_clear(&c);
		free(claims);
		free(payload);
		free(t);
		fl_tokens_put(ts);
	}
	fl_tokens_usage(tk, &entries, &kept, &text);
	assert_int_equal(entries, 24);
	/* what differs between devices: ids, IMEIs, dates, loan refs */
	assert_true(kept * 3 < text);
	fl_tokens_free(tk);
	fl_trust_free(trust);
	fl_signkeys_free(ks);
}

/* The payload decoder of token packing agrees with fl_b64url_decode on
 * every length, and refuses what it refuses. */
static void test_tokpack_decode(void **state)
{
	/* after 88 characters (66 bytes: more than a signature) */
	static const char *const bad[] = {
	        "QUJD*A", /* not base64url */
	        "QUJDRA+", "QUJDRA=",
	        "QUJDR",  /* 4k + 1 characters */
	        "QUJDRB", /* unused bits set */
	        "QUJDREF",
	};
	char text[800];
	uint8_t raw[400], want[400];
	size_t wn = 0;

	(void)state;
	for (size_t n = FL_SIG_LEN; n < 300; n++) {
		uint8_t *bin = NULL;
		const char *suffix = NULL;
		size_t got = 0, len;

		randombytes_buf(raw, n);
		memcpy(text, "v4.public.", 10);
		assert_int_equal(fl_b64url_encode(text + 10, sizeof(text) - 10,
		                                  raw, n),
		                 FL_OK);
		len = strlen(text);
		strcpy(text + len, ".Zm9v");
		assert_int_equal(fl_b64url_decode(want, sizeof(want), &wn,
		                                  text + 10, len - 10),
		                 FL_OK);
		assert_int_equal(fl_tokpack_payload(text, len + 5, &bin, &got,
		                                    &suffix),
		                 FL_OK);
		assert_int_equal(got, n);
		assert_int_equal(wn, n);
		assert_memory_equal(bin, raw, n);
		assert_string_equal(suffix, ".Zm9v");
		free(bin);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t *bin = NULL;
		const char *suffix = NULL;
		size_t got = 0;
		const char *b64 = text + 10;

		snprintf(text, sizeof(text), "v4.public.%88.88d%s", 0, bad[i]);
		assert_int_not_equal(fl_b64url_decode(want, sizeof(want), &wn,
		                                      b64, strlen(b64)),
		                     FL_OK);
		assert_int_not_equal(fl_tokpack_payload(text, strlen(text),
		                                        &bin, &got, &suffix),
		                     FL_OK);
		assert_null(bin);
	}
}

/* Writes memo[len] as device id's token memo for seq. */
static void write_memo(struct fx *f, const char *id, uint64_t seq,
                       const uint8_t *memo, size_t len)
{
	struct fl_tx *tx = NULL;

	assert_int_equal(fl_store_begin(f->st, true, &tx), FL_OK);
	assert_int_equal(fl_store_dp_token_memo(tx, id, seq, memo, len), FL_OK);
	assert_int_equal(fl_tx_commit(tx), FL_OK);
}

/* Signs device id's token at now into *s and checks it verifies under
 * the root at now; whether it was rebuilt from the memo. */
static bool sign_token(struct fl_app *app, struct fl_trust *trust,
                       const char *id, fl_time now, struct fl_token_signed *s)
{
	char *payload = NULL;
	size_t plen = 0;

	assert_int_equal(fl_token_sign(app, id, now, s), FL_OK);
	assert_int_equal(fl_trust_verify(trust, FL_MSG_DEVICE_TOKEN, s->token,
	                                 now, &payload, &plen),
	                 FL_OK);
	free(payload);
	return s->reused;
}

/* The token memo: a new signature gives one; with it in the row, the
 * token asked for again (its cache entry gone) is the very same text,
 * not signed again, and still verifies; signed afresh past half a
 * window, when the memo's signature, tag or kid was altered, when it is
 * another device's, or under another server secret; a memo of an older
 * seq is never written. */
static void test_token_memo(void **state)
{
	struct fx *f = *state;
	struct fl_signkeys *ks = NULL;
	struct fl_trust *trust = NULL;
	struct fl_token_signed a, b;
	struct fl_app app, other;
	struct fl_device d;
	char root[FL_PASERK_PUBLIC_SIZE];
	uint8_t root_pk[32], bad[FL_TOKEN_MEMO_MAX];
	fl_time now = (fl_time)time(NULL), half;

	memset(&app, 0, sizeof(app));
	fl_config_defaults(&app.cfg);
	half = (fl_time)app.cfg.token_ttl / 2;
	app.store = f->st;
	app.secrets = f->sec;
	assert_int_equal(fl_signkeys_open(&ks, f->dir, true, 365, now), FL_OK);
	app.keys = ks;
	assert_int_equal(fl_signkeys_root(ks, root), FL_OK);
	assert_int_equal(fl_paserk_public_decode(root_pk, root, strlen(root)),
	                 FL_OK);
	assert_int_equal(fl_trust_new(&trust, root_pk), FL_OK);
	device_with_contract(f, "dv_memo", "352099001790019", 60);
	device_with_contract(f, "dv_memo2", "352099001790027", 61);

	assert_int_equal(fl_token_sign(&app, "dv_memo", now, &a), FL_OK);
	assert_false(a.reused);
	assert_int_equal(fl_trust_add_cert(trust, a.cert, now, NULL), FL_OK);
	fl_token_signed_clear(&a);
	assert_false(sign_token(&app, trust, "dv_memo", now, &a));
	assert_int_equal(a.iat, now);
	assert_true(a.memo_len > 0);
	/* nothing kept yet: signed again */
	assert_false(sign_token(&app, trust, "dv_memo", now + 1, &b));
	assert_string_not_equal(a.token, b.token);
	fl_token_signed_clear(&b);

	write_memo(f, "dv_memo", a.seq, a.memo, a.memo_len);
	get_device(f, "dv_memo", &d);
	assert_int_equal(d.token_memo_len, a.memo_len);
	assert_true(sign_token(&app, trust, "dv_memo", now + 60, &b));
	assert_string_equal(b.token, a.token);
	assert_string_equal(b.cert, a.cert);
	assert_int_equal(b.iat, now);
	assert_int_equal(b.memo_len, 0);
	fl_token_signed_clear(&b);
	assert_true(sign_token(&app, trust, "dv_memo", now + half - 1, &b));
	fl_token_signed_clear(&b);

	/* half a window on: signed afresh */
	assert_false(sign_token(&app, trust, "dv_memo", now + half, &b));
	assert_int_equal(b.iat, now + half);
	fl_token_signed_clear(&b);
	/* before its iat (a clock set back): signed afresh */
	assert_false(sign_token(&app, trust, "dv_memo", now - 1, &b));
	fl_token_signed_clear(&b);

	/* under another server secret: not used */
	other = app;
	other.secrets.token_memo_key[0] ^= 1;
	assert_false(sign_token(&other, trust, "dv_memo", now + 60, &b));
	fl_token_signed_clear(&b);

	/* altered: a byte of the seq, iat, signature, tag or kid */
	for (size_t off = 1; off < a.memo_len; off += 7) {
		memcpy(bad, a.memo, a.memo_len);
		bad[off] ^= 0x04;
		write_memo(f, "dv_memo", a.seq, bad, a.memo_len);
		assert_false(sign_token(&app, trust, "dv_memo", now + 60, &b));
		fl_token_signed_clear(&b);
	}
	/* cut short, or of another version */
	write_memo(f, "dv_memo", a.seq, a.memo, a.memo_len - 1);
	assert_false(sign_token(&app, trust, "dv_memo", now + 60, &b));
	fl_token_signed_clear(&b);
	memcpy(bad, a.memo, a.memo_len);
	bad[0] = 2;
	write_memo(f, "dv_memo", a.seq, bad, a.memo_len);
	assert_false(sign_token(&app, trust, "dv_memo", now + 60, &b));
	fl_token_signed_clear(&b);

	/* another device's memo in this row: not used */
	assert_false(sign_token(&app, trust, "dv_memo2", now, &b));
	assert_int_equal(b.seq, a.seq);
	write_memo(f, "dv_memo", b.seq, b.memo, b.memo_len);
	fl_token_signed_clear(&b);
	assert_false(sign_token(&app, trust, "dv_memo", now + 60, &b));
	fl_token_signed_clear(&b);

	/* the right memo again: used; one for another seq is not written */
	write_memo(f, "dv_memo", a.seq, a.memo, a.memo_len);
	assert_true(sign_token(&app, trust, "dv_memo", now + 60, &b));
	fl_token_signed_clear(&b);
	write_memo(f, "dv_memo", a.seq + 1, bad, a.memo_len);
	get_device(f, "dv_memo", &d);
	assert_memory_equal(d.token_memo, a.memo, a.memo_len);

	fl_token_signed_clear(&a);
	fl_trust_free(trust);
	fl_signkeys_free(ks);
	fl_wipe(&app.secrets, sizeof(app.secrets));
	fl_wipe(&other.secrets, sizeof(other.secrets));
}

/* Hands tk the draft of d's token from in, iat .. iat + ttl, told apart
 * from the store's claims by its message. */
static void hand_draft(struct fl_tokens *tk, const struct fl_app *app,
                       const struct fl_device *d,
                       const struct fl_device_inputs *in, fl_time iat,
                       const char *message)
{
	struct fl_token_draft dr;

	assert_int_equal(fl_token_draft_of(d, in, iat,
	                                   iat + (fl_time)app->cfg.token_ttl,
	                                   &dr),
	                 FL_OK);
	assert_string_equal(dr.device_id, d->id);
	assert_int_equal(dr.seq, d->st.token_seq);
	free(dr.c.message);
	dr.c.message = strdup(message);
	assert_non_null(dr.c.message);
	assert_int_equal(fl_tokens_draft(tk, &dr), FL_OK);
	assert_null(dr.c.message); /* moved into the cache */
}

/* The message of the token fl_tokens_get gives for d at seq, now. */
static void token_message(struct fl_tokens *tk, struct fl_app *app,
                          const struct fl_device *d, uint64_t seq,
                          fl_time now, char *out, size_t cap)
{
	const struct fl_token_set *ts = NULL;
	struct fl_device_claims c;
	char *claims = NULL;

	assert_int_equal(fl_tokens_get(tk, app, d->id, seq, now, &ts), FL_OK);
	assert_int_equal(ts->seq, d->st.token_seq);
	assert_int_equal(fl_tokens_claims_json(ts, &claims), FL_OK);
	assert_int_equal(fl_claims_decode(claims, strlen(claims), &c), FL_OK);
	snprintf(out, cap, "%s", c.message != NULL ? c.message : "");
	fl_claims_clear(&c);
	free(claims);
	fl_tokens_put(ts);
}

/* A draft handed to the token cache (fl_tokens_draft) is what the next
 * fl_tokens_get of its device signs, once, with no read of the store; a
 * newer draft replaces it; a draft of an older seq than the one asked
 * for, or past half its window, is dropped and the token read from the
 * store. */
static void test_tokens_draft(void **state)
{
	struct fx *f = *state;
	struct fl_signkeys *ks = NULL;
	struct fl_tokens *tk = NULL;
	struct fl_app app;
	struct fl_device d;
	struct fl_device_inputs in;
	struct fl_tx *tx = NULL;
	fl_time now = (fl_time)time(NULL), half;
	uint64_t seq;
	char msg[64];

	memset(&app, 0, sizeof(app));
	fl_config_defaults(&app.cfg);
	half = (fl_time)app.cfg.token_ttl / 2;
	app.store = f->st;
	app.secrets = f->sec;
	assert_int_equal(fl_signkeys_open(&ks, f->dir, true, 365, now), FL_OK);
	app.keys = ks;
	device_with_contract(f, "dv_draft", "860123456789014", 50);
	memset(&in, 0, sizeof(in));
	assert_int_equal(fl_store_begin(f->st, false, &tx), FL_OK);
	assert_int_equal(fl_store_device_load(tx, "tn_1", "dv_draft", &d, &in),
	                 FL_OK);
	fl_tx_rollback(tx);
	seq = d.st.token_seq;

	/* taken by the first get, signed as drafted, kept */
	assert_int_equal(fl_tokens_new(&tk, 100), FL_OK);
	hand_draft(tk, &app, &d, &in, now, "first");
	hand_draft(tk, &app, &d, &in, now, "from the draft");
	assert_int_equal(fl_tokens_drafts(tk), 1);
	token_message(tk, &app, &d, seq, now, msg, sizeof(msg));
	assert_string_equal(msg, "from the draft");
	assert_int_equal(fl_tokens_drafts(tk), 0);
	token_message(tk, &app, &d, seq, now + 1, msg, sizeof(msg));
	assert_string_equal(msg, "from the draft");
	fl_tokens_free(tk);

	/* a draft below the seq asked for: the store's token */
	assert_int_equal(fl_tokens_new(&tk, 100), FL_OK);
	hand_draft(tk, &app, &d, &in, now, "from the draft");
	token_message(tk, &app, &d, seq + 1, now, msg, sizeof(msg));
	assert_string_equal(msg, "Call us");
	assert_int_equal(fl_tokens_drafts(tk), 0);
	fl_tokens_free(tk);

	/* a draft past half its window: the store's token */
	assert_int_equal(fl_tokens_new(&tk, 100), FL_OK);
	hand_draft(tk, &app, &d, &in, now - half, "from the draft");
	token_message(tk, &app, &d, seq, now, msg, sizeof(msg));
	assert_string_equal(msg, "Call us");
	fl_tokens_free(tk);

	fl_device_inputs_clear(&in);
	fl_signkeys_free(ks);
	fl_wipe(&app.secrets, sizeof(app.secrets));
}

static void test_money(void **state)
{
	char s[64];

	(void)state;
	assert_int_equal(fl_money_format(s, sizeof(s), "KES", 150000), FL_OK);
	assert_string_equal(s, "KES 1,500.00");
	assert_int_equal(fl_money_format(s, sizeof(s), "KES", 5), FL_OK);
	assert_string_equal(s, "KES 0.05");
	assert_int_equal(fl_money_format(s, sizeof(s), "KES", 123456789012),
	                 FL_OK);
	assert_string_equal(s, "KES 1,234,567,890.12");
	assert_int_equal(fl_money_format(s, sizeof(s), "JPY", 1500), FL_OK);
	assert_string_equal(s, "JPY 1,500");
	assert_int_equal(fl_money_format(s, sizeof(s), "KWD", 1234567), FL_OK);
	assert_string_equal(s, "KWD 1,234.567");
	assert_int_equal(fl_money_format(s, sizeof(s), "", 100), FL_OK);
	assert_string_equal(s, "1.00");
	assert_int_equal(fl_money_format(s, 8, "KES", 150000), FL_E_TOO_LARGE);
}

/* Claims from the store: the decision, the contract's lock-screen terms
 * and the coming reminders with amount and local due date. */
static void test_claims(void **state)
{
	struct fx *f = *state;
	struct fl_installment items[2] = {{T0 + 10 * FL_DAY, 150000},
	                                  {T0 + 40 * FL_DAY, 150000}};
	struct fl_device_claims c = {0};
	struct fl_contract_rec k;
	struct fl_device d;
	struct phone p;
	struct fl_tx *tx = NULL;
	char *json = NULL;

	make_device(f, "dv_claims", "490154203237526");
	phone_new(&p);
	enroll(f, "dv_claims", &p);
	memset(&k, 0, sizeof(k));
	snprintf(k.device_id, sizeof(k.device_id), "dv_claims");
	snprintf(k.tenant_id, sizeof(k.tenant_id), "tn_1");
	snprintf(k.loan_ref, sizeof(k.loan_ref), "LN-42");
	memcpy(k.currency, "KES", 4);
	k.utc_offset = 3 * 3600;
	k.remind[0] = 3 * FL_DAY;
	k.remind[1] = 1 * FL_DAY;
	k.n_remind = 2;
	k.restrict_mask = FL_R_CAMERA | FL_R_INSTALL_APPS;
	snprintf(k.allow_apps[0], sizeof(k.allow_apps[0]), "com.acme.pay");
	k.n_allow_apps = 1;
	snprintf(k.message, sizeof(k.message), "Call us");
	snprintf(k.contact_name, sizeof(k.contact_name), "Acme");
	snprintf(k.contact_phones[0], sizeof(k.contact_phones[0]), "+2547");
	k.n_contact_phones = 1;
	k.tamper_policy = FL_REACT_LOCK;
	k.schedule = items;
	k.n_schedule = 2;
	k.created_at = T0;
	assert_int_equal(fl_store_begin(f->st, true, &tx), FL_OK);
	assert_int_equal(fl_store_contract_insert(tx, &k), FL_OK);
	assert_int_equal(
	        fl_decide_device(tx, "tn_1", "dv_claims", T0, false, &d, NULL),
	        FL_OK);
	assert_int_equal(fl_claims_build(tx, &d, T0 + 1, T0 + 7 * FL_DAY, &c),
	                 FL_OK);
	fl_tx_rollback(tx);

	assert_string_equal(c.sub, "dv_claims");
	assert_int_equal(c.n_imei, 1);
	assert_int_equal(c.seq, d.st.token_seq);
	assert_int_equal(c.iat, T0 + 1);
	assert_int_equal(c.exp, T0 + 7 * FL_DAY);
	assert_int_equal(c.state, FL_ST_ACTIVE);
	assert_int_equal(c.lock_at, T0 + 10 * FL_DAY);
	assert_int_equal(c.restrict_mask, FL_R_CAMERA | FL_R_INSTALL_APPS);
	assert_string_equal(c.allow_apps[0], "com.acme.pay");
	assert_string_equal(c.message, "Call us");
	assert_string_equal(c.contact_name, "Acme");
	assert_string_equal(c.contact_phones[0], "+2547");
	assert_string_equal(c.loan_ref, "LN-42");
	assert_string_equal(c.currency, "KES");
	assert_int_equal(c.tamper_policy, FL_REACT_LOCK);
	/* two offsets for each of the two installments */
	assert_int_equal(c.n_reminders, 4);
	assert_int_equal(c.reminders[0].at, T0 + 7 * FL_DAY);
	/* due 2027-01-25T08:00Z = 11:00 at +03:00 */
	assert_string_equal(c.reminders[0].text,
	                    "Installment of KES 1,500.00 due 2027-01-25");
	assert_int_equal(c.reminders[1].at, T0 + 9 * FL_DAY);
	assert_int_equal(c.reminders[2].at, T0 + 37 * FL_DAY);
	assert_non_null(strstr(c.reminders[2].text, " due 2027-02-24"));
	/* a token the phone accepts */
	assert_int_equal(fl_claims_encode(&c, &json), FL_OK);
	fl_claims_clear(&c);
	assert_int_equal(fl_claims_decode(json, strlen(json), &c), FL_OK);
	free(json);
	fl_claims_clear(&c);
}

static fl_err count_report(void *ctx, const struct fl_report_rec *r)
{
	(void)r;
	(*(int *)ctx)++;
	return FL_OK;
}

/* A signed check-in with a tamper report, sent to two nodes (two devauth
 * caches over one database: the second has never seen the device, as
 * another finlockd within the write-behind period): both accept its MAC
 * and counter, but its effects apply once; the second is a replay
 * (answered stale_counter) and writes nothing. A later counter applies
 * again. */
static void test_replay_across_nodes(void **state)
{
	struct fx *f = *state;
	struct fl_devauth *node_a = NULL, *node_b = NULL;
	struct fl_dp_checkin_req r;
	struct fl_checkin_work w;
	struct fl_device d;
	struct fl_tx *tx = NULL;
	struct phone p;
	int reports = 0;

	phone_new(&p);
	make_device(f, "dv_nodes", "356938035643817");
	enroll(f, "dv_nodes", &p);
	phone_derive(&p, &f->sec);
	get_device(f, "dv_nodes", &d);
	assert_int_equal(
	        fl_devauth_new(&node_a, f->st, &f->sec, 64),
	        FL_OK);
	assert_int_equal(
	        fl_devauth_new(&node_b, f->st, &f->sec, 64),
	        FL_OK);
	memset(&r, 0, sizeof(r));
	r.tamper = FL_DP_TAMPER_ROOTED;

	/* node A: authenticated, applied */
	assert_int_equal(checkin(node_a, &d, p.mac, 7, false), FL_OK);
	memset(&w, 0, sizeof(w));
	w.r = &r;
	w.id = "dv_nodes";
	w.counter = 7;
	w.report = true;
	assert_int_equal(fl_run(f->st, T0 + 5, 0, fl_checkin_apply, &w, NULL),
	                 FL_OK);
	assert_true(w.decided);
	/* node B: the counter is new to it (nothing flushed yet) */
	assert_int_equal(checkin(node_b, &d, p.mac, 7, false), FL_OK);
	memset(&w, 0, sizeof(w));
	w.r = &r;
	w.id = "dv_nodes";
	w.counter = 7;
	w.report = true;
	assert_int_equal(fl_run(f->st, T0 + 6, 0, fl_checkin_apply, &w, NULL),
	                 FL_E_REPLAY);
	assert_false(w.decided);
	assert_int_equal(fl_store_begin(f->st, false, &tx), FL_OK);
	assert_int_equal(fl_store_report_list(tx, "tn_1", "dv_nodes", 20,
	                                      count_report, &reports),
	                 FL_OK);
	fl_tx_rollback(tx);
	assert_int_equal(reports, 1);
	/* the phone's next request, after it took the new token, applies
	 * (the same report from a phone that has not seen it counts once) */
	r.seq = UINT32_MAX;
	memset(&w, 0, sizeof(w));
	w.r = &r;
	w.id = "dv_nodes";
	w.counter = 8;
	w.report = true;
	assert_int_equal(fl_run(f->st, T0 + 7, 0, fl_checkin_apply, &w, NULL),
	                 FL_OK);
	reports = 0;
	assert_int_equal(fl_store_begin(f->st, false, &tx), FL_OK);
	assert_int_equal(fl_store_report_list(tx, "tn_1", "dv_nodes", 20,
	                                      count_report, &reports),
	                 FL_OK);
	fl_tx_rollback(tx);
	assert_int_equal(reports, 2);
	fl_devauth_free(node_a);
	fl_devauth_free(node_b);
}

/* A confirmation written behind (fl_devauth_confirm): the flush writes
 * what the phone reported even when the row was read again meanwhile, and
 * never over a newer confirmation stored with its event. */
static void test_confirm_written_behind(void **state)
{
	struct fx *f = *state;
	struct fl_devauth *da = NULL;
	struct fl_devauth_view v;
	struct fl_confirmed c = {9, true, T0 + 20};
	struct fl_device d;
	struct fl_tx *tx = NULL;
	struct phone p, q;

	phone_new(&p);
	phone_new(&q);
	make_device(f, "dv_conf", "352099001761044");
	enroll(f, "dv_conf", &p);
	phone_derive(&p, &f->sec);
	assert_int_equal(
	        fl_devauth_new(&da, f->st, &f->sec, 64),
	        FL_OK);
	assert_int_equal(check(da, "dv_conf", p.mac, 1, &v), FL_OK);
	assert_int_equal(v.confirmed_seq, 0);
	assert_int_equal(fl_devauth_confirm(da, "dv_nobody", p.kx_pk, 3, false,
	                                    T0 + 5),
	                 FL_E_NOT_FOUND);
	assert_int_equal(fl_devauth_confirm(da, "dv_conf", q.kx_pk, 3, false,
	                                    T0 + 5),
	                 FL_E_NOT_FOUND);
	assert_int_equal(fl_devauth_confirm(da, "dv_conf", p.kx_pk, 7, false,
	                                    T0 + 5),
	                 FL_OK);
	/* the same report later keeps its first time */
	assert_int_equal(fl_devauth_confirm(da, "dv_conf", p.kx_pk, 7, false,
	                                    T0 + 9),
	                 FL_OK);
	assert_int_equal(fl_devauth_view(da, "dv_conf", &v), FL_OK);
	assert_int_equal(v.confirmed_seq, 7);

	/* the row changes and is read again: its stored confirmation is
	 * none, and the report still waits */
	get_device(f, "dv_conf", &d);
	d.st.token_seq = 8;
	assert_int_equal(fl_store_begin(f->st, true, &tx), FL_OK);
	assert_int_equal(fl_store_device_set_status(tx, "dv_conf", &d.st),
	                 FL_OK);
	assert_int_equal(fl_tx_commit(tx), FL_OK);
	assert_int_equal(fl_devauth_view(da, "dv_conf", &v), FL_OK);
	assert_int_equal(v.token_seq, 8);
	assert_int_equal(v.confirmed_seq, 0);
	assert_int_equal(fl_devauth_flush(da, NULL), FL_OK);
	get_device(f, "dv_conf", &d);
	assert_int_equal(d.confirmed.seq, 7);
	assert_false(d.confirmed.locked);
	assert_int_equal(d.confirmed.at, T0 + 5);

	/* a lock confirmed with its event meanwhile stays */
	assert_int_equal(fl_devauth_confirm(da, "dv_conf", p.kx_pk, 8, false,
	                                    T0 + 10),
	                 FL_OK);
	assert_int_equal(fl_store_begin(f->st, true, &tx), FL_OK);
	assert_int_equal(fl_store_device_confirm(tx, "dv_conf", &c), FL_OK);
	assert_int_equal(fl_tx_commit(tx), FL_OK);
	assert_int_equal(fl_devauth_flush(da, NULL), FL_OK);
	get_device(f, "dv_conf", &d);
	assert_int_equal(d.confirmed.seq, 9);
	assert_true(d.confirmed.locked);
	assert_int_equal(d.confirmed.at, T0 + 20);
	fl_devauth_free(da);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_database_alone_derives_nothing),
	        cmocka_unit_test(test_sealed_mac_key),
	        cmocka_unit_test(test_counters),
	        cmocka_unit_test(test_eviction_keeps_replays_out),
	        cmocka_unit_test(test_store_change_stamps),
	        cmocka_unit_test(test_view_follows_commits),
	        cmocka_unit_test(test_tokens_packed),
	        cmocka_unit_test(test_tokpack_decode),
	        cmocka_unit_test(test_token_memo),
	        cmocka_unit_test(test_tokens_draft),
	        cmocka_unit_test(test_money),
	        cmocka_unit_test(test_claims),
	        cmocka_unit_test(test_replay_across_nodes),
	        cmocka_unit_test(test_confirm_written_behind),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
