/*
 * Token payloads packed against a reference (server/tokpack.h): every
 * payload comes back byte for byte, whether it shares much with the
 * reference, repeats itself (copies out of its own earlier bytes, also
 * overlapping ones) or shares nothing; a payload that repeats itself packs
 * smaller than one that does not; and packed data cut short or altered is
 * refused without reading outside what it was given.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/tokpack.h"

static const char REF[] =
        "{\"sub\":\"dv_ref\",\"imei\":[\"352099001702006\"],\"seq\":1,"
        "\"reminders\":[{\"at\":\"2027-01-22T08:00:00Z\",\"text\":"
        "\"Installment of KES 1,500.00 due 2027-01-25\"}],"
        "\"message\":\"Call us\"}";

/* Packs t[n], unpacks it, requires the same bytes; returns the packed
 * length. */
static size_t round_trip(const struct fl_tokpack *c, const uint8_t *t,
                         size_t n)
{
	uint8_t *packed = malloc(2 * n + 16), *back = malloc(n + 1);
	size_t len;

	assert_non_null(packed);
	assert_non_null(back);
	len = fl_tokpack_pack(c, t, n, packed);
	assert_true(len <= 2 * n + 16);
	assert_int_equal(fl_tokpack_unpack(c, packed, len, n, back), FL_OK);
	assert_memory_equal(back, t, n);
	free(packed);
	free(back);
	return len;
}

static void test_round_trips(void **state)
{
	struct fl_tokpack c = {0};
	char buf[4096];
	uint8_t rnd[3000];
	unsigned r = 7;
	size_t plain, twice;

	(void)state;
	assert_int_equal(fl_tokpack_set(&c, (const uint8_t *)REF, strlen(REF),
	                                ".eyJ9", 5),
	                 FL_OK);
	/* like the reference, with other dates and ids */
	snprintf(buf, sizeof(buf),
	         "{\"sub\":\"dv_other\",\"imei\":[\"352099001702014\"],"
	         "\"seq\":9,\"reminders\":[{\"at\":\"2027-03-02T08:00:00Z\","
	         "\"text\":\"Installment of KES 3,000.00 due 2027-03-05\"}],"
	         "\"message\":\"Call us\"}");
	assert_true(round_trip(&c, (const uint8_t *)buf, strlen(buf)) <
	            strlen(buf) / 2);
	/* nothing in common with the reference */
	for (size_t i = 0; i < sizeof(rnd); i++) {
		r = r * 1103515245u + 12345u;
		rnd[i] = (uint8_t)(r >> 16);
	}
	plain = round_trip(&c, rnd, 1000);
	/* the same 1000 bytes twice: the second time a copy of the first */
	memcpy(rnd + 1000, rnd, 1000);
	twice = round_trip(&c, rnd, 2000);
	assert_true(twice < plain + 16);
	/* a run that copies the bytes it makes (overlapping) */
	memset(buf, 'x', 1000);
	memcpy(buf, "abcdefg", 7);
	for (size_t i = 7; i < 1000; i++)
		buf[i] = buf[i - 7];
	assert_true(round_trip(&c, (const uint8_t *)buf, 1000) < 32);
	/* short and empty payloads */
	assert_int_equal(round_trip(&c, (const uint8_t *)"abc", 3), 4);
	round_trip(&c, (const uint8_t *)"", 0);
	fl_tokpack_clear(&c);
}

/* v as a varint at buf + at; returns the end. */
static size_t put(uint8_t *buf, size_t at, size_t v)
{
	while (v >= 0x80) {
		buf[at++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	buf[at++] = (uint8_t)v;
	return at;
}

static void test_bad_data_refused(void **state)
{
	struct fl_tokpack c = {0};
	char t[600];
	uint8_t packed[2 * sizeof(t) + 16], out[sizeof(t)];
	size_t len, n;

	(void)state;
	assert_int_equal(fl_tokpack_set(&c, (const uint8_t *)REF, strlen(REF),
	                                "", 0),
	                 FL_OK);
	n = (size_t)snprintf(t, sizeof(t), "%s%s", REF + 10, REF + 20);
	len = fl_tokpack_pack(&c, (const uint8_t *)t, n, packed);
	/* every cut is refused */
	for (size_t k = 0; k < len; k++)
		assert_int_equal(fl_tokpack_unpack(&c, packed, k, n, out),
		                 FL_E_INTERNAL);
	/* a wrong length to make is refused */
	assert_int_equal(fl_tokpack_unpack(&c, packed, len, n - 1, out),
	                 FL_E_INTERNAL);
	/* every byte altered: refused or made into n bytes, never outside
	 * (AddressSanitizer watches the reads and writes) */
	for (size_t k = 0; k < len; k++) {
		for (int v = 0; v < 256; v += 17) {
			uint8_t save = packed[k];

			packed[k] = (uint8_t)v;
			fl_err e = fl_tokpack_unpack(&c, packed, len, n, out);

			assert_true(e == FL_OK || e == FL_E_INTERNAL);
			packed[k] = save;
		}
	}
	/* a copy out of bytes not made yet is refused */
	{
		uint8_t bad[16] = {1, 'a', 4};
		size_t b = put(bad, 3, strlen(REF) + 1); /* own byte 1 */

		assert_int_equal(fl_tokpack_unpack(&c, bad, b, 5, out),
		                 FL_E_INTERNAL);
		b = put(bad, 3, strlen(REF)); /* own byte 0: made already */
		bad[b++] = 0;                 /* and an empty last run */
		assert_int_equal(fl_tokpack_unpack(&c, bad, b, 5, out), FL_OK);
		assert_memory_equal(out, "aaaaa", 5);
	}
	fl_tokpack_clear(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_round_trips),
	        cmocka_unit_test(test_bad_data_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
