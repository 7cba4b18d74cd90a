/*
 * Unit tests for the web pages' building blocks (server/web.h): HTML text
 * escaping, template filling, the compiled-in assets and their content
 * types, and the size cap of a page buffer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/web.h"

static void test_text_escapes_markup(void **state)
{
	struct fl_web_buf b = {.max = 1024};

	(void)state;
	fl_web_text(&b, "<img src=x onerror=alert(1)> & \"q\" 'a'");
	assert_false(b.failed);
	assert_string_equal(b.p, "&lt;img src=x onerror=alert(1)&gt; &amp; "
	                         "&quot;q&quot; &#39;a&#39;");
	free(b.p);
}

static void test_fill_text_and_raw(void **state)
{
	struct fl_web_buf b = {.max = 1024};
	const char *vars[] = {"v", "<b>", "r", "<i>x</i>", NULL};

	(void)state;
	fl_web_fill(&b, "a{{v}}b{{{r}}}c{{missing}}d{{unclosed", vars);
	assert_false(b.failed);
	assert_string_equal(b.p, "a&lt;b&gt;b<i>x</i>cd{{unclosed");
	free(b.p);
}

static void test_buffer_cap(void **state)
{
	struct fl_web_buf b = {.max = 8};

	(void)state;
	fl_web_put(&b, "1234567");
	assert_false(b.failed);
	fl_web_put(&b, "8");
	assert_true(b.failed);
	fl_web_put(&b, "9");
	assert_string_equal(b.p, "1234567");
	free(b.p);
}

static void test_assets(void **state)
{
	const struct fl_web_asset *a;

	(void)state;
	a = fl_web_asset_find("check.html");
	assert_non_null(a);
	assert_true(a->len > 100);
	assert_int_equal(a->data[a->len], 0);
	assert_true(strlen(a->etag) == 18 && a->etag[0] == '"');
	assert_non_null(strstr((const char *)a->data, "{{{result}}}"));
	assert_null(fl_web_asset_find("nope.js"));
	assert_null(fl_web_asset_find("../check.html"));
	assert_string_equal(fl_web_content_type("a.js"),
	                    "text/javascript; charset=utf-8");
	assert_string_equal(fl_web_content_type("a.css"),
	                    "text/css; charset=utf-8");
	assert_string_equal(fl_web_content_type("a.svg"), "image/svg+xml");
	assert_string_equal(fl_web_content_type("js"),
	                    "application/octet-stream");
	/* No asset refers to anything outside this origin. */
	for (size_t i = 0; i < fl_web_n_assets; i++) {
		const char *t = (const char *)fl_web_assets[i].data;

		assert_null(strstr(t, "https://"));
		assert_null(strstr(t, "<script>"));
		assert_null(strstr(t, "style=\""));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_text_escapes_markup),
	        cmocka_unit_test(test_fill_text_and_raw),
	        cmocka_unit_test(test_buffer_cap),
	        cmocka_unit_test(test_assets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
