/* store_faulty.c - RETRY and UNAVAILABLE injected into a store. */
#include "support/store_faulty.h"

#include <stdatomic.h>

#include "store/store_int.h"

static struct fl_store_ops ops;           /* the wrapped table */
static const struct fl_store_ops *inner; /* the store's own */
static atomic_int fail_commits, fail_locks, commits, begins;
static atomic_bool unavailable;

static fl_err w_begin(struct fl_store *st, bool write, struct fl_tx **tx)
{
	fl_err err;

	atomic_fetch_add(&begins, 1);
	if (atomic_load(&unavailable))
		return FL_E_STORE_UNAVAILABLE;
	err = inner->begin(st, write, tx);
	if (err == FL_OK)
		((struct fl_tx_base *)(void *)*tx)->ops = &ops;
	return err;
}

static fl_err w_commit(struct fl_tx *tx)
{
	atomic_fetch_add(&commits, 1);
	if (atomic_fetch_sub(&fail_commits, 1) > 0) {
		inner->rollback(tx);
		return FL_E_STORE_RETRY;
	}
	atomic_store(&fail_commits, 0);
	return inner->commit(tx);
}

static fl_err w_lock_device(struct fl_tx *tx, const char *id)
{
	if (atomic_fetch_sub(&fail_locks, 1) > 0)
		return FL_E_STORE_RETRY;
	atomic_store(&fail_locks, 0);
	return inner->lock_device(tx, id);
}

void fl_faulty_wrap(struct fl_store *st)
{
	struct fl_store_base *b = (struct fl_store_base *)(void *)st;

	inner = b->ops;
	ops = *inner;
	ops.begin = w_begin;
	ops.commit = w_commit;
	ops.lock_device = w_lock_device;
	b->ops = &ops;
}

void fl_faulty_fail_commits(int n)
{
	atomic_store(&fail_commits, n);
}

void fl_faulty_fail_locks(int n)
{
	atomic_store(&fail_locks, n);
}

void fl_faulty_unavailable(bool on)
{
	atomic_store(&unavailable, on);
}

int fl_faulty_commits(void)
{
	return atomic_load(&commits);
}

int fl_faulty_begins(void)
{
	return atomic_load(&begins);
}
