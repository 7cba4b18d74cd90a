/* libFuzzer target for `finlock devices import`'s CSV reader
 * (src/cli/cli_import.c): the bytes are the file. The reader and the
 * in-file duplicate check run as the command runs them before it talks to
 * a server. Nothing may crash, leak or read out of bounds, and:
 *
 *   - a file read is at least one row, rows in file order (their line
 *     numbers strictly increase);
 *   - a row not reported bad has a valid IMEI, an IMEI 2 that is empty or
 *     valid and different, a serial of printable characters, a printable
 *     model, and no IMEI that another good row also has; the request that
 *     registers it can be built and carries all of it;
 *   - every bad row is counted once and has its entry (line and message) in
 *     the errors that --json prints. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The reader is file-local; the command's module is compiled in here (the
 * rest of the CLI library is linked). */
#include "cli/cli_import.c"

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static char path[64];
static int fd = -1;

static void cleanup(void)
{
	unlink(path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fd = fuzz_tmpfile(path, "fuzz_csv"); /* mode 0600, ours */
	atexit(cleanup);
	/* Every bad row prints a line on stderr; across millions of inputs
	 * that would be the whole log. The sanitizers and libFuzzer write to
	 * file descriptor 2 themselves and are not affected. */
	fuzz_report = stderr;
	stderr = fopen("/dev/null", "w");
	if (stderr == NULL)
		abort();
	return 0;
}

static bool printable_str(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

static bool imei_ok(const char *s)
{
	char out[FL_IMEI_LEN + 1];

	return fl_imei_parse(s, strlen(s), out) == FL_OK && strcmp(out, s) == 0;
}

/* Every line number that has a bad row must appear in the errors. */
static bool listed(const json_t *errors, unsigned line)
{
	const json_t *e;
	size_t i;

	json_array_foreach(errors, i, e)
	{
		json_t *l = json_object_get(e, "line");
		json_t *m = json_object_get(e, "message");

		if (json_is_integer(l) && json_integer_value(l) == line &&
		    json_is_string(m))
			return true;
	}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct import im;
	json_t *body;
	size_t bad = 0;
	int rc;

	if (ftruncate(fd, 0) != 0 ||
	    (size > 0 && pwrite(fd, data, size, 0) != (ssize_t)size))
		abort();
	memset(&im, 0, sizeof(im));
	im.file = "devices.csv";
	im.errors = json_array();
	if (im.errors == NULL)
		abort();
	rc = read_file(&im, path);
	if (rc == CLI_OK)
		rc = find_duplicates(&im);
	if (rc != CLI_OK)
		goto out;
	CHECK(im.n >= 1 && im.n_bad <= im.n);
	for (size_t i = 0; i < im.n; i++) {
		const struct row *r = &im.rows[i];

		CHECK(r->line >= 1);
		if (i > 0)
			CHECK(r->line > im.rows[i - 1].line);
		if (r->bad) {
			bad++;
			CHECK(listed(im.errors, r->line));
			continue;
		}
		CHECK(imei_ok(r->imei));
		CHECK(r->imei2[0] == '\0' || imei_ok(r->imei2));
		CHECK(strcmp(r->imei, r->imei2) != 0);
		CHECK(r->serial[0] != '\0' && printable_str(r->serial));
		CHECK(printable_str(r->model));
		body = row_body(r);
		CHECK(body != NULL);
		CHECK(strcmp(cli_jstr(body, "serial"), r->serial) == 0);
		CHECK(strcmp(cli_jstr(body, "imei"), r->imei) == 0);
		CHECK((json_object_get(body, "model") != NULL) ==
		      (r->model[0] != '\0'));
		CHECK((json_object_get(body, "imei2") != NULL) ==
		      (r->imei2[0] != '\0'));
		json_decref(body);
		for (size_t k = 0; k < i; k++) {
			const struct row *o = &im.rows[k];

			if (o->bad)
				continue;
			CHECK(strcmp(o->imei, r->imei) != 0);
			CHECK(o->imei2[0] == '\0' ||
			      strcmp(o->imei2, r->imei) != 0);
			CHECK(r->imei2[0] == '\0' ||
			      (strcmp(o->imei, r->imei2) != 0 &&
			       strcmp(o->imei2, r->imei2) != 0));
		}
	}
	CHECK(bad == im.n_bad);
out:
	free(im.rows);
	json_decref(im.errors);
	return 0;
}
