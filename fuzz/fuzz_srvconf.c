/* libFuzzer target for finlockd's settings (src/server/config.c): the bytes
 * are a config file (`key = value` lines), and again an environment (one
 * NAME=value per line). Nothing may crash or read out of bounds; a refused
 * file leaves the settings as they were and says why; an accepted file
 * gives settings that written back out as a config file load again to the
 * very same settings (so every value is one fl_config_set accepts: in its
 * range, not too long). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The settings table is file-local; the target walks it, so the parser is
 * compiled in here (the rest of the server library is linked). */
#include "server/config.c"

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static char path[64], back_path[64];
static int fd = -1, back_fd = -1;

static void put(int f, const void *buf, size_t len)
{
	if (ftruncate(f, 0) != 0 ||
	    (len > 0 && pwrite(f, buf, len, 0) != (ssize_t)len))
		abort();
}

static void cleanup(void)
{
	unlink(path);
	unlink(back_path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fd = fuzz_tmpfile(path, "fuzz_srvconf");
	back_fd = fuzz_tmpfile(back_path, "fuzz_srvconf");
	atexit(cleanup);
	return 0;
}

static int msg_ok(const char *err)
{
	return memchr(err, '\0', FL_CONFIG_ERR_MAX) != NULL;
}

/* Writes every setting of c as a config file. */
static char *write_back(const struct fl_config *c, size_t *len)
{
	size_t cap = 64 * 1024, n = 0;
	char *out = malloc(cap);
	const char *p = (const char *)c;

	if (out == NULL)
		abort();
	for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
		const struct setting *s = &settings[i];
		const void *v = p + s->off;
		int w = 0;

		switch (s->kind) {
		case K_STR:
		case K_LEVEL:
		case K_LISTEN:
		case K_CIDRS:
			CHECK(memchr(v, '\0', s->cap) != NULL);
			w = snprintf(out + n, cap - n, "%s = %s\n", s->key,
			             (const char *)v);
			break;
		case K_BOOL:
			w = snprintf(out + n, cap - n, "%s = %s\n", s->key,
			             *(const bool *)v ? "true" : "false");
			break;
		case K_INT:
			w = snprintf(out + n, cap - n, "%s = %d\n", s->key,
			             *(const int *)v);
			break;
		case K_SIZE:
			w = snprintf(out + n, cap - n, "%s = %zu\n", s->key,
			             *(const size_t *)v);
			break;
		case K_DOUBLE:
			w = snprintf(out + n, cap - n, "%s = %.17g\n", s->key,
			             *(const double *)v);
			break;
		}
		CHECK(w > 0 && (size_t)w < cap - n);
		n += (size_t)w;
	}
	*len = n;
	return out;
}

/* The same settings: strings compared as strings (a shorter value set
 * over a longer one leaves bytes after its NUL), the rest as values. */
static int same_settings(const struct fl_config *a, const struct fl_config *b)
{
	const char *pa = (const char *)a, *pb = (const char *)b;

	for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
		const struct setting *s = &settings[i];
		const void *va = pa + s->off, *vb = pb + s->off;
		int same = 0;

		switch (s->kind) {
		case K_STR:
		case K_LEVEL:
		case K_LISTEN:
		case K_CIDRS:
			same = strcmp(va, vb) == 0;
			break;
		case K_BOOL:
			same = *(const bool *)va == *(const bool *)vb;
			break;
		case K_INT:
			same = *(const int *)va == *(const int *)vb;
			break;
		case K_SIZE:
			same = *(const size_t *)va == *(const size_t *)vb;
			break;
		case K_DOUBLE:
			same = *(const double *)va == *(const double *)vb;
			break;
		}
		if (!same) {
			fprintf(stderr, "setting %s differs\n", s->key);
			return 0;
		}
	}
	return 1;
}

static void env(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *envp[65], err[FL_CONFIG_ERR_MAX];
	struct fl_config c;
	size_t n = 0;

	if (text == NULL)
		abort();
	if (size > 0)
		memcpy(text, data, size);
	text[size] = '\0';
	for (char *l = text; l != NULL && n < 64;) {
		char *nl = strchr(l, '\n');

		if (nl != NULL)
			*nl++ = '\0';
		envp[n++] = l;
		l = nl;
	}
	envp[n] = NULL;
	fl_config_defaults(&c);
	if (fl_config_load_env(&c, envp, err) != FL_OK)
		CHECK(err[0] != '\0' && msg_ok(err));
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fl_config c, before, again;
	char err[FL_CONFIG_ERR_MAX];
	char *text;
	size_t len = 0;
	fl_err rc;

	fl_config_defaults(&c);
	before = c;
	put(fd, data, size);
	rc = fl_config_load_file(&c, path, err);
	CHECK(msg_ok(err));
	if (rc != FL_OK) {
		CHECK(rc == FL_E_CONFIG && err[0] != '\0');
		CHECK(memcmp(&c, &before, sizeof(c)) == 0);
	} else {
		text = write_back(&c, &len);
		put(back_fd, text, len);
		fl_config_defaults(&again);
		if (fl_config_load_file(&again, back_path, err) != FL_OK) {
			fprintf(stderr, "written back settings refused: %s\n",
			        err);
			abort();
		}
		CHECK(same_settings(&c, &again));
		(void)fl_config_check(&c, err);
		CHECK(msg_ok(err));
		free(text);
	}
	env(data, size);
	return 0;
}
