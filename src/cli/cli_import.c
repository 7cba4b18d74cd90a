/*
 * cli_import.c - `finlock devices import FILE.csv`: register a reseller's
 * list of phones.
 *
 * The file has the columns IMEI, IMEI 2, serial, model (IMEI 2 and model
 * may be empty), comma-separated, fields optionally in double quotes
 * (RFC 4180). A first row whose first field is not digits is a header;
 * with a header the columns may come in any order and are found by name
 * (imei, imei 2 / imei2, serial, model).
 *
 * Nothing is half-imported:
 *   1. The whole file is validated first: every bad row is reported with
 *      its line number (invalid IMEI, IMEI 2 equal to IMEI, missing serial,
 *      an IMEI that appears twice in the file, too many columns).
 *   2. Every IMEI is then checked against the server: among the lender's
 *      own devices (with its key), and against every program through the
 *      public IMEI check (rate-limited: finlock waits as the server's
 *      Retry-After says; --no-public-check skips it). An IMEI already in
 *      a program is a bad row.
 *   3. Only when no row is bad (and without --dry-run) are the rows
 *      registered, one request each, in file order, each with its own
 *      Idempotency-Key so that a request whose answer was lost is retried
 *      once without registering twice.
 * If the server still refuses a row in step 3 (another lender registered
 * that IMEI in between, or the server went away), finlock stops there: the
 * rows before it stay registered and are listed with their enrollment
 * codes, the rest are not sent, and the exit code is 1 (3 if the server
 * went away). Running the same command again with --skip-registered
 * continues: rows already registered as the lender's device with the same
 * IMEIs and serial are skipped instead of reported.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_api.h"
#include "cli/cli_cmds.h"
#include "cli/cli_out.h"
#include "core/crypto.h"
#include "core/imei.h"

#define FILE_MAX  (16u << 20) /* largest CSV file read */
#define ROWS_MAX  100000      /* most data rows */
#define FIELD_MAX 128         /* longest field, bytes */
#define COLS      4           /* IMEI, IMEI 2, serial, model */
#define WAITS_MAX 600         /* rate-limit waits per import */

enum col { C_IMEI, C_IMEI2, C_SERIAL, C_MODEL };

struct row {
	unsigned line;               /* where the record starts, 1-based */
	char imei[FL_IMEI_LEN + 1];  /* normalised, "" if bad */
	char imei2[FL_IMEI_LEN + 1]; /* normalised, "" if none or bad */
	char serial[FIELD_MAX];
	char model[FIELD_MAX];
	bool bad;        /* reported */
	bool skip;       /* already registered (--skip-registered) */
	char device[64]; /* the existing device when skipped */
};

struct import {
	const char *file; /* name, for messages */
	struct row *rows; /* owned */
	size_t n, cap;
	size_t n_bad;   /* rows reported bad */
	int map[COLS];  /* column index in the file for each col, -1 */
	json_t *errors; /* [{"line", "message"}] of the bad rows; owned */
};

static void row_bad(struct import *im, struct row *r, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void row_bad(struct import *im, struct row *r, const char *fmt, ...)
{
	char msg[512];
	json_t *e;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cli_err("%s:%u: %s", im->file, r->line, msg);
	e = json_pack("{s:i,s:s}", "line", (int)r->line, "message", msg);
	if (e == NULL) {
		/* The message quotes the file, which need not be UTF-8; a JSON
		 * string must be. The row is listed all the same, its
		 * message with '?' for every byte outside ASCII. */
		for (char *p = msg; *p != '\0'; p++)
			if ((unsigned char)*p >= 0x80)
				*p = '?';
		e = json_pack("{s:i,s:s}", "line", (int)r->line, "message",
		              msg);
	}
	json_array_append_new(im->errors, e);
	if (!r->bad)
		im->n_bad++;
	r->bad = true;
}

/* --- reading the CSV ------------------------------------------------------ */

struct record {
	char f[COLS + 1][FIELD_MAX]; /* fields; one more to detect extras */
	size_t nf;                   /* fields seen (may exceed COLS) */
	bool too_long;               /* a field went over FIELD_MAX */
	bool bad_quote;              /* a quote inside an unquoted field, or
	                                an unterminated quoted field */
	unsigned line;               /* first line */
};

/* Reads one record from text at *pos, counting lines in *line. Returns
 * false at the end of the text. */
static bool next_record(const char *text, size_t len, size_t *pos,
                        unsigned *line, struct record *rec)
{
	size_t p = *pos, fl = 0;
	bool quoted = false, in_field_quotes = false, any = false;

	memset(rec, 0, sizeof(*rec));
	if (p >= len)
		return false;
	rec->line = *line;
	rec->nf = 1;
	while (p < len) {
		char ch = text[p++];

		any = true;
		if (in_field_quotes) {
			if (ch == '"' && p < len && text[p] == '"') {
				p++;
			} else if (ch == '"') {
				in_field_quotes = false;
				continue;
			} else if (ch == '\n') {
				(*line)++;
			}
		} else if (ch == '"' && fl == 0 && !quoted) {
			in_field_quotes = quoted = true;
			continue;
		} else if (ch == '"') {
			rec->bad_quote = true;
			continue;
		} else if (ch == ',') {
			rec->nf++;
			fl = 0;
			quoted = false;
			continue;
		} else if (ch == '\r' && p < len && text[p] == '\n') {
			continue;
		} else if (ch == '\n') {
			(*line)++;
			break;
		} else if (quoted) {
			/* text after a closing quote */
			rec->bad_quote = true;
			continue;
		}
		if (rec->nf <= COLS + 1) {
			if (fl + 1 >= FIELD_MAX) {
				rec->too_long = true;
			} else {
				rec->f[rec->nf - 1][fl++] = ch;
				rec->f[rec->nf - 1][fl] = '\0';
			}
		}
	}
	if (in_field_quotes)
		rec->bad_quote = true;
	if (p >= len && !any)
		return false;
	*pos = p;
	return true;
}

static void trim(char *s)
{
	size_t n = strlen(s), i = 0;

	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	while (n > i && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	memmove(s, s + i, n - i);
	s[n - i] = '\0';
}

static bool blank(const struct record *rec)
{
	for (size_t i = 0; i < rec->nf && i <= COLS; i++)
		if (rec->f[i][0] != '\0')
			return false;
	return true;
}

/* A header row names its columns; the first field of a data row is an
 * IMEI, so digits and separators only. */
static bool is_header(const struct record *rec)
{
	for (const char *p = rec->f[0]; *p != '\0'; p++)
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))
			return true;
	return false;
}

/* Maps a header row's names to columns. */
static bool read_header(struct import *im, const struct record *rec)
{
	for (size_t i = 0; i < COLS; i++)
		im->map[i] = -1;
	for (size_t i = 0; i < rec->nf && i < COLS; i++) {
		char name[FIELD_MAX];
		size_t n = 0;
		int c;

		for (const char *p = rec->f[i]; *p != '\0'; p++)
			if (*p != ' ' && *p != '_' && *p != '-' && *p != '.')
				name[n++] = *p;
		name[n] = '\0';
		if (strcasecmp(name, "imei") == 0 ||
		    strcasecmp(name, "imei1") == 0)
			c = C_IMEI;
		else if (strcasecmp(name, "imei2") == 0)
			c = C_IMEI2;
		else if (strcasecmp(name, "serial") == 0 ||
		         strcasecmp(name, "serialnumber") == 0 ||
		         strcasecmp(name, "serialno") == 0)
			c = C_SERIAL;
		else if (strcasecmp(name, "model") == 0)
			c = C_MODEL;
		else {
			cli_err("%s:%u: unknown column '%s' in the header "
			        "(IMEI, IMEI 2, serial, model)",
			        im->file, rec->line, rec->f[i]);
			return false;
		}
		if (im->map[c] != -1) {
			cli_err("%s:%u: column '%s' appears twice in the "
			        "header",
			        im->file, rec->line, rec->f[i]);
			return false;
		}
		im->map[c] = (int)i;
	}
	if (rec->nf > COLS) {
		cli_err("%s:%u: the header has more than %d columns", im->file,
		        rec->line, COLS);
		return false;
	}
	if (im->map[C_IMEI] == -1 || im->map[C_SERIAL] == -1) {
		cli_err("%s:%u: the header needs an IMEI and a serial column",
		        im->file, rec->line);
		return false;
	}
	return true;
}

static bool printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/* True when s is UTF-8 (shortest forms, no surrogates): the request that
 * registers a row is JSON, whose strings must be. A file saved in another
 * encoding (Latin-1 from a spreadsheet) is refused here, before anything
 * is registered, rather than half-way through. */
static bool utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p != '\0') {
		unsigned long cp;
		int more;

		if (*p < 0x80) {
			p++;
			continue;
		}
		if ((*p & 0xe0) == 0xc0) {
			more = 1;
			cp = *p & 0x1fu;
		} else if ((*p & 0xf0) == 0xe0) {
			more = 2;
			cp = *p & 0x0fu;
		} else if ((*p & 0xf8) == 0xf0) {
			more = 3;
			cp = *p & 0x07u;
		} else {
			return false;
		}
		p++;
		for (int i = 0; i < more; i++, p++) {
			if ((*p & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (*p & 0x3fu);
		}
		if ((more == 1 && cp < 0x80) || (more == 2 && cp < 0x800) ||
		    (more == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
	}
	return true;
}

static const char *field(const struct import *im, const struct record *rec,
                         enum col c)
{
	int i = im->map[c];

	return i >= 0 && (size_t)i < rec->nf ? rec->f[i] : "";
}

/* Validates a data record into a new row. */
static int add_row(struct import *im, struct record *rec)
{
	const char *raw;
	struct row *r;
	fl_err err;

	if (im->n == ROWS_MAX) {
		cli_err("%s: more than %d rows; split the file", im->file,
		        ROWS_MAX);
		return CLI_REFUSED;
	}
	if (im->n == im->cap) {
		size_t cap = im->cap ? im->cap * 2 : 64;
		struct row *nr = realloc(im->rows, cap * sizeof(*nr));

		if (nr == NULL) {
			cli_err("out of memory");
			return CLI_REFUSED;
		}
		im->rows = nr;
		im->cap = cap;
	}
	r = &im->rows[im->n++];
	memset(r, 0, sizeof(*r));
	r->line = rec->line;
	if (rec->bad_quote) {
		row_bad(im, r, "badly quoted field");
		return CLI_OK;
	}
	if (rec->too_long) {
		row_bad(im, r, "a field is longer than %d bytes",
		        FIELD_MAX - 1);
		return CLI_OK;
	}
	if (rec->nf > COLS) {
		row_bad(im, r,
		        "%zu columns; expected at most %d (IMEI, IMEI "
		        "2, serial, model)",
		        rec->nf, COLS);
		return CLI_OK;
	}
	raw = field(im, rec, C_IMEI);
	if (raw[0] == '\0')
		row_bad(im, r, "missing IMEI");
	else if ((err = fl_imei_parse(raw, strlen(raw), r->imei)) != FL_OK) {
		r->imei[0] = '\0';
		row_bad(im, r, "invalid IMEI '%s': %s", raw, fl_strerror(err));
	}
	raw = field(im, rec, C_IMEI2);
	if (raw[0] != '\0' &&
	    (err = fl_imei_parse(raw, strlen(raw), r->imei2)) != FL_OK) {
		r->imei2[0] = '\0';
		row_bad(im, r, "invalid IMEI 2 '%s': %s", raw,
		        fl_strerror(err));
	}
	if (r->imei[0] != '\0' && strcmp(r->imei, r->imei2) == 0) {
		row_bad(im, r, "IMEI 2 is the same as IMEI");
		r->imei2[0] = '\0';
	}
	snprintf(r->serial, sizeof(r->serial), "%s", field(im, rec, C_SERIAL));
	snprintf(r->model, sizeof(r->model), "%s", field(im, rec, C_MODEL));
	if (r->serial[0] == '\0')
		row_bad(im, r, "missing serial");
	else if (!printable(r->serial))
		row_bad(im, r, "the serial has a control character");
	else if (!utf8(r->serial))
		row_bad(im, r, "the serial is not UTF-8 text");
	if (!printable(r->model))
		row_bad(im, r, "the model has a control character");
	else if (!utf8(r->model))
		row_bad(im, r, "the model is not UTF-8 text");
	return CLI_OK;
}

/* Reads and validates the whole file. */
/* Reads f whole into a malloc'd *text (NUL-terminated, *len bytes), the
 * buffer sized by the file (not FILE_MAX up front: most files are small),
 * reading at most FILE_MAX + 1 bytes so that a larger file is seen as
 * one. 0, or -1 with *text NULL (out of memory) or not (a read error). */
static int read_all(FILE *f, char **text, size_t *len)
{
	struct stat st;
	size_t cap = 64 * 1024, n;
	char *grown;

	*len = 0;
	if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) &&
	    (uint64_t)st.st_size < FILE_MAX)
		cap = (size_t)st.st_size + 1; /* + 1: sees a file that grew */
	*text = malloc(cap + 1);
	if (*text == NULL)
		return -1;
	for (;;) {
		n = fread(*text + *len, 1, cap - *len, f);
		*len += n;
		if (*len < cap || cap > FILE_MAX)
			break;
		cap = cap * 2 > FILE_MAX + 1 ? FILE_MAX + 1 : cap * 2;
		grown = realloc(*text, cap + 1);
		if (grown == NULL) {
			free(*text);
			*text = NULL;
			return -1;
		}
		*text = grown;
	}
	if (ferror(f))
		return -1;
	(*text)[*len] = '\0';
	return 0;
}

static int read_file(struct import *im, const char *path)
{
	struct record *rec = NULL;
	unsigned line = 1;
	size_t len = 0, pos = 0;
	bool first = true;
	char *text = NULL;
	FILE *f;
	int rc = CLI_REFUSED;

	for (size_t i = 0; i < COLS; i++)
		im->map[i] = (int)i;
	f = fopen(path, "rb");
	if (f == NULL) {
		cli_err("cannot open %s", path);
		return CLI_REFUSED;
	}
	rec = malloc(sizeof(*rec));
	if (rec == NULL || read_all(f, &text, &len) != 0) {
		if (rec == NULL || text == NULL)
			cli_err("out of memory");
		else
			cli_err("cannot read %s", path);
		goto out;
	}
	if (len > FILE_MAX) {
		cli_err("%s is larger than %u MiB; split it", path,
		        FILE_MAX >> 20);
		goto out;
	}
	text[len] = '\0';
	if (memchr(text, '\0', len) != NULL) {
		cli_err("%s is not a text file", path);
		goto out;
	}
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		pos = 3; /* a UTF-8 byte order mark, as spreadsheets write */
	while (next_record(text, len, &pos, &line, rec)) {
		for (size_t i = 0; i <= COLS && i < rec->nf; i++)
			trim(rec->f[i]);
		if (blank(rec))
			continue;
		if (first && is_header(rec)) {
			first = false;
			if (!read_header(im, rec))
				goto out;
			continue;
		}
		first = false;
		if (add_row(im, rec) != CLI_OK)
			goto out;
	}
	if (im->n == 0) {
		cli_err("%s has no rows to import", path);
		goto out;
	}
	rc = CLI_OK;
out:
	fclose(f);
	free(text);
	free(rec);
	return rc;
}

/* --- duplicates within the file ------------------------------------------- */

struct ref {
	const char *imei;
	size_t row;
};

static int ref_cmp(const void *a, const void *b)
{
	const struct ref *x = a, *y = b;
	int c = strcmp(x->imei, y->imei);

	if (c != 0)
		return c;
	return x->row < y->row ? -1 : x->row > y->row;
}

static int find_duplicates(struct import *im)
{
	struct ref *refs = calloc(im->n * 2, sizeof(*refs));
	size_t n = 0;

	if (refs == NULL) {
		cli_err("out of memory");
		return CLI_REFUSED;
	}
	for (size_t i = 0; i < im->n; i++) {
		if (im->rows[i].imei[0] != '\0')
			refs[n++] = (struct ref){im->rows[i].imei, i};
		if (im->rows[i].imei2[0] != '\0')
			refs[n++] = (struct ref){im->rows[i].imei2, i};
	}
	qsort(refs, n, sizeof(*refs), ref_cmp);
	for (size_t i = 1; i < n; i++) {
		size_t first = i - 1;

		if (strcmp(refs[i].imei, refs[i - 1].imei) != 0)
			continue;
		while (first > 0 &&
		       strcmp(refs[first - 1].imei, refs[i].imei) == 0)
			first--;
		row_bad(im, &im->rows[refs[i].row],
		        "IMEI %s is also on line %u", refs[i].imei,
		        im->rows[refs[first].row].line);
	}
	free(refs);
	return CLI_OK;
}

/* --- checks against the server -------------------------------------------- */

/* Asks the public IMEI check for imei; *taken is set when it is in a
 * program. Waits as told on 429. */
static int public_check(struct cli_api *api, const char *imei, bool *taken,
                        int *waits)
{
	char path[CLI_PATH_MAX];

	*taken = false;
	if (!cli_path(path, sizeof(path), "/v1/imei", imei, NULL))
		return CLI_REFUSED;
	for (;;) {
		struct cli_resp r;
		const char *st;
		int rc = cli_api_send(api, "GET", path, NULL, NULL, NULL, &r);

		if (rc != CLI_OK)
			return rc;
		if (r.status == 429 && *waits < WAITS_MAX) {
			int secs = r.retry_after > 0 ? r.retry_after : 1;

			if (*waits == 0)
				fprintf(stderr,
				        "finlock: the server limits IMEI "
				        "checks; waiting as it asks (use "
				        "--no-public-check to skip them)\n");
			(*waits)++;
			cli_resp_free(&r);
			sleep((unsigned)secs);
			continue;
		}
		if (r.status != 200) {
			cli_api_print_error(&r);
			cli_resp_free(&r);
			return CLI_REFUSED;
		}
		st = cli_jstr(r.json, "status");
		*taken = strcmp(st, "financed") == 0 ||
		         strcmp(st, "stolen") == 0;
		cli_resp_free(&r);
		return CLI_OK;
	}
}

/* Checks one IMEI of row r (which = "IMEI" or "IMEI 2"). */
static int check_imei(struct import *im, struct cli_api *api, struct row *r,
                      const char *imei, const char *which, bool skip_ok,
                      bool public, int *waits)
{
	json_t *d = NULL;
	bool taken = false;
	int rc = cli_api_find_imei(api, imei, &d);

	if (rc != CLI_OK)
		return rc;
	if (d != NULL && strcmp(cli_jstr(d, "state"), "released") != 0) {
		bool same = strcmp(cli_jstr(d, "imei"), r->imei) == 0 &&
		            strcmp(cli_jstr(d, "imei2"), r->imei2) == 0 &&
		            strcmp(cli_jstr(d, "serial"), r->serial) == 0;

		if (skip_ok && same) {
			r->skip = true;
			snprintf(r->device, sizeof(r->device), "%s",
			         cli_jstr(d, "id"));
		} else {
			row_bad(im, r,
			        "%s %s is already registered as your device "
			        "%s",
			        which, imei, cli_jstr(d, "id"));
		}
		json_decref(d);
		return CLI_OK;
	}
	json_decref(d);
	if (!public)
		return CLI_OK;
	rc = public_check(api, imei, &taken, waits);
	if (rc == CLI_OK && taken)
		row_bad(im, r, "%s %s is already in a financing program", which,
		        imei);
	return rc;
}

static int check_server(struct import *im, struct cli_api *api, bool skip_ok,
                        bool public)
{
	int waits = 0, rc;

	for (size_t i = 0; i < im->n; i++) {
		struct row *r = &im->rows[i];

		if (r->bad)
			continue;
		rc = check_imei(im, api, r, r->imei, "IMEI", skip_ok, public,
		                &waits);
		if (rc == CLI_OK && r->imei2[0] != '\0' && !r->skip && !r->bad)
			rc = check_imei(im, api, r, r->imei2, "IMEI 2", skip_ok,
			                public, &waits);
		if (rc != CLI_OK)
			return rc;
	}
	return CLI_OK;
}

/* --- registering ---------------------------------------------------------- */

static json_t *row_body(const struct row *r)
{
	json_t *b =
	        json_pack("{s:s,s:s}", "imei", r->imei, "serial", r->serial);

	if (b != NULL && r->imei2[0] != '\0')
		json_object_set_new(b, "imei2", json_string(r->imei2));
	if (b != NULL && r->model[0] != '\0')
		json_object_set_new(b, "model", json_string(r->model));
	return b;
}

/* Registers row r; on success *answer gets the server's answer, on a
 * refusal *error its error document (either may stay NULL). A lost answer
 * is retried once with the same Idempotency-Key. */
static int register_row(struct cli_api *api, const struct row *r,
                        const char *run, json_t **answer, json_t **error)
{
	char idem[96], *text;
	json_t *body = row_body(r);
	struct cli_resp resp;
	int rc;

	*answer = *error = NULL;
	text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (text == NULL) {
		cli_err("out of memory");
		return CLI_REFUSED;
	}
	snprintf(idem, sizeof(idem), "import-%s-%u", run, r->line);
	rc = cli_api_send(api, "POST", "/v1/devices", text, idem, NULL, &resp);
	if (rc == CLI_UNREACHABLE) {
		fprintf(stderr, "finlock: retrying line %u once\n", r->line);
		sleep(1);
		rc = cli_api_send(api, "POST", "/v1/devices", text, idem, NULL,
		                  &resp);
	}
	free(text);
	if (rc != CLI_OK)
		return rc;
	if (resp.status < 200 || resp.status >= 300 || resp.json == NULL) {
		cli_api_print_error(&resp);
		*error = json_incref(resp.json);
		cli_resp_free(&resp);
		return CLI_REFUSED;
	}
	*answer = json_incref(resp.json);
	cli_resp_free(&resp);
	return CLI_OK;
}

static void print_row_head(void)
{
	printf("%-6s  %-15s  %-26s  %-12s  %s\n", "LINE", "IMEI", "DEVICE",
	       "CODE", "CODE VALID UNTIL");
}

static void print_row(unsigned line, const char *imei, const json_t *ans)
{
	printf("%-6u  %-15s  %-26s  %-12s  %s\n", line, imei,
	       cli_jstr(ans, "device.id"), cli_jstr(ans, "enrollment_code"),
	       cli_jstr(ans, "enrollment_code_expires_at"));
}

static int register_all(struct import *im, struct cli_api *api, bool json)
{
	json_t *out = json_pack("{s:b,s:[],s:[],s:n}", "dry_run", 0,
	                        "registered", "skipped", "failed");
	uint8_t rnd[8];
	char run[17];
	size_t done = 0, todo = 0;
	int rc = CLI_OK;

	if (out == NULL) {
		cli_err("out of memory");
		return CLI_REFUSED;
	}
	fl_random(rnd, sizeof(rnd));
	fl_hex_encode(run, rnd, sizeof(rnd));
	for (size_t i = 0; i < im->n; i++)
		todo += !im->rows[i].skip;
	if (!json && todo > 0)
		print_row_head();
	for (size_t i = 0; i < im->n; i++) {
		struct row *r = &im->rows[i];
		json_t *ans = NULL, *err = NULL;

		if (r->skip) {
			fprintf(stderr,
			        "finlock: %s:%u: already registered as %s, "
			        "skipped\n",
			        im->file, r->line, r->device);
			json_array_append_new(json_object_get(out, "skipped"),
			                      json_pack("{s:i,s:s,s:s}", "line",
			                                (int)r->line, "imei",
			                                r->imei, "device_id",
			                                r->device));
			continue;
		}
		rc = register_row(api, r, run, &ans, &err);
		if (rc != CLI_OK) {
			cli_err("%s:%u: not registered; stopped here", im->file,
			        r->line);
			json_object_set_new(
			        out, "failed",
			        json_pack("{s:i,s:s,s:o}", "line", (int)r->line,
			                  "imei", r->imei, "error",
			                  err != NULL ? err : json_null()));
			break;
		}
		done++;
		if (!json)
			print_row(r->line, r->imei, ans);
		fflush(stdout);
		json_array_append_new(json_object_get(out, "registered"),
		                      json_pack("{s:i,s:o}", "line",
		                                (int)r->line, "answer", ans));
	}
	if (json) {
		json_dumpf(out, stdout, JSON_COMPACT);
		fputc('\n', stdout);
		cli_json_error_printed(); /* the report says what failed */
	}
	if (rc != CLI_OK)
		cli_err("registered %zu of %zu rows; the rows after the "
		        "failed one were not sent. Fix the cause and run the "
		        "same command with --skip-registered to continue.",
		        done, todo);
	else
		fprintf(stderr, "finlock: registered %zu device%s\n", done,
		        done == 1 ? "" : "s");
	json_decref(out);
	return rc;
}

static void print_dry_run(const struct import *im, bool json)
{
	json_t *out = json_pack("{s:b,s:[],s:[]}", "dry_run", 1,
	                        "would_register", "skipped");
	size_t n = 0;

	for (size_t i = 0; i < im->n; i++) {
		const struct row *r = &im->rows[i];

		if (r->skip) {
			json_array_append_new(json_object_get(out, "skipped"),
			                      json_pack("{s:i,s:s,s:s}", "line",
			                                (int)r->line, "imei",
			                                r->imei, "device_id",
			                                r->device));
			continue;
		}
		json_array_append_new(json_object_get(out, "would_register"),
		                      json_pack("{s:i,s:o}", "line",
		                                (int)r->line, "device",
		                                row_body(r)));
		if (!json) {
			if (n == 0)
				printf("%-6s  %-15s  %-15s  %-20s  %s\n",
				       "LINE", "IMEI", "IMEI 2", "SERIAL",
				       "MODEL");
			printf("%-6u  %-15s  %-15s  %-20s  %s\n", r->line,
			       r->imei, r->imei2[0] ? r->imei2 : "-", r->serial,
			       r->model[0] ? r->model : "-");
		}
		n++;
	}
	if (json) {
		json_dumpf(out, stdout, JSON_COMPACT);
		fputc('\n', stdout);
	}
	fprintf(stderr,
	        "finlock: dry run: %zu devices would be registered; nothing "
	        "was\n",
	        n);
	json_decref(out);
}

static const char import_usage[] =
        "usage: finlock devices import FILE.csv [--dry-run] "
        "[--skip-registered]\n"
        "                              [--no-public-check]\n"
        "\n"
        "Registers every phone of a reseller's CSV file: columns IMEI, IMEI "
        "2,\n"
        "serial, model (IMEI 2 and model may be empty), an optional header "
        "row.\n"
        "The whole file is checked first, locally (IMEIs, serials, "
        "duplicates)\n"
        "and against the server (IMEIs already in a program); every bad row "
        "is\n"
        "reported with its line number and then nothing is registered.\n"
        "\n"
        "  --dry-run          check everything, register nothing\n"
        "  --skip-registered  skip rows already registered as your device "
        "with\n"
        "                     the same IMEIs and serial (to continue an "
        "import\n"
        "                     that stopped) instead of reporting them\n"
        "  --no-public-check  do not ask the rate-limited public IMEI check\n"
        "                     about other lenders' programs (faster for "
        "big\n"
        "                     files; such a row is then refused while "
        "registering)\n"
        "\n"
        "If the server refuses a row while registering, the import stops "
        "there:\n"
        "the rows before it stay registered (listed with their codes), the "
        "rest\n"
        "are not sent, and the exit code is 1. Admin or clerk key.\n";

int cli_devices_import(int argc, char **argv)
{
	bool dry_run, skip_ok, no_public;
	const struct cli_opt opts[] = {
	        {"dry-run", CLI_OPT_FLAG, &dry_run, false},
	        {"skip-registered", CLI_OPT_FLAG, &skip_ok, false},
	        {"no-public-check", CLI_OPT_FLAG, &no_public, false},
	        {NULL, 0, NULL, false}};
	const struct cli_spec spec = {
	        "devices import", import_usage, opts, 1, 1, true};
	struct import im;
	struct cli_api *api = NULL;
	struct cli_args a;
	int rc = cli_parse(&a, &spec, argc, argv);

	if (rc != CLI_CONTINUE)
		return rc;
	memset(&im, 0, sizeof(im));
	im.file = a.pos[0];
	im.errors = json_array();
	if (im.errors == NULL) {
		cli_err("out of memory");
		return CLI_REFUSED;
	}
	rc = cli_api_open(&api, &a, true);
	if (rc != CLI_OK)
		return rc;
	rc = read_file(&im, a.pos[0]);
	if (rc == CLI_OK)
		rc = find_duplicates(&im);
	if (rc == CLI_OK)
		rc = check_server(&im, api, skip_ok, !no_public);
	if (rc == CLI_OK && im.n_bad > 0) {
		if (a.json) {
			json_t *out =
			        json_pack("{s:b,s:O,s:[]}", "dry_run", dry_run,
			                  "errors", im.errors, "registered");

			json_dumpf(out, stdout, JSON_COMPACT);
			fputc('\n', stdout);
			json_decref(out);
			cli_json_error_printed(); /* the report has them */
		}
		cli_err("%zu bad row%s in %s; nothing was registered", im.n_bad,
		        im.n_bad == 1 ? "" : "s", im.file);
		rc = CLI_REFUSED;
	}
	if (rc == CLI_OK && dry_run)
		print_dry_run(&im, a.json);
	else if (rc == CLI_OK)
		rc = register_all(&im, api, a.json);
	else if (im.n_bad == 0 && im.n > 0)
		cli_err("nothing was registered");
	free(im.rows);
	json_decref(im.errors);
	cli_api_free(api);
	return rc;
}
