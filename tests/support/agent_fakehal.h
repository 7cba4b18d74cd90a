/*
 * agent_fakehal.h - a fake phone platform for driving the device agent in
 * tests (and in the simulator's tests): partitions and keystore in memory,
 * clocks the test moves, a record of what was enforced and shown, and a
 * transport that hands each request to a function the test installs (a fake
 * server, an interceptor, or nothing: no network).
 *
 * The secure hardware is the simulator's trusted application
 * (device/dev_tee.h) kept in memory: a factory key made by fl_fakehal_new,
 * the monotonic counter, the agent's keys.
 *
 * Fault injection: cut_after >= 0 makes the next persistent-partition write
 * store only its first cut_after bytes and then "crash": the write returns
 * FL_E_IO and every later write fails too, as if the power went out, until
 * the test calls fl_fakehal_power_on (a reboot). cut_skip lets that many
 * writes through whole before the cut one. cut_mode chooses whether
 * the cut write truncates the blob or overwrites it in place.
 *
 * The struct is public so tests can set and read fields directly.
 *
 * THREAD SAFETY: none; one test thread.
 */
#ifndef AGENT_FAKEHAL_H
#define AGENT_FAKEHAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "device/dev_tee.h"
#include "finlock/agent.h"

#define FH_BLOBS 16
#define FH_TEXTS 64

struct fh_blob {
	char name[64];
	uint8_t *data; /* owned */
	size_t len;
	bool used;
};

typedef fl_err (*fh_server_fn)(void *ctx, const struct fl_hal_request *req,
                               struct fl_hal_response *resp);

enum fh_cut_mode {
	FH_CUT_TRUNCATE = 0, /* the blob becomes the first N bytes */
	FH_CUT_OVERWRITE,    /* the first N bytes replace the old ones */
};

struct fl_fakehal {
	/* partitions and keystore */
	struct fh_blob persist[FH_BLOBS];
	struct fh_blob userdata[FH_BLOBS];
	struct dev_tee tee;    /* the secure hardware */
	bool tee_fail;         /* every secure-hardware write fails */
	bool counter_fail;     /* raising the counter fails (the power goes
	                        * after the state is written, before it moves) */
	size_t counter_raises; /* counter raises that went through */
	long tee_cut;          /* >= 0: that many secure-hardware writes go
	                        * through, then the power goes (-1: off) */
	long cut_after;        /* -1: writes complete */
	long cut_skip;         /* complete writes before the cut */
	enum fh_cut_mode cut_mode;
	bool crashed;          /* a cut happened: writes fail */
	size_t persist_writes; /* completed persistent writes */
	bool fail_reads;       /* persist_read returns FL_E_IO */

	/* identity and signals */
	struct fl_hal_device dev;
	char iccid[FL_HAL_ICCID_MAX + 1];
	uint32_t tamper;

	/* clocks */
	fl_time wall;     /* user-settable clock */
	uint64_t mono_ms; /* monotonic since boot */
	uint64_t boot_id;

	/* enforcement, as last applied / shown */
	uint64_t applied_mask;
	uint32_t applied_guaranteed;
	size_t applied_n_apps;
	size_t applied_n_phones;
	size_t n_apply;                /* apply calls */
	struct fl_agent_screen screen; /* last shown */
	size_t n_show;
	char *reminders[FH_TEXTS]; /* owned */
	size_t n_reminders;
	char *notices[FH_TEXTS]; /* owned */
	size_t n_notices;

	/* transport */
	fh_server_fn server; /* NULL: no network */
	void *server_ctx;
	bool offline; /* every request fails with FL_E_NET */
	size_t n_requests;
	char last_path[256];
	char last_method[8];
};

/* A fresh platform: two valid IMEIs, serial "SN-TEST-1", a SIM, wall clock
 * 2026-11-23T12:00:00Z, boot id 1. Free with fl_fakehal_free. */
struct fl_fakehal *fl_fakehal_new(void);
void fl_fakehal_free(struct fl_fakehal *fh);

/* Fills hal with this platform's callbacks. */
void fl_fakehal_hal(struct fl_fakehal *fh, struct fl_hal *hal);

/* Time passes: wall and monotonic both advance by secs. */
void fl_fakehal_advance(struct fl_fakehal *fh, int64_t secs);
/* A reboot: new boot id, monotonic from zero, crash state cleared. */
void fl_fakehal_power_on(struct fl_fakehal *fh);
/* Factory reset: user data wiped (the persistent partition and keystore
 * survive), enforcement record cleared, then a reboot. */
void fl_fakehal_factory_reset(struct fl_fakehal *fh);
/* Reflash: everything wiped (persistent partition, the agent's keys in the
 * secure hardware, user data), then a reboot. The factory key and the
 * monotonic counter stay. */
void fl_fakehal_reflash(struct fl_fakehal *fh);

/* The blob or NULL (borrowed). */
const struct fh_blob *fl_fakehal_blob(const struct fl_fakehal *fh,
                                      const char *name);
/* Replaces a persistent blob (for tests that corrupt or roll back state). */
int fl_fakehal_blob_set(struct fl_fakehal *fh, const char *name,
                        const uint8_t *data, size_t len);

/* A response body the HAL returns: copies s into a malloc'd body. */
fl_err fl_fakehal_respond(struct fl_hal_response *resp, int status,
                          const char *body);

#endif
