/*
 * dev_files.h - the file primitives the simulated phone is built on.
 *
 * The simulator keeps a phone's partitions as plain files. What must
 * survive a power cut (the persistent partition, the keystore, user data)
 * is written to a temporary file in the same directory, fsync'd, renamed
 * over the old one, and the directory fsync'd, so after a crash a name
 * holds either its old bytes or its new bytes. Records that only describe
 * the running phone (the status snapshot) use the same rename but skip the
 * fsyncs.
 *
 * Names of blobs and records are checked before they become file names:
 * 1..DEV_NAME_MAX characters of [A-Za-z0-9._-], not starting with a dot
 * (temporary files start with one), so no name can leave its directory.
 *
 * Every function returns fl_err: FL_E_IO for a failed system call (errno
 * is left as the call set it), FL_E_NOT_FOUND for a file that does not
 * exist, FL_E_TOO_LARGE past a cap.
 *
 * THREAD SAFETY: no shared state; the phone's lock (dev_phone.h) serialises
 * writers between processes.
 */
#ifndef FL_DEV_FILES_H
#define FL_DEV_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define DEV_NAME_MAX 64         /* longest blob or record name */
#define DEV_BLOB_MAX (1u << 20) /* largest blob a partition holds */
#define DEV_PATH_MAX 4096       /* longest path built from a phone dir */

/* FL_OK if name is a safe file name (see above), FL_E_INVALID if not. */
fl_err dev_name_check(const char *name) FL_MUST_USE;

/* "<dir>/<name>" into out[DEV_PATH_MAX]; FL_E_TOO_LARGE if it does not
 * fit. */
fl_err dev_path(char out[DEV_PATH_MAX], const char *dir,
                const char *name) FL_MUST_USE;

/* Replaces dir/name with data[len] through a temporary file and a rename.
 * durable: fsync the file before the rename and the directory after it.
 * mode: the new file's permission bits (set exactly, whatever the umask). */
fl_err dev_file_write(const char *dir, const char *name, const void *data,
                      size_t len, unsigned mode, bool durable) FL_MUST_USE;

/* Reads dir/name into buf[cap]; *len receives the file's size. A file
 * bigger than cap is FL_E_TOO_LARGE (with *len set to its size). */
fl_err dev_file_read(const char *dir, const char *name, uint8_t *buf,
                     size_t cap, size_t *len) FL_MUST_USE;

/* Reads dir/name whole into *out (malloc'd, NUL-terminated; caller frees)
 * of at most cap bytes. On error *out is NULL. */
fl_err dev_file_slurp(const char *dir, const char *name, size_t cap, char **out,
                      size_t *len) FL_MUST_USE;

/* Removes dir/name; FL_OK if it did not exist. durable: fsync dir. */
fl_err dev_file_remove(const char *dir, const char *name,
                       bool durable) FL_MUST_USE;

/* Removes every regular file in dir (not dir itself) and fsyncs dir. A
 * missing dir is FL_OK. */
fl_err dev_dir_wipe(const char *dir) FL_MUST_USE;

/* mkdir dir with mode 0700 (FL_OK if it is already a directory). */
fl_err dev_dir_make(const char *dir) FL_MUST_USE;

/* mkdir -p: dir and its missing parents, each with mode 0700. */
fl_err dev_dir_make_all(const char *dir) FL_MUST_USE;

/* fsyncs the directory dir. */
fl_err dev_dir_sync(const char *dir) FL_MUST_USE;

#endif
