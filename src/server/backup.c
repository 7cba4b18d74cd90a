/* backup.c - `finlockd backup` and `finlockd restore`. */
#include "server/backup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/crypto.h"
#include "core/token.h"
#include "server/app.h"
#include "server/files.h"
#include "store/store.h"
#include "server/clock.h"

/* The system's time: the commands here run on a stopped server's data
 * directory, never under a test clock. */
static fl_time wall_now(void)
{
	struct fl_clock c;

	fl_clock_system(&c);
	return fl_clock_now(&c);
}

#define MAGIC        "finlock-backup 1\n"
#define CHUNK        65536
#define NAME_MAX_LEN 200       /* longest file name in a backup */
#define MANIFEST_MAX (1 << 20) /* keys.json, as signkeys.c reads it */
#define MAX_FILES    96        /* files one backup may hold */
#define PATH_CAP     (FL_CONFIG_PATH_MAX + NAME_MAX_LEN + 64)

/* --- writing -------------------------------------------------------------- */

struct out {
	int fd;
	fl_blake2b_state h; /* over every byte before the end mark */
	uint64_t bytes;
};

static fl_err write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = write(fd, c, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return FL_E_IO;
		c += w;
		n -= (size_t)w;
	}
	return FL_OK;
}

static fl_err out_put(struct out *o, const void *p, size_t n)
{
	fl_blake2b_update(&o->h, p, n);
	o->bytes += n;
	return write_all(o->fd, p, n);
}

static void be(uint8_t *b, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static fl_err put_header(struct out *o, const char *name, uint64_t size)
{
	uint8_t b[13];
	size_t len = strlen(name);
	fl_err err;

	b[0] = 'F';
	be(b + 1, len, 4);
	if ((err = out_put(o, b, 5)) != FL_OK ||
	    (err = out_put(o, name, len)) != FL_OK)
		return err;
	be(b, size, 8);
	return out_put(o, b, 8);
}

/* Copies exactly size bytes of fd as the file name. */
static fl_err put_fd(struct out *o, const char *name, int fd, uint64_t size)
{
	char *buf = malloc(CHUNK);
	uint64_t left = size;
	fl_err err;

	if (buf == NULL)
		return FL_E_NOMEM;
	if ((err = put_header(o, name, size)) != FL_OK)
		goto out;
	while (left > 0) {
		size_t want = left < CHUNK ? (size_t)left : CHUNK;
		ssize_t r = read(fd, buf, want);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			err = FL_E_IO; /* shorter than it was */
			goto out;
		}
		if ((err = out_put(o, buf, (size_t)r)) != FL_OK)
			goto out;
		left -= (uint64_t)r;
	}
out:
	free(buf);
	return err;
}

/* Adds dir/name; FL_E_NOT_FOUND if it does not exist. */
static fl_err put_file(struct out *o, const char *dir, const char *name,
                       struct fl_backup_summary *sum)
{
	char path[PATH_CAP];
	struct stat sb;
	fl_err err;
	int fd;

	if ((err = fl_files_join(path, sizeof(path), dir, name)) != FL_OK)
		return err;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? FL_E_NOT_FOUND : FL_E_IO;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return FL_E_IO;
	}
	err = put_fd(o, name, fd, (uint64_t)sb.st_size);
	close(fd);
	if (err == FL_OK)
		sum->files++;
	return err;
}

/* The exported heads, up to the last complete line (the server may be
 * appending one). */
static fl_err put_heads(struct out *o, const char *dir,
                        struct fl_backup_summary *sum)
{
	char path[PATH_CAP], c;
	struct stat sb;
	off_t end;
	fl_err err;
	int fd;

	if ((err = fl_files_join(path, sizeof(path), dir,
	                         "audit-heads.jsonl")) != FL_OK)
		return err;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? FL_OK : FL_E_IO;
	if (fstat(fd, &sb) != 0) {
		close(fd);
		return FL_E_IO;
	}
	for (end = sb.st_size; end > 0; end--)
		if (pread(fd, &c, 1, end - 1) == 1 && c == '\n')
			break;
	err = put_fd(o, "audit-heads.jsonl", fd, (uint64_t)end);
	close(fd);
	if (err == FL_OK)
		sum->files++;
	return err;
}

/* A signing key's id as it may appear in a file name. */
static bool kid_ok(const char *kid)
{
	size_t n = strlen(kid);

	if (n == 0 || n >= FL_KID_MAX || kid[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = kid[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '-' ||
		      c == '_'))
			return false;
	}
	return true;
}

/* keys.json, then the secret of every key it lists. */
static fl_err put_keys(struct out *o, const char *dir,
                       struct fl_backup_summary *sum, char *why)
{
	char path[PATH_CAP], name[FL_KID_MAX + 32];
	char *buf = malloc(MANIFEST_MAX + 1);
	json_t *doc = NULL, *v;
	size_t n = 0, i;
	fl_err err;

	if (buf == NULL)
		return FL_E_NOMEM;
	if ((err = fl_files_join(path, sizeof(path), dir, "keys.json")) !=
	            FL_OK ||
	    (err = fl_files_read(path, buf, MANIFEST_MAX, &n)) != FL_OK) {
		fl_datadir_say(why, "cannot read %s: %s", path,
		               fl_strerror(err));
		goto out;
	}
	doc = json_loadb(buf, n, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_array(json_object_get(doc, "keys"))) {
		fl_datadir_say(why, "%s is damaged: restore it first", path);
		err = FL_E_CORRUPT;
		goto out;
	}
	if ((err = put_header(o, "keys.json", n)) != FL_OK ||
	    (err = out_put(o, buf, n)) != FL_OK)
		goto out;
	sum->files++;
	json_array_foreach(json_object_get(doc, "keys"), i, v)
	{
		const char *kid = json_string_value(json_object_get(v, "kid"));

		if (kid == NULL || !kid_ok(kid)) {
			fl_datadir_say(why,
			               "%s names a key badly: restore it first",
			               path);
			err = FL_E_CORRUPT;
			goto out;
		}
		snprintf(name, sizeof(name), "keys/%s.k4secret", kid);
		if ((err = put_file(o, dir, name, sum)) != FL_OK) {
			fl_datadir_say(why, "cannot copy %s/%s: %s", dir, name,
			               fl_strerror(err));
			goto out;
		}
		sum->signing_keys++;
	}
	/* and the keys that may not exist yet: the development root, the
	 * webhook signing key and its certificate */
	for (i = 0; i < 3; i++) {
		static const char *const optional[] = {
		        "dev-root.k4secret", "webhook.k4secret", "webhook.cert"};

		err = put_file(o, dir, optional[i], sum);
		if (err == FL_E_NOT_FOUND)
			err = FL_OK;
		if (err != FL_OK) {
			fl_datadir_say(why, "cannot copy %s/%s: %s", dir,
			               optional[i], fl_strerror(err));
			break;
		}
	}
out:
	json_decref(doc);
	fl_wipe(buf, MANIFEST_MAX + 1);
	free(buf);
	return err;
}

static fl_err put_snapshot(struct out *o, struct fl_store *st, const char *tmp,
                           struct fl_backup_summary *sum)
{
	struct stat sb;
	fl_err err;
	int fd;

	if ((err = fl_store_snapshot(st, tmp)) != FL_OK)
		return err;
	fd = open(tmp, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	/* Only this process knows the name: it goes at once. */
	(void)unlink(tmp);
	if (fd < 0)
		return FL_E_IO;
	if (fstat(fd, &sb) != 0) {
		close(fd);
		return FL_E_IO;
	}
	err = put_fd(o, "finlock.db", fd, (uint64_t)sb.st_size);
	close(fd);
	if (err == FL_OK) {
		sum->files++;
		sum->db_bytes = (uint64_t)sb.st_size;
	}
	return err;
}

fl_err fl_backup_write(const struct fl_config *cfg, const char *path,
                       struct fl_backup_summary *sum,
                       char why[FL_DATADIR_WHY_MAX])
{
	const char *dir = cfg->data_dir;
	char tmp[PATH_CAP], dbtmp[PATH_CAP], parent[PATH_CAP];
	uint8_t end[1 + FL_HASH_LEN];
	struct fl_datadir dd;
	struct out o = {.fd = -1};
	fl_err err;

	memset(sum, 0, sizeof(*sum));
	why[0] = '\0';
	if (strlen(path) + 32 >= sizeof(tmp))
		return FL_E_TOO_LARGE;
	snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path, (long)getpid());
	snprintf(dbtmp, sizeof(dbtmp), "%s.db-tmp%ld", path, (long)getpid());
	/* Only a directory finlockd would serve is worth a backup. */
	if ((err = fl_datadir_open(cfg, 0, wall_now(), &dd, why)) != FL_OK)
		return err;
	if (fl_files_exists(path)) {
		fl_datadir_say(why, "%s exists: give a new file name", path);
		err = FL_E_CONFLICT;
		goto out;
	}
	o.fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	            0600);
	if (o.fd < 0) {
		fl_datadir_say(why, "cannot create %s: %s", tmp,
		               strerror(errno));
		err = FL_E_IO;
		goto out;
	}
	if ((err = fl_blake2b_init(&o.h, NULL, 0, FL_HASH_LEN)) != FL_OK ||
	    (err = out_put(&o, MAGIC, strlen(MAGIC))) != FL_OK)
		goto io;
	/* heads first, database next, keys last (backup.h) */
	if ((err = put_heads(&o, dir, sum)) != FL_OK)
		goto io;
	/* PostgreSQL's database is backed up with its own tools
	 * (docs/deploy.md): the file holds the keys it needs */
	if (cfg->database[0] == '\0' &&
	    (err = put_snapshot(&o, dd.store, dbtmp, sum)) != FL_OK) {
		fl_datadir_say(why, "cannot copy the database: %s",
		               fl_strerror(err));
		goto out;
	}
	if ((err = put_file(&o, dir, "server.secret", sum)) != FL_OK ||
	    (err = put_file(&o, dir, "kx.secret", sum)) != FL_OK)
		goto io;
	if ((err = put_keys(&o, dir, sum, why)) != FL_OK)
		goto out;
	end[0] = 'E';
	fl_blake2b_final(&o.h, end + 1, FL_HASH_LEN);
	if ((err = write_all(o.fd, end, sizeof(end))) != FL_OK ||
	    fsync(o.fd) != 0)
		goto io;
	o.bytes += sizeof(end);
	close(o.fd);
	o.fd = -1;
	if (rename(tmp, path) != 0)
		goto io;
	snprintf(parent, sizeof(parent), "%s", path);
	if ((err = fl_files_sync_dir(dirname(parent))) != FL_OK) {
		fl_datadir_say(why, "cannot sync the directory of %s", path);
		goto out;
	}
	sum->bytes = o.bytes;
	err = FL_OK;
	goto out;
io:
	if (err == FL_OK)
		err = FL_E_IO;
	if (why[0] == '\0')
		fl_datadir_say(why, "cannot write %s: %s", tmp,
		               errno != 0 ? strerror(errno) : fl_strerror(err));
out:
	if (o.fd >= 0)
		close(o.fd);
	if (err != FL_OK)
		(void)unlink(tmp);
	fl_datadir_close(&dd);
	return err;
}

/* --- restoring ------------------------------------------------------------ */

struct in {
	int fd;
	fl_blake2b_state h;
};

/* Reads exactly n bytes; FL_E_CORRUPT at an early end. */
static fl_err in_raw(struct in *in, void *p, size_t n)
{
	char *c = p;

	while (n > 0) {
		ssize_t r = read(in->fd, c, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return FL_E_IO;
		if (r == 0)
			return FL_E_CORRUPT;
		c += r;
		n -= (size_t)r;
	}
	return FL_OK;
}

static fl_err in_get(struct in *in, void *p, size_t n)
{
	fl_err err = in_raw(in, p, n);

	if (err == FL_OK)
		fl_blake2b_update(&in->h, p, n);
	return err;
}

static uint64_t unbe(const uint8_t *b, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | b[i];
	return v;
}

/* The names a backup may hold. */
static bool name_ok(const char *name)
{
	static const char *const fixed[] = {
	        "finlock.db",       "server.secret",     "kx.secret",
	        "keys.json",        "dev-root.k4secret", "audit-heads.jsonl",
	        "webhook.k4secret", "webhook.cert",
	};
	static const char suffix[] = ".k4secret";
	char kid[FL_KID_MAX];
	size_t n = strlen(name), k = sizeof(suffix) - 1;

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (strcmp(name, fixed[i]) == 0)
			return true;
	if (strncmp(name, "keys/", 5) != 0 || n <= 5 + k ||
	    n - 5 - k >= sizeof(kid) || strcmp(name + n - k, suffix) != 0)
		return false;
	memcpy(kid, name + 5, n - 5 - k);
	kid[n - 5 - k] = '\0';
	return kid_ok(kid);
}

struct restore {
	const char *dir;
	char names[MAX_FILES][NAME_MAX_LEN + 1]; /* files written */
	int n;
	bool made_dir, made_keys;
	int lock_fd;
	bool locked;
};

static bool has(const struct restore *r, const char *name)
{
	for (int i = 0; i < r->n; i++)
		if (strcmp(r->names[i], name) == 0)
			return true;
	return false;
}

/* Removes what the restore wrote. */
static void undo(struct restore *r)
{
	char path[PATH_CAP];

	for (int i = 0; i < r->n; i++)
		if (fl_files_join(path, sizeof(path), r->dir, r->names[i]) ==
		    FL_OK)
			(void)unlink(path);
	if (r->made_keys &&
	    fl_files_join(path, sizeof(path), r->dir, "keys") == FL_OK)
		(void)rmdir(path);
	if (r->locked &&
	    fl_files_join(path, sizeof(path), r->dir, "finlockd.lock") == FL_OK)
		(void)unlink(path);
	if (r->made_dir)
		(void)rmdir(r->dir);
}

/* Copies size bytes of the backup into the new file dir/name. */
static fl_err take_file(struct in *in, struct restore *r, const char *name,
                        uint64_t size)
{
	char path[PATH_CAP];
	char *buf = NULL;
	fl_err err;
	int fd;

	if (strncmp(name, "keys/", 5) == 0 && !r->made_keys) {
		if ((err = fl_files_join(path, sizeof(path), r->dir, "keys")) !=
		    FL_OK)
			return err;
		if (mkdir(path, 0700) != 0)
			return FL_E_IO;
		r->made_keys = true;
	}
	if ((err = fl_files_join(path, sizeof(path), r->dir, name)) != FL_OK)
		return err;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	          0600);
	if (fd < 0)
		return FL_E_IO;
	snprintf(r->names[r->n++], NAME_MAX_LEN + 1, "%s", name);
	buf = malloc(CHUNK);
	if (buf == NULL) {
		err = FL_E_NOMEM;
		goto out;
	}
	while (size > 0) {
		size_t want = size < CHUNK ? (size_t)size : CHUNK;

		if ((err = in_get(in, buf, want)) != FL_OK ||
		    (err = write_all(fd, buf, want)) != FL_OK)
			goto out;
		size -= want;
	}
	err = fsync(fd) == 0 ? FL_OK : FL_E_IO;
out:
	if (buf != NULL)
		fl_wipe(buf, CHUNK);
	free(buf);
	close(fd);
	return err;
}

/* The target must be absent or empty. */
static fl_err prepare_dir(struct restore *r, char *why)
{
	struct dirent *e;
	DIR *d = opendir(r->dir);

	if (d == NULL) {
		if (errno != ENOENT) {
			fl_datadir_say(why, "cannot read %s: %s", r->dir,
			               strerror(errno));
			return FL_E_IO;
		}
		if (fl_files_mkdirs(r->dir, 0700) != FL_OK) {
			fl_datadir_say(why, "cannot create %s: %s", r->dir,
			               strerror(errno));
			return FL_E_IO;
		}
		r->made_dir = true;
		return FL_OK;
	}
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		closedir(d);
		fl_datadir_say(why,
		               "%s is not empty: restore into a new or empty "
		               "directory "
		               "(nothing was changed)",
		               r->dir);
		return FL_E_CONFLICT;
	}
	closedir(d);
	return FL_OK;
}

static fl_err read_entries(struct in *in, struct restore *r,
                           struct fl_backup_summary *sum, char *why,
                           const char *path)
{
	char magic[sizeof(MAGIC) - 1];
	uint8_t b[8], want[FL_HASH_LEN], got[FL_HASH_LEN];
	char name[NAME_MAX_LEN + 1];
	uint8_t tag;
	fl_err err;

	if ((err = in_get(in, magic, sizeof(magic))) != FL_OK ||
	    memcmp(magic, MAGIC, sizeof(magic)) != 0) {
		fl_datadir_say(why, "%s is not a finlock backup", path);
		return FL_E_CORRUPT;
	}
	for (;;) {
		uint64_t len, size;

		if ((err = in_raw(in, &tag, 1)) != FL_OK)
			goto bad;
		if (tag == 'E')
			break;
		fl_blake2b_update(&in->h, &tag, 1);
		if (tag != 'F' || (err = in_get(in, b, 4)) != FL_OK)
			goto bad;
		len = unbe(b, 4);
		if (len == 0 || len > NAME_MAX_LEN ||
		    (err = in_get(in, name, (size_t)len)) != FL_OK)
			goto bad;
		name[len] = '\0';
		if (strlen(name) != len || !name_ok(name) || has(r, name) ||
		    r->n == MAX_FILES) {
			fl_datadir_say(
			        why,
			        "%s holds a file finlock does not restore (%s)",
			        path, name);
			return FL_E_CORRUPT;
		}
		if ((err = in_get(in, b, 8)) != FL_OK)
			goto bad;
		size = unbe(b, 8);
		if ((err = take_file(in, r, name, size)) != FL_OK) {
			if (err == FL_E_CORRUPT)
				goto bad;
			fl_datadir_say(why, "cannot write %s/%s: %s", r->dir,
			               name, strerror(errno));
			return err;
		}
		sum->files++;
		if (strncmp(name, "keys/", 5) == 0)
			sum->signing_keys++;
		if (strcmp(name, "finlock.db") == 0)
			sum->db_bytes = size;
	}
	fl_blake2b_final(&in->h, got, sizeof(got));
	if ((err = in_raw(in, want, sizeof(want))) != FL_OK)
		goto bad;
	if (fl_ct_memcmp(want, got, sizeof(got)) != 0 ||
	    read(in->fd, &tag, 1) != 0) {
		fl_datadir_say(why,
		               "%s is damaged (its checksum does not match): "
		               "use another "
		               "backup",
		               path);
		return FL_E_CORRUPT;
	}
	return FL_OK;
bad:
	fl_datadir_say(why, "%s is cut short or damaged: use another backup",
	               path);
	return err == FL_OK ? FL_E_CORRUPT : err;
}

fl_err fl_backup_restore(const struct fl_config *cfg, const char *path,
                         struct fl_backup_summary *sum,
                         char why[FL_DATADIR_WHY_MAX])
{
	static const char *const needed[] = {"finlock.db", "server.secret",
	                                     "kx.secret", "keys.json"};
	struct restore *r = NULL;
	struct in in = {.fd = -1};
	struct fl_datadir dd;
	struct stat sb;
	fl_err err;

	memset(sum, 0, sizeof(*sum));
	why[0] = '\0';
	in.fd = open(path, O_RDONLY | O_CLOEXEC);
	if (in.fd < 0) {
		fl_datadir_say(why, "cannot open %s: %s", path,
		               strerror(errno));
		return FL_E_IO;
	}
	if (fstat(in.fd, &sb) == 0)
		sum->bytes = (uint64_t)sb.st_size;
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		close(in.fd);
		return FL_E_NOMEM;
	}
	r->dir = cfg->data_dir;
	if ((err = prepare_dir(r, why)) != FL_OK)
		goto out;
	/* No finlockd may start here while the files arrive. */
	if ((err = fl_datadir_lock(r->dir, &r->lock_fd, why)) != FL_OK)
		goto fail;
	r->locked = true;
	if ((err = fl_blake2b_init(&in.h, NULL, 0, FL_HASH_LEN)) != FL_OK ||
	    (err = read_entries(&in, r, sum, why, path)) != FL_OK)
		goto fail;
	for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++) {
		/* on PostgreSQL, pg_restore brings the database back */
		if (has(r, needed[i]) ||
		    (cfg->database[0] != '\0' &&
		     strcmp(needed[i], "finlock.db") == 0))
			continue;
		fl_datadir_say(why, "%s lacks %s: use another backup", path,
		               needed[i]);
		err = FL_E_CORRUPT;
		goto fail;
	}
	if (r->made_keys) {
		char keys[PATH_CAP];

		if ((err = fl_files_join(keys, sizeof(keys), r->dir, "keys")) !=
		            FL_OK ||
		    (err = fl_files_sync_dir(keys)) != FL_OK)
			goto sync;
	}
	if ((err = fl_files_sync_dir(r->dir)) != FL_OK)
		goto sync;
	/* What a server would check before serving it. */
	if ((err = fl_datadir_open(cfg, FL_DATADIR_KEYS, wall_now(), &dd,
	                           why)) != FL_OK)
		goto fail;
	fl_datadir_close(&dd);
	err = FL_OK;
	goto out;
sync:
	fl_datadir_say(why, "cannot sync %s: %s", r->dir, strerror(errno));
fail:
	undo(r);
out:
	if (r->locked)
		close(r->lock_fd);
	free(r);
	close(in.fd);
	return err;
}
