/*
 * api.h - what the api_*.c handler files share: record presenters (store
 * record -> JSON answer) and API key creation, which the operator and
 * tenant admins both do.
 *
 * THREAD SAFETY: every function is safe from any thread.
 */
#ifndef FL_SERVER_API_H
#define FL_SERVER_API_H

#include <jansson.h>
#include <stdbool.h>

#include "core/err.h"
#include "core/imei.h"
#include "server/req.h"
#include "store/store.h"

/* fl_audit_by (audit.h) for the caller of req, at req->now. */
fl_err fl_audit_req(struct fl_tx *tx, const struct fl_req *req,
                    const char *action, const char *target, json_t *before,
                    json_t *after) FL_MUST_USE;

/* Creates an API key of role for tenant_id ("" with the operator role;
 * tenant_must_exist: answered 404 when there is no such tenant) for req's
 * caller (fl_apikey_create, apikeys.h) and answers 201 with it and its
 * secret, shown this once. */
void fl_api_key_create(struct fl_req *req, const char *tenant_id,
                       bool tenant_must_exist, unsigned role,
                       const char *label);

/* Answers a page of the API keys of tenant_id ("" for operator keys). */
void fl_api_keys_list(struct fl_req *req, const char *tenant_id);

/* Revokes key_id of tenant_id (fl_apikey_revoke, apikeys.h) and answers.
 * With only_role set, a key of another role is answered as not found. */
void fl_api_key_revoke(struct fl_req *req, const char *tenant_id,
                       const char *key_id, const char *only_role);

/* For a POST that takes no fields: the body must be empty or {}. Answers
 * 400 and returns the error otherwise. */
fl_err fl_api_empty_body(struct fl_req *req) FL_MUST_USE;

/* Reads the device named by the path's {device_id} for the caller's
 * tenant: FL_E_NOT_FOUND for a device of another tenant or none. */
fl_err fl_api_path_device(struct fl_req *req, struct fl_tx *tx,
                          struct fl_device *out) FL_MUST_USE;

/* fl_api_path_device in a write transaction that decides what to write
 * about the device: takes the device's lock (fl_store_lock_device) before
 * the read, so writers of one device, in any process, run one after the
 * other. */
fl_err fl_api_path_device_locked(struct fl_req *req, struct fl_tx *tx,
                                 struct fl_device *out) FL_MUST_USE;

/* Adds to j (a device's JSON) what the device protocol knows about d:
 * "reports" (its latest SIM and tamper reports) and "offline_code" (the
 * newest code's counter and the newest one the phone used). Read inside
 * tx. */
fl_err fl_api_device_protocol_json(struct fl_tx *tx, const struct fl_device *d,
                                   json_t *j) FL_MUST_USE;

/* What the public IMEI check says of device d (NULL: no record):
 * "no_record", "financed", "released" or "stolen". Never "locked": the
 * word tells nothing of the debtor. The device lookup says the same. */
const char *fl_api_public_status(const struct fl_device *d);

/* What the public IMEI check says about one IMEI. */
struct fl_imei_status {
	char imei[FL_IMEI_LEN + 1]; /* canonical 15 digits */
	const char *status;         /* no_record|financed|released|stolen */
	bool lender;                /* serial matched: lender fields are set */
	char lender_name[FL_NAME_MAX];
	char contact_name[FL_NAME_MAX];
	char phones[FL_CONTRACT_MAX_PHONES][FL_PHONE_MAX];
	size_t n_phones;
};

struct fl_ratelimit;

/* Takes a token from rl (app->public_rl, app->signin_rl) for req's
 * client. false when refused (counted in the metrics); *retry then holds
 * the seconds to wait. */
bool fl_api_rate_take(struct fl_req *req, struct fl_ratelimit *rl,
                      int *retry);
/* The same, answering a refusal 429 with Retry-After and "too many
 * <what>; retry in N s". */
bool fl_api_rate_admit(struct fl_req *req, struct fl_ratelimit *rl,
                       const char *what);

/* The public status of imei (any form fl_imei_parse takes); the lender
 * and its contact only when serial (may be NULL) is the device's. The
 * fl_imei_parse error for a bad IMEI; storage errors pass through. */
fl_err fl_api_imei_status(struct fl_app *app, const char *imei,
                          const char *serial,
                          struct fl_imei_status *out) FL_MUST_USE;

/* True if s has no control characters. */
bool fl_api_text_ok(const char *s);

#endif
