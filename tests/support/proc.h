/*
 * proc.h - run a program from a test and capture what it printed.
 *
 * Used by integration tests that drive finlock's programs (finlock,
 * finlockd, finlock-device) as a user would. Programs are looked up in the
 * directory named by $FINLOCK_BIN (set by `make test`).
 *
 * THREAD SAFETY: not thread-safe (uses fork and waitpid).
 */
#ifndef FL_TEST_PROC_H
#define FL_TEST_PROC_H

#include <stddef.h>

struct proc_result {
	int status; /* exit code, or 128+signal if killed */
	char *out;  /* everything written to stdout, NUL-terminated; owned */
	char *err;  /* everything written to stderr, NUL-terminated; owned */
};

/* Runs $FINLOCK_BIN/<prog> with argv (NULL-terminated, argv[0] included),
 * feeding `input` (may be NULL) on stdin, and waits up to 60 s. Returns 0 and
 * fills *r, or -1 if it could not run. Free with proc_result_free. */
int proc_run(const char *prog, char *const argv[], const char *input,
             struct proc_result *r);

/* Convenience: proc_run with a list of arguments ending in NULL. */
int proc_runl(struct proc_result *r, const char *input, const char *prog, ...)
        __attribute__((sentinel));

void proc_result_free(struct proc_result *r);

/* Full path of $FINLOCK_BIN/<prog> in a static buffer. */
const char *proc_bin(const char *prog);

/* The source tree the programs were built in: $FINLOCK_BIN less its
 * "/build/san/bin", or "." (make test runs tests from the tree). Static
 * buffer. */
const char *proc_source_root(void);

/* Removes dir and everything below it, unless FINLOCK_KEEP_TEST_DIRS is
 * set (to look at what a test left). */
void proc_rm_tree(const char *dir);

#endif
