/* run.c - the transaction runner: begin, work, commit, retry. */
#include "server/run.h"

#include <time.h>

#include "core/crypto.h"

void fl_run_backoff(int attempt)
{
	uint32_t cap_us = 1000u << (attempt < 6 ? attempt : 6);
	uint32_t us = 100 + fl_random_uniform(cap_us);
	struct timespec ts = {0, (long)us * 1000};

	nanosleep(&ts, NULL);
}

bool fl_run_unavailable(fl_err err)
{
	return err == FL_E_STORE_RETRY || err == FL_E_STORE_BUSY ||
	       err == FL_E_STORE_UNAVAILABLE;
}

fl_err fl_run(struct fl_store *st, fl_time now, unsigned flags, fl_run_fn fn,
              void *io, int *attempts)
{
	fl_err err = FL_E_STORE_RETRY;
	int n = 0;

	while (n < FL_RUN_ATTEMPTS) {
		struct fl_tx *tx = NULL;

		if (n > 0)
			fl_run_backoff(n);
		n++;
		if ((err = fl_store_begin(st, true, &tx)) != FL_OK) {
			if (err == FL_E_STORE_RETRY)
				continue;
			break;
		}
		if ((flags & FL_RUN_QUIET) != 0)
			fl_tx_quiet(tx);
		err = fn(tx, io, now);
		if (err != FL_OK) {
			fl_tx_rollback(tx);
			if (err == FL_E_STORE_RETRY)
				continue;
			break;
		}
		/* a commit that fails has rolled back and freed tx */
		err = fl_tx_commit(tx);
		if (err != FL_E_STORE_RETRY)
			break;
	}
	if (attempts != NULL)
		*attempts = n;
	return err;
}
