/* datadir.c - the data directory's lock and the checks before serving. */
#include "server/datadir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/crypto.h"
#include "core/token.h"
#include "server/audit.h"
#include "server/files.h"
#include "server/log.h"
#include "server/signkeys.h"
#include "store/store.h"

/* The files whose presence says a server has served from the directory.
 * Not keys.json: a production key ceremony (`finlockd keys ...`,
 * `root-pubkey`) makes the signing keys before the first start. */
static const char *const used_marks[] = {
        "server.secret",
        "kx.secret",
        "audit-heads.jsonl",
};

void fl_datadir_say(char *why, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, FL_DATADIR_WHY_MAX, fmt, ap);
	va_end(ap);
}

bool fl_datadir_used(const char *dir)
{
	char path[FL_CONFIG_PATH_MAX + 32];

	for (size_t i = 0; i < sizeof(used_marks) / sizeof(used_marks[0]); i++)
		if (fl_files_join(path, sizeof(path), dir, used_marks[i]) ==
		            FL_OK &&
		    fl_files_exists(path))
			return true;
	return false;
}

fl_err fl_datadir_lock(const char *dir, int *fd, char why[FL_DATADIR_WHY_MAX])
{
	char path[FL_CONFIG_PATH_MAX + 32], pid[32];
	fl_err err;
	int f, n;

	*fd = -1;
	why[0] = '\0';
	if ((err = fl_files_join(path, sizeof(path), dir, "finlockd.lock")) !=
	    FL_OK)
		return err;
	f = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (f < 0) {
		fl_datadir_say(
		        why,
		        "cannot open %s: %s; check the directory's owner and "
		        "permissions",
		        path, strerror(errno));
		return FL_E_IO;
	}
	if (flock(f, LOCK_EX | LOCK_NB) != 0) {
		ssize_t r = errno == EWOULDBLOCK
		                    ? pread(f, pid, sizeof(pid) - 1, 0)
		                    : -1;

		pid[r > 0 ? r : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		fl_datadir_say(
		        why,
		        "%s is in use by another finlockd (pid %s); stop it "
		        "first, or give this one another --data directory",
		        dir, pid[0] != '\0' ? pid : "unknown");
		close(f);
		return FL_E_CONFLICT;
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(f, 0) != 0 || pwrite(f, pid, (size_t)n, 0) != n) {
		/* The pid is for the message only; the lock is what counts. */
		fl_logf(FL_LOG_WARN, "cannot record the pid in the lock file",
		        "%s", path);
	}
	*fd = f;
	return FL_OK;
}

/* The one line for a store that did not open. */
static void why_store(char *why, const char *dir, bool used, fl_err err)
{
	if (err == FL_E_STORE_MISSING && !used) {
		fl_datadir_say(why,
		               "%s holds no database yet: start finlockd on it "
		               "once first",
		               dir);
		return;
	}
	switch (err) {
	case FL_E_STORE_MISSING:
		fl_datadir_say(
		        why,
		        "%s/finlock.db is missing or empty, but %s holds the "
		        "secrets of a server that ran there: restore the "
		        "database (finlockd restore), or start a new, empty "
		        "one beside those secrets with --allow-fresh-database",
		        dir, dir);
		break;
	case FL_E_STORE_WAL_LOST:
		fl_datadir_say(
		        why,
		        "%s/finlock.db-wal is missing after finlockd stopped "
		        "without closing the database, so its last "
		        "transactions are gone: put the file back or restore a "
		        "backup; to serve what the database still holds, start "
		        "once with --accept-wal-loss",
		        dir);
		break;
	case FL_E_CORRUPT:
		fl_datadir_say(
		        why,
		        "%s/finlock.db is not a readable database: restore it "
		        "from a backup (finlockd restore)",
		        dir);
		break;
	case FL_E_STORE_SCHEMA:
		fl_datadir_say(
		        why,
		        "%s/finlock.db was written by a newer finlockd: run "
		        "that version (or newer)",
		        dir);
		break;
	default:
		fl_datadir_say(why,
		               "cannot open %s/finlock.db: %s; check the "
		               "file's owner, "
		               "permissions and free space",
		               dir, fl_strerror(err));
		break;
	}
}

void fl_datadir_db_name(const char *uri, char *out, size_t cap)
{
	const char *scheme = strstr(uri, "://");
	const char *at, *colon, *end;

	if (scheme == NULL) {
		snprintf(out, cap, "the PostgreSQL database");
		return;
	}
	scheme += 3;
	end = scheme + strcspn(scheme, "?#");
	at = memchr(scheme, '@', (size_t)(end - scheme));
	colon = at != NULL ? memchr(scheme, ':', (size_t)(at - scheme)) : NULL;
	if (colon != NULL) /* user:password@ : the password is left out */
		snprintf(out, cap, "%.*s%.*s", (int)(colon - uri), uri,
		         (int)(end - at), at);
	else
		snprintf(out, cap, "%.*s", (int)(end - uri), uri);
}

/* The refusal of a PostgreSQL database that cannot be served. */
static void why_pg(char *why, const struct fl_config *cfg, bool used,
                   fl_err err)
{
	char name[512];

	fl_datadir_db_name(cfg->database, name, sizeof(name));
	switch (err) {
	case FL_E_STORE_MISSING:
		if (!used)
			fl_datadir_say(why,
			               "%s holds no finlock database yet: start "
			               "finlockd on it once first",
			               name);
		else
			fl_datadir_say(
			        why,
			        "%s holds no finlock database, but %s holds the "
			        "secrets of a server that served one: restore "
			        "the database (pg_restore from its pg_dump), or "
			        "start a new, empty one beside those secrets "
			        "with --allow-fresh-database",
			        name, cfg->data_dir);
		break;
	case FL_E_STORE_UNAVAILABLE:
		fl_datadir_say(why,
		               "cannot reach %s (%s): check that PostgreSQL "
		               "runs and accepts this user",
		               name,
		               fl_store_errmsg()[0] != '\0' ? fl_store_errmsg()
		                                             : fl_strerror(err));
		break;
	case FL_E_STORE_SCHEMA:
		fl_datadir_say(why,
		               "%s was written by a newer finlockd: run that "
		               "version (or newer)",
		               name);
		break;
	default:
		fl_datadir_say(why, "cannot use %s: %s%s%s", name,
		               fl_strerror(err),
		               fl_store_errmsg()[0] != '\0' ? ": " : "",
		               fl_store_errmsg());
		break;
	}
}

static void why_secret(char *why, const char *dir, const char *file, fl_err err,
                       bool shared)
{
	const char *what = err == FL_E_NOT_FOUND ? "is missing"
	                   : err == FL_E_PERM    ? "is readable by others"
	                   : err == FL_E_CORRUPT ? "is damaged"
	                                         : fl_strerror(err);
	const char *todo =
	        err == FL_E_PERM ? "make it mode 0600 (chmod 600)"
	        : shared ? "copy the key files (server.secret, kx.secret, "
	                   "webhook.k4secret, keys.json, keys/) from the data "
	                   "directory of a "
	                   "node that serves this database (the database "
	                   "needs the very files it was made with)"
	                 : "restore it from the backup of this "
	                   "data directory (the database needs the "
	                   "very file it was made with)";

	fl_datadir_say(why, "%s/%s %s: %s", dir,
	               file != NULL ? file : "server.secret", what, todo);
}

/* A used directory whose database was just made anew: the old audit
 * heads describe chains the new database does not have; they are kept
 * under another name. */
static fl_err set_old_heads_aside(const char *dir, fl_time now)
{
	char from[FL_CONFIG_PATH_MAX + 32], to[FL_CONFIG_PATH_MAX + 64];
	char name[64];

	snprintf(name, sizeof(name), "audit-heads.jsonl.before-%lld",
	         (long long)now);
	if (fl_files_join(from, sizeof(from), dir, "audit-heads.jsonl") !=
	            FL_OK ||
	    fl_files_join(to, sizeof(to), dir, name) != FL_OK)
		return FL_E_TOO_LARGE;
	if (!fl_files_exists(from))
		return FL_OK;
	if (rename(from, to) != 0)
		return FL_E_IO;
	fl_logf(FL_LOG_WARN, "a new database in a used data directory",
	        "the audit heads of the old database are kept in %s", to);
	return fl_files_sync_dir(dir);
}

/* Each chain's newest signed head must name a key of keys.json. */
static fl_err heads_match_keys(struct fl_store *st, struct fl_signkeys *ks,
                               const char *dir, char *why)
{
	char(*names)[FL_ID_MAX] = NULL;
	struct fl_audit_signed_head *h = NULL;
	struct fl_tx *tx = NULL;
	char kid[FL_KID_MAX];
	size_t n = 0;
	fl_err err;

	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return FL_E_NOMEM;
	if ((err = fl_store_begin(st, false, &tx)) != FL_OK)
		goto out;
	if ((err = fl_audit_chain_names(tx, &names, &n)) != FL_OK)
		goto out;
	for (size_t i = 0; i < n; i++) {
		err = fl_store_audit_head_latest(tx, names[i], h);
		if (err == FL_E_NOT_FOUND)
			continue;
		if (err != FL_OK)
			goto out;
		if (fl_msg_peek_kid(h->token, kid) != FL_OK ||
		    !fl_signkeys_has(ks, kid)) {
			fl_datadir_say(
			        why,
			        "%s/keys.json lacks the key %s that signed the "
			        "database's audit head of chain %s: put back "
			        "the keys.json and keys/ the database was used "
			        "with (from its backup)",
			        dir, kid, names[i]);
			err = FL_E_AUTH;
			goto out;
		}
	}
	err = FL_OK;
out:
	fl_tx_rollback(tx);
	free(names);
	free(h);
	return err;
}

/* Reads (or, for a database that has none, records) the keys
 * fingerprint and compares it with the secrets. *recorded tells whether
 * the database had one. */
static fl_err read_fingerprint(struct fl_store *st,
                               uint8_t fp[FL_KEYS_FINGERPRINT_LEN],
                               bool *recorded, int64_t *keys_made)
{
	struct fl_tx *tx = NULL;
	fl_err err;

	*recorded = false;
	*keys_made = 0;
	if ((err = fl_store_begin(st, false, &tx)) != FL_OK)
		return err;
	err = fl_store_keys_fingerprint(tx, fp);
	if (err == FL_OK)
		*recorded = true;
	else if (err == FL_E_NOT_FOUND)
		err = fl_store_apikey_count(tx, keys_made);
	fl_tx_rollback(tx);
	return err;
}

static fl_err record_fingerprint(struct fl_store *st,
                                 const uint8_t fp[FL_KEYS_FINGERPRINT_LEN],
                                 fl_time now)
{
	struct fl_tx *tx = NULL;
	fl_err err;

	if ((err = fl_store_begin(st, true, &tx)) != FL_OK)
		return err;
	if ((err = fl_store_keys_fingerprint_put(tx, fp, now)) != FL_OK) {
		fl_tx_rollback(tx);
		return err;
	}
	return fl_tx_commit(tx);
}

/* The backend's quick check, timed for the log (it reads the whole
 * database: docs/deploy.md gives its cost at a million devices). */
static fl_err quick_check(struct fl_store *st, char *problem)
{
	struct timespec a, b;
	fl_err err;

	clock_gettime(CLOCK_MONOTONIC, &a);
	err = fl_store_check(st, false, problem);
	clock_gettime(CLOCK_MONOTONIC, &b);
	fl_log(FL_LOG_INFO, "database quick check",
	       json_pack("{s:s,s:I}", "result",
	                 err == FL_OK ? "ok" : fl_strerror(err), "ms",
	                 (json_int_t)((b.tv_sec - a.tv_sec) * 1000 +
	                              (b.tv_nsec - a.tv_nsec) / 1000000)));
	return err;
}

fl_err fl_datadir_open(const struct fl_config *cfg, unsigned flags, fl_time now,
                       struct fl_datadir *out, char why[FL_DATADIR_WHY_MAX])
{
	const char *dir = cfg->data_dir;
	bool serve = (flags & FL_DATADIR_SERVE) != 0;
	struct fl_store_sqlite_opts opts = {
	        .pool_size = cfg->db_pool,
	        .busy_timeout_ms = 5000,
	        .cache_mb = cfg->db_cache_mb,
	        .mmap_mb = cfg->db_mmap_mb,
	        .accept_wal_loss = (flags & FL_DATADIR_ACCEPT_WAL_LOSS) != 0,
	};
	char path[FL_CONFIG_PATH_MAX + 32], problem[FL_STORE_PROBLEM_MAX];
	struct fl_store_pg_opts pg_opts = {
	        .pool_size = cfg->db_pool,
	};
	uint8_t fp[FL_KEYS_FINGERPRINT_LEN];
	bool pg = cfg->database[0] != '\0';
	bool used, recorded = false, may_make_keys;
	char dbname[FL_CONFIG_PATH_MAX + 32];
	const char *file = NULL;
	int64_t keys_made = 0;
	struct stat sb;
	fl_err err;

	memset(out, 0, sizeof(*out));
	out->lock_fd = -1;
	why[0] = '\0';
	if (serve) {
		if ((err = fl_files_mkdirs(dir, 0700)) != FL_OK) {
			fl_datadir_say(
			        why, "cannot create the data directory %s: %s",
			        dir, strerror(errno));
			goto out;
		}
		if ((err = fl_datadir_lock(dir, &out->lock_fd, why)) != FL_OK)
			goto out;
		out->locked = true;
	} else if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		fl_datadir_say(why,
		               "%s is not a data directory: give --data the "
		               "directory finlockd serves",
		               dir);
		err = FL_E_NOT_FOUND;
		goto out;
	}

	used = fl_datadir_used(dir);
	/* Only the server creates a database, and in a used directory only
	 * when told to. */
	opts.must_exist =
	        !serve || (used && (flags & FL_DATADIR_ALLOW_FRESH) == 0);
	pg_opts.must_exist = opts.must_exist;
	if (pg) {
		fl_datadir_db_name(cfg->database, dbname, sizeof(dbname));
		if ((err = fl_store_open_pg(&out->store, cfg->database,
		                            &pg_opts)) != FL_OK) {
			why_pg(why, cfg, used, err);
			goto out;
		}
	} else {
		if ((err = fl_files_join(path, sizeof(path), dir,
		                         "finlock.db")) != FL_OK)
			goto out;
		snprintf(dbname, sizeof(dbname), "%s", path);
		if ((err = fl_store_open_sqlite(&out->store, path, &opts)) !=
		    FL_OK) {
			why_store(why, dir, used, err);
			goto out;
		}
	}
	if (fl_files_sync_dir(dir) != FL_OK)
		fl_logf(FL_LOG_WARN, "cannot sync the data directory", "%s",
		        dir);
	out->first_start = fl_store_created(out->store);
	if ((flags & FL_DATADIR_SKIP_QUICK_CHECK) == 0 &&
	    (err = quick_check(out->store, problem)) != FL_OK) {
		if (pg)
			fl_datadir_say(why,
			               "%s failed its check (%s): restore it "
			               "from a backup (docs/deploy.md)",
			               dbname,
			               problem[0] != '\0' ? problem
			                                  : fl_strerror(err));
		else
			fl_datadir_say(
			        why,
			        "%s/finlock.db is damaged (%s): restore it from "
			        "a backup (finlockd restore); `finlockd --data "
			        "%s check` tells more",
			        dir,
			        problem[0] != '\0' ? problem : fl_strerror(err),
			        dir);
		goto out;
	}

	if ((err = read_fingerprint(out->store, fp, &recorded, &keys_made)) !=
	    FL_OK) {
		if (pg)
			why_pg(why, cfg, used, err);
		else
			why_store(why, dir, used, err);
		goto out;
	}
	/* Keys are made only with a database that never had any: a new one,
	 * or one whose first start stopped before its first key. */
	may_make_keys = serve && !recorded && keys_made == 0;
	if (out->first_start && used &&
	    (err = set_old_heads_aside(dir, now)) != FL_OK) {
		fl_datadir_say(why,
		               "cannot move %s/audit-heads.jsonl aside: %s",
		               dir, fl_strerror(err));
		goto out;
	}
	/* A database that has a fingerprint (or keys) was made with keys
	 * that exist somewhere: they are read, never made again. A new node
	 * of a shared PostgreSQL database whose operator has not copied them
	 * into its data directory is refused here, rather than minting an
	 * identity of its own. */
	err = may_make_keys ? fl_secrets_load(&out->secrets, dir)
	                    : fl_secrets_read(&out->secrets, dir, &file);
	if (err != FL_OK) {
		why_secret(why, dir, file, err, pg);
		goto out;
	}
	if (recorded &&
	    fl_ct_memcmp(fp, out->secrets.fingerprint, sizeof(fp)) != 0) {
		if (pg)
			fl_datadir_say(
			        why,
			        "%s/server.secret and %s/kx.secret are not the "
			        "keys %s was made with: copy the key files from "
			        "the data directory of a node that serves it",
			        dir, dir, dbname);
		else
			fl_datadir_say(
			        why,
			        "%s/server.secret and %s/kx.secret are not the "
			        "keys %s/finlock.db was made with: put back the "
			        "files from the backup of this data directory",
			        dir, dir, dir);
		err = FL_E_AUTH;
		goto out;
	}
	if (!recorded && serve) {
		if ((err = record_fingerprint(out->store,
		                              out->secrets.fingerprint, now)) !=
		    FL_OK) {
			if (pg && err == FL_E_CONFLICT)
				fl_datadir_say(
				        why,
				        "another node recorded its keys in %s "
				        "first: stop this one, copy that node's "
				        "key files into %s, and start again",
				        dbname, dir);
			else if (pg)
				why_pg(why, cfg, used, err);
			else
				why_store(why, dir, used, err);
			goto out;
		}
		if (!out->first_start)
			fl_log(FL_LOG_INFO,
			       "recorded the fingerprint of this data "
			       "directory's keys in its database",
			       NULL);
	}

	if ((flags & FL_DATADIR_KEYS) != 0) {
		if ((err = fl_files_join(path, sizeof(path), dir,
		                         "keys.json")) != FL_OK)
			goto out;
		if (!may_make_keys && !fl_files_exists(path)) {
			fl_datadir_say(
			        why,
			        "%s/keys.json is missing: restore it and keys/ "
			        "from the backup of this data directory",
			        dir);
			err = FL_E_NOT_FOUND;
			goto out;
		}
		err = fl_signkeys_open(&out->keys, dir, serve,
		                       cfg->key_cert_days, now);
		if (err != FL_OK) {
			fl_datadir_say(
			        why,
			        "the signing keys in %s (keys.json, keys/) "
			        "cannot be used (%s): restore them from the "
			        "backup of this data directory",
			        dir, fl_strerror(err));
			goto out;
		}
		if ((err = heads_match_keys(out->store, out->keys, dir, why)) !=
		    FL_OK) {
			if (why[0] == '\0')
				why_store(why, dir, used, err);
			goto out;
		}
		/* Webhooks are signed with one key whichever node sends
		 * them: a node of a database that has its identity already
		 * uses the key the others use, never one of its own. */
		if ((err = fl_files_join(path, sizeof(path), dir,
		                         "webhook.k4secret")) != FL_OK)
			goto out;
		if (pg && serve && !may_make_keys && !cfg->webhook_key_create &&
		    !fl_files_exists(path)) {
			why_secret(why, dir, "webhook.k4secret", FL_E_NOT_FOUND,
			           true);
			err = FL_E_NOT_FOUND;
			goto out;
		}
	}
	err = FL_OK;
out:
	if (err != FL_OK)
		fl_datadir_close(out);
	return err;
}

void fl_datadir_close(struct fl_datadir *d)
{
	fl_store_close(d->store);
	d->store = NULL;
	fl_signkeys_free(d->keys);
	d->keys = NULL;
	fl_secrets_wipe(&d->secrets);
	if (d->locked)
		close(d->lock_fd);
	d->locked = false;
	d->lock_fd = -1;
}
