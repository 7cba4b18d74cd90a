/*
 * server_harness.h - start a real finlockd and talk HTTP to it, for tests.
 *
 *     struct srv *s;
 *     struct srv_res r;
 *
 *     assert_int_equal(srv_start(&s, NULL), 0);      temp data dir, free port
 *     srv_req(s, "GET", "/healthz", NULL, NULL, &r); r.status, r.json
 *     srv_res_free(&r);
 *     srv_free(s);                                   stop, delete data dir
 *
 * srv_start() runs $FINLOCK_BIN/finlockd with --data <temp>/data and
 * --listen 127.0.0.1:0 (plus any extra arguments), waits for its
 * "listening on" line, and keeps the first operator key it printed. The
 * server's stderr (JSON log lines) goes to srv_log_path(s). srv_restart()
 * starts it again on the same data directory and port, e.g. after
 * srv_kill9().
 *
 * Requests use libcurl; `key` is sent as "Authorization: Bearer <key>" when
 * not NULL; the answer's body is parsed as JSON when it is JSON.
 *
 * THREAD SAFETY: a struct srv is used by one thread (it keeps one curl
 * handle for keep-alive); srv_start may be called from several threads.
 */
#ifndef FL_TEST_SERVER_HARNESS_H
#define FL_TEST_SERVER_HARNESS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct srv;

struct srv_opts {
	const char *const *args; /* extra finlockd arguments, NULL-ended */
	const char *data_dir;    /* use this data directory (kept on free) */
	bool tls;                /* make a self-signed cert, serve https */
	const char *const *env; /* extra "NAME=value" environment, NULL-ended */
	/* Start the server on a test clock (its test_clock setting) at this
	 * time, seconds since 1970; it stands still until srv_clock_set or
	 * srv_clock_advance moves it. 0: the system clock. */
	long long clock;
};

/* Starts finlockd. opts may be NULL. Returns 0, or -1 (with a message on
 * stderr) if it did not come up within 30 s. */
int srv_start(struct srv **out, const struct srv_opts *opts);

/* "http://127.0.0.1:PORT" (https with opts.tls). */
const char *srv_url(const struct srv *s);
unsigned srv_port(const struct srv *s);
/* The operator key printed at first start ("" if it was not printed). */
const char *srv_operator_key(const struct srv *s);
const char *srv_data_dir(const struct srv *s);
/* File receiving the server's stderr (its JSON log). */
const char *srv_log_path(const struct srv *s);
/* The server's stdout lines up to "listening on" (NUL-terminated). */
const char *srv_stdout(const struct srv *s);
pid_t srv_pid(const struct srv *s);
/* The CA file (the self-signed certificate) with opts.tls, else NULL. */
const char *srv_ca_file(const struct srv *s);

/* Sends SIGTERM and waits (up to 30 s). Returns the exit status (0 for a
 * clean stop), 128+signal if it died of a signal, -1 on timeout. */
int srv_stop(struct srv *s);
/* Waits (up to 30 s) for the server to exit on its own, e.g. after a
 * signal sent with kill(srv_pid(s), ...). Returns as srv_stop. */
int srv_wait(struct srv *s);
/* SIGKILL, and reaps it. */
void srv_kill9(struct srv *s);
/* The server's test clock (opts.clock): what it reads now, and moving it.
 * The server sees a new time from its next request and sweeps for it
 * within a few milliseconds; no test waits for time to pass. */
long long srv_clock(const struct srv *s);
void srv_clock_set(struct srv *s, long long t);
void srv_clock_advance(struct srv *s, long long secs);
/* The test clock's file ("" without opts.clock): other programs can read
 * the server's time from it (FINLOCK_TEST_CLOCK of finlock and
 * finlock-device). */
const char *srv_clock_path(const struct srv *s);

/* Moves the test clock on by step seconds every 10 ms, on a thread of its
 * own, until srv_clock_stop: for a request that only ends when its
 * deadline passes (a long-poll held to its timeout). */
void srv_clock_run(struct srv *s, long long step);
void srv_clock_stop(struct srv *s);

/* A handle for requests to a server this harness did not start (a load
 * balancer in front of several finlockd, say) at url ("http://HOST:PORT");
 * srv_free only frees it. 0, or -1. */
int srv_attach(struct srv **out, const char *url);

/* Starts finlockd again on the same data directory and port. */
int srv_restart(struct srv *s);
/* Stops the server if running, removes the temp directory, frees s. */
void srv_free(struct srv *s);

struct srv_res {
	long status; /* HTTP status, 0 if the request failed */
	char *body;  /* NUL-terminated body; owned */
	size_t len;
	json_t *json;  /* parsed body, or NULL if not JSON; owned */
	char *headers; /* raw response headers; owned */
};

/* method, path ("/v1/..."), key (may be NULL), JSON body (may be NULL).
 * Returns 0 when an answer arrived (any status), -1 otherwise. */
int srv_req(struct srv *s, const char *method, const char *path,
            const char *key, const char *body, struct srv_res *res);
/* As srv_req, with extra headers ("Name: value", NULL-ended, may be NULL)
 * and a body of explicit length (may contain NUL). */
int srv_reqx(struct srv *s, const char *method, const char *path,
             const char *key, const char *const *headers, const char *body,
             size_t body_len, struct srv_res *res);
void srv_res_free(struct srv_res *r);
/* Sends later requests from this local address ("127.0.0.2"), or from the
 * default one again with NULL. */
void srv_set_source(struct srv *s, const char *ip);

/* A response header's value (case-insensitive name) into a static buffer,
 * or NULL. */
const char *srv_res_header(const struct srv_res *r, const char *name);
/* Shortcuts into r->json: a string member, "" if absent; an integer member,
 * -1 if absent; the error code of an error answer, "" if none. */
const char *srv_jstr(const struct srv_res *r, const char *name);
long long srv_jint(const struct srv_res *r, const char *name);
const char *srv_err_code(const struct srv_res *r);

/* Creates a tenant with the operator key and an admin key for it.
 * tenant_id and admin_key receive them (64 bytes each). Returns 0. */
int srv_tenant(struct srv *s, const char *name, char tenant_id[64],
               char admin_key[64]);
/* Creates an API key of role ("admin", "clerk", ...) with admin_key. */
int srv_key(struct srv *s, const char *admin_key, const char *role,
            char key[64]);

#endif
