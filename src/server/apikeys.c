/* apikeys.c - tenants and API keys (apikeys.h). */
#include "server/apikeys.h"

#include <stdio.h>
#include <string.h>

#include "core/crypto.h"
#include "server/audit.h"
#include "server/jsonval.h"
#include "server/run.h"

json_t *fl_tenant_json(const struct fl_tenant *t)
{
	return json_pack("{s:s,s:s,s:o}", "id", t->id, "name", t->name,
	                 "created_at", fl_json_time(t->created_at));
}

json_t *fl_apikey_json(const struct fl_apikey *k)
{
	return json_pack("{s:s,s:s?,s:s,s:s,s:s?,s:o,s:o,s:b,s:o}", "id", k->id,
	                 "tenant_id", k->tenant_id[0] ? k->tenant_id : NULL,
	                 "role", k->role, "label", k->label, "created_by",
	                 k->created_by[0] ? k->created_by : NULL, "created_at",
	                 fl_json_time(k->created_at), "revoked_at",
	                 fl_json_time(k->revoked_at), "active",
	                 k->revoked_at == 0,
	                 /* to the minute: recorded at most once a minute */
	                 "last_used_at", fl_json_time(k->last_used_at));
}

fl_err fl_apikey_new(const uint8_t hash_key[32], struct fl_apikey_new *out)
{
	fl_err err;

	memset(out, 0, sizeof(*out));
	fl_id_generate(out->id, "ak");
	err = fl_apikey_generate(hash_key, out->secret, out->hash);
	if (err != FL_OK)
		fl_wipe(out, sizeof(*out));
	return err;
}

/* Inserts key k of tenant_id and role, made by created_by at now. */
static fl_err key_insert(struct fl_tx *tx, const struct fl_apikey_new *nk,
                         const char *tenant_id, unsigned role,
                         const char *label, const char *created_by, fl_time now,
                         struct fl_apikey *k)
{
	memset(k, 0, sizeof(*k));
	if (strlen(label) >= sizeof(k->label))
		return FL_E_TOO_LARGE;
	snprintf(k->id, sizeof(k->id), "%s", nk->id);
	snprintf(k->tenant_id, sizeof(k->tenant_id), "%s", tenant_id);
	snprintf(k->role, sizeof(k->role), "%s", fl_role_name(role));
	snprintf(k->label, sizeof(k->label), "%s", label);
	snprintf(k->created_by, sizeof(k->created_by), "%s", created_by);
	k->created_at = now;
	memcpy(k->hash, nk->hash, sizeof(k->hash));
	return fl_store_apikey_insert(tx, k);
}

fl_err fl_apikey_create(struct fl_tx *tx, const struct fl_apikey_create_in *in,
                        fl_time now, struct fl_apikey_result *out)
{
	struct fl_tenant t;
	fl_err err;

	memset(out, 0, sizeof(*out));
	if (in->tenant_must_exist) {
		err = fl_store_tenant_get(tx, in->tenant_id, &t);
		if (err == FL_E_NOT_FOUND)
			snprintf(out->msg, sizeof(out->msg), "no such tenant");
		if (err != FL_OK)
			return err;
	}
	err = key_insert(tx, in->key, in->tenant_id, in->role, in->label,
	                 in->who.key_id, now, &out->key);
	if (err == FL_OK)
		err = fl_audit_by(tx, &in->who, now, "key.create", out->key.id,
		                  NULL, fl_apikey_json(&out->key));
	/* A tenant's chain also records keys the operator made for it. */
	if (err == FL_OK && in->who.role == FL_ROLE_OPERATOR &&
	    in->tenant_id[0] != '\0')
		err = fl_audit_append(tx, in->tenant_id, in->who.key_id, now,
		                      "key.create", out->key.id, NULL,
		                      fl_apikey_json(&out->key));
	return err;
}

fl_err fl_apikey_revoke(struct fl_tx *tx, const struct fl_apikey_revoke_in *in,
                        fl_time now, struct fl_apikey_result *out)
{
	struct fl_apikey *before = &out->key, *after = &out->after;
	fl_err err;

	memset(out, 0, sizeof(*out));
	err = fl_store_apikey_get(tx, in->tenant_id, in->key_id, before);
	if (err == FL_OK && in->only_role != NULL &&
	    strcmp(before->role, in->only_role) != 0)
		err = FL_E_NOT_FOUND;
	if (err == FL_OK)
		err = fl_store_apikey_revoke(tx, in->tenant_id, in->key_id,
		                             now);
	if (err == FL_OK)
		err = fl_store_apikey_get(tx, in->tenant_id, in->key_id, after);
	if (err == FL_OK)
		err = fl_audit_by(tx, &in->who, now, "key.revoke", in->key_id,
		                  fl_apikey_json(before),
		                  fl_apikey_json(after));
	if (err == FL_OK && in->who.role == FL_ROLE_OPERATOR &&
	    in->tenant_id[0] != '\0')
		err = fl_audit_append(tx, in->tenant_id, in->who.key_id, now,
		                      "key.revoke", in->key_id,
		                      fl_apikey_json(before),
		                      fl_apikey_json(after));
	if (err == FL_E_NOT_FOUND)
		snprintf(out->msg, sizeof(out->msg), "no such key");
	if (err == FL_E_STATE)
		snprintf(out->msg, sizeof(out->msg),
		         "the key is already revoked");
	return err;
}

fl_err fl_tenant_create(struct fl_tx *tx, const struct fl_tenant_create_in *in,
                        fl_time now, struct fl_tenant *out)
{
	fl_err err;

	*out = in->tenant;
	out->created_at = now;
	err = fl_store_tenant_insert(tx, out);
	if (err == FL_OK)
		err = fl_audit_by(tx, &in->who, now, "tenant.create", out->id,
		                  NULL, fl_tenant_json(out));
	return err;
}

/* The first operator key: one attempt. */
struct bootstrap {
	const struct fl_apikey_new *key;
	bool made; /* out: the store had no key, one was made */
};

static fl_err bootstrap_fn(struct fl_tx *tx, void *io, fl_time now)
{
	struct bootstrap *b = io;
	struct fl_apikey k;
	int64_t n = 0;
	fl_err err;

	b->made = false;
	if ((err = fl_store_apikey_count(tx, &n)) != FL_OK || n > 0)
		return err;
	err = key_insert(tx, b->key, "", FL_ROLE_OPERATOR, "first operator key",
	                 "", now, &k);
	if (err == FL_OK)
		err = fl_audit_append(tx, FL_AUDIT_CHAIN_OPERATOR, "system",
		                      now, "key.create", k.id, NULL,
		                      fl_apikey_json(&k));
	b->made = err == FL_OK;
	return err;
}

fl_err fl_apikey_bootstrap(struct fl_store *st, const uint8_t hash_key[32],
                           fl_time now, char *secret)
{
	struct fl_apikey_new nk;
	struct bootstrap b = {.key = &nk};
	fl_err err;

	secret[0] = '\0';
	if ((err = fl_apikey_new(hash_key, &nk)) != FL_OK)
		return err;
	err = fl_run(st, now, 0, bootstrap_fn, &b, NULL);
	if (err == FL_OK && b.made)
		memcpy(secret, nk.secret, sizeof(nk.secret));
	fl_wipe(&nk, sizeof(nk));
	return err;
}
