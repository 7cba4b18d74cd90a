/* slab.c - small objects that live long, packed in large blocks. */
#include "server/slab.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
/* a slot given back is poisoned, so a use after it is caught */
#define POISON(p, n)   ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n)   ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define GRAIN   16
#define CLASSES (FL_SLAB_MAX / GRAIN)

struct slot {
	struct slot *next; /* the next free slot of the same size */
};

struct block {
	struct block *next; /* every block, for fl_slab_free_all */
	_Alignas(GRAIN) unsigned char mem[];
};

struct fl_slab {
	pthread_mutex_t mu;
	struct block *blocks;
	struct slot *free[CLASSES]; /* freed slots, per size */
	unsigned char *bump;        /* the unused rest of the newest block */
	size_t left;                /* bytes at bump */
	size_t taken, used;         /* bytes of blocks, and handed out */
};

fl_err fl_slab_new(struct fl_slab **out)
{
	struct fl_slab *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (s == NULL)
		return FL_E_NOMEM;
	pthread_mutex_init(&s->mu, NULL);
	*out = s;
	return FL_OK;
}

void fl_slab_free_all(struct fl_slab *s)
{
	if (s == NULL)
		return;
	while (s->blocks != NULL) {
		struct block *b = s->blocks;

		s->blocks = b->next;
		UNPOISON(b->mem, FL_SLAB_BLOCK - sizeof(*b));
		free(b);
	}
	pthread_mutex_destroy(&s->mu);
	free(s);
}

/* The rounded size of class c. */
static size_t class_size(size_t c)
{
	return (c + 1) * GRAIN;
}

void *fl_slab_alloc(struct fl_slab *s, size_t size)
{
	size_t c, n;
	void *p = NULL;

	if (size == 0 || size > FL_SLAB_MAX)
		return NULL;
	c = (size - 1) / GRAIN;
	n = class_size(c);
	pthread_mutex_lock(&s->mu);
	if (s->free[c] != NULL) {
		struct slot *sl = s->free[c];

		UNPOISON(sl, n);
		s->free[c] = sl->next;
		p = sl;
	} else {
		if (s->left < n) {
			struct block *b = malloc(FL_SLAB_BLOCK);

			if (b == NULL)
				goto out;
			/* the rest of the old block stays unused: less than
			 * one object of this size */
			b->next = s->blocks;
			s->blocks = b;
			s->bump = b->mem;
			s->left = FL_SLAB_BLOCK - sizeof(*b);
			s->taken += FL_SLAB_BLOCK;
			POISON(s->bump, s->left);
		}
		p = s->bump;
		UNPOISON(p, n);
		s->bump += n;
		s->left -= n;
	}
	s->used += n;
out:
	pthread_mutex_unlock(&s->mu);
	if (p != NULL)
		memset(p, 0, n);
	return p;
}

void fl_slab_free(struct fl_slab *s, void *p, size_t size)
{
	struct slot *sl = p;
	size_t c, n;

	if (p == NULL || size == 0 || size > FL_SLAB_MAX)
		return;
	c = (size - 1) / GRAIN;
	n = class_size(c);
	pthread_mutex_lock(&s->mu);
	sl->next = s->free[c];
	s->free[c] = sl;
	s->used -= n;
	/* the link stays readable to the allocator: poison after it */
	POISON((unsigned char *)p + sizeof(*sl), n - sizeof(*sl));
	pthread_mutex_unlock(&s->mu);
}

void fl_slab_usage(struct fl_slab *s, size_t *blocks_bytes, size_t *used)
{
	pthread_mutex_lock(&s->mu);
	*blocks_bytes = s->taken;
	*used = s->used;
	pthread_mutex_unlock(&s->mu);
}
