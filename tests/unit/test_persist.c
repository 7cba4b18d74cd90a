/* Unit tests for agent/persist: the state records, the seal (by the phone's
 * secure hardware), the A/B slots and the monotonic counter, copies put
 * back or taken from another phone, and a write cut at every byte offset
 * and at every step recovering the old or the new state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/persist.h"
#include "core/crypto.h"
#include "support/agent_fakehal.h"

static int setup(void **state)
{
	(void)state;
	return fl_crypto_init() == FL_OK ? 0 : -1;
}

static char *dup(const char *s)
{
	char *d = strdup(s);
	assert_non_null(d);
	return d;
}

/* A state with every field set to something recognisable. */
static void fill(struct fl_pstate *s, uint64_t counter)
{
	memset(s, 0, sizeof(*s));
	s->phase = FL_AGENT_ENROLLED;
	strcpy(s->device_id, "dev_8f3k2");
	s->counter = counter;
	s->seq = 42;
	s->token = dup("v4.public.token-held");
	s->distrust = true;
	s->claims_from_lookup = true;
	s->enroll_pending = true;
	memset(s->pend_sign_pk, 0xa1, sizeof(s->pend_sign_pk));
	memset(s->pend_kx_pk, 0xb2, sizeof(s->pend_kx_pk));
	s->certs[0] = dup("v4.public.cert-one");
	s->certs[1] = dup("v4.public.cert-two");
	s->n_certs = 2;
	s->revs[0] = dup("v4.public.rev-one");
	s->n_revs = 1;
	s->reset_iat = 1795000000;
	s->tt_known = true;
	s->tt_base = 1795435200;
	s->tt_mono = 123456789;
	s->tt_boot = 0xfeedfacecafebeefULL;
	strcpy(s->iccid_known, "8925402000000000001");
	strcpy(s->iccid_now, "8925402000000000002");
	s->sim_pending = true;
	s->tamper_seen = FL_DP_TAMPER_ROOTED | FL_DP_TAMPER_BOOTLOADER;
	s->tamper_pending = FL_DP_TAMPER_BOOTLOADER;
	s->react_lock = FL_REACT_SIM;
	s->react_at = 1795435000;
	s->receipt = dup("v4.public.receipt");
}

static void assert_same(const struct fl_pstate *a, const struct fl_pstate *b)
{
	uint8_t *ea, *eb;
	size_t la, lb;

	assert_int_equal(fl_pstate_encode(a, &ea, &la), FL_OK);
	assert_int_equal(fl_pstate_encode(b, &eb, &lb), FL_OK);
	assert_int_equal(la, lb);
	assert_memory_equal(ea, eb, la);
	free(ea);
	free(eb);
}

static void test_roundtrip(void **state)
{
	(void)state;
	struct fl_pstate s, d, c;
	uint8_t *buf;
	size_t len;

	fill(&s, 9);
	assert_int_equal(fl_pstate_encode(&s, &buf, &len), FL_OK);
	assert_int_equal(fl_pstate_decode(buf, len, &d), FL_OK);
	assert_int_equal(d.phase, FL_AGENT_ENROLLED);
	assert_string_equal(d.device_id, "dev_8f3k2");
	assert_int_equal(d.counter, 9);
	assert_int_equal(d.seq, 42);
	assert_string_equal(d.token, s.token);
	assert_true(d.distrust);
	assert_true(d.claims_from_lookup);
	assert_true(d.enroll_pending);
	assert_memory_equal(d.pend_sign_pk, s.pend_sign_pk, 32);
	assert_memory_equal(d.pend_kx_pk, s.pend_kx_pk, 32);
	assert_int_equal(d.n_certs, 2);
	assert_string_equal(d.certs[1], "v4.public.cert-two");
	assert_int_equal(d.n_revs, 1);
	assert_string_equal(d.revs[0], "v4.public.rev-one");
	assert_int_equal(d.reset_iat, s.reset_iat);
	assert_true(d.tt_known);
	assert_int_equal(d.tt_base, s.tt_base);
	assert_int_equal(d.tt_mono, s.tt_mono);
	assert_true(d.tt_boot == s.tt_boot);
	assert_string_equal(d.iccid_known, s.iccid_known);
	assert_string_equal(d.iccid_now, s.iccid_now);
	assert_true(d.sim_pending);
	assert_int_equal(d.tamper_seen, 3);
	assert_int_equal(d.tamper_pending, 2);
	assert_int_equal(d.react_lock, FL_REACT_SIM);
	assert_int_equal(d.react_at, s.react_at);
	assert_string_equal(d.receipt, "v4.public.receipt");

	assert_int_equal(fl_pstate_copy(&c, &s), FL_OK);
	assert_same(&c, &s);
	free(buf);
	fl_pstate_clear(&s);
	fl_pstate_clear(&d);
	fl_pstate_clear(&c);
	fl_pstate_clear(NULL);
}

/* Appends one record to buf at *len. */
static void rec(uint8_t *buf, size_t *len, uint16_t tag, const void *v,
                size_t n)
{
	buf[*len] = (uint8_t)tag;
	buf[*len + 1] = (uint8_t)(tag >> 8);
	for (int i = 0; i < 4; i++)
		buf[*len + 2 + i] = (uint8_t)(n >> (8 * i));
	memcpy(buf + *len + 6, v, n);
	*len += 6 + n;
}

static void test_decode_rejects(void **state)
{
	(void)state;
	struct fl_pstate s;
	uint8_t b[256];
	size_t n;
	uint8_t one = 1, two = 2, ph = FL_AGENT_ENROLLED, big = 9;
	uint8_t u64[8] = {0};

	/* minimal valid: a phase */
	n = 0;
	rec(b, &n, 1, &ph, 1);
	assert_int_equal(fl_pstate_decode(b, n, &s), FL_OK);
	assert_int_equal(s.phase, FL_AGENT_ENROLLED);
	fl_pstate_clear(&s);

	/* an unknown ordinary tag is skipped */
	rec(b, &n, 0x7000, "future", 6);
	assert_int_equal(fl_pstate_decode(b, n, &s), FL_OK);
	fl_pstate_clear(&s);

	/* an unknown critical tag is not */
	n = 0;
	rec(b, &n, 1, &ph, 1);
	rec(b, &n, 0x8001, "x", 1);
	assert_int_equal(fl_pstate_decode(b, n, &s), FL_E_CORRUPT);

	/* no phase */
	n = 0;
	rec(b, &n, 4, u64, 8);
	assert_int_equal(fl_pstate_decode(b, n, &s), FL_E_CORRUPT);

	/* phase out of range */
	n = 0;
	rec(b, &n, 1, &big, 1);
	assert_int_equal(fl_pstate_decode(b, n, &s), FL_E_CORRUPT);

	/* the same scalar twice */
	n = 0;
	rec(b, &n, 1, &ph, 1);
	rec(b, &n, 1, &ph, 1);
	assert_int_equal(fl_pstate_decode(b, n, &s), FL_E_CORRUPT);

	/* a boolean that is not 0 or 1 */
	n = 0;
	rec(b, &n, 1, &ph, 1);
	rec(b, &n, 13, &two, 1);
	assert_int_equal(fl_pstate_decode(b, n, &s), FL_E_CORRUPT);

	/* an integer of the wrong size */
	n = 0;
	rec(b, &n, 1, &ph, 1);
	rec(b, &n, 3, u64, 4);
	assert_int_equal(fl_pstate_decode(b, n, &s), FL_E_CORRUPT);

	/* a device id with a character ids never have */
	n = 0;
	rec(b, &n, 1, &ph, 1);
	rec(b, &n, 2, "dev/1", 5);
	assert_int_equal(fl_pstate_decode(b, n, &s), FL_E_CORRUPT);

	/* a string with a NUL in it */
	n = 0;
	rec(b, &n, 1, &ph, 1);
	rec(b, &n, 29, "a\0b", 3);
	assert_int_equal(fl_pstate_decode(b, n, &s), FL_E_CORRUPT);

	/* an ICCID that is not digits */
	n = 0;
	rec(b, &n, 1, &ph, 1);
	rec(b, &n, 21, "89254x", 6);
	assert_int_equal(fl_pstate_decode(b, n, &s), FL_E_CORRUPT);

	/* pending enrollment without its keys */
	n = 0;
	rec(b, &n, 1, &ph, 1);
	rec(b, &n, 7, &one, 1);
	assert_int_equal(fl_pstate_decode(b, n, &s), FL_E_CORRUPT);

	/* a record running past the end, and a dangling header */
	n = 0;
	rec(b, &n, 1, &ph, 1);
	rec(b, &n, 29, "abc", 3);
	assert_int_equal(fl_pstate_decode(b, n - 1, &s), FL_E_CORRUPT);
	assert_int_equal(fl_pstate_decode(b, 7 + 3, &s), FL_E_CORRUPT);
	assert_null(s.token);
}

static void test_decode_caps(void **state)
{
	(void)state;
	struct fl_pstate s;
	uint8_t *b = malloc(64 * 1024);
	size_t n = 0;
	uint8_t ph = FL_AGENT_ENROLLED;

	assert_non_null(b);
	rec(b, &n, 1, &ph, 1);
	for (int i = 0; i < FL_PERSIST_MAX_CERTS; i++)
		rec(b, &n, 10, "v4.public.c", 11);
	assert_int_equal(fl_pstate_decode(b, n, &s), FL_OK);
	assert_int_equal(s.n_certs, FL_PERSIST_MAX_CERTS);
	fl_pstate_clear(&s);
	rec(b, &n, 10, "v4.public.c", 11);
	assert_int_equal(fl_pstate_decode(b, n, &s), FL_E_CORRUPT);
	assert_int_equal(s.n_certs, 0);
	free(b);
}

static void test_seal(void **state)
{
	(void)state;
	struct fl_fakehal *fh = fl_fakehal_new(), *other = fl_fakehal_new();
	struct fl_hal hal, hal2;
	uint8_t payload[40], *sealed, *pl;
	size_t slen, plen;
	uint64_t gen;

	assert_non_null(fh);
	assert_non_null(other);
	fl_fakehal_hal(fh, &hal);
	fl_fakehal_hal(other, &hal2);
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)i;
	assert_int_equal(fl_persist_seal(&hal, 77, payload, sizeof(payload),
	                                 &sealed, &slen),
	                 FL_OK);
	assert_int_equal(slen, FL_PERSIST_HDR_LEN + sizeof(payload) +
	                               FL_HAL_SEAL_OVERHEAD);
	assert_memory_equal(sealed, "FLAS", 4);
	/* sealed means encrypted too: the payload is not in the copy */
	for (size_t i = 0; i + 8 <= slen; i++)
		assert_int_not_equal(memcmp(sealed + i, payload + 8, 8), 0);
	assert_int_equal(
	        fl_persist_unseal(&hal, sealed, slen, &gen, &pl, &plen), FL_OK);
	assert_int_equal(gen, 77);
	assert_int_equal(plen, sizeof(payload));
	assert_memory_equal(pl, payload, plen);
	free(pl);

	/* another phone cannot open it */
	assert_int_equal(
	        fl_persist_unseal(&hal2, sealed, slen, &gen, &pl, &plen),
	        FL_E_CORRUPT);
	/* every single bit flipped anywhere is caught (the generation in
	 * the header included) */
	for (size_t i = 0; i < slen * 8; i++) {
		sealed[i / 8] ^= (uint8_t)(1u << (i % 8));
		assert_int_equal(
		        fl_persist_unseal(&hal, sealed, slen, &gen, &pl, &plen),
		        FL_E_CORRUPT);
		assert_null(pl);
		sealed[i / 8] ^= (uint8_t)(1u << (i % 8));
	}
	/* every truncation is caught */
	for (size_t n = 0; n < slen; n++)
		assert_int_equal(
		        fl_persist_unseal(&hal, sealed, n, &gen, &pl, &plen),
		        FL_E_CORRUPT);
	free(sealed);
	fl_fakehal_free(fh);
	fl_fakehal_free(other);
}

static void test_slots(void **state)
{
	(void)state;
	struct fl_fakehal *fh = fl_fakehal_new();
	struct fl_hal hal;
	struct fl_pstate s, d;
	struct fl_persist_pos pos;
	bool rb = true;

	assert_non_null(fh);
	fl_fakehal_hal(fh, &hal);
	assert_int_equal(fl_persist_load(&hal, &d, &pos, &rb), FL_E_NOT_FOUND);
	assert_int_equal(pos.slot, -1);

	for (uint64_t i = 1; i <= 5; i++) {
		fill(&s, i);
		assert_int_equal(fl_persist_store(&hal, &s, &pos), FL_OK);
		assert_int_equal(pos.gen, i);
		assert_int_equal(fh->tee.counter, i);
		/* generations alternate between the slots */
		assert_int_equal(pos.slot, i % 2 == 1 ? 0 : 1);
		assert_int_equal(fl_persist_load(&hal, &d, &pos, &rb), FL_OK);
		assert_false(rb);
		assert_int_equal(d.counter, i);
		assert_int_equal(pos.gen, i);
		fl_pstate_clear(&s);
		fl_pstate_clear(&d);
	}
	assert_non_null(fl_fakehal_blob(fh, FL_PERSIST_SLOT_A));
	assert_non_null(fl_fakehal_blob(fh, FL_PERSIST_SLOT_B));

	/* garbage in the newer slot: the older one is loaded, and it is an
	 * older copy than the counter names */
	assert_int_equal(fl_fakehal_blob_set(fh, FL_PERSIST_SLOT_A,
	                                     (const uint8_t *)"junk", 4),
	                 0);
	assert_int_equal(fl_persist_load(&hal, &d, &pos, &rb), FL_OK);
	assert_true(rb);
	assert_int_equal(d.counter, 4);
	fl_pstate_clear(&d);
	/* the next store counts on above the counter, into the slot that
	 * held garbage */
	fill(&s, 6);
	assert_int_equal(fl_persist_store(&hal, &s, &pos), FL_OK);
	assert_int_equal(pos.slot, 0);
	assert_int_equal(pos.gen, 6);
	assert_int_equal(fl_persist_load(&hal, &d, &pos, &rb), FL_OK);
	assert_false(rb);
	assert_int_equal(d.counter, 6);
	fl_pstate_clear(&d);
	fl_pstate_clear(&s);

	/* a read failure is an error, never "no state" */
	fh->fail_reads = true;
	assert_int_equal(fl_persist_load(&hal, &d, &pos, &rb), FL_E_IO);
	fh->fail_reads = false;

	/* a blob too big to be ours is an invalid copy */
	{
		uint8_t *big = calloc(1, FL_PERSIST_MAX_BLOB + 1);
		assert_non_null(big);
		assert_int_equal(fl_fakehal_blob_set(fh, FL_PERSIST_SLOT_B, big,
		                                     FL_PERSIST_MAX_BLOB + 1),
		                 0);
		free(big);
		assert_int_equal(fl_persist_load(&hal, &d, &pos, &rb), FL_OK);
		assert_int_equal(d.counter, 6);
		fl_pstate_clear(&d);
	}
	fl_fakehal_free(fh);
}

/* Copies of a slot: what a customer with the storage in hand can do. */
static void copy_blob(struct fl_fakehal *to, const struct fl_fakehal *from,
                      const char *name, uint8_t **keep, size_t *keep_len)
{
	const struct fh_blob *b = fl_fakehal_blob(from, name);

	assert_non_null(b);
	if (keep != NULL) {
		*keep = malloc(b->len);
		assert_non_null(*keep);
		memcpy(*keep, b->data, b->len);
		*keep_len = b->len;
	}
	if (to != NULL)
		assert_int_equal(fl_fakehal_blob_set(to, name, b->data, b->len),
		                 0);
}

static void test_rollback_and_foreign(void **state)
{
	(void)state;
	struct fl_fakehal *fh = fl_fakehal_new(), *other = fl_fakehal_new();
	struct fl_hal hal, hal2;
	struct fl_pstate s, d;
	struct fl_persist_pos pos = {0, -1};
	uint8_t *a_old = NULL, *b_old = NULL;
	size_t a_len = 0, b_len = 0;
	bool rb = false;

	assert_non_null(fh);
	assert_non_null(other);
	fl_fakehal_hal(fh, &hal);
	fl_fakehal_hal(other, &hal2);
	for (uint64_t i = 1; i <= 2; i++) {
		fill(&s, i);
		assert_int_equal(fl_persist_store(&hal, &s, &pos), FL_OK);
		fl_pstate_clear(&s);
	}
	/* the customer copies both slots out (counters 1 and 2) */
	copy_blob(NULL, fh, FL_PERSIST_SLOT_A, &a_old, &a_len);
	copy_blob(NULL, fh, FL_PERSIST_SLOT_B, &b_old, &b_len);
	for (uint64_t i = 3; i <= 4; i++) {
		fill(&s, i);
		assert_int_equal(fl_persist_store(&hal, &s, &pos), FL_OK);
		fl_pstate_clear(&s);
	}
	/* ... and puts them back: both older than the counter */
	assert_int_equal(
	        fl_fakehal_blob_set(fh, FL_PERSIST_SLOT_A, a_old, a_len), 0);
	assert_int_equal(
	        fl_fakehal_blob_set(fh, FL_PERSIST_SLOT_B, b_old, b_len), 0);
	assert_int_equal(fl_persist_load(&hal, &d, &pos, &rb), FL_OK);
	assert_true(rb);
	assert_int_equal(d.counter, 2);
	/* the next store counts on from the counter, not from the copy */
	assert_int_equal(pos.gen, 4);
	assert_int_equal(fl_persist_store(&hal, &d, &pos), FL_OK);
	assert_int_equal(pos.gen, 5);
	fl_pstate_clear(&d);
	assert_int_equal(fl_persist_load(&hal, &d, &pos, &rb), FL_OK);
	assert_false(rb);
	fl_pstate_clear(&d);

	/* one slot put back, the newest kept: the newest wins */
	assert_int_equal(
	        fl_fakehal_blob_set(fh, FL_PERSIST_SLOT_B, b_old, b_len), 0);
	assert_int_equal(fl_persist_load(&hal, &d, &pos, &rb), FL_OK);
	assert_false(rb);
	fl_pstate_clear(&d);

	/* another phone's slots, copied whole: nothing this phone opens */
	copy_blob(other, fh, FL_PERSIST_SLOT_A, NULL, NULL);
	copy_blob(other, fh, FL_PERSIST_SLOT_B, NULL, NULL);
	assert_int_equal(fl_persist_load(&hal2, &d, &pos, &rb), FL_E_NOT_FOUND);
	free(a_old);
	free(b_old);
	fl_fakehal_free(fh);
	fl_fakehal_free(other);
}

/* Stores old (twice, so both slots hold valid copies, or once when
 * one_slot), then new with the write cut after `cut` bytes; a load must give
 * old, or new when the whole write got through. */
static void cut_once(enum fh_cut_mode mode, bool one_slot, long cut,
                     size_t *full_len)
{
	struct fl_fakehal *fh = fl_fakehal_new();
	struct fl_hal hal;
	struct fl_pstate old, nw, d;
	struct fl_persist_pos pos = {0, -1};
	uint8_t *sealed_len_probe = NULL;
	size_t plen = 0;
	bool rb = true;
	fl_err err;

	assert_non_null(fh);
	fl_fakehal_hal(fh, &hal);
	fill(&old, 100);
	fill(&nw, 101);
	free(nw.token);
	nw.token = dup("v4.public.a-much-longer-token-string-that-changes-"
	               "the-length-of-the-copy-being-written");
	nw.phase = FL_AGENT_RELEASED;

	if (!one_slot)
		assert_int_equal(fl_persist_store(&hal, &old, &pos), FL_OK);
	assert_int_equal(fl_persist_store(&hal, &old, &pos), FL_OK);

	assert_int_equal(fl_pstate_encode(&nw, &sealed_len_probe, &plen),
	                 FL_OK);
	free(sealed_len_probe);
	*full_len = FL_PERSIST_HDR_LEN + plen + FL_HAL_SEAL_OVERHEAD;

	fh->cut_mode = mode;
	if (cut < 0) {
		/* the copy is written whole; the power goes before the
		 * counter moves */
		fh->counter_fail = true;
	} else {
		fh->cut_after = cut;
	}
	err = fl_persist_store(&hal, &nw, &pos);
	assert_int_equal(err, FL_E_IO);
	/* the power comes back */
	fl_fakehal_power_on(fh);
	assert_int_equal(fl_persist_load(&hal, &d, &pos, &rb), FL_OK);
	assert_false(rb);
	if (cut < 0 || (size_t)cut >= *full_len)
		assert_same(&d, &nw);
	else
		assert_same(&d, &old);
	fl_pstate_clear(&d);

	/* life goes on: the next store lands and is what a load returns */
	nw.counter = 555;
	assert_int_equal(fl_persist_store(&hal, &nw, &pos), FL_OK);
	assert_int_equal(fl_persist_load(&hal, &d, &pos, &rb), FL_OK);
	assert_false(rb);
	assert_same(&d, &nw);
	fl_pstate_clear(&d);

	fl_pstate_clear(&old);
	fl_pstate_clear(&nw);
	fl_fakehal_free(fh);
}

static void test_cut_every_byte(void **state)
{
	(void)state;
	size_t full = 0;
	long n = 0;

	for (int mode = 0; mode < 2; mode++) {
		for (int one = 0; one < 2; one++) {
			/* first pass learns the length; then every offset,
			 * and the step after the copy, before the counter */
			cut_once((enum fh_cut_mode)mode, one, 0, &full);
			cut_once((enum fh_cut_mode)mode, one, -1, &full);
			for (n = 1; (size_t)n <= full; n++)
				cut_once((enum fh_cut_mode)mode, one, n, &full);
		}
	}
	assert_true(full > 200);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_roundtrip),
	        cmocka_unit_test(test_decode_rejects),
	        cmocka_unit_test(test_decode_caps),
	        cmocka_unit_test(test_seal),
	        cmocka_unit_test(test_slots),
	        cmocka_unit_test(test_rollback_and_foreign),
	        cmocka_unit_test(test_cut_every_byte),
	};
	return cmocka_run_group_tests_name("persist", tests, setup, NULL);
}
