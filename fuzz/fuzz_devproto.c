/* libFuzzer target for core/devproto: the first byte picks a decoder, the
 * rest is its input. Nothing may crash, leak or read out of bounds; what
 * decodes must encode, decode again to the same values, and encode again to
 * the same text. Failed decodes leave their outputs zeroed. A check-in
 * answer that decodes is also assembled from its parts
 * (fl_dp_checkin_answer_assemble), which must give the encoder's bytes or
 * refuse a string that needs escaping; a check-in request decodes the
 * same by the short path as by the full decoder.
 *
 * Selectors (first byte modulo 14): 0 enroll request, 1 enroll payload,
 * 2 enroll answer, 3 check-in request, 4 check-in answer, 5 lookup request,
 * 6 lookup payload, 7 lookup answer, 8 release receipt, 9 error answer,
 * 10 counter header, 11 device id, 12 request MAC header, 13 stale_counter
 * answer. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/devproto.h"

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same_str(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static int zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i] != 0)
			return 0;
	return 1;
}

static int same_keys(const struct fl_dp_keys *a, const struct fl_dp_keys *b)
{
	if (a->n_certs != b->n_certs || a->n_revocations != b->n_revocations)
		return 0;
	for (size_t i = 0; i < a->n_certs; i++)
		if (strcmp(a->certs[i], b->certs[i]) != 0)
			return 0;
	for (size_t i = 0; i < a->n_revocations; i++)
		if (strcmp(a->revocations[i], b->revocations[i]) != 0)
			return 0;
	return 1;
}

static int same_imeis(const char a[2][FL_IMEI_LEN + 1], size_t na,
                      const char b[2][FL_IMEI_LEN + 1], size_t nb)
{
	if (na != nb || na < 1 || na > 2)
		return 0;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i], b[i]) != 0)
			return 0;
	return 1;
}

/* Encodes, decodes and encodes again one kind of struct; `same` compares
 * two decodings. The macro keeps the nine kinds to one shape. */
#define ROUNDTRIP(T, dec, enc, clr, same, data, size)                          \
	do {                                                                   \
		T a, b;                                                        \
		char *j1 = NULL, *j2 = NULL;                                   \
		if (dec((const char *)(data), (size), &a) != FL_OK) {          \
			CHECK(zero(&a, sizeof(a)));                            \
			break;                                                 \
		}                                                              \
		CHECK(enc(&a, &j1) == FL_OK);                                  \
		CHECK(dec(j1, strlen(j1), &b) == FL_OK);                       \
		CHECK(same(&a, &b));                                           \
		CHECK(enc(&b, &j2) == FL_OK);                                  \
		CHECK(strcmp(j1, j2) == 0);                                    \
		free(j1);                                                      \
		free(j2);                                                      \
		clr(&a);                                                       \
		clr(&b);                                                       \
	} while (0)

static void no_clear(void *p)
{
	(void)p;
}

static int same_enroll_req(const struct fl_dp_enroll_req *a,
                           const struct fl_dp_enroll_req *b)
{
	return strcmp(a->code, b->code) == 0 &&
	       same_imeis(a->imei, a->n_imei, b->imei, b->n_imei) &&
	       strcmp(a->serial, b->serial) == 0 &&
	       memcmp(a->sign_pk, b->sign_pk, sizeof(a->sign_pk)) == 0 &&
	       memcmp(a->kx_pk, b->kx_pk, sizeof(a->kx_pk)) == 0 &&
	       memcmp(a->sig, b->sig, sizeof(a->sig)) == 0 &&
	       a->has_factory == b->has_factory &&
	       memcmp(a->factory_pk, b->factory_pk, sizeof(a->factory_pk)) ==
	               0 &&
	       memcmp(a->factory_sig, b->factory_sig, sizeof(a->factory_sig)) ==
	               0;
}

static void enroll_req(const uint8_t *data, size_t size)
{
	struct fl_dp_enroll_req r;
	uint8_t *in = NULL;
	size_t len = 0;
	char code[FL_DP_PAIRING_LEN + 1];

	ROUNDTRIP(struct fl_dp_enroll_req, fl_dp_enroll_req_decode,
	          fl_dp_enroll_req_encode, no_clear, same_enroll_req, data,
	          size);
	if (fl_dp_enroll_req_decode((const char *)data, size, &r) != FL_OK)
		return;
	/* What decodes can be signed over and checked (a seed may carry a
	 * real signature, so the answer itself is not asserted). */
	CHECK(fl_dp_enroll_sign_input(&r, &in, &len) == FL_OK && len > 0);
	free(in);
	CHECK(fl_dp_enroll_factory_input(&r, &in, &len) == FL_OK && len > 0);
	free(in);
	(void)fl_dp_enroll_verify(&r);
	fl_dp_pairing_code(r.sign_pk, r.kx_pk, code);
	CHECK(strlen(code) == FL_DP_PAIRING_LEN);
	for (size_t i = 0; i < FL_DP_PAIRING_LEN; i++)
		CHECK(code[i] >= '0' && code[i] <= '9');
}

static int same_enroll_payload(const struct fl_dp_enroll_payload *a,
                               const struct fl_dp_enroll_payload *b)
{
	return strcmp(a->device_id, b->device_id) == 0 &&
	       memcmp(a->sign_pk, b->sign_pk, sizeof(a->sign_pk)) == 0 &&
	       memcmp(a->kx_pk, b->kx_pk, sizeof(a->kx_pk)) == 0 &&
	       memcmp(a->server_kx_pk, b->server_kx_pk,
	              sizeof(a->server_kx_pk)) == 0 &&
	       a->time == b->time && same_str(a->token, b->token);
}

static int same_enroll_answer(const struct fl_dp_enroll_answer *a,
                              const struct fl_dp_enroll_answer *b)
{
	return same_str(a->enrollment, b->enrollment) &&
	       same_keys(&a->keys, &b->keys);
}

static int same_checkin_req(const struct fl_dp_checkin_req *a,
                            const struct fl_dp_checkin_req *b)
{
	return a->seq == b->seq && a->trusted_time == b->trusted_time &&
	       a->wall_time == b->wall_time && a->locked == b->locked &&
	       a->released == b->released && strcmp(a->iccid, b->iccid) == 0 &&
	       a->sim_changed == b->sim_changed && a->tamper == b->tamper &&
	       a->code_counter == b->code_counter &&
	       a->unlock_until == b->unlock_until;
}

static int same_checkin_answer(const struct fl_dp_checkin_answer *a,
                               const struct fl_dp_checkin_answer *b)
{
	return a->time == b->time && a->next_checkin == b->next_checkin &&
	       same_str(a->token, b->token) && same_keys(&a->keys, &b->keys) &&
	       same_str(a->seq_reset, b->seq_reset) &&
	       same_str(a->release_receipt, b->release_receipt) &&
	       memcmp(a->mac, b->mac, sizeof(a->mac)) == 0;
}

static int plain_or_null(const char *s)
{
	return s == NULL || fl_dp_json_plain(s, strlen(s));
}

/* The short path of the check-in request decoder agrees with the full
 * one: same error, same values. */
static void checkin_req_paths(const uint8_t *data, size_t size)
{
	struct fl_dp_checkin_req a, b;
	fl_err ea, eb;

	ea = fl_dp_checkin_req_decode((const char *)data, size, &a);
	eb = fl_dp_checkin_req_decode_full((const char *)data, size, &b);
	CHECK(ea == eb);
	CHECK(memcmp(&a, &b, sizeof(a)) == 0);
}

/* The assembled answer is the encoder's, byte for byte. */
static void checkin_assemble(const uint8_t *data, size_t size)
{
	struct fl_dp_checkin_answer a;
	struct fl_dp_answer_parts p;
	char *want = NULL, *got = NULL, *keys = NULL;
	size_t len = 0, keys_len = 0;
	fl_err err;

	if (fl_dp_checkin_answer_decode((const char *)data, size, &a) != FL_OK)
		return;
	CHECK(fl_dp_checkin_answer_encode(&a, &want) == FL_OK);
	CHECK(fl_dp_keys_json(&a.keys, &keys, &keys_len) == FL_OK);
	memset(&p, 0, sizeof(p));
	p.time = a.time;
	p.next_checkin = a.next_checkin;
	p.token = a.token;
	p.token_len = a.token != NULL ? strlen(a.token) : 0;
	p.keys = keys;
	p.keys_len = keys_len;
	p.seq_reset = a.seq_reset;
	p.seq_reset_len = a.seq_reset != NULL ? strlen(a.seq_reset) : 0;
	p.receipt = a.release_receipt;
	p.receipt_len =
	        a.release_receipt != NULL ? strlen(a.release_receipt) : 0;
	memcpy(p.mac, a.mac, sizeof(p.mac));
	err = fl_dp_checkin_answer_assemble(&p, &got, &len);
	if (plain_or_null(a.token) && plain_or_null(a.seq_reset) &&
	    plain_or_null(a.release_receipt)) {
		CHECK(err == FL_OK);
		CHECK(len == strlen(want) && strcmp(got, want) == 0);
	} else {
		CHECK(err == FL_E_INVALID && got == NULL);
	}
	free(got);
	free(keys);
	free(want);
	fl_dp_checkin_answer_clear(&a);
}

static int same_lookup_req(const struct fl_dp_lookup_req *a,
                           const struct fl_dp_lookup_req *b)
{
	return same_imeis(a->imei, a->n_imei, b->imei, b->n_imei) &&
	       memcmp(a->nonce, b->nonce, sizeof(a->nonce)) == 0 &&
	       a->has_factory == b->has_factory &&
	       memcmp(a->factory_pk, b->factory_pk, sizeof(a->factory_pk)) ==
	               0 &&
	       memcmp(a->sig, b->sig, sizeof(a->sig)) == 0;
}

static void lookup_req(const uint8_t *data, size_t size)
{
	struct fl_dp_lookup_req r;
	uint8_t *in = NULL;
	size_t len = 0;

	ROUNDTRIP(struct fl_dp_lookup_req, fl_dp_lookup_req_decode,
	          fl_dp_lookup_req_encode, no_clear, same_lookup_req, data,
	          size);
	if (fl_dp_lookup_req_decode((const char *)data, size, &r) != FL_OK)
		return;
	CHECK(fl_dp_lookup_sign_input(&r, &in, &len) == FL_OK && len > 0);
	free(in);
	if (fl_dp_lookup_verify(&r) == FL_OK)
		CHECK(r.has_factory);
}

static int same_lookup_payload(const struct fl_dp_lookup_payload *a,
                               const struct fl_dp_lookup_payload *b)
{
	return memcmp(a->nonce, b->nonce, sizeof(a->nonce)) == 0 &&
	       same_imeis(a->imei, a->n_imei, b->imei, b->n_imei) &&
	       a->time == b->time && a->program == b->program &&
	       fl_dp_program_name(a->program) != NULL &&
	       strcmp(a->status, b->status) == 0 &&
	       fl_dp_status_check(a->status) == FL_OK &&
	       same_str(a->token, b->token);
}

static int same_lookup_answer(const struct fl_dp_lookup_answer *a,
                              const struct fl_dp_lookup_answer *b)
{
	return same_str(a->lookup, b->lookup) && same_keys(&a->keys, &b->keys);
}

/* A receipt's loan_ref may be absent (NULL) or "": both encode as "". */
static int same_receipt(const struct fl_dp_receipt *a,
                        const struct fl_dp_receipt *b)
{
	const char *la = a->loan_ref != NULL ? a->loan_ref : "";
	const char *lb = b->loan_ref != NULL ? b->loan_ref : "";

	return strcmp(a->device_id, b->device_id) == 0 &&
	       same_imeis(a->imei, a->n_imei, b->imei, b->n_imei) &&
	       strcmp(la, lb) == 0 && a->released_at == b->released_at;
}

static void error_answer(const uint8_t *data, size_t size)
{
	char *code = NULL, *json = NULL, *again = NULL;

	if (fl_dp_error_decode((const char *)data, size, &code) != FL_OK) {
		CHECK(code == NULL);
		return;
	}
	CHECK(code != NULL);
	CHECK(fl_dp_error_encode(code, "m", &json) == FL_OK);
	CHECK(fl_dp_error_decode(json, strlen(json), &again) == FL_OK);
	CHECK(strcmp(code, again) == 0);
	free(again);
	free(json);
	free(code);
}

static void resync(const uint8_t *data, size_t size)
{
	struct fl_dp_resync a, b;
	char *json = NULL, *again = NULL, *code = NULL;

	if (fl_dp_resync_decode((const char *)data, size, &a) != FL_OK) {
		CHECK(zero(&a, sizeof(a)));
		return;
	}
	CHECK(a.counter <= INT64_MAX);
	CHECK(fl_dp_resync_encode(a.counter, a.mac, &json) == FL_OK);
	CHECK(fl_dp_resync_decode(json, strlen(json), &b) == FL_OK);
	CHECK(memcmp(&a, &b, sizeof(a)) == 0);
	CHECK(fl_dp_error_decode(json, strlen(json), &code) == FL_OK);
	CHECK(strcmp(code, "stale_counter") == 0);
	CHECK(fl_dp_resync_encode(b.counter, b.mac, &again) == FL_OK);
	CHECK(strcmp(json, again) == 0);
	free(code);
	free(again);
	free(json);
}

/* The NUL-terminated copy of the input, for the header parsers. */
static char *cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL)
		abort();
	if (size > 0)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

static void counter(const uint8_t *data, size_t size)
{
	char *s = cstr(data, size), path[FL_DP_WAIT_PATH_MAX];
	uint64_t v = 1;

	if (fl_dp_counter_parse(s, &v) == FL_OK) {
		char want[FL_DP_WAIT_PATH_MAX];

		/* Canonical decimal: it writes back to the same digits. */
		CHECK(v >= 1);
		fl_dp_wait_path(path, v);
		snprintf(want, sizeof(want), "%s?seq=%s", FL_DP_PATH_WAIT, s);
		CHECK(strcmp(path, want) == 0);
	} else {
		CHECK(v == 0);
	}
	free(s);
}

static void device_id(const uint8_t *data, size_t size)
{
	char *s = cstr(data, size);
	size_t n = strlen(s);

	if (fl_dp_device_id_check(s) == FL_OK) {
		CHECK(n >= 1 && n <= FL_DP_DEVICE_ID_MAX);
		CHECK(strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRS"
		                "TUVWXYZ0123456789_-") == n);
	}
	free(s);
}

static void request_mac(const uint8_t *data, size_t size)
{
	static const uint8_t key[FL_MAC_KEY_LEN] = {1, 2, 3};
	char *s = cstr(data, size);
	uint8_t mac[FL_MAC_LEN];
	char hex[2 * FL_MAC_LEN + 1];

	/* A header that is not the MAC of this request never verifies. */
	CHECK(fl_dp_request_mac(mac, key, "POST", FL_DP_PATH_CHECKIN, data,
	                        size, 7) == FL_OK);
	fl_hex_encode(hex, mac, FL_MAC_LEN);
	if (fl_dp_request_verify(s, key, "POST", FL_DP_PATH_CHECKIN, data, size,
	                         7) == FL_OK)
		CHECK(strcmp(s, hex) == 0);
	CHECK(fl_dp_request_verify(hex, key, "POST", FL_DP_PATH_CHECKIN, data,
	                           size, 7) == FL_OK);
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	unsigned sel;

	if (!ready) {
		if (fl_crypto_init() != FL_OK)
			abort();
		ready = 1;
	}
	if (size < 1)
		return 0;
	sel = data[0] % 14;
	data++;
	size--;
	switch (sel) {
	case 0:
		enroll_req(data, size);
		break;
	case 1:
		ROUNDTRIP(struct fl_dp_enroll_payload,
		          fl_dp_enroll_payload_decode,
		          fl_dp_enroll_payload_encode,
		          fl_dp_enroll_payload_clear, same_enroll_payload, data,
		          size);
		break;
	case 2:
		ROUNDTRIP(struct fl_dp_enroll_answer,
		          fl_dp_enroll_answer_decode,
		          fl_dp_enroll_answer_encode, fl_dp_enroll_answer_clear,
		          same_enroll_answer, data, size);
		break;
	case 3:
		ROUNDTRIP(struct fl_dp_checkin_req, fl_dp_checkin_req_decode,
		          fl_dp_checkin_req_encode, no_clear, same_checkin_req,
		          data, size);
		checkin_req_paths(data, size);
		break;
	case 4:
		ROUNDTRIP(struct fl_dp_checkin_answer,
		          fl_dp_checkin_answer_decode,
		          fl_dp_checkin_answer_encode,
		          fl_dp_checkin_answer_clear, same_checkin_answer, data,
		          size);
		checkin_assemble(data, size);
		break;
	case 5:
		lookup_req(data, size);
		break;
	case 6:
		ROUNDTRIP(struct fl_dp_lookup_payload,
		          fl_dp_lookup_payload_decode,
		          fl_dp_lookup_payload_encode,
		          fl_dp_lookup_payload_clear, same_lookup_payload, data,
		          size);
		break;
	case 7:
		ROUNDTRIP(struct fl_dp_lookup_answer,
		          fl_dp_lookup_answer_decode,
		          fl_dp_lookup_answer_encode, fl_dp_lookup_answer_clear,
		          same_lookup_answer, data, size);
		break;
	case 8:
		ROUNDTRIP(struct fl_dp_receipt, fl_dp_receipt_decode,
		          fl_dp_receipt_encode, fl_dp_receipt_clear,
		          same_receipt, data, size);
		break;
	case 9:
		error_answer(data, size);
		break;
	case 10:
		counter(data, size);
		break;
	case 11:
		device_id(data, size);
		break;
	case 12:
		request_mac(data, size);
		break;
	case 13:
		resync(data, size);
		break;
	}
	return 0;
}
