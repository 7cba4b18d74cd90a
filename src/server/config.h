/*
 * config.h - finlockd's settings.
 *
 * Every setting has a default, so `finlockd --data DIR --listen ADDR` is a
 * complete configuration. Settings come, weakest first, from the defaults,
 * a config file (`--config FILE`: `key = value` lines, `#` comments), the
 * environment (FINLOCKD_<KEY> with the key upper-cased, e.g.
 * FINLOCKD_LISTEN, FINLOCKD_DATA, FINLOCKD_TLS_CERT, FINLOCKD_TLS_KEY,
 * FINLOCKD_LOG_LEVEL) and the command line (`--listen`, `--data`, ...: the
 * key with '_' written as '-'). fl_config_set() is the one place a setting
 * is parsed, whatever its source.
 *
 * THREAD SAFETY: a struct fl_config is filled at start-up by one thread and
 * only read afterwards.
 */
#ifndef FL_SERVER_CONFIG_H
#define FL_SERVER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define FL_CONFIG_PATH_MAX 4096
#define FL_CONFIG_ERR_MAX  256

struct fl_config {
	char data_dir[FL_CONFIG_PATH_MAX]; /* data (database, keys, secrets) */
	/* PostgreSQL instead of the data directory's SQLite file: a libpq
	 * URI "postgresql://USER@HOST:PORT/DB" ("" for SQLite). The data
	 * directory still holds the keys and secrets. */
	char database[FL_CONFIG_PATH_MAX];
	char listen[256];                  /* "127.0.0.1:8443", "[::1]:80" */
	char tls_cert[FL_CONFIG_PATH_MAX]; /* PEM certificate chain, or "" */
	char tls_key[FL_CONFIG_PATH_MAX];  /* PEM private key, or "" */
	bool behind_tls_proxy;             /* plain HTTP off loopback is ok */
	char log_level[16];                /* debug|info|warn|error */
	int threads;                       /* HTTP thread pool size (>= 2) */
	int max_connections;               /* concurrent connections */
	size_t max_body;                   /* request body bytes */
	size_t max_header;                 /* request header bytes, total */
	int max_json_depth;                /* nesting of request JSON */
	int request_timeout;               /* seconds of client inactivity */
	int header_timeout;     /* seconds for a request's complete headers */
	int max_pending_per_client; /* connections per client address not
	                               yet past their first headers; 0: no cap */
	char trusted_proxies[1024]; /* CIDRs whose X-Forwarded-For counts */
	int shutdown_grace;                /* seconds to finish requests */
	int db_pool;                       /* store connections */
	int db_cache_mb;     /* SQLite page cache per connection, MiB */
	int db_mmap_mb;      /* SQLite memory map per connection, MiB; 0 none */
	int enroll_code_ttl; /* seconds an enrollment code lives */
	int idempotency_ttl; /* seconds a replay record is kept */
	int audit_head_interval;   /* seconds between signed heads */
	int sweep_interval_ms;     /* time-driven re-decisions */
	double public_rate;        /* IMEI checks/s per client */
	int public_burst;          /* ... burst per client */
	double public_global_rate; /* IMEI checks/s, all clients */
	int public_global_burst;   /* ... global burst */
	int ratelimit_clients;     /* clients tracked at once */
	int token_ttl;             /* seconds a signed token is good */
	int key_cert_days;         /* dev root: signing key validity */
	int wait_timeout;          /* device long-poll: seconds held */
	int checkin_interval;      /* next_checkin hint to phones, seconds */
	int device_cache; /* devices kept in the auth cache */
	int token_cache;  /* signed tokens kept in memory */
	int session_idle; /* console: seconds a session lives unused */
	int session_max;  /* console: seconds a session lives at most */
	double signin_rate; /* console sign-ins/s per client network */
	int signin_burst;   /* ... burst */
	bool webhook_allow_private; /* webhook targets on loopback or
	                               private networks are allowed */
	int webhook_senders;  /* webhook sender threads */
	int webhook_timeout;  /* seconds an attempt may take in all */
	int webhook_retry_ms; /* first retry's delay; later ones scale it */
	int webhook_secret_overlap; /* seconds a rotated secret still signs */
	bool webhook_key_create;    /* make webhook.k4secret on a node of a
	                             * database that has its keys (once, after
	                             * an upgrade that brought webhooks) */
	int webhook_retention_days; /* delivered events kept this long */
	/* Tests only: the file holding the server's time (seconds since
	 * 1970); refused unless FINLOCKD_TEST_CLOCK_ENABLE=1 is in the
	 * environment. "" reads the system clock. */
	char test_clock[FL_CONFIG_PATH_MAX];
	/* One-time start-up permissions, from the command line only (never
	 * a config file or the environment, where they would outlive the
	 * one start they are meant for): */
	bool allow_fresh_database; /* new database in a used directory */
	bool accept_wal_loss;      /* serve without a lost WAL */
};

/* Fills c with the defaults. */
void fl_config_defaults(struct fl_config *c);

/* Sets one setting by key ("listen", "max_body", ...; '-' and '_' are the
 * same). FL_E_CONFIG with a message in err[FL_CONFIG_ERR_MAX] for an unknown
 * key or a bad value; c is unchanged then. */
fl_err fl_config_set(struct fl_config *c, const char *key, const char *value,
                     char err[FL_CONFIG_ERR_MAX]) FL_MUST_USE;

/* Applies a `key = value` file. FL_E_IO if unreadable, FL_E_CONFIG (with
 * the line number in err) if a line is bad. */
fl_err fl_config_load_file(struct fl_config *c, const char *path,
                           char err[FL_CONFIG_ERR_MAX]) FL_MUST_USE;

/* Applies every FINLOCKD_<KEY> environment variable that names a setting.
 * env is a NULL-terminated "NAME=value" array (environ). */
fl_err fl_config_load_env(struct fl_config *c, char *const *env,
                          char err[FL_CONFIG_ERR_MAX]) FL_MUST_USE;

/* Splits a listen address, "HOST:PORT" or "[V6]:PORT", into host[cap]
 * (brackets removed) and *port; host and port may be NULL to only check.
 * FL_E_CONFIG unless the port is decimal digits in 0..65535 (0: any free
 * port) and the host is 1..127 bytes. */
fl_err fl_config_listen_split(const char *s, char *host, size_t cap,
                              unsigned *port) FL_MUST_USE;

/* Checks settings that depend on each other (both TLS files or neither).
 */
fl_err fl_config_check(const struct fl_config *c,
                       char err[FL_CONFIG_ERR_MAX]) FL_MUST_USE;

#endif
