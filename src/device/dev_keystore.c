/*
 * dev_keystore.c - secrets in a 0600 file (dev_keystore.h).
 */
#include "device/dev_keystore.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "device/dev_files.h"

/* Longest line: name, space, base64url of the longest secret, newline. */
#define KS_LINE_MAX (DEV_NAME_MAX + 1 + 344 + 1)
#define KS_FILE_MAX (DEV_KS_MAX * KS_LINE_MAX)

struct ks_entry {
	char name[DEV_NAME_MAX + 1];
	uint8_t val[DEV_KS_SECRET_MAX];
	size_t len;
};

struct ks {
	struct ks_entry e[DEV_KS_MAX];
	size_t n;
};

static void ks_wipe(struct ks *k)
{
	fl_wipe(k, sizeof(*k));
}

/* Parses the file's text into k. FL_E_CORRUPT for anything malformed. */
static fl_err ks_parse(struct ks *k, const char *text, size_t len)
{
	size_t pos = 0;

	k->n = 0;
	while (pos < len) {
		const char *line = text + pos, *nl, *sp;
		size_t llen, nlen;
		struct ks_entry *e;

		nl = memchr(line, '\n', len - pos);
		if (nl == NULL)
			return FL_E_CORRUPT;
		llen = (size_t)(nl - line);
		pos += llen + 1;
		sp = memchr(line, ' ', llen);
		if (sp == NULL || k->n >= DEV_KS_MAX)
			return FL_E_CORRUPT;
		nlen = (size_t)(sp - line);
		if (nlen == 0 || nlen > DEV_NAME_MAX)
			return FL_E_CORRUPT;
		e = &k->e[k->n];
		memcpy(e->name, line, nlen);
		e->name[nlen] = '\0';
		if (dev_name_check(e->name) != FL_OK)
			return FL_E_CORRUPT;
		for (size_t i = 0; i < k->n; i++)
			if (strcmp(k->e[i].name, e->name) == 0)
				return FL_E_CORRUPT;
		if (fl_b64url_decode(e->val, sizeof(e->val), &e->len, sp + 1,
		                     llen - nlen - 1) != FL_OK ||
		    e->len == 0)
			return FL_E_CORRUPT;
		k->n++;
	}
	return FL_OK;
}

/* Loads dir/file into k; a missing file is an empty keystore. */
static fl_err ks_load(struct ks *k, const char *dir, const char *file)
{
	char *text = NULL;
	size_t len = 0;
	fl_err err;

	memset(k, 0, sizeof(*k));
	err = dev_file_slurp(dir, file, KS_FILE_MAX, &text, &len);
	if (err == FL_E_NOT_FOUND)
		return FL_OK;
	if (err == FL_E_TOO_LARGE)
		return FL_E_CORRUPT;
	if (err)
		return err;
	err = ks_parse(k, text, len);
	fl_wipe(text, len);
	free(text);
	if (err)
		ks_wipe(k);
	return err;
}

static fl_err ks_store(const struct ks *k, const char *dir, const char *file)
{
	char *text;
	size_t pos = 0;
	fl_err err = FL_OK;

	text = malloc(KS_FILE_MAX);
	if (text == NULL)
		return FL_E_NOMEM;
	for (size_t i = 0; i < k->n && !err; i++) {
		size_t nlen = strlen(k->e[i].name);

		memcpy(text + pos, k->e[i].name, nlen);
		pos += nlen;
		text[pos++] = ' ';
		err = fl_b64url_encode(text + pos, KS_FILE_MAX - pos,
		                       k->e[i].val, k->e[i].len);
		if (!err) {
			pos += strlen(text + pos);
			text[pos++] = '\n';
		}
	}
	if (!err)
		err = dev_file_write(dir, file, text, pos, DEV_KS_MODE, true);
	fl_wipe(text, KS_FILE_MAX);
	free(text);
	return err;
}

static struct ks_entry *ks_find(struct ks *k, const char *name)
{
	for (size_t i = 0; i < k->n; i++)
		if (strcmp(k->e[i].name, name) == 0)
			return &k->e[i];
	return NULL;
}

fl_err dev_keystore_put(const char *dir, const char *file, const char *name,
                        const uint8_t *secret, size_t len)
{
	struct ks *k;
	struct ks_entry *e;
	fl_err err;

	if (dev_name_check(name) != FL_OK || len == 0)
		return FL_E_INVALID;
	if (len > DEV_KS_SECRET_MAX)
		return FL_E_TOO_LARGE;
	k = malloc(sizeof(*k));
	if (k == NULL)
		return FL_E_NOMEM;
	err = ks_load(k, dir, file);
	if (err)
		goto out;
	e = ks_find(k, name);
	if (e == NULL) {
		if (k->n >= DEV_KS_MAX) {
			err = FL_E_TOO_LARGE;
			goto out;
		}
		e = &k->e[k->n++];
		strcpy(e->name, name);
	}
	memcpy(e->val, secret, len);
	e->len = len;
	err = ks_store(k, dir, file);
out:
	ks_wipe(k);
	free(k);
	return err;
}

fl_err dev_keystore_get(const char *dir, const char *file, const char *name,
                        uint8_t *buf, size_t cap, size_t *len)
{
	struct ks *k;
	struct ks_entry *e;
	fl_err err;

	*len = 0;
	if (dev_name_check(name) != FL_OK)
		return FL_E_INVALID;
	k = malloc(sizeof(*k));
	if (k == NULL)
		return FL_E_NOMEM;
	err = ks_load(k, dir, file);
	if (err)
		goto out;
	e = ks_find(k, name);
	if (e == NULL) {
		err = FL_E_NOT_FOUND;
		goto out;
	}
	*len = e->len;
	if (e->len > cap) {
		err = FL_E_TOO_LARGE;
		goto out;
	}
	memcpy(buf, e->val, e->len);
out:
	ks_wipe(k);
	free(k);
	return err;
}

fl_err dev_keystore_mac(const char *dir, const char *file, const char *name,
                        const uint8_t *msg, size_t len, uint8_t mac[32])
{
	uint8_t key[DEV_KS_SECRET_MAX];
	size_t klen = 0;
	fl_err err;

	memset(mac, 0, 32);
	err = dev_keystore_get(dir, file, name, key, sizeof(key), &klen);
	if (err)
		goto out;
	if (klen < 16 || klen > 64) {
		err = FL_E_INVALID;
		goto out;
	}
	err = fl_blake2b(mac, 32, key, klen, msg, len);
	if (err)
		memset(mac, 0, 32);
out:
	fl_wipe(key, sizeof(key));
	return err;
}

fl_err dev_keystore_erase(const char *dir, const char *file, const char *name)
{
	struct ks *k;
	struct ks_entry *e;
	fl_err err;

	if (dev_name_check(name) != FL_OK)
		return FL_E_INVALID;
	k = malloc(sizeof(*k));
	if (k == NULL)
		return FL_E_NOMEM;
	err = ks_load(k, dir, file);
	if (err)
		goto out;
	e = ks_find(k, name);
	if (e == NULL)
		goto out;
	*e = k->e[k->n - 1];
	fl_wipe(&k->e[k->n - 1], sizeof(k->e[0]));
	k->n--;
	err = ks_store(k, dir, file);
out:
	ks_wipe(k);
	free(k);
	return err;
}
