/*
 * e2e_world.h - the world an end-to-end journey runs in: one real finlockd
 * on loopback, lenders (tenants with an admin key), and simulated phones
 * (finlock-device directories, each with an optional background `run`).
 *
 *     struct e2e *w;
 *     struct e2e_lender acme;
 *     struct e2e_phone *p;
 *
 *     e2e_start(&w, "sale");                     finlockd, temp directory
 *     e2e_lender_new(w, "Acme Credit", &acme);   tenant + admin key
 *     p = e2e_phone_new(w, "amina");             factory-fresh phone
 *     e2e_register(w, &acme, p);                 `finlock devices register`
 *     e2e_cli(w, &acme, &r, "contracts", "create", p->id, ..., NULL);
 *     e2e_phone_enroll(w, p);                    with the clerk's code
 *     e2e_phone_run(p);                          the firmware, in background
 *     e2e_wait_bool(p, "locked", true, 5000, NULL);
 *     e2e_free(w);                               stops every process
 *
 * The lender side is driven through the real `finlock` binary (every call
 * carries --server and --key, and FINLOCK_CONFIG points into the world's
 * directory, so no user config is ever read), the phone side through the
 * real `finlock-device`; both come from $FINLOCK_BIN (tests/support/proc.h).
 * The phone's screen is read with `finlock-device status --json`
 * (docs/device.md) and polled against a deadline on the monotonic clock.
 *
 * With E2E_VERBOSE set, every command and its output is echoed to stderr.
 * With E2E_KEEP set, the world's directory (server data and log, phones,
 * run logs) is kept and its path printed.
 *
 * Functions here never abort the test: they return 0 / true / non-NULL on
 * success and print what went wrong (the command, its output, the phone's
 * run log) to stderr otherwise, for the caller to assert on.
 *
 * THREAD SAFETY: none; one test thread (fork, waitpid, setenv).
 */
#ifndef FL_TEST_E2E_WORLD_H
#define FL_TEST_E2E_WORLD_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "support/proc.h"
#include "support/server_harness.h"

#define E2E_MAX_PHONES 32

struct e2e;

struct e2e_lender {
	char name[64];   /* the tenant's name */
	char tenant[64]; /* tenant id */
	char key[64];    /* the tenant's admin API key */
};

struct e2e_phone {
	char name[32];   /* a label for messages ("amina") */
	char dir[512];   /* the phone's directory (finlock-device --dir) */
	char log[512];   /* stdout and stderr of its background run */
	char imei[16];   /* IMEI 1 (valid, unique in the world) */
	char imei2[16];  /* IMEI 2 */
	char serial[32]; /* serial number */
	char id[64];     /* device id at the lender, "" before registration */
	struct e2e *w;   /* the world it lives in (borrowed) */
	char code[64];   /* the one-time enrollment code, "" none */
	pid_t run;       /* the background `run`, 0 when not running */
};

/* Starts finlockd (server_harness.h) with a temporary directory named
 * after tag and fetches the operator's root public key, which phones are
 * created to trust. extra_args (finlockd options, NULL-ended) may be NULL.
 * Returns 0, or -1 with a message on stderr. */
int e2e_start(struct e2e **out, const char *tag, const char *const *extra_args);
/* Stops every phone's run and the server, removes the directory (unless
 * E2E_KEEP) and frees w with its phones. NULL-safe. */
void e2e_free(struct e2e *w);

struct srv *e2e_srv(struct e2e *w); /* the server, for direct HTTP */
const char *e2e_url(const struct e2e *w);
const char *e2e_root(const struct e2e *w); /* k4.public of the root */
const char *e2e_dir(const struct e2e *w);  /* the world's directory */

/* Creates a tenant named name and its admin key. Returns 0. */
int e2e_lender_new(struct e2e *w, const char *name, struct e2e_lender *l);

/* Runs `finlock args... --server URL --key KEY` with l's admin key, or
 * `finlock args...` alone when l is NULL (the key ceremony, or the public
 * IMEI check given its own --server). Returns the exit status (-1 if it could
 * not run); *r holds the output (free with proc_result_free). */
int e2e_cli(struct e2e *w, const struct e2e_lender *l, struct proc_result *r,
            ...) __attribute__((sentinel));
/* The same with --json; returns stdout parsed (caller decrefs), or NULL
 * when the command failed or printed no JSON (reported on stderr). */
json_t *e2e_cli_json(struct e2e *w, const struct e2e_lender *l, ...)
        __attribute__((sentinel));
/* The same with --json where the command must fail: returns its exit
 * status (0 is reported on stderr as unexpected); *code receives the
 * server's error code from the JSON error document ("" if none) when
 * code is not NULL (code[64]). */
int e2e_cli_fail(struct e2e *w, const struct e2e_lender *l, char code[64], ...)
        __attribute__((sentinel));

/* A new factory-fresh phone owned by w (freed by e2e_free): unique IMEIs
 * and serial, `finlock-device create --trust ROOT --server URL`. NULL on
 * failure. */
struct e2e_phone *e2e_phone_new(struct e2e *w, const char *name);
/* A phone with the given IMEIs (imei2 may be NULL), for journeys where
 * two lenders claim one phone. */
struct e2e_phone *e2e_phone_new_imei(struct e2e *w, const char *name,
                                     const char *imei, const char *imei2);

/* `finlock devices register` for p with l's key: fills p->id and
 * p->code. Returns 0. */
int e2e_register(struct e2e *w, const struct e2e_lender *l,
                 struct e2e_phone *p);

/* Runs `finlock-device --dir DIR args...`; returns the exit status (-1 if
 * it could not run); *r holds the output. */
int e2e_dev(struct e2e_phone *p, struct proc_result *r, ...)
        __attribute__((sentinel));
/* The same, for a command that must exit 0; returns 0 when it did. */
int e2e_dev_ok(struct e2e_phone *p, ...) __attribute__((sentinel));

/* `finlock-device enroll --server URL --code p->code`. Returns 0. */
int e2e_phone_enroll(struct e2e *w, struct e2e_phone *p);
/* Starts `finlock-device run` in the background (output to p->log).
 * Returns 0. */
int e2e_phone_run(struct e2e_phone *p);
/* SIGTERM to the run and waits for it (10 s, then SIGKILL). Returns its
 * exit status, 0 when it stopped cleanly; 0 when none was running. */
int e2e_phone_stop(struct e2e_phone *p);

/* `finlock-device status --json`, parsed (caller decrefs), or NULL. */
json_t *e2e_status(struct e2e_phone *p);

/* A test on a status document. */
typedef bool (*e2e_pred)(const json_t *status, const void *arg);

/* Polls the phone's status until pred holds or timeout_ms passes on the
 * monotonic clock. *ms (may be NULL) receives the milliseconds from the
 * call until the status that satisfied it was read. On timeout the last
 * status and the run log are printed with what (a description). */
bool e2e_wait(struct e2e_phone *p, const char *what, e2e_pred pred,
              const void *arg, int timeout_ms, long *ms);
/* Polls until the boolean field key is want. */
bool e2e_wait_bool(struct e2e_phone *p, const char *key, bool want,
                   int timeout_ms, long *ms);
/* Polls until the string field key equals want. */
bool e2e_wait_str(struct e2e_phone *p, const char *key, const char *want,
                  int timeout_ms, long *ms);
/* Polls until the integer field key equals want. */
bool e2e_wait_int(struct e2e_phone *p, const char *key, long long want,
                  int timeout_ms, long *ms);
/* Polls n phones in turn until the boolean field key is want on each, or
 * timeout_ms passes. seen[i] receives the wall-clock milliseconds
 * (e2e_wall_ms) at which phone i was first seen so, -1 if never. Returns
 * true when every phone got there. */
bool e2e_watch_bool(struct e2e_phone *const *ps, int n, const char *key,
                    bool want, int timeout_ms, int64_t *seen);
/* Holds while the boolean field key keeps the value want for hold_ms;
 * false (with the status printed) as soon as it does not. */
bool e2e_hold_bool(struct e2e_phone *p, const char *key, bool want,
                   int hold_ms);

/* Shortcuts into a JSON object: a string member ("" if absent), an
 * integer (-1 if absent), a boolean (false if absent), whether the array
 * member key holds the string s. */
const char *e2e_jstr(const json_t *j, const char *key);
long long e2e_jint(const json_t *j, const char *key);
bool e2e_jbool(const json_t *j, const char *key);
bool e2e_jhas(const json_t *j, const char *key, const char *s);

/* The lender's view of p: `finlock devices show ID --json` (caller
 * decrefs), or NULL. */
json_t *e2e_device(struct e2e *w, const struct e2e_lender *l,
                   const struct e2e_phone *p);

/* now + secs as RFC 3339 UTC ("2026-11-23T14:08:13Z") into out[32]. */
void e2e_at(char out[32], long secs);
/* Milliseconds on the monotonic clock. */
int64_t e2e_ms(void);
/* Milliseconds since the epoch (the wall clock). */
int64_t e2e_wall_ms(void);
/* Sleeps ms milliseconds. */
void e2e_sleep_ms(int ms);

/* Prints the phone's run log and the server's log tail to stderr. */
void e2e_dump(struct e2e *w, const struct e2e_phone *p);

#endif
