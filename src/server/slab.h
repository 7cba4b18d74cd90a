/*
 * slab.h - small objects that live long, packed in large blocks.
 *
 * The caches that hold one entry per device (devauth.c, tokens.c) keep
 * hundreds of thousands of objects of a few hundred bytes for as long as
 * the server runs. Taken from malloc among the short-lived buffers of the
 * requests that made them, each would pin a page of the heap that is
 * otherwise free, so the memory those requests freed could never go back
 * to the system. A slab packs them side by side instead: sizes are
 * rounded up to 16 bytes, each size has its own list of freed slots, and
 * a block of FL_SLAB_BLOCK bytes is taken from the system whenever a size
 * has no free slot. Blocks are kept until fl_slab_free_all: a cache bounded
 * by its capacity reuses its own slots.
 *
 * THREAD SAFETY: every call may be made from any thread (one mutex).
 */
#ifndef FL_SERVER_SLAB_H
#define FL_SERVER_SLAB_H

#include <stddef.h>

#include "core/err.h"

#define FL_SLAB_BLOCK (64 * 1024) /* bytes per block */
#define FL_SLAB_MAX   2048        /* largest object a slab takes, bytes */

struct fl_slab;

/* A slab with no block yet. */
fl_err fl_slab_new(struct fl_slab **out) FL_MUST_USE;
/* Frees every block (every object taken from s) and s. NULL is a no-op. */
void fl_slab_free_all(struct fl_slab *s);

/* size bytes (1 to FL_SLAB_MAX), zeroed, aligned for any object; NULL when
 * out of memory or size is out of range. */
void *fl_slab_alloc(struct fl_slab *s, size_t size);
/* Gives back p (NULL is a no-op), taken with this size. */
void fl_slab_free(struct fl_slab *s, void *p, size_t size);

/* Bytes taken from the system, and bytes handed out now. */
void fl_slab_usage(struct fl_slab *s, size_t *blocks_bytes, size_t *used);

#endif
