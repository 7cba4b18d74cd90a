/*
 * cli_args.c - the option parser every command shares (cli.h).
 *
 * Commands describe their options in a table; this file turns the table
 * into getopt_long's, adds the connection options of commands that talk
 * to finlockd, and reports every mistake as one line.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

#define OPTS_MAX 48 /* options of one command, connection options included */

enum {
	O_HELP = 'h',
	O_SERVER = 900,
	O_KEY,
	O_CACERT,
	O_INSECURE,
	O_TIMEOUT,
	O_JSON,
	O_PROFILE,
	O_SPEC = 1000, /* + index into spec->opts */
};

/* The connection options' help, one entry per line: the option, then its
 * description (a second line of description in the same entry after
 * '\n'). Printed in the column of the command's own options. */
static const char *const conn_help[][2] = {
        {"--server URL", "finlockd's address (else $FINLOCK_SERVER, else the\n"
                         "config file)"},
        {"--key KEY", "API key (else $FINLOCK_API_KEY, else the config "
                      "file)"},
        {"--profile NAME", "the config file's profile to use (else\n"
                           "$FINLOCK_PROFILE, else the default one)"},
        {"--cacert FILE", "trust this CA certificate for https (else\n"
                          "$FINLOCK_CACERT, else the config file)"},
        {"--insecure", "skip TLS verification and allow plain http to a\n"
                       "non-loopback host (only when you mean it)"},
        {"--timeout SECS", "give up on a request after SECS seconds "
                           "(default 60)"},
        {"--json", "print JSON instead of a table; a failure prints a "
                   "JSON\nerror object (docs/cli.md)"},
};

/* The column where the descriptions of usage's option lines begin (the
 * first "  --" line), at least 20. */
static int option_column(const char *usage)
{
	for (const char *l = usage; l != NULL && *l != '\0';
	     l = strchr(l, '\n') != NULL ? strchr(l, '\n') + 1 : NULL) {
		const char *p = l + 2;

		if (strncmp(l, "  --", 4) != 0)
			continue;
		while (*p != '\0' && *p != '\n' &&
		       !(p[0] == ' ' && p[1] == ' '))
			p++;
		while (*p == ' ')
			p++;
		if (*p == '\0' || *p == '\n')
			continue;
		return (int)(p - l) > 20 ? (int)(p - l) : 20;
	}
	return 20;
}

static void print_usage(const struct cli_spec *spec)
{
	int col = option_column(spec->usage);

	fputs(spec->usage, stdout);
	if (!spec->server)
		return;
	fputs("\nconnection options:\n", stdout);
	for (size_t i = 0; i < sizeof(conn_help) / sizeof(conn_help[0]); i++) {
		const char *d = conn_help[i][1];
		size_t n = strcspn(d, "\n");

		printf("  %-*s%.*s\n", col - 2, conn_help[i][0], (int)n, d);
		if (d[n] == '\n')
			printf("%*s%s\n", col, "", d + n + 1);
	}
}

/* Fills lo[] from the spec; returns the count, or -1 if over OPTS_MAX. */
static int build(const struct cli_spec *spec, struct option *lo)
{
	static const struct option conn[] = {
	        {"server", required_argument, NULL, O_SERVER},
	        {"key", required_argument, NULL, O_KEY},
	        {"cacert", required_argument, NULL, O_CACERT},
	        {"insecure", no_argument, NULL, O_INSECURE},
	        {"timeout", required_argument, NULL, O_TIMEOUT},
	        {"json", no_argument, NULL, O_JSON},
	        {"profile", required_argument, NULL, O_PROFILE},
	};
	int n = 0;

	lo[n++] = (struct option){"help", no_argument, NULL, O_HELP};
	if (spec->server)
		for (size_t i = 0; i < sizeof(conn) / sizeof(conn[0]); i++)
			lo[n++] = conn[i];
	for (int i = 0; spec->opts != NULL && spec->opts[i].name != NULL; i++) {
		if (n >= OPTS_MAX - 1)
			return -1;
		lo[n++] = (struct option){spec->opts[i].name,
		                          spec->opts[i].kind == CLI_OPT_FLAG
		                                  ? no_argument
		                                  : required_argument,
		                          NULL, O_SPEC + i};
	}
	lo[n] = (struct option){NULL, 0, NULL, 0};
	return n;
}

/* Stores one spec option's value; CLI_USAGE if a list is full. */
static int store(const struct cli_spec *spec, int i, const char *arg)
{
	const struct cli_opt *o = &spec->opts[i];
	struct cli_list *l;

	switch (o->kind) {
	case CLI_OPT_STR:
		*(const char **)o->out = arg;
		break;
	case CLI_OPT_FLAG:
		*(bool *)o->out = true;
		break;
	case CLI_OPT_LIST:
		l = o->out;
		if (l->n >= CLI_LIST_MAX) {
			cli_err("%s: --%s given more than %d times", spec->path,
			        o->name, CLI_LIST_MAX);
			return CLI_USAGE;
		}
		l->v[l->n++] = arg;
		break;
	}
	return CLI_CONTINUE;
}

static bool was_given(const struct cli_opt *o)
{
	switch (o->kind) {
	case CLI_OPT_STR:
		return *(const char **)o->out != NULL;
	case CLI_OPT_FLAG:
		return *(bool *)o->out;
	case CLI_OPT_LIST:
		return ((struct cli_list *)o->out)->n > 0;
	}
	return false;
}

int cli_parse(struct cli_args *a, const struct cli_spec *spec, int argc,
              char **argv)
{
	struct option lo[OPTS_MAX];
	int c, rc;

	memset(a, 0, sizeof(*a));
	for (int i = 0; spec->opts != NULL && spec->opts[i].name != NULL; i++) {
		const struct cli_opt *o = &spec->opts[i];

		if (o->kind == CLI_OPT_STR)
			*(const char **)o->out = NULL;
		else if (o->kind == CLI_OPT_FLAG)
			*(bool *)o->out = false;
		else
			memset(o->out, 0, sizeof(struct cli_list));
	}
	if (build(spec, lo) < 0) {
		cli_err("%s: too many options", spec->path);
		return CLI_USAGE;
	}
	/* Help wins over every other mistake on the line. */
	if (cli_wants_help(argc, argv)) {
		print_usage(spec);
		return CLI_OK;
	}
	optind = 0; /* full re-initialisation (glibc) */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		switch (c) {
		case O_HELP:
			print_usage(spec);
			return CLI_OK;
		case O_SERVER:
			a->server = optarg;
			break;
		case O_KEY:
			a->key = optarg;
			break;
		case O_CACERT:
			a->cacert = optarg;
			break;
		case O_INSECURE:
			a->insecure = true;
			break;
		case O_TIMEOUT:
			a->timeout = optarg;
			break;
		case O_JSON:
			a->json = true;
			break;
		case O_PROFILE:
			a->profile = optarg;
			break;
		case ':':
			cli_err("%s: %s needs a value (try --help)", spec->path,
			        argv[optind - 1]);
			return CLI_USAGE;
		case '?':
			if (optopt != 0)
				cli_err("%s: unknown option '-%c' (try --help)",
				        spec->path, optopt);
			else
				cli_err("%s: unknown option '%s' (try --help)",
				        spec->path, argv[optind - 1]);
			return CLI_USAGE;
		default:
			rc = store(spec, c - O_SPEC, optarg);
			if (rc != CLI_CONTINUE)
				return rc;
			break;
		}
	}
	for (int i = 0; spec->opts != NULL && spec->opts[i].name != NULL; i++) {
		if (spec->opts[i].required && !was_given(&spec->opts[i])) {
			cli_err("%s: --%s is required (try --help)", spec->path,
			        spec->opts[i].name);
			return CLI_USAGE;
		}
	}
	for (int i = optind; i < argc; i++) {
		if (a->npos >= spec->max_pos || a->npos >= CLI_POS_MAX) {
			cli_err("%s: unexpected argument '%s' (try --help)",
			        spec->path, argv[i]);
			return CLI_USAGE;
		}
		a->pos[a->npos++] = argv[i];
	}
	if (a->npos < spec->min_pos) {
		cli_err("%s: missing argument (try --help)", spec->path);
		return CLI_USAGE;
	}
	return CLI_CONTINUE;
}

int cli_list_each(const struct cli_list *l,
                  int (*fn)(void *ctx, const char *s, size_t len), void *ctx)
{
	for (size_t i = 0; i < l->n; i++) {
		const char *p = l->v[i];

		while (*p != '\0') {
			size_t len = strcspn(p, ",");
			const char *s = p;
			int rc;

			p += len;
			if (*p == ',')
				p++;
			while (len > 0 && (*s == ' ' || *s == '\t')) {
				s++;
				len--;
			}
			while (len > 0 &&
			       (s[len - 1] == ' ' || s[len - 1] == '\t'))
				len--;
			if (len == 0)
				continue;
			rc = fn(ctx, s, len);
			if (rc != 0)
				return rc;
		}
	}
	return 0;
}
