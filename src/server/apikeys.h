/*
 * apikeys.h - tenants and API keys: creating a tenant, creating a key of
 * a role (a tenant admin's staff keys, the operator's tenant admin keys
 * and operator keys), revoking one, and the first operator key of an
 * empty store.
 *
 * The writes are functions of (transaction, input, now) for the runner
 * (run.h, txn.h): they run again from the start when the store gives the
 * transaction up, so they read only their input and write only their
 * result. What must be the same in every attempt and is random (a new
 * id, a key's secret) is made before the first (fl_apikey_new). A refusal
 * returns its error with the words for it in result->msg ("" for a
 * failure of the store). Every write is audited on the caller's chain
 * (audit.h); a key the operator makes or revokes for a tenant is also
 * recorded on the tenant's chain.
 *
 * THREAD SAFETY: per transaction; fl_apikey_bootstrap owns its own.
 */
#ifndef FL_SERVER_APIKEYS_H
#define FL_SERVER_APIKEYS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "core/fltime.h"
#include "server/auth.h"
#include "store/store.h"

#define FL_APIKEYS_MSG_MAX 128 /* a refusal's message */

/* New JSON references for records (never any secret or hash). */
json_t *fl_tenant_json(const struct fl_tenant *t);
json_t *fl_apikey_json(const struct fl_apikey *k);

/* A new key's id, secret and hash, made once before its transaction. */
struct fl_apikey_new {
	char id[FL_ID_MAX];
	char secret[FL_APIKEY_LEN + 1]; /* shown once; wipe it */
	uint8_t hash[FL_HASH_LEN];      /* keyed by the apikey hash key */
};

/* Makes a new key's id, secret and hash with hash_key. */
fl_err fl_apikey_new(const uint8_t hash_key[32],
                     struct fl_apikey_new *out) FL_MUST_USE;

struct fl_apikey_create_in {
	struct fl_principal who;   /* the caller (audit, created_by) */
	char tenant_id[FL_ID_MAX]; /* the key's tenant; "" for the operator */
	bool tenant_must_exist;    /* FL_E_NOT_FOUND if the tenant is not */
	unsigned role;             /* one enum fl_role bit */
	char label[FL_NAME_MAX];
	const struct fl_apikey_new *key; /* borrowed */
};

struct fl_apikey_result {
	struct fl_apikey key;         /* as stored (before: revoke) */
	struct fl_apikey after;       /* revoke: as stored after */
	char msg[FL_APIKEYS_MSG_MAX]; /* why it was refused */
};

/* Creates the key of in. FL_E_NOT_FOUND "no such tenant";
 * FL_E_CONFLICT when the id or hash exists. */
fl_err fl_apikey_create(struct fl_tx *tx, const struct fl_apikey_create_in *in,
                        fl_time now, struct fl_apikey_result *out) FL_MUST_USE;

struct fl_apikey_revoke_in {
	struct fl_principal who;   /* the caller (audit) */
	char tenant_id[FL_ID_MAX]; /* the key's tenant; "" for the operator */
	char key_id[FL_ID_MAX];
	const char *only_role; /* a key of another role is not found; NULL */
};

/* Revokes in->key_id: FL_E_NOT_FOUND "no such key", FL_E_STATE "the key is
 * already revoked". out->key is the key before, out->after after. */
fl_err fl_apikey_revoke(struct fl_tx *tx, const struct fl_apikey_revoke_in *in,
                        fl_time now, struct fl_apikey_result *out) FL_MUST_USE;

struct fl_tenant_create_in {
	struct fl_principal who; /* the operator (audit) */
	struct fl_tenant tenant; /* id (made before) and name */
};

/* Creates in->tenant at now into *out. */
fl_err fl_tenant_create(struct fl_tx *tx, const struct fl_tenant_create_in *in,
                        fl_time now, struct fl_tenant *out) FL_MUST_USE;

/* Creates the first operator key when the store has no key at all, in a
 * transaction of its own (retried as run.h says); the secret goes to
 * secret[FL_APIKEY_LEN + 1] ("" when keys already exist). */
fl_err fl_apikey_bootstrap(struct fl_store *st, const uint8_t hash_key[32],
                           fl_time now, char *secret) FL_MUST_USE;

#endif
