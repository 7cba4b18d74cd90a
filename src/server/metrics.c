/* metrics.c - request counters, latency histograms, lock counters. */
#include "server/metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS     512 /* (route, method, status) combinations tracked */
#define N_BUCKETS 14

static const double bounds[N_BUCKETS - 1] = {0.0005, 0.001, 0.0025, 0.005, 0.01,
                                             0.025,  0.05,  0.1,    0.25,  0.5,
                                             1.0,    2.5,   10.0};

static const char *const methods[] = {"GET",   "POST", "PUT",     "DELETE",
                                      "PATCH", "HEAD", "OPTIONS", "other"};

struct slot {
	const char *route;  /* static pattern, NULL if free */
	const char *method; /* one of methods[] */
	int status;
	uint64_t count;
	double sum;                 /* seconds */
	uint64_t bucket[N_BUCKETS]; /* non-cumulative; last is +Inf */
};

struct fl_metrics {
	pthread_mutex_t mu;
	struct slot slots[SLOTS];
	uint64_t dropped; /* requests that found no free slot */
	atomic_uint_fast64_t locks, unlocks, ratelimited;
};

fl_err fl_metrics_new(struct fl_metrics **out)
{
	struct fl_metrics *m = calloc(1, sizeof(*m));

	*out = NULL;
	if (m == NULL)
		return FL_E_NOMEM;
	pthread_mutex_init(&m->mu, NULL);
	*out = m;
	return FL_OK;
}

void fl_metrics_free(struct fl_metrics *m)
{
	if (m == NULL)
		return;
	pthread_mutex_destroy(&m->mu);
	free(m);
}

static const char *intern_method(const char *m)
{
	for (size_t i = 0; i + 1 < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(m, methods[i]) == 0)
			return methods[i];
	return methods[sizeof(methods) / sizeof(methods[0]) - 1];
}

void fl_metrics_request(struct fl_metrics *m, const char *method,
                        const char *route, int status, double seconds)
{
	const char *meth;
	size_t h, b;

	if (m == NULL)
		return;
	meth = intern_method(method);
	h = (((uintptr_t)route >> 3) * 31 + ((uintptr_t)meth >> 3) * 7 +
	     (size_t)status) %
	    SLOTS;
	for (b = 0; b < N_BUCKETS - 1 && seconds > bounds[b]; b++)
		;
	pthread_mutex_lock(&m->mu);
	for (size_t i = 0; i < SLOTS; i++) {
		struct slot *s = &m->slots[(h + i) % SLOTS];

		if (s->route == NULL) {
			s->route = route;
			s->method = meth;
			s->status = status;
		}
		if (s->route == route && s->method == meth &&
		    s->status == status) {
			s->count++;
			s->sum += seconds;
			s->bucket[b]++;
			pthread_mutex_unlock(&m->mu);
			return;
		}
	}
	m->dropped++;
	pthread_mutex_unlock(&m->mu);
}

void fl_metrics_lock(struct fl_metrics *m)
{
	if (m != NULL)
		atomic_fetch_add(&m->locks, 1);
}

void fl_metrics_unlock(struct fl_metrics *m)
{
	if (m != NULL)
		atomic_fetch_add(&m->unlocks, 1);
}

void fl_metrics_ratelimited(struct fl_metrics *m)
{
	if (m != NULL)
		atomic_fetch_add(&m->ratelimited, 1);
}

struct out {
	char *buf;
	size_t len, cap;
	bool failed;
};

__attribute__((format(printf, 2, 3))) static void emit(struct out *o,
                                                       const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			o->failed = true;
			return;
		}
		if ((size_t)n < o->cap - o->len) {
			o->len += (size_t)n;
			return;
		}
		char *nb = realloc(o->buf, o->cap * 2 + (size_t)n);
		if (nb == NULL) {
			o->failed = true;
			return;
		}
		o->buf = nb;
		o->cap = o->cap * 2 + (size_t)n;
	}
}

fl_err fl_metrics_render(struct fl_metrics *m, const char *extra, char **text,
                         size_t *len)
{
	struct out o = {0};
	struct slot *copy = NULL;
	uint64_t dropped;

	*text = NULL;
	*len = 0;
	copy = malloc(sizeof(m->slots));
	o.cap = 16384;
	o.buf = malloc(o.cap);
	if (copy == NULL || o.buf == NULL) {
		free(copy);
		free(o.buf);
		return FL_E_NOMEM;
	}
	o.buf[0] = '\0';
	pthread_mutex_lock(&m->mu);
	memcpy(copy, m->slots, sizeof(m->slots));
	dropped = m->dropped;
	pthread_mutex_unlock(&m->mu);

	emit(&o, "# HELP finlockd_http_requests_total HTTP requests answered, "
	         "by route pattern, method and status.\n"
	         "# TYPE finlockd_http_requests_total counter\n");
	for (size_t i = 0; i < SLOTS; i++)
		if (copy[i].route != NULL)
			emit(&o,
			     "finlockd_http_requests_total{route=\"%s\","
			     "method=\"%s\",status=\"%d\"} %llu\n",
			     copy[i].route, copy[i].method, copy[i].status,
			     (unsigned long long)copy[i].count);
	emit(&o,
	     "# HELP finlockd_http_requests_untracked_total Requests not "
	     "broken down because the label table was full.\n"
	     "# TYPE finlockd_http_requests_untracked_total counter\n"
	     "finlockd_http_requests_untracked_total %llu\n",
	     (unsigned long long)dropped);

	emit(&o, "# HELP finlockd_http_request_duration_seconds Time from the "
	         "first byte of a request to its answer.\n"
	         "# TYPE finlockd_http_request_duration_seconds histogram\n");
	/* Group the slots by (route, method): merge statuses. */
	for (size_t i = 0; i < SLOTS; i++) {
		uint64_t bucket[N_BUCKETS] = {0}, count = 0, cum = 0;
		double sum = 0;

		if (copy[i].route == NULL)
			continue;
		for (size_t k = i; k < SLOTS; k++) {
			if (copy[k].route != copy[i].route ||
			    copy[k].method != copy[i].method)
				continue;
			for (size_t b = 0; b < N_BUCKETS; b++)
				bucket[b] += copy[k].bucket[b];
			count += copy[k].count;
			sum += copy[k].sum;
			if (k != i)
				copy[k].route = NULL;
		}
		for (size_t b = 0; b < N_BUCKETS; b++) {
			cum += bucket[b];
			if (b + 1 < N_BUCKETS)
				emit(&o,
				     "finlockd_http_request_duration_seconds_"
				     "bucket{route=\"%s\",method=\"%s\","
				     "le=\"%g\"} %llu\n",
				     copy[i].route, copy[i].method, bounds[b],
				     (unsigned long long)cum);
			else
				emit(&o,
				     "finlockd_http_request_duration_seconds_"
				     "bucket{route=\"%s\",method=\"%s\","
				     "le=\"+Inf\"} %llu\n",
				     copy[i].route, copy[i].method,
				     (unsigned long long)cum);
		}
		emit(&o,
		     "finlockd_http_request_duration_seconds_sum{route=\"%s\","
		     "method=\"%s\"} %.6f\n"
		     "finlockd_http_request_duration_seconds_count{route="
		     "\"%s\",method=\"%s\"} %llu\n",
		     copy[i].route, copy[i].method, sum, copy[i].route,
		     copy[i].method, (unsigned long long)count);
	}
	emit(&o,
	     "# HELP finlockd_device_locks_total Transitions into the locked "
	     "state.\n# TYPE finlockd_device_locks_total counter\n"
	     "finlockd_device_locks_total %llu\n"
	     "# HELP finlockd_device_unlocks_total Transitions out of the "
	     "locked state.\n# TYPE finlockd_device_unlocks_total counter\n"
	     "finlockd_device_unlocks_total %llu\n"
	     "# HELP finlockd_public_ratelimited_total Public IMEI checks "
	     "refused by the rate limiter.\n"
	     "# TYPE finlockd_public_ratelimited_total counter\n"
	     "finlockd_public_ratelimited_total %llu\n",
	     (unsigned long long)atomic_load(&m->locks),
	     (unsigned long long)atomic_load(&m->unlocks),
	     (unsigned long long)atomic_load(&m->ratelimited));
	if (extra != NULL)
		emit(&o, "%s", extra);
	free(copy);
	if (o.failed) {
		free(o.buf);
		return FL_E_NOMEM;
	}
	*text = o.buf;
	*len = o.len;
	return FL_OK;
}
