/*
 * cli_out.c - tables, objects and raw JSON on stdout (cli_out.h).
 */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_out.h"

#define CELL_MAX   256    /* longest cell shown in a table */
#define PAGES_MAX  100000 /* pages followed by --all */
#define KEY_INDENT 2      /* spaces per nesting level */
#define WIDTH_ROWS 2000   /* --all: rows read before the widths are fixed */

json_t *cli_jpath(const json_t *obj, const char *path)
{
	const json_t *v = obj;
	char part[64];

	while (v != NULL && *path != '\0') {
		size_t n = strcspn(path, ".");

		if (n >= sizeof(part))
			return NULL;
		memcpy(part, path, n);
		part[n] = '\0';
		v = json_object_get(v, part);
		path += n;
		if (*path == '.')
			path++;
	}
	return (json_t *)v;
}

const char *cli_jstr(const json_t *obj, const char *path)
{
	const char *s = json_string_value(cli_jpath(obj, path));

	return s != NULL ? s : "";
}

static void clean(char *out, size_t cap, const char *s)
{
	size_t n = 0;

	for (; *s != '\0' && n + 1 < cap; s++)
		out[n++] = (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s;
	out[n] = '\0';
}

void cli_jtext(const json_t *v, char *buf, size_t cap)
{
	size_t i, used;
	json_t *e;

	buf[0] = '\0';
	switch (json_typeof(v)) {
	case JSON_STRING:
		clean(buf, cap, json_string_value(v));
		break;
	case JSON_INTEGER:
		snprintf(buf, cap, "%" JSON_INTEGER_FORMAT,
		         json_integer_value(v));
		break;
	case JSON_REAL:
		snprintf(buf, cap, "%g", json_real_value(v));
		break;
	case JSON_TRUE:
		snprintf(buf, cap, "yes");
		break;
	case JSON_FALSE:
		snprintf(buf, cap, "no");
		break;
	case JSON_ARRAY:
		used = 0;
		json_array_foreach(v, i, e)
		{
			char part[CELL_MAX];

			if (json_is_object(e) || json_is_array(e))
				snprintf(part, sizeof(part), "...");
			else
				cli_jtext(e, part, sizeof(part));
			if (used + strlen(part) + 2 >= cap)
				break;
			used += (size_t)snprintf(buf + used, cap - used, "%s%s",
			                         i ? "," : "", part);
		}
		if (used == 0)
			snprintf(buf, cap, "-");
		break;
	case JSON_OBJECT:
		snprintf(buf, cap, "{...}");
		break;
	default:
		snprintf(buf, cap, "-");
		break;
	}
}

static bool is_scalar_array(const json_t *v)
{
	size_t i;
	json_t *e;

	json_array_foreach(v, i, e)
	{
		if (json_is_object(e) || json_is_array(e))
			return false;
	}
	return true;
}

/* One line for an object inside an array: "k v, k v". */
static void inline_object(FILE *out, const json_t *obj)
{
	const char *k;
	json_t *v;
	bool first = true;

	json_object_foreach((json_t *)obj, k, v)
	{
		char text[CELL_MAX];

		cli_jtext(v, text, sizeof(text));
		fprintf(out, "%s%s %s", first ? "" : ", ", k, text);
		first = false;
	}
}

static void print_object_at(FILE *out, const json_t *obj, int indent)
{
	size_t width = 0, i;
	const char *k;
	json_t *v, *e;

	json_object_foreach((json_t *)obj, k, v)
	{
		if (strlen(k) > width)
			width = strlen(k);
	}
	json_object_foreach((json_t *)obj, k, v)
	{
		char text[1024];

		if (json_is_object(v) && json_object_size(v) > 0) {
			fprintf(out, "%*s%s\n", indent, "", k);
			print_object_at(out, v, indent + KEY_INDENT);
			continue;
		}
		if (json_is_array(v) && !is_scalar_array(v)) {
			fprintf(out, "%*s%s\n", indent, "", k);
			json_array_foreach(v, i, e)
			{
				fprintf(out, "%*s- ", indent + KEY_INDENT, "");
				if (json_is_object(e))
					inline_object(out, e);
				else
					fputs("...", out);
				fputc('\n', out);
			}
			continue;
		}
		cli_jtext(v, text, sizeof(text));
		fprintf(out, "%*s%-*s  %s\n", indent, "", (int)width, k, text);
	}
}

void cli_print_object(FILE *out, const json_t *obj)
{
	if (json_is_object(obj))
		print_object_at(out, obj, 0);
}

void cli_print_body(const struct cli_resp *r)
{
	fwrite(r->body, 1, r->len, stdout);
	if (r->len == 0 || r->body[r->len - 1] != '\n')
		fputc('\n', stdout);
}

void cli_print_answer(const struct cli_api *api, const struct cli_resp *r,
                      const char *member)
{
	const json_t *d = json_object_get(r->json, "device");

	if (cli_api_json(api)) {
		cli_print_body(r);
		return;
	}
	cli_print_object(stdout,
	                 member != NULL ? cli_jpath(r->json, member) : r->json);
	/* The device the change applied to, in one line. */
	if (member != NULL && json_is_object(d))
		printf("device %s: %s%s, amount due %lld, paid through %s\n",
		       cli_jstr(d, "id"), cli_jstr(d, "state"),
		       json_is_true(json_object_get(d, "stolen")) ? " (stolen)"
		                                                  : "",
		       (long long)json_integer_value(
		               json_object_get(d, "amount_due")),
		       json_is_string(json_object_get(d, "paid_through"))
		               ? cli_jstr(d, "paid_through")
		               : "-");
}

/* --- tables --------------------------------------------------------------- */

struct table {
	const struct cli_col *cols;
	size_t ncols;
	size_t width[CLI_COLS_MAX];
	bool started; /* header printed, widths fixed */
};

/* One row; empty cells at its end leave no trailing blanks. */
static void table_row(const struct table *t, char cells[][CELL_MAX])
{
	size_t last = t->ncols;

	while (last > 1 && cells[last - 1][0] == '\0')
		last--;
	for (size_t c = 0; c < last; c++) {
		if (c + 1 == last)
			fprintf(stdout, "%s\n", cells[c]);
		else
			fprintf(stdout, "%-*s  ", (int)t->width[c], cells[c]);
	}
}

/* Prints a page of items; the first page fixes the column widths. */
static void table_page(struct table *t, const json_t *items)
{
	char cells[CLI_COLS_MAX][CELL_MAX];
	size_t i;
	json_t *it;

	if (!t->started) {
		for (size_t c = 0; c < t->ncols; c++)
			t->width[c] = strlen(t->cols[c].head);
		json_array_foreach(items, i, it)
		{
			for (size_t c = 0; c < t->ncols; c++) {
				cli_jtext(cli_jpath(it, t->cols[c].field),
				          cells[c], CELL_MAX);
				if (strlen(cells[c]) > t->width[c])
					t->width[c] = strlen(cells[c]);
			}
		}
		for (size_t c = 0; c < t->ncols; c++)
			snprintf(cells[c], CELL_MAX, "%s", t->cols[c].head);
		table_row(t, cells);
		t->started = true;
	}
	json_array_foreach(items, i, it)
	{
		for (size_t c = 0; c < t->ncols; c++)
			cli_jtext(cli_jpath(it, t->cols[c].field), cells[c],
			          CELL_MAX);
		table_row(t, cells);
	}
}

void cli_print_table(const struct cli_col *cols, size_t ncols,
                     const json_t *items)
{
	struct table t = {
	        cols, ncols < CLI_COLS_MAX ? ncols : CLI_COLS_MAX, {0}, false};

	table_page(&t, items);
}

bool cli_list_page_path(char *buf, size_t cap, const struct cli_listing *l,
                        const char *cursor)
{
	if (l->limit != NULL) {
		char *end;
		long v = strtol(l->limit, &end, 10);

		if (end == l->limit || *end != '\0' || v < 1 || v > 500) {
			cli_err("--limit must be a number in 1..500");
			return false;
		}
	}
	if ((size_t)snprintf(buf, cap, "%s", l->path) >= cap) {
		cli_err("request path too long");
		return false;
	}
	if (l->limit != NULL && !cli_query(buf, cap, "limit", l->limit))
		return false;
	if (cursor != NULL && cursor[0] != '\0' &&
	    !cli_query(buf, cap, "cursor", cursor))
		return false;
	return true;
}

int cli_list_run(struct cli_api *api, const struct cli_listing *l)
{
	struct table t = {l->cols, l->ncols, {0}, false};
	char path[CLI_PATH_MAX], cursor[CLI_CURSOR_MAX] = "";
	bool json = cli_api_json(api);
	size_t shown = 0, pages = 0;
	json_t *pending = json_array(); /* rows waiting for the widths */
	int rc = CLI_OK;

	if (pending == NULL) {
		cli_err("out of memory");
		return CLI_REFUSED;
	}
	if (l->cursor != NULL)
		snprintf(cursor, sizeof(cursor), "%s", l->cursor);
	if (t.ncols > CLI_COLS_MAX)
		t.ncols = CLI_COLS_MAX;
	for (;;) {
		struct cli_resp r;
		json_t *items, *next;
		size_t i;
		json_t *it;

		if (!cli_list_page_path(path, sizeof(path), l, cursor)) {
			json_decref(pending);
			return shown ? CLI_REFUSED : CLI_USAGE;
		}
		rc = cli_api_call(api, "GET", path, NULL, NULL, &r);
		if (rc != CLI_OK)
			break;
		items = json_object_get(r.json, "items");
		next = json_object_get(r.json, "next_cursor");
		if (!json_is_array(items)) {
			cli_err("the server's answer has no list of items");
			cli_resp_free(&r);
			rc = CLI_REFUSED;
			break;
		}
		if (json && !l->all) {
			cli_print_body(&r);
		} else if (json) {
			json_array_foreach(items, i, it)
			{
				fputs(shown + i == 0 ? "{\"items\":[" : ",",
				      stdout);
				json_dumpf(it, stdout, JSON_COMPACT);
			}
		} else if (l->all && !t.started) {
			/* Gather the first rows so the widths fit them. */
			json_array_extend(pending, items);
			if (json_array_size(pending) >= WIDTH_ROWS) {
				table_page(&t, pending);
				json_array_clear(pending);
			}
		} else if (json_array_size(items) > 0) {
			table_page(&t, items);
		}
		shown += json_array_size(items);
		pages++;
		if (!json_is_string(next) ||
		    json_string_length(next) >= sizeof(cursor) ||
		    strcmp(json_string_value(next), cursor) == 0) {
			cursor[0] = '\0';
			cli_resp_free(&r);
			break;
		}
		snprintf(cursor, sizeof(cursor), "%s", json_string_value(next));
		cli_resp_free(&r);
		if (!l->all)
			break;
		if (pages >= PAGES_MAX) {
			cli_err("stopped after %d pages", PAGES_MAX);
			rc = CLI_REFUSED;
			break;
		}
	}
	if (json_array_size(pending) > 0)
		table_page(&t, pending);
	json_decref(pending);
	if (json && l->all && rc == CLI_OK)
		fputs(shown == 0 ? "{\"items\":[],\"next_cursor\":null}\n"
		                 : "],\"next_cursor\":null}\n",
		      stdout);
	if (rc == CLI_OK && !json && shown == 0 && l->none != NULL)
		fprintf(stderr, "finlock: %s\n", l->none);
	if (rc == CLI_OK && !l->all && cursor[0] != '\0')
		fprintf(stderr,
		        "finlock: more: run again with --cursor %s, or with "
		        "--all\n",
		        cursor);
	return rc;
}

int cli_run_call(const struct cli_args *a, const char *method, const char *path,
                 json_t *body, const char *member)
{
	struct cli_api *api = NULL;
	struct cli_resp r;
	int rc;

	rc = cli_api_open(&api, a, true);
	if (rc == CLI_OK)
		rc = cli_api_call(api, method, path, body, NULL, &r);
	if (rc == CLI_OK) {
		cli_print_answer(api, &r, member);
		cli_resp_free(&r);
	}
	json_decref(body);
	cli_api_free(api);
	return rc;
}

int cli_run_list(const struct cli_args *a, const struct cli_listing *l)
{
	struct cli_api *api = NULL;
	int rc;

	rc = cli_api_open(&api, a, true);
	if (rc == CLI_OK)
		rc = cli_list_run(api, l);
	cli_api_free(api);
	return rc;
}
