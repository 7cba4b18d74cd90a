/*
 * ttime.h - the phone's trusted time (docs/threat-model.md "Trusted time").
 *
 * Trusted time is the newest server time the agent verified (a token's iat,
 * the time in a signed enrollment or lookup answer, the time in a check-in
 * answer whose MAC checked) plus the monotonic time elapsed since. The
 * anchor (base, mono, boot) is persisted often; after a reboot the monotonic
 * clock restarts, so trusted time continues from the last anchor persisted
 * plus the interval it is persisted at: a reboot counts as time passing,
 * so reboots at any rate never stop the clock. Only an authenticated,
 * fresh server answer moves trusted time back (fl_ttime_correct), and
 * never below the server's time. The agent acts on fl_ttime_effective: the
 * later of trusted time and the wall clock, so a clock set back or a reboot
 * never postpones a lock, and a clock set forward locks early only while it
 * stays forward.
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

/* A reboot: trusted time goes on from the anchor's base as if `gap`
 * seconds had passed (the interval the anchor is saved at: the phone may
 * have run that long unsaved before it went down), on the new boot. A
 * wall clock already past the base shows time passing by itself: then
 * trusted time moves up to it, never past it, so a reboot never brings an
 * honest phone's lock forward. */
void fl_ttime_reboot(struct fl_ttime *t, int64_t gap, fl_time wall,
                     uint64_t mono, uint64_t boot);

/* An authenticated answer to a request that left `took_ms` ago said the
 * server's time was `server`: real time now is at most server + took.
 * Trusted time ahead of that (reboots counted as more time than they
 * took) is brought back to it; trusted time never goes below it. */
void fl_ttime_correct(struct fl_ttime *t, fl_time server, uint64_t took_ms,
                      uint64_t mono, uint64_t boot);

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
