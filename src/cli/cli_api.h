/*
 * cli_api.h - finlock's client for finlockd's HTTP API, on libcurl.
 *
 * One struct cli_api holds one curl easy handle, reused for every request
 * of a command (keep-alive), with connect and total timeouts, TLS
 * verification on (--insecure turns it off, and is also needed to send a
 * key over plain http to a host that is not loopback), no redirects (a
 * key is never carried to another host) and only http/https.
 *
 *     struct cli_api *api;
 *     struct cli_resp r;
 *     int rc = cli_api_open(&api, &args, true);
 *     if (rc == CLI_OK)
 *             rc = cli_api_call(api, "GET", "/v1/devices", NULL, NULL, &r);
 *
 * Exit codes (cli.h): a request that never got an answer (connection
 * refused, name not resolved, timeout, TLS failure) is CLI_UNREACHABLE; an
 * answer outside 2xx is CLI_REFUSED, printed as one line:
 * "finlock: 409 conflict: this IMEI is already in a financing program".
 *
 * THREAD SAFETY: a struct cli_api is used by one thread.
 */
#ifndef FL_CLI_API_H
#define FL_CLI_API_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "cli/cli.h"

#define CLI_BODY_MAX   (64u << 20) /* largest answer kept in memory */
#define CLI_CURSOR_MAX 128         /* longest cursor kept */
#define CLI_PATH_MAX   2048        /* longest request path with query */

struct cli_api;

struct cli_resp {
	long status;                      /* HTTP status */
	char *body;                       /* NUL-terminated body; owned */
	size_t len;                       /* body length */
	json_t *json;                     /* parsed body, or NULL; owned */
	char next_cursor[CLI_CURSOR_MAX]; /* X-Next-Cursor header, or "" */
	bool replayed;                    /* Idempotent-Replayed: true */
	int retry_after;                  /* Retry-After seconds, or 0 */
};

/* Resolves the server, key and CA from a's options, the environment and
 * the config file (cli_conf.h) and opens a client. need_key: the commands
 * that use a lender's or operator's key (public ones send none). Returns
 * CLI_OK, CLI_USAGE (no server, no key, bad --timeout) or CLI_REFUSED (bad
 * config file), with a message. Free *out with cli_api_free. */
int cli_api_open(struct cli_api **out, const struct cli_args *a, bool need_key);
/* NULL is a no-op. Wipes the key. */
void cli_api_free(struct cli_api *api);

/* Makes later requests wait up to at least secs seconds for an answer
 * (never shortens the --timeout in force). For long-polls. */
void cli_api_min_timeout(struct cli_api *api, long secs);

/* The server's base URL, without a trailing slash. */
const char *cli_api_server(const struct cli_api *api);
/* True when --json was given. */
bool cli_api_json(const struct cli_api *api);

/* Where the settings came from, for `finlock config`. */
struct cli_api_info {
	const char *server_from; /* "command line", "FINLOCK_SERVER", ... */
	const char *key_from;    /* NULL when no key is used */
	const char *cacert_from; /* NULL when no CA file is set */
	char key_hint[16];       /* the key's first characters and "…" */
	char config[4096];       /* the config file read, "" if none */
	char profile[80];        /* the profile read, "default" if none */
};
const struct cli_api_info *cli_api_info(const struct cli_api *api);
/* The CA file in use, "" for the system's. */
const char *cli_api_cacert(const struct cli_api *api);

/* Sends method path (with query) and body (a JSON text or NULL), with an
 * Idempotency-Key header when idem is not NULL. With sink not NULL, a 2xx
 * body is written there as it arrives instead of kept in r->body. Returns
 * CLI_OK when an answer arrived (any status; r filled, free it with
 * cli_resp_free), else CLI_UNREACHABLE or CLI_REFUSED with a message (r
 * empty). */
int cli_api_send(struct cli_api *api, const char *method, const char *path,
                 const char *body, const char *idem, FILE *sink,
                 struct cli_resp *r);

/* cli_api_send with a JSON body (borrowed; NULL sends none). A 2xx answer
 * is CLI_OK. Any other answer is printed as one line on stderr (and, with
 * --json, its body on stdout) and is CLI_REFUSED, r freed. */
int cli_api_call(struct cli_api *api, const char *method, const char *path,
                 const json_t *body, const char *idem, struct cli_resp *r);

/* Prints the one-line error for a non-2xx answer. */
void cli_api_print_error(const struct cli_resp *r);

void cli_resp_free(struct cli_resp *r);

/* Appends s to buf[cap] (NUL-terminated), percent-encoding every byte
 * that is not unreserved (RFC 3986). false if it does not fit. */
bool cli_url_append(char *buf, size_t cap, const char *s);

/* Builds "<base>/<enc(seg)><rest>" into buf[cap], e.g.
 * cli_path(buf, sizeof(buf), "/v1/devices", id, "/lock"). rest may be
 * NULL. false (message printed) if it does not fit. */
bool cli_path(char *buf, size_t cap, const char *base, const char *seg,
              const char *rest);

/* Appends "?name=value" or "&name=value" (value encoded) to buf[cap]. */
bool cli_query(char *buf, size_t cap, const char *name, const char *value);

#endif
