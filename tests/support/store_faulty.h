/*
 * store_faulty.h - a test-only fault injector over an open store: the next
 * N commits (or device locks) fail with FL_E_STORE_RETRY, as PostgreSQL
 * answers a transaction it gave up to break a conflict, or every begin
 * answers FL_E_STORE_UNAVAILABLE, as when the database is away. Everything
 * else goes to the store unchanged.
 *
 * It works by pointing the store's (and each transaction's) table of
 * operations (src/store/store_int.h) at a copy with those entries
 * replaced, so one store at a time per process is wrapped.
 *
 * THREAD SAFETY: the counters are atomic; wrap before sharing the store.
 */
#ifndef FL_TEST_STORE_FAULTY_H
#define FL_TEST_STORE_FAULTY_H

#include <stdbool.h>

#include "store/store.h"

/* Wraps st (once per process). */
void fl_faulty_wrap(struct fl_store *st);
/* The next n commits roll back and answer FL_E_STORE_RETRY. */
void fl_faulty_fail_commits(int n);
/* The next n fl_store_lock_device calls answer FL_E_STORE_RETRY. */
void fl_faulty_fail_locks(int n);
/* While on, fl_store_begin answers FL_E_STORE_UNAVAILABLE. */
void fl_faulty_unavailable(bool on);
/* Commits (successful or failed) and begins seen since wrapping. */
int fl_faulty_commits(void);
int fl_faulty_begins(void);

#endif
