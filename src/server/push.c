/* push.c - parked long-poll requests, publish marks per bucket. */
#include "server/push.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "server/http.h"
#include "store/store.h"

#define BUCKETS 4096 /* publish marks */

struct waiter {
	struct fl_req *req; /* NULL when the slot is free */
	char device_id[FL_ID_MAX];
	fl_time deadline;
};

struct fl_push {
	pthread_mutex_t mu;
	uint64_t marks[BUCKETS]; /* publishes per bucket */
	struct waiter *w;
	int cap, n;
	bool closing; /* shutting down: park nothing */
};

fl_err fl_push_new(struct fl_push **out, int max_waiters)
{
	struct fl_push *p;

	*out = NULL;
	if (max_waiters < 1)
		return FL_E_INVALID;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return FL_E_NOMEM;
	p->w = calloc((size_t)max_waiters, sizeof(*p->w));
	if (p->w == NULL) {
		free(p);
		return FL_E_NOMEM;
	}
	p->cap = max_waiters;
	pthread_mutex_init(&p->mu, NULL);
	*out = p;
	return FL_OK;
}

void fl_push_free(struct fl_push *p)
{
	if (p == NULL)
		return;
	pthread_mutex_destroy(&p->mu);
	free(p->w);
	free(p);
}

static size_t bucket_of(const char *id)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *id != '\0'; id++)
		h = (h ^ (uint8_t)*id) * 1099511628211ULL;
	return (size_t)(h % BUCKETS);
}

uint64_t fl_push_mark(struct fl_push *p, const char *device_id)
{
	uint64_t m;

	pthread_mutex_lock(&p->mu);
	m = p->marks[bucket_of(device_id)];
	pthread_mutex_unlock(&p->mu);
	return m;
}

fl_err fl_push_wait(struct fl_push *p, struct fl_req *req,
                    const char *device_id, uint64_t mark, fl_time deadline)
{
	fl_err err = FL_OK;
	int slot = -1;

	if (strlen(device_id) >= FL_ID_MAX)
		return FL_E_INVALID;
	pthread_mutex_lock(&p->mu);
	if (p->closing || p->marks[bucket_of(device_id)] != mark) {
		err = FL_E_STATE;
		goto out;
	}
	for (int i = 0; i < p->cap && slot < 0; i++)
		if (p->w[i].req == NULL)
			slot = i;
	if (slot < 0) {
		err = FL_E_LIMIT;
		goto out;
	}
	/* Suspended under the lock, so no publisher can resume it before
	 * it is suspended. */
	fl_http_suspend(req);
	p->w[slot].req = req;
	strcpy(p->w[slot].device_id, device_id);
	p->w[slot].deadline = deadline;
	p->n++;
out:
	pthread_mutex_unlock(&p->mu);
	return err;
}

/* Resumes slot i and frees it. Call with the lock held. */
static void wake(struct fl_push *p, int i)
{
	struct fl_req *req = p->w[i].req;

	p->w[i].req = NULL;
	p->n--;
	fl_http_resume(req);
}

void fl_push_publish(struct fl_push *p, const char *device_id)
{
	pthread_mutex_lock(&p->mu);
	p->marks[bucket_of(device_id)]++;
	for (int i = 0; i < p->cap && p->n > 0; i++)
		if (p->w[i].req != NULL &&
		    strcmp(p->w[i].device_id, device_id) == 0)
			wake(p, i);
	pthread_mutex_unlock(&p->mu);
}

int fl_push_expire(struct fl_push *p, fl_time now)
{
	int woken = 0;

	pthread_mutex_lock(&p->mu);
	for (int i = 0; i < p->cap && p->n > 0; i++) {
		if (p->w[i].req != NULL && p->w[i].deadline <= now) {
			wake(p, i);
			woken++;
		}
	}
	pthread_mutex_unlock(&p->mu);
	return woken;
}

void fl_push_release_all(struct fl_push *p)
{
	pthread_mutex_lock(&p->mu);
	p->closing = true;
	for (int i = 0; i < p->cap && p->n > 0; i++)
		if (p->w[i].req != NULL)
			wake(p, i);
	pthread_mutex_unlock(&p->mu);
}

void fl_push_forget(struct fl_push *p, struct fl_req *req)
{
	pthread_mutex_lock(&p->mu);
	for (int i = 0; i < p->cap && p->n > 0; i++) {
		if (p->w[i].req == req) {
			p->w[i].req = NULL;
			p->n--;
		}
	}
	pthread_mutex_unlock(&p->mu);
}

int fl_push_waiting(struct fl_push *p)
{
	int n;

	pthread_mutex_lock(&p->mu);
	n = p->n;
	pthread_mutex_unlock(&p->mu);
	return n;
}
