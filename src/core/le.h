/*
 * le.h - little-endian integers in byte buffers, for the fixed-layout
 * records of the device's saved state and secure hardware.
 *
 * THREAD SAFETY: pure.
 */
#ifndef FL_LE_H
#define FL_LE_H

#include <stddef.h>
#include <stdint.h>

/* Writes the low n bytes of v to p, least significant first (n <= 8). */
static inline void fl_le_put(uint8_t *p, uint64_t v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Reads n bytes at p, least significant first (n <= 8). */
static inline uint64_t fl_le_get(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = n; i > 0; i--)
		v = (v << 8) | p[i - 1];
	return v;
}

#endif
