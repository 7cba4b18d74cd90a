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

/* Runs the subcommand of table[n] named argv[1]. With --help, -h or help it
 * prints the group's help (`about` and the table) and returns CLI_OK; with no
 * subcommand it prints the help to stderr and returns CLI_USAGE. `path` is
 * the words so far ("finlock key"), used in messages. */
int cli_dispatch(const char *path, const char *about,
                 const struct cli_cmd *table, size_t n, int argc, char **argv);

/* Prints the list of subcommands of a group. */
void cli_print_group_help(FILE *out, const char *path, const char *about,
                          const struct cli_cmd *table, size_t n);

/* Prints "finlock: <fmt>" and a newline to stderr. */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

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

/* Top-level entry point. */
int cli_main(int argc, char **argv);

#endif
