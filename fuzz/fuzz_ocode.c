/* libFuzzer target for core/ocode: fl_ocode_check never crashes on any
 * bytes, and whatever it accepts is a code fl_ocode_make would write for the
 * counter and action it reports, on one of the days it may accept.
 *
 * Input: 8 bytes of last accepted counter, 4 bytes of day offset, then the
 * typed code. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "core/ocode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t secret[FL_OCODE_SECRET_LEN] = {
        0x6b, 0x1e, 0x22, 0x90, 0x0d, 0xf7, 0x4a, 0x35, 0xc8, 0x61, 0x0f,
        0xb2, 0x99, 0x13, 0x7e, 0x54, 0xa0, 0x3c, 0xee, 0x05, 0x47, 0xd9,
        0x82, 0x2b, 0x6f, 0xc1, 0x18, 0x75, 0xbd, 0x4e, 0x30, 0x09,
};

/* The digits of a typed code, separators dropped. */
static void digits_of(const char *s, size_t len, char out[FL_OCODE_LEN + 1])
{
	size_t n = 0;

	for (size_t i = 0; i < len && n < FL_OCODE_LEN; i++)
		if (s[i] >= '0' && s[i] <= '9')
			out[n++] = s[i];
	out[n] = '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	uint64_t last = 0, counter;
	uint32_t dayoff = 0;
	enum fl_ocode_action action;
	char typed[FL_OCODE_LEN + 1], made[FL_OCODE_LEN + 1];

	if (!ready) {
		if (fl_crypto_init() != FL_OK)
			abort();
		ready = 1;
	}
	if (size >= 12) {
		memcpy(&last, data, 8);
		memcpy(&dayoff, data + 8, 4);
		data += 12;
		size -= 12;
	}
	/* Mostly plausible counters and days, sometimes out of range. */
	if (!(last & (1ULL << 62)))
		last &= 0xfff;
	int64_t today = 20000 + (int64_t)(dayoff % 4096) - 2048;
	if (dayoff & 0x80000000u)
		today = (int64_t)(int32_t)dayoff;

	const char *code = (const char *)data;
	fl_err err = fl_ocode_check(secret, code, size, last, today, &counter,
	                            &action);
	if (err) {
		if (counter != 0 || action != 0)
			abort();
		return 0;
	}
	if (counter <= last || counter > last + FL_OCODE_WINDOW ||
	    fl_ocode_action_name(action) == NULL)
		abort();
	digits_of(code, size, typed);
	for (int64_t d = today - 2; d <= today + 1; d++) {
		if (fl_ocode_make(secret, counter, action, d, made) == FL_OK &&
		    strcmp(made, typed) == 0)
			return 0;
	}
	abort();
}
