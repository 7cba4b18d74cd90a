/*
 * device_util.h - helpers for tests that drive finlock-device: temporary
 * directories, a background `run`, and reading `status --json`.
 *
 * Programs come from $FINLOCK_BIN (tests/support/proc.h).
 *
 * THREAD SAFETY: none; one test thread (fork and waitpid).
 */
#ifndef FL_TEST_DEVICE_UTIL_H
#define FL_TEST_DEVICE_UTIL_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

struct proc_result;

/* Runs `finlock-device --dir dir` with the arguments that follow (ended by
 * NULL) and waits for it, as proc_run does: 0 and *r filled, or -1. */
int devt_cmd(struct proc_result *r, const char *dir, ...)
        __attribute__((sentinel));

/* Runs `finlock-device --dir dir a1 ... a5` (the arguments after the
 * first NULL are not passed), which must exit 0 (a cmocka failure
 * otherwise, with its stderr shown); returns its stdout (caller frees). */
char *devt_ok(const char *dir, const char *a1, const char *a2, const char *a3,
              const char *a4, const char *a5);

/* mkdtemp under $TMPDIR or /tmp into out[256]; 0 or -1. */
int devt_tmpdir(char out[256], const char *tag);
/* Removes dir and everything under it. */
void devt_rmtree(const char *dir);

/* Starts $FINLOCK_BIN/<prog> argv (argv[0] included, NULL-ended) in the
 * background with stdout and stderr appended to log_path and stdin from
 * /dev/null. Returns its pid, or -1. */
pid_t devt_spawn(const char *prog, char *const argv[], const char *log_path);
/* Sends sig and waits up to timeout_ms for the process to end. Returns its
 * exit code (128+signal if a signal killed it), or -1 on timeout (it is
 * then killed with SIGKILL and reaped). */
int devt_stop(pid_t pid, int sig, int timeout_ms);
/* True while pid has not exited (reaps it if it has). */
bool devt_alive(pid_t pid);

/* Runs `finlock-device --dir dir status --json` and parses its output;
 * NULL if it failed. Caller json_decref's. */
json_t *devt_status(const char *dir);
/* Polls devt_status until the boolean field key equals want, up to
 * timeout_ms. Returns true when it did. */
bool devt_wait_bool(const char *dir, const char *key, bool want,
                    int timeout_ms);
/* Same for a string field. */
bool devt_wait_str(const char *dir, const char *key, const char *want,
                   int timeout_ms);

/* Counts the lines of file path that contain needle. */
int devt_count_lines(const char *path, const char *needle);
/* The whole file as a malloc'd string (caller frees), NULL if missing. */
char *devt_read_file(const char *path);

/* Sleeps ms milliseconds. */
void devt_sleep_ms(int ms);

#endif
