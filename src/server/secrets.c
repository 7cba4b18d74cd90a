/* secrets.c - the data directory's secret files. */
#include "server/secrets.h"

#include <string.h>
#include <sys/stat.h>

#include "server/files.h"

#define MASTER_LEN 32

/* Reads name (exactly len bytes) or, if absent, creates it from fresh
 * random bytes (gen, len). */
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
	if (err == FL_E_NOT_FOUND) {
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

fl_err fl_secrets_load(struct fl_secrets *s, const char *data_dir)
{
	uint8_t master[MASTER_LEN];
	uint8_t kx[FL_KX_SK_LEN + FL_KX_PK_LEN];
	fl_err err;

	memset(s, 0, sizeof(*s));
	err = load_or_create(data_dir, "server.secret", master, sizeof(master),
	                     gen_random);
	if (err != FL_OK)
		goto out;
	if ((err = fl_kdf(s->apikey_hash_key, sizeof(s->apikey_hash_key), 1,
	                  "fl-apiky", master)) != FL_OK ||
	    (err = fl_kdf(s->enroll_hash_key, sizeof(s->enroll_hash_key), 2,
	                  "fl-enrol", master)) != FL_OK)
		goto out;
	err = load_or_create(data_dir, "kx.secret", kx, sizeof(kx), gen_kx);
	if (err != FL_OK)
		goto out;
	memcpy(s->kx_sk, kx, FL_KX_SK_LEN);
	memcpy(s->kx_pk, kx + FL_KX_SK_LEN, FL_KX_PK_LEN);
out:
	fl_wipe(master, sizeof(master));
	fl_wipe(kx, sizeof(kx));
	if (err != FL_OK)
		fl_secrets_wipe(s);
	return err;
}

void fl_secrets_wipe(struct fl_secrets *s)
{
	fl_wipe(s, sizeof(*s));
}
