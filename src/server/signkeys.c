/* signkeys.c - the signing-key manifest, key files and the signer. */
#include "server/signkeys.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/crypto.h"
#include "server/files.h"
#include "server/log.h"

#define MAX_KEYS     64        /* signing keys kept in the manifest */
#define MANIFEST_MAX (1 << 20) /* bytes */
#define CERT_MAX     4096

struct key {
	struct fl_signer s; /* secret loaded from keys/<kid>.k4secret */
	fl_time created_at;
	fl_time retired_at;  /* 0 while in use */
	fl_time not_after;   /* certificate end, 0 if none */
	char cert[CERT_MAX]; /* root certificate, "" if none */
};

struct fl_signkeys {
	pthread_rwlock_t lock;
	char dir[4096]; /* the data directory */
	bool have_root;
	bool dev; /* root is a dev root */
	uint8_t root_pk[FL_SIGN_PK_LEN];
	struct key keys[MAX_KEYS];
	size_t n;
	int cert_days; /* dev root certificates */
};

/* --- files ---------------------------------------------------------------- */

static fl_err path_of(const struct fl_signkeys *ks, char *out, size_t cap,
                      const char *name)
{
	return fl_files_join(out, cap, ks->dir, name);
}

static fl_err secret_path(const struct fl_signkeys *ks, const char *kid,
                          char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s/keys/%s.k4secret", ks->dir, kid);

	return n < 0 || (size_t)n >= cap ? FL_E_TOO_LARGE : FL_OK;
}

static fl_err read_signer(const char *path, struct fl_signer *s)
{
	char buf[FL_PASERK_SECRET_SIZE + 8];
	size_t n = 0;
	struct stat st;
	fl_err err;

	memset(s, 0, sizeof(*s));
	err = fl_files_read(path, buf, sizeof(buf) - 1, &n);
	if (err != FL_OK)
		goto out;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	if (stat(path, &st) != 0 || (st.st_mode & 077) != 0) {
		fl_logf(FL_LOG_ERROR, "key file readable by others",
		        "%s: refusing to use it", path);
		err = FL_E_PERM;
		goto out;
	}
	err = fl_signer_from_paserk(s, buf);
out:
	fl_wipe(buf, sizeof(buf));
	return err;
}

static fl_err write_signer(const char *path, const struct fl_signer *s)
{
	char buf[FL_PASERK_SECRET_SIZE + 1];
	fl_err err = fl_paserk_secret_encode(buf, s->sk);
	size_t n;

	if (err != FL_OK)
		return err;
	n = strlen(buf);
	buf[n++] = '\n';
	err = fl_files_write(path, buf, n, 0600, true);
	fl_wipe(buf, sizeof(buf));
	return err;
}

static json_t *time_json(fl_time t)
{
	char buf[FL_TIME_STR_LEN];

	if (t == 0)
		return json_null();
	fl_time_format(t, buf);
	return json_string(buf);
}

static fl_err save(struct fl_signkeys *ks)
{
	char root[FL_PASERK_PUBLIC_SIZE], pub[FL_PASERK_PUBLIC_SIZE];
	char path[4200];
	json_t *doc = NULL, *arr = NULL;
	char *text = NULL;
	fl_err err;

	if (ks->have_root &&
	    (err = fl_paserk_public_encode(root, ks->root_pk)) != FL_OK)
		return err;
	arr = json_array();
	doc = json_pack("{s:s?,s:b,s:o}", "root", ks->have_root ? root : NULL,
	                "dev_root", ks->dev, "keys", arr);
	if (doc == NULL) {
		err = FL_E_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < ks->n; i++) {
		const struct key *k = &ks->keys[i];

		if ((err = fl_paserk_public_encode(pub, k->s.pk)) != FL_OK)
			goto out;
		if (json_array_append_new(
		            arr,
		            json_pack("{s:s,s:s,s:o,s:o,s:s?,s:o}", "kid",
		                      k->s.kid, "pk", pub, "created_at",
		                      time_json(k->created_at), "retired_at",
		                      time_json(k->retired_at), "cert",
		                      k->cert[0] ? k->cert : NULL, "not_after",
		                      time_json(k->not_after))) != 0) {
			err = FL_E_NOMEM;
			goto out;
		}
	}
	text = json_dumps(doc, JSON_INDENT(2));
	if (text == NULL) {
		err = FL_E_NOMEM;
		goto out;
	}
	if ((err = path_of(ks, path, sizeof(path), "keys.json")) != FL_OK)
		goto out;
	err = fl_files_write(path, text, strlen(text), 0600, false);
out:
	free(text);
	json_decref(doc);
	return err;
}

static fl_err parse_time(json_t *v, fl_time *out)
{
	*out = 0;
	if (v == NULL || json_is_null(v))
		return FL_OK;
	if (!json_is_string(v))
		return FL_E_CORRUPT;
	return fl_time_parse(json_string_value(v), json_string_length(v),
	                     out) == FL_OK
	               ? FL_OK
	               : FL_E_CORRUPT;
}

/* Loads the manifest and every key's secret into ks (replacing them). */
static fl_err load(struct fl_signkeys *ks)
{
	char path[4200];
	char *buf = NULL;
	size_t n = 0, i;
	json_t *doc = NULL, *root, *arr, *v;
	fl_err err;

	ks->n = 0;
	ks->have_root = false;
	ks->dev = false;
	if ((err = path_of(ks, path, sizeof(path), "keys.json")) != FL_OK)
		return err;
	buf = malloc(MANIFEST_MAX + 1);
	if (buf == NULL)
		return FL_E_NOMEM;
	err = fl_files_read(path, buf, MANIFEST_MAX, &n);
	if (err == FL_E_NOT_FOUND) {
		err = FL_OK;
		goto out;
	}
	if (err != FL_OK)
		goto out;
	doc = json_loadb(buf, n, JSON_REJECT_DUPLICATES, NULL);
	root = json_object_get(doc, "root");
	arr = json_object_get(doc, "keys");
	if (doc == NULL || !json_is_array(arr) ||
	    json_array_size(arr) > MAX_KEYS) {
		err = FL_E_CORRUPT;
		goto out;
	}
	if (json_is_string(root)) {
		err = fl_paserk_public_decode(ks->root_pk,
		                              json_string_value(root),
		                              json_string_length(root));
		if (err != FL_OK)
			goto out;
		ks->have_root = true;
		ks->dev = json_is_true(json_object_get(doc, "dev_root"));
	}
	json_array_foreach(arr, i, v)
	{
		struct key *k = &ks->keys[ks->n];
		json_t *kid = json_object_get(v, "kid");
		json_t *cert = json_object_get(v, "cert");

		memset(k, 0, sizeof(*k));
		if (!json_is_string(kid) ||
		    json_string_length(kid) >= FL_KID_MAX ||
		    strchr(json_string_value(kid), '/') != NULL) {
			err = FL_E_CORRUPT;
			goto out;
		}
		if ((err = secret_path(ks, json_string_value(kid), path,
		                       sizeof(path))) != FL_OK ||
		    (err = read_signer(path, &k->s)) != FL_OK)
			goto out;
		if (strcmp(k->s.kid, json_string_value(kid)) != 0) {
			err = FL_E_CORRUPT;
			goto out;
		}
		if ((err = parse_time(json_object_get(v, "created_at"),
		                      &k->created_at)) != FL_OK ||
		    (err = parse_time(json_object_get(v, "retired_at"),
		                      &k->retired_at)) != FL_OK ||
		    (err = parse_time(json_object_get(v, "not_after"),
		                      &k->not_after)) != FL_OK)
			goto out;
		if (json_is_string(cert)) {
			if (json_string_length(cert) >= sizeof(k->cert)) {
				err = FL_E_CORRUPT;
				goto out;
			}
			strcpy(k->cert, json_string_value(cert));
		}
		ks->n++;
	}
out:
	if (err != FL_OK)
		for (size_t k = 0; k < MAX_KEYS; k++)
			fl_signer_wipe(&ks->keys[k].s);
	json_decref(doc);
	free(buf);
	return err;
}

/* --- certificates --------------------------------------------------------- */

/* Verifies cert against root_pk; kid and not_after receive what it
 * certifies. */
static fl_err check_cert(const uint8_t root_pk[FL_SIGN_PK_LEN],
                         const char *cert, fl_time now, char kid[FL_KID_MAX],
                         fl_time *not_after)
{
	struct fl_trust *t = NULL;
	char *payload = NULL;
	size_t len = 0;
	json_t *j = NULL, *na;
	fl_err err;

	*not_after = 0;
	kid[0] = '\0';
	if ((err = fl_trust_new(&t, root_pk)) != FL_OK)
		goto out;
	if ((err = fl_trust_add_cert(t, cert, now, kid)) != FL_OK)
		goto out;
	if ((err = fl_trust_verify(t, FL_MSG_KEY_CERT, cert, now, &payload,
	                           &len)) != FL_OK)
		goto out;
	j = json_loadb(payload, len, 0, NULL);
	na = json_object_get(j, "not_after");
	if (!json_is_string(na) ||
	    fl_time_parse(json_string_value(na), json_string_length(na),
	                  not_after) != FL_OK) {
		err = FL_E_CLAIMS;
		goto out;
	}
out:
	json_decref(j);
	free(payload);
	fl_trust_free(t);
	if (err != FL_OK)
		kid[0] = '\0';
	return err;
}

static fl_err dev_root_signer(struct fl_signkeys *ks, struct fl_signer *root)
{
	char path[4200];
	fl_err err;

	if ((err = path_of(ks, path, sizeof(path), "dev-root.k4secret")) !=
	    FL_OK)
		return err;
	return read_signer(path, root);
}

static fl_err dev_certify(struct fl_signkeys *ks, struct key *k, fl_time now)
{
	struct fl_signer root;
	char *cert = NULL;
	fl_err err;

	if ((err = dev_root_signer(ks, &root)) != FL_OK)
		return err;
	k->not_after = now + (fl_time)ks->cert_days * FL_DAY;
	err = fl_keycert_issue(&cert, &root, k->s.pk, k->not_after);
	fl_signer_wipe(&root);
	if (err != FL_OK)
		return err;
	if (strlen(cert) >= sizeof(k->cert)) {
		free(cert);
		return FL_E_TOO_LARGE;
	}
	strcpy(k->cert, cert);
	free(cert);
	return FL_OK;
}

/* Makes a development root: secret in dev-root.k4secret, public in the
 * manifest. */
static fl_err make_dev_root(struct fl_signkeys *ks)
{
	struct fl_signer root;
	char path[4200];
	fl_err err;

	if ((err = path_of(ks, path, sizeof(path), "dev-root.k4secret")) !=
	    FL_OK)
		return err;
	err = read_signer(path, &root);
	if (err == FL_E_NOT_FOUND) {
		if ((err = fl_signer_generate(&root)) != FL_OK)
			return err;
		err = write_signer(path, &root);
	}
	if (err == FL_OK) {
		memcpy(ks->root_pk, root.pk, FL_SIGN_PK_LEN);
		ks->have_root = true;
		ks->dev = true;
	}
	fl_signer_wipe(&root);
	return err;
}

static fl_err add_key(struct fl_signkeys *ks, fl_time now, struct key **out)
{
	char path[4200];
	struct key *k;
	fl_err err;

	*out = NULL;
	if (ks->n == MAX_KEYS)
		return FL_E_TOO_LARGE;
	k = &ks->keys[ks->n];
	memset(k, 0, sizeof(*k));
	if ((err = fl_signer_generate(&k->s)) != FL_OK)
		return err;
	k->created_at = now;
	if ((err = secret_path(ks, k->s.kid, path, sizeof(path))) != FL_OK ||
	    (err = write_signer(path, &k->s)) != FL_OK) {
		fl_signer_wipe(&k->s);
		return err;
	}
	ks->n++;
	*out = k;
	return FL_OK;
}

/* --- public functions ----------------------------------------------------- */

fl_err fl_signkeys_open(struct fl_signkeys **out, const char *data_dir,
                        bool dev_root, int cert_days, fl_time now)
{
	struct fl_signkeys *ks = NULL;
	char keydir[4200];
	bool changed = false;
	struct key *k;
	fl_err err;

	*out = NULL;
	if (strlen(data_dir) >= sizeof(ks->dir))
		return FL_E_TOO_LARGE;
	ks = calloc(1, sizeof(*ks));
	if (ks == NULL)
		return FL_E_NOMEM;
	pthread_rwlock_init(&ks->lock, NULL);
	strcpy(ks->dir, data_dir);
	ks->cert_days = cert_days > 0 ? cert_days : 365;
	if ((err = path_of(ks, keydir, sizeof(keydir), "keys")) != FL_OK ||
	    (err = fl_files_mkdirs(keydir, 0700)) != FL_OK)
		goto out;
	if ((err = load(ks)) != FL_OK) {
		fl_logf(FL_LOG_ERROR, "cannot load signing keys", "%s: %s",
		        data_dir, fl_strerror(err));
		goto out;
	}
	if (ks->n == 0) {
		if ((err = add_key(ks, now, &k)) != FL_OK)
			goto out;
		changed = true;
	}
	if (!ks->have_root && dev_root) {
		if ((err = make_dev_root(ks)) != FL_OK)
			goto out;
		changed = true;
	}
	if (ks->dev) {
		fl_log(FL_LOG_WARN,
		       "DEVELOPMENT ROOT KEY IN USE: signing keys are "
		       "certified "
		       "by dev-root.k4secret in the data directory. A "
		       "production operator keeps the root key offline and "
		       "installs certificates with `finlockd keys accept-cert`",
		       json_pack("{s:s}", "data", data_dir));
		for (size_t i = 0; i < ks->n; i++) {
			if (ks->keys[i].cert[0] != '\0' ||
			    ks->keys[i].retired_at != 0)
				continue;
			if ((err = dev_certify(ks, &ks->keys[i], now)) != FL_OK)
				goto out;
			changed = true;
		}
	}
	if (changed && (err = save(ks)) != FL_OK)
		goto out;
	*out = ks;
	ks = NULL;
out:
	fl_signkeys_free(ks);
	return err;
}

void fl_signkeys_free(struct fl_signkeys *ks)
{
	if (ks == NULL)
		return;
	for (size_t i = 0; i < MAX_KEYS; i++)
		fl_signer_wipe(&ks->keys[i].s);
	pthread_rwlock_destroy(&ks->lock);
	fl_wipe(ks, sizeof(*ks));
	free(ks);
}

fl_err fl_signkeys_reload(struct fl_signkeys *ks, fl_time now)
{
	struct fl_signkeys *fresh = NULL;
	fl_err err;

	err = fl_signkeys_open(&fresh, ks->dir, ks->dev, ks->cert_days, now);
	if (err != FL_OK)
		return err;
	pthread_rwlock_wrlock(&ks->lock);
	ks->have_root = fresh->have_root;
	ks->dev = fresh->dev;
	memcpy(ks->root_pk, fresh->root_pk, sizeof(ks->root_pk));
	memcpy(ks->keys, fresh->keys, sizeof(ks->keys));
	ks->n = fresh->n;
	pthread_rwlock_unlock(&ks->lock);
	fl_signkeys_free(fresh);
	return FL_OK;
}

/* The signer at now: newest certified, unexpired, unretired key. Call with
 * the lock held. */
static const struct key *signer_at(const struct fl_signkeys *ks, fl_time now)
{
	if (!ks->have_root)
		return NULL;
	for (size_t i = ks->n; i-- > 0;) {
		const struct key *k = &ks->keys[i];

		if (k->cert[0] != '\0' && k->retired_at == 0 &&
		    now <= k->not_after)
			return k;
	}
	return NULL;
}

fl_err fl_signkeys_sign(struct fl_signkeys *ks, enum fl_msg_kind kind,
                        const char *payload, size_t len, fl_time now,
                        char **token, char kid[FL_KID_MAX])
{
	uint8_t sig[FL_SIG_LEN];

	return fl_signkeys_sign_sig(ks, kind, payload, len, now, token, kid,
	                            sig);
}

fl_err fl_signkeys_sign_sig(struct fl_signkeys *ks, enum fl_msg_kind kind,
                            const char *payload, size_t len, fl_time now,
                            char **token, char kid[FL_KID_MAX],
                            uint8_t sig[FL_SIG_LEN])
{
	const struct key *k;
	fl_err err;

	*token = NULL;
	pthread_rwlock_rdlock(&ks->lock);
	k = signer_at(ks, now);
	if (k == NULL) {
		err = FL_E_STATE;
	} else {
		err = fl_msg_sign_sig(token, sig, &k->s, kind, payload, len);
		if (err == FL_OK && kid != NULL)
			strcpy(kid, k->s.kid);
	}
	pthread_rwlock_unlock(&ks->lock);
	return err;
}

fl_err fl_signkeys_current(struct fl_signkeys *ks, fl_time now,
                           char kid[FL_KID_MAX])
{
	const struct key *k;
	fl_err err = FL_OK;

	kid[0] = '\0';
	pthread_rwlock_rdlock(&ks->lock);
	k = signer_at(ks, now);
	if (k == NULL)
		err = FL_E_STATE;
	else
		strcpy(kid, k->s.kid);
	pthread_rwlock_unlock(&ks->lock);
	return err;
}

fl_err fl_signkeys_root(struct fl_signkeys *ks, char out[FL_PASERK_PUBLIC_SIZE])
{
	fl_err err;

	pthread_rwlock_rdlock(&ks->lock);
	err = ks->have_root ? fl_paserk_public_encode(out, ks->root_pk)
	                    : FL_E_NOT_FOUND;
	pthread_rwlock_unlock(&ks->lock);
	return err;
}

bool fl_signkeys_has(struct fl_signkeys *ks, const char *kid)
{
	bool found = false;

	pthread_rwlock_rdlock(&ks->lock);
	for (size_t i = 0; i < ks->n && !found; i++)
		found = strcmp(ks->keys[i].s.kid, kid) == 0;
	pthread_rwlock_unlock(&ks->lock);
	return found;
}

bool fl_signkeys_is_dev(struct fl_signkeys *ks)
{
	bool dev;

	pthread_rwlock_rdlock(&ks->lock);
	dev = ks->dev;
	pthread_rwlock_unlock(&ks->lock);
	return dev;
}

fl_err fl_signkeys_cert(struct fl_signkeys *ks, const char *kid, char **cert)
{
	fl_err err = FL_E_NOT_FOUND;

	*cert = NULL;
	pthread_rwlock_rdlock(&ks->lock);
	for (size_t i = 0; i < ks->n; i++) {
		if (strcmp(ks->keys[i].s.kid, kid) != 0 ||
		    ks->keys[i].cert[0] == '\0')
			continue;
		*cert = strdup(ks->keys[i].cert);
		err = *cert != NULL ? FL_OK : FL_E_NOMEM;
		break;
	}
	pthread_rwlock_unlock(&ks->lock);
	return err;
}

fl_err fl_signkeys_list(struct fl_signkeys *ks, fl_time now,
                        void (*fn)(void *ctx, const struct fl_signkey_info *k),
                        void *ctx)
{
	struct fl_signkey_info info;
	const struct key *signer;
	fl_err err = FL_OK;

	pthread_rwlock_rdlock(&ks->lock);
	signer = signer_at(ks, now);
	for (size_t i = 0; i < ks->n && err == FL_OK; i++) {
		const struct key *k = &ks->keys[i];

		memset(&info, 0, sizeof(info));
		strcpy(info.kid, k->s.kid);
		err = fl_paserk_public_encode(info.pk, k->s.pk);
		info.created_at = k->created_at;
		info.retired_at = k->retired_at;
		info.not_after = k->not_after;
		info.certified = k->cert[0] != '\0';
		info.signer = k == signer;
		if (err == FL_OK)
			fn(ctx, &info);
	}
	pthread_rwlock_unlock(&ks->lock);
	return err;
}

fl_err fl_signkeys_rotate(struct fl_signkeys *ks, fl_time now,
                          char kid[FL_KID_MAX])
{
	struct key *k = NULL;
	fl_err err;

	kid[0] = '\0';
	pthread_rwlock_wrlock(&ks->lock);
	if ((err = add_key(ks, now, &k)) != FL_OK)
		goto out;
	if (ks->dev && (err = dev_certify(ks, k, now)) != FL_OK)
		goto out;
	if ((err = save(ks)) != FL_OK)
		goto out;
	strcpy(kid, k->s.kid);
out:
	pthread_rwlock_unlock(&ks->lock);
	return err;
}

fl_err fl_signkeys_accept_cert(struct fl_signkeys *ks, const char *cert,
                               const char *root_pk, fl_time now,
                               char kid[FL_KID_MAX])
{
	uint8_t pk[FL_SIGN_PK_LEN];
	fl_time not_after = 0;
	struct key *k = NULL;
	bool new_root = false;
	char path[4200];
	fl_err err;

	kid[0] = '\0';
	pthread_rwlock_wrlock(&ks->lock);
	if (root_pk != NULL) {
		err = fl_paserk_public_decode(pk, root_pk, strlen(root_pk));
		if (err != FL_OK)
			goto out;
		if (ks->have_root && !ks->dev &&
		    memcmp(pk, ks->root_pk, FL_SIGN_PK_LEN) != 0) {
			err = FL_E_CONFLICT;
			goto out;
		}
		new_root = !ks->have_root || ks->dev ||
		           memcmp(pk, ks->root_pk, FL_SIGN_PK_LEN) != 0;
	} else if (ks->have_root) {
		memcpy(pk, ks->root_pk, FL_SIGN_PK_LEN);
	} else {
		err = FL_E_NOT_FOUND; /* a first certificate names its root */
		goto out;
	}
	if ((err = check_cert(pk, cert, now, kid, &not_after)) != FL_OK)
		goto out;
	for (size_t i = 0; i < ks->n && k == NULL; i++)
		if (strcmp(ks->keys[i].s.kid, kid) == 0)
			k = &ks->keys[i];
	if (k == NULL) {
		err = FL_E_NOT_FOUND;
		goto out;
	}
	if (strlen(cert) >= sizeof(k->cert)) {
		err = FL_E_TOO_LARGE;
		goto out;
	}
	if (new_root && ks->dev) {
		/* Certificates from the development root mean nothing under
		 * the production root. */
		for (size_t i = 0; i < ks->n; i++) {
			ks->keys[i].cert[0] = '\0';
			ks->keys[i].not_after = 0;
		}
	}
	strcpy(k->cert, cert);
	k->not_after = not_after;
	if (new_root) {
		memcpy(ks->root_pk, pk, FL_SIGN_PK_LEN);
		ks->have_root = true;
		if (ks->dev) {
			ks->dev = false;
			if (path_of(ks, path, sizeof(path),
			            "dev-root.k4secret") == FL_OK)
				unlink(path);
		}
	}
	err = save(ks);
out:
	pthread_rwlock_unlock(&ks->lock);
	if (err != FL_OK)
		kid[0] = '\0';
	return err;
}

fl_err fl_signkeys_retire(struct fl_signkeys *ks, const char *kid, fl_time now)
{
	fl_err err = FL_E_NOT_FOUND;

	pthread_rwlock_wrlock(&ks->lock);
	for (size_t i = 0; i < ks->n; i++) {
		if (strcmp(ks->keys[i].s.kid, kid) != 0)
			continue;
		if (ks->keys[i].retired_at != 0) {
			err = FL_E_STATE;
			break;
		}
		ks->keys[i].retired_at = now;
		err = save(ks);
		break;
	}
	pthread_rwlock_unlock(&ks->lock);
	return err;
}

fl_err fl_signkeys_dev_webhook_cert(struct fl_signkeys *ks,
                                    const uint8_t pk[FL_SIGN_PK_LEN],
                                    fl_time now, char **cert)
{
	struct fl_signer root;
	fl_err err;

	*cert = NULL;
	pthread_rwlock_rdlock(&ks->lock);
	if (!ks->dev) {
		err = FL_E_STATE;
		goto out;
	}
	if ((err = dev_root_signer(ks, &root)) != FL_OK)
		goto out;
	err = fl_webhook_keycert_issue(
	        cert, &root, pk, now + (fl_time)ks->cert_days * FL_DAY);
	fl_signer_wipe(&root);
out:
	pthread_rwlock_unlock(&ks->lock);
	return err;
}
