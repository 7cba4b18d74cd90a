/*
 * push.c - parked long-poll requests, publish marks per bucket.
 *
 * Waiters live in one array allocated at start (max_waiters slots), so
 * parking allocates nothing. Each parked slot is on two lists, by index:
 * its device id's hash bucket (a publish walks one bucket) and the
 * deadline order (expiry walks only what is due; a new waiter's deadline
 * is almost always the latest, so it goes in at the tail). Free slots
 * form a stack. Parking, waking and publishing for one device are O(1)
 * in the number of parked requests.
 */
#include "server/push.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

#define MIN_BUCKETS 4096 /* publish marks, at least */
#define NONE        (-1)

struct waiter {
	void *req; /* the parked waiter; NULL when the slot is free */
	char device_id[FL_ID_MAX];
	int64_t ord; /* the device's row (store.h), 0 unknown */
	fl_time deadline;
	size_t bucket, obucket;
	int bnext, bprev; /* bucket chain; bnext links free slots too */
	int onext, oprev; /* chain of the row's bucket (the change feed) */
	int dnext, dprev; /* deadline order */
};

struct fl_push {
	pthread_mutex_t mu;
	size_t nb;       /* buckets, a power of two */
	uint64_t *marks; /* publishes per bucket */
	int *heads;      /* first waiter of each bucket */
	int *oheads;     /* first waiter of each row bucket */
	struct fl_store *st; /* the store followed, or NULL */
	struct waiter *w;
	int cap, n;
	int free_top;         /* stack of free slots */
	int earliest, latest; /* deadline order */
	bool closing;         /* shutting down: park nothing */
	struct fl_push_hooks hooks; /* parks and wakes a waiter */
};

fl_err fl_push_new(struct fl_push **out, int max_waiters,
                   const struct fl_push_hooks *hooks)
{
	struct fl_push *p;

	*out = NULL;
	if (max_waiters < 1)
		return FL_E_INVALID;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return FL_E_NOMEM;
	p->hooks = *hooks;
	p->nb = MIN_BUCKETS;
	while (p->nb < (size_t)max_waiters)
		p->nb *= 2;
	p->marks = calloc(p->nb, sizeof(*p->marks));
	p->heads = malloc(p->nb * sizeof(*p->heads));
	p->oheads = malloc(p->nb * sizeof(*p->oheads));
	p->w = calloc((size_t)max_waiters, sizeof(*p->w));
	if (p->marks == NULL || p->heads == NULL || p->oheads == NULL ||
	    p->w == NULL) {
		fl_push_free(p);
		return FL_E_NOMEM;
	}
	for (size_t i = 0; i < p->nb; i++)
		p->heads[i] = p->oheads[i] = NONE;
	for (int i = 0; i < max_waiters; i++)
		p->w[i].bnext = i + 1 < max_waiters ? i + 1 : NONE;
	p->free_top = 0;
	p->earliest = p->latest = NONE;
	p->cap = max_waiters;
	pthread_mutex_init(&p->mu, NULL);
	*out = p;
	return FL_OK;
}

void fl_push_free(struct fl_push *p)
{
	if (p == NULL)
		return;
	if (p->w != NULL && p->marks != NULL && p->heads != NULL &&
	    p->oheads != NULL)
		pthread_mutex_destroy(&p->mu);
	free(p->w);
	free(p->oheads);
	free(p->heads);
	free(p->marks);
	free(p);
}

static size_t bucket_of(const struct fl_push *p, const char *id)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *id != '\0'; id++)
		h = (h ^ (uint8_t)*id) * 1099511628211ULL;
	return (size_t)(h & (p->nb - 1));
}

uint64_t fl_push_mark(struct fl_push *p, const char *device_id)
{
	uint64_t m;

	pthread_mutex_lock(&p->mu);
	m = p->marks[bucket_of(p, device_id)];
	pthread_mutex_unlock(&p->mu);
	return m;
}

/* Puts slot i on its bucket and in deadline order. Lock held. */
static void link_slot(struct fl_push *p, int i)
{
	struct waiter *w = &p->w[i];
	int after = p->latest;

	w->bprev = NONE;
	w->bnext = p->heads[w->bucket];
	if (w->bnext != NONE)
		p->w[w->bnext].bprev = i;
	p->heads[w->bucket] = i;
	w->oprev = NONE;
	w->onext = p->oheads[w->obucket];
	if (w->onext != NONE)
		p->w[w->onext].oprev = i;
	p->oheads[w->obucket] = i;

	while (after != NONE && p->w[after].deadline > w->deadline)
		after = p->w[after].dprev;
	w->dprev = after;
	w->dnext = after != NONE ? p->w[after].dnext : p->earliest;
	if (w->dnext != NONE)
		p->w[w->dnext].dprev = i;
	else
		p->latest = i;
	if (after != NONE)
		p->w[after].dnext = i;
	else
		p->earliest = i;
}

/* Takes slot i off both lists and frees it; returns its request. Lock
 * held. */
static void *unlink_slot(struct fl_push *p, int i)
{
	struct waiter *w = &p->w[i];
	void *req = w->req;

	if (w->bprev != NONE)
		p->w[w->bprev].bnext = w->bnext;
	else
		p->heads[w->bucket] = w->bnext;
	if (w->bnext != NONE)
		p->w[w->bnext].bprev = w->bprev;
	if (w->oprev != NONE)
		p->w[w->oprev].onext = w->onext;
	else
		p->oheads[w->obucket] = w->onext;
	if (w->onext != NONE)
		p->w[w->onext].oprev = w->oprev;
	if (w->dprev != NONE)
		p->w[w->dprev].dnext = w->dnext;
	else
		p->earliest = w->dnext;
	if (w->dnext != NONE)
		p->w[w->dnext].dprev = w->dprev;
	else
		p->latest = w->dprev;
	w->req = NULL;
	w->bnext = p->free_top;
	p->free_top = i;
	p->n--;
	return req;
}

/* Resumes slot i and frees it. Lock held. */
static void wake(struct fl_push *p, int i)
{
	p->hooks.wake(unlink_slot(p, i));
}

static size_t obucket_of(const struct fl_push *p, int64_t ord)
{
	uint64_t h = (uint64_t)ord * 0x9e3779b97f4a7c15ULL;

	return (size_t)(h >> 32) & (p->nb - 1);
}

/* The change feed (store.h): a committed change of row ord, in this
 * process or another, wakes the row's waiters; ord < 0 wakes everyone.
 * Called after the store stamped the row's bucket. */
static void on_feed(void *ctx, int64_t ord)
{
	struct fl_push *p = ctx;
	int i;

	pthread_mutex_lock(&p->mu);
	if (ord < 0) {
		while (p->earliest != NONE)
			p->hooks.wake(unlink_slot(p, p->earliest));
	} else {
		for (i = p->oheads[obucket_of(p, ord)]; i != NONE;) {
			int next = p->w[i].onext;

			if (p->w[i].ord == ord)
				p->hooks.wake(unlink_slot(p, i));
			i = next;
		}
	}
	pthread_mutex_unlock(&p->mu);
}

fl_err fl_push_follow(struct fl_push *p, struct fl_store *st)
{
	fl_err err = fl_store_feed_subscribe(st, on_feed, p);

	if (err == FL_OK)
		p->st = st;
	return err;
}

uint64_t fl_push_clock(struct fl_push *p)
{
	return p->st != NULL ? fl_store_device_clock(p->st) : 0;
}

fl_err fl_push_wait(struct fl_push *p, void *req, const char *device_id,
                    uint64_t mark, fl_time deadline)
{
	return fl_push_wait_row(p, req, device_id, 0, mark, 0, deadline);
}

fl_err fl_push_wait_row(struct fl_push *p, void *req, const char *device_id,
                        int64_t ord, uint64_t mark, uint64_t clock,
                        fl_time deadline)
{
	size_t b;
	fl_err err = FL_OK;
	int i;

	if (strlen(device_id) >= FL_ID_MAX)
		return FL_E_INVALID;
	b = bucket_of(p, device_id);
	pthread_mutex_lock(&p->mu);
	/* A change committed since the clock was read (here or on another
	 * node) has stamped the row before its feed call, which needs this
	 * lock: either it is seen here, or its call comes after the waiter
	 * is linked and wakes it. */
	if (p->closing || p->marks[b] != mark ||
	    (p->st != NULL && ord > 0 &&
	     !fl_store_device_unchanged(p->st, ord, clock))) {
		err = FL_E_STATE;
		goto out;
	}
	if (p->free_top == NONE) {
		err = FL_E_LIMIT;
		goto out;
	}
	i = p->free_top;
	p->free_top = p->w[i].bnext;
	/* Suspended under the lock, so no publisher can resume it before
	 * it is suspended. */
	p->hooks.park(req, deadline);
	p->w[i].req = req;
	strcpy(p->w[i].device_id, device_id);
	p->w[i].ord = ord > 0 ? ord : 0;
	p->w[i].deadline = deadline;
	p->w[i].bucket = b;
	p->w[i].obucket = obucket_of(p, p->w[i].ord);
	link_slot(p, i);
	p->n++;
out:
	pthread_mutex_unlock(&p->mu);
	return err;
}


void fl_push_publish(struct fl_push *p, const char *device_id)
{
	size_t b = bucket_of(p, device_id);
	int i;

	pthread_mutex_lock(&p->mu);
	p->marks[b]++;
	for (i = p->heads[b]; i != NONE;) {
		int next = p->w[i].bnext;

		if (strcmp(p->w[i].device_id, device_id) == 0)
			wake(p, i);
		i = next;
	}
	pthread_mutex_unlock(&p->mu);
}

bool fl_push_waited(struct fl_push *p, const char *device_id)
{
	size_t b = bucket_of(p, device_id);
	bool found = false;

	pthread_mutex_lock(&p->mu);
	for (int i = p->heads[b]; i != NONE && !found; i = p->w[i].bnext)
		found = strcmp(p->w[i].device_id, device_id) == 0;
	pthread_mutex_unlock(&p->mu);
	return found;
}

int fl_push_expire(struct fl_push *p, fl_time now)
{
	int woken = 0;

	pthread_mutex_lock(&p->mu);
	while (p->earliest != NONE && p->w[p->earliest].deadline <= now) {
		wake(p, p->earliest);
		woken++;
	}
	pthread_mutex_unlock(&p->mu);
	return woken;
}

void fl_push_release_all(struct fl_push *p)
{
	pthread_mutex_lock(&p->mu);
	p->closing = true;
	while (p->earliest != NONE)
		wake(p, p->earliest);
	pthread_mutex_unlock(&p->mu);
}

void fl_push_forget(struct fl_push *p, void *req)
{
	pthread_mutex_lock(&p->mu);
	for (int i = p->earliest; i != NONE; i = p->w[i].dnext) {
		if (p->w[i].req == req) {
			(void)unlink_slot(p, i);
			break;
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
