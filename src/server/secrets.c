/* secrets.c - the data directory's secret files. */
#include "server/secrets.h"

#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>

#include "server/files.h"

#define MASTER_LEN 32

/* Reads name (exactly len bytes) or, if absent and gen is not NULL,
 * creates it from fresh random bytes (gen, len). */
static fl_err load_or_create(const char *dir, const char *name, uint8_t *buf,
                             size_t len, void (*gen)(uint8_t *buf, size_t len))
{
	char path[4096];
	struct stat st;
	size_t n = 0;
	fl_err err;

	if ((err = fl_files_join(path, sizeof(path), dir, name)) != FL_OK)
		return err;
	err = fl_files_read(path, buf, len, &n);
	if (err == FL_E_TOO_LARGE)
		err = FL_E_CORRUPT;
	if (err == FL_E_NOT_FOUND && gen != NULL) {
		gen(buf, len);
		err = fl_files_write(path, buf, len, 0600, true);
		if (err == FL_E_CONFLICT) /* another process made it first */
			err = fl_files_read(path, buf, len, &n);
		else if (err == FL_OK)
			n = len;
	}
	if (err != FL_OK)
		goto out;
	if (n != len) {
		err = FL_E_CORRUPT;
		goto out;
	}
	if (stat(path, &st) != 0 || (st.st_mode & 077) != 0) {
		/* A secret readable by others is not a secret any more. */
		err = FL_E_PERM;
		goto out;
	}
out:
	if (err != FL_OK)
		fl_wipe(buf, len);
	return err;
}

static void gen_random(uint8_t *buf, size_t len)
{
	fl_random(buf, len);
}

static void gen_kx(uint8_t *buf, size_t len)
{
	(void)len;
	fl_kx_keypair(buf + FL_KX_SK_LEN, buf);
}

static fl_err load(struct fl_secrets *s, const char *data_dir, bool create,
                   const char **file)
{
	static const char domain[] = "finlock-keys-fingerprint-v1";
	static const char seal_domain[] = "finlock-mac-seal-v1";
	uint8_t master[MASTER_LEN], fp_key[FL_MAC_KEY_LEN];
	uint8_t seal_key[FL_MAC_KEY_LEN];
	uint8_t kx[FL_KX_SK_LEN + FL_KX_PK_LEN];
	fl_blake2b_state st;
	fl_err err;

	memset(s, 0, sizeof(*s));
	*file = "server.secret";
	err = load_or_create(data_dir, "server.secret", master, sizeof(master),
	                     create ? gen_random : NULL);
	if (err != FL_OK)
		goto out;
	if ((err = fl_kdf(s->apikey_hash_key, sizeof(s->apikey_hash_key), 1,
	                  "fl-apiky", master)) != FL_OK ||
	    (err = fl_kdf(s->enroll_hash_key, sizeof(s->enroll_hash_key), 2,
	                  "fl-enrol", master)) != FL_OK ||
	    (err = fl_kdf(fp_key, sizeof(fp_key), 3, "fl-fprnt", master)) !=
	            FL_OK ||
	    (err = fl_kdf(s->webhook_key, sizeof(s->webhook_key), 4,
	                  "fl-whsec", master)) != FL_OK ||
	    (err = fl_kdf(seal_key, sizeof(seal_key), 5, "fl-mseal", master)) !=
	            FL_OK ||
	    (err = fl_kdf(s->token_memo_key, sizeof(s->token_memo_key), 6,
	                  "fl-tmemo", master)) != FL_OK)
		goto out;
	*file = "kx.secret";
	err = load_or_create(data_dir, "kx.secret", kx, sizeof(kx),
	                     create ? gen_kx : NULL);
	if (err != FL_OK)
		goto out;
	memcpy(s->kx_sk, kx, FL_KX_SK_LEN);
	memcpy(s->kx_pk, kx + FL_KX_SK_LEN, FL_KX_PK_LEN);
	/* A flipped bit in either half shows as a pair that does not match. */
	if (!fl_kx_pair_matches(s->kx_pk, s->kx_sk)) {
		err = FL_E_CORRUPT;
		goto out;
	}
	if ((err = fl_blake2b_init(&st, fp_key, sizeof(fp_key),
	                           sizeof(s->fingerprint))) != FL_OK)
		goto out;
	fl_blake2b_update(&st, domain, sizeof(domain) - 1);
	fl_blake2b_update(&st, s->kx_pk, sizeof(s->kx_pk));
	fl_blake2b_final(&st, s->fingerprint, sizeof(s->fingerprint));
	if ((err = fl_blake2b_init(&st, seal_key, sizeof(seal_key),
	                           sizeof(s->mac_seal_key))) != FL_OK)
		goto out;
	fl_blake2b_update(&st, seal_domain, sizeof(seal_domain) - 1);
	fl_blake2b_update(&st, s->kx_sk, sizeof(s->kx_sk));
	fl_blake2b_final(&st, s->mac_seal_key, sizeof(s->mac_seal_key));
	fl_wipe(&st, sizeof(st));
	*file = NULL;
out:
	fl_wipe(master, sizeof(master));
	fl_wipe(fp_key, sizeof(fp_key));
	fl_wipe(seal_key, sizeof(seal_key));
	fl_wipe(kx, sizeof(kx));
	if (err != FL_OK)
		fl_secrets_wipe(s);
	return err;
}

fl_err fl_secrets_load(struct fl_secrets *s, const char *data_dir)
{
	const char *file;

	return load(s, data_dir, true, &file);
}

fl_err fl_secrets_read(struct fl_secrets *s, const char *data_dir,
                       const char **file)
{
	const char *f = NULL;
	fl_err err = load(s, data_dir, false, &f);

	if (file != NULL)
		*file = f;
	return err;
}

void fl_secrets_wipe(struct fl_secrets *s)
{
	fl_wipe(s, sizeof(*s));
}
