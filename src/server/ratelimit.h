/*
 * ratelimit.h - token buckets per client network and for everyone.
 *
 * The public endpoints (IMEI check, status certificate, the device
 * protocol's lookup) answer anyone, so each client gets a bucket of
 * `burst` tokens refilled at `rate` per second, keyed by its IPv4 address
 * or its IPv6 /64 (one customer line), and all clients together draw from
 * a global bucket. A request takes one token from both or is refused.
 *
 * Memory is fixed at creation: a table of `capacity` client buckets. When a
 * new client finds its neighbourhood of the table full, the bucket touched
 * longest ago is reused (a client that stops for a while starts full again,
 * which only ever favours it).
 *
 * THREAD SAFETY: fl_ratelimit_take may run from any number of threads.
 */
#ifndef FL_SERVER_RATELIMIT_H
#define FL_SERVER_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"

struct fl_ratelimit;

fl_err fl_ratelimit_new(struct fl_ratelimit **out, double rate, int burst,
                        double global_rate, int global_burst,
                        int capacity) FL_MUST_USE;
void fl_ratelimit_free(struct fl_ratelimit *rl);

/* Takes a token for client (16 bytes, as fl_req.client_net) at `now`
 * (seconds on a monotonic clock). true if allowed; otherwise false and
 * *retry_after (may be NULL) receives whole seconds to wait (>= 1). */
bool fl_ratelimit_take(struct fl_ratelimit *rl, const uint8_t client[16],
                       double now, int *retry_after);

/* Seconds on the monotonic clock, for fl_ratelimit_take. */
double fl_ratelimit_clock(void);

#endif
