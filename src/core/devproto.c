/* The device protocol's encodings, MACs and JSON shapes (devproto.h). */
#include "core/devproto.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* --- PAE ----------------------------------------------------------------- */

struct piece {
	const void *p;
	size_t len;
};

static void le64(uint8_t out[8], uint64_t v)
{
	v &= 0x7fffffffffffffffULL; /* top bit clear, as PASETO's PAE */
	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(v >> (8 * i));
}

/* PAE of n pieces into a fresh buffer (caller frees *out). */
static fl_err pae(uint8_t **out, size_t *len, const struct piece *pc, size_t n)
{
	size_t total = 8;
	uint8_t *b, *w;

	*out = NULL;
	*len = 0;
	for (size_t i = 0; i < n; i++) {
		if (pc[i].len > FL_DP_MAX_BODY * 2)
			return FL_E_TOO_LARGE;
		total += 8 + pc[i].len;
	}
	b = malloc(total);
	if (b == NULL)
		return FL_E_NOMEM;
	w = b;
	le64(w, n);
	w += 8;
	for (size_t i = 0; i < n; i++) {
		le64(w, pc[i].len);
		w += 8;
		if (pc[i].len > 0)
			memcpy(w, pc[i].p, pc[i].len);
		w += pc[i].len;
	}
	*out = b;
	*len = total;
	return FL_OK;
}

static struct piece str_piece(const char *s)
{
	struct piece p = {s != NULL ? s : "", s != NULL ? strlen(s) : 0};
	return p;
}

/* Keyed BLAKE2b-256 of PAE(pieces), hashed as it is encoded (no copy):
 * the same MAC as fl_blake2b over what pae() writes. */
static fl_err pae_mac(uint8_t mac[FL_MAC_LEN],
                      const uint8_t key[FL_MAC_KEY_LEN], const struct piece *pc,
                      size_t n)
{
	fl_blake2b_state st;
	uint8_t l[8];
	fl_err err;

	memset(mac, 0, FL_MAC_LEN);
	for (size_t i = 0; i < n; i++)
		if (pc[i].len > FL_DP_MAX_BODY * 2)
			return FL_E_TOO_LARGE;
	err = fl_blake2b_init(&st, key, FL_MAC_KEY_LEN, FL_MAC_LEN);
	if (err)
		return err;
	le64(l, n);
	fl_blake2b_update(&st, l, 8);
	for (size_t i = 0; i < n; i++) {
		le64(l, pc[i].len);
		fl_blake2b_update(&st, l, 8);
		if (pc[i].len > 0)
			fl_blake2b_update(&st, pc[i].p, pc[i].len);
	}
	fl_blake2b_final(&st, mac, FL_MAC_LEN);
	fl_wipe(&st, sizeof(st));
	return FL_OK;
}

/* --- secrets ------------------------------------------------------------- */

fl_err fl_dp_derive(const uint8_t shared[FL_KX_SESSION_LEN],
                    uint8_t mac_key[FL_MAC_KEY_LEN],
                    uint8_t ocode_secret[FL_DP_OCODE_SECRET_LEN])
{
	fl_err err;

	err = fl_kdf(mac_key, FL_MAC_KEY_LEN, FL_DP_KDF_ID, FL_DP_KDF_CTX_MAC,
	             shared);
	if (err)
		goto out;
	err = fl_kdf(ocode_secret, FL_DP_OCODE_SECRET_LEN, FL_DP_KDF_ID,
	             FL_DP_KDF_CTX_OCODE, shared);
out:
	if (err) {
		fl_wipe(mac_key, FL_MAC_KEY_LEN);
		fl_wipe(ocode_secret, FL_DP_OCODE_SECRET_LEN);
	}
	return err;
}

/* --- MACs ---------------------------------------------------------------- */

/* The five pieces a request MAC covers (docs/protocol.md "Request
 * MAC"); ctr is their storage for the counter. */
static void request_pieces(struct piece pc[5], uint8_t ctr[8],
                           const char *method, const char *path_with_query,
                           const void *body, size_t body_len, uint64_t counter)
{
	for (int i = 0; i < 8; i++)
		ctr[i] = (uint8_t)(counter >> (8 * i));
	pc[0] = str_piece("finlock:device-request");
	pc[1] = str_piece(method);
	pc[2] = str_piece(path_with_query);
	pc[3].p = body;
	pc[3].len = body_len;
	pc[4].p = ctr;
	pc[4].len = 8;
}

/* The five pieces an answer MAC covers; ctr, nxt and ts are their
 * storage for the counter, next check-in and time. */
static void answer_pieces(struct piece pc[5], uint8_t ctr[8], uint8_t nxt[8],
                          char ts[FL_TIME_STR_LEN], uint64_t counter,
                          fl_time time, uint32_t next_checkin,
                          const char *token)
{
	for (int i = 0; i < 8; i++)
		ctr[i] = (uint8_t)(counter >> (8 * i));
	le64(nxt, next_checkin);
	fl_time_format(time, ts);
	pc[0] = str_piece("finlock:device-answer");
	pc[1].p = ctr;
	pc[1].len = 8;
	pc[2] = str_piece(ts);
	pc[3].p = nxt;
	pc[3].len = 8;
	pc[4] = str_piece(token);
}

fl_err fl_dp_request_mac_input(uint8_t **out, size_t *len, const char *method,
                               const char *path_with_query, const void *body,
                               size_t body_len, uint64_t counter)
{
	uint8_t ctr[8];
	struct piece pc[5];

	if (method == NULL || path_with_query == NULL ||
	    (body == NULL && body_len > 0)) {
		*out = NULL;
		*len = 0;
		return FL_E_INVALID;
	}
	request_pieces(pc, ctr, method, path_with_query, body, body_len,
	               counter);
	return pae(out, len, pc, 5);
}

fl_err fl_dp_request_mac(uint8_t mac[FL_MAC_LEN],
                         const uint8_t key[FL_MAC_KEY_LEN], const char *method,
                         const char *path_with_query, const void *body,
                         size_t body_len, uint64_t counter)
{
	uint8_t ctr[8];
	struct piece pc[5];

	if (method == NULL || path_with_query == NULL ||
	    (body == NULL && body_len > 0)) {
		memset(mac, 0, FL_MAC_LEN);
		return FL_E_INVALID;
	}
	request_pieces(pc, ctr, method, path_with_query, body, body_len,
	               counter);
	return pae_mac(mac, key, pc, 5);
}

fl_err fl_dp_request_verify(const char *mac_hex,
                            const uint8_t key[FL_MAC_KEY_LEN],
                            const char *method, const char *path_with_query,
                            const void *body, size_t body_len, uint64_t counter)
{
	uint8_t want[FL_MAC_LEN], got[FL_MAC_LEN];
	fl_err err;

	if (mac_hex == NULL || strlen(mac_hex) != 2 * FL_MAC_LEN)
		return FL_E_AUTH;
	for (size_t i = 0; i < 2 * FL_MAC_LEN; i++) {
		char c = mac_hex[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return FL_E_AUTH; /* lower-case only: one spelling */
	}
	if (fl_hex_decode(got, FL_MAC_LEN, mac_hex, 2 * FL_MAC_LEN) != FL_OK)
		return FL_E_AUTH;
	err = fl_dp_request_mac(want, key, method, path_with_query, body,
	                        body_len, counter);
	if (err)
		return err;
	return fl_ct_memcmp(want, got, FL_MAC_LEN) == 0 ? FL_OK : FL_E_AUTH;
}

fl_err fl_dp_answer_mac_input(uint8_t **out, size_t *len, uint64_t counter,
                              fl_time time, uint32_t next_checkin,
                              const char *token)
{
	uint8_t ctr[8], nxt[8];
	char ts[FL_TIME_STR_LEN];
	struct piece pc[5];

	answer_pieces(pc, ctr, nxt, ts, counter, time, next_checkin, token);
	return pae(out, len, pc, 5);
}

fl_err fl_dp_answer_mac(uint8_t mac[FL_MAC_LEN],
                        const uint8_t key[FL_MAC_KEY_LEN], uint64_t counter,
                        fl_time time, uint32_t next_checkin, const char *token)
{
	uint8_t ctr[8], nxt[8];
	char ts[FL_TIME_STR_LEN];
	struct piece pc[5];

	answer_pieces(pc, ctr, nxt, ts, counter, time, next_checkin, token);
	return pae_mac(mac, key, pc, 5);
}

fl_err fl_dp_counter_parse(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	size_t n;

	*out = 0;
	if (s == NULL)
		return FL_E_INVALID;
	n = strlen(s);
	if (n == 0 || n > 20 || s[0] == '0')
		return FL_E_INVALID;
	for (size_t i = 0; i < n; i++) {
		unsigned d;
		if (s[i] < '0' || s[i] > '9')
			return FL_E_INVALID;
		d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return FL_E_INVALID;
		v = v * 10 + d;
	}
	*out = v;
	return FL_OK;
}

static void u64_dec(char out[21], uint64_t v)
{
	char tmp[21];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	out[n] = '\0';
}

void fl_dp_wait_path(char out[FL_DP_WAIT_PATH_MAX], uint64_t seq)
{
	static const char pre[] = FL_DP_PATH_WAIT "?seq=";
	char d[21];

	u64_dec(d, seq);
	memcpy(out, pre, sizeof(pre) - 1);
	memcpy(out + sizeof(pre) - 1, d, strlen(d) + 1);
}

fl_err fl_dp_device_id_check(const char *id)
{
	size_t n;

	if (id == NULL)
		return FL_E_INVALID;
	n = strlen(id);
	if (n == 0 || n > FL_DP_DEVICE_ID_MAX)
		return FL_E_INVALID;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return FL_E_INVALID;
	}
	return FL_OK;
}

/* --- JSON helpers ----------------------------------------------------------
 */

static bool printable(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

/* Parses a JSON object of at most FL_DP_MAX_BODY bytes. */
static fl_err load_object(const char *json, size_t len, json_t **out)
{
	json_error_t jerr;
	json_t *o;

	*out = NULL;
	if (json == NULL)
		return FL_E_JSON;
	if (len > FL_DP_MAX_BODY)
		return FL_E_TOO_LARGE;
	o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (o == NULL)
		return FL_E_JSON;
	if (!json_is_object(o)) {
		json_decref(o);
		return FL_E_JSON;
	}
	*out = o;
	return FL_OK;
}

/* FL_E_FIELD_UNKNOWN if o has a key not in the NULL-terminated list. */
static fl_err only_keys(json_t *o, const char *const *allowed)
{
	const char *k;
	json_t *v;

	json_object_foreach(o, k, v)
	{
		size_t i;
		(void)v;
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(k, allowed[i]) == 0)
				break;
		if (allowed[i] == NULL)
			return FL_E_FIELD_UNKNOWN;
	}
	return FL_OK;
}

/* A string field copied into out[cap] (cap includes the NUL). */
static fl_err get_str_buf(json_t *o, const char *key, bool required, char *out,
                          size_t cap)
{
	json_t *v = json_object_get(o, key);
	size_t n;

	out[0] = '\0';
	if (v == NULL)
		return required ? FL_E_FIELD_MISSING : FL_OK;
	if (!json_is_string(v))
		return FL_E_FIELD_TYPE;
	n = json_string_length(v);
	if (n >= cap)
		return FL_E_TOO_LARGE;
	if (memchr(json_string_value(v), '\0', n) != NULL)
		return FL_E_FIELD_TYPE;
	memcpy(out, json_string_value(v), n + 1);
	return FL_OK;
}

/* A string field duplicated into *out (caller frees), at most max bytes. */
static fl_err get_str_dup(json_t *o, const char *key, bool required, size_t max,
                          char **out)
{
	json_t *v = json_object_get(o, key);
	size_t n;

	*out = NULL;
	if (v == NULL)
		return required ? FL_E_FIELD_MISSING : FL_OK;
	if (!json_is_string(v))
		return FL_E_FIELD_TYPE;
	n = json_string_length(v);
	if (n > max)
		return FL_E_TOO_LARGE;
	if (memchr(json_string_value(v), '\0', n) != NULL)
		return FL_E_FIELD_TYPE;
	*out = malloc(n + 1);
	if (*out == NULL)
		return FL_E_NOMEM;
	memcpy(*out, json_string_value(v), n + 1);
	return FL_OK;
}

static fl_err get_bin(json_t *o, const char *key, uint8_t *out, size_t len)
{
	json_t *v = json_object_get(o, key);
	size_t got = 0;

	if (v == NULL)
		return FL_E_FIELD_MISSING;
	if (!json_is_string(v))
		return FL_E_FIELD_TYPE;
	if (fl_b64url_decode(out, len, &got, json_string_value(v),
	                     json_string_length(v)) != FL_OK ||
	    got != len) {
		memset(out, 0, len);
		return FL_E_FIELD_TYPE;
	}
	return FL_OK;
}

static fl_err get_time(json_t *o, const char *key, bool required, fl_time *out)
{
	json_t *v = json_object_get(o, key);

	*out = 0;
	if (v == NULL)
		return required ? FL_E_FIELD_MISSING : FL_OK;
	if (!json_is_string(v))
		return FL_E_FIELD_TYPE;
	return fl_time_parse(json_string_value(v), json_string_length(v), out);
}

static fl_err get_bool(json_t *o, const char *key, bool required, bool *out)
{
	json_t *v = json_object_get(o, key);

	*out = false;
	if (v == NULL)
		return required ? FL_E_FIELD_MISSING : FL_OK;
	if (!json_is_boolean(v))
		return FL_E_FIELD_TYPE;
	*out = json_is_true(v);
	return FL_OK;
}

static fl_err get_u64(json_t *o, const char *key, bool required, uint64_t max,
                      uint64_t *out)
{
	json_t *v = json_object_get(o, key);
	json_int_t i;

	*out = 0;
	if (v == NULL)
		return required ? FL_E_FIELD_MISSING : FL_OK;
	if (!json_is_integer(v))
		return FL_E_FIELD_TYPE;
	i = json_integer_value(v);
	if (i < 0 || (uint64_t)i > max)
		return FL_E_RANGE;
	*out = (uint64_t)i;
	return FL_OK;
}

static fl_err get_imeis(json_t *o, const char *key, char imei[2][16], size_t *n)
{
	json_t *a = json_object_get(o, key), *v;
	size_t i;

	*n = 0;
	imei[0][0] = imei[1][0] = '\0';
	if (a == NULL)
		return FL_E_FIELD_MISSING;
	if (!json_is_array(a))
		return FL_E_FIELD_TYPE;
	if (json_array_size(a) < 1 || json_array_size(a) > 2)
		return FL_E_RANGE;
	json_array_foreach(a, i, v)
	{
		fl_err err;
		if (!json_is_string(v))
			return FL_E_FIELD_TYPE;
		err = fl_imei_parse(json_string_value(v), json_string_length(v),
		                    imei[i]);
		if (err) {
			imei[0][0] = imei[1][0] = '\0';
			return err;
		}
	}
	*n = json_array_size(a);
	return FL_OK;
}

static fl_err get_str_list(json_t *o, const char *key, size_t max_n,
                           char **list, size_t *n)
{
	json_t *a = json_object_get(o, key), *v;
	size_t i;
	fl_err err = FL_OK;

	*n = 0;
	if (a == NULL)
		return FL_OK;
	if (!json_is_array(a))
		return FL_E_FIELD_TYPE;
	if (json_array_size(a) > max_n)
		return FL_E_TOO_LARGE;
	json_array_foreach(a, i, v)
	{
		size_t len;
		if (!json_is_string(v)) {
			err = FL_E_FIELD_TYPE;
			break;
		}
		len = json_string_length(v);
		if (len > FL_DP_TOKEN_MAX) {
			err = FL_E_TOO_LARGE;
			break;
		}
		list[i] = malloc(len + 1);
		if (list[i] == NULL) {
			err = FL_E_NOMEM;
			break;
		}
		memcpy(list[i], json_string_value(v), len + 1);
		*n = i + 1;
	}
	if (err) {
		for (size_t j = 0; j < *n; j++) {
			free(list[j]);
			list[j] = NULL;
		}
		*n = 0;
	}
	return err;
}

static fl_err get_keys(json_t *o, struct fl_dp_keys *k)
{
	fl_err err;

	err = get_str_list(o, "certs", FL_DP_MAX_CERTS, k->certs, &k->n_certs);
	if (err)
		return err;
	return get_str_list(o, "revocations", FL_DP_MAX_REVOCATIONS,
	                    k->revocations, &k->n_revocations);
}

/* Setters: every one returns FL_E_NOMEM when jansson cannot allocate. */
static fl_err set(json_t *o, const char *key, json_t *v)
{
	if (v == NULL)
		return FL_E_NOMEM;
	return json_object_set_new(o, key, v) == 0 ? FL_OK : FL_E_NOMEM;
}

static fl_err set_str(json_t *o, const char *key, const char *s)
{
	return set(o, key, json_string(s != NULL ? s : ""));
}

static fl_err set_bin(json_t *o, const char *key, const uint8_t *b, size_t len)
{
	char txt[128];
	fl_err err = fl_b64url_encode(txt, sizeof(txt), b, len);

	if (err)
		return err;
	return set_str(o, key, txt);
}

static fl_err set_time(json_t *o, const char *key, fl_time t)
{
	char ts[FL_TIME_STR_LEN];

	fl_time_format(t, ts);
	return set_str(o, key, ts);
}

static fl_err set_imeis(json_t *o, const char *key, const char imei[2][16],
                        size_t n)
{
	json_t *a = json_array();

	if (a == NULL)
		return FL_E_NOMEM;
	for (size_t i = 0; i < n && i < 2; i++) {
		if (json_array_append_new(a, json_string(imei[i])) != 0) {
			json_decref(a);
			return FL_E_NOMEM;
		}
	}
	return set(o, key, a);
}

static fl_err set_list(json_t *o, const char *key, char *const *list, size_t n)
{
	json_t *a = json_array();

	if (a == NULL)
		return FL_E_NOMEM;
	for (size_t i = 0; i < n; i++) {
		if (json_array_append_new(a, json_string(list[i])) != 0) {
			json_decref(a);
			return FL_E_NOMEM;
		}
	}
	return set(o, key, a);
}

static fl_err set_keys(json_t *o, const struct fl_dp_keys *k)
{
	fl_err err;

	if (k->n_certs > FL_DP_MAX_CERTS ||
	    k->n_revocations > FL_DP_MAX_REVOCATIONS)
		return FL_E_TOO_LARGE;
	err = set_list(o, "certs", k->certs, k->n_certs);
	if (err)
		return err;
	return set_list(o, "revocations", k->revocations, k->n_revocations);
}

/* Serialises o compactly and drops the reference (caller frees *json). */
static fl_err dump(json_t *o, fl_err err, char **json)
{
	*json = NULL;
	if (err == FL_OK) {
		*json = json_dumps(o, JSON_COMPACT);
		if (*json == NULL)
			err = FL_E_NOMEM;
	}
	json_decref(o);
	return err;
}

void fl_dp_keys_clear(struct fl_dp_keys *k)
{
	if (k == NULL)
		return;
	for (size_t i = 0; i < k->n_certs && i < FL_DP_MAX_CERTS; i++)
		free(k->certs[i]);
	for (size_t i = 0; i < k->n_revocations && i < FL_DP_MAX_REVOCATIONS;
	     i++)
		free(k->revocations[i]);
	memset(k, 0, sizeof(*k));
}

/* --- enrollment ------------------------------------------------------------
 */

static fl_err enroll_req_check(const struct fl_dp_enroll_req *r)
{
	char tmp[FL_IMEI_LEN + 1];
	size_t n;

	if (r->n_imei < 1 || r->n_imei > 2)
		return FL_E_INVALID;
	for (size_t i = 0; i < r->n_imei; i++)
		if (fl_imei_parse(r->imei[i], strnlen(r->imei[i], 16), tmp) !=
		    FL_OK)
			return FL_E_INVALID;
	n = strnlen(r->code, sizeof(r->code));
	if (n == sizeof(r->code) || !printable(r->code, n))
		return FL_E_INVALID;
	n = strnlen(r->serial, sizeof(r->serial));
	if (n == sizeof(r->serial) || !printable(r->serial, n))
		return FL_E_INVALID;
	return FL_OK;
}

/* The pieces of an enrollment request under label: the device key signs
 * them as "finlock:enroll-request", the factory key as
 * "finlock:enroll-factory". */
static fl_err enroll_input(const struct fl_dp_enroll_req *r, const char *label,
                           uint8_t **out, size_t *len)
{
	struct piece pc[8];

	*out = NULL;
	*len = 0;
	if (enroll_req_check(r) != FL_OK)
		return FL_E_INVALID;
	pc[0] = str_piece(label);
	pc[1] = str_piece(r->code);
	pc[2] = str_piece(r->imei[0]);
	pc[3] = str_piece(r->n_imei > 1 ? r->imei[1] : "");
	pc[4] = str_piece(r->serial);
	pc[5].p = r->sign_pk;
	pc[5].len = FL_SIGN_PK_LEN;
	pc[6].p = r->kx_pk;
	pc[6].len = FL_KX_PK_LEN;
	pc[7].p = r->factory_pk;
	pc[7].len = r->has_factory ? FL_SIGN_PK_LEN : 0;
	return pae(out, len, pc, 8);
}

fl_err fl_dp_enroll_sign_input(const struct fl_dp_enroll_req *r, uint8_t **out,
                               size_t *len)
{
	return enroll_input(r, "finlock:enroll-request", out, len);
}

fl_err fl_dp_enroll_factory_input(const struct fl_dp_enroll_req *r,
                                  uint8_t **out, size_t *len)
{
	return enroll_input(r, "finlock:enroll-factory", out, len);
}

fl_err fl_dp_enroll_sign(struct fl_dp_enroll_req *r,
                         const uint8_t sk[FL_SIGN_SK_LEN])
{
	uint8_t *in = NULL;
	size_t len = 0;
	fl_err err;

	memset(r->sig, 0, sizeof(r->sig));
	err = fl_dp_enroll_sign_input(r, &in, &len);
	if (err)
		return err;
	fl_sign_detached(r->sig, in, len, sk);
	free(in);
	return FL_OK;
}

/* Whether sig is pk's signature of in[len], which `made` says was built
 * (FL_OK) or not; frees in. FL_OK or FL_E_BAD_SIGNATURE. */
static fl_err signed_by(fl_err made, uint8_t *in, size_t len,
                        const uint8_t sig[FL_SIG_LEN],
                        const uint8_t pk[FL_SIGN_PK_LEN])
{
	fl_err err = made == FL_OK ? fl_sign_verify(sig, in, len, pk) : made;

	free(in);
	return err == FL_OK ? FL_OK : FL_E_BAD_SIGNATURE;
}

fl_err fl_dp_enroll_verify(const struct fl_dp_enroll_req *r)
{
	uint8_t *in = NULL;
	size_t len = 0;
	fl_err err;

	err = fl_dp_enroll_sign_input(r, &in, &len);
	if ((err = signed_by(err, in, len, r->sig, r->sign_pk)) != FL_OK ||
	    !r->has_factory)
		return err;
	err = fl_dp_enroll_factory_input(r, &in, &len);
	return signed_by(err, in, len, r->factory_sig, r->factory_pk);
}

/* The optional pair of a key and a signature (JSON pk_key and sig_key,
 * both or neither) into pk and sig; *has tells which. */
static fl_err get_signed_by(json_t *o, const char *pk_key, const char *sig_key,
                            bool *has, uint8_t pk[FL_SIGN_PK_LEN],
                            uint8_t sig[FL_SIG_LEN])
{
	bool with_pk = json_object_get(o, pk_key) != NULL;
	fl_err err;

	*has = false;
	if (with_pk != (json_object_get(o, sig_key) != NULL))
		return FL_E_FIELD_MISSING;
	if (!with_pk)
		return FL_OK;
	err = get_bin(o, pk_key, pk, FL_SIGN_PK_LEN);
	if (!err)
		err = get_bin(o, sig_key, sig, FL_SIG_LEN);
	*has = err == FL_OK;
	return err;
}

static fl_err set_signed_by(json_t *o, const char *pk_key, const char *sig_key,
                            bool has, const uint8_t pk[FL_SIGN_PK_LEN],
                            const uint8_t sig[FL_SIG_LEN])
{
	fl_err err;

	if (!has)
		return FL_OK;
	err = set_bin(o, pk_key, pk, FL_SIGN_PK_LEN);
	if (!err)
		err = set_bin(o, sig_key, sig, FL_SIG_LEN);
	return err;
}

fl_err fl_dp_enroll_req_encode(const struct fl_dp_enroll_req *r, char **json)
{
	json_t *o;
	fl_err err;

	*json = NULL;
	if (enroll_req_check(r) != FL_OK)
		return FL_E_INVALID;
	o = json_object();
	if (o == NULL)
		return FL_E_NOMEM;
	err = set_str(o, "code", r->code);
	if (!err)
		err = set_imeis(o, "imei", r->imei, r->n_imei);
	if (!err)
		err = set_str(o, "serial", r->serial);
	if (!err)
		err = set_bin(o, "sign_pk", r->sign_pk, FL_SIGN_PK_LEN);
	if (!err)
		err = set_bin(o, "kx_pk", r->kx_pk, FL_KX_PK_LEN);
	if (!err)
		err = set_bin(o, "sig", r->sig, FL_SIG_LEN);
	if (!err)
		err = set_signed_by(o, "factory_pk", "factory_sig",
		                    r->has_factory, r->factory_pk,
		                    r->factory_sig);
	return dump(o, err, json);
}

fl_err fl_dp_enroll_req_decode(const char *json, size_t len,
                               struct fl_dp_enroll_req *r)
{
	static const char *const keys[] = {
	        "code", "imei",       "serial",      "sign_pk", "kx_pk",
	        "sig",  "factory_pk", "factory_sig", NULL};
	json_t *o = NULL;
	fl_err err;

	memset(r, 0, sizeof(*r));
	err = load_object(json, len, &o);
	if (err)
		goto out;
	err = only_keys(o, keys);
	if (!err)
		err = get_str_buf(o, "code", true, r->code, sizeof(r->code));
	if (!err)
		err = get_imeis(o, "imei", r->imei, &r->n_imei);
	if (!err)
		err = get_str_buf(o, "serial", false, r->serial,
		                  sizeof(r->serial));
	if (!err)
		err = get_bin(o, "sign_pk", r->sign_pk, FL_SIGN_PK_LEN);
	if (!err)
		err = get_bin(o, "kx_pk", r->kx_pk, FL_KX_PK_LEN);
	if (!err)
		err = get_bin(o, "sig", r->sig, FL_SIG_LEN);
	if (!err)
		err = get_signed_by(o, "factory_pk", "factory_sig",
		                    &r->has_factory, r->factory_pk,
		                    r->factory_sig);
	if (!err && enroll_req_check(r) != FL_OK)
		err = FL_E_INVALID;
out:
	json_decref(o);
	if (err)
		memset(r, 0, sizeof(*r));
	return err;
}

void fl_dp_pairing_code(const uint8_t sign_pk[FL_SIGN_PK_LEN],
                        const uint8_t kx_pk[FL_KX_PK_LEN],
                        char out[FL_DP_PAIRING_LEN + 1])
{
	struct piece pc[3] = {str_piece("finlock:pairing"),
	                      {sign_pk, FL_SIGN_PK_LEN},
	                      {kx_pk, FL_KX_PK_LEN}};
	uint8_t *in = NULL, h[32];
	size_t len = 0;
	uint64_t v = 0;

	memset(out, 0, FL_DP_PAIRING_LEN + 1);
	if (pae(&in, &len, pc, 3) != FL_OK)
		return;
	if (fl_blake2b(h, sizeof(h), NULL, 0, in, len) != FL_OK) {
		free(in);
		return;
	}
	free(in);
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | h[i];
	v %= 10000000000000000ULL;
	for (int i = FL_DP_PAIRING_LEN - 1; i >= 0; i--) {
		out[i] = (char)('0' + v % 10);
		v /= 10;
	}
}

fl_err fl_dp_enroll_payload_encode(const struct fl_dp_enroll_payload *p,
                                   char **json)
{
	json_t *o;
	fl_err err;

	*json = NULL;
	if (fl_dp_device_id_check(p->device_id) != FL_OK || p->token == NULL)
		return FL_E_INVALID;
	o = json_object();
	if (o == NULL)
		return FL_E_NOMEM;
	err = set_str(o, "device_id", p->device_id);
	if (!err)
		err = set_bin(o, "sign_pk", p->sign_pk, FL_SIGN_PK_LEN);
	if (!err)
		err = set_bin(o, "kx_pk", p->kx_pk, FL_KX_PK_LEN);
	if (!err)
		err = set_bin(o, "server_kx_pk", p->server_kx_pk, FL_KX_PK_LEN);
	if (!err)
		err = set_time(o, "time", p->time);
	if (!err)
		err = set_str(o, "token", p->token);
	return dump(o, err, json);
}

fl_err fl_dp_enroll_payload_decode(const char *json, size_t len,
                                   struct fl_dp_enroll_payload *p)
{
	json_t *o = NULL;
	fl_err err;

	memset(p, 0, sizeof(*p));
	err = load_object(json, len, &o);
	if (err)
		goto out;
	err = get_str_buf(o, "device_id", true, p->device_id,
	                  sizeof(p->device_id));
	if (!err)
		err = fl_dp_device_id_check(p->device_id);
	if (!err)
		err = get_bin(o, "sign_pk", p->sign_pk, FL_SIGN_PK_LEN);
	if (!err)
		err = get_bin(o, "kx_pk", p->kx_pk, FL_KX_PK_LEN);
	if (!err)
		err = get_bin(o, "server_kx_pk", p->server_kx_pk, FL_KX_PK_LEN);
	if (!err)
		err = get_time(o, "time", true, &p->time);
	if (!err)
		err = get_str_dup(o, "token", true, FL_DP_TOKEN_MAX, &p->token);
out:
	json_decref(o);
	if (err)
		fl_dp_enroll_payload_clear(p);
	return err;
}

void fl_dp_enroll_payload_clear(struct fl_dp_enroll_payload *p)
{
	if (p == NULL)
		return;
	free(p->token);
	memset(p, 0, sizeof(*p));
}

fl_err fl_dp_enroll_answer_encode(const struct fl_dp_enroll_answer *a,
                                  char **json)
{
	json_t *o;
	fl_err err;

	*json = NULL;
	if (a->enrollment == NULL)
		return FL_E_INVALID;
	o = json_object();
	if (o == NULL)
		return FL_E_NOMEM;
	err = set_str(o, "enrollment", a->enrollment);
	if (!err)
		err = set_keys(o, &a->keys);
	return dump(o, err, json);
}

fl_err fl_dp_enroll_answer_decode(const char *json, size_t len,
                                  struct fl_dp_enroll_answer *a)
{
	json_t *o = NULL;
	fl_err err;

	memset(a, 0, sizeof(*a));
	err = load_object(json, len, &o);
	if (err)
		goto out;
	err = get_str_dup(o, "enrollment", true, FL_DP_TOKEN_MAX,
	                  &a->enrollment);
	if (!err)
		err = get_keys(o, &a->keys);
out:
	json_decref(o);
	if (err)
		fl_dp_enroll_answer_clear(a);
	return err;
}

void fl_dp_enroll_answer_clear(struct fl_dp_enroll_answer *a)
{
	if (a == NULL)
		return;
	free(a->enrollment);
	fl_dp_keys_clear(&a->keys);
	memset(a, 0, sizeof(*a));
}

fl_err fl_dp_pending_encode(const char pairing_code[FL_DP_PAIRING_LEN + 1],
                            char **json)
{
	json_t *o = json_object();
	fl_err err;

	*json = NULL;
	if (o == NULL)
		return FL_E_NOMEM;
	err = set_str(o, "status", "pending");
	if (!err)
		err = set_str(o, "pairing_code", pairing_code);
	return dump(o, err, json);
}

/* --- check-in ----------------------------------------------------------------
 */

static fl_err iccid_check(const char *s)
{
	size_t n = strnlen(s, FL_DP_ICCID_MAX + 1);

	if (n == 0)
		return FL_OK;
	if (n < 18 || n > FL_DP_ICCID_MAX)
		return FL_E_INVALID;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return FL_E_INVALID;
	return FL_OK;
}

const char *fl_dp_tamper_name(uint32_t flag)
{
	switch (flag) {
	case FL_DP_TAMPER_ROOTED:
		return "rooted";
	case FL_DP_TAMPER_BOOTLOADER:
		return "bootloader_unlocked";
	default:
		return NULL;
	}
}

fl_err fl_dp_checkin_req_encode(const struct fl_dp_checkin_req *r, char **json)
{
	json_t *o, *t;
	fl_err err;

	*json = NULL;
	if (iccid_check(r->iccid) != FL_OK || (r->tamper & ~FL_DP_TAMPER_ALL))
		return FL_E_INVALID;
	o = json_object();
	if (o == NULL)
		return FL_E_NOMEM;
	err = set(o, "seq", json_integer((json_int_t)r->seq));
	if (!err && r->seq > INT64_MAX)
		err = FL_E_RANGE;
	if (!err)
		err = set_time(o, "trusted_time", r->trusted_time);
	if (!err)
		err = set_time(o, "wall_time", r->wall_time);
	if (!err)
		err = set(o, "locked", json_boolean(r->locked));
	if (!err)
		err = set(o, "released", json_boolean(r->released));
	if (!err)
		err = set_str(o, "iccid", r->iccid);
	if (!err)
		err = set(o, "sim_changed", json_boolean(r->sim_changed));
	if (!err) {
		t = json_array();
		for (uint32_t f = 1; t != NULL && f <= FL_DP_TAMPER_ALL;
		     f <<= 1)
			if ((r->tamper & f) &&
			    json_array_append_new(
			            t, json_string(fl_dp_tamper_name(f))) !=
			            0) {
				json_decref(t);
				t = NULL;
			}
		err = set(o, "tamper", t);
	}
	if (!err && r->code_counter > INT64_MAX)
		err = FL_E_RANGE;
	if (!err)
		err = set(o, "code_counter",
		          json_integer((json_int_t)r->code_counter));
	if (!err && r->unlock_until != 0)
		err = set_time(o, "unlock_until", r->unlock_until);
	if (!err && r->token_held)
		err = set(o, "token_held", json_true());
	return dump(o, err, json);
}

/* --- the short path for plain check-in bodies ---------------------------
 *
 * A phone's check-in body is a flat object of plain values. This path
 * reads exactly such bodies: keys and strings of printable ASCII without
 * escapes, unsigned integers of at most 18 digits, true and false, the
 * tamper list of strings; JSON whitespace anywhere. It accepts a body
 * only when every check of the full decoder passes, and gives up (false)
 * on anything else, which the full decoder then reads: so both agree on
 * every input, errors included. */

struct scan {
	const char *p, *end;
};

static void scan_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' ||
	                         *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static bool scan_char(struct scan *s, char c)
{
	scan_ws(s);
	if (s->p < s->end && *s->p == c) {
		s->p++;
		return true;
	}
	return false;
}

/* A plain string: *str and *n point into the input. */
static bool scan_str(struct scan *s, const char **str, size_t *n)
{
	const char *q;

	if (!scan_char(s, '"'))
		return false;
	for (q = s->p; q < s->end && *q != '"'; q++)
		if ((unsigned char)*q < 0x20 || (unsigned char)*q > 0x7e ||
		    *q == '\\')
			return false;
	if (q == s->end)
		return false;
	*str = s->p;
	*n = (size_t)(q - s->p);
	s->p = q + 1;
	return true;
}

/* An unsigned integer of 1..18 digits, no leading zero, not a real. */
static bool scan_uint(struct scan *s, uint64_t *v)
{
	size_t n = 0;

	scan_ws(s);
	*v = 0;
	while (s->p + n < s->end && s->p[n] >= '0' && s->p[n] <= '9') {
		if (n == 18)
			return false;
		*v = *v * 10 + (uint64_t)(s->p[n] - '0');
		n++;
	}
	if (n == 0 || (n > 1 && s->p[0] == '0'))
		return false;
	if (s->p + n < s->end &&
	    (s->p[n] == '.' || s->p[n] == 'e' || s->p[n] == 'E'))
		return false;
	s->p += n;
	return true;
}

static bool scan_word(struct scan *s, const char *w)
{
	size_t n = strlen(w);

	scan_ws(s);
	if ((size_t)(s->end - s->p) < n || memcmp(s->p, w, n) != 0)
		return false;
	s->p += n;
	return true;
}

static bool scan_bool(struct scan *s, bool *v)
{
	if (scan_word(s, "true"))
		*v = true;
	else if (scan_word(s, "false"))
		*v = false;
	else
		return false;
	return true;
}

static bool scan_time(struct scan *s, fl_time *t)
{
	const char *str;
	size_t n;

	return scan_str(s, &str, &n) && fl_time_parse(str, n, t) == FL_OK;
}

/* The tamper list: at most 8 names of flags. */
static bool scan_tamper(struct scan *s, uint32_t *flags)
{
	const char *str;
	size_t n, count = 0;

	if (!scan_char(s, '['))
		return false;
	if (scan_char(s, ']'))
		return true;
	do {
		uint32_t f;

		if (++count > 8 || !scan_str(s, &str, &n))
			return false;
		for (f = 1; f <= FL_DP_TAMPER_ALL; f <<= 1)
			if (strlen(fl_dp_tamper_name(f)) == n &&
			    memcmp(fl_dp_tamper_name(f), str, n) == 0)
				break;
		if (f > FL_DP_TAMPER_ALL)
			return false;
		*flags |= f;
	} while (scan_char(s, ','));
	return scan_char(s, ']');
}

static bool checkin_req_scan(const char *json, size_t len,
                             struct fl_dp_checkin_req *r)
{
	static const char *const keys[] = {
	        "seq",          "trusted_time", "wall_time",   "locked",
	        "released",     "iccid",        "sim_changed", "tamper",
	        "code_counter", "unlock_until", "token_held", NULL};
	struct scan s = {json, json + len};
	unsigned seen = 0;

	memset(r, 0, sizeof(*r));
	if (json == NULL || len > FL_DP_MAX_BODY || !scan_char(&s, '{'))
		return false;
	if (!scan_char(&s, '}')) {
		do {
			const char *k, *str;
			size_t kn, n, i;
			bool ok;

			if (!scan_str(&s, &k, &kn) || !scan_char(&s, ':'))
				return false;
			for (i = 0; keys[i] != NULL; i++)
				if (strlen(keys[i]) == kn &&
				    memcmp(keys[i], k, kn) == 0)
					break;
			if (keys[i] == NULL || (seen & (1u << i)) != 0)
				return false;
			seen |= 1u << i;
			switch (i) {
			case 0:
				ok = scan_uint(&s, &r->seq);
				break;
			case 1:
				ok = scan_time(&s, &r->trusted_time);
				break;
			case 2:
				ok = scan_time(&s, &r->wall_time);
				break;
			case 3:
				ok = scan_bool(&s, &r->locked);
				break;
			case 4:
				ok = scan_bool(&s, &r->released);
				break;
			case 5:
				ok = scan_str(&s, &str, &n) &&
				     n < sizeof(r->iccid);
				if (ok) {
					memcpy(r->iccid, str, n);
					r->iccid[n] = '\0';
					ok = iccid_check(r->iccid) == FL_OK;
				}
				break;
			case 6:
				ok = scan_bool(&s, &r->sim_changed);
				break;
			case 7:
				ok = scan_tamper(&s, &r->tamper);
				break;
			case 8:
				ok = scan_uint(&s, &r->code_counter);
				break;
			case 9:
				ok = scan_time(&s, &r->unlock_until);
				break;
			default:
				ok = scan_bool(&s, &r->token_held);
				break;
			}
			if (!ok)
				return false;
		} while (scan_char(&s, ','));
		if (!scan_char(&s, '}'))
			return false;
	}
	scan_ws(&s);
	/* seq, trusted_time, wall_time and locked are required */
	return s.p == s.end && (seen & 0xf) == 0xf;
}

fl_err fl_dp_checkin_req_decode(const char *json, size_t len,
                                struct fl_dp_checkin_req *r)
{
	if (checkin_req_scan(json, len, r))
		return FL_OK;
	return fl_dp_checkin_req_decode_full(json, len, r);
}

fl_err fl_dp_checkin_req_decode_full(const char *json, size_t len,
                                     struct fl_dp_checkin_req *r)
{
	static const char *const keys[] = {
	        "seq",          "trusted_time", "wall_time",   "locked",
	        "released",     "iccid",        "sim_changed", "tamper",
	        "code_counter", "unlock_until", "token_held", NULL};
	json_t *o = NULL, *t, *v;
	size_t i;
	fl_err err;

	memset(r, 0, sizeof(*r));
	err = load_object(json, len, &o);
	if (err)
		goto out;
	err = only_keys(o, keys);
	if (!err)
		err = get_u64(o, "seq", true, INT64_MAX, &r->seq);
	if (!err)
		err = get_time(o, "trusted_time", true, &r->trusted_time);
	if (!err)
		err = get_time(o, "wall_time", true, &r->wall_time);
	if (!err)
		err = get_bool(o, "locked", true, &r->locked);
	if (!err)
		err = get_bool(o, "released", false, &r->released);
	if (!err)
		err = get_str_buf(o, "iccid", false, r->iccid,
		                  sizeof(r->iccid));
	if (!err)
		err = iccid_check(r->iccid);
	if (!err)
		err = get_bool(o, "sim_changed", false, &r->sim_changed);
	if (!err && (t = json_object_get(o, "tamper")) != NULL) {
		if (!json_is_array(t) || json_array_size(t) > 8)
			err = FL_E_FIELD_TYPE;
		json_array_foreach(t, i, v)
		{
			uint32_t f;
			if (err)
				break;
			if (!json_is_string(v)) {
				err = FL_E_FIELD_TYPE;
				break;
			}
			for (f = 1; f <= FL_DP_TAMPER_ALL; f <<= 1)
				if (strcmp(json_string_value(v),
				           fl_dp_tamper_name(f)) == 0)
					break;
			if (f > FL_DP_TAMPER_ALL)
				err = FL_E_INVALID;
			else
				r->tamper |= f;
		}
	}
	if (!err)
		err = get_u64(o, "code_counter", false, INT64_MAX,
		              &r->code_counter);
	if (!err)
		err = get_time(o, "unlock_until", false, &r->unlock_until);
	if (!err)
		err = get_bool(o, "token_held", false, &r->token_held);
out:
	json_decref(o);
	if (err)
		memset(r, 0, sizeof(*r));
	return err;
}

fl_err fl_dp_checkin_answer_encode(const struct fl_dp_checkin_answer *a,
                                   char **json)
{
	json_t *o;
	char hex[2 * FL_MAC_LEN + 1];
	fl_err err;

	*json = NULL;
	if (a->next_checkin > FL_DP_NEXT_MAX)
		return FL_E_RANGE;
	o = json_object();
	if (o == NULL)
		return FL_E_NOMEM;
	err = set_time(o, "time", a->time);
	if (!err && a->next_checkin != 0)
		err = set(o, "next_checkin", json_integer(a->next_checkin));
	if (!err && a->token != NULL)
		err = set_str(o, "token", a->token);
	if (!err)
		err = set_keys(o, &a->keys);
	if (!err && a->seq_reset != NULL)
		err = set_str(o, "seq_reset", a->seq_reset);
	if (!err && a->release_receipt != NULL)
		err = set_str(o, "release_receipt", a->release_receipt);
	fl_hex_encode(hex, a->mac, FL_MAC_LEN);
	if (!err)
		err = set_str(o, "mac", hex);
	return dump(o, err, json);
}

/* Whether any of the 8 bytes of x needs escaping (or is not ASCII): the
 * word-at-a-time tests "has a byte below n" and "has a byte above n" (exact
 * for n <= 127: a borrow or carry only crosses a byte that is itself
 * flagged) and "has a zero byte" after xor with '"' and with '\\'. */
static bool unplain8(uint64_t x)
{
	const uint64_t ones = 0x0101010101010101ULL;
	const uint64_t high = 0x8080808080808080ULL;
	uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');

	return (((x - ones * 0x20) & ~x) | (x + ones) | x | ((q - ones) & ~q) |
	        ((b - ones) & ~b)) &
	       high;
}

bool fl_dp_json_plain(const char *s, size_t len)
{
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		uint64_t x;

		memcpy(&x, s + i, 8);
		if (unplain8(x))
			return false;
	}
	for (; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c > 0x7e || c == '"' || c == '\\')
			return false;
	}
	return true;
}

fl_err fl_dp_keys_json(const struct fl_dp_keys *k, char **out, size_t *len)
{
	json_t *o = json_object();
	char *text = NULL;
	size_t n;
	fl_err err;

	*out = NULL;
	*len = 0;
	if (o == NULL)
		return FL_E_NOMEM;
	/* jansson writes the lists exactly as fl_dp_checkin_answer_encode
	 * does; the object's braces are cut off */
	err = set_keys(o, k);
	if ((err = dump(o, err, &text)) != FL_OK)
		return err;
	n = strlen(text);
	if (n < 2 || text[0] != '{' || text[n - 1] != '}') {
		free(text);
		return FL_E_INTERNAL;
	}
	memmove(text, text + 1, n - 2);
	text[n - 2] = '\0';
	*out = text;
	*len = n - 2;
	return FL_OK;
}

/* Appends s[len] to the buffer at *w. */
static void put(char **w, const char *s, size_t len)
{
	memcpy(*w, s, len);
	*w += len;
}

#define PUT_LIT(w, lit) put((w), (lit), sizeof(lit) - 1)

fl_err fl_dp_checkin_answer_assemble(const struct fl_dp_answer_parts *p,
                                     char **json, size_t *len)
{
	static const char no_keys[] = "\"certs\":[],\"revocations\":[]";
	const char *keys = p->keys != NULL ? p->keys : no_keys;
	size_t keys_len = p->keys != NULL ? p->keys_len : sizeof(no_keys) - 1;
	char ts[FL_TIME_STR_LEN], next[16], hex[2 * FL_MAC_LEN + 1];
	size_t ts_len, next_len = 0, total;
	char *out, *w;

	*json = NULL;
	*len = 0;
	if (p->next_checkin > FL_DP_NEXT_MAX)
		return FL_E_RANGE;
	if ((p->token != NULL && !fl_dp_json_plain(p->token, p->token_len)) ||
	    (p->seq_reset != NULL &&
	     !fl_dp_json_plain(p->seq_reset, p->seq_reset_len)) ||
	    (p->receipt != NULL &&
	     !fl_dp_json_plain(p->receipt, p->receipt_len)))
		return FL_E_INVALID;
	fl_time_format(p->time, ts);
	ts_len = strlen(ts);
	if (p->next_checkin != 0) {
		uint32_t v = p->next_checkin;
		char rev[16];
		size_t k = 0;

		while (v > 0) {
			rev[k++] = (char)('0' + v % 10);
			v /= 10;
		}
		while (k > 0)
			next[next_len++] = rev[--k];
	}
	fl_hex_encode(hex, p->mac, FL_MAC_LEN);
	/* {"time":"T","next_checkin":N,"token":"..",<keys>,
	 *  "seq_reset":"..","release_receipt":"..","mac":".."} */
	total = sizeof("{\"time\":\"\"") - 1 + ts_len + 1;
	if (next_len > 0)
		total += sizeof(",\"next_checkin\":") - 1 + next_len;
	if (p->token != NULL)
		total += sizeof(",\"token\":\"\"") - 1 + p->token_len;
	total += 1 + keys_len;
	if (p->seq_reset != NULL)
		total += sizeof(",\"seq_reset\":\"\"") - 1 + p->seq_reset_len;
	if (p->receipt != NULL)
		total += sizeof(",\"release_receipt\":\"\"") - 1 +
		         p->receipt_len;
	total += sizeof(",\"mac\":\"\"}") - 1 + 2 * FL_MAC_LEN;
	out = malloc(total + 1);
	if (out == NULL)
		return FL_E_NOMEM;
	w = out;
	PUT_LIT(&w, "{\"time\":\"");
	put(&w, ts, ts_len);
	PUT_LIT(&w, "\"");
	if (next_len > 0) {
		PUT_LIT(&w, ",\"next_checkin\":");
		put(&w, next, next_len);
	}
	if (p->token != NULL) {
		PUT_LIT(&w, ",\"token\":\"");
		put(&w, p->token, p->token_len);
		PUT_LIT(&w, "\"");
	}
	PUT_LIT(&w, ",");
	put(&w, keys, keys_len);
	if (p->seq_reset != NULL) {
		PUT_LIT(&w, ",\"seq_reset\":\"");
		put(&w, p->seq_reset, p->seq_reset_len);
		PUT_LIT(&w, "\"");
	}
	if (p->receipt != NULL) {
		PUT_LIT(&w, ",\"release_receipt\":\"");
		put(&w, p->receipt, p->receipt_len);
		PUT_LIT(&w, "\"");
	}
	PUT_LIT(&w, ",\"mac\":\"");
	put(&w, hex, 2 * FL_MAC_LEN);
	PUT_LIT(&w, "\"}");
	*w = '\0';
	*json = out;
	*len = (size_t)(w - out);
	return FL_OK;
}

fl_err fl_dp_checkin_answer_decode(const char *json, size_t len,
                                   struct fl_dp_checkin_answer *a)
{
	json_t *o = NULL;
	char hex[2 * FL_MAC_LEN + 1];
	uint64_t next = 0;
	fl_err err;

	memset(a, 0, sizeof(*a));
	err = load_object(json, len, &o);
	if (err)
		goto out;
	err = get_time(o, "time", true, &a->time);
	if (!err)
		err = get_u64(o, "next_checkin", false, FL_DP_NEXT_MAX, &next);
	a->next_checkin = (uint32_t)next;
	if (!err)
		err = get_str_dup(o, "token", false, FL_DP_TOKEN_MAX,
		                  &a->token);
	if (!err)
		err = get_keys(o, &a->keys);
	if (!err)
		err = get_str_dup(o, "seq_reset", false, FL_DP_TOKEN_MAX,
		                  &a->seq_reset);
	if (!err)
		err = get_str_dup(o, "release_receipt", false, FL_DP_TOKEN_MAX,
		                  &a->release_receipt);
	if (!err)
		err = get_str_buf(o, "mac", true, hex, sizeof(hex));
	if (!err && (strlen(hex) != 2 * FL_MAC_LEN ||
	             fl_hex_decode(a->mac, FL_MAC_LEN, hex, 2 * FL_MAC_LEN)))
		err = FL_E_FIELD_TYPE;
out:
	json_decref(o);
	if (err)
		fl_dp_checkin_answer_clear(a);
	return err;
}

void fl_dp_checkin_answer_clear(struct fl_dp_checkin_answer *a)
{
	if (a == NULL)
		return;
	free(a->token);
	free(a->seq_reset);
	free(a->release_receipt);
	fl_dp_keys_clear(&a->keys);
	memset(a, 0, sizeof(*a));
}

/* --- lookup
 * -------------------------------------------------------------------- */

static const char *const program_names[] = {
        [FL_DP_PROG_NONE] = "none",
        [FL_DP_PROG_ENROLL] = "enroll",
        [FL_DP_PROG_PAIRING] = "pairing",
        [FL_DP_PROG_RELEASED] = "released",
};

const char *fl_dp_program_name(enum fl_dp_program p)
{
	if ((unsigned)p >= sizeof(program_names) / sizeof(program_names[0]))
		return NULL;
	return program_names[p];
}

fl_err fl_dp_lookup_req_encode(const struct fl_dp_lookup_req *r, char **json)
{
	json_t *o;
	fl_err err;

	*json = NULL;
	if (r->n_imei < 1 || r->n_imei > 2)
		return FL_E_INVALID;
	o = json_object();
	if (o == NULL)
		return FL_E_NOMEM;
	err = set_imeis(o, "imei", r->imei, r->n_imei);
	if (!err)
		err = set_bin(o, "nonce", r->nonce, FL_DP_NONCE_LEN);
	if (!err)
		err = set_signed_by(o, "factory_pk", "sig", r->has_factory,
		                    r->factory_pk, r->sig);
	return dump(o, err, json);
}

fl_err fl_dp_lookup_req_decode(const char *json, size_t len,
                               struct fl_dp_lookup_req *r)
{
	static const char *const keys[] = {"imei", "nonce", "factory_pk", "sig",
	                                   NULL};
	json_t *o = NULL;
	fl_err err;

	memset(r, 0, sizeof(*r));
	err = load_object(json, len, &o);
	if (err)
		goto out;
	err = only_keys(o, keys);
	if (!err)
		err = get_imeis(o, "imei", r->imei, &r->n_imei);
	if (!err)
		err = get_bin(o, "nonce", r->nonce, FL_DP_NONCE_LEN);
	if (!err)
		err = get_signed_by(o, "factory_pk", "sig", &r->has_factory,
		                    r->factory_pk, r->sig);
out:
	json_decref(o);
	if (err)
		memset(r, 0, sizeof(*r));
	return err;
}

fl_err fl_dp_lookup_sign_input(const struct fl_dp_lookup_req *r, uint8_t **out,
                               size_t *len)
{
	char tmp[FL_IMEI_LEN + 1];
	struct piece pc[5];

	*out = NULL;
	*len = 0;
	if (r->n_imei < 1 || r->n_imei > 2)
		return FL_E_INVALID;
	for (size_t i = 0; i < r->n_imei; i++)
		if (fl_imei_parse(r->imei[i], strnlen(r->imei[i], 16), tmp) !=
		    FL_OK)
			return FL_E_INVALID;
	pc[0] = str_piece("finlock:lookup-request");
	pc[1] = str_piece(r->imei[0]);
	pc[2] = str_piece(r->n_imei > 1 ? r->imei[1] : "");
	pc[3].p = r->nonce;
	pc[3].len = FL_DP_NONCE_LEN;
	pc[4].p = r->factory_pk;
	pc[4].len = FL_SIGN_PK_LEN;
	return pae(out, len, pc, 5);
}

fl_err fl_dp_lookup_verify(const struct fl_dp_lookup_req *r)
{
	uint8_t *in = NULL;
	size_t len = 0;
	fl_err err;

	if (!r->has_factory)
		return FL_E_BAD_SIGNATURE;
	err = fl_dp_lookup_sign_input(r, &in, &len);
	return signed_by(err, in, len, r->sig, r->factory_pk);
}

static const char *const status_names[] = {"no_record", "financed", "released",
                                           "stolen"};

fl_err fl_dp_status_check(const char *s)
{
	if (s == NULL)
		return FL_E_INVALID;
	for (size_t i = 0; i < sizeof(status_names) / sizeof(*status_names);
	     i++)
		if (strcmp(s, status_names[i]) == 0)
			return FL_OK;
	return FL_E_INVALID;
}

fl_err fl_dp_lookup_payload_encode(const struct fl_dp_lookup_payload *p,
                                   char **json)
{
	json_t *o;
	fl_err err;

	*json = NULL;
	if (fl_dp_program_name(p->program) == NULL ||
	    memchr(p->status, '\0', sizeof(p->status)) == NULL ||
	    fl_dp_status_check(p->status) != FL_OK ||
	    (p->token != NULL && strlen(p->token) > FL_DP_TOKEN_MAX))
		return FL_E_INVALID;
	o = json_object();
	if (o == NULL)
		return FL_E_NOMEM;
	err = set_bin(o, "nonce", p->nonce, FL_DP_NONCE_LEN);
	if (!err)
		err = set_imeis(o, "imei", p->imei, p->n_imei);
	if (!err)
		err = set_time(o, "time", p->time);
	if (!err)
		err = set_str(o, "program", fl_dp_program_name(p->program));
	if (!err)
		err = set_str(o, "status", p->status);
	if (!err && p->token != NULL)
		err = set_str(o, "token", p->token);
	return dump(o, err, json);
}

fl_err fl_dp_lookup_payload_decode(const char *json, size_t len,
                                   struct fl_dp_lookup_payload *p)
{
	json_t *o = NULL;
	char prog[16];
	fl_err err;

	memset(p, 0, sizeof(*p));
	err = load_object(json, len, &o);
	if (err)
		goto out;
	err = get_bin(o, "nonce", p->nonce, FL_DP_NONCE_LEN);
	if (!err)
		err = get_imeis(o, "imei", p->imei, &p->n_imei);
	if (!err)
		err = get_time(o, "time", true, &p->time);
	if (!err)
		err = get_str_buf(o, "program", true, prog, sizeof(prog));
	if (!err) {
		size_t i;
		for (i = 0; i < sizeof(program_names) / sizeof(*program_names);
		     i++)
			if (strcmp(prog, program_names[i]) == 0)
				break;
		if (i == sizeof(program_names) / sizeof(*program_names))
			err = FL_E_INVALID;
		else
			p->program = (enum fl_dp_program)i;
	}
	if (!err)
		err = get_str_buf(o, "status", true, p->status,
		                  sizeof(p->status));
	if (!err && fl_dp_status_check(p->status) != FL_OK)
		err = FL_E_INVALID;
	if (!err)
		err = get_str_dup(o, "token", false, FL_DP_TOKEN_MAX,
		                  &p->token);
out:
	json_decref(o);
	if (err)
		fl_dp_lookup_payload_clear(p);
	return err;
}

void fl_dp_lookup_payload_clear(struct fl_dp_lookup_payload *p)
{
	if (p == NULL)
		return;
	free(p->token);
	memset(p, 0, sizeof(*p));
}

fl_err fl_dp_lookup_answer_encode(const struct fl_dp_lookup_answer *a,
                                  char **json)
{
	json_t *o;
	fl_err err;

	*json = NULL;
	if (a->lookup == NULL)
		return FL_E_INVALID;
	o = json_object();
	if (o == NULL)
		return FL_E_NOMEM;
	err = set_str(o, "lookup", a->lookup);
	if (!err)
		err = set_keys(o, &a->keys);
	return dump(o, err, json);
}

fl_err fl_dp_lookup_answer_decode(const char *json, size_t len,
                                  struct fl_dp_lookup_answer *a)
{
	json_t *o = NULL;
	fl_err err;

	memset(a, 0, sizeof(*a));
	err = load_object(json, len, &o);
	if (err)
		goto out;
	err = get_str_dup(o, "lookup", true, FL_DP_TOKEN_MAX, &a->lookup);
	if (!err)
		err = get_keys(o, &a->keys);
out:
	json_decref(o);
	if (err)
		fl_dp_lookup_answer_clear(a);
	return err;
}

void fl_dp_lookup_answer_clear(struct fl_dp_lookup_answer *a)
{
	if (a == NULL)
		return;
	free(a->lookup);
	fl_dp_keys_clear(&a->keys);
	memset(a, 0, sizeof(*a));
}

/* --- receipt and errors
 * ---------------------------------------------------------- */

fl_err fl_dp_receipt_encode(const struct fl_dp_receipt *r, char **json)
{
	json_t *o;
	fl_err err;

	*json = NULL;
	if (fl_dp_device_id_check(r->device_id) != FL_OK)
		return FL_E_INVALID;
	o = json_object();
	if (o == NULL)
		return FL_E_NOMEM;
	err = set_str(o, "sub", r->device_id);
	if (!err)
		err = set_imeis(o, "imei", r->imei, r->n_imei);
	if (!err)
		err = set_str(o, "loan_ref", r->loan_ref);
	if (!err)
		err = set_time(o, "released_at", r->released_at);
	return dump(o, err, json);
}

fl_err fl_dp_receipt_decode(const char *json, size_t len,
                            struct fl_dp_receipt *r)
{
	json_t *o = NULL;
	fl_err err;

	memset(r, 0, sizeof(*r));
	err = load_object(json, len, &o);
	if (err)
		goto out;
	err = get_str_buf(o, "sub", true, r->device_id, sizeof(r->device_id));
	if (!err)
		err = fl_dp_device_id_check(r->device_id);
	if (!err)
		err = get_imeis(o, "imei", r->imei, &r->n_imei);
	if (!err)
		err = get_str_dup(o, "loan_ref", false, 1024, &r->loan_ref);
	if (!err)
		err = get_time(o, "released_at", true, &r->released_at);
out:
	json_decref(o);
	if (err)
		fl_dp_receipt_clear(r);
	return err;
}

void fl_dp_receipt_clear(struct fl_dp_receipt *r)
{
	if (r == NULL)
		return;
	free(r->loan_ref);
	memset(r, 0, sizeof(*r));
}

/* --- counter resynchronisation ----------------------------------------------
 */

/* The three pieces a resync MAC covers; rq and sv are their storage. */
static void resync_pieces(struct piece pc[3], uint8_t rq[8], uint8_t sv[8],
                          uint64_t req_counter, uint64_t server_counter)
{
	for (int i = 0; i < 8; i++) {
		rq[i] = (uint8_t)(req_counter >> (8 * i));
		sv[i] = (uint8_t)(server_counter >> (8 * i));
	}
	pc[0] = str_piece("finlock:counter-resync");
	pc[1].p = rq;
	pc[1].len = 8;
	pc[2].p = sv;
	pc[2].len = 8;
}

fl_err fl_dp_resync_mac_input(uint8_t **out, size_t *len, uint64_t req_counter,
                              uint64_t server_counter)
{
	uint8_t rq[8], sv[8];
	struct piece pc[3];

	resync_pieces(pc, rq, sv, req_counter, server_counter);
	return pae(out, len, pc, 3);
}

fl_err fl_dp_resync_mac(uint8_t mac[FL_MAC_LEN],
                        const uint8_t key[FL_MAC_KEY_LEN], uint64_t req_counter,
                        uint64_t server_counter)
{
	uint8_t rq[8], sv[8];
	struct piece pc[3];

	resync_pieces(pc, rq, sv, req_counter, server_counter);
	return pae_mac(mac, key, pc, 3);
}

fl_err fl_dp_resync_encode(uint64_t counter, const uint8_t mac[FL_MAC_LEN],
                           char **json)
{
	json_t *o = NULL, *e = NULL;
	char hex[2 * FL_MAC_LEN + 1];
	fl_err err;

	*json = NULL;
	if (counter > INT64_MAX)
		return FL_E_RANGE;
	o = json_object();
	e = json_object();
	if (o == NULL || e == NULL) {
		json_decref(o);
		json_decref(e);
		return FL_E_NOMEM;
	}
	err = set_str(e, "code", "stale_counter");
	if (!err)
		err = set_str(e, "message",
		              "the counter is not above the last one accepted");
	if (!err)
		err = set(o, "error", e);
	else
		json_decref(e);
	fl_hex_encode(hex, mac, FL_MAC_LEN);
	if (!err)
		err = set(o, "counter", json_integer((json_int_t)counter));
	if (!err)
		err = set_str(o, "mac", hex);
	return dump(o, err, json);
}

fl_err fl_dp_resync_decode(const char *json, size_t len,
                           struct fl_dp_resync *out)
{
	json_t *o = NULL, *e;
	char code[16], hex[2 * FL_MAC_LEN + 1];
	fl_err err;

	memset(out, 0, sizeof(*out));
	err = load_object(json, len, &o);
	if (err)
		goto out;
	e = json_object_get(o, "error");
	if (e == NULL || !json_is_object(e) ||
	    get_str_buf(e, "code", true, code, sizeof(code)) != FL_OK ||
	    strcmp(code, "stale_counter") != 0) {
		err = FL_E_JSON;
		goto out;
	}
	err = get_u64(o, "counter", true, INT64_MAX, &out->counter);
	if (!err)
		err = get_str_buf(o, "mac", true, hex, sizeof(hex));
	if (!err && (strlen(hex) != 2 * FL_MAC_LEN ||
	             fl_hex_decode(out->mac, FL_MAC_LEN, hex, 2 * FL_MAC_LEN)))
		err = FL_E_FIELD_TYPE;
out:
	json_decref(o);
	if (err)
		memset(out, 0, sizeof(*out));
	return err;
}

fl_err fl_dp_error_encode(const char *code, const char *message, char **json)
{
	json_t *o = json_object(), *e = json_object();
	fl_err err;

	*json = NULL;
	if (o == NULL || e == NULL) {
		json_decref(o);
		json_decref(e);
		return FL_E_NOMEM;
	}
	err = set_str(e, "code", code);
	if (!err)
		err = set_str(e, "message", message);
	if (!err)
		err = set(o, "error", e);
	else
		json_decref(e);
	return dump(o, err, json);
}

fl_err fl_dp_error_decode(const char *json, size_t len, char **code)
{
	json_t *o = NULL, *e;
	fl_err err;

	*code = NULL;
	err = load_object(json, len, &o);
	if (err)
		goto out;
	e = json_object_get(o, "error");
	if (e == NULL || !json_is_object(e)) {
		err = FL_E_JSON;
		goto out;
	}
	err = get_str_dup(e, "code", true, 64, code);
	if (err)
		err = FL_E_JSON;
out:
	json_decref(o);
	return err;
}
