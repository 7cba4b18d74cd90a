/*
 * backup.h - one file that holds everything a data directory needs, and
 * a data directory rebuilt from it.
 *
 *   finlockd --data DIR backup FILE     (the server may be running)
 *   finlockd --data NEWDIR restore FILE
 *
 * A backup holds the database as of one instant (fl_store_snapshot: the
 * server goes on serving and writing while it is taken), the secrets
 * (server.secret, kx.secret), the signing keys (keys.json, keys/KID.k4secret,
 * dev-root.k4secret when there is one) and the exported audit heads
 * (audit-heads.jsonl). The heads are copied before the database and the
 * keys after it, so the copy's heads never name an entry, and its database
 * never names a key, that the copy lacks. The file is written mode 0600
 * under a temporary name, fsync'd and renamed into place: FILE is
 * complete or absent. It holds the secrets: keep it as safe as the data
 * directory.
 *
 * Format (all integers big-endian):
 *
 *   "finlock-backup 1\n"
 *   per file:  'F' u32 name_len, name, u64 size, size bytes
 *   end:       'E' BLAKE2b-256 of every byte before the 'E'
 *
 * Restore refuses a target that exists and is not empty, takes its lock
 * while it works, refuses unknown names, a wrong hash or a missing part,
 * and then opens the result as finlockd would (quick check, the secrets'
 * fingerprint, the signing keys). On any failure it removes what it
 * wrote.
 *
 * THREAD SAFETY: called once, from main.
 */
#ifndef FL_SERVER_BACKUP_H
#define FL_SERVER_BACKUP_H

#include <stdint.h>

#include "core/err.h"
#include "server/config.h"
#include "server/datadir.h"

struct fl_backup_summary {
	uint64_t bytes;    /* size of the backup file */
	uint64_t db_bytes; /* size of the database copy */
	int files;         /* files in the backup */
	int signing_keys;  /* keys/<kid>.k4secret files */
};

/* Writes a backup of cfg->data_dir to path. why[] holds a one-line
 * reason on failure. */
fl_err fl_backup_write(const struct fl_config *cfg, const char *path,
                       struct fl_backup_summary *sum,
                       char why[FL_DATADIR_WHY_MAX]) FL_MUST_USE;

/* Rebuilds cfg->data_dir from the backup at path. */
fl_err fl_backup_restore(const struct fl_config *cfg, const char *path,
                         struct fl_backup_summary *sum,
                         char why[FL_DATADIR_WHY_MAX]) FL_MUST_USE;

#endif
