/*
 * ttime.h - the phone's trusted time (DESIGN.md "The device protocol").
 *
 * Trusted time is the newest server time the agent verified (a token's iat,
 * the time in a signed enrollment or lookup answer, the time in a check-in
 * answer whose MAC checked) plus the monotonic time elapsed since. The
 * anchor (base, mono, boot) is persisted often; after a reboot the monotonic
 * clock restarts, so trusted time continues from the last anchor persisted
 * (time spent powered off is not counted, and nothing ever moves trusted
 * time back). The agent acts on fl_ttime_effective: the later of trusted time
 * and the wall clock, so a clock set back or a reboot never postpones a
 * lock, and a clock set forward locks early only while it stays forward.
 *
 * THREAD SAFETY: pure; the caller serialises use of one struct.
 */
#ifndef FL_AGENT_TTIME_H
#define FL_AGENT_TTIME_H

#include <stdbool.h>
#include <stdint.h>

#include "core/fltime.h"

struct fl_ttime {
	bool known;    /* a server time was ever verified */
	fl_time base;  /* trusted time at `mono` ms on boot `boot` */
	uint64_t mono; /* monotonic milliseconds at base */
	uint64_t boot; /* boot id of mono */
};

/* Trusted time now, given the monotonic clock (ms, boot id). 0 when never
 * known. On another boot than the anchor's, the anchor's base. */
fl_time fl_ttime_now(const struct fl_ttime *t, uint64_t mono, uint64_t boot);

/* Moves the anchor to now (same trusted time, fresh monotonic reference).
 * Called after a reboot and before persisting, so the persisted base is
 * never older than it must be. */
void fl_ttime_rebase(struct fl_ttime *t, uint64_t mono, uint64_t boot);

/* A verified server time: trusted time becomes the later of itself and
 * server. Returns true if it moved. */
bool fl_ttime_learn(struct fl_ttime *t, fl_time server, uint64_t mono,
                    uint64_t boot);

/* True when the persisted anchor is more than `every` seconds behind now or
 * belongs to another boot: time to rebase and persist. */
bool fl_ttime_stale(const struct fl_ttime *t, uint64_t mono, uint64_t boot,
                    int64_t every);

/* What locks act on: max(trusted, wall), trusted alone when wall is 0. */
fl_time fl_ttime_effective(fl_time trusted, fl_time wall);

#endif
