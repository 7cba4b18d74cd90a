/*
 * files.h - the few file operations finlockd's data directory needs.
 *
 * Secrets and keys are written atomically (temporary file, fsync, rename,
 * fsync of the directory) with the mode the caller gives, so a crash never
 * leaves a half-written key and a key file is never readable by others,
 * not even for an instant.
 *
 * THREAD SAFETY: every function is safe from any thread.
 */
#ifndef FL_SERVER_FILES_H
#define FL_SERVER_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/err.h"

/* Creates dir and its missing parents (mode for the ones it creates). */
fl_err fl_files_mkdirs(const char *dir, mode_t mode) FL_MUST_USE;

/* Writes data[len] to path atomically with the given mode. exclusive:
 * FL_E_CONFLICT if path already exists. */
fl_err fl_files_write(const char *path, const void *data, size_t len,
                      mode_t mode, bool exclusive) FL_MUST_USE;

/* Reads a whole file of at most cap bytes into buf; *len receives its
 * length. FL_E_NOT_FOUND if absent, FL_E_TOO_LARGE if longer than cap. A
 * NUL is written after the data when it fits. */
fl_err fl_files_read(const char *path, void *buf, size_t cap,
                     size_t *len) FL_MUST_USE;

/* True if path exists. */
bool fl_files_exists(const char *path);

/* fsyncs the directory dir (after creating or renaming in it). */
fl_err fl_files_sync_dir(const char *dir) FL_MUST_USE;

/* Joins dir and name into out[cap]; FL_E_TOO_LARGE if it does not fit. */
fl_err fl_files_join(char *out, size_t cap, const char *dir,
                     const char *name) FL_MUST_USE;

#endif
