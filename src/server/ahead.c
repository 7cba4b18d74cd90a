/* ahead.c - device tokens' signatures made ahead of a due instant. */
#include "server/ahead.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

#define HASH_LEN 32

struct sig {
	struct sig *next;       /* bucket chain */
	char id[FL_ID_MAX];     /* the device */
	char kid[FL_KID_MAX];   /* the key that signed */
	fl_time at;             /* the instant its claims are for */
	uint8_t hash[HASH_LEN]; /* BLAKE2b of the claims signed */
	uint8_t sig[FL_SIG_LEN];
};

struct fl_ahead {
	pthread_mutex_t mu;
	struct sig **b; /* buckets */
	size_t nb;      /* power of two */
	size_t n, cap;
	fl_time oldest; /* no instant kept is before it */
	uint64_t taken;
};

static uint64_t hash_id(const char *id)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *id != '\0'; id++)
		h = (h ^ (uint8_t)*id) * 1099511628211ULL;
	return h;
}

static bool claims_hash(const char *claims, size_t len, uint8_t out[HASH_LEN])
{
	fl_blake2b_state st;

	if (fl_blake2b_init(&st, NULL, 0, HASH_LEN) != FL_OK)
		return false;
	fl_blake2b_update(&st, claims, len);
	fl_blake2b_final(&st, out, HASH_LEN);
	return true;
}

fl_err fl_ahead_new(struct fl_ahead **out, size_t cap)
{
	struct fl_ahead *a = calloc(1, sizeof(*a));

	*out = NULL;
	if (a == NULL)
		return FL_E_NOMEM;
	a->cap = cap > 0 ? cap : 1;
	for (a->nb = 16; a->nb < a->cap; a->nb *= 2)
		;
	a->b = calloc(a->nb, sizeof(*a->b));
	if (a->b == NULL || pthread_mutex_init(&a->mu, NULL) != 0) {
		free(a->b);
		free(a);
		return FL_E_NOMEM;
	}
	*out = a;
	return FL_OK;
}

void fl_ahead_free(struct fl_ahead *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < a->nb; i++) {
		for (struct sig *s = a->b[i]; s != NULL;) {
			struct sig *next = s->next;

			free(s);
			s = next;
		}
	}
	pthread_mutex_destroy(&a->mu);
	free(a->b);
	free(a);
}

/* The link pointing at device id's signature, or at the end of its
 * chain. Under mu. */
static struct sig **find(struct fl_ahead *a, const char *id)
{
	struct sig **pp = &a->b[hash_id(id) & (a->nb - 1)];

	while (*pp != NULL && strcmp((*pp)->id, id) != 0)
		pp = &(*pp)->next;
	return pp;
}

bool fl_ahead_put(struct fl_ahead *a, const char *id, fl_time at,
                  const char *kid, const char *claims, size_t len,
                  const uint8_t sig[FL_SIG_LEN])
{
	struct sig *s, **pp;

	if (strlen(id) >= FL_ID_MAX || strlen(kid) >= FL_KID_MAX)
		return false;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return false;
	memcpy(s->id, id, strlen(id) + 1);
	memcpy(s->kid, kid, strlen(kid) + 1);
	s->at = at;
	memcpy(s->sig, sig, FL_SIG_LEN);
	if (!claims_hash(claims, len, s->hash)) {
		free(s);
		return false;
	}
	pthread_mutex_lock(&a->mu);
	pp = find(a, id);
	if (*pp != NULL) {
		struct sig *old = *pp;

		s->next = old->next;
		*pp = s;
		free(old);
	} else if (a->n < a->cap) {
		*pp = s;
		a->n++;
	} else {
		free(s);
		s = NULL;
	}
	if (s != NULL && (a->oldest == 0 || at < a->oldest))
		a->oldest = at;
	pthread_mutex_unlock(&a->mu);
	return s != NULL;
}

bool fl_ahead_has(struct fl_ahead *a, const char *id, fl_time at)
{
	struct sig *s;
	bool has;

	pthread_mutex_lock(&a->mu);
	s = *find(a, id);
	has = s != NULL && s->at == at;
	pthread_mutex_unlock(&a->mu);
	return has;
}

bool fl_ahead_take(struct fl_ahead *a, const char *id, const char *kid,
                   const char *claims, size_t len, uint8_t sig[FL_SIG_LEN])
{
	uint8_t h[HASH_LEN];
	struct sig **pp, *s = NULL;

	if (a == NULL)
		return false;
	pthread_mutex_lock(&a->mu);
	if (a->n == 0) {
		pthread_mutex_unlock(&a->mu);
		return false;
	}
	pthread_mutex_unlock(&a->mu);
	if (!claims_hash(claims, len, h))
		return false;
	pthread_mutex_lock(&a->mu);
	pp = find(a, id);
	if (*pp != NULL && strcmp((*pp)->kid, kid) == 0 &&
	    fl_ct_memcmp((*pp)->hash, h, HASH_LEN) == 0) {
		s = *pp;
		*pp = s->next;
		a->n--;
		a->taken++;
	}
	pthread_mutex_unlock(&a->mu);
	if (s == NULL)
		return false;
	memcpy(sig, s->sig, FL_SIG_LEN);
	free(s);
	return true;
}

void fl_ahead_expire(struct fl_ahead *a, fl_time before)
{
	fl_time oldest = 0;

	pthread_mutex_lock(&a->mu);
	/* a pass over the table only when something kept is that old */
	if (a->n > 0 && a->oldest < before) {
		for (size_t i = 0; i < a->nb; i++) {
			struct sig **pp = &a->b[i];

			while (*pp != NULL) {
				struct sig *s = *pp;

				if (s->at < before) {
					*pp = s->next;
					free(s);
					a->n--;
				} else {
					if (oldest == 0 || s->at < oldest)
						oldest = s->at;
					pp = &s->next;
				}
			}
		}
		a->oldest = oldest;
	}
	pthread_mutex_unlock(&a->mu);
}

size_t fl_ahead_count(struct fl_ahead *a)
{
	size_t n;

	pthread_mutex_lock(&a->mu);
	n = a->n;
	pthread_mutex_unlock(&a->mu);
	return n;
}

uint64_t fl_ahead_taken(struct fl_ahead *a)
{
	uint64_t n;

	pthread_mutex_lock(&a->mu);
	n = a->taken;
	pthread_mutex_unlock(&a->mu);
	return n;
}
