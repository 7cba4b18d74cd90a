/*
 * The slab (server/slab.h): objects of any size up to FL_SLAB_MAX come
 * zeroed, aligned and apart from each other; a freed slot is reused for
 * the next object of its size and no other; many objects share few
 * blocks; sizes out of range are refused; and objects taken and given back
 * from several threads at once keep the accounting exact.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>

#include "server/slab.h"

static void test_alloc_free_reuse(void **state)
{
	struct fl_slab *s = NULL;
	unsigned char *a, *b, *c, *d;
	size_t blocks, used;

	(void)state;
	assert_int_equal(fl_slab_new(&s), FL_OK);
	assert_null(fl_slab_alloc(s, 0));
	assert_null(fl_slab_alloc(s, FL_SLAB_MAX + 1));
	a = fl_slab_alloc(s, 200);
	b = fl_slab_alloc(s, 200);
	c = fl_slab_alloc(s, FL_SLAB_MAX);
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	assert_int_equal((uintptr_t)a % 16, 0);
	assert_int_equal((uintptr_t)b % 16, 0);
	/* apart: b begins after a's 208 bytes (200 rounded up) */
	assert_true(b >= a + 208 || a >= b + 208);
	for (size_t i = 0; i < 200; i++)
		assert_int_equal(a[i], 0);
	memset(a, 0xAA, 200);
	memset(b, 0xBB, 200);
	memset(c, 0xCC, FL_SLAB_MAX);
	fl_slab_usage(s, &blocks, &used);
	assert_int_equal(used, 208 + 208 + FL_SLAB_MAX);
	assert_int_equal(blocks, FL_SLAB_BLOCK);
	/* a freed slot goes to the next object of its size, zeroed */
	fl_slab_free(s, a, 200);
	d = fl_slab_alloc(s, 100); /* another size: not a's slot */
	assert_ptr_not_equal(d, a);
	fl_slab_free(s, d, 100);
	d = fl_slab_alloc(s, 193); /* rounds to 208 as well */
	assert_ptr_equal(d, a);
	for (size_t i = 0; i < 193; i++)
		assert_int_equal(d[i], 0);
	for (size_t i = 0; i < 200; i++)
		assert_int_equal(b[i], 0xBB);
	fl_slab_free(s, b, 200);
	fl_slab_free(s, c, FL_SLAB_MAX);
	fl_slab_free(s, d, 193);
	fl_slab_free(s, NULL, 10);
	fl_slab_usage(s, &blocks, &used);
	assert_int_equal(used, 0);
	fl_slab_free_all(s);
	fl_slab_free_all(NULL);
}

static void test_dense(void **state)
{
	enum { N = 10000, SIZE = 232 };
	struct fl_slab *s = NULL;
	unsigned char **p = calloc(N, sizeof(*p));
	size_t blocks, used;

	(void)state;
	assert_non_null(p);
	assert_int_equal(fl_slab_new(&s), FL_OK);
	for (size_t i = 0; i < N; i++) {
		p[i] = fl_slab_alloc(s, SIZE);
		assert_non_null(p[i]);
		memset(p[i], (int)(i & 0xff), SIZE);
	}
	for (size_t i = 0; i < N; i++)
		for (size_t k = 0; k < SIZE; k++)
			assert_int_equal(p[i][k], (unsigned char)(i & 0xff));
	fl_slab_usage(s, &blocks, &used);
	assert_int_equal(used, (size_t)N * 240);
	/* no more than the objects need, and one block of slack */
	assert_true(blocks <= used + FL_SLAB_BLOCK + used / 100);
	/* freed and taken again: no new block */
	for (size_t i = 0; i < N; i += 2)
		fl_slab_free(s, p[i], SIZE);
	for (size_t i = 0; i < N; i += 2)
		assert_non_null(p[i] = fl_slab_alloc(s, SIZE));
	{
		size_t again;

		fl_slab_usage(s, &again, &used);
		assert_int_equal(again, blocks);
		assert_int_equal(used, (size_t)N * 240);
	}
	fl_slab_free_all(s);
	free(p);
}

struct worker {
	struct fl_slab *s;
	int seed;
};

static void *churn(void *arg)
{
	struct worker *w = arg;
	void *held[64] = {0};
	size_t sz[64] = {0};
	unsigned r = (unsigned)w->seed;

	for (int i = 0; i < 20000; i++) {
		size_t k;

		r = r * 1103515245u + 12345u;
		k = (r >> 8) % 64;
		if (held[k] != NULL) {
			fl_slab_free(w->s, held[k], sz[k]);
			held[k] = NULL;
		} else {
			sz[k] = 1 + (r >> 16) % 600;
			held[k] = fl_slab_alloc(w->s, sz[k]);
			if (held[k] == NULL)
				return (void *)1;
			memset(held[k], w->seed, sz[k]);
		}
	}
	for (size_t k = 0; k < 64; k++)
		fl_slab_free(w->s, held[k], sz[k]);
	return NULL;
}

static void test_threads(void **state)
{
	struct fl_slab *s = NULL;
	struct worker w[4];
	pthread_t t[4];
	size_t blocks, used;

	(void)state;
	assert_int_equal(fl_slab_new(&s), FL_OK);
	for (int i = 0; i < 4; i++) {
		w[i].s = s;
		w[i].seed = i + 1;
		assert_int_equal(pthread_create(&t[i], NULL, churn, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		void *rv = (void *)1;

		assert_int_equal(pthread_join(t[i], &rv), 0);
		assert_null(rv);
	}
	fl_slab_usage(s, &blocks, &used);
	assert_int_equal(used, 0);
	fl_slab_free_all(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_alloc_free_reuse),
	        cmocka_unit_test(test_dense),
	        cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
