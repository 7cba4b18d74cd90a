/*
 * devproto.h - the device protocol both ends speak (docs/protocol.md).
 *
 * A phone's agent and finlockd's device endpoints share this module so the
 * bytes one side MACs, signs or encodes are exactly the bytes the other side
 * checks or decodes. It holds:
 *
 *   - the secrets derived from the crypto_kx shared key: the check-in MAC key
 *     and the offline-code secret, one crypto_kdf context per purpose;
 *   - the request MAC: keyed BLAKE2b-256 over a length-prefixed encoding of
 *     method, path with query, body and the device's request counter, and the
 *     answer MAC that binds the server's time and token to that counter;
 *   - the enrollment request (signed by the device key and, from a phone
 *     that has one, by its factory key) and the pairing code a
 *     re-enrolling phone shows;
 *   - the lookup request (optionally signed by the factory key) and the
 *     counter resynchronisation a stale_counter answer carries;
 *   - the JSON shapes of every request and answer: encode and decode
 *     functions, strict about types, lengths and counts.
 *
 * Length-prefixed encoding ("PAE", as PASETO defines it): LE64(number of
 * pieces), then for every piece LE64(its length) followed by its bytes, each
 * LE64 with its top bit clear. The first piece is always a label naming what
 * is encoded, so one kind of input can never be taken for another.
 *
 * Decoders of requests (what the server reads) refuse unknown fields;
 * decoders of answers (what the phone reads) ignore them, so a newer server
 * can add fields without breaking older phones. Everything a decoder returns
 * is checked: IMEIs valid, base64url exact, times RFC 3339, lists and strings
 * within the caps below.
 *
 * Memory: a decoded struct owns its strings; *_clear frees them and zeroes
 * the struct (NULL-safe, and safe on a zeroed struct). Encoders return a
 * NUL-terminated string the caller frees with free(). On error every output
 * is zeroed / NULL.
 *
 * THREAD SAFETY: pure; safe from any thread (fl_crypto_init first).
 */
#ifndef FL_DEVPROTO_H
#define FL_DEVPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/crypto.h"
#include "core/err.h"
#include "core/fltime.h"
#include "core/imei.h"

/* --- endpoints and headers ----------------------------------------------- */

#define FL_DP_PATH_ENROLL  "/v1/device/enroll"  /* POST */
#define FL_DP_PATH_CHECKIN "/v1/device/checkin" /* POST, MAC'd */
#define FL_DP_PATH_WAIT    "/v1/device/wait"    /* GET ?seq=N, MAC'd */
#define FL_DP_PATH_LOOKUP  "/v1/device/lookup"  /* POST */

#define FL_DP_HDR_DEVICE  "X-Finlock-Device"  /* device id */
#define FL_DP_HDR_COUNTER "X-Finlock-Counter" /* decimal request counter */
#define FL_DP_HDR_MAC     "X-Finlock-Mac"     /* 64 lower-case hex digits */

/* --- caps ------------------------------------------------------------------
 */

#define FL_DP_MAX_BODY         (256 * 1024) /* largest request or answer body */
#define FL_DP_DEVICE_ID_MAX    64 /* [A-Za-z0-9_-], 1..64 characters */
#define FL_DP_CODE_MAX         64 /* enrollment code, printable ASCII */
#define FL_DP_SERIAL_MAX       64 /* serial number, printable ASCII */
#define FL_DP_ICCID_MAX        22 /* SIM ICCID: 0 (no SIM) or 18..22 digits */
#define FL_DP_NONCE_LEN        32 /* lookup nonce, bytes */
#define FL_DP_PAIRING_LEN      16 /* pairing code digits */
#define FL_DP_TOKEN_MAX        (64 * 1024) /* longest signed token carried */
#define FL_DP_MAX_CERTS        8           /* key certificates in one answer */
#define FL_DP_MAX_REVOCATIONS  32          /* revocations in one answer */
#define FL_DP_OCODE_SECRET_LEN 32          /* offline-code secret, bytes */
#define FL_DP_WAIT_PATH_MAX    64 /* "/v1/device/wait?seq=" + 20 digits */
#define FL_DP_NEXT_MAX         (7 * FL_DAY) /* largest next_checkin hint, seconds */

/* crypto_kdf contexts (8 characters) and sub-key ids, one per purpose. */
#define FL_DP_KDF_CTX_MAC   "flchkmac"
#define FL_DP_KDF_CTX_OCODE "flocode1"
#define FL_DP_KDF_ID        1

/* Tamper signals a phone reports (bit flags). */
enum fl_dp_tamper {
	FL_DP_TAMPER_ROOTED = 1u << 0,     /* "rooted" */
	FL_DP_TAMPER_BOOTLOADER = 1u << 1, /* "bootloader_unlocked" */
};
#define FL_DP_TAMPER_ALL 0x3u

/* --- secrets from the key exchange ---------------------------------------- */

/* Derives the check-in MAC key and the offline-code secret from the
 * crypto_kx shared key (fl_kx_shared: the server with is_server = 1, the
 * phone with 0). mac_key = kdf(FL_DP_KDF_ID, "flchkmac", shared), ocode =
 * kdf(FL_DP_KDF_ID, "flocode1", shared). Outputs are secrets: wipe them. */
fl_err fl_dp_derive(const uint8_t shared[FL_KX_SESSION_LEN],
                    uint8_t mac_key[FL_MAC_KEY_LEN],
                    uint8_t ocode_secret[FL_DP_OCODE_SECRET_LEN]) FL_MUST_USE;

/* --- request and answer MACs -----------------------------------------------
 */

/* The bytes a request MAC covers:
 *   PAE("finlock:device-request", method, path_with_query, body,
 *       LE64(counter))
 * path_with_query is the request target exactly as sent ("/v1/device/wait?
 * seq=42"). *out (caller frees) and *len receive the encoding. */
fl_err fl_dp_request_mac_input(uint8_t **out, size_t *len, const char *method,
                               const char *path_with_query, const void *body,
                               size_t body_len, uint64_t counter) FL_MUST_USE;

/* mac = keyed BLAKE2b-256(key, fl_dp_request_mac_input(...)). */
fl_err fl_dp_request_mac(uint8_t mac[FL_MAC_LEN],
                         const uint8_t key[FL_MAC_KEY_LEN], const char *method,
                         const char *path_with_query, const void *body,
                         size_t body_len, uint64_t counter) FL_MUST_USE;

/* Checks the X-Finlock-Mac header value (hex) in constant time: FL_OK or
 * FL_E_AUTH (also for a malformed header). */
fl_err fl_dp_request_verify(const char *mac_hex,
                            const uint8_t key[FL_MAC_KEY_LEN],
                            const char *method, const char *path_with_query,
                            const void *body, size_t body_len,
                            uint64_t counter) FL_MUST_USE;

/* The bytes an answer MAC covers (check-in and wait answers):
 *   PAE("finlock:device-answer", LE64(counter), time, LE64(next_checkin),
 *       token)
 * counter is the request's counter, time the answer's "time" formatted by
 * fl_time_format, token "" when the answer carries none. */
fl_err fl_dp_answer_mac_input(uint8_t **out, size_t *len, uint64_t counter,
                              fl_time time, uint32_t next_checkin,
                              const char *token) FL_MUST_USE;
fl_err fl_dp_answer_mac(uint8_t mac[FL_MAC_LEN],
                        const uint8_t key[FL_MAC_KEY_LEN], uint64_t counter,
                        fl_time time, uint32_t next_checkin,
                        const char *token) FL_MUST_USE;

/* Parses a counter header: decimal, 1..20 digits, no sign, no leading zero,
 * at least 1, at most UINT64_MAX. FL_E_INVALID otherwise. */
fl_err fl_dp_counter_parse(const char *s, uint64_t *out) FL_MUST_USE;

/* Writes "/v1/device/wait?seq=<seq>" (canonical decimal). */
void fl_dp_wait_path(char out[FL_DP_WAIT_PATH_MAX], uint64_t seq);

/* FL_OK if id is 1..FL_DP_DEVICE_ID_MAX characters of [A-Za-z0-9_-]. */
fl_err fl_dp_device_id_check(const char *id) FL_MUST_USE;

/* --- enrollment --------------------------------------------------------------
 */

/* POST /v1/device/enroll body. An empty code asks to re-enroll by pairing
 * code (after a reflash); the server then answers 202 until the lender has
 * approved the pairing code the phone shows.
 *
 * A phone with a factory key (an Ed25519 key pair provisioned in its
 * secure hardware at manufacture, never erased by a reflash) also sends
 * its public half and its signature of the request: JSON "factory_pk" and
 * "factory_sig", both or neither. */
struct fl_dp_enroll_req {
	char code[FL_DP_CODE_MAX + 1];     /* one-time code, "" for pairing */
	char imei[2][FL_IMEI_LEN + 1];     /* the phone's IMEIs */
	size_t n_imei;                     /* 1 or 2 */
	char serial[FL_DP_SERIAL_MAX + 1]; /* serial number, may be "" */
	uint8_t sign_pk[FL_SIGN_PK_LEN];   /* the phone's new Ed25519 key */
	uint8_t kx_pk[FL_KX_PK_LEN];       /* the phone's new X25519 key */
	uint8_t sig[FL_SIG_LEN];           /* over fl_dp_enroll_sign_input */
	bool has_factory; /* factory_pk and factory_sig present */
	uint8_t factory_pk[FL_SIGN_PK_LEN];
	uint8_t factory_sig[FL_SIG_LEN]; /* over fl_dp_enroll_factory_input */
};

/* The bytes the device key signs:
 *   PAE("finlock:enroll-request", code, imei[0], imei[1] or "", serial,
 *       sign_pk, kx_pk, factory_pk or "")
 * (factory_pk's piece is empty when !has_factory). *out (caller frees)
 * and *len receive them. */
fl_err fl_dp_enroll_sign_input(const struct fl_dp_enroll_req *r, uint8_t **out,
                               size_t *len) FL_MUST_USE;
/* The bytes the factory key signs: the same pieces under the label
 * "finlock:enroll-factory". */
fl_err fl_dp_enroll_factory_input(const struct fl_dp_enroll_req *r,
                                  uint8_t **out, size_t *len) FL_MUST_USE;
/* Fills r->sig with the device key sk (whose public half is r->sign_pk).
 * For tests and tools; a phone signs fl_dp_enroll_sign_input through its
 * secure hardware. */
fl_err fl_dp_enroll_sign(struct fl_dp_enroll_req *r,
                         const uint8_t sk[FL_SIGN_SK_LEN]) FL_MUST_USE;
/* FL_OK if r->sig is r->sign_pk's signature of the request and, when
 * r->has_factory, r->factory_sig is r->factory_pk's signature of
 * fl_dp_enroll_factory_input; else FL_E_BAD_SIGNATURE. */
fl_err fl_dp_enroll_verify(const struct fl_dp_enroll_req *r) FL_MUST_USE;

fl_err fl_dp_enroll_req_encode(const struct fl_dp_enroll_req *r,
                               char **json) FL_MUST_USE;
/* Strict: unknown fields, bad IMEIs, wrong key lengths are refused. Does not
 * verify the signature (fl_dp_enroll_verify does). */
fl_err fl_dp_enroll_req_decode(const char *json, size_t len,
                               struct fl_dp_enroll_req *r) FL_MUST_USE;

/* The pairing code a re-enrolling phone shows and the lender approves:
 * BLAKE2b-256(PAE("finlock:pairing", sign_pk, kx_pk)), its first 8 bytes as
 * LE64 modulo 10^16, written as 16 digits with leading zeros (the phone
 * shows them in groups of four: "1234 5678 9012 3456"). */
void fl_dp_pairing_code(const uint8_t sign_pk[FL_SIGN_PK_LEN],
                        const uint8_t kx_pk[FL_KX_PK_LEN],
                        char out[FL_DP_PAIRING_LEN + 1]);

/* The payload of the FL_MSG_ENROLL token (signed by a certified signing
 * key). sign_pk and kx_pk repeat the phone's keys so a swapped request is
 * detected; token is the first device token. */
struct fl_dp_enroll_payload {
	char device_id[FL_DP_DEVICE_ID_MAX + 1];
	uint8_t sign_pk[FL_SIGN_PK_LEN];    /* the phone's key, echoed */
	uint8_t kx_pk[FL_KX_PK_LEN];        /* the phone's key, echoed */
	uint8_t server_kx_pk[FL_KX_PK_LEN]; /* the server's X25519 key */
	fl_time time;                       /* server time when signed */
	char *token;                        /* first device token; owned */
};
fl_err fl_dp_enroll_payload_encode(const struct fl_dp_enroll_payload *p,
                                   char **json) FL_MUST_USE;
fl_err fl_dp_enroll_payload_decode(const char *json, size_t len,
                                   struct fl_dp_enroll_payload *p) FL_MUST_USE;
void fl_dp_enroll_payload_clear(struct fl_dp_enroll_payload *p);

/* Key certificates and revocations any answer may carry (root-signed, so
 * they need no other protection). */
struct fl_dp_keys {
	char *certs[FL_DP_MAX_CERTS]; /* owned */
	size_t n_certs;
	char *revocations[FL_DP_MAX_REVOCATIONS]; /* owned */
	size_t n_revocations;
};

/* 200 answer to POST /v1/device/enroll:
 *   {"enrollment": "<v4.public FL_MSG_ENROLL>", "certs": [..],
 *    "revocations": [..]} */
struct fl_dp_enroll_answer {
	char *enrollment; /* owned */
	struct fl_dp_keys keys;
};
fl_err fl_dp_enroll_answer_encode(const struct fl_dp_enroll_answer *a,
                                  char **json) FL_MUST_USE;
fl_err fl_dp_enroll_answer_decode(const char *json, size_t len,
                                  struct fl_dp_enroll_answer *a) FL_MUST_USE;
void fl_dp_enroll_answer_clear(struct fl_dp_enroll_answer *a);

/* 202 answer to a pairing enrollment not yet approved:
 *   {"status": "pending", "pairing_code": "1234567890123456"}
 * Informative only: the phone shows the code it computes itself. */
fl_err fl_dp_pending_encode(const char pairing_code[FL_DP_PAIRING_LEN + 1],
                            char **json) FL_MUST_USE;

/* --- check-in and wait
 * ---------------------------------------------------------- */

/* POST /v1/device/checkin body: what the phone holds and what happened. */
struct fl_dp_checkin_req {
	uint64_t seq;                    /* seq of the token held, 0 none */
	fl_time trusted_time;            /* the phone's trusted time */
	fl_time wall_time;               /* the phone's wall clock */
	bool locked;                     /* restrictions applied now */
	bool released;                   /* the phone applied a release */
	char iccid[FL_DP_ICCID_MAX + 1]; /* current SIM, "" for none */
	bool sim_changed;                /* SIM differs from the known one */
	uint32_t tamper;                 /* FL_DP_TAMPER_* not yet reported */
	uint64_t code_counter;           /* newest offline code used, 0 none */
	fl_time unlock_until;            /* code unlock end, 0 none */
	bool token_held; /* the phone holds the token of seq, verified: an
	                  * answer may leave it out while seq is current */
};
fl_err fl_dp_checkin_req_encode(const struct fl_dp_checkin_req *r,
                                char **json) FL_MUST_USE;
/* Reads the plain bodies phones send by a short path without a JSON
 * library, and everything else through fl_dp_checkin_req_decode_full: the
 * result and the error are those of fl_dp_checkin_req_decode_full on
 * every input. */
fl_err fl_dp_checkin_req_decode(const char *json, size_t len,
                                struct fl_dp_checkin_req *r) FL_MUST_USE;
/* The general decoder, for every JSON text the format allows. */
fl_err fl_dp_checkin_req_decode_full(const char *json, size_t len,
                                     struct fl_dp_checkin_req *r) FL_MUST_USE;

/* 200 answer to a check-in or a wait:
 *   {"time": RFC3339, "next_checkin": secs, "token": "<device token>",
 *    "certs": [..], "revocations": [..], "seq_reset": "<root-signed>",
 *    "release_receipt": "<FL_MSG_RELEASE_RECEIPT>", "mac": "<hex>"}
 * token is absent from a wait answer when the seq did not change; seq_reset
 * and release_receipt only when there is one. mac is fl_dp_answer_mac with
 * the request's counter. */
struct fl_dp_checkin_answer {
	fl_time time;          /* server time */
	uint32_t next_checkin; /* suggested seconds to next, 0 default */
	char *token;           /* owned, NULL if none */
	struct fl_dp_keys keys;
	char *seq_reset;       /* owned, NULL if none */
	char *release_receipt; /* owned, NULL if none */
	uint8_t mac[FL_MAC_LEN];
};
fl_err fl_dp_checkin_answer_encode(const struct fl_dp_checkin_answer *a,
                                   char **json) FL_MUST_USE;
fl_err fl_dp_checkin_answer_decode(const char *json, size_t len,
                                   struct fl_dp_checkin_answer *a) FL_MUST_USE;

/* The same answer assembled from prepared parts by copying bytes, for a
 * server that answers the same token and certificates many times: the
 * keys part is made once per set of certificates (fl_dp_keys_json), the
 * token once per token, and only time, next_checkin and mac per answer.
 * The result is byte for byte what fl_dp_checkin_answer_encode makes of
 * the same answer. */
struct fl_dp_answer_parts {
	fl_time time;          /* server time */
	uint32_t next_checkin; /* 0: left out */
	const char *token;     /* NULL: none; else token_len bytes */
	size_t token_len;
	const char *keys; /* fl_dp_keys_json; NULL: no certificates */
	size_t keys_len;
	const char *seq_reset; /* NULL: none */
	size_t seq_reset_len;
	const char *receipt; /* release receipt, NULL: none */
	size_t receipt_len;
	uint8_t mac[FL_MAC_LEN]; /* fl_dp_answer_mac */
};

/* True when JSON writes s[len] as it is: printable ASCII but '"' and
 * '\\' (every signed token and certificate is). */
bool fl_dp_json_plain(const char *s, size_t len);

/* `"certs":[..],"revocations":[..]` of k, as the answer encoders write
 * them; *out (caller frees) and *len. */
fl_err fl_dp_keys_json(const struct fl_dp_keys *k, char **out,
                       size_t *len) FL_MUST_USE;

/* Writes the answer of p into *json (caller frees; *len its length).
 * FL_E_INVALID when token, seq_reset or receipt is not
 * fl_dp_json_plain (the caller then uses fl_dp_checkin_answer_encode),
 * FL_E_RANGE for next_checkin above FL_DP_NEXT_MAX. */
fl_err fl_dp_checkin_answer_assemble(const struct fl_dp_answer_parts *p,
                                     char **json, size_t *len) FL_MUST_USE;
void fl_dp_checkin_answer_clear(struct fl_dp_checkin_answer *a);

/* --- lookup by IMEI
 * -------------------------------------------------------------- */

/* POST /v1/device/lookup body:
 *   {"imei": [..], "nonce": "<b64url 32 bytes>",
 *    "factory_pk": "<b64url 32 bytes>", "sig": "<b64url 64 bytes>"}
 * factory_pk and sig (both or neither) sign the request with the phone's
 * factory key; only such a request can receive the device's token. */
struct fl_dp_lookup_req {
	char imei[2][FL_IMEI_LEN + 1];
	size_t n_imei;
	uint8_t nonce[FL_DP_NONCE_LEN]; /* fresh random per request */
	bool has_factory;               /* factory_pk and sig present */
	uint8_t factory_pk[FL_SIGN_PK_LEN];
	uint8_t sig[FL_SIG_LEN]; /* over fl_dp_lookup_sign_input */
};
fl_err fl_dp_lookup_req_encode(const struct fl_dp_lookup_req *r,
                               char **json) FL_MUST_USE;
/* Strict; does not verify the signature (fl_dp_lookup_verify does). */
fl_err fl_dp_lookup_req_decode(const char *json, size_t len,
                               struct fl_dp_lookup_req *r) FL_MUST_USE;
/* The bytes the factory key signs:
 *   PAE("finlock:lookup-request", imei[0], imei[1] or "", nonce,
 *       factory_pk) */
fl_err fl_dp_lookup_sign_input(const struct fl_dp_lookup_req *r, uint8_t **out,
                               size_t *len) FL_MUST_USE;
/* FL_OK if r carries a factory signature and it is r->factory_pk's
 * signature of the request; FL_E_BAD_SIGNATURE otherwise (also when r
 * carries none). Says nothing of whose key factory_pk is. */
fl_err fl_dp_lookup_verify(const struct fl_dp_lookup_req *r) FL_MUST_USE;

/* Where the looked-up IMEI stands. */
enum fl_dp_program {
	FL_DP_PROG_NONE = 0, /* "none": in no program; nothing to enforce */
	FL_DP_PROG_ENROLL, /* "enroll": registered, waits for a one-time code */
	FL_DP_PROG_PAIRING,  /* "pairing": enrolled before; re-enroll by pairing
	                      */
	FL_DP_PROG_RELEASED, /* "released": paid off; nothing to enforce */
};
const char *fl_dp_program_name(enum fl_dp_program p);

/* The public check's words (the lookup payload's "status"). */
#define FL_DP_STATUS_MAX 16 /* longest word, with its NUL */

/* The payload of the FL_MSG_LOOKUP token:
 *   {"nonce": "<the request's>", "imei": [..], "time": RFC3339,
 *    "program": "none|enroll|pairing|released",
 *    "status": "no_record|financed|released|stolen",
 *    "token": "<the device's current device token>"}
 * status is exactly what the public IMEI check says of the IMEI. token
 * (FL_MSG_DEVICE_TOKEN, signed text) is present only in the answer to a
 * request signed by the factory key the server registered for the device,
 * so that a reflashed phone enforces exactly what its token says (locked
 * stays locked) while someone who knows only an IMEI learns no more than
 * the public check. */
struct fl_dp_lookup_payload {
	uint8_t nonce[FL_DP_NONCE_LEN];
	char imei[2][FL_IMEI_LEN + 1];
	size_t n_imei;
	fl_time time; /* server time when signed */
	enum fl_dp_program program;
	char status[FL_DP_STATUS_MAX]; /* public check word: "no_record",
	                                  "financed", "released", "stolen" */
	char *token; /* the device's current device token (signed text,
	                FL_MSG_DEVICE_TOKEN), owned, NULL if none */
};
/* FL_E_INVALID unless status is one of the four words. */
fl_err fl_dp_lookup_payload_encode(const struct fl_dp_lookup_payload *p,
                                   char **json) FL_MUST_USE;
/* token, when present, is copied as it is; it is not verified here.
 * Unknown fields are ignored. */
fl_err fl_dp_lookup_payload_decode(const char *json, size_t len,
                                   struct fl_dp_lookup_payload *p) FL_MUST_USE;
/* FL_OK if s is one of the public check's four words. */
fl_err fl_dp_status_check(const char *s) FL_MUST_USE;
void fl_dp_lookup_payload_clear(struct fl_dp_lookup_payload *p);

/* 200 answer to a lookup:
 *   {"lookup": "<v4.public FL_MSG_LOOKUP>", "certs": [..],
 *    "revocations": [..]} */
struct fl_dp_lookup_answer {
	char *lookup; /* owned */
	struct fl_dp_keys keys;
};
fl_err fl_dp_lookup_answer_encode(const struct fl_dp_lookup_answer *a,
                                  char **json) FL_MUST_USE;
fl_err fl_dp_lookup_answer_decode(const char *json, size_t len,
                                  struct fl_dp_lookup_answer *a) FL_MUST_USE;
void fl_dp_lookup_answer_clear(struct fl_dp_lookup_answer *a);

/* --- release receipt and errors ----------------------------------------------
 */

/* The payload of the FL_MSG_RELEASE_RECEIPT token:
 *   {"sub": device id, "imei": [..], "loan_ref": "..", "released_at": RFC3339}
 */
struct fl_dp_receipt {
	char device_id[FL_DP_DEVICE_ID_MAX + 1];
	char imei[2][FL_IMEI_LEN + 1];
	size_t n_imei;
	char *loan_ref; /* owned, may be "" */
	fl_time released_at;
};
fl_err fl_dp_receipt_encode(const struct fl_dp_receipt *r,
                            char **json) FL_MUST_USE;
fl_err fl_dp_receipt_decode(const char *json, size_t len,
                            struct fl_dp_receipt *r) FL_MUST_USE;
void fl_dp_receipt_clear(struct fl_dp_receipt *r);

/* --- counter resynchronisation ----------------------------------------------
 */

/* A MAC'd request whose MAC is good but whose counter is at or below the
 * last one the server accepted is answered 409:
 *   {"error": {"code": "stale_counter", "message": ".."},
 *    "counter": N, "mac": "<hex>"}
 * N is the highest counter the server has accepted for the device, mac
 * the keyed BLAKE2b-256 (device MAC key) of fl_dp_resync_mac_input(the
 * request's counter, N). A phone that verifies the MAC moves its counter
 * to N and sends its request again with N + 1. */
struct fl_dp_resync {
	uint64_t counter; /* N, 0..2^63 - 1 */
	uint8_t mac[FL_MAC_LEN];
};
/* PAE("finlock:counter-resync", LE64(req_counter), LE64(server_counter)) */
fl_err fl_dp_resync_mac_input(uint8_t **out, size_t *len, uint64_t req_counter,
                              uint64_t server_counter) FL_MUST_USE;
/* mac = keyed BLAKE2b-256(key, fl_dp_resync_mac_input(...)). */
fl_err fl_dp_resync_mac(uint8_t mac[FL_MAC_LEN],
                        const uint8_t key[FL_MAC_KEY_LEN], uint64_t req_counter,
                        uint64_t server_counter) FL_MUST_USE;
/* FL_E_RANGE for a counter above 2^63 - 1. */
fl_err fl_dp_resync_encode(uint64_t counter, const uint8_t mac[FL_MAC_LEN],
                           char **json) FL_MUST_USE;
/* FL_E_JSON unless the body is a stale_counter error with a counter and a
 * 64-hex-digit mac; does not check the MAC. Unknown fields are ignored. */
fl_err fl_dp_resync_decode(const char *json, size_t len,
                           struct fl_dp_resync *out) FL_MUST_USE;

/* Error answers: {"error": {"code": "..", "message": ".."}}. *code receives
 * the code string (caller frees); FL_E_JSON if the body is not that shape. */
fl_err fl_dp_error_encode(const char *code, const char *message,
                          char **json) FL_MUST_USE;
fl_err fl_dp_error_decode(const char *json, size_t len,
                          char **code) FL_MUST_USE;

/* Releases what the struct owns and zeroes it. */
void fl_dp_keys_clear(struct fl_dp_keys *k);

/* Tamper flag names: "rooted", "bootloader_unlocked"; NULL if not one flag. */
const char *fl_dp_tamper_name(uint32_t flag);

#endif
