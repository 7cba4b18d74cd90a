#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/fltime.h"

#include <errno.h>
#include <time.h>

#include <jansson.h>

#define STDIN_CAP (1u << 20)

/* What a failed command prints with --json (cli_finish). */
static struct {
	bool on;         /* --json was given */
	bool printed;    /* the server's error object is already out */
	char first[512]; /* the first message, "" if none yet */
} json_errors;

void cli_err(const char *fmt, ...)
{
	va_list ap;

	if (json_errors.on && json_errors.first[0] == '\0') {
		va_start(ap, fmt);
		vsnprintf(json_errors.first, sizeof(json_errors.first), fmt,
		          ap);
		va_end(ap);
	}
	fputs("finlock: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void cli_json_errors(bool on)
{
	json_errors.on = on;
	json_errors.printed = false;
	json_errors.first[0] = '\0';
}

void cli_json_error_printed(void)
{
	json_errors.printed = true;
}

int cli_finish(int rc)
{
	static const char *const codes[] = {
	        [CLI_REFUSED] = "refused",
	        [CLI_USAGE] = "usage",
	        [CLI_UNREACHABLE] = "unreachable",
	};
	json_t *j;

	if (!json_errors.on || rc == CLI_OK || json_errors.printed)
		return rc;
	j = json_pack("{s:{s:s,s:s}}", "error", "code",
	              rc > 0 && rc <= CLI_UNREACHABLE ? codes[rc] : "refused",
	              "message",
	              json_errors.first[0] != '\0' ? json_errors.first
	                                           : "failed");
	if (j != NULL) {
		json_dumpf(j, stdout, JSON_COMPACT);
		fputc('\n', stdout);
		json_decref(j);
	}
	json_errors.printed = true;
	return rc;
}

bool cli_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return false;
		if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0)
			return true;
	}
	return false;
}

void cli_print_group_help(FILE *out, const char *path, const char *about,
                          const struct cli_cmd *table, size_t n)
{
	const char *rest;
	int width = 14;

	for (size_t i = 0; i < n; i++)
		if ((int)strlen(table[i].name) > width)
			width = (int)strlen(table[i].name);
	fprintf(out, "usage: %s <command> [options]\n\n%s\n\ncommands:\n", path,
	        about);
	for (size_t i = 0; i < n; i++)
		fprintf(out, "  %-*s %s\n", width, table[i].name,
		        table[i].summary);
	rest = strchr(path, ' ');
	fprintf(out,
	        "\nRun 'finlock help %s%s<command>' for a command's "
	        "options.\n",
	        rest != NULL ? rest + 1 : "", rest != NULL ? " " : "");
}

int cli_dispatch(const char *path, const char *about,
                 const struct cli_cmd *table, size_t n, int argc, char **argv)
{
	for (size_t i = 0; argc >= 2 && i < n; i++) {
		if (strcmp(argv[1], table[i].name) == 0)
			return table[i].run(argc - 1, argv + 1);
	}
	if (argc >= 2 &&
	    (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	     strcmp(argv[1], "help") == 0)) {
		cli_print_group_help(stdout, path, about, table, n);
		return CLI_OK;
	}
	if (argc < 2) {
		cli_print_group_help(stderr, path, about, table, n);
		return CLI_USAGE;
	}
	/* "finlock: devices: unknown ...", never "finlock: finlock: ..." */
	if (strchr(path, ' ') != NULL)
		cli_err("%s: unknown command '%s' (try '%s --help')",
		        strchr(path, ' ') + 1, argv[1], path);
	else
		cli_err("unknown command '%s' (try '%s --help')", argv[1],
		        path);
	return CLI_USAGE;
}

int cli_run_group(const struct cli_group *g, int argc, char **argv)
{
	return cli_dispatch(g->path, g->about, g->cmds, g->n, argc, argv);
}

char *cli_arg_or_stdin(const char *arg)
{
	char *buf;
	size_t len = 0;

	if (strcmp(arg, "-") != 0) {
		buf = strdup(arg);
		if (buf == NULL)
			cli_err("out of memory");
		return buf;
	}
	buf = malloc(STDIN_CAP + 1);
	if (buf == NULL) {
		cli_err("out of memory");
		return NULL;
	}
	len = fread(buf, 1, STDIN_CAP + 1, stdin);
	if (len > STDIN_CAP) {
		cli_err("standard input is larger than %u bytes", STDIN_CAP);
		free(buf);
		return NULL;
	}
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	buf[len] = '\0';
	return buf;
}

fl_time cli_now(void)
{
	const char *path = getenv("FINLOCK_TEST_CLOCK");
	char buf[32], *end;
	long long v;
	size_t n;
	FILE *f;

	if (path == NULL || path[0] == '\0')
		return (fl_time)time(NULL);
	f = fopen(path, "re");
	if (f == NULL)
		return (fl_time)time(NULL);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	v = strtoll(buf, &end, 10);
	if (end == buf || (*end != '\0' && *end != '\n') || v < 0 ||
	    v > FL_TIME_MAX)
		return (fl_time)time(NULL);
	return (fl_time)v;
}

int cli_time_arg(const char *what, const char *s, char out[21])
{
	fl_time t, now = cli_now();
	int64_t d;

	if (strcmp(s, "now") == 0) {
		t = now;
	} else if (s[0] == '+') {
		if (fl_duration_parse(s + 1, strlen(s + 1), &d) != FL_OK ||
		    d > FL_TIME_MAX - (int64_t)now) {
			cli_err("--%s: '%s' is not a duration (+90s, +2h, +3d)",
			        what, s);
			return CLI_REFUSED;
		}
		t = now + d;
	} else {
		fl_err err = fl_time_parse(s, strlen(s), &t);

		if (err != FL_OK) {
			cli_err("--%s: '%s': %s (use RFC 3339, "
			        "2026-12-01T09:00:00+03:00, or now, +2h, +3d)",
			        what, s, fl_strerror(err));
			return CLI_REFUSED;
		}
	}
	fl_time_format(t, out);
	return CLI_OK;
}

int cli_int_arg(const char *what, const char *s, long long min, long long max,
                long long *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (end == s || *end != '\0' || errno != 0 || v < min || v > max) {
		cli_err("--%s must be a whole number in %lld..%lld, not '%s'",
		        what, min, max, s);
		return CLI_REFUSED;
	}
	*out = v;
	return CLI_OK;
}
