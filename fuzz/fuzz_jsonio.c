/* libFuzzer target for finlockd's request JSON helpers (src/server/jsonio.c),
 * driven without a server: the first byte is the nesting limit, the rest a
 * request body.
 *
 *   - fl_json_depth_check agrees with the parser: a body jansson reads is
 *     refused exactly when it nests deeper than the limit;
 *   - a body that is an object goes through the getters (struct fl_jin with
 *     its document, never answered): what a getter returns is what the
 *     document holds and fits its buffer; the first problem recorded stays
 *     the one reported;
 *   - fl_cursor_decode of the body accepts only the one spelling
 *     fl_cursor_encode writes. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/jsonio.h"

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int depth_of(const json_t *v)
{
	const char *k;
	json_t *e;
	size_t i;
	int d = 0;

	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, k, e)
		{
			int x = depth_of(e);
			if (x > d)
				d = x;
		}
		return d + 1;
	}
	if (json_is_array(v)) {
		json_array_foreach(v, i, e)
		{
			int x = depth_of(e);
			if (x > d)
				d = x;
		}
		return d + 1;
	}
	return 0;
}

/* Runs a getter and checks the first-problem rule. */
static void after(struct fl_jin *j, fl_err before, bool ok)
{
	if (before != FL_OK)
		CHECK(j->err == before);
	if (!ok && j->err != FL_OK)
		CHECK(j->msg[0] != '\0' &&
		      memchr(j->msg, '\0', sizeof(j->msg)) != NULL);
	if (ok)
		CHECK(j->err == before);
}

static void getters(json_t *root, uint8_t cap_byte)
{
	static const char *const fields[] = {"s", "n", "b", "t", "o", NULL};
	struct fl_jin j;
	char buf[64];
	size_t cap = 1 + cap_byte % sizeof(buf);
	int64_t n = 0;
	bool b = false;
	fl_time t = 0;
	fl_err e;
	bool ok;

	memset(&j, 0, sizeof(j));
	j.root = root;

	e = j.err;
	fl_jin_only(&j, fields);
	after(&j, e, j.err == e);

	e = j.err;
	ok = fl_jin_str(&j, "s", cap_byte & 1, buf, cap);
	after(&j, e, ok);
	if (ok) {
		json_t *v = json_object_get(root, "s");

		CHECK(strlen(buf) < cap && json_is_string(v) &&
		      strlen(buf) == json_string_length(v) &&
		      memcmp(buf, json_string_value(v), strlen(buf)) == 0);
	}

	e = j.err;
	ok = fl_jin_int(&j, "n", cap_byte & 2, &n);
	after(&j, e, ok);
	if (ok)
		CHECK(n == json_integer_value(json_object_get(root, "n")));

	e = j.err;
	ok = fl_jin_bool(&j, "b", cap_byte & 4, &b);
	after(&j, e, ok);
	if (ok)
		CHECK(b == json_is_true(json_object_get(root, "b")));

	e = j.err;
	ok = fl_jin_time(&j, "t", cap_byte & 8, &t);
	after(&j, e, ok);
	if (ok) {
		const char *s = json_string_value(json_object_get(root, "t"));
		fl_time u = 0;

		CHECK(s != NULL && fl_time_parse(s, strlen(s), &u) == FL_OK &&
		      u == t);
	}

	e = j.err;
	ok = fl_jin_get(&j, "o", JSON_ARRAY, cap_byte & 16) != NULL;
	after(&j, e, ok);
	if (ok) {
		json_t *a = json_object_get(root, "o"), *v;
		size_t i;

		json_array_foreach(a, i, v)
		{
			e = j.err;
			ok = fl_jin_elem_str(&j, v, "element", buf, cap);
			after(&j, e, ok);
			if (ok)
				CHECK(strcmp(buf, json_string_value(v)) == 0);
		}
	}
	/* fl_jin_end would answer a request; without one the document is
	 * released here. */
	json_decref(j.root);
}

static void cursor(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), again[FL_CURSOR_MAX];
	int64_t ord = -1, back = -1;

	if (s == NULL)
		abort();
	if (size > 0)
		memcpy(s, data, size);
	s[size] = '\0';
	if (fl_cursor_decode(s, &ord) == FL_OK) {
		CHECK(ord >= 0);
		fl_cursor_encode(ord, again);
		CHECK(strcmp(again, s) == 0);
	} else {
		CHECK(ord == 0);
	}
	if (size >= 8) {
		uint64_t v = 0;

		memcpy(&v, data, 8);
		v &= (uint64_t)INT64_MAX;
		fl_cursor_encode((int64_t)v, again);
		CHECK(fl_cursor_decode(again, &back) == FL_OK &&
		      back == (int64_t)v);
	}
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t jerr;
	json_t *root;
	int max_depth;
	fl_err err;

	if (size < 1)
		return 0;
	max_depth = 1 + data[0] % 24;
	data++;
	size--;
	cursor(data, size);

	err = fl_json_depth_check((const char *)data, size, max_depth);
	CHECK(err == FL_OK || err == FL_E_JSON_DEPTH);
	root = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES,
	                  &jerr);
	if (root == NULL)
		return 0;
	if ((depth_of(root) > max_depth) != (err == FL_E_JSON_DEPTH)) {
		fprintf(stderr, "depth %d, limit %d, check says %s\n",
		        depth_of(root), max_depth, fl_strerror(err));
		abort();
	}
	if (!json_is_object(root) || err != FL_OK) {
		json_decref(root);
		return 0;
	}
	getters(root, (uint8_t)(size > 0 ? data[size - 1] : 0));
	return 0;
}
