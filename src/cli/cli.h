/*
 * cli.h - the finlock command-line client's shared pieces.
 *
 * Every command is a `struct cli_cmd` in a static table (cli_main.c); a command
 * with subcommands dispatches through its own table with cli_dispatch(). All
 * commands follow the same contract: --help prints usage to stdout and exits
 * 0; a usage mistake prints one line to stderr and exits CLI_USAGE; a refusal
 * or invalid input exits CLI_REFUSED with one line on stderr; a server that
 * cannot be reached exits CLI_UNREACHABLE.
 *
 * THREAD SAFETY: the CLI is single-threaded.
 */
#ifndef FL_CLI_H
#define FL_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "core/fltime.h"

/* Exit codes, documented in docs/cli.md. */
enum cli_exit {
	CLI_OK = 0,          /* done */
	CLI_REFUSED = 1,     /* refused, invalid, or verification failed */
	CLI_USAGE = 2,       /* wrong arguments */
	CLI_UNREACHABLE = 3, /* the server could not be reached */
};

struct cli_cmd {
	const char *name;                  /* word on the command line */
	const char *summary;               /* one line for the parent's help */
	int (*run)(int argc, char **argv); /* argv[0] is the command's name */
};

/* A group of commands: "finlock devices" and its subcommands. Every group
 * is listed in cli_groups (cli_main.c), from which `finlock help`, the
 * bash completion and the manual page are made. */
struct cli_group {
	const char *path;           /* "finlock devices" */
	const char *about;          /* a paragraph for its help */
	const struct cli_cmd *cmds; /* its subcommands */
	size_t n;
};

/* Every group, the top one ("finlock") first; NULL-terminated. */
extern const struct cli_group *const cli_groups[];

/* The group whose path is path ("finlock tenant keys"), or NULL. */
const struct cli_group *cli_group_find(const char *path);

/* cli_dispatch for a group. */
int cli_run_group(const struct cli_group *g, int argc, char **argv);

/* Runs the subcommand of table[n] named argv[1]. With --help, -h or help it
 * prints the group's help (`about` and the table) and returns CLI_OK; with no
 * subcommand it prints the help to stderr and returns CLI_USAGE. `path` is
 * the words so far ("finlock key"), used in messages. */
int cli_dispatch(const char *path, const char *about,
                 const struct cli_cmd *table, size_t n, int argc, char **argv);

/* Prints the list of subcommands of a group. */
void cli_print_group_help(FILE *out, const char *path, const char *about,
                          const struct cli_cmd *table, size_t n);

/* Prints "finlock: <fmt>" and a newline to stderr. With --json on the
 * command line the first such message of a failed command is also printed
 * as a JSON error object on stdout (cli_finish). */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Turns on JSON error objects (--json anywhere on the command line). */
void cli_json_errors(bool on);

/* Notes that a JSON document saying why the command failed is already on
 * stdout (the server's error, an import's report): cli_finish adds none. */
void cli_json_error_printed(void);

/* The end of a command: with --json and rc not CLI_OK, prints
 * {"error":{"code":"usage|refused|unreachable","message":"..."}} on
 * stdout unless the server's own error object was printed. Returns rc. */
int cli_finish(int rc);

/* True when argv has -h or --help before any "--". */
bool cli_wants_help(int argc, char **argv);

/* Reads one whole argument-or-stdin value: if arg is "-", reads stdin (up to
 * 1 MiB) into a malloc'd string with trailing newlines removed; otherwise
 * returns a malloc'd copy of arg. Caller frees. NULL on error (message
 * printed). */
char *cli_arg_or_stdin(const char *arg);

struct fl_signer;
/* Loads a PASERK k4.secret into *s: from inline_key ("-" reads stdin) or,
 * when file is not NULL, from the first line of that file. Prints the reason
 * and returns CLI_REFUSED when it cannot; the caller wipes *s with
 * fl_signer_wipe either way. */
int cli_load_secret(struct fl_signer *s, const char *inline_key,
                    const char *file);

/* --- argument parsing for commands ----------------------------------------
 *
 * A command describes its options in a table and calls cli_parse():
 *
 *     const char *reason = NULL;
 *     const struct cli_opt opts[] = {
 *             {"reason", CLI_OPT_STR, &reason, true}, {NULL}};
 *     const struct cli_spec spec = {"devices lock", usage, opts, 1, 1, true};
 *     struct cli_args a;
 *     int rc = cli_parse(&a, &spec, argc, argv);
 *     if (rc != CLI_CONTINUE)
 *             return rc;              (help printed, or a usage error)
 *
 * Options may come before or after the positional arguments; "--" ends
 * them. A command that talks to finlockd (spec.server) also accepts the
 * connection options --server, --key, --profile, --cacert, --insecure,
 * --timeout and --json, which land in struct cli_args; its --help lists them.
 */

#define CLI_CONTINUE (-1) /* cli_parse: go on with the command */
#define CLI_LIST_MAX 32   /* most occurrences of one list option */
#define CLI_POS_MAX  8    /* most positional arguments */

enum cli_opt_kind {
	CLI_OPT_STR,  /* --name VALUE; out is const char **, last one wins */
	CLI_OPT_FLAG, /* --name; out is bool * */
	CLI_OPT_LIST, /* --name VALUE, repeatable; out is struct cli_list * */
};

struct cli_list {
	const char *v[CLI_LIST_MAX]; /* values in order, borrowed from argv */
	size_t n;
};

struct cli_opt {
	const char *name;       /* long option without "--"; NULL ends */
	enum cli_opt_kind kind; /* how it is read */
	void *out;              /* where it goes (see the kinds) */
	bool required;          /* a usage error when missing */
};

struct cli_spec {
	const char *path;           /* "devices lock", for messages */
	const char *usage;          /* the whole --help text */
	const struct cli_opt *opts; /* NULL-name terminated; may be NULL */
	int min_pos, max_pos;       /* positional arguments allowed */
	bool server;                /* takes the connection options */
};

struct cli_args {
	const char *server;     /* --server URL, or NULL */
	const char *key;        /* --key API-KEY, or NULL */
	const char *profile;    /* --profile NAME, or NULL */
	const char *cacert;     /* --cacert FILE, or NULL */
	const char *timeout;    /* --timeout SECONDS, or NULL */
	bool insecure;          /* --insecure */
	bool json;              /* --json */
	char *pos[CLI_POS_MAX]; /* positional arguments, borrowed from argv */
	int npos;
	const char *idem_made;  /* an idempotency key finlock made: announced
	                           on stderr once the request is about to be
	                           sent (cli_run_device_call) */
};

/* Parses argv (argv[0] is the command's name) by spec into *a and the
 * option table's outputs. Returns CLI_CONTINUE to go on, CLI_OK after
 * printing --help, or CLI_USAGE after printing one line. */
int cli_parse(struct cli_args *a, const struct cli_spec *spec, int argc,
              char **argv);

/* Calls fn for every comma-separated, non-empty item of every value in l;
 * stops at and returns fn's first non-zero result. */
int cli_list_each(const struct cli_list *l,
                  int (*fn)(void *ctx, const char *s, size_t len), void *ctx);

/* The time now: the system clock, or, when FINLOCK_TEST_CLOCK names a
 * file, the seconds since 1970 written in it (so a test runs the CLI on
 * the same clock as a finlockd on a test clock; a file that cannot be
 * read gives the system clock). */
fl_time cli_now(void);

/* Reads a time argument into out[21] as canonical RFC 3339 UTC: an RFC 3339
 * time, "now", or "+DURATION" from now ("+90s", "+2h", "+3d"). `what`
 * names the option in the message. CLI_OK, or CLI_REFUSED with a message. */
int cli_time_arg(const char *what, const char *s, char out[21]);

/* Reads a whole number in [min, max] ("1500"): CLI_OK, or CLI_REFUSED
 * with a message naming `what`. */
int cli_int_arg(const char *what, const char *s, long long min, long long max,
                long long *out);

/* Top-level entry point. */
int cli_main(int argc, char **argv);

#endif
