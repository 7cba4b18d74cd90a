/*
 * version.h - which finlock this is: its version and the commit it was
 * built from, for `--version` and the server's start-up log.
 *
 * The Makefile passes both when it compiles version.c (VERSION, and the
 * commit of the git checkout, "-dirty" when it had uncommitted changes); a
 * build outside a git checkout reports the commit "unknown" unless make is
 * given COMMIT=....
 *
 * THREAD SAFETY: constant strings, safe from any thread.
 */
#ifndef FL_CORE_VERSION_H
#define FL_CORE_VERSION_H

/* "0.1.0". */
const char *fl_version(void);
/* "3f2a9c1d0b4e", "3f2a9c1d0b4e-dirty" or "unknown". */
const char *fl_version_commit(void);
/* "PROGRAM VERSION (commit COMMIT)" into a static buffer: the line each
 * program prints for --version. */
const char *fl_version_line(const char *program);

#endif
