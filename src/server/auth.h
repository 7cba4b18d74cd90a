/*
 * auth.h - API keys, roles and who is calling.
 *
 * An API key is 32 random bytes written "fl_" + base64url (46 characters).
 * finlockd shows it once, when it is created, and stores only its keyed
 * BLAKE2b hash (key from secrets.h), so checking a key is one hash and one
 * indexed lookup, and a stolen database yields no usable key. Each key has a
 * role; a route names the roles it admits (router.h).
 *
 *   operator  creates tenants and their first admin key, revokes them,
 *             reads the operator audit chain and /metrics; sees no
 *             tenant's devices
 *   admin     everything within its tenant
 *   clerk     registers devices and issues enrollment codes, nothing else
 *   support   forces a sync, reads
 *   auditor   reads, and the audit log
 *
 * THREAD SAFETY: every function is safe from any thread.
 */
#ifndef FL_SERVER_AUTH_H
#define FL_SERVER_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "store/store.h"

enum fl_role {
	FL_ROLE_OPERATOR = 1u << 0,
	FL_ROLE_ADMIN = 1u << 1,
	FL_ROLE_CLERK = 1u << 2,
	FL_ROLE_SUPPORT = 1u << 3,
	FL_ROLE_AUDITOR = 1u << 4,
};

/* Role sets routes use. FL_AUTH_NONE: no API key (public routes, and the
 * device protocol, which authenticates devices itself). */
#define FL_AUTH_NONE 0u
#define FL_ROLES_TENANT                                                        \
	(FL_ROLE_ADMIN | FL_ROLE_CLERK | FL_ROLE_SUPPORT | FL_ROLE_AUDITOR)
#define FL_ROLES_READ (FL_ROLE_ADMIN | FL_ROLE_SUPPORT | FL_ROLE_AUDITOR)

#define FL_APIKEY_LEN   46 /* "fl_" + 43 base64url characters */
#define FL_APIKEY_BYTES 32

/* Who is calling, once authenticated. */
struct fl_principal {
	unsigned role;             /* one enum fl_role bit; 0: nobody */
	char key_id[FL_ID_MAX];    /* the API key's public id */
	char tenant_id[FL_ID_MAX]; /* "" for the operator */
	fl_time last_used_at;      /* the key's recorded last use, 0 never */
};

/* "operator", "admin", ...; NULL if role is not exactly one role. */
const char *fl_role_name(unsigned role);
/* Parses a role name into its bit; FL_E_INVALID if unknown. */
fl_err fl_role_parse(const char *name, unsigned *role) FL_MUST_USE;

/* A fresh API key: secret[FL_APIKEY_LEN + 1] receives the text the holder
 * keeps, hash its keyed hash for the store. The caller wipes secret. */
fl_err fl_apikey_generate(const uint8_t hash_key[32],
                          char secret[FL_APIKEY_LEN + 1],
                          uint8_t hash[FL_HASH_LEN]) FL_MUST_USE;
/* The keyed hash of a presented key (any length up to 256; longer is
 * FL_E_AUTH). */
fl_err fl_apikey_hash(const uint8_t hash_key[32], const char *secret,
                      size_t len, uint8_t hash[FL_HASH_LEN]) FL_MUST_USE;

/* A random public id: prefix + "_" + 22 base64url characters (128 bits),
 * written into out[FL_ID_MAX]. */
void fl_id_generate(char out[FL_ID_MAX], const char *prefix);

/* Authenticates an Authorization header value ("Bearer fl_...") against
 * the store. FL_E_AUTH for a missing, malformed, unknown or revoked key
 * (no detail on which, by design); storage errors pass through. */
fl_err fl_auth_bearer(struct fl_store *st, const uint8_t hash_key[32],
                      const char *header, struct fl_principal *who) FL_MUST_USE;

/* Records that who's key was used at now, to the minute: one write when
 * the recorded last use is a minute or more older, nothing otherwise, so a
 * busy key costs at most one write a minute. A failure to record is not
 * the request's failure: it is ignored. */
void fl_auth_note_use(struct fl_store *st, const struct fl_principal *who,
                      fl_time now);

#endif
