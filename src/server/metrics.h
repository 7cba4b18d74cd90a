/*
 * metrics.h - finlockd's counters, served as Prometheus text on /metrics.
 *
 * Requests are counted by route pattern (not by concrete path, so ids never
 * become label values), method and status, with a latency histogram per
 * route. Lock and unlock transitions are counted as they are decided.
 * Device counts by state are read from the store when /metrics is scraped.
 *
 * THREAD SAFETY: every function is safe from any thread.
 */
#ifndef FL_SERVER_METRICS_H
#define FL_SERVER_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct fl_metrics;

fl_err fl_metrics_new(struct fl_metrics **out) FL_MUST_USE;
void fl_metrics_free(struct fl_metrics *m);

/* Counts one answered request. route is the pattern ("unmatched" when none
 * matched); it must be a string that lives as long as m (route tables are
 * static). seconds is the time from the first byte to the answer. */
void fl_metrics_request(struct fl_metrics *m, const char *method,
                        const char *route, int status, double seconds);

/* Counts decided transitions into and out of the locked state. */
void fl_metrics_lock(struct fl_metrics *m);
void fl_metrics_unlock(struct fl_metrics *m);
/* Counts public IMEI checks refused by the rate limiter. */
void fl_metrics_ratelimited(struct fl_metrics *m);

/* Appends the Prometheus exposition of every counter to a malloc'd buffer:
 * *text (caller frees) and *len. extra (may be NULL) is appended as is. */
fl_err fl_metrics_render(struct fl_metrics *m, const char *extra, char **text,
                         size_t *len) FL_MUST_USE;

#endif
