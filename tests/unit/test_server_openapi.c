/*
 * docs/openapi.yaml and the router must describe the same API: the set of
 * (method, path) pairs in the document's `paths` equals the set of routes
 * in the route tables; every operation has a summary and an operationId
 * of its own, and one that needs a key lists 401; every path parameter has
 * an example. (tests/integration/test_server_openapi_live.c checks the
 * statuses against a running server.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "server/router.h"

#define MAX_OPS 256

struct ops {
	char method[MAX_OPS][8];
	char path[MAX_OPS][160];
	int summary[MAX_OPS];
	char op_id[MAX_OPS][64];
	int public_op[MAX_OPS]; /* security: [] */
	int has_401[MAX_OPS];
	int n;
};

static FILE *open_doc(void)
{
	const char *tries[] = {"docs/openapi.yaml", "../docs/openapi.yaml",
	                       "../../docs/openapi.yaml"};

	for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		FILE *f = fopen(tries[i], "r");

		if (f != NULL)
			return f;
	}
	return NULL;
}

/* Reads the paths section: "  /path:" then "    method:" lines. */
static void read_doc(struct ops *o)
{
	char line[1024], path[160] = "";
	bool in_paths = false;
	FILE *f = open_doc();

	assert_non_null(f);
	o->n = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if (strcmp(line, "paths:") == 0) {
			in_paths = true;
			continue;
		}
		if (!in_paths)
			continue;
		if (line[0] != ' ' && line[0] != '\0')
			break; /* the next top-level key */
		if (strncmp(line, "  /", 3) == 0) {
			char *colon = strrchr(line, ':');

			assert_non_null(colon);
			*colon = '\0';
			snprintf(path, sizeof(path), "%.150s", line + 2);
			continue;
		}
		const char *methods[] = {"get", "post", "put", "delete",
		                         "patch"};
		for (size_t m = 0; m < 5; m++) {
			char want[16];

			snprintf(want, sizeof(want), "    %s:", methods[m]);
			if (strncmp(line, want, strlen(want)) == 0) {
				assert_true(o->n < MAX_OPS);
				for (size_t k = 0; methods[m][k]; k++)
					o->method[o->n][k] =
					        (char)(methods[m][k] - 'a' +
					               'A');
				o->method[o->n][strlen(methods[m])] = '\0';
				snprintf(o->path[o->n], sizeof(o->path[0]),
				         "%s", path);
				o->n++;
			}
		}
		if (strncmp(line, "      summary:", 14) == 0 && o->n > 0)
			o->summary[o->n - 1] = 1;
		if (strncmp(line, "      operationId: ", 19) == 0 && o->n > 0)
			snprintf(o->op_id[o->n - 1], sizeof(o->op_id[0]),
			         "%.60s", line + 19);
		if (strcmp(line, "      security: []") == 0 && o->n > 0)
			o->public_op[o->n - 1] = 1;
		if (strcmp(line, "        \"401\":") == 0 && o->n > 0)
			o->has_401[o->n - 1] = 1;
	}
	fclose(f);
}

static void add_route(void *ctx, const struct fl_route *r)
{
	struct ops *o = ctx;

	assert_true(o->n < MAX_OPS);
	snprintf(o->method[o->n], sizeof(o->method[0]), "%s", r->method);
	snprintf(o->path[o->n], sizeof(o->path[0]), "%s", r->pattern);
	o->n++;
}

static int find(const struct ops *o, const char *method, const char *path)
{
	int hits = 0;

	for (int i = 0; i < o->n; i++)
		hits += strcmp(o->method[i], method) == 0 &&
		        strcmp(o->path[i], path) == 0;
	return hits;
}

static void test_router_and_document_agree(void **state)
{
	struct ops *doc = calloc(1, sizeof(*doc));
	struct ops *code = calloc(1, sizeof(*code));
	int missing = 0;

	(void)state;
	read_doc(doc);
	fl_router_each(add_route, code);
	assert_true(code->n > 30);
	for (int i = 0; i < code->n; i++) {
		int hits = find(doc, code->method[i], code->path[i]);

		if (hits != 1) {
			fprintf(stderr,
			        "route %s %s is %s in docs/openapi.yaml\n",
			        code->method[i], code->path[i],
			        hits ? "repeated" : "missing");
			missing++;
		}
		/* and the router has it once */
		assert_int_equal(find(code, code->method[i], code->path[i]), 1);
	}
	for (int i = 0; i < doc->n; i++) {
		if (find(code, doc->method[i], doc->path[i]) != 1) {
			fprintf(stderr,
			        "docs/openapi.yaml has %s %s, the router does "
			        "not\n",
			        doc->method[i], doc->path[i]);
			missing++;
		}
		if (!doc->summary[i]) {
			fprintf(stderr, "%s %s has no summary\n",
			        doc->method[i], doc->path[i]);
			missing++;
		}
		if (doc->op_id[i][0] == '\0') {
			fprintf(stderr, "%s %s has no operationId\n",
			        doc->method[i], doc->path[i]);
			missing++;
		}
		for (int k = 0; k < i; k++) {
			if (doc->op_id[i][0] != '\0' &&
			    strcmp(doc->op_id[k], doc->op_id[i]) == 0) {
				fprintf(stderr, "operationId %s is repeated\n",
				        doc->op_id[i]);
				missing++;
			}
		}
		if (!doc->public_op[i] && !doc->has_401[i] &&
		    strncmp(doc->path[i], "/v1/device/", 11) != 0) {
			fprintf(stderr, "%s %s needs a key but lists no 401\n",
			        doc->method[i], doc->path[i]);
			missing++;
		}
	}
	assert_int_equal(missing, 0);
	assert_int_equal(doc->n, code->n);
	free(doc);
	free(code);
}

/* Every path parameter of components/parameters has an example. */
static void test_path_parameters_have_examples(void **state)
{
	char line[1024], name[64] = "";
	bool in_params = false, path_param = false, example = false;
	int checked = 0;
	FILE *f = open_doc();

	(void)state;
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		size_t ind = strspn(line, " ");

		line[strcspn(line, "\r\n")] = '\0';
		if (strcmp(line, "  parameters:") == 0) {
			in_params = true;
			continue;
		}
		if (!in_params)
			continue;
		if (ind <= 4 && line[0] != '\0') {
			/* the end of the previous parameter */
			if (path_param && !example)
				fail_msg("path parameter %s has no example",
				         name);
			checked += path_param;
			path_param = example = false;
			if (ind < 4)
				break;
			snprintf(name, sizeof(name), "%.60s", line + 4);
			continue;
		}
		if (strcmp(line, "      in: path") == 0)
			path_param = true;
		if (strncmp(line, "      example: ", 15) == 0)
			example = true;
	}
	fclose(f);
	assert_true(checked >= 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_router_and_document_agree),
	        cmocka_unit_test(test_path_parameters_have_examples),
	};
	return cmocka_run_group_tests_name("server_openapi", tests, NULL, NULL);
}
