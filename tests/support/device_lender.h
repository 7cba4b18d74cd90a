/*
 * device_lender.h - the fake lender server of agent_fakesrv.h, served over
 * real HTTP (libmicrohttpd on 127.0.0.1, a free port), so tests can drive
 * the finlock-device binary against a server that speaks the device
 * protocol byte for byte (docs/protocol.md) while they change its state.
 *
 * The server's clock follows the system clock. A wait (long-poll) is held
 * until the device's seq changes or hold_ms passes. Tests edit the fake
 * server between devt_lender_begin and devt_lender_end (which wakes the
 * waiters), exactly as they would the in-process one.
 *
 * THREAD SAFETY: requests are served on libmicrohttpd's threads; the fake
 * server is guarded by one mutex that begin/end take and release.
 */
#ifndef FL_TEST_DEVICE_LENDER_H
#define FL_TEST_DEVICE_LENDER_H

#include "agent_fakesrv.h"
#include "core/paserk.h"

struct devt_lender;

/* Starts a lender with no phone registered. NULL on failure. */
struct devt_lender *devt_lender_start(void);
/* Stops it and frees everything. NULL-safe. */
void devt_lender_stop(struct devt_lender *l);

/* "http://127.0.0.1:PORT". */
const char *devt_lender_url(const struct devt_lender *l);
/* The operator's root public key (k4.public) a phone must trust. */
const char *devt_lender_root(const struct devt_lender *l);

/* Locks the fake server for editing (its clock set to now). */
struct fl_fakesrv *devt_lender_begin(struct devt_lender *l);
/* Unlocks it and wakes every long-poll. */
void devt_lender_end(struct devt_lender *l);

/* How long a wait is held without a change (default 5000 ms). */
void devt_lender_set_hold(struct devt_lender *l, int hold_ms);

#endif
