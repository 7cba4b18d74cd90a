/* Unit tests for core/devproto: the exact bytes the request and answer MACs
 * cover, the secrets both sides derive, the enrollment signature and pairing
 * code, and every JSON shape (round trips and refusals). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/devproto.h"

static int setup(void **state)
{
	(void)state;
	return fl_crypto_init() == FL_OK ? 0 : -1;
}

/* Builds PAE by hand, independently of devproto. */
struct pb {
	uint8_t b[1024];
	size_t n;
};

static void pb_le(struct pb *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p->b[p->n++] = (uint8_t)(v >> (8 * i));
}

static void pb_piece(struct pb *p, const void *d, size_t len)
{
	pb_le(p, len);
	memcpy(p->b + p->n, d, len);
	p->n += len;
}

static void test_request_mac_bytes(void **state)
{
	(void)state;
	struct pb want = {{0}, 0};
	uint8_t *got = NULL, key[32], mac[32], mac2[32], ctr[8];
	size_t len = 0;
	char hex[65];

	pb_le(&want, 5);
	pb_piece(&want, "finlock:device-request", 22);
	pb_piece(&want, "POST", 4);
	pb_piece(&want, "/v1/device/checkin", 18);
	pb_piece(&want, "{\"seq\":1}", 9);
	for (int i = 0; i < 8; i++)
		ctr[i] = (uint8_t)(0x0102030405060708ULL >> (8 * i));
	pb_piece(&want, ctr, 8);
	assert_int_equal(fl_dp_request_mac_input(
	                         &got, &len, "POST", "/v1/device/checkin",
	                         "{\"seq\":1}", 9, 0x0102030405060708ULL),
	                 FL_OK);
	assert_int_equal(len, want.n);
	assert_memory_equal(got, want.b, len);
	free(got);

	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)i;
	assert_int_equal(fl_blake2b(mac2, 32, key, 32, want.b, want.n), FL_OK);
	assert_int_equal(fl_dp_request_mac(mac, key, "POST",
	                                   "/v1/device/checkin", "{\"seq\":1}",
	                                   9, 0x0102030405060708ULL),
	                 FL_OK);
	assert_memory_equal(mac, mac2, 32);

	fl_hex_encode(hex, mac, 32);
	assert_int_equal(
	        fl_dp_request_verify(hex, key, "POST", "/v1/device/checkin",
	                             "{\"seq\":1}", 9, 0x0102030405060708ULL),
	        FL_OK);
	/* anything different is refused */
	assert_int_equal(
	        fl_dp_request_verify(hex, key, "GET", "/v1/device/checkin",
	                             "{\"seq\":1}", 9, 0x0102030405060708ULL),
	        FL_E_AUTH);
	assert_int_equal(
	        fl_dp_request_verify(hex, key, "POST", "/v1/device/checkin?x=1",
	                             "{\"seq\":1}", 9, 0x0102030405060708ULL),
	        FL_E_AUTH);
	assert_int_equal(
	        fl_dp_request_verify(hex, key, "POST", "/v1/device/checkin",
	                             "{\"seq\":2}", 9, 0x0102030405060708ULL),
	        FL_E_AUTH);
	assert_int_equal(
	        fl_dp_request_verify(hex, key, "POST", "/v1/device/checkin",
	                             "{\"seq\":1}", 9, 0x0102030405060709ULL),
	        FL_E_AUTH);
	key[0] ^= 1;
	assert_int_equal(
	        fl_dp_request_verify(hex, key, "POST", "/v1/device/checkin",
	                             "{\"seq\":1}", 9, 0x0102030405060708ULL),
	        FL_E_AUTH);
	key[0] ^= 1;
	/* one spelling only: upper-case hex, short or long values */
	for (int i = 0; hex[i]; i++)
		if (hex[i] >= 'a' && hex[i] <= 'f') {
			hex[i] = (char)(hex[i] - 'a' + 'A');
			break;
		}
	assert_int_equal(
	        fl_dp_request_verify(hex, key, "POST", "/v1/device/checkin",
	                             "{\"seq\":1}", 9, 0x0102030405060708ULL),
	        FL_E_AUTH);
	assert_int_equal(
	        fl_dp_request_verify("00", key, "POST", "/", NULL, 0, 1),
	        FL_E_AUTH);
	assert_int_equal(
	        fl_dp_request_verify(NULL, key, "POST", "/", NULL, 0, 1),
	        FL_E_AUTH);

	/* pieces cannot slide into each other: "ab"+"c" differs from
	 * "a"+"bc" */
	assert_int_equal(fl_dp_request_mac(mac, key, "GET", "/ab", "c", 1, 1),
	                 FL_OK);
	assert_int_equal(fl_dp_request_mac(mac2, key, "GET", "/a", "bc", 2, 1),
	                 FL_OK);
	assert_memory_not_equal(mac, mac2, 32);
	/* an empty body (GET) is fine, a missing one with a length is not */
	assert_int_equal(fl_dp_request_mac(mac, key, "GET",
	                                   "/v1/device/wait?seq=4", NULL, 0, 9),
	                 FL_OK);
	assert_int_equal(fl_dp_request_mac(mac, key, "GET", "/", NULL, 3, 9),
	                 FL_E_INVALID);
}

static void test_answer_mac(void **state)
{
	(void)state;
	struct pb want = {{0}, 0};
	uint8_t *got = NULL, key[32] = {9}, m1[32], m2[32];
	uint8_t ctr[8] = {42}, nxt[8] = {0x10, 0x0e};
	size_t len = 0;
	const fl_time t = 1795435200; /* 2026-11-23T12:00:00Z */

	pb_le(&want, 5);
	pb_piece(&want, "finlock:device-answer", 21);
	pb_piece(&want, ctr, 8);
	pb_piece(&want, "2026-11-23T12:00:00Z", 20);
	pb_piece(&want, nxt, 8);
	pb_piece(&want, "v4.public.x", 11);
	assert_int_equal(
	        fl_dp_answer_mac_input(&got, &len, 42, t, 3600, "v4.public.x"),
	        FL_OK);
	assert_int_equal(len, want.n);
	assert_memory_equal(got, want.b, len);
	free(got);

	assert_int_equal(fl_dp_answer_mac(m1, key, 42, t, 3600, NULL), FL_OK);
	assert_int_equal(fl_dp_answer_mac(m2, key, 42, t, 3600, ""), FL_OK);
	assert_memory_equal(m1, m2, 32); /* no token is the empty token */
	assert_int_equal(fl_dp_answer_mac(m2, key, 43, t, 3600, NULL), FL_OK);
	assert_memory_not_equal(m1, m2, 32);
	assert_int_equal(fl_dp_answer_mac(m2, key, 42, t + 1, 3600, NULL),
	                 FL_OK);
	assert_memory_not_equal(m1, m2, 32);
	assert_int_equal(fl_dp_answer_mac(m2, key, 42, t, 3601, NULL), FL_OK);
	assert_memory_not_equal(m1, m2, 32);
}

static void test_derive(void **state)
{
	(void)state;
	uint8_t spk[32], ssk[32], dpk[32], dsk[32], s1[32], s2[32];
	uint8_t mac1[32], oc1[32], mac2[32], oc2[32], k[32];

	fl_kx_keypair(spk, ssk);
	fl_kx_keypair(dpk, dsk);
	assert_int_equal(fl_kx_shared(s1, 1, spk, ssk, dpk), FL_OK);
	assert_int_equal(fl_kx_shared(s2, 0, dpk, dsk, spk), FL_OK);
	assert_int_equal(fl_dp_derive(s1, mac1, oc1), FL_OK);
	assert_int_equal(fl_dp_derive(s2, mac2, oc2), FL_OK);
	assert_memory_equal(mac1, mac2, 32);
	assert_memory_equal(oc1, oc2, 32);
	assert_memory_not_equal(mac1, oc1, 32);
	/* exactly crypto_kdf id 1 under the documented contexts */
	assert_int_equal(fl_kdf(k, 32, 1, "flchkmac", s1), FL_OK);
	assert_memory_equal(k, mac1, 32);
	assert_int_equal(fl_kdf(k, 32, 1, "flocode1", s1), FL_OK);
	assert_memory_equal(k, oc1, 32);
	assert_memory_not_equal(s1, mac1, 32);
}

static void test_small_parsers(void **state)
{
	(void)state;
	uint64_t v;
	char path[FL_DP_WAIT_PATH_MAX];

	assert_int_equal(fl_dp_counter_parse("1", &v), FL_OK);
	assert_int_equal(v, 1);
	assert_int_equal(fl_dp_counter_parse("18446744073709551615", &v),
	                 FL_OK);
	assert_true(v == UINT64_MAX);
	assert_int_equal(fl_dp_counter_parse("18446744073709551616", &v),
	                 FL_E_INVALID);
	assert_int_equal(v, 0);
	assert_int_equal(fl_dp_counter_parse("99999999999999999999", &v),
	                 FL_E_INVALID);
	const char *bad[] = {"",   "0",  "01", "-1",  "+1",
	                     " 1", "1 ", "1a", "0x10"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(fl_dp_counter_parse(bad[i], &v), FL_E_INVALID);
	assert_int_equal(fl_dp_counter_parse(NULL, &v), FL_E_INVALID);

	fl_dp_wait_path(path, 0);
	assert_string_equal(path, "/v1/device/wait?seq=0");
	fl_dp_wait_path(path, UINT64_MAX);
	assert_string_equal(path, "/v1/device/wait?seq=18446744073709551615");

	assert_int_equal(fl_dp_device_id_check("dev_8f3k2-A"), FL_OK);
	assert_int_equal(fl_dp_device_id_check(""), FL_E_INVALID);
	assert_int_equal(fl_dp_device_id_check("dev 1"), FL_E_INVALID);
	assert_int_equal(fl_dp_device_id_check("dev/1"), FL_E_INVALID);
	{
		char id[FL_DP_DEVICE_ID_MAX + 2];
		memset(id, 'a', sizeof(id) - 1);
		id[FL_DP_DEVICE_ID_MAX] = '\0';
		assert_int_equal(fl_dp_device_id_check(id), FL_OK);
		id[FL_DP_DEVICE_ID_MAX] = 'a';
		id[FL_DP_DEVICE_ID_MAX + 1] = '\0';
		assert_int_equal(fl_dp_device_id_check(id), FL_E_INVALID);
	}

	assert_string_equal(fl_dp_tamper_name(FL_DP_TAMPER_ROOTED), "rooted");
	assert_string_equal(fl_dp_tamper_name(FL_DP_TAMPER_BOOTLOADER),
	                    "bootloader_unlocked");
	assert_null(fl_dp_tamper_name(3));
	assert_string_equal(fl_dp_program_name(FL_DP_PROG_PAIRING), "pairing");
	assert_null(fl_dp_program_name((enum fl_dp_program)9));
}

static void make_req(struct fl_dp_enroll_req *r, uint8_t sk[FL_SIGN_SK_LEN])
{
	uint8_t kxsk[32];

	memset(r, 0, sizeof(*r));
	strcpy(r->code, "K7Q2-9XWD");
	strcpy(r->imei[0], "352099001761481");
	strcpy(r->imei[1], "356938035643809");
	r->n_imei = 2;
	strcpy(r->serial, "R58N12ABCDE");
	fl_sign_keypair(r->sign_pk, sk);
	fl_kx_keypair(r->kx_pk, kxsk);
	assert_int_equal(fl_dp_enroll_sign(r, sk), FL_OK);
}

static void test_enroll_request(void **state)
{
	(void)state;
	struct fl_dp_enroll_req r, d, t;
	uint8_t sk[FL_SIGN_SK_LEN], *in = NULL;
	struct pb want = {{0}, 0};
	size_t len = 0;
	char *json = NULL;

	make_req(&r, sk);
	assert_int_equal(fl_dp_enroll_verify(&r), FL_OK);
	/* the signed bytes, built by hand (no factory key: its piece is
	 * empty) */
	pb_le(&want, 8);
	pb_piece(&want, "finlock:enroll-request", 22);
	pb_piece(&want, "K7Q2-9XWD", 9);
	pb_piece(&want, "352099001761481", 15);
	pb_piece(&want, "356938035643809", 15);
	pb_piece(&want, "R58N12ABCDE", 11);
	pb_piece(&want, r.sign_pk, 32);
	pb_piece(&want, r.kx_pk, 32);
	pb_piece(&want, "", 0);
	assert_int_equal(fl_dp_enroll_sign_input(&r, &in, &len), FL_OK);
	assert_int_equal(len, want.n);
	assert_memory_equal(in, want.b, len);
	free(in);

	assert_int_equal(fl_dp_enroll_req_encode(&r, &json), FL_OK);
	assert_int_equal(fl_dp_enroll_req_decode(json, strlen(json), &d),
	                 FL_OK);
	assert_memory_equal(&d, &r, sizeof(r));
	assert_int_equal(fl_dp_enroll_verify(&d), FL_OK);
	free(json);

	/* every field is covered by the signature */
	t = r;
	t.code[0] = 'X';
	assert_int_equal(fl_dp_enroll_verify(&t), FL_E_BAD_SIGNATURE);
	t = r;
	t.n_imei = 1;
	assert_int_equal(fl_dp_enroll_verify(&t), FL_E_BAD_SIGNATURE);
	t = r;
	t.serial[0] = 'X';
	assert_int_equal(fl_dp_enroll_verify(&t), FL_E_BAD_SIGNATURE);
	t = r;
	t.kx_pk[5] ^= 1;
	assert_int_equal(fl_dp_enroll_verify(&t), FL_E_BAD_SIGNATURE);
	t = r;
	t.sig[0] ^= 1;
	assert_int_equal(fl_dp_enroll_verify(&t), FL_E_BAD_SIGNATURE);
	t = r;
	strcpy(t.imei[0], "352099001761482"); /* bad check digit */
	assert_int_equal(fl_dp_enroll_verify(&t), FL_E_BAD_SIGNATURE);
	assert_int_equal(fl_dp_enroll_req_encode(&t, &json), FL_E_INVALID);
	assert_null(json);

	/* strict decoding */
	const char *bad[] = {
	        "[]",
	        "{\"code\":\"a\",\"imei\":[\"352099001761481\"],\"sign_pk\":"
	        "\"AAAA\",\"kx_pk\":\"AAAA\",\"sig\":\"AAAA\"}",
	        "{\"code\":1}",
	        "{\"code\":\"a\",\"imei\":[],\"serial\":\"\"}",
	        "{\"code\":\"a\",\"extra\":true}",
	        "{\"code\":\"a\",\"imei\":[\"352099001761481\","
	        "\"356938035643809\","
	        "\"490154203237518\"]}",
	        "{\"code\":\"tab\\there\"}",
	        "{\"code\":\"a\",\"code\":\"b\"}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_not_equal(
		        fl_dp_enroll_req_decode(bad[i], strlen(bad[i]), &d),
		        FL_OK);
		assert_int_equal(d.n_imei, 0);
	}
	/* the real thing, with an unknown field added, is refused */
	assert_int_equal(fl_dp_enroll_req_encode(&r, &json), FL_OK);
	json[strlen(json) - 1] = ',';
	{
		char *more = malloc(strlen(json) + 16);
		assert_non_null(more);
		sprintf(more, "%s\"x\":1}", json);
		assert_int_equal(
		        fl_dp_enroll_req_decode(more, strlen(more), &d),
		        FL_E_FIELD_UNKNOWN);
		free(more);
	}
	free(json);
}

/* r (made by make_req) with a factory key fsk: factory_pk set, both
 * signatures made again. */
static void add_factory(struct fl_dp_enroll_req *r,
                        const uint8_t sk[FL_SIGN_SK_LEN],
                        uint8_t fsk[FL_SIGN_SK_LEN])
{
	uint8_t *in = NULL;
	size_t len = 0;

	fl_sign_keypair(r->factory_pk, fsk);
	r->has_factory = true;
	assert_int_equal(fl_dp_enroll_sign(r, sk), FL_OK);
	assert_int_equal(fl_dp_enroll_factory_input(r, &in, &len), FL_OK);
	fl_sign_detached(r->factory_sig, in, len, fsk);
	free(in);
}

static void test_enroll_factory(void **state)
{
	(void)state;
	struct fl_dp_enroll_req r, d, t;
	uint8_t sk[FL_SIGN_SK_LEN], fsk[FL_SIGN_SK_LEN], *in = NULL;
	struct pb want = {{0}, 0}, wantf = {{0}, 0};
	size_t len = 0;
	char *json = NULL;

	make_req(&r, sk);
	add_factory(&r, sk, fsk);
	assert_int_equal(fl_dp_enroll_verify(&r), FL_OK);
	/* both inputs, built by hand: same pieces, two labels */
	pb_le(&want, 8);
	pb_piece(&want, "finlock:enroll-request", 22);
	pb_le(&wantf, 8);
	pb_piece(&wantf, "finlock:enroll-factory", 22);
	{
		struct pb *w[2] = {&want, &wantf};
		for (int i = 0; i < 2; i++) {
			pb_piece(w[i], "K7Q2-9XWD", 9);
			pb_piece(w[i], "352099001761481", 15);
			pb_piece(w[i], "356938035643809", 15);
			pb_piece(w[i], "R58N12ABCDE", 11);
			pb_piece(w[i], r.sign_pk, 32);
			pb_piece(w[i], r.kx_pk, 32);
			pb_piece(w[i], r.factory_pk, 32);
		}
	}
	assert_int_equal(fl_dp_enroll_sign_input(&r, &in, &len), FL_OK);
	assert_int_equal(len, want.n);
	assert_memory_equal(in, want.b, len);
	free(in);
	assert_int_equal(fl_dp_enroll_factory_input(&r, &in, &len), FL_OK);
	assert_int_equal(len, wantf.n);
	assert_memory_equal(in, wantf.b, len);
	free(in);

	/* round trip: both fields, base64url */
	assert_int_equal(fl_dp_enroll_req_encode(&r, &json), FL_OK);
	assert_non_null(strstr(json, "\"factory_pk\":\""));
	assert_non_null(strstr(json, "\"factory_sig\":\""));
	assert_int_equal(fl_dp_enroll_req_decode(json, strlen(json), &d),
	                 FL_OK);
	assert_memory_equal(&d, &r, sizeof(r));
	assert_int_equal(fl_dp_enroll_verify(&d), FL_OK);
	free(json);
	/* one without the other is refused */
	t = r;
	t.has_factory = false;
	assert_int_equal(fl_dp_enroll_req_encode(&t, &json), FL_OK);
	assert_null(strstr(json, "factory"));
	{
		char pk[64], *half = malloc(strlen(json) + 128);

		assert_non_null(half);
		assert_int_equal(fl_b64url_encode(pk, sizeof(pk), r.factory_pk,
		                                  FL_SIGN_PK_LEN),
		                 FL_OK);
		json[strlen(json) - 1] = '\0';
		sprintf(half, "%s,\"factory_pk\":\"%s\"}", json, pk);
		assert_int_equal(
		        fl_dp_enroll_req_decode(half, strlen(half), &d),
		        FL_E_FIELD_MISSING);
		assert_false(d.has_factory);
		free(half);
	}
	free(json);

	/* the factory key signs every field too; a bad factory signature,
	 * a swapped factory key or a device signature made without the
	 * factory key all fail */
	t = r;
	t.factory_sig[3] ^= 1;
	assert_int_equal(fl_dp_enroll_verify(&t), FL_E_BAD_SIGNATURE);
	t = r;
	t.factory_pk[0] ^= 1;
	assert_int_equal(fl_dp_enroll_verify(&t), FL_E_BAD_SIGNATURE);
	t = r;
	t.serial[0] = 'X';
	assert_int_equal(fl_dp_enroll_sign(&t, sk), FL_OK);
	assert_int_equal(fl_dp_enroll_verify(&t), FL_E_BAD_SIGNATURE);
	t = r;
	t.has_factory = false; /* the device signature covered factory_pk */
	assert_int_equal(fl_dp_enroll_verify(&t), FL_E_BAD_SIGNATURE);
	/* the device signature is not a factory signature */
	t = r;
	memcpy(t.factory_sig, t.sig, FL_SIG_LEN);
	assert_int_equal(fl_dp_enroll_verify(&t), FL_E_BAD_SIGNATURE);
}

static void test_pairing_code(void **state)
{
	(void)state;
	uint8_t spk[32], kpk[32], h[32];
	char a[17], b[17], want[17];
	struct pb p = {{0}, 0};
	uint64_t v = 0;

	for (int i = 0; i < 32; i++) {
		spk[i] = (uint8_t)i;
		kpk[i] = (uint8_t)(255 - i);
	}
	fl_dp_pairing_code(spk, kpk, a);
	assert_int_equal(FL_DP_PAIRING_LEN, 16);
	assert_int_equal(strlen(a), 16);
	for (int i = 0; i < 16; i++)
		assert_true(a[i] >= '0' && a[i] <= '9');
	fl_dp_pairing_code(spk, kpk, b);
	assert_string_equal(a, b);
	/* as documented */
	pb_le(&p, 3);
	pb_piece(&p, "finlock:pairing", 15);
	pb_piece(&p, spk, 32);
	pb_piece(&p, kpk, 32);
	assert_int_equal(fl_blake2b(h, 32, NULL, 0, p.b, p.n), FL_OK);
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | h[i];
	snprintf(want, sizeof(want), "%016llu",
	         (unsigned long long)(v % 10000000000000000ULL));
	assert_string_equal(a, want);
	/* leading zeros are kept: find keys whose code starts with 0 */
	for (int k = 0; k < 4096; k++) {
		spk[0] = (uint8_t)k;
		spk[1] = (uint8_t)(k >> 8);
		fl_dp_pairing_code(spk, kpk, b);
		assert_int_equal(strlen(b), 16);
		if (b[0] == '0')
			break;
	}
	assert_int_equal(b[0], '0');
	memcpy(spk, (uint8_t[2]){0, 1}, 2);
	/* any key change changes it */
	kpk[0] ^= 1;
	fl_dp_pairing_code(spk, kpk, b);
	assert_string_not_equal(a, b);
}

static void test_enroll_answer(void **state)
{
	(void)state;
	struct fl_dp_enroll_payload p = {0}, d;
	struct fl_dp_enroll_answer a = {0}, ad;
	char *json = NULL;

	strcpy(p.device_id, "dev_8f3k2");
	memset(p.sign_pk, 1, 32);
	memset(p.kx_pk, 2, 32);
	memset(p.server_kx_pk, 3, 32);
	p.time = 1795435200;
	p.token = (char *)"v4.public.token";
	assert_int_equal(fl_dp_enroll_payload_encode(&p, &json), FL_OK);
	assert_int_equal(fl_dp_enroll_payload_decode(json, strlen(json), &d),
	                 FL_OK);
	assert_string_equal(d.device_id, "dev_8f3k2");
	assert_memory_equal(d.sign_pk, p.sign_pk, 32);
	assert_memory_equal(d.kx_pk, p.kx_pk, 32);
	assert_memory_equal(d.server_kx_pk, p.server_kx_pk, 32);
	assert_int_equal(d.time, p.time);
	assert_string_equal(d.token, "v4.public.token");
	fl_dp_enroll_payload_clear(&d);
	free(json);
	assert_int_equal(
	        fl_dp_enroll_payload_decode("{\"device_id\":\"d\"}", 17, &d),
	        FL_E_FIELD_MISSING);
	assert_null(d.token);

	a.enrollment = (char *)"v4.public.enr";
	a.keys.certs[0] = (char *)"v4.public.cert";
	a.keys.n_certs = 1;
	assert_int_equal(fl_dp_enroll_answer_encode(&a, &json), FL_OK);
	assert_int_equal(fl_dp_enroll_answer_decode(json, strlen(json), &ad),
	                 FL_OK);
	assert_string_equal(ad.enrollment, "v4.public.enr");
	assert_int_equal(ad.keys.n_certs, 1);
	assert_string_equal(ad.keys.certs[0], "v4.public.cert");
	assert_int_equal(ad.keys.n_revocations, 0);
	fl_dp_enroll_answer_clear(&ad);
	fl_dp_enroll_answer_clear(NULL);
	free(json);

	/* answers ignore unknown fields; caps still hold */
	{
		const char *j = "{\"enrollment\":\"e\",\"new_field\":[1,2]}";
		assert_int_equal(fl_dp_enroll_answer_decode(j, strlen(j), &ad),
		                 FL_OK);
		fl_dp_enroll_answer_clear(&ad);
		j = "{\"enrollment\":\"e\",\"certs\":[\"1\",\"2\",\"3\",\"4\","
		    "\"5\",\"6\",\"7\",\"8\",\"9\"]}";
		assert_int_equal(fl_dp_enroll_answer_decode(j, strlen(j), &ad),
		                 FL_E_TOO_LARGE);
		j = "{\"enrollment\":\"e\",\"certs\":[\"1\",2]}";
		assert_int_equal(fl_dp_enroll_answer_decode(j, strlen(j), &ad),
		                 FL_E_FIELD_TYPE);
		assert_null(ad.enrollment);
	}
	assert_int_equal(fl_dp_pending_encode("0491725388120034", &json),
	                 FL_OK);
	assert_string_equal(json, "{\"status\":\"pending\",\"pairing_code\":"
	                          "\"0491725388120034\"}");
	free(json);
}

static void test_checkin_shapes(void **state)
{
	(void)state;
	struct fl_dp_checkin_req r = {0}, d;
	struct fl_dp_checkin_answer a = {0}, ad;
	char *json = NULL;

	r.seq = 41;
	r.trusted_time = 1795435200;
	r.wall_time = 1795435202;
	r.locked = true;
	strcpy(r.iccid, "8925402000000000001");
	r.sim_changed = true;
	r.tamper = FL_DP_TAMPER_ROOTED | FL_DP_TAMPER_BOOTLOADER;
	r.code_counter = 3;
	r.unlock_until = 1795521600;
	assert_int_equal(fl_dp_checkin_req_encode(&r, &json), FL_OK);
	assert_non_null(strstr(json, "\"tamper\":[\"rooted\","
	                             "\"bootloader_unlocked\"]"));
	assert_int_equal(fl_dp_checkin_req_decode(json, strlen(json), &d),
	                 FL_OK);
	assert_memory_equal(&d, &r, sizeof(r));
	free(json);
	strcpy(r.iccid, "89254x");
	assert_int_equal(fl_dp_checkin_req_encode(&r, &json), FL_E_INVALID);
	{
		const char *bad[] = {
		        "{\"seq\":1}",
		        "{\"seq\":-1,\"trusted_time\":\"2026-11-23T12:00:00Z\","
		        "\"wall_time\":\"2026-11-23T12:00:00Z\",\"locked\":"
		        "false}",
		        "{\"seq\":1,\"trusted_time\":\"2026-11-23T12:00:00Z\","
		        "\"wall_time\":\"2026-11-23T12:00:00Z\",\"locked\":"
		        "false,"
		        "\"tamper\":[\"jailbroken\"]}",
		        "{\"seq\":1,\"trusted_time\":\"2026-11-23T12:00:00Z\","
		        "\"wall_time\":\"2026-11-23T12:00:00Z\",\"locked\":"
		        "false,"
		        "\"extra\":1}",
		        "{\"seq\":1,\"trusted_time\":\"yesterday\","
		        "\"wall_time\":\"2026-11-23T12:00:00Z\",\"locked\":"
		        "false}",
		};
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			assert_int_not_equal(
			        fl_dp_checkin_req_decode(bad[i], strlen(bad[i]),
			                                 &d),
			        FL_OK);
		const char *ok = "{\"seq\":1,\"trusted_time\":"
		                 "\"2026-11-23T12:00:00Z\",\"wall_time\":"
		                 "\"2026-11-23T12:00:00Z\",\"locked\":false}";
		assert_int_equal(fl_dp_checkin_req_decode(ok, strlen(ok), &d),
		                 FL_OK);
		assert_int_equal(d.tamper, 0);
		assert_string_equal(d.iccid, "");
	}

	a.time = 1795435200;
	a.next_checkin = 3600;
	a.token = (char *)"v4.public.tok";
	a.seq_reset = (char *)"v4.public.reset";
	a.release_receipt = (char *)"v4.public.receipt";
	a.keys.revocations[0] = (char *)"v4.public.rev";
	a.keys.n_revocations = 1;
	memset(a.mac, 0xab, 32);
	assert_int_equal(fl_dp_checkin_answer_encode(&a, &json), FL_OK);
	assert_int_equal(fl_dp_checkin_answer_decode(json, strlen(json), &ad),
	                 FL_OK);
	assert_int_equal(ad.time, a.time);
	assert_int_equal(ad.next_checkin, 3600);
	assert_string_equal(ad.token, "v4.public.tok");
	assert_string_equal(ad.seq_reset, "v4.public.reset");
	assert_string_equal(ad.release_receipt, "v4.public.receipt");
	assert_int_equal(ad.keys.n_revocations, 1);
	assert_memory_equal(ad.mac, a.mac, 32);
	fl_dp_checkin_answer_clear(&ad);
	free(json);
	/* a wait answer without a token; a mac is required */
	{
		const char *j = "{\"time\":\"2026-11-23T12:00:00Z\",\"mac\":"
		                "\"00000000000000000000000000000000000000000000"
		                "00000000000000000000\"}";
		assert_int_equal(fl_dp_checkin_answer_decode(j, strlen(j), &ad),
		                 FL_OK);
		assert_null(ad.token);
		assert_int_equal(ad.next_checkin, 0);
		fl_dp_checkin_answer_clear(&ad);
		j = "{\"time\":\"2026-11-23T12:00:00Z\"}";
		assert_int_equal(fl_dp_checkin_answer_decode(j, strlen(j), &ad),
		                 FL_E_FIELD_MISSING);
		j = "{\"time\":\"2026-11-23T12:00:00Z\",\"mac\":\"abc\"}";
		assert_int_not_equal(
		        fl_dp_checkin_answer_decode(j, strlen(j), &ad), FL_OK);
		j = "{\"time\":\"2026-11-23T12:00:00Z\",\"next_checkin\":"
		    "999999999,\"mac\":\"00\"}";
		assert_int_equal(fl_dp_checkin_answer_decode(j, strlen(j), &ad),
		                 FL_E_RANGE);
	}
	a.next_checkin = FL_DP_NEXT_MAX + 1;
	assert_int_equal(fl_dp_checkin_answer_encode(&a, &json), FL_E_RANGE);
}

static void test_lookup_shapes(void **state)
{
	(void)state;
	struct fl_dp_lookup_req r = {0}, rd;
	struct fl_dp_lookup_payload p = {0}, pd;
	struct fl_dp_lookup_answer a = {0}, ad;
	char *json = NULL;

	strcpy(r.imei[0], "352099001761481");
	r.n_imei = 1;
	fl_random(r.nonce, sizeof(r.nonce));
	assert_int_equal(fl_dp_lookup_req_encode(&r, &json), FL_OK);
	assert_int_equal(fl_dp_lookup_req_decode(json, strlen(json), &rd),
	                 FL_OK);
	assert_memory_equal(&rd, &r, sizeof(r));
	free(json);
	{
		const char *j = "{\"imei\":[\"352099001761481\"],\"nonce\":"
		                "\"AAAA\"}";
		assert_int_equal(fl_dp_lookup_req_decode(j, strlen(j), &rd),
		                 FL_E_FIELD_TYPE);
	}

	memcpy(p.nonce, r.nonce, sizeof(p.nonce));
	memcpy(p.imei, r.imei, sizeof(p.imei));
	p.n_imei = 1;
	p.time = 1795435200;
	p.program = FL_DP_PROG_PAIRING;
	strcpy(p.status, "financed");
	p.token = (char *)"v4.public.abc-_";
	assert_int_equal(fl_dp_lookup_payload_encode(&p, &json), FL_OK);
	assert_null(strstr(json, "claims"));
	assert_int_equal(fl_dp_lookup_payload_decode(json, strlen(json), &pd),
	                 FL_OK);
	assert_memory_equal(pd.nonce, p.nonce, sizeof(p.nonce));
	assert_int_equal(pd.program, FL_DP_PROG_PAIRING);
	assert_int_equal(pd.time, p.time);
	assert_string_equal(pd.status, "financed");
	assert_string_equal(pd.token, "v4.public.abc-_");
	fl_dp_lookup_payload_clear(&pd);
	free(json);
	/* no token: the field is left out; every status word goes through */
	p.token = NULL;
	p.program = FL_DP_PROG_NONE;
	{
		const char *words[] = {"no_record", "financed", "released",
		                       "stolen"};
		for (size_t i = 0; i < 4; i++) {
			strcpy(p.status, words[i]);
			assert_int_equal(fl_dp_lookup_payload_encode(&p, &json),
			                 FL_OK);
			assert_null(strstr(json, "token"));
			assert_int_equal(fl_dp_lookup_payload_decode(
			                         json, strlen(json), &pd),
			                 FL_OK);
			assert_null(pd.token);
			assert_string_equal(pd.status, words[i]);
			fl_dp_lookup_payload_clear(&pd);
			free(json);
		}
	}
	/* a status that is not a public check word is refused both ways */
	strcpy(p.status, "locked");
	assert_int_equal(fl_dp_lookup_payload_encode(&p, &json), FL_E_INVALID);
	assert_null(json);
	p.status[0] = '\0';
	assert_int_equal(fl_dp_lookup_payload_encode(&p, &json), FL_E_INVALID);
	strcpy(p.status, "financed");
	p.program = (enum fl_dp_program)7;
	assert_int_equal(fl_dp_lookup_payload_encode(&p, &json), FL_E_INVALID);
	{
		const char *bad[] = {
		        /* no status */
		        "{\"nonce\":"
		        "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
		        "\"imei\":[\"352099001761481\"],\"time\":"
		        "\"2026-11-23T12:00:00Z\",\"program\":\"none\"}",
		        "{\"nonce\":"
		        "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
		        "\"imei\":[\"352099001761481\"],\"time\":"
		        "\"2026-11-23T12:00:00Z\",\"program\":\"none\","
		        "\"status\":\"locked\"}",
		        "{\"nonce\":"
		        "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
		        "\"imei\":[\"352099001761481\"],\"time\":"
		        "\"2026-11-23T12:00:00Z\",\"program\":\"none\","
		        "\"status\":\"financed\",\"token\":7}",
		};
		for (size_t i = 0; i < 3; i++)
			assert_int_not_equal(
			        fl_dp_lookup_payload_decode(
			                bad[i], strlen(bad[i]), &pd),
			        FL_OK);
		/* an old "claims" field and other unknown fields are
		 * ignored */
		const char *old =
		        "{\"nonce\":"
		        "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
		        "\"imei\":[\"352099001761481\"],\"time\":"
		        "\"2026-11-23T12:00:00Z\",\"program\":\"pairing\","
		        "\"status\":\"stolen\",\"claims\":{\"state\":"
		        "\"locked\"},\"later\":1}";
		assert_int_equal(
		        fl_dp_lookup_payload_decode(old, strlen(old), &pd),
		        FL_OK);
		assert_string_equal(pd.status, "stolen");
		assert_null(pd.token);
		fl_dp_lookup_payload_clear(&pd);
	}

	a.lookup = (char *)"v4.public.l";
	assert_int_equal(fl_dp_lookup_answer_encode(&a, &json), FL_OK);
	assert_int_equal(fl_dp_lookup_answer_decode(json, strlen(json), &ad),
	                 FL_OK);
	assert_string_equal(ad.lookup, "v4.public.l");
	fl_dp_lookup_answer_clear(&ad);
	free(json);
}

static void test_lookup_factory(void **state)
{
	(void)state;
	struct fl_dp_lookup_req r = {0}, rd, t;
	uint8_t fsk[FL_SIGN_SK_LEN], *in = NULL;
	struct pb want = {{0}, 0};
	size_t len = 0;
	char *json = NULL;

	strcpy(r.imei[0], "352099001761481");
	strcpy(r.imei[1], "356938035643809");
	r.n_imei = 2;
	fl_random(r.nonce, sizeof(r.nonce));
	/* unsigned: nothing to verify */
	assert_int_equal(fl_dp_lookup_verify(&r), FL_E_BAD_SIGNATURE);
	fl_sign_keypair(r.factory_pk, fsk);
	r.has_factory = true;
	pb_le(&want, 5);
	pb_piece(&want, "finlock:lookup-request", 22);
	pb_piece(&want, "352099001761481", 15);
	pb_piece(&want, "356938035643809", 15);
	pb_piece(&want, r.nonce, 32);
	pb_piece(&want, r.factory_pk, 32);
	assert_int_equal(fl_dp_lookup_sign_input(&r, &in, &len), FL_OK);
	assert_int_equal(len, want.n);
	assert_memory_equal(in, want.b, len);
	fl_sign_detached(r.sig, in, len, fsk);
	free(in);
	assert_int_equal(fl_dp_lookup_verify(&r), FL_OK);

	assert_int_equal(fl_dp_lookup_req_encode(&r, &json), FL_OK);
	assert_int_equal(fl_dp_lookup_req_decode(json, strlen(json), &rd),
	                 FL_OK);
	assert_memory_equal(&rd, &r, sizeof(r));
	assert_int_equal(fl_dp_lookup_verify(&rd), FL_OK);
	free(json);

	/* every piece is covered */
	t = r;
	t.nonce[0] ^= 1;
	assert_int_equal(fl_dp_lookup_verify(&t), FL_E_BAD_SIGNATURE);
	t = r;
	t.n_imei = 1;
	assert_int_equal(fl_dp_lookup_verify(&t), FL_E_BAD_SIGNATURE);
	t = r;
	t.factory_pk[1] ^= 1;
	assert_int_equal(fl_dp_lookup_verify(&t), FL_E_BAD_SIGNATURE);
	t = r;
	t.sig[63] ^= 1;
	assert_int_equal(fl_dp_lookup_verify(&t), FL_E_BAD_SIGNATURE);
	t = r;
	t.n_imei = 0;
	assert_int_equal(fl_dp_lookup_sign_input(&t, &in, &len), FL_E_INVALID);
	assert_null(in);

	/* both fields or neither */
	{
		const char *half =
		        "{\"imei\":[\"352099001761481\"],\"nonce\":"
		        "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
		        "\"factory_pk\":"
		        "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}";
		const char *short_sig =
		        "{\"imei\":[\"352099001761481\"],\"nonce\":"
		        "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
		        "\"factory_pk\":"
		        "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
		        "\"sig\":\"AAAA\"}";
		assert_int_equal(
		        fl_dp_lookup_req_decode(half, strlen(half), &rd),
		        FL_E_FIELD_MISSING);
		assert_false(rd.has_factory);
		assert_int_equal(fl_dp_lookup_req_decode(
		                         short_sig, strlen(short_sig), &rd),
		                 FL_E_FIELD_TYPE);
		assert_false(rd.has_factory);
	}
}

static void test_resync(void **state)
{
	(void)state;
	struct pb want = {{0}, 0};
	struct fl_dp_resync d;
	uint8_t *in = NULL, key[FL_MAC_KEY_LEN], mac[FL_MAC_LEN],
	        mac2[FL_MAC_LEN], le[8];
	size_t len = 0;
	char *json = NULL, *code = NULL;

	pb_le(&want, 3);
	pb_piece(&want, "finlock:counter-resync", 22);
	for (int i = 0; i < 8; i++)
		le[i] = (uint8_t)((uint64_t)41 >> (8 * i));
	pb_piece(&want, le, 8);
	for (int i = 0; i < 8; i++)
		le[i] = (uint8_t)(0x0102030405060708ULL >> (8 * i));
	pb_piece(&want, le, 8);
	assert_int_equal(
	        fl_dp_resync_mac_input(&in, &len, 41, 0x0102030405060708ULL),
	        FL_OK);
	assert_int_equal(len, want.n);
	assert_memory_equal(in, want.b, len);
	fl_random(key, sizeof(key));
	assert_int_equal(
	        fl_blake2b(mac2, FL_MAC_LEN, key, sizeof(key), in, len), FL_OK);
	free(in);
	assert_int_equal(fl_dp_resync_mac(mac, key, 41, 0x0102030405060708ULL),
	                 FL_OK);
	assert_memory_equal(mac, mac2, FL_MAC_LEN);
	/* both counters are covered */
	assert_int_equal(fl_dp_resync_mac(mac2, key, 42, 0x0102030405060708ULL),
	                 FL_OK);
	assert_memory_not_equal(mac, mac2, FL_MAC_LEN);

	assert_int_equal(fl_dp_resync_encode(0x0102030405060708ULL, mac, &json),
	                 FL_OK);
	/* an error answer like any other, with the counter and mac added */
	assert_int_equal(fl_dp_error_decode(json, strlen(json), &code), FL_OK);
	assert_string_equal(code, "stale_counter");
	free(code);
	assert_int_equal(fl_dp_resync_decode(json, strlen(json), &d), FL_OK);
	assert_int_equal(d.counter, 0x0102030405060708ULL);
	assert_memory_equal(d.mac, mac, FL_MAC_LEN);
	free(json);
	assert_int_equal(
	        fl_dp_resync_encode((uint64_t)INT64_MAX + 1, mac, &json),
	        FL_E_RANGE);
	assert_null(json);
	{
		const char *bad[] = {
		        "{\"error\":{\"code\":\"unauthenticated\"},"
		        "\"counter\":1,\"mac\":\"000000000000000000000000000"
		        "0000000000000000000000000000000000000\"}",
		        "{\"error\":{\"code\":\"stale_counter\"},\"mac\":"
		        "\"0000000000000000000000000000000000000000000000000000"
		        "000000000000\"}",
		        "{\"error\":{\"code\":\"stale_counter\"},"
		        "\"counter\":-1,\"mac\":\"00000000000000000000000000"
		        "00000000000000000000000000000000000000\"}",
		        "{\"error\":{\"code\":\"stale_counter\"},"
		        "\"counter\":1,\"mac\":\"00\"}",
		        "{\"error\":{\"code\":\"stale_counter\"},"
		        "\"counter\":1}",
		        "{\"counter\":1,\"mac\":\"00000000000000000000000000"
		        "00000000000000000000000000000000000000\"}",
		};
		for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
			d.counter = 9;
			assert_int_not_equal(
			        fl_dp_resync_decode(bad[i], strlen(bad[i]), &d),
			        FL_OK);
			assert_int_equal(d.counter, 0);
		}
	}
}

static void test_receipt_and_errors(void **state)
{
	(void)state;
	struct fl_dp_receipt r = {0}, d;
	char *json = NULL, *code = NULL;

	strcpy(r.device_id, "dev_1");
	strcpy(r.imei[0], "352099001761481");
	r.n_imei = 1;
	r.loan_ref = (char *)"LN-0001";
	r.released_at = 1795435200;
	assert_int_equal(fl_dp_receipt_encode(&r, &json), FL_OK);
	assert_int_equal(fl_dp_receipt_decode(json, strlen(json), &d), FL_OK);
	assert_string_equal(d.device_id, "dev_1");
	assert_string_equal(d.loan_ref, "LN-0001");
	assert_int_equal(d.released_at, r.released_at);
	fl_dp_receipt_clear(&d);
	free(json);

	assert_int_equal(
	        fl_dp_error_encode("stale_counter", "counter too low", &json),
	        FL_OK);
	assert_string_equal(json, "{\"error\":{\"code\":\"stale_counter\","
	                          "\"message\":\"counter too low\"}}");
	assert_int_equal(fl_dp_error_decode(json, strlen(json), &code), FL_OK);
	assert_string_equal(code, "stale_counter");
	free(code);
	free(json);
	assert_int_equal(fl_dp_error_decode("{\"error\":1}", 11, &code),
	                 FL_E_JSON);
	assert_null(code);
	assert_int_equal(fl_dp_error_decode("nope", 4, &code), FL_E_JSON);

	/* bodies past the cap are refused before parsing */
	{
		size_t n = FL_DP_MAX_BODY + 1;
		char *big = malloc(n);
		struct fl_dp_lookup_answer a;
		assert_non_null(big);
		memset(big, ' ', n);
		assert_int_equal(fl_dp_lookup_answer_decode(big, n, &a),
		                 FL_E_TOO_LARGE);
		free(big);
	}
}

/* A printable string of len characters drawn from the token alphabet
 * (and the other characters JSON writes as they are), owned by the
 * caller. */
static char *plain_str(size_t len, uint32_t *seed)
{
	static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklm"
	                            "nopqrstuvwxyz0123456789-_./:{}[],'=+ ~";
	char *s = malloc(len + 1);

	assert_non_null(s);
	for (size_t i = 0; i < len; i++) {
		*seed = *seed * 1103515245u + 12345u;
		s[i] = alpha[(*seed >> 16) % (sizeof(alpha) - 1)];
	}
	s[len] = '\0';
	return s;
}

/* The answer assembled from parts against the JSON encoder, over many
 * shapes: with and without token, several certificates and revocations,
 * seq reset, release receipt, every next_checkin edge. Both texts are
 * equal byte for byte, and the decoder reads back the answer. */
static void test_answer_assemble(void **state)
{
	static const fl_time times[] = {0, 1795435200, 253402300799};
	static const uint32_t nexts[] = {0, 1, 60, 3600, FL_DP_NEXT_MAX};
	uint32_t seed = 7;
	int shapes = 0;

	(void)state;
	for (size_t ti = 0; ti < 3; ti++)
		for (size_t ni = 0; ni < 5; ni++)
			for (int shape = 0; shape < 32; shape++) {
				struct fl_dp_checkin_answer a, back;
				struct fl_dp_answer_parts p;
				char *want = NULL, *got = NULL, *keys = NULL;
				size_t len = 0, keys_len = 0;

				memset(&a, 0, sizeof(a));
				a.time = times[ti];
				a.next_checkin = nexts[ni];
				if (shape & 1)
					a.token = plain_str(
					        (size_t)(shape * 37) % 1500,
					        &seed);
				a.keys.n_certs = (size_t)(shape >> 1) %
				                 (FL_DP_MAX_CERTS + 1);
				for (size_t i = 0; i < a.keys.n_certs; i++)
					a.keys.certs[i] =
					        plain_str(100 + 50 * i, &seed);
				a.keys.n_revocations = (size_t)(shape % 3);
				for (size_t i = 0; i < a.keys.n_revocations;
				     i++)
					a.keys.revocations[i] =
					        plain_str(80, &seed);
				if (shape & 4)
					a.seq_reset = plain_str(200, &seed);
				if (shape & 8)
					a.release_receipt =
					        plain_str(300, &seed);
				for (size_t i = 0; i < FL_MAC_LEN; i++)
					a.mac[i] =
					        (uint8_t)(shape * 31 + (int)i);

				assert_int_equal(
				        fl_dp_checkin_answer_encode(&a, &want),
				        FL_OK);
				assert_int_equal(fl_dp_keys_json(&a.keys, &keys,
				                                 &keys_len),
				                 FL_OK);
				memset(&p, 0, sizeof(p));
				p.time = a.time;
				p.next_checkin = a.next_checkin;
				p.token = a.token;
				p.token_len =
				        a.token != NULL ? strlen(a.token) : 0;
				/* no certificates at all: the parts may leave
				 * keys out */
				if (a.keys.n_certs > 0 ||
				    a.keys.n_revocations > 0 || (shape & 16)) {
					p.keys = keys;
					p.keys_len = keys_len;
				}
				p.seq_reset = a.seq_reset;
				p.seq_reset_len =
				        a.seq_reset ? strlen(a.seq_reset) : 0;
				p.receipt = a.release_receipt;
				p.receipt_len =
				        a.release_receipt
				                ? strlen(a.release_receipt)
				                : 0;
				memcpy(p.mac, a.mac, FL_MAC_LEN);
				assert_int_equal(fl_dp_checkin_answer_assemble(
				                         &p, &got, &len),
				                 FL_OK);
				assert_int_equal(len, strlen(want));
				assert_string_equal(got, want);

				assert_int_equal(fl_dp_checkin_answer_decode(
				                         got, len, &back),
				                 FL_OK);
				assert_int_equal(back.time, a.time);
				assert_int_equal(back.next_checkin,
				                 a.next_checkin);
				if (a.token != NULL)
					assert_string_equal(back.token,
					                    a.token);
				else
					assert_null(back.token);
				assert_int_equal(back.keys.n_certs,
				                 a.keys.n_certs);
				for (size_t i = 0; i < a.keys.n_certs; i++)
					assert_string_equal(back.keys.certs[i],
					                    a.keys.certs[i]);
				assert_int_equal(back.keys.n_revocations,
				                 a.keys.n_revocations);
				assert_true((back.seq_reset == NULL) ==
				            (a.seq_reset == NULL));
				if (a.release_receipt != NULL)
					assert_string_equal(
					        back.release_receipt,
					        a.release_receipt);
				else
					assert_null(back.release_receipt);
				assert_memory_equal(back.mac, a.mac,
				                    FL_MAC_LEN);
				fl_dp_checkin_answer_clear(&back);
				free(got);
				free(keys);
				free(want);
				fl_dp_checkin_answer_clear(&a);
				shapes++;
			}
	assert_int_equal(shapes, 3 * 5 * 32);
}

/* What JSON would have to escape is refused (the caller falls back to the
 * encoder), and so is a next_checkin the decoder would refuse. */
static void test_answer_assemble_refusals(void **state)
{
	static const char *const bad[] = {"a\"b",  "a\\b",        "a\nb",
	                                  "a\x01", "caf\xc3\xa9", "\x7f"};
	struct fl_dp_answer_parts p;
	char *out = (char *)"x";
	size_t len = 1;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		for (int field = 0; field < 3; field++) {
			memset(&p, 0, sizeof(p));
			p.time = 1795435200;
			if (field == 0) {
				p.token = bad[i];
				p.token_len = strlen(bad[i]);
			} else if (field == 1) {
				p.seq_reset = bad[i];
				p.seq_reset_len = strlen(bad[i]);
			} else {
				p.receipt = bad[i];
				p.receipt_len = strlen(bad[i]);
			}
			assert_false(fl_dp_json_plain(bad[i], strlen(bad[i])));
			assert_int_equal(
			        fl_dp_checkin_answer_assemble(&p, &out, &len),
			        FL_E_INVALID);
			assert_null(out);
			assert_int_equal(len, 0);
		}
	}
	assert_true(fl_dp_json_plain("v4.public.AZaz09-_", 18));
	/* every byte value at every place of a word and of the tail, and
	 * every pair of neighbours (borrows and carries between bytes) */
	for (int c = 0; c < 256; c++) {
		bool want = c >= 0x20 && c <= 0x7e && c != '"' && c != '\\';

		for (size_t at = 0; at < 19; at++) {
			char buf[19];

			memset(buf, 'A', sizeof(buf));
			buf[at] = (char)c;
			assert_int_equal(fl_dp_json_plain(buf, sizeof(buf)),
			                 want);
		}
		for (int d = 0; d < 256; d++) {
			bool want2 = want && d >= 0x20 && d <= 0x7e &&
			             d != '"' && d != '\\';
			char buf[16];

			memset(buf, 'z', sizeof(buf));
			buf[3] = (char)c;
			buf[4] = (char)d;
			buf[7] = (char)c;
			buf[8] = (char)d;
			assert_int_equal(fl_dp_json_plain(buf, sizeof(buf)),
			                 want2);
		}
	}
	memset(&p, 0, sizeof(p));
	p.next_checkin = FL_DP_NEXT_MAX + 1;
	assert_int_equal(fl_dp_checkin_answer_assemble(&p, &out, &len),
	                 FL_E_RANGE);
}

/* The MACs hash the encoding as they go: the same as keyed BLAKE2b over
 * the *_mac_input bytes, for bodies of every size class. */
static void test_mac_streamed(void **state)
{
	static const size_t sizes[] = {0, 1, 127, 128, 129, 4096, 70000};
	uint8_t key[32], m1[32], m2[32], *in = NULL;
	uint32_t seed = 3;
	size_t len = 0;

	(void)state;
	for (size_t i = 0; i < 32; i++)
		key[i] = (uint8_t)(i * 7 + 1);
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		char *body = plain_str(sizes[k], &seed);

		assert_int_equal(fl_dp_request_mac(m1, key, "POST",
		                                   FL_DP_PATH_CHECKIN, body,
		                                   sizes[k], 1000 + k),
		                 FL_OK);
		assert_int_equal(fl_dp_request_mac_input(
		                         &in, &len, "POST", FL_DP_PATH_CHECKIN,
		                         body, sizes[k], 1000 + k),
		                 FL_OK);
		assert_int_equal(fl_blake2b(m2, 32, key, 32, in, len), FL_OK);
		assert_memory_equal(m1, m2, 32);
		free(in);

		assert_int_equal(fl_dp_answer_mac(m1, key, 77 + k, 1795435200,
		                                  3600, body),
		                 FL_OK);
		assert_int_equal(fl_dp_answer_mac_input(&in, &len, 77 + k,
		                                        1795435200, 3600, body),
		                 FL_OK);
		assert_int_equal(fl_blake2b(m2, 32, key, 32, in, len), FL_OK);
		assert_memory_equal(m1, m2, 32);
		free(in);
		free(body);
	}
}

/* The check-in request's short path agrees with the full decoder on
 * plain bodies (which it reads) and on everything around them (which it
 * leaves to the full decoder): same error, same values. */
static void test_checkin_req_paths(void **state)
{
	static const char *const bodies[] = {
	        "{\"seq\":3,\"trusted_time\":\"2026-11-23T12:00:00Z\","
	        "\"wall_time\":\"2026-11-23T12:00:01Z\",\"locked\":false,"
	        "\"iccid\":\"8925402000000000001\",\"code_counter\":0}",
	        " { \"locked\" : true ,\"wall_time\":\"2026-11-23T12:00:01Z\","
	        "\n\"trusted_time\":\"2026-11-23T12:00:00Z\",\t\"seq\":0,"
	        "\"released\":true,\"sim_changed\":true,\"iccid\":\"\","
	        "\"tamper\":[\"rooted\" , \"bootloader_unlocked\",\"rooted\"],"
	        "\"unlock_until\":\"2026-11-24T00:00:00Z\","
	        "\"code_counter\":922337203685477580} \r\n",
	        "{\"seq\":1,\"trusted_time\":\"2026-11-23T12:00:00Z\","
	        "\"wall_time\":\"2026-11-23T12:00:00Z\",\"locked\":false,"
	        "\"tamper\":[]}",
	        "{\"seq\":7,\"trusted_time\":\"2026-11-23T12:00:00Z\","
	        "\"wall_time\":\"2026-11-23T12:00:00Z\",\"locked\":false,"
	        "\"token_held\":true}",
	        "{\"seq\":7,\"trusted_time\":\"2026-11-23T12:00:00Z\","
	        "\"wall_time\":\"2026-11-23T12:00:00Z\",\"locked\":false,"
	        "\"token_held\":1}",
	        "{\"seq\":7,\"trusted_time\":\"2026-11-23T12:00:00Z\","
	        "\"wall_time\":\"2026-11-23T12:00:00Z\",\"locked\":false,"
	        "\"token_held\":true,\"token_held\":false}",
	        /* what the short path leaves to the full decoder */
	        "{\"seq\":1,\"trusted_time\":\"2026-11-23T12:00:00Z\","
	        "\"wall_time\":\"2026-11-23T12:00:00Z\",\"locked\":false,"
	        "\"code_counter\":9223372036854775807}",
	        "{\"seq\":1,\"trusted_time\":\"2026-11-23T12:00:00Z\","
	        "\"wall_time\":\"2026-11-23T12:00:00Z\",\"locked\":false,"
	        "\"code_counter\":9223372036854775808}",
	        "{\"seq\":1,\"trusted_time\":\"2026-11-23T12:00:00\\u005a\","
	        "\"wall_time\":\"2026-11-23T12:00:00Z\",\"locked\":false}",
	        "{\"seq\":1,\"seq\":2,\"trusted_time\":\"2026-11-23T12:00:"
	        "00Z\","
	        "\"wall_time\":\"2026-11-23T12:00:00Z\",\"locked\":false}",
	        "{\"seq\":01,\"trusted_time\":\"2026-11-23T12:00:00Z\","
	        "\"wall_time\":\"2026-11-23T12:00:00Z\",\"locked\":false}",
	        "{\"seq\":1.0,\"trusted_time\":\"2026-11-23T12:00:00Z\","
	        "\"wall_time\":\"2026-11-23T12:00:00Z\",\"locked\":false}",
	        "{\"seq\":-1,\"trusted_time\":\"2026-11-23T12:00:00Z\","
	        "\"wall_time\":\"2026-11-23T12:00:00Z\",\"locked\":false}",
	        "{\"seq\":1,\"trusted_time\":\"2026-11-23T12:00:00Z\","
	        "\"wall_time\":\"2026-11-23T12:00:00Z\",\"locked\":null}",
	        "{\"seq\":1,\"trusted_time\":\"2026-11-23T12:00:00Z\","
	        "\"wall_time\":\"2026-11-23T12:00:00Z\"}",
	        "{\"seq\":1,\"trusted_time\":\"2026-11-23T12:00:00Z\","
	        "\"wall_time\":\"2026-11-23T12:00:00Z\",\"locked\":false,"
	        "\"extra\":1}",
	        "{\"seq\":1,\"trusted_time\":\"yesterday\","
	        "\"wall_time\":\"2026-11-23T12:00:00Z\",\"locked\":false}",
	        "{\"seq\":1,\"trusted_time\":\"2026-11-23T12:00:00Z\","
	        "\"wall_time\":\"2026-11-23T12:00:00Z\",\"locked\":false,"
	        "\"iccid\":\"12345\"}",
	        "{\"seq\":1,\"trusted_time\":\"2026-11-23T12:00:00Z\","
	        "\"wall_time\":\"2026-11-23T12:00:00Z\",\"locked\":false,"
	        "\"tamper\":[\"rooted\",\"jailbroken\"]}",
	        "{\"seq\":1,\"trusted_time\":\"2026-11-23T12:00:00Z\","
	        "\"wall_time\":\"2026-11-23T12:00:00Z\",\"locked\":false,"
	        "\"tamper\":[\"rooted\",\"rooted\",\"rooted\",\"rooted\","
	        "\"rooted\",\"rooted\",\"rooted\",\"rooted\",\"rooted\"]}",
	        "{\"seq\":1,\"trusted_time\":\"2026-11-23T12:00:00Z\","
	        "\"wall_time\":\"2026-11-23T12:00:00Z\",\"locked\":false} x",
	        "[1]",
	        "{}",
	        "",
	        "{\"seq\":1,\"trusted_time\":\"2026-11-23T12:00:00Z\","
	        "\"wall_time\":\"2026-11-23T12:00:00Z\",\"locked\":false",
	};
	int ok = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		struct fl_dp_checkin_req a, b;
		fl_err ea, eb;

		ea = fl_dp_checkin_req_decode(bodies[i], strlen(bodies[i]), &a);
		eb = fl_dp_checkin_req_decode_full(bodies[i], strlen(bodies[i]),
		                                   &b);
		assert_int_equal(ea, eb);
		assert_memory_equal(&a, &b, sizeof(a));
		ok += ea == FL_OK;
	}
	/* the four plain ones, the largest counter and the escaped Z */
	assert_int_equal(ok, 6);
	/* every body the encoder writes reads back the same both ways */
	for (int k = 0; k < 64; k++) {
		struct fl_dp_checkin_req r, a, b;
		char *json = NULL;

		memset(&r, 0, sizeof(r));
		r.seq = (uint64_t)k * 1000003u;
		r.trusted_time = 1795435200 + k;
		r.wall_time = 1795435200 - k;
		r.locked = k & 1;
		r.released = k & 2;
		r.sim_changed = k & 4;
		if (k & 8)
			snprintf(r.iccid, sizeof(r.iccid), "89254020000000%05u",
			         (unsigned)k % 100000u);
		r.tamper = (uint32_t)(k >> 4) & FL_DP_TAMPER_ALL;
		r.code_counter = (uint64_t)k;
		r.unlock_until = k & 16 ? 1795500000 : 0;
		r.token_held = k & 32;
		assert_int_equal(fl_dp_checkin_req_encode(&r, &json), FL_OK);
		assert_int_equal(
		        fl_dp_checkin_req_decode(json, strlen(json), &a),
		        FL_OK);
		assert_int_equal(
		        fl_dp_checkin_req_decode_full(json, strlen(json), &b),
		        FL_OK);
		assert_memory_equal(&a, &b, sizeof(a));
		assert_memory_equal(&a, &r, sizeof(a));
		free(json);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_request_mac_bytes),
	        cmocka_unit_test(test_answer_mac),
	        cmocka_unit_test(test_derive),
	        cmocka_unit_test(test_small_parsers),
	        cmocka_unit_test(test_enroll_request),
	        cmocka_unit_test(test_enroll_factory),
	        cmocka_unit_test(test_pairing_code),
	        cmocka_unit_test(test_enroll_answer),
	        cmocka_unit_test(test_checkin_shapes),
	        cmocka_unit_test(test_lookup_shapes),
	        cmocka_unit_test(test_lookup_factory),
	        cmocka_unit_test(test_resync),
	        cmocka_unit_test(test_receipt_and_errors),
	        cmocka_unit_test(test_answer_assemble),
	        cmocka_unit_test(test_answer_assemble_refusals),
	        cmocka_unit_test(test_mac_streamed),
	        cmocka_unit_test(test_checkin_req_paths),
	};
	return cmocka_run_group_tests_name("devproto", tests, setup, NULL);
}
