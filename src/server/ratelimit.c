/* ratelimit.c - striped table of token buckets plus a global bucket. */
#include "server/ratelimit.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STRIPES 64 /* locks over the table */
#define PROBE   8  /* slots a client may land in */

struct bucket {
	uint8_t key[16]; /* client network; all zero = free */
	bool used;
	double tokens;
	double last; /* monotonic seconds of the last refill */
};

struct fl_ratelimit {
	double rate, global_rate;
	double burst, global_burst;
	size_t capacity;
	struct bucket *table;
	pthread_mutex_t stripes[STRIPES];
	pthread_mutex_t global_mu;
	struct bucket global;
};

fl_err fl_ratelimit_new(struct fl_ratelimit **out, double rate, int burst,
                        double global_rate, int global_burst, int capacity)
{
	struct fl_ratelimit *rl;

	*out = NULL;
	if (!(rate > 0) || !(global_rate > 0) || burst < 1 ||
	    global_burst < 1 || capacity < PROBE)
		return FL_E_INVALID;
	rl = calloc(1, sizeof(*rl));
	if (rl == NULL)
		return FL_E_NOMEM;
	rl->table = calloc((size_t)capacity, sizeof(*rl->table));
	if (rl->table == NULL) {
		free(rl);
		return FL_E_NOMEM;
	}
	rl->rate = rate;
	rl->burst = burst;
	rl->global_rate = global_rate;
	rl->global_burst = global_burst;
	rl->capacity = (size_t)capacity;
	for (int i = 0; i < STRIPES; i++)
		pthread_mutex_init(&rl->stripes[i], NULL);
	pthread_mutex_init(&rl->global_mu, NULL);
	rl->global.tokens = global_burst;
	rl->global.last = -1;
	*out = rl;
	return FL_OK;
}

void fl_ratelimit_free(struct fl_ratelimit *rl)
{
	if (rl == NULL)
		return;
	for (int i = 0; i < STRIPES; i++)
		pthread_mutex_destroy(&rl->stripes[i]);
	pthread_mutex_destroy(&rl->global_mu);
	free(rl->table);
	free(rl);
}

double fl_ratelimit_clock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void refill(struct bucket *b, double rate, double burst, double now)
{
	if (b->last < 0 || now < b->last) {
		b->last = now;
		return;
	}
	b->tokens = fmin(burst, b->tokens + (now - b->last) * rate);
	b->last = now;
}

static int wait_for(const struct bucket *b, double rate)
{
	double secs = (1.0 - b->tokens) / rate;

	return secs < 1.0 ? 1 : (int)ceil(secs);
}

/* FNV-1a of the key. */
static size_t hash_of(const uint8_t key[16])
{
	uint64_t h = 1469598103934665603ULL;

	for (int i = 0; i < 16; i++)
		h = (h ^ key[i]) * 1099511628211ULL;
	return (size_t)h;
}

bool fl_ratelimit_take(struct fl_ratelimit *rl, const uint8_t client[16],
                       double now, int *retry_after)
{
	/* Buckets come in aligned groups of PROBE slots; a client lives in
	 * one group, and each group is touched only under its stripe. */
	size_t groups = rl->capacity / PROBE;
	size_t group = hash_of(client) % groups, base = group * PROBE;
	pthread_mutex_t *mu = &rl->stripes[group % STRIPES];
	struct bucket *b = NULL, *oldest = NULL;
	bool ok;

	if (retry_after != NULL)
		*retry_after = 0;
	pthread_mutex_lock(mu);
	for (size_t i = 0; i < PROBE; i++) {
		struct bucket *s = &rl->table[base + i];

		if (s->used && memcmp(s->key, client, 16) == 0) {
			b = s;
			break;
		}
		if (!s->used) {
			if (oldest == NULL || oldest->used)
				oldest = s;
		} else if (oldest == NULL ||
		           (oldest->used && s->last < oldest->last)) {
			oldest = s;
		}
	}
	if (b == NULL) {
		b = oldest;
		memcpy(b->key, client, 16);
		b->used = true;
		b->tokens = rl->burst;
		b->last = now;
	}
	refill(b, rl->rate, rl->burst, now);
	ok = b->tokens >= 1.0;
	if (!ok && retry_after != NULL)
		*retry_after = wait_for(b, rl->rate);
	if (ok) {
		pthread_mutex_lock(&rl->global_mu);
		refill(&rl->global, rl->global_rate, rl->global_burst, now);
		ok = rl->global.tokens >= 1.0;
		if (ok)
			rl->global.tokens -= 1.0;
		else if (retry_after != NULL)
			*retry_after = wait_for(&rl->global, rl->global_rate);
		pthread_mutex_unlock(&rl->global_mu);
		if (ok)
			b->tokens -= 1.0;
	}
	pthread_mutex_unlock(mu);
	return ok;
}
