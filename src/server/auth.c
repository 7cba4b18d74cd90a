/* auth.c - API keys: generation, hashing, bearer authentication. */
#include "server/auth.h"

#include <string.h>
#include <strings.h>

#include "core/crypto.h"

static const struct {
	unsigned bit;
	const char *name;
} roles[] = {
        {FL_ROLE_OPERATOR, "operator"}, {FL_ROLE_ADMIN, "admin"},
        {FL_ROLE_CLERK, "clerk"},       {FL_ROLE_SUPPORT, "support"},
        {FL_ROLE_AUDITOR, "auditor"},
};

const char *fl_role_name(unsigned role)
{
	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
		if (roles[i].bit == role)
			return roles[i].name;
	return NULL;
}

fl_err fl_role_parse(const char *name, unsigned *role)
{
	*role = 0;
	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
		if (name != NULL && strcmp(name, roles[i].name) == 0) {
			*role = roles[i].bit;
			return FL_OK;
		}
	}
	return FL_E_INVALID;
}

fl_err fl_apikey_hash(const uint8_t hash_key[32], const char *secret,
                      size_t len, uint8_t hash[FL_HASH_LEN])
{
	if (len == 0 || len > 256) {
		memset(hash, 0, FL_HASH_LEN);
		return FL_E_AUTH;
	}
	return fl_blake2b(hash, FL_HASH_LEN, hash_key, 32, secret, len);
}

fl_err fl_apikey_generate(const uint8_t hash_key[32],
                          char secret[FL_APIKEY_LEN + 1],
                          uint8_t hash[FL_HASH_LEN])
{
	uint8_t raw[FL_APIKEY_BYTES];
	fl_err err;

	fl_random(raw, sizeof(raw));
	memcpy(secret, "fl_", 3);
	err = fl_b64url_encode(secret + 3, FL_APIKEY_LEN + 1 - 3, raw,
	                       sizeof(raw));
	fl_wipe(raw, sizeof(raw));
	if (err == FL_OK)
		err = fl_apikey_hash(hash_key, secret, strlen(secret), hash);
	if (err != FL_OK) {
		fl_wipe(secret, FL_APIKEY_LEN + 1);
		memset(hash, 0, FL_HASH_LEN);
	}
	return err;
}

void fl_id_generate(char out[FL_ID_MAX], const char *prefix)
{
	uint8_t raw[16];
	size_t n = strlen(prefix);

	/* Prefixes are short literals ("dv", "tn"); 128 random bits make ids
	 * unguessable, so an id alone reveals nothing about other records. */
	fl_random(raw, sizeof(raw));
	memcpy(out, prefix, n);
	out[n] = '_';
	if (fl_b64url_encode(out + n + 1, FL_ID_MAX - n - 1, raw,
	                     sizeof(raw)) != FL_OK)
		out[n + 1] = '\0';
}

fl_err fl_auth_bearer(struct fl_store *st, const uint8_t hash_key[32],
                      const char *header, struct fl_principal *who)
{
	uint8_t hash[FL_HASH_LEN];
	struct fl_apikey key;
	struct fl_tx *tx = NULL;
	const char *secret;
	unsigned role = 0;
	fl_err err;

	memset(who, 0, sizeof(*who));
	if (header == NULL || strncasecmp(header, "Bearer ", 7) != 0)
		return FL_E_AUTH;
	secret = header + 7;
	while (*secret == ' ')
		secret++;
	if (strncmp(secret, "fl_", 3) != 0 || strlen(secret) != FL_APIKEY_LEN)
		return FL_E_AUTH;
	if ((err = fl_apikey_hash(hash_key, secret, strlen(secret), hash)) !=
	    FL_OK)
		return FL_E_AUTH;
	if ((err = fl_store_begin(st, false, &tx)) != FL_OK)
		return err;
	err = fl_store_apikey_by_hash(tx, hash, &key);
	fl_tx_rollback(tx);
	if (err == FL_E_NOT_FOUND)
		return FL_E_AUTH;
	if (err != FL_OK)
		return err;
	/* The lookup was by hash; compare again in constant time so the
	 * decision never rests on an index's comparison alone. */
	if (fl_ct_memcmp(hash, key.hash, FL_HASH_LEN) != 0 ||
	    key.revoked_at != 0 || fl_role_parse(key.role, &role) != FL_OK)
		return FL_E_AUTH;
	if ((role == FL_ROLE_OPERATOR) != (key.tenant_id[0] == '\0'))
		return FL_E_AUTH;
	who->role = role;
	strcpy(who->key_id, key.id);
	strcpy(who->tenant_id, key.tenant_id);
	who->last_used_at = key.last_used_at;
	return FL_OK;
}

void fl_auth_note_use(struct fl_store *st, const struct fl_principal *who,
                      fl_time now)
{
	fl_time minute = now - now % 60;
	struct fl_tx *tx = NULL;

	if (who->key_id[0] == '\0' || minute <= who->last_used_at)
		return;
	if (fl_store_begin(st, true, &tx) != FL_OK)
		return;
	if (fl_store_apikey_touch(tx, who->key_id, minute) != FL_OK) {
		fl_tx_rollback(tx);
		return;
	}
	if (fl_tx_commit(tx) != FL_OK)
		return; /* the next request a minute on tries again */
}
