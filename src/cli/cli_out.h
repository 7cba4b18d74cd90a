/*
 * cli_out.h - how finlock prints answers: tables for lists, aligned
 * "name  value" lines for one object, and with --json the server's JSON
 * exactly as it came.
 *
 * Lists are paginated by the server with cursors. cli_list_run() prints
 * one page, or with --all follows the cursors to the end, printing page
 * by page (memory holds one page at a time); with --json and --all it
 * prints one {"items": [...], "next_cursor": null} document made of every
 * page's items.
 *
 * THREAD SAFETY: the CLI is single-threaded.
 */
#ifndef FL_CLI_OUT_H
#define FL_CLI_OUT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "cli/cli_api.h"

#define CLI_COLS_MAX    12 /* columns of one table */
#define CLI_NCOLS(cols) (sizeof(cols) / sizeof((cols)[0]))

/* A table column: header, and the item's member shown (a dotted path
 * such as "device.state" reaches into nested objects). */
struct cli_col {
	const char *head;
	const char *field;
};

/* A value as one line of text into buf[cap]: strings as they are (control
 * characters as '?'), integers, true/false as yes/no, null or absent as
 * "-", arrays of scalars joined with ",". */
void cli_jtext(const json_t *v, char *buf, size_t cap);

/* The member at a dotted path ("device.state"), or NULL. Borrowed. */
json_t *cli_jpath(const json_t *obj, const char *path);

/* A string member, or "" when absent or not a string. Borrowed. */
const char *cli_jstr(const json_t *obj, const char *path);

/* Prints an object as aligned "name  value" lines, nested objects
 * indented, arrays of objects one element per line. */
void cli_print_object(FILE *out, const json_t *obj);

/* Prints items (a JSON array of objects) as a table of cols on stdout. */
void cli_print_table(const struct cli_col *cols, size_t ncols,
                     const json_t *items);

/* Prints the answer's body as it came (plus a newline if it has none). */
void cli_print_body(const struct cli_resp *r);

/* Prints an answer: the body with --json, else the object at `member`
 * (NULL for the whole answer) with cli_print_object. */
void cli_print_answer(const struct cli_api *api, const struct cli_resp *r,
                      const char *member);

struct cli_listing {
	const char *path;           /* path with any filter query */
	const char *limit;          /* --limit N, or NULL */
	const char *cursor;         /* --cursor C, or NULL */
	bool all;                   /* --all: follow every cursor */
	const struct cli_col *cols; /* table columns */
	size_t ncols;
	const char *none; /* printed when there is nothing ("no devices") */
};

/* The list options every list command takes, for its option table and its
 * help text. */
#define CLI_LIST_OPTS(l)                                                       \
	{"limit", CLI_OPT_STR, &(l).limit, false},                             \
	        {"cursor", CLI_OPT_STR, &(l).cursor, false},                   \
	{                                                                      \
		"all", CLI_OPT_FLAG, &(l).all, false                           \
	}
#define CLI_LIST_HELP                                                          \
	"  --limit N         items per page (1..500, the server's default "    \
	"50)\n"                                                                \
	"  --cursor C        start at this cursor (printed after a page)\n"    \
	"  --all             follow the cursors to the end of the list\n"

/* Lists, as described at the top. Returns an exit code. */
int cli_list_run(struct cli_api *api, const struct cli_listing *l);

/* Builds the path of a list page into buf[cap]: l->path, then limit and
 * cursor. false (message printed) if it does not fit or limit is bad. */
bool cli_list_page_path(char *buf, size_t cap, const struct cli_listing *l,
                        const char *cursor);

/* The whole of a simple command: opens the API with a's settings, sends
 * method path with body (taken: freed here; may be NULL), prints the
 * answer (cli_print_answer with member), frees everything. Returns the
 * exit code. */
int cli_run_call(const struct cli_args *a, const char *method, const char *path,
                 json_t *body, const char *member);

/* The whole of a list command: opens the API and runs cli_list_run. */
int cli_run_list(const struct cli_args *a, const struct cli_listing *l);

#endif
