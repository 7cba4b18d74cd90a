/*
 * datadir.h - opening finlockd's data directory only when it can be
 * trusted.
 *
 * A data directory holds the database, the secrets (server.secret,
 * kx.secret), the signing keys (keys.json, keys/) and the exported audit
 * heads (audit-heads.jsonl). Each of them is useless, or dangerous, without
 * the others: a database started with other secrets refuses every API key
 * and every phone; secrets beside an empty database would serve a brand-new
 * server where an old one stood. fl_datadir_open() therefore refuses, with
 * one line saying what is wrong and what to do:
 *
 *   - a directory another finlockd serves (an exclusive flock on
 *     finlockd.lock, held until fl_datadir_close);
 *   - a used directory (server.secret, kx.secret or audit-heads.jsonl
 *     present: a server ran there) whose database is missing or empty,
 *     unless FL_DATADIR_ALLOW_FRESH;
 *   - a database whose WAL was deleted after an unclean stop (store.h
 *     "Lost WAL"), unless FL_DATADIR_ACCEPT_WAL_LOSS;
 *   - a database that fails the backend's quick check (fl_store_check);
 *   - secret files that are missing, damaged or not the ones the database
 *     was made with (fl_store_keys_fingerprint);
 *   - a signing-key manifest that is missing or damaged, or lacks the key
 *     that signed an audit head the database keeps.
 *
 * Only the server (FL_DATADIR_SERVE) creates: everything on the first
 * start in an empty directory. A database made before fingerprints were
 * kept gets one recorded at its first start.
 *
 * THREAD SAFETY: called from main's thread before any other thread starts.
 */
#ifndef FL_SERVER_DATADIR_H
#define FL_SERVER_DATADIR_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"
#include "core/fltime.h"
#include "server/config.h"
#include "server/secrets.h"

#define FL_DATADIR_WHY_MAX 1024 /* a refusal's one line */

/* What fl_datadir_open may do. */
enum {
	FL_DATADIR_SERVE = 1 << 0,       /* lock; create on the first start */
	FL_DATADIR_ALLOW_FRESH = 1 << 1, /* new database in a used dir */
	FL_DATADIR_ACCEPT_WAL_LOSS = 1 << 2,  /* serve without a lost WAL */
	FL_DATADIR_KEYS = 1 << 3,             /* open the signing keys too */
	FL_DATADIR_SKIP_QUICK_CHECK = 1 << 4, /* the caller checks fully */
};

struct fl_signkeys;
struct fl_store;

struct fl_datadir {
	int lock_fd;               /* finlockd.lock while locked */
	bool locked;               /* lock_fd holds the lock */
	struct fl_store *store;    /* the database */
	struct fl_secrets secrets; /* hash keys, key exchange */
	struct fl_signkeys *keys;  /* with FL_DATADIR_KEYS, else NULL */
	bool first_start;          /* the database was created now */
};

/* Opens cfg->data_dir as flags allow. On failure why[] holds the one-line
 * refusal and everything opened is closed again. The store is opened with
 * cfg's pool and cache settings. */
fl_err fl_datadir_open(const struct fl_config *cfg, unsigned flags, fl_time now,
                       struct fl_datadir *out,
                       char why[FL_DATADIR_WHY_MAX]) FL_MUST_USE;

/* Closes the store, frees the keys, wipes the secrets and releases the
 * lock. Safe on a zeroed or already closed struct. */
void fl_datadir_close(struct fl_datadir *d);

/* Takes the exclusive lock of dir (dir/finlockd.lock, which records the
 * holder's pid). FL_E_CONFLICT with why[] naming the holder when another
 * process has it. */
fl_err fl_datadir_lock(const char *dir, int *fd,
                       char why[FL_DATADIR_WHY_MAX]) FL_MUST_USE;

/* Writes a one-line reason into why[FL_DATADIR_WHY_MAX] (long paths are
 * cut). */
void fl_datadir_say(char *why, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/* The PostgreSQL URI uri as it may be shown (in logs and refusals): the
 * password and any parameters left out. */
void fl_datadir_db_name(const char *uri, char *out, size_t cap);

/* True when dir holds any of the files a server's first start leaves
 * behind (its secrets, exported audit heads); signing keys alone may come
 * from a key ceremony before that start. */
bool fl_datadir_used(const char *dir);

#endif
