/* libFuzzer target for the CLI's config file (src/cli/cli_conf.c): the
 * bytes are the file. Nothing may crash or read out of bounds; the parser
 * and the file reader agree (the file is the user's own, mode 0600); what
 * is accepted are values cli_conf_value_ok approves, and writing them back
 * as `finlock login` does reads again to the same settings. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The line parser is file-local; the target calls it directly, so the
 * module is compiled in here (the rest of the CLI library is linked). */
#include "cli/cli_conf.c"

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
	fd = fuzz_tmpfile(path, "fuzz_cliconf"); /* mode 0600, ours */
	atexit(cleanup);
	/* A refused file prints one line on stderr; across millions of
	 * inputs that would be the whole log. The sanitizers and libFuzzer
	 * write to file descriptor 2 themselves and are not affected. */
	fuzz_report = stderr;
	stderr = fopen("/dev/null", "w");
	if (stderr == NULL)
		abort();
	return 0;
}

static bool empty_or_ok(const char *v)
{
	return v[0] == '\0' || cli_conf_value_ok(v);
}

static void same_conf(const struct cli_conf *a, const struct cli_conf *b)
{
	CHECK(strcmp(a->server, b->server) == 0);
	CHECK(strcmp(a->key, b->key) == 0);
	CHECK(strcmp(a->cacert, b->cacert) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cli_conf c, f, again;
	char *text, *out, hint[16];
	size_t n = 0;
	int rc, frc;

	if (size > CONF_FILE_MAX)
		return 0;
	if (ftruncate(fd, 0) != 0 ||
	    (size > 0 && pwrite(fd, data, size, 0) != (ssize_t)size))
		abort();
	frc = cli_conf_load(path, NULL, &f);

	text = malloc(size + 1);
	if (text == NULL)
		abort();
	if (size > 0)
		memcpy(text, data, size);
	text[size] = '\0';
	memset(&c, 0, sizeof(c));
	if (strlen(text) != size) {
		/* A NUL byte: the reader refuses the file before parsing. */
		CHECK(frc == CLI_REFUSED);
		free(text);
		return 0;
	}
	rc = parse(path, text, &c);
	CHECK(rc == frc);
	free(text);
	if (rc != CLI_OK) {
		static const struct cli_conf z;

		CHECK(memcmp(&f, &z, sizeof(z)) == 0);
		return 0;
	}
	same_conf(&c, &f);
	CHECK(empty_or_ok(c.server) && empty_or_ok(c.key) &&
	      empty_or_ok(c.cacert));
	cli_key_hint(c.key, hint);
	CHECK(strlen(hint) < sizeof(hint));

	/* Written back the way cli_conf_write lays the file out. */
	out = malloc(3 * CLI_CONF_VALUE_MAX + 64);
	if (out == NULL)
		abort();
	if (c.server[0] != '\0')
		n += (size_t)sprintf(out + n, "server = %s\n", c.server);
	if (c.key[0] != '\0')
		n += (size_t)sprintf(out + n, "key = %s\n", c.key);
	if (c.cacert[0] != '\0')
		n += (size_t)sprintf(out + n, "cacert = %s\n", c.cacert);
	out[n] = '\0';
	memset(&again, 0, sizeof(again));
	CHECK(parse(path, out, &again) == CLI_OK);
	same_conf(&c, &again);
	free(out);
	cli_conf_wipe(&c);
	cli_conf_wipe(&f);
	return 0;
}
