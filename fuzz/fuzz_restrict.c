/* libFuzzer target for core/restrict: the bytes, split at NUL bytes, are a
 * list of restriction names (as a request's "restrict" array carries them).
 * fl_restrict_parse_list must agree with fl_restrict_parse name by name:
 * the mask is the union of the names' bits, within FL_R_ALL; the first bad
 * name is the one reported, with its error and a zero mask. Each accepted
 * name is the name of its bit, and the mask's names parse back to it. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/restrict.h"

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_NAMES 64

struct collect {
	const char *names[MAX_NAMES];
	size_t n;
};

static void add(const char *name, void *ctx)
{
	struct collect *c = ctx;

	CHECK(c->n < MAX_NAMES);
	c->names[c->n++] = name;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *names[MAX_NAMES];
	char *text = malloc(size + 1);
	struct collect back = {.n = 0};
	uint64_t mask = 1, want = 0, again = 0;
	size_t n = 0, bad = SIZE_MAX, want_bad = SIZE_MAX;
	fl_err err, want_err = FL_OK;

	if (text == NULL)
		abort();
	if (size > 0)
		memcpy(text, data, size);
	text[size] = '\0';
	for (size_t at = 0; at <= size && n < MAX_NAMES;) {
		names[n++] = text + at;
		at += strlen(text + at) + 1;
	}
	/* Name by name, as the list parser must read them. */
	for (size_t i = 0; i < n; i++) {
		uint64_t bit = 1;
		fl_err e = fl_restrict_parse(names[i], strlen(names[i]), &bit);

		if (e != FL_OK) {
			CHECK(bit == 0);
			CHECK(e == FL_E_RESTRICT_UNKNOWN ||
			      e == FL_E_RESTRICT_GUARANTEED);
			want_err = e;
			want_bad = i;
			break;
		}
		CHECK(fl_restrict_name(bit) != NULL &&
		      strcmp(fl_restrict_name(bit), names[i]) == 0);
		want |= bit;
	}
	err = fl_restrict_parse_list(names, n, &mask, &bad);
	CHECK(err == want_err);
	if (err != FL_OK) {
		CHECK(mask == 0 && bad == want_bad);
		free(text);
		return 0;
	}
	CHECK(mask == want && fl_restrict_check_mask(mask) == FL_OK);
	fl_restrict_each(mask, add, &back);
	CHECK(fl_restrict_parse_list(back.names, back.n, &again, NULL) ==
	              FL_OK &&
	      again == mask);
	free(text);
	return 0;
}
