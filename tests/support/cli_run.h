/*
 * cli_run.h - helpers for tests that drive the real `finlock` binary
 * against a real finlockd (server_harness.h).
 *
 *     struct proc_result r;
 *     int st = cli_run(&r, NULL, "devices", "list", "--json", NULL);
 *     json_t *j = cli_json(&r);      stdout parsed, or a failed assertion
 *
 * The environment the binary sees is the test's: cli_env() sets
 * FINLOCK_SERVER and FINLOCK_API_KEY (NULL unsets) and cli_isolate() points
 * FINLOCK_CONFIG at a file of the test's own, so no test ever reads the
 * user's real config file.
 *
 * THREAD SAFETY: not thread-safe (environment, fork).
 */
#ifndef FL_TEST_CLI_RUN_H
#define FL_TEST_CLI_RUN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "support/proc.h"

/* Runs finlock with the arguments (NULL-terminated, without "finlock"),
 * input on stdin (may be NULL). Returns the exit status; *r holds the
 * output (free with proc_result_free). */
int cli_run(struct proc_result *r, const char *input, ...)
        __attribute__((sentinel));

/* Same with an argument vector (NULL-terminated, without "finlock"). */
int cli_runv(struct proc_result *r, const char *input, char *const *args);

/* stdout parsed as one JSON document; fails the test if it is not. The
 * caller decrefs. */
json_t *cli_json(const struct proc_result *r);

/* Sets FINLOCK_SERVER and FINLOCK_API_KEY; NULL unsets. */
void cli_env(const char *server, const char *key);

/* Makes a private temporary directory for the test (kept in a static
 * buffer, returned) and points FINLOCK_CONFIG at <dir>/config, which does
 * not exist yet. FINLOCK_CACERT is unset. */
const char *cli_isolate(void);

/* Writes text to path with the given mode (exactly, despite the umask). */
void cli_write_file(const char *path, const char *text, mode_t mode);

/* A valid IMEI (right check digit) made from n: "35" + 12 digits of n +
 * check digit, into out[16]. Different n give different IMEIs. */
void cli_imei(unsigned long n, char out[16]);

/* Number of '\n'-terminated lines in s. */
size_t cli_count_lines(const char *s);

/* True when s is exactly one line beginning with prefix. */
bool cli_one_line(const char *s, const char *prefix);

/* True when the last line of s begins with prefix. */
bool cli_last_line(const char *s, const char *prefix);

/* A loopback TCP port with nothing listening on it. */
unsigned cli_closed_port(void);

/* A loopback TCP socket that listens but never answers: *port receives its
 * port; close the returned descriptor when done. */
int cli_silent_port(unsigned *port);

#endif
